/* Retention and integrity: purge removes exactly the whole days past the
 * limit (boundary day kept/removed to the millisecond), dry-run deletes
 * nothing, per-account overrides apply, purged events do not come back on
 * replay, and verify stays clean after purge; verify detects a flipped byte,
 * a deleted segment, a swapped pair and an inserted copy. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <unistd.h>

#include "store_testlib.h"

#define N 20420LL /* "today" as a day number */
#define DAYMS TK_MS_PER_DAY

static tk_store_t *open_store(const char *dir)
{
    tk_store_opts_t o = {.dir = dir, .no_fsync = 1};
    tk_store_t *s = NULL;
    char err[TK_ERRLEN];
    assert_int_equal(tk_store_open(&o, &s, err), 0);
    return s;
}

static void put(tk_store_t *s, const char *acct, const char *id, int64_t t)
{
    uint64_t r = (uint64_t)t;
    tev_t e;
    tev_make(&e, acct, id, t, &r, 400);
    tk_event_t ev = tev_event(&e);
    char err[TK_ERRLEN];
    tk_append_result_t res;
    assert_int_equal(tk_store_append(s, &ev, 1, &res, NULL, err), 0);
    assert_int_equal(res.accepted, 1);
    tev_free(&e);
}

static size_t count(tk_store_t *s, const char *acct)
{
    got_t g = {0};
    char err[TK_ERRLEN];
    assert_int_equal(tk_store_scan(s, acct, 1, got_cb, &g, err), 0);
    size_t n = g.n;
    got_free(&g);
    return n;
}

typedef struct vres {
    int n[5];
    char paths[16][600];
    int status[16];
    int k;
} vres_t;

static void vcb(void *ud, const tk_verify_item_t *it)
{
    vres_t *v = ud;
    v->n[it->status]++;
    if (v->k < 16) {
        snprintf(v->paths[v->k], sizeof v->paths[0], "%s", it->path);
        v->status[v->k++] = (int)it->status;
    }
}

static tk_verify_summary_t verify(tk_store_t *s, vres_t *v)
{
    memset(v, 0, sizeof *v);
    tk_verify_summary_t sum;
    char err[TK_ERRLEN];
    assert_int_equal(tk_store_verify(s, NULL, vcb, v, &sum, err), 0);
    return sum;
}

static int lines;
static void line_cb(void *ud, const char *line)
{
    (void)ud;
    (void)line;
    lines++;
}

/* Days N-5 .. N-1 for account 1001 (sealed, and the oldest also unsealed),
 * with events on the exact first and last millisecond of days N-3 and N-2. */
static void fill(tk_store_t *s)
{
    char err[TK_ERRLEN];
    put(s, "1001", "d5", (N - 5) * DAYMS + 1000);
    put(s, "1001", "d4", (N - 4) * DAYMS + 1000);
    put(s, "1001", "d3-first", (N - 3) * DAYMS);
    put(s, "1001", "d3-last", (N - 2) * DAYMS - 1);
    put(s, "1001", "d2-first", (N - 2) * DAYMS);
    put(s, "1001", "d1", (N - 1) * DAYMS + 5);
    put(s, "1002", "b5", (N - 5) * DAYMS + 1000);
    put(s, "1002", "b3", (N - 3) * DAYMS + 1000);
    assert_int_equal(tk_store_seal(s, err), 0);
    put(s, "1001", "d5-late", (N - 5) * DAYMS + 2000); /* unsealed, expired */
    put(s, "1001", "d2-late", (N - 2) * DAYMS + 2000);
}

static void test_purge_removes_exactly_whole_expired_days(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_t *s = open_store(dir);
    fill(s);
    char err[TK_ERRLEN];
    tk_retention_t ret = {.default_days = 2};
    tk_purge_report_t rep;
    /* one millisecond before day N-3 expires: only N-5 and N-4 go */
    lines = 0;
    assert_int_equal(tk_store_purge(s, N * DAYMS - 1, &ret, 1, &rep, line_cb, NULL, err), 0);
    assert_int_equal(rep.days_removed, 3); /* dry run: 1001 N-5, N-4; 1002 N-5 */
    assert_int_equal(rep.events_removed, 4);
    assert_int_equal(lines, 3);
    assert_int_equal(count(s, "1001"), 8); /* dry run deleted nothing */
    assert_int_equal(tk_store_purge(s, N * DAYMS - 1, &ret, 0, &rep, NULL, NULL, err), 0);
    assert_int_equal(rep.days_removed, 3);
    assert_int_equal(rep.events_removed, 4);
    assert_true(rep.segments_removed >= 3);
    assert_int_equal(count(s, "1001"), 5);
    assert_int_equal(count(s, "1002"), 1);
    /* at exactly the limit, day N-3 (whose end is now - 2 days) goes too; N-2 stays */
    assert_int_equal(tk_store_purge(s, N * DAYMS, &ret, 0, &rep, NULL, NULL, err), 0);
    assert_int_equal(rep.days_removed, 2);
    assert_int_equal(rep.events_removed, 3);
    assert_int_equal(count(s, "1001"), 3);
    got_t g = {0};
    tk_lookup_req_t q = {.account = "1001", .start_ms = 0, .end_ms = INT64_MAX - 1, .forward = 1};
    assert_int_equal(tk_store_lookup(s, &q, got_cb, &g, err), 0);
    assert_int_equal(g.t[0], (N - 2) * DAYMS); /* the first millisecond of the kept day */
    got_free(&g);
    vres_t v;
    tk_verify_summary_t sum = verify(s, &v);
    assert_int_equal(sum.problems, 0);
    assert_int_equal(sum.accounts, 2);
    /* new seals link on after the purge; reopen does not bring purged events back */
    put(s, "1001", "d0", N * DAYMS + 1);
    assert_int_equal(tk_store_seal(s, err), 0);
    tk_store_close(s);
    s = open_store(dir);
    assert_int_equal(count(s, "1001"), 4);
    assert_int_equal(count(s, "1002"), 0);
    sum = verify(s, &v);
    assert_int_equal(sum.problems, 0);
    assert_true(sum.segments_ok >= 2);
    tk_store_close(s);
    tmpdir_remove(dir);
}

static void test_purge_honours_per_account_override(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_t *s = open_store(dir);
    fill(s);
    char err[TK_ERRLEN];
    struct { const char *account; int days; } ov[1] = {{"1002", 10}};
    tk_retention_t ret = {.default_days = 2, .noverrides = 1, .overrides = (void *)ov};
    tk_purge_report_t rep;
    assert_int_equal(tk_store_purge(s, N * DAYMS, &ret, 0, &rep, NULL, NULL, err), 0);
    assert_int_equal(count(s, "1001"), 3);
    assert_int_equal(count(s, "1002"), 2);
    /* the default of 90 days keeps everything */
    tk_retention_t def = {0};
    assert_int_equal(tk_store_purge(s, N * DAYMS, &def, 0, &rep, NULL, NULL, err), 0);
    assert_int_equal(rep.days_removed, 0);
    assert_int_equal(count(s, "1002"), 2);
    tk_store_close(s);
    tmpdir_remove(dir);
}

/* Account 1001 with chain segments 1..6 over three days. */
static void chain_fixture(tk_store_t *s)
{
    char err[TK_ERRLEN], id[16];
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof id, "c%d", i);
        put(s, "1001", id, (N - 3 + i % 3) * DAYMS + i * 1000);
        assert_int_equal(tk_store_seal(s, err), 0);
    }
}

static void seg_path(const char *dir, int idx, char *out, size_t n)
{
    char pat[600];
    snprintf(pat, sizeof pat, "%s/seg/1001/*/%010d.seg", dir, idx);
    glob_t g;
    assert_int_equal(glob(pat, 0, NULL, &g), 0);
    assert_int_equal(g.gl_pathc, 1);
    snprintf(out, n, "%s", g.gl_pathv[0]);
    globfree(&g);
}

static void test_verify_clean_store_reports_every_segment_ok(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_t *s = open_store(dir);
    chain_fixture(s);
    vres_t v;
    tk_verify_summary_t sum = verify(s, &v);
    assert_int_equal(sum.problems, 0);
    assert_int_equal(sum.segments_ok, 6);
    assert_int_equal(sum.accounts, 1);
    tk_store_close(s);
    tmpdir_remove(dir);
}

static void test_verify_detects_flipped_byte(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_t *s = open_store(dir);
    chain_fixture(s);
    char p[600];
    seg_path(dir, 3, p, sizeof p);
    int fd = open(p, O_RDWR);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, 20), 1);
    b ^= 1;
    assert_int_equal(pwrite(fd, &b, 1, 20), 1);
    close(fd);
    vres_t v;
    tk_verify_summary_t sum = verify(s, &v);
    assert_int_equal(sum.problems, 1);
    assert_int_equal(v.n[TK_VERIFY_MODIFIED], 1);
    assert_string_equal(v.paths[0], p);
    assert_int_equal(sum.segments_ok, 5);
    tk_store_close(s);
    tmpdir_remove(dir);
}

static void test_verify_detects_deleted_segments(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_t *s = open_store(dir);
    chain_fixture(s);
    char p[600];
    seg_path(dir, 2, p, sizeof p);
    assert_int_equal(unlink(p), 0);
    vres_t v;
    tk_verify_summary_t sum = verify(s, &v);
    assert_int_equal(sum.problems, 1);
    assert_int_equal(v.n[TK_VERIFY_MISSING], 1);
    assert_non_null(strstr(v.paths[0], "0000000002.seg"));
    seg_path(dir, 6, p, sizeof p); /* the newest one: HEAD still names it */
    assert_int_equal(unlink(p), 0);
    sum = verify(s, &v);
    assert_int_equal(v.n[TK_VERIFY_MISSING], 2);
    assert_int_equal(sum.problems, 2);
    tk_store_close(s);
    tmpdir_remove(dir);
}

static void test_verify_detects_swapped_pair(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_t *s = open_store(dir);
    chain_fixture(s);
    char a[600], b[600], t[640];
    seg_path(dir, 2, a, sizeof a);
    seg_path(dir, 5, b, sizeof b); /* same day dir (index % 3 equal) */
    snprintf(t, sizeof t, "%s.x", a);
    assert_int_equal(rename(a, t), 0);
    assert_int_equal(rename(b, a), 0);
    assert_int_equal(rename(t, b), 0);
    vres_t v;
    tk_verify_summary_t sum = verify(s, &v);
    assert_int_equal(v.n[TK_VERIFY_REORDERED], 2);
    assert_int_equal(sum.problems, 2);
    assert_int_equal(sum.segments_ok, 4);
    tk_store_close(s);
    tmpdir_remove(dir);
}

static void test_verify_detects_inserted_copy(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_t *s = open_store(dir);
    chain_fixture(s);
    char a[600], c[700];
    seg_path(dir, 4, a, sizeof a);
    char *data;
    size_t n;
    char err[TK_ERRLEN];
    assert_int_equal(tk_fs_read_all(a, &data, &n, err), 0);
    snprintf(c, sizeof c, "%s", a);
    memcpy(strrchr(c, '/') + 1, "0000000007.seg", 14); /* as a new chain link */
    assert_int_equal(tk_fs_write_atomic(c, data, n, err), 0);
    vres_t v;
    tk_verify_summary_t sum = verify(s, &v);
    assert_int_equal(v.n[TK_VERIFY_INSERTED], 1);
    assert_string_equal(v.paths[0], c);
    assert_int_equal(sum.problems, 1);
    assert_int_equal(sum.segments_ok, 6);
    /* the same copy under another day's folder, with its original name */
    unlink(c);
    char d[700];
    seg_path(dir, 2, d, sizeof d); /* day N-2: not segment 4's own folder */
    snprintf(strrchr(d, '/') + 1, 20, "0000000004.seg");
    assert_int_equal(tk_fs_write_atomic(d, data, n, err), 0);
    sum = verify(s, &v);
    assert_int_equal(v.n[TK_VERIFY_INSERTED], 1);
    assert_int_equal(sum.problems, 1);
    free(data);
    tk_store_close(s);
    tmpdir_remove(dir);
}

/* Many small seals of one partition are merged; the merged segment accounts
 * for what it replaced, so verify stays clean, also after purge. */
static void test_compaction_merges_small_segments_and_verifies(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_t *s = open_store(dir);
    char id[16], err[TK_ERRLEN];
    char saved[700] = "";
    char *saved_data = NULL;
    size_t saved_len = 0;
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof id, "k%d", i);
        put(s, "1001", id, (N - 2) * DAYMS + (29 - i) * 1000); /* newest first: each seal sorts */
        assert_int_equal(tk_store_seal(s, err), 0);
        if (i == 0) { /* keep the first small segment to play a crash that left it behind */
            seg_path(dir, 1, saved, sizeof saved);
            assert_int_equal(tk_fs_read_all(saved, &saved_data, &saved_len, err), 0);
        }
    }
    tk_store_stats_t stt;
    tk_store_stats(s, &stt);
    assert_true(stt.segments < 8);
    assert_int_equal(stt.events, 30);
    got_t g = {0};
    tk_lookup_req_t q = {.account = "1001", .start_ms = 0, .end_ms = INT64_MAX - 1, .forward = 1};
    assert_int_equal(tk_store_lookup(s, &q, got_cb, &g, err), 0);
    assert_int_equal(g.n, 30);
    for (size_t i = 0; i < g.n; i++) {
        assert_int_equal(g.t[i], (N - 2) * DAYMS + (int64_t)i * 1000);
        snprintf(id, sizeof id, "\"k%zu\"", 29 - i);
        assert_non_null(strstr(g.json[i], id));
    }
    got_free(&g);
    /* dedup still sees compacted events */
    tev_t e;
    uint64_t r = 1;
    tev_make(&e, "1001", "k3", (N - 2) * DAYMS, &r, 100);
    tk_event_t ev = tev_event(&e);
    uint8_t dup;
    assert_int_equal(tk_store_append(s, &ev, 1, NULL, &dup, err), 0);
    assert_int_equal(dup, 1);
    tev_free(&e);
    vres_t v;
    tk_verify_summary_t sum = verify(s, &v);
    assert_int_equal(sum.problems, 0);
    assert_int_equal(sum.segments_ok, stt.segments);
    tk_store_close(s);
    /* a crash between writing the merged segment and deleting a replaced one */
    assert_false(tk_fs_exists(saved));
    assert_int_equal(tk_fs_write_atomic(saved, saved_data, saved_len, err), 0);
    free(saved_data);
    s = open_store(dir);
    assert_false(tk_fs_exists(saved));
    assert_int_equal(count(s, "1001"), 30);
    sum = verify(s, &v);
    assert_int_equal(sum.problems, 0);
    /* purging the day keeps the rest of the chain verifiable */
    put(s, "1001", "later", N * DAYMS);
    assert_int_equal(tk_store_seal(s, err), 0);
    tk_retention_t ret = {.default_days = 1};
    tk_purge_report_t rep;
    assert_int_equal(tk_store_purge(s, N * DAYMS + 5, &ret, 0, &rep, NULL, NULL, err), 0);
    assert_int_equal(rep.events_removed, 30);
    assert_int_equal(count(s, "1001"), 1);
    sum = verify(s, &v);
    assert_int_equal(sum.problems, 0);
    assert_int_equal(sum.segments_ok, 1);
    tk_store_close(s);
    tmpdir_remove(dir);
}

/* Segments compressed with the store's trained dictionary name it by hash;
 * changing the dictionary file is reported like changing the segment. */
static void test_verify_detects_changed_dictionary(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_opts_t o = {.dir = dir, .no_fsync = 1, .dict_min_bytes = 8 * 1024};
    tk_store_t *s = NULL;
    char err[TK_ERRLEN], id[16];
    assert_int_equal(tk_store_open(&o, &s, err), 0);
    for (int i = 0; i < 60; i++) {
        snprintf(id, sizeof id, "z%d", i);
        put(s, "1001", id, (N - 2) * DAYMS + i);
    }
    assert_int_equal(tk_store_seal(s, err), 0);
    char pat[600];
    snprintf(pat, sizeof pat, "%s/dict/*.zdict", dir);
    glob_t gl;
    assert_int_equal(glob(pat, 0, NULL, &gl), 0);
    assert_int_equal(gl.gl_pathc, 1);
    vres_t v;
    tk_verify_summary_t sum = verify(s, &v);
    assert_int_equal(sum.problems, 0);
    assert_int_equal(count(s, "1001"), 60);
    tk_store_close(s);
    /* the dictionary survives a restart (named in MANIFEST): new seals reuse it */
    assert_int_equal(tk_store_open(&o, &s, err), 0);
    put(s, "1001", "after", (N - 1) * DAYMS);
    assert_int_equal(tk_store_seal(s, err), 0);
    globfree(&gl);
    assert_int_equal(glob(pat, 0, NULL, &gl), 0);
    assert_int_equal(gl.gl_pathc, 1);
    int fd = open(gl.gl_pathv[0], O_RDWR);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, 100), 1);
    b ^= 4;
    assert_int_equal(pwrite(fd, &b, 1, 100), 1);
    close(fd);
    globfree(&gl);
    sum = verify(s, &v);
    assert_int_equal(v.n[TK_VERIFY_MODIFIED], 2);
    assert_int_equal(sum.problems, 2);
    tk_store_close(s);
    tmpdir_remove(dir);
}

static int any_cb(void *ud, const tk_stored_event_t *ev)
{
    (void)ev;
    ++*(size_t *)ud;
    return 0;
}

/* Damaged segments (random byte flips anywhere: blocks, sections, footer)
 * never crash a reader: lookups either work or fail with a clear error, and
 * verify reports the damage. Run under ASan/UBSan this is a small fuzzer. */
static void test_damaged_segments_fail_cleanly(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_opts_t o = {.dir = dir, .no_fsync = 1, .dict_min_bytes = 8 * 1024};
    tk_store_t *s = NULL;
    char err[TK_ERRLEN], id[16];
    assert_int_equal(tk_store_open(&o, &s, err), 0);
    for (int i = 0; i < 120; i++) {
        snprintf(id, sizeof id, "f%d", i);
        put(s, "1001", id, (N - 2) * DAYMS + i * 1000);
    }
    assert_int_equal(tk_store_seal(s, err), 0);
    tk_store_close(s);
    char p[600];
    seg_path(dir, 1, p, sizeof p);
    char *orig;
    size_t len;
    assert_int_equal(tk_fs_read_all(p, &orig, &len, err), 0);
    uint64_t r = 12345;
    int failed_lookups = 0;
    for (int round = 0; round < 150; round++) {
        char *buf = malloc(len);
        memcpy(buf, orig, len);
        int flips = 1 + (int)rng_below(&r, 3);
        for (int k = 0; k < flips; k++) {
            size_t at = round % 3 == 0 ? len - 1 - rng_below(&r, 600) : rng_below(&r, (uint32_t)len);
            buf[at] ^= (char)(1 + rng_below(&r, 255));
        }
        assert_int_equal(tk_fs_write_atomic(p, buf, len, err), 0);
        free(buf);
        tk_store_opts_t ro = {.dir = dir, .read_only = 1};
        assert_int_equal(tk_store_open(&ro, &s, err), 0);
        size_t n = 0;
        int rc = tk_store_scan(s, "1001", round % 2, any_cb, &n, err);
        assert_true(rc == 0 || rc == TK_ECORRUPT || rc == TK_ENOTFOUND);
        for (int a = 0; a < TK_ATTR__COUNT; a++) {
            tk_lookup_req_t q = {.account = "1001", .start_ms = 0, .end_ms = INT64_MAX - 1,
                                 .nattrs = 1};
            q.attrs[0].key = (tk_attr_t)a;
            q.attrs[0].value = a == TK_ATTR_EVENTID ? "f7" : "beta1";
            int lrc = tk_store_lookup(s, &q, any_cb, &n, err);
            assert_true(lrc == 0 || lrc == TK_ECORRUPT || lrc == TK_ENOTFOUND);
            failed_lookups += lrc != 0;
        }
        tk_verify_summary_t sum;
        assert_int_equal(tk_store_verify(s, NULL, NULL, NULL, &sum, err), 0);
        assert_true(sum.problems >= 1);
        tk_store_close(s);
    }
    assert_true(failed_lookups > 0); /* the damage was seen, not silently served */
    free(orig);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_purge_removes_exactly_whole_expired_days),
        cmocka_unit_test(test_purge_honours_per_account_override),
        cmocka_unit_test(test_verify_clean_store_reports_every_segment_ok),
        cmocka_unit_test(test_verify_detects_flipped_byte),
        cmocka_unit_test(test_verify_detects_deleted_segments),
        cmocka_unit_test(test_verify_detects_swapped_pair),
        cmocka_unit_test(test_verify_detects_inserted_copy),
        cmocka_unit_test(test_compaction_merges_small_segments_and_verifies),
        cmocka_unit_test(test_verify_detects_changed_dictionary),
        cmocka_unit_test(test_damaged_segments_fail_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

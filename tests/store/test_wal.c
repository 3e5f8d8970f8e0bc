/* Store write path: WAL replay after a torn tail or a corrupted record keeps
 * exactly the good prefix; a full disk (injected, and a real tiny tmpfs)
 * acknowledges nothing of the failing call and loses nothing acknowledged;
 * dedup across calls, seals and reopens; the writer lock; the log API;
 * concurrent appenders sharing group commits. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "store_testlib.h"

#define T0 (20412LL * TK_MS_PER_DAY + 3600000)

static tk_store_t *open_store(const char *dir, int ro)
{
    tk_store_opts_t o = {.dir = dir, .no_fsync = 1, .read_only = ro};
    tk_store_t *s = NULL;
    char err[TK_ERRLEN];
    int rc = tk_store_open(&o, &s, err);
    if (rc)
        fprintf(stderr, "open: %s\n", err);
    assert_int_equal(rc, 0);
    return s;
}

/* Appends one event (its own group, so its own WAL record). */
static int put1(tk_store_t *s, const char *acct, const char *id, int64_t t, uint8_t *dup)
{
    uint64_t r = (uint64_t)t ^ (uint64_t)strlen(id);
    tev_t e;
    tev_make(&e, acct, id, t, &r, 300);
    tk_event_t ev = tev_event(&e);
    char err[TK_ERRLEN];
    uint8_t st = 9;
    int rc = tk_store_append(s, &ev, 1, NULL, &st, err);
    tev_free(&e);
    if (dup)
        *dup = st;
    return rc;
}

static size_t count_all(tk_store_t *s, const char *acct, got_t *g)
{
    char err[TK_ERRLEN];
    assert_int_equal(tk_store_scan(s, acct, 1, got_cb, g, err), 0);
    return g->n;
}

static void wal_file(const char *dir, char *out, size_t n)
{
    char wd[512];
    snprintf(wd, sizeof wd, "%s/wal", dir);
    DIR *d = opendir(wd);
    assert_non_null(d);
    struct dirent *de;
    out[0] = 0;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".wal") && !strstr(de->d_name, "orphan"))
            assert_true((size_t)snprintf(out, n, "%s/%s", wd, de->d_name) < n);
    closedir(d);
    assert_true(out[0] != 0);
}

static off_t fsize(const char *p)
{
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return st.st_size;
}

static void test_replay_cuts_torn_tail_and_keeps_prefix(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_t *s = open_store(dir, 0);
    char id[32], wf[600];
    off_t sizes[10];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "torn-%d", i);
        assert_int_equal(put1(s, "1001", id, T0 + i, NULL), 0);
        wal_file(dir, wf, sizeof wf);
        sizes[i] = fsize(wf);
    }
    tk_store_close(s);
    /* cut the last record in the middle, as a crash during write leaves it */
    assert_int_equal(truncate(wf, sizes[9] - 7), 0);
    s = open_store(dir, 0);
    const char *msg;
    assert_int_equal(tk_store_recovered_cut(s, &msg), (uint64_t)(sizes[9] - 7 - sizes[8]));
    assert_non_null(strstr(msg, "torn"));
    assert_int_equal(fsize(wf), sizes[8]);
    got_t g = {0};
    assert_int_equal(count_all(s, "1001", &g), 9);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(g.seq[i], (uint64_t)i + 1);
        snprintf(id, sizeof id, "\"torn-%d\"", i);
        assert_non_null(strstr(g.json[i], id));
    }
    got_free(&g);
    /* the store goes on from the cut: the next event takes the lost seq */
    assert_int_equal(tk_store_last_seq(s), 9);
    assert_int_equal(put1(s, "1001", "torn-9", T0 + 9, NULL), 0);
    assert_int_equal(tk_store_last_seq(s), 10);
    tk_store_close(s);
    s = open_store(dir, 0);
    assert_int_equal(tk_store_recovered_cut(s, NULL), 0);
    assert_int_equal(count_all(s, "1001", &g), 10);
    got_free(&g);
    tk_store_close(s);
    tmpdir_remove(dir);
}

static void test_replay_stops_at_corrupted_record(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_t *s = open_store(dir, 0);
    char id[32], wf[600];
    off_t sizes[10];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "flip-%d", i);
        assert_int_equal(put1(s, "1001", id, T0 + i, NULL), 0);
        wal_file(dir, wf, sizeof wf);
        sizes[i] = fsize(wf);
    }
    tk_store_close(s);
    /* flip one byte inside record 6 (0-based): records 0..5 must survive, nothing after */
    int fd = open(wf, O_RDWR);
    assert_true(fd >= 0);
    off_t at = sizes[5] + 40;
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x20;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
    /* read-only open reports the same prefix without touching the file */
    tk_store_t *ro = open_store(dir, 1);
    got_t g = {0};
    assert_int_equal(count_all(ro, "1001", &g), 6);
    got_free(&g);
    tk_store_close(ro);
    assert_int_equal(fsize(wf), sizes[9]);
    s = open_store(dir, 0);
    const char *msg;
    assert_int_equal(tk_store_recovered_cut(s, &msg), (uint64_t)(sizes[9] - sizes[5]));
    assert_non_null(strstr(msg, "checksum"));
    assert_int_equal(count_all(s, "1001", &g), 6);
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof id, "\"flip-%d\"", i);
        assert_non_null(strstr(g.json[i], id));
    }
    got_free(&g);
    assert_int_equal(fsize(wf), sizes[5]);
    tk_store_close(s);
    tmpdir_remove(dir);
}

static void test_enospc_injection_acknowledges_nothing_and_loses_nothing(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_t *s = open_store(dir, 0);
    assert_int_equal(put1(s, "1001", "a", T0, NULL), 0);
    uint64_t r = 5;
    tev_t b[4];
    tk_event_t ev[4];
    for (int i = 0; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof id, "b%d", i);
        tev_make(&b[i], "1001", id, T0 + 10 + i, &r, 500);
        ev[i] = tev_event(&b[i]);
    }
    tk_store_test_fail_next_write(s, ENOSPC);
    tk_append_result_t res;
    char err[TK_ERRLEN];
    assert_int_equal(tk_store_append(s, ev, 4, &res, NULL, err), TK_ENOSPC);
    assert_int_equal(res.accepted, 0);
    assert_non_null(strstr(err, "disk"));
    got_t g = {0};
    assert_int_equal(count_all(s, "1001", &g), 1); /* nothing half-written is visible */
    got_free(&g);
    assert_int_equal(tk_store_last_seq(s), 1);
    /* space is back: the same batch now goes through, with no gap in seqs */
    assert_int_equal(tk_store_append(s, ev, 4, &res, NULL, err), 0);
    assert_int_equal(res.accepted, 4);
    assert_int_equal(res.last_seq, 5);
    assert_int_equal(put1(s, "1001", "c", T0 + 20, NULL), 0);
    tk_store_close(s);
    s = open_store(dir, 0);
    assert_int_equal(tk_store_recovered_cut(s, NULL), 0);
    assert_int_equal(count_all(s, "1001", &g), 6);
    for (size_t i = 0; i < g.n; i++)
        assert_int_equal(g.seq[i], i + 1);
    got_free(&g);
    tk_store_close(s);
    for (int i = 0; i < 4; i++)
        tev_free(&b[i]);
    tmpdir_remove(dir);
}

static char *g_mnt; /* unmounted by the teardown even when an assertion fails */

static int umount_teardown(void **st)
{
    (void)st;
    if (g_mnt) {
        umount2(g_mnt, MNT_DETACH);
        tmpdir_remove(g_mnt);
        g_mnt = NULL;
    }
    return 0;
}

/* A real full file system: a 1 MiB tmpfs (the tests run as root, see ENVIRONMENT.md). */
static void test_full_tmpfs_keeps_every_acknowledged_event(void **st)
{
    (void)st;
    char *mnt = g_mnt = tmpdir_make();
    int mrc = mount("tmpfs", mnt, "tmpfs", 0, "size=1m");
    if (mrc != 0)
        fprintf(stderr, "# cannot mount a tmpfs (%s): this test needs root\n", strerror(errno));
    assert_int_equal(mrc, 0);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/store", mnt);
    tk_store_t *s = open_store(dir, 0);
    uint64_t r = 77;
    size_t acked = 0, rejected_calls = 0;
    char err[TK_ERRLEN];
    for (int call = 0; call < 400 && rejected_calls < 3; call++) {
        tev_t b[8];
        tk_event_t ev[8];
        for (int i = 0; i < 8; i++) {
            char id[24];
            snprintf(id, sizeof id, "fill-%d-%d", call, i);
            tev_make(&b[i], "1001", id, T0 + call * 8 + i, &r, 1000);
            ev[i] = tev_event(&b[i]);
        }
        tk_append_result_t res;
        int rc = tk_store_append(s, ev, 8, &res, NULL, err);
        if (rc == 0) {
            assert_int_equal(res.accepted, 8);
            assert_int_equal(rejected_calls, 0); /* no success can follow while full */
            acked += 8;
        } else {
            assert_int_equal(rc, TK_ENOSPC);
            assert_int_equal(res.accepted, 0);
            rejected_calls++;
        }
        for (int i = 0; i < 8; i++)
            tev_free(&b[i]);
    }
    assert_true(rejected_calls > 0);
    assert_true(acked > 100);
    got_t g = {0};
    assert_int_equal(count_all(s, "1001", &g), acked);
    got_free(&g);
    assert_int_equal(tk_store_last_seq(s), acked);
    tk_store_close(s);
    /* replay after the full disk: exactly the acknowledged events */
    s = open_store(dir, 0);
    assert_int_equal(count_all(s, "1001", &g), acked);
    for (size_t i = 0; i < g.n; i++)
        assert_int_equal(g.seq[i], i + 1);
    got_free(&g);
    /* more space: appends succeed again */
    assert_int_equal(mount("tmpfs", mnt, "tmpfs", MS_REMOUNT, "size=4m"), 0);
    assert_int_equal(put1(s, "1001", "after", T0 + 999999, NULL), 0);
    tk_store_close(s);
    s = open_store(dir, 0);
    assert_int_equal(count_all(s, "1001", &g), acked + 1);
    got_free(&g);
    tk_store_close(s);
    assert_int_equal(umount(mnt), 0);
    tmpdir_remove(mnt);
    g_mnt = NULL;
}

static void test_dedup_same_event_id_across_calls_seals_and_reopen(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_t *s = open_store(dir, 0);
    uint8_t dup;
    char err[TK_ERRLEN];
    /* twice in one call */
    uint64_t r = 1;
    tev_t a, b;
    tev_make(&a, "1001", "same", T0, &r, 200);
    tev_make(&b, "1001", "same", T0 + 5, &r, 200);
    tk_event_t ev[2] = {tev_event(&a), tev_event(&b)};
    uint8_t sts[2];
    tk_append_result_t res;
    assert_int_equal(tk_store_append(s, ev, 2, &res, sts, err), 0);
    assert_int_equal(res.accepted, 1);
    assert_int_equal(res.duplicates, 1);
    assert_int_equal(sts[0], 0);
    assert_int_equal(sts[1], 1);
    /* again in a later call (unsealed) */
    assert_int_equal(put1(s, "1001", "same", T0 + 9, &dup), 0);
    assert_int_equal(dup, 1);
    /* after a seal (the id is now only in a segment) */
    assert_int_equal(tk_store_seal(s, err), 0);
    assert_int_equal(put1(s, "1001", "same", T0 + 10, &dup), 0);
    assert_int_equal(dup, 1);
    /* other account, other day: distinct events */
    assert_int_equal(put1(s, "1002", "same", T0, &dup), 0);
    assert_int_equal(dup, 0);
    assert_int_equal(put1(s, "1001", "same", T0 + TK_MS_PER_DAY, &dup), 0);
    assert_int_equal(dup, 0);
    assert_int_equal(put1(s, "1001", "other", T0, &dup), 0);
    assert_int_equal(dup, 0);
    tk_store_close(s);
    /* after reopen: segment + replayed WAL both dedup */
    s = open_store(dir, 0);
    assert_int_equal(put1(s, "1001", "same", T0 + 1, &dup), 0);
    assert_int_equal(dup, 1);
    assert_int_equal(put1(s, "1001", "other", T0 + 1, &dup), 0);
    assert_int_equal(dup, 1);
    assert_int_equal(put1(s, "1001", "same", T0 + TK_MS_PER_DAY + 1, &dup), 0);
    assert_int_equal(dup, 1);
    got_t g = {0};
    assert_int_equal(count_all(s, "1001", &g), 3);
    got_free(&g);
    tk_store_stats_t stt;
    tk_store_stats(s, &stt);
    assert_int_equal(stt.events, 4);
    tk_store_close(s);
    tev_free(&a);
    tev_free(&b);
    tmpdir_remove(dir);
}

static void test_append_rejects_invalid_events_whole(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_t *s = open_store(dir, 0);
    const char *bad[] = {"../x", "", "a/b", "..", "x y"};
    for (size_t i = 0; i < TK_ARRAY_LEN(bad); i++)
        assert_int_equal(put1(s, bad[i], "id", T0, NULL), TK_EINVAL);
    assert_int_equal(put1(s, "1001", "", T0, NULL), TK_EINVAL);
    assert_int_equal(put1(s, "1001", "neg", -5, NULL), TK_EINVAL);
    assert_int_equal(tk_store_last_seq(s), 0);
    char **names;
    size_t n;
    char err[TK_ERRLEN];
    assert_int_equal(tk_store_accounts(s, &names, &n, err), 0);
    assert_int_equal(n, 0);
    free(names);
    tk_store_close(s);
    tmpdir_remove(dir);
}

static void test_writer_lock_and_read_only_open(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_t *s = open_store(dir, 0);
    assert_int_equal(put1(s, "1001", "x", T0, NULL), 0);
    tk_store_opts_t o = {.dir = dir, .no_fsync = 1};
    tk_store_t *s2 = NULL;
    char err[TK_ERRLEN];
    assert_int_equal(tk_store_open(&o, &s2, err), TK_EBUSY);
    assert_null(s2);
    assert_non_null(strstr(err, "in use"));
    tk_store_t *ro = open_store(dir, 1);
    got_t g = {0};
    assert_int_equal(count_all(ro, "1001", &g), 1);
    got_free(&g);
    assert_int_equal(put1(ro, "1001", "y", T0, NULL), TK_EPERM);
    assert_int_equal(tk_store_seal(ro, err), TK_EPERM);
    tk_store_close(ro);
    tk_store_close(s);
    s = open_store(dir, 0);
    tk_store_close(s);
    tmpdir_remove(dir);
}

typedef struct logc {
    size_t n;
    uint64_t last;
    int ordered;
} logc_t;

static int log_cb(void *ud, const tk_stored_event_t *ev)
{
    logc_t *c = ud;
    if (ev->seq != c->last + 1 && c->n)
        c->ordered = 0;
    c->last = ev->seq;
    c->n++;
    return 0;
}

static void test_log_read_in_seq_order_and_retention_for_consumers(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_t *s = open_store(dir, 0);
    char id[32], err[TK_ERRLEN];
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "log-%d", i);
        /* times out of order across days and accounts: the log is still in seq order */
        assert_int_equal(put1(s, i % 2 ? "1001" : "1002", id, T0 + (19 - i) * 3600000LL, NULL), 0);
    }
    logc_t c = {0, 0, 1};
    assert_int_equal(tk_store_log_read(s, 1, 0, log_cb, &c, err), 0);
    assert_int_equal(c.n, 20);
    assert_true(c.ordered);
    c = (logc_t){0, 0, 1};
    assert_int_equal(tk_store_log_read(s, 15, 3, log_cb, &c, err), 0);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.last, 17);
    tk_store_log_retain(s, "trail-a", 11);
    assert_int_equal(tk_store_seal(s, err), 0);
    for (int i = 20; i < 25; i++) {
        snprintf(id, sizeof id, "log-%d", i);
        assert_int_equal(put1(s, "1001", id, T0, NULL), 0);
    }
    assert_int_equal(tk_store_seal(s, err), 0); /* the consumer still needs 11.. */
    c = (logc_t){0, 0, 1};
    assert_int_equal(tk_store_log_read(s, 11, 0, log_cb, &c, err), 0);
    assert_int_equal(c.n, 15);
    tk_store_close(s);
    s = open_store(dir, 0); /* the consumer's position survives a restart */
    c = (logc_t){0, 0, 1};
    assert_int_equal(tk_store_log_read(s, 11, 0, log_cb, &c, err), 0);
    assert_int_equal(c.n, 15);
    tk_store_log_retain(s, "trail-a", 26);
    assert_int_equal(put1(s, "1001", "log-25", T0, NULL), 0);
    assert_int_equal(tk_store_seal(s, err), 0);
    assert_int_equal(put1(s, "1001", "log-26", T0, NULL), 0); /* rotates: older files can go */
    assert_int_equal(tk_store_seal(s, err), 0);
    c = (logc_t){0, 0, 1};
    assert_int_equal(tk_store_log_read(s, 1, 0, log_cb, &c, err), TK_ENOTFOUND);
    assert_non_null(strstr(err, "trimmed"));
    assert_int_equal(tk_store_log_read(s, 27, 0, log_cb, &c, err), 0);
    assert_int_equal(c.n, 1);
    /* everything is still there for lookups */
    got_t g = {0};
    count_all(s, "1001", &g);
    assert_int_equal(count_all(s, "1002", &g), 27);
    got_free(&g);
    tk_store_close(s);
    tmpdir_remove(dir);
}

typedef struct thr {
    tk_store_t *s;
    int id;
    int n;
    int rc;
} thr_t;

static void *appender(void *arg)
{
    thr_t *t = arg;
    uint64_t r = (uint64_t)t->id;
    for (int i = 0; i < t->n && !t->rc; i++) {
        tev_t b[5];
        tk_event_t ev[5];
        for (int k = 0; k < 5; k++) {
            char id[32];
            snprintf(id, sizeof id, "t%d-%d-%d", t->id, i, k);
            tev_make(&b[k], t->id % 2 ? "1001" : "1002", id, T0 + (int64_t)rng_below(&r, 3 * 86400000u), &r, 300);
            ev[k] = tev_event(&b[k]);
        }
        char err[TK_ERRLEN];
        tk_append_result_t res;
        t->rc = tk_store_append(t->s, ev, 5, &res, NULL, err);
        if (!t->rc && res.accepted != 5)
            t->rc = -100;
        if (!t->rc && i % 17 == 16)
            t->rc = tk_store_seal(t->s, err);
        for (int k = 0; k < 5; k++)
            tev_free(&b[k]);
    }
    return NULL;
}

static void *reader(void *arg)
{
    thr_t *t = arg;
    for (int i = 0; i < t->n && !t->rc; i++) {
        got_t g = {0};
        char err[TK_ERRLEN];
        tk_lookup_req_t q = {.account = i % 2 ? "1001" : "1002", .start_ms = 0,
                             .end_ms = INT64_MAX - 1, .forward = i % 3 == 0};
        t->rc = tk_store_lookup(t->s, &q, got_cb, &g, err);
        for (size_t k = 1; k < g.n && !t->rc; k++) /* always in walk order */
            if ((q.forward ? g.t[k] < g.t[k - 1] : g.t[k] > g.t[k - 1]))
                t->rc = -200;
        got_free(&g);
    }
    return NULL;
}

/* nrounds batches of 5 per appender thread; with_fsync uses the real fsync
 * path (each group's fsync runs after the writer role is handed on). */
static void concurrent_appenders(int with_fsync, int nrounds)
{
    char *dir = tmpdir_make();
    tk_store_opts_t o = {.dir = dir, .no_fsync = !with_fsync};
    tk_store_t *s = NULL;
    char err[TK_ERRLEN];
    assert_int_equal(tk_store_open(&o, &s, err), 0);
    pthread_t th[5];
    thr_t t[5];
    for (int i = 0; i < 5; i++) {
        t[i] = (thr_t){s, i, i < 4 ? nrounds : 40, 0};
        pthread_create(&th[i], NULL, i < 4 ? appender : reader, &t[i]);
    }
    for (int i = 0; i < 5; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].rc, 0);
    }
    size_t total = 4 * (size_t)nrounds * 5;
    assert_int_equal(tk_store_last_seq(s), total);
    tk_store_close(s);
    s = open_store(dir, 0);
    got_t g = {0};
    count_all(s, "1001", &g);
    count_all(s, "1002", &g);
    assert_int_equal(g.n, total);
    /* every seq exactly once */
    uint8_t *seen = calloc(g.n + 1, 1);
    for (size_t i = 0; i < g.n; i++) {
        assert_true(g.seq[i] >= 1 && g.seq[i] <= g.n);
        assert_int_equal(seen[g.seq[i]], 0);
        seen[g.seq[i]] = 1;
    }
    free(seen);
    got_free(&g);
    tk_store_close(s);
    tmpdir_remove(dir);
}

static void test_concurrent_appenders_share_group_commit(void **st)
{
    (void)st;
    concurrent_appenders(0, 60);
}

static void test_concurrent_appenders_with_real_fsync(void **st)
{
    (void)st;
    concurrent_appenders(1, 8);
}

typedef struct rw {
    const char *dir;
    int stop;
    int rc;
    size_t opens;
} rw_t;

static void *ro_reader(void *arg)
{
    rw_t *r = arg;
    size_t last = 0;
    while (!__atomic_load_n(&r->stop, __ATOMIC_SEQ_CST) && !__atomic_load_n(&r->rc, __ATOMIC_SEQ_CST)) {
        tk_store_opts_t o = {.dir = r->dir, .read_only = 1};
        tk_store_t *s = NULL;
        char err[TK_ERRLEN];
        int orc = tk_store_open(&o, &s, err);
        if (orc) {
            __atomic_store_n(&r->rc, orc, __ATOMIC_SEQ_CST);
            fprintf(stderr, "# read-only open: %s\n", err);
            break;
        }
        got_t g = {0};
        int rc = tk_store_scan(s, "1001", 1, got_cb, &g, err);
        for (size_t k = 1; k < g.n && !rc; k++)
            if (g.t[k] < g.t[k - 1] || (g.t[k] == g.t[k - 1] && g.seq[k] <= g.seq[k - 1]))
                rc = -300;
        if (!rc && g.n < last) /* acknowledged events never disappear */
            rc = -301;
        __atomic_store_n(&r->rc, rc, __ATOMIC_SEQ_CST);
        last = g.n;
        got_free(&g);
        tk_store_close(s);
        __atomic_add_fetch(&r->opens, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

/* `trailkeep lookup` opens read-only while `serve` writes and seals. */
static void test_read_only_opens_while_writer_appends_and_seals(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_opts_t o = {.dir = dir, .no_fsync = 1, .seal_bytes = 64 * 1024};
    tk_store_t *s = NULL;
    char err[TK_ERRLEN], id[32];
    assert_int_equal(tk_store_open(&o, &s, err), 0);
    rw_t r = {dir, 0, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, ro_reader, &r);
    for (int i = 0; i < 600; i++) {
        snprintf(id, sizeof id, "ro-%d", i);
        assert_int_equal(put1(s, "1001", id, T0 + (i % 7) * TK_MS_PER_DAY / 3 + i, NULL), 0);
    }
    while (__atomic_load_n(&r.opens, __ATOMIC_SEQ_CST) < 3 && !__atomic_load_n(&r.rc, __ATOMIC_SEQ_CST))
        usleep(1000);
    __atomic_store_n(&r.stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    assert_int_equal(r.rc, 0);
    got_t g = {0};
    assert_int_equal(count_all(s, "1001", &g), 600);
    got_free(&g);
    tk_store_close(s);
    tmpdir_remove(dir);
}

typedef struct sealer {
    tk_store_t *s;
    int stop;
    int rc;
    int seals;
} sealer_t;

static void *seal_loop(void *arg)
{
    sealer_t *z = arg;
    char err[TK_ERRLEN];
    while (!__atomic_load_n(&z->stop, __ATOMIC_SEQ_CST) && !__atomic_load_n(&z->rc, __ATOMIC_SEQ_CST)) {
        __atomic_store_n(&z->rc, tk_store_seal(z->s, err), __ATOMIC_SEQ_CST);
        __atomic_add_fetch(&z->seals, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

typedef struct idfind {
    const char *want;
    int found;
} idfind_t;

static int find_cb(void *ud, const tk_stored_event_t *ev)
{
    idfind_t *f = ud;
    if (memmem(ev->json.p, ev->json.len, f->want, strlen(f->want)))
        f->found++;
    return 0;
}

/* Seals run beside appends: an acknowledged event is visible to the next
 * lookup whether it is unsealed, frozen by the running seal, or sealed. */
static void test_acknowledged_events_stay_visible_while_seals_run(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_t *s = open_store(dir, 0);
    sealer_t z = {s, 0, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, seal_loop, &z);
    char id[32], want[40], err[TK_ERRLEN];
    int i;
    for (i = 0; (i < 300 || __atomic_load_n(&z.seals, __ATOMIC_SEQ_CST) < 5) && i < 20000 &&
                !__atomic_load_n(&z.rc, __ATOMIC_SEQ_CST);
         i++) {
        snprintf(id, sizeof id, "vis-%d", i);
        int64_t t = T0 + (i % 3) * TK_MS_PER_DAY + i;
        assert_int_equal(put1(s, "1001", id, t, NULL), 0);
        snprintf(want, sizeof want, "\"vis-%d\"", i);
        idfind_t f = {want, 0};
        tk_lookup_req_t q = {.account = "1001", .start_ms = t, .end_ms = t, .nattrs = 1};
        q.attrs[0].key = TK_ATTR_EVENTID;
        q.attrs[0].value = id;
        assert_int_equal(tk_store_lookup(s, &q, find_cb, &f, err), 0);
        assert_int_equal(f.found, 1);
        uint8_t dup;
        assert_int_equal(put1(s, "1001", id, t, &dup), 0); /* dedup sees frozen events too */
        assert_int_equal(dup, 1);
    }
    __atomic_store_n(&z.stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    assert_int_equal(z.rc, 0);
    assert_true(z.seals >= 5);
    got_t g = {0};
    assert_int_equal(count_all(s, "1001", &g), (size_t)i);
    got_free(&g);
    tk_store_close(s);
    s = open_store(dir, 0);
    assert_int_equal(count_all(s, "1001", &g), (size_t)i);
    got_free(&g);
    tk_verify_summary_t sum;
    assert_int_equal(tk_store_verify(s, NULL, NULL, NULL, &sum, err), 0);
    assert_int_equal(sum.problems, 0);
    tk_store_close(s);
    tmpdir_remove(dir);
}

/* Random damage anywhere in the WAL: open never fails or crashes, and what
 * it keeps is always a prefix of the log (seqs 1..k, nothing after a gap). */
static void test_random_wal_damage_keeps_a_prefix(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_t *s = open_store(dir, 0);
    char id[32], wf[600], err[TK_ERRLEN];
    for (int i = 0; i < 40; i++) {
        uint64_t r = (uint64_t)i;
        tev_t b[3];
        tk_event_t ev[3];
        for (int k = 0; k < 3; k++) {
            snprintf(id, sizeof id, "d%d-%d", i, k);
            tev_make(&b[k], "1001", id, T0 + i * 10 + k, &r, 200 + 300 * (i % 3));
            ev[k] = tev_event(&b[k]);
        }
        assert_int_equal(tk_store_append(s, ev, 3, NULL, NULL, err), 0);
        for (int k = 0; k < 3; k++)
            tev_free(&b[k]);
    }
    tk_store_close(s);
    wal_file(dir, wf, sizeof wf);
    char *orig;
    size_t len;
    assert_int_equal(tk_fs_read_all(wf, &orig, &len, err), 0);
    uint64_t r = 99;
    for (int round = 0; round < 60; round++) {
        char *buf = malloc(len);
        memcpy(buf, orig, len);
        for (int k = 0; k < 1 + (int)rng_below(&r, 2); k++)
            buf[rng_below(&r, (uint32_t)len)] ^= (char)(1 + rng_below(&r, 255));
        size_t cut = round % 4 == 0 ? rng_below(&r, (uint32_t)len) : len; /* sometimes torn too */
        assert_int_equal(tk_fs_write_atomic(wf, buf, cut, err), 0);
        free(buf);
        s = open_store(dir, 0);
        got_t g = {0};
        count_all(s, "1001", &g);
        for (size_t i = 0; i < g.n; i++)
            assert_int_equal(g.seq[i], i + 1);
        assert_int_equal(tk_store_last_seq(s), g.n);
        assert_true(g.n <= 120);
        assert_int_equal(put1(s, "1001", "after-damage", T0 + 99999, NULL), 0);
        assert_int_equal(tk_store_last_seq(s), g.n + 1);
        got_free(&g);
        tk_store_close(s);
        /* start the next round from the undamaged log */
        char wd[600];
        snprintf(wd, sizeof wd, "%s/wal", dir);
        tk_fs_remove_tree(wd);
        tk_fs_mkdirs(wd, err);
        assert_int_equal(tk_fs_write_atomic(wf, orig, len, err), 0);
    }
    free(orig);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_cuts_torn_tail_and_keeps_prefix),
        cmocka_unit_test(test_replay_stops_at_corrupted_record),
        cmocka_unit_test(test_enospc_injection_acknowledges_nothing_and_loses_nothing),
        cmocka_unit_test_teardown(test_full_tmpfs_keeps_every_acknowledged_event, umount_teardown),
        cmocka_unit_test(test_dedup_same_event_id_across_calls_seals_and_reopen),
        cmocka_unit_test(test_append_rejects_invalid_events_whole),
        cmocka_unit_test(test_writer_lock_and_read_only_open),
        cmocka_unit_test(test_log_read_in_seq_order_and_retention_for_consumers),
        cmocka_unit_test(test_concurrent_appenders_share_group_commit),
        cmocka_unit_test(test_concurrent_appenders_with_real_fsync),
        cmocka_unit_test(test_read_only_opens_while_writer_appends_and_seals),
        cmocka_unit_test(test_acknowledged_events_stay_visible_while_seals_run),
        cmocka_unit_test(test_random_wal_damage_keeps_a_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for tk_source_*: the folder walk (order, filters), JSON Lines
 * chunking (no event split, line numbers continue across chunks), gzip
 * streaming, documents in one piece, errors that skip one file, resume. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <zlib.h>

#include "base/fs.h"
#include "base/tk.h"
#include "event/parse.h"
#include "event/source.h"

static char g_tmp[256];

static int setup(void **st)
{
    (void)st;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/tk-event-src.XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    tk_fs_remove_tree(g_tmp);
    return 0;
}

static void put_file(const char *rel, const char *data, size_t n, int gzip)
{
    char path[512], err[TK_ERRLEN];
    snprintf(path, sizeof path, "%s/%s", g_tmp, rel);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    assert_int_equal(tk_fs_mkdirs(dir, err), 0);
    if (gzip) {
        gzFile g = gzopen(path, "wb");
        assert_non_null(g);
        assert_int_equal(gzwrite(g, data, (unsigned)n), (int)n);
        gzclose(g);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, n, f), n);
        fclose(f);
    }
}

/* n JSON Lines events; line bad_line (1-based, 0 = none) is broken. */
static char *jsonl(size_t n, size_t bad_line, size_t *len)
{
    char *p = malloc(n * 160 + 1);
    size_t k = 0;
    for (size_t i = 1; i <= n; i++) {
        if (i == bad_line)
            k += (size_t)sprintf(p + k, "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"broken\n");
        else
            k += (size_t)sprintf(p + k, "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"eventId\":\"e%zu\"}\n", i);
    }
    *len = k;
    return p;
}

typedef struct totals {
    size_t events, rejects, chunks, files;
    uint64_t reject_line;
    size_t max_chunk;
} totals_t;

static void drain(tk_source_t *src, totals_t *t, int expect_errors)
{
    tk_batch_t *b = tk_batch_create();
    tk_source_chunk_t ch;
    char err[TK_ERRLEN];
    int rc;
    size_t last_file = (size_t)-1;
    while ((rc = tk_source_next(src, &ch, err)) != 0) {
        if (rc < 0) {
            assert_true(expect_errors);
            continue;
        }
        if (ch.file_index != last_file) {
            assert_true(ch.first || t->chunks == 0); /* a resumed walk starts mid-file */
            t->files++;
            last_file = ch.file_index;
        }
        t->chunks++;
        if (ch.len > t->max_chunk)
            t->max_chunk = ch.len;
        tk_batch_reset(b);
        tk_parse_opts_t o = {.format = ch.format, .source_name = ch.path, .first_line = ch.first_line};
        assert_int_equal(tk_event_parse(b, ch.data, ch.len, &o, err), 0);
        t->events += tk_batch_count(b);
        t->rejects += tk_batch_reject_count(b);
        if (tk_batch_reject_count(b))
            t->reject_line = tk_batch_rejects(b)[0].line;
    }
    tk_batch_destroy(b);
}

static void test_jsonl_chunks_never_split_events_and_keep_line_numbers(void **st)
{
    (void)st;
    size_t len;
    char *d = jsonl(3000, 1234, &len);
    put_file("big/events.jsonl", d, len, 0);
    put_file("big/events.jsonl.gz", d, len, 1);
    free(d);
    char path[512], err[TK_ERRLEN];
    snprintf(path, sizeof path, "%s/big", g_tmp);
    const char *paths[] = {path};
    tk_source_opts_t o = {.chunk_bytes = 8192};
    tk_source_t *src;
    assert_int_equal(tk_source_open(paths, 1, &o, &src, err), 0);
    assert_int_equal(tk_source_file_count(src), 2);
    totals_t t = {0};
    drain(src, &t, 0);
    assert_int_equal(t.files, 2);
    assert_int_equal(t.events, 2 * 2999);
    assert_int_equal(t.rejects, 2);
    assert_int_equal(t.reject_line, 1234);
    assert_true(t.chunks > 2 * (len / 8192));
    assert_true(t.max_chunk <= 8192);
    assert_int_equal(tk_source_bytes_done(src), tk_source_total_bytes(src));
    tk_source_close(src);
}

static void test_folder_walk_filters_and_orders(void **st)
{
    (void)st;
    const char *ct = "{\"Records\":[{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-07-31T12:29:17Z\",\"eventID\":\"c1\","
                     "\"awsRegion\":\"eu\",\"recipientAccountId\":\"1\"}]}";
    const char *arr = "[{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\"},\n"
                      " {\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\"}]";
    put_file("walk/b/AWSLogs/1/CloudTrail/eu/x.json.gz", ct, strlen(ct), 1);
    put_file("walk/a/arr.json", arr, strlen(arr), 0);
    put_file("walk/a/Actiontrail_cn_1.gz", arr, strlen(arr), 1);
    put_file("walk/LICENSE", "text", 4, 0);
    put_file("walk/.hidden.json", "x", 1, 0);
    put_file("walk/b/AWSLogs/1/CloudTrail-Digest/d.json.gz", "{}", 2, 1);
    char path[512], err[TK_ERRLEN];
    snprintf(path, sizeof path, "%s/walk", g_tmp);
    const char *paths[] = {path};
    tk_source_t *src;
    assert_int_equal(tk_source_open(paths, 1, NULL, &src, err), 0);
    assert_int_equal(tk_source_file_count(src), 3);
    assert_non_null(strstr(tk_source_file_path(src, 0), "/walk/a/Actiontrail_cn_1.gz"));
    assert_non_null(strstr(tk_source_file_path(src, 1), "/walk/a/arr.json"));
    assert_non_null(strstr(tk_source_file_path(src, 2), "/x.json.gz"));
    tk_source_chunk_t ch;
    assert_int_equal(tk_source_next(src, &ch, err), 1);
    assert_int_equal(ch.format, TK_FMT_AUTO);
    assert_int_equal(ch.len, strlen(arr));
    assert_memory_equal(ch.data, arr, ch.len);
    assert_true(ch.first && ch.last);
    assert_int_equal(tk_source_next(src, &ch, err), 1);
    assert_int_equal(ch.file_index, 1);
    assert_int_equal(tk_source_next(src, &ch, err), 1);
    assert_int_equal(ch.format, TK_FMT_CLOUDTRAIL);
    assert_int_equal(ch.len, strlen(ct));
    assert_int_equal(tk_source_next(src, &ch, err), 0);
    tk_source_close(src);
    /* A file named directly is read whatever its name. */
    char lic[512];
    snprintf(lic, sizeof lic, "%s/walk/LICENSE", g_tmp);
    const char *p2[] = {lic};
    assert_int_equal(tk_source_open(p2, 1, NULL, &src, err), 0);
    assert_int_equal(tk_source_file_count(src), 1);
    tk_source_close(src);
}

static void test_errors_name_the_file_and_skip_it(void **st)
{
    (void)st;
    char err[TK_ERRLEN];
    char missing[512];
    snprintf(missing, sizeof missing, "%s/nope", g_tmp);
    const char *p1[] = {missing};
    tk_source_t *src;
    assert_int_equal(tk_source_open(p1, 1, NULL, &src, err), TK_ENOTFOUND);
    assert_non_null(strstr(err, "nope"));

    /* A corrupt .gz, then a good file: the walk reports and moves on. */
    size_t len;
    char *d = jsonl(50, 0, &len);
    put_file("bad/1.jsonl.gz", d, len, 1);
    put_file("bad/2.jsonl", d, len, 0);
    free(d);
    char gzpath[512];
    snprintf(gzpath, sizeof gzpath, "%s/bad/1.jsonl.gz", g_tmp);
    FILE *f = fopen(gzpath, "r+b");
    fseek(f, 20, SEEK_SET);
    fputs("garbage!garbage!", f);
    fclose(f);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/bad", g_tmp);
    const char *p2[] = {dir};
    assert_int_equal(tk_source_open(p2, 1, NULL, &src, err), 0);
    tk_source_chunk_t ch;
    int rc = tk_source_next(src, &ch, err);
    assert_int_equal(rc, TK_ECORRUPT);
    assert_non_null(strstr(err, "1.jsonl.gz"));
    assert_int_equal(tk_source_next(src, &ch, err), 1);
    assert_non_null(strstr(ch.path, "2.jsonl"));
    assert_int_equal(ch.len, len);
    assert_int_equal(tk_source_next(src, &ch, err), 0);
    tk_source_close(src);

    /* A document over the limit. */
    put_file("doc/a.json", "[{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}]", 44, 0);
    snprintf(dir, sizeof dir, "%s/doc", g_tmp);
    const char *p3[] = {dir};
    tk_source_opts_t o = {.chunk_bytes = 4096, .max_doc_bytes = 16};
    assert_int_equal(tk_source_open(p3, 1, &o, &src, err), 0);
    assert_int_equal(tk_source_next(src, &ch, err), TK_ETOOBIG);
    assert_int_equal(tk_source_next(src, &ch, err), 0);
    tk_source_close(src);
}

static void test_seek_resumes_at_a_chunk_with_right_line(void **st)
{
    (void)st;
    size_t len;
    char *d = jsonl(1000, 0, &len);
    put_file("seek/e.jsonl.gz", d, len, 1);
    free(d);
    char dir[512], err[TK_ERRLEN];
    snprintf(dir, sizeof dir, "%s/seek", g_tmp);
    const char *p[] = {dir};
    tk_source_opts_t o = {.chunk_bytes = 4096};
    tk_source_t *src;
    assert_int_equal(tk_source_open(p, 1, &o, &src, err), 0);
    tk_source_chunk_t ch;
    assert_int_equal(tk_source_next(src, &ch, err), 1);
    assert_int_equal(tk_source_next(src, &ch, err), 1);
    uint64_t off = ch.offset, line = ch.first_line;
    assert_true(off > 0 && line > 1);
    tk_source_close(src);

    assert_int_equal(tk_source_open(p, 1, &o, &src, err), 0);
    assert_int_equal(tk_source_seek(src, 0, off, err), 0);
    assert_int_equal(tk_source_next(src, &ch, err), 1);
    assert_int_equal(ch.offset, off);
    assert_int_equal(ch.first_line, line);
    assert_int_equal(ch.format, TK_FMT_JSONL);
    char want[64];
    snprintf(want, sizeof want, "\"eventId\":\"e%llu\"", (unsigned long long)line);
    assert_non_null(strstr(ch.data, want));
    assert_int_equal(ch.data[0], '{');
    totals_t t = {0};
    tk_batch_t *b = tk_batch_create();
    tk_parse_opts_t po = {.format = ch.format, .first_line = ch.first_line};
    assert_int_equal(tk_event_parse(b, ch.data, ch.len, &po, err), 0);
    t.events = tk_batch_count(b);
    tk_batch_destroy(b);
    totals_t rest = {0};
    drain(src, &rest, 0);
    assert_int_equal(t.events + rest.events, 1000 - (line - 1));
    assert_int_equal(tk_source_seek(src, 5, 0, err), TK_EINVAL);
    tk_source_close(src);
}

static void test_stratus_folder_walks_to_310_events(void **st)
{
    (void)st;
    const char *sh = getenv("TK_SHARED");
    char dir[1024], err[TK_ERRLEN];
    snprintf(dir, sizeof dir, "%s/datasets/stratus-detonation-logs", sh ? sh : "/work/shared");
    const char *p[] = {dir};
    tk_source_t *src;
    assert_int_equal(tk_source_open(p, 1, NULL, &src, err), 0);
    assert_int_equal(tk_source_file_count(src), 35); /* LICENSE and NOTICE skipped */
    totals_t t = {0};
    drain(src, &t, 0);
    assert_int_equal(t.files, 35);
    assert_int_equal(t.chunks, 35);
    assert_int_equal(t.events, 310);
    assert_int_equal(t.rejects, 0);
    tk_source_close(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonl_chunks_never_split_events_and_keep_line_numbers),
        cmocka_unit_test(test_folder_walk_filters_and_orders),
        cmocka_unit_test(test_errors_name_the_file_and_skip_it),
        cmocka_unit_test(test_seek_resumes_at_a_chunk_with_right_line),
        cmocka_unit_test(test_stratus_folder_walks_to_310_events),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

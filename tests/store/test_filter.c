/* Tests of the per-segment term filter (format.h SEC_FILTER): it never
 * misses a term it holds, its false-positive rate is what it is sized for,
 * malformed filters are refused, and a lookup for a term a segment cannot
 * hold skips that segment without loading its index. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store/store_internal.h"
#include "store_testlib.h"

#include "base/buf.h"
#include "base/tk.h"
#include "base/tktime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAYMS 86400000LL
#define T0 (20000 * DAYMS) /* 2024-10-04 */

static void make_filter(tk_buf_t *f, uint64_t seed, size_t n)
{
    uint64_t *k = malloc((n ? n : 1) * sizeof *k);
    char v[32];
    for (size_t i = 0; i < n; i++) {
        snprintf(v, sizeof v, "term-%llu-%zu", (unsigned long long)seed, i);
        k[i] = segfilter_key(TK_ATTR_RESOURCENAME, v, strlen(v));
    }
    assert_int_equal(segfilter_build(f, k, n), 0);
    free(k);
}

static void test_filter_never_misses_a_term_it_holds(void **st)
{
    (void)st;
    tk_buf_t f = TK_BUF_INIT;
    make_filter(&f, 1, 50000);
    assert_true(segfilter_valid((const uint8_t *)f.p, f.len));
    char v[32];
    for (size_t i = 0; i < 50000; i++) {
        snprintf(v, sizeof v, "term-1-%zu", i);
        assert_int_equal(segfilter_may_have((const uint8_t *)f.p, f.len,
                                            segfilter_key(TK_ATTR_RESOURCENAME, v, strlen(v))),
                         1);
    }
    tk_buf_free(&f);
}

static void test_filter_false_positives_stay_near_one_percent(void **st)
{
    (void)st;
    tk_buf_t f = TK_BUF_INIT;
    make_filter(&f, 2, 20000);
    /* 10 bits per key, rounded up to whole 64-byte blocks, plus the k byte */
    assert_int_equal(f.len, 1 + ((20000 * 10 + 511) / 512) * 64);
    size_t fp = 0, tries = 100000;
    char v[32];
    for (size_t i = 0; i < tries; i++) {
        snprintf(v, sizeof v, "absent-%zu", i);
        fp += (size_t)segfilter_may_have((const uint8_t *)f.p, f.len,
                                         segfilter_key(TK_ATTR_RESOURCENAME, v, strlen(v)));
    }
    /* a blocked filter with k = 7 at 10 bits/key: ~1%; 2% would mean it is broken */
    assert_true(fp < tries / 50);
    /* the same term under another attribute is another key */
    snprintf(v, sizeof v, "term-2-0");
    size_t other = 0;
    for (int a = 0; a < TK_ATTR__COUNT; a++)
        if (a != TK_ATTR_RESOURCENAME)
            other += (size_t)segfilter_may_have((const uint8_t *)f.p, f.len,
                                                segfilter_key((tk_attr_t)a, v, strlen(v)));
    assert_true(other <= 1);
    tk_buf_free(&f);
}

static void test_filter_of_no_terms_holds_nothing(void **st)
{
    (void)st;
    tk_buf_t f = TK_BUF_INIT;
    make_filter(&f, 3, 0);
    assert_int_equal(f.len, 1 + 64);
    assert_true(segfilter_valid((const uint8_t *)f.p, f.len));
    assert_int_equal(segfilter_may_have((const uint8_t *)f.p, f.len,
                                        segfilter_key(TK_ATTR_USER, "x", 1)),
                     0);
    /* no filter at all (NULL) may hold anything */
    assert_int_equal(segfilter_may_have(NULL, 0, segfilter_key(TK_ATTR_USER, "x", 1)), 1);
    tk_buf_free(&f);
}

static void test_filter_malformed_is_refused(void **st)
{
    (void)st;
    tk_buf_t f = TK_BUF_INIT;
    make_filter(&f, 4, 100);
    uint8_t *p = (uint8_t *)f.p;
    assert_true(segfilter_valid(p, f.len));
    assert_false(segfilter_valid(p, f.len - 1)); /* not whole blocks */
    assert_false(segfilter_valid(p, 1));         /* no block */
    p[0] = SEGF_PROBES + 1;                      /* another k */
    assert_false(segfilter_valid(p, f.len));
    tk_buf_free(&f);
}

static void put(tk_store_t *s, const char *id, int64_t t, const char *resname)
{
    uint64_t r = (uint64_t)t;
    tev_t e;
    tev_make(&e, "1001", id, t, &r, 300);
    if (resname)
        for (int k = 0; k < e.nterms; k++)
            if (e.terms[k].attr == TK_ATTR_RESOURCENAME) {
                snprintf(e.vals[k], sizeof e.vals[k], "%s", resname);
                e.terms[k].val.len = (uint32_t)strlen(e.vals[k]);
                break;
            }
    tk_event_t ev = tev_event(&e);
    char err[TK_ERRLEN];
    tk_append_result_t res;
    assert_int_equal(tk_store_append(s, &ev, 1, &res, NULL, err), 0);
    assert_int_equal(res.accepted, 1);
    tev_free(&e);
}

static size_t loaded_indexes(tk_store_t *s)
{
    size_t n = 0;
    for (segidx_t *x = s->cache.ihead; x; x = x->lru_next)
        n++;
    return n;
}

static size_t find(tk_store_t *s, tk_attr_t key, const char *v)
{
    tk_lookup_req_t q = {.account = "1001", .start_ms = 0, .end_ms = INT64_MAX - 1, .nattrs = 1};
    q.attrs[0].key = key;
    q.attrs[0].value = v;
    got_t g = {0};
    char err[TK_ERRLEN];
    assert_int_equal(tk_store_lookup(s, &q, got_cb, &g, err), 0);
    size_t n = g.n;
    got_free(&g);
    return n;
}

/* Appending an event again after its day was sealed is still a duplicate,
 * and the dedup reads no segment index whose filter rules the eventId out. */
static void test_dedup_against_sealed_days_uses_the_filter(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_opts_t o = {.dir = dir, .no_fsync = 1};
    tk_store_t *s = NULL;
    char err[TK_ERRLEN], id[32];
    assert_int_equal(tk_store_open(&o, &s, err), 0);
    for (int k = 0; k < 4; k++) { /* four sealed segments of one day */
        for (int i = 0; i < 30; i++) {
            snprintf(id, sizeof id, "d%d-%d", k, i);
            put(s, id, T0 + k * 3600000 + i * 1000, NULL);
        }
        assert_int_equal(tk_store_seal(s, err), 0);
    }
    tk_store_close(s);
    assert_int_equal(tk_store_open(&o, &s, err), 0);
    assert_int_equal(loaded_indexes(s), 0);
    put(s, "new-1", T0 + 5 * 3600000, NULL); /* a new id: every filter rules it out */
    assert_int_equal(loaded_indexes(s), 0);
    /* an id sealed in the third segment: found there, a duplicate */
    uint64_t r = 1;
    tev_t e;
    tev_make(&e, "1001", "d2-7", T0 + 2 * 3600000 + 7 * 1000, &r, 300);
    tk_event_t ev = tev_event(&e);
    tk_append_result_t res;
    assert_int_equal(tk_store_append(s, &ev, 1, &res, NULL, err), 0);
    assert_int_equal(res.accepted, 0);
    assert_int_equal(res.duplicates, 1);
    assert_int_equal(loaded_indexes(s), 1);
    tev_free(&e);
    tk_store_close(s);
    tmpdir_remove(dir);
}

static void test_lookup_skips_segments_the_filter_rules_out(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_opts_t o = {.dir = dir, .no_fsync = 1};
    tk_store_t *s = NULL;
    char err[TK_ERRLEN], id[32];
    assert_int_equal(tk_store_open(&o, &s, err), 0);
    /* 6 days, one segment each; "needle" is the ResourceName of one event of day 3 */
    for (int d = 0; d < 6; d++)
        for (int i = 0; i < 40; i++) {
            snprintf(id, sizeof id, "e%d-%d", d, i);
            put(s, id, T0 + d * DAYMS + i * 1000, d == 3 && i == 17 ? "needle" : NULL);
        }
    assert_int_equal(tk_store_seal(s, err), 0);
    tk_store_close(s);

    tk_store_opts_t ro = {.dir = dir, .read_only = 1};
    assert_int_equal(tk_store_open(&ro, &s, err), 0);
    assert_int_equal(find(s, TK_ATTR_RESOURCENAME, "absent-name"), 0);
    assert_int_equal(loaded_indexes(s), 0); /* no segment index was read */
    assert_int_equal(find(s, TK_ATTR_RESOURCENAME, "needle"), 1);
    assert_int_equal(loaded_indexes(s), 1); /* only day 3's */
    /* a term every segment holds still finds every event: 6 x 40, each with
     * one of three names per attribute, and the filter drops none of them */
    size_t total = 0;
    char v[16];
    for (int w = 0; w < 3; w++) {
        snprintf(v, sizeof v, "%s%d", TEV_VOCAB[w], TK_ATTR_EVENTNAME);
        total += find(s, TK_ATTR_EVENTNAME, v);
    }
    assert_int_equal(total, 240);
    assert_int_equal(loaded_indexes(s), 6);
    tk_store_close(s);

    /* eventIds are in the filter too: a lookup by one loads only its segment */
    assert_int_equal(tk_store_open(&ro, &s, err), 0);
    assert_int_equal(find(s, TK_ATTR_EVENTID, "e9-99"), 0);
    assert_int_equal(loaded_indexes(s), 0);
    assert_int_equal(find(s, TK_ATTR_EVENTID, "e4-21"), 1);
    assert_int_equal(loaded_indexes(s), 1);
    tk_store_close(s);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_never_misses_a_term_it_holds),
        cmocka_unit_test(test_filter_false_positives_stay_near_one_percent),
        cmocka_unit_test(test_filter_of_no_terms_holds_nothing),
        cmocka_unit_test(test_filter_malformed_is_refused),
        cmocka_unit_test(test_lookup_skips_segments_the_filter_rules_out),
        cmocka_unit_test(test_dedup_against_sealed_days_uses_the_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Store lookups against a brute-force oracle on randomized data: many seeds,
 * every attribute key, 0/1/2 attributes, both directions, pagination by
 * cursor across partitions, segments and unsealed events, day-boundary and
 * same-millisecond events, with seals and reopens interleaved. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "store_testlib.h"

#define DAY0 (20412LL * TK_MS_PER_DAY) /* 2025-11-19 */
#define NDAYS 4

typedef struct world {
    tev_t *ev;
    size_t n, cap;
} world_t;

static const char *const ACCTS[] = {"1001", "1002", "acct-3.x"};

static void world_add(world_t *w, const tev_t *e)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 256;
        w->ev = realloc(w->ev, w->cap * sizeof *w->ev);
    }
    w->ev[w->n++] = *e;
}

/* Appends batch (taking ownership of its JSON) and records the accepted ones. */
static void append_batch(tk_store_t *s, world_t *w, tev_t *b, size_t n)
{
    tk_event_t *ev = calloc(n, sizeof *ev);
    uint8_t *st = calloc(n, 1);
    for (size_t i = 0; i < n; i++)
        ev[i] = tev_event(&b[i]);
    tk_append_result_t res;
    char err[TK_ERRLEN];
    assert_int_equal(tk_store_append(s, ev, n, &res, st, err), 0);
    assert_int_equal(res.accepted + res.duplicates, n);
    uint64_t seq = res.last_seq - res.accepted + 1;
    for (size_t i = 0; i < n; i++) {
        /* the oracle's own dedup must agree with the store's */
        int dup = 0;
        int64_t day = tk_time_day(b[i].t);
        for (size_t k = 0; k < w->n && !dup; k++)
            dup = !strcmp(w->ev[k].account, b[i].account) && !strcmp(w->ev[k].id, b[i].id) &&
                  tk_time_day(w->ev[k].t) == day;
        assert_int_equal(st[i], dup);
        if (dup) {
            tev_free(&b[i]);
            continue;
        }
        b[i].seq = seq++;
        world_add(w, &b[i]);
    }
    assert_int_equal(seq - 1, res.accepted ? res.last_seq : seq - 1);
    free(ev);
    free(st);
}

static int64_t rand_time(uint64_t *r, const world_t *w)
{
    int64_t day = DAY0 + (int64_t)rng_below(r, NDAYS) * TK_MS_PER_DAY;
    switch (rng_below(r, 10)) {
    case 0: return day;                        /* exactly at midnight */
    case 1: return day + TK_MS_PER_DAY - 1;    /* last millisecond of the day */
    case 2: case 3:
        if (w->n)
            return w->ev[rng_below(r, (uint32_t)w->n)].t; /* same millisecond as another */
        return day;
    default: return day + (int64_t)rng_below(r, (uint32_t)TK_MS_PER_DAY);
    }
}

static int ord_cmp(const void *a, const void *b)
{
    const tev_t *x = *(const tev_t *const *)a, *y = *(const tev_t *const *)b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The oracle's answer: matching events in walk order. */
static size_t oracle(const world_t *w, const tk_lookup_req_t *q, const tev_t **out)
{
    size_t n = 0;
    for (size_t i = 0; i < w->n; i++) {
        const tev_t *e = &w->ev[i];
        if (strcmp(e->account, q->account) || e->t < q->start_ms || e->t > q->end_ms)
            continue;
        int ok = 1;
        for (int k = 0; k < q->nattrs; k++)
            ok &= tev_has(e, q->attrs[k].key, q->attrs[k].value);
        if (!ok)
            continue;
        if (q->has_cursor) {
            int after = e->t > q->cursor_time_ms ||
                        (e->t == q->cursor_time_ms && e->seq > q->cursor_seq);
            int before = e->t < q->cursor_time_ms ||
                         (e->t == q->cursor_time_ms && e->seq < q->cursor_seq);
            if (q->forward ? !after : !before)
                continue;
        }
        out[n++] = e;
    }
    qsort(out, n, sizeof *out, ord_cmp);
    if (!q->forward)
        for (size_t i = 0; i < n / 2; i++) {
            const tev_t *t = out[i];
            out[i] = out[n - 1 - i];
            out[n - 1 - i] = t;
        }
    return n;
}

static void check_same(const got_t *g, const tev_t **want, size_t n)
{
    assert_int_equal(g->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(g->seq[i], want[i]->seq);
        assert_int_equal(g->t[i], want[i]->t);
        assert_string_equal(g->json[i], want[i]->json);
    }
}

static int64_t rand_bound(uint64_t *r, const world_t *w)
{
    int64_t day = DAY0 + ((int64_t)rng_below(r, NDAYS + 2) - 1) * TK_MS_PER_DAY;
    switch (rng_below(r, 5)) {
    case 0: return day;
    case 1: return day - 1;
    case 2: return w->n ? w->ev[rng_below(r, (uint32_t)w->n)].t : day;
    default: return day + (int64_t)rng_below(r, (uint32_t)TK_MS_PER_DAY);
    }
}

static void random_query(uint64_t *r, const world_t *w, tk_lookup_req_t *q, char vals[2][48])
{
    memset(q, 0, sizeof *q);
    q->account = rng_below(r, 10) ? ACCTS[rng_below(r, 3)] : "nobody";
    q->start_ms = rand_bound(r, w);
    q->end_ms = rand_bound(r, w);
    if (q->start_ms > q->end_ms) {
        int64_t t = q->start_ms;
        q->start_ms = q->end_ms;
        q->end_ms = t;
    }
    if (rng_below(r, 8) == 0) { /* the whole range */
        q->start_ms = DAY0 - TK_MS_PER_DAY;
        q->end_ms = DAY0 + (NDAYS + 1) * TK_MS_PER_DAY;
    }
    q->nattrs = (int)rng_below(r, 3);
    for (int k = 0; k < q->nattrs; k++) {
        tk_attr_t a = (tk_attr_t)rng_below(r, TK_ATTR__COUNT);
        q->attrs[k].key = a;
        if (a == TK_ATTR_EVENTID && w->n)
            snprintf(vals[k], 48, "%s", w->ev[rng_below(r, (uint32_t)w->n)].id);
        else if (rng_below(r, 12) == 0)
            snprintf(vals[k], 48, "absent%d", (int)a);
        else
            snprintf(vals[k], 48, "%s%d", TEV_VOCAB[rng_below(r, 3)], (int)a);
        q->attrs[k].value = vals[k];
    }
    q->forward = (int)rng_below(r, 2);
}

static void run_queries(tk_store_t *s, uint64_t *r, const world_t *w, int nq)
{
    const tev_t **want = malloc((w->n + 1) * sizeof *want);
    char err[TK_ERRLEN];
    for (int qi = 0; qi < nq; qi++) {
        tk_lookup_req_t q;
        char vals[2][48];
        random_query(r, w, &q, vals);
        size_t nw = oracle(w, &q, want);
        /* one unpaged walk */
        got_t g = {0};
        assert_int_equal(tk_store_lookup(s, &q, got_cb, &g, err), 0);
        check_same(&g, want, nw);
        got_free(&g);
        /* paged walk: every page resumes strictly after the last event shown */
        size_t page = 1 + rng_below(r, 12), seen = 0;
        tk_lookup_req_t pq = q;
        for (;;) {
            got_t pg = {.stop_after = page};
            int rc = tk_store_lookup(s, &pq, got_cb, &pg, err);
            assert_true(rc == 0 || rc == 1);
            assert_true(pg.n <= page);
            assert_true(seen + pg.n <= nw);
            check_same(&pg, want + seen, pg.n);
            seen += pg.n;
            if (pg.n < page) {
                got_free(&pg);
                break;
            }
            pq.has_cursor = 1;
            pq.cursor_time_ms = pg.t[pg.n - 1];
            pq.cursor_seq = pg.seq[pg.n - 1];
            got_free(&pg);
        }
        assert_int_equal(seen, nw);
        /* an arbitrary cursor position, not taken from a result */
        q.has_cursor = 1;
        q.cursor_time_ms = rand_bound(r, w);
        q.cursor_seq = rng_below(r, 4) ? rng_below(r, (uint32_t)w->n + 2) : UINT64_MAX;
        nw = oracle(w, &q, want);
        got_t g2 = {0};
        assert_int_equal(tk_store_lookup(s, &q, got_cb, &g2, err), 0);
        check_same(&g2, want, nw);
        got_free(&g2);
    }
    free(want);
}

static void run_seed(uint64_t seed, int rounds, int nq)
{
    uint64_t r = seed;
    char *dir = tmpdir_make();
    assert_non_null(dir);
    /* odd seeds train a compression dictionary early, so blocks use one */
    tk_store_opts_t o = {.dir = dir, .no_fsync = 1, .dict_min_bytes = seed % 2 ? 8 * 1024 : 0};
    tk_store_t *s = NULL;
    char err[TK_ERRLEN];
    assert_int_equal(tk_store_open(&o, &s, err), 0);
    world_t w = {0};
    int idn = 0;
    for (int round = 0; round < rounds; round++) {
        size_t nb = 5 + rng_below(&r, 50);
        tev_t *b = calloc(nb, sizeof *b);
        for (size_t i = 0; i < nb; i++) {
            char id[48];
            const char *acct = ACCTS[rng_below(&r, 3)];
            int64_t t = rand_time(&r, &w);
            if (w.n && rng_below(&r, 12) == 0) { /* a re-sent event: same account, id, day */
                const tev_t *old = &w.ev[rng_below(&r, (uint32_t)w.n)];
                acct = old->account;
                snprintf(id, sizeof id, "%s", old->id);
                t = tk_time_day(old->t) * TK_MS_PER_DAY + (int64_t)rng_below(&r, 1000);
            } else if (i && rng_below(&r, 20) == 0) { /* duplicate inside the batch */
                acct = b[i - 1].account;
                snprintf(id, sizeof id, "%s", b[i - 1].id);
                t = b[i - 1].t;
            } else {
                snprintf(id, sizeof id, "ev-%llu-%d", (unsigned long long)seed, idn++);
            }
            tev_make(&b[i], acct, id, t, &r, 60 + rng_below(&r, 400));
        }
        append_batch(s, &w, b, nb);
        free(b);
        uint32_t act = rng_below(&r, 10);
        if (act < 3) {
            assert_int_equal(tk_store_seal(s, err), 0);
        } else if (act < 5) {
            tk_store_close(s);
            assert_int_equal(tk_store_open(&o, &s, err), 0);
        }
        if (round % 4 == 3)
            run_queries(s, &r, &w, nq / 4);
    }
    tk_store_stats_t st;
    tk_store_stats(s, &st);
    assert_int_equal(st.events, w.n);
    run_queries(s, &r, &w, nq);
    char dd[600];
    snprintf(dd, sizeof dd, "%s/dict", dir);
    assert_int_equal(tk_fs_exists(dd), (int)(seed % 2 && st.events > st.unsealed_events));
    tk_store_close(s);
    for (size_t i = 0; i < w.n; i++)
        tev_free(&w.ev[i]);
    free(w.ev);
    tmpdir_remove(dir);
}

static void test_lookup_matches_oracle_over_many_seeds(void **st)
{
    (void)st;
    for (uint64_t seed = 1; seed <= 24; seed++)
        run_seed(seed * 7920 + (seed % 2), 12, 40);
}

/* Tiny segments (seal after every batch) force many segments per partition. */
static void test_lookup_matches_oracle_with_many_segments(void **st)
{
    (void)st;
    for (uint64_t seed = 100; seed < 104; seed++) {
        uint64_t r = seed;
        char *dir = tmpdir_make();
        tk_store_opts_t o = {.dir = dir, .no_fsync = 1, .seal_bytes = 4096};
        tk_store_t *s;
        char err[TK_ERRLEN];
        assert_int_equal(tk_store_open(&o, &s, err), 0);
        world_t w = {0};
        for (int round = 0; round < 10; round++) {
            tev_t b[8];
            for (int i = 0; i < 8; i++) {
                char id[48];
                snprintf(id, sizeof id, "m-%llu-%d-%d", (unsigned long long)seed, round, i);
                tev_make(&b[i], ACCTS[rng_below(&r, 3)], id, rand_time(&r, &w), &r, 900);
            }
            append_batch(s, &w, b, 8);
        }
        /* automatic seals run on the store's sealing thread; one explicit seal
         * makes the count deterministic (at least one segment per partition) */
        assert_int_equal(tk_store_seal(s, err), 0);
        tk_store_stats_t stt;
        tk_store_stats(s, &stt);
        assert_true(stt.segments >= 5);
        assert_int_equal(stt.unsealed_events, 0);
        run_queries(s, &r, &w, 40);
        tk_store_close(s);
        assert_int_equal(tk_store_open(&o, &s, err), 0);
        run_queries(s, &r, &w, 20);
        tk_store_close(s);
        for (size_t i = 0; i < w.n; i++)
            tev_free(&w.ev[i]);
        free(w.ev);
        tmpdir_remove(dir);
    }
}

static void test_lookup_rejects_bad_requests(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    tk_store_opts_t o = {.dir = dir, .no_fsync = 1};
    tk_store_t *s;
    char err[TK_ERRLEN];
    assert_int_equal(tk_store_open(&o, &s, err), 0);
    got_t g = {0};
    tk_lookup_req_t q = {.account = NULL, .start_ms = 0, .end_ms = 1};
    assert_int_equal(tk_store_lookup(s, &q, got_cb, &g, err), TK_EINVAL);
    q.account = "1001";
    q.nattrs = 3;
    assert_int_equal(tk_store_lookup(s, &q, got_cb, &g, err), TK_EINVAL);
    q.nattrs = 1;
    q.attrs[0].key = TK_ATTR__COUNT;
    q.attrs[0].value = "x";
    assert_int_equal(tk_store_lookup(s, &q, got_cb, &g, err), TK_EINVAL);
    assert_int_equal(g.n, 0);
    tk_store_close(s);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_matches_oracle_over_many_seeds),
        cmocka_unit_test(test_lookup_matches_oracle_with_many_segments),
        cmocka_unit_test(test_lookup_rejects_bad_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

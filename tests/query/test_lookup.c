/* Tests for src/query (LookupEvents): results compared with a brute-force
 * oracle over randomized events (accounts, days, equal timestamps, every
 * attribute key), paging that collects every page while new events arrive,
 * time edges, every parameter error code, and NextTokens that are forged,
 * tampered with, replayed for another account or for a changed query.
 * Events are built directly as tk_event_t with their index terms, so the
 * oracle knows exactly which terms each event has. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/fs.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "query/lookup.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1795514400000LL /* 2026-11-24T10:00:00Z */
#define DAY TK_MS_PER_DAY
#define MAXEV 4096

/* Value pools per attribute; "" means the event has no term for it. */
static const char *const pool_service[] = {"Ecs", "Ram", "Oss", "Vpc"};
static const char *const pool_name[] = {"DeleteInstance", "CreateUser", "PutObject",
                                        "ConsoleSignin", "DescribeRegions", "StopLogging"};
static const char *const pool_user[] = {"alice", "bob", "carol", "root"};
static const char *const pool_rtype[] = {"ACS::ECS::Instance", "ACS::RAM::User", "ACS::OSS::Bucket"};
static const char *const pool_rname[] = {"i-1", "i-2", "u-3", "b-4", "b-5", "i-6"};
static const char *const pool_rw[] = {"Read", "Write"};
static const char *const pool_ak[] = {"LTAI1", "LTAI2", "STS.x9", ""};
static const char *const pool_sens[] = {"true", "false"};
static const char *const pool_ip[] = {"10.0.0.1", "192.168.1.7", "2001:db8::1", "Internal"};
static const char *const pool_type[] = {"ApiCall", "ConsoleSignin", "AliyunServiceEvent"};
static const char *const pool_role[] = {"role-a", "role-b", "", ""};
static const char *const pool_source[] = {"ecs.aliyuncs.com", "ram.aliyuncs.com", "oss.aliyuncs.com"};
static const char *const pool_account[] = {"1111111111111111", "2222222222222222", "3333"};

typedef struct tev {
    char id[32];
    const char *account;
    int64_t t;
    int order;                              /* append order = seq order */
    const char *vals[TK_ATTR__COUNT][2];    /* up to two values per key */
    int nvals[TK_ATTR__COUNT];
    char json[1024];
    tk_term_t terms[2 * TK_ATTR__COUNT];
    uint32_t nterms;
} tev_t;

typedef struct world {
    char dir[64];
    tk_store_t *s;
    uint8_t key[32];
    tev_t *ev;
    int n;
    uint64_t rng;
} world_t;

static uint64_t rnd(world_t *w)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}
static int rndi(world_t *w, int n) { return (int)(rnd(w) % (uint64_t)n); }
#define PICK(w, pool) ((pool)[rndi((w), (int)TK_ARRAY_LEN(pool))])

static void set_val(tev_t *e, tk_attr_t a, const char *v)
{
    if (v && *v)
        e->vals[a][e->nvals[a]++] = v;
}

static void append_one(world_t *w, tev_t *e)
{
    tk_buf_t b = TK_BUF_INIT;
    char ts[32];
    tk_time_format(e->t, 1, ts);
    tk_buf_printf(&b, "{\"eventId\":\"%s\",\"eventTime\":\"%s\",\"recipientAccountId\":\"%s\"",
                  e->id, ts, e->account);
    for (int a = 0; a < TK_ATTR__COUNT; a++)
        for (int k = 0; k < e->nvals[a]; k++) {
            tk_buf_printf(&b, ",\"%s_%d\":\"%s\"", tk_attr_name((tk_attr_t)a), k, e->vals[a][k]);
            e->terms[e->nterms].attr = (tk_attr_t)a;
            e->terms[e->nterms].val.p = e->vals[a][k];
            e->terms[e->nterms].val.len = (uint32_t)strlen(e->vals[a][k]);
            e->nterms++;
        }
    tk_buf_puts(&b, "}");
    assert_true(b.len < sizeof e->json);
    memcpy(e->json, b.p, b.len + 1);
    tk_buf_free(&b);

    tk_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.time_ms = e->t;
    ev.account.p = e->account;
    ev.account.len = (uint32_t)strlen(e->account);
    ev.event_id.p = e->id;
    ev.event_id.len = (uint32_t)strlen(e->id);
    ev.json.p = e->json;
    ev.json.len = (uint32_t)strlen(e->json);
    ev.terms = e->terms;
    ev.nterms = e->nterms;
    tk_append_result_t res;
    char err[TK_ERRLEN] = "";
    int rc = tk_store_append(w->s, &ev, 1, &res, NULL, err);
    if (rc)
        fail_msg("append failed: %s", err);
    assert_int_equal(res.accepted, 1);
}

/* Adds a random event at time t (or random in [T0-9d, T0+1d) when t < 0),
 * with attribute a1 (and a2) forced to v1 (v2) when given. */
static tev_t *add_event_with(world_t *w, const char *account, int64_t t, int a1, const char *v1,
                             int a2, const char *v2)
{
    assert_true(w->n < MAXEV);
    tev_t *e = &w->ev[w->n];
    memset(e, 0, sizeof *e);
    e->order = w->n;
    snprintf(e->id, sizeof e->id, "ev-%06d", w->n);
    e->account = account ? account : PICK(w, pool_account);
    /* Coarse times (whole minutes) so many events share a timestamp. */
    e->t = t >= 0 ? t : T0 - 9 * DAY + (int64_t)rndi(w, 10 * 24 * 60) * 60000;
    set_val(e, TK_ATTR_SERVICENAME, PICK(w, pool_service));
    set_val(e, TK_ATTR_EVENTNAME, PICK(w, pool_name));
    set_val(e, TK_ATTR_USER, PICK(w, pool_user));
    set_val(e, TK_ATTR_EVENTID, e->id);
    set_val(e, TK_ATTR_RESOURCETYPE, PICK(w, pool_rtype));
    set_val(e, TK_ATTR_RESOURCENAME, PICK(w, pool_rname));
    if (rndi(w, 3) == 0) {
        const char *second = PICK(w, pool_rname);
        if (strcmp(second, e->vals[TK_ATTR_RESOURCENAME][0]))
            set_val(e, TK_ATTR_RESOURCENAME, second);
    }
    set_val(e, TK_ATTR_EVENTRW, PICK(w, pool_rw));
    set_val(e, TK_ATTR_ACCESSKEYID, PICK(w, pool_ak));
    set_val(e, TK_ATTR_SENSITIVEACTION, PICK(w, pool_sens));
    set_val(e, TK_ATTR_SOURCEIP, PICK(w, pool_ip));
    set_val(e, TK_ATTR_EVENTTYPE, PICK(w, pool_type));
    set_val(e, TK_ATTR_ROLENAME, PICK(w, pool_role));
    set_val(e, TK_ATTR_EVENTSOURCE, PICK(w, pool_source));
    if (a1 >= 0) {
        e->nvals[a1] = 1;
        e->vals[a1][0] = v1;
    }
    if (a2 >= 0) {
        e->nvals[a2] = 1;
        e->vals[a2][0] = v2;
    }
    w->n++;
    append_one(w, e);
    return e;
}

static tev_t *add_event(world_t *w, const char *account, int64_t t)
{
    return add_event_with(w, account, t, -1, NULL, -1, NULL);
}

static void world_open(world_t *w, uint64_t seed)
{
    memset(w, 0, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "/tmp/tk-query-XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    w->ev = calloc(MAXEV, sizeof *w->ev);
    assert_non_null(w->ev);
    w->rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    char err[TK_ERRLEN] = "";
    tk_store_opts_t so = {.dir = w->dir, .no_fsync = 1};
    if (tk_store_open(&so, &w->s, err))
        fail_msg("store open: %s", err);
    if (tk_lookup_token_key(w->dir, w->key, err))
        fail_msg("token key: %s", err);
}

static void world_seal(world_t *w)
{
    char err[TK_ERRLEN] = "";
    if (tk_store_seal(w->s, err))
        fail_msg("seal: %s", err);
}

static void world_close(world_t *w)
{
    tk_store_close(w->s);
    tk_fs_remove_tree(w->dir);
    free(w->ev);
}

/* ---- the oracle ---- */

typedef struct query {
    const char *account;
    int has_start, has_end;
    int64_t start, end;
    int nattrs;
    tk_attr_t key[2];
    const char *val[2];
    int forward;
} query_t;

static int matches(const query_t *q, const tev_t *e, int64_t start, int64_t end)
{
    if (strcmp(q->account, e->account) || e->t < start || e->t > end)
        return 0;
    for (int i = 0; i < q->nattrs; i++) {
        int hit = 0;
        for (int k = 0; k < e->nvals[q->key[i]]; k++)
            hit |= !strcmp(e->vals[q->key[i]][k], q->val[i]);
        if (!hit)
            return 0;
    }
    return 1;
}

/* 1 when a comes before b in the walk order of the direction. */
static int before(const tev_t *a, const tev_t *b, int forward)
{
    if (a->t != b->t)
        return forward ? a->t < b->t : a->t > b->t;
    return forward ? a->order < b->order : a->order > b->order;
}

static int g_forward;
static world_t *g_w;
static int cmp_walk(const void *pa, const void *pb)
{
    const tev_t *a = &g_w->ev[*(const int *)pa], *b = &g_w->ev[*(const int *)pb];
    return before(a, b, g_forward) ? -1 : before(b, a, g_forward) ? 1 : 0;
}

static void sort_walk(world_t *w, int *idx, int n, int forward)
{
    g_w = w;
    g_forward = forward;
    qsort(idx, (size_t)n, sizeof *idx, cmp_walk);
}

static int event_index(const tk_stored_event_t *e)
{
    const char *p = memmem(e->json.p, e->json.len, "\"eventId\":\"ev-", 14);
    assert_non_null(p);
    return atoi(p + 14);
}

static void fill_params(const query_t *q, tk_lookup_params_t *p, char *sbuf, char *ebuf,
                        const char *max)
{
    memset(p, 0, sizeof *p);
    if (q->has_start) {
        tk_time_format(q->start, 1, sbuf);
        p->start_time = sbuf;
    }
    if (q->has_end) {
        tk_time_format(q->end, 1, ebuf);
        p->end_time = ebuf;
    }
    p->nattrs = q->nattrs;
    for (int i = 0; i < q->nattrs; i++) {
        p->attrs[i].key = tk_attr_name(q->key[i]);
        p->attrs[i].value = q->val[i];
    }
    p->direction = q->forward ? "FORWARD" : (rnd(g_w) & 1 ? "BACKWARD" : NULL);
    p->max_results = max;
}

static void random_query(world_t *w, query_t *q)
{
    memset(q, 0, sizeof *q);
    q->account = PICK(w, pool_account);
    q->forward = rndi(w, 2);
    if (rndi(w, 4)) {
        q->has_start = q->has_end = 1;
        q->start = T0 - 9 * DAY + (int64_t)rndi(w, 10 * 24) * 3600000 - rndi(w, 2) * 60000;
        q->end = q->start + (int64_t)rndi(w, 5 * 24) * 3600000;
    } else if (rndi(w, 2)) {
        q->has_start = 1;
        q->start = T0 - 3 * DAY;
    }
    q->nattrs = rndi(w, 3);
    for (int i = 0; i < q->nattrs; i++) {
        /* Mostly a value taken from a real event, so queries have hits. */
        const tev_t *e = &w->ev[rndi(w, w->n)];
        tk_attr_t a;
        do {
            a = (tk_attr_t)rndi(w, TK_ATTR__COUNT);
        } while (e->nvals[a] == 0);
        q->key[i] = a;
        q->val[i] = e->vals[a][rndi(w, e->nvals[a])];
    }
}

/* Runs q page by page with random page sizes; after each page, `arrivals`
 * new events may be appended (in range, some at the cursor's exact time).
 * Checks: no event twice, the concatenation equals the oracle exactly, a
 * NextToken only when more events remain. */
static void check_query(world_t *w, const query_t *q, int arrivals)
{
    int64_t now = T0 + 2 * DAY;
    g_w = w;
    tk_lookup_opts_t o = {.now_ms = now, .token_key = w->key};
    int64_t start = q->has_start ? q->start : (q->has_end ? q->end : now) - 7 * DAY;
    int64_t end = q->has_end ? q->end : now;

    int *expect = malloc(MAXEV * sizeof *expect), nexp = 0;
    int *got = malloc(MAXEV * sizeof *got), ngot = 0;
    char *seen = calloc(MAXEV, 1);
    for (int i = 0; i < w->n; i++)
        if (matches(q, &w->ev[i], start, end))
            expect[nexp++] = i;

    char sbuf[32], ebuf[32], maxs[16], token[256] = "";
    int first = 1;
    for (int pages = 0;; pages++) {
        assert_true(pages <= MAXEV);
        tk_lookup_params_t p;
        int max = 1 + rndi(w, 50);
        snprintf(maxs, sizeof maxs, "%d", max);
        fill_params(q, &p, sbuf, ebuf, maxs);
        if (!first) {
            p.next_token = token;
            /* Later pages may omit the times or repeat them. */
            if (rndi(w, 2))
                p.start_time = p.end_time = NULL;
        }
        tk_lookup_page_t pg;
        tk_lookup_error_t le = {0};
        char err[TK_ERRLEN] = "";
        int rc = tk_lookup_run(w->s, q->account, &p, &o, &pg, &le, err);
        if (rc)
            fail_msg("lookup failed: %s %s %s", le.code ? le.code : "", le.message, err);
        assert_true(pg.count <= (size_t)max);
        assert_int_equal(pg.start_ms, start);
        assert_int_equal(pg.end_ms, end);
        for (size_t i = 0; i < pg.count; i++) {
            int idx = event_index(&pg.events[i]);
            assert_true(idx >= 0 && idx < w->n);
            assert_int_equal(seen[idx], 0); /* never repeated */
            seen[idx] = 1;
            got[ngot++] = idx;
            assert_int_equal(pg.events[i].time_ms, w->ev[idx].t);
            assert_memory_equal(pg.events[i].json.p, w->ev[idx].json, pg.events[i].json.len);
        }
        snprintf(token, sizeof token, "%s", pg.next_token);
        if (token[0])
            assert_int_equal(pg.count, max); /* only full pages announce more */
        tk_lookup_page_free(&pg);
        first = 0;
        if (!token[0])
            break;
        /* New events arrive between pages: those that sort strictly after
         * the cursor in walk order must appear, the others must not. */
        const tev_t *cur = &w->ev[got[ngot - 1]];
        for (int k = 0; k < arrivals; k++) {
            int64_t t = rndi(w, 3) == 0 ? cur->t : start + (int64_t)(rnd(w) % (uint64_t)(end - start + 1));
            tev_t *e = add_event(w, q->account, t);
            if (matches(q, e, start, end) && before(cur, e, q->forward))
                expect[nexp++] = e->order;
        }
        /* Sealing between pages moves events into segments: the cursor
         * must resume the same way across sealed and unsealed data. */
        if (arrivals && rndi(w, 4) == 0)
            world_seal(w);
    }
    sort_walk(w, expect, nexp, q->forward);
    if (ngot != nexp)
        fail_msg("account %s attrs %d fwd %d: got %d events, oracle %d", q->account, q->nattrs,
                 q->forward, ngot, nexp);
    for (int i = 0; i < nexp; i++)
        if (got[i] != expect[i])
            fail_msg("position %d: got ev-%06d, oracle ev-%06d", i, got[i], expect[i]);

    /* tk_lookup_count agrees with the oracle on a fresh query. */
    tk_lookup_params_t p;
    fill_params(q, &p, sbuf, ebuf, NULL);
    uint64_t count = 0;
    tk_lookup_error_t le = {0};
    char err[TK_ERRLEN] = "";
    assert_int_equal(tk_lookup_count(w->s, q->account, &p, &o, &count, NULL, NULL, &le, err), 0);
    uint64_t want = 0;
    for (int i = 0; i < w->n; i++)
        want += matches(q, &w->ev[i], start, end);
    assert_int_equal(count, want);
    free(expect);
    free(got);
    free(seen);
}

static void test_lookup_matches_oracle_across_seeds(void **st)
{
    (void)st;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        world_t w;
        world_open(&w, seed);
        int n = 200 + rndi(&w, 400);
        for (int i = 0; i < n; i++) {
            add_event(&w, NULL, -1);
            /* Odd seeds: part sealed into segments, the rest unsealed. */
            if ((seed & 1) && i == n / 2)
                world_seal(&w);
        }
        if (seed % 4 == 0)
            world_seal(&w); /* everything sealed */
        for (int qn = 0; qn < 25; qn++) {
            query_t q;
            random_query(&w, &q);
            check_query(&w, &q, 0);
        }
        /* Every attribute key at least once, with a value that has hits. */
        for (int a = 0; a < TK_ATTR__COUNT; a++) {
            query_t q = {.account = w.ev[0].account, .nattrs = 1, .key = {(tk_attr_t)a}};
            for (int i = 0; i < w.n && !q.val[0]; i++)
                if (w.ev[i].nvals[a] && !strcmp(w.ev[i].account, q.account))
                    q.val[0] = w.ev[i].vals[a][w.ev[i].nvals[a] - 1];
            if (!q.val[0])
                q.val[0] = "no-such-value";
            q.has_start = q.has_end = 1;
            q.start = T0 - 10 * DAY;
            q.end = T0 + DAY;
            q.forward = (int)(seed & 1);
            check_query(&w, &q, 0);
        }
        world_close(&w);
    }
}

static void test_lookup_pages_never_repeat_or_skip_while_events_arrive(void **st)
{
    (void)st;
    for (uint64_t seed = 100; seed < 108; seed++) {
        world_t w;
        world_open(&w, seed);
        for (int i = 0; i < 300; i++)
            add_event(&w, NULL, -1);
        if (seed & 1)
            world_seal(&w);
        for (int qn = 0; qn < 8; qn++) {
            query_t q;
            random_query(&w, &q);
            if (q.nattrs > 1) /* keep enough hits for several pages */
                q.nattrs = 1;
            check_query(&w, &q, 1 + rndi(&w, 4));
        }
        world_close(&w);
    }
}

static int run(world_t *w, const char *account, tk_lookup_params_t *p, tk_lookup_page_t *pg,
               tk_lookup_error_t *le)
{
    tk_lookup_opts_t o = {.now_ms = T0 + DAY, .token_key = w->key};
    char err[TK_ERRLEN] = "";
    memset(le, 0, sizeof *le);
    return tk_lookup_run(w->s, account, p, &o, pg, le, err);
}

static void expect_error(world_t *w, tk_lookup_params_t *p, const char *account, const char *code)
{
    tk_lookup_page_t pg;
    tk_lookup_error_t le;
    int rc = run(w, account, p, &pg, &le);
    if (rc != TK_EINVAL || !le.code || strcmp(le.code, code))
        fail_msg("expected %s, got rc %d code %s (%s)", code, rc, le.code ? le.code : "(none)",
                 le.message);
    assert_true(strlen(le.message) > 10);
}

static void test_lookup_time_edges_are_inclusive(void **st)
{
    (void)st;
    world_t w;
    world_open(&w, 7);
    const char *acc = "1111111111111111";
    for (int i = 0; i < 5; i++)
        add_event(&w, acc, T0 + i);  /* T0 .. T0+4 ms */
    tk_lookup_params_t p = {.start_time = "2026-11-24T10:00:00.001Z",
                            .end_time = "2026-11-24T10:00:00.003Z", .direction = "FORWARD"};
    tk_lookup_page_t pg;
    tk_lookup_error_t le;
    assert_int_equal(run(&w, acc, &p, &pg, &le), 0);
    assert_int_equal(pg.count, 3);
    assert_int_equal(pg.events[0].time_ms, T0 + 1);
    assert_int_equal(pg.events[2].time_ms, T0 + 3);
    assert_string_equal(pg.next_token, "");
    tk_lookup_page_free(&pg);

    /* start == end selects exactly that millisecond; offsets are honoured. */
    p.start_time = p.end_time = "2026-11-24T18:00:00.002+08:00";
    assert_int_equal(run(&w, acc, &p, &pg, &le), 0);
    assert_int_equal(pg.count, 1);
    assert_int_equal(pg.events[0].time_ms, T0 + 2);
    tk_lookup_page_free(&pg);

    /* Defaults: EndTime = now, StartTime = now - 7 days, both inclusive. */
    add_event(&w, acc, T0 + DAY - 7 * DAY);     /* exactly at the default start */
    add_event(&w, acc, T0 + DAY - 7 * DAY - 1); /* 1 ms before it */
    add_event(&w, acc, T0 + DAY + 1);           /* after now */
    tk_lookup_params_t d = {0};
    assert_int_equal(run(&w, acc, &d, &pg, &le), 0);
    assert_int_equal(pg.start_ms, T0 + DAY - 7 * DAY);
    assert_int_equal(pg.end_ms, T0 + DAY);
    assert_int_equal(pg.count, 6);
    assert_int_equal(pg.events[0].time_ms, T0 + 4);             /* newest first */
    assert_int_equal(pg.events[5].time_ms, T0 + DAY - 7 * DAY); /* oldest */
    tk_lookup_page_free(&pg);
    world_close(&w);
}

static void test_lookup_last_page_has_no_token(void **st)
{
    (void)st;
    world_t w;
    world_open(&w, 8);
    const char *acc = "2222222222222222";
    for (int i = 0; i < 40; i++)
        add_event(&w, acc, T0 - i * 1000);
    tk_lookup_params_t p = {.max_results = "40"};
    tk_lookup_page_t pg;
    tk_lookup_error_t le;
    assert_int_equal(run(&w, acc, &p, &pg, &le), 0);
    assert_int_equal(pg.count, 40);
    assert_string_equal(pg.next_token, ""); /* exactly max: no empty extra page */
    tk_lookup_page_free(&pg);
    p.max_results = "39";
    assert_int_equal(run(&w, acc, &p, &pg, &le), 0);
    assert_int_equal(pg.count, 39);
    assert_true(strlen(pg.next_token) > 20);
    char tok[256];
    snprintf(tok, sizeof tok, "%s", pg.next_token);
    tk_lookup_page_free(&pg);
    p.next_token = tok;
    p.max_results = NULL; /* MaxResults may change between pages */
    assert_int_equal(run(&w, acc, &p, &pg, &le), 0);
    assert_int_equal(pg.count, 1);
    assert_int_equal(pg.events[0].time_ms, T0 - 39000);
    assert_string_equal(pg.next_token, "");
    tk_lookup_page_free(&pg);

    /* An account with nothing stored: an empty page, no token. */
    p = (tk_lookup_params_t){0};
    assert_int_equal(run(&w, "9999", &p, &pg, &le), 0);
    assert_int_equal(pg.count, 0);
    assert_string_equal(pg.next_token, "");
    tk_lookup_page_free(&pg);

    /* Default page size is 20. */
    assert_int_equal(run(&w, acc, &p, &pg, &le), 0);
    assert_int_equal(pg.count, 20);
    tk_lookup_page_free(&pg);
    world_close(&w);
}

static void test_lookup_rejects_bad_parameters_with_actiontrail_codes(void **st)
{
    (void)st;
    world_t w;
    world_open(&w, 9);
    add_event(&w, "1111111111111111", T0);
    const char *acc = "1111111111111111";
    tk_lookup_params_t p;

    /* One grammar with the CLI: a date, -24h, epoch seconds are times (tktime.h). */
    const char *bad_times[] = {"yesterday", "2026-11", "", "2026-13-01T00:00:00Z",
                               "2026-11-24T10:00:00", "-24", "12345"};
    for (size_t i = 0; i < TK_ARRAY_LEN(bad_times); i++) {
        p = (tk_lookup_params_t){.start_time = bad_times[i]};
        expect_error(&w, &p, acc, TK_LOOKUP_E_START_TIME);
        p = (tk_lookup_params_t){.end_time = bad_times[i]};
        expect_error(&w, &p, acc, TK_LOOKUP_E_END_TIME);
    }
    p = (tk_lookup_params_t){.start_time = "2026-11-24T10:00:00.001Z",
                             .end_time = "2026-11-24T10:00:00Z"};
    expect_error(&w, &p, acc, TK_LOOKUP_E_COMBINATION);
    /* A start later than the default end (now) is the same combination error. */
    p = (tk_lookup_params_t){.start_time = "2030-01-01T00:00:00Z"};
    expect_error(&w, &p, acc, TK_LOOKUP_E_COMBINATION);

    p = (tk_lookup_params_t){.nattrs = 3, .attrs = {{"EventName", "a"}, {"User", "b"}, {"EventRW", "Read"}}};
    expect_error(&w, &p, acc, TK_LOOKUP_E_ATTRIBUTE);
    p = (tk_lookup_params_t){.nattrs = 1, .attrs = {{"Username", "a"}}};
    expect_error(&w, &p, acc, TK_LOOKUP_E_ATTRIBUTE);
    p = (tk_lookup_params_t){.nattrs = 1, .attrs = {{"eventname", "a"}}}; /* keys are case-sensitive */
    expect_error(&w, &p, acc, TK_LOOKUP_E_ATTRIBUTE);
    p = (tk_lookup_params_t){.nattrs = 1, .attrs = {{NULL, "a"}}};
    expect_error(&w, &p, acc, TK_LOOKUP_E_ATTRIBUTE);
    p = (tk_lookup_params_t){.nattrs = 1, .attrs = {{"EventName", ""}}};
    expect_error(&w, &p, acc, TK_LOOKUP_E_ATTRIBUTE);
    p = (tk_lookup_params_t){.nattrs = 2, .attrs = {{"EventName", "x"}, {"User", NULL}}};
    expect_error(&w, &p, acc, TK_LOOKUP_E_ATTRIBUTE);
    p = (tk_lookup_params_t){.nattrs = 1, .attrs = {{"SensitiveAction", "yes"}}};
    expect_error(&w, &p, acc, TK_LOOKUP_E_ATTRIBUTE);

    const char *bad_max[] = {"0", "51", "-1", "abc", "", "20x", "1e1", "99999999999"};
    for (size_t i = 0; i < TK_ARRAY_LEN(bad_max); i++) {
        p = (tk_lookup_params_t){.max_results = bad_max[i]};
        expect_error(&w, &p, acc, TK_LOOKUP_E_MAX_RESULTS);
    }
    p = (tk_lookup_params_t){.direction = "backward"};
    expect_error(&w, &p, acc, TK_LOOKUP_E_DIRECTION);
    p = (tk_lookup_params_t){0};
    expect_error(&w, &p, "", TK_LOOKUP_E_QUERY);

    /* max_page raises the MaxResults ceiling. */
    tk_lookup_opts_t o = {.now_ms = T0 + DAY, .token_key = w.key, .max_page = 500};
    p = (tk_lookup_params_t){.max_results = "500"};
    tk_lookup_page_t pg;
    tk_lookup_error_t le = {0};
    char err[TK_ERRLEN];
    assert_int_equal(tk_lookup_run(w.s, acc, &p, &o, &pg, &le, err), 0);
    assert_int_equal(pg.count, 1);
    tk_lookup_page_free(&pg);
    p.max_results = "501";
    assert_int_equal(tk_lookup_run(w.s, acc, &p, &o, &pg, &le, err), TK_EINVAL);
    assert_string_equal(le.code, TK_LOOKUP_E_MAX_RESULTS);

    assert_string_equal(tk_lookup_error_cloudtrail(TK_LOOKUP_E_NEXT_TOKEN), "InvalidNextTokenException");
    assert_string_equal(tk_lookup_error_cloudtrail(TK_LOOKUP_E_ATTRIBUTE), "InvalidLookupAttributesException");
    assert_string_equal(tk_lookup_error_cloudtrail(TK_LOOKUP_E_COMBINATION), "InvalidTimeRangeException");
    assert_string_equal(tk_lookup_error_cloudtrail(TK_LOOKUP_E_MAX_RESULTS), "InvalidMaxResultsException");
    assert_string_equal(tk_lookup_error_cloudtrail("Nope"), "ValidationException");
    world_close(&w);
}

/* A first page of a 2-attribute query with a token, for the token tests. */
static void first_page_token(world_t *w, const char *acc, tk_lookup_params_t *p, char *tok)
{
    tk_lookup_page_t pg;
    tk_lookup_error_t le;
    assert_int_equal(run(w, acc, p, &pg, &le), 0);
    assert_true(pg.count >= 1);
    assert_true(pg.next_token[0]);
    strcpy(tok, pg.next_token);
    tk_lookup_page_free(&pg);
}

static void test_lookup_rejects_forged_tampered_and_misused_tokens(void **st)
{
    (void)st;
    world_t w;
    world_open(&w, 10);
    const char *acc = "1111111111111111", *other = "2222222222222222";
    for (int i = 0; i < 30; i++) {
        tev_t *e = add_event(&w, i % 2 ? acc : other, T0 - i * 60000);
        (void)e;
    }
    char tok[256];
    tk_lookup_params_t base = {.start_time = "2026-11-23T00:00:00Z", .end_time = "2026-11-25T00:00:00Z",
                               .max_results = "5"};
    first_page_token(&w, acc, &base, tok);

    /* The token works for the same query (times repeated, or omitted). */
    tk_lookup_params_t p = base;
    p.next_token = tok;
    tk_lookup_page_t pg;
    tk_lookup_error_t le;
    assert_int_equal(run(&w, acc, &p, &pg, &le), 0);
    assert_int_equal(pg.count, 5);
    tk_lookup_page_free(&pg);
    p.start_time = p.end_time = NULL;
    assert_int_equal(run(&w, acc, &p, &pg, &le), 0);
    assert_int_equal(pg.count, 5);
    tk_lookup_page_free(&pg);

    /* Another account. */
    p = base;
    p.next_token = tok;
    expect_error(&w, &p, other, TK_LOOKUP_E_NEXT_TOKEN);
    /* Changed query: attribute added, direction, start, end. */
    p = base;
    p.next_token = tok;
    p.nattrs = 1;
    p.attrs[0].key = "EventRW";
    p.attrs[0].value = "Read";
    expect_error(&w, &p, acc, TK_LOOKUP_E_NEXT_TOKEN);
    p = base;
    p.next_token = tok;
    p.direction = "FORWARD";
    expect_error(&w, &p, acc, TK_LOOKUP_E_NEXT_TOKEN);
    p = base;
    p.next_token = tok;
    p.start_time = "2026-11-23T00:00:01Z";
    expect_error(&w, &p, acc, TK_LOOKUP_E_NEXT_TOKEN);
    p = base;
    p.next_token = tok;
    p.end_time = "2026-11-24T23:59:59Z";
    expect_error(&w, &p, acc, TK_LOOKUP_E_NEXT_TOKEN);

    /* Tampering: every single-character change is caught. */
    size_t n = strlen(tok);
    for (size_t i = 0; i < n; i++) {
        char t2[256];
        strcpy(t2, tok);
        t2[i] = t2[i] == 'A' ? 'B' : 'A';
        p = base;
        p.next_token = t2;
        expect_error(&w, &p, acc, TK_LOOKUP_E_NEXT_TOKEN);
    }
    /* Truncated, extended, garbage, padded. */
    const char *junk[] = {"x", "not a token!", "AAAA", "====", "eyJhY2NvdW50IjoiMTQyNDM3OTU4NjM4NzE2MSJ9"};
    for (size_t i = 0; i < TK_ARRAY_LEN(junk); i++) {
        p = base;
        p.next_token = junk[i];
        expect_error(&w, &p, acc, TK_LOOKUP_E_NEXT_TOKEN);
    }
    char t3[300];
    snprintf(t3, sizeof t3, "%.*s", (int)n - 1, tok);
    p.next_token = t3;
    expect_error(&w, &p, acc, TK_LOOKUP_E_NEXT_TOKEN);
    snprintf(t3, sizeof t3, "%sAA", tok);
    expect_error(&w, &p, acc, TK_LOOKUP_E_NEXT_TOKEN);

    /* A token signed with another installation's key (well-formed, random). */
    world_t w2;
    world_open(&w2, 11);
    for (int i = 0; i < 10; i++)
        add_event(&w2, acc, T0 - i * 60000);
    char tok2[256];
    first_page_token(&w2, acc, &base, tok2);
    p = base;
    p.next_token = tok2;
    expect_error(&w, &p, acc, TK_LOOKUP_E_NEXT_TOKEN);
    world_close(&w2);

    /* Attribute order does not matter: {A,B} and {B,A} share tokens. */
    const char *acc3 = "3333";
    for (int i = 0; i < 3; i++)
        add_event_with(&w, acc3, T0 - i, TK_ATTR_EVENTRW, "Write", TK_ATTR_EVENTTYPE, "ApiCall");
    add_event_with(&w, acc3, T0 - 3, TK_ATTR_EVENTRW, "Read", TK_ATTR_EVENTTYPE, "ApiCall");
    tk_lookup_params_t ab = {.max_results = "2", .nattrs = 2,
                             .attrs = {{"EventRW", "Write"}, {"EventType", "ApiCall"}}};
    first_page_token(&w, acc3, &ab, tok);
    tk_lookup_params_t ba = {.next_token = tok, .nattrs = 2,
                             .attrs = {{"EventType", "ApiCall"}, {"EventRW", "Write"}}};
    assert_int_equal(run(&w, acc3, &ba, &pg, &le), 0);
    assert_int_equal(pg.count, 1);
    assert_int_equal(pg.events[0].time_ms, T0 - 2);
    assert_string_equal(pg.next_token, "");
    tk_lookup_page_free(&pg);
    world_close(&w);
}

static void test_lookup_token_key_persists_and_is_private(void **st)
{
    (void)st;
    char dir[] = "/tmp/tk-qkey-XXXXXX";
    assert_non_null(mkdtemp(dir));
    uint8_t k1[32], k2[32];
    char err[TK_ERRLEN];
    char sub[128];
    snprintf(sub, sizeof sub, "%s/data", dir); /* created when missing */
    assert_int_equal(tk_lookup_token_key(sub, k1, err), 0);
    assert_int_equal(tk_lookup_token_key(sub, k2, err), 0);
    assert_memory_equal(k1, k2, 32);
    char path[160];
    snprintf(path, sizeof path, "%s/token.key", sub);
    struct stat stt;
    assert_int_equal(stat(path, &stt), 0);
    assert_int_equal(stt.st_mode & 0777, 0600);
    assert_int_equal(stt.st_size, 32);
    /* A damaged key file is reported, not silently replaced. */
    FILE *f = fopen(path, "w");
    fputs("short", f);
    fclose(f);
    assert_int_equal(tk_lookup_token_key(sub, k2, err), TK_ECORRUPT);
    assert_non_null(strstr(err, "token.key"));
    tk_fs_remove_tree(dir);
}

static void test_lookup_page_json_is_the_api_body(void **st)
{
    (void)st;
    world_t w;
    world_open(&w, 12);
    const char *acc = "3333";
    add_event(&w, acc, T0);
    add_event(&w, acc, T0 + 1000);
    tk_lookup_params_t p = {.start_time = "2026-11-24T00:00:00Z", .end_time = "2026-11-25T00:00:00Z",
                            .max_results = "1"};
    tk_lookup_page_t pg;
    tk_lookup_error_t le;
    assert_int_equal(run(&w, acc, &p, &pg, &le), 0);
    tk_buf_t b = TK_BUF_INIT;
    assert_int_equal(tk_lookup_page_json(&pg, &b), 0);
    tk_buf_t want = TK_BUF_INIT;
    tk_buf_printf(&want, "{\"StartTime\":\"2026-11-24T00:00:00Z\",\"EndTime\":\"2026-11-25T00:00:00Z\","
                         "\"Events\":[%s],\"NextToken\":\"%s\"}", w.ev[1].json, pg.next_token);
    assert_string_equal(b.p, want.p);
    tk_buf_free(&b);
    tk_buf_free(&want);
    tk_lookup_page_free(&pg);
    world_close(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_matches_oracle_across_seeds),
        cmocka_unit_test(test_lookup_pages_never_repeat_or_skip_while_events_arrive),
        cmocka_unit_test(test_lookup_time_edges_are_inclusive),
        cmocka_unit_test(test_lookup_last_page_has_no_token),
        cmocka_unit_test(test_lookup_rejects_bad_parameters_with_actiontrail_codes),
        cmocka_unit_test(test_lookup_rejects_forged_tampered_and_misused_tokens),
        cmocka_unit_test(test_lookup_token_key_persists_and_is_private),
        cmocka_unit_test(test_lookup_page_json_is_the_api_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

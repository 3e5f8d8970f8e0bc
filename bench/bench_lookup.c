/* trailkeep bench: LookupEvents latency, in process, on a store opened
 * read-only, for the query set that bench/peers/sqlite_lookup.c also runs
 * (same file, same order, same "newest 50" semantics, same report format).
 * Two paths are measured per query, each with an untimed warm-up pass and
 * three timed passes (a query's latency is the median of its three, qset.h):
 *   trailkeep      tk_store_lookup(): the store walk, JSON of each hit copied
 *   trailkeep_api  tk_lookup_run(): validation, paging, signed NextToken too
 * usage: bench_lookup DATA_DIR QUERIES.tsv [COUNTS_OUT]  (JSON on stdout) */
#include "peers/qset.h"

#include "base/buf.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "event/event.h"
#include "query/lookup.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT 50

typedef struct collect {
    tk_buf_t out;
    unsigned n;
} collect_t;

/* Copies the event out, as a server answering the lookup would. */
static int on_event(void *ud, const tk_stored_event_t *ev)
{
    collect_t *c = ud;
    if (tk_buf_append(&c->out, ev->json.p, ev->json.len))
        return TK_ENOMEM;
    return ++c->n >= LIMIT ? 1 : 0;
}

static int run_store(tk_store_t *st, bx_qset *qs, const tk_attr_t *keys, char *err)
{
    collect_t c = {TK_BUF_INIT, 0};
    for (int pass = 0; pass < BX_PASSES; pass++) {
        for (size_t i = 0; i < qs->n; i++) {
            bx_query *q = &qs->q[i];
            tk_lookup_req_t req;
            memset(&req, 0, sizeof req);
            req.account = q->account;
            req.start_ms = q->start_ms;
            req.end_ms = q->end_ms;
            req.nattrs = 1;
            req.attrs[0].key = keys[i];
            req.attrs[0].value = q->value;
            tk_buf_reset(&c.out);
            c.n = 0;
            double t0 = bx_now_us();
            int rc = tk_store_lookup(st, &req, on_event, &c, err);
            bx_query_time(q, pass, bx_now_us() - t0);
            q->nres = c.n;
            if (rc < 0) {
                tk_buf_free(&c.out);
                return rc;
            }
        }
    }
    tk_buf_free(&c.out);
    return 0;
}

static int run_api(tk_store_t *st, bx_qset *qs, char *err)
{
    static const uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8};
    tk_lookup_opts_t o;
    memset(&o, 0, sizeof o);
    o.now_ms = tk_now_ms();
    o.token_key = key;
    char (*times)[2][32] = calloc(qs->n ? qs->n : 1, sizeof *times);
    if (!times)
        return TK_ENOMEM;
    for (size_t i = 0; i < qs->n; i++) {
        /* The API takes seconds; widen to whole seconds that cover the window. */
        tk_time_format(qs->q[i].start_ms / 1000 * 1000, 0, times[i][0]);
        tk_time_format(qs->q[i].end_ms / 1000 * 1000, 0, times[i][1]);
    }
    int rc = 0;
    for (int pass = 0; pass < BX_PASSES && rc == 0; pass++) {
        for (size_t i = 0; i < qs->n; i++) {
            bx_query *q = &qs->q[i];
            tk_lookup_params_t p;
            memset(&p, 0, sizeof p);
            p.start_time = times[i][0];
            p.end_time = times[i][1];
            p.nattrs = 1;
            p.attrs[0].key = q->attr;
            p.attrs[0].value = q->value;
            p.max_results = "50";
            tk_lookup_page_t page;
            memset(&page, 0, sizeof page);
            tk_lookup_error_t lerr;
            memset(&lerr, 0, sizeof lerr);
            double t0 = bx_now_us();
            rc = tk_lookup_run(st, q->account, &p, &o, &page, &lerr, err);
            bx_query_time(q, pass, bx_now_us() - t0);
            q->nres = (unsigned)page.count;
            tk_lookup_page_free(&page);
            if (rc) {
                if (lerr.code)
                    snprintf(err, TK_ERRLEN, "%s: %.200s", lerr.code, lerr.message);
                break;
            }
        }
    }
    free(times);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_lookup DATA_DIR QUERIES.tsv [COUNTS_OUT]\n");
        return 2;
    }
    char err[TK_ERRLEN] = "";
    bx_qset qs;
    if (bx_qset_load(argv[2], &qs))
        return 1;
    tk_attr_t *keys = calloc(qs.n ? qs.n : 1, sizeof *keys);
    for (size_t i = 0; keys && i < qs.n; i++) {
        if (tk_attr_parse(qs.q[i].attr, &keys[i])) {
            fprintf(stderr, "bench_lookup: unknown attribute %s\n", qs.q[i].attr);
            return 1;
        }
    }
    tk_store_opts_t so;
    memset(&so, 0, sizeof so);
    so.dir = argv[1];
    so.read_only = 1;
    tk_store_t *st = NULL;
    double t0 = bx_now_us();
    int rc = tk_store_open(&so, &st, err);
    double open_ms = (bx_now_us() - t0) / 1000;
    if (rc) {
        fprintf(stderr, "bench_lookup: cannot open the store in %s: %s\n", argv[1], err);
        return 1;
    }
    tk_store_stats_t stats;
    tk_store_stats(st, &stats);
    if (stats.events == 0 && qs.n) {
        /* A store written by another on-disk format version can open as
         * empty: timing misses would be meaningless, so refuse. */
        fprintf(stderr, "bench_lookup: the store in %s holds no events: import the data first "
                        "(with this build of trailkeep)\n", argv[1]);
        rc = 1;
        goto out;
    }
    char extra[256];
    snprintf(extra, sizeof extra, "\"open_ms\":%.1f,\"events\":%llu,\"segments\":%llu,", open_ms,
             (unsigned long long)stats.events, (unsigned long long)stats.segments);

    rc = run_store(st, &qs, keys, err);
    if (rc) {
        fprintf(stderr, "bench_lookup: tk_store_lookup: %s (%s)\n", err, tk_strerror(rc));
        goto out;
    }
    bx_qset_report(stdout, "trailkeep", extra, &qs);
    if (argc > 3 && bx_qset_write_counts(argv[3], &qs)) {
        rc = 1;
        goto out;
    }
    rc = run_api(st, &qs, err);
    if (rc) {
        fprintf(stderr, "bench_lookup: tk_lookup_run: %s (%s)\n", err, tk_strerror(rc));
        goto out;
    }
    bx_qset_report(stdout, "trailkeep_api", "", &qs);
out:
    tk_store_close(st);
    free(keys);
    bx_qset_free(&qs);
    return rc ? 1 : 0;
}

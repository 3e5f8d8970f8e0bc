/* trailkeep HTTP metrics: lock-free counters and fixed-bucket latency
 * histograms, rendered in the Prometheus text format (version 0.0.4).
 * Every field is updated with relaxed atomics from request threads; a scrape
 * reads a slightly torn but never corrupt view, which Prometheus tolerates. */
#ifndef TK_HTTP_METRICS_H
#define TK_HTTP_METRICS_H

#include "base/buf.h"

#include <stdint.h>

/* Routes as counted (and logged). */
typedef enum tk_route {
    TK_ROUTE_OTHER = 0,
    TK_ROUTE_INDEX,
    TK_ROUTE_HEALTHZ,
    TK_ROUTE_METRICS,
    TK_ROUTE_EVENTS,
    TK_ROUTE_LOOKUP,
    TK_ROUTE_CLOUDTRAIL,
    TK_ROUTE_HISTORY,
    TK_ROUTE__COUNT
} tk_route_t;

const char *tk_route_name(tk_route_t r);

/* Status codes counted individually; anything else lands in "other". */
#define TK_METRICS_NSTATUS 13
#define TK_HIST_NBUCKETS 14

typedef struct tk_hist {
    uint64_t bucket[TK_HIST_NBUCKETS]; /* non-cumulative counts per upper bound */
    uint64_t count;
    uint64_t sum_ns;
} tk_hist_t;

typedef struct tk_metrics {
    uint64_t requests[TK_ROUTE__COUNT][TK_METRICS_NSTATUS];
    uint64_t events_ingested, events_rejected, events_duplicates;
    uint64_t ingest_bytes;
    uint64_t throttled, overloaded, disk_full;
    uint64_t auth_failures;
    uint64_t purge_runs, purge_failures, purge_days, purge_events, purge_bytes;
    uint64_t seal_runs, seal_failures;
    int64_t inflight_appends;
    tk_hist_t append_latency;  /* tk_store_append wall time (WAL + fsync) */
    tk_hist_t lookup_latency;  /* one lookup page, store walk included */
    int64_t started_ms;
} tk_metrics_t;

void tk_metrics_count_request(tk_metrics_t *m, tk_route_t r, int status);
void tk_metrics_observe(tk_hist_t *h, uint64_t ns);
static inline void tk_metrics_add(uint64_t *c, uint64_t n)
{
    __atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

/* Appends the metrics (counters, histograms) in Prometheus text format. */
int tk_metrics_render(const tk_metrics_t *m, tk_buf_t *out);

/* Upper bounds of the histogram buckets, seconds (the last is +Inf). */
extern const double tk_hist_bounds[TK_HIST_NBUCKETS];

#endif

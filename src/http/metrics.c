/* trailkeep HTTP metrics: counters and histograms for /metrics. Writers use
 * relaxed atomic adds only (no lock on the request path); rendering reads
 * each word atomically and derives cumulative bucket counts at scrape time. */
#include "http/metrics.h"

#include "base/tk.h"

#include <math.h>

static const char *route_names[TK_ROUTE__COUNT] = {
    "other", "index", "healthz", "metrics", "events", "lookup", "cloudtrail", "history",
};

static const int statuses[TK_METRICS_NSTATUS - 1] = {200, 400, 401, 403, 404, 405,
                                                     411, 413, 415, 429, 500, 503};

const double tk_hist_bounds[TK_HIST_NBUCKETS] = {0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                 0.01,    0.025,  0.05,  0.1,    0.25,
                                                 0.5,     1,      2.5,   INFINITY};

const char *tk_route_name(tk_route_t r)
{
    return (unsigned)r < TK_ROUTE__COUNT ? route_names[r] : "other";
}

static int status_slot(int status)
{
    for (int i = 0; i < TK_METRICS_NSTATUS - 1; i++)
        if (statuses[i] == status)
            return i;
    return TK_METRICS_NSTATUS - 1;
}

void tk_metrics_count_request(tk_metrics_t *m, tk_route_t r, int status)
{
    if ((unsigned)r >= TK_ROUTE__COUNT)
        r = TK_ROUTE_OTHER;
    tk_metrics_add(&m->requests[r][status_slot(status)], 1);
}

void tk_metrics_observe(tk_hist_t *h, uint64_t ns)
{
    double s = (double)ns / 1e9;
    int i = 0;
    while (i < TK_HIST_NBUCKETS - 1 && s > tk_hist_bounds[i])
        i++;
    tk_metrics_add(&h->bucket[i], 1);
    tk_metrics_add(&h->count, 1);
    tk_metrics_add(&h->sum_ns, ns);
}

static uint64_t ld(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static int counter(tk_buf_t *o, const char *name, const char *help, uint64_t v)
{
    return tk_buf_printf(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
                         (unsigned long long)v);
}

static int hist(tk_buf_t *o, const char *name, const char *help, const tk_hist_t *h)
{
    int rc = tk_buf_printf(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int i = 0; i < TK_HIST_NBUCKETS && rc == 0; i++) {
        cum += ld(&h->bucket[i]);
        if (i == TK_HIST_NBUCKETS - 1)
            rc = tk_buf_printf(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
        else
            rc = tk_buf_printf(o, "%s_bucket{le=\"%g\"} %llu\n", name, tk_hist_bounds[i],
                               (unsigned long long)cum);
    }
    if (rc == 0)
        rc = tk_buf_printf(o, "%s_sum %.6f\n%s_count %llu\n", name, (double)ld(&h->sum_ns) / 1e9,
                           name, (unsigned long long)ld(&h->count));
    return rc;
}

int tk_metrics_render(const tk_metrics_t *m, tk_buf_t *o)
{
    int rc = 0;
    rc |= tk_buf_puts(o, "# HELP trailkeep_http_requests_total HTTP requests by route and status.\n"
                         "# TYPE trailkeep_http_requests_total counter\n");
    for (int r = 0; r < TK_ROUTE__COUNT; r++)
        for (int s = 0; s < TK_METRICS_NSTATUS; s++) {
            uint64_t v = ld(&m->requests[r][s]);
            if (!v)
                continue;
            if (s == TK_METRICS_NSTATUS - 1)
                rc |= tk_buf_printf(o, "trailkeep_http_requests_total{route=\"%s\",status=\"other\"} %llu\n",
                                    route_names[r], (unsigned long long)v);
            else
                rc |= tk_buf_printf(o, "trailkeep_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                                    route_names[r], statuses[s], (unsigned long long)v);
        }
    rc |= counter(o, "trailkeep_events_ingested_total", "Events stored through POST /v1/events.",
                  ld(&m->events_ingested));
    rc |= counter(o, "trailkeep_events_rejected_total", "Events rejected by validation.",
                  ld(&m->events_rejected));
    rc |= counter(o, "trailkeep_events_duplicates_total", "Events already stored (same account and eventId).",
                  ld(&m->events_duplicates));
    rc |= counter(o, "trailkeep_ingest_bytes_total", "Decompressed bytes of ingest request bodies.",
                  ld(&m->ingest_bytes));
    rc |= counter(o, "trailkeep_throttled_total", "Read requests refused with 429 by the per-key rate limit.",
                  ld(&m->throttled));
    rc |= counter(o, "trailkeep_overloaded_total", "Ingest requests refused with 503: too many appends in flight.",
                  ld(&m->overloaded));
    rc |= counter(o, "trailkeep_disk_full_total", "Ingest requests refused with 503: disk full.",
                  ld(&m->disk_full));
    rc |= counter(o, "trailkeep_auth_failures_total", "Requests refused with 401/403 by authentication.",
                  ld(&m->auth_failures));
    rc |= counter(o, "trailkeep_purge_runs_total", "Retention purge runs.", ld(&m->purge_runs));
    rc |= counter(o, "trailkeep_purge_failures_total", "Retention purge runs that failed.",
                  ld(&m->purge_failures));
    rc |= counter(o, "trailkeep_purge_removed_days_total", "Account-days removed by retention.",
                  ld(&m->purge_days));
    rc |= counter(o, "trailkeep_purge_removed_events_total", "Events removed by retention.",
                  ld(&m->purge_events));
    rc |= counter(o, "trailkeep_purge_removed_bytes_total", "Bytes removed by retention.",
                  ld(&m->purge_bytes));
    rc |= counter(o, "trailkeep_seal_runs_total", "Periodic seals of the WAL into segments.",
                  ld(&m->seal_runs));
    rc |= counter(o, "trailkeep_seal_failures_total", "Periodic seals that failed.",
                  ld(&m->seal_failures));
    rc |= tk_buf_printf(o, "# HELP trailkeep_inflight_appends Appends waiting for the WAL now.\n"
                           "# TYPE trailkeep_inflight_appends gauge\ntrailkeep_inflight_appends %lld\n",
                        (long long)__atomic_load_n(&m->inflight_appends, __ATOMIC_RELAXED));
    rc |= hist(o, "trailkeep_append_seconds", "Durable append latency (WAL write + fsync) per ingest request.",
               &m->append_latency);
    rc |= hist(o, "trailkeep_lookup_seconds", "Latency of one lookup page.", &m->lookup_latency);
    return rc ? TK_ENOMEM : 0;
}

/* trailkeep alerting service inside `serve`: a consumer thread that reads the
 * store's log after the durable ack (never blocking ingest), evaluates the
 * stored rules, records deduplicated alerts and queues notifications in the
 * outbox, all in one meta.db transaction with the engine snapshot and the
 * log checkpoint; and a sender thread that drains the outbox with retries and
 * exponential backoff through the channel plugins (notify.h). */
#ifndef TK_ALERT_SERVICE_H
#define TK_ALERT_SERVICE_H

#include "alert/alert_store.h"
#include "alert/notify.h"
#include "base/buf.h"
#include "store/store.h"

typedef struct tk_alert_service_opts {
    tk_notify_cfg_t notify;     /* strings copied */
    int poll_ms;                /* log poll when idle (default 100) */
    int64_t retry_min_ms;       /* first retry delay (default 1000) */
    int64_t retry_max_ms;       /* backoff cap (default 300000) */
    size_t batch;               /* events per transaction (default 2000) */
} tk_alert_service_opts_t;

typedef struct tk_alert_service tk_alert_service_t;

typedef struct tk_alert_service_stats {
    uint64_t events, fires, alerts_created, alerts_cleared, notices_queued;
    uint64_t sent, send_failures;
    uint64_t checkpoint;
    size_t rules;
    /* Window state over all rules' engines (bounded: a cap hit is counted). */
    uint64_t groups, window_entries, group_cap_hits, entry_cap_hits;
} tk_alert_service_stats_t;

/* Borrows meta and store (they must outlive the service). Returns an owned
 * service (tk_alert_service_destroy), not yet running. */
int tk_alert_service_create(tk_meta_t *meta, tk_store_t *store, const tk_alert_service_opts_t *o,
                            tk_alert_service_t **out, char *err);
/* Starts both threads. */
int tk_alert_service_start(tk_alert_service_t *s, char *err);
/* Stops the threads (after their current step) and frees; NULL is a no-op. */
void tk_alert_service_destroy(tk_alert_service_t *s);

/* One synchronous pass without threads (tests, CLI): evaluates the log up to
 * its end, clears stale alerts, and sends what is due. */
int tk_alert_service_step(tk_alert_service_t *s, char *err);
void tk_alert_service_stats(tk_alert_service_t *s, tk_alert_service_stats_t *out);

/* "Send a test notification": resolves recipients (users and groups of
 * account) and sends one test notice on every channel of every user now,
 * synchronously, through cfg; appends {"results":[{"user","channel","ok",
 * "error"}],"sent","failed"} to report. No alert is created. 0 or ENOMEM. */
int tk_alert_notify_test(tk_meta_t *m, const tk_notify_cfg_t *cfg, const char *account,
                         const char *rule_id, const char *recipients, tk_buf_t *report, char *err);

/* Per rule, as of the evaluator's last publish: evaluations, time spent and
 * regex limit hits (tk_alert_rule_stats_t; its id points into the call). */
typedef struct tk_alert_rule_metrics {
    const char *account, *id;
    tk_alert_rule_stats_t st;
} tk_alert_rule_metrics_t;
/* Calls cb for each loaded rule under the service's lock: cb must not call
 * back into the service. */
void tk_alert_service_rule_metrics(tk_alert_service_t *s,
                                   void (*cb)(void *ud, const tk_alert_rule_metrics_t *m), void *ud);

/* JSON of one alert (API and notification payload). */
int tk_alert_row_json(const tk_alert_row_t *a, tk_buf_t *out);
/* JSON of one stored rule. */
int tk_stored_rule_json(const tk_stored_rule_t *r, tk_buf_t *out);

#endif

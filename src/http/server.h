/* trailkeep HTTP service (libmicrohttpd): the API of `trailkeep serve`.
 * Routes: POST /v1/events (ingest), GET|POST /v1/lookup (LookupEvents),
 * POST / with X-Amz-Target (CloudTrail-compatible LookupEvents, SigV4),
 * GET /v1/resources/{type}/{name}/history, trails, alerting, Insights,
 * /healthz (liveness only), /metrics, / (a page).
 * Every route except /healthz and / authenticates; every input is bounded,
 * and so is the time a connection may take to send its request.
 * The server borrows the store and the meta database: the caller opens them
 * before tk_http_start() and closes them after tk_http_stop(). */
#ifndef TK_HTTP_SERVER_H
#define TK_HTTP_SERVER_H

#include "meta/meta.h"
#include "store/store.h"

#include <stddef.h>
#include "base/buf.h"

#include <stdint.h>

typedef struct tk_http_server tk_http_server_t;

typedef struct tk_http_opts {
    const char *listen;          /* "ADDR:PORT" (IPv4, or [v6]:PORT); port 0 = any free port */
    size_t max_body;             /* request body bytes as received; 0 = 16 MiB */
    size_t max_decompressed;     /* gzip output cap (bombs); 0 = 64 MiB */
    size_t max_events;           /* events per ingest request; 0 = 10,000 */
    int64_t max_future_ms;       /* eventTime past now + this is rejected; 0 = no check */
    int retention_days;          /* the service default (accounts may set their own); 0 = 90 */
    int smtp_configured;         /* serve has --smtp-url: email notices can be sent */
    /* POST /v1/alert-rules/{id}/test: sends a test notice to the rule's
     * recipients now and appends the JSON report (tk_alert_notify_test);
     * NULL: the route answers 501. */
    int (*notify_test)(void *ud, const char *account, const char *rule_id, const char *recipients,
                       tk_buf_t *report, char *err);
    void *notify_test_ud;
    /* Memory for request bodies, their decompression and parsing, summed
     * over every request in flight; past it a request gets 503 +
     * Retry-After before the work. 0 = 1 GiB. */
    size_t max_request_memory;
    /* Threads: MHD's I/O threads (epoll) only move bytes and answer /healthz;
     * every other route runs on a pool of handler threads while its
     * connection is suspended, so a blocking handler (an ingest waiting for
     * the group commit) never stalls other sockets, and an idle socket costs
     * no thread. */
    int threads;                 /* epoll I/O threads; 0 = number of CPUs, 2-8 */
    int workers;                 /* handler threads; 0 = 4 per CPU, 16-64 */
    /* 0 = RLIMIT_NOFILE (raised to its hard limit) minus 256 for the store's
     * and meta's files, at most 65536; a larger value is lowered to that. */
    unsigned max_connections;
    unsigned max_connections_per_ip; /* 0 = 128 */
    /* Deadlines (seconds), enforced by a reaper on the socket itself:
     * header_timeout from accept, or from the end of the previous request on
     * keep-alive, until the request's headers are complete (0 = 10);
     * body_timeout from the headers until the whole body is in (0 = 120);
     * idle_timeout: no byte received or sent while a request is read or its
     * response written (MHD's connection timeout; 0 = 30). */
    int header_timeout_s;
    int body_timeout_s;
    int idle_timeout_s;
    int max_inflight_appends;    /* concurrent tk_store_append calls before 503; 0 = 64 */
    double lookup_rate;          /* per-key read requests/s (token bucket); 0 = 50, < 0 = off */
    double lookup_burst;         /* bucket size; 0 = 2 * lookup_rate */
    int max_page;                /* largest MaxResults on /v1/lookup; 0 = 50 */
    int metrics_open_loopback;   /* /metrics without a key for loopback clients */
    const char *tls_cert;        /* PEM file paths: both set = HTTPS */
    const char *tls_key;
    int access_log_fd;           /* one JSON line per request; < 0 = none, 0 = default stderr */
    const uint8_t *token_key;    /* 32-byte NextToken HMAC key (tk_lookup_token_key) */
    /* Appends more Prometheus text to /metrics (subsystems tk_http does not
     * link, e.g. alerting); called from request threads, may be NULL.
     * may_read(ctx, account) is 1 when the caller may see that account's
     * lines (per-account series must be filtered with it). */
    void (*extra_metrics)(void *ud, tk_buf_t *out, int (*may_read)(void *ctx, const char *account),
                          void *ctx);
    void *extra_metrics_ud;
} tk_http_opts_t;

/* Checks that listen ("ADDR:PORT") parses and can be bound now, so a caller
 * can refuse to start before doing anything visible (serve prints the
 * first-start key only for a server that will listen). 0, TK_EINVAL
 * (malformed), TK_EBUSY (the address is in use, said so), TK_EIO. */
int tk_http_listen_check(const char *listen, char *err);

/* Starts listening and serving in background threads. Borrows store, meta and
 * opts' strings/key for the server's lifetime. *out owned: tk_http_stop(). */
int tk_http_start(const tk_http_opts_t *opts, tk_store_t *store, tk_meta_t *meta,
                  tk_http_server_t **out, char *err);

/* Stops accepting, lets requests in progress finish (their appends complete
 * and are acknowledged), then frees the server. NULL is a no-op. */
void tk_http_stop(tk_http_server_t *s);

/* The port actually bound (useful with port 0). */
uint16_t tk_http_port(const tk_http_server_t *s);

/* Background jobs of serve report here so /metrics shows them. */
void tk_http_note_purge(tk_http_server_t *s, const tk_purge_report_t *rep, int failed);
void tk_http_note_seal(tk_http_server_t *s, int failed);

#endif

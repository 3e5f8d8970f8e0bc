/* trailkeep HTTP internals shared by server.c and the route files: the server
 * state, the per-request context, response helpers, parameter parsing, the
 * per-key rate limiter. Not a public interface (only src/http/ includes it). */
#ifndef TK_HTTP_INTERNAL_H
#define TK_HTTP_INTERNAL_H

#include "base/buf.h"
#include "http/auth.h"
#include "http/metrics.h"
#include "http/server.h"

#include <cjson/cJSON.h>

#include <microhttpd.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct MHD_Daemon;
struct MHD_Connection;

/* ---- per-key token bucket ---- */
#define TK_RL_SLOTS 1024
typedef struct tk_ratelimit {
    pthread_mutex_t mu;
    double rate, burst;          /* rate <= 0: unlimited */
    struct {
        char key[32];
        double tokens;
        uint64_t last_ns;
    } slot[TK_RL_SLOTS];
} tk_ratelimit_t;

void tk_ratelimit_init(tk_ratelimit_t *rl, double rate, double burst);
void tk_ratelimit_destroy(tk_ratelimit_t *rl);
/* Takes one token for key at time now_ns: 0 when allowed, else the number of
 * whole seconds (>= 1) after which a retry will be allowed. */
int tk_ratelimit_take(tk_ratelimit_t *rl, const char *key, uint64_t now_ns);

/* ---- connections (conns.c): one per TCP connection, accept to close ---- */
typedef enum tk_conn_phase {
    TK_CONN_HEADERS,             /* waiting for a request's headers: header deadline */
    TK_CONN_BODY,                /* headers done, reading the body: body deadline */
    TK_CONN_BUSY                 /* handler running or response being sent: no deadline */
} tk_conn_phase_t;

typedef struct tk_conn {
    struct tk_conn *prev, *next; /* srv->conns, under srv->conns_mu */
    int fd;                      /* MHD's socket; valid until the close notification */
    tk_conn_phase_t phase;
    uint64_t deadline_ns;        /* tk_mono_ns() after which the reaper cuts it; 0 = none */
    int cut;                     /* the reaper shut it down */
} tk_conn_t;

typedef struct tk_conns_counts {
    uint64_t open, header_timeouts, body_timeouts;
    uint64_t queued, busy, workers;
} tk_conns_counts_t;

typedef struct tk_req tk_req_t;

struct tk_http_server {
    struct MHD_Daemon *daemon;
    tk_store_t *store;
    tk_meta_t *meta;
    tk_http_opts_t o;            /* copy with defaults applied */
    uint8_t token_key[32];
    uint16_t port;
    int log_fd;                  /* access log, -1 none */
    tk_metrics_t metrics;
    tk_ratelimit_t rl;
    char *tls_cert_pem, *tls_key_pem;
    int64_t active_requests;     /* requests between first handler call and completion */
    int64_t mem_used;            /* bytes reserved by requests in flight (atomic) */
    int test_append_delay_ms;    /* TK_TEST_APPEND_DELAY_MS: tests hold appends in flight */
    /* connection guard (conns.c); the counters are under conns_mu */
    pthread_mutex_t conns_mu;
    pthread_cond_t reaper_cv;
    tk_conn_t *conns;
    uint64_t nconns, header_timeouts, body_timeouts;
    pthread_t reaper;
    int reaper_started, reaper_stop, conns_inited;
    /* handler pool (conns.c): FIFO of suspended requests, under q_mu */
    pthread_mutex_t q_mu;
    pthread_cond_t q_cv;
    tk_req_t *q_head, *q_tail;
    uint64_t q_len, q_busy;
    int q_stop;
    pthread_t *workers;
    int nworkers;
};

/* ---- request context, one per HTTP request ---- */
struct tk_req {
    tk_http_server_t *srv;
    struct MHD_Connection *conn;
    char *uri;                   /* as received, query included (owned) */
    const char *path;            /* raw (still %-encoded) path inside uri_copy */
    const char *query;           /* raw query string without '?', "" if none */
    char *uri_copy;              /* owned: uri split at '?' */
    const char *method;
    int started;                 /* first handler call seen */
    int responded;
    tk_buf_t body;
    size_t body_seen;            /* bytes received, also past the limit */
    int body_too_big;
    uint64_t t0_ns;
    char request_id[37];
    int authed;
    tk_principal_t who;
    const char *account;         /* account acted on (for the log), borrowed */
    char account_buf[64];
    char next_token_hdr[300]; /* CSV answers: X-Next-Token (the body has no room for it) */
    tk_route_t route;
    int status;
    size_t bytes_out;
    size_t mem_held;             /* bytes of srv->mem_used this request holds */
    tk_conn_t *tconn;            /* its connection's guard entry (borrowed), may be NULL */
    /* Run by a pool worker: tk_req_send keeps the response here (owned) and
     * the I/O thread queues it when the connection resumes. */
    int deferred;
    struct MHD_Response *resp;
    unsigned resp_status;
    struct tk_req *qnext;        /* srv->q_head list */
};

/* Routes the request and makes sure it has a response (server.c); runs on an
 * I/O thread or a pool worker. */
void tk_http_run(tk_req_t *r);

/* ---- connection guard and handler pool (conns.c) ---- */
/* MHD_OPTION_NOTIFY_CONNECTION callback; cls is the server. */
void tk_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode toe);
/* Starts the reaper and o.workers handler threads (mutexes first, so
 * tk_conns_destroy is safe after a partial start). */
int tk_conns_start(tk_http_server_t *s, char *err);
/* Lets the workers finish every queued request, then joins them; later
 * submissions run inline. */
void tk_pool_stop(tk_http_server_t *s);
/* Stops the pool and the reaper, frees what is left. After MHD_stop_daemon. */
void tk_conns_destroy(tk_http_server_t *s);
/* The guard entry of a connection (NULL if untracked). */
tk_conn_t *tk_conn_of(struct MHD_Connection *conn);
/* Moves c to phase ph, restarting its deadline. NULL is a no-op. */
void tk_conn_phase(tk_http_server_t *s, tk_conn_t *c, tk_conn_phase_t ph);
/* 1 when the reaper shut c down (its request then logs 408). */
int tk_conn_was_cut(tk_http_server_t *s, tk_conn_t *c);
/* Suspends r's connection and queues r for a worker: 0; -1 when there is no
 * pool (or it is stopping): the caller runs r inline. Call from the handler. */
int tk_pool_submit(tk_req_t *r);
void tk_conns_counts(tk_http_server_t *s, tk_conns_counts_t *out);

/* Reserves n more bytes of the server's request-memory budget for r (given
 * back when the request completes, or earlier with tk_req_mem_give).
 * 0, or -1 when the budget is spent: the caller answers 503 + Retry-After
 * before doing the work. */
int tk_req_mem_take(tk_req_t *r, size_t n);
/* Gives back n bytes (at most what r holds) before the request ends. */
void tk_req_mem_give(tk_req_t *r, size_t n);

/* Header value (name case-insensitive) or NULL. */
const char *tk_req_header(tk_req_t *r, const char *name);
/* Queues a response: takes `body` (its memory is stolen and the buffer reset).
 * retry_after > 0 adds Retry-After. Returns 0 or TK_ENOMEM. */
int tk_req_send(tk_req_t *r, int status, const char *content_type, tk_buf_t *body,
                int retry_after);
/* Queues {"Code":code,"Message":msg,"RequestId":id}. */
/* The RPC envelope's Format parameter: absent or JSON (any case) is fine,
 * anything else is answered 400 here (returns 1: the caller stops). */
int tk_req_format_json(tk_req_t *r, const char *format);
int tk_req_error(tk_req_t *r, int status, const char *code, int retry_after, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Queues an AWS JSON 1.1 error {"__type":type,"message":msg}. */
int tk_req_aws_error(tk_req_t *r, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Authenticates with Bearer / X-TK-* headers (and SigV4 when the
 * Authorization header is AWS4-HMAC-SHA256). On failure the 401/403 response
 * is already queued and nonzero is returned. */
int tk_req_auth(tk_req_t *r);
/* Checks tk_auth_allow for account; queues 403 on refusal (nonzero). */
int tk_req_allow(tk_req_t *r, const char *account, tk_role_t need);
/* Per-key rate limit for read routes; queues 429 (aws: 1 = AWS error shape). */
int tk_req_throttle(tk_req_t *r, int aws);

/* ---- parameters ---- */
typedef struct tk_kv {
    char *key, *val;
} tk_kv_t;
typedef struct tk_kvlist {
    size_t n, cap;
    tk_kv_t *kv;
} tk_kvlist_t;

/* Parses application/x-www-form-urlencoded (also a URL query string):
 * '&'-separated k=v, %XX and '+' decoded. At most 64 pairs (TK_ETOOBIG).
 * Appends owned copies to l (tk_kvlist_free). */
int tk_form_parse(const char *s, size_t n, tk_kvlist_t *l);
/* A JSON body's allowed fields and their cJSON types (OR of cJSON_String,
 * cJSON_Number, cJSON_True | cJSON_False, cJSON_Array (of strings),
 * cJSON_Object). */
typedef struct tk_body_field {
    const char *name;
    int types;
} tk_body_field_t;
/* 0, or TK_EINVAL when obj is not an object, has a field not in fields
 * (the message names it and the nearest valid one: a typo must not be
 * stored as "no value"), or a field of the wrong type. what names the body
 * in the message ("rule body"). */
int tk_body_check_fields(const cJSON *obj, const tk_body_field_t *fields, size_t n,
                         const char *what, char *err);
const char *tk_kv_get(const tk_kvlist_t *l, const char *key);
void tk_kvlist_free(tk_kvlist_t *l);
/* %XX decoding (no '+' rule) into out (>= n + 1 bytes); -1 on a bad escape or NUL. */
int tk_pct_decode(const char *s, size_t n, char *out, size_t *outlen);

/* Resource-history NextToken: HMAC-bound to account, type and name, holding
 * the (time, seq) cursor. out >= 160 bytes. */
void tk_history_token_make(const uint8_t key[32], const char *account, const char *rtype,
                           const char *rname, int64_t time_ms, uint64_t seq, char *out);
int tk_history_token_parse(const uint8_t key[32], const char *account, const char *rtype,
                           const char *rname, const char *tok, int64_t *time_ms, uint64_t *seq);

/* ---- routes ---- */
void tk_route_events(tk_req_t *r);
void tk_route_lookup(tk_req_t *r);
void tk_route_history(tk_req_t *r, const char *rest);
void tk_route_cloudtrail(tk_req_t *r);
/* The CloudTrail control-plane operations on trailkeep's trails (route_ct_trails.c):
 * 1 when op is one of them (then r is answered), 0 when it is not. */
int tk_route_ct_trails(tk_req_t *r, const char *op);
/* The trail API's caller for an authenticated request: its account and key,
 * the peer's address (written into ip, which out borrows) and User-Agent. */
struct tk_trail_caller;
void tk_req_trail_caller(tk_req_t *r, char ip[64], struct tk_trail_caller *out);
/* The peer's address as text ("" when unknown). */
void tk_http_client_ip(struct MHD_Connection *conn, char *out, size_t n);
void tk_route_healthz(tk_req_t *r);
void tk_route_metrics(tk_req_t *r);
void tk_route_index(tk_req_t *r);
void tk_route_trails(tk_req_t *r); /* route_trails.c */

#endif

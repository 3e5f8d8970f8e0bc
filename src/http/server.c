/* trailkeep HTTP server: libmicrohttpd glue. Owns the request life cycle:
 * context creation (URI log callback, so the raw URI is kept for SigV4 and
 * for exact path splitting), bounded body accumulation, routing, the
 * authentication helpers every route uses, and at completion one access-log
 * line plus the request counters. /healthz and / answer on MHD's epoll I/O
 * threads; every other route runs on the handler pool (conns.c) and may block
 * (a durable append waits for its group's fsync). */
#include "http/http_internal.h"

#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "base/fs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- responses */

const char *tk_req_header(tk_req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

int tk_req_send(tk_req_t *r, int status, const char *content_type, tk_buf_t *body, int retry_after)
{
    if (r->responded)
        return 0;
    size_t len = body->len;
    char *p = tk_buf_steal(body);
    struct MHD_Response *resp =
        p ? MHD_create_response_from_buffer(len, p, MHD_RESPMEM_MUST_FREE)
          : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(p);
        return TK_ENOMEM;
    }
    MHD_add_response_header(resp, "Content-Type", content_type);
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    MHD_add_response_header(resp, "x-amzn-RequestId", r->request_id);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (retry_after > 0) {
        char ra[24];
        snprintf(ra, sizeof ra, "%d", retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    if (status == 401 && r->route != TK_ROUTE_CLOUDTRAIL)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"trailkeep\"");
    if (r->next_token_hdr[0])
        MHD_add_response_header(resp, "X-Next-Token", r->next_token_hdr);
    if (r->deferred) {
        /* On a pool worker: the I/O thread queues it after the resume. */
        r->resp = resp;
        r->resp_status = (unsigned)status;
    } else {
        MHD_queue_response(r->conn, (unsigned)status, resp);
        MHD_destroy_response(resp);
    }
    r->responded = 1;
    r->status = status;
    r->bytes_out = len;
    return 0;
}

static int verror(tk_req_t *r, int status, int aws, const char *code, int retry_after,
                  const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    if (aws) {
        rc |= tk_buf_puts(&b, "{\"__type\":");
        rc |= tk_buf_put_json_str(&b, code, strlen(code));
        rc |= tk_buf_puts(&b, ",\"message\":");
        rc |= tk_buf_put_json_str(&b, msg, strlen(msg));
        rc |= tk_buf_puts(&b, "}\n");
    } else {
        rc |= tk_buf_puts(&b, "{\"Code\":");
        rc |= tk_buf_put_json_str(&b, code, strlen(code));
        rc |= tk_buf_puts(&b, ",\"Message\":");
        rc |= tk_buf_put_json_str(&b, msg, strlen(msg));
        rc |= tk_buf_printf(&b, ",\"RequestId\":\"%s\"}\n", r->request_id);
    }
    if (rc) {
        tk_buf_free(&b);
        return TK_ENOMEM;
    }
    return tk_req_send(r, status, aws ? "application/x-amz-json-1.1" : "application/json", &b,
                       retry_after);
}

int tk_req_error(tk_req_t *r, int status, const char *code, int retry_after, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = verror(r, status, 0, code, retry_after, fmt, ap);
    va_end(ap);
    return rc;
}

int tk_req_aws_error(tk_req_t *r, int status, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = verror(r, status, 1, type, 0, fmt, ap);
    va_end(ap);
    return rc;
}

int tk_req_format_json(tk_req_t *r, const char *format)
{
    if (!format || !strcasecmp(format, "JSON"))
        return 0;
    tk_req_error(r, 400, "InvalidParameter", 0,
                 "Format '%.32s' is not supported: answers are JSON (Format=JSON, the default).",
                 format);
    return 1;
}

/* ----------------------------------------------------------- authentication */

typedef struct hdr_list {
    tk_http_header_t h[64];
    size_t n;
} hdr_list_t;

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    hdr_list_t *l = cls;
    if (l->n < TK_ARRAY_LEN(l->h)) {
        l->h[l->n].name = key;
        l->h[l->n].value = value ? value : "";
        l->n++;
    }
    return MHD_YES;
}

static int auth_sigv4(tk_req_t *r, const char *authz)
{
    tk_http_server_t *s = r->srv;
    char err[TK_ERRLEN] = "";
    /* Tell an unknown key from a bad signature, as AWS does: the CLI user
     * needs to know whether to fix the key id or the secret. */
    const char *cred = strstr(authz, "Credential=");
    char key_id[40] = "";
    if (cred) {
        cred += 11;
        size_t i = 0;
        while (cred[i] && cred[i] != '/' && i < sizeof key_id - 1) {
            key_id[i] = cred[i];
            i++;
        }
        key_id[i] = 0;
    }
    tk_key_t k;
    char secret[TK_SECRET_LEN + 1];
    if (!key_id[0] || tk_meta_key_secret(s->meta, key_id, &k, secret, err) != 0) {
        tk_metrics_add(&s->metrics.auth_failures, 1);
        tk_req_aws_error(r, 403, "UnrecognizedClientException",
                         "The security token included in the request is invalid: access key id "
                         "'%.32s' is unknown or revoked. Create one with `trailkeep keys create`.",
                         key_id);
        return 1;
    }
    memset(secret, 0, sizeof secret);
    hdr_list_t hl = {.n = 0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect_header, &hl);
    int rc = tk_auth_sigv4(s->meta, r->method, r->path, r->query, hl.h, hl.n, r->body.p,
                           r->body.len, tk_now_ms(), &r->who, err);
    if (rc != 0) {
        tk_metrics_add(&s->metrics.auth_failures, 1);
        tk_req_aws_error(r, 403, "InvalidSignatureException",
                         "The request signature we calculated does not match the signature you "
                         "provided: %s",
                         err);
        return 1;
    }
    r->authed = 1;
    tk_meta_key_touch(s->meta, r->who.key_id, tk_now_ms());
    return 0;
}

int tk_req_auth(tk_req_t *r)
{
    tk_http_server_t *s = r->srv;
    const char *authz = tk_req_header(r, "Authorization");
    if (authz && !strncmp(authz, "AWS4-HMAC-SHA256", 16))
        return auth_sigv4(r, authz);
    char err[TK_ERRLEN] = "";
    int rc = tk_auth_bearer(s->meta, authz, tk_req_header(r, "X-TK-Key-Id"),
                            tk_req_header(r, "X-TK-Secret"), &r->who, err);
    if (rc != 0) {
        tk_metrics_add(&s->metrics.auth_failures, 1);
        if (r->route == TK_ROUTE_CLOUDTRAIL)
            tk_req_aws_error(r, 403, "MissingAuthenticationTokenException",
                             "Request is missing a valid AWS Signature Version 4 Authorization: %s",
                             err[0] ? err : "no credentials");
        else
            tk_req_error(r, 401, "AuthFailure", 0,
                         "%s. Send 'Authorization: Bearer KEYID:SECRET' with a key from "
                         "`trailkeep keys create`.",
                         err[0] ? err : "authentication required");
        return 1;
    }
    r->authed = 1;
    tk_meta_key_touch(s->meta, r->who.key_id, tk_now_ms());
    return 0;
}

int tk_req_allow(tk_req_t *r, const char *account, tk_role_t need)
{
    if (tk_auth_allow(r->srv->meta, &r->who, account, need) == 0)
        return 0;
    tk_metrics_add(&r->srv->metrics.auth_failures, 1);
    if (r->route == TK_ROUTE_CLOUDTRAIL)
        tk_req_aws_error(r, 403, "AccessDeniedException",
                         "Key %s (%s of account %s) may not %s account %s.", r->who.key_id,
                         tk_role_name(r->who.role), r->who.account,
                         need == TK_ROLE_WRITER ? "write to" : "read",
                         account);
    else
        tk_req_error(r, 403, "Forbidden", 0, "Key %s (%s of account %s) may not %s account %s.",
                     r->who.key_id, tk_role_name(r->who.role), r->who.account,
                     need == TK_ROLE_WRITER ? "write events of" : need == TK_ROLE_ADMIN ? "administer" : "read",
                     account);
    return 1;
}

int tk_req_throttle(tk_req_t *r, int aws)
{
    int wait = tk_ratelimit_take(&r->srv->rl, r->who.key_id, tk_mono_ns());
    if (!wait)
        return 0;
    tk_metrics_add(&r->srv->metrics.throttled, 1);
    if (aws) {
        tk_buf_t b = TK_BUF_INIT;
        tk_buf_puts(&b, "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded: too many "
                        "read requests for this key; retry later.\"}\n");
        tk_req_send(r, 429, "application/x-amz-json-1.1", &b, wait);
    } else {
        tk_req_error(r, 429, "Throttling.User", wait,
                     "Request was denied due to request throttling: more than %.0f read requests "
                     "per second for key %s. Retry after %d s.",
                     r->srv->rl.rate, r->who.key_id, wait);
    }
    return 1;
}

/* ------------------------------------------------------------- rate limiter */

void tk_ratelimit_init(tk_ratelimit_t *rl, double rate, double burst)
{
    memset(rl, 0, sizeof *rl);
    pthread_mutex_init(&rl->mu, NULL);
    rl->rate = rate;
    rl->burst = burst > 0 ? burst : 2 * rate;
    if (rl->burst < 1)
        rl->burst = 1;
}

void tk_ratelimit_destroy(tk_ratelimit_t *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->mu);
}

/* One slot per hash of the key id; a collision gives the newcomer a fresh
 * bucket, which errs on the side of serving (never throttles a key for
 * another key's traffic for longer than one refill). */
int tk_ratelimit_take(tk_ratelimit_t *rl, const char *key, uint64_t now_ns)
{
    if (rl->rate <= 0)
        return 0;
    size_t i = (size_t)(tk_hash64(key, strlen(key)) % TK_RL_SLOTS);
    int wait = 0;
    pthread_mutex_lock(&rl->mu);
    if (strncmp(rl->slot[i].key, key, sizeof rl->slot[i].key)) {
        snprintf(rl->slot[i].key, sizeof rl->slot[i].key, "%s", key);
        rl->slot[i].tokens = rl->burst;
        rl->slot[i].last_ns = now_ns;
    }
    double t = rl->slot[i].tokens;
    if (now_ns > rl->slot[i].last_ns)
        t += (double)(now_ns - rl->slot[i].last_ns) / 1e9 * rl->rate;
    if (t > rl->burst)
        t = rl->burst;
    rl->slot[i].last_ns = now_ns;
    if (t >= 1) {
        t -= 1;
    } else {
        double secs = (1 - t) / rl->rate;
        wait = (int)secs + 1;
    }
    rl->slot[i].tokens = t;
    pthread_mutex_unlock(&rl->mu);
    return wait;
}

/* ------------------------------------------------------------------ routing */

static tk_route_t route_of(const char *method, const char *path, tk_req_t *r)
{
    (void)method;
    if (!strcmp(path, "/"))
        return tk_req_header(r, "X-Amz-Target") ? TK_ROUTE_CLOUDTRAIL : TK_ROUTE_INDEX;
    if (!strcmp(path, "/healthz"))
        return TK_ROUTE_HEALTHZ;
    if (!strcmp(path, "/metrics"))
        return TK_ROUTE_METRICS;
    if (!strcmp(path, "/v1/events"))
        return TK_ROUTE_EVENTS;
    if (!strcmp(path, "/v1/lookup"))
        return TK_ROUTE_LOOKUP;
    if (!strncmp(path, "/v1/resources/", 14))
        return TK_ROUTE_HISTORY;
    return TK_ROUTE_OTHER; /* also /v1/trails: dispatched by path below */
}

/* Set by tk_http_enable_alerts() (route_alerts.c) when the binary links alerting. */
void (*tk_http_alerts_route)(tk_req_t *r) = NULL;

/* Set by tk_http_enable_insights() (route_insights.c) when the binary links Insights. */
void (*tk_http_insights_route)(tk_req_t *r) = NULL;

static int alerts_path(const char *p)
{
    static const char *const pre[] = {"/v1/alert-rules", "/v1/alerts", "/v1/users", "/v1/user-groups"};
    for (size_t i = 0; i < TK_ARRAY_LEN(pre); i++) {
        size_t n = strlen(pre[i]);
        if (!strncmp(p, pre[i], n) && (p[n] == 0 || p[n] == '/'))
            return 1;
    }
    return 0;
}

static void dispatch(tk_req_t *r)
{
    const char *m = r->method;
    int get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    int post = !strcmp(m, "POST");
    switch (r->route) {
    case TK_ROUTE_INDEX:
        if (get)
            return tk_route_index(r);
        break;
    case TK_ROUTE_CLOUDTRAIL:
        if (post)
            return tk_route_cloudtrail(r);
        break;
    case TK_ROUTE_HEALTHZ:
        if (get)
            return tk_route_healthz(r);
        break;
    case TK_ROUTE_METRICS:
        if (get)
            return tk_route_metrics(r);
        break;
    case TK_ROUTE_EVENTS:
        if (post)
            return tk_route_events(r);
        break;
    case TK_ROUTE_LOOKUP:
        if (get || post)
            return tk_route_lookup(r);
        break;
    case TK_ROUTE_HISTORY:
        if (get)
            return tk_route_history(r, r->path + 14);
        break;
    default:
        if (tk_http_alerts_route && alerts_path(r->path))
            return tk_http_alerts_route(r);
        if (tk_http_insights_route && !strncmp(r->path, "/v1/insights", 12) &&
            (r->path[12] == 0 || r->path[12] == '/'))
            return tk_http_insights_route(r);
        if (!strcmp(r->path, "/v1/trails")) {
            if (get || post)
                return tk_route_trails(r);
            break;
        }
        tk_req_error(r, 404, "NotFound", 0,
                     "No route for %.200s. Routes: POST /v1/events, GET|POST /v1/lookup, "
                     "GET /v1/resources/{type}/{name}/history, GET|POST /v1/trails, POST / (CloudTrail "
                     "LookupEvents), GET /healthz, GET /metrics.",
                     r->path);
        return;
    }
    tk_req_error(r, 405, "MethodNotAllowed", 0, "Method %.16s is not allowed on %.200s.", m,
                 r->path);
}

void tk_http_run(tk_req_t *r)
{
    dispatch(r);
    if (!r->responded)
        tk_req_error(r, 500, "InternalError", 0, "The handler produced no response (request %s).",
                     r->request_id);
}

/* Called by MHD before the handler with the raw URI: the request context is
 * born here so the access log and SigV4 see the URI exactly as sent. */
static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *conn)
{
    tk_http_server_t *s = cls;
    tk_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->srv = s;
    r->conn = conn;
    r->t0_ns = tk_mono_ns();
    tk_uuid4(r->request_id);
    r->uri = strdup(uri ? uri : "/");
    r->uri_copy = strdup(uri ? uri : "/");
    if (!r->uri || !r->uri_copy) {
        free(r->uri);
        free(r->uri_copy);
        free(r);
        return NULL;
    }
    char *q = strchr(r->uri_copy, '?');
    if (q) {
        *q = 0;
        r->query = q + 1;
    } else {
        r->query = "";
    }
    r->path = r->uri_copy;
    r->status = 500;
    return r;
}

int tk_req_mem_take(tk_req_t *r, size_t n)
{
    tk_http_server_t *s = r->srv;
    int64_t used = __atomic_add_fetch(&s->mem_used, (int64_t)n, __ATOMIC_RELAXED);
    if (used > (int64_t)s->o.max_request_memory) {
        __atomic_sub_fetch(&s->mem_used, (int64_t)n, __ATOMIC_RELAXED);
        tk_metrics_add(&s->metrics.overloaded, 1);
        return -1;
    }
    r->mem_held += n;
    return 0;
}

void tk_req_mem_give(tk_req_t *r, size_t n)
{
    if (n > r->mem_held)
        n = r->mem_held;
    r->mem_held -= n;
    __atomic_sub_fetch(&r->srv->mem_used, (int64_t)n, __ATOMIC_RELAXED);
}

/* 503 for a request whose memory does not fit the budget now. */
static void refuse_memory(tk_req_t *r, size_t want)
{
    tk_req_error(r, 503, "ServiceUnavailable", 2,
                 "The server is busy with other large requests (%zu more bytes of request "
                 "memory needed; --max-request-memory is %zu). Nothing was stored: retry later.",
                 want, r->srv->o.max_request_memory);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    (void)version;
    tk_http_server_t *s = cls;
    tk_req_t *r = *con_cls;
    if (!r) {
        r = uri_logger(s, url, conn);
        if (!r)
            return MHD_NO;
        *con_cls = r;
    }
    if (!r->started) {
        r->started = 1;
        __atomic_add_fetch(&s->active_requests, 1, __ATOMIC_RELAXED);
        r->conn = conn;
        /* Headers are complete: the body deadline starts. */
        r->tconn = tk_conn_of(conn);
        tk_conn_phase(s, r->tconn, TK_CONN_BODY);
        r->method = method;
        r->route = route_of(method, r->path, r);
        const char *cl = tk_req_header(r, "Content-Length");
        if (cl) {
            char *end = NULL;
            errno = 0;
            unsigned long long v = strtoull(cl, &end, 10);
            if (errno || end == cl || v > s->o.max_body) {
                r->body_too_big = 1;
                r->body_seen = (size_t)v;
            } else if (v > 0 && tk_req_mem_take(r, (size_t)v) != 0) {
                refuse_memory(r, (size_t)v);
            } else if (v > 0 && tk_buf_reserve(&r->body, (size_t)v) != 0) {
                return MHD_NO; /* one allocation instead of a doubling series */
            }
        }
        if (r->body_too_big) {
            /* Refuse before reading: MHD closes the connection after the reply. */
            tk_req_error(r, 413, "RequestEntityTooLarge", 0,
                         "Request body of %s bytes exceeds the limit of %zu bytes (--max-body). "
                         "Split the batch or compress it with gzip.",
                         cl, s->o.max_body);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->responded)
            return MHD_YES;
        r->body_seen += n;
        if (r->body_too_big || r->body.len + n > s->o.max_body) {
            r->body_too_big = 1;
            tk_buf_free(&r->body);
            return MHD_YES;
        }
        /* A body without Content-Length (chunked) reserves as it grows. */
        if (r->body.len + n > r->mem_held && tk_req_mem_take(r, r->body.len + n - r->mem_held)) {
            tk_buf_free(&r->body);
            refuse_memory(r, r->body.len + n);
            return MHD_YES;
        }
        if (tk_buf_append(&r->body, upload_data, n) != 0)
            return MHD_NO;
        return MHD_YES;
    }
    if (r->resp) {
        /* Back from a pool worker (the connection was resumed). */
        r->deferred = 0;
        enum MHD_Result q = MHD_queue_response(conn, r->resp_status, r->resp);
        MHD_destroy_response(r->resp);
        r->resp = NULL;
        return q;
    }
    if (r->deferred)
        return MHD_NO; /* the worker could not build any response (no memory): close */
    if (r->responded)
        return MHD_YES;
    tk_conn_phase(s, r->tconn, TK_CONN_BUSY);
    if (r->body_too_big) {
        tk_req_error(r, 413, "RequestEntityTooLarge", 0,
                     "Request body exceeds the limit of %zu bytes (--max-body). Split the batch "
                     "or compress it with gzip.",
                     s->o.max_body);
        return MHD_YES;
    }
    /* Liveness never waits behind blocking handlers; the rest goes to the pool. */
    if (r->route == TK_ROUTE_HEALTHZ || r->route == TK_ROUTE_INDEX || tk_pool_submit(r) != 0)
        tk_http_run(r);
    return MHD_YES;
}

void tk_http_client_ip(struct MHD_Connection *conn, char *out, size_t n)
{
    out[0] = 0;
    const union MHD_ConnectionInfo *ci =
        conn ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)n);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)n);
}

/* One JSON line per request. The query string is never logged (it may carry
 * NextTokens and, from careless clients, credentials); neither is any header. */
static void access_log(tk_http_server_t *s, tk_req_t *r, uint64_t dur_ns)
{
    if (s->log_fd < 0)
        return;
    char ts[40], addr[64];
    tk_time_format(tk_now_ms(), 1, ts);
    tk_http_client_ip(r->conn, addr, sizeof addr);
    tk_buf_t b = TK_BUF_INIT;
    int rc = tk_buf_printf(&b, "{\"time\":\"%s\",\"method\":", ts);
    const char *m = r->method ? r->method : "-";
    rc |= tk_buf_put_json_str(&b, m, strlen(m));
    rc |= tk_buf_puts(&b, ",\"path\":");
    rc |= tk_buf_put_json_str(&b, r->path, strnlen(r->path, 512));
    rc |= tk_buf_printf(&b,
                        ",\"route\":\"%s\",\"status\":%d,\"bytes_in\":%zu,\"bytes_out\":%zu,"
                        "\"duration_ms\":%.3f,\"remote\":\"%s\",\"key_id\":",
                        tk_route_name(r->route), r->status, r->body_seen, r->bytes_out,
                        (double)dur_ns / 1e6, addr);
    if (r->authed)
        rc |= tk_buf_put_json_str(&b, r->who.key_id, strlen(r->who.key_id));
    else
        rc |= tk_buf_puts(&b, "null");
    rc |= tk_buf_puts(&b, ",\"account\":");
    const char *acct = r->account ? r->account : r->authed ? r->who.account : NULL;
    if (acct)
        rc |= tk_buf_put_json_str(&b, acct, strlen(acct));
    else
        rc |= tk_buf_puts(&b, "null");
    rc |= tk_buf_printf(&b, ",\"request_id\":\"%s\"}\n", r->request_id);
    if (rc == 0) {
        ssize_t w = write(s->log_fd, b.p, b.len); /* one write: lines never interleave */
        (void)w;
    }
    tk_buf_free(&b);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    tk_http_server_t *s = cls;
    tk_req_t *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    if (!r->responded)
        r->status = tk_conn_was_cut(s, r->tconn) ? 408
                    : toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? 200 : 499;
    /* Keep-alive: the next request's headers have header_timeout from now. */
    tk_conn_phase(s, tk_conn_of(conn), TK_CONN_HEADERS);
    if (r->resp)
        MHD_destroy_response(r->resp); /* the connection died before it was queued */
    if (r->started) {
        uint64_t dur = tk_mono_ns() - r->t0_ns;
        tk_metrics_count_request(&s->metrics, r->route, r->status);
        access_log(s, r, dur);
        __atomic_sub_fetch(&s->active_requests, 1, __ATOMIC_RELAXED);
    }
    tk_buf_free(&r->body);
    tk_req_mem_give(r, r->mem_held);
    free(r->uri);
    free(r->uri_copy);
    free(r);
}

/* ------------------------------------------------------------- life cycle */

static int parse_listen(const char *l, struct sockaddr_storage *ss, socklen_t *sl, int *v6,
                        char *err)
{
    char host[128] = "127.0.0.1";
    const char *port_s;
    memset(ss, 0, sizeof *ss);
    if (l[0] == '[') {
        const char *e = strchr(l, ']');
        if (!e || e[1] != ':' || (size_t)(e - l - 1) >= sizeof host)
            return tk_errf(err, TK_EINVAL, "--listen '%s': expected [IPv6]:PORT", l);
        memcpy(host, l + 1, (size_t)(e - l - 1));
        host[e - l - 1] = 0;
        port_s = e + 2;
    } else {
        const char *c = strrchr(l, ':');
        if (c) {
            if ((size_t)(c - l) >= sizeof host)
                return tk_errf(err, TK_EINVAL, "--listen '%s': address too long", l);
            if (c > l) {
                memcpy(host, l, (size_t)(c - l));
                host[c - l] = 0;
            }
            port_s = c + 1;
        } else {
            port_s = l;
        }
    }
    char *end = NULL;
    long port = strtol(port_s, &end, 10);
    if (!*port_s || *end || port < 0 || port > 65535)
        return tk_errf(err, TK_EINVAL, "--listen '%s': port must be 0-65535 (e.g. 127.0.0.1:8460)", l);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *sl = sizeof *a4;
        *v6 = 0;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *sl = sizeof *a6;
        *v6 = 1;
    } else {
        return tk_errf(err, TK_EINVAL,
                       "--listen '%s': '%s' is not an IP address (use 127.0.0.1, 0.0.0.0 or [::1])",
                       l, host);
    }
    return 0;
}

int tk_http_listen_check(const char *listen, char *err)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int v6 = 0;
    int rc = parse_listen(listen, &ss, &sl, &v6, err);
    if (rc)
        return rc;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return tk_errf(err, TK_EIO, "--listen %s: cannot create a socket: %s", listen, strerror(errno));
    int one = 1;
    /* As MHD binds: SO_REUSEADDR, so only a live listener (not TIME_WAIT) fails. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        int e = errno;
        close(fd);
        return tk_errf(err, e == EADDRINUSE ? TK_EBUSY : TK_EIO,
                       "cannot listen on %s: %s%s", listen, strerror(e),
                       e == EADDRINUSE ? " (another trailkeep serve? stop it or give --listen "
                                         "ADDR:PORT)"
                       : e == EADDRNOTAVAIL ? " (no interface has that address)" : "");
    }
    close(fd);
    return 0;
}

/* Thread counts, connection limits and deadlines left at 0 get their
 * defaults (server.h). Raises RLIMIT_NOFILE's soft limit to the hard one:
 * with epoll, open sockets are bounded by descriptors, not by FD_SETSIZE. */
static void apply_conn_defaults(tk_http_opts_t *o)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    if (o->threads <= 0)
        o->threads = ncpu < 2 ? 2 : ncpu > 8 ? 8 : (int)ncpu;
    if (o->workers <= 0)
        o->workers = ncpu * 4 < 16 ? 16 : ncpu * 4 > 64 ? 64 : (int)ncpu * 4;
    struct rlimit rl;
    unsigned cap = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 1048576 ? 1048576 : rl.rlim_max;
            struct rlimit nl = {want > rl.rlim_cur ? want : rl.rlim_cur, rl.rlim_max};
            if (setrlimit(RLIMIT_NOFILE, &nl) == 0)
                rl.rlim_cur = nl.rlim_cur;
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)cap + 256)
            cap = rl.rlim_cur > 256 + 64 ? (unsigned)(rl.rlim_cur - 256) : 64;
    }
    if (!o->max_connections || o->max_connections > cap)
        o->max_connections = cap;
    if (!o->max_connections_per_ip)
        o->max_connections_per_ip = 128;
    if (o->header_timeout_s <= 0)
        o->header_timeout_s = 10;
    if (o->body_timeout_s <= 0)
        o->body_timeout_s = 120;
    if (o->idle_timeout_s <= 0)
        o->idle_timeout_s = 30;
}

int tk_http_start(const tk_http_opts_t *opts, tk_store_t *store, tk_meta_t *meta,
                  tk_http_server_t **out, char *err)
{
    *out = NULL;
    if (!opts->token_key)
        return tk_errf(err, TK_EINVAL, "http: no NextToken key given (tk_lookup_token_key)");
    tk_http_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return tk_errf(err, TK_ENOMEM, "http: out of memory");
    s->store = store;
    s->meta = meta;
    s->o = *opts;
    memcpy(s->token_key, opts->token_key, 32);
    s->o.token_key = s->token_key;
    if (!s->o.listen)
        s->o.listen = "127.0.0.1:8460";
    if (!s->o.max_body)
        s->o.max_body = 16u << 20;
    if (!s->o.max_decompressed)
        s->o.max_decompressed = 64u << 20;
    if (!s->o.max_events)
        s->o.max_events = 10000;
    if (!s->o.max_request_memory)
        s->o.max_request_memory = (size_t)1 << 30;
    apply_conn_defaults(&s->o);
    if (!s->o.max_inflight_appends)
        s->o.max_inflight_appends = 64;
    if (!s->o.max_page)
        s->o.max_page = 50;
    if (s->o.lookup_rate == 0)
        s->o.lookup_rate = 50;
    s->log_fd = opts->access_log_fd == 0 ? 2 : opts->access_log_fd;
    /* Test hook: hold each append in flight this long, so tests can provoke
     * the in-flight limit and a shutdown during an append deterministically. */
    const char *delay = getenv("TK_TEST_APPEND_DELAY_MS");
    if (delay && *delay)
        s->test_append_delay_ms = atoi(delay);
    s->metrics.started_ms = tk_now_ms();
    tk_ratelimit_init(&s->rl, s->o.lookup_rate, s->o.lookup_burst);

    struct sockaddr_storage ss;
    socklen_t sl;
    int v6 = 0;
    int rc = parse_listen(s->o.listen, &ss, &sl, &v6, err);
    if (rc)
        goto fail;

    if ((rc = tk_conns_start(s, err)))
        goto fail;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    if (v6)
        flags |= MHD_USE_IPv6;
    int tls = s->o.tls_cert && s->o.tls_key;
    if (tls) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            rc = tk_errf(err, TK_EUNSUPPORTED, "TLS: this libmicrohttpd has no TLS support");
            goto fail;
        }
        size_t n;
        if ((rc = tk_fs_read_all(s->o.tls_cert, &s->tls_cert_pem, &n, err)) ||
            (rc = tk_fs_read_all(s->o.tls_key, &s->tls_key_pem, &n, err)))
            goto fail;
        flags |= MHD_USE_TLS;
    } else if (s->o.tls_cert || s->o.tls_key) {
        rc = tk_errf(err, TK_EINVAL, "TLS needs both --tls-cert and --tls-key");
        goto fail;
    }
    struct MHD_OptionItem o[20];
    int no = 0;
    o[no++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss};
    o[no++] = (struct MHD_OptionItem){MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_logger, s};
    o[no++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, s};
    o[no++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)tk_conns_notify, s};
    o[no++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, s->o.max_connections, NULL};
    o[no++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                      s->o.max_connections_per_ip, NULL};
    o[no++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, s->o.idle_timeout_s, NULL};
    o[no++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL};
    o[no++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, 256 * 1024, NULL};
    if (s->o.threads > 1)
        o[no++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)s->o.threads, NULL};
    if (tls) {
        o[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key_pem};
        o[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert_pem};
    }
    o[no++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handler, s, MHD_OPTION_ARRAY, o,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        rc = tk_errf(err, TK_EIO,
                     "cannot listen on %s (address in use, or not an address of this host?): "
                     "choose another with --listen ADDR:PORT",
                     s->o.listen);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    *out = s;
    return 0;
fail:
    tk_conns_destroy(s);
    tk_ratelimit_destroy(&s->rl);
    free(s->tls_cert_pem);
    free(s->tls_key_pem);
    free(s);
    return rc;
}

void tk_http_stop(tk_http_server_t *s)
{
    if (!s)
        return;
    /* Quiesce first: the listening socket closes at once, so clients get
     * "connection refused" instead of hanging while requests drain. */
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    /* Let requests in progress answer (an append in flight gets its ack)
     * before MHD closes their sockets; bounded so a stuck client cannot
     * hold the shutdown. */
    for (int i = 0; i < 1000 && __atomic_load_n(&s->active_requests, __ATOMIC_RELAXED) > 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    /* Every queued request is answered and its connection resumed: MHD must
     * not be stopped with a suspended connection. */
    tk_pool_stop(s);
    MHD_stop_daemon(s->daemon);
    tk_conns_destroy(s);
    tk_ratelimit_destroy(&s->rl);
    free(s->tls_cert_pem);
    free(s->tls_key_pem);
    free(s);
}

uint16_t tk_http_port(const tk_http_server_t *s)
{
    return s->port;
}

void tk_http_note_purge(tk_http_server_t *s, const tk_purge_report_t *rep, int failed)
{
    tk_metrics_add(&s->metrics.purge_runs, 1);
    if (failed)
        tk_metrics_add(&s->metrics.purge_failures, 1);
    if (rep) {
        tk_metrics_add(&s->metrics.purge_days, rep->days_removed);
        tk_metrics_add(&s->metrics.purge_events, rep->events_removed);
        tk_metrics_add(&s->metrics.purge_bytes, rep->bytes_removed);
    }
}

void tk_http_note_seal(tk_http_server_t *s, int failed)
{
    tk_metrics_add(&s->metrics.seal_runs, 1);
    if (failed)
        tk_metrics_add(&s->metrics.seal_failures, 1);
}

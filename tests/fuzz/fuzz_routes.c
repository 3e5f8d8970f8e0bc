/* libFuzzer target: the bodies and query strings of the HTTP routes, end to
 * end through the real server (src/http routes and what they call: rule
 * bodies -> tk_stored_rule_compile, users and groups, Insights settings,
 * trail form parameters -> tk_trail_api, ingest, /v1/lookup, the CloudTrail
 * LookupEvents JSON (SigV4-signed here with the admin secret), alerts,
 * Insights and resource-history queries). The server runs in this process
 * on a loopback port with a fresh data directory on tmpfs, recreated every
 * 2,000 inputs so state stays small. Byte 0 picks the route, the rest is
 * the body (or the query). Invariants: every request gets a well-formed
 * HTTP response with a status the API documents (never 500), JSON routes
 * answer valid JSON, and the server keeps answering /healthz. */
#define _GNU_SOURCE
#include "alert/alert_store.h"
#include "base/buf.h"
#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "fuzz_common.h"
#include "http/auth.h"
#include "http/route_alerts.h"
#include "http/route_insights.h"
#include "http/server.h"
#include "insight/service.h"
#include "meta/meta.h"
#include "query/lookup.h"
#include "store/store.h"
#include "trail/trail.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct env {
    char dir[600];
    tk_store_t *store;
    tk_meta_t *meta;
    tk_http_server_t *http;
    uint8_t token_key[32];
    char key_id[64], secret[TK_SECRET_LEN + 1];
    uint16_t port;
    int fd;
    unsigned runs;
} env_t;

static env_t g;

static void env_fail(const char *what, const char *err)
{
    fprintf(stderr, "fuzz_routes setup: %s: %s\n", what, err);
    abort();
}

static void env_up(void)
{
    char err[TK_ERRLEN] = "";
    int created = 0;
    snprintf(g.dir, sizeof g.dir, "%s/data", fz_scratch());
    fz_rmtree(g.dir);
    tk_store_opts_t so = {.dir = g.dir, .no_fsync = 1};
    if (tk_store_open(&so, &g.store, err))
        env_fail("store", err);
    if (tk_meta_open(g.dir, &g.meta, err))
        env_fail("meta", err);
    if (tk_lookup_token_key(g.dir, g.token_key, err))
        env_fail("token key", err);
    if (tk_meta_bootstrap(g.meta, g.key_id, g.secret, &created, err) || !created)
        env_fail("bootstrap", err);
    if (tk_alert_schema(g.meta, err) || tk_insight_schema(g.meta, err) || tk_trail_schema(g.meta, err))
        env_fail("schemas", err);
    tk_http_enable_alerts();
    tk_http_enable_insights();
    tk_http_opts_t ho = {.listen = "127.0.0.1:0", .access_log_fd = -1, .token_key = g.token_key,
                         .lookup_rate = -1, .max_body = 1 << 20, .max_events = 100};
    if (tk_http_start(&ho, g.store, g.meta, &g.http, err))
        env_fail("http", err);
    g.port = tk_http_port(g.http);
    g.fd = -1;
}

static void env_down(void)
{
    if (g.fd >= 0)
        close(g.fd);
    g.fd = -1;
    tk_http_stop(g.http);
    tk_meta_close(g.meta);
    tk_store_close(g.store);
    fz_rmtree(g.dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    env_up();
    return 0;
}

static int connect_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(g.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    FZ_ASSERT(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s", strerror(errno));
    return fd;
}

typedef struct resp {
    int status;
    char ctype[128];
    tk_buf_t body;
    int closed;
} resp_t;

/* Reads one response from fd into r; 0, or -1 when the connection ended
 * before any byte (the caller reconnects and retries). */
static int read_resp(int fd, resp_t *r)
{
    tk_buf_t in = TK_BUF_INIT;
    char buf[65536];
    size_t hdr_end = 0;
    for (;;) {
        ssize_t k = recv(fd, buf, sizeof buf, 0);
        if (k <= 0) {
            FZ_ASSERT(in.len == 0, "connection ended inside a response (%zu bytes read, %s)", in.len,
                      k < 0 ? strerror(errno) : "EOF");
            tk_buf_free(&in);
            return -1;
        }
        tk_buf_append(&in, buf, (size_t)k);
        char *e = memmem(in.p, in.len, "\r\n\r\n", 4);
        if (e) {
            hdr_end = (size_t)(e - in.p) + 4;
            break;
        }
        FZ_ASSERT(in.len < 65536, "response header over 64 KiB");
    }
    FZ_ASSERT(in.len > 12 && !memcmp(in.p, "HTTP/1.1 ", 9), "not an HTTP/1.1 status line: %.40s", in.p);
    r->status = atoi(in.p + 9);
    long clen = -1;
    r->closed = 0;
    r->ctype[0] = 0;
    for (char *l = memchr(in.p, '\n', hdr_end); l && (size_t)(l - in.p) < hdr_end - 2; l = memchr(l, '\n', hdr_end - (size_t)(l - in.p))) {
        l++;
        if (!strncasecmp(l, "Content-Length:", 15))
            clen = atol(l + 15);
        else if (!strncasecmp(l, "Connection: close", 17))
            r->closed = 1;
        else if (!strncasecmp(l, "Content-Type:", 13))
            sscanf(l + 13, " %127[^;\r\n]", r->ctype);
    }
    FZ_ASSERT(clen >= 0, "response without Content-Length (status %d)", r->status);
    while (in.len < hdr_end + (size_t)clen) {
        ssize_t k = recv(fd, buf, sizeof buf, 0);
        FZ_ASSERT(k > 0, "connection ended inside a body (%zu of %ld bytes)", in.len - hdr_end, clen);
        tk_buf_append(&in, buf, (size_t)k);
    }
    r->body = (tk_buf_t)TK_BUF_INIT;
    tk_buf_append(&r->body, in.p + hdr_end, (size_t)clen);
    tk_buf_free(&in);
    return 0;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return; /* the server closed: read_resp sees it */
        p += k;
        n -= (size_t)k;
    }
}

static void request(const char *method, const char *path, const char *query, const char *extra_headers,
                    const uint8_t *body, size_t blen, resp_t *r)
{
    tk_buf_t q = TK_BUF_INIT;
    tk_buf_printf(&q, "%s %s%s%s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n%sContent-Length: %zu\r\n\r\n", method, path,
                  query && *query ? "?" : "", query ? query : "", (unsigned)g.port, extra_headers, blen);
    tk_buf_append(&q, body, blen);
    for (int attempt = 0;; attempt++) {
        if (g.fd < 0)
            g.fd = connect_server();
        send_all(g.fd, q.p, q.len);
        if (read_resp(g.fd, r) == 0)
            break;
        close(g.fd);
        g.fd = -1;
        FZ_ASSERT(attempt < 2, "no response to %s %s on a fresh connection", method, path);
    }
    if (r->closed) {
        close(g.fd);
        g.fd = -1;
    }
    tk_buf_free(&q);
}

static const int OK_STATUS[] = {200, 201, 204, 400, 401, 403, 404, 405, 409, 411, 413, 415, 422, 429, 503};

static void check(const char *what, resp_t *r)
{
    int ok = 0;
    for (size_t i = 0; i < TK_ARRAY_LEN(OK_STATUS); i++)
        ok |= r->status == OK_STATUS[i];
    FZ_ASSERT(ok, "%s: status %d: %.*s", what, r->status, (int)(r->body.len > 300 ? 300 : r->body.len),
              r->body.p ? r->body.p : "");
    if (strstr(r->ctype, "json") && r->body.len) {
        cJSON *j = cJSON_ParseWithLength(r->body.p, r->body.len);
        FZ_ASSERT(j, "%s: status %d, body is not JSON: %.*s", what, r->status,
                  (int)(r->body.len > 300 ? 300 : r->body.len), r->body.p);
        cJSON_Delete(j);
    }
}

static void sigv4_headers(const char *path, const uint8_t *body, size_t blen, tk_buf_t *out)
{
    char date[32], amz[17];
    tk_time_format(tk_now_ms() / 1000 * 1000, 0, date); /* YYYY-MM-DDTHH:MM:SSZ */
    snprintf(amz, sizeof amz, "%.4s%.2s%.2sT%.2s%.2s%.2sZ", date, date + 5, date + 8, date + 11, date + 14,
             date + 17);
    char host[32];
    snprintf(host, sizeof host, "127.0.0.1:%u", (unsigned)g.port);
    const char *target = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents";
    tk_http_header_t h[] = {{"host", host}, {"x-amz-date", amz}, {"x-amz-target", target}};
    uint8_t hb[32];
    char hex[65], sig[65], err[TK_ERRLEN];
    tk_sha256(blen ? (const void *)body : "", blen, hb);
    tk_hex(hb, 32, hex);
    FZ_ASSERT(tk_sigv4_sign(g.secret, "POST", path, "", h, 3, "host;x-amz-date;x-amz-target", hex, amz,
                            "us-east-1", "cloudtrail", sig, err) == 0,
              "sign: %s", err);
    tk_buf_printf(out,
                  "X-Amz-Date: %s\r\nX-Amz-Target: %s\r\nContent-Type: application/x-amz-json-1.1\r\n"
                  "Authorization: AWS4-HMAC-SHA256 Credential=%s/%.8s/us-east-1/cloudtrail/aws4_request, "
                  "SignedHeaders=host;x-amz-date;x-amz-target, Signature=%s\r\n",
                  amz, target, g.key_id, amz, sig);
}

typedef struct route {
    const char *method, *path;
    int kind; /* 0 JSON body, 1 form body, 2 query, 3 SigV4 JSON body, 4 event body */
} route_t;

static const route_t ROUTES[] = {
    {"POST", "/v1/alert-rules", 0},        {"PUT", "/v1/alert-rules/fz-rule", 0},
    {"POST", "/v1/users", 0},              {"PUT", "/v1/user-groups/fz-group", 0},
    {"PUT", "/v1/insights/settings", 0},   {"POST", "/v1/trails", 1},
    {"POST", "/v1/events", 4},             {"POST", "/v1/lookup", 0},
    {"POST", "/", 3},                      {"GET", "/v1/lookup", 2},
    {"GET", "/v1/alerts", 2},              {"GET", "/v1/insights", 2},
    {"GET", "/v1/resources/ACS::ECS::Instance/i-1/history", 2},
    {"GET", "/v1/trails", 2},              {"PUT", "/v1/users/fz-user", 0},
    {"POST", "/v1/alert-rules/fz-rule/test", 0},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (++g.runs % 2000 == 0) {
        env_down();
        env_up();
    }
    const route_t *rt = &ROUTES[data[0] % TK_ARRAY_LEN(ROUTES)];
    const uint8_t *body = data + 1;
    size_t blen = size - 1;
    tk_buf_t hdr = TK_BUF_INIT;
    char *query = NULL;
    if (rt->kind == 3) {
        sigv4_headers(rt->path, body, blen, &hdr);
    } else {
        tk_buf_printf(&hdr, "Authorization: Bearer %s:%s\r\n", g.key_id, g.secret);
        if (rt->kind == 1)
            tk_buf_puts(&hdr, "Content-Type: application/x-www-form-urlencoded\r\n");
        else if (rt->kind != 2)
            tk_buf_puts(&hdr, "Content-Type: application/json\r\n");
    }
    if (rt->kind == 2) {
        /* a query string: only bytes a request line can carry */
        query = malloc(blen + 1);
        size_t q = 0;
        for (size_t i = 0; i < blen; i++)
            if (body[i] > 0x20 && body[i] < 0x7f && body[i] != '#')
                query[q++] = (char)body[i];
        query[q] = 0;
        blen = 0;
    }
    resp_t r;
    request(rt->method, rt->path, query, hdr.p ? hdr.p : "", body, blen, &r);
    check(rt->path, &r);
    tk_buf_free(&r.body);
    request("GET", "/healthz", NULL, "", NULL, 0, &r);
    FZ_ASSERT(r.status == 200, "/healthz answered %d after %s %s", r.status, rt->method, rt->path);
    tk_buf_free(&r.body);
    tk_buf_free(&hdr);
    free(query);
    return 0;
}

/* trailkeep service routes: GET /healthz (no auth, cheap: for load
 * balancers; liveness only, no counts: anyone can call it), GET /metrics
 * (Prometheus text; admin key, per-account series only for the accounts it
 * may read, or open to loopback clients by option) and GET / (a small page
 * saying what the API is). */
#include "http/http_internal.h"
#include "trail/trail.h"

#include "base/tk.h"
#include "base/tktime.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#ifndef TK_VERSION
#define TK_VERSION "0.1.0"
#endif

/* Unauthenticated, so it says nothing about the data: no event count, no
 * sequence number, no load (those are in /metrics, behind an admin key). */
void tk_route_healthz(tk_req_t *r)
{
    tk_buf_t o = TK_BUF_INIT;
    tk_buf_puts(&o, "{\"status\":\"ok\"}\n");
    tk_req_send(r, 200, "application/json", &o, 0);
}

static int is_loopback(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return 0;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) ||
               (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return 0;
}

typedef struct acct_ctx {
    tk_req_t *r;
    tk_buf_t *o;
    int all;
    int rc;
} acct_ctx_t;

static int may_read(void *ud, const char *account)
{
    acct_ctx_t *c = ud;
    return c->all || tk_auth_allow(c->r->srv->meta, &c->r->who, account, TK_ROLE_READER) == 0;
}

static void acct_line(void *ud, const char *account, uint64_t n)
{
    acct_ctx_t *c = ud;
    /* An admin sees the accounts it may read (its own, members for the
     * management account); the loopback operator sees every account. */
    if (!may_read(c, account))
        return;
    c->rc |= tk_buf_puts(c->o, "trailkeep_account_events{account=");
    c->rc |= tk_buf_put_json_str(c->o, account, strlen(account));
    c->rc |= tk_buf_printf(c->o, "} %llu\n", (unsigned long long)n);
}


/* One backlog and one delivered-events line per trail the caller may read. */
static void trail_line(void *ud, const tk_trail_t *t, const tk_trail_status_t *st)
{
    acct_ctx_t *c = ud;
    if (!may_read(c, t->account))
        return;
    for (int k = 0; k < 2; k++) {
        c->rc |= tk_buf_puts(c->o, k ? "trailkeep_trail_delivered_events_total{account="
                                     : "trailkeep_trail_backlog{account=");
        c->rc |= tk_buf_put_json_str(c->o, t->account, strlen(t->account));
        c->rc |= tk_buf_puts(c->o, ",trail=");
        c->rc |= tk_buf_put_json_str(c->o, t->name, strlen(t->name));
        c->rc |= tk_buf_printf(c->o, "} %llu\n",
                               (unsigned long long)(k ? st->delivered_events : st->backlog));
    }
}

void tk_route_metrics(tk_req_t *r)
{
    tk_http_server_t *s = r->srv;
    int open = s->o.metrics_open_loopback && is_loopback(r->conn) && !tk_req_header(r, "Authorization");
    if (!open) {
        if (tk_req_auth(r))
            return;
        if (r->who.role != TK_ROLE_ADMIN) {
            tk_req_error(r, 403, "Forbidden", 0,
                         "/metrics needs an admin key (key %s is a %s key).", r->who.key_id,
                         tk_role_name(r->who.role));
            return;
        }
    }
    tk_buf_t o = TK_BUF_INIT;
    int rc = tk_metrics_render(&s->metrics, &o);
    tk_store_stats_t st;
    memset(&st, 0, sizeof st);
    tk_store_stats(s->store, &st);
    rc |= tk_buf_printf(&o,
                        "# HELP trailkeep_store_events Events stored (sealed and unsealed).\n"
                        "# TYPE trailkeep_store_events gauge\ntrailkeep_store_events %llu\n"
                        "# HELP trailkeep_store_unsealed_events Events in the WAL not yet sealed into segments.\n"
                        "# TYPE trailkeep_store_unsealed_events gauge\ntrailkeep_store_unsealed_events %llu\n"
                        "# HELP trailkeep_store_disk_bytes Bytes on disk (segments + WAL).\n"
                        "# TYPE trailkeep_store_disk_bytes gauge\ntrailkeep_store_disk_bytes %llu\n"
                        "# HELP trailkeep_store_wal_bytes Bytes of WAL on disk.\n"
                        "# TYPE trailkeep_store_wal_bytes gauge\ntrailkeep_store_wal_bytes %llu\n"
                        "# HELP trailkeep_store_segments Sealed segments.\n"
                        "# TYPE trailkeep_store_segments gauge\ntrailkeep_store_segments %llu\n"
                        "# HELP trailkeep_store_last_seq Highest sequence number assigned.\n"
                        "# TYPE trailkeep_store_last_seq gauge\ntrailkeep_store_last_seq %llu\n"
                        "# HELP trailkeep_uptime_seconds Seconds since the service started.\n"
                        "# TYPE trailkeep_uptime_seconds gauge\ntrailkeep_uptime_seconds %lld\n"
                        "# HELP trailkeep_info Build information.\n"
                        "# TYPE trailkeep_info gauge\ntrailkeep_info{version=\"" TK_VERSION "\"} 1\n",
                        (unsigned long long)st.events, (unsigned long long)st.unsealed_events,
                        (unsigned long long)st.disk_bytes, (unsigned long long)st.wal_bytes,
                        (unsigned long long)st.segments,
                        (unsigned long long)tk_store_last_seq(s->store),
                        (long long)((tk_now_ms() - s->metrics.started_ms) / 1000));
    tk_conns_counts_t cc;
    tk_conns_counts(s, &cc);
    rc |= tk_buf_printf(&o,
                        "# HELP trailkeep_http_connections Open TCP connections.\n"
                        "# TYPE trailkeep_http_connections gauge\ntrailkeep_http_connections %llu\n"
                        "# HELP trailkeep_http_header_timeouts_total Connections cut because a "
                        "request's headers did not arrive within --header-timeout.\n"
                        "# TYPE trailkeep_http_header_timeouts_total counter\n"
                        "trailkeep_http_header_timeouts_total %llu\n"
                        "# HELP trailkeep_http_body_timeouts_total Connections cut because a "
                        "request's body did not arrive within --body-timeout.\n"
                        "# TYPE trailkeep_http_body_timeouts_total counter\n"
                        "trailkeep_http_body_timeouts_total %llu\n"
                        "# HELP trailkeep_http_handler_threads Handler threads (--workers).\n"
                        "# TYPE trailkeep_http_handler_threads gauge\ntrailkeep_http_handler_threads %llu\n"
                        "# HELP trailkeep_http_handlers_busy Requests a handler thread is running.\n"
                        "# TYPE trailkeep_http_handlers_busy gauge\ntrailkeep_http_handlers_busy %llu\n"
                        "# HELP trailkeep_http_handler_queue Requests waiting for a handler thread.\n"
                        "# TYPE trailkeep_http_handler_queue gauge\ntrailkeep_http_handler_queue %llu\n",
                        (unsigned long long)cc.open, (unsigned long long)cc.header_timeouts,
                        (unsigned long long)cc.body_timeouts, (unsigned long long)cc.workers,
                        (unsigned long long)cc.busy, (unsigned long long)cc.queued);
    rc |= tk_buf_puts(&o, "# HELP trailkeep_account_events Events stored per account.\n"
                          "# TYPE trailkeep_account_events gauge\n");
    acct_ctx_t c = {.r = r, .o = &o, .all = open, .rc = 0};
    tk_store_account_counts(s->store, acct_line, &c);
    rc |= c.rc;
    rc |= tk_buf_puts(&o, "# HELP trailkeep_trail_backlog Events of the trail's account (an "
                          "organization trail: its members') after its delivery checkpoint (not "
                          "all may match its filter).\n"
                          "# TYPE trailkeep_trail_backlog gauge\n"
                          "# HELP trailkeep_trail_delivered_events_total Events a trail delivered.\n"
                          "# TYPE trailkeep_trail_delivered_events_total counter\n");
    char terr[TK_ERRLEN];
    tk_trail_backlogs(s->meta, s->store, trail_line, &c, terr);
    rc |= c.rc;
    if (s->o.extra_metrics)
        s->o.extra_metrics(s->o.extra_metrics_ud, &o, may_read, &c);
    if (rc) {
        tk_buf_free(&o);
        tk_req_error(r, 500, "InternalError", 0, "out of memory");
        return;
    }
    tk_req_send(r, 200, "text/plain; version=0.0.4; charset=utf-8", &o, 0);
}

static const char index_html[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>trailkeep</title>\n<style>body{font:15px/1.5 system-ui,sans-serif;max-width:52em;"
    "margin:2em auto;padding:0 1em;color:#222}code,pre{background:#f4f4f4;padding:.1em .3em}"
    "pre{padding:.6em;overflow:auto}td{padding:.2em .8em .2em 0;vertical-align:top}</style>"
    "</head><body>\n<h1>trailkeep</h1>\n<p>A self-hosted audit trail for cloud operations "
    "(ActionTrail / CloudTrail compatible). This server speaks the API below; every route "
    "except <code>/healthz</code> needs an API key: <code>Authorization: Bearer "
    "KEYID:SECRET</code> (or AWS SigV4 for the CloudTrail endpoint).</p>\n<table>\n"
    "<tr><td><code>POST /v1/events</code></td><td>record events: one object, a JSON array or "
    "JSON Lines, gzip accepted (writer key)</td></tr>\n"
    "<tr><td><code>GET|POST /v1/lookup</code></td><td>LookupEvents: StartTime, EndTime, "
    "LookupAttribute.N.Key/Value, MaxResults, NextToken, Direction</td></tr>\n"
    "<tr><td><code>POST /</code></td><td>CloudTrail LookupEvents (<code>aws cloudtrail "
    "lookup-events --endpoint-url ...</code>)</td></tr>\n"
    "<tr><td><code>GET /v1/resources/{type}/{name}/history</code></td><td>every write event "
    "that touched a resource, newest first</td></tr>\n"
    "<tr><td><code>GET /healthz</code>, <code>GET /metrics</code></td><td>health, Prometheus "
    "metrics (admin key)</td></tr>\n</table>\n<pre>curl -H 'Authorization: Bearer KEYID:SECRET' "
    "'http://HOST/v1/lookup?LookupAttribute.1.Key=EventName&amp;LookupAttribute.1.Value=ConsoleSignin'"
    "</pre>\n<p>See docs/api.md in the source tree for every parameter and error.</p>\n"
    "</body></html>\n";

void tk_route_index(tk_req_t *r)
{
    tk_buf_t o = TK_BUF_INIT;
    tk_buf_append(&o, index_html, sizeof index_html - 1);
    tk_req_send(r, 200, "text/html; charset=utf-8", &o, 0);
}

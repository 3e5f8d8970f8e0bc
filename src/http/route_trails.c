/* trailkeep service route: /v1/trails, the trail API in ActionTrail's RPC
 * style: Action=CreateTrail&Name=...&EventRW=All as a query string (GET or
 * POST) or a form body (POST). Changes need the admin role, DescribeTrails
 * and GetTrailStatus the reader role; both act on the key's own account.
 * The logic lives in src/trail (tk_trail_api); this file is transport only. */
#include "http/http_internal.h"

#include "base/tk.h"
#include "trail/trail.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

void tk_req_trail_caller(tk_req_t *r, char ip[64], tk_trail_caller_t *out)
{
    tk_http_client_ip(r->conn, ip, 64);
    *out = (tk_trail_caller_t){.account = r->who.account,
                               .key_id = r->who.key_id,
                               .source_ip = ip[0] ? ip : NULL,
                               .user_agent = tk_req_header(r, "User-Agent")};
}

static int status_of(int rc, const char **code)
{
    switch (rc) {
    case TK_EINVAL: *code = "InvalidParameter"; return 400;
    case TK_EUNSUPPORTED: *code = "InvalidAction"; return 400;
    case TK_ENOTFOUND: *code = "TrailNotFound"; return 404;
    case TK_EEXIST: *code = "TrailAlreadyExists"; return 409;
    case TK_EPERM: *code = "Forbidden"; return 403;
    case TK_ETOOBIG: *code = "MaxTrailsExceeded"; return 400;
    case TK_ENOSPC: *code = "ServiceUnavailable"; return 503;
    default: *code = "InternalError"; return 500;
    }
}

void tk_route_trails(tk_req_t *r)
{
    tk_http_server_t *s = r->srv;
    if (tk_req_auth(r))
        return;
    tk_kvlist_t kv = {0, 0, NULL};
    int bad = tk_form_parse(r->query, strlen(r->query), &kv);
    if (!bad && !strcmp(r->method, "POST") && r->body.len)
        bad = tk_form_parse(r->body.p, r->body.len, &kv);
    if (bad) {
        tk_kvlist_free(&kv);
        tk_req_error(r, 400, "InvalidParameter", 0,
                     "The query string or form body is malformed (bad %%-escape or more than 64 "
                     "fields).");
        return;
    }
    const char *action = tk_kv_get(&kv, "Action");
    int kind = tk_trail_action_kind(action);
    if (kind < 0) {
        tk_req_error(r, 400, "InvalidAction", 0,
                     "Action '%.64s' is not a trail action: CreateTrail, UpdateTrail, DeleteTrail, "
                     "DescribeTrails, GetTrailStatus, StartLogging, StopLogging, ListPublicKeys.",
                     action ? action : "");
        tk_kvlist_free(&kv);
        return;
    }
    r->account = r->who.account;
    if (tk_req_allow(r, r->who.account, kind ? TK_ROLE_READER : TK_ROLE_ADMIN) ||
        (kind && tk_req_throttle(r, 0))) {
        tk_kvlist_free(&kv);
        return;
    }
    if (tk_req_format_json(r, tk_kv_get(&kv, "Format"))) {
        tk_kvlist_free(&kv);
        return;
    }
    tk_trail_param_t p[64];
    size_t n = 0;
    for (size_t i = 0; i < kv.n && n < TK_ARRAY_LEN(p); i++) {
        /* Transport parameters of the RPC style are not trail parameters. */
        if (!strcmp(kv.kv[i].key, "Action") || !strcmp(kv.kv[i].key, "Version") ||
            !strcmp(kv.kv[i].key, "Format") || (kind && strcmp(kv.kv[i].key, "Name") &&
                                                 strcmp(kv.kv[i].key, "NameList")))
            continue;
        p[n].name = kv.kv[i].key;
        p[n].value = kv.kv[i].val;
        n++;
    }
    char ip[64], err[TK_ERRLEN] = "";
    tk_trail_caller_t c;
    tk_req_trail_caller(r, ip, &c);
    tk_buf_t o = TK_BUF_INIT;
    int rc = tk_trail_api(s->meta, s->store, &c, action, p, n, &o, err);
    tk_kvlist_free(&kv);
    if (rc) {
        const char *code;
        int st = status_of(rc, &code);
        tk_buf_free(&o);
        tk_req_error(r, st, code, st == 503 ? 5 : 0, "%s", err);
        return;
    }
    tk_buf_putc(&o, '\n');
    tk_req_send(r, 200, "application/json", &o, 0);
}

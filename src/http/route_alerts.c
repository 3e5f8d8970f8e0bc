/* trailkeep service routes for alerting: REST with JSON bodies.
 *   GET|POST /v1/alert-rules, GET|PUT|DELETE /v1/alert-rules/{id},
 *   POST /v1/alert-rules/{id}/enable|disable
 *   GET /v1/alerts?state=&rule=&since=&until=&limit=, GET /v1/alerts/{id},
 *   POST /v1/alerts/{id}/acknowledge|close
 *   GET|POST /v1/users, GET|PUT|DELETE /v1/users/{name}
 *   GET|POST /v1/user-groups, DELETE /v1/user-groups/{name}
 * Reads need the reader role, writes the admin role, for ?account= (default:
 * the key's account; the management account's admin may act for members).
 * Transport only: the logic is in src/alert (alert_store.h). */
#include "http/http_internal.h"
#include "http/route_alerts.h"

#include "alert/alert_store.h"
#include "alert/service.h"
#include "base/tk.h"
#include "base/tktime.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void (*tk_http_alerts_route)(tk_req_t *r); /* server.c */

static int status_of(int rc, const char **code)
{
    switch (rc) {
    case TK_EINVAL: *code = "InvalidParameter"; return 400;
    case TK_EUNSUPPORTED: *code = "Unsupported"; return 400;
    case TK_ENOTFOUND: *code = "NotFound"; return 404;
    case TK_EEXIST: *code = "AlreadyExists"; return 409;
    case TK_EBUSY: *code = "ServiceUnavailable"; return 503;
    default: *code = "InternalError"; return 500;
    }
}

static void fail(tk_req_t *r, int rc, const char *err)
{
    const char *code;
    int st = status_of(rc, &code);
    tk_req_error(r, st, code, st == 503 ? 2 : 0, "%s", err);
}

static const char *jstr(const cJSON *j, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, k));
}

/* Splits "/v1/x/ID/verb" after the prefix into id and verb (decoded). */
static int split(const char *rest, char *id, size_t idn, char *verb, size_t vn)
{
    id[0] = verb[0] = 0;
    if (!*rest)
        return 0;
    if (*rest != '/')
        return -1;
    rest++;
    const char *sl = strchr(rest, '/');
    size_t n = sl ? (size_t)(sl - rest) : strlen(rest), outn;
    if (!n || n >= idn || tk_pct_decode(rest, n, id, &outn))
        return -1;
    if (sl) {
        snprintf(verb, vn, "%s", sl + 1);
        if (!verb[0] || strchr(verb, '/'))
            return -1;
    }
    return 0;
}

static void send_buf(tk_req_t *r, int status, tk_buf_t *b)
{
    tk_buf_putc(b, '\n');
    tk_req_send(r, status, "application/json", b, 0);
}

/* Fills a stored rule from a JSON body: {"id", "template"|"rule"|"sigma",
 * "severity", "recipients", "repeat", "scope", "enabled"}. */
static const tk_body_field_t rule_fields[] = {
    {"id", cJSON_String},        {"template", cJSON_String},
    {"rule", cJSON_Object | cJSON_String}, {"sigma", cJSON_String},
    {"severity", cJSON_String},  {"recipients", cJSON_String | cJSON_Array},
    {"repeat", cJSON_String},    {"scope", cJSON_String},
    {"enabled", cJSON_True | cJSON_False},
};

/* "a,group:b" from a string or an array of strings (recipients, group
 * members; checked by tk_body_check_fields). Owned, or NULL. */
static char *name_list(const cJSON *v)
{
    if (!v)
        return strdup("");
    if (cJSON_IsString(v))
        return strdup(v->valuestring);
    tk_buf_t b = TK_BUF_INIT;
    const cJSON *it;
    int rc = 0;
    cJSON_ArrayForEach(it, v) {
        if (b.len)
            rc |= tk_buf_putc(&b, ',');
        rc |= tk_buf_puts(&b, it->valuestring);
    }
    if (rc) {
        tk_buf_free(&b);
        return NULL;
    }
    return tk_buf_steal(&b);
}

static int rule_from_body(const cJSON *j, const char *account, const char *id, tk_stored_rule_t *r,
                          char *err)
{
    memset(r, 0, sizeof *r);
    int frc = tk_body_check_fields(j, rule_fields, TK_ARRAY_LEN(rule_fields), "rule body", err);
    if (frc)
        return frc;
    snprintf(r->account, sizeof r->account, "%s", account);
    const char *jid = id ? id : jstr(j, "id");
    if (!jid)
        return tk_errf(err, TK_EINVAL, "\"id\" is required");
    snprintf(r->id, sizeof r->id, "%s", jid);
    const cJSON *rule = cJSON_GetObjectItemCaseSensitive(j, "rule");
    const char *tmpl = jstr(j, "template"), *sigma = jstr(j, "sigma");
    if (!!tmpl + !!sigma + !!rule != 1)
        return tk_errf(err, TK_EINVAL, "give exactly one of \"template\" (\"NAME?param=value\"), "
                                       "\"rule\" (rule JSON, docs/rules.md) or \"sigma\" (YAML text)");
    if (tmpl) {
        r->kind = TK_RULE_TEMPLATE;
        r->definition = strdup(tmpl);
    } else if (sigma) {
        r->kind = TK_RULE_SIGMA;
        r->definition = strdup(sigma);
    } else {
        r->kind = TK_RULE_JSON;
        r->definition = cJSON_IsString(rule) ? strdup(rule->valuestring) : cJSON_PrintUnformatted(rule);
    }
    r->recipients = name_list(cJSON_GetObjectItemCaseSensitive(j, "recipients"));
    if (!r->definition || !r->recipients)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    tk_rule_t *cr = NULL;
    int rc = tk_stored_rule_compile(r, &cr, err);
    if (rc)
        return rc;
    r->severity = tk_rule_severity(cr);
    tk_rule_destroy(cr);
    const char *sev = jstr(j, "severity"), *rep = jstr(j, "repeat"), *scope = jstr(j, "scope");
    if (sev && tk_severity_parse(sev, &r->severity))
        return tk_errf(err, TK_EINVAL, "severity '%.32s': use critical, high, medium, low or report", sev);
    r->repeat_ms = 3600000;
    if (rep && tk_duration_parse(rep, &r->repeat_ms))
        return tk_errf(err, TK_EINVAL, "repeat '%.32s': a duration like 30m or 1h", rep);
    if (scope && strcmp(scope, "own") && strcmp(scope, "org"))
        return tk_errf(err, TK_EINVAL, "scope '%.32s': use own or org", scope);
    r->org_scope = scope && !strcmp(scope, "org");
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(j, "enabled");
    r->enabled = en ? cJSON_IsTrue(en) : 1;
    return 0;
}

typedef struct warn_ctx {
    tk_buf_t w;
    int n;
} warn_ctx_t;

static void on_warning(void *ud, const char *msg)
{
    warn_ctx_t *c = ud;
    if (c->n++)
        tk_buf_putc(&c->w, ',');
    tk_buf_put_json_str(&c->w, msg, strlen(msg));
}

/* A rule whose recipients no channel can reach is stored, but the answer
 * says so ("warnings"), so it does not fail silently at its first alert. */
static void add_reach_warnings(tk_req_t *r, tk_meta_t *m, const char *account, const char *recipients,
                               tk_buf_t *b)
{
    warn_ctx_t c = {TK_BUF_INIT, 0};
    char err[TK_ERRLEN];
    tk_alert_recipients_reach(m, account, recipients, r->srv->o.smtp_configured, on_warning, &c, err);
    if (c.n && b->len && b->p[b->len - 1] == '}') {
        b->len--;
        tk_buf_puts(b, ",\"warnings\":[");
        tk_buf_append(b, c.w.p, c.w.len);
        tk_buf_puts(b, "]}");
    }
    tk_buf_free(&c.w);
}

static void rules_route(tk_req_t *r, const char *account, const char *rest, const cJSON *body)
{
    tk_meta_t *m = r->srv->meta;
    char id[128], verb[32], err[TK_ERRLEN] = "";
    if (split(rest, id, sizeof id, verb, sizeof verb)) {
        tk_req_error(r, 404, "NotFound", 0, "No route for %.200s.", r->path);
        return;
    }
    const char *me = r->method;
    int get = !strcmp(me, "GET"), write = !get;
    if (tk_req_allow(r, account, write ? TK_ROLE_ADMIN : TK_ROLE_READER) || (get && tk_req_throttle(r, 0)))
        return;
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    if (!id[0] && get) {
        tk_stored_rule_t *v = NULL;
        size_t n = 0;
        if (!(rc = tk_alert_rule_list(m, account, &v, &n, err))) {
            tk_buf_puts(&b, "{\"rules\":[");
            for (size_t i = 0; i < n; i++) {
                if (i)
                    tk_buf_putc(&b, ',');
                tk_stored_rule_json(&v[i], &b);
            }
            tk_buf_puts(&b, "]}");
        }
        tk_stored_rules_free(v, n);
    } else if ((!id[0] && !strcmp(me, "POST")) || (id[0] && !verb[0] && !strcmp(me, "PUT"))) {
        if (!body) {
            tk_buf_free(&b);
            tk_req_error(r, 400, "InvalidParameter", 0, "The body must be a JSON object (see docs/alerting.md).");
            return;
        }
        tk_stored_rule_t sr = {0}; /* zeroed: freed also when rule_from_body fails early */
        rc = rule_from_body(body, account, id[0] ? id : NULL, &sr, err);
        if (!rc)
            rc = tk_alert_recipients_check(m, account, sr.recipients, err);
        if (!rc)
            rc = id[0] ? tk_alert_rule_update(m, &sr, err) : tk_alert_rule_create(m, &sr, err);
        if (!rc) {
            tk_stored_rule_t got = {0}; /* untouched when the get fails, freed below */
            if (!(rc = tk_alert_rule_get(m, account, sr.id, &got, err))) {
                tk_stored_rule_json(&got, &b);
                add_reach_warnings(r, m, account, got.recipients, &b);
            }
            tk_stored_rule_free(&got);
        }
        tk_stored_rule_free(&sr);
    } else if (id[0] && !verb[0] && get) {
        tk_stored_rule_t got = {0}; /* untouched when the get fails (unknown id), freed below */
        if (!(rc = tk_alert_rule_get(m, account, id, &got, err)))
            tk_stored_rule_json(&got, &b);
        tk_stored_rule_free(&got);
    } else if (id[0] && !verb[0] && !strcmp(me, "DELETE")) {
        if (!(rc = tk_alert_rule_delete(m, account, id, err)))
            tk_buf_printf(&b, "{\"deleted\":true}");
    } else if (id[0] && !strcmp(me, "POST") && !strcmp(verb, "test")) {
        tk_stored_rule_t got = {0};
        if (!(rc = tk_alert_rule_get(m, account, id, &got, err))) {
            if (!r->srv->o.notify_test)
                rc = tk_errf(err, TK_EUNSUPPORTED, "this server sends no notifications (--no-alerts)");
            else
                rc = r->srv->o.notify_test(r->srv->o.notify_test_ud, account, got.id,
                                           got.recipients, &b, err);
        }
        tk_stored_rule_free(&got);
    } else if (id[0] && !strcmp(me, "POST") && (!strcmp(verb, "enable") || !strcmp(verb, "disable"))) {
        if (!(rc = tk_alert_rule_set_enabled(m, account, id, !strcmp(verb, "enable"), err)))
            tk_buf_printf(&b, "{\"enabled\":%s}", !strcmp(verb, "enable") ? "true" : "false");
    } else {
        tk_buf_free(&b);
        tk_req_error(r, 405, "MethodNotAllowed", 0, "%.16s is not allowed on %.200s.", me, r->path);
        return;
    }
    if (rc) {
        tk_buf_free(&b);
        fail(r, rc, err);
        return;
    }
    send_buf(r, !id[0] && !get ? 201 : 200, &b);
}

static void alerts_route(tk_req_t *r, const char *account, const char *rest, const tk_kvlist_t *q,
                         const cJSON *body)
{
    tk_meta_t *m = r->srv->meta;
    char id[32], verb[32], err[TK_ERRLEN] = "";
    if (split(rest, id, sizeof id, verb, sizeof verb)) {
        tk_req_error(r, 404, "NotFound", 0, "No route for %.200s.", r->path);
        return;
    }
    int get = !strcmp(r->method, "GET");
    if (tk_req_allow(r, account, get ? TK_ROLE_READER : TK_ROLE_ADMIN) || (get && tk_req_throttle(r, 0)))
        return;
    char *end = NULL;
    long long aid = id[0] ? strtoll(id, &end, 10) : 0;
    if (id[0] && (*end || aid <= 0)) {
        tk_req_error(r, 400, "InvalidParameter", 0, "Alert id '%.32s' must be a positive number.", id);
        return;
    }
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    if (!id[0] && get) {
        tk_alert_filter_t f = {.account = account, .rule = tk_kv_get(q, "rule"), .state = -1};
        const char *st = tk_kv_get(q, "state"), *since = tk_kv_get(q, "since"), *until = tk_kv_get(q, "until");
        const char *lim = tk_kv_get(q, "limit");
        tk_alert_state_t s;
        if (st && tk_alert_state_parse(st, &s))
            rc = tk_errf(err, TK_EINVAL, "state '%.32s': use triggered, cleared, acknowledged or closed", st);
        else if (st)
            f.state = (int)s;
        if (!rc && since && tk_time_parse_any(since, tk_now_ms(), &f.since_ms))
            rc = tk_errf(err, TK_EINVAL, "since '%.40s' is not a time: use " TK_TIME_GRAMMAR, since);
        if (!rc && until && tk_time_parse_any(until, tk_now_ms(), &f.until_ms))
            rc = tk_errf(err, TK_EINVAL, "until '%.40s' is not a time: use " TK_TIME_GRAMMAR, until);
        if (!rc && lim) {
            long v = strtol(lim, &end, 10);
            if (*end || v < 1 || v > 1000)
                rc = tk_errf(err, TK_EINVAL, "limit '%.16s' must be 1-1000", lim);
            f.limit = (size_t)v;
        }
        tk_alert_row_t *v = NULL;
        size_t n = 0;
        if (!rc && !(rc = tk_alert_list(m, &f, &v, &n, err))) {
            tk_buf_puts(&b, "{\"alerts\":[");
            for (size_t i = 0; i < n; i++) {
                if (i)
                    tk_buf_putc(&b, ',');
                tk_alert_row_json(&v[i], &b);
            }
            tk_buf_puts(&b, "]}");
        }
        tk_alert_rows_free(v, n);
    } else if (id[0] && !verb[0] && get) {
        tk_alert_row_t a = {0};
        if (!(rc = tk_alert_get(m, account, aid, &a, err))) {
            tk_alert_row_json(&a, &b);
            free(a.event_seqs);
        }
    } else if (id[0] && get && !strcmp(verb, "events")) {
        /* The stored events that made the alert, in time order. */
        tk_alert_row_t a = {0};
        if (!(rc = tk_alert_get(m, account, aid, &a, err))) {
            size_t n = 0;
            tk_buf_printf(&b, "{\"AlertId\":%lld,\"Events\":[", (long long)a.id);
            rc = tk_alert_events(r->srv->store, &a, &b, &n, err);
            tk_buf_printf(&b, "],\"Count\":%zu}", n);
            free(a.event_seqs);
        }
    } else if (id[0] && !strcmp(r->method, "POST") && (!strcmp(verb, "acknowledge") || !strcmp(verb, "close"))) {
        /* Optional body {"note": "..."}: kept in the alert's history with the key that did it. */
        static const tk_body_field_t note_fields[] = {{"note", cJSON_String}};
        const char *note = NULL;
        if (body && !(rc = tk_body_check_fields(body, note_fields, 1, "body", err)))
            note = jstr(body, "note");
        if (!rc)
            rc = tk_alert_set_state_by(m, account, aid,
                                       !strcmp(verb, "close") ? TK_AS_CLOSED : TK_AS_ACKNOWLEDGED,
                                       r->who.key_id, note, err);
        tk_alert_row_t a = {0};
        if (!rc && !(rc = tk_alert_get(m, account, aid, &a, err))) {
            tk_alert_row_json(&a, &b);
            free(a.event_seqs);
        }
    } else {
        tk_buf_free(&b);
        tk_req_error(r, 405, "MethodNotAllowed", 0, "%.16s is not allowed on %.200s.", r->method, r->path);
        return;
    }
    if (rc) {
        tk_buf_free(&b);
        fail(r, rc, err);
        return;
    }
    send_buf(r, 200, &b);
}

static void user_json(tk_buf_t *b, const tk_alert_user_t *u)
{
    tk_buf_puts(b, "{\"name\":");
    tk_buf_put_json_str(b, u->name, strlen(u->name));
    tk_buf_puts(b, ",\"email\":");
    tk_buf_put_json_str(b, u->email, strlen(u->email));
    tk_buf_puts(b, ",\"webhook_url\":");
    tk_buf_put_json_str(b, u->webhook_url, strlen(u->webhook_url));
    /* The secret is write-only: only whether one is set is shown. */
    tk_buf_printf(b, ",\"webhook_shape\":\"%s\",\"webhook_secret_set\":%s}", u->webhook_shape,
                  u->webhook_secret[0] ? "true" : "false");
}

typedef struct gctx {
    tk_buf_t *b;
    int n;
} gctx_t;

static void group_json(void *ud, const char *name, const char *members)
{
    gctx_t *g = ud;
    if (g->n++)
        tk_buf_putc(g->b, ',');
    tk_buf_puts(g->b, "{\"name\":");
    tk_buf_put_json_str(g->b, name, strlen(name));
    tk_buf_puts(g->b, ",\"members\":");
    tk_buf_put_json_str(g->b, members, strlen(members));
    tk_buf_putc(g->b, '}');
}

static void users_route(tk_req_t *r, const char *account, const char *rest, const cJSON *body, int groups)
{
    tk_meta_t *m = r->srv->meta;
    char name[128], verb[32], err[TK_ERRLEN] = "";
    if (split(rest, name, sizeof name, verb, sizeof verb) || verb[0]) {
        tk_req_error(r, 404, "NotFound", 0, "No route for %.200s.", r->path);
        return;
    }
    const char *me = r->method;
    int get = !strcmp(me, "GET");
    if (tk_req_allow(r, account, get ? TK_ROLE_READER : TK_ROLE_ADMIN) || (get && tk_req_throttle(r, 0)))
        return;
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    if (get && groups && !name[0]) {
        gctx_t g = {&b, 0};
        tk_buf_puts(&b, "{\"groups\":[");
        rc = tk_alert_group_list(m, account, group_json, &g, err);
        tk_buf_puts(&b, "]}");
    } else if (get && !groups) {
        tk_alert_user_t *v = NULL;
        size_t n = 0;
        if (!(rc = tk_alert_user_list(m, account, &v, &n, err))) {
            int found = 0;
            if (!name[0])
                tk_buf_puts(&b, "{\"users\":[");
            for (size_t i = 0; i < n; i++) {
                if (name[0] && strcmp(v[i].name, name))
                    continue;
                if (found++ && !name[0])
                    tk_buf_putc(&b, ',');
                user_json(&b, &v[i]);
            }
            if (!name[0])
                tk_buf_puts(&b, "]}");
            else if (!found)
                rc = tk_errf(err, TK_ENOTFOUND, "no user %s in account %s", name, account);
        }
        free(v);
    } else if (!strcmp(me, "DELETE") && name[0]) {
        rc = groups ? tk_alert_group_delete(m, account, name, err) : tk_alert_user_delete(m, account, name, err);
        if (!rc)
            tk_buf_puts(&b, "{\"deleted\":true}");
    } else if ((!strcmp(me, "POST") && !name[0]) || (!strcmp(me, "PUT") && name[0])) {
        static const tk_body_field_t user_fields[] = {
            {"name", cJSON_String},        {"email", cJSON_String},
            {"webhook_url", cJSON_String}, {"webhook_secret", cJSON_String},
            {"webhook_shape", cJSON_String},
        };
        static const tk_body_field_t group_fields[] = {
            {"name", cJSON_String}, {"members", cJSON_String | cJSON_Array}};
        const char *nm = name[0] ? name : jstr(body, "name");
        if (body && (rc = groups ? tk_body_check_fields(body, group_fields, TK_ARRAY_LEN(group_fields),
                                                        "group body", err)
                                 : tk_body_check_fields(body, user_fields, TK_ARRAY_LEN(user_fields),
                                                        "user body", err))) {
            /* rc and err set: answered below */
        } else if (!body || !nm) {
            rc = tk_errf(err, TK_EINVAL, "the body must be a JSON object with \"name\"");
        } else if (groups) {
            char *ml = name_list(cJSON_GetObjectItemCaseSensitive(body, "members"));
            rc = ml ? tk_alert_group_put(m, account, nm, ml, err)
                    : tk_errf(err, TK_ENOMEM, "out of memory");
            free(ml);
            if (!rc)
                tk_buf_puts(&b, "{\"saved\":true}");
        } else {
            tk_alert_user_t u;
            memset(&u, 0, sizeof u);
            snprintf(u.account, sizeof u.account, "%s", account);
            snprintf(u.name, sizeof u.name, "%s", nm);
            snprintf(u.email, sizeof u.email, "%s", jstr(body, "email") ? jstr(body, "email") : "");
            snprintf(u.webhook_url, sizeof u.webhook_url, "%s", jstr(body, "webhook_url") ? jstr(body, "webhook_url") : "");
            snprintf(u.webhook_secret, sizeof u.webhook_secret, "%s",
                     jstr(body, "webhook_secret") ? jstr(body, "webhook_secret") : "");
            snprintf(u.webhook_shape, sizeof u.webhook_shape, "%s",
                     jstr(body, "webhook_shape") ? jstr(body, "webhook_shape") : "generic");
            if (!(rc = tk_alert_user_put(m, &u, err)))
                user_json(&b, &u);
        }
    } else {
        tk_buf_free(&b);
        tk_req_error(r, 405, "MethodNotAllowed", 0, "%.16s is not allowed on %.200s.", me, r->path);
        return;
    }
    if (rc) {
        tk_buf_free(&b);
        fail(r, rc, err);
        return;
    }
    send_buf(r, 200, &b);
}

/* Returns after queuing a response; not called for other paths. */
static void route(tk_req_t *r)
{
    if (tk_req_auth(r))
        return;
    tk_kvlist_t q = {0, 0, NULL};
    if (tk_form_parse(r->query, strlen(r->query), &q)) {
        tk_kvlist_free(&q);
        tk_req_error(r, 400, "InvalidParameter", 0, "The query string is malformed.");
        return;
    }
    const char *acct = tk_kv_get(&q, "account");
    snprintf(r->account_buf, sizeof r->account_buf, "%s", acct ? acct : r->who.account);
    r->account = r->account_buf;
    cJSON *body = NULL;
    if (r->body.len) {
        body = cJSON_ParseWithLength(r->body.p, r->body.len);
        if (!cJSON_IsObject(body)) {
            cJSON_Delete(body);
            tk_kvlist_free(&q);
            tk_req_error(r, 400, "InvalidParameter", 0, "The body must be a JSON object.");
            return;
        }
    }
    const char *p = r->path;
    if (!strncmp(p, "/v1/alert-rules", 15))
        rules_route(r, r->account, p + 15, body);
    else if (!strncmp(p, "/v1/alerts", 10))
        alerts_route(r, r->account, p + 10, &q, body);
    else if (!strncmp(p, "/v1/user-groups", 15))
        users_route(r, r->account, p + 15, body, 1);
    else
        users_route(r, r->account, p + 9, body, 0);
    cJSON_Delete(body);
    tk_kvlist_free(&q);
}

void tk_http_enable_alerts(void)
{
    tk_http_alerts_route = route;
}

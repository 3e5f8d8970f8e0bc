/* trailkeep Insights routes:
 *   GET /v1/insights?InsightType=&StartTime=&EndTime=&SourceIp=&EventId=
 *       &SharedEventId=&State=Start|End&MaxResults=&NextToken=&AccountId=
 *   GET|PUT /v1/insights/settings?AccountId=
 * /v1/insights is LookupEvents with EventType=ActionTrailInsight (plus
 * EventId or EventName=InsightType through the index) and the other filters
 * applied to each record; pages are fetched in steps of the results still
 * wanted, so the lookup's NextToken resumes exactly after the last record
 * examined. Reads need the reader role, settings the admin role, for
 * AccountId (default: the key's account; a management account's keys may act
 * for its members). */
#include "http/http_internal.h"
#include "http/route_insights.h"

#include "base/tk.h"
#include "base/tktime.h"
#include "insight/service.h"
#include "query/lookup.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void (*tk_http_insights_route)(tk_req_t *r); /* server.c */

#define DEFAULT_RANGE_MS (90 * TK_MS_PER_DAY) /* Insights are rare: look further back than lookups */
#define MAX_INNER_PAGES 100                   /* bounds the work of a very selective filter */

static const char *const known[] = {"InsightType", "StartTime", "EndTime",  "SourceIp",
                                    "EventId",     "SharedEventId", "State", "MaxResults",
                                    "NextToken",   "AccountId", "Direction"};

typedef struct filt {
    const char *type, *ip, *shared, *state;
} filt_t;

static const char *jstr(const cJSON *j, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, k));
}

static int str_eq(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

/* True when the record passes the filters the index could not apply. */
static int matches(const filt_t *f, const char *json, size_t len)
{
    if (!f->type && !f->ip && !f->shared && !f->state)
        return 1;
    cJSON *j = cJSON_ParseWithLength(json, len);
    cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "insightDetails");
    int ok = d != NULL;
    if (ok && f->type)
        ok = str_eq(jstr(d, "insightType"), f->type);
    if (ok && f->state)
        ok = str_eq(jstr(d, "state"), f->state);
    if (ok && f->shared)
        ok = str_eq(jstr(j, "sharedEventId"), f->shared);
    if (ok && f->ip) {
        ok = 0;
        cJSON *ctx = cJSON_GetObjectItemCaseSensitive(d, "insightContext");
        cJSON *at, *v;
        cJSON_ArrayForEach(at, cJSON_GetObjectItemCaseSensitive(ctx, "attributions"))
        {
            if (!str_eq(jstr(at, "attribute"), "sourceIpAddress"))
                continue;
            cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(at, "insight"))
                ok |= str_eq(jstr(v, "value"), f->ip);
        }
    }
    cJSON_Delete(j);
    return ok;
}

static void insights_list(tk_req_t *r, const tk_kvlist_t *q)
{
    tk_http_server_t *s = r->srv;
    filt_t f = {tk_kv_get(q, "InsightType"), tk_kv_get(q, "SourceIp"), tk_kv_get(q, "SharedEventId"),
                tk_kv_get(q, "State")};
    if (f.type && tk_insight_detector_find(f.type) < 0) {
        tk_req_error(r, 400, "InvalidParameterInsightType", 0,
                     "InsightType '%.64s' is not an Insights type (ApiCallRateInsight, "
                     "ApiErrorRateInsight, IpInsight, AkInsight, PolicyChangeInsight, "
                     "PasswordChangeInsight, TrailConcealmentInsight).",
                     f.type);
        return;
    }
    if (f.state && strcmp(f.state, "Start") && strcmp(f.state, "End")) {
        tk_req_error(r, 400, "InvalidParameterState", 0, "State '%.32s' must be Start or End.",
                     f.state);
        return;
    }
    if (tk_req_throttle(r, 0))
        return;
    tk_lookup_params_t p;
    memset(&p, 0, sizeof p);
    p.start_time = tk_kv_get(q, "StartTime");
    p.end_time = tk_kv_get(q, "EndTime");
    p.next_token = tk_kv_get(q, "NextToken");
    p.direction = tk_kv_get(q, "Direction");
    p.attrs[0].key = "EventType";
    p.attrs[0].value = "ActionTrailInsight";
    p.nattrs = 1;
    const char *eid = tk_kv_get(q, "EventId");
    if (eid) {
        p.attrs[1].key = "EventId";
        p.attrs[1].value = eid;
        p.nattrs = 2;
    } else if (f.type) {
        p.attrs[1].key = "EventName"; /* an Insights record's eventName is its type */
        p.attrs[1].value = f.type;
        p.nattrs = 2;
    }
    char start_buf[40];
    int has_token = p.next_token && *p.next_token;
    if (!p.start_time && !has_token) {
        int64_t end = tk_now_ms();
        if (p.end_time && tk_time_parse_any(p.end_time, tk_now_ms(), &end) != 0)
            end = tk_now_ms(); /* the lookup reports the bad EndTime */
        tk_time_format(end - DEFAULT_RANGE_MS, 0, start_buf);
        p.start_time = start_buf;
    }
    int max_page = s->o.max_page > 0 ? s->o.max_page : 50;
    long want = 20;
    const char *mr = tk_kv_get(q, "MaxResults");
    if (mr) {
        char *end;
        want = strtol(mr, &end, 10);
        if (!*mr || *end || want < 1 || want > max_page) {
            tk_req_error(r, 400, TK_LOOKUP_E_MAX_RESULTS, 0,
                         "MaxResults '%.20s' is invalid; give a whole number from 1 to %d", mr,
                         max_page);
            return;
        }
    }
    tk_lookup_opts_t lo = {.now_ms = 0, .max_page = max_page, .token_key = s->token_key};
    tk_buf_t o = TK_BUF_INIT;
    int brc = tk_buf_puts(&o, "{\"Events\":[");
    long got = 0;
    char next[256] = "", mrbuf[24];
    int64_t start_ms = 0, end_ms = 0;
    uint64_t t0 = tk_mono_ns();
    for (int pass = 0; pass < MAX_INNER_PAGES && got < want && !brc; pass++) {
        snprintf(mrbuf, sizeof mrbuf, "%ld", want - got);
        p.max_results = mrbuf;
        tk_lookup_page_t page;
        memset(&page, 0, sizeof page);
        tk_lookup_error_t lerr;
        memset(&lerr, 0, sizeof lerr);
        char err[TK_ERRLEN] = "";
        int rc = tk_lookup_run(s->store, r->account, &p, &lo, &page, &lerr, err);
        if (rc) {
            tk_lookup_page_free(&page);
            tk_buf_free(&o);
            if (rc == TK_EINVAL && lerr.code)
                tk_req_error(r, 400, lerr.code, 0, "%s", lerr.message);
            else
                tk_req_error(r, 500, "InternalError", 0, "Lookup failed: %s", err);
            return;
        }
        if (!pass) {
            start_ms = page.start_ms;
            end_ms = page.end_ms;
        }
        for (size_t i = 0; i < page.count && !brc; i++) {
            const tk_stored_event_t *e = &page.events[i];
            if (!matches(&f, e->json.p, e->json.len))
                continue;
            if (got++)
                brc |= tk_buf_putc(&o, ',');
            brc |= tk_buf_append(&o, e->json.p, e->json.len);
        }
        snprintf(next, sizeof next, "%s", page.next_token);
        tk_lookup_page_free(&page);
        if (!next[0])
            break;
        /* Later pages: the token carries the range and the cursor. */
        p.next_token = next;
        p.start_time = p.end_time = NULL;
    }
    tk_metrics_observe(&s->metrics.lookup_latency, tk_mono_ns() - t0);
    char ts[40], te[40];
    tk_time_format(start_ms, 0, ts);
    tk_time_format(end_ms, 0, te);
    brc |= tk_buf_puts(&o, "],\"NextToken\":");
    brc |= tk_buf_put_json_str(&o, next, strlen(next));
    brc |= tk_buf_printf(&o, ",\"StartTime\":\"%s\",\"EndTime\":\"%s\",\"RequestId\":\"%s\"}\n", ts,
                         te, r->request_id);
    if (brc) {
        tk_buf_free(&o);
        tk_req_error(r, 500, "InternalError", 0, "out of memory");
        return;
    }
    tk_req_send(r, 200, "application/json", &o, 0);
}

/* A JSON value that is a list of type names: an array of strings or one
 * comma-separated string. Writes "a,b" into out; 0, or 1 when malformed. */
static int type_list(const cJSON *v, char *out, size_t n)
{
    out[0] = 0;
    if (cJSON_IsString(v)) {
        snprintf(out, n, "%s", v->valuestring);
        return 0;
    }
    if (!cJSON_IsArray(v))
        return 1;
    size_t off = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsString(it) || off + strlen(it->valuestring) + 2 > n)
            return 1;
        off += (size_t)snprintf(out + off, n - off, "%s%s", off ? "," : "", it->valuestring);
    }
    return 0;
}

static void settings_route(tk_req_t *r)
{
    int get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
    int put = !strcmp(r->method, "PUT");
    if (!get && !put) {
        tk_req_error(r, 405, "MethodNotAllowed", 0,
                     "Method %.16s is not allowed on /v1/insights/settings (GET or PUT).", r->method);
        return;
    }
    if (tk_req_allow(r, r->account, TK_ROLE_ADMIN))
        return;
    tk_meta_t *m = r->srv->meta;
    char err[TK_ERRLEN] = "";
    tk_insight_settings_t st;
    int rc = tk_insight_settings_get(m, r->account, &st, err);
    if (!rc && put) {
        cJSON *j = cJSON_ParseWithLength(r->body.p ? r->body.p : "", r->body.len);
        if (!cJSON_IsObject(j)) {
            cJSON_Delete(j);
            tk_req_error(r, 400, "InvalidJson", 0,
                         "The body must be a JSON object, e.g. {\"Disable\":[\"IpInsight\"],"
                         "\"Sensitivity\":\"low\",\"Overrides\":[\"AkInsight.k=3\"]}.");
            return;
        }
        char en[512], dis[512];
        const char *sets[64];
        size_t nsets = 0;
        int bad = 0, have_en = 0, have_dis = 0, have_ov = 0;
        const char *sens = NULL;
        cJSON *it;
        cJSON_ArrayForEach(it, j)
        {
            if (!strcmp(it->string, "Enable")) {
                bad |= type_list(it, en, sizeof en);
                have_en = 1;
            } else if (!strcmp(it->string, "Disable")) {
                bad |= type_list(it, dis, sizeof dis);
                have_dis = 1;
            } else if (!strcmp(it->string, "Sensitivity")) {
                sens = cJSON_GetStringValue(it);
                bad |= sens == NULL;
            } else if (!strcmp(it->string, "Overrides")) {
                have_ov = 1;
                const cJSON *v;
                bad |= !cJSON_IsArray(it);
                cJSON_ArrayForEach(v, it)
                {
                    if (!cJSON_IsString(v) || nsets == TK_ARRAY_LEN(sets))
                        bad = 1;
                    else
                        sets[nsets++] = v->valuestring;
                }
            } else if (strcmp(it->string, "AccountId")) {
                bad = 1;
            }
        }
        if (bad) {
            cJSON_Delete(j);
            tk_req_error(r, 400, "InvalidParameter", 0,
                         "Accepted fields: Enable and Disable (type names, an array or a "
                         "comma-separated string, '*' = all), Sensitivity (low, medium, high), "
                         "Overrides (an array of \"Type.knob=value\", replacing the stored ones).");
            return;
        }
        rc = tk_insight_settings_edit(&st, have_en ? en : NULL, have_dis ? dis : NULL, sens, sets,
                                      nsets, have_ov, err);
        if (!rc)
            rc = tk_insight_settings_put(m, &st, err);
        cJSON_Delete(j);
    }
    if (rc) {
        if (rc == TK_EINVAL || rc == TK_ETOOBIG)
            tk_req_error(r, 400, "InvalidParameter", 0, "%s", err);
        else
            tk_req_error(r, 500, "InternalError", 0, "%s", err);
        return;
    }
    tk_buf_t b = TK_BUF_INIT;
    if (tk_insight_settings_json(&st, &b) || tk_buf_putc(&b, '\n')) {
        tk_buf_free(&b);
        tk_req_error(r, 500, "InternalError", 0, "out of memory");
        return;
    }
    tk_req_send(r, 200, "application/json", &b, 0);
}

static void route(tk_req_t *r)
{
    if (tk_req_auth(r))
        return;
    tk_kvlist_t q = {0, 0, NULL};
    if (tk_form_parse(r->query, strlen(r->query), &q)) {
        tk_kvlist_free(&q);
        tk_req_error(r, 400, "InvalidParameter", 0,
                     "The query string is malformed (bad %%-escape or more than 64 fields).");
        return;
    }
    int settings = !strcmp(r->path, "/v1/insights/settings");
    for (size_t i = 0; i < q.n; i++) {
        int ok = 0;
        for (size_t k = 0; k < TK_ARRAY_LEN(known); k++)
            ok |= !strcmp(q.kv[i].key, known[k]);
        if (!ok || (settings && strcmp(q.kv[i].key, "AccountId"))) {
            tk_req_error(r, 400, "InvalidParameter", 0, "Unknown parameter '%.64s'. Accepted: %s.",
                         q.kv[i].key,
                         settings ? "AccountId"
                                  : "InsightType, StartTime, EndTime, SourceIp, EventId, "
                                    "SharedEventId, State (Start or End), MaxResults, NextToken, "
                                    "Direction, AccountId");
            tk_kvlist_free(&q);
            return;
        }
    }
    const char *acct = tk_kv_get(&q, "AccountId");
    snprintf(r->account_buf, sizeof r->account_buf, "%s", acct ? acct : r->who.account);
    r->account = r->account_buf;
    if (settings) {
        settings_route(r);
    } else if (strcmp(r->path, "/v1/insights")) {
        tk_req_error(r, 404, "NotFound", 0,
                     "No route for %.200s. Insights routes: GET /v1/insights, GET|PUT "
                     "/v1/insights/settings.",
                     r->path);
    } else if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
        tk_req_error(r, 405, "MethodNotAllowed", 0, "Method %.16s is not allowed on /v1/insights (GET).",
                     r->method);
    } else if (!tk_req_allow(r, r->account, TK_ROLE_READER)) {
        insights_list(r, &q);
    }
    tk_kvlist_free(&q);
}

void tk_http_enable_insights(void)
{
    tk_http_insights_route = route;
}

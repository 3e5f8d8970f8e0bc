/* trailkeep read routes: GET|POST /v1/lookup (ActionTrail LookupEvents,
 * parameters from the query string, a form or a JSON body) and
 * GET /v1/resources/{type}/{name}/history (every Write event that touched a
 * resource, newest first, paged with its own HMAC-bound cursor token).
 * Stored event bytes are inserted into responses verbatim. */
#include "http/http_internal.h"

#include "base/tk.h"
#include "base/tktime.h"
#include "event/format.h"
#include "query/csv.h"
#include "query/lookup.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Strings the params point to: kv pairs or cJSON values, plus number
 * conversions kept here so they outlive the call. */
typedef struct lookup_in {
    tk_kvlist_t kv;
    cJSON *json;
    char numbuf[4][40];
    char account[64];
    int has_account;
    int csv;             /* Format=csv */
    const tk_event_format_t *efmt; /* EventFormat= (NULL: canonical) */
    const char *columns; /* Columns= (borrowed from kv) */
} lookup_in_t;

static const char *const known_params[] = {
    "StartTime", "EndTime", "MaxResults", "NextToken", "Direction", "AccountId",
    /* RPC-style envelope fields ActionTrail clients send; accepted, unused. */
    "Action", "Version", "Format", "RegionId",
    /* Format=csv only: the columns (query/csv.h) */
    "Columns",
    /* each event rendered as canonical | cloudtrail | ocsf (event/format.h) */
    "EventFormat",
};

static int known_param(const char *k)
{
    for (size_t i = 0; i < TK_ARRAY_LEN(known_params); i++)
        if (!strcmp(k, known_params[i]))
            return 1;
    return 0;
}

/* "LookupAttribute.N.Key|Value": 1 with N 1-9 written as one digit, 2 for
 * any other N (LookupAttribute.0, .10, .01: refused, because ignoring one
 * would silently widen the query), 0 when k has another shape. */
static int attr_param(const char *k)
{
    static const char pre[] = "LookupAttribute.";
    if (strncmp(k, pre, sizeof pre - 1))
        return 0;
    const char *d = k + sizeof pre - 1, *e = d;
    while (*e >= '0' && *e <= '9')
        e++;
    if (e == d || *e != '.' || (strcmp(e + 1, "Key") && strcmp(e + 1, "Value")))
        return 0;
    return e - d == 1 && *d != '0' ? 1 : 2;
}

/* From key-value pairs (query string or form). 0, or 400 queued (nonzero). */
static int params_from_kv(tk_req_t *r, lookup_in_t *in, tk_lookup_params_t *p)
{
    for (size_t i = 0; i < in->kv.n; i++) {
        int ap = attr_param(in->kv.kv[i].key);
        if (ap == 2) {
            tk_req_error(r, 400, "InvalidParameterLookupAttribute", 0,
                         "'%.64s': N in LookupAttribute.N must be 1 to 9 (at most 2 attributes).",
                         in->kv.kv[i].key);
            return 1;
        }
        if (!ap && !known_param(in->kv.kv[i].key)) {
            tk_req_error(r, 400, "InvalidParameter", 0,
                         "Unknown parameter '%.64s'. Accepted: StartTime, EndTime, "
                         "LookupAttribute.N.Key, LookupAttribute.N.Value, MaxResults, NextToken, "
                         "Direction, AccountId.",
                         in->kv.kv[i].key);
            return 1;
        }
    }
    const char *ef = tk_kv_get(&in->kv, "EventFormat");
    if (ef && !(in->efmt = tk_event_format_find(ef))) {
        tk_req_error(r, 400, "InvalidParameter", 0,
                     "EventFormat '%.32s' is not known: canonical, cloudtrail or ocsf.", ef);
        return 1;
    }
    const char *fmt = tk_kv_get(&in->kv, "Format");
    if (fmt && !strcasecmp(fmt, "csv")) {
        in->csv = 1;
        in->columns = tk_kv_get(&in->kv, "Columns");
    } else if (tk_req_format_json(r, fmt)) {
        return 1;
    } else if (tk_kv_get(&in->kv, "Columns")) {
        tk_req_error(r, 400, "InvalidParameter", 0, "Columns is for Format=csv only.");
        return 1;
    }
    p->start_time = tk_kv_get(&in->kv, "StartTime");
    p->end_time = tk_kv_get(&in->kv, "EndTime");
    p->max_results = tk_kv_get(&in->kv, "MaxResults");
    p->next_token = tk_kv_get(&in->kv, "NextToken");
    p->direction = tk_kv_get(&in->kv, "Direction");
    const char *acct = tk_kv_get(&in->kv, "AccountId");
    if (acct) {
        snprintf(in->account, sizeof in->account, "%s", acct);
        in->has_account = 1;
    }
    for (unsigned n = 1; n <= 9; n++) {
        char kk[40], kvn[40];
        snprintf(kk, sizeof kk, "LookupAttribute.%u.Key", n);
        snprintf(kvn, sizeof kvn, "LookupAttribute.%u.Value", n);
        const char *k = tk_kv_get(&in->kv, kk), *v = tk_kv_get(&in->kv, kvn);
        if (!k && !v)
            continue;
        if (!k) {
            tk_req_error(r, 400, "InvalidParameterLookupAttribute", 0,
                         "LookupAttribute.%u.Value is given without LookupAttribute.%u.Key.", n, n);
            return 1;
        }
        if (p->nattrs >= TK_LOOKUP_MAX_ATTRS) {
            tk_req_error(r, 400, "InvalidParameterLookupAttribute", 0,
                         "At most 2 LookupAttribute conditions are allowed.");
            return 1;
        }
        p->attrs[p->nattrs].key = k;
        p->attrs[p->nattrs].value = v ? v : "";
        p->nattrs++;
    }
    return 0;
}

/* A JSON value as a parameter string: strings as they are, numbers written
 * out (epoch seconds for times when as_time). NULL when absent. */
static const char *json_param(tk_req_t *r, cJSON *obj, const char *name, char *numbuf, int as_time,
                              int *bad)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v || cJSON_IsNull(v))
        return NULL;
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsNumber(v)) {
        int64_t ms;
        if (as_time && tk_time_from_epoch_s(v->valuedouble, &ms) == 0) {
            tk_time_format(ms, 0, numbuf);
            return numbuf;
        }
        if (!as_time && v->valuedouble >= 0 && v->valuedouble <= 1e9) {
            snprintf(numbuf, 40, "%.0f", v->valuedouble);
            return numbuf;
        }
        tk_req_error(r, 400, "InvalidParameter", 0, "%s: %g is out of range%s.", name, v->valuedouble,
                     as_time ? " (epoch seconds from 0 to 253402300799)" : "");
        *bad = 1;
        return NULL;
    }
    tk_req_error(r, 400, "InvalidParameter", 0, "%s must be a string%s.", name,
                 as_time ? " (RFC 3339) or epoch seconds" : " or a number");
    *bad = 1;
    return NULL;
}

static int params_from_json(tk_req_t *r, lookup_in_t *in, tk_lookup_params_t *p)
{
    in->json = cJSON_ParseWithLength(r->body.p, r->body.len);
    if (!in->json || !cJSON_IsObject(in->json)) {
        tk_req_error(r, 400, "InvalidJson", 0,
                     "The body is not a JSON object: send {\"StartTime\":...,\"LookupAttributes\":"
                     "[{\"Key\":\"EventName\",\"Value\":\"ConsoleSignin\"}]}.");
        return 1;
    }
    int bad = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, in->json)
    {
        if (!known_param(it->string) && strcmp(it->string, "LookupAttributes")) {
            tk_req_error(r, 400, "InvalidParameter", 0,
                         "Unknown parameter '%.64s'. Accepted: StartTime, EndTime, "
                         "LookupAttributes, MaxResults, NextToken, Direction, AccountId.",
                         it->string);
            return 1;
        }
    }
    p->start_time = json_param(r, in->json, "StartTime", in->numbuf[0], 1, &bad);
    if (!bad)
        p->end_time = json_param(r, in->json, "EndTime", in->numbuf[1], 1, &bad);
    if (!bad)
        p->max_results = json_param(r, in->json, "MaxResults", in->numbuf[2], 0, &bad);
    if (!bad)
        p->next_token = json_param(r, in->json, "NextToken", in->numbuf[3], 0, &bad);
    if (!bad)
        p->direction = json_param(r, in->json, "Direction", in->numbuf[3], 0, &bad);
    if (bad)
        return 1;
    cJSON *acct = cJSON_GetObjectItemCaseSensitive(in->json, "AccountId");
    if (acct && !cJSON_IsNull(acct)) {
        if (!cJSON_IsString(acct)) {
            tk_req_error(r, 400, "InvalidParameter", 0, "AccountId must be a string.");
            return 1;
        }
        snprintf(in->account, sizeof in->account, "%s", acct->valuestring);
        in->has_account = 1;
    }
    cJSON *la = cJSON_GetObjectItemCaseSensitive(in->json, "LookupAttributes");
    if (la && !cJSON_IsNull(la)) {
        if (!cJSON_IsArray(la)) {
            tk_req_error(r, 400, "InvalidParameterLookupAttribute", 0,
                         "LookupAttributes must be an array of {\"Key\":...,\"Value\":...}.");
            return 1;
        }
        cJSON_ArrayForEach(it, la)
        {
            cJSON *k = cJSON_GetObjectItemCaseSensitive(it, "Key");
            cJSON *v = cJSON_GetObjectItemCaseSensitive(it, "Value");
            if (!k)
                k = cJSON_GetObjectItemCaseSensitive(it, "AttributeKey");
            if (!v)
                v = cJSON_GetObjectItemCaseSensitive(it, "AttributeValue");
            if (!cJSON_IsString(k) || !cJSON_IsString(v)) {
                tk_req_error(r, 400, "InvalidParameterLookupAttribute", 0,
                             "Each LookupAttributes item needs string Key and Value.");
                return 1;
            }
            if (p->nattrs >= TK_LOOKUP_MAX_ATTRS) {
                tk_req_error(r, 400, "InvalidParameterLookupAttribute", 0,
                             "At most 2 LookupAttribute conditions are allowed.");
                return 1;
            }
            p->attrs[p->nattrs].key = k->valuestring;
            p->attrs[p->nattrs].value = v->valuestring;
            p->nattrs++;
        }
    }
    return 0;
}

static void lookup_in_free(lookup_in_t *in)
{
    if (!in)
        return;
    tk_kvlist_free(&in->kv);
    cJSON_Delete(in->json);
}

void tk_route_lookup(tk_req_t *r)
{
    tk_http_server_t *s = r->srv;
    if (tk_req_auth(r))
        return;
    lookup_in_t in;
    memset(&in, 0, sizeof in);
    tk_lookup_params_t p;
    memset(&p, 0, sizeof p);
    int bad = 0;
    if (!strcmp(r->method, "POST")) {
        const char *ct = tk_req_header(r, "Content-Type");
        size_t i = 0;
        while (i < r->body.len && (r->body.p[i] == ' ' || r->body.p[i] == '\n' || r->body.p[i] == '\r' || r->body.p[i] == '\t'))
            i++;
        int json = (ct && strstr(ct, "json")) || (i < r->body.len && r->body.p[i] == '{');
        if (json) {
            bad = params_from_json(r, &in, &p);
        } else {
            int rc = tk_form_parse(r->body.p ? r->body.p : "", r->body.len, &in.kv);
            if (rc) {
                tk_req_error(r, 400, "InvalidParameter", 0,
                             "The form body is malformed (bad %%-escape or more than 64 fields).");
                bad = 1;
            } else {
                bad = params_from_kv(r, &in, &p);
            }
        }
    } else {
        if (tk_form_parse(r->query, strlen(r->query), &in.kv)) {
            tk_req_error(r, 400, "InvalidParameter", 0,
                         "The query string is malformed (bad %%-escape or more than 64 fields).");
            bad = 1;
        } else {
            bad = params_from_kv(r, &in, &p);
        }
    }
    if (bad) {
        lookup_in_free(&in);
        return;
    }
    const char *account = in.has_account ? in.account : r->who.account;
    snprintf(r->account_buf, sizeof r->account_buf, "%s", account);
    r->account = r->account_buf;
    if (tk_req_allow(r, account, TK_ROLE_READER) || tk_req_throttle(r, 0)) {
        lookup_in_free(&in);
        return;
    }
    tk_csv_cols_t cols = {0};
    char cerr[TK_ERRLEN];
    const tk_event_format_t *efmt = in.efmt && strcmp(in.efmt->name, "canonical") ? in.efmt : NULL;
    if (in.csv && tk_csv_cols_parse(in.columns, &cols, cerr)) {
        lookup_in_free(&in);
        tk_req_error(r, 400, "InvalidParameter", 0, "Columns: %s.", cerr);
        return;
    }
    tk_lookup_opts_t lo = {.now_ms = 0, .max_page = s->o.max_page, .token_key = s->token_key};
    tk_lookup_page_t page;
    memset(&page, 0, sizeof page);
    tk_lookup_error_t lerr;
    memset(&lerr, 0, sizeof lerr);
    char err[TK_ERRLEN] = "";
    uint64_t t0 = tk_mono_ns();
    int rc = tk_lookup_run(s->store, account, &p, &lo, &page, &lerr, err);
    tk_metrics_observe(&s->metrics.lookup_latency, tk_mono_ns() - t0);
    lookup_in_free(&in);
    if (rc == TK_EINVAL && lerr.code) {
        tk_csv_cols_free(&cols);
        tk_req_error(r, 400, lerr.code, 0, "%s", lerr.message);
        return;
    }
    if (rc) {
        tk_csv_cols_free(&cols);
        tk_lookup_page_free(&page);
        tk_req_error(r, 500, "InternalError", 0, "Lookup failed: %s", err);
        return;
    }
    if (cols.n) {
        /* CSV: a header row and one row per event; the next page's token
         * in X-Next-Token (absent on the last page). */
        tk_buf_t o = TK_BUF_INIT;
        int brc = tk_csv_header(&cols, &o);
        for (size_t i = 0; i < page.count && !brc; i++)
            brc |= tk_csv_row(&cols, page.events[i].json.p, page.events[i].json.len, &o);
        snprintf(r->next_token_hdr, sizeof r->next_token_hdr, "%s", page.next_token);
        tk_csv_cols_free(&cols);
        tk_lookup_page_free(&page);
        if (brc) {
            tk_buf_free(&o);
            tk_req_error(r, 500, "InternalError", 0, "out of memory");
            return;
        }
        tk_req_send(r, 200, "text/csv; charset=utf-8", &o, 0);
        return;
    }
    tk_buf_t o = TK_BUF_INIT;
    int brc = tk_buf_puts(&o, "{\"Events\":[");
    for (size_t i = 0; i < page.count && !brc; i++) {
        if (i)
            brc |= tk_buf_putc(&o, ',');
        size_t mark = o.len;
        char ferr[TK_ERRLEN];
        if (!efmt || efmt->render(page.events[i].json.p, page.events[i].json.len, &o, ferr)) {
            o.len = mark; /* canonical, or not renderable: the stored bytes */
            brc |= tk_buf_append(&o, page.events[i].json.p, page.events[i].json.len);
        }
    }
    char ts[40], te[40];
    tk_time_format(page.start_ms, 0, ts);
    tk_time_format(page.end_ms, 0, te);
    brc |= tk_buf_puts(&o, "],\"NextToken\":");
    brc |= tk_buf_put_json_str(&o, page.next_token, strnlen(page.next_token, sizeof page.next_token));
    brc |= tk_buf_printf(&o, ",\"StartTime\":\"%s\",\"EndTime\":\"%s\",\"RequestId\":\"%s\"}\n", ts, te,
                         r->request_id);
    tk_lookup_page_free(&page);
    if (brc) {
        tk_buf_free(&o);
        tk_req_error(r, 500, "InternalError", 0, "out of memory");
        return;
    }
    tk_req_send(r, 200, "application/json", &o, 0);
}

/* ------------------------------------------------------------ history */

typedef struct hist_walk {
    const char *rtype, *rname;
    tk_buf_t *out;
    size_t want, got;
    int more;
    int64_t last_time;
    uint64_t last_seq;
    int oom;
} hist_walk_t;

static int put_field(tk_buf_t *o, const char *name, cJSON *v)
{
    int rc = tk_buf_printf(o, ",\"%s\":", name);
    if (!v)
        return rc | tk_buf_puts(o, "null");
    char *s = cJSON_PrintUnformatted(v);
    if (!s)
        return TK_ENOMEM;
    rc |= tk_buf_puts(o, s);
    cJSON_free(s);
    return rc;
}

/* The index matches type and name independently, so an event touching
 * (A, x) and (B, y) is found for (A, y) too: check the pair itself, in
 * referencedResources {type: [names]} or in the aligned flattened
 * resourceType / resourceName (';' between types, ',' between names). */
static int touches(cJSON *ev, const char *rtype, const char *rname)
{
    cJSON *rr = cJSON_GetObjectItemCaseSensitive(ev, "referencedResources");
    cJSON *names = cJSON_IsObject(rr) ? cJSON_GetObjectItemCaseSensitive(rr, rtype) : NULL;
    cJSON *n;
    cJSON_ArrayForEach(n, names)
        if (cJSON_IsString(n) && !strcmp(n->valuestring, rname))
            return 1;
    cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "resourceType");
    cJSON *nm = cJSON_GetObjectItemCaseSensitive(ev, "resourceName");
    if (!cJSON_IsString(t) || !cJSON_IsString(nm))
        return 0;
    const char *tp = t->valuestring, *np = nm->valuestring;
    size_t tl0 = strlen(rtype), nl0 = strlen(rname);
    while (*tp || *np) {
        size_t tl = strcspn(tp, ";"), nl = strcspn(np, ";");
        if (tl == tl0 && !memcmp(tp, rtype, tl)) {
            const char *q = np, *end = np + nl;
            while (q < end) {
                size_t l = strcspn(q, ",;");
                if (q + l > end)
                    l = (size_t)(end - q);
                if (l == nl0 && !memcmp(q, rname, l))
                    return 1;
                q += l + (q + l < end);
            }
        }
        tp += tl + (tp[tl] == ';');
        np += nl + (np[nl] == ';');
    }
    return 0;
}

static int hist_cb(void *ud, const tk_stored_event_t *ev)
{
    hist_walk_t *w = ud;
    cJSON *j = cJSON_ParseWithLength(ev->json.p, ev->json.len);
    if (!j)
        return 0;
    cJSON *rw = cJSON_GetObjectItemCaseSensitive(j, "eventRW");
    if (!cJSON_IsString(rw) || strcmp(rw->valuestring, "Write") || !touches(j, w->rtype, w->rname)) {
        cJSON_Delete(j);
        return 0;
    }
    if (w->got == w->want) {
        /* One more Write exists beyond the page: a NextToken is due. */
        w->more = 1;
        cJSON_Delete(j);
        return 1;
    }
    tk_buf_t *o = w->out;
    int rc = tk_buf_puts(o, w->got ? ",{" : "{");
    char ts[40];
    tk_time_format(ev->time_ms, 0, ts);
    rc |= tk_buf_printf(o, "\"time\":\"%s\"", ts);
    rc |= put_field(o, "eventId", cJSON_GetObjectItemCaseSensitive(j, "eventId"));
    rc |= put_field(o, "eventTime", cJSON_GetObjectItemCaseSensitive(j, "eventTime"));
    rc |= put_field(o, "eventName", cJSON_GetObjectItemCaseSensitive(j, "eventName"));
    rc |= put_field(o, "serviceName", cJSON_GetObjectItemCaseSensitive(j, "serviceName"));
    rc |= put_field(o, "who", cJSON_GetObjectItemCaseSensitive(j, "userIdentity"));
    rc |= put_field(o, "sourceIpAddress", cJSON_GetObjectItemCaseSensitive(j, "sourceIpAddress"));
    cJSON *ec = cJSON_GetObjectItemCaseSensitive(j, "errorCode");
    int failed = cJSON_IsString(ec) && ec->valuestring[0];
    rc |= tk_buf_printf(o, ",\"result\":\"%s\"", failed ? "error" : "success");
    rc |= put_field(o, "errorCode", ec);
    rc |= put_field(o, "errorMessage", cJSON_GetObjectItemCaseSensitive(j, "errorMessage"));
    rc |= put_field(o, "requestParameters", cJSON_GetObjectItemCaseSensitive(j, "requestParameters"));
    rc |= put_field(o, "responseElements", cJSON_GetObjectItemCaseSensitive(j, "responseElements"));
    rc |= tk_buf_puts(o, ",\"event\":");
    rc |= tk_buf_append(o, ev->json.p, ev->json.len);
    rc |= tk_buf_putc(o, '}');
    cJSON_Delete(j);
    if (rc) {
        w->oom = 1;
        return 1;
    }
    w->got++;
    w->last_time = ev->time_ms;
    w->last_seq = ev->seq;
    return 0;
}

/* rest = "{type}/{name}/history", still %-encoded: split first, decode after,
 * so a name holding "%2F" stays one name. */
void tk_route_history(tk_req_t *r, const char *rest)
{
    tk_http_server_t *s = r->srv;
    if (tk_req_auth(r))
        return;
    size_t n = strlen(rest);
    const char *suffix = "/history";
    const char *slash = strchr(rest, '/');
    if (n < 8 || strcmp(rest + n - 8, suffix) || !slash || slash >= rest + n - 8 || slash == rest ||
        slash + 1 == rest + n - 8 || memchr(slash + 1, '/', (size_t)(rest + n - 8 - slash - 1))) {
        tk_req_error(r, 404, "NotFound",
                     0, "Expected /v1/resources/{resourceType}/{resourceName}/history with both "
                        "parts URL-encoded (e.g. ACS::ECS::Instance/i-bp1abc/history).");
        return;
    }
    size_t tl = (size_t)(slash - rest), nl = (size_t)(rest + n - 8 - slash - 1);
    if (tl > 255 || nl > 1024) {
        tk_req_error(r, 400, "InvalidParameter", 0, "Resource type or name too long.");
        return;
    }
    char rtype[256], rname[1025];
    if (tk_pct_decode(rest, tl, rtype, NULL) || tk_pct_decode(slash + 1, nl, rname, NULL)) {
        tk_req_error(r, 400, "InvalidParameter", 0, "Bad %%-escape in the resource path.");
        return;
    }
    tk_kvlist_t kv = {0, 0, NULL};
    if (tk_form_parse(r->query, strlen(r->query), &kv)) {
        tk_kvlist_free(&kv); /* the pairs parsed before the bad one */
        tk_req_error(r, 400, "InvalidParameter", 0, "The query string is malformed.");
        return;
    }
    for (size_t i = 0; i < kv.n; i++) {
        const char *k = kv.kv[i].key;
        if (strcmp(k, "MaxResults") && strcmp(k, "NextToken") && strcmp(k, "StartTime") &&
            strcmp(k, "EndTime") && strcmp(k, "AccountId")) {
            tk_req_error(r, 400, "InvalidParameter", 0,
                         "Unknown parameter '%.64s'. Accepted: MaxResults, NextToken, StartTime, "
                         "EndTime, AccountId.",
                         k);
            tk_kvlist_free(&kv);
            return;
        }
    }
    const char *account = tk_kv_get(&kv, "AccountId");
    snprintf(r->account_buf, sizeof r->account_buf, "%s", account ? account : r->who.account);
    r->account = r->account_buf;
    if (tk_req_allow(r, r->account, TK_ROLE_READER) || tk_req_throttle(r, 0)) {
        tk_kvlist_free(&kv);
        return;
    }
    tk_lookup_req_t q;
    memset(&q, 0, sizeof q);
    q.account = r->account;
    int64_t now = tk_now_ms();
    q.end_ms = now + TK_MS_PER_DAY;
    q.start_ms = now - 3660 * TK_MS_PER_DAY;
    long max = 20;
    const char *v;
    if ((v = tk_kv_get(&kv, "StartTime")) && tk_time_parse_any(v, tk_now_ms(), &q.start_ms)) {
        tk_req_error(r, 400, "InvalidParameterStartTime", 0,
                     "StartTime '%.64s' is not a time: use " TK_TIME_GRAMMAR ".", v);
        goto out;
    }
    if ((v = tk_kv_get(&kv, "EndTime")) && tk_time_parse_any(v, tk_now_ms(), &q.end_ms)) {
        tk_req_error(r, 400, "InvalidParameterEndTime", 0,
                     "EndTime '%.64s' is not a time: use " TK_TIME_GRAMMAR ".", v);
        goto out;
    }
    if (q.start_ms > q.end_ms) {
        tk_req_error(r, 400, "InvalidParameterCombination", 0, "StartTime is after EndTime.");
        goto out;
    }
    if ((v = tk_kv_get(&kv, "MaxResults"))) {
        char *end;
        max = strtol(v, &end, 10);
        if (!*v || *end || max < 1 || max > s->o.max_page) {
            tk_req_error(r, 400, "InvalidParameterMaxResults", 0,
                         "MaxResults must be an integer from 1 to %d.", s->o.max_page);
            goto out;
        }
    }
    if ((v = tk_kv_get(&kv, "NextToken")) && *v) {
        if (tk_history_token_parse(s->token_key, r->account, rtype, rname, v, &q.cursor_time_ms,
                                   &q.cursor_seq)) {
            tk_req_error(r, 400, "InvalidNextToken", 0,
                         "NextToken is not valid for this account and resource: pass the token "
                         "returned by the previous page of the same history.");
            goto out;
        }
        q.has_cursor = 1;
    }
    q.nattrs = 2;
    q.attrs[0].key = TK_ATTR_RESOURCETYPE;
    q.attrs[0].value = rtype;
    q.attrs[1].key = TK_ATTR_RESOURCENAME;
    q.attrs[1].value = rname;
    q.forward = 0;
    tk_buf_t o = TK_BUF_INIT;
    int brc = tk_buf_puts(&o, "{\"ResourceType\":");
    brc |= tk_buf_put_json_str(&o, rtype, strlen(rtype));
    brc |= tk_buf_puts(&o, ",\"ResourceName\":");
    brc |= tk_buf_put_json_str(&o, rname, strlen(rname));
    brc |= tk_buf_puts(&o, ",\"Items\":[");
    hist_walk_t w = {.rtype = rtype, .rname = rname, .out = &o, .want = (size_t)max};
    char err[TK_ERRLEN] = "";
    uint64_t t0 = tk_mono_ns();
    int rc = tk_store_lookup(s->store, &q, hist_cb, &w, err);
    tk_metrics_observe(&s->metrics.lookup_latency, tk_mono_ns() - t0);
    if ((rc < 0 && !w.oom) || brc) {
        tk_buf_free(&o);
        tk_req_error(r, 500, "InternalError", 0, "History lookup failed: %s", err);
        goto out;
    }
    if (w.oom) {
        tk_buf_free(&o);
        tk_req_error(r, 500, "InternalError", 0, "out of memory");
        goto out;
    }
    char tok[160] = "";
    if (w.more)
        tk_history_token_make(s->token_key, r->account, rtype, rname, w.last_time, w.last_seq, tok);
    brc = tk_buf_printf(&o, "],\"NextToken\":\"%s\",\"RequestId\":\"%s\"}\n", tok, r->request_id);
    if (brc) {
        tk_buf_free(&o);
        tk_req_error(r, 500, "InternalError", 0, "out of memory");
        goto out;
    }
    tk_req_send(r, 200, "application/json", &o, 0);
out:
    tk_kvlist_free(&kv);
}

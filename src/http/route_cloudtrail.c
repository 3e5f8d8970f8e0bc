/* trailkeep CloudTrail-compatible endpoint: POST / with X-Amz-Target
 * ...CloudTrail_20131101.LookupEvents (AWS JSON 1.1, SigV4), so the real
 * `aws cloudtrail lookup-events --endpoint-url ...` works, pagination
 * included. CloudTrail attribute keys are mapped onto LookupAttributes and
 * the page is answered in CloudTrail's Event shape; errors use AWS's
 * {"__type","message"} shape and exception names. */
#include "http/http_internal.h"

#include "base/tk.h"
#include "base/tktime.h"
#include "event/format.h"
#include "query/lookup.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CT_TARGET "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
#define CT_JSON "application/x-amz-json-1.1"

/* CloudTrail LookupAttribute key -> trailkeep LookupAttribute key. */
static const struct {
    const char *ct, *tk;
} key_map[] = {
    {"EventId", "EventId"},           {"EventName", "EventName"},
    {"ReadOnly", "EventRW"},          {"Username", "User"},
    {"ResourceType", "ResourceType"}, {"ResourceName", "ResourceName"},
    {"EventSource", "EventSource"},   {"AccessKeyId", "EventAccessKeyId"},
};

static const char *jstr(cJSON *o, const char *name)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int put_opt_str(tk_buf_t *o, const char *name, const char *v)
{
    if (!v)
        return 0;
    int rc = tk_buf_printf(o, ",\"%s\":", name);
    return rc | tk_buf_put_json_str(o, v, strlen(v));
}

/* Resources from referencedResources {type:[names]}, else from the
 * flattened resourceType/resourceName pair (';' between types, ',' between
 * names of one type). */
static int put_resources(tk_buf_t *o, cJSON *ev)
{
    int rc = tk_buf_puts(o, ",\"Resources\":[");
    int first = 1;
    cJSON *rr = cJSON_GetObjectItemCaseSensitive(ev, "referencedResources");
    if (cJSON_IsObject(rr)) {
        cJSON *t;
        cJSON_ArrayForEach(t, rr)
        {
            cJSON *nm;
            cJSON_ArrayForEach(nm, t)
            {
                if (!cJSON_IsString(nm))
                    continue;
                rc |= tk_buf_puts(o, first ? "{\"ResourceType\":" : ",{\"ResourceType\":");
                rc |= tk_buf_put_json_str(o, t->string, strlen(t->string));
                rc |= tk_buf_puts(o, ",\"ResourceName\":");
                rc |= tk_buf_put_json_str(o, nm->valuestring, strlen(nm->valuestring));
                rc |= tk_buf_putc(o, '}');
                first = 0;
            }
        }
    } else {
        const char *types = jstr(ev, "resourceType"), *names = jstr(ev, "resourceName");
        if (types && names && *types) {
            const char *tp = types, *np = names;
            while (*tp) {
                size_t tl = strcspn(tp, ";"), nl = strcspn(np, ";");
                const char *q = np;
                while (q < np + nl) {
                    size_t l = strcspn(q, ",;");
                    if (l > (size_t)(np + nl - q))
                        l = (size_t)(np + nl - q);
                    if (l) {
                        rc |= tk_buf_puts(o, first ? "{\"ResourceType\":" : ",{\"ResourceType\":");
                        rc |= tk_buf_put_json_str(o, tp, tl);
                        rc |= tk_buf_puts(o, ",\"ResourceName\":");
                        rc |= tk_buf_put_json_str(o, q, l);
                        rc |= tk_buf_putc(o, '}');
                        first = 0;
                    }
                    q += l;
                    if (*q == ',')
                        q++;
                }
                tp += tl;
                np += nl;
                if (*tp == ';')
                    tp++;
                if (*np == ';')
                    np++;
            }
        }
    }
    return rc | tk_buf_putc(o, ']');
}

static int put_event(tk_buf_t *o, const tk_stored_event_t *se, int first)
{
    int rc = tk_buf_puts(o, first ? "{" : ",{");
    cJSON *ev = cJSON_ParseWithLength(se->json.p, se->json.len);
    const char *id = ev ? jstr(ev, "eventId") : NULL;
    rc |= tk_buf_puts(o, "\"EventId\":");
    rc |= id ? tk_buf_put_json_str(o, id, strlen(id)) : tk_buf_puts(o, "\"\"");
    if (ev) {
        rc |= put_opt_str(o, "EventName", jstr(ev, "eventName"));
        const char *rw = jstr(ev, "eventRW");
        if (rw)
            rc |= tk_buf_printf(o, ",\"ReadOnly\":\"%s\"", !strcmp(rw, "Read") ? "true" : "false");
        cJSON *ui = cJSON_GetObjectItemCaseSensitive(ev, "userIdentity");
        if (cJSON_IsObject(ui)) {
            rc |= put_opt_str(o, "AccessKeyId", jstr(ui, "accessKeyId"));
            rc |= put_opt_str(o, "Username", jstr(ui, "userName"));
        }
    }
    rc |= tk_buf_printf(o, ",\"EventTime\":%.3f", (double)se->time_ms / 1000.0);
    if (ev) {
        rc |= put_opt_str(o, "EventSource", jstr(ev, "eventSource"));
        rc |= put_resources(o, ev);
    }
    /* CloudTrail's own record shape as a JSON string: the original record
     * byte for byte when the event came from CloudTrail, else the mapping. */
    tk_buf_t ct = TK_BUF_INIT;
    char err[TK_ERRLEN];
    rc |= tk_buf_puts(o, ",\"CloudTrailEvent\":");
    if (tk_event_to_cloudtrail(se->json.p, se->json.len, &ct, err) == 0 && ct.p)
        rc |= tk_buf_put_json_str(o, ct.p, ct.len);
    else
        rc |= tk_buf_put_json_str(o, se->json.p, se->json.len);
    tk_buf_free(&ct);
    rc |= tk_buf_putc(o, '}');
    cJSON_Delete(ev);
    return rc;
}

void tk_route_cloudtrail(tk_req_t *r)
{
    tk_http_server_t *s = r->srv;
    const char *target = tk_req_header(r, "X-Amz-Target");
    if (!target || strncmp(target, CT_TARGET, strlen(CT_TARGET))) {
        tk_req_aws_error(r, 400, "UnknownOperationException",
                         "X-Amz-Target '%.120s' is not a CloudTrail_20131101 operation.",
                         target ? target : "");
        return;
    }
    const char *op = target + strlen(CT_TARGET);
    if (strcmp(op, "LookupEvents")) {
        if (tk_route_ct_trails(r, op))
            return;
        tk_req_aws_error(r, 400, "UnknownOperationException",
                         "Operation %.64s is not supported; trailkeep implements LookupEvents, "
                         "DescribeTrails, GetTrail, ListTrails, GetTrailStatus, CreateTrail, "
                         "UpdateTrail, ListPublicKeys, StartLogging, StopLogging and DeleteTrail.", op);
        return;
    }
    if (tk_req_auth(r))
        return;
    r->account = r->who.account;
    if (tk_req_allow(r, r->who.account, TK_ROLE_READER) || tk_req_throttle(r, 1))
        return;
    cJSON *body = r->body.len ? cJSON_ParseWithLength(r->body.p, r->body.len) : cJSON_CreateObject();
    if (!body || !cJSON_IsObject(body)) {
        cJSON_Delete(body);
        tk_req_aws_error(r, 400, "SerializationException", "The body is not a JSON object.");
        return;
    }
    tk_lookup_params_t p;
    memset(&p, 0, sizeof p);
    char tbuf[2][40], mbuf[24];
    const char *bad = NULL;
    cJSON *la = cJSON_GetObjectItemCaseSensitive(body, "LookupAttributes");
    if (la && !cJSON_IsNull(la)) {
        cJSON *it;
        if (!cJSON_IsArray(la))
            bad = "LookupAttributes must be a list of {AttributeKey, AttributeValue}.";
        cJSON_ArrayForEach(it, la)
        {
            if (bad)
                break;
            const char *k = jstr(it, "AttributeKey"), *v = jstr(it, "AttributeValue");
            if (!k || !v) {
                bad = "Each lookup attribute needs AttributeKey and AttributeValue.";
                break;
            }
            const char *tk = NULL;
            for (size_t i = 0; i < TK_ARRAY_LEN(key_map); i++)
                if (!strcmp(key_map[i].ct, k))
                    tk = key_map[i].tk;
            if (!tk) {
                tk_req_aws_error(r, 400, "InvalidLookupAttributesException",
                                 "AttributeKey '%.64s' is not one of EventId, EventName, ReadOnly, "
                                 "Username, ResourceType, ResourceName, EventSource, AccessKeyId.",
                                 k);
                cJSON_Delete(body);
                return;
            }
            if (!strcmp(k, "ReadOnly")) {
                if (!strcmp(v, "true"))
                    v = "Read";
                else if (!strcmp(v, "false"))
                    v = "Write";
                else {
                    bad = "ReadOnly must be \"true\" or \"false\".";
                    break;
                }
            }
            if (p.nattrs >= 2) {
                bad = "At most 2 lookup attributes are supported.";
                break;
            }
            p.attrs[p.nattrs].key = tk;
            p.attrs[p.nattrs].value = v;
            p.nattrs++;
        }
    }
    if (bad) {
        tk_req_aws_error(r, 400, "InvalidLookupAttributesException", "%s", bad);
        cJSON_Delete(body);
        return;
    }
    const char *names[2] = {"StartTime", "EndTime"};
    for (int i = 0; i < 2; i++) {
        cJSON *t = cJSON_GetObjectItemCaseSensitive(body, names[i]);
        if (!t || cJSON_IsNull(t))
            continue;
        int64_t ms;
        if (cJSON_IsNumber(t)) {
            /* Range-checked before converting: 1e400 or -1e300 are not times. */
            if (tk_time_from_epoch_s(t->valuedouble, &ms)) {
                tk_req_aws_error(r, 400, "InvalidTimeRangeException",
                                 "%s %g is out of range: epoch seconds from 0 to 253402300799.",
                                 names[i], t->valuedouble);
                cJSON_Delete(body);
                return;
            }
            tk_time_format(ms, 0, tbuf[i]);
        } else if (cJSON_IsString(t) && strlen(t->valuestring) < 40) {
            snprintf(tbuf[i], sizeof tbuf[i], "%s", t->valuestring);
        } else {
            tk_req_aws_error(r, 400, "InvalidTimeRangeException",
                             "%s must be a timestamp (epoch seconds).", names[i]);
            cJSON_Delete(body);
            return;
        }
        if (i == 0)
            p.start_time = tbuf[0];
        else
            p.end_time = tbuf[1];
    }
    /* CloudTrail looks back 90 days when no StartTime is given (the
     * ActionTrail API keeps its 7): a NextToken carries its own range. */
    char start90[40];
    if (!p.start_time && !jstr(body, "NextToken")) {
        int64_t end_ms = tk_now_ms();
        if (p.end_time && tk_time_parse_any(p.end_time, end_ms, &end_ms))
            end_ms = tk_now_ms(); /* the lookup reports the bad EndTime */
        tk_time_format(end_ms - 90 * TK_MS_PER_DAY, 1, start90);
        p.start_time = start90;
    }
    /* EventCategory "insight": the Insights records (CloudTrail semantics). */
    const char *cat = jstr(body, "EventCategory");
    if (cat && strcmp(cat, "insight")) {
        tk_req_aws_error(r, 400, "InvalidEventCategoryException",
                         "EventCategory '%.32s' is not valid: the only value is insight.", cat);
        cJSON_Delete(body);
        return;
    }
    if (cat) {
        if (p.nattrs >= 2) {
            tk_req_aws_error(r, 400, "InvalidLookupAttributesException",
                             "With EventCategory insight, give at most one lookup attribute.");
            cJSON_Delete(body);
            return;
        }
        p.attrs[p.nattrs].key = "EventType";
        p.attrs[p.nattrs].value = "ActionTrailInsight";
        p.nattrs++;
    }
    cJSON *mr = cJSON_GetObjectItemCaseSensitive(body, "MaxResults");
    if (mr && !cJSON_IsNull(mr)) {
        if (!cJSON_IsNumber(mr) || !(mr->valuedouble >= 1 && mr->valuedouble <= 50)) {
            tk_req_aws_error(r, 400, "InvalidMaxResultsException", "MaxResults must be a number from 1 to 50.");
            cJSON_Delete(body);
            return;
        }
        snprintf(mbuf, sizeof mbuf, "%.0f", mr->valuedouble);
        p.max_results = mbuf;
    } else {
        p.max_results = "50"; /* CloudTrail's page size */
    }
    p.next_token = jstr(body, "NextToken");
    tk_lookup_opts_t lo = {.now_ms = 0, .max_page = 50, .token_key = s->token_key};
    tk_lookup_page_t page;
    memset(&page, 0, sizeof page);
    tk_lookup_error_t lerr;
    memset(&lerr, 0, sizeof lerr);
    char err[TK_ERRLEN] = "";
    uint64_t t0 = tk_mono_ns();
    int rc = tk_lookup_run(s->store, r->who.account, &p, &lo, &page, &lerr, err);
    tk_metrics_observe(&s->metrics.lookup_latency, tk_mono_ns() - t0);
    cJSON_Delete(body);
    if (rc == TK_EINVAL && lerr.code) {
        tk_req_aws_error(r, 400, tk_lookup_error_cloudtrail(lerr.code), "%s (%s)", lerr.message, lerr.code);
        return;
    }
    if (rc) {
        tk_lookup_page_free(&page);
        tk_req_aws_error(r, 500, "InternalFailure", "Lookup failed: %s", err);
        return;
    }
    tk_buf_t o = TK_BUF_INIT;
    int brc = tk_buf_puts(&o, "{\"Events\":[");
    for (size_t i = 0; i < page.count && !brc; i++)
        brc |= put_event(&o, &page.events[i], i == 0);
    brc |= tk_buf_putc(&o, ']');
    if (page.next_token[0]) {
        brc |= tk_buf_puts(&o, ",\"NextToken\":");
        brc |= tk_buf_put_json_str(&o, page.next_token, strnlen(page.next_token, sizeof page.next_token));
    }
    brc |= tk_buf_puts(&o, "}\n");
    tk_lookup_page_free(&page);
    if (brc) {
        tk_buf_free(&o);
        tk_req_aws_error(r, 500, "InternalFailure", "out of memory");
        return;
    }
    tk_req_send(r, 200, CT_JSON, &o, 0);
}

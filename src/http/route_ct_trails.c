/* trailkeep CloudTrail control plane on the AWS JSON 1.1 endpoint, so the
 * aws CLI manages trailkeep's trails: DescribeTrails, GetTrail, ListTrails,
 * GetTrailStatus, ListPublicKeys (readers), CreateTrail, UpdateTrail, StartLogging,
 * StopLogging, DeleteTrail (admins).
 * One table row per operation. Trails keep ActionTrail semantics on
 * /v1/trails; here they are shown with CloudTrail's names (S3BucketName,
 * IsMultiRegionTrail, TrailARN ...) and errors (TrailNotFoundException). */
#include "http/http_internal.h"

#include "base/tk.h"
#include "base/tktime.h"
#include "trail/trail.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

typedef struct ct_ctx {
    tk_req_t *r;
    const cJSON *body;
    tk_buf_t *o;
    int n;
} ct_ctx_t;

/* "arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME" or NAME -> NAME. */
static const char *trail_name(const char *v)
{
    const char *t = v ? strstr(v, ":trail/") : NULL;
    return t ? t + 7 : v;
}

static int put_str(tk_buf_t *o, const char *k, const char *v)
{
    int rc = tk_buf_printf(o, "\"%s\":", k);
    return rc | tk_buf_put_json_str(o, v, strlen(v));
}

static int trail_arn(tk_buf_t *o, const tk_trail_t *t)
{
    char arn[256];
    snprintf(arn, sizeof arn, "arn:aws:cloudtrail:%s:%s:trail/%s", t->home_region[0] ? t->home_region : "global",
             t->account, t->name);
    return put_str(o, "TrailARN", arn);
}

/* A trail with CloudTrail's field names (DescribeTrails / GetTrail). */
static int trail_ct_json(tk_buf_t *o, const tk_trail_t *t)
{
    int rc = tk_buf_putc(o, '{');
    rc |= put_str(o, "Name", t->name);
    rc |= tk_buf_putc(o, ',') | put_str(o, "S3BucketName", t->oss_bucket);
    if (t->oss_prefix[0])
        rc |= tk_buf_putc(o, ',') | put_str(o, "S3KeyPrefix", t->oss_prefix);
    rc |= tk_buf_putc(o, ',') | put_str(o, "HomeRegion", t->home_region);
    rc |= tk_buf_putc(o, ',') | trail_arn(o, t);
    rc |= tk_buf_printf(o, ",\"IncludeGlobalServiceEvents\":true,\"IsMultiRegionTrail\":%s,"
                           "\"LogFileValidationEnabled\":true,\"IsOrganizationTrail\":%s,"
                           "\"HasCustomEventSelectors\":%s,\"HasInsightSelectors\":false}",
                        !strcmp(t->trail_region, "All") ? "true" : "false", t->is_org ? "true" : "false",
                        strcmp(t->event_rw, "All") ? "true" : "false");
    return rc;
}

static void on_describe(void *ud, const tk_trail_t *t)
{
    ct_ctx_t *c = ud;
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(c->body, "trailNameList");
    if (cJSON_IsArray(names) && cJSON_GetArraySize(names) > 0) {
        int want = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, names) want |= cJSON_IsString(it) && !strcmp(trail_name(it->valuestring), t->name);
        if (!want)
            return;
    }
    if (c->n++)
        tk_buf_putc(c->o, ',');
    trail_ct_json(c->o, t);
}

static void on_list(void *ud, const tk_trail_t *t)
{
    ct_ctx_t *c = ud;
    if (c->n++)
        tk_buf_putc(c->o, ',');
    tk_buf_putc(c->o, '{');
    trail_arn(c->o, t);
    tk_buf_putc(c->o, ',');
    put_str(c->o, "Name", t->name);
    tk_buf_putc(c->o, ',');
    put_str(c->o, "HomeRegion", t->home_region);
    tk_buf_putc(c->o, '}');
}

/* Trail errors under CloudTrail's exception names. */
static void ct_fail(tk_req_t *r, int rc, const char *err)
{
    if (rc == TK_ENOTFOUND)
        tk_req_aws_error(r, 400, "TrailNotFoundException", "%s", err);
    else if (rc == TK_EEXIST)
        tk_req_aws_error(r, 400, "TrailAlreadyExistsException", "%s", err);
    else if (rc == TK_EUNSUPPORTED)
        tk_req_aws_error(r, 400, "UnsupportedOperationException", "%s", err);
    else if (rc == TK_EINVAL)
        tk_req_aws_error(r, 400, "InvalidTrailNameException", "%s", err);
    else if (rc == TK_EPERM || rc == TK_EAUTH)
        tk_req_aws_error(r, 400, "AccessDeniedException", "%s", err);
    else
        tk_req_aws_error(r, 500, "InternalFailure", "%s", err);
}

static int op_describe(ct_ctx_t *c, char *err)
{
    tk_buf_puts(c->o, "{\"trailList\":[");
    int rc = tk_trail_describe(c->r->srv->meta, c->r->who.account, NULL, on_describe, c, err);
    tk_buf_puts(c->o, "]}");
    return rc;
}

static int op_list(ct_ctx_t *c, char *err)
{
    tk_buf_puts(c->o, "{\"Trails\":[");
    int rc = tk_trail_describe(c->r->srv->meta, c->r->who.account, NULL, on_list, c, err);
    tk_buf_puts(c->o, "]}");
    return rc;
}

static const char *need_name(ct_ctx_t *c, char *err)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(c->body, "Name");
    if (!cJSON_IsString(n) || !n->valuestring[0]) {
        tk_errf(err, TK_EINVAL, "Name is required (the trail's name or ARN)");
        return NULL;
    }
    return trail_name(n->valuestring);
}

static int op_get(ct_ctx_t *c, char *err)
{
    const char *name = need_name(c, err);
    if (!name)
        return TK_EINVAL;
    tk_trail_t t;
    int rc = tk_trail_get(c->r->srv->meta, c->r->who.account, name, &t, err);
    if (!rc) {
        tk_buf_puts(c->o, "{\"Trail\":");
        trail_ct_json(c->o, &t);
        tk_buf_putc(c->o, '}');
    }
    return rc;
}

static int op_status(ct_ctx_t *c, char *err)
{
    const char *name = need_name(c, err);
    if (!name)
        return TK_EINVAL;
    tk_trail_status_t st;
    int rc = tk_trail_get_status(c->r->srv->meta, c->r->srv->store, c->r->who.account, name, &st, err);
    if (rc)
        return rc;
    /* Times as epoch seconds, which botocore turns into datetimes. */
    tk_buf_printf(c->o, "{\"IsLogging\":%s", st.is_logging ? "true" : "false");
    if (st.start_logging_ms)
        tk_buf_printf(c->o, ",\"StartLoggingTime\":%.3f", (double)st.start_logging_ms / 1000.0);
    if (st.stop_logging_ms)
        tk_buf_printf(c->o, ",\"StopLoggingTime\":%.3f", (double)st.stop_logging_ms / 1000.0);
    if (st.latest_delivery_ms)
        tk_buf_printf(c->o, ",\"LatestDeliveryTime\":%.3f,\"LatestDeliveryAttemptSucceeded\":\"%s\"",
                      (double)st.latest_delivery_ms / 1000.0, st.latest_delivery_error[0] ? "" : "true");
    if (st.latest_delivery_error[0]) {
        tk_buf_putc(c->o, ',');
        put_str(c->o, "LatestDeliveryError", st.latest_delivery_error);
    }
    tk_buf_putc(c->o, '}');
    return 0;
}

/* StartLogging / StopLogging / DeleteTrail: recorded as the trail API records
 * them (an ActionTrail event of the change, with the caller). */
static int op_change(ct_ctx_t *c, char *err, int (*fn)(tk_meta_t *, tk_store_t *,
                                                        const tk_trail_caller_t *, const char *, char *))
{
    const char *name = need_name(c, err);
    if (!name)
        return TK_EINVAL;
    char ip[64];
    tk_trail_caller_t caller;
    tk_req_trail_caller(c->r, ip, &caller);
    int rc = fn(c->r->srv->meta, c->r->srv->store, &caller, name, err);
    if (!rc)
        tk_buf_puts(c->o, "{}");
    return rc;
}

/* CreateTrail / UpdateTrail: CloudTrail's fields mapped onto the trail
 * parameters (an S3 bucket makes an s3 destination at its defaults).
 * IncludeGlobalServiceEvents and EnableLogFileValidation are accepted when
 * true: trailkeep always records global events and always signs digests. */
static int op_put(ct_ctx_t *c, char *err, int create)
{
    static const char *const names[] = {"Name", "S3BucketName", "S3KeyPrefix", "IsMultiRegionTrail",
                                        "IsOrganizationTrail", "IncludeGlobalServiceEvents",
                                        "EnableLogFileValidation"};
    tk_trail_param_t p[8];
    size_t n = 0;
    const cJSON *it;
    char mr[8];
    cJSON_ArrayForEach(it, c->body) {
        size_t k = 0;
        while (k < TK_ARRAY_LEN(names) && strcmp(names[k], it->string))
            k++;
        if (k == TK_ARRAY_LEN(names))
            return tk_errf(err, TK_EUNSUPPORTED,
                           "%.64s is not supported (CreateTrail/UpdateTrail take Name, S3BucketName, "
                           "S3KeyPrefix, IsMultiRegionTrail, IsOrganizationTrail)", it->string);
        if (k >= 3 && !cJSON_IsBool(it))
            return tk_errf(err, TK_EINVAL, "%s must be true or false", names[k]);
        if (k < 3 && !cJSON_IsString(it))
            return tk_errf(err, TK_EINVAL, "%s must be a string", names[k]);
        if (k >= 5) {
            if (!cJSON_IsTrue(it))
                return tk_errf(err, TK_EUNSUPPORTED, "%s cannot be false: trailkeep always %s",
                               names[k], k == 5 ? "records global service events"
                                                : "signs digests of its log files");
            continue;
        }
        if (!strcmp(it->string, "Name"))
            p[n++] = (tk_trail_param_t){"Name", trail_name(it->valuestring)};
        else if (!strcmp(it->string, "S3BucketName"))
            p[n++] = (tk_trail_param_t){"OssBucketName", it->valuestring};
        else if (!strcmp(it->string, "S3KeyPrefix"))
            p[n++] = (tk_trail_param_t){"OssKeyPrefix", it->valuestring};
        else if (!strcmp(it->string, "IsMultiRegionTrail")) {
            if (cJSON_IsTrue(it))
                p[n++] = (tk_trail_param_t){"TrailRegion", "All"};
        } else {
            snprintf(mr, sizeof mr, "%s", cJSON_IsTrue(it) ? "true" : "false");
            p[n++] = (tk_trail_param_t){"IsOrganizationTrail", mr};
        }
    }
    char ip[64];
    tk_trail_caller_t caller;
    tk_req_trail_caller(c->r, ip, &caller);
    tk_trail_t t;
    int rc = create ? tk_trail_create(c->r->srv->meta, c->r->srv->store, &caller, p, n, &t, err)
                    : tk_trail_update(c->r->srv->meta, c->r->srv->store, &caller, p, n, &t, err);
    if (!rc)
        trail_ct_json(c->o, &t);
    return rc;
}

/* ListPublicKeys: the digest signing keys (Ed25519), "Value" the DER public
 * key in base64 as CloudTrail gives it (the PEM body), so a verifier can
 * fetch them with the aws CLI. */
static int op_keys(ct_ctx_t *c, char *err)
{
    tk_buf_t raw = TK_BUF_INIT;
    int rc = tk_trail_public_keys(c->r->srv->meta, &raw, err);
    cJSON *arr = rc ? NULL : cJSON_ParseWithLength(raw.p, raw.len);
    tk_buf_free(&raw);
    if (rc)
        return rc;
    tk_buf_puts(c->o, "{\"PublicKeyList\":[");
    const cJSON *k;
    int n = 0;
    cJSON_ArrayForEach(k, arr) {
        const char *pem = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "PublicKey"));
        const char *fp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "Fingerprint"));
        const char *ct = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "CreateTime"));
        tk_buf_t der = TK_BUF_INIT; /* the PEM body: base64 lines between the armour */
        for (const char *p = pem ? pem : ""; *p;) {
            const char *e = strchr(p, '\n');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (len && p[0] != '-')
                tk_buf_append(&der, p, len);
            p += len + (e != NULL);
        }
        int64_t ms = 0;
        if (ct)
            tk_time_parse(ct, strlen(ct), &ms);
        tk_buf_puts(c->o, n++ ? ",{" : "{");
        put_str(c->o, "Value", der.p ? der.p : "");
        tk_buf_putc(c->o, ',');
        put_str(c->o, "Fingerprint", fp ? fp : "");
        tk_buf_printf(c->o, ",\"ValidityStartTime\":%.3f}", (double)ms / 1000.0);
        tk_buf_free(&der);
    }
    tk_buf_puts(c->o, "]}");
    cJSON_Delete(arr);
    return 0;
}

static int op_create(ct_ctx_t *c, char *err) { return op_put(c, err, 1); }
static int op_update(ct_ctx_t *c, char *err) { return op_put(c, err, 0); }
static int op_start(ct_ctx_t *c, char *err) { return op_change(c, err, tk_trail_start_logging); }
static int op_stop(ct_ctx_t *c, char *err) { return op_change(c, err, tk_trail_stop_logging); }
static int op_delete(ct_ctx_t *c, char *err) { return op_change(c, err, tk_trail_delete); }

static const struct {
    const char *op;
    tk_role_t role;
    int (*fn)(ct_ctx_t *c, char *err);
} k_ops[] = {
    {"DescribeTrails", TK_ROLE_READER, op_describe}, {"ListTrails", TK_ROLE_READER, op_list},
    {"GetTrail", TK_ROLE_READER, op_get},            {"GetTrailStatus", TK_ROLE_READER, op_status},
    {"StartLogging", TK_ROLE_ADMIN, op_start},       {"StopLogging", TK_ROLE_ADMIN, op_stop},
    {"DeleteTrail", TK_ROLE_ADMIN, op_delete},       {"CreateTrail", TK_ROLE_ADMIN, op_create},
    {"UpdateTrail", TK_ROLE_ADMIN, op_update},       {"ListPublicKeys", TK_ROLE_READER, op_keys},
};

int tk_route_ct_trails(tk_req_t *r, const char *op)
{
    size_t i = 0;
    while (i < TK_ARRAY_LEN(k_ops) && strcmp(k_ops[i].op, op))
        i++;
    if (i == TK_ARRAY_LEN(k_ops))
        return 0;
    if (tk_req_auth(r))
        return 1;
    r->account = r->who.account;
    if (tk_req_allow(r, r->who.account, k_ops[i].role) ||
        (k_ops[i].role == TK_ROLE_READER && tk_req_throttle(r, 1)))
        return 1;
    cJSON *body = r->body.len ? cJSON_ParseWithLength(r->body.p, r->body.len) : cJSON_CreateObject();
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        tk_req_aws_error(r, 400, "SerializationException", "The body is not a JSON object.");
        return 1;
    }
    tk_buf_t o = TK_BUF_INIT;
    ct_ctx_t c = {.r = r, .body = body, .o = &o};
    char err[TK_ERRLEN] = "";
    int rc = k_ops[i].fn(&c, err);
    cJSON_Delete(body);
    if (rc) {
        tk_buf_free(&o);
        ct_fail(r, rc, err);
        return 1;
    }
    tk_buf_putc(&o, '\n');
    tk_req_send(r, 200, "application/x-amz-json-1.1", &o, 0);
    return 1;
}

/* trailkeep event: CloudTrail records. Forward: a record becomes the
 * canonical ActionTrail-shaped object of SPEC.md 1.2 (renamed fields, mapped
 * identity types, resources flattened), with the original record kept
 * verbatim under "cloudTrailRecord"; the result then goes through the same
 * validation and indexing as ActionTrail input. Reverse: a stored event as a
 * CloudTrail record (the kept original when there is one). Values are copied
 * as raw bytes of the validated input, so nothing is re-serialised. */
#include "event/event_internal.h"
#include "event/format.h"

#include "base/tk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *ct, *at;
} k_types[] = {
    {"IAMUser", "ram-user"},
    {"Root", "root-account"},
    {"AssumedRole", "assumed-role"},
    {"AWSService", "system"},
    {"FederatedUser", "federated-user"},
    {"AWSAccount", "alibaba-cloud-account"},
    {"IdentityCenterUser", "cloudsso-user"},
    {"SAMLUser", "saml-user"},
    {"WebIdentityUser", "web-identity-user"},
    {"Unknown", "unknown"},
};

static const struct {
    const char *ct, *at;
} k_evtypes[] = {
    {"AwsApiCall", "ApiCall"},
    {"AwsConsoleSignIn", "ConsoleSignin"},
    {"AwsConsoleAction", "ConsoleOperation"},
    {"AwsServiceEvent", "AliyunServiceEvent"},
    {"AwsCloudTrailInsight", "ActionTrailInsight"},
};

typedef struct sv {
    const char *p;
    uint32_t n;
} sv_t;

static int put(tk_buf_t *o, const char *s)
{
    return tk_buf_append(o, s, strlen(s));
}

/* ,"name":<raw> */
static void put_raw(tk_buf_t *o, const char *name, const char *raw, size_t n)
{
    tk_buf_putc(o, ',');
    tk_buf_putc(o, '"');
    put(o, name);
    tk_buf_append(o, "\":", 2);
    tk_buf_append(o, raw, n);
}

static void put_str(tk_buf_t *o, const char *name, const char *s, size_t n)
{
    tk_buf_putc(o, ',');
    tk_buf_putc(o, '"');
    put(o, name);
    tk_buf_append(o, "\":", 2);
    tk_buf_put_json_str(o, s, n);
}

static const char *jt_name(tk_jtype_t t)
{
    switch (t) {
    case TK_J_OBJECT: return "an object";
    case TK_J_ARRAY: return "an array";
    case TK_J_STRING: return "a string";
    case TK_J_BOOL: return "a boolean";
    case TK_J_NULL: return "null";
    default: return "a number";
    }
}

/* One CloudTrail resources[] item per referencedResources name. */
typedef struct res_ctx {
    tk_buf_t *out;
    int first;
} res_ctx_t;

static void ct_resource(void *ud, const char *type, size_t tlen, const char *name, size_t nlen)
{
    res_ctx_t *c = ud;
    tk_buf_puts(c->out, c->first ? "{\"ARN\":" : ",{\"ARN\":");
    c->first = 0;
    tk_buf_append(c->out, name, nlen);
    tk_buf_puts(c->out, ",\"type\":\"");
    tk_buf_append(c->out, type, tlen);
    tk_buf_puts(c->out, "\"}");
}

static const tk_rawmember_t *rget(const tk_rawset_t *r, const char *key)
{
    return tk_raw_find(r->m, r->n, key);
}

/* Copies member key of r (raw) as name when it exists and is not null. */
static void copy_raw(tk_buf_t *o, const tk_rawset_t *r, const char *key, const char *name)
{
    const tk_rawmember_t *x = rget(r, key);
    if (x && !(x->vlen == 4 && memcmp(x->val, "null", 4) == 0))
        put_raw(o, name, x->val, x->vlen);
}

/* The DOM member named key, or NULL. */
static const tk_jmember_t *dget(const tk_jmember_t *m, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (tk_str_is(m[i].key, m[i].klen, key))
            return &m[i];
    return NULL;
}

/* Checks that DOM member key is a string (or absent/null when optional). */
static int want_string(tk_pctx_t *c, size_t idx, uint64_t line, const tk_jmember_t *m, size_t n,
                       const char *key, sv_t *out)
{
    const tk_jmember_t *x = dget(m, n, key);
    out->p = NULL;
    out->n = 0;
    if (!x)
        return 0;
    tk_jtype_t t = tk_jtype(x->val);
    if (t == TK_J_NULL)
        return 0;
    if (t != TK_J_STRING) {
        tk_reject_add(c, idx, line, TK_REJ_INVALID_TYPE, key, "%s must be a string, not %s", key, jt_name(t));
        return -1;
    }
    tk_jstring(x->val, &out->p, &out->n);
    return 0;
}

typedef struct restype {
    tk_buf_t type;  /* owned: a derived type lives on the loop's stack */
    tk_buf_t names; /* JSON array items, comma-separated */
    tk_buf_t flat;  /* names joined by ',' (unescaped) */
} restype_t;

/* A resource without "type" (CloudTrail omits it for some services): derive
 * it from the ARN, arn:aws:ssm:r:a:parameter/x -> AWS::SSM::Parameter (short
 * service names upper-cased as AWS writes them), else "Unknown". */
static uint32_t type_from_arn(const char *p, uint32_t n, char out[96])
{
    const char *f[7];
    uint32_t fl[7], k = 0, s = 0;
    for (uint32_t i = 0; i <= n && k < 7; i++) {
        if (i == n || (p[i] == ':' && k < 6)) {
            f[k] = p + s;
            fl[k] = i - s;
            k++;
            s = i + 1;
        }
    }
    if (k < 6 || !tk_str_is(f[0], fl[0], "arn") || !fl[2] || fl[2] > 30) {
        memcpy(out, "Unknown", 7);
        return 7;
    }
    const char *res = f[5];
    uint32_t rl = (uint32_t)(p + n - res), j = 0;
    while (j < rl && res[j] != '/' && res[j] != ':')
        j++;
    if (j == 0 || j > 40) {
        memcpy(out, "Unknown", 7);
        return 7;
    }
    uint32_t o = 0;
    memcpy(out, "AWS::", 5);
    o = 5;
    static const struct {
        const char *arn, *aws;
    } k_services[] = {
        {"cloudtrail", "CloudTrail"}, {"dynamodb", "DynamoDB"}, {"secretsmanager", "SecretsManager"},
        {"cloudwatch", "CloudWatch"}, {"cloudformation", "CloudFormation"}, {"guardduty", "GuardDuty"},
        {"elasticloadbalancing", "ElasticLoadBalancingV2"}, {"autoscaling", "AutoScaling"},
        {"apigateway", "ApiGateway"}, {"codebuild", "CodeBuild"}, {"route53", "Route53"},
        {"securityhub", "SecurityHub"}, {"stepfunctions", "StepFunctions"}, {"ssm", "SSM"},
    };
    const char *svc = NULL;
    for (size_t i = 0; i < sizeof k_services / sizeof k_services[0] && !svc; i++)
        if (tk_str_is(f[2], fl[2], k_services[i].arn))
            svc = k_services[i].aws;
    for (uint32_t i = 0; svc && svc[i]; i++)
        out[o++] = svc[i];
    for (uint32_t i = 0; !svc && i < fl[2]; i++) {
        char ch = f[2][i];
        if (fl[2] <= 3 || i == 0)
            ch = (char)(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
        out[o++] = ch;
    }
    out[o++] = ':';
    out[o++] = ':';
    /* "managed-instance-inventory" -> "ManagedInstanceInventory", as AWS
     * names resource types (AWS::SSM::ManagedInstanceInventory). */
    int up = 1;
    for (uint32_t i = 0; i < j; i++) {
        char ch = res[i];
        if (ch == '-' || ch == '_') {
            up = 1;
            continue;
        }
        if (up && ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        up = 0;
        out[o++] = ch;
    }
    return o;
}

/* resources[] -> referencedResources / resourceType / resourceName. */
static int map_resources(tk_pctx_t *c, size_t idx, uint64_t line, tk_jv_t arr, tk_buf_t *o)
{
    tk_jv_t small[16], *items = small;
    size_t n = tk_jarray(arr, small, 16);
    int rc = 0;
    if (n > 16) {
        items = malloc(n * sizeof *items);
        if (!items)
            return -1;
        tk_jarray(arr, items, n);
    }
    restype_t *types = calloc(n ? n : 1, sizeof *types);
    size_t nt = 0;
    if (!types) {
        rc = -1;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (tk_jtype(items[i]) != TK_J_OBJECT) {
            tk_reject_add(c, idx, line, TK_REJ_INVALID_TYPE, "resources",
                          "resources[%zu] must be an object with ARN and type, not %s", i,
                          jt_name(tk_jtype(items[i])));
            rc = 1;
            goto done;
        }
        tk_jmember_t mm[16];
        size_t k = tk_jobject(items[i], mm, 16);
        if (k > 16)
            k = 16;
        sv_t arn = {0}, type = {0};
        for (size_t j = 0; j < k; j++) {
            sv_t *d = NULL;
            if (tk_str_is(mm[j].key, mm[j].klen, "ARN") || (tk_str_is(mm[j].key, mm[j].klen, "ARNPrefix") && !arn.n))
                d = &arn;
            else if (tk_str_is(mm[j].key, mm[j].klen, "type"))
                d = &type;
            if (d && tk_jstring(mm[j].val, &d->p, &d->n)) {
                tk_reject_add(c, idx, line, TK_REJ_INVALID_TYPE, "resources",
                              "resources[%zu].%.*s must be a string", i, (int)mm[j].klen, mm[j].key);
                rc = 1;
                goto done;
            }
        }
        if (!arn.n)
            continue;
        char derived[96];
        if (!type.n) {
            type.n = type_from_arn(arn.p, arn.n, derived);
            type.p = derived;
        }
        size_t t = 0;
        while (t < nt && !(types[t].type.len == type.n && memcmp(types[t].type.p, type.p, type.n) == 0))
            t++;
        if (t == nt && tk_buf_append(&types[nt++].type, type.p, type.n)) {
            rc = -1;
            goto done;
        }
        if (types[t].names.len) {
            tk_buf_putc(&types[t].names, ',');
            tk_buf_putc(&types[t].flat, ',');
        }
        tk_buf_put_json_str(&types[t].names, arn.p, arn.n);
        tk_buf_append(&types[t].flat, arn.p, arn.n);
    }
    if (nt) {
        tk_buf_t flat = TK_BUF_INIT;
        for (size_t t = 0; t < nt; t++) {
            if (t)
                tk_buf_putc(&flat, ';');
            tk_buf_append(&flat, types[t].type.p, types[t].type.len);
        }
        put_str(o, "resourceType", flat.p, flat.len);
        tk_buf_reset(&flat);
        for (size_t t = 0; t < nt; t++) {
            if (t)
                tk_buf_putc(&flat, ';');
            tk_buf_append(&flat, types[t].flat.p, types[t].flat.len);
        }
        put_str(o, "resourceName", flat.p, flat.len);
        tk_buf_free(&flat);
        put(o, ",\"referencedResources\":{");
        for (size_t t = 0; t < nt; t++) {
            if (t)
                tk_buf_putc(o, ',');
            tk_buf_put_json_str(o, types[t].type.p, types[t].type.len);
            tk_buf_append(o, ":[", 2);
            tk_buf_append(o, types[t].names.p, types[t].names.len);
            tk_buf_putc(o, ']');
        }
        tk_buf_putc(o, '}');
    }
done:
    if (types) {
        for (size_t t = 0; t < nt; t++) {
            tk_buf_free(&types[t].names);
            tk_buf_free(&types[t].flat);
            tk_buf_free(&types[t].type);
        }
        free(types);
    }
    if (items != small)
        free(items);
    return rc;
}

/* Builds the canonical userIdentity from the record's. Returns 0, 1 rejected, -1 ENOMEM. */
static int map_identity(tk_pctx_t *c, size_t idx, uint64_t line, tk_jv_t ui, const char *raw,
                        size_t rawlen, tk_buf_t *o)
{
    tk_batch_t *b = c->b;
    size_t n;
    tk_jmember_t *m = tk_batch_members(b, 1, ui, &n);
    if (!m)
        return -1;
    tk_rawset_t r;
    if (tk_rawset_load(&r, raw, rawlen))
        return -1;
    sv_t type, user, arn, pid;
    if (want_string(c, idx, line, m, n, "type", &type) || want_string(c, idx, line, m, n, "userName", &user) ||
        want_string(c, idx, line, m, n, "arn", &arn) || want_string(c, idx, line, m, n, "principalId", &pid)) {
        /* want_string names the bare key; make the field path precise. */
        tk_reject_t *rj = &b->rej[b->nrej - 1];
        char f[64];
        memcpy(f, rj->field, sizeof f);
        snprintf(rj->field, sizeof rj->field, "userIdentity.%.40s", f);
        tk_rawset_free(&r);
        return 1;
    }
    /* A record without userIdentity.type keeps it absent: an empty string
     * would be a value CloudTrail never wrote. */
    put(o, ",\"userIdentity\":{");
    size_t body_at = o->len;
    const char *mapped = NULL;
    for (size_t i = 0; i < TK_ARRAY_LEN(k_types) && type.n; i++)
        if (tk_str_is(type.p, type.n, k_types[i].ct))
            mapped = k_types[i].at;
    if (mapped || type.p) {
        put(o, "\"type\":");
        if (mapped)
            tk_buf_put_json_str(o, mapped, strlen(mapped));
        else
            tk_buf_put_json_str(o, type.p, type.n);
    }
    copy_raw(o, &r, "principalId", "principalId");
    copy_raw(o, &r, "accountId", "accountId");
    if (user.n) {
        copy_raw(o, &r, "userName", "userName");
    } else if (tk_str_is(type.p, type.n, "Root")) {
        put_str(o, "userName", "root", 4);
    } else if (tk_str_is(type.p, type.n, "AssumedRole")) {
        /* CloudTrail's lookup "Username" of a role session is the session name. */
        sv_t sess = {0};
        if (arn.n) {
            const char *q = memchr(arn.p, '/', arn.n);
            if (q) {
                const char *q2 = memchr(q + 1, '/', (size_t)(arn.p + arn.n - q - 1));
                if (q2) {
                    sess.p = q2 + 1;
                    sess.n = (uint32_t)(arn.p + arn.n - q2 - 1);
                }
            }
        }
        if (!sess.n && pid.n) {
            const char *q = memchr(pid.p, ':', pid.n);
            if (q) {
                sess.p = q + 1;
                sess.n = (uint32_t)(pid.p + pid.n - q - 1);
            }
        }
        if (sess.n)
            put_str(o, "userName", sess.p, sess.n);
    }
    copy_raw(o, &r, "accessKeyId", "accessKeyId");
    copy_raw(o, &r, "arn", "arn");
    copy_raw(o, &r, "invokedBy", "invokedBy");
    copy_raw(o, &r, "identityProvider", "identityProvider");
    copy_raw(o, &r, "sessionContext", "sessionContext");
    copy_raw(o, &r, "onBehalfOf", "onBehalfOf");
    if (!mapped && !type.p && o->len > body_at && o->p[body_at] == ',') {
        /* no type: the first member written starts with its comma */
        memmove(o->p + body_at, o->p + body_at + 1, o->len - body_at - 1);
        o->len--;
    }
    tk_buf_putc(o, '}');
    tk_rawset_free(&r);
    return 0;
}

void tk_ct_event(tk_pctx_t *c, const char *p, size_t len, tk_jv_t root, tk_jmember_t *m, size_t n,
                 size_t idx, uint64_t line)
{
    tk_batch_t *b = c->b;
    if (!m)
        m = tk_batch_members(b, 0, root, &n);
    tk_rawset_t r;
    if (!m || tk_rawset_load(&r, p, len)) {
        b->nomem = 1;
        return;
    }
    tk_buf_t *o = &b->scratch;
    tk_buf_reset(o);
    sv_t region, srcip, evid, reqid, evtype, source, name;
    if (want_string(c, idx, line, m, n, "awsRegion", &region) ||
        want_string(c, idx, line, m, n, "sourceIPAddress", &srcip) ||
        want_string(c, idx, line, m, n, "eventID", &evid) ||
        want_string(c, idx, line, m, n, "requestID", &reqid) ||
        want_string(c, idx, line, m, n, "eventType", &evtype) ||
        want_string(c, idx, line, m, n, "eventSource", &source) ||
        want_string(c, idx, line, m, n, "eventName", &name))
        goto out;
    const tk_jmember_t *ro = dget(m, n, "readOnly");
    int readonly = -1;
    if (ro) {
        tk_jtype_t t = tk_jtype(ro->val);
        const char *s;
        uint32_t sl;
        if (t == TK_J_BOOL)
            tk_jbool(ro->val, &readonly);
        else if (t == TK_J_STRING && tk_jstring(ro->val, &s, &sl) == 0 && (tk_str_is(s, sl, "true") || tk_str_is(s, sl, "false")))
            readonly = s[0] == 't';
        else if (t != TK_J_NULL) {
            tk_reject_add(c, idx, line, TK_REJ_INVALID_TYPE, "readOnly", "readOnly must be true or false, not %s",
                          jt_name(t));
            goto out;
        }
    }

    /* Canonical fields first, in SPEC.md 1.1 order. A second, slim pass
     * leaves the big objects only in cloudTrailRecord when copying them
     * twice would push the stored event over the size limit. */
    int slim = 0;
build:
    tk_buf_reset(o);
    tk_buf_putc(o, '{');
    put(o, "\"eventVersion\":\"1\"");
    if (evid.n)
        copy_raw(o, &r, "eventID", "eventId");
    copy_raw(o, &r, "eventTime", "eventTime");
    const tk_rawmember_t *cat = rget(&r, "eventCategory");
    if (cat)
        put_raw(o, "eventCategory", cat->val, cat->vlen);
    else
        put(o, ",\"eventCategory\":\"Management\"");
    if (evtype.n) {
        const char *mt = NULL;
        for (size_t i = 0; i < TK_ARRAY_LEN(k_evtypes); i++)
            if (tk_str_is(evtype.p, evtype.n, k_evtypes[i].ct))
                mt = k_evtypes[i].at;
        if (mt)
            put_str(o, "eventType", mt, strlen(mt));
        else
            copy_raw(o, &r, "eventType", "eventType");
    }
    if (readonly >= 0)
        put(o, readonly ? ",\"eventRW\":\"Read\"" : ",\"eventRW\":\"Write\"");
    if (source.n) {
        copy_raw(o, &r, "eventSource", "eventSource");
        const char *dot = memchr(source.p, '.', source.n);
        if (dot && dot > source.p) {
            char svc[64];
            size_t sl = (size_t)(dot - source.p);
            if (sl > 63)
                sl = 63;
            memcpy(svc, source.p, sl);
            if (svc[0] >= 'a' && svc[0] <= 'z')
                svc[0] = (char)(svc[0] - 'a' + 'A');
            put_str(o, "serviceName", svc, sl);
        }
    }
    copy_raw(o, &r, "eventName", "eventName");
    if (region.n)
        copy_raw(o, &r, "awsRegion", "acsRegion");
    if (reqid.n)
        copy_raw(o, &r, "requestID", "requestId");
    copy_raw(o, &r, "apiVersion", "apiVersion");
    if (srcip.n)
        copy_raw(o, &r, "sourceIPAddress", "sourceIpAddress");
    copy_raw(o, &r, "userAgent", "userAgent");
    const tk_jmember_t *ui = dget(m, n, "userIdentity");
    if (ui && tk_jtype(ui->val) != TK_J_NULL) {
        if (tk_jtype(ui->val) != TK_J_OBJECT) {
            tk_reject_add(c, idx, line, TK_REJ_INVALID_TYPE, "userIdentity", "userIdentity must be an object, not %s",
                          jt_name(tk_jtype(ui->val)));
            goto out;
        }
        /* The raw walk compares keys as written: an escaped spelling of
         * "userIdentity" is found by the DOM only; map what we can then. */
        const tk_rawmember_t *rui = rget(&r, "userIdentity");
        int rc = map_identity(c, idx, line, ui->val, rui ? rui->val : "{}", rui ? rui->vlen : 2, o);
        if (rc < 0)
            b->nomem = 1;
        if (rc)
            goto out;
    }
    /* Objects keep their canonical name only when they have the canonical
     * type; anything else stays reachable in cloudTrailRecord. */
    static const char *const objs[] = {"requestParameters", "responseElements", "additionalEventData"};
    for (size_t i = 0; i < TK_ARRAY_LEN(objs) && !slim; i++) {
        const tk_jmember_t *x = dget(m, n, objs[i]);
        if (x && tk_jtype(x->val) == TK_J_OBJECT)
            copy_raw(o, &r, objs[i], objs[i]);
    }
    if (slim)
        put(o, ",\"omittedFields\":[\"requestParameters\",\"responseElements\",\"additionalEventData\"]");
    sv_t ec, em;
    if (want_string(c, idx, line, m, n, "errorCode", &ec) || want_string(c, idx, line, m, n, "errorMessage", &em))
        goto out;
    if (ec.n)
        copy_raw(o, &r, "errorCode", "errorCode");
    if (em.n)
        copy_raw(o, &r, "errorMessage", "errorMessage");
    const tk_jmember_t *res = dget(m, n, "resources");
    if (res && tk_jtype(res->val) != TK_J_NULL) {
        if (tk_jtype(res->val) != TK_J_ARRAY) {
            tk_reject_add(c, idx, line, TK_REJ_INVALID_TYPE, "resources", "resources must be an array, not %s",
                          jt_name(tk_jtype(res->val)));
            goto out;
        }
        int rc = map_resources(c, idx, line, res->val, o);
        if (rc < 0)
            b->nomem = 1;
        if (rc)
            goto out;
    }
    copy_raw(o, &r, "recipientAccountId", "recipientAccountId");
    if (name.n)
        put(o, tk_event_is_sensitive(NULL, 0, name.p, name.n) ? ",\"sensitiveAction\":true"
                                                               : ",\"sensitiveAction\":false");
    put(o, ",\"cloudTrailRecord\":");
    tk_buf_append(o, p, len);
    tk_buf_putc(o, '}');
    if (o->len > TK_EVENT_MAX_BYTES && !slim) {
        slim = 1;
        goto build;
    }
    if (tk_buf_reserve(o, TK_JSON_PADDING)) {
        b->nomem = 1;
        goto out;
    }
    tk_jv_t root2;
    int err = tk_jparse(b->jp, o->p, o->len, 1, &root2);
    if (err) {
        tk_reject_add(c, idx, line, TK_REJ_INVALID_JSON, "",
                      "internal error: the mapped CloudTrail record is not valid JSON (%s); please report it",
                      tk_jerr_message(err));
        goto out;
    }
    tk_rawset_free(&r);
    tk_at_event(c, o->p, o->len, root2, NULL, 0, idx, line, 0);
    return;
out:
    tk_rawset_free(&r);
}

/* ---------------------------------------------------------------------
 * Reverse: canonical -> CloudTrail record. */

static int raw_is(const tk_rawmember_t *x, const char *lit)
{
    size_t l = strlen(lit);
    return x && x->vlen == l + 2 && x->val[0] == '"' && memcmp(x->val + 1, lit, l) == 0;
}

static void rcopy(tk_buf_t *o, const tk_rawset_t *r, const char *key, const char *name, int *first)
{
    const tk_rawmember_t *x = rget(r, key);
    if (!x || (x->vlen == 4 && memcmp(x->val, "null", 4) == 0) || (x->vlen == 2 && memcmp(x->val, "\"\"", 2) == 0))
        return;
    if (!*first)
        tk_buf_putc(o, ',');
    *first = 0;
    tk_buf_putc(o, '"');
    put(o, name);
    tk_buf_append(o, "\":", 2);
    tk_buf_append(o, x->val, x->vlen);
}

int tk_event_to_cloudtrail(const char *json, size_t len, tk_buf_t *out, char *err)
{
    const char *p = tk_skip_ws(json, json + len);
    size_t l = (size_t)(json + len - p);
    while (l && tk_json_ws(p[l - 1]))
        l--;
    if (!l || p[0] != '{')
        return tk_errf(err, TK_EINVAL, "stored event is not a JSON object");
    tk_rawset_t r;
    if (tk_rawset_load(&r, p, l))
        return tk_errf(err, TK_ENOMEM, "out of memory rendering a CloudTrail record");
    const tk_rawmember_t *orig = rget(&r, "cloudTrailRecord");
    if (orig && orig->vlen && orig->val[0] == '{') {
        int rc = tk_buf_append(out, orig->val, orig->vlen);
        tk_rawset_free(&r);
        return rc;
    }
    int first = 1;
    tk_buf_putc(out, '{');
    /* ActionTrail's "1" is not a CloudTrail version: records are written as 1.08. */
    put(out, "\"eventVersion\":\"1.08\"");
    first = 0;
    const tk_rawmember_t *ui = rget(&r, "userIdentity");
    if (ui && ui->vlen && ui->val[0] == '{') {
        tk_rawset_t u;
        if (tk_rawset_load(&u, ui->val, ui->vlen) == 0) {
            put(out, ",\"userIdentity\":{");
            int f2 = 1;
            const tk_rawmember_t *t = rget(&u, "type");
            const char *ct = NULL;
            for (size_t i = 0; i < TK_ARRAY_LEN(k_types); i++)
                if (raw_is(t, k_types[i].at))
                    ct = k_types[i].ct;
            if (ct) {
                put(out, "\"type\":");
                tk_buf_put_json_str(out, ct, strlen(ct));
                f2 = 0;
            } else {
                rcopy(out, &u, "type", "type", &f2);
            }
            static const char *const keep[] = {"principalId", "arn", "accountId", "accessKeyId", "userName",
                                               "invokedBy", "sessionContext"};
            for (size_t i = 0; i < TK_ARRAY_LEN(keep); i++)
                rcopy(out, &u, keep[i], keep[i], &f2);
            tk_buf_putc(out, '}');
            tk_rawset_free(&u);
        }
    }
    static const struct {
        const char *at, *ct;
    } ren[] = {
        {"eventTime", "eventTime"},     {"eventSource", "eventSource"},
        {"eventName", "eventName"},     {"acsRegion", "awsRegion"},
        {"sourceIpAddress", "sourceIPAddress"}, {"userAgent", "userAgent"},
        {"requestParameters", "requestParameters"}, {"responseElements", "responseElements"},
        {"additionalEventData", "additionalEventData"}, {"errorCode", "errorCode"},
        {"errorMessage", "errorMessage"}, {"requestId", "requestID"},
        {"eventId", "eventID"},         {"apiVersion", "apiVersion"},
    };
    for (size_t i = 0; i < TK_ARRAY_LEN(ren); i++)
        rcopy(out, &r, ren[i].at, ren[i].ct, &first);
    const tk_rawmember_t *rw = rget(&r, "eventRW");
    if (raw_is(rw, "Read"))
        put(out, ",\"readOnly\":true");
    else if (raw_is(rw, "Write"))
        put(out, ",\"readOnly\":false");
    const tk_rawmember_t *refr = rget(&r, "referencedResources");
    if (refr && refr->vlen && refr->val[0] == '{') {
        tk_rawset_t rr;
        if (tk_rawset_load(&rr, refr->val, refr->vlen) == 0) {
            put(out, ",\"resources\":[");
            res_ctx_t rc2 = {out, 1};
            tk_rawset_each_name(&rr, ct_resource, &rc2);
            tk_buf_putc(out, ']');
            tk_rawset_free(&rr);
        }
    }
    const tk_rawmember_t *et = rget(&r, "eventType");
    const char *ctt = NULL;
    for (size_t i = 0; i < TK_ARRAY_LEN(k_evtypes); i++)
        if (raw_is(et, k_evtypes[i].at))
            ctt = k_evtypes[i].ct;
    if (ctt) {
        put(out, ",\"eventType\":");
        tk_buf_put_json_str(out, ctt, strlen(ctt));
    } else {
        rcopy(out, &r, "eventType", "eventType", &first);
    }
    const tk_rawmember_t *cat = rget(&r, "eventCategory");
    put(out, (!cat || raw_is(cat, "Management")) ? ",\"managementEvent\":true" : ",\"managementEvent\":false");
    rcopy(out, &r, "recipientAccountId", "recipientAccountId", &first);
    rcopy(out, &r, "eventCategory", "eventCategory", &first);
    int rc = tk_buf_putc(out, '}');
    tk_rawset_free(&r);
    return rc ? tk_errf(err, TK_ENOMEM, "out of memory rendering a CloudTrail record") : 0;
}

/* trailkeep event: OCSF output. A stored canonical event rendered as an OCSF
 * 1.1 API Activity record (class 6003) for security lakes (Amazon Security
 * Lake, Splunk, ...). Works from the stored bytes with the raw scanner, so
 * values keep their exact JSON spelling and no parser state is needed. */
#include "event/event_internal.h"
#include "event/format.h"

#include "base/tk.h"
#include "base/tktime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One OCSF resources[] item per referencedResources name. */
static void ocsf_resource(void *ud, const char *type, size_t tlen, const char *name, size_t nlen)
{
    void **ctx = ud;
    tk_buf_t *out = ctx[0];
    int *first = ctx[1];
    tk_buf_puts(out, *first ? "{\"type\":\"" : ",{\"type\":\"");
    *first = 0;
    tk_buf_append(out, type, tlen);
    tk_buf_puts(out, "\",\"uid\":");
    tk_buf_append(out, name, nlen);
    tk_buf_putc(out, '}');
}

/* A member whose value is a non-empty JSON string, else NULL. */
static const tk_rawmember_t *str_member(const tk_rawset_t *r, const char *key)
{
    const tk_rawmember_t *x = tk_raw_find(r->m, r->n, key);
    return x && x->vlen > 2 && x->val[0] == '"' ? x : NULL;
}

/* A member whose value is an object, else NULL. */
static const tk_rawmember_t *obj_member(const tk_rawset_t *r, const char *key)
{
    const tk_rawmember_t *x = tk_raw_find(r->m, r->n, key);
    return x && x->vlen >= 2 && x->val[0] == '{' ? x : NULL;
}

/* Appends "name":<raw> with a separating comma when *first is 0. */
static void field(tk_buf_t *o, int *first, const char *name, const tk_rawmember_t *x)
{
    if (!x)
        return;
    if (!*first)
        tk_buf_putc(o, ',');
    *first = 0;
    tk_buf_putc(o, '"');
    tk_buf_puts(o, name);
    tk_buf_append(o, "\":", 2);
    tk_buf_append(o, x->val, x->vlen);
}

static int raw_is(const tk_rawmember_t *x, const char *lit)
{
    size_t l = strlen(lit);
    return x && x->vlen == l + 2 && memcmp(x->val + 1, lit, l) == 0;
}

static int starts(const tk_rawmember_t *x, const char *pre)
{
    size_t l = strlen(pre);
    return x && x->vlen > l + 1 && memcmp(x->val + 1, pre, l) == 0;
}

/* OCSF activity of an API name: 1 Create, 2 Read, 3 Update, 4 Delete, 99 Other. */
static int activity(const tk_rawmember_t *name, const tk_rawmember_t *rw)
{
    static const char *const reads[] = {"Describe", "Get", "List", "Lookup", "Query", "Search", "Check", "Head"};
    static const char *const deletes[] = {"Delete", "Remove", "Detach", "Terminate", "Release", "Revoke",
                                          "Unbind", "Deactivate", "Deregister", "Disassociate"};
    static const char *const creates[] = {"Create", "Add", "Run", "Attach", "Allocate", "Import", "Register",
                                          "Bind", "Authorize", "Generate", "Issue", "Upload", "Copy", "Clone"};
    static const char *const updates[] = {"Update", "Modify", "Set", "Put", "Change", "Reset", "Enable",
                                          "Disable", "Start", "Stop", "Reboot", "Associate", "Replace", "Tag",
                                          "Untag", "Rotate", "Restore"};
    for (size_t i = 0; i < TK_ARRAY_LEN(reads); i++)
        if (starts(name, reads[i]))
            return 2;
    for (size_t i = 0; i < TK_ARRAY_LEN(deletes); i++)
        if (starts(name, deletes[i]))
            return 4;
    for (size_t i = 0; i < TK_ARRAY_LEN(creates); i++)
        if (starts(name, creates[i]))
            return 1;
    for (size_t i = 0; i < TK_ARRAY_LEN(updates); i++)
        if (starts(name, updates[i]))
            return 3;
    return raw_is(rw, "Read") ? 2 : 99;
}

/* IPv4/IPv6 characters only (ActionTrail writes "Internal" or a service
 * host for calls made by services; those go to src_endpoint.domain). */
static int looks_like_ip(const tk_rawmember_t *x)
{
    if (!x || x->vlen < 4)
        return 0;
    int colon = 0, dot = 0;
    for (uint32_t i = 1; i + 1 < x->vlen; i++) {
        char c = x->val[i];
        if (c == ':')
            colon = 1;
        else if (c == '.')
            dot = 1;
        else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return colon || dot;
}

int tk_event_to_ocsf(const char *json, size_t len, tk_buf_t *out, char *err)
{
    const char *p = tk_skip_ws(json, json + len);
    size_t l = (size_t)(json + len - p);
    while (l && tk_json_ws(p[l - 1]))
        l--;
    if (!l || p[0] != '{')
        return tk_errf(err, TK_EINVAL, "stored event is not a JSON object");
    tk_rawset_t r, u = {.n = 0}, rr = {.n = 0};
    u.m = u.small;
    rr.m = rr.small;
    if (tk_rawset_load(&r, p, l))
        return tk_errf(err, TK_ENOMEM, "out of memory rendering OCSF");
    const tk_rawmember_t *ui = obj_member(&r, "userIdentity");
    const tk_rawmember_t *refs = obj_member(&r, "referencedResources");
    if ((ui && tk_rawset_load(&u, ui->val, ui->vlen)) || (refs && tk_rawset_load(&rr, refs->val, refs->vlen))) {
        tk_rawset_free(&r);
        tk_rawset_free(&u);
        return tk_errf(err, TK_ENOMEM, "out of memory rendering OCSF");
    }
    int aws = tk_raw_find(r.m, r.n, "cloudTrailRecord") != NULL;
    const tk_rawmember_t *name = str_member(&r, "eventName"), *rw = str_member(&r, "eventRW");
    const tk_rawmember_t *ec = str_member(&r, "errorCode");
    int act = activity(name, rw);
    static const char *const act_names[] = {"Unknown", "Create", "Read", "Update", "Delete"};
    const char *an = act <= 4 ? act_names[act] : "Other";

    int64_t ms = 0;
    const tk_rawmember_t *t = str_member(&r, "eventTime");
    if (t)
        (void)tk_time_parse(t->val + 1, t->vlen - 2, &ms);

    tk_buf_printf(out,
                  "{\"class_uid\":6003,\"class_name\":\"API Activity\",\"category_uid\":6,"
                  "\"category_name\":\"Application Activity\",\"activity_id\":%d,\"activity_name\":\"%s\","
                  "\"type_uid\":%d,\"type_name\":\"API Activity: %s\",\"severity_id\":1,\"severity\":\"Informational\","
                  "\"time\":%lld,\"status_id\":%d,\"status\":\"%s\"",
                  act, an, 600300 + act, an, (long long)ms, ec ? 2 : 1, ec ? "Failure" : "Success");
    int first = 0;
    field(out, &first, "status_code", ec);
    field(out, &first, "status_detail", str_member(&r, "errorMessage"));

    tk_buf_puts(out, ",\"metadata\":{\"version\":\"1.1.0\",\"profiles\":[\"cloud\"],\"product\":");
    tk_buf_puts(out, aws ? "{\"name\":\"CloudTrail\",\"vendor_name\":\"AWS\"}"
                         : "{\"name\":\"ActionTrail\",\"vendor_name\":\"Alibaba Cloud\"}");
    first = 0;
    field(out, &first, "uid", str_member(&r, "eventId"));
    field(out, &first, "event_code", str_member(&r, "eventType"));
    tk_buf_putc(out, '}');

    tk_buf_puts(out, ",\"api\":{");
    first = 1;
    field(out, &first, "operation", name);
    const tk_rawmember_t *src = str_member(&r, "eventSource");
    if (src) {
        tk_buf_puts(out, first ? "\"service\":{" : ",\"service\":{");
        first = 0;
        int f2 = 1;
        field(out, &f2, "name", src);
        tk_buf_putc(out, '}');
    }
    const tk_rawmember_t *rid = str_member(&r, "requestId"), *rq = obj_member(&r, "requestParameters");
    if (rid || rq) {
        tk_buf_puts(out, first ? "\"request\":{" : ",\"request\":{");
        first = 0;
        int f2 = 1;
        field(out, &f2, "uid", rid);
        field(out, &f2, "data", rq);
        tk_buf_putc(out, '}');
    }
    const tk_rawmember_t *rs = obj_member(&r, "responseElements");
    if (rs) {
        tk_buf_puts(out, first ? "\"response\":{" : ",\"response\":{");
        first = 0;
        int f2 = 1;
        field(out, &f2, "data", rs);
        tk_buf_putc(out, '}');
    }
    field(out, &first, "version", str_member(&r, "apiVersion"));
    tk_buf_putc(out, '}');

    if (ui) {
        tk_buf_puts(out, ",\"actor\":{\"user\":{");
        first = 1;
        field(out, &first, "type", str_member(&u, "type"));
        field(out, &first, "uid", str_member(&u, "principalId"));
        field(out, &first, "name", str_member(&u, "userName"));
        field(out, &first, "credential_uid", str_member(&u, "accessKeyId"));
        const tk_rawmember_t *acc = str_member(&u, "accountId");
        if (acc) {
            tk_buf_puts(out, first ? "\"account\":{" : ",\"account\":{");
            first = 0;
            int f2 = 1;
            field(out, &f2, "uid", acc);
            tk_buf_putc(out, '}');
        }
        tk_buf_putc(out, '}');
        first = 0;
        field(out, &first, "invoked_by", str_member(&u, "invokedBy"));
        tk_buf_putc(out, '}');
    }
    const tk_rawmember_t *ip = str_member(&r, "sourceIpAddress");
    if (ip) {
        tk_buf_puts(out, ",\"src_endpoint\":{");
        first = 1;
        field(out, &first, looks_like_ip(ip) ? "ip" : "domain", ip);
        tk_buf_putc(out, '}');
    }
    const tk_rawmember_t *ua = str_member(&r, "userAgent");
    if (ua) {
        tk_buf_puts(out, ",\"http_request\":{");
        first = 1;
        field(out, &first, "user_agent", ua);
        tk_buf_putc(out, '}');
    }
    tk_buf_puts(out, aws ? ",\"cloud\":{\"provider\":\"AWS\"" : ",\"cloud\":{\"provider\":\"AlibabaCloud\"");
    first = 0;
    field(out, &first, "region", str_member(&r, "acsRegion"));
    const tk_rawmember_t *rcpt = str_member(&r, "recipientAccountId");
    if (rcpt) {
        tk_buf_puts(out, ",\"account\":{");
        int f2 = 1;
        field(out, &f2, "uid", rcpt);
        tk_buf_putc(out, '}');
    }
    tk_buf_putc(out, '}');

    if (refs && rr.n) {
        tk_buf_puts(out, ",\"resources\":[");
        int first = 1;
        void *ctx[2] = {out, &first};
        tk_rawset_each_name(&rr, ocsf_resource, ctx);
        tk_buf_putc(out, ']');
    }
    int rc = tk_buf_putc(out, '}');
    tk_rawset_free(&r);
    tk_rawset_free(&u);
    tk_rawset_free(&rr);
    return rc ? tk_errf(err, TK_ENOMEM, "out of memory rendering OCSF") : 0;
}

/* ---- the output format registry (STYLE.md: formats are table entries) ---- */

static int render_canonical(const char *json, size_t len, tk_buf_t *out, char *err)
{
    if (tk_buf_append(out, json, len))
        return tk_errf(err, TK_ENOMEM, "out of memory");
    return 0;
}

static const tk_event_format_t k_formats[] = {
    {"canonical", "the stored ActionTrail-shaped event, byte for byte", render_canonical},
    {"cloudtrail", "an AWS CloudTrail record (the original one for CloudTrail input)", tk_event_to_cloudtrail},
    {"ocsf", "OCSF 1.1 API Activity (class 6003), for security lakes", tk_event_to_ocsf},
};

size_t tk_event_formats(const tk_event_format_t **out)
{
    *out = k_formats;
    return TK_ARRAY_LEN(k_formats);
}

const tk_event_format_t *tk_event_format_find(const char *name)
{
    for (size_t i = 0; name && i < TK_ARRAY_LEN(k_formats); i++)
        if (strcmp(k_formats[i].name, name) == 0)
            return &k_formats[i];
    return NULL;
}

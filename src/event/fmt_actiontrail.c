/* trailkeep event: ActionTrail (canonical) objects. Validates the fields the
 * rest of the system relies on, fills tk_event_t and its index terms, and
 * builds the stored bytes: the caller's object unchanged except that a missing
 * eventId / recipientAccountId is inserted right after the opening '{'.
 * Cost per event: one pass over the top-level members, one arena copy. */
#include "event/event_internal.h"

#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"

#include <stdlib.h>
#include <string.h>

enum {
    F_EVENTID, F_EVENTTIME, F_EVENTNAME, F_EVENTSOURCE, F_SERVICENAME, F_EVENTTYPE, F_EVENTRW,
    F_CATEGORY, F_REGION, F_SOURCEIP, F_USERAGENT, F_REQUESTID, F_APIVERSION, F_ERRORCODE,
    F_ERRORMESSAGE, F_RESOURCETYPE, F_RESOURCENAME, F_EVENTVERSION, F_RECIPIENT,
    F_USERIDENTITY, F_REQPARAMS, F_RESPELEMS, F_ADDDATA, F_REFRES, F_ISGLOBAL, F_SENSITIVE,
    F__COUNT
};

enum { K_STR, K_OBJ, K_BOOLISH };

static const struct {
    const char *name;
    uint8_t kind;
} k_fields[F__COUNT] = {
    [F_EVENTID] = {"eventId", K_STR},
    [F_EVENTTIME] = {"eventTime", K_STR},
    [F_EVENTNAME] = {"eventName", K_STR},
    [F_EVENTSOURCE] = {"eventSource", K_STR},
    [F_SERVICENAME] = {"serviceName", K_STR},
    [F_EVENTTYPE] = {"eventType", K_STR},
    [F_EVENTRW] = {"eventRW", K_STR},
    [F_CATEGORY] = {"eventCategory", K_STR},
    [F_REGION] = {"acsRegion", K_STR},
    [F_SOURCEIP] = {"sourceIpAddress", K_STR},
    [F_USERAGENT] = {"userAgent", K_STR},
    [F_REQUESTID] = {"requestId", K_STR},
    [F_APIVERSION] = {"apiVersion", K_STR},
    [F_ERRORCODE] = {"errorCode", K_STR},
    [F_ERRORMESSAGE] = {"errorMessage", K_STR},
    [F_RESOURCETYPE] = {"resourceType", K_STR},
    [F_RESOURCENAME] = {"resourceName", K_STR},
    [F_EVENTVERSION] = {"eventVersion", K_STR},
    [F_RECIPIENT] = {"recipientAccountId", K_STR},
    [F_USERIDENTITY] = {"userIdentity", K_OBJ},
    [F_REQPARAMS] = {"requestParameters", K_OBJ},
    [F_RESPELEMS] = {"responseElements", K_OBJ},
    [F_ADDDATA] = {"additionalEventData", K_OBJ},
    [F_REFRES] = {"referencedResources", K_OBJ},
    [F_ISGLOBAL] = {"isGlobal", K_BOOLISH},
    [F_SENSITIVE] = {"sensitiveAction", K_BOOLISH},
};

/* Member name -> F_* slot, or -1. Switch on length first: most keys are
 * rejected or found with one memcmp. */
static int field_slot(const char *k, uint32_t n)
{
#define IS(f) (memcmp(k, k_fields[f].name, n) == 0 ? (f) : -1)
    switch (n) {
    case 7: return k[5] == 'I' ? IS(F_EVENTID) : IS(F_EVENTRW);
    case 8: return IS(F_ISGLOBAL);
    case 9:
        switch (k[0]) {
        case 'e':
            if (k[1] == 'r')
                return IS(F_ERRORCODE);
            return k[5] == 'T' ? (k[6] == 'i' ? IS(F_EVENTTIME) : IS(F_EVENTTYPE)) : IS(F_EVENTNAME);
        case 'a': return IS(F_REGION);
        case 'r': return IS(F_REQUESTID);
        case 'u': return IS(F_USERAGENT);
        }
        return -1;
    case 10: return IS(F_APIVERSION);
    case 11: return k[0] == 'e' ? IS(F_EVENTSOURCE) : IS(F_SERVICENAME);
    case 12:
        switch (k[0]) {
        case 'u': return IS(F_USERIDENTITY);
        case 'e': return k[1] == 'v' ? IS(F_EVENTVERSION) : IS(F_ERRORMESSAGE);
        case 'r': return k[8] == 'T' ? IS(F_RESOURCETYPE) : IS(F_RESOURCENAME);
        }
        return -1;
    case 13: return IS(F_CATEGORY);
    case 15: return k[0] == 's' && k[1] == 'o' ? IS(F_SOURCEIP) : IS(F_SENSITIVE);
    case 16: return IS(F_RESPELEMS);
    case 17: return IS(F_REQPARAMS);
    case 18: return IS(F_RECIPIENT);
    case 19: return k[0] == 'a' ? IS(F_ADDDATA) : IS(F_REFRES);
    }
    return -1;
#undef IS
}

static const char *jtype_name(tk_jtype_t t)
{
    switch (t) {
    case TK_J_OBJECT: return "an object";
    case TK_J_ARRAY: return "an array";
    case TK_J_STRING: return "a string";
    case TK_J_INT:
    case TK_J_UINT:
    case TK_J_DOUBLE: return "a number";
    case TK_J_BOOL: return "a boolean";
    case TK_J_NULL: return "null";
    default: return "unknown";
    }
}

typedef struct terms {
    tk_batch_t *b;
    size_t n;
    size_t nmulti; /* terms of the multi-valued attributes so far */
} terms_t;

static int term_cmp(const void *x, const void *y)
{
    const tk_term_t *a = x, *b = y;
    if (a->attr != b->attr)
        return a->attr < b->attr ? -1 : 1;
    size_t n = a->val.len < b->val.len ? a->val.len : b->val.len;
    int c = memcmp(a->val.p, b->val.p, n);
    if (c)
        return c;
    return a->val.len < b->val.len ? -1 : a->val.len > b->val.len;
}

static int term_eq(const tk_term_t *a, tk_attr_t attr, const char *p, size_t n)
{
    return a->attr == attr && a->val.len == n && memcmp(a->val.p, p, n) == 0;
}

/* Multi-valued attributes (ResourceType, ResourceName) are the only ones
 * that can repeat a value: they are checked against earlier terms as they
 * come while few; past 64 a sort at the end removes repeats instead. */
#define MULTI_CHECK_MAX 64

static void term_add(terms_t *t, tk_attr_t a, const char *p, size_t n)
{
    if (n == 0)
        return;
    tk_batch_t *b = t->b;
    if (a == TK_ATTR_RESOURCETYPE || a == TK_ATTR_RESOURCENAME) {
        if (t->nmulti < MULTI_CHECK_MAX)
            for (size_t i = 0; i < t->n; i++)
                if (term_eq(&b->terms[i], a, p, n))
                    return;
        t->nmulti++;
    }
    if (t->n == b->cap_terms) {
        size_t nc = b->cap_terms ? b->cap_terms * 2 : 32;
        tk_term_t *x = realloc(b->terms, nc * sizeof *x);
        if (!x) {
            b->nomem = 1;
            return;
        }
        b->terms = x;
        b->cap_terms = nc;
    }
    b->terms[t->n].attr = a;
    b->terms[t->n].val.p = p;
    b->terms[t->n].val.len = (uint32_t)n;
    t->n++;
}

/* Final pass: only needed when the multi-valued check was skipped. */
static size_t terms_dedup(tk_term_t *t, size_t n, size_t nmulti)
{
    if (nmulti < MULTI_CHECK_MAX)
        return n;
    qsort(t, n, sizeof *t, term_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || term_cmp(&t[k - 1], &t[i]) != 0)
            t[k++] = t[i];
    return k;
}

/* Adds one term per non-empty piece of s (NUL-terminated, as arena copies
 * are) split on ';' (and ',' when comma is set), trimmed of blanks. */
static void term_split(terms_t *t, tk_attr_t a, const char *s, size_t n, int comma)
{
    const char *seps = comma ? ";," : ";";
    size_t i = 0;
    while (i <= n) {
        size_t j = i + strcspn(s + i, seps);
        if (j > n)
            j = n;
        while (j < n && s[j] == 0) /* a NUL inside the value: step over it */
            j += 1 + strcspn(s + j + 1, seps);
        if (j > n)
            j = n;
        size_t b = i, e = j;
        while (b < e && (s[b] == ' ' || s[b] == '\t'))
            b++;
        while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
            e--;
        term_add(t, a, s + b, e - b);
        i = j + 1;
    }
}

/* JSON-escapes s into dst (room for 6n bytes), returns the length. */
static size_t json_escape(char *dst, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            dst[k++] = '\\';
            dst[k++] = (char)ch;
        } else if (ch < 0x20) {
            memcpy(dst + k, "\\u00", 4);
            dst[k + 4] = hex[ch >> 4];
            dst[k + 5] = hex[ch & 15];
            k += 6;
        } else {
            dst[k++] = (char)ch;
        }
    }
    return k;
}

/* Copy of a DOM string into the arena as a tk_str_t; empty on ENOMEM. */
static tk_str_t adup(tk_batch_t *b, const char *p, uint32_t n)
{
    tk_str_t s = {"", 0};
    if (!n)
        return s;
    char *d = tk_arena_dup(&b->arena, p, n);
    if (!d) {
        b->nomem = 1;
        return s;
    }
    s.p = d;
    s.len = n;
    return s;
}

typedef struct sv {
    const char *p;
    uint32_t n;
} sv_t;

/* Reads member m as a string-or-null into *out; rejects other types. */
static int str_or_null(tk_pctx_t *c, size_t idx, uint64_t line, const char *field, const tk_jmember_t *m,
                       sv_t *out)
{
    if (m->type == TK_J_STRING) {
        out->p = m->s;
        out->n = m->slen;
        return 0;
    }
    if (m->type == TK_J_NULL)
        return 0;
    tk_reject_add(c, idx, line, TK_REJ_INVALID_TYPE, field, "%s must be a string, not %s", field,
                  jtype_name(m->type));
    return -1;
}

static int obj_or_null(tk_pctx_t *c, size_t idx, uint64_t line, const char *field, const tk_jmember_t *m)
{
    if (m->type == TK_J_OBJECT || m->type == TK_J_NULL)
        return 0;
    tk_reject_add(c, idx, line, TK_REJ_INVALID_TYPE, field, "%s must be an object or null, not %s",
                  field, jtype_name(m->type));
    return -1;
}

/* bool or "true"/"false": -1 absent/null, 0/1, or -2 rejected. */
static int boolish(tk_pctx_t *c, size_t idx, uint64_t line, const char *field, const tk_jmember_t *m)
{
    int x;
    if (m->type == TK_J_BOOL) {
        tk_jbool(m->val, &x);
        return x;
    }
    if (m->type == TK_J_NULL)
        return -1;
    if (m->type == TK_J_STRING) {
        if (tk_str_is(m->s, m->slen, "true"))
            return 1;
        if (tk_str_is(m->s, m->slen, "false"))
            return 0;
    }
    tk_reject_add(c, idx, line, TK_REJ_INVALID_TYPE, field,
                  "%s must be true or false (a boolean or the string \"true\"/\"false\"), not %s",
                  field, jtype_name(m->type));
    return -2;
}

/* Keys only CloudTrail writes (ActionTrail spells them eventId, acsRegion,
 * sourceIpAddress, requestId, eventRW). */
static int is_ct_key(const char *k, uint32_t n)
{
    switch (n) {
    case 7: return memcmp(k, "eventID", 7) == 0;
    case 8: return memcmp(k, "readOnly", 8) == 0;
    case 9: return memcmp(k, "awsRegion", 9) == 0 || memcmp(k, "requestID", 9) == 0;
    case 15: return memcmp(k, "sourceIPAddress", 15) == 0;
    }
    return 0;
}

/* Role name from an ARN: ".../role/path/name" -> name; ".../assumed-role/name/session" -> name. */
static int role_from_arn(const char *p, uint32_t n, sv_t *out)
{
    for (uint32_t i = 0; i + 13 <= n; i++) {
        if (memcmp(p + i, "assumed-role/", 13) == 0) {
            uint32_t b = i + 13, e = b;
            while (e < n && p[e] != '/')
                e++;
            out->p = p + b;
            out->n = e - b;
            return e > b;
        }
    }
    for (uint32_t i = 0; i + 6 <= n; i++) {
        if (memcmp(p + i, ":role/", 6) == 0) {
            uint32_t e = n, b = e;
            while (b > i + 6 && p[b - 1] != '/')
                b--;
            out->p = p + b;
            out->n = e - b;
            return e > b;
        }
    }
    return 0;
}

/* "ecs.aliyuncs.com" -> "Ecs" into dst (>= 64 bytes); returns length. */
static uint32_t service_from_source(const char *p, uint32_t n, char *dst)
{
    uint32_t k = 0;
    while (k < n && k < 63 && p[k] != '.') {
        dst[k] = p[k];
        k++;
    }
    if (k == n || k == 63)
        return 0; /* no dot: not a host name */
    if (dst[0] >= 'a' && dst[0] <= 'z')
        dst[0] = (char)(dst[0] - 'a' + 'A');
    return k;
}

int tk_at_event(tk_pctx_t *c, const char *p, size_t len, tk_jv_t root, tk_jmember_t *m, size_t nm,
                size_t idx, uint64_t line, int sniff)
{
    tk_batch_t *b = c->b;
    const tk_parse_opts_t *o = c->opts;
    if (!m)
        m = tk_batch_members(b, 0, root, &nm);
    if (!m) {
        b->nomem = 1;
        return 0;
    }
    const tk_jmember_t *slot[F__COUNT];
    uint32_t present = 0;
    int records = 0;
    for (size_t i = 0; i < nm; i++) {
        int f = field_slot(m[i].key, m[i].klen);
        if (f >= 0) {
            /* A field trailkeep reads given twice is refused: JSON readers
             * disagree on which copy wins (first here, last in Python and
             * jq), so the event indexed and the event a downstream tool
             * reads from the archive could differ. */
            if (present & (1u << f)) {
                tk_reject_add(c, idx, line, TK_REJ_DUPLICATE, k_fields[f].name,
                              "%s appears twice in the event: send each field once", k_fields[f].name);
                return 0;
            }
            slot[f] = &m[i];
            present |= 1u << f;
        } else if (m[i].klen == 7 && m[i].type == TK_J_ARRAY && memcmp(m[i].key, "Records", 7) == 0) {
            records = 1;
        } else if (sniff && is_ct_key(m[i].key, m[i].klen)) {
            return 1;
        }
    }
    if (records && !(present & (1u << F_EVENTTIME)))
        return 2; /* a CloudTrail file object, not an event */
    /* CloudTrail writes eventVersion "1.08".."1.10"; ActionTrail writes "1". */
    if (sniff && (present & (1u << F_EVENTVERSION)) && slot[F_EVENTVERSION]->slen >= 3 &&
        slot[F_EVENTVERSION]->s[0] == '1' && slot[F_EVENTVERSION]->s[1] == '.')
        return 1;

    sv_t s[F__COUNT];
    memset(s, 0, sizeof s);
    int isglobal = -1, sensitive = -1;
    for (int f = 0; f < F__COUNT; f++) {
        if (!(present & (1u << f)))
            continue;
        switch (k_fields[f].kind) {
        case K_STR:
            if (str_or_null(c, idx, line, k_fields[f].name, slot[f], &s[f]))
                return 0;
            break;
        case K_OBJ:
            if (obj_or_null(c, idx, line, k_fields[f].name, slot[f]))
                return 0;
            if (slot[f]->type == TK_J_NULL)
                present &= ~(1u << f);
            break;
        case K_BOOLISH: {
            int v = boolish(c, idx, line, k_fields[f].name, slot[f]);
            if (v == -2)
                return 0;
            if (f == F_ISGLOBAL)
                isglobal = v;
            else
                sensitive = v;
            break;
        }
        }
    }
    (void)isglobal;

    /* eventTime: required, RFC 3339. */
    if (!(present & (1u << F_EVENTTIME))) {
        tk_reject_add(c, idx, line, TK_REJ_MISSING_FIELD, "eventTime",
                      "eventTime is missing: every event needs its time (RFC 3339, e.g. 2026-11-24T10:00:00Z)");
        return 0;
    }
    if (!s[F_EVENTTIME].p) {
        tk_reject_add(c, idx, line, TK_REJ_INVALID_TYPE, "eventTime",
                      "eventTime must be a string (RFC 3339, e.g. 2026-11-24T10:00:00Z), not null");
        return 0;
    }
    int64_t tms;
    if (tk_time_parse(s[F_EVENTTIME].p, s[F_EVENTTIME].n, &tms)) {
        tk_reject_add(c, idx, line, TK_REJ_INVALID_TIME, "eventTime",
                      "eventTime: '%.*s' is not RFC 3339 (expected e.g. 2026-11-24T10:00:00Z)",
                      (int)(s[F_EVENTTIME].n > 64 ? 64 : s[F_EVENTTIME].n), s[F_EVENTTIME].p);
        return 0;
    }
    /* The store keys partitions by UTC day with 8-digit YYYYMMDD names, so
     * a time outside years 1970..9999 is this event's reject, never a
     * failure of the whole batch at append time. */
    if (tms < 0 || tms > TK_TIME_MAX_MS) {
        tk_reject_add(c, idx, line, TK_REJ_INVALID_TIME, "eventTime",
                      "eventTime '%.*s' is outside the years 1970..9999 that can be stored",
                      (int)(s[F_EVENTTIME].n > 64 ? 64 : s[F_EVENTTIME].n), s[F_EVENTTIME].p);
        return 0;
    }
    if (o && o->max_future_ms > 0) {
        int64_t now = o->now_ms ? o->now_ms : tk_now_ms();
        if (tms > now + o->max_future_ms) {
            tk_reject_add(c, idx, line, TK_REJ_FUTURE, "eventTime",
                          "eventTime '%.*s' is %.1f days in the future (more than the %.0f h "
                          "allowed): fix the sender's clock or the time",
                          (int)(s[F_EVENTTIME].n > 64 ? 64 : s[F_EVENTTIME].n), s[F_EVENTTIME].p,
                          (double)(tms - now) / 86400000.0, (double)o->max_future_ms / 3600000.0);
            return 0;
        }
    }
    if ((present & (1u << F_EVENTID)) && s[F_EVENTID].n > TK_EVENT_ID_MAX) {
        tk_reject_add(c, idx, line, TK_REJ_FIELD_TOO_LONG, "eventId",
                      "eventId is %u bytes, over the %d-byte limit: use a shorter unique id",
                      (unsigned)s[F_EVENTID].n, TK_EVENT_ID_MAX);
        return 0;
    }
    if ((present & (1u << F_EVENTID)) && s[F_EVENTID].n == 0) {
        tk_reject_add(c, idx, line, TK_REJ_MISSING_FIELD, "eventId",
                      "eventId is empty or null: send a unique id or omit the field to have one generated");
        return 0;
    }
    if ((present & (1u << F_RECIPIENT)) && s[F_RECIPIENT].n == 0) {
        tk_reject_add(c, idx, line, TK_REJ_MISSING_FIELD, "recipientAccountId",
                      "recipientAccountId is empty or null: name the owning account or omit the field");
        return 0;
    }

    /* userIdentity and what the index needs from it. */
    sv_t ui_type = {0}, ui_user = {0}, ui_ak = {0}, ui_acct = {0}, ui_pid = {0}, ui_arn = {0};
    sv_t is_user = {0}, is_arn = {0};
    if (present & (1u << F_USERIDENTITY)) {
        size_t nu;
        tk_jmember_t *u = tk_batch_members(b, 1, slot[F_USERIDENTITY]->val, &nu);
        if (!u) {
            b->nomem = 1;
            return 0;
        }
        for (size_t i = 0; i < nu; i++) {
            const char *k = u[i].key;
            uint32_t kl = u[i].klen;
            sv_t *dst = NULL;
            const char *fname = NULL;
            if (tk_str_is(k, kl, "type"))
                dst = &ui_type, fname = "userIdentity.type";
            else if (tk_str_is(k, kl, "userName"))
                dst = &ui_user, fname = "userIdentity.userName";
            else if (tk_str_is(k, kl, "accessKeyId"))
                dst = &ui_ak, fname = "userIdentity.accessKeyId";
            else if (tk_str_is(k, kl, "accountId"))
                dst = &ui_acct, fname = "userIdentity.accountId";
            else if (tk_str_is(k, kl, "principalId"))
                dst = &ui_pid, fname = "userIdentity.principalId";
            else if (tk_str_is(k, kl, "arn"))
                dst = &ui_arn, fname = "userIdentity.arn";
            else if (tk_str_is(k, kl, "sessionContext")) {
                if (obj_or_null(c, idx, line, "userIdentity.sessionContext", &u[i]))
                    return 0;
                if (u[i].type != TK_J_OBJECT)
                    continue;
                size_t ns;
                tk_jmember_t *sc = tk_batch_members(b, 2, u[i].val, &ns);
                if (!sc) {
                    b->nomem = 1;
                    return 0;
                }
                for (size_t j = 0; j < ns; j++) {
                    if (!tk_str_is(sc[j].key, sc[j].klen, "sessionIssuer"))
                        continue;
                    if (obj_or_null(c, idx, line, "userIdentity.sessionContext.sessionIssuer", &sc[j]))
                        return 0;
                    if (sc[j].type != TK_J_OBJECT)
                        continue;
                    size_t ni;
                    tk_jmember_t *si = tk_batch_members(b, 3, sc[j].val, &ni);
                    if (!si) {
                        b->nomem = 1;
                        return 0;
                    }
                    for (size_t q = 0; q < ni; q++) {
                        if (tk_str_is(si[q].key, si[q].klen, "userName")) {
                            if (str_or_null(c, idx, line, "userIdentity.sessionContext.sessionIssuer.userName",
                                            &si[q], &is_user))
                                return 0;
                        } else if (tk_str_is(si[q].key, si[q].klen, "arn")) {
                            if (str_or_null(c, idx, line, "userIdentity.sessionContext.sessionIssuer.arn",
                                            &si[q], &is_arn))
                                return 0;
                        }
                    }
                    break;
                }
            }
            if (dst && dst->p) {
                tk_reject_add(c, idx, line, TK_REJ_DUPLICATE, fname,
                              "%s appears twice in the event: send each field once", fname);
                return 0;
            }
            if (dst && str_or_null(c, idx, line, fname, &u[i], dst))
                return 0;
        }
    }

    /* CloudTrail identity types are CamelCase; ActionTrail's are kebab-case. */
    if (sniff && ui_type.n) {
        static const char *const ct_types[] = {"IAMUser", "Root", "AssumedRole", "AWSService", "FederatedUser",
                                               "AWSAccount", "IdentityCenterUser", "SAMLUser", "WebIdentityUser"};
        for (size_t i = 0; i < TK_ARRAY_LEN(ct_types); i++)
            if (tk_str_is(ui_type.p, ui_type.n, ct_types[i]))
                return 1;
    }

    /* The owning account: the event's own, else the writer's default, else
     * the caller's account from userIdentity. */
    sv_t acct = s[F_RECIPIENT];
    int insert_acct = 0;
    if (acct.n) {
        if (o->force_account && o->default_account && !tk_str_is(acct.p, acct.n, o->default_account)) {
            tk_reject_add(c, idx, line, TK_REJ_ACCOUNT, "recipientAccountId",
                          "recipientAccountId '%.*s' is not this writer's account '%.40s': a key records only for its own account",
                          (int)(acct.n > 40 ? 40 : acct.n), acct.p, o->default_account);
            return 0;
        }
    } else if (o->default_account && o->default_account[0]) {
        acct.p = o->default_account;
        acct.n = (uint32_t)strlen(o->default_account);
        insert_acct = 1;
    } else if (ui_acct.n) {
        acct = ui_acct;
        insert_acct = 1;
    } else {
        tk_reject_add(c, idx, line, TK_REJ_MISSING_FIELD, "recipientAccountId",
                      "no account: set recipientAccountId (or userIdentity.accountId), or import with a default account");
        return 0;
    }

    if (!tk_event_account_ok(acct.p, acct.n)) {
        tk_reject_add(c, idx, line, TK_REJ_INVALID_ACCOUNT, "recipientAccountId",
                      "account '%.*s' is not 1-%d characters of A-Z a-z 0-9 . _ - (and not '.' or '..')",
                      (int)(acct.n > 40 ? 40 : acct.n), acct.p, TK_EVENT_ACCOUNT_MAX);
        return 0;
    }

    /* referencedResources: {type: [names]} */
    size_t nref = 0;
    tk_jmember_t *ref = NULL;
    if (present & (1u << F_REFRES)) {
        ref = tk_batch_members(b, 1, slot[F_REFRES]->val, &nref);
        if (!ref) {
            b->nomem = 1;
            return 0;
        }
        for (size_t i = 0; i < nref; i++) {
            tk_jtype_t t = ref[i].type;
            if (t != TK_J_ARRAY && t != TK_J_STRING && t != TK_J_NULL) {
                tk_reject_add(c, idx, line, TK_REJ_INVALID_TYPE, "referencedResources",
                              "referencedResources.%.*s must be an array of resource names, not %s",
                              (int)(ref[i].klen > 40 ? 40 : ref[i].klen), ref[i].key, jtype_name(t));
                return 0;
            }
        }
    }

    /* Stored bytes: prefix of inserted fields, then the object after '{'. */
    char uuid[37];
    int insert_id = !(present & (1u << F_EVENTID));
    size_t extra = 0;
    if (insert_id) {
        tk_uuid4(uuid);
        extra += 12 + 36 + 2;
    }
    if (insert_acct)
        extra += 23 + (size_t)acct.n * 6 + 2;
    size_t k = 0;
    char *json;
    if (!extra && o->borrow_input && p >= c->data_start && p + len <= c->data_end) {
        /* Stored bytes are exactly the caller's: point at them. */
        json = (char *)p;
        k = len;
    } else {
        json = tk_arena_alloc(&b->arena, len + extra + 1);
        if (!json) {
            b->nomem = 1;
            return 0;
        }
        json[k++] = '{';
        if (insert_id) {
            memcpy(json + k, "\"eventId\":\"", 11);
            k += 11;
            memcpy(json + k, uuid, 36);
            k += 36;
            memcpy(json + k, "\",", 2);
            k += 2;
        }
        if (insert_acct) {
            memcpy(json + k, "\"recipientAccountId\":\"", 22);
            k += 22;
            k += json_escape(json + k, acct.p, acct.n);
            memcpy(json + k, "\",", 2);
            k += 2;
        }
        memcpy(json + k, p + 1, len - 1);
        k += len - 1;
        json[k] = 0;
    }
    if (k > TK_EVENT_MAX_BYTES) {
        tk_reject_add(c, idx, line, TK_REJ_TOO_LARGE, "",
                      "event is %zu bytes once stored (limit %d): shorten requestParameters/responseElements",
                      k, TK_EVENT_MAX_BYTES);
        return 0;
    }

    tk_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.time_ms = tms;
    ev.json.p = json;
    ev.json.len = (uint32_t)k;
    ev.account = adup(b, acct.p, acct.n);
    if (insert_id)
        ev.event_id = adup(b, uuid, 36);
    else
        ev.event_id = adup(b, s[F_EVENTID].p, s[F_EVENTID].n);
    ev.region = adup(b, s[F_REGION].p, s[F_REGION].n);
    ev.event_rw = adup(b, s[F_EVENTRW].p, s[F_EVENTRW].n);
    ev.event_type = adup(b, s[F_EVENTTYPE].p, s[F_EVENTTYPE].n);
    if (s[F_CATEGORY].n)
        ev.event_category = adup(b, s[F_CATEGORY].p, s[F_CATEGORY].n);
    else
        ev.event_category = (tk_str_t){"Management", 10};
    if (s[F_SERVICENAME].n) {
        ev.service = adup(b, s[F_SERVICENAME].p, s[F_SERVICENAME].n);
    } else if (s[F_EVENTSOURCE].n) {
        char svc[64];
        uint32_t sl = service_from_source(s[F_EVENTSOURCE].p, s[F_EVENTSOURCE].n, svc);
        ev.service = adup(b, svc, sl);
    }
    ev.event_name = adup(b, s[F_EVENTNAME].p, s[F_EVENTNAME].n);
    ev.has_error = s[F_ERRORCODE].n > 0;

    /* Index terms, one per LookupAttribute value. */
    terms_t t = {b, 0, 0};
    term_add(&t, TK_ATTR_SERVICENAME, ev.service.p, ev.service.len);
    term_add(&t, TK_ATTR_EVENTNAME, ev.event_name.p, ev.event_name.len);
    if (ui_user.n) {
        tk_str_t x = adup(b, ui_user.p, ui_user.n);
        term_add(&t, TK_ATTR_USER, x.p, x.len);
    }
    term_add(&t, TK_ATTR_EVENTID, ev.event_id.p, ev.event_id.len);
    if (s[F_RESOURCETYPE].n) {
        tk_str_t x = adup(b, s[F_RESOURCETYPE].p, s[F_RESOURCETYPE].n);
        term_split(&t, TK_ATTR_RESOURCETYPE, x.p, x.len, 0);
    }
    if (s[F_RESOURCENAME].n) {
        tk_str_t x = adup(b, s[F_RESOURCENAME].p, s[F_RESOURCENAME].n);
        term_split(&t, TK_ATTR_RESOURCENAME, x.p, x.len, 1);
    }
    for (size_t i = 0; i < nref; i++) {
        tk_str_t x = adup(b, ref[i].key, ref[i].klen);
        term_add(&t, TK_ATTR_RESOURCETYPE, x.p, x.len);
        tk_jtype_t ty = ref[i].type;
        if (ty == TK_J_STRING) {
            /* Some writers flatten the names into one string. */
            tk_str_t y = adup(b, ref[i].s, ref[i].slen);
            term_split(&t, TK_ATTR_RESOURCENAME, y.p, y.len, 1);
        } else if (ty == TK_J_ARRAY) {
            tk_jv_t small[32], *items = small;
            size_t ni = tk_jarray(ref[i].val, small, 32);
            if (ni > 32) {
                items = malloc(ni * sizeof *items);
                if (!items) {
                    b->nomem = 1;
                    return 0;
                }
                tk_jarray(ref[i].val, items, ni);
            }
            for (size_t j = 0; j < ni; j++) {
                sv_t v;
                if (tk_jstring(items[j], &v.p, &v.n) == 0) {
                    tk_str_t y = adup(b, v.p, v.n);
                    term_add(&t, TK_ATTR_RESOURCENAME, y.p, y.len);
                }
            }
            if (items != small)
                free(items);
        }
    }
    term_add(&t, TK_ATTR_EVENTRW, ev.event_rw.p, ev.event_rw.len);
    if (ui_ak.n) {
        tk_str_t x = adup(b, ui_ak.p, ui_ak.n);
        term_add(&t, TK_ATTR_ACCESSKEYID, x.p, x.len);
    }
    if (sensitive < 0)
        sensitive = ev.event_name.len &&
                    tk_event_is_sensitive(ev.service.p, ev.service.len, ev.event_name.p, ev.event_name.len);
    if (sensitive)
        term_add(&t, TK_ATTR_SENSITIVEACTION, "true", 4);
    else
        term_add(&t, TK_ATTR_SENSITIVEACTION, "false", 5);
    if (s[F_SOURCEIP].n) {
        tk_str_t x = adup(b, s[F_SOURCEIP].p, s[F_SOURCEIP].n);
        term_add(&t, TK_ATTR_SOURCEIP, x.p, x.len);
    }
    term_add(&t, TK_ATTR_EVENTTYPE, ev.event_type.p, ev.event_type.len);
    if (tk_str_is(ui_type.p, ui_type.n, "assumed-role")) {
        sv_t role = {0};
        if (is_user.n)
            role = is_user;
        else if (!(is_arn.n && role_from_arn(is_arn.p, is_arn.n, &role)) &&
                 !(ui_arn.n && role_from_arn(ui_arn.p, ui_arn.n, &role)) && ui_pid.n) {
            role.p = ui_pid.p;
            role.n = 0;
            while (role.n < ui_pid.n && ui_pid.p[role.n] != ':')
                role.n++;
        }
        if (role.n) {
            tk_str_t x = adup(b, role.p, role.n);
            term_add(&t, TK_ATTR_ROLENAME, x.p, x.len);
        }
    }
    if (s[F_EVENTSOURCE].n) {
        tk_str_t x = adup(b, s[F_EVENTSOURCE].p, s[F_EVENTSOURCE].n);
        term_add(&t, TK_ATTR_EVENTSOURCE, x.p, x.len);
    }
    if (b->nomem)
        return 0;
    size_t nt = terms_dedup(b->terms, t.n, t.nmulti);
    tk_term_t *terms = tk_arena_alloc(&b->arena, nt * sizeof *terms + 1);
    if (!terms) {
        b->nomem = 1;
        return 0;
    }
    memcpy(terms, b->terms, nt * sizeof *terms);
    ev.terms = terms;
    ev.nterms = (uint32_t)nt;

    if (b->nev == b->cap_ev) {
        size_t nc = b->cap_ev ? b->cap_ev * 2 : 256;
        tk_event_t *x = realloc(b->ev, nc * sizeof *x);
        if (!x) {
            b->nomem = 1;
            return 0;
        }
        b->ev = x;
        b->cap_ev = nc;
    }
    b->ev[b->nev++] = ev;
    return 0;
}

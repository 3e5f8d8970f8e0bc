/* trailkeep HTTP parameter helpers: URL/form decoding into key-value lists
 * (bounded: at most 64 pairs), and the resource-history NextToken, which is
 * HMAC-bound to the account and resource so it cannot be replayed against
 * another tenant or resource. */
#include "http/http_internal.h"

#include "base/hash.h"
#include "base/tk.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TK_FORM_MAX_PAIRS 64

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int decode(const char *s, size_t n, int plus, char *out, size_t *outlen)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = (char)(h << 4 | l);
            if (!c)
                return -1;
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        } else if (!c) {
            return -1; /* a raw NUL would cut the C string short, as a decoded one would */
        }
        out[j++] = c;
    }
    out[j] = 0;
    if (outlen)
        *outlen = j;
    return 0;
}

int tk_pct_decode(const char *s, size_t n, char *out, size_t *outlen)
{
    return decode(s, n, 0, out, outlen);
}

static int kv_push(tk_kvlist_t *l, const char *k, size_t kn, const char *v, size_t vn)
{
    if (l->n >= TK_FORM_MAX_PAIRS)
        return TK_ETOOBIG;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        tk_kv_t *nk = realloc(l->kv, cap * sizeof *nk);
        if (!nk)
            return TK_ENOMEM;
        l->kv = nk;
        l->cap = cap;
    }
    char *key = malloc(kn + 1), *val = malloc(vn + 1);
    if (!key || !val) {
        free(key);
        free(val);
        return TK_ENOMEM;
    }
    if (decode(k, kn, 1, key, NULL) || decode(v, vn, 1, val, NULL)) {
        free(key);
        free(val);
        return TK_EINVAL;
    }
    l->kv[l->n].key = key;
    l->kv[l->n].val = val;
    l->n++;
    return 0;
}

int tk_form_parse(const char *s, size_t n, tk_kvlist_t *l)
{
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && s[e] != '&')
            e++;
        if (e > i) {
            const char *eq = memchr(s + i, '=', e - i);
            size_t kn = eq ? (size_t)(eq - (s + i)) : e - i;
            const char *v = eq ? eq + 1 : s + e;
            size_t vn = eq ? (size_t)(s + e - v) : 0;
            int rc = kv_push(l, s + i, kn, v, vn);
            if (rc)
                return rc;
        }
        i = e + 1;
    }
    return 0;
}

const char *tk_kv_get(const tk_kvlist_t *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->kv[i].key, key))
            return l->kv[i].val;
    return NULL;
}

void tk_kvlist_free(tk_kvlist_t *l)
{
    if (!l)
        return;
    for (size_t i = 0; l->kv && i < l->n; i++) {
        free(l->kv[i].key);
        free(l->kv[i].val);
    }
    free(l->kv);
    l->kv = NULL;
    l->n = l->cap = 0;
}

static void history_sig(const uint8_t key[32], const char *account, const char *rtype,
                        const char *rname, int64_t time_ms, uint64_t seq, char hex[33])
{
    tk_buf_t b = TK_BUF_INIT;
    /* Lengths are included so "a|b" + "c" never collides with "a" + "b|c". */
    tk_buf_printf(&b, "history1|%zu:%s|%zu:%s|%zu:%s|%" PRId64 "|%" PRIu64, strlen(account),
                  account, strlen(rtype), rtype, strlen(rname), rname, time_ms, seq);
    uint8_t mac[32];
    tk_hmac_sha256(key, 32, b.p ? b.p : "", b.len, mac);
    tk_hex(mac, 16, hex);
    tk_buf_free(&b);
}

void tk_history_token_make(const uint8_t key[32], const char *account, const char *rtype,
                           const char *rname, int64_t time_ms, uint64_t seq, char *out)
{
    char hex[33];
    history_sig(key, account, rtype, rname, time_ms, seq, hex);
    snprintf(out, 160, "h1.%" PRId64 ".%" PRIu64 ".%s", time_ms, seq, hex);
}

int tk_history_token_parse(const uint8_t key[32], const char *account, const char *rtype,
                           const char *rname, const char *tok, int64_t *time_ms, uint64_t *seq)
{
    if (strncmp(tok, "h1.", 3))
        return TK_EINVAL;
    char *end;
    long long t = strtoll(tok + 3, &end, 10);
    if (*end != '.')
        return TK_EINVAL;
    const char *p = end + 1;
    unsigned long long q = strtoull(p, &end, 10);
    if (*end != '.' || end == p || strlen(end + 1) != 32)
        return TK_EINVAL;
    char hex[33];
    history_sig(key, account, rtype, rname, (int64_t)t, (uint64_t)q, hex);
    if (!tk_ct_equal(hex, end + 1, 32))
        return TK_EINVAL;
    *time_ms = (int64_t)t;
    *seq = (uint64_t)q;
    return 0;
}

/* ---- JSON body fields ---------------------------------------------------- */

/* Edit distance (insert, delete, substitute) of two short names, capped at
 * 9: enough to suggest "recipients" for "recipient" or "recepients". */
static int name_distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 63 || nb > 63)
        return 9;
    int row[64];
    for (size_t j = 0; j <= nb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int up = row[j];
            int sub = diag + (a[i - 1] != b[j - 1]);
            int best = row[j - 1] + 1 < up + 1 ? row[j - 1] + 1 : up + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    return row[nb] > 9 ? 9 : row[nb];
}

static const char *type_name(int type)
{
    switch (type) {
    case cJSON_String: return "a string";
    case cJSON_Number: return "a number";
    case cJSON_True | cJSON_False: return "true or false";
    case cJSON_Array: return "an array";
    case cJSON_Object: return "an object";
    case cJSON_String | cJSON_Array: return "a string or an array of strings";
    case cJSON_String | cJSON_Object: return "an object or a string";
    default: return "a value";
    }
}

int tk_body_check_fields(const cJSON *obj, const tk_body_field_t *fields, size_t n,
                         const char *what, char *err)
{
    if (!cJSON_IsObject(obj))
        return tk_errf(err, TK_EINVAL, "the %s must be a JSON object", what);
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        const tk_body_field_t *f = NULL;
        for (size_t i = 0; i < n && !f; i++)
            if (!strcmp(it->string, fields[i].name))
                f = &fields[i];
        if (!f) {
            const char *near = NULL;
            int best = 4; /* suggest only close names */
            for (size_t i = 0; i < n; i++) {
                int d = name_distance(it->string, fields[i].name);
                if (d < best) {
                    best = d;
                    near = fields[i].name;
                }
            }
            char list[256] = "";
            for (size_t i = 0, o = 0; i < n && o < sizeof list - 40; i++)
                o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", fields[i].name);
            if (near)
                return tk_errf(err, TK_EINVAL, "unknown field \"%.40s\" in the %s: did you mean \"%s\"?",
                               it->string, what, near);
            return tk_errf(err, TK_EINVAL, "unknown field \"%.40s\" in the %s (fields: %s)", it->string,
                           what, list);
        }
        int t = it->type & 0xff;
        int ok = (t & f->types) != 0;
        if (ok && t == cJSON_Array && !(f->types & cJSON_Object)) {
            const cJSON *e; /* arrays are of strings */
            cJSON_ArrayForEach(e, it) ok &= cJSON_IsString(e);
        }
        if (!ok)
            return tk_errf(err, TK_EINVAL, "field \"%s\" in the %s must be %s", f->name, what,
                           type_name(f->types));
    }
    return 0;
}

/* trailkeep alert operators: one row per operator (name, argument kind,
 * compile, match), like Suricata's detect-*.c keyword table. Adding an
 * operator is one match function and one row. Patterns are compiled once
 * (strings folded for nocase, regexes JIT-compiled, CIDRs parsed); match
 * functions never parse the rule again. */
#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert_internal.h"
#include "base/tk.h"
#include "base/tktime.h"

/* ---- helpers ---- */

static inline char fold(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

int tk_ci_eq(const char *a, const char *lower_b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fold(a[i]) != lower_b[i])
            return 0;
    return 1;
}

const char *tk_ci_find(const char *hay, size_t hn, const char *lower_needle, size_t nn)
{
    if (nn == 0)
        return hay;
    if (nn > hn)
        return NULL;
    char c0 = lower_needle[0];
    char c0u = (c0 >= 'a' && c0 <= 'z') ? (char)(c0 - 32) : c0;
    for (size_t i = 0; i + nn <= hn; i++) {
        if ((hay[i] == c0 || hay[i] == c0u) && tk_ci_eq(hay + i + 1, lower_needle + 1, nn - 1))
            return hay + i;
    }
    return NULL;
}

static const char *mem_find(const char *hay, size_t hn, const char *needle, size_t nn)
{
    if (nn == 0)
        return hay;
    if (nn > hn)
        return NULL;
    const char *p = hay, *last = hay + hn - nn;
    while (p <= last) {
        p = memchr(p, needle[0], (size_t)(last - p) + 1);
        if (!p)
            return NULL;
        if (memcmp(p + 1, needle + 1, nn - 1) == 0)
            return p;
        p++;
    }
    return NULL;
}

/* Objects and arrays take part as their raw JSON text, so Sigma's
 * `requestParameters|contains: ...` searches the whole parameter object. */
static int is_text(const tk_aval_t *v)
{
    return v->type != TK_AV_NULL;
}

void tk_apat_free(tk_apat_t *p)
{
    if (!p)
        return;
    free(p->s);
    if (p->md)
        pcre2_match_data_free(p->md);
    if (p->re)
        pcre2_code_free(p->re);
    tk_hours_free(p->hours);
    memset(p, 0, sizeof(*p));
}

/* Text form of a scalar JSON pattern value: strings as they are, numbers as
 * written by a rule author ("5", "1.5"), booleans "true"/"false". */
static int pat_text(const cJSON *v, char *buf, size_t cap, const char **out, char *err)
{
    if (cJSON_IsString(v)) {
        *out = v->valuestring;
        return 0;
    }
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 1e15)
            snprintf(buf, cap, "%.0f", d);
        else
            snprintf(buf, cap, "%.17g", d);
        *out = buf;
        return 0;
    }
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v) ? "true" : "false";
        return 0;
    }
    return tk_errf(err, TK_EINVAL, "value must be a string, number or boolean");
}

static int compile_str(tk_apat_t *p, const cJSON *v, int nocase, char *err)
{
    char nb[64];
    const char *s;
    int rc = pat_text(v, nb, sizeof nb, &s, err);
    if (rc)
        return rc;
    size_t n = strlen(s);
    p->s = malloc(n + 1);
    if (!p->s)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        p->s[i] = nocase ? fold(s[i]) : s[i];
    p->s[n] = 0;
    p->len = (uint32_t)n;
    return 0;
}

/* ---- string operators ---- */

static int m_eq(const tk_apat_t *p, const tk_aval_t *v, int nocase)
{
    if (!is_text(v) || v->len != p->len)
        return 0;
    return nocase ? tk_ci_eq(v->s, p->s, p->len) : memcmp(v->s, p->s, p->len) == 0;
}

static int m_contains(const tk_apat_t *p, const tk_aval_t *v, int nocase)
{
    if (!is_text(v))
        return 0;
    return (nocase ? tk_ci_find(v->s, v->len, p->s, p->len) : mem_find(v->s, v->len, p->s, p->len))
           != NULL;
}

static int m_startswith(const tk_apat_t *p, const tk_aval_t *v, int nocase)
{
    if (!is_text(v) || v->len < p->len)
        return 0;
    return nocase ? tk_ci_eq(v->s, p->s, p->len) : memcmp(v->s, p->s, p->len) == 0;
}

static int m_endswith(const tk_apat_t *p, const tk_aval_t *v, int nocase)
{
    if (!is_text(v) || v->len < p->len)
        return 0;
    const char *t = v->s + v->len - p->len;
    return nocase ? tk_ci_eq(t, p->s, p->len) : memcmp(t, p->s, p->len) == 0;
}

/* Glob: '*' any run, '?' one byte, '\' escapes the next character (Sigma's
 * wildcard rules). Compiled into bytes where 0x01 = star, 0x02 = question
 * mark and 0x03 prefixes a literal 0x01..0x03. */
#define G_STAR 1
#define G_ONE 2
#define G_LIT 3

static int compile_glob(tk_apat_t *p, const cJSON *v, int nocase, char *err)
{
    char nb[64];
    const char *s;
    int rc = pat_text(v, nb, sizeof nb, &s, err);
    if (rc)
        return rc;
    size_t n = strlen(s);
    p->s = malloc(2 * n + 1);
    if (!p->s)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
            c = s[++i];
        } else if (c == '*') {
            p->s[o++] = G_STAR;
            continue;
        } else if (c == '?') {
            p->s[o++] = G_ONE;
            continue;
        }
        if (c >= 1 && c <= 3)
            p->s[o++] = G_LIT;
        p->s[o++] = nocase ? fold(c) : c;
    }
    p->s[o] = 0;
    p->len = (uint32_t)o;
    return 0;
}

static int m_glob(const tk_apat_t *p, const tk_aval_t *v, int nocase)
{
    if (!is_text(v))
        return 0;
    const char *pat = p->s, *pe = p->s + p->len;
    const char *s = v->s, *se = v->s + v->len;
    const char *star = NULL, *resume = NULL;
    while (s < se) {
        if (pat < pe && *pat == G_STAR) {
            star = ++pat;
            resume = s;
            continue;
        }
        if (pat < pe) {
            char pc = *pat;
            int lit = 0;
            if (pc == G_LIT && pat + 1 < pe) {
                pc = pat[1];
                lit = 1;
            }
            if ((!lit && pc == G_ONE) || (nocase ? fold(*s) : *s) == pc) {
                pat += lit ? 2 : 1;
                s++;
                continue;
            }
        }
        if (!star)
            return 0;
        pat = star;
        s = ++resume;
    }
    while (pat < pe && *pat == G_STAR)
        pat++;
    return pat == pe;
}

/* ---- regex (PCRE2, JIT) ---- */

static int compile_regex(tk_apat_t *p, const cJSON *v, int nocase, char *err)
{
    if (!cJSON_IsString(v))
        return tk_errf(err, TK_EINVAL, "regex must be a string");
    int ec;
    PCRE2_SIZE off;
    uint32_t flags = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (nocase ? PCRE2_CASELESS : 0);
    p->re = pcre2_compile((PCRE2_SPTR)v->valuestring, PCRE2_ZERO_TERMINATED, flags, &ec, &off,
                          NULL);
    if (!p->re) {
        PCRE2_UCHAR msg[120];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return tk_errf(err, TK_EINVAL, "regex /%s/ at offset %zu: %s", v->valuestring,
                       (size_t)off, (char *)msg);
    }
    (void)pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE); /* interpreter when JIT is unavailable */
    p->md = pcre2_match_data_create_from_pattern(p->re, NULL);
    p->s = strdup(v->valuestring);
    if (!p->md || !p->s)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    p->len = (uint32_t)strlen(p->s);
    return 0;
}

static int m_regex(const tk_apat_t *p, const tk_aval_t *v, int nocase)
{
    (void)nocase;
    if (!is_text(v))
        return 0;
    /* match data belongs to the pattern: an engine evaluates on one thread */
    return pcre2_match(p->re, (PCRE2_SPTR)v->s, v->len, 0, 0, p->md, NULL) >= 0;
}

/* ---- CIDR (IPv4, IPv6; IPv4-mapped IPv6 addresses match IPv4 networks) ---- */

static int parse_ip(const char *s, size_t n, uint8_t out[16], int *v6)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    if (inet_pton(AF_INET, buf, out) == 1) {
        *v6 = 0;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, out) == 1) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(out, mapped, 12) == 0) {
            memmove(out, out + 12, 4);
            *v6 = 0;
        } else {
            *v6 = 1;
        }
        return 0;
    }
    return -1;
}

static int compile_cidr(tk_apat_t *p, const cJSON *v, int nocase, char *err)
{
    (void)nocase;
    if (!cJSON_IsString(v))
        return tk_errf(err, TK_EINVAL, "CIDR must be a string like \"10.0.0.0/8\" or \"2001:db8::/32\"");
    const char *s = v->valuestring, *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    if (parse_ip(s, alen, p->net, &p->v6) != 0)
        return tk_errf(err, TK_EINVAL, "'%s' is not a CIDR (an IPv4 or IPv6 address, optionally /prefix)", s);
    int maxb = p->v6 ? 128 : 32;
    /* an IPv4-mapped network keeps its prefix relative to the IPv4 address */
    if (slash && !p->v6 && strchr(s, ':')) {
        long b;
        char *end;
        b = strtol(slash + 1, &end, 10);
        if (*end || end == slash + 1 || b < 96 || b > 128)
            return tk_errf(err, TK_EINVAL, "'%s': prefix of an IPv4-mapped network must be 96..128", s);
        p->bits = (int)b - 96;
    } else if (slash) {
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (*end || end == slash + 1 || b < 0 || b > maxb)
            return tk_errf(err, TK_EINVAL, "'%s': prefix must be 0..%d", s, maxb);
        p->bits = (int)b;
    } else {
        p->bits = maxb;
    }
    p->s = strdup(s);
    if (!p->s)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    p->len = (uint32_t)strlen(s);
    return 0;
}

static int m_cidr(const tk_apat_t *p, const tk_aval_t *v, int nocase)
{
    (void)nocase;
    if (v->type != TK_AV_STR)
        return 0;
    uint8_t a[16];
    int v6;
    if (parse_ip(v->s, v->len, a, &v6) != 0 || v6 != p->v6)
        return 0;
    int full = p->bits / 8, rem = p->bits % 8;
    if (memcmp(a, p->net, (size_t)full) != 0)
        return 0;
    if (rem) {
        uint8_t mask = (uint8_t)(0xff << (8 - rem));
        if ((a[full] & mask) != (p->net[full] & mask))
            return 0;
    }
    return 1;
}

/* ---- numbers: JSON numbers, and strings that are entirely a number
 * (ActionTrail writes many numbers as strings: "PageSize":"50") ---- */

static int value_num(const tk_aval_t *v, double *d)
{
    if (v->type != TK_AV_NUM && v->type != TK_AV_STR)
        return 0;
    char buf[64];
    if (v->len == 0 || v->len >= sizeof buf)
        return 0;
    memcpy(buf, v->s, v->len);
    buf[v->len] = 0;
    char *end;
    *d = strtod(buf, &end);
    return *end == 0 && !isspace((unsigned char)buf[0]) && isfinite(*d);
}

static int compile_num(tk_apat_t *p, const cJSON *v, int nocase, char *err)
{
    (void)nocase;
    if (cJSON_IsNumber(v)) {
        p->num = v->valuedouble;
    } else if (cJSON_IsString(v)) {
        char *end;
        p->num = strtod(v->valuestring, &end);
        if (*end || end == v->valuestring || !isfinite(p->num))
            return tk_errf(err, TK_EINVAL, "'%s' is not a number", v->valuestring);
    } else {
        return tk_errf(err, TK_EINVAL, "numeric comparison needs a number");
    }
    char nb[64];
    snprintf(nb, sizeof nb, "%.17g", p->num);
    p->s = strdup(nb);
    if (!p->s)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    p->len = (uint32_t)strlen(nb);
    return 0;
}

#define NUM_OP(fn, expr)                                                                           \
    static int fn(const tk_apat_t *p, const tk_aval_t *v, int nocase)                              \
    {                                                                                              \
        (void)nocase;                                                                              \
        double d;                                                                                  \
        return value_num(v, &d) && (expr);                                                         \
    }
NUM_OP(m_lt, d < p->num)
NUM_OP(m_le, d <= p->num)
NUM_OP(m_gt, d > p->num)
NUM_OP(m_ge, d >= p->num)

/* ---- exists / null / fieldref / within_hours: evaluated by the leaf
 * itself (they look at the slot, not at one value); these rows only
 * compile their argument. ---- */

static int compile_bool(tk_apat_t *p, const cJSON *v, int nocase, char *err)
{
    (void)nocase;
    if (!v) {
        p->b = 1;
        return 0;
    }
    if (cJSON_IsBool(v)) {
        p->b = cJSON_IsTrue(v);
        return 0;
    }
    if (cJSON_IsString(v) && (!strcmp(v->valuestring, "true") || !strcmp(v->valuestring, "false"))) {
        p->b = !strcmp(v->valuestring, "true");
        return 0;
    }
    return tk_errf(err, TK_EINVAL, "exists takes true or false");
}

static int compile_none(tk_apat_t *p, const cJSON *v, int nocase, char *err)
{
    (void)p;
    (void)nocase;
    if (v && !cJSON_IsNull(v) && !cJSON_IsTrue(v))
        return tk_errf(err, TK_EINVAL, "null takes no value");
    return 0;
}

static int compile_field(tk_apat_t *p, const cJSON *v, int nocase, char *err)
{
    (void)nocase;
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return tk_errf(err, TK_EINVAL, "fieldref takes the other field's path as a string");
    p->s = strdup(v->valuestring);
    if (!p->s)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    p->len = (uint32_t)strlen(p->s);
    return 0;
}

static int compile_hours(tk_apat_t *p, const cJSON *v, int nocase, char *err)
{
    (void)nocase;
    return tk_hours_compile(v, &p->hours, err);
}

static int m_hours(const tk_apat_t *p, const tk_aval_t *v, int nocase)
{
    (void)nocase;
    int64_t ms;
    if (v->type == TK_AV_STR) {
        if (tk_time_parse(v->s, v->len, &ms) != 0)
            return 0;
    } else {
        double d;
        if (!value_num(v, &d))
            return 0;
        ms = (int64_t)d;
    }
    return tk_hours_within(p->hours, ms);
}

static int m_never(const tk_apat_t *p, const tk_aval_t *v, int nocase)
{
    (void)p;
    (void)v;
    (void)nocase;
    return 0;
}

static const tk_aop_t OPS[] = {
    {"eq", "equals", "value equals (any of) the given value(s)", TK_ARG_STR, 1, compile_str, m_eq},
    {"ne", "not_equals", "no value equals any given value (also true when the field is absent)", TK_ARG_STR, 1, compile_str, m_eq},
    {"in", NULL, "value is one of a list", TK_ARG_STR, 1, compile_str, m_eq},
    {"contains", NULL, "value contains the substring", TK_ARG_STR, 1, compile_str, m_contains},
    {"startswith", "starts_with", "value starts with the prefix", TK_ARG_STR, 1, compile_str, m_startswith},
    {"endswith", "ends_with", "value ends with the suffix", TK_ARG_STR, 1, compile_str, m_endswith},
    {"glob", "wildcard", "value matches a pattern with * and ? (\\ escapes)", TK_ARG_STR, 1, compile_glob, m_glob},
    {"regex", "re", "PCRE2 regular expression found in the value (unanchored)", TK_ARG_REGEX, 1, compile_regex, m_regex},
    {"cidr", NULL, "IP address inside the network (IPv4 or IPv6)", TK_ARG_CIDR, 1, compile_cidr, m_cidr},
    {"exists", NULL, "field present (value true) or absent (false)", TK_ARG_BOOL, 0, compile_bool, m_never},
    {"null", NULL, "field absent or JSON null", TK_ARG_NONE, 0, compile_none, m_never},
    {"lt", NULL, "number <", TK_ARG_NUM, 0, compile_num, m_lt},
    {"le", NULL, "number <=", TK_ARG_NUM, 0, compile_num, m_le},
    {"gt", NULL, "number >", TK_ARG_NUM, 0, compile_num, m_gt},
    {"ge", NULL, "number >=", TK_ARG_NUM, 0, compile_num, m_ge},
    {"fieldref", NULL, "value equals the value of another field", TK_ARG_FIELD, 0, compile_field, m_never},
    {"within_hours", NULL, "time (RFC 3339 or ms) inside business hours {tz, days, hours, holidays}", TK_ARG_HOURS, 0, compile_hours, m_hours},
};

const tk_aop_t *tk_aop_find(const char *name)
{
    for (size_t i = 0; i < TK_ARRAY_LEN(OPS); i++)
        if (!strcmp(OPS[i].name, name) || (OPS[i].alias && !strcmp(OPS[i].alias, name)))
            return &OPS[i];
    return NULL;
}

const tk_aop_t *tk_aops(size_t *n)
{
    *n = TK_ARRAY_LEN(OPS);
    return OPS;
}

void tk_aop_names(char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < TK_ARRAY_LEN(OPS) && o < cap; i++) {
        int w = snprintf(out + o, cap - o, "%s%s", i ? ", " : "", OPS[i].name);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

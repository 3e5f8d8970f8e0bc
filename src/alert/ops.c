/* trailkeep alert operators: one row per operator (name, argument kind,
 * compile, match), like Suricata's detect-*.c keyword table. Adding an
 * operator is one match function and one row. Patterns are compiled once
 * (strings folded for nocase, regexes JIT-compiled, CIDRs parsed); match
 * functions never parse the rule again. Regex matches are bounded in steps,
 * memory, bytes searched and time; a limit hit is "no match", counted. */
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
    if (p->rx) {
        pcre2_jit_stack_free(p->rx->js);
        pcre2_match_context_free(p->rx->mc);
        free(p->rx);
    }
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

/* ---- regex (PCRE2, JIT, bounded) ----
 * Every match runs under limits (alert_internal.h, docs/rules.md): PCRE2's
 * match limit (per start position), depth and heap limits, an explicit JIT
 * stack, a cap on the bytes of a value searched, and for long values a
 * search in windows of TK_RX_WINDOW start positions with a time budget
 * checked between them. Hitting any of them is "no match", counted. */

/* Static check for the classic catastrophic shape: a group repeated without
 * bound ('+', '*', '{n,}') with an alternative made only of repeated items,
 * one of them unbounded, that can split a run of characters in many ways:
 * at most one of its items must match something ("(a+)+", "(\w+\s?)*",
 * "(\d+\.?)+"), or two unbounded items repeat the same atom ("(x+x+)+").
 * A value that does not match then takes exponential time. Possessive
 * repeats and atomic groups do not backtrack and pass. Not a full parser: it
 * finds groups, classes, escapes and quantifiers; whatever it does not know
 * is an ordinary atom, so it errs towards accepting ("(a|aa)+" and
 * "(\w+\d+)+" pass; the match limits bound them). */
typedef struct lint {
    const char *s;
    size_t n, i;
    int found;
    size_t group_at, quant_at;
} lint_t;

typedef struct litem {
    int loose;            /* repeated (or a group holding a dangerous alternative) */
    int unb;              /* ... without an upper bound */
    int min0;             /* may match nothing */
    size_t at, len;       /* the atom's text (without its quantifier) */
    size_t unb_at;        /* offset of the unbounded repetition */
} litem_t;

static void lint_skip_escape(lint_t *L)
{
    L->i++; /* the backslash */
    if (L->i >= L->n)
        return;
    char c = L->s[L->i++];
    if (c == 'Q') { /* literal up to \E */
        while (L->i + 1 < L->n && !(L->s[L->i] == '\\' && L->s[L->i + 1] == 'E'))
            L->i++;
        L->i = L->i + 1 < L->n ? L->i + 2 : L->n;
    } else if (c == 'c' && L->i < L->n) {
        L->i++;
    } else if (strchr("xopPNkg", c) && L->i < L->n && strchr("{<'", L->s[L->i])) {
        char close = L->s[L->i] == '{' ? '}' : L->s[L->i] == '<' ? '>' : '\'';
        while (L->i < L->n && L->s[L->i] != close)
            L->i++;
        L->i += L->i < L->n;
    }
}

static void lint_skip_class(lint_t *L)
{
    L->i++; /* '[' */
    if (L->i < L->n && L->s[L->i] == '^')
        L->i++;
    if (L->i < L->n && L->s[L->i] == ']')
        L->i++; /* a leading ']' is literal */
    while (L->i < L->n && L->s[L->i] != ']') {
        if (L->s[L->i] == '\\') {
            lint_skip_escape(L);
        } else if (L->s[L->i] == '[' && L->i + 1 < L->n && L->s[L->i + 1] == ':') {
            const char *e = strstr(L->s + L->i + 2, ":]");
            L->i = e && (size_t)(e - L->s) < L->n ? (size_t)(e - L->s) + 2 : L->i + 1;
        } else {
            L->i++;
        }
    }
    L->i += L->i < L->n;
}

/* A quantifier at L->i: 0 (none), or 1 with *unb (no upper bound), *min0
 * (minimum 0) and *poss (possessive: never gives back). */
static int lint_quant(lint_t *L, int *unb, int *min0, int *poss)
{
    if (L->i >= L->n)
        return 0;
    char c = L->s[L->i];
    if (c == '*' || c == '+' || c == '?') {
        *unb = c != '?';
        *min0 = c != '+';
        L->i++;
    } else if (c == '{') {
        size_t j = L->i + 1, lo = 0;
        while (j < L->n && L->s[j] >= '0' && L->s[j] <= '9')
            lo = lo * 10 + (size_t)(L->s[j++] - '0');
        if (j == L->i + 1 || j >= L->n)
            return 0; /* "{" without digits is a literal in PCRE2 10.42 */
        if (L->s[j] == '}') {
            *unb = 0;
        } else if (L->s[j] == ',') {
            size_t k = j + 1;
            while (k < L->n && L->s[k] >= '0' && L->s[k] <= '9')
                k++;
            if (k >= L->n || L->s[k] != '}')
                return 0;
            *unb = k == j + 1;
            j = k;
        } else {
            return 0;
        }
        *min0 = lo == 0;
        L->i = j + 1;
    } else {
        return 0;
    }
    *poss = L->i < L->n && L->s[L->i] == '+';
    if (L->i < L->n && (L->s[L->i] == '+' || L->s[L->i] == '?'))
        L->i++;
    return 1;
}

/* Skips to the ')' closing the group whose body starts at L->i. */
static void lint_skip_group(lint_t *L)
{
    int d = 1;
    while (L->i < L->n && d) {
        char c = L->s[L->i];
        if (c == '\\') {
            lint_skip_escape(L);
        } else if (c == '[') {
            lint_skip_class(L);
        } else {
            d += (c == '(') - (c == ')');
            L->i++;
        }
    }
}

static void lint_alts(lint_t *L, int depth, litem_t *out);

/* A group's kind at '(' + 1: 0 a group whose body is judged, 1 opaque
 * (atomic, lookaround, verb, callout, recursion, backreference, condition:
 * skipped whole), 2 not an item (comment, option setting: consumed). L->i is
 * left at the body. */
static int lint_group_kind(lint_t *L)
{
    const char *q = L->s + L->i;
    size_t left = L->n - L->i;
    if (!left || (*q != '?' && *q != '*'))
        return 0;
    if (*q == '*')
        return 1;
    q++;
    left--;
    if (!left)
        return 1;
    if (*q == '#') {
        while (L->i < L->n && L->s[L->i] != ')')
            L->i++;
        L->i += L->i < L->n;
        return 2;
    }
    if (strchr(">=!CR&(", *q) || (*q >= '0' && *q <= '9') ||
        ((*q == '+' || *q == '-') && left > 1 && q[1] >= '0' && q[1] <= '9') ||
        (*q == '<' && left > 1 && (q[1] == '=' || q[1] == '!')) ||
        (*q == 'P' && left > 1 && (q[1] == '=' || q[1] == '>')))
        return 1;
    size_t j = L->i + 1;
    if (*q == '\'') { /* (?'name' */
        j++;
        while (j < L->n && L->s[j] != '\'')
            j++;
    } else if (*q == '<' || *q == 'P') { /* (?<name> (?P<name> */
        while (j < L->n && L->s[j] != '>')
            j++;
    } else if (*q != ':' && *q != '|') { /* option letters: (?i) or (?i: */
        while (j < L->n && strchr("imnsxJU^-a", L->s[j]))
            j++;
        if (j < L->n && L->s[j] == ')') {
            L->i = j + 1;
            return 2;
        }
    }
    L->i = j < L->n ? j + 1 : L->n;
    return 0;
}

/* One group at '(' as an item (*is_item 0 for comments and options). */
static void lint_group(lint_t *L, int depth, litem_t *it, int *is_item)
{
    size_t at = L->i++;
    memset(it, 0, sizeof *it);
    *is_item = 1;
    int kind = lint_group_kind(L);
    if (kind == 2) {
        *is_item = 0;
        return;
    }
    litem_t body = {0};
    if (kind == 1)
        lint_skip_group(L);
    else
        lint_alts(L, depth + 1, &body);
    if (kind == 0 && L->i < L->n && L->s[L->i] == ')')
        L->i++;
    it->at = at;
    it->len = L->i - at;
    size_t qat = L->i;
    int unb = 0, min0 = 0, poss = 0;
    int q = lint_quant(L, &unb, &min0, &poss);
    if (q && unb && !poss && body.loose && body.unb && !L->found) {
        L->found = 1;
        L->group_at = at;
        L->quant_at = qat;
    }
    if (q && !poss) {
        it->loose = 1;
        it->unb = unb || body.unb;
        it->min0 = min0;
        it->unb_at = unb ? qat : body.unb_at;
    } else if (!q) {
        it->loose = body.loose;
        it->unb = body.unb;
        it->unb_at = body.unb_at;
    }
}

/* Judges one alternative's items: the dangerous shape (see above), as the
 * item out, or nothing. */
static void lint_judge(const lint_t *L, const litem_t *v, size_t n, int all_loose, litem_t *out)
{
    if (!n || !all_loose || out->unb)
        return;
    size_t need = 0, unb = n;
    for (size_t i = 0; i < n; i++) {
        need += !v[i].min0;
        if (v[i].unb && unb == n)
            unb = i;
    }
    if (unb == n)
        return;
    int same = 0;
    for (size_t i = 0; i < n && !same; i++)
        for (size_t j = i + 1; j < n && !same; j++)
            same = v[i].unb && v[j].unb && v[i].len == v[j].len &&
                   !memcmp(L->s + v[i].at, L->s + v[j].at, v[i].len);
    if (need <= 1 || same) {
        *out = v[unb];
        out->loose = 1;
    }
}

/* Alternatives up to ')' or the end; out: the dangerous one, if any. */
static void lint_alts(lint_t *L, int depth, litem_t *out)
{
    memset(out, 0, sizeof *out);
    litem_t v[32];
    size_t n = 0;
    int all_loose = 1;
    while (L->i < L->n && !L->found && depth < 100) {
        char c = L->s[L->i];
        if (c == ')' && depth > 0)
            break;
        if (c == '|') {
            lint_judge(L, v, n, all_loose, out);
            n = 0;
            all_loose = 1;
            L->i++;
            continue;
        }
        litem_t it = {.at = L->i};
        int is_item = 1;
        if (c == '(') {
            lint_group(L, depth, &it, &is_item);
        } else {
            if (c == '\\')
                lint_skip_escape(L);
            else if (c == '[')
                lint_skip_class(L);
            else
                L->i++;
            it.len = L->i - it.at;
            int u = 0, m0 = 0, poss = 0;
            size_t qat = L->i;
            if (c != '^' && c != '$' && lint_quant(L, &u, &m0, &poss) && !poss) {
                it.loose = 1;
                it.unb = u;
                it.min0 = m0;
                it.unb_at = qat;
            }
        }
        if (!is_item)
            continue;
        all_loose &= it.loose;
        if (n < TK_ARRAY_LEN(v))
            v[n++] = it;
        else
            all_loose = 0; /* too long to judge: accepted */
    }
    lint_judge(L, v, n, all_loose, out);
}

/* 0, or TK_EINVAL with err pointing at the nested repetition. */
static int regex_lint(const char *pat, char *err)
{
    lint_t L = {.s = pat, .n = strlen(pat)};
    litem_t top;
    while (L.i < L.n && !L.found) {
        lint_alts(&L, 0, &top);
        L.i += L.i < L.n && !L.found; /* past an unbalanced ')' (pcre2_compile refuses those) */
    }
    if (!L.found)
        return 0;
    return tk_errf(err, TK_EINVAL,
                   "regex /%s/ at offset %zu: nested repetition: the group repeated by '%c' at "
                   "offset %zu holds only repeated parts, so a value that does not match takes "
                   "exponential time; repeat once ((a+)+ is a+), or use a possessive a++ or an "
                   "atomic (?>...)",
                   pat, L.group_at, pat[L.quant_at], L.quant_at);
}

int tk_regex_compile(tk_apat_t *p, const char *pattern, int nocase, int lint, char *err)
{
    size_t plen = strlen(pattern);
    if (plen > TK_RX_MAX_PATTERN)
        return tk_errf(err, TK_EINVAL, "regex of %zu bytes: at most %d are accepted", plen,
                       TK_RX_MAX_PATTERN);
    int ec;
    PCRE2_SIZE off;
    uint32_t flags = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_USE_OFFSET_LIMIT |
                     (nocase ? PCRE2_CASELESS : 0);
    p->re = pcre2_compile((PCRE2_SPTR)pattern, plen, flags, &ec, &off, NULL);
    if (!p->re) {
        PCRE2_UCHAR msg[120];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return tk_errf(err, TK_EINVAL, "regex /%s/ at offset %zu: %s", pattern, (size_t)off,
                       (char *)msg);
    }
    int rc;
    if (lint && (rc = regex_lint(pattern, err)))
        return rc;
    p->rx = calloc(1, sizeof *p->rx);
    p->md = pcre2_match_data_create_from_pattern(p->re, NULL);
    p->s = strdup(pattern);
    if (!p->rx || !p->md || !p->s)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    /* the interpreter (with its depth and heap limits) when JIT is unavailable */
    p->rx->jit = pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE) == 0;
    p->rx->no_window = strstr(pattern, "\\G") != NULL;
    p->len = (uint32_t)plen;
    return 0;
}

static int compile_regex(tk_apat_t *p, const cJSON *v, int nocase, char *err)
{
    if (!cJSON_IsString(v))
        return tk_errf(err, TK_EINVAL, "regex must be a string");
    return tk_regex_compile(p, v->valuestring, nocase, 1, err);
}

/* The match context with the limits, made on first use. 0 or TK_ENOMEM. */
static int rx_context(tk_arx_t *x)
{
    if (!(x->mc = pcre2_match_context_create(NULL)))
        return TK_ENOMEM;
    pcre2_set_match_limit(x->mc, TK_RX_MATCH_LIMIT);
    pcre2_set_depth_limit(x->mc, TK_RX_DEPTH_LIMIT);
    pcre2_set_heap_limit(x->mc, TK_RX_HEAP_LIMIT_KIB);
    if (x->jit) {
        if (!(x->js = pcre2_jit_stack_create(TK_RX_JIT_STACK_MIN, TK_RX_JIT_STACK_MAX, NULL)))
            return TK_ENOMEM;
        pcre2_jit_stack_assign(x->mc, NULL, x->js);
    }
    return 0;
}

/* Searches s[0..n): one pcre2_match call for short values; for long ones
 * windows of TK_RX_WINDOW start positions (an offset limit each, so the
 * first match found is the one a single call finds), stopping with
 * PCRE2_ERROR_MATCHLIMIT once the time budget is spent. */
static int rx_search(const tk_apat_t *p, const char *s, size_t n, uint32_t opt)
{
    tk_arx_t *x = p->rx;
    if (n <= TK_RX_WINDOW || x->no_window) {
        pcre2_set_offset_limit(x->mc, PCRE2_UNSET);
        return pcre2_match(p->re, (PCRE2_SPTR)s, n, 0, opt, p->md, x->mc);
    }
    uint64_t t0 = tk_mono_ns();
    size_t start = 0;
    for (;;) {
        size_t lim = n - start > TK_RX_WINDOW ? start + TK_RX_WINDOW : n;
        pcre2_set_offset_limit(x->mc, lim);
        int rc = pcre2_match(p->re, (PCRE2_SPTR)s, n, start, opt, p->md, x->mc);
        if (rc != PCRE2_ERROR_NOMATCH || lim >= n)
            return rc;
        if (tk_mono_ns() - t0 > TK_RX_BUDGET_NS)
            return PCRE2_ERROR_MATCHLIMIT;
        start = lim + 1;
        while (start < n && ((unsigned char)s[start] & 0xC0) == 0x80)
            start++; /* a UTF-8 character boundary */
    }
}

static int m_regex(const tk_apat_t *p, const tk_aval_t *v, int nocase)
{
    (void)nocase;
    if (!is_text(v))
        return 0;
    /* match data and context belong to the pattern: an engine evaluates on one thread */
    tk_arx_t *x = p->rx;
    if (!x->mc && rx_context(x)) {
        x->limit_hits++; /* no memory for the limits: never match without them */
        return 0;
    }
    size_t n = v->len;
    uint32_t opt = 0;
    if (n > TK_RX_MAX_SUBJECT) {
        /* the start of the value, cut on a character; '$' cannot match at the cut */
        n = TK_RX_MAX_SUBJECT;
        while (n && ((unsigned char)v->s[n] & 0xC0) == 0x80)
            n--;
        opt |= PCRE2_NOTEOL;
        x->truncated++;
    }
    int rc = rx_search(p, v->s, n, opt);
    if (rc >= 0)
        return 1;
    if (rc != PCRE2_ERROR_NOMATCH)
        x->limit_hits++; /* match/depth/heap/JIT-stack limit or time budget: no match */
    return 0;
}

void tk_anode_regex_counts(const tk_anode_t *n, uint64_t *limit_hits, uint64_t *truncated)
{
    if (!n)
        return;
    if (n->kind == TK_N_LEAF) {
        for (uint32_t i = 0; i < n->npats; i++)
            if (n->pats[i].rx) {
                *limit_hits += n->pats[i].rx->limit_hits;
                *truncated += n->pats[i].rx->truncated;
            }
        return;
    }
    for (uint32_t i = 0; i < n->nkids; i++)
        tk_anode_regex_counts(n->kids[i], limit_hits, truncated);
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

/* libFuzzer target: the path-guided JSON walker of the alert engine
 * (src/alert/jwalk.c). Differential: when the input is one strict RFC 8259
 * JSON object (checked here: cJSON alone is lenient) at most 200 levels
 * deep, the walker must accept it and collect, for each of up to 16 paths
 * taken from the document itself, exactly the values a brute-force
 * resolver over cJSON's tree finds (same semantics as
 * tests/alert/test_jwalk.c). Any strict prefix that cuts the root object
 * must be refused without over-reading. Malformed input must be refused
 * or walked, never crash. */
#include "alert/alert_internal.h"
#include "base/tk.h"
#include "fuzz_common.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXP 16
#define MAXTOK 2048

typedef struct toks {
    char *t[MAXTOK];
    int n;
    int overflow;
} toks_t;

static void put(toks_t *o, const char *s, size_t n)
{
    if (o->n == MAXTOK) {
        o->overflow = 1;
        return;
    }
    o->t[o->n] = malloc(n + 1);
    memcpy(o->t[o->n], s, n);
    o->t[o->n][n] = 0;
    o->n++;
}

static void emit(const cJSON *v, toks_t *o)
{
    if (cJSON_IsString(v)) {
        char *b = malloc(strlen(v->valuestring) + 3);
        sprintf(b, "S:%s", v->valuestring);
        put(o, b, strlen(b));
        free(b);
    } else if (cJSON_IsNumber(v)) {
        put(o, "N", 1);
    } else if (cJSON_IsBool(v)) {
        put(o, "B", 1);
    } else if (cJSON_IsNull(v)) {
        put(o, "Z", 1);
    } else if (cJSON_IsObject(v)) {
        put(o, "O", 1);
    } else if (cJSON_IsArray(v)) {
        put(o, "A", 1);
        const cJSON *el;
        cJSON_ArrayForEach(el, v) emit(el, o);
    }
}

static void resolve(const cJSON *v, char *const *steps, int nsteps, toks_t *o)
{
    if (nsteps == 0) {
        emit(v, o);
        return;
    }
    if (cJSON_IsObject(v)) {
        const cJSON *m;
        cJSON_ArrayForEach(m, v) if (!strcmp(m->string, steps[0])) resolve(m, steps + 1, nsteps - 1, o);
    } else if (cJSON_IsArray(v)) {
        int i = 0;
        const cJSON *el;
        cJSON_ArrayForEach(el, v)
        {
            resolve(el, steps, nsteps, o);
            char ib[12];
            snprintf(ib, sizeof ib, "%d", i++);
            if (!strcmp(ib, steps[0]))
                resolve(el, steps + 1, nsteps - 1, o);
        }
    }
}

static int depth_of(const cJSON *v)
{
    int d = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, v)
    {
        int k = depth_of(c);
        if (k > d)
            d = k;
    }
    return d + (cJSON_IsObject(v) || cJSON_IsArray(v));
}

/* Paths of the document: object keys (no '.', not empty) and small array
 * indexes, up to three steps. */
typedef struct paths {
    char p[MAXP][256];
    int n;
} paths_t;

static void collect(const cJSON *v, const char *prefix, int depth, paths_t *ps)
{
    if (depth >= 3 || ps->n >= MAXP)
        return;
    const cJSON *c;
    int i = 0;
    cJSON_ArrayForEach(c, v)
    {
        char step[64];
        if (cJSON_IsObject(v)) {
            if (!c->string[0] || strchr(c->string, '.') || strlen(c->string) > 40)
                continue;
            snprintf(step, sizeof step, "%s", c->string);
        } else {
            if (i > 2)
                break;
            snprintf(step, sizeof step, "%d", i++);
        }
        char path[256];
        if ((size_t)snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", step) >= sizeof path)
            continue;
        int dup = 0;
        for (int k = 0; k < ps->n; k++)
            dup |= !strcmp(ps->p[k], path);
        if (!dup && ps->n < MAXP && (depth > 0 || cJSON_IsObject(v)))
            snprintf(ps->p[ps->n++], 256, "%s", path);
        if (cJSON_IsObject(c) || cJSON_IsArray(c))
            collect(c, path, depth + 1, ps);
    }
}

static void walker_toks(const tk_aview_t *v, int slot, toks_t *o)
{
    for (uint32_t i = v->head[slot]; i != TK_AV_END; i = v->vals[i].next) {
        const tk_aval_t *a = &v->vals[i];
        switch (a->type) {
        case TK_AV_STR: {
            /* cJSON strings end at an escaped NUL: compare the same way */
            size_t n = strnlen(a->s, a->len);
            char *b = malloc(n + 3);
            memcpy(b, "S:", 2);
            memcpy(b + 2, a->s, n);
            put(o, b, n + 2);
            free(b);
            break;
        }
        case TK_AV_NUM: put(o, "N", 1); break;
        case TK_AV_BOOL: put(o, "B", 1); break;
        case TK_AV_NULL: put(o, "Z", 1); break;
        case TK_AV_OBJ: put(o, "O", 1); break;
        default: put(o, "A", 1); break;
        }
    }
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_toks(toks_t *o)
{
    for (int i = 0; i < o->n; i++)
        free(o->t[i]);
    o->n = 0;
}

/* Strict RFC 8259 check of one value (cJSON is lenient: it accepts raw
 * control characters and bad \\u escapes in strings); unpaired surrogates
 * are refused too. Returns the end of the value or NULL. */
static const char *sv_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static int sv_hex4(const char *p, const char *e, unsigned *v)
{
    if (e - p < 4)
        return 0;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return 0;
        *v = *v << 4 | (unsigned)d;
    }
    return 1;
}

static const char *sv_string(const char *p, const char *e)
{
    p++;
    while (p < e) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c != '\\') {
            p++;
            continue;
        }
        if (++p >= e)
            return NULL;
        if (strchr("\"\\/bfnrt", *p) && *p) {
            p++;
            continue;
        }
        unsigned u, u2;
        if (*p != 'u' || !sv_hex4(p + 1, e, &u))
            return NULL;
        p += 5;
        /* \u0000 is JSON, but cJSON (the oracle) cuts a string at it, so
         * such a document cannot be compared: not "strict" here. */
        if (u == 0 || (u >= 0xDC00 && u <= 0xDFFF))
            return NULL;
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (e - p < 6 || p[0] != '\\' || p[1] != 'u' || !sv_hex4(p + 2, e, &u2) || u2 < 0xDC00 || u2 > 0xDFFF)
                return NULL;
            p += 6;
        }
    }
    return NULL;
}

static const char *sv_value(const char *p, const char *e, int depth)
{
    p = sv_ws(p, e);
    if (p >= e || depth > 250)
        return NULL;
    if (*p == '"')
        return sv_string(p, e);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = sv_ws(p + 1, e);
        if (p < e && *p == close)
            return p + 1;
        for (;;) {
            if (close == '}') {
                p = sv_ws(p, e);
                if (p >= e || *p != '"' || !(p = sv_string(p, e)))
                    return NULL;
                p = sv_ws(p, e);
                if (p >= e || *p != ':')
                    return NULL;
                p++;
            }
            if (!(p = sv_value(p, e, depth + 1)))
                return NULL;
            p = sv_ws(p, e);
            if (p < e && *p == ',') {
                p++;
                continue;
            }
            return p < e && *p == close ? p + 1 : NULL;
        }
    }
    static const char *lit[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(lit[i]);
        if ((size_t)(e - p) >= l && !memcmp(p, lit[i], l))
            return p + l;
    }
    const char *s = p;
    if (p < e && *p == '-')
        p++;
    if (p < e && *p == '0')
        p++;
    else if (p < e && *p >= '1' && *p <= '9')
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    if (p < e && *p == '.') {
        if (++p >= e || *p < '0' || *p > '9')
            return NULL;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || *p < '0' || *p > '9')
            return NULL;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    return p > s ? p : NULL;
}

static int strict_object(const char *p, size_t n)
{
    const char *e = p + n, *s = sv_ws(p, e);
    if (s >= e || *s != '{')
        return 0;
    const char *end = sv_value(s, e, 0);
    return end && sv_ws(end, e) == e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size heap copy: ASan sees any read past the end */
    char *doc = malloc(size ? size : 1);
    memcpy(doc, data, size);
    const char *end = NULL;
    cJSON *root = memchr(data, 0, size) ? NULL : cJSON_ParseWithLengthOpts(doc, size, &end, 0);
    int valid = cJSON_IsObject(root) && depth_of(root) <= 200 && strict_object(doc, size);
    (void)end;
    paths_t ps = {.n = 0};
    if (root)
        collect(root, "", 0, &ps);
    static const char *fixed[] = {"eventName", "userIdentity.type", "a.b", "0"};
    for (size_t i = 0; i < 4 && ps.n < MAXP; i++)
        snprintf(ps.p[ps.n++], 256, "%s", fixed[i]);
    tk_ptrie_t *t = tk_ptrie_new();
    for (int i = 0; i < ps.n; i++)
        FZ_ASSERT(tk_ptrie_add(t, ps.p[i], i) == 0, "ptrie_add");
    FZ_ASSERT(tk_ptrie_finalize(t) == 0, "ptrie_finalize");
    tk_aview_t v;
    FZ_ASSERT(tk_aview_init(&v, (uint32_t)ps.n) == 0, "aview_init");
    int rc = tk_jwalk(doc, size, t, NULL, NULL, NULL, NULL, &v);
    FZ_ASSERT(rc == 0 || rc == TK_EINVAL, "jwalk rc %d", rc);
    if (valid) {
        FZ_ASSERT(rc == 0, "walker refused a valid object of %zu bytes", size);
        for (int i = 0; i < ps.n; i++) {
            toks_t *want = calloc(1, sizeof *want), *got = calloc(1, sizeof *got);
            char buf[256], *steps[64];
            int ns = 0;
            snprintf(buf, sizeof buf, "%s", ps.p[i]);
            for (char *s = strtok(buf, "."); s && ns < 64; s = strtok(NULL, "."))
                steps[ns++] = s;
            resolve(root, steps, ns, want);
            walker_toks(&v, i, got);
            if (!want->overflow && !got->overflow) {
                qsort(want->t, (size_t)want->n, sizeof(char *), cmp);
                qsort(got->t, (size_t)got->n, sizeof(char *), cmp);
                FZ_ASSERT(want->n == got->n, "path %s: walker found %d values, cJSON %d", ps.p[i], got->n,
                          want->n);
                for (int k = 0; k < want->n; k++)
                    FZ_ASSERT(!strcmp(want->t[k], got->t[k]), "path %s: walker '%s', cJSON '%s'", ps.p[i],
                              got->t[k], want->t[k]);
            }
            free_toks(want);
            free_toks(got);
            free(want);
            free(got);
        }
        /* a prefix that cuts the root object is refused */
        size_t close = size;
        while (close > 0 && doc[close - 1] != '}')
            close--;
        if (close > 1) {
            size_t cut = (size * 7 + (size_t)data[size / 2]) % (close - 1) + 1;
            char *pre = malloc(cut);
            memcpy(pre, doc, cut);
            tk_aview_reset(&v);
            FZ_ASSERT(tk_jwalk(pre, cut, t, NULL, NULL, NULL, NULL, &v) == TK_EINVAL,
                      "a %zu-byte prefix of a %zu-byte object was accepted", cut, size);
            free(pre);
        }
    }
    /* the sub-object form the engine uses for CloudTrail originals */
    tk_aview_reset(&v);
    int found = 0;
    uint8_t *sub_slot = calloc((size_t)ps.n + 1, 1);
    for (int i = 0; i < ps.n; i += 2)
        sub_slot[i] = 1;
    rc = tk_jwalk(doc, size, t, ps.n ? ps.p[0] : "x", t, sub_slot, &found, &v);
    FZ_ASSERT(rc == 0 || rc == TK_EINVAL, "jwalk(sub) rc %d", rc);
    if (valid)
        FZ_ASSERT(rc == 0, "walker (sub form) refused a valid object");
    free(sub_slot);
    tk_aview_free(&v);
    tk_ptrie_free(t);
    cJSON_Delete(root);
    free(doc);
    return 0;
}

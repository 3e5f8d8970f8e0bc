/* trailkeep alert event walker: reads a stored event's JSON once, guided by
 * a trie of the paths the engine's rules use, and collects the values found
 * at each path into slots. Subtrees no rule reads are skipped at scanning
 * speed, nothing is allocated per event once buffers have grown, and
 * malformed input stops the walk with TK_EINVAL (never reads past len).
 * Path semantics: "a.b" walks objects; an array at any step stands for all
 * its elements ("any element"), and a numeric step ("a.0.b") picks one. */
#include <stdio.h>
#include <stdlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <string.h>

#include "alert/alert_internal.h"
#include "base/tk.h"

#define TK_WALK_MAX_DEPTH 256

typedef struct tk_pnode {
    char *name;
    uint32_t len;
    uint32_t nkids, capkids;
    struct tk_pnode **kids;
    int *slots;
    uint32_t nslots;
    uint16_t *index;   /* open addressing over kids (kid + 1, 0 = empty), when many kids */
    uint32_t imask;
} tk_pnode_t;

struct tk_ptrie {
    tk_pnode_t root;
};

tk_ptrie_t *tk_ptrie_new(void)
{
    return calloc(1, sizeof(tk_ptrie_t));
}

static void pnode_free(tk_pnode_t *n)
{
    if (!n)
        return;
    for (uint32_t i = 0; n->kids && i < n->nkids; i++) {
        pnode_free(n->kids[i]);
        free(n->kids[i]);
    }
    free(n->kids);
    free(n->slots);
    free(n->name);
    free(n->index);
}

void tk_ptrie_free(tk_ptrie_t *t)
{
    if (!t)
        return;
    pnode_free(&t->root);
    free(t);
}

static inline uint32_t name_hash(const char *name, size_t len)
{
    uint32_t h = (uint32_t)len * 0x9E3779B1u;
    if (len)
        h ^= (uint32_t)(unsigned char)name[0] * 0x85EBCA77u ^ (uint32_t)(unsigned char)name[len - 1] * 0xC2B2AE3Du ^
             (uint32_t)(unsigned char)name[len / 2] * 0x27D4EB2Fu;
    return h ^ (h >> 15);
}

static tk_pnode_t *pnode_child(const tk_pnode_t *n, const char *name, size_t len)
{
    if (n->index) {
        for (uint32_t i = name_hash(name, len) & n->imask;; i = (i + 1) & n->imask) {
            uint16_t k = n->index[i];
            if (!k)
                return NULL;
            const tk_pnode_t *c = n->kids[k - 1];
            if (c->len == len && memcmp(c->name, name, len) == 0)
                return n->kids[k - 1];
        }
    }
    for (uint32_t i = 0; i < n->nkids; i++) {
        const tk_pnode_t *k = n->kids[i];
        if (k->len == len && (len == 0 || (k->name[0] == name[0] && k->name[len - 1] == name[len - 1])) &&
            memcmp(k->name, name, len) == 0)
            return n->kids[i];
    }
    return NULL;
}

int tk_ptrie_add(tk_ptrie_t *t, const char *path, int slot)
{
    tk_pnode_t *n = &t->root;
    const char *p = path;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        tk_pnode_t *k = pnode_child(n, p, len);
        if (!k) {
            if (n->nkids == n->capkids) {
                uint32_t cap = n->capkids ? 2 * n->capkids : 4;
                tk_pnode_t **nk = realloc(n->kids, cap * sizeof(*nk));
                if (!nk)
                    return TK_ENOMEM;
                n->kids = nk;
                n->capkids = cap;
            }
            k = calloc(1, sizeof(*k));
            if (!k || !(k->name = strndup(p, len))) {
                free(k);
                return TK_ENOMEM;
            }
            k->len = (uint32_t)len;
            n->kids[n->nkids++] = k;
        }
        n = k;
        p += len;
        if (*p == '.')
            p++;
    }
    for (uint32_t i = 0; i < n->nslots; i++)
        if (n->slots[i] == slot)
            return 0;
    int *ns = realloc(n->slots, (n->nslots + 1) * sizeof(int));
    if (!ns)
        return TK_ENOMEM;
    n->slots = ns;
    n->slots[n->nslots++] = slot;
    return 0;
}

static int pnode_index(tk_pnode_t *n)
{
    for (uint32_t i = 0; i < n->nkids; i++) {
        int rc = pnode_index(n->kids[i]);
        if (rc)
            return rc;
    }
    free(n->index);
    n->index = NULL;
    if (n->nkids <= 6 || n->nkids > 30000)
        return 0;
    uint32_t cap = 16;
    while (cap < 4 * n->nkids)
        cap *= 2;
    n->index = calloc(cap, sizeof(uint16_t));
    if (!n->index)
        return TK_ENOMEM;
    n->imask = cap - 1;
    for (uint32_t k = 0; k < n->nkids; k++) {
        uint32_t i = name_hash(n->kids[k]->name, n->kids[k]->len) & n->imask;
        while (n->index[i])
            i = (i + 1) & n->imask;
        n->index[i] = (uint16_t)(k + 1);
    }
    return 0;
}

int tk_ptrie_finalize(tk_ptrie_t *t)
{
    return pnode_index(&t->root);
}

int tk_ptrie_has_root_member(const tk_ptrie_t *t, const char *name)
{
    return pnode_child(&t->root, name, strlen(name)) != NULL;
}

/* ---- view ---- */

int tk_aview_init(tk_aview_t *v, uint32_t nslots)
{
    memset(v, 0, sizeof(*v));
    v->nslots = nslots;
    v->head = malloc((nslots ? nslots : 1) * sizeof(uint32_t));
    v->tail = malloc((nslots ? nslots : 1) * sizeof(uint32_t));
    if (!v->head || !v->tail) {
        tk_aview_free(v);
        return TK_ENOMEM;
    }
    tk_aview_reset(v);
    return 0;
}

void tk_aview_free(tk_aview_t *v)
{
    if (!v)
        return;
    free(v->head);
    free(v->tail);
    free(v->vals);
    free(v->scratch);
    memset(v, 0, sizeof(*v));
}

void tk_aview_reset(tk_aview_t *v)
{
    for (uint32_t i = 0; i < v->nslots; i++)
        v->head[i] = v->tail[i] = TK_AV_END;
    v->nvals = 0;
    v->scratch_len = 0;
}

/* While walking, a value unescaped into scratch keeps its offset in s
 * (scratch may move as it grows); fixed up into pointers at the end. */
#define TK_AV_INSCRATCH 0x80
#define TK_AV_FROMSUB 0x40

static int add_val(tk_aview_t *v, const tk_pnode_t *n, uint8_t type, const char *s, uint32_t len)
{
    type |= v->tag;
    for (uint32_t i = 0; i < n->nslots; i++) {
        if (v->nvals == v->capvals) {
            uint32_t cap = v->capvals ? 2 * v->capvals : 64;
            tk_aval_t *nv = realloc(v->vals, cap * sizeof(*nv));
            if (!nv)
                return TK_ENOMEM;
            v->vals = nv;
            v->capvals = cap;
        }
        uint32_t idx = v->nvals++, slot = (uint32_t)n->slots[i];
        v->vals[idx] = (tk_aval_t){type, len, s, TK_AV_END};
        if (v->tail[slot] == TK_AV_END)
            v->head[slot] = idx;
        else
            v->vals[v->tail[slot]].next = idx;
        v->tail[slot] = idx;
    }
    return 0;
}

/* ---- walker ---- */

typedef struct walk {
    const char *p, *end;
    tk_aview_t *v;
    int depth;
} walk_t;

static inline void ws(walk_t *w)
{
    while (w->p < w->end && (*w->p == ' ' || *w->p == '\n' || *w->p == '\r' || *w->p == '\t'))
        w->p++;
}

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

static int hex4(const char *p, const char *end, uint32_t *out)
{
    if (end - p < 4)
        return -1;
    uint32_t u = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return -1;
        u = u << 4 | (uint32_t)h;
    }
    *out = u;
    return 0;
}

/* Unescapes the JSON string body b[0..n) into out (room for n bytes: an
 * escape never expands). Returns the length or -1 on a bad escape. */
static long unescape(const char *b, size_t n, char *out)
{
    const char *p = b, *end = b + n;
    char *o = out;
    while (p < end) {
        if (*p != '\\') {
            *o++ = *p++;
            continue;
        }
        if (++p >= end)
            return -1;
        char c = *p++;
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            uint32_t u;
            if (hex4(p, end, &u))
                return -1;
            p += 4;
            if (u >= 0xD800 && u <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                uint32_t lo;
                if (hex4(p + 2, end, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
            }
            if (u < 0x80) {
                *o++ = (char)u;
            } else if (u < 0x800) {
                *o++ = (char)(0xC0 | u >> 6);
                *o++ = (char)(0x80 | (u & 0x3F));
            } else if (u < 0x10000) {
                *o++ = (char)(0xE0 | u >> 12);
                *o++ = (char)(0x80 | ((u >> 6) & 0x3F));
                *o++ = (char)(0x80 | (u & 0x3F));
            } else {
                *o++ = (char)(0xF0 | u >> 18);
                *o++ = (char)(0x80 | ((u >> 12) & 0x3F));
                *o++ = (char)(0x80 | ((u >> 6) & 0x3F));
                *o++ = (char)(0x80 | (u & 0x3F));
            }
            break;
        }
        default:
            return -1;
        }
    }
    return o - out;
}

/* At an opening quote: sets [*s, *s + *n) to the raw body, *esc when it
 * holds a backslash, and moves past the closing quote. Strings are short
 * (keys, ids), so 8 bytes at a time without a call beats memchr. */
static inline uint64_t has_byte(uint64_t v, uint64_t pattern)
{
    uint64_t x = v ^ pattern;
    return (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
}

static int scan_string(walk_t *w, const char **s, size_t *n, int *esc)
{
    const char *p = w->p + 1, *end = w->end;
    *esc = 0;
    for (;;) {
#ifdef __SSE2__
        const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
        while (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
            if (m) {
                p += __builtin_ctz(m);
                break;
            }
            p += 16;
        }
#endif
        while (end - p >= 8) {
            uint64_t v;
            memcpy(&v, p, 8);
            if (has_byte(v, 0x2222222222222222ULL) | has_byte(v, 0x5C5C5C5C5C5C5C5CULL))
                break;
            p += 8;
        }
        if (p >= end)
            return TK_EINVAL;
        char c = *p;
        if (c == '"') {
            *s = w->p + 1;
            *n = (size_t)(p - (w->p + 1));
            w->p = p + 1;
            return 0;
        }
        if (c == '\\') {
            *esc = 1;
            p += 2;
            continue;
        }
        p++;
    }
}

static int skip_value(walk_t *w)
{
    ws(w);
    if (w->p >= w->end)
        return TK_EINVAL;
    char c = *w->p;
    if (c == '"') {
        const char *s;
        size_t n;
        int esc;
        return scan_string(w, &s, &n, &esc);
    }
    if (c == '{' || c == '[') {
        /* bracket counting; strings skipped so their brackets do not count */
        int depth = 0;
        while (w->p < w->end) {
            c = *w->p;
            if (c == '"') {
                const char *s;
                size_t n;
                int esc;
                if (scan_string(w, &s, &n, &esc))
                    return TK_EINVAL;
                continue;
            }
            if (c == '{' || c == '[') {
                if (++depth > TK_WALK_MAX_DEPTH * 4)
                    return TK_EINVAL;
            } else if (c == '}' || c == ']') {
                if (--depth == 0) {
                    w->p++;
                    return 0;
                }
            }
            w->p++;
        }
        return TK_EINVAL;
    }
    const char *st = w->p;
    while (w->p < w->end && *w->p != ',' && *w->p != '}' && *w->p != ']' && *w->p != ' ' &&
           *w->p != '\n' && *w->p != '\r' && *w->p != '\t')
        w->p++;
    return w->p > st ? 0 : TK_EINVAL;
}

static int walk_value(walk_t *w, const tk_pnode_t *n);

static int record_string(walk_t *w, const tk_pnode_t *n, const char *s, size_t len, int esc)
{
    if (!n->nslots)
        return 0;
    if (!esc)
        return add_val(w->v, n, TK_AV_STR, s, (uint32_t)len);
    tk_aview_t *v = w->v;
    if (v->scratch_len + len + 1 > v->scratch_cap) {
        size_t cap = v->scratch_cap ? v->scratch_cap : 1024;
        while (cap < v->scratch_len + len + 1)
            cap *= 2;
        char *ns = realloc(v->scratch, cap);
        if (!ns)
            return TK_ENOMEM;
        v->scratch = ns;
        v->scratch_cap = cap;
    }
    long ul = unescape(s, len, v->scratch + v->scratch_len);
    if (ul < 0)
        return TK_EINVAL;
    int rc = add_val(v, n, TK_AV_STR | TK_AV_INSCRATCH, (const char *)(uintptr_t)v->scratch_len,
                     (uint32_t)ul);
    v->scratch_len += (size_t)ul;
    return rc;
}

static int walk_members(walk_t *w, const tk_pnode_t *n);

static int walk_object(walk_t *w, const tk_pnode_t *n)
{
    int rc;
    uint32_t first = w->v->nvals;
    if (n->nslots && (rc = add_val(w->v, n, TK_AV_OBJ, w->p, 0)))
        return rc;
    const char *start = w->p;
    w->p++; /* '{' */
    rc = walk_members(w, n);
    /* string operators see a container as its raw JSON text */
    for (uint32_t i = 0; !rc && i < n->nslots; i++)
        w->v->vals[first + i].len = (uint32_t)(w->p - start);
    return rc;
}

static int walk_members(walk_t *w, const tk_pnode_t *n)
{
    int rc;
    ws(w);
    if (w->p < w->end && *w->p == '}') {
        w->p++;
        return 0;
    }
    for (;;) {
        ws(w);
        if (w->p >= w->end || *w->p != '"')
            return TK_EINVAL;
        const char *k;
        size_t kn;
        int esc;
        if ((rc = scan_string(w, &k, &kn, &esc)))
            return rc;
        const tk_pnode_t *kid = NULL;
        if (n->nkids) {
            if (!esc) {
                kid = pnode_child(n, k, kn);
            } else if (kn < 256) {
                char kb[256];
                long ul = unescape(k, kn, kb);
                if (ul < 0)
                    return TK_EINVAL;
                kid = pnode_child(n, kb, (size_t)ul);
            }
        }
        ws(w);
        if (w->p >= w->end || *w->p != ':')
            return TK_EINVAL;
        w->p++;
        rc = kid ? walk_value(w, kid) : skip_value(w);
        if (rc)
            return rc;
        ws(w);
        if (w->p >= w->end)
            return TK_EINVAL;
        if (*w->p == ',') {
            w->p++;
            continue;
        }
        if (*w->p == '}') {
            w->p++;
            return 0;
        }
        return TK_EINVAL;
    }
}

static int walk_elements(walk_t *w, const tk_pnode_t *n);

static int walk_array(walk_t *w, const tk_pnode_t *n)
{
    int rc;
    uint32_t first = w->v->nvals;
    if (n->nslots && (rc = add_val(w->v, n, TK_AV_ARR, w->p, 0)))
        return rc;
    const char *start = w->p;
    w->p++; /* '[' */
    rc = walk_elements(w, n);
    for (uint32_t i = 0; !rc && i < n->nslots; i++)
        w->v->vals[first + i].len = (uint32_t)(w->p - start);
    return rc;
}

static int walk_elements(walk_t *w, const tk_pnode_t *n)
{
    int rc;
    ws(w);
    if (w->p < w->end && *w->p == ']') {
        w->p++;
        return 0;
    }
    for (uint32_t i = 0;; i++) {
        ws(w);
        const char *start = w->p;
        /* any element: the element's values belong to this path too */
        if ((rc = walk_value(w, n)))
            return rc;
        if (n->nkids) {
            char ib[12];
            int il = snprintf(ib, sizeof ib, "%u", i);
            const tk_pnode_t *kid = pnode_child(n, ib, (size_t)il);
            if (kid) {
                const char *after = w->p;
                w->p = start;
                if ((rc = walk_value(w, kid)))
                    return rc;
                w->p = after;
            }
        }
        ws(w);
        if (w->p >= w->end)
            return TK_EINVAL;
        if (*w->p == ',') {
            w->p++;
            continue;
        }
        if (*w->p == ']') {
            w->p++;
            return 0;
        }
        return TK_EINVAL;
    }
}

static int walk_value(walk_t *w, const tk_pnode_t *n)
{
    ws(w);
    if (w->p >= w->end)
        return TK_EINVAL;
    if (!n->nslots && !n->nkids)
        return skip_value(w);
    char c = *w->p;
    int rc;
    if (c == '{' || c == '[') {
        if (++w->depth > TK_WALK_MAX_DEPTH)
            return TK_EINVAL;
        rc = c == '{' ? walk_object(w, n) : walk_array(w, n);
        w->depth--;
        return rc;
    }
    if (c == '"') {
        const char *s;
        size_t len;
        int esc;
        if ((rc = scan_string(w, &s, &len, &esc)))
            return rc;
        return record_string(w, n, s, len, esc);
    }
    const char *st = w->p;
    if ((rc = skip_value(w)))
        return rc;
    size_t len = (size_t)(w->p - st);
    uint8_t type;
    if (len == 4 && !memcmp(st, "true", 4))
        type = TK_AV_BOOL;
    else if (len == 5 && !memcmp(st, "false", 5))
        type = TK_AV_BOOL;
    else if (len == 4 && !memcmp(st, "null", 4))
        type = TK_AV_NULL;
    else if (c == '-' || (c >= '0' && c <= '9'))
        type = TK_AV_NUM;
    else
        return TK_EINVAL;
    return n->nslots ? add_val(w->v, n, type, st, (uint32_t)len) : 0;
}

int tk_jwalk(const char *p, size_t len, const tk_ptrie_t *t, const char *sub,
             const tk_ptrie_t *tsub, const uint8_t *sub_slot, int *found_sub, tk_aview_t *v)
{
    walk_t w = {p, p + len, v, 0};
    v->tag = 0;
    if (found_sub)
        *found_sub = 0;
    ws(&w);
    if (w.p >= w.end || *w.p != '{')
        return TK_EINVAL;
    const tk_pnode_t *root = &t->root;
    size_t sublen = sub ? strlen(sub) : 0;
    int rc;
    if (!sub) {
        rc = walk_value(&w, root);
    } else {
        /* the root object by hand, to divert member `sub` to tsub */
        w.p++;
        ws(&w);
        if (w.p < w.end && *w.p == '}') {
            w.p++;
            rc = 0;
            goto done;
        }
        for (;;) {
            ws(&w);
            if (w.p >= w.end || *w.p != '"')
                return TK_EINVAL;
            const char *k;
            size_t kn;
            int esc;
            if ((rc = scan_string(&w, &k, &kn, &esc)))
                return rc;
            ws(&w);
            if (w.p >= w.end || *w.p != ':')
                return TK_EINVAL;
            w.p++;
            ws(&w);
            if (kn == sublen && !memcmp(k, sub, kn) && w.p < w.end && *w.p == '{') {
                if (found_sub)
                    *found_sub = 1;
                v->tag = TK_AV_FROMSUB;
                rc = walk_value(&w, &tsub->root);
                v->tag = 0;
            } else {
                const tk_pnode_t *kid = esc ? NULL : pnode_child(root, k, kn);
                rc = kid ? walk_value(&w, kid) : skip_value(&w);
            }
            if (rc)
                return rc;
            ws(&w);
            if (w.p >= w.end)
                return TK_EINVAL;
            if (*w.p == ',') {
                w.p++;
                continue;
            }
            if (*w.p == '}') {
                w.p++;
                break;
            }
            return TK_EINVAL;
        }
    }
done:
    v->tag = 0;
    if (rc)
        return rc;
    int sub_found = found_sub && *found_sub;
    if (sub_found && sub_slot) {
        /* the member was there: sub-view slots keep only what came from it */
        for (uint32_t s = 0; s < v->nslots; s++) {
            if (!sub_slot[s])
                continue;
            uint32_t head = TK_AV_END, tail = TK_AV_END;
            for (uint32_t i = v->head[s]; i != TK_AV_END; i = v->vals[i].next) {
                if (!(v->vals[i].type & TK_AV_FROMSUB))
                    continue;
                if (tail == TK_AV_END)
                    head = i;
                else
                    v->vals[tail].next = i;
                tail = i;
            }
            if (tail != TK_AV_END)
                v->vals[tail].next = TK_AV_END;
            v->head[s] = head;
            v->tail[s] = tail;
        }
    }
    for (uint32_t i = 0; i < v->nvals; i++) {
        tk_aval_t *a = &v->vals[i];
        if (a->type & TK_AV_INSCRATCH)
            a->s = v->scratch + (uintptr_t)a->s;
        a->type &= (uint8_t)~(TK_AV_INSCRATCH | TK_AV_FROMSUB);
    }
    return 0;
}

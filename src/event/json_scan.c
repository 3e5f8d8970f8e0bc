/* trailkeep event internals: finds value boundaries in raw JSON bytes without
 * building anything, so arrays and JSON Lines can be cut into events whose
 * stored bytes are exactly the caller's. It trusts simdjson for validity and
 * only tracks strings and a stack of bracket kinds (which catches '}' closing
 * a '[' so one broken element cannot swallow the rest of a file). It works
 * on 64-byte blocks with bit masks, as simdjson's stage 1 does. */
#include "event/json.h"

#include <stdlib.h>
#include <string.h>

/* Per 64-byte block: which bytes are quotes, backslashes, opening and
 * closing brackets, newlines (bit i = byte i). */
typedef struct masks {
    uint64_t quote, bslash, open, close, nl;
} masks_t;

#ifdef __SSE2__
#include <emmintrin.h>

static inline void block_masks(const char *p, masks_t *m)
{
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), lo = _mm_set1_epi8(0x20),
                  ob = _mm_set1_epi8('{'), cb = _mm_set1_epi8('}'), nl = _mm_set1_epi8('\n');
    memset(m, 0, sizeof *m);
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        __m128i v20 = _mm_or_si128(v, lo); /* '[' -> '{', ']' -> '}' */
        int sh = 16 * k;
        m->quote |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, q)) << sh;
        m->bslash |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, bs)) << sh;
        m->open |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v20, ob)) << sh;
        m->close |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v20, cb)) << sh;
        m->nl |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl)) << sh;
    }
}
#else
static inline void block_masks(const char *p, masks_t *m)
{
    memset(m, 0, sizeof *m);
    for (int i = 0; i < 64; i++) {
        uint64_t bit = 1ull << i;
        switch (p[i]) {
        case '"': m->quote |= bit; break;
        case '\\': m->bslash |= bit; break;
        case '{': case '[': m->open |= bit; break;
        case '}': case ']': m->close |= bit; break;
        case '\n': m->nl |= bit; break;
        }
    }
}
#endif

/* Bytes escaped by a backslash (simdjson's branchless odd/even run trick):
 * bit i set when byte i follows an odd run of backslashes; *carry says
 * whether the next block starts escaped. */
static inline uint64_t escaped_bytes(uint64_t bslash, uint64_t *carry)
{
    const uint64_t odd = 0xAAAAAAAAAAAAAAAAull;
    if (!bslash) {
        uint64_t e = *carry;
        *carry = 0;
        return e;
    }
    uint64_t potential = bslash & ~*carry;
    uint64_t maybe = potential << 1;
    uint64_t codes = ((maybe | odd) - potential) ^ odd;
    uint64_t escaped = codes ^ (bslash | *carry);
    uint64_t escape = codes & bslash;
    *carry = escape >> 63;
    return escaped;
}

/* Bit i set when an odd number of bits at or below i are set. */
static inline uint64_t prefix_xor(uint64_t x)
{
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

/* A string value: ends after its closing quote. */
static const char *scan_string(const char *p, const char *end, int line_mode, tk_scan_status_t *st)
{
    for (p++; p < end; p++) {
        if (*p == '\\') {
            p++;
            continue;
        }
        if (*p == '"')
            return p + 1;
        if (*p == '\n' && line_mode) {
            *st = TK_SCAN_TRUNCATED;
            return p;
        }
    }
    *st = TK_SCAN_TRUNCATED;
    return end;
}

/* Objects and arrays, 64 bytes at a time, the way simdjson's stage 1 does
 * it: masks of quotes and backslashes give the bytes inside strings
 * (escaped quotes removed, then a prefix XOR), and only the brackets (and,
 * for JSON Lines, newlines) outside strings are walked, bit by bit. A
 * backslash escapes the next byte wherever it is (valid JSON has them only
 * in strings). The tail is copied into a zeroed block. */
const char *tk_scan_value(const char *p, const char *end, int line_mode, tk_scan_status_t *st)
{
    *st = TK_SCAN_OK;
    if (p >= end) {
        *st = TK_SCAN_TRUNCATED;
        return p;
    }
    if (*p == '"')
        return scan_string(p, end, line_mode, st);
    if (*p != '{' && *p != '[') {
        /* A scalar: ends at the first delimiter. */
        while (p < end && !tk_json_ws(*p) && *p != ',' && *p != ']' && *p != '}' && *p != '{' &&
               *p != '[')
            p++;
        return p;
    }
    uint64_t stack[TK_SCAN_MAX_DEPTH / 64]; /* bit set: the open bracket is '[' */
    size_t depth = 0;
    uint64_t esc_carry = 0, in_str = 0; /* in_str: all ones when a string continues */
    char tail[64];
    for (const char *b = p; b < end; b += 64) {
        masks_t m;
        size_t avail = (size_t)(end - b);
        uint64_t valid = ~0ull;
        if (avail >= 64) {
            block_masks(b, &m);
        } else {
            memset(tail, 0, sizeof tail);
            memcpy(tail, b, avail);
            block_masks(tail, &m);
            valid = (1ull << avail) - 1;
        }
        uint64_t escaped = escaped_bytes(m.bslash, &esc_carry);
        uint64_t inside = prefix_xor(m.quote & ~escaped) ^ in_str;
        in_str = (uint64_t)((int64_t)inside >> 63);
        uint64_t walk = ((m.open | m.close) & ~inside) | (line_mode ? m.nl : 0);
        walk &= valid & ~escaped;
        while (walk) {
            unsigned i = (unsigned)__builtin_ctzll(walk);
            walk &= walk - 1;
            uint64_t bit = 1ull << i;
            const char *q = b + i;
            if (m.nl & bit) { /* line mode only */
                if (inside & bit) {
                    /* JSON strings cannot hold a raw newline: the record
                     * ends here. */
                    *st = TK_SCAN_TRUNCATED;
                    return q;
                }
                if (q + 1 < end && q[1] == '{') {
                    *st = TK_SCAN_TRUNCATED;
                    return q;
                }
                continue;
            }
            if (m.open & bit) {
                if (depth == TK_SCAN_MAX_DEPTH) {
                    *st = TK_SCAN_DEPTH;
                    return q;
                }
                if (*q == '[')
                    stack[depth / 64] |= 1ull << (depth % 64);
                else
                    stack[depth / 64] &= ~(1ull << (depth % 64));
                depth++;
                continue;
            }
            if (depth == 0) {
                *st = TK_SCAN_MISMATCH;
                return q;
            }
            depth--;
            int is_arr = (stack[depth / 64] >> (depth % 64)) & 1;
            if (is_arr != (*q == ']')) {
                *st = TK_SCAN_MISMATCH;
                return q;
            }
            if (depth == 0)
                return q + 1;
        }
    }
    *st = TK_SCAN_TRUNCATED;
    return end;
}

size_t tk_scan_members(const char *obj, size_t len, tk_rawmember_t *out, size_t max)
{
    const char *p = obj, *end = obj + len;
    size_t n = 0;
    tk_scan_status_t st;
    if (p >= end || *p != '{')
        return 0;
    p++;
    for (;;) {
        p = tk_skip_ws(p, end);
        if (p >= end || *p != '"')
            return n;
        const char *ke = tk_scan_value(p, end, 0, &st);
        if (st != TK_SCAN_OK)
            return n;
        const char *k = p + 1;
        uint32_t klen = (uint32_t)(ke - 1 - k);
        p = tk_skip_ws(ke, end);
        if (p >= end || *p != ':')
            return n;
        p = tk_skip_ws(p + 1, end);
        const char *ve = tk_scan_value(p, end, 0, &st);
        if (st != TK_SCAN_OK)
            return n;
        if (n < max) {
            out[n].key = k;
            out[n].klen = klen;
            out[n].val = p;
            out[n].vlen = (uint32_t)(ve - p);
        }
        n++;
        p = tk_skip_ws(ve, end);
        if (p >= end || *p != ',')
            return n;
        p++;
    }
}

const tk_rawmember_t *tk_raw_find(const tk_rawmember_t *m, size_t n, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < n; i++)
        if (m[i].klen == kl && memcmp(m[i].key, key, kl) == 0)
            return &m[i];
    return NULL;
}

uint64_t tk_count_lines(const char *p, size_t n)
{
    uint64_t c = 0;
    const char *end = p + n;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        c++;
        p++;
    }
    return c;
}

int tk_rawset_load(tk_rawset_t *r, const char *obj, size_t len)
{
    r->m = r->small;
    r->n = tk_scan_members(obj, len, r->small, 48);
    if (r->n > 48) {
        r->m = malloc(r->n * sizeof *r->m);
        if (!r->m)
            return -1;
        tk_scan_members(obj, len, r->m, r->n);
    }
    return 0;
}

void tk_rawset_free(tk_rawset_t *r)
{
    if (r && r->m != r->small)
        free(r->m);
}

void tk_rawset_each_name(const tk_rawset_t *r,
                         void (*cb)(void *ud, const char *type, size_t tlen, const char *name,
                                    size_t nlen),
                         void *ud)
{
    for (size_t i = 0; i < r->n; i++) {
        const char *q = r->m[i].val, *qe = q + r->m[i].vlen;
        if (q >= qe || *q != '[')
            continue;
        q++;
        for (;;) {
            q = tk_skip_ws(q, qe);
            if (q >= qe || *q != '"')
                break;
            tk_scan_status_t st;
            const char *e = tk_scan_value(q, qe, 0, &st);
            if (st != TK_SCAN_OK)
                break;
            cb(ud, r->m[i].key, r->m[i].klen, q, (size_t)(e - q));
            q = tk_skip_ws(e, qe);
            if (q < qe && *q == ',')
                q++;
        }
    }
}

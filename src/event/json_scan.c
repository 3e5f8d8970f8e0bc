/* trailkeep event internals: finds value boundaries in raw JSON bytes without
 * building anything, so arrays and JSON Lines can be cut into events whose
 * stored bytes are exactly the caller's. It trusts simdjson for validity and
 * only tracks strings and a stack of bracket kinds (which catches '}' closing
 * a '[' so one broken element cannot swallow the rest of a file). */
#include "event/json.h"

#include <string.h>

/* 1: byte that needs attention outside strings. */
static const uint8_t k_special[256] = {
    ['"'] = 1, ['{'] = 1, ['['] = 1, ['}'] = 1, [']'] = 1, ['\n'] = 1,
};
/* 1: byte that ends the plain run inside a string. */
static const uint8_t k_instr[256] = {['"'] = 1, ['\\'] = 1, ['\n'] = 1};

const char *tk_scan_value(const char *p, const char *end, int line_mode, tk_scan_status_t *st)
{
    uint64_t stack[TK_SCAN_MAX_DEPTH / 64]; /* bit set: the open bracket is '[' */
    size_t depth = 0;
    *st = TK_SCAN_OK;
    if (p >= end) {
        *st = TK_SCAN_TRUNCATED;
        return p;
    }
    if (*p != '{' && *p != '[' && *p != '"') {
        /* A scalar: ends at the first delimiter. */
        while (p < end && !tk_json_ws(*p) && *p != ',' && *p != ']' && *p != '}' && *p != '{' &&
               *p != '[')
            p++;
        return p;
    }
    while (p < end) {
        const uint8_t c = (uint8_t)*p;
        if (!k_special[c]) {
            p++;
            continue;
        }
        switch (c) {
        case '"':
            p++;
            if (!line_mode) {
                /* memchr to each quote; it closes the string when preceded
                 * by an even run of backslashes. Strings are most of an
                 * event's bytes, so this is the scanner's speed. */
                const char *start = p;
                for (;;) {
                    const char *q = memchr(p, '"', (size_t)(end - p));
                    if (!q) {
                        *st = TK_SCAN_TRUNCATED;
                        return end;
                    }
                    const char *b = q;
                    while (b > start && b[-1] == '\\')
                        b--;
                    p = q;
                    if (((q - b) & 1) == 0)
                        break;
                    p++;
                }
            } else {
                for (;;) {
                    while (p < end && !k_instr[(uint8_t)*p])
                        p++;
                    if (p >= end) {
                        *st = TK_SCAN_TRUNCATED;
                        return end;
                    }
                    if (*p == '\\') {
                        p += 2;
                        continue;
                    }
                    if (*p == '\n') {
                        /* JSON strings cannot hold a raw newline: in JSON
                         * Lines the record ends here. */
                        *st = TK_SCAN_TRUNCATED;
                        return p;
                    }
                    break; /* closing quote */
                }
            }
            p++;
            if (depth == 0)
                return p;
            break;
        case '{':
        case '[':
            if (depth == TK_SCAN_MAX_DEPTH) {
                *st = TK_SCAN_DEPTH;
                return p;
            }
            if (c == '[')
                stack[depth / 64] |= 1ull << (depth % 64);
            else
                stack[depth / 64] &= ~(1ull << (depth % 64));
            depth++;
            p++;
            break;
        case '}':
        case ']': {
            if (depth == 0) {
                *st = TK_SCAN_MISMATCH;
                return p;
            }
            depth--;
            int is_arr = (stack[depth / 64] >> (depth % 64)) & 1;
            if (is_arr != (c == ']')) {
                *st = TK_SCAN_MISMATCH;
                return p;
            }
            p++;
            if (depth == 0)
                return p;
            break;
        }
        case '\n':
            if (line_mode && p + 1 < end && p[1] == '{') {
                *st = TK_SCAN_TRUNCATED;
                return p;
            }
            p++;
            break;
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

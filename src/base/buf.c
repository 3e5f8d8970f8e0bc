/* trailkeep base: growable byte buffer (see buf.h). Growth doubles so that
 * appends are amortised O(1). */
#include "base/buf.h"
#include "base/tk.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tk_buf_reserve(tk_buf_t *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return TK_ENOMEM;
    b->p = p;
    b->cap = cap;
    p[b->len] = 0; /* keeps the header's invariant for a first reserve on an empty buffer */
    return 0;
}

int tk_buf_append(tk_buf_t *b, const void *data, size_t n)
{
    if (tk_buf_reserve(b, n))
        return TK_ENOMEM;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

int tk_buf_puts(tk_buf_t *b, const char *s) { return tk_buf_append(b, s, strlen(s)); }

int tk_buf_putc(tk_buf_t *b, char c) { return tk_buf_append(b, &c, 1); }

int tk_buf_printf(tk_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return TK_EINVAL;
    if (tk_buf_reserve(b, (size_t)n))
        return TK_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int tk_buf_put_json_str(tk_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (tk_buf_reserve(b, n + 2))
        return TK_ENOMEM;
    b->p[b->len++] = '"';
    size_t run = 0; /* start of the pending run of bytes that need no escape */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (tk_buf_append(b, s + run, i - run))
            return TK_ENOMEM;
        char esc[7];
        size_t el = 2;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
            el = 6;
        }
        if (tk_buf_append(b, esc, el))
            return TK_ENOMEM;
        run = i + 1;
    }
    if (tk_buf_append(b, s + run, n - run))
        return TK_ENOMEM;
    return tk_buf_putc(b, '"');
}

int tk_buf_put_u32le(tk_buf_t *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return tk_buf_append(b, x, 4);
}

int tk_buf_put_u64le(tk_buf_t *b, uint64_t v)
{
    if (tk_buf_put_u32le(b, (uint32_t)v))
        return TK_ENOMEM;
    return tk_buf_put_u32le(b, (uint32_t)(v >> 32));
}

int tk_buf_put_varint(tk_buf_t *b, uint64_t v)
{
    uint8_t x[10];
    size_t n = 0;
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        x[n++] = byte | (v ? 0x80 : 0);
    } while (v);
    return tk_buf_append(b, x, n);
}

size_t tk_get_varint(const uint8_t *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *out = v;
            return i + 1;
        }
    }
    return 0;
}

void tk_buf_reset(tk_buf_t *b)
{
    b->len = 0;
    if (b->cap)
        b->p[0] = 0;
}

void tk_buf_free(tk_buf_t *b)
{
    if (!b)
        return;
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

char *tk_buf_steal(tk_buf_t *b)
{
    if (!b->p && tk_buf_reserve(b, 0))
        return NULL;
    char *p = b->p;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

/* trailkeep base: a growable byte buffer used to build output and records.
 * Invariant: p is NUL-terminated whenever cap > 0, so p can be used as a C
 * string after appending text. */
#ifndef TK_BASE_BUF_H
#define TK_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct tk_buf {
    char *p;
    size_t len;
    size_t cap;
} tk_buf_t;

#define TK_BUF_INIT {NULL, 0, 0}

/* Ensures room for `extra` more bytes (+1 for the NUL). 0 or TK_ENOMEM. */
int tk_buf_reserve(tk_buf_t *b, size_t extra);
int tk_buf_append(tk_buf_t *b, const void *data, size_t n);
int tk_buf_puts(tk_buf_t *b, const char *s);
int tk_buf_putc(tk_buf_t *b, char c);
int tk_buf_printf(tk_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes included), escaping as RFC 8259 requires. */
int tk_buf_put_json_str(tk_buf_t *b, const char *s, size_t n);
/* Little-endian fixed-width and LEB128 varint encoders for on-disk formats. */
int tk_buf_put_u32le(tk_buf_t *b, uint32_t v);
int tk_buf_put_u64le(tk_buf_t *b, uint64_t v);
int tk_buf_put_varint(tk_buf_t *b, uint64_t v);
void tk_buf_reset(tk_buf_t *b);   /* len = 0, keeps memory */
void tk_buf_free(tk_buf_t *b);    /* frees memory; buffer reusable after */
/* Returns the buffer's memory (owned by the caller, NUL-terminated) and resets b. */
char *tk_buf_steal(tk_buf_t *b);

/* Decoders: return bytes consumed, or 0 when the input is short or malformed. */
size_t tk_get_varint(const uint8_t *p, size_t n, uint64_t *out);
static inline uint32_t tk_get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t tk_get_u64le(const uint8_t *p)
{
    return (uint64_t)tk_get_u32le(p) | (uint64_t)tk_get_u32le(p + 4) << 32;
}

#endif

/* libFuzzer target: HTTP query/form parameters (src/http/params.c:
 * tk_form_parse, tk_pct_decode). Invariants: at most 64 pairs; results
 * hold no NUL byte (a decoded NUL is refused, as documented); re-encoding
 * the pairs and parsing again gives the same pairs (round trip); a decoded
 * value is never longer than its text; tk_kv_get finds the first pair of a
 * key. */
#include "base/buf.h"
#include "base/tk.h"
#include "fuzz_common.h"
#include "http/http_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void encode(tk_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '.' || c == '_' || c == '~') {
            tk_buf_putc(b, (char)c);
        } else if (c == ' ') {
            tk_buf_putc(b, '+');
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            tk_buf_append(b, e, 3);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    tk_kvlist_t l = {0, 0, NULL};
    int rc = tk_form_parse(s, size, &l);
    FZ_ASSERT(rc == 0 || rc == TK_EINVAL || rc == TK_ETOOBIG, "rc %d", rc);
    FZ_ASSERT(l.n <= 64, "%zu pairs", l.n);
    if (rc == 0) {
        size_t raw_nul = memchr(s, 0, size) != NULL;
        FZ_ASSERT(!raw_nul, "input with a NUL byte was accepted (%zu pairs)", l.n);
        tk_buf_t b = TK_BUF_INIT;
        for (size_t i = 0; i < l.n; i++) {
            if (i)
                tk_buf_putc(&b, '&');
            encode(&b, l.kv[i].key);
            tk_buf_putc(&b, '=');
            encode(&b, l.kv[i].val);
            const char *first = tk_kv_get(&l, l.kv[i].key);
            size_t j = 0;
            while (strcmp(l.kv[j].key, l.kv[i].key))
                j++;
            FZ_ASSERT(first == l.kv[j].val, "tk_kv_get did not return the first pair of '%s'", l.kv[i].key);
        }
        tk_kvlist_t l2 = {0, 0, NULL};
        /* an empty key with an empty value re-encodes as "=", which parses back the same */
        FZ_ASSERT(tk_form_parse(b.p ? b.p : "", b.len, &l2) == 0, "re-encoded form refused: %.*s", (int)b.len,
                  b.p);
        size_t want = 0;
        for (size_t i = 0; i < l.n; i++)
            want++;
        FZ_ASSERT(l2.n == want, "round trip: %zu pairs became %zu", l.n, l2.n);
        for (size_t i = 0; i < l.n; i++)
            FZ_ASSERT(!strcmp(l.kv[i].key, l2.kv[i].key) && !strcmp(l.kv[i].val, l2.kv[i].val),
                      "round trip changed pair %zu", i);
        tk_kvlist_free(&l2);
        tk_buf_free(&b);
    }
    tk_kvlist_free(&l);

    char *out = malloc(size + 1);
    size_t outlen = 0;
    rc = tk_pct_decode(s, size, out, &outlen);
    FZ_ASSERT(rc == 0 || rc == -1, "tk_pct_decode rc %d", rc);
    if (rc == 0) {
        FZ_ASSERT(outlen <= size && out[outlen] == 0, "decoded %zu of %zu bytes", outlen, size);
        FZ_ASSERT(memchr(out, 0, outlen) == NULL, "tk_pct_decode returned a NUL byte");
        size_t pct = 0;
        for (size_t i = 0; i < size; i++)
            pct += s[i] == '%';
        FZ_ASSERT(outlen == size - 2 * pct, "%zu escapes, %zu -> %zu bytes", pct, size, outlen);
    }
    free(out);
    return 0;
}

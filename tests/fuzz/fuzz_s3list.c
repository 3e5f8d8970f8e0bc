/* libFuzzer target: S3 ListObjectsV2 listings (src/trail/s3_client.c,
 * tk_s3_list_parse) and the key check used before a key names a local
 * file (tk_s3_key_is_safe). Invariants: 0 / TK_ECORRUPT / TK_EIO (an S3
 * <Error>) / TK_ETOOBIG, with a message; a truncated page has a token; an
 * accepted page written back as XML (escaped) parses to the same keys,
 * flag and token; tk_s3_key_is_safe agrees with an independent check. */
#include "base/buf.h"
#include "base/tk.h"
#include "fuzz_common.h"
#include "trail/s3_client.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void put_text(tk_buf_t *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': tk_buf_puts(b, "&amp;"); break;
        case '<': tk_buf_puts(b, "&lt;"); break;
        case '>': tk_buf_puts(b, "&gt;"); break;
        case '\r': tk_buf_puts(b, "&#13;"); break;
        case '\n': tk_buf_puts(b, "&#10;"); break;
        case '\t': tk_buf_puts(b, "&#9;"); break;
        default: tk_buf_putc(b, *s);
        }
    }
}

static int safe_ref(const char *k)
{
    if (!*k || *k == '/')
        return 0;
    for (const char *p = k; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return 0;
    char *c = strdup(k), *save = NULL;
    int ok = 1;
    size_t n = strlen(k);
    if (k[n - 1] == '/' || strstr(k, "//"))
        ok = 0;
    for (char *t = strtok_r(c, "/", &save); ok && t; t = strtok_r(NULL, "/", &save))
        if (!strcmp(t, ".") || !strcmp(t, ".."))
            ok = 0;
    free(c);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tk_s3_list_page_t page;
    char err[TK_ERRLEN] = "";
    int rc = tk_s3_list_parse((const char *)data, size, &page, err);
    FZ_ASSERT(rc == 0 || rc == TK_ECORRUPT || rc == TK_EIO || rc == TK_ETOOBIG, "rc %d: %s", rc, err);
    if (rc) {
        FZ_ASSERT(err[0] && !page.keys && !page.nkeys && !page.next_token, "failure %d left a page or no message",
                  rc);
        tk_s3_list_page_free(&page);
    } else {
        FZ_ASSERT(!page.truncated || (page.next_token && *page.next_token), "truncated page without a token");
        tk_buf_t x = TK_BUF_INIT;
        tk_buf_puts(&x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "
                        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>");
        for (size_t i = 0; i < page.nkeys; i++) {
            FZ_ASSERT(page.keys[i], "key %zu is NULL", i);
            FZ_ASSERT(tk_s3_key_is_safe(page.keys[i]) == safe_ref(page.keys[i]), "key_is_safe('%s') = %d",
                      page.keys[i], tk_s3_key_is_safe(page.keys[i]));
            tk_buf_puts(&x, "<Contents><Key>");
            put_text(&x, page.keys[i]);
            tk_buf_puts(&x, "</Key><Size>1</Size></Contents>");
        }
        tk_buf_printf(&x, "<IsTruncated>%s</IsTruncated>", page.truncated ? "true" : "false");
        if (page.next_token) {
            tk_buf_puts(&x, "<NextContinuationToken>");
            put_text(&x, page.next_token);
            tk_buf_puts(&x, "</NextContinuationToken>");
        }
        tk_buf_puts(&x, "</ListBucketResult>");
        tk_s3_list_page_t p2;
        FZ_ASSERT(tk_s3_list_parse(x.p, x.len, &p2, err) == 0, "rewritten listing refused: %s\n%.*s", err,
                  (int)(x.len > 400 ? 400 : x.len), x.p);
        FZ_ASSERT(p2.nkeys == page.nkeys && p2.truncated == page.truncated &&
                      !p2.next_token == !page.next_token &&
                      (!p2.next_token || !strcmp(p2.next_token, page.next_token)),
                  "rewritten listing differs: %zu/%zu keys", p2.nkeys, page.nkeys);
        for (size_t i = 0; i < page.nkeys; i++)
            FZ_ASSERT(!strcmp(p2.keys[i], page.keys[i]), "key %zu: '%s' became '%s'", i, page.keys[i], p2.keys[i]);
        tk_s3_list_page_free(&p2);
        tk_buf_free(&x);
        tk_s3_list_page_free(&page);
    }
    /* the input itself as a key */
    char *k = fz_strndup(data, size > 512 ? 512 : size);
    FZ_ASSERT(tk_s3_key_is_safe(k) == safe_ref(k), "key_is_safe('%s') = %d", k, tk_s3_key_is_safe(k));
    tk_buf_t e = TK_BUF_INIT;
    FZ_ASSERT(tk_s3_uri_encode(&e, k, 1) == 0, "uri_encode");
    for (size_t i = 0; i < e.len; i++) {
        char c = e.p[i];
        FZ_ASSERT((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.' || c == '~' || c == '/' || c == '%',
                  "uri_encode left '%c'", c);
    }
    tk_buf_free(&e);
    free(k);
    return 0;
}

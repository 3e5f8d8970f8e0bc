/* libFuzzer target: gzip input (src/event/gunzip.c, libdeflate, multi-member).
 * Invariants: (1) differential against zlib on the raw input: when one
 * decoder accepts a whole stream the other must produce the same bytes;
 * (2) round trip: the input gzip-compressed by zlib (one or two members,
 * level from the input, optional zero padding) decompresses to itself;
 * (3) every strict prefix of a one-member stream is refused; (4) the output
 * cap holds (TK_ETOOBIG, never more than max_out bytes). */
#include "base/tk.h"
#include "event/parse.h"
#include "fuzz_common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CAP (1u << 20)

/* zlib reference: decodes every member; trailing zero bytes are allowed
 * (as gunzip.c allows). 0 and an owned buffer, 1 when over CAP, -1 when
 * the stream is not valid gzip. */
static int zlib_gunzip(const uint8_t *in, size_t n, uint8_t **out, size_t *outlen)
{
    size_t cap = 4096, o = 0, off = 0;
    uint8_t *buf = malloc(cap);
    int rc = 0;
    while (off < n && rc == 0) {
        if (off > 0 && (in[off] != 0x1f || off + 1 >= n || in[off + 1] != 0x8b)) {
            while (off < n && in[off] == 0)
                off++;
            if (off != n)
                rc = -1;
            break;
        }
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
            abort();
        z.next_in = (Bytef *)(in + off);
        z.avail_in = (uInt)(n - off);
        int zr;
        do {
            if (o == cap) {
                if (cap > CAP) {
                    rc = 1;
                    break;
                }
                cap *= 2;
                buf = realloc(buf, cap);
            }
            z.next_out = buf + o;
            z.avail_out = (uInt)(cap - o);
            zr = inflate(&z, Z_NO_FLUSH);
            o = cap - z.avail_out;
            if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
                rc = -1;
            if (zr == Z_BUF_ERROR && z.avail_out != 0)
                rc = -1; /* input ended inside the member */
        } while (rc == 0 && zr != Z_STREAM_END);
        off += (size_t)(z.next_in - (in + off));
        inflateEnd(&z);
    }
    if (rc == 0 && o > CAP)
        rc = 1;
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *outlen = o;
    return 0;
}

static size_t zlib_gzip(const uint8_t *in, size_t n, int level, uint8_t *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    FZ_ASSERT(deflate(&z, Z_FINISH) == Z_STREAM_END, "zlib deflate did not finish");
    size_t got = cap - z.avail_out;
    deflateEnd(&z);
    return got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[TK_ERRLEN];
    char *out;
    size_t outlen;
    int owned;
    /* (1) the input itself */
    int rc = tk_event_gunzip((const char *)data, size, CAP, &out, &outlen, &owned, err);
    FZ_ASSERT(rc == 0 || rc == TK_EINVAL || rc == TK_ETOOBIG, "rc %d: %s", rc, err);
    if (!tk_event_is_gzip((const char *)data, size)) {
        FZ_ASSERT(rc == 0 && !owned && out == (const char *)data && outlen == size,
                  "non-gzip input must be borrowed as it is");
    } else {
        uint8_t *ref = NULL;
        size_t reflen = 0;
        int zr = zlib_gunzip(data, size, &ref, &reflen);
        if (rc == 0) {
            FZ_ASSERT(owned && outlen <= CAP, "owned %d, %zu bytes (cap %u)", owned, outlen, CAP);
            FZ_ASSERT(zr == 0, "libdeflate accepted %zu bytes that zlib refuses (%d)", size, zr);
            FZ_ASSERT(reflen == outlen && !memcmp(ref, out, outlen),
                      "libdeflate and zlib disagree: %zu vs %zu bytes", outlen, reflen);
            free(out);
        } else if (rc == TK_EINVAL && size >= 18) {
            FZ_ASSERT(zr != 0, "zlib decodes %zu bytes (%zu out) that tk_event_gunzip refuses: %s", size,
                      reflen, err);
        } else if (rc == TK_ETOOBIG) {
            FZ_ASSERT(zr != 0, "TK_ETOOBIG but zlib produced only %zu bytes", reflen);
        }
        free(ref);
    }
    /* (2) round trip, (3) prefixes */
    if (size > 64 * 1024)
        return 0;
    int level = size ? data[0] % 10 : 6;
    size_t zcap = size + size / 8 + 256;
    uint8_t *z = malloc(2 * zcap + 16);
    size_t half = size > 1 && (data[size - 1] & 1) ? size / 2 : size;
    size_t zn = zlib_gzip(data, half, level, z, zcap);
    size_t z1 = zn;
    if (half < size)
        zn += zlib_gzip(data + half, size - half, level, z + zn, zcap);
    size_t pad = size > 2 && (data[1] & 3) == 3 ? data[2] % 7 : 0;
    memset(z + zn, 0, pad);
    rc = tk_event_gunzip((const char *)z, zn + pad, CAP, &out, &outlen, &owned, err);
    FZ_ASSERT(rc == 0, "round trip of %zu bytes (%s, level %d, %zu padding) failed: %s", size,
              half < size ? "two members" : "one member", level, pad, err);
    FZ_ASSERT(outlen == size && !memcmp(out, data, size), "round trip changed the bytes (%zu -> %zu)",
              size, outlen);
    free(out);
    if (half == size) {
        size_t cut = size ? ((size_t)data[size / 2] * 131) % z1 : z1 / 2;
        rc = tk_event_gunzip((const char *)z, cut, CAP, &out, &outlen, &owned, err);
        if (tk_event_is_gzip((const char *)z, cut))
            FZ_ASSERT(rc == TK_EINVAL, "a %zu-byte prefix of a %zu-byte stream was accepted (rc %d)", cut,
                      z1, rc);
        else if (rc == 0 && owned)
            free(out);
    }
    free(z);
    return 0;
}

/* trailkeep event: gzip input (HTTP bodies with Content-Encoding gzip,
 * delivered .gz files held in memory). libdeflate decompresses whole buffers
 * about twice as fast as zlib; multi-member files (concatenated gzip, as
 * some writers append) are handled member by member. */
#include "event/parse.h"

#include "base/tk.h"

#include <libdeflate.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int tk_event_is_gzip(const char *data, size_t len)
{
    return len >= 2 && (unsigned char)data[0] == 0x1f && (unsigned char)data[1] == 0x8b;
}

/* libdeflate skips a member header's CRC16 (FHCRC) without checking it;
 * zlib and gzip(1) refuse a wrong one, and so do we. 0 when the header has
 * no FHCRC, is too short to tell (libdeflate then refuses it), or its CRC
 * matches; -1 when the CRC is wrong. */
static int header_crc_bad(const unsigned char *p, size_t n)
{
    if (n < 10 || !(p[3] & 0x02))
        return 0;
    size_t i = 10;
    if (p[3] & 0x04) { /* FEXTRA */
        if (i + 2 > n)
            return 0;
        i += 2 + ((size_t)p[i] | (size_t)p[i + 1] << 8);
    }
    for (int f = 0x08; f <= 0x10; f <<= 1) /* FNAME, FCOMMENT: zero-terminated */
        if (p[3] & f) {
            while (i < n && p[i])
                i++;
            i++;
        }
    if (i + 2 > n)
        return 0;
    uint32_t crc = libdeflate_crc32(0, p, i);
    return ((crc & 0xffff) != ((uint32_t)p[i] | (uint32_t)p[i + 1] << 8)) ? -1 : 0;
}

int tk_event_gunzip(const char *data, size_t len, size_t max_out, char **out, size_t *outlen,
                    int *owned, char *err)
{
    if (!tk_event_is_gzip(data, len)) {
        *out = (char *)data;
        *outlen = len;
        *owned = 0;
        return 0;
    }
    if (len < 18)
        return tk_errf(err, TK_EINVAL, "gzip data is truncated (%zu bytes): send the whole file", len);
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    if (!d)
        return tk_errf(err, TK_ENOMEM, "out of memory (gzip decompressor)");
    /* The trailer's ISIZE (size mod 2^32 of the last member) is a good first
     * guess, trusted only up to a 32x ratio so a forged trailer cannot make
     * us reserve gigabytes up front; grow on demand. */
    size_t isize = (size_t)(unsigned char)data[len - 4] | (size_t)(unsigned char)data[len - 3] << 8 |
                   (size_t)(unsigned char)data[len - 2] << 16 | (size_t)(unsigned char)data[len - 1] << 24;
    size_t guess = len * 32 < isize ? len * 32 : isize;
    if (guess < len * 2)
        guess = len * 4;
    size_t cap = guess + 64;
    if (max_out && cap > max_out + 64)
        cap = max_out + 64;
    char *buf = malloc(cap);
    size_t in_off = 0, o = 0;
    int rc = 0;
    if (!buf) {
        rc = tk_errf(err, TK_ENOMEM, "out of memory decompressing %zu bytes of gzip", len);
        goto done;
    }
    while (in_off < len) {
        size_t in_used = 0, got = 0;
        if (header_crc_bad((const unsigned char *)data + in_off, len - in_off)) {
            rc = tk_errf(err, TK_EINVAL,
                         "gzip member at byte %zu has a wrong header CRC: send the whole, unmodified "
                         "file", in_off);
            goto done;
        }
        enum libdeflate_result r = libdeflate_gzip_decompress_ex(d, data + in_off, len - in_off, buf + o,
                                                                 cap - o - 64, &in_used, &got);
        if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
            if (max_out && cap - 64 >= max_out) {
                rc = tk_errf(err, TK_ETOOBIG, "gzip data expands beyond the %zu-byte limit", max_out);
                goto done;
            }
            size_t nc = (cap - 64) * 2 + 64;
            if (max_out && nc > max_out + 64)
                nc = max_out + 64;
            char *nb = realloc(buf, nc);
            if (!nb) {
                rc = tk_errf(err, TK_ENOMEM, "out of memory decompressing gzip");
                goto done;
            }
            buf = nb;
            cap = nc;
            continue;
        }
        if (r != LIBDEFLATE_SUCCESS) {
            rc = tk_errf(err, TK_EINVAL, "gzip data is corrupt or truncated at byte %zu: send the whole, unmodified file",
                         in_off);
            goto done;
        }
        o += got;
        in_off += in_used;
        /* Another member follows only if it starts with the magic; trailing
         * zero padding (tape/block devices) is ignored. */
        if (in_off < len && ((unsigned char)data[in_off] != 0x1f || in_off + 1 >= len ||
                             (unsigned char)data[in_off + 1] != 0x8b)) {
            size_t z = in_off;
            while (z < len && data[z] == 0)
                z++;
            if (z != len) {
                rc = tk_errf(err, TK_EINVAL, "unexpected bytes after gzip data at byte %zu", in_off);
                goto done;
            }
            break;
        }
    }
    memset(buf + o, 0, 64 < cap - o ? 64 : cap - o);
    *out = buf;
    *outlen = o;
    *owned = 1;
    buf = NULL;
done:
    free(buf);
    libdeflate_free_decompressor(d);
    return rc;
}

/* trailkeep base: hashing and randomness (see hash.h). */
#define _GNU_SOURCE
#include "base/hash.h"
#include "base/tk.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <sys/random.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

uint64_t tk_hash64(const void *data, size_t n) { return XXH3_64bits(data, n); }

uint32_t tk_checksum32(const void *data, size_t n) { return (uint32_t)XXH3_64bits(data, n); }

void tk_sha256(const void *data, size_t n, uint8_t out[32]) { SHA256(data, n, out); }

void tk_hmac_sha256(const void *key, size_t keylen, const void *data, size_t n, uint8_t out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)keylen, data, n, out, &len);
}

void tk_hex(const uint8_t *in, size_t n, char *out)
{
    static const char h[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = h[in[i] >> 4];
        out[2 * i + 1] = h[in[i] & 15];
    }
    out[2 * n] = 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int tk_unhex(const char *in, size_t hexlen, uint8_t *out)
{
    if (hexlen % 2)
        return TK_EINVAL;
    for (size_t i = 0; i < hexlen / 2; i++) {
        int a = hexval(in[2 * i]), b = hexval(in[2 * i + 1]);
        if (a < 0 || b < 0)
            return TK_EINVAL;
        out[i] = (uint8_t)(a << 4 | b);
    }
    return 0;
}

int tk_ct_equal(const void *a, const void *b, size_t n) { return CRYPTO_memcmp(a, b, n) == 0; }

int tk_random(void *out, size_t n)
{
    unsigned char *p = out;
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0)
            return TK_EIO;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

void tk_uuid4(char out[37])
{
    uint8_t b[16];
    tk_random(b, sizeof b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

int tk_sha256_init(tk_sha256_ctx_t *c)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        c->md = NULL;
        return TK_ENOMEM;
    }
    c->md = md;
    return 0;
}

void tk_sha256_update(tk_sha256_ctx_t *c, const void *data, size_t n)
{
    EVP_DigestUpdate((EVP_MD_CTX *)c->md, data, n);
}

void tk_sha256_final(tk_sha256_ctx_t *c, uint8_t out[32])
{
    unsigned int len = 32;
    EVP_DigestFinal_ex((EVP_MD_CTX *)c->md, out, &len);
    EVP_MD_CTX_free((EVP_MD_CTX *)c->md);
    c->md = NULL;
}

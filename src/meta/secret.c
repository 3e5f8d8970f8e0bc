/* trailkeep secrets at rest: AES-256-GCM under the data dir's master key for
 * every secret meta.db must keep recoverable (API-key secrets for SigV4,
 * webhook signing secrets, trail destination credentials). Invariant: the
 * associated data names the row a ciphertext belongs to, so a value copied
 * onto another row does not decrypt; no clear secret is written to meta.db. */
#include "meta/meta_internal.h"

#include "base/hash.h"
#include "base/tk.h"

#include <openssl/evp.h>
#include <string.h>

int tk_meta_gcm_seal(const tk_meta_t *m, const char *aad, const void *plain, size_t n, uint8_t *out)
{
    if (n > (size_t)1 << 20 || tk_random(out, TK_GCM_NONCE_LEN))
        return TK_EIO;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, ok = c != NULL;
    ok = ok && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, TK_GCM_NONCE_LEN, NULL) == 1;
    ok = ok && EVP_EncryptInit_ex(c, NULL, NULL, m->master, out) == 1;
    ok = ok && EVP_EncryptUpdate(c, NULL, &len, (const uint8_t *)aad, (int)strlen(aad)) == 1;
    ok = ok && (n == 0 || EVP_EncryptUpdate(c, out + TK_GCM_NONCE_LEN, &len, plain, (int)n) == 1);
    ok = ok && EVP_EncryptFinal_ex(c, out + TK_GCM_NONCE_LEN + n, &len) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TK_GCM_TAG_LEN,
                                   out + TK_GCM_NONCE_LEN + n) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : TK_EIO;
}

int tk_meta_gcm_open(const tk_meta_t *m, const char *aad, const uint8_t *in, size_t inlen, void *out)
{
    if (inlen < TK_GCM_NONCE_LEN + TK_GCM_TAG_LEN || inlen > ((size_t)1 << 20))
        return TK_ECORRUPT;
    size_t n = inlen - TK_GCM_NONCE_LEN - TK_GCM_TAG_LEN;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, ok = c != NULL;
    ok = ok && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, TK_GCM_NONCE_LEN, NULL) == 1;
    ok = ok && EVP_DecryptInit_ex(c, NULL, NULL, m->master, in) == 1;
    ok = ok && EVP_DecryptUpdate(c, NULL, &len, (const uint8_t *)aad, (int)strlen(aad)) == 1;
    ok = ok && (n == 0 || EVP_DecryptUpdate(c, out, &len, in + TK_GCM_NONCE_LEN, (int)n) == 1);
    ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TK_GCM_TAG_LEN,
                                   (void *)(in + TK_GCM_NONCE_LEN + n)) == 1;
    ok = ok && EVP_DecryptFinal_ex(c, (uint8_t *)out + n, &len) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        memset(out, 0, n);
        return TK_ECORRUPT;
    }
    return 0;
}

#define SEALED_PREFIX "tkenc1:"

int tk_meta_secret_is_sealed(const char *stored)
{
    return stored && !strncmp(stored, SEALED_PREFIX, sizeof SEALED_PREFIX - 1);
}

int tk_meta_secret_seal(const tk_meta_t *m, const char *context, const char *plain, char *out,
                        size_t outlen, char *err)
{
    size_t n = strlen(plain);
    if (!n) { /* nothing to hide: an empty secret stays empty (no secret set) */
        if (outlen)
            out[0] = 0;
        return 0;
    }
    size_t raw = TK_GCM_NONCE_LEN + n + TK_GCM_TAG_LEN;
    size_t need = sizeof SEALED_PREFIX - 1 + 4 * ((raw + 2) / 3) + 1;
    if (n > TK_SEALED_PLAIN_MAX || need > outlen)
        return tk_errf(err, TK_ETOOBIG, "secret is too long to store (%zu bytes; at most %d)", n,
                       TK_SEALED_PLAIN_MAX);
    uint8_t buf[TK_GCM_NONCE_LEN + TK_SEALED_PLAIN_MAX + TK_GCM_TAG_LEN];
    if (tk_meta_gcm_seal(m, context, plain, n, buf))
        return tk_errf(err, TK_EIO, "cannot encrypt a secret (OpenSSL AES-256-GCM)");
    memcpy(out, SEALED_PREFIX, sizeof SEALED_PREFIX - 1);
    EVP_EncodeBlock((unsigned char *)out + sizeof SEALED_PREFIX - 1, buf, (int)raw);
    memset(buf, 0, sizeof buf);
    return 0;
}

int tk_meta_secret_open(const tk_meta_t *m, const char *context, const char *stored, char *out,
                        size_t outlen, char *err)
{
    if (!tk_meta_secret_is_sealed(stored)) {
        /* Written before secrets were sealed (the schema upgrade seals them
         * on open), or empty: the value itself. */
        if (strlen(stored) >= outlen)
            return tk_errf(err, TK_ETOOBIG, "stored secret is too long");
        memcpy(out, stored, strlen(stored) + 1);
        return 0;
    }
    const char *b64 = stored + sizeof SEALED_PREFIX - 1;
    size_t blen = strlen(b64);
    uint8_t buf[4 * ((TK_GCM_NONCE_LEN + TK_SEALED_PLAIN_MAX + TK_GCM_TAG_LEN + 2) / 3)];
    if (blen % 4 || blen / 4 * 3 > sizeof buf)
        return tk_errf(err, TK_ECORRUPT, "meta.db: a sealed secret (%s) is malformed", context);
    int raw = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)blen);
    if (raw < 0)
        return tk_errf(err, TK_ECORRUPT, "meta.db: a sealed secret (%s) is malformed", context);
    /* EVP_DecodeBlock counts the '=' padding as zero bytes. */
    raw -= (blen && b64[blen - 1] == '=') + (blen > 1 && b64[blen - 2] == '=');
    if (raw < TK_GCM_NONCE_LEN + TK_GCM_TAG_LEN ||
        (size_t)raw - TK_GCM_NONCE_LEN - TK_GCM_TAG_LEN >= outlen)
        return tk_errf(err, TK_ECORRUPT, "meta.db: a sealed secret (%s) is malformed", context);
    size_t n = (size_t)raw - TK_GCM_NONCE_LEN - TK_GCM_TAG_LEN;
    if (tk_meta_gcm_open(m, context, buf, (size_t)raw, out))
        return tk_errf(err, TK_ECORRUPT,
                       "cannot decrypt a secret (%s): master.key does not match meta.db", context);
    out[n] = 0;
    return 0;
}

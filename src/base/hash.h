/* trailkeep base: hashing. xxh3 for checksums and hash tables (fast, not
 * cryptographic); SHA-256 and HMAC-SHA256 (OpenSSL) wherever tampering or
 * forgery matters: the segment chain, NextTokens, API-key secrets. */
#ifndef TK_BASE_HASH_H
#define TK_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t tk_hash64(const void *data, size_t n);
uint32_t tk_checksum32(const void *data, size_t n); /* low 32 bits of xxh3 */

void tk_sha256(const void *data, size_t n, uint8_t out[32]);
void tk_hmac_sha256(const void *key, size_t keylen, const void *data, size_t n, uint8_t out[32]);
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void tk_hex(const uint8_t *in, size_t n, char *out);
/* Parses 2n hex chars into out[n]; 0 or TK_EINVAL. */
int tk_unhex(const char *in, size_t hexlen, uint8_t *out);
/* Constant-time comparison: 1 when equal. */
int tk_ct_equal(const void *a, const void *b, size_t n);
/* n cryptographically random bytes (getrandom); 0 or TK_EIO. */
int tk_random(void *out, size_t n);
/* RFC 4122 version-4 UUID string (37 bytes incl. NUL), random. */
void tk_uuid4(char out[37]);

/* Streaming SHA-256 for large inputs (segment files). */
typedef struct tk_sha256_ctx { void *md; } tk_sha256_ctx_t;
int tk_sha256_init(tk_sha256_ctx_t *c);
void tk_sha256_update(tk_sha256_ctx_t *c, const void *data, size_t n);
void tk_sha256_final(tk_sha256_ctx_t *c, uint8_t out[32]); /* also frees */

#endif

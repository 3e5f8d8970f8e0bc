/* trailkeep query, internal: the NextToken codec shared by lookup.c and its
 * tests. A token is base64url (no padding) of
 *   version u8 | flags u8 | account hash [16] | query hash [16] |
 *   start_ms i64le | end_ms i64le | cursor_time_ms i64le | cursor_seq u64le |
 *   HMAC-SHA256(key, all previous bytes) [32]
 * The range travels in the token so a query whose times were defaulted
 * ("last 7 days until now") keeps the range of its first page. */
#ifndef TK_QUERY_TOKEN_INTERNAL_H
#define TK_QUERY_TOKEN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define TK_TOKEN_VERSION 1
#define TK_TOKEN_RAW_LEN (1 + 1 + 16 + 16 + 8 * 4 + 32)

typedef struct tk_token {
    uint8_t flags;              /* reserved, 0 */
    uint8_t account_hash[16];
    uint8_t query_hash[16];
    int64_t start_ms, end_ms;
    int64_t cursor_time_ms;
    uint64_t cursor_seq;
} tk_token_t;

/* Writes the NUL-terminated token into out (>= 160 bytes). Returns its length. */
size_t tk_token_encode(const tk_token_t *t, const uint8_t key[32], char *out);

/* 0 and *t filled, or TK_EINVAL with why in msg (>= 160 bytes): "malformed"
 * (not base64url / wrong length / unknown version) or "signature" (tampered
 * or issued by another installation). */
int tk_token_decode(const char *s, const uint8_t key[32], tk_token_t *t, char *msg, size_t msgsz);

/* First 16 bytes of SHA-256 of the account id. */
void tk_token_account_hash(const char *account, uint8_t out[16]);

/* base64url without padding. Encode writes NUL-terminated text. Decode
 * returns the decoded length or -1 on an invalid character/length. */
size_t tk_b64url_encode(const uint8_t *in, size_t n, char *out);
long tk_b64url_decode(const char *in, size_t n, uint8_t *out, size_t outcap);

#endif

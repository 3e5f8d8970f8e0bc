/* trailkeep authentication and authorisation at the API edge. Every request
 * resolves to a principal (API key -> account + role) through either
 *   Authorization: Bearer <keyId>:<secret>   (or X-TK-Key-Id + X-TK-Secret)
 * or AWS Signature Version 4 (the CloudTrail-compatible endpoint: the key id is
 * the AWS access key id, the secret is the AWS secret access key).
 * Authorisation is one function so every route applies the same rule:
 * an account sees its own events; the organization's management account
 * (admin or reader key) also sees its members'; nobody else sees anything. */
#ifndef TK_HTTP_AUTH_H
#define TK_HTTP_AUTH_H

#include "meta/meta.h"

#include <stddef.h>
#include <stdint.h>

typedef struct tk_principal {
    char key_id[32];
    char account[64];
    tk_role_t role;
    int is_management;   /* account is the organization's management account */
} tk_principal_t;

/* Bearer / X-TK-* headers. TK_EAUTH (401) when missing, malformed, unknown,
 * revoked or wrong; err says which without echoing the secret. */
int tk_auth_bearer(tk_meta_t *m, const char *authorization, const char *x_key_id,
                   const char *x_secret, tk_principal_t *out, char *err);

/* A header as received (name case-insensitive). */
typedef struct tk_http_header {
    const char *name;
    const char *value;
} tk_http_header_t;

/* Verifies an AWS SigV4 Authorization header: canonical request from method,
 * path, raw query string, the signed headers, and the SHA-256 of the body;
 * X-Amz-Date within 15 minutes of now_ms; constant-time compare.
 * TK_EAUTH with a reason (unknown key, bad signature, expired, ...). */
int tk_auth_sigv4(tk_meta_t *m, const char *method, const char *path, const char *query,
                  const tk_http_header_t *headers, size_t nheaders, const void *body,
                  size_t body_len, int64_t now_ms, tk_principal_t *out, char *err);

/* Computes the SigV4 signature (64 hex chars + NUL into sig_hex) for a request,
 * as a client would: used by tests, and by the trail S3 destination's tests. */
int tk_sigv4_sign(const char *secret, const char *method, const char *path, const char *query,
                  const tk_http_header_t *headers, size_t nheaders, const char *signed_headers,
                  const char *payload_sha256_hex, const char *amz_date, const char *region,
                  const char *service, char *sig_hex, char *err);

/* May principal p perform an action of `need` role on `account`'s data?
 * 0 = yes; TK_EPERM = authenticated but not allowed (403). Writers may only
 * write their own account; readers/admins read their own account; the
 * management account's reader/admin keys also read (admin: manage) members. */
int tk_auth_allow(tk_meta_t *m, const tk_principal_t *p, const char *account, tk_role_t need);

#endif

/* trailkeep's small S3 client: PUT, GET and ListObjectsV2 against any
 * S3-compatible endpoint (AWS S3, Alibaba Cloud OSS in S3 mode, MinIO, Ceph
 * RGW), signed with SigV4 by libcurl. Used by the s3 trail destination
 * (dest_s3.c) and by `trailkeep verify --bucket`. The ListObjectsV2 XML
 * parser and the key check are exposed so they can be tested without a
 * server. Thread-safety: one tk_s3_t per thread. */
#ifndef TK_TRAIL_S3_CLIENT_H
#define TK_TRAIL_S3_CLIENT_H

#include "base/buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct tk_s3_config {
    const char *endpoint;          /* http(s)://host[:port]; a trailing '/' is ignored */
    const char *region;            /* signing region, e.g. us-east-1 */
    const char *bucket;
    const char *access_key_id;     /* required, no ':' */
    const char *secret_access_key; /* required */
    const char *session_token;     /* NULL or "" = none (else x-amz-security-token) */
    int path_style;                /* ENDPOINT/BUCKET/KEY instead of BUCKET.HOST/KEY */
    long timeout_s;                /* one request; <= 0 = 60 */
    int list_max_keys;             /* keys per ListObjectsV2 page; <= 0 = S3's 1,000 */
    /* Egress policy (base/egress.h) applied to the endpoint when opened and
     * to every resolved address at connect time: 1 also allows private and
     * loopback ranges (link-local, metadata ... are always refused). */
    int allow_private;
    /* Polled during transfers (about once a second and on every chunk):
     * nonzero aborts the request with TK_ECLOSED. NULL = never. */
    int (*should_abort)(void *ud);
    void *abort_ud;
} tk_s3_config_t;

typedef struct tk_s3 tk_s3_t;

/* What a hostile endpoint can make a client hold: one ListObjectsV2 answer
 * (a real page of 1,000 keys is well under 1 MiB) and, for a listing loop
 * (`verify --bucket`), pages and objects listed. */
#define TK_S3_LIST_MAX_BYTES (8u << 20)
#define TK_S3_LIST_MAX_PAGES 100000
#define TK_S3_LIST_MAX_OBJECTS_DEFAULT 1000000

/* Checks cfg (the endpoint against the egress policy too) and copies it
 * (strings included) into *out, owned: tk_s3_close(). TK_EINVAL naming what
 * is wrong. */
int tk_s3_open(const tk_s3_config_t *cfg, tk_s3_t **out, char *err);
/* Frees s (the secret is wiped). NULL: no-op. */
void tk_s3_close(tk_s3_t *s);

/* PUT data[0..len) (borrowed) as key, replacing any object of that key.
 * 0, or TK_EIO (transport or HTTP error, message with the status and S3's
 * error code), TK_EPERM (every address of the endpoint refused by the egress
 * policy), TK_ECLOSED (aborted). */
int tk_s3_put(tk_s3_t *s, const char *key, const void *data, size_t len, char *err);

/* GET key, writing the body to fd (borrowed) as it arrives; *bytes (may be
 * NULL) receives its size. TK_ENOTFOUND (HTTP 404: no such key or bucket),
 * TK_EAUTH (403), TK_EIO, TK_ECLOSED. On error fd may hold part of the body. */
int tk_s3_get(tk_s3_t *s, const char *key, int fd, uint64_t *bytes, char *err);

/* One page of ListObjectsV2. keys owned by the page: tk_s3_list_page_free. */
typedef struct tk_s3_list_page {
    char **keys;
    size_t nkeys;
    int truncated;        /* IsTruncated: more pages follow */
    char *next_token;     /* NextContinuationToken, NULL when none */
} tk_s3_list_page_t;

/* Lists up to list_max_keys keys under prefix (borrowed, "" = all) after
 * continuation token token (NULL = from the start) into *page (zeroed first,
 * free it with tk_s3_list_page_free even on error). Errors as tk_s3_get;
 * TK_ENOTFOUND for a missing bucket (NoSuchBucket). */
int tk_s3_list(tk_s3_t *s, const char *prefix, const char *token, tk_s3_list_page_t *page,
               char *err);
/* Parses a ListObjectsV2 response body (xml[0..len), borrowed, need not be
 * NUL-terminated) with expat into *page (zeroed first): Contents/Key,
 * IsTruncated, NextContinuationToken, with XML entities (&amp; &lt; &gt;
 * &quot; &apos; &#N; &#xH;) decoded. TK_ECORRUPT for XML that is not a
 * complete ListBucketResult (not well-formed, truncated, unknown entity, any
 * DOCTYPE or entity declaration, nesting over 16, a truncated page without a
 * token); TK_ETOOBIG over TK_S3_LIST_MAX_BYTES; an S3 <Error> document gives
 * TK_EIO with its Code and Message. */
int tk_s3_list_parse(const char *xml, size_t len, tk_s3_list_page_t *page, char *err);
void tk_s3_list_page_free(tk_s3_list_page_t *page);

/* 1 when key can be used as a path relative to a local folder without
 * leaving it: not empty, no leading '/', no "", "." or ".." component, no
 * NUL or control character; else 0. */
int tk_s3_key_is_safe(const char *key);

/* Appends s URI-encoded the way SigV4 wants it (RFC 3986 unreserved
 * characters kept, everything else %XX; '/' kept when keep_slash). */
int tk_s3_uri_encode(tk_buf_t *out, const char *s, int keep_slash);

#endif

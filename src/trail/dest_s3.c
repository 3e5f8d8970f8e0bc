/* trailkeep trail destination `s3`: any S3-compatible endpoint (AWS S3,
 * Alibaba Cloud OSS in S3 mode, Ceph RGW, MinIO) through libcurl, signed
 * with SigV4 (CURLOPT_AWS_SIGV4). libcurl 7.88 does not send
 * x-amz-content-sha256, which S3 requires, so it is added here (the SHA-256
 * of the body). "Expect:" must not be used to suppress 100-continue: libcurl
 * would still list an empty expect header as signed (sigv4.sh caught it). One
 * PUT per object: objects stay far below the 5 GiB limit
 * of a single PUT. A PUT replaces an object of the same key. */
#include "trail/dest.h"

#include "base/buf.h"
#include "base/hash.h"
#include "base/tk.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *endpoint, *region, *bucket, *user_pwd;
    int path_style;
    long timeout_s;
} s3_t;

static const tk_dest_option_t s3_opts[] = {
    {"endpoint", TK_OPT_STRING, "https://s3.amazonaws.com", 0,
     "base URL, e.g. https://oss-cn-hangzhou.aliyuncs.com or http://127.0.0.1:9000"},
    {"region", TK_OPT_STRING, "us-east-1", 0, "signing region"},
    {"bucket", TK_OPT_STRING, NULL, 0, "bucket name (default: the trail's OssBucketName)"},
    {"path_style", TK_OPT_BOOL, "false", 0,
     "address the bucket as ENDPOINT/BUCKET/KEY instead of BUCKET.HOST/KEY (MinIO, RGW)"},
    {"access_key_id", TK_OPT_STRING, NULL, 0, "default: $AWS_ACCESS_KEY_ID"},
    {"secret_access_key", TK_OPT_STRING, NULL, 0,
     "default: $AWS_SECRET_ACCESS_KEY (prefer the environment: options are stored in meta.db)"},
    {"timeout_s", TK_OPT_INT, "60", 0, "seconds one PUT may take"},
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static const char *opt(const tk_dest_config_t *cfg, const char *name)
{
    const char *v = tk_dest_config_get(cfg, name);
    if (v)
        return v;
    for (size_t i = 0; i < TK_ARRAY_LEN(s3_opts); i++)
        if (!strcmp(s3_opts[i].name, name))
            return s3_opts[i].def;
    return NULL;
}

static void s3_close(void *state)
{
    s3_t *s = state;
    if (!s)
        return;
    free(s->endpoint);
    free(s->region);
    free(s->bucket);
    if (s->user_pwd) {
        memset(s->user_pwd, 0, strlen(s->user_pwd));
        free(s->user_pwd);
    }
    free(s);
}

static int s3_init(const tk_dest_config_t *cfg, void **state, char *err)
{
    pthread_once(&curl_once, curl_init_once);
    const char *ep = opt(cfg, "endpoint"), *bucket = opt(cfg, "bucket");
    const char *ak = opt(cfg, "access_key_id"), *sk = opt(cfg, "secret_access_key");
    if (!ak)
        ak = getenv("AWS_ACCESS_KEY_ID");
    if (!sk)
        sk = getenv("AWS_SECRET_ACCESS_KEY");
    if (!bucket || !*bucket)
        return tk_errf(err, TK_EINVAL, "s3 needs a bucket (OssBucketName or Dest.bucket)");
    if (strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8))
        return tk_errf(err, TK_EINVAL, "s3 endpoint '%s' must start with http:// or https://", ep);
    if (!ak || !*ak || !sk || !*sk)
        return tk_errf(err, TK_EINVAL,
                       "s3 has no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                       "for the server, or Dest.access_key_id and Dest.secret_access_key");
    if (strchr(ak, ':'))
        return tk_errf(err, TK_EINVAL, "s3 access_key_id must not contain ':'");
    s3_t *s = calloc(1, sizeof *s);
    if (!s)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    size_t ul = strlen(ak) + strlen(sk) + 2;
    s->endpoint = strdup(ep);
    s->region = strdup(opt(cfg, "region"));
    s->bucket = strdup(bucket);
    s->user_pwd = malloc(ul);
    s->path_style = !strcmp(opt(cfg, "path_style"), "true");
    s->timeout_s = strtol(opt(cfg, "timeout_s"), NULL, 10);
    if (!s->endpoint || !s->region || !s->bucket || !s->user_pwd) {
        s3_close(s);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    snprintf(s->user_pwd, ul, "%s:%s", ak, sk);
    size_t el = strlen(s->endpoint);
    while (el && s->endpoint[el - 1] == '/')
        s->endpoint[--el] = 0;
    *state = s;
    return 0;
}

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
    tk_buf_t *b = ud;
    size_t len = sz * n;
    if (b->len < 512)
        tk_buf_append(b, p, len < 512 - b->len ? len : 512 - b->len);
    return len;
}

static int s3_write(void *state, const char *key, const void *data, size_t len, char *err)
{
    s3_t *s = state;
    char url[2048], sigv4[128], hdr_sha[128], hash_hex[65];
    uint8_t h[32];
    const char *scheme_end = strstr(s->endpoint, "://") + 3;
    int n;
    if (s->path_style)
        n = snprintf(url, sizeof url, "%s/%s/%s", s->endpoint, s->bucket, key);
    else
        n = snprintf(url, sizeof url, "%.*s%s.%s/%s", (int)(scheme_end - s->endpoint),
                     s->endpoint, s->bucket, scheme_end, key);
    if (n < 0 || (size_t)n >= sizeof url)
        return tk_errf(err, TK_EINVAL, "object URL too long");
    tk_sha256(data, len, h);
    tk_hex(h, 32, hash_hex);
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", s->region);
    snprintf(hdr_sha, sizeof hdr_sha, "x-amz-content-sha256: %s", hash_hex);

    CURL *c = curl_easy_init();
    if (!c)
        return tk_errf(err, TK_ENOMEM, "cannot create a curl handle");
    struct curl_slist *hl = NULL, *t;
    int rc = 0;
    if (!(t = curl_slist_append(hl, hdr_sha)) || !(hl = t) ||
        !(t = curl_slist_append(hl, "Content-Type: application/octet-stream")) || !(hl = t)) {
        curl_slist_free_all(hl);
        curl_easy_cleanup(c);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    tk_buf_t body = TK_BUF_INIT;
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(c, CURLOPT_USERPWD, s->user_pwd);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, s->timeout_s > 0 ? s->timeout_s : 60L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK)
        rc = tk_errf(err, TK_EIO, "PUT %s: %s", url, cerr[0] ? cerr : curl_easy_strerror(cc));
    else if (status < 200 || status > 299)
        rc = tk_errf(err, TK_EIO, "PUT %s: HTTP %ld %.160s", url, status, body.p ? body.p : "");
    tk_buf_free(&body);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return rc;
}

const tk_dest_t tk_dest_s3 = {
    .name = "s3",
    .description = "S3-compatible bucket (AWS S3, Alibaba Cloud OSS, MinIO, Ceph RGW), SigV4",
    .options = s3_opts,
    .noptions = TK_ARRAY_LEN(s3_opts),
    .init = s3_init,
    .write_object = s3_write,
    .close = s3_close,
};

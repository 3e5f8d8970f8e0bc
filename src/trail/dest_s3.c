/* trailkeep trail destination `s3`: any S3-compatible endpoint (AWS S3,
 * Alibaba Cloud OSS in S3 mode, Ceph RGW, MinIO), through the SigV4 client
 * in s3_client.c. One PUT per object: objects stay far below the 5 GiB limit
 * of a single PUT. A PUT replaces an object of the same key. The endpoint
 * obeys the egress policy (base/egress.h) when written and when connecting. */
#include "trail/dest.h"
#include "trail/s3_client.h"

#include "base/egress.h"
#include "base/tk.h"

#include <stdlib.h>
#include <string.h>

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
    tk_s3_close(state);
}

/* The endpoint is tenant input: http/https and a literal host the egress
 * policy allows (names are judged at connect time, in s3_client.c). */
static int s3_check(const tk_dest_config_t *cfg, char *err)
{
    return tk_egress_check_url("Dest.endpoint", opt(cfg, "endpoint"), tk_egress_allow_private(),
                               err);
}

static int s3_init(const tk_dest_config_t *cfg, void **state, char *err)
{
    const char *bucket = opt(cfg, "bucket");
    const char *ak = opt(cfg, "access_key_id"), *sk = opt(cfg, "secret_access_key");
    /* The session token belongs to the environment's key pair only. */
    const char *token = !ak && !sk ? getenv("AWS_SESSION_TOKEN") : NULL;
    if (!ak)
        ak = getenv("AWS_ACCESS_KEY_ID");
    if (!sk)
        sk = getenv("AWS_SECRET_ACCESS_KEY");
    if (!bucket || !*bucket)
        return tk_errf(err, TK_EINVAL, "s3 needs a bucket (OssBucketName or Dest.bucket)");
    if (!ak || !*ak || !sk || !*sk)
        return tk_errf(err, TK_EINVAL,
                       "s3 has no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                       "for the server, or Dest.access_key_id and Dest.secret_access_key");
    tk_s3_config_t c = {
        .endpoint = opt(cfg, "endpoint"),
        .region = opt(cfg, "region"),
        .bucket = bucket,
        .access_key_id = ak,
        .secret_access_key = sk,
        .session_token = token,
        .path_style = !strcmp(opt(cfg, "path_style"), "true"),
        .timeout_s = strtol(opt(cfg, "timeout_s"), NULL, 10),
        .allow_private = tk_egress_allow_private(),
    };
    tk_s3_t *s;
    int rc = tk_s3_open(&c, &s, err);
    if (!rc)
        *state = s;
    return rc;
}

static int s3_write(void *state, const char *key, const void *data, size_t len, char *err)
{
    int rc = tk_s3_put(state, key, data, len, err);
    /* The deliverer retries TK_EIO/TK_EBUSY; every S3 failure is worth a retry. */
    return rc && rc != TK_ENOMEM ? TK_EIO : rc;
}

const tk_dest_t tk_dest_s3 = {
    .name = "s3",
    .description = "S3-compatible bucket (AWS S3, Alibaba Cloud OSS, MinIO, Ceph RGW), SigV4",
    .options = s3_opts,
    .noptions = TK_ARRAY_LEN(s3_opts),
    .init = s3_init,
    .write_object = s3_write,
    .close = s3_close,
    .check = s3_check,
};

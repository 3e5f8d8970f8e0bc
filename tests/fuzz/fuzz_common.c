/* Helpers shared by the libFuzzer targets (see fuzz_common.h): scratch
 * directory (one per process, removed at exit), file writing, splitting,
 * and the canned events rule targets evaluate. Nothing here fuzzes. */
#define _XOPEN_SOURCE 700
#include "fuzz_common.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *fz_strndup(const uint8_t *data, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    if (n)
        memcpy(s, data, n);
    s[n] = 0;
    return s;
}

static char g_scratch[512];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int fz_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void scratch_cleanup(void)
{
    if (g_scratch[0])
        fz_rmtree(g_scratch);
}

const char *fz_scratch(void)
{
    if (g_scratch[0])
        return g_scratch;
    const char *base = getenv("TMPDIR");
    struct stat st;
    if (!base || !*base)
        base = stat("/dev/shm", &st) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(g_scratch, sizeof g_scratch, "%s/tk-fuzz.XXXXXX", base);
    if (!mkdtemp(g_scratch)) {
        perror("mkdtemp");
        abort();
    }
    atexit(scratch_cleanup);
    return g_scratch;
}

static int mkparents(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

int fz_write_file(const char *path, const void *data, size_t n)
{
    if (mkparents(path))
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = (n == 0 || fwrite(data, 1, n, f) == n);
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

size_t fz_split(const uint8_t **data, size_t *n, char sep, char **head)
{
    const uint8_t *p = memchr(*data, sep, *n);
    if (!p) {
        *head = fz_strndup(*data, *n);
        *data += *n;
        *n = 0;
        return 0;
    }
    size_t h = (size_t)(p - *data);
    *head = fz_strndup(*data, h);
    *data = p + 1;
    *n -= h + 1;
    return *n;
}

const char *const fz_events[] = {
    "{\"eventId\":\"e1\",\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1234\","
    "\"eventName\":\"ConsoleSignin\",\"eventSource\":\"signin.aliyuncs.com\",\"errorCode\":\"InvalidPassword\","
    "\"sourceIpAddress\":\"198.51.100.7\",\"userIdentity\":{\"type\":\"ram-user\",\"userName\":\"alice\","
    "\"accessKeyId\":\"LTAI123\"},\"additionalEventData\":{\"isMFAChecked\":\"false\"}}",
    "{\"eventId\":\"e2\",\"eventTime\":\"2026-11-24T10:00:05.250Z\",\"recipientAccountId\":\"1234\","
    "\"eventName\":\"AttachPolicyToUser\",\"requestParameters\":{\"PolicyName\":\"AdministratorAccess\","
    "\"UserName\":\"bob\"},\"userIdentity\":{\"type\":\"root-account\"},\"resourceName\":\"acs:ram::1234:user/bob\"}",
    "{\"eventVersion\":\"1.08\",\"eventTime\":\"2026-11-24T10:01:00Z\",\"eventSource\":\"cloudtrail.amazonaws.com\","
    "\"eventName\":\"StopLogging\",\"awsRegion\":\"us-east-1\",\"sourceIPAddress\":\"2001:db8::1\","
    "\"recipientAccountId\":\"123456789012\",\"userIdentity\":{\"type\":\"IAMUser\",\"userName\":\"eve\","
    "\"arn\":\"arn:aws:iam::123456789012:user/eve\"},\"requestParameters\":{\"name\":\"audit\"},"
    "\"responseElements\":null,\"resources\":[{\"ARN\":\"arn:aws:cloudtrail:us-east-1:123456789012:trail/audit\"}]}",
    "{\"eventId\":\"e4\",\"eventTime\":\"2026-11-24T23:59:59Z\",\"recipientAccountId\":\"1234\","
    "\"eventName\":\"ConsoleLogin\",\"responseElements\":{\"ConsoleLogin\":\"Failure\"},\"userIdentity\":"
    "{\"type\":\"Root\",\"userName\":\"root\"},\"tags\":[1,2.5,true,null,{\"k\":\"v\"}],\"n\":-0.5e3}",
    "{\"eventId\":\"e5\",\"eventTime\":\"2026-11-25T00:00:00Z\",\"recipientAccountId\":\"1234\","
    "\"eventName\":\"Insight\",\"insightDetails\":{\"state\":\"Start\",\"insightType\":\"ApiCallRateInsight\"},"
    "\"eventType\":\"AwsCloudTrailInsight\",\"s\":\"esc\\u00e9\\n\\\"q\\\"\"}",
};
const size_t fz_nevents = sizeof fz_events / sizeof fz_events[0];

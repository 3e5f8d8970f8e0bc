/* libFuzzer target: request authentication (src/http/sigv4.c, auth.c).
 * Input: method, path, query and an Authorization value on the first four
 * lines, then "Name: value" header lines, an empty line and the body.
 * (A) the request as given: SigV4 and Bearer verification return 0 or
 * TK_EAUTH and never accept a credential that is not the fuzz key's.
 * (B) the same request re-signed with the real secret (every x-amz-*
 * header signed, X-Amz-Date = the verifier's clock) must verify: signing
 * and verification canonicalise any method, path, query, header and body
 * identically; with one body byte changed it must not verify. */
#include "base/buf.h"
#include "base/hash.h"
#include "base/tk.h"
#include "fuzz_common.h"
#include "http/auth.h"
#include "meta/meta.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ACCOUNT "123456789012"
#define AMZ_DATE "20261124T103000Z"
#define NOW_MS 1795516200000LL /* 2026-11-24T10:30:00Z */
#define MAXH 24

static tk_meta_t *g_meta;
static tk_key_t g_key;
static char g_secret[TK_SECRET_LEN + 1];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[TK_ERRLEN];
    if (tk_meta_open(fz_scratch(), &g_meta, err) || tk_meta_account_create(g_meta, ACCOUNT, "fuzz", err) ||
        tk_meta_key_create(g_meta, ACCOUNT, TK_ROLE_READER, "fuzz", &g_key, g_secret, err)) {
        fprintf(stderr, "fuzz_sigv4 setup: %s\n", err);
        abort();
    }
    return 0;
}

static int name_ok(const char *n)
{
    size_t l = strlen(n);
    if (!l || l > 64)
        return 0;
    for (const char *p = n; *p; p++)
        if (*p == ';' || *p == ',' || *p == ':' || *p == '=' || isspace((unsigned char)*p) || (unsigned char)*p < 0x21 ||
            (unsigned char)*p > 0x7e)
            return 0;
    return strcasecmp(n, "authorization") && strcasecmp(n, "x-amz-date") && strcasecmp(n, "host") &&
           strcasecmp(n, "x-amz-content-sha256");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data;
    size_t n = size;
    char *method, *path, *query, *authz;
    fz_split(&p, &n, '\n', &method);
    fz_split(&p, &n, '\n', &path);
    fz_split(&p, &n, '\n', &query);
    fz_split(&p, &n, '\n', &authz);
    char *names[MAXH], *values[MAXH];
    int nh = 0;
    while (n && nh < MAXH) {
        char *line;
        fz_split(&p, &n, '\n', &line);
        if (!*line) {
            free(line);
            break;
        }
        char *colon = strchr(line, ':');
        names[nh] = line;
        values[nh] = colon ? colon + 1 : line + strlen(line);
        if (colon)
            *colon = 0;
        while (*values[nh] == ' ')
            values[nh]++;
        nh++;
    }
    const uint8_t *body = p;
    size_t blen = n;
    char err[TK_ERRLEN];
    tk_principal_t who;

    /* (A) as given */
    tk_http_header_t h[MAXH + 3];
    int k = 0;
    if (*authz)
        h[k++] = (tk_http_header_t){"Authorization", authz};
    for (int i = 0; i < nh; i++)
        h[k++] = (tk_http_header_t){names[i], values[i]};
    memset(&who, 0, sizeof who);
    int rc = tk_auth_sigv4(g_meta, method, path, query, h, (size_t)k, body, blen, NOW_MS, &who, err);
    FZ_ASSERT(rc == 0 || rc == TK_EAUTH, "sigv4 rc %d: %s", rc, err);
    if (rc == 0)
        FZ_ASSERT(!strcmp(who.key_id, g_key.key_id) && !strcmp(who.account, ACCOUNT), "sigv4 accepted key %s",
                  who.key_id);
    const char *xk = NULL, *xs = NULL;
    for (int i = 0; i < nh; i++) {
        if (!strcasecmp(names[i], "x-tk-key-id"))
            xk = values[i];
        if (!strcasecmp(names[i], "x-tk-secret"))
            xs = values[i];
    }
    memset(&who, 0, sizeof who);
    rc = tk_auth_bearer(g_meta, authz, xk, xs, &who, err);
    FZ_ASSERT(rc == 0 || rc == TK_EAUTH, "bearer rc %d: %s", rc, err);
    if (rc == 0)
        FZ_ASSERT(!strcmp(who.key_id, g_key.key_id) && (strstr(authz, g_secret) || (xs && strstr(xs, g_secret))),
                  "bearer accepted without the secret");

    /* (B) re-signed */
    k = 0;
    h[k++] = (tk_http_header_t){"Host", "127.0.0.1:8460"};
    h[k++] = (tk_http_header_t){"X-Amz-Date", AMZ_DATE};
    char *sn[MAXH + 2];
    int ns = 0;
    sn[ns++] = strdup("host");
    sn[ns++] = strdup("x-amz-date");
    int sign_all = size && (data[size - 1] & 1);
    for (int i = 0; i < nh; i++) {
        if (!name_ok(names[i]))
            continue;
        h[k++] = (tk_http_header_t){names[i], values[i]};
        if (!sign_all && strncasecmp(names[i], "x-amz-", 6))
            continue;
        char *l = strdup(names[i]);
        for (char *c = l; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        int dup = 0;
        for (int j = 0; j < ns; j++)
            dup |= !strcmp(sn[j], l);
        if (dup)
            free(l);
        else
            sn[ns++] = l;
    }
    qsort(sn, (size_t)ns, sizeof *sn, cmp_str);
    tk_buf_t sh = TK_BUF_INIT;
    for (int j = 0; j < ns; j++) {
        tk_buf_printf(&sh, "%s%s", j ? ";" : "", sn[j]);
        free(sn[j]);
    }
    const char *service = size && (data[0] & 1) ? "s3" : "cloudtrail";
    uint8_t hb[32];
    char body_hex[65], sig[65];
    tk_sha256(blen ? (const void *)body : "", blen, hb);
    tk_hex(hb, 32, body_hex);
    rc = tk_sigv4_sign(g_secret, method, path, query, h, (size_t)k, sh.p, body_hex, AMZ_DATE, "us-east-1", service,
                       sig, err);
    FZ_ASSERT(rc == 0, "signing failed: %s", err);
    char *auth = malloc(sh.len + 256);
    sprintf(auth, "AWS4-HMAC-SHA256 Credential=%s/20261124/us-east-1/%s/aws4_request, SignedHeaders=%s, Signature=%s",
            g_key.key_id, service, sh.p, sig);
    h[k++] = (tk_http_header_t){"Authorization", auth};
    memset(&who, 0, sizeof who);
    rc = tk_auth_sigv4(g_meta, method, path, query, h, (size_t)k, body, blen, NOW_MS, &who, err);
    FZ_ASSERT(rc == 0 && !strcmp(who.key_id, g_key.key_id) && !strcmp(who.account, ACCOUNT),
              "a correctly signed request did not verify: %s (method '%s' path '%s' query '%s', signed '%s')", err,
              method, path, query, sh.p);
    if (blen) {
        uint8_t *b2 = malloc(blen);
        memcpy(b2, body, blen);
        b2[blen / 2] ^= 0x20;
        rc = tk_auth_sigv4(g_meta, method, path, query, h, (size_t)k, b2, blen, NOW_MS, &who, err);
        FZ_ASSERT(rc == TK_EAUTH, "a changed body still verified (rc %d)", rc);
        free(b2);
    }
    rc = tk_auth_sigv4(g_meta, method, path, query, h, (size_t)k, body, blen, NOW_MS + 16 * 60 * 1000LL, &who, err);
    FZ_ASSERT(rc == TK_EAUTH, "a request 16 minutes old verified");
    free(auth);
    tk_buf_free(&sh);
    for (int i = 0; i < nh; i++)
        free(names[i]);
    free(method);
    free(path);
    free(query);
    free(authz);
    return 0;
}

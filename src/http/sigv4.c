/* trailkeep AWS Signature Version 4: signing (tk_sigv4_sign, also used by
 * tests and clients) and verification of the header form (tk_auth_sigv4),
 * so the aws CLI and SDKs can call the CloudTrail-compatible endpoint with a
 * trailkeep key id / secret as their access key id / secret access key.
 * Canonicalisation follows the AWS documentation and botocore's SigV4Auth;
 * the test suite checks signatures byte for byte against botocore. */
#include "http/auth.h"
#include "http/auth_internal.h"

#include "base/buf.h"
#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SIGV4_ALGO "AWS4-HMAC-SHA256"
#define SIGV4_MAX_SKEW_MS (15 * 60 * 1000LL)
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

/* Appends s[0..n) URI-encoded as SigV4 wants: unreserved characters (and '/'
 * when keep_slash) as they are, everything else %XX with upper-case hex. */
static int uri_encode(tk_buf_t *b, const char *s, size_t n, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            rc = tk_buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = tk_buf_append(b, e, 3);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes %XX escapes of s[0..n) into out (n + 1 bytes); '+' stays '+'
 * (SigV4 clients encode a space as %20). Returns the decoded length. */
static size_t pct_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int a, b;
        if (s[i] == '%' && i + 2 < n && (a = hexval(s[i + 1])) >= 0 && (b = hexval(s[i + 2])) >= 0) {
            out[o++] = (char)(a << 4 | b);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = 0;
    return o;
}

/* Canonical URI. Every service but S3 normalises the path (RFC 3986 dot
 * segments, repeated slashes) and encodes the already-encoded path once more,
 * as botocore does; S3 signs the path as sent. */
static int canonical_uri(tk_buf_t *b, const char *path, const char *service)
{
    if (!path || !*path)
        return tk_buf_putc(b, '/');
    if (!strcmp(service, "s3"))
        return tk_buf_puts(b, path);
    size_t n = strlen(path);
    const char **segs = malloc((n + 1) * sizeof *segs);
    size_t *lens = malloc((n + 1) * sizeof *lens);
    size_t ns = 0;
    int rc = segs && lens ? 0 : TK_ENOMEM;
    for (size_t i = 0; !rc && i <= n;) {
        size_t j = i;
        while (j < n && path[j] != '/')
            j++;
        size_t l = j - i;
        if (l == 0 || (l == 1 && path[i] == '.')) {
            /* empty or "." segment: dropped */
        } else if (l == 2 && path[i] == '.' && path[i + 1] == '.') {
            if (ns)
                ns--;
        } else {
            segs[ns] = path + i;
            lens[ns++] = l;
        }
        i = j + 1;
    }
    if (!rc && path[0] == '/')
        rc = tk_buf_putc(b, '/');
    for (size_t k = 0; !rc && k < ns; k++) {
        if (k)
            rc = tk_buf_putc(b, '/');
        if (!rc)
            rc = uri_encode(b, segs[k], lens[k], 1);
    }
    if (!rc && ns && path[n - 1] == '/')
        rc = tk_buf_putc(b, '/');
    free(segs);
    free(lens);
    return rc;
}

typedef struct {
    char *key;   /* encoded, owned */
    char *val;
} qpair_t;

static int qpair_cmp(const void *a, const void *b)
{
    const qpair_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->val, y->val);
}

static char *encode_dup(const char *s, size_t n)
{
    char *dec = malloc(n + 1);
    if (!dec)
        return NULL;
    size_t dl = pct_decode(s, n, dec);
    tk_buf_t b = TK_BUF_INIT;
    if (uri_encode(&b, dec, dl, 0) || tk_buf_reserve(&b, 0)) {
        free(dec);
        tk_buf_free(&b);
        return NULL;
    }
    free(dec);
    return tk_buf_steal(&b);
}

/* Canonical query string: each name=value decoded then re-encoded (so any
 * consistent client encoding verifies), sorted by name then value. */
static int canonical_query(tk_buf_t *b, const char *query)
{
    if (!query || !*query)
        return 0;
    size_t cap = 1;
    for (const char *p = query; *p; p++)
        cap += *p == '&';
    qpair_t *v = calloc(cap, sizeof *v);
    if (!v)
        return TK_ENOMEM;
    size_t n = 0;
    int rc = 0;
    for (const char *p = query; !rc && *p;) {
        const char *end = strchr(p, '&');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        if (l) {
            const char *eq = memchr(p, '=', l);
            size_t kl = eq ? (size_t)(eq - p) : l;
            v[n].key = encode_dup(p, kl);
            v[n].val = eq ? encode_dup(eq + 1, l - kl - 1) : strdup("");
            if (!v[n].key || !v[n].val)
                rc = TK_ENOMEM;
            n++;
        }
        p += l + (end ? 1 : 0);
    }
    if (!rc)
        qsort(v, n, sizeof *v, qpair_cmp);
    for (size_t i = 0; !rc && i < n; i++)
        rc = tk_buf_printf(b, "%s%s=%s", i ? "&" : "", v[i].key, v[i].val);
    for (size_t i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].val);
    }
    free(v);
    return rc;
}

/* Appends a header value with leading/trailing white space removed and
 * inner runs of white space collapsed to one space (SigV4 "Trimall"). */
static int trimall(tk_buf_t *b, const char *s)
{
    int pending = 0, any = 0;
    for (; *s; s++) {
        if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
            pending = any;
            continue;
        }
        if (pending && tk_buf_putc(b, ' '))
            return TK_ENOMEM;
        if (tk_buf_putc(b, *s))
            return TK_ENOMEM;
        pending = 0;
        any = 1;
    }
    return 0;
}

/* "name:v1,v2\n" for each name of signed_headers, values of repeated headers
 * joined by commas in arrival order. */
static int canonical_headers(tk_buf_t *b, const tk_http_header_t *h, size_t nh,
                             const char *signed_headers, char *err)
{
    const char *p = signed_headers;
    while (*p) {
        const char *end = strchr(p, ';');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        if (l == 0 || l > 128)
            return tk_errf(err, TK_EAUTH, "SignedHeaders has an empty or overlong name");
        int found = 0;
        if (tk_buf_append(b, p, l) || tk_buf_putc(b, ':'))
            return TK_ENOMEM;
        for (size_t i = 0; i < nh; i++) {
            if (!h[i].name || strlen(h[i].name) != l || strncasecmp(h[i].name, p, l))
                continue;
            if ((found++ && tk_buf_putc(b, ',')) || trimall(b, h[i].value ? h[i].value : ""))
                return TK_ENOMEM;
        }
        if (!found)
            return tk_errf(err, TK_EAUTH, "signed header '%.*s' is not in the request", (int)l, p);
        if (tk_buf_putc(b, '\n'))
            return TK_ENOMEM;
        p += l + (end ? 1 : 0);
    }
    return 0;
}

int tk_sigv4_sign(const char *secret, const char *method, const char *path, const char *query,
                  const tk_http_header_t *headers, size_t nheaders, const char *signed_headers,
                  const char *payload_sha256_hex, const char *amz_date, const char *region,
                  const char *service, char *sig_hex, char *err)
{
    if (!secret || !method || !signed_headers || !*signed_headers || !amz_date ||
        strlen(amz_date) != 16 || !region || !*region || !service || !*service)
        return tk_errf(err, TK_EINVAL,
                       "SigV4 needs a secret, method, signed headers, an X-Amz-Date like "
                       "20261124T103000Z, a region and a service");
    tk_buf_t cr = TK_BUF_INIT, sts = TK_BUF_INIT;
    int rc = tk_buf_printf(&cr, "%s\n", method);
    if (!rc)
        rc = canonical_uri(&cr, path, service);
    if (!rc)
        rc = tk_buf_putc(&cr, '\n');
    if (!rc)
        rc = canonical_query(&cr, query);
    if (!rc)
        rc = tk_buf_putc(&cr, '\n');
    if (!rc)
        rc = canonical_headers(&cr, headers, nheaders, signed_headers, err);
    if (!rc)
        rc = tk_buf_printf(&cr, "\n%s\n%s", signed_headers,
                           payload_sha256_hex ? payload_sha256_hex : EMPTY_SHA256);
    if (rc) {
        tk_buf_free(&cr);
        return rc == TK_ENOMEM ? tk_errf(err, rc, "out of memory signing a request") : rc;
    }
    uint8_t h[32], k[32];
    char hex[65], date[9];
    tk_sha256(cr.p, cr.len, h);
    tk_hex(h, 32, hex);
    memcpy(date, amz_date, 8);
    date[8] = 0;
    rc = tk_buf_printf(&sts, SIGV4_ALGO "\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date, region,
                       service, hex);
    if (rc) {
        tk_buf_free(&cr);
        tk_buf_free(&sts);
        return tk_errf(err, rc, "out of memory signing a request");
    }
    /* Signing key: HMAC chain over date, region, service, "aws4_request". */
    char k0[4 + 128 + 1];
    int kl = snprintf(k0, sizeof k0, "AWS4%s", secret);
    if (kl < 0 || (size_t)kl >= sizeof k0) {
        tk_buf_free(&cr);
        tk_buf_free(&sts);
        return tk_errf(err, TK_EINVAL, "secret too long");
    }
    tk_hmac_sha256(k0, (size_t)kl, date, 8, k);
    tk_hmac_sha256(k, 32, region, strlen(region), k);
    tk_hmac_sha256(k, 32, service, strlen(service), k);
    tk_hmac_sha256(k, 32, "aws4_request", 12, k);
    tk_hmac_sha256(k, 32, sts.p, sts.len, h);
    tk_hex(h, 32, sig_hex);
    memset(k0, 0, sizeof k0);
    memset(k, 0, sizeof k);
    tk_buf_free(&cr);
    tk_buf_free(&sts);
    return 0;
}

static const char *find_header(const tk_http_header_t *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (h[i].name && !strcasecmp(h[i].name, name))
            return h[i].value ? h[i].value : "";
    return NULL;
}

/* Parses "YYYYMMDDTHHMMSSZ" into ms. 0 or TK_EINVAL. */
static int parse_amz_date(const char *s, int64_t *ms)
{
    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return TK_EINVAL;
    for (int i = 0; i < 15; i++)
        if (i != 8 && (s[i] < '0' || s[i] > '9'))
            return TK_EINVAL;
    int v[6];
    static const int off[6] = {0, 4, 6, 9, 11, 13}, len[6] = {4, 2, 2, 2, 2, 2};
    for (int i = 0; i < 6; i++) {
        v[i] = 0;
        for (int j = 0; j < len[i]; j++)
            v[i] = v[i] * 10 + (s[off[i] + j] - '0');
    }
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
        return TK_EINVAL;
    *ms = (tk_days_from_civil(v[0], (unsigned)v[1], (unsigned)v[2]) * 86400LL + v[3] * 3600LL +
           v[4] * 60LL + v[5]) * 1000LL;
    return 0;
}

/* Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
 * SignedHeaders=a;b;c, Signature=hex */
typedef struct {
    char key_id[64], date[16], region[64], service[64];
    char signed_headers[1024];
    char signature[80];
} sigv4_auth_t;

static int copy_field(char *dst, size_t cap, const char *s, size_t n)
{
    if (n == 0 || n >= cap)
        return TK_EINVAL;
    memcpy(dst, s, n);
    dst[n] = 0;
    return 0;
}

static int parse_authorization(const char *a, sigv4_auth_t *out, char *err)
{
    memset(out, 0, sizeof *out);
    while (*a == ' ')
        a++;
    size_t al = strlen(SIGV4_ALGO);
    if (strncmp(a, SIGV4_ALGO, al) || (a[al] != ' ' && a[al] != '\t'))
        return tk_errf(err, TK_EAUTH, "Authorization is not AWS4-HMAC-SHA256");
    const char *p = a + al;
    int have = 0;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, ',');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        while (l && (p[l - 1] == ' ' || p[l - 1] == '\t'))
            l--;
        const char *eq = memchr(p, '=', l);
        if (!eq)
            return tk_errf(err, TK_EAUTH, "malformed SigV4 Authorization component");
        size_t nl = (size_t)(eq - p), vl = l - nl - 1;
        const char *v = eq + 1;
        if (nl == 10 && !strncmp(p, "Credential", 10)) {
            /* KEYID/DATE/REGION/SERVICE/aws4_request */
            const char *parts[5];
            size_t lens[5];
            int np = 0;
            const char *q = v, *qe = v + vl;
            while (np < 5 && q <= qe) {
                const char *s = memchr(q, '/', (size_t)(qe - q));
                if (!s)
                    s = qe;
                parts[np] = q;
                lens[np++] = (size_t)(s - q);
                q = s + 1;
            }
            if (np != 5 || q <= qe || lens[4] != 12 || strncmp(parts[4], "aws4_request", 12) ||
                copy_field(out->key_id, sizeof out->key_id, parts[0], lens[0]) ||
                copy_field(out->date, sizeof out->date, parts[1], lens[1]) ||
                copy_field(out->region, sizeof out->region, parts[2], lens[2]) ||
                copy_field(out->service, sizeof out->service, parts[3], lens[3]))
                return tk_errf(err, TK_EAUTH,
                               "malformed Credential: expected KEYID/YYYYMMDD/REGION/SERVICE/"
                               "aws4_request");
            have |= 1;
        } else if (nl == 13 && !strncmp(p, "SignedHeaders", 13)) {
            if (copy_field(out->signed_headers, sizeof out->signed_headers, v, vl))
                return tk_errf(err, TK_EAUTH, "malformed or overlong SignedHeaders");
            have |= 2;
        } else if (nl == 9 && !strncmp(p, "Signature", 9)) {
            if (copy_field(out->signature, sizeof out->signature, v, vl))
                return tk_errf(err, TK_EAUTH, "malformed Signature");
            have |= 4;
        }
        p += l;
        while (*p && *p != ',')
            p++;
    }
    if (have != 7)
        return tk_errf(err, TK_EAUTH,
                       "SigV4 Authorization needs Credential, SignedHeaders and Signature");
    return 0;
}

/* 1 when name is in the ';'-separated list. */
static int list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ';');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        if (l == n && !strncasecmp(p, name, n))
            return 1;
        p += l + (end ? 1 : 0);
    }
    return 0;
}

int tk_auth_sigv4(tk_meta_t *m, const char *method, const char *path, const char *query,
                  const tk_http_header_t *headers, size_t nheaders, const void *body,
                  size_t body_len, int64_t now_ms, tk_principal_t *out, char *err)
{
    const char *authz = find_header(headers, nheaders, "authorization");
    if (!authz)
        return tk_errf(err, TK_EAUTH, "no Authorization header: sign the request with SigV4");
    sigv4_auth_t a;
    int rc = parse_authorization(authz, &a, err);
    if (rc)
        return rc;
    for (const char *s = a.signed_headers; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            return tk_errf(err, TK_EAUTH, "SignedHeaders must be lower-case");
    if (!list_has(a.signed_headers, "host") || !list_has(a.signed_headers, "x-amz-date"))
        return tk_errf(err, TK_EAUTH, "SignedHeaders must include host and x-amz-date");
    /* Every x-amz-* header (X-Amz-Target selects the action) must be covered
     * by the signature, or it could be changed in transit. */
    for (size_t i = 0; i < nheaders; i++)
        if (headers[i].name && !strncasecmp(headers[i].name, "x-amz-", 6) &&
            !list_has(a.signed_headers, headers[i].name))
            return tk_errf(err, TK_EAUTH, "header %.64s is not signed: sign every x-amz-* header",
                           headers[i].name);
    const char *amz_date = find_header(headers, nheaders, "x-amz-date");
    int64_t t;
    if (!amz_date || parse_amz_date(amz_date, &t))
        return tk_errf(err, TK_EAUTH, "missing or malformed X-Amz-Date (want 20261124T103000Z)");
    if (strncmp(a.date, amz_date, 8) || strlen(a.date) != 8)
        return tk_errf(err, TK_EAUTH, "Credential date %s does not match X-Amz-Date %.16s",
                       a.date, amz_date);
    int64_t skew = now_ms - t;
    if (skew > SIGV4_MAX_SKEW_MS || skew < -SIGV4_MAX_SKEW_MS)
        return tk_errf(err, TK_EAUTH,
                       "request time %.16s is %lld s away from the server's clock (at most 900 s "
                       "allowed): sync the client clock and sign again",
                       amz_date, (long long)((skew < 0 ? -skew : skew) / 1000));
    char body_hex[65];
    uint8_t h[32];
    tk_sha256(body ? body : "", body ? body_len : 0, h);
    tk_hex(h, 32, body_hex);
    const char *declared = find_header(headers, nheaders, "x-amz-content-sha256");
    if (declared) {
        if (!strcmp(declared, "UNSIGNED-PAYLOAD") || strncmp(declared, "STREAMING-", 10) == 0)
            return tk_errf(err, TK_EAUTH,
                           "x-amz-content-sha256 %.40s is not accepted: sign the payload", declared);
        if (strlen(declared) != 64 || strcasecmp(declared, body_hex))
            return tk_errf(err, TK_EAUTH, "x-amz-content-sha256 does not match the body");
    }
    tk_key_t k;
    char secret[TK_SECRET_LEN + 1], want[65];
    if ((rc = tk_meta_key_secret(m, a.key_id, &k, secret, err)))
        return rc;
    rc = tk_sigv4_sign(secret, method, path, query, headers, nheaders, a.signed_headers,
                       declared ? declared : body_hex, amz_date, a.region, a.service, want, err);
    memset(secret, 0, sizeof secret);
    if (rc)
        return rc; /* TK_EAUTH (a signed header is missing) or TK_ENOMEM */
    if (strlen(a.signature) != 64 || !tk_ct_equal(want, a.signature, 64))
        return tk_errf(err, TK_EAUTH,
                       "signature does not match for key %s: check the secret access key and "
                       "that the client signs the request as sent",
                       a.key_id);
    tk_meta_key_touch(m, a.key_id, tk_now_ms());
    tk_auth_principal_from_key(m, &k, out);
    return 0;
}

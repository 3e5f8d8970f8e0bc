/* trailkeep's small S3 client (s3_client.h): requests signed with SigV4 by
 * libcurl (CURLOPT_AWS_SIGV4). libcurl 7.88 does not send
 * x-amz-content-sha256, which S3 requires, so it is added here (the SHA-256
 * of the body) and libcurl signs it with the other headers. "Expect:" must
 * not be used to suppress 100-continue: libcurl would still list an empty
 * expect header as signed (tests/trail/sigv4.sh caught it). Keys and query
 * values are URI-encoded here and the query is built already sorted, so the
 * URL libcurl signs is the canonical form whatever its own normalisation.
 * Endpoints are tenant-configured: every request runs under the egress
 * policy (base/egress.h). Listings are parsed by expat, DOCTYPE refused. */
#include "trail/s3_client.h"

#include "base/buf.h"
#include "base/egress.h"
#include "base/fs.h"
#include "base/hash.h"
#include "base/tk.h"

#include <curl/curl.h>
#include <expat.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ERRDOC_MAX 4096

struct tk_s3 {
    char *endpoint, *region, *bucket, *user_pwd, *token_hdr;
    int path_style, list_max_keys, allow_private;
    long timeout_s;
    int (*should_abort)(void *ud);
    void *abort_ud;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static void wipe_free(char *p)
{
    if (p) {
        memset(p, 0, strlen(p));
        free(p);
    }
}

void tk_s3_close(tk_s3_t *s)
{
    if (!s)
        return;
    free(s->endpoint);
    free(s->region);
    free(s->bucket);
    wipe_free(s->user_pwd);
    wipe_free(s->token_hdr);
    free(s);
}

int tk_s3_open(const tk_s3_config_t *c, tk_s3_t **out, char *err)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init_once);
    const char *ep = c->endpoint, *ak = c->access_key_id, *sk = c->secret_access_key;
    if (!c->bucket || !*c->bucket)
        return tk_errf(err, TK_EINVAL, "s3 needs a bucket name");
    if (strchr(c->bucket, '/') || strchr(c->bucket, '?') || strchr(c->bucket, '#'))
        return tk_errf(err, TK_EINVAL, "s3 bucket name '%s' must not contain '/', '?' or '#'",
                       c->bucket);
    int rc = tk_egress_check_url("s3 endpoint", ep, c->allow_private, err);
    if (rc)
        return rc;
    if (!ak || !*ak || !sk || !*sk)
        return tk_errf(err, TK_EINVAL,
                       "s3 has no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    if (strchr(ak, ':'))
        return tk_errf(err, TK_EINVAL, "s3 access key id must not contain ':'");
    const char *tok = c->session_token;
    if (tok && (strchr(tok, '\r') || strchr(tok, '\n')))
        return tk_errf(err, TK_EINVAL, "AWS_SESSION_TOKEN must be one line");
    tk_s3_t *s = calloc(1, sizeof *s);
    if (!s)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    size_t ul = strlen(ak) + strlen(sk) + 2;
    s->endpoint = strdup(ep);
    s->region = strdup(c->region && *c->region ? c->region : "us-east-1");
    s->bucket = strdup(c->bucket);
    s->user_pwd = malloc(ul);
    s->path_style = c->path_style;
    s->allow_private = c->allow_private;
    s->list_max_keys = c->list_max_keys > 0 ? c->list_max_keys : 0;
    s->timeout_s = c->timeout_s > 0 ? c->timeout_s : 60;
    s->should_abort = c->should_abort;
    s->abort_ud = c->abort_ud;
    int nomem = !s->endpoint || !s->region || !s->bucket || !s->user_pwd;
    if (!nomem && tok && *tok) {
        size_t tl = strlen(tok) + 32;
        if ((s->token_hdr = malloc(tl)))
            snprintf(s->token_hdr, tl, "x-amz-security-token: %s", tok);
        else
            nomem = 1;
    }
    if (nomem) {
        tk_s3_close(s);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    snprintf(s->user_pwd, ul, "%s:%s", ak, sk);
    size_t el = strlen(s->endpoint);
    while (el > 8 && s->endpoint[el - 1] == '/')
        s->endpoint[--el] = 0;
    *out = s;
    return 0;
}

int tk_s3_uri_encode(tk_buf_t *out, const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
        unsigned char ch = *p;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~' || (keep_slash && ch == '/')) {
            rc = tk_buf_putc(out, (char)ch);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            rc = tk_buf_append(out, e, 3);
        }
    }
    return rc;
}

/* ---- one request --------------------------------------------------------------------- */

typedef struct xfer {
    CURL *c;
    tk_s3_t *s;
    int fd;             /* >= 0: a 2xx body goes there */
    tk_buf_t body;      /* the body otherwise (a list, or an error document) */
    size_t body_max;
    uint64_t bytes;
    int checked, ok2xx, write_failed, too_big;
} xfer_t;

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    xfer_t *x = ud;
    size_t len = sz * n;
    if (!x->checked) {
        long st = 0;
        curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &st);
        x->ok2xx = st >= 200 && st <= 299;
        x->checked = 1;
    }
    if (x->fd >= 0 && x->ok2xx) {
        if (tk_fs_write_full(x->fd, p, len)) {
            x->write_failed = 1;
            return 0;
        }
        x->bytes += len;
        return len;
    }
    size_t max = x->ok2xx ? x->body_max : ERRDOC_MAX;
    if (x->body.len + len > max) {
        if (x->ok2xx) {
            x->too_big = 1;
            return 0;
        }
        len = max - x->body.len; /* an error document: its start is enough */
        if (len)
            tk_buf_append(&x->body, p, len);
        return sz * n;
    }
    if (tk_buf_append(&x->body, p, len))
        return 0;
    x->bytes += len;
    return len;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    xfer_t *x = ud;
    return x->s->should_abort && x->s->should_abort(x->s->abort_ud) ? 1 : 0;
}

/* The text of the first <tag>...</tag> in an error document, or "". */
static void doc_field(const char *doc, const char *tag, char *out, size_t cap)
{
    char open[32], close[32];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = doc ? strstr(doc, open) : NULL, *b;
    out[0] = 0;
    if (a && (b = strstr(a += strlen(open), close)))
        snprintf(out, cap, "%.*s", (int)(b - a), a);
}

/* Runs METHOD on object key (NULL: the bucket itself) with query (already
 * canonical, or NULL). 2xx bodies go to fd (>= 0) or resp. */
static int request(tk_s3_t *s, const char *method, const char *key, const char *query,
                   const void *body, size_t blen, int fd, tk_buf_t *resp, size_t resp_max,
                   uint64_t *bytes, char *err)
{
    tk_buf_t url = TK_BUF_INIT;
    const char *scheme_end = strstr(s->endpoint, "://") + 3;
    if (s->path_style)
        tk_buf_printf(&url, "%s/%s", s->endpoint, s->bucket);
    else
        tk_buf_printf(&url, "%.*s%s.%s", (int)(scheme_end - s->endpoint), s->endpoint,
                      s->bucket, scheme_end);
    if (key) {
        tk_buf_putc(&url, '/');
        tk_s3_uri_encode(&url, key, 1);
    } else if (!s->path_style) {
        tk_buf_putc(&url, '/');
    }
    if (query)
        tk_buf_printf(&url, "?%s", query);
    if (!url.p) {
        tk_buf_free(&url);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    /* What messages name: s3://bucket/key, never the signed URL's secrets
     * (there are none in it, but the endpoint may be long). */
    char what[600];
    snprintf(what, sizeof what, "%s s3://%s/%.400s", method, s->bucket, key ? key : "");

    char sigv4[128], hdr_sha[128], hash_hex[65];
    if (body && blen) {
        uint8_t h[32];
        tk_sha256(body, blen, h);
        tk_hex(h, 32, hash_hex);
    } else {
        snprintf(hash_hex, sizeof hash_hex, "%s", EMPTY_SHA256);
    }
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", s->region);
    snprintf(hdr_sha, sizeof hdr_sha, "x-amz-content-sha256: %s", hash_hex);

    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL, *t;
    int put = !strcmp(method, "PUT"), nomem = !c;
    if (!nomem && (!(t = curl_slist_append(hl, hdr_sha)) || !(hl = t)))
        nomem = 1;
    if (!nomem && put &&
        (!(t = curl_slist_append(hl, "Content-Type: application/octet-stream")) || !(hl = t)))
        nomem = 1;
    if (!nomem && s->token_hdr && (!(t = curl_slist_append(hl, s->token_hdr)) || !(hl = t)))
        nomem = 1;
    if (nomem) {
        curl_slist_free_all(hl);
        if (c)
            curl_easy_cleanup(c);
        tk_buf_free(&url);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    xfer_t x = {.c = c, .s = s, .fd = fd, .body = TK_BUF_INIT, .body_max = resp_max};
    char cerr[CURL_ERROR_SIZE] = "";
    /* The endpoint is tenant-configured: http/https only, no redirect, no
     * proxy, and every resolved address judged just before connect. */
    tk_egress_guard_t guard;
    if (tk_egress_curl(c, &guard, s->allow_private)) {
        curl_slist_free_all(hl);
        curl_easy_cleanup(c);
        tk_buf_free(&url);
        return tk_errf(err, TK_EUNSUPPORTED, "libcurl lacks the options the egress policy needs");
    }
    curl_easy_setopt(c, CURLOPT_URL, url.p);
    if (put) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(c, CURLOPT_USERPWD, s->user_pwd);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, s->timeout_s);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    if (s->should_abort) {
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    int rc = 0;
    if (cc == CURLE_ABORTED_BY_CALLBACK) {
        rc = tk_errf(err, TK_ECLOSED, "%s: interrupted", what);
    } else if (x.write_failed) {
        rc = tk_errf(err, TK_EIO, "%s: cannot write the object to disk (disk full?)", what);
    } else if (x.too_big) {
        rc = tk_errf(err, TK_ETOOBIG, "%s: the answer is over %zu bytes (the limit for a listing "
                     "page): refused", what, resp_max);
    } else if (cc != CURLE_OK && guard.refused) {
        rc = tk_errf(err, TK_EPERM, "%s: %s", what, guard.msg);
    } else if (cc != CURLE_OK) {
        rc = tk_errf(err, TK_EIO, "%s: %s (is the endpoint %s right and reachable?)", what,
                     cerr[0] ? cerr : curl_easy_strerror(cc), s->endpoint);
    } else if (status < 200 || status > 299) {
        char code[64], msg[160];
        doc_field(x.body.p, "Code", code, sizeof code);
        doc_field(x.body.p, "Message", msg, sizeof msg);
        int e = status == 404 ? TK_ENOTFOUND
                : status == 403 || status == 401 ? TK_EAUTH : TK_EIO;
        if (code[0])
            rc = tk_errf(err, e, "%s: HTTP %ld %s%s%s", what, status, code, msg[0] ? ": " : "",
                         msg);
        else
            rc = tk_errf(err, e, "%s: HTTP %ld %.160s", what, status, x.body.p ? x.body.p : "");
    }
    if (!rc && resp && fd < 0) {
        *resp = x.body;
        x.body = (tk_buf_t)TK_BUF_INIT;
    }
    if (bytes)
        *bytes = x.bytes;
    tk_buf_free(&x.body);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    tk_buf_free(&url);
    return rc;
}

int tk_s3_put(tk_s3_t *s, const char *key, const void *data, size_t len, char *err)
{
    return request(s, "PUT", key, NULL, data, len, -1, NULL, ERRDOC_MAX, NULL, err);
}

int tk_s3_get(tk_s3_t *s, const char *key, int fd, uint64_t *bytes, char *err)
{
    if (fd < 0)
        return tk_errf(err, TK_EINVAL, "tk_s3_get needs a file descriptor");
    return request(s, "GET", key, NULL, NULL, 0, fd, NULL, 0, bytes, err);
}

int tk_s3_list(tk_s3_t *s, const char *prefix, const char *token, tk_s3_list_page_t *page,
               char *err)
{
    memset(page, 0, sizeof *page);
    /* Parameters in byte order, values encoded: the canonical query. */
    tk_buf_t q = TK_BUF_INIT, body = TK_BUF_INIT;
    if (token) {
        tk_buf_puts(&q, "continuation-token=");
        tk_s3_uri_encode(&q, token, 0);
        tk_buf_putc(&q, '&');
    }
    tk_buf_puts(&q, "list-type=2&");
    if (s->list_max_keys)
        tk_buf_printf(&q, "max-keys=%d&", s->list_max_keys);
    tk_buf_puts(&q, "prefix=");
    tk_s3_uri_encode(&q, prefix ? prefix : "", 0);
    if (!q.p) {
        tk_buf_free(&q);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    int rc = request(s, "GET", NULL, q.p, NULL, 0, -1, &body, TK_S3_LIST_MAX_BYTES, NULL, err);
    if (!rc) {
        char e2[TK_ERRLEN];
        rc = tk_s3_list_parse(body.p ? body.p : "", body.len, page, e2);
        if (rc)
            tk_errf(err, rc, "ListObjectsV2 s3://%s/%s: %s", s->bucket, prefix ? prefix : "", e2);
    }
    tk_buf_free(&q);
    tk_buf_free(&body);
    return rc;
}

/* ---- ListObjectsV2 XML ----------------------------------------------------------------- */

void tk_s3_list_page_free(tk_s3_list_page_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nkeys; i++)
        free(p->keys[i]);
    free(p->keys);
    free(p->next_token);
    memset(p, 0, sizeof *p);
}

/* ListObjectsV2 is parsed by expat, strictly: a DOCTYPE (and so any entity
 * declaration: billion laughs, external entities) stops the parse at once;
 * only XML's five entities and character references are decoded; the
 * document is parsed as final, so anything truncated is an error. */
#define XML_DEPTH 16
#define XML_NAME 64

typedef struct xstate {
    XML_Parser xp;
    char stack[XML_DEPTH][XML_NAME];
    int depth, is_error, root_seen;
    tk_buf_t text;
    char code[64], msg[256];
    tk_s3_list_page_t *page;
    int rc;               /* our own refusal (stops the parser), 0 = none */
    char err[TK_ERRLEN];
} xstate_t;

static void x_fail(xstate_t *x, int rc, const char *msg)
{
    if (!x->rc) {
        x->rc = rc;
        snprintf(x->err, sizeof x->err, "%s", msg);
    }
    XML_StopParser(x->xp, XML_FALSE);
}

/* The element at the top of the stack closes with the text collected. */
static int on_close(xstate_t *x, tk_s3_list_page_t *page, char *err)
{
    const char *n = x->stack[x->depth - 1];
    const char *txt = x->text.p ? x->text.p : "";
    if (x->is_error) {
        if (x->depth == 2 && !strcmp(n, "Code"))
            snprintf(x->code, sizeof x->code, "%s", txt);
        else if (x->depth == 2 && !strcmp(n, "Message"))
            snprintf(x->msg, sizeof x->msg, "%s", txt);
        return 0;
    }
    if (x->depth == 3 && !strcmp(n, "Key") && !strcmp(x->stack[1], "Contents")) {
        char **nk = realloc(page->keys, (page->nkeys + 1) * sizeof *nk);
        if (!nk)
            return tk_errf(err, TK_ENOMEM, "out of memory");
        page->keys = nk;
        if (!(nk[page->nkeys] = strdup(txt)))
            return tk_errf(err, TK_ENOMEM, "out of memory");
        page->nkeys++;
    } else if (x->depth == 2 && !strcmp(n, "IsTruncated")) {
        if (strcmp(txt, "true") && strcmp(txt, "false"))
            return tk_errf(err, TK_ECORRUPT, "IsTruncated is '%.40s', not true or false", txt);
        page->truncated = !strcmp(txt, "true");
    } else if (x->depth == 2 && !strcmp(n, "NextContinuationToken")) {
        free(page->next_token);
        if (!(page->next_token = strdup(txt)))
            return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    return 0;
}

/* "s3:Key" and "Key" are the same element: namespaces are not checked. */
static const char *local_name(const XML_Char *name)
{
    const char *colon = strrchr(name, ':');
    return colon ? colon + 1 : name;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    (void)atts;
    xstate_t *x = ud;
    const char *ln = local_name(name);
    if (!*ln || strlen(ln) >= XML_NAME) {
        x_fail(x, TK_ECORRUPT, "an element name is empty or too long");
        return;
    }
    if (x->depth == XML_DEPTH) {
        x_fail(x, TK_ECORRUPT, "elements nested too deeply");
        return;
    }
    snprintf(x->stack[x->depth], XML_NAME, "%s", ln);
    if (x->depth == 0) {
        x->root_seen = 1;
        if (!strcmp(ln, "Error")) {
            x->is_error = 1;
        } else if (strcmp(ln, "ListBucketResult")) {
            char m[TK_ERRLEN];
            snprintf(m, sizeof m, "<%s> is not a ListBucketResult", ln);
            x_fail(x, TK_ECORRUPT, m);
            return;
        }
    }
    x->depth++;
    tk_buf_reset(&x->text);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    (void)name; /* expat checked that it matches the open element */
    xstate_t *x = ud;
    /* After XML_StopParser expat still reports the end of an empty element
     * whose start was refused ("<a/>"): it was never pushed. */
    if (x->rc || x->depth <= 0)
        return;
    char e[TK_ERRLEN];
    int rc = on_close(x, x->page, e);
    if (rc) {
        x_fail(x, rc, e);
        return;
    }
    x->depth--;
    tk_buf_reset(&x->text);
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    xstate_t *x = ud;
    if (!x->rc && x->depth > 0 && tk_buf_append(&x->text, s, (size_t)len))
        x_fail(x, TK_ENOMEM, "out of memory");
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    x_fail(ud, TK_ECORRUPT, "DOCTYPE and other declarations are not accepted");
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_len, const XML_Char *base,
                                   const XML_Char *sysid, const XML_Char *pubid,
                                   const XML_Char *notation)
{
    (void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)sysid;
    (void)pubid, (void)notation;
    x_fail(ud, TK_ECORRUPT, "entity declarations (DOCTYPE) are not accepted");
}

/* The message of an expat error, with at most 16 bytes of the input at the
 * error position (never past len; control bytes shown as '?'). */
static int xml_error(const xstate_t *x, const char *xml, size_t len, char *err)
{
    enum XML_Error e = XML_GetErrorCode(x->xp);
    XML_Index at = XML_GetCurrentByteIndex(x->xp);
    size_t pos = at < 0 ? len : (size_t)at > len ? len : (size_t)at;
    const char *what = XML_ErrorString(e);
    char buf[96];
    /* expat points inside a bad reference ("&#X41;" at the X): show it whole. */
    for (size_t back = 0; e == XML_ERROR_INVALID_TOKEN && back < 3 && back < pos; back++)
        if (xml[pos - back - 1] == '&') {
            pos -= back + 1;
            break;
        }
    if (e == XML_ERROR_UNDEFINED_ENTITY || e == XML_ERROR_BAD_CHAR_REF ||
        (pos < len && xml[pos] == '&')) {
        what = "unknown or invalid entity or character reference";
    } else if (e == XML_ERROR_TAG_MISMATCH) {
        what = "a closing tag does not close the open element";
    } else if (e == XML_ERROR_JUNK_AFTER_DOC_ELEMENT) {
        what = "content after the document element";
    } else if (x->depth == 0 && !x->root_seen &&
               (e == XML_ERROR_INVALID_TOKEN || e == XML_ERROR_SYNTAX)) {
        what = "text or markup outside the document element";
    } else if (e == XML_ERROR_NO_ELEMENTS || e == XML_ERROR_UNCLOSED_TOKEN ||
               e == XML_ERROR_PARTIAL_CHAR || e == XML_ERROR_UNCLOSED_CDATA_SECTION) {
        snprintf(buf, sizeof buf, "truncated XML (%s)", XML_ErrorString(e));
        what = buf;
    }
    char near[17];
    size_t k = 0;
    for (; k < 16 && pos + k < len; k++) {
        unsigned char ch = (unsigned char)xml[pos + k];
        near[k] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    near[k] = 0;
    return tk_errf(err, TK_ECORRUPT, "%s (XML error at byte %zu%s%s%s)", what, pos,
                   k ? " near '" : "", near, k ? "'" : "");
}

int tk_s3_list_parse(const char *xml, size_t len, tk_s3_list_page_t *page, char *err)
{
    memset(page, 0, sizeof *page);
    if (len > TK_S3_LIST_MAX_BYTES)
        return tk_errf(err, TK_ETOOBIG, "a listing of %zu bytes is over the limit of %u bytes", len,
                       (unsigned)TK_S3_LIST_MAX_BYTES);
    xstate_t *x = calloc(1, sizeof *x);
    if (!x || !(x->xp = XML_ParserCreate("UTF-8"))) {
        free(x);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    x->text = (tk_buf_t)TK_BUF_INIT;
    x->page = page;
    XML_SetUserData(x->xp, x);
    XML_SetElementHandler(x->xp, on_start, on_end);
    XML_SetCharacterDataHandler(x->xp, on_text);
    XML_SetStartDoctypeDeclHandler(x->xp, on_doctype);
    XML_SetEntityDeclHandler(x->xp, on_entity_decl);
    XML_SetParamEntityParsing(x->xp, XML_PARAM_ENTITY_PARSING_NEVER);
    int rc = 0;
    if (XML_Parse(x->xp, xml ? xml : "", (int)len, XML_TRUE) != XML_STATUS_OK)
        rc = x->rc ? tk_errf(err, x->rc, "%s", x->err) : xml_error(x, xml, len, err);
    if (!rc && x->is_error)
        rc = tk_errf(err, TK_EIO, "S3 error %s%s%s", x->code[0] ? x->code : "(no code)",
                     x->msg[0] ? ": " : "", x->msg);
    if (!rc && page->truncated && (!page->next_token || !*page->next_token))
        rc = tk_errf(err, TK_ECORRUPT, "IsTruncated is true but there is no NextContinuationToken");
    XML_ParserFree(x->xp);
    tk_buf_free(&x->text);
    free(x);
    if (rc)
        tk_s3_list_page_free(page);
    return rc;
}

int tk_s3_key_is_safe(const char *key)
{
    if (!key || !*key || *key == '/')
        return 0;
    const char *comp = key;
    for (const char *p = key;; p++) {
        if (*p && ((unsigned char)*p < 0x20 || *p == 0x7f))
            return 0;
        if (*p == '/' || !*p) {
            size_t n = (size_t)(p - comp);
            if (n == 0 || (n == 1 && comp[0] == '.') || (n == 2 && comp[0] == '.' && comp[1] == '.'))
                return 0;
            if (!*p)
                return 1;
            comp = p + 1;
        }
    }
}

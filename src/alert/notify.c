/* trailkeep notification channels (notify.h): webhook and email through
 * libcurl. Bodies are built from the alert JSON the outbox row carries, so a
 * retry days later sends exactly what was decided when the alert fired. */
#include "alert/notify.h"

#include "base/buf.h"
#include "base/egress.h"
#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void tk_webhook_sign(const char *secret, const char *body, size_t n, char out[65])
{
    uint8_t mac[32];
    tk_hmac_sha256(secret ? secret : "", secret ? strlen(secret) : 0, body, n, mac);
    tk_hex(mac, 32, out);
}

/* Appends s with control characters as spaces: a title comes from event
 * fields and must not break a mail header (CR LF) or a chat line. */
static int put_one_line(tk_buf_t *b, const char *s)
{
    int rc = 0;
    for (; *s && !rc; s++)
        rc = tk_buf_putc(b, (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
    return rc;
}

/* One human line: "[HIGH] consecutive-logon-failures fired for 123 (alice): 5 events",
 * or ": <title>" when the rule renders one (Insights: type, object, rates);
 * with_summary appends the rule's summary on the next line (chat bodies). */
static char *summary_line(const char *kind, const cJSON *j, int with_summary)
{
    const char *title = cJSON_GetStringValue(cJSON_GetObjectItem(j, "title"));
    const char *sum = cJSON_GetStringValue(cJSON_GetObjectItem(j, "summary"));
    const char *sev = cJSON_GetStringValue(cJSON_GetObjectItem(j, "severity"));
    const char *rule = cJSON_GetStringValue(cJSON_GetObjectItem(j, "rule"));
    const char *acct = cJSON_GetStringValue(cJSON_GetObjectItem(j, "account"));
    const char *grp = cJSON_GetStringValue(cJSON_GetObjectItem(j, "group_key"));
    double cnt = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "count"));
    tk_buf_t b = TK_BUF_INIT;
    char up[16];
    snprintf(up, sizeof up, "%s", sev ? sev : "medium");
    for (char *p = up; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 32);
    int rc = tk_buf_printf(&b, "[%s] trailkeep alert %s %s in account %s", up, rule ? rule : "?",
                           !strcmp(kind, "recovery") ? "cleared" : !strcmp(kind, "repeat") ? "still firing"
                           : !strcmp(kind, "test") ? "test (no alert)" : "fired",
                           acct ? acct : "?");
    if (grp && *grp) {
        rc |= tk_buf_puts(&b, " (");
        rc |= put_one_line(&b, grp); /* group values come from events too */
        rc |= tk_buf_putc(&b, ')');
    }
    rc |= tk_buf_puts(&b, ": ");
    if (title && *title)
        rc |= put_one_line(&b, title);
    else
        rc |= tk_buf_printf(&b, "%.0f event(s)", cnt == cnt ? cnt : 0);
    if (with_summary && sum && *sum)
        rc |= tk_buf_printf(&b, "\n%s", sum);
    if (rc) {
        tk_buf_free(&b);
        return NULL;
    }
    return tk_buf_steal(&b);
}

char *tk_webhook_body(const char *shape, const char *kind, const char *payload)
{
    cJSON *j = cJSON_Parse(payload);
    if (!j)
        return NULL;
    char *out = NULL;
    if (!shape || !*shape || !strcmp(shape, "generic")) {
        cJSON_AddStringToObject(j, "notification", kind);
        out = cJSON_PrintUnformatted(j);
    } else {
        char *line = summary_line(kind, j, 1);
        cJSON *o = cJSON_CreateObject();
        if (line && o) {
            if (!strcmp(shape, "dingtalk")) {
                /* DingTalk custom robot: msgtype text. */
                cJSON_AddStringToObject(o, "msgtype", "text");
                cJSON *t = cJSON_AddObjectToObject(o, "text");
                if (t)
                    cJSON_AddStringToObject(t, "content", line);
            } else {
                /* Slack incoming webhook: text plus the alert as a field block. */
                cJSON_AddStringToObject(o, "text", line);
            }
            out = cJSON_PrintUnformatted(o);
        }
        cJSON_Delete(o);
        free(line);
    }
    cJSON_Delete(j);
    return out;
}

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return sz * n;
}

static int wh_applies(const tk_alert_user_t *u)
{
    return u->webhook_url[0] != 0;
}

static int wh_send(const tk_notify_cfg_t *cfg, const tk_alert_user_t *u, const char *kind,
                   const char *payload, char *err)
{
    char *body = tk_webhook_body(u->webhook_shape, kind, payload);
    if (!body)
        return tk_errf(err, TK_EINVAL, "webhook: the alert payload is not JSON");
    char sig[65], hdr[128];
    size_t n = strlen(body);
    tk_webhook_sign(u->webhook_secret, body, n, sig);
    snprintf(hdr, sizeof hdr, "X-Trailkeep-Signature: %s", sig);
    /* The URL is tenant input: re-checked here (a row may predate the
     * policy), then every resolved address is judged at connect time. */
    int allow = tk_egress_allow_private();
    int rc = tk_egress_check_url("webhook", u->webhook_url, allow, err);
    if (rc) {
        free(body);
        return rc;
    }
    CURL *c = curl_easy_init();
    tk_egress_guard_t guard;
    if (!c || tk_egress_curl(c, &guard, allow)) {
        free(body);
        if (c)
            curl_easy_cleanup(c);
        return tk_errf(err, TK_ENOMEM, "webhook: cannot set up libcurl");
    }
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, hdr);
    char kh[64];
    snprintf(kh, sizeof kh, "X-Trailkeep-Notification: %s", kind);
    h = curl_slist_append(h, kh);
    curl_easy_setopt(c, CURLOPT_URL, u->webhook_url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)n);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)(cfg && cfg->timeout_s > 0 ? cfg->timeout_s : 10));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "trailkeep-alerts/1");
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(body);
    if (cc != CURLE_OK && guard.refused)
        return tk_errf(err, TK_EIO, "webhook POST %.80s: %s", u->webhook_url, guard.msg);
    if (cc != CURLE_OK)
        return tk_errf(err, TK_EIO, "webhook POST %.200s: %s", u->webhook_url, curl_easy_strerror(cc));
    if (status < 200 || status > 299)
        return tk_errf(err, TK_EIO, "webhook POST %.200s: HTTP %ld", u->webhook_url, status);
    return 0;
}

const tk_channel_t tk_channel_webhook = {"webhook", wh_applies, wh_send};

/* ---------------------------------------------------------------- email */

static int em_applies(const tk_alert_user_t *u)
{
    return u->email[0] != 0;
}

typedef struct rd {
    const char *p;
    size_t left;
} rd_t;

static size_t reader(char *out, size_t sz, size_t nm, void *ud)
{
    rd_t *r = ud;
    size_t n = sz * nm < r->left ? sz * nm : r->left;
    memcpy(out, r->p, n);
    r->p += n;
    r->left -= n;
    return n;
}

static int is_atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

int tk_email_check(const char *what, const char *addr, char *err)
{
    size_t n = addr ? strlen(addr) : 0;
    if (!n)
        return tk_errf(err, TK_EINVAL, "%s is empty: give an address like ops@example.com", what);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)addr[i];
        if (c < 0x21 || c > 0x7e)
            return tk_errf(err, TK_EINVAL,
                           "%s has %s at byte %zu: an address is printable ASCII without blanks",
                           what, c == '\r' || c == '\n' ? "a line break" : c == ' ' ? "a blank" :
                           c >= 0x80 ? "a non-ASCII byte" : "a control character", i + 1);
    }
    if (n > 254)
        return tk_errf(err, TK_EINVAL, "%s is %zu bytes long: at most 254 (RFC 5321)", what, n);
    const char *at = strrchr(addr, '@');
    if (!at)
        return tk_errf(err, TK_EINVAL, "%s '%.100s' has no '@'", what, addr);
    size_t ln = (size_t)(at - addr);
    if (!ln || ln > 64)
        return tk_errf(err, TK_EINVAL, "%s '%.100s': the part before '@' must be 1-64 bytes", what,
                       addr);
    if (addr[0] == '"')
        return tk_errf(err, TK_EINVAL, "%s '%.100s': quoted local parts are not supported", what,
                       addr);
    for (size_t i = 0; i < ln; i++) {
        char c = addr[i];
        if (c == '.' ? (i == 0 || i + 1 == ln || addr[i + 1] == '.') : !is_atext((unsigned char)c))
            return tk_errf(err, TK_EINVAL,
                           "%s '%.100s': '%c' at byte %zu is not allowed before '@' (letters, "
                           "digits, !#$%%&'*+-/=?^_`{|}~ and single dots inside)",
                           what, addr, c, i + 1);
    }
    const char *d = at + 1;
    size_t dn = strlen(d);
    if (!dn)
        return tk_errf(err, TK_EINVAL, "%s '%.100s' has no domain after '@'", what, addr);
    if (d[0] == '[') { /* address literal: [192.0.2.1] or [IPv6:...] */
        if (dn < 3 || d[dn - 1] != ']' || strspn(d + 1, "0123456789abcdefABCDEF:.IPv") != dn - 2)
            return tk_errf(err, TK_EINVAL, "%s '%.100s': the address literal is malformed", what,
                           addr);
        return 0;
    }
    size_t label = 0;
    for (size_t i = 0; i <= dn; i++) {
        char c = d[i];
        if (c == '.' || !c) {
            if (!label || d[i - 1] == '-')
                return tk_errf(err, TK_EINVAL,
                               "%s '%.100s': the domain has an empty label or one ending in '-'",
                               what, addr);
            label = 0;
            continue;
        }
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 (c == '-' && label > 0);
        if (!ok || ++label > 63)
            return tk_errf(err, TK_EINVAL,
                           "%s '%.100s': domain labels are 1-63 letters, digits and inner '-'"
                           " (byte %zu)", what, addr, ln + 2 + i);
    }
    return 0;
}

int tk_mail_header(tk_buf_t *b, const char *name, const char *value)
{
    int plain = 1;
    for (const unsigned char *p = (const unsigned char *)value; *p && plain; p++)
        plain = *p >= 0x20 && *p < 0x7f;
    int rc = tk_buf_printf(b, "%s: ", name);
    if (plain) {
        rc |= tk_buf_puts(b, value);
        return rc | tk_buf_puts(b, "\r\n");
    }
    /* Encoded words: 45 bytes of text -> 60 base64 characters + 12 = 72 <= 75.
     * A chunk never splits a UTF-8 sequence, so each word decodes alone. */
    const unsigned char *p = (const unsigned char *)value;
    size_t n = strlen(value);
    int first = 1;
    while (n && !rc) {
        size_t k = n < 45 ? n : 45;
        while (k < n && k > 1 && (p[k] & 0xc0) == 0x80)
            k--;
        unsigned char chunk[48];
        for (size_t i = 0; i < k; i++)
            chunk[i] = p[i] < 0x20 || p[i] == 0x7f ? ' ' : p[i];
        char enc[64 + 1];
        EVP_EncodeBlock((unsigned char *)enc, chunk, (int)k);
        rc |= tk_buf_puts(b, first ? "=?UTF-8?B?" : "\r\n =?UTF-8?B?");
        rc |= tk_buf_puts(b, enc);
        rc |= tk_buf_puts(b, "?=");
        p += k;
        n -= k;
        first = 0;
    }
    return rc | tk_buf_puts(b, "\r\n");
}

static int em_send(const tk_notify_cfg_t *cfg, const tk_alert_user_t *u, const char *kind,
                   const char *payload, char *err)
{
    if (!cfg || !cfg->smtp_url || !*cfg->smtp_url)
        return tk_errf(err, TK_EINVAL, "email: no SMTP server configured (serve --smtp-url smtp://host:port)");
    cJSON *j = cJSON_Parse(payload);
    if (!j)
        return tk_errf(err, TK_EINVAL, "email: the alert payload is not JSON");
    char *line = summary_line(kind, j, 0);
    const char *sum = cJSON_GetStringValue(cJSON_GetObjectItem(j, "summary"));
    char *summary = sum && *sum ? strdup(sum) : NULL;
    char *pretty = cJSON_Print(j);
    cJSON_Delete(j);
    const char *from = cfg->smtp_from && *cfg->smtp_from ? cfg->smtp_from : "trailkeep@localhost";
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    tk_buf_t m = TK_BUF_INIT;
    /* Addresses were checked (tk_email_check) when stored; checked again
     * here so no path puts a line break into the envelope or a header. */
    int rc = tk_email_check("email: the user's address", u->email, err);
    if (!rc)
        rc = tk_email_check("email: --smtp-from", from, err);
    if (rc) {
        free(summary);
        free(line);
        free(pretty);
        return rc;
    }
    rc = tk_buf_printf(&m, "Date: %s\r\nFrom: %s\r\nTo: %s\r\n", date, from, u->email);
    rc |= tk_mail_header(&m, "Subject", line ? line : "trailkeep alert");
    rc |= tk_buf_printf(&m,
                        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        "Content-Transfer-Encoding: 8bit\r\nX-Trailkeep-Notification: %s\r\n\r\n"
                        "%s\r\n\r\n%s%s%s\r\n",
                        kind, line ? line : "", summary ? summary : "", summary ? "\r\n\r\n" : "",
                        pretty ? pretty : payload);
    free(summary);
    free(line);
    free(pretty);
    if (rc) {
        tk_buf_free(&m);
        return tk_errf(err, TK_ENOMEM, "email: out of memory");
    }
    CURL *c = curl_easy_init();
    if (!c) {
        tk_buf_free(&m);
        return tk_errf(err, TK_ENOMEM, "email: curl_easy_init failed");
    }
    char fromaddr[300], toaddr[300];
    snprintf(fromaddr, sizeof fromaddr, "<%s>", from);
    snprintf(toaddr, sizeof toaddr, "<%s>", u->email);
    struct curl_slist *rcpt = curl_slist_append(NULL, toaddr);
    rd_t r = {m.p, m.len};
    curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, fromaddr);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, reader);
    curl_easy_setopt(c, CURLOPT_READDATA, &r);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)(cfg->timeout_s > 0 ? cfg->timeout_s : 10));
    if (cfg->smtp_starttls)
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (cfg->smtp_ca && *cfg->smtp_ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, cfg->smtp_ca);
    if (cfg->smtp_user && *cfg->smtp_user) {
        curl_easy_setopt(c, CURLOPT_USERNAME, cfg->smtp_user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->smtp_password ? cfg->smtp_password : "");
    }
    CURLcode cc = curl_easy_perform(c);
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(c);
    tk_buf_free(&m);
    if (cc != CURLE_OK)
        return tk_errf(err, TK_EIO, "email to %.100s via %.100s: %s", u->email, cfg->smtp_url,
                       curl_easy_strerror(cc));
    return 0;
}

const tk_channel_t tk_channel_email = {"email", em_applies, em_send};

static const tk_channel_t *const all_channels[] = {&tk_channel_webhook, &tk_channel_email, NULL};

const tk_channel_t *const *tk_channels(void)
{
    return all_channels;
}

const tk_channel_t *tk_channel_find(const char *name)
{
    for (size_t i = 0; all_channels[i]; i++)
        if (!strcmp(all_channels[i]->name, name))
            return all_channels[i];
    return NULL;
}

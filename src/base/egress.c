/* trailkeep egress policy (egress.h): one classifier of IPv4/IPv6 addresses,
 * used when a tenant writes an endpoint (its scheme and literal host) and
 * again by libcurl's open-socket callback on every resolved address, just
 * before connect. Invariants: an address is judged by its most specific
 * range (metadata before link-local and private); IPv4 carried inside IPv6
 * (::ffff:a.b.c.d, ::a.b.c.d, 64:ff9b::/96, 2002::/16) is judged as that
 * IPv4 address; anything that is neither IPv4 nor IPv6 is refused. */
#include "base/egress.h"

#include "base/tk.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static atomic_int g_allow_private;

void tk_egress_set_allow_private(int allow)
{
    atomic_store(&g_allow_private, allow ? 1 : 0);
}

int tk_egress_allow_private(void)
{
    return atomic_load(&g_allow_private);
}

/* v: the address in host byte order. */
static tk_egress_class_t classify_v4(uint32_t v)
{
    if (v == 0xA9FEA9FEu || v == 0x646464C8u) /* 169.254.169.254, 100.100.100.200 */
        return TK_EGRESS_METADATA;
    if ((v >> 24) == 0)
        return TK_EGRESS_THIS_NETWORK;
    if ((v >> 24) == 127)
        return TK_EGRESS_LOOPBACK;
    if ((v >> 16) == 0xA9FE) /* 169.254/16 */
        return TK_EGRESS_LINK_LOCAL;
    if ((v >> 24) == 10 || (v >> 20) == 0xAC1 /* 172.16/12 */ || (v >> 16) == 0xC0A8 ||
        (v >> 22) == (0x64400000u >> 22) /* 100.64/10 */)
        return TK_EGRESS_PRIVATE;
    if ((v >> 28) == 0xE)
        return TK_EGRESS_MULTICAST;
    if ((v >> 28) == 0xF) /* 240/4, 255.255.255.255 among them */
        return TK_EGRESS_BROADCAST;
    return TK_EGRESS_PUBLIC;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static tk_egress_class_t classify_v6(const uint8_t a[16])
{
    static const uint8_t zero[16], ec2_meta[16] = {0xfd, 0x00, 0x0e, 0xc2, [14] = 0x02, [15] = 0x54};
    static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
    static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};
    if (!memcmp(a, zero, 16))
        return TK_EGRESS_THIS_NETWORK;
    if (!memcmp(a, zero, 15) && a[15] == 1)
        return TK_EGRESS_LOOPBACK;
    /* IPv4 inside IPv6: mapped, compatible (deprecated), NAT64, 6to4. */
    if (!memcmp(a, mapped, 12) || !memcmp(a, zero, 12) || !memcmp(a, nat64, 12))
        return classify_v4(be32(a + 12));
    if (a[0] == 0x20 && a[1] == 0x02)
        return classify_v4(be32(a + 2));
    if (!memcmp(a, ec2_meta, 16))
        return TK_EGRESS_METADATA;
    if (a[0] == 0xff)
        return TK_EGRESS_MULTICAST;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) /* fe80::/10 */
        return TK_EGRESS_LINK_LOCAL;
    if ((a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)) /* fc00::/7, fec0::/10 */
        return TK_EGRESS_PRIVATE;
    return TK_EGRESS_PUBLIC;
}

tk_egress_class_t tk_egress_classify(const struct sockaddr *sa, size_t len)
{
    if (sa && sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        return classify_v4(ntohl(s4->sin_addr.s_addr));
    }
    if (sa && sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        return classify_v6(s6->sin6_addr.s6_addr);
    }
    return TK_EGRESS_NOT_IP;
}

int tk_egress_classify_text(const char *text, tk_egress_class_t *out)
{
    char buf[INET6_ADDRSTRLEN + 64];
    size_t n = text ? strlen(text) : 0;
    if (n >= 2 && text[0] == '[' && text[n - 1] == ']') {
        text++;
        n -= 2;
    }
    if (!n || n >= sizeof buf)
        return TK_EINVAL;
    memcpy(buf, text, n);
    buf[n] = 0;
    char *zone = strchr(buf, '%'); /* fe80::1%eth0: the scope does not change the range */
    if (zone)
        *zone = 0;
    struct in6_addr a6;
    if (strchr(buf, ':')) {
        if (inet_pton(AF_INET6, buf, &a6) != 1)
            return TK_EINVAL;
        *out = classify_v6(a6.s6_addr);
        return 0;
    }
    /* IPv4 in every notation libcurl normalises (127.1, 0x7f.0.0.1,
     * 2130706433, 0177.0.0.1); inet_aton would accept trailing text after
     * a blank, so the characters are checked first. */
    if (zone || strspn(buf, "0123456789abcdefABCDEFxX.") != n)
        return TK_EINVAL;
    struct in_addr a4;
    if (!inet_aton(buf, &a4))
        return TK_EINVAL;
    *out = classify_v4(ntohl(a4.s_addr));
    return 0;
}

const char *tk_egress_class_name(tk_egress_class_t c)
{
    switch (c) {
    case TK_EGRESS_PUBLIC: return "a public address";
    case TK_EGRESS_PRIVATE: return "in a private range";
    case TK_EGRESS_LOOPBACK: return "a loopback address";
    case TK_EGRESS_METADATA: return "a cloud metadata address";
    case TK_EGRESS_LINK_LOCAL: return "a link-local address";
    case TK_EGRESS_THIS_NETWORK: return "an unspecified address (0.0.0.0/8, ::)";
    case TK_EGRESS_MULTICAST: return "a multicast address";
    case TK_EGRESS_BROADCAST: return "a broadcast or reserved address";
    case TK_EGRESS_NOT_IP: return "not an IPv4 or IPv6 address";
    }
    return "not allowed";
}

int tk_egress_allowed(tk_egress_class_t c, int allow_private)
{
    if (c == TK_EGRESS_PUBLIC)
        return 1;
    return allow_private && (c == TK_EGRESS_PRIVATE || c == TK_EGRESS_LOOPBACK);
}

/* The reason of a refusal, with the way out when there is one. */
static const char *why_suffix(tk_egress_class_t c)
{
    return c == TK_EGRESS_PRIVATE || c == TK_EGRESS_LOOPBACK
               ? "; private and loopback ranges need trailkeep serve --allow-private-endpoints"
               : " (never allowed)";
}

int tk_egress_check_host(const char *what, const char *host, int allow_private, char *err)
{
    tk_egress_class_t c;
    if (!host || !*host)
        return tk_errf(err, TK_EINVAL, "%s is empty: give a host name or address", what);
    if (tk_egress_classify_text(host, &c))
        return 0; /* a name: judged on each address it resolves to, at connect time */
    if (tk_egress_allowed(c, allow_private))
        return 0;
    return tk_errf(err, TK_EINVAL, "%s %.64s is refused: it is %s%s", what, host,
                   tk_egress_class_name(c), why_suffix(c));
}

int tk_egress_check_url(const char *what, const char *url, int allow_private, char *err)
{
    CURLU *u = curl_url();
    if (!u)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    char *scheme = NULL, *host = NULL;
    int rc = 0;
    if (!url || curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
        rc = tk_errf(err, TK_EINVAL, "%s '%.80s' is not a URL: give http://HOST[:PORT] or https://...",
                     what, url ? url : "");
    } else if (strcasecmp(scheme, "http") && strcasecmp(scheme, "https")) {
        rc = tk_errf(err, TK_EINVAL,
                     "%s '%.80s' is refused: only http:// and https:// URLs are allowed (not %s://)",
                     what, url, scheme);
    } else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host) {
        rc = tk_errf(err, TK_EINVAL, "%s '%.80s' has no host", what, url);
    } else {
        tk_egress_class_t c;
        if (!tk_egress_classify_text(host, &c) && !tk_egress_allowed(c, allow_private))
            rc = tk_errf(err, TK_EINVAL, "%s '%.80s' is refused: %.46s is %s%s", what, url, host,
                         tk_egress_class_name(c), why_suffix(c));
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

/* libcurl's CURLOPT_OPENSOCKETFUNCTION: sees each resolved address just
 * before the connect, whatever the name resolved to at validation time. */
static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    tk_egress_guard_t *g = ud;
    tk_egress_class_t c = tk_egress_classify(&a->addr, a->addrlen);
    if (purpose != CURLSOCKTYPE_IPCXN || !tk_egress_allowed(c, g->allow_private)) {
        char ip[INET6_ADDRSTRLEN] = "?";
        if (a->family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->addr)->sin_addr, ip, sizeof ip);
        else if (a->family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&a->addr)->sin6_addr, ip, sizeof ip);
        g->refused = 1;
        snprintf(g->msg, sizeof g->msg, "connection to %s refused by the egress policy: it is %s%s",
                 ip, tk_egress_class_name(c),
                 c == TK_EGRESS_PRIVATE || c == TK_EGRESS_LOOPBACK
                     ? " (--allow-private-endpoints allows it)"
                     : "");
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

int tk_egress_curl(void *curl, tk_egress_guard_t *g, int allow_private)
{
    CURL *c = curl;
    memset(g, 0, sizeof *g);
    g->allow_private = allow_private;
    if (curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, g) != CURLE_OK)
        return TK_EUNSUPPORTED;
    return 0;
}

/* trailkeep trail destination `syslog`: one RFC 5424 message per event over
 * TCP with octet-counting framing (RFC 6587 3.4.1), optionally TLS (RFC
 * 5425). The connection stays open between deliveries and is re-made after
 * any error; a failed call is retried whole by the deliverer, so delivery is
 * at-least-once (a receiver may see an event twice after an outage). The
 * receiver is tenant input: it obeys the egress policy (base/egress.h), on
 * the literal host when written and on each resolved address at connect. */
#include "trail/dest.h"

#include "base/buf.h"
#include "base/egress.h"
#include "base/tk.h"
#include "base/tktime.h"

#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    char *host, *port, *app, *hostname, *ca;
    int tls, facility, timeout_ms;
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
} sl_t;

static const tk_dest_option_t syslog_opts[] = {
    {"host", TK_OPT_STRING, NULL, 1, "receiver host name or address"},
    {"port", TK_OPT_INT, "514", 0, "TCP port (6514 is usual with TLS)"},
    {"tls", TK_OPT_BOOL, "false", 0, "TLS (RFC 5425), server certificate and name verified"},
    {"tls_ca", TK_OPT_STRING, NULL, 0, "CA bundle (PEM) for tls; default: the system's"},
    {"facility", TK_OPT_INT, "13", 0, "syslog facility 0-23 (13 = log audit); severity is info"},
    {"app_name", TK_OPT_STRING, "trailkeep", 0, "APP-NAME field"},
    {"hostname", TK_OPT_STRING, NULL, 0, "HOSTNAME field; default: this machine's name"},
    {"timeout_s", TK_OPT_INT, "30", 0, "seconds to connect or to send one batch"},
};

static const char *opt(const tk_dest_config_t *cfg, const char *name)
{
    const char *v = tk_dest_config_get(cfg, name);
    if (v)
        return v;
    for (size_t i = 0; i < TK_ARRAY_LEN(syslog_opts); i++)
        if (!strcmp(syslog_opts[i].name, name))
            return syslog_opts[i].def;
    return NULL;
}

static void disconnect(sl_t *s)
{
    if (s->ssl) {
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static void sl_close(void *state)
{
    sl_t *s = state;
    if (!s)
        return;
    disconnect(s);
    SSL_CTX_free(s->ctx);
    free(s->host);
    free(s->port);
    free(s->app);
    free(s->hostname);
    free(s->ca);
    free(s);
}

/* Printable US-ASCII without spaces, as RFC 5424 header fields require. */
static int header_safe(const char *v, size_t max)
{
    size_t n = strlen(v);
    if (!n || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] < 33 || v[i] > 126)
            return 0;
    return 1;
}

/* A literal receiver address the egress policy refuses is refused when the
 * trail is written; names are judged when resolved, in connect_to. */
static int sl_check(const tk_dest_config_t *cfg, char *err)
{
    const char *host = opt(cfg, "host");
    if (!host || !*host)
        return tk_errf(err, TK_EINVAL, "syslog needs option host");
    return tk_egress_check_host("Dest.host", host, tk_egress_allow_private(), err);
}

static int sl_init(const tk_dest_config_t *cfg, void **state, char *err)
{
    const char *host = opt(cfg, "host");
    long facility = strtol(opt(cfg, "facility"), NULL, 10);
    long port = strtol(opt(cfg, "port"), NULL, 10);
    if (!host || !*host)
        return tk_errf(err, TK_EINVAL, "syslog needs option host");
    if (facility < 0 || facility > 23)
        return tk_errf(err, TK_EINVAL, "syslog facility must be 0-23");
    if (port < 1 || port > 65535)
        return tk_errf(err, TK_EINVAL, "syslog port must be 1-65535");
    char hn[256] = "";
    const char *hname = opt(cfg, "hostname");
    if (!hname) {
        if (gethostname(hn, sizeof hn - 1) || !hn[0])
            snprintf(hn, sizeof hn, "-");
        hname = hn;
    }
    if (!header_safe(hname, 255) || !header_safe(opt(cfg, "app_name"), 48))
        return tk_errf(err, TK_EINVAL,
                       "syslog hostname and app_name must be printable ASCII without spaces "
                       "(at most 255 and 48 characters)");
    sl_t *s = calloc(1, sizeof *s);
    if (!s)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    s->fd = -1;
    s->host = strdup(host);
    s->port = strdup(opt(cfg, "port"));
    s->app = strdup(opt(cfg, "app_name"));
    s->hostname = strdup(hname);
    s->ca = opt(cfg, "tls_ca") ? strdup(opt(cfg, "tls_ca")) : NULL;
    s->tls = !strcmp(opt(cfg, "tls"), "true");
    s->facility = (int)facility;
    s->timeout_ms = (int)strtol(opt(cfg, "timeout_s"), NULL, 10) * 1000;
    if (s->timeout_ms <= 0)
        s->timeout_ms = 30000;
    if (!s->host || !s->port || !s->app || !s->hostname) {
        sl_close(s);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    if (s->tls) {
        s->ctx = SSL_CTX_new(TLS_client_method());
        int ok = s->ctx && SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION) == 1 &&
                 (s->ca ? SSL_CTX_load_verify_locations(s->ctx, s->ca, NULL)
                        : SSL_CTX_set_default_verify_paths(s->ctx)) == 1;
        if (!ok) {
            sl_close(s);
            return tk_errf(err, TK_EINVAL, "syslog tls: cannot load the CA bundle %s",
                           s->ca ? s->ca : "(system)");
        }
        SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
    }
    *state = s;
    return 0;
}

static int wait_fd(int fd, short ev, int ms)
{
    struct pollfd p = {.fd = fd, .events = ev};
    int r;
    do
        r = poll(&p, 1, ms);
    while (r < 0 && errno == EINTR);
    return r > 0 ? 0 : -1;
}

static int connect_to(sl_t *s, char *err)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int g = getaddrinfo(s->host, s->port, &hints, &res);
    if (g)
        return tk_errf(err, TK_EIO, "syslog: cannot resolve %s: %s", s->host, gai_strerror(g));
    int fd = -1, e = 0, refused = 0;
    const char *why = "";
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        /* The receiver is tenant input: judge the resolved address (egress.h). */
        tk_egress_class_t cls = tk_egress_classify(a->ai_addr, a->ai_addrlen);
        if (!tk_egress_allowed(cls, tk_egress_allow_private())) {
            refused = 1;
            why = tk_egress_class_name(cls);
            continue;
        }
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = {s->timeout_ms / 1000, (s->timeout_ms % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0 && refused && !e)
        return tk_errf(err, TK_EIO,
                       "syslog: %s:%s refused by the egress policy: it resolves to %s%s", s->host,
                       s->port, why,
                       strstr(why, "private") || strstr(why, "loopback")
                           ? " (--allow-private-endpoints allows it)" : "");
    if (fd < 0)
        return tk_errf(err, TK_EIO, "syslog: cannot connect to %s:%s: %s", s->host, s->port,
                       strerror(e ? e : ECONNREFUSED));
    s->fd = fd;
    if (!s->tls)
        return 0;
    s->ssl = SSL_new(s->ctx);
    if (!s->ssl || SSL_set_fd(s->ssl, fd) != 1 || SSL_set_tlsext_host_name(s->ssl, s->host) != 1 ||
        SSL_set1_host(s->ssl, s->host) != 1 || SSL_connect(s->ssl) != 1) {
        char e2[160];
        ERR_error_string_n(ERR_get_error(), e2, sizeof e2);
        disconnect(s);
        return tk_errf(err, TK_EIO, "syslog: TLS handshake with %s:%s failed: %s", s->host,
                       s->port, e2);
    }
    return 0;
}

static int send_all(sl_t *s, const char *p, size_t n, char *err)
{
    while (n) {
        ssize_t w;
        if (s->ssl) {
            int r = SSL_write(s->ssl, p, n > (1u << 30) ? (1 << 30) : (int)n);
            w = r > 0 ? r : -1;
        } else {
            w = send(s->fd, p, n, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
        }
        if (w <= 0)
            return tk_errf(err, TK_EIO, "syslog: sending to %s:%s failed: %s", s->host, s->port,
                           w < 0 ? strerror(errno) : "connection closed");
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* A peer that closed the connection shows as readable with EOF: find out
 * before sending, so a restarted receiver costs no lost batch. */
static int peer_closed(sl_t *s)
{
    if (s->fd < 0 || wait_fd(s->fd, POLLIN, 0))
        return 0;
    char b;
    ssize_t r = recv(s->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static int sl_write_events(void *state, const tk_dest_event_t *ev, size_t n, char *err)
{
    sl_t *s = state;
    if (peer_closed(s))
        disconnect(s);
    int rc = 0;
    if (s->fd < 0 && (rc = connect_to(s, err)))
        return rc;
    tk_buf_t msg = TK_BUF_INIT, frame = TK_BUF_INIT;
    for (size_t i = 0; i < n && !rc; i++) {
        char ts[32];
        tk_time_format(ev[i].time_ms, 1, ts);
        tk_buf_reset(&msg);
        /* <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG; the MSG is
         * the stored JSON, which is UTF-8 (no BOM: receivers then keep it as is). */
        tk_buf_printf(&msg, "<%d>1 %s %s %s - ActionTrail [trailkeep@32473 account=\"%s\" seq=\"%llu\"] ",
                      s->facility * 8 + 6, ts, s->hostname, s->app, ev[i].account,
                      (unsigned long long)ev[i].seq);
        tk_buf_append(&msg, ev[i].json, ev[i].len);
        tk_buf_printf(&frame, "%zu ", msg.len);
        if (tk_buf_append(&frame, msg.p, msg.len))
            rc = tk_errf(err, TK_ENOMEM, "out of memory");
        /* Send in ~64 KiB pieces: one syscall per many events. */
        if (!rc && (frame.len >= 65536 || i + 1 == n)) {
            rc = send_all(s, frame.p, frame.len, err);
            tk_buf_reset(&frame);
        }
    }
    tk_buf_free(&msg);
    tk_buf_free(&frame);
    if (rc)
        disconnect(s);
    return rc;
}

const tk_dest_t tk_dest_syslog = {
    .name = "syslog",
    .description = "RFC 5424 syslog over TCP (octet-counting), optional TLS; one event per message",
    .options = syslog_opts,
    .noptions = TK_ARRAY_LEN(syslog_opts),
    .init = sl_init,
    .write_object = NULL,
    .write_events = sl_write_events,
    .close = sl_close,
    .check = sl_check,
};

/* trailkeep egress policy: which addresses an outbound connection that a
 * tenant configured (a trail's S3/OSS endpoint, a webhook URL, a syslog
 * receiver) may reach, so that a tenant cannot make the server talk to the
 * host it runs on, its cloud metadata service or its private network.
 * Invariants: only http/https; link-local, metadata, "this network",
 * multicast, broadcast and reserved addresses are always refused; private
 * and loopback ranges only when the operator allows them (serve
 * --allow-private-endpoints); IPv4 embedded in IPv6 (mapped, compatible,
 * NAT64) is judged as IPv4; the check runs on the resolved address at
 * connect time (tk_egress_curl), so a name cannot be re-pointed after it was
 * validated. */
#ifndef TK_BASE_EGRESS_H
#define TK_BASE_EGRESS_H

#include <stddef.h>
#include <sys/socket.h>

typedef enum tk_egress_class {
    TK_EGRESS_PUBLIC = 0,     /* anything not below: allowed */
    TK_EGRESS_PRIVATE,        /* 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7, fec0::/10 */
    TK_EGRESS_LOOPBACK,       /* 127/8, ::1 */
    TK_EGRESS_METADATA,       /* 169.254.169.254, fd00:ec2::254, 100.100.100.200 (Alibaba) */
    TK_EGRESS_LINK_LOCAL,     /* 169.254/16, fe80::/10 */
    TK_EGRESS_THIS_NETWORK,   /* 0.0.0.0/8, :: */
    TK_EGRESS_MULTICAST,      /* 224/4, ff00::/8 */
    TK_EGRESS_BROADCAST,      /* 255.255.255.255 and the reserved 240/4 */
    TK_EGRESS_NOT_IP,         /* a socket family other than IPv4/IPv6 */
} tk_egress_class_t;

/* The class of a socket address (IPv4 or IPv6; len its size). */
tk_egress_class_t tk_egress_classify(const struct sockaddr *sa, size_t len);
/* The class of a textual IP literal: IPv6 ("::1", "[::1]") or IPv4 in any
 * form inet_aton (and so libcurl) accepts ("127.1", "0x7f000001",
 * "2130706433"). 0 and *out set, or TK_EINVAL when text is not a literal. */
int tk_egress_classify_text(const char *text, tk_egress_class_t *out);
/* "in a private range", "loopback", "a cloud metadata address", ... */
const char *tk_egress_class_name(tk_egress_class_t c);
/* 1 when class c may be reached under allow_private, else 0. */
int tk_egress_allowed(tk_egress_class_t c, int allow_private);

/* The operator's setting, process-wide: set once at start-up (serve, or a
 * CLI command that delivers for a tenant) before threads start; read by
 * every check at create/update time and at connect time. Default 0. */
void tk_egress_set_allow_private(int allow);
int tk_egress_allow_private(void);

/* Checks a literal host (names pass: they are checked when resolved). what
 * names the field in the message ("Dest.host"). 0 or TK_EINVAL saying what
 * was refused, why, and which flag allows private ranges. */
int tk_egress_check_host(const char *what, const char *host, int allow_private, char *err);
/* Checks a URL: scheme http or https (nothing else: file, gopher, dict, ...),
 * a host, and tk_egress_check_host on it. Parsed by libcurl's URL parser,
 * the one that later connects. 0 or TK_EINVAL. */
int tk_egress_check_url(const char *what, const char *url, int allow_private, char *err);

/* Connect-time guard for one libcurl easy handle: holds the policy and, once
 * a connection was refused, why. Lives as long as the transfer. */
typedef struct tk_egress_guard {
    int allow_private;
    int refused;           /* set when a resolved address was refused */
    char msg[160];         /* "127.0.0.1 is loopback" */
} tk_egress_guard_t;

/* Sets up curl (a CURL *, borrowed) for a tenant-configured transfer: only
 * http/https, also for redirects (none are followed), no proxy from the
 * environment (the check must see the real peer), and an open-socket
 * callback that refuses every resolved address the policy forbids (g,
 * borrowed, must outlive the transfer). 0 or TK_EUNSUPPORTED when libcurl
 * lacks an option. */
int tk_egress_curl(void *curl, tk_egress_guard_t *g, int allow_private);

#endif

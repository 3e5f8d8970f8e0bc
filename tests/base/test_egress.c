/* Tests of the egress policy (src/base/egress.c): the address classifier on
 * every range, at both ends and just outside; IPv4 inside IPv6 judged as
 * IPv4; IPv4 literals in the notations libcurl accepts; URL and host checks
 * at write time (schemes, literal hosts, messages); and the connect-time
 * guard on a real libcurl transfer to a name that resolves to loopback. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/egress.h"
#include "base/tk.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *ip;
    tk_egress_class_t want;
} case_t;

static const case_t cases[] = {
    /* public, including the neighbours of every refused range */
    {"8.8.8.8", TK_EGRESS_PUBLIC},           {"1.0.0.0", TK_EGRESS_PUBLIC},
    {"9.255.255.255", TK_EGRESS_PUBLIC},     {"11.0.0.0", TK_EGRESS_PUBLIC},
    {"126.255.255.255", TK_EGRESS_PUBLIC},   {"128.0.0.0", TK_EGRESS_PUBLIC},
    {"169.253.255.255", TK_EGRESS_PUBLIC},   {"169.255.0.0", TK_EGRESS_PUBLIC},
    {"172.15.255.255", TK_EGRESS_PUBLIC},    {"172.32.0.0", TK_EGRESS_PUBLIC},
    {"192.167.255.255", TK_EGRESS_PUBLIC},   {"192.169.0.0", TK_EGRESS_PUBLIC},
    {"100.63.255.255", TK_EGRESS_PUBLIC},    {"100.128.0.0", TK_EGRESS_PUBLIC},
    {"223.255.255.255", TK_EGRESS_PUBLIC},   {"2606:4700::1111", TK_EGRESS_PUBLIC},
    {"fbff:ffff::1", TK_EGRESS_PUBLIC},      {"fe7f::1", TK_EGRESS_PUBLIC},
    {"::ffff:8.8.8.8", TK_EGRESS_PUBLIC},    {"2002:0808:0808::1", TK_EGRESS_PUBLIC},
    /* this network */
    {"0.0.0.0", TK_EGRESS_THIS_NETWORK},     {"0.255.255.255", TK_EGRESS_THIS_NETWORK},
    {"::", TK_EGRESS_THIS_NETWORK},
    /* loopback */
    {"127.0.0.1", TK_EGRESS_LOOPBACK},       {"127.0.0.0", TK_EGRESS_LOOPBACK},
    {"127.255.255.255", TK_EGRESS_LOOPBACK}, {"::1", TK_EGRESS_LOOPBACK},
    /* private */
    {"10.0.0.0", TK_EGRESS_PRIVATE},         {"10.255.255.255", TK_EGRESS_PRIVATE},
    {"172.16.0.0", TK_EGRESS_PRIVATE},       {"172.31.255.255", TK_EGRESS_PRIVATE},
    {"192.168.0.0", TK_EGRESS_PRIVATE},      {"192.168.255.255", TK_EGRESS_PRIVATE},
    {"100.64.0.0", TK_EGRESS_PRIVATE},       {"100.127.255.255", TK_EGRESS_PRIVATE},
    {"fc00::", TK_EGRESS_PRIVATE},           {"fdff:ffff:ffff:ffff::1", TK_EGRESS_PRIVATE},
    {"fec0::1", TK_EGRESS_PRIVATE},
    /* link-local and metadata */
    {"169.254.0.0", TK_EGRESS_LINK_LOCAL},   {"169.254.255.255", TK_EGRESS_LINK_LOCAL},
    {"169.254.169.253", TK_EGRESS_LINK_LOCAL}, {"fe80::1", TK_EGRESS_LINK_LOCAL},
    {"febf:ffff::1", TK_EGRESS_LINK_LOCAL},
    {"169.254.169.254", TK_EGRESS_METADATA}, {"100.100.100.200", TK_EGRESS_METADATA},
    {"fd00:ec2::254", TK_EGRESS_METADATA},
    /* multicast, broadcast, reserved */
    {"224.0.0.0", TK_EGRESS_MULTICAST},      {"239.255.255.255", TK_EGRESS_MULTICAST},
    {"ff02::1", TK_EGRESS_MULTICAST},        {"240.0.0.0", TK_EGRESS_BROADCAST},
    {"255.255.255.255", TK_EGRESS_BROADCAST},
    /* IPv4 inside IPv6 is judged as IPv4 */
    {"::ffff:127.0.0.1", TK_EGRESS_LOOPBACK}, {"::ffff:7f00:1", TK_EGRESS_LOOPBACK},
    {"::ffff:169.254.169.254", TK_EGRESS_METADATA}, {"::ffff:10.1.2.3", TK_EGRESS_PRIVATE},
    {"::ffff:0.0.0.0", TK_EGRESS_THIS_NETWORK}, {"::127.0.0.1", TK_EGRESS_LOOPBACK},
    {"64:ff9b::a9fe:a9fe", TK_EGRESS_METADATA}, {"64:ff9b::192.168.1.1", TK_EGRESS_PRIVATE},
    {"2002:7f00:0001::1", TK_EGRESS_LOOPBACK}, {"::ffff:100.100.100.200", TK_EGRESS_METADATA},
    /* IPv4 in the other notations libcurl normalises */
    {"127.1", TK_EGRESS_LOOPBACK},           {"2130706433", TK_EGRESS_LOOPBACK},
    {"0x7f000001", TK_EGRESS_LOOPBACK},      {"0177.0.0.1", TK_EGRESS_LOOPBACK},
    {"0xa9.0xfe.0xa9.0xfe", TK_EGRESS_METADATA}, {"[::1]", TK_EGRESS_LOOPBACK},
    {"fe80::1%eth0", TK_EGRESS_LINK_LOCAL},
};

static void test_egress_classifies_every_range_and_its_edges(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tk_egress_class_t c = (tk_egress_class_t)-1;
        if (tk_egress_classify_text(cases[i].ip, &c) != 0)
            fail_msg("%s is not recognised as an address", cases[i].ip);
        if (c != cases[i].want)
            fail_msg("%s: class %d (%s), expected %d (%s)", cases[i].ip, c,
                     tk_egress_class_name(c), cases[i].want, tk_egress_class_name(cases[i].want));
    }
}

static void test_egress_classifies_socket_addresses_like_text(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *ip = cases[i].ip;
        if (strchr(ip, '[') || strchr(ip, '%'))
            continue;
        struct sockaddr_in s4;
        struct sockaddr_in6 s6;
        memset(&s4, 0, sizeof s4);
        memset(&s6, 0, sizeof s6);
        tk_egress_class_t c;
        if (inet_pton(AF_INET6, ip, &s6.sin6_addr) == 1) {
            s6.sin6_family = AF_INET6;
            c = tk_egress_classify((struct sockaddr *)&s6, sizeof s6);
        } else if (inet_aton(ip, &s4.sin_addr)) {
            s4.sin_family = AF_INET;
            c = tk_egress_classify((struct sockaddr *)&s4, sizeof s4);
        } else {
            fail_msg("%s does not parse", ip);
            return;
        }
        if (c != cases[i].want)
            fail_msg("sockaddr %s: class %d, expected %d", ip, c, cases[i].want);
    }
    struct sockaddr un = {.sa_family = AF_UNIX};
    assert_int_equal(tk_egress_classify(&un, sizeof un), TK_EGRESS_NOT_IP);
    struct sockaddr_in short4 = {.sin_family = AF_INET};
    assert_int_equal(tk_egress_classify((struct sockaddr *)&short4, 4), TK_EGRESS_NOT_IP);
}

static void test_egress_names_are_not_literals(void **state)
{
    (void)state;
    static const char *const names[] = {"localhost", "s3.amazonaws.com", "deadbeef", "1.2.3.4.example",
                                        "127.0.0.1 x", "", "[]", "::g", "fe80::1%"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        tk_egress_class_t c;
        if (!strcmp(names[i], "fe80::1%"))
            continue; /* a zone with an empty name still is fe80::1 */
        if (tk_egress_classify_text(names[i], &c) == 0)
            fail_msg("'%s' taken for an address (class %d)", names[i], c);
    }
}

static void test_egress_allows_private_and_loopback_only_with_the_switch(void **state)
{
    (void)state;
    for (int c = TK_EGRESS_PUBLIC; c <= TK_EGRESS_NOT_IP; c++) {
        int priv = c == TK_EGRESS_PRIVATE || c == TK_EGRESS_LOOPBACK;
        assert_int_equal(tk_egress_allowed((tk_egress_class_t)c, 0), c == TK_EGRESS_PUBLIC);
        assert_int_equal(tk_egress_allowed((tk_egress_class_t)c, 1), c == TK_EGRESS_PUBLIC || priv);
    }
    assert_int_equal(tk_egress_allow_private(), 0);
    tk_egress_set_allow_private(1);
    assert_int_equal(tk_egress_allow_private(), 1);
    tk_egress_set_allow_private(0);
    assert_int_equal(tk_egress_allow_private(), 0);
}

static void expect_url(const char *url, int allow_private, int want, const char *msg_part)
{
    char err[TK_ERRLEN] = "";
    int rc = tk_egress_check_url("Dest.endpoint", url, allow_private, err);
    if (rc != want || (msg_part && !strstr(err, msg_part)))
        fail_msg("'%s' (allow_private %d): %d '%s', expected %d with '%s'", url, allow_private, rc,
                 err, want, msg_part ? msg_part : "");
}

static void test_egress_url_check_at_write_time(void **state)
{
    (void)state;
    expect_url("https://s3.amazonaws.com", 0, 0, NULL);
    expect_url("http://oss-cn-hangzhou.aliyuncs.com/", 0, 0, NULL);
    expect_url("HTTPS://Example.COM:8443/x", 0, 0, NULL);
    expect_url("http://localhost:9000", 0, 0, NULL); /* a name: judged at connect time */
    expect_url("http://8.8.8.8/", 0, 0, NULL);
    expect_url("file:///etc/passwd", 1, TK_EINVAL, "only http:// and https://");
    expect_url("gopher://127.0.0.1:6379/_FLUSHALL", 1, TK_EINVAL, "not gopher://");
    expect_url("dict://127.0.0.1:11211/stat", 1, TK_EINVAL, "dict");
    expect_url("ftp://example.com/", 1, TK_EINVAL, "only http");
    expect_url("ldap://example.com/", 1, TK_EINVAL, "only http");
    expect_url("example.com", 0, TK_EINVAL, "not a URL");
    expect_url("", 0, TK_EINVAL, "not a URL");
    expect_url("http://", 0, TK_EINVAL, NULL);
    expect_url("http://:80/", 0, TK_EINVAL, NULL);
    expect_url("http://169.254.169.254/latest/meta-data/", 1, TK_EINVAL, "cloud metadata");
    expect_url("http://169.254.169.254/", 0, TK_EINVAL, "never allowed");
    expect_url("http://[fd00:ec2::254]/", 1, TK_EINVAL, "metadata");
    expect_url("http://100.100.100.200/latest/meta-data/", 1, TK_EINVAL, "metadata");
    expect_url("http://[::ffff:169.254.169.254]/", 1, TK_EINVAL, "metadata");
    expect_url("http://169.254.1.1/", 1, TK_EINVAL, "link-local");
    expect_url("http://[fe80::1]/", 1, TK_EINVAL, "link-local");
    expect_url("http://0.0.0.0:9000/", 1, TK_EINVAL, "unspecified");
    expect_url("http://224.0.0.1/", 1, TK_EINVAL, "multicast");
    expect_url("http://255.255.255.255/", 1, TK_EINVAL, "broadcast");
    expect_url("http://127.0.0.1:9000", 0, TK_EINVAL, "--allow-private-endpoints");
    expect_url("http://127.0.0.1:9000", 1, 0, NULL);
    expect_url("http://2130706433/", 0, TK_EINVAL, "loopback");
    expect_url("http://0x7f.1/", 0, TK_EINVAL, "loopback");
    expect_url("http://[::1]:9000/", 0, TK_EINVAL, "loopback");
    expect_url("http://[::ffff:127.0.0.1]/", 0, TK_EINVAL, "loopback");
    expect_url("http://10.1.2.3/", 0, TK_EINVAL, "private range");
    expect_url("http://10.1.2.3/", 1, 0, NULL);
    expect_url("http://user:pw@192.168.1.1/", 0, TK_EINVAL, "private");
    expect_url("http://100.64.0.1/", 0, TK_EINVAL, "private");
    expect_url("http://[fd12::1]/", 0, TK_EINVAL, "private");
}

static void test_egress_host_check_at_write_time(void **state)
{
    (void)state;
    char err[TK_ERRLEN] = "";
    assert_int_equal(tk_egress_check_host("Dest.host", "syslog.example.com", 0, err), 0);
    assert_int_equal(tk_egress_check_host("Dest.host", "localhost", 0, err), 0);
    assert_int_equal(tk_egress_check_host("Dest.host", "127.0.0.1", 0, err), TK_EINVAL);
    assert_non_null(strstr(err, "Dest.host 127.0.0.1 is refused: it is a loopback address"));
    assert_non_null(strstr(err, "--allow-private-endpoints"));
    assert_int_equal(tk_egress_check_host("Dest.host", "127.0.0.1", 1, err), 0);
    assert_int_equal(tk_egress_check_host("Dest.host", "169.254.169.254", 1, err), TK_EINVAL);
    assert_non_null(strstr(err, "never allowed"));
    assert_int_equal(tk_egress_check_host("Dest.host", "", 1, err), TK_EINVAL);
}

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
    (void)p, (void)ud;
    return sz * n;
}

/* "localhost" passes the write-time check (it is a name) and is refused at
 * connect time, once resolved; with the switch it reaches the port (closed
 * here: connection refused, not a policy refusal). */
static void test_egress_guard_refuses_a_name_resolving_to_loopback(void **state)
{
    (void)state;
    char err[TK_ERRLEN] = "";
    assert_int_equal(tk_egress_check_url("url", "http://localhost:1/x", 0, err), 0);
    for (int allow = 0; allow <= 1; allow++) {
        CURL *c = curl_easy_init();
        assert_non_null(c);
        tk_egress_guard_t g;
        assert_int_equal(tk_egress_curl(c, &g, allow), 0);
        curl_easy_setopt(c, CURLOPT_URL, "http://localhost:1/x");
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
        CURLcode cc = curl_easy_perform(c);
        curl_easy_cleanup(c);
        assert_int_not_equal(cc, CURLE_OK);
        assert_int_equal(g.refused, !allow);
        if (!allow) {
            assert_non_null(strstr(g.msg, "refused by the egress policy"));
            assert_non_null(strstr(g.msg, "loopback"));
        }
    }
    /* Schemes other than http/https are refused by libcurl itself too. */
    CURL *c = curl_easy_init();
    tk_egress_guard_t g;
    assert_int_equal(tk_egress_curl(c, &g, 1), 0);
    curl_easy_setopt(c, CURLOPT_URL, "file:///etc/hostname");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    assert_int_equal(curl_easy_perform(c), CURLE_UNSUPPORTED_PROTOCOL);
    curl_easy_cleanup(c);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_egress_classifies_every_range_and_its_edges),
        cmocka_unit_test(test_egress_classifies_socket_addresses_like_text),
        cmocka_unit_test(test_egress_names_are_not_literals),
        cmocka_unit_test(test_egress_allows_private_and_loopback_only_with_the_switch),
        cmocka_unit_test(test_egress_url_check_at_write_time),
        cmocka_unit_test(test_egress_host_check_at_write_time),
        cmocka_unit_test(test_egress_guard_refuses_a_name_resolving_to_loopback),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}

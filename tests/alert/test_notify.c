/* Tests for what alert notifications put on the wire and in the log: email
 * addresses checked as RFC 5321 mailboxes (no line break can reach MAIL/RCPT
 * or a header), the Subject header encoded (RFC 2047) when it is not plain
 * ASCII, and tk_log's escaping of control characters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alert/notify.h"
#include "base/buf.h"
#include "base/tk.h"

#include <openssl/evp.h>
#include <string.h>

static void test_mailboxes_accepted(void **state)
{
    (void)state;
    char err[TK_ERRLEN];
    const char *good[] = {"ops@example.com", "first.last+tag@sub.example.co.uk",
                          "a!#$%&'*+-/=?^_`{|}~@x.y", "root@localhost", "x@[192.0.2.1]",
                          "x@[IPv6:2001:db8::1]", "a@b-c.d"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_int_equal(tk_email_check("email", good[i], err), 0);
}

static void test_mailboxes_refused_with_a_reason(void **state)
{
    (void)state;
    char err[TK_ERRLEN];
    struct {
        const char *addr, *why;
    } bad[] = {
        {"a@b.test\r\nRCPT TO:<evil@x.test>", "a line break at byte 9"},
        {"a@b.test\nBcc: evil@x.test", "a line break"},
        {"a b@c.test", "a blank"},
        {"a@b.test\x1b[2J", "a control character"},
        {"\xc3\xa9@b.test", "a non-ASCII byte"},
        {"", "is empty"},
        {"nobody", "has no '@'"},
        {"@b.test", "1-64 bytes"},
        {"a@", "no domain"},
        {".a@b.test", "single dots"},
        {"a..b@c.test", "single dots"},
        {"a(b)@c.test", "not allowed before '@'"},
        {"\"a\"@c.test", "quoted local parts"},
        {"a@-b.test", "domain labels"},
        {"a@b-.test", "ending in '-'"},
        {"a@b..test", "empty label"},
        {"a@b_c.test", "domain labels"},
        {"a@[1.2.3.4", "address literal"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        assert_int_equal(tk_email_check("email", bad[i].addr, err), TK_EINVAL);
        if (!strstr(err, bad[i].why))
            fail_msg("'%s': expected '%s' in: %s", bad[i].addr, bad[i].why, err);
    }
    char longlocal[80];
    memset(longlocal, 'a', 65);
    strcpy(longlocal + 65, "@b.test");
    assert_int_equal(tk_email_check("email", longlocal, err), TK_EINVAL);
    char longaddr[300];
    memset(longaddr, 'a', 10);
    longaddr[10] = '@';
    for (int i = 11; i < 290; i++)
        longaddr[i] = i % 50 == 0 ? '.' : 'b';
    strcpy(longaddr + 290, ".test");
    assert_int_equal(tk_email_check("email", longaddr, err), TK_EINVAL);
    assert_non_null(strstr(err, "at most 254"));
}

static void test_plain_subject_is_kept(void **state)
{
    (void)state;
    tk_buf_t b = TK_BUF_INIT;
    assert_int_equal(tk_mail_header(&b, "Subject", "[HIGH] trailkeep alert brute fired"), 0);
    assert_string_equal(b.p, "Subject: [HIGH] trailkeep alert brute fired\r\n");
    tk_buf_free(&b);
}

/* Decodes every "=?UTF-8?B?...?=" word of a header into out. */
static void decode_words(const char *h, char *out, size_t cap)
{
    size_t o = 0;
    const char *p = h;
    while ((p = strstr(p, "=?UTF-8?B?"))) {
        p += 10;
        const char *e = strstr(p, "?=");
        assert_non_null(e);
        assert_true(e - p + 12 <= 75); /* RFC 2047: a word is at most 75 characters */
        unsigned char tmp[128];
        int n = EVP_DecodeBlock(tmp, (const unsigned char *)p, (int)(e - p));
        assert_true(n >= 0);
        n -= (e[-1] == '=') + (e[-2] == '=');
        assert_true(o + (size_t)n < cap);
        memcpy(out + o, tmp, (size_t)n);
        o += (size_t)n;
        p = e + 2;
    }
    out[o] = 0;
}

static void test_subject_with_utf8_and_line_breaks_is_encoded(void **state)
{
    (void)state;
    /* A title rendered from event fields: UTF-8, and a CR LF an attacker put
     * into an eventName to add a Bcc header. */
    const char *title = "[HIGH] 连续登录失败 for 用户 \xc3\xa9l\xc3\xa8ve\r\nBcc: evil@x.test and "
                        "a long tail to force several encoded words on folded lines";
    tk_buf_t b = TK_BUF_INIT;
    assert_int_equal(tk_mail_header(&b, "Subject", title), 0);
    /* one header: every line after the first is a continuation (starts with a blank) */
    const char *nl = b.p;
    int lines = 0;
    while ((nl = strstr(nl, "\r\n"))) {
        nl += 2;
        lines++;
        if (*nl)
            assert_true(*nl == ' ');
    }
    assert_true(lines >= 3);
    assert_null(strstr(b.p, "\r\nBcc"));
    assert_int_equal(strncmp(b.p, "Subject: =?UTF-8?B?", 19), 0);
    char back[512];
    decode_words(b.p, back, sizeof back);
    char want[512];
    snprintf(want, sizeof want, "%s", title);
    for (char *q = want; *q; q++)
        if (*q == '\r' || *q == '\n')
            *q = ' ';
    assert_string_equal(back, want);
    tk_buf_free(&b);
}

static void test_log_escape(void **state)
{
    (void)state;
    char out[128];
    tk_log_escape("rule a\r\nFAKE: line \x1b[31m\\ end", out, sizeof out);
    assert_string_equal(out, "rule a\\x0d\\x0aFAKE: line \\x1b[31m\\\\ end");
    tk_log_escape("\n\n\n\n\n\n\n\n", out, 12); /* never a cut escape */
    assert_string_equal(out, "\\x0a\\x0a");
    tk_log_escape("caf\xc3\xa9", out, sizeof out); /* UTF-8 stays */
    assert_string_equal(out, "caf\xc3\xa9");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mailboxes_accepted),
        cmocka_unit_test(test_mailboxes_refused_with_a_reason),
        cmocka_unit_test(test_plain_subject_is_kept),
        cmocka_unit_test(test_subject_with_utf8_and_line_breaks_is_encoded),
        cmocka_unit_test(test_log_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

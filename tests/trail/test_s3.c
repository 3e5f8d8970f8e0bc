/* Tests of the small S3 client's offline parts (src/trail/s3_client.c): the
 * ListObjectsV2 XML parser (expat: pages, entities, truncated or hostile XML,
 * DOCTYPE and billion laughs, size cap, no read past the input), the check
 * that keeps hostile keys from leaving the download folder, SigV4 URI
 * encoding, configuration checks and the egress policy on the endpoint (at
 * open and at connect time). Requests themselves are tested end to end
 * against s3rver (s3.sh) and botocore (sigv4.sh). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/tk.h"
#include "trail/s3_client.h"

#include <stdlib.h>
#include <string.h>

static const char PAGE1[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>audit-logs</Name><Prefix>prod/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
    "<IsTruncated>true</IsTruncated>"
    "<Contents><Key>prod/AliyunLogs/Actiontrail/cn-hangzhou/2026/11/24/a.gz</Key>"
    "<LastModified>2026-11-24T10:00:00.000Z</LastModified><ETag>&quot;0cc175b9&quot;</ETag>"
    "<Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>\n"
    "  <Contents>\n    <Key>prod/b.gz.sig</Key><Size>129</Size>\n  </Contents>\n"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=&amp;x</NextContinuationToken>"
    "<ContinuationToken>prev</ContinuationToken>"
    "</ListBucketResult>";

static const char PAGE2[] =
    "<ListBucketResult><IsTruncated>false</IsTruncated>"
    "<Contents><Key>prod/c.gz</Key></Contents></ListBucketResult>\n";

static void test_s3_list_parses_a_page_with_its_continuation_token(void **state)
{
    (void)state;
    tk_s3_list_page_t p;
    char err[TK_ERRLEN] = "";
    assert_int_equal(tk_s3_list_parse(PAGE1, strlen(PAGE1), &p, err), 0);
    assert_int_equal(p.nkeys, 2);
    assert_string_equal(p.keys[0], "prod/AliyunLogs/Actiontrail/cn-hangzhou/2026/11/24/a.gz");
    assert_string_equal(p.keys[1], "prod/b.gz.sig");
    assert_int_equal(p.truncated, 1);
    assert_string_equal(p.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=&x");
    tk_s3_list_page_free(&p);
    assert_null(p.keys);
    assert_int_equal(p.nkeys, 0);
}

/* Found by fuzz_s3list: a refused empty root element ("<a/>") made the end
 * handler read the element stack at index -1. */
static void test_s3_list_refused_empty_root_is_an_error(void **state)
{
    (void)state;
    char err[TK_ERRLEN];
    tk_s3_list_page_t p;
    const char *docs[] = {"<a/>", "<a></a>", "<Error/>", "<x:y/>"};
    for (size_t i = 0; i < 4; i++) {
        int rc = tk_s3_list_parse(docs[i], strlen(docs[i]), &p, err);
        assert_true(rc == TK_ECORRUPT || rc == TK_EIO);
        tk_s3_list_page_free(&p);
    }
}

static void test_s3_list_last_page_is_not_truncated_and_has_no_token(void **state)
{
    (void)state;
    tk_s3_list_page_t p;
    char err[TK_ERRLEN] = "";
    assert_int_equal(tk_s3_list_parse(PAGE2, strlen(PAGE2), &p, err), 0);
    assert_int_equal(p.nkeys, 1);
    assert_string_equal(p.keys[0], "prod/c.gz");
    assert_int_equal(p.truncated, 0);
    assert_null(p.next_token);
    tk_s3_list_page_free(&p);
}

static void test_s3_list_of_an_empty_prefix_has_no_keys(void **state)
{
    (void)state;
    static const char x[] = "<ListBucketResult><Name>b</Name><Prefix/><KeyCount>0</KeyCount>"
                            "<IsTruncated>false</IsTruncated></ListBucketResult>";
    tk_s3_list_page_t p;
    char err[TK_ERRLEN] = "";
    assert_int_equal(tk_s3_list_parse(x, strlen(x), &p, err), 0);
    assert_int_equal(p.nkeys, 0);
    assert_int_equal(p.truncated, 0);
    tk_s3_list_page_free(&p);
}

static void test_s3_list_decodes_entities_cdata_and_namespace_prefixes(void **state)
{
    (void)state;
    static const char x[] =
        "<?xml version=\"1.0\"?><!-- a comment <Key>not a key</Key> -->"
        "<s3:ListBucketResult xmlns:s3=\"urn:x\" a='1>2'>"
        "<s3:Contents><s3:Key>a&amp;b&lt;c&gt;d&quot;e&apos;f&#65;&#x4e2d;&#X41;</s3:Key></s3:Contents>"
        "<Contents><Key><![CDATA[raw&amp;<kept>]]></Key></Contents>"
        "<Contents><Key>sp ace/%2F+plus</Key></Contents>"
        "<IsTruncated>false</IsTruncated></s3:ListBucketResult>";
    tk_s3_list_page_t p;
    char err[TK_ERRLEN] = "";
    int rc = tk_s3_list_parse(x, strlen(x), &p, err);
    /* &#X41; is not XML (the x must be lower case): the document is refused. */
    assert_int_equal(rc, TK_ECORRUPT);
    assert_non_null(strstr(err, "&#X41;"));
    static const char y[] =
        "<?xml version=\"1.0\"?><!-- a comment <Key>not a key</Key> -->"
        "<s3:ListBucketResult xmlns:s3=\"urn:x\" a='1>2'>"
        "<s3:Contents><s3:Key>a&amp;b&lt;c&gt;d&quot;e&apos;f&#65;&#x4e2d;</s3:Key></s3:Contents>"
        "<Contents><Key><![CDATA[raw&amp;<kept>]]></Key></Contents>"
        "<Contents><Key>sp ace/%2F+plus</Key></Contents>"
        "<IsTruncated>false</IsTruncated></s3:ListBucketResult>";
    assert_int_equal(tk_s3_list_parse(y, strlen(y), &p, err), 0);
    assert_int_equal(p.nkeys, 3);
    assert_string_equal(p.keys[0], "a&b<c>d\"e'fA\xe4\xb8\xad");
    assert_string_equal(p.keys[1], "raw&amp;<kept>");
    assert_string_equal(p.keys[2], "sp ace/%2F+plus");
    tk_s3_list_page_free(&p);
}

static void test_s3_list_every_truncation_of_a_page_is_refused(void **state)
{
    (void)state;
    size_t full = strlen(PAGE1);
    char err[TK_ERRLEN];
    for (size_t n = 0; n < full; n++) {
        tk_s3_list_page_t p;
        err[0] = 0;
        int rc = tk_s3_list_parse(PAGE1, n, &p, err);
        if (rc != TK_ECORRUPT)
            fail_msg("a page cut at %zu of %zu bytes gave %d (%s)", n, full, rc, err);
        assert_null(p.keys);
        assert_null(p.next_token);
    }
}

static void expect_corrupt(const char *xml, const char *msg_part)
{
    tk_s3_list_page_t p;
    char err[TK_ERRLEN] = "";
    int rc = tk_s3_list_parse(xml, strlen(xml), &p, err);
    if (rc != TK_ECORRUPT || !strstr(err, msg_part))
        fail_msg("'%s' gave %d '%s', expected TK_ECORRUPT with '%s'", xml, rc, err, msg_part);
    assert_int_equal(p.nkeys, 0);
}

static void test_s3_list_refuses_malformed_and_hostile_xml(void **state)
{
    (void)state;
    expect_corrupt("<ListBucketResult><Contents><Key>a&bogus;</Key></Contents></ListBucketResult>",
                   "entity");
    expect_corrupt("<ListBucketResult><Contents><Key>a&#0;b</Key></Contents></ListBucketResult>",
                   "entity");
    expect_corrupt("<ListBucketResult><Contents><Key>&#xD800;</Key></Contents></ListBucketResult>",
                   "entity");
    expect_corrupt("<ListBucketResult><Contents><Key>&#x110000;</Key></Contents></ListBucketResult>",
                   "entity");
    expect_corrupt("<ListBucketResult><Contents><Key>a & b</Key></Contents></ListBucketResult>",
                   "entity");
    expect_corrupt("<!DOCTYPE r [<!ENTITY x \"y\">]><ListBucketResult></ListBucketResult>",
                   "DOCTYPE");
    expect_corrupt("<ListBucketResult><Contents><Key>a</Contents></Key></ListBucketResult>",
                   "does not close");
    expect_corrupt("<ListBucketResult></ListBucketResult><ListBucketResult></ListBucketResult>",
                   "after the document");
    expect_corrupt("<ListAllMyBucketsResult></ListAllMyBucketsResult>", "not a ListBucketResult");
    expect_corrupt("junk<ListBucketResult></ListBucketResult>", "outside");
    expect_corrupt("<ListBucketResult><Contents><Key>&x;</Key></Contents></ListBucketResult>",
                   "entity");
    expect_corrupt("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
                   "NextContinuationToken");
    expect_corrupt("<ListBucketResult><IsTruncated>yes</IsTruncated></ListBucketResult>",
                   "IsTruncated");
    expect_corrupt("", "no element");
    char deep[400] = "<ListBucketResult>";
    for (int i = 0; i < 20; i++)
        strcat(deep, "<a>");
    expect_corrupt(deep, "deeply");
}

static void test_s3_list_error_document_gives_code_and_message(void **state)
{
    (void)state;
    static const char x[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket"
                            "</Code><Message>The specified bucket does not exist</Message>"
                            "<BucketName>nope</BucketName></Error>";
    tk_s3_list_page_t p;
    char err[TK_ERRLEN] = "";
    assert_int_equal(tk_s3_list_parse(x, strlen(x), &p, err), TK_EIO);
    assert_string_equal(err, "S3 error NoSuchBucket: The specified bucket does not exist");
    assert_int_equal(p.nkeys, 0);
}

static void test_s3_key_is_safe_refuses_paths_that_leave_the_folder(void **state)
{
    (void)state;
    static const char *const safe[] = {
        "a.gz", "prod/trail/AliyunLogs/Actiontrail/cn-hangzhou/2026/11/24/x.gz", "..a/b..",
        "a/.b/c...gz", "sp ace/\xe4\xb8\xad.gz",
    };
    static const char *const unsafe[] = {
        "", "/etc/passwd", "../x.gz", "a/../../x.gz", "a/..", "..", ".", "./a.gz", "a/./b.gz",
        "a//b.gz", "a/", "a\nb.gz", "a\x7f.gz", "a\tb",
    };
    for (size_t i = 0; i < sizeof safe / sizeof *safe; i++)
        if (!tk_s3_key_is_safe(safe[i]))
            fail_msg("'%s' should be safe", safe[i]);
    for (size_t i = 0; i < sizeof unsafe / sizeof *unsafe; i++)
        if (tk_s3_key_is_safe(unsafe[i]))
            fail_msg("'%s' should be refused", unsafe[i]);
    assert_int_equal(tk_s3_key_is_safe(NULL), 0);
}

static void test_s3_uri_encode_keeps_unreserved_and_optionally_slash(void **state)
{
    (void)state;
    tk_buf_t b = TK_BUF_INIT;
    assert_int_equal(tk_s3_uri_encode(&b, "a-Z_0.~/b c+&=\xe4\xb8\xad%", 1), 0);
    assert_string_equal(b.p, "a-Z_0.~/b%20c%2B%26%3D%E4%B8%AD%25");
    tk_buf_reset(&b);
    assert_int_equal(tk_s3_uri_encode(&b, "prod/trail/", 0), 0);
    assert_string_equal(b.p, "prod%2Ftrail%2F");
    tk_buf_free(&b);
}

static void test_s3_open_checks_its_configuration(void **state)
{
    (void)state;
    char err[TK_ERRLEN] = "";
    tk_s3_t *s = (tk_s3_t *)1;
    tk_s3_config_t c = {.endpoint = "http://127.0.0.1:1", .bucket = "b", .access_key_id = "AK",
                        .secret_access_key = "SK", .allow_private = 1};
    tk_s3_config_t bad = c;
    bad.secret_access_key = NULL;
    assert_int_equal(tk_s3_open(&bad, &s, err), TK_EINVAL);
    assert_non_null(strstr(err, "AWS_SECRET_ACCESS_KEY"));
    assert_null(s);
    bad = c;
    bad.endpoint = "ftp://x";
    assert_int_equal(tk_s3_open(&bad, &s, err), TK_EINVAL);
    assert_non_null(strstr(err, "http://"));
    bad = c;
    bad.access_key_id = "A:K";
    assert_int_equal(tk_s3_open(&bad, &s, err), TK_EINVAL);
    bad = c;
    bad.bucket = "a/b";
    assert_int_equal(tk_s3_open(&bad, &s, err), TK_EINVAL);
    bad = c;
    bad.session_token = "tok\r\nX-Evil: 1";
    assert_int_equal(tk_s3_open(&bad, &s, err), TK_EINVAL);
    c.session_token = "FwoGZXIvYXdzEJr";
    assert_int_equal(tk_s3_open(&c, &s, err), 0);
    assert_non_null(s);
    tk_s3_close(s);
    tk_s3_close(NULL);
}

static void test_s3_get_from_an_unreachable_endpoint_is_an_io_error(void **state)
{
    (void)state;
    char err[TK_ERRLEN] = "";
    tk_s3_t *s;
    /* Port 1 on loopback: connection refused at once, no network needed. */
    tk_s3_config_t c = {.endpoint = "http://127.0.0.1:1", .bucket = "b", .access_key_id = "AK",
                        .secret_access_key = "SECRETVALUE", .path_style = 1, .timeout_s = 5,
                        .allow_private = 1};
    assert_int_equal(tk_s3_open(&c, &s, err), 0);
    tk_s3_list_page_t p;
    assert_int_equal(tk_s3_list(s, "x/", NULL, &p, err), TK_EIO);
    assert_non_null(strstr(err, "GET s3://b/"));
    assert_null(strstr(err, "SECRETVALUE"));
    tk_s3_list_page_free(&p);
    assert_int_equal(tk_s3_put(s, "k.gz", "x", 1, err), TK_EIO);
    assert_non_null(strstr(err, "PUT s3://b/k.gz"));
    tk_s3_close(s);
}

/* Parses len bytes from an exactly-sized heap copy (no NUL after them), so
 * AddressSanitizer sees any read past the input. */
static int parse_exact(const char *src, size_t len, tk_s3_list_page_t *p, char *err)
{
    char *b = malloc(len ? len : 1);
    memcpy(b, src, len);
    int rc = tk_s3_list_parse(b, len, p, err);
    free(b);
    return rc;
}

static void test_s3_list_truncated_input_is_never_read_past_its_end(void **state)
{
    (void)state;
    /* 38 bytes, cut inside a reference: the old scanner printed 12 bytes
     * from the '&', 7 past the end of the buffer. */
    static const char cut[] = "<ListBucketResult><Contents><Key>&quot";
    assert_int_equal(sizeof cut - 1, 38);
    tk_s3_list_page_t p;
    char err[TK_ERRLEN] = "";
    assert_int_equal(parse_exact(cut, 38, &p, err), TK_ECORRUPT);
    assert_non_null(strstr(err, "&quot'"));
    assert_null(p.keys);
    static const char *const docs[] = {
        PAGE1, PAGE2,
        "<ListBucketResult><Contents><Key>a&#x4e2d;&lt;<![CDATA[x]]></Key></Contents>"
        "<IsTruncated>false</IsTruncated><!-- c --></ListBucketResult>",
        "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>no &amp; no</Message></Error>",
    };
    for (size_t d = 0; d < sizeof docs / sizeof *docs; d++) {
        size_t full = strlen(docs[d]);
        while (docs[d][full - 1] == '\n') /* trailing blanks are not part of the document */
            full--;
        for (size_t n = 0; n < full; n++) {
            err[0] = 0;
            int rc = parse_exact(docs[d], n, &p, err);
            if (rc != TK_ECORRUPT)
                fail_msg("document %zu cut at %zu of %zu bytes gave %d (%s)", d, n, full, rc, err);
            assert_null(p.keys);
        }
        int rc = parse_exact(docs[d], full, &p, err);
        assert_int_equal(rc, d == 3 ? TK_EIO : 0);
        tk_s3_list_page_free(&p);
    }
}

static void test_s3_list_refuses_billion_laughs_and_external_entities(void **state)
{
    (void)state;
    tk_buf_t b = TK_BUF_INIT;
    tk_buf_puts(&b, "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    for (int i = 1; i <= 9; i++) {
        tk_buf_printf(&b, " <!ENTITY lol%d \"", i);
        for (int k = 0; k < 10; k++)
            tk_buf_printf(&b, "&lol%s;", i == 1 ? "" : (char[]){(char)('0' + i - 1), 0});
        tk_buf_puts(&b, "\">\n");
    }
    tk_buf_puts(&b, "]>\n<ListBucketResult><Contents><Key>&lol9;</Key></Contents>"
                    "<IsTruncated>false</IsTruncated></ListBucketResult>");
    tk_s3_list_page_t p;
    char err[TK_ERRLEN] = "";
    assert_int_equal(parse_exact(b.p, b.len, &p, err), TK_ECORRUPT);
    assert_non_null(strstr(err, "DOCTYPE"));
    assert_int_equal(p.nkeys, 0);
    tk_buf_free(&b);
    static const char xxe[] =
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
        "<ListBucketResult><Contents><Key>&x;</Key></Contents></ListBucketResult>";
    assert_int_equal(parse_exact(xxe, strlen(xxe), &p, err), TK_ECORRUPT);
    assert_non_null(strstr(err, "DOCTYPE"));
    static const char ext[] = "<!DOCTYPE ListBucketResult SYSTEM \"http://169.254.169.254/x.dtd\">"
                              "<ListBucketResult></ListBucketResult>";
    assert_int_equal(parse_exact(ext, strlen(ext), &p, err), TK_ECORRUPT);
    assert_non_null(strstr(err, "DOCTYPE"));
}

static void test_s3_list_over_the_size_cap_is_refused(void **state)
{
    (void)state;
    size_t n = TK_S3_LIST_MAX_BYTES + 1;
    char *big = malloc(n);
    memset(big, ' ', n);
    tk_s3_list_page_t p;
    char err[TK_ERRLEN] = "";
    assert_int_equal(tk_s3_list_parse(big, n, &p, err), TK_ETOOBIG);
    assert_non_null(strstr(err, "over the limit"));
    free(big);
}

static void test_s3_endpoint_obeys_the_egress_policy(void **state)
{
    (void)state;
    char err[TK_ERRLEN] = "";
    tk_s3_t *s = NULL;
    tk_s3_config_t c = {.bucket = "b", .access_key_id = "AK", .secret_access_key = "SK",
                        .path_style = 1, .timeout_s = 5};
    static const char *const never[] = {"http://169.254.169.254/", "http://[fd00:ec2::254]/",
                                        "http://100.100.100.200", "file:///etc/passwd",
                                        "gopher://127.0.0.1:70/", "dict://127.0.0.1:2628/"};
    for (size_t i = 0; i < sizeof never / sizeof *never; i++)
        for (int allow = 0; allow <= 1; allow++) {
            c.endpoint = never[i];
            c.allow_private = allow;
            if (tk_s3_open(&c, &s, err) != TK_EINVAL)
                fail_msg("endpoint %s opened (allow_private %d)", never[i], allow);
            assert_null(s);
        }
    c.endpoint = "http://127.0.0.1:1";
    c.allow_private = 0;
    assert_int_equal(tk_s3_open(&c, &s, err), TK_EINVAL);
    assert_non_null(strstr(err, "--allow-private-endpoints"));
    /* A name is judged once resolved, at connect time. */
    c.endpoint = "http://localhost:1";
    assert_int_equal(tk_s3_open(&c, &s, err), 0);
    assert_int_equal(tk_s3_put(s, "k.gz", "x", 1, err), TK_EPERM);
    assert_non_null(strstr(err, "PUT s3://b/k.gz"));
    assert_non_null(strstr(err, "refused by the egress policy"));
    assert_non_null(strstr(err, "loopback"));
    tk_s3_close(s);
    c.allow_private = 1;
    assert_int_equal(tk_s3_open(&c, &s, err), 0);
    assert_int_equal(tk_s3_put(s, "k.gz", "x", 1, err), TK_EIO); /* reached: port closed */
    assert_null(strstr(err, "egress"));
    tk_s3_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3_list_parses_a_page_with_its_continuation_token),
        cmocka_unit_test(test_s3_list_last_page_is_not_truncated_and_has_no_token),
        cmocka_unit_test(test_s3_list_refused_empty_root_is_an_error),
        cmocka_unit_test(test_s3_list_of_an_empty_prefix_has_no_keys),
        cmocka_unit_test(test_s3_list_decodes_entities_cdata_and_namespace_prefixes),
        cmocka_unit_test(test_s3_list_every_truncation_of_a_page_is_refused),
        cmocka_unit_test(test_s3_list_refuses_malformed_and_hostile_xml),
        cmocka_unit_test(test_s3_list_error_document_gives_code_and_message),
        cmocka_unit_test(test_s3_key_is_safe_refuses_paths_that_leave_the_folder),
        cmocka_unit_test(test_s3_uri_encode_keeps_unreserved_and_optionally_slash),
        cmocka_unit_test(test_s3_open_checks_its_configuration),
        cmocka_unit_test(test_s3_get_from_an_unreachable_endpoint_is_an_io_error),
        cmocka_unit_test(test_s3_list_truncated_input_is_never_read_past_its_end),
        cmocka_unit_test(test_s3_list_refuses_billion_laughs_and_external_entities),
        cmocka_unit_test(test_s3_list_over_the_size_cap_is_refused),
        cmocka_unit_test(test_s3_endpoint_obeys_the_egress_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

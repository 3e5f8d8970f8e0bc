/* Tests of the small S3 client's offline parts (src/trail/s3_client.c): the
 * ListObjectsV2 XML parser (pages, entities, truncated or hostile XML), the
 * check that keeps hostile keys from leaving the download folder, SigV4 URI
 * encoding and configuration checks. Requests themselves are tested end to
 * end against s3rver (s3.sh) and botocore (sigv4.sh). */
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
                        .secret_access_key = "SK"};
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
                        .secret_access_key = "SECRETVALUE", .path_style = 1, .timeout_s = 5};
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3_list_parses_a_page_with_its_continuation_token),
        cmocka_unit_test(test_s3_list_last_page_is_not_truncated_and_has_no_token),
        cmocka_unit_test(test_s3_list_of_an_empty_prefix_has_no_keys),
        cmocka_unit_test(test_s3_list_decodes_entities_cdata_and_namespace_prefixes),
        cmocka_unit_test(test_s3_list_every_truncation_of_a_page_is_refused),
        cmocka_unit_test(test_s3_list_refuses_malformed_and_hostile_xml),
        cmocka_unit_test(test_s3_list_error_document_gives_code_and_message),
        cmocka_unit_test(test_s3_key_is_safe_refuses_paths_that_leave_the_folder),
        cmocka_unit_test(test_s3_uri_encode_keeps_unreserved_and_optionally_slash),
        cmocka_unit_test(test_s3_open_checks_its_configuration),
        cmocka_unit_test(test_s3_get_from_an_unreachable_endpoint_is_an_io_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for CloudTrail input: the stratus detonation logs (real records) load
 * with zero rejects, a real record maps to the canonical shape of SPEC.md 1.2
 * with the original kept verbatim, and the reverse rendering for the
 * CloudTrail-compatible LookupEvents. Reads $TK_SHARED, never copies it. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/fs.h"
#include "base/tk.h"
#include "event/event.h"
#include "event/format.h"
#include "event/parse.h"

static char g_dir[1024];

static int setup(void **st)
{
    (void)st;
    const char *sh = getenv("TK_SHARED");
    snprintf(g_dir, sizeof g_dir, "%s/datasets/stratus-detonation-logs", sh ? sh : "/work/shared");
    return 0;
}

static char *read_file(const char *name, size_t *len)
{
    char path[2048], err[TK_ERRLEN];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    char *data = NULL;
    if (tk_fs_read_all(path, &data, len, err))
        fail_msg("cannot read %s: %s", path, err);
    return data;
}

static int has_term(const tk_event_t *e, tk_attr_t a, const char *v)
{
    for (uint32_t i = 0; i < e->nterms; i++)
        if (e->terms[i].attr == a && e->terms[i].val.len == strlen(v) &&
            memcmp(e->terms[i].val.p, v, e->terms[i].val.len) == 0)
            return 1;
    return 0;
}

static const char *jstr(cJSON *o, const char *path)
{
    /* path "a.b.c" */
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    cJSON *cur = o;
    for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, "."))
        cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
    return cJSON_IsString(cur) ? cur->valuestring : NULL;
}

static void test_every_stratus_file_imports_with_zero_rejects(void **st)
{
    (void)st;
    DIR *d = opendir(g_dir);
    assert_non_null(d);
    struct dirent *de;
    size_t files = 0, events = 0, expected = 0;
    tk_batch_t *b = tk_batch_create();
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl < 5 || strcmp(de->d_name + nl - 5, ".json") != 0)
            continue;
        size_t len;
        char *data = read_file(de->d_name, &len);
        cJSON *arr = cJSON_ParseWithLength(data, len);
        assert_non_null(arr);
        size_t want = (size_t)cJSON_GetArraySize(arr);
        cJSON_Delete(arr);
        tk_batch_reset(b);
        char err[TK_ERRLEN];
        tk_parse_opts_t o = {.source_name = de->d_name};
        assert_int_equal(tk_event_parse(b, data, len, &o, err), 0);
        if (tk_batch_reject_count(b))
            fail_msg("%s: reject %s %s: %s", de->d_name, tk_batch_rejects(b)->code, tk_batch_rejects(b)->field,
                     tk_batch_rejects(b)->message);
        assert_int_equal(tk_batch_count(b), want);
        for (size_t i = 0; i < tk_batch_count(b); i++) {
            const tk_event_t *e = &tk_batch_events(b)[i];
            assert_true(e->account.len > 0);
            assert_true(e->event_id.len > 0);
            assert_true(e->time_ms > 1700000000000LL);
            /* The stored canonical object is valid JSON holding the original. */
            cJSON *j = cJSON_ParseWithLength(e->json.p, e->json.len);
            assert_non_null(j);
            assert_non_null(cJSON_GetObjectItemCaseSensitive(j, "cloudTrailRecord"));
            cJSON_Delete(j);
        }
        expected += want;
        events += tk_batch_count(b);
        files++;
        free(data);
    }
    closedir(d);
    tk_batch_destroy(b);
    assert_int_equal(files, 35);
    assert_int_equal(events, expected);
    assert_int_equal(events, 310);
}

static const tk_event_t *find_event(tk_batch_t *b, const char *id)
{
    for (size_t i = 0; i < tk_batch_count(b); i++) {
        const tk_event_t *e = &tk_batch_events(b)[i];
        if (e->event_id.len == strlen(id) && memcmp(e->event_id.p, id, e->event_id.len) == 0)
            return e;
    }
    fail_msg("event %s not found", id);
    return NULL;
}

static void test_stratus_assume_role_record_maps_to_canonical(void **st)
{
    (void)st;
    size_t len;
    char *data = read_file("aws.credential-access.ec2-get-password-data.json", &len);
    tk_batch_t *b = tk_batch_create();
    char err[TK_ERRLEN];
    assert_int_equal(tk_event_parse(b, data, len, NULL, err), 0);
    const tk_event_t *e = find_event(b, "d769ddfd-2cda-4cfa-b33f-05d3b886921d");
    assert_int_equal(e->json.len, strlen(e->json.p)); /* NUL-terminated, no embedded NUL */
    cJSON *j = cJSON_ParseWithLength(e->json.p, e->json.len);
    assert_non_null(j);
    assert_string_equal(jstr(j, "eventId"), "d769ddfd-2cda-4cfa-b33f-05d3b886921d");
    assert_string_equal(jstr(j, "eventVersion"), "1");
    assert_string_equal(jstr(j, "eventTime"), "2024-07-30T21:31:15Z");
    assert_string_equal(jstr(j, "acsRegion"), "apiso-northsouth-3r");
    assert_string_equal(jstr(j, "sourceIpAddress"), "200.249.253.51");
    assert_string_equal(jstr(j, "eventRW"), "Read");
    assert_string_equal(jstr(j, "eventType"), "ApiCall");
    assert_string_equal(jstr(j, "eventSource"), "sts.amazonaws.com");
    assert_string_equal(jstr(j, "serviceName"), "Sts");
    assert_string_equal(jstr(j, "requestId"), "556ffdc4-27d1-4ce9-8932-cdca27641708");
    assert_string_equal(jstr(j, "recipientAccountId"), "457448411975");
    assert_string_equal(jstr(j, "userIdentity.type"), "ram-user");
    assert_string_equal(jstr(j, "userIdentity.userName"), "christophe");
    assert_string_equal(jstr(j, "userIdentity.accessKeyId"), "AKIAWOGXN38MFN92ING5");
    assert_string_equal(jstr(j, "userIdentity.principalId"), "AIDAFSHDVNSWGFKZR06G");
    const char *arn = "arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role";
    assert_string_equal(jstr(j, "resourceType"), "AWS::IAM::Role");
    assert_string_equal(jstr(j, "resourceName"), arn);
    cJSON *rr = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "referencedResources"),
                                                 "AWS::IAM::Role");
    assert_int_equal(cJSON_GetArraySize(rr), 1);
    assert_string_equal(cJSON_GetArrayItem(rr, 0)->valuestring, arn);
    assert_string_equal(jstr(j, "requestParameters.roleSessionName"), "aws-go-sdk-1722375070115152000");
    assert_non_null(jstr(j, "responseElements.credentials.accessKeyId"));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "sensitiveAction")));
    /* The original record is kept: same content as the file's element 30. */
    cJSON *file = cJSON_ParseWithLength(data, len);
    char *orig = cJSON_PrintUnformatted(cJSON_GetArrayItem(file, 30));
    char *kept = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, "cloudTrailRecord"));
    assert_string_equal(kept, orig);
    free(orig);
    free(kept);
    cJSON_Delete(file);
    cJSON_Delete(j);
    /* tk_event_t fields and terms. */
    assert_int_equal(e->time_ms, 1722375075000LL);
    assert_memory_equal(e->region.p, "apiso-northsouth-3r", e->region.len);
    assert_true(has_term(e, TK_ATTR_SERVICENAME, "Sts"));
    assert_true(has_term(e, TK_ATTR_EVENTNAME, "AssumeRole"));
    assert_true(has_term(e, TK_ATTR_USER, "christophe"));
    assert_true(has_term(e, TK_ATTR_ACCESSKEYID, "AKIAWOGXN38MFN92ING5"));
    assert_true(has_term(e, TK_ATTR_RESOURCETYPE, "AWS::IAM::Role"));
    assert_true(has_term(e, TK_ATTR_RESOURCENAME, arn));
    assert_true(has_term(e, TK_ATTR_EVENTRW, "Read"));
    assert_true(has_term(e, TK_ATTR_SOURCEIP, "200.249.253.51"));
    assert_true(has_term(e, TK_ATTR_EVENTTYPE, "ApiCall"));
    assert_true(has_term(e, TK_ATTR_EVENTSOURCE, "sts.amazonaws.com"));
    assert_true(has_term(e, TK_ATTR_SENSITIVEACTION, "false"));
    tk_batch_destroy(b);
    free(data);
}

/* No userIdentity.type stays absent (was ""); a resource type derived from
 * an ARN is named as AWS names it (was "AWS::SSM::Managed-instance-inventory"). */
static void test_untyped_identity_and_arn_resource_types(void **st)
{
    (void)st;
    const char *rec =
        "{\"Records\":[{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-10-17T20:10:00Z\",\"eventID\":\"u1\","
        "\"eventSource\":\"ssm.amazonaws.com\",\"eventName\":\"PutInventory\",\"awsRegion\":\"us-east-1\","
        "\"eventType\":\"AwsApiCall\",\"recipientAccountId\":\"494659789341\","
        "\"userIdentity\":{\"accountId\":\"494659789341\",\"invokedBy\":\"ssm.amazonaws.com\"},"
        "\"resources\":[{\"ARN\":\"arn:aws:ssm:us-east-1:494659789341:managed-instance-inventory/i-1\"},"
        "{\"ARN\":\"arn:aws:cloudtrail:us-east-1:494659789341:trail/main\"}]}]}";
    tk_batch_t *b = tk_batch_create();
    char err[TK_ERRLEN];
    assert_int_equal(tk_event_parse(b, rec, strlen(rec), NULL, err), 0);
    assert_int_equal(tk_batch_count(b), 1);
    const tk_event_t *e = &tk_batch_events(b)[0];
    cJSON *j = cJSON_ParseWithLength(e->json.p, e->json.len);
    assert_non_null(j);
    cJSON *ui = cJSON_GetObjectItemCaseSensitive(j, "userIdentity");
    assert_non_null(ui);
    assert_null(cJSON_GetObjectItemCaseSensitive(ui, "type"));
    assert_string_equal(jstr(j, "userIdentity.accountId"), "494659789341");
    cJSON_Delete(j);
    assert_true(has_term(e, TK_ATTR_RESOURCETYPE, "AWS::SSM::ManagedInstanceInventory"));
    assert_true(has_term(e, TK_ATTR_RESOURCETYPE, "AWS::CloudTrail::Trail"));
    tk_batch_destroy(b);
}

static void test_assumed_role_and_untyped_resources(void **st)
{
    (void)st;
    size_t len;
    char *data = read_file("aws.credential-access.ssm-retrieve-securestring-parameters.json", &len);
    tk_batch_t *b = tk_batch_create();
    char err[TK_ERRLEN];
    assert_int_equal(tk_event_parse(b, data, len, NULL, err), 0);
    assert_int_equal(tk_batch_reject_count(b), 0);
    const tk_event_t *e = &tk_batch_events(b)[8];
    assert_true(has_term(e, TK_ATTR_RESOURCETYPE, "AWS::SSM::Parameter"));
    assert_true(has_term(e, TK_ATTR_RESOURCENAME,
                         "arn:aws:ssm:cn-west-3r:933175858973:parameter/credentials/stratus-red-team/credentials-12"));
    tk_batch_destroy(b);
    free(data);

    const char *rec =
        "{\"Records\":[{\"eventVersion\":\"1.09\",\"eventTime\":\"2024-10-17T20:10:00Z\",\"eventID\":\"ar1\","
        "\"eventSource\":\"ec2.amazonaws.com\",\"eventName\":\"TerminateInstances\",\"awsRegion\":\"us-east-1\","
        "\"readOnly\":false,\"eventType\":\"AwsApiCall\",\"recipientAccountId\":\"494659789341\","
        "\"userIdentity\":{\"type\":\"AssumedRole\",\"principalId\":\"AROA2N7TQQRGKJYPCLOG0:cli\","
        "\"arn\":\"arn:aws:sts::494659789341:assumed-role/test-role/cli\",\"accountId\":\"494659789341\","
        "\"accessKeyId\":\"ASIA6FTSFH98XNF7DFZB\",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\","
        "\"arn\":\"arn:aws:iam::494659789341:role/test-role\",\"userName\":\"test-role\"}}}},"
        "{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-10-17T20:11:00Z\",\"eventID\":\"root1\","
        "\"eventName\":\"ConsoleLogin\",\"eventSource\":\"signin.amazonaws.com\",\"eventType\":\"AwsConsoleSignIn\","
        "\"awsRegion\":\"us-east-1\",\"recipientAccountId\":\"1\",\"userIdentity\":{\"type\":\"Root\",\"accountId\":\"1\"},"
        "\"additionalEventData\":{\"MFAUsed\":\"No\"},\"responseElements\":{\"ConsoleLogin\":\"Failure\"},"
        "\"errorMessage\":\"Failed authentication\"},"
        "{\"eventVersion\":\"1.08\",\"eventID\":\"bad\",\"awsRegion\":\"x\"}]}";
    b = tk_batch_create();
    assert_int_equal(tk_event_parse(b, rec, strlen(rec), NULL, err), 0);
    assert_int_equal(tk_batch_count(b), 2);
    assert_int_equal(tk_batch_reject_count(b), 1);
    assert_int_equal(tk_batch_rejects(b)->index, 2);
    assert_string_equal(tk_batch_rejects(b)->field, "eventTime");
    e = &tk_batch_events(b)[0];
    assert_true(has_term(e, TK_ATTR_ROLENAME, "test-role"));
    assert_true(has_term(e, TK_ATTR_USER, "cli"));
    assert_true(has_term(e, TK_ATTR_EVENTRW, "Write"));
    assert_true(has_term(e, TK_ATTR_SENSITIVEACTION, "true"));
    cJSON *j = cJSON_ParseWithLength(e->json.p, e->json.len);
    assert_string_equal(jstr(j, "userIdentity.type"), "assumed-role");
    assert_string_equal(jstr(j, "userIdentity.sessionContext.sessionIssuer.userName"), "test-role");
    cJSON_Delete(j);
    e = &tk_batch_events(b)[1];
    j = cJSON_ParseWithLength(e->json.p, e->json.len);
    assert_string_equal(jstr(j, "userIdentity.type"), "root-account");
    assert_string_equal(jstr(j, "userIdentity.userName"), "root");
    assert_string_equal(jstr(j, "eventType"), "ConsoleSignin");
    assert_string_equal(jstr(j, "additionalEventData.MFAUsed"), "No");
    assert_string_equal(jstr(j, "errorMessage"), "Failed authentication");
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "eventRW"));
    cJSON_Delete(j);
    assert_int_equal(e->has_error, 0); /* errorMessage alone is not an error code */
    tk_batch_destroy(b);

    /* Keys spelled with escapes: the DOM sees them, the raw copy does not;
     * the record still maps (from what is found) and keeps its original. */
    const char *esc = "{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-10-17T20:11:00Z\",\"awsRegion\":\"r\","
                      "\"recipientAccountId\":\"1\",\"user\\u0049dentity\":{\"type\":\"IAMUser\",\"userName\":\"u\"}}";
    b = tk_batch_create();
    assert_int_equal(tk_event_parse(b, esc, strlen(esc), NULL, err), 0);
    assert_int_equal(tk_batch_count(b), 1);
    j = cJSON_ParseWithLength(tk_batch_events(b)->json.p, tk_batch_events(b)->json.len);
    assert_string_equal(jstr(j, "userIdentity.type"), "ram-user");
    cJSON_Delete(j);
    tk_batch_destroy(b);
}

static void test_original_record_kept_byte_for_byte(void **st)
{
    (void)st;
    const char *rec = "{ \"eventVersion\" : \"1.08\",\"eventTime\":\"2024-07-31T12:29:17Z\", \"eventID\":\"x1\","
                      "\"awsRegion\":\"eu\",\"recipientAccountId\":\"1\",\"n\":1.50e0,\"s\":\"\\u00e9\\/\","
                      "\"requestParameters\":{\"a\" :  [ 1 , 2 ]}}";
    char in[1024];
    snprintf(in, sizeof in, "  %s\n", rec);
    tk_batch_t *b = tk_batch_create();
    char err[TK_ERRLEN];
    assert_int_equal(tk_event_parse(b, in, strlen(in), NULL, err), 0);
    assert_int_equal(tk_batch_count(b), 1);
    const tk_event_t *e = tk_batch_events(b);
    char want[1100];
    snprintf(want, sizeof want, ",\"cloudTrailRecord\":%s}", rec);
    assert_true(e->json.len > strlen(want));
    assert_memory_equal(e->json.p + e->json.len - strlen(want), want, strlen(want));
    assert_non_null(strstr(e->json.p, "\"requestParameters\":{\"a\" :  [ 1 , 2 ]}"));
    /* Reverse rendering returns that original as is. */
    tk_buf_t out = TK_BUF_INIT;
    assert_int_equal(tk_event_to_cloudtrail(e->json.p, e->json.len, &out, err), 0);
    assert_int_equal(out.len, strlen(rec));
    assert_memory_equal(out.p, rec, strlen(rec));
    tk_buf_free(&out);
    tk_batch_destroy(b);
}

static void test_concatenated_cloudtrail_files_and_arrays_all_read(void **st)
{
    (void)st;
    const char *r1 = "{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-07-31T12:29:17Z\",\"awsRegion\":\"eu\",\"recipientAccountId\":\"1\"}";
    char in[4096];
    /* Two CloudTrail files back to back (cat), then a file per line (some
     * exporters), then a bare array: 6 records, in order, nothing lost. */
    snprintf(in, sizeof in,
             "{\"Records\":[%s,%s],\"x\":{\"a\":[1]}}\n{\"Records\":[%s]}\n{\"Records\":[%s]}\n[%s,{\"bad\":1}]\n%s",
             r1, r1, r1, r1, r1, r1);
    tk_batch_t *b = tk_batch_create();
    char err[TK_ERRLEN];
    assert_int_equal(tk_event_parse(b, in, strlen(in), NULL, err), 0);
    assert_int_equal(tk_batch_count(b), 6);
    assert_int_equal(tk_batch_reject_count(b), 1);
    assert_int_equal(tk_batch_seen(b), 7);
    assert_int_equal(tk_batch_rejects(b)->index, 5);
    assert_int_equal(tk_batch_rejects(b)->line, 4);
    for (size_t i = 0; i < 6; i++)
        assert_non_null(strstr(tk_batch_events(b)[i].json.p, "\"cloudTrailRecord\":"));
    tk_batch_destroy(b);
}

static void test_jsonl_mixes_actiontrail_and_cloudtrail_lines(void **st)
{
    (void)st;
    const char *in =
        "{\"eventVersion\":\"1\",\"eventTime\":\"2026-11-24T10:00:00Z\",\"eventId\":\"at1\",\"acsRegion\":\"cn-hangzhou\",\"recipientAccountId\":\"1\"}\n"
        "{\"eventVersion\":\"1.10\",\"eventTime\":\"2026-11-24T10:00:00Z\",\"eventID\":\"ct1\",\"awsRegion\":\"us-east-1\",\"recipientAccountId\":\"1\"}\n";
    tk_batch_t *b = tk_batch_create();
    char err[TK_ERRLEN];
    assert_int_equal(tk_event_parse(b, in, strlen(in), NULL, err), 0);
    assert_int_equal(tk_batch_count(b), 2);
    const tk_event_t *e = tk_batch_events(b);
    assert_null(strstr(e[0].json.p, "cloudTrailRecord"));
    assert_memory_equal(e[0].region.p, "cn-hangzhou", 11);
    assert_non_null(strstr(e[1].json.p, "cloudTrailRecord"));
    assert_memory_equal(e[1].region.p, "us-east-1", 9);
    assert_memory_equal(e[1].event_id.p, "ct1", 3);
    tk_batch_destroy(b);
    /* Only the identity type says CloudTrail here. */
    const char *by_type = "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\","
                          "\"userIdentity\":{\"type\":\"IAMUser\",\"userName\":\"bob\"}}";
    b = tk_batch_create();
    assert_int_equal(tk_event_parse(b, by_type, strlen(by_type), NULL, err), 0);
    assert_int_equal(tk_batch_count(b), 1);
    assert_non_null(strstr(tk_batch_events(b)->json.p, "\"type\":\"ram-user\""));
    tk_batch_destroy(b);
}

static void test_actiontrail_event_renders_as_cloudtrail_record(void **st)
{
    (void)st;
    const char *at =
        "{\"eventVersion\":\"1\",\"eventId\":\"E1\",\"eventTime\":\"2026-11-24T10:00:00Z\",\"eventType\":\"ApiCall\","
        "\"eventRW\":\"Read\",\"eventSource\":\"ecs.aliyuncs.com\",\"serviceName\":\"Ecs\",\"eventName\":\"DescribeInstances\","
        "\"acsRegion\":\"cn-hangzhou\",\"requestId\":\"R1\",\"sourceIpAddress\":\"10.0.0.1\",\"errorCode\":\"\","
        "\"userIdentity\":{\"type\":\"ram-user\",\"principalId\":\"p1\",\"accountId\":\"1234\",\"userName\":\"alice\"},"
        "\"requestParameters\":{\"RegionId\":\"cn-hangzhou\"},\"referencedResources\":{\"ACS::ECS::Instance\":[\"i-1\",\"i-2\"]},"
        "\"recipientAccountId\":\"1234\"}";
    tk_buf_t out = TK_BUF_INIT;
    char err[TK_ERRLEN];
    assert_int_equal(tk_event_to_cloudtrail(at, strlen(at), &out, err), 0);
    cJSON *j = cJSON_ParseWithLength(out.p, out.len);
    if (!j)
        fail_msg("not JSON: %s", out.p);
    assert_string_equal(jstr(j, "eventVersion"), "1.08");
    assert_string_equal(jstr(j, "eventID"), "E1");
    assert_string_equal(jstr(j, "awsRegion"), "cn-hangzhou");
    assert_string_equal(jstr(j, "sourceIPAddress"), "10.0.0.1");
    assert_string_equal(jstr(j, "requestID"), "R1");
    assert_string_equal(jstr(j, "eventType"), "AwsApiCall");
    assert_string_equal(jstr(j, "userIdentity.type"), "IAMUser");
    assert_string_equal(jstr(j, "userIdentity.userName"), "alice");
    assert_string_equal(jstr(j, "requestParameters.RegionId"), "cn-hangzhou");
    assert_string_equal(jstr(j, "recipientAccountId"), "1234");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "readOnly")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "managementEvent")));
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "errorCode")); /* "" means success: omitted */
    cJSON *res = cJSON_GetObjectItemCaseSensitive(j, "resources");
    assert_int_equal(cJSON_GetArraySize(res), 2);
    assert_string_equal(jstr(cJSON_GetArrayItem(res, 1), "ARN"), "i-2");
    assert_string_equal(jstr(cJSON_GetArrayItem(res, 1), "type"), "ACS::ECS::Instance");
    cJSON_Delete(j);
    assert_int_equal(tk_event_to_cloudtrail("[1]", 3, &out, err), TK_EINVAL);
    tk_buf_free(&out);
}

static void test_large_cloudtrail_record_keeps_big_objects_only_in_original(void **st)
{
    (void)st;
    size_t pad = 150 * 1024;
    char *rec = malloc(pad + 512);
    int k = sprintf(rec, "{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-07-31T12:29:17Z\",\"eventID\":\"big\","
                         "\"awsRegion\":\"eu\",\"recipientAccountId\":\"1\",\"requestParameters\":{\"a\":1},"
                         "\"responseElements\":{\"blob\":\"");
    memset(rec + k, 'x', pad);
    k += (int)pad;
    k += sprintf(rec + k, "\"}}");
    tk_batch_t *b = tk_batch_create();
    char err[TK_ERRLEN];
    assert_int_equal(tk_event_parse(b, rec, (size_t)k, NULL, err), 0);
    assert_int_equal(tk_batch_reject_count(b), 0);
    assert_int_equal(tk_batch_count(b), 1);
    const tk_event_t *e = tk_batch_events(b);
    assert_true(e->json.len <= TK_EVENT_MAX_BYTES);
    cJSON *j = cJSON_ParseWithLength(e->json.p, e->json.len);
    assert_non_null(j);
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "responseElements"));
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "requestParameters"));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "omittedFields")), 3);
    cJSON_Delete(j);
    /* The original is still whole. */
    tk_buf_t out = TK_BUF_INIT;
    assert_int_equal(tk_event_to_cloudtrail(e->json.p, e->json.len, &out, err), 0);
    assert_int_equal(out.len, (size_t)k);
    assert_memory_equal(out.p, rec, (size_t)k);
    tk_buf_free(&out);
    tk_batch_destroy(b);
    free(rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_stratus_file_imports_with_zero_rejects),
        cmocka_unit_test(test_stratus_assume_role_record_maps_to_canonical),
        cmocka_unit_test(test_assumed_role_and_untyped_resources),
        cmocka_unit_test(test_untyped_identity_and_arn_resource_types),
        cmocka_unit_test(test_original_record_kept_byte_for_byte),
        cmocka_unit_test(test_jsonl_mixes_actiontrail_and_cloudtrail_lines),
        cmocka_unit_test(test_concatenated_cloudtrail_files_and_arrays_all_read),
        cmocka_unit_test(test_actiontrail_event_renders_as_cloudtrail_record),
        cmocka_unit_test(test_large_cloudtrail_record_keeps_big_objects_only_in_original),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

/* Tests for the output formats of src/event/format.h: the registry, and OCSF
 * API Activity rendering of ActionTrail and CloudTrail-sourced events. */
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
#include "base/tk.h"
#include "event/format.h"
#include "event/parse.h"

static const char *jstr(cJSON *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    cJSON *cur = o;
    for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, "."))
        cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
    return cJSON_IsString(cur) ? cur->valuestring : NULL;
}

static double jnum(cJSON *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    cJSON *cur = o;
    for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, "."))
        cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
    if (!cJSON_IsNumber(cur))
        fail_msg("%s is not a number", path);
    return cur->valuedouble;
}

static cJSON *ocsf_of(const char *json)
{
    tk_buf_t out = TK_BUF_INIT;
    char err[TK_ERRLEN];
    assert_int_equal(tk_event_to_ocsf(json, strlen(json), &out, err), 0);
    cJSON *j = cJSON_ParseWithLength(out.p, out.len);
    if (!j)
        fail_msg("OCSF output is not JSON: %s", out.p);
    tk_buf_free(&out);
    return j;
}

static void test_registry_lists_and_finds_formats(void **st)
{
    (void)st;
    const tk_event_format_t *f;
    size_t n = tk_event_formats(&f);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        assert_ptr_equal(tk_event_format_find(f[i].name), &f[i]);
        assert_non_null(f[i].render);
        assert_true(strlen(f[i].description) > 10);
    }
    assert_null(tk_event_format_find("xml"));
    assert_null(tk_event_format_find(NULL));
    const char *ev = "{\"a\" : 1}";
    tk_buf_t out = TK_BUF_INIT;
    char err[TK_ERRLEN];
    assert_int_equal(tk_event_format_find("canonical")->render(ev, strlen(ev), &out, err), 0);
    assert_string_equal(out.p, ev);
    tk_buf_free(&out);
}

static void test_actiontrail_event_as_ocsf_api_activity(void **st)
{
    (void)st;
    const char *ev =
        "{\"eventId\":\"E1\",\"eventVersion\":\"1\",\"eventTime\":\"2026-11-24T10:00:00.123Z\",\"eventType\":\"ApiCall\","
        "\"eventRW\":\"Write\",\"eventSource\":\"ecs.aliyuncs.com\",\"serviceName\":\"Ecs\",\"eventName\":\"DeleteInstance\","
        "\"acsRegion\":\"cn-hangzhou\",\"requestId\":\"R1\",\"apiVersion\":\"2014-05-26\",\"sourceIpAddress\":\"203.0.113.9\","
        "\"userAgent\":\"cli\",\"userIdentity\":{\"type\":\"ram-user\",\"principalId\":\"P1\",\"accountId\":\"1234\","
        "\"userName\":\"alice\",\"accessKeyId\":\"LTAIx\"},\"requestParameters\":{\"InstanceId\":\"i-1\"},"
        "\"errorCode\":\"Forbidden\",\"errorMessage\":\"no\",\"referencedResources\":{\"ACS::ECS::Instance\":[\"i-1\",\"i-2\"]},"
        "\"recipientAccountId\":\"1234\"}";
    cJSON *j = ocsf_of(ev);
    assert_int_equal((int)jnum(j, "class_uid"), 6003);
    assert_int_equal((int)jnum(j, "category_uid"), 6);
    assert_int_equal((int)jnum(j, "activity_id"), 4);
    assert_string_equal(jstr(j, "activity_name"), "Delete");
    assert_int_equal((int)jnum(j, "type_uid"), 600304);
    assert_true(jnum(j, "time") == 1795514400123.0);
    assert_int_equal((int)jnum(j, "status_id"), 2);
    assert_string_equal(jstr(j, "status"), "Failure");
    assert_string_equal(jstr(j, "status_code"), "Forbidden");
    assert_string_equal(jstr(j, "status_detail"), "no");
    assert_string_equal(jstr(j, "metadata.uid"), "E1");
    assert_string_equal(jstr(j, "metadata.product.name"), "ActionTrail");
    assert_string_equal(jstr(j, "api.operation"), "DeleteInstance");
    assert_string_equal(jstr(j, "api.service.name"), "ecs.aliyuncs.com");
    assert_string_equal(jstr(j, "api.request.uid"), "R1");
    assert_string_equal(jstr(j, "api.request.data.InstanceId"), "i-1");
    assert_string_equal(jstr(j, "api.version"), "2014-05-26");
    assert_string_equal(jstr(j, "actor.user.name"), "alice");
    assert_string_equal(jstr(j, "actor.user.uid"), "P1");
    assert_string_equal(jstr(j, "actor.user.credential_uid"), "LTAIx");
    assert_string_equal(jstr(j, "actor.user.account.uid"), "1234");
    assert_string_equal(jstr(j, "src_endpoint.ip"), "203.0.113.9");
    assert_string_equal(jstr(j, "http_request.user_agent"), "cli");
    assert_string_equal(jstr(j, "cloud.provider"), "AlibabaCloud");
    assert_string_equal(jstr(j, "cloud.region"), "cn-hangzhou");
    assert_string_equal(jstr(j, "cloud.account.uid"), "1234");
    cJSON *res = cJSON_GetObjectItemCaseSensitive(j, "resources");
    assert_int_equal(cJSON_GetArraySize(res), 2);
    assert_string_equal(jstr(cJSON_GetArrayItem(res, 1), "uid"), "i-2");
    assert_string_equal(jstr(cJSON_GetArrayItem(res, 1), "type"), "ACS::ECS::Instance");
    cJSON_Delete(j);

    /* The CloudTrail rendering lists the same names as resources[] ARNs. */
    tk_buf_t ct = TK_BUF_INIT;
    char err[TK_ERRLEN];
    assert_int_equal(tk_event_to_cloudtrail(ev, strlen(ev), &ct, err), 0);
    cJSON *c = cJSON_ParseWithLength(ct.p, ct.len);
    assert_non_null(c);
    cJSON *cres = cJSON_GetObjectItemCaseSensitive(c, "resources");
    assert_int_equal(cJSON_GetArraySize(cres), 2);
    assert_string_equal(jstr(cJSON_GetArrayItem(cres, 0), "ARN"), "i-1");
    assert_string_equal(jstr(cJSON_GetArrayItem(cres, 1), "ARN"), "i-2");
    assert_string_equal(jstr(cJSON_GetArrayItem(cres, 1), "type"), "ACS::ECS::Instance");
    cJSON_Delete(c);
    tk_buf_free(&ct);
}

static void test_activity_follows_api_verb_and_internal_source_is_a_domain(void **st)
{
    (void)st;
    static const struct {
        const char *name, *rw;
        int act;
    } cases[] = {
        {"DescribeInstances", "Read", 2}, {"CreateAccessKey", "Write", 1}, {"ModifyInstanceAttribute", "Write", 3},
        {"TerminateInstances", "Write", 4}, {"ConsoleSignin", "Write", 99}, {"AssumeRole", "Read", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char ev[512];
        snprintf(ev, sizeof ev,
                 "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"eventName\":\"%s\",\"eventRW\":\"%s\",\"sourceIpAddress\":\"Internal\"}",
                 cases[i].name, cases[i].rw);
        cJSON *j = ocsf_of(ev);
        assert_int_equal((int)jnum(j, "activity_id"), cases[i].act);
        assert_int_equal((int)jnum(j, "status_id"), 1);
        assert_string_equal(jstr(j, "src_endpoint.domain"), "Internal");
        assert_null(jstr(j, "src_endpoint.ip"));
        cJSON_Delete(j);
    }
    tk_buf_t out = TK_BUF_INIT;
    char err[TK_ERRLEN];
    assert_int_equal(tk_event_to_ocsf("", 0, &out, err), TK_EINVAL);
    tk_buf_free(&out);
}

static void test_cloudtrail_sourced_event_as_ocsf(void **st)
{
    (void)st;
    const char *rec = "{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-07-31T12:29:17Z\",\"eventID\":\"c1\",\"eventName\":\"GetSecretValue\","
                      "\"eventSource\":\"secretsmanager.amazonaws.com\",\"awsRegion\":\"eu-west-1\",\"sourceIPAddress\":\"2001:db8::1\","
                      "\"readOnly\":true,\"recipientAccountId\":\"1\",\"userIdentity\":{\"type\":\"IAMUser\",\"userName\":\"bob\",\"accountId\":\"1\"}}";
    tk_batch_t *b = tk_batch_create();
    char err[TK_ERRLEN];
    assert_int_equal(tk_event_parse(b, rec, strlen(rec), NULL, err), 0);
    assert_int_equal(tk_batch_count(b), 1);
    const tk_event_t *e = tk_batch_events(b);
    tk_buf_t out = TK_BUF_INIT;
    assert_int_equal(tk_event_to_ocsf(e->json.p, e->json.len, &out, err), 0);
    cJSON *j = cJSON_ParseWithLength(out.p, out.len);
    assert_non_null(j);
    assert_string_equal(jstr(j, "cloud.provider"), "AWS");
    assert_string_equal(jstr(j, "metadata.product.name"), "CloudTrail");
    assert_string_equal(jstr(j, "cloud.region"), "eu-west-1");
    assert_string_equal(jstr(j, "src_endpoint.ip"), "2001:db8::1");
    assert_string_equal(jstr(j, "actor.user.type"), "ram-user");
    assert_string_equal(jstr(j, "actor.user.name"), "bob");
    assert_int_equal((int)jnum(j, "activity_id"), 2);
    cJSON_Delete(j);
    tk_buf_free(&out);
    tk_batch_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_lists_and_finds_formats),
        cmocka_unit_test(test_actiontrail_event_as_ocsf_api_activity),
        cmocka_unit_test(test_activity_follows_api_verb_and_internal_source_is_a_domain),
        cmocka_unit_test(test_cloudtrail_sourced_event_as_ocsf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

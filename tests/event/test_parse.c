/* Tests for src/event parsing: every accepted shape, every reject cause with
 * its exact code and field, stored bytes (round trip, inserted fields), index
 * terms for each LookupAttribute, gzip, index numbering, truncated input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "base/buf.h"
#include "base/tk.h"
#include "event/event.h"
#include "event/parse.h"

static const char *k_at =
    "{\"eventVersion\":\"1\",\"eventId\":\"11111111-2222-4333-8444-555555555555\","
    "\"eventTime\":\"2026-11-24T10:00:00Z\",\"eventType\":\"ApiCall\",\"eventRW\":\"Write\","
    "\"eventSource\":\"ecs.aliyuncs.com\",\"serviceName\":\"Ecs\",\"eventName\":\"DeleteInstance\","
    "\"acsRegion\":\"cn-hangzhou\",\"requestId\":\"R1\",\"sourceIpAddress\":\"10.0.0.1\","
    "\"userAgent\":\"ua\",\"userIdentity\":{\"type\":\"ram-user\",\"principalId\":\"p1\","
    "\"accountId\":\"1234\",\"userName\":\"alice\",\"accessKeyId\":\"LTAIabc\"},"
    "\"requestParameters\":{\"InstanceId\":\"i-1\"},\"resourceType\":\"ACS::ECS::Instance\","
    "\"resourceName\":\"i-1\",\"recipientAccountId\":\"1234\",\"customField\":{\"x\":[1,2.50,\"\\u00e9\"]}}";

static tk_batch_t *parse(const char *s, const tk_parse_opts_t *o)
{
    tk_batch_t *b = tk_batch_create();
    assert_non_null(b);
    char err[TK_ERRLEN] = "";
    assert_int_equal(tk_event_parse(b, s, strlen(s), o, err), 0);
    return b;
}

/* Parses s expecting exactly one reject and no event; checks code and field. */
static void expect_reject(const char *s, const tk_parse_opts_t *o, const char *code, const char *field)
{
    tk_batch_t *b = parse(s, o);
    if (tk_batch_reject_count(b) != 1)
        fail_msg("expected 1 reject for %.80s, got %zu (events %zu)", s, tk_batch_reject_count(b),
                 tk_batch_count(b));
    assert_int_equal(tk_batch_count(b), 0);
    const tk_reject_t *r = tk_batch_rejects(b);
    if (strcmp(r->code, code) != 0 || strcmp(r->field, field) != 0)
        fail_msg("for %.80s: expected %s/%s, got %s/%s (%s)", s, code, field, r->code, r->field, r->message);
    assert_int_equal(r->index, 0);
    assert_true(strlen(r->message) > 10);
    tk_batch_destroy(b);
}

static int has_term(const tk_event_t *e, tk_attr_t a, const char *v)
{
    for (uint32_t i = 0; i < e->nterms; i++)
        if (e->terms[i].attr == a && e->terms[i].val.len == strlen(v) &&
            memcmp(e->terms[i].val.p, v, e->terms[i].val.len) == 0)
            return 1;
    return 0;
}

static int count_terms(const tk_event_t *e, tk_attr_t a)
{
    int n = 0;
    for (uint32_t i = 0; i < e->nterms; i++)
        n += e->terms[i].attr == a;
    return n;
}

static int str_eq(tk_str_t s, const char *v)
{
    return s.len == strlen(v) && memcmp(s.p, v, s.len) == 0;
}

static void test_actiontrail_object_stored_bytes_equal_input(void **st)
{
    (void)st;
    char in[4096];
    snprintf(in, sizeof in, " \n\t%s\r\n ", k_at);
    tk_batch_t *b = parse(in, NULL);
    assert_int_equal(tk_batch_count(b), 1);
    assert_int_equal(tk_batch_reject_count(b), 0);
    const tk_event_t *e = tk_batch_events(b);
    assert_int_equal(e->json.len, strlen(k_at));
    assert_memory_equal(e->json.p, k_at, strlen(k_at));
    assert_int_equal(e->time_ms, 1795514400000LL);
    assert_true(str_eq(e->account, "1234"));
    assert_true(str_eq(e->event_id, "11111111-2222-4333-8444-555555555555"));
    assert_true(str_eq(e->region, "cn-hangzhou"));
    assert_true(str_eq(e->event_rw, "Write"));
    assert_true(str_eq(e->event_type, "ApiCall"));
    assert_true(str_eq(e->event_category, "Management"));
    assert_true(str_eq(e->service, "Ecs"));
    assert_true(str_eq(e->event_name, "DeleteInstance"));
    assert_int_equal(e->has_error, 0);
    assert_int_equal(tk_batch_seen(b), 1);
    tk_batch_destroy(b);
}

static int is_uuid4(const char *p)
{
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (p[i] != '-')
                return 0;
        } else if (!strchr("0123456789abcdef", p[i])) {
            return 0;
        }
    }
    return p[14] == '4' && strchr("89ab", p[19]) != NULL;
}

static void test_missing_event_id_is_generated_and_inserted_first(void **st)
{
    (void)st;
    const char *in = "{\"eventTime\":\"2026-11-24T10:00:00.123Z\",\"recipientAccountId\":\"42\",\"x\":1}";
    tk_batch_t *b = parse(in, NULL);
    assert_int_equal(tk_batch_count(b), 1);
    const tk_event_t *e = tk_batch_events(b);
    assert_int_equal(e->time_ms, 1795514400123LL);
    assert_int_equal(e->event_id.len, 36);
    assert_true(is_uuid4(e->event_id.p));
    char want[256];
    snprintf(want, sizeof want, "{\"eventId\":\"%.36s\",%s", e->event_id.p, in + 1);
    assert_int_equal(e->json.len, strlen(want));
    assert_memory_equal(e->json.p, want, strlen(want));
    char id[37];
    memcpy(id, e->event_id.p, 36);
    id[36] = 0;
    assert_true(has_term(e, TK_ATTR_EVENTID, id));
    /* Two events get two different ids. */
    tk_batch_t *b2 = parse(in, NULL);
    assert_memory_not_equal(tk_batch_events(b2)->event_id.p, e->event_id.p, 36);
    tk_batch_destroy(b2);
    tk_batch_destroy(b);
}

static void test_missing_account_comes_from_default_then_user_identity(void **st)
{
    (void)st;
    const char *in = "{\"eventId\":\"e1\",\"eventTime\":\"2026-11-24T10:00:00Z\",\"userIdentity\":{\"accountId\":\"77\"}}";
    tk_parse_opts_t o = {.default_account = "9.9"};
    tk_batch_t *b = parse(in, &o);
    assert_int_equal(tk_batch_count(b), 1);
    const tk_event_t *e = tk_batch_events(b);
    assert_true(str_eq(e->account, "9.9"));
    const char *want = "{\"recipientAccountId\":\"9.9\",\"eventId\":\"e1\"";
    assert_memory_equal(e->json.p, want, strlen(want));
    tk_batch_destroy(b);

    /* An account the store cannot name is this event's reject. */
    tk_parse_opts_t bad = {.default_account = "9\"9"};
    expect_reject(in, &bad, TK_REJ_INVALID_ACCOUNT, "recipientAccountId");

    b = parse(in, NULL);
    assert_int_equal(tk_batch_count(b), 1);
    e = tk_batch_events(b);
    assert_true(str_eq(e->account, "77"));
    want = "{\"recipientAccountId\":\"77\",\"eventId\":\"e1\"";
    assert_memory_equal(e->json.p, want, strlen(want));
    tk_batch_destroy(b);

    expect_reject("{\"eventId\":\"e1\",\"eventTime\":\"2026-11-24T10:00:00Z\"}", NULL, TK_REJ_MISSING_FIELD,
                  "recipientAccountId");
}

static void test_force_account_rejects_another_account(void **st)
{
    (void)st;
    tk_parse_opts_t o = {.default_account = "1234", .force_account = 1};
    expect_reject("{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"999\"}", &o, TK_REJ_ACCOUNT,
                  "recipientAccountId");
    tk_batch_t *b = parse(k_at, &o); /* its own account passes */
    assert_int_equal(tk_batch_count(b), 1);
    tk_batch_destroy(b);
}

static void test_reject_causes_have_exact_code_and_field(void **st)
{
    (void)st;
    static const struct {
        const char *in, *code, *field;
    } cases[] = {
        {"{\"recipientAccountId\":\"1\"}", TK_REJ_MISSING_FIELD, "eventTime"},
        {"{\"eventTime\":\"2026-13-01T00:00:00Z\",\"recipientAccountId\":\"1\"}", TK_REJ_INVALID_TIME, "eventTime"},
        {"{\"eventTime\":12,\"recipientAccountId\":\"1\"}", TK_REJ_INVALID_TYPE, "eventTime"},
        {"{\"eventTime\":null,\"recipientAccountId\":\"1\"}", TK_REJ_INVALID_TYPE, "eventTime"},
        {"{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"eventName\":5}", TK_REJ_INVALID_TYPE, "eventName"},
        {"{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":1}", TK_REJ_INVALID_TYPE, "recipientAccountId"},
        {"{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"userIdentity\":\"bob\"}", TK_REJ_INVALID_TYPE, "userIdentity"},
        {"{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"userIdentity\":{\"accessKeyId\":7}}", TK_REJ_INVALID_TYPE, "userIdentity.accessKeyId"},
        {"{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"userIdentity\":{\"sessionContext\":[]}}", TK_REJ_INVALID_TYPE, "userIdentity.sessionContext"},
        {"{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"requestParameters\":[1]}", TK_REJ_INVALID_TYPE, "requestParameters"},
        {"{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"responseElements\":\"ok\"}", TK_REJ_INVALID_TYPE, "responseElements"},
        {"{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"sensitiveAction\":\"maybe\"}", TK_REJ_INVALID_TYPE, "sensitiveAction"},
        {"{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"isGlobal\":3}", TK_REJ_INVALID_TYPE, "isGlobal"},
        {"{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"referencedResources\":{\"T\":5}}", TK_REJ_INVALID_TYPE, "referencedResources"},
        {"{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"eventId\":\"\"}", TK_REJ_MISSING_FIELD, "eventId"},
        {"{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"eventId\":null}", TK_REJ_MISSING_FIELD, "eventId"},
        {"{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"acsRegion\":\"\xff\xfe\"}", TK_REJ_INVALID_UTF8, ""},
        {"{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"x\":tru}", TK_REJ_INVALID_JSON, ""},
        {"{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\"", TK_REJ_INVALID_JSON, ""},
        {"[5]", TK_REJ_NOT_OBJECT, ""},
        {"[\"x\"]", TK_REJ_NOT_OBJECT, ""},
        {"hello", TK_REJ_INVALID_JSON, ""},
        /* CloudTrail-only fields keep their CloudTrail names. */
        {"{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-07-31T12:29:17Z\",\"awsRegion\":5,\"recipientAccountId\":\"1\"}", TK_REJ_INVALID_TYPE, "awsRegion"},
        {"{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-07-31T12:29:17Z\",\"readOnly\":\"yes\",\"recipientAccountId\":\"1\"}", TK_REJ_INVALID_TYPE, "readOnly"},
        {"{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-07-31T12:29:17Z\",\"resources\":{},\"recipientAccountId\":\"1\"}", TK_REJ_INVALID_TYPE, "resources"},
        {"{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-07-31T12:29:17Z\",\"userIdentity\":{\"type\":3},\"recipientAccountId\":\"1\"}", TK_REJ_INVALID_TYPE, "userIdentity.type"},
        {"{\"eventVersion\":\"1.08\",\"eventTime\":\"yesterday\",\"recipientAccountId\":\"1\"}", TK_REJ_INVALID_TIME, "eventTime"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_reject(cases[i].in, NULL, cases[i].code, cases[i].field);
}

static void test_invalid_time_message_quotes_value_and_example(void **st)
{
    (void)st;
    tk_batch_t *b = parse("{\"eventTime\":\"2026-13-01\",\"recipientAccountId\":\"1\"}", NULL);
    assert_int_equal(tk_batch_reject_count(b), 1);
    assert_string_equal(tk_batch_rejects(b)->message,
                        "eventTime: '2026-13-01' is not RFC 3339 (expected e.g. 2026-11-24T10:00:00Z)");
    tk_batch_destroy(b);
}

static void test_event_over_256k_is_rejected_and_next_kept(void **st)
{
    (void)st;
    size_t big = TK_EVENT_MAX_BYTES + 10;
    char *in = malloc(big + 512);
    int k = sprintf(in, "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"pad\":\"");
    memset(in + k, 'a', big);
    k += (int)big;
    k += sprintf(in + k, "\"}\n{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\"}\n");
    tk_batch_t *b = tk_batch_create();
    char err[TK_ERRLEN];
    assert_int_equal(tk_event_parse(b, in, (size_t)k, NULL, err), 0);
    assert_int_equal(tk_batch_count(b), 1);
    assert_int_equal(tk_batch_reject_count(b), 1);
    assert_string_equal(tk_batch_rejects(b)->code, TK_REJ_TOO_LARGE);
    assert_int_equal(tk_batch_rejects(b)->index, 0);
    assert_int_equal(tk_batch_rejects(b)->line, 1);
    tk_batch_destroy(b);
    free(in);
}

static void test_array_bad_elements_rejected_alone_with_indexes(void **st)
{
    (void)st;
    char in[8192];
    snprintf(in, sizeof in,
             "[\n %s,\n {\"eventTime\":\"2026-11-24T10:00:00Z\",\"x\":tru},\n 5,\n"
             " {\"eventTime\":\"2026-11-24T11:00:00Z\",\"recipientAccountId\":\"2\"}\n]",
             k_at);
    tk_batch_t *b = parse(in, NULL);
    assert_int_equal(tk_batch_count(b), 2);
    assert_int_equal(tk_batch_reject_count(b), 2);
    assert_int_equal(tk_batch_seen(b), 4);
    const tk_reject_t *r = tk_batch_rejects(b);
    assert_int_equal(r[0].index, 1);
    assert_string_equal(r[0].code, TK_REJ_INVALID_JSON);
    assert_int_equal(r[0].line, 3);
    assert_int_equal(r[1].index, 2);
    assert_string_equal(r[1].code, TK_REJ_NOT_OBJECT);
    assert_int_equal(r[1].line, 4);
    assert_memory_equal(tk_batch_events(b)[0].json.p, k_at, strlen(k_at));
    assert_true(str_eq(tk_batch_events(b)[1].account, "2"));
    tk_batch_destroy(b);
}

static void test_jsonl_bad_line_rejected_alone_with_line_number(void **st)
{
    (void)st;
    const char *in =
        "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"eventId\":\"a\"}\n"
        "\n"
        "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\n" /* truncated line */
        "{\"eventTime\":\"2026-11-24T10:00:01Z\",\"recipientAccountId\":\"1\",\"eventId\":\"b\"}\r\n"
        "not json at all\n"
        "{\"eventTime\":\"2026-11-24T10:00:02Z\",\"recipientAccountId\":\"1\",\"eventId\":\"c\"}";
    tk_batch_t *b = parse(in, NULL);
    assert_int_equal(tk_batch_count(b), 3);
    assert_int_equal(tk_batch_reject_count(b), 2);
    const tk_reject_t *r = tk_batch_rejects(b);
    assert_int_equal(r[0].index, 1);
    assert_int_equal(r[0].line, 3);
    assert_string_equal(r[0].code, TK_REJ_INVALID_JSON);
    assert_non_null(strstr(r[0].message, "truncated"));
    assert_int_equal(r[1].index, 3);
    assert_int_equal(r[1].line, 5);
    const tk_event_t *e = tk_batch_events(b);
    assert_true(str_eq(e[0].event_id, "a"));
    assert_true(str_eq(e[1].event_id, "b"));
    assert_true(str_eq(e[2].event_id, "c"));
    tk_batch_destroy(b);
}

static void test_concatenated_and_pretty_printed_objects(void **st)
{
    (void)st;
    const char *in =
        "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"eventId\":\"a\"} "
        "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"eventId\":\"b\"}\n"
        "{\n  \"eventTime\": \"2026-11-24T10:00:00Z\",\n  \"recipientAccountId\": \"1\",\n"
        "  \"eventId\": \"c\",\n  \"n\": {\"k\": [1, {\"z\": \"}\"}]}\n}\n"
        "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"eventId\":\"d\"}";
    tk_batch_t *b = parse(in, NULL);
    assert_int_equal(tk_batch_reject_count(b), 0);
    assert_int_equal(tk_batch_count(b), 4);
    const tk_event_t *e = tk_batch_events(b);
    assert_true(str_eq(e[0].event_id, "a"));
    assert_true(str_eq(e[1].event_id, "b"));
    assert_true(str_eq(e[2].event_id, "c"));
    assert_true(str_eq(e[3].event_id, "d"));
    assert_int_equal(e[2].json.p[e[2].json.len - 1], '}');
    assert_int_equal(e[2].json.p[0], '{');
    tk_batch_destroy(b);
}

static void test_content_after_an_array_is_not_dropped(void **st)
{
    (void)st;
    const char *ev = "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\"}";
    char in[1024];
    snprintf(in, sizeof in, "[%s]\n[%s,%s]\n%s\nxyz\n", ev, ev, ev, ev);
    tk_batch_t *b = parse(in, NULL);
    assert_int_equal(tk_batch_count(b), 4);
    assert_int_equal(tk_batch_reject_count(b), 1);
    assert_int_equal(tk_batch_rejects(b)->index, 4);
    assert_int_equal(tk_batch_rejects(b)->line, 4);
    tk_batch_destroy(b);
    /* Forced JSON Lines: an array line is not an event. */
    tk_parse_opts_t o = {.format = TK_FMT_JSONL};
    b = parse(in, &o);
    assert_int_equal(tk_batch_count(b), 1);
    assert_int_equal(tk_batch_reject_count(b), 3);
    assert_string_equal(tk_batch_rejects(b)[0].code, TK_REJ_NOT_OBJECT);
    tk_batch_destroy(b);
}

static void test_truncated_array_rejects_the_cut_element(void **st)
{
    (void)st;
    char in[8192];
    snprintf(in, sizeof in, "[%s,\n%s,\n{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipi", k_at, k_at);
    tk_batch_t *b = parse(in, NULL);
    assert_int_equal(tk_batch_count(b), 2);
    assert_int_equal(tk_batch_reject_count(b), 1);
    const tk_reject_t *r = tk_batch_rejects(b);
    assert_int_equal(r->index, 2);
    assert_int_equal(r->line, 3);
    assert_string_equal(r->code, TK_REJ_INVALID_JSON);
    assert_non_null(strstr(r->message, "truncated"));
    tk_batch_destroy(b);
    /* A mismatched bracket stops the cut and says how much is lost. */
    b = parse("[{\"a\":[1}, {\"eventTime\":\"2026-11-24T10:00:00Z\"}]", NULL);
    assert_int_equal(tk_batch_count(b), 0);
    assert_int_equal(tk_batch_reject_count(b), 1);
    assert_non_null(strstr(tk_batch_rejects(b)->message, "mismatched"));
    tk_batch_destroy(b);
}

static void test_indexes_continue_across_calls_and_reset(void **st)
{
    (void)st;
    tk_batch_t *b = tk_batch_create();
    char err[TK_ERRLEN];
    const char *one = "[{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\"},{}]";
    assert_int_equal(tk_event_parse(b, one, strlen(one), NULL, err), 0);
    assert_int_equal(tk_event_parse(b, one, strlen(one), NULL, err), 0);
    assert_int_equal(tk_batch_seen(b), 4);
    assert_int_equal(tk_batch_count(b), 2);
    assert_int_equal(tk_batch_reject_count(b), 2);
    assert_int_equal(tk_batch_rejects(b)[0].index, 1);
    assert_int_equal(tk_batch_rejects(b)[1].index, 3);
    tk_batch_reset(b);
    assert_int_equal(tk_batch_seen(b), 0);
    assert_int_equal(tk_batch_count(b), 0);
    assert_int_equal(tk_event_parse(b, one, strlen(one), NULL, err), 0);
    assert_int_equal(tk_batch_rejects(b)[0].index, 1);
    assert_int_equal(tk_batch_count(b), 1);
    tk_batch_destroy(b);
}

static void test_many_events_survive_event_array_growth(void **st)
{
    (void)st;
    /* > 1 arena chunk and several event-array reallocs: earlier events must
     * keep valid strings and terms. */
    size_t n = 5000;
    char *in = malloc(n * 200);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)sprintf(in + k, "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"eventId\":\"id-%zu\",\"eventName\":\"N%zu\"}\n", i, i);
    tk_batch_t *b = tk_batch_create();
    char err[TK_ERRLEN];
    assert_int_equal(tk_event_parse(b, in, k, NULL, err), 0);
    assert_int_equal(tk_batch_count(b), n);
    char want[32];
    for (size_t i = 0; i < n; i += 997) {
        snprintf(want, sizeof want, "id-%zu", i);
        assert_true(str_eq(tk_batch_events(b)[i].event_id, want));
        snprintf(want, sizeof want, "N%zu", i);
        assert_true(has_term(&tk_batch_events(b)[i], TK_ATTR_EVENTNAME, want));
    }
    tk_batch_destroy(b);
    free(in);
}

static void test_terms_cover_every_attribute(void **st)
{
    (void)st;
    const char *in =
        "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"eventId\":\"E1\","
        "\"serviceName\":\"Ram\",\"eventName\":\"CreateUser\",\"eventRW\":\"Write\",\"eventType\":\"ApiCall\","
        "\"eventSource\":\"ram.aliyuncs.com\",\"sourceIpAddress\":\"1.2.3.4\","
        "\"resourceType\":\"ACS::RAM::User;ACS::RAM::Group\",\"resourceName\":\"bob, carol;admins\","
        "\"referencedResources\":{\"ACS::RAM::User\":[\"bob\",\"dave\"],\"ACS::RAM::Policy\":[\"P1\"]},"
        "\"userIdentity\":{\"type\":\"assumed-role\",\"userName\":\"role1:sess\",\"accessKeyId\":\"STS.x\","
        "\"principalId\":\"3333:sess\",\"sessionContext\":{\"sessionIssuer\":{\"userName\":\"role1\"}}}}";
    tk_batch_t *b = parse(in, NULL);
    assert_int_equal(tk_batch_count(b), 1);
    const tk_event_t *e = tk_batch_events(b);
    assert_true(has_term(e, TK_ATTR_SERVICENAME, "Ram"));
    assert_true(has_term(e, TK_ATTR_EVENTNAME, "CreateUser"));
    assert_true(has_term(e, TK_ATTR_USER, "role1:sess"));
    assert_true(has_term(e, TK_ATTR_EVENTID, "E1"));
    assert_true(has_term(e, TK_ATTR_RESOURCETYPE, "ACS::RAM::User"));
    assert_true(has_term(e, TK_ATTR_RESOURCETYPE, "ACS::RAM::Group"));
    assert_true(has_term(e, TK_ATTR_RESOURCETYPE, "ACS::RAM::Policy"));
    assert_int_equal(count_terms(e, TK_ATTR_RESOURCETYPE), 3); /* User once: deduplicated */
    assert_true(has_term(e, TK_ATTR_RESOURCENAME, "bob"));
    assert_true(has_term(e, TK_ATTR_RESOURCENAME, "carol"));
    assert_true(has_term(e, TK_ATTR_RESOURCENAME, "admins"));
    assert_true(has_term(e, TK_ATTR_RESOURCENAME, "dave"));
    assert_true(has_term(e, TK_ATTR_RESOURCENAME, "P1"));
    assert_int_equal(count_terms(e, TK_ATTR_RESOURCENAME), 5);
    assert_true(has_term(e, TK_ATTR_EVENTRW, "Write"));
    assert_true(has_term(e, TK_ATTR_ACCESSKEYID, "STS.x"));
    assert_true(has_term(e, TK_ATTR_SENSITIVEACTION, "false"));
    assert_true(has_term(e, TK_ATTR_SOURCEIP, "1.2.3.4"));
    assert_true(has_term(e, TK_ATTR_EVENTTYPE, "ApiCall"));
    assert_true(has_term(e, TK_ATTR_ROLENAME, "role1"));
    assert_true(has_term(e, TK_ATTR_EVENTSOURCE, "ram.aliyuncs.com"));
    assert_int_equal(e->nterms, 19);
    for (int a = 0; a < TK_ATTR__COUNT; a++)
        assert_true(count_terms(e, (tk_attr_t)a) >= 1);
    tk_batch_destroy(b);
}

static void test_long_resource_lists_are_deduplicated(void **st)
{
    (void)st;
    /* 150 names, each twice (resourceName and referencedResources), plus a
     * name holding an escaped NUL: 151 distinct ResourceName terms. */
    char *in = malloc(64 * 1024);
    int k = sprintf(in, "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"resourceName\":\"");
    for (int i = 0; i < 150; i++)
        k += sprintf(in + k, "%sn%d", i ? "," : "", i);
    k += sprintf(in + k, ",a\\u0000b\",\"referencedResources\":{\"T\":[");
    for (int i = 0; i < 150; i++)
        k += sprintf(in + k, "%s\"n%d\"", i ? "," : "", i);
    sprintf(in + k, "]}}");
    tk_batch_t *b = parse(in, NULL);
    assert_int_equal(tk_batch_count(b), 1);
    const tk_event_t *e = tk_batch_events(b);
    assert_int_equal(count_terms(e, TK_ATTR_RESOURCENAME), 151);
    assert_int_equal(count_terms(e, TK_ATTR_RESOURCETYPE), 1);
    assert_true(has_term(e, TK_ATTR_RESOURCENAME, "n149"));
    int nul = 0;
    for (uint32_t i = 0; i < e->nterms; i++)
        nul += e->terms[i].val.len == 3 && memcmp(e->terms[i].val.p, "a\0b", 3) == 0;
    assert_int_equal(nul, 1);
    tk_batch_destroy(b);
    free(in);
}

static void test_empty_values_make_no_terms_and_service_derives_from_source(void **st)
{
    (void)st;
    const char *in = "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"eventId\":\"E\","
                     "\"eventName\":\"\",\"eventSource\":\"oss.aliyuncs.com\",\"sourceIpAddress\":null,"
                     "\"resourceName\":\";,\",\"errorCode\":\"NoPermission\"}";
    tk_batch_t *b = parse(in, NULL);
    assert_int_equal(tk_batch_count(b), 1);
    const tk_event_t *e = tk_batch_events(b);
    assert_int_equal(count_terms(e, TK_ATTR_EVENTNAME), 0);
    assert_int_equal(count_terms(e, TK_ATTR_SOURCEIP), 0);
    assert_int_equal(count_terms(e, TK_ATTR_RESOURCENAME), 0);
    assert_int_equal(count_terms(e, TK_ATTR_USER), 0);
    assert_true(has_term(e, TK_ATTR_SERVICENAME, "Oss"));
    assert_true(str_eq(e->service, "Oss"));
    assert_int_equal(e->has_error, 1);
    /* eventId, serviceName, eventSource, sensitive=false */
    assert_int_equal(e->nterms, 4);
    tk_batch_destroy(b);
}

static void test_sensitive_action_field_wins_over_list(void **st)
{
    (void)st;
    const char *in = "[{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"eventName\":\"StopLogging\"},"
                     "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"eventName\":\"StopLogging\",\"sensitiveAction\":false},"
                     "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"eventName\":\"DescribeTrails\",\"sensitiveAction\":\"true\"},"
                     "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"eventName\":\"DescribeTrails\"}]";
    tk_batch_t *b = parse(in, NULL);
    assert_int_equal(tk_batch_count(b), 4);
    const tk_event_t *e = tk_batch_events(b);
    assert_true(has_term(&e[0], TK_ATTR_SENSITIVEACTION, "true"));
    assert_true(has_term(&e[1], TK_ATTR_SENSITIVEACTION, "false"));
    assert_true(has_term(&e[2], TK_ATTR_SENSITIVEACTION, "true"));
    assert_true(has_term(&e[3], TK_ATTR_SENSITIVEACTION, "false"));
    tk_batch_destroy(b);
}

static void test_sensitive_list_is_sorted_and_searchable(void **st)
{
    (void)st;
    const char *const *l;
    size_t n = tk_event_sensitive_list(&l);
    assert_true(n >= 40);
    for (size_t i = 0; i < n; i++) {
        if (i)
            assert_true(strcmp(l[i - 1], l[i]) < 0);
        assert_int_equal(tk_event_is_sensitive(NULL, 0, l[i], strlen(l[i])), 1);
    }
    const char *not[] = {"DescribeInstances", "Delete", "DeleteTrailX", "", "ZZZ", "AAA"};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(tk_event_is_sensitive(NULL, 0, not[i], strlen(not[i])), 0);
    assert_int_equal(tk_event_is_sensitive("Ram", 3, "CreateAccessKey", 15), 1);
}

static void test_role_name_from_issuer_arn_and_principal(void **st)
{
    (void)st;
    const char *in =
        "[{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"userIdentity\":{\"type\":\"assumed-role\","
        "\"sessionContext\":{\"sessionIssuer\":{\"arn\":\"acs:ram::1:role/path/ops-role\"}}}},"
        "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"userIdentity\":{\"type\":\"assumed-role\","
        "\"arn\":\"arn:aws:sts::1:assumed-role/deploy/s1\"}},"
        "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"userIdentity\":{\"type\":\"assumed-role\","
        "\"principalId\":\"myrole:sess\"}},"
        "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"userIdentity\":{\"type\":\"ram-user\","
        "\"principalId\":\"x:y\",\"userName\":\"u\"}}]";
    tk_batch_t *b = parse(in, NULL);
    assert_int_equal(tk_batch_count(b), 4);
    const tk_event_t *e = tk_batch_events(b);
    assert_true(has_term(&e[0], TK_ATTR_ROLENAME, "ops-role"));
    assert_true(has_term(&e[1], TK_ATTR_ROLENAME, "deploy"));
    assert_true(has_term(&e[2], TK_ATTR_ROLENAME, "myrole"));
    assert_int_equal(count_terms(&e[3], TK_ATTR_ROLENAME), 0);
    tk_batch_destroy(b);
}

static void test_attr_names_round_trip(void **st)
{
    (void)st;
    for (int a = 0; a < TK_ATTR__COUNT; a++) {
        tk_attr_t out;
        assert_int_equal(tk_attr_parse(tk_attr_name((tk_attr_t)a), &out), 0);
        assert_int_equal(out, a);
    }
    tk_attr_t out;
    assert_string_equal(tk_attr_name(TK_ATTR_ACCESSKEYID), "EventAccessKeyId");
    assert_int_equal(tk_attr_parse("eventname", &out), TK_EINVAL);
    assert_int_equal(tk_attr_parse(NULL, &out), TK_EINVAL);
}

/* gzip of s, optionally as two members. */
static unsigned char *gz(const char *s, size_t n, int two, size_t *outlen)
{
    size_t cap = n + 1024;
    unsigned char *out = malloc(cap);
    size_t o = 0;
    size_t parts[2] = {two ? n / 2 : n, two ? n - n / 2 : 0};
    const char *src = s;
    for (int m = 0; m < (two ? 2 : 1); m++) {
        z_stream z;
        memset(&z, 0, sizeof z);
        assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
        z.next_in = (unsigned char *)src;
        z.avail_in = (uInt)parts[m];
        z.next_out = out + o;
        z.avail_out = (uInt)(cap - o);
        assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
        o += z.total_out;
        deflateEnd(&z);
        src += parts[m];
    }
    *outlen = o;
    return out;
}

/* Found by fuzz_gunzip: libdeflate does not check a header CRC (FHCRC); a
 * wrong one is refused as zlib and gzip(1) refuse it, a right one accepted. */
static void test_gzip_header_crc_is_checked(void **st)
{
    (void)st;
    const char *text = "{\"eventTime\":\"2026-11-24T10:00:00Z\"}\n";
    unsigned char z[512];
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    gz_header h;
    memset(&h, 0, sizeof h);
    h.hcrc = 1;
    h.name = (Bytef *)"events.json";
    assert_int_equal(deflateSetHeader(&zs, &h), Z_OK);
    zs.next_in = (Bytef *)text;
    zs.avail_in = (uInt)strlen(text);
    zs.next_out = z;
    zs.avail_out = sizeof z;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t zl = sizeof z - zs.avail_out;
    deflateEnd(&zs);
    assert_true(z[3] & 0x02);
    char *out, err[TK_ERRLEN];
    size_t ol;
    int owned;
    assert_int_equal(tk_event_gunzip((char *)z, zl, 0, &out, &ol, &owned, err), 0);
    assert_int_equal(ol, strlen(text));
    free(out);
    size_t crc_at = 10 + strlen("events.json") + 1;
    z[crc_at] ^= 0x01;
    assert_int_equal(tk_event_gunzip((char *)z, zl, 0, &out, &ol, &owned, err), TK_EINVAL);
    assert_non_null(strstr(err, "header CRC"));
}

static void test_gzip_input_is_decompressed_single_and_multi_member(void **st)
{
    (void)st;
    char in[8192];
    snprintf(in, sizeof in, "%s\n%s\n", k_at, k_at);
    for (int two = 0; two < 2; two++) {
        size_t zl;
        unsigned char *z = gz(in, strlen(in), two, &zl);
        char *out;
        size_t ol;
        int owned;
        char err[TK_ERRLEN];
        assert_int_equal(tk_event_gunzip((char *)z, zl, 0, &out, &ol, &owned, err), 0);
        assert_int_equal(owned, 1);
        assert_int_equal(ol, strlen(in));
        assert_memory_equal(out, in, ol);
        tk_batch_t *b = tk_batch_create();
        assert_int_equal(tk_event_parse(b, out, ol, NULL, err), 0);
        assert_int_equal(tk_batch_count(b), 2);
        tk_batch_destroy(b);
        free(out);
        /* Limit, and corruption. */
        assert_int_equal(tk_event_gunzip((char *)z, zl, 100, &out, &ol, &owned, err), TK_ETOOBIG);
        z[zl / 2] ^= 0x55;
        z[zl / 2 + 1] ^= 0x55;
        assert_int_equal(tk_event_gunzip((char *)z, zl, 0, &out, &ol, &owned, err), TK_EINVAL);
        assert_non_null(strstr(err, "gzip"));
        free(z);
    }
    /* tk_event_parse takes gzip directly: an array and a Records file. */
    const char *docs[2] = {"[{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\"},{}]",
                           "{\"Records\":[{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-07-31T12:29:17Z\","
                           "\"awsRegion\":\"eu\",\"recipientAccountId\":\"1\"}]}"};
    for (int d = 0; d < 2; d++) {
        size_t zl;
        unsigned char *z = gz(docs[d], strlen(docs[d]), d, &zl);
        tk_parse_opts_t po = {.borrow_input = 1};
        tk_batch_t *b = tk_batch_create();
        char err[TK_ERRLEN];
        assert_int_equal(tk_event_parse(b, (char *)z, zl, &po, err), 0);
        free(z); /* events live in the batch, not in the caller's gzip bytes */
        assert_int_equal(tk_batch_count(b), 1);
        assert_int_equal(tk_batch_reject_count(b), d == 0 ? 1 : 0);
        assert_int_equal(tk_batch_events(b)->json.p[0], '{');
        assert_true(d == 0 || tk_batch_events(b)->region.len == 2);
        tk_batch_destroy(b);
    }
    {
        char bad[20] = {0x1f, (char)0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 'x', 'y', 'z'};
        tk_batch_t *b = tk_batch_create();
        char err[TK_ERRLEN];
        assert_int_equal(tk_event_parse(b, bad, sizeof bad, NULL, err), TK_EINVAL);
        tk_batch_destroy(b);
    }
    /* Plain input is borrowed. */
    char *out;
    size_t ol;
    int owned;
    char err[TK_ERRLEN];
    assert_int_equal(tk_event_gunzip(k_at, strlen(k_at), 0, &out, &ol, &owned, err), 0);
    assert_int_equal(owned, 0);
    assert_ptr_equal(out, k_at);
}

static void test_borrow_input_points_into_data_only_when_unchanged(void **st)
{
    (void)st;
    char in[4096];
    snprintf(in, sizeof in, "%s\n{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\"}\n", k_at);
    tk_parse_opts_t o = {.borrow_input = 1};
    tk_batch_t *b = parse(in, &o);
    assert_int_equal(tk_batch_count(b), 2);
    const tk_event_t *e = tk_batch_events(b);
    assert_ptr_equal(e[0].json.p, in); /* stored as sent: borrowed */
    assert_int_equal(e[0].json.len, strlen(k_at));
    assert_true(e[1].json.p < in || e[1].json.p >= in + sizeof in); /* eventId inserted: copied */
    assert_memory_equal(e[1].json.p, "{\"eventId\":\"", 12);
    tk_batch_destroy(b);
}

static void test_sniff_reports_structure(void **st)
{
    (void)st;
    assert_int_equal(tk_event_sniff(" [ {}]", 6), TK_FMT_AUTO);
    const char *ct = "\xEF\xBB\xBF{\"Records\":[]}";
    assert_int_equal(tk_event_sniff(ct, strlen(ct)), TK_FMT_CLOUDTRAIL);
    assert_int_equal(tk_event_sniff(k_at, strlen(k_at)), TK_FMT_JSONL);
    assert_int_equal(tk_event_sniff("", 0), TK_FMT_JSONL);
    /* Records need not be the first member. */
    const char *late = "{\"digestNote\":\"a fairly long value that pushes the key past sixty-four bytes\",\n \"Records\" : [ ]}";
    assert_int_equal(tk_event_sniff(late, strlen(late)), TK_FMT_CLOUDTRAIL);
    tk_batch_t *b = parse(late, NULL);
    assert_int_equal(tk_batch_seen(b), 0);
    tk_batch_destroy(b);
}

static void test_forced_cloudtrail_rejects_non_document(void **st)
{
    (void)st;
    tk_batch_t *b = tk_batch_create();
    char err[TK_ERRLEN] = "";
    tk_parse_opts_t o = {.format = TK_FMT_CLOUDTRAIL, .source_name = "x.json"};
    assert_int_equal(tk_event_parse(b, "hello", 5, &o, err), TK_EINVAL);
    assert_non_null(strstr(err, "x.json"));
    assert_int_equal(tk_event_parse(b, "", 0, &o, err), 0);
    assert_int_equal(tk_batch_seen(b), 0);
    tk_batch_destroy(b);
}

static void test_forced_actiontrail_does_not_map_cloudtrail_fields(void **st)
{
    (void)st;
    const char *in = "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"eventId\":\"x\",\"awsRegion\":\"r\"}";
    tk_parse_opts_t o = {.format = TK_FMT_ACTIONTRAIL};
    tk_batch_t *b = parse(in, &o);
    assert_int_equal(tk_batch_count(b), 1);
    assert_int_equal(tk_batch_events(b)->json.len, strlen(in)); /* stored as given */
    tk_batch_destroy(b);
    b = parse(in, NULL); /* sniffed as CloudTrail: mapped */
    assert_int_equal(tk_batch_count(b), 1);
    assert_true(str_eq(tk_batch_events(b)->region, "r"));
    assert_non_null(strstr(tk_batch_events(b)->json.p, "\"cloudTrailRecord\":"));
    tk_batch_destroy(b);
}

/* Deterministic mutation fuzzing: flips, cuts and inserts bytes of valid
 * inputs; parsing must never crash (ASan) and must account for every value:
 * seen == accepted + rejected, indexes unique and in range. */
static void test_mutated_inputs_never_crash_and_account_for_every_event(void **st)
{
    (void)st;
    char base[3][8192];
    snprintf(base[0], sizeof base[0], "[%s,\n%s]", k_at, k_at);
    snprintf(base[1], sizeof base[1], "%s\n[%s]\n{\"Records\":[{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-07-31T12:29:17Z\"}]}\n",
             k_at, k_at);
    snprintf(base[2], sizeof base[2],
             "{\"Records\":[{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-07-31T12:29:17Z\",\"eventID\":\"x\","
             "\"awsRegion\":\"eu\",\"recipientAccountId\":\"1\",\"userIdentity\":{\"type\":\"AssumedRole\","
             "\"arn\":\"arn:aws:sts::1:assumed-role/r/s\"},\"resources\":[{\"ARN\":\"arn:aws:iam::1:role/r\"}]}]}");
    static const char inject[] = "{}[]\",:\\\n 0tfn\xff\xc3";
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    tk_batch_t *b = tk_batch_create();
    char buf[8300];
    for (int it = 0; it < 6000; it++) {
        const char *src = base[it % 3];
        size_t n = strlen(src);
        memcpy(buf, src, n);
        int muts = 1 + (int)((rng >> 60) & 3);
        for (int k = 0; k < muts; k++) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            size_t pos = (size_t)(rng % (n ? n : 1));
            switch ((rng >> 32) % 3) {
            case 0: buf[pos] = inject[(rng >> 40) % (sizeof inject - 1)]; break;
            case 1: n = pos; break; /* cut */
            case 2:
                if (n < sizeof buf - 1) {
                    memmove(buf + pos + 1, buf + pos, n - pos);
                    buf[pos] = inject[(rng >> 40) % (sizeof inject - 1)];
                    n++;
                }
                break;
            }
        }
        tk_batch_reset(b);
        char err[TK_ERRLEN];
        tk_parse_opts_t o = {.format = (tk_format_t)(it % 4)};
        int rc = tk_event_parse(b, buf, n, &o, err);
        assert_true(rc == 0 || rc == TK_EINVAL);
        assert_int_equal(tk_batch_seen(b), tk_batch_count(b) + tk_batch_reject_count(b));
        for (size_t i = 0; i < tk_batch_count(b); i++) {
            const tk_event_t *e = &tk_batch_events(b)[i];
            assert_true(e->json.len >= 2 && e->json.p[0] == '{' && e->json.p[e->json.len - 1] == '}');
            assert_true(e->account.len > 0 && e->event_id.len > 0);
        }
        for (size_t i = 0; i < tk_batch_reject_count(b); i++) {
            assert_true(tk_batch_rejects(b)[i].index < tk_batch_seen(b));
            assert_non_null(tk_batch_rejects(b)[i].code);
        }
    }
    tk_batch_destroy(b);
}

static void test_max_events_stops_the_parse_at_the_limit(void **st)
{
    (void)st;
    const char *one = "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\"}\n";
    tk_buf_t in = TK_BUF_INIT;
    for (int i = 0; i < 50; i++)
        assert_int_equal(tk_buf_puts(&in, one), 0);
    char err[TK_ERRLEN] = "";
    tk_parse_opts_t o = {.max_events = 10};
    tk_batch_t *b = tk_batch_create();
    assert_int_equal(tk_event_parse(b, in.p, in.len, &o, err), TK_ETOOBIG);
    assert_int_equal(tk_batch_seen(b), 10); /* stopped: the 40 others never parsed */
    assert_non_null(strstr(err, "more than 10 events"));
    tk_batch_reset(b);
    o.max_events = 50; /* exactly at the limit is fine, in an array too */
    assert_int_equal(tk_event_parse(b, in.p, in.len, &o, err), 0);
    assert_int_equal(tk_batch_count(b), 50);
    tk_batch_destroy(b);
    tk_buf_free(&in);
}

static void test_time_and_id_limits_are_per_event_rejects(void **st)
{
    (void)st;
    expect_reject("{\"eventTime\":\"1969-12-31T23:59:59Z\",\"recipientAccountId\":\"1\"}", NULL,
                  TK_REJ_INVALID_TIME, "eventTime");
    tk_buf_t in = TK_BUF_INIT;
    assert_int_equal(tk_buf_puts(&in, "{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"eventId\":\""), 0);
    for (int i = 0; i < TK_EVENT_ID_MAX + 1; i++)
        assert_int_equal(tk_buf_putc(&in, 'x'), 0);
    assert_int_equal(tk_buf_puts(&in, "\"}"), 0);
    expect_reject(in.p, NULL, TK_REJ_FIELD_TOO_LONG, "eventId");
    tk_buf_free(&in);
    tk_batch_t *b = parse("{\"eventTime\":\"9999-12-31T23:59:59.999Z\",\"recipientAccountId\":\"1\"}", NULL);
    assert_int_equal(tk_batch_count(b), 1);
    tk_batch_destroy(b);
}

static void test_duplicate_read_fields_are_rejected(void **st)
{
    (void)st;
    expect_reject("{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"eventName\":\"DescribeInstances\","
                  "\"eventName\":\"DeleteTrail\"}", NULL, TK_REJ_DUPLICATE, "eventName");
    expect_reject("{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"userIdentity\":{\"userName\":\"a\","
                  "\"userName\":\"root\"}}", NULL, TK_REJ_DUPLICATE, "userIdentity.userName");
    /* Fields trailkeep does not read are kept as sent, duplicates included. */
    tk_batch_t *b = parse("{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\",\"x\":1,\"x\":2}", NULL);
    assert_int_equal(tk_batch_count(b), 1);
    tk_batch_destroy(b);
}

static void test_truncated_array_keeps_elements_and_is_reported(void **st)
{
    (void)st;
    tk_batch_t *b = parse("[{\"eventTime\":\"2026-11-24T10:00:00Z\",\"recipientAccountId\":\"1\"},", NULL);
    assert_int_equal(tk_batch_count(b), 1);
    assert_int_equal(tk_batch_reject_count(b), 1);
    assert_string_equal(tk_batch_rejects(b)[0].code, TK_REJ_INVALID_JSON);
    assert_non_null(strstr(tk_batch_rejects(b)[0].message, "not closed"));
    tk_batch_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_actiontrail_object_stored_bytes_equal_input),
        cmocka_unit_test(test_missing_event_id_is_generated_and_inserted_first),
        cmocka_unit_test(test_missing_account_comes_from_default_then_user_identity),
        cmocka_unit_test(test_max_events_stops_the_parse_at_the_limit),
        cmocka_unit_test(test_time_and_id_limits_are_per_event_rejects),
        cmocka_unit_test(test_truncated_array_keeps_elements_and_is_reported),
        cmocka_unit_test(test_duplicate_read_fields_are_rejected),
        cmocka_unit_test(test_force_account_rejects_another_account),
        cmocka_unit_test(test_reject_causes_have_exact_code_and_field),
        cmocka_unit_test(test_invalid_time_message_quotes_value_and_example),
        cmocka_unit_test(test_event_over_256k_is_rejected_and_next_kept),
        cmocka_unit_test(test_array_bad_elements_rejected_alone_with_indexes),
        cmocka_unit_test(test_jsonl_bad_line_rejected_alone_with_line_number),
        cmocka_unit_test(test_concatenated_and_pretty_printed_objects),
        cmocka_unit_test(test_truncated_array_rejects_the_cut_element),
        cmocka_unit_test(test_content_after_an_array_is_not_dropped),
        cmocka_unit_test(test_indexes_continue_across_calls_and_reset),
        cmocka_unit_test(test_many_events_survive_event_array_growth),
        cmocka_unit_test(test_terms_cover_every_attribute),
        cmocka_unit_test(test_long_resource_lists_are_deduplicated),
        cmocka_unit_test(test_empty_values_make_no_terms_and_service_derives_from_source),
        cmocka_unit_test(test_sensitive_action_field_wins_over_list),
        cmocka_unit_test(test_sensitive_list_is_sorted_and_searchable),
        cmocka_unit_test(test_role_name_from_issuer_arn_and_principal),
        cmocka_unit_test(test_attr_names_round_trip),
        cmocka_unit_test(test_gzip_input_is_decompressed_single_and_multi_member),
        cmocka_unit_test(test_gzip_header_crc_is_checked),
        cmocka_unit_test(test_borrow_input_points_into_data_only_when_unchanged),
        cmocka_unit_test(test_sniff_reports_structure),
        cmocka_unit_test(test_forced_cloudtrail_rejects_non_document),
        cmocka_unit_test(test_forced_actiontrail_does_not_map_cloudtrail_fields),
        cmocka_unit_test(test_mutated_inputs_never_crash_and_account_for_every_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests of the alert rule core: every operator (matches, non-matches and
 * compile errors), path semantics over objects and arrays, and/or/not,
 * thresholds (count, distinct, window expiry, grouping), suppression, the
 * group cap, the CloudTrail view, explanations and malformed events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alert/alert_internal.h"
#include "alert/rule.h"
#include "base/buf.h"
#include "base/tk.h"

typedef struct hits {
    int fires, matches;
    uint64_t last_count;
    char last_group[128];
    char last_why[512];
    uint64_t last_suppressed;
} hits_t;

static void on_hit(void *ctx, const tk_alert_hit_t *h)
{
    hits_t *x = ctx;
    if (h->kind == TK_ALERT_MATCH) {
        x->matches++;
        return;
    }
    x->fires++;
    x->last_count = h->count;
    x->last_suppressed = h->suppressed;
    snprintf(x->last_group, sizeof x->last_group, "%.*s", (int)h->group_len, h->group_key);
    snprintf(x->last_why, sizeof x->last_why, "%s", h->why ? h->why : "");
}

static tk_alert_engine_t *engine_with(const char *rule_json, int explain)
{
    char err[TK_ERRLEN] = "";
    tk_rule_t *r = NULL;
    int rc = tk_rule_from_json(rule_json, strlen(rule_json), &r, err);
    if (rc)
        fail_msg("rule did not compile: %s", err);
    tk_alert_opts_t o = {.explain = explain};
    tk_alert_engine_t *e;
    assert_int_equal(tk_alert_engine_create(&o, &e, err), 0);
    assert_int_equal(tk_alert_engine_add(e, r, err), 0);
    return e;
}

/* Fires of a one-condition rule over one event. */
static int fires(const char *cond, const char *event)
{
    char rule[2048];
    snprintf(rule, sizeof rule, "{\"id\":\"t\",\"match\":%s}", cond);
    tk_alert_engine_t *e = engine_with(rule, 0);
    hits_t h = {0};
    char err[TK_ERRLEN];
    int rc = tk_alert_engine_eval(e, "acct", 4, event, strlen(event), 1000, on_hit, &h, err);
    tk_alert_engine_destroy(e);
    assert_int_equal(rc, 0);
    return h.fires;
}

static int compile_error(const char *cond, char *err)
{
    char rule[2048];
    snprintf(rule, sizeof rule, "{\"id\":\"t\",\"match\":%s}", cond);
    tk_rule_t *r = NULL;
    int rc = tk_rule_from_json(rule, strlen(rule), &r, err);
    tk_rule_destroy(r);
    return rc;
}

static const char *EV =
    "{\"eventName\":\"ConsoleSignin\",\"sourceIpAddress\":\"203.0.113.7\","
    "\"userIdentity\":{\"type\":\"ram-user\",\"userName\":\"Alice\",\"accountId\":\"123\"},"
    "\"requestParameters\":{\"PageSize\":\"50\",\"Count\":7,\"Flag\":true,\"Nothing\":null,"
    "\"Tags\":[\"prod\",\"pci\"],"
    "\"IpPermissions\":[{\"IpRanges\":[{\"CidrIp\":\"10.0.0.0/8\"}]},{\"IpRanges\":[{\"CidrIp\":\"0.0.0.0/0\"}]}]},"
    "\"errorMessage\":\"say \\\"hi\\\" \\u00e9\\ud83d\\ude00\",\"v6\":\"2001:db8::1\",\"mapped\":\"::ffff:10.1.2.3\"}";

static void test_eq_ne_in_match_exactly_and_case_sensitively_by_default(void **s)
{
    (void)s;
    assert_int_equal(fires("{\"field\":\"eventName\",\"op\":\"eq\",\"value\":\"ConsoleSignin\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"eventName\",\"op\":\"eq\",\"value\":\"consolesignin\"}", EV), 0);
    assert_int_equal(fires("{\"field\":\"eventName\",\"op\":\"eq\",\"value\":\"consolesignin\",\"nocase\":true}", EV), 1);
    assert_int_equal(fires("{\"field\":\"eventName\",\"value\":\"ConsoleSign\"}", EV), 0);
    assert_int_equal(fires("{\"field\":\"eventName\",\"op\":\"ne\",\"value\":\"ConsoleSignin\"}", EV), 0);
    assert_int_equal(fires("{\"field\":\"eventName\",\"op\":\"ne\",\"value\":\"X\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"absent\",\"op\":\"ne\",\"value\":\"X\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"eventName\",\"op\":\"in\",\"values\":[\"A\",\"ConsoleSignin\"]}", EV), 1);
    assert_int_equal(fires("{\"field\":\"eventName\",\"values\":[\"A\",\"B\"]}", EV), 0);
    /* numbers and booleans compare as their text */
    assert_int_equal(fires("{\"field\":\"requestParameters.Count\",\"value\":7}", EV), 1);
    assert_int_equal(fires("{\"field\":\"requestParameters.Flag\",\"value\":true}", EV), 1);
    assert_int_equal(fires("{\"field\":\"requestParameters.Flag\",\"value\":\"false\"}", EV), 0);
}

static void test_substring_operators_respect_nocase(void **s)
{
    (void)s;
    assert_int_equal(fires("{\"field\":\"userIdentity.userName\",\"op\":\"contains\",\"value\":\"lic\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"userIdentity.userName\",\"op\":\"contains\",\"value\":\"LIC\"}", EV), 0);
    assert_int_equal(fires("{\"field\":\"userIdentity.userName\",\"op\":\"contains\",\"value\":\"LIC\",\"nocase\":true}", EV), 1);
    assert_int_equal(fires("{\"field\":\"userIdentity.userName\",\"op\":\"startswith\",\"value\":\"Al\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"userIdentity.userName\",\"op\":\"starts_with\",\"value\":\"li\"}", EV), 0);
    assert_int_equal(fires("{\"field\":\"userIdentity.userName\",\"op\":\"endswith\",\"value\":\"ice\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"userIdentity.userName\",\"op\":\"endswith\",\"value\":\"ICE\",\"nocase\":true}", EV), 1);
    assert_int_equal(fires("{\"field\":\"userIdentity.userName\",\"op\":\"endswith\",\"value\":\"xAlice\"}", EV), 0);
    /* match_all: every value must be found */
    assert_int_equal(fires("{\"field\":\"userIdentity.userName\",\"op\":\"contains\",\"values\":[\"Al\",\"ce\"],\"match_all\":true}", EV), 1);
    assert_int_equal(fires("{\"field\":\"userIdentity.userName\",\"op\":\"contains\",\"values\":[\"Al\",\"zz\"],\"match_all\":true}", EV), 0);
    assert_int_equal(fires("{\"field\":\"userIdentity.userName\",\"op\":\"contains\",\"values\":[\"Al\",\"zz\"]}", EV), 1);
}

static void test_glob_handles_stars_marks_and_escapes(void **s)
{
    (void)s;
    assert_int_equal(fires("{\"field\":\"eventName\",\"op\":\"glob\",\"value\":\"Console*\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"eventName\",\"op\":\"glob\",\"value\":\"*Sign?n\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"eventName\",\"op\":\"glob\",\"value\":\"*Sign?\"}", EV), 0);
    assert_int_equal(fires("{\"field\":\"eventName\",\"op\":\"glob\",\"value\":\"c*S*n\",\"nocase\":true}", EV), 1);
    assert_int_equal(fires("{\"field\":\"x\",\"op\":\"glob\",\"value\":\"a\\\\*b\"}", "{\"x\":\"a*b\"}"), 1);
    assert_int_equal(fires("{\"field\":\"x\",\"op\":\"glob\",\"value\":\"a\\\\*b\"}", "{\"x\":\"axxb\"}"), 0);
    assert_int_equal(fires("{\"field\":\"x\",\"op\":\"glob\",\"value\":\"*\"}", "{\"x\":\"\"}"), 1);
}

static void test_regex_is_unanchored_and_reports_bad_patterns(void **s)
{
    (void)s;
    char err[TK_ERRLEN];
    assert_int_equal(fires("{\"field\":\"eventName\",\"op\":\"regex\",\"value\":\"^Console(Signin|Login)$\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"eventName\",\"op\":\"regex\",\"value\":\"sign\"}", EV), 0);
    assert_int_equal(fires("{\"field\":\"eventName\",\"op\":\"re\",\"value\":\"sign\",\"nocase\":true}", EV), 1);
    assert_int_equal(compile_error("{\"field\":\"eventName\",\"op\":\"regex\",\"value\":\"(unclosed\"}", err), TK_EINVAL);
    assert_non_null(strstr(err, "regex /(unclosed/"));
    assert_non_null(strstr(err, "match:"));
}

static void test_cidr_matches_ipv4_ipv6_and_mapped_addresses(void **s)
{
    (void)s;
    char err[TK_ERRLEN];
    assert_int_equal(fires("{\"field\":\"sourceIpAddress\",\"op\":\"cidr\",\"value\":\"203.0.113.0/24\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"sourceIpAddress\",\"op\":\"cidr\",\"value\":\"203.0.112.0/24\"}", EV), 0);
    assert_int_equal(fires("{\"field\":\"sourceIpAddress\",\"op\":\"cidr\",\"value\":\"203.0.113.7\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"sourceIpAddress\",\"op\":\"cidr\",\"value\":\"0.0.0.0/0\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"sourceIpAddress\",\"op\":\"cidr\",\"value\":\"203.0.113.0/27\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"sourceIpAddress\",\"op\":\"cidr\",\"value\":\"203.0.113.8/29\"}", EV), 0);
    assert_int_equal(fires("{\"field\":\"v6\",\"op\":\"cidr\",\"value\":\"2001:db8::/32\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"v6\",\"op\":\"cidr\",\"value\":\"2001:db9::/32\"}", EV), 0);
    assert_int_equal(fires("{\"field\":\"v6\",\"op\":\"cidr\",\"value\":\"0.0.0.0/0\"}", EV), 0);
    assert_int_equal(fires("{\"field\":\"v6\",\"op\":\"cidr\",\"value\":\"::/0\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"mapped\",\"op\":\"cidr\",\"value\":\"10.0.0.0/8\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"userIdentity.userName\",\"op\":\"cidr\",\"value\":\"0.0.0.0/0\"}", EV), 0);
    assert_int_equal(compile_error("{\"field\":\"a\",\"op\":\"cidr\",\"value\":\"10.0.0.0/33\"}", err), TK_EINVAL);
    assert_non_null(strstr(err, "prefix must be 0..32"));
    assert_int_equal(compile_error("{\"field\":\"a\",\"op\":\"cidr\",\"value\":\"2001:db8::/129\"}", err), TK_EINVAL);
    assert_int_equal(compile_error("{\"field\":\"a\",\"op\":\"cidr\",\"value\":\"not-an-ip/8\"}", err), TK_EINVAL);
    assert_non_null(strstr(err, "is not a CIDR"));
}

static void test_exists_and_null_look_at_presence(void **s)
{
    (void)s;
    assert_int_equal(fires("{\"field\":\"userIdentity.type\",\"op\":\"exists\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"userIdentity\",\"op\":\"exists\",\"value\":true}", EV), 1);
    assert_int_equal(fires("{\"field\":\"userIdentity.mfa\",\"op\":\"exists\"}", EV), 0);
    assert_int_equal(fires("{\"field\":\"userIdentity.mfa\",\"op\":\"exists\",\"value\":false}", EV), 1);
    assert_int_equal(fires("{\"field\":\"requestParameters.Nothing\",\"op\":\"null\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"requestParameters.Missing\",\"op\":\"null\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"requestParameters.Count\",\"op\":\"null\"}", EV), 0);
}

static void test_numeric_comparisons_accept_numbers_and_numeric_strings(void **s)
{
    (void)s;
    char err[TK_ERRLEN];
    assert_int_equal(fires("{\"field\":\"requestParameters.Count\",\"op\":\"lt\",\"value\":8}", EV), 1);
    assert_int_equal(fires("{\"field\":\"requestParameters.Count\",\"op\":\"lt\",\"value\":7}", EV), 0);
    assert_int_equal(fires("{\"field\":\"requestParameters.Count\",\"op\":\"le\",\"value\":7}", EV), 1);
    assert_int_equal(fires("{\"field\":\"requestParameters.Count\",\"op\":\"gt\",\"value\":6.5}", EV), 1);
    assert_int_equal(fires("{\"field\":\"requestParameters.Count\",\"op\":\"gt\",\"value\":7}", EV), 0);
    assert_int_equal(fires("{\"field\":\"requestParameters.Count\",\"op\":\"ge\",\"value\":\"7\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"requestParameters.PageSize\",\"op\":\"ge\",\"value\":50}", EV), 1);
    assert_int_equal(fires("{\"field\":\"requestParameters.PageSize\",\"op\":\"gt\",\"value\":50}", EV), 0);
    assert_int_equal(fires("{\"field\":\"eventName\",\"op\":\"gt\",\"value\":0}", EV), 0);
    assert_int_equal(compile_error("{\"field\":\"a\",\"op\":\"gt\",\"value\":\"ten\"}", err), TK_EINVAL);
    assert_non_null(strstr(err, "'ten' is not a number"));
    assert_int_equal(compile_error("{\"field\":\"a\",\"op\":\"gt\",\"values\":[1,2]}", err), TK_EINVAL);
    assert_non_null(strstr(err, "takes one value"));
}

static void test_fieldref_compares_two_fields(void **s)
{
    (void)s;
    assert_int_equal(fires("{\"field\":\"a\",\"op\":\"fieldref\",\"value\":\"b.c\"}", "{\"a\":\"x\",\"b\":{\"c\":\"x\"}}"), 1);
    assert_int_equal(fires("{\"field\":\"a\",\"op\":\"fieldref\",\"value\":\"b.c\"}", "{\"a\":\"x\",\"b\":{\"c\":\"y\"}}"), 0);
    assert_int_equal(fires("{\"field\":\"a\",\"op\":\"fieldref\",\"value\":\"b.c\"}", "{\"a\":\"x\"}"), 0);
}

static void test_paths_reach_into_arrays_by_any_element_or_index(void **s)
{
    (void)s;
    assert_int_equal(fires("{\"field\":\"requestParameters.Tags\",\"value\":\"pci\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"requestParameters.Tags.0\",\"value\":\"prod\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"requestParameters.Tags.0\",\"value\":\"pci\"}", EV), 0);
    assert_int_equal(fires("{\"field\":\"requestParameters.IpPermissions.IpRanges.CidrIp\",\"value\":\"0.0.0.0/0\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"requestParameters.IpPermissions.0.IpRanges.CidrIp\",\"value\":\"0.0.0.0/0\"}", EV), 0);
    assert_int_equal(fires("{\"field\":\"requestParameters.IpPermissions.1.IpRanges.0.CidrIp\",\"value\":\"0.0.0.0/0\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"requestParameters.IpPermissions.0.IpRanges\",\"op\":\"exists\"}", EV), 1);
    /* escapes are decoded before comparing */
    assert_int_equal(fires("{\"field\":\"errorMessage\",\"value\":\"say \\\"hi\\\" \\u00e9\\ud83d\\ude00\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"errorMessage\",\"op\":\"contains\",\"value\":\"\\\"hi\\\"\"}", EV), 1);
    assert_int_equal(fires("{\"field\":\"k\\\"q\",\"value\":\"v\"}", "{\"k\\\"q\":\"v\"}"), 1);
}

static void test_strings_with_escapes_at_every_position_decode_exactly(void **s)
{
    (void)s;
    /* the scanner works on 16- and 8-byte blocks: put the escapes at every
     * offset around the block edges, and end on an escaped backslash */
    for (int i = 0; i < 40; i++) {
        char raw[128], want[128], ev[512], cond[512];
        int r = 0, w = 0;
        for (int k = 0; k < i; k++)
            raw[r++] = want[w++] = 'x';
        raw[r++] = '\\', raw[r++] = '"', want[w++] = '"';
        for (int k = 0; k < 20; k++)
            raw[r++] = want[w++] = 'y';
        raw[r++] = '\\', raw[r++] = '\\', want[w++] = '\\';
        raw[r] = want[w] = 0;
        snprintf(ev, sizeof ev, "{\"skip\":\"%s\",\"a\":\"%s\",\"b\":1}", raw, raw);
        /* the rule value is JSON too: escape it the same way */
        snprintf(cond, sizeof cond, "{\"all\":[{\"field\":\"a\",\"value\":\"%s\"},{\"field\":\"b\",\"value\":1}]}", raw);
        if (fires(cond, ev) != 1)
            fail_msg("escape at offset %d not decoded (want %s)", i, want);
    }
}

static void test_and_or_not_combine(void **s)
{
    (void)s;
    assert_int_equal(fires("{\"all\":[{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"},{\"field\":\"userIdentity.type\",\"value\":\"ram-user\"}]}", EV), 1);
    assert_int_equal(fires("{\"all\":[{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"},{\"field\":\"userIdentity.type\",\"value\":\"root-account\"}]}", EV), 0);
    assert_int_equal(fires("{\"any\":[{\"field\":\"eventName\",\"value\":\"X\"},{\"field\":\"userIdentity.type\",\"value\":\"ram-user\"}]}", EV), 1);
    assert_int_equal(fires("{\"any\":[{\"field\":\"eventName\",\"value\":\"X\"},{\"field\":\"eventName\",\"value\":\"Y\"}]}", EV), 0);
    assert_int_equal(fires("{\"not\":{\"field\":\"eventName\",\"value\":\"X\"}}", EV), 1);
    assert_int_equal(fires("{\"and\":[{\"not\":{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"}}]}", EV), 0);
    assert_int_equal(fires("{\"or\":[{\"field\":\"eventName\",\"values\":[\"A\",\"B\"]},{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"}]}", EV), 1);
}

static void test_bad_rules_are_refused_with_the_place_named(void **s)
{
    (void)s;
    char err[TK_ERRLEN];
    assert_int_equal(compile_error("{\"field\":\"a\",\"op\":\"equal\",\"value\":1}", err), TK_EINVAL);
    assert_non_null(strstr(err, "unknown operator 'equal'"));
    assert_non_null(strstr(err, "eq, ne, in"));
    assert_int_equal(compile_error("{\"all\":[{\"field\":\"a\",\"value\":1},{\"feild\":\"b\"}]}", err), TK_EINVAL);
    assert_non_null(strstr(err, "match.all[1]"));
    assert_int_equal(compile_error("{\"field\":\"a..b\",\"value\":1}", err), TK_EINVAL);
    assert_non_null(strstr(err, "empty step"));
    assert_int_equal(compile_error("{\"field\":\"a\",\"op\":\"in\",\"value\":\"x\"}", err), TK_EINVAL);
    assert_int_equal(compile_error("{\"field\":\"a\",\"op\":\"eq\"}", err), TK_EINVAL);
    assert_non_null(strstr(err, "needs a value"));
    assert_int_equal(compile_error("{\"all\":[]}", err), TK_EINVAL);
    assert_int_equal(compile_error("{\"field\":\"a\",\"value\":1,\"all\":[]}", err), TK_EINVAL);
    const char *bad[] = {
        "{\"match\":{\"field\":\"a\",\"value\":1}}",
        "{\"id\":\"x\"}",
        "{\"id\":\"x\",\"match\":{\"field\":\"a\",\"value\":1},\"severity\":\"urgent\"}",
        "{\"id\":\"x\",\"match\":{\"field\":\"a\",\"value\":1},\"threshold\":{\"count\":0,\"window\":\"1m\"}}",
        "{\"id\":\"x\",\"match\":{\"field\":\"a\",\"value\":1},\"threshold\":{\"count\":3}}",
        "{\"id\":\"x\",\"match\":{\"field\":\"a\",\"value\":1},\"threshold\":{\"count\":3,\"window\":\"5 min\"}}",
        "{\"id\":\"x\",\"match\":{\"field\":\"a\",\"value\":1},\"colour\":\"red\"}",
        "{\"id\":\"x\",\"match\":{\"field\":\"a\",\"value\":1},\"source\":\"ocsf\"}",
        "{\"id\":\"x\",",
    };
    for (size_t i = 0; i < TK_ARRAY_LEN(bad); i++) {
        tk_rule_t *r = NULL;
        err[0] = 0;
        assert_int_equal(tk_rule_from_json(bad[i], strlen(bad[i]), &r, err), TK_EINVAL);
        assert_null(r);
        assert_true(strlen(err) > 10);
    }
}

static void test_malformed_events_are_rejected_without_state_change(void **s)
{
    (void)s;
    tk_alert_engine_t *e = engine_with("{\"id\":\"t\",\"match\":{\"field\":\"a\",\"op\":\"exists\"}}", 0);
    const char *bad[] = {"", "[1]", "{\"a\":", "{\"a\":\"x}", "{\"a\" 1}", "{\"a\":tru}", "{\"a\":[1,}", "{\"a\":\"\\q\"}"};
    char err[TK_ERRLEN];
    hits_t h = {0};
    for (size_t i = 0; i < TK_ARRAY_LEN(bad); i++)
        assert_int_equal(tk_alert_engine_eval(e, NULL, 0, bad[i], strlen(bad[i]), 1, on_hit, &h, err), TK_EINVAL);
    tk_alert_stats_t st;
    tk_alert_engine_stats(e, &st);
    assert_int_equal(st.bad_events, TK_ARRAY_LEN(bad));
    assert_int_equal(h.fires, 0);
    assert_int_equal(tk_alert_engine_eval(e, NULL, 0, "{\"a\":1}", 7, 1, on_hit, &h, err), 0);
    assert_int_equal(h.fires, 1);
    tk_alert_engine_destroy(e);
}

static int feed(tk_alert_engine_t *e, hits_t *h, const char *user, int64_t t)
{
    char ev[256], err[TK_ERRLEN];
    snprintf(ev, sizeof ev, "{\"eventName\":\"ConsoleSignin\",\"errorCode\":\"InvalidPassword\",\"userIdentity\":{\"userName\":\"%s\"},\"recipientAccountId\":\"111\"}", user);
    return tk_alert_engine_eval(e, NULL, 0, ev, strlen(ev), t, on_hit, h, err);
}

#define MIN 60000LL

static void test_threshold_counts_within_sliding_window_per_group(void **s)
{
    (void)s;
    tk_alert_engine_t *e = engine_with(
        "{\"id\":\"bf\",\"match\":{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"},"
        "\"threshold\":{\"count\":3,\"window\":\"10m\"},\"group_by\":[\"userIdentity.userName\"]}", 0);
    hits_t h = {0};
    int64_t t0 = 1700000000000LL;
    feed(e, &h, "bob", t0);
    feed(e, &h, "bob", t0 + 1 * MIN);
    feed(e, &h, "eve", t0 + 2 * MIN); /* another group: does not add to bob */
    assert_int_equal(h.fires, 0);
    feed(e, &h, "bob", t0 + 9 * MIN);
    assert_int_equal(h.fires, 1);
    assert_int_equal(h.last_count, 3);
    assert_string_equal(h.last_group, "bob");
    /* after a firing the count starts again */
    feed(e, &h, "bob", t0 + 10 * MIN);
    feed(e, &h, "bob", t0 + 11 * MIN);
    assert_int_equal(h.fires, 1);
    feed(e, &h, "bob", t0 + 12 * MIN);
    assert_int_equal(h.fires, 2);
    /* window expiry: three events spread over more than 10 minutes never fire */
    feed(e, &h, "eve", t0 + 13 * MIN);
    feed(e, &h, "eve", t0 + 23 * MIN); /* the 2-minute one has expired */
    assert_int_equal(h.fires, 2);
    feed(e, &h, "eve", t0 + 34 * MIN); /* 13 has expired too */
    assert_int_equal(h.fires, 2);
    feed(e, &h, "eve", t0 + 35 * MIN);
    feed(e, &h, "eve", t0 + 36 * MIN);
    assert_int_equal(h.fires, 3);
    assert_string_equal(h.last_group, "eve");
    tk_alert_engine_destroy(e);
}

static void test_threshold_state_is_per_account(void **s)
{
    (void)s;
    tk_alert_engine_t *e = engine_with(
        "{\"id\":\"bf\",\"match\":{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"},"
        "\"threshold\":{\"count\":2,\"window\":\"10m\"}}", 0);
    hits_t h = {0};
    char err[TK_ERRLEN];
    const char *ev = "{\"eventName\":\"ConsoleSignin\"}";
    assert_int_equal(tk_alert_engine_eval(e, "A", 1, ev, strlen(ev), 1000, on_hit, &h, err), 0);
    assert_int_equal(tk_alert_engine_eval(e, "B", 1, ev, strlen(ev), 2000, on_hit, &h, err), 0);
    assert_int_equal(h.fires, 0);
    assert_int_equal(tk_alert_engine_eval(e, "B", 1, ev, strlen(ev), 3000, on_hit, &h, err), 0);
    assert_int_equal(h.fires, 1);
    tk_alert_engine_destroy(e);
}

static void test_distinct_threshold_counts_different_values_only(void **s)
{
    (void)s;
    tk_alert_engine_t *e = engine_with(
        "{\"id\":\"spray\",\"match\":{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"},"
        "\"threshold\":{\"count\":3,\"window\":\"10m\",\"distinct\":\"userIdentity.userName\"}}", 0);
    hits_t h = {0};
    int64_t t0 = 1700000000000LL;
    feed(e, &h, "a", t0);
    feed(e, &h, "a", t0 + MIN);
    feed(e, &h, "b", t0 + 2 * MIN);
    feed(e, &h, "b", t0 + 3 * MIN);
    assert_int_equal(h.fires, 0);
    feed(e, &h, "a", t0 + 11 * MIN); /* refreshes a; b (2,3) still in window */
    feed(e, &h, "c", t0 + 12 * MIN);
    assert_int_equal(h.fires, 1);
    assert_int_equal(h.last_count, 3);
    tk_alert_engine_destroy(e);
}

static void test_suppression_sends_one_alert_per_incident(void **s)
{
    (void)s;
    tk_alert_engine_t *e = engine_with(
        "{\"id\":\"root\",\"match\":{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"},"
        "\"suppress\":\"1h\",\"group_by\":[\"userIdentity.userName\"]}", 0);
    hits_t h = {0};
    int64_t t0 = 1700000000000LL;
    feed(e, &h, "root", t0);
    feed(e, &h, "root", t0 + 10 * MIN);
    feed(e, &h, "root", t0 + 59 * MIN);
    feed(e, &h, "alice", t0 + 59 * MIN);
    assert_int_equal(h.fires, 2);
    feed(e, &h, "root", t0 + 61 * MIN);
    assert_int_equal(h.fires, 3);
    assert_int_equal(h.last_suppressed, 2);
    tk_alert_stats_t st;
    tk_alert_engine_stats(e, &st);
    assert_int_equal(st.suppressed, 2);
    assert_int_equal(st.fires, 3);
    tk_alert_engine_destroy(e);
}

static void test_without_threshold_every_match_fires(void **s)
{
    (void)s;
    tk_alert_engine_t *e = engine_with("{\"id\":\"x\",\"match\":{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"}}", 0);
    hits_t h = {0};
    for (int i = 0; i < 5; i++)
        feed(e, &h, "u", 1000 + i);
    assert_int_equal(h.fires, 5);
    tk_alert_stats_t st;
    tk_alert_engine_stats(e, &st);
    assert_int_equal(st.groups, 0);
    tk_alert_engine_destroy(e);
}

static void test_group_cap_counts_untracked_groups_and_expiry_frees_room(void **s)
{
    (void)s;
    char err[TK_ERRLEN];
    const char *j = "{\"id\":\"bf\",\"match\":{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"},"
                    "\"threshold\":{\"count\":2,\"window\":\"1m\"},\"group_by\":[\"userIdentity.userName\"]}";
    tk_rule_t *r;
    assert_int_equal(tk_rule_from_json(j, strlen(j), &r, err), 0);
    tk_alert_opts_t o = {.max_groups = 3};
    tk_alert_engine_t *e;
    assert_int_equal(tk_alert_engine_create(&o, &e, err), 0);
    assert_int_equal(tk_alert_engine_add(e, r, err), 0);
    hits_t h = {0};
    int64_t t0 = 1700000000000LL;
    feed(e, &h, "u1", t0);
    feed(e, &h, "u2", t0);
    feed(e, &h, "u3", t0);
    feed(e, &h, "u4", t0); /* no room */
    tk_alert_stats_t st;
    tk_alert_engine_stats(e, &st);
    assert_int_equal(st.groups, 3);
    assert_int_equal(st.group_cap_hits, 1);
    /* two minutes later the old groups have expired: a new one fits */
    feed(e, &h, "u5", t0 + 2 * MIN);
    feed(e, &h, "u5", t0 + 2 * MIN + 1);
    assert_int_equal(h.fires, 1);
    tk_alert_engine_stats(e, &st);
    assert_int_equal(st.groups_expired, 3);
    assert_int_equal(st.group_cap_hits, 1);
    tk_alert_engine_destroy(e);
}

static void test_window_entries_stay_under_their_cap_and_expiry_frees_them(void **s)
{
    (void)s;
    char err[TK_ERRLEN];
    const char *j = "{\"id\":\"bf\",\"match\":{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"},"
                    "\"threshold\":{\"count\":5,\"window\":\"10m\"},\"group_by\":[\"userIdentity.userName\"]}";
    tk_rule_t *r;
    assert_int_equal(tk_rule_from_json(j, strlen(j), &r, err), 0);
    tk_alert_opts_t o = {.max_entries = 8};
    tk_alert_engine_t *e;
    assert_int_equal(tk_alert_engine_create(&o, &e, err), 0);
    assert_int_equal(tk_alert_engine_add(e, r, err), 0);
    hits_t h = {0};
    int64_t t0 = 1700000000000LL;
    feed(e, &h, "u1", t0);            /* ring of 4 */
    feed(e, &h, "u2", t0);            /* ring of 4: 8 in all */
    feed(e, &h, "u3", t0);            /* no room: counted */
    for (int i = 1; i < 5; i++)       /* u1's fifth needs a 5th slot: no room */
        feed(e, &h, "u1", t0 + i * 1000);
    tk_alert_stats_t st;
    tk_alert_engine_stats(e, &st);
    assert_int_equal(st.entry_cap_hits, 2);
    assert_int_equal(st.window_entries, 8);
    assert_int_equal(h.fires, 0);
    /* 20 minutes on, the old windows have expired and make room */
    for (int i = 0; i < 5; i++)
        feed(e, &h, "u3", t0 + 20 * MIN + i);
    tk_alert_engine_stats(e, &st);
    assert_int_equal(st.entry_cap_hits, 2);
    assert_int_equal(h.fires, 1);
    assert_int_equal(st.groups, 1);
    tk_alert_engine_destroy(e);
}

static void test_cloudtrail_rules_read_the_original_record_when_present(void **s)
{
    (void)s;
    const char *rule = "{\"id\":\"ct\",\"source\":\"cloudtrail\",\"match\":{\"all\":["
                       "{\"field\":\"eventName\",\"value\":\"ConsoleLogin\"},"
                       "{\"field\":\"userIdentity.type\",\"value\":\"Root\"}]}}";
    /* a stored event mapped from CloudTrail: canonical names outside, original inside */
    const char *stored = "{\"eventName\":\"ConsoleSignin\",\"userIdentity\":{\"type\":\"root-account\"},"
                         "\"cloudTrailRecord\":{\"eventName\":\"ConsoleLogin\",\"userIdentity\":{\"type\":\"Root\"}}}";
    const char *raw = "{\"eventName\":\"ConsoleLogin\",\"userIdentity\":{\"type\":\"Root\"}}";
    /* canonical fields that look like CloudTrail must not leak into the view when the original is there */
    const char *mixed = "{\"eventName\":\"ConsoleLogin\",\"userIdentity\":{\"type\":\"Root\"},"
                        "\"cloudTrailRecord\":{\"eventName\":\"GetUser\",\"userIdentity\":{\"type\":\"Root\"}}}";
    tk_alert_engine_t *e = engine_with(rule, 0);
    hits_t h = {0};
    char err[TK_ERRLEN];
    assert_int_equal(tk_alert_engine_eval(e, "a", 1, stored, strlen(stored), 1, on_hit, &h, err), 0);
    assert_int_equal(h.fires, 1);
    assert_int_equal(tk_alert_engine_eval(e, "a", 1, raw, strlen(raw), 1, on_hit, &h, err), 0);
    assert_int_equal(h.fires, 2);
    assert_int_equal(tk_alert_engine_eval(e, "a", 1, mixed, strlen(mixed), 1, on_hit, &h, err), 0);
    assert_int_equal(h.fires, 2);
    tk_alert_engine_destroy(e);
}

static void test_explanation_names_the_conditions_that_held(void **s)
{
    (void)s;
    tk_alert_engine_t *e = engine_with(
        "{\"id\":\"x\",\"match\":{\"all\":[{\"field\":\"eventName\",\"values\":[\"A\",\"ConsoleSignin\"]},"
        "{\"any\":[{\"field\":\"sourceIpAddress\",\"op\":\"cidr\",\"value\":\"203.0.113.0/24\"},{\"field\":\"nope\",\"op\":\"exists\"}]},"
        "{\"not\":{\"field\":\"userIdentity.type\",\"value\":\"root-account\"}}]}}", 1);
    hits_t h = {0};
    char err[TK_ERRLEN];
    assert_int_equal(tk_alert_engine_eval(e, "a", 1, EV, strlen(EV), 1, on_hit, &h, err), 0);
    assert_int_equal(h.fires, 1);
    assert_string_equal(h.last_why,
                        "eventName in [\"A\", \"ConsoleSignin\"] (got \"ConsoleSignin\") and "
                        "sourceIpAddress cidr \"203.0.113.0/24\" (got \"203.0.113.7\") and "
                        "not(userIdentity.type eq \"root-account\")");
    tk_alert_engine_destroy(e);
}

static void test_prefilter_never_hides_a_match(void **s)
{
    (void)s;
    /* rules with and without eventName keys, mixed case, in one engine; every
     * event's fires must equal those of each rule evaluated alone */
    const char *rules[] = {
        "{\"id\":\"r1\",\"match\":{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"}}",
        "{\"id\":\"r2\",\"match\":{\"field\":\"eventName\",\"value\":\"consolesignin\",\"nocase\":true}}",
        "{\"id\":\"r3\",\"match\":{\"any\":[{\"field\":\"eventName\",\"value\":\"A\"},{\"field\":\"x\",\"op\":\"exists\"}]}}",
        "{\"id\":\"r4\",\"match\":{\"all\":[{\"field\":\"x\",\"op\":\"exists\"},{\"field\":\"eventName\",\"values\":[\"B\",\"ConsoleSignin\"]}]}}",
        "{\"id\":\"r5\",\"match\":{\"not\":{\"field\":\"eventName\",\"value\":\"B\"}}}",
        "{\"id\":\"r6\",\"match\":{\"field\":\"eventName\",\"op\":\"glob\",\"value\":\"Console*\"}}",
    };
    const char *evs[] = {
        "{\"eventName\":\"ConsoleSignin\"}", "{\"eventName\":\"CONSOLESIGNIN\",\"x\":1}",
        "{\"eventName\":\"A\"}", "{\"eventName\":\"B\",\"x\":1}", "{\"x\":\"y\"}",
        "{\"eventName\":[\"B\",\"ConsoleSignin\"],\"x\":2}",
    };
    char err[TK_ERRLEN];
    tk_alert_engine_t *all;
    assert_int_equal(tk_alert_engine_create(NULL, &all, err), 0);
    for (size_t i = 0; i < TK_ARRAY_LEN(rules); i++) {
        tk_rule_t *r;
        assert_int_equal(tk_rule_from_json(rules[i], strlen(rules[i]), &r, err), 0);
        assert_int_equal(tk_alert_engine_add(all, r, err), 0);
    }
    int total_alone = 0, total_all = 0;
    for (size_t j = 0; j < TK_ARRAY_LEN(evs); j++) {
        hits_t h = {0};
        assert_int_equal(tk_alert_engine_eval(all, "a", 1, evs[j], strlen(evs[j]), 1, on_hit, &h, err), 0);
        int alone = 0;
        for (size_t i = 0; i < TK_ARRAY_LEN(rules); i++) {
            tk_alert_engine_t *one = engine_with(rules[i], 0);
            hits_t h1 = {0};
            assert_int_equal(tk_alert_engine_eval(one, "a", 1, evs[j], strlen(evs[j]), 1, on_hit, &h1, err), 0);
            alone += h1.fires;
            tk_alert_engine_destroy(one);
        }
        assert_int_equal(h.fires, alone);
        total_alone += alone;
        total_all += h.fires;
    }
    assert_int_equal(total_all, total_alone);
    assert_int_equal(total_alone, 18);
    tk_alert_stats_t st;
    tk_alert_engine_stats(all, &st);
    assert_true(st.rule_evals < TK_ARRAY_LEN(rules) * TK_ARRAY_LEN(evs));
    tk_alert_engine_destroy(all);
}

static void test_duplicate_rule_ids_and_late_adds_are_refused(void **s)
{
    (void)s;
    char err[TK_ERRLEN];
    const char *j = "{\"id\":\"x\",\"match\":{\"field\":\"a\",\"op\":\"exists\"}}";
    tk_alert_engine_t *e = engine_with(j, 0);
    tk_rule_t *r;
    assert_int_equal(tk_rule_from_json(j, strlen(j), &r, err), 0);
    assert_int_equal(tk_alert_engine_add(e, r, err), TK_EEXIST);
    hits_t h = {0};
    assert_int_equal(tk_alert_engine_eval(e, "a", 1, "{}", 2, 1, on_hit, &h, err), 0);
    const char *j2 = "{\"id\":\"y\",\"match\":{\"field\":\"a\",\"op\":\"exists\"}}";
    assert_int_equal(tk_rule_from_json(j2, strlen(j2), &r, err), 0);
    assert_int_equal(tk_alert_engine_add(e, r, err), TK_EBUSY);
    assert_int_equal(tk_alert_engine_rule_count(e), 1);
    tk_alert_engine_destroy(e);
}

typedef struct seqs {
    int fires;
    uint64_t seqs[16];
    uint32_t n;
} seqs_t;

static void on_seqs(void *ctx, const tk_alert_hit_t *h)
{
    seqs_t *x = ctx;
    if (h->kind != TK_ALERT_FIRE)
        return;
    x->fires++;
    x->n = h->nseqs < 16 ? h->nseqs : 16;
    memcpy(x->seqs, h->seqs, x->n * sizeof(uint64_t));
}

static const char *BF_RULE = "{\"id\":\"bf\",\"match\":{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"},"
                             "\"threshold\":{\"count\":3,\"window\":\"10m\"},\"group_by\":[\"userIdentity.userName\"],\"suppress\":\"1h\"}";

static int feed_seq(tk_alert_engine_t *e, seqs_t *h, const char *user, int64_t t, uint64_t seq)
{
    char ev[256], err[TK_ERRLEN];
    snprintf(ev, sizeof ev, "{\"eventName\":\"ConsoleSignin\",\"userIdentity\":{\"userName\":\"%s\"},\"recipientAccountId\":\"111\"}", user);
    return tk_alert_engine_eval_seq(e, NULL, 0, ev, strlen(ev), t, seq, on_seqs, h, err);
}

static void test_alerts_name_the_sequence_numbers_of_their_events(void **s)
{
    (void)s;
    tk_alert_engine_t *e = engine_with(BF_RULE, 0);
    seqs_t h = {0};
    int64_t t0 = 1700000000000LL;
    feed_seq(e, &h, "bob", t0, 100);
    feed_seq(e, &h, "eve", t0 + MIN, 101);
    feed_seq(e, &h, "bob", t0 + 2 * MIN, 102);
    feed_seq(e, &h, "bob", t0 + 3 * MIN, 105);
    assert_int_equal(h.fires, 1);
    assert_int_equal(h.n, 3);
    assert_int_equal(h.seqs[0], 100);
    assert_int_equal(h.seqs[1], 102);
    assert_int_equal(h.seqs[2], 105);
    assert_int_equal(tk_alert_engine_last_seq(e), 105);
    tk_alert_engine_destroy(e);
}

static void test_restart_mid_window_neither_duplicates_nor_misses(void **s)
{
    (void)s;
    char err[TK_ERRLEN];
    int64_t t0 = 1700000000000LL;
    /* two failures, then the process stops */
    tk_alert_engine_t *a = engine_with(BF_RULE, 0);
    seqs_t h = {0};
    feed_seq(a, &h, "bob", t0, 1);
    feed_seq(a, &h, "bob", t0 + MIN, 2);
    tk_buf_t snap = TK_BUF_INIT;
    assert_int_equal(tk_alert_engine_save(a, &snap, err), 0);
    tk_alert_engine_destroy(a);
    /* restarted: the third failure completes the window that began before */
    tk_alert_engine_t *b = engine_with(BF_RULE, 0);
    assert_int_equal(tk_alert_engine_load(b, snap.p, snap.len, err), 0);
    assert_int_equal(tk_alert_engine_last_seq(b), 2);
    feed_seq(b, &h, "bob", t0 + 2 * MIN, 3);
    assert_int_equal(h.fires, 1);
    assert_int_equal(h.n, 3);
    assert_int_equal(h.seqs[0], 1);
    tk_buf_reset(&snap);
    assert_int_equal(tk_alert_engine_save(b, &snap, err), 0);
    tk_alert_engine_destroy(b);
    /* restarted again: the incident is suppressed, no second alert */
    tk_alert_engine_t *c = engine_with(BF_RULE, 0);
    assert_int_equal(tk_alert_engine_load(c, snap.p, snap.len, err), 0);
    for (int i = 0; i < 3; i++)
        feed_seq(c, &h, "bob", t0 + (3 + i) * MIN, 4 + (uint64_t)i);
    assert_int_equal(h.fires, 1);
    tk_alert_stats_t st;
    tk_alert_engine_stats(c, &st);
    assert_int_equal(st.suppressed, 1);
    /* without the snapshot the same replay would have alerted */
    tk_alert_engine_t *d = engine_with(BF_RULE, 0);
    seqs_t h2 = {0};
    for (int i = 0; i < 3; i++)
        feed_seq(d, &h2, "bob", t0 + (3 + i) * MIN, 4 + (uint64_t)i);
    assert_int_equal(h2.fires, 1);
    tk_alert_engine_destroy(d);
    /* damaged or truncated snapshots are refused */
    snap.p[6] ^= 0x40;
    assert_int_equal(tk_alert_engine_load(c, snap.p, snap.len, err), TK_ECORRUPT);
    assert_non_null(strstr(err, "checksum"));
    snap.p[6] ^= 0x40;
    assert_int_equal(tk_alert_engine_load(c, snap.p, 6, err), TK_ECORRUPT);
    assert_int_equal(tk_alert_engine_load(c, "nope", 4, err), TK_ECORRUPT);
    tk_alert_engine_destroy(c);
    /* a snapshot of a rule set without this rule restores nothing for it */
    tk_alert_engine_t *other = engine_with("{\"id\":\"other\",\"match\":{\"field\":\"a\",\"op\":\"exists\"}}", 0);
    tk_alert_engine_t *a2 = engine_with(BF_RULE, 0);
    feed_seq(a2, &h, "bob", t0, 1);
    tk_buf_reset(&snap);
    assert_int_equal(tk_alert_engine_save(a2, &snap, err), 0);
    assert_int_equal(tk_alert_engine_load(other, snap.p, snap.len, err), 0);
    tk_alert_engine_stats(other, &st);
    assert_int_equal(st.groups, 0);
    tk_alert_engine_destroy(a2);
    tk_alert_engine_destroy(other);
    tk_buf_free(&snap);
}

static void test_durations_and_severities_parse(void **s)
{
    (void)s;
    int64_t ms;
    assert_int_equal(tk_duration_parse("30m", &ms), 0);
    assert_int_equal(ms, 30 * MIN);
    assert_int_equal(tk_duration_parse("2d", &ms), 0);
    assert_int_equal(ms, 2 * 86400000LL);
    assert_int_equal(tk_duration_parse("45", &ms), 0);
    assert_int_equal(ms, 45000);
    assert_int_equal(tk_duration_parse("5 m", &ms), TK_EINVAL);
    assert_int_equal(tk_duration_parse("-5m", &ms), TK_EINVAL);
    tk_severity_t sv;
    assert_int_equal(tk_severity_parse("HIGH", &sv), 0);
    assert_int_equal(sv, TK_SEV_HIGH);
    assert_int_equal(tk_severity_parse("informational", &sv), 0);
    assert_int_equal(sv, TK_SEV_REPORT);
    assert_int_equal(tk_severity_parse("urgent", &sv), TK_EINVAL);
}

/* ---- clear_when, title and summary ---- */

typedef struct clr {
    char log[64];   /* F = fire, C = clear, in order */
    int n;
    char groups[16][32];
    uint64_t seqs[16];
    uint64_t counts[16];
    char title[512], summary[1100];
} clr_t;

static void on_clr(void *ctx, const tk_alert_hit_t *h)
{
    clr_t *x = ctx;
    if (h->kind == TK_ALERT_MATCH || x->n >= 16)
        return;
    x->log[x->n] = h->kind == TK_ALERT_FIRE ? 'F' : 'C';
    snprintf(x->groups[x->n], sizeof x->groups[0], "%.*s", (int)h->group_len, h->group_key);
    x->seqs[x->n] = h->nseqs ? h->seqs[h->nseqs - 1] : 0;
    x->counts[x->n] = h->count;
    snprintf(x->title, sizeof x->title, "%s", h->title ? h->title : "(none)");
    snprintf(x->summary, sizeof x->summary, "%s", h->summary ? h->summary : "(none)");
    x->n++;
}

static tk_alert_engine_t *engine_clr(const char *rule_json)
{
    char err[TK_ERRLEN] = "";
    tk_rule_t *r = NULL;
    if (tk_rule_from_json(rule_json, strlen(rule_json), &r, err))
        fail_msg("rule did not compile: %s", err);
    tk_alert_opts_t o = {.report_clears = 1};
    tk_alert_engine_t *e;
    assert_int_equal(tk_alert_engine_create(&o, &e, err), 0);
    assert_int_equal(tk_alert_engine_add(e, r, err), 0);
    return e;
}

/* A sign-in of user at minute m (failed when fail), sequence number seq. */
static void signin(tk_alert_engine_t *e, clr_t *x, const char *user, int fail, int m, uint64_t seq)
{
    char ev[256], err[TK_ERRLEN];
    snprintf(ev, sizeof ev, "{\"eventName\":\"ConsoleSignin\",\"userIdentity\":{\"userName\":\"%s\"}%s,"
                            "\"recipientAccountId\":\"111\"}",
             user, fail ? ",\"errorCode\":\"InvalidPassword\"" : "");
    assert_int_equal(tk_alert_engine_eval_seq(e, NULL, 0, ev, strlen(ev), 1700000000000LL + m * MIN, seq,
                                              on_clr, x, err), 0);
}

static const char *CLR_RULE =
    "{\"id\":\"bf\",\"match\":{\"all\":[{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"},"
    "{\"field\":\"errorCode\",\"op\":\"exists\"}]},"
    "\"clear_when\":{\"all\":[{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"},"
    "{\"not\":{\"field\":\"errorCode\",\"op\":\"exists\"}}]},"
    "\"threshold\":{\"count\":3,\"window\":\"10m\"},\"group_by\":[\"userIdentity.userName\"],\"suppress\":\"1h\"}";

static void test_clear_when_ends_the_group_incident_and_is_reported(void **s)
{
    (void)s;
    tk_alert_engine_t *e = engine_clr(CLR_RULE);
    clr_t x = {0};
    signin(e, &x, "bob", 1, 0, 1);
    signin(e, &x, "bob", 1, 1, 2);
    signin(e, &x, "bob", 0, 2, 3); /* success: the two failures no longer count */
    signin(e, &x, "bob", 1, 3, 4);
    signin(e, &x, "bob", 1, 4, 5);
    assert_string_equal(x.log, "C");
    assert_string_equal(x.groups[0], "bob");
    assert_int_equal(x.seqs[0], 3);
    assert_int_equal(x.counts[0], 0);
    signin(e, &x, "bob", 1, 5, 6);
    assert_string_equal(x.log, "CF");
    assert_int_equal(x.counts[1], 3);
    assert_int_equal(x.seqs[1], 6);
    /* suppressed for an hour ... */
    signin(e, &x, "bob", 1, 6, 7);
    signin(e, &x, "bob", 1, 7, 8);
    signin(e, &x, "bob", 1, 8, 9);
    assert_string_equal(x.log, "CF");
    /* ... unless the incident was cleared: the next one alerts at once */
    signin(e, &x, "bob", 0, 9, 10);
    signin(e, &x, "eve", 0, 9, 11);
    signin(e, &x, "bob", 1, 10, 12);
    signin(e, &x, "bob", 1, 11, 13);
    signin(e, &x, "bob", 1, 12, 14);
    assert_string_equal(x.log, "CFCCF");
    assert_string_equal(x.groups[3], "eve");
    tk_alert_stats_t st;
    tk_alert_engine_stats(e, &st);
    assert_int_equal(st.clears, 3);
    assert_int_equal(st.fires, 2);
    tk_alert_engine_destroy(e);
}

static void test_a_cleared_group_stays_cleared_across_a_snapshot(void **s)
{
    (void)s;
    char err[TK_ERRLEN];
    tk_alert_engine_t *a = engine_clr(CLR_RULE);
    clr_t x = {0};
    signin(a, &x, "bob", 1, 0, 1);
    signin(a, &x, "bob", 1, 1, 2);
    signin(a, &x, "bob", 0, 2, 3);
    tk_buf_t snap = TK_BUF_INIT;
    assert_int_equal(tk_alert_engine_save(a, &snap, err), 0);
    tk_alert_engine_destroy(a);
    tk_alert_engine_t *b = engine_clr(CLR_RULE);
    assert_int_equal(tk_alert_engine_load(b, snap.p, snap.len, err), 0);
    tk_buf_free(&snap);
    signin(b, &x, "bob", 1, 3, 4);
    assert_string_equal(x.log, "C"); /* one failure after the clear, not three */
    tk_alert_stats_t st;
    tk_alert_engine_stats(b, &st);
    assert_int_equal(st.groups, 1);
    tk_alert_engine_destroy(b);
}

static void test_an_event_matching_both_conditions_fires_and_does_not_clear(void **s)
{
    (void)s;
    tk_alert_engine_t *e = engine_clr("{\"id\":\"x\",\"match\":{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"},"
                                      "\"clear_when\":{\"field\":\"eventName\",\"op\":\"exists\"}}");
    clr_t x = {0};
    signin(e, &x, "bob", 0, 0, 1);
    char err[TK_ERRLEN];
    const char *other = "{\"eventName\":\"GetUser\"}";
    assert_int_equal(tk_alert_engine_eval(e, "a", 1, other, strlen(other), 1, on_clr, &x, err), 0);
    assert_string_equal(x.log, "FC");
    tk_alert_engine_destroy(e);
}

static void test_clear_when_is_not_hidden_by_the_eventname_prefilter(void **s)
{
    (void)s;
    /* match and clear_when both name events: indexed under both names */
    tk_alert_engine_t *e = engine_clr(
        "{\"id\":\"stop\",\"match\":{\"field\":\"eventName\",\"value\":\"StopLogging\"},"
        "\"clear_when\":{\"field\":\"eventName\",\"values\":[\"StartLogging\",\"CreateTrail\"]},"
        "\"group_by\":[\"requestParameters.Name\"]}");
    clr_t x = {0};
    char err[TK_ERRLEN];
    const char *evs[] = {
        "{\"eventName\":\"StopLogging\",\"requestParameters\":{\"Name\":\"t1\"}}",
        "{\"eventName\":\"GetTrailStatus\",\"requestParameters\":{\"Name\":\"t1\"}}",
        "{\"eventName\":\"StartLogging\",\"requestParameters\":{\"Name\":\"t1\"}}",
        "{\"eventName\":\"CreateTrail\",\"requestParameters\":{\"Name\":\"t2\"}}",
    };
    for (int i = 0; i < 4; i++)
        assert_int_equal(tk_alert_engine_eval(e, "a", 1, evs[i], strlen(evs[i]), 1000 + i, on_clr, &x, err), 0);
    assert_string_equal(x.log, "FCC");
    assert_string_equal(x.groups[1], "t1");
    assert_string_equal(x.groups[2], "t2");
    tk_alert_stats_t st;
    tk_alert_engine_stats(e, &st);
    assert_int_equal(st.rule_evals, 3); /* GetTrailStatus skipped by the index */
    tk_alert_engine_destroy(e);
    /* a clear_when without an eventName test makes the rule run on every event */
    e = engine_clr("{\"id\":\"stop\",\"match\":{\"field\":\"eventName\",\"value\":\"StopLogging\"},"
                   "\"clear_when\":{\"field\":\"requestParameters.Name\",\"value\":\"t1\"}}");
    memset(&x, 0, sizeof x);
    for (int i = 0; i < 4; i++)
        assert_int_equal(tk_alert_engine_eval(e, "a", 1, evs[i], strlen(evs[i]), 1000 + i, on_clr, &x, err), 0);
    assert_string_equal(x.log, "FCC"); /* GetTrailStatus t1 and StartLogging t1 clear */
    tk_alert_engine_destroy(e);
}

static int title_of(const char *title_json, const char *event, char *out, size_t cap)
{
    char rule[1024], err[TK_ERRLEN];
    snprintf(rule, sizeof rule, "{\"id\":\"t\",\"match\":{\"field\":\"eventName\",\"op\":\"exists\"},"
                                "\"title\":%s,\"summary\":\"{eventName}\"}", title_json);
    tk_rule_t *r = NULL;
    int rc = tk_rule_from_json(rule, strlen(rule), &r, err);
    if (rc) {
        snprintf(out, cap, "%s", err);
        return rc;
    }
    tk_alert_engine_t *e;
    assert_int_equal(tk_alert_engine_create(NULL, &e, err), 0);
    assert_int_equal(tk_alert_engine_add(e, r, err), 0);
    clr_t x = {0};
    assert_int_equal(tk_alert_engine_eval(e, "a", 1, event, strlen(event), 1, on_clr, &x, err), 0);
    assert_int_equal(x.n, 1);
    snprintf(out, cap, "%s", x.title);
    tk_alert_engine_destroy(e);
    return 0;
}

static void test_title_and_summary_render_the_event_fields(void **s)
{
    (void)s;
    char t[600];
    assert_int_equal(title_of("\"{eventName} by {userIdentity.userName} from {sourceIpAddress}: tags {requestParameters.Tags},"
                              " count {requestParameters.Count}, {requestParameters.Nothing} {absent.path} {{literal}}\"",
                              EV, t, sizeof t), 0);
    assert_string_equal(t, "ConsoleSignin by Alice from 203.0.113.7: tags prod, pci, count 7, - - {literal}");
    /* decoded strings, and an object as its JSON text */
    assert_int_equal(title_of("\"{errorMessage}|{requestParameters.IpPermissions.1.IpRanges}\"", EV, t, sizeof t), 0);
    assert_string_equal(t, "say \"hi\" \xc3\xa9\xf0\x9f\x98\x80|{\"CidrIp\":\"0.0.0.0/0\"}");
    /* a title is at most 255 bytes, cut between characters */
    char ev[1200];
    int o = snprintf(ev, sizeof ev, "{\"eventName\":\"x\",\"u\":\"a");
    for (int i = 0; i < 300; i++)
        o += snprintf(ev + o, sizeof ev - (size_t)o, "\xc3\xa9");
    snprintf(ev + o, sizeof ev - (size_t)o, "\"}");
    assert_int_equal(title_of("\"{u}\"", ev, t, sizeof t), 0);
    assert_int_equal(strlen(t), 255); /* 'a' + 127 two-byte characters */
    assert_int_equal((unsigned char)t[253], 0xc3);
    /* a literal character is never split either: 254 bytes + "\xc3\xa9" stops at 254 */
    snprintf(ev, sizeof ev, "{\"eventName\":\"x\",\"u\":\"%0254d\"}", 7);
    assert_int_equal(title_of("\"{u}\xc3\xa9\"", ev, t, sizeof t), 0);
    assert_int_equal(strlen(t), 254);
    assert_int_equal(title_of("\"{u}\"", ev, t, sizeof t), 0);
    assert_int_equal(strlen(t), 254);
    /* errors name the place */
    assert_int_equal(title_of("\"{eventName\"", EV, t, sizeof t), TK_EINVAL);
    assert_non_null(strstr(t, "title: '{' at offset 0 is not closed"));
    assert_int_equal(title_of("\"a } b\"", EV, t, sizeof t), TK_EINVAL);
    assert_non_null(strstr(t, "unmatched '}' at offset 2"));
    assert_int_equal(title_of("\"x {} y\"", EV, t, sizeof t), TK_EINVAL);
    assert_non_null(strstr(t, "title: placeholder at offset 2"));
    assert_int_equal(title_of("\"{a..b}\"", EV, t, sizeof t), TK_EINVAL);
    assert_int_equal(title_of("\"{a{b}\"", EV, t, sizeof t), TK_EINVAL);
    assert_non_null(strstr(t, "'{' inside a placeholder"));
    assert_int_equal(title_of("5", EV, t, sizeof t), TK_EINVAL);
    assert_non_null(strstr(t, "title is a string"));
    /* a rule without texts reports none */
    tk_alert_engine_t *e = engine_clr("{\"id\":\"n\",\"match\":{\"field\":\"eventName\",\"op\":\"exists\"}}");
    clr_t x = {0};
    char err[TK_ERRLEN];
    assert_int_equal(tk_alert_engine_eval(e, "a", 1, EV, strlen(EV), 1, on_clr, &x, err), 0);
    assert_string_equal(x.title, "(none)");
    assert_string_equal(x.summary, "(none)");
    tk_alert_engine_destroy(e);
}

/* An Insights record (docs/insights.md) with the given figures. */
static void insight_ev(char *b, size_t cap, const char *state, const char *type, const char *avg,
                       const char *base, const char *user)
{
    snprintf(b, cap,
             "{\"eventTime\":\"2026-10-21T06:57:00Z\",\"eventType\":\"ActionTrailInsight\",\"eventCategory\":\"Insight\","
             "\"eventName\":\"%s\",\"recipientAccountId\":\"111\",\"sharedEventId\":\"s1\","
             "\"insightDetails\":{\"state\":\"%s\",\"insightType\":\"%s\",\"insightObject\":\"Ecs:DeleteInstance\","
             "\"insightContext\":{\"statistics\":{\"insight\":{\"average\":%s},\"insightDuration\":2,"
             "\"baseline\":{\"average\":%s},\"baselineDuration\":20160,\"insightCount\":24},"
             "\"attributions\":[{\"attribute\":\"userIdentity\",\"insight\":[{\"value\":\"%s\",\"average\":12}],"
             "\"baseline\":[{\"value\":\"ci-deployer\",\"average\":0.0003}]},"
             "{\"attribute\":\"sourceIpAddress\",\"insight\":[{\"value\":\"146.126.56.221\",\"average\":12}],"
             "\"baseline\":[]}]}}}",
             type, state, type, avg, base, user);
}

static void test_custom_rules_read_insights_fields_and_compare_numbers(void **s)
{
    (void)s;
    /* an ApiCallRate Start at 10+/min over a baseline under 1/min, driven by
     * a user who was not in the baseline's top users */
    const char *rule =
        "{\"id\":\"fast-deletes\",\"match\":{\"all\":["
        "{\"field\":\"insightDetails.insightType\",\"value\":\"ApiCallRateInsight\"},"
        "{\"field\":\"insightDetails.state\",\"value\":\"Start\"},"
        "{\"field\":\"insightDetails.insightContext.statistics.insight.average\",\"op\":\"ge\",\"value\":10},"
        "{\"field\":\"insightDetails.insightContext.statistics.baseline.average\",\"op\":\"lt\",\"value\":1},"
        "{\"not\":{\"field\":\"insightDetails.insightContext.attributions.insight.0.value\","
        "\"op\":\"fieldref\",\"value\":\"insightDetails.insightContext.attributions.baseline.value\"}}]},"
        "\"group_by\":[\"sharedEventId\"],"
        "\"title\":\"{insightDetails.insightType}: top {insightDetails.insightContext.attributions.insight.0.value}\"}";
    tk_alert_engine_t *e = engine_clr(rule);
    clr_t x = {0};
    char ev[2048], err[TK_ERRLEN];
    struct {
        const char *type, *avg, *base, *user;
        const char *want;
    } cases[] = {
        {"ApiCallRateInsight", "12", "0.0167", "mallory", "F"},
        {"ApiCallRateInsight", "9.5", "0.0167", "mallory", ""},      /* below 10/min */
        {"ApiCallRateInsight", "12", "1.5", "mallory", ""},          /* busy baseline */
        {"ApiCallRateInsight", "12", "0.0167", "ci-deployer", ""},   /* a usual user */
        {"IpInsight", "12", "0.0167", "mallory", ""},                /* other type */
        {"ApiCallRateInsight", "\"12.5\"", "\"0.5\"", "mallory", "F"}, /* numbers as strings */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&x, 0, sizeof x);
        insight_ev(ev, sizeof ev, "Start", cases[i].type, cases[i].avg, cases[i].base, cases[i].user);
        assert_int_equal(tk_alert_engine_eval(e, NULL, 0, ev, strlen(ev), 0, on_clr, &x, err), 0);
        if (strcmp(x.log, cases[i].want))
            fail_msg("case %zu: got '%s', want '%s'", i, x.log, cases[i].want);
    }
    insight_ev(ev, sizeof ev, "Start", "ApiCallRateInsight", "12", "0.0167", "mallory");
    memset(&x, 0, sizeof x);
    assert_int_equal(tk_alert_engine_eval(e, NULL, 0, ev, strlen(ev), 0, on_clr, &x, err), 0);
    assert_string_equal(x.title, "ApiCallRateInsight: top mallory, 146.126.56.221");
    assert_string_equal(x.groups[0], "s1");
    tk_alert_engine_destroy(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eq_ne_in_match_exactly_and_case_sensitively_by_default),
        cmocka_unit_test(test_substring_operators_respect_nocase),
        cmocka_unit_test(test_glob_handles_stars_marks_and_escapes),
        cmocka_unit_test(test_regex_is_unanchored_and_reports_bad_patterns),
        cmocka_unit_test(test_cidr_matches_ipv4_ipv6_and_mapped_addresses),
        cmocka_unit_test(test_exists_and_null_look_at_presence),
        cmocka_unit_test(test_numeric_comparisons_accept_numbers_and_numeric_strings),
        cmocka_unit_test(test_fieldref_compares_two_fields),
        cmocka_unit_test(test_paths_reach_into_arrays_by_any_element_or_index),
        cmocka_unit_test(test_strings_with_escapes_at_every_position_decode_exactly),
        cmocka_unit_test(test_and_or_not_combine),
        cmocka_unit_test(test_bad_rules_are_refused_with_the_place_named),
        cmocka_unit_test(test_malformed_events_are_rejected_without_state_change),
        cmocka_unit_test(test_threshold_counts_within_sliding_window_per_group),
        cmocka_unit_test(test_threshold_state_is_per_account),
        cmocka_unit_test(test_distinct_threshold_counts_different_values_only),
        cmocka_unit_test(test_suppression_sends_one_alert_per_incident),
        cmocka_unit_test(test_without_threshold_every_match_fires),
        cmocka_unit_test(test_group_cap_counts_untracked_groups_and_expiry_frees_room),
        cmocka_unit_test(test_window_entries_stay_under_their_cap_and_expiry_frees_them),
        cmocka_unit_test(test_cloudtrail_rules_read_the_original_record_when_present),
        cmocka_unit_test(test_explanation_names_the_conditions_that_held),
        cmocka_unit_test(test_prefilter_never_hides_a_match),
        cmocka_unit_test(test_duplicate_rule_ids_and_late_adds_are_refused),
        cmocka_unit_test(test_alerts_name_the_sequence_numbers_of_their_events),
        cmocka_unit_test(test_restart_mid_window_neither_duplicates_nor_misses),
        cmocka_unit_test(test_durations_and_severities_parse),
        cmocka_unit_test(test_clear_when_ends_the_group_incident_and_is_reported),
        cmocka_unit_test(test_a_cleared_group_stays_cleared_across_a_snapshot),
        cmocka_unit_test(test_an_event_matching_both_conditions_fires_and_does_not_clear),
        cmocka_unit_test(test_clear_when_is_not_hidden_by_the_eventname_prefilter),
        cmocka_unit_test(test_title_and_summary_render_the_event_fields),
        cmocka_unit_test(test_custom_rules_read_insights_fields_and_compare_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

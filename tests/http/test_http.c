/* Unit tests of the HTTP layer's pure parts: form/URL decoding, the
 * resource-history token, the per-key token bucket and the Prometheus
 * rendering. The routes themselves are tested end to end by the shell scripts in tests/http. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/tk.h"
#include "http/http_internal.h"

#include <stdio.h>
#include <string.h>

static void test_form_parse_decodes_escapes_and_plus(void **state)
{
    (void)state;
    tk_kvlist_t l = {0, 0, NULL};
    const char *q = "LookupAttribute.1.Key=EventName&LookupAttribute.1.Value=Console%53ignin"
                    "&StartTime=2026-11-24T10%3A00%3A00Z&x=a+b&empty=&flag";
    assert_int_equal(tk_form_parse(q, strlen(q), &l), 0);
    assert_int_equal(l.n, 6);
    assert_string_equal(tk_kv_get(&l, "LookupAttribute.1.Key"), "EventName");
    assert_string_equal(tk_kv_get(&l, "LookupAttribute.1.Value"), "ConsoleSignin");
    assert_string_equal(tk_kv_get(&l, "StartTime"), "2026-11-24T10:00:00Z");
    assert_string_equal(tk_kv_get(&l, "x"), "a b");
    assert_string_equal(tk_kv_get(&l, "empty"), "");
    assert_string_equal(tk_kv_get(&l, "flag"), "");
    assert_null(tk_kv_get(&l, "missing"));
    tk_kvlist_free(&l);
    assert_int_equal(l.n, 0);
}

static void test_form_parse_refuses_bad_escapes_and_nul(void **state)
{
    (void)state;
    const char *bad[] = {"a=%zz", "a=%4", "a=%", "a=%00", "%0=1"};
    for (size_t i = 0; i < TK_ARRAY_LEN(bad); i++) {
        tk_kvlist_t l = {0, 0, NULL};
        assert_int_equal(tk_form_parse(bad[i], strlen(bad[i]), &l), TK_EINVAL);
        tk_kvlist_free(&l);
    }
}

static void test_form_parse_limits_pairs_to_64(void **state)
{
    (void)state;
    char q[2048] = "";
    for (int i = 0; i < 65; i++) {
        char kv[16];
        snprintf(kv, sizeof kv, "%sk%d=1", i ? "&" : "", i);
        strcat(q, kv);
    }
    tk_kvlist_t l = {0, 0, NULL};
    assert_int_equal(tk_form_parse(q, strlen(q), &l), TK_ETOOBIG);
    assert_int_equal(l.n, 64);
    tk_kvlist_free(&l);
    tk_kvlist_t l2 = {0, 0, NULL};
    assert_int_equal(tk_form_parse(q, strlen(q) - 6, &l2), 0); /* 64 pairs: fine */
    assert_int_equal(l2.n, 64);
    tk_kvlist_free(&l2);
}

static void test_pct_decode_keeps_plus_and_decodes_slash(void **state)
{
    (void)state;
    char out[64];
    size_t n = 0;
    assert_int_equal(tk_pct_decode("a%2Fb+c", 7, out, &n), 0);
    assert_string_equal(out, "a/b+c");
    assert_int_equal(n, 5);
    assert_int_equal(tk_pct_decode("x%2", 3, out, &n), -1);
}

static const uint8_t key1[32] = {1, 2, 3};
static const uint8_t key2[32] = {9, 9, 9};

static void test_history_token_round_trips(void **state)
{
    (void)state;
    char tok[160];
    tk_history_token_make(key1, "111", "ACS::ECS::Instance", "i-1", 1764000000123LL, 42, tok);
    int64_t t = 0;
    uint64_t seq = 0;
    assert_int_equal(tk_history_token_parse(key1, "111", "ACS::ECS::Instance", "i-1", tok, &t, &seq), 0);
    assert_int_equal(t, 1764000000123LL);
    assert_int_equal(seq, 42);
}

static void test_history_token_refuses_other_account_resource_key_or_tampering(void **state)
{
    (void)state;
    char tok[160];
    int64_t t;
    uint64_t seq;
    tk_history_token_make(key1, "111", "T", "n", 1000, 7, tok);
    assert_int_equal(tk_history_token_parse(key1, "222", "T", "n", tok, &t, &seq), TK_EINVAL);
    assert_int_equal(tk_history_token_parse(key1, "111", "T", "m", tok, &t, &seq), TK_EINVAL);
    assert_int_equal(tk_history_token_parse(key1, "111", "U", "n", tok, &t, &seq), TK_EINVAL);
    assert_int_equal(tk_history_token_parse(key2, "111", "T", "n", tok, &t, &seq), TK_EINVAL);
    /* Moving the cursor (a forged position) breaks the MAC. */
    char forged[160];
    snprintf(forged, sizeof forged, "h1.1000.8.%s", strrchr(tok, '.') + 1);
    assert_int_equal(tk_history_token_parse(key1, "111", "T", "n", forged, &t, &seq), TK_EINVAL);
    assert_int_equal(tk_history_token_parse(key1, "111", "T", "n", "garbage", &t, &seq), TK_EINVAL);
    assert_int_equal(tk_history_token_parse(key1, "111", "T", "n", "h1.1.2.abc", &t, &seq), TK_EINVAL);
    /* Length-prefixing: ("1|T", "n") must not equal ("1", "T|n"). */
    tk_history_token_make(key1, "1|T", "x", "n", 1, 1, tok);
    assert_int_equal(tk_history_token_parse(key1, "1", "T|x", "n", tok, &t, &seq), TK_EINVAL);
}

static void test_ratelimit_allows_burst_then_refills_at_rate(void **state)
{
    (void)state;
    tk_ratelimit_t rl;
    tk_ratelimit_init(&rl, 2, 4); /* 2/s, burst 4 */
    uint64_t t = 1000000000ULL;
    for (int i = 0; i < 4; i++)
        assert_int_equal(tk_ratelimit_take(&rl, "TKA", t), 0);
    int wait = tk_ratelimit_take(&rl, "TKA", t);
    assert_int_equal(wait, 1); /* 0.5 s to the next token, rounded up */
    /* Another key has its own bucket. */
    assert_int_equal(tk_ratelimit_take(&rl, "TKB", t), 0);
    /* After 0.5 s one token is back, and only one. */
    t += 500000000ULL;
    assert_int_equal(tk_ratelimit_take(&rl, "TKA", t), 0);
    assert_int_not_equal(tk_ratelimit_take(&rl, "TKA", t), 0);
    /* A long pause refills to the burst, not beyond. */
    t += 100ULL * 1000000000ULL;
    for (int i = 0; i < 4; i++)
        assert_int_equal(tk_ratelimit_take(&rl, "TKA", t), 0);
    assert_int_not_equal(tk_ratelimit_take(&rl, "TKA", t), 0);
    tk_ratelimit_destroy(&rl);
}

static void test_ratelimit_disabled_never_throttles(void **state)
{
    (void)state;
    tk_ratelimit_t rl;
    tk_ratelimit_init(&rl, -1, 0);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(tk_ratelimit_take(&rl, "TKA", 1), 0);
    tk_ratelimit_destroy(&rl);
}

static void test_metrics_render_counts_routes_and_cumulative_buckets(void **state)
{
    (void)state;
    static tk_metrics_t m; /* zeroed */
    tk_metrics_count_request(&m, TK_ROUTE_EVENTS, 200);
    tk_metrics_count_request(&m, TK_ROUTE_EVENTS, 200);
    tk_metrics_count_request(&m, TK_ROUTE_LOOKUP, 429);
    tk_metrics_count_request(&m, TK_ROUTE_LOOKUP, 418); /* not listed: "other" */
    tk_metrics_add(&m.events_ingested, 500);
    tk_metrics_observe(&m.append_latency, 200000);    /* 0.2 ms: first bucket */
    tk_metrics_observe(&m.append_latency, 3000000);   /* 3 ms: <= 0.005 */
    tk_metrics_observe(&m.append_latency, 9000000000ULL); /* 9 s: +Inf only */
    tk_buf_t o = TK_BUF_INIT;
    assert_int_equal(tk_metrics_render(&m, &o), 0);
    assert_non_null(strstr(o.p, "trailkeep_http_requests_total{route=\"events\",status=\"200\"} 2\n"));
    assert_non_null(strstr(o.p, "trailkeep_http_requests_total{route=\"lookup\",status=\"429\"} 1\n"));
    assert_non_null(strstr(o.p, "trailkeep_http_requests_total{route=\"lookup\",status=\"other\"} 1\n"));
    assert_null(strstr(o.p, "route=\"history\""));
    assert_non_null(strstr(o.p, "trailkeep_events_ingested_total 500\n"));
    assert_non_null(strstr(o.p, "trailkeep_append_seconds_bucket{le=\"0.00025\"} 1\n"));
    assert_non_null(strstr(o.p, "trailkeep_append_seconds_bucket{le=\"0.0025\"} 1\n"));
    assert_non_null(strstr(o.p, "trailkeep_append_seconds_bucket{le=\"0.005\"} 2\n"));
    assert_non_null(strstr(o.p, "trailkeep_append_seconds_bucket{le=\"2.5\"} 2\n"));
    assert_non_null(strstr(o.p, "trailkeep_append_seconds_bucket{le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(o.p, "trailkeep_append_seconds_count 3\n"));
    assert_non_null(strstr(o.p, "trailkeep_lookup_seconds_count 0\n"));
    tk_buf_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_parse_decodes_escapes_and_plus),
        cmocka_unit_test(test_form_parse_refuses_bad_escapes_and_nul),
        cmocka_unit_test(test_form_parse_limits_pairs_to_64),
        cmocka_unit_test(test_pct_decode_keeps_plus_and_decodes_slash),
        cmocka_unit_test(test_history_token_round_trips),
        cmocka_unit_test(test_history_token_refuses_other_account_resource_key_or_tampering),
        cmocka_unit_test(test_ratelimit_allows_burst_then_refills_at_rate),
        cmocka_unit_test(test_ratelimit_disabled_never_throttles),
        cmocka_unit_test(test_metrics_render_counts_routes_and_cumulative_buckets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

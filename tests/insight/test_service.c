/* Tests for the Insights service pieces (src/insight/service.c, live.c's
 * additions): per-account settings (defaults, the sensitivity -> alpha
 * mapping, overrides winning, validation before any change, storage in
 * meta.db with a generation counter, JSON), the live consumer re-judging at
 * the next tick after a late event or a configuration change, and the
 * seq-bounded rebuild from the store (no event counted twice, cancellable). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/fs.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "event/parse.h"
#include "insight/insight.h"
#include "insight/service.h"
#include "meta/meta.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIN_MS 60000LL
#define DAY_MS (1440 * MIN_MS)
#define ACC "1000000000000001"

static int64_t t0(void) { return tk_days_from_civil(2026, 11, 2) * DAY_MS; }

/* ---- settings ---- */

static void test_settings_default_is_the_default_config(void **st)
{
    (void)st;
    tk_insight_settings_t s;
    tk_insight_settings_default(ACC, &s);
    assert_string_equal(s.account, ACC);
    assert_int_equal(s.sensitivity, TK_INSIGHT_SENS_MEDIUM);
    assert_int_equal(s.updated_ms, 0);
    tk_insight_config_t a, b;
    char err[TK_ERRLEN] = "";
    assert_int_equal(tk_insight_settings_config(&s, &a, err), 0);
    tk_insight_config_default(&b);
    assert_memory_equal(&a, &b, sizeof a);
}

static void test_sensitivity_scales_alpha_and_overrides_win(void **st)
{
    (void)st;
    tk_insight_config_t def, c;
    tk_insight_config_default(&def);
    char err[TK_ERRLEN] = "";
    tk_insight_settings_t s;
    tk_insight_settings_default(ACC, &s);
    s.sensitivity = TK_INSIGHT_SENS_LOW;
    assert_int_equal(tk_insight_settings_config(&s, &c, err), 0);
    for (int d = 0; d < TK_INSIGHT_NDET; d++)
        assert_true(c.knobs[d].alpha == def.knobs[d].alpha / 100);
    s.sensitivity = TK_INSIGHT_SENS_HIGH;
    assert_int_equal(tk_insight_settings_config(&s, &c, err), 0);
    for (int d = 0; d < TK_INSIGHT_NDET; d++) {
        double want = def.knobs[d].alpha * 100 > 0.5 ? 0.5 : def.knobs[d].alpha * 100;
        assert_true(c.knobs[d].alpha == want);
    }
    /* PolicyChangeInsight's default alpha is 1e-2: x100 is capped at 0.5. */
    assert_true(c.knobs[tk_insight_detector_find("PolicyChangeInsight")].alpha == 0.5);
    const char *sets[] = {"IpInsight.alpha=0.001", "*.sigma=2"};
    assert_int_equal(tk_insight_settings_edit(&s, NULL, "AkInsight", "low", sets, 2, 0, err), 0);
    assert_string_equal(s.overrides, "IpInsight.alpha=0.001;*.sigma=2");
    assert_int_equal(tk_insight_settings_config(&s, &c, err), 0);
    int ip = tk_insight_detector_find("IpInsight"), ak = tk_insight_detector_find("AkInsight");
    assert_true(c.knobs[ip].alpha == 0.001); /* the override, not alpha / 100 */
    assert_true(c.knobs[ak].enabled == 0);
    for (int d = 0; d < TK_INSIGHT_NDET; d++)
        assert_true(c.knobs[d].sigma == 2);
}

static void test_settings_edit_checks_everything_before_changing(void **st)
{
    (void)st;
    char err[TK_ERRLEN] = "";
    tk_insight_settings_t s, before;
    tk_insight_settings_default(ACC, &s);
    const char *one[] = {"ApiCallRateInsight.k=4"};
    assert_int_equal(tk_insight_settings_edit(&s, NULL, NULL, NULL, one, 1, 0, err), 0);
    before = s;
    const char *bad[] = {"ApiCallRateInsight.nope=1"};
    assert_int_equal(tk_insight_settings_edit(&s, NULL, "IpInsight", "high", bad, 1, 1, err), TK_EINVAL);
    assert_non_null(strstr(err, "nope"));
    assert_memory_equal(&s, &before, sizeof s);
    assert_int_equal(tk_insight_settings_edit(&s, NULL, "NoSuchInsight", NULL, NULL, 0, 0, err), TK_EINVAL);
    assert_non_null(strstr(err, "NoSuchInsight"));
    assert_int_equal(tk_insight_settings_edit(&s, NULL, NULL, "extreme", NULL, 0, 0, err), TK_EINVAL);
    const char *semi[] = {"IpInsight.k=3;AkInsight.k=3"};
    assert_int_equal(tk_insight_settings_edit(&s, NULL, NULL, NULL, semi, 1, 0, err), TK_EINVAL);
    assert_memory_equal(&s, &before, sizeof s);
    /* "*" off, then one on (enable applies first, disable after). */
    assert_int_equal(tk_insight_settings_edit(&s, NULL, "*", NULL, NULL, 0, 0, err), 0);
    assert_int_equal(tk_insight_settings_edit(&s, "IpInsight", NULL, NULL, NULL, 0, 0, err), 0);
    for (int d = 0; d < TK_INSIGHT_NDET; d++)
        assert_int_equal(s.enabled[d], d == tk_insight_detector_find("IpInsight"));
    /* Overrides add, or replace when asked. */
    const char *two[] = {"IpInsight.k=3"};
    assert_int_equal(tk_insight_settings_edit(&s, NULL, NULL, NULL, two, 1, 0, err), 0);
    assert_string_equal(s.overrides, "ApiCallRateInsight.k=4;IpInsight.k=3");
    assert_int_equal(tk_insight_settings_edit(&s, NULL, NULL, NULL, two, 1, 1, err), 0);
    assert_string_equal(s.overrides, "IpInsight.k=3");
    assert_int_equal(tk_insight_settings_edit(&s, NULL, NULL, NULL, NULL, 0, 1, err), 0);
    assert_string_equal(s.overrides, "");
}

typedef struct listed {
    char acc[4][64];
    int sens[4];
    int n;
} listed_t;

static void list_cb(void *ud, const tk_insight_settings_t *s)
{
    listed_t *l = ud;
    if (l->n < 4) {
        snprintf(l->acc[l->n], 64, "%s", s->account);
        l->sens[l->n++] = s->sensitivity;
    }
}

static void test_settings_are_stored_with_a_generation(void **st)
{
    (void)st;
    char dir[] = "/tmp/tk-insight-svc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[TK_ERRLEN] = "";
    tk_meta_t *m = NULL;
    assert_int_equal(tk_meta_open(dir, &m, err), 0);
    tk_insight_settings_t s, g;
    assert_int_equal(tk_insight_settings_get(m, ACC, &s, err), 0);
    assert_int_equal(s.updated_ms, 0); /* never set: the defaults */
    assert_int_equal(tk_insight_settings_generation(m), 0);
    const char *sets[] = {"AkInsight.k=3"};
    assert_int_equal(tk_insight_settings_edit(&s, NULL, "IpInsight,AkInsight", "low", sets, 1, 0, err), 0);
    assert_int_equal(tk_insight_settings_put(m, &s, err), 0);
    assert_true(s.updated_ms > 0);
    assert_int_equal(tk_insight_settings_generation(m), 1);
    assert_int_equal(tk_insight_settings_get(m, ACC, &g, err), 0);
    assert_memory_equal(&g, &s, sizeof g);
    tk_insight_settings_t o;
    tk_insight_settings_default("1000000000000000", &o);
    o.sensitivity = TK_INSIGHT_SENS_HIGH;
    assert_int_equal(tk_insight_settings_put(m, &o, err), 0);
    assert_int_equal(tk_insight_settings_generation(m), 2);
    listed_t l = {0};
    assert_int_equal(tk_insight_settings_list(m, list_cb, &l, err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.acc[0], "1000000000000000");
    assert_int_equal(l.sens[0], TK_INSIGHT_SENS_HIGH);
    assert_string_equal(l.acc[1], ACC);
    assert_int_equal(l.sens[1], TK_INSIGHT_SENS_LOW);
    /* An invalid row is refused, nothing stored. */
    tk_insight_settings_t bad = s;
    snprintf(bad.overrides, sizeof bad.overrides, "IpInsight.k=-5");
    assert_int_equal(tk_insight_settings_put(m, &bad, err), TK_EINVAL);
    assert_int_equal(tk_insight_settings_generation(m), 2);
    tk_meta_close(m);
    /* Survives a reopen. */
    assert_int_equal(tk_meta_open(dir, &m, err), 0);
    assert_int_equal(tk_insight_settings_get(m, ACC, &g, err), 0);
    assert_memory_equal(&g, &s, sizeof g);
    tk_meta_close(m);
    assert_int_equal(tk_fs_remove_tree(dir), 0);
}

static void test_settings_json(void **st)
{
    (void)st;
    tk_insight_settings_t s;
    tk_insight_settings_default(ACC, &s);
    char err[TK_ERRLEN] = "";
    const char *sets[] = {"AkInsight.k=3", "*.sigma=2"};
    assert_int_equal(tk_insight_settings_edit(&s, NULL, "IpInsight", "high", sets, 2, 0, err), 0);
    tk_buf_t b = TK_BUF_INIT;
    assert_int_equal(tk_insight_settings_json(&s, &b), 0);
    assert_int_equal(tk_buf_putc(&b, 0), 0);
    assert_string_equal(b.p,
                        "{\"AccountId\":\"" ACC "\",\"Types\":{\"ApiCallRateInsight\":true,"
                        "\"ApiErrorRateInsight\":true,\"IpInsight\":false,\"AkInsight\":true,"
                        "\"PolicyChangeInsight\":true,\"PasswordChangeInsight\":true,"
                        "\"TrailConcealmentInsight\":true},\"Sensitivity\":\"high\","
                        "\"Overrides\":[\"AkInsight.k=3\",\"*.sigma=2\"],\"UpdatedTime\":null}");
    tk_buf_free(&b);
    assert_int_equal(tk_insight_sensitivity_parse("low"), 0);
    assert_int_equal(tk_insight_sensitivity_parse("Low"), -1);
    assert_string_equal(tk_insight_sensitivity_name(2), "high");
}

/* ---- live: late events and configuration changes ---- */

static tk_insight_obs_t obs(int64_t t, const char *name, const char *user)
{
    tk_insight_obs_t o = {.time_ms = t, .service = "Ecs", .event_name = name, .event_rw = "Write",
                          .error_code = "", .source_ip = "10.0.0.1", .user_agent = "ua",
                          .user = user, .access_key = "", .event_type = "ApiCall"};
    return o;
}

typedef struct got {
    int starts, ends, call_rate_starts;
} got_t;

static int count_cb(void *ud, const char *account, int end_state, int64_t t, const char *json,
                    size_t len)
{
    (void)account;
    (void)t;
    got_t *g = ud;
    if (end_state) {
        g->ends++;
        return 0;
    }
    g->starts++;
    if (memmem(json, len, "\"insightType\":\"ApiCallRateInsight\"", 34))
        g->call_rate_starts++;
    return 0;
}

/* Two quiet days (one StartInstance an hour) for account acc. */
static void quiet_history(tk_insight_live_t *l, const char *acc)
{
    for (int h = 0; h < 48; h++) {
        tk_insight_obs_t o = obs(t0() + h * 60 * MIN_MS + 5 * MIN_MS, "StartInstance", "alice");
        assert_int_equal(tk_insight_live_add(l, acc, &o), 0);
    }
}

/* 15 DeleteInstance in each of the two minutes before `until`. */
static void burst(tk_insight_live_t *l, const char *acc, int64_t until)
{
    for (int i = 0; i < 30; i++) {
        tk_insight_obs_t o = obs(until - 2 * MIN_MS + (i / 15) * MIN_MS + (i % 15) * 3000,
                                 "DeleteInstance", "mallory");
        assert_int_equal(tk_insight_live_add(l, acc, &o), 0);
    }
}

static void test_live_judges_a_late_burst_at_the_next_tick(void **st)
{
    (void)st;
    char err[TK_ERRLEN] = "";
    tk_insight_live_t *l = tk_insight_live_create(NULL);
    assert_non_null(l);
    quiet_history(l, ACC);
    int64_t now = t0() + 2 * DAY_MS + 30 * 1000; /* 30 s into a minute */
    got_t g = {0};
    assert_int_equal(tk_insight_live_tick(l, NULL, now, count_cb, &g, err), 0);
    assert_int_equal(g.starts, 0);
    /* The burst arrives after its minutes were judged; same minute, next tick. */
    burst(l, ACC, now / MIN_MS * MIN_MS);
    assert_int_equal(tk_insight_live_tick(l, NULL, now + 1000, count_cb, &g, err), 0);
    assert_int_equal(g.call_rate_starts, 1);
    /* Ticking again without anything new reports nothing twice. */
    int before = g.starts;
    assert_int_equal(tk_insight_live_tick(l, NULL, now + 2000, count_cb, &g, err), 0);
    assert_int_equal(g.starts, before);
    tk_insight_live_destroy(l);
}

static void test_live_account_config_applies_at_the_next_tick(void **st)
{
    (void)st;
    char err[TK_ERRLEN] = "";
    tk_insight_live_t *l = tk_insight_live_create(NULL);
    assert_non_null(l);
    const char *other = "1000000000000002";
    quiet_history(l, ACC);
    quiet_history(l, other);
    tk_insight_settings_t s;
    tk_insight_settings_default(other, &s);
    assert_int_equal(tk_insight_settings_edit(&s, NULL, "ApiCallRateInsight", NULL, NULL, 0, 0, err), 0);
    tk_insight_config_t off;
    assert_int_equal(tk_insight_settings_config(&s, &off, err), 0);
    assert_int_equal(tk_insight_live_set_account_config(l, other, &off), 0);
    int64_t now = t0() + 2 * DAY_MS;
    burst(l, ACC, now);
    burst(l, other, now);
    got_t g = {0};
    assert_int_equal(tk_insight_live_tick(l, NULL, now, count_cb, &g, err), 0);
    assert_int_equal(g.call_rate_starts, 1); /* the first account only */
    /* Switched on again: the recent minutes are judged again at once. */
    assert_int_equal(tk_insight_live_set_account_config(l, other, NULL), 0);
    assert_int_equal(tk_insight_live_tick(l, NULL, now + 1000, count_cb, &g, err), 0);
    assert_int_equal(g.call_rate_starts, 2);
    size_t nacc = 0, bytes = 0;
    tk_insight_live_stats(l, &nacc, &bytes);
    assert_int_equal(nacc, 2);
    assert_true(bytes > 0);
    tk_insight_live_destroy(l);
}

/* ---- live: rebuild from the store ---- */

static void put_events(tk_store_t *st, int64_t start, int n, const char *name)
{
    tk_buf_t in = TK_BUF_INIT;
    for (int i = 0; i < n; i++) {
        char t[40];
        tk_time_format(start + (int64_t)i * 20000, 0, t);
        tk_buf_printf(&in,
                      "{\"eventId\":\"%s-%d\",\"eventTime\":\"%s\",\"recipientAccountId\":\"" ACC
                      "\",\"eventType\":\"ApiCall\",\"eventRW\":\"Write\",\"serviceName\":\"Ecs\","
                      "\"eventName\":\"%s\",\"sourceIpAddress\":\"10.0.0.1\",\"userIdentity\":"
                      "{\"type\":\"ram-user\",\"userName\":\"alice\"}}\n",
                      name, i, t, name);
    }
    tk_batch_t *b = tk_batch_create();
    char err[TK_ERRLEN] = "";
    tk_parse_opts_t po = {.format = TK_FMT_JSONL};
    assert_int_equal(tk_event_parse(b, in.p, in.len, &po, err), 0);
    assert_int_equal(tk_batch_count(b), (size_t)n);
    assert_int_equal(tk_store_append(st, tk_batch_events(b), tk_batch_count(b), NULL, NULL, err), 0);
    tk_batch_destroy(b);
    tk_buf_free(&in);
}

static int cancel_now(void *ud)
{
    return ++*(int *)ud > 0;
}

static void test_live_rebuild_stops_at_the_cut(void **st_)
{
    (void)st_;
    char dir[] = "/tmp/tk-insight-svc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[TK_ERRLEN] = "";
    tk_store_opts_t so = {.dir = dir, .no_fsync = 1};
    tk_store_t *st = NULL;
    assert_int_equal(tk_store_open(&so, &st, err), 0);
    put_events(st, t0(), 5000, "StartInstance"); /* ~28 h of a steady write rate */
    uint64_t cut = tk_store_last_seq(st);
    put_events(st, t0() + 28 * 60 * MIN_MS, 60, "DeleteInstance"); /* after the cut */
    int64_t end = t0() + 30 * 60 * MIN_MS;

    /* Up to the cut only: the DeleteInstance burst is not there. */
    tk_insight_live_t *l = tk_insight_live_create(NULL);
    assert_int_equal(tk_insight_live_rebuild(l, st, ACC, t0(), end, cut, NULL, NULL, err), 0);
    got_t g = {0};
    assert_int_equal(tk_insight_live_tick(l, st, end, count_cb, &g, err), 0);
    assert_int_equal(g.call_rate_starts, 0);
    tk_insight_live_destroy(l);

    /* Everything: the burst opens an ApiCallRateInsight. */
    l = tk_insight_live_create(NULL);
    assert_int_equal(tk_insight_live_rebuild(l, st, ACC, t0(), end, UINT64_MAX, NULL, NULL, err), 0);
    memset(&g, 0, sizeof g);
    assert_int_equal(tk_insight_live_tick(l, st, end, count_cb, &g, err), 0);
    assert_int_equal(g.call_rate_starts, 1);
    tk_insight_live_destroy(l);

    /* Cancelled: TK_ECLOSED after the first 4096 events. */
    l = tk_insight_live_create(NULL);
    int calls = 0;
    assert_int_equal(tk_insight_live_rebuild(l, st, ACC, t0(), end, cut, cancel_now, &calls, err),
                     TK_ECLOSED);
    assert_int_equal(calls, 1);
    tk_insight_live_destroy(l);
    tk_store_close(st);
    assert_int_equal(tk_fs_remove_tree(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings_default_is_the_default_config),
        cmocka_unit_test(test_sensitivity_scales_alpha_and_overrides_win),
        cmocka_unit_test(test_settings_edit_checks_everything_before_changing),
        cmocka_unit_test(test_settings_are_stored_with_a_generation),
        cmocka_unit_test(test_settings_json),
        cmocka_unit_test(test_live_judges_a_late_burst_at_the_next_tick),
        cmocka_unit_test(test_live_account_config_applies_at_the_next_tick),
        cmocka_unit_test(test_live_rebuild_stops_at_the_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for src/insight on small synthetic series: the Poisson tail and
 * robust statistics against hand-computed values, seasonality (a daily peak
 * is not an anomaly, the same peak at an unusual hour is), sparse counts,
 * a single spike versus a sustained rise, exactly one Start and one End per
 * incident, determinism (same bytes again, events in any order, rebuilt from
 * the store), explanations naming the injected actor, and the knob parser. */
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
#include "store/store.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIN_MS 60000LL
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)

/* 2026-11-02T00:00:00Z, a Monday. */
static int64_t t0(void) { return tk_days_from_civil(2026, 11, 2) * DAY_MS; }

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) / 9007199254740992.0; }
static uint32_t rng_below(uint64_t *s, uint32_t n) { return (uint32_t)(rng_next(s) % n); }

/* Knuth's Poisson sampler: fine for the small rates used here. */
static int poisson(uint64_t *s, double lambda)
{
    double l = exp(-lambda), p = 1;
    int k = 0;
    do {
        k++;
        p *= rng_unit(s);
    } while (p > l);
    return k - 1;
}

/* A recorded stream of observations (strings are literals), fed to the
 * aggregate and again to the attribution pass. */
typedef struct stream {
    tk_insight_obs_t *v;
    size_t n, cap;
} stream_t;

static void put(stream_t *s, int64_t t, const char *svc, const char *name, const char *rw,
                const char *err, const char *user, const char *ip, const char *ak)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        assert_non_null(s->v);
    }
    tk_insight_obs_t *o = &s->v[s->n++];
    memset(o, 0, sizeof *o);
    o->time_ms = t;
    o->service = svc;
    o->event_name = name;
    o->event_rw = rw;
    o->error_code = err;
    o->user = user;
    o->source_ip = ip;
    o->access_key = ak;
    o->user_agent = strcmp(user, "mallory") ? "Terraform/1.6" : "python-requests/2.31";
    o->event_type = "ApiCall";
    o->sensitive = tk_event_is_sensitive(svc, strlen(svc), name, strlen(name));
}

/* Background: alice (office IP, her key) and bob write StartInstance at
 * `rate` per minute (Poisson), with a daily peak of `peak` per minute in
 * peak_hour (UTC) when peak > 0. */
static void background(stream_t *s, uint64_t seed, int days, double rate, int peak_hour,
                       double peak)
{
    uint64_t r = seed;
    for (int64_t m = 0; m < (int64_t)days * 1440; m++) {
        int hour = (int)(m / 60 % 24);
        double lam = peak > 0 && hour == peak_hour ? peak : rate;
        int n = poisson(&r, lam);
        for (int i = 0; i < n; i++) {
            int bob = rng_below(&r, 3) == 0;
            put(s, t0() + m * MIN_MS + (int64_t)rng_below(&r, 60000), "Ecs", "StartInstance",
                "Write", "", bob ? "bob" : "alice", bob ? "198.51.100.20" : "198.51.100.10",
                bob ? "LTAIbob0000000000000000" : "LTAIalice00000000000000");
        }
    }
}

typedef struct run {
    tk_insight_result_t r;
    size_t count[TK_INSIGHT_NDET];
} run_t;

/* Aggregates s (in order, or reversed), evaluates [from, until) and attributes. */
static void run_stream(const stream_t *s, const tk_insight_config_t *cfg, int64_t from,
                       int64_t until, int reversed, run_t *out)
{
    char err[TK_ERRLEN] = "";
    memset(out, 0, sizeof *out);
    tk_insight_agg_t *a = tk_insight_agg_create(cfg);
    assert_non_null(a);
    for (size_t i = 0; i < s->n; i++)
        assert_int_equal(tk_insight_agg_add(a, &s->v[reversed ? s->n - 1 - i : i]), 0);
    assert_int_equal(tk_insight_evaluate(a, "1000000000000001", cfg, from, until, &out->r, err), 0);
    tk_insight_agg_destroy(a);
    for (size_t i = 0; i < s->n; i++)
        assert_int_equal(tk_insight_attr_add(&out->r, &s->v[i]), 0);
    for (size_t i = 0; i < out->r.inc.n; i++)
        out->count[out->r.inc.v[i].det]++;
}

static int det(const char *name)
{
    int d = tk_insight_detector_find(name);
    assert_true(d >= 0);
    return d;
}

/* Only the detector under test, so other detectors' reactions do not blur counts. */
static tk_insight_config_t only(const char *name)
{
    tk_insight_config_t c;
    tk_insight_config_default(&c);
    for (int d = 0; d < TK_INSIGHT_NDET; d++)
        c.knobs[d].enabled = 0;
    c.knobs[det(name)].enabled = 1;
    return c;
}

static void test_poisson_tail_matches_hand_computed_values(void **st)
{
    (void)st;
    /* P(X >= 3 | 0.5) = 1 - e^-0.5 (1 + 0.5 + 0.125) */
    double p = 1 - exp(-0.5) * 1.625;
    assert_true(fabs(tk_insight_poisson_log10_sf(3, 0.5) - log10(p)) < 1e-9);
    /* P(X >= 1 | 2) = 1 - e^-2, on the c <= lambda branch */
    assert_true(fabs(tk_insight_poisson_log10_sf(1, 2) - log10(1 - exp(-2))) < 1e-9);
    /* P(X >= 20 | 1): dominated by the first term e^-1 / 20! */
    double first = -1 / M_LN10 - lgamma(21) / M_LN10;
    double got = tk_insight_poisson_log10_sf(20, 1);
    assert_true(got < first + 0.03 && got > first);
    assert_true(tk_insight_poisson_log10_sf(0, 5) == 0);
    assert_true(tk_insight_poisson_log10_sf(1, 0) == -300);
}

static void test_median_and_mad_are_robust(void **st)
{
    (void)st;
    double x[] = {3, 1, 2, 1000, 4};
    double med = tk_insight_median(x, 5);
    assert_true(med == 3);
    assert_true(tk_insight_mad(x, 5, med) == 1); /* |x - 3| = 0,2,1,997,1 -> 1 */
    double y[] = {4, 1, 3, 2};
    assert_true(tk_insight_median(y, 4) == 2.5);
    assert_true(tk_insight_median(NULL, 0) == 0);
}

static void test_daily_peak_is_not_an_anomaly(void **st)
{
    (void)st;
    tk_insight_config_t cfg = only("ApiCallRateInsight");
    stream_t s = {0};
    background(&s, 1, 15, 0.5, 14, 20); /* every day 14:00-15:00 at 40x the usual rate */
    run_t r;
    run_stream(&s, &cfg, t0() + 14 * DAY_MS, t0() + 15 * DAY_MS, 0, &r);
    assert_int_equal(r.r.inc.n, 0);
    tk_insight_result_free(&r.r);

    /* The same hour of heavy writes at 03:00, never seen at that hour, is one incident. */
    uint64_t rr = 99;
    for (int64_t m = 0; m < 60; m++)
        for (int n = poisson(&rr, 20); n > 0; n--)
            put(&s, t0() + 14 * DAY_MS + 3 * HOUR_MS + m * MIN_MS + n, "Ecs", "StartInstance",
                "Write", "", "alice", "198.51.100.10", "LTAIalice00000000000000");
    run_stream(&s, &cfg, t0() + 14 * DAY_MS, t0() + 15 * DAY_MS, 0, &r);
    assert_int_equal(r.r.inc.n, 1);
    assert_string_equal(r.r.inc.v[0].key, "Ecs:StartInstance");
    assert_true(r.r.inc.v[0].start_min >= (t0() + 14 * DAY_MS + 3 * HOUR_MS) / MIN_MS);
    assert_true(r.r.inc.v[0].start_min <= (t0() + 14 * DAY_MS + 3 * HOUR_MS) / MIN_MS + 2);
    tk_insight_result_free(&r.r);
    free(s.v);
}

static void test_weekly_cycle_quiet_weekend_is_learnt(void **st)
{
    (void)st;
    /* Weekdays busy (3/min), weekends quiet (0.2/min), three weeks: the
     * Monday-morning return to work is seasonal, not an incident. */
    tk_insight_config_t cfg = only("ApiCallRateInsight");
    stream_t s = {0};
    uint64_t r = 5;
    for (int64_t m = 0; m < 22 * 1440; m++) {
        int dow = (int)(m / 1440 % 7); /* 0 = Monday */
        int n = poisson(&r, dow >= 5 ? 0.2 : 3);
        for (int i = 0; i < n; i++)
            put(&s, t0() + m * MIN_MS + i, "Ecs", "StartInstance", "Write", "", "alice",
                "198.51.100.10", "LTAIalice00000000000000");
    }
    run_t rr;
    run_stream(&s, &cfg, t0() + 14 * DAY_MS, t0() + 22 * DAY_MS, 0, &rr);
    assert_int_equal(rr.r.inc.n, 0);
    tk_insight_result_free(&rr.r);
    free(s.v);
}

static void test_sparse_changes_need_a_spree(void **st)
{
    (void)st;
    /* About two permission changes a day at random times for two weeks. */
    tk_insight_config_t cfg = only("PolicyChangeInsight");
    stream_t s = {0};
    uint64_t r = 11;
    for (int d = 0; d < 14; d++)
        for (int k = 0; k < 2; k++)
            put(&s, t0() + d * DAY_MS + (int64_t)rng_below(&r, (uint32_t)DAY_MS), "Ram",
                "AttachPolicyToUser", "Write", "", "alice", "198.51.100.10",
                "LTAIalice00000000000000");
    run_t rr;
    run_stream(&s, &cfg, t0() + DAY_MS, t0() + 14 * DAY_MS, 0, &rr);
    assert_int_equal(rr.r.inc.n, 0);
    tk_insight_result_free(&rr.r);
    /* One more change on day 14 is still usual... */
    put(&s, t0() + 14 * DAY_MS + 10 * HOUR_MS, "Ram", "DetachPolicyFromUser", "Write", "", "alice",
        "198.51.100.10", "LTAIalice00000000000000");
    run_stream(&s, &cfg, t0() + 14 * DAY_MS, t0() + 15 * DAY_MS, 0, &rr);
    assert_int_equal(rr.r.inc.n, 0);
    tk_insight_result_free(&rr.r);
    /* ...five in five minutes by one user are a spree. */
    for (int k = 0; k < 5; k++)
        put(&s, t0() + 14 * DAY_MS + 20 * HOUR_MS + k * MIN_MS, "Ram", "AttachPolicyToRole",
            "Write", "", "mallory", "203.0.113.7", "LTAIevil000000000000000");
    run_stream(&s, &cfg, t0() + 14 * DAY_MS, t0() + 15 * DAY_MS, 0, &rr);
    assert_int_equal(rr.r.inc.n, 1);
    assert_int_equal(rr.r.inc.v[0].events, 5);
    assert_int_equal(rr.r.inc.v[0].start_min, (t0() + 14 * DAY_MS + 20 * HOUR_MS) / MIN_MS);
    tk_insight_result_free(&rr.r);
    free(s.v);
}

static void test_single_spike_does_not_open_but_sustained_rise_does(void **st)
{
    (void)st;
    tk_insight_config_t cfg = only("ApiCallRateInsight");
    stream_t s = {0};
    background(&s, 2, 8, 0.5, 0, 0);
    for (int i = 0; i < 100; i++) /* 100 writes in one minute, then nothing unusual */
        put(&s, t0() + 7 * DAY_MS + 9 * HOUR_MS + i * 100, "Ecs", "StartInstance", "Write", "",
            "alice", "198.51.100.10", "LTAIalice00000000000000");
    run_t r;
    run_stream(&s, &cfg, t0() + 7 * DAY_MS, t0() + 8 * DAY_MS, 0, &r);
    assert_int_equal(r.r.inc.n, 0);
    tk_insight_result_free(&r.r);
    for (int m = 0; m < 5; m++) /* 12 a minute for five minutes */
        for (int i = 0; i < 12; i++)
            put(&s, t0() + 7 * DAY_MS + 15 * HOUR_MS + m * MIN_MS + i * 1000, "Ecs",
                "StartInstance", "Write", "", "alice", "198.51.100.10", "LTAIalice00000000000000");
    run_stream(&s, &cfg, t0() + 7 * DAY_MS, t0() + 8 * DAY_MS, 0, &r);
    assert_int_equal(r.r.inc.n, 1);
    const tk_insight_incident_t *in = &r.r.inc.v[0];
    uint32_t start = (uint32_t)((t0() + 7 * DAY_MS + 15 * HOUR_MS) / MIN_MS);
    assert_int_equal(in->start_min, start);
    assert_int_equal(in->detect_min, start + 1); /* k = 2: known within two minutes */
    assert_int_equal(in->end_min, start + 5);
    tk_insight_result_free(&r.r);
    free(s.v);
}

/* Parses a rendered record and checks the fields shared by Start and End. */
static cJSON *parse_record(const tk_insight_result_t *r, size_t i, int end_state)
{
    tk_buf_t b = TK_BUF_INIT;
    assert_int_equal(tk_insight_render(r, i, end_state, &b), 0);
    cJSON *o = cJSON_Parse(b.p);
    assert_non_null(o);
    tk_buf_free(&b);
    assert_string_equal(cJSON_GetObjectItem(o, "eventType")->valuestring, "ActionTrailInsight");
    assert_string_equal(cJSON_GetObjectItem(o, "eventCategory")->valuestring, "Insight");
    cJSON *d = cJSON_GetObjectItem(o, "insightDetails");
    assert_string_equal(cJSON_GetObjectItem(d, "state")->valuestring, end_state ? "End" : "Start");
    cJSON *stats = cJSON_GetObjectItem(cJSON_GetObjectItem(d, "insightContext"), "statistics");
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(stats, "insight"), "average"));
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(stats, "baseline"), "average"));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(stats, "insightDuration")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(stats, "baselineDuration")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(stats, "insightCount")));
    return o;
}

static void test_one_start_and_one_end_per_incident(void **st)
{
    (void)st;
    tk_insight_config_t cfg = only("ApiCallRateInsight");
    stream_t s = {0};
    background(&s, 3, 8, 0.5, 0, 0);
    /* 30 minutes of attack with calm gaps of 3 minutes (< close_quiet) inside. */
    int64_t a0 = t0() + 7 * DAY_MS + 11 * HOUR_MS;
    for (int m = 0; m < 30; m++) {
        if (m % 6 >= 3)
            continue;
        for (int i = 0; i < 15; i++)
            put(&s, a0 + m * MIN_MS + i * 1000, "Ecs", "DeleteInstance", "Write", "", "mallory",
                "203.0.113.7", "LTAIevil000000000000000");
    }
    run_t r;
    run_stream(&s, &cfg, t0() + 7 * DAY_MS, t0() + 8 * DAY_MS, 0, &r);
    assert_int_equal(r.r.inc.n, 1);
    const tk_insight_incident_t *in = &r.r.inc.v[0];
    assert_string_equal(in->key, "Ecs:DeleteInstance");
    assert_int_equal(in->start_min, a0 / MIN_MS);
    assert_int_equal(in->end_min, a0 / MIN_MS + 27); /* last attack minute is 26 */
    assert_int_equal(in->events, 15 * 15);
    assert_false(in->open);
    cJSON *a = parse_record(&r.r, 0, 0), *b = parse_record(&r.r, 0, 1);
    assert_string_equal(cJSON_GetObjectItem(a, "sharedEventId")->valuestring,
                        cJSON_GetObjectItem(b, "sharedEventId")->valuestring);
    assert_string_not_equal(cJSON_GetObjectItem(a, "eventId")->valuestring,
                            cJSON_GetObjectItem(b, "eventId")->valuestring);
    cJSON *stats = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(b, "insightDetails"), "insightContext"),
        "statistics");
    assert_int_equal(cJSON_GetObjectItem(stats, "insightDuration")->valueint, 27);
    assert_int_equal(cJSON_GetObjectItem(stats, "insightCount")->valueint, 225);
    assert_int_equal(cJSON_GetObjectItem(stats, "baselineDuration")->valueint, 7 * 1440 + 11 * 60);
    cJSON_Delete(a);
    cJSON_Delete(b);
    tk_insight_result_free(&r.r);

    /* Judged only up to minute 20 of the attack: open, a Start and no End. */
    run_stream(&s, &cfg, t0() + 7 * DAY_MS, a0 + 20 * MIN_MS, 0, &r);
    assert_int_equal(r.r.inc.n, 1);
    assert_true(r.r.inc.v[0].open);
    assert_int_equal(r.r.inc.v[0].end_min, 0);
    tk_buf_t buf = TK_BUF_INIT;
    assert_int_equal(tk_insight_render(&r.r, 0, 1, &buf), TK_EINVAL);
    assert_int_equal(tk_insight_render(&r.r, 0, 0, &buf), 0);
    assert_int_equal(tk_insight_render(&r.r, 1, 0, &buf), TK_EINVAL);
    tk_buf_free(&buf);
    tk_insight_result_free(&r.r);
    free(s.v);
}

/* All Start and End records of a run, concatenated. */
static char *render_all(const tk_insight_result_t *r)
{
    tk_buf_t b = TK_BUF_INIT;
    for (size_t i = 0; i < r->inc.n; i++)
        for (int e = 0; e < 2; e++)
            if (!(e && r->inc.v[i].open)) {
                assert_int_equal(tk_insight_render(r, i, e, &b), 0);
                tk_buf_putc(&b, '\n');
            }
    return b.p ? tk_buf_steal(&b) : strdup("");
}

/* Background plus mallory's burst from a new IP with a new key. */
static void attack_stream(stream_t *s)
{
    background(s, 4, 8, 0.5, 14, 3);
    int64_t a0 = t0() + 7 * DAY_MS + 2 * HOUR_MS;
    for (int m = 0; m < 6; m++)
        for (int i = 0; i < 10; i++)
            put(s, a0 + m * MIN_MS + i * 2000, "Ecs", "DeleteInstance", "Write", "", "mallory",
                "203.0.113.7", "LTAIevil000000000000000");
}

static void test_runs_are_deterministic_in_any_event_order(void **st)
{
    (void)st;
    tk_insight_config_t cfg;
    tk_insight_config_default(&cfg);
    stream_t s = {0};
    attack_stream(&s);
    run_t a, b;
    run_stream(&s, &cfg, t0() + 7 * DAY_MS, t0() + 8 * DAY_MS, 0, &a);
    run_stream(&s, &cfg, t0() + 7 * DAY_MS, t0() + 8 * DAY_MS, 1, &b);
    assert_true(a.r.inc.n >= 3);
    char *x = render_all(&a.r), *y = render_all(&b.r);
    assert_string_equal(x, y);
    free(x);
    free(y);
    tk_insight_result_free(&a.r);
    tk_insight_result_free(&b.r);
    free(s.v);
}

static void test_explanations_name_the_injected_actor(void **st)
{
    (void)st;
    tk_insight_config_t cfg;
    tk_insight_config_default(&cfg);
    stream_t s = {0};
    attack_stream(&s);
    run_t r;
    run_stream(&s, &cfg, t0() + 7 * DAY_MS, t0() + 8 * DAY_MS, 0, &r);
    /* The burst is a write-rate, a new-IP and a new-key incident, nothing else. */
    assert_int_equal(r.count[det("ApiCallRateInsight")], 1);
    assert_int_equal(r.count[det("IpInsight")], 1);
    assert_int_equal(r.count[det("AkInsight")], 1);
    assert_int_equal(r.r.inc.n, 3);
    for (size_t i = 0; i < r.r.inc.n; i++) {
        const tk_insight_incident_t *in = &r.r.inc.v[i];
        tk_buf_t b = TK_BUF_INIT;
        assert_int_equal(tk_insight_explain(&r.r, i, &b), 0);
        assert_non_null(strstr(b.p, "mallory"));
        assert_non_null(strstr(b.p, "203.0.113.7"));
        tk_buf_free(&b);
        /* attributions: mallory is the top user, and absent from the baseline */
        cJSON *o = parse_record(&r.r, i, 1);
        cJSON *attrs = cJSON_GetObjectItem(
            cJSON_GetObjectItem(cJSON_GetObjectItem(o, "insightDetails"), "insightContext"),
            "attributions");
        cJSON *user = cJSON_GetArrayItem(attrs, 0);
        assert_string_equal(cJSON_GetObjectItem(user, "attribute")->valuestring, "userIdentity");
        cJSON *top = cJSON_GetArrayItem(cJSON_GetObjectItem(user, "insight"), 0);
        assert_string_equal(cJSON_GetObjectItem(top, "value")->valuestring, "mallory");
        cJSON *ua = cJSON_GetArrayItem(attrs, 4);
        top = cJSON_GetArrayItem(cJSON_GetObjectItem(ua, "insight"), 0);
        assert_string_equal(cJSON_GetObjectItem(top, "value")->valuestring, "python-requests/2.31");
        cJSON *base = cJSON_GetObjectItem(user, "baseline");
        for (int j = 0; j < cJSON_GetArraySize(base); j++)
            assert_string_not_equal(
                cJSON_GetObjectItem(cJSON_GetArrayItem(base, j), "value")->valuestring, "mallory");
        if (in->det == det("ApiCallRateInsight")) {
            assert_string_equal(in->key, "Ecs:DeleteInstance");
            assert_int_equal(in->events, 60);
        }
        if (in->det == det("IpInsight"))
            assert_string_equal(in->key, "203.0.113.7");
        if (in->det == det("AkInsight"))
            assert_string_equal(in->key, "LTAIevil000000000000000");
        cJSON_Delete(o);
    }
    tk_insight_result_free(&r.r);
    free(s.v);
}

static void test_trail_concealment_judges_stop_against_routine_edits(void **st)
{
    (void)st;
    tk_insight_config_t cfg = only("TrailConcealmentInsight");
    stream_t s = {0};
    for (int d = 0; d < 10; d++) /* a routine UpdateTrail every day at 09:30 */
        put(&s, t0() + d * DAY_MS + 9 * HOUR_MS + 30 * MIN_MS, "Actiontrail", "UpdateTrail",
            "Write", "", "alice", "198.51.100.10", "LTAIalice00000000000000");
    run_t r;
    run_stream(&s, &cfg, t0(), t0() + 10 * DAY_MS, 0, &r);
    assert_int_equal(r.r.inc.n, 0);
    tk_insight_result_free(&r.r);
    put(&s, t0() + 9 * DAY_MS + 22 * HOUR_MS, "Actiontrail", "StopLogging", "Write", "", "mallory",
        "203.0.113.7", "LTAIevil000000000000000");
    run_stream(&s, &cfg, t0(), t0() + 10 * DAY_MS, 0, &r);
    assert_int_equal(r.r.inc.n, 1);
    assert_int_equal(r.r.inc.v[0].events, 1);
    assert_int_equal(r.r.inc.v[0].start_min, (t0() + 9 * DAY_MS + 22 * HOUR_MS) / MIN_MS);
    tk_insight_result_free(&r.r);
    free(s.v);
}

static void test_nothing_is_judged_before_min_history(void **st)
{
    (void)st;
    tk_insight_config_t cfg = only("IpInsight");
    stream_t s = {0};
    background(&s, 6, 2, 0.5, 0, 0);
    for (int m = 0; m < 10; m++) /* a busy new IP in the first hours */
        for (int i = 0; i < 10; i++)
            put(&s, t0() + 3 * HOUR_MS + m * MIN_MS + i, "Ecs", "DeleteInstance", "Write", "",
                "mallory", "203.0.113.7", "");
    run_t r;
    run_stream(&s, &cfg, t0(), t0() + 2 * DAY_MS, 0, &r);
    assert_int_equal(r.r.inc.n, 0);
    tk_insight_result_free(&r.r);
    assert_int_equal(tk_insight_config_set(&cfg, "IpInsight.min_history_h=2", NULL), 0);
    run_stream(&s, &cfg, t0(), t0() + 2 * DAY_MS, 0, &r);
    assert_int_equal(r.r.inc.n, 1);
    assert_string_equal(r.r.inc.v[0].key, "203.0.113.7");
    tk_insight_result_free(&r.r);
    free(s.v);
}

static void test_config_set_validates_type_knob_and_range(void **st)
{
    (void)st;
    tk_insight_config_t c;
    tk_insight_config_default(&c);
    char err[TK_ERRLEN];
    int ip = det("IpInsight"), ak = det("AkInsight");
    assert_int_equal(tk_insight_config_set(&c, "IpInsight.alpha=1e-6", err), 0);
    assert_true(c.knobs[ip].alpha == 1e-6);
    assert_true(c.knobs[ak].alpha == tk_insight_detectors[ak]->defaults.alpha);
    assert_int_equal(tk_insight_config_set(&c, "*.sigma=2.5", err), 0);
    for (int d = 0; d < TK_INSIGHT_NDET; d++)
        assert_true(c.knobs[d].sigma == 2.5);
    assert_int_equal(tk_insight_config_set(&c, "NoSuchInsight.alpha=1", err), TK_EINVAL);
    assert_non_null(strstr(err, "NoSuchInsight"));
    assert_int_equal(tk_insight_config_set(&c, "IpInsight.nope=1", err), TK_EINVAL);
    assert_non_null(strstr(err, "nope"));
    assert_int_equal(tk_insight_config_set(&c, "IpInsight.alpha=2", err), TK_EINVAL);
    assert_non_null(strstr(err, "alpha"));
    assert_int_equal(tk_insight_config_set(&c, "IpInsight.alpha=x", err), TK_EINVAL);
    assert_int_equal(tk_insight_config_set(&c, "alpha=1", err), TK_EINVAL);
    assert_true(c.knobs[ip].alpha == 1e-6); /* failed sets change nothing */
}

static void test_obs_from_json_reads_identity_and_sensitivity(void **st)
{
    (void)st;
    const char *j = "{\"eventName\":\"StopLogging\",\"serviceName\":\"Actiontrail\","
                    "\"eventRW\":\"Write\",\"errorCode\":\"\",\"sourceIpAddress\":\"1.2.3.4\","
                    "\"userAgent\":\"ua\",\"eventType\":\"ApiCall\",\"userIdentity\":{\"type\":"
                    "\"assumed-role\",\"principalId\":\"r:s\",\"accessKeyId\":\"STS.x\"}}";
    tk_insight_obs_t o;
    cJSON *doc = NULL;
    assert_int_equal(tk_insight_obs_from_json(j, strlen(j), 5, &o, &doc), 0);
    assert_string_equal(o.user, "r:s");
    assert_string_equal(o.access_key, "STS.x");
    assert_string_equal(o.source_ip, "1.2.3.4");
    assert_string_equal(o.error_code, "");
    assert_int_equal(o.time_ms, 5);
    assert_int_equal(o.sensitive, tk_event_is_sensitive("Actiontrail", 11, "StopLogging", 11));
    cJSON_Delete(doc);
    assert_int_equal(tk_insight_obs_from_json("[1]", 3, 0, &o, &doc), TK_EINVAL);
    assert_null(doc);
    assert_int_equal(tk_insight_obs_from_json("{", 1, 0, &o, &doc), TK_EINVAL);
}

/* ---- over a real store ---- */

typedef struct emitted {
    char **lines;
    size_t n;
    int starts, ends;
} emitted_t;

static int collect(void *ud, const char *account, int end_state, int64_t t, const char *json,
                   size_t len)
{
    emitted_t *e = ud;
    assert_string_equal(account, "1000000000000001");
    assert_true(t > 0);
    e->lines = realloc(e->lines, (e->n + 1) * sizeof *e->lines);
    e->lines[e->n++] = strndup(json, len);
    if (end_state)
        e->ends++;
    else
        e->starts++;
    return 0;
}

static void emitted_free(emitted_t *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->lines[i]);
    free(e->lines);
}

static int live_feed(void *ud, const tk_stored_event_t *ev)
{
    return tk_insight_live_add_stored(ud, ev);
}

static void store_put(tk_store_t *st, tk_batch_t *b, const tk_insight_obs_t *o, size_t idx)
{
    char t[40], line[1024];
    tk_time_format(o->time_ms, 1, t);
    int n = snprintf(line, sizeof line,
                     "{\"eventId\":\"ev-%zu\",\"eventTime\":\"%s\",\"recipientAccountId\":"
                     "\"1000000000000001\",\"eventType\":\"ApiCall\",\"eventRW\":\"%s\","
                     "\"serviceName\":\"%s\",\"eventName\":\"%s\",\"errorCode\":\"%s\","
                     "\"sourceIpAddress\":\"%s\",\"userAgent\":\"%s\",\"userIdentity\":{\"type\":"
                     "\"ram-user\",\"userName\":\"%s\",\"accessKeyId\":\"%s\"}}\n",
                     idx, t, o->event_rw, o->service, o->event_name, o->error_code, o->source_ip,
                     o->user_agent, o->user, o->access_key);
    char err[TK_ERRLEN];
    tk_parse_opts_t po = {.format = TK_FMT_JSONL};
    assert_int_equal(tk_event_parse(b, line, (size_t)n, &po, err), 0);
    assert_int_equal(tk_batch_reject_count(b), 0);
    if (tk_batch_count(b) >= 512 || idx == (size_t)-1) {
        assert_int_equal(
            tk_store_append(st, tk_batch_events(b), tk_batch_count(b), NULL, NULL, err), 0);
        tk_batch_reset(b);
    }
}

static void test_store_rebuild_finds_the_same_incidents(void **st_)
{
    (void)st_;
    char dir[] = "/tmp/tk-insight-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[TK_ERRLEN] = "";
    tk_store_opts_t so = {.dir = dir, .no_fsync = 1};
    tk_store_t *st = NULL;
    assert_int_equal(tk_store_open(&so, &st, err), 0);
    tk_store_log_retain(st, "insight-test", 1); /* the log consumer below reads from seq 1 */
    stream_t s = {0};
    attack_stream(&s);
    tk_batch_t *b = tk_batch_create();
    for (size_t i = 0; i < s.n; i++)
        store_put(st, b, &s.v[i], i);
    if (tk_batch_count(b))
        assert_int_equal(tk_store_append(st, tk_batch_events(b), tk_batch_count(b), NULL, NULL, err), 0);
    tk_batch_destroy(b);
    assert_int_equal(tk_store_seal(st, err), 0);

    tk_insight_config_t cfg;
    tk_insight_config_default(&cfg);
    run_t mem;
    run_stream(&s, &cfg, t0() + 7 * DAY_MS, t0() + 8 * DAY_MS, 0, &mem);
    tk_insight_result_t r1, r2;
    assert_int_equal(tk_insight_run_account(st, "1000000000000001", &cfg, t0() + 7 * DAY_MS,
                                            t0() + 8 * DAY_MS, &r1, err), 0);
    tk_store_close(st);
    /* Reopened (a restart): the same bytes. */
    st = NULL;
    assert_int_equal(tk_store_open(&so, &st, err), 0);
    assert_int_equal(tk_insight_run_account(st, "1000000000000001", &cfg, t0() + 7 * DAY_MS,
                                            t0() + 8 * DAY_MS, &r2, err), 0);
    assert_int_equal(r1.inc.n, 3);
    char *a = render_all(&mem.r), *x = render_all(&r1), *y = render_all(&r2);
    assert_string_equal(x, y);
    assert_string_equal(a, x); /* the store path equals the in-memory path */

    /* A log consumer: every stored event through tk_insight_live, one tick at
     * the end with the store for attributions: the same records again. */
    tk_insight_live_t *l = tk_insight_live_create(&cfg);
    assert_non_null(l);
    assert_int_equal(tk_store_log_read(st, 1, SIZE_MAX, live_feed, l, err), 0);
    emitted_t em = {0};
    assert_int_equal(tk_insight_live_tick(l, st, t0() + 8 * DAY_MS, collect, &em, err), 0);
    assert_int_equal(em.starts, 3);
    assert_int_equal(em.ends, 3);
    tk_buf_t all = TK_BUF_INIT;
    for (size_t i = 0; i < r1.inc.n; i++) /* emitted in incident order, Start then End */
        for (size_t k = 0; k < 2; k++) {
            tk_buf_puts(&all, em.lines[2 * i + k]);
            tk_buf_putc(&all, '\n');
        }
    assert_string_equal(all.p, x);
    tk_buf_free(&all);
    emitted_free(&em);
    tk_insight_live_destroy(l);
    free(a);
    free(x);
    free(y);
    tk_insight_result_free(&mem.r);
    tk_insight_result_free(&r1);
    tk_insight_result_free(&r2);
    /* An account without events: no incident, no error. */
    assert_int_equal(tk_insight_run_account(st, "1000000000000009", &cfg, 0, INT64_MAX, &r1, err), 0);
    assert_int_equal(r1.inc.n, 0);
    tk_insight_result_free(&r1);
    tk_store_close(st);
    free(s.v);
    assert_int_equal(tk_fs_remove_tree(dir), 0);
}

/* ---- continuous evaluation ---- */

static int cmp_obs_time(const void *a, const void *b)
{
    const tk_insight_obs_t *x = a, *y = b;
    return x->time_ms < y->time_ms ? -1 : x->time_ms > y->time_ms;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Feeds s in time order, ticking every `every` minutes, then once at `end`. */
static void live_run(stream_t *s, const tk_insight_config_t *cfg, int every, int64_t end,
                     emitted_t *out)
{
    char err[TK_ERRLEN] = "";
    memset(out, 0, sizeof *out);
    qsort(s->v, s->n, sizeof *s->v, cmp_obs_time);
    tk_insight_live_t *l = tk_insight_live_create(cfg);
    assert_non_null(l);
    int64_t next = (s->v[0].time_ms / MIN_MS + every) * MIN_MS;
    for (size_t i = 0; i < s->n; i++) {
        while (s->v[i].time_ms >= next) {
            assert_int_equal(tk_insight_live_tick(l, NULL, next, collect, out, err), 0);
            next += every * MIN_MS;
        }
        assert_int_equal(tk_insight_live_add(l, "1000000000000001", &s->v[i]), 0);
    }
    for (; next <= end; next += every * MIN_MS)
        assert_int_equal(tk_insight_live_tick(l, NULL, next, collect, out, err), 0);
    tk_insight_live_destroy(l);
    qsort(out->lines, out->n, sizeof *out->lines, cmp_str);
}

static void test_live_ticks_emit_exactly_the_offline_records(void **st)
{
    (void)st;
    tk_insight_config_t cfg;
    tk_insight_config_default(&cfg);
    stream_t s = {0};
    attack_stream(&s);
    /* A second, later burst of the same series: a new incident, not a continuation. */
    for (int m = 0; m < 4; m++)
        for (int i = 0; i < 10; i++)
            put(&s, t0() + 7 * DAY_MS + 9 * HOUR_MS + m * MIN_MS + i * 3000, "Ecs",
                "DeleteInstance", "Write", "", "mallory", "203.0.113.7", "LTAIevil000000000000000");
    int64_t end = t0() + 8 * DAY_MS;

    /* Offline, without attributions (the live run has no store to read them from). */
    char err[TK_ERRLEN];
    tk_insight_agg_t *a = tk_insight_agg_create(&cfg);
    for (size_t i = 0; i < s.n; i++)
        assert_int_equal(tk_insight_agg_add(a, &s.v[i]), 0);
    tk_insight_result_t r;
    assert_int_equal(tk_insight_evaluate(a, "1000000000000001", &cfg, 0, end, &r, err), 0);
    tk_insight_agg_destroy(a);
    assert_int_equal(r.inc.n, 6); /* two bursts x (ApiCallRate, Ip, Ak) */
    emitted_t off = {0};
    for (size_t i = 0; i < r.inc.n; i++)
        for (int e = 0; e < 2; e++) {
            tk_buf_t b = TK_BUF_INIT;
            assert_int_equal(tk_insight_render(&r, i, e, &b), 0);
            off.lines = realloc(off.lines, (off.n + 1) * sizeof *off.lines);
            off.lines[off.n++] = tk_buf_steal(&b);
        }
    qsort(off.lines, off.n, sizeof *off.lines, cmp_str);
    tk_insight_result_free(&r);

    for (int every = 1; every <= 7; every += 6) { /* every minute, and every 7 minutes */
        emitted_t live;
        live_run(&s, &cfg, every, end, &live);
        assert_int_equal(live.starts, 6);
        assert_int_equal(live.ends, 6);
        assert_int_equal(live.n, off.n);
        for (size_t i = 0; i < off.n; i++)
            assert_string_equal(live.lines[i], off.lines[i]);
        emitted_free(&live);
    }
    emitted_free(&off);
    free(s.v);
}

/* ---- AkInsight: a known key from a new network ---- */

#define AK_ALICE "LTAIalice00000000000000"

/* alice's key on every day of `days` from 09:00 to 17:00, one call every 10
 * minutes from the office (198.51.100.10), reads and writes alternating. */
static void ak_history(stream_t *s, int days)
{
    for (int d = 0; d < days; d++)
        for (int m = 9 * 60; m < 17 * 60; m += 10) {
            int w = (m / 10) % 2;
            put(s, t0() + d * DAY_MS + m * MIN_MS, "Ecs", w ? "StartInstance" : "DescribeInstances",
                w ? "Write" : "Read", "", "alice", "198.51.100.10", AK_ALICE);
        }
}

/* n calls of ak by user from ip, one every 2 minutes from a0: reads only, or
 * read, write, read, ... (weights 1, 3, 1: net_min 5 is reached at the 3rd). */
static void ak_use(stream_t *s, int64_t a0, int n, int reads_only, const char *user,
                   const char *ip, const char *ak)
{
    for (int i = 0; i < n; i++) {
        int w = !reads_only && i % 2;
        put(s, a0 + i * 2 * MIN_MS, "Ecs", w ? "StopInstance" : "DescribeInstances",
            w ? "Write" : "Read", "", user, ip, ak);
    }
}

/* Monday of the third week, 10:00: after 14 days of history. */
static int64_t ak_attack_time(void) { return t0() + 14 * DAY_MS + 10 * HOUR_MS; }

static size_t net_incidents(const run_t *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->r.inc.n; i++)
        n += r->r.inc.v[i].det == det("AkInsight") && strstr(r->r.inc.v[i].key, " from ");
    return n;
}

static void test_ak_known_key_from_new_network_is_one_incident(void **st)
{
    (void)st;
    tk_insight_config_t cfg = only("AkInsight");
    stream_t s = {0};
    ak_history(&s, 15);
    int64_t a0 = ak_attack_time();
    ak_use(&s, a0, 15, 0, "alice", "203.0.113.50", AK_ALICE);
    run_t r;
    run_stream(&s, &cfg, t0() + 7 * DAY_MS, t0() + 15 * DAY_MS, 0, &r);
    /* One incident, on the (key, network) series; the rate (1 call in 2 minutes
     * on top of 1 in 10) does not trip the key's rate series. */
    assert_int_equal(r.r.inc.n, 1);
    const tk_insight_incident_t *in = &r.r.inc.v[0];
    assert_string_equal(in->key, AK_ALICE " from 203.0.113.0/24 by alice");
    assert_int_equal(in->start_min, a0 / MIN_MS);
    assert_int_equal(in->detect_min, a0 / MIN_MS + 4); /* read, write, read: weight 5 */
    assert_int_equal(in->end_min, a0 / MIN_MS + 29);  /* last call at minute 28 */
    assert_int_equal(in->events, 15);
    assert_int_equal(in->events_at_detect, 3);
    assert_false(in->open);
    cJSON *a = parse_record(&r.r, 0, 0), *b = parse_record(&r.r, 0, 1);
    assert_string_equal(cJSON_GetObjectItem(a, "sharedEventId")->valuestring,
                        cJSON_GetObjectItem(b, "sharedEventId")->valuestring);
    cJSON *det_a = cJSON_GetObjectItem(a, "insightDetails");
    assert_string_equal(cJSON_GetObjectItem(det_a, "state")->valuestring, "Start");
    assert_string_equal(cJSON_GetObjectItem(det_a, "insightObject")->valuestring,
                        AK_ALICE " from 203.0.113.0/24 by alice");
    cJSON_Delete(a);
    cJSON_Delete(b);
    /* The explanation names the key, the new network, the user and the IP. */
    tk_buf_t x = TK_BUF_INIT;
    assert_int_equal(tk_insight_explain(&r.r, 0, &x), 0);
    assert_non_null(strstr(x.p, "AkInsight: AccessKey " AK_ALICE " from 203.0.113.0/24 by alice"));
    assert_non_null(strstr(x.p, "against a baseline of 0/min (15 events in 29 min"));
    assert_non_null(strstr(x.p, "IP 203.0.113.50 (100%, not seen in the baseline week)"));
    tk_buf_free(&x);
    tk_insight_result_free(&r.r);

    /* Judged up to minute 10 only: established, open, a Start and no End yet. */
    run_stream(&s, &cfg, t0() + 7 * DAY_MS, a0 + 10 * MIN_MS, 0, &r);
    assert_int_equal(r.r.inc.n, 1);
    assert_true(r.r.inc.v[0].open);
    tk_buf_t buf = TK_BUF_INIT;
    assert_int_equal(tk_insight_render(&r.r, 0, 1, &buf), TK_EINVAL);
    tk_buf_free(&buf);
    tk_insight_result_free(&r.r);

    /* The same use again an hour later: a second episode of a flagged network, a second incident. */
    ak_use(&s, a0 + 2 * HOUR_MS, 5, 0, "alice", "203.0.113.51", AK_ALICE);
    run_stream(&s, &cfg, t0() + 7 * DAY_MS, t0() + 15 * DAY_MS, 0, &r);
    assert_int_equal(net_incidents(&r), 2);
    assert_int_equal(r.r.inc.v[1].start_min, (a0 + 2 * HOUR_MS) / MIN_MS);
    tk_insight_result_free(&r.r);
    free(s.v);
}

static void test_ak_known_network_and_keys_without_history_are_not_flagged(void **st)
{
    (void)st;
    tk_insight_config_t cfg = only("AkInsight");
    stream_t s = {0};
    ak_history(&s, 15);
    int64_t a0 = ak_attack_time();
    /* Another host of the office /24: the same network. */
    ak_use(&s, a0, 15, 0, "alice", "198.51.100.77", AK_ALICE);
    /* A key first used today (the new-key case, for the rate series). */
    ak_use(&s, a0, 15, 0, "bob", "203.0.113.60", "LTAIbobnew0000000000000");
    /* A key with only two days of history (net_days is 3). */
    ak_use(&s, t0() + 12 * DAY_MS + 10 * HOUR_MS, 3, 0, "carol", "198.51.100.30",
           "LTAIcarol00000000000000");
    ak_use(&s, t0() + 13 * DAY_MS + 10 * HOUR_MS, 3, 0, "carol", "198.51.100.30",
           "LTAIcarol00000000000000");
    ak_use(&s, a0, 15, 0, "carol", "203.0.113.70", "LTAIcarol00000000000000");
    run_t r;
    run_stream(&s, &cfg, t0() + 7 * DAY_MS, t0() + 15 * DAY_MS, 0, &r);
    assert_int_equal(net_incidents(&r), 0);
    tk_insight_result_free(&r.r);

    /* With net_days=2, carol's key has its history, and the new network is flagged. */
    char err[TK_ERRLEN];
    assert_int_equal(tk_insight_config_set(&cfg, "AkInsight.net_days=2", err), 0);
    run_stream(&s, &cfg, t0() + 7 * DAY_MS, t0() + 15 * DAY_MS, 0, &r);
    assert_int_equal(net_incidents(&r), 1);
    assert_string_equal(r.r.inc.v[0].key, "LTAIcarol00000000000000 from 203.0.113.0/24 by carol");
    tk_insight_result_free(&r.r);
    /* net_min=0 turns the check off. */
    assert_int_equal(tk_insight_config_set(&cfg, "AkInsight.net_min=0", err), 0);
    run_stream(&s, &cfg, t0() + 7 * DAY_MS, t0() + 15 * DAY_MS, 0, &r);
    assert_int_equal(net_incidents(&r), 0);
    tk_insight_result_free(&r.r);
    free(s.v);
}

static void test_ak_light_reads_from_a_new_network_are_not_flagged(void **st)
{
    (void)st;
    tk_insight_config_t cfg = only("AkInsight");
    stream_t s = {0};
    ak_history(&s, 15);
    int64_t a0 = ak_attack_time();
    ak_use(&s, a0, 4, 1, "alice", "203.0.113.50", AK_ALICE); /* 4 reads: weight 4 < 5 */
    run_t r;
    run_stream(&s, &cfg, t0() + 7 * DAY_MS, t0() + 15 * DAY_MS, 0, &r);
    assert_int_equal(net_incidents(&r), 0);
    tk_insight_result_free(&r.r);
    /* A fifth read (within the new network's first day) reaches net_min. */
    ak_use(&s, a0 + 3 * HOUR_MS, 1, 1, "alice", "203.0.113.50", AK_ALICE);
    run_stream(&s, &cfg, t0() + 7 * DAY_MS, t0() + 15 * DAY_MS, 0, &r);
    assert_int_equal(net_incidents(&r), 1);
    assert_int_equal(r.r.inc.v[0].start_min, (a0 + 3 * HOUR_MS) / MIN_MS);
    assert_int_equal(r.r.inc.v[0].events, 1);
    tk_insight_result_free(&r.r);
    free(s.v);
}

static void test_ak_owner_console_use_or_roaming_key_vouches_for_the_network(void **st)
{
    (void)st;
    tk_insight_config_t cfg = only("AkInsight");
    stream_t s = {0};
    ak_history(&s, 15);
    int64_t a0 = ak_attack_time();
    /* alice signs in to the console from the hotel first: she is there. */
    put(&s, a0 - 20 * MIN_MS, "AasSub", "ConsoleSignin", "Write", "", "alice", "203.0.113.9", "");
    ak_use(&s, a0, 15, 0, "alice", "203.0.113.50", AK_ALICE);
    /* A CI key taking up a new /24 every day: it roams, its networks are not judged. */
    static char ips[15][32];
    for (int d = 0; d < 15; d++) {
        snprintf(ips[d], sizeof ips[d], "198.18.%d.5", d);
        ak_use(&s, t0() + d * DAY_MS + 3 * HOUR_MS, 10, 0, "ci-deployer", ips[d],
               "LTAIci00000000000000000");
    }
    run_t r;
    run_stream(&s, &cfg, t0() + 7 * DAY_MS, t0() + 15 * DAY_MS, 0, &r);
    assert_int_equal(net_incidents(&r), 0);
    tk_insight_result_free(&r.r);
    /* Without the roaming allowance each judged day's CI network is flagged. */
    tk_insight_config_t loose = cfg;
    char err[TK_ERRLEN];
    assert_int_equal(tk_insight_config_set(&loose, "AkInsight.net_roam=1000", err), 0);
    run_stream(&s, &loose, t0() + 7 * DAY_MS, t0() + 15 * DAY_MS, 0, &r);
    assert_int_equal(net_incidents(&r), 8); /* days 7 to 14 */
    for (size_t i = 0; i < r.r.inc.n; i++)
        assert_non_null(strstr(r.r.inc.v[i].key, "LTAIci00000000000000000 from 198.18."));
    tk_insight_result_free(&r.r);
    /* Someone else's console use from there vouches for nothing. */
    stream_t s2 = {0};
    ak_history(&s2, 15);
    put(&s2, a0 - 20 * MIN_MS, "AasSub", "ConsoleSignin", "Write", "", "bob", "203.0.113.9", "");
    ak_use(&s2, a0, 15, 0, "alice", "203.0.113.50", AK_ALICE);
    run_stream(&s2, &cfg, t0() + 7 * DAY_MS, t0() + 15 * DAY_MS, 0, &r);
    assert_int_equal(net_incidents(&r), 1);
    tk_insight_result_free(&r.r);
    free(s.v);
    free(s2.v);
}

static void test_ak_new_network_live_ticks_emit_the_offline_records(void **st)
{
    (void)st;
    tk_insight_config_t cfg = only("AkInsight");
    stream_t s = {0};
    ak_history(&s, 15);
    int64_t a0 = ak_attack_time();
    ak_use(&s, a0, 15, 0, "alice", "203.0.113.50", AK_ALICE);
    ak_use(&s, a0 + 2 * HOUR_MS, 5, 0, "alice", "203.0.113.51", AK_ALICE);
    int64_t end = t0() + 15 * DAY_MS;
    char err[TK_ERRLEN];
    tk_insight_agg_t *a = tk_insight_agg_create(&cfg);
    for (size_t i = 0; i < s.n; i++)
        assert_int_equal(tk_insight_agg_add(a, &s.v[i]), 0);
    tk_insight_result_t r;
    assert_int_equal(tk_insight_evaluate(a, "1000000000000001", &cfg, 0, end, &r, err), 0);
    tk_insight_agg_destroy(a);
    assert_int_equal(r.inc.n, 2);
    emitted_t off = {0};
    for (size_t i = 0; i < r.inc.n; i++)
        for (int e = 0; e < 2; e++) {
            tk_buf_t b = TK_BUF_INIT;
            assert_int_equal(tk_insight_render(&r, i, e, &b), 0);
            off.lines = realloc(off.lines, (off.n + 1) * sizeof *off.lines);
            off.lines[off.n++] = tk_buf_steal(&b);
        }
    qsort(off.lines, off.n, sizeof *off.lines, cmp_str);
    tk_insight_result_free(&r);
    emitted_t live;
    live_run(&s, &cfg, 1, end, &live);
    assert_int_equal(live.starts, 2);
    assert_int_equal(live.ends, 2);
    assert_int_equal(live.n, off.n);
    for (size_t i = 0; i < off.n; i++)
        assert_string_equal(live.lines[i], off.lines[i]);
    emitted_free(&live);
    emitted_free(&off);
    free(s.v);
}

static void test_ip_new_ip_someone_signed_in_from_is_not_a_stranger(void **st)
{
    (void)st;
    tk_insight_config_t cfg = only("IpInsight");
    stream_t s = {0};
    background(&s, 5, 8, 0.5, 0, 0);
    int64_t a0 = t0() + 7 * DAY_MS + 3 * HOUR_MS;
    /* bob works from a hotel all morning after signing in there. */
    put(&s, a0 - 5 * MIN_MS, "AasSub", "ConsoleSignin", "Write", "", "bob", "203.0.113.20", "");
    for (int m = 0; m < 20; m++)
        for (int i = 0; i < 4; i++)
            put(&s, a0 + m * MIN_MS + i * 10000, "Ecs", "StartInstance", "Write", "", "bob",
                "203.0.113.20", "");
    /* The same from an IP where sign-ins failed first (guessing): judged. */
    for (int i = 0; i < 5; i++)
        put(&s, a0 - 10 * MIN_MS + i * 30000, "AasSub", "ConsoleSignin", "Write",
            i < 4 ? "InvalidPassword" : "", "mallory", "203.0.113.30", "");
    for (int m = 0; m < 20; m++)
        for (int i = 0; i < 4; i++)
            put(&s, a0 + m * MIN_MS + i * 10000, "Ecs", "StartInstance", "Write", "", "mallory",
                "203.0.113.30", "");
    run_t r;
    run_stream(&s, &cfg, t0() + 7 * DAY_MS, t0() + 8 * DAY_MS, 0, &r);
    assert_int_equal(r.r.inc.n, 1);
    assert_string_equal(r.r.inc.v[0].key, "203.0.113.30");
    tk_insight_result_free(&r.r);
    free(s.v);
}

static void test_prune_drops_old_points_and_empty_series(void **st)
{
    (void)st;
    tk_insight_config_t cfg = only("IpInsight");
    tk_insight_agg_t *a = tk_insight_agg_create(&cfg);
    stream_t s = {0};
    put(&s, t0(), "Ecs", "StartInstance", "Write", "", "alice", "198.51.100.10", "");
    put(&s, t0() + DAY_MS, "Ecs", "StartInstance", "Write", "", "alice", "198.51.100.10", "");
    put(&s, t0() + 2 * MIN_MS, "Ecs", "StartInstance", "Write", "", "bob", "198.51.100.20", "");
    for (size_t i = 0; i < s.n; i++)
        assert_int_equal(tk_insight_agg_add(a, &s.v[i]), 0);
    assert_int_equal(tk_insight_agg_nseries(a), 2);
    assert_int_equal(tk_insight_agg_prune(a, (uint32_t)((t0() + HOUR_MS) / MIN_MS)), 0);
    assert_int_equal(tk_insight_agg_nseries(a), 1);
    const tk_insight_series_t *se = tk_insight_agg_series(a, 0);
    assert_string_equal(se->key, "198.51.100.10");
    assert_int_equal(se->n, 1);
    assert_int_equal(tk_insight_agg_first_minute(a), (t0() + DAY_MS) / MIN_MS);
    /* Still a working table: the same key finds its series, a new one is added. */
    assert_int_equal(tk_insight_agg_add(a, &s.v[1]), 0);
    assert_int_equal(tk_insight_agg_add(a, &s.v[2]), 0);
    assert_int_equal(tk_insight_agg_nseries(a), 2);
    assert_int_equal(tk_insight_agg_series(a, 0)->pts[0].events, 2);
    tk_insight_agg_destroy(a);
    free(s.v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_poisson_tail_matches_hand_computed_values),
        cmocka_unit_test(test_median_and_mad_are_robust),
        cmocka_unit_test(test_daily_peak_is_not_an_anomaly),
        cmocka_unit_test(test_weekly_cycle_quiet_weekend_is_learnt),
        cmocka_unit_test(test_sparse_changes_need_a_spree),
        cmocka_unit_test(test_single_spike_does_not_open_but_sustained_rise_does),
        cmocka_unit_test(test_one_start_and_one_end_per_incident),
        cmocka_unit_test(test_runs_are_deterministic_in_any_event_order),
        cmocka_unit_test(test_explanations_name_the_injected_actor),
        cmocka_unit_test(test_trail_concealment_judges_stop_against_routine_edits),
        cmocka_unit_test(test_nothing_is_judged_before_min_history),
        cmocka_unit_test(test_config_set_validates_type_knob_and_range),
        cmocka_unit_test(test_obs_from_json_reads_identity_and_sensitivity),
        cmocka_unit_test(test_store_rebuild_finds_the_same_incidents),
        cmocka_unit_test(test_live_ticks_emit_exactly_the_offline_records),
        cmocka_unit_test(test_prune_drops_old_points_and_empty_series),
        cmocka_unit_test(test_ak_known_key_from_new_network_is_one_incident),
        cmocka_unit_test(test_ak_known_network_and_keys_without_history_are_not_flagged),
        cmocka_unit_test(test_ak_light_reads_from_a_new_network_are_not_flagged),
        cmocka_unit_test(test_ak_owner_console_use_or_roaming_key_vouches_for_the_network),
        cmocka_unit_test(test_ak_new_network_live_ticks_emit_the_offline_records),
        cmocka_unit_test(test_ip_new_ip_someone_signed_in_from_is_not_a_stranger),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

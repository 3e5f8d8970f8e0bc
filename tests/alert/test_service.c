/* Tests of the alerting service without threads (tk_alert_service_step) over
 * a real store and meta.db in a temporary directory: stored rules and their
 * errors, one alert per incident with one outbox row per recipient channel,
 * restart mid-window (no duplicate, no miss), clearing with a recovery
 * notice, retry backoff, acknowledge/close, and the webhook bodies and
 * signature. Real deliveries are covered by service.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alert/alert_store.h"
#include "alert/notify.h"
#include "alert/service.h"
#include "base/egress.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "store/store.h"

#define ACC "100000000000000"

typedef struct fx {
    char dir[64];
    tk_store_t *store;
    tk_meta_t *meta;
    int n; /* events appended */
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/tk-alertsvc.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    char err[TK_ERRLEN];
    tk_store_opts_t o = {.dir = f->dir, .no_fsync = 1};
    if (tk_store_open(&o, &f->store, err) || tk_meta_open(f->dir, &f->meta, err))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    tk_store_close(f->store);
    tk_meta_close(f->meta);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    int rc = system(cmd);
    free(f);
    return rc;
}

/* A failed console sign-in of user in account acct at now - age_s. */
static void failure_acct(fx_t *f, const char *acct, const char *user, int age_s)
{
    char json[512], id[32], err[TK_ERRLEN];
    int64_t t = tk_now_ms() - (int64_t)age_s * 1000;
    char ts[40];
    tk_time_format(t, 0, ts);
    snprintf(id, sizeof id, "ev-%d", f->n++);
    snprintf(json, sizeof json,
             "{\"eventId\":\"%s\",\"eventTime\":\"%s\",\"eventName\":\"ConsoleSignin\","
             "\"errorCode\":\"InvalidPassword\",\"userIdentity\":{\"type\":\"ram-user\","
             "\"userName\":\"%s\"},\"recipientAccountId\":\"%s\"}",
             id, ts, user, acct);
    tk_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.time_ms = t / 1000 * 1000;
    ev.account = (tk_str_t){acct, (uint32_t)strlen(acct)};
    ev.event_id = (tk_str_t){id, (uint32_t)strlen(id)};
    ev.json = (tk_str_t){json, (uint32_t)strlen(json)};
    tk_append_result_t res;
    assert_int_equal(tk_store_append(f->store, &ev, 1, &res, NULL, err), 0);
    assert_int_equal(res.accepted, 1);
}

static void failure(fx_t *f, const char *user, int age_s)
{
    failure_acct(f, ACC, user, age_s);
}

static void failure_in(fx_t *f, const char *acct, const char *user)
{
    failure_acct(f, acct, user, 0);
}

static void add_rule(fx_t *f, const char *id, tk_rule_kind_t kind, const char *def, const char *recips)
{
    tk_stored_rule_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.account, sizeof r.account, ACC);
    r.kind = kind;
    r.definition = (char *)def;
    r.recipients = (char *)recips;
    r.severity = TK_SEV_HIGH;
    r.enabled = 1;
    char err[TK_ERRLEN] = "";
    int rc = tk_alert_rule_create(f->meta, &r, err);
    if (rc)
        fail_msg("create %s: %s", id, err);
}

static void add_user(fx_t *f, const char *name)
{
    tk_alert_user_t u;
    memset(&u, 0, sizeof u);
    snprintf(u.account, sizeof u.account, ACC);
    snprintf(u.name, sizeof u.name, "%s", name);
    snprintf(u.email, sizeof u.email, "%s@example.test", name);
    /* Port 1 on loopback refuses at once: every send fails fast. Loopback
     * webhooks need the operator's --allow-private-endpoints. */
    snprintf(u.webhook_url, sizeof u.webhook_url, "http://127.0.0.1:1/hook");
    tk_egress_set_allow_private(1);
    char err[TK_ERRLEN];
    assert_int_equal(tk_alert_user_put(f->meta, &u, err), 0);
}

static size_t alerts(fx_t *f, int state)
{
    tk_alert_filter_t flt = {.account = ACC, .state = state};
    tk_alert_row_t *v = NULL;
    size_t n = 0;
    char err[TK_ERRLEN];
    assert_int_equal(tk_alert_list(f->meta, &flt, &v, &n, err), 0);
    tk_alert_rows_free(v, n);
    return n;
}

static tk_alert_service_t *service(fx_t *f, int64_t retry_min)
{
    tk_alert_service_opts_t o = {.retry_min_ms = retry_min, .retry_max_ms = retry_min * 4};
    tk_alert_service_t *s = NULL;
    char err[TK_ERRLEN] = "";
    int rc = tk_alert_service_create(f->meta, f->store, &o, &s, err);
    if (rc)
        fail_msg("service: %s", err);
    return s;
}

static void step(tk_alert_service_t *s)
{
    char err[TK_ERRLEN] = "";
    int rc = tk_alert_service_step(s, err);
    if (rc)
        fail_msg("step: %s", err);
}

static void test_rule_store_refuses_bad_rules_and_names_them(void **state)
{
    fx_t *f = *state;
    add_rule(f, "brute", TK_RULE_TEMPLATE, "consecutive-logon-failures", "");
    tk_stored_rule_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "brute");
    snprintf(r.account, sizeof r.account, ACC);
    r.kind = TK_RULE_TEMPLATE;
    r.definition = "consecutive-logon-failures";
    char err[TK_ERRLEN] = "";
    assert_int_equal(tk_alert_rule_create(f->meta, &r, err), TK_EEXIST);
    snprintf(r.id, sizeof r.id, "other");
    r.definition = "no-such-template";
    assert_int_equal(tk_alert_rule_create(f->meta, &r, err), TK_ENOTFOUND);
    assert_non_null(strstr(err, "no-such-template"));
    r.kind = TK_RULE_JSON;
    r.definition = "{\"id\":\"x\",\"match\":{\"field\":\"a\",\"op\":\"equal\",\"value\":\"b\"}}";
    assert_int_equal(tk_alert_rule_create(f->meta, &r, err), TK_EINVAL);
    assert_non_null(strstr(err, "equal"));
    snprintf(r.id, sizeof r.id, "bad id!");
    assert_int_equal(tk_alert_rule_create(f->meta, &r, err), TK_EINVAL);

    int64_t v0 = tk_alert_rules_version(f->meta);
    assert_int_equal(tk_alert_rule_set_enabled(f->meta, ACC, "brute", 0, err), 0);
    assert_true(tk_alert_rules_version(f->meta) > v0);
    tk_stored_rule_t got;
    assert_int_equal(tk_alert_rule_get(f->meta, ACC, "brute", &got, err), 0);
    assert_int_equal(got.enabled, 0);
    assert_string_equal(got.definition, "consecutive-logon-failures");
    assert_int_equal(got.repeat_ms, 3600000);
    tk_stored_rule_free(&got);
    assert_int_equal(tk_alert_rule_delete(f->meta, ACC, "brute", err), 0);
    assert_int_equal(tk_alert_rule_delete(f->meta, ACC, "brute", err), TK_ENOTFOUND);
    assert_int_equal(tk_alert_rule_get(f->meta, ACC, "brute", &got, err), TK_ENOTFOUND);
}

static void test_five_failures_make_one_alert_and_one_row_per_channel(void **state)
{
    fx_t *f = *state;
    add_user(f, "alice");
    char err[TK_ERRLEN];
    assert_int_equal(tk_alert_group_put(f->meta, ACC, "secops", "alice", err), 0);
    add_rule(f, "brute", TK_RULE_TEMPLATE, "consecutive-logon-failures", "alice,group:secops");
    tk_alert_service_t *s = service(f, 60000);
    for (int i = 0; i < 7; i++)
        failure(f, "alice", 10 - i);
    step(s);
    assert_int_equal(alerts(f, -1), 1);
    tk_alert_filter_t flt = {.account = ACC, .state = -1};
    tk_alert_row_t *v = NULL;
    size_t n = 0;
    assert_int_equal(tk_alert_list(f->meta, &flt, &v, &n, err), 0);
    assert_string_equal(v[0].rule, "brute");
    assert_string_equal(v[0].group_key, "alice");
    assert_int_equal(v[0].count, 5);
    assert_int_equal(v[0].state, TK_AS_TRIGGERED);
    assert_string_equal(v[0].event_seqs, "1,2,3,4,5");
    tk_alert_rows_free(v, n);
    /* alice twice (directly and by group) but one row per channel; both
     * channels fail here, so both rows stay pending. */
    int64_t pending, sent;
    assert_int_equal(tk_outbox_counts(f->meta, &pending, &sent, err), 0);
    assert_int_equal(pending, 2);
    assert_int_equal(sent, 0);
    tk_alert_service_stats_t st;
    tk_alert_service_stats(s, &st);
    assert_int_equal(st.events, 7);
    assert_int_equal(st.send_failures, 2);
    tk_alert_service_destroy(s);
}

static void test_restart_mid_window_neither_duplicates_nor_misses(void **state)
{
    fx_t *f = *state;
    add_rule(f, "brute", TK_RULE_TEMPLATE, "consecutive-logon-failures?failures=5", "");
    tk_alert_service_t *s = service(f, 60000);
    for (int i = 0; i < 3; i++)
        failure(f, "bob", 20 - i);
    step(s);
    assert_int_equal(alerts(f, -1), 0);
    tk_alert_service_destroy(s); /* as after a crash: only what was committed survives */
    s = service(f, 60000);
    failure(f, "bob", 5);
    failure(f, "bob", 4);
    step(s);
    assert_int_equal(alerts(f, -1), 1);
    tk_alert_service_destroy(s);
    s = service(f, 60000);
    step(s);
    assert_int_equal(alerts(f, -1), 1);
    tk_alert_service_stats_t st;
    tk_alert_service_stats(s, &st);
    assert_int_equal(st.events, 0); /* nothing evaluated twice */
    assert_int_equal(st.checkpoint, 5);
    tk_alert_service_destroy(s);
}

static void test_alert_clears_after_its_window_with_a_recovery_notice(void **state)
{
    fx_t *f = *state;
    add_user(f, "carol");
    add_rule(f, "two-fails", TK_RULE_JSON,
             "{\"id\":\"two-fails\",\"match\":{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"},"
             "\"threshold\":{\"count\":2,\"window\":\"1s\"}}",
             "carol");
    tk_alert_service_t *s = service(f, 60000);
    failure(f, "carol", 0);
    failure(f, "carol", 0);
    step(s);
    assert_int_equal(alerts(f, TK_AS_TRIGGERED), 1);
    usleep(1200 * 1000);
    step(s);
    assert_int_equal(alerts(f, TK_AS_TRIGGERED), 0);
    assert_int_equal(alerts(f, TK_AS_CLEARED), 1);
    int64_t pending, sent;
    char err[TK_ERRLEN];
    assert_int_equal(tk_outbox_counts(f->meta, &pending, &sent, err), 0);
    assert_int_equal(pending, 4); /* fire + recovery, webhook + email */
    tk_alert_service_stats_t st;
    tk_alert_service_stats(s, &st);
    assert_int_equal(st.alerts_cleared, 1);
    tk_alert_service_destroy(s);
}

static void test_failed_sends_back_off_and_stay_queued(void **state)
{
    fx_t *f = *state;
    add_user(f, "dave");
    add_rule(f, "any-signin", TK_RULE_JSON,
             "{\"id\":\"any-signin\",\"match\":{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"}}",
             "dave");
    tk_alert_service_t *s = service(f, 60000);
    failure(f, "dave", 0);
    step(s);
    tk_outbox_row_t *v = NULL;
    size_t n = 0;
    char err[TK_ERRLEN];
    int64_t now = tk_now_ms();
    assert_int_equal(tk_outbox_due(f->meta, now, 10, &v, &n, err), 0);
    assert_int_equal(n, 0); /* both failed once: next attempt a minute away */
    tk_outbox_rows_free(v, n);
    assert_int_equal(tk_outbox_due(f->meta, now + 61000, 10, &v, &n, err), 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i].attempts, 1);
        assert_true(v[i].last_error[0] != 0);
        assert_string_equal(v[i].kind, "fire");
    }
    /* Marking one sent removes it from the queue and records the notice. */
    assert_int_equal(tk_outbox_mark_sent(f->meta, v[0].id, now, err), 0);
    tk_alert_row_t a;
    assert_int_equal(tk_alert_get(f->meta, ACC, v[0].alert_id, &a, err), 0);
    assert_int_equal(a.notified_ms, now);
    free(a.event_seqs);
    tk_outbox_rows_free(v, n);
    int64_t pending, sent;
    assert_int_equal(tk_outbox_counts(f->meta, &pending, &sent, err), 0);
    assert_int_equal(pending, 1);
    assert_int_equal(sent, 1);
    tk_alert_service_destroy(s);
}

static void test_acknowledge_and_close(void **state)
{
    fx_t *f = *state;
    add_rule(f, "any-signin", TK_RULE_JSON,
             "{\"id\":\"any-signin\",\"match\":{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"}}", "");
    tk_alert_service_t *s = service(f, 60000);
    failure(f, "erin", 0);
    step(s);
    tk_alert_service_destroy(s);
    char err[TK_ERRLEN];
    tk_alert_filter_t flt = {.account = ACC, .state = -1};
    tk_alert_row_t *v = NULL;
    size_t n = 0;
    assert_int_equal(tk_alert_list(f->meta, &flt, &v, &n, err), 0);
    assert_int_equal(n, 1);
    int64_t id = v[0].id;
    tk_alert_rows_free(v, n);
    assert_int_equal(tk_alert_set_state(f->meta, ACC, id, TK_AS_ACKNOWLEDGED, err), 0);
    assert_int_equal(alerts(f, TK_AS_ACKNOWLEDGED), 1);
    assert_int_equal(tk_alert_set_state(f->meta, ACC, id, TK_AS_CLOSED, err), 0);
    assert_int_equal(tk_alert_set_state(f->meta, ACC, id, TK_AS_ACKNOWLEDGED, err), TK_EINVAL);
    assert_int_equal(tk_alert_set_state(f->meta, ACC, id, TK_AS_TRIGGERED, err), TK_EINVAL);
    assert_int_equal(tk_alert_set_state(f->meta, "200000000000000", id, TK_AS_CLOSED, err), TK_ENOTFOUND);
    assert_int_equal(alerts(f, TK_AS_CLOSED), 1);
}

static void test_webhook_bodies_and_signature(void **state)
{
    (void)state;
    const char *p = "{\"id\":7,\"rule\":\"brute\",\"account\":\"1\",\"group_key\":\"alice\","
                    "\"severity\":\"high\",\"count\":5}";
    char *g = tk_webhook_body("generic", "fire", p);
    assert_non_null(strstr(g, "\"notification\":\"fire\""));
    assert_non_null(strstr(g, "\"rule\":\"brute\""));
    free(g);
    char *d = tk_webhook_body("dingtalk", "recovery", p);
    assert_string_equal(d, "{\"msgtype\":\"text\",\"text\":{\"content\":\"[HIGH] trailkeep alert brute "
                           "cleared in account 1 (alice): 5 event(s)\"}}");
    free(d);
    char *s = tk_webhook_body("slack", "fire", p);
    assert_string_equal(s, "{\"text\":\"[HIGH] trailkeep alert brute fired in account 1 (alice): 5 event(s)\"}");
    free(s);
    assert_null(tk_webhook_body("generic", "fire", "not json"));
    char sig[65];
    const char *msg = "The quick brown fox jumps over the lazy dog";
    tk_webhook_sign("key", msg, strlen(msg), sig);
    assert_string_equal(sig, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
    assert_ptr_equal(tk_channel_find("webhook"), &tk_channel_webhook);
    assert_ptr_equal(tk_channel_find("email"), &tk_channel_email);
    assert_null(tk_channel_find("pager"));
}

/* Appends an Insights record (state Start or End) of incident sid. */
static void insight(fx_t *f, const char *sid, const char *state, const char *avg)
{
    char json[2048], id[64], err[TK_ERRLEN], ts[40];
    int64_t t = tk_now_ms();
    tk_time_format(t, 0, ts);
    snprintf(id, sizeof id, "%s-%s", sid, state);
    snprintf(json, sizeof json,
             "{\"eventId\":\"%s\",\"eventTime\":\"%s\",\"eventType\":\"ActionTrailInsight\","
             "\"eventCategory\":\"Insight\",\"eventName\":\"IpInsight\",\"recipientAccountId\":\"%s\","
             "\"sharedEventId\":\"%s\",\"insightDetails\":{\"state\":\"%s\",\"insightType\":\"IpInsight\","
             "\"insightObject\":\"203.0.113.9\",\"insightContext\":{\"statistics\":{\"insight\":{\"average\":%s},"
             "\"insightDuration\":2,\"baseline\":{\"average\":0.01},\"insightCount\":40}},"
             "\"explanation\":\"IpInsight: IP 203.0.113.9 at %s/min; mostly user mallory (100%%).\"}}",
             id, ts, ACC, sid, state, avg, avg);
    tk_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.time_ms = t / 1000 * 1000;
    ev.account = (tk_str_t){ACC, (uint32_t)strlen(ACC)};
    ev.event_id = (tk_str_t){id, (uint32_t)strlen(id)};
    ev.json = (tk_str_t){json, (uint32_t)strlen(json)};
    tk_append_result_t res;
    assert_int_equal(tk_store_append(f->store, &ev, 1, &res, NULL, err), 0);
    assert_int_equal(res.accepted, 1);
    f->n++;
}

static void test_insight_alert_opens_on_start_and_its_end_clears_it(void **state)
{
    fx_t *f = *state;
    add_user(f, "carol");
    tk_stored_rule_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "insights");
    snprintf(r.account, sizeof r.account, ACC);
    r.kind = TK_RULE_TEMPLATE;
    r.definition = "insight?types=IpInsight";
    r.recipients = "carol";
    r.severity = TK_SEV_HIGH;
    r.enabled = 1;
    r.repeat_ms = 500; /* a time-cleared rule would clear within a second */
    char err[TK_ERRLEN] = "";
    assert_int_equal(tk_alert_rule_create(f->meta, &r, err), 0);
    tk_alert_service_t *s = service(f, 60000);
    insight(f, "sid-1", "Start", "30");
    step(s);
    tk_alert_filter_t flt = {.account = ACC, .state = -1};
    tk_alert_row_t *v = NULL;
    size_t n = 0;
    assert_int_equal(tk_alert_list(f->meta, &flt, &v, &n, err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].group_key, "sid-1");
    assert_int_equal(v[0].state, TK_AS_TRIGGERED);
    assert_string_equal(v[0].title, "IpInsight 203.0.113.9: 30/min against a baseline of 0.01/min (40 events in 2 min)");
    assert_string_equal(v[0].summary, "IpInsight: IP 203.0.113.9 at 30/min; mostly user mallory (100%).");
    assert_int_equal(v[0].clear_seq, 0);
    tk_alert_rows_free(v, n);
    /* not cleared by time, however long the End takes */
    usleep(1200 * 1000);
    step(s);
    assert_int_equal(alerts(f, TK_AS_TRIGGERED), 1);
    /* another incident's End clears nothing */
    insight(f, "sid-9", "End", "1");
    step(s);
    assert_int_equal(alerts(f, TK_AS_TRIGGERED), 1);
    insight(f, "sid-1", "End", "12.5");
    step(s);
    assert_int_equal(tk_alert_list(f->meta, &flt, &v, &n, err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].state, TK_AS_CLEARED);
    assert_int_equal(v[0].clear_seq, 3);
    assert_string_equal(v[0].title, "IpInsight 203.0.113.9: 12.5/min against a baseline of 0.01/min (40 events in 2 min)");
    tk_alert_rows_free(v, n);
    /* fire and recovery, each by webhook and email; the recovery carries the End's details */
    tk_outbox_row_t *o = NULL;
    assert_int_equal(tk_outbox_due(f->meta, tk_now_ms() + 3600000, 10, &o, &n, err), 0);
    assert_int_equal(n, 4);
    int fire = 0, rec = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(o[i].kind, "fire")) {
            fire++;
            assert_non_null(strstr(o[i].payload, "\"title\":\"IpInsight 203.0.113.9: 30/min"));
        } else {
            assert_string_equal(o[i].kind, "recovery");
            rec++;
            assert_non_null(strstr(o[i].payload, "\"state\":\"cleared\""));
            assert_non_null(strstr(o[i].payload, "\"title\":\"IpInsight 203.0.113.9: 12.5/min"));
            assert_non_null(strstr(o[i].payload, "\"summary\":\"IpInsight: IP 203.0.113.9 at 12.5/min"));
            assert_non_null(strstr(o[i].payload, "\"clear_seq\":3"));
        }
    }
    assert_int_equal(fire, 2);
    assert_int_equal(rec, 2);
    tk_outbox_rows_free(o, n);
    /* a Start and its End in one batch: opened and cleared in order */
    insight(f, "sid-2", "Start", "50");
    insight(f, "sid-2", "End", "20");
    step(s);
    assert_int_equal(alerts(f, TK_AS_CLEARED), 2);
    assert_int_equal(alerts(f, TK_AS_TRIGGERED), 0);
    tk_alert_service_stats_t st;
    tk_alert_service_stats(s, &st);
    assert_int_equal(st.alerts_created, 2);
    assert_int_equal(st.alerts_cleared, 2);
    assert_int_equal(st.fires, 2);
    tk_alert_service_destroy(s);
}

static void test_notices_carry_title_and_summary_on_one_safe_line(void **state)
{
    (void)state;
    const char *p = "{\"id\":7,\"rule\":\"insight\",\"account\":\"1\",\"group_key\":\"sid-1\","
                    "\"severity\":\"high\",\"count\":1,\"title\":\"IpInsight 1.2.3.4\\r\\nBcc: x\","
                    "\"summary\":\"mostly user mallory\"}";
    char *s = tk_webhook_body("slack", "fire", p);
    assert_string_equal(s, "{\"text\":\"[HIGH] trailkeep alert insight fired in account 1 (sid-1): "
                           "IpInsight 1.2.3.4  Bcc: x\\nmostly user mallory\"}");
    free(s);
    char *d = tk_webhook_body("dingtalk", "recovery", p);
    assert_string_equal(d, "{\"msgtype\":\"text\",\"text\":{\"content\":\"[HIGH] trailkeep alert insight "
                           "cleared in account 1 (sid-1): IpInsight 1.2.3.4  Bcc: x\\nmostly user mallory\"}}");
    free(d);
    char *g = tk_webhook_body("generic", "fire", p);
    assert_non_null(strstr(g, "\"summary\":\"mostly user mallory\""));
    free(g);
}

/* A webhook whose name resolves to loopback passes the write-time check (a
 * name) and is refused when connecting, unless private endpoints are allowed. */
static void test_webhook_to_a_name_resolving_to_loopback_is_refused_at_connect(void **state)
{
    (void)state;
    tk_alert_user_t u;
    memset(&u, 0, sizeof u);
    snprintf(u.webhook_url, sizeof u.webhook_url, "http://localhost:1/hook");
    const char *payload = "{\"rule\":\"r\",\"account\":\"1\",\"severity\":\"high\",\"count\":1}";
    char err[TK_ERRLEN] = "";
    tk_notify_cfg_t cfg = {.timeout_s = 5};
    tk_egress_set_allow_private(0);
    assert_int_equal(tk_channel_webhook.send(&cfg, &u, "fire", payload, err), TK_EIO);
    assert_non_null(strstr(err, "refused by the egress policy"));
    tk_egress_set_allow_private(1);
    assert_int_equal(tk_channel_webhook.send(&cfg, &u, "fire", payload, err), TK_EIO);
    assert_null(strstr(err, "egress")); /* reached loopback: port 1 is closed */
    snprintf(u.webhook_url, sizeof u.webhook_url, "http://169.254.169.254/");
    assert_int_equal(tk_channel_webhook.send(&cfg, &u, "fire", payload, err), TK_EINVAL);
    assert_non_null(strstr(err, "metadata"));
    tk_egress_set_allow_private(0);
}

static void test_users_are_validated(void **state)
{
    fx_t *f = *state;
    tk_alert_user_t u;
    memset(&u, 0, sizeof u);
    snprintf(u.account, sizeof u.account, ACC);
    snprintf(u.name, sizeof u.name, "x");
    snprintf(u.webhook_url, sizeof u.webhook_url, "ftp://h/");
    char err[TK_ERRLEN];
    assert_int_equal(tk_alert_user_put(f->meta, &u, err), TK_EINVAL);
    snprintf(u.webhook_url, sizeof u.webhook_url, "https://h/");
    snprintf(u.webhook_shape, sizeof u.webhook_shape, "teams");
    assert_int_equal(tk_alert_user_put(f->meta, &u, err), TK_EINVAL);
    snprintf(u.webhook_shape, sizeof u.webhook_shape, "slack");
    snprintf(u.email, sizeof u.email, "nobody");
    assert_int_equal(tk_alert_user_put(f->meta, &u, err), TK_EINVAL);
    snprintf(u.email, sizeof u.email, "x@y");
    /* Webhooks obey the egress policy when the user is written. */
    static const char *const never[] = {"http://169.254.169.254/latest/meta-data/",
                                        "http://100.100.100.200/", "http://[fe80::1]/",
                                        "gopher://127.0.0.1:6379/_x", "file:///etc/passwd",
                                        "dict://127.0.0.1:11211/"};
    for (int allow = 0; allow <= 1; allow++) {
        tk_egress_set_allow_private(allow);
        for (size_t i = 0; i < sizeof never / sizeof *never; i++) {
            snprintf(u.webhook_url, sizeof u.webhook_url, "%s", never[i]);
            if (tk_alert_user_put(f->meta, &u, err) != TK_EINVAL)
                fail_msg("webhook %s accepted (allow_private %d)", never[i], allow);
        }
    }
    tk_egress_set_allow_private(0);
    snprintf(u.webhook_url, sizeof u.webhook_url, "http://127.0.0.1:8080/hook");
    assert_int_equal(tk_alert_user_put(f->meta, &u, err), TK_EINVAL);
    assert_non_null(strstr(err, "--allow-private-endpoints"));
    snprintf(u.webhook_url, sizeof u.webhook_url, "http://192.168.1.10/hook");
    assert_int_equal(tk_alert_user_put(f->meta, &u, err), TK_EINVAL);
    tk_egress_set_allow_private(1);
    assert_int_equal(tk_alert_user_put(f->meta, &u, err), 0);
    tk_egress_set_allow_private(0);
    snprintf(u.webhook_url, sizeof u.webhook_url, "https://h/");
    assert_int_equal(tk_alert_user_put(f->meta, &u, err), 0);
    tk_alert_user_t got;
    assert_int_equal(tk_alert_user_get(f->meta, ACC, "x", &got, err), 0);
    assert_string_equal(got.webhook_shape, "slack");
    assert_int_equal(tk_alert_user_delete(f->meta, ACC, "x", err), 0);
    assert_int_equal(tk_alert_user_get(f->meta, ACC, "x", &got, err), TK_ENOTFOUND);
}

static void test_crash_before_the_first_commit_misses_nothing(void **state)
{
    fx_t *f = *state;
    add_rule(f, "brute", TK_RULE_TEMPLATE, "consecutive-logon-failures?failures=2", "");
    tk_alert_service_t *s = service(f, 60000); /* first start: checkpoint = log end (0) */
    failure(f, "gina", 3);
    failure(f, "gina", 2);
    tk_alert_service_destroy(s); /* gone before evaluating anything */
    s = service(f, 60000);
    step(s);
    assert_int_equal(alerts(f, -1), 1);
    tk_alert_service_destroy(s);
}

static void test_an_open_alert_repeats_its_notice_after_the_repeat_interval(void **state)
{
    fx_t *f = *state;
    add_user(f, "hank");
    tk_stored_rule_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "each-signin");
    snprintf(r.account, sizeof r.account, ACC);
    r.kind = TK_RULE_JSON;
    r.definition = "{\"id\":\"each-signin\",\"match\":{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"},"
                   "\"threshold\":{\"count\":1,\"window\":\"10s\"}}";
    r.recipients = "hank";
    r.repeat_ms = 150;
    r.enabled = 1;
    char err[TK_ERRLEN];
    assert_int_equal(tk_alert_rule_create(f->meta, &r, err), 0);
    tk_alert_service_t *s = service(f, 60000);
    failure(f, "hank", 0);
    step(s);
    failure(f, "hank", 0); /* within the repeat interval: counted, no notice */
    step(s);
    usleep(200 * 1000);
    failure(f, "hank", 0); /* after it: a repeat notice */
    step(s);
    tk_alert_service_destroy(s);
    assert_int_equal(alerts(f, -1), 1);
    tk_outbox_row_t *v = NULL;
    size_t n = 0;
    assert_int_equal(tk_outbox_due(f->meta, tk_now_ms() + 3600000, 10, &v, &n, err), 0);
    size_t fire = 0, repeat = 0;
    for (size_t i = 0; i < n; i++) {
        fire += !strcmp(v[i].kind, "fire");
        repeat += !strcmp(v[i].kind, "repeat");
    }
    tk_outbox_rows_free(v, n);
    assert_int_equal(fire, 2);   /* webhook + email */
    assert_int_equal(repeat, 2);
    tk_alert_filter_t flt = {.account = ACC, .state = -1};
    tk_alert_row_t *a = NULL;
    assert_int_equal(tk_alert_list(f->meta, &flt, &a, &n, err), 0);
    assert_int_equal(a[0].count, 3);
    assert_string_equal(a[0].event_seqs, "1,2,3");
    tk_alert_rows_free(a, n);
}

static void test_org_rule_of_the_management_account_covers_members_only(void **state)
{
    fx_t *f = *state;
    char err[TK_ERRLEN];
    /* ACC manages an organization with member M; N stays outside. */
    assert_int_equal(tk_meta_account_create(f->meta, ACC, "mgmt", err), 0);
    assert_int_equal(tk_meta_account_create(f->meta, "200000000000000", "member", err), 0);
    assert_int_equal(tk_meta_account_create(f->meta, "300000000000000", "outside", err), 0);
    assert_int_equal(tk_meta_org_create(f->meta, "o-1", ACC, err), 0);
    assert_int_equal(tk_meta_org_add_member(f->meta, "200000000000000", err), 0);
    tk_stored_rule_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "org-signin");
    snprintf(r.account, sizeof r.account, ACC);
    r.kind = TK_RULE_JSON;
    r.definition = "{\"id\":\"org-signin\",\"match\":{\"field\":\"eventName\",\"value\":\"ConsoleSignin\"}}";
    r.recipients = "";
    r.org_scope = 1;
    r.enabled = 1;
    assert_int_equal(tk_alert_rule_create(f->meta, &r, err), 0);
    tk_alert_service_t *s = service(f, 60000);
    failure_in(f, "200000000000000", "m1");
    failure_in(f, "300000000000000", "n1");
    step(s);
    tk_alert_service_destroy(s);
    tk_alert_filter_t flt = {.account = "200000000000000", .state = -1};
    tk_alert_row_t *v = NULL;
    size_t n = 0;
    assert_int_equal(tk_alert_list(f->meta, &flt, &v, &n, err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].rule, "org-signin");
    assert_string_equal(v[0].account, "200000000000000");
    tk_alert_rows_free(v, n);
    flt.account = "300000000000000";
    assert_int_equal(tk_alert_list(f->meta, &flt, &v, &n, err), 0);
    assert_int_equal(n, 0);
    tk_alert_rows_free(v, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rule_store_refuses_bad_rules_and_names_them, setup, teardown),
        cmocka_unit_test_setup_teardown(test_five_failures_make_one_alert_and_one_row_per_channel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_mid_window_neither_duplicates_nor_misses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_clears_after_its_window_with_a_recovery_notice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_sends_back_off_and_stay_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acknowledge_and_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_before_the_first_commit_misses_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_an_open_alert_repeats_its_notice_after_the_repeat_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_org_rule_of_the_management_account_covers_members_only, setup, teardown),
        cmocka_unit_test(test_webhook_bodies_and_signature),
        cmocka_unit_test(test_webhook_to_a_name_resolving_to_loopback_is_refused_at_connect),
        cmocka_unit_test_setup_teardown(test_users_are_validated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_insight_alert_opens_on_start_and_its_end_clears_it, setup, teardown),
        cmocka_unit_test(test_notices_carry_title_and_summary_on_one_safe_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests of the rule templates: for each one a scenario that must fire and a
 * benign one that must not (ActionTrail shapes as `trailkeep gen` writes
 * them, and CloudTrail names where the template covers them), business
 * hours across a DST change and holidays, IPv6 allow lists, and parameter
 * errors. */
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
#include "base/tk.h"
#include "base/tktime.h"

static void count_cb(void *ctx, const tk_alert_hit_t *h)
{
    if (h->kind == TK_ALERT_FIRE)
        (*(int *)ctx)++;
}

/* Fires of template spec over events (times from each event's eventTime). */
static int run(const char *spec, const char *const *evs, size_t n)
{
    char err[TK_ERRLEN] = "";
    tk_rule_t *r = NULL;
    int rc = tk_template_compile(spec, &r, err);
    if (rc)
        fail_msg("template %s: %s", spec, err);
    tk_alert_engine_t *e;
    assert_int_equal(tk_alert_engine_create(NULL, &e, err), 0);
    assert_int_equal(tk_alert_engine_add(e, r, err), 0);
    int fires = 0;
    for (size_t i = 0; i < n; i++) {
        rc = tk_alert_engine_eval(e, NULL, 0, evs[i], strlen(evs[i]), 0, count_cb, &fires, err);
        if (rc)
            fail_msg("event %zu: %s", i, err);
    }
    tk_alert_engine_destroy(e);
    return fires;
}

static int run1(const char *spec, const char *ev)
{
    return run(spec, &ev, 1);
}

/* An ActionTrail-shaped event; extra is appended inside the object. */
static char *ev(const char *time, const char *name, const char *idtype, const char *user,
                const char *err, const char *extra)
{
    char *b = malloc(2048);
    snprintf(b, 2048,
             "{\"eventId\":\"e\",\"eventTime\":\"%s\",\"eventName\":\"%s\",\"sourceIpAddress\":\"198.51.100.4\","
             "\"userIdentity\":{\"type\":\"%s\",\"principalId\":\"p-%s\",\"userName\":\"%s\",\"accessKeyId\":\"LTAI5tKEY%s\"},"
             "\"errorCode\":\"%s\",\"recipientAccountId\":\"111\"%s%s}",
             time, name, idtype, user, user, user, err, extra[0] ? "," : "", extra);
    return b;
}

#define SIGNIN_OK(time, type, user, extra) ev(time, "ConsoleSignin", type, user, "", extra)

static void free_all(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
}

static void test_consecutive_logon_failures_fire_at_the_fifth_within_30_minutes(void **s)
{
    (void)s;
    char *bad[6];
    for (int i = 0; i < 5; i++) {
        char t[32];
        snprintf(t, sizeof t, "2026-11-02T10:%02d:00Z", i * 5);
        bad[i] = ev(t, "ConsoleSignin", "ram-user", "bob", "InvalidPassword", "");
    }
    bad[5] = ev("2026-11-02T10:26:00Z", "ConsoleSignin", "ram-user", "bob", "InvalidPassword", "");
    assert_int_equal(run("consecutive-logon-failures", (const char *const *)bad, 4), 0);
    assert_int_equal(run("consecutive-logon-failures", (const char *const *)bad, 5), 1);
    /* suppressed for an hour: the sixth adds no second alert */
    assert_int_equal(run("consecutive-logon-failures", (const char *const *)bad, 6), 1);
    assert_int_equal(run("consecutive-logon-failures?failures=3", (const char *const *)bad, 3), 1);
    free_all(bad, 6);
    /* benign: 5 failures spread over 2 hours, and 5 failures of 5 users */
    char *slow[5], *many[5];
    for (int i = 0; i < 5; i++) {
        char t[32], u[8];
        snprintf(t, sizeof t, "2026-11-02T%02d:00:00Z", 10 + i / 2);
        slow[i] = ev(t, "ConsoleSignin", "ram-user", "bob", "InvalidPassword", "");
        snprintf(u, sizeof u, "u%d", i);
        many[i] = ev("2026-11-02T10:00:00Z", "ConsoleSignin", "ram-user", u, "InvalidPassword", "");
    }
    /* with 10:00 10:00 11:00 11:00 12:00 no 30-minute window holds 5 */
    assert_int_equal(run("consecutive-logon-failures", (const char *const *)slow, 5), 0);
    assert_int_equal(run("consecutive-logon-failures", (const char *const *)many, 5), 0);
    free_all(slow, 5);
    free_all(many, 5);
    /* successful sign-ins never count */
    char *ok[5];
    for (int i = 0; i < 5; i++)
        ok[i] = SIGNIN_OK("2026-11-02T10:00:00Z", "ram-user", "bob", "");
    assert_int_equal(run("consecutive-logon-failures", (const char *const *)ok, 5), 0);
    free_all(ok, 5);
    /* CloudTrail failures */
    const char *ct = "{\"eventTime\":\"2026-11-02T10:00:00Z\",\"eventName\":\"ConsoleLogin\",\"userIdentity\":{\"type\":\"IAMUser\",\"userName\":\"bob\"},"
                     "\"responseElements\":{\"ConsoleLogin\":\"Failure\"}}";
    const char *cts[] = {ct, ct, ct, ct, ct};
    assert_int_equal(run("consecutive-logon-failures", cts, 5), 1);
}

static void test_root_logon_fires_for_root_only_and_only_on_success(void **s)
{
    (void)s;
    char *a = SIGNIN_OK("2026-11-02T10:00:00Z", "root-account", "root", "");
    char *b = SIGNIN_OK("2026-11-02T10:00:00Z", "ram-user", "bob", "");
    char *c = ev("2026-11-02T10:00:00Z", "ConsoleSignin", "root-account", "root", "InvalidPassword", "");
    char *d = ev("2026-11-02T10:00:00Z", "DescribeInstances", "root-account", "root", "", "");
    assert_int_equal(run1("root-logon", a), 1);
    assert_int_equal(run1("root-logon", b), 0);
    assert_int_equal(run1("root-logon", c), 0);
    assert_int_equal(run1("root-logon", d), 0);
    assert_int_equal(run1("root-logon", "{\"eventName\":\"ConsoleLogin\",\"userIdentity\":{\"type\":\"Root\"},\"responseElements\":{\"ConsoleLogin\":\"Success\"}}"), 1);
    free(a), free(b), free(c), free(d);
}

static void test_logon_from_unauthorized_ip_checks_ipv4_and_ipv6_allow_lists(void **s)
{
    (void)s;
    const char *spec = "logon-unauthorized-ip?allow=10.0.0.0/8,2001:db8::/32";
    const char *in4 = "{\"eventName\":\"ConsoleSignin\",\"sourceIpAddress\":\"10.1.2.3\",\"errorCode\":\"\"}";
    const char *out4 = "{\"eventName\":\"ConsoleSignin\",\"sourceIpAddress\":\"8.8.8.8\",\"errorCode\":\"\"}";
    const char *in6 = "{\"eventName\":\"ConsoleSignin\",\"sourceIpAddress\":\"2001:db8:0:1::5\",\"errorCode\":\"\"}";
    const char *out6 = "{\"eventName\":\"ConsoleSignin\",\"sourceIpAddress\":\"2001:db9::1\",\"errorCode\":\"\"}";
    const char *ct = "{\"eventName\":\"ConsoleLogin\",\"sourceIPAddress\":\"8.8.4.4\"}";
    const char *failed = "{\"eventName\":\"ConsoleSignin\",\"sourceIpAddress\":\"8.8.8.8\",\"errorCode\":\"InvalidPassword\"}";
    assert_int_equal(run1(spec, in4), 0);
    assert_int_equal(run1(spec, out4), 1);
    assert_int_equal(run1(spec, in6), 0);
    assert_int_equal(run1(spec, out6), 1);
    assert_int_equal(run1(spec, ct), 1);
    assert_int_equal(run1(spec, failed), 0);
    /* a bad CIDR in the parameter is an error naming it */
    tk_rule_t *r = NULL;
    char err[TK_ERRLEN];
    assert_int_equal(tk_template_compile("logon-unauthorized-ip?allow=10.0.0.0/40", &r, err), TK_EINVAL);
    assert_null(r);
    assert_non_null(strstr(err, "10.0.0.0/40"));
}

static void test_tz_offsets_follow_the_tz_database_across_dst(void **s)
{
    (void)s;
    int32_t off;
    char err[TK_ERRLEN];
    int64_t ms;
    assert_int_equal(tk_time_parse("2026-03-08T06:59:59Z", 20, &ms), 0);
    assert_int_equal(tk_tz_offset("America/New_York", ms, &off, err), 0);
    assert_int_equal(off, -5 * 3600);
    assert_int_equal(tk_tz_offset("America/New_York", ms + 1000, &off, err), 0);
    assert_int_equal(off, -4 * 3600);
    assert_int_equal(tk_time_parse("2026-10-25T00:59:59Z", 20, &ms), 0);
    assert_int_equal(tk_tz_offset("Europe/Berlin", ms, &off, err), 0);
    assert_int_equal(off, 2 * 3600);
    assert_int_equal(tk_tz_offset("Europe/Berlin", ms + 1000, &off, err), 0);
    assert_int_equal(off, 3600);
    assert_int_equal(tk_tz_offset("Asia/Shanghai", ms, &off, err), 0);
    assert_int_equal(off, 8 * 3600);
    assert_int_equal(tk_tz_offset("UTC", ms, &off, err), 0);
    assert_int_equal(off, 0);
    assert_int_equal(tk_tz_offset("Mars/Olympus_Mons", ms, &off, err), TK_EINVAL);
    assert_non_null(strstr(err, "not found in the tz database"));
    assert_int_equal(tk_tz_offset("../../etc/passwd", ms, &off, err), TK_EINVAL);
}

static void test_logon_outside_hours_uses_local_time_across_dst_weekends_and_holidays(void **s)
{
    (void)s;
    const char *spec = "logon-outside-hours?tz=America/New_York&hours=09:00-18:00&holidays=2026-03-10";
    struct {
        const char *utc;
        int fires;
    } cases[] = {
        /* Friday before the change (EST, -5): 13:30Z is 08:30 local: outside */
        {"2026-03-06T13:30:00Z", 1},
        {"2026-03-06T14:30:00Z", 0},
        /* Monday after the change (EDT, -4): the same 13:30Z is 09:30 local: inside */
        {"2026-03-09T13:30:00Z", 0},
        {"2026-03-09T12:59:59Z", 1},
        {"2026-03-09T21:59:59Z", 0}, /* 17:59:59 */
        {"2026-03-09T22:00:00Z", 1}, /* 18:00 end is exclusive */
        {"2026-03-07T15:00:00Z", 1}, /* Saturday */
        {"2026-03-10T15:00:00Z", 1}, /* holiday */
        {"2026-03-11T15:00:00Z", 0},
    };
    for (size_t i = 0; i < TK_ARRAY_LEN(cases); i++) {
        char *e = SIGNIN_OK(cases[i].utc, "ram-user", "bob", "");
        int got = run1(spec, e);
        free(e);
        if (got != cases[i].fires)
            fail_msg("%s: expected %d fires, got %d", cases[i].utc, cases[i].fires, got);
    }
    /* a night shift spanning midnight belongs to the day it started on */
    const char *night = "logon-outside-hours?tz=UTC&days=mon-fri&hours=22:00-06:00";
    char *fri_late = SIGNIN_OK("2026-03-06T23:00:00Z", "ram-user", "bob", "");
    char *sat_early = SIGNIN_OK("2026-03-07T05:00:00Z", "ram-user", "bob", ""); /* Friday's shift */
    char *sat_late = SIGNIN_OK("2026-03-07T23:00:00Z", "ram-user", "bob", "");
    char *mon_noon = SIGNIN_OK("2026-03-09T12:00:00Z", "ram-user", "bob", "");
    assert_int_equal(run1(night, fri_late), 0);
    assert_int_equal(run1(night, sat_early), 0);
    assert_int_equal(run1(night, sat_late), 1);
    assert_int_equal(run1(night, mon_noon), 1);
    free(fri_late), free(sat_early), free(sat_late), free(mon_noon);
    tk_rule_t *r = NULL;
    char err[TK_ERRLEN];
    assert_int_equal(tk_template_compile("logon-outside-hours?tz=Nowhere/City", &r, err), TK_EINVAL);
    assert_non_null(strstr(err, "Nowhere/City"));
    assert_int_equal(tk_template_compile("logon-outside-hours?hours=9-25", &r, err), TK_EINVAL);
    assert_int_equal(tk_template_compile("logon-outside-hours?days=someday", &r, err), TK_EINVAL);
    assert_int_equal(tk_template_compile("logon-outside-hours?holidays=2026-13-01", &r, err), TK_EINVAL);
}

static void test_ram_logon_without_mfa(void **s)
{
    (void)s;
    char *nomfa = SIGNIN_OK("2026-11-02T10:00:00Z", "ram-user", "bob", "\"additionalEventData\":{\"isMFAChecked\":\"false\"}");
    char *mfa = SIGNIN_OK("2026-11-02T10:00:00Z", "ram-user", "bob", "\"additionalEventData\":{\"isMFAChecked\":\"true\"}");
    char *root = SIGNIN_OK("2026-11-02T10:00:00Z", "root-account", "root", "\"additionalEventData\":{\"isMFAChecked\":\"false\"}");
    assert_int_equal(run1("ram-logon-without-mfa", nomfa), 1);
    assert_int_equal(run1("ram-logon-without-mfa", mfa), 0);
    assert_int_equal(run1("ram-logon-without-mfa", root), 0);
    assert_int_equal(run1("ram-logon-without-mfa", "{\"eventName\":\"ConsoleLogin\",\"userIdentity\":{\"type\":\"IAMUser\"},\"additionalEventData\":{\"MFAUsed\":\"No\"},\"responseElements\":{\"ConsoleLogin\":\"Success\"}}"), 1);
    free(nomfa), free(mfa), free(root);
}

static void test_root_accesskey_used_ignores_console_sessions(void **s)
{
    (void)s;
    char *used = ev("2026-11-02T10:00:00Z", "ListUsers", "root-account", "root", "", "");
    char *ram = ev("2026-11-02T10:00:00Z", "ListUsers", "ram-user", "bob", "", "");
    const char *sts = "{\"eventName\":\"ListUsers\",\"userIdentity\":{\"type\":\"root-account\",\"accessKeyId\":\"STS.NUabc\"}}";
    assert_int_equal(run1("root-accesskey-used", used), 1);
    assert_int_equal(run1("root-accesskey-used", ram), 0);
    assert_int_equal(run1("root-accesskey-used", sts), 0);
    /* one alert per key per hour */
    const char *two[] = {used, used};
    assert_int_equal(run("root-accesskey-used", two, 2), 1);
    free(used), free(ram);
}

static void test_root_accesskey_created_only_for_root_itself(void **s)
{
    (void)s;
    char *forroot = ev("2026-11-02T10:00:00Z", "CreateAccessKey", "root-account", "root", "", "\"requestParameters\":{\"RegionId\":\"cn-hangzhou\"}");
    char *foruser = ev("2026-11-02T10:00:00Z", "CreateAccessKey", "root-account", "root", "", "\"requestParameters\":{\"UserName\":\"bob\"}");
    char *byram = ev("2026-11-02T10:00:00Z", "CreateAccessKey", "ram-user", "bob", "", "\"requestParameters\":{}");
    char *failed = ev("2026-11-02T10:00:00Z", "CreateAccessKey", "root-account", "root", "LimitExceeded", "");
    assert_int_equal(run1("root-accesskey-created", forroot), 1);
    assert_int_equal(run1("root-accesskey-created", foruser), 0);
    assert_int_equal(run1("root-accesskey-created", byram), 0);
    assert_int_equal(run1("root-accesskey-created", failed), 0);
    free(forroot), free(foruser), free(byram), free(failed);
}

static void test_abnormal_accesskey_usage_counts_calls_per_key(void **s)
{
    (void)s;
    char *a = ev("2026-11-02T10:00:00Z", "DescribeInstances", "ram-user", "ci", "", "");
    char *b = ev("2026-11-02T10:00:00Z", "DescribeInstances", "ram-user", "ops", "", "");
    const char *four[] = {a, a, b, a};
    assert_int_equal(run("abnormal-accesskey-usage?calls=3&window=1h", four, 3), 0);
    assert_int_equal(run("abnormal-accesskey-usage?calls=3&window=1h", four, 4), 1);
    free(a), free(b);
}

static void test_ram_policy_changed(void **s)
{
    (void)s;
    char *at = ev("2026-11-02T10:00:00Z", "AttachPolicyToUser", "ram-user", "bob", "", "\"requestParameters\":{\"PolicyName\":\"AdministratorAccess\"}");
    char *aws = ev("2026-11-02T10:00:00Z", "AttachUserPolicy", "IAMUser", "bob", "", "");
    char *list = ev("2026-11-02T10:00:00Z", "ListPolicies", "ram-user", "bob", "", "");
    char *denied = ev("2026-11-02T10:00:00Z", "AttachPolicyToUser", "ram-user", "bob", "NoPermission", "");
    assert_int_equal(run1("ram-policy-changed", at), 1);
    assert_int_equal(run1("ram-policy-changed", aws), 1);
    assert_int_equal(run1("ram-policy-changed", list), 0);
    assert_int_equal(run1("ram-policy-changed", denied), 0);
    free(at), free(aws), free(list), free(denied);
}

static void test_password_policy_weakened(void **s)
{
    (void)s;
    const char *strong = "{\"eventName\":\"SetPasswordPolicy\",\"requestParameters\":{\"MinimumPasswordLength\":\"14\",\"MaxPasswordAge\":\"90\",\"PasswordReusePrevention\":\"5\"}}";
    const char *shortpw = "{\"eventName\":\"SetPasswordPolicy\",\"requestParameters\":{\"MinimumPasswordLength\":\"8\",\"MaxPasswordAge\":\"90\",\"PasswordReusePrevention\":\"5\"}}";
    const char *noexpiry = "{\"eventName\":\"SetPasswordPolicy\",\"requestParameters\":{\"MinimumPasswordLength\":\"14\",\"MaxPasswordAge\":\"0\",\"PasswordReusePrevention\":\"5\"}}";
    const char *longage = "{\"eventName\":\"SetPasswordPolicy\",\"requestParameters\":{\"MinimumPasswordLength\":\"14\",\"MaxPasswordAge\":\"180\",\"PasswordReusePrevention\":\"5\"}}";
    const char *noreuse = "{\"eventName\":\"SetPasswordPolicy\",\"requestParameters\":{\"MinimumPasswordLength\":\"14\",\"MaxPasswordAge\":\"90\",\"PasswordReusePrevention\":\"0\"}}";
    const char *aws_ok = "{\"eventName\":\"UpdateAccountPasswordPolicy\",\"requestParameters\":{\"minimumPasswordLength\":14,\"maxPasswordAge\":90,\"passwordReusePrevention\":24}}";
    const char *aws_noreuse = "{\"eventName\":\"UpdateAccountPasswordPolicy\",\"requestParameters\":{\"minimumPasswordLength\":14,\"maxPasswordAge\":90}}";
    assert_int_equal(run1("password-policy-weakened", strong), 0);
    assert_int_equal(run1("password-policy-weakened", shortpw), 1);
    assert_int_equal(run1("password-policy-weakened", noexpiry), 1);
    assert_int_equal(run1("password-policy-weakened", longage), 1);
    assert_int_equal(run1("password-policy-weakened", noreuse), 1);
    assert_int_equal(run1("password-policy-weakened", aws_ok), 0);
    assert_int_equal(run1("password-policy-weakened", aws_noreuse), 1);
    assert_int_equal(run1("password-policy-weakened?min_length=8", shortpw), 0);
}

static void test_password_changed_often_per_user(void **s)
{
    (void)s;
    const char *bob = "{\"eventTime\":\"2026-11-02T10:00:00Z\",\"eventName\":\"ResetPassword\",\"requestParameters\":{\"UserName\":\"bob\"}}";
    const char *eve = "{\"eventTime\":\"2026-11-02T11:00:00Z\",\"eventName\":\"UpdateLoginProfile\",\"requestParameters\":{\"UserName\":\"eve\"}}";
    const char *late = "{\"eventTime\":\"2026-11-04T10:00:00Z\",\"eventName\":\"ResetPassword\",\"requestParameters\":{\"UserName\":\"bob\"}}";
    const char *three[] = {bob, eve, bob, bob};
    assert_int_equal(run("password-changed-often", three, 3), 0);
    assert_int_equal(run("password-changed-often", three, 4), 1);
    const char *spread[] = {bob, bob, late};
    assert_int_equal(run("password-changed-often", spread, 3), 0);
}

static void test_mfa_trail_vpc_and_sensitive_api_lists(void **s)
{
    (void)s;
    assert_int_equal(run1("mfa-deactivated", "{\"eventName\":\"UnbindMFADevice\"}"), 1);
    assert_int_equal(run1("mfa-deactivated", "{\"eventName\":\"DeactivateMFADevice\"}"), 1);
    assert_int_equal(run1("mfa-deactivated", "{\"eventName\":\"BindMFADevice\"}"), 0);
    assert_int_equal(run1("trail-changed", "{\"eventName\":\"StopLogging\"}"), 1);
    assert_int_equal(run1("trail-changed", "{\"eventName\":\"DeleteTrail\"}"), 1);
    assert_int_equal(run1("trail-changed", "{\"eventName\":\"StartLogging\"}"), 0);
    assert_int_equal(run1("vpc-route-or-flowlog-changed", "{\"eventName\":\"CreateRouteEntry\"}"), 1);
    assert_int_equal(run1("vpc-route-or-flowlog-changed", "{\"eventName\":\"DeleteFlowLogs\"}"), 1);
    assert_int_equal(run1("vpc-route-or-flowlog-changed", "{\"eventName\":\"DescribeRouteTables\"}"), 0);
    assert_int_equal(run1("sensitive-api", "{\"eventName\":\"DeleteTrail\"}"), 1);
    assert_int_equal(run1("sensitive-api", "{\"eventName\":\"DescribeTrails\"}"), 0);
    assert_int_equal(run1("sensitive-api?apis=GetSecretValue,%20DeleteBucket", "{\"eventName\":\"DeleteBucket\"}"), 1);
    assert_int_equal(run1("sensitive-api?apis=GetSecretValue", "{\"eventName\":\"DeleteTrail\"}"), 0);
    /* A failed change changed nothing: the change templates skip it (a
     * StopLogging failing with TrailNotFoundException used to fire). */
    const char *failed[][2] = {
        {"trail-changed", "{\"eventName\":\"StopLogging\",\"errorCode\":\"TrailNotFoundException\"}"},
        {"mfa-deactivated", "{\"eventName\":\"UnbindMFADevice\",\"errorCode\":\"NoPermission\"}"},
        {"vpc-route-or-flowlog-changed", "{\"eventName\":\"DeleteFlowLogs\",\"errorCode\":\"AccessDenied\"}"},
        {"sensitive-api", "{\"eventName\":\"DeleteTrail\",\"errorCode\":\"AccessDenied\"}"},
        {"ram-policy-changed", "{\"eventName\":\"AttachPolicyToUser\",\"errorCode\":\"NoPermission\"}"},
        {"oss-bucket-public", "{\"eventName\":\"PutBucketAcl\",\"errorCode\":\"AccessDenied\","
                              "\"requestParameters\":{\"x-oss-acl\":\"public-read\"}}"},
        {"network-open-to-world", "{\"eventName\":\"AuthorizeSecurityGroup\",\"errorCode\":\"Forbidden\","
                                  "\"requestParameters\":{\"SourceCidrIp\":\"0.0.0.0/0\"}}"},
    };
    for (size_t i = 0; i < sizeof failed / sizeof *failed; i++)
        if (run1(failed[i][0], failed[i][1]) != 0)
            fail_msg("%s fired on a failed call", failed[i][0]);
}

static void test_network_open_to_world_v4_v6_rds_and_aws(void **s)
{
    (void)s;
    const char *t = "network-open-to-world";
    assert_int_equal(run1(t, "{\"eventName\":\"AuthorizeSecurityGroup\",\"requestParameters\":{\"SourceCidrIp\":\"0.0.0.0/0\",\"PortRange\":\"22/22\"}}"), 1);
    assert_int_equal(run1(t, "{\"eventName\":\"AuthorizeSecurityGroup\",\"requestParameters\":{\"Ipv6SourceCidrIp\":\"::/0\"}}"), 1);
    assert_int_equal(run1(t, "{\"eventName\":\"AuthorizeSecurityGroup\",\"requestParameters\":{\"SourceCidrIp\":\"10.0.0.0/8\"}}"), 0);
    assert_int_equal(run1(t, "{\"eventName\":\"ModifySecurityIps\",\"requestParameters\":{\"SecurityIps\":\"10.0.0.1,0.0.0.0/0\"}}"), 1);
    assert_int_equal(run1(t, "{\"eventName\":\"ModifySecurityIps\",\"requestParameters\":{\"SecurityIps\":\"10.0.0.1,10.0.0.0/0\"}}"), 0);
    assert_int_equal(run1(t, "{\"eventName\":\"AuthorizeSecurityGroupIngress\",\"requestParameters\":{\"ipPermissions\":{\"items\":[{\"ipRanges\":{\"items\":[{\"cidrIp\":\"1.2.3.0/24\"},{\"cidrIp\":\"0.0.0.0/0\"}]}}]}}}"), 1);
    assert_int_equal(run1(t, "{\"eventName\":\"AuthorizeSecurityGroupIngress\",\"requestParameters\":{\"ipPermissions\":{\"items\":[{\"ipv6Ranges\":{\"items\":[{\"cidrIpv6\":\"::/0\"}]}}]}}}"), 1);
    assert_int_equal(run1(t, "{\"eventName\":\"AuthorizeSecurityGroupIngress\",\"requestParameters\":{\"ipPermissions\":{\"items\":[{\"ipRanges\":{\"items\":[{\"cidrIp\":\"1.2.3.0/24\"}]}}]}}}"), 0);
}

static void test_oss_bucket_public(void **s)
{
    (void)s;
    const char *t = "oss-bucket-public";
    assert_int_equal(run1(t, "{\"eventName\":\"PutBucketAcl\",\"requestParameters\":{\"x-oss-acl\":\"public-read\"}}"), 1);
    assert_int_equal(run1(t, "{\"eventName\":\"PutBucketAcl\",\"requestParameters\":{\"x-oss-acl\":\"private\"}}"), 0);
    assert_int_equal(run1(t, "{\"eventName\":\"PutBucketPolicy\",\"requestParameters\":{\"Policy\":\"{\\\"Statement\\\":[{\\\"Principal\\\": [\\\"*\\\"],\\\"Effect\\\":\\\"Allow\\\"}]}\"}}"), 1);
    assert_int_equal(run1(t, "{\"eventName\":\"PutBucketPolicy\",\"requestParameters\":{\"Policy\":\"{\\\"Statement\\\":[{\\\"Principal\\\":[\\\"1234\\\"]}]}\"}}"), 0);
    assert_int_equal(run1(t, "{\"eventName\":\"PutBucketPolicy\",\"requestParameters\":{\"bucketPolicy\":{\"Statement\":[{\"Principal\":{\"AWS\":\"*\"}}]}}}"), 1);
}

static void test_api_errors_and_unauthorized_calls_count_in_a_window(void **s)
{
    (void)s;
    char *den = ev("2026-11-02T10:00:00Z", "DeleteInstance", "ram-user", "bob", "Forbidden.RAM", "");
    char *den2 = ev("2026-11-02T10:01:00Z", "ListUsers", "ram-user", "bob", "NoPermission", "");
    char *ok = ev("2026-11-02T10:02:00Z", "ListUsers", "ram-user", "bob", "", "");
    char *oth = ev("2026-11-02T10:02:00Z", "ListUsers", "ram-user", "bob", "Throttling.User", "");
    const char *evs[] = {den, den2, ok, oth, den};
    assert_int_equal(run("unauthorized-api-calls?calls=3", evs, 4), 0);
    assert_int_equal(run("unauthorized-api-calls?calls=3", evs, 5), 1);
    assert_int_equal(run("api-errors?errors=4", evs, 4), 0);
    assert_int_equal(run("api-errors?errors=4", evs, 5), 1);
    const char *aws = "{\"eventName\":\"RunInstances\",\"errorCode\":\"Client.UnauthorizedOperation\",\"userIdentity\":{\"principalId\":\"x\"}}";
    const char *aws3[] = {aws, aws, aws, aws, aws};
    assert_int_equal(run("unauthorized-api-calls", aws3, 5), 1);
    free(den), free(den2), free(ok), free(oth);
}

static void test_template_registry_and_parameter_errors(void **s)
{
    (void)s;
    size_t n;
    const tk_template_t *t = tk_templates(&n);
    assert_int_equal(n, 20);
    for (size_t i = 0; i < n; i++) {
        tk_rule_t *r = NULL;
        char err[TK_ERRLEN];
        /* every template compiles with its defaults */
        if (tk_template_compile(t[i].name, &r, err))
            fail_msg("%s: %s", t[i].name, err);
        assert_string_equal(tk_rule_name(r), t[i].name);
        assert_int_equal(tk_rule_severity(r), t[i].severity);
        tk_rule_destroy(r);
    }
    tk_rule_t *r = NULL;
    char err[TK_ERRLEN];
    assert_int_equal(tk_template_compile("no-such-template", &r, err), TK_ENOTFOUND);
    assert_non_null(strstr(err, "no-such-template"));
    assert_int_equal(tk_template_compile("consecutive-logon-failures?failures=zero", &r, err), TK_EINVAL);
    assert_non_null(strstr(err, "failures='zero'"));
    assert_int_equal(tk_template_compile("consecutive-logon-failures?tries=3", &r, err), TK_EINVAL);
    assert_non_null(strstr(err, "no parameter 'tries'"));
    assert_int_equal(tk_template_compile("root-logon?x=1", &r, err), TK_EINVAL);
    assert_int_equal(tk_template_compile("api-errors?window=soon", &r, err), TK_EINVAL);
    assert_int_equal(tk_template_compile("consecutive-logon-failures?failures", &r, err), TK_EINVAL);
    assert_null(r);
    /* two instances with different parameters get different ids */
    tk_rule_t *a, *b;
    assert_int_equal(tk_template_compile("api-errors?errors=5", &a, err), 0);
    assert_int_equal(tk_template_compile("api-errors", &b, err), 0);
    assert_string_not_equal(tk_rule_id(a), tk_rule_id(b));
    tk_rule_destroy(a);
    tk_rule_destroy(b);
}

/* ---- insight ---- */

/* An Insights record in the shape `trailkeep insights` writes (docs/insights.md). */
static char *insight_rec(const char *sid, const char *state, const char *type, const char *object,
                         const char *time, const char *avg, const char *base, const char *user)
{
    char *b = malloc(4096);
    snprintf(b, 4096,
             "{\"eventVersion\":\"1\",\"eventId\":\"%s-%s\",\"eventTime\":\"%s\","
             "\"eventType\":\"ActionTrailInsight\",\"eventCategory\":\"Insight\","
             "\"eventSource\":\"insights.trailkeep\",\"serviceName\":\"ActionTrail\",\"eventName\":\"%s\","
             "\"recipientAccountId\":\"111\",\"sharedEventId\":\"%s\",\"insightDetails\":{\"state\":\"%s\","
             "\"insightType\":\"%s\",\"insightObject\":\"%s\",\"insightContext\":{\"statistics\":"
             "{\"insight\":{\"average\":%s},\"insightDuration\":2,\"baseline\":{\"average\":%s},"
             "\"baselineDuration\":20160,\"insightCount\":24},\"attributions\":["
             "{\"attribute\":\"userIdentity\",\"insight\":[{\"value\":\"%s\",\"average\":12}],"
             "\"baseline\":[{\"value\":\"%s\",\"average\":0.0003}]},"
             "{\"attribute\":\"sourceIpAddress\",\"insight\":[{\"value\":\"146.126.56.221\",\"average\":12}],"
             "\"baseline\":[]}]},"
             "\"explanation\":\"%s: %s at %s/min against a baseline of %s/min; mostly user %s (100%%).\"}}",
             sid, state, time, type, sid, state, type, object, avg, base, user, user, type, object, avg,
             base, user);
    return b;
}

typedef struct ins_hits {
    int fires, clears;
    char kinds[16];
    char groups[8][64];
    char titles[8][256];
    char summaries[8][512];
} ins_hits_t;

static void ins_cb(void *ctx, const tk_alert_hit_t *h)
{
    ins_hits_t *x = ctx;
    int i = x->fires + x->clears;
    if (h->kind == TK_ALERT_MATCH || i >= 8)
        return;
    if (h->kind == TK_ALERT_FIRE)
        x->fires++;
    else
        x->clears++;
    x->kinds[i] = h->kind == TK_ALERT_FIRE ? 'F' : 'C';
    snprintf(x->groups[i], sizeof x->groups[i], "%.*s", (int)h->group_len, h->group_key);
    snprintf(x->titles[i], sizeof x->titles[i], "%s", h->title ? h->title : "(none)");
    snprintf(x->summaries[i], sizeof x->summaries[i], "%s", h->summary ? h->summary : "(none)");
}

static void run_ins(const char *spec, char **evs, size_t n, ins_hits_t *x)
{
    char err[TK_ERRLEN] = "";
    tk_rule_t *r = NULL;
    if (tk_template_compile(spec, &r, err))
        fail_msg("template %s: %s", spec, err);
    tk_alert_opts_t o = {.report_clears = 1};
    tk_alert_engine_t *e;
    assert_int_equal(tk_alert_engine_create(&o, &e, err), 0);
    assert_int_equal(tk_alert_engine_add(e, r, err), 0);
    memset(x, 0, sizeof *x);
    for (size_t i = 0; i < n; i++)
        if (tk_alert_engine_eval(e, NULL, 0, evs[i], strlen(evs[i]), 0, ins_cb, x, err))
            fail_msg("event %zu: %s", i, err);
    tk_alert_engine_destroy(e);
}

static void test_insight_start_fires_with_the_explanation_and_end_clears_it(void **s)
{
    (void)s;
    char *evs[3] = {
        insight_rec("sid-1", "Start", "ApiCallRateInsight", "Ecs:DeleteInstance", "2026-10-21T06:57:00Z", "12",
                    "0.0167", "ci-deployer"),
        insight_rec("sid-1", "End", "ApiCallRateInsight", "Ecs:DeleteInstance", "2026-10-21T07:09:00Z", "3.5",
                    "0.0167", "ci-deployer"),
    };
    ins_hits_t x;
    run_ins("insight", evs, 2, &x);
    assert_int_equal(x.fires, 1);
    assert_int_equal(x.clears, 1);
    assert_memory_equal(x.kinds, "FC", 2);
    /* one incident, one group: the sharedEventId */
    assert_string_equal(x.groups[0], "sid-1");
    assert_string_equal(x.groups[1], "sid-1");
    assert_string_equal(x.titles[0], "ApiCallRateInsight Ecs:DeleteInstance: 12/min against a baseline of "
                                     "0.0167/min (24 events in 2 min)");
    assert_string_equal(x.summaries[0], "ApiCallRateInsight: Ecs:DeleteInstance at 12/min against a baseline "
                                        "of 0.0167/min; mostly user ci-deployer (100%).");
    /* the clearing End record describes the incident as a whole */
    assert_string_equal(x.titles[1], "ApiCallRateInsight Ecs:DeleteInstance: 3.5/min against a baseline of "
                                     "0.0167/min (24 events in 2 min)");
    /* a second incident of the same object is a second alert */
    evs[2] = insight_rec("sid-2", "Start", "ApiCallRateInsight", "Ecs:DeleteInstance", "2026-10-22T06:57:00Z",
                         "9", "0.0167", "mallory");
    run_ins("insight", evs, 3, &x);
    assert_int_equal(x.fires, 2);
    assert_string_equal(x.groups[2], "sid-2");
    free_all(evs, 3);
}

static void test_insight_types_filter_and_other_events_are_ignored(void **s)
{
    (void)s;
    char *evs[6] = {
        insight_rec("a", "Start", "AkInsight", "LTAI5tKEY", "2026-10-21T06:57:00Z", "9", "0.01", "bob"),
        insight_rec("b", "Start", "IpInsight", "146.126.56.221", "2026-10-21T06:58:00Z", "30", "0.01", "bob"),
        insight_rec("a", "End", "AkInsight", "LTAI5tKEY", "2026-10-21T07:20:00Z", "4", "0.01", "bob"),
        insight_rec("b", "End", "IpInsight", "146.126.56.221", "2026-10-21T07:30:00Z", "8", "0.01", "bob"),
        /* not Insights: an API call named like one, and one carrying a stray insightDetails */
        ev("2026-10-21T07:31:00Z", "IpInsight", "ram-user", "bob", "", "\"sharedEventId\":\"b\""),
        ev("2026-10-21T07:32:00Z", "PutObject", "ram-user", "bob", "",
           "\"eventType\":\"ApiCall\",\"insightDetails\":{\"state\":\"Start\",\"insightType\":\"IpInsight\"}"),
    };
    ins_hits_t x;
    run_ins("insight?types=IpInsight", evs, 6, &x);
    assert_int_equal(x.fires, 1);
    assert_int_equal(x.clears, 1);
    assert_string_equal(x.groups[0], "b");
    assert_string_equal(x.groups[1], "b");
    /* all seven by default */
    run_ins("insight", evs, 6, &x);
    assert_int_equal(x.fires, 2);
    assert_int_equal(x.clears, 2);
    assert_memory_equal(x.kinds, "FFCC", 4);
    /* ordinary traffic never fires nor clears */
    run_ins("insight", evs + 4, 2, &x);
    assert_int_equal(x.fires + x.clears, 0);
    /* without report_clears the engine still fires once per Start, and counts the End */
    char err[TK_ERRLEN];
    tk_rule_t *r = NULL;
    assert_int_equal(tk_template_compile("insight", &r, err), 0);
    assert_true(tk_rule_clears_on_event(r));
    assert_int_equal(tk_rule_severity(r), TK_SEV_HIGH);
    tk_alert_engine_t *e;
    assert_int_equal(tk_alert_engine_create(NULL, &e, err), 0);
    assert_int_equal(tk_alert_engine_add(e, r, err), 0);
    memset(&x, 0, sizeof x);
    for (int i = 0; i < 6; i++)
        assert_int_equal(tk_alert_engine_eval(e, NULL, 0, evs[i], strlen(evs[i]), 0, ins_cb, &x, err), 0);
    assert_int_equal(x.fires, 2);
    assert_int_equal(x.clears, 0);
    tk_alert_stats_t st;
    tk_alert_engine_stats(e, &st);
    assert_int_equal(st.clears, 2);
    tk_alert_engine_destroy(e);
    free_all(evs, 6);
}

static void test_insight_parameters_are_checked(void **s)
{
    (void)s;
    tk_rule_t *r = NULL;
    char err[TK_ERRLEN];
    assert_int_equal(tk_template_compile("insight?types=IpInsight,FooInsight", &r, err), TK_EINVAL);
    assert_non_null(strstr(err, "unknown Insights type 'FooInsight'"));
    assert_int_equal(tk_template_compile("insight?types=", &r, err), TK_EINVAL);
    assert_non_null(strstr(err, "types is empty"));
    assert_int_equal(tk_template_compile("insight?severity=urgent", &r, err), TK_EINVAL);
    assert_non_null(strstr(err, "severity='urgent'"));
    assert_null(r);
    assert_int_equal(tk_template_compile("insight?severity=critical&types=TrailConcealmentInsight", &r, err), 0);
    assert_int_equal(tk_rule_severity(r), TK_SEV_CRITICAL);
    assert_string_equal(tk_rule_id(r), "insight?severity=critical&types=TrailConcealmentInsight");
    char *d = tk_rule_describe(r);
    assert_non_null(strstr(d, "cleared by all(eventType in"));
    assert_non_null(strstr(d, " by sharedEventId"));
    free(d);
    tk_rule_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consecutive_logon_failures_fire_at_the_fifth_within_30_minutes),
        cmocka_unit_test(test_root_logon_fires_for_root_only_and_only_on_success),
        cmocka_unit_test(test_logon_from_unauthorized_ip_checks_ipv4_and_ipv6_allow_lists),
        cmocka_unit_test(test_tz_offsets_follow_the_tz_database_across_dst),
        cmocka_unit_test(test_logon_outside_hours_uses_local_time_across_dst_weekends_and_holidays),
        cmocka_unit_test(test_ram_logon_without_mfa),
        cmocka_unit_test(test_root_accesskey_used_ignores_console_sessions),
        cmocka_unit_test(test_root_accesskey_created_only_for_root_itself),
        cmocka_unit_test(test_abnormal_accesskey_usage_counts_calls_per_key),
        cmocka_unit_test(test_ram_policy_changed),
        cmocka_unit_test(test_password_policy_weakened),
        cmocka_unit_test(test_password_changed_often_per_user),
        cmocka_unit_test(test_mfa_trail_vpc_and_sensitive_api_lists),
        cmocka_unit_test(test_network_open_to_world_v4_v6_rds_and_aws),
        cmocka_unit_test(test_oss_bucket_public),
        cmocka_unit_test(test_api_errors_and_unauthorized_calls_count_in_a_window),
        cmocka_unit_test(test_template_registry_and_parameter_errors),
        cmocka_unit_test(test_insight_start_fires_with_the_explanation_and_end_clears_it),
        cmocka_unit_test(test_insight_types_filter_and_other_events_are_ignored),
        cmocka_unit_test(test_insight_parameters_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* trailkeep alert templates: the predefined rules of SPEC.md section 6
 * (login, AccessKey, RAM/password, trail, network and API families), each a
 * name, a description, parameters with defaults and a function that writes
 * the rule JSON of docs/rules.md, compiled by the same path as custom
 * rules. Conditions cover ActionTrail names and fields and, where cheap,
 * their CloudTrail equivalents (ConsoleLogin, AttachUserPolicy, ...). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert_internal.h"
#include "base/buf.h"
#include "base/tk.h"

/* Reusable condition fragments (JSON text). */
#define SIGNIN "{\"field\":\"eventName\",\"values\":[\"ConsoleSignin\",\"ConsoleLogin\"]}"
#define FAILED                                                                                     \
    "{\"any\":[{\"field\":\"errorCode\",\"op\":\"glob\",\"value\":\"?*\"},"                       \
    "{\"field\":\"responseElements.ConsoleLogin\",\"value\":\"Failure\"}]}"
#define SUCCEEDED "{\"not\":" FAILED "}"
#define ROOT "{\"field\":\"userIdentity.type\",\"values\":[\"root-account\",\"Root\"]}"
#define RAMUSER "{\"field\":\"userIdentity.type\",\"values\":[\"ram-user\",\"IAMUser\"]}"

/* Appends csv as a JSON array of strings (empty items skipped). */
static int put_list(tk_buf_t *b, const char *csv)
{
    int rc = tk_buf_putc(b, '[');
    int first = 1;
    const char *p = csv;
    while (*p) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        while (n && (*p == ' ')) {
            p++;
            n--;
        }
        while (n && p[n - 1] == ' ')
            n--;
        if (n) {
            if (!first)
                rc |= tk_buf_putc(b, ',');
            rc |= tk_buf_put_json_str(b, p, n);
            first = 0;
        }
        p += c ? (size_t)(c - p) + 1 : strlen(p);
    }
    return rc | tk_buf_putc(b, ']');
}

static int need_count(const char *name, const char *v, long *out, char *err)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 1 || n > 1000000)
        return tk_errf(err, TK_EINVAL, "parameter %s='%s' must be a whole number 1..1000000", name, v);
    *out = n;
    return 0;
}

static int need_duration(const char *name, const char *v, char *err)
{
    int64_t ms;
    if (tk_duration_parse(v, &ms) || ms <= 0)
        return tk_errf(err, TK_EINVAL, "parameter %s='%s' must be a duration like 30m, 1h, 1d", name, v);
    return 0;
}

static char *finish(tk_buf_t *b, int rc, char *err)
{
    if (rc || !b->p) {
        tk_buf_free(b);
        tk_errf(err, TK_ENOMEM, "out of memory");
        return NULL;
    }
    return tk_buf_steal(b);
}

static void head(tk_buf_t *b, const char *id, const char *sev, int *rc)
{
    *rc |= tk_buf_printf(b, "{\"id\":\"%s\",\"severity\":\"%s\",\"match\":", id, sev);
}

/* ---- login family ---- */

static const tk_tmpl_param_t P_FAIL[] = {
    {"failures", "5", "failed sign-ins that raise the alert"},
    {"window", "30m", "within this time"},
    {"suppress", "1h", "one alert per user for this long"},
    {NULL, NULL, NULL},
};

static char *b_fail(const char *const *v, char *err)
{
    long n;
    if (need_count("failures", v[0], &n, err) || need_duration("window", v[1], err) ||
        need_duration("suppress", v[2], err))
        return NULL;
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    head(&b, "consecutive-logon-failures", "high", &rc);
    rc |= tk_buf_printf(&b, "{\"all\":[" SIGNIN "," FAILED "]},\"threshold\":{\"count\":%ld,\"window\":\"%s\"},"
                            "\"group_by\":[\"userIdentity.userName\"],\"suppress\":\"%s\"}", n, v[1], v[2]);
    return finish(&b, rc, err);
}

static const tk_tmpl_param_t P_NONE[] = {{NULL, NULL, NULL}};

static char *b_root_logon(const char *const *v, char *err)
{
    (void)v;
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    head(&b, "root-logon", "high", &rc);
    rc |= tk_buf_puts(&b, "{\"all\":[" SIGNIN "," ROOT "," SUCCEEDED "]}}");
    return finish(&b, rc, err);
}

static const tk_tmpl_param_t P_IP[] = {
    {"allow", "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16", "CIDR allow list, IPv4 and IPv6 (comma-separated)"},
    {NULL, NULL, NULL},
};

static char *b_ip(const char *const *v, char *err)
{
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    head(&b, "logon-unauthorized-ip", "high", &rc);
    rc |= tk_buf_puts(&b, "{\"all\":[" SIGNIN "," SUCCEEDED ",{\"not\":{\"any\":["
                          "{\"field\":\"sourceIpAddress\",\"op\":\"cidr\",\"values\":");
    rc |= put_list(&b, v[0]);
    rc |= tk_buf_puts(&b, "},{\"field\":\"sourceIPAddress\",\"op\":\"cidr\",\"values\":");
    rc |= put_list(&b, v[0]);
    rc |= tk_buf_puts(&b, "}]}}]}}");
    return finish(&b, rc, err);
}

static const tk_tmpl_param_t P_HOURS[] = {
    {"tz", "Asia/Shanghai", "IANA time zone of the office"},
    {"days", "mon-fri", "working days (mon-fri, or a list like mon,tue,thu)"},
    {"hours", "09:00-18:00", "working hours, end exclusive (22:00-06:00 spans midnight)"},
    {"holidays", "", "dates YYYY-MM-DD that are not working days (comma-separated)"},
    {NULL, NULL, NULL},
};

static char *b_hours(const char *const *v, char *err)
{
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    head(&b, "logon-outside-hours", "medium", &rc);
    rc |= tk_buf_puts(&b, "{\"all\":[" SIGNIN "," SUCCEEDED ",{\"not\":{\"field\":\"eventTime\",\"op\":\"within_hours\",\"value\":{\"tz\":");
    rc |= tk_buf_put_json_str(&b, v[0], strlen(v[0]));
    rc |= tk_buf_puts(&b, ",\"days\":");
    rc |= tk_buf_put_json_str(&b, v[1], strlen(v[1]));
    rc |= tk_buf_puts(&b, ",\"hours\":");
    rc |= tk_buf_put_json_str(&b, v[2], strlen(v[2]));
    rc |= tk_buf_puts(&b, ",\"holidays\":");
    rc |= put_list(&b, v[3]);
    rc |= tk_buf_puts(&b, "}}}]}}");
    return finish(&b, rc, err);
}

static char *b_nomfa(const char *const *v, char *err)
{
    (void)v;
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    head(&b, "ram-logon-without-mfa", "medium", &rc);
    rc |= tk_buf_puts(&b, "{\"all\":[" SIGNIN "," RAMUSER "," SUCCEEDED ",{\"any\":["
                          "{\"field\":\"additionalEventData.isMFAChecked\",\"value\":\"false\"},"
                          "{\"field\":\"additionalEventData.MFAUsed\",\"value\":\"No\"}]}]}}");
    return finish(&b, rc, err);
}

/* ---- AccessKey family ---- */

static char *b_root_ak_used(const char *const *v, char *err)
{
    (void)v;
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    /* long-term keys only: console sessions carry temporary STS keys */
    head(&b, "root-accesskey-used", "critical", &rc);
    rc |= tk_buf_puts(&b, "{\"all\":[" ROOT ",{\"field\":\"userIdentity.accessKeyId\",\"op\":\"startswith\",\"values\":[\"LTAI\",\"AKIA\"]}]},"
                          "\"group_by\":[\"userIdentity.accessKeyId\"],\"suppress\":\"1h\"}");
    return finish(&b, rc, err);
}

static char *b_root_ak_created(const char *const *v, char *err)
{
    (void)v;
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    /* CreateAccessKey by root without a UserName makes a key for root itself */
    head(&b, "root-accesskey-created", "critical", &rc);
    rc |= tk_buf_puts(&b, "{\"all\":[{\"field\":\"eventName\",\"value\":\"CreateAccessKey\"}," ROOT ","
                          "{\"field\":\"requestParameters.UserName\",\"op\":\"exists\",\"value\":false},"
                          "{\"field\":\"requestParameters.userName\",\"op\":\"exists\",\"value\":false},"
                          "{\"not\":{\"field\":\"errorCode\",\"op\":\"glob\",\"value\":\"?*\"}}]}}");
    return finish(&b, rc, err);
}

static const tk_tmpl_param_t P_AKUSE[] = {
    {"calls", "1000", "API calls with one AccessKey that raise the alert"},
    {"window", "1h", "within this time"},
    {NULL, NULL, NULL},
};

static char *b_ak_usage(const char *const *v, char *err)
{
    long n;
    if (need_count("calls", v[0], &n, err) || need_duration("window", v[1], err))
        return NULL;
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    head(&b, "abnormal-accesskey-usage", "medium", &rc);
    rc |= tk_buf_printf(&b, "{\"field\":\"userIdentity.accessKeyId\",\"op\":\"startswith\",\"values\":[\"LTAI\",\"AKIA\"]},"
                            "\"threshold\":{\"count\":%ld,\"window\":\"%s\"},\"group_by\":[\"userIdentity.accessKeyId\"],\"suppress\":\"%s\"}",
                        n, v[1], v[1]);
    return finish(&b, rc, err);
}

/* ---- RAM / password family ---- */

static char *b_policy(const char *const *v, char *err)
{
    (void)v;
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    head(&b, "ram-policy-changed", "medium", &rc);
    rc |= tk_buf_puts(&b, "{\"all\":[{\"field\":\"eventName\",\"values\":["
                          "\"AttachPolicyToUser\",\"AttachPolicyToGroup\",\"AttachPolicyToRole\","
                          "\"DetachPolicyFromUser\",\"DetachPolicyFromGroup\",\"DetachPolicyFromRole\","
                          "\"CreatePolicy\",\"DeletePolicy\",\"CreatePolicyVersion\",\"DeletePolicyVersion\",\"SetDefaultPolicyVersion\","
                          "\"UpdateRole\",\"AttachUserPolicy\",\"AttachGroupPolicy\",\"AttachRolePolicy\","
                          "\"DetachUserPolicy\",\"DetachGroupPolicy\",\"DetachRolePolicy\",\"PutUserPolicy\",\"PutGroupPolicy\","
                          "\"PutRolePolicy\",\"DeleteUserPolicy\",\"DeleteGroupPolicy\",\"DeleteRolePolicy\",\"UpdateAssumeRolePolicy\"]},"
                          "{\"not\":{\"field\":\"errorCode\",\"op\":\"glob\",\"value\":\"?*\"}}]}}");
    return finish(&b, rc, err);
}

static const tk_tmpl_param_t P_PWPOL[] = {
    {"min_length", "14", "alert when the minimum password length is set below this"},
    {"max_age", "90", "alert when passwords may live longer than this many days (or forever)"},
    {NULL, NULL, NULL},
};

static char *b_pwpol(const char *const *v, char *err)
{
    long len, age;
    if (need_count("min_length", v[0], &len, err) || need_count("max_age", v[1], &age, err))
        return NULL;
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    head(&b, "password-policy-weakened", "high", &rc);
    rc |= tk_buf_printf(&b,
        "{\"all\":[{\"field\":\"eventName\",\"values\":[\"SetPasswordPolicy\",\"UpdateAccountPasswordPolicy\"]},{\"any\":["
        "{\"field\":\"requestParameters.MinimumPasswordLength\",\"op\":\"lt\",\"value\":%ld},"
        "{\"field\":\"requestParameters.minimumPasswordLength\",\"op\":\"lt\",\"value\":%ld},"
        "{\"field\":\"requestParameters.MaxPasswordAge\",\"op\":\"gt\",\"value\":%ld},"
        "{\"field\":\"requestParameters.maxPasswordAge\",\"op\":\"gt\",\"value\":%ld},"
        "{\"field\":\"requestParameters.MaxPasswordAge\",\"value\":0},"
        "{\"all\":[{\"field\":\"eventName\",\"value\":\"UpdateAccountPasswordPolicy\"},{\"field\":\"requestParameters.maxPasswordAge\",\"op\":\"exists\",\"value\":false}]},"
        "{\"field\":\"requestParameters.PasswordReusePrevention\",\"op\":\"lt\",\"value\":1},"
        "{\"all\":[{\"field\":\"eventName\",\"value\":\"UpdateAccountPasswordPolicy\"},{\"field\":\"requestParameters.passwordReusePrevention\",\"op\":\"exists\",\"value\":false}]}"
        "]}]}}",
        len, len, age, age);
    return finish(&b, rc, err);
}

static const tk_tmpl_param_t P_PWCHG[] = {
    {"changes", "3", "password changes or resets for one user that raise the alert"},
    {"window", "1d", "within this time"},
    {NULL, NULL, NULL},
};

static char *b_pwchg(const char *const *v, char *err)
{
    long n;
    if (need_count("changes", v[0], &n, err) || need_duration("window", v[1], err))
        return NULL;
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    head(&b, "password-changed-often", "medium", &rc);
    rc |= tk_buf_printf(&b, "{\"field\":\"eventName\",\"values\":[\"ChangePassword\",\"UpdateLoginProfile\",\"ResetPassword\",\"CreateLoginProfile\"]},"
                            "\"threshold\":{\"count\":%ld,\"window\":\"%s\"},"
                            "\"group_by\":[\"requestParameters.UserName\"],\"suppress\":\"%s\"}", n, v[1], v[1]);
    return finish(&b, rc, err);
}

static char *b_mfa_off(const char *const *v, char *err)
{
    (void)v;
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    head(&b, "mfa-deactivated", "high", &rc);
    rc |= tk_buf_puts(&b, "{\"all\":[{\"field\":\"eventName\",\"values\":[\"UnbindMFADevice\",\"DeleteVirtualMFADevice\",\"DeactivateMFADevice\"]},"
                          SUCCEEDED "]}}");
    return finish(&b, rc, err);
}

/* ---- trail, network, storage ----
 * Change templates fire on calls that succeeded: a StopLogging that failed
 * with TrailNotFoundException changed no trail. Failed attempts are their
 * own signal (unauthorized-api-calls, api-errors). */

static char *b_trail(const char *const *v, char *err)
{
    (void)v;
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    head(&b, "trail-changed", "critical", &rc);
    rc |= tk_buf_puts(&b, "{\"all\":[{\"field\":\"eventName\",\"values\":[\"StopLogging\",\"DeleteTrail\",\"UpdateTrail\",\"PutEventSelectors\"]},"
                          SUCCEEDED "]}}");
    return finish(&b, rc, err);
}

static char *b_world(const char *const *v, char *err)
{
    (void)v;
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    head(&b, "network-open-to-world", "critical", &rc);
    rc |= tk_buf_puts(&b, "{\"all\":[{\"field\":\"eventName\",\"values\":[\"AuthorizeSecurityGroup\",\"ModifySecurityGroupRule\","
                          "\"AuthorizeSecurityGroupIngress\",\"ModifySecurityIps\",\"ModifyDBInstanceSecurityIps\"]},{\"any\":["
                          "{\"field\":\"requestParameters.SourceCidrIp\",\"values\":[\"0.0.0.0/0\",\"::/0\"]},"
                          "{\"field\":\"requestParameters.Ipv6SourceCidrIp\",\"value\":\"::/0\"},"
                          "{\"field\":\"requestParameters.SecurityIps\",\"op\":\"regex\",\"value\":\"(^|,)\\\\s*(0\\\\.0\\\\.0\\\\.0/0|::/0)\\\\s*(,|$)\"},"
                          "{\"field\":\"requestParameters.cidrIp\",\"value\":\"0.0.0.0/0\"},"
                          "{\"field\":\"requestParameters.ipPermissions.items.ipRanges.items.cidrIp\",\"value\":\"0.0.0.0/0\"},"
                          "{\"field\":\"requestParameters.ipPermissions.items.ipv6Ranges.items.cidrIpv6\",\"value\":\"::/0\"}"
                          "]}," SUCCEEDED "]}}");
    return finish(&b, rc, err);
}

static char *b_vpc(const char *const *v, char *err)
{
    (void)v;
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    head(&b, "vpc-route-or-flowlog-changed", "medium", &rc);
    rc |= tk_buf_puts(&b, "{\"all\":[{\"field\":\"eventName\",\"values\":[\"CreateRouteEntry\",\"DeleteRouteEntry\",\"ModifyRouteEntry\","
                          "\"CreateRouteTable\",\"DeleteRouteTable\",\"AssociateRouteTable\",\"UnassociateRouteTable\","
                          "\"DeleteFlowLog\",\"DeactiveFlowLog\",\"ModifyFlowLogAttribute\",\"CreateRoute\",\"DeleteRoute\",\"ReplaceRoute\","
                          "\"ReplaceRouteTableAssociation\",\"DisassociateRouteTable\",\"DeleteFlowLogs\"]}," SUCCEEDED "]}}");
    return finish(&b, rc, err);
}

static char *b_oss(const char *const *v, char *err)
{
    (void)v;
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    head(&b, "oss-bucket-public", "high", &rc);
    rc |= tk_buf_puts(&b, "{\"all\":[{\"field\":\"eventName\",\"values\":[\"PutBucketAcl\",\"PutBucketPolicy\",\"PutBucket\"]},{\"any\":["
                          "{\"field\":\"requestParameters.x-oss-acl\",\"values\":[\"public-read\",\"public-read-write\"]},"
                          "{\"field\":\"requestParameters.acl\",\"values\":[\"public-read\",\"public-read-write\"]},"
                          "{\"field\":\"requestParameters.ACL\",\"values\":[\"public-read\",\"public-read-write\"]},"
                          "{\"field\":\"requestParameters.x-amz-acl\",\"values\":[\"public-read\",\"public-read-write\"]},"
                          "{\"field\":\"requestParameters.Policy\",\"op\":\"regex\",\"value\":\"\\\"Principal\\\"\\\\s*:\\\\s*(\\\\[\\\\s*)?(\\\\{\\\\s*\\\"AWS\\\"\\\\s*:\\\\s*)?\\\"\\\\*\\\"\"},"
                          "{\"field\":\"requestParameters.bucketPolicy.Statement.Principal\",\"value\":\"*\"},"
                          "{\"field\":\"requestParameters.bucketPolicy.Statement.Principal.AWS\",\"value\":\"*\"}"
                          "]}," SUCCEEDED "]}}");
    return finish(&b, rc, err);
}

/* ---- API family ---- */

static const tk_tmpl_param_t P_ERR[] = {
    {"errors", "100", "failed API calls that raise the alert"},
    {"window", "10m", "within this time"},
    {NULL, NULL, NULL},
};

static char *b_errors(const char *const *v, char *err)
{
    long n;
    if (need_count("errors", v[0], &n, err) || need_duration("window", v[1], err))
        return NULL;
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    head(&b, "api-errors", "low", &rc);
    rc |= tk_buf_printf(&b, "{\"field\":\"errorCode\",\"op\":\"glob\",\"value\":\"?*\"},"
                            "\"threshold\":{\"count\":%ld,\"window\":\"%s\"},\"suppress\":\"%s\"}", n, v[1], v[1]);
    return finish(&b, rc, err);
}

static const tk_tmpl_param_t P_UNAUTH[] = {
    {"calls", "5", "unauthorized calls by one identity that raise the alert"},
    {"window", "10m", "within this time"},
    {NULL, NULL, NULL},
};

static char *b_unauth(const char *const *v, char *err)
{
    long n;
    if (need_count("calls", v[0], &n, err) || need_duration("window", v[1], err))
        return NULL;
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    head(&b, "unauthorized-api-calls", "medium", &rc);
    rc |= tk_buf_printf(&b, "{\"field\":\"errorCode\",\"op\":\"glob\",\"nocase\":true,\"values\":["
                            "\"*Forbidden*\",\"NoPermission*\",\"AccessDenied*\",\"*UnauthorizedOperation\",\"*Unauthorized*\"]},"
                            "\"threshold\":{\"count\":%ld,\"window\":\"%s\"},\"group_by\":[\"userIdentity.principalId\"],\"suppress\":\"%s\"}",
                        n, v[1], v[1]);
    return finish(&b, rc, err);
}

static const tk_tmpl_param_t P_SENS[] = {
    {"apis", "DeleteTrail,StopLogging,DeleteUser,DeleteRole,DeleteAccessKey,CreateUser,DeleteInstance,DeleteInstances,"
             "DeleteDBInstance,DeleteBucket,DeleteSecurityGroup,DeleteVpc,DeleteKey,ScheduleKeyDeletion,TerminateInstances,"
             "DeleteDBCluster,LeaveOrganization",
     "event names to alert on (comma-separated)"},
    {NULL, NULL, NULL},
};

static char *b_sensitive(const char *const *v, char *err)
{
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    if (!v[0][0]) {
        tk_errf(err, TK_EINVAL, "parameter apis is empty: give event names like DeleteTrail,StopLogging");
        return NULL;
    }
    head(&b, "sensitive-api", "medium", &rc);
    rc |= tk_buf_puts(&b, "{\"all\":[{\"field\":\"eventName\",\"values\":");
    rc |= put_list(&b, v[0]);
    rc |= tk_buf_puts(&b, "}," SUCCEEDED "]}}");
    return finish(&b, rc, err);
}

/* ---- Insights ---- */

#define INSIGHT_TYPES "ApiCallRateInsight,ApiErrorRateInsight,IpInsight,AkInsight,PolicyChangeInsight," \
                      "PasswordChangeInsight,TrailConcealmentInsight"

static const tk_tmpl_param_t P_INSIGHT[] = {
    {"types", INSIGHT_TYPES, "Insights types to alert on (comma-separated)"},
    {"severity", "high", "severity of the alerts (critical, high, medium, low, report)"},
    {NULL, NULL, NULL},
};

/* One alert per Insights incident: the Start record fires, grouped by
 * sharedEventId, and the End record of the same incident clears it. The
 * title and summary carry the record's own explanation, so a notice needs
 * no lookup to be understood. */
static char *b_insight(const char *const *v, char *err)
{
    tk_severity_t sev;
    if (tk_severity_parse(v[1], &sev)) {
        tk_errf(err, TK_EINVAL, "parameter severity='%s' must be critical, high, medium, low or report", v[1]);
        return NULL;
    }
    char *types = strdup(v[0]);
    if (!types) {
        tk_errf(err, TK_ENOMEM, "out of memory");
        return NULL;
    }
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(types, ", ", &save); t; t = strtok_r(NULL, ", ", &save), n++) {
        static const char *const known[] = {"ApiCallRateInsight", "ApiErrorRateInsight", "IpInsight", "AkInsight",
                                            "PolicyChangeInsight", "PasswordChangeInsight", "TrailConcealmentInsight"};
        int ok = 0;
        for (size_t k = 0; k < TK_ARRAY_LEN(known) && !ok; k++)
            ok = !strcmp(known[k], t);
        if (!ok) {
            tk_errf(err, TK_EINVAL, "parameter types: unknown Insights type '%s'; use any of " INSIGHT_TYPES, t);
            free(types);
            return NULL;
        }
    }
    free(types);
    if (!n) {
        tk_errf(err, TK_EINVAL, "parameter types is empty: give Insights types like IpInsight,AkInsight");
        return NULL;
    }
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    head(&b, "insight", tk_severity_name(sev), &rc);
    for (int side = 0; side < 2; side++) {
        if (side)
            rc |= tk_buf_puts(&b, ",\"clear_when\":");
        rc |= tk_buf_printf(&b, "{\"all\":[{\"field\":\"eventType\",\"values\":[\"ActionTrailInsight\","
                                "\"AwsCloudTrailInsight\"]},{\"field\":\"insightDetails.state\",\"value\":\"%s\"},"
                                "{\"field\":\"insightDetails.insightType\",\"values\":",
                            side ? "End" : "Start");
        rc |= put_list(&b, v[0]);
        rc |= tk_buf_puts(&b, "}]}");
    }
    rc |= tk_buf_puts(&b, ",\"group_by\":[\"sharedEventId\"],"
                          "\"title\":\"{insightDetails.insightType} {insightDetails.insightObject}: "
                          "{insightDetails.insightContext.statistics.insight.average}/min against a baseline of "
                          "{insightDetails.insightContext.statistics.baseline.average}/min "
                          "({insightDetails.insightContext.statistics.insightCount} events in "
                          "{insightDetails.insightContext.statistics.insightDuration} min)\","
                          "\"summary\":\"{insightDetails.explanation}\"}");
    return finish(&b, rc, err);
}

static const tk_template_t TEMPLATES[] = {
    {"consecutive-logon-failures", "N failed console sign-ins of one user within M minutes", TK_SEV_HIGH, P_FAIL, b_fail},
    {"root-logon", "the root account signed in to the console", TK_SEV_HIGH, P_NONE, b_root_logon},
    {"logon-unauthorized-ip", "console sign-in from an IP outside the CIDR allow list", TK_SEV_HIGH, P_IP, b_ip},
    {"logon-outside-hours", "console sign-in outside business hours (time zone, weekdays, hours, holidays)", TK_SEV_MEDIUM, P_HOURS, b_hours},
    {"ram-logon-without-mfa", "a RAM user signed in without MFA", TK_SEV_MEDIUM, P_NONE, b_nomfa},
    {"root-accesskey-used", "an API call signed with a root AccessKey", TK_SEV_CRITICAL, P_NONE, b_root_ak_used},
    {"root-accesskey-created", "an AccessKey was created for the root account", TK_SEV_CRITICAL, P_NONE, b_root_ak_created},
    {"abnormal-accesskey-usage", "one AccessKey made more than N calls within the window", TK_SEV_MEDIUM, P_AKUSE, b_ak_usage},
    {"ram-policy-changed", "a RAM/IAM policy or its attachment changed", TK_SEV_MEDIUM, P_NONE, b_policy},
    {"password-policy-weakened", "password policy set below length, with long or no expiry, or without reuse prevention", TK_SEV_HIGH, P_PWPOL, b_pwpol},
    {"password-changed-often", "one user's password changed or reset N times within the window", TK_SEV_MEDIUM, P_PWCHG, b_pwchg},
    {"mfa-deactivated", "an MFA device was unbound or deleted", TK_SEV_HIGH, P_NONE, b_mfa_off},
    {"trail-changed", "a trail was stopped, deleted or updated", TK_SEV_CRITICAL, P_NONE, b_trail},
    {"network-open-to-world", "security group or RDS whitelist opened to 0.0.0.0/0 or ::/0", TK_SEV_CRITICAL, P_NONE, b_world},
    {"vpc-route-or-flowlog-changed", "VPC route table or flow log changed", TK_SEV_MEDIUM, P_NONE, b_vpc},
    {"oss-bucket-public", "an OSS/S3 bucket ACL or policy made public", TK_SEV_HIGH, P_NONE, b_oss},
    {"api-errors", "more than N failed API calls in an account within the window", TK_SEV_LOW, P_ERR, b_errors},
    {"unauthorized-api-calls", "one identity made N unauthorized calls within the window", TK_SEV_MEDIUM, P_UNAUTH, b_unauth},
    {"sensitive-api", "a call to one of a list of sensitive APIs", TK_SEV_MEDIUM, P_SENS, b_sensitive},
    {"insight", "an Insights incident started (cleared when its End record arrives)", TK_SEV_HIGH, P_INSIGHT, b_insight},
};

const tk_template_t *tk_templates(size_t *n)
{
    *n = TK_ARRAY_LEN(TEMPLATES);
    return TEMPLATES;
}

const tk_template_t *tk_template_find(const char *name)
{
    for (size_t i = 0; i < TK_ARRAY_LEN(TEMPLATES); i++)
        if (!strcmp(TEMPLATES[i].name, name))
            return &TEMPLATES[i];
    return NULL;
}

static int hexv(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* URL-decodes s[0..n) into a new string ('+' is a space). */
static char *urldecode(const char *s, size_t n)
{
    char *o = malloc(n + 1), *w = o;
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
            *w++ = (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
            i += 2;
        } else {
            *w++ = s[i] == '+' ? ' ' : s[i];
        }
    }
    *w = 0;
    return o;
}

int tk_template_compile(const char *spec, tk_rule_t **out, char *err)
{
    const char *q = strchr(spec, '?');
    size_t nl = q ? (size_t)(q - spec) : strlen(spec);
    char name[128];
    if (nl >= sizeof name)
        return tk_errf(err, TK_ENOTFOUND, "unknown template (name too long); `trailkeep rules templates` lists them");
    memcpy(name, spec, nl);
    name[nl] = 0;
    const tk_template_t *t = tk_template_find(name);
    if (!t)
        return tk_errf(err, TK_ENOTFOUND, "unknown template '%s'; `trailkeep rules templates` lists them", name);
    size_t np = 0;
    while (t->params[np].name)
        np++;
    char **vals = calloc(np + 1, sizeof(char *));
    if (!vals)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    int rc = 0;
    const char *p = q ? q + 1 : "";
    while (*p && !rc) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (!eq) {
            rc = tk_errf(err, TK_EINVAL, "template %s: parameter '%.*s' needs =value", name, (int)n, p);
            break;
        }
        size_t kn = (size_t)(eq - p);
        size_t i;
        for (i = 0; i < np; i++)
            if (strlen(t->params[i].name) == kn && !memcmp(t->params[i].name, p, kn))
                break;
        if (i == np) {
            rc = tk_errf(err, TK_EINVAL, "template %s has no parameter '%.*s'%s", name, (int)kn, p,
                         np ? "; `trailkeep rules templates` lists its parameters" : " (it takes none)");
            break;
        }
        free(vals[i]);
        if (!(vals[i] = urldecode(eq + 1, n - kn - 1)))
            rc = tk_errf(err, TK_ENOMEM, "out of memory");
        p += n;
        if (*p == '&')
            p++;
    }
    const char **v = calloc(np + 1, sizeof(char *));
    if (!v && !rc)
        rc = tk_errf(err, TK_ENOMEM, "out of memory");
    char *json = NULL;
    if (!rc) {
        for (size_t i = 0; i < np; i++)
            v[i] = vals[i] ? vals[i] : t->params[i].def;
        json = t->build(v, err);
        if (!json)
            rc = TK_EINVAL;
    }
    tk_rule_t *r = NULL;
    if (!rc) {
        char e2[TK_ERRLEN];
        rc = tk_rule_from_json(json, strlen(json), &r, e2);
        if (rc)
            tk_errf(err, rc, "template %s: %s", name, e2);
    }
    if (!rc) {
        free(r->name);
        free(r->description);
        free(r->origin);
        size_t ol = strlen(spec) + 10;
        r->name = strdup(t->name);
        r->description = strdup(t->description);
        r->origin = malloc(ol);
        if (!r->name || !r->description || !r->origin) {
            rc = tk_errf(err, TK_ENOMEM, "out of memory");
        } else {
            snprintf(r->origin, ol, "template:%s", spec);
            /* a template used twice with different parameters keeps two ids */
            if (q) {
                char *id = malloc(strlen(spec) + 1);
                if (!id) {
                    rc = tk_errf(err, TK_ENOMEM, "out of memory");
                } else {
                    strcpy(id, spec);
                    free(r->id);
                    r->id = id;
                }
            }
        }
    }
    for (size_t i = 0; i < np; i++)
        free(vals[i]);
    free(vals);
    free(v);
    free(json);
    if (rc) {
        tk_rule_destroy(r);
        return rc;
    }
    *out = r;
    return 0;
}

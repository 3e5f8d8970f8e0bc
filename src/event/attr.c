/* trailkeep event: LookupAttribute names and the one list of sensitive APIs
 * (SPEC.md 1.1 sensitiveAction). The list holds ActionTrail and AWS names of
 * calls that weaken auditing, grant access or destroy data; keep it sorted
 * (a test checks) since lookup is a binary search. */
#include "event/event.h"
#include "event/parse.h"

#include "base/tk.h"

#include <string.h>

static const char *const k_attr_names[TK_ATTR__COUNT] = {
    [TK_ATTR_SERVICENAME] = "ServiceName",
    [TK_ATTR_EVENTNAME] = "EventName",
    [TK_ATTR_USER] = "User",
    [TK_ATTR_EVENTID] = "EventId",
    [TK_ATTR_RESOURCETYPE] = "ResourceType",
    [TK_ATTR_RESOURCENAME] = "ResourceName",
    [TK_ATTR_EVENTRW] = "EventRW",
    [TK_ATTR_ACCESSKEYID] = "EventAccessKeyId",
    [TK_ATTR_SENSITIVEACTION] = "SensitiveAction",
    [TK_ATTR_SOURCEIP] = "SourceIpAddress",
    [TK_ATTR_EVENTTYPE] = "EventType",
    [TK_ATTR_ROLENAME] = "RoleName",
    [TK_ATTR_EVENTSOURCE] = "EventSource",
};

const char *tk_attr_name(tk_attr_t a)
{
    if ((unsigned)a >= TK_ATTR__COUNT)
        return "Unknown";
    return k_attr_names[a];
}

int tk_attr_parse(const char *name, tk_attr_t *out)
{
    if (!name)
        return TK_EINVAL;
    for (int i = 0; i < TK_ATTR__COUNT; i++) {
        if (strcmp(name, k_attr_names[i]) == 0) {
            *out = (tk_attr_t)i;
            return 0;
        }
    }
    return TK_EINVAL;
}

/* Sorted (strcmp order). ActionTrail (Alibaba Cloud) and AWS API names. */
static const char *const k_sensitive[] = {
    "AttachGroupPolicy",
    "AttachPolicyToGroup",
    "AttachPolicyToRole",
    "AttachPolicyToUser",
    "AttachRolePolicy",
    "AttachUserPolicy",
    "AuthorizeSecurityGroup",
    "AuthorizeSecurityGroupEgress",
    "AuthorizeSecurityGroupIngress",
    "CreateAccessKey",
    "CreateLoginProfile",
    "CreatePolicyVersion",
    "DeactivateMFADevice",
    "DeleteAccessKey",
    "DeleteAccountPasswordPolicy",
    "DeleteBucket",
    "DeleteBucketPolicy",
    "DeleteConfigurationRecorder",
    "DeleteDBInstance",
    "DeleteDeliveryChannel",
    "DeleteDetector",
    "DeleteFlowLogs",
    "DeleteInstance",
    "DeleteInstances",
    "DeleteLoginProfile",
    "DeletePublicAccessBlock",
    "DeleteRole",
    "DeleteSecurityGroup",
    "DeleteTrail",
    "DeleteUser",
    "DeleteVirtualMFADevice",
    "DetachPolicyFromGroup",
    "DetachPolicyFromRole",
    "DetachPolicyFromUser",
    "DisableKey",
    "LeaveOrganization",
    "ModifyDBSnapshotAttribute",
    "ModifyImageAttribute",
    "ModifySecurityIps",
    "ModifySnapshotAttribute",
    "PutBucketAcl",
    "PutBucketPolicy",
    "PutEventSelectors",
    "PutGroupPolicy",
    "PutRolePolicy",
    "PutUserPolicy",
    "ReleaseInstance",
    "ScheduleKeyDeletion",
    "SetDefaultPolicyVersion",
    "SetPasswordPolicy",
    "SetSecurityPreference",
    "StopConfigurationRecorder",
    "StopLogging",
    "TerminateInstances",
    "UnbindMFADevice",
    "UpdateAccessKey",
    "UpdateAccountPasswordPolicy",
    "UpdateAssumeRolePolicy",
    "UpdateLoginProfile",
    "UpdatePasswordPolicy",
    "UpdateTrail",
};

size_t tk_event_sensitive_list(const char *const **out)
{
    *out = k_sensitive;
    return TK_ARRAY_LEN(k_sensitive);
}

/* The API name alone decides: the listed names do not collide across the
 * services we read, so service is accepted for future disambiguation only. */
int tk_event_is_sensitive(const char *service, size_t slen, const char *name, size_t nlen)
{
    (void)service;
    (void)slen;
    size_t lo = 0, hi = TK_ARRAY_LEN(k_sensitive);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *s = k_sensitive[mid];
        /* strncmp stops at the table entry's NUL: no strlen per probe; the
         * length decides only on a prefix match (a name may hold a NUL). */
        int c = strncmp(s, name, nlen);
        if (c == 0) {
            size_t sl = strlen(s);
            c = sl == nlen ? 0 : sl < nlen ? -1 : 1;
        }
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

int tk_event_account_ok(const char *p, size_t n)
{
    if (n == 0 || n > TK_EVENT_ACCOUNT_MAX)
        return 0;
    if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

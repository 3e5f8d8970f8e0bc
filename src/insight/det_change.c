/* trailkeep Insights detectors on control-plane changes, each one series per
 * account judged against how that account usually makes such changes:
 * PolicyChangeInsight (policy attach/detach/create/version, role trust),
 * PasswordChangeInsight (passwords and login profiles) and
 * TrailConcealmentInsight (logging stopped, trail deleted or narrowed).
 * Names cover ActionTrail (RAM) and CloudTrail (IAM) spellings. */
#include "insight/insight.h"

#include <stdio.h>
#include <string.h>

static int in_list(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(name, *list))
            return 1;
    return 0;
}

static int starts(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

/* RAM: AttachPolicyToUser/Group/Role, DetachPolicyFrom*, CreatePolicy(Version)...
 * IAM: AttachUserPolicy, PutRolePolicy, UpdateAssumeRolePolicy... */
static int is_policy_change(const char *n)
{
    static const char *const exact[] = {
        "CreatePolicy", "CreatePolicyVersion", "DeletePolicy", "DeletePolicyVersion",
        "SetDefaultPolicyVersion", "UpdateAssumeRolePolicy", "UpdateRole",
        "PutUserPermissionsBoundary", "PutRolePermissionsBoundary", NULL,
    };
    if (in_list(n, exact))
        return 1;
    if ((starts(n, "Attach") || starts(n, "Detach")) && strstr(n, "Polic"))
        return 1;
    size_t l = strlen(n);
    if ((starts(n, "Put") || starts(n, "Delete")) && l > 6 && !strcmp(n + l - 6, "Policy") &&
        (strstr(n, "User") || strstr(n, "Role") || strstr(n, "Group")))
        return 1;
    return 0;
}

static int is_password_change(const char *n)
{
    static const char *const exact[] = {
        "ChangePassword", "CreateLoginProfile", "UpdateLoginProfile", "DeleteLoginProfile",
        "SetPasswordPolicy", "UpdateAccountPasswordPolicy", "DeleteAccountPasswordPolicy",
        "ResetPassword", NULL,
    };
    return in_list(n, exact);
}

static int is_trail_change(const char *n)
{
    static const char *const exact[] = {
        "StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors",
        "DeleteEventDataStore", "StopEventDataStoreIngestion", "DeleteDeliveryHistory", NULL,
    };
    return in_list(n, exact);
}

static int one_key(tk_insight_key_t *keys, int max, const char *key)
{
    if (max < 1)
        return 0;
    snprintf(keys[0].key, sizeof keys[0].key, "%s", key);
    keys[0].weight = 1;
    return 1;
}

static int classify_policy(const tk_insight_obs_t *o, tk_insight_key_t *keys, int max)
{
    return is_policy_change(o->event_name) ? one_key(keys, max, "permission-changes") : 0;
}

static int classify_password(const tk_insight_obs_t *o, tk_insight_key_t *keys, int max)
{
    return is_password_change(o->event_name) ? one_key(keys, max, "password-changes") : 0;
}

/* Stopping or deleting what records the account outweighs routine edits:
 * one StopLogging counts as TRAIL_W_STOP UpdateTrails. */
#define TRAIL_W_STOP 10

static int classify_trail(const tk_insight_obs_t *o, tk_insight_key_t *keys, int max)
{
    if (!is_trail_change(o->event_name) || !one_key(keys, max, "trail-changes"))
        return 0;
    const char *n = o->event_name;
    if (!strcmp(n, "StopLogging") || !strcmp(n, "DeleteTrail") ||
        !strcmp(n, "DeleteEventDataStore") || !strcmp(n, "StopEventDataStoreIngestion"))
        keys[0].weight = TRAIL_W_STOP;
    return 1;
}

/* Sparse series: the floor is tiny, so changes in an account that never
 * makes them are significant, while an account that changes policies daily
 * needs a burst. k_events: 5 changes within 5 minutes make a spree; a session
 * of a few edits spread over a quarter of an hour does not. */
const tk_insight_detector_t tk_insight_det_policy = {
    .name = "PolicyChangeInsight",
    .summary = "permission changes (policies attached, detached, created; role trust) beyond "
               "the account's usual level",
    .object = "permission changes",
    .defaults = {.alpha = 1e-2, .k = 5, .m = 5, .close_quiet = 30, .min_count = 1,
                 .floor_rate = 1e-5, .sigma = 1, .min_history_h = 24, .k_events = 1,
                 .enabled = 1},
    .classify = classify_policy,
    .evaluate = tk_insight_series_evaluate,
};

const tk_insight_detector_t tk_insight_det_password = {
    .name = "PasswordChangeInsight",
    .summary = "password and login-profile changes beyond the account's usual level",
    .object = "password changes",
    .defaults = {.alpha = 1e-2, .k = 5, .m = 5, .close_quiet = 30, .min_count = 1,
                 .floor_rate = 1e-5, .sigma = 1, .min_history_h = 24, .k_events = 1,
                 .enabled = 1},
    .classify = classify_password,
    .evaluate = tk_insight_series_evaluate,
};

const tk_insight_detector_t tk_insight_det_trail = {
    .name = "TrailConcealmentInsight",
    .summary = "logging stopped, trails deleted or narrowed, beyond how the account usually "
               "manages its trails",
    .object = "trail changes",
    .defaults = {.alpha = 1e-4, .k = 1, .m = 1, .close_quiet = 30, .min_count = 3,
                 .floor_rate = 1e-5, .sigma = 1, .min_history_h = 24, .enabled = 1},
    .classify = classify_trail,
    .evaluate = tk_insight_series_evaluate,
};

/* trailkeep Insights detectors on actors: IpInsight (activity from a source
 * IP unusual for the account, weighted by what was done: writes, sensitive
 * APIs and failures weigh more than reads) and AkInsight (an AccessKey whose
 * call rate departs from its baseline, or a dormant or new key suddenly
 * busy). Temporary STS credentials change every session and are left out of
 * AkInsight: the role behind them is what IpInsight and the rate detectors see. */
#include "insight/insight.h"

#include <stdio.h>
#include <string.h>

/* Weights of IpInsight: a read is 1, a write 3, a sensitive API 5 more and a
 * failure 2 more. The test itself counts events (by_events): weights decide
 * which busy minutes matter (min_count), so two sensitive writes from a rare
 * IP are not, alone, a significant excess. */
#define IP_W_READ 1
#define IP_W_WRITE 3
#define IP_W_SENSITIVE 5
#define IP_W_ERROR 2

static int classify_ip(const tk_insight_obs_t *o, tk_insight_key_t *keys, int max)
{
    const char *ip = o->source_ip;
    if (max < 1 || !*ip || !strcmp(ip, "Internal"))
        return 0;
    /* Service-originated calls carry a host name ("ecs.aliyuncs.com"), not an address. */
    for (const char *p = ip; *p; p++)
        if ((*p >= 'g' && *p <= 'z') || (*p >= 'G' && *p <= 'Z'))
            return 0;
    snprintf(keys[0].key, sizeof keys[0].key, "%s", ip);
    uint32_t w = strcmp(o->event_rw, "Write") ? IP_W_READ : IP_W_WRITE;
    if (o->sensitive)
        w += IP_W_SENSITIVE;
    if (*o->error_code)
        w += IP_W_ERROR;
    keys[0].weight = w;
    return 1;
}

static int classify_ak(const tk_insight_obs_t *o, tk_insight_key_t *keys, int max)
{
    const char *ak = o->access_key;
    if (max < 1 || !*ak || !strncmp(ak, "STS.", 4) || !strncmp(ak, "ASIA", 4))
        return 0;
    snprintf(keys[0].key, sizeof keys[0].key, "%s", ak);
    keys[0].weight = 1;
    return 1;
}

const tk_insight_detector_t tk_insight_det_ip = {
    .name = "IpInsight",
    .summary = "a source IP doing more (weighted: writes, sensitive APIs, failures) than usual, "
               "or a new IP doing much",
    .object = "source IP",
    .defaults = {.alpha = 1e-4, .k = 2, .m = 10, .close_quiet = 30, .min_count = 6,
                 .floor_rate = 0.01, .sigma = 1, .min_history_h = 24, .by_events = 1,
                 .enabled = 1},
    .classify = classify_ip,
    .evaluate = tk_insight_series_evaluate,
};

const tk_insight_detector_t tk_insight_det_ak = {
    .name = "AkInsight",
    .summary = "an AccessKey calling far above its usual rate, or a new or dormant key "
               "suddenly active",
    .object = "AccessKey",
    .defaults = {.alpha = 1e-4, .k = 2, .m = 10, .close_quiet = 30, .min_count = 3,
                 .floor_rate = 0.01, .sigma = 1, .min_history_h = 24, .enabled = 1},
    .classify = classify_ak,
    .evaluate = tk_insight_series_evaluate,
};

/* trailkeep Insights detectors on API rates: ApiCallRateInsight (write calls
 * per Service:API far above their baseline, e.g. a mass DeleteInstance) and
 * ApiErrorRateInsight (failures per Service:API:errorCode, e.g. a script
 * looping on NoPermission or a password being guessed). Each is one const
 * descriptor; the shared engine in baseline.c judges their series. */
#include "insight/insight.h"

#include <stdio.h>
#include <string.h>

static int classify_call_rate(const tk_insight_obs_t *o, tk_insight_key_t *keys, int max)
{
    if (max < 1 || strcmp(o->event_rw, "Write") || !*o->event_name)
        return 0;
    snprintf(keys[0].key, sizeof keys[0].key, "%s:%s", o->service, o->event_name);
    keys[0].weight = 1;
    return 1;
}

static int classify_error_rate(const tk_insight_obs_t *o, tk_insight_key_t *keys, int max)
{
    if (max < 1 || !*o->error_code || !*o->event_name)
        return 0;
    snprintf(keys[0].key, sizeof keys[0].key, "%s:%s:%s", o->service, o->event_name,
             o->error_code);
    keys[0].weight = 1;
    return 1;
}

const tk_insight_detector_t tk_insight_det_api_call_rate = {
    .name = "ApiCallRateInsight",
    .summary = "write calls of one API (Service:API) far above that API's usual rate",
    .object = "API",
    .defaults = {.alpha = 1e-4, .k = 2, .m = 5, .close_quiet = 10, .min_count = 3,
                 .floor_rate = 0.01, .sigma = 1, .min_history_h = 24, .enabled = 1},
    .classify = classify_call_rate,
    .evaluate = tk_insight_series_evaluate,
};

const tk_insight_detector_t tk_insight_det_api_error_rate = {
    .name = "ApiErrorRateInsight",
    .summary = "failed calls of one API with one error code far above their usual rate",
    .object = "API and error code",
    .defaults = {.alpha = 1e-4, .k = 2, .m = 5, .close_quiet = 10, .min_count = 3,
                 .floor_rate = 0.01, .sigma = 1, .min_history_h = 24, .enabled = 1},
    .classify = classify_error_rate,
    .evaluate = tk_insight_series_evaluate,
};

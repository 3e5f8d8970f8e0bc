/* trailkeep Insights: the detector registry and its option table, a run
 * over one account (aggregate -> evaluate -> attributions), and the Insights
 * events in ActionTrail's shape. Everything a run emits is deterministic:
 * sharedEventId and eventId are hashes of (account, type, key, start), so
 * running again over the same history gives byte-identical events. */
#include "insight/insight.h"

#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const tk_insight_detector_t tk_insight_det_api_call_rate, tk_insight_det_api_error_rate,
    tk_insight_det_ip, tk_insight_det_ak, tk_insight_det_policy, tk_insight_det_password,
    tk_insight_det_trail;

const tk_insight_detector_t *const tk_insight_detectors[TK_INSIGHT_NDET] = {
    &tk_insight_det_api_call_rate, &tk_insight_det_api_error_rate, &tk_insight_det_ip,
    &tk_insight_det_ak, &tk_insight_det_policy, &tk_insight_det_password, &tk_insight_det_trail,
};

#define OPT(f) offsetof(tk_insight_knobs_t, f)
const tk_insight_opt_t tk_insight_opts[] = {
    {"alpha", OPT(alpha), 1e-12, 0.5,
     "per-minute significance: a minute is anomalous when P(X >= count | baseline) < alpha"},
    {"k", OPT(k), 1, 120, "anomalous minutes, among the last m, that open an incident"},
    {"m", OPT(m), 1, 120, "window (minutes) of the k-of-m rule"},
    {"close_quiet", OPT(close_quiet), 1, 1440,
     "minutes without an anomalous minute after which the incident ends"},
    {"min_count", OPT(min_count), 0, 1e9, "a minute below this (weighted) count is never anomalous"},
    {"floor_rate", OPT(floor_rate), 1e-9, 1e6,
     "expected per-minute rate of a series without history (new IP, new key)"},
    {"sigma", OPT(sigma), 0, 100,
     "robust spreads (1.4826 x MAD of the seasonal samples) added to the expected rate"},
    {"min_history_h", OPT(min_history_h), 0, 672,
     "hours of the account's history needed before anything is judged"},
    {"by_events", OPT(by_events), 0, 1,
     "1: the test counts events and weights only gate min_count; 0: the test counts weights"},
    {"k_events", OPT(k_events), 0, 1,
     "1: k counts events in the anomalous minutes of the window (a spree), 0: minutes"},
    {"enabled", OPT(enabled), 0, 1, "1 to run the detector, 0 to skip it"},
    {"net_min", OPT(net_min), 0, 1e6,
     "AkInsight: weighted calls (read 1, write 3) of a known key from a new network that "
     "open an incident; 0 turns the check off"},
    {"net_days", OPT(net_days), 1, 28,
     "AkInsight: days a key must have been active in the 28 before to have usual networks"},
    {"net_roam", OPT(net_roam), 0, 1e6,
     "AkInsight: networks taken up per active day (after its first net_days) above which a key "
     "roams (hosted CI: not judged by network)"},
};
const size_t tk_insight_nopts = TK_ARRAY_LEN(tk_insight_opts);

#define ATTR_BASE_MS (7 * TK_MS_PER_DAY)
#define HISTORY_MS (28 * TK_MS_PER_DAY)
#define MAX_TALLY 256

int tk_insight_detector_find(const char *name)
{
    for (int d = 0; d < TK_INSIGHT_NDET; d++)
        if (!strcmp(tk_insight_detectors[d]->name, name))
            return d;
    return -1;
}

void tk_insight_config_default(tk_insight_config_t *cfg)
{
    for (int d = 0; d < TK_INSIGHT_NDET; d++)
        cfg->knobs[d] = tk_insight_detectors[d]->defaults;
}

int tk_insight_config_set(tk_insight_config_t *cfg, const char *as, char *err)
{
    const char *dot = strchr(as, '.'), *eq = strchr(as, '=');
    if (!dot || !eq || eq < dot)
        return tk_errf(err, TK_EINVAL,
                       "'%s' is not Type.knob=value (e.g. IpInsight.alpha=1e-5, *.sigma=2)", as);
    char type[64], knob[64];
    snprintf(type, sizeof type, "%.*s", (int)(dot - as), as);
    snprintf(knob, sizeof knob, "%.*s", (int)(eq - dot - 1), dot + 1);
    int det = strcmp(type, "*") ? tk_insight_detector_find(type) : TK_INSIGHT_NDET;
    if (det < 0)
        return tk_errf(err, TK_EINVAL, "unknown Insights type '%s' (see trailkeep insights types)",
                       type);
    const tk_insight_opt_t *opt = NULL;
    for (size_t i = 0; i < tk_insight_nopts; i++)
        if (!strcmp(tk_insight_opts[i].name, knob))
            opt = &tk_insight_opts[i];
    if (!opt)
        return tk_errf(err, TK_EINVAL, "unknown knob '%s' (see trailkeep insights types)", knob);
    char *end;
    errno = 0;
    double v = strtod(eq + 1, &end);
    if (errno || end == eq + 1 || *end || v < opt->lo || v > opt->hi)
        return tk_errf(err, TK_EINVAL, "%s must be a number in [%g, %g], got '%s'", knob, opt->lo,
                       opt->hi, eq + 1);
    for (int d = 0; d < TK_INSIGHT_NDET; d++)
        if (det == TK_INSIGHT_NDET || det == d)
            *(double *)((char *)&cfg->knobs[d] + opt->off) = v;
    return 0;
}

static void incident_free(tk_insight_incident_t *in)
{
    if (!in)
        return;
    free(in->key_owned);
    for (int a = 0; a < TK_INSIGHT_ATTRS; a++) {
        for (size_t i = 0; i < in->ntally[a]; i++)
            free(in->tally[a][i].value);
        free(in->tally[a]);
    }
}

void tk_insight_result_free(tk_insight_result_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->inc.n; i++)
        incident_free(&r->inc.v[i]);
    free(r->inc.v);
    memset(&r->inc, 0, sizeof r->inc);
}

/* A v4-shaped UUID from a hash of text: stable across runs. */
static void uuid_from(const char *text, char out[37])
{
    uint8_t h[32];
    tk_sha256(text, strlen(text), h);
    h[6] = (uint8_t)((h[6] & 0x0f) | 0x40);
    h[8] = (uint8_t)((h[8] & 0x3f) | 0x80);
    char hex[65];
    tk_hex(h, 16, hex);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static int cmp_incident(const void *a, const void *b)
{
    const tk_insight_incident_t *x = a, *y = b;
    if (x->start_min != y->start_min)
        return x->start_min < y->start_min ? -1 : 1;
    if (x->det != y->det)
        return x->det < y->det ? -1 : 1;
    return strcmp(x->key, y->key);
}

static uint32_t ms_to_min_ceil(int64_t ms)
{
    if (ms <= 0)
        return 0;
    int64_t m = (ms + 59999) / 60000;
    return m > UINT32_MAX ? UINT32_MAX : (uint32_t)m;
}

int tk_insight_evaluate(const tk_insight_agg_t *a, const char *account,
                        const tk_insight_config_t *cfg, int64_t from_ms, int64_t until_ms,
                        tk_insight_result_t *r, char *err)
{
    memset(r, 0, sizeof *r);
    snprintf(r->account, sizeof r->account, "%s", account);
    if (cfg)
        r->cfg = *cfg;
    else
        tk_insight_config_default(&r->cfg);
    if (!tk_insight_agg_nseries(a))
        return 0;
    r->hist_start_min = tk_insight_agg_first_minute(a);
    uint32_t from = ms_to_min_ceil(from_ms);
    r->until_min = until_ms == INT64_MAX ? tk_insight_agg_last_minute(a) + 1
                                         : ms_to_min_ceil(until_ms);
    for (size_t i = 0; i < tk_insight_agg_nseries(a); i++) {
        const tk_insight_series_t *s = tk_insight_agg_series(a, i);
        const tk_insight_knobs_t *kn = &r->cfg.knobs[s->det];
        const tk_insight_detector_t *d = tk_insight_detectors[s->det];
        if (kn->enabled == 0 || d->evaluate_all)
            continue;
        int rc = d->evaluate(d, kn, s, r->hist_start_min, from, r->until_min, &r->inc);
        if (rc)
            return tk_errf(err, rc, "insights: out of memory evaluating account %s", account);
    }
    /* Detectors whose series are judged together (AkInsight: a key's networks). */
    for (int det = 0; det < TK_INSIGHT_NDET; det++) {
        const tk_insight_detector_t *d = tk_insight_detectors[det];
        if (!d->evaluate_all || r->cfg.knobs[det].enabled == 0)
            continue;
        int rc = d->evaluate_all(d, det, &r->cfg.knobs[det], a, r->hist_start_min, from,
                                 r->until_min, &r->inc);
        if (rc)
            return tk_errf(err, rc, "insights: out of memory evaluating account %s", account);
    }
    for (size_t i = 0; i < r->inc.n; i++) {
        tk_insight_incident_t *in = &r->inc.v[i];
        in->key_owned = strdup(in->key);
        if (!in->key_owned) {
            for (size_t j = i; j < r->inc.n; j++)
                r->inc.v[j].key_owned = NULL;
            tk_insight_result_free(r);
            return tk_errf(err, TK_ENOMEM, "insights: out of memory");
        }
        in->key = in->key_owned;
        char text[512];
        snprintf(text, sizeof text, "%s|%s|%s|%u", account, tk_insight_detectors[in->det]->name,
                 in->key, in->start_min);
        uuid_from(text, in->shared_id);
    }
    if (r->inc.n)
        qsort(r->inc.v, r->inc.n, sizeof *r->inc.v, cmp_incident);
    return 0;
}

/* ---- attributions ---- */

static const char *const attr_names[TK_INSIGHT_ATTRS] = {
    "userIdentity", "sourceIpAddress", "accessKeyId", "eventName", "userAgent",
};

const char *tk_insight_attr_name(int a)
{
    return a >= 0 && a < TK_INSIGHT_ATTRS ? attr_names[a] : "";
}

static uint32_t incident_end(const tk_insight_result_t *r, const tk_insight_incident_t *in)
{
    return in->open ? r->until_min : in->end_min;
}

void tk_insight_attr_window(const tk_insight_result_t *r, int64_t *start_ms, int64_t *end_ms)
{
    int64_t s = INT64_MAX, e = INT64_MIN;
    for (size_t i = 0; i < r->inc.n; i++) {
        const tk_insight_incident_t *in = &r->inc.v[i];
        int64_t a = (int64_t)in->start_min * 60000 - ATTR_BASE_MS;
        int64_t b = (int64_t)incident_end(r, in) * 60000 - 1;
        if (a < (int64_t)r->hist_start_min * 60000)
            a = (int64_t)r->hist_start_min * 60000;
        if (a < s)
            s = a;
        if (b > e)
            e = b;
    }
    *start_ms = s;
    *end_ms = e;
}

/* which: 0 baseline, 1 insight, 2 insight up to detection. */
static int tally(tk_insight_incident_t *in, int a, const char *value, int which)
{
    if (!*value)
        return 0;
    tk_insight_tally_t *t = NULL;
    for (size_t i = 0; i < in->ntally[a]; i++)
        if (!strcmp(in->tally[a][i].value, value)) {
            t = &in->tally[a][i];
            break;
        }
    if (!t && in->ntally[a] >= MAX_TALLY) {
        /* Bounded memory: rare values beyond the cap share one row. */
        value = "(other)";
        for (size_t i = 0; i < in->ntally[a]; i++)
            if (!strcmp(in->tally[a][i].value, value))
                t = &in->tally[a][i];
    }
    if (!t) {
        tk_insight_tally_t *p = realloc(in->tally[a], (in->ntally[a] + 1) * sizeof *p);
        if (!p)
            return TK_ENOMEM;
        in->tally[a] = p;
        t = &p[in->ntally[a]];
        memset(t, 0, sizeof *t);
        if (!(t->value = strdup(value)))
            return TK_ENOMEM;
        in->ntally[a]++;
    }
    if (which == 0)
        t->baseline++;
    else
        t->insight++;
    if (which == 2)
        t->at_detect++;
    return 0;
}

int tk_insight_attr_add(tk_insight_result_t *r, const tk_insight_obs_t *o)
{
    if (!r->inc.n || o->time_ms < 0 || !strcmp(o->event_type, "ActionTrailInsight"))
        return 0;
    uint32_t m = (uint32_t)(o->time_ms / 60000);
    unsigned dets = 0;
    for (size_t i = 0; i < r->inc.n; i++)
        dets |= 1u << r->inc.v[i].det;
    tk_insight_key_t keys[4];
    for (int d = 0; d < TK_INSIGHT_NDET; d++) {
        if (!(dets & (1u << d)))
            continue;
        int nk = tk_insight_detectors[d]->classify(o, keys, (int)TK_ARRAY_LEN(keys));
        for (int k = 0; k < nk; k++) {
            for (size_t i = 0; i < r->inc.n; i++) {
                tk_insight_incident_t *in = &r->inc.v[i];
                if (in->det != d || strcmp(in->key, keys[k].key))
                    continue;
                uint32_t base_min = in->start_min - (uint32_t)(ATTR_BASE_MS / 60000);
                if (in->start_min < r->hist_start_min + ATTR_BASE_MS / 60000)
                    base_min = r->hist_start_min;
                in->attr_base_minutes = in->start_min - base_min;
                int which;
                if (m >= in->start_min && m < incident_end(r, in))
                    which = m <= in->detect_min ? 2 : 1;
                else if (m >= base_min && m < in->start_min)
                    which = 0;
                else
                    continue;
                if (which == 0)
                    in->base_events++;
                const char *vals[TK_INSIGHT_ATTRS] = {o->user, o->source_ip, o->access_key,
                                                       o->event_name, o->user_agent};
                for (int a = 0; a < TK_INSIGHT_ATTRS; a++) {
                    int rc = tally(in, a, vals[a], which);
                    if (rc)
                        return rc;
                }
            }
        }
    }
    return 0;
}

typedef struct attr_ctx {
    tk_insight_result_t *r;
    int rc;
} attr_ctx_t;

static int attr_cb(void *ud, const tk_stored_event_t *ev)
{
    attr_ctx_t *c = ud;
    tk_insight_obs_t o;
    cJSON *doc = NULL;
    if (tk_insight_obs_from_json(ev->json.p, ev->json.len, ev->time_ms, &o, &doc))
        return 0;
    c->rc = tk_insight_attr_add(c->r, &o);
    cJSON_Delete(doc);
    return c->rc ? 1 : 0;
}

int tk_insight_run_account(tk_store_t *s, const char *account, const tk_insight_config_t *cfg,
                           int64_t since_ms, int64_t until_ms, tk_insight_result_t *r, char *err)
{
    memset(r, 0, sizeof *r);
    tk_insight_agg_t *a = tk_insight_agg_create(cfg);
    if (!a)
        return tk_errf(err, TK_ENOMEM, "insights: out of memory");
    int64_t hist = since_ms > INT64_MIN + HISTORY_MS ? since_ms - HISTORY_MS : 0;
    if (hist < 0)
        hist = 0;
    int64_t last = until_ms == INT64_MAX ? INT64_MAX : until_ms - 1;
    int rc = tk_insight_agg_rebuild(a, s, account, hist, last, err);
    if (!rc)
        rc = tk_insight_evaluate(a, account, cfg, since_ms < 0 ? 0 : since_ms, until_ms, r, err);
    tk_insight_agg_destroy(a);
    if (rc || !r->inc.n)
        return rc;
    return tk_insight_attr_from_store(r, s, err);
}

int tk_insight_attr_from_store(tk_insight_result_t *r, tk_store_t *s, char *err)
{
    if (!r->inc.n)
        return 0;
    tk_lookup_req_t req;
    memset(&req, 0, sizeof req);
    req.account = r->account;
    tk_insight_attr_window(r, &req.start_ms, &req.end_ms);
    req.forward = 1;
    attr_ctx_t c = {r, 0};
    int rc = tk_store_lookup(s, &req, attr_cb, &c, err);
    if (c.rc)
        return tk_errf(err, c.rc, "insights: out of memory while attributing account %s",
                       r->account);
    return rc < 0 ? rc : 0;
}

/* ---- rendering ---- */

typedef struct ranked {
    const tk_insight_tally_t *t;
    uint64_t n;
} ranked_t;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked_t *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return strcmp(x->t->value, y->t->value);
}

/* Top values of attribute a by the chosen count; returns how many (<= TOP). */
static size_t top_values(const tk_insight_incident_t *in, int a, int which, ranked_t *out)
{
    ranked_t *all = malloc((in->ntally[a] + 1) * sizeof *all);
    if (!all)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < in->ntally[a]; i++) {
        const tk_insight_tally_t *t = &in->tally[a][i];
        uint64_t c = which == 0 ? t->baseline : which == 2 ? t->at_detect : t->insight;
        if (c)
            all[n++] = (ranked_t){t, c};
    }
    qsort(all, n, sizeof *all, cmp_ranked);
    if (n > TK_INSIGHT_TOP)
        n = TK_INSIGHT_TOP;
    memcpy(out, all, n * sizeof *out);
    free(all);
    return n;
}

static void put_num(tk_buf_t *b, double v)
{
    tk_buf_printf(b, "%.6g", v);
}

/* Per-incident figures for the Start (at detection) or End (whole) record. */
static void figures(const tk_insight_incident_t *in, const tk_insight_result_t *r, int end_state,
                    uint32_t *dur, uint64_t *events, double *avg)
{
    if (end_state) {
        *dur = incident_end(r, in) - in->start_min;
        *events = in->events;
        *avg = *dur ? (double)in->weight / *dur : 0;
    } else {
        *dur = in->detect_min - in->start_min + 1;
        *events = in->events_at_detect;
        *avg = (double)in->weight_at_detect / *dur;
    }
}

/* The sentence as of the Start (what was known at detection) or the End. */
static int explain_as(const tk_insight_result_t *r, size_t i, int end_state, tk_buf_t *out)
{
    const tk_insight_incident_t *in = &r->inc.v[i];
    const tk_insight_detector_t *d = tk_insight_detectors[in->det];
    uint32_t dur;
    uint64_t events;
    double avg;
    figures(in, r, end_state, &dur, &events, &avg);
    double base = end_state ? in->baseline_avg : in->baseline_avg_detect;
    int which = end_state ? 1 : 2;
    char when[32];
    tk_time_format((int64_t)in->start_min * 60000, 0, when);
    /* Single-series detectors key on their object ("trail-changes"): say it once. */
    int same = strlen(d->object) == strlen(in->key);
    for (size_t j = 0; same && d->object[j]; j++)
        same = d->object[j] == in->key[j] || (d->object[j] == ' ' && in->key[j] == '-');
    tk_buf_printf(out, "%s: %s%s%s at %.3g/min against a baseline of %.3g/min (%llu events in %u min from %s)",
                  d->name, d->object, same ? "" : " ", same ? "" : in->key, avg, base,
                  (unsigned long long)events, dur, when);
    static const char *const label[TK_INSIGHT_ATTRS] = {"user", "IP", "AccessKey", "API", "agent"};
    const char *sep = "; mostly ";
    for (int a = 0; a < 4; a++) {
        ranked_t top[TK_INSIGHT_TOP];
        size_t n = top_values(in, a, which, top);
        if (!n)
            continue;
        uint64_t total = 0;
        for (size_t j = 0; j < in->ntally[a]; j++)
            total += end_state ? in->tally[a][j].insight : in->tally[a][j].at_detect;
        uint64_t base = 0;
        for (size_t j = 0; j < in->ntally[a]; j++)
            if (!strcmp(in->tally[a][j].value, top[0].t->value))
                base = in->tally[a][j].baseline;
        tk_buf_printf(out, "%s%s %s (%.0f%%%s)", sep, label[a], top[0].t->value,
                      100.0 * (double)top[0].n / (double)(total ? total : 1),
                      base ? "" : ", not seen in the baseline week");
        sep = ", ";
    }
    return tk_buf_putc(out, '.');
}

int tk_insight_explain(const tk_insight_result_t *r, size_t i, tk_buf_t *out)
{
    return explain_as(r, i, !r->inc.v[i].open, out);
}

int tk_insight_render(const tk_insight_result_t *r, size_t i, int end_state, tk_buf_t *b)
{
    if (i >= r->inc.n)
        return TK_EINVAL;
    const tk_insight_incident_t *in = &r->inc.v[i];
    if (end_state && in->open)
        return TK_EINVAL;
    const tk_insight_detector_t *d = tk_insight_detectors[in->det];
    uint32_t dur;
    uint64_t events;
    double avg;
    figures(in, r, end_state, &dur, &events, &avg);
    char when[32], id[37], text[128];
    uint32_t at = end_state ? in->end_min : in->start_min;
    tk_time_format((int64_t)at * 60000, 0, when);
    snprintf(text, sizeof text, "%s|%s", in->shared_id, end_state ? "End" : "Start");
    uuid_from(text, id);
    tk_buf_puts(b, "{\"eventVersion\":\"1\",\"eventId\":");
    tk_buf_put_json_str(b, id, strlen(id));
    tk_buf_printf(b, ",\"eventTime\":\"%s\",\"eventType\":\"ActionTrailInsight\","
                     "\"eventCategory\":\"Insight\",\"eventSource\":\"insights.trailkeep\","
                     "\"serviceName\":\"ActionTrail\",\"eventName\":\"%s\",\"recipientAccountId\":",
                  when, d->name);
    tk_buf_put_json_str(b, r->account, strlen(r->account));
    tk_buf_printf(b, ",\"sharedEventId\":\"%s\",\"insightDetails\":{\"state\":\"%s\","
                     "\"insightType\":\"%s\",\"insightObject\":",
                  in->shared_id, end_state ? "End" : "Start", d->name);
    tk_buf_put_json_str(b, in->key, strlen(in->key));
    tk_buf_puts(b, ",\"insightContext\":{\"statistics\":{\"insight\":{\"average\":");
    put_num(b, avg);
    tk_buf_printf(b, "},\"insightDuration\":%u,\"baseline\":{\"average\":", dur);
    put_num(b, end_state ? in->baseline_avg : in->baseline_avg_detect);
    tk_buf_printf(b, "},\"baselineDuration\":%u,\"insightCount\":%llu},\"attributions\":[",
                  in->baseline_minutes, (unsigned long long)events);
    for (int a = 0; a < TK_INSIGHT_ATTRS; a++) {
        tk_buf_printf(b, "%s{\"attribute\":\"%s\"", a ? "," : "", attr_names[a]);
        for (int side = 0; side < 2; side++) {
            ranked_t top[TK_INSIGHT_TOP];
            int which = side ? 0 : end_state ? 1 : 2;
            size_t n = top_values(in, a, which, top);
            double mins = side ? in->attr_base_minutes : dur;
            tk_buf_printf(b, ",\"%s\":[", side ? "baseline" : "insight");
            for (size_t j = 0; j < n; j++) {
                tk_buf_puts(b, j ? ",{\"value\":" : "{\"value\":");
                tk_buf_put_json_str(b, top[j].t->value, strlen(top[j].t->value));
                tk_buf_puts(b, ",\"average\":");
                put_num(b, mins > 0 ? (double)top[j].n / mins : 0);
                tk_buf_putc(b, '}');
            }
            tk_buf_putc(b, ']');
        }
        tk_buf_putc(b, '}');
    }
    tk_buf_puts(b, "]},\"explanation\":");
    tk_buf_t ex = TK_BUF_INIT;
    explain_as(r, i, end_state, &ex);
    tk_buf_put_json_str(b, ex.p ? ex.p : "", ex.len);
    tk_buf_free(&ex);
    return tk_buf_puts(b, "}}");
}

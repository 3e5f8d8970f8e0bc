/* trailkeep Insights baselines: what a series normally does in a given hour,
 * learnt from up to 28 days before that hour, and the rule that turns a
 * significant, sustained deviation into exactly one incident.
 * Expected rate of hour h: the median of the same hour-of-week in earlier
 * weeks (with >= 2 of them) or of the same hour-of-day in earlier days,
 * never below the series' mean over the window (sparse series have a median
 * of 0) nor the detector's floor. A minute is anomalous when its count is
 * improbable under Poisson(expected + sigma * spread), made quasi-Poisson by
 * the series' own dispersion (variance/mean of its per-minute counts within
 * each hour, pooled over the window): bursty or weighted series need a
 * proportionally larger excess.
 * k anomalous minutes of the last m open an incident, close_quiet calm
 * minutes close it. */
#include "insight/insight.h"

#include "base/tk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HOURS_WINDOW (28 * 24)
#define HOURS_WEEK (7 * 24)
#define MAX_M 120
#define MAX_PHI 100.0
#define PHI_PRIOR 200.0 /* counts at which the measured dispersion gets half its weight */

double tk_insight_poisson_log10_sf(double c, double lambda)
{
    if (c <= 0)
        return 0;
    if (lambda <= 0)
        return -300;
    if (c > lambda) {
        /* Tail from pmf(c) upward: the terms shrink by lambda/(c+i) < 1. */
        double logpmf = -lambda + c * log(lambda) - lgamma(c + 1);
        double sum = 1, term = 1;
        for (int i = 1; i < 100000; i++) {
            term *= lambda / (c + i);
            sum += term;
            if (term < 1e-15 * sum)
                break;
        }
        double r = (logpmf + log(sum)) / M_LN10;
        return r < -300 ? -300 : r;
    }
    /* c <= lambda: 1 - P(X < c); never anomalous, computed for completeness. */
    double cdf = 0;
    for (double i = 0; i < c; i++)
        cdf += exp(-lambda + i * log(lambda) - lgamma(i + 1));
    double sf = 1 - cdf;
    return sf < 1e-300 ? -300 : log10(sf);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double tk_insight_median(double *x, size_t n)
{
    if (!n)
        return 0;
    qsort(x, n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

double tk_insight_mad(double *x, size_t n, double median)
{
    if (!n)
        return 0;
    double *d = malloc(n * sizeof *d);
    if (!d)
        return 0;
    for (size_t i = 0; i < n; i++)
        d[i] = fabs(x[i] - median);
    double r = tk_insight_median(d, n);
    free(d);
    return r;
}

/* Per-series evaluation state: hourly totals and the lazily computed
 * expected rates of each hour. */
typedef struct eval {
    const tk_insight_knobs_t *kn;
    uint32_t h0, nh;       /* first hour (since epoch) and number of hours */
    double *hw;            /* weighted count per hour */
    double *prefix;        /* prefix[i] = sum hw[0..i) */
    double *within;        /* within[i] = sum over hours [0, i) of sum (c - hour mean)^2 */
    double *phi;           /* dispersion of hour i's window (>= 1) */
    double *test;          /* per-minute rate the Poisson test uses; NAN = not computed */
    double *expect;        /* per-minute rate reported as the baseline */
} eval_t;

static void hour_rates(eval_t *e, uint32_t i)
{
    if (!isnan(e->test[i]))
        return;
    uint32_t lo = i > HOURS_WINDOW ? i - HOURS_WINDOW : 0;
    double samples[32];
    size_t ns = 0;
    for (uint32_t w = 1; w <= 4 && i >= w * HOURS_WEEK && i - w * HOURS_WEEK >= lo; w++)
        samples[ns++] = e->hw[i - w * HOURS_WEEK];
    if (ns < 2) {
        /* Less than two weeks: daily seasonality only. */
        ns = 0;
        for (uint32_t d = 1; d <= 27 && i >= d * 24 && i - d * 24 >= lo; d++)
            samples[ns++] = e->hw[i - d * 24];
    }
    double med = tk_insight_median(samples, ns);
    double spread = 1.4826 * tk_insight_mad(samples, ns, med);
    double mean = i > lo ? (e->prefix[i] - e->prefix[lo]) / (double)(i - lo) : 0;
    double hour = med > mean ? med : mean;
    double fl = e->kn->floor_rate;
    double ex = hour / 60, te = (hour + e->kn->sigma * spread) / 60;
    e->expect[i] = ex > fl ? ex : fl;
    e->test[i] = te > fl ? te : fl;
    /* Dispersion within hours (variance around each hour's own mean, pooled):
     * a daily peak is seasonality, not burstiness, and must not blunt the test. */
    /* Shrunk towards 1 by the evidence behind it: one past burst of 60
     * events must not make a quiet series look bursty for 28 days (and so
     * hide the next attack), while thousands of events of a bursty CI job
     * keep their dispersion. */
    e->phi[i] = 1;
    double s1 = e->prefix[i] - e->prefix[lo], w = e->within[i] - e->within[lo];
    if (s1 > 0 && w > s1) {
        double raw = w / s1 > MAX_PHI ? MAX_PHI : w / s1;
        e->phi[i] = 1 + (raw - 1) * s1 / (s1 + PHI_PRIOR);
    }
}

static size_t lower_bound(const tk_insight_series_t *s, uint32_t m)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->pts[mid].minute < m)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Fills the incident's sums over [start, end) and [start, detect]. */
static void incident_sums(eval_t *e, const tk_insight_series_t *s, tk_insight_incident_t *in,
                          uint32_t end)
{
    for (size_t j = lower_bound(s, in->start_min); j < s->n && s->pts[j].minute < end; j++) {
        uint32_t v = e->kn->by_events ? s->pts[j].events : s->pts[j].weight;
        in->events += s->pts[j].events;
        in->weight += v;
        if (s->pts[j].minute <= in->detect_min) {
            in->events_at_detect += s->pts[j].events;
            in->weight_at_detect += v;
        }
    }
    double sum = 0;
    for (uint32_t m = in->start_min; m < end; m++) {
        uint32_t i = m / 60 - e->h0;
        hour_rates(e, i);
        sum += e->expect[i];
        if (m == in->detect_min)
            in->baseline_avg_detect = sum / (m - in->start_min + 1);
    }
    in->baseline_avg = end > in->start_min ? sum / (end - in->start_min) : 0;
    uint32_t hist_h = (in->start_min / 60) - e->h0;
    in->baseline_minutes = (hist_h > HOURS_WINDOW ? HOURS_WINDOW : hist_h) * 60;
}

int tk_insight_inclist_push(tk_insight_inclist_t *out, const tk_insight_incident_t *in)
{
    if (out->n == out->cap) {
        size_t nc = out->cap ? out->cap * 2 : 16;
        tk_insight_incident_t *p = realloc(out->v, nc * sizeof *p);
        if (!p)
            return TK_ENOMEM;
        out->v = p;
        out->cap = nc;
    }
    out->v[out->n++] = *in;
    return 0;
}

int tk_insight_series_evaluate(const tk_insight_detector_t *d, const tk_insight_knobs_t *kn,
                               const tk_insight_series_t *s, uint32_t hist_start_min,
                               uint32_t from_min, uint32_t until_min, tk_insight_inclist_t *out)
{
    (void)d;
    uint32_t judge = hist_start_min + (uint32_t)(kn->min_history_h * 60);
    if (judge < from_min)
        judge = from_min;
    if (!s->n || judge >= until_min)
        return 0;
    size_t first = lower_bound(s, judge);
    if (first == s->n || s->pts[first].minute >= until_min)
        return 0; /* nothing to judge: no allocation for the many quiet series */
    eval_t e = {.kn = kn, .h0 = hist_start_min / 60};
    e.nh = (until_min - 1) / 60 - e.h0 + 1;
    e.hw = calloc(e.nh, sizeof *e.hw);
    e.prefix = malloc((e.nh + 1) * sizeof *e.prefix);
    e.within = calloc(e.nh + 1, sizeof *e.within);
    e.phi = malloc(e.nh * sizeof *e.phi);
    e.test = malloc(e.nh * sizeof *e.test);
    e.expect = malloc(e.nh * sizeof *e.expect);
    int rc = TK_ENOMEM;
    if (!e.hw || !e.prefix || !e.within || !e.phi || !e.test || !e.expect)
        goto done;
    for (size_t j = 0; j < s->n && s->pts[j].minute < until_min; j++)
        if (s->pts[j].minute >= hist_start_min) {
            uint32_t hi = s->pts[j].minute / 60 - e.h0;
            double w = kn->by_events ? s->pts[j].events : s->pts[j].weight;
            e.hw[hi] += w;
            e.within[hi + 1] += w * w; /* squares per hour, made within-hour below */
        }
    e.prefix[0] = 0;
    for (uint32_t i = 0; i < e.nh; i++) {
        e.prefix[i + 1] = e.prefix[i] + e.hw[i];
        /* sum (c - mean)^2 over the hour's 60 minutes = sum c^2 - S^2 / 60 */
        e.within[i + 1] += e.within[i] - e.hw[i] * e.hw[i] / 60;
        e.test[i] = NAN;
    }
    double log_alpha = log10(kn->alpha);
    uint32_t m = kn->m < 1 ? 1 : kn->m > MAX_M ? MAX_M : (uint32_t)kn->m;
    uint32_t k = kn->k < 1 ? 1 : (uint32_t)kn->k;
    if (!kn->k_events && k > m)
        k = m;
    uint32_t quiet = kn->close_quiet < 1 ? 1 : (uint32_t)kn->close_quiet;
    uint32_t recent[MAX_M], recent_n[MAX_M]; /* anomalous minutes in the window, their events */
    uint32_t nrecent = 0, last_anom = 0;
    int open = 0;
    double minlogp = 0;
    tk_insight_incident_t in;
    rc = 0;
    for (size_t j = first; j < s->n && s->pts[j].minute < until_min && !rc; j++) {
        uint32_t t = s->pts[j].minute;
        if (open && t >= last_anom + quiet) {
            incident_sums(&e, s, &in, last_anom + 1);
            in.end_min = last_anom + 1;
            in.max_logp = minlogp;
            rc = tk_insight_inclist_push(out, &in);
            open = 0;
            nrecent = 0;
        }
        if (s->pts[j].weight < kn->min_count)
            continue;
        double c = kn->by_events ? s->pts[j].events : s->pts[j].weight;
        uint32_t hi = t / 60 - e.h0;
        hour_rates(&e, hi);
        double lp = tk_insight_poisson_log10_sf(c / e.phi[hi], e.test[hi] / e.phi[hi]);
        if (lp >= log_alpha)
            continue;
        uint32_t keep = 0, held = 0;
        for (uint32_t r = 0; r < nrecent; r++)
            if (recent[r] + m > t) {
                recent_n[keep] = recent_n[r];
                recent[keep++] = recent[r];
            }
        nrecent = keep;
        recent_n[nrecent] = s->pts[j].events;
        recent[nrecent++] = t;
        for (uint32_t r = 0; r < nrecent; r++)
            held += kn->k_events ? recent_n[r] : 1;
        if (open) {
            last_anom = t;
            if (lp < minlogp)
                minlogp = lp;
        } else if (held >= k) {
            memset(&in, 0, sizeof in);
            in.det = s->det;
            in.key = s->key;
            in.start_min = recent[0];
            in.detect_min = t;
            open = 1;
            last_anom = t;
            minlogp = lp;
        }
    }
    if (!rc && open) {
        if (until_min >= last_anom + quiet) {
            incident_sums(&e, s, &in, last_anom + 1);
            in.end_min = last_anom + 1;
        } else {
            incident_sums(&e, s, &in, until_min);
            in.open = 1;
        }
        in.max_logp = minlogp;
        rc = tk_insight_inclist_push(out, &in);
    }
done:
    free(e.hw);
    free(e.prefix);
    free(e.within);
    free(e.phi);
    free(e.test);
    free(e.expect);
    return rc;
}

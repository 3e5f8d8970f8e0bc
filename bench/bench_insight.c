/* bench_insight: accuracy of the Insights detectors on generated traffic.
 * For each seed, `trailkeep gen`'s generator writes weeks of benign activity
 * (office hours, quiet weekends) with labelled attack scenarios and the
 * Insights scenarios (password-reset spree, permission escalation, error
 * storm, AccessKey leak from a new IP, a person's AccessKey used as usual
 * from a new network); the benign traffic roams (away days, DHCP, runner
 * fleets: see gen.c roam()); every event
 * goes through tk_insight_obs_from_json into one aggregate per account, then
 * tk_insight_evaluate judges everything after the first week. An incident is
 * a true positive when an injected event of its account falls inside it
 * (10 min of slack); a scenario is detected when an incident covers it; the
 * delay is from the scenario's first event to the incident's detection
 * minute. The same seeds without attacks give false positives per
 * account-week. Prints Markdown tables.
 * usage: bench_insight [--seeds N] [--days D] [--per-day N] [--accounts N] */
#include "base/buf.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "gen/gen.h"
#include "insight/insight.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXACC 64
#define MAXSC 4096
#define SLACK_MIN 10

typedef struct scen {
    int acct;
    int kind;            /* index in tk_gen_scenario_names */
    uint32_t first, last;/* minutes */
    int detected;        /* by any type */
    int by[TK_INSIGHT_NDET];
    uint32_t delay;      /* minutes, of the earliest detection */
} scen_t;

typedef struct totals {
    uint64_t tp[TK_INSIGHT_NDET], fp[TK_INSIGHT_NDET];
    uint64_t benign_fp[TK_INSIGHT_NDET];
    uint64_t net_tp, net_fp, net_benign; /* AkInsight's (key, network) incidents, a subset */
    uint64_t sc_n[16], sc_det[16], sc_delay_sum[16], sc_delay_max[16];
    uint64_t sc_by[16][TK_INSIGHT_NDET];
    double account_weeks;
    double secs;
    uint64_t events;
} totals_t;

/* Scenario kinds: the attack scenarios, then the Insights scenarios. */
static const char *kind_name(int k)
{
    int n = 0;
    while (tk_gen_scenario_names[n])
        n++;
    return k < n ? tk_gen_scenario_names[k] : tk_gen_insight_scenario_names[k - n];
}

static int scen_kind(const char *name)
{
    for (int i = 0; kind_name(i); i++)
        if (!strcmp(kind_name(i), name))
            return i;
    return -1;
}

static int run_seed(uint64_t seed, int attacks, uint32_t days, uint64_t per_day,
                    uint32_t accounts, totals_t *t)
{
    char err[TK_ERRLEN];
    tk_gen_opts_t o;
    tk_gen_opts_default(&o);
    o.seed = seed;
    o.days = days;
    o.events_per_day = per_day;
    o.accounts = accounts;
    o.start_ms = tk_days_from_civil(2026, 9, 7) * TK_MS_PER_DAY; /* a Monday */
    o.attacks = attacks;
    o.insight_attacks = attacks;
    o.label = 1;
    tk_gen_t *g = NULL;
    if (tk_gen_create(&o, &g, err)) {
        fprintf(stderr, "bench_insight: %s\n", err);
        return 1;
    }
    tk_insight_config_t cfg;
    tk_insight_config_default(&cfg);
    tk_insight_agg_t *agg[MAXACC] = {0};
    for (uint32_t a = 0; a < accounts; a++)
        agg[a] = tk_insight_agg_create(&cfg);
    static scen_t sc[MAXSC];
    size_t nsc = 0;
    tk_buf_t b = TK_BUF_INIT;
    tk_gen_info_t info;
    uint64_t t0 = tk_mono_ns();
    while (tk_gen_next(g, &b, &info) == 1) {
        tk_insight_obs_t ob;
        cJSON *doc = NULL;
        if (tk_insight_obs_from_json(b.p, b.len, info.time_ms, &ob, &doc) == 0) {
            tk_insight_agg_add(agg[info.account_index], &ob);
            cJSON_Delete(doc);
        }
        t->events++;
        if (info.scenario) {
            /* Events of one scenario are consecutive in its account (minutes apart). */
            int k = scen_kind(info.scenario);
            uint32_t m = (uint32_t)(info.time_ms / 60000);
            scen_t *s = NULL;
            for (size_t i = nsc; i-- > 0;)
                if (sc[i].acct == (int)info.account_index && sc[i].kind == k &&
                    m <= sc[i].last + 60) {
                    s = &sc[i];
                    break;
                }
            if (!s && nsc < MAXSC) {
                s = &sc[nsc++];
                memset(s, 0, sizeof *s);
                s->acct = (int)info.account_index;
                s->kind = k;
                s->first = m;
            }
            if (s)
                s->last = m;
        }
        tk_buf_reset(&b);
    }
    int64_t from = tk_gen_start_ms(g) + 7 * TK_MS_PER_DAY; /* first week: history only */
    int64_t until = tk_gen_end_ms(g);
    for (uint32_t a = 0; a < accounts; a++) {
        tk_insight_result_t r;
        if (tk_insight_evaluate(agg[a], tk_gen_account_id(g, a), &cfg, from, until, &r, err)) {
            fprintf(stderr, "bench_insight: %s\n", err);
            return 1;
        }
        for (size_t i = 0; i < r.inc.n; i++) {
            const tk_insight_incident_t *in = &r.inc.v[i];
            uint32_t end = in->open ? r.until_min : in->end_min;
            int hit = 0;
            for (size_t j = 0; j < nsc; j++) {
                scen_t *s = &sc[j];
                if (s->acct != (int)a || s->last + SLACK_MIN < in->start_min ||
                    s->first > end + SLACK_MIN)
                    continue;
                hit = 1;
                uint32_t delay = in->detect_min > s->first ? in->detect_min - s->first : 0;
                if (!s->detected || delay < s->delay)
                    s->delay = delay;
                s->detected = 1;
                s->by[in->det] = 1;
            }
            if (getenv("BENCH_INSIGHT_VERBOSE") && !hit) {
                tk_buf_t x = TK_BUF_INIT;
                tk_insight_explain(&r, i, &x);
                fprintf(stderr, "false: seed %llu%s account %u: %s\n", (unsigned long long)seed,
                        attacks ? "" : " (benign)", a, x.p);
                tk_buf_free(&x);
            }
            int net = !strcmp(tk_insight_detectors[in->det]->name, "AkInsight") &&
                      strstr(in->key, " from ");
            if (!attacks)
                t->benign_fp[in->det]++, t->net_benign += net;
            else if (hit)
                t->tp[in->det]++, t->net_tp += net;
            else
                t->fp[in->det]++, t->net_fp += net;
        }
        tk_insight_result_free(&r);
        tk_insight_agg_destroy(agg[a]);
    }
    t->secs += (double)(tk_mono_ns() - t0) / 1e9;
    /* Only scenarios inside the judged range count toward recall. */
    for (size_t j = 0; j < nsc; j++) {
        scen_t *s = &sc[j];
        if ((int64_t)s->first * 60000 < from)
            continue;
        t->sc_n[s->kind]++;
        if (getenv("BENCH_INSIGHT_VERBOSE") && !s->detected)
            fprintf(stderr, "missed: seed %llu account %d: %s from minute %u to %u\n",
                    (unsigned long long)seed, s->acct, kind_name(s->kind), s->first, s->last);
        if (s->detected) {
            t->sc_det[s->kind]++;
            t->sc_delay_sum[s->kind] += s->delay;
            if (s->delay > t->sc_delay_max[s->kind])
                t->sc_delay_max[s->kind] = s->delay;
        }
        for (int d = 0; d < TK_INSIGHT_NDET; d++)
            t->sc_by[s->kind][d] += (uint64_t)s->by[d];
    }
    if (!attacks)
        t->account_weeks += (double)accounts * (double)(until - from) / (7.0 * TK_MS_PER_DAY);
    tk_buf_free(&b);
    tk_gen_destroy(g);
    return 0;
}

int main(int argc, char **argv)
{
    uint32_t seeds = 5, days = 28, accounts = 8;
    uint64_t per_day = 20000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--seeds"))
            seeds = (uint32_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--days"))
            days = (uint32_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--per-day"))
            per_day = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--accounts"))
            accounts = (uint32_t)atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench_insight [--seeds N] [--days D] [--per-day N] [--accounts N]\n");
            return 2;
        }
    }
    if (accounts < 1 || accounts > MAXACC || days < 9 || !seeds) {
        fprintf(stderr, "bench_insight: need 1-%d accounts, >= 9 days, >= 1 seed\n", MAXACC);
        return 2;
    }
    totals_t t;
    memset(&t, 0, sizeof t);
    for (uint32_t s = 1; s <= seeds; s++)
        if (run_seed(s, 1, days, per_day, accounts, &t) || run_seed(s, 0, days, per_day, accounts, &t))
            return 1;
    printf("Insights accuracy: %u seeds x %u accounts x %u days, %llu events/day, first week "
           "history only; %llu events in %.1f s (%.0f events/s, parse + aggregate + evaluate); "
           "benign runs: %.0f account-weeks judged\n\n",
           seeds, accounts, days, (unsigned long long)per_day, (unsigned long long)t.events,
           t.secs, (double)t.events / t.secs, t.account_weeks);
    printf("| Insights type | incidents (attack runs) | true | false | precision | false per "
           "account-week (benign runs) |\n|---|---|---|---|---|---|\n");
    for (int d = 0; d < TK_INSIGHT_NDET; d++) {
        uint64_t n = t.tp[d] + t.fp[d];
        char prec[16] = "-";
        if (n)
            snprintf(prec, sizeof prec, "%.2f", (double)t.tp[d] / (double)n);
        printf("| %s | %llu | %llu | %llu | %s | %.3f |\n", tk_insight_detectors[d]->name,
               (unsigned long long)n, (unsigned long long)t.tp[d], (unsigned long long)t.fp[d],
               prec, (double)t.benign_fp[d] / t.account_weeks);
        if (!strcmp(tk_insight_detectors[d]->name, "AkInsight")) {
            uint64_t nn = t.net_tp + t.net_fp;
            snprintf(prec, sizeof prec, "-");
            if (nn)
                snprintf(prec, sizeof prec, "%.2f", (double)t.net_tp / (double)nn);
            printf("| ... of which key from a new network | %llu | %llu | %llu | %s | %.3f |\n",
                   (unsigned long long)nn, (unsigned long long)t.net_tp,
                   (unsigned long long)t.net_fp, prec, (double)t.net_benign / t.account_weeks);
        }
    }
    printf("\n| scenario | injected | detected | recall | mean / max delay (min) | detected by |\n"
           "|---|---|---|---|---|---|\n");
    for (int k = 0; kind_name(k); k++) {
        char by[256] = "";
        size_t len = 0;
        for (int d = 0; d < TK_INSIGHT_NDET; d++)
            if (t.sc_by[k][d])
                len += (size_t)snprintf(by + len, sizeof by - len, "%s%s %llu", len ? ", " : "",
                                        tk_insight_detectors[d]->name,
                                        (unsigned long long)t.sc_by[k][d]);
        double rec = t.sc_n[k] ? (double)t.sc_det[k] / (double)t.sc_n[k] : 0;
        printf("| %s | %llu | %llu | %.2f | %.1f / %llu | %s |\n", kind_name(k),
               (unsigned long long)t.sc_n[k], (unsigned long long)t.sc_det[k], rec,
               t.sc_det[k] ? (double)t.sc_delay_sum[k] / (double)t.sc_det[k] : 0,
               (unsigned long long)t.sc_delay_max[k], len ? by : "-");
    }
    return 0;
}

/* trailkeep benchmark: alert rule throughput (src/alert). Generates events
 * with `trailkeep gen`'s generator in memory (attack scenarios on, so rules
 * fire), loads every template with its defaults plus every loadable Sigma
 * rule from $TK_SHARED/sigma, and times tk_alert_engine_eval over the events
 * on one core: all rules, templates only, Sigma only, and no rules (the
 * cost of walking the event). Prints events/s and MB/s per set and the
 * prefilter's effect (rules evaluated per event).
 * Usage: bench_rules [events (default 300000)] [rounds (default 3)] [actiontrail|cloudtrail] */
#include "alert/rule.h"
#include "base/buf.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "gen/gen.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    tk_buf_t b = TK_BUF_INIT;
    char chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
        tk_buf_append(&b, chunk, r);
    fclose(f);
    *n = b.len;
    return tk_buf_steal(&b);
}

static int add_sigma_dir(tk_alert_engine_t *e, const char *dir, unsigned *refused)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".yml"))
            continue;
        char path[1024], err[TK_ERRLEN];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t len;
        char *y = slurp(path, &len);
        tk_rule_t *r;
        if (y && tk_rule_from_sigma(y, len, de->d_name, &r, err) == 0 && tk_alert_engine_add(e, r, err) == 0)
            n++;
        else
            (*refused)++;
        free(y);
    }
    closedir(d);
    return n;
}

static int add_templates(tk_alert_engine_t *e)
{
    size_t n;
    const tk_template_t *t = tk_templates(&n);
    int added = 0;
    for (size_t i = 0; i < n; i++) {
        tk_rule_t *r;
        char err[TK_ERRLEN];
        if (tk_template_compile(t[i].name, &r, err) || tk_alert_engine_add(e, r, err)) {
            fprintf(stderr, "template %s: %s\n", t[i].name, err);
            continue;
        }
        added++;
    }
    return added;
}

static void count_fire(void *ctx, const tk_alert_hit_t *h)
{
    (void)h;
    (*(uint64_t *)ctx)++;
}

typedef struct events {
    char *buf;
    size_t *off, *len;
    int64_t *t;
    size_t n, bytes;
} events_t;

static void run(const char *label, int templates, int sigma, const events_t *ev, int rounds, const char *shared)
{
    char err[TK_ERRLEN];
    double best = 1e30;
    unsigned nrules = 0, refused = 0;
    uint64_t fires = 0, evals = 0;
    for (int round = 0; round < rounds; round++) {
        tk_alert_engine_t *e;
        if (tk_alert_engine_create(NULL, &e, err)) {
            fprintf(stderr, "%s\n", err);
            exit(1);
        }
        refused = 0;
        if (templates)
            add_templates(e);
        if (sigma) {
            char dir[1024];
            snprintf(dir, sizeof dir, "%s/sigma/rules/cloudtrail", shared);
            add_sigma_dir(e, dir, &refused);
            snprintf(dir, sizeof dir, "%s/sigma/unsupported", shared);
            add_sigma_dir(e, dir, &refused);
        }
        nrules = (unsigned)tk_alert_engine_rule_count(e);
        fires = 0;
        uint64_t t0 = tk_mono_ns();
        for (size_t i = 0; i < ev->n; i++)
            if (tk_alert_engine_eval(e, NULL, 0, ev->buf + ev->off[i], ev->len[i], ev->t[i], count_fire, &fires, err)) {
                fprintf(stderr, "event %zu: %s\n", i, err);
                exit(1);
            }
        double s = (double)(tk_mono_ns() - t0) / 1e9;
        if (s < best)
            best = s;
        tk_alert_stats_t st;
        tk_alert_engine_stats(e, &st);
        evals = st.rule_evals;
        tk_alert_engine_destroy(e);
    }
    printf("%-16s %4u rules  %10.0f events/s  %7.1f MB/s  %5.2f rules evaluated/event  %llu alerts\n", label, nrules,
           (double)ev->n / best, (double)ev->bytes / best / 1e6, (double)evals / (double)ev->n,
           (unsigned long long)fires);
    if (sigma && refused)
        printf("                 (%u Sigma rules refused as unsupported)\n", refused);
}

int main(int argc, char **argv)
{
    long nev = argc > 1 ? atol(argv[1]) : 300000;
    int rounds = argc > 2 ? atoi(argv[2]) : 3;
    const char *shape = argc > 3 ? argv[3] : "actiontrail";
    const char *shared = getenv("TK_SHARED");
    if (!shared || !*shared)
        shared = "/work/shared";
    if (nev <= 0 || rounds <= 0) {
        fprintf(stderr, "usage: bench_rules [events] [rounds] [actiontrail|cloudtrail]\n");
        return 2;
    }
    tk_gen_opts_t o;
    tk_gen_opts_default(&o);
    o.events = (uint64_t)nev;
    o.accounts = 20;
    o.attacks = 1;
    o.start_ms = tk_days_from_civil(2026, 11, 1) * TK_MS_PER_DAY;
    o.shape = strcmp(shape, "cloudtrail") ? TK_GEN_SHAPE_ACTIONTRAIL : TK_GEN_SHAPE_CLOUDTRAIL;
    tk_gen_t *g;
    char err[TK_ERRLEN];
    if (tk_gen_create(&o, &g, err)) {
        fprintf(stderr, "gen: %s\n", err);
        return 1;
    }
    events_t ev = {0};
    tk_buf_t b = TK_BUF_INIT;
    ev.off = malloc((size_t)nev * sizeof(size_t));
    ev.len = malloc((size_t)nev * sizeof(size_t));
    ev.t = malloc((size_t)nev * sizeof(int64_t));
    tk_gen_info_t info;
    while (ev.n < (size_t)nev) {
        size_t before = b.len;
        int r = tk_gen_next(g, &b, &info);
        if (r <= 0)
            break;
        ev.off[ev.n] = before;
        ev.len[ev.n] = b.len - before;
        ev.t[ev.n] = info.time_ms;
        ev.n++;
    }
    tk_gen_destroy(g);
    ev.buf = b.p;
    ev.bytes = b.len;
    printf("bench_rules: %zu %s events, %.0f bytes/event, best of %d rounds, one core\n", ev.n, shape,
           (double)ev.bytes / (double)ev.n, rounds);
    run("no rules (walk)", 0, 0, &ev, rounds, shared);
    run("templates", 1, 0, &ev, rounds, shared);
    run("sigma", 0, 1, &ev, rounds, shared);
    run("all", 1, 1, &ev, rounds, shared);
    tk_buf_free(&b);
    free(ev.off);
    free(ev.len);
    free(ev.t);
    return 0;
}

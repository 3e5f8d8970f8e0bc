/* trailkeep insights: Insights over stored history, offline. `run` rebuilds
 * each account's per-minute aggregates from the store (28 days before
 * --since), judges [since, until) with the seven detectors and prints the
 * Insights events (Start and End records) as a table, a JSON array or JSON
 * Lines; `types` lists the detectors and their knobs. The store is opened
 * read-only, so this runs beside serve or import. */
#include "cli/cli.h"
#include "cli/util.h"

#include "base/buf.h"
#include "base/fs.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "insight/insight.h"
#include "insight/service.h"
#include "meta/meta.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SETS 64

static void usage(FILE *f)
{
    fprintf(f,
"usage: trailkeep insights run [options]\n"
"       trailkeep insights types\n"
"       trailkeep insights settings [--data DIR] [--account ID] [--enable T,..]\n"
"                [--disable T,..] [--sensitivity low|medium|high] [--set T.knob=V]...\n"
"                [--reset-overrides]\n"
"\n"
"Insights find where an account's activity departs from its own normal: write\n"
"rates per API, error rates, source IPs, AccessKeys, permission, password and\n"
"trail changes. `run` learns each account's baseline from the stored history\n"
"(up to 28 days before --since, per hour of the week or of the day) and prints\n"
"one Start and one End Insights event per incident, with the users, IPs,\n"
"AccessKeys, APIs and user agents that explain it. `types` lists the detectors\n"
"and the knobs --set accepts. `settings` shows or changes what `serve` runs for\n"
"one account (see trailkeep insights settings --help).\n"
"\n"
"run options:\n"
"  --data DIR          data directory (default: $TRAILKEEP_DATA or ./data)\n"
"  --account ID        only this account (default: every account in the store)\n"
"  --since T           judge activity from T on (default: the start of the history;\n"
"                      the first --set *.min_history_h hours are learnt, not judged)\n"
"  --until T           ... up to T, exclusive (default: now). An incident still\n"
"                      anomalous at T has a Start and no End yet.\n"
"                      T is RFC 3339, a date (2026-11-24), 'now', or relative: -24h, -7d\n"
"  --type T[,T...]     only these Insights types (e.g. IpInsight,AkInsight)\n"
"  --set T.knob=V      change a knob of type T ('*' for all), e.g. --set IpInsight.alpha=1e-6\n"
"                      (repeatable; see trailkeep insights types)\n"
"  --output F          table | json | jsonl (default: table). json: one array of\n"
"                      Insights events in ActionTrail's shape; jsonl: one per line\n"
"  --explain           table: a sentence per incident saying what and who\n"
"  -h, --help          this help\n"
"\n"
"exit status: 0 ok (also when there is no Insight); 1 the store could not be read;\n"
"2 usage error.\n"
"\n"
"examples:\n"
"  trailkeep insights run --data ./data --since -7d --explain\n"
"  trailkeep insights run --account 1234567890123456 --type TrailConcealmentInsight --output json\n"
"  trailkeep insights run --set ApiCallRateInsight.k=5 --set '*.sigma=2'\n");
}

static int cmd_types(void)
{
    printf("Insights types (knobs: trailkeep insights run --set Type.knob=value):\n\n");
    for (int d = 0; d < TK_INSIGHT_NDET; d++) {
        const tk_insight_detector_t *det = tk_insight_detectors[d];
        printf("%s\n  %s\n  knobs:", det->name, det->summary);
        for (size_t i = 0; i < tk_insight_nopts; i++)
            printf(" %s=%g", tk_insight_opts[i].name,
                   *(const double *)((const char *)&det->defaults + tk_insight_opts[i].off));
        printf("\n\n");
    }
    printf("knobs:\n");
    for (size_t i = 0; i < tk_insight_nopts; i++)
        printf("  %-14s %s [%g..%g]\n", tk_insight_opts[i].name, tk_insight_opts[i].desc,
               tk_insight_opts[i].lo, tk_insight_opts[i].hi);
    return 0;
}

typedef struct record {
    int64_t time_ms;
    char *json;
} record_t;

static int cmp_record(const void *a, const void *b)
{
    const record_t *x = a, *y = b;
    if (x->time_ms != y->time_ms)
        return x->time_ms < y->time_ms ? -1 : 1;
    return strcmp(x->json, y->json);
}

typedef struct out_state {
    const char *output;
    int explain;
    record_t *rec;
    size_t nrec, caprec;
    tk_table_t table;
    tk_buf_t explanations;
} out_state_t;

static int add_record(out_state_t *o, int64_t t, tk_buf_t *b)
{
    if (o->nrec == o->caprec) {
        size_t nc = o->caprec ? o->caprec * 2 : 64;
        record_t *p = realloc(o->rec, nc * sizeof *p);
        if (!p)
            return TK_ENOMEM;
        o->rec = p;
        o->caprec = nc;
    }
    o->rec[o->nrec].time_ms = t;
    o->rec[o->nrec].json = tk_buf_steal(b);
    if (!o->rec[o->nrec].json)
        return TK_ENOMEM;
    o->nrec++;
    return 0;
}

static const char *top_value(const tk_insight_incident_t *in, int a)
{
    const tk_insight_tally_t *best = NULL;
    for (size_t i = 0; i < in->ntally[a]; i++) {
        const tk_insight_tally_t *t = &in->tally[a][i];
        if (t->insight && (!best || t->insight > best->insight ||
                           (t->insight == best->insight && strcmp(t->value, best->value) < 0)))
            best = t;
    }
    return best ? best->value : NULL;
}

static int emit(out_state_t *o, const tk_insight_result_t *r)
{
    for (size_t i = 0; i < r->inc.n; i++) {
        const tk_insight_incident_t *in = &r->inc.v[i];
        if (!strcmp(o->output, "table")) {
            char start[32], end[32] = "(open)", rate[32], base[32], events[32];
            tk_time_format((int64_t)in->start_min * 60000, 0, start);
            if (!in->open)
                tk_time_format((int64_t)in->end_min * 60000, 0, end);
            uint32_t dur = (in->open ? r->until_min : in->end_min) - in->start_min;
            snprintf(rate, sizeof rate, "%.3g", dur ? (double)in->weight / dur : 0);
            snprintf(base, sizeof base, "%.3g", in->baseline_avg);
            snprintf(events, sizeof events, "%llu", (unsigned long long)in->events);
            const char *cells[10] = {start, end, r->account, tk_insight_detectors[in->det]->name,
                                     in->key, rate, base, events, top_value(in, 0),
                                     top_value(in, 1)};
            if (tk_table_add(&o->table, cells))
                return TK_ENOMEM;
            if (o->explain) {
                tk_buf_printf(&o->explanations, "%s  ", in->shared_id);
                tk_insight_explain(r, i, &o->explanations);
                tk_buf_putc(&o->explanations, '\n');
            }
            continue;
        }
        for (int st = 0; st < 2; st++) {
            if (st && in->open)
                break;
            tk_buf_t b = TK_BUF_INIT;
            int rc = tk_insight_render(r, i, st, &b);
            int64_t t = (int64_t)(st ? in->end_min : in->start_min) * 60000;
            if (rc || (rc = add_record(o, t, &b))) {
                tk_buf_free(&b);
                return rc;
            }
        }
    }
    return 0;
}

static int run_account(tk_store_t *s, const char *account, const tk_insight_config_t *cfg,
                       int64_t since, int64_t until, out_state_t *o)
{
    char err[TK_ERRLEN] = "";
    tk_insight_result_t r;
    int rc = tk_insight_run_account(s, account, cfg, since, until, &r, err);
    if (!rc)
        rc = emit(o, &r);
    tk_insight_result_free(&r);
    if (rc)
        fprintf(stderr, "trailkeep insights: account %s: %s\n", account,
                err[0] ? err : tk_strerror(rc));
    return rc;
}

/* Inside an option loop (argc, argv, i, r, v and cmd in scope): takes
 * "name VALUE" into var and goes on with the next argument; a missing value
 * was reported by tk_cli_opt and is a usage error (exit 2). */
#define OPTV(name, var)                                                               \
    if ((r = tk_cli_opt(argc, argv, &i, cmd, name, &v)) != 0) {                        \
        if (r < 0)                                                                   \
            return 2;                                                                \
        var = v;                                                                     \
        continue;                                                                    \
    }

static int cmd_run(int argc, char **argv)
{
    const char *const cmd = "insights";
    const char *dir = tk_cli_default_data(), *account = NULL, *since_s = NULL, *until_s = NULL;
    const char *types = NULL, *output = "table", *v;
    const char *sets[MAX_SETS];
    int nsets = 0, explain = 0, r;
    for (int i = 2; i < argc; i++) {
        if (tk_cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--explain")) {
            explain = 1;
            continue;
        }
        OPTV("--data", dir)
        OPTV("--account", account)
        OPTV("--since", since_s)
        OPTV("--until", until_s)
        OPTV("--type", types)
        OPTV("--output", output)
        if ((r = tk_cli_opt(argc, argv, &i, cmd, "--set", &v)) != 0) {
            if (r < 0)
                return 2;
            if (nsets == MAX_SETS) {
                fprintf(stderr, "trailkeep insights: at most %d --set\n", MAX_SETS);
                return 2;
            }
            sets[nsets++] = v;
            continue;
        }
        fprintf(stderr, "trailkeep insights: unknown option '%s' (see trailkeep insights --help)\n",
                argv[i]);
        return 2;
    }
    if (strcmp(output, "table") && strcmp(output, "json") && strcmp(output, "jsonl")) {
        fprintf(stderr, "trailkeep insights: --output must be table, json or jsonl, not '%s'\n",
                output);
        return 2;
    }
    char err[TK_ERRLEN];
    tk_insight_config_t cfg;
    tk_insight_config_default(&cfg);
    if (types) {
        for (int d = 0; d < TK_INSIGHT_NDET; d++)
            cfg.knobs[d].enabled = 0;
        char *copy = strdup(types), *save = NULL;
        if (!copy)
            return 1;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            int d = tk_insight_detector_find(t);
            if (d < 0) {
                fprintf(stderr, "trailkeep insights: unknown type '%s' (see trailkeep insights "
                                "types)\n", t);
                free(copy);
                return 2;
            }
            cfg.knobs[d].enabled = 1;
        }
        free(copy);
    }
    for (int i = 0; i < nsets; i++)
        if (tk_insight_config_set(&cfg, sets[i], err)) {
            fprintf(stderr, "trailkeep insights: --set %s\n", err);
            return 2;
        }
    int64_t now = tk_now_ms(), since = 0, until = now;
    if (since_s && tk_cli_parse_time(since_s, now, &since)) {
        fprintf(stderr, "trailkeep insights: --since '%s' is not a time (RFC 3339, a date, or -7d)\n",
                since_s);
        return 2;
    }
    if (until_s && tk_cli_parse_time(until_s, now, &until)) {
        fprintf(stderr, "trailkeep insights: --until '%s' is not a time (RFC 3339, a date, or -7d)\n",
                until_s);
        return 2;
    }
    if (until <= since) {
        fprintf(stderr, "trailkeep insights: --until must be after --since\n");
        return 2;
    }
    if (!tk_fs_exists(dir)) {
        fprintf(stderr, "trailkeep insights: data directory '%s' does not exist; give --data DIR "
                        "(or set TRAILKEEP_DATA) where events were imported\n", dir);
        return 1;
    }
    tk_store_opts_t so = {.dir = dir, .read_only = 1};
    tk_store_t *s = NULL;
    if (tk_store_open(&so, &s, err)) {
        fprintf(stderr, "trailkeep insights: cannot open the store in '%s': %s\n", dir, err);
        return 1;
    }
    static const char *const headers[10] = {"START", "END", "ACCOUNT", "TYPE", "OBJECT",
                                            "PER-MIN", "BASELINE", "EVENTS", "TOP USER", "TOP IP"};
    static const int maxw[10] = {20, 20, 16, 23, 40, 8, 8, 8, 24, 39};
    out_state_t o = {.output = output, .explain = explain};
    tk_table_init(&o.table, 10, headers, maxw);
    int rc = 0;
    if (account) {
        rc = run_account(s, account, &cfg, since, until, &o);
    } else {
        char **accs = NULL;
        size_t n = 0;
        if ((rc = tk_store_accounts(s, &accs, &n, err)) != 0)
            fprintf(stderr, "trailkeep insights: cannot list accounts: %s\n", err);
        for (size_t i = 0; i < n; i++) {
            if (!rc)
                rc = run_account(s, accs[i], &cfg, since, until, &o);
            free(accs[i]);
        }
        free(accs);
    }
    if (!rc) {
        if (!strcmp(output, "table")) {
            if (o.table.rows)
                tk_table_flush(&o.table, stdout);
            else
                printf("no Insights\n");
            if (o.explanations.len)
                printf("\n%s", o.explanations.p);
        } else {
            qsort(o.rec, o.nrec, sizeof *o.rec, cmp_record);
            int arr = !strcmp(output, "json");
            if (arr)
                fputs("[", stdout);
            for (size_t i = 0; i < o.nrec; i++)
                printf("%s%s%s", arr && i ? ",\n" : "", o.rec[i].json, arr ? "" : "\n");
            if (arr)
                fputs("]\n", stdout);
        }
    }
    for (size_t i = 0; i < o.nrec; i++)
        free(o.rec[i].json);
    free(o.rec);
    tk_table_free(&o.table);
    tk_buf_free(&o.explanations);
    tk_store_close(s);
    return rc ? 1 : 0;
}

static void settings_usage(FILE *f)
{
    fprintf(f,
"usage: trailkeep insights settings [options]\n"
"\n"
"Shows (no change option) or changes which Insights types `serve` runs for one\n"
"account, and how sensitive they are. Stored in DIR/meta.db; a running serve\n"
"applies a change within a second, from its next tick on. Prints the settings\n"
"as JSON (the same as GET /v1/insights/settings).\n"
"\n"
"options:\n"
"  --data DIR          data directory (default: $TRAILKEEP_DATA or ./data)\n"
"  --account ID        the account (default 100000000000000)\n"
"  --enable T[,T...]   switch these types on ('*' = all)\n"
"  --disable T[,T...]  switch these types off ('*' = all); applied after --enable\n"
"  --sensitivity S     low (every alpha / 100: fewer, stronger findings), medium\n"
"                      (the defaults) or high (alpha x 100, at most 0.5: more findings)\n"
"  --set T.knob=V      a knob override ('*' for all types), applied after the\n"
"                      sensitivity; repeatable, added to the stored ones\n"
"  --reset-overrides   drop the stored overrides first\n"
"  -h, --help          this help\n"
"\n"
"exit status: 0 ok; 1 meta.db could not be read or written; 2 usage error.\n"
"\n"
"examples:\n"
"  trailkeep insights settings --account 1234567890123456\n"
"  trailkeep insights settings --account 1234567890123456 --disable IpInsight --sensitivity low\n"
"  trailkeep insights settings --set AkInsight.k=3 --reset-overrides\n");
}

static int cmd_settings(int argc, char **argv)
{
    const char *const cmd = "insights settings";
    const char *dir = tk_cli_default_data(), *account = TK_DEFAULT_ACCOUNT, *enable = NULL;
    const char *disable = NULL, *sens = NULL, *v;
    const char *sets[MAX_SETS];
    size_t nsets = 0;
    int reset = 0, r;
    for (int i = 2; i < argc; i++) {
        if (tk_cli_is_help(argv[i])) {
            settings_usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--reset-overrides")) {
            reset = 1;
            continue;
        }
        OPTV("--data", dir)
        OPTV("--account", account)
        OPTV("--enable", enable)
        OPTV("--disable", disable)
        OPTV("--sensitivity", sens)
        if ((r = tk_cli_opt(argc, argv, &i, cmd, "--set", &v)) != 0) {
            if (r < 0)
                return 2;
            if (nsets == MAX_SETS) {
                fprintf(stderr, "trailkeep insights settings: at most %d --set\n", MAX_SETS);
                return 2;
            }
            sets[nsets++] = v;
            continue;
        }
        fprintf(stderr, "trailkeep insights settings: unknown option '%s' (see --help)\n", argv[i]);
        return 2;
    }
    if (!tk_fs_exists(dir)) {
        fprintf(stderr, "trailkeep insights settings: data directory '%s' does not exist; give "
                        "--data DIR (or set TRAILKEEP_DATA)\n", dir);
        return 1;
    }
    char err[TK_ERRLEN] = "";
    tk_meta_t *m = NULL;
    if (tk_meta_open(dir, &m, err)) {
        fprintf(stderr, "trailkeep insights settings: cannot open %s/meta.db: %s\n", dir, err);
        return 1;
    }
    tk_insight_settings_t st;
    int code = 0, rc = tk_insight_settings_get(m, account, &st, err);
    int change = enable || disable || sens || nsets || reset;
    if (!rc && change) {
        rc = tk_insight_settings_edit(&st, enable, disable, sens, sets, nsets, reset, err);
        if (rc == TK_EINVAL || rc == TK_ETOOBIG) {
            fprintf(stderr, "trailkeep insights settings: %s\n", err);
            tk_meta_close(m);
            return 2;
        }
        if (!rc)
            rc = tk_insight_settings_put(m, &st, err);
    }
    if (rc) {
        fprintf(stderr, "trailkeep insights settings: %s\n", err);
        code = 1;
    } else {
        tk_buf_t b = TK_BUF_INIT;
        if (tk_insight_settings_json(&st, &b) == 0)
            printf("%.*s\n", (int)b.len, b.p);
        tk_buf_free(&b);
    }
    tk_meta_close(m);
    return code;
}

int tk_cmd_insights(int argc, char **argv)
{
    if (argc < 2 || tk_cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "types")) {
        if (argc > 2 && tk_cli_is_help(argv[2])) {
            printf("usage: trailkeep insights types\n\nLists the Insights types, what each "
                   "detects, and its knobs with their current defaults\n(set them with "
                   "`trailkeep insights run --set Type.knob=value`).\n");
            return 0;
        }
        return cmd_types();
    }
    if (!strcmp(argv[1], "run"))
        return cmd_run(argc, argv);
    if (!strcmp(argv[1], "settings"))
        return cmd_settings(argc, argv);
    fprintf(stderr, "trailkeep insights: unknown subcommand '%s' (run, types or settings)\n",
            argv[1]);
    return 2;
}

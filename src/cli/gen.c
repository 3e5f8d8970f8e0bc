/* trailkeep gen: generates realistic, deterministic ActionTrail (or
 * CloudTrail) events for demos, tests and benchmarks, to stdout, a file or
 * a folder in the delivered-file layout. All the work is in src/gen; this
 * file only parses options. */
#include "cli/cli.h"

#include "base/tk.h"
#include "base/tktime.h"
#include "gen/gen.h"
#include "gen/writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void gen_usage(FILE *f)
{
    fprintf(f,
"usage: trailkeep gen [options]\n"
"\n"
"Generates realistic ActionTrail management events: many accounts, RAM users,\n"
"root and assumed roles with their AccessKeys and source IPs, Zipf-skewed APIs\n"
"(Ecs DescribeInstances dominates; ~80%% reads), office hours in UTC+8 and quiet\n"
"weekends, console sign-ins with some failures, ~3%% API errors. The same seed\n"
"and options always give byte-identical output; events come out in time order.\n"
"\n"
"options (defaults in brackets):\n"
"  --seed N             random seed [1]\n"
"  --events N           total number of events (k/M/G suffixes: 10k, 1M)\n"
"  --per-day N          events per day on average, when --events is not given [10000]\n"
"  --days N             length of the time range in days [7]\n"
"  --start DATE         first day, YYYY-MM-DD or RFC 3339 [today 00:00 UTC minus --days;\n"
"                       give --start for reproducible output]\n"
"  --accounts N         number of accounts (16-digit ids) [3]\n"
"  --users N            identities per account: root, RAM users, roles [8, min 3]\n"
"  --error-rate F       share of API calls that fail [0.03]\n"
"  --signin-failure-rate F  share of console sign-ins that fail [0.08]\n"
"  --attacks            inject attack scenarios (one set per 8 accounts): brute-force\n"
"                       sign-in then success from a new IP, root sign-in without MFA,\n"
"                       AccessKey created for root, StopLogging + DeleteTrail, security\n"
"                       group opened to 0.0.0.0/0, mass DeleteInstance, AdministratorAccess\n"
"                       attached to a new user\n"
"  --insight-attacks    inject the Insights scenarios (one set per 8 accounts):\n"
"                       password-reset spree, permission escalation, error storm,\n"
"                       AccessKey leak used from a new IP (what `trailkeep insights` finds)\n"
"  --label              add \"tkScenario\":\"<name>\" to injected events (tests, benchmarks)\n"
"  --format F           actiontrail: JSON Lines of ActionTrail events [default]\n"
"                       array:       one JSON array of ActionTrail events\n"
"                       cloudtrail:  CloudTrail records in {\"Records\":[...]}\n"
"  --gzip               gzip the output (implied by --out FILE.gz)\n"
"  --out PATH           write to PATH instead of stdout (also --output, -o); a\n"
"                       directory (existing, ending in '/', or with --files-per-day)\n"
"                       gets ActionTrail's delivered layout:\n"
"                       AliyunLogs/Actiontrail/<account>/<region>/YYYY/MM/DD/...\n"
"                       (CloudTrail's AWSLogs/... with --format cloudtrail)\n"
"  --files-per-day N    folder layout: files per account, region and day: 1..24,\n"
"                       dividing 24 [1]\n"
"  --stats              print events, bytes, files and events/s to stderr\n"
"\n"
"examples:\n"
"  trailkeep gen --start 2026-11-01 --days 7 --events 100k > week.jsonl\n"
"  trailkeep gen --accounts 20 --attacks --label --events 50k --start 2026-11-01\n"
"  trailkeep gen --events 1M --gzip --out big.jsonl.gz --stats\n"
"  trailkeep gen --days 3 --per-day 20k --out logs/ --files-per-day 24 --gzip\n"
"  trailkeep gen --format cloudtrail --events 1000 --out ct/\n");
}

/* Parses an unsigned count with an optional k/M/G suffix. */
static int parse_count(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1000, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1000000, end++;
    else if (*end == 'g' || *end == 'G')
        mul = 1000000000, end++;
    if (*end || (v && mul > UINT64_MAX / v))
        return -1;
    *out = v * mul;
    return 0;
}

static int parse_rate(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= 0 && v <= 1))
        return -1;
    *out = v;
    return 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

int tk_cmd_gen(int argc, char **argv)
{
    tk_gen_opts_t o;
    tk_gen_opts_default(&o);
    tk_gen_write_opts_t w;
    memset(&w, 0, sizeof w);
    const char *out = NULL, *format = "actiontrail";
    int stats = 0, fpd_given = 0;
    uint64_t v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (tk_cli_is_help(a)) {
            gen_usage(stdout);
            return 0;
        }
#define NEED_VAL()                                                                       \
    do {                                                                                 \
        if (!val) {                                                                      \
            fprintf(stderr, "trailkeep gen: %s needs a value (see trailkeep gen --help)\n", a); \
            return 2;                                                                    \
        }                                                                                \
        i++;                                                                             \
    } while (0)
#define BAD_VAL(what)                                                                    \
    do {                                                                                 \
        fprintf(stderr, "trailkeep gen: %s '%s' is not %s\n", a, val, what);             \
        return 2;                                                                        \
    } while (0)
        if (!strcmp(a, "--seed")) {
            NEED_VAL();
            if (parse_count(val, &o.seed))
                BAD_VAL("a non-negative integer");
        } else if (!strcmp(a, "--events")) {
            NEED_VAL();
            if (parse_count(val, &o.events) || !o.events)
                BAD_VAL("a positive count (e.g. 1000, 50k, 1M)");
        } else if (!strcmp(a, "--per-day")) {
            NEED_VAL();
            if (parse_count(val, &o.events_per_day) || !o.events_per_day)
                BAD_VAL("a positive count (e.g. 1000, 50k, 1M)");
        } else if (!strcmp(a, "--days") || !strcmp(a, "--accounts") || !strcmp(a, "--users") ||
                   !strcmp(a, "--files-per-day")) {
            NEED_VAL();
            if (parse_count(val, &v) || !v || v > 1000000)
                BAD_VAL("a positive integer");
            if (!strcmp(a, "--days"))
                o.days = (uint32_t)v;
            else if (!strcmp(a, "--accounts"))
                o.accounts = (uint32_t)v;
            else if (!strcmp(a, "--users"))
                o.users = (uint32_t)v;
            else
                w.files_per_day = (uint32_t)v, fpd_given = 1;
        } else if (!strcmp(a, "--start")) {
            NEED_VAL();
            int64_t ms;
            char buf[64];
            if (strlen(val) == 10) {
                snprintf(buf, sizeof buf, "%sT00:00:00Z", val);
                val = buf;
            }
            if (tk_time_parse(val, strlen(val), &ms))
                BAD_VAL("a date (YYYY-MM-DD) or an RFC 3339 time");
            o.start_ms = ms;
        } else if (!strcmp(a, "--error-rate")) {
            NEED_VAL();
            if (parse_rate(val, &o.error_rate))
                BAD_VAL("a rate between 0 and 1");
        } else if (!strcmp(a, "--signin-failure-rate")) {
            NEED_VAL();
            if (parse_rate(val, &o.signin_failure_rate))
                BAD_VAL("a rate between 0 and 1");
        } else if (!strcmp(a, "--format")) {
            NEED_VAL();
            format = val;
        } else if (!strcmp(a, "--out") || !strcmp(a, "--output") || !strcmp(a, "-o")) {
            NEED_VAL();
            out = val;
        } else if (!strcmp(a, "--attacks")) {
            o.attacks = 1;
        } else if (!strcmp(a, "--insight-attacks")) {
            o.insight_attacks = 1;
        } else if (!strcmp(a, "--label")) {
            o.label = 1;
        } else if (!strcmp(a, "--gzip")) {
            w.gzip = 1;
        } else if (!strcmp(a, "--stats")) {
            stats = 1;
        } else {
            fprintf(stderr, "trailkeep gen: unknown option '%s' (see trailkeep gen --help)\n", a);
            return 2;
        }
    }
    if (!strcmp(format, "actiontrail") || !strcmp(format, "jsonl")) {
        o.shape = TK_GEN_SHAPE_ACTIONTRAIL;
        w.frame = TK_GEN_FRAME_JSONL;
    } else if (!strcmp(format, "array")) {
        o.shape = TK_GEN_SHAPE_ACTIONTRAIL;
        w.frame = TK_GEN_FRAME_ARRAY;
    } else if (!strcmp(format, "cloudtrail")) {
        o.shape = TK_GEN_SHAPE_CLOUDTRAIL;
        w.frame = TK_GEN_FRAME_RECORDS;
    } else {
        fprintf(stderr, "trailkeep gen: --format '%s' is unknown: use actiontrail, array or "
                        "cloudtrail\n", format);
        return 2;
    }
    if (o.label && !o.attacks && !o.insight_attacks)
        fprintf(stderr, "trailkeep gen: note: --label has no effect without --attacks or --insight-attacks\n");
    if (out) {
        struct stat sb;
        int isdir = (stat(out, &sb) == 0 && S_ISDIR(sb.st_mode)) || ends_with(out, "/") || fpd_given;
        if (isdir)
            w.dir = out;
        else
            w.path = out;
        if (!isdir && ends_with(out, ".gz"))
            w.gzip = 1;
    } else if (fpd_given) {
        fprintf(stderr, "trailkeep gen: --files-per-day needs --out DIR\n");
        return 2;
    }
    w.stream = stdout;

    char err[TK_ERRLEN] = "";
    tk_gen_t *g = NULL;
    if (tk_gen_create(&o, &g, err)) {
        fprintf(stderr, "trailkeep gen: %s\n", err);
        return 2;
    }
    tk_gen_write_stats_t st;
    int rc = tk_gen_write(g, &w, &st, err);
    tk_gen_destroy(g);
    if (rc) {
        fprintf(stderr, "trailkeep gen: %s\n", err);
        return 1;
    }
    if (stats)
        fprintf(stderr, "trailkeep gen: %llu events, %.1f MB (%.0f bytes/event), %llu file%s, "
                        "%.2f s, %.0f events/s\n",
                (unsigned long long)st.events, (double)st.bytes / 1e6,
                st.events ? (double)st.bytes / (double)st.events : 0.0,
                (unsigned long long)st.files, st.files == 1 ? "" : "s", st.seconds,
                st.seconds > 0 ? (double)st.events / st.seconds : 0.0);
    return 0;
}

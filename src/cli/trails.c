/* trailkeep trails: manage trails (ActionTrail's CreateTrail ... StopLogging)
 * and run delivery without a server. Changes are recorded as ActionTrail
 * events, so the command needs the store: while `trailkeep serve` holds it,
 * use the server's API instead. */
#include "cli/cli.h"
#include "cli/util.h"

#include "base/buf.h"
#include "base/fs.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "meta/meta.h"
#include "store/store.h"
#include "trail/dest.h"
#include "trail/trail.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
    fputs(
"usage: trailkeep trails <command> [options]\n"
"\n"
"A trail delivers an account's events (or, for an organization trail, every\n"
"member's) to a destination as gzip files in ActionTrail's OSS layout (or\n"
"CloudTrail's S3 layout with --opt layout=cloudtrail). A new trail is stopped\n"
"until `trails start`. Every change is recorded as an ActionTrail event.\n"
"\n"
"commands:\n"
"  trails create NAME [trail options]     CreateTrail (NAME: 6-36 of a-z 0-9 _ -)\n"
"  trails update NAME [trail options]     UpdateTrail (only the options given change)\n"
"  trails delete NAME                     DeleteTrail\n"
"  trails start NAME | stop NAME          StartLogging / StopLogging\n"
"  trails list [--output table|json]      DescribeTrails\n"
"  trails status NAME [--output table|json]  GetTrailStatus (with the backlog)\n"
"  trails deliver [--once] [--max-age S] [--max-events N] [--digest-period S]\n"
"        delivers for every logging trail (what `serve` does in the background);\n"
"        --once: deliver everything pending now (and a digest of it) and exit.\n"
"  trails public-key                      the PEM key that verifies digests\n"
"  trails verify [NAME] [--folder DIR] [--public-key FILE] [--all]\n"
"        checks delivered files against the signed digests: each file valid,\n"
"        modified, missing or not covered; the digest chain intact or broken.\n"
"        NAME: a folder trail's own folder; --folder: any copy of a trail's\n"
"        objects (e.g. `aws s3 cp --recursive`), with the public key file.\n"
"        Prints the problems (--all: every file); exit 1 when there is one.\n"
"  trails help-dest [TYPE]                destination types and their options\n"
"\n"
"trail options (ActionTrail parameter in brackets):\n"
"  --event-rw Write|Read|All      [EventRW] default Write\n"
"  --trail-region All|R1,R2       [TrailRegion] default All\n"
"  --event-types T1,T2|All        [EventTypes] e.g. ApiCall,ConsoleSignin\n"
"  --oss-bucket NAME              [OssBucketName] implies --dest s3\n"
"  --oss-prefix PREFIX            [OssKeyPrefix]\n"
"  --home-region R                [HomeRegion] default cn-hangzhou\n"
"  --org                          [IsOrganizationTrail] create only, management account only\n"
"  --dest folder|s3               [DestinationType]\n"
"  --opt KEY=VALUE                destination option (repeatable), see help-dest\n"
"\n"
"common options:\n"
"  --account ID    the account acting (default " TK_DEFAULT_ACCOUNT ")\n"
"  --data DIR      data directory (default: $TRAILKEEP_DATA or ./data)\n"
"  -h, --help      this help\n"
"\n"
"exit status: 0 ok; 1 failure; 2 usage error or invalid parameter.\n"
"\n"
"examples:\n"
"  trailkeep trails create audit-archive --dest folder --opt path=/srv/trail\n"
"  trailkeep trails create to-oss --oss-bucket audit-logs --oss-prefix prod \\\n"
"      --opt endpoint=https://oss-cn-hangzhou.aliyuncs.com --opt region=cn-hangzhou\n"
"  trailkeep trails start audit-archive\n"
"  trailkeep trails status audit-archive\n",
        f);
}

#define MAXP 64

typedef struct {
    const char *dir, *account, *output, *max_age, *max_events, *digest_period, *folder, *pubkey;
    const char *pos[2];
    int npos, once, all;
    tk_trail_param_t p[MAXP];
    size_t np;
    char *owned[MAXP];
    size_t nowned;
} args_t;

static void args_free(args_t *a)
{
    for (size_t i = 0; i < a->nowned; i++)
        free(a->owned[i]);
}

static int add_param(args_t *a, const char *name, const char *value)
{
    if (a->np >= MAXP) {
        fprintf(stderr, "trailkeep trails: too many options\n");
        return 2;
    }
    a->p[a->np].name = name;
    a->p[a->np].value = value;
    a->np++;
    return 0;
}

static int parse(int argc, char **argv, args_t *a)
{
    static const struct { const char *flag, *param; } map[] = {
        {"--event-rw", "EventRW"},         {"--trail-region", "TrailRegion"},
        {"--event-types", "EventTypes"},   {"--oss-bucket", "OssBucketName"},
        {"--oss-prefix", "OssKeyPrefix"},  {"--home-region", "HomeRegion"},
        {"--dest", "DestinationType"},
    };
    const char *cmd = "trails";
    for (int i = 2; i < argc; i++) {
        const char *v = NULL;
        int r = 0, hit = 0;
        if (tk_cli_is_help(argv[i]))
            return -1;
        for (size_t k = 0; k < TK_ARRAY_LEN(map) && !hit; k++) {
            if ((r = tk_cli_opt(argc, argv, &i, cmd, map[k].flag, &v)) < 0)
                return 2;
            if (r) {
                hit = 1;
                if (add_param(a, map[k].param, v))
                    return 2;
            }
        }
        if (hit)
            continue;
        if ((r = tk_cli_opt(argc, argv, &i, cmd, "--opt", &v)) != 0) {
            const char *eq = r > 0 ? strchr(v, '=') : NULL;
            if (!eq || eq == v) {
                if (r > 0)
                    fprintf(stderr, "trailkeep trails: --opt '%s' must be KEY=VALUE\n", v);
                return 2;
            }
            char *name = malloc((size_t)(eq - v) + 6);
            if (!name)
                return 1;
            snprintf(name, (size_t)(eq - v) + 6, "Dest.%.*s", (int)(eq - v), v);
            a->owned[a->nowned++] = name;
            if (add_param(a, name, eq + 1))
                return 2;
        } else if ((r = tk_cli_opt(argc, argv, &i, cmd, "--data", &a->dir)) ||
                   (r = tk_cli_opt(argc, argv, &i, cmd, "--account", &a->account)) ||
                   (r = tk_cli_opt(argc, argv, &i, cmd, "--output", &a->output)) ||
                   (r = tk_cli_opt(argc, argv, &i, cmd, "--max-age", &a->max_age)) ||
                   (r = tk_cli_opt(argc, argv, &i, cmd, "--max-events", &a->max_events)) ||
                   (r = tk_cli_opt(argc, argv, &i, cmd, "--digest-period", &a->digest_period)) ||
                   (r = tk_cli_opt(argc, argv, &i, cmd, "--folder", &a->folder)) ||
                   (r = tk_cli_opt(argc, argv, &i, cmd, "--public-key", &a->pubkey))) {
            if (r < 0)
                return 2;
        } else if (!strcmp(argv[i], "--org")) {
            if (add_param(a, "IsOrganizationTrail", "true"))
                return 2;
        } else if (!strcmp(argv[i], "--once")) {
            a->once = 1;
        } else if (!strcmp(argv[i], "--all")) {
            a->all = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "trailkeep trails: unknown option %s (see trailkeep trails --help)\n",
                    argv[i]);
            return 2;
        } else if (a->npos < 2) {
            a->pos[a->npos++] = argv[i];
        } else {
            fprintf(stderr, "trailkeep trails: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    if (a->output && strcmp(a->output, "table") && strcmp(a->output, "json")) {
        fprintf(stderr, "trailkeep trails: --output must be table or json\n");
        return 2;
    }
    return 0;
}

static int fail(const char *what, int rc, const char *err)
{
    fprintf(stderr, "trailkeep trails %s: %s\n", what, err);
    return rc == TK_EINVAL ? 2 : 1;
}

/* Opens meta and, when need_store, the store (exclusively). */
static int open_all(const char *what, const char *dir, int need_store, tk_meta_t **m,
                    tk_store_t **s)
{
    char err[TK_ERRLEN];
    *m = NULL;
    *s = NULL;
    if (!tk_fs_exists(dir)) {
        fprintf(stderr, "trailkeep trails %s: data directory '%s' does not exist; give --data DIR\n",
                what, dir);
        return 1;
    }
    if (tk_meta_open(dir, m, err))
        return fail(what, 1, err);
    if (need_store) {
        tk_store_opts_t so = {.dir = dir};
        int rc = tk_store_open(&so, s, err);
        if (rc) {
            fprintf(stderr, "trailkeep trails %s: cannot open the store in %s: %s%s\n", what, dir,
                    err,
                    rc == TK_EBUSY ? " (a trailkeep serve holds it: use its /v1/trails API, or "
                                     "stop it first)"
                                   : "");
            tk_meta_close(*m);
            *m = NULL;
            return 1;
        }
    }
    return 0;
}

static void print_trail_json(void *ud, const tk_trail_t *t)
{
    int *n = ud;
    tk_buf_t b = TK_BUF_INIT;
    tk_trail_to_json(t, &b);
    printf("%s%s", (*n)++ ? ",\n  " : "\n  ", b.p);
    tk_buf_free(&b);
}

static void add_trail_row(void *ud, const tk_trail_t *t)
{
    tk_table_t *tb = ud;
    const char *cells[7] = {t->name, t->account, t->is_logging ? "Enable" : "Disable",
                            t->event_rw, t->trail_region, t->dest_type,
                            t->is_org ? "yes" : "no"};
    tk_table_add(tb, cells);
}

static int cmd_help_dest(const args_t *a)
{
    const tk_dest_t *const *reg;
    size_t n = tk_dests(&reg);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        const tk_dest_t *d = reg[i];
        if (a->npos && strcmp(a->pos[0], d->name))
            continue;
        found = 1;
        printf("%s: %s\n", d->name, d->description);
        printf("  %-18s %-7s %-24s %s\n", "layout", "string", "actiontrail",
               "object names and content: actiontrail (OSS) or cloudtrail (S3)");
        for (size_t k = 0; k < d->noptions; k++) {
            const tk_dest_option_t *o = &d->options[k];
            printf("  %-18s %-7s %-24s %s%s\n", o->name,
                   o->type == TK_OPT_INT ? "int" : o->type == TK_OPT_BOOL ? "bool" : "string",
                   o->def ? o->def : (o->required ? "(required)" : "-"), o->description, "");
        }
    }
    if (!found) {
        fprintf(stderr, "trailkeep trails help-dest: unknown destination '%s'\n", a->pos[0]);
        return 2;
    }
    return 0;
}

static volatile sig_atomic_t g_stop;
static void on_sig(int s)
{
    (void)s;
    g_stop = 1;
}

static int cmd_deliver(const args_t *a, const char *dir)
{
    long age = 60, maxev = 10000, dper = 3600;
    if ((a->max_age && tk_cli_parse_long(a->max_age, 1, 86400, &age)) ||
        (a->max_events && tk_cli_parse_long(a->max_events, 1, 10000000, &maxev)) ||
        (a->digest_period && tk_cli_parse_long(a->digest_period, 1, 86400 * 7, &dper))) {
        fprintf(stderr, "trailkeep trails deliver: --max-age is 1-86400 s, --max-events "
                        "1-10000000, --digest-period 1-604800 s\n");
        return 2;
    }
    tk_meta_t *m;
    tk_store_t *s;
    if (open_all("deliver", dir, 1, &m, &s))
        return 1;
    char err[TK_ERRLEN];
    tk_trail_deliver_opts_t o = {.file_max_age_s = (int)age, .file_max_events = (size_t)maxev,
                                 .digest_dir = dir, .digest_period_s = (int)dper};
    tk_trail_deliverer_t *d = NULL;
    int rc = tk_trail_deliverer_create(m, s, &o, &d, err), code = 0;
    if (rc) {
        code = fail("deliver", rc, err);
    } else if (a->once) {
        size_t n = 0;
        rc = tk_trail_deliver_once(d, 1, &n, err);
        printf("delivered %zu events\n", n);
        if (rc)
            code = fail("deliver", rc, err);
    } else {
        signal(SIGINT, on_sig);
        signal(SIGTERM, on_sig);
        fprintf(stderr, "trailkeep trails deliver: running (Ctrl-C to stop)\n");
        while (!g_stop) {
            size_t n = 0;
            if (tk_trail_deliver_once(d, 0, &n, err))
                fprintf(stderr, "trailkeep trails deliver: %s (will retry)\n", err);
            else if (n)
                fprintf(stderr, "trailkeep trails deliver: delivered %zu events\n", n);
            struct timespec ts = {1, 0};
            nanosleep(&ts, NULL);
        }
    }
    tk_trail_deliverer_destroy(d);
    /* Sealing persists the trails' log retention in the store manifest. */
    if (tk_store_seal(s, err))
        fprintf(stderr, "trailkeep trails deliver: seal: %s\n", err);
    tk_store_close(s);
    tk_meta_close(m);
    return code;
}

static int cmd_status(const args_t *a, const char *dir, const char *account)
{
    tk_meta_t *m;
    tk_store_t *s;
    char err[TK_ERRLEN];
    if (open_all("status", dir, 0, &m, &s))
        return 1;
    /* The store gives the backlog; a running server holds it, then the
     * backlog is left out rather than failing. */
    tk_store_opts_t so = {.dir = dir, .read_only = 1};
    if (tk_store_open(&so, &s, err))
        s = NULL;
    tk_trail_status_t st;
    int rc = tk_trail_get_status(m, s, account, a->pos[0], &st, err);
    tk_store_close(s);
    tk_meta_close(m);
    if (rc)
        return fail("status", rc, err);
    tk_buf_t b = TK_BUF_INIT;
    if (a->output && !strcmp(a->output, "json")) {
        tk_trail_status_to_json(&st, &b);
        printf("%s\n", b.p);
    } else {
        char t1[32] = "-", t2[32] = "-", t3[32] = "-";
        if (st.start_logging_ms)
            tk_time_format(st.start_logging_ms, 0, t1);
        if (st.stop_logging_ms)
            tk_time_format(st.stop_logging_ms, 0, t2);
        if (st.latest_delivery_ms)
            tk_time_format(st.latest_delivery_ms, 0, t3);
        printf("IsLogging:           %s\nStartLoggingTime:    %s\nStopLoggingTime:     %s\n"
               "LatestDeliveryTime:  %s\nLatestDeliveryError: %s\nCheckpointSeq:       %llu\n"
               "Backlog:             %llu\nDeliveredEvents:     %llu\nDeliveredFiles:      %llu\n",
               st.is_logging ? "true" : "false", t1, t2, t3,
               st.latest_delivery_error[0] ? st.latest_delivery_error : "-",
               (unsigned long long)st.checkpoint_seq, (unsigned long long)st.backlog,
               (unsigned long long)st.delivered_events, (unsigned long long)st.delivered_files);
    }
    tk_buf_free(&b);
    return 0;
}

static void verify_line(void *ud, const char *kind, const char *object, const char *status,
                        const char *detail)
{
    int *all = ud;
    if (*all || strcmp(status, "valid"))
        printf("%-11s %-6s %s%s%s\n", status, kind, object, *detail ? "  - " : "", detail);
}

static int cmd_public_key(const char *dir)
{
    char fp[65], err[TK_ERRLEN];
    tk_buf_t pem = TK_BUF_INIT;
    if (!tk_fs_exists(dir)) {
        fprintf(stderr, "trailkeep trails public-key: data directory '%s' does not exist\n", dir);
        return 1;
    }
    int rc = tk_trail_public_key(dir, &pem, fp, err);
    if (rc)
        return fail("public-key", rc, err);
    printf("%s# fingerprint (SHA-256 of the DER public key): %s\n", pem.p, fp);
    tk_buf_free(&pem);
    return 0;
}

static int cmd_verify(const args_t *a, const char *dir, const char *account)
{
    char err[TK_ERRLEN], fp[65], folder[4200] = "";
    tk_buf_t pem = TK_BUF_INIT;
    int rc = 0;
    if (a->npos == 1) {
        tk_meta_t *m;
        tk_store_t *s;
        if (open_all("verify", dir, 0, &m, &s))
            return 1;
        tk_trail_t t;
        rc = tk_trail_get(m, account, a->pos[0], &t, err);
        tk_meta_close(m);
        if (rc)
            return fail("verify", rc, err);
        if (!a->folder && strcmp(t.dest_type, "folder")) {
            fprintf(stderr, "trailkeep trails verify: trail %s delivers to %s: copy its objects "
                            "to a folder (aws s3 cp --recursive) and give --folder\n",
                    t.name, t.dest_type);
            return 2;
        }
        if (!a->folder) {
            cJSON *o = cJSON_Parse(t.dest_options);
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "path");
            if (cJSON_IsString(p))
                snprintf(folder, sizeof folder, "%s", p->valuestring);
            cJSON_Delete(o);
            if (!folder[0]) {
                fprintf(stderr, "trailkeep trails verify: trail %s has no folder path\n", t.name);
                return 1;
            }
        }
    } else if (!a->folder) {
        fprintf(stderr, "trailkeep trails verify: give a trail NAME or --folder DIR\n");
        return 2;
    }
    if (a->folder)
        snprintf(folder, sizeof folder, "%s", a->folder);
    if (a->pubkey) {
        char *p;
        size_t n;
        if ((rc = tk_fs_read_all(a->pubkey, &p, &n, err)))
            return fail("verify", rc, err);
        tk_buf_append(&pem, p, n);
        free(p);
    } else if ((rc = tk_trail_public_key(dir, &pem, fp, err))) {
        return fail("verify", rc, err);
    }
    tk_trail_verify_summary_t sum;
    int all = a->all;
    rc = tk_trail_verify_folder(folder, pem.p, verify_line, &all, &sum, err);
    tk_buf_free(&pem);
    if (rc)
        return fail("verify", rc, err);
    printf("verified %s: %zu digest(s) (%zu valid), %zu log file(s) valid, %zu problem(s); "
           "digest chain %s\n",
           folder, sum.digests, sum.digests_valid, sum.logs_valid, sum.problems,
           sum.chain_intact ? "intact" : sum.digests ? "BROKEN" : "absent (no digest yet)");
    return sum.problems || !sum.chain_intact ? 1 : 0;
}

int tk_cmd_trails(int argc, char **argv)
{
    if (argc < 2 || tk_cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    args_t a;
    memset(&a, 0, sizeof a);
    int code = parse(argc, argv, &a);
    if (code) {
        if (code < 0)
            usage(stdout);
        args_free(&a);
        return code < 0 ? 0 : code;
    }
    const char *sub = argv[1];
    const char *dir = a.dir ? a.dir : tk_cli_default_data();
    const char *account = a.account ? a.account : TK_DEFAULT_ACCOUNT;
    tk_trail_caller_t caller = {.account = account, .user_agent = "trailkeep-cli"};
    int named = !strcmp(sub, "create") || !strcmp(sub, "update") || !strcmp(sub, "delete") ||
                !strcmp(sub, "start") || !strcmp(sub, "stop") || !strcmp(sub, "status");
    if (named && a.npos != 1) {
        fprintf(stderr, "trailkeep trails %s: give exactly one trail NAME\n", sub);
        args_free(&a);
        return 2;
    }
    char err[TK_ERRLEN] = "";
    tk_meta_t *m = NULL;
    tk_store_t *s = NULL;
    if (!strcmp(sub, "help-dest")) {
        code = cmd_help_dest(&a);
    } else if (!strcmp(sub, "public-key")) {
        code = cmd_public_key(dir);
    } else if (!strcmp(sub, "verify")) {
        code = cmd_verify(&a, dir, account);
    } else if (!strcmp(sub, "deliver")) {
        code = cmd_deliver(&a, dir);
    } else if (!strcmp(sub, "status")) {
        code = cmd_status(&a, dir, account);
    } else if (!strcmp(sub, "list")) {
        if (!(code = open_all("list", dir, 0, &m, &s))) {
            int rc;
            if (a.output && !strcmp(a.output, "json")) {
                int n = 0;
                printf("{\"TrailList\":[");
                rc = tk_trail_describe(m, account, NULL, print_trail_json, &n, err);
                printf("%s]}\n", n ? "\n" : "");
            } else {
                static const char *const hdr[] = {"NAME", "ACCOUNT", "STATUS", "EVENTRW",
                                                  "REGIONS", "DEST", "ORG"};
                static const int maxw[] = {36, 20, 8, 7, 40, 8, 3};
                tk_table_t tb;
                tk_table_init(&tb, 7, hdr, maxw);
                rc = tk_trail_describe(m, account, NULL, add_trail_row, &tb, err);
                if (tb.rows)
                    tk_table_flush(&tb, stdout);
                else if (!rc)
                    printf("no trails (create one with `trailkeep trails create NAME ...`)\n");
                tk_table_free(&tb);
            }
            code = rc ? fail("list", rc, err) : 0;
        }
    } else if (named) {
        if (!(code = open_all(sub, dir, 1, &m, &s))) {
            int rc;
            const char *name = a.pos[0];
            if (!strcmp(sub, "create") || !strcmp(sub, "update")) {
                tk_trail_param_t p[MAXP + 1];
                p[0].name = "Name";
                p[0].value = name;
                memcpy(p + 1, a.p, a.np * sizeof *p);
                tk_trail_t t;
                rc = (!strcmp(sub, "create") ? tk_trail_create : tk_trail_update)(
                    m, s, &caller, p, a.np + 1, &t, err);
                /* The store keeps a consumer's log across other processes'
                 * seals (import) only once its manifest lists the consumer,
                 * which a seal writes. */
                if (!rc && !strcmp(sub, "create") && tk_store_seal(s, err))
                    fprintf(stderr, "trailkeep trails create: warning: %s\n", err);
                if (!rc) {
                    tk_buf_t b = TK_BUF_INIT;
                    tk_trail_to_json(&t, &b);
                    printf("%s\n", b.p);
                    tk_buf_free(&b);
                    if (!strcmp(sub, "create"))
                        fprintf(stderr, "trailkeep trails: trail %s created, stopped; start it "
                                        "with `trailkeep trails start %s`\n", name, name);
                }
            } else if (!strcmp(sub, "delete")) {
                rc = tk_trail_delete(m, s, &caller, name, err);
            } else if (!strcmp(sub, "start")) {
                rc = tk_trail_start_logging(m, s, &caller, name, err);
            } else {
                rc = tk_trail_stop_logging(m, s, &caller, name, err);
            }
            code = rc ? fail(sub, rc, err) : 0;
        }
    } else {
        fprintf(stderr, "trailkeep trails: unknown command '%s' (see trailkeep trails --help)\n",
                sub);
        code = 2;
    }
    tk_store_close(s);
    tk_meta_close(m);
    args_free(&a);
    return code;
}

/* trailkeep trails: manage trails (ActionTrail's CreateTrail ... StopLogging)
 * and run delivery without a server. Changes are recorded as ActionTrail
 * events, so the command needs the store: while `trailkeep serve` holds it,
 * use the server's API instead. */
#include "cli/cli.h"
#include "cli/util.h"

#include "base/buf.h"
#include "base/egress.h"
#include "base/fs.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "meta/meta.h"
#include "store/store.h"
#include "trail/dest.h"
#include "trail/s3_client.h"
#include "trail/trail.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
"  trails verify --bucket s3://BUCKET[/PREFIX] --public-key FILE [--endpoint URL]\n"
"        [--region R] [--path-style] [--page-size N] [--max-objects N]\n"
"        checks delivered files against the signed digests: each file valid,\n"
"        modified, missing or not covered; the digest chain intact or broken.\n"
"        NAME: a trail's own folder or bucket (s3 trails: its endpoint and\n"
"        credentials, else AWS_* from the environment); --folder: any copy\n"
"        of a trail's objects (e.g. `aws s3 cp --recursive`), with the public\n"
"        key file;\n"
"        --bucket: the objects straight from an S3-compatible bucket (listed,\n"
"        downloaded to a private temporary folder, removed afterwards), with\n"
"        AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY [/ AWS_SESSION_TOKEN] from the\n"
"        environment; --endpoint default https://s3.amazonaws.com, --region\n"
"        default us-east-1, --path-style for ENDPOINT/BUCKET/KEY addressing,\n"
"        --page-size keys per listing request (1-1000, default 1000),\n"
"        --max-objects N: stop with an error past N listed objects (default\n"
"        1000000; at most 100000 listing pages, answers of at most 8 MiB).\n"
"        Prints the problems (--all: every file); exit 1 when there is one or\n"
"        the bucket cannot be read.\n"
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
"operator policy (the same as serve's, for commands that act for a tenant):\n"
"  --trail-folder-root DIR     create/update/deliver: folder trails live under DIR\n"
"                              (repeatable; default DATA/trail-folders)\n"
"  --allow-private-endpoints   create/update/deliver/verify NAME: a trail's S3\n"
"                              endpoint or syslog host may be a private or loopback\n"
"                              address (never link-local or cloud metadata)\n"
"\n"
"common options:\n"
"  --account ID    the account acting (default " TK_DEFAULT_ACCOUNT ")\n"
"  --data DIR      data directory (default: $TRAILKEEP_DATA or ./data)\n"
"  -h, --help      this help\n"
"\n"
"exit status: 0 ok; 1 failure; 2 usage error or invalid parameter.\n"
"\n"
"examples:\n"
"  trailkeep trails create audit-archive --dest folder --opt path=/srv/trail \\\n"
"      --trail-folder-root /srv/trail\n"
"  trailkeep trails create to-oss --oss-bucket audit-logs --oss-prefix prod \\\n"
"      --opt endpoint=https://oss-cn-hangzhou.aliyuncs.com --opt region=cn-hangzhou\n"
"  trailkeep trails start audit-archive\n"
"  trailkeep trails status audit-archive\n",
        f);
}

#define MAXP 64

typedef struct {
    const char *dir, *account, *output, *max_age, *max_events, *digest_period, *folder, *pubkey;
    const char *bucket, *endpoint, *region, *page_size, *max_objects;
    const char *pos[2];
    int npos, once, all, path_style, allow_private;
    const char *roots[16];      /* --trail-folder-root */
    size_t nroots;
    tk_trail_param_t p[MAXP];
    size_t np;
    char *owned[MAXP];
    size_t nowned;
} args_t;

static void args_free(args_t *a)
{
    if (!a)
        return;
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
                   (r = tk_cli_opt(argc, argv, &i, cmd, "--public-key", &a->pubkey)) ||
                   (r = tk_cli_opt(argc, argv, &i, cmd, "--bucket", &a->bucket)) ||
                   (r = tk_cli_opt(argc, argv, &i, cmd, "--endpoint", &a->endpoint)) ||
                   (r = tk_cli_opt(argc, argv, &i, cmd, "--region", &a->region)) ||
                   (r = tk_cli_opt(argc, argv, &i, cmd, "--page-size", &a->page_size)) ||
                   (r = tk_cli_opt(argc, argv, &i, cmd, "--max-objects", &a->max_objects))) {
            if (r < 0)
                return 2;
        } else if ((r = tk_cli_opt(argc, argv, &i, cmd, "--trail-folder-root", &v))) {
            if (r < 0)
                return 2;
            if (a->nroots == TK_ARRAY_LEN(a->roots)) {
                fprintf(stderr, "trailkeep trails: at most %zu --trail-folder-root\n",
                        TK_ARRAY_LEN(a->roots));
                return 2;
            }
            a->roots[a->nroots++] = v;
        } else if (!strcmp(argv[i], "--allow-private-endpoints")) {
            a->allow_private = 1;
        } else if (!strcmp(argv[i], "--org")) {
            if (add_param(a, "IsOrganizationTrail", "true"))
                return 2;
        } else if (!strcmp(argv[i], "--once")) {
            a->once = 1;
        } else if (!strcmp(argv[i], "--all")) {
            a->all = 1;
        } else if (!strcmp(argv[i], "--path-style")) {
            a->path_style = 1;
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

/* The operator's policy for what this command does for a tenant: the egress
 * switch and the folder roots (DATA/trail-folders unless --trail-folder-root). */
static int apply_policy(const args_t *a, const char *what, const char *dir)
{
    char err[TK_ERRLEN];
    tk_egress_set_allow_private(a->allow_private);
    int rc = tk_dest_folder_set_roots(dir, a->roots, a->nroots, err);
    return rc ? fail(what, rc, err) : 0;
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
    if (apply_policy(a, "deliver", dir)) {
        tk_store_close(s);
        tk_meta_close(m);
        return 2;
    }
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

/* ---- verify --bucket: fetch a bucket's trail objects, then verify them as a folder ---- */

static volatile sig_atomic_t g_verify_stop;
static void on_verify_sig(int s)
{
    g_verify_stop = s;
}
static int verify_should_stop(void *ud)
{
    (void)ud;
    return g_verify_stop != 0;
}

typedef struct {
    int all;
    const char *bucket;
} bucket_line_t;

/* Problems name the object in the bucket, not where it was fetched to. */
static void bucket_verify_line(void *ud, const char *kind, const char *object, const char *status,
                               const char *detail)
{
    const bucket_line_t *b = ud;
    if (b->all || strcmp(status, "valid"))
        printf("%-11s %-6s s3://%s/%s%s%s\n", status, kind, b->bucket, object,
               *detail ? "  - " : "", detail);
}

/* Only what the check reads: log files and digests (.gz) and signatures (.sig). */
static int wanted_key(const char *k)
{
    size_t n = strlen(k);
    return (n > 3 && !strcmp(k + n - 3, ".gz")) || (n > 4 && !strcmp(k + n - 4, ".sig"));
}

/* Downloads key into root/key (a new file, 0600). */
static int fetch_object(tk_s3_t *s3, const char *root, const char *key, uint64_t *bytes, char *err)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", root, key) >= (int)sizeof path)
        return tk_errf(err, TK_ETOOBIG, "key too long for a local path");
    char *slash = strrchr(path, '/');
    *slash = 0;
    int rc = tk_fs_mkdirs(path, err);
    *slash = '/';
    if (rc)
        return rc;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return tk_errf(err, tk_from_errno(errno), "cannot create %s: %s", path, strerror(errno));
    rc = tk_s3_get(s3, key, fd, bytes, err);
    if (close(fd) && !rc)
        rc = tk_errf(err, TK_EIO, "cannot write %s: %s", path, strerror(errno));
    return rc;
}

/* "listed N, fetched M (size)" redrawn in place on a terminal, at most 5 times a second. */
typedef struct {
    int on, drawn;
    struct timespec last;
} fetch_progress_t;

static void fetch_progress(fetch_progress_t *p, int force, size_t listed, size_t fetched,
                           uint64_t bytes)
{
    if (!p->on)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (now.tv_sec - p->last.tv_sec) * 1000L + (now.tv_nsec - p->last.tv_nsec) / 1000000L;
    if (!force && p->drawn && ms < 200)
        return;
    p->last = now;
    char b[32];
    fprintf(stderr, "\r\033[Ktrailkeep verify: %zu object(s) listed, %zu fetched (%s)", listed,
            fetched, tk_cli_fmt_bytes(bytes, b));
    fflush(stderr);
    p->drawn = 1;
}

static void fetch_progress_clear(fetch_progress_t *p)
{
    if (p->on && p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = 0;
    }
}

/* Lists the prefix page by page and fetches each wanted object into root.
 * Unsafe keys are reported (and counted in *rejected), not fetched. A
 * hostile endpoint cannot keep us listing: at most max_objects keys and
 * TK_S3_LIST_MAX_PAGES pages (TK_ETOOBIG). */
static int fetch_bucket(tk_s3_t *s3, const char *bucket, const char *prefix, const char *root,
                        long max_objects, size_t *fetched, size_t *rejected, char *err)
{
    size_t pages = 0;
    fetch_progress_t prog = {.on = isatty(2)};
    char *token = NULL;
    size_t listed = 0;
    uint64_t total = 0;
    int rc = 0;
    do {
        tk_s3_list_page_t page;
        rc = tk_s3_list(s3, prefix, token, &page, err);
        if (!rc && ++pages > TK_S3_LIST_MAX_PAGES)
            rc = tk_errf(err, TK_ETOOBIG, "s3://%s/%s: more than %d listing pages: stopped (narrow "
                         "the prefix, or raise --page-size)", bucket, prefix, TK_S3_LIST_MAX_PAGES);
        for (size_t i = 0; !rc && i < page.nkeys; i++) {
            const char *k = page.keys[i];
            if (++listed > (size_t)max_objects) {
                rc = tk_errf(err, TK_ETOOBIG, "s3://%s/%s: more than %ld objects listed: stopped "
                             "(narrow the prefix, or raise --max-objects)", bucket, prefix,
                             max_objects);
                break;
            }
            if (g_verify_stop) {
                rc = tk_errf(err, TK_ECLOSED, "interrupted");
                break;
            }
            if (!wanted_key(k))
                continue;
            if (!tk_s3_key_is_safe(k)) {
                fetch_progress_clear(&prog);
                printf("%-11s %-6s s3://%s/%s  - %s\n", "rejected", "object", bucket, k,
                       "the key is not a safe relative path ('..', '.', empty component, "
                       "leading '/' or control character): not fetched");
                (*rejected)++;
                continue;
            }
            uint64_t b = 0;
            char e2[TK_ERRLEN];
            if ((rc = fetch_object(s3, root, k, &b, e2))) {
                tk_errf(err, rc, "%s", e2);
                break;
            }
            total += b;
            (*fetched)++;
            fetch_progress(&prog, 0, listed, *fetched, total);
        }
        fetch_progress(&prog, 0, listed, *fetched, total);
        if (!rc && page.truncated && token && !strcmp(token, page.next_token))
            rc = tk_errf(err, TK_ECORRUPT, "the bucket returned the same continuation token twice");
        free(token);
        token = NULL;
        if (!rc && page.truncated && !(token = strdup(page.next_token)))
            rc = tk_errf(err, TK_ENOMEM, "out of memory");
        tk_s3_list_page_free(&page);
    } while (!rc && token);
    free(token);
    fetch_progress_clear(&prog);
    if (!rc && prog.on) {
        char b[32];
        fprintf(stderr, "trailkeep verify: %zu object(s) listed under s3://%s/%s, %zu fetched (%s)\n",
                listed, bucket, prefix, *fetched, tk_cli_fmt_bytes(total, b));
    }
    return rc;
}

/* What verify --bucket reads, from the command line or from an s3 trail. */
typedef struct {
    const char *bucket, *prefix;            /* prefix "" or ending in '/' */
    const char *endpoint, *region, *ak, *sk, *token;
    int path_style, all;
    int allow_private;                      /* egress policy for the endpoint */
    long page_size, max_objects;
} bucket_job_t;

static int run_bucket(const bucket_job_t *j, const tk_buf_t *pem);

static int verify_bucket(const args_t *a, const tk_buf_t *pem)
{
    const char *url = a->bucket;
    if (strncmp(url, "s3://", 5) || !url[5] || url[5] == '/') {
        fprintf(stderr, "trailkeep trails verify: --bucket must be s3://BUCKET[/PREFIX], not '%s'\n",
                url);
        return 2;
    }
    char bucket[256], prefix[1024];
    const char *b = url + 5, *sl = strchr(b, '/');
    size_t bl = sl ? (size_t)(sl - b) : strlen(b);
    if (bl >= sizeof bucket) {
        fprintf(stderr, "trailkeep trails verify: bucket name too long\n");
        return 2;
    }
    snprintf(bucket, sizeof bucket, "%.*s", (int)bl, b);
    /* "prod/trail" lists "prod/trail/..." only, not "prod/trail2/...". */
    const char *p = sl ? sl + 1 : "";
    size_t pl = strlen(p);
    if (pl + 2 > sizeof prefix) {
        fprintf(stderr, "trailkeep trails verify: prefix too long\n");
        return 2;
    }
    snprintf(prefix, sizeof prefix, "%s%s", p, pl && p[pl - 1] != '/' ? "/" : "");
    long page_size = 0;
    if (a->page_size && tk_cli_parse_long(a->page_size, 1, 1000, &page_size)) {
        fprintf(stderr, "trailkeep trails verify: --page-size is 1-1000\n");
        return 2;
    }
    long max_objects = TK_S3_LIST_MAX_OBJECTS_DEFAULT;
    if (a->max_objects && tk_cli_parse_long(a->max_objects, 1, 1000000000L, &max_objects)) {
        fprintf(stderr, "trailkeep trails verify: --max-objects is 1-1000000000\n");
        return 2;
    }
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    if (!ak || !*ak || !sk || !*sk) {
        fprintf(stderr, "trailkeep trails verify: --bucket reads the bucket with the credentials "
                        "in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN "
                        "for temporary ones): set them (read-only access is enough)\n");
        return 2;
    }
    bucket_job_t job = {
        .bucket = bucket,
        .prefix = prefix,
        .endpoint = a->endpoint ? a->endpoint : "https://s3.amazonaws.com",
        .region = a->region ? a->region : "us-east-1",
        .ak = ak,
        .sk = sk,
        .token = getenv("AWS_SESSION_TOKEN"),
        .path_style = a->path_style,
        .all = a->all,
        /* The endpoint is the caller's own, typed on this command line, not
         * a tenant's: private and loopback addresses are allowed (link-local
         * and metadata addresses still are not). */
        .allow_private = 1,
        .page_size = page_size,
        .max_objects = max_objects,
    };
    return run_bucket(&job, pem);
}

static int run_bucket(const bucket_job_t *j, const tk_buf_t *pem)
{
    const char *bucket = j->bucket, *prefix = j->prefix;
    tk_s3_config_t c = {
        .endpoint = j->endpoint,
        .region = j->region,
        .bucket = bucket,
        .access_key_id = j->ak,
        .secret_access_key = j->sk,
        .session_token = j->token,
        .path_style = j->path_style,
        .timeout_s = 300,
        .list_max_keys = (int)j->page_size,
        .allow_private = j->allow_private,
        .should_abort = verify_should_stop,
    };
    char err[TK_ERRLEN];
    tk_s3_t *s3;
    int rc = tk_s3_open(&c, &s3, err);
    if (rc)
        return fail("verify", rc, err);
    const char *tmpdir = getenv("TMPDIR");
    char root[PATH_MAX];
    snprintf(root, sizeof root, "%s/trailkeep-verify-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(root)) { /* mkdtemp makes it 0700: nobody else reads what is fetched */
        fprintf(stderr, "trailkeep trails verify: cannot create a temporary folder %s: %s (set "
                        "TMPDIR)\n", root, strerror(errno));
        tk_s3_close(s3);
        return 1;
    }
    /* Interrupted: stop the transfer, remove the folder, then report. */
    struct sigaction sa, old_int, old_term, old_hup;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_verify_sig;
    sigemptyset(&sa.sa_mask);
    g_verify_stop = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    size_t fetched = 0, rejected = 0;
    rc = fetch_bucket(s3, bucket, prefix, root,
                      j->max_objects > 0 ? j->max_objects : TK_S3_LIST_MAX_OBJECTS_DEFAULT,
                      &fetched, &rejected, err);
    tk_s3_close(s3);
    int code = 0;
    tk_trail_verify_summary_t sum;
    memset(&sum, 0, sizeof sum);
    if (rc) {
        fprintf(stderr, "trailkeep trails verify: %s\n", err);
        code = 1;
    } else if (!g_verify_stop) {
        bucket_line_t bl2 = {j->all, bucket};
        rc = tk_trail_verify_folder(root, pem->p, bucket_verify_line, &bl2, &sum, err);
        if (rc)
            code = fail("verify", rc, err);
    }
    tk_fs_remove_tree(root);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    if (g_verify_stop) {
        fprintf(stderr, "trailkeep trails verify: interrupted; the temporary folder was removed\n");
        return 128 + (int)g_verify_stop;
    }
    if (code)
        return code;
    sum.problems += rejected;
    printf("verified s3://%s/%s: %zu object(s) fetched, %zu digest(s) (%zu valid), %zu log "
           "file(s) valid, %zu problem(s); digest chain %s\n",
           bucket, prefix, fetched, sum.digests, sum.digests_valid, sum.logs_valid, sum.problems,
           sum.chain_intact ? "intact" : sum.digests ? "BROKEN" : "absent (no digest found)");
    return sum.problems || !sum.chain_intact ? 1 : 0;
}

static const char *json_opt(const cJSON *o, const char *k, const char *def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) && *v->valuestring ? v->valuestring : def;
}

/* `trails verify NAME` of an s3 trail: its own bucket, prefix, endpoint and
 * credentials (the trail's, else the environment's), this data directory's
 * public key unless --public-key. */
static int verify_s3_trail(const args_t *a, const char *dir, const tk_trail_t *t)
{
    char err[TK_ERRLEN], fp[65], prefix[300];
    tk_buf_t pem = TK_BUF_INIT;
    int rc;
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
    cJSON *o = cJSON_Parse(t->dest_options);
    const char *ak = json_opt(o, "access_key_id", NULL), *sk = json_opt(o, "secret_access_key", NULL);
    const char *token = !ak && !sk ? getenv("AWS_SESSION_TOKEN") : NULL;
    if (!ak)
        ak = getenv("AWS_ACCESS_KEY_ID");
    if (!sk)
        sk = getenv("AWS_SECRET_ACCESS_KEY");
    size_t pl = strlen(t->oss_prefix);
    snprintf(prefix, sizeof prefix, "%s%s", t->oss_prefix,
             pl && t->oss_prefix[pl - 1] != '/' ? "/" : "");
    bucket_job_t job = {
        .bucket = json_opt(o, "bucket", t->oss_bucket),
        .prefix = prefix,
        .endpoint = json_opt(o, "endpoint", "https://s3.amazonaws.com"),
        .region = json_opt(o, "region", "us-east-1"),
        .ak = ak,
        .sk = sk,
        .token = token,
        .path_style = !strcmp(json_opt(o, "path_style", "false"), "true"),
        .all = a->all,
        .allow_private = a->allow_private, /* the trail's endpoint is a tenant's */
    };
    if (!ak || !*ak || !sk || !*sk) {
        fprintf(stderr, "trailkeep trails verify: trail %s has no credentials of its own: set "
                        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to read its bucket\n",
                t->name);
        rc = 2;
    } else {
        rc = run_bucket(&job, &pem);
    }
    cJSON_Delete(o);
    tk_buf_free(&pem);
    return rc;
}

static int cmd_verify(const args_t *a, const char *dir, const char *account)
{
    char err[TK_ERRLEN], fp[65], folder[4200] = "";
    tk_buf_t pem = TK_BUF_INIT;
    int rc = 0;
    if (a->bucket) {
        if (a->folder || a->npos) {
            fprintf(stderr, "trailkeep trails verify: --bucket checks a bucket: give no trail NAME "
                            "and no --folder with it\n");
            return 2;
        }
        if (!a->pubkey) {
            fprintf(stderr, "trailkeep trails verify: --bucket needs --public-key FILE (the PEM "
                            "from `trailkeep trails public-key` on the server)\n");
            return 2;
        }
        char *p;
        size_t n;
        if ((rc = tk_fs_read_all(a->pubkey, &p, &n, err)))
            return fail("verify", rc, err);
        tk_buf_append(&pem, p, n);
        free(p);
        rc = verify_bucket(a, &pem);
        tk_buf_free(&pem);
        return rc;
    }
    if (a->endpoint || a->region || a->path_style || a->page_size || a->max_objects) {
        fprintf(stderr, "trailkeep trails verify: --endpoint, --region, --path-style, "
                        "--page-size and --max-objects go with --bucket\n");
        return 2;
    }
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
        if (!a->folder && !strcmp(t.dest_type, "s3"))
            return verify_s3_trail(a, dir, &t);
        if (!a->folder && strcmp(t.dest_type, "folder")) {
            fprintf(stderr, "trailkeep trails verify: trail %s delivers to %s, which keeps no "
                            "files to check\n",
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
        if (!(code = open_all(sub, dir, 1, &m, &s)) && !(code = apply_policy(&a, sub, dir))) {
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

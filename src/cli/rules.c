/* trailkeep rules: try alert rules without a server. `rules test` runs rules
 * (rule JSON, Sigma YAML, template:NAME?param=value) over an events file and
 * prints which events matched and why, and which alerts fired; `rules
 * templates` lists the templates and their parameters; `rules import
 * --dry-run` validates Sigma rules; `rules show` prints a compiled rule. */
#include "cli/cli.h"
#include "cli/util.h"

#include "alert/rule.h"
#include "alert/service.h"
#include "meta/meta.h"
#include "store/store.h"
#include "base/buf.h"
#include "base/egress.h"
#include "base/tk.h"
#include "base/tktime.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
    fputs(
"usage: trailkeep rules COMMAND ...\n"
"\n"
"Alert rules: predefined templates, custom rules (JSON) and Sigma rules (YAML).\n"
"\n"
"commands:\n"
"  test RULE... EVENTS      run rules over events and print matches and alerts\n"
"  templates                list the rule templates and their parameters\n"
"  import FILE|DIR [--dry-run]  store Sigma rules (by their id), or only validate\n"
"  show RULE                print a rule as compiled (condition, threshold)\n"
"\n"
"stored rules (DIR/meta.db; evaluated by `trailkeep serve`):\n"
"  create ID (--template SPEC | --json FILE | --sigma FILE) [--severity S]\n"
"         [--recipients 'alice,group:secops'] [--repeat 1h] [--scope own|org] [--disabled]\n"
"  list [--output table|json|jsonl] | delete ID | enable ID | disable ID\n"
"  user NAME [--email ADDR] [--webhook URL] [--secret S] [--shape generic|dingtalk|slack]\n"
"         [--allow-private-endpoints]  (the webhook may be a private or loopback address)\n"
"  users | user-delete NAME | group NAME --members a,b | groups\n"
"  notify-test ID [--smtp-url URL --smtp-from A --smtp-user U --smtp-ca F]  a test notice\n"
"         to every channel of every recipient now (password: TRAILKEEP_SMTP_PASSWORD)\n"
"  alerts list [--state S] [--rule ID] [--output table|json|jsonl]\n"
"  alerts show ID   the alert and the stored events that made it (JSON)\n"
"  alerts ack ID [--note TEXT] | alerts close ID [--note TEXT]   (kept in its history)\n"
"  (--output: default table on a terminal, jsonl in a pipe)\n"
"  (all take --data DIR and --account ID, default 100000000000000)\n"
"\n"
"RULE is a rule JSON file (docs/rules.md), a Sigma file (.yml/.yaml) or\n"
"template:NAME[?param=value&...]. `trailkeep rules COMMAND --help` for more.\n",
        f);
}

static void usage_test(FILE *f)
{
    fputs(
"usage: trailkeep rules test [options] RULE... EVENTS\n"
"\n"
"Runs each RULE over the events in EVENTS (JSON Lines, a JSON array, or a\n"
"CloudTrail {\"Records\": [...]} file; '-' reads stdin) in file order and prints\n"
"  match  LINE  TIME  RULE  why: the conditions that held (with the values seen)\n"
"  ALERT  LINE  TIME  RULE  severity, group, count in the window and the lines\n"
"                           of the events counted\n"
"A rule without a threshold or suppression alerts on every match (printed once,\n"
"as ALERT). Time comes from each event's eventTime, the account from its\n"
"recipientAccountId.\n"
"\n"
"RULE: a rule JSON file, a Sigma .yml file, a folder of Sigma rules, or\n"
"template:NAME[?param=value&param=value] (lists comma-separated, values URL-encoded).\n"
"\n"
"options:\n"
"  --quiet        print only the summary\n"
"  --no-why       do not print why events matched\n"
"  -h, --help     this help\n"
"\n"
"exit status: 0 ran (whether or not anything fired); 1 a rule or the events could\n"
"not be read; 2 usage error.\n"
"\n"
"examples:\n"
"  trailkeep rules test template:consecutive-logon-failures events.jsonl\n"
"  trailkeep rules test 'template:logon-outside-hours?tz=Europe/Berlin&hours=08:00-19:00' events.jsonl\n"
"  trailkeep rules test my-rule.json sigma/aws_cloudtrail_disable_logging.yml trail.json\n",
        f);
}

static void usage_import(FILE *f)
{
    fputs(
"usage: trailkeep rules import FILE|DIR... [--dry-run] [--data DIR] [--account ID]\n"
"                              [--recipients LIST] [--severity S] [--disabled] [--quiet]\n"
"\n"
"Loads Sigma rules (a file, or every .yml/.yaml under a folder) whose logsource is\n"
"AWS CloudTrail (product: aws, service: cloudtrail) or Alibaba Cloud ActionTrail\n"
"(product: alibaba, service: actiontrail) and stores each in the account's rules\n"
"(DIR/meta.db, evaluated by `trailkeep serve`) under its Sigma id (sigma-<uuid>):\n"
"created, or updated when that id is stored already, so importing a folder again\n"
"changes nothing twice. Prints for each\n"
"  created|updated|loaded  FILE  ID  TITLE\n"
"  refused  FILE  REASON      (the construct that is not supported)\n"
"then a summary. A rule is loaded whole or refused whole.\n"
"\n"
"options:\n"
"  --dry-run      validate only: nothing is stored\n"
"  --recipients LIST  users and group:NAME of the account to notify (must exist)\n"
"  --severity S   instead of each rule's level\n"
"  --disabled     store them disabled\n"
"  --quiet        print refusals and the summary only\n"
"  -h, --help     this help\n"
"\n"
"exit status: 0 every rule loaded; 1 at least one was refused or unreadable;\n"
"2 usage error.\n"
"\n"
"examples:\n"
"  trailkeep rules import sigma/rules/cloudtrail --dry-run\n"
"  trailkeep rules import sigma/rules/cloudtrail --account 1234567890123456 --recipients group:secops\n",
        f);
}

static void usage_templates(FILE *f)
{
    fputs(
"usage: trailkeep rules templates [NAME]\n"
"\n"
"Lists the rule templates with their severity, description and parameters\n"
"(name, default, meaning). Use one as RULE with template:NAME?param=value.\n",
        f);
}

static void usage_show(FILE *f)
{
    fputs(
"usage: trailkeep rules show RULE [--data DIR] [--account ID]\n"
"\n"
"Prints a rule as trailkeep compiled it: id, name, severity, the condition tree,\n"
"threshold, grouping and suppression. RULE is the id of a stored rule of the\n"
"account (as `rules list` shows it; then also its recipients, repeat and scope),\n"
"or as for `rules test`: a rule JSON or Sigma file, or template:NAME[?...].\n"
"\n"
"examples:\n"
"  trailkeep rules show brute --data /var/lib/trailkeep --account 1234567890123456\n"
"  trailkeep rules show 'template:consecutive-logon-failures?failures=7'\n",
        f);
}

static char *read_all(const char *path, size_t *n, char *err)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        tk_errf(err, TK_EIO, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    tk_buf_t b = TK_BUF_INIT;
    char chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (tk_buf_append(&b, chunk, r)) {
            tk_buf_free(&b);
            if (f != stdin)
                fclose(f);
            tk_errf(err, TK_ENOMEM, "out of memory reading %s", path);
            return NULL;
        }
    }
    int bad = ferror(f);
    if (f != stdin)
        fclose(f);
    if (bad) {
        tk_buf_free(&b);
        tk_errf(err, TK_EIO, "cannot read %s", path);
        return NULL;
    }
    if (tk_buf_reserve(&b, 1)) {
        tk_buf_free(&b);
        tk_errf(err, TK_ENOMEM, "out of memory");
        return NULL;
    }
    *n = b.len;
    return tk_buf_steal(&b);
}

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int is_yaml(const char *p)
{
    return has_suffix(p, ".yml") || has_suffix(p, ".yaml");
}

/* Loads one RULE argument (not a folder). Returns owned rule or error. */
static int load_rule(const char *spec, tk_rule_t **out, char *err)
{
    if (!strncmp(spec, "template:", 9))
        return tk_template_compile(spec + 9, out, err);
    size_t n;
    char *text = read_all(spec, &n, err);
    if (!text)
        return TK_EIO;
    char e2[TK_ERRLEN];
    int rc;
    if (is_yaml(spec))
        rc = tk_rule_from_sigma(text, n, spec, out, e2);
    else
        rc = tk_rule_from_json(text, n, out, e2);
    free(text);
    if (rc)
        tk_errf(err, rc, "%s: %s", spec, e2);
    return rc;
}

typedef void (*file_cb)(void *ctx, const char *path);

/* Calls cb for every .yml/.yaml under dir, in name order. */
static int walk_yaml(const char *dir, file_cb cb, void *ctx, char *err)
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    if (n < 0)
        return tk_errf(err, TK_EIO, "cannot read folder %s: %s", dir, strerror(errno));
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        if (name[0] != '.') {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, name);
            struct stat st;
            if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
                walk_yaml(path, cb, ctx, err);
            else if (is_yaml(name))
                cb(ctx, path);
        }
        free(list[i]);
    }
    free(list);
    return 0;
}

/* ---- rules test ---- */

typedef struct test_ctx {
    tk_alert_engine_t *e;
    int failed;
    int quiet, why;
    size_t line;
    const char *event;
    uint64_t alerts, matches;
} test_ctx_t;

static void add_sigma_file(void *ctx, const char *path)
{
    test_ctx_t *t = ctx;
    tk_rule_t *r;
    char err[TK_ERRLEN];
    if (load_rule(path, &r, err)) {
        fprintf(stderr, "trailkeep rules test: skipped %s\n", err);
        return;
    }
    if (tk_alert_engine_add(t->e, r, err))
        fprintf(stderr, "trailkeep rules test: skipped %s: %s\n", path, err);
}

static void on_hit(void *ctx, const tk_alert_hit_t *h)
{
    test_ctx_t *t = ctx;
    const tk_rule_t *r = h->rule;
    int plain = tk_rule_threshold(r) <= 1 && tk_rule_suppress_ms(r) <= 0;
    char ts[40];
    tk_time_format(h->time_ms, 0, ts);
    if (h->kind == TK_ALERT_MATCH) {
        t->matches++;
        if (t->quiet || plain)
            return;
        printf("match  line %-6zu %s  %s\n", t->line, ts, tk_rule_id(r));
        if (t->why && h->why)
            printf("       why: %s\n", h->why);
        return;
    }
    if (h->kind == TK_ALERT_CLEAR) {
        /* clear_when held: the group's open alert would be cleared here */
        if (t->quiet)
            return;
        printf("CLEAR  line %-6zu %s  %s", t->line, ts, tk_rule_id(r));
        if (h->account_len)
            printf("  account=%.*s", (int)h->account_len, h->account);
        if (h->group_len)
            printf("  group=%.*s", (int)h->group_len, h->group_key);
        putchar('\n');
        if (h->title)
            printf("       title: %s\n", h->title);
        return;
    }
    t->alerts++;
    if (t->quiet)
        return;
    printf("ALERT  line %-6zu %s  %s  severity=%s", t->line, ts, tk_rule_id(r),
           tk_severity_name(tk_rule_severity(r)));
    if (h->account_len)
        printf("  account=%.*s", (int)h->account_len, h->account);
    if (h->group_len)
        printf("  group=%.*s", (int)h->group_len, h->group_key);
    if (!plain) {
        char t0[40];
        tk_time_format(h->first_ms, 0, t0);
        printf("  count=%llu since %s", (unsigned long long)h->count, t0);
    }
    if (h->suppressed)
        printf("  (%llu suppressed before)", (unsigned long long)h->suppressed);
    if (!plain && h->nseqs) {
        printf("  lines=");
        for (uint32_t i = 0; i < h->nseqs && i < 20; i++)
            printf("%s%llu", i ? "," : "", (unsigned long long)h->seqs[i]);
        if (h->nseqs > 20)
            printf(",...");
    }
    putchar('\n');
    if (h->title)
        printf("       title: %s\n", h->title);
    if (plain && t->why && h->why)
        printf("       why: %s\n", h->why);
}

static void eval_one(test_ctx_t *t, const char *p, size_t n)
{
    char err[TK_ERRLEN];
    /* the line number is the event's sequence number: alerts name their lines */
    if (tk_alert_engine_eval_seq(t->e, NULL, 0, p, n, 0, t->line, on_hit, t, err)) {
        fprintf(stderr, "trailkeep rules test: line %zu: %s (skipped)\n", t->line, err);
        t->failed++;
    }
}

static int run_events(test_ctx_t *t, char *text, size_t n)
{
    const char *p = text, *end = text + n;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    int records = 0;
    if (p < end && *p == '{') {
        /* a CloudTrail file is one object with "Records"; JSON Lines has many.
         * Only the first value is parsed to tell. */
        const char *stop = NULL;
        cJSON *first = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &stop, 0);
        records = cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(first, "Records"));
        cJSON_Delete(first);
    }
    if (p < end && (*p == '[' || records)) {
        cJSON *doc = cJSON_ParseWithLength(p, (size_t)(end - p));
        if (!doc) {
            fprintf(stderr, "trailkeep rules test: the events file is not valid JSON\n");
            return 1;
        }
        cJSON *arr = cJSON_IsArray(doc) ? doc : cJSON_GetObjectItemCaseSensitive(doc, "Records");
        if (!cJSON_IsArray(arr)) {
            cJSON_Delete(doc);
            fprintf(stderr, "trailkeep rules test: expected a JSON array of events or {\"Records\": [...]}\n");
            return 1;
        }
        cJSON *it;
        cJSON_ArrayForEach(it, arr)
        {
            t->line++;
            char *s = cJSON_PrintUnformatted(it);
            if (!s)
                break;
            eval_one(t, s, strlen(s));
            free(s);
        }
        cJSON_Delete(doc);
        return 0;
    }
    p = text;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        t->line++;
        const char *q = p;
        while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < le)
            eval_one(t, q, (size_t)(le - q));
        p = nl ? nl + 1 : end;
    }
    return 0;
}

static int cmd_test(int argc, char **argv)
{
    test_ctx_t t = {0};
    t.why = 1;
    const char *args[256];
    int nargs = 0;
    for (int i = 2; i < argc; i++) {
        if (tk_cli_is_help(argv[i])) {
            usage_test(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q"))
            t.quiet = 1;
        else if (!strcmp(argv[i], "--no-why"))
            t.why = 0;
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "trailkeep rules test: unknown option %s (see --help)\n", argv[i]);
            return 2;
        } else if (nargs < 256)
            args[nargs++] = argv[i];
    }
    if (nargs < 2) {
        fprintf(stderr, "trailkeep rules test: give at least one RULE and the EVENTS file (see --help)\n");
        return 2;
    }
    char err[TK_ERRLEN];
    tk_alert_opts_t o = {.explain = t.why, .report_matches = 1, .report_clears = 1};
    if (tk_alert_engine_create(&o, &t.e, err)) {
        fprintf(stderr, "trailkeep rules test: %s\n", err);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < nargs - 1 && !rc; i++) {
        struct stat st;
        if (strncmp(args[i], "template:", 9) && stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            if (walk_yaml(args[i], add_sigma_file, &t, err)) {
                fprintf(stderr, "trailkeep rules test: %s\n", err);
                rc = 1;
            }
            continue;
        }
        tk_rule_t *r;
        if (load_rule(args[i], &r, err) || tk_alert_engine_add(t.e, r, err)) {
            fprintf(stderr, "trailkeep rules test: %s\n", err);
            rc = 1;
        }
    }
    if (!rc && tk_alert_engine_rule_count(t.e) == 0) {
        fprintf(stderr, "trailkeep rules test: no rule loaded\n");
        rc = 1;
    }
    size_t n = 0;
    char *text = rc ? NULL : read_all(args[nargs - 1], &n, err);
    if (!rc && !text) {
        fprintf(stderr, "trailkeep rules test: %s\n", err);
        rc = 1;
    }
    if (!rc)
        rc = run_events(&t, text, n);
    free(text);
    if (!rc) {
        tk_alert_stats_t st;
        tk_alert_engine_stats(t.e, &st);
        printf("%zu rule(s), %llu event(s), %llu match(es), %llu alert(s), %llu suppressed, %llu unreadable",
               tk_alert_engine_rule_count(t.e), (unsigned long long)st.events,
               (unsigned long long)st.matches, (unsigned long long)st.fires,
               (unsigned long long)st.suppressed, (unsigned long long)st.bad_events);
        if (st.clears)
            printf(", %llu cleared", (unsigned long long)st.clears);
        putchar('\n');
    }
    tk_alert_engine_destroy(t.e);
    return rc;
}

/* ---- rules templates ---- */

static int cmd_templates(int argc, char **argv)
{
    const char *only = NULL;
    for (int i = 2; i < argc; i++) {
        if (tk_cli_is_help(argv[i])) {
            usage_templates(stdout);
            return 0;
        }
        if (argv[i][0] == '-') {
            fprintf(stderr, "trailkeep rules templates: unknown option %s\n", argv[i]);
            return 2;
        }
        only = argv[i];
    }
    size_t n;
    const tk_template_t *t = tk_templates(&n);
    int shown = 0;
    for (size_t i = 0; i < n; i++) {
        if (only && strcmp(only, t[i].name))
            continue;
        shown++;
        printf("%-30s %-8s  %s\n", t[i].name, tk_severity_name(t[i].severity), t[i].description);
        for (const tk_tmpl_param_t *p = t[i].params; p->name; p++)
            printf("    %-12s = %-20s %s\n", p->name, p->def[0] ? p->def : "(empty)", p->description);
    }
    if (only && !shown) {
        fprintf(stderr, "trailkeep rules templates: no template '%s'\n", only);
        return 1;
    }
    return 0;
}


/* ------------------------------------------------ stored rules, alerts */

typedef struct sopts {
    const char *data, *account, *tmpl, *json, *sigma, *severity, *recipients, *repeat, *scope;
    const char *email, *webhook, *secret, *shape, *members, *state, *rule, *output, *note;
    const char *smtp_url, *smtp_from, *smtp_user, *smtp_ca;
    int disabled, allow_private, dry_run, quiet;
    const char *pos[4];
    int npos;
} sopts_t;

static int parse_sopts(int argc, char **argv, int first, sopts_t *o)
{
    memset(o, 0, sizeof *o);
    o->account = TK_DEFAULT_ACCOUNT;
    static const struct { const char *name; size_t off; } tab[] = {
        {"--data", offsetof(sopts_t, data)},       {"--account", offsetof(sopts_t, account)},
        {"--template", offsetof(sopts_t, tmpl)},   {"--json", offsetof(sopts_t, json)},
        {"--sigma", offsetof(sopts_t, sigma)},     {"--severity", offsetof(sopts_t, severity)},
        {"--recipients", offsetof(sopts_t, recipients)}, {"--repeat", offsetof(sopts_t, repeat)},
        {"--scope", offsetof(sopts_t, scope)},     {"--email", offsetof(sopts_t, email)},
        {"--webhook", offsetof(sopts_t, webhook)}, {"--secret", offsetof(sopts_t, secret)},
        {"--shape", offsetof(sopts_t, shape)},     {"--members", offsetof(sopts_t, members)},
        {"--state", offsetof(sopts_t, state)},     {"--rule", offsetof(sopts_t, rule)},
        {"--output", offsetof(sopts_t, output)},   {"--note", offsetof(sopts_t, note)},
        {"--smtp-url", offsetof(sopts_t, smtp_url)}, {"--smtp-from", offsetof(sopts_t, smtp_from)},
        {"--smtp-user", offsetof(sopts_t, smtp_user)}, {"--smtp-ca", offsetof(sopts_t, smtp_ca)},
    };
    for (int i = first; i < argc; i++) {
        if (!strcmp(argv[i], "--disabled")) {
            o->disabled = 1;
            continue;
        }
        if (!strcmp(argv[i], "--allow-private-endpoints")) {
            o->allow_private = 1;
            continue;
        }
        if (!strcmp(argv[i], "--dry-run") || !strcmp(argv[i], "-n")) {
            o->dry_run = 1;
            continue;
        }
        if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
            o->quiet = 1;
            continue;
        }
        int hit = 0;
        for (size_t k = 0; k < TK_ARRAY_LEN(tab) && !hit; k++) {
            const char *v;
            int r = tk_cli_opt(argc, argv, &i, "rules", tab[k].name, &v);
            if (r < 0)
                return 2;
            if (r > 0) {
                *(const char **)((char *)o + tab[k].off) = v;
                hit = 1;
            }
        }
        if (hit)
            continue;
        if (!strncmp(argv[i], "--", 2) || o->npos == 4) {
            fprintf(stderr, "trailkeep rules: unexpected argument '%s' (see trailkeep rules --help)\n", argv[i]);
            return 2;
        }
        o->pos[o->npos++] = argv[i];
    }
    return 0;
}

static tk_meta_t *open_meta(const sopts_t *o)
{
    char err[TK_ERRLEN] = "";
    tk_meta_t *m = NULL;
    const char *dir = o->data ? o->data : tk_cli_default_data();
    if (tk_meta_open(dir, &m, err)) {
        fprintf(stderr, "trailkeep rules: cannot open %s/meta.db: %s\n", dir, err);
        return NULL;
    }
    return m;
}

static int need_pos(const sopts_t *o, int n, const char *what)
{
    if (o->npos < n) {
        fprintf(stderr, "trailkeep rules: missing %s (see trailkeep rules --help)\n", what);
        return 2;
    }
    return 0;
}

/* ---- rules show ---- */

static int cmd_show(int argc, char **argv)
{
    for (int i = 2; i < argc; i++)
        if (tk_cli_is_help(argv[i])) {
            usage_show(stdout);
            return 0;
        }
    sopts_t o;
    if (parse_sopts(argc, argv, 2, &o) || need_pos(&o, 1, "RULE (a stored rule id, a file or template:...)"))
        return 2;
    const char *spec = o.pos[0];
    tk_rule_t *r = NULL;
    char err[TK_ERRLEN];
    tk_stored_rule_t sr = {0};
    int stored = 0;
    struct stat st;
    /* A stored rule's id first (what `rules list` shows), else a file or a template. */
    if (strncmp(spec, "template:", 9) && stat(spec, &st) != 0) {
        tk_meta_t *m = open_meta(&o);
        if (!m)
            return 1;
        int rc = tk_alert_rule_get(m, o.account, spec, &sr, err);
        tk_meta_close(m);
        if (rc) {
            fprintf(stderr, "trailkeep rules show: '%s' is neither a stored rule of account %s nor a "
                            "file nor template:NAME (`trailkeep rules list` shows the stored ones)\n",
                    spec, o.account);
            tk_stored_rule_free(&sr);
            return 1;
        }
        if (tk_stored_rule_compile(&sr, &r, err)) {
            fprintf(stderr, "trailkeep rules show: stored rule %s: %s\n", spec, err);
            tk_stored_rule_free(&sr);
            return 1;
        }
        stored = 1;
    } else if (load_rule(spec, &r, err)) {
        fprintf(stderr, "trailkeep rules show: %s\n", err);
        return 1;
    }
    char *d = tk_rule_describe(r);
    printf("id:          %s\nname:        %s\nseverity:    %s\n", stored ? sr.id : tk_rule_id(r),
           tk_rule_name(r), tk_severity_name(stored ? sr.severity : tk_rule_severity(r)));
    if (tk_rule_description(r)[0])
        printf("description: %s\n", tk_rule_description(r));
    printf("condition:   %s\n", d ? d : "?");
    if (tk_rule_suppress_ms(r) > 0)
        printf("suppress:    %llds per group\n", (long long)(tk_rule_suppress_ms(r) / 1000));
    if (stored)
        printf("stored:      account %s, %s, %s, recipients %s, repeat %llds, scope %s\n", sr.account,
               tk_rule_kind_name(sr.kind), sr.enabled ? "enabled" : "disabled",
               sr.recipients && *sr.recipients ? sr.recipients : "(none)",
               (long long)(sr.repeat_ms / 1000), sr.org_scope ? "org" : "own");
    free(d);
    tk_rule_destroy(r);
    tk_stored_rule_free(&sr);
    return 0;
}

/* ---- rules import ---- */

typedef struct import_ctx {
    int quiet;
    unsigned loaded, refused, created, updated;
    tk_meta_t *m;          /* NULL: --dry-run */
    const sopts_t *o;
} import_ctx_t;

/* Stores one loaded Sigma rule under its own id: created, or updated when
 * the id exists (so importing a folder again changes nothing twice). */
static int import_store(import_ctx_t *c, const tk_rule_t *r, const char *text, char *err)
{
    tk_stored_rule_t sr;
    memset(&sr, 0, sizeof sr);
    /* Sigma's own id ("sigma:<uuid>") is stable across renames; stored ids
     * are [A-Za-z0-9._@-], so other characters become '-'. */
    snprintf(sr.id, sizeof sr.id, "%s", tk_rule_id(r));
    for (char *q = sr.id; *q; q++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-", *q))
            *q = '-';
    snprintf(sr.account, sizeof sr.account, "%s", c->o->account);
    sr.kind = TK_RULE_SIGMA;
    sr.definition = strdup(text);
    sr.recipients = strdup(c->o->recipients ? c->o->recipients : "");
    sr.severity = tk_rule_severity(r);
    sr.repeat_ms = 3600000;
    sr.enabled = !c->o->disabled;
    int rc = sr.definition && sr.recipients ? 0 : tk_errf(err, TK_ENOMEM, "out of memory");
    if (!rc && c->o->severity && tk_severity_parse(c->o->severity, &sr.severity))
        rc = tk_errf(err, TK_EINVAL, "--severity '%s': use critical, high, medium, low or report",
                     c->o->severity);
    tk_stored_rule_t old = {0};
    int exists = !rc && tk_alert_rule_get(c->m, sr.account, sr.id, &old, err) == 0;
    tk_stored_rule_free(&old);
    if (!rc)
        rc = exists ? tk_alert_rule_update(c->m, &sr, err) : tk_alert_rule_create(c->m, &sr, err);
    if (!rc)
        exists ? c->updated++ : c->created++;
    tk_stored_rule_free(&sr);
    return rc;
}

static void import_one(void *ctx, const char *path)
{
    import_ctx_t *c = ctx;
    tk_rule_t *r;
    char err[TK_ERRLEN];
    size_t n;
    char *text = read_all(path, &n, err);
    int rc = text ? tk_rule_from_sigma(text, n, path, &r, err) : TK_EIO;
    if (rc) {
        free(text);
        c->refused++;
        printf("refused  %s  %s\n", path, err);
        return;
    }
    unsigned before = c->created;
    if (c->m && import_store(c, r, text, err)) {
        c->refused++;
        printf("refused  %s  %s\n", path, err);
    } else {
        c->loaded++;
        if (!c->quiet)
            printf("%s  %s  %s  %s\n", !c->m ? "loaded  " : c->created > before ? "created " : "updated ",
                   path, tk_rule_id(r), tk_rule_name(r));
    }
    free(text);
    tk_rule_destroy(r);
}

static int cmd_import(int argc, char **argv)
{
    for (int i = 2; i < argc; i++)
        if (tk_cli_is_help(argv[i])) {
            usage_import(stdout);
            return 0;
        }
    sopts_t o;
    if (parse_sopts(argc, argv, 2, &o))
        return 2;
    if (!o.npos) {
        fprintf(stderr, "trailkeep rules import: give a Sigma file or folder (see --help)\n");
        return 2;
    }
    import_ctx_t c = {.quiet = o.quiet, .o = &o};
    if (!o.dry_run) {
        if (!(c.m = open_meta(&o)))
            return 1;
        char err[TK_ERRLEN];
        if (o.recipients && tk_alert_recipients_check(c.m, o.account, o.recipients, err)) {
            fprintf(stderr, "trailkeep rules import: %s\n", err);
            tk_meta_close(c.m);
            return 1;
        }
    }
    for (int i = 0; i < o.npos; i++) {
        struct stat st;
        char err[TK_ERRLEN];
        if (stat(o.pos[i], &st) != 0) {
            printf("refused  %s  cannot open: %s\n", o.pos[i], strerror(errno));
            c.refused++;
        } else if (S_ISDIR(st.st_mode)) {
            if (walk_yaml(o.pos[i], import_one, &c, err)) {
                printf("refused  %s  %s\n", o.pos[i], err);
                c.refused++;
            }
        } else {
            import_one(&c, o.pos[i]);
        }
    }
    if (o.dry_run)
        printf("%u loaded, %u refused (dry run: nothing stored)\n", c.loaded, c.refused);
    else
        printf("%u stored in account %s (%u created, %u updated), %u refused\n", c.loaded,
               o.account, c.created, c.updated, c.refused);
    tk_meta_close(c.m);
    return c.refused ? 1 : 0;
}

static int cmd_create(int argc, char **argv)
{
    sopts_t o;
    if (parse_sopts(argc, argv, 2, &o) || need_pos(&o, 1, "rule ID"))
        return 2;
    tk_stored_rule_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", o.pos[0]);
    snprintf(r.account, sizeof r.account, "%s", o.account);
    char err[TK_ERRLEN] = "";
    size_t n = 0;
    int nsrc = !!o.tmpl + !!o.json + !!o.sigma;
    if (nsrc != 1) {
        fprintf(stderr, "trailkeep rules create: give exactly one of --template SPEC, --json FILE, --sigma FILE\n");
        return 2;
    }
    if (o.tmpl) {
        r.kind = TK_RULE_TEMPLATE;
        r.definition = strdup(o.tmpl);
    } else {
        r.kind = o.json ? TK_RULE_JSON : TK_RULE_SIGMA;
        r.definition = read_all(o.json ? o.json : o.sigma, &n, err);
    }
    if (!r.definition) {
        fprintf(stderr, "trailkeep rules create: %s\n", err[0] ? err : "out of memory");
        return 1;
    }
    tk_rule_t *cr = NULL;
    int rc = tk_stored_rule_compile(&r, &cr, err);
    if (!rc) {
        r.severity = tk_rule_severity(cr);
        tk_rule_destroy(cr);
    }
    int64_t rep = 3600000;
    if (!rc && o.severity && tk_severity_parse(o.severity, &r.severity))
        rc = tk_errf(err, TK_EINVAL, "--severity '%s': use critical, high, medium, low or report", o.severity);
    if (!rc && o.repeat && tk_duration_parse(o.repeat, &rep))
        rc = tk_errf(err, TK_EINVAL, "--repeat '%s': a duration like 30m or 1h", o.repeat);
    if (!rc && o.scope && strcmp(o.scope, "own") && strcmp(o.scope, "org"))
        rc = tk_errf(err, TK_EINVAL, "--scope '%s': use own or org", o.scope);
    r.repeat_ms = rep;
    r.org_scope = o.scope && !strcmp(o.scope, "org");
    r.enabled = !o.disabled;
    r.recipients = strdup(o.recipients ? o.recipients : "");
    tk_meta_t *m = rc ? NULL : open_meta(&o);
    if (!rc && !m)
        rc = TK_EIO;
    if (!rc)
        rc = tk_alert_recipients_check(m, r.account, r.recipients, err);
    if (!rc)
        rc = tk_alert_rule_create(m, &r, err);
    if (rc && err[0])
        fprintf(stderr, "trailkeep rules create: %s\n", err);
    else if (!rc)
        printf("created rule %s (%s, %s) in account %s\n", r.id, tk_rule_kind_name(r.kind),
               tk_severity_name(r.severity), r.account);
    tk_meta_close(m);
    tk_stored_rule_free(&r);
    return rc ? 1 : 0;
}

/* --output: table | json | jsonl; by default a table on a terminal and JSON
 * Lines in a pipe (what scripts read). 0, or 2 after saying what is wrong. */
static int resolve_output(const char *cmd, sopts_t *o)
{
    if (!o->output)
        o->output = isatty(STDOUT_FILENO) ? "table" : "jsonl";
    if (strcmp(o->output, "table") && strcmp(o->output, "json") && strcmp(o->output, "jsonl")) {
        fprintf(stderr, "trailkeep %s: --output '%s' must be table, json or jsonl\n", cmd, o->output);
        return 2;
    }
    return 0;
}

/* One object per line (jsonl), or all in {"KEY":[...]} (json). */
static void put_json_item(const sopts_t *o, const char *key, size_t i, size_t n, const tk_buf_t *b)
{
    const char *p = b->p ? b->p : "";
    if (!strcmp(o->output, "jsonl")) {
        printf("%.*s\n", (int)b->len, p);
        return;
    }
    if (i == 0)
        printf("{\"%s\": [\n  ", key);
    else
        printf(",\n  ");
    printf("%.*s", (int)b->len, p);
    if (i + 1 == n)
        printf("\n]}\n");
}

static int cmd_list(int argc, char **argv)
{
    sopts_t o;
    if (parse_sopts(argc, argv, 2, &o) || resolve_output("rules list", &o))
        return 2;
    tk_meta_t *m = open_meta(&o);
    if (!m)
        return 1;
    tk_stored_rule_t *v = NULL;
    size_t n = 0;
    char err[TK_ERRLEN] = "";
    int rc = tk_alert_rule_list(m, o.account, &v, &n, err);
    if (rc)
        fprintf(stderr, "trailkeep rules list: %s\n", err);
    static const char *const hdr[] = {"ID", "KIND", "SEVERITY", "ENABLED", "SCOPE", "REPEAT", "RECIPIENTS"};
    static const int maxw[] = {60, 8, 8, 7, 5, 8, 60};
    tk_table_t t;
    tk_table_init(&t, 7, hdr, maxw);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(o.output, "table")) {
            char rep[24];
            snprintf(rep, sizeof rep, "%llds", (long long)(v[i].repeat_ms / 1000));
            const char *cells[] = {v[i].id, tk_rule_kind_name(v[i].kind), tk_severity_name(v[i].severity),
                                   v[i].enabled ? "yes" : "no", v[i].org_scope ? "org" : "own", rep,
                                   v[i].recipients && *v[i].recipients ? v[i].recipients : "-"};
            tk_table_add(&t, cells);
            continue;
        }
        tk_buf_t b = TK_BUF_INIT;
        tk_stored_rule_json(&v[i], &b);
        put_json_item(&o, "rules", i, n, &b);
        tk_buf_free(&b);
    }
    if (!rc && !strcmp(o.output, "table")) {
        if (n)
            tk_table_flush(&t, stdout);
        else
            printf("no rules in account %s (create one: trailkeep rules create ID --template ...)\n",
                   o.account);
    }
    if (!rc && !n && !strcmp(o.output, "json"))
        printf("{\"rules\": []}\n");
    tk_table_free(&t);
    tk_stored_rules_free(v, n);
    tk_meta_close(m);
    return rc ? 1 : 0;
}

static int cmd_simple(int argc, char **argv, const char *sub)
{
    sopts_t o;
    if (parse_sopts(argc, argv, 2, &o) || need_pos(&o, 1, "NAME"))
        return 2;
    tk_meta_t *m = open_meta(&o);
    if (!m)
        return 1;
    char err[TK_ERRLEN] = "";
    int rc;
    if (!strcmp(sub, "delete"))
        rc = tk_alert_rule_delete(m, o.account, o.pos[0], err);
    else if (!strcmp(sub, "enable") || !strcmp(sub, "disable"))
        rc = tk_alert_rule_set_enabled(m, o.account, o.pos[0], !strcmp(sub, "enable"), err);
    else if (!strcmp(sub, "user-delete"))
        rc = tk_alert_user_delete(m, o.account, o.pos[0], err);
    else if (!strcmp(sub, "group"))
        rc = tk_alert_group_put(m, o.account, o.pos[0], o.members, err);
    else {
        tk_alert_user_t u;
        memset(&u, 0, sizeof u);
        snprintf(u.account, sizeof u.account, "%s", o.account);
        snprintf(u.name, sizeof u.name, "%s", o.pos[0]);
        snprintf(u.email, sizeof u.email, "%s", o.email ? o.email : "");
        snprintf(u.webhook_url, sizeof u.webhook_url, "%s", o.webhook ? o.webhook : "");
        snprintf(u.webhook_secret, sizeof u.webhook_secret, "%s", o.secret ? o.secret : "");
        snprintf(u.webhook_shape, sizeof u.webhook_shape, "%s", o.shape ? o.shape : "generic");
        tk_egress_set_allow_private(o.allow_private); /* the webhook is checked when written */
        rc = tk_alert_user_put(m, &u, err);
    }
    if (rc)
        fprintf(stderr, "trailkeep rules %s: %s\n", sub, err);
    tk_meta_close(m);
    return rc ? 1 : 0;
}

static void print_group(void *ud, const char *name, const char *members)
{
    (void)ud;
    printf("%s\t%s\n", name, members);
}

static int cmd_users(int argc, char **argv, int groups)
{
    sopts_t o;
    if (parse_sopts(argc, argv, 2, &o))
        return 2;
    tk_meta_t *m = open_meta(&o);
    if (!m)
        return 1;
    char err[TK_ERRLEN] = "";
    int rc;
    if (groups) {
        rc = tk_alert_group_list(m, o.account, print_group, NULL, err);
    } else {
        tk_alert_user_t *v = NULL;
        size_t n = 0;
        rc = tk_alert_user_list(m, o.account, &v, &n, err);
        for (size_t i = 0; i < n; i++)
            printf("%s\temail=%s\twebhook=%s\tshape=%s\tsecret=%s\n", v[i].name, v[i].email,
                   v[i].webhook_url, v[i].webhook_shape, v[i].webhook_secret[0] ? "set" : "none");
        free(v);
    }
    if (rc)
        fprintf(stderr, "trailkeep rules: %s\n", err);
    tk_meta_close(m);
    return rc ? 1 : 0;
}

/* `trailkeep alerts ...` (also `trailkeep rules alerts ...`). */
int tk_cmd_alerts(int argc, char **argv)
{
    int help = argc >= 2 && tk_cli_is_help(argv[1]);
    for (int i = 2; i < argc; i++)
        help |= tk_cli_is_help(argv[i]);
    if (argc < 2 || help) {
        fputs("usage: trailkeep alerts list [--state S] [--rule ID] | ack ID | close ID\n"
              "       [--data DIR] [--account ID]\n"
              "\n"
              "Lists alerts (one JSON object a line, newest first) or acknowledges/closes one.\n"
              "  --state S     triggered, cleared, acknowledged or closed\n"
              "  --rule ID     only alerts of this rule\n"
              "  --data DIR    data directory (default: $TRAILKEEP_DATA or ./data)\n"
              "  --account ID  the account (default 100000000000000)\n"
              "\nexamples:\n  trailkeep alerts list --state triggered\n  trailkeep alerts ack 42\n",
              help ? stdout : stderr);
        return help ? 0 : 2;
    }
    const char *sub = argv[1];
    sopts_t o;
    if (parse_sopts(argc, argv, 2, &o) || (!strcmp(sub, "list") && resolve_output("alerts list", &o)))
        return 2;
    char err[TK_ERRLEN] = "";
    int rc = 0;
    if (!strcmp(sub, "list")) {
        tk_alert_filter_t f = {.account = o.account, .rule = o.rule, .state = -1, .limit = 1000};
        tk_alert_state_t stt;
        if (o.state) {
            if (tk_alert_state_parse(o.state, &stt)) {
                fprintf(stderr, "trailkeep alerts: --state '%s': use triggered, cleared, acknowledged or closed\n", o.state);
                return 2;
            }
            f.state = (int)stt;
        }
        tk_meta_t *m = open_meta(&o);
        if (!m)
            return 1;
        tk_alert_row_t *v = NULL;
        size_t n = 0;
        rc = tk_alert_list(m, &f, &v, &n, err);
        static const char *const hdr[] = {"ID", "RULE", "STATE", "SEVERITY", "GROUP", "COUNT", "FIRST EVENT", "LAST EVENT"};
        static const int maxw[] = {10, 40, 12, 8, 40, 8, 20, 20};
        tk_table_t t;
        tk_table_init(&t, 8, hdr, maxw);
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(o.output, "table")) {
                char id[24], cnt[24], fst[40], lst[40];
                snprintf(id, sizeof id, "%lld", (long long)v[i].id);
                snprintf(cnt, sizeof cnt, "%lld", (long long)v[i].count);
                tk_time_format(v[i].first_ms - v[i].first_ms % 1000, 0, fst);
                tk_time_format(v[i].last_ms - v[i].last_ms % 1000, 0, lst);
                const char *cells[] = {id, v[i].rule, tk_alert_state_name(v[i].state),
                                       tk_severity_name(v[i].severity),
                                       v[i].group_key[0] ? v[i].group_key : "-", cnt, fst, lst};
                tk_table_add(&t, cells);
                continue;
            }
            tk_buf_t b = TK_BUF_INIT;
            tk_alert_row_json(&v[i], &b);
            put_json_item(&o, "alerts", i, n, &b);
            tk_buf_free(&b);
        }
        if (!rc && !strcmp(o.output, "table")) {
            if (n)
                tk_table_flush(&t, stdout);
            else
                printf("no alerts in account %s%s\n", o.account, o.state || o.rule ? " that match" : "");
        }
        if (!rc && !n && !strcmp(o.output, "json"))
            printf("{\"alerts\": []}\n");
        tk_table_free(&t);
        tk_alert_rows_free(v, n);
        tk_meta_close(m);
    } else if (!strcmp(sub, "show")) {
        /* The alert and the stored events that made it, as one JSON object. */
        long id;
        if (need_pos(&o, 1, "alert ID") || tk_cli_parse_long(o.pos[0], 1, 0x7fffffffffffffffL, &id)) {
            fprintf(stderr, "trailkeep alerts show: give the alert's numeric id\n");
            return 2;
        }
        tk_meta_t *m = open_meta(&o);
        if (!m)
            return 1;
        tk_alert_row_t a = {0};
        rc = tk_alert_get(m, o.account, id, &a, err);
        tk_meta_close(m);
        tk_store_t *st = NULL;
        tk_store_opts_t so = {.dir = o.data ? o.data : tk_cli_default_data(), .read_only = 1};
        if (!rc)
            rc = tk_store_open(&so, &st, err);
        tk_buf_t b = TK_BUF_INIT;
        size_t n = 0;
        if (!rc) {
            tk_buf_puts(&b, "{\"alert\":");
            tk_alert_row_json(&a, &b);
            tk_buf_puts(&b, ",\"events\":[");
            rc = tk_alert_events(st, &a, &b, &n, err);
            tk_buf_printf(&b, "],\"event_count\":%zu}", n);
        }
        if (!rc)
            printf("%.*s\n", (int)b.len, b.p);
        tk_buf_free(&b);
        tk_store_close(st);
        free(a.event_seqs);
    } else if (!strcmp(sub, "ack") || !strcmp(sub, "close")) {
        long id;
        if (need_pos(&o, 1, "alert ID") || tk_cli_parse_long(o.pos[0], 1, 0x7fffffffffffffffL, &id)) {
            fprintf(stderr, "trailkeep alerts %s: give the alert's numeric id\n", sub);
            return 2;
        }
        tk_meta_t *m = open_meta(&o);
        if (!m)
            return 1;
        char by[80];
        const char *user = getenv("USER");
        snprintf(by, sizeof by, "cli:%.60s", user && *user ? user : "unknown");
        rc = tk_alert_set_state_by(m, o.account, id, !strcmp(sub, "ack") ? TK_AS_ACKNOWLEDGED : TK_AS_CLOSED,
                                   by, o.note, err);
        tk_meta_close(m);
    } else {
        fprintf(stderr, "trailkeep alerts: unknown command '%s'; use list, show, ack or close\n", sub);
        return 2;
    }
    if (rc)
        fprintf(stderr, "trailkeep alerts %s: %s\n", sub, err);
    return rc ? 1 : 0;
}

/* rules notify-test ID: what POST /v1/alert-rules/{id}/test does, from the
 * CLI, with the SMTP settings given here (the password from
 * TRAILKEEP_SMTP_PASSWORD). */
static int cmd_notify_test(int argc, char **argv)
{
    sopts_t o;
    if (parse_sopts(argc, argv, 2, &o) || need_pos(&o, 1, "rule ID"))
        return 2;
    tk_egress_set_allow_private(o.allow_private); /* webhooks are checked when they connect */
    tk_meta_t *m = open_meta(&o);
    if (!m)
        return 1;
    char err[TK_ERRLEN] = "";
    tk_stored_rule_t r = {0};
    int rc = tk_alert_rule_get(m, o.account, o.pos[0], &r, err);
    tk_buf_t b = TK_BUF_INIT;
    tk_notify_cfg_t cfg = {.smtp_url = o.smtp_url, .smtp_from = o.smtp_from,
                           .smtp_user = o.smtp_user, .smtp_password = getenv("TRAILKEEP_SMTP_PASSWORD"),
                           .smtp_ca = o.smtp_ca};
    if (!rc)
        rc = tk_alert_notify_test(m, &cfg, o.account, r.id, r.recipients, &b, err);
    tk_meta_close(m);
    if (rc) {
        fprintf(stderr, "trailkeep rules notify-test: %s\n", err);
        tk_stored_rule_free(&r);
        tk_buf_free(&b);
        return 1;
    }
    cJSON *j = cJSON_ParseWithLength(b.p, b.len);
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(j, "results"), *it;
    int failed = 0, n = 0;
    cJSON_ArrayForEach(it, res) {
        const char *e = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "error"));
        printf("%-6s %-20s %-8s %s\n", e ? "FAILED" : "sent",
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "user")),
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "channel")), e ? e : "");
        failed += e != NULL;
        n++;
    }
    if (!n)
        printf("rule %s has no recipient with a channel (give it --recipients users with an email or "
               "a webhook)\n", r.id);
    cJSON_Delete(j);
    tk_buf_free(&b);
    tk_stored_rule_free(&r);
    return failed || !n ? 1 : 0;
}

int tk_cmd_rules(int argc, char **argv)
{
    if (argc < 2 || tk_cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "test"))
        return cmd_test(argc, argv);
    if (!strcmp(sub, "templates"))
        return cmd_templates(argc, argv);
    if (!strcmp(sub, "import"))
        return cmd_import(argc, argv);
    if (!strcmp(sub, "show"))
        return cmd_show(argc, argv);
    /* The stored-rule commands share one page of help (the usage above lists
     * each with its options), so `rules create --help` answers too. */
    if (!strcmp(sub, "create") || !strcmp(sub, "list") || !strcmp(sub, "delete") ||
        !strcmp(sub, "enable") || !strcmp(sub, "disable") || !strcmp(sub, "user") ||
        !strcmp(sub, "user-delete") || !strcmp(sub, "group") || !strcmp(sub, "users") ||
        !strcmp(sub, "groups") || !strcmp(sub, "notify-test"))
        for (int i = 2; i < argc; i++)
            if (tk_cli_is_help(argv[i])) {
                usage(stdout);
                return 0;
            }
    if (!strcmp(sub, "create"))
        return cmd_create(argc, argv);
    if (!strcmp(sub, "list"))
        return cmd_list(argc, argv);
    if (!strcmp(sub, "delete") || !strcmp(sub, "enable") || !strcmp(sub, "disable") ||
        !strcmp(sub, "user") || !strcmp(sub, "user-delete") || !strcmp(sub, "group"))
        return cmd_simple(argc, argv, sub);
    if (!strcmp(sub, "users") || !strcmp(sub, "groups"))
        return cmd_users(argc, argv, !strcmp(sub, "groups"));
    if (!strcmp(sub, "alerts"))
        return tk_cmd_alerts(argc - 1, argv + 1);
    if (!strcmp(sub, "notify-test"))
        return cmd_notify_test(argc, argv);
    fprintf(stderr, "trailkeep rules: unknown command '%s'; use test, templates, import, show, create, list, delete, enable, disable, user, users, group, groups, notify-test or alerts\n", sub);
    return 2;
}

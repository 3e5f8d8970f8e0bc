/* trailkeep lookup: LookupEvents from the command line (tk_lookup_run), one
 * page or every page (--all), as a table, the API's JSON body or JSON Lines
 * of the stored events. The store is opened read-only: a lookup never takes
 * the writer's lock, so it works beside a running serve or import and sees
 * every sealed event (and what the write-ahead log holds at open time). */
#include "cli/cli.h"
#include "cli/util.h"

#include "base/buf.h"
#include "base/fs.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "event/format.h"
#include "query/csv.h"
#include "query/lookup.h"
#include "store/store.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_MAX_PAGE 1000

static const struct {
    const char *opt, *key;
} attr_opts[] = {
    {"--event-name", "EventName"},        {"--user", "User"},
    {"--service-name", "ServiceName"},    {"--event-id", "EventId"},
    {"--resource-type", "ResourceType"},  {"--resource-name", "ResourceName"},
    {"--event-rw", "EventRW"},            {"--access-key-id", "EventAccessKeyId"},
    {"--sensitive-action", "SensitiveAction"}, {"--source-ip", "SourceIpAddress"},
    {"--event-type", "EventType"},        {"--role-name", "RoleName"},
    {"--event-source", "EventSource"},
};

static void usage(FILE *f)
{
    fprintf(f,
"usage: trailkeep lookup --account ID [options]\n"
"\n"
"LookupEvents: the events of one account in a time range, optionally matching up\n"
"to two attributes (ANDed, exact and case-sensitive), newest first.\n"
"\n"
"options:\n"
"  --data DIR              data directory (default: $TRAILKEEP_DATA or ./data)\n"
"  --account ID            the account whose events are read (required)\n"
"  --start T               start of the range, inclusive (default: end - 7 days)\n"
"  --end T                 end of the range, inclusive (default: now)\n"
"                          T is RFC 3339 (2026-11-24T10:00:00Z, +08:00 offsets), a date\n"
"                          (2026-11-24 = 00:00 UTC), 'now', or relative: -30m, -24h, -7d, -2w\n"
"attributes (at most two in total):\n"
"  --event-name V          EventName, e.g. DeleteInstance\n"
"  --user V                User (userIdentity.userName), e.g. alice\n"
"  --service-name V        ServiceName, e.g. Ecs\n"
"  --event-id V            EventId\n"
"  --resource-type V       ResourceType, e.g. ACS::ECS::Instance\n"
"  --resource-name V       ResourceName (one name of the event's list)\n"
"  --event-rw V            EventRW: Read or Write\n"
"  --access-key-id V       EventAccessKeyId\n"
"  --sensitive-action V    SensitiveAction: true or false\n"
"  --source-ip V           SourceIpAddress\n"
"  --event-type V          EventType, e.g. ConsoleSignin\n"
"  --role-name V           RoleName (assumed-role sessions)\n"
"  --event-source V        EventSource, e.g. ecs.aliyuncs.com\n"
"  --attr KEY=VALUE        any LookupAttribute by its API name, e.g. --attr EventName=StopLogging\n"
"paging and output:\n"
"  --max N                 events per page, 1-%d (default: 20; 100 with --all)\n"
"  --forward               oldest first (Direction FORWARD; default BACKWARD, newest first)\n"
"  --next-token T          continue after the page that returned T; repeat the same\n"
"                          attributes and direction (times may be omitted: the token keeps them)\n"
"  --all                   fetch every page\n"
"  --count                 print only the number of matching events\n"
"  --output F              table | json | jsonl | csv (default: table)\n"
"                          table: time, user, event name, source IP, result (error code or ok),\n"
"                          resource; json: {\"StartTime\",\"EndTime\",\"Events\":[...],\"NextToken\"}\n"
"                          as the API returns it; jsonl: one event per line; csv: a header row\n"
"  --columns LIST          with --output csv: dotted field paths, comma-separated\n"
"                          (default " TK_CSV_DEFAULT_COLUMNS ")\n"
"  --format F              with json and jsonl, each event as (default canonical):\n",
            CLI_MAX_PAGE);
    const tk_event_format_t *fm;
    size_t nf = tk_event_formats(&fm);
    for (size_t i = 0; i < nf; i++)
        fprintf(f, "                            %-11s %s\n", fm[i].name, fm[i].description);
    fprintf(f,
"  -h, --help              this help\n"
"\n"
"When more events match, the table output ends with the NextToken to pass to\n"
"--next-token (jsonl prints it on stderr). The store is opened read-only, so lookups\n"
"run beside trailkeep serve or import.\n"
"\n"
"exit status: 0 ok (also when nothing matched); 1 the store could not be read; 2 usage\n"
"or parameter error (the LookupEvents error code is printed).\n"
"\n"
"examples:\n"
"  trailkeep lookup --account 1234567890123456 --start -24h\n"
"  trailkeep lookup --account 1234567890123456 --event-name ConsoleSignin --user alice --all\n"
"  trailkeep lookup --account 143434273843 --attr EventSource=cloudtrail.amazonaws.com --output jsonl\n"
"  trailkeep lookup --account 1234567890123456 --start 2026-11-01 --end 2026-11-08 --count\n"
"  trailkeep lookup --account 1234567890123456 --start -7d --all --output jsonl --format ocsf\n");
}

static const char *jstr(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static void table_row(tk_table_t *t, const tk_stored_event_t *e)
{
    char when[32];
    tk_time_format(e->time_ms, 0, when);
    cJSON *o = cJSON_ParseWithLength(e->json.p, e->json.len);
    const char *user = NULL, *name = NULL, *ip = NULL, *result = "ok", *res = NULL;
    char resbuf[256];
    if (o) {
        const cJSON *ui = cJSON_GetObjectItemCaseSensitive(o, "userIdentity");
        user = jstr(ui, "userName");
        if (!user)
            user = jstr(ui, "principalId");
        if (!user)
            user = jstr(ui, "type");
        name = jstr(o, "eventName");
        ip = jstr(o, "sourceIpAddress");
        if (jstr(o, "errorCode"))
            result = jstr(o, "errorCode");
        res = jstr(o, "resourceName");
        if (!res) {
            /* Events without resourceName: the first referenced resource. */
            const cJSON *rr = cJSON_GetObjectItemCaseSensitive(o, "referencedResources");
            const cJSON *first = rr && rr->child ? rr->child : NULL;
            if (first && cJSON_IsArray(first) && cJSON_IsString(first->child)) {
                snprintf(resbuf, sizeof resbuf, "%s", first->child->valuestring);
                res = resbuf;
            }
        }
    }
    const char *cells[6] = {when, user, name, ip, result, res};
    tk_table_add(t, cells);
    cJSON_Delete(o);
}

typedef struct lookup_cli {
    const char *output;
    const tk_event_format_t *fmt; /* --format: how each event is written (json, jsonl) */
    tk_csv_cols_t cols; /* --output csv */
    int all, count_only;
    tk_table_t table;
    size_t printed;
} lookup_cli_t;

/* One event as --format renders it (the stored bytes for canonical). */
static void put_event(const lookup_cli_t *c, const tk_stored_event_t *e)
{
    if (!c->fmt || !strcmp(c->fmt->name, "canonical")) {
        fwrite(e->json.p, 1, e->json.len, stdout);
        return;
    }
    tk_buf_t b = TK_BUF_INIT;
    char err[TK_ERRLEN];
    if (c->fmt->render(e->json.p, e->json.len, &b, err) == 0)
        fwrite(b.p, 1, b.len, stdout);
    else
        fwrite(e->json.p, 1, e->json.len, stdout); /* not renderable: as stored */
    tk_buf_free(&b);
}

static void print_page(lookup_cli_t *c, const tk_lookup_page_t *pg, int first, int last)
{
    if (!strcmp(c->output, "csv")) {
        tk_buf_t b = TK_BUF_INIT;
        if (first)
            tk_csv_header(&c->cols, &b);
        for (size_t i = 0; i < pg->count; i++)
            tk_csv_row(&c->cols, pg->events[i].json.p, pg->events[i].json.len, &b);
        fwrite(b.p ? b.p : "", 1, b.len, stdout);
        tk_buf_free(&b);
    } else if (!strcmp(c->output, "jsonl")) {
        for (size_t i = 0; i < pg->count; i++) {
            put_event(c, &pg->events[i]);
            fputc('\n', stdout);
        }
    } else if (!strcmp(c->output, "json")) {
        if (!c->all && (!c->fmt || !strcmp(c->fmt->name, "canonical"))) {
            tk_buf_t b = TK_BUF_INIT;
            tk_lookup_page_json(pg, &b);
            fwrite(b.p, 1, b.len, stdout);
            fputc('\n', stdout);
            tk_buf_free(&b);
        } else {
            /* --all streams one response-shaped object holding every page. */
            if (first) {
                char a[32], b[32];
                tk_time_format(pg->start_ms, 0, a);
                tk_time_format(pg->end_ms, 0, b);
                printf("{\"StartTime\":\"%s\",\"EndTime\":\"%s\",\"Events\":[", a, b);
            }
            for (size_t i = 0; i < pg->count; i++) {
                if (c->printed + i)
                    fputc(',', stdout);
                put_event(c, &pg->events[i]);
            }
            if (last)
                printf("],\"NextToken\":\"%s\"}\n", c->all ? "" : pg->next_token);
        }
    } else {
        for (size_t i = 0; i < pg->count; i++)
            table_row(&c->table, &pg->events[i]);
        if (pg->count) /* no header over an empty result */
            tk_table_flush(&c->table, stdout);
    }
    c->printed += pg->count;
}

typedef struct acct_n {
    const char *account;
    uint64_t n;
} acct_n_t;

static void count_of(void *ud, const char *account, uint64_t n)
{
    acct_n_t *a = ud;
    if (!strcmp(account, a->account))
        a->n = n;
}

/* After "(no events matched)": say whether the account has events at all,
 * and when, so an empty answer is not a mystery (a wrong account id, or a
 * window that misses the data). On stderr: stdout stays the answer. */
static void empty_hint(tk_store_t *s, const char *account, const char *dir)
{
    acct_n_t a = {account, 0};
    tk_store_account_counts(s, count_of, &a);
    if (!a.n) {
        fprintf(stderr,
                "note: account %s has no stored events in %s; `trailkeep accounts list --data %s` "
                "lists the accounts that have\n",
                account, dir, dir);
        return;
    }
    int64_t first, last;
    char f[40], l[40];
    tk_cli_account_times(s, account, &first, &last);
    tk_time_format(first - first % 1000, 0, f);
    tk_time_format(last - last % 1000, 0, l);
    fprintf(stderr,
            "note: account %s has %llu events from %s to %s; widen --start/--end or change the "
            "attributes\n",
            account, (unsigned long long)a.n, f, l);
}

int tk_cmd_lookup(int argc, char **argv)
{
    const char *dir = tk_cli_default_data(), *account = NULL, *start = NULL, *end = NULL;
    const char *max = NULL, *token = NULL, *v;
    lookup_cli_t c = {.output = "table"};
    const char *columns = NULL;
    tk_lookup_params_t p = {0};
    char attrbuf[8][256];
    int forward = 0, nattr = 0, r;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (tk_cli_is_help(a)) {
            usage(stdout);
            return 0;
        }
        int matched = 0;
        for (size_t k = 0; k < TK_ARRAY_LEN(attr_opts) && !matched; k++) {
            if ((r = tk_cli_opt(argc, argv, &i, "lookup", attr_opts[k].opt, &v))) {
                if (r < 0)
                    return 2;
                if (nattr == TK_LOOKUP_MAX_ATTRS) {
                    fprintf(stderr, "trailkeep lookup: too many attributes: at most two\n");
                    return 2;
                }
                p.attrs[nattr].key = attr_opts[k].key;
                p.attrs[nattr++].value = v;
                matched = 1;
            }
        }
        if (matched)
            continue;
        if ((r = tk_cli_opt(argc, argv, &i, "lookup", "--attr", &v))) {
            if (r < 0)
                return 2;
            const char *eq = strchr(v, '=');
            if (!eq || eq == v || (size_t)(eq - v) >= sizeof attrbuf[0]) {
                fprintf(stderr, "trailkeep lookup: --attr '%s' must be KEY=VALUE, e.g. "
                                "--attr EventName=DeleteInstance\n", v);
                return 2;
            }
            if (nattr == TK_LOOKUP_MAX_ATTRS) {
                fprintf(stderr, "trailkeep lookup: too many attributes: at most two\n");
                return 2;
            }
            snprintf(attrbuf[nattr], sizeof attrbuf[nattr], "%.*s", (int)(eq - v), v);
            p.attrs[nattr].key = attrbuf[nattr];
            p.attrs[nattr++].value = eq + 1;
        } else if ((r = tk_cli_opt(argc, argv, &i, "lookup", "--data", &v))) {
            if (r < 0) return 2;
            dir = v;
        } else if ((r = tk_cli_opt(argc, argv, &i, "lookup", "--account", &v))) {
            if (r < 0) return 2;
            account = v;
        } else if ((r = tk_cli_opt(argc, argv, &i, "lookup", "--start", &v))) {
            if (r < 0) return 2;
            start = v;
        } else if ((r = tk_cli_opt(argc, argv, &i, "lookup", "--end", &v))) {
            if (r < 0) return 2;
            end = v;
        } else if ((r = tk_cli_opt(argc, argv, &i, "lookup", "--max", &v))) {
            if (r < 0) return 2;
            max = v;
        } else if ((r = tk_cli_opt(argc, argv, &i, "lookup", "--next-token", &v))) {
            if (r < 0) return 2;
            token = v;
        } else if ((r = tk_cli_opt(argc, argv, &i, "lookup", "--output", &v))) {
            if (r < 0) return 2;
            if (strcmp(v, "table") && strcmp(v, "json") && strcmp(v, "jsonl") && strcmp(v, "csv")) {
                fprintf(stderr, "trailkeep lookup: --output '%s' must be table, json, jsonl or csv\n", v);
                return 2;
            }
            c.output = v;
        } else if ((r = tk_cli_opt(argc, argv, &i, "lookup", "--format", &v))) {
            if (r < 0) return 2;
            if (!(c.fmt = tk_event_format_find(v))) {
                const tk_event_format_t *fm;
                size_t nf = tk_event_formats(&fm);
                fprintf(stderr, "trailkeep lookup: --format '%s' is not known; use", v);
                for (size_t k = 0; k < nf; k++)
                    fprintf(stderr, "%s %s", k ? "," : "", fm[k].name);
                fputc('\n', stderr);
                return 2;
            }
        } else if ((r = tk_cli_opt(argc, argv, &i, "lookup", "--columns", &v))) {
            if (r < 0) return 2;
            columns = v;
        } else if (!strcmp(a, "--forward")) {
            forward = 1;
        } else if (!strcmp(a, "--all")) {
            c.all = 1;
        } else if (!strcmp(a, "--count")) {
            c.count_only = 1;
        } else {
            fprintf(stderr, "trailkeep lookup: unknown %s '%s' (see trailkeep lookup --help)\n",
                    a[0] == '-' ? "option" : "argument", a);
            return 2;
        }
    }

    /* Relative times become RFC 3339 here; with a NextToken they are dropped,
     * because the token carries the range of the first page. */
    int64_t now = tk_now_ms(), ms;
    char start_s[32], end_s[32];
    const char *times[2] = {start, end};
    char *outs[2] = {start_s, end_s};
    for (int k = 0; k < 2; k++) {
        if (!times[k])
            continue;
        int relative = times[k][0] == '-' || times[k][0] == '+' || !strcmp(times[k], "now");
        if (tk_cli_parse_time(times[k], now, &ms)) {
            fprintf(stderr, "trailkeep lookup: %s '%s' is not a time; use RFC 3339 "
                            "(2026-11-24T10:00:00Z), a date (2026-11-24) or -24h / -7d\n",
                    k ? "--end" : "--start", times[k]);
            return 2;
        }
        if (token && relative) {
            times[k] = NULL;
            continue;
        }
        tk_time_format(ms, 1, outs[k]);
        times[k] = outs[k];
    }
    p.start_time = times[0];
    p.end_time = times[1];
    p.nattrs = nattr;
    p.direction = forward ? "FORWARD" : NULL;
    p.max_results = max ? max : (c.all ? "100" : NULL);
    p.next_token = token;

    char err[TK_ERRLEN];
    if (!tk_fs_exists(dir)) {
        fprintf(stderr, "trailkeep lookup: data directory '%s' does not exist; give --data DIR "
                        "(or set TRAILKEEP_DATA) where events were imported\n", dir);
        return 1;
    }
    if (c.fmt && strcmp(c.output, "json") && strcmp(c.output, "jsonl")) {
        fprintf(stderr, "trailkeep lookup: --format is for --output json or jsonl\n");
        return 2;
    }
    if (columns && strcmp(c.output, "csv")) {
        fprintf(stderr, "trailkeep lookup: --columns is for --output csv\n");
        return 2;
    }
    if (!strcmp(c.output, "csv")) {
        char cerr[TK_ERRLEN];
        if (tk_csv_cols_parse(columns, &c.cols, cerr)) {
            fprintf(stderr, "trailkeep lookup: --columns: %s\n", cerr);
            return 2;
        }
    }
    tk_store_opts_t so = {.dir = dir, .read_only = 1};
    tk_store_t *s = NULL;
    int rc = tk_store_open(&so, &s, err);
    if (rc) {
        fprintf(stderr, "trailkeep lookup: cannot open the store in '%s': %s\n", dir, err);
        tk_csv_cols_free(&c.cols);
        return 1;
    }
    if (!account) {
        char **accs = NULL;
        size_t n = 0;
        fprintf(stderr, "trailkeep lookup: --account is required");
        if (tk_store_accounts(s, &accs, &n, err) == 0 && n) {
            fprintf(stderr, "; accounts in '%s':", dir);
            for (size_t i = 0; i < n; i++) {
                if (i < 20)
                    fprintf(stderr, " %s", accs[i]);
                free(accs[i]);
            }
            if (n > 20)
                fprintf(stderr, " ... (%zu in all)", n);
            free(accs);
        }
        fputc('\n', stderr);
        tk_store_close(s);
        tk_csv_cols_free(&c.cols);
        return 2;
    }
    uint8_t key[32];
    if ((rc = tk_lookup_token_key(dir, key, err)) != 0) {
        fprintf(stderr, "trailkeep lookup: %s\n", err);
        tk_store_close(s);
        tk_csv_cols_free(&c.cols);
        return 1;
    }
    tk_lookup_opts_t lo = {.max_page = CLI_MAX_PAGE, .token_key = key};
    tk_lookup_error_t le = {0};
    int exit_code = 0;

    if (c.count_only) {
        uint64_t n = 0;
        rc = tk_lookup_count(s, account, &p, &lo, &n, NULL, NULL, &le, err);
        if (rc == 0)
            printf("%llu\n", (unsigned long long)n);
    } else {
        static const char *const headers[] = {"TIME", "USER", "EVENT", "SOURCE IP", "RESULT", "RESOURCE"};
        static const int maxw[] = {20, 28, 36, 39, 28, 60};
        tk_table_init(&c.table, 6, headers, maxw);
        char next[256] = "";
        for (int first = 1;; first = 0) {
            tk_lookup_page_t pg;
            rc = tk_lookup_run(s, account, &p, &lo, &pg, &le, err);
            if (rc)
                break;
            snprintf(next, sizeof next, "%s", pg.next_token);
            int last = !c.all || !next[0];
            print_page(&c, &pg, first, last);
            tk_lookup_page_free(&pg);
            if (last)
                break;
            p.next_token = next;
            /* Later pages take the range from the token. */
            p.start_time = p.end_time = NULL;
        }
        if (rc == 0 && !c.all && next[0]) {
            if (!strcmp(c.output, "table"))
                printf("-- more events: --next-token %s (or --all)\n", next);
            else if (!strcmp(c.output, "jsonl"))
                fprintf(stderr, "next-token: %s\n", next);
        }
        if (rc == 0 && c.printed == 0 && !strcmp(c.output, "table")) {
            printf("(no events matched)\n");
            empty_hint(s, account, dir);
        }
        tk_table_free(&c.table);
    }
    if (rc == TK_EINVAL && le.code) {
        fprintf(stderr, "trailkeep lookup: %s: %s\n", le.code, le.message);
        exit_code = 2;
    } else if (rc) {
        fprintf(stderr, "trailkeep lookup: %s\n", err);
        exit_code = 1;
    }
    tk_store_close(s);
    tk_csv_cols_free(&c.cols);
    return exit_code;
}

/* trailkeep purge: retention. Deletes whole UTC days of each account that are
 * entirely older than its retention period (tk_store_purge); never rewrites a
 * file and never touches a newer event. --dry-run shows what would go. */
#include "cli/cli.h"
#include "cli/util.h"

#include "base/fs.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "meta/meta.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fputs(
"usage: trailkeep purge [options]\n"
"\n"
"Deletes the days of events that are older than the retention period. A day is\n"
"removed only when all of it is outside the period; the hash chain stays\n"
"verifiable (the hash of the last removed segment is kept as the new anchor).\n"
"\n"
"options:\n"
"  --data DIR            data directory (default: $TRAILKEEP_DATA or ./data)\n"
"  --days N              retention in days for every account (default: 90; MLPS 2.0\n"
"                        needs 180 or more, CIS Alibaba 2.23 asks for 365)\n"
"  --account-days ID=N   retention for one account, overriding --days (repeatable);\n"
"                        without it, an account's retention set with\n"
"                        `trailkeep accounts set ID --retention-days N` applies\n"
"  --dry-run             print what would be removed, remove nothing\n"
"  --now T               the current time for the computation (default: now);\n"
"                        RFC 3339, a date, or relative (-1d)\n"
"  -h, --help            this help\n"
"\n"
"Prints one line per removed day, then the totals (days, segments, events, bytes).\n"
"\n"
"exit status: 0 ok; 1 the store failed; 2 usage error.\n"
"\n"
"examples:\n"
"  trailkeep purge --dry-run\n"
"  trailkeep purge --days 180 --account-days 1234567890123456=365\n",
        f);
}

/* Overrides: --account-days first, then accounts' retention from meta.db
 * (the same rule serve applies), so the command-line wins. */
typedef struct ov { const char *account; int days; } ov_t;
typedef struct ovs {
    ov_t *v;
    char **owned;
    size_t n, cap, nowned;
    int oom;
} ovs_t;

static int ovs_has(const ovs_t *o, const char *account)
{
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->v[i].account, account))
            return 1;
    return 0;
}

/* Adds (account, days); the account string is copied. */
static int ovs_add(ovs_t *o, const char *account, size_t len, int days)
{
    if (o->n == o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 16;
        ov_t *v = realloc(o->v, nc * sizeof *v);
        char **w = realloc(o->owned, nc * sizeof *w);
        if (v)
            o->v = v;
        if (w)
            o->owned = w;
        if (!v || !w)
            return o->oom = TK_ENOMEM;
        o->cap = nc;
    }
    char *a = strndup(account, len);
    if (!a)
        return o->oom = TK_ENOMEM;
    o->owned[o->nowned++] = a;
    o->v[o->n].account = a;
    o->v[o->n++].days = days;
    return 0;
}

static void from_meta(void *ud, const tk_account_t *a)
{
    ovs_t *o = ud;
    if (a->retention_days > 0 && !ovs_has(o, a->id))
        ovs_add(o, a->id, strlen(a->id), a->retention_days);
}

static void on_line(void *ud, const char *line)
{
    (void)ud;
    printf("%s\n", line);
}

int tk_cmd_purge(int argc, char **argv)
{
    const char *dir = tk_cli_default_data(), *now_s = NULL, *v;
    int dry = 0, r;
    long days = 90;
    ovs_t ov = {0};
    int code = 2;
    for (int i = 1; i < argc; i++) {
        if (tk_cli_is_help(argv[i])) {
            usage(stdout);
            code = 0;
            goto done;
        }
        if ((r = tk_cli_opt(argc, argv, &i, "purge", "--data", &v))) {
            if (r < 0) goto done;
            dir = v;
        } else if ((r = tk_cli_opt(argc, argv, &i, "purge", "--days", &v))) {
            if (r < 0) goto done;
            if (tk_cli_parse_long(v, 1, 100000, &days)) {
                fprintf(stderr, "trailkeep purge: --days '%s' must be a whole number of days >= 1\n", v);
                goto done;
            }
        } else if ((r = tk_cli_opt(argc, argv, &i, "purge", "--account-days", &v))) {
            long d;
            if (r < 0) goto done;
            const char *eq = strrchr(v, '=');
            if (!eq || eq == v || tk_cli_parse_long(eq + 1, 1, 100000, &d)) {
                fprintf(stderr, "trailkeep purge: --account-days '%s' must be ACCOUNT=DAYS, e.g. "
                                "1234567890123456=180\n", v);
                goto done;
            }
            if (ovs_add(&ov, v, (size_t)(eq - v), (int)d)) {
                code = 1;
                goto done;
            }
        } else if ((r = tk_cli_opt(argc, argv, &i, "purge", "--now", &v))) {
            if (r < 0) goto done;
            now_s = v;
        } else if (!strcmp(argv[i], "--dry-run") || !strcmp(argv[i], "-n")) {
            dry = 1;
        } else {
            fprintf(stderr, "trailkeep purge: unknown %s '%s' (see trailkeep purge --help)\n",
                    argv[i][0] == '-' ? "option" : "argument", argv[i]);
            goto done;
        }
    }
    int64_t now = tk_now_ms();
    if (now_s && tk_cli_parse_time(now_s, tk_now_ms(), &now)) {
        fprintf(stderr, "trailkeep purge: --now '%s' is not a time; use RFC 3339 or -1d\n", now_s);
        goto done;
    }
    if (!tk_fs_exists(dir)) {
        fprintf(stderr, "trailkeep purge: data directory '%s' does not exist; give --data DIR\n", dir);
        code = 1;
        goto done;
    }
    char err[TK_ERRLEN];
    char metapath[4096];
    snprintf(metapath, sizeof metapath, "%s/meta.db", dir);
    if (tk_fs_exists(metapath)) {
        tk_meta_t *m = NULL;
        if (tk_meta_open(dir, &m, err) || tk_meta_account_list(m, from_meta, &ov, err)) {
            fprintf(stderr, "trailkeep purge: cannot read per-account retention from %s: %s\n",
                    metapath, err);
            tk_meta_close(m);
            code = 1;
            goto done;
        }
        tk_meta_close(m);
        if (ov.oom) {
            code = 1;
            goto done;
        }
    }
    /* A dry run only reads: read-only, no lock, so it runs beside serve. */
    tk_store_opts_t so = {.dir = dir, .read_only = dry};
    tk_store_t *s = NULL;
    int rc = tk_store_open(&so, &s, err);
    if (rc) {
        fprintf(stderr, "trailkeep purge: cannot open the store in '%s': %s%s\n", dir, err,
                rc == TK_EBUSY ? " (stop trailkeep serve first; serve purges daily by itself)" : "");
        code = 1;
        goto done;
    }
    tk_retention_t ret = {.default_days = (int)days, .noverrides = ov.n,
                          .overrides = (const void *)ov.v};
    tk_purge_report_t rep = {0};
    rc = tk_store_purge(s, now, &ret, dry, &rep, on_line, NULL, err);
    tk_store_close(s);
    if (rc) {
        fprintf(stderr, "trailkeep purge: %s\n", err);
        code = 1;
        goto done;
    }
    char ev[32], by[16], nowtxt[32];
    tk_time_format(now, 0, nowtxt);
    printf("%s %zu day(s), %zu segment(s), %s event(s), %s (retention %ld days%s, now %s)\n",
           dry ? "would remove" : "removed", rep.days_removed, rep.segments_removed,
           tk_cli_fmt_count(rep.events_removed, ev), tk_cli_fmt_bytes(rep.bytes_removed, by), days,
           ov.n ? " plus per-account overrides" : "", nowtxt);
    code = 0;
done:
    for (size_t i = 0; i < ov.nowned; i++)
        free(ov.owned[i]);
    free(ov.owned);
    free(ov.v);
    return code;
}

/* trailkeep purge: retention. Deletes whole UTC days of each account that are
 * entirely older than its retention period (tk_store_purge); never rewrites a
 * file and never touches a newer event. --dry-run shows what would go. */
#include "cli/cli.h"
#include "cli/util.h"

#include "base/fs.h"
#include "base/tk.h"
#include "base/tktime.h"
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
"  --account-days ID=N   retention for one account, overriding --days (repeatable)\n"
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
    /* At most argc overrides; the account strings point into argv. */
    struct ov { const char *account; int days; } *ov = calloc((size_t)argc + 1, sizeof *ov);
    char **accs = calloc((size_t)argc + 1, sizeof *accs);
    size_t nov = 0;
    int code = 2;
    if (!ov || !accs) {
        code = 1;
        goto done;
    }
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
            if (!(accs[nov] = strndup(v, (size_t)(eq - v)))) {
                code = 1;
                goto done;
            }
            ov[nov].account = accs[nov];
            ov[nov++].days = (int)d;
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
    tk_store_opts_t so = {.dir = dir};
    tk_store_t *s = NULL;
    int rc = tk_store_open(&so, &s, err);
    if (rc) {
        fprintf(stderr, "trailkeep purge: cannot open the store in '%s': %s%s\n", dir, err,
                rc == TK_EBUSY ? " (stop trailkeep serve first; serve purges daily by itself)" : "");
        code = 1;
        goto done;
    }
    tk_retention_t ret = {.default_days = (int)days, .noverrides = nov,
                          .overrides = (const void *)ov};
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
           nov ? " plus per-account overrides" : "", nowtxt);
    code = 0;
done:
    for (size_t i = 0; accs && i < nov; i++)
        free(accs[i]);
    free(accs);
    free(ov);
    return code;
}

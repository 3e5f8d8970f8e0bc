/* trailkeep verify: walks each account's segment hash chain
 * (tk_store_verify) and prints every segment that was modified, removed,
 * inserted or reordered, then a summary. Opens the store read-only, so it can
 * run beside serve; exit status 1 means the data cannot be trusted as is. */
#include "cli/cli.h"
#include "cli/util.h"

#include "base/fs.h"
#include "base/tk.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fputs(
"usage: trailkeep verify [--data DIR] [--account ID]\n"
"       trailkeep verify --trail NAME [--data DIR]\n"
"       trailkeep verify --folder DIR --public-key FILE\n"
"       trailkeep verify --bucket s3://BUCKET[/PREFIX] --public-key FILE [--endpoint URL]\n"
"                        [--region R] [--path-style] [--page-size N]\n"
"\n"
"Checks the integrity of stored events: every sealed segment is chained to the\n"
"previous one of its account by SHA-256, so a segment that was modified, deleted,\n"
"inserted or moved is found. Each problem is printed as\n"
"  STATUS  account  segment  detail\n"
"with STATUS one of MODIFIED, MISSING, INSERTED, REORDERED, then a summary.\n"
"\n"
"options:\n"
"  --data DIR      data directory (default: $TRAILKEEP_DATA or ./data)\n"
"  --account ID    check only this account (default: every account)\n"
"  --quiet         print problems only, no summary\n"
"  --trail NAME    instead, check what trail NAME delivered against its signed\n"
"                  digests (same as `trailkeep trails verify NAME`)\n"
"  --folder DIR    instead, check a copy of a trail's objects (e.g. fetched with\n"
"                  `aws s3 cp --recursive`) with --public-key FILE, on any machine\n"
"  --bucket s3://BUCKET[/PREFIX]\n"
"                  instead, check a trail's objects straight from an S3-compatible\n"
"                  bucket with --public-key FILE: they are listed, downloaded to a\n"
"                  private temporary folder (removed afterwards, also on Ctrl-C) and\n"
"                  checked; problems name the objects (s3://BUCKET/KEY). Credentials:\n"
"                  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN if set)\n"
"  --endpoint URL  with --bucket: default https://s3.amazonaws.com\n"
"  --region R      with --bucket: signing region, default us-east-1\n"
"  --path-style    with --bucket: address ENDPOINT/BUCKET/KEY (MinIO, Ceph RGW)\n"
"  --page-size N   with --bucket: keys per listing request (default 1000)\n"
"  --max-objects N with --bucket: stop with an error past N listed objects\n"
"                  (default 1000000; also at most 100000 pages of at most 8 MiB)\n"
"  --allow-private-endpoints  with --trail: the trail's S3 endpoint may be a\n"
"                  private or loopback address (--endpoint given here always may)\n"
"  -h, --help      this help\n"
"\n"
"exit status: 0 everything verified; 1 a problem was found or the store (or the\n"
"bucket: missing, unreachable, access denied) could not be read; 2 usage error\n"
"(also missing credentials for --bucket); 130 interrupted.\n"
"\n"
"examples:\n"
"  trailkeep verify --data /var/lib/trailkeep\n"
"  trailkeep verify --account 1234567890123456\n"
"  trailkeep verify --folder ./bucket-copy --public-key trail-digest.pub.pem\n"
"  trailkeep verify --bucket s3://audit-logs/prod --public-key trail-digest.pub.pem\n"
"  trailkeep verify --bucket s3://audit-logs --endpoint http://127.0.0.1:9000 --path-style \\\n"
"      --public-key trail-digest.pub.pem\n",
        f);
}

static const char *status_name(tk_verify_status_t s)
{
    switch (s) {
    case TK_VERIFY_OK: return "OK";
    case TK_VERIFY_MODIFIED: return "MODIFIED";
    case TK_VERIFY_MISSING: return "MISSING";
    case TK_VERIFY_INSERTED: return "INSERTED";
    case TK_VERIFY_REORDERED: return "REORDERED";
    }
    return "PROBLEM";
}

static void on_item(void *ud, const tk_verify_item_t *it)
{
    size_t *problems = ud;
    if (it->status == TK_VERIFY_OK)
        return;
    (*problems)++;
    printf("%-9s  %s  %s  %s\n", status_name(it->status), it->account ? it->account : "-",
           it->path ? it->path : "-", it->detail ? it->detail : "");
}

/* `verify --trail/--folder/--bucket` checks delivered files, which the trail module
 * does: hand the arguments to `trails verify` instead of duplicating it. */
static int verify_delivered(int argc, char **argv)
{
    char *av[64];
    int n = 0;
    av[n++] = "trails";
    av[n++] = "verify";
    for (int i = 1; i < argc && n < 62; i++) {
        if (!strcmp(argv[i], "--trail") && i + 1 < argc)
            av[n++] = argv[++i]; /* the trail name is `trails verify`'s operand */
        else
            av[n++] = argv[i];
    }
    av[n] = NULL;
    return tk_cmd_trails(n, av);
}

/* 1 when the store holds any event of account (sealed or in the WAL). */
static int has_events(tk_store_t *s, const char *account, char *err)
{
    char **names = NULL;
    size_t n = 0;
    int found = 0;
    if (tk_store_accounts(s, &names, &n, err))
        return 1; /* cannot tell: do not claim it is empty */
    for (size_t i = 0; i < n; i++) {
        found |= !strcmp(names[i], account);
        free(names[i]);
    }
    free(names);
    return found;
}

int tk_cmd_verify(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--trail") || !strcmp(argv[i], "--folder") ||
            !strcmp(argv[i], "--bucket") || !strncmp(argv[i], "--bucket=", 9) ||
            !strncmp(argv[i], "--folder=", 9))
            return verify_delivered(argc, argv);
    const char *dir = tk_cli_default_data(), *account = NULL, *v;
    int quiet = 0, r;
    for (int i = 1; i < argc; i++) {
        if (tk_cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
        if ((r = tk_cli_opt(argc, argv, &i, "verify", "--data", &v))) {
            if (r < 0) return 2;
            dir = v;
        } else if ((r = tk_cli_opt(argc, argv, &i, "verify", "--account", &v))) {
            if (r < 0) return 2;
            account = v;
        } else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
            quiet = 1;
        } else {
            fprintf(stderr, "trailkeep verify: unknown %s '%s' (see trailkeep verify --help)\n",
                    argv[i][0] == '-' ? "option" : "argument", argv[i]);
            return 2;
        }
    }
    if (!tk_fs_exists(dir)) {
        fprintf(stderr, "trailkeep verify: data directory '%s' does not exist; give --data DIR\n", dir);
        return 1;
    }
    char err[TK_ERRLEN];
    tk_store_opts_t so = {.dir = dir, .read_only = 1};
    tk_store_t *s = NULL;
    if (tk_store_open(&so, &s, err)) {
        fprintf(stderr, "trailkeep verify: cannot open the store in '%s': %s\n", dir, err);
        return 1;
    }
    size_t problems = 0;
    tk_verify_summary_t sum = {0};
    int rc = tk_store_verify(s, account, on_item, &problems, &sum, err);
    if (!rc && account && !sum.segments_ok && !sum.problems && !problems &&
        !has_events(s, account, err)) {
        /* Nothing sealed, nothing missing, nothing in the WAL: a typo would
         * otherwise "verify" trivially. */
        tk_store_close(s);
        fprintf(stderr,
                "trailkeep verify: account %s has no stored events in '%s': nothing to verify "
                "(`trailkeep accounts list` lists the accounts that have)\n",
                account, dir);
        return 1;
    }
    tk_store_close(s);
    if (rc) {
        fprintf(stderr, "trailkeep verify: %s\n", err);
        return 1;
    }
    if (sum.problems < problems)
        sum.problems = problems;
    if (!quiet)
        printf("verified %zu account(s): %zu segment(s) ok, %zu problem(s)%s\n", sum.accounts,
               sum.segments_ok, sum.problems,
               sum.problems ? " - the stored data was changed outside trailkeep" : "");
    return sum.problems ? 1 : 0;
}

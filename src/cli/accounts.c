/* trailkeep accounts: manage accounts (tenants), their retention, and the one
 * organization (a management account and its members) in DIR/meta.db.
 * Safe next to a running server; changes apply to its next request. */
#include "cli/cli.h"
#include "cli/util.h"

#include "base/buf.h"
#include "base/fs.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "meta/meta.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MLPS_MIN_DAYS 180

static void usage(FILE *f)
{
    fputs(
"usage: trailkeep accounts <command> [options]\n"
"\n"
"Accounts are the tenants of trailkeep: every event belongs to one account\n"
"(its recipientAccountId) and every API key to one account. One organization\n"
"may group accounts: its management account's reader and admin keys also see\n"
"the members' events; nobody else sees another account's data.\n"
"\n"
"commands:\n"
"  accounts create ID [--name N] [--retention-days N]\n"
"        ID: 1-63 characters of A-Z a-z 0-9 _ - (e.g. a 16-digit Alibaba Cloud uid\n"
"        or a 12-digit AWS account id).\n"
"  accounts list [--output table|json]\n"
"  accounts set ID --retention-days N\n"
"        N: 1-36500 days, or 0 for the default (90). MLPS 2.0 needs >= 180.\n"
"  accounts delete ID\n"
"        removes the account and revokes its keys (its stored events stay until purged).\n"
"  accounts org create --id ORG --management ID\n"
"        creates the organization (there is at most one); the management account\n"
"        is a member from the start.\n"
"  accounts org add-member ID\n"
"  accounts org remove-member ID\n"
"  accounts org show [--output table|json]\n"
"  accounts org delete\n"
"\n"
"options:\n"
"  --data DIR      data directory (default: $TRAILKEEP_DATA or ./data)\n"
"  -h, --help      this help\n"
"\n"
"exit status: 0 ok; 1 failure (exists already, not found, database error); 2 usage error.\n"
"\n"
"examples:\n"
"  trailkeep accounts create 1234567890123456 --name prod --retention-days 180\n"
"  trailkeep accounts org create --id rd-a1b2c3 --management 1234567890123456\n"
"  trailkeep accounts org add-member 6543210987654321\n",
        f);
}

typedef struct {
    const char *dir, *name, *org_id, *management, *retention;
    const char *pos[2];
    int npos, json;
} args_t;

static int fail(const char *cmd, int rc, const char *err)
{
    fprintf(stderr, "trailkeep %s: %s\n", cmd, err);
    return rc == TK_EINVAL ? 2 : 1;
}

static int open_meta(const char *cmd, const char *dir, int create, tk_meta_t **m)
{
    char err[TK_ERRLEN];
    if (!create && !tk_fs_exists(dir)) {
        fprintf(stderr, "trailkeep %s: data directory '%s' does not exist; give --data DIR\n", cmd,
                dir);
        return 1;
    }
    if (tk_meta_open(dir, m, err)) {
        fail(cmd, 1, err);
        return 1;
    }
    return 0;
}

static int parse_retention(const char *cmd, const char *v, int *days)
{
    long d;
    if (tk_cli_parse_long(v, 0, 36500, &d)) {
        fprintf(stderr,
                "trailkeep %s: --retention-days '%s' must be 1-36500, or 0 for the default (90)\n",
                cmd, v);
        return 2;
    }
    *days = (int)d;
    if (d > 0 && d < MLPS_MIN_DAYS)
        fprintf(stderr,
                "trailkeep %s: note: %ld days is below the %d days MLPS 2.0 / Cybersecurity Law "
                "art. 21 require\n",
                cmd, d, MLPS_MIN_DAYS);
    return 0;
}

static int cmd_create(const args_t *a)
{
    const char *cmd = "accounts create";
    if (a->npos != 1) {
        fprintf(stderr, "trailkeep %s: give exactly one account ID\n", cmd);
        return 2;
    }
    int days = 0, code;
    if (a->retention && (code = parse_retention(cmd, a->retention, &days)))
        return code;
    tk_meta_t *m;
    if (open_meta(cmd, a->dir, 1, &m))
        return 1;
    char err[TK_ERRLEN];
    int rc = tk_meta_account_create(m, a->pos[0], a->name, err);
    if (!rc && days)
        rc = tk_meta_account_set_retention(m, a->pos[0], days, err);
    tk_meta_close(m);
    if (rc)
        return fail(cmd, rc, err);
    printf("created account %s\n", a->pos[0]);
    return 0;
}

/* What the store holds of one account: events, first and last event time. */
typedef struct held {
    char *account;
    uint64_t events;
    int64_t first_ms, last_ms;
    int listed; /* also registered in meta.db */
} held_t;

typedef struct {
    held_t *v;
    size_t n;
    int nomem;
} held_list_t;

static void on_count(void *ud, const char *account, uint64_t n)
{
    held_list_t *l = ud;
    held_t *nv = realloc(l->v, (l->n + 1) * sizeof *nv);
    char *d = strdup(account);
    if (nv)
        l->v = nv;
    if (!nv || !d) {
        free(d);
        l->nomem = 1;
        return;
    }
    nv[l->n++] = (held_t){.account = d, .events = n};
}

/* Events per account from the store (read-only: works while serve runs).
 * No store yet: an empty list. */
static int load_held(const char *dir, held_list_t *l, char *err)
{
    char wal[4096];
    snprintf(wal, sizeof wal, "%s/wal", dir);
    if (!tk_fs_exists(wal))
        return 0;
    tk_store_opts_t so = {.dir = dir, .read_only = 1};
    tk_store_t *st = NULL;
    int rc = tk_store_open(&so, &st, err);
    if (rc)
        return rc;
    rc = tk_store_account_counts(st, on_count, l);
    for (size_t i = 0; !rc && i < l->n; i++)
        tk_cli_account_times(st, l->v[i].account, &l->v[i].first_ms, &l->v[i].last_ms);
    tk_store_close(st);
    if (!rc && l->nomem)
        rc = tk_errf(err, TK_ENOMEM, "out of memory");
    return rc;
}

static void held_free(held_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].account);
    free(l->v);
}

typedef struct {
    int json, n;
    tk_table_t t;
    tk_buf_t b;
    held_list_t *held;
} list_ctx_t;

static held_t *held_find(held_list_t *l, const char *account)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].account, account))
            return &l->v[i];
    return NULL;
}

/* One row (table) or object (json). acc NULL: an account the store holds
 * events of that meta.db does not register (imported, never created). */
static void put_row(list_ctx_t *c, const char *id, const tk_account_t *acc, const held_t *h)
{
    char created[40] = "not registered", ret[16], first[40] = "-", last[40] = "-", events[24];
    if (acc) /* json: exact; table: whole seconds */
        tk_time_format(c->json ? acc->created_ms : acc->created_ms - acc->created_ms % 1000,
                       c->json, created);
    if (h && h->events) {
        tk_time_format(h->first_ms - (c->json ? 0 : h->first_ms % 1000), c->json, first);
        tk_time_format(h->last_ms - (c->json ? 0 : h->last_ms % 1000), c->json, last);
    }
    snprintf(events, sizeof events, "%llu", (unsigned long long)(h ? h->events : 0));
    int days = acc ? acc->retention_days : 0;
    const char *org = !acc ? "-" : acc->is_management ? "management" : acc->is_member ? "member" : "-";
    if (c->json) {
        tk_buf_t *b = &c->b;
        tk_buf_puts(b, c->n ? ",\n  " : "\n  ");
        tk_buf_puts(b, "{\"id\":");
        tk_buf_put_json_str(b, id, strlen(id));
        tk_buf_puts(b, ",\"name\":");
        tk_buf_put_json_str(b, acc ? acc->name : "", strlen(acc ? acc->name : ""));
        tk_buf_printf(b,
                      ",\"registered\":%s,\"events\":%s,\"firstEvent\":%s%s%s,\"lastEvent\":%s%s%s,"
                      "\"retentionDays\":%d,\"effectiveRetentionDays\":%d,\"organization\":\"%s\","
                      "\"createdAt\":%s%s%s}",
                      acc ? "true" : "false", events, h && h->events ? "\"" : "",
                      h && h->events ? first : "null", h && h->events ? "\"" : "",
                      h && h->events ? "\"" : "", h && h->events ? last : "null",
                      h && h->events ? "\"" : "", days, days ? days : 90,
                      !acc ? "none" : acc->is_management ? "management" : acc->is_member ? "member" : "none",
                      acc ? "\"" : "", acc ? created : "null", acc ? "\"" : "");
    } else {
        if (days)
            snprintf(ret, sizeof ret, "%d", days);
        else
            snprintf(ret, sizeof ret, "90 (default)");
        const char *name = acc && acc->name[0] ? acc->name : "-";
        const char *cells[] = {id, name, events, first, last, ret, org, created};
        tk_table_add(&c->t, cells);
    }
    c->n++;
}

static void on_account(void *ud, const tk_account_t *acc)
{
    list_ctx_t *c = ud;
    held_t *h = held_find(c->held, acc->id);
    if (h)
        h->listed = 1;
    put_row(c, acc->id, acc, h);
}

static int cmd_list(const args_t *a)
{
    const char *cmd = "accounts list";
    if (a->npos) {
        fprintf(stderr, "trailkeep %s: takes no argument\n", cmd);
        return 2;
    }
    char err[TK_ERRLEN];
    held_list_t held = {0};
    if (!tk_fs_exists(a->dir)) {
        fprintf(stderr, "trailkeep %s: data directory '%s' does not exist; give --data DIR\n", cmd,
                a->dir);
        return 1;
    }
    if (load_held(a->dir, &held, err)) {
        held_free(&held);
        return fail(cmd, 1, err);
    }
    tk_meta_t *m;
    if (open_meta(cmd, a->dir, 0, &m)) {
        held_free(&held);
        return 1;
    }
    static const char *const headers[] = {"ACCOUNT", "NAME", "EVENTS", "FIRST EVENT", "LAST EVENT",
                                          "RETENTION DAYS", "ORGANIZATION", "CREATED"};
    static const int maxw[] = {63, 40, 12, 20, 20, 14, 12, 20};
    list_ctx_t c = {.json = a->json, .b = TK_BUF_INIT, .held = &held};
    tk_table_init(&c.t, 8, headers, maxw);
    int rc = tk_meta_account_list(m, on_account, &c, err);
    tk_meta_close(m);
    /* Accounts with events but no meta.db row (import needs none). */
    for (size_t i = 0; !rc && i < held.n; i++)
        if (!held.v[i].listed)
            put_row(&c, held.v[i].account, NULL, &held.v[i]);
    held_free(&held);
    if (rc) {
        tk_table_free(&c.t);
        tk_buf_free(&c.b);
        return fail(cmd, rc, err);
    }
    if (a->json)
        printf("{\"accounts\": [%s%s]}\n", c.b.p ? c.b.p : "", c.n ? "\n" : "");
    else if (c.n == 0)
        printf("no accounts and no stored events (create one with trailkeep accounts create ID, "
               "or import events with trailkeep import)\n");
    else
        tk_table_flush(&c.t, stdout);
    tk_table_free(&c.t);
    tk_buf_free(&c.b);
    return 0;
}

static int cmd_set(const args_t *a)
{
    const char *cmd = "accounts set";
    int days, code;
    if (a->npos != 1 || !a->retention) {
        fprintf(stderr, "trailkeep %s: usage: trailkeep accounts set ID --retention-days N\n", cmd);
        return 2;
    }
    if ((code = parse_retention(cmd, a->retention, &days)))
        return code;
    tk_meta_t *m;
    if (open_meta(cmd, a->dir, 0, &m))
        return 1;
    char err[TK_ERRLEN];
    int rc = tk_meta_account_set_retention(m, a->pos[0], days, err);
    tk_meta_close(m);
    if (rc)
        return fail(cmd, rc, err);
    if (days)
        printf("account %s: retention %d days\n", a->pos[0], days);
    else
        printf("account %s: retention 90 days (default)\n", a->pos[0]);
    return 0;
}

static int cmd_delete(const args_t *a)
{
    const char *cmd = "accounts delete";
    if (a->npos != 1) {
        fprintf(stderr, "trailkeep %s: give exactly one account ID\n", cmd);
        return 2;
    }
    tk_meta_t *m;
    if (open_meta(cmd, a->dir, 0, &m))
        return 1;
    char err[TK_ERRLEN];
    int rc = tk_meta_account_delete(m, a->pos[0], err);
    tk_meta_close(m);
    if (rc)
        return fail(cmd, rc, err);
    printf("deleted account %s (its keys are revoked)\n", a->pos[0]);
    return 0;
}

typedef struct {
    tk_buf_t b;
    int n, json;
} members_ctx_t;

static void on_member(void *ud, const char *id)
{
    members_ctx_t *c = ud;
    if (c->json) {
        tk_buf_puts(&c->b, c->n ? "," : "");
        tk_buf_put_json_str(&c->b, id, strlen(id));
    } else {
        tk_buf_printf(&c->b, "  %s\n", id);
    }
    c->n++;
}

static int cmd_org(const char *sub, const args_t *a)
{
    char cmd[48], err[TK_ERRLEN];
    snprintf(cmd, sizeof cmd, "accounts org %s", sub);
    int is_create = !strcmp(sub, "create"), is_show = !strcmp(sub, "show");
    int is_add = !strcmp(sub, "add-member"), is_rm = !strcmp(sub, "remove-member");
    int is_del = !strcmp(sub, "delete");
    if (!is_create && !is_show && !is_add && !is_rm && !is_del) {
        fprintf(stderr,
                "trailkeep accounts org: unknown command '%s': use create, show, add-member, "
                "remove-member or delete\n",
                sub);
        return 2;
    }
    if (is_create && (!a->org_id || !a->management || a->npos)) {
        fprintf(stderr, "trailkeep %s: usage: trailkeep accounts org create --id ORG "
                        "--management ACCOUNT\n", cmd);
        return 2;
    }
    if ((is_add || is_rm) && a->npos != 1) {
        fprintf(stderr, "trailkeep %s: give exactly one account ID\n", cmd);
        return 2;
    }
    if ((is_show || is_del) && a->npos) {
        fprintf(stderr, "trailkeep %s: takes no argument\n", cmd);
        return 2;
    }
    tk_meta_t *m;
    if (open_meta(cmd, a->dir, is_create, &m))
        return 1;
    int rc = 0;
    if (is_create) {
        rc = tk_meta_org_create(m, a->org_id, a->management, err);
        if (!rc)
            printf("created organization %s, management account %s\n", a->org_id, a->management);
    } else if (is_add) {
        rc = tk_meta_org_add_member(m, a->pos[0], err);
        if (!rc)
            printf("account %s is now a member\n", a->pos[0]);
    } else if (is_rm) {
        rc = tk_meta_org_remove_member(m, a->pos[0], err);
        if (!rc)
            printf("account %s is no longer a member\n", a->pos[0]);
    } else if (is_del) {
        rc = tk_meta_org_delete(m, err);
        if (!rc)
            printf("deleted the organization (accounts and keys are unchanged)\n");
    } else {
        char org[64], mgmt[64];
        members_ctx_t c = {.b = TK_BUF_INIT, .json = a->json};
        rc = tk_meta_org_get(m, org, mgmt, err);
        if (!rc)
            rc = tk_meta_org_members(m, on_member, &c, err);
        if (!rc && a->json) {
            tk_buf_t o = TK_BUF_INIT;
            tk_buf_puts(&o, "{\"id\":");
            tk_buf_put_json_str(&o, org, strlen(org));
            tk_buf_puts(&o, ",\"managementAccount\":");
            tk_buf_put_json_str(&o, mgmt, strlen(mgmt));
            tk_buf_printf(&o, ",\"members\":[%s]}\n", c.b.p ? c.b.p : "");
            fputs(o.p, stdout);
            tk_buf_free(&o);
        } else if (!rc) {
            printf("organization:       %s\nmanagement account: %s\nmembers (%d):\n%s", org, mgmt,
                   c.n, c.b.p ? c.b.p : "");
        }
        tk_buf_free(&c.b);
    }
    tk_meta_close(m);
    return rc ? fail(cmd, rc, err) : 0;
}

int tk_cmd_accounts(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (tk_cli_is_help(argv[1])) {
        usage(stdout);
        return 0;
    }
    const char *sub = argv[1], *orgsub = NULL;
    int first = 2;
    if (!strcmp(sub, "org")) {
        if (argc < 3 || tk_cli_is_help(argv[2])) {
            usage(argc < 3 ? stderr : stdout);
            return argc < 3 ? 2 : 0;
        }
        orgsub = argv[2];
        first = 3;
    } else if (strcmp(sub, "create") && strcmp(sub, "list") && strcmp(sub, "set") &&
               strcmp(sub, "delete")) {
        fprintf(stderr,
                "trailkeep accounts: unknown command '%s': use create, list, set, delete or org\n",
                sub);
        return 2;
    }
    args_t a = {.dir = tk_cli_default_data()};
    const char *v;
    int r;
    char cmd[48];
    snprintf(cmd, sizeof cmd, "accounts %s", orgsub ? "org" : sub);
    for (int i = first; i < argc; i++) {
        if (tk_cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
        if ((r = tk_cli_opt(argc, argv, &i, cmd, "--data", &v))) {
            if (r < 0) return 2;
            a.dir = v;
        } else if ((r = tk_cli_opt(argc, argv, &i, cmd, "--name", &v))) {
            if (r < 0) return 2;
            a.name = v;
        } else if ((r = tk_cli_opt(argc, argv, &i, cmd, "--retention-days", &v))) {
            if (r < 0) return 2;
            a.retention = v;
        } else if ((r = tk_cli_opt(argc, argv, &i, cmd, "--id", &v))) {
            if (r < 0) return 2;
            a.org_id = v;
        } else if ((r = tk_cli_opt(argc, argv, &i, cmd, "--management", &v))) {
            if (r < 0) return 2;
            a.management = v;
        } else if ((r = tk_cli_opt(argc, argv, &i, cmd, "--output", &v))) {
            if (r < 0) return 2;
            if (strcmp(v, "json") && strcmp(v, "table")) {
                fprintf(stderr, "trailkeep %s: --output '%s' must be table or json\n", cmd, v);
                return 2;
            }
            a.json = !strcmp(v, "json");
        } else if (argv[i][0] != '-' && a.npos < 2) {
            a.pos[a.npos++] = argv[i];
        } else {
            fprintf(stderr, "trailkeep %s: unknown %s '%s' (see trailkeep accounts --help)\n", cmd,
                    argv[i][0] == '-' ? "option" : "argument", argv[i]);
            return 2;
        }
    }
    /* Options that do not belong to the command are usage errors, not ignored. */
    int misplaced = (a.name && strcmp(sub, "create")) ||
                    (a.retention && strcmp(sub, "create") && strcmp(sub, "set")) ||
                    ((a.org_id || a.management) && !(orgsub && !strcmp(orgsub, "create")));
    if (misplaced) {
        fprintf(stderr, "trailkeep %s: an option given does not apply to this command (see "
                        "trailkeep accounts --help)\n", cmd);
        return 2;
    }
    if (orgsub)
        return cmd_org(orgsub, &a);
    if (!strcmp(sub, "create"))
        return cmd_create(&a);
    if (!strcmp(sub, "list"))
        return cmd_list(&a);
    if (!strcmp(sub, "set"))
        return cmd_set(&a);
    return cmd_delete(&a);
}

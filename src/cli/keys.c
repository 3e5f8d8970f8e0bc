/* trailkeep keys: create, list and revoke API keys in DIR/meta.db. Works next
 * to a running server (SQLite WAL + busy timeout); a revocation takes effect
 * on the server's next request. A secret is printed once, at creation. */
#include "cli/cli.h"
#include "cli/util.h"

#include "base/buf.h"
#include "base/fs.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "meta/meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fputs(
"usage: trailkeep keys <create|list|revoke> [options]\n"
"\n"
"API keys authenticate clients of `trailkeep serve`: as 'Authorization: Bearer\n"
"KEYID:SECRET', or as an AWS access key id / secret access key (SigV4) for the\n"
"CloudTrail-compatible endpoint (aws cloudtrail lookup-events --endpoint-url ...).\n"
"Each key belongs to one account and has one role:\n"
"  writer   records events for its account only\n"
"  reader   looks up its account's events (the management account's: also members')\n"
"  admin    everything for its account (the management account's: also manages members)\n"
"\n"
"commands:\n"
"  keys create --account ID --role writer|reader|admin [--name N] [--output table|json]\n"
"        creates a key and prints its id and secret. The secret is shown only\n"
"        this once: store it now (it is kept hashed and encrypted, never in clear).\n"
"  keys list [--account ID] [--output table|json]\n"
"        lists keys (id, account, role, name, created, last used, status); never secrets.\n"
"  keys revoke KEYID\n"
"        revokes a key at once, also for a running server. Revoking twice is fine.\n"
"\n"
"options:\n"
"  --data DIR      data directory (default: $TRAILKEEP_DATA or ./data)\n"
"  -h, --help      this help\n"
"\n"
"exit status: 0 ok; 1 failure (unknown account or key, database error); 2 usage error.\n"
"\n"
"examples:\n"
"  trailkeep keys create --account 1234567890123456 --role writer --name ingest\n"
"  trailkeep keys list --account 1234567890123456 --output json\n"
"  trailkeep keys revoke TK7Q2M4XW9ZP0LK3RT8N\n",
        f);
}

static int open_meta(const char *dir, int create, tk_meta_t **m)
{
    char err[TK_ERRLEN];
    if (!create && !tk_fs_exists(dir)) {
        fprintf(stderr, "trailkeep keys: data directory '%s' does not exist; give --data DIR\n",
                dir);
        return 1;
    }
    if (tk_meta_open(dir, m, err)) {
        fprintf(stderr, "trailkeep keys: %s\n", err);
        return 1;
    }
    return 0;
}

static void fmt_time(int64_t ms, char *out)
{
    if (ms <= 0)
        strcpy(out, "never");
    else
        tk_time_format(ms - ms % 1000, 0, out); /* whole seconds: a table column, not a log */
}

static int parse_output(const char *v, int *json)
{
    if (!strcmp(v, "json"))
        *json = 1;
    else if (!strcmp(v, "table"))
        *json = 0;
    else {
        fprintf(stderr, "trailkeep keys: --output '%s' must be table or json\n", v);
        return 2;
    }
    return 0;
}

static int cmd_create(const char *dir, const char *account, const char *role_s, const char *name,
                      int json)
{
    tk_role_t role;
    if (!account || !role_s) {
        fprintf(stderr, "trailkeep keys create: --account ID and --role writer|reader|admin are "
                        "required\n");
        return 2;
    }
    if (tk_role_parse(role_s, &role)) {
        fprintf(stderr, "trailkeep keys create: --role '%s' must be writer, reader or admin\n",
                role_s);
        return 2;
    }
    tk_meta_t *m;
    if (open_meta(dir, 1, &m))
        return 1;
    char err[TK_ERRLEN], secret[TK_SECRET_LEN + 1], created[40];
    tk_key_t k;
    int rc = tk_meta_key_create(m, account, role, name, &k, secret, err);
    tk_meta_close(m);
    if (rc) {
        fprintf(stderr, "trailkeep keys create: %s\n", err);
        return rc == TK_EINVAL ? 2 : 1;
    }
    tk_time_format(k.created_ms, 0, created);
    if (json) {
        tk_buf_t b = TK_BUF_INIT;
        tk_buf_puts(&b, "{\"keyId\":");
        tk_buf_put_json_str(&b, k.key_id, strlen(k.key_id));
        tk_buf_puts(&b, ",\"secret\":");
        tk_buf_put_json_str(&b, secret, strlen(secret));
        tk_buf_puts(&b, ",\"account\":");
        tk_buf_put_json_str(&b, k.account, strlen(k.account));
        tk_buf_printf(&b, ",\"role\":\"%s\",\"name\":", tk_role_name(k.role));
        tk_buf_put_json_str(&b, k.name, strlen(k.name));
        tk_buf_printf(&b, ",\"createdAt\":\"%s\"}\n", created);
        fputs(b.p, stdout);
        tk_buf_free(&b);
    } else {
        printf("key id:   %s\nsecret:   %s\naccount:  %s\nrole:     %s\n", k.key_id, secret,
               k.account, tk_role_name(k.role));
        if (k.name[0])
            printf("name:     %s\n", k.name);
        printf("\nuse as:   Authorization: Bearer %s:<secret>\n"
               "   or:    AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=<secret>\n",
               k.key_id, k.key_id);
    }
    memset(secret, 0, sizeof secret);
    fflush(stdout);
    fprintf(stderr, "trailkeep keys: store the secret now: it cannot be shown again "
                    "(a lost secret means: create a new key, revoke the old one)\n");
    return 0;
}

typedef struct {
    int json, n;
    tk_table_t t;
    tk_buf_t b;
} list_ctx_t;

static void on_key(void *ud, const tk_key_t *k)
{
    list_ctx_t *c = ud;
    char created[40], used[40];
    if (c->json) {
        tk_time_format(k->created_ms, 1, created);
        tk_time_format(k->last_used_ms, 1, used);
        tk_buf_t *b = &c->b;
        tk_buf_puts(b, c->n ? ",\n  " : "\n  ");
        tk_buf_puts(b, "{\"keyId\":");
        tk_buf_put_json_str(b, k->key_id, strlen(k->key_id));
        tk_buf_puts(b, ",\"account\":");
        tk_buf_put_json_str(b, k->account, strlen(k->account));
        tk_buf_printf(b, ",\"role\":\"%s\",\"name\":", tk_role_name(k->role));
        tk_buf_put_json_str(b, k->name, strlen(k->name));
        tk_buf_printf(b, ",\"createdAt\":\"%s\",\"lastUsedAt\":", created);
        if (k->last_used_ms > 0)
            tk_buf_printf(b, "\"%s\"", used);
        else
            tk_buf_puts(b, "null");
        tk_buf_printf(b, ",\"status\":\"%s\"}", k->revoked ? "revoked" : "active");
    } else {
        fmt_time(k->created_ms, created);
        fmt_time(k->last_used_ms, used);
        const char *cells[] = {k->key_id, k->account, tk_role_name(k->role),
                               k->name[0] ? k->name : "-", created, used,
                               k->revoked ? "revoked" : "active"};
        tk_table_add(&c->t, cells);
    }
    c->n++;
}

static int cmd_list(const char *dir, const char *account, int json)
{
    tk_meta_t *m;
    if (open_meta(dir, 0, &m))
        return 1;
    static const char *const headers[] = {"KEY ID", "ACCOUNT", "ROLE", "NAME",
                                          "CREATED", "LAST USED", "STATUS"};
    static const int maxw[] = {20, 32, 6, 32, 20, 20, 7};
    list_ctx_t c = {.json = json, .b = TK_BUF_INIT};
    tk_table_init(&c.t, 7, headers, maxw);
    char err[TK_ERRLEN];
    int rc = tk_meta_key_list(m, account, on_key, &c, err);
    tk_meta_close(m);
    if (rc) {
        fprintf(stderr, "trailkeep keys list: %s\n", err);
        tk_table_free(&c.t);
        tk_buf_free(&c.b);
        return 1;
    }
    if (json) {
        printf("{\"keys\": [%s%s]}\n", c.b.p ? c.b.p : "", c.n ? "\n" : "");
    } else if (c.n == 0) {
        printf(account ? "no keys for account %s\n" : "no keys%s\n", account ? account : "");
    } else {
        tk_table_flush(&c.t, stdout);
    }
    tk_table_free(&c.t);
    tk_buf_free(&c.b);
    return 0;
}

static int cmd_revoke(const char *dir, const char *key_id)
{
    if (!key_id) {
        fprintf(stderr, "trailkeep keys revoke: give the key id (see trailkeep keys list)\n");
        return 2;
    }
    tk_meta_t *m;
    if (open_meta(dir, 0, &m))
        return 1;
    char err[TK_ERRLEN];
    int rc = tk_meta_key_revoke(m, key_id, err);
    tk_meta_close(m);
    if (rc) {
        fprintf(stderr, "trailkeep keys revoke: %s\n", err);
        return rc == TK_EINVAL ? 2 : 1;
    }
    printf("revoked %s\n", key_id);
    return 0;
}

int tk_cmd_keys(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (tk_cli_is_help(sub)) {
        usage(stdout);
        return 0;
    }
    if (strcmp(sub, "create") && strcmp(sub, "list") && strcmp(sub, "revoke")) {
        fprintf(stderr, "trailkeep keys: unknown command '%s': use create, list or revoke\n", sub);
        return 2;
    }
    const char *dir = tk_cli_default_data(), *account = NULL, *role = NULL, *name = NULL;
    const char *pos = NULL, *v;
    int json = 0, r;
    char cmd[32];
    snprintf(cmd, sizeof cmd, "keys %s", sub);
    for (int i = 2; i < argc; i++) {
        if (tk_cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
        if ((r = tk_cli_opt(argc, argv, &i, cmd, "--data", &v))) {
            if (r < 0) return 2;
            dir = v;
        } else if ((r = tk_cli_opt(argc, argv, &i, cmd, "--account", &v))) {
            if (r < 0) return 2;
            account = v;
        } else if (!strcmp(sub, "create") && (r = tk_cli_opt(argc, argv, &i, cmd, "--role", &v))) {
            if (r < 0) return 2;
            role = v;
        } else if (!strcmp(sub, "create") && (r = tk_cli_opt(argc, argv, &i, cmd, "--name", &v))) {
            if (r < 0) return 2;
            name = v;
        } else if ((r = tk_cli_opt(argc, argv, &i, cmd, "--output", &v))) {
            if (r < 0 || parse_output(v, &json)) return 2;
        } else if (argv[i][0] != '-' && !pos && !strcmp(sub, "revoke")) {
            pos = argv[i];
        } else {
            fprintf(stderr, "trailkeep %s: unknown %s '%s' (see trailkeep keys --help)\n", cmd,
                    argv[i][0] == '-' ? "option" : "argument", argv[i]);
            return 2;
        }
    }
    if (!strcmp(sub, "create"))
        return cmd_create(dir, account, role, name, json);
    if (!strcmp(sub, "list"))
        return cmd_list(dir, account, json);
    if (account) {
        fprintf(stderr, "trailkeep keys revoke: --account is not used here; give only KEYID\n");
        return 2;
    }
    return cmd_revoke(dir, pos);
}

/* trailkeep alerting tables in meta.db: rules, users, groups, alerts and the
 * outbox (see alert_store.h). Plain SQL through tk_meta_lock so every change
 * is one SQLite transaction and `sqlite3 meta.db` can inspect it. */
#include "alert/alert_store.h"
#include "alert/notify.h"

#include "base/egress.h"
#include "base/tk.h"
#include "base/tktime.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const tk_meta_migration_t alert_steps[] = {
    {1, "CREATE TABLE alert_rules(account TEXT NOT NULL, id TEXT NOT NULL, org_scope INTEGER NOT NULL,"
        " kind TEXT NOT NULL, definition TEXT NOT NULL, severity TEXT NOT NULL, enabled INTEGER NOT NULL,"
        " recipients TEXT NOT NULL, repeat_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
        " updated_ms INTEGER NOT NULL, PRIMARY KEY(account, id));"
        "CREATE TABLE alert_users(account TEXT NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL,"
        " webhook_url TEXT NOT NULL, webhook_secret TEXT NOT NULL, webhook_shape TEXT NOT NULL,"
        " PRIMARY KEY(account, name));"
        "CREATE TABLE alert_groups(account TEXT NOT NULL, name TEXT NOT NULL, members TEXT NOT NULL,"
        " PRIMARY KEY(account, name));"
        "CREATE TABLE alerts(id INTEGER PRIMARY KEY, rule TEXT NOT NULL, rule_account TEXT NOT NULL, account TEXT NOT NULL,"
        " group_key TEXT NOT NULL, fingerprint TEXT NOT NULL, severity TEXT NOT NULL,"
        " state TEXT NOT NULL, first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,"
        " updated_ms INTEGER NOT NULL, count INTEGER NOT NULL, event_seqs TEXT NOT NULL,"
        " notified_ms INTEGER NOT NULL DEFAULT 0, notices INTEGER NOT NULL DEFAULT 0,"
        " noticed_ms INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX alerts_fp ON alerts(fingerprint, state);"
        "CREATE INDEX alerts_acct ON alerts(account, last_ms);"
        "CREATE TABLE alert_outbox(id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL,"
        " account TEXT NOT NULL, user TEXT NOT NULL, channel TEXT NOT NULL, kind TEXT NOT NULL,"
        " notice INTEGER NOT NULL, payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
        " next_ms INTEGER NOT NULL, sent INTEGER NOT NULL DEFAULT 0, sent_ms INTEGER NOT NULL DEFAULT 0,"
        " last_error TEXT NOT NULL DEFAULT '', UNIQUE(alert_id, notice, user, channel));"
        "CREATE INDEX alert_outbox_due ON alert_outbox(sent, next_ms);"
        "CREATE TABLE alert_kv(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
        "INSERT INTO alert_kv VALUES('rules_version', 1), ('checkpoint', 0);"
        "CREATE TABLE alert_snapshots(rule_key TEXT PRIMARY KEY, data BLOB NOT NULL);"},
    /* title/summary rendered from the event (rule "title"/"summary"), and the
     * event that cleared the alert (rule "clear_when") */
    {2, "ALTER TABLE alerts ADD COLUMN title TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE alerts ADD COLUMN summary TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE alerts ADD COLUMN clear_seq INTEGER NOT NULL DEFAULT 0;"},
    /* who acknowledged or closed an alert, when, and their note */
    {3, "ALTER TABLE alerts ADD COLUMN history TEXT NOT NULL DEFAULT '[]';"},
};

int tk_alert_schema(tk_meta_t *m, char *err)
{
    return tk_meta_migrate(m, "alert", alert_steps, TK_ARRAY_LEN(alert_steps), err);
}

/* ------------------------------------------------------------ helpers */

static int db_fail(sqlite3 *db, char *err, const char *what)
{
    int c = sqlite3_errcode(db);
    return tk_errf(err, c == SQLITE_BUSY || c == SQLITE_LOCKED ? TK_EBUSY : TK_EIO,
                   "meta.db: %s: %s", what, sqlite3_errmsg(db));
}

/* Runs one statement with text/int64 binds given as a format string:
 * 's' text (NULL -> NULL), 'i' int64. Returns 0, or the error. Sets *changes. */
static int exec_v(sqlite3 *db, const char *sql, const char *fmt, va_list ap, int *changes,
                  char *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, "prepare");
    for (int i = 0; fmt && fmt[i]; i++) {
        if (fmt[i] == 's')
            sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        int c = sqlite3_extended_errcode(db);
        sqlite3_finalize(st);
        if (c == SQLITE_CONSTRAINT_PRIMARYKEY || c == SQLITE_CONSTRAINT_UNIQUE)
            return tk_errf(err, TK_EEXIST, "already exists");
        return db_fail(db, err, "write");
    }
    sqlite3_finalize(st);
    if (changes)
        *changes = sqlite3_changes(db);
    return 0;
}

static int exec(tk_meta_t *m, int *changes, char *err, const char *sql, const char *fmt, ...)
{
    int rc = tk_alert_schema(m, err);
    if (rc)
        return rc;
    sqlite3 *db = tk_meta_lock(m);
    va_list ap;
    va_start(ap, fmt);
    rc = exec_v(db, sql, fmt, ap, changes, err);
    va_end(ap);
    tk_meta_unlock(m);
    return rc;
}

static char *dupcol(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return strdup(t ? (const char *)t : "");
}

static void cpycol(sqlite3_stmt *st, int i, char *dst, size_t n)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(dst, n, "%s", t ? (const char *)t : "");
}

static int bump_rules(tk_meta_t *m, char *err)
{
    return exec(m, NULL, err, "UPDATE alert_kv SET v = v + 1 WHERE k = 'rules_version'", "");
}

/* -------------------------------------------------------------- rules */

const char *tk_rule_kind_name(tk_rule_kind_t k)
{
    return k == TK_RULE_TEMPLATE ? "template" : k == TK_RULE_SIGMA ? "sigma" : "json";
}

int tk_rule_kind_parse(const char *s, tk_rule_kind_t *out)
{
    if (!s)
        return TK_EINVAL;
    if (!strcmp(s, "json"))
        *out = TK_RULE_JSON;
    else if (!strcmp(s, "template"))
        *out = TK_RULE_TEMPLATE;
    else if (!strcmp(s, "sigma"))
        *out = TK_RULE_SIGMA;
    else
        return TK_EINVAL;
    return 0;
}

int tk_stored_rule_compile(const tk_stored_rule_t *r, tk_rule_t **out, char *err)
{
    const char *d = r->definition ? r->definition : "";
    switch (r->kind) {
    case TK_RULE_TEMPLATE: return tk_template_compile(d, out, err);
    case TK_RULE_SIGMA: return tk_rule_from_sigma(d, strlen(d), r->id, out, err);
    default: return tk_rule_from_json(d, strlen(d), out, err);
    }
}

static int valid_name(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (!n || n >= max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '@'))
            return 0;
    }
    return 1;
}

static int check_rule(const tk_stored_rule_t *r, char *err)
{
    if (!valid_name(r->id, sizeof r->id))
        return tk_errf(err, TK_EINVAL, "rule id '%.64s' must be 1-127 of [A-Za-z0-9._@-]", r->id);
    tk_rule_t *c = NULL;
    char e2[TK_ERRLEN] = "";
    int rc = tk_stored_rule_compile(r, &c, e2);
    tk_rule_destroy(c);
    if (rc)
        return tk_errf(err, rc, "rule %s (%s): %s", r->id, tk_rule_kind_name(r->kind), e2);
    if (r->repeat_ms < 0)
        return tk_errf(err, TK_EINVAL, "repeat interval must be >= 0");
    return 0;
}

int tk_alert_rule_create(tk_meta_t *m, const tk_stored_rule_t *r, char *err)
{
    int rc = check_rule(r, err);
    if (rc)
        return rc;
    int64_t now = tk_now_ms();
    rc = exec(m, NULL, err,
              "INSERT INTO alert_rules VALUES(?,?,?,?,?,?,?,?,?,?,?)", "ssisssisiii", r->account,
              r->id, (int64_t)r->org_scope, tk_rule_kind_name(r->kind), r->definition,
              tk_severity_name(r->severity), (int64_t)(r->enabled != 0),
              r->recipients ? r->recipients : "", r->repeat_ms ? r->repeat_ms : 3600000, now, now);
    if (rc == TK_EEXIST)
        return tk_errf(err, TK_EEXIST, "rule %s already exists in account %s (update or delete it)",
                       r->id, r->account);
    return rc ? rc : bump_rules(m, err);
}

int tk_alert_rule_update(tk_meta_t *m, const tk_stored_rule_t *r, char *err)
{
    int rc = check_rule(r, err), ch = 0;
    if (rc)
        return rc;
    rc = exec(m, &ch, err,
              "UPDATE alert_rules SET org_scope=?, kind=?, definition=?, severity=?, recipients=?,"
              " repeat_ms=?, updated_ms=? WHERE account=? AND id=?",
              "issssiiss", (int64_t)r->org_scope, tk_rule_kind_name(r->kind), r->definition,
              tk_severity_name(r->severity), r->recipients ? r->recipients : "",
              r->repeat_ms ? r->repeat_ms : 3600000, tk_now_ms(), r->account, r->id);
    if (!rc && !ch)
        return tk_errf(err, TK_ENOTFOUND, "no rule %s in account %s", r->id, r->account);
    return rc ? rc : bump_rules(m, err);
}

int tk_alert_rule_delete(tk_meta_t *m, const char *account, const char *id, char *err)
{
    int ch = 0;
    int rc = exec(m, &ch, err, "DELETE FROM alert_rules WHERE account=? AND id=?", "ss", account, id);
    if (!rc && !ch)
        return tk_errf(err, TK_ENOTFOUND, "no rule %s in account %s", id, account);
    return rc ? rc : bump_rules(m, err);
}

int tk_alert_rule_set_enabled(tk_meta_t *m, const char *account, const char *id, int on, char *err)
{
    int ch = 0;
    int rc = exec(m, &ch, err, "UPDATE alert_rules SET enabled=?, updated_ms=? WHERE account=? AND id=?",
                  "iiss", (int64_t)(on != 0), tk_now_ms(), account, id);
    if (!rc && !ch)
        return tk_errf(err, TK_ENOTFOUND, "no rule %s in account %s", id, account);
    return rc ? rc : bump_rules(m, err);
}

void tk_stored_rule_free(tk_stored_rule_t *r)
{
    if (!r)
        return;
    free(r->definition);
    free(r->recipients);
    r->definition = r->recipients = NULL;
}

void tk_stored_rules_free(tk_stored_rule_t *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        tk_stored_rule_free(&v[i]);
    free(v);
}

#define RULE_COLS "account, id, org_scope, kind, definition, severity, enabled, recipients, repeat_ms, created_ms, updated_ms"

static void rule_row(sqlite3_stmt *st, tk_stored_rule_t *r)
{
    memset(r, 0, sizeof *r);
    cpycol(st, 0, r->account, sizeof r->account);
    cpycol(st, 1, r->id, sizeof r->id);
    r->org_scope = sqlite3_column_int(st, 2);
    tk_rule_kind_parse((const char *)sqlite3_column_text(st, 3), &r->kind);
    r->definition = dupcol(st, 4);
    if (tk_severity_parse((const char *)sqlite3_column_text(st, 5), &r->severity))
        r->severity = TK_SEV_MEDIUM;
    r->enabled = sqlite3_column_int(st, 6);
    r->recipients = dupcol(st, 7);
    r->repeat_ms = sqlite3_column_int64(st, 8);
    r->created_ms = sqlite3_column_int64(st, 9);
    r->updated_ms = sqlite3_column_int64(st, 10);
}

int tk_alert_rule_list(tk_meta_t *m, const char *account, tk_stored_rule_t **out, size_t *n,
                       char *err)
{
    *out = NULL;
    *n = 0;
    int rc = tk_alert_schema(m, err);
    if (rc)
        return rc;
    sqlite3 *db = tk_meta_lock(m);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           account ? "SELECT " RULE_COLS " FROM alert_rules WHERE account=? ORDER BY account, id"
                                   : "SELECT " RULE_COLS " FROM alert_rules ORDER BY account, id",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(db, err, "list rules");
        tk_meta_unlock(m);
        return rc;
    }
    if (account)
        sqlite3_bind_text(st, 1, account, -1, SQLITE_TRANSIENT);
    size_t cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            tk_stored_rule_t *nv = realloc(*out, cap * sizeof *nv);
            if (!nv) {
                rc = SQLITE_NOMEM;
                break;
            }
            *out = nv;
        }
        rule_row(st, &(*out)[(*n)++]);
    }
    sqlite3_finalize(st);
    tk_meta_unlock(m);
    if (rc != SQLITE_DONE) {
        tk_stored_rules_free(*out, *n);
        *out = NULL;
        *n = 0;
        return tk_errf(err, TK_EIO, "meta.db: listing rules failed");
    }
    return 0;
}

int tk_alert_rule_get(tk_meta_t *m, const char *account, const char *id, tk_stored_rule_t *out,
                      char *err)
{
    tk_stored_rule_t *v = NULL;
    size_t n = 0;
    int rc = tk_alert_rule_list(m, account, &v, &n, err);
    if (rc)
        return rc;
    rc = tk_errf(err, TK_ENOTFOUND, "no rule %s in account %s", id, account);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].id, id)) {
            *out = v[i];
            memset(&v[i], 0, sizeof v[i]);
            rc = 0;
            if (err)
                err[0] = 0;
        }
    tk_stored_rules_free(v, n);
    return rc;
}

int64_t tk_alert_rules_version(tk_meta_t *m)
{
    char err[TK_ERRLEN];
    if (tk_alert_schema(m, err))
        return -1;
    sqlite3 *db = tk_meta_lock(m);
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, "SELECT v FROM alert_kv WHERE k='rules_version'", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    tk_meta_unlock(m);
    return v;
}

/* ------------------------------------------------------ users, groups */

static void webhook_context(const char *account, const char *name, char *out, size_t n)
{
    snprintf(out, n, "webhook:%s/%s", account, name);
}

int tk_alert_user_put(tk_meta_t *m, const tk_alert_user_t *u, char *err)
{
    if (!valid_name(u->name, sizeof u->name))
        return tk_errf(err, TK_EINVAL, "user name '%.64s' must be 1-127 of [A-Za-z0-9._@-]", u->name);
    const char *shape = u->webhook_shape[0] ? u->webhook_shape : "generic";
    if (strcmp(shape, "generic") && strcmp(shape, "dingtalk") && strcmp(shape, "slack"))
        return tk_errf(err, TK_EINVAL, "webhook shape '%s': use generic, dingtalk or slack", shape);
    /* A tenant's URL: http/https and a literal host the egress policy allows
     * (names are judged at connect time, notify.c). */
    int rc = u->webhook_url[0] ? tk_egress_check_url("webhook url", u->webhook_url,
                                                     tk_egress_allow_private(), err) : 0;
    if (rc)
        return rc;
    if (u->email[0] && (rc = tk_email_check("email", u->email, err)))
        return rc;
    /* The signing secret is sealed under the master key, bound to its row. */
    char ctx[256], sealed[TK_SEALED_TEXT_MAX];
    webhook_context(u->account, u->name, ctx, sizeof ctx);
    if ((rc = tk_meta_secret_seal(m, ctx, u->webhook_secret, sealed, sizeof sealed, err)))
        return rc;
    return exec(m, NULL, err, "INSERT OR REPLACE INTO alert_users VALUES(?,?,?,?,?,?)", "ssssss",
                u->account, u->name, u->email, u->webhook_url, sealed, shape);
}

int tk_alert_user_delete(tk_meta_t *m, const char *account, const char *name, char *err)
{
    int ch = 0;
    int rc = exec(m, &ch, err, "DELETE FROM alert_users WHERE account=? AND name=?", "ss", account, name);
    if (!rc && !ch)
        return tk_errf(err, TK_ENOTFOUND, "no user %s in account %s", name, account);
    return rc;
}

int tk_alert_user_list(tk_meta_t *m, const char *account, tk_alert_user_t **out, size_t *n,
                       char *err)
{
    *out = NULL;
    *n = 0;
    int rc = tk_alert_schema(m, err);
    if (rc)
        return rc;
    sqlite3 *db = tk_meta_lock(m);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT account, name, email, webhook_url, webhook_secret, webhook_shape"
                               " FROM alert_users WHERE account=? ORDER BY name",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(db, err, "list users");
        tk_meta_unlock(m);
        return rc;
    }
    sqlite3_bind_text(st, 1, account, -1, SQLITE_TRANSIENT);
    size_t cap = 0, legacy = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            tk_alert_user_t *nv = realloc(*out, cap * sizeof *nv);
            if (!nv) {
                rc = tk_errf(err, TK_ENOMEM, "out of memory listing users");
                break;
            }
            *out = nv;
        }
        tk_alert_user_t *u = &(*out)[(*n)++];
        cpycol(st, 0, u->account, sizeof u->account);
        cpycol(st, 1, u->name, sizeof u->name);
        cpycol(st, 2, u->email, sizeof u->email);
        cpycol(st, 3, u->webhook_url, sizeof u->webhook_url);
        cpycol(st, 5, u->webhook_shape, sizeof u->webhook_shape);
        const unsigned char *sec = sqlite3_column_text(st, 4);
        char ctx[256];
        webhook_context(u->account, u->name, ctx, sizeof ctx);
        if (sec && *sec && !tk_meta_secret_is_sealed((const char *)sec))
            legacy++;
        if ((rc = tk_meta_secret_open(m, ctx, sec ? (const char *)sec : "", u->webhook_secret,
                                      sizeof u->webhook_secret, err)))
            break;
    }
    sqlite3_finalize(st);
    tk_meta_unlock(m);
    /* Rows written in clear by an older version are sealed on first read. */
    for (size_t i = 0; !rc && legacy && i < *n; i++) {
        const tk_alert_user_t *u = &(*out)[i];
        char ctx[256], sealed[TK_SEALED_TEXT_MAX];
        webhook_context(u->account, u->name, ctx, sizeof ctx);
        if (!(rc = tk_meta_secret_seal(m, ctx, u->webhook_secret, sealed, sizeof sealed, err)))
            rc = exec(m, NULL, err, "UPDATE alert_users SET webhook_secret=? WHERE account=? AND name=?",
                      "sss", sealed, u->account, u->name);
    }
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int tk_alert_user_get(tk_meta_t *m, const char *account, const char *name, tk_alert_user_t *out,
                      char *err)
{
    tk_alert_user_t *v = NULL;
    size_t n = 0;
    int rc = tk_alert_user_list(m, account, &v, &n, err);
    if (rc)
        return rc;
    rc = TK_ENOTFOUND;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].name, name)) {
            *out = v[i];
            rc = 0;
        }
    free(v);
    return rc ? tk_errf(err, rc, "no user %s in account %s", name, account) : 0;
}

static int check_names(tk_meta_t *m, const char *account, const char *list, int groups_ok,
                       const char *what, char *err);

int tk_alert_group_put(tk_meta_t *m, const char *account, const char *name, const char *members,
                       char *err)
{
    if (!valid_name(name, 128))
        return tk_errf(err, TK_EINVAL, "group name '%.64s' must be 1-127 of [A-Za-z0-9._@-]", name);
    /* A member that is no user would make the group silently reach fewer people. */
    int rc = check_names(m, account, members, 0, "members", err);
    if (rc)
        return rc;
    return exec(m, NULL, err, "INSERT OR REPLACE INTO alert_groups VALUES(?,?,?)", "sss", account,
                name, members ? members : "");
}

typedef struct names_ctx {
    char **v;
    size_t n;
} names_ctx_t;

static void collect_group(void *ud, const char *name, const char *members)
{
    (void)members;
    names_ctx_t *c = ud;
    char **nv = realloc(c->v, (c->n + 1) * sizeof *nv);
    if (!nv)
        return;
    c->v = nv;
    if ((nv[c->n] = strdup(name)))
        c->n++;
}

/* Each comma-separated name of list: a user (or with groups_ok, a
 * "group:NAME") of account. */
static int check_names(tk_meta_t *m, const char *account, const char *list, int groups_ok,
                       const char *what, char *err)
{
    tk_alert_user_t *users = NULL;
    size_t nu = 0;
    names_ctx_t g = {NULL, 0};
    int rc = tk_alert_user_list(m, account, &users, &nu, err);
    if (!rc && groups_ok)
        rc = tk_alert_group_list(m, account, collect_group, &g, err);
    char *dup = rc ? NULL : strdup(list ? list : "");
    if (!rc && !dup)
        rc = tk_errf(err, TK_ENOMEM, "out of memory");
    char *save = NULL;
    for (char *t = dup ? strtok_r(dup, ",", &save) : NULL; !rc && t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        size_t tl = strlen(t);
        while (tl && t[tl - 1] == ' ')
            t[--tl] = 0;
        if (!*t)
            continue;
        int found = 0;
        if (groups_ok && !strncmp(t, "group:", 6)) {
            for (size_t i = 0; i < g.n && !found; i++)
                found = !strcmp(g.v[i], t + 6);
            if (!found)
                rc = tk_errf(err, TK_EINVAL,
                             "%s: there is no group '%.64s' in account %s: create it first "
                             "(POST /v1/user-groups, trailkeep rules group NAME --members ...)",
                             what, t + 6, account);
            continue;
        }
        for (size_t i = 0; i < nu && !found; i++)
            found = !strcmp(users[i].name, t);
        if (!found)
            rc = tk_errf(err, TK_EINVAL,
                         "%s: there is no user '%.64s' in account %s: create it first (POST "
                         "/v1/users, trailkeep rules user NAME --email ...)%s",
                         what, t, account, groups_ok ? ", or write group:NAME for a group" : "");
    }
    free(dup);
    free(users);
    for (size_t i = 0; i < g.n; i++)
        free(g.v[i]);
    free(g.v);
    return rc;
}

typedef struct members_ctx {
    const char *want;
    char *members; /* owned copy of the wanted group's members */
} members_ctx_t;

static void find_group(void *ud, const char *name, const char *members)
{
    members_ctx_t *c = ud;
    if (!c->members && !strcmp(name, c->want))
        c->members = strdup(members);
}

/* Calls cb for each user of list (groups expanded) that no channel can
 * reach: no email and no webhook, or only an email while smtp_ok is 0. */
static void reach_users(const tk_alert_user_t *users, size_t nu, const char *list, int smtp_ok,
                        void (*cb)(void *ud, const char *msg), void *ud)
{
    char *dup = strdup(list ? list : ""), *save = NULL;
    for (char *t = dup ? strtok_r(dup, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        for (size_t i = 0; i < nu; i++) {
            if (strcmp(users[i].name, t))
                continue;
            char msg[400];
            if (!users[i].email[0] && !users[i].webhook_url[0])
                snprintf(msg, sizeof msg, "user %s has no email and no webhook: no notice can reach them",
                         users[i].name);
            else if (!users[i].webhook_url[0] && !smtp_ok)
                snprintf(msg, sizeof msg,
                         "user %s has only an email, and this server has no --smtp-url: their "
                         "notices cannot be sent", users[i].name);
            else
                continue;
            cb(ud, msg);
        }
    }
    free(dup);
}

int tk_alert_recipients_reach(tk_meta_t *m, const char *account, const char *recipients, int smtp_ok,
                              void (*cb)(void *ud, const char *msg), void *ud, char *err)
{
    tk_alert_user_t *users = NULL;
    size_t nu = 0;
    int rc = tk_alert_user_list(m, account, &users, &nu, err);
    char *dup = rc ? NULL : strdup(recipients ? recipients : ""), *save = NULL;
    for (char *t = dup ? strtok_r(dup, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (strncmp(t, "group:", 6)) {
            reach_users(users, nu, t, smtp_ok, cb, ud);
            continue;
        }
        members_ctx_t g = {t + 6, NULL};
        if (tk_alert_group_list(m, account, find_group, &g, err) == 0 && g.members)
            reach_users(users, nu, g.members, smtp_ok, cb, ud);
        free(g.members);
    }
    free(dup);
    free(users);
    return rc;
}

int tk_alert_recipients_check(tk_meta_t *m, const char *account, const char *recipients, char *err)
{
    return check_names(m, account, recipients, 1, "recipients", err);
}

int tk_alert_group_delete(tk_meta_t *m, const char *account, const char *name, char *err)
{
    int ch = 0;
    int rc = exec(m, &ch, err, "DELETE FROM alert_groups WHERE account=? AND name=?", "ss", account, name);
    if (!rc && !ch)
        return tk_errf(err, TK_ENOTFOUND, "no group %s in account %s", name, account);
    return rc;
}

int tk_alert_group_list(tk_meta_t *m, const char *account,
                        void (*cb)(void *ud, const char *name, const char *members), void *ud,
                        char *err)
{
    int rc = tk_alert_schema(m, err);
    if (rc)
        return rc;
    sqlite3 *db = tk_meta_lock(m);
    sqlite3_stmt *st = NULL;
    char **names = NULL;
    size_t n = 0, cap = 0;
    if (sqlite3_prepare_v2(db, "SELECT name, members FROM alert_groups WHERE account=? ORDER BY name",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(db, err, "list groups");
        tk_meta_unlock(m);
        return rc;
    }
    sqlite3_bind_text(st, 1, account, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n + 2 > cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(names, cap * sizeof *nv);
            if (!nv)
                break;
            names = nv;
        }
        names[n++] = dupcol(st, 0);
        names[n++] = dupcol(st, 1);
    }
    sqlite3_finalize(st);
    tk_meta_unlock(m);
    /* cb runs unlocked so it may call back into meta. */
    for (size_t i = 0; i + 1 < n; i += 2)
        if (names[i] && names[i + 1])
            cb(ud, names[i], names[i + 1]);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return 0;
}

/* ------------------------------------------------------------- alerts */

static const char *const state_names[] = {"triggered", "cleared", "acknowledged", "closed"};

const char *tk_alert_state_name(tk_alert_state_t s)
{
    return (unsigned)s < 4 ? state_names[s] : "unknown";
}

int tk_alert_state_parse(const char *s, tk_alert_state_t *out)
{
    for (int i = 0; s && i < 4; i++)
        if (!strcmp(s, state_names[i])) {
            *out = (tk_alert_state_t)i;
            return 0;
        }
    return TK_EINVAL;
}

void tk_alert_rows_free(tk_alert_row_t *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].event_seqs);
    free(v);
}

#define ALERT_COLS "id, rule, account, group_key, fingerprint, severity, state, first_ms, last_ms, updated_ms, count, event_seqs, notified_ms, title, summary, clear_seq, history"

static int alert_query(tk_meta_t *m, const char *sql, const tk_alert_filter_t *f, int64_t id,
                       tk_alert_row_t **out, size_t *n, char *err)
{
    *out = NULL;
    *n = 0;
    int rc = tk_alert_schema(m, err);
    if (rc)
        return rc;
    sqlite3 *db = tk_meta_lock(m);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(db, err, "list alerts");
        tk_meta_unlock(m);
        return rc;
    }
    sqlite3_bind_text(st, 1, f->account, -1, SQLITE_TRANSIENT);
    if (id) {
        sqlite3_bind_int64(st, 2, id);
    } else {
        if (f->rule)
            sqlite3_bind_text(st, 2, f->rule, -1, SQLITE_TRANSIENT);
        if (f->state >= 0)
            sqlite3_bind_text(st, 3, tk_alert_state_name((tk_alert_state_t)f->state), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, f->since_ms);
        sqlite3_bind_int64(st, 5, f->until_ms ? f->until_ms : INT64_MAX);
        sqlite3_bind_int64(st, 6, f->limit ? (int64_t)f->limit : 100);
    }
    size_t cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            tk_alert_row_t *nv = realloc(*out, cap * sizeof *nv);
            if (!nv) {
                rc = tk_errf(err, TK_ENOMEM, "out of memory listing alerts");
                break;
            }
            *out = nv;
        }
        tk_alert_row_t *a = &(*out)[(*n)++];
        memset(a, 0, sizeof *a);
        a->id = sqlite3_column_int64(st, 0);
        cpycol(st, 1, a->rule, sizeof a->rule);
        cpycol(st, 2, a->account, sizeof a->account);
        cpycol(st, 3, a->group_key, sizeof a->group_key);
        cpycol(st, 4, a->fingerprint, sizeof a->fingerprint);
        if (tk_severity_parse((const char *)sqlite3_column_text(st, 5), &a->severity))
            a->severity = TK_SEV_MEDIUM;
        tk_alert_state_parse((const char *)sqlite3_column_text(st, 6), &a->state);
        a->first_ms = sqlite3_column_int64(st, 7);
        a->last_ms = sqlite3_column_int64(st, 8);
        a->updated_ms = sqlite3_column_int64(st, 9);
        a->count = sqlite3_column_int64(st, 10);
        a->event_seqs = dupcol(st, 11);
        a->notified_ms = sqlite3_column_int64(st, 12);
        cpycol(st, 13, a->title, sizeof a->title);
        cpycol(st, 14, a->summary, sizeof a->summary);
        a->clear_seq = sqlite3_column_int64(st, 15);
        cpycol(st, 16, a->history, sizeof a->history);
    }
    sqlite3_finalize(st);
    tk_meta_unlock(m);
    return rc;
}

int tk_alert_list(tk_meta_t *m, const tk_alert_filter_t *f, tk_alert_row_t **out, size_t *n,
                  char *err)
{
    return alert_query(m,
                       "SELECT " ALERT_COLS " FROM alerts WHERE account=?1 AND (?2 IS NULL OR rule=?2)"
                       " AND (?3 IS NULL OR state=?3) AND last_ms >= ?4 AND last_ms <= ?5"
                       " ORDER BY id DESC LIMIT ?6",
                       f, 0, out, n, err);
}

int tk_alert_get(tk_meta_t *m, const char *account, int64_t id, tk_alert_row_t *out, char *err)
{
    tk_alert_filter_t f = {.account = account, .state = -1};
    tk_alert_row_t *v = NULL;
    size_t n = 0;
    int rc = alert_query(m, "SELECT " ALERT_COLS " FROM alerts WHERE account=?1 AND id=?2", &f,
                         id, &v, &n, err);
    if (rc)
        return rc;
    if (!n) {
        free(v);
        return tk_errf(err, TK_ENOTFOUND, "no alert %lld in account %s", (long long)id, account);
    }
    *out = v[0];
    free(v);
    return 0;
}

/* history + {"at","state","by","note"}, keeping the newest entries that fit
 * in the row's fixed array. Owned result or NULL. */
static char *history_add(const char *history, tk_alert_state_t to, const char *by, const char *note)
{
    cJSON *h = cJSON_Parse(history && *history ? history : "[]");
    if (!cJSON_IsArray(h)) {
        cJSON_Delete(h);
        h = cJSON_CreateArray();
    }
    cJSON *e = cJSON_CreateObject();
    char at[40];
    tk_time_format(tk_now_ms(), 1, at);
    if (!h || !e) {
        cJSON_Delete(h);
        cJSON_Delete(e);
        return NULL;
    }
    cJSON_AddStringToObject(e, "at", at);
    cJSON_AddStringToObject(e, "state", tk_alert_state_name(to));
    cJSON_AddStringToObject(e, "by", by && *by ? by : "unknown");
    if (note && *note)
        cJSON_AddStringToObject(e, "note", note);
    cJSON_AddItemToArray(h, e);
    char *txt = cJSON_PrintUnformatted(h);
    while (txt && strlen(txt) >= sizeof(((tk_alert_row_t *)0)->history) && cJSON_GetArraySize(h) > 1) {
        cJSON_DeleteItemFromArray(h, 0); /* the oldest goes first */
        cJSON_free(txt);
        txt = cJSON_PrintUnformatted(h);
    }
    cJSON_Delete(h);
    char *out = txt ? strdup(txt) : NULL;
    cJSON_free(txt);
    return out;
}

int tk_alert_set_state_by(tk_meta_t *m, const char *account, int64_t id, tk_alert_state_t to,
                          const char *by, const char *note, char *err)
{
    if (note && strlen(note) > 500)
        return tk_errf(err, TK_EINVAL, "the note is %zu bytes: at most 500", strlen(note));
    tk_alert_row_t a;
    int rc = tk_alert_get(m, account, id, &a, err);
    if (rc)
        return rc;
    tk_alert_state_t from = a.state;
    free(a.event_seqs);
    if (to == TK_AS_ACKNOWLEDGED && from == TK_AS_CLOSED)
        return tk_errf(err, TK_EINVAL, "alert %lld is closed: it cannot be acknowledged", (long long)id);
    if (to != TK_AS_ACKNOWLEDGED && to != TK_AS_CLOSED)
        return tk_errf(err, TK_EINVAL, "an alert can only be acknowledged or closed by hand");
    char *h = history_add(a.history, to, by, note);
    if (!h)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    rc = exec(m, NULL, err, "UPDATE alerts SET state=?, updated_ms=?, history=? WHERE account=? AND id=?",
              "sissi", tk_alert_state_name(to), tk_now_ms(), h, account, id);
    free(h);
    return rc;
}

int tk_alert_set_state(tk_meta_t *m, const char *account, int64_t id, tk_alert_state_t to,
                       char *err)
{
    return tk_alert_set_state_by(m, account, id, to, NULL, NULL, err);
}

/* --------------------------------------------------- an alert's events */

typedef struct aev_ctx {
    uint64_t *seqs;
    size_t nseqs, found, scanned;
    tk_buf_t *out;
    int rc;
} aev_ctx_t;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int aev_cb(void *ud, const tk_stored_event_t *ev)
{
    aev_ctx_t *c = ud;
    if (++c->scanned > 1000000)
        return 1;
    if (!bsearch(&ev->seq, c->seqs, c->nseqs, sizeof *c->seqs, cmp_u64))
        return 0;
    if (c->found++)
        c->rc |= tk_buf_putc(c->out, ',');
    c->rc |= tk_buf_append(c->out, ev->json.p, ev->json.len);
    return c->found == c->nseqs; /* all found: stop */
}

int tk_alert_events(tk_store_t *store, const tk_alert_row_t *a, tk_buf_t *out, size_t *n, char *err)
{
    *n = 0;
    aev_ctx_t c = {.out = out};
    size_t cap = 0;
    for (const char *p = a->event_seqs ? a->event_seqs : ""; *p;) {
        char *end = NULL;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p)
            break;
        if (c.nseqs == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *nv = realloc(c.seqs, cap * sizeof *nv);
            if (!nv) {
                free(c.seqs);
                return tk_errf(err, TK_ENOMEM, "out of memory");
            }
            c.seqs = nv;
        }
        c.seqs[c.nseqs++] = (uint64_t)v;
        p = *end == ',' ? end + 1 : end;
    }
    if (!c.nseqs) {
        free(c.seqs);
        return 0;
    }
    qsort(c.seqs, c.nseqs, sizeof *c.seqs, cmp_u64);
    tk_lookup_req_t q = {.account = a->account, .start_ms = a->first_ms, .end_ms = a->last_ms,
                         .forward = 1};
    int rc = tk_store_lookup(store, &q, aev_cb, &c, err);
    free(c.seqs);
    if (rc > 0)
        rc = 0; /* stopped by the callback */
    *n = c.found;
    return rc ? rc : c.rc ? tk_errf(err, TK_ENOMEM, "out of memory") : 0;
}

/* ------------------------------------------------------------- outbox */

void tk_outbox_rows_free(tk_outbox_row_t *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].payload);
    free(v);
}

int tk_outbox_due(tk_meta_t *m, int64_t now_ms, size_t max, tk_outbox_row_t **out, size_t *n,
                  char *err)
{
    *out = NULL;
    *n = 0;
    int rc = tk_alert_schema(m, err);
    if (rc)
        return rc;
    sqlite3 *db = tk_meta_lock(m);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT id, alert_id, account, user, channel, kind, payload, attempts,"
                               " next_ms, last_error FROM alert_outbox WHERE sent=0 AND next_ms<=?"
                               " ORDER BY next_ms, id LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(db, err, "outbox");
        tk_meta_unlock(m);
        return rc;
    }
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, (int64_t)max);
    *out = calloc(max ? max : 1, sizeof **out);
    if (!*out) {
        sqlite3_finalize(st);
        tk_meta_unlock(m);
        return tk_errf(err, TK_ENOMEM, "out of memory reading the outbox");
    }
    while (*n < max && sqlite3_step(st) == SQLITE_ROW) {
        tk_outbox_row_t *o = &(*out)[(*n)++];
        o->id = sqlite3_column_int64(st, 0);
        o->alert_id = sqlite3_column_int64(st, 1);
        cpycol(st, 2, o->account, sizeof o->account);
        cpycol(st, 3, o->user, sizeof o->user);
        cpycol(st, 4, o->channel, sizeof o->channel);
        cpycol(st, 5, o->kind, sizeof o->kind);
        o->payload = dupcol(st, 6);
        o->attempts = sqlite3_column_int(st, 7);
        o->next_ms = sqlite3_column_int64(st, 8);
        cpycol(st, 9, o->last_error, sizeof o->last_error);
    }
    sqlite3_finalize(st);
    tk_meta_unlock(m);
    return 0;
}

int tk_outbox_mark_sent(tk_meta_t *m, int64_t id, int64_t now_ms, char *err)
{
    int rc = tk_alert_schema(m, err);
    if (rc)
        return rc;
    sqlite3 *db = tk_meta_lock(m);
    char *e = NULL;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &e) != SQLITE_OK) {
        rc = tk_errf(err, TK_EBUSY, "meta.db: %s", e ? e : "begin");
        sqlite3_free(e);
        tk_meta_unlock(m);
        return rc;
    }
    sqlite3_stmt *st = NULL;
    rc = TK_EIO;
    if (sqlite3_prepare_v2(db, "UPDATE alert_outbox SET sent=1, sent_ms=?1, attempts=attempts+1 WHERE id=?2",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, now_ms);
        sqlite3_bind_int64(st, 2, id);
        if (sqlite3_step(st) == SQLITE_DONE)
            rc = 0;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (!rc && sqlite3_prepare_v2(db, "UPDATE alerts SET notified_ms=?1 WHERE id=(SELECT alert_id FROM"
                                      " alert_outbox WHERE id=?2)",
                                  -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, now_ms);
        sqlite3_bind_int64(st, 2, id);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = TK_EIO;
    }
    sqlite3_finalize(st);
    if (rc) {
        db_fail(db, err, "mark sent");
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    } else if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_fail(db, err, "commit");
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    tk_meta_unlock(m);
    return rc;
}

int tk_outbox_mark_failed(tk_meta_t *m, int64_t id, int64_t next_ms, const char *why, char *err)
{
    return exec(m, NULL, err,
                "UPDATE alert_outbox SET attempts=attempts+1, next_ms=?, last_error=? WHERE id=?",
                "isi", next_ms, why ? why : "", id);
}

int tk_outbox_counts(tk_meta_t *m, int64_t *pending, int64_t *sent, char *err)
{
    int rc = tk_alert_schema(m, err);
    if (rc)
        return rc;
    sqlite3 *db = tk_meta_lock(m);
    sqlite3_stmt *st = NULL;
    *pending = *sent = 0;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(sum(sent=0),0), coalesce(sum(sent=1),0) FROM alert_outbox",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        *pending = sqlite3_column_int64(st, 0);
        *sent = sqlite3_column_int64(st, 1);
    } else {
        rc = db_fail(db, err, "outbox counts");
    }
    sqlite3_finalize(st);
    tk_meta_unlock(m);
    return rc;
}

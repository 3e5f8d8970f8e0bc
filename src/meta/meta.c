/* trailkeep control plane: the SQLite database DIR/meta.db (schema versions
 * and migrations, accounts, the organization) and the master key file
 * DIR/master.key that encrypts API-key secrets (keys.c). One connection per
 * tk_meta_t, serialised by one mutex; other processes (the CLI next to a
 * running server) share the file through SQLite's WAL and busy timeout. */
#include "meta/meta_internal.h"

#include "base/fs.h"
#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_RETENTION_DAYS 36500

/* Schema of the "meta" module. Adding a migration = appending one row. */
static const tk_meta_migration_t meta_steps[] = {
    {1, "CREATE TABLE accounts("
        "  id TEXT PRIMARY KEY,"
        "  name TEXT NOT NULL DEFAULT '',"
        "  retention_days INTEGER NOT NULL DEFAULT 0,"
        "  created_ms INTEGER NOT NULL);"
        "CREATE TABLE org("
        "  one INTEGER PRIMARY KEY CHECK (one = 1),"  /* at most one organization */
        "  id TEXT NOT NULL,"
        "  management TEXT NOT NULL REFERENCES accounts(id),"
        "  created_ms INTEGER NOT NULL);"
        "CREATE TABLE org_members("
        "  account TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,"
        "  added_ms INTEGER NOT NULL);"
        /* no foreign key on account: a deleted account's keys stay, revoked, for audit */
        "CREATE TABLE api_keys("
        "  key_id TEXT PRIMARY KEY,"
        "  account TEXT NOT NULL,"
        "  role INTEGER NOT NULL CHECK (role BETWEEN 1 AND 3),"
        "  name TEXT NOT NULL DEFAULT '',"
        "  secret_sha256 BLOB NOT NULL,"
        "  secret_enc BLOB NOT NULL,"
        "  created_ms INTEGER NOT NULL,"
        "  last_used_ms INTEGER NOT NULL DEFAULT 0,"
        "  revoked_ms INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX api_keys_account ON api_keys(account, created_ms);"
        "CREATE TABLE settings(name TEXT PRIMARY KEY, value TEXT NOT NULL);"},
};

#define ACCOUNT_COLS                                                                     \
    "a.id, a.name, a.retention_days, a.created_ms,"                                      \
    " EXISTS(SELECT 1 FROM org WHERE org.management = a.id),"                            \
    " EXISTS(SELECT 1 FROM org_members om WHERE om.account = a.id)"
#define KEY_COLS                                                                         \
    "key_id, account, role, name, created_ms, last_used_ms, revoked_ms, secret_sha256,"  \
    " secret_enc"

static const char *const stmt_sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_ACCOUNT_INSERT] = "INSERT INTO accounts(id, name, created_ms) VALUES (?1, ?2, ?3)",
    [ST_ACCOUNT_GET] = "SELECT " ACCOUNT_COLS " FROM accounts a WHERE a.id = ?1",
    [ST_ACCOUNT_LIST] = "SELECT " ACCOUNT_COLS " FROM accounts a ORDER BY a.id",
    [ST_ACCOUNT_COUNT] = "SELECT count(*) FROM accounts",
    [ST_ACCOUNT_RETENTION] = "UPDATE accounts SET retention_days = ?2 WHERE id = ?1",
    [ST_ACCOUNT_DELETE] = "DELETE FROM accounts WHERE id = ?1",
    [ST_ORG_GET] = "SELECT id, management FROM org WHERE one = 1",
    [ST_ORG_INSERT] = "INSERT INTO org(one, id, management, created_ms) VALUES (1, ?1, ?2, ?3)",
    [ST_ORG_DELETE] = "DELETE FROM org",
    [ST_MEMBER_INSERT] = "INSERT INTO org_members(account, added_ms) VALUES (?1, ?2)",
    [ST_MEMBER_DELETE] = "DELETE FROM org_members WHERE account = ?1",
    [ST_MEMBER_DELETE_ALL] = "DELETE FROM org_members",
    [ST_MEMBER_LIST] = "SELECT account FROM org_members ORDER BY account",
    [ST_MEMBER_IS] = "SELECT EXISTS(SELECT 1 FROM org WHERE management = ?1)"
                     " AND EXISTS(SELECT 1 FROM org_members WHERE account = ?2)",
    [ST_KEY_INSERT] = "INSERT INTO api_keys(key_id, account, role, name, secret_sha256,"
                      " secret_enc, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_KEY_GET] = "SELECT " KEY_COLS " FROM api_keys WHERE key_id = ?1",
    [ST_KEY_LIST_ALL] = "SELECT " KEY_COLS " FROM api_keys ORDER BY account, created_ms, key_id",
    [ST_KEY_LIST_ACCOUNT] = "SELECT " KEY_COLS " FROM api_keys WHERE account = ?1"
                            " ORDER BY created_ms, key_id",
    [ST_KEY_REVOKE] = "UPDATE api_keys SET revoked_ms = ?2 WHERE key_id = ?1 AND revoked_ms = 0",
    [ST_KEY_REVOKE_ACCOUNT] = "UPDATE api_keys SET revoked_ms = ?2"
                              " WHERE account = ?1 AND revoked_ms = 0",
    [ST_KEY_COUNT] = "SELECT count(*) FROM api_keys WHERE revoked_ms = 0",
    [ST_KEY_TOUCH] = "UPDATE api_keys SET last_used_ms = ?2"
                     " WHERE key_id = ?1 AND last_used_ms <= ?2 - 60000",
};

/* ---------------------------------------------------------------- helpers */

void tk_meta_copy(char *dst, size_t cap, const unsigned char *s)
{
    if (!s)
        s = (const unsigned char *)"";
    size_t n = strlen((const char *)s);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = 0;
}

int tk_meta_sqlerr(tk_meta_t *m, int rc, const char *what, char *err)
{
    int code;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: code = TK_EBUSY; break;
    case SQLITE_CONSTRAINT: code = TK_EEXIST; break;
    case SQLITE_NOMEM: code = TK_ENOMEM; break;
    case SQLITE_FULL: code = TK_ENOSPC; break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: code = TK_ECORRUPT; break;
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR: code = TK_EIO; break;
    default: code = TK_EIO; break;
    }
    const char *hint = code == TK_EBUSY ? " (another process holds meta.db locked; retry)" : "";
    return tk_errf(err, code, "meta.db: %s: %s%s", what, m && m->db ? sqlite3_errmsg(m->db)
                                                                     : sqlite3_errstr(rc), hint);
}

sqlite3_stmt *tk_meta_stmt(tk_meta_t *m, enum tk_meta_stmt id, char *err)
{
    sqlite3_stmt *s = m->st[id];
    if (!s) {
        int rc = sqlite3_prepare_v3(m->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
        if (rc != SQLITE_OK) {
            tk_meta_sqlerr(m, rc, "preparing a statement", err);
            return NULL;
        }
        m->st[id] = s;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

/* Runs a statement that returns no row; 0 or TK_E*. */
static int step_done(tk_meta_t *m, sqlite3_stmt *s, const char *what, char *err)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return tk_meta_sqlerr(m, rc, what, err);
    return 0;
}

int tk_meta_begin_locked(tk_meta_t *m, char *err)
{
    sqlite3_stmt *s = tk_meta_stmt(m, ST_BEGIN, err);
    return s ? step_done(m, s, "starting a transaction", err) : TK_EIO;
}

int tk_meta_commit_locked(tk_meta_t *m, char *err)
{
    sqlite3_stmt *s = tk_meta_stmt(m, ST_COMMIT, err);
    int rc = s ? step_done(m, s, "committing", err) : TK_EIO;
    if (rc)
        tk_meta_rollback_locked(m);
    return rc;
}

void tk_meta_rollback_locked(tk_meta_t *m)
{
    if (sqlite3_get_autocommit(m->db))
        return;
    sqlite3_stmt *s = tk_meta_stmt(m, ST_ROLLBACK, NULL);
    if (s)
        step_done(m, s, "rolling back", NULL);
}

int tk_meta_check_id(const char *id, const char *what, char *err)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 63)
        return tk_errf(err, TK_EINVAL, "%s must be 1-63 characters of A-Z a-z 0-9 _ - (got %zu)",
                       what, n);
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return tk_errf(err, TK_EINVAL,
                           "%s '%.63s' has character '%c' at %zu: use only A-Z a-z 0-9 _ -", what,
                           id, (c >= 32 && c < 127) ? c : '?', i);
    }
    return 0;
}

/* ------------------------------------------------------------------ roles */

const char *tk_role_name(tk_role_t r)
{
    switch (r) {
    case TK_ROLE_WRITER: return "writer";
    case TK_ROLE_READER: return "reader";
    case TK_ROLE_ADMIN: return "admin";
    default: return "none";
    }
}

int tk_role_parse(const char *s, tk_role_t *out)
{
    static const struct { const char *name; tk_role_t role; } roles[] = {
        {"writer", TK_ROLE_WRITER}, {"reader", TK_ROLE_READER}, {"admin", TK_ROLE_ADMIN}};
    for (size_t i = 0; s && i < TK_ARRAY_LEN(roles); i++)
        if (!strcasecmp(s, roles[i].name)) {
            *out = roles[i].role;
            return 0;
        }
    return TK_EINVAL;
}

/* ------------------------------------------------------------- migrations */

static int schema_version_locked(tk_meta_t *m, const char *module, char *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(m->db, "SELECT version FROM tk_schema WHERE module = ?1", -1, &s,
                                NULL);
    if (rc != SQLITE_OK)
        return tk_meta_sqlerr(m, rc, "reading the schema version", err);
    sqlite3_bind_text(s, 1, module, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    int v = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        v = tk_meta_sqlerr(m, rc, "reading the schema version", err);
    sqlite3_finalize(s);
    return v;
}

static int migrate_locked(tk_meta_t *m, const char *module, const tk_meta_migration_t *steps,
                          size_t n, char *err)
{
    int rc = tk_meta_check_id(module, "module name", err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (steps[i].version != (int)i + 1 || !steps[i].sql)
            return tk_errf(err, TK_EINVAL,
                           "migration %zu of module %s has version %d: versions must be 1, 2, ...",
                           i, module, steps[i].version);
    char *msg = NULL;
    rc = sqlite3_exec(m->db,
                      "CREATE TABLE IF NOT EXISTS tk_schema(module TEXT PRIMARY KEY,"
                      " version INTEGER NOT NULL)",
                      NULL, NULL, &msg);
    sqlite3_free(msg);
    if (rc != SQLITE_OK)
        return tk_meta_sqlerr(m, rc, "creating the schema table", err);
    for (;;) {
        /* Cheap check without a write lock: nothing to do is the common case. */
        int v = schema_version_locked(m, module, err);
        if (v < 0)
            return v;
        if ((size_t)v > n)
            return tk_errf(err, TK_EUNSUPPORTED,
                           "meta.db has schema version %d for %s but this trailkeep knows %zu: "
                           "use a newer trailkeep binary",
                           v, module, n);
        if ((size_t)v == n)
            return 0;
        if ((rc = tk_meta_begin_locked(m, err)))
            return rc;
        /* Re-read inside the write transaction: another process may have migrated. */
        int v2 = schema_version_locked(m, module, err);
        if (v2 != v) {
            tk_meta_rollback_locked(m);
            if (v2 < 0)
                return v2;
            continue;
        }
        rc = sqlite3_exec(m->db, steps[v].sql, NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
            tk_errf(err, TK_EIO, "meta.db: migration %d of %s failed: %s", v + 1, module,
                    msg ? msg : sqlite3_errstr(rc));
            sqlite3_free(msg);
            tk_meta_rollback_locked(m);
            return TK_EIO;
        }
        sqlite3_stmt *s = NULL;
        rc = sqlite3_prepare_v2(m->db,
                                "INSERT INTO tk_schema(module, version) VALUES (?1, ?2)"
                                " ON CONFLICT(module) DO UPDATE SET version = excluded.version",
                                -1, &s, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_text(s, 1, module, -1, SQLITE_STATIC);
            sqlite3_bind_int(s, 2, v + 1);
            rc = sqlite3_step(s);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        }
        sqlite3_finalize(s);
        if (rc != SQLITE_OK) {
            tk_meta_sqlerr(m, rc, "recording the schema version", err);
            tk_meta_rollback_locked(m);
            return TK_EIO;
        }
        if ((rc = tk_meta_commit_locked(m, err)))
            return rc;
    }
}

int tk_meta_migrate(tk_meta_t *m, const char *module, const tk_meta_migration_t *steps, size_t n,
                    char *err)
{
    pthread_mutex_lock(&m->mu);
    int rc = migrate_locked(m, module, steps, n, err);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int tk_meta_schema_version(tk_meta_t *m, const char *module)
{
    pthread_mutex_lock(&m->mu);
    int v = schema_version_locked(m, module, NULL);
    pthread_mutex_unlock(&m->mu);
    return v;
}

struct sqlite3 *tk_meta_lock(tk_meta_t *m)
{
    pthread_mutex_lock(&m->mu);
    return m->db;
}

void tk_meta_unlock(tk_meta_t *m) { pthread_mutex_unlock(&m->mu); }

/* ------------------------------------------------------------- master key */

static const char CHECK_LABEL[] = "trailkeep master key check v1";

/* Reads DIR/master.key: exactly 32 bytes, a regular file nobody else can read. */
static int read_master(const char *path, uint8_t out[TK_MASTER_KEY_LEN], char *err)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? TK_ENOTFOUND
                               : tk_errf(err, tk_from_errno(errno), "cannot open %s: %s", path,
                                         strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode))
        rc = tk_errf(err, TK_EINVAL, "%s is not a regular file", path);
    else if (st.st_mode & 077)
        rc = tk_errf(err, TK_EPERM,
                     "%s is readable by group or others (mode %03o): run chmod 600 on it", path,
                     (unsigned)(st.st_mode & 0777));
    else if (st.st_size != TK_MASTER_KEY_LEN)
        rc = tk_errf(err, TK_ECORRUPT, "%s has %lld bytes, expected %d: restore it from backup",
                     path, (long long)st.st_size, TK_MASTER_KEY_LEN);
    else {
        size_t got = 0;
        while (got < TK_MASTER_KEY_LEN) {
            ssize_t r = read(fd, out + got, TK_MASTER_KEY_LEN - got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                rc = tk_errf(err, TK_EIO, "cannot read %s", path);
                break;
            }
            got += (size_t)r;
        }
    }
    close(fd);
    return rc;
}

/* Creates DIR/master.key with fresh random bytes. Written to a private
 * temporary name, then link()ed: two processes starting together end up
 * with the same key (the loser reads the winner's), never a torn file. */
static int create_master(const char *dir, const char *path, char *err)
{
    uint8_t key[TK_MASTER_KEY_LEN];
    if (tk_random(key, sizeof key))
        return tk_errf(err, TK_EIO, "cannot get random bytes for the master key");
    char tmp[4096], tag[17];
    uint8_t rnd[8];
    if (tk_random(rnd, sizeof rnd))
        return tk_errf(err, TK_EIO, "cannot get random bytes for the master key");
    tk_hex(rnd, sizeof rnd, tag); /* unique even for threads of one process */
    snprintf(tmp, sizeof tmp, "%s/.master.key.%s", dir, tag);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return tk_errf(err, tk_from_errno(errno), "cannot create %s: %s", tmp, strerror(errno));
    int rc = tk_fs_write_full(fd, key, sizeof key);
    if (!rc && fsync(fd))
        rc = TK_EIO;
    close(fd);
    memset(key, 0, sizeof key);
    if (rc) {
        unlink(tmp);
        return tk_errf(err, rc, "cannot write %s", tmp);
    }
    if (link(tmp, path) && errno != EEXIST) {
        int e = errno;
        unlink(tmp);
        return tk_errf(err, tk_from_errno(e), "cannot create %s: %s", path, strerror(e));
    }
    unlink(tmp);
    tk_fs_sync_dir(dir);
    return 0;
}

static int get_setting_locked(tk_meta_t *m, const char *name, char *val, size_t cap, char *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(m->db, "SELECT value FROM settings WHERE name = ?1", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return tk_meta_sqlerr(m, rc, "reading settings", err);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    int out = TK_ENOTFOUND;
    if (rc == SQLITE_ROW) {
        tk_meta_copy(val, cap, sqlite3_column_text(s, 0));
        out = 0;
    } else if (rc != SQLITE_DONE) {
        out = tk_meta_sqlerr(m, rc, "reading settings", err);
    }
    sqlite3_finalize(s);
    return out;
}

/* Loads or creates the master key and checks it against the check value
 * stored in meta.db, so a missing or swapped master.key is reported at open
 * instead of as "bad signature" on every SigV4 request later. */
static int load_master(tk_meta_t *m, const char *dir, char *err)
{
    char path[4096], check[80], stored[80];
    snprintf(path, sizeof path, "%s/master.key", dir);
    int have = get_setting_locked(m, "master_key_check", stored, sizeof stored, err);
    if (have < 0 && have != TK_ENOTFOUND)
        return have;
    int rc = read_master(path, m->master, err);
    if (rc == TK_ENOTFOUND) {
        if (have == 0)
            return tk_errf(err, TK_ENOTFOUND,
                           "%s is missing but meta.db holds secrets encrypted under it: restore "
                           "master.key from backup (or move meta.db away to start empty)",
                           path);
        if ((rc = create_master(dir, path, err)))
            return rc;
        rc = read_master(path, m->master, err);
        if (rc == TK_ENOTFOUND)
            rc = tk_errf(err, TK_EIO, "%s vanished after it was created", path);
    }
    if (rc)
        return rc;
    uint8_t mac[32];
    tk_hmac_sha256(m->master, TK_MASTER_KEY_LEN, CHECK_LABEL, sizeof CHECK_LABEL - 1, mac);
    tk_hex(mac, sizeof mac, check);
    if (have == 0) {
        if (!tk_ct_equal(check, stored, 64) || strlen(stored) != 64)
            return tk_errf(err, TK_ECORRUPT,
                           "%s does not match meta.db (it is not the key the secrets were "
                           "encrypted with): restore the original master.key",
                           path);
        return 0;
    }
    sqlite3_stmt *s = NULL;
    rc = sqlite3_prepare_v2(m->db,
                            "INSERT OR IGNORE INTO settings(name, value)"
                            " VALUES ('master_key_check', ?1)",
                            -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(s, 1, check, -1, SQLITE_STATIC);
        rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(m->db);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_OK)
        return tk_meta_sqlerr(m, rc, "storing the master key check", err);
    /* Another process may have won the race with a different key file. */
    if ((rc = get_setting_locked(m, "master_key_check", stored, sizeof stored, err)))
        return rc;
    if (strcmp(stored, check))
        return tk_errf(err, TK_ECORRUPT, "%s does not match meta.db: restore the original", path);
    return 0;
}

/* ------------------------------------------------------------ open/close */

int tk_meta_open(const char *dir, tk_meta_t **out, char *err)
{
    *out = NULL;
    if (!dir || !*dir)
        return tk_errf(err, TK_EINVAL, "no data directory given");
    int rc = tk_fs_mkdirs_private(dir, err);
    if (rc)
        return rc;
    tk_meta_t *m = calloc(1, sizeof *m);
    if (!m)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    pthread_mutex_init(&m->mu, NULL);
    char path[4096];
    snprintf(path, sizeof path, "%s/meta.db", dir);
    int existed = tk_fs_exists(path);
    rc = sqlite3_open_v2(path, &m->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = tk_errf(err, TK_EIO, "cannot open %s: %s", path,
                     m->db ? sqlite3_errmsg(m->db) : sqlite3_errstr(rc));
        goto fail;
    }
    if (!existed)
        chmod(path, 0600); /* hashes and ciphertexts only, but nobody else's business */
    sqlite3_busy_timeout(m->db, TK_META_BUSY_TIMEOUT_MS);
    char *msg = NULL;
    /* Switching a new database to WAL needs an exclusive lock, and SQLite
     * does not call the busy handler for it: processes opening a fresh
     * directory together retry here instead of failing. */
    for (int attempt = 0;; attempt++) {
        rc = sqlite3_exec(m->db, "PRAGMA journal_mode=WAL;", NULL, NULL, &msg);
        if ((rc & 0xff) != SQLITE_BUSY || attempt >= 500)
            break;
        sqlite3_free(msg);
        msg = NULL;
        usleep(10000);
    }
    /* synchronous=FULL: control-plane writes are rare and a created key must survive power loss. */
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(m->db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", NULL, NULL,
                          &msg);
    if (rc != SQLITE_OK) {
        rc = tk_errf(err, rc == SQLITE_NOTADB ? TK_ECORRUPT : TK_EIO, "%s: %s", path,
                     msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        goto fail;
    }
    if ((rc = migrate_locked(m, "meta", meta_steps, TK_ARRAY_LEN(meta_steps), err)))
        goto fail;
    if ((rc = load_master(m, dir, err)))
        goto fail;
    *out = m;
    return 0;
fail:
    tk_meta_close(m);
    return rc;
}

void tk_meta_close(tk_meta_t *m)
{
    if (!m)
        return;
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(m->st[i]);
    sqlite3_close(m->db);
    memset(m->master, 0, sizeof m->master);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* --------------------------------------------------------------- accounts */

static void read_account(sqlite3_stmt *s, tk_account_t *a)
{
    memset(a, 0, sizeof *a);
    tk_meta_copy(a->id, sizeof a->id, sqlite3_column_text(s, 0));
    tk_meta_copy(a->name, sizeof a->name, sqlite3_column_text(s, 1));
    a->retention_days = sqlite3_column_int(s, 2);
    a->created_ms = sqlite3_column_int64(s, 3);
    a->is_management = sqlite3_column_int(s, 4);
    a->is_member = sqlite3_column_int(s, 5);
}

int tk_meta_account_exists_locked(tk_meta_t *m, const char *id, char *err)
{
    sqlite3_stmt *s = tk_meta_stmt(m, ST_ACCOUNT_GET, err);
    if (!s)
        return TK_EIO;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return tk_meta_sqlerr(m, rc, "looking up an account", err);
}

static int check_name(const char *name, size_t cap, char *err)
{
    if (name && strlen(name) >= cap)
        return tk_errf(err, TK_EINVAL, "name is %zu bytes long: at most %zu allowed", strlen(name),
                       cap - 1);
    for (const char *p = name; p && *p; p++)
        if ((unsigned char)*p < 32 || *p == 127)
            return tk_errf(err, TK_EINVAL, "name contains a control character: remove it");
    return 0;
}

int tk_meta_account_insert_locked(tk_meta_t *m, const char *id, const char *name, char *err)
{
    int rc = tk_meta_check_id(id, "account id", err);
    if (!rc)
        rc = check_name(name, sizeof((tk_account_t *)0)->name, err);
    if (rc)
        return rc;
    sqlite3_stmt *s = tk_meta_stmt(m, ST_ACCOUNT_INSERT, err);
    if (!s)
        return TK_EIO;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name ? name : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, tk_now_ms());
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return tk_errf(err, TK_EEXIST, "account %s already exists", id);
    if (rc != SQLITE_DONE)
        return tk_meta_sqlerr(m, rc, "creating an account", err);
    return 0;
}

int tk_meta_account_create(tk_meta_t *m, const char *id, const char *name, char *err)
{
    pthread_mutex_lock(&m->mu);
    int rc = tk_meta_account_insert_locked(m, id, name, err);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int tk_meta_account_get(tk_meta_t *m, const char *id, tk_account_t *out, char *err)
{
    pthread_mutex_lock(&m->mu);
    int rc;
    sqlite3_stmt *s = tk_meta_stmt(m, ST_ACCOUNT_GET, err);
    if (!s) {
        rc = TK_EIO;
        goto out;
    }
    sqlite3_bind_text(s, 1, id ? id : "", -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        read_account(s, out);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = tk_errf(err, TK_ENOTFOUND,
                     "account %.63s does not exist: create it with trailkeep accounts create",
                     id ? id : "(null)");
    } else {
        rc = tk_meta_sqlerr(m, rc, "reading an account", err);
    }
    sqlite3_reset(s);
out:
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int tk_meta_collect(tk_meta_t *m, enum tk_meta_stmt id, const char *bind_text, size_t elem,
                    void (*read)(sqlite3_stmt *s, void *item), const char *what, void **out,
                    size_t *n, char *err)
{
    char *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    sqlite3_stmt *s = tk_meta_stmt(m, id, err);
    if (!s) {
        rc = TK_EIO;
        goto out;
    }
    if (bind_text)
        sqlite3_bind_text(s, 1, bind_text, -1, SQLITE_STATIC);
    for (;;) {
        int r = sqlite3_step(s);
        if (r == SQLITE_DONE)
            break;
        if (r != SQLITE_ROW) {
            char ctx[64];
            snprintf(ctx, sizeof ctx, "listing %s", what);
            rc = tk_meta_sqlerr(m, r, ctx, err);
            break;
        }
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            char *nv = realloc(v, cap * elem);
            if (!nv) {
                rc = tk_errf(err, TK_ENOMEM, "out of memory listing %s", what);
                break;
            }
            v = nv;
        }
        read(s, v + elem * cnt++);
    }
    sqlite3_reset(s);
out:
    pthread_mutex_unlock(&m->mu);
    if (rc) {
        free(v);
        v = NULL;
        cnt = 0;
    }
    *out = v;
    *n = cnt;
    return rc;
}

static void read_account_item(sqlite3_stmt *s, void *item) { read_account(s, item); }

int tk_meta_account_list(tk_meta_t *m, void (*cb)(void *ud, const tk_account_t *a), void *ud,
                         char *err)
{
    void *v;
    size_t n;
    int rc = tk_meta_collect(m, ST_ACCOUNT_LIST, NULL, sizeof(tk_account_t), read_account_item,
                             "accounts", &v, &n, err);
    for (size_t i = 0; !rc && i < n; i++)
        cb(ud, (tk_account_t *)v + i);
    free(v);
    return rc;
}

int tk_meta_account_set_retention(tk_meta_t *m, const char *id, int days, char *err)
{
    if (days < 0 || days > MAX_RETENTION_DAYS)
        return tk_errf(err, TK_EINVAL,
                       "retention of %d days is out of range: use 1-%d days, or 0 for the "
                       "default (90)",
                       days, MAX_RETENTION_DAYS);
    pthread_mutex_lock(&m->mu);
    int rc;
    sqlite3_stmt *s = tk_meta_stmt(m, ST_ACCOUNT_RETENTION, err);
    if (!s) {
        rc = TK_EIO;
        goto out;
    }
    sqlite3_bind_text(s, 1, id ? id : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, days);
    rc = step_done(m, s, "setting retention", err);
    if (!rc && sqlite3_changes(m->db) == 0)
        rc = tk_errf(err, TK_ENOTFOUND, "account %.63s does not exist", id ? id : "(null)");
out:
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* Fills org id / management; TK_ENOTFOUND when there is no organization. */
static int org_get_locked(tk_meta_t *m, char *org_id, char *management, char *err)
{
    sqlite3_stmt *s = tk_meta_stmt(m, ST_ORG_GET, err);
    if (!s)
        return TK_EIO;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        if (org_id)
            tk_meta_copy(org_id, 64, sqlite3_column_text(s, 0));
        if (management)
            tk_meta_copy(management, 64, sqlite3_column_text(s, 1));
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = tk_errf(err, TK_ENOTFOUND,
                     "there is no organization: create one with trailkeep accounts org create");
    } else {
        rc = tk_meta_sqlerr(m, rc, "reading the organization", err);
    }
    sqlite3_reset(s);
    return rc;
}

int tk_meta_account_delete(tk_meta_t *m, const char *id, char *err)
{
    char mgmt[64];
    pthread_mutex_lock(&m->mu);
    int rc = tk_meta_begin_locked(m, err);
    if (rc)
        goto out;
    rc = org_get_locked(m, NULL, mgmt, err);
    if (rc == 0 && id && !strcmp(mgmt, id)) {
        rc = tk_errf(err, TK_EINVAL,
                     "account %s is the organization's management account: delete the "
                     "organization first",
                     id);
        goto fail;
    }
    if (rc && rc != TK_ENOTFOUND)
        goto fail;
    sqlite3_stmt *s = tk_meta_stmt(m, ST_KEY_REVOKE_ACCOUNT, err);
    if (!s) {
        rc = TK_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, id ? id : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, tk_now_ms());
    if ((rc = step_done(m, s, "revoking the account's keys", err)))
        goto fail;
    if (!(s = tk_meta_stmt(m, ST_ACCOUNT_DELETE, err))) {
        rc = TK_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, id ? id : "", -1, SQLITE_STATIC);
    if ((rc = step_done(m, s, "deleting an account", err)))
        goto fail;
    if (sqlite3_changes(m->db) == 0) {
        rc = tk_errf(err, TK_ENOTFOUND, "account %.63s does not exist", id ? id : "(null)");
        goto fail;
    }
    rc = tk_meta_commit_locked(m, err);
    goto out;
fail:
    tk_meta_rollback_locked(m);
out:
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* ----------------------------------------------------------- organization */

static int member_insert_locked(tk_meta_t *m, const char *account, char *err)
{
    sqlite3_stmt *s = tk_meta_stmt(m, ST_MEMBER_INSERT, err);
    if (!s)
        return TK_EIO;
    sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, tk_now_ms());
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return tk_errf(err, TK_EEXIST, "account %s is already a member of the organization",
                       account);
    if (rc != SQLITE_DONE)
        return tk_meta_sqlerr(m, rc, "adding a member", err);
    return 0;
}

int tk_meta_org_create(tk_meta_t *m, const char *org_id, const char *management_account,
                       char *err)
{
    int rc = tk_meta_check_id(org_id, "organization id", err);
    if (!rc)
        rc = tk_meta_check_id(management_account, "management account id", err);
    if (rc)
        return rc;
    pthread_mutex_lock(&m->mu);
    if ((rc = tk_meta_begin_locked(m, err)))
        goto out;
    char cur[64];
    rc = org_get_locked(m, cur, NULL, err);
    if (rc == 0) {
        rc = tk_errf(err, TK_EEXIST, "organization %s already exists: there can be only one", cur);
        goto fail;
    }
    if (rc != TK_ENOTFOUND)
        goto fail;
    rc = tk_meta_account_exists_locked(m, management_account, err);
    if (rc == 0)
        rc = tk_errf(err, TK_ENOTFOUND,
                     "management account %s does not exist: create it first with trailkeep "
                     "accounts create",
                     management_account);
    if (rc < 0)
        goto fail;
    sqlite3_stmt *s = tk_meta_stmt(m, ST_ORG_INSERT, err);
    if (!s) {
        rc = TK_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, org_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, management_account, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, tk_now_ms());
    if ((rc = step_done(m, s, "creating the organization", err)))
        goto fail;
    /* The management account belongs to its organization (as in AWS and
     * Alibaba Cloud), so an organization trail covers it too. */
    if ((rc = member_insert_locked(m, management_account, err)))
        goto fail;
    rc = tk_meta_commit_locked(m, err);
    goto out;
fail:
    tk_meta_rollback_locked(m);
out:
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int tk_meta_org_get(tk_meta_t *m, char *org_id, char *management, char *err)
{
    pthread_mutex_lock(&m->mu);
    int rc = org_get_locked(m, org_id, management, err);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int tk_meta_org_delete(tk_meta_t *m, char *err)
{
    pthread_mutex_lock(&m->mu);
    int rc = tk_meta_begin_locked(m, err);
    if (rc)
        goto out;
    if ((rc = org_get_locked(m, NULL, NULL, err)))
        goto fail;
    sqlite3_stmt *s = tk_meta_stmt(m, ST_MEMBER_DELETE_ALL, err);
    if (!s || (rc = step_done(m, s, "removing members", err))) {
        rc = rc ? rc : TK_EIO;
        goto fail;
    }
    s = tk_meta_stmt(m, ST_ORG_DELETE, err);
    if (!s || (rc = step_done(m, s, "deleting the organization", err))) {
        rc = rc ? rc : TK_EIO;
        goto fail;
    }
    rc = tk_meta_commit_locked(m, err);
    goto out;
fail:
    tk_meta_rollback_locked(m);
out:
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int tk_meta_org_add_member(tk_meta_t *m, const char *account, char *err)
{
    int rc = tk_meta_check_id(account, "account id", err);
    if (rc)
        return rc;
    pthread_mutex_lock(&m->mu);
    if ((rc = tk_meta_begin_locked(m, err)))
        goto out;
    if ((rc = org_get_locked(m, NULL, NULL, err)))
        goto fail;
    rc = tk_meta_account_exists_locked(m, account, err);
    if (rc == 0)
        rc = tk_errf(err, TK_ENOTFOUND,
                     "account %s does not exist: create it first with trailkeep accounts create",
                     account);
    if (rc < 0)
        goto fail;
    if ((rc = member_insert_locked(m, account, err)))
        goto fail;
    rc = tk_meta_commit_locked(m, err);
    goto out;
fail:
    tk_meta_rollback_locked(m);
out:
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int tk_meta_org_remove_member(tk_meta_t *m, const char *account, char *err)
{
    char mgmt[64];
    pthread_mutex_lock(&m->mu);
    int rc = tk_meta_begin_locked(m, err);
    if (rc)
        goto out;
    if ((rc = org_get_locked(m, NULL, mgmt, err)))
        goto fail;
    if (account && !strcmp(account, mgmt)) {
        rc = tk_errf(err, TK_EINVAL,
                     "account %s is the management account and stays in its organization",
                     account);
        goto fail;
    }
    sqlite3_stmt *s = tk_meta_stmt(m, ST_MEMBER_DELETE, err);
    if (!s) {
        rc = TK_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, account ? account : "", -1, SQLITE_STATIC);
    if ((rc = step_done(m, s, "removing a member", err)))
        goto fail;
    if (sqlite3_changes(m->db) == 0) {
        rc = tk_errf(err, TK_ENOTFOUND, "account %.63s is not a member of the organization",
                     account ? account : "(null)");
        goto fail;
    }
    rc = tk_meta_commit_locked(m, err);
    goto out;
fail:
    tk_meta_rollback_locked(m);
out:
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static void read_member_item(sqlite3_stmt *s, void *item)
{
    tk_meta_copy(item, 64, sqlite3_column_text(s, 0));
}

int tk_meta_org_members(tk_meta_t *m, void (*cb)(void *ud, const char *account), void *ud,
                        char *err)
{
    void *v;
    size_t n;
    int rc = tk_meta_collect(m, ST_MEMBER_LIST, NULL, 64, read_member_item, "members", &v, &n, err);
    for (size_t i = 0; !rc && i < n; i++)
        cb(ud, (const char *)v + 64 * i);
    free(v);
    return rc;
}

int tk_meta_org_can_see(tk_meta_t *m, const char *management, const char *account)
{
    if (!management || !account)
        return 0;
    pthread_mutex_lock(&m->mu);
    int yes = 0;
    sqlite3_stmt *s = tk_meta_stmt(m, ST_MEMBER_IS, NULL);
    if (s) {
        sqlite3_bind_text(s, 1, management, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, account, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW)
            yes = sqlite3_column_int(s, 0) == 1;
        sqlite3_reset(s);
    }
    pthread_mutex_unlock(&m->mu);
    return yes;
}

/* ------------------------------------------------------------- bootstrap */

int tk_meta_bootstrap(tk_meta_t *m, char *key_id_out, char *secret_out, int *created, char *err)
{
    *created = 0;
    pthread_mutex_lock(&m->mu);
    int rc = tk_meta_begin_locked(m, err);
    if (rc)
        goto out;
    sqlite3_stmt *s = tk_meta_stmt(m, ST_ACCOUNT_COUNT, err);
    if (!s) {
        rc = TK_EIO;
        goto fail;
    }
    int r = sqlite3_step(s);
    int64_t n = r == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_reset(s);
    if (n < 0) {
        rc = tk_meta_sqlerr(m, r, "counting accounts", err);
        goto fail;
    }
    if (n > 0) {
        tk_meta_rollback_locked(m);
        goto out;
    }
    if ((rc = tk_meta_account_insert_locked(m, TK_DEFAULT_ACCOUNT, "default", err)))
        goto fail;
    tk_key_t k;
    if ((rc = tk_meta_key_create_locked(m, TK_DEFAULT_ACCOUNT, TK_ROLE_ADMIN, "bootstrap admin",
                                        &k, secret_out, err)))
        goto fail;
    if ((rc = tk_meta_commit_locked(m, err)))
        goto out;
    memcpy(key_id_out, k.key_id, sizeof k.key_id);
    *created = 1;
    goto out;
fail:
    tk_meta_rollback_locked(m);
out:
    pthread_mutex_unlock(&m->mu);
    if (rc && secret_out)
        memset(secret_out, 0, TK_SECRET_LEN + 1);
    return rc;
}

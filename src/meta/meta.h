/* trailkeep control plane (SQLite, DIR/meta.db): accounts, the organization,
 * API keys. Small, transactional, inspectable with `sqlite3`. A key's secret
 * is shown once at creation and stored as a SHA-256 hash for bearer
 * authentication; SigV4 needs the secret itself, so it is also kept encrypted
 * (AES-256-GCM) under DIR/master.key (0600): the database alone reveals none.
 * Thread-safety: one tk_meta_t may be shared by threads (serialised inside). */
#ifndef TK_META_META_H
#define TK_META_META_H

#include <stddef.h>
#include <stdint.h>

typedef struct tk_meta tk_meta_t;

typedef enum tk_role {
    TK_ROLE_NONE = 0,
    TK_ROLE_WRITER = 1, /* may only record events for its own account */
    TK_ROLE_READER = 2, /* lookup, history of its account */
    TK_ROLE_ADMIN = 3,  /* everything for its account; the management account's admin also for members */
} tk_role_t;

const char *tk_role_name(tk_role_t r);          /* "writer", "reader", "admin" */
int tk_role_parse(const char *s, tk_role_t *out); /* 0 or TK_EINVAL */

/* Opens or creates DIR/meta.db (migrating the schema) and DIR/master.key.
 * *out owned by the caller: tk_meta_close(). */
int tk_meta_open(const char *dir, tk_meta_t **out, char *err);
void tk_meta_close(tk_meta_t *m); /* NULL is a no-op */

/* ---- accounts ---- */
typedef struct tk_account {
    char id[64];            /* account id: [A-Za-z0-9_-]{1,63}, e.g. a 16-digit ActionTrail uid */
    char name[128];
    int retention_days;     /* 0 = the service default (90) */
    int is_management;      /* the organization's management account */
    int is_member;          /* a member of the organization */
    int64_t created_ms;
} tk_account_t;

int tk_meta_account_create(tk_meta_t *m, const char *id, const char *name, char *err); /* TK_EEXIST */
int tk_meta_account_get(tk_meta_t *m, const char *id, tk_account_t *out, char *err);   /* TK_ENOTFOUND */
/* Calls cb for every account in id order. The rows are read first and cb runs
 * after the internal lock is released, so cb may call tk_meta_* itself. */
int tk_meta_account_list(tk_meta_t *m, void (*cb)(void *ud, const tk_account_t *a), void *ud,
                         char *err);
/* days: 1-36500, or 0 = the service default. TK_EINVAL, TK_ENOTFOUND. */
int tk_meta_account_set_retention(tk_meta_t *m, const char *id, int days, char *err);
/* Also revokes its keys (kept, revoked, for audit) and drops its membership.
 * TK_EINVAL for the organization's management account (delete the org first). */
int tk_meta_account_delete(tk_meta_t *m, const char *id, char *err);

/* ---- organization (at most one) ---- */
/* TK_EEXIST when one exists, TK_ENOTFOUND for an unknown management account.
 * The management account becomes a member too (an org trail covers it). */
int tk_meta_org_create(tk_meta_t *m, const char *org_id, const char *management_account,
                       char *err);
/* org_id/management (>= 64 bytes each) set; TK_ENOTFOUND when there is no organization. */
int tk_meta_org_get(tk_meta_t *m, char *org_id, char *management, char *err);
/* TK_ENOTFOUND (no organization, unknown account), TK_EEXIST (already a member). */
int tk_meta_org_add_member(tk_meta_t *m, const char *account, char *err);
/* TK_ENOTFOUND (not a member), TK_EINVAL (the management account cannot leave). */
int tk_meta_org_remove_member(tk_meta_t *m, const char *account, char *err);

/* ---- API keys ---- */
typedef struct tk_key {
    char key_id[32];        /* "TK" + 18 upper-case alphanumerics: usable as an AWS access key id */
    char account[64];
    tk_role_t role;
    char name[128];
    int64_t created_ms;
    int64_t last_used_ms;
    int revoked;
} tk_key_t;

#define TK_SECRET_LEN 40    /* base62 characters */

/* Creates a key; secret_out (TK_SECRET_LEN + 1 bytes) receives the secret,
 * which is never retrievable again in clear from the API or CLI. */
int tk_meta_key_create(tk_meta_t *m, const char *account, tk_role_t role, const char *name,
                       tk_key_t *out, char *secret_out, char *err);
/* Checks key_id + secret (constant time). TK_EAUTH when unknown, revoked or wrong.
 * On success also records the use (as tk_meta_key_touch). */
int tk_meta_key_verify(tk_meta_t *m, const char *key_id, const char *secret, tk_key_t *out,
                       char *err);
/* For SigV4: the key and its decrypted secret (secret_out TK_SECRET_LEN + 1;
 * wipe it after use). TK_EAUTH when unknown or revoked, TK_ECORRUPT when it
 * does not decrypt. Records no use: tk_auth_sigv4 does once the signature holds. */
int tk_meta_key_secret(tk_meta_t *m, const char *key_id, tk_key_t *out, char *secret_out,
                       char *err);
/* Revoked keys included (k->revoked); cb runs unlocked, as for accounts. */
int tk_meta_key_list(tk_meta_t *m, const char *account /* NULL = all */,
                     void (*cb)(void *ud, const tk_key_t *k), void *ud, char *err);
/* Immediate, also for other processes. Revoking a revoked key returns 0;
 * TK_ENOTFOUND for an unknown key, TK_EINVAL for a malformed id. */
int tk_meta_key_revoke(tk_meta_t *m, const char *key_id, char *err);

/* Active (not revoked) keys. 0 on error. */
size_t tk_meta_key_count(tk_meta_t *m);
/* Records a successful use of key_id: last_used_ms is written at most once a
 * minute per key so authentication stays a read. Best effort: errors ignored. */
void tk_meta_key_touch(tk_meta_t *m, const char *key_id, int64_t now_ms);

/* ---- other secrets at rest (webhook secrets, destination credentials) ----
 * Sealed text is "tkenc1:" + base64(AES-256-GCM(master key, value)), with
 * context (e.g. "webhook:ACCOUNT/USER") as associated data: a sealed value
 * moved to another row does not open. An empty value stays empty. */
#define TK_SEALED_PLAIN_MAX 1024
/* Room for a sealed TK_SEALED_PLAIN_MAX-byte value. */
#define TK_SEALED_TEXT_MAX (8 + 4 * ((12 + TK_SEALED_PLAIN_MAX + 16 + 2) / 3) + 1)
/* 0, TK_ETOOBIG (plain over TK_SEALED_PLAIN_MAX or out too small), TK_EIO. */
int tk_meta_secret_seal(const tk_meta_t *m, const char *context, const char *plain, char *out,
                        size_t outlen, char *err);
/* Opens what tk_meta_secret_seal wrote; a value that is not sealed (written
 * by a version before sealing) is returned as it is. 0 or TK_ECORRUPT. */
int tk_meta_secret_open(const tk_meta_t *m, const char *context, const char *stored, char *out,
                        size_t outlen, char *err);
/* 1 when stored is sealed text. */
int tk_meta_secret_is_sealed(const char *stored);

/* ---- first start ---- */
#define TK_DEFAULT_ACCOUNT "100000000000000"
/* When the database has no account at all, creates account TK_DEFAULT_ACCOUNT
 * (name "default") and an admin key for it in one transaction, writes the key
 * id (>= 32 bytes) and secret (TK_SECRET_LEN + 1) and sets *created = 1; the
 * caller shows them once. Otherwise does nothing and sets *created = 0. */
int tk_meta_bootstrap(tk_meta_t *m, char *key_id_out, char *secret_out, int *created, char *err);

/* ---- organization extras ---- */
/* Deletes the organization and its member list (accounts stay). TK_ENOTFOUND. */
int tk_meta_org_delete(tk_meta_t *m, char *err);
/* Calls cb for each member account id (the management account included), in id
 * order, after the internal lock is released (cb may call tk_meta_*). */
int tk_meta_org_members(tk_meta_t *m, void (*cb)(void *ud, const char *account), void *ud,
                        char *err);
/* 1 when `management` is the organization's management account and `account`
 * is a member (the management account itself included); 0 otherwise or on
 * error (fail closed). Reads the database on every call, so a removal takes
 * effect on the next request. */
int tk_meta_org_can_see(tk_meta_t *m, const char *management, const char *account);

/* ---- schema for other modules ----
 * Each module keeps its own tables in meta.db with its own version number
 * (table tk_schema(module, version)). Adding a migration is one row in the
 * module's array: steps[i].version must be i + 1; steps above the stored
 * version run once, each in its own transaction (safe with concurrent
 * processes). Example:
 *   static const tk_meta_migration_t trail_steps[] = {
 *       {1, "CREATE TABLE trails(name TEXT PRIMARY KEY, ...);"},
 *   };
 *   rc = tk_meta_migrate(m, "trail", trail_steps, TK_ARRAY_LEN(trail_steps), err); */
typedef struct tk_meta_migration {
    int version;
    const char *sql;   /* one or more statements */
} tk_meta_migration_t;
int tk_meta_migrate(tk_meta_t *m, const char *module, const tk_meta_migration_t *steps, size_t n,
                    char *err);
/* Stored schema version of a module (0 = none, negative TK_E* on error). */
int tk_meta_schema_version(tk_meta_t *m, const char *module);
/* Direct access for modules that own tables in meta.db: returns the sqlite3
 * connection with the internal mutex held (busy timeout set, foreign keys
 * on); the caller must tk_meta_unlock() and must not call other tk_meta_*
 * functions in between. Borrowed: never close it. */
struct sqlite3;
struct sqlite3 *tk_meta_lock(tk_meta_t *m);
void tk_meta_unlock(tk_meta_t *m);

#endif

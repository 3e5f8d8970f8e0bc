/* trailkeep meta internals shared by meta.c (database, schema, accounts,
 * organization) and keys.c (API keys, secret encryption). Invariant: every
 * function named *_locked runs with m->mu held and never takes it again. */
#ifndef TK_META_META_INTERNAL_H
#define TK_META_META_INTERNAL_H

#include "meta/meta.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#define TK_META_BUSY_TIMEOUT_MS 5000
#define TK_MASTER_KEY_LEN 32
#define TK_GCM_NONCE_LEN 12
#define TK_GCM_TAG_LEN 16
/* api_keys.secret_enc = nonce | ciphertext(TK_SECRET_LEN) | tag */
#define TK_SECRET_ENC_LEN (TK_GCM_NONCE_LEN + TK_SECRET_LEN + TK_GCM_TAG_LEN)

/* AES-256-GCM under the master key (secret.c): out = nonce | ciphertext(n) |
 * tag, out holds n + TK_GCM_NONCE_LEN + TK_GCM_TAG_LEN bytes; aad binds the
 * ciphertext to its row. open writes inlen - nonce - tag bytes. 0, TK_EIO
 * (seal), TK_ECORRUPT (open: wrong key, altered or moved ciphertext). */
int tk_meta_gcm_seal(const tk_meta_t *m, const char *aad, const void *plain, size_t n, uint8_t *out);
int tk_meta_gcm_open(const tk_meta_t *m, const char *aad, const uint8_t *in, size_t inlen, void *out);

/* Prepared statements, compiled on first use and kept for the connection's
 * life. The SQL for each is in meta.c's stmt_sql[] (same order). */
enum tk_meta_stmt {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_ACCOUNT_INSERT,
    ST_ACCOUNT_GET,
    ST_ACCOUNT_LIST,
    ST_ACCOUNT_COUNT,
    ST_ACCOUNT_RETENTION,
    ST_ACCOUNT_DELETE,
    ST_ORG_GET,
    ST_ORG_INSERT,
    ST_ORG_DELETE,
    ST_MEMBER_INSERT,
    ST_MEMBER_DELETE,
    ST_MEMBER_DELETE_ALL,
    ST_MEMBER_LIST,
    ST_MEMBER_IS,
    ST_KEY_INSERT,
    ST_KEY_GET,
    ST_KEY_LIST_ALL,
    ST_KEY_LIST_ACCOUNT,
    ST_KEY_REVOKE,
    ST_KEY_REVOKE_ACCOUNT,
    ST_KEY_COUNT,
    ST_KEY_TOUCH,
    ST__COUNT
};

struct tk_meta {
    sqlite3 *db;
    pthread_mutex_t mu;
    uint8_t master[TK_MASTER_KEY_LEN];
    sqlite3_stmt *st[ST__COUNT];
};

/* Returns the statement reset and with bindings cleared, or NULL (err set). */
sqlite3_stmt *tk_meta_stmt(tk_meta_t *m, enum tk_meta_stmt id, char *err);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK (rollback never fails visibly). */
int tk_meta_begin_locked(tk_meta_t *m, char *err);
int tk_meta_commit_locked(tk_meta_t *m, char *err);
void tk_meta_rollback_locked(tk_meta_t *m);
/* Maps a SQLite result code to TK_E* with a message naming what failed. */
int tk_meta_sqlerr(tk_meta_t *m, int rc, const char *what, char *err);

/* Runs a list statement under the lock and copies each row into a growing
 * array of `elem`-byte items with read(); bind (may be NULL) binds its
 * parameters first. *out is returned owned (free()); the caller then runs its
 * callbacks unlocked, so they may call tk_meta_* themselves. `what` names the
 * list in error messages ("accounts"). */
int tk_meta_collect(tk_meta_t *m, enum tk_meta_stmt id, const char *bind_text, size_t elem,
                    void (*read)(sqlite3_stmt *s, void *item), const char *what, void **out,
                    size_t *n, char *err);
/* [A-Za-z0-9_-]{1,63}; 0 or TK_EINVAL with a message naming `what`. */
int tk_meta_check_id(const char *id, const char *what, char *err);
/* 1 exists, 0 not, negative TK_E* on error. */
int tk_meta_account_exists_locked(tk_meta_t *m, const char *id, char *err);
int tk_meta_account_insert_locked(tk_meta_t *m, const char *id, const char *name, char *err);
int tk_meta_key_create_locked(tk_meta_t *m, const char *account, tk_role_t role,
                              const char *name, tk_key_t *out, char *secret_out, char *err);
/* Copies s into dst (cap bytes), truncating; always NUL-terminates. */
void tk_meta_copy(char *dst, size_t cap, const unsigned char *s);

#endif

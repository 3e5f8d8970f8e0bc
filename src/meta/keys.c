/* trailkeep API keys: generation, storage and verification. A secret is
 * shown once; the database keeps SHA-256(secret) for bearer checks and
 * AES-256-GCM(master key, secret) with the key id as associated data for
 * SigV4, which needs the secret itself. Invariant: no code path writes a
 * secret in clear to meta.db, a log or an error message. */
#include "meta/meta_internal.h"

#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"

#include <stdlib.h>
#include <string.h>

#define KEY_ID_RANDOM 18
#define TOUCH_INTERVAL_MS 60000

/* Fills out[0..n) with characters drawn uniformly from alphabet (size k) by
 * rejection sampling, so no character is more likely than another. */
static int random_chars(char *out, size_t n, const char *alphabet, unsigned k)
{
    unsigned limit = 256 - 256 % k;
    uint8_t buf[64];
    size_t got = 0;
    while (got < n) {
        if (tk_random(buf, sizeof buf))
            return TK_EIO;
        for (size_t i = 0; i < sizeof buf && got < n; i++)
            if (buf[i] < limit)
                out[got++] = alphabet[buf[i] % k];
    }
    out[n] = 0;
    return 0;
}

static const char ALNUM_UPPER[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
static const char BASE62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* api_keys.secret_enc = nonce | ciphertext | tag (secret.c); the key id is
 * associated data, so a ciphertext copied onto another key's row does not
 * decrypt. */
static int unseal(const tk_meta_t *m, const char *key_id, const uint8_t *in, size_t inlen,
                  char secret[TK_SECRET_LEN + 1])
{
    if (inlen != TK_SECRET_ENC_LEN || tk_meta_gcm_open(m, key_id, in, inlen, secret))
        return TK_ECORRUPT;
    secret[TK_SECRET_LEN] = 0;
    return 0;
}

static void read_key(sqlite3_stmt *s, tk_key_t *k)
{
    memset(k, 0, sizeof *k);
    tk_meta_copy(k->key_id, sizeof k->key_id, sqlite3_column_text(s, 0));
    tk_meta_copy(k->account, sizeof k->account, sqlite3_column_text(s, 1));
    k->role = (tk_role_t)sqlite3_column_int(s, 2);
    tk_meta_copy(k->name, sizeof k->name, sqlite3_column_text(s, 3));
    k->created_ms = sqlite3_column_int64(s, 4);
    k->last_used_ms = sqlite3_column_int64(s, 5);
    k->revoked = sqlite3_column_int64(s, 6) != 0;
}

/* A syntactically valid key id: "TK" + 18 of [A-Z0-9]. Checked before any
 * database access so junk never reaches SQL or error messages unbounded. */
static int key_id_valid(const char *id)
{
    if (!id || strlen(id) != 2 + KEY_ID_RANDOM || id[0] != 'T' || id[1] != 'K')
        return 0;
    for (int i = 2; i < 2 + KEY_ID_RANDOM; i++)
        if (!((id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9')))
            return 0;
    return 1;
}

int tk_meta_key_create_locked(tk_meta_t *m, const char *account, tk_role_t role,
                              const char *name, tk_key_t *out, char *secret_out, char *err)
{
    if (role < TK_ROLE_WRITER || role > TK_ROLE_ADMIN)
        return tk_errf(err, TK_EINVAL, "role %d is not valid: use writer, reader or admin",
                       (int)role);
    if (name && strlen(name) >= sizeof out->name)
        return tk_errf(err, TK_EINVAL, "key name is %zu bytes long: at most %zu allowed",
                       strlen(name), sizeof out->name - 1);
    int rc = tk_meta_check_id(account, "account id", err);
    if (rc)
        return rc;
    rc = tk_meta_account_exists_locked(m, account, err);
    if (rc == 0)
        return tk_errf(err, TK_ENOTFOUND,
                       "account %s does not exist: create it first with trailkeep accounts create",
                       account);
    if (rc < 0)
        return rc;
    rc = 0;
    char key_id[32], secret[TK_SECRET_LEN + 1];
    uint8_t hash[32], enc[TK_SECRET_ENC_LEN];
    int64_t now = tk_now_ms();
    for (int attempt = 0;; attempt++) {
        memcpy(key_id, "TK", 2);
        if (random_chars(key_id + 2, KEY_ID_RANDOM, ALNUM_UPPER, 36) ||
            random_chars(secret, TK_SECRET_LEN, BASE62, 62))
            return tk_errf(err, TK_EIO, "cannot get random bytes for a key");
        tk_sha256(secret, TK_SECRET_LEN, hash);
        if (tk_meta_gcm_seal(m, key_id, secret, TK_SECRET_LEN, enc)) {
            rc = tk_errf(err, TK_EIO, "cannot encrypt the key secret (OpenSSL AES-256-GCM)");
            break;
        }
        sqlite3_stmt *s = tk_meta_stmt(m, ST_KEY_INSERT, err);
        if (!s) {
            rc = TK_EIO;
            break;
        }
        sqlite3_bind_text(s, 1, key_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, account, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 3, (int)role);
        sqlite3_bind_text(s, 4, name ? name : "", -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 5, hash, sizeof hash, SQLITE_STATIC);
        sqlite3_bind_blob(s, 6, enc, sizeof enc, SQLITE_STATIC);
        sqlite3_bind_int64(s, 7, now);
        int r = sqlite3_step(s);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        /* A key id collision (36^18 ids) is astronomically unlikely; retry anyway. */
        if ((r & 0xff) == SQLITE_CONSTRAINT && attempt < 3)
            continue;
        if (r != SQLITE_DONE)
            rc = tk_meta_sqlerr(m, r, "storing a key", err);
        break;
    }
    if (!rc) {
        memset(out, 0, sizeof *out);
        memcpy(out->key_id, key_id, sizeof key_id);
        tk_meta_copy(out->account, sizeof out->account, (const unsigned char *)account);
        out->role = role;
        tk_meta_copy(out->name, sizeof out->name, (const unsigned char *)name);
        out->created_ms = now;
        memcpy(secret_out, secret, TK_SECRET_LEN + 1);
    }
    memset(secret, 0, sizeof secret);
    return rc;
}

int tk_meta_key_create(tk_meta_t *m, const char *account, tk_role_t role, const char *name,
                       tk_key_t *out, char *secret_out, char *err)
{
    pthread_mutex_lock(&m->mu);
    int rc = tk_meta_key_create_locked(m, account, role, name, out, secret_out, err);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* Loads a key row; with enc set, also its encrypted secret. TK_EAUTH when
 * unknown or revoked: callers authenticate with it. */
static int key_load_locked(tk_meta_t *m, const char *key_id, tk_key_t *k, uint8_t *hash,
                           uint8_t *enc, size_t *enclen, char *err)
{
    memset(k, 0, sizeof *k);
    if (!key_id_valid(key_id))
        return tk_errf(err, TK_EAUTH,
                       "malformed key id: expected TK followed by 18 upper-case letters/digits");
    sqlite3_stmt *s = tk_meta_stmt(m, ST_KEY_GET, err);
    if (!s)
        return TK_EIO;
    sqlite3_bind_text(s, 1, key_id, -1, SQLITE_STATIC);
    int r = sqlite3_step(s), rc = 0;
    if (r == SQLITE_ROW) {
        read_key(s, k);
        if (hash) {
            const void *h = sqlite3_column_blob(s, 7);
            if (sqlite3_column_bytes(s, 7) == 32 && h)
                memcpy(hash, h, 32);
            else
                rc = tk_errf(err, TK_ECORRUPT, "meta.db: key %s has a malformed hash", key_id);
        }
        if (enc && !rc) {
            int n = sqlite3_column_bytes(s, 8);
            const void *e = sqlite3_column_blob(s, 8);
            *enclen = (size_t)n;
            if (n == TK_SECRET_ENC_LEN && e)
                memcpy(enc, e, TK_SECRET_ENC_LEN);
            else
                rc = tk_errf(err, TK_ECORRUPT, "meta.db: key %s has a malformed secret", key_id);
        }
        if (!rc && k->revoked)
            rc = tk_errf(err, TK_EAUTH, "key %s has been revoked: use another key", key_id);
    } else if (r == SQLITE_DONE) {
        rc = tk_errf(err, TK_EAUTH, "unknown key id %s", key_id);
    } else {
        rc = tk_meta_sqlerr(m, r, "reading a key", err);
    }
    sqlite3_reset(s);
    return rc;
}

static void touch_locked(tk_meta_t *m, const tk_key_t *k, int64_t now_ms)
{
    if (now_ms - k->last_used_ms < TOUCH_INTERVAL_MS)
        return;
    sqlite3_stmt *s = tk_meta_stmt(m, ST_KEY_TOUCH, NULL);
    if (!s)
        return;
    sqlite3_bind_text(s, 1, k->key_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_ms);
    /* Best effort and never waiting: while another process (the CLI) holds
     * the write lock, authentication must not stall for the busy timeout;
     * the next request a minute later records the use instead. */
    sqlite3_busy_timeout(m->db, 0);
    sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_busy_timeout(m->db, TK_META_BUSY_TIMEOUT_MS);
}

int tk_meta_key_verify(tk_meta_t *m, const char *key_id, const char *secret, tk_key_t *out,
                       char *err)
{
    uint8_t want[32], got[32];
    tk_key_t k;
    /* Hash first, outside the lock; the compare below is constant time so
     * timing reveals nothing about how much of a guess was right. */
    tk_sha256(secret ? secret : "", secret ? strlen(secret) : 0, got);
    pthread_mutex_lock(&m->mu);
    int rc = key_load_locked(m, key_id, &k, want, NULL, NULL, err);
    if (!rc && !tk_ct_equal(want, got, 32))
        rc = tk_errf(err, TK_EAUTH, "wrong secret for key %s", key_id);
    if (!rc)
        touch_locked(m, &k, tk_now_ms());
    pthread_mutex_unlock(&m->mu);
    if (!rc && out)
        *out = k;
    return rc;
}

int tk_meta_key_secret(tk_meta_t *m, const char *key_id, tk_key_t *out, char *secret_out,
                       char *err)
{
    uint8_t enc[TK_SECRET_ENC_LEN];
    size_t enclen = 0;
    tk_key_t k;
    pthread_mutex_lock(&m->mu);
    int rc = key_load_locked(m, key_id, &k, NULL, enc, &enclen, err);
    if (!rc && unseal(m, key_id, enc, enclen, secret_out))
        rc = tk_errf(err, TK_ECORRUPT,
                     "cannot decrypt the secret of key %s: master.key does not match meta.db",
                     key_id);
    pthread_mutex_unlock(&m->mu);
    if (!rc && out)
        *out = k;
    return rc;
}

void tk_meta_key_touch(tk_meta_t *m, const char *key_id, int64_t now_ms)
{
    if (!key_id_valid(key_id))
        return;
    tk_key_t k;
    pthread_mutex_lock(&m->mu);
    if (!key_load_locked(m, key_id, &k, NULL, NULL, NULL, NULL))
        touch_locked(m, &k, now_ms);
    pthread_mutex_unlock(&m->mu);
}

static void read_key_item(sqlite3_stmt *s, void *item) { read_key(s, item); }

int tk_meta_key_list(tk_meta_t *m, const char *account, void (*cb)(void *ud, const tk_key_t *k),
                     void *ud, char *err)
{
    void *v;
    size_t n;
    int rc = tk_meta_collect(m, account ? ST_KEY_LIST_ACCOUNT : ST_KEY_LIST_ALL, account,
                             sizeof(tk_key_t), read_key_item, "keys", &v, &n, err);
    for (size_t i = 0; !rc && i < n; i++)
        cb(ud, (tk_key_t *)v + i);
    free(v);
    return rc;
}

int tk_meta_key_revoke(tk_meta_t *m, const char *key_id, char *err)
{
    if (!key_id_valid(key_id))
        return tk_errf(err, TK_EINVAL,
                       "'%.40s' is not a key id: expected TK followed by 18 upper-case "
                       "letters/digits (see trailkeep keys list)",
                       key_id ? key_id : "");
    pthread_mutex_lock(&m->mu);
    int rc;
    sqlite3_stmt *s = tk_meta_stmt(m, ST_KEY_REVOKE, err);
    if (!s) {
        rc = TK_EIO;
        goto out;
    }
    sqlite3_bind_text(s, 1, key_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, tk_now_ms());
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE) {
        rc = tk_meta_sqlerr(m, r, "revoking a key", err);
        goto out;
    }
    rc = 0;
    if (sqlite3_changes(m->db) == 0) {
        /* Either unknown or already revoked: revoking twice is not an error. */
        tk_key_t k;
        char e2[TK_ERRLEN];
        int lr = key_load_locked(m, key_id, &k, NULL, NULL, NULL, e2);
        if (lr == TK_EAUTH && !k.revoked)
            rc = tk_errf(err, TK_ENOTFOUND, "key %s does not exist (see trailkeep keys list)",
                         key_id);
        else if (lr != TK_EAUTH && lr != 0)
            rc = tk_errf(err, lr, "%s", e2);
    }
out:
    pthread_mutex_unlock(&m->mu);
    return rc;
}

size_t tk_meta_key_count(tk_meta_t *m)
{
    size_t n = 0;
    pthread_mutex_lock(&m->mu);
    sqlite3_stmt *s = tk_meta_stmt(m, ST_KEY_COUNT, NULL);
    if (s && sqlite3_step(s) == SQLITE_ROW)
        n = (size_t)sqlite3_column_int64(s, 0);
    if (s)
        sqlite3_reset(s);
    pthread_mutex_unlock(&m->mu);
    return n;
}

/* Tests for src/meta: schema and migrations, the master key, accounts, the
 * organization, API keys (creation, verification, SigV4 secret recovery,
 * revocation, last-used throttling) and the bootstrap on first start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/fs.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "meta/meta.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    char dir[256];
    tk_meta_t *m;
    char err[TK_ERRLEN];
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/tk-meta-test.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(tk_meta_open(f->dir, &f->m, f->err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    tk_meta_close(f->m);
    tk_fs_remove_tree(f->dir);
    free(f);
    return 0;
}

static void reopen(fx_t *f)
{
    tk_meta_close(f->m);
    f->m = NULL;
    assert_int_equal(tk_meta_open(f->dir, &f->m, f->err), 0);
}

/* ------------------------------------------------------------- schema */

static void test_open_creates_db_and_private_master_key(void **state)
{
    fx_t *f = *state;
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/master.key", f->dir);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 32);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(p, sizeof p, "%s/meta.db", f->dir);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);
    assert_int_equal(tk_meta_schema_version(f->m, "meta"), 1);
    assert_int_equal(tk_meta_schema_version(f->m, "nosuchmodule"), 0);
}

static void test_open_errors_say_what_is_wrong(void **state)
{
    fx_t *f = *state;
    tk_meta_t *m = (tk_meta_t *)1;
    assert_int_equal(tk_meta_open("", &m, f->err), TK_EINVAL);
    assert_null(m);
    assert_int_equal(tk_meta_open(NULL, &m, f->err), TK_EINVAL);
    char p[512];
    /* a data "directory" that is a file */
    snprintf(p, sizeof p, "%s/afile", f->dir);
    assert_int_equal(tk_fs_write_atomic(p, "x", 1, f->err), 0);
    assert_true(tk_meta_open(p, &m, f->err) < 0);
    assert_null(m);
    /* a meta.db that is not a database */
    snprintf(p, sizeof p, "%s/junk", f->dir);
    assert_int_equal(tk_fs_mkdirs(p, f->err), 0);
    snprintf(p, sizeof p, "%s/junk/meta.db", f->dir);
    char garbage[4096];
    memset(garbage, 'J', sizeof garbage);
    assert_int_equal(tk_fs_write_atomic(p, garbage, sizeof garbage, f->err), 0);
    snprintf(p, sizeof p, "%s/junk", f->dir);
    assert_int_equal(tk_meta_open(p, &m, f->err), TK_ECORRUPT);
    assert_non_null(strstr(f->err, "meta.db"));
    assert_null(m);
    tk_meta_close(NULL); /* no-op */
}

static void test_migrations_run_once_in_order_and_survive_reopen(void **state)
{
    fx_t *f = *state;
    static const tk_meta_migration_t v1[] = {
        {1, "CREATE TABLE t(a INTEGER); INSERT INTO t VALUES (1);"},
    };
    static const tk_meta_migration_t v2[] = {
        {1, "CREATE TABLE t(a INTEGER); INSERT INTO t VALUES (1);"},
        {2, "INSERT INTO t VALUES (2);"},
    };
    assert_int_equal(tk_meta_migrate(f->m, "demo", v1, 1, f->err), 0);
    assert_int_equal(tk_meta_migrate(f->m, "demo", v1, 1, f->err), 0); /* no-op */
    assert_int_equal(tk_meta_schema_version(f->m, "demo"), 1);
    reopen(f);
    assert_int_equal(tk_meta_migrate(f->m, "demo", v2, 2, f->err), 0);
    assert_int_equal(tk_meta_schema_version(f->m, "demo"), 2);
    sqlite3 *db = tk_meta_lock(f->m);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT group_concat(a) FROM t", -1, &s, NULL), 0);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "1,2");
    sqlite3_finalize(s);
    tk_meta_unlock(f->m);
    /* An older binary refuses a newer schema instead of corrupting it. */
    assert_int_equal(tk_meta_migrate(f->m, "demo", v1, 1, f->err), TK_EUNSUPPORTED);
    assert_non_null(strstr(f->err, "newer"));
}

static void test_migration_failure_rolls_back_and_reports(void **state)
{
    fx_t *f = *state;
    static const tk_meta_migration_t bad[] = {
        {1, "CREATE TABLE u(a INTEGER);"},
        {2, "INSERT INTO u VALUES (1); THIS IS NOT SQL;"},
    };
    assert_int_equal(tk_meta_migrate(f->m, "bad", bad, 2, f->err), TK_EIO);
    assert_non_null(strstr(f->err, "migration 2 of bad"));
    assert_int_equal(tk_meta_schema_version(f->m, "bad"), 1);
    sqlite3 *db = tk_meta_lock(f->m);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM u", -1, &s, NULL), 0);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 0);
    sqlite3_finalize(s);
    tk_meta_unlock(f->m);
    static const tk_meta_migration_t gap[] = {{1, "SELECT 1;"}, {3, "SELECT 1;"}};
    assert_int_equal(tk_meta_migrate(f->m, "gap", gap, 2, f->err), TK_EINVAL);
}

static void test_missing_or_swapped_master_key_is_refused(void **state)
{
    fx_t *f = *state;
    tk_key_t k;
    char secret[TK_SECRET_LEN + 1], p[512];
    assert_int_equal(tk_meta_account_create(f->m, "111", "a", f->err), 0);
    assert_int_equal(tk_meta_key_create(f->m, "111", TK_ROLE_READER, "", &k, secret, f->err), 0);
    tk_meta_close(f->m);
    f->m = NULL;
    snprintf(p, sizeof p, "%s/master.key", f->dir);
    char *orig;
    size_t len;
    assert_int_equal(tk_fs_read_all(p, &orig, &len, f->err), 0);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(tk_meta_open(f->dir, &f->m, f->err), TK_ENOTFOUND);
    assert_null(f->m);
    assert_non_null(strstr(f->err, "restore master.key"));
    assert_int_equal(tk_fs_exists(p), 0); /* no fresh key silently created */
    /* A different key of the right size. */
    FILE *fp = fopen(p, "w");
    for (int i = 0; i < 32; i++)
        fputc(i, fp);
    fclose(fp);
    chmod(p, 0600);
    assert_int_equal(tk_meta_open(f->dir, &f->m, f->err), TK_ECORRUPT);
    /* A readable-by-others key file. */
    fp = fopen(p, "w");
    fwrite(orig, 1, len, fp);
    fclose(fp);
    chmod(p, 0644);
    assert_int_equal(tk_meta_open(f->dir, &f->m, f->err), TK_EPERM);
    assert_non_null(strstr(f->err, "chmod 600"));
    chmod(p, 0600);
    free(orig);
    assert_int_equal(tk_meta_open(f->dir, &f->m, f->err), 0);
    char back[TK_SECRET_LEN + 1];
    assert_int_equal(tk_meta_key_secret(f->m, k.key_id, NULL, back, f->err), 0);
    assert_string_equal(back, secret);
}

static char collected[8][32];
static int collected_n;
static void collect_key_id(void *ud, const tk_key_t *k)
{
    (void)ud;
    if (collected_n < 8)
        strcpy(collected[collected_n++], k->key_id);
}

/* Several processes starting on an empty directory at once (a server and
 * the CLI, or two servers) agree on one schema and one master key. */
static void test_concurrent_first_open_agrees_on_one_master_key(void **state)
{
    fx_t *f = *state;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/fresh", f->dir);
    enum { NPROC = 4 };
    pid_t pids[NPROC];
    for (int i = 0; i < NPROC; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            tk_meta_t *m;
            char err[TK_ERRLEN], acc[16], s[TK_SECRET_LEN + 1];
            tk_key_t k;
            snprintf(acc, sizeof acc, "acc%d", i);
            int rc = tk_meta_open(dir, &m, err);
            if (!rc)
                rc = tk_meta_account_create(m, acc, "", err);
            if (!rc)
                rc = tk_meta_key_create(m, acc, TK_ROLE_ADMIN, "", &k, s, err);
            if (rc)
                fprintf(stderr, "child %d: %s\n", i, err);
            tk_meta_close(m);
            _exit(rc ? 1 : 0);
        }
    }
    for (int i = 0; i < NPROC; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    tk_meta_t *m;
    assert_int_equal(tk_meta_open(dir, &m, f->err), 0);
    assert_int_equal(tk_meta_key_count(m), NPROC);
    assert_int_equal(tk_meta_schema_version(m, "meta"), 1);
    /* every child's secret decrypts under the one master key on disk */
    collected_n = 0;
    assert_int_equal(tk_meta_key_list(m, NULL, collect_key_id, NULL, f->err), 0);
    assert_int_equal(collected_n, NPROC);
    for (int i = 0; i < NPROC; i++) {
        char s[TK_SECRET_LEN + 1];
        assert_int_equal(tk_meta_key_secret(m, collected[i], NULL, s, f->err), 0);
    }
    tk_meta_close(m);
}

/* ------------------------------------------------------------- accounts */

static int account_count;
static char account_ids[8][64];
static void collect_account(void *ud, const tk_account_t *a)
{
    (void)ud;
    if (account_count < 8)
        strcpy(account_ids[account_count], a->id);
    account_count++;
}

static void test_account_create_get_list(void **state)
{
    fx_t *f = *state;
    int64_t t0 = tk_now_ms();
    assert_int_equal(tk_meta_account_create(f->m, "222", "beta", f->err), 0);
    assert_int_equal(tk_meta_account_create(f->m, "111", NULL, f->err), 0);
    tk_account_t a;
    assert_int_equal(tk_meta_account_get(f->m, "222", &a, f->err), 0);
    assert_string_equal(a.id, "222");
    assert_string_equal(a.name, "beta");
    assert_int_equal(a.retention_days, 0);
    assert_int_equal(a.is_management, 0);
    assert_int_equal(a.is_member, 0);
    assert_true(a.created_ms >= t0 && a.created_ms <= tk_now_ms());
    assert_int_equal(tk_meta_account_get(f->m, "111", &a, f->err), 0);
    assert_string_equal(a.name, "");
    account_count = 0;
    assert_int_equal(tk_meta_account_list(f->m, collect_account, NULL, f->err), 0);
    assert_int_equal(account_count, 2);
    assert_string_equal(account_ids[0], "111");
    assert_string_equal(account_ids[1], "222");
}

static void test_account_errors(void **state)
{
    fx_t *f = *state;
    tk_account_t a;
    assert_int_equal(tk_meta_account_create(f->m, "111", "x", f->err), 0);
    assert_int_equal(tk_meta_account_create(f->m, "111", "y", f->err), TK_EEXIST);
    assert_non_null(strstr(f->err, "already exists"));
    assert_int_equal(tk_meta_account_get(f->m, "999", &a, f->err), TK_ENOTFOUND);
    assert_non_null(strstr(f->err, "999"));
    assert_int_equal(tk_meta_account_create(f->m, "", "x", f->err), TK_EINVAL);
    assert_int_equal(tk_meta_account_create(f->m, "a b", "x", f->err), TK_EINVAL);
    assert_int_equal(tk_meta_account_create(f->m, "../etc", "x", f->err), TK_EINVAL);
    char longid[65];
    memset(longid, '1', 64);
    longid[64] = 0;
    assert_int_equal(tk_meta_account_create(f->m, longid, "x", f->err), TK_EINVAL);
    longid[63] = 0;
    assert_int_equal(tk_meta_account_create(f->m, longid, "x", f->err), 0);
    char longname[200];
    memset(longname, 'n', 199);
    longname[199] = 0;
    assert_int_equal(tk_meta_account_create(f->m, "333", longname, f->err), TK_EINVAL);
    assert_int_equal(tk_meta_account_create(f->m, "333", "tab\there", f->err), TK_EINVAL);
}

static void test_retention_validation(void **state)
{
    fx_t *f = *state;
    tk_account_t a;
    assert_int_equal(tk_meta_account_create(f->m, "111", "x", f->err), 0);
    assert_int_equal(tk_meta_account_set_retention(f->m, "111", 180, f->err), 0);
    assert_int_equal(tk_meta_account_get(f->m, "111", &a, f->err), 0);
    assert_int_equal(a.retention_days, 180);
    assert_int_equal(tk_meta_account_set_retention(f->m, "111", -1, f->err), TK_EINVAL);
    assert_int_equal(tk_meta_account_set_retention(f->m, "111", 36501, f->err), TK_EINVAL);
    assert_int_equal(tk_meta_account_set_retention(f->m, "111", 36500, f->err), 0);
    assert_int_equal(tk_meta_account_set_retention(f->m, "111", 0, f->err), 0);
    assert_int_equal(tk_meta_account_get(f->m, "111", &a, f->err), 0);
    assert_int_equal(a.retention_days, 0);
    assert_int_equal(tk_meta_account_set_retention(f->m, "999", 30, f->err), TK_ENOTFOUND);
}

static void test_account_delete_revokes_keys(void **state)
{
    fx_t *f = *state;
    tk_key_t k;
    char secret[TK_SECRET_LEN + 1];
    assert_int_equal(tk_meta_account_create(f->m, "111", "x", f->err), 0);
    assert_int_equal(tk_meta_key_create(f->m, "111", TK_ROLE_WRITER, "w", &k, secret, f->err), 0);
    assert_int_equal(tk_meta_key_verify(f->m, k.key_id, secret, NULL, f->err), 0);
    assert_int_equal(tk_meta_account_delete(f->m, "111", f->err), 0);
    assert_int_equal(tk_meta_key_verify(f->m, k.key_id, secret, NULL, f->err), TK_EAUTH);
    assert_non_null(strstr(f->err, "revoked"));
    tk_account_t a;
    assert_int_equal(tk_meta_account_get(f->m, "111", &a, f->err), TK_ENOTFOUND);
    assert_int_equal(tk_meta_account_delete(f->m, "111", f->err), TK_ENOTFOUND);
}

/* --------------------------------------------------------- organization */

static int member_count;
static char member_ids[8][64];
static void collect_member(void *ud, const char *id)
{
    (void)ud;
    if (member_count < 8)
        strcpy(member_ids[member_count], id);
    member_count++;
}

static void test_org_lifecycle(void **state)
{
    fx_t *f = *state;
    char org[64], mgmt[64];
    assert_int_equal(tk_meta_org_get(f->m, org, mgmt, f->err), TK_ENOTFOUND);
    assert_int_equal(tk_meta_account_create(f->m, "100", "mgmt", f->err), 0);
    assert_int_equal(tk_meta_account_create(f->m, "200", "member", f->err), 0);
    assert_int_equal(tk_meta_account_create(f->m, "300", "outsider", f->err), 0);
    assert_int_equal(tk_meta_org_add_member(f->m, "200", f->err), TK_ENOTFOUND); /* no org */
    assert_int_equal(tk_meta_org_create(f->m, "o-1", "999", f->err), TK_ENOTFOUND);
    assert_int_equal(tk_meta_org_create(f->m, "o 1", "100", f->err), TK_EINVAL);
    assert_int_equal(tk_meta_org_create(f->m, "o-1", "100", f->err), 0);
    assert_int_equal(tk_meta_org_create(f->m, "o-2", "200", f->err), TK_EEXIST);
    assert_int_equal(tk_meta_org_get(f->m, org, mgmt, f->err), 0);
    assert_string_equal(org, "o-1");
    assert_string_equal(mgmt, "100");
    assert_int_equal(tk_meta_org_add_member(f->m, "200", f->err), 0);
    assert_int_equal(tk_meta_org_add_member(f->m, "200", f->err), TK_EEXIST);
    assert_int_equal(tk_meta_org_add_member(f->m, "404", f->err), TK_ENOTFOUND);
    tk_account_t a;
    assert_int_equal(tk_meta_account_get(f->m, "100", &a, f->err), 0);
    assert_int_equal(a.is_management, 1);
    assert_int_equal(a.is_member, 1);
    assert_int_equal(tk_meta_account_get(f->m, "200", &a, f->err), 0);
    assert_int_equal(a.is_management, 0);
    assert_int_equal(a.is_member, 1);
    assert_int_equal(tk_meta_account_get(f->m, "300", &a, f->err), 0);
    assert_int_equal(a.is_member, 0);
    member_count = 0;
    assert_int_equal(tk_meta_org_members(f->m, collect_member, NULL, f->err), 0);
    assert_int_equal(member_count, 2);
    assert_string_equal(member_ids[0], "100");
    assert_string_equal(member_ids[1], "200");
    assert_int_equal(tk_meta_org_can_see(f->m, "100", "200"), 1);
    assert_int_equal(tk_meta_org_can_see(f->m, "100", "300"), 0);
    assert_int_equal(tk_meta_org_can_see(f->m, "200", "100"), 0);
    /* The management account cannot leave, nor be deleted while it manages. */
    assert_int_equal(tk_meta_org_remove_member(f->m, "100", f->err), TK_EINVAL);
    assert_int_equal(tk_meta_account_delete(f->m, "100", f->err), TK_EINVAL);
    assert_non_null(strstr(f->err, "management"));
    assert_int_equal(tk_meta_org_remove_member(f->m, "300", f->err), TK_ENOTFOUND);
    assert_int_equal(tk_meta_org_remove_member(f->m, "200", f->err), 0);
    assert_int_equal(tk_meta_org_can_see(f->m, "100", "200"), 0);
    /* Deleting a member account drops its membership. */
    assert_int_equal(tk_meta_org_add_member(f->m, "300", f->err), 0);
    assert_int_equal(tk_meta_account_delete(f->m, "300", f->err), 0);
    member_count = 0;
    assert_int_equal(tk_meta_org_members(f->m, collect_member, NULL, f->err), 0);
    assert_int_equal(member_count, 1);
    assert_int_equal(tk_meta_org_delete(f->m, f->err), 0);
    assert_int_equal(tk_meta_org_delete(f->m, f->err), TK_ENOTFOUND);
    assert_int_equal(tk_meta_org_get(f->m, org, mgmt, f->err), TK_ENOTFOUND);
    assert_int_equal(tk_meta_account_delete(f->m, "100", f->err), 0);
}

/* ------------------------------------------------------------------ keys */

static void test_key_format_and_verify(void **state)
{
    fx_t *f = *state;
    tk_key_t k, v;
    char secret[TK_SECRET_LEN + 1];
    assert_int_equal(tk_meta_account_create(f->m, "111", "x", f->err), 0);
    assert_int_equal(tk_meta_key_create(f->m, "111", TK_ROLE_READER, "ci", &k, secret, f->err), 0);
    assert_int_equal(strlen(k.key_id), 20);
    assert_memory_equal(k.key_id, "TK", 2);
    for (int i = 2; i < 20; i++)
        assert_true((k.key_id[i] >= 'A' && k.key_id[i] <= 'Z') ||
                    (k.key_id[i] >= '0' && k.key_id[i] <= '9'));
    assert_int_equal(strlen(secret), TK_SECRET_LEN);
    for (int i = 0; i < TK_SECRET_LEN; i++)
        assert_true((secret[i] >= 'A' && secret[i] <= 'Z') ||
                    (secret[i] >= 'a' && secret[i] <= 'z') ||
                    (secret[i] >= '0' && secret[i] <= '9'));
    assert_string_equal(k.account, "111");
    assert_int_equal(k.role, TK_ROLE_READER);
    assert_string_equal(k.name, "ci");
    assert_int_equal(tk_meta_key_verify(f->m, k.key_id, secret, &v, f->err), 0);
    assert_string_equal(v.key_id, k.key_id);
    assert_string_equal(v.account, "111");
    assert_int_equal(v.role, TK_ROLE_READER);
    /* wrong secret: one character changed, truncated, empty */
    char wrong[TK_SECRET_LEN + 1];
    strcpy(wrong, secret);
    wrong[7] = wrong[7] == 'a' ? 'b' : 'a';
    assert_int_equal(tk_meta_key_verify(f->m, k.key_id, wrong, NULL, f->err), TK_EAUTH);
    assert_non_null(strstr(f->err, "wrong secret"));
    assert_null(strstr(f->err, wrong)); /* never echoed */
    wrong[0] = 0;
    assert_int_equal(tk_meta_key_verify(f->m, k.key_id, wrong, NULL, f->err), TK_EAUTH);
    assert_int_equal(tk_meta_key_verify(f->m, k.key_id, NULL, NULL, f->err), TK_EAUTH);
    /* unknown and malformed ids */
    assert_int_equal(tk_meta_key_verify(f->m, "TKAAAAAAAAAAAAAAAAAA", secret, NULL, f->err),
                     TK_EAUTH);
    assert_non_null(strstr(f->err, "unknown key"));
    assert_int_equal(tk_meta_key_verify(f->m, "tk'; DROP TABLE x", secret, NULL, f->err),
                     TK_EAUTH);
    assert_non_null(strstr(f->err, "malformed"));
    /* another key's secret does not open this one */
    tk_key_t k2;
    char s2[TK_SECRET_LEN + 1];
    assert_int_equal(tk_meta_key_create(f->m, "111", TK_ROLE_READER, NULL, &k2, s2, f->err), 0);
    assert_string_not_equal(k2.key_id, k.key_id);
    assert_string_not_equal(s2, secret);
    assert_int_equal(tk_meta_key_verify(f->m, k.key_id, s2, NULL, f->err), TK_EAUTH);
    assert_int_equal(tk_meta_key_count(f->m), 2);
}

static void test_key_create_errors(void **state)
{
    fx_t *f = *state;
    tk_key_t k;
    char secret[TK_SECRET_LEN + 1];
    assert_int_equal(tk_meta_key_create(f->m, "404", TK_ROLE_ADMIN, "", &k, secret, f->err),
                     TK_ENOTFOUND);
    assert_non_null(strstr(f->err, "404"));
    assert_int_equal(tk_meta_account_create(f->m, "111", "x", f->err), 0);
    assert_int_equal(tk_meta_key_create(f->m, "111", TK_ROLE_NONE, "", &k, secret, f->err),
                     TK_EINVAL);
    assert_int_equal(tk_meta_key_create(f->m, "111", (tk_role_t)4, "", &k, secret, f->err),
                     TK_EINVAL);
    char longname[200];
    memset(longname, 'n', 199);
    longname[199] = 0;
    assert_int_equal(tk_meta_key_create(f->m, "111", TK_ROLE_ADMIN, longname, &k, secret, f->err),
                     TK_EINVAL);
    assert_int_equal(tk_meta_key_count(f->m), 0);
}

static void test_key_secret_roundtrip_for_sigv4(void **state)
{
    fx_t *f = *state;
    tk_key_t k, got;
    char secret[TK_SECRET_LEN + 1], back[TK_SECRET_LEN + 1];
    assert_int_equal(tk_meta_account_create(f->m, "111", "x", f->err), 0);
    assert_int_equal(tk_meta_key_create(f->m, "111", TK_ROLE_ADMIN, "", &k, secret, f->err), 0);
    reopen(f);
    assert_int_equal(tk_meta_key_secret(f->m, k.key_id, &got, back, f->err), 0);
    assert_string_equal(back, secret);
    assert_string_equal(got.account, "111");
    assert_int_equal(got.role, TK_ROLE_ADMIN);
    assert_int_equal(tk_meta_key_secret(f->m, "TKAAAAAAAAAAAAAAAAAA", NULL, back, f->err), TK_EAUTH);
    assert_int_equal(tk_meta_key_revoke(f->m, k.key_id, f->err), 0);
    assert_int_equal(tk_meta_key_secret(f->m, k.key_id, NULL, back, f->err), TK_EAUTH);
}

static void test_ciphertext_moved_to_another_key_does_not_decrypt(void **state)
{
    fx_t *f = *state;
    tk_key_t a, b;
    char sa[TK_SECRET_LEN + 1], sb[TK_SECRET_LEN + 1], back[TK_SECRET_LEN + 1];
    assert_int_equal(tk_meta_account_create(f->m, "111", "x", f->err), 0);
    assert_int_equal(tk_meta_key_create(f->m, "111", TK_ROLE_ADMIN, "", &a, sa, f->err), 0);
    assert_int_equal(tk_meta_key_create(f->m, "111", TK_ROLE_READER, "", &b, sb, f->err), 0);
    sqlite3 *db = tk_meta_lock(f->m);
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE api_keys SET secret_enc = (SELECT secret_enc FROM api_keys WHERE key_id='%s')"
             " WHERE key_id='%s'",
             a.key_id, b.key_id);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    tk_meta_unlock(f->m);
    assert_int_equal(tk_meta_key_secret(f->m, b.key_id, NULL, back, f->err), TK_ECORRUPT);
    assert_int_equal(tk_meta_key_secret(f->m, a.key_id, NULL, back, f->err), 0);
    assert_string_equal(back, sa);
}

static int bytes_contain(const char *path, const char *needle)
{
    char *data;
    size_t len;
    if (tk_fs_read_all(path, &data, &len, NULL))
        return -1;
    size_t n = strlen(needle);
    int found = 0;
    for (size_t i = 0; i + n <= len && !found; i++)
        found = !memcmp(data + i, needle, n);
    free(data);
    return found;
}

static void test_secret_never_stored_in_clear(void **state)
{
    fx_t *f = *state;
    tk_key_t k;
    char secret[TK_SECRET_LEN + 1], p[512], half[21];
    assert_int_equal(tk_meta_account_create(f->m, "111", "x", f->err), 0);
    assert_int_equal(tk_meta_key_create(f->m, "111", TK_ROLE_ADMIN, "", &k, secret, f->err), 0);
    tk_meta_close(f->m); /* checkpoint the WAL into meta.db */
    f->m = NULL;
    memcpy(half, secret + 10, 20);
    half[20] = 0;
    const char *files[] = {"meta.db", "meta.db-wal", "master.key"};
    int checked = 0;
    for (size_t i = 0; i < TK_ARRAY_LEN(files); i++) {
        snprintf(p, sizeof p, "%s/%s", f->dir, files[i]);
        int r = bytes_contain(p, k.key_id);
        if (r < 0)
            continue;
        checked++;
        assert_int_equal(bytes_contain(p, secret), 0);
        assert_int_equal(bytes_contain(p, half), 0);
    }
    assert_true(checked >= 2);
    snprintf(p, sizeof p, "%s/meta.db", f->dir);
    assert_int_equal(bytes_contain(p, k.key_id), 1); /* the search itself works */
    reopen(f);
}

static int key_count_cb;
static void count_key(void *ud, const tk_key_t *k)
{
    (void)ud;
    (void)k;
    key_count_cb++;
}

static void test_key_list_and_revoke(void **state)
{
    fx_t *f = *state;
    tk_key_t k1, k2, k3;
    char s[TK_SECRET_LEN + 1];
    assert_int_equal(tk_meta_account_create(f->m, "111", "x", f->err), 0);
    assert_int_equal(tk_meta_account_create(f->m, "222", "y", f->err), 0);
    assert_int_equal(tk_meta_key_create(f->m, "111", TK_ROLE_ADMIN, "", &k1, s, f->err), 0);
    assert_int_equal(tk_meta_key_create(f->m, "111", TK_ROLE_WRITER, "", &k2, s, f->err), 0);
    assert_int_equal(tk_meta_key_create(f->m, "222", TK_ROLE_READER, "", &k3, s, f->err), 0);
    key_count_cb = 0;
    assert_int_equal(tk_meta_key_list(f->m, NULL, count_key, NULL, f->err), 0);
    assert_int_equal(key_count_cb, 3);
    key_count_cb = 0;
    assert_int_equal(tk_meta_key_list(f->m, "111", count_key, NULL, f->err), 0);
    assert_int_equal(key_count_cb, 2);
    key_count_cb = 0;
    assert_int_equal(tk_meta_key_list(f->m, "404", count_key, NULL, f->err), 0);
    assert_int_equal(key_count_cb, 0);
    assert_int_equal(tk_meta_key_revoke(f->m, k3.key_id, f->err), 0);
    assert_int_equal(tk_meta_key_revoke(f->m, k3.key_id, f->err), 0); /* idempotent */
    assert_int_equal(tk_meta_key_verify(f->m, k3.key_id, s, NULL, f->err), TK_EAUTH);
    assert_non_null(strstr(f->err, "revoked"));
    assert_int_equal(tk_meta_key_revoke(f->m, "TKZZZZZZZZZZZZZZZZZZ", f->err), TK_ENOTFOUND);
    assert_int_equal(tk_meta_key_revoke(f->m, "nope", f->err), TK_EINVAL);
    assert_int_equal(tk_meta_key_count(f->m), 2);
}

static void test_revocation_by_another_process_takes_effect_immediately(void **state)
{
    fx_t *f = *state;
    tk_key_t k;
    char s[TK_SECRET_LEN + 1];
    assert_int_equal(tk_meta_account_create(f->m, "111", "x", f->err), 0);
    assert_int_equal(tk_meta_key_create(f->m, "111", TK_ROLE_ADMIN, "", &k, s, f->err), 0);
    assert_int_equal(tk_meta_key_verify(f->m, k.key_id, s, NULL, f->err), 0);
    tk_meta_t *other; /* a second connection stands in for the CLI */
    assert_int_equal(tk_meta_open(f->dir, &other, f->err), 0);
    assert_int_equal(tk_meta_key_revoke(other, k.key_id, f->err), 0);
    tk_meta_close(other);
    assert_int_equal(tk_meta_key_verify(f->m, k.key_id, s, NULL, f->err), TK_EAUTH);
}

static int64_t last_used_of(fx_t *f, const char *id)
{
    tk_key_t k;
    char s[TK_SECRET_LEN + 1];
    assert_int_equal(tk_meta_key_secret(f->m, id, &k, s, f->err), 0);
    return k.last_used_ms;
}

static void test_last_used_written_at_most_once_a_minute(void **state)
{
    fx_t *f = *state;
    tk_key_t k;
    char s[TK_SECRET_LEN + 1];
    assert_int_equal(tk_meta_account_create(f->m, "111", "x", f->err), 0);
    assert_int_equal(tk_meta_key_create(f->m, "111", TK_ROLE_ADMIN, "", &k, s, f->err), 0);
    assert_int_equal(last_used_of(f, k.key_id), 0);
    int64_t t = 4000000000000LL; /* year 2096: later than any wall clock here */
    tk_meta_key_touch(f->m, k.key_id, t);
    assert_int_equal(last_used_of(f, k.key_id), t);
    tk_meta_key_touch(f->m, k.key_id, t + 59999);
    assert_int_equal(last_used_of(f, k.key_id), t);
    tk_meta_key_touch(f->m, k.key_id, t + 60000);
    assert_int_equal(last_used_of(f, k.key_id), t + 60000);
    /* verify records use with the wall clock (earlier than t: no rewrite) */
    assert_int_equal(tk_meta_key_verify(f->m, k.key_id, s, NULL, f->err), 0);
    assert_int_equal(last_used_of(f, k.key_id), t + 60000);
    tk_key_t k2;
    assert_int_equal(tk_meta_key_create(f->m, "111", TK_ROLE_ADMIN, "", &k2, s, f->err), 0);
    int64_t before = tk_now_ms();
    assert_int_equal(tk_meta_key_verify(f->m, k2.key_id, s, NULL, f->err), 0);
    int64_t lu = last_used_of(f, k2.key_id);
    assert_true(lu >= before && lu <= tk_now_ms());
}

static void test_verify_does_not_wait_for_another_writer(void **state)
{
    fx_t *f = *state;
    tk_key_t k;
    char s[TK_SECRET_LEN + 1], path[512];
    assert_int_equal(tk_meta_account_create(f->m, "111", "x", f->err), 0);
    assert_int_equal(tk_meta_key_create(f->m, "111", TK_ROLE_ADMIN, "", &k, s, f->err), 0);
    /* Another process (say the CLI) holds the write lock. */
    sqlite3 *other;
    snprintf(path, sizeof path, "%s/meta.db", f->dir);
    assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    uint64_t t0 = tk_mono_ns();
    assert_int_equal(tk_meta_key_verify(f->m, k.key_id, s, NULL, f->err), 0);
    /* the busy timeout is 5 s: verification must not have waited for it */
    assert_true(tk_mono_ns() - t0 < 1000000000ULL);
    assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    /* the use was not recorded (best effort), and is on the next request */
    tk_key_t got;
    assert_int_equal(tk_meta_key_secret(f->m, k.key_id, &got, s, f->err), 0);
    assert_int_equal(got.last_used_ms, 0);
    tk_meta_key_touch(f->m, k.key_id, tk_now_ms());
    assert_int_equal(tk_meta_key_secret(f->m, k.key_id, &got, s, f->err), 0);
    assert_true(got.last_used_ms > 0);
}

/* ------------------------------------------------------------ bootstrap */

static void test_bootstrap_creates_default_admin_once(void **state)
{
    fx_t *f = *state;
    char id[32], secret[TK_SECRET_LEN + 1];
    int created = -1;
    assert_int_equal(tk_meta_bootstrap(f->m, id, secret, &created, f->err), 0);
    assert_int_equal(created, 1);
    tk_key_t k;
    assert_int_equal(tk_meta_key_verify(f->m, id, secret, &k, f->err), 0);
    assert_string_equal(k.account, TK_DEFAULT_ACCOUNT);
    assert_int_equal(k.role, TK_ROLE_ADMIN);
    tk_account_t a;
    assert_int_equal(tk_meta_account_get(f->m, TK_DEFAULT_ACCOUNT, &a, f->err), 0);
    assert_string_equal(a.name, "default");
    reopen(f);
    assert_int_equal(tk_meta_bootstrap(f->m, id, secret, &created, f->err), 0);
    assert_int_equal(created, 0);
    assert_int_equal(tk_meta_key_count(f->m), 1);
}

static void test_bootstrap_leaves_existing_accounts_alone(void **state)
{
    fx_t *f = *state;
    char id[32], secret[TK_SECRET_LEN + 1];
    int created = -1;
    assert_int_equal(tk_meta_account_create(f->m, "555", "mine", f->err), 0);
    assert_int_equal(tk_meta_bootstrap(f->m, id, secret, &created, f->err), 0);
    assert_int_equal(created, 0);
    assert_int_equal(tk_meta_key_count(f->m), 0);
}

/* ---------------------------------------------------------------- roles */

static void test_role_names_roundtrip(void **state)
{
    (void)state;
    tk_role_t r;
    assert_string_equal(tk_role_name(TK_ROLE_WRITER), "writer");
    assert_string_equal(tk_role_name(TK_ROLE_READER), "reader");
    assert_string_equal(tk_role_name(TK_ROLE_ADMIN), "admin");
    assert_string_equal(tk_role_name(TK_ROLE_NONE), "none");
    for (int i = TK_ROLE_WRITER; i <= TK_ROLE_ADMIN; i++) {
        assert_int_equal(tk_role_parse(tk_role_name((tk_role_t)i), &r), 0);
        assert_int_equal(r, i);
    }
    assert_int_equal(tk_role_parse("ADMIN", &r), 0);
    assert_int_equal(r, TK_ROLE_ADMIN);
    assert_int_equal(tk_role_parse("root", &r), TK_EINVAL);
    assert_int_equal(tk_role_parse("", &r), TK_EINVAL);
    assert_int_equal(tk_role_parse(NULL, &r), TK_EINVAL);
}

/* --------------------------------------------------------- concurrency */

typedef struct {
    tk_meta_t *m;
    const char *id;
    const char *secret;
    int failures;
} worker_t;

static void *verify_worker(void *arg)
{
    worker_t *w = arg;
    for (int i = 0; i < 200; i++)
        if (tk_meta_key_verify(w->m, w->id, w->secret, NULL, NULL))
            w->failures++;
    return NULL;
}

static void test_shared_handle_is_thread_safe(void **state)
{
    fx_t *f = *state;
    tk_key_t k;
    char s[TK_SECRET_LEN + 1];
    assert_int_equal(tk_meta_account_create(f->m, "111", "x", f->err), 0);
    assert_int_equal(tk_meta_key_create(f->m, "111", TK_ROLE_ADMIN, "", &k, s, f->err), 0);
    pthread_t t[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){f->m, k.key_id, s, 0};
        assert_int_equal(pthread_create(&t[i], NULL, verify_worker, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_db_and_private_master_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors_say_what_is_wrong, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrations_run_once_in_order_and_survive_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_failure_rolls_back_and_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_or_swapped_master_key_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_first_open_agrees_on_one_master_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_create_get_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_delete_revokes_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_org_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_format_and_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_create_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_secret_roundtrip_for_sigv4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ciphertext_moved_to_another_key_does_not_decrypt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_never_stored_in_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_list_and_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revocation_by_another_process_takes_effect_immediately, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_used_written_at_most_once_a_minute, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_does_not_wait_for_another_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bootstrap_creates_default_admin_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bootstrap_leaves_existing_accounts_alone, setup, teardown),
        cmocka_unit_test(test_role_names_roundtrip),
        cmocka_unit_test_setup_teardown(test_shared_handle_is_thread_safe, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

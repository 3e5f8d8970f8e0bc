/* Tests for src/http/auth.c: bearer and X-TK-* credentials, and the access
 * policy tk_auth_allow checked as a full matrix: every role x (own account,
 * organization member, management account, outsider) x (read, write, admin),
 * for keys of the management account, of a member and of an outsider. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/fs.h"
#include "base/tk.h"
#include "http/auth.h"
#include "meta/meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MGMT "100000000001"
#define MEMBER "200000000002"
#define OUTSIDER "300000000003"

typedef struct {
    char dir[256];
    tk_meta_t *m;
    char err[TK_ERRLEN];
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/tk-auth-test.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(tk_meta_open(f->dir, &f->m, f->err), 0);
    assert_int_equal(tk_meta_account_create(f->m, MGMT, "management", f->err), 0);
    assert_int_equal(tk_meta_account_create(f->m, MEMBER, "member", f->err), 0);
    assert_int_equal(tk_meta_account_create(f->m, OUTSIDER, "outsider", f->err), 0);
    assert_int_equal(tk_meta_org_create(f->m, "o-abc123", MGMT, f->err), 0);
    assert_int_equal(tk_meta_org_add_member(f->m, MEMBER, f->err), 0);
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

/* ---------------------------------------------------------------- bearer */

static void test_bearer_resolves_key_to_principal(void **state)
{
    fx_t *f = *state;
    tk_key_t k;
    char s[TK_SECRET_LEN + 1], hdr[128];
    assert_int_equal(tk_meta_key_create(f->m, MGMT, TK_ROLE_READER, "", &k, s, f->err), 0);
    snprintf(hdr, sizeof hdr, "Bearer %s:%s", k.key_id, s);
    tk_principal_t p;
    assert_int_equal(tk_auth_bearer(f->m, hdr, NULL, NULL, &p, f->err), 0);
    assert_string_equal(p.key_id, k.key_id);
    assert_string_equal(p.account, MGMT);
    assert_int_equal(p.role, TK_ROLE_READER);
    assert_int_equal(p.is_management, 1);
    /* scheme is case-insensitive, extra blanks tolerated */
    snprintf(hdr, sizeof hdr, "  bearer   %s:%s  ", k.key_id, s);
    assert_int_equal(tk_auth_bearer(f->m, hdr, NULL, NULL, &p, f->err), 0);
    /* the X-TK-* pair */
    memset(&p, 0, sizeof p);
    assert_int_equal(tk_auth_bearer(f->m, NULL, k.key_id, s, &p, f->err), 0);
    assert_string_equal(p.account, MGMT);
    assert_int_equal(tk_auth_bearer(f->m, "", k.key_id, s, &p, f->err), 0);
    /* a member's key is not management */
    assert_int_equal(tk_meta_key_create(f->m, MEMBER, TK_ROLE_WRITER, "", &k, s, f->err), 0);
    assert_int_equal(tk_auth_bearer(f->m, NULL, k.key_id, s, &p, f->err), 0);
    assert_int_equal(p.is_management, 0);
    assert_int_equal(p.role, TK_ROLE_WRITER);
}

static void test_bearer_refusals_name_the_reason_without_the_secret(void **state)
{
    fx_t *f = *state;
    tk_key_t k;
    char s[TK_SECRET_LEN + 1], hdr[160], wrong[TK_SECRET_LEN + 1];
    tk_principal_t p;
    assert_int_equal(tk_meta_key_create(f->m, MEMBER, TK_ROLE_ADMIN, "", &k, s, f->err), 0);
    strcpy(wrong, s);
    wrong[3] = wrong[3] == 'a' ? 'b' : 'a';

    assert_int_equal(tk_auth_bearer(f->m, NULL, NULL, NULL, &p, f->err), TK_EAUTH);
    assert_non_null(strstr(f->err, "no credentials"));
    assert_int_equal(tk_auth_bearer(f->m, "Basic dXNlcjpwYXNz", NULL, NULL, &p, f->err), TK_EAUTH);
    assert_non_null(strstr(f->err, "not a Bearer"));
    assert_int_equal(tk_auth_bearer(f->m, "Bearer", NULL, NULL, &p, f->err), TK_EAUTH);
    assert_int_equal(tk_auth_bearer(f->m, "Bearer nocolon", NULL, NULL, &p, f->err), TK_EAUTH);
    assert_non_null(strstr(f->err, "KEYID:SECRET"));
    assert_int_equal(tk_auth_bearer(f->m, "Bearer :x", NULL, NULL, &p, f->err), TK_EAUTH);
    snprintf(hdr, sizeof hdr, "Bearer %s:", k.key_id);
    assert_int_equal(tk_auth_bearer(f->m, hdr, NULL, NULL, &p, f->err), TK_EAUTH);
    snprintf(hdr, sizeof hdr, "Bearer %s:%s", k.key_id, wrong);
    assert_int_equal(tk_auth_bearer(f->m, hdr, NULL, NULL, &p, f->err), TK_EAUTH);
    assert_non_null(strstr(f->err, "wrong secret"));
    assert_null(strstr(f->err, wrong));
    assert_int_equal(tk_auth_bearer(f->m, NULL, k.key_id, NULL, &p, f->err), TK_EAUTH);
    assert_non_null(strstr(f->err, "X-TK-Secret"));
    snprintf(hdr, sizeof hdr, "Bearer TKAAAAAAAAAAAAAAAAAA:%s", s);
    assert_int_equal(tk_auth_bearer(f->m, hdr, NULL, NULL, &p, f->err), TK_EAUTH);
    assert_non_null(strstr(f->err, "unknown key"));
    assert_int_equal(tk_meta_key_revoke(f->m, k.key_id, f->err), 0);
    assert_int_equal(tk_auth_bearer(f->m, NULL, k.key_id, s, &p, f->err), TK_EAUTH);
    assert_non_null(strstr(f->err, "revoked"));
    /* an overlong credential is refused before any lookup */
    char big[400];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = 0;
    memcpy(big, "Bearer TK", 9);
    big[40] = ':';
    assert_int_equal(tk_auth_bearer(f->m, big, NULL, NULL, &p, f->err), TK_EAUTH);
}

/* ---------------------------------------------------------------- policy */

static tk_principal_t principal(const char *account, tk_role_t role)
{
    tk_principal_t p;
    memset(&p, 0, sizeof p);
    strcpy(p.key_id, "TKTESTTESTTESTTEST00");
    strcpy(p.account, account);
    p.role = role;
    p.is_management = !strcmp(account, MGMT);
    return p;
}

/* Expected answer, written out per case rather than derived from the rule
 * under test: rows are the principal's (account, role), columns the target
 * account x need (read, write, admin). 1 = allowed. */
static const struct {
    const char *who;
    tk_role_t role;
    const char *target;
    int read, write, admin;
} matrix[] = {
    /* management account's keys */
    {MGMT, TK_ROLE_WRITER, MGMT, 0, 1, 0},
    {MGMT, TK_ROLE_WRITER, MEMBER, 0, 0, 0},
    {MGMT, TK_ROLE_WRITER, OUTSIDER, 0, 0, 0},
    {MGMT, TK_ROLE_READER, MGMT, 1, 0, 0},
    {MGMT, TK_ROLE_READER, MEMBER, 1, 0, 0},
    {MGMT, TK_ROLE_READER, OUTSIDER, 0, 0, 0},
    {MGMT, TK_ROLE_ADMIN, MGMT, 1, 1, 1},
    {MGMT, TK_ROLE_ADMIN, MEMBER, 1, 0, 1},
    {MGMT, TK_ROLE_ADMIN, OUTSIDER, 0, 0, 0},
    /* a member's keys: own account only, never the management account's */
    {MEMBER, TK_ROLE_WRITER, MEMBER, 0, 1, 0},
    {MEMBER, TK_ROLE_WRITER, MGMT, 0, 0, 0},
    {MEMBER, TK_ROLE_WRITER, OUTSIDER, 0, 0, 0},
    {MEMBER, TK_ROLE_READER, MEMBER, 1, 0, 0},
    {MEMBER, TK_ROLE_READER, MGMT, 0, 0, 0},
    {MEMBER, TK_ROLE_READER, OUTSIDER, 0, 0, 0},
    {MEMBER, TK_ROLE_ADMIN, MEMBER, 1, 1, 1},
    {MEMBER, TK_ROLE_ADMIN, MGMT, 0, 0, 0},
    {MEMBER, TK_ROLE_ADMIN, OUTSIDER, 0, 0, 0},
    /* an account outside the organization */
    {OUTSIDER, TK_ROLE_WRITER, OUTSIDER, 0, 1, 0},
    {OUTSIDER, TK_ROLE_WRITER, MGMT, 0, 0, 0},
    {OUTSIDER, TK_ROLE_WRITER, MEMBER, 0, 0, 0},
    {OUTSIDER, TK_ROLE_READER, OUTSIDER, 1, 0, 0},
    {OUTSIDER, TK_ROLE_READER, MGMT, 0, 0, 0},
    {OUTSIDER, TK_ROLE_READER, MEMBER, 0, 0, 0},
    {OUTSIDER, TK_ROLE_ADMIN, OUTSIDER, 1, 1, 1},
    {OUTSIDER, TK_ROLE_ADMIN, MGMT, 0, 0, 0},
    {OUTSIDER, TK_ROLE_ADMIN, MEMBER, 0, 0, 0},
};

static void test_allow_matrix(void **state)
{
    fx_t *f = *state;
    for (size_t i = 0; i < TK_ARRAY_LEN(matrix); i++) {
        tk_principal_t p = principal(matrix[i].who, matrix[i].role);
        int want[3] = {matrix[i].read, matrix[i].write, matrix[i].admin};
        tk_role_t need[3] = {TK_ROLE_READER, TK_ROLE_WRITER, TK_ROLE_ADMIN};
        for (int j = 0; j < 3; j++) {
            int got = tk_auth_allow(f->m, &p, matrix[i].target, need[j]);
            if (got != (want[j] ? 0 : TK_EPERM))
                fail_msg("%s %s -> %s need %s: got %d, want %s", matrix[i].who,
                         tk_role_name(matrix[i].role), matrix[i].target, tk_role_name(need[j]),
                         got, want[j] ? "allowed" : "EPERM");
        }
    }
}

static void test_allow_follows_membership_changes_immediately(void **state)
{
    fx_t *f = *state;
    tk_principal_t admin = principal(MGMT, TK_ROLE_ADMIN);
    assert_int_equal(tk_auth_allow(f->m, &admin, MEMBER, TK_ROLE_READER), 0);
    assert_int_equal(tk_meta_org_remove_member(f->m, MEMBER, f->err), 0);
    assert_int_equal(tk_auth_allow(f->m, &admin, MEMBER, TK_ROLE_READER), TK_EPERM);
    assert_int_equal(tk_meta_org_add_member(f->m, OUTSIDER, f->err), 0);
    assert_int_equal(tk_auth_allow(f->m, &admin, OUTSIDER, TK_ROLE_READER), 0);
    /* a stale is_management flag grants nothing once the organization is gone */
    assert_int_equal(tk_meta_org_delete(f->m, f->err), 0);
    assert_int_equal(tk_auth_allow(f->m, &admin, OUTSIDER, TK_ROLE_READER), TK_EPERM);
    assert_int_equal(tk_auth_allow(f->m, &admin, MGMT, TK_ROLE_ADMIN), 0);
}

static void test_allow_fails_closed_on_odd_input(void **state)
{
    fx_t *f = *state;
    tk_principal_t p = principal(MGMT, TK_ROLE_ADMIN);
    assert_int_equal(tk_auth_allow(f->m, NULL, MGMT, TK_ROLE_READER), TK_EPERM);
    assert_int_equal(tk_auth_allow(f->m, &p, NULL, TK_ROLE_READER), TK_EPERM);
    assert_int_equal(tk_auth_allow(f->m, &p, "", TK_ROLE_READER), TK_EPERM);
    assert_int_equal(tk_auth_allow(f->m, &p, MGMT, TK_ROLE_NONE), TK_EPERM);
    assert_int_equal(tk_auth_allow(f->m, &p, MGMT, (tk_role_t)7), TK_EPERM);
    assert_int_equal(tk_auth_allow(NULL, &p, MEMBER, TK_ROLE_READER), TK_EPERM);
    tk_principal_t none = principal(MGMT, TK_ROLE_NONE);
    assert_int_equal(tk_auth_allow(f->m, &none, MGMT, TK_ROLE_READER), TK_EPERM);
    tk_principal_t anon = principal("", TK_ROLE_ADMIN);
    assert_int_equal(tk_auth_allow(f->m, &anon, "", TK_ROLE_READER), TK_EPERM);
    /* an account that does not exist is nobody's member */
    assert_int_equal(tk_auth_allow(f->m, &p, "999999999999", TK_ROLE_READER), TK_EPERM);
}

static void test_bearer_principal_then_allow_end_to_end(void **state)
{
    fx_t *f = *state;
    tk_key_t k;
    char s[TK_SECRET_LEN + 1];
    tk_principal_t p;
    assert_int_equal(tk_meta_key_create(f->m, MGMT, TK_ROLE_READER, "", &k, s, f->err), 0);
    assert_int_equal(tk_auth_bearer(f->m, NULL, k.key_id, s, &p, f->err), 0);
    assert_int_equal(tk_auth_allow(f->m, &p, MEMBER, TK_ROLE_READER), 0);
    assert_int_equal(tk_auth_allow(f->m, &p, OUTSIDER, TK_ROLE_READER), TK_EPERM);
    assert_int_equal(tk_auth_allow(f->m, &p, MEMBER, TK_ROLE_WRITER), TK_EPERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bearer_resolves_key_to_principal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bearer_refusals_name_the_reason_without_the_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allow_matrix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allow_follows_membership_changes_immediately, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allow_fails_closed_on_odd_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bearer_principal_then_allow_end_to_end, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

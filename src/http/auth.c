/* trailkeep API authentication (bearer keys) and the one authorisation rule
 * every route applies (tk_auth_allow). Fail closed: any doubt, including a
 * database error, answers "not allowed". SigV4 lives in sigv4.c. */
#include "http/auth.h"
#include "http/auth_internal.h"

#include "base/tk.h"

#include <string.h>
#include <strings.h>

void tk_auth_principal_from_key(tk_meta_t *m, const tk_key_t *k, tk_principal_t *p)
{
    memset(p, 0, sizeof *p);
    memcpy(p->key_id, k->key_id, sizeof p->key_id);
    memcpy(p->account, k->account, sizeof p->account);
    p->role = k->role;
    char org[64], mgmt[64];
    p->is_management = tk_meta_org_get(m, org, mgmt, NULL) == 0 && !strcmp(mgmt, k->account);
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

int tk_auth_bearer(tk_meta_t *m, const char *authorization, const char *x_key_id,
                   const char *x_secret, tk_principal_t *out, char *err)
{
    char key_id[64], secret[128];
    if (authorization && *authorization) {
        const char *a = skip_ws(authorization);
        if (strncasecmp(a, "Bearer", 6) || (a[6] != ' ' && a[6] != '\t'))
            return tk_errf(err, TK_EAUTH,
                           "Authorization is not a Bearer credential: send "
                           "'Authorization: Bearer KEYID:SECRET'");
        a = skip_ws(a + 6);
        const char *colon = strchr(a, ':');
        if (!colon)
            return tk_errf(err, TK_EAUTH,
                           "malformed Bearer credential: expected 'Bearer KEYID:SECRET'");
        size_t kl = (size_t)(colon - a);
        const char *s = colon + 1;
        size_t sl = strlen(s);
        while (sl && (s[sl - 1] == ' ' || s[sl - 1] == '\t' || s[sl - 1] == '\r'))
            sl--;
        if (kl == 0 || kl >= sizeof key_id || sl == 0 || sl >= sizeof secret)
            return tk_errf(err, TK_EAUTH,
                           "malformed Bearer credential: expected 'Bearer KEYID:SECRET'");
        memcpy(key_id, a, kl);
        key_id[kl] = 0;
        memcpy(secret, s, sl);
        secret[sl] = 0;
    } else if (x_key_id && *x_key_id) {
        if (!x_secret || !*x_secret)
            return tk_errf(err, TK_EAUTH, "X-TK-Key-Id given without X-TK-Secret");
        if (strlen(x_key_id) >= sizeof key_id || strlen(x_secret) >= sizeof secret)
            return tk_errf(err, TK_EAUTH, "X-TK-Key-Id or X-TK-Secret is too long");
        strcpy(key_id, x_key_id);
        strcpy(secret, x_secret);
    } else {
        return tk_errf(err, TK_EAUTH,
                       "no credentials: send 'Authorization: Bearer KEYID:SECRET' (or X-TK-Key-Id "
                       "and X-TK-Secret); create a key with trailkeep keys create");
    }
    tk_key_t k;
    int rc = tk_meta_key_verify(m, key_id, secret, &k, err);
    memset(secret, 0, sizeof secret);
    if (rc)
        return rc; /* TK_EAUTH, or a database error (EBUSY/EIO: answer 503, not 401) */
    tk_auth_principal_from_key(m, &k, out);
    return 0;
}

/* The whole access policy, in one place:
 *   own account:     writer -> write;  reader -> read;  admin -> read, write, admin
 *   member account:  the management account's reader -> read;
 *                    its admin -> read, admin (never write: a management
 *                    account must not be able to forge a member's trail)
 *   anything else:   no. */
int tk_auth_allow(tk_meta_t *m, const tk_principal_t *p, const char *account, tk_role_t need)
{
    if (!p || !account || !*account || !p->account[0])
        return TK_EPERM;
    if (need < TK_ROLE_WRITER || need > TK_ROLE_ADMIN)
        return TK_EPERM;
    if (p->role < TK_ROLE_WRITER || p->role > TK_ROLE_ADMIN)
        return TK_EPERM;
    if (!strcmp(p->account, account)) {
        if (p->role == TK_ROLE_ADMIN)
            return 0;
        return p->role == need ? 0 : TK_EPERM;
    }
    if (need == TK_ROLE_WRITER || p->role == TK_ROLE_WRITER)
        return TK_EPERM;
    if (need == TK_ROLE_ADMIN && p->role != TK_ROLE_ADMIN)
        return TK_EPERM;
    /* Checked against the database, not p->is_management, so removing a
     * member (or the organization) takes effect on the next request. */
    return m && tk_meta_org_can_see(m, p->account, account) ? 0 : TK_EPERM;
}

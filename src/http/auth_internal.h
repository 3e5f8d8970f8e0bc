/* trailkeep auth internals shared by auth.c (bearer, policy) and sigv4.c. */
#ifndef TK_HTTP_AUTH_INTERNAL_H
#define TK_HTTP_AUTH_INTERNAL_H

#include "http/auth.h"

/* Fills p from a verified key; is_management is read from the organization
 * now (informational: tk_auth_allow re-checks the database itself). */
void tk_auth_principal_from_key(tk_meta_t *m, const tk_key_t *k, tk_principal_t *p);

#endif

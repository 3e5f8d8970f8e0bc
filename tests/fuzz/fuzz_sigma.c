/* libFuzzer target: Sigma rules (src/alert/sigma.c, YAML via libyaml).
 * A rule loads (0), is refused as unsupported (TK_EUNSUPPORTED) or as
 * malformed (TK_EINVAL), always with a message; a loaded rule passes the
 * checks of fuzz_rules.h (accessors, evaluation, snapshot round trip). */
#include "fuzz_rules.h"

#include <stdint.h>

typedef struct {
    const uint8_t *p;
    size_t n;
} src_t;

static int again(void *ud, tk_rule_t **out)
{
    src_t *s = ud;
    char err[TK_ERRLEN];
    return tk_rule_from_sigma((const char *)s->p, s->n, "fuzz.yml", out, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tk_rule_t *r = NULL;
    char err[TK_ERRLEN] = "";
    int rc = tk_rule_from_sigma((const char *)data, size, "fuzz.yml", &r, err);
    FZ_ASSERT(rc == 0 || rc == TK_EINVAL || rc == TK_EUNSUPPORTED || rc == TK_ETOOBIG, "rc %d: %s", rc, err);
    if (rc) {
        FZ_ASSERT(!r && err[0], "failure without a message (rc %d)", rc);
        return 0;
    }
    src_t s = {data, size};
    fz_check_rule(r, again, &s);
    return 0;
}

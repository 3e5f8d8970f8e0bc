/* libFuzzer target: alert rule JSON (src/alert/rule.c, ops.c, hours.c via
 * tk_rule_from_json). The result is 0 or TK_EINVAL with a message; a rule
 * that compiles has sane accessors, evaluates the canned events without
 * error (fires never exceed matches, counts reach the threshold) and its
 * engine state survives a snapshot round trip (fuzz_rules.h). */
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
    return tk_rule_from_json((const char *)s->p, s->n, out, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tk_rule_t *r = NULL;
    char err[TK_ERRLEN] = "";
    int rc = tk_rule_from_json((const char *)data, size, &r, err);
    FZ_ASSERT(rc == 0 || rc == TK_EINVAL || rc == TK_ETOOBIG, "rc %d: %s", rc, err);
    if (rc) {
        FZ_ASSERT(!r && err[0], "failure without a message (rc %d)", rc);
        return 0;
    }
    src_t s = {data, size};
    fz_check_rule(r, again, &s);
    return 0;
}

/* libFuzzer target: alert templates (src/alert/templates.c). The first
 * byte picks a template; the rest gives its parameter values ('\n'
 * between them) or, with the high bit set, a whole spec "NAME?k=v&..."
 * for tk_template_compile. Invariants: whatever the values, a template's
 * rule JSON is one well-formed JSON object whose "id" is the template's own
 * (a value can never inject JSON); it compiles or is refused with a
 * message; compiled rules pass the checks of fuzz_rules.h. */
#include "fuzz_rules.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *json, *spec;
} src_t;

static int again(void *ud, tk_rule_t **out)
{
    src_t *s = ud;
    char err[TK_ERRLEN];
    if (s->spec)
        return tk_template_compile(s->spec, out, err);
    return tk_rule_from_json(s->json, strlen(s->json), out, err);
}

static char *id_of(const char *json)
{
    cJSON *j = cJSON_ParseWithOpts(json, NULL, 1);
    FZ_ASSERT(cJSON_IsObject(j), "template JSON is not one JSON object: %s", json);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    FZ_ASSERT(cJSON_IsString(id), "template JSON has no string id: %s", json);
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, j) n += !strcmp(it->string, "id");
    FZ_ASSERT(n == 1, "template JSON has %d ids: %s", n, json);
    char *s = strdup(id->valuestring);
    cJSON_Delete(j);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t nt;
    const tk_template_t *all = tk_templates(&nt);
    const tk_template_t *t = &all[(data[0] & 0x7f) % nt];
    size_t np = 0;
    while (t->params[np].name)
        np++;
    char err[TK_ERRLEN] = "";
    if (data[0] & 0x80) {
        size_t nl = strlen(t->name);
        char *spec = malloc(nl + size + 1);
        memcpy(spec, t->name, nl);
        memcpy(spec + nl, data + 1, size - 1);
        spec[nl + size - 1] = 0;
        tk_rule_t *r = NULL;
        int rc = tk_template_compile(spec, &r, err);
        FZ_ASSERT(rc == 0 || rc == TK_EINVAL || rc == TK_ENOTFOUND, "spec '%s': rc %d (%s)", spec, rc, err);
        if (rc == 0) {
            if (!strchr(spec, '?'))
                FZ_ASSERT(tk_rule_id(r)[0], "spec '%s' compiled without an id", spec);
            src_t s = {NULL, spec};
            fz_check_rule(r, again, &s);
        } else {
            FZ_ASSERT(!r && err[0], "refused without a message");
        }
        free(spec);
        return 0;
    }
    const char **vals = calloc(np + 1, sizeof *vals);
    char **owned = calloc(np + 1, sizeof *owned);
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    for (size_t i = 0; i < np; i++) {
        if (n) {
            fz_split(&p, &n, '\n', &owned[i]);
            vals[i] = owned[i];
        } else {
            vals[i] = t->params[i].def;
        }
    }
    const char **defs = calloc(np + 1, sizeof *defs);
    for (size_t i = 0; i < np; i++)
        defs[i] = t->params[i].def;
    char *dj = t->build(defs, err);
    FZ_ASSERT(dj, "template %s fails with its defaults: %s", t->name, err);
    char *want_id = id_of(dj);
    free(dj);
    char *json = t->build(vals, err);
    if (!json) {
        FZ_ASSERT(err[0], "template %s refused values without a message", t->name);
    } else {
        char *id = id_of(json);
        FZ_ASSERT(!strcmp(id, want_id), "template %s: id '%s' became '%s'", t->name, want_id, id);
        free(id);
        tk_rule_t *r = NULL;
        int rc = tk_rule_from_json(json, strlen(json), &r, err);
        FZ_ASSERT(rc == 0 || rc == TK_EINVAL, "template %s: rule rc %d (%s)", t->name, rc, err);
        if (rc == 0) {
            src_t s = {json, NULL};
            fz_check_rule(r, again, &s);
        }
        free(json);
    }
    free(want_id);
    for (size_t i = 0; i < np; i++)
        free(owned[i]);
    free(owned);
    free(vals);
    free(defs);
    return 0;
}

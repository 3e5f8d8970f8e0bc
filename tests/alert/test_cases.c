/* Rule tests as data (STYLE.md: jq's tests/jq.test): tests/alert/cases.json
 * holds cases of a rule (JSON rule, template spec or Sigma YAML), events,
 * and the indexes of the events that must raise an alert; this runner checks
 * each, so adding a case needs no C. Events are evaluated in order by one
 * engine per case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "alert/rule.h"
#include "base/tk.h"

static char *cases_path(void)
{
    const char *root = getenv("TK_ROOT");
    char *p = malloc(4096);
    if (root && *root) {
        snprintf(p, 4096, "%s/tests/alert/cases.json", root);
    } else {
        /* beside this source file */
        snprintf(p, 4096, "%s", __FILE__);
        char *slash = strrchr(p, '/');
        snprintf(slash ? slash + 1 : p, 4096 - (size_t)(slash ? slash + 1 - p : 0), "cases.json");
    }
    return p;
}

typedef struct run {
    int idx;
    char got[256];
} run_t;

static void on_fire(void *ctx, const tk_alert_hit_t *h)
{
    run_t *r = ctx;
    if (h->kind == TK_ALERT_FIRE)
        snprintf(r->got + strlen(r->got), sizeof r->got - strlen(r->got), "%s%d", r->got[0] ? "," : "", r->idx);
}

static void test_every_case_alerts_on_exactly_its_listed_events(void **s)
{
    (void)s;
    char *path = cases_path();
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (set TK_ROOT)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *text = malloc((size_t)n + 1);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    text[n] = 0;
    fclose(f);
    cJSON *cases = cJSON_Parse(text);
    if (!cJSON_IsArray(cases))
        fail_msg("%s is not a JSON array", path);
    int count = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(c, "name"));
        const cJSON *rule = cJSON_GetObjectItem(c, "rule");
        const char *tmpl = cJSON_GetStringValue(cJSON_GetObjectItem(c, "template"));
        const char *sigma = cJSON_GetStringValue(cJSON_GetObjectItem(c, "sigma"));
        char err[TK_ERRLEN];
        tk_rule_t *r = NULL;
        int rc = TK_EINVAL;
        if (rule) {
            char *j = cJSON_PrintUnformatted(rule);
            rc = tk_rule_from_json(j, strlen(j), &r, err);
            free(j);
        } else if (tmpl) {
            rc = tk_template_compile(tmpl, &r, err);
        } else if (sigma) {
            rc = tk_rule_from_sigma(sigma, strlen(sigma), name, &r, err);
        } else {
            fail_msg("case '%s' has no rule, template or sigma", name ? name : "?");
        }
        if (rc)
            fail_msg("case '%s': rule refused: %s", name, err);
        tk_alert_engine_t *e;
        assert_int_equal(tk_alert_engine_create(NULL, &e, err), 0);
        assert_int_equal(tk_alert_engine_add(e, r, err), 0);
        run_t run = {0};
        const cJSON *ev;
        cJSON_ArrayForEach(ev, cJSON_GetObjectItem(c, "events"))
        {
            char *j = cJSON_PrintUnformatted(ev);
            if (tk_alert_engine_eval(e, "acct", 4, j, strlen(j), 0, on_fire, &run, err))
                fail_msg("case '%s' event %d: %s", name, run.idx, err);
            free(j);
            run.idx++;
        }
        char want[256] = "";
        const cJSON *a;
        cJSON_ArrayForEach(a, cJSON_GetObjectItem(c, "alerts"))
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", want[0] ? "," : "", a->valueint);
        if (strcmp(want, run.got))
            fail_msg("case '%s': alerts on events [%s], expected [%s]", name, run.got, want);
        printf("# ok case: %s\n", name);
        tk_alert_engine_destroy(e);
        count++;
    }
    assert_true(count >= 8);
    cJSON_Delete(cases);
    free(text);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_case_alerts_on_exactly_its_listed_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

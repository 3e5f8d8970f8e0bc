/* Tests of the Sigma loader: every shared SigmaHQ CloudTrail rule loads or is
 * refused with the construct named; the labelled Stratus Red Team captures
 * fire the rules written for their technique (and only those); hand-made
 * rules and events cover each modifier, condition form and refusal. */
#include <dirent.h>
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

static const char *shared(void)
{
    const char *s = getenv("TK_SHARED");
    return s && *s ? s : "/work/shared";
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long l = ftell(f);
    rewind(f);
    char *b = malloc((size_t)l + 1);
    *n = fread(b, 1, (size_t)l, f);
    b[*n] = 0;
    fclose(f);
    return b;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads every .yml of dir (sorted); adds loaded rules to e when e != NULL. */
static void load_dir(const char *dir, tk_alert_engine_t *e, int *loaded, int *refused, char *refusals,
                     size_t cap)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *names[256];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 256) {
        size_t l = strlen(de->d_name);
        if (l > 4 && !strcmp(de->d_name + l - 4, ".yml"))
            names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof(char *), cmp_str);
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        size_t len;
        char *y = slurp(path, &len);
        assert_non_null(y);
        tk_rule_t *r = NULL;
        char err[TK_ERRLEN];
        int rc = tk_rule_from_sigma(y, len, names[i], &r, err);
        if (rc == 0) {
            (*loaded)++;
            if (e)
                assert_int_equal(tk_alert_engine_add(e, r, err), 0);
            else
                tk_rule_destroy(r);
        } else {
            (*refused)++;
            if (refusals) {
                printf("# refused %s: %s\n", names[i], err);
                snprintf(refusals + strlen(refusals), cap - strlen(refusals), "%s: %s\n", names[i], err);
            }
            assert_int_equal(rc, TK_EUNSUPPORTED);
        }
        free(y);
        free(names[i]);
    }
}

static void test_every_shared_cloudtrail_rule_loads_and_unsupported_ones_are_refused_by_name(void **s)
{
    (void)s;
    char dir[512], refusals[2048] = "";
    int loaded = 0, refused = 0;
    snprintf(dir, sizeof dir, "%s/sigma/rules/cloudtrail", shared());
    load_dir(dir, NULL, &loaded, &refused, refusals, sizeof refusals);
    printf("# sigma/rules/cloudtrail: %d loaded, %d refused\n", loaded, refused);
    assert_int_equal(loaded, 57);
    assert_int_equal(refused, 0);
    loaded = refused = 0;
    snprintf(dir, sizeof dir, "%s/sigma/unsupported", shared());
    load_dir(dir, NULL, &loaded, &refused, refusals, sizeof refusals);
    printf("# sigma/unsupported: %d loaded (count() thresholds), %d refused\n", loaded, refused);
    assert_int_equal(loaded, 7);
    assert_int_equal(refused, 1);
    assert_non_null(strstr(refusals, "aws_lambda_function_created_or_invoked.yml: condition 'near' (temporal correlation) is not supported"));
}

/* ---- Stratus Red Team captures ---- */

typedef struct fired {
    char ids[32][64];
    int n;
    int total;
} fired_t;

static void on_fire(void *ctx, const tk_alert_hit_t *h)
{
    fired_t *f = ctx;
    if (h->kind != TK_ALERT_FIRE)
        return;
    f->total++;
    const char *id = tk_rule_id(h->rule) + strlen("sigma:");
    for (int i = 0; i < f->n; i++)
        if (!strncmp(f->ids[i], id, 8))
            return;
    if (f->n < 32)
        snprintf(f->ids[f->n++], 64, "%.8s", id);
}

static void run_capture(tk_alert_engine_t *e, const char *file, fired_t *f)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/datasets/stratus-detonation-logs/%s", shared(), file);
    size_t n;
    char *b = slurp(path, &n);
    if (!b)
        fail_msg("cannot read %s", path);
    cJSON *arr = cJSON_Parse(b);
    assert_non_null(arr);
    const cJSON *it;
    char err[TK_ERRLEN];
    cJSON_ArrayForEach(it, arr)
    {
        char *ev = cJSON_PrintUnformatted(it);
        assert_int_equal(tk_alert_engine_eval(e, NULL, 0, ev, strlen(ev), 0, on_fire, f, err), 0);
        free(ev);
    }
    cJSON_Delete(arr);
    free(b);
}

static int has(const fired_t *f, const char *id8)
{
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->ids[i], id8))
            return 1;
    return 0;
}

static void test_stratus_captures_fire_the_rules_written_for_their_technique(void **s)
{
    (void)s;
    /* the rule ids (first 8 hex digits) a SigmaHQ author wrote for each technique */
    static const struct {
        const char *file;
        const char *expect[3]; /* exactly these rules fire (besides the generic AssumeRole one) */
    } cases[] = {
        {"aws.defense-evasion.cloudtrail-stop.json", {"4db60cc0"}},        /* CloudTrail Important Change */
        {"aws.defense-evasion.cloudtrail-delete.json", {"4db60cc0"}},
        {"aws.defense-evasion.vpc-remove-flow-logs.json", {"e386b9b5"}},   /* VPC Flow Logs Deleted */
        {"aws.initial-access.console-login-without-mfa.json", {"77caf516"}},
        {"aws.exfiltration.ec2-security-group-open-port-22-ingress.json", {"6fb77778"}},
        {"aws.exfiltration.ec2-share-ebs-snapshot.json", {"abae8fec"}},    /* Snapshot Backup Exfiltration */
        {"aws.execution.ssm-send-command.json", {"38e7f511"}},             /* SendCommand, errorCode null */
        {"aws.persistence.iam-backdoor-user.json", {"0a5177f4"}},          /* IAM Backdoor Users Keys */
        {"aws.persistence.lambda-layer-extension.json", {"97fbabf8"}},
        {"aws.privilege-escalation.iam-update-user-login-profile.json", {"055fb148"}}, /* fieldref */
        {"aws.discovery.ec2-download-user-data.json", {"26ff4080"}},       /* count() > 10 in 30m: 15 calls */
        {"aws.credential-access.ec2-get-password-data.json", {"76255e09"}}, /* count() > 5 in 10m */
        /* no SigmaHQ rule covers these: nothing specific may fire */
        {"aws.defense-evasion.cloudtrail-event-selectors.json", {NULL}},
        {"aws.credential-access.secretsmanager-retrieve-secrets.json", {NULL}},
        {"aws.persistence.iam-backdoor-role.json", {NULL}},
        /* aws_ec2_startup_script_change wants requestParameters.attribute=userData; this
         * capture sets requestParameters.userData directly, so the rule, evaluated
         * faithfully, does not match */
        {"aws.execution.ec2-user-data.json", {NULL}},
    };
    for (size_t i = 0; i < TK_ARRAY_LEN(cases); i++) {
        char err[TK_ERRLEN], dir[512];
        tk_alert_engine_t *e;
        assert_int_equal(tk_alert_engine_create(NULL, &e, err), 0);
        int loaded = 0, refused = 0;
        snprintf(dir, sizeof dir, "%s/sigma/rules/cloudtrail", shared());
        load_dir(dir, e, &loaded, &refused, NULL, 0);
        snprintf(dir, sizeof dir, "%s/sigma/unsupported", shared());
        load_dir(dir, e, &loaded, &refused, NULL, 0);
        fired_t f = {0};
        run_capture(e, cases[i].file, &f);
        int want = 0;
        for (int k = 0; k < 3 && cases[i].expect[k]; k++, want++)
            if (!has(&f, cases[i].expect[k]))
                fail_msg("%s: rule %s did not fire", cases[i].file, cases[i].expect[k]);
        /* 905d389b (STS AssumeRole Misuse) matches any role session: allowed anywhere */
        int other = f.n - want - has(&f, "905d389b");
        if (other != 0)
            fail_msg("%s: %d unexpected rules fired (first: %s)", cases[i].file, other, f.ids[0]);
        tk_alert_engine_destroy(e);
    }
}

static void test_stratus_events_stored_as_canonical_with_the_original_still_match(void **s)
{
    (void)s;
    /* the shape fmt_cloudtrail stores: mapped names outside, original inside */
    char path[1024];
    snprintf(path, sizeof path, "%s/sigma/rules/cloudtrail/aws_cloudtrail_disable_logging.yml", shared());
    size_t n;
    char *y = slurp(path, &n);
    assert_non_null(y);
    tk_rule_t *r;
    char err[TK_ERRLEN];
    assert_int_equal(tk_rule_from_sigma(y, n, "x", &r, err), 0);
    free(y);
    tk_alert_engine_t *e;
    assert_int_equal(tk_alert_engine_create(NULL, &e, err), 0);
    assert_int_equal(tk_alert_engine_add(e, r, err), 0);
    const char *stored = "{\"eventId\":\"1\",\"eventName\":\"StopLogging\",\"eventSource\":\"actiontrail.aliyuncs.com\","
                         "\"cloudTrailRecord\":{\"eventName\":\"StopLogging\",\"eventSource\":\"cloudtrail.amazonaws.com\"}}";
    const char *alibaba = "{\"eventId\":\"1\",\"eventName\":\"StopLogging\",\"eventSource\":\"actiontrail.aliyuncs.com\"}";
    fired_t f = {0};
    assert_int_equal(tk_alert_engine_eval(e, "a", 1, stored, strlen(stored), 1, on_fire, &f, err), 0);
    assert_int_equal(f.total, 1);
    assert_int_equal(tk_alert_engine_eval(e, "a", 1, alibaba, strlen(alibaba), 1, on_fire, &f, err), 0);
    assert_int_equal(f.total, 1);
    tk_alert_engine_destroy(e);
}

/* ---- hand-made rules ---- */

static int sigma_fires(const char *detection, const char *ev)
{
    char y[4096], err[TK_ERRLEN];
    snprintf(y, sizeof y, "title: t\nid: test-rule\nlevel: high\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n%s", detection);
    tk_rule_t *r = NULL;
    int rc = tk_rule_from_sigma(y, strlen(y), "t", &r, err);
    if (rc)
        fail_msg("rule refused: %s", err);
    tk_alert_engine_t *e;
    assert_int_equal(tk_alert_engine_create(NULL, &e, err), 0);
    assert_int_equal(tk_alert_engine_add(e, r, err), 0);
    fired_t f = {0};
    assert_int_equal(tk_alert_engine_eval(e, "a", 1, ev, strlen(ev), 1, on_fire, &f, err), 0);
    tk_alert_engine_destroy(e);
    return f.total;
}

static int sigma_refused(const char *yaml_body, char *err)
{
    tk_rule_t *r = NULL;
    int rc = tk_rule_from_sigma(yaml_body, strlen(yaml_body), "t", &r, err);
    assert_null(r);
    return rc;
}

static const char *E1 =
    "{\"eventName\":\"PutUserPolicy\",\"eventSource\":\"iam.amazonaws.com\",\"userAgent\":\"S3 Browser 9.1\","
    "\"sourceIPAddress\":\"10.2.3.4\",\"errorCode\":null,\"userIdentity\":{\"type\":\"IAMUser\",\"userName\":\"bob\",\"arn\":\"arn:aws:iam::1:user/bob\"},"
    "\"requestParameters\":{\"userName\":\"bob\",\"policyDocument\":\"{\\\"Effect\\\":\\\"Allow\\\",\\\"Action\\\":\\\"s3:GetObject\\\"}\",\"note\":\"aGVsbG8gd29ybGQ=\"}}";

static void test_sigma_strings_match_case_insensitively_with_wildcards(void **s)
{
    (void)s;
    assert_int_equal(sigma_fires("  sel:\n    eventName: putuserpolicy\n  condition: sel\n", E1), 1);
    assert_int_equal(sigma_fires("  sel:\n    eventName|cased: putuserpolicy\n  condition: sel\n", E1), 0);
    assert_int_equal(sigma_fires("  sel:\n    eventName: 'Put*Policy'\n  condition: sel\n", E1), 1);
    assert_int_equal(sigma_fires("  sel:\n    eventName: 'Put?ser*'\n  condition: sel\n", E1), 1);
    assert_int_equal(sigma_fires("  sel:\n    eventName: 'Get*'\n  condition: sel\n", E1), 0);
    assert_int_equal(sigma_fires("  sel:\n    userAgent|contains: 's3 browser'\n  condition: sel\n", E1), 1);
    assert_int_equal(sigma_fires("  sel:\n    userAgent|startswith: 'S3 B'\n  condition: sel\n", E1), 1);
    assert_int_equal(sigma_fires("  sel:\n    userAgent|endswith: '9.2'\n  condition: sel\n", E1), 0);
    assert_int_equal(sigma_fires("  sel:\n    userAgent|contains: 'Brow*9'\n  condition: sel\n", E1), 1);
    assert_int_equal(sigma_fires("  sel:\n    eventName:\n      - A\n      - PutUserPolicy\n  condition: sel\n", E1), 1);
}

static void test_sigma_modifiers_all_re_cidr_exists_base64_fieldref_null(void **s)
{
    (void)s;
    /* |all over a value list; an object field searched as its JSON text */
    assert_int_equal(sigma_fires("  sel:\n    requestParameters|contains|all:\n      - 's3:GetObject'\n      - 'Allow'\n  condition: sel\n", E1), 1);
    assert_int_equal(sigma_fires("  sel:\n    requestParameters|contains|all:\n      - 's3:GetObject'\n      - 'Deny'\n  condition: sel\n", E1), 0);
    assert_int_equal(sigma_fires("  sel:\n    userIdentity.arn|re: ':user/b.b$'\n  condition: sel\n", E1), 1);
    assert_int_equal(sigma_fires("  sel:\n    userIdentity.arn|re: ':USER/'\n  condition: sel\n", E1), 0);
    assert_int_equal(sigma_fires("  sel:\n    userIdentity.arn|re|i: ':USER/'\n  condition: sel\n", E1), 1);
    assert_int_equal(sigma_fires("  sel:\n    sourceIPAddress|cidr: 10.0.0.0/8\n  condition: sel\n", E1), 1);
    assert_int_equal(sigma_fires("  sel:\n    sourceIPAddress|cidr:\n      - 192.168.0.0/16\n      - 2001:db8::/32\n  condition: sel\n", E1), 0);
    assert_int_equal(sigma_fires("  sel:\n    userIdentity.userName|exists: true\n  condition: sel\n", E1), 1);
    assert_int_equal(sigma_fires("  sel:\n    userIdentity.sessionContext|exists: false\n  condition: sel\n", E1), 1);
    assert_int_equal(sigma_fires("  sel:\n    requestParameters.note|base64: 'hello world'\n  condition: sel\n", E1), 1);
    assert_int_equal(sigma_fires("  sel:\n    requestParameters.note|base64: 'hello'\n  condition: sel\n", E1), 0);
    assert_int_equal(sigma_fires("  sel:\n    userIdentity.userName|fieldref: requestParameters.userName\n  condition: sel\n", E1), 1);
    assert_int_equal(sigma_fires("  sel:\n    userIdentity.arn|fieldref: requestParameters.userName\n  condition: sel\n", E1), 0);
    assert_int_equal(sigma_fires("  sel:\n    errorCode: null\n  condition: sel\n", E1), 1);
    assert_int_equal(sigma_fires("  sel:\n    errorMessage: null\n  condition: sel\n", E1), 1);
    assert_int_equal(sigma_fires("  sel:\n    eventName: null\n  condition: sel\n", E1), 0);
    /* a quoted 'null' is the string, not YAML null */
    assert_int_equal(sigma_fires("  sel:\n    errorCode: 'null'\n  condition: sel\n", E1), 0);
}

static void test_sigma_conditions_and_or_not_parentheses_and_quantifiers(void **s)
{
    (void)s;
    const char *sels = "  sel_a:\n    eventName: PutUserPolicy\n  sel_b:\n    eventSource: s3.amazonaws.com\n"
                       "  filter_x:\n    userIdentity.type: Root\n";
    char d[1024];
    struct {
        const char *cond;
        int fires;
    } cases[] = {
        {"sel_a and not filter_x", 1},
        {"sel_a and sel_b", 0},
        {"sel_a or sel_b", 1},
        {"not (sel_a or sel_b)", 0},
        {"(sel_b or sel_a) and not filter_x", 1},
        {"1 of sel_*", 1},
        {"all of sel_*", 0},
        {"1 of them", 1},
        {"all of them", 0},
        {"any of sel_*", 1},
        {"not 1 of filter*", 1},
        {"sel_b or not sel_a and filter_x", 0},
    };
    for (size_t i = 0; i < TK_ARRAY_LEN(cases); i++) {
        snprintf(d, sizeof d, "%s  condition: %s\n", sels, cases[i].cond);
        int got = sigma_fires(d, E1);
        if (got != cases[i].fires)
            fail_msg("condition '%s': expected %d, got %d", cases[i].cond, cases[i].fires, got);
    }
    /* a selection that is a list of maps is an OR of them; a condition list is an OR */
    assert_int_equal(sigma_fires("  sel:\n    - eventName: X\n    - userIdentity.userName: bob\n  condition: sel\n", E1), 1);
    assert_int_equal(sigma_fires("  sel:\n    - eventName: X\n    - userIdentity.userName: eve\n  condition: sel\n", E1), 0);
    assert_int_equal(sigma_fires("  a:\n    eventName: X\n  b:\n    eventName: PutUserPolicy\n  condition:\n    - a\n    - b\n", E1), 1);
}

static void test_sigma_count_by_becomes_a_grouped_threshold(void **s)
{
    (void)s;
    const char *y = "title: spray\nid: cnt\nlogsource:\n  product: aws\n  service: cloudtrail\n"
                    "detection:\n  sel:\n    eventName: ConsoleLogin\n  timeframe: 5m\n  condition: sel | count() by sourceIPAddress > 2\n";
    tk_rule_t *r;
    char err[TK_ERRLEN];
    assert_int_equal(tk_rule_from_sigma(y, strlen(y), "t", &r, err), 0);
    assert_int_equal(tk_rule_threshold(r), 3);
    assert_int_equal(tk_rule_window_ms(r), 300000);
    tk_alert_engine_t *e;
    assert_int_equal(tk_alert_engine_create(NULL, &e, err), 0);
    assert_int_equal(tk_alert_engine_add(e, r, err), 0);
    const char *a = "{\"eventName\":\"ConsoleLogin\",\"sourceIPAddress\":\"1.1.1.1\"}";
    const char *b = "{\"eventName\":\"ConsoleLogin\",\"sourceIPAddress\":\"2.2.2.2\"}";
    fired_t f = {0};
    int64_t t = 1700000000000LL;
    const char *seq[] = {a, b, a, b, a};
    for (int i = 0; i < 4; i++)
        assert_int_equal(tk_alert_engine_eval(e, "x", 1, seq[i], strlen(seq[i]), t + i * 1000, on_fire, &f, err), 0);
    assert_int_equal(f.total, 0);
    assert_int_equal(tk_alert_engine_eval(e, "x", 1, a, strlen(a), t + 4000, on_fire, &f, err), 0);
    assert_int_equal(f.total, 1);
    /* an event outside the 5 minute window starts over */
    assert_int_equal(tk_alert_engine_eval(e, "x", 1, b, strlen(b), t + 400000, on_fire, &f, err), 0);
    assert_int_equal(f.total, 1);
    tk_alert_engine_destroy(e);
}

static void test_sigma_unsupported_constructs_refuse_the_whole_rule(void **s)
{
    (void)s;
    char err[TK_ERRLEN];
#define HDR "title: t\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n"
    struct {
        const char *yaml;
        int rc;
        const char *msg;
    } cases[] = {
        {HDR "  kw:\n    - 'evil'\n  condition: kw\n", TK_EUNSUPPORTED, "keyword"},
        {HDR "  sel:\n    CommandLine|windash: '-x'\n  condition: sel\n", TK_EUNSUPPORTED, "modifier 'windash'"},
        {HDR "  sel:\n    a|base64offset|contains: 'x'\n  condition: sel\n", TK_EUNSUPPORTED, "modifier 'base64offset'"},
        {HDR "  a:\n    eventName: X\n  b:\n    eventName: Y\n  condition: a | near b\n", TK_EUNSUPPORTED, "'near'"},
        {HDR "  a:\n    eventName: X\n  timeframe: 5m\n  condition: a | count() < 3\n", TK_EUNSUPPORTED, "count() < N"},
        {HDR "  a:\n    eventName: X\n  condition: a | count() > 3\n", TK_EUNSUPPORTED, "without a timeframe"},
        {HDR "  a:\n    eventName: X\n  timeframe: 5m\n  condition: a | max(x) > 3\n", TK_EUNSUPPORTED, "aggregation 'max"},
        {HDR "  a:\n    eventName: X\n  b:\n    eventName: Y\n  condition: 2 of a*\n", TK_EUNSUPPORTED, "'2 of ...'"},
        {"title: t\nlogsource:\n  product: windows\n  service: security\ndetection:\n  a:\n    EventID: 4625\n  condition: a\n", TK_EUNSUPPORTED, "logsource product 'windows'"},
        {"title: t\ncorrelation:\n  type: event_count\n", TK_EUNSUPPORTED, "correlation"},
        {HDR "  a:\n    eventName: X\n  condition: a\n---\ntitle: t2\n", TK_EUNSUPPORTED, "multi-document"},
        {HDR "  a:\n    eventName: X\n  condition: b\n", TK_EINVAL, "'b', which is not a selection"},
        {HDR "  a:\n    eventName: X\n  condition: (a\n", TK_EINVAL, "missing ')'"},
        {HDR "  a:\n    eventName: [X\n  condition: a\n", TK_EINVAL, "YAML error at line"},
        {HDR "  a:\n    eventName: X\n", TK_EINVAL, "no condition"},
        {HDR "  a:\n    sourceIPAddress|cidr: 10.0.0.0/99\n  condition: a\n", TK_EINVAL, "prefix"},
        {HDR "  a:\n    eventName|re: '(x'\n  condition: a\n", TK_EINVAL, "regex"},
        {"logsource:\n  product: aws\n", TK_EINVAL, "no title"},
    };
    for (size_t i = 0; i < TK_ARRAY_LEN(cases); i++) {
        err[0] = 0;
        int rc = sigma_refused(cases[i].yaml, err);
        if (rc != cases[i].rc || !strstr(err, cases[i].msg))
            fail_msg("case %zu: rc %d (want %d), message '%s' lacks '%s'", i, rc, cases[i].rc, err, cases[i].msg);
    }
}

static void test_sigma_alibaba_actiontrail_rules_read_canonical_fields(void **s)
{
    (void)s;
    const char *y = "title: ram admin\nid: ali-1\nlevel: critical\nlogsource:\n  product: alibaba\n  service: actiontrail\n"
                    "detection:\n  sel:\n    eventName: AttachPolicyToUser\n    requestParameters.PolicyName: AdministratorAccess\n  condition: sel\n";
    tk_rule_t *r;
    char err[TK_ERRLEN];
    assert_int_equal(tk_rule_from_sigma(y, strlen(y), "t", &r, err), 0);
    assert_int_equal(tk_rule_severity(r), TK_SEV_CRITICAL);
    assert_string_equal(tk_rule_id(r), "sigma:ali-1");
    tk_alert_engine_t *e;
    assert_int_equal(tk_alert_engine_create(NULL, &e, err), 0);
    assert_int_equal(tk_alert_engine_add(e, r, err), 0);
    const char *yes = "{\"eventName\":\"AttachPolicyToUser\",\"requestParameters\":{\"PolicyName\":\"AdministratorAccess\"}}";
    const char *no = "{\"eventName\":\"AttachPolicyToUser\",\"requestParameters\":{\"PolicyName\":\"ReadOnlyAccess\"}}";
    fired_t f = {0};
    assert_int_equal(tk_alert_engine_eval(e, "x", 1, yes, strlen(yes), 1, on_fire, &f, err), 0);
    assert_int_equal(tk_alert_engine_eval(e, "x", 1, no, strlen(no), 1, on_fire, &f, err), 0);
    assert_int_equal(f.total, 1);
    tk_alert_engine_destroy(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_shared_cloudtrail_rule_loads_and_unsupported_ones_are_refused_by_name),
        cmocka_unit_test(test_stratus_captures_fire_the_rules_written_for_their_technique),
        cmocka_unit_test(test_stratus_events_stored_as_canonical_with_the_original_still_match),
        cmocka_unit_test(test_sigma_strings_match_case_insensitively_with_wildcards),
        cmocka_unit_test(test_sigma_modifiers_all_re_cidr_exists_base64_fieldref_null),
        cmocka_unit_test(test_sigma_conditions_and_or_not_parentheses_and_quantifiers),
        cmocka_unit_test(test_sigma_count_by_becomes_a_grouped_threshold),
        cmocka_unit_test(test_sigma_unsupported_constructs_refuse_the_whole_rule),
        cmocka_unit_test(test_sigma_alibaba_actiontrail_rules_read_canonical_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

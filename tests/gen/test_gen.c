/* Tests for src/gen: determinism, JSON validity and required fields (cJSON and
 * the real parser), time order and range, error and sign-in failure rates,
 * attack scenarios and their labels, AccessKey ownership, office-hour
 * cycles, the CloudTrail shape, and the writer's frames and folder layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/fs.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "event/parse.h"
#include "gen/gen.h"
#include "gen/writer.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define START_MS 1795478400000LL /* 2026-11-24T00:00:00Z, a Tuesday */

/* A generated run kept in memory: all events and what the generator said
 * about each. */
typedef struct run {
    tk_buf_t all;     /* events, each followed by '\n' */
    size_t n;
    size_t *off;
    tk_gen_info_t *info;
    cJSON **json;
} run_t;

static tk_gen_opts_t opts(uint64_t seed, uint64_t events)
{
    tk_gen_opts_t o;
    tk_gen_opts_default(&o);
    o.seed = seed;
    o.events = events;
    o.start_ms = START_MS;
    return o;
}

static void run_gen(const tk_gen_opts_t *o, run_t *r)
{
    memset(r, 0, sizeof *r);
    char err[TK_ERRLEN] = "";
    tk_gen_t *g = NULL;
    assert_int_equal(tk_gen_create(o, &g, err), 0);
    uint64_t total = tk_gen_total(g);
    r->off = calloc(total + 1, sizeof *r->off);
    r->info = calloc(total + 1, sizeof *r->info);
    r->json = calloc(total + 1, sizeof *r->json);
    assert_non_null(r->off);
    int rc;
    for (;;) {
        r->off[r->n] = r->all.len;
        rc = tk_gen_next(g, &r->all, &r->info[r->n]);
        if (rc != 1)
            break;
        /* info strings are borrowed from the generator: keep only what outlives it */
        r->info[r->n].account = NULL;
        tk_buf_putc(&r->all, '\n');
        r->n++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(tk_gen_next(g, &r->all, NULL), 0); /* stays exhausted */
    assert_int_equal(r->n, total);
    tk_gen_destroy(g);
    for (size_t i = 0; i < r->n; i++) {
        r->json[i] = cJSON_ParseWithLength(r->all.p + r->off[i], r->off[i + 1] - r->off[i] - 1);
        if (!r->json[i])
            fail_msg("event %zu is not valid JSON: %.200s", i, r->all.p + r->off[i]);
    }
}

static void run_free(run_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        cJSON_Delete(r->json[i]);
    free(r->json);
    free(r->off);
    free(r->info);
    tk_buf_free(&r->all);
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *path2(const cJSON *o, const char *k1, const char *k2)
{
    return str(cJSON_GetObjectItemCaseSensitive(o, k1), k2);
}

static int is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return s[14] == '4';
}

static int is_digits(const char *s, size_t n)
{
    if (!s || strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static void test_gen_same_seed_gives_identical_bytes(void **st)
{
    (void)st;
    tk_gen_opts_t o = opts(42, 3000);
    o.attacks = 1;
    o.label = 1;
    o.accounts = 9;
    run_t a, b;
    run_gen(&o, &a);
    run_gen(&o, &b);
    assert_int_equal(a.all.len, b.all.len);
    assert_memory_equal(a.all.p, b.all.p, a.all.len);
    run_free(&b);
    o.seed = 43;
    run_gen(&o, &b);
    assert_true(a.all.len != b.all.len || memcmp(a.all.p, b.all.p, a.all.len));
    /* not merely different somewhere: the first events differ */
    assert_true(strncmp(a.all.p, b.all.p, a.off[1]));
    run_free(&a);
    run_free(&b);
}

static void test_gen_events_have_required_fields(void **st)
{
    (void)st;
    tk_gen_opts_t o = opts(7, 5000);
    o.attacks = 1;
    run_t r;
    run_gen(&o, &r);
    size_t signins = 0, api = 0, with_res = 0;
    for (size_t i = 0; i < r.n; i++) {
        const cJSON *e = r.json[i];
        assert_true(is_uuid(str(e, "eventId")));
        assert_string_equal(str(e, "eventVersion"), "1");
        const char *t = str(e, "eventTime");
        int64_t ms;
        assert_non_null(t);
        assert_int_equal(strlen(t), 20); /* whole seconds, like ActionTrail */
        assert_int_equal(tk_time_parse(t, strlen(t), &ms), 0);
        assert_int_equal(ms, r.info[i].time_ms);
        const char *type = str(e, "eventType");
        assert_non_null(type);
        assert_true(!strcmp(type, "ApiCall") || !strcmp(type, "ConsoleSignin") ||
                    !strcmp(type, "ConsoleSignout") || !strcmp(type, "AliyunServiceEvent"));
        const char *rw = str(e, "eventRW");
        assert_true(rw && (!strcmp(rw, "Read") || !strcmp(rw, "Write")));
        const char *req[] = {"eventSource", "serviceName", "eventName", "acsRegion", "requestId",
                             "sourceIpAddress", "userAgent", "errorCode", "errorMessage"};
        for (size_t k = 0; k < sizeof req / sizeof *req; k++)
            if (!str(e, req[k]) || (k < 7 && !*str(e, req[k])))
                fail_msg("event %zu lacks %s: %.300s", i, req[k], r.all.p + r.off[i]);
        assert_true(is_uuid(str(e, "requestId")));
        assert_true(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(e, "isGlobal")));
        const char *acct = str(e, "recipientAccountId");
        assert_true(is_digits(acct, 16));
        assert_string_equal(path2(e, "userIdentity", "accountId"), acct);
        assert_non_null(path2(e, "userIdentity", "type"));
        assert_non_null(path2(e, "userIdentity", "principalId"));
        /* success writes "" like ActionTrail; failure has both code and message */
        assert_int_equal(!*str(e, "errorCode"), !*str(e, "errorMessage"));
        if (!strcmp(type, "ConsoleSignin")) {
            signins++;
            assert_non_null(path2(e, "additionalEventData", "loginAccount"));
            const char *mfa = path2(e, "additionalEventData", "isMFAChecked");
            assert_true(mfa && (!strcmp(mfa, "true") || !strcmp(mfa, "false")));
            assert_non_null(path2(e, "additionalEventData", "callbackUrl"));
        }
        if (!strcmp(type, "ApiCall")) {
            api++;
            assert_non_null(str(e, "apiVersion"));
            assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(e, "requestParameters")));
        }
        const char *rt = str(e, "resourceType"), *rn = str(e, "resourceName");
        assert_int_equal(!rt, !rn);
        if (rt) {
            with_res++;
            /* as many ';'-separated names as types, each listed in referencedResources */
            const cJSON *refs = cJSON_GetObjectItemCaseSensitive(e, "referencedResources");
            assert_true(cJSON_IsObject(refs));
            char types[256], names[256];
            snprintf(types, sizeof types, "%s", rt);
            snprintf(names, sizeof names, "%s", rn);
            char *sv1, *sv2;
            char *ty = strtok_r(types, ";", &sv1), *nm = strtok_r(names, ";", &sv2);
            for (; ty; ty = strtok_r(NULL, ";", &sv1), nm = strtok_r(NULL, ";", &sv2)) {
                assert_non_null(nm);
                const cJSON *arr = cJSON_GetObjectItemCaseSensitive(refs, ty);
                assert_true(cJSON_IsArray(arr));
                assert_string_equal(cJSON_GetArrayItem(arr, 0)->valuestring, nm);
            }
            assert_null(nm);
        }
    }
    assert_true(signins > 0);
    assert_true(api > r.n * 9 / 10);
    assert_true(with_res > r.n / 3);
    /* ~1 KB per event on average, like real ActionTrail events */
    size_t avg = r.all.len / r.n;
    assert_in_range(avg, 800, 1400);
    run_free(&r);
}

static void test_gen_every_event_passes_the_parser(void **st)
{
    (void)st;
    tk_gen_opts_t o = opts(11, 4000);
    o.attacks = 1;
    o.label = 1;
    run_t r;
    run_gen(&o, &r);
    tk_batch_t *b = tk_batch_create();
    assert_non_null(b);
    tk_parse_opts_t po = {.format = TK_FMT_JSONL, .source_name = "gen"};
    char err[TK_ERRLEN] = "";
    assert_int_equal(tk_event_parse(b, r.all.p, r.all.len, &po, err), 0);
    if (tk_batch_reject_count(b))
        fail_msg("rejected: %s %s %s", tk_batch_rejects(b)[0].code, tk_batch_rejects(b)[0].field,
                 tk_batch_rejects(b)[0].message);
    assert_int_equal(tk_batch_count(b), r.n);
    const tk_event_t *ev = tk_batch_events(b);
    for (size_t i = 0; i < r.n; i++) {
        assert_int_equal(ev[i].time_ms, r.info[i].time_ms);
        assert_int_equal(ev[i].has_error, !!*str(r.json[i], "errorCode"));
    }
    tk_batch_destroy(b);
    run_free(&r);
}

static void test_gen_times_never_decrease_and_stay_in_range(void **st)
{
    (void)st;
    tk_gen_opts_t o = opts(5, 20000);
    o.days = 3;
    o.attacks = 1;
    run_t r;
    run_gen(&o, &r);
    for (size_t i = 0; i < r.n; i++) {
        assert_true(r.info[i].time_ms >= START_MS);
        assert_true(r.info[i].time_ms < START_MS + 3 * TK_MS_PER_DAY);
        if (i)
            assert_true(r.info[i].time_ms >= r.info[i - 1].time_ms);
    }
    /* spread over the whole range, not bunched at one end */
    assert_true(r.info[0].time_ms < START_MS + 3600000);
    assert_true(r.info[r.n - 1].time_ms > START_MS + 3 * TK_MS_PER_DAY - 3600000);
    run_free(&r);

    o = opts(5, 1000);
    o.events = 0;
    o.events_per_day = 250;
    o.days = 4;
    run_gen(&o, &r);
    assert_int_equal(r.n, 1000); /* --per-day N over D days gives N*D */
    run_free(&r);
}

static double api_error_rate(const run_t *r)
{
    size_t api = 0, errs = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(str(r->json[i], "eventType"), "ApiCall"))
            continue;
        api++;
        errs += *str(r->json[i], "errorCode") != 0;
    }
    return (double)errs / (double)api;
}

static void test_gen_error_rate_follows_the_option(void **st)
{
    (void)st;
    tk_gen_opts_t o = opts(3, 20000);
    run_t r;
    run_gen(&o, &r);
    double e = api_error_rate(&r);
    assert_true(e > 0.024 && e < 0.036); /* 0.03 +- 20%: ~4 sigma at 20k events */
    /* the codes are the realistic ones, and there are several */
    int forbidden = 0, throttling = 0, invalid = 0;
    for (size_t i = 0; i < r.n; i++) {
        const char *c = str(r.json[i], "errorCode");
        forbidden += !strcmp(c, "Forbidden.RAM") || !strcmp(c, "NoPermission");
        throttling += !strncmp(c, "Throttling", 10);
        invalid += !strcmp(c, "InvalidParameter");
    }
    assert_true(forbidden > 0 && throttling > 0 && invalid > 0);
    run_free(&r);
    o.error_rate = 0;
    run_gen(&o, &r);
    assert_true(api_error_rate(&r) == 0.0);
    run_free(&r);
    o.error_rate = 0.2;
    run_gen(&o, &r);
    e = api_error_rate(&r);
    assert_true(e > 0.18 && e < 0.22);
    run_free(&r);
}

static void test_gen_signins_include_failures(void **st)
{
    (void)st;
    tk_gen_opts_t o = opts(9, 30000);
    run_t r;
    run_gen(&o, &r);
    size_t ok = 0, failed = 0, root = 0;
    for (size_t i = 0; i < r.n; i++) {
        const cJSON *e = r.json[i];
        if (strcmp(str(e, "eventName"), "ConsoleSignin"))
            continue;
        assert_string_equal(str(e, "eventType"), "ConsoleSignin");
        assert_string_equal(str(e, "eventSource"), "signin.aliyun.com");
        const char *code = str(e, "errorCode");
        if (*code) {
            failed++;
            assert_true(!strcmp(code, "InvalidPassword") || !strcmp(code, "InvalidMFACode"));
        } else {
            ok++;
        }
        root += !strcmp(path2(e, "userIdentity", "type"), "root-account");
    }
    assert_true(ok > 50);
    assert_true(failed > 0);
    assert_true(failed < ok / 4);
    assert_true(root > 0);
    run_free(&r);
}

static size_t count_name(const run_t *r, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += !strcmp(str(r->json[i], "eventName"), name);
    return n;
}

static void test_gen_attacks_present_and_labelled_only_with_label(void **st)
{
    (void)st;
    tk_gen_opts_t o = opts(21, 8000);
    run_t r;
    run_gen(&o, &r); /* no attacks: none of the tell-tale events */
    assert_int_equal(count_name(&r, "StopLogging"), 0);
    assert_int_equal(count_name(&r, "DeleteTrail"), 0);
    for (size_t i = 0; i < r.n; i++)
        assert_null(cJSON_GetObjectItemCaseSensitive(r.json[i], "tkScenario"));
    run_free(&r);

    o.attacks = 1;
    run_gen(&o, &r); /* attacks, unlabelled: present but indistinguishable by a field */
    assert_int_equal(count_name(&r, "StopLogging"), 1);
    assert_int_equal(count_name(&r, "DeleteTrail"), 1);
    for (size_t i = 0; i < r.n; i++) {
        assert_null(cJSON_GetObjectItemCaseSensitive(r.json[i], "tkScenario"));
        assert_null(strstr(r.all.p + r.off[i], "tkScenario"));
    }
    run_free(&r);

    o.label = 1;
    run_gen(&o, &r);
    size_t labelled[16] = {0};
    for (size_t i = 0; i < r.n; i++) {
        const char *sc = str(r.json[i], "tkScenario");
        assert_true(!sc == !r.info[i].scenario);
        if (!sc)
            continue;
        assert_string_equal(sc, r.info[i].scenario);
        size_t k = 0;
        while (tk_gen_scenario_names[k] && strcmp(tk_gen_scenario_names[k], sc))
            k++;
        assert_non_null(tk_gen_scenario_names[k]);
        labelled[k]++;
    }
    size_t total = 0;
    for (size_t k = 0; tk_gen_scenario_names[k]; k++) {
        if (!labelled[k])
            fail_msg("scenario %s missing", tk_gen_scenario_names[k]);
        total += labelled[k];
    }
    assert_true(total >= 43); /* the smallest possible set: 10+3 brute force, 2+3+2+1+20+2 */
    run_free(&r);
}

/* Checks each scenario tells its story in the fields a detector would use. */
static void test_gen_attack_scenarios_have_the_telltale_fields(void **st)
{
    (void)st;
    tk_gen_opts_t o = opts(33, 10000);
    o.attacks = 1;
    o.label = 1;
    o.accounts = 4;
    run_t r;
    run_gen(&o, &r);
    size_t brute_fail = 0, brute_ok = 0, deletes = 0;
    int root_nomfa = 0, root_ak = 0, sg = 0, admin = 0, stop = 0, del = 0;
    const char *brute_ip = NULL, *brute_user = NULL;
    for (size_t i = 0; i < r.n; i++) {
        const cJSON *e = r.json[i];
        const char *sc = str(e, "tkScenario");
        if (!sc)
            continue;
        const char *name = str(e, "eventName"), *utype = path2(e, "userIdentity", "type");
        if (!strcmp(sc, "brute-force-signin") && !strcmp(name, "ConsoleSignin")) {
            if (!brute_ip) {
                brute_ip = str(e, "sourceIpAddress");
                brute_user = path2(e, "userIdentity", "userName");
            }
            assert_string_equal(str(e, "sourceIpAddress"), brute_ip);
            assert_string_equal(path2(e, "userIdentity", "userName"), brute_user);
            if (*str(e, "errorCode")) {
                assert_int_equal(brute_ok, 0); /* all failures come first */
                brute_fail++;
            } else {
                brute_ok++;
            }
        } else if (!strcmp(sc, "root-signin-no-mfa") && !strcmp(name, "ConsoleSignin")) {
            assert_string_equal(utype, "root-account");
            assert_string_equal(path2(e, "additionalEventData", "isMFAChecked"), "false");
            assert_string_equal(str(e, "errorCode"), "");
            root_nomfa++;
        } else if (!strcmp(sc, "root-accesskey-created") && !strcmp(name, "CreateAccessKey")) {
            assert_string_equal(utype, "root-account");
            assert_null(path2(e, "requestParameters", "UserName"));
            const cJSON *ak = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(e, "responseElements"), "AccessKey");
            assert_non_null(str(ak, "AccessKeyId"));
            root_ak++;
        } else if (!strcmp(sc, "trail-concealment")) {
            stop += !strcmp(name, "StopLogging");
            del += !strcmp(name, "DeleteTrail");
            assert_int_equal(stop, 1); /* StopLogging comes before DeleteTrail */
            assert_string_equal(str(e, "serviceName"), "ActionTrail");
        } else if (!strcmp(sc, "sg-open-world")) {
            assert_string_equal(name, "AuthorizeSecurityGroup");
            assert_string_equal(path2(e, "requestParameters", "SourceCidrIp"), "0.0.0.0/0");
            sg++;
        } else if (!strcmp(sc, "mass-delete-instances")) {
            assert_string_equal(name, "DeleteInstance");
            assert_string_equal(str(e, "resourceType"), "ACS::ECS::Instance");
            deletes++;
        } else if (!strcmp(sc, "admin-policy-attached") && !strcmp(name, "AttachPolicyToUser")) {
            assert_string_equal(path2(e, "requestParameters", "PolicyName"), "AdministratorAccess");
            admin++;
        }
    }
    assert_true(brute_fail >= 10);
    assert_int_equal(brute_ok, 1);
    /* the attacker's IP is new: the user never used it in background events */
    for (size_t i = 0; i < r.n; i++)
        if (!str(r.json[i], "tkScenario") && path2(r.json[i], "userIdentity", "userName") &&
            !strcmp(path2(r.json[i], "userIdentity", "userName"), brute_user))
            assert_string_not_equal(str(r.json[i], "sourceIpAddress"), brute_ip);
    assert_int_equal(root_nomfa, 1);
    assert_int_equal(root_ak, 1);
    assert_int_equal(stop, 1);
    assert_int_equal(del, 1);
    assert_int_equal(sg, 1);
    assert_true(deletes >= 20);
    assert_int_equal(admin, 1);
    /* background root sign-ins always use MFA, so the scenario is the only one without */
    for (size_t i = 0; i < r.n; i++)
        if (!str(r.json[i], "tkScenario") && !strcmp(str(r.json[i], "eventName"), "ConsoleSignin") &&
            !strcmp(path2(r.json[i], "userIdentity", "type"), "root-account"))
            assert_string_equal(path2(r.json[i], "additionalEventData", "isMFAChecked"), "true");
    run_free(&r);
}

static void test_gen_accesskey_belongs_to_one_identity(void **st)
{
    (void)st;
    tk_gen_opts_t o = opts(17, 20000);
    o.accounts = 6;
    o.users = 12;
    o.attacks = 1;
    run_t r;
    run_gen(&o, &r);
    enum { MAXK = 4096 };
    static char keys[MAXK][40], owners[MAXK][128];
    size_t nk = 0, with_ak = 0, sts = 0;
    for (size_t i = 0; i < r.n; i++) {
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(r.json[i], "userIdentity");
        const char *ak = str(u, "accessKeyId");
        if (!ak)
            continue;
        with_ak++;
        char owner[128];
        snprintf(owner, sizeof owner, "%s/%s/%s", str(u, "accountId"), str(u, "type"),
                 str(u, "principalId"));
        if (!strncmp(ak, "STS.", 4)) {
            sts++;
            assert_string_equal(str(u, "type"), "assumed-role");
        } else {
            assert_int_equal(strlen(ak), 24);
            assert_memory_equal(ak, "LTAI", 4);
        }
        size_t k = 0;
        while (k < nk && strcmp(keys[k], ak))
            k++;
        if (k == nk) {
            assert_true(nk < MAXK);
            snprintf(keys[nk], sizeof keys[nk], "%s", ak);
            snprintf(owners[nk], sizeof owners[nk], "%s", owner);
            nk++;
        } else if (strcmp(owners[k], owner)) {
            fail_msg("AccessKey %s used by %s and %s", ak, owners[k], owner);
        }
    }
    assert_true(with_ak > r.n / 2);
    assert_true(sts > 0);
    assert_true(nk > 10);
    run_free(&r);
}

/* "a.b.c" of an IPv4 address (its /24) into out; 0 when ip is not IPv4. */
static int net24(const char *ip, char *out)
{
    const char *dot = strrchr(ip, '.');
    if (!dot || strchr(ip, ':') || dot - ip > 15)
        return 0;
    snprintf(out, 16, "%.*s", (int)(dot - ip), ip);
    return 1;
}

static void test_gen_ak_new_network_is_a_known_key_used_as_usual_from_a_new_24(void **st)
{
    (void)st;
    tk_gen_opts_t o = opts(5, 0);
    o.days = 14;
    o.events_per_day = 4000;
    o.accounts = 2;
    o.insight_attacks = 1;
    o.label = 1;
    run_t r;
    run_gen(&o, &r);
    const char *ak = NULL, *ip = NULL, *user = NULL, *ua = NULL;
    int64_t first = 0, last = 0;
    size_t n = 0, writes = 0;
    for (size_t i = 0; i < r.n; i++) {
        const cJSON *e = r.json[i];
        const char *sc = str(e, "tkScenario");
        if (!sc || strcmp(sc, "ak-new-network"))
            continue;
        const char *k = path2(e, "userIdentity", "accessKeyId");
        assert_non_null(k);
        if (!n) {
            ak = k;
            ip = str(e, "sourceIpAddress");
            user = path2(e, "userIdentity", "userName");
            ua = str(e, "userAgent");
            first = r.info[i].time_ms;
        }
        assert_string_equal(k, ak);
        assert_string_equal(str(e, "sourceIpAddress"), ip);
        assert_string_equal(path2(e, "userIdentity", "userName"), user);
        assert_string_equal(str(e, "userAgent"), ua);
        assert_string_not_equal(str(e, "eventName"), "ConsoleSignin");
        writes += !strcmp(str(e, "eventRW"), "Write");
        last = r.info[i].time_ms;
        n++;
    }
    assert_non_null(ak);
    assert_memory_equal(ak, "LTAI", 4);
    assert_true(n >= 5);                              /* 0.4-1.2 calls a minute... */
    assert_true(last - first <= 60 * 60000);          /* ... for 20 to 60 minutes */
    assert_true(last - first >= 10 * 60000);
    assert_true(writes < n);                          /* the usual mix: mostly reads */
    /* The key has a history: background use on several days, from /24s other
     * than the scenario's, with the same user agent. */
    char scnet[16], bnet[16];
    assert_true(net24(ip, scnet));
    int days[14] = {0}, same_ua = 0;
    for (size_t i = 0; i < r.n; i++) {
        const cJSON *e = r.json[i];
        const char *k = path2(e, "userIdentity", "accessKeyId");
        if (str(e, "tkScenario") || !k || strcmp(k, ak))
            continue;
        days[(r.info[i].time_ms - START_MS) / TK_MS_PER_DAY] = 1;
        same_ua += !strcmp(str(e, "userAgent"), ua);
        if (net24(str(e, "sourceIpAddress"), bnet))
            assert_string_not_equal(bnet, scnet);
    }
    int active = 0;
    for (int d = 0; d < 14; d++)
        active += days[d];
    assert_true(active >= 5);
    assert_true(same_ua > 0);
    run_free(&r);
}

static void test_gen_benign_traffic_roams_away_days_fleets_and_valid_ipv6(void **st)
{
    (void)st;
    tk_gen_opts_t o = opts(9, 0);
    o.days = 28;
    o.events_per_day = 3000;
    o.accounts = 2;
    run_t r;
    run_gen(&o, &r);
    /* Per (user, /24): days used. An away day: a person on one day only, from
     * a /24 of no other day, starting that day with a console sign-in there. */
    enum { MAXP = 4096 };
    static char who[MAXP][96];
    static int ndays[MAXP], lastday[MAXP];
    static size_t firsti[MAXP];
    size_t np = 0, v6 = 0;
    for (size_t i = 0; i < r.n; i++) {
        const cJSON *e = r.json[i];
        const char *ip = str(e, "sourceIpAddress"), *user = path2(e, "userIdentity", "userName");
        unsigned char b[16];
        if (ip && strchr(ip, ':')) {
            assert_int_equal(inet_pton(AF_INET6, ip, b), 1);
            v6++;
        }
        char net[16], key[96];
        if (!user || !ip || !net24(ip, net))
            continue;
        snprintf(key, sizeof key, "%s %s %s", path2(e, "userIdentity", "accountId"), user, net);
        size_t k = 0;
        while (k < np && strcmp(who[k], key))
            k++;
        int day = (int)((r.info[i].time_ms + 8 * 3600000LL - START_MS) / TK_MS_PER_DAY);
        if (k == np) {
            assert_true(np < MAXP);
            snprintf(who[np], sizeof who[np], "%s", key);
            firsti[np] = i;
            lastday[np] = -1;
            np++;
        }
        if (lastday[k] != day)
            ndays[k]++, lastday[k] = day;
    }
    size_t away = 0, away_signin = 0, fleet = 0;
    for (size_t k = 0; k < np; k++) {
        const cJSON *e = r.json[firsti[k]];
        if (ndays[k] == 1) {
            away++;
            away_signin += !strcmp(str(e, "eventName"), "ConsoleSignin");
        }
        /* An automation (fixed addresses: at most 2 /24s) on a runner fleet has 4. */
        size_t nets = 0, ulen = (size_t)(strrchr(who[k], ' ') - who[k]);
        for (size_t j = 0; j < np; j++)
            nets += !strncmp(who[j], who[k], ulen + 1);
        if (strstr(who[k], " ci-deployer ") || strstr(who[k], " terraform ") ||
            strstr(who[k], " monitor-agent ") || strstr(who[k], " backup-bot "))
            fleet += nets == 4;
    }
    assert_true(away >= 3);
    assert_true(away_signin * 10 >= away * 9); /* nearly every one starts with a sign-in */
    assert_true(fleet >= 4);                    /* an automation's 4 runner /24s */
    assert_true(v6 > 0);
    run_free(&r);
}

static void test_gen_office_hours_and_weekends_are_busier_and_quieter(void **st)
{
    (void)st;
    tk_gen_opts_t o = opts(8, 40000);
    o.days = 7;
    run_t r;
    run_gen(&o, &r);
    /* START_MS is a Tuesday; UTC+8 10:00-11:00 is 02:00-03:00 UTC, 03:00-04:00 UTC+8 is 19:00 UTC */
    size_t busy = 0, night = 0, weekday = 0, weekend = 0;
    for (size_t i = 0; i < r.n; i++) {
        int64_t lms = r.info[i].time_ms + 8 * 3600000LL;
        int64_t lday = tk_time_day(lms);
        int hour = (int)((lms - lday * TK_MS_PER_DAY) / 3600000);
        int dow = (int)((lday + 4) % 7);
        int we = dow == 0 || dow == 6;
        if (!we && hour == 10)
            busy++;
        if (!we && hour == 3)
            night++;
        if (we)
            weekend++;
        else
            weekday++;
    }
    assert_true(busy > 3 * night);
    /* per day, a weekend day is much quieter than a weekday */
    size_t we_days = 0;
    for (int d = 0; d < 7; d++) {
        int64_t lday = tk_time_day(START_MS + 8 * 3600000LL) + d;
        int dow = (int)((lday + 4) % 7);
        we_days += dow == 0 || dow == 6;
    }
    assert_true(we_days > 0);
    assert_true((double)weekend / we_days < 0.6 * (double)weekday / (7 - we_days));
    run_free(&r);
}

static void test_gen_rejects_bad_options(void **st)
{
    (void)st;
    tk_gen_t *g = (tk_gen_t *)1;
    char err[TK_ERRLEN];
    tk_gen_opts_t o = opts(1, 100);
    o.accounts = 0;
    err[0] = 0;
    assert_int_equal(tk_gen_create(&o, &g, err), TK_EINVAL);
    assert_null(g);
    assert_non_null(strstr(err, "accounts"));
    o = opts(1, 100);
    o.users = 2;
    assert_int_equal(tk_gen_create(&o, &g, err), TK_EINVAL);
    assert_non_null(strstr(err, "users"));
    o = opts(1, 100);
    o.days = 0;
    assert_int_equal(tk_gen_create(&o, &g, err), TK_EINVAL);
    o = opts(1, 100);
    o.error_rate = 1.5;
    assert_int_equal(tk_gen_create(&o, &g, err), TK_EINVAL);
    o = opts(1, 10);
    o.attacks = 1;
    assert_int_equal(tk_gen_create(&o, &g, err), TK_EINVAL);
    assert_non_null(strstr(err, "--attacks needs at least"));
    tk_gen_destroy(NULL);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_gen_account_ids_are_unique_16_digits(void **st)
{
    (void)st;
    tk_gen_opts_t o = opts(1, 10);
    o.accounts = 20000;
    o.users = 3;
    tk_gen_t *g;
    char err[TK_ERRLEN];
    assert_int_equal(tk_gen_create(&o, &g, err), 0);
    const char **ids = calloc(o.accounts, sizeof *ids);
    for (uint32_t i = 0; i < o.accounts; i++) {
        ids[i] = tk_gen_account_id(g, i);
        assert_true(is_digits(ids[i], 16));
        assert_true(ids[i][0] != '0');
    }
    assert_null(tk_gen_account_id(g, o.accounts));
    qsort(ids, o.accounts, sizeof *ids, cmp_str);
    for (uint32_t i = 1; i < o.accounts; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    free(ids);
    tk_gen_destroy(g);
}

static void test_gen_cloudtrail_shape_uses_aws_names(void **st)
{
    (void)st;
    tk_gen_opts_t o = opts(4, 3000);
    o.shape = TK_GEN_SHAPE_CLOUDTRAIL;
    o.attacks = 1;
    o.label = 1;
    run_t r;
    run_gen(&o, &r);
    size_t logins = 0, failed_logins = 0, stop = 0;
    for (size_t i = 0; i < r.n; i++) {
        const cJSON *e = r.json[i];
        assert_string_equal(str(e, "eventVersion"), "1.08");
        assert_true(is_uuid(str(e, "eventID")));
        assert_non_null(str(e, "awsRegion"));
        assert_non_null(str(e, "sourceIPAddress"));
        assert_non_null(str(e, "eventSource"));
        assert_non_null(strstr(str(e, "eventSource"), "amazonaws.com"));
        assert_true(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(e, "readOnly")));
        assert_true(is_digits(str(e, "recipientAccountId"), 16));
        /* CloudTrail omits errorCode on success */
        const char *ec = str(e, "errorCode");
        assert_true(!ec || *ec);
        if (!strcmp(str(e, "eventName"), "ConsoleLogin")) {
            logins++;
            const char *res = path2(e, "responseElements", "ConsoleLogin");
            failed_logins += !strcmp(res, "Failure");
            assert_non_null(path2(e, "additionalEventData", "MFAUsed"));
        }
        stop += !strcmp(str(e, "eventName"), "StopLogging");
    }
    assert_true(logins > 0 && failed_logins > 0);
    assert_int_equal(stop, 1);
    /* and the real parser accepts them as CloudTrail */
    tk_batch_t *b = tk_batch_create();
    tk_parse_opts_t po = {.format = TK_FMT_JSONL, .source_name = "gen"};
    char err[TK_ERRLEN] = "";
    assert_int_equal(tk_event_parse(b, r.all.p, r.all.len, &po, err), 0);
    if (tk_batch_reject_count(b))
        fail_msg("rejected: %s %s %s", tk_batch_rejects(b)[0].code, tk_batch_rejects(b)[0].field,
                 tk_batch_rejects(b)[0].message);
    assert_int_equal(tk_batch_count(b), r.n);
    tk_batch_destroy(b);
    run_free(&r);
}

/* ---- writer ---- */

static char *read_file(const char *path, size_t *len)
{
    char *p = NULL;
    char err[TK_ERRLEN];
    assert_int_equal(tk_fs_read_all(path, &p, len, err), 0);
    return p;
}

static void test_gen_writer_frames_parse_as_json(void **st)
{
    (void)st;
    char tmpl[] = "/tmp/tk-gen-test.XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    char path[512];
    snprintf(path, sizeof path, "%s/out.json", dir);
    tk_gen_frame_t frames[] = {TK_GEN_FRAME_ARRAY, TK_GEN_FRAME_RECORDS};
    for (int f = 0; f < 2; f++) {
        tk_gen_opts_t o = opts(2, 321);
        tk_gen_t *g;
        char err[TK_ERRLEN];
        assert_int_equal(tk_gen_create(&o, &g, err), 0);
        tk_gen_write_opts_t w = {.frame = frames[f], .path = path};
        tk_gen_write_stats_t ws;
        assert_int_equal(tk_gen_write(g, &w, &ws, err), 0);
        tk_gen_destroy(g);
        assert_int_equal(ws.events, 321);
        size_t len;
        char *data = read_file(path, &len);
        assert_int_equal(ws.bytes, len);
        cJSON *doc = cJSON_ParseWithLength(data, len);
        assert_non_null(doc);
        const cJSON *arr = f == 0 ? doc : cJSON_GetObjectItemCaseSensitive(doc, "Records");
        assert_true(cJSON_IsArray(arr));
        assert_int_equal(cJSON_GetArraySize(arr), 321);
        cJSON_Delete(doc);
        free(data);
    }
    /* gzip stream: decompresses to exactly the JSON Lines of a plain run */
    snprintf(path, sizeof path, "%s/out.jsonl.gz", dir);
    tk_gen_opts_t o = opts(2, 500);
    tk_gen_t *g;
    char err[TK_ERRLEN];
    assert_int_equal(tk_gen_create(&o, &g, err), 0);
    tk_gen_write_opts_t w = {.frame = TK_GEN_FRAME_JSONL, .path = path, .gzip = 1};
    assert_int_equal(tk_gen_write(g, &w, NULL, err), 0);
    tk_gen_destroy(g);
    run_t r;
    run_gen(&o, &r);
    size_t zlen;
    char *z = read_file(path, &zlen);
    char *plain;
    size_t plen;
    int owned;
    assert_int_equal(tk_event_gunzip(z, zlen, 0, &plain, &plen, &owned, err), 0);
    assert_int_equal(owned, 1);
    assert_int_equal(plen, r.all.len);
    assert_memory_equal(plain, r.all.p, plen);
    free(plain);
    free(z);
    run_free(&r);
    /* an unwritable path is a clear error */
    w.path = "/nonexistent-dir/x.jsonl";
    assert_int_equal(tk_gen_create(&o, &g, err), 0);
    assert_int_equal(tk_gen_write(g, &w, NULL, err), TK_EIO);
    assert_non_null(strstr(err, "/nonexistent-dir/x.jsonl"));
    tk_gen_destroy(g);
    tk_fs_remove_tree(dir);
}

/* Walks dir recursively, checking names and summing events. */
static void walk(const char *dir, int ct, size_t *files, size_t *events, tk_batch_t *b)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat sb;
        assert_int_equal(stat(p, &sb), 0);
        if (S_ISDIR(sb.st_mode)) {
            walk(p, ct, files, events, b);
            continue;
        }
        (*files)++;
        if (ct) {
            assert_non_null(strstr(p, "/AWSLogs/"));
            assert_non_null(strstr(de->d_name, "_CloudTrail_"));
        } else {
            assert_non_null(strstr(p, "/AliyunLogs/Actiontrail/"));
            assert_memory_equal(de->d_name, "Actiontrail_", 12);
            assert_non_null(strstr(de->d_name, "_1002_"));
        }
        size_t len, plen;
        char *z = read_file(p, &len), *plain;
        int owned;
        char err[TK_ERRLEN];
        assert_int_equal(tk_event_gunzip(z, len, 0, &plain, &plen, &owned, err), 0);
        size_t before = tk_batch_count(b);
        tk_parse_opts_t po = {.format = TK_FMT_AUTO, .source_name = p};
        assert_int_equal(tk_event_parse(b, plain, plen, &po, err), 0);
        assert_int_equal(tk_batch_reject_count(b), 0);
        size_t got = tk_batch_count(b) - before;
        assert_true(got > 0);
        if (!ct) { /* the count in the name is the count in the file */
            char want[32];
            snprintf(want, sizeof want, "_1002_%zu_", got);
            assert_non_null(strstr(de->d_name, want));
        }
        /* one account and one day per file */
        const tk_event_t *ev = tk_batch_events(b);
        for (size_t i = before; i < tk_batch_count(b); i++) {
            assert_int_equal(ev[i].account.len, ev[before].account.len);
            assert_memory_equal(ev[i].account.p, ev[before].account.p, ev[i].account.len);
            assert_true(strstr(p, "/AliyunLogs/") || strstr(p, "/AWSLogs/"));
            assert_int_equal(tk_time_day(ev[i].time_ms), tk_time_day(ev[before].time_ms));
            char acct[32];
            snprintf(acct, sizeof acct, "/%.*s/", (int)ev[i].account.len, ev[i].account.p);
            assert_non_null(strstr(p, acct));
        }
        *events += got;
        if (owned)
            free(plain);
        free(z);
    }
    closedir(d);
}

static void test_gen_writer_folder_layout_holds_every_event(void **st)
{
    (void)st;
    for (int ct = 0; ct < 2; ct++) {
        char tmpl[] = "/tmp/tk-gen-test.XXXXXX";
        char *dir = mkdtemp(tmpl);
        assert_non_null(dir);
        tk_gen_opts_t o = opts(6, 3000);
        o.days = 2;
        o.accounts = 3;
        o.shape = ct ? TK_GEN_SHAPE_CLOUDTRAIL : TK_GEN_SHAPE_ACTIONTRAIL;
        tk_gen_t *g;
        char err[TK_ERRLEN];
        assert_int_equal(tk_gen_create(&o, &g, err), 0);
        tk_gen_write_opts_t w = {.frame = ct ? TK_GEN_FRAME_RECORDS : TK_GEN_FRAME_ARRAY,
                                 .dir = dir, .gzip = !ct, .files_per_day = 4};
        tk_gen_write_stats_t ws;
        assert_int_equal(tk_gen_write(g, &w, &ws, err), 0);
        tk_gen_destroy(g);
        size_t files = 0, events = 0;
        tk_batch_t *b = tk_batch_create();
        walk(dir, ct, &files, &events, b);
        tk_batch_destroy(b);
        assert_int_equal(events, 3000);
        assert_int_equal(files, ws.files);
        /* at least one file per account per 6-hour window somewhere, never one per event */
        assert_true(files >= 8 && files < 3000 / 4);
        tk_fs_remove_tree(dir);
    }
    /* files per day must divide 24 */
    tk_gen_opts_t o = opts(6, 10);
    tk_gen_t *g;
    char err[TK_ERRLEN];
    assert_int_equal(tk_gen_create(&o, &g, err), 0);
    tk_gen_write_opts_t w = {.dir = "/tmp/unused-tk-gen", .files_per_day = 5};
    assert_int_equal(tk_gen_write(g, &w, NULL, err), TK_EINVAL);
    assert_non_null(strstr(err, "divide 24"));
    tk_gen_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gen_same_seed_gives_identical_bytes),
        cmocka_unit_test(test_gen_events_have_required_fields),
        cmocka_unit_test(test_gen_every_event_passes_the_parser),
        cmocka_unit_test(test_gen_times_never_decrease_and_stay_in_range),
        cmocka_unit_test(test_gen_error_rate_follows_the_option),
        cmocka_unit_test(test_gen_signins_include_failures),
        cmocka_unit_test(test_gen_attacks_present_and_labelled_only_with_label),
        cmocka_unit_test(test_gen_attack_scenarios_have_the_telltale_fields),
        cmocka_unit_test(test_gen_accesskey_belongs_to_one_identity),
        cmocka_unit_test(test_gen_ak_new_network_is_a_known_key_used_as_usual_from_a_new_24),
        cmocka_unit_test(test_gen_benign_traffic_roams_away_days_fleets_and_valid_ipv6),
        cmocka_unit_test(test_gen_office_hours_and_weekends_are_busier_and_quieter),
        cmocka_unit_test(test_gen_rejects_bad_options),
        cmocka_unit_test(test_gen_account_ids_are_unique_16_digits),
        cmocka_unit_test(test_gen_cloudtrail_shape_uses_aws_names),
        cmocka_unit_test(test_gen_writer_frames_parse_as_json),
        cmocka_unit_test(test_gen_writer_folder_layout_holds_every_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

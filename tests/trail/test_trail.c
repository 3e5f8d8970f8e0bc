/* Tests for src/trail: the trail model (ActionTrail's name and parameter
 * rules, limits, organization rules, every change recorded as an ActionTrail
 * event) and delivery to the folder destination: files compared event by
 * event with what was ingested, filters, file size limits, StopLogging /
 * StartLogging without a skip, recovery from an unwritable destination, and
 * a re-send after a crash that rewrites the same objects (no duplicate). */
#define _GNU_SOURCE /* nftw, memmem */
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
#include "meta/meta.h"
#include "store/store.h"
#include "trail/dest.h"
#include "trail/trail.h"
#include "trail/trail_internal.h"

#include <cjson/cJSON.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <regex.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ACC "1000000000000001"
#define MEMBER "2000000000000002"
#define OTHER "3000000000000003"

typedef struct {
    char dir[256], out[300];
    tk_meta_t *m;
    tk_store_t *s;
    char err[TK_ERRLEN];
    tk_trail_caller_t c;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/tk-trail-test.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    /* Folder trails live under the default root, DATA/trail-folders. */
    assert_int_equal(tk_dest_folder_set_roots(f->dir, NULL, 0, f->err), 0);
    snprintf(f->out, sizeof f->out, "%s/" TK_DEST_FOLDER_DEFAULT_ROOT "/out", f->dir);
    assert_int_equal(tk_meta_open(f->dir, &f->m, f->err), 0);
    tk_store_opts_t so = {.dir = f->dir, .no_fsync = 1};
    assert_int_equal(tk_store_open(&so, &f->s, f->err), 0);
    assert_int_equal(tk_meta_account_create(f->m, ACC, "main", f->err), 0);
    assert_int_equal(tk_meta_account_create(f->m, MEMBER, "member", f->err), 0);
    assert_int_equal(tk_meta_account_create(f->m, OTHER, "other", f->err), 0);
    f->c.account = ACC;
    f->c.key_id = "TKTESTKEY000000000001";
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    tk_store_close(f->s);
    tk_meta_close(f->m);
    tk_fs_remove_tree(f->dir);
    free(f);
    return 0;
}

/* Creates a folder trail writing under f->out with extra parameters. */
static int create(fx_t *f, const char *name, const tk_trail_param_t *extra, size_t n)
{
    tk_trail_param_t p[16];
    size_t k = 0;
    p[k++] = (tk_trail_param_t){"Name", name};
    p[k++] = (tk_trail_param_t){"DestinationType", "folder"};
    p[k++] = (tk_trail_param_t){"Dest.path", f->out};
    for (size_t i = 0; i < n; i++)
        p[k++] = extra[i];
    return tk_trail_create(f->m, f->s, &f->c, p, k, NULL, f->err);
}

/* ---- the stored events of an account, in seq order ---- */

typedef struct {
    char *json[512];
    size_t n;
} evlist_t;

static int collect(void *ud, const tk_stored_event_t *ev)
{
    evlist_t *l = ud;
    if (l->n < 512)
        l->json[l->n++] = strndup(ev->json.p, ev->json.len);
    return 0;
}

static void evlist_free(evlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->json[i]);
    l->n = 0;
}

static const char *field(const char *json, const char *k, char *buf, size_t cap)
{
    cJSON *o = cJSON_Parse(json);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    snprintf(buf, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
    cJSON_Delete(o);
    return buf;
}

/* ---- events to ingest ---- */

static int64_t T0;

/* Appends one event and returns its JSON (owned by the caller). */
static char *ingest(fx_t *f, const char *acct, const char *region, const char *rw,
                    const char *type, int i)
{
    char ts[32], *j = malloc(1024);
    tk_time_format(T0 + i * 1000LL, 0, ts);
    snprintf(j, 1024,
             "{\"eventId\":\"ev-%s-%d\",\"eventVersion\":\"1\",\"eventTime\":\"%s\","
             "\"eventType\":\"%s\",\"eventRW\":\"%s\",\"eventSource\":\"ecs.aliyuncs.com\","
             "\"serviceName\":\"Ecs\",\"eventName\":\"%s\",\"acsRegion\":\"%s\","
             "\"requestId\":\"R%d\",\"sourceIpAddress\":\"10.0.0.%d\","
             "\"userIdentity\":{\"type\":\"ram-user\",\"accountId\":\"%s\",\"userName\":\"u\"},"
             "\"requestParameters\":{\"i\":%d},\"recipientAccountId\":\"%s\"}",
             acct, i, ts, type, rw, !strcmp(rw, "Read") ? "DescribeInstances" : "StopInstance",
             region, i, i % 250, acct, i, acct);
    tk_batch_t *b = tk_batch_create();
    tk_parse_opts_t po = {.format = TK_FMT_ACTIONTRAIL};
    assert_int_equal(tk_event_parse(b, j, strlen(j), &po, f->err), 0);
    assert_int_equal(tk_batch_count(b), 1);
    assert_int_equal(tk_store_append(f->s, tk_batch_events(b), 1, NULL, NULL, f->err), 0);
    tk_batch_destroy(b);
    return j;
}

/* ---- reading the folder back ---- */

typedef struct {
    char *path[256];
    size_t n;
} files_t;

static files_t *g_files;

static int walk_cb(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type == FTW_F && g_files->n < 256)
        g_files->path[g_files->n++] = strdup(p);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_files(const char *dir, files_t *fl)
{
    memset(fl, 0, sizeof *fl);
    g_files = fl;
    if (tk_fs_exists(dir))
        nftw(dir, walk_cb, 16, FTW_PHYS);
    qsort(fl->path, fl->n, sizeof fl->path[0], cmp_str);
}

static void files_free(files_t *fl)
{
    for (size_t i = 0; i < fl->n; i++)
        free(fl->path[i]);
    fl->n = 0;
}

/* Every event in every delivered file (ActionTrail layout: JSON arrays),
 * printed compactly, appended to l. Returns the number of files. */
static size_t read_delivered(const char *dir, evlist_t *l)
{
    files_t fl;
    list_files(dir, &fl);
    char err[TK_ERRLEN];
    for (size_t i = 0; i < fl.n; i++) {
        char *gz, *raw;
        size_t gzlen, rawlen;
        int owned;
        assert_int_equal(tk_fs_read_all(fl.path[i], &gz, &gzlen, err), 0);
        assert_int_equal(tk_event_gunzip(gz, gzlen, 0, &raw, &rawlen, &owned, err), 0);
        assert_int_equal(owned, 1);
        cJSON *a = cJSON_ParseWithLength(raw, rawlen);
        assert_true(cJSON_IsArray(a));
        for (cJSON *e = a->child; e; e = e->next)
            if (l->n < 512)
                l->json[l->n++] = cJSON_PrintUnformatted(e);
        cJSON_Delete(a);
        free(raw);
        free(gz);
    }
    size_t n = fl.n;
    files_free(&fl);
    return n;
}

static char *compact(const char *json)
{
    cJSON *o = cJSON_Parse(json);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* Asserts that the delivered events are exactly `want` (as multisets). */
static void assert_same_events(evlist_t *got, char **want, size_t nwant)
{
    assert_int_equal(got->n, nwant);
    char **w = calloc(nwant + 1, sizeof *w);
    for (size_t i = 0; i < nwant; i++)
        w[i] = compact(want[i]);
    qsort(w, nwant, sizeof *w, cmp_str);
    qsort(got->json, got->n, sizeof got->json[0], cmp_str);
    for (size_t i = 0; i < nwant; i++) {
        assert_string_equal(got->json[i], w[i]);
        free(w[i]);
    }
    free(w);
}

static tk_trail_deliverer_t *deliverer(fx_t *f, size_t max_events, int age_s)
{
    tk_trail_deliver_opts_t o = {.file_max_events = max_events, .file_max_age_s = age_s,
                                 .retry_base_ms = 60000};
    tk_trail_deliverer_t *d = NULL;
    assert_int_equal(tk_trail_deliverer_create(f->m, f->s, &o, &d, f->err), 0);
    return d;
}

/* ============================================================ the model */

static void test_trail_names_follow_actiontrail_rules(void **state)
{
    fx_t *f = *state;
    assert_int_equal(tk_trail_check_name("abcdef", f->err), 0);
    assert_int_equal(tk_trail_check_name("a2345_-789012345678901234567890123456", f->err),
                     TK_EINVAL); /* 37 */
    assert_int_equal(tk_trail_check_name("a2345_-78901234567890123456789012345", f->err), 0);
    assert_int_equal(tk_trail_check_name("abcde", f->err), TK_EINVAL);
    assert_int_equal(tk_trail_check_name("1abcdef", f->err), TK_EINVAL);
    assert_int_equal(tk_trail_check_name("Abcdef", f->err), TK_EINVAL);
    assert_int_equal(tk_trail_check_name("abc.def", f->err), TK_EINVAL);
    assert_non_null(strstr(f->err, "'.'"));
    assert_int_equal(create(f, "Bad-Name", NULL, 0), TK_EINVAL);
}

static void test_create_starts_stopped_with_actiontrail_defaults(void **state)
{
    fx_t *f = *state;
    assert_int_equal(create(f, "audit-trail", NULL, 0), 0);
    tk_trail_t t;
    assert_int_equal(tk_trail_get(f->m, ACC, "audit-trail", &t, f->err), 0);
    assert_string_equal(t.event_rw, "Write");
    assert_string_equal(t.trail_region, "All");
    assert_string_equal(t.event_types, "");
    assert_string_equal(t.dest_type, "folder");
    assert_int_equal(t.is_logging, 0);
    assert_int_equal(t.is_org, 0);
    tk_trail_status_t st;
    assert_int_equal(tk_trail_get_status(f->m, f->s, ACC, "audit-trail", &st, f->err), 0);
    assert_int_equal(st.is_logging, 0);
    assert_int_equal(st.start_logging_ms, 0);
    assert_int_equal(create(f, "audit-trail", NULL, 0), TK_EEXIST);
}

static void test_create_rejects_bad_parameters_with_their_name(void **state)
{
    fx_t *f = *state;
    struct {
        tk_trail_param_t p;
        const char *needle;
    } cases[] = {
        {{"EventRW", "Both"}, "EventRW"},
        {{"TrailRegion", "cn-hangzhou,,cn-beijing"}, "TrailRegion"},
        {{"TrailRegion", "CN_HZ"}, "TrailRegion"},
        {{"OssKeyPrefix", "../etc"}, "OssKeyPrefix"},
        {{"OssKeyPrefix", "/abs"}, "OssKeyPrefix"},
        {{"OssBucketName", "Bad_Bucket"}, "OssBucketName"},
        {{"IsOrganizationTrail", "maybe"}, "IsOrganizationTrail"},
        {{"Colour", "blue"}, "Colour"},
        {{"Dest.nope", "1"}, "nope"},
        {{"DestinationType", "carrier-pigeon"}, "carrier-pigeon"},
    };
    for (size_t i = 0; i < TK_ARRAY_LEN(cases); i++) {
        f->err[0] = 0;
        assert_int_equal(create(f, "badparams", &cases[i].p, 1), TK_EINVAL);
        if (!strstr(f->err, cases[i].needle))
            fail_msg("case %zu: '%s' does not name %s", i, f->err, cases[i].needle);
    }
    /* No destination at all. */
    tk_trail_param_t only[] = {{"Name", "nodest"}};
    assert_int_equal(tk_trail_create(f->m, f->s, &f->c, only, 1, NULL, f->err), TK_EINVAL);
    assert_non_null(strstr(f->err, "destination"));
    /* s3 needs a bucket. */
    tk_trail_param_t s3[] = {{"Name", "s3nobucket"}, {"DestinationType", "s3"}};
    assert_int_equal(tk_trail_create(f->m, f->s, &f->c, s3, 2, NULL, f->err), TK_EINVAL);
    assert_non_null(strstr(f->err, "bucket"));
    /* A bucket alone means s3. */
    tk_trail_param_t oss[] = {{"Name", "ossbucket"}, {"OssBucketName", "audit-logs"}};
    tk_trail_t t;
    assert_int_equal(tk_trail_create(f->m, f->s, &f->c, oss, 2, &t, f->err), 0);
    assert_string_equal(t.dest_type, "s3");
    assert_string_equal(t.oss_bucket, "audit-logs");
}

static void test_five_trails_per_account_then_refused(void **state)
{
    fx_t *f = *state;
    char name[16];
    for (int i = 0; i < TK_TRAIL_MAX_PER_ACCOUNT; i++) {
        snprintf(name, sizeof name, "trail-%d", i);
        assert_int_equal(create(f, name, NULL, 0), 0);
    }
    assert_int_equal(create(f, "trail-x", NULL, 0), TK_ETOOBIG);
    assert_non_null(strstr(f->err, "limit 5"));
    /* Another account has its own five. */
    f->c.account = OTHER;
    assert_int_equal(create(f, "trail-x", NULL, 0), 0);
}

static void test_org_trail_only_by_management_and_only_one(void **state)
{
    fx_t *f = *state;
    tk_trail_param_t org = {"IsOrganizationTrail", "true"};
    assert_int_equal(create(f, "org-trail", &org, 1), TK_EPERM); /* no organization yet */
    assert_int_equal(tk_meta_org_create(f->m, "rd-abc123", ACC, f->err), 0);
    assert_int_equal(tk_meta_org_add_member(f->m, MEMBER, f->err), 0);
    f->c.account = MEMBER;
    assert_int_equal(create(f, "org-trail", &org, 1), TK_EPERM);
    assert_non_null(strstr(f->err, "management"));
    f->c.account = ACC;
    assert_int_equal(create(f, "org-trail", &org, 1), 0);
    assert_int_equal(create(f, "org-trail2", &org, 1), TK_ETOOBIG);
    /* Immutable. */
    tk_trail_param_t up[] = {{"Name", "org-trail"}, {"IsOrganizationTrail", "false"}};
    assert_int_equal(tk_trail_update(f->m, f->s, &f->c, up, 2, NULL, f->err), TK_EINVAL);
    assert_non_null(strstr(f->err, "cannot change"));
    /* A member sees it; an outsider does not. */
    tk_trail_t t;
    assert_int_equal(tk_trail_get(f->m, MEMBER, "org-trail", &t, f->err), 0);
    assert_int_equal(t.is_org, 1);
    assert_string_equal(t.account, ACC);
    assert_int_equal(tk_trail_get(f->m, OTHER, "org-trail", &t, f->err), TK_ENOTFOUND);
    /* A member cannot change it. */
    f->c.account = MEMBER;
    assert_int_equal(tk_trail_stop_logging(f->m, f->s, &f->c, "org-trail", f->err), TK_ENOTFOUND);
}

static void test_update_changes_only_given_parameters(void **state)
{
    fx_t *f = *state;
    tk_trail_param_t rw = {"EventRW", "All"};
    assert_int_equal(create(f, "upd-trail", &rw, 1), 0);
    tk_trail_param_t up[] = {{"Name", "upd-trail"}, {"TrailRegion", "cn-hangzhou,cn-beijing"}};
    tk_trail_t t;
    assert_int_equal(tk_trail_update(f->m, f->s, &f->c, up, 2, &t, f->err), 0);
    assert_int_equal(tk_trail_get(f->m, ACC, "upd-trail", &t, f->err), 0);
    assert_string_equal(t.event_rw, "All");
    assert_string_equal(t.trail_region, "cn-hangzhou,cn-beijing");
    tk_trail_param_t missing[] = {{"Name", "no-such-trail"}, {"EventRW", "Read"}};
    assert_int_equal(tk_trail_update(f->m, f->s, &f->c, missing, 2, NULL, f->err), TK_ENOTFOUND);
}

static void test_every_change_is_recorded_as_an_actiontrail_event(void **state)
{
    fx_t *f = *state;
    assert_int_equal(create(f, "audited", NULL, 0), 0);
    assert_int_equal(tk_trail_start_logging(f->m, f->s, &f->c, "audited", f->err), 0);
    assert_int_equal(tk_trail_stop_logging(f->m, f->s, &f->c, "audited", f->err), 0);
    tk_trail_param_t up[] = {{"Name", "audited"}, {"EventRW", "All"}};
    assert_int_equal(tk_trail_update(f->m, f->s, &f->c, up, 2, NULL, f->err), 0);
    assert_int_equal(tk_trail_delete(f->m, f->s, &f->c, "audited", f->err), 0);
    assert_int_equal(create(f, "x", NULL, 0), TK_EINVAL); /* refused: recorded with its error */
    evlist_t l = {.n = 0};
    assert_int_equal(tk_store_log_read(f->s, 1, 100, collect, &l, f->err), 0);
    const char *want[] = {"CreateTrail", "StartLogging", "StopLogging", "UpdateTrail",
                          "DeleteTrail", "CreateTrail"};
    assert_int_equal(l.n, TK_ARRAY_LEN(want));
    char buf[128];
    for (size_t i = 0; i < l.n; i++) {
        assert_string_equal(field(l.json[i], "eventName", buf, sizeof buf), want[i]);
        assert_string_equal(field(l.json[i], "serviceName", buf, sizeof buf), "ActionTrail");
        assert_string_equal(field(l.json[i], "eventRW", buf, sizeof buf), "Write");
        assert_string_equal(field(l.json[i], "recipientAccountId", buf, sizeof buf), ACC);
        assert_string_equal(field(l.json[i], "errorCode", buf, sizeof buf),
                            i + 1 == l.n ? "InvalidParameter" : "");
        assert_string_equal(field(l.json[i], "resourceName", buf, sizeof buf),
                            i + 1 == l.n ? "x" : "audited");
    }
    assert_non_null(strstr(l.json[0], "\"accessKeyId\":\"TKTESTKEY000000000001\""));
    evlist_free(&l);
}

static void test_destination_secrets_stay_out_of_events_and_describe(void **state)
{
    fx_t *f = *state;
    tk_trail_param_t p[] = {{"Name", "s3-secret"}, {"OssBucketName", "bkt-1"},
                            {"Dest.access_key_id", "AKID"},
                            {"Dest.secret_access_key", "TOPSECRETVALUE"}};
    tk_trail_t t;
    assert_int_equal(tk_trail_create(f->m, f->s, &f->c, p, 4, &t, f->err), 0);
    tk_buf_t b = TK_BUF_INIT;
    tk_trail_to_json(&t, &b);
    assert_null(strstr(b.p, "TOPSECRETVALUE"));
    assert_non_null(strstr(b.p, "\"secret_access_key\":\"******\""));
    tk_buf_free(&b);
    evlist_t l = {.n = 0};
    assert_int_equal(tk_store_log_read(f->s, 1, 100, collect, &l, f->err), 0);
    assert_int_equal(l.n, 1);
    assert_null(strstr(l.json[0], "TOPSECRETVALUE"));
    evlist_free(&l);
    /* At rest: sealed in meta.db (and its WAL), clear again when read back. */
    const char *files[] = {"meta.db", "meta.db-wal"};
    int sealed = 0;
    for (size_t i = 0; i < 2; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", f->dir, files[i]);
        FILE *fp = fopen(path, "rb");
        if (!fp)
            continue;
        static char bytes[1 << 22];
        size_t n = fread(bytes, 1, sizeof bytes, fp);
        fclose(fp);
        assert_null(memmem(bytes, n, "TOPSECRETVALUE", 14));
        sealed += memmem(bytes, n, "tkenc1:", 7) != NULL;
    }
    assert_true(sealed > 0);
    tk_trail_t back;
    assert_int_equal(tk_trail_get(f->m, ACC, "s3-secret", &back, f->err), 0);
    assert_non_null(strstr(back.dest_options, "\"secret_access_key\":\"TOPSECRETVALUE\""));
}

/* ============================================================ delivery */

static void test_folder_delivery_equals_ingested_events(void **state)
{
    fx_t *f = *state;
    tk_trail_param_t all = {"EventRW", "All"};
    assert_int_equal(create(f, "folder-all", &all, 1), 0);
    assert_int_equal(tk_trail_start_logging(f->m, f->s, &f->c, "folder-all", f->err), 0);
    char *want[200];
    size_t nw = 0;
    evlist_t own = {.n = 0};
    assert_int_equal(tk_store_log_read(f->s, 1, 10, collect, &own, f->err), 0);
    for (size_t i = 0; i < own.n; i++) /* CreateTrail, StartLogging */
        want[nw++] = strdup(own.json[i]);
    evlist_free(&own);
    static const char *regions[] = {"cn-hangzhou", "cn-beijing", "ap-southeast-1"};
    for (int i = 0; i < 120; i++) {
        char *j = ingest(f, i % 4 == 3 ? OTHER : ACC, regions[i % 3], i % 2 ? "Read" : "Write",
                         "ApiCall", i);
        if (i % 4 == 3)
            free(j); /* another account: not this trail's */
        else
            want[nw++] = j;
    }
    tk_trail_deliverer_t *d = deliverer(f, 1000, 3600);
    size_t n = 0;
    assert_int_equal(tk_trail_deliver_once(d, 1, &n, f->err), 0);
    assert_int_equal(n, nw);
    evlist_t got = {.n = 0};
    size_t files = read_delivered(f->out, &got);
    assert_int_equal(files, 3); /* one per region; the trail's own events are in cn-hangzhou */
    assert_same_events(&got, want, nw);
    evlist_free(&got);
    tk_trail_status_t st;
    assert_int_equal(tk_trail_get_status(f->m, f->s, ACC, "folder-all", &st, f->err), 0);
    assert_int_equal(st.delivered_events, nw);
    assert_int_equal(st.delivered_files, 3);
    assert_int_equal(st.backlog, 0);
    assert_int_equal(st.checkpoint_seq, tk_store_last_seq(f->s) + 1);
    assert_string_equal(st.latest_delivery_error, "");
    assert_true(st.latest_delivery_ms > 0);
    /* A second pass has nothing more to send. */
    assert_int_equal(tk_trail_deliver_once(d, 1, &n, f->err), 0);
    assert_int_equal(n, 0);
    tk_trail_deliverer_destroy(d);
    for (size_t i = 0; i < nw; i++)
        free(want[i]);
}

static void test_filters_select_region_rw_and_event_type(void **state)
{
    fx_t *f = *state;
    tk_trail_param_t p[] = {{"EventRW", "Read"},
                            {"TrailRegion", "cn-beijing,ap-southeast-1"},
                            {"EventTypes", "ConsoleSignin"}};
    assert_int_equal(create(f, "filtered", p, 3), 0);
    assert_int_equal(tk_trail_start_logging(f->m, f->s, &f->c, "filtered", f->err), 0);
    static const char *regions[] = {"cn-hangzhou", "cn-beijing", "ap-southeast-1"};
    char *want[100];
    size_t nw = 0;
    for (int i = 0; i < 96; i++) {
        const char *region = regions[i % 3], *rw = (i / 3) % 2 ? "Read" : "Write";
        const char *type = (i / 6) % 2 ? "ConsoleSignin" : "ApiCall";
        char *j = ingest(f, ACC, region, rw, type, i);
        if (strcmp(region, "cn-hangzhou") && !strcmp(rw, "Read") && !strcmp(type, "ConsoleSignin"))
            want[nw++] = j;
        else
            free(j);
    }
    assert_int_equal(nw, 16);
    tk_trail_deliverer_t *d = deliverer(f, 1000, 3600);
    size_t n = 0;
    assert_int_equal(tk_trail_deliver_once(d, 1, &n, f->err), 0);
    evlist_t got = {.n = 0};
    assert_int_equal(read_delivered(f->out, &got), 2);
    assert_same_events(&got, want, nw);
    evlist_free(&got);
    tk_trail_deliverer_destroy(d);
    for (size_t i = 0; i < nw; i++)
        free(want[i]);
}

static void test_file_closes_at_max_events(void **state)
{
    fx_t *f = *state;
    tk_trail_param_t p[] = {{"TrailRegion", "cn-beijing"}};
    assert_int_equal(create(f, "small-files", p, 1), 0);
    assert_int_equal(tk_trail_start_logging(f->m, f->s, &f->c, "small-files", f->err), 0);
    for (int i = 0; i < 25; i++)
        free(ingest(f, ACC, "cn-beijing", "Write", "ApiCall", i));
    tk_trail_deliverer_t *d = deliverer(f, 10, 3600);
    size_t n = 0;
    /* Not forced: the age rule (1 h) does not close a file, the size rule does. */
    assert_int_equal(tk_trail_deliver_once(d, 0, &n, f->err), 0);
    assert_int_equal(n, 10);
    assert_int_equal(tk_trail_deliver_once(d, 0, &n, f->err), 0);
    assert_int_equal(n, 10);
    assert_int_equal(tk_trail_deliver_once(d, 0, &n, f->err), 0);
    assert_int_equal(n, 0); /* 5 left: wait for the age limit */
    tk_trail_status_t st;
    assert_int_equal(tk_trail_get_status(f->m, f->s, ACC, "small-files", &st, f->err), 0);
    assert_true(st.backlog >= 5);
    assert_int_equal(tk_trail_deliver_once(d, 1, &n, f->err), 0);
    assert_int_equal(n, 5);
    files_t fl;
    list_files(f->out, &fl);
    assert_int_equal(fl.n, 3);
    int counts[3];
    for (size_t i = 0; i < fl.n; i++) {
        const char *b = strrchr(fl.path[i], '/') + 1;
        int cnt = -1;
        assert_int_equal(sscanf(b, "Actiontrail_cn-beijing_%*14[0-9]_1002_%d_", &cnt), 1);
        counts[i] = cnt;
    }
    assert_int_equal(counts[0] + counts[1] + counts[2], 25);
    files_free(&fl);
    tk_trail_deliverer_destroy(d);
}

static void test_stop_logging_pauses_and_start_resumes_without_skipping(void **state)
{
    fx_t *f = *state;
    tk_trail_param_t all = {"EventRW", "All"};
    assert_int_equal(create(f, "pausable", &all, 1), 0);
    assert_int_equal(tk_trail_start_logging(f->m, f->s, &f->c, "pausable", f->err), 0);
    tk_trail_deliverer_t *d = deliverer(f, 1000, 3600);
    size_t n = 0;
    assert_int_equal(tk_trail_deliver_once(d, 1, &n, f->err), 0);
    assert_int_equal(n, 2); /* CreateTrail, StartLogging */
    assert_int_equal(tk_trail_stop_logging(f->m, f->s, &f->c, "pausable", f->err), 0);
    for (int i = 0; i < 30; i++)
        free(ingest(f, ACC, "cn-hangzhou", "Write", "ApiCall", i));
    assert_int_equal(tk_trail_deliver_once(d, 1, &n, f->err), 0);
    assert_int_equal(n, 0);
    tk_trail_status_t st;
    assert_int_equal(tk_trail_get_status(f->m, f->s, ACC, "pausable", &st, f->err), 0);
    assert_int_equal(st.is_logging, 0);
    assert_true(st.stop_logging_ms >= st.start_logging_ms);
    assert_int_equal(st.backlog, 31); /* StopLogging + 30 */
    assert_int_equal(tk_trail_start_logging(f->m, f->s, &f->c, "pausable", f->err), 0);
    assert_int_equal(tk_trail_deliver_once(d, 1, &n, f->err), 0);
    assert_int_equal(n, 32); /* StopLogging, 30 events, StartLogging */
    tk_trail_deliverer_destroy(d);
}

static void test_unwritable_destination_keeps_backlog_then_delivers_once(void **state)
{
    fx_t *f = *state;
    /* The folder's parent is a regular file: every write fails. */
    char blocker[300];
    snprintf(blocker, sizeof blocker, "%s/" TK_DEST_FOLDER_DEFAULT_ROOT "/blocked", f->dir);
    snprintf(f->out, sizeof f->out, "%s/" TK_DEST_FOLDER_DEFAULT_ROOT "/blocked/out", f->dir);
    tk_trail_param_t all = {"EventRW", "All"};
    assert_int_equal(create(f, "flaky-dest", &all, 1), 0);
    /* After CreateTrail, which refuses a path through a regular file. */
    assert_int_equal(tk_fs_write_atomic(blocker, "x", 1, f->err), 0);
    assert_int_equal(tk_trail_start_logging(f->m, f->s, &f->c, "flaky-dest", f->err), 0);
    for (int i = 0; i < 40; i++)
        free(ingest(f, ACC, "cn-hangzhou", "Write", "ApiCall", i));
    tk_trail_deliverer_t *d = deliverer(f, 1000, 3600);
    size_t n = 0;
    assert_int_not_equal(tk_trail_deliver_once(d, 1, &n, f->err), 0);
    assert_int_equal(n, 0);
    tk_trail_status_t st;
    assert_int_equal(tk_trail_get_status(f->m, f->s, ACC, "flaky-dest", &st, f->err), 0);
    assert_true(st.latest_delivery_error[0] != 0);
    assert_true(st.latest_error_ms > 0);
    assert_int_equal(st.backlog, 42);
    assert_int_equal(st.delivered_events, 0);
    /* Backoff: an unforced pass right after the failure does not retry. */
    int64_t err_ms = st.latest_error_ms;
    assert_int_equal(tk_trail_deliver_once(d, 0, &n, f->err), 0);
    assert_int_equal(tk_trail_get_status(f->m, f->s, ACC, "flaky-dest", &st, f->err), 0);
    assert_int_equal(st.latest_error_ms, err_ms);
    /* The destination comes back. */
    assert_int_equal(unlink(blocker), 0);
    assert_int_equal(tk_trail_deliver_once(d, 1, &n, f->err), 0);
    assert_int_equal(n, 42);
    evlist_t got = {.n = 0};
    read_delivered(f->out, &got);
    assert_int_equal(got.n, 42);
    evlist_free(&got);
    assert_int_equal(tk_trail_get_status(f->m, f->s, ACC, "flaky-dest", &st, f->err), 0);
    assert_string_equal(st.latest_delivery_error, "");
    assert_int_equal(st.backlog, 0);
    tk_trail_deliverer_destroy(d);
}

/* A crash after the objects were stored but before the checkpoint moved:
 * the range is sent again, and it produces the very same objects. */
static void test_resend_after_crash_rewrites_the_same_objects(void **state)
{
    fx_t *f = *state;
    tk_trail_param_t all = {"EventRW", "All"};
    assert_int_equal(create(f, "crashy", &all, 1), 0);
    assert_int_equal(tk_trail_start_logging(f->m, f->s, &f->c, "crashy", f->err), 0);
    for (int i = 0; i < 40; i++)
        free(ingest(f, ACC, i % 2 ? "cn-hangzhou" : "cn-beijing", "Write", "ApiCall", i));
    tk_trail_deliverer_t *d = deliverer(f, 20, 3600);
    size_t n = 0;
    assert_int_equal(tk_trail_deliver_once(d, 1, &n, f->err), 0);
    assert_int_equal(n, 42);
    uint64_t range_start = tk_store_last_seq(f->s) + 1;
    for (int i = 40; i < 50; i++)
        free(ingest(f, ACC, i % 2 ? "cn-hangzhou" : "cn-beijing", "Write", "ApiCall", i));
    assert_int_equal(tk_trail_deliver_once(d, 1, &n, f->err), 0);
    assert_int_equal(n, 10);
    tk_trail_deliverer_destroy(d);
    files_t before;
    list_files(f->out, &before);
    assert_true(before.n >= 4);
    /* Roll the last range back as a crash before its commit would leave it:
     * the planned range recorded, the checkpoint still at its start. */
    sqlite3 *db = tk_meta_lock(f->m);
    char sql[240];
    snprintf(sql, sizeof sql,
             "UPDATE trails SET next_seq=%llu, pending_to=%llu, pending_max=20 WHERE name='crashy'",
             (unsigned long long)range_start, (unsigned long long)tk_store_last_seq(f->s));
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    tk_meta_unlock(f->m);
    /* Restarted with another file size limit: the planned range is still cut
     * as it was (20), so the same objects come out. */
    d = deliverer(f, 3, 3600);
    assert_int_equal(tk_trail_deliver_once(d, 0, &n, f->err), 0); /* unforced: a planned range is due */
    assert_int_equal(n, 10);
    tk_trail_deliverer_destroy(d);
    files_t after;
    list_files(f->out, &after);
    assert_int_equal(after.n, before.n);
    for (size_t i = 0; i < after.n; i++)
        assert_string_equal(after.path[i], before.path[i]);
    evlist_t got = {.n = 0};
    read_delivered(f->out, &got);
    assert_int_equal(got.n, 52);
    evlist_free(&got);
    files_free(&before);
    files_free(&after);
}

static void test_org_trail_delivers_members_under_their_folders(void **state)
{
    fx_t *f = *state;
    assert_int_equal(tk_meta_org_create(f->m, "rd-abc123", ACC, f->err), 0);
    assert_int_equal(tk_meta_org_add_member(f->m, MEMBER, f->err), 0);
    tk_trail_param_t p[] = {{"IsOrganizationTrail", "true"}, {"OssKeyPrefix", "org/logs"}};
    assert_int_equal(create(f, "org-wide", p, 2), 0);
    assert_int_equal(tk_trail_start_logging(f->m, f->s, &f->c, "org-wide", f->err), 0);
    for (int i = 0; i < 30; i++)
        free(ingest(f, i % 3 == 0 ? ACC : i % 3 == 1 ? MEMBER : OTHER, "cn-shanghai", "Write",
                    "ApiCall", i));
    tk_trail_deliverer_t *d = deliverer(f, 1000, 3600);
    size_t n = 0;
    assert_int_equal(tk_trail_deliver_once(d, 1, &n, f->err), 0);
    assert_int_equal(n, 20 + 2); /* ACC + MEMBER, + CreateTrail/StartLogging */
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/org/logs/AliyunLogs/Actiontrail/rd-abc123/%s/cn-shanghai", f->out, ACC);
    snprintf(b, sizeof b, "%s/org/logs/AliyunLogs/Actiontrail/rd-abc123/%s/cn-shanghai", f->out,
             MEMBER);
    assert_true(tk_fs_exists(a));
    assert_true(tk_fs_exists(b));
    snprintf(b, sizeof b, "%s/org/logs/AliyunLogs/Actiontrail/rd-abc123/%s", f->out, OTHER);
    assert_false(tk_fs_exists(b));
    tk_trail_deliverer_destroy(d);
}

static void test_cloudtrail_layout_names_and_records(void **state)
{
    fx_t *f = *state;
    tk_trail_param_t p[] = {{"Dest.layout", "cloudtrail"}, {"OssKeyPrefix", "ct"}};
    assert_int_equal(create(f, "ct-layout", p, 2), 0);
    assert_int_equal(tk_trail_start_logging(f->m, f->s, &f->c, "ct-layout", f->err), 0);
    for (int i = 0; i < 5; i++)
        free(ingest(f, ACC, "cn-beijing", "Write", "ApiCall", i));
    tk_trail_deliverer_t *d = deliverer(f, 1000, 3600);
    size_t n = 0;
    assert_int_equal(tk_trail_deliver_once(d, 1, &n, f->err), 0);
    tk_trail_deliverer_destroy(d);
    files_t fl;
    list_files(f->out, &fl);
    assert_int_equal(fl.n, 2); /* cn-beijing, and cn-hangzhou for the trail's own events */
    regex_t re;
    char pat[400];
    snprintf(pat, sizeof pat,
             "/ct/AWSLogs/%s/CloudTrail/cn-beijing/[0-9]{4}/[0-9]{2}/[0-9]{2}/%s_CloudTrail_"
             "cn-beijing_[0-9]{8}T[0-9]{4}Z_[0-9A-F]{16}\\.json\\.gz$", ACC, ACC);
    assert_int_equal(regcomp(&re, pat, REG_EXTENDED | REG_NOSUB), 0);
    const char *bj = NULL;
    for (size_t i = 0; i < fl.n; i++)
        if (regexec(&re, fl.path[i], 0, NULL, 0) == 0)
            bj = fl.path[i];
    regfree(&re);
    assert_non_null(bj);
    char *gz, *raw;
    size_t gzlen, rawlen;
    int owned;
    assert_int_equal(tk_fs_read_all(bj, &gz, &gzlen, f->err), 0);
    assert_int_equal(tk_event_gunzip(gz, gzlen, 0, &raw, &rawlen, &owned, f->err), 0);
    cJSON *o = cJSON_ParseWithLength(raw, rawlen);
    cJSON *recs = cJSON_GetObjectItemCaseSensitive(o, "Records");
    assert_int_equal(cJSON_GetArraySize(recs), 5);
    cJSON *r0 = cJSON_GetArrayItem(recs, 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(r0, "awsRegion")->valuestring,
                        "cn-beijing");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(r0, "eventID")->valuestring,
                        "ev-" ACC "-0");
    cJSON_Delete(o);
    free(raw);
    free(gz);
    files_free(&fl);
}

static void test_actiontrail_file_name_holds_count_size_and_md5(void **state)
{
    (void)state;
    const char *e1 = "{\"a\":1}", *e2 = "{\"b\":2}";
    int64_t t = tk_days_from_civil(2026, 3, 5) * TK_MS_PER_DAY + (7 * 3600 + 8 * 60 + 9) * 1000LL;
    trail_fev_t ev[2] = {{t, e1, strlen(e1)}, {t + 5000, e2, strlen(e2)}};
    trail_file_id_t id = {.layout = TRAIL_LAYOUT_ACTIONTRAIL, .prefix = "pfx", .org_id = "",
                          .account = ACC, .region = "cn-hangzhou"};
    tk_buf_t gz = TK_BUF_INIT, key = TK_BUF_INIT, gz2 = TK_BUF_INIT, key2 = TK_BUF_INIT;
    char err[TK_ERRLEN];
    assert_int_equal(trail_build_file(&id, ev, 2, &gz, &key, err), 0);
    /* Deterministic: the same events give the same bytes and key. */
    assert_int_equal(trail_build_file(&id, ev, 2, &gz2, &key2, err), 0);
    assert_int_equal(gz.len, gz2.len);
    assert_memory_equal(gz.p, gz2.p, gz.len);
    assert_string_equal(key.p, key2.p);
    uint8_t md[16];
    unsigned mdl;
    char hex[33], want[300];
    EVP_Digest(gz.p, gz.len, md, &mdl, EVP_md5(), NULL);
    for (int i = 0; i < 16; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
    snprintf(want, sizeof want,
             "pfx/AliyunLogs/Actiontrail/cn-hangzhou/2026/03/05/"
             "Actiontrail_cn-hangzhou_20260305070809_1002_2_%zu_%s.gz", gz.len, hex);
    assert_string_equal(key.p, want);
    char *raw;
    size_t rawlen;
    int owned;
    assert_int_equal(tk_event_gunzip(gz.p, gz.len, 0, &raw, &rawlen, &owned, err), 0);
    assert_int_equal(rawlen, strlen("[{\"a\":1},{\"b\":2}]"));
    assert_memory_equal(raw, "[{\"a\":1},{\"b\":2}]", rawlen);
    free(raw);
    tk_buf_free(&gz);
    tk_buf_free(&key);
    tk_buf_free(&gz2);
    tk_buf_free(&key2);
}

static void test_insight_files_have_their_own_folder_in_both_layouts(void **state)
{
    (void)state;
    const char *e = "{\"eventVersion\":\"1\",\"eventId\":\"ins-1\",\"eventTime\":"
                    "\"2026-03-05T07:08:09Z\",\"eventType\":\"ActionTrailInsight\","
                    "\"eventCategory\":\"Insight\",\"eventSource\":\"insights.trailkeep\","
                    "\"serviceName\":\"ActionTrail\",\"eventName\":\"IpInsight\","
                    "\"recipientAccountId\":\"" ACC "\",\"sharedEventId\":\"s-1\","
                    "\"insightDetails\":{\"state\":\"Start\",\"insightType\":\"IpInsight\"}}";
    int64_t t = tk_days_from_civil(2026, 3, 5) * TK_MS_PER_DAY + (7 * 3600 + 8 * 60 + 9) * 1000LL;
    trail_fev_t ev[1] = {{t, e, strlen(e)}};
    trail_file_id_t id = {.layout = TRAIL_LAYOUT_ACTIONTRAIL, .prefix = "pfx", .org_id = "",
                          .account = ACC, .region = "cn-hangzhou", .insight = 1};
    tk_buf_t gz = TK_BUF_INIT, key = TK_BUF_INIT;
    char err[TK_ERRLEN] = "";
    assert_int_equal(trail_build_file(&id, ev, 1, &gz, &key, err), 0);
    char want[300];
    snprintf(want, sizeof want,
             "pfx/AliyunLogs/Actiontrail-Insight/cn-hangzhou/2026/03/05/"
             "Actiontrail_cn-hangzhou_20260305070809_1002_1_%zu_", gz.len);
    assert_int_equal(strncmp(key.p, want, strlen(want)), 0);
    assert_int_equal(key.len, strlen(want) + 32 + 3);
    tk_buf_reset(&gz);
    tk_buf_reset(&key);
    id.layout = TRAIL_LAYOUT_CLOUDTRAIL;
    assert_int_equal(trail_build_file(&id, ev, 1, &gz, &key, err), 0);
    snprintf(want, sizeof want,
             "pfx/AWSLogs/%s/CloudTrail-Insight/cn-hangzhou/2026/03/05/"
             "%s_CloudTrail-Insight_cn-hangzhou_20260305T0708Z_", ACC, ACC);
    assert_int_equal(strncmp(key.p, want, strlen(want)), 0);
    assert_string_equal(key.p + strlen(want) + 16, ".json.gz");
    char *raw;
    size_t rawlen;
    int owned;
    assert_int_equal(tk_event_gunzip(gz.p, gz.len, 0, &raw, &rawlen, &owned, err), 0);
    assert_non_null(strstr(raw, "\"eventType\":\"AwsCloudTrailInsight\""));
    assert_non_null(strstr(raw, "\"eventCategory\":\"Insight\""));
    free(raw);
    tk_buf_free(&gz);
    tk_buf_free(&key);
}

static void test_destination_options_are_validated_against_the_table(void **state)
{
    (void)state;
    char err[TK_ERRLEN];
    assert_int_equal(tk_dest_validate(&tk_dest_folder, "{\"path\":\"/x\"}", err), 0);
    assert_int_equal(tk_dest_validate(&tk_dest_folder, "{}", err), TK_EINVAL);
    assert_non_null(strstr(err, "path"));
    assert_int_equal(tk_dest_validate(&tk_dest_s3, "{\"path_style\":\"yes\"}", err), TK_EINVAL);
    assert_non_null(strstr(err, "path_style"));
    assert_int_equal(tk_dest_validate(&tk_dest_s3, "{\"timeout_s\":\"ten\"}", err), TK_EINVAL);
    assert_int_equal(tk_dest_validate(&tk_dest_s3, "{\"layout\":\"gcs\"}", err), TK_EINVAL);
    assert_int_equal(tk_dest_validate(&tk_dest_s3, "{\"layout\":\"cloudtrail\",\"region\":\"r\"}",
                                      err), 0);
    assert_ptr_equal(tk_dest_find("s3"), &tk_dest_s3);
    assert_null(tk_dest_find("ftp"));
}



static void test_a_recreated_trail_starts_at_its_new_creation(void **state)
{
    fx_t *f = *state;
    tk_trail_param_t all = {"EventRW", "All"};
    assert_int_equal(create(f, "reborn", &all, 1), 0);
    tk_trail_deliverer_t *d = deliverer(f, 1000, 3600);
    size_t n = 0;
    assert_int_equal(tk_trail_deliver_once(d, 1, &n, f->err), 0); /* stopped: nothing */
    for (int i = 0; i < 10; i++)
        free(ingest(f, ACC, "cn-beijing", "Write", "ApiCall", i));
    assert_int_equal(tk_trail_delete(f->m, f->s, &f->c, "reborn", f->err), 0);
    /* Make sure the new row's times differ from the old one's. */
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
    assert_int_equal(create(f, "reborn", &all, 1), 0);
    assert_int_equal(tk_trail_start_logging(f->m, f->s, &f->c, "reborn", f->err), 0);
    assert_int_equal(tk_trail_deliver_once(d, 1, &n, f->err), 0);
    assert_int_equal(n, 2); /* its CreateTrail and StartLogging, not the 10 before it */
    tk_trail_deliverer_destroy(d);
}


static void on_backlog(void *ud, const tk_trail_t *t, const tk_trail_status_t *st)
{
    char *out = ud;
    char line[128];
    snprintf(line, sizeof line, "%s:%llu;", t->name, (unsigned long long)st->backlog);
    strcat(out, line);
}

static void test_api_answers_in_actiontrail_shapes(void **state)
{
    fx_t *f = *state;
    tk_buf_t o = TK_BUF_INIT;
    tk_trail_param_t p[] = {{"Name", "api-one"}, {"DestinationType", "folder"},
                            {"Dest.path", f->out}, {"EventRW", "Read"}};
    assert_int_equal(tk_trail_api(f->m, f->s, &f->c, "CreateTrail", p, 4, &o, f->err), 0);
    cJSON *j = cJSON_Parse(o.p);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "Name")->valuestring, "api-one");
    assert_string_equal(cJSON_GetObjectItem(j, "EventRW")->valuestring, "Read");
    assert_string_equal(cJSON_GetObjectItem(j, "Status")->valuestring, "Disable");
    assert_int_equal(strlen(cJSON_GetObjectItem(j, "RequestId")->valuestring), 36);
    cJSON_Delete(j);
    p[0].value = "api-two";
    tk_buf_reset(&o);
    assert_int_equal(tk_trail_api(f->m, f->s, &f->c, "CreateTrail", p, 4, &o, f->err), 0);
    tk_trail_param_t nl = {"NameList", "api-two"};
    tk_buf_reset(&o);
    assert_int_equal(tk_trail_api(f->m, f->s, &f->c, "DescribeTrails", &nl, 1, &o, f->err), 0);
    j = cJSON_Parse(o.p);
    cJSON *list = cJSON_GetObjectItem(j, "TrailList");
    assert_int_equal(cJSON_GetArraySize(list), 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "Name")->valuestring,
                        "api-two");
    cJSON_Delete(j);
    tk_trail_param_t nm = {"Name", "api-two"};
    tk_buf_reset(&o);
    assert_int_equal(tk_trail_api(f->m, f->s, &f->c, "GetTrailStatus", &nm, 1, &o, f->err), 0);
    j = cJSON_Parse(o.p);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "IsLogging")));
    assert_int_equal(cJSON_GetObjectItem(j, "Backlog")->valueint, 1); /* its own CreateTrail */
    cJSON_Delete(j);
    tk_buf_reset(&o);
    assert_int_equal(tk_trail_api(f->m, f->s, &f->c, "Explode", &nm, 1, &o, f->err),
                     TK_EUNSUPPORTED);
    assert_int_equal(tk_trail_api(f->m, f->s, &f->c, "StartLogging", NULL, 0, &o, f->err),
                     TK_EINVAL);
    assert_non_null(strstr(f->err, "Name"));
    assert_int_equal(tk_trail_action_kind("GetTrailStatus"), 1);
    assert_int_equal(tk_trail_action_kind("DeleteTrail"), 0);
    assert_int_equal(tk_trail_action_kind("Nope"), -1);

    /* ListPublicKeys: empty until a deliverer signs, then the key trails verify with. */
    tk_buf_reset(&o);
    assert_int_equal(tk_trail_api(f->m, f->s, &f->c, "ListPublicKeys", NULL, 0, &o, f->err), 0);
    j = cJSON_Parse(o.p);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "PublicKeyList")), 0);
    cJSON_Delete(j);
    tk_trail_deliver_opts_t dopt = {.digest_dir = f->dir};
    tk_trail_deliverer_t *d = NULL;
    assert_int_equal(tk_trail_deliverer_create(f->m, f->s, &dopt, &d, f->err), 0);
    tk_trail_deliverer_destroy(d);
    tk_buf_reset(&o);
    assert_int_equal(tk_trail_api(f->m, f->s, &f->c, "ListPublicKeys", NULL, 0, &o, f->err), 0);
    j = cJSON_Parse(o.p);
    cJSON *keys = cJSON_GetObjectItem(j, "PublicKeyList");
    assert_int_equal(cJSON_GetArraySize(keys), 1);
    tk_buf_t pem = TK_BUF_INIT;
    char fp[65];
    assert_int_equal(tk_trail_public_key(f->dir, &pem, fp, f->err), 0);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(keys, 0), "PublicKey")->valuestring,
                        pem.p);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(keys, 0), "Fingerprint")->valuestring,
                        fp);
    cJSON_Delete(j);
    tk_buf_free(&pem);

    char out[256] = "";
    assert_int_equal(tk_trail_backlogs(f->m, f->s, on_backlog, out, f->err), 0);
    assert_string_equal(out, "api-one:2;api-two:1;");
    tk_buf_free(&o);
}

/* ============================================================ digests */

typedef struct {
    int valid, modified, missing, not_covered, chain_broken;
} vcount_t;

static void vcount(void *ud, const char *kind, const char *object, const char *status,
                   const char *detail)
{
    (void)kind;
    (void)object;
    (void)detail;
    vcount_t *c = ud;
    if (!strcmp(status, "valid"))
        c->valid++;
    else if (!strcmp(status, "modified"))
        c->modified++;
    else if (!strcmp(status, "missing"))
        c->missing++;
    else if (!strcmp(status, "not-covered"))
        c->not_covered++;
    else if (!strcmp(status, "chain-broken"))
        c->chain_broken++;
    else
        fail_msg("unknown status %s", status);
}

static void verify_counts(fx_t *f, const char *pem, vcount_t *c, tk_trail_verify_summary_t *sum)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(tk_trail_verify_folder(f->out, pem, vcount, c, sum, f->err), 0);
}

/* Paths of files under f->out whose path contains needle (and not .sig). */
static size_t find_files(fx_t *f, const char *needle, files_t *out)
{
    files_t all;
    list_files(f->out, &all);
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < all.n; i++) {
        size_t l = strlen(all.path[i]);
        if (strstr(all.path[i], needle) && strcmp(all.path[i] + l - 4, ".sig"))
            out->path[out->n++] = strdup(all.path[i]);
    }
    files_free(&all);
    return out->n;
}

static void test_digests_chain_and_report_every_tampering(void **state)
{
    fx_t *f = *state;
    tk_trail_param_t all = {"EventRW", "All"};
    assert_int_equal(create(f, "digested", &all, 1), 0);
    assert_int_equal(tk_trail_start_logging(f->m, f->s, &f->c, "digested", f->err), 0);
    tk_trail_deliver_opts_t o = {.file_max_events = 1000, .file_max_age_s = 3600,
                                 .digest_dir = f->dir, .digest_period_s = 3600};
    tk_trail_deliverer_t *d = NULL;
    assert_int_equal(tk_trail_deliverer_create(f->m, f->s, &o, &d, f->err), 0);
    static const char *regions[] = {"cn-hangzhou", "cn-beijing", "ap-southeast-1"};
    for (int i = 0; i < 30; i++)
        free(ingest(f, ACC, regions[i % 3], "Write", "ApiCall", i));
    size_t n = 0;
    assert_int_equal(tk_trail_deliver_once(d, 1, &n, f->err), 0);
    for (int i = 30; i < 60; i++)
        free(ingest(f, ACC, regions[i % 3], "Write", "ApiCall", i));
    assert_int_equal(tk_trail_deliver_once(d, 1, &n, f->err), 0);
    /* A forced pass with nothing new writes no digest. */
    assert_int_equal(tk_trail_deliver_once(d, 1, &n, f->err), 0);
    tk_trail_deliverer_destroy(d);
    files_t dg, logs;
    assert_int_equal(find_files(f, "-Digest/", &dg), 2);
    assert_int_equal(find_files(f, "/Actiontrail/", &logs), 6); /* 3 regions x 2 passes */

    tk_buf_t pem = TK_BUF_INIT;
    char fp[65];
    assert_int_equal(tk_trail_public_key(f->dir, &pem, fp, f->err), 0);
    assert_non_null(strstr(pem.p, "BEGIN PUBLIC KEY"));
    vcount_t c;
    tk_trail_verify_summary_t sum;
    verify_counts(f, pem.p, &c, &sum);
    assert_int_equal(c.valid, 8);
    assert_int_equal(sum.problems, 0);
    assert_int_equal(sum.chain_intact, 1);
    assert_int_equal(sum.logs_valid, 6);
    assert_int_equal(sum.digests_valid, 2);

    /* Flip a byte of one log, delete another, add a forged one. */
    char *data;
    size_t len;
    assert_int_equal(tk_fs_read_all(logs.path[0], &data, &len, f->err), 0);
    data[len / 2] ^= 0x20;
    assert_int_equal(tk_fs_write_atomic(logs.path[0], data, len, f->err), 0);
    char forged[400];
    snprintf(forged, sizeof forged, "%s.copy.gz", logs.path[2]);
    assert_int_equal(tk_fs_write_atomic(forged, data, len, f->err), 0);
    free(data);
    assert_int_equal(unlink(logs.path[1]), 0);
    verify_counts(f, pem.p, &c, &sum);
    assert_int_equal(c.modified, 1);
    assert_int_equal(c.missing, 1);
    assert_int_equal(c.not_covered, 1);
    assert_int_equal(c.valid, 4 + 2);
    assert_int_equal(sum.problems, 3);
    assert_int_equal(sum.chain_intact, 1);

    /* Edit a digest (drop a log from its list, re-gzip, keep the old signature). */
    char *gz, *raw;
    size_t gzlen, rawlen;
    int owned;
    qsort(dg.path, dg.n, sizeof dg.path[0], cmp_str);
    assert_int_equal(tk_fs_read_all(dg.path[1], &gz, &gzlen, f->err), 0);
    assert_int_equal(tk_event_gunzip(gz, gzlen, 0, &raw, &rawlen, &owned, f->err), 0);
    char *hv = strstr(raw, "\"hashValue\":\"");
    assert_non_null(hv);
    hv[14] = hv[14] == 'a' ? 'b' : 'a';
    tk_buf_t regz = TK_BUF_INIT;
    assert_int_equal(trail_gzip(raw, rawlen, &regz), 0);
    assert_int_equal(tk_fs_write_atomic(dg.path[1], regz.p, regz.len, f->err), 0);
    tk_buf_free(&regz);
    free(raw);
    free(gz);
    verify_counts(f, pem.p, &c, &sum);
    assert_int_equal(sum.digests_valid, 1);
    assert_int_equal(sum.chain_intact, 0);
    assert_true(c.modified >= 2);

    /* Another key does not verify anything. */
    char other[300];
    snprintf(other, sizeof other, "%s/other-key", f->dir);
    assert_int_equal(mkdir(other, 0700), 0);
    tk_buf_t pem2 = TK_BUF_INIT;
    assert_int_equal(tk_trail_public_key(other, &pem2, fp, f->err), 0);
    verify_counts(f, pem2.p, &c, &sum);
    assert_int_equal(sum.digests_valid, 0);
    assert_int_equal(c.valid, 0);
    assert_int_equal(tk_trail_verify_folder(f->out, "not a key", vcount, &c, &sum, f->err),
                     TK_EINVAL);
    tk_buf_free(&pem);
    tk_buf_free(&pem2);
    files_free(&dg);
    files_free(&logs);
}

static void test_digest_of_a_deleted_predecessor_breaks_the_chain(void **state)
{
    fx_t *f = *state;
    tk_trail_param_t all = {"EventRW", "All"};
    assert_int_equal(create(f, "chained", &all, 1), 0);
    assert_int_equal(tk_trail_start_logging(f->m, f->s, &f->c, "chained", f->err), 0);
    tk_trail_deliver_opts_t o = {.file_max_events = 1000, .file_max_age_s = 3600,
                                 .digest_dir = f->dir};
    tk_trail_deliverer_t *d = NULL;
    assert_int_equal(tk_trail_deliverer_create(f->m, f->s, &o, &d, f->err), 0);
    size_t n = 0;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 5; i++)
            free(ingest(f, ACC, "cn-beijing", "Write", "ApiCall", round * 5 + i));
        assert_int_equal(tk_trail_deliver_once(d, 1, &n, f->err), 0);
    }
    tk_trail_deliverer_destroy(d);
    files_t dg;
    assert_int_equal(find_files(f, "-Digest/", &dg), 3);
    qsort(dg.path, dg.n, sizeof dg.path[0], cmp_str);
    assert_int_equal(unlink(dg.path[1]), 0); /* the middle one */
    tk_buf_t pem = TK_BUF_INIT;
    char fp[65];
    assert_int_equal(tk_trail_public_key(f->dir, &pem, fp, f->err), 0);
    vcount_t c;
    tk_trail_verify_summary_t sum;
    verify_counts(f, pem.p, &c, &sum);
    assert_int_equal(c.chain_broken, 1);
    assert_int_equal(sum.chain_intact, 0);
    assert_true(c.not_covered >= 1); /* the logs only the deleted digest listed */
    tk_buf_free(&pem);
    files_free(&dg);
}


static void test_digest_interrupted_by_a_crash_is_rewritten_identically(void **state)
{
    fx_t *f = *state;
    tk_trail_param_t all = {"EventRW", "All"};
    assert_int_equal(create(f, "digest-crash", &all, 1), 0);
    assert_int_equal(tk_trail_start_logging(f->m, f->s, &f->c, "digest-crash", f->err), 0);
    tk_trail_deliver_opts_t o = {.file_max_events = 1000, .file_max_age_s = 3600,
                                 .digest_dir = f->dir};
    tk_trail_deliverer_t *d = NULL;
    assert_int_equal(tk_trail_deliverer_create(f->m, f->s, &o, &d, f->err), 0);
    for (int i = 0; i < 12; i++)
        free(ingest(f, ACC, i % 2 ? "cn-beijing" : "cn-hangzhou", "Write", "ApiCall", i));
    size_t n = 0;
    assert_int_equal(tk_trail_deliver_once(d, 1, &n, f->err), 0);
    tk_trail_deliverer_destroy(d);
    files_t dg;
    assert_int_equal(find_files(f, "-Digest/", &dg), 1);
    char *before;
    size_t blen;
    assert_int_equal(tk_fs_read_all(dg.path[0], &before, &blen, f->err), 0);
    /* As if the process died after writing the digest, before recording it. */
    sqlite3 *db = tk_meta_lock(f->m);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE trails SET digest_pending_ms=digest_end_ms, digest_end_ms=0,"
                                  " digest_object='', digest_sig='' WHERE name='digest-crash'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    tk_meta_unlock(f->m);
    assert_int_equal(tk_trail_deliverer_create(f->m, f->s, &o, &d, f->err), 0);
    assert_int_equal(tk_trail_deliver_once(d, 0, &n, f->err), 0); /* unforced: the planned one */
    tk_trail_deliverer_destroy(d);
    files_t dg2;
    assert_int_equal(find_files(f, "-Digest/", &dg2), 1);
    assert_string_equal(dg2.path[0], dg.path[0]);
    char *after;
    size_t alen;
    assert_int_equal(tk_fs_read_all(dg.path[0], &after, &alen, f->err), 0);
    assert_int_equal(alen, blen);
    assert_memory_equal(after, before, blen);
    free(before);
    free(after);
    tk_buf_t pem = TK_BUF_INIT;
    char fp[65];
    assert_int_equal(tk_trail_public_key(f->dir, &pem, fp, f->err), 0);
    vcount_t c;
    tk_trail_verify_summary_t sum;
    verify_counts(f, pem.p, &c, &sum);
    assert_int_equal(sum.problems, 0);
    assert_int_equal(sum.chain_intact, 1);
    tk_buf_free(&pem);
    files_free(&dg);
    files_free(&dg2);
}

int main(void)
{
    T0 = tk_now_ms() - 3600 * 1000;
    T0 -= T0 % 1000;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_trail_names_follow_actiontrail_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_starts_stopped_with_actiontrail_defaults, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_create_rejects_bad_parameters_with_their_name, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_five_trails_per_account_then_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_org_trail_only_by_management_and_only_one, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_update_changes_only_given_parameters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_change_is_recorded_as_an_actiontrail_event,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_destination_secrets_stay_out_of_events_and_describe,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_folder_delivery_equals_ingested_events, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_filters_select_region_rw_and_event_type, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_file_closes_at_max_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_logging_pauses_and_start_resumes_without_skipping,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_destination_keeps_backlog_then_delivers_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_resend_after_crash_rewrites_the_same_objects, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_org_trail_delivers_members_under_their_folders, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cloudtrail_layout_names_and_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_recreated_trail_starts_at_its_new_creation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_api_answers_in_actiontrail_shapes, setup, teardown),
        cmocka_unit_test(test_actiontrail_file_name_holds_count_size_and_md5),
        cmocka_unit_test(test_insight_files_have_their_own_folder_in_both_layouts),
        cmocka_unit_test(test_destination_options_are_validated_against_the_table),
        cmocka_unit_test_setup_teardown(test_digests_chain_and_report_every_tampering, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_digest_of_a_deleted_predecessor_breaks_the_chain,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_digest_interrupted_by_a_crash_is_rewritten_identically,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

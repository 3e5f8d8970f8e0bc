/* trailkeep trails: the trail model (ActionTrail's CreateTrail ... StopLogging
 * rules) and its state in meta.db (table trails). Invariants: a trail's
 * checkpoint (next_seq) only moves forward and only after its files are
 * stored (deliver.c); every change, and every refused attempt, is recorded as
 * an ActionTrail event in the store so concealment (StopLogging, DeleteTrail)
 * stays visible to rules and Insights. */
#include "trail/trail.h"
#include "trail/dest.h"
#include "trail/trail_internal.h"

#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "event/parse.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_kv(tk_buf_t *b, const char *k, const char *v, int comma);
static void put_time(tk_buf_t *b, const char *k, int64_t ms);

static const tk_meta_migration_t trail_steps[] = {
    {1, "CREATE TABLE trails("
        " account TEXT NOT NULL, name TEXT NOT NULL, home_region TEXT NOT NULL,"
        " event_rw TEXT NOT NULL, trail_region TEXT NOT NULL, event_types TEXT NOT NULL,"
        " oss_bucket TEXT NOT NULL, oss_prefix TEXT NOT NULL,"
        " dest_type TEXT NOT NULL, dest_options TEXT NOT NULL,"
        " is_org INTEGER NOT NULL, is_logging INTEGER NOT NULL,"
        " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
        " start_ms INTEGER NOT NULL DEFAULT 0, stop_ms INTEGER NOT NULL DEFAULT 0,"
        " next_seq INTEGER NOT NULL, pending_to INTEGER NOT NULL DEFAULT 0,"
        " delivered_events INTEGER NOT NULL DEFAULT 0, delivered_files INTEGER NOT NULL DEFAULT 0,"
        " last_delivery_ms INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',"
        " last_error_ms INTEGER NOT NULL DEFAULT 0,"
        " PRIMARY KEY(account, name));"},
    /* Digests: every delivered file is listed until a signed digest covers
     * it; each trail keeps its last digest for the chain. */
    {2, "ALTER TABLE trails ADD COLUMN digest_end_ms INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE trails ADD COLUMN digest_object TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE trails ADD COLUMN digest_sig TEXT NOT NULL DEFAULT '';"
        "CREATE TABLE trail_files(account TEXT NOT NULL, trail TEXT NOT NULL,"
        " object TEXT NOT NULL, sha256 TEXT NOT NULL, events INTEGER NOT NULL,"
        " oldest_ms INTEGER NOT NULL, newest_ms INTEGER NOT NULL, delivered_ms INTEGER NOT NULL,"
        " PRIMARY KEY(account, trail, object));"
        "CREATE INDEX trail_files_time ON trail_files(account, trail, delivered_ms);"},
    /* Public keys that verify digests, listed by the API (ListPublicKeys). */
    {3, "CREATE TABLE trail_keys(fingerprint TEXT PRIMARY KEY, pem TEXT NOT NULL,"
        " created_ms INTEGER NOT NULL);"},
    /* A digest's end time is committed before it is written, so a crash
     * re-writes the same digest (Ed25519 signatures are deterministic). */
    {4, "ALTER TABLE trails ADD COLUMN digest_pending_ms INTEGER NOT NULL DEFAULT 0;"},
    /* The file size limit a planned range was cut with: a replay after a
     * crash cuts the same files even if the option changed meanwhile. */
    {5, "ALTER TABLE trails ADD COLUMN pending_max INTEGER NOT NULL DEFAULT 0;"},
};

int tk_trail_schema(tk_meta_t *m, char *err)
{
    return tk_meta_migrate(m, "trail", trail_steps, TK_ARRAY_LEN(trail_steps), err);
}

#define TRAIL_COLS                                                                              \
    "account, name, home_region, event_rw, trail_region, event_types, oss_bucket, oss_prefix," \
    " dest_type, dest_options, is_org, is_logging, created_ms, updated_ms, start_ms, stop_ms"

static void cpy(char *dst, size_t cap, const unsigned char *s)
{
    snprintf(dst, cap, "%s", s ? (const char *)s : "");
}

/* Destination options whose name has "secret" in it (secret_access_key)
 * are sealed under the master key in meta.db, bound to the trail and the
 * option (tk_meta_secret_seal); in memory they are clear. seal=1: clear ->
 * sealed, 0: sealed -> clear. Writes the transformed JSON object to out. */
static int dest_secrets(const tk_meta_t *m, const tk_trail_t *t, int seal, char *out,
                        size_t outlen, char *err)
{
    cJSON *o = cJSON_Parse(t->dest_options[0] ? t->dest_options : "{}");
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return tk_errf(err, TK_ECORRUPT, "trail %s: destination options are not a JSON object",
                       t->name);
    }
    int rc = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, o) {
        if (!cJSON_IsString(it) || !strstr(it->string, "secret") || !it->valuestring[0])
            continue;
        char ctx[256], v[TK_SEALED_TEXT_MAX];
        snprintf(ctx, sizeof ctx, "trail:%s/%s:%s", t->account, t->name, it->string);
        rc = seal ? tk_meta_secret_seal(m, ctx, it->valuestring, v, sizeof v, err)
                  : tk_meta_secret_open(m, ctx, it->valuestring, v, sizeof v, err);
        if (rc || !cJSON_SetValuestring(it, v)) {
            rc = rc ? rc : tk_errf(err, TK_ENOMEM, "out of memory");
            break;
        }
        memset(v, 0, sizeof v);
    }
    char *txt = rc ? NULL : cJSON_PrintUnformatted(o);
    if (!rc && (!txt || strlen(txt) >= outlen))
        rc = txt ? tk_errf(err, TK_ETOOBIG, "trail %s: destination options are too long", t->name)
                 : tk_errf(err, TK_ENOMEM, "out of memory");
    if (!rc)
        memcpy(out, txt, strlen(txt) + 1);
    cJSON_free(txt);
    cJSON_Delete(o);
    return rc;
}

/* Reads TRAIL_COLS from columns 0..15; opens sealed destination secrets. */
static int row_to_trail(const tk_meta_t *m, sqlite3_stmt *st, tk_trail_t *t, char *err)
{
    memset(t, 0, sizeof *t);
    cpy(t->account, sizeof t->account, sqlite3_column_text(st, 0));
    cpy(t->name, sizeof t->name, sqlite3_column_text(st, 1));
    cpy(t->home_region, sizeof t->home_region, sqlite3_column_text(st, 2));
    cpy(t->event_rw, sizeof t->event_rw, sqlite3_column_text(st, 3));
    cpy(t->trail_region, sizeof t->trail_region, sqlite3_column_text(st, 4));
    cpy(t->event_types, sizeof t->event_types, sqlite3_column_text(st, 5));
    cpy(t->oss_bucket, sizeof t->oss_bucket, sqlite3_column_text(st, 6));
    cpy(t->oss_prefix, sizeof t->oss_prefix, sqlite3_column_text(st, 7));
    cpy(t->dest_type, sizeof t->dest_type, sqlite3_column_text(st, 8));
    cpy(t->dest_options, sizeof t->dest_options, sqlite3_column_text(st, 9));
    t->is_org = sqlite3_column_int(st, 10);
    t->is_logging = sqlite3_column_int(st, 11);
    t->created_ms = sqlite3_column_int64(st, 12);
    t->updated_ms = sqlite3_column_int64(st, 13);
    t->start_logging_ms = sqlite3_column_int64(st, 14);
    t->stop_logging_ms = sqlite3_column_int64(st, 15);
    if (!strstr(t->dest_options, "secret"))
        return 0;
    return dest_secrets(m, t, 0, t->dest_options, sizeof t->dest_options, err);
}

static int db_err(sqlite3 *db, char *err, const char *what)
{
    return tk_errf(err, TK_EIO, "meta.db: %s: %s", what, sqlite3_errmsg(db));
}

/* ---- validation --------------------------------------------------------------------- */

int tk_trail_check_name(const char *name, char *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 6 || n > 36)
        return tk_errf(err, TK_EINVAL,
                       "Name '%s' must be 6-36 characters long (a-z, 0-9, '_', '-', starting "
                       "with a lowercase letter)", name ? name : "");
    if (!(name[0] >= 'a' && name[0] <= 'z'))
        return tk_errf(err, TK_EINVAL, "Name '%s' must start with a lowercase letter", name);
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return tk_errf(err, TK_EINVAL,
                           "Name '%s' has '%c': only a-z, 0-9, '_' and '-' are allowed", name, ch);
    }
    return 0;
}

/* A comma-separated list of tokens of the given characters (no empty item). */
static int check_list(const char *v, const char *what, int (*okc)(int), char *err)
{
    if (!*v)
        return tk_errf(err, TK_EINVAL, "%s is empty: give a comma-separated list", what);
    int item = 0;
    for (const char *p = v;; p++) {
        if (*p == ',' || !*p) {
            if (!item)
                return tk_errf(err, TK_EINVAL, "%s '%s' has an empty item", what, v);
            item = 0;
            if (!*p)
                return 0;
        } else if (okc((unsigned char)*p)) {
            item++;
        } else {
            return tk_errf(err, TK_EINVAL, "%s '%s' has an invalid character '%c'", what, v, *p);
        }
    }
}

static int region_char(int c) { return islower(c) || isdigit(c) || c == '-'; }
static int type_char(int c) { return isalnum(c); }

static int check_bucket(const char *v, char *err)
{
    size_t n = strlen(v);
    if (n < 3 || n > 63)
        return tk_errf(err, TK_EINVAL, "OssBucketName '%s' must be 3-63 characters", v);
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)v[i]) || isdigit((unsigned char)v[i]) || v[i] == '-' ||
              v[i] == '.'))
            return tk_errf(err, TK_EINVAL,
                           "OssBucketName '%s': only a-z, 0-9, '-' and '.' are allowed", v);
    if (v[0] == '-' || v[n - 1] == '-')
        return tk_errf(err, TK_EINVAL, "OssBucketName '%s' must not start or end with '-'", v);
    return 0;
}

/* Object keys are built from the prefix, so it must stay a safe relative path. */
static int check_prefix(const char *v, char *err)
{
    size_t n = strlen(v);
    if (n > 200)
        return tk_errf(err, TK_EINVAL, "OssKeyPrefix is longer than 200 characters");
    if (v[0] == '/')
        return tk_errf(err, TK_EINVAL, "OssKeyPrefix '%s' must not start with '/'", v);
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)v[i]) || strchr("-_./", v[i])))
            return tk_errf(err, TK_EINVAL,
                           "OssKeyPrefix '%s': only letters, digits, '-', '_', '.' and '/' are allowed",
                           v);
    if (strstr(v, "..") || strstr(v, "//"))
        return tk_errf(err, TK_EINVAL, "OssKeyPrefix '%s' must not contain '..' or '//'", v);
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "1")) {
        *out = 1;
        return 0;
    }
    if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "0")) {
        *out = 0;
        return 0;
    }
    return TK_EINVAL;
}

/* Applies parameters onto t (create: t holds defaults; update: the stored
 * trail). Destination options "Dest.x" are merged into t->dest_options. */
static int apply_params(tk_trail_t *t, const tk_trail_param_t *p, size_t n, int creating,
                        char *err)
{
    cJSON *opts = cJSON_Parse(t->dest_options[0] ? t->dest_options : "{}");
    if (!opts)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    int rc = 0, dest_given = 0, bucket_given = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *k = p[i].name, *v = p[i].value ? p[i].value : "";
        if (!strcmp(k, "Name")) {
            if (creating)
                snprintf(t->name, sizeof t->name, "%s", v);
            rc = tk_trail_check_name(v, err);
        } else if (!strcmp(k, "HomeRegion")) {
            if (!*v || strlen(v) >= sizeof t->home_region)
                rc = tk_errf(err, TK_EINVAL, "HomeRegion '%s' is not a region id", v);
            else if ((rc = check_list(v, "HomeRegion", region_char, err)) == 0 && strchr(v, ','))
                rc = tk_errf(err, TK_EINVAL, "HomeRegion is one region id, not a list");
            if (!rc)
                snprintf(t->home_region, sizeof t->home_region, "%s", v);
        } else if (!strcmp(k, "EventRW")) {
            if (strcmp(v, "Write") && strcmp(v, "Read") && strcmp(v, "All"))
                rc = tk_errf(err, TK_EINVAL, "EventRW '%s' must be Write, Read or All", v);
            else
                snprintf(t->event_rw, sizeof t->event_rw, "%s", v);
        } else if (!strcmp(k, "TrailRegion")) {
            if (strlen(v) >= sizeof t->trail_region)
                rc = tk_errf(err, TK_EINVAL, "TrailRegion is too long");
            else if (strcmp(v, "All"))
                rc = check_list(v, "TrailRegion (All or region ids)", region_char, err);
            if (!rc)
                snprintf(t->trail_region, sizeof t->trail_region, "%s", v);
        } else if (!strcmp(k, "EventTypes")) {
            if (strlen(v) >= sizeof t->event_types)
                rc = tk_errf(err, TK_EINVAL, "EventTypes is too long");
            else if (*v && strcmp(v, "All"))
                rc = check_list(v, "EventTypes", type_char, err);
            if (!rc)
                snprintf(t->event_types, sizeof t->event_types, "%s", strcmp(v, "All") ? v : "");
        } else if (!strcmp(k, "OssBucketName")) {
            bucket_given = 1;
            if (*v && (rc = check_bucket(v, err)))
                break;
            snprintf(t->oss_bucket, sizeof t->oss_bucket, "%s", v);
        } else if (!strcmp(k, "OssKeyPrefix")) {
            if (!(rc = check_prefix(v, err)))
                snprintf(t->oss_prefix, sizeof t->oss_prefix, "%s", v);
        } else if (!strcmp(k, "IsOrganizationTrail")) {
            int b = 0;
            if (parse_bool(v, &b))
                rc = tk_errf(err, TK_EINVAL, "IsOrganizationTrail '%s' must be true or false", v);
            else if (!creating && b != t->is_org)
                rc = tk_errf(err, TK_EINVAL,
                             "IsOrganizationTrail cannot change after CreateTrail; delete the "
                             "trail and create a new one");
            else
                t->is_org = b;
        } else if (!strcmp(k, "DestinationType")) {
            dest_given = 1;
            if (!tk_dest_find(v))
                rc = tk_errf(err, TK_EINVAL,
                             "DestinationType '%s' is unknown (known: folder, s3, syslog)", v);
            else
                snprintf(t->dest_type, sizeof t->dest_type, "%s", v);
        } else if (!strncmp(k, "Dest.", 5) && k[5]) {
            cJSON_DeleteItemFromObjectCaseSensitive(opts, k + 5);
            if (*v && !cJSON_AddStringToObject(opts, k + 5, v))
                rc = tk_errf(err, TK_ENOMEM, "out of memory");
        } else {
            rc = tk_errf(err, TK_EINVAL,
                         "unknown parameter '%s' (known: Name, HomeRegion, EventRW, TrailRegion, "
                         "EventTypes, OssBucketName, OssKeyPrefix, IsOrganizationTrail, "
                         "DestinationType, Dest.<option>)", k);
        }
    }
    if (!rc && !dest_given && bucket_given && t->oss_bucket[0] && !t->dest_type[0])
        snprintf(t->dest_type, sizeof t->dest_type, "s3");
    if (!rc && !t->dest_type[0])
        rc = tk_errf(err, TK_EINVAL,
                     "the trail has no destination: give OssBucketName (S3/OSS) or "
                     "DestinationType (folder, s3)");
    if (!rc) {
        char *s = cJSON_PrintUnformatted(opts);
        if (!s)
            rc = tk_errf(err, TK_ENOMEM, "out of memory");
        else if (strlen(s) >= sizeof t->dest_options)
            rc = tk_errf(err, TK_ETOOBIG, "destination options are longer than %zu bytes",
                         sizeof t->dest_options - 1);
        else
            snprintf(t->dest_options, sizeof t->dest_options, "%s", s);
        free(s);
    }
    cJSON_Delete(opts);
    if (!rc)
        /* Syntax, then the operator's policy (egress, folder roots): 400 over the API. */
        rc = tk_dest_check(tk_dest_find(t->dest_type), t->dest_options, err);
    if (!rc && !strcmp(t->dest_type, "s3") && !t->oss_bucket[0]) {
        /* The bucket may come from the destination options instead. */
        cJSON *o = cJSON_Parse(t->dest_options);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "bucket");
        if (!cJSON_IsString(b) || !b->valuestring[0])
            rc = tk_errf(err, TK_EINVAL, "an s3 destination needs OssBucketName (or Dest.bucket)");
        cJSON_Delete(o);
    }
    return rc;
}

/* ---- the audit event of each call --------------------------------------------------- */

/* Records eventName for trail `name` as an ActionTrail event of the caller's
 * account; error_code "" on success. Failing to record is reported (the
 * change itself stands: meta.db is already committed). */
static int record(tk_store_t *store, const tk_trail_caller_t *c, const char *region,
                  const char *event_name, const char *name, const tk_trail_param_t *p, size_t n,
                  const char *error_code, const char *error_msg, char *err)
{
    if (!store)
        return 0;
    tk_buf_t b = TK_BUF_INIT;
    char now[32], id[37], rid[37];
    tk_time_format(tk_now_ms(), 1, now);
    tk_uuid4(id);
    tk_uuid4(rid);
    for (char *q = rid; *q; q++)
        *q = (char)toupper((unsigned char)*q);
    int rw_read = !strncmp(event_name, "Describe", 8) || !strncmp(event_name, "Get", 3);
    tk_buf_printf(&b, "{\"eventVersion\":\"1\",\"eventId\":\"%s\",\"eventTime\":\"%s\","
                      "\"eventCategory\":\"Management\",\"eventType\":\"ApiCall\","
                      "\"eventRW\":\"%s\",\"eventSource\":\"actiontrail.aliyuncs.com\","
                      "\"serviceName\":\"ActionTrail\",\"eventName\":\"%s\",\"acsRegion\":",
                  id, now, rw_read ? "Read" : "Write", event_name);
    tk_buf_put_json_str(&b, region && *region ? region : "cn-hangzhou",
                        strlen(region && *region ? region : "cn-hangzhou"));
    tk_buf_printf(&b, ",\"requestId\":\"%s\",\"apiVersion\":\"2020-07-06\",\"sourceIpAddress\":",
                  rid);
    const char *ip = c->source_ip && *c->source_ip ? c->source_ip : "Internal";
    tk_buf_put_json_str(&b, ip, strlen(ip));
    const char *ua = c->user_agent && *c->user_agent ? c->user_agent : "trailkeep";
    tk_buf_puts(&b, ",\"userAgent\":");
    tk_buf_put_json_str(&b, ua, strlen(ua));
    tk_buf_puts(&b, ",\"userIdentity\":{\"type\":");
    if (c->key_id && *c->key_id) {
        tk_buf_puts(&b, "\"ram-user\",\"principalId\":");
        tk_buf_put_json_str(&b, c->key_id, strlen(c->key_id));
        tk_buf_puts(&b, ",\"accessKeyId\":");
        tk_buf_put_json_str(&b, c->key_id, strlen(c->key_id));
        tk_buf_puts(&b, ",\"userName\":");
        tk_buf_put_json_str(&b, c->key_id, strlen(c->key_id));
    } else {
        tk_buf_puts(&b, "\"root-account\",\"principalId\":");
        tk_buf_put_json_str(&b, c->account, strlen(c->account));
        tk_buf_puts(&b, ",\"userName\":\"root\"");
    }
    tk_buf_puts(&b, ",\"accountId\":");
    tk_buf_put_json_str(&b, c->account, strlen(c->account));
    tk_buf_puts(&b, "},\"requestParameters\":{\"Name\":");
    tk_buf_put_json_str(&b, name, strlen(name));
    for (size_t i = 0; i < n; i++) {
        /* Destination secrets never reach the audit log. */
        if (!strcmp(p[i].name, "Name") || strstr(p[i].name, "secret"))
            continue;
        tk_buf_putc(&b, ',');
        tk_buf_put_json_str(&b, p[i].name, strlen(p[i].name));
        tk_buf_putc(&b, ':');
        tk_buf_put_json_str(&b, p[i].value ? p[i].value : "", strlen(p[i].value ? p[i].value : ""));
    }
    tk_buf_puts(&b, "},\"errorCode\":");
    tk_buf_put_json_str(&b, error_code, strlen(error_code));
    tk_buf_puts(&b, ",\"errorMessage\":");
    tk_buf_put_json_str(&b, error_msg, strlen(error_msg));
    tk_buf_puts(&b, ",\"resourceType\":\"ACS::ActionTrail::Trail\",\"resourceName\":");
    tk_buf_put_json_str(&b, name, strlen(name));
    tk_buf_puts(&b, ",\"referencedResources\":{\"ACS::ActionTrail::Trail\":[");
    tk_buf_put_json_str(&b, name, strlen(name));
    tk_buf_puts(&b, "]},\"isGlobal\":false,\"recipientAccountId\":");
    tk_buf_put_json_str(&b, c->account, strlen(c->account));
    int rc = tk_buf_putc(&b, '}');
    tk_batch_t *batch = tk_batch_create();
    if (rc || !batch) {
        tk_batch_destroy(batch);
        tk_buf_free(&b);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    tk_parse_opts_t po = {.format = TK_FMT_ACTIONTRAIL};
    char e2[TK_ERRLEN] = "";
    rc = tk_event_parse(batch, b.p, b.len, &po, e2);
    if (!rc && tk_batch_count(batch) != 1)
        rc = tk_errf(e2, TK_EINVAL, "%s",
                     tk_batch_reject_count(batch) ? tk_batch_rejects(batch)[0].message : "no event");
    if (!rc)
        rc = tk_store_append(store, tk_batch_events(batch), 1, NULL, NULL, e2);
    tk_batch_destroy(batch);
    tk_buf_free(&b);
    if (rc)
        return tk_errf(err, rc, "%s of trail '%s' done, but its ActionTrail event was not recorded: %s",
                       event_name, name, e2);
    return 0;
}

static const char *error_code_of(int rc)
{
    switch (rc) {
    case TK_EINVAL: return "InvalidParameter";
    case TK_EEXIST: return "TrailAlreadyExists";
    case TK_ENOTFOUND: return "TrailNotFound";
    case TK_EPERM: return "Forbidden";
    case TK_ETOOBIG: return "MaxTrailsExceeded";
    default: return "InternalError";
    }
}

/* Records the call (success or refusal) and returns rc, keeping err's
 * message for a refusal; a failure to record only surfaces on success. */
static int finish(tk_store_t *store, const tk_trail_caller_t *c, const char *region,
                  const char *event_name, const char *name, const tk_trail_param_t *p, size_t n,
                  int rc, char *err)
{
    char e2[TK_ERRLEN] = "";
    int rrc = record(store, c, region, event_name, name ? name : "", p, n,
                     rc ? error_code_of(rc) : "", rc ? err : "", e2);
    if (!rc && rrc)
        return tk_errf(err, rrc, "%s", e2);
    return rc;
}

/* ---- meta access --------------------------------------------------------------------- */

static int ensure_schema(tk_meta_t *m, char *err)
{
    return tk_trail_schema(m, err) < 0 ? TK_EIO : 0;
}

static int is_management(tk_meta_t *m, const char *account)
{
    char org[64], mgmt[64], e[TK_ERRLEN];
    return tk_meta_org_get(m, org, mgmt, e) == 0 && !strcmp(mgmt, account);
}

/* Loads (account, name). With visible_org, an org trail of the management
 * account is found for a member too. */
static int load(tk_meta_t *m, const char *account, const char *name, int visible_org,
                tk_trail_t *t, char *err)
{
    char org[64] = "", mgmt[64] = "", e[TK_ERRLEN];
    int have_org = visible_org && tk_meta_org_get(m, org, mgmt, e) == 0 &&
                   tk_meta_org_can_see(m, mgmt, account);
    sqlite3 *db = tk_meta_lock(m);
    sqlite3_stmt *st = NULL;
    int rc = TK_ENOTFOUND;
    if (sqlite3_prepare_v2(db,
                           "SELECT " TRAIL_COLS " FROM trails WHERE name = ?2 AND (account = ?1"
                           " OR (is_org = 1 AND account = ?3)) ORDER BY account = ?1 DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_err(db, err, "reading trails");
        tk_meta_unlock(m);
        return rc;
    }
    sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, have_org ? mgmt : "", -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        rc = row_to_trail(m, st, t, err);
    } else if (s != SQLITE_DONE) {
        rc = db_err(db, err, "reading trails");
    }
    sqlite3_finalize(st);
    tk_meta_unlock(m);
    if (rc == TK_ENOTFOUND)
        tk_errf(err, rc, "trail '%s' does not exist in account %s (see DescribeTrails)", name,
                account);
    return rc;
}

/* Writes every configuration column of t. insert: also the checkpoint. */
static int save(tk_meta_t *m, const tk_trail_t *t, int insert, uint64_t next_seq, char *err)
{
    char *opts = malloc(sizeof t->dest_options * 3); /* sealing grows a value by 4/3 + 40 */
    int rc = opts ? dest_secrets(m, t, 1, opts, sizeof t->dest_options * 3, err)
                  : tk_errf(err, TK_ENOMEM, "out of memory");
    if (rc) {
        free(opts);
        return rc;
    }
    sqlite3 *db = tk_meta_lock(m);
    sqlite3_stmt *st = NULL;
    const char *sql =
        insert ? "INSERT INTO trails(" TRAIL_COLS ", next_seq) VALUES"
                 "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)"
               : "UPDATE trails SET home_region=?3, event_rw=?4, trail_region=?5, event_types=?6,"
                 " oss_bucket=?7, oss_prefix=?8, dest_type=?9, dest_options=?10, is_org=?11,"
                 " is_logging=?12, created_ms=?13, updated_ms=?14, start_ms=?15, stop_ms=?16"
                 " WHERE account=?1 AND name=?2";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = db_err(db, err, "writing a trail");
        tk_meta_unlock(m);
        free(opts);
        return rc;
    }
    const char *txt[] = {t->account, t->name, t->home_region, t->event_rw, t->trail_region,
                         t->event_types, t->oss_bucket, t->oss_prefix, t->dest_type, opts};
    for (int i = 0; i < 10; i++)
        sqlite3_bind_text(st, i + 1, txt[i], -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 11, t->is_org);
    sqlite3_bind_int(st, 12, t->is_logging);
    sqlite3_bind_int64(st, 13, t->created_ms);
    sqlite3_bind_int64(st, 14, t->updated_ms);
    sqlite3_bind_int64(st, 15, t->start_logging_ms);
    sqlite3_bind_int64(st, 16, t->stop_logging_ms);
    if (insert)
        sqlite3_bind_int64(st, 17, (sqlite3_int64)next_seq);
    int s = sqlite3_step(st);
    if (s == SQLITE_CONSTRAINT)
        rc = tk_errf(err, TK_EEXIST, "trail '%s' already exists in account %s", t->name,
                     t->account);
    else if (s != SQLITE_DONE)
        rc = db_err(db, err, "writing a trail");
    sqlite3_finalize(st);
    tk_meta_unlock(m);
    memset(opts, 0, strlen(opts));
    free(opts);
    return rc;
}

/* Counts trails of account (single-account) and org trails overall. */
static int count_trails(tk_meta_t *m, const char *account, int *own, int *org, char *err)
{
    sqlite3 *db = tk_meta_lock(m);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT SUM(account = ?1 AND is_org = 0), SUM(is_org = 1) FROM trails",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_err(db, err, "counting trails");
    } else {
        sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *own = sqlite3_column_int(st, 0);
            *org = sqlite3_column_int(st, 1);
        } else {
            rc = db_err(db, err, "counting trails");
        }
    }
    sqlite3_finalize(st);
    tk_meta_unlock(m);
    return rc;
}

/* ---- the API ------------------------------------------------------------------------- */

static const char *param(const tk_trail_param_t *p, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(p[i].name, name))
            return p[i].value ? p[i].value : "";
    return NULL;
}

int tk_trail_create(tk_meta_t *m, tk_store_t *store, const tk_trail_caller_t *c,
                    const tk_trail_param_t *p, size_t n, tk_trail_t *out, char *err)
{
    const char *name = param(p, n, "Name");
    tk_trail_t t;
    memset(&t, 0, sizeof t);
    snprintf(t.account, sizeof t.account, "%s", c->account);
    snprintf(t.home_region, sizeof t.home_region, "cn-hangzhou");
    snprintf(t.event_rw, sizeof t.event_rw, "Write");
    snprintf(t.trail_region, sizeof t.trail_region, "All");
    int rc = ensure_schema(m, err);
    if (!rc && !name)
        rc = tk_errf(err, TK_EINVAL, "Name is required");
    if (!rc)
        rc = apply_params(&t, p, n, 1, err);
    int own = 0, org = 0;
    if (!rc)
        rc = count_trails(m, c->account, &own, &org, err);
    if (!rc && t.is_org && !is_management(m, c->account))
        rc = tk_errf(err, TK_EPERM,
                     "only the organization's management account can create an organization "
                     "trail (account %s is not)", c->account);
    if (!rc && t.is_org && org >= TK_TRAIL_MAX_ORG)
        rc = tk_errf(err, TK_ETOOBIG, "an organization trail exists already (limit %d)",
                     TK_TRAIL_MAX_ORG);
    if (!rc && !t.is_org && own >= TK_TRAIL_MAX_PER_ACCOUNT)
        rc = tk_errf(err, TK_ETOOBIG,
                     "account %s has %d trails already (limit %d): delete one first", c->account,
                     own, TK_TRAIL_MAX_PER_ACCOUNT);
    if (!rc) {
        t.created_ms = t.updated_ms = tk_now_ms();
        /* The trail delivers what is recorded from now on, its own
         * CreateTrail event included. */
        uint64_t next = store ? tk_store_last_seq(store) + 1 : 1;
        rc = save(m, &t, 1, next, err);
        if (!rc && store) {
            char cons[160];
            trail_consumer_name(t.account, t.name, cons, sizeof cons);
            tk_store_log_retain(store, cons, next);
        }
    }
    rc = finish(store, c, t.home_region, "CreateTrail", name, p, n, rc, err);
    if (!rc && out)
        *out = t;
    return rc;
}

int tk_trail_update(tk_meta_t *m, tk_store_t *store, const tk_trail_caller_t *c,
                    const tk_trail_param_t *p, size_t n, tk_trail_t *out, char *err)
{
    const char *name = param(p, n, "Name");
    tk_trail_t t;
    memset(&t, 0, sizeof t);
    int rc = ensure_schema(m, err);
    if (!rc && !name)
        rc = tk_errf(err, TK_EINVAL, "Name is required");
    if (!rc)
        rc = load(m, c->account, name, 0, &t, err);
    if (!rc)
        rc = apply_params(&t, p, n, 0, err);
    if (!rc) {
        t.updated_ms = tk_now_ms();
        rc = save(m, &t, 0, 0, err);
    }
    rc = finish(store, c, t.home_region, "UpdateTrail", name, p, n, rc, err);
    if (!rc && out)
        *out = t;
    return rc;
}

int tk_trail_delete(tk_meta_t *m, tk_store_t *store, const tk_trail_caller_t *c,
                    const char *name, char *err)
{
    tk_trail_t t;
    memset(&t, 0, sizeof t);
    int rc = ensure_schema(m, err);
    if (!rc)
        rc = load(m, c->account, name, 0, &t, err);
    if (!rc) {
        sqlite3 *db = tk_meta_lock(m);
        char *sql = sqlite3_mprintf("BEGIN; DELETE FROM trails WHERE account=%Q AND name=%Q;"
                                    " DELETE FROM trail_files WHERE account=%Q AND trail=%Q; COMMIT;",
                                    t.account, t.name, t.account, t.name);
        if (!sql || sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
            rc = db_err(db, err, "deleting a trail");
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        }
        sqlite3_free(sql);
        tk_meta_unlock(m);
        if (!rc && store) {
            /* Release the log this trail was holding. */
            char cons[160];
            trail_consumer_name(t.account, t.name, cons, sizeof cons);
            tk_store_log_retain(store, cons, UINT64_MAX);
        }
    }
    tk_trail_param_t np = {"Name", name};
    return finish(store, c, t.home_region, "DeleteTrail", name, &np, 1, rc, err);
}

static int set_logging(tk_meta_t *m, tk_store_t *store, const tk_trail_caller_t *c,
                       const char *name, int on, char *err)
{
    tk_trail_t t;
    memset(&t, 0, sizeof t);
    int rc = ensure_schema(m, err);
    if (!rc)
        rc = load(m, c->account, name, 0, &t, err);
    if (!rc && t.is_logging != on) {
        t.is_logging = on;
        if (on)
            t.start_logging_ms = tk_now_ms();
        else
            t.stop_logging_ms = tk_now_ms();
        rc = save(m, &t, 0, 0, err);
    }
    tk_trail_param_t np = {"Name", name};
    return finish(store, c, t.home_region, on ? "StartLogging" : "StopLogging", name, &np, 1, rc,
                  err);
}

int tk_trail_start_logging(tk_meta_t *m, tk_store_t *store, const tk_trail_caller_t *c,
                           const char *name, char *err)
{
    return set_logging(m, store, c, name, 1, err);
}

int tk_trail_stop_logging(tk_meta_t *m, tk_store_t *store, const tk_trail_caller_t *c,
                          const char *name, char *err)
{
    return set_logging(m, store, c, name, 0, err);
}

int tk_trail_get(tk_meta_t *m, const char *account, const char *name, tk_trail_t *out, char *err)
{
    int rc = ensure_schema(m, err);
    return rc ? rc : load(m, account, name, 1, out, err);
}

int tk_trail_describe(tk_meta_t *m, const char *account, const char *name,
                      void (*cb)(void *ud, const tk_trail_t *t), void *ud, char *err)
{
    int rc = ensure_schema(m, err);
    if (rc)
        return rc;
    char org[64] = "", mgmt[64] = "", e[TK_ERRLEN];
    int have_org = tk_meta_org_get(m, org, mgmt, e) == 0 && tk_meta_org_can_see(m, mgmt, account);
    sqlite3 *db = tk_meta_lock(m);
    sqlite3_stmt *st = NULL;
    tk_trail_t *v = NULL;
    size_t nv = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT " TRAIL_COLS " FROM trails WHERE (account = ?1 OR (is_org = 1"
                           " AND account = ?2)) AND (?3 IS NULL OR name = ?3) ORDER BY account, name",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_err(db, err, "reading trails");
    } else {
        sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, have_org ? mgmt : "", -1, SQLITE_STATIC);
        if (name)
            sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 3);
        int s;
        while ((s = sqlite3_step(st)) == SQLITE_ROW) {
            tk_trail_t *nv2 = realloc(v, (nv + 1) * sizeof *v);
            if (!nv2) {
                rc = tk_errf(err, TK_ENOMEM, "out of memory");
                break;
            }
            v = nv2;
            if ((rc = row_to_trail(m, st, &v[nv++], err)))
                break;
        }
        if (!rc && s != SQLITE_DONE)
            rc = db_err(db, err, "reading trails");
    }
    sqlite3_finalize(st);
    tk_meta_unlock(m);
    for (size_t i = 0; i < nv && !rc; i++)
        cb(ud, &v[i]);
    free(v);
    return rc;
}

/* ---- backlog: the trail's own events after its checkpoint ---- */
#define BACKLOG_SCAN_MAX 262144 /* log entries read per status: bounds its cost */

typedef struct backlog_ctx {
    const char *account;
    char **members; /* org trail: every member (owned), else NULL */
    size_t nmembers;
    uint64_t n;
    int nomem;
} backlog_ctx_t;

static void backlog_member(void *ud, const char *account)
{
    backlog_ctx_t *c = ud;
    char **v = realloc(c->members, (c->nmembers + 1) * sizeof *v);
    char *d = strdup(account);
    if (v)
        c->members = v;
    if (!v || !d) {
        free(d);
        c->nomem = 1;
        return;
    }
    v[c->nmembers++] = d;
}

static int backlog_cb(void *ud, const tk_stored_event_t *ev)
{
    backlog_ctx_t *c = ud;
    if (!c->members) {
        c->n += ev->account.len == strlen(c->account) &&
                !memcmp(ev->account.p, c->account, ev->account.len);
        return 0;
    }
    for (size_t i = 0; i < c->nmembers; i++)
        if (ev->account.len == strlen(c->members[i]) &&
            !memcmp(ev->account.p, c->members[i], ev->account.len)) {
            c->n++;
            break;
        }
    return 0;
}

/* Events after the checkpoint that belong to the trail's account (an org
 * trail: to the organization's members), never other tenants': a global
 * count would tell every account how much the others write. Reads at most
 * BACKLOG_SCAN_MAX log entries, so past that it is a lower bound. */
static uint64_t backlog_count(tk_meta_t *m, tk_store_t *store, const tk_trail_t *t,
                              uint64_t from_seq)
{
    backlog_ctx_t c = {.account = t->account};
    char err[TK_ERRLEN];
    if (t->is_org) {
        char org[64], mgmt[64];
        if (tk_meta_org_get(m, org, mgmt, err) == 0 && !strcmp(mgmt, t->account))
            tk_meta_org_members(m, backlog_member, &c, err);
        if (!c.members)
            c.members = calloc(1, sizeof *c.members); /* no org: nobody's events */
    }
    if (!c.nomem && (!t->is_org || c.members))
        tk_store_log_read(store, from_seq, BACKLOG_SCAN_MAX, backlog_cb, &c, err);
    for (size_t i = 0; i < c.nmembers; i++)
        free(c.members[i]);
    free(c.members);
    return c.n;
}

int tk_trail_get_status(tk_meta_t *m, tk_store_t *store, const char *account, const char *name,
                        tk_trail_status_t *out, char *err)
{
    tk_trail_t t;
    int rc = tk_trail_get(m, account, name, &t, err);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    sqlite3 *db = tk_meta_lock(m);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT is_logging, start_ms, stop_ms, last_delivery_ms, last_error,"
                           " last_error_ms, next_seq, delivered_events, delivered_files FROM trails"
                           " WHERE account = ?1 AND name = ?2",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_err(db, err, "reading trail status");
    } else {
        sqlite3_bind_text(st, 1, t.account, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, t.name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            out->is_logging = sqlite3_column_int(st, 0);
            out->start_logging_ms = sqlite3_column_int64(st, 1);
            out->stop_logging_ms = sqlite3_column_int64(st, 2);
            out->latest_delivery_ms = sqlite3_column_int64(st, 3);
            cpy(out->latest_delivery_error, sizeof out->latest_delivery_error,
                sqlite3_column_text(st, 4));
            out->latest_error_ms = sqlite3_column_int64(st, 5);
            out->checkpoint_seq = (uint64_t)sqlite3_column_int64(st, 6);
            out->delivered_events = (uint64_t)sqlite3_column_int64(st, 7);
            out->delivered_files = (uint64_t)sqlite3_column_int64(st, 8);
        } else {
            rc = tk_errf(err, TK_ENOTFOUND, "trail '%s' was deleted meanwhile", name);
        }
    }
    sqlite3_finalize(st);
    tk_meta_unlock(m);
    if (!rc && store)
        out->backlog = backlog_count(m, store, &t, out->checkpoint_seq);
    return rc;
}

int trail_load_all(tk_meta_t *m, trail_row_t **out, size_t *n, char *err)
{
    *out = NULL;
    *n = 0;
    int rc = ensure_schema(m, err);
    if (rc)
        return rc;
    sqlite3 *db = tk_meta_lock(m);
    sqlite3_stmt *st = NULL;
    trail_row_t *v = NULL;
    size_t nv = 0;
    if (sqlite3_prepare_v2(db, "SELECT " TRAIL_COLS ", next_seq, pending_to, pending_max FROM trails"
                               " ORDER BY account, name", -1, &st, NULL) != SQLITE_OK) {
        rc = db_err(db, err, "reading trails");
    } else {
        int s;
        while ((s = sqlite3_step(st)) == SQLITE_ROW) {
            trail_row_t *nv2 = realloc(v, (nv + 1) * sizeof *v);
            tk_trail_t *t = malloc(sizeof *t);
            if (nv2)
                v = nv2;
            if (!nv2 || !t) {
                free(t);
                rc = tk_errf(err, TK_ENOMEM, "out of memory");
                break;
            }
            v[nv].t = t;
            if ((rc = row_to_trail(m, st, t, err))) {
                nv++; /* freed with the rest */
                break;
            }
            v[nv].next_seq = (uint64_t)sqlite3_column_int64(st, 16);
            v[nv].pending_to = (uint64_t)sqlite3_column_int64(st, 17);
            v[nv].pending_max = (size_t)sqlite3_column_int64(st, 18);
            nv++;
        }
        if (!rc && s != SQLITE_DONE)
            rc = db_err(db, err, "reading trails");
    }
    sqlite3_finalize(st);
    tk_meta_unlock(m);
    if (rc) {
        trail_rows_free(v, nv);
        return rc;
    }
    *out = v;
    *n = nv;
    return 0;
}

void trail_rows_free(trail_row_t *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].t);
    free(v);
}

int trail_key_register(tk_meta_t *m, const char *fingerprint, const char *pem, char *err)
{
    int rc = ensure_schema(m, err);
    if (rc)
        return rc;
    sqlite3 *db = tk_meta_lock(m);
    char *sql = sqlite3_mprintf("INSERT OR IGNORE INTO trail_keys VALUES(%Q, %Q, %lld)", fingerprint,
                                pem, (long long)tk_now_ms());
    if (!sql || sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        rc = db_err(db, err, "registering the digest key");
    sqlite3_free(sql);
    tk_meta_unlock(m);
    return rc;
}

int tk_trail_public_keys(tk_meta_t *m, tk_buf_t *out, char *err)
{
    int rc = ensure_schema(m, err);
    if (rc)
        return rc;
    sqlite3 *db = tk_meta_lock(m);
    sqlite3_stmt *st = NULL;
    tk_buf_puts(out, "[");
    if (sqlite3_prepare_v2(db, "SELECT fingerprint, pem, created_ms FROM trail_keys ORDER BY created_ms",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_err(db, err, "reading digest keys");
    } else {
        int n = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *fp = (const char *)sqlite3_column_text(st, 0);
            const char *pem = (const char *)sqlite3_column_text(st, 1);
            tk_buf_puts(out, n++ ? ",{" : "{");
            put_kv(out, "Fingerprint", fp ? fp : "", 0);
            put_kv(out, "PublicKey", pem ? pem : "", 1);
            put_kv(out, "Algorithm", "Ed25519", 1);
            put_time(out, "CreateTime", sqlite3_column_int64(st, 2));
            tk_buf_putc(out, '}');
        }
    }
    sqlite3_finalize(st);
    tk_meta_unlock(m);
    if (tk_buf_putc(out, ']'))
        rc = tk_errf(err, TK_ENOMEM, "out of memory");
    return rc;
}

int tk_trail_backlogs(tk_meta_t *m, tk_store_t *store,
                      void (*cb)(void *ud, const tk_trail_t *t, const tk_trail_status_t *st),
                      void *ud, char *err)
{
    trail_row_t *rows;
    size_t n;
    int rc = trail_load_all(m, &rows, &n, err);
    for (size_t i = 0; !rc && i < n; i++) {
        tk_trail_status_t st;
        if (tk_trail_get_status(m, store, rows[i].t->account, rows[i].t->name, &st, err) == 0)
            cb(ud, rows[i].t, &st);
    }
    if (!rc)
        trail_rows_free(rows, n);
    return rc;
}

void trail_consumer_name(const char *account, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "trail:%s:%s", account, name);
}

/* ---- JSON ------------------------------------------------------------------------------ */

static void put_kv(tk_buf_t *b, const char *k, const char *v, int comma)
{
    if (comma)
        tk_buf_putc(b, ',');
    tk_buf_put_json_str(b, k, strlen(k));
    tk_buf_putc(b, ':');
    tk_buf_put_json_str(b, v, strlen(v));
}

static void put_time(tk_buf_t *b, const char *k, int64_t ms)
{
    char ts[32] = "";
    if (ms)
        tk_time_format(ms, 0, ts);
    tk_buf_putc(b, ',');
    tk_buf_put_json_str(b, k, strlen(k));
    if (ms)
        tk_buf_printf(b, ":\"%s\"", ts);
    else
        tk_buf_puts(b, ":null");
}

int tk_trail_to_json(const tk_trail_t *t, tk_buf_t *out)
{
    tk_buf_putc(out, '{');
    put_kv(out, "Name", t->name, 0);
    put_kv(out, "HomeRegion", t->home_region, 1);
    /* Region, account and name are validated to [A-Za-z0-9_-]: no escaping needed. */
    tk_buf_printf(out, ",\"TrailARN\":\"acs:actiontrail:%s:%s:trail/%s\"", t->home_region,
                  t->account, t->name);
    put_kv(out, "EventRW", t->event_rw, 1);
    put_kv(out, "TrailRegion", t->trail_region, 1);
    put_kv(out, "EventTypes", t->event_types[0] ? t->event_types : "All", 1);
    put_kv(out, "OssBucketName", t->oss_bucket, 1);
    put_kv(out, "OssKeyPrefix", t->oss_prefix, 1);
    put_kv(out, "DestinationType", t->dest_type, 1);
    /* Options as stored, secrets masked. */
    tk_buf_puts(out, ",\"DestinationOptions\":{");
    cJSON *o = cJSON_Parse(t->dest_options);
    int first = 1;
    for (cJSON *it = o ? o->child : NULL; it; it = it->next) {
        if (!cJSON_IsString(it))
            continue;
        put_kv(out, it->string, strstr(it->string, "secret") ? "******" : it->valuestring, !first);
        first = 0;
    }
    cJSON_Delete(o);
    tk_buf_putc(out, '}');
    tk_buf_printf(out, ",\"IsOrganizationTrail\":%s", t->is_org ? "true" : "false");
    put_kv(out, "Status", t->is_logging ? "Enable" : "Disable", 1);
    put_kv(out, "AccountId", t->account, 1);
    put_time(out, "CreateTime", t->created_ms);
    put_time(out, "UpdateTime", t->updated_ms);
    put_time(out, "StartLoggingTime", t->start_logging_ms);
    put_time(out, "StopLoggingTime", t->stop_logging_ms);
    return tk_buf_putc(out, '}');
}

int tk_trail_status_to_json(const tk_trail_status_t *s, tk_buf_t *out)
{
    tk_buf_printf(out, "{\"IsLogging\":%s", s->is_logging ? "true" : "false");
    put_time(out, "StartLoggingTime", s->start_logging_ms);
    put_time(out, "StopLoggingTime", s->stop_logging_ms);
    put_time(out, "LatestDeliveryTime", s->latest_delivery_ms);
    put_kv(out, "LatestDeliveryError", s->latest_delivery_error, 1);
    put_time(out, "LatestDeliveryErrorTime", s->latest_error_ms);
    return tk_buf_printf(out,
                         ",\"CheckpointSeq\":%" PRIu64 ",\"Backlog\":%" PRIu64
                         ",\"DeliveredEvents\":%" PRIu64 ",\"DeliveredFiles\":%" PRIu64 "}",
                         s->checkpoint_seq, s->backlog, s->delivered_events, s->delivered_files);
}

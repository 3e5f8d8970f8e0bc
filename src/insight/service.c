/* trailkeep Insights service (service.h): the settings in meta.db and the
 * consumer thread of `serve`. The aggregates are a cache rebuilt from the
 * store at every start (up to the log's end at that moment, seq L); the log
 * is then read from L + 1, so no event is counted twice. Emitted records are
 * appended with tk_store_append and come back through the log, where they are
 * skipped: Insights learn from activity, not from their own output. */
#define _GNU_SOURCE
#include "insight/service.h"

#include "base/tk.h"
#include "base/tktime.h"
#include "event/parse.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONSUMER "insights"

/* ------------------------------------------------------------ settings */

static const tk_meta_migration_t steps[] = {
    {1, "CREATE TABLE insight_kv(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
        "CREATE TABLE insight_settings(account TEXT PRIMARY KEY, disabled TEXT NOT NULL,"
        " sensitivity TEXT NOT NULL, overrides TEXT NOT NULL, updated_ms INTEGER NOT NULL);"},
};

int tk_insight_schema(tk_meta_t *m, char *err)
{
    return tk_meta_migrate(m, "insight", steps, TK_ARRAY_LEN(steps), err);
}

static const char *const sens_names[] = {"low", "medium", "high"};

int tk_insight_sensitivity_parse(const char *name)
{
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, sens_names[i]))
            return i;
    return -1;
}

const char *tk_insight_sensitivity_name(int s)
{
    return s >= 0 && s < 3 ? sens_names[s] : "medium";
}

void tk_insight_settings_default(const char *account, tk_insight_settings_t *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->account, sizeof out->account, "%s", account ? account : "");
    for (int d = 0; d < TK_INSIGHT_NDET; d++)
        out->enabled[d] = 1;
    out->sensitivity = TK_INSIGHT_SENS_MEDIUM;
}

int tk_insight_settings_config(const tk_insight_settings_t *s, tk_insight_config_t *cfg, char *err)
{
    tk_insight_config_default(cfg);
    int sv = s->sensitivity >= 0 && s->sensitivity < 3 ? s->sensitivity : 1;
    for (int d = 0; d < TK_INSIGHT_NDET; d++) {
        double a = cfg->knobs[d].alpha;
        a = sv == TK_INSIGHT_SENS_LOW ? a / 100 : sv == TK_INSIGHT_SENS_HIGH ? a * 100 : a;
        cfg->knobs[d].alpha = a > 0.5 ? 0.5 : a < 1e-12 ? 1e-12 : a;
        if (!s->enabled[d])
            cfg->knobs[d].enabled = 0;
    }
    char buf[TK_INSIGHT_OVERRIDES_LEN];
    snprintf(buf, sizeof buf, "%s", s->overrides);
    char *save = NULL;
    for (char *t = strtok_r(buf, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
        int rc = tk_insight_config_set(cfg, t, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* Calls fn for each comma-separated type name ("*" = all); TK_EINVAL on an unknown one. */
static int each_type(const char *list, int *flags, int value, char *err)
{
    if (!list)
        return 0;
    char *dup = strdup(list), *save = NULL;
    if (!dup)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    int rc = 0;
    for (char *t = strtok_r(dup, ", ", &save); t && !rc; t = strtok_r(NULL, ", ", &save)) {
        if (!strcmp(t, "*")) {
            for (int d = 0; d < TK_INSIGHT_NDET; d++)
                flags[d] = value;
            continue;
        }
        int d = tk_insight_detector_find(t);
        if (d < 0)
            rc = tk_errf(err, TK_EINVAL,
                         "unknown Insights type '%.60s' (see trailkeep insights types; '*' = all)", t);
        else
            flags[d] = value;
    }
    free(dup);
    return rc;
}

int tk_insight_settings_edit(tk_insight_settings_t *s, const char *enable, const char *disable,
                             const char *sensitivity, const char *const *sets, size_t nsets,
                             int replace_sets, char *err)
{
    tk_insight_settings_t n = *s;
    int rc = each_type(enable, n.enabled, 1, err);
    if (!rc)
        rc = each_type(disable, n.enabled, 0, err);
    if (rc)
        return rc;
    if (sensitivity) {
        int sv = tk_insight_sensitivity_parse(sensitivity);
        if (sv < 0)
            return tk_errf(err, TK_EINVAL, "sensitivity '%.40s' must be low, medium or high",
                           sensitivity);
        n.sensitivity = sv;
    }
    if (replace_sets)
        n.overrides[0] = 0;
    for (size_t i = 0; i < nsets; i++) {
        if (strchr(sets[i], ';'))
            return tk_errf(err, TK_EINVAL, "override '%.60s' must not contain ';'", sets[i]);
        tk_insight_config_t cfg;
        tk_insight_config_default(&cfg);
        if ((rc = tk_insight_config_set(&cfg, sets[i], err)))
            return rc;
        size_t len = strlen(n.overrides);
        if (len + strlen(sets[i]) + 2 > sizeof n.overrides)
            return tk_errf(err, TK_ETOOBIG, "too many overrides (at most %d characters in all)",
                           TK_INSIGHT_OVERRIDES_LEN - 1);
        snprintf(n.overrides + len, sizeof n.overrides - len, "%s%s", len ? ";" : "", sets[i]);
    }
    tk_insight_config_t cfg;
    if ((rc = tk_insight_settings_config(&n, &cfg, err)))
        return rc;
    *s = n;
    return 0;
}

static void row_to_settings(sqlite3_stmt *st, tk_insight_settings_t *out)
{
    const char *acc = (const char *)sqlite3_column_text(st, 0);
    tk_insight_settings_default(acc, out);
    char e[TK_ERRLEN];
    each_type((const char *)sqlite3_column_text(st, 1), out->enabled, 0, e);
    int sv = tk_insight_sensitivity_parse((const char *)sqlite3_column_text(st, 2));
    out->sensitivity = sv < 0 ? TK_INSIGHT_SENS_MEDIUM : sv;
    const char *ov = (const char *)sqlite3_column_text(st, 3);
    snprintf(out->overrides, sizeof out->overrides, "%s", ov ? ov : "");
    out->updated_ms = sqlite3_column_int64(st, 4);
}

int tk_insight_settings_get(tk_meta_t *m, const char *account, tk_insight_settings_t *out, char *err)
{
    tk_insight_settings_default(account, out);
    int rc = tk_insight_schema(m, err);
    if (rc)
        return rc;
    sqlite3 *db = tk_meta_lock(m);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT account, disabled, sensitivity, overrides, updated_ms FROM"
                               " insight_settings WHERE account=?",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = tk_errf(err, TK_EIO, "meta.db: reading Insights settings: %s", sqlite3_errmsg(db));
    } else {
        sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            row_to_settings(st, out);
    }
    sqlite3_finalize(st);
    tk_meta_unlock(m);
    return rc;
}

int tk_insight_settings_put(tk_meta_t *m, tk_insight_settings_t *in, char *err)
{
    tk_insight_config_t cfg;
    int rc = tk_insight_settings_config(in, &cfg, err);
    if (!rc)
        rc = tk_insight_schema(m, err);
    if (rc)
        return rc;
    if (!in->account[0])
        return tk_errf(err, TK_EINVAL, "Insights settings need an account");
    char disabled[512] = "";
    size_t off = 0;
    for (int d = 0; d < TK_INSIGHT_NDET; d++)
        if (!in->enabled[d])
            off += (size_t)snprintf(disabled + off, sizeof disabled - off, "%s%s", off ? "," : "",
                                    tk_insight_detectors[d]->name);
    in->updated_ms = tk_now_ms();
    sqlite3 *db = tk_meta_lock(m);
    sqlite3_stmt *st = NULL;
    rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : TK_EBUSY;
    if (!rc && sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO insight_settings VALUES(?,?,?,?,?)", -1,
                                  &st, NULL) != SQLITE_OK)
        rc = TK_EIO;
    if (!rc) {
        sqlite3_bind_text(st, 1, in->account, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, disabled, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, tk_insight_sensitivity_name(in->sensitivity), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, in->overrides, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, in->updated_ms);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = TK_EIO;
    }
    sqlite3_finalize(st);
    if (!rc && sqlite3_exec(db, "INSERT INTO insight_kv VALUES('settings_gen', 1) ON CONFLICT(k)"
                                " DO UPDATE SET v = v + 1",
                            NULL, NULL, NULL) != SQLITE_OK)
        rc = TK_EIO;
    if (!rc && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = TK_EIO;
    if (rc) {
        tk_errf(err, rc, "meta.db: storing Insights settings: %s", sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    tk_meta_unlock(m);
    return rc;
}

int tk_insight_settings_list(tk_meta_t *m, void (*cb)(void *ud, const tk_insight_settings_t *s),
                             void *ud, char *err)
{
    int rc = tk_insight_schema(m, err);
    if (rc)
        return rc;
    tk_insight_settings_t *v = NULL;
    size_t n = 0;
    sqlite3 *db = tk_meta_lock(m);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT account, disabled, sensitivity, overrides, updated_ms FROM"
                               " insight_settings ORDER BY account",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = tk_errf(err, TK_EIO, "meta.db: listing Insights settings: %s", sqlite3_errmsg(db));
    } else {
        while (sqlite3_step(st) == SQLITE_ROW) {
            tk_insight_settings_t *nv = realloc(v, (n + 1) * sizeof *nv);
            if (!nv) {
                rc = tk_errf(err, TK_ENOMEM, "out of memory");
                break;
            }
            v = nv;
            row_to_settings(st, &v[n++]);
        }
    }
    sqlite3_finalize(st);
    tk_meta_unlock(m);
    for (size_t i = 0; !rc && i < n; i++)
        cb(ud, &v[i]);
    free(v);
    return rc;
}

static int64_t kv_get(tk_meta_t *m, const char *k)
{
    sqlite3 *db = tk_meta_lock(m);
    sqlite3_stmt *st = NULL;
    int64_t v = 0;
    if (sqlite3_prepare_v2(db, "SELECT v FROM insight_kv WHERE k=?", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    tk_meta_unlock(m);
    return v;
}

static int kv_set(tk_meta_t *m, const char *k, int64_t v)
{
    sqlite3 *db = tk_meta_lock(m);
    sqlite3_stmt *st = NULL;
    int rc = TK_EIO;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO insight_kv VALUES(?,?)", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, v);
        if (sqlite3_step(st) == SQLITE_DONE)
            rc = 0;
    }
    sqlite3_finalize(st);
    tk_meta_unlock(m);
    return rc;
}

int64_t tk_insight_settings_generation(tk_meta_t *m)
{
    return kv_get(m, "settings_gen");
}

int tk_insight_settings_json(const tk_insight_settings_t *s, tk_buf_t *b)
{
    int rc = tk_buf_puts(b, "{\"AccountId\":");
    rc |= tk_buf_put_json_str(b, s->account, strlen(s->account));
    rc |= tk_buf_puts(b, ",\"Types\":{");
    for (int d = 0; d < TK_INSIGHT_NDET; d++)
        rc |= tk_buf_printf(b, "%s\"%s\":%s", d ? "," : "", tk_insight_detectors[d]->name,
                            s->enabled[d] ? "true" : "false");
    rc |= tk_buf_printf(b, "},\"Sensitivity\":\"%s\",\"Overrides\":[",
                        tk_insight_sensitivity_name(s->sensitivity));
    const char *p = s->overrides;
    int first = 1;
    while (*p) {
        size_t n = strcspn(p, ";");
        if (n) {
            rc |= tk_buf_puts(b, first ? "" : ",");
            rc |= tk_buf_put_json_str(b, p, n);
            first = 0;
        }
        p += n;
        if (*p)
            p++;
    }
    rc |= tk_buf_puts(b, "],\"UpdatedTime\":");
    if (s->updated_ms) {
        char t[40];
        tk_time_format(s->updated_ms, 0, t);
        rc |= tk_buf_printf(b, "\"%s\"}", t);
    } else {
        rc |= tk_buf_puts(b, "null}");
    }
    return rc ? TK_ENOMEM : 0;
}

/* ------------------------------------------------------------ service */

struct tk_insight_service {
    tk_meta_t *meta;
    tk_store_t *store;
    tk_insight_service_opts_t o;
    tk_insight_live_t *live;
    uint64_t cut;            /* the log's end at create: the rebuild stops here */
    uint64_t checkpoint;     /* last log seq read */
    int64_t settings_gen;
    tk_buf_t pending;        /* emitted records (JSON Lines) not yet appended */
    size_t npending;
    tk_batch_t *batch;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, started;
    pthread_t th;
    tk_insight_service_stats_t st;  /* the thread's own */
    tk_insight_service_stats_t pub; /* published copy, under mu */
};

static int stopping(void *ud)
{
    tk_insight_service_t *s = ud;
    pthread_mutex_lock(&s->mu);
    int stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static void publish(tk_insight_service_t *s)
{
    tk_insight_live_stats(s->live, &s->st.accounts, &s->st.agg_bytes);
    s->st.checkpoint = s->checkpoint;
    pthread_mutex_lock(&s->mu);
    s->pub = s->st;
    pthread_mutex_unlock(&s->mu);
}

static void apply_settings(void *ud, const tk_insight_settings_t *set)
{
    tk_insight_service_t *s = ud;
    tk_insight_config_t cfg;
    char err[TK_ERRLEN] = "";
    if (tk_insight_settings_config(set, &cfg, err) ||
        tk_insight_live_set_account_config(s->live, set->account, &cfg))
        tk_log("trailkeep serve: insights: settings of %s ignored: %s\n", set->account,
                err[0] ? err : "out of memory");
}

static int load_settings(tk_insight_service_t *s, char *err)
{
    s->settings_gen = tk_insight_settings_generation(s->meta);
    return tk_insight_settings_list(s->meta, apply_settings, s, err);
}

/* The log callback: Insights records are skipped before any parsing when
 * their canonical form says so (tk_insight_obs_from_json would drop them too). */
static int read_cb(void *ud, const tk_stored_event_t *ev)
{
    tk_insight_service_t *s = ud;
    s->checkpoint = ev->seq;
    s->st.events++;
    static const char tag[] = "\"eventType\":\"ActionTrailInsight\"";
    if (ev->json.len >= sizeof tag && memmem(ev->json.p, ev->json.len, tag, sizeof tag - 1)) {
        s->st.own_skipped++;
        return 0;
    }
    return tk_insight_live_add_stored(s->live, ev) ? 1 : 0;
}

static int emit_cb(void *ud, const char *account, int end_state, int64_t time_ms, const char *json,
                   size_t len)
{
    tk_insight_service_t *s = ud;
    (void)account;
    (void)end_state;
    (void)time_ms;
    if (stopping(s))
        return 1; /* shutting down: the rest is re-derived at the next start */
    if (tk_buf_append(&s->pending, json, len) || tk_buf_putc(&s->pending, '\n'))
        return TK_ENOMEM;
    s->npending++;
    s->st.records_emitted++;
    return 0;
}

/* Appends the pending records. On failure they stay pending (retried). */
static int flush_pending(tk_insight_service_t *s, char *err)
{
    if (!s->npending)
        return 0;
    tk_batch_reset(s->batch);
    tk_parse_opts_t po = {.format = TK_FMT_JSONL};
    int rc = tk_event_parse(s->batch, s->pending.p, s->pending.len, &po, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < tk_batch_reject_count(s->batch); i++)
        tk_log("trailkeep serve: insights: record rejected (a bug): %s\n",
                tk_batch_rejects(s->batch)[i].message);
    tk_append_result_t res;
    memset(&res, 0, sizeof res);
    size_t n = tk_batch_count(s->batch);
    if (n && (rc = tk_store_append(s->store, tk_batch_events(s->batch), n, &res, NULL, err)))
        return rc;
    s->st.records_stored += res.accepted;
    s->st.records_duplicate += res.duplicates;
    tk_buf_reset(&s->pending);
    s->npending = 0;
    return 0;
}

static int do_tick(tk_insight_service_t *s, char *err)
{
    int rc = tk_insight_live_tick(s->live, s->store, tk_now_ms(), emit_cb, s, err);
    s->st.ticks++;
    char e2[TK_ERRLEN] = "";
    int frc = flush_pending(s, e2);
    if (frc) {
        if (!rc || rc > 0)
            snprintf(err, TK_ERRLEN, "storing Insights records: %.200s", e2);
        rc = frc;
    }
    if (rc < 0)
        s->st.tick_errors++;
    else if (!frc && kv_set(s->meta, "checkpoint", (int64_t)s->checkpoint))
        rc = tk_errf(err, TK_EIO, "meta.db: cannot record the Insights checkpoint");
    return rc > 0 ? 0 : rc;
}

static int wait_ms(tk_insight_service_t *s, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    if (!s->stop)
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    int stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static void log_err(int64_t *last, const char *what, const char *err)
{
    if (tk_now_ms() - *last > 10000) {
        tk_log("trailkeep serve: insights: %s: %s (will retry)\n", what, err);
        *last = tk_now_ms();
    }
}

/* Start-up: every account's history up to the cut, oldest first. */
static void rebuild(tk_insight_service_t *s)
{
    int64_t t0 = tk_now_ms();
    char err[TK_ERRLEN] = "";
    if (load_settings(s, err))
        tk_log("trailkeep serve: insights: %s (defaults used)\n", err);
    char **accs = NULL;
    size_t n = 0;
    if (tk_store_accounts(s->store, &accs, &n, err))
        tk_log("trailkeep serve: insights: cannot list accounts: %s\n", err);
    int64_t start = t0 - (int64_t)s->o.rebuild_days * TK_MS_PER_DAY;
    for (size_t i = 0; i < n; i++) {
        if (!stopping(s) &&
            tk_insight_live_rebuild(s->live, s->store, accs[i], start, t0 + TK_MS_PER_DAY, s->cut,
                                    stopping, s, err) &&
            !stopping(s))
            tk_log("trailkeep serve: insights: rebuilding %s: %s\n", accs[i], err);
        free(accs[i]);
    }
    free(accs);
    s->st.rebuilt = 1;
    s->st.rebuild_ms = tk_now_ms() - t0;
    publish(s);
}

static void *th_main(void *arg)
{
    tk_insight_service_t *s = arg;
    rebuild(s);
    int64_t next_tick = 0, last_err = 0;
    while (!stopping(s)) {
        char err[TK_ERRLEN] = "";
        if (tk_insight_settings_generation(s->meta) != s->settings_gen && load_settings(s, err))
            log_err(&last_err, "reloading settings", err);
        uint64_t before = s->checkpoint;
        int rc = tk_store_log_read(s->store, s->checkpoint + 1, s->o.batch, read_cb, s, err);
        if (rc)
            log_err(&last_err, "reading the log", err);
        int more = !rc && s->checkpoint - before >= s->o.batch;
        if (s->checkpoint != before)
            tk_store_log_retain(s->store, CONSUMER, s->checkpoint + 1);
        int64_t now = tk_now_ms();
        if (!more && now >= next_tick) {
            if ((rc = do_tick(s, err)))
                log_err(&last_err, "tick", err);
            next_tick = now + s->o.tick_ms;
        }
        publish(s);
        if (more)
            continue;
        int64_t w = next_tick - tk_now_ms();
        if (w > s->o.poll_ms)
            w = s->o.poll_ms;
        if (w > 0 && wait_ms(s, w))
            break;
    }
    char err[TK_ERRLEN] = "";
    if (flush_pending(s, err))
        tk_log("trailkeep serve: insights: storing the last records: %s\n", err);
    return NULL;
}

int tk_insight_service_create(tk_meta_t *meta, tk_store_t *store,
                              const tk_insight_service_opts_t *o, tk_insight_service_t **out,
                              char *err)
{
    *out = NULL;
    int rc = tk_insight_schema(meta, err);
    if (rc)
        return rc;
    tk_insight_service_t *s = calloc(1, sizeof *s);
    if (!s)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    if (o)
        s->o = *o;
    if (s->o.tick_ms <= 0)
        s->o.tick_ms = 60000;
    if (s->o.poll_ms <= 0)
        s->o.poll_ms = 200;
    if (!s->o.batch)
        s->o.batch = 5000;
    if (s->o.rebuild_days <= 0)
        s->o.rebuild_days = 28;
    s->meta = meta;
    s->store = store;
    s->live = tk_insight_live_create(NULL);
    s->batch = tk_batch_create();
    if (!s->live || !s->batch) {
        tk_insight_live_destroy(s->live);
        tk_batch_destroy(s->batch);
        free(s);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    /* Everything up to the cut is in the store and read by the rebuild; the
     * log from the cut on must stay until the thread has read it. */
    s->cut = tk_store_last_seq(store);
    s->checkpoint = s->cut;
    s->st.checkpoint = s->cut;
    s->pub = s->st;
    tk_store_log_retain(store, CONSUMER, s->cut + 1);
    *out = s;
    return 0;
}

int tk_insight_service_start(tk_insight_service_t *s, char *err)
{
    if (pthread_create(&s->th, NULL, th_main, s))
        return tk_errf(err, TK_ENOMEM, "cannot start the Insights thread");
    s->started = 1;
    return 0;
}

void tk_insight_service_destroy(tk_insight_service_t *s)
{
    if (!s)
        return;
    if (s->started) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->th, NULL);
    }
    tk_insight_live_destroy(s->live);
    tk_batch_destroy(s->batch);
    tk_buf_free(&s->pending);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

void tk_insight_service_stats(tk_insight_service_t *s, tk_insight_service_stats_t *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->pub;
    pthread_mutex_unlock(&s->mu);
}

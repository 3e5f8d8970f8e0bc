/* trailkeep trail delivery: reads the store's log by sequence number from
 * each trail's checkpoint, keeps the events its filter matches, and writes
 * them as gzip objects to its destination. Zero loss, no duplicate object:
 *  1. before the first upload of a range, the range's end (pending_to) is
 *     committed to meta.db;
 *  2. objects are built only from that range, deterministically (same events,
 *     same bytes, same key), so a re-send after a crash replaces, never adds;
 *  3. only when every object is stored does the checkpoint move past the
 *     range (one transaction) and the store's retention follow it.
 * A failing destination is retried with exponential backoff and jitter; it
 * never blocks ingest, its backlog shows in GetTrailStatus. */
#include "trail/dest.h"
#include "trail/trail.h"
#include "trail/trail_internal.h"

#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "event/format.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libdeflate.h>

/* ---- object building ---------------------------------------------------------------- */

int trail_gzip(const void *data, size_t len, tk_buf_t *out)
{
    /* libdeflate: ~3x zlib's speed at the same level, one call for a whole
     * buffer, and its gzip header has mtime 0, so output is a pure function
     * of the input. A compressor per call: cheap next to the data. */
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(6);
    if (!c)
        return TK_ENOMEM;
    size_t bound = libdeflate_gzip_compress_bound(c, len);
    int rc = tk_buf_reserve(out, bound);
    if (!rc) {
        size_t n = libdeflate_gzip_compress(c, data, len, out->p + out->len, bound);
        if (!n)
            rc = TK_ENOMEM;
        else
            out->len += n;
        out->p[out->len] = 0;
    }
    libdeflate_free_compressor(c);
    return rc;
}

int trail_build_file(const trail_file_id_t *id, const trail_fev_t *ev, size_t n, tk_buf_t *gz,
                     tk_buf_t *key, char *err)
{
    tk_buf_t raw = TK_BUF_INIT;
    int rc = 0;
    int ct = id->layout == TRAIL_LAYOUT_CLOUDTRAIL;
    tk_buf_puts(&raw, ct ? "{\"Records\":[" : "[");
    for (size_t i = 0; i < n && !rc; i++) {
        if (i)
            tk_buf_putc(&raw, ',');
        if (id->format)
            rc = id->format->render(ev[i].json, ev[i].len, &raw, err);
        else if (ct)
            rc = tk_event_to_cloudtrail(ev[i].json, ev[i].len, &raw, err);
        else
            rc = tk_buf_append(&raw, ev[i].json, ev[i].len);
    }
    if (!rc)
        rc = tk_buf_puts(&raw, ct ? "]}" : "]");
    if (!rc && trail_gzip(raw.p, raw.len, gz))
        rc = TK_ENOMEM;
    if (rc) {
        tk_buf_free(&raw);
        return rc == TK_ENOMEM ? tk_errf(err, rc, "out of memory") : rc;
    }
    int64_t t0 = n ? ev[0].time_ms : 0;
    int64_t y;
    unsigned mo, d;
    tk_civil_from_days(tk_time_day(t0), &y, &mo, &d);
    int64_t sod = (t0 - tk_time_day(t0) * TK_MS_PER_DAY) / 1000;
    int hh = (int)(sod / 3600), mi = (int)(sod / 60 % 60), ss = (int)(sod % 60);
    const char *region = id->region && *id->region ? id->region : "global";
    if (id->prefix && *id->prefix) {
        tk_buf_puts(key, id->prefix);
        if (id->prefix[strlen(id->prefix) - 1] != '/')
            tk_buf_putc(key, '/');
    }
    if (!ct) {
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned mdl = 0;
        char hex[2 * EVP_MAX_MD_SIZE + 1];
        EVP_Digest(gz->p, gz->len, md, &mdl, EVP_md5(), NULL);
        tk_hex(md, mdl, hex);
        tk_buf_printf(key, "AliyunLogs/%s/", id->insight ? "Actiontrail-Insight" : "Actiontrail");
        if (id->org_id && *id->org_id)
            tk_buf_printf(key, "%s/%s/", id->org_id, id->account);
        tk_buf_printf(key,
                      "%s/%04" PRId64 "/%02u/%02u/Actiontrail_%s_%04" PRId64
                      "%02u%02u%02d%02d%02d_1002_%zu_%zu_%s.gz",
                      region, y, mo, d, region, y, mo, d, hh, mi, ss, n, gz->len, hex);
    } else {
        uint8_t h[32];
        char hex[65];
        tk_sha256(gz->p, gz->len, h);
        tk_hex(h, 32, hex);
        for (int i = 0; i < 16; i++)
            hex[i] = (char)(hex[i] >= 'a' ? hex[i] - 'a' + 'A' : hex[i]);
        hex[16] = 0;
        tk_buf_puts(key, "AWSLogs/");
        if (id->org_id && *id->org_id)
            tk_buf_printf(key, "%s/", id->org_id);
        /* Insights records have their own folder, as CloudTrail delivers them. */
        const char *kind = id->insight ? "CloudTrail-Insight" : "CloudTrail";
        tk_buf_printf(key,
                      "%s/%s/%s/%04" PRId64 "/%02u/%02u/%s_%s_%s_%04" PRId64
                      "%02u%02uT%02d%02dZ_%s.json.gz",
                      id->account, kind, region, y, mo, d, id->account, kind, region, y, mo, d, hh,
                      mi, hex);
    }
    tk_buf_free(&raw);
    return key->p ? 0 : tk_errf(err, TK_ENOMEM, "out of memory");
}

/* ---- per-trail state ------------------------------------------------------------------ */

typedef struct pev {
    uint64_t seq;
    int64_t time_ms;
    char *account, *region, *json;
    size_t len;
    int insight;
} pev_t;

typedef struct tstate {
    tk_trail_t t;            /* configuration snapshot (updated_ms tells changes) */
    char cons[160];
    uint64_t next_seq;       /* checkpoint */
    uint64_t pending_to;     /* planned range end (0 = none) */
    size_t pending_max;      /* file_max_events the planned range is cut with */
    uint64_t scan_pos;       /* next log seq to read */
    pev_t *ev;
    size_t nev, cap;
    int64_t first_seen_ms;   /* when the oldest pending event was read */
    int64_t retry_at_ms;
    int attempts;
    const tk_dest_t *dest;
    void *dstate;
    int alive;               /* seen in this pass's meta read */
    int stuck;               /* log already trimmed past the checkpoint */
} tstate_t;

struct tk_trail_deliverer {
    tk_meta_t *m;
    tk_store_t *store;
    tk_trail_deliver_opts_t o;
    pthread_mutex_t run_mu;  /* one pass at a time */
    tstate_t **ts;
    size_t nts;
    char org_id[64], mgmt[64];
    char **members;
    size_t nmembers;
    uint64_t rnd;
    void *dkey;              /* digest signing key, NULL = no digests */
    char fp[65];
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started, stop;
};

static void pending_clear(tstate_t *s)
{
    for (size_t i = 0; i < s->nev; i++) {
        free(s->ev[i].account);
        free(s->ev[i].region);
        free(s->ev[i].json);
    }
    s->nev = 0;
    s->first_seen_ms = 0;
}

static void tstate_free(tstate_t *s)
{
    if (!s)
        return;
    pending_clear(s);
    free(s->ev);
    if (s->dest && s->dstate)
        s->dest->close(s->dstate);
    free(s);
}

static int exec_sql(tk_meta_t *m, char *sql, char *err)
{
    int rc = 0;
    if (!sql)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    sqlite3 *db = tk_meta_lock(m);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        rc = tk_errf(err, TK_EIO, "meta.db: %s", sqlite3_errmsg(db));
    tk_meta_unlock(m);
    sqlite3_free(sql);
    return rc;
}

static void note_error(tk_trail_deliverer_t *d, tstate_t *s, const char *msg)
{
    char e[TK_ERRLEN];
    exec_sql(d->m,
             sqlite3_mprintf("UPDATE trails SET last_error=%Q, last_error_ms=%lld WHERE account=%Q"
                             " AND name=%Q", msg, (long long)tk_now_ms(), s->t.account, s->t.name),
             e);
    /* Exponential backoff with jitter: half fixed, half random, so many
     * trails failing together do not retry in lockstep. */
    int64_t delay = d->o.retry_base_ms;
    for (int i = 0; i < s->attempts && delay < d->o.retry_max_ms; i++)
        delay *= 2;
    if (delay > d->o.retry_max_ms)
        delay = d->o.retry_max_ms;
    d->rnd = d->rnd * 6364136223846793005ULL + 1442695040888963407ULL;
    delay = delay / 2 + (int64_t)((d->rnd >> 33) % (uint64_t)(delay / 2 + 1));
    s->attempts++;
    s->retry_at_ms = tk_now_ms() + delay;
}

/* ---- filtering ------------------------------------------------------------------------- */

static int in_list(const char *list, const char *v, size_t vlen)
{
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == vlen && !memcmp(p, v, n))
            return 1;
        p += n + (e ? 1 : 0);
    }
    return 0;
}

static int is_member(const tk_trail_deliverer_t *d, const char *a, size_t n)
{
    for (size_t i = 0; i < d->nmembers; i++)
        if (strlen(d->members[i]) == n && !memcmp(d->members[i], a, n))
            return 1;
    return 0;
}

typedef struct scan_ctx {
    tk_trail_deliverer_t *d;
    tstate_t *s;
    uint64_t stop_after;     /* 0 = none */
    int rc;
    char *err;
} scan_ctx_t;

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int scan_cb(void *ud, const tk_stored_event_t *ev)
{
    scan_ctx_t *c = ud;
    tstate_t *s = c->s;
    if (c->stop_after && ev->seq > c->stop_after)
        return 1;
    /* A range ends at its file_max_events-th match (unless it was planned
     * already: then it is replayed exactly, whatever the options say now). */
    if (!c->stop_after && s->nev >= c->d->o.file_max_events)
        return 1;
    s->scan_pos = ev->seq + 1;
    const tk_trail_t *t = &s->t;
    if (t->is_org ? !is_member(c->d, ev->account.p, ev->account.len)
                  : (ev->account.len != strlen(t->account) ||
                     memcmp(ev->account.p, t->account, ev->account.len)))
        return 0;
    cJSON *o = cJSON_ParseWithLength(ev->json.p, ev->json.len);
    if (!o)
        return 0; /* the store validated it; unreadable here means a bug, not data to send */
    const char *region = jstr(o, "acsRegion"), *rw = jstr(o, "eventRW");
    const char *type = jstr(o, "eventType"), *cat = jstr(o, "eventCategory");
    /* Insights records are neither Read nor Write, and most carry no
     * acsRegion (an account's activity as a whole): EventRW does not filter
     * them, nor does TrailRegion when they have no region; they are filed
     * under the trail's home region. */
    int insight = !strcmp(cat, "Insight");
    int regionless = insight && !*region;
    int match = (insight || !strcmp(t->event_rw, "All") || !strcmp(t->event_rw, rw)) &&
                (!strcmp(t->trail_region, "All") || regionless ||
                 in_list(t->trail_region, region, strlen(region))) &&
                (!t->event_types[0] || in_list(t->event_types, type, strlen(type)));
    if (match) {
        if (s->nev == s->cap) {
            size_t nc = s->cap ? s->cap * 2 : 64;
            pev_t *nv = realloc(s->ev, nc * sizeof *nv);
            if (!nv) {
                cJSON_Delete(o);
                c->rc = tk_errf(c->err, TK_ENOMEM, "out of memory");
                return 1;
            }
            s->ev = nv;
            s->cap = nc;
        }
        pev_t *p = &s->ev[s->nev];
        p->seq = ev->seq;
        p->time_ms = ev->time_ms;
        p->len = ev->json.len;
        p->insight = insight;
        p->account = strndup(ev->account.p, ev->account.len);
        p->region = strdup(regionless && t->home_region[0] ? t->home_region : region);
        p->json = malloc(ev->json.len + 1);
        if (!p->account || !p->region || !p->json) {
            free(p->account);
            free(p->region);
            free(p->json);
            cJSON_Delete(o);
            c->rc = tk_errf(c->err, TK_ENOMEM, "out of memory");
            return 1;
        }
        memcpy(p->json, ev->json.p, ev->json.len);
        p->json[ev->json.len] = 0;
        if (!s->nev)
            s->first_seen_ms = tk_now_ms();
        s->nev++;
    }
    cJSON_Delete(o);
    return 0;
}

/* ---- flushing a range ------------------------------------------------------------------ */

static int cmp_group(const void *a, const void *b)
{
    const pev_t *x = a, *y = b;
    int r = strcmp(x->account, y->account);
    if (!r)
        r = x->insight - y->insight;
    if (!r)
        r = strcmp(x->region, y->region);
    if (!r)
        r = x->seq < y->seq ? -1 : x->seq > y->seq;
    return r;
}

static int open_dest(tstate_t *s, char *err)
{
    if (s->dstate)
        return 0;
    const tk_dest_t *d = tk_dest_find(s->t.dest_type);
    if (!d)
        return tk_errf(err, TK_EINVAL, "unknown destination type '%s'", s->t.dest_type);
    const char *opts = s->t.dest_options;
    char *merged = NULL;
    if (!strcmp(d->name, "s3") && s->t.oss_bucket[0]) {
        cJSON *o = cJSON_Parse(opts[0] ? opts : "{}");
        if (o && !cJSON_GetObjectItemCaseSensitive(o, "bucket"))
            cJSON_AddStringToObject(o, "bucket", s->t.oss_bucket);
        merged = o ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        if (!merged)
            return tk_errf(err, TK_ENOMEM, "out of memory");
        opts = merged;
    }
    int rc = tk_dest_open(d, opts, &s->dstate, err);
    free(merged);
    if (!rc)
        s->dest = d;
    return rc;
}

/* The destination's "format" option (common to all destinations, dest.c). */
static const tk_event_format_t *format_of(const tk_trail_t *t)
{
    cJSON *o = cJSON_Parse(t->dest_options);
    const tk_event_format_t *f = tk_event_format_find(jstr(o, "format"));
    cJSON_Delete(o);
    return f;
}

static trail_layout_t layout_of(const tk_trail_t *t)
{
    cJSON *o = cJSON_Parse(t->dest_options);
    trail_layout_t l = !strcmp(jstr(o, "layout"), "cloudtrail") ? TRAIL_LAYOUT_CLOUDTRAIL
                                                                 : TRAIL_LAYOUT_ACTIONTRAIL;
    cJSON_Delete(o);
    return l;
}

/* Writes every pending event as objects, then commits the checkpoint past
 * range_end. Pending events stay for a retry on failure. */
static int flush(tk_trail_deliverer_t *d, tstate_t *s, uint64_t range_end, size_t *delivered,
                 char *err)
{
    int rc = 0;
    if (s->pending_to != range_end) {
        rc = exec_sql(d->m,
                      sqlite3_mprintf("UPDATE trails SET pending_to=%llu, pending_max=%llu WHERE"
                                      " account=%Q AND name=%Q",
                                      (unsigned long long)range_end,
                                      (unsigned long long)d->o.file_max_events, s->t.account,
                                      s->t.name),
                      err);
        if (rc)
            return rc;
        s->pending_to = range_end;
        s->pending_max = d->o.file_max_events;
    }
    if (s->nev && (rc = open_dest(s, err)))
        return rc;
    if (s->nev && s->dest->write_events) {
        /* A stream gets the events in log order, no files, no digest. */
        tk_dest_event_t *de = malloc(s->nev * sizeof *de);
        if (!de)
            return tk_errf(err, TK_ENOMEM, "out of memory");
        for (size_t i = 0; i < s->nev; i++)
            de[i] = (tk_dest_event_t){s->ev[i].seq, s->ev[i].time_ms, s->ev[i].account,
                                      s->ev[i].json, s->ev[i].len};
        rc = s->dest->write_events(s->dstate, de, s->nev, err);
        free(de);
        if (rc)
            return rc;
        rc = exec_sql(d->m,
                      sqlite3_mprintf("UPDATE trails SET next_seq=%llu, pending_to=0,"
                                      " delivered_events=delivered_events+%llu,"
                                      " last_delivery_ms=%lld, last_error='' WHERE account=%Q"
                                      " AND name=%Q",
                                      (unsigned long long)range_end + 1, (unsigned long long)s->nev,
                                      (long long)tk_now_ms(), s->t.account, s->t.name),
                      err);
        if (rc)
            return rc;
        s->next_seq = range_end + 1;
        s->pending_to = 0;
        s->pending_max = 0;
        s->attempts = 0;
        s->retry_at_ms = 0;
        if (delivered)
            *delivered += s->nev;
        pending_clear(s);
        tk_store_log_retain(d->store, s->cons, s->next_seq);
        return 0;
    }
    qsort(s->ev, s->nev, sizeof *s->ev, cmp_group);
    size_t max = s->pending_max ? s->pending_max : d->o.file_max_events, files = 0;
    trail_fev_t *fe = malloc((max < s->nev ? max : s->nev) * sizeof *fe + 1);
    if (!fe)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    tk_buf_t gz = TK_BUF_INIT, key = TK_BUF_INIT, sql = TK_BUF_INIT;
    trail_layout_t layout = layout_of(&s->t);
    int64_t now = tk_now_ms();
    tk_buf_puts(&sql, "BEGIN;");
    for (size_t i = 0; i < s->nev && !rc;) {
        size_t j = i, k = 0;
        while (j < s->nev && k < max && !strcmp(s->ev[j].account, s->ev[i].account) &&
               s->ev[j].insight == s->ev[i].insight && !strcmp(s->ev[j].region, s->ev[i].region)) {
            fe[k].time_ms = s->ev[j].time_ms;
            fe[k].json = s->ev[j].json;
            fe[k].len = s->ev[j].len;
            j++;
            k++;
        }
        trail_file_id_t id = {
            .layout = layout,
            .prefix = s->t.oss_prefix,
            .org_id = s->t.is_org ? d->org_id : "",
            .account = s->ev[i].account,
            .region = s->ev[i].region,
            .insight = s->ev[i].insight,
            .format = format_of(&s->t),
        };
        tk_buf_reset(&gz);
        tk_buf_reset(&key);
        rc = trail_build_file(&id, fe, k, &gz, &key, err);
        if (!rc)
            rc = s->dest->write_object(s->dstate, key.p, gz.p, gz.len, err);
        if (!rc) {
            /* Listed for the next digest; a re-sent object replaces its row. */
            uint8_t h[32];
            char hex[65];
            int64_t lo = fe[0].time_ms, hi = fe[0].time_ms;
            for (size_t q = 1; q < k; q++) {
                lo = fe[q].time_ms < lo ? fe[q].time_ms : lo;
                hi = fe[q].time_ms > hi ? fe[q].time_ms : hi;
            }
            tk_sha256(gz.p, gz.len, h);
            tk_hex(h, 32, hex);
            char *ins = sqlite3_mprintf("INSERT OR REPLACE INTO trail_files VALUES"
                                        "(%Q,%Q,%Q,%Q,%llu,%lld,%lld,%lld);",
                                        s->t.account, s->t.name, key.p, hex, (unsigned long long)k,
                                        (long long)lo, (long long)hi, (long long)now);
            if (!ins || tk_buf_puts(&sql, ins))
                rc = tk_errf(err, TK_ENOMEM, "out of memory");
            sqlite3_free(ins);
        }
        files++;
        i = j;
    }
    free(fe);
    tk_buf_free(&gz);
    tk_buf_free(&key);
    char *upd = rc ? NULL
                   : sqlite3_mprintf("UPDATE trails SET next_seq=%llu, pending_to=0,"
                                     " delivered_events=delivered_events+%llu,"
                                     " delivered_files=delivered_files+%llu, last_delivery_ms=%lld,"
                                     " last_error='' WHERE account=%Q AND name=%Q; COMMIT;",
                                     (unsigned long long)range_end + 1, (unsigned long long)s->nev,
                                     (unsigned long long)files, (long long)now, s->t.account,
                                     s->t.name);
    if (!rc && (!upd || tk_buf_puts(&sql, upd)))
        rc = tk_errf(err, TK_ENOMEM, "out of memory");
    sqlite3_free(upd);
    if (!rc) {
        /* The checkpoint and the file list move together, or not at all. */
        sqlite3 *db = tk_meta_lock(d->m);
        if (sqlite3_exec(db, sql.p, NULL, NULL, NULL) != SQLITE_OK) {
            rc = tk_errf(err, TK_EIO, "meta.db: %s", sqlite3_errmsg(db));
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        }
        tk_meta_unlock(d->m);
    }
    tk_buf_free(&sql);
    if (rc)
        return rc;
    s->next_seq = range_end + 1;
    s->pending_to = 0;
    s->pending_max = 0;
    s->attempts = 0;
    s->retry_at_ms = 0;
    if (delivered)
        *delivered += s->nev;
    pending_clear(s);
    tk_store_log_retain(d->store, s->cons, s->next_seq);
    return 0;
}

/* ---- the pass ---------------------------------------------------------------------------- */

static void members_free(tk_trail_deliverer_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; d->members && i < d->nmembers; i++)
        free(d->members[i]);
    free(d->members);
    d->members = NULL;
    d->nmembers = 0;
}

static void member_cb(void *ud, const char *account)
{
    tk_trail_deliverer_t *d = ud;
    char **nv = realloc(d->members, (d->nmembers + 1) * sizeof *nv);
    if (!nv)
        return;
    d->members = nv;
    if ((nv[d->nmembers] = strdup(account)))
        d->nmembers++;
}

static void refresh_org(tk_trail_deliverer_t *d)
{
    char e[TK_ERRLEN];
    members_free(d);
    d->org_id[0] = d->mgmt[0] = 0;
    if (tk_meta_org_get(d->m, d->org_id, d->mgmt, e) == 0)
        tk_meta_org_members(d->m, member_cb, d, e);
}

/* Brings d->ts in line with meta.db: new trails, changed ones, deleted ones. */
static int sync_trails(tk_trail_deliverer_t *d, char *err)
{
    trail_row_t *rows;
    size_t n;
    int rc = trail_load_all(d->m, &rows, &n, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < d->nts; i++)
        d->ts[i]->alive = 0;
    for (size_t r = 0; r < n; r++) {
        tstate_t *s = NULL;
        for (size_t i = 0; i < d->nts && !s; i++)
            if (!strcmp(d->ts[i]->t.account, rows[r].t->account) &&
                !strcmp(d->ts[i]->t.name, rows[r].t->name))
                s = d->ts[i];
        if (!s) {
            tstate_t **nv = realloc(d->ts, (d->nts + 1) * sizeof *nv);
            if (!nv || !(s = calloc(1, sizeof *s))) {
                if (nv)
                    d->ts = nv;
                rc = tk_errf(err, TK_ENOMEM, "out of memory");
                break;
            }
            d->ts = nv;
            d->ts[d->nts++] = s;
            s->t = *rows[r].t;
            trail_consumer_name(s->t.account, s->t.name, s->cons, sizeof s->cons);
            s->next_seq = s->scan_pos = rows[r].next_seq;
            s->pending_to = rows[r].pending_to;
            s->pending_max = rows[r].pending_max;
            tk_store_log_retain(d->store, s->cons, s->next_seq);
        } else if (s->t.updated_ms != rows[r].t->updated_ms ||
                   s->t.created_ms != rows[r].t->created_ms) {
            /* Filters or destination changed, or the trail was deleted and
             * created again: re-read from the stored checkpoint with the new
             * configuration. */
            s->t = *rows[r].t;
            pending_clear(s);
            s->next_seq = s->scan_pos = rows[r].next_seq;
            s->pending_to = rows[r].pending_to;
            s->pending_max = rows[r].pending_max;
            tk_store_log_retain(d->store, s->cons, s->next_seq);
            if (s->dest && s->dstate)
                s->dest->close(s->dstate);
            s->dest = NULL;
            s->dstate = NULL;
            s->attempts = 0;
            s->retry_at_ms = 0;
            s->stuck = 0;
        } else {
            s->t.is_logging = rows[r].t->is_logging;
        }
        s->alive = 1;
    }
    trail_rows_free(rows, n);
    size_t k = 0;
    for (size_t i = 0; i < d->nts; i++) {
        if (d->ts[i]->alive || rc)
            d->ts[k++] = d->ts[i];
        else
            tstate_free(d->ts[i]);
    }
    d->nts = k;
    return rc;
}

static int deliver_trail(tk_trail_deliverer_t *d, tstate_t *s, int force, size_t *delivered,
                         char *err)
{
    int64_t now = tk_now_ms();
    if (!s->t.is_logging || s->stuck || (!force && now < s->retry_at_ms))
        return 0;
    scan_ctx_t c = {.d = d, .s = s, .stop_after = s->pending_to, .err = err};
    uint64_t last = tk_store_last_seq(d->store);
    int rc = 0;
    while (!rc && s->scan_pos <= last && s->nev < d->o.file_max_events &&
           !(s->pending_to && s->scan_pos > s->pending_to)) {
        uint64_t before = s->scan_pos;
        rc = tk_store_log_read(d->store, s->scan_pos, SIZE_MAX, scan_cb, &c, err);
        if (rc == TK_ENOTFOUND) {
            /* The log before scan_pos is gone: the events in between can
             * no longer be delivered. Say so loudly and stop this trail. */
            char msg[TK_ERRLEN];
            snprintf(msg, sizeof msg, "cannot deliver: %s", err);
            note_error(d, s, msg);
            s->stuck = 1;
            return rc;
        }
        if (rc == 1)
            rc = 0; /* scan_cb stopped (range end, or an error in c.rc) */
        if (!rc && c.rc)
            rc = c.rc;
        if (!rc && s->scan_pos == before)
            break;  /* nothing readable beyond (raced a trim or the tail) */
        if (c.stop_after && s->scan_pos > c.stop_after)
            break;
    }
    if (rc)
        return rc;
    int due = force || s->pending_to || s->nev >= d->o.file_max_events ||
              (s->nev && now - s->first_seen_ms >= (int64_t)d->o.file_max_age_s * 1000);
    if (due && (s->nev || s->pending_to)) {
        uint64_t end = s->pending_to ? s->pending_to : s->scan_pos - 1;
        rc = flush(d, s, end, delivered, err);
        if (rc) {
            note_error(d, s, err);
            if (s->dest && s->dstate) {
                s->dest->close(s->dstate); /* reconnect on the next attempt */
                s->dstate = NULL;
                s->dest = NULL;
            }
        }
        return rc;
    }
    if (!s->nev && s->scan_pos > s->next_seq) {
        /* Nothing of this trail's in what was read: move the checkpoint so
         * the backlog and the store's retention reflect it. */
        rc = exec_sql(d->m,
                      sqlite3_mprintf("UPDATE trails SET next_seq=%llu WHERE account=%Q AND name=%Q"
                                      " AND pending_to=0",
                                      (unsigned long long)s->scan_pos, s->t.account, s->t.name),
                      err);
        if (!rc) {
            s->next_seq = s->scan_pos;
            tk_store_log_retain(d->store, s->cons, s->next_seq);
        }
    }
    return rc;
}

/* ---- digests ------------------------------------------------------------------------------ */

/* Writes the trail's digest when its period is over (or, when forced, when
 * files were delivered since the last one): the files delivered after the
 * previous digest's end, the previous digest's object and signature, signed. */
static int maybe_digest(tk_trail_deliverer_t *d, tstate_t *s, int force, char *err)
{
    const tk_dest_t *dest = tk_dest_find(s->t.dest_type);
    if (!d->dkey || !dest || !dest->write_object)
        return 0; /* streams keep no objects to digest */
    sqlite3 *db = tk_meta_lock(d->m);
    sqlite3_stmt *st = NULL;
    int64_t prev_end = 0;
    char prev_obj[1024] = "", prev_sig[130] = "";
    int64_t since = 0, nnew = 0, rc = 0, pending = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT digest_end_ms, digest_object, digest_sig, start_ms, created_ms,"
                           " (SELECT COUNT(*) FROM trail_files f WHERE f.account = t.account AND"
                           "  f.trail = t.name AND f.delivered_ms > t.digest_end_ms),"
                           " digest_pending_ms"
                           " FROM trails t WHERE account = ?1 AND name = ?2",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, s->t.account, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, s->t.name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            prev_end = sqlite3_column_int64(st, 0);
            snprintf(prev_obj, sizeof prev_obj, "%s", (const char *)sqlite3_column_text(st, 1));
            snprintf(prev_sig, sizeof prev_sig, "%s", (const char *)sqlite3_column_text(st, 2));
            since = prev_end ? prev_end
                             : (sqlite3_column_int64(st, 3) ? sqlite3_column_int64(st, 3)
                                                            : sqlite3_column_int64(st, 4));
            nnew = sqlite3_column_int64(st, 5);
            pending = sqlite3_column_int64(st, 6);
        } else {
            rc = 1; /* deleted meanwhile */
        }
    } else {
        rc = tk_errf(err, TK_EIO, "meta.db: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    tk_meta_unlock(d->m);
    if (rc)
        return rc == 1 ? 0 : (int)rc;
    int64_t now = tk_now_ms();
    /* Periodic digests while logging (empty ones too: they prove that nothing
     * was delivered); forced ones only when there is something to cover. */
    int due = force ? nnew > 0
                    : (now - since >= (int64_t)d->o.digest_period_s * 1000 &&
                       (s->t.is_logging || nnew > 0));
    if (pending) {
        now = pending; /* a digest planned before a crash: the same one again */
    } else {
        if (!due || now <= since)
            return 0;
        if (prev_end && now / 1000 == prev_end / 1000) {
            /* Digest names carry the end time to the second: a forced digest
             * right after another waits for the next second, never reuses a name. */
            struct timespec ts = {0, (long)(1000 - now % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            now = tk_now_ms();
        }
        if ((rc = exec_sql(d->m,
                           sqlite3_mprintf("UPDATE trails SET digest_pending_ms=%lld WHERE"
                                           " account=%Q AND name=%Q",
                                           (long long)now, s->t.account, s->t.name),
                           err)))
            return (int)rc;
    }
    trail_file_rec_t *files = NULL;
    size_t nf = 0;
    db = tk_meta_lock(d->m);
    if (sqlite3_prepare_v2(db,
                           "SELECT object, sha256, events, oldest_ms, newest_ms FROM trail_files"
                           " WHERE account = ?1 AND trail = ?2 AND delivered_ms > ?3 AND"
                           " delivered_ms <= ?4 ORDER BY delivered_ms, object",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, s->t.account, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, s->t.name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, prev_end);
        sqlite3_bind_int64(st, 4, now);
        while (!rc && sqlite3_step(st) == SQLITE_ROW) {
            trail_file_rec_t *nv = realloc(files, (nf + 1) * sizeof *nv);
            if (!nv) {
                rc = tk_errf(err, TK_ENOMEM, "out of memory");
                break;
            }
            files = nv;
            trail_file_rec_t *f = &files[nf++];
            snprintf(f->object, sizeof f->object, "%s", (const char *)sqlite3_column_text(st, 0));
            snprintf(f->sha256, sizeof f->sha256, "%s", (const char *)sqlite3_column_text(st, 1));
            f->events = (uint64_t)sqlite3_column_int64(st, 2);
            f->oldest_ms = sqlite3_column_int64(st, 3);
            f->newest_ms = sqlite3_column_int64(st, 4);
        }
    } else {
        rc = tk_errf(err, TK_EIO, "meta.db: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    tk_meta_unlock(d->m);
    tk_buf_t json = TK_BUF_INIT, key = TK_BUF_INIT, gz = TK_BUF_INIT;
    char sig[129] = "", sigline[131];
    trail_digest_in_t in = {
        .layout = layout_of(&s->t),
        .prefix = s->t.oss_prefix,
        .org_id = s->t.is_org ? d->org_id : "",
        .account = s->t.account,
        .region = s->t.home_region,
        .trail = s->t.name,
        .start_ms = since,
        .end_ms = now,
        .prev_object = prev_obj,
        .prev_sig = prev_sig,
        .fingerprint = d->fp,
        .files = files,
        .nfiles = nf,
    };
    if (!rc)
        rc = trail_digest_build(&in, &json, &key, err);
    if (!rc)
        rc = trail_digest_sign(d->dkey, &json, sig, err);
    if (!rc && trail_gzip(json.p, json.len, &gz))
        rc = tk_errf(err, TK_ENOMEM, "out of memory");
    if (!rc)
        rc = open_dest(s, err);
    /* The signature first: a digest never exists without it. */
    if (!rc) {
        tk_buf_t sk = TK_BUF_INIT;
        tk_buf_printf(&sk, "%s.sig", key.p);
        int n = snprintf(sigline, sizeof sigline, "%s\n", sig);
        rc = s->dest->write_object(s->dstate, sk.p, sigline, (size_t)n, err);
        tk_buf_free(&sk);
    }
    if (!rc)
        rc = s->dest->write_object(s->dstate, key.p, gz.p, gz.len, err);
    if (!rc)
        rc = exec_sql(d->m,
                      sqlite3_mprintf("UPDATE trails SET digest_end_ms=%lld, digest_object=%Q,"
                                      " digest_sig=%Q, digest_pending_ms=0 WHERE account=%Q AND"
                                      " name=%Q",
                                      (long long)now, key.p, sig, s->t.account, s->t.name),
                      err);
    free(files);
    tk_buf_free(&json);
    tk_buf_free(&key);
    tk_buf_free(&gz);
    return (int)rc;
}

int tk_trail_deliver_once(tk_trail_deliverer_t *d, int force, size_t *delivered, char *err)
{
    if (delivered)
        *delivered = 0;
    pthread_mutex_lock(&d->run_mu);
    int rc = sync_trails(d, err), first = rc;
    if (!rc) {
        refresh_org(d);
        for (size_t i = 0; i < d->nts; i++) {
            char e[TK_ERRLEN] = "";
            /* A forced pass drains: files close at file_max_events, so loop. */
            do {
                size_t got = 0;
                uint64_t before = d->ts[i]->scan_pos;
                rc = deliver_trail(d, d->ts[i], force, &got, e);
                if (delivered)
                    *delivered += got;
                if (rc || !force || (d->ts[i]->scan_pos == before && !d->ts[i]->nev))
                    break;
            } while (d->ts[i]->scan_pos <= tk_store_last_seq(d->store));
            if (!rc && (rc = maybe_digest(d, d->ts[i], force, e)))
                note_error(d, d->ts[i], e);
            if (rc && !first) {
                first = rc;
                tk_errf(err, rc, "trail %s: %s", d->ts[i]->t.name, e);
            }
        }
    }
    pthread_mutex_unlock(&d->run_mu);
    return first;
}

int tk_trail_deliverer_create(tk_meta_t *m, tk_store_t *store, const tk_trail_deliver_opts_t *o,
                              tk_trail_deliverer_t **out, char *err)
{
    tk_trail_deliverer_t *d = calloc(1, sizeof *d);
    if (!d)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    d->m = m;
    d->store = store;
    if (o)
        d->o = *o;
    if (d->o.file_max_age_s <= 0)
        d->o.file_max_age_s = 60;
    if (!d->o.file_max_events)
        d->o.file_max_events = 10000;
    if (d->o.poll_ms <= 0)
        d->o.poll_ms = 1000;
    if (d->o.retry_base_ms <= 0)
        d->o.retry_base_ms = 1000;
    if (d->o.retry_max_ms <= 0)
        d->o.retry_max_ms = 300000;
    if (d->o.digest_period_s <= 0)
        d->o.digest_period_s = 3600;
    if (d->o.digest_dir) {
        int rc = trail_digest_key(d->o.digest_dir, &d->dkey, d->fp, err);
        tk_buf_t pem = TK_BUF_INIT;
        char fp[65];
        if (!rc)
            rc = tk_trail_public_key(d->o.digest_dir, &pem, fp, err);
        if (!rc)
            rc = trail_key_register(m, fp, pem.p, err);
        tk_buf_free(&pem);
        d->o.digest_dir = NULL; /* borrowed only here */
        if (rc) {
            trail_digest_key_free(d->dkey);
            free(d);
            return rc;
        }
    }
    tk_random(&d->rnd, sizeof d->rnd);
    pthread_mutex_init(&d->run_mu, NULL);
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    /* Register every checkpoint now, before the store's next seal trims. */
    pthread_mutex_lock(&d->run_mu);
    int rc = sync_trails(d, err);
    pthread_mutex_unlock(&d->run_mu);
    if (rc) {
        tk_trail_deliverer_destroy(d);
        return rc;
    }
    *out = d;
    return 0;
}

static void *run(void *arg)
{
    tk_trail_deliverer_t *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        pthread_mutex_unlock(&d->mu);
        char e[TK_ERRLEN];
        tk_trail_deliver_once(d, 0, NULL, e); /* errors are in each trail's status */
        pthread_mutex_lock(&d->mu);
        if (d->stop)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += d->o.poll_ms / 1000;
        ts.tv_nsec += (long)(d->o.poll_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&d->cv, &d->mu, &ts);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

int tk_trail_deliverer_start(tk_trail_deliverer_t *d, char *err)
{
    if (d->started)
        return 0;
    if (pthread_create(&d->th, NULL, run, d))
        return tk_errf(err, TK_ENOMEM, "cannot start the delivery thread");
    d->started = 1;
    return 0;
}

void tk_trail_deliverer_destroy(tk_trail_deliverer_t *d)
{
    if (!d)
        return;
    if (d->started) {
        pthread_mutex_lock(&d->mu);
        d->stop = 1;
        pthread_cond_signal(&d->cv);
        pthread_mutex_unlock(&d->mu);
        pthread_join(d->th, NULL);
    }
    for (size_t i = 0; i < d->nts; i++)
        tstate_free(d->ts[i]);
    free(d->ts);
    members_free(d);
    trail_digest_key_free(d->dkey);
    pthread_mutex_destroy(&d->run_mu);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d);
}

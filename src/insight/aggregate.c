/* trailkeep Insights aggregates: per account, one series of per-minute
 * (events, weighted count) points per (detector, key), e.g. writes of
 * Ecs:DeleteInstance or calls from one source IP. Only nonzero minutes are
 * kept, sorted, so 28 days of a quiet series costs a few points and a busy
 * one at most 40,320 x 12 bytes. Rebuildable from the store at any time: the
 * aggregate is a cache, never the record. */
#include "insight/insight.h"

#include "base/hash.h"
#include "base/tk.h"
#include "event/parse.h"

#include <cjson/cJSON.h>

#include <stdlib.h>
#include <string.h>

struct tk_insight_agg {
    tk_insight_config_t cfg;
    tk_insight_series_t *ser;
    size_t nser, capser;
    uint32_t *slots;       /* open addressing: series index + 1, 0 = empty */
    size_t nslots;         /* power of two */
    uint32_t first_min, last_min;
    int any;
};

tk_insight_agg_t *tk_insight_agg_create(const tk_insight_config_t *cfg)
{
    tk_insight_agg_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    if (cfg)
        a->cfg = *cfg;
    else
        tk_insight_config_default(&a->cfg);
    return a;
}

void tk_insight_agg_destroy(tk_insight_agg_t *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nser; i++) {
        free(a->ser[i].key);
        free(a->ser[i].pts);
    }
    free(a->ser);
    free(a->slots);
    free(a);
}

static uint64_t key_hash(int det, const char *key, size_t len)
{
    return tk_hash64(key, len) * 31u + (uint64_t)det * 0x9E3779B97F4A7C15ull;
}

static int grow_slots(tk_insight_agg_t *a)
{
    size_t n = a->nslots ? a->nslots * 2 : 256;
    uint32_t *s = calloc(n, sizeof *s);
    if (!s)
        return TK_ENOMEM;
    for (size_t i = 0; i < a->nser; i++) {
        const tk_insight_series_t *se = &a->ser[i];
        size_t h = (size_t)key_hash(se->det, se->key, strlen(se->key)) & (n - 1);
        while (s[h])
            h = (h + 1) & (n - 1);
        s[h] = (uint32_t)(i + 1);
    }
    free(a->slots);
    a->slots = s;
    a->nslots = n;
    return 0;
}

/* Finds or creates the series (det, key). Returns its index or a negative TK_E*. */
static long series_get(tk_insight_agg_t *a, int det, const char *key)
{
    size_t len = strlen(key);
    if (!a->nslots || (a->nser + 1) * 2 > a->nslots) {
        int rc = grow_slots(a);
        if (rc)
            return rc;
    }
    size_t h = (size_t)key_hash(det, key, len) & (a->nslots - 1);
    while (a->slots[h]) {
        tk_insight_series_t *se = &a->ser[a->slots[h] - 1];
        if (se->det == det && !strcmp(se->key, key))
            return (long)(a->slots[h] - 1);
        h = (h + 1) & (a->nslots - 1);
    }
    if (a->nser == a->capser) {
        size_t nc = a->capser ? a->capser * 2 : 64;
        tk_insight_series_t *p = realloc(a->ser, nc * sizeof *p);
        if (!p)
            return TK_ENOMEM;
        a->ser = p;
        a->capser = nc;
    }
    tk_insight_series_t *se = &a->ser[a->nser];
    memset(se, 0, sizeof *se);
    se->det = det;
    se->key = strdup(key);
    if (!se->key)
        return TK_ENOMEM;
    a->slots[h] = (uint32_t)(a->nser + 1);
    return (long)a->nser++;
}

/* Adds to the point of minute m, keeping points sorted: appending is the
 * common case (events arrive in time order); a late event costs a binary
 * search and a memmove. */
static int series_add(tk_insight_series_t *se, uint32_t m, uint32_t weight)
{
    if (se->n && se->pts[se->n - 1].minute == m) {
        se->pts[se->n - 1].events++;
        se->pts[se->n - 1].weight += weight;
        return 0;
    }
    size_t pos = se->n;
    if (se->n && se->pts[se->n - 1].minute > m) {
        size_t lo = 0, hi = se->n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (se->pts[mid].minute < m)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (se->pts[lo].minute == m) {
            se->pts[lo].events++;
            se->pts[lo].weight += weight;
            return 0;
        }
        pos = lo;
    }
    if (se->n == se->cap) {
        size_t nc = se->cap ? se->cap * 2 : 8;
        tk_insight_point_t *p = realloc(se->pts, nc * sizeof *p);
        if (!p)
            return TK_ENOMEM;
        se->pts = p;
        se->cap = nc;
    }
    memmove(se->pts + pos + 1, se->pts + pos, (se->n - pos) * sizeof *se->pts);
    se->pts[pos] = (tk_insight_point_t){m, 1, weight};
    se->n++;
    return 0;
}

int tk_insight_agg_add(tk_insight_agg_t *a, const tk_insight_obs_t *o)
{
    if (o->time_ms < 0 || !strcmp(o->event_type, "ActionTrailInsight"))
        return 0; /* our own output is not activity to learn from */
    uint32_t m = (uint32_t)(o->time_ms / 60000);
    if (!a->any || m < a->first_min)
        a->first_min = m;
    if (!a->any || m > a->last_min)
        a->last_min = m;
    a->any = 1;
    tk_insight_key_t keys[4];
    for (int d = 0; d < TK_INSIGHT_NDET; d++) {
        if (a->cfg.knobs[d].enabled == 0)
            continue;
        int nk = tk_insight_detectors[d]->classify(o, keys, (int)TK_ARRAY_LEN(keys));
        for (int k = 0; k < nk; k++) {
            long si = series_get(a, d, keys[k].key);
            if (si < 0)
                return (int)si;
            int rc = series_add(&a->ser[si], m, keys[k].weight);
            if (rc)
                return rc;
        }
    }
    return 0;
}

size_t tk_insight_agg_nseries(const tk_insight_agg_t *a) { return a->nser; }
const tk_insight_series_t *tk_insight_agg_series(const tk_insight_agg_t *a, size_t i)
{
    return i < a->nser ? &a->ser[i] : NULL;
}
uint32_t tk_insight_agg_first_minute(const tk_insight_agg_t *a) { return a->any ? a->first_min : 0; }
uint32_t tk_insight_agg_last_minute(const tk_insight_agg_t *a) { return a->any ? a->last_min : 0; }

size_t tk_insight_agg_bytes(const tk_insight_agg_t *a)
{
    size_t b = sizeof *a + a->capser * sizeof *a->ser + a->nslots * sizeof *a->slots;
    for (size_t i = 0; i < a->nser; i++)
        b += a->ser[i].cap * sizeof *a->ser[i].pts + strlen(a->ser[i].key) + 1;
    return b;
}

static const char *jstr(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

int tk_insight_obs_from_json(const char *json, size_t len, int64_t time_ms,
                             tk_insight_obs_t *o, cJSON **doc)
{
    *doc = cJSON_ParseWithLength(json, len);
    if (!*doc || !cJSON_IsObject(*doc)) {
        cJSON_Delete(*doc);
        *doc = NULL;
        return TK_EINVAL;
    }
    const cJSON *e = *doc;
    memset(o, 0, sizeof *o);
    o->time_ms = time_ms;
    o->service = jstr(e, "serviceName");
    o->event_name = jstr(e, "eventName");
    o->event_rw = jstr(e, "eventRW");
    o->error_code = jstr(e, "errorCode");
    o->source_ip = jstr(e, "sourceIpAddress");
    o->user_agent = jstr(e, "userAgent");
    o->event_type = jstr(e, "eventType");
    const cJSON *ui = cJSON_GetObjectItemCaseSensitive(e, "userIdentity");
    o->user = jstr(ui, "userName");
    if (!*o->user)
        o->user = jstr(ui, "principalId");
    if (!*o->user)
        o->user = jstr(ui, "type");
    o->access_key = jstr(ui, "accessKeyId");
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(e, "sensitiveAction");
    if (cJSON_IsBool(sa))
        o->sensitive = cJSON_IsTrue(sa);
    else
        o->sensitive = tk_event_is_sensitive(o->service, strlen(o->service), o->event_name,
                                             strlen(o->event_name));
    return 0;
}

typedef struct rebuild_ctx {
    tk_insight_agg_t *a;
    int rc;
} rebuild_ctx_t;

static int rebuild_cb(void *ud, const tk_stored_event_t *ev)
{
    rebuild_ctx_t *c = ud;
    tk_insight_obs_t o;
    cJSON *doc = NULL;
    if (tk_insight_obs_from_json(ev->json.p, ev->json.len, ev->time_ms, &o, &doc))
        return 0; /* the store only holds valid objects; skip rather than stop */
    c->rc = tk_insight_agg_add(c->a, &o);
    cJSON_Delete(doc);
    return c->rc ? 1 : 0;
}

int tk_insight_agg_rebuild(tk_insight_agg_t *a, tk_store_t *s, const char *account,
                           int64_t start_ms, int64_t end_ms, char *err)
{
    tk_lookup_req_t req;
    memset(&req, 0, sizeof req);
    req.account = account;
    req.start_ms = start_ms;
    req.end_ms = end_ms;
    req.forward = 1;
    rebuild_ctx_t c = {a, 0};
    int rc = tk_store_lookup(s, &req, rebuild_cb, &c, err);
    if (c.rc)
        return tk_errf(err, c.rc, "insights: out of memory while aggregating account %s", account);
    return rc < 0 ? rc : 0;
}

int tk_insight_agg_prune(tk_insight_agg_t *a, uint32_t before_min)
{
    size_t keep = 0;
    int any = 0;
    uint32_t first = 0;
    for (size_t i = 0; i < a->nser; i++) {
        tk_insight_series_t *se = &a->ser[i];
        size_t j = 0;
        while (j < se->n && se->pts[j].minute < before_min)
            j++;
        memmove(se->pts, se->pts + j, (se->n - j) * sizeof *se->pts);
        se->n -= j;
        if (!se->n) { /* a series with nothing left (an IP not seen for 28 days) goes */
            free(se->key);
            free(se->pts);
            continue;
        }
        if (!any || se->pts[0].minute < first)
            first = se->pts[0].minute;
        any = 1;
        a->ser[keep++] = *se;
    }
    a->nser = keep;
    a->any = any;
    a->first_min = first;
    if (!any)
        a->last_min = 0;
    /* Rehash at the current size: indexes moved. */
    size_t n = a->nslots;
    free(a->slots);
    a->slots = NULL;
    a->nslots = n ? n / 2 : 0;
    return a->nslots ? grow_slots(a) : 0;
}

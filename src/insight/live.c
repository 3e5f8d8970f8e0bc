/* trailkeep Insights, continuously: per-account aggregates fed from the
 * event log and a tick that judges newly completed minutes. Each tick
 * re-evaluates from the start of any incident still open (or a lookback of
 * k-of-m plus close_quiet minutes before the previous tick), so an incident
 * keeps its start, hence its sharedEventId, across ticks; incidents already
 * reported are remembered until they are far behind, so none is reported twice. */
#include "insight/insight.h"

#include "base/tk.h"

#include <cjson/cJSON.h>

#include <stdlib.h>
#include <string.h>

#define HISTORY_MIN (28u * 1440u)
#define PRUNE_EVERY_MIN 60u

typedef struct live_inc {
    int det;
    char *key;
    uint32_t start_min, end_min;
    int open;
    char shared_id[37];
} live_inc_t;

typedef struct live_acct {
    char *account;
    tk_insight_agg_t *agg;
    tk_insight_config_t cfg; /* the consumer's, or the account's own (set_account_config) */
    uint32_t lookback;     /* minutes re-judged before the previous tick's end */
    uint32_t last_until;   /* minutes before this were judged by an earlier tick */
    uint32_t last_prune;
    int late;              /* a late event or a new configuration: re-judge at the next tick */
    live_inc_t *inc;       /* reported incidents still in reach of a re-evaluation */
    size_t ninc, capinc;
} live_acct_t;

struct tk_insight_live {
    tk_insight_config_t cfg;
    live_acct_t *acc;
    size_t nacc, capacc;
};

/* k-of-m plus close_quiet of the widest enabled detector (and a margin): a
 * re-evaluation from that far back sees every incident still in progress. */
static uint32_t lookback_of(const tk_insight_config_t *cfg)
{
    uint32_t lb0 = 0;
    for (int d = 0; d < TK_INSIGHT_NDET; d++) {
        const tk_insight_knobs_t *k = &cfg->knobs[d];
        uint32_t lb = (uint32_t)(k->m + k->close_quiet) + 2;
        if (k->enabled != 0 && lb > lb0)
            lb0 = lb;
    }
    return lb0;
}

tk_insight_live_t *tk_insight_live_create(const tk_insight_config_t *cfg)
{
    tk_insight_live_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    if (cfg)
        l->cfg = *cfg;
    else
        tk_insight_config_default(&l->cfg);
    return l;
}

static void acct_free(live_acct_t *a)
{
    if (!a)
        return;
    free(a->account);
    tk_insight_agg_destroy(a->agg);
    for (size_t i = 0; i < a->ninc; i++)
        free(a->inc[i].key);
    free(a->inc);
}

void tk_insight_live_destroy(tk_insight_live_t *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->nacc; i++)
        acct_free(&l->acc[i]);
    free(l->acc);
    free(l);
}

/* Accounts are few per process; a linear search keeps this simple. */
static live_acct_t *acct_get(tk_insight_live_t *l, const char *account)
{
    for (size_t i = 0; i < l->nacc; i++)
        if (!strcmp(l->acc[i].account, account))
            return &l->acc[i];
    if (l->nacc == l->capacc) {
        size_t nc = l->capacc ? l->capacc * 2 : 8;
        live_acct_t *p = realloc(l->acc, nc * sizeof *p);
        if (!p)
            return NULL;
        l->acc = p;
        l->capacc = nc;
    }
    live_acct_t *a = &l->acc[l->nacc];
    memset(a, 0, sizeof *a);
    a->cfg = l->cfg;
    a->lookback = lookback_of(&a->cfg);
    a->account = strdup(account);
    /* Recorded with the consumer's configuration, whatever the account's own
     * says (set_account_config): a type the account enables later then
     * finds its history already there. */
    a->agg = tk_insight_agg_create(&l->cfg);
    if (!a->account || !a->agg) {
        acct_free(a);
        return NULL;
    }
    l->nacc++;
    return a;
}

int tk_insight_live_add(tk_insight_live_t *l, const char *account, const tk_insight_obs_t *o)
{
    live_acct_t *a = acct_get(l, account);
    if (!a)
        return TK_ENOMEM;
    /* A late event (delivery delay, a client's retry) lands in a minute
     * already judged: the next tick re-judges instead of waiting for the
     * next minute to complete. Insights records are not activity. */
    if (o->time_ms >= 0 && (uint64_t)o->time_ms / 60000 < a->last_until &&
        strcmp(o->event_type, "ActionTrailInsight"))
        a->late = 1;
    return tk_insight_agg_add(a->agg, o);
}

int tk_insight_live_add_stored(tk_insight_live_t *l, const tk_stored_event_t *ev)
{
    char account[128];
    if (ev->account.len >= sizeof account)
        return 0; /* not an account id the store accepts */
    memcpy(account, ev->account.p, ev->account.len);
    account[ev->account.len] = 0;
    tk_insight_obs_t o;
    cJSON *doc = NULL;
    if (tk_insight_obs_from_json(ev->json.p, ev->json.len, ev->time_ms, &o, &doc))
        return 0;
    int rc = tk_insight_live_add(l, account, &o);
    cJSON_Delete(doc);
    return rc;
}

/* The reported incident that x continues, if any: same series, and either
 * still open, or x starts before it ended (x is then a re-evaluation's view
 * of its tail: a new incident of a series starts at least close_quiet
 * minutes after the previous one's last anomalous minute). */
static live_inc_t *match(live_acct_t *a, const tk_insight_incident_t *x)
{
    for (size_t i = 0; i < a->ninc; i++) {
        live_inc_t *r = &a->inc[i];
        if (r->det == x->det && !strcmp(r->key, x->key) &&
            (r->open || x->start_min < r->end_min))
            return r;
    }
    return NULL;
}

static int emit_one(tk_insight_result_t *r, size_t i, int end_state, tk_insight_emit_cb emit,
                    void *ud)
{
    tk_buf_t b = TK_BUF_INIT;
    int rc = tk_insight_render(r, i, end_state, &b);
    const tk_insight_incident_t *in = &r->inc.v[i];
    int64_t t = (int64_t)(end_state ? in->end_min : in->start_min) * 60000;
    if (!rc)
        rc = emit(ud, r->account, end_state, t, b.p, b.len);
    tk_buf_free(&b);
    return rc;
}

static int tick_account(live_acct_t *a, tk_store_t *s, uint32_t until,
                        tk_insight_emit_cb emit, void *ud, char *err)
{
    uint32_t from = a->last_until > a->lookback ? a->last_until - a->lookback : 0;
    for (size_t i = 0; i < a->ninc; i++)
        if (a->inc[i].open && a->inc[i].start_min < from)
            from = a->inc[i].start_min;
    tk_insight_result_t r;
    int rc = tk_insight_evaluate(a->agg, a->account, &a->cfg, (int64_t)from * 60000,
                                 (int64_t)until * 60000, &r, err);
    if (rc)
        return rc;
    /* First pass: what is new to report; attributions only when something is. */
    int news = 0;
    for (size_t i = 0; i < r.inc.n && !news; i++) {
        const tk_insight_incident_t *x = &r.inc.v[i];
        live_inc_t *m = match(a, x);
        news = !m || (m->open && !x->open);
    }
    if (news && s)
        rc = tk_insight_attr_from_store(&r, s, err);
    for (size_t i = 0; i < r.inc.n && news && !rc; i++) {
        tk_insight_incident_t *x = &r.inc.v[i];
        live_inc_t *m = match(a, x);
        if (!m) {
            if (a->ninc == a->capinc) {
                size_t nc = a->capinc ? a->capinc * 2 : 8;
                live_inc_t *p = realloc(a->inc, nc * sizeof *p);
                if (!p) {
                    rc = TK_ENOMEM;
                    break;
                }
                a->inc = p;
                a->capinc = nc;
            }
            m = &a->inc[a->ninc];
            memset(m, 0, sizeof *m);
            if (!(m->key = strdup(x->key))) {
                rc = TK_ENOMEM;
                break;
            }
            m->det = x->det;
            m->start_min = x->start_min;
            m->open = 1;
            memcpy(m->shared_id, x->shared_id, sizeof m->shared_id);
            a->ninc++;
            if ((rc = emit_one(&r, i, 0, emit, ud)))
                break;
        }
        if (m->open && !x->open) {
            memcpy(x->shared_id, m->shared_id, sizeof x->shared_id); /* same incident */
            m->open = 0;
            m->end_min = x->end_min;
            rc = emit_one(&r, i, 1, emit, ud);
        }
    }
    tk_insight_result_free(&r);
    if (rc)
        return rc;
    /* Forget closed incidents no re-evaluation can reach any more. */
    size_t keep = 0;
    for (size_t i = 0; i < a->ninc; i++) {
        live_inc_t *m = &a->inc[i];
        uint32_t reach = m->end_min + (uint32_t)a->cfg.knobs[m->det].close_quiet + a->lookback;
        if (!m->open && reach < until) {
            free(m->key);
            continue;
        }
        a->inc[keep++] = *m;
    }
    a->ninc = keep;
    a->last_until = until;
    a->late = 0;
    if (until >= a->last_prune + PRUNE_EVERY_MIN && until > HISTORY_MIN + 1440) {
        a->last_prune = until;
        rc = tk_insight_agg_prune(a->agg, until - HISTORY_MIN - 1440);
    }
    return rc;
}

int tk_insight_live_tick(tk_insight_live_t *l, tk_store_t *s, int64_t now_ms,
                         tk_insight_emit_cb emit, void *ud, char *err)
{
    if (now_ms < 60000)
        return 0;
    uint32_t until = (uint32_t)(now_ms / 60000); /* minutes before the current one are complete */
    for (size_t i = 0; i < l->nacc; i++) {
        if (until < l->acc[i].last_until || (until == l->acc[i].last_until && !l->acc[i].late))
            continue;
        int rc = tick_account(&l->acc[i], s, until, emit, ud, err);
        if (rc)
            return rc;
    }
    return 0;
}

int tk_insight_live_set_account_config(tk_insight_live_t *l, const char *account,
                                       const tk_insight_config_t *cfg)
{
    live_acct_t *a = acct_get(l, account);
    if (!a)
        return TK_ENOMEM;
    a->cfg = cfg ? *cfg : l->cfg;
    a->lookback = lookback_of(&a->cfg);
    a->late = 1; /* judge the recent minutes again under the new configuration */
    return 0;
}

typedef struct rebuild_ctx {
    tk_insight_agg_t *agg;
    uint64_t max_seq, n;
    int (*cancel)(void *);
    void *cancel_ud;
    int rc;
} rebuild_ctx_t;

static int rebuild_cb(void *ud, const tk_stored_event_t *ev)
{
    rebuild_ctx_t *c = ud;
    if (c->cancel && (++c->n & 4095) == 0 && c->cancel(c->cancel_ud)) {
        c->rc = TK_ECLOSED;
        return 1;
    }
    if (ev->seq > c->max_seq)
        return 0; /* appended after the cut: the log reader counts it */
    tk_insight_obs_t o;
    cJSON *doc = NULL;
    if (tk_insight_obs_from_json(ev->json.p, ev->json.len, ev->time_ms, &o, &doc))
        return 0;
    c->rc = tk_insight_agg_add(c->agg, &o);
    cJSON_Delete(doc);
    return c->rc ? 1 : 0;
}

int tk_insight_live_rebuild(tk_insight_live_t *l, tk_store_t *s, const char *account,
                            int64_t start_ms, int64_t end_ms, uint64_t max_seq,
                            int (*cancel)(void *ud), void *cancel_ud, char *err)
{
    live_acct_t *a = acct_get(l, account);
    if (!a)
        return tk_errf(err, TK_ENOMEM, "insights: out of memory adding account %s", account);
    tk_lookup_req_t req;
    memset(&req, 0, sizeof req);
    req.account = account;
    req.start_ms = start_ms;
    req.end_ms = end_ms;
    req.forward = 1;
    rebuild_ctx_t c = {.agg = a->agg, .max_seq = max_seq, .cancel = cancel, .cancel_ud = cancel_ud};
    int rc = tk_store_lookup(s, &req, rebuild_cb, &c, err);
    if (c.rc == TK_ECLOSED)
        return tk_errf(err, TK_ECLOSED, "insights: rebuild of account %s cancelled", account);
    if (c.rc)
        return tk_errf(err, c.rc, "insights: out of memory while aggregating account %s", account);
    return rc < 0 ? rc : 0;
}

void tk_insight_live_stats(const tk_insight_live_t *l, size_t *accounts, size_t *agg_bytes)
{
    size_t b = 0;
    for (size_t i = 0; i < l->nacc; i++)
        b += tk_insight_agg_bytes(l->acc[i].agg) + l->acc[i].ninc * sizeof(live_inc_t);
    if (accounts)
        *accounts = l->nacc;
    if (agg_bytes)
        *agg_bytes = b;
}

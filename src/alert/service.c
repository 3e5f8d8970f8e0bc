/* trailkeep alerting service (service.h). Each stored rule gets its own
 * engine (so two accounts may use the same template id); a batch of log
 * events is evaluated in memory, then its alerts, outbox rows, the touched
 * engines' snapshots and the checkpoint are committed in ONE transaction:
 * after a crash the service resumes from a state that matches the
 * checkpoint exactly, so nothing re-alerts and nothing is skipped. */
#include "alert/service.h"

#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONSUMER "alerts"

typedef struct lrule {
    tk_stored_rule_t r;
    char key[200];          /* snapshot key: account/id/updated_ms */
    tk_alert_engine_t *eng;
    int64_t hold_ms;        /* how long an alert stays triggered without new firings */
    int clear_on_event;     /* clear_when: cleared by its clearing event, never by time */
    int dirty;
} lrule_t;

typedef struct hit {
    size_t rule;            /* index into rules */
    int clear;              /* a clear_when event (TK_ALERT_CLEAR), else a firing */
    char *title, *summary;  /* rendered from the event (owned), NULL when none */
    char account[64];
    char group[256];
    uint64_t count;
    int64_t first_ms, time_ms;
    char seqs[512];
} hit_t;

struct tk_alert_service {
    tk_meta_t *meta;
    tk_store_t *store;
    tk_alert_service_opts_t o;
    char *smtp_url, *smtp_from, *smtp_user, *smtp_password, *smtp_ca;
    lrule_t *rules;
    size_t nrules;
    int64_t rules_version;
    char mgmt[64];
    char **members;
    size_t nmembers;
    uint64_t checkpoint;
    hit_t *hits;
    size_t nhits, caphits;
    int64_t next_clear_ms;
    pthread_mutex_t mu;     /* stats and stop */
    pthread_cond_t cv;
    int stop, started;
    pthread_t th_eval, th_send;
    tk_alert_service_stats_t st;  /* evaluator's own counters (its thread only) */
    tk_alert_service_stats_t pub; /* published copy + sender counters, under mu */
    tk_alert_rule_metrics_t *pub_rules; /* per rule, under mu (ids owned) */
    size_t npub_rules;
};

/* ------------------------------------------------------------ JSON out */

int tk_alert_row_json(const tk_alert_row_t *a, tk_buf_t *b)
{
    int rc = tk_buf_printf(b, "{\"id\":%lld,\"rule\":", (long long)a->id);
    rc |= tk_buf_put_json_str(b, a->rule, strlen(a->rule));
    rc |= tk_buf_puts(b, ",\"account\":");
    rc |= tk_buf_put_json_str(b, a->account, strlen(a->account));
    rc |= tk_buf_puts(b, ",\"group_key\":");
    rc |= tk_buf_put_json_str(b, a->group_key, strlen(a->group_key));
    char f[40], l[40];
    tk_time_format(a->first_ms, 0, f);
    tk_time_format(a->last_ms, 0, l);
    rc |= tk_buf_printf(b, ",\"fingerprint\":\"%s\",\"severity\":\"%s\",\"state\":\"%s\","
                           "\"first_time\":\"%s\",\"last_time\":\"%s\",\"count\":%lld,"
                           "\"event_seqs\":[%s],\"last_notified_ms\":%lld",
                        a->fingerprint, tk_severity_name(a->severity), tk_alert_state_name(a->state), f,
                        l, (long long)a->count, a->event_seqs ? a->event_seqs : "",
                        (long long)a->notified_ms);
    if (a->title[0]) {
        rc |= tk_buf_puts(b, ",\"title\":");
        rc |= tk_buf_put_json_str(b, a->title, strlen(a->title));
    }
    if (a->summary[0]) {
        rc |= tk_buf_puts(b, ",\"summary\":");
        rc |= tk_buf_put_json_str(b, a->summary, strlen(a->summary));
    }
    if (a->clear_seq)
        rc |= tk_buf_printf(b, ",\"clear_seq\":%lld", (long long)a->clear_seq);
    rc |= tk_buf_puts(b, ",\"history\":");
    rc |= tk_buf_puts(b, a->history[0] == '[' ? a->history : "[]");
    rc |= tk_buf_putc(b, '}');
    return rc ? TK_ENOMEM : 0;
}

int tk_stored_rule_json(const tk_stored_rule_t *r, tk_buf_t *b)
{
    int rc = tk_buf_puts(b, "{\"id\":");
    rc |= tk_buf_put_json_str(b, r->id, strlen(r->id));
    rc |= tk_buf_puts(b, ",\"account\":");
    rc |= tk_buf_put_json_str(b, r->account, strlen(r->account));
    rc |= tk_buf_printf(b, ",\"scope\":\"%s\",\"kind\":\"%s\",\"definition\":",
                        r->org_scope ? "org" : "own", tk_rule_kind_name(r->kind));
    const char *d = r->definition ? r->definition : "";
    rc |= tk_buf_put_json_str(b, d, strlen(d));
    rc |= tk_buf_printf(b, ",\"severity\":\"%s\",\"enabled\":%s,\"recipients\":",
                        tk_severity_name(r->severity), r->enabled ? "true" : "false");
    const char *rc_ = r->recipients ? r->recipients : "";
    rc |= tk_buf_put_json_str(b, rc_, strlen(rc_));
    rc |= tk_buf_printf(b, ",\"repeat_interval_s\":%lld,\"created_ms\":%lld,\"updated_ms\":%lld}",
                        (long long)(r->repeat_ms / 1000), (long long)r->created_ms,
                        (long long)r->updated_ms);
    return rc ? TK_ENOMEM : 0;
}

/* ------------------------------------------------------------ kv, rules */

static int64_t kv_get(sqlite3 *db, const char *k)
{
    sqlite3_stmt *st = NULL;
    int64_t v = 0;
    if (sqlite3_prepare_v2(db, "SELECT v FROM alert_kv WHERE k=?", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

static void free_rules(tk_alert_service_t *s)
{
    for (size_t i = 0; i < s->nrules; i++) {
        tk_stored_rule_free(&s->rules[i].r);
        tk_alert_engine_destroy(s->rules[i].eng);
    }
    free(s->rules);
    s->rules = NULL;
    s->nrules = 0;
}

static void add_member(void *ud, const char *account)
{
    tk_alert_service_t *s = ud;
    char **nv = realloc(s->members, (s->nmembers + 1) * sizeof *nv);
    if (!nv)
        return;
    s->members = nv;
    if ((nv[s->nmembers] = strdup(account)))
        s->nmembers++;
}

static void load_org(tk_alert_service_t *s)
{
    for (size_t i = 0; i < s->nmembers; i++)
        free(s->members[i]);
    free(s->members);
    s->members = NULL;
    s->nmembers = 0;
    char org[64], err[TK_ERRLEN];
    s->mgmt[0] = 0;
    if (tk_meta_org_get(s->meta, org, s->mgmt, err) == 0)
        tk_meta_org_members(s->meta, add_member, s, err);
}

/* Loads the enabled rules and their snapshots (consistent with the
 * checkpoint: both were committed together). */
static int load_rules(tk_alert_service_t *s, char *err)
{
    free_rules(s);
    load_org(s);
    s->rules_version = tk_alert_rules_version(s->meta);
    tk_stored_rule_t *v = NULL;
    size_t n = 0;
    int rc = tk_alert_rule_list(s->meta, NULL, &v, &n, err);
    if (rc)
        return rc;
    s->rules = calloc(n ? n : 1, sizeof *s->rules);
    if (!s->rules) {
        tk_stored_rules_free(v, n);
        return tk_errf(err, TK_ENOMEM, "out of memory loading rules");
    }
    for (size_t i = 0; i < n; i++) {
        if (!v[i].enabled)
            continue;
        tk_rule_t *cr = NULL;
        tk_alert_engine_t *e = NULL;
        char e2[TK_ERRLEN] = "";
        tk_alert_opts_t eo = {.report_clears = 1};
        if (tk_stored_rule_compile(&v[i], &cr, e2) || tk_alert_engine_create(&eo, &e, e2)) {
            tk_log("trailkeep serve: alerts: rule %s/%s skipped: %s\n", v[i].account,
                    v[i].id, e2);
            tk_rule_destroy(cr);
            continue;
        }
        int64_t w = tk_rule_window_ms(cr), sp = tk_rule_suppress_ms(cr);
        int coe = tk_rule_clears_on_event(cr);
        if (tk_alert_engine_add(e, cr, e2)) {
            tk_alert_engine_destroy(e);
            continue;
        }
        lrule_t *l = &s->rules[s->nrules++];
        l->r = v[i];
        memset(&v[i], 0, sizeof v[i]);
        l->eng = e;
        l->clear_on_event = coe;
        l->hold_ms = w > sp ? w : sp;
        if (!l->hold_ms)
            l->hold_ms = l->r.repeat_ms;
        snprintf(l->key, sizeof l->key, "%s/%s/%lld", l->r.account, l->r.id, (long long)l->r.updated_ms);
    }
    tk_stored_rules_free(v, n);
    /* Snapshots: restore each engine's windows; drop those of changed rules. */
    sqlite3 *db = tk_meta_lock(s->meta);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT rule_key, data FROM alert_snapshots", -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *k = (const char *)sqlite3_column_text(st, 0);
            for (size_t i = 0; k && i < s->nrules; i++)
                if (!strcmp(s->rules[i].key, k)) {
                    char e2[TK_ERRLEN];
                    if (tk_alert_engine_load(s->rules[i].eng, sqlite3_column_blob(st, 1),
                                             (size_t)sqlite3_column_bytes(st, 1), e2))
                        tk_log("trailkeep serve: alerts: snapshot of %s ignored: %s\n", k, e2);
                }
        }
    }
    sqlite3_finalize(st);
    tk_meta_unlock(s->meta);
    return 0;
}

/* ------------------------------------------------------------ evaluate */

static void on_hit(void *ctx, const tk_alert_hit_t *h)
{
    tk_alert_service_t *s = ((void **)ctx)[0];
    size_t ri = *(size_t *)((void **)ctx)[1];
    if (h->kind != TK_ALERT_FIRE && h->kind != TK_ALERT_CLEAR)
        return;
    if (s->nhits == s->caphits) {
        size_t cap = s->caphits ? s->caphits * 2 : 16;
        hit_t *nv = realloc(s->hits, cap * sizeof *nv);
        if (!nv)
            return; /* ENOMEM: the alert is lost; counted by no one, but never a crash */
        s->hits = nv;
        s->caphits = cap;
    }
    hit_t *x = &s->hits[s->nhits++];
    memset(x, 0, sizeof *x);
    x->rule = ri;
    x->clear = h->kind == TK_ALERT_CLEAR;
    /* ENOMEM here only loses the text, never the alert */
    x->title = h->title ? strdup(h->title) : NULL;
    x->summary = h->summary ? strdup(h->summary) : NULL;
    snprintf(x->account, sizeof x->account, "%.*s", (int)h->account_len, h->account);
    snprintf(x->group, sizeof x->group, "%.*s", (int)h->group_len, h->group_key);
    x->count = h->count;
    x->first_ms = h->first_ms;
    x->time_ms = h->time_ms;
    size_t off = 0;
    for (uint32_t i = 0; i < h->nseqs && off + 24 < sizeof x->seqs; i++)
        off += (size_t)snprintf(x->seqs + off, sizeof x->seqs - off, "%s%llu", i ? "," : "",
                                (unsigned long long)h->seqs[i]);
}

static int is_member(tk_alert_service_t *s, const char *acct, size_t n)
{
    for (size_t i = 0; i < s->nmembers; i++)
        if (strlen(s->members[i]) == n && !memcmp(s->members[i], acct, n))
            return 1;
    return 0;
}

static int eval_event(void *ud, const tk_stored_event_t *ev)
{
    tk_alert_service_t *s = ud;
    for (size_t i = 0; i < s->nrules; i++) {
        lrule_t *l = &s->rules[i];
        size_t al = strlen(l->r.account);
        int own = ev->account.len == al && !memcmp(ev->account.p, l->r.account, al);
        int org = !own && l->r.org_scope && s->mgmt[0] && !strcmp(l->r.account, s->mgmt) &&
                  is_member(s, ev->account.p, ev->account.len);
        if (!own && !org)
            continue;
        void *ctx[2] = {s, &i};
        char err[TK_ERRLEN];
        /* Only a match changes an engine's windows or suppression state (expiry
         * is recomputed from the stored times on load), so only then does its
         * snapshot need rewriting: saving every engine every batch made the
         * evaluator ~100x slower than the engine. */
        tk_alert_stats_t before, after;
        tk_alert_engine_stats(l->eng, &before);
        tk_alert_engine_eval_seq(l->eng, ev->account.p, ev->account.len, ev->json.p, ev->json.len,
                                 ev->time_ms, ev->seq, on_hit, ctx, err);
        tk_alert_engine_stats(l->eng, &after);
        if (after.matches != before.matches || after.clears != before.clears)
            l->dirty = 1;
    }
    s->checkpoint = ev->seq;
    s->st.events++;
    return 0;
}

/* ------------------------------------------------- recipients and outbox */

typedef struct recip {
    char user[128];
    char channel[16];
} recip_t;

typedef struct rlist {
    recip_t *v;
    size_t n;
    tk_alert_user_t *users;
    size_t nusers;
    const char *want_group;
    char *members;
} rlist_t;

static void add_user(rlist_t *l, const char *name)
{
    for (size_t i = 0; i < l->nusers; i++) {
        tk_alert_user_t *u = &l->users[i];
        if (strcmp(u->name, name))
            continue;
        for (const tk_channel_t *const *c = tk_channels(); *c; c++) {
            if (!(*c)->applies(u))
                continue;
            int dup = 0;
            for (size_t k = 0; k < l->n; k++)
                dup |= !strcmp(l->v[k].user, name) && !strcmp(l->v[k].channel, (*c)->name);
            if (dup)
                continue;
            recip_t *nv = realloc(l->v, (l->n + 1) * sizeof *nv);
            if (!nv)
                return;
            l->v = nv;
            snprintf(nv[l->n].user, sizeof nv[l->n].user, "%s", name);
            snprintf(nv[l->n].channel, sizeof nv[l->n].channel, "%s", (*c)->name);
            l->n++;
        }
    }
}

static void group_cb(void *ud, const char *name, const char *members)
{
    rlist_t *l = ud;
    if (!l->members && !strcmp(name, l->want_group))
        l->members = strdup(members);
}

static void each_token(const char *list, void (*fn)(void *, const char *), void *ud)
{
    char *dup = strdup(list ? list : "");
    char *save = NULL;
    for (char *t = dup ? strtok_r(dup, ", ", &save) : NULL; t; t = strtok_r(NULL, ", ", &save))
        fn(ud, t);
    free(dup);
}

static void add_token(void *ud, const char *t);

static void add_plain(void *ud, const char *t)
{
    add_user(ud, t);
}

static void add_token(void *ud, const char *t)
{
    rlist_t *l = ud;
    if (!strncmp(t, "group:", 6)) {
        l->want_group = t + 6;
        l->members = NULL;
        return; /* resolved by the caller (needs the meta lock free) */
    }
    add_user(l, t);
}

/* Resolves a rule's recipients (users and groups of the rule's account) to
 * (user, channel) pairs. Called without the meta lock held. */
static void resolve_list(tk_meta_t *meta, const char *account, const char *recipients, rlist_t *out)
{
    memset(out, 0, sizeof *out);
    char err[TK_ERRLEN];
    if (tk_alert_user_list(meta, account, &out->users, &out->nusers, err))
        return;
    char *dup = strdup(recipients ? recipients : "");
    char *save = NULL;
    for (char *t = dup ? strtok_r(dup, ", ", &save) : NULL; t; t = strtok_r(NULL, ", ", &save)) {
        if (!strncmp(t, "group:", 6)) {
            out->want_group = t + 6;
            out->members = NULL;
            tk_alert_group_list(meta, account, group_cb, out, err);
            each_token(out->members, add_plain, out);
            free(out->members);
            out->members = NULL;
        } else {
            add_token(out, t);
        }
    }
    free(dup);
}

static void resolve(tk_alert_service_t *s, const lrule_t *l, rlist_t *out)
{
    resolve_list(s->meta, l->r.account, l->r.recipients, out);
}

static void rlist_free(rlist_t *l)
{
    if (!l)
        return;
    free(l->v);
    free(l->users);
}

int tk_alert_notify_test(tk_meta_t *m, const tk_notify_cfg_t *cfg, const char *account,
                         const char *rule_id, const char *recipients, tk_buf_t *report, char *err)
{
    rlist_t rl;
    resolve_list(m, account, recipients, &rl);
    tk_buf_t p = TK_BUF_INIT;
    int rc = tk_buf_puts(&p, "{\"rule\":");
    rc |= tk_buf_put_json_str(&p, rule_id, strlen(rule_id));
    rc |= tk_buf_puts(&p, ",\"account\":");
    rc |= tk_buf_put_json_str(&p, account, strlen(account));
    rc |= tk_buf_puts(&p, ",\"severity\":\"report\",\"state\":\"test\",\"notification\":\"test\","
                          "\"count\":0,\"title\":\"test notification from trailkeep (no alert fired)\","
                          "\"summary\":\"If you read this, the rule's notices reach you on this channel.\"}");
    size_t sent = 0, failed = 0;
    rc |= tk_buf_puts(report, "{\"results\":[");
    for (size_t i = 0; !rc && i < rl.n; i++) {
        const tk_alert_user_t *u = NULL;
        for (size_t k = 0; k < rl.nusers && !u; k++)
            if (!strcmp(rl.users[k].name, rl.v[i].user))
                u = &rl.users[k];
        const tk_channel_t *ch = tk_channel_find(rl.v[i].channel);
        char e2[TK_ERRLEN] = "";
        int src = u && ch ? ch->send(cfg, u, "test", p.p, e2) : TK_ENOTFOUND;
        src ? failed++ : sent++;
        rc |= tk_buf_puts(report, i ? ",{\"user\":" : "{\"user\":");
        rc |= tk_buf_put_json_str(report, rl.v[i].user, strlen(rl.v[i].user));
        rc |= tk_buf_puts(report, ",\"channel\":");
        rc |= tk_buf_put_json_str(report, rl.v[i].channel, strlen(rl.v[i].channel));
        rc |= tk_buf_printf(report, ",\"ok\":%s", src ? "false" : "true");
        if (src) {
            rc |= tk_buf_puts(report, ",\"error\":");
            rc |= tk_buf_put_json_str(report, e2, strlen(e2));
        }
        rc |= tk_buf_putc(report, '}');
    }
    rc |= tk_buf_printf(report, "],\"sent\":%zu,\"failed\":%zu}", sent, failed);
    tk_buf_free(&p);
    rlist_free(&rl);
    return rc ? tk_errf(err, TK_ENOMEM, "out of memory") : 0;
}

static int step_sql(sqlite3 *db, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    (void)db;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : TK_EIO;
}

/* Queues one notice (kind) of alert id to every recipient; payload = the
 * alert as stored now. Runs inside the caller's transaction. */
static int enqueue(sqlite3 *db, tk_alert_service_t *s, int64_t alert_id, const char *owner,
                   const rlist_t *rl, const char *kind, int notice, int64_t now)
{
    sqlite3_stmt *st = NULL;
    tk_buf_t b = TK_BUF_INIT;
    int rc = 0;
    /* Read the row back for the payload (inside the transaction: consistent). */
    if (sqlite3_prepare_v2(db, "SELECT id, rule, account, group_key, fingerprint, severity, state,"
                               " first_ms, last_ms, updated_ms, count, event_seqs, notified_ms,"
                               " title, summary, clear_seq FROM alerts WHERE id=?",
                           -1, &st, NULL) != SQLITE_OK)
        return TK_EIO;
    sqlite3_bind_int64(st, 1, alert_id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        tk_alert_row_t a;
        memset(&a, 0, sizeof a);
        a.id = alert_id;
        snprintf(a.rule, sizeof a.rule, "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(a.account, sizeof a.account, "%s", (const char *)sqlite3_column_text(st, 2));
        snprintf(a.group_key, sizeof a.group_key, "%s", (const char *)sqlite3_column_text(st, 3));
        snprintf(a.fingerprint, sizeof a.fingerprint, "%s", (const char *)sqlite3_column_text(st, 4));
        tk_severity_parse((const char *)sqlite3_column_text(st, 5), &a.severity);
        tk_alert_state_parse((const char *)sqlite3_column_text(st, 6), &a.state);
        a.first_ms = sqlite3_column_int64(st, 7);
        a.last_ms = sqlite3_column_int64(st, 8);
        a.count = sqlite3_column_int64(st, 10);
        a.event_seqs = (char *)sqlite3_column_text(st, 11);
        snprintf(a.title, sizeof a.title, "%s", (const char *)sqlite3_column_text(st, 13));
        snprintf(a.summary, sizeof a.summary, "%s", (const char *)sqlite3_column_text(st, 14));
        a.clear_seq = sqlite3_column_int64(st, 15);
        rc = tk_alert_row_json(&a, &b);
    } else {
        rc = TK_ENOTFOUND;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (!rc && sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO alert_outbox(alert_id, account, user, channel,"
                                      " kind, notice, payload, next_ms) VALUES(?,?,?,?,?,?,?,?)",
                                  -1, &st, NULL) != SQLITE_OK)
        rc = TK_EIO;
    for (size_t i = 0; !rc && i < rl->n; i++) {
        sqlite3_bind_int64(st, 1, alert_id);
        sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, rl->v[i].user, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, rl->v[i].channel, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, kind, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 6, notice);
        sqlite3_bind_text(st, 7, b.p, (int)b.len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 8, now);
        rc = step_sql(db, st);
        if (!rc)
            s->st.notices_queued++;
    }
    sqlite3_finalize(st);
    tk_buf_free(&b);
    return rc;
}

static void fingerprint(const char *rule_account, const char *rule, const char *account,
                        const char *group, char out[65])
{
    tk_buf_t b = TK_BUF_INIT;
    tk_buf_append(&b, rule_account, strlen(rule_account) + 1);
    tk_buf_append(&b, rule, strlen(rule) + 1);
    tk_buf_append(&b, account, strlen(account) + 1);
    tk_buf_append(&b, group, strlen(group));
    uint8_t h[32];
    tk_sha256(b.p ? b.p : "", b.len, h);
    tk_hex(h, 32, out);
    tk_buf_free(&b);
}

/* Records one firing: updates the open alert of its fingerprint (a repeat
 * notice once the repeat interval has passed) or opens a new one. */
static int apply_hit(sqlite3 *db, tk_alert_service_t *s, const hit_t *h, const rlist_t *rl,
                     int64_t now)
{
    const lrule_t *l = &s->rules[h->rule];
    char fp[65];
    fingerprint(l->r.account, l->r.id, h->account, h->group, fp);
    sqlite3_stmt *st = NULL;
    int64_t id = 0, noticed = 0;
    int notices = 0;
    if (sqlite3_prepare_v2(db, "SELECT id, notices, noticed_ms FROM alerts WHERE fingerprint=? AND"
                               " state IN ('triggered','acknowledged') ORDER BY id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return TK_EIO;
    sqlite3_bind_text(st, 1, fp, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        notices = sqlite3_column_int(st, 1);
        noticed = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    st = NULL;
    int rc;
    if (id) {
        int repeat = now - noticed >= l->r.repeat_ms;
        if (sqlite3_prepare_v2(db, "UPDATE alerts SET count=count+?, last_ms=?, updated_ms=?,"
                                   " event_seqs=CASE WHEN length(event_seqs) < 3800 AND ?4 <> ''"
                                   " THEN event_seqs || ',' || ?4 ELSE event_seqs END,"
                                   " notices=notices+?, noticed_ms=CASE WHEN ? THEN ? ELSE noticed_ms END,"
                                   " title=coalesce(?9, title), summary=coalesce(?10, summary)"
                                   " WHERE id=?8",
                               -1, &st, NULL) != SQLITE_OK)
            return TK_EIO;
        sqlite3_bind_int64(st, 1, (int64_t)h->count);
        sqlite3_bind_int64(st, 2, h->time_ms);
        sqlite3_bind_int64(st, 3, now);
        sqlite3_bind_text(st, 4, h->seqs, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 5, repeat);
        sqlite3_bind_int(st, 6, repeat);
        sqlite3_bind_int64(st, 7, now);
        sqlite3_bind_int64(st, 8, id);
        if (h->title)
            sqlite3_bind_text(st, 9, h->title, -1, SQLITE_STATIC);
        if (h->summary)
            sqlite3_bind_text(st, 10, h->summary, -1, SQLITE_STATIC);
        rc = step_sql(db, st);
        sqlite3_finalize(st);
        if (!rc && repeat)
            rc = enqueue(db, s, id, l->r.account, rl, "repeat", notices + 1, now);
        return rc;
    }
    if (sqlite3_prepare_v2(db, "INSERT INTO alerts(rule, rule_account, account, group_key, fingerprint,"
                               " severity, state, first_ms, last_ms, updated_ms, count, event_seqs,"
                               " notices, noticed_ms, title, summary)"
                               " VALUES(?,?,?,?,?,?,'triggered',?,?,?,?,?,1,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return TK_EIO;
    sqlite3_bind_text(st, 1, l->r.id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, l->r.account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, h->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, h->group, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, fp, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, tk_severity_name(l->r.severity), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, h->first_ms);
    sqlite3_bind_int64(st, 8, h->time_ms);
    sqlite3_bind_int64(st, 9, now);
    sqlite3_bind_int64(st, 10, (int64_t)h->count);
    sqlite3_bind_text(st, 11, h->seqs, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 12, now);
    sqlite3_bind_text(st, 13, h->title ? h->title : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 14, h->summary ? h->summary : "", -1, SQLITE_STATIC);
    rc = step_sql(db, st);
    sqlite3_finalize(st);
    if (rc)
        return rc;
    id = sqlite3_last_insert_rowid(db);
    s->st.alerts_created++;
    return enqueue(db, s, id, l->r.account, rl, "fire", 1, now);
}

/* A clear_when event: the open alert of its fingerprint (if any) is cleared
 * now, takes the clearing event's title and summary (the incident as a
 * whole) and sends a recovery notice. No open alert: nothing to do. */
static int apply_clear(sqlite3 *db, tk_alert_service_t *s, const hit_t *h, const rlist_t *rl,
                       int64_t now)
{
    const lrule_t *l = &s->rules[h->rule];
    char fp[65];
    fingerprint(l->r.account, l->r.id, h->account, h->group, fp);
    sqlite3_stmt *st = NULL;
    int64_t id = 0;
    int notices = 0;
    if (sqlite3_prepare_v2(db, "SELECT id, notices FROM alerts WHERE fingerprint=? AND"
                               " state IN ('triggered','acknowledged') ORDER BY id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return TK_EIO;
    sqlite3_bind_text(st, 1, fp, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        notices = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    if (!id)
        return 0;
    if (sqlite3_prepare_v2(db, "UPDATE alerts SET state='cleared', updated_ms=?1, notices=notices+1,"
                               " last_ms=max(last_ms, ?2), clear_seq=?3, title=coalesce(?4, title),"
                               " summary=coalesce(?5, summary) WHERE id=?6",
                           -1, &st, NULL) != SQLITE_OK)
        return TK_EIO;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, h->time_ms);
    sqlite3_bind_int64(st, 3, (int64_t)strtoull(h->seqs, NULL, 10));
    if (h->title)
        sqlite3_bind_text(st, 4, h->title, -1, SQLITE_STATIC);
    if (h->summary)
        sqlite3_bind_text(st, 5, h->summary, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, id);
    int rc = step_sql(db, st);
    sqlite3_finalize(st);
    if (!rc)
        rc = enqueue(db, s, id, l->r.account, rl, "recovery", notices + 1, now);
    if (!rc)
        s->st.alerts_cleared++;
    return rc;
}

static void free_hits(tk_alert_service_t *s)
{
    for (size_t i = 0; i < s->nhits; i++) {
        free(s->hits[i].title);
        free(s->hits[i].summary);
    }
    s->nhits = 0;
}

/* Commits the batch: alerts + outbox + snapshots + checkpoint, atomically. */
static int commit_batch(tk_alert_service_t *s, char *err)
{
    int64_t now = tk_now_ms();
    rlist_t *rls = calloc(s->nhits ? s->nhits : 1, sizeof *rls);
    if (!rls)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->nhits; i++)
        resolve(s, &s->rules[s->hits[i].rule], &rls[i]);
    tk_buf_t snap = TK_BUF_INIT;
    sqlite3 *db = tk_meta_lock(s->meta);
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : TK_EBUSY;
    for (size_t i = 0; !rc && i < s->nhits; i++)
        rc = s->hits[i].clear ? apply_clear(db, s, &s->hits[i], &rls[i], now)
                              : apply_hit(db, s, &s->hits[i], &rls[i], now);
    sqlite3_stmt *st = NULL;
    if (!rc && sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO alert_snapshots VALUES(?,?)", -1, &st,
                                  NULL) != SQLITE_OK)
        rc = TK_EIO;
    for (size_t i = 0; !rc && i < s->nrules; i++) {
        if (!s->rules[i].dirty)
            continue;
        tk_buf_reset(&snap);
        char e2[TK_ERRLEN];
        if ((rc = tk_alert_engine_save(s->rules[i].eng, &snap, e2)))
            break;
        sqlite3_bind_text(st, 1, s->rules[i].key, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, snap.p, (int)snap.len, SQLITE_STATIC);
        rc = step_sql(db, st);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (!rc && sqlite3_prepare_v2(db, "UPDATE alert_kv SET v=? WHERE k='checkpoint'", -1, &st, NULL) ==
                   SQLITE_OK) {
        sqlite3_bind_int64(st, 1, (int64_t)s->checkpoint);
        rc = step_sql(db, st);
    }
    sqlite3_finalize(st);
    if (!rc && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = TK_EIO;
    if (rc) {
        tk_errf(err, rc, "meta.db: recording alerts failed: %s", sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    tk_meta_unlock(s->meta);
    for (size_t i = 0; i < s->nhits; i++)
        rlist_free(&rls[i]);
    free(rls);
    tk_buf_free(&snap);
    if (!rc) {
        for (size_t i = 0; i < s->nrules; i++)
            s->rules[i].dirty = 0;
        for (size_t i = 0; i < s->nhits; i++)
            s->st.fires += !s->hits[i].clear;
    }
    free_hits(s);
    return rc;
}

/* Alerts whose rule has not fired for its hold time (window or suppression,
 * else the repeat interval) are cleared, with a recovery notice. */
static int clear_stale(tk_alert_service_t *s, char *err)
{
    int64_t now = tk_now_ms();
    typedef struct { int64_t id; int notices; size_t rule; } cand_t;
    cand_t *c = NULL;
    size_t n = 0;
    sqlite3 *db = tk_meta_lock(s->meta);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT id, rule_account, rule, updated_ms, notices FROM alerts WHERE"
                               " state IN ('triggered','acknowledged')",
                           -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *ra = (const char *)sqlite3_column_text(st, 1);
            const char *rid = (const char *)sqlite3_column_text(st, 2);
            int64_t upd = sqlite3_column_int64(st, 3);
            for (size_t i = 0; i < s->nrules; i++)
                if (!strcmp(s->rules[i].r.account, ra) && !strcmp(s->rules[i].r.id, rid) &&
                    !s->rules[i].clear_on_event && now - upd >= s->rules[i].hold_ms) {
                    cand_t *nv = realloc(c, (n + 1) * sizeof *nv);
                    if (!nv)
                        break;
                    c = nv;
                    c[n].id = sqlite3_column_int64(st, 0);
                    c[n].notices = sqlite3_column_int(st, 4);
                    c[n].rule = i;
                    n++;
                }
        }
    }
    sqlite3_finalize(st);
    tk_meta_unlock(s->meta);
    int rc = 0;
    for (size_t k = 0; k < n && !rc; k++) {
        rlist_t rl;
        resolve(s, &s->rules[c[k].rule], &rl);
        db = tk_meta_lock(s->meta);
        rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : TK_EBUSY;
        if (!rc && sqlite3_prepare_v2(db, "UPDATE alerts SET state='cleared', updated_ms=?, notices=notices+1"
                                          " WHERE id=? AND state IN ('triggered','acknowledged')",
                                      -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, now);
            sqlite3_bind_int64(st, 2, c[k].id);
            rc = step_sql(db, st);
            int changed = sqlite3_changes(db);
            sqlite3_finalize(st);
            if (!rc && changed)
                rc = enqueue(db, s, c[k].id, s->rules[c[k].rule].r.account, &rl, "recovery",
                             c[k].notices + 1, now);
            if (!rc && changed)
                s->st.alerts_cleared++;
        }
        if (!rc && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            rc = TK_EIO;
        if (rc) {
            tk_errf(err, rc, "meta.db: clearing alert %lld: %s", (long long)c[k].id, sqlite3_errmsg(db));
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        }
        tk_meta_unlock(s->meta);
        rlist_free(&rl);
    }
    free(c);
    return rc;
}

static void publish_rules(tk_alert_service_t *s);

static void publish(tk_alert_service_t *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t sent = s->pub.sent, failed = s->pub.send_failures;
    s->pub = s->st;
    s->pub.sent = sent;
    s->pub.send_failures = failed;
    s->pub.checkpoint = s->checkpoint;
    s->pub.rules = s->nrules;
    for (size_t i = 0; i < s->nrules; i++) {
        tk_alert_stats_t es;
        tk_alert_engine_stats(s->rules[i].eng, &es);
        s->pub.groups += es.groups;
        s->pub.window_entries += es.window_entries;
        s->pub.group_cap_hits += es.group_cap_hits;
        s->pub.entry_cap_hits += es.entry_cap_hits;
    }
    publish_rules(s);
    pthread_mutex_unlock(&s->mu);
}

static void free_pub_rules(tk_alert_service_t *s)
{
    for (size_t i = 0; i < s->npub_rules; i++) {
        free((char *)s->pub_rules[i].account);
        free((char *)s->pub_rules[i].id);
    }
    free(s->pub_rules);
    s->pub_rules = NULL;
    s->npub_rules = 0;
}

/* Under mu: a copy of every rule's counters for /metrics (the engines belong
 * to the evaluator thread). Rebuilt when the rule set changed size, else
 * only the numbers are refreshed. Out of memory: the previous copy stays. */
static void publish_rules(tk_alert_service_t *s)
{
    if (s->npub_rules != s->nrules) {
        free_pub_rules(s);
        s->pub_rules = calloc(s->nrules ? s->nrules : 1, sizeof *s->pub_rules);
        if (!s->pub_rules)
            return;
        for (size_t i = 0; i < s->nrules; i++) {
            s->pub_rules[i].account = strdup(s->rules[i].r.account);
            s->pub_rules[i].id = strdup(s->rules[i].r.id);
        }
        s->npub_rules = s->nrules;
    }
    for (size_t i = 0; i < s->nrules; i++) {
        tk_alert_rule_metrics_t *m = &s->pub_rules[i];
        if (!m->account || !m->id || strcmp(m->id, s->rules[i].r.id) ||
            strcmp(m->account, s->rules[i].r.account)) {
            free((char *)m->account);
            free((char *)m->id);
            m->account = strdup(s->rules[i].r.account);
            m->id = strdup(s->rules[i].r.id);
        }
        /* one rule per engine (load_rules), so its index is 0 */
        tk_alert_engine_rule_stats(s->rules[i].eng, 0, &m->st);
        m->st.id = NULL;
    }
}

void tk_alert_service_rule_metrics(tk_alert_service_t *s,
                                   void (*cb)(void *ud, const tk_alert_rule_metrics_t *m), void *ud)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->npub_rules; i++)
        if (s->pub_rules[i].account && s->pub_rules[i].id)
            cb(ud, &s->pub_rules[i]);
    pthread_mutex_unlock(&s->mu);
}

/* One evaluation pass: reload rules if changed, read a batch, commit. Sets
 * *more when the batch was full. */
static int eval_pass(tk_alert_service_t *s, int *more, char *err)
{
    *more = 0;
    if (tk_alert_rules_version(s->meta) != s->rules_version) {
        int rc = load_rules(s, err);
        if (rc)
            return rc;
    }
    uint64_t before = s->checkpoint;
    size_t batch = s->o.batch;
    int rc = tk_store_log_read(s->store, s->checkpoint + 1, batch, eval_event, s, err);
    if (rc)
        return rc;
    if (s->checkpoint != before) {
        uint64_t queued = s->st.notices_queued;
        rc = commit_batch(s, err);
        if (!rc && s->st.notices_queued != queued) {
            /* New notices: wake the sender now instead of at its next poll. */
            pthread_mutex_lock(&s->mu);
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->mu);
        }
        if (rc) {
            /* The in-memory engines are ahead of the database: rebuild from it. */
            char e2[TK_ERRLEN];
            sqlite3 *db = tk_meta_lock(s->meta);
            s->checkpoint = (uint64_t)kv_get(db, "checkpoint");
            tk_meta_unlock(s->meta);
            load_rules(s, e2);
            return rc;
        }
        tk_store_log_retain(s->store, CONSUMER, s->checkpoint + 1);
        *more = s->checkpoint - before >= batch;
    }
    int64_t now = tk_now_ms();
    if (now >= s->next_clear_ms) {
        s->next_clear_ms = now + 1000;
        rc = clear_stale(s, err);
    }
    publish(s);
    return rc;
}

/* --------------------------------------------------------------- send */

static int64_t backoff(const tk_alert_service_t *s, int attempts)
{
    int64_t d = s->o.retry_min_ms;
    for (int i = 0; i < attempts && d < s->o.retry_max_ms; i++)
        d *= 2;
    return d < s->o.retry_max_ms ? d : s->o.retry_max_ms;
}

/* Sends what is due; returns how many rows were attempted. */
static size_t send_pass(tk_alert_service_t *s)
{
    tk_outbox_row_t *v = NULL;
    size_t n = 0;
    char err[TK_ERRLEN] = "";
    int64_t now = tk_now_ms();
    if (tk_outbox_due(s->meta, now, 32, &v, &n, err))
        return 0;
    for (size_t i = 0; i < n; i++) {
        tk_outbox_row_t *o = &v[i];
        tk_alert_user_t u;
        const tk_channel_t *ch = tk_channel_find(o->channel);
        int rc;
        err[0] = 0;
        if (!ch)
            rc = tk_errf(err, TK_EINVAL, "unknown channel %s", o->channel);
        else if ((rc = tk_alert_user_get(s->meta, o->account, o->user, &u, err)) == 0)
            rc = ch->send(&s->o.notify, &u, o->kind, o->payload, err);
        char e2[TK_ERRLEN];
        pthread_mutex_lock(&s->mu);
        if (rc)
            s->pub.send_failures++;
        else
            s->pub.sent++;
        pthread_mutex_unlock(&s->mu);
        if (rc) {
            tk_log("trailkeep serve: alerts: %s notice of alert %lld to %s (attempt %d) failed: %s\n",
                    o->channel, (long long)o->alert_id, o->user, o->attempts + 1, err);
            tk_outbox_mark_failed(s->meta, o->id, tk_now_ms() + backoff(s, o->attempts), err, e2);
        } else {
            tk_outbox_mark_sent(s->meta, o->id, tk_now_ms(), e2);
        }
    }
    tk_outbox_rows_free(v, n);
    return n;
}

/* ------------------------------------------------------------- threads */

static int wait_ms(tk_alert_service_t *s, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
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

static void *eval_main(void *arg)
{
    tk_alert_service_t *s = arg;
    int64_t last_err_log = 0;
    for (;;) {
        char err[TK_ERRLEN] = "";
        int more = 0;
        int rc = eval_pass(s, &more, err);
        if (rc && tk_now_ms() - last_err_log > 10000) {
            tk_log("trailkeep serve: alerts: %s (will retry)\n", err);
            last_err_log = tk_now_ms();
        }
        if (more && !rc) {
            pthread_mutex_lock(&s->mu);
            int stop = s->stop;
            pthread_mutex_unlock(&s->mu);
            if (stop)
                break;
            continue;
        }
        if (wait_ms(s, rc ? 1000 : s->o.poll_ms))
            break;
    }
    return NULL;
}

static void *send_main(void *arg)
{
    tk_alert_service_t *s = arg;
    for (;;) {
        size_t n = send_pass(s);
        if (wait_ms(s, n ? 10 : 250))
            break;
    }
    return NULL;
}

/* ----------------------------------------------------------- lifecycle */

static char *dup_or_null(const char *p)
{
    return p ? strdup(p) : NULL;
}

int tk_alert_service_create(tk_meta_t *meta, tk_store_t *store, const tk_alert_service_opts_t *o,
                            tk_alert_service_t **out, char *err)
{
    *out = NULL;
    int rc = tk_alert_schema(meta, err);
    if (rc)
        return rc;
    tk_alert_service_t *s = calloc(1, sizeof *s);
    if (!s)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    s->meta = meta;
    s->store = store;
    if (o)
        s->o = *o;
    if (s->o.poll_ms <= 0)
        s->o.poll_ms = 100;
    if (s->o.retry_min_ms <= 0)
        s->o.retry_min_ms = 1000;
    if (s->o.retry_max_ms <= 0)
        s->o.retry_max_ms = 300000;
    if (!s->o.batch)
        s->o.batch = 2000;
    s->smtp_url = dup_or_null(s->o.notify.smtp_url);
    s->smtp_from = dup_or_null(s->o.notify.smtp_from);
    s->smtp_user = dup_or_null(s->o.notify.smtp_user);
    s->smtp_password = dup_or_null(s->o.notify.smtp_password);
    s->smtp_ca = dup_or_null(s->o.notify.smtp_ca);
    s->o.notify.smtp_ca = s->smtp_ca;
    s->o.notify.smtp_url = s->smtp_url;
    s->o.notify.smtp_from = s->smtp_from;
    s->o.notify.smtp_user = s->smtp_user;
    s->o.notify.smtp_password = s->smtp_password;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    /* The checkpoint: a first start begins at the log's end (history is not
     * re-alerted); later starts resume exactly where the last commit was. */
    sqlite3 *db = tk_meta_lock(meta);
    int64_t cp = kv_get(db, "checkpoint");
    /* 'started' marks that a checkpoint was ever chosen: a checkpoint of 0
     * after a crash before the first commit must not jump to the log's end. */
    if (!kv_get(db, "started")) {
        cp = (int64_t)tk_store_last_seq(store);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO alert_kv VALUES('checkpoint', ?),"
                                   " ('started', 1)",
                               -1, &st, NULL) != SQLITE_OK ||
            sqlite3_bind_int64(st, 1, cp) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
            sqlite3_finalize(st);
            tk_meta_unlock(meta);
            pthread_mutex_destroy(&s->mu);
            pthread_cond_destroy(&s->cv);
            free(s->smtp_url);
            free(s->smtp_from);
            free(s->smtp_user);
            free(s->smtp_password);
            free(s->smtp_ca);
            free(s);
            return tk_errf(err, TK_EIO, "meta.db: cannot record the alert checkpoint");
        }
        sqlite3_finalize(st);
    }
    tk_meta_unlock(meta);
    s->checkpoint = (uint64_t)cp;
    tk_store_log_retain(store, CONSUMER, s->checkpoint + 1);
    if ((rc = load_rules(s, err))) {
        tk_alert_service_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
}

int tk_alert_service_start(tk_alert_service_t *s, char *err)
{
    if (pthread_create(&s->th_eval, NULL, eval_main, s))
        return tk_errf(err, TK_ENOMEM, "cannot start the alert evaluation thread");
    if (pthread_create(&s->th_send, NULL, send_main, s)) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->th_eval, NULL);
        return tk_errf(err, TK_ENOMEM, "cannot start the alert sender thread");
    }
    s->started = 1;
    return 0;
}

void tk_alert_service_destroy(tk_alert_service_t *s)
{
    if (!s)
        return;
    if (s->started) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->th_eval, NULL);
        pthread_join(s->th_send, NULL);
    }
    free_rules(s);
    free_pub_rules(s);
    for (size_t i = 0; i < s->nmembers; i++)
        free(s->members[i]);
    free(s->members);
    free_hits(s);
    free(s->hits);
    free(s->smtp_url);
    free(s->smtp_from);
    free(s->smtp_user);
    free(s->smtp_password);
    free(s->smtp_ca);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

int tk_alert_service_step(tk_alert_service_t *s, char *err)
{
    int more = 1, rc = 0;
    s->next_clear_ms = 0;
    while (more && !rc)
        rc = eval_pass(s, &more, err);
    send_pass(s);
    return rc;
}

void tk_alert_service_stats(tk_alert_service_t *s, tk_alert_service_stats_t *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->pub;
    pthread_mutex_unlock(&s->mu);
}

/* trailkeep alert engine: evaluates every rule on each event. On the first
 * evaluation the rule set is frozen: each distinct (view, path) becomes a
 * slot, paths go into tries the walker follows, and rules that can only
 * match some eventName values are indexed by them (a prefilter: most rules
 * are not evaluated at all for most events). Threshold and suppression
 * state is kept per (rule, account, group) in a hash table capped at
 * max_groups; groups expire once their window and suppression have passed,
 * and a group that cannot be tracked is counted (group_cap_hits). Time per
 * rule: rules with a regex are timed on every evaluation; the others on one
 * event in TIME_SAMPLE (one chained clock read per rule, scaled up), since a
 * clock read (~20-40 ns) costs as much as evaluating a simple rule. One
 * engine is used by one thread at a time. */
#include <stdlib.h>
#include <string.h>

#include "alert/alert_internal.h"
#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"

#define TIME_SAMPLE 16 /* rules without a regex are timed on 1 event in 16 */

typedef struct slotdef {
    char *path;
    int view;
} slotdef_t;

/* A prefilter index entry: lower-cased value of a key slot -> rules. */
typedef struct pf_entry {
    uint64_t hash;
    int slot;
    char *key;
    uint32_t len;
    uint32_t *rules;
    uint32_t nrules;
} pf_entry_t;

typedef struct group {
    struct group *next;
    uint64_t hash;
    uint32_t rule;
    uint32_t acct_len;
    char *key;          /* account '\0' group values joined by '|' */
    uint32_t keylen;
    int64_t last_ms;
    int64_t fired_ms;
    int fired;
    uint64_t suppressed;
    /* in-window events (count) or distinct values; a ring in arrival order */
    struct ring_ent *ring;
    uint32_t n, cap, head;
} group_t;

typedef struct ring_ent {
    int64_t ts;
    uint64_t seq;  /* the event's sequence number (its id for the caller) */
    uint64_t dh;   /* distinct: hash of the value */
} ring_ent_t;

struct tk_alert_engine {
    tk_alert_opts_t opts;
    tk_rule_t **rules;
    uint32_t nrules, caprules;
    int frozen;
    slotdef_t *slots;
    uint32_t nslots, capslots;
    uint8_t *slot_sub;
    tk_ptrie_t *trie_root, *trie_sub;
    int has_sub;
    int acct_slot[2], time_slot[2];
    /* prefilter */
    pf_entry_t *pf;
    uint32_t pf_cap, pf_n;
    int pf_slots[8];
    uint32_t npf_slots;
    uint8_t *always;
    uint32_t *mark;
    uint32_t gen;
    /* state */
    group_t **buckets;
    uint32_t nbuckets;
    uint64_t ngroups;
    uint64_t entries;   /* window ring slots allocated, all groups */
    int64_t max_seen_ms;
    uint64_t since_sweep;
    tk_aview_t view;
    tk_buf_t why, key, title, summary;
    uint64_t *seqs;
    uint32_t seqcap;
    uint64_t last_seq;
    tk_alert_stats_t st;
    uint64_t *rule_ns;     /* per rule: nanoseconds spent evaluating it */
    uint64_t *rule_evals;  /* per rule: evaluations (after the prefilter) */
    uint8_t *rule_rx;      /* per rule: has a regex, so timed on every evaluation */
};

int tk_alert_engine_create(const tk_alert_opts_t *opts, tk_alert_engine_t **out, char *err)
{
    tk_alert_engine_t *e = calloc(1, sizeof(*e));
    if (!e)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    if (opts)
        e->opts = *opts;
    if (!e->opts.max_groups)
        e->opts.max_groups = 100000;
    if (!e->opts.max_entries)
        e->opts.max_entries = 4000000;
    e->max_seen_ms = INT64_MIN;
    *out = e;
    return 0;
}

static void group_free(group_t *g)
{
    if (!g)
        return;
    free(g->key);
    free(g->ring);
    free(g);
}

void tk_alert_engine_destroy(tk_alert_engine_t *e)
{
    if (!e)
        return;
    for (uint32_t i = 0; i < e->nrules; i++)
        tk_rule_destroy(e->rules[i]);
    free(e->rules);
    for (uint32_t i = 0; i < e->nslots; i++)
        free(e->slots[i].path);
    free(e->slots);
    free(e->slot_sub);
    tk_ptrie_free(e->trie_root);
    tk_ptrie_free(e->trie_sub);
    for (uint32_t i = 0; i < e->pf_cap; i++) {
        free(e->pf[i].key);
        free(e->pf[i].rules);
    }
    free(e->pf);
    free(e->always);
    free(e->mark);
    free(e->rule_ns);
    free(e->rule_evals);
    free(e->rule_rx);
    for (uint32_t i = 0; i < e->nbuckets; i++) {
        group_t *g = e->buckets[i];
        while (g) {
            group_t *nx = g->next;
            group_free(g);
            g = nx;
        }
    }
    free(e->buckets);
    tk_aview_free(&e->view);
    tk_buf_free(&e->why);
    tk_buf_free(&e->key);
    tk_buf_free(&e->title);
    tk_buf_free(&e->summary);
    free(e->seqs);
    free(e);
}

int tk_alert_engine_add(tk_alert_engine_t *e, tk_rule_t *rule, char *err)
{
    if (e->frozen) {
        tk_rule_destroy(rule);
        return tk_errf(err, TK_EBUSY, "rules cannot be added after the engine started evaluating; build a new engine");
    }
    for (uint32_t i = 0; i < e->nrules; i++)
        if (!strcmp(e->rules[i]->id, rule->id)) {
            int rc = tk_errf(err, TK_EEXIST, "a rule with id '%s' is already loaded", rule->id);
            tk_rule_destroy(rule);
            return rc;
        }
    if (e->nrules == e->caprules) {
        uint32_t cap = e->caprules ? 2 * e->caprules : 16;
        tk_rule_t **nr = realloc(e->rules, cap * sizeof(*nr));
        if (!nr) {
            tk_rule_destroy(rule);
            return tk_errf(err, TK_ENOMEM, "out of memory");
        }
        e->rules = nr;
        e->caprules = cap;
    }
    e->rules[e->nrules++] = rule;
    return 0;
}

size_t tk_alert_engine_rule_count(const tk_alert_engine_t *e)
{
    return e->nrules;
}

void tk_alert_engine_stats(const tk_alert_engine_t *e, tk_alert_stats_t *out)
{
    *out = e->st;
    out->groups = e->ngroups;
    out->window_entries = e->entries;
    for (uint32_t r = 0; r < e->nrules; r++) {
        tk_anode_regex_counts(e->rules[r]->root, &out->regex_limit_hits, &out->regex_truncated);
        tk_anode_regex_counts(e->rules[r]->clear, &out->regex_limit_hits, &out->regex_truncated);
        if (e->rule_ns)
            out->eval_ns += e->rule_ns[r];
    }
}

int tk_alert_engine_rule_stats(const tk_alert_engine_t *e, size_t i, tk_alert_rule_stats_t *out)
{
    if (i >= e->nrules)
        return TK_ENOTFOUND;
    const tk_rule_t *r = e->rules[i];
    memset(out, 0, sizeof *out);
    out->id = r->id;
    if (e->rule_ns) {
        out->evals = e->rule_evals[i];
        out->eval_ns = e->rule_ns[i];
    }
    tk_anode_regex_counts(r->root, &out->regex_limit_hits, &out->regex_truncated);
    tk_anode_regex_counts(r->clear, &out->regex_limit_hits, &out->regex_truncated);
    return 0;
}

/* ---- freezing: slots, tries, prefilter ---- */

static int intern(tk_alert_engine_t *e, const char *path, int view)
{
    for (uint32_t i = 0; i < e->nslots; i++)
        if (e->slots[i].view == view && !strcmp(e->slots[i].path, path))
            return (int)i;
    if (e->nslots == e->capslots) {
        uint32_t cap = e->capslots ? 2 * e->capslots : 32;
        slotdef_t *ns = realloc(e->slots, cap * sizeof(*ns));
        if (!ns)
            return TK_ENOMEM;
        e->slots = ns;
        e->capslots = cap;
    }
    if (!(e->slots[e->nslots].path = strdup(path)))
        return TK_ENOMEM;
    e->slots[e->nslots].view = view;
    return (int)e->nslots++;
}

static int intern_node(tk_alert_engine_t *e, tk_anode_t *n, int view)
{
    if (n->kind == TK_N_LEAF) {
        if ((n->slot = intern(e, n->path, view)) < 0)
            return n->slot;
        if (n->path2 && (n->slot2 = intern(e, n->path2, view)) < 0)
            return n->slot2;
        return 0;
    }
    for (uint32_t i = 0; i < n->nkids; i++) {
        int rc = intern_node(e, n->kids[i], view);
        if (rc)
            return rc;
    }
    return 0;
}

/* A set of values one of which the key slot must hold for the rule to
 * match, or none (returns 0). Only eq/in leaves on eventName qualify. */
typedef struct kset {
    int slot;
    const tk_apat_t **pats;
    uint32_t n;
} kset_t;

static int kset_of(const tk_anode_t *n, kset_t *ks)
{
    if (n->kind == TK_N_LEAF) {
        if (n->negate || n->op->arg != TK_ARG_STR || n->op->match == NULL)
            return 0;
        if (strcmp(n->op->name, "eq") && strcmp(n->op->name, "in"))
            return 0;
        if (strcmp(n->path, "eventName"))
            return 0;
        ks->slot = n->slot;
        ks->pats = malloc(n->npats * sizeof(*ks->pats));
        if (!ks->pats)
            return 0;
        for (uint32_t i = 0; i < n->npats; i++)
            ks->pats[i] = &n->pats[i];
        ks->n = n->npats;
        return 1;
    }
    if (n->kind == TK_N_AND) {
        kset_t best = {0};
        int have = 0;
        for (uint32_t i = 0; i < n->nkids; i++) {
            kset_t k = {0};
            if (kset_of(n->kids[i], &k)) {
                if (!have || k.n < best.n) {
                    free(best.pats);
                    best = k;
                    have = 1;
                } else {
                    free(k.pats);
                }
            }
        }
        if (have)
            *ks = best;
        return have;
    }
    if (n->kind == TK_N_OR) {
        kset_t acc = {0};
        for (uint32_t i = 0; i < n->nkids; i++) {
            kset_t k = {0};
            if (!kset_of(n->kids[i], &k) || (i && k.slot != acc.slot)) {
                free(k.pats);
                free(acc.pats);
                return 0;
            }
            const tk_apat_t **np = realloc(acc.pats, (acc.n + k.n) * sizeof(*np));
            if (!np) {
                free(k.pats);
                free(acc.pats);
                return 0;
            }
            acc.pats = np;
            memcpy(acc.pats + acc.n, k.pats, k.n * sizeof(*np));
            acc.n += k.n;
            acc.slot = k.slot;
            free(k.pats);
        }
        *ks = acc;
        return acc.n > 0;
    }
    return 0;
}

/* Widens ks by the key set of a rule's clear_when (the rule must run when
 * either condition can hold); 0 when clear_when has none on the same slot. */
static int kset_union(const tk_anode_t *clear, kset_t *ks)
{
    kset_t k = {0};
    if (!kset_of(clear, &k) || k.slot != ks->slot) {
        free(k.pats);
        return 0;
    }
    const tk_apat_t **np = realloc(ks->pats, (ks->n + k.n) * sizeof(*np));
    if (!np) {
        free(k.pats);
        return 0;
    }
    memcpy(np + ks->n, k.pats, k.n * sizeof(*np));
    ks->pats = np;
    ks->n += k.n;
    free(k.pats);
    return 1;
}

static inline char lc(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

static uint64_t pf_hash(int slot, const char *s, uint32_t n, char *tmp)
{
    for (uint32_t i = 0; i < n; i++)
        tmp[i] = lc(s[i]);
    return tk_hash64(tmp, n) ^ ((uint64_t)slot * 0x9E3779B97F4A7C15ULL);
}

static pf_entry_t *pf_find(tk_alert_engine_t *e, uint64_t h, int slot, const char *low, uint32_t n,
                           int create)
{
    uint32_t mask = e->pf_cap - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        pf_entry_t *p = &e->pf[i];
        if (!p->key) {
            if (!create)
                return NULL;
            if (!(p->key = malloc(n + 1)))
                return NULL;
            memcpy(p->key, low, n);
            p->key[n] = 0;
            p->len = n;
            p->hash = h;
            p->slot = slot;
            e->pf_n++;
            return p;
        }
        if (p->hash == h && p->slot == slot && p->len == n && !memcmp(p->key, low, n))
            return p;
    }
}

static int has_regex(const tk_anode_t *n)
{
    if (!n)
        return 0;
    if (n->kind == TK_N_LEAF)
        return n->op->arg == TK_ARG_REGEX;
    for (uint32_t i = 0; i < n->nkids; i++)
        if (has_regex(n->kids[i]))
            return 1;
    return 0;
}

static int freeze(tk_alert_engine_t *e, char *err)
{
    int rc;
    for (uint32_t r = 0; r < e->nrules; r++) {
        tk_rule_t *rule = e->rules[r];
        int view = rule->source;
        if ((rc = intern_node(e, rule->root, view)) ||
            (rule->clear && (rc = intern_node(e, rule->clear, view))))
            return tk_errf(err, rc, "out of memory");
        tk_atext_t *tx[2] = {&rule->title, &rule->summary};
        for (int t = 0; t < 2; t++)
            for (uint32_t i = 0; i < tx[t]->npaths; i++)
                if ((tx[t]->slots[i] = intern(e, tx[t]->paths[i], view)) < 0)
                    return tk_errf(err, TK_ENOMEM, "out of memory");
        if (rule->ngroup && !rule->group_slots) {
            rule->group_slots = calloc(rule->ngroup, sizeof(int));
            if (!rule->group_slots)
                return tk_errf(err, TK_ENOMEM, "out of memory");
        }
        for (uint32_t g = 0; g < rule->ngroup; g++)
            if ((rule->group_slots[g] = intern(e, rule->group_by[g], view)) < 0)
                return tk_errf(err, TK_ENOMEM, "out of memory");
        if (rule->distinct && (rule->distinct_slot = intern(e, rule->distinct, view)) < 0)
            return tk_errf(err, TK_ENOMEM, "out of memory");
        if (view == TK_SRC_CLOUDTRAIL)
            e->has_sub = 1;
    }
    for (int v = 0; v < 2; v++) {
        if ((e->acct_slot[v] = intern(e, "recipientAccountId", v)) < 0 ||
            (e->time_slot[v] = intern(e, "eventTime", v)) < 0)
            return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    e->trie_root = tk_ptrie_new();
    e->trie_sub = tk_ptrie_new();
    e->slot_sub = calloc(e->nslots, 1);
    if (!e->trie_root || !e->trie_sub || !e->slot_sub)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < e->nslots; i++) {
        /* CloudTrail-view paths are read from cloudTrailRecord when the
         * stored event has one, else from the event itself (a raw record) */
        if (tk_ptrie_add(e->trie_root, e->slots[i].path, (int)i))
            return tk_errf(err, TK_ENOMEM, "out of memory");
        if (e->slots[i].view == TK_SRC_CLOUDTRAIL) {
            e->slot_sub[i] = 1;
            if (tk_ptrie_add(e->trie_sub, e->slots[i].path, (int)i))
                return tk_errf(err, TK_ENOMEM, "out of memory");
        }
    }
    if (tk_ptrie_finalize(e->trie_root) || tk_ptrie_finalize(e->trie_sub))
        return tk_errf(err, TK_ENOMEM, "out of memory");
    if ((rc = tk_aview_init(&e->view, e->nslots)))
        return tk_errf(err, rc, "out of memory");
    /* prefilter */
    e->always = calloc(e->nrules ? e->nrules : 1, 1);
    e->mark = calloc(e->nrules ? e->nrules : 1, sizeof(uint32_t));
    e->rule_ns = calloc(e->nrules ? e->nrules : 1, sizeof(uint64_t));
    e->rule_evals = calloc(e->nrules ? e->nrules : 1, sizeof(uint64_t));
    e->rule_rx = calloc(e->nrules ? e->nrules : 1, 1);
    if (!e->always || !e->mark || !e->rule_ns || !e->rule_evals || !e->rule_rx)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    for (uint32_t r = 0; r < e->nrules; r++)
        e->rule_rx[r] = has_regex(e->rules[r]->root) || has_regex(e->rules[r]->clear);
    kset_t *ks = calloc(e->nrules ? e->nrules : 1, sizeof(kset_t));
    if (!ks)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    uint32_t total = 0;
    for (uint32_t r = 0; r < e->nrules; r++) {
        if (!kset_of(e->rules[r]->root, &ks[r]) ||
            (e->rules[r]->clear && !kset_union(e->rules[r]->clear, &ks[r])))
            e->always[r] = 1;
        else
            total += ks[r].n;
    }
    e->pf_cap = 16;
    while (e->pf_cap < 2 * total + 2)
        e->pf_cap *= 2;
    e->pf = calloc(e->pf_cap, sizeof(pf_entry_t));
    rc = e->pf ? 0 : TK_ENOMEM;
    char tmp[1024];
    for (uint32_t r = 0; r < e->nrules && !rc; r++) {
        for (uint32_t i = 0; i < ks[r].n && !rc; i++) {
            const tk_apat_t *p = ks[r].pats[i];
            if (p->len > sizeof tmp) { /* too long to index: evaluate always */
                e->always[r] = 1;
                continue;
            }
            uint64_t h = pf_hash(ks[r].slot, p->s, p->len, tmp);
            pf_entry_t *pe = pf_find(e, h, ks[r].slot, tmp, p->len, 1);
            if (!pe) {
                rc = TK_ENOMEM;
                break;
            }
            if (pe->nrules && pe->rules[pe->nrules - 1] == r)
                continue;
            uint32_t *nr = realloc(pe->rules, (pe->nrules + 1) * sizeof(uint32_t));
            if (!nr) {
                rc = TK_ENOMEM;
                break;
            }
            pe->rules = nr;
            pe->rules[pe->nrules++] = r;
        }
        int known = 0;
        for (uint32_t s = 0; s < e->npf_slots; s++)
            known |= e->pf_slots[s] == ks[r].slot;
        if (!e->always[r] && !known) {
            if (e->npf_slots < TK_ARRAY_LEN(e->pf_slots))
                e->pf_slots[e->npf_slots++] = ks[r].slot;
            else
                e->always[r] = 1;
        }
    }
    for (uint32_t r = 0; r < e->nrules; r++)
        free(ks[r].pats);
    free(ks);
    if (rc)
        return tk_errf(err, rc, "out of memory");
    e->nbuckets = 1024;
    while (e->nbuckets < e->opts.max_groups && e->nbuckets < (1u << 24))
        e->nbuckets *= 2;
    e->buckets = calloc(e->nbuckets, sizeof(group_t *));
    if (!e->buckets)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    e->frozen = 1;
    return 0;
}

/* ---- state ---- */

static int64_t group_horizon(const tk_rule_t *r)
{
    return r->window_ms + r->suppress_ms;
}

/* Drops groups whose window and suppression lie wholly before now. */
static void sweep(tk_alert_engine_t *e, int64_t now)
{
    for (uint32_t b = 0; b < e->nbuckets; b++) {
        group_t **pp = &e->buckets[b];
        while (*pp) {
            group_t *g = *pp;
            if (g->last_ms + group_horizon(e->rules[g->rule]) < now) {
                *pp = g->next;
                e->entries -= g->cap;
                group_free(g);
                e->ngroups--;
                e->st.groups_expired++;
            } else {
                pp = &g->next;
            }
        }
    }
    e->since_sweep = 0;
}

static const tk_aval_t *first_text(const tk_aview_t *v, int slot)
{
    if (slot < 0)
        return NULL;
    for (uint32_t i = v->head[slot]; i != TK_AV_END; i = v->vals[i].next) {
        const tk_aval_t *a = &v->vals[i];
        if (a->type == TK_AV_STR || a->type == TK_AV_NUM || a->type == TK_AV_BOOL)
            return a;
    }
    return NULL;
}

static group_t *group_get(tk_alert_engine_t *e, uint32_t r, const char *key, uint32_t keylen,
                          uint32_t acct_len, int64_t now)
{
    uint64_t h = tk_hash64(key, keylen) ^ ((uint64_t)(r + 1) * 0x9E3779B97F4A7C15ULL);
    uint32_t b = (uint32_t)(h & (e->nbuckets - 1));
    for (group_t *g = e->buckets[b]; g; g = g->next)
        if (g->hash == h && g->rule == r && g->keylen == keylen && !memcmp(g->key, key, keylen))
            return g;
    if (e->ngroups >= e->opts.max_groups) {
        sweep(e, now);
        if (e->ngroups >= e->opts.max_groups) {
            e->st.group_cap_hits++;
            return NULL;
        }
    }
    group_t *g = calloc(1, sizeof(*g));
    if (!g || !(g->key = malloc(keylen + 1))) {
        free(g);
        return NULL;
    }
    memcpy(g->key, key, keylen);
    g->key[keylen] = 0;
    g->keylen = keylen;
    g->acct_len = acct_len;
    g->hash = h;
    g->rule = r;
    g->next = e->buckets[b];
    e->buckets[b] = g;
    e->ngroups++;
    return g;
}

/* Appends an event to the group's window. Rings grow to the threshold; the
 * entries of all groups together stay under max_entries (TK_ETOOBIG when a
 * ring cannot grow even after dropping expired groups). */
static int ring_push(tk_alert_engine_t *e, group_t *g, int64_t t, uint64_t seq, uint64_t dh,
                     uint32_t limit)
{
    if (g->n == g->cap) {
        if (g->n == limit) { /* full: the oldest gives way */
            g->head = (g->head + 1) % g->cap;
            g->n--;
        } else {
            uint32_t cap = g->cap ? 2 * g->cap : 4;
            if (cap > limit)
                cap = limit;
            if (e->entries + (cap - g->cap) > e->opts.max_entries) {
                int64_t keep = g->last_ms; /* this group must survive the sweep */
                g->last_ms = INT64_MAX / 2;
                sweep(e, e->max_seen_ms);
                g->last_ms = keep;
                if (e->entries + (cap - g->cap) > e->opts.max_entries)
                    return TK_ETOOBIG;
            }
            e->entries += cap - g->cap;
            ring_ent_t *nr = malloc(cap * sizeof(*nr));
            if (!nr)
                return TK_ENOMEM;
            for (uint32_t i = 0; i < g->n; i++)
                nr[i] = g->ring[(g->head + i) % g->cap];
            free(g->ring);
            g->ring = nr;
            g->cap = cap;
            g->head = 0;
        }
    }
    g->ring[(g->head + g->n) % g->cap] = (ring_ent_t){t, seq, dh};
    g->n++;
    return 0;
}

/* An event the window cannot hold is counted, not an error. */
static int entry_cap(tk_alert_engine_t *e, int rc)
{
    if (rc != TK_ETOOBIG)
        return rc;
    e->st.entry_cap_hits++;
    return 0;
}

/* ---- evaluation ---- */

static int build_key(tk_alert_engine_t *e, const tk_rule_t *rule, const char *acct, size_t alen)
{
    tk_buf_t *k = &e->key;
    tk_buf_reset(k);
    int rc = tk_buf_append(k, acct, alen) | tk_buf_putc(k, 0);
    for (uint32_t g = 0; g < rule->ngroup; g++) {
        const tk_aval_t *a = first_text(&e->view, rule->group_slots[g]);
        if (g)
            rc |= tk_buf_putc(k, '|');
        if (a)
            rc |= tk_buf_append(k, a->s, a->len);
    }
    if (!k->p)
        rc |= tk_buf_reserve(k, 1);
    return rc ? TK_ENOMEM : 0;
}

static void explain(tk_alert_engine_t *e, const tk_rule_t *rule, tk_alert_hit_t *hit)
{
    if (!e->opts.explain)
        return;
    tk_buf_reset(&e->why);
    if (tk_anode_explain(rule->root, &e->view, &e->why) == 0 && e->why.p)
        hit->why = e->why.p;
}

/* Renders the rule's title and summary from the event in view. */
static int texts(tk_alert_engine_t *e, const tk_rule_t *rule, tk_alert_hit_t *hit)
{
    int rc = 0;
    if (rule->title.text) {
        tk_buf_reset(&e->title);
        if (!(rc = tk_atext_render(&rule->title, &e->view, 255, &e->title)))
            hit->title = e->title.p;
    }
    if (!rc && rule->summary.text) {
        tk_buf_reset(&e->summary);
        if (!(rc = tk_atext_render(&rule->summary, &e->view, 1023, &e->summary)))
            hit->summary = e->summary.p;
    }
    return rc;
}

/* Copies the group's in-window sequence numbers (oldest first) for the hit. */
static int fill_seqs(tk_alert_engine_t *e, const group_t *g, tk_alert_hit_t *hit)
{
    if (g->n > e->seqcap) {
        uint64_t *ns = realloc(e->seqs, g->n * sizeof(uint64_t));
        if (!ns)
            return TK_ENOMEM;
        e->seqs = ns;
        e->seqcap = g->n;
    }
    for (uint32_t i = 0; i < g->n; i++)
        e->seqs[i] = g->ring[(g->head + i) % g->cap].seq;
    hit->seqs = e->seqs;
    hit->nseqs = g->n;
    return 0;
}

static int on_match(tk_alert_engine_t *e, uint32_t r, const char *acct, size_t alen, int64_t t,
                    uint64_t seq, tk_alert_cb cb, void *ctx)
{
    const tk_rule_t *rule = e->rules[r];
    e->st.matches++;
    int rc = build_key(e, rule, acct, alen);
    if (rc)
        return rc;
    tk_alert_hit_t hit = {
        .kind = TK_ALERT_MATCH, .rule = rule, .account = e->key.p, .account_len = alen,
        .group_key = e->key.p + alen + 1, .group_len = e->key.len - alen - 1,
        .count = 1, .first_ms = t, .time_ms = t, .seqs = &seq, .nseqs = 1,
    };
    if (e->opts.report_matches) {
        explain(e, rule, &hit);
        if (cb)
            cb(ctx, &hit);
        hit.why = NULL;
    }
    hit.kind = TK_ALERT_FIRE;
    if (rule->threshold <= 1 && !rule->distinct && rule->suppress_ms <= 0) {
        e->st.fires++;
        explain(e, rule, &hit);
        if ((rc = texts(e, rule, &hit)))
            return rc;
        if (cb)
            cb(ctx, &hit);
        return 0;
    }
    group_t *g = group_get(e, r, e->key.p, (uint32_t)e->key.len, (uint32_t)alen, t);
    if (!g)
        return 0; /* at the cap: counted in group_cap_hits */
    if (t > g->last_ms || g->n == 0)
        g->last_ms = t;
    uint64_t count = 1;
    int64_t first = t;
    if (rule->threshold > 1 || rule->distinct) {
        /* expire events that left the window, oldest first */
        while (g->n && g->ring[g->head].ts <= t - rule->window_ms) {
            g->head = (g->head + 1) % g->cap;
            g->n--;
        }
        if (rule->distinct) {
            const tk_aval_t *a = first_text(&e->view, rule->distinct_slot);
            if (!a)
                return 0; /* nothing to count distinctly */
            uint64_t dh = tk_hash64(a->s, a->len);
            int seen = 0;
            for (uint32_t i = 0; i < g->n && !seen; i++) {
                if (g->ring[(g->head + i) % g->cap].dh != dh)
                    continue;
                /* seen again: the value moves to the newest position */
                for (uint32_t j = i; j + 1 < g->n; j++)
                    g->ring[(g->head + j) % g->cap] = g->ring[(g->head + j + 1) % g->cap];
                g->ring[(g->head + g->n - 1) % g->cap] = (ring_ent_t){t, seq, dh};
                seen = 1;
            }
            if (!seen && (rc = ring_push(e, g, t, seq, dh, rule->threshold)))
                return entry_cap(e, rc);
        } else if ((rc = ring_push(e, g, t, seq, 0, rule->threshold))) {
            return entry_cap(e, rc);
        }
        count = g->n;
        first = g->n ? g->ring[g->head].ts : t;
        if (count < rule->threshold)
            return 0;
    }
    if (g->fired && rule->suppress_ms > 0 && t < g->fired_ms + rule->suppress_ms) {
        g->suppressed++;
        e->st.suppressed++;
        g->n = 0; /* the incident is already reported: count afresh */
        return 0;
    }
    hit.count = count;
    hit.first_ms = first;
    hit.suppressed = g->suppressed;
    if ((rule->threshold > 1 || rule->distinct) && (rc = fill_seqs(e, g, &hit)))
        return rc;
    g->fired = 1;
    g->fired_ms = t;
    g->suppressed = 0;
    g->n = 0;
    e->st.fires++;
    explain(e, rule, &hit);
    if ((rc = texts(e, rule, &hit)))
        return rc;
    if (cb)
        cb(ctx, &hit);
    return 0;
}

/* clear_when held: the group's incident is over. Its window and suppression
 * go (the next match starts afresh) and the caller hears of it. */
static int on_clear(tk_alert_engine_t *e, uint32_t r, const char *acct, size_t alen, int64_t t,
                    uint64_t seq, tk_alert_cb cb, void *ctx)
{
    const tk_rule_t *rule = e->rules[r];
    e->st.clears++;
    int rc = build_key(e, rule, acct, alen);
    if (rc)
        return rc;
    uint64_t h = tk_hash64(e->key.p, e->key.len) ^ ((uint64_t)(r + 1) * 0x9E3779B97F4A7C15ULL);
    for (group_t **pp = &e->buckets[(uint32_t)(h & (e->nbuckets - 1))]; *pp; pp = &(*pp)->next) {
        group_t *g = *pp;
        if (g->hash == h && g->rule == r && g->keylen == e->key.len && !memcmp(g->key, e->key.p, g->keylen)) {
            *pp = g->next;
            e->entries -= g->cap;
            group_free(g);
            e->ngroups--;
            break;
        }
    }
    if (!e->opts.report_clears || !cb)
        return 0;
    tk_alert_hit_t hit = {
        .kind = TK_ALERT_CLEAR, .rule = rule, .account = e->key.p, .account_len = alen,
        .group_key = e->key.p + alen + 1, .group_len = e->key.len - alen - 1,
        .count = 0, .first_ms = t, .time_ms = t, .seqs = &seq, .nseqs = 1,
    };
    if (e->opts.explain) {
        tk_buf_reset(&e->why);
        if (tk_anode_explain(rule->clear, &e->view, &e->why) == 0 && e->why.p)
            hit.why = e->why.p;
    }
    if ((rc = texts(e, rule, &hit)))
        return rc;
    cb(ctx, &hit);
    return 0;
}

int tk_alert_engine_eval(tk_alert_engine_t *e, const char *account, size_t account_len,
                         const char *event_json, size_t len, int64_t time_ms, tk_alert_cb cb,
                         void *ctx, char *err)
{
    return tk_alert_engine_eval_seq(e, account, account_len, event_json, len, time_ms,
                                    e->last_seq + 1, cb, ctx, err);
}

int tk_alert_engine_eval_seq(tk_alert_engine_t *e, const char *account, size_t account_len,
                             const char *event_json, size_t len, int64_t time_ms, uint64_t seq,
                             tk_alert_cb cb, void *ctx, char *err)
{
    int rc;
    if (!e->frozen && (rc = freeze(e, err)))
        return rc;
    e->st.events++;
    if (seq > e->last_seq)
        e->last_seq = seq;
    tk_aview_reset(&e->view);
    int found = 0;
    rc = tk_jwalk(event_json, len, e->trie_root, e->has_sub ? "cloudTrailRecord" : NULL,
                  e->trie_sub, e->slot_sub, &found, &e->view);
    if (rc) {
        if (rc == TK_EINVAL)
            e->st.bad_events++;
        return tk_errf(err, rc, rc == TK_EINVAL ? "event is not a well-formed JSON object" : "out of memory");
    }
    if (!account) {
        const tk_aval_t *a = first_text(&e->view, e->acct_slot[0]);
        if (!a)
            a = first_text(&e->view, e->acct_slot[1]);
        account = a ? a->s : "";
        account_len = a ? a->len : 0;
    }
    if (time_ms == 0) {
        const tk_aval_t *a = first_text(&e->view, e->time_slot[0]);
        if (!a)
            a = first_text(&e->view, e->time_slot[1]);
        if (a && a->type == TK_AV_STR)
            (void)tk_time_parse(a->s, a->len, &time_ms);
    }
    if (time_ms > e->max_seen_ms)
        e->max_seen_ms = time_ms;
    /* prefilter: mark the rules indexed under this event's key values */
    if (++e->gen == 0) {
        memset(e->mark, 0, e->nrules * sizeof(uint32_t));
        e->gen = 1;
    }
    char tmp[1024];
    for (uint32_t s = 0; s < e->npf_slots; s++) {
        int slot = e->pf_slots[s];
        for (uint32_t i = e->view.head[slot]; i != TK_AV_END; i = e->view.vals[i].next) {
            const tk_aval_t *a = &e->view.vals[i];
            if (a->type != TK_AV_STR || a->len > sizeof tmp)
                continue;
            uint64_t h = pf_hash(slot, a->s, a->len, tmp);
            pf_entry_t *pe = pf_find(e, h, slot, tmp, a->len, 0);
            if (pe)
                for (uint32_t k = 0; k < pe->nrules; k++)
                    e->mark[pe->rules[k]] = e->gen;
        }
    }
    int sampled = (e->st.events - 1) % TIME_SAMPLE == 0;
    uint64_t t = sampled ? tk_mono_ns() : 0;
    for (uint32_t r = 0; r < e->nrules; r++) {
        if (!e->always[r] && e->mark[r] != e->gen)
            continue;
        e->st.rule_evals++;
        e->rule_evals[r]++;
        int timed = sampled || e->rule_rx[r];
        if (timed && !sampled)
            t = tk_mono_ns();
        if (!tk_anode_eval(e->rules[r]->root, &e->view)) {
            /* an event that matches is never the one that clears */
            if (e->rules[r]->clear && tk_anode_eval(e->rules[r]->clear, &e->view) &&
                (rc = on_clear(e, r, account, account_len, time_ms, seq, cb, ctx)))
                return tk_errf(err, rc, "out of memory");
        } else if ((rc = on_match(e, r, account, account_len, time_ms, seq, cb, ctx))) {
            return tk_errf(err, rc, "out of memory");
        }
        /* the callback's time counts to the rule that fired: it is its cost */
        if (timed) {
            uint64_t t2 = tk_mono_ns();
            e->rule_ns[r] += e->rule_rx[r] ? t2 - t : (t2 - t) * TIME_SAMPLE;
            t = t2;
        }
    }
    if (++e->since_sweep >= 65536 && e->ngroups)
        sweep(e, e->max_seen_ms);
    return 0;
}

/* ---- state snapshot (restart without re-alerting or missing a window) ----
 * Format, little-endian: "TKA1", varint last_seq, zigzag max_seen_ms, varint
 * groups, then per group: rule id (varint length + bytes), key (same),
 * varint account length, zigzag last_ms, byte fired, zigzag fired_ms, varint
 * suppressed, varint n, n x (zigzag ts, varint seq, u64 hash); finally the
 * low 32 bits of xxh3 over everything before. */

static uint64_t zz(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzz(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

uint64_t tk_alert_engine_last_seq(const tk_alert_engine_t *e)
{
    return e->last_seq;
}

int tk_alert_engine_save(const tk_alert_engine_t *e, tk_buf_t *out, char *err)
{
    int rc = tk_buf_append(out, "TKA1", 4);
    size_t start = out->len - 4;
    rc |= tk_buf_put_varint(out, e->last_seq);
    rc |= tk_buf_put_varint(out, zz(e->max_seen_ms == INT64_MIN ? 0 : e->max_seen_ms));
    rc |= tk_buf_put_varint(out, e->ngroups);
    for (uint32_t b = 0; b < e->nbuckets && !rc; b++) {
        for (const group_t *g = e->buckets[b]; g && !rc; g = g->next) {
            const char *id = e->rules[g->rule]->id;
            rc |= tk_buf_put_varint(out, strlen(id)) | tk_buf_append(out, id, strlen(id));
            rc |= tk_buf_put_varint(out, g->keylen) | tk_buf_append(out, g->key, g->keylen);
            rc |= tk_buf_put_varint(out, g->acct_len) | tk_buf_put_varint(out, zz(g->last_ms));
            rc |= tk_buf_putc(out, (char)g->fired) | tk_buf_put_varint(out, zz(g->fired_ms));
            rc |= tk_buf_put_varint(out, g->suppressed) | tk_buf_put_varint(out, g->n);
            for (uint32_t i = 0; i < g->n; i++) {
                const ring_ent_t *r = &g->ring[(g->head + i) % g->cap];
                rc |= tk_buf_put_varint(out, zz(r->ts)) | tk_buf_put_varint(out, r->seq) |
                      tk_buf_put_u64le(out, r->dh);
            }
        }
    }
    if (!rc)
        rc = tk_buf_put_u32le(out, tk_checksum32(out->p + start, out->len - start));
    return rc ? tk_errf(err, TK_ENOMEM, "out of memory") : 0;
}

typedef struct rd {
    const uint8_t *p, *end;
    int bad;
} rd_t;

static uint64_t rd_varint(rd_t *r)
{
    uint64_t v = 0;
    size_t k = r->bad ? 0 : tk_get_varint(r->p, (size_t)(r->end - r->p), &v);
    if (!k)
        r->bad = 1;
    r->p += k;
    return v;
}

static const char *rd_bytes(rd_t *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return NULL;
    }
    const char *s = (const char *)r->p;
    r->p += n;
    return s;
}

int tk_alert_engine_load(tk_alert_engine_t *e, const void *data, size_t n, char *err)
{
    int rc;
    if (!e->frozen && (rc = freeze(e, err)))
        return rc;
    const uint8_t *p = data;
    if (n < 8 || memcmp(p, "TKA1", 4) != 0)
        return tk_errf(err, TK_ECORRUPT, "alert state: not a trailkeep alert state snapshot");
    if (tk_get_u32le(p + n - 4) != tk_checksum32(p, n - 4))
        return tk_errf(err, TK_ECORRUPT, "alert state: checksum mismatch (the snapshot is damaged); start without it");
    rd_t r = {p + 4, p + n - 4, 0};
    uint64_t last_seq = rd_varint(&r);
    int64_t max_seen = unzz(rd_varint(&r));
    uint64_t ng = rd_varint(&r);
    for (uint64_t k = 0; k < ng && !r.bad; k++) {
        size_t idl = (size_t)rd_varint(&r);
        const char *id = rd_bytes(&r, idl);
        size_t keyl = (size_t)rd_varint(&r);
        const char *key = rd_bytes(&r, keyl);
        uint32_t acct_len = (uint32_t)rd_varint(&r);
        int64_t last_ms = unzz(rd_varint(&r));
        const char *fired = rd_bytes(&r, 1);
        int64_t fired_ms = unzz(rd_varint(&r));
        uint64_t suppressed = rd_varint(&r);
        uint64_t cnt = rd_varint(&r);
        if (r.bad || acct_len > keyl || cnt > (uint64_t)(r.end - r.p)) {
            r.bad = 1;
            break;
        }
        /* the rule may be gone or changed since the snapshot: match by id */
        uint32_t ri = UINT32_MAX;
        for (uint32_t i = 0; i < e->nrules; i++)
            if (strlen(e->rules[i]->id) == idl && !memcmp(e->rules[i]->id, id, idl)) {
                ri = i;
                break;
            }
        group_t *g = ri == UINT32_MAX ? NULL : group_get(e, ri, key, (uint32_t)keyl, acct_len, max_seen);
        if (g) {
            g->last_ms = last_ms;
            g->fired = *fired != 0;
            g->fired_ms = fired_ms;
            g->suppressed = suppressed;
            g->n = 0;
        }
        for (uint64_t i = 0; i < cnt && !r.bad; i++) {
            int64_t ts = unzz(rd_varint(&r));
            uint64_t seq = rd_varint(&r);
            const char *dh = rd_bytes(&r, 8);
            if (g && dh && (rc = ring_push(e, g, ts, seq, tk_get_u64le((const uint8_t *)dh), e->rules[ri]->threshold))) {
                if (rc != TK_ETOOBIG)
                    return tk_errf(err, rc, "out of memory");
                e->st.entry_cap_hits++;
            }
        }
    }
    if (r.bad)
        return tk_errf(err, TK_ECORRUPT, "alert state: truncated snapshot");
    if (last_seq > e->last_seq)
        e->last_seq = last_seq;
    if (max_seen > e->max_seen_ms)
        e->max_seen_ms = max_seen;
    return 0;
}

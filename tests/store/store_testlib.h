/* Helpers shared by the store tests: hand-built events (JSON strings and
 * index terms made here, no parser), a deterministic RNG, temp directories,
 * and a brute-force oracle of what the store must hold. Header-only (static). */
#ifndef TK_TEST_STORE_TESTLIB_H
#define TK_TEST_STORE_TESTLIB_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "event/event.h"
#include "store/store.h"

static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline uint32_t rng_below(uint64_t *s, uint32_t n) { return (uint32_t)(rng_next(s) % n); }

#define TEV_MAX_TERMS 20

/* A test event that owns its strings. */
typedef struct tev {
    char account[24];
    char id[48];
    int64_t t;
    char *json;
    uint32_t jsonlen;
    int nterms;
    tk_term_t terms[TEV_MAX_TERMS];
    char vals[TEV_MAX_TERMS][24];
    uint64_t seq;  /* assigned by the store (0 until then) */
} tev_t;

static const char *const TEV_VOCAB[] = {"alpha", "beta", "gamma"};

/* Fills e with an event of account `acct`, time t, id `id`, one value per
 * attribute key drawn from a 3-word vocabulary (ResourceName gets two), and a
 * JSON body padded to about pad bytes. */
static inline void tev_make(tev_t *e, const char *acct, const char *id, int64_t t, uint64_t *rng, size_t pad)
{
    memset(e, 0, sizeof *e);
    snprintf(e->account, sizeof e->account, "%s", acct);
    snprintf(e->id, sizeof e->id, "%s", id);
    e->t = t;
    for (int a = 0; a < TK_ATTR__COUNT; a++) {
        if (a == TK_ATTR_EVENTID)
            continue;
        int reps = a == TK_ATTR_RESOURCENAME ? 2 : 1;
        for (int r = 0; r < reps && e->nterms < TEV_MAX_TERMS; r++) {
            int k = e->nterms++;
            snprintf(e->vals[k], sizeof e->vals[k], "%s%d", TEV_VOCAB[rng_below(rng, 3)], a);
            e->terms[k].attr = (tk_attr_t)a;
            e->terms[k].val.p = e->vals[k];
            e->terms[k].val.len = (uint32_t)strlen(e->vals[k]);
        }
    }
    char ts[40];
    tk_time_format(t, 1, ts);
    size_t cap = pad + 512;
    e->json = malloc(cap);
    int n = snprintf(e->json, cap,
                     "{\"eventId\":\"%s\",\"eventTime\":\"%s\",\"recipientAccountId\":\"%s\","
                     "\"eventName\":\"%s\",\"serviceName\":\"%s\",\"pad\":\"",
                     id, ts, acct, e->vals[1], e->vals[0]);
    while ((size_t)n + 3 < pad && (size_t)n + 3 < cap)
        e->json[n++] = (char)('a' + rng_below(rng, 26));
    e->json[n++] = '"';
    e->json[n++] = '}';
    e->json[n] = 0;
    e->jsonlen = (uint32_t)n;
}

static inline void tev_free(tev_t *e)
{
    free(e->json);
    e->json = NULL;
}

static inline tk_event_t tev_event(const tev_t *e)
{
    tk_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.time_ms = e->t;
    ev.account.p = e->account;
    ev.account.len = (uint32_t)strlen(e->account);
    ev.event_id.p = e->id;
    ev.event_id.len = (uint32_t)strlen(e->id);
    ev.json.p = e->json;
    ev.json.len = e->jsonlen;
    ev.terms = e->terms;
    ev.nterms = (uint32_t)e->nterms;
    return ev;
}

/* 1 when e matches the lookup attribute (key, value). */
static inline int tev_has(const tev_t *e, tk_attr_t key, const char *v)
{
    if (key == TK_ATTR_EVENTID)
        return !strcmp(e->id, v);
    for (int i = 0; i < e->nterms; i++)
        if (e->terms[i].attr == key && !strcmp(e->vals[i], v))
            return 1;
    return 0;
}

static inline char *tmpdir_make(void)
{
    char tmpl[] = "/tmp/tk-store-test.XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static inline void tmpdir_remove(char *d)
{
    if (d)
        tk_fs_remove_tree(d);
    free(d);
}

/* Collects (seq, time, json) of a walk. */
typedef struct got {
    size_t n, cap, stop_after;
    uint64_t *seq;
    int64_t *t;
    char **json;
} got_t;

static inline int got_cb(void *ud, const tk_stored_event_t *ev)
{
    got_t *g = ud;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 64;
        g->seq = realloc(g->seq, g->cap * sizeof *g->seq);
        g->t = realloc(g->t, g->cap * sizeof *g->t);
        g->json = realloc(g->json, g->cap * sizeof *g->json);
    }
    g->seq[g->n] = ev->seq;
    g->t[g->n] = ev->time_ms;
    g->json[g->n] = strndup(ev->json.p, ev->json.len);
    g->n++;
    return g->stop_after && g->n >= g->stop_after ? 1 : 0;
}

static inline void got_free(got_t *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->json[i]);
    free(g->seq);
    free(g->t);
    free(g->json);
    memset(g, 0, sizeof *g);
}

#endif

/* trailkeep store: tk_store_lookup(). For each (account, day) partition in
 * range, newest or oldest first, the sealed segments and the unsealed events
 * are merged in (time, seq) order. A segment narrows its ordinal range by
 * binary search over its time/seq columns, intersects the attribute bitmaps,
 * and decompresses only the blocks that hold hits.
 * Results are copied out in chunks under the state rdlock and handed to the
 * callback with no lock held; the next chunk resumes strictly after the last
 * event delivered, which the total (time, seq) order makes exact. */
#define _GNU_SOURCE
#include "store/store_internal.h"

#include "base/buf.h"
#include "base/tk.h"
#include "base/tktime.h"

#include <inttypes.h>
#include <roaring/roaring.h>
#include <stdlib.h>
#include <string.h>

/* CRoaring 0.2 crashes on roaring_bitmap_free(NULL) */
static void bm_free(roaring_bitmap_t *b)
{
    if (b)
        roaring_bitmap_free(b);
}

static int key_lt(int64_t t1, uint64_t q1, int64_t t2, uint64_t q2)
{
    return t1 < t2 || (t1 == t2 && q1 < q2);
}

typedef struct src {
    int mem;
    seg_t *seg;
    segidx_t *x;
    mev_t *const *arr; /* unsealed or frozen events (mem sources) */
    roaring_bitmap_t *bm;
    roaring_uint32_iterator_t it;
    int64_t lo, hi, cur; /* inclusive index range; cur = current */
    int has;
    int64_t t;
    uint64_t q;
} src_t;

typedef struct walk {
    tk_store_t *s;
    const tk_lookup_req_t *req;
    size_t vlen[2];
    int fwd;
    /* position: strictly after (ct, cq) in walk order when has_pos */
    int has_pos;
    int64_t ct;
    uint64_t cq;
    /* chunk */
    size_t want, got;
    tk_buf_t data;
    struct item { uint64_t seq; int64_t t; size_t off; uint32_t len; } *items;
    char *err;
} walk_t;

/* First index i in [0,n) whose key >= (t, q). */
static int64_t seg_lb(const segidx_t *x, int64_t base, int64_t t, uint64_t q)
{
    int64_t lo = 0, hi = x->seg->nevents;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (key_lt(base + x->trel[mid], x->seqs[mid], t, q))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int64_t mem_lb(mev_t *const *ev, size_t n, int64_t t, uint64_t q)
{
    int64_t lo = 0, hi = (int64_t)n;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (key_lt(ev[mid]->time_ms, ev[mid]->seq, t, q))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The inclusive index range of a sorted source inside the window and after
 * the position; lb(t, q) is its lower-bound function. */
#define RANGE(w, lbcall_start, lbcall_endp1, lbcall_after, lbcall_before, lo, hi) \
    do {                                                                         \
        lo = lbcall_start;                                                       \
        hi = lbcall_endp1 - 1;                                                   \
        if ((w)->has_pos) {                                                      \
            if ((w)->fwd) {                                                      \
                int64_t a_ = lbcall_after;                                       \
                if (a_ > lo) lo = a_;                                            \
            } else {                                                             \
                int64_t b_ = lbcall_before - 1;                                  \
                if (b_ < hi) hi = b_;                                            \
            }                                                                    \
        }                                                                        \
    } while (0)

static int mem_match(const walk_t *w, const mev_t *m)
{
    for (int k = 0; k < w->req->nattrs; k++) {
        tk_attr_t a = w->req->attrs[k].key;
        const char *v = w->req->attrs[k].value;
        size_t vl = w->vlen[k];
        int ok = 0;
        if (a == TK_ATTR_EVENTID) {
            ok = m->idlen == vl && !memcmp(m->id, v, vl);
        } else {
            for (uint32_t i = 0; i < m->nterms && !ok; i++)
                ok = m->terms[i].attr == a && m->terms[i].len == vl && !memcmp(m->terms[i].p, v, vl);
        }
        if (!ok)
            return 0;
    }
    return 1;
}

static void src_load(walk_t *w, src_t *c)
{
    c->has = 0;
    if (c->mem) {
        while (c->cur >= c->lo && c->cur <= c->hi) {
            const mev_t *m = c->arr[c->cur];
            if (mem_match(w, m)) {
                c->has = 1;
                c->t = m->time_ms;
                c->q = m->seq;
                return;
            }
            c->cur += w->fwd ? 1 : -1;
        }
        return;
    }
    if (c->bm) {
        if (!c->it.has_value)
            return;
        c->cur = c->it.current_value;
    }
    if (c->cur < c->lo || c->cur > c->hi)
        return;
    c->has = 1;
    c->t = c->seg->day * TK_MS_PER_DAY + c->x->trel[c->cur];
    c->q = c->x->seqs[c->cur];
}

static void src_next(walk_t *w, src_t *c)
{
    if (c->bm) {
        if (w->fwd)
            roaring_advance_uint32_iterator(&c->it);
        else
            roaring_previous_uint32_iterator(&c->it);
    } else {
        c->cur += w->fwd ? 1 : -1;
    }
    src_load(w, c);
}

static int seg_src_init(walk_t *w, src_t *c, int64_t start, int64_t endp1)
{
    tk_store_t *s = w->s;
    seg_t *g = c->seg;
    for (int k = 0; k < w->req->nattrs; k++) {
        tk_attr_t a = w->req->attrs[k].key;
        if (!segfilter_may_have(g->filter, g->filter_len,
                                segfilter_key(a, w->req->attrs[k].value, w->vlen[k]))) {
            c->lo = 1, c->hi = 0; /* certainly no hit: the index is not even loaded */
            return 0;
        }
    }
    int rc = segidx_get(&s->cache, g, &c->x, w->err);
    if (rc)
        return rc;
    int64_t base = g->day * TK_MS_PER_DAY;
    RANGE(w, seg_lb(c->x, base, start, 0), seg_lb(c->x, base, endp1, 0),
          (w->cq == UINT64_MAX ? seg_lb(c->x, base, w->ct + 1, 0) : seg_lb(c->x, base, w->ct, w->cq + 1)),
          seg_lb(c->x, base, w->ct, w->cq), c->lo, c->hi);
    if (c->lo > c->hi)
        return 0;
    if (w->req->nattrs) {
        roaring_bitmap_t *acc = NULL;
        for (int k = 0; k < w->req->nattrs; k++) {
            roaring_bitmap_t *b = NULL;
            tk_attr_t a = w->req->attrs[k].key;
            if (a == TK_ATTR_EVENTID) {
                uint32_t ord;
                rc = segidx_find_id(&s->cache, c->x, w->req->attrs[k].value, w->vlen[k], &ord,
                                    w->err);
                if (rc == 1) {
                    b = roaring_bitmap_create();
                    if (b)
                        roaring_bitmap_add(b, ord);
                    rc = b ? 0 : TK_ENOMEM;
                }
            } else {
                void *vb;
                rc = segidx_term(&s->cache, c->x, a, w->req->attrs[k].value, w->vlen[k], &vb, w->err);
                b = vb;
            }
            if (rc < 0) {
                bm_free(acc);
                return rc;
            }
            if (!b) { /* term absent: no hit in this segment */
                bm_free(acc);
                c->lo = 1, c->hi = 0;
                return 0;
            }
            if (acc) {
                roaring_bitmap_and_inplace(acc, b);
                bm_free(b);
            } else {
                acc = b;
            }
        }
        roaring_bitmap_t *range = roaring_bitmap_from_range((uint64_t)c->lo, (uint64_t)c->hi + 1, 1);
        if (!range) {
            bm_free(acc);
            return TK_ENOMEM;
        }
        roaring_bitmap_and_inplace(acc, range);
        bm_free(range);
        c->bm = acc;
        if (w->fwd)
            roaring_init_iterator(acc, &c->it);
        else
            roaring_init_iterator_last(acc, &c->it);
    } else {
        c->cur = w->fwd ? c->lo : c->hi;
    }
    src_load(w, c);
    return 0;
}

static int emit(walk_t *w, uint64_t seq, int64_t t, const char *json, uint32_t len)
{
    if (tk_buf_append(&w->data, json, len))
        return TK_ENOMEM;
    w->items[w->got++] = (struct item){seq, t, w->data.len - len, len};
    return 0;
}

/* Merges one partition's sources into the chunk. */
static int walk_part(walk_t *w, part_t *p, int64_t start, int64_t endp1)
{
    tk_store_t *s = w->s;
    size_t ns = 0;
    src_t *src = calloc(p->nsegs + 2, sizeof *src);
    if (!src)
        return tk_errf(w->err, TK_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < p->nsegs && !rc; i++) {
        seg_t *g = p->segs[i];
        if (g->max_time < start || g->min_time >= endp1)
            continue;
        src[ns].seg = g;
        rc = seg_src_init(w, &src[ns], start, endp1);
        ns++;
    }
    /* unsealed events, and those a running seal has frozen */
    for (int k = 0; k < 2 && !rc; k++) {
        mev_t *const *ev = k ? p->fz : p->ev;
        size_t n = k ? p->nfz : p->nev;
        if (!n)
            continue;
        src_t *c = &src[ns++];
        c->mem = 1;
        c->arr = ev;
        RANGE(w, mem_lb(ev, n, start, 0), mem_lb(ev, n, endp1, 0),
              (w->cq == UINT64_MAX ? mem_lb(ev, n, w->ct + 1, 0) : mem_lb(ev, n, w->ct, w->cq + 1)),
              mem_lb(ev, n, w->ct, w->cq), c->lo, c->hi);
        c->cur = w->fwd ? c->lo : c->hi;
        src_load(w, c);
    }
    while (!rc && w->got < w->want) {
        src_t *best = NULL;
        for (size_t i = 0; i < ns; i++) {
            src_t *c = &src[i];
            if (!c->has)
                continue;
            if (!best || (w->fwd ? key_lt(c->t, c->q, best->t, best->q)
                                 : key_lt(best->t, best->q, c->t, c->q)))
                best = c;
        }
        if (!best)
            break;
        if (best->mem) {
            const mev_t *m = best->arr[best->cur];
            rc = emit(w, m->seq, m->time_ms, m->json, m->jsonlen);
        } else {
            segblk_t *b = NULL;
            rc = segblk_get(&s->cache, best->x, (uint32_t)best->cur, &b, w->err);
            if (!rc) {
                const segent_t *e = &b->ent[best->cur - b->first];
                rc = emit(w, best->q, best->t, b->raw + e->jsonoff, e->jsonlen);
                segblk_put(&s->cache, b);
            }
        }
        if (rc == TK_ENOMEM)
            tk_errf(w->err, rc, "out of memory");
        src_next(w, best);
    }
    for (size_t i = 0; i < ns; i++) {
        bm_free(src[i].bm);
        segidx_put(&s->cache, src[i].x);
    }
    free(src);
    return rc;
}

/* Fills one chunk; caller holds the rdlock. */
static int walk_chunk(walk_t *w)
{
    const tk_lookup_req_t *r = w->req;
    acct_t *a = store_acct_find(w->s, r->account, strlen(r->account));
    if (!a || !a->nparts)
        return 0;
    int64_t start = r->start_ms, endp1 = r->end_ms == INT64_MAX ? INT64_MAX : r->end_ms + 1;
    int64_t d0 = tk_time_day(start), d1 = tk_time_day(endp1 - 1);
    if (w->has_pos) {
        int64_t dc = tk_time_day(w->ct);
        if (w->fwd && dc > d0)
            d0 = dc;
        if (!w->fwd && dc < d1)
            d1 = dc;
    }
    int rc = 0;
    if (w->fwd) {
        for (size_t i = 0; i < a->nparts && !rc && w->got < w->want; i++)
            if (a->parts[i]->day >= d0 && a->parts[i]->day <= d1)
                rc = walk_part(w, a->parts[i], start, endp1);
    } else {
        for (size_t i = a->nparts; i-- > 0 && !rc && w->got < w->want;)
            if (a->parts[i]->day >= d0 && a->parts[i]->day <= d1)
                rc = walk_part(w, a->parts[i], start, endp1);
    }
    return rc;
}

int tk_store_lookup(tk_store_t *s, const tk_lookup_req_t *req, tk_event_cb cb, void *ud, char *err)
{
    if (!req || !req->account)
        return tk_errf(err, TK_EINVAL, "lookup needs an account");
    if (req->nattrs < 0 || req->nattrs > 2)
        return tk_errf(err, TK_EINVAL, "lookup takes 0 to 2 attributes, not %d", req->nattrs);
    for (int k = 0; k < req->nattrs; k++)
        if ((unsigned)req->attrs[k].key >= TK_ATTR__COUNT || !req->attrs[k].value)
            return tk_errf(err, TK_EINVAL, "lookup attribute %d has an unknown key or no value", k);
    if (req->start_ms > req->end_ms)
        return 0;
    walk_t w = {.s = s, .req = req, .fwd = req->forward != 0, .err = err};
    for (int k = 0; k < req->nattrs; k++)
        w.vlen[k] = strlen(req->attrs[k].value);
    w.has_pos = req->has_cursor;
    w.ct = req->cursor_time_ms;
    w.cq = req->cursor_seq;
    size_t chunk = 64;
    int rc = 0;
    for (;;) {
        struct item *it = realloc(w.items, chunk * sizeof *it);
        if (!it) {
            rc = tk_errf(err, TK_ENOMEM, "out of memory");
            break;
        }
        w.items = it;
        w.want = chunk;
        w.got = 0;
        tk_buf_reset(&w.data);
        pthread_rwlock_rdlock(&s->state);
        tk_str_t acct = {req->account, (uint32_t)strlen(req->account)};
        rc = walk_chunk(&w);
        pthread_rwlock_unlock(&s->state);
        if (rc)
            break;
        for (size_t i = 0; i < w.got; i++) {
            tk_stored_event_t se = {w.items[i].seq, w.items[i].t, acct,
                                    {w.data.p + w.items[i].off, w.items[i].len}};
            if ((rc = cb(ud, &se)))
                break;
        }
        if (rc || w.got < w.want)
            break;
        w.has_pos = 1;
        w.ct = w.items[w.got - 1].t;
        w.cq = w.items[w.got - 1].seq;
        if (chunk < 4096)
            chunk *= 4;
    }
    free(w.items);
    tk_buf_free(&w.data);
    return rc;
}

int tk_store_scan(tk_store_t *s, const char *account, int forward, tk_event_cb cb, void *ud,
                  char *err)
{
    tk_lookup_req_t r = {.account = account, .start_ms = 0, .end_ms = INT64_MAX - 1,
                         .forward = forward};
    return tk_store_lookup(s, &r, cb, ud, err);
}

/* trailkeep store: sealing and compaction. A seal freezes the unsealed
 * events, writes one segment per partition (chained per account), syncs,
 * renames, publishes and records sealed_seq; compaction merges small
 * segments of one size tier into a chain link that lists what it replaced.
 * Invariant: until MANIFEST records sealed_seq, every sealed event is also in
 * the WAL, and replay skips the ones a segment already holds. */
#define _GNU_SOURCE
#include "store/store_internal.h"

#include "base/buf.h"
#include "base/fs.h"
#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- seal ------------------------------------------------------------------------ */

/* Makes everything written so far durable: one syncfs for the whole seal
 * instead of an fsync per segment, HEAD file and directory (on a busy disk
 * each fsync is a journal commit of 5-20 ms). */
static int seal_sync(tk_store_t *s, char *err)
{
    if (s->opts.no_fsync)
        return 0;
    int fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || syncfs(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return tk_errf(err, tk_from_errno(e), "cannot sync the store's file system: %s",
                       strerror(e));
    }
    close(fd);
    return 0;
}

/* HEAD without its own fsync: the seal's closing syncfs covers it. */
static int write_head_nosync(tk_store_t *s, const char *name, uint64_t index, const uint8_t h[32],
                             char *err)
{
    char path[PATH_MAX + 128], tmp[PATH_MAX + 140], hex[65], line[128];
    snprintf(path, sizeof path, "%s/seg/%s/HEAD", s->dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    tk_hex(h, 32, hex);
    int n = snprintf(line, sizeof line, "%" PRIu64 " %s\n", index, hex);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = fd < 0 ? tk_from_errno(errno) : tk_fs_write_full(fd, line, (size_t)n);
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (!rc && rename(tmp, path) != 0) {
        e = errno;
        rc = tk_from_errno(e);
    }
    if (rc) {
        unlink(tmp);
        return tk_errf(err, rc, "cannot write %s: %s", path, strerror(e));
    }
    return 0;
}

typedef struct sealed {
    acct_t *a;
    part_t *p;
    seg_t *g;
    char *final;
} sealed_t;

/* Trains the store's dictionary from ev once enough JSON has been seen;
 * failure only costs compression, so it is reported and otherwise ignored. */
static void maybe_train(tk_store_t *s, mev_t *const *ev, size_t n)
{
    char err[TK_ERRLEN];
    if (dict_train(s->dir, ev, n, &s->dict, err))
        tk_log("trailkeep store: no compression dictionary yet: %s\n", err);
}

#define COMPACT_MIN_SEGS 8
#define COMPACT_SMALL_RAW (32ull << 20)
#define COMPACT_MAX_RAW (256ull << 20)

static int seg_tier(const seg_t *g)
{
    int t = 0;
    for (uint64_t r = g->raw_bytes >> 16; r >= 4 && t < 31; r >>= 2)
        t++;
    return t;
}

static int seg_chain_cmp(const void *a, const void *b)
{
    const seg_t *x = *(seg_t *const *)a, *y = *(seg_t *const *)b;
    return x->chain < y->chain ? -1 : x->chain > y->chain;
}

static int mevp_cmp(const void *a, const void *b)
{
    return mev_cmp(*(mev_t *const *)a, *(mev_t *const *)b);
}

/* Merges small segments of a partition into one new chain link whose
 * SEC_REPLACES names them, so periodic seals (every minute in serve) and the
 * automatic seals of a big import do not leave hundreds of small segments per
 * day for lookups to open. The caller holds the writer role and p has no
 * unsealed events. Cost: when COMPACT_MIN_SEGS segments of one size tier
 * have accumulated, one rewrite of them (at most COMPACT_MAX_RAW of JSON). */
static int compact_part(tk_store_t *s, acct_t *a, part_t *p, char *err)
{
    /* size tiers (x4 apart from 64 KiB): only segments of one tier are merged,
     * so each byte is rewritten about once per tier, not once per seal */
    int tier_n[32] = {0}, tier = -1;
    for (size_t i = 0; i < p->nsegs; i++)
        if (p->segs[i]->raw_bytes < COMPACT_SMALL_RAW)
            tier_n[seg_tier(p->segs[i])]++;
    for (int t = 0; t < 32 && tier < 0; t++)
        if (tier_n[t] >= COMPACT_MIN_SEGS)
            tier = t;
    if (tier < 0)
        return 0;
    seg_t *x[64];
    size_t nx = 0;
    uint64_t raw = 0;
    for (size_t i = 0; i < p->nsegs && nx < 64; i++)
        if (p->segs[i]->raw_bytes < COMPACT_SMALL_RAW && seg_tier(p->segs[i]) == tier &&
            raw + p->segs[i]->raw_bytes <= COMPACT_MAX_RAW) {
            x[nx++] = p->segs[i];
            raw += p->segs[i]->raw_bytes;
        }
    if (nx < 2)
        return 0;
    mev_t **all = NULL;
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < nx && !rc; i++) {
        mev_t **ev;
        size_t k;
        if ((rc = seg_read_events(&s->cache, x[i], &ev, &k, err)))
            break;
        mev_t **na = realloc(all, (n + k) * sizeof *na);
        if (!na) {
            for (size_t j = 0; j < k; j++)
                free(ev[j]);
            free(ev);
            rc = tk_errf(err, TK_ENOMEM, "out of memory");
            break;
        }
        all = na;
        memcpy(all + n, ev, k * sizeof *ev);
        n += k;
        free(ev);
    }
    /* the new segment accounts for what it replaces, and for what those replaced */
    uint64_t *ri = NULL;
    uint8_t(*rh)[32] = NULL;
    size_t nr = 0;
    for (size_t i = 0; i < nx && !rc; i++) {
        uint64_t *xi;
        uint8_t(*xh)[32];
        size_t xn;
        if ((rc = seg_read_replaces(x[i], &xi, &xh, &xn, err)))
            break;
        uint64_t *ni = realloc(ri, (nr + xn + 1) * sizeof *ni);
        uint8_t(*nh)[32] = ni ? realloc(rh, (nr + xn + 1) * sizeof *nh) : NULL;
        if (ni)
            ri = ni;
        if (nh)
            rh = nh;
        if (!ni || !nh) {
            free(xi);
            free(xh);
            rc = tk_errf(err, TK_ENOMEM, "out of memory");
            break;
        }
        ri[nr] = x[i]->chain;
        memcpy(rh[nr++], x[i]->hash, 32);
        if (xn) {
            memcpy(ri + nr, xi, xn * sizeof *xi);
            memcpy(rh + nr, xh, xn * sizeof *xh);
        }
        nr += xn;
        free(xi);
        free(xh);
    }
    seg_t *g = NULL;
    char day[9], dir[PATH_MAX + 100], path[PATH_MAX + 120];
    if (!rc) {
        qsort(all, n, sizeof *all, mevp_cmp);
        qsort(x, nx, sizeof *x, seg_chain_cmp);
        tk_time_day_str(p->day, day);
        snprintf(dir, sizeof dir, "%s/seg/%s/%s", s->dir, a->name, day);
        snprintf(path, sizeof path, "%s/%010" PRIu64 ".seg", dir, a->head_index + 1);
        if (!s->dict && raw >= s->dict_min)
            maybe_train(s, all, n);
        rc = seg_write(path, a->name, p->day, a->head_index + 1, a->head_hash, all, n, ri, rh, nr,
                       s->dict, &g, err);
    }
    free(ri);
    free(rh);
    for (size_t i = 0; i < n; i++)
        free(all[i]);
    free(all);
    if (!rc && !(rc = seal_sync(s, err)) && rename(g->path, path) != 0)
        rc = tk_errf(err, tk_from_errno(errno), "cannot rename %s: %s", g->path, strerror(errno));
    if (!rc) {
        free(g->path);
        if (!(g->path = strdup(path)))
            rc = tk_errf(err, TK_ENOMEM, "out of memory");
    }
    if (!rc)
        rc = write_head_nosync(s, a->name, g->chain, g->hash, err);
    if (!rc)
        rc = seal_sync(s, err);
    if (rc) {
        if (g) {
            unlink(g->path);
            seg_free(g);
        }
        return rc;
    }
    g->uid = ++s->seg_uid;
    pthread_rwlock_wrlock(&s->state);
    for (size_t i = 0; i < nx; i++) {
        for (size_t j = 0; j < p->nsegs; j++)
            if (p->segs[j] == x[i]) {
                memmove(p->segs + j, p->segs + j + 1, (p->nsegs - j - 1) * sizeof *p->segs);
                p->nsegs--;
                break;
            }
        p->sealed_events -= x[i]->nevents;
        s->seg_count--;
        s->seg_bytes -= x[i]->file_bytes;
    }
    part_add_seg(p, g); /* cannot fail: the array just shrank */
    s->seg_count++;
    s->seg_bytes += g->file_bytes;
    a->head_index = g->chain;
    memcpy(a->head_hash, g->hash, 32);
    pthread_rwlock_unlock(&s->state);
    for (size_t i = 0; i < nx; i++) {
        unlink(x[i]->path);
        segcache_forget(&s->cache, x[i]);
        seg_free(x[i]);
    }
    return 0;
}

/* Seal in phases so a failure or crash never leaves a half-published seal:
 * (1) write every segment as .tmp, chaining per account; (2) sync; (3) rename
 * into place and write HEADs; (4) sync; (5) publish in memory; (6) record
 * sealed_seq in the MANIFEST; (7) trim the WAL. Until (6) every sealed event
 * is also in the WAL past sealed_seq; replay dedups it against the segment. */
/* Moves every partition's unsealed events aside (frozen: still visible to
 * lookups and dedup, no longer changed) so the seal can write them while
 * appends go on into fresh unsealed sets. Needs the writer role, briefly:
 * after it, every event with seq <= *upto is frozen or already sealed. */
static int freeze(tk_store_t *s, sealed_t **out, size_t *nout, uint64_t *upto)
{
    size_t n = 0, cap = 0;
    sealed_t *v = NULL;
    int rc = 0;
    store_lead_begin(s);
    pthread_rwlock_wrlock(&s->state);
    for (size_t ai = 0; ai < s->naccts && !rc; ai++) {
        acct_t *a = s->accts[ai];
        for (size_t pi = 0; pi < a->nparts; pi++) {
            part_t *p = a->parts[pi];
            if (!p->nev)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                sealed_t *nv = realloc(v, cap * sizeof *nv);
                if (!nv) {
                    rc = TK_ENOMEM;
                    break;
                }
                v = nv;
            }
            v[n++] = (sealed_t){a, p, NULL, NULL};
            p->fz = p->ev;
            p->nfz = p->nev;
            p->fzset = p->set;
            p->fzsetcap = p->setcap;
            p->fz_bytes = p->unsealed_bytes;
            s->frozen_bytes += p->fz_bytes;
            p->ev = NULL;
            p->set = NULL;
            p->nev = p->capev = p->setcap = 0;
            p->unsealed_bytes = 0;
        }
    }
    *upto = s->last_seq;
    pthread_rwlock_unlock(&s->state);
    store_lead_end(s);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *nout = n;
    return 0;
}

/* Puts frozen events back among the unsealed ones after a failed seal. */
static void unfreeze(tk_store_t *s, sealed_t *v, size_t n)
{
    pthread_rwlock_wrlock(&s->state);
    for (size_t i = 0; i < n; i++) {
        part_t *p = v[i].p;
        for (size_t k = 0; k < p->nfz; k++)
            if (part_add(p, p->fz[k]))
                free(p->fz[k]); /* out of memory: the event is still in the WAL */
        s->frozen_bytes -= p->fz_bytes;
        free(p->fz);
        free(p->fzset);
        p->fz = NULL;
        p->fzset = NULL;
        p->nfz = p->fzsetcap = 0;
        p->fz_bytes = 0;
    }
    pthread_rwlock_unlock(&s->state);
}

/* Seal in phases so a failure or crash never leaves a half-published seal:
 * (0) freeze the unsealed events; (1) write every segment as .tmp, chaining
 * per account; (2) sync; (3) rename into place and write HEADs; (4) sync;
 * (5) publish in memory; (6) record sealed_seq in the MANIFEST; (7) trim the
 * WAL. Until (6) every sealed event is also in the WAL past sealed_seq;
 * replay skips those a segment already holds. Appends continue throughout
 * (only the freeze and the WAL trim take the writer role). The caller holds
 * seal_mu. */
int store_seal_locked(tk_store_t *s, char *err)
{
    uint64_t upto;
    size_t n = 0;
    sealed_t *v = NULL;
    int rc = freeze(s, &v, &n, &upto);
    if (rc)
        return tk_errf(err, rc, "out of memory");
    if (!s->dict) {
        size_t total = 0, cnt = 0;
        for (size_t i = 0; i < n; i++) {
            total += v[i].p->fz_bytes;
            cnt += v[i].p->nfz;
        }
        if (total >= s->dict_min) {
            mev_t **all = malloc(cnt * sizeof *all);
            size_t k = 0;
            for (size_t i = 0; all && i < n; i++)
                for (size_t e = 0; e < v[i].p->nfz; e++)
                    all[k++] = v[i].p->fz[e];
            if (all)
                maybe_train(s, all, k);
            free(all);
        }
    }
    uint64_t chain = 0;
    uint8_t prev[32];
    for (size_t i = 0; i < n && !rc; i++) {
        acct_t *a = v[i].a;
        part_t *p = v[i].p;
        if (i == 0 || v[i - 1].a != a) {
            chain = a->head_index;
            memcpy(prev, a->head_hash, 32);
        }
        char day[9], dir[PATH_MAX + 100], path[PATH_MAX + 120];
        tk_time_day_str(p->day, day);
        snprintf(dir, sizeof dir, "%s/seg/%s/%s", s->dir, a->name, day);
        if ((rc = tk_fs_mkdirs_private(dir, err)))
            break;
        snprintf(path, sizeof path, "%s/%010" PRIu64 ".seg", dir, ++chain);
        if ((rc = seg_write(path, a->name, p->day, chain, prev, p->fz, p->nfz, NULL, NULL, 0,
                            s->dict, &v[i].g, err)))
            break;
        memcpy(prev, v[i].g->hash, 32);
        if (!(v[i].final = strdup(path)))
            rc = tk_errf(err, TK_ENOMEM, "out of memory");
    }
    if (!rc)
        rc = seal_sync(s, err);
    for (size_t i = 0; i < n && !rc; i++) {
        if (rename(v[i].g->path, v[i].final) != 0) {
            rc = tk_errf(err, tk_from_errno(errno), "cannot rename %s into place: %s",
                         v[i].g->path, strerror(errno));
            break;
        }
        free(v[i].g->path);
        v[i].g->path = v[i].final;
        v[i].final = NULL;
        if (i + 1 == n || v[i + 1].a != v[i].a)
            rc = write_head_nosync(s, v[i].a->name, v[i].g->chain, v[i].g->hash, err);
    }
    if (!rc)
        rc = seal_sync(s, err);
    if (rc) {
        /* nothing published: the events go back to unsealed (and are in the WAL);
         * a renamed segment is overwritten by the next seal of the same index */
        for (size_t i = 0; i < n; i++) {
            if (v[i].final && v[i].g)
                unlink(v[i].g->path);
            free(v[i].final);
            seg_free(v[i].g);
        }
        unfreeze(s, v, n);
        free(v);
        return rc;
    }
    pthread_rwlock_wrlock(&s->state);
    for (size_t i = 0; i < n; i++) {
        sealed_t *x = &v[i];
        part_t *p = x->p;
        if (part_add_seg(p, x->g)) {
            /* durable on disk (a reopen loads it); here its events stay frozen */
            seg_free(x->g);
            x->g = NULL;
            continue;
        }
        x->g->uid = ++s->seg_uid;
        x->a->head_index = x->g->chain;
        memcpy(x->a->head_hash, x->g->hash, 32);
        s->unsealed_bytes -= p->fz_bytes;
        s->frozen_bytes -= p->fz_bytes;
        s->unsealed_events -= p->nfz;
        s->sealed_events += x->g->nevents;
        s->seg_count++;
        s->seg_bytes += x->g->file_bytes;
        for (size_t k = 0; k < p->nfz; k++)
            free(p->fz[k]);
        free(p->fz);
        free(p->fzset);
        p->fz = NULL;
        p->fzset = NULL;
        p->nfz = p->fzsetcap = 0;
        p->fz_bytes = 0;
    }
    pthread_rwlock_unlock(&s->state);
    /* compaction: the partitions just sealed may now hold many small segments;
     * it only saves space and lookup work, so its failure does not fail the seal */
    for (size_t i = 0; i < n; i++) {
        char e2[TK_ERRLEN];
        if ((i + 1 == n || v[i + 1].p != v[i].p) && compact_part(s, v[i].a, v[i].p, e2))
            tk_log("trailkeep store: compaction skipped: %s\n", e2);
    }
    free(v);
    if (upto > s->sealed_seq) {
        uint64_t old = s->sealed_seq;
        s->sealed_seq = upto;
        if ((rc = write_manifest(s, err))) {
            s->sealed_seq = old;
            return rc;
        }
    }
    uint64_t keep = s->sealed_seq + 1;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->ncons; i++)
        if (s->cons[i].seq < keep)
            keep = s->cons[i].seq;
    pthread_mutex_unlock(&s->mu);
    store_lead_begin(s); /* the WAL file state belongs to the writer role */
    s->wal.rotate_next = 1;
    wal_trim(&s->wal, keep, s->last_seq);
    store_lead_end(s);
    return 0;
}

int tk_store_seal(tk_store_t *s, char *err)
{
    if (s->opts.read_only)
        return tk_errf(err, TK_EPERM, "store %s is open read-only", s->dir);
    pthread_mutex_lock(&s->seal_mu);
    int rc = store_seal_locked(s, err);
    pthread_mutex_unlock(&s->seal_mu);
    return rc;
}


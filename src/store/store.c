/* trailkeep store: open/replay, group-commit append, seal, and the partition
 * map (account -> UTC day -> sealed segments + unsealed events).
 * Invariants: exactly one thread at a time holds the writer ("leader") role
 * and is the only one that changes the partition map, always under the state
 * wrlock; readers take the rdlock only while copying results out, never
 * while user callbacks run. An event becomes visible only after its group's
 * fdatasync returned. Seqs are dense: a failed group hands its seqs back. */
#define _GNU_SOURCE
#include "store/store_internal.h"

#include "base/buf.h"
#include "base/fs.h"
#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define GRPBUF_KEEP (64u << 20) /* a larger group's buffer is freed, not kept */
#define DEFAULT_SEAL_BYTES (64ull << 20) /* with a seal running, up to ~2x this is in memory */
#define CACHE_IDX_BYTES (96ull << 20)
#define CACHE_BLK_BYTES (64ull << 20)
#define MAX_DAY 2932897 /* 10000-01-01 (9999-12-31 is day 2932896): keeps YYYYMMDD 8 digits */

typedef struct areq {
    const tk_event_t *ev;
    size_t n;
    uint8_t *status;
    size_t accepted, dups;
    uint64_t last_seq;
    int rc;
    int done;
    char err[TK_ERRLEN];
    struct areq *next;
} areq_t;

/* ---- accounts and partitions -------------------------------------------- */

int store_account_ok(const char *p, size_t n)
{
    return tk_event_account_ok(p, n); /* one rule, shared with the parser's per-event check */
}

static int name_cmp(const char *a, const char *b, size_t blen)
{
    size_t al = strlen(a), m = al < blen ? al : blen;
    int c = memcmp(a, b, m);
    if (c)
        return c;
    return al < blen ? -1 : al > blen;
}

static size_t acct_pos(tk_store_t *s, const char *name, size_t len, int *found)
{
    size_t lo = 0, hi = s->naccts;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = name_cmp(s->accts[mid]->name, name, len);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

acct_t *store_acct_find(tk_store_t *s, const char *name, size_t len)
{
    int f;
    size_t i = acct_pos(s, name, len, &f);
    return f ? s->accts[i] : NULL;
}

/* Caller holds the wrlock (or is single-threaded at open). */
static acct_t *acct_get(tk_store_t *s, const char *name, size_t len)
{
    int f;
    size_t i = acct_pos(s, name, len, &f);
    if (f)
        return s->accts[i];
    if (s->naccts == s->capaccts) {
        size_t nc = s->capaccts ? s->capaccts * 2 : 16;
        acct_t **na = realloc(s->accts, nc * sizeof *na);
        if (!na)
            return NULL;
        s->accts = na;
        s->capaccts = nc;
    }
    acct_t *a = calloc(1, sizeof *a);
    if (!a || !(a->name = strndup(name, len))) {
        free(a);
        return NULL;
    }
    memmove(s->accts + i + 1, s->accts + i, (s->naccts - i) * sizeof *s->accts);
    s->accts[i] = a;
    s->naccts++;
    return a;
}

static size_t part_pos(const acct_t *a, int64_t day, int *found)
{
    size_t lo = 0, hi = a->nparts;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a->parts[mid]->day == day) {
            *found = 1;
            return mid;
        }
        if (a->parts[mid]->day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

part_t *acct_part_find(acct_t *a, int64_t day)
{
    int f;
    size_t i = part_pos(a, day, &f);
    return f ? a->parts[i] : NULL;
}

static part_t *part_get(acct_t *a, int64_t day)
{
    int f;
    size_t i = part_pos(a, day, &f);
    if (f)
        return a->parts[i];
    if (a->nparts == a->capparts) {
        size_t nc = a->capparts ? a->capparts * 2 : 8;
        part_t **np = realloc(a->parts, nc * sizeof *np);
        if (!np)
            return NULL;
        a->parts = np;
        a->capparts = nc;
    }
    part_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->day = day;
    memmove(a->parts + i + 1, a->parts + i, (a->nparts - i) * sizeof *a->parts);
    a->parts[i] = p;
    a->nparts++;
    return p;
}

static mev_t *set_find(mev_t *const *set, size_t cap, const char *id, size_t len, uint64_t h)
{
    if (!cap)
        return NULL;
    for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1)) {
        mev_t *m = set[i];
        if (!m)
            return NULL;
        if (m->idhash == h && m->idlen == len && !memcmp(m->id, id, len))
            return m;
    }
}

/* The unsealed or frozen event of p with this eventId, if any. */
static mev_t *pset_find(const part_t *p, const char *id, size_t len, uint64_t h)
{
    mev_t *m = set_find(p->set, p->setcap, id, len, h);
    return m ? m : set_find(p->fzset, p->fzsetcap, id, len, h);
}

static void pset_put(mev_t **set, size_t cap, mev_t *m)
{
    size_t i = m->idhash & (cap - 1);
    while (set[i])
        i = (i + 1) & (cap - 1);
    set[i] = m;
}

int part_add(part_t *p, mev_t *m)
{
    if ((p->nev + 1) * 2 > p->setcap) {
        size_t nc = p->setcap ? p->setcap * 2 : 64;
        mev_t **ns = calloc(nc, sizeof *ns);
        if (!ns)
            return TK_ENOMEM;
        for (size_t i = 0; i < p->setcap; i++)
            if (p->set[i])
                pset_put(ns, nc, p->set[i]);
        free(p->set);
        p->set = ns;
        p->setcap = nc;
    }
    if (p->nev == p->capev) {
        size_t nc = p->capev ? p->capev * 2 : 64;
        mev_t **ne = realloc(p->ev, nc * sizeof *ne);
        if (!ne)
            return TK_ENOMEM;
        p->ev = ne;
        p->capev = nc;
    }
    /* events mostly arrive in time order: append, else binary-search the slot */
    size_t at = p->nev;
    if (at && mev_cmp(p->ev[at - 1], m) > 0) {
        size_t lo = 0, hi = p->nev;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (mev_cmp(p->ev[mid], m) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        at = lo;
        memmove(p->ev + at + 1, p->ev + at, (p->nev - at) * sizeof *p->ev);
    }
    p->ev[at] = m;
    p->nev++;
    pset_put(p->set, p->setcap, m);
    p->unsealed_bytes += m->jsonlen;
    return 0;
}

static void part_clear_unsealed(part_t *p)
{
    for (size_t i = 0; i < p->nev; i++)
        free(p->ev[i]);
    free(p->ev);
    free(p->set);
    p->ev = NULL;
    p->set = NULL;
    p->nev = p->capev = p->setcap = 0;
    p->unsealed_bytes = 0;
}

static void part_free(part_t *p, segcache_t *c)
{
    if (!p)
        return;
    part_clear_unsealed(p);
    for (size_t i = 0; i < p->nfz; i++)
        free(p->fz[i]);
    free(p->fz);
    free(p->fzset);
    for (size_t i = 0; i < p->nsegs; i++) {
        segcache_forget(c, p->segs[i]);
        seg_free(p->segs[i]);
    }
    free(p->segs);
    free(p);
}

int part_add_seg(part_t *p, seg_t *g)
{
    if (p->nsegs == p->capsegs) {
        size_t nc = p->capsegs ? p->capsegs * 2 : 4;
        seg_t **ns = realloc(p->segs, nc * sizeof *ns);
        if (!ns)
            return TK_ENOMEM;
        p->segs = ns;
        p->capsegs = nc;
    }
    size_t at = p->nsegs;
    while (at && p->segs[at - 1]->chain > g->chain) {
        p->segs[at] = p->segs[at - 1];
        at--;
    }
    p->segs[at] = g;
    p->nsegs++;
    p->sealed_events += g->nevents;
    return 0;
}

/* Dedup against the sealed segments of p: 1 dup, 0 not, <0 error.
 * max_seq_hint: only segments that could hold seq (replay) when nonzero. */
static int part_sealed_has(tk_store_t *s, part_t *p, const char *id, size_t len, uint64_t seq,
                           char *err)
{
    uint64_t key = segfilter_key(TK_ATTR_EVENTID, id, len);
    for (size_t i = 0; i < p->nsegs; i++) {
        seg_t *g = p->segs[i];
        if (seq && (seq < g->min_seq || seq > g->max_seq))
            continue;
        if (!segfilter_may_have(g->filter, g->filter_len, key))
            continue; /* certainly not there: no index load, no search */
        segidx_t *x = NULL;
        int rc = segidx_get(&s->cache, g, &x, err);
        if (rc)
            return rc;
        rc = segidx_find_id(&s->cache, x, id, len, NULL, err);
        segidx_put(&s->cache, x);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- manifest, HEAD --------------------------------------------------------- */

int write_manifest(tk_store_t *s, char *err)
{
    tk_buf_t b = TK_BUF_INIT;
    tk_buf_printf(&b, "trailkeep-store 1\nsealed_seq %" PRIu64 "\n", s->sealed_seq);
    if (s->dict) {
        char hex[65];
        tk_hex(s->dict->id, 32, hex);
        tk_buf_printf(&b, "dict %s\n", hex);
    }
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->ncons; i++)
        tk_buf_printf(&b, "consumer %s %" PRIu64 "\n", s->cons[i].name, s->cons[i].seq);
    pthread_mutex_unlock(&s->mu);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/MANIFEST", s->dir);
    int rc = b.p ? tk_fs_write_atomic(path, b.p, b.len, err) : tk_errf(err, TK_ENOMEM, "oom");
    tk_buf_free(&b);
    return rc;
}

static int read_manifest(tk_store_t *s, char *err)
{
    char path[PATH_MAX + 16], *data;
    size_t n;
    snprintf(path, sizeof path, "%s/MANIFEST", s->dir);
    if (!tk_fs_exists(path))
        return 0;
    int rc = tk_fs_read_all(path, &data, &n, err);
    if (rc)
        return rc;
    if (strncmp(data, "trailkeep-store 1\n", 18)) {
        free(data);
        return tk_errf(err, TK_ECORRUPT, "%s: not a trailkeep store manifest (version 1)", path);
    }
    char *save = NULL;
    for (char *line = strtok_r(data + 18, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[256];
        unsigned long long v;
        char hex[80];
        uint8_t id[32];
        if (sscanf(line, "sealed_seq %llu", &v) == 1) {
            s->sealed_seq = v;
        } else if (sscanf(line, "dict %79s", hex) == 1 && strlen(hex) == 64 && !tk_unhex(hex, 64, id)) {
            char e2[TK_ERRLEN];
            dict_free(s->dict);
            s->dict = NULL;
            if (dict_load(s->dir, id, &s->dict, e2))
                tk_log("trailkeep store: %s; new segments will train a new dictionary\n", e2);
        } else if (sscanf(line, "consumer %255s %llu", name, &v) == 2) {
            tk_store_log_retain(s, name, v);
        }
    }
    free(data);
    return 0;
}

int store_write_head(tk_store_t *s, const acct_t *a, char *err)
{
    char path[PATH_MAX + 128], hex[65], line[128];
    snprintf(path, sizeof path, "%s/seg/%s/HEAD", s->dir, a->name);
    tk_hex(a->head_hash, 32, hex);
    int n = snprintf(line, sizeof line, "%" PRIu64 " %s\n", a->head_index, hex);
    return tk_fs_write_atomic(path, line, (size_t)n, err);
}

/* Reads DIR/seg/<acct>/HEAD; missing file = empty chain. */
int store_read_head(const char *dir, const char *account, uint64_t *index, uint8_t hash[32]);
int store_read_head(const char *dir, const char *account, uint64_t *index, uint8_t hash[32])
{
    char path[PATH_MAX + 128], *data;
    size_t n;
    char err[TK_ERRLEN];
    *index = 0;
    memset(hash, 0, 32);
    snprintf(path, sizeof path, "%s/seg/%s/HEAD", dir, account);
    if (!tk_fs_exists(path))
        return 0;
    if (tk_fs_read_all(path, &data, &n, err))
        return TK_EIO;
    unsigned long long idx;
    char hex[65];
    int rc = 0;
    if (sscanf(data, "%llu %64s", &idx, hex) != 2 || strlen(hex) != 64 || tk_unhex(hex, 64, hash))
        rc = TK_ECORRUPT;
    else
        *index = idx;
    free(data);
    return rc;
}

/* ---- open: segments ---------------------------------------------------------- */

static int is_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return n > 0;
}

static int day_from_str(const char *s, int64_t *day)
{
    if (strlen(s) != 8 || !is_digits(s, 8))
        return 0;
    unsigned y = 0, m, d;
    for (int i = 0; i < 4; i++)
        y = y * 10 + (unsigned)(s[i] - '0');
    m = (unsigned)(s[4] - '0') * 10 + (unsigned)(s[5] - '0');
    d = (unsigned)(s[6] - '0') * 10 + (unsigned)(s[7] - '0');
    if (m < 1 || m > 12 || d < 1 || d > 31)
        return 0;
    *day = tk_days_from_civil(y, m, d);
    return 1;
}

static int load_segments(tk_store_t *s, char *err)
{
    char base[PATH_MAX + 8];
    snprintf(base, sizeof base, "%s/seg", s->dir);
    DIR *d = opendir(base);
    if (!d)
        return 0;
    struct dirent *ae;
    int rc = 0;
    while (!rc && (ae = readdir(d))) {
        if (!store_account_ok(ae->d_name, strlen(ae->d_name)))
            continue;
        char adir[PATH_MAX + 300];
        snprintf(adir, sizeof adir, "%s/%s", base, ae->d_name);
        DIR *ad = opendir(adir);
        if (!ad)
            continue;
        acct_t *a = acct_get(s, ae->d_name, strlen(ae->d_name));
        if (!a) {
            closedir(ad);
            rc = tk_errf(err, TK_ENOMEM, "out of memory");
            break;
        }
        struct dirent *de;
        while (!rc && (de = readdir(ad))) {
            int64_t day;
            if (!day_from_str(de->d_name, &day))
                continue;
            char ddir[PATH_MAX + 600];
            snprintf(ddir, sizeof ddir, "%s/%s", adir, de->d_name);
            DIR *dd = opendir(ddir);
            if (!dd)
                continue;
            struct dirent *fe;
            while (!rc && (fe = readdir(dd))) {
                size_t l = strlen(fe->d_name);
                char fpath[PATH_MAX + 900];
                snprintf(fpath, sizeof fpath, "%s/%s", ddir, fe->d_name);
                if (l > 4 && !strcmp(fe->d_name + l - 4, ".tmp")) {
                    if (!s->opts.read_only)
                        unlink(fpath); /* an interrupted seal: its events are still in the WAL */
                    continue;
                }
                if (l != 14 || strcmp(fe->d_name + 10, ".seg") || !is_digits(fe->d_name, 10))
                    continue;
                seg_t *g = NULL;
                char e2[TK_ERRLEN];
                if (seg_load(fpath, &g, e2))
                    continue; /* unreadable: verify reports it */
                if (strcmp(g->account, a->name) || g->day != day) {
                    seg_free(g); /* not where its footer says it belongs: verify reports it */
                    continue;
                }
                g->uid = ++s->seg_uid;
                part_t *p = part_get(a, day);
                if (!p || part_add_seg(p, g)) {
                    seg_free(g);
                    rc = tk_errf(err, TK_ENOMEM, "out of memory");
                    break;
                }
                s->sealed_events += g->nevents;
                s->seg_count++;
                s->seg_bytes += g->file_bytes;
            }
            closedir(dd);
        }
        closedir(ad);
        if (rc)
            break;
        /* chain head: the HEAD file, advanced over segments a crash left unrecorded */
        uint64_t hi;
        uint8_t hh[32];
        store_read_head(s->dir, a->name, &hi, hh);
        uint64_t orig = hi;
        for (int advanced = 1; advanced;) {
            advanced = 0;
            for (size_t i = 0; i < a->nparts && !advanced; i++)
                for (size_t j = 0; j < a->parts[i]->nsegs; j++) {
                    seg_t *g = a->parts[i]->segs[j];
                    if (g->chain == hi + 1 && !memcmp(g->prev, hh, 32)) {
                        hi = g->chain;
                        memcpy(hh, g->hash, 32);
                        advanced = 1;
                        break;
                    }
                }
        }
        a->head_index = hi;
        memcpy(a->head_hash, hh, 32);
        if (hi != orig && !s->opts.read_only)
            rc = store_write_head(s, a, err);
        /* a segment past the head that does not link on is not served: if a
         * crashed seal left it, its events are still in the WAL; if someone put
         * it there, verify reports it. A later seal reuses its name. */
        for (size_t i = 0; i < a->nparts; i++) {
            part_t *p = a->parts[i];
            for (size_t j = 0; j < p->nsegs;) {
                seg_t *g = p->segs[j];
                if (g->chain <= hi) {
                    j++;
                    continue;
                }
                tk_log("trailkeep store: not serving %s: it does not extend the chain "
                        "(head %" PRIu64 "); run trailkeep verify\n", g->path, hi);
                s->sealed_events -= g->nevents;
                s->seg_count--;
                s->seg_bytes -= g->file_bytes;
                p->sealed_events -= g->nevents;
                memmove(p->segs + j, p->segs + j + 1, (p->nsegs - j - 1) * sizeof *p->segs);
                p->nsegs--;
                seg_free(g);
            }
        }
        /* a compaction that crashed before deleting what it replaced */
        for (size_t i = 0; i < a->nparts && !rc; i++) {
            part_t *p = a->parts[i];
            for (size_t j = 0; j < p->nsegs && !rc; j++) {
                if (!p->segs[j]->sec[SEC_REPLACES].rawlen)
                    continue;
                uint64_t *ri;
                uint8_t(*rh)[32];
                size_t rn;
                char e2[TK_ERRLEN];
                if (seg_read_replaces(p->segs[j], &ri, &rh, &rn, e2))
                    continue; /* verify reports the damage */
                for (size_t r = 0; r < rn; r++)
                    for (size_t k = 0; k < p->nsegs; k++) {
                        seg_t *g = p->segs[k];
                        if (g->chain != ri[r] || memcmp(g->hash, rh[r], 32))
                            continue;
                        if (!s->opts.read_only)
                            unlink(g->path);
                        s->sealed_events -= g->nevents;
                        s->seg_count--;
                        s->seg_bytes -= g->file_bytes;
                        p->sealed_events -= g->nevents;
                        memmove(p->segs + k, p->segs + k + 1, (p->nsegs - k - 1) * sizeof *p->segs);
                        p->nsegs--;
                        if (k < j)
                            j--;
                        seg_free(g);
                        break;
                    }
                free(ri);
                free(rh);
            }
        }
    }
    closedir(d);
    return rc;
}

/* ---- open: WAL replay ---------------------------------------------------------- */

static int replay_apply(void *ud, uint64_t seq, const uint8_t *payload, size_t n)
{
    tk_store_t *s = ud;
    if (seq <= s->sealed_seq)
        return 0;
    mev_t *m;
    tk_str_t acct;
    int rc = wal_decode(payload, n, seq, &m, &acct);
    if (rc)
        return rc;
    /* what append would refuse is not replayed either (a record that passed
     * its frame checksum but is damaged): an account that cannot name a
     * directory, a time outside the storable range, an empty or overlong
     * eventId, an oversized event */
    if (!store_account_ok(acct.p, acct.len) || m->time_ms < 0 || m->time_ms > TK_TIME_MAX_MS ||
        !m->idlen || m->idlen > 1024 || m->jsonlen > TK_EVENT_MAX_BYTES) {
        free(m);
        return TK_ECORRUPT;
    }
    int64_t day = tk_time_day(m->time_ms);
    acct_t *a = acct_get(s, acct.p, acct.len);
    part_t *p = a ? part_get(a, day) : NULL;
    if (!p) {
        free(m);
        return TK_ENOMEM;
    }
    char err[TK_ERRLEN];
    /* a seal that crashed before its manifest update left this event in a segment too */
    int dup = pset_find(p, m->id, m->idlen, m->idhash) != NULL;
    if (!dup)
        dup = part_sealed_has(s, p, m->id, m->idlen, seq, err);
    if (dup < 0) {
        free(m);
        return dup;
    }
    if (dup) {
        free(m);
        return 0;
    }
    if ((rc = part_add(p, m))) {
        free(m);
        return rc;
    }
    s->unsealed_bytes += m->jsonlen;
    s->unsealed_events++;
    return 0;
}

/* The sealing thread: seals whenever an append finds seal_bytes unsealed,
 * so big imports and busy ingest keep appending while a seal compresses. */
static void *sealer_main(void *arg)
{
    tk_store_t *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->closing) {
        if (!s->seal_wanted) {
            pthread_cond_wait(&s->seal_cv, &s->mu);
            continue;
        }
        s->seal_wanted = 0;
        pthread_mutex_unlock(&s->mu);
        pthread_mutex_lock(&s->seal_mu);
        pthread_rwlock_rdlock(&s->state);
        int due = s->unsealed_bytes - s->frozen_bytes >= s->seal_bytes;
        pthread_rwlock_unlock(&s->state);
        char err[TK_ERRLEN];
        if (due && store_seal_locked(s, err))
            tk_log("trailkeep store: automatic seal failed (will retry): %s\n", err);
        pthread_mutex_unlock(&s->seal_mu);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int tk_store_open(const tk_store_opts_t *opts, tk_store_t **out, char *err)
{
    *out = NULL;
    if (!opts || !opts->dir || !*opts->dir)
        return tk_errf(err, TK_EINVAL, "store directory not set");
    tk_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    if (snprintf(s->dir, sizeof s->dir, "%s", opts->dir) >= (int)sizeof s->dir - 64) {
        free(s);
        return tk_errf(err, TK_EINVAL, "store directory path too long");
    }
    s->opts = *opts;
    s->opts.dir = s->dir;
    s->lockfd = -1;
    s->seal_bytes = opts->seal_bytes ? opts->seal_bytes : DEFAULT_SEAL_BYTES;
    s->dict_min = opts->dict_min_bytes ? opts->dict_min_bytes : DICT_MIN_SAMPLE;
    pthread_rwlock_init(&s->state, NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->seal_mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_cond_init(&s->seal_cv, NULL);
    segcache_init(&s->cache, s->dir, CACHE_IDX_BYTES, CACHE_BLK_BYTES);
    s->wal.fd = -1;
    int rc = 0;
    int wal_opened = 0;
    if (!opts->read_only) {
        char path[PATH_MAX + 16];
        if ((rc = tk_fs_mkdirs_private(s->dir, err)))
            goto fail;
        snprintf(path, sizeof path, "%s/seg", s->dir);
        if ((rc = tk_fs_mkdirs_private(path, err)))
            goto fail;
        snprintf(path, sizeof path, "%s/LOCK", s->dir);
        s->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (s->lockfd < 0) {
            rc = tk_errf(err, tk_from_errno(errno), "cannot open %s: %s", path, strerror(errno));
            goto fail;
        }
        if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
            rc = tk_errf(err, TK_EBUSY,
                         "store %s is in use by another trailkeep process (lock %s); stop it or "
                         "open read-only",
                         s->dir, path);
            goto fail;
        }
    } else if (!tk_fs_exists(s->dir)) {
        rc = tk_errf(err, TK_ENOTFOUND, "store directory %s does not exist", s->dir);
        goto fail;
    }
    if ((rc = read_manifest(s, err)) || (rc = load_segments(s, err)))
        goto fail;
    uint64_t last = 0;
    rc = wal_open(&s->wal, s->dir, opts->read_only, opts->no_fsync, replay_apply, s, &last,
                  &s->cut_bytes, s->cutmsg, err);
    wal_opened = 1;
    if (rc)
        goto fail;
    /* a read-only opener racing the writer sees its last frame half-written:
     * that is not damage, so only the writer reports a cut */
    if (s->cut_bytes && !opts->read_only)
        tk_log("trailkeep store: WAL recovery: %s\n", s->cutmsg);
    s->last_seq = last > s->sealed_seq ? last : s->sealed_seq;
    s->next_seq = s->last_seq + 1;
    if (!opts->read_only) {
        if (pthread_create(&s->sealer, NULL, sealer_main, s) != 0) {
            rc = tk_errf(err, TK_ENOMEM, "cannot start the sealing thread");
            goto fail;
        }
        s->has_sealer = 1;
    }
    *out = s;
    return 0;
fail:
    if (!wal_opened)
        pthread_mutex_init(&s->wal.mu, NULL);
    tk_store_close(s);
    return rc;
}

void tk_store_close(tk_store_t *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->closing = 1;
    /* appends already inside finish (and are durable) before memory goes */
    while (s->leader || s->active)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_cond_broadcast(&s->seal_cv); /* a seal under way completes first */
    pthread_mutex_unlock(&s->mu);
    if (s->has_sealer)
        pthread_join(s->sealer, NULL);
    for (size_t i = 0; i < s->naccts; i++) {
        acct_t *a = s->accts[i];
        for (size_t j = 0; j < a->nparts; j++)
            part_free(a->parts[j], &s->cache);
        free(a->parts);
        free(a->name);
        free(a);
    }
    free(s->accts);
    for (size_t i = 0; i < s->ncons; i++)
        free(s->cons[i].name);
    free(s->cons);
    segcache_destroy(&s->cache);
    dict_free(s->dict);
    wal_close(&s->wal);
    tk_buf_free(&s->grpbuf);
    if (s->lockfd >= 0)
        close(s->lockfd);
    pthread_rwlock_destroy(&s->state);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->seal_mu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->seal_cv);
    free(s);
}

/* ---- writer role ------------------------------------------------------------------- */

void store_lead_begin(tk_store_t *s)
{
    pthread_mutex_lock(&s->mu);
    while (s->leader)
        pthread_cond_wait(&s->cv, &s->mu);
    s->leader = 1;
    pthread_mutex_unlock(&s->mu);
}

void store_lead_end(tk_store_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->leader = 0;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void tk_store_test_fail_next_write(tk_store_t *s, int e) { s->wal.fail_next_errno = e; }

/* ---- append --------------------------------------------------------------------- */

typedef struct pend {
    mev_t *m;
    acct_t *a;         /* may be NULL: account created at publish */
    const char *acct;
    uint32_t acctlen;
    int64_t day;
} pend_t;

typedef struct gset {
    pend_t **slot;
    size_t cap;
} gset_t;

static uint64_t pend_key(const pend_t *p)
{
    return p->m->idhash ^ tk_hash64(p->acct, p->acctlen) ^ (uint64_t)p->day * 0x9E3779B97F4A7C15ull;
}

static int gset_has_or_add(gset_t *g, pend_t *p)
{
    uint64_t h = pend_key(p);
    for (size_t i = h & (g->cap - 1);; i = (i + 1) & (g->cap - 1)) {
        pend_t *q = g->slot[i];
        if (!q) {
            g->slot[i] = p;
            return 0;
        }
        if (q->day == p->day && q->m->idlen == p->m->idlen && q->acctlen == p->acctlen &&
            !memcmp(q->m->id, p->m->id, p->m->idlen) && !memcmp(q->acct, p->acct, p->acctlen))
            return 1;
    }
}

static int validate(const tk_event_t *ev, size_t n, char *err)
{
    for (size_t i = 0; i < n; i++) {
        const tk_event_t *e = &ev[i];
        if (!store_account_ok(e->account.p, e->account.len))
            return tk_errf(err, TK_EINVAL,
                           "event %zu: account '%.*s' is not 1-64 characters of [A-Za-z0-9._-]", i,
                           (int)(e->account.len > 80 ? 80 : e->account.len),
                           e->account.p ? e->account.p : "");
        if (!e->event_id.len || e->event_id.len > 1024)
            return tk_errf(err, TK_EINVAL, "event %zu: eventId must be 1-1024 bytes", i);
        if (!e->json.p || e->json.len > TK_EVENT_MAX_BYTES)
            return tk_errf(err, TK_ETOOBIG, "event %zu: JSON missing or over %d bytes", i,
                           TK_EVENT_MAX_BYTES);
        int64_t day = tk_time_day(e->time_ms);
        if (day < 0 || day >= MAX_DAY)
            return tk_errf(err, TK_EINVAL, "event %zu: eventTime outside 1970..9999", i);
    }
    return 0;
}

/* Runs one group as leader: dedup, assign seqs, one WAL write + fsync,
 * publish. Every request of the group gets the same fate on WAL failure. */
static void run_group(tk_store_t *s, areq_t *grp, wal_ticket_t *tk)
{
    size_t total = 0;
    for (areq_t *r = grp; r; r = r->next)
        total += r->n;
    pend_t *pend = calloc(total ? total : 1, sizeof *pend);
    size_t cap = 16;
    while (cap < total * 2)
        cap *= 2;
    gset_t g = {calloc(cap, sizeof(pend_t *)), cap};
    tk_buf_t buf = s->grpbuf;
    tk_buf_reset(&buf);
    uint64_t first = s->next_seq, seq = first;
    size_t np = 0;
    int rc = 0;
    char err[TK_ERRLEN] = "";
    if (!pend || !g.slot)
        rc = tk_errf(err, TK_ENOMEM, "out of memory");
    /* a seal or compaction may change segment lists meanwhile: read under the lock */
    pthread_rwlock_rdlock(&s->state);
    for (areq_t *r = grp; r && !rc; r = r->next) {
        r->accepted = r->dups = 0;
        for (size_t i = 0; i < r->n && !rc; i++) {
            const tk_event_t *e = &r->ev[i];
            pend_t *p = &pend[np];
            p->acct = e->account.p;
            p->acctlen = e->account.len;
            p->day = tk_time_day(e->time_ms);
            p->a = store_acct_find(s, e->account.p, e->account.len);
            int dup = 0;
            if (p->a) {
                part_t *pt = acct_part_find(p->a, p->day);
                if (pt) {
                    uint64_t h = tk_hash64(e->event_id.p, e->event_id.len);
                    dup = pset_find(pt, e->event_id.p, e->event_id.len, h) != NULL;
                    if (!dup)
                        dup = part_sealed_has(s, pt, e->event_id.p, e->event_id.len, 0, err);
                    if (dup < 0) {
                        rc = dup;
                        break;
                    }
                }
            }
            if (!dup) {
                if (!(p->m = mev_from_event(e, seq))) {
                    rc = tk_errf(err, TK_ENOMEM, "out of memory");
                    break;
                }
                dup = gset_has_or_add(&g, p);
                if (dup) {
                    free(p->m);
                    p->m = NULL;
                }
            }
            if (r->status)
                r->status[i] = (uint8_t)dup;
            if (dup) {
                r->dups++;
                continue;
            }
            if (wal_encode_rec(&buf, p->acct, p->acctlen, p->m)) {
                free(p->m);
                p->m = NULL;
                rc = tk_errf(err, TK_ENOMEM, "out of memory");
                break;
            }
            r->accepted++;
            r->last_seq = seq;
            seq++;
            np++;
        }
    }
    pthread_rwlock_unlock(&s->state);
    if (!rc && np)
        rc = wal_write_group(&s->wal, buf.p, buf.len, first, (uint32_t)np, tk, err);
    if (!rc && np) {
        pthread_rwlock_wrlock(&s->state);
        for (size_t i = 0; i < np && !rc; i++) {
            pend_t *p = &pend[i];
            acct_t *a = p->a ? p->a : acct_get(s, p->acct, p->acctlen);
            part_t *pt = a ? part_get(a, p->day) : NULL;
            if (!pt || part_add(pt, p->m)) {
                /* durable but not indexed in memory: a reopen replays it */
                rc = tk_errf(err, TK_ENOMEM, "out of memory publishing events; restart to recover");
                break;
            }
            s->unsealed_bytes += p->m->jsonlen;
            s->unsealed_events++;
            p->m = NULL;
        }
        s->last_seq = seq - 1;
        s->next_seq = seq;
        s->seal_due = s->unsealed_bytes - s->frozen_bytes >= s->seal_bytes;
        pthread_rwlock_unlock(&s->state);
    }
    for (size_t i = 0; i < np; i++)
        free(pend[i].m);
    if (rc && !(s->last_seq == seq - 1 && np))
        s->next_seq = first; /* nothing written: hand the seqs back */
    for (areq_t *r = grp; r; r = r->next) {
        r->rc = rc;
        if (rc) {
            snprintf(r->err, sizeof r->err, "%s", err);
            r->accepted = 0;
            r->last_seq = 0;
        } else if (!r->accepted) {
            r->last_seq = 0;
        }
    }
    if (buf.cap > GRPBUF_KEEP)
        tk_buf_free(&buf);
    s->grpbuf = buf;
    free(g.slot);
    free(pend);
}

int tk_store_append(tk_store_t *s, const tk_event_t *ev, size_t n, tk_append_result_t *res,
                    uint8_t *status, char *err)
{
    if (res)
        memset(res, 0, sizeof *res);
    if (s->opts.read_only)
        return tk_errf(err, TK_EPERM, "store %s is open read-only", s->dir);
    int rc = validate(ev, n, err);
    if (rc)
        return rc;
    if (n == 0)
        return 0;
    areq_t req = {.ev = ev, .n = n, .status = status};
    int seal_now = 0;
    pthread_mutex_lock(&s->mu);
    if (s->closing) {
        pthread_mutex_unlock(&s->mu);
        return tk_errf(err, TK_ECLOSED, "store is closing");
    }
    s->active++;
    if (s->qtail)
        s->qtail->next = &req;
    else
        s->qhead = &req;
    s->qtail = &req;
    while (!req.done) {
        if (!s->leader && s->qhead) {
            /* become the leader: take everything queued so far as one group (our
             * own request may already be in a group that is syncing: then wait) */
            s->leader = 1;
            areq_t *grp = s->qhead;
            s->qhead = s->qtail = NULL;
            pthread_mutex_unlock(&s->mu);
            wal_ticket_t tk = {.fd = -1};
            run_group(s, grp, &tk);
            seal_now = s->seal_due;
            /* hand the writer role on before the fsync: the next group is built
             * and written while this one syncs (its requests wait for their own) */
            pthread_mutex_lock(&s->mu);
            s->leader = 0;
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->mu);
            char e2[TK_ERRLEN] = "";
            int src = grp->rc ? 0 : wal_sync_group(&s->wal, &tk, e2);
            pthread_mutex_lock(&s->mu);
            for (areq_t *r = grp, *nx; r; r = nx) {
                nx = r->next;
                if (src) {
                    /* published in memory but not durable: the store now refuses
                     * writes (w->failed) until a restart replays what is on disk */
                    r->rc = src;
                    r->accepted = r->dups = 0;
                    r->last_seq = 0;
                    snprintf(r->err, sizeof r->err, "%s", e2);
                }
                r->done = 1;
            }
            pthread_cond_broadcast(&s->cv);
        } else {
            pthread_cond_wait(&s->cv, &s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
    /* automatic seals run on the sealing thread, beside appends. When it falls
     * a seal behind, an appender waits for the running seal to finish
     * (memory stays bounded: ingest is throttled to what sealing sustains) */
    if (seal_now && !req.rc) {
        pthread_rwlock_rdlock(&s->state);
        uint64_t live = s->unsealed_bytes - s->frozen_bytes;
        pthread_rwlock_unlock(&s->state);
        if (live >= 2 * s->seal_bytes) {
            pthread_mutex_lock(&s->seal_mu);
            pthread_mutex_unlock(&s->seal_mu);
        }
        pthread_mutex_lock(&s->mu);
        s->seal_wanted = 1;
        pthread_cond_signal(&s->seal_cv);
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_lock(&s->mu);
    if (--s->active == 0 && s->closing)
        pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (res) {
        res->accepted = req.rc ? 0 : req.accepted;
        res->duplicates = req.rc ? 0 : req.dups;
        res->last_seq = req.last_seq;
    }
    if (req.rc && err)
        snprintf(err, TK_ERRLEN, "%s", req.err);
    return req.rc;
}

/* ---- log ---------------------------------------------------------------------------- */

uint64_t tk_store_last_seq(tk_store_t *s)
{
    pthread_rwlock_rdlock(&s->state);
    uint64_t v = s->last_seq;
    pthread_rwlock_unlock(&s->state);
    return v;
}

void tk_store_log_retain(tk_store_t *s, const char *consumer, uint64_t min_seq)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->ncons; i++)
        if (!strcmp(s->cons[i].name, consumer)) {
            s->cons[i].seq = min_seq;
            pthread_mutex_unlock(&s->mu);
            return;
        }
    struct consumer *nc = realloc(s->cons, (s->ncons + 1) * sizeof *nc);
    char *name = strdup(consumer);
    if (nc)
        s->cons = nc;
    if (nc && name && !strchr(name, ' ') && !strchr(name, '\n')) {
        s->cons[s->ncons].name = name;
        s->cons[s->ncons].seq = min_seq;
        s->ncons++;
    } else {
        free(name);
    }
    pthread_mutex_unlock(&s->mu);
}

int tk_store_log_read(tk_store_t *s, uint64_t from_seq, size_t max, tk_event_cb cb, void *ud,
                      char *err)
{
    if (from_seq == 0)
        from_seq = 1;
    uint64_t last = tk_store_last_seq(s);
    if (from_seq > last)
        return 0;
    pthread_mutex_lock(&s->wal.mu);
    uint64_t oldest = s->wal.nfiles ? s->wal.files[0].first_seq : last + 1;
    pthread_mutex_unlock(&s->wal.mu);
    if (from_seq < oldest)
        return tk_errf(err, TK_ENOTFOUND,
                       "log position %" PRIu64 " was already trimmed (oldest kept: %" PRIu64
                       "); register the consumer with tk_store_log_retain so seals keep its log",
                       from_seq, oldest);
    size_t got;
    return wal_read(&s->wal, from_seq, max, cb, ud, &got, err);
}

/* ---- accounts, stats ------------------------------------------------------------------ */

int tk_store_accounts(tk_store_t *s, char ***out, size_t *n, char *err)
{
    pthread_rwlock_rdlock(&s->state);
    char **v = calloc(s->naccts ? s->naccts : 1, sizeof *v);
    size_t k = 0;
    int rc = v ? 0 : TK_ENOMEM;
    for (size_t i = 0; i < s->naccts && !rc; i++) {
        acct_t *a = s->accts[i];
        int any = 0;
        for (size_t j = 0; j < a->nparts && !any; j++)
            any = a->parts[j]->nev || a->parts[j]->nfz || a->parts[j]->nsegs;
        if (!any)
            continue;
        if (!(v[k++] = strdup(a->name)))
            rc = TK_ENOMEM;
    }
    pthread_rwlock_unlock(&s->state);
    if (rc) {
        for (size_t i = 0; i < k; i++)
            free(v ? v[i] : NULL);
        free(v);
        return tk_errf(err, rc, "out of memory");
    }
    *out = v;
    *n = k;
    return 0;
}

void tk_store_stats(tk_store_t *s, tk_store_stats_t *st)
{
    pthread_rwlock_rdlock(&s->state);
    st->events = s->sealed_events + s->unsealed_events;
    st->unsealed_events = s->unsealed_events;
    st->segments = s->seg_count;
    st->wal_bytes = wal_bytes(&s->wal);
    st->disk_bytes = s->seg_bytes + st->wal_bytes;
    pthread_rwlock_unlock(&s->state);
}

int tk_store_account_counts(tk_store_t *s, void (*cb)(void *ud, const char *account, uint64_t n),
                            void *ud)
{
    char **names;
    size_t n;
    char err[TK_ERRLEN];
    int rc = tk_store_accounts(s, &names, &n, err);
    if (rc)
        return rc;
    uint64_t *counts = calloc(n ? n : 1, sizeof *counts);
    pthread_rwlock_rdlock(&s->state);
    for (size_t i = 0; i < n && counts; i++) {
        acct_t *a = store_acct_find(s, names[i], strlen(names[i]));
        for (size_t j = 0; a && j < a->nparts; j++)
            counts[i] += a->parts[j]->nev + a->parts[j]->nfz + a->parts[j]->sealed_events;
    }
    pthread_rwlock_unlock(&s->state);
    for (size_t i = 0; i < n; i++) {
        if (counts)
            cb(ud, names[i], counts[i]);
        free(names[i]);
    }
    free(names);
    free(counts);
    return counts ? 0 : TK_ENOMEM;
}

uint64_t tk_store_recovered_cut(tk_store_t *s, const char **msg)
{
    if (msg)
        *msg = s->cutmsg;
    return s->cut_bytes;
}

/* trailkeep store: retention (tk_store_purge) and integrity (tk_store_verify).
 * Purge deletes whole (account, day) partitions whose day ended at least
 * `days` ago, after recording every removed segment's chain index and hash in
 * the account's ANCHOR file, so the remaining chain still verifies.
 * Verify reads the files on disk (not the in-memory view): it recomputes each
 * segment's SHA-256 and walks the chain from genesis/anchor to HEAD. */
#define _GNU_SOURCE
#include "store/store_internal.h"

#include "base/buf.h"
#include "base/fs.h"
#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int store_read_head(const char *dir, const char *account, uint64_t *index, uint8_t hash[32]);

/* ---- anchor -------------------------------------------------------------------- */

typedef struct gone {
    uint64_t index;
    uint8_t hash[32];
} gone_t;

typedef struct anchor {
    uint64_t upto;        /* 1..upto purged */
    uint8_t upto_hash[32];
    gone_t *g;            /* other purged indexes, sorted */
    size_t n, cap;
} anchor_t;

static int anchor_add(anchor_t *an, uint64_t index, const uint8_t hash[32])
{
    if (index <= an->upto)
        return 0;
    size_t at = 0;
    while (at < an->n && an->g[at].index < index)
        at++;
    if (at < an->n && an->g[at].index == index)
        return 0;
    if (an->n == an->cap) {
        size_t nc = an->cap ? an->cap * 2 : 16;
        gone_t *ng = realloc(an->g, nc * sizeof *ng);
        if (!ng)
            return TK_ENOMEM;
        an->g = ng;
        an->cap = nc;
    }
    memmove(an->g + at + 1, an->g + at, (an->n - at) * sizeof *an->g);
    an->g[at].index = index;
    memcpy(an->g[at].hash, hash, 32);
    an->n++;
    /* fold a contiguous run into the prefix */
    while (an->n && an->g[0].index == an->upto + 1) {
        an->upto = an->g[0].index;
        memcpy(an->upto_hash, an->g[0].hash, 32);
        memmove(an->g, an->g + 1, (an->n - 1) * sizeof *an->g);
        an->n--;
    }
    return 0;
}

static const uint8_t PURGED_NOHASH[32];

/* The purged hash of index i, PURGED_NOHASH when it was purged inside the
 * folded prefix (only the prefix end's hash is kept), or NULL. */
static const uint8_t *anchor_hash(const anchor_t *an, uint64_t i)
{
    if (i && i == an->upto)
        return an->upto_hash;
    if (i && i < an->upto)
        return PURGED_NOHASH;
    for (size_t k = 0; k < an->n; k++)
        if (an->g[k].index == i)
            return an->g[k].hash;
    return NULL;
}

static int anchor_read(const char *dir, const char *account, anchor_t *an)
{
    memset(an, 0, sizeof *an);
    char path[PATH_MAX + 128], *data, err[TK_ERRLEN];
    size_t n;
    snprintf(path, sizeof path, "%s/seg/%s/ANCHOR", dir, account);
    if (!tk_fs_exists(path))
        return 0;
    if (tk_fs_read_all(path, &data, &n, err))
        return TK_EIO;
    char *save = NULL;
    int rc = 0;
    for (char *line = strtok_r(data, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
        char kind[8], hex[65];
        unsigned long long idx;
        uint8_t h[32];
        if (sscanf(line, "%7s %llu %64s", kind, &idx, hex) != 3 || strlen(hex) != 64 ||
            tk_unhex(hex, 64, h)) {
            rc = TK_ECORRUPT;
            break;
        }
        if (!strcmp(kind, "upto") && idx >= an->upto) {
            an->upto = idx;
            memcpy(an->upto_hash, h, 32);
        } else if (!strcmp(kind, "gone")) {
            rc = anchor_add(an, idx, h);
        }
    }
    free(data);
    return rc;
}

static int anchor_write(const char *dir, const char *account, const anchor_t *an, char *err)
{
    tk_buf_t b = TK_BUF_INIT;
    char hex[65];
    if (an->upto) {
        tk_hex(an->upto_hash, 32, hex);
        tk_buf_printf(&b, "upto %" PRIu64 " %s\n", an->upto, hex);
    }
    for (size_t i = 0; i < an->n; i++) {
        tk_hex(an->g[i].hash, 32, hex);
        tk_buf_printf(&b, "gone %" PRIu64 " %s\n", an->g[i].index, hex);
    }
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/seg/%s/ANCHOR", dir, account);
    int rc = tk_fs_write_atomic(path, b.p ? b.p : "", b.len, err);
    tk_buf_free(&b);
    return rc;
}

/* ---- purge ------------------------------------------------------------------------- */

static int days_for(const tk_retention_t *ret, const char *account)
{
    int d = ret && ret->default_days > 0 ? ret->default_days : 90;
    for (size_t i = 0; ret && i < ret->noverrides; i++)
        if (ret->overrides[i].account && !strcmp(ret->overrides[i].account, account) &&
            ret->overrides[i].days > 0)
            d = ret->overrides[i].days;
    return d;
}

static int expired(int64_t day, int64_t now_ms, int days)
{
    return (day + 1) * TK_MS_PER_DAY <= now_ms - (int64_t)days * TK_MS_PER_DAY;
}

int tk_store_purge(tk_store_t *s, int64_t now_ms, const tk_retention_t *ret, int dry_run,
                   tk_purge_report_t *rep, void (*line_cb)(void *ud, const char *line), void *ud,
                   char *err)
{
    tk_purge_report_t r = {0};
    if (rep)
        *rep = r;
    if (s->opts.read_only && !dry_run)
        return tk_errf(err, TK_EPERM, "store %s is open read-only; purge needs a writer", s->dir);
    int own = !s->opts.read_only;
    if (own)
        pthread_mutex_lock(&s->seal_mu);
    int rc = 0, need_seal = 0;
    for (size_t ai = 0; ai < s->naccts; ai++) {
        acct_t *a = s->accts[ai];
        int days = days_for(ret, a->name);
        for (size_t pi = 0; pi < a->nparts; pi++)
            if (a->parts[pi]->nev && expired(a->parts[pi]->day, now_ms, days))
                need_seal = 1;
    }
    /* expired events still in the WAL are sealed first so deleting files removes them for good */
    if (need_seal && !dry_run)
        rc = store_seal_locked(s, err);
    if (own)
        store_lead_begin(s); /* partitions go away: no append may hold one meanwhile */
    for (size_t ai = 0; ai < s->naccts && !rc; ai++) {
        acct_t *a = s->accts[ai];
        int days = days_for(ret, a->name);
        anchor_t an;
        int have_anchor = 0;
        for (size_t pi = 0; pi < a->nparts && !rc;) {
            part_t *p = a->parts[pi];
            if (!expired(p->day, now_ms, days)) {
                pi++;
                continue;
            }
            uint64_t bytes = 0, events = p->nev;
            size_t nsegs = p->nsegs;
            for (size_t k = 0; k < p->nsegs; k++) {
                bytes += p->segs[k]->file_bytes;
                events += p->segs[k]->nevents;
            }
            char day[9], line[256];
            tk_time_day_str(p->day, day);
            snprintf(line, sizeof line,
                     "%s account %s day %.4s-%.2s-%.2s: %zu segments, %" PRIu64 " events, %" PRIu64
                     " bytes",
                     dry_run ? "would remove" : "removed", a->name, day, day + 4, day + 6, p->nsegs,
                     events, bytes);
            if (dry_run) {
                r.days_removed++;
                r.segments_removed += p->nsegs;
                r.bytes_removed += bytes;
                r.events_removed += events;
                if (line_cb)
                    line_cb(ud, line);
                pi++;
                continue;
            }
            if (!have_anchor) {
                if (anchor_read(s->dir, a->name, &an)) {
                    rc = tk_errf(err, TK_ECORRUPT, "ANCHOR file of account %s is unreadable",
                                 a->name);
                    break;
                }
                have_anchor = 1;
            }
            for (size_t k = 0; k < p->nsegs && !rc; k++) {
                rc = anchor_add(&an, p->segs[k]->chain, p->segs[k]->hash);
                /* what a compacted segment replaced leaves the chain with it */
                uint64_t *ri;
                uint8_t(*rh)[32];
                size_t rn;
                if (!rc && !(rc = seg_read_replaces(p->segs[k], &ri, &rh, &rn, err))) {
                    for (size_t r = 0; r < rn && !rc; r++)
                        rc = anchor_add(&an, ri[r], rh[r]);
                    free(ri);
                    free(rh);
                }
            }
            /* the anchor is durable before any file goes, so verify never sees an unexplained gap */
            if (rc || (rc = anchor_write(s->dir, a->name, &an, err)))
                break;
            pthread_rwlock_wrlock(&s->state);
            for (size_t k = 0; k < p->nsegs; k++) {
                unlink(p->segs[k]->path);
                s->seg_count--;
                s->seg_bytes -= p->segs[k]->file_bytes;
                s->sealed_events -= p->segs[k]->nevents;
            }
            s->unsealed_bytes -= p->unsealed_bytes;
            s->unsealed_events -= p->nev;
            memmove(a->parts + pi, a->parts + pi + 1, (a->nparts - pi - 1) * sizeof *a->parts);
            a->nparts--;
            pthread_rwlock_unlock(&s->state);
            char ddir[PATH_MAX + 100];
            snprintf(ddir, sizeof ddir, "%s/seg/%s/%s", s->dir, a->name, day);
            rmdir(ddir);
            tk_fs_sync_dir(ddir);
            for (size_t k = 0; k < p->nsegs; k++) {
                segcache_forget(&s->cache, p->segs[k]);
                seg_free(p->segs[k]);
            }
            p->nsegs = 0;
            free(p->segs);
            for (size_t k = 0; k < p->nev; k++)
                free(p->ev[k]);
            free(p->ev);
            free(p->set);
            free(p->fz); /* empty: purge holds seal_mu, so no seal has frozen events */
            free(p->fzset);
            free(p);
            r.days_removed++;
            r.segments_removed += nsegs;
            r.bytes_removed += bytes;
            r.events_removed += events;
            if (line_cb)
                line_cb(ud, line);
        }
        if (have_anchor)
            free(an.g);
    }
    if (own) {
        store_lead_end(s);
        pthread_mutex_unlock(&s->seal_mu);
    }
    if (rep)
        *rep = r;
    return rc;
}

/* ---- verify ------------------------------------------------------------------------- */

typedef struct vfile {
    char *path;
    uint64_t name_index;
    int64_t dir_day;
    seg_t *g;             /* NULL when the footer is unreadable */
    int modified;
    int placed;           /* footer agrees with the file's name, day dir and account */
    int reported;
} vfile_t;

typedef struct vctx {
    void (*cb)(void *ud, const tk_verify_item_t *it);
    void *ud;
    tk_verify_summary_t *sum;
    const char *account;
} vctx_t;

static void report(vctx_t *v, const char *path, tk_verify_status_t st, const char *detail)
{
    v->sum->problems++;
    if (v->cb) {
        tk_verify_item_t it = {v->account, path, st, detail};
        v->cb(v->ud, &it);
    }
}

static int vfile_cmp(const void *a, const void *b)
{
    const vfile_t *x = a, *y = b;
    if (x->name_index != y->name_index)
        return x->name_index < y->name_index ? -1 : 1;
    return strcmp(x->path, y->path);
}

static int parse_day(const char *s, int64_t *day)
{
    if (strlen(s) != 8)
        return 0;
    for (int i = 0; i < 8; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    unsigned y = 0;
    for (int i = 0; i < 4; i++)
        y = y * 10 + (unsigned)(s[i] - '0');
    unsigned m = (unsigned)(s[4] - '0') * 10 + (unsigned)(s[5] - '0');
    unsigned d = (unsigned)(s[6] - '0') * 10 + (unsigned)(s[7] - '0');
    if (m < 1 || m > 12 || d < 1 || d > 31)
        return 0;
    *day = tk_days_from_civil(y, m, d);
    return 1;
}

static int verify_account(const char *dir, const char *account, vctx_t *v, char *err)
{
    char adir[PATH_MAX + 80];
    snprintf(adir, sizeof adir, "%s/seg/%s", dir, account);
    vfile_t *f = NULL;
    size_t nf = 0, cap = 0;
    int rc = 0;
    DIR *ad = opendir(adir);
    if (!ad)
        return 0;
    struct dirent *de;
    char detail[256];
    while (!rc && (de = readdir(ad))) {
        int64_t day;
        char ddir[PATH_MAX + 360];
        if (!parse_day(de->d_name, &day))
            continue;
        snprintf(ddir, sizeof ddir, "%s/%s", adir, de->d_name);
        DIR *dd = opendir(ddir);
        if (!dd)
            continue;
        struct dirent *fe;
        while (!rc && (fe = readdir(dd))) {
            size_t l = strlen(fe->d_name);
            if (l < 5 || strcmp(fe->d_name + l - 4, ".seg"))
                continue;
            if (nf == cap) {
                cap = cap ? cap * 2 : 64;
                vfile_t *nfp = realloc(f, cap * sizeof *nfp);
                if (!nfp) {
                    rc = tk_errf(err, TK_ENOMEM, "out of memory");
                    break;
                }
                f = nfp;
            }
            vfile_t *x = &f[nf];
            memset(x, 0, sizeof *x);
            char path[PATH_MAX + 640];
            snprintf(path, sizeof path, "%s/%s", ddir, fe->d_name);
            if (!(x->path = strdup(path))) {
                rc = tk_errf(err, TK_ENOMEM, "out of memory");
                break;
            }
            char *end;
            x->name_index = strtoull(fe->d_name, &end, 10);
            if (end != fe->d_name + l - 4)
                x->name_index = 0;
            x->dir_day = day;
            nf++;
        }
        closedir(dd);
    }
    closedir(ad);
    if (nf)
        qsort(f, nf, sizeof *f, vfile_cmp);
    /* content */
    for (size_t i = 0; i < nf && !rc; i++) {
        vfile_t *x = &f[i];
        char e2[TK_ERRLEN];
        if (seg_load(x->path, &x->g, e2)) {
            x->g = NULL;
            x->modified = x->reported = 1;
            report(v, x->path, TK_VERIFY_MODIFIED, e2);
            continue;
        }
        uint8_t h[32];
        if (seg_compute_hash(x->path, h, e2) || memcmp(h, x->g->hash, 32)) {
            x->modified = x->reported = 1;
            report(v, x->path, TK_VERIFY_MODIFIED,
                   "content does not match its SHA-256: the segment was changed after sealing");
            continue;
        }
        if (x->g->has_dict && dict_check(dir, x->g->dict_id, e2)) {
            x->modified = x->reported = 1;
            report(v, x->path, TK_VERIFY_MODIFIED, e2);
            continue;
        }
        x->placed = x->g->chain == x->name_index && x->g->day == x->dir_day &&
                    !strcmp(x->g->account, account);
    }
    /* misplaced files: a copy of a good segment is an insertion, else a reordering */
    for (size_t i = 0; i < nf; i++) {
        vfile_t *x = &f[i];
        if (x->modified || x->placed)
            continue;
        int copy = 0;
        for (size_t j = 0; j < nf && !copy; j++)
            copy = j != i && f[j].placed && !memcmp(f[j].g->hash, x->g->hash, 32);
        x->reported = 1;
        if (strcmp(x->g->account, account)) {
            snprintf(detail, sizeof detail, "segment of account %s found under account %s",
                     x->g->account, account);
            report(v, x->path, TK_VERIFY_INSERTED, detail);
        } else if (copy) {
            snprintf(detail, sizeof detail, "copy of chain segment %" PRIu64 " placed as %" PRIu64,
                     x->g->chain, x->name_index);
            report(v, x->path, TK_VERIFY_INSERTED, detail);
        } else {
            char d[9];
            tk_time_day_str(x->g->day, d);
            snprintf(detail, sizeof detail,
                     "footer says chain index %" PRIu64 " of day %s, file is named %" PRIu64,
                     x->g->chain, d, x->name_index);
            report(v, x->path, TK_VERIFY_REORDERED, detail);
        }
    }
    /* chain walk */
    uint64_t head;
    uint8_t head_hash[32];
    anchor_t an;
    if (store_read_head(dir, account, &head, head_hash))
        report(v, adir, TK_VERIFY_MODIFIED, "HEAD file is unreadable");
    if (anchor_read(dir, account, &an))
        report(v, adir, TK_VERIFY_MODIFIED, "ANCHOR file is unreadable");
    /* indexes a compacted segment replaced are accounted for, like purged ones */
    for (size_t i = 0; i < nf; i++) {
        if (!f[i].placed || !f[i].g->sec[SEC_REPLACES].rawlen)
            continue;
        uint64_t *ri;
        uint8_t(*rh)[32];
        size_t rn;
        char e2[TK_ERRLEN];
        if (seg_read_replaces(f[i].g, &ri, &rh, &rn, e2)) {
            f[i].reported = 1;
            report(v, f[i].path, TK_VERIFY_MODIFIED, e2);
            continue;
        }
        for (size_t r = 0; r < rn; r++)
            if (ri[r] < f[i].g->chain)
                anchor_add(&an, ri[r], rh[r]);
        free(ri);
        free(rh);
    }
    /* segments past HEAD that link on are a seal whose HEAD update a crash cut off */
    for (int adv = 1; adv;) {
        adv = 0;
        for (size_t i = 0; i < nf; i++)
            if (f[i].placed && f[i].g->chain == head + 1 && !memcmp(f[i].g->prev, head_hash, 32)) {
                head++;
                memcpy(head_hash, f[i].g->hash, 32);
                adv = 1;
            }
    }
    uint8_t prev[32];
    int prev_known = 1;
    memset(prev, 0, 32);
    size_t fi = 0;
    for (uint64_t idx = 1; idx <= head; idx++) {
        while (fi < nf && f[fi].name_index < idx)
            fi++;
        vfile_t *at = NULL;
        for (size_t j = fi; j < nf && f[j].name_index == idx; j++)
            if (f[j].placed)
                at = &f[j];
        const uint8_t *ah = anchor_hash(&an, idx);
        if (ah) {
            prev_known = ah != PURGED_NOHASH;
            if (prev_known)
                memcpy(prev, ah, 32);
            if (at)
                at->reported = 1; /* purged but not yet unlinked: not a problem */
            continue;
        }
        if (!at) {
            int claimed = 0;
            for (size_t j = 0; j < nf; j++)
                claimed |= f[j].g && !f[j].placed && f[j].g->chain == idx;
            if (!claimed) {
                snprintf(detail, sizeof detail, "chain index %" PRIu64 " has no segment", idx);
                char where[PATH_MAX + 100];
                snprintf(where, sizeof where, "%s/*/%010" PRIu64 ".seg", adir, idx);
                report(v, where, TK_VERIFY_MISSING, detail);
            }
            prev_known = 0;
            continue;
        }
        if (prev_known && memcmp(at->g->prev, prev, 32)) {
            snprintf(detail, sizeof detail,
                     "previous-hash does not link to chain index %" PRIu64, idx - 1);
            report(v, at->path, TK_VERIFY_REORDERED, detail);
        } else if (idx == head && memcmp(at->g->hash, head_hash, 32)) {
            report(v, at->path, TK_VERIFY_MODIFIED, "newest segment differs from the HEAD record");
        } else {
            v->sum->segments_ok++;
        }
        at->reported = 1;
        memcpy(prev, at->g->hash, 32);
        prev_known = 1;
    }
    for (size_t i = 0; i < nf; i++) {
        if (f[i].reported)
            continue;
        snprintf(detail, sizeof detail, "chain index %" PRIu64 " is beyond the chain head %" PRIu64,
                 f[i].name_index, head);
        report(v, f[i].path, TK_VERIFY_INSERTED, detail);
    }
    free(an.g);
    for (size_t i = 0; i < nf; i++) {
        free(f[i].path);
        seg_free(f[i].g);
    }
    free(f);
    return rc;
}

int tk_store_verify(tk_store_t *s, const char *account,
                    void (*cb)(void *ud, const tk_verify_item_t *it), void *ud,
                    tk_verify_summary_t *sum, char *err)
{
    tk_verify_summary_t local;
    if (!sum)
        sum = &local;
    memset(sum, 0, sizeof *sum);
    vctx_t v = {cb, ud, sum, NULL};
    int own = !s->opts.read_only;
    if (own)
        pthread_mutex_lock(&s->seal_mu); /* no seal, compaction or purge changes files meanwhile */
    int rc = 0;
    if (account) {
        if (!store_account_ok(account, strlen(account))) {
            rc = tk_errf(err, TK_EINVAL, "'%s' is not a valid account", account);
        } else {
            v.account = account;
            sum->accounts = 1;
            rc = verify_account(s->dir, account, &v, err);
        }
    } else {
        char base[PATH_MAX + 8];
        snprintf(base, sizeof base, "%s/seg", s->dir);
        DIR *d = opendir(base);
        struct dirent *de;
        char **names = NULL;
        size_t n = 0, cap = 0;
        while (d && (de = readdir(d))) {
            if (!store_account_ok(de->d_name, strlen(de->d_name)))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                char **nn = realloc(names, cap * sizeof *nn);
                if (!nn)
                    break;
                names = nn;
            }
            names[n++] = strdup(de->d_name);
        }
        if (d)
            closedir(d);
        for (size_t i = 0; i < n; i++) {
            if (!rc && names[i]) {
                v.account = names[i];
                sum->accounts++;
                rc = verify_account(s->dir, names[i], &v, err);
            }
            free(names[i]);
        }
        free(names);
    }
    if (own)
        pthread_mutex_unlock(&s->seal_mu);
    return rc;
}

/* trailkeep store: sealed segments (format.h, "SEGMENT FILE") and the caches
 * that serve them. A segment is immutable once renamed into place; its hash
 * covers every byte before the hash field, so the footer's chain index, day,
 * account and prev hash are tamper-evident too. Indexes and decompressed
 * blocks are loaded on demand into two LRU caches bounded by bytes; items in
 * use (refs > 0) are never evicted. */
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
#include <roaring/roaring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#define ZDICT_STATIC_LINKING_ONLY /* ZDICT_trainFromBuffer_fastCover: exported by libzstd.so */
#include <zdict.h>
#include <zstd.h>

/* ---- writer -------------------------------------------------------------- */

typedef struct segw {
    const segdict_t *dict; /* for blocks only */
    int fd;
    uint64_t off;
    tk_sha256_ctx_t sha;
    ZSTD_CCtx *cctx;
    tk_buf_t z;
    int rc;
    int e;
} segw_t;

static void w_out(segw_t *w, const void *p, size_t n)
{
    if (w->rc)
        return;
    tk_sha256_update(&w->sha, p, n);
    w->rc = tk_fs_write_full(w->fd, p, n);
    if (w->rc)
        w->e = errno;
    w->off += n;
}

/* Compresses raw[0..n) as one zstd frame (with the dictionary when use_dict),
 * writes it; returns its size. */
static uint32_t w_frame(segw_t *w, const void *raw, size_t n, uint64_t *off, int use_dict)
{
    *off = w->off;
    if (w->rc)
        return 0;
    size_t bound = ZSTD_compressBound(n);
    tk_buf_reset(&w->z);
    if (tk_buf_reserve(&w->z, bound)) {
        w->rc = TK_ENOMEM;
        return 0;
    }
    /* every frame carries zstd's content checksum (4 bytes): a damaged block is
     * an error on read, never different JSON served as if it were stored */
    ZSTD_CCtx_reset(w->cctx, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
    if (use_dict && w->dict)
        ZSTD_CCtx_refCDict(w->cctx, w->dict->cdict);
    else
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, SEG_ZSTD_LEVEL);
    size_t c = ZSTD_compress2(w->cctx, w->z.p, bound, raw, n);
    if (ZSTD_isError(c)) {
        w->rc = TK_EIO;
        return 0;
    }
    w_out(w, w->z.p, c);
    return (uint32_t)c;
}

/* A distinct term of one attribute and the chain of ordinals holding it. */
typedef struct aterm {
    const char *p;
    uint32_t len;
    uint32_t head, tail, count; /* chain through attr_build_t.next, in ordinal order */
} aterm_t;

typedef struct attr_build {
    aterm_t *t;
    size_t nt, capt;
    uint32_t *slot;             /* hash table of term index + 1 */
    size_t cap;
    uint32_t *next, *ordv;      /* per reference: next reference, its ordinal */
    size_t nref, capref;
} attr_build_t;

static int aterm_cmp(const void *a, const void *b)
{
    const aterm_t *x = a, *y = b;
    uint32_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, m);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static int ab_grow_table(attr_build_t *ab)
{
    size_t nc = ab->cap ? ab->cap * 2 : 1024;
    uint32_t *ns = calloc(nc, sizeof *ns);
    if (!ns)
        return TK_ENOMEM;
    for (size_t i = 0; i < ab->nt; i++) {
        size_t k = tk_hash64(ab->t[i].p, ab->t[i].len) & (nc - 1);
        while (ns[k])
            k = (k + 1) & (nc - 1);
        ns[k] = (uint32_t)i + 1;
    }
    free(ab->slot);
    ab->slot = ns;
    ab->cap = nc;
    return 0;
}

static int ab_add(attr_build_t *ab, const char *p, uint32_t len, uint32_t ord)
{
    if ((ab->nt + 1) * 2 > ab->cap && ab_grow_table(ab))
        return TK_ENOMEM;
    size_t k = tk_hash64(p, len) & (ab->cap - 1);
    uint32_t ti;
    for (;; k = (k + 1) & (ab->cap - 1)) {
        if (!ab->slot[k]) {
            if (ab->nt == ab->capt) {
                size_t nc = ab->capt ? ab->capt * 2 : 256;
                aterm_t *nt = realloc(ab->t, nc * sizeof *nt);
                if (!nt)
                    return TK_ENOMEM;
                ab->t = nt;
                ab->capt = nc;
            }
            ti = (uint32_t)ab->nt++;
            ab->t[ti] = (aterm_t){p, len, UINT32_MAX, UINT32_MAX, 0};
            ab->slot[k] = ti + 1;
            break;
        }
        aterm_t *t = &ab->t[ab->slot[k] - 1];
        if (t->len == len && !memcmp(t->p, p, len)) {
            ti = ab->slot[k] - 1;
            break;
        }
    }
    aterm_t *t = &ab->t[ti];
    if (t->count && ab->ordv[t->tail] == ord)
        return 0; /* the same term twice in one event */
    if (ab->nref == ab->capref) {
        size_t nc = ab->capref ? ab->capref * 2 : 4096;
        uint32_t *nn = realloc(ab->next, nc * sizeof *nn), *no;
        if (!nn)
            return TK_ENOMEM;
        ab->next = nn;
        if (!(no = realloc(ab->ordv, nc * sizeof *no)))
            return TK_ENOMEM;
        ab->ordv = no;
        ab->capref = nc;
    }
    uint32_t r = (uint32_t)ab->nref++;
    ab->ordv[r] = ord;
    ab->next[r] = UINT32_MAX;
    if (t->count)
        ab->next[t->tail] = r;
    else
        t->head = r;
    t->tail = r;
    t->count++;
    return 0;
}

/* Builds the raw SEC_ATTR0+attr section. Terms are grouped through a hash
 * table (ordinals arrive in order, so each chain is already sorted) and only
 * the distinct terms are sorted: O(refs + terms log terms). */
static int build_attr(tk_buf_t *b, tk_attr_t attr, mev_t *const *ev, size_t n, tk_buf_t *keys)
{
    attr_build_t ab = {0};
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        for (uint32_t k = 0; k < ev[i]->nterms && !rc; k++)
            if (ev[i]->terms[k].attr == attr)
                rc = ab_add(&ab, ev[i]->terms[k].p, ev[i]->terms[k].len, (uint32_t)i);
    if (!rc && ab.nt)
        qsort(ab.t, ab.nt, sizeof *ab.t, aterm_cmp);
    for (size_t i = 0; i < ab.nt && !rc; i++) {
        uint64_t key = segfilter_key(attr, ab.t[i].p, ab.t[i].len);
        rc = tk_buf_append(keys, &key, sizeof key);
    }
    if (!rc)
        rc = tk_buf_put_varint(b, ab.nt);
    uint32_t *ords = malloc((n ? n : 1) * sizeof *ords);
    tk_buf_t ser = TK_BUF_INIT;
    if (!ords)
        rc = TK_ENOMEM;
    for (size_t i = 0; i < ab.nt && !rc; i++) {
        size_t no = 0;
        for (uint32_t r = ab.t[i].head; r != UINT32_MAX; r = ab.next[r])
            ords[no++] = ab.ordv[r];
        roaring_bitmap_t *bm = roaring_bitmap_of_ptr(no, ords);
        if (!bm) {
            rc = TK_ENOMEM;
            break;
        }
        roaring_bitmap_run_optimize(bm);
        size_t sz = roaring_bitmap_portable_size_in_bytes(bm);
        /* whichever is smaller: a delta-varint list (rare terms) or the bitmap */
        tk_buf_reset(&ser);
        uint32_t prevo = 0;
        for (size_t j = 0; j < no && !rc && ser.len < sz; j++) {
            rc = tk_buf_put_varint(&ser, ords[j] - prevo);
            prevo = ords[j];
        }
        int kind = POSTING_LIST;
        if (!rc && ser.len >= sz) {
            kind = POSTING_ROARING;
            tk_buf_reset(&ser);
            rc = tk_buf_reserve(&ser, sz);
            if (!rc) {
                roaring_bitmap_portable_serialize(bm, ser.p);
                ser.len = sz;
            }
        }
        if (!rc)
            rc = tk_buf_put_varint(b, ab.t[i].len) || tk_buf_append(b, ab.t[i].p, ab.t[i].len) ||
                         tk_buf_put_varint(b, (uint64_t)ser.len << 1 | (uint64_t)kind) ||
                         tk_buf_append(b, ser.p, ser.len)
                     ? TK_ENOMEM
                     : 0;
        roaring_bitmap_free(bm);
    }
    tk_buf_free(&ser);
    free(ords);
    free(ab.t);
    free(ab.slot);
    free(ab.next);
    free(ab.ordv);
    return rc;
}

int seg_write(const char *path, const char *account, int64_t day, uint64_t chain,
              const uint8_t prev[32], mev_t *const *ev, size_t n, const uint64_t *rep_idx,
              const uint8_t (*rep_hash)[32], size_t nrep, const segdict_t *dict, seg_t **out,
              char *err)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (n == 0 || n > UINT32_MAX)
        return tk_errf(err, TK_EINVAL, "a segment holds 1..2^32-1 events, not %zu", n);
    segw_t w = {.fd = -1, .dict = dict};
    w.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (w.fd < 0)
        return tk_errf(err, tk_from_errno(errno), "cannot create segment %s: %s", tmp,
                       strerror(errno));
    w.cctx = ZSTD_createCCtx();
    tk_sha256_init(&w.sha);
    uint8_t footer[SEG_FOOTER_SIZE];
    memset(footer, 0, sizeof footer);
    tk_buf_t raw = TK_BUF_INIT, blocks = TK_BUF_INIT, sec = TK_BUF_INIT, fkeys = TK_BUF_INIT;
    uint64_t rawbytes = 0, minseq = UINT64_MAX, maxseq = 0;
    uint32_t nblocks = 0, bfirst = 0;
    if (!w.cctx)
        w.rc = TK_ENOMEM;
    w_out(&w, SEG_MAGIC, SEG_MAGIC_SIZE);
    for (size_t i = 0; i < n && !w.rc; i++) {
        const mev_t *m = ev[i];
        if (i && mev_cmp(ev[i - 1], m) >= 0) {
            w.rc = TK_EINVAL;
            break;
        }
        if (tk_time_day(m->time_ms) != day) {
            w.rc = TK_EINVAL;
            break;
        }
        if (m->seq < minseq)
            minseq = m->seq;
        if (m->seq > maxseq)
            maxseq = m->seq;
        rawbytes += m->jsonlen;
        if (tk_buf_put_varint(&raw, m->idlen) || tk_buf_append(&raw, m->id, m->idlen) ||
            tk_buf_put_varint(&raw, m->jsonlen) || tk_buf_append(&raw, m->json, m->jsonlen))
            w.rc = TK_ENOMEM;
        if (raw.len >= SEG_BLOCK_TARGET || i + 1 == n) {
            uint64_t off;
            uint32_t c = w_frame(&w, raw.p, raw.len, &off, 1);
            if (tk_buf_put_u64le(&blocks, off) || tk_buf_put_u32le(&blocks, c) ||
                tk_buf_put_u32le(&blocks, (uint32_t)raw.len) ||
                tk_buf_put_u32le(&blocks, bfirst) ||
                tk_buf_put_u32le(&blocks, (uint32_t)(i + 1 - bfirst)))
                w.rc = TK_ENOMEM;
            bfirst = (uint32_t)(i + 1);
            nblocks++;
            tk_buf_reset(&raw);
        }
    }
    uint8_t *secs = footer + SEG_F_SECTIONS;
    for (int sidx = 0; sidx < SEC_COUNT && !w.rc; sidx++) {
        tk_buf_reset(&sec);
        int rc = 0;
        if (sidx == SEC_BLOCKS) {
            rc = tk_buf_append(&sec, blocks.p, blocks.len);
        } else if (sidx == SEC_TIMES) {
            int64_t base = day * TK_MS_PER_DAY, prevt = base;
            for (size_t i = 0; i < n && !rc; i++) {
                rc = tk_buf_put_varint(&sec, (uint64_t)(ev[i]->time_ms - prevt));
                prevt = ev[i]->time_ms;
            }
        } else if (sidx == SEC_SEQS) {
            uint64_t p = minseq;
            for (size_t i = 0; i < n && !rc; i++) {
                int64_t d = (int64_t)(ev[i]->seq - p);
                rc = tk_buf_put_varint(&sec, ((uint64_t)d << 1) ^ (uint64_t)(d >> 63));
                p = ev[i]->seq;
            }
        } else if (sidx == SEC_IDS) {
            rc = tk_buf_reserve(&sec, n * SEG_ID_ENTRY_SIZE);
            for (size_t i = 0; i < n && !rc; i++)
                rc = tk_buf_put_u32le(&sec, (uint32_t)ev[i]->idhash);
        } else if (sidx == SEC_DICT) {
            if (dict)
                rc = tk_buf_append(&sec, dict->id, 32);
        } else if (sidx == SEC_REPLACES) {
            if (nrep)
                rc = tk_buf_put_varint(&sec, nrep);
            for (size_t i = 0; i < nrep && !rc; i++)
                rc = tk_buf_put_u64le(&sec, rep_idx[i]) || tk_buf_append(&sec, rep_hash[i], 32);
        } else if (sidx < SEC_ATTR0 + TK_ATTR__COUNT && sidx - SEC_ATTR0 != TK_ATTR_EVENTID) {
            rc = build_attr(&sec, (tk_attr_t)(sidx - SEC_ATTR0), ev, n, &fkeys);
        } else if (sidx == SEC_FILTER) { /* after every SEC_ATTR: their keys are in */
            for (size_t i = 0; i < n && !rc; i++) {
                uint64_t key = segfilter_key_h(TK_ATTR_EVENTID, ev[i]->idhash);
                rc = tk_buf_append(&fkeys, &key, sizeof key);
            }
            if (!rc)
                rc = segfilter_build(&sec, (const uint64_t *)(void *)fkeys.p,
                                     fkeys.len / sizeof(uint64_t));
        }
        if (rc) {
            w.rc = TK_ENOMEM;
            break;
        }
        uint64_t off = w.off;
        uint32_t c = 0;
        if (sec.len)
            c = w_frame(&w, sec.p, sec.len, &off, 0);
        uint8_t *e = secs + SEG_SECTION_SIZE * (size_t)sidx;
        for (int k = 0; k < 8; k++)
            e[k] = (uint8_t)(off >> (8 * k));
        for (int k = 0; k < 4; k++) {
            e[8 + k] = (uint8_t)(c >> (8 * k));
            e[12 + k] = (uint8_t)(sec.len >> (8 * k));
        }
    }
    /* footer */
#define PUT64(at, v) do { uint64_t v_ = (uint64_t)(v); for (int k_ = 0; k_ < 8; k_++) footer[(at) + k_] = (uint8_t)(v_ >> (8 * k_)); } while (0)
#define PUT32(at, v) do { uint32_t v_ = (uint32_t)(v); for (int k_ = 0; k_ < 4; k_++) footer[(at) + k_] = (uint8_t)(v_ >> (8 * k_)); } while (0)
    memcpy(footer + SEG_F_MAGIC, SEG_END_MAGIC, 8);
    PUT32(SEG_F_VERSION, SEG_VERSION);
    PUT32(SEG_F_FSIZE, SEG_FOOTER_SIZE);
    PUT64(SEG_F_CHAIN, chain);
    PUT64(SEG_F_DAY, day);
    PUT64(SEG_F_MINTIME, ev[0]->time_ms);
    PUT64(SEG_F_MAXTIME, ev[n - 1]->time_ms);
    PUT64(SEG_F_MINSEQ, minseq);
    PUT64(SEG_F_MAXSEQ, maxseq);
    PUT32(SEG_F_NEVENTS, n);
    PUT32(SEG_F_NBLOCKS, nblocks);
    PUT64(SEG_F_RAWBYTES, rawbytes);
    size_t al = strlen(account);
    memcpy(footer + SEG_F_ACCOUNT, account, al < SEG_ACCOUNT_MAX ? al : SEG_ACCOUNT_MAX);
    memcpy(footer + SEG_F_PREVHASH, prev, 32);
    w_out(&w, footer, SEG_F_HASH);
    uint8_t hash[32];
    tk_sha256_final(&w.sha, hash);
    memcpy(footer + SEG_F_HASH, hash, 32);
    if (!w.rc)
        w.rc = tk_fs_write_full(w.fd, hash, 32);
    int e = w.e ? w.e : errno;
    close(w.fd);
    ZSTD_freeCCtx(w.cctx);
    tk_buf_free(&w.z);
    tk_buf_free(&raw);
    tk_buf_free(&blocks);
    tk_buf_free(&sec);
    tk_buf_free(&fkeys);
    if (w.rc) {
        unlink(tmp);
        if (w.rc == TK_EINVAL)
            return tk_errf(err, TK_EINVAL, "segment %s: events not sorted or not of day %" PRId64,
                           path, day);
        return tk_errf(err, w.rc, "cannot write segment %s: %s", path,
                       w.rc == TK_ENOMEM ? "out of memory" : strerror(e));
    }
    int rc = seg_load(tmp, out, err);
    if (rc)
        unlink(tmp);
    return rc;
}

/* ---- footer ---------------------------------------------------------------- */

static int read_sec(const seg_t *s, int i, uint8_t **out, char *err);

int seg_load(const char *path, seg_t **out, char *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tk_errf(err, tk_from_errno(errno), "cannot open segment %s: %s", path,
                       strerror(errno));
    struct stat st;
    uint8_t f[SEG_FOOTER_SIZE];
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)(SEG_MAGIC_SIZE + SEG_FOOTER_SIZE) ||
        pread(fd, f, sizeof f, st.st_size - (off_t)SEG_FOOTER_SIZE) != (ssize_t)sizeof f) {
        close(fd);
        return tk_errf(err, TK_ECORRUPT, "segment %s is too short or unreadable", path);
    }
    uint8_t magic[SEG_MAGIC_SIZE];
    int okmagic = pread(fd, magic, sizeof magic, 0) == (ssize_t)sizeof magic &&
                  !memcmp(magic, SEG_MAGIC, SEG_MAGIC_SIZE);
    close(fd);
    if (!okmagic || memcmp(f + SEG_F_MAGIC, SEG_END_MAGIC, 8) ||
        tk_get_u32le(f + SEG_F_VERSION) != SEG_VERSION ||
        tk_get_u32le(f + SEG_F_FSIZE) != SEG_FOOTER_SIZE)
        return tk_errf(err, TK_ECORRUPT, "segment %s: bad magic or version", path);
    seg_t *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    s->file_bytes = (uint64_t)st.st_size;
    s->chain = tk_get_u64le(f + SEG_F_CHAIN);
    s->day = (int64_t)tk_get_u64le(f + SEG_F_DAY);
    s->min_time = (int64_t)tk_get_u64le(f + SEG_F_MINTIME);
    s->max_time = (int64_t)tk_get_u64le(f + SEG_F_MAXTIME);
    s->min_seq = tk_get_u64le(f + SEG_F_MINSEQ);
    s->max_seq = tk_get_u64le(f + SEG_F_MAXSEQ);
    s->nevents = tk_get_u32le(f + SEG_F_NEVENTS);
    s->nblocks = tk_get_u32le(f + SEG_F_NBLOCKS);
    s->raw_bytes = tk_get_u64le(f + SEG_F_RAWBYTES);
    memcpy(s->account, f + SEG_F_ACCOUNT, SEG_ACCOUNT_MAX);
    s->account[SEG_ACCOUNT_MAX] = 0;
    memcpy(s->prev, f + SEG_F_PREVHASH, 32);
    memcpy(s->hash, f + SEG_F_HASH, 32);
    uint64_t limit = s->file_bytes - SEG_FOOTER_SIZE;
    int bad = s->nevents == 0 || s->nblocks == 0 || s->nblocks > s->nevents ||
              s->min_time > s->max_time || s->min_seq > s->max_seq;
    for (int i = 0; i < SEC_COUNT; i++) {
        const uint8_t *e = f + SEG_F_SECTIONS + SEG_SECTION_SIZE * (size_t)i;
        s->sec[i].off = tk_get_u64le(e);
        s->sec[i].clen = tk_get_u32le(e + 8);
        s->sec[i].rawlen = tk_get_u32le(e + 12);
        if (s->sec[i].off > limit || s->sec[i].clen > limit - s->sec[i].off)
            bad = 1;
    }
    /* the counts size the index arrays: check them against the sections
     * they describe before anything allocates by them */
    if (!bad && ((uint64_t)s->sec[SEC_IDS].rawlen != (uint64_t)s->nevents * SEG_ID_ENTRY_SIZE ||
                 (uint64_t)s->sec[SEC_BLOCKS].rawlen != (uint64_t)s->nblocks * SEG_BLOCK_ENTRY_SIZE ||
                 s->sec[SEC_TIMES].rawlen < s->nevents || s->sec[SEC_SEQS].rawlen < s->nevents))
        bad = 1;
    if (!bad && s->sec[SEC_DICT].rawlen) {
        uint8_t *id = NULL;
        char e2[TK_ERRLEN];
        if (s->sec[SEC_DICT].rawlen != 32 || read_sec(s, SEC_DICT, &id, e2)) {
            bad = 1;
        } else {
            memcpy(s->dict_id, id, 32);
            s->has_dict = 1;
        }
        free(id);
    }
    if (!bad && s->sec[SEC_FILTER].rawlen) {
        char e2[TK_ERRLEN];
        if (read_sec(s, SEC_FILTER, &s->filter, e2) ||
            !segfilter_valid(s->filter, s->sec[SEC_FILTER].rawlen))
            bad = 1;
        else
            s->filter_len = s->sec[SEC_FILTER].rawlen;
    }
    if (bad) {
        seg_free(s);
        return tk_errf(err, TK_ECORRUPT, "segment %s: footer fields out of range", path);
    }
    *out = s;
    return 0;
}

void seg_free(seg_t *s)
{
    if (!s)
        return;
    free(s->blk);
    free(s->filter);
    free(s->path);
    free(s);
}

int seg_compute_hash(const char *path, uint8_t out[32], char *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tk_errf(err, tk_from_errno(errno), "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)SEG_FOOTER_SIZE) {
        close(fd);
        return tk_errf(err, TK_ECORRUPT, "segment %s is too short", path);
    }
    uint64_t want = (uint64_t)st.st_size - 32, done = 0;
    tk_sha256_ctx_t c;
    tk_sha256_init(&c);
    char buf[1 << 16];
    while (done < want) {
        size_t k = want - done < sizeof buf ? (size_t)(want - done) : sizeof buf;
        ssize_t r = pread(fd, buf, k, (off_t)done);
        if (r <= 0) {
            tk_sha256_final(&c, out);
            close(fd);
            return tk_errf(err, TK_EIO, "cannot read %s", path);
        }
        tk_sha256_update(&c, buf, (size_t)r);
        done += (uint64_t)r;
    }
    tk_sha256_final(&c, out);
    close(fd);
    return 0;
}

/* ---- reading --------------------------------------------------------------- */

/* Reads and decompresses section i of s; *out owned (free). */
/* Decompression contexts are reused: creating one per block read was a fifth
 * of a lookup's time. The pool lives as long as the process (reachable, so
 * not a leak) and is shared by every store. */
static pthread_mutex_t dctx_mu = PTHREAD_MUTEX_INITIALIZER;
static ZSTD_DCtx *dctx_pool[16];
static int dctx_n;

static ZSTD_DCtx *dctx_get(void)
{
    ZSTD_DCtx *d = NULL;
    pthread_mutex_lock(&dctx_mu);
    if (dctx_n)
        d = dctx_pool[--dctx_n];
    pthread_mutex_unlock(&dctx_mu);
    return d ? d : ZSTD_createDCtx();
}

static void dctx_put(ZSTD_DCtx *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&dctx_mu);
    if (dctx_n < (int)(sizeof dctx_pool / sizeof dctx_pool[0])) {
        dctx_pool[dctx_n++] = d;
        d = NULL;
    }
    pthread_mutex_unlock(&dctx_mu);
    ZSTD_freeDCtx(d);
}

static int read_frame_dict(const seg_t *s, uint64_t off, uint32_t clen, uint32_t rawlen,
                           const ZSTD_DDict *dd, uint8_t **out, char *err);
static int read_frame(const seg_t *s, uint64_t off, uint32_t clen, uint32_t rawlen, uint8_t **out,
                      char *err)
{
    return read_frame_dict(s, off, clen, rawlen, NULL, out, err);
}

static int read_frame_dict(const seg_t *s, uint64_t off, uint32_t clen, uint32_t rawlen,
                           const ZSTD_DDict *dd, uint8_t **out, char *err)
{
    *out = NULL;
    if (rawlen == 0)
        return 0;
    uint8_t *c = malloc(clen ? clen : 1), *r = malloc(rawlen);
    int fd = open(s->path, O_RDONLY | O_CLOEXEC);
    int rc = 0;
    if (!c || !r)
        rc = tk_errf(err, TK_ENOMEM, "out of memory");
    else if (fd < 0)
        rc = tk_errf(err, tk_from_errno(errno), "cannot open segment %s: %s", s->path,
                     strerror(errno));
    else if (pread(fd, c, clen, (off_t)off) != (ssize_t)clen)
        rc = tk_errf(err, TK_ECORRUPT, "segment %s: short read at %" PRIu64, s->path, off);
    else {
        ZSTD_DCtx *dc = dctx_get();
        size_t d = !dc   ? (size_t)-1
                   : dd ? ZSTD_decompress_usingDDict(dc, r, rawlen, c, clen, dd)
                        : ZSTD_decompressDCtx(dc, r, rawlen, c, clen);
        dctx_put(dc);
        if (ZSTD_isError(d) || d != rawlen)
            rc = tk_errf(err, TK_ECORRUPT, "segment %s: damaged frame at %" PRIu64 " (%s)", s->path,
                         off, ZSTD_isError(d) ? ZSTD_getErrorName(d) : "size mismatch");
    }
    if (fd >= 0)
        close(fd);
    free(c);
    if (rc) {
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

static int read_sec(const seg_t *s, int i, uint8_t **out, char *err)
{
    return read_frame(s, s->sec[i].off, s->sec[i].clen, s->sec[i].rawlen, out, err);
}

static void idx_free(segidx_t *x)
{
    if (!x)
        return;
    free(x->blocks);
    free(x->trel);
    free(x->seqs);
    free(x->ids);
    for (int i = 0; i < TK_ATTR__COUNT; i++) {
        free(x->attr[i]);
        free(x->attr_off[i]);
    }
    free(x);
}

static int idx_load(seg_t *s, segidx_t **out, char *err)
{
    segidx_t *x = calloc(1, sizeof *x);
    uint8_t *b = NULL, *t = NULL, *q = NULL;
    int rc = 0;
    if (!x)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    x->seg = s;
    if ((rc = read_sec(s, SEC_BLOCKS, &b, err)) || (rc = read_sec(s, SEC_TIMES, &t, err)) ||
        (rc = read_sec(s, SEC_SEQS, &q, err)))
        goto fail;
    uint32_t n = s->nevents;
    x->blocks = calloc(s->nblocks, sizeof *x->blocks);
    x->trel = malloc(n * sizeof *x->trel);
    x->seqs = malloc(n * sizeof *x->seqs);
    if (!x->blocks || !x->trel || !x->seqs) {
        rc = tk_errf(err, TK_ENOMEM, "out of memory");
        goto fail;
    }
    if (s->sec[SEC_BLOCKS].rawlen != (uint64_t)s->nblocks * SEG_BLOCK_ENTRY_SIZE)
        goto corrupt;
    uint32_t expect = 0;
    for (uint32_t i = 0; i < s->nblocks; i++) {
        const uint8_t *e = b + (size_t)i * SEG_BLOCK_ENTRY_SIZE;
        x->blocks[i].off = tk_get_u64le(e);
        x->blocks[i].clen = tk_get_u32le(e + 8);
        x->blocks[i].rawlen = tk_get_u32le(e + 12);
        x->blocks[i].first = tk_get_u32le(e + 16);
        x->blocks[i].count = tk_get_u32le(e + 20);
        if (x->blocks[i].first != expect || x->blocks[i].count == 0 ||
            x->blocks[i].off + x->blocks[i].clen > s->file_bytes)
            goto corrupt;
        expect += x->blocks[i].count;
    }
    if (expect != n)
        goto corrupt;
    const uint8_t *p = t, *end = t + s->sec[SEC_TIMES].rawlen;
    uint64_t acc = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t v;
        size_t k = tk_get_varint(p, (size_t)(end - p), &v);
        if (!k || (acc += v) >= (uint64_t)TK_MS_PER_DAY)
            goto corrupt;
        x->trel[i] = (uint32_t)acc;
        p += k;
    }
    p = q, end = q + s->sec[SEC_SEQS].rawlen;
    uint64_t sq = s->min_seq;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t v;
        size_t k = tk_get_varint(p, (size_t)(end - p), &v);
        if (!k)
            goto corrupt;
        int64_t d = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
        sq += (uint64_t)d;
        x->seqs[i] = sq;
        p += k;
    }
    x->bytes = sizeof *x + (uint64_t)s->nblocks * sizeof *x->blocks + (uint64_t)n * 12;
    free(b);
    free(t);
    free(q);
    *out = x;
    return 0;
corrupt:
    rc = tk_errf(err, TK_ECORRUPT, "segment %s: index damaged; run trailkeep verify", s->path);
fail:
    free(b);
    free(t);
    free(q);
    idx_free(x);
    return rc;
}

/* LRU helpers (cache mutex held) */
#define LRU_UNLINK(c, head, tail, x)                        \
    do {                                                    \
        if ((x)->lru_prev) (x)->lru_prev->lru_next = (x)->lru_next; \
        else (c)->head = (x)->lru_next;                     \
        if ((x)->lru_next) (x)->lru_next->lru_prev = (x)->lru_prev; \
        else (c)->tail = (x)->lru_prev;                     \
        (x)->lru_prev = (x)->lru_next = NULL;               \
    } while (0)
#define LRU_FRONT(c, head, tail, x)                         \
    do {                                                    \
        (x)->lru_prev = NULL;                               \
        (x)->lru_next = (c)->head;                          \
        if ((c)->head) (c)->head->lru_prev = (x);           \
        (c)->head = (x);                                    \
        if (!(c)->tail) (c)->tail = (x);                    \
    } while (0)

void segcache_init(segcache_t *c, const char *storedir, uint64_t idx_bytes, uint64_t blk_bytes)
{
    memset(c, 0, sizeof *c);
    snprintf(c->dictdir, sizeof c->dictdir, "%s/dict", storedir);
    pthread_mutex_init(&c->mu, NULL);
    c->max_bytes = idx_bytes;
    c->max_blk_bytes = blk_bytes;
}

static void blk_free(segblk_t *b)
{
    if (!b)
        return;
    free(b->raw);
    free(b->ent);
    free(b);
}

static void evict(segcache_t *c)
{
    for (segidx_t *x = c->itail; x && c->bytes > c->max_bytes;) {
        segidx_t *p = x->lru_prev;
        if (!x->refs) {
            LRU_UNLINK(c, ihead, itail, x);
            c->bytes -= x->bytes;
            x->seg->idx = NULL;
            idx_free(x);
        }
        x = p;
    }
    for (segblk_t *b = c->btail; b && c->blk_bytes > c->max_blk_bytes;) {
        segblk_t *p = b->lru_prev;
        if (!b->refs) {
            LRU_UNLINK(c, bhead, btail, b);
            c->blk_bytes -= b->bytes;
            b->seg->blk[b->no] = NULL;
            blk_free(b);
        }
        b = p;
    }
}

void segcache_forget(segcache_t *c, seg_t *s)
{
    pthread_mutex_lock(&c->mu);
    if (s->idx) {
        segidx_t *x = s->idx;
        LRU_UNLINK(c, ihead, itail, x);
        c->bytes -= x->bytes;
        idx_free(x);
        s->idx = NULL;
    }
    if (s->blk) {
        for (uint32_t i = 0; i < s->nblocks; i++) {
            segblk_t *b = s->blk[i];
            if (!b)
                continue;
            LRU_UNLINK(c, bhead, btail, b);
            c->blk_bytes -= b->bytes;
            blk_free(b);
            s->blk[i] = NULL;
        }
    }
    pthread_mutex_unlock(&c->mu);
}

void segcache_destroy(segcache_t *c)
{
    if (!c)
        return;
    for (segidx_t *x = c->ihead; x;) {
        segidx_t *n = x->lru_next;
        x->seg->idx = NULL;
        idx_free(x);
        x = n;
    }
    for (segblk_t *b = c->bhead; b;) {
        segblk_t *n = b->lru_next;
        b->seg->blk[b->no] = NULL;
        blk_free(b);
        b = n;
    }
    for (size_t i = 0; i < c->ndicts; i++)
        ZSTD_freeDDict(c->dicts[i].ddict);
    free(c->dicts);
    pthread_mutex_destroy(&c->mu);
}

int segidx_get(segcache_t *c, seg_t *s, segidx_t **out, char *err)
{
    pthread_mutex_lock(&c->mu);
    if (s->idx) {
        segidx_t *x = s->idx;
        x->refs++;
        LRU_UNLINK(c, ihead, itail, x);
        LRU_FRONT(c, ihead, itail, x);
        pthread_mutex_unlock(&c->mu);
        *out = x;
        return 0;
    }
    pthread_mutex_unlock(&c->mu);
    segidx_t *x = NULL;
    int rc = idx_load(s, &x, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&c->mu);
    if (s->idx) { /* another reader loaded it meanwhile */
        idx_free(x);
        x = s->idx;
        LRU_UNLINK(c, ihead, itail, x);
    } else {
        s->idx = x;
        c->bytes += x->bytes;
    }
    x->refs++;
    LRU_FRONT(c, ihead, itail, x);
    evict(c);
    pthread_mutex_unlock(&c->mu);
    *out = x;
    return 0;
}

void segidx_put(segcache_t *c, segidx_t *x)
{
    if (!x)
        return;
    pthread_mutex_lock(&c->mu);
    x->refs--;
    evict(c);
    pthread_mutex_unlock(&c->mu);
}

/* Loads a lazily-read section into *slot (under the cache's accounting). */
static int lazy_sec(segcache_t *c, segidx_t *x, int sec, uint8_t **slot, char *err)
{
    pthread_mutex_lock(&c->mu);
    int have = *slot != NULL;
    pthread_mutex_unlock(&c->mu);
    if (have || x->seg->sec[sec].rawlen == 0)
        return 0;
    uint8_t *p;
    int rc = read_sec(x->seg, sec, &p, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&c->mu);
    if (*slot) {
        free(p);
    } else {
        *slot = p;
        x->bytes += x->seg->sec[sec].rawlen;
        c->bytes += x->seg->sec[sec].rawlen;
    }
    pthread_mutex_unlock(&c->mu);
    return 0;
}

/* Validates an attribute section once and records where each term entry
 * starts, so lookups binary-search it (a linear walk over thousands of
 * ResourceName terms per segment cost milliseconds on 30-day windows). */
static int build_term_offsets(segcache_t *c, segidx_t *x, tk_attr_t attr, char *err)
{
    int sec = SEC_ATTR0 + (int)attr;
    const uint8_t *base = x->attr[attr], *p = base, *end = base + x->seg->sec[sec].rawlen;
    uint64_t nterms;
    size_t k = tk_get_varint(p, (size_t)(end - p), &nterms);
    if (!k || nterms > x->seg->sec[sec].rawlen)
        goto corrupt;
    p += k;
    uint32_t *off = malloc((nterms ? nterms : 1) * sizeof *off);
    if (!off)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    for (uint64_t i = 0; i < nterms; i++) {
        uint64_t tl, bl;
        off[i] = (uint32_t)(p - base);
        if (!(k = tk_get_varint(p, (size_t)(end - p), &tl)) || tl > (uint64_t)(end - p - (ptrdiff_t)k))
            goto corrupt_free;
        p += k + tl;
        if (!(k = tk_get_varint(p, (size_t)(end - p), &bl)) || (bl >> 1) > (uint64_t)(end - p - (ptrdiff_t)k))
            goto corrupt_free;
        p += k + (bl >> 1);
        if (i && tl == 0)
            goto corrupt_free;
    }
    pthread_mutex_lock(&c->mu);
    if (x->attr_off[attr]) {
        free(off);
    } else {
        x->attr_off[attr] = off;
        x->attr_nterms[attr] = (uint32_t)nterms;
        x->bytes += nterms * 4;
        c->bytes += nterms * 4;
    }
    pthread_mutex_unlock(&c->mu);
    return 0;
corrupt_free:
    free(off);
corrupt:
    return tk_errf(err, TK_ECORRUPT, "segment %s: attribute index damaged", x->seg->path);
}

/* Decodes one posting (format.h SEC_ATTR0) into an owned bitmap of
 * ordinals < n; NULL when damaged. */
static roaring_bitmap_t *posting_decode(const uint8_t *p, uint64_t hdr, uint32_t n)
{
    size_t len = (size_t)(hdr >> 1);
    if ((hdr & 1) == POSTING_ROARING) {
        roaring_bitmap_t *r = roaring_bitmap_portable_deserialize_safe((const char *)p, len);
        if (r && roaring_bitmap_get_cardinality(r) && roaring_bitmap_maximum(r) >= n) {
            roaring_bitmap_free(r);
            r = NULL;
        }
        return r;
    }
    uint32_t stack[256], *o = stack, cap = 256, k = 0;
    uint64_t acc = 0;
    int bad = 0;
    for (size_t i = 0; i < len && !bad;) {
        uint64_t d;
        size_t m = tk_get_varint(p + i, len - i, &d);
        if (!m || (k && !d) || (acc += d) >= n) {
            bad = 1;
            break;
        }
        if (k == cap) {
            uint32_t *no = malloc((size_t)cap * 2 * sizeof *no);
            if (!no) {
                bad = 1;
                break;
            }
            memcpy(no, o, k * sizeof *o);
            if (o != stack)
                free(o);
            o = no;
            cap *= 2;
        }
        o[k++] = (uint32_t)acc;
        i += m;
    }
    roaring_bitmap_t *r = bad || !k ? NULL : roaring_bitmap_of_ptr(k, o);
    if (o != stack)
        free(o);
    return r;
}

int segidx_term(segcache_t *c, segidx_t *x, tk_attr_t attr, const char *v, size_t vlen, void **bmp,
                char *err)
{
    *bmp = NULL;
    int sec = SEC_ATTR0 + (int)attr;
    int rc = lazy_sec(c, x, sec, &x->attr[attr], err);
    if (rc || !x->attr[attr])
        return rc;
    if (!x->attr_off[attr] && (rc = build_term_offsets(c, x, attr, err)))
        return rc;
    /* binary search over the sorted terms */
    const uint8_t *base = x->attr[attr], *end = base + x->seg->sec[sec].rawlen;
    const uint32_t *off = x->attr_off[attr];
    uint32_t lo = 0, hi = x->attr_nterms[attr];
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint64_t tl;
        size_t k = tk_get_varint(base + off[mid], (size_t)(end - base - off[mid]), &tl);
        const uint8_t *t = base + off[mid] + k;
        size_t m = tl < vlen ? (size_t)tl : vlen;
        int cmp = memcmp(t, v, m);
        if (!cmp)
            cmp = tl < vlen ? -1 : tl > vlen;
        if (cmp == 0) {
            lo = mid;
            hi = mid + 1;
            break;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= hi)
        return 0;
    {
        const uint8_t *p = base + off[lo];
        uint64_t tl, bl;
        size_t k = tk_get_varint(p, (size_t)(end - p), &tl);
        const uint8_t *t = p + k;
        if (tl != vlen || memcmp(t, v, vlen))
            return 0;
        p = t + tl;
        k = tk_get_varint(p, (size_t)(end - p), &bl);
        const uint8_t *bm = p + k;
        uint64_t hdr = bl;
        roaring_bitmap_t *r = posting_decode(bm, hdr, x->seg->nevents);
        if (!r)
            return tk_errf(err, TK_ECORRUPT, "segment %s: attribute index damaged", x->seg->path);
        *bmp = r;
        return 0;
    }
}

uint32_t seg_block_of(const segidx_t *x, uint32_t ord)
{
    uint32_t lo = 0, hi = x->seg->nblocks;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (x->blocks[mid].first <= ord)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* The reader's DDict for id, loaded on first use (dictionaries are few and
 * never unloaded). */
static int cache_ddict(segcache_t *c, const uint8_t id[32], const ZSTD_DDict **out, char *err)
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->ndicts; i++)
        if (!memcmp(c->dicts[i].id, id, 32)) {
            *out = c->dicts[i].ddict;
            pthread_mutex_unlock(&c->mu);
            return 0;
        }
    pthread_mutex_unlock(&c->mu);
    segdict_t *d;
    char storedir[PATH_MAX];
    snprintf(storedir, sizeof storedir, "%.*s", (int)(strlen(c->dictdir) - 5), c->dictdir);
    int rc = dict_load(storedir, id, &d, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&c->mu);
    segdict_t *nd = realloc(c->dicts, (c->ndicts + 1) * sizeof *nd);
    if (!nd) {
        pthread_mutex_unlock(&c->mu);
        dict_free(d);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    c->dicts = nd;
    c->dicts[c->ndicts] = *d;
    c->dicts[c->ndicts].cdict = NULL;
    ZSTD_freeCDict(d->cdict);
    free(d);
    *out = c->dicts[c->ndicts++].ddict;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

static int blk_load(segcache_t *c, segidx_t *x, uint32_t no, segblk_t **out, char *err)
{
    const seg_t *s = x->seg;
    segblk_t *b = calloc(1, sizeof *b);
    if (!b)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    b->seg = x->seg;
    b->no = no;
    b->first = x->blocks[no].first;
    b->count = x->blocks[no].count;
    const ZSTD_DDict *dd = NULL;
    int rc = s->has_dict ? cache_ddict(c, s->dict_id, &dd, err) : 0;
    if (!rc)
        rc = read_frame_dict(s, x->blocks[no].off, x->blocks[no].clen, x->blocks[no].rawlen, dd,
                             (uint8_t **)&b->raw, err);
    if (!rc && !(b->ent = malloc(b->count * sizeof *b->ent)))
        rc = tk_errf(err, TK_ENOMEM, "out of memory");
    /* no arithmetic on b->raw when the frame did not load (it is NULL) */
    const uint8_t *p = (const uint8_t *)b->raw, *end = rc ? p : p + x->blocks[no].rawlen;
    for (uint32_t i = 0; i < b->count && !rc; i++) {
        uint64_t l;
        size_t k = tk_get_varint(p, (size_t)(end - p), &l);
        if (!k || l > (uint64_t)(end - p - (ptrdiff_t)k)) {
            rc = TK_ECORRUPT;
            break;
        }
        b->ent[i].idoff = (uint32_t)(p + k - (const uint8_t *)b->raw);
        b->ent[i].idlen = (uint32_t)l;
        p += k + l;
        k = tk_get_varint(p, (size_t)(end - p), &l);
        if (!k || l > (uint64_t)(end - p - (ptrdiff_t)k)) {
            rc = TK_ECORRUPT;
            break;
        }
        b->ent[i].jsonoff = (uint32_t)(p + k - (const uint8_t *)b->raw);
        b->ent[i].jsonlen = (uint32_t)l;
        p += k + l;
    }
    if (rc == TK_ECORRUPT)
        tk_errf(err, rc, "segment %s: block %u damaged; run trailkeep verify", s->path, no);
    if (rc) {
        blk_free(b);
        return rc;
    }
    b->bytes = sizeof *b + x->blocks[no].rawlen + b->count * sizeof *b->ent;
    *out = b;
    return 0;
}

int segblk_get(segcache_t *c, segidx_t *x, uint32_t ord, segblk_t **out, char *err)
{
    seg_t *s = x->seg;
    uint32_t no = seg_block_of(x, ord);
    pthread_mutex_lock(&c->mu);
    if (!s->blk && !(s->blk = calloc(s->nblocks, sizeof *s->blk))) {
        pthread_mutex_unlock(&c->mu);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    segblk_t *b = s->blk[no];
    if (b) {
        b->refs++;
        LRU_UNLINK(c, bhead, btail, b);
        LRU_FRONT(c, bhead, btail, b);
        pthread_mutex_unlock(&c->mu);
        *out = b;
        return 0;
    }
    pthread_mutex_unlock(&c->mu);
    int rc = blk_load(c, x, no, &b, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&c->mu);
    if (s->blk[no]) {
        blk_free(b);
        b = s->blk[no];
        LRU_UNLINK(c, bhead, btail, b);
    } else {
        s->blk[no] = b;
        c->blk_bytes += b->bytes;
    }
    b->refs++;
    LRU_FRONT(c, bhead, btail, b);
    evict(c);
    pthread_mutex_unlock(&c->mu);
    *out = b;
    return 0;
}

void segblk_put(segcache_t *c, segblk_t *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&c->mu);
    b->refs--;
    evict(c);
    pthread_mutex_unlock(&c->mu);
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* x->ids: (hash32 << 32 | ordinal) for every event, sorted, built on first use
 * from SEC_IDS (which holds just the hashes, in ordinal order). */
static int lazy_ids(segcache_t *c, segidx_t *x, char *err)
{
    pthread_mutex_lock(&c->mu);
    int have = x->ids != NULL;
    pthread_mutex_unlock(&c->mu);
    if (have)
        return 0;
    uint32_t n = x->seg->nevents;
    uint8_t *raw = NULL;
    int rc = read_sec(x->seg, SEC_IDS, &raw, err);
    if (rc)
        return rc;
    if (!raw || x->seg->sec[SEC_IDS].rawlen != (uint64_t)n * SEG_ID_ENTRY_SIZE) {
        free(raw);
        return tk_errf(err, TK_ECORRUPT, "segment %s: eventId index damaged", x->seg->path);
    }
    uint64_t *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        free(raw);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < n; i++)
        v[i] = (uint64_t)tk_get_u32le(raw + (size_t)i * 4) << 32 | i;
    free(raw);
    qsort(v, n, sizeof *v, u64_cmp);
    pthread_mutex_lock(&c->mu);
    if (x->ids) {
        free(v);
    } else {
        x->ids = (uint8_t *)v;
        x->bytes += (uint64_t)n * 8;
        c->bytes += (uint64_t)n * 8;
    }
    pthread_mutex_unlock(&c->mu);
    return 0;
}

int segidx_find_id(segcache_t *c, segidx_t *x, const char *id, size_t idlen, uint32_t *ordp,
                   char *err)
{
    int rc = lazy_ids(c, x, err);
    if (rc)
        return rc;
    uint32_t n = x->seg->nevents;
    const uint64_t *v = (const uint64_t *)(const void *)x->ids;
    uint64_t h = (uint64_t)(uint32_t)tk_hash64(id, idlen) << 32;
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (v[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < n && (v[lo] >> 32) == (h >> 32); lo++) {
        uint32_t ord = (uint32_t)v[lo];
        segblk_t *b = NULL;
        if ((rc = segblk_get(c, x, ord, &b, err)))
            return rc;
        const segent_t *e = &b->ent[ord - b->first];
        int same = e->idlen == idlen && !memcmp(b->raw + e->idoff, id, idlen);
        segblk_put(c, b);
        if (same) {
            if (ordp)
                *ordp = ord;
            return 1;
        }
    }
    return 0;
}

int seg_read_replaces(const seg_t *s, uint64_t **idx, uint8_t (**hash)[32], size_t *n, char *err)
{
    *idx = NULL;
    *hash = NULL;
    *n = 0;
    uint8_t *raw;
    int rc = read_sec(s, SEC_REPLACES, &raw, err);
    if (rc || !raw)
        return rc;
    uint32_t len = s->sec[SEC_REPLACES].rawlen;
    uint64_t cnt;
    size_t k = tk_get_varint(raw, len, &cnt);
    if (!k || cnt > (len - k) / 40 || (len - k) != cnt * 40) {
        free(raw);
        return tk_errf(err, TK_ECORRUPT, "segment %s: replaces list damaged", s->path);
    }
    *idx = malloc((cnt ? cnt : 1) * sizeof **idx);
    *hash = malloc((cnt ? cnt : 1) * sizeof **hash);
    if (!*idx || !*hash) {
        free(*idx);
        free(*hash);
        free(raw);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    for (uint64_t i = 0; i < cnt; i++) {
        (*idx)[i] = tk_get_u64le(raw + k + i * 40);
        memcpy((*hash)[i], raw + k + i * 40 + 8, 32);
    }
    *n = (size_t)cnt;
    free(raw);
    return 0;
}

typedef struct tref {
    uint32_t ord;
    uint8_t attr;
    uint32_t len;
    const char *p;
} tref_t;

int seg_read_events(segcache_t *c, seg_t *s, mev_t ***out, size_t *nout, char *err)
{
    segidx_t *x = NULL;
    int rc = segidx_get(c, s, &x, err);
    if (rc)
        return rc;
    uint32_t n = s->nevents;
    tref_t *refs = NULL;
    size_t nref = 0, capref = 0;
    uint32_t *cnt = calloc((size_t)n + 1, sizeof *cnt);
    mev_t **ev = calloc(n, sizeof *ev);
    uint32_t *ords = malloc((size_t)n * sizeof *ords);
    if (!cnt || !ev || !ords)
        rc = tk_errf(err, TK_ENOMEM, "out of memory");
    for (int a = 0; a < TK_ATTR__COUNT && !rc; a++) {
        if (a == TK_ATTR_EVENTID)
            continue;
        int sec = SEC_ATTR0 + a;
        if ((rc = lazy_sec(c, x, sec, &x->attr[a], err)) || !x->attr[a])
            continue;
        const uint8_t *p = x->attr[a], *end = p + s->sec[sec].rawlen;
        uint64_t nterms, tl, bl;
        size_t k = tk_get_varint(p, (size_t)(end - p), &nterms);
        p += k;
        for (uint64_t i = 0; i < nterms && !rc; i++) {
            if (!(k = tk_get_varint(p, (size_t)(end - p), &tl)) || tl > (uint64_t)(end - p - (ptrdiff_t)k)) {
                rc = TK_ECORRUPT;
                break;
            }
            const char *t = (const char *)p + k;
            p += k + tl;
            if (!(k = tk_get_varint(p, (size_t)(end - p), &bl)) ||
                (bl >> 1) > (uint64_t)(end - p - (ptrdiff_t)k)) {
                rc = TK_ECORRUPT;
                break;
            }
            roaring_bitmap_t *bm = posting_decode(p + k, bl, n);
            p += k + (bl >> 1);
            if (!bm) {
                rc = TK_ECORRUPT;
                break;
            }
            uint64_t card = roaring_bitmap_get_cardinality(bm);
            if (card > n || (card && roaring_bitmap_maximum(bm) >= n)) {
                roaring_bitmap_free(bm);
                rc = TK_ECORRUPT;
                break;
            }
            roaring_bitmap_to_uint32_array(bm, ords);
            roaring_bitmap_free(bm);
            for (uint64_t j = 0; j < card; j++) {
                if (nref == capref) {
                    capref = capref ? capref * 2 : 4096;
                    tref_t *nr = realloc(refs, capref * sizeof *nr);
                    if (!nr) {
                        rc = TK_ENOMEM;
                        break;
                    }
                    refs = nr;
                }
                refs[nref++] = (tref_t){ords[j], (uint8_t)a, (uint32_t)tl, t};
                cnt[ords[j] + 1]++;
            }
        }
    }
    if (rc == TK_ECORRUPT)
        tk_errf(err, rc, "segment %s: attribute index damaged", s->path);
    else if (rc == TK_ENOMEM)
        tk_errf(err, rc, "out of memory");
    /* counting sort of the references by ordinal */
    tref_t *byord = NULL;
    mterm_t *mt = NULL;
    if (!rc) {
        for (uint32_t i = 0; i < n; i++)
            cnt[i + 1] += cnt[i];
        byord = malloc((nref ? nref : 1) * sizeof *byord);
        mt = malloc((nref ? nref : 1) * sizeof *mt);
        if (!byord || !mt)
            rc = tk_errf(err, TK_ENOMEM, "out of memory");
    }
    if (!rc) {
        uint32_t *fill = ords; /* reuse: next slot per ordinal */
        memcpy(fill, cnt, (size_t)n * sizeof *fill);
        for (size_t i = 0; i < nref; i++)
            byord[fill[refs[i].ord]++] = refs[i];
        for (size_t i = 0; i < nref; i++)
            mt[i] = (mterm_t){byord[i].attr, byord[i].len, byord[i].p};
    }
    for (uint32_t o = 0; o < n && !rc; o++) {
        segblk_t *b = NULL;
        if ((rc = segblk_get(c, x, o, &b, err)))
            break;
        const segent_t *e = &b->ent[o - b->first];
        ev[o] = mev_alloc(x->seqs[o], s->day * TK_MS_PER_DAY + x->trel[o], b->raw + e->idoff,
                          e->idlen, b->raw + e->jsonoff, e->jsonlen, cnt[o + 1] - cnt[o],
                          mt + cnt[o]);
        segblk_put(c, b);
        if (!ev[o])
            rc = tk_errf(err, TK_ENOMEM, "out of memory");
    }
    segidx_put(c, x);
    free(refs);
    free(byord);
    free(mt);
    free(cnt);
    free(ords);
    if (rc) {
        for (uint32_t o = 0; ev && o < n; o++)
            free(ev[o]);
        free(ev);
        return rc;
    }
    *out = ev;
    *nout = n;
    return 0;
}

/* ---- dictionaries ---------------------------------------------------------- */

static void dict_path(const char *storedir, const uint8_t id[32], char *out, size_t n)
{
    char hex[65];
    tk_hex(id, 32, hex);
    snprintf(out, n, "%s/dict/%s.zdict", storedir, hex);
}

static int dict_make(const void *buf, size_t len, segdict_t **out, char *err)
{
    segdict_t *d = calloc(1, sizeof *d);
    if (!d)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    tk_sha256(buf, len, d->id);
    d->cdict = ZSTD_createCDict(buf, len, SEG_ZSTD_LEVEL);
    d->ddict = ZSTD_createDDict(buf, len);
    if (!d->cdict || !d->ddict) {
        dict_free(d);
        return tk_errf(err, TK_ENOMEM, "cannot set up a zstd dictionary");
    }
    *out = d;
    return 0;
}

void dict_free(segdict_t *d)
{
    if (!d)
        return;
    ZSTD_freeCDict(d->cdict);
    ZSTD_freeDDict(d->ddict);
    free(d);
}

int dict_check(const char *storedir, const uint8_t id[32], char *err)
{
    char path[PATH_MAX + 96], *buf;
    size_t len;
    dict_path(storedir, id, path, sizeof path);
    int rc = tk_fs_read_all(path, &buf, &len, err);
    if (rc)
        return rc;
    uint8_t h[32];
    tk_sha256(buf, len, h);
    free(buf);
    if (memcmp(h, id, 32))
        return tk_errf(err, TK_ECORRUPT, "dictionary %s does not match its name", path);
    return 0;
}

int dict_load(const char *storedir, const uint8_t id[32], segdict_t **out, char *err)
{
    char path[PATH_MAX + 96], *buf;
    size_t len;
    dict_path(storedir, id, path, sizeof path);
    int rc = tk_fs_read_all(path, &buf, &len, err);
    if (rc)
        return rc;
    uint8_t h[32];
    tk_sha256(buf, len, h);
    if (memcmp(h, id, 32)) {
        free(buf);
        return tk_errf(err, TK_ECORRUPT, "dictionary %s does not match its name; run trailkeep verify",
                       path);
    }
    rc = dict_make(buf, len, out, err);
    free(buf);
    return rc;
}

int dict_train(const char *storedir, mev_t *const *ev, size_t n, segdict_t **out, char *err)
{
    /* up to 8 MiB of whole events, spread evenly over the input */
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += ev[i]->jsonlen;
    size_t step = total > (8u << 20) ? total / (8u << 20) + 1 : 1;
    size_t ns = 0;
    tk_buf_t buf = TK_BUF_INIT;
    size_t *sizes = malloc((n / step + 1) * sizeof *sizes);
    if (!sizes)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i += step) {
        if (tk_buf_append(&buf, ev[i]->json, ev[i]->jsonlen)) {
            free(sizes);
            tk_buf_free(&buf);
            return tk_errf(err, TK_ENOMEM, "out of memory");
        }
        sizes[ns++] = ev[i]->jsonlen;
    }
    /* fastCover with the parameters ZDICT_optimizeTrainFromBuffer_fastCover
     * picks on gen events (k=1998, d=8): the search itself took 0.25 s of a
     * 1M-event import, training with them 0.07 s, same dictionary size */
    ZDICT_fastCover_params_t fp;
    memset(&fp, 0, sizeof fp);
    fp.k = 2000;
    fp.d = 8;
    fp.f = 20;
    fp.accel = 1;
    fp.zParams.compressionLevel = SEG_ZSTD_LEVEL;
    uint8_t *dict = malloc(DICT_SIZE);
    size_t dl = dict ? ZDICT_trainFromBuffer_fastCover(dict, DICT_SIZE, buf.p, sizes, (unsigned)ns, fp) : 0;
    free(sizes);
    tk_buf_free(&buf);
    if (!dict || ZDICT_isError(dl)) {
        free(dict);
        return tk_errf(err, TK_EINVAL, "could not train a dictionary: %s",
                       dict ? ZDICT_getErrorName(dl) : "out of memory");
    }
    int rc = dict_make(dict, dl, out, err);
    char path[PATH_MAX + 96], dir[PATH_MAX + 8];
    if (!rc) {
        snprintf(dir, sizeof dir, "%s/dict", storedir);
        dict_path(storedir, (*out)->id, path, sizeof path);
        if ((rc = tk_fs_mkdirs_private(dir, err)) || (rc = tk_fs_write_atomic(path, dict, dl, err))) {
            dict_free(*out);
            *out = NULL;
        }
    }
    free(dict);
    return rc;
}

/* trailkeep store: the write-ahead log (format.h, "WAL RECORD").
 * Invariants: records are contiguous in seq (each is the previous + 1, also
 * across files); a group is written with one write() and made durable with
 * one fdatasync before anyone is told it is stored; a failed group is cut
 * off again (ftruncate) so the file only ever holds whole acknowledged groups
 * plus, after a crash, one torn tail that replay removes. */
#define _GNU_SOURCE
#include "store/store_internal.h"

#include "base/buf.h"
#include "base/fs.h"
#include "base/hash.h"
#include "base/tk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

int mev_cmp(const mev_t *a, const mev_t *b)
{
    if (a->time_ms != b->time_ms)
        return a->time_ms < b->time_ms ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

mev_t *mev_alloc(uint64_t seq, int64_t t, const char *id, size_t idlen, const char *json,
                        size_t jsonlen, uint32_t nterms, const mterm_t *terms)
{
    size_t tl = 0;
    for (uint32_t i = 0; i < nterms; i++)
        tl += terms[i].len;
    size_t sz = sizeof(mev_t) + nterms * sizeof(mterm_t) + idlen + jsonlen + tl + 2;
    mev_t *m = malloc(sz);
    if (!m)
        return NULL;
    m->seq = seq;
    m->time_ms = t;
    m->nterms = nterms;
    m->terms = (mterm_t *)(void *)m->data;
    char *p = m->data + nterms * sizeof(mterm_t);
    memcpy(p, id, idlen);
    p[idlen] = 0;
    m->id = p;
    m->idlen = (uint32_t)idlen;
    p += idlen + 1;
    memcpy(p, json, jsonlen);
    p[jsonlen] = 0;
    m->json = p;
    m->jsonlen = (uint32_t)jsonlen;
    p += jsonlen + 1;
    for (uint32_t i = 0; i < nterms; i++) {
        m->terms[i].attr = terms[i].attr;
        m->terms[i].len = terms[i].len;
        memcpy(p, terms[i].p, terms[i].len);
        m->terms[i].p = p;
        p += terms[i].len;
    }
    m->idhash = tk_hash64(id, idlen);
    return m;
}

mev_t *mev_from_event(const tk_event_t *ev, uint64_t seq)
{
    mterm_t stack[64], *t = stack;
    if (ev->nterms > 64 && !(t = malloc(ev->nterms * sizeof *t)))
        return NULL;
    uint32_t n = 0;
    for (uint32_t i = 0; i < ev->nterms; i++) {
        if ((unsigned)ev->terms[i].attr >= TK_ATTR__COUNT || ev->terms[i].attr == TK_ATTR_EVENTID)
            continue; /* EventId has its own index */
        t[n].attr = (uint8_t)ev->terms[i].attr;
        t[n].len = ev->terms[i].val.len;
        t[n].p = ev->terms[i].val.p;
        n++;
    }
    mev_t *m = mev_alloc(seq, ev->time_ms, ev->event_id.p, ev->event_id.len, ev->json.p,
                         ev->json.len, n, n ? t : NULL);
    if (t != stack)
        free(t);
    return m;
}

/* Appends ev of account acct as one inner record ([u32 len][payload]) of
 * the group being built in b; wal_write_group() frames the group. */
int wal_encode_rec(tk_buf_t *b, const char *acct, size_t acctlen, const mev_t *ev)
{
    size_t start = b->len;
    int rc = tk_buf_reserve(b, 64 + acctlen + ev->idlen + ev->jsonlen + ev->nterms * 40u);
    if (rc)
        return rc;
    rc |= tk_buf_put_u32le(b, 0);
    rc |= tk_buf_putc(b, (char)WAL_KIND_EVENT);
    rc |= tk_buf_put_varint(b, acctlen);
    rc |= tk_buf_append(b, acct, acctlen);
    rc |= tk_buf_put_u64le(b, (uint64_t)ev->time_ms);
    rc |= tk_buf_put_varint(b, ev->idlen);
    rc |= tk_buf_append(b, ev->id, ev->idlen);
    rc |= tk_buf_put_varint(b, ev->nterms);
    for (uint32_t i = 0; i < ev->nterms; i++) {
        rc |= tk_buf_putc(b, (char)ev->terms[i].attr);
        rc |= tk_buf_put_varint(b, ev->terms[i].len);
        rc |= tk_buf_append(b, ev->terms[i].p, ev->terms[i].len);
    }
    rc |= tk_buf_put_varint(b, ev->jsonlen);
    rc |= tk_buf_append(b, ev->json, ev->jsonlen);
    if (rc)
        return TK_ENOMEM;
    uint32_t len = (uint32_t)(b->len - start - 4);
    uint8_t *p = (uint8_t *)b->p + start;
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(len >> (8 * i));
    return 0;
}

/* Checks a frame at p[0..n) and returns its payload (decompressed into
 * *scratch when needed). 0, or TK_ECORRUPT with why filled; *flen is the
 * frame's size on disk. */
static int frame_open(const uint8_t *p, size_t n, uint64_t *first, uint32_t *count,
                      const uint8_t **payload, size_t *plen, tk_buf_t *scratch, size_t *flen,
                      char *why, size_t whylen)
{
    if (n < WAL_FRAME_HDR) {
        snprintf(why, whylen, "torn frame header");
        return TK_ECORRUPT;
    }
    uint32_t len = tk_get_u32le(p), ck = tk_get_u32le(p + 4);
    if (len < WAL_FRAME_HDR - 8 || len > WAL_MAX_FRAME || len > n - 8) {
        snprintf(why, whylen, "bad or torn frame length %u", len);
        return TK_ECORRUPT;
    }
    if (tk_checksum32(p + 8, len) != ck) {
        snprintf(why, whylen, "checksum mismatch");
        return TK_ECORRUPT;
    }
    *first = tk_get_u64le(p + 8);
    *count = tk_get_u32le(p + 16);
    uint32_t raw = tk_get_u32le(p + 20);
    uint8_t flags = p[24];
    const uint8_t *body = p + WAL_FRAME_HDR;
    size_t blen = len + 8 - WAL_FRAME_HDR;
    *flen = 8 + (size_t)len;
    if (!(flags & WAL_FRAME_ZSTD)) {
        if (raw != blen) {
            snprintf(why, whylen, "frame size fields disagree");
            return TK_ECORRUPT;
        }
        *payload = body;
        *plen = blen;
        return 0;
    }
    tk_buf_reset(scratch);
    if (raw > WAL_MAX_FRAME || tk_buf_reserve(scratch, raw)) {
        snprintf(why, whylen, "frame too large to decompress (%u bytes)", raw);
        return TK_ECORRUPT;
    }
    size_t d = ZSTD_decompress(scratch->p, raw, body, blen);
    if (ZSTD_isError(d) || d != raw) {
        snprintf(why, whylen, "frame does not decompress");
        return TK_ECORRUPT;
    }
    *payload = (const uint8_t *)scratch->p;
    *plen = raw;
    return 0;
}

/* Splits a frame payload into its count records: 0 when they fill it exactly. */
static int frame_records_ok(const uint8_t *p, size_t n, uint32_t count)
{
    size_t off = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (n - off < 4)
            return 0;
        uint32_t l = tk_get_u32le(p + off);
        if (l < 1 || l > n - off - 4)
            return 0;
        off += 4 + (size_t)l;
    }
    return off == n;
}

static int get_bytes(const uint8_t **p, const uint8_t *end, const char **s, uint64_t *len)
{
    size_t k = tk_get_varint(*p, (size_t)(end - *p), len);
    if (!k || *len > (uint64_t)(end - *p - (ptrdiff_t)k))
        return TK_ECORRUPT;
    *s = (const char *)*p + k;
    *p += k + *len;
    return 0;
}

int wal_decode(const uint8_t *p, size_t n, uint64_t seq, mev_t **out, tk_str_t *account)
{
    const uint8_t *end = p + n;
    const char *acct, *id, *json;
    uint64_t alen, idlen, jlen, nterms;
    if (n < 1 || *p++ != WAL_KIND_EVENT)
        return TK_ECORRUPT;
    if (get_bytes(&p, end, &acct, &alen) || end - p < 8)
        return TK_ECORRUPT;
    int64_t t = (int64_t)tk_get_u64le(p);
    p += 8;
    if (get_bytes(&p, end, &id, &idlen))
        return TK_ECORRUPT;
    size_t k = tk_get_varint(p, (size_t)(end - p), &nterms);
    if (!k || nterms > 65536)
        return TK_ECORRUPT;
    p += k;
    mterm_t stack[64], *terms = stack;
    if (nterms > 64 && !(terms = malloc(nterms * sizeof *terms)))
        return TK_ENOMEM;
    int rc = 0;
    for (uint64_t i = 0; i < nterms && !rc; i++) {
        uint64_t tl;
        if (p >= end || *p >= TK_ATTR__COUNT) {
            rc = TK_ECORRUPT;
            break;
        }
        terms[i].attr = *p++;
        rc = get_bytes(&p, end, &terms[i].p, &tl);
        terms[i].len = (uint32_t)tl;
    }
    if (!rc && (get_bytes(&p, end, &json, &jlen) || p != end))
        rc = TK_ECORRUPT;
    if (!rc) {
        *out = mev_alloc(seq, t, id, idlen, json, jlen, (uint32_t)nterms, terms);
        if (!*out)
            rc = TK_ENOMEM;
        account->p = acct;
        account->len = (uint32_t)alen;
    }
    if (terms != stack)
        free(terms);
    return rc;
}

static void wal_path(const wal_t *w, uint64_t first, char *out, size_t n)
{
    snprintf(out, n, "%s/%020" PRIu64 ".wal", w->dir, first);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int files_push(wal_t *w, uint64_t first, uint64_t len)
{
    if (w->nfiles == w->capfiles) {
        size_t nc = w->capfiles ? w->capfiles * 2 : 16;
        wal_file_t *f = realloc(w->files, nc * sizeof *f);
        if (!f)
            return TK_ENOMEM;
        w->files = f;
        w->capfiles = nc;
    }
    w->files[w->nfiles].first_seq = first;
    w->files[w->nfiles].durable_len = len;
    w->nfiles++;
    return 0;
}

/* Scans one file's frames; returns the length of the good prefix. *prev is
 * the seq of the record before this file (0 if none). */
static size_t scan_records(const uint8_t *p, size_t n, uint64_t first, uint64_t *prev,
                           wal_apply_fn apply, void *ud, int *apply_rc, char *why, size_t whylen)
{
    size_t off = 0;
    tk_buf_t scratch = TK_BUF_INIT;
    while (off < n) {
        uint64_t fs;
        uint32_t count;
        const uint8_t *pl;
        size_t plen, flen;
        char w2[96];
        if (frame_open(p + off, n - off, &fs, &count, &pl, &plen, &scratch, &flen, w2, sizeof w2)) {
            snprintf(why, whylen, "%s at offset %zu", w2, off);
            break;
        }
        if (off == 0 && fs != first) {
            snprintf(why, whylen, "first frame has seq %" PRIu64 ", the file name says %" PRIu64,
                     fs, first);
            break;
        }
        if ((*prev && fs != *prev + 1) || count == 0 || !frame_records_ok(pl, plen, count)) {
            snprintf(why, whylen, "frame at offset %zu out of sequence or malformed", off);
            break;
        }
        size_t ro = 0;
        for (uint32_t i = 0; i < count; i++) {
            uint32_t l = tk_get_u32le(pl + ro);
            int rc = apply ? apply(ud, fs + i, pl + ro + 4, l) : 0;
            if (rc) {
                /* the frame's checksum held: a record that does not decode is a
                 * bug or memory exhaustion, not a torn write; stop, cut nothing */
                *apply_rc = rc;
                tk_buf_free(&scratch);
                return off;
            }
            ro += 4 + (size_t)l;
        }
        *prev = fs + count - 1;
        off += flen;
    }
    tk_buf_free(&scratch);
    return off;
}

int wal_open(wal_t *w, const char *dir, int read_only, int no_fsync, wal_apply_fn apply, void *ud,
             uint64_t *last_seq, uint64_t *cut_bytes, char *cutmsg, char *err)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    w->no_fsync = no_fsync;
    pthread_mutex_init(&w->mu, NULL);
    snprintf(w->dir, sizeof w->dir, "%s/wal", dir);
    *cut_bytes = 0;
    if (cutmsg)
        cutmsg[0] = 0;
    if (!read_only) {
        int rc = tk_fs_mkdirs_private(w->dir, err);
        if (rc)
            return rc;
    }
    DIR *d = opendir(w->dir);
    uint64_t *firsts = NULL;
    size_t nf = 0, capf = 0;
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            size_t l = strlen(de->d_name);
            if (l != 24 || strcmp(de->d_name + 20, ".wal"))
                continue;
            char *e;
            uint64_t v = strtoull(de->d_name, &e, 10);
            if (e != de->d_name + 20)
                continue;
            if (nf == capf) {
                capf = capf ? capf * 2 : 16;
                uint64_t *nfp = realloc(firsts, capf * sizeof *nfp);
                if (!nfp) {
                    free(firsts);
                    closedir(d);
                    return tk_errf(err, TK_ENOMEM, "out of memory listing the WAL");
                }
                firsts = nfp;
            }
            firsts[nf++] = v;
        }
        closedir(d);
    }
    if (nf)
        qsort(firsts, nf, sizeof *firsts, cmp_u64);
    uint64_t prev = 0;
    int rc = 0, stop = 0;
    for (size_t i = 0; i < nf && !rc; i++) {
        char path[PATH_MAX + 32];
        wal_path(w, firsts[i], path, sizeof path);
        if (stop) {
            /* after a cut, later files cannot be trusted to follow on: keep them aside */
            char aside[PATH_MAX + 48];
            snprintf(aside, sizeof aside, "%s.orphan", path);
            struct stat st;
            if (stat(path, &st) == 0)
                *cut_bytes += (uint64_t)st.st_size;
            if (!read_only)
                rename(path, aside);
            continue;
        }
        char *data = NULL;
        size_t n = 0;
        rc = tk_fs_read_all(path, &data, &n, err);
        if (rc)
            break;
        if (prev && firsts[i] != prev + 1) {
            stop = 1;
            *cut_bytes += n;
            if (cutmsg)
                snprintf(cutmsg, TK_ERRLEN, "WAL file %.160s does not follow seq %" PRIu64, path, prev);
            free(data);
            if (!read_only) {
                char aside[PATH_MAX + 48];
                snprintf(aside, sizeof aside, "%s.orphan", path);
                rename(path, aside);
            }
            continue;
        }
        char why[160] = "";
        int arc = 0;
        size_t good = scan_records((const uint8_t *)data, n, firsts[i], &prev, apply, ud, &arc, why, sizeof why);
        free(data);
        if (arc) {
            rc = tk_errf(err, arc, "cannot replay WAL file %s: %s", path, tk_strerror(arc));
            break;
        }
        if (good < n) {
            *cut_bytes += n - good;
            if (cutmsg)
                snprintf(cutmsg, TK_ERRLEN, "cut %zu bytes from WAL file %.100s: %.80s", n - good, path,
                         why);
            if (!read_only) {
                int fd = open(path, O_WRONLY | O_CLOEXEC);
                if (fd < 0 || ftruncate(fd, (off_t)good) != 0 || (!no_fsync && fsync(fd) != 0)) {
                    int e = errno;
                    if (fd >= 0)
                        close(fd);
                    rc = tk_errf(err, tk_from_errno(e), "cannot cut the torn tail of %s: %s",
                                 path, strerror(e));
                    break;
                }
                close(fd);
            }
            stop = 1;
        }
        if (good == 0 && !read_only) {
            unlink(path);
            continue;
        }
        if (good == 0)
            continue;
        rc = files_push(w, firsts[i], good);
    }
    free(firsts);
    if (rc)
        return rc;
    *last_seq = prev;
    if (w->nfiles) {
        w->cur_first = w->files[w->nfiles - 1].first_seq;
        w->cur_len = w->files[w->nfiles - 1].durable_len;
        w->rotate_next = w->cur_len >= WAL_ROTATE_BYTES;
    } else {
        w->rotate_next = 1;
    }
    return 0;
}

void wal_close(wal_t *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    free(w->files);
    w->files = NULL;
    tk_buf_free(&w->frame);
    ZSTD_freeCCtx(w->cctx);
    w->cctx = NULL;
    pthread_mutex_destroy(&w->mu);
}

static int wal_sync(wal_t *w, int fd)
{
    if (w->no_fsync)
        return 0;
    return fdatasync(fd) == 0 ? 0 : tk_from_errno(errno);
}

int wal_write_group(wal_t *w, const void *buf, size_t n, uint64_t first_seq, uint32_t count,
                    wal_ticket_t *tk, char *err)
{
    if (n > WAL_MAX_FRAME)
        return tk_errf(err, TK_ETOOBIG, "a WAL group of %zu bytes is over the %u limit; append fewer events per call", n, (unsigned)WAL_MAX_FRAME);
    if (__atomic_load_n(&w->failed, __ATOMIC_SEQ_CST))
        return tk_errf(err, TK_EIO, "the WAL had an fsync failure earlier; restart to recover");
    char path[PATH_MAX + 32];
    if (w->fd < 0 || w->rotate_next) {
        /* each process (and each file past WAL_ROTATE_BYTES or a seal) starts a
         * new file named by its first seq; files are never reopened for append */
        wal_path(w, first_seq, path, sizeof path);
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0)
            return tk_errf(err, tk_from_errno(errno), "cannot create WAL file %s: %s", path,
                           strerror(errno));
        struct stat st;
        if (fstat(fd, &st) != 0 || st.st_size != 0) {
            close(fd);
            return tk_errf(err, TK_EIO, "WAL file %s already exists with data", path);
        }
        if (!w->no_fsync)
            tk_fs_sync_dir(w->dir);
        pthread_mutex_lock(&w->mu);
        int rc = files_push(w, first_seq, 0);
        pthread_mutex_unlock(&w->mu);
        if (rc) {
            close(fd);
            unlink(path);
            return tk_errf(err, rc, "out of memory");
        }
        if (w->fd >= 0)
            close(w->fd);
        w->fd = fd;
        w->cur_first = first_seq;
        w->cur_len = 0;
        w->rotate_next = 0;
    }
    /* frame the group: header, then the records, zstd-compressed when that
     * pays (it cuts the bytes to write and fsync about 5x for event JSON) */
    tk_buf_t *f = &w->frame;
    tk_buf_reset(f);
    size_t bound = ZSTD_compressBound(n);
    if (tk_buf_reserve(f, WAL_FRAME_HDR + bound))
        return tk_errf(err, TK_ENOMEM, "out of memory framing the WAL group");
    uint8_t *h = (uint8_t *)f->p;
    size_t body = n;
    uint8_t flags = 0;
    if (n >= 512) {
        if (!w->cctx)
            w->cctx = ZSTD_createCCtx();
        size_t c = w->cctx ? ZSTD_compressCCtx(w->cctx, h + WAL_FRAME_HDR, bound, buf, n, WAL_ZSTD_LEVEL)
                           : (size_t)-1;
        if (!ZSTD_isError(c) && c < n) {
            body = c;
            flags = WAL_FRAME_ZSTD;
        }
    }
    if (!flags)
        memcpy(h + WAL_FRAME_HDR, buf, n);
    uint32_t len = (uint32_t)(WAL_FRAME_HDR - 8 + body);
    for (int i = 0; i < 8; i++)
        h[8 + i] = (uint8_t)(first_seq >> (8 * i));
    for (int i = 0; i < 4; i++) {
        h[i] = (uint8_t)(len >> (8 * i));
        h[16 + i] = (uint8_t)(count >> (8 * i));
        h[20 + i] = (uint8_t)(n >> (8 * i));
    }
    h[24] = flags;
    uint32_t ck = tk_checksum32(h + 8, len);
    for (int i = 0; i < 4; i++)
        h[4 + i] = (uint8_t)(ck >> (8 * i));
    size_t total = 8 + (size_t)len;
    int rc = 0, e = 0;
    if (w->fail_next_errno) {
        e = w->fail_next_errno;
        w->fail_next_errno = 0;
        tk_fs_write_full(w->fd, h, total / 2); /* a partial write, as a full disk leaves it */
        rc = tk_from_errno(e);
    } else {
        rc = tk_fs_write_full(w->fd, h, total);
        e = errno;
    }
    n = total;
    if (rc == 0) {
        w->cur_len += n;
        if (w->cur_len >= WAL_ROTATE_BYTES)
            w->rotate_next = 1;
        tk->file_first = w->cur_first;
        tk->end = w->cur_len;
        tk->fd = -1;
        /* the fsync runs after the writer role is handed on (wal_sync_group), on
         * its own descriptor so a rotation cannot close it underneath */
        if (!w->no_fsync && (tk->fd = dup(w->fd)) < 0) {
            rc = wal_sync(w, w->fd);
            if (rc) {
                __atomic_store_n(&w->failed, 1, __ATOMIC_SEQ_CST);
                return tk_errf(err, rc, "WAL fsync failed: %s; no event of this batch was stored",
                               strerror(errno));
            }
            tk->fd = -2; /* already durable */
        }
        return 0;
    }
    if (ftruncate(w->fd, (off_t)w->cur_len) != 0 || wal_sync(w, w->fd) != 0) {
        __atomic_store_n(&w->failed, 1, __ATOMIC_SEQ_CST);
        return tk_errf(err, TK_EIO, "WAL write failed (%s) and could not be undone: %s",
                       strerror(e), strerror(errno));
    }
    return tk_errf(err, rc, "cannot write the WAL: %s; no event of this batch was stored%s",
                   strerror(e), rc == TK_ENOSPC ? " (free disk space and retry)" : "");
}

int wal_sync_group(wal_t *w, wal_ticket_t *tk, char *err)
{
    int rc = 0;
    if (tk->fd >= 0) {
        if (fdatasync(tk->fd) != 0) {
            int e = errno;
            /* after a failed fsync the kernel may have dropped dirty pages: trust nothing */
            __atomic_store_n(&w->failed, 1, __ATOMIC_SEQ_CST);
            rc = tk_errf(err, tk_from_errno(e), "WAL fsync failed: %s; restart to recover",
                         strerror(e));
        }
        close(tk->fd);
        tk->fd = -1;
    }
    if (rc)
        return rc;
    pthread_mutex_lock(&w->mu);
    for (size_t i = w->nfiles; i-- > 0;)
        if (w->files[i].first_seq == tk->file_first) {
            if (w->files[i].durable_len < tk->end)
                w->files[i].durable_len = tk->end;
            break;
        }
    pthread_mutex_unlock(&w->mu);
    return 0;
}

void wal_trim(wal_t *w, uint64_t keep_from, uint64_t last_seq)
{
    pthread_mutex_lock(&w->mu);
    size_t drop = 0;
    for (size_t i = 0; i < w->nfiles; i++) {
        uint64_t last_in = i + 1 < w->nfiles ? w->files[i + 1].first_seq - 1 : last_seq;
        /* the file being appended to stays, unless the next write starts a new one */
        if (last_in >= keep_from || (i + 1 == w->nfiles && !w->rotate_next))
            break;
        drop = i + 1;
    }
    if (drop == w->nfiles && w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    for (size_t i = 0; i < drop; i++) {
        char path[PATH_MAX + 32];
        wal_path(w, w->files[i].first_seq, path, sizeof path);
        unlink(path);
    }
    if (drop) /* w->files may be NULL on a store with no WAL file yet */
        memmove(w->files, w->files + drop, (w->nfiles - drop) * sizeof *w->files);
    w->nfiles -= drop;
    pthread_mutex_unlock(&w->mu);
}

uint64_t wal_bytes(wal_t *w)
{
    uint64_t b = 0;
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < w->nfiles; i++)
        b += w->files[i].durable_len;
    pthread_mutex_unlock(&w->mu);
    return b;
}

int wal_read(wal_t *w, uint64_t from, size_t max, tk_event_cb cb, void *ud, size_t *delivered,
             char *err)
{
    pthread_mutex_lock(&w->mu);
    size_t n = w->nfiles;
    wal_file_t *snap = n ? malloc(n * sizeof *snap) : NULL;
    if (n && !snap) {
        pthread_mutex_unlock(&w->mu);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    if (n)
        memcpy(snap, w->files, n * sizeof *snap);
    pthread_mutex_unlock(&w->mu);
    *delivered = 0;
    int rc = 0;
    if (n && from < snap[0].first_seq) {
        uint64_t oldest = snap[0].first_seq;
        free(snap);
        return tk_errf(err, TK_ENOTFOUND,
                       "log position %" PRIu64 " was already trimmed (oldest kept: %" PRIu64
                       "); call tk_store_log_retain before the store seals to keep it",
                       from, oldest);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if (i + 1 < n && snap[i + 1].first_seq <= from)
            continue;
        char path[PATH_MAX + 32];
        wal_path(w, snap[i].first_seq, path, sizeof path);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = tk_errf(err, TK_ENOTFOUND, "WAL file %s was trimmed while reading", path);
            break;
        }
        size_t len = (size_t)snap[i].durable_len;
        uint8_t *data = len ? malloc(len) : NULL;
        ssize_t got = len ? pread(fd, data, len, 0) : 0;
        close(fd);
        if (len && (!data || got != (ssize_t)len)) {
            free(data);
            rc = tk_errf(err, TK_EIO, "cannot read WAL file %s", path);
            break;
        }
        size_t off = 0;
        tk_buf_t scratch = TK_BUF_INIT;
        while (off < len && !rc) {
            uint64_t fs;
            uint32_t count;
            const uint8_t *pl;
            size_t plen, flen;
            char why[96];
            if (frame_open(data + off, len - off, &fs, &count, &pl, &plen, &scratch, &flen, why,
                           sizeof why) ||
                !frame_records_ok(pl, plen, count)) {
                rc = tk_errf(err, TK_ECORRUPT, "WAL file %s is damaged at offset %zu: %s", path, off,
                             why);
                break;
            }
            size_t ro = 0;
            for (uint32_t i = 0; i < count && !rc; i++) {
                uint32_t rl = tk_get_u32le(pl + ro);
                uint64_t seq = fs + i;
                if (seq >= from) {
                    mev_t *m = NULL;
                    tk_str_t acct;
                    rc = wal_decode(pl + ro + 4, rl, seq, &m, &acct);
                    if (rc) {
                        rc = tk_errf(err, rc, "WAL file %s: undecodable record %" PRIu64, path, seq);
                        break;
                    }
                    tk_stored_event_t se = {seq, m->time_ms, acct, {m->json, m->jsonlen}};
                    int r = cb(ud, &se);
                    free(m);
                    (*delivered)++;
                    if (r) {
                        rc = r;
                        break;
                    }
                    if (max && *delivered >= max)
                        break;
                }
                ro += 4 + (size_t)rl;
            }
            if (max && *delivered >= max)
                break;
            off += flen;
        }
        tk_buf_free(&scratch);
        free(data);
        if (max && *delivered >= max)
            break;
    }
    free(snap);
    return rc;
}

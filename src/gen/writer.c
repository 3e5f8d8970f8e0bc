/* trailkeep generator output (see writer.h). Streams go through a 1 MiB
 * buffer (and zlib's gzip wrapper when asked); the folder layout keeps one
 * in-memory buffer per (account, region) for the current time window and
 * writes each as one delivered-style file when the window ends or the buffer
 * grows too big. Memory is bounded by max_file_bytes per open buffer and a
 * global cap that flushes everything. */
#include "gen/writer.h"

#include "base/buf.h"
#include "base/fs.h"
#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"

#include <errno.h>
#include <libdeflate.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CHUNK (1u << 20)
#define TOTAL_CAP (256ull << 20)

static const char *opener(tk_gen_frame_t f)
{
    return f == TK_GEN_FRAME_ARRAY ? "[\n" : f == TK_GEN_FRAME_RECORDS ? "{\"Records\":[\n" : "";
}
static const char *closer(tk_gen_frame_t f)
{
    return f == TK_GEN_FRAME_ARRAY ? "\n]\n" : f == TK_GEN_FRAME_RECORDS ? "\n]}\n" : "";
}
static const char *separator(tk_gen_frame_t f) { return f == TK_GEN_FRAME_JSONL ? "" : ",\n"; }

/* ---- stream ---- */
typedef struct sink {
    FILE *f;
    int own;
    int gz;
    z_stream z;
    unsigned char *zout;
} sink_t;

static int sink_write(sink_t *s, const void *p, size_t n, char *err)
{
    if (!s->gz) {
        if (n && fwrite(p, 1, n, s->f) != n)
            return tk_errf(err, TK_EIO, "write failed: %s", strerror(errno));
        return 0;
    }
    s->z.next_in = (unsigned char *)p;
    s->z.avail_in = (uInt)n;
    while (s->z.avail_in) {
        s->z.next_out = s->zout;
        s->z.avail_out = CHUNK;
        if (deflate(&s->z, Z_NO_FLUSH) == Z_STREAM_ERROR)
            return tk_errf(err, TK_EIO, "gzip compression failed");
        size_t have = CHUNK - s->z.avail_out;
        if (have && fwrite(s->zout, 1, have, s->f) != have)
            return tk_errf(err, TK_EIO, "write failed: %s", strerror(errno));
    }
    return 0;
}

static int sink_finish(sink_t *s, char *err)
{
    int rc = 0;
    if (s->gz) {
        int zr;
        do {
            s->z.next_out = s->zout;
            s->z.avail_out = CHUNK;
            zr = deflate(&s->z, Z_FINISH);
            size_t have = CHUNK - s->z.avail_out;
            if (have && fwrite(s->zout, 1, have, s->f) != have && !rc)
                rc = tk_errf(err, TK_EIO, "write failed: %s", strerror(errno));
        } while (zr == Z_OK);
        if (zr != Z_STREAM_END && !rc)
            rc = tk_errf(err, TK_EIO, "gzip compression failed at the end of the stream");
    }
    if (fflush(s->f) && !rc)
        rc = tk_errf(err, TK_EIO, "write failed: %s", strerror(errno));
    return rc;
}

static void sink_close(sink_t *s)
{
    if (s->gz)
        deflateEnd(&s->z);
    free(s->zout);
    if (s->own && s->f)
        fclose(s->f);
}

static int write_stream(tk_gen_t *g, const tk_gen_write_opts_t *o, tk_gen_write_stats_t *st,
                        char *err)
{
    sink_t s;
    memset(&s, 0, sizeof s);
    int rc = 0;
    if (o->path && strcmp(o->path, "-")) {
        s.f = fopen(o->path, "wb");
        if (!s.f)
            return tk_errf(err, TK_EIO, "cannot create %s: %s", o->path, strerror(errno));
        s.own = 1;
    } else {
        s.f = o->stream ? o->stream : stdout;
    }
    if (o->gzip) {
        s.gz = 1;
        s.zout = malloc(CHUNK);
        if (!s.zout || deflateInit2(&s.z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            s.gz = 0;
            sink_close(&s);
            return tk_errf(err, TK_ENOMEM, "cannot start gzip compression");
        }
    }
    tk_buf_t b = TK_BUF_INIT;
    const char *sep = separator(o->frame);
    size_t seplen = strlen(sep);
    if (tk_buf_reserve(&b, CHUNK + 65536)) {
        rc = tk_errf(err, TK_ENOMEM, "out of memory");
        goto out;
    }
    tk_buf_puts(&b, opener(o->frame));
    for (;;) {
        if (st->events && seplen)
            tk_buf_append(&b, sep, seplen); /* cannot fail: b keeps CHUNK + 64 KiB spare */
        int r = tk_gen_next(g, &b, NULL);
        if (r < 0) {
            rc = tk_errf(err, r, "out of memory generating events");
            goto out;
        }
        if (r == 0) {
            if (st->events && seplen) /* the separator written ahead of nothing */
                b.len -= seplen;
            break;
        }
        st->events++;
        if (o->frame == TK_GEN_FRAME_JSONL)
            tk_buf_putc(&b, '\n');
        if (b.len >= CHUNK) {
            st->bytes += b.len;
            if ((rc = sink_write(&s, b.p, b.len, err)))
                goto out;
            b.len = 0;
        }
    }
    tk_buf_puts(&b, closer(o->frame));
    st->bytes += b.len;
    if ((rc = sink_write(&s, b.p, b.len, err)))
        goto out;
    rc = sink_finish(&s, err);
    st->files = 1;
out:
    tk_buf_free(&b);
    sink_close(&s);
    return rc;
}

/* ---- folder layout ---- */
typedef struct dfile {
    tk_buf_t buf;
    uint64_t events;
    int64_t first_ms;
    uint32_t acct, region;
    int active;
} dfile_t;

typedef struct dstate {
    const tk_gen_write_opts_t *o;
    tk_gen_t *g;
    int cloudtrail;
    struct libdeflate_compressor *cz;
    tk_buf_t zbuf;
    dfile_t **files;      /* [acct * TK_GEN_REGIONS + region] */
    uint32_t *active;     /* indexes of files holding events */
    size_t nactive;
    uint64_t held;        /* bytes held in all buffers */
    tk_gen_write_stats_t *st;
} dstate_t;

static void stamp(int64_t ms, char *out, int ct)
{
    int64_t day = tk_time_day(ms), y;
    unsigned m, d;
    tk_civil_from_days(day, &y, &m, &d);
    unsigned s = (unsigned)((ms - day * TK_MS_PER_DAY) / 1000) % 86400;
    unsigned yy = (unsigned)y % 10000;
    if (ct)
        snprintf(out, 48, "%04u%02u%02uT%02u%02uZ", yy, m, d, s / 3600, s / 60 % 60);
    else
        snprintf(out, 48, "%04u%02u%02u%02u%02u%02u", yy, m, d, s / 3600, s / 60 % 60, s % 60);
}

static int flush_file(dstate_t *ds, dfile_t *f, char *err)
{
    const tk_gen_write_opts_t *o = ds->o;
    if (tk_buf_puts(&f->buf, closer(o->frame)))
        return tk_errf(err, TK_ENOMEM, "out of memory closing a file");
    const void *data = f->buf.p;
    size_t len = f->buf.len;
    if (o->gzip) {
        size_t bound = libdeflate_gzip_compress_bound(ds->cz, len);
        ds->zbuf.len = 0;
        if (tk_buf_reserve(&ds->zbuf, bound))
            return tk_errf(err, TK_ENOMEM, "out of memory compressing a file");
        len = libdeflate_gzip_compress(ds->cz, f->buf.p, f->buf.len, ds->zbuf.p, bound);
        if (!len)
            return tk_errf(err, TK_EIO, "gzip compression failed");
        data = ds->zbuf.p;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) != 1)
        return tk_errf(err, TK_EIO, "MD5 failed");
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    tk_hex(md, mdlen, hex);
    const char *acct = tk_gen_account_id(ds->g, f->acct);
    const char *region = tk_gen_region_name(f->region, ds->cloudtrail);
    int64_t day = tk_time_day(f->first_ms), y;
    unsigned mo, d;
    tk_civil_from_days(day, &y, &mo, &d);
    char ts[48], dirp[4096], path[4400];
    stamp(f->first_ms, ts, ds->cloudtrail);
    if (ds->cloudtrail) {
        snprintf(dirp, sizeof dirp, "%s/AWSLogs/%s/CloudTrail/%s/%04d/%02u/%02u", o->dir, acct,
                 region, (int)y, mo, d);
        snprintf(path, sizeof path, "%s/%s_CloudTrail_%s_%s_%.16s.json%s", dirp, acct, region, ts,
                 hex, o->gzip ? ".gz" : "");
    } else {
        snprintf(dirp, sizeof dirp, "%s/AliyunLogs/Actiontrail/%s/%s/%04d/%02u/%02u", o->dir, acct,
                 region, (int)y, mo, d);
        snprintf(path, sizeof path, "%s/Actiontrail_%s_%s_1002_%llu_%zu_%s.%s", dirp, region, ts,
                 (unsigned long long)f->events, len, hex, o->gzip ? "gz" : "json");
    }
    int rc = tk_fs_mkdirs(dirp, err);
    if (rc)
        return rc;
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return tk_errf(err, TK_EIO, "cannot create %s: %s", path, strerror(errno));
    size_t w = fwrite(data, 1, len, fp);
    if (fclose(fp) || w != len)
        return tk_errf(err, TK_EIO, "cannot write %s: %s", path, strerror(errno));
    ds->st->files++;
    ds->st->bytes += f->buf.len;
    ds->held -= f->buf.len;
    tk_buf_free(&f->buf);
    f->events = 0;
    f->active = 0;
    return 0;
}

static int flush_all(dstate_t *ds, char *err)
{
    for (size_t i = 0; i < ds->nactive; i++) {
        dfile_t *f = ds->files[ds->active[i]];
        if (f->active) {
            int rc = flush_file(ds, f, err);
            if (rc)
                return rc;
        }
    }
    ds->nactive = 0;
    return 0;
}

static int write_dir(tk_gen_t *g, const tk_gen_write_opts_t *o, tk_gen_write_stats_t *st, char *err)
{
    uint32_t fpd = o->files_per_day ? o->files_per_day : 1;
    if (fpd > 24 || 24 % fpd)
        return tk_errf(err, TK_EINVAL, "files per day must divide 24 (1, 2, 3, 4, 6, 8, 12 or 24), "
                       "got %u", fpd);
    int64_t window_ms = TK_MS_PER_DAY / fpd;
    uint64_t maxb = o->max_file_bytes ? o->max_file_bytes : (64ull << 20);
    uint32_t naccts = 0;
    while (tk_gen_account_id(g, naccts))
        naccts++;
    int rc = tk_fs_mkdirs(o->dir, err);
    if (rc)
        return rc;
    dstate_t ds;
    memset(&ds, 0, sizeof ds);
    ds.o = o;
    ds.g = g;
    ds.st = st;
    ds.cloudtrail = tk_gen_shape(g) == TK_GEN_SHAPE_CLOUDTRAIL;
    size_t nslots = (size_t)naccts * TK_GEN_REGIONS;
    ds.files = calloc(nslots, sizeof *ds.files);
    ds.active = calloc(nslots, sizeof *ds.active);
    ds.cz = o->gzip ? libdeflate_alloc_compressor(6) : NULL;
    tk_buf_t ev = TK_BUF_INIT;
    if (!ds.files || !ds.active || (o->gzip && !ds.cz)) {
        rc = tk_errf(err, TK_ENOMEM, "out of memory");
        goto out;
    }
    const char *sep = separator(o->frame);
    int64_t cur_window = INT64_MIN;
    for (;;) {
        tk_gen_info_t info;
        ev.len = 0;
        int r = tk_gen_next(g, &ev, &info);
        if (r < 0) {
            rc = tk_errf(err, r, "out of memory generating events");
            goto out;
        }
        if (r == 0)
            break;
        int64_t w = tk_time_day(info.time_ms) * fpd +
                    (info.time_ms - tk_time_day(info.time_ms) * TK_MS_PER_DAY) / window_ms;
        if (w != cur_window) {
            if ((rc = flush_all(&ds, err)))
                goto out;
            cur_window = w;
        }
        size_t slot = (size_t)info.account_index * TK_GEN_REGIONS + info.region_index;
        dfile_t *f = ds.files[slot];
        if (!f && !(f = ds.files[slot] = calloc(1, sizeof *f))) {
            rc = tk_errf(err, TK_ENOMEM, "out of memory");
            goto out;
        }
        size_t before = f->buf.len;
        if (!f->active) {
            f->active = 1;
            f->acct = info.account_index;
            f->region = info.region_index;
            f->first_ms = info.time_ms;
            ds.active[ds.nactive++] = (uint32_t)slot;
            rc = tk_buf_puts(&f->buf, opener(o->frame));
        } else {
            rc = tk_buf_puts(&f->buf, sep);
        }
        if (!rc)
            rc = tk_buf_append(&f->buf, ev.p, ev.len);
        if (!rc && o->frame == TK_GEN_FRAME_JSONL)
            rc = tk_buf_putc(&f->buf, '\n');
        if (rc) {
            rc = tk_errf(err, TK_ENOMEM, "out of memory buffering a file");
            goto out;
        }
        ds.held += f->buf.len - before;
        f->events++;
        st->events++;
        if (f->buf.len >= maxb && (rc = flush_file(&ds, f, err)))
            goto out;
        if (ds.held >= TOTAL_CAP && (rc = flush_all(&ds, err)))
            goto out;
    }
    rc = flush_all(&ds, err);
out:
    if (ds.files)
        for (size_t i = 0; i < nslots; i++)
            if (ds.files[i]) {
                tk_buf_free(&ds.files[i]->buf);
                free(ds.files[i]);
            }
    free(ds.files);
    free(ds.active);
    tk_buf_free(&ds.zbuf);
    tk_buf_free(&ev);
    if (ds.cz)
        libdeflate_free_compressor(ds.cz);
    return rc;
}

int tk_gen_write(tk_gen_t *g, const tk_gen_write_opts_t *o, tk_gen_write_stats_t *st, char *err)
{
    tk_gen_write_stats_t local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    uint64_t t0 = tk_mono_ns();
    int rc = o->dir ? write_dir(g, o, st, err) : write_stream(g, o, st, err);
    st->seconds = (double)(tk_mono_ns() - t0) / 1e9;
    return rc;
}

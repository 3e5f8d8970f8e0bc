/* trailkeep event sources: walks import paths and reads files as chunks of
 * decompressed bytes (see source.h). Invariant: a JSON Lines chunk ends just
 * before a line that starts a record ("\n{" when there is one, else a
 * newline), so no event is split across chunks; the bytes after the cut are
 * carried to the front of the buffer for the next chunk. */
#include "event/source.h"

#include "base/tk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define ZIN_BYTES (1u << 20)

struct tk_source {
    char **files;
    uint64_t *sizes;
    size_t nfiles, capfiles;
    uint64_t total, done_before; /* on-disk bytes: all files / files finished */
    tk_source_opts_t o;

    size_t cur;        /* file being read, or next to open */
    int open;          /* cur is open */
    int fd;
    int gz;
    z_stream z;
    int z_init, z_in_eof;
    unsigned char *zin;
    uint64_t raw_read; /* on-disk bytes of cur consumed */
    int eof;           /* no more decompressed bytes in cur */
    int doc;           /* whole-document file */
    tk_format_t fmt;

    char *buf;
    size_t cap, len;   /* buf[0..len) holds not-yet-emitted bytes after a carry */
    size_t emitted;    /* bytes at buf's front handed out by the last chunk */
    uint64_t offset;   /* decompressed offset of buf[0] */
    uint64_t line;     /* line number of buf[0] */
    int first_out;     /* next chunk is the file's first */
    uint64_t skip;     /* bytes to drop at open (seek) */
};

static int add_file(tk_source_t *s, const char *path, uint64_t size)
{
    if (s->nfiles == s->capfiles) {
        size_t nc = s->capfiles ? s->capfiles * 2 : 64;
        char **f = realloc(s->files, nc * sizeof *f);
        if (!f)
            return TK_ENOMEM;
        s->files = f;
        uint64_t *z = realloc(s->sizes, nc * sizeof *z);
        if (!z)
            return TK_ENOMEM;
        s->sizes = z;
        s->capfiles = nc;
    }
    s->files[s->nfiles] = strdup(path);
    if (!s->files[s->nfiles])
        return TK_ENOMEM;
    s->sizes[s->nfiles++] = size;
    s->total += size;
    return 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(tk_source_t *s, const char *dir, char *err, int depth)
{
    if (depth > 64)
        return tk_errf(err, TK_EINVAL, "%s: folders nested too deep (symlink loop?)", dir);
    DIR *d = opendir(dir);
    if (!d)
        return tk_errf(err, tk_from_errno(errno), "cannot open folder %s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **x = realloc(names, cap * sizeof *x);
            if (!x) {
                rc = tk_errf(err, TK_ENOMEM, "out of memory listing %s", dir);
                goto done;
            }
            names = x;
        }
        names[n] = strdup(de->d_name);
        if (!names[n]) {
            rc = tk_errf(err, TK_ENOMEM, "out of memory listing %s", dir);
            goto done;
        }
        n++;
    }
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t pl = strlen(dir) + strlen(names[i]) + 2;
        char *path = malloc(pl);
        if (!path) {
            rc = tk_errf(err, TK_ENOMEM, "out of memory");
            break;
        }
        snprintf(path, pl, "%s/%s", dir, names[i]);
        struct stat sb;
        if (stat(path, &sb) == 0) {
            if (S_ISDIR(sb.st_mode)) {
                /* digest files describe log files; they are not events */
                if (strcmp(names[i], "CloudTrail-Digest") != 0 &&
                    strcmp(names[i], "Actiontrail-Digest") != 0)
                    rc = walk(s, path, err, depth + 1);
            } else if (S_ISREG(sb.st_mode) &&
                       (ends_with(names[i], ".json") || ends_with(names[i], ".jsonl") ||
                        ends_with(names[i], ".ndjson") || ends_with(names[i], ".gz"))) {
                if (add_file(s, path, (uint64_t)sb.st_size))
                    rc = tk_errf(err, TK_ENOMEM, "out of memory");
            }
        }
        free(path);
    }
done:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return rc;
}

int tk_source_open(const char *const *paths, size_t npaths, const tk_source_opts_t *opts, tk_source_t **out,
                   char *err)
{
    *out = NULL;
    tk_source_t *s = calloc(1, sizeof *s);
    if (!s)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    s->fd = -1;
    if (opts)
        s->o = *opts;
    if (!s->o.chunk_bytes)
        s->o.chunk_bytes = 16u << 20;
    if (!s->o.max_doc_bytes)
        s->o.max_doc_bytes = (size_t)2 << 30;
    if (s->o.chunk_bytes < 4096)
        s->o.chunk_bytes = 4096;
    int rc = 0;
    for (size_t i = 0; i < npaths && rc == 0; i++) {
        struct stat sb;
        if (stat(paths[i], &sb) != 0) {
            rc = tk_errf(err, errno == ENOENT ? TK_ENOTFOUND : tk_from_errno(errno), "%s: %s", paths[i],
                         errno == ENOENT ? "no such file or folder" : strerror(errno));
        } else if (S_ISDIR(sb.st_mode)) {
            rc = walk(s, paths[i], err, 0);
        } else if (add_file(s, paths[i], (uint64_t)sb.st_size)) {
            rc = tk_errf(err, TK_ENOMEM, "out of memory");
        }
    }
    if (rc) {
        tk_source_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

static void close_file(tk_source_t *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    if (s->z_init)
        inflateEnd(&s->z);
    s->z_init = 0;
    if (s->open) {
        s->done_before += s->sizes[s->cur];
        s->cur++;
    }
    s->open = 0;
    s->len = s->emitted = 0;
}

void tk_source_close(tk_source_t *s)
{
    if (!s)
        return;
    if (s->open)
        close_file(s);
    for (size_t i = 0; i < s->nfiles; i++)
        free(s->files[i]);
    free(s->files);
    free(s->sizes);
    free(s->zin);
    free(s->buf);
    free(s);
}

size_t tk_source_file_count(const tk_source_t *s)
{
    return s->nfiles;
}

const char *tk_source_file_path(const tk_source_t *s, size_t i)
{
    return i < s->nfiles ? s->files[i] : NULL;
}

uint64_t tk_source_total_bytes(const tk_source_t *s)
{
    return s->total;
}

uint64_t tk_source_bytes_done(const tk_source_t *s)
{
    return s->done_before + (s->open ? s->raw_read : 0);
}

static ssize_t read_raw(tk_source_t *s, void *dst, size_t n)
{
    for (;;) {
        ssize_t r = read(s->fd, dst, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r > 0)
            s->raw_read += (uint64_t)r;
        return r;
    }
}

/* Reads up to n decompressed bytes; 0 at the end of the file. */
static int read_some(tk_source_t *s, char *dst, size_t n, size_t *got, char *err)
{
    *got = 0;
    if (!s->gz) {
        ssize_t r = read_raw(s, dst, n);
        if (r < 0)
            return tk_errf(err, tk_from_errno(errno), "%s: read failed: %s", s->files[s->cur], strerror(errno));
        *got = (size_t)r;
        return 0;
    }
    s->z.next_out = (unsigned char *)dst;
    s->z.avail_out = (uInt)(n > (1u << 30) ? (1u << 30) : n);
    while (s->z.avail_out > 0) {
        if (s->z.avail_in == 0 && !s->z_in_eof) {
            ssize_t r = read_raw(s, s->zin, ZIN_BYTES);
            if (r < 0)
                return tk_errf(err, tk_from_errno(errno), "%s: read failed: %s", s->files[s->cur], strerror(errno));
            if (r == 0)
                s->z_in_eof = 1;
            s->z.next_in = s->zin;
            s->z.avail_in = (uInt)r;
        }
        if (s->z.avail_in == 0 && s->z_in_eof) {
            if (s->z_init == 2) /* between members: a clean end */
                break;
            return tk_errf(err, TK_ECORRUPT, "%s: gzip data is truncated: the file is incomplete", s->files[s->cur]);
        }
        if (s->z_init == 2) {
            /* Another member follows only when it starts with the magic;
             * anything else (zero padding) ends the file. */
            if (s->z.next_in[0] != 0x1f) {
                s->z.avail_in = 0;
                s->z_in_eof = 1;
                break;
            }
            inflateReset(&s->z);
            s->z_init = 1;
        }
        int zr = inflate(&s->z, Z_NO_FLUSH);
        if (zr == Z_STREAM_END) {
            s->z_init = 2;
            continue;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            return tk_errf(err, TK_ECORRUPT, "%s: gzip data is corrupt (%s)", s->files[s->cur],
                           s->z.msg ? s->z.msg : "inflate failed");
    }
    *got = (size_t)((char *)s->z.next_out - dst);
    return 0;
}

static int grow(tk_source_t *s, size_t want, char *err)
{
    if (want <= s->cap)
        return 0;
    size_t nc = s->cap ? s->cap : 1 << 16;
    while (nc < want)
        nc *= 2;
    char *b = realloc(s->buf, nc + 64); /* slack so the last event can be parsed without a copy */
    if (!b)
        return tk_errf(err, TK_ENOMEM, "out of memory reading %s", s->files[s->cur]);
    s->buf = b;
    s->cap = nc;
    return 0;
}

/* Fills buf up to `upto` bytes or the end of the file. */
static int fill(tk_source_t *s, size_t upto, char *err)
{
    int rc = grow(s, upto, err);
    if (rc)
        return rc;
    while (!s->eof && s->len < upto) {
        size_t got;
        rc = read_some(s, s->buf + s->len, upto - s->len, &got, err);
        if (rc)
            return rc;
        if (got == 0)
            s->eof = 1;
        s->len += got;
    }
    return 0;
}

static uint64_t count_nl(const char *p, size_t n)
{
    uint64_t c = 0;
    const char *e = p + n;
    while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
        c++;
        p++;
    }
    return c;
}

static int open_file(tk_source_t *s, char *err)
{
    const char *path = s->files[s->cur];
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0)
        return tk_errf(err, tk_from_errno(errno), "%s: cannot open: %s", path, strerror(errno));
    s->open = 1;
    s->raw_read = 0;
    s->eof = 0;
    s->len = s->emitted = 0;
    s->offset = 0;
    s->line = 1;
    s->first_out = 1;
    unsigned char magic[2];
    ssize_t r = pread(s->fd, magic, 2, 0);
    s->gz = r == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    if (s->gz) {
        if (!s->zin && !(s->zin = malloc(ZIN_BYTES)))
            return tk_errf(err, TK_ENOMEM, "out of memory");
        memset(&s->z, 0, sizeof s->z);
        if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK)
            return tk_errf(err, TK_ENOMEM, "%s: cannot start gzip decompression", path);
        s->z_init = 1;
        s->z_in_eof = 0;
    }
    /* Seek: drop bytes before the resume offset, counting their lines. */
    while (s->skip) {
        size_t want = s->skip < s->o.chunk_bytes ? (size_t)s->skip : s->o.chunk_bytes;
        int rc = fill(s, want, err);
        if (rc)
            return rc;
        size_t n = s->len < want ? s->len : want;
        s->line += count_nl(s->buf, n);
        s->offset += n;
        s->skip -= n;
        s->len = 0;
        if (n == 0)
            break;
    }
    int rc = fill(s, s->o.chunk_bytes, err);
    if (rc)
        return rc;
    s->fmt = s->offset ? TK_FMT_JSONL : tk_event_sniff(s->buf, s->len);
    s->doc = s->fmt != TK_FMT_JSONL;
    return 0;
}

/* Where to cut buf[0..len): after the last "\n{" (a record start), else
 * after the last newline; 0 when there is none. */
static size_t cut_point(const char *p, size_t n)
{
    for (size_t i = n; i > 1; i--)
        if (p[i - 1] == '{' && p[i - 2] == '\n')
            return i - 1;
    for (size_t i = n; i > 0; i--)
        if (p[i - 1] == '\n')
            return i;
    return 0;
}

int tk_source_next(tk_source_t *s, tk_source_chunk_t *c, char *err)
{
    for (;;) {
        if (!s->open) {
            if (s->cur >= s->nfiles)
                return 0;
            int rc = open_file(s, err);
            if (rc) {
                if (!s->open) { /* open() itself failed */
                    s->done_before += s->sizes[s->cur];
                    s->cur++;
                } else {
                    close_file(s);
                }
                s->skip = 0;
                return rc;
            }
        } else {
            /* Drop what the previous chunk handed out; keep the carry. */
            if (s->emitted) {
                s->line += count_nl(s->buf, s->emitted);
                s->offset += s->emitted;
                memmove(s->buf, s->buf + s->emitted, s->len - s->emitted);
                s->len -= s->emitted;
                s->emitted = 0;
            }
            if (s->eof && s->len == 0) {
                close_file(s);
                continue;
            }
        }
        size_t cut;
        int rc;
        if (s->doc) {
            /* Whole document: read to the end, bounded. */
            while (!s->eof) {
                if (s->len >= s->o.max_doc_bytes) {
                    rc = tk_errf(err, TK_ETOOBIG,
                                 "%s: a JSON array / Records document over %zu bytes: split it or convert it to JSON Lines",
                                 s->files[s->cur], s->o.max_doc_bytes);
                    close_file(s);
                    return rc;
                }
                size_t want = s->cap * 2 > s->o.max_doc_bytes ? s->o.max_doc_bytes : s->cap * 2;
                if (want <= s->len)
                    want = s->len + 1;
                if ((rc = fill(s, want, err)) != 0) {
                    close_file(s);
                    return rc;
                }
            }
            if (s->len > s->o.max_doc_bytes) {
                rc = tk_errf(err, TK_ETOOBIG,
                             "%s: a JSON array / Records document over %zu bytes: split it or convert it to JSON Lines",
                             s->files[s->cur], s->o.max_doc_bytes);
                close_file(s);
                return rc;
            }
            cut = s->len;
        } else {
            size_t target = s->o.chunk_bytes;
            for (;;) {
                if ((rc = fill(s, target, err)) != 0) {
                    close_file(s);
                    return rc;
                }
                if (s->eof) {
                    cut = s->len;
                    break;
                }
                cut = cut_point(s->buf, s->len);
                if (cut > 0)
                    break;
                /* One line longer than the chunk: read more of it. */
                if (target >= s->o.max_doc_bytes) {
                    cut = s->len;
                    break;
                }
                target = target * 2 > s->o.max_doc_bytes ? s->o.max_doc_bytes : target * 2;
            }
        }
        if (cut == 0 && s->eof) {
            close_file(s);
            continue;
        }
        c->path = s->files[s->cur];
        c->data = s->buf;
        c->len = cut;
        c->format = s->fmt;
        c->first_line = s->line;
        c->offset = s->offset;
        c->file_index = s->cur;
        c->first = s->first_out;
        c->last = s->eof && cut == s->len;
        s->first_out = 0;
        s->emitted = cut;
        memset(s->buf + s->len, 0, 64); /* the slack grow() allocates */
        return 1;
    }
}

int tk_source_seek(tk_source_t *s, size_t file_index, uint64_t offset, char *err)
{
    if (file_index > s->nfiles)
        return tk_errf(err, TK_EINVAL, "resume point: file %zu of %zu does not exist", file_index, s->nfiles);
    if (s->open)
        close_file(s);
    s->cur = file_index;
    s->done_before = 0;
    for (size_t i = 0; i < file_index; i++)
        s->done_before += s->sizes[i];
    s->skip = offset;
    return 0;
}

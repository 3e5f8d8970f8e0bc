/* bench peers: chunked line reader (see lines.h). Invariant: buf[beg..end)
 * holds unread bytes and buf has cap + pad bytes, the pad zeroed, so a line at
 * the very end of the chunk still has readable padding after it. */
#include "lines.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (64u << 20)

struct bx_lines {
    int fd;
    int eof;
    char *buf;
    size_t cap, pad, beg, end;
    uint64_t lineno;
};

bx_lines *bx_lines_open(const char *path, size_t pad)
{
    bx_lines *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    r->cap = CHUNK;
    r->pad = pad;
    r->buf = calloc(1, r->cap + pad);
    if (r->fd < 0 || !r->buf) {
        int e = errno;
        if (r->fd >= 0)
            close(r->fd);
        free(r->buf);
        free(r);
        errno = e;
        return NULL;
    }
    posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return r;
}

static int refill(bx_lines *r)
{
    memmove(r->buf, r->buf + r->beg, r->end - r->beg);
    r->end -= r->beg;
    r->beg = 0;
    while (r->end < r->cap) {
        ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            r->eof = 1;
            break;
        }
        r->end += (size_t)n;
    }
    memset(r->buf + r->end, 0, r->cap + r->pad - r->end);
    return 0;
}

int bx_lines_next(bx_lines *r, const char **line, size_t *len)
{
    for (;;) {
        char *s = r->buf + r->beg;
        char *nl = memchr(s, '\n', r->end - r->beg);
        if (!nl && !r->eof) {
            if (r->beg == 0 && r->end == r->cap) {
                errno = E2BIG;
                return -1;
            }
            if (refill(r))
                return -1;
            continue;
        }
        if (!nl && r->beg == r->end)
            return 0;
        size_t n = nl ? (size_t)(nl - s) : r->end - r->beg;
        r->beg += n + (nl ? 1 : 0);
        r->lineno++;
        if (n && s[n - 1] == '\r')
            n--;
        if (n == 0)
            continue;
        *line = s;
        *len = n;
        return 1;
    }
}

uint64_t bx_lines_lineno(const bx_lines *r)
{
    return r->lineno;
}

void bx_lines_close(bx_lines *r)
{
    if (!r)
        return;
    close(r->fd);
    free(r->buf);
    free(r);
}

/* bench peers: streams a JSON Lines file in large chunks and hands out one
 * line at a time, with `pad` readable bytes after each line (simdjson needs
 * them), without loading the whole file: a 10M-event file is ~11 GB. */
#ifndef BX_LINES_H
#define BX_LINES_H

#include <stddef.h>
#include <stdint.h>

typedef struct bx_lines bx_lines;

/* Returns an owned reader (bx_lines_close) or NULL with errno set. */
bx_lines *bx_lines_open(const char *path, size_t pad);
/* 1 and a line (without '\n', borrowed until the next call), 0 at EOF, -1 on a
 * read error or a line longer than the 64 MiB chunk. Blank lines are skipped. */
int bx_lines_next(bx_lines *r, const char **line, size_t *len);
/* 1-based number of the line last returned. */
uint64_t bx_lines_lineno(const bx_lines *r);
void bx_lines_close(bx_lines *r);

#endif

/* bench peer: turns JSON Lines into PostgreSQL COPY text (tab-separated, the
 * JSON as the last column) on stdout, with the same simdjson extraction as the
 * SQLite loader, so both peers pay the same for getting columns out of JSON.
 * run.sh pipes it into `psql -c "COPY events FROM STDIN"` and times the pipe.
 * usage: pg_copy_text FILE.jsonl  (rejects go to stderr, counted at the end) */
#include "extract.h"
#include "lines.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *out;
static size_t out_len, out_cap;

static void flush_out(void)
{
    if (out_len && fwrite(out, 1, out_len, stdout) != out_len) {
        fprintf(stderr, "pg_copy_text: write: %s\n", strerror(errno));
        exit(1);
    }
    out_len = 0;
}

static void need(size_t n)
{
    if (out_len + n <= out_cap)
        return;
    flush_out();
    if (n > out_cap) {
        out_cap = n * 2;
        out = realloc(out, out_cap);
        if (!out) {
            fprintf(stderr, "pg_copy_text: out of memory\n");
            exit(1);
        }
    }
}

/* COPY text format: backslash, tab, newline and CR must be escaped. */
static void put_text(const char *s, size_t n)
{
    need(2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        switch (c) {
        case '\\': out[out_len++] = '\\'; out[out_len++] = '\\'; break;
        case '\t': out[out_len++] = '\\'; out[out_len++] = 't'; break;
        case '\n': out[out_len++] = '\\'; out[out_len++] = 'n'; break;
        case '\r': out[out_len++] = '\\'; out[out_len++] = 'r'; break;
        default: out[out_len++] = c;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: pg_copy_text FILE.jsonl\n");
        return 2;
    }
    bx_parser *p = bx_parser_new();
    bx_lines *in = bx_lines_open(argv[1], bx_padding());
    if (!p || !in) {
        fprintf(stderr, "pg_copy_text: cannot read %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    out_cap = 4u << 20;
    out = malloc(out_cap);
    uint64_t rows = 0, rejected = 0;
    const char *line;
    size_t len;
    int r;
    char err[256], num[32];
    bx_row row;
    while ((r = bx_lines_next(in, &line, &len)) == 1) {
        if (bx_extract(p, line, len, &row, err)) {
            if (rejected++ < 5)
                fprintf(stderr, "pg_copy_text: %s:%llu: %s\n", argv[1],
                        (unsigned long long)bx_lines_lineno(in), err);
            continue;
        }
        int k = snprintf(num, sizeof num, "%lld\t", (long long)row.time_ms);
        need((size_t)k);
        memcpy(out + out_len, num, (size_t)k);
        out_len += (size_t)k;
        for (int c = 0; c < BX_NCOLS; c++) {
            put_text(row.col[c].p, row.col[c].n);
            need(1);
            out[out_len++] = '\t';
        }
        need(3);
        out[out_len++] = row.sensitive ? 't' : 'f';
        out[out_len++] = '\t';
        put_text(line, len);
        need(1);
        out[out_len++] = '\n';
        rows++;
    }
    flush_out();
    if (r < 0) {
        fprintf(stderr, "pg_copy_text: reading %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    fprintf(stderr, "pg_copy_text: %llu rows, %llu rejected\n", (unsigned long long)rows,
            (unsigned long long)rejected);
    fflush(stdout);
    bx_lines_close(in);
    bx_parser_free(p);
    free(out);
    return 0;
}

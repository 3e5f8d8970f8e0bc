/* trailkeep CLI: shared helpers (see util.h). Nothing here knows about a
 * particular command; output that a script may parse never goes through the
 * progress line, which is drawn on stderr only when stderr is a terminal. */
#include "cli/util.h"

#include "store/store.h"

#include "base/tk.h"
#include "base/tktime.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tk_cli_opt(int argc, char **argv, int *i, const char *cmd, const char *name,
               const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != 0)
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "trailkeep %s: %s needs a value (see trailkeep %s --help)\n", cmd, name,
                cmd);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

int tk_cli_parse_long(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s)
        return TK_EINVAL;
    long v = 0;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9' || v > (LONG_MAX - 9) / 10)
            return TK_EINVAL;
        v = v * 10 + (*c - '0');
    }
    if (v < lo || v > hi)
        return TK_EINVAL;
    *out = v;
    return 0;
}

int tk_cli_parse_time(const char *s, int64_t now_ms, int64_t *ms)
{
    return tk_time_parse_any(s, now_ms, ms);
}

static int first_time(void *ud, const tk_stored_event_t *ev)
{
    *(int64_t *)ud = ev->time_ms;
    return 1; /* one is enough */
}

void tk_cli_account_times(tk_store_t *s, const char *account, int64_t *first, int64_t *last)
{
    char err[TK_ERRLEN];
    *first = *last = 0;
    tk_store_scan(s, account, 1, first_time, first, err);
    tk_store_scan(s, account, 0, first_time, last, err);
}

const char *tk_cli_fmt_bytes(uint64_t n, char *out)
{
    static const char *u[] = {"B", "KB", "MB", "GB", "TB"};
    double v = (double)n;
    int k = 0;
    while (v >= 1000 && k < 4) {
        v /= 1000;
        k++;
    }
    if (k == 0)
        snprintf(out, 16, "%llu B", (unsigned long long)n);
    else
        snprintf(out, 16, "%.1f %s", v, u[k]);
    return out;
}

const char *tk_cli_fmt_count(uint64_t n, char *out)
{
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)n), o = 0;
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = tmp[i];
    }
    out[o] = 0;
    return out;
}

void tk_progress_init(tk_progress_t *p, int quiet)
{
    memset(p, 0, sizeof *p);
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->t0_ns = tk_mono_ns();
}

static void fmt_eta(double s, char *out, size_t n)
{
    if (s < 0 || s > 99 * 3600)
        snprintf(out, n, "--:--");
    else if (s >= 3600)
        snprintf(out, n, "%d:%02d:%02d", (int)s / 3600, ((int)s / 60) % 60, (int)s % 60);
    else
        snprintf(out, n, "%d:%02d", (int)s / 60, (int)s % 60);
}

void tk_progress_update(tk_progress_t *p, int force, uint64_t files_done, uint64_t files_total,
                        uint64_t events, uint64_t bytes_done, uint64_t bytes_total)
{
    if (!p->enabled)
        return;
    uint64_t now = tk_mono_ns();
    if (!force && p->drawn && now - p->last_ns < 200000000ULL)
        return;
    p->last_ns = now;
    double secs = (double)(now - p->t0_ns) / 1e9;
    if (secs < 1e-3)
        secs = 1e-3;
    double frac = bytes_total ? (double)bytes_done / (double)bytes_total : 0;
    if (frac > 1)
        frac = 1;
    char bar[21], ev[32], eta[16];
    int fill = (int)(frac * 20);
    for (int i = 0; i < 20; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[20] = 0;
    double rate_b = (double)bytes_done / secs;
    fmt_eta(rate_b > 0 ? (double)(bytes_total - bytes_done) / rate_b : -1, eta, sizeof eta);
    fprintf(stderr, "\r\033[K[%s] %3d%%  files %llu/%llu  events %s  %.0f ev/s  %.1f MB/s  ETA %s",
            bar, (int)(frac * 100), (unsigned long long)files_done,
            (unsigned long long)files_total, tk_cli_fmt_count(events, ev),
            (double)events / secs, rate_b / 1e6, eta);
    fflush(stderr);
    p->drawn = 1;
}

void tk_progress_clear(tk_progress_t *p)
{
    if (p->enabled && p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = 0;
    }
}

void tk_table_init(tk_table_t *t, int ncols, const char *const *headers, const int *maxw)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols > 16 ? 16 : ncols;
    t->headers = headers;
    t->maxw = maxw;
}

int tk_table_add(tk_table_t *t, const char *const *cells)
{
    if (t->rows == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        char **p = realloc(t->cells, nc * (size_t)t->ncols * sizeof *p);
        if (!p)
            return TK_ENOMEM;
        t->cells = p;
        t->cap = nc;
    }
    char **row = t->cells + t->rows * (size_t)t->ncols;
    for (int c = 0; c < t->ncols; c++) {
        row[c] = strdup(cells[c] && *cells[c] ? cells[c] : "-");
        if (!row[c]) {
            for (int k = 0; k < c; k++)
                free(row[k]);
            return TK_ENOMEM;
        }
    }
    t->rows++;
    return 0;
}

/* Display width of UTF-8 text: code points, which is right for the
 * identifiers, IPs and names in events (no wide-character handling). */
static int text_width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

/* Prints s padded or cut to exactly w columns; a cut never splits a UTF-8
 * sequence and ends with '~' so a reader knows the value is longer. */
static void put_cell(FILE *f, const char *s, int w, int last)
{
    int tw = text_width(s);
    if (tw <= w) {
        fputs(s, f);
        if (!last)
            for (int i = tw; i < w; i++)
                fputc(' ', f);
        return;
    }
    int cols = 0;
    const char *p = s;
    while (*p) {
        const char *q = p + 1;
        while (((unsigned char)*q & 0xC0) == 0x80)
            q++;
        if (cols + 1 > w - 1)
            break;
        fwrite(p, 1, (size_t)(q - p), f);
        cols++;
        p = q;
    }
    fputc('~', f);
}

void tk_table_flush(tk_table_t *t, FILE *f)
{
    if (!t->widths_fixed) {
        for (int c = 0; c < t->ncols; c++) {
            int w = text_width(t->headers[c]);
            for (size_t r = 0; r < t->rows; r++) {
                int cw = text_width(t->cells[r * (size_t)t->ncols + c]);
                if (cw > w)
                    w = cw;
            }
            if (t->maxw && t->maxw[c] > 0 && w > t->maxw[c])
                w = t->maxw[c];
            t->width[c] = w;
        }
        for (int c = 0; c < t->ncols; c++) {
            put_cell(f, t->headers[c], t->width[c], c == t->ncols - 1);
            fputs(c == t->ncols - 1 ? "\n" : "  ", f);
        }
        t->widths_fixed = 1;
    }
    for (size_t r = 0; r < t->rows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            char *cell = t->cells[r * (size_t)t->ncols + c];
            put_cell(f, cell, t->width[c], c == t->ncols - 1);
            fputs(c == t->ncols - 1 ? "\n" : "  ", f);
            free(cell);
        }
    }
    t->rows = 0;
}

void tk_table_free(tk_table_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; t->cells && i < t->rows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

/* trailkeep CLI: helpers shared by the commands: option parsing ("--opt V"
 * and "--opt=V"), times (RFC 3339 or relative "-24h"), numbers, a progress
 * line for terminals, a column table printer and human-readable sizes. */
#ifndef TK_CLI_UTIL_H
#define TK_CLI_UTIL_H

#include <stdint.h>
#include <stdio.h>

/* Matches argv[*i] against option `name` that takes a value, accepting
 * "--name VALUE" and "--name=VALUE". Returns 1 (and advances *i past the value,
 * *val borrowed from argv), 0 when argv[*i] is another option, or -1 after
 * printing "trailkeep <cmd>: --name needs a value" when the value is missing. */
int tk_cli_opt(int argc, char **argv, int *i, const char *cmd, const char *name,
               const char **val);

/* Parses a time: RFC 3339 ("2026-11-24T10:00:00Z", offsets, millis), a date
 * ("2026-11-24" = midnight UTC), "now", or relative to now_ms: "-24h", "-7d",
 * "-30m", "-90s", "-2w" (also "+1h"). 0 or TK_EINVAL. */
int tk_cli_parse_time(const char *s, int64_t now_ms, int64_t *ms);
/* The time of account's first and last stored event (two one-event scans);
 * both 0 when it has none. */
struct tk_store;
void tk_cli_account_times(struct tk_store *s, const char *account, int64_t *first, int64_t *last);

/* Whole decimal number in [lo, hi]. 0 or TK_EINVAL. */
int tk_cli_parse_long(const char *s, long lo, long hi, long *out);

/* "1.2 MB", "532 B" ... into out (>= 16 bytes); returns out. */
const char *tk_cli_fmt_bytes(uint64_t n, char *out);
/* "1,234,567" into out (>= 32 bytes); returns out. */
const char *tk_cli_fmt_count(uint64_t n, char *out);

/* A one-line progress display redrawn in place on stderr, at most every
 * 200 ms. Disabled (all calls no-ops) unless stderr is a terminal, or when
 * `quiet`. */
typedef struct tk_progress {
    int enabled;
    uint64_t t0_ns, last_ns;
    int drawn;      /* a line is on screen and must be cleared before other output */
} tk_progress_t;

void tk_progress_init(tk_progress_t *p, int quiet);
/* Redraws when due (or always when force): files done/total, events,
 * events/s, MB/s and ETA estimated from bytes_done/bytes_total. */
void tk_progress_update(tk_progress_t *p, int force, uint64_t files_done, uint64_t files_total,
                        uint64_t events, uint64_t bytes_done, uint64_t bytes_total);
/* Erases the line so normal output can follow. */
void tk_progress_clear(tk_progress_t *p);

/* A text table: rows are buffered, column widths come from the content
 * (capped at each column's max width, longer cells are cut with "~"), the
 * header is printed once. tk_table_flush prints buffered rows; widths are fixed
 * by the first flush so later batches stay aligned. */
typedef struct tk_table {
    int ncols;
    const char *const *headers;
    const int *maxw;
    int width[16];
    int widths_fixed;
    char **cells;   /* rows * ncols owned strings */
    size_t rows, cap;
} tk_table_t;

void tk_table_init(tk_table_t *t, int ncols, const char *const *headers, const int *maxw);
/* Copies ncols cells (NULL prints as "-"). 0 or TK_ENOMEM. */
int tk_table_add(tk_table_t *t, const char *const *cells);
void tk_table_flush(tk_table_t *t, FILE *f);
void tk_table_free(tk_table_t *t);

#endif

/* trailkeep CSV output of events (RFC 4180) for lookup --output csv and
 * /v1/lookup?Format=csv: one header row, then one row per event with the
 * chosen columns (dotted field paths into the event). Invariants: a cell
 * holding a comma, quote, CR or LF is quoted with quotes doubled; an object
 * or array value is its compact JSON; a cell that a spreadsheet would run as
 * a formula (starting with = + - @ TAB CR) gets a leading apostrophe. */
#ifndef TK_QUERY_CSV_H
#define TK_QUERY_CSV_H

#include "base/buf.h"

#include <stddef.h>

#define TK_CSV_DEFAULT_COLUMNS                                                                    \
    "eventTime,eventName,userIdentity.userName,sourceIpAddress,errorCode,eventSource,acsRegion," \
    "resourceName,eventId,requestId"
#define TK_CSV_MAX_COLUMNS 64

typedef struct tk_csv_cols {
    char *spec;                        /* owned copy, split in place */
    const char *path[TK_CSV_MAX_COLUMNS];
    size_t n;
} tk_csv_cols_t;

/* Parses "a,b.c,..." (NULL or "" = TK_CSV_DEFAULT_COLUMNS): 1-64 paths of
 * [A-Za-z0-9_.-]. 0, or TK_EINVAL naming the bad column. Free with
 * tk_csv_cols_free (a zeroed struct is fine). */
int tk_csv_cols_parse(const char *spec, tk_csv_cols_t *out, char *err);
void tk_csv_cols_free(tk_csv_cols_t *c);
/* Appends the header row (the paths) with CRLF. 0 or TK_ENOMEM. */
int tk_csv_header(const tk_csv_cols_t *c, tk_buf_t *out);
/* Appends one event's row with CRLF; an event that is not JSON gives empty
 * cells. 0 or TK_ENOMEM. */
int tk_csv_row(const tk_csv_cols_t *c, const char *json, size_t len, tk_buf_t *out);

#endif

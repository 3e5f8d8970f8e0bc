/* trailkeep query: LookupEvents as ActionTrail defines it, on top of
 * tk_store_lookup(). Validates parameters (ActionTrail error codes), applies
 * defaults (last 7 days, 20 results, BACKWARD), and issues NextTokens that are
 * opaque, HMAC-signed, bound to the account and to the exact query, and resume
 * at the (time, seq) position after the last event returned. */
#ifndef TK_QUERY_LOOKUP_H
#define TK_QUERY_LOOKUP_H

#include "store/store.h"
#include "base/buf.h"

#include <stddef.h>
#include <stdint.h>

/* LookupEvents parameters as strings, as they arrive from HTTP or the CLI.
 * NULL means absent. */
typedef struct tk_lookup_params {
    const char *start_time;   /* RFC 3339; default end - 7 days */
    const char *end_time;     /* RFC 3339; default now */
    int nattrs;               /* up to TK_LOOKUP_MAX_ATTRS given; > 2 is an error */
    struct { const char *key; const char *value; } attrs[4];
    const char *max_results;  /* "1".."50" (up to max_page when allowed); default 20 */
    const char *next_token;
    const char *direction;    /* "BACKWARD" (default) or "FORWARD" */
} tk_lookup_params_t;

#define TK_LOOKUP_MAX_ATTRS 4

typedef struct tk_lookup_opts {
    int64_t now_ms;           /* 0 = wall clock */
    int max_page;             /* largest MaxResults accepted; 0 = 50 (ActionTrail parity) */
    const uint8_t *token_key; /* 32-byte HMAC key for NextTokens */
} tk_lookup_opts_t;

/* An ActionTrail-style error: code (e.g. "InvalidParameterStartTime",
 * "InvalidParameterCombination", "InvalidNextToken") and message. */
typedef struct tk_lookup_error {
    const char *code;
    char message[400];
} tk_lookup_error_t;

/* One page of results. events[i] points into `data`; all owned by the page. */
typedef struct tk_lookup_page {
    size_t count;
    tk_stored_event_t *events;
    char next_token[256];     /* "" when there is no further page */
    int64_t start_ms, end_ms; /* the effective range */
    tk_buf_t data;
} tk_lookup_page_t;

/* Runs one page of LookupEvents for `account` (the caller has already
 * authorised the caller for that account). Returns 0 and fills page (release
 * with tk_lookup_page_free), TK_EINVAL with lerr filled for bad parameters,
 * or another TK_E* with err. */
int tk_lookup_run(tk_store_t *s, const char *account, const tk_lookup_params_t *p,
                  const tk_lookup_opts_t *o, tk_lookup_page_t *page, tk_lookup_error_t *lerr,
                  char *err);
void tk_lookup_page_free(tk_lookup_page_t *page);

/* Loads the token key from DIR/token.key, creating a random one (0600) on
 * first use, so NextTokens survive restarts. */
int tk_lookup_token_key(const char *dir, uint8_t key[32], char *err);

/* ---- additions (query helper) ---- */

/* The error codes tk_lookup_run() puts in lerr->code (static strings). The
 * first four are ActionTrail's documented LookupEvents codes; the others keep
 * its InvalidParameter<Name> pattern so a caller can tell which input to fix. */
#define TK_LOOKUP_E_START_TIME   "InvalidParameterStartTime"
#define TK_LOOKUP_E_END_TIME     "InvalidParameterEndTime"
#define TK_LOOKUP_E_COMBINATION  "InvalidParameterCombination"   /* StartTime > EndTime */
#define TK_LOOKUP_E_QUERY        "InvalidQueryParameter"         /* no account */
#define TK_LOOKUP_E_ATTRIBUTE    "InvalidParameterLookupAttribute" /* > 2, unknown key, empty value */
#define TK_LOOKUP_E_MAX_RESULTS  "InvalidParameterMaxResults"
#define TK_LOOKUP_E_DIRECTION    "InvalidParameterDirection"
#define TK_LOOKUP_E_NEXT_TOKEN   "InvalidNextToken"  /* malformed, tampered, other account, changed query */

/* CloudTrail's exception name for one of the codes above
 * ("InvalidTimeRangeException", "InvalidLookupAttributesException",
 * "InvalidMaxResultsException", "InvalidNextTokenException", ...), for the
 * AWS JSON 1.1 endpoint. Static string; unknown codes give "ValidationException". */
const char *tk_lookup_error_cloudtrail(const char *code);

/* Counts every event the query matches (no paging: MaxResults, Direction and
 * NextToken are validated but ignored). Same validation and errors as
 * tk_lookup_run; the effective range is returned through start_ms/end_ms when
 * not NULL. */
int tk_lookup_count(tk_store_t *s, const char *account, const tk_lookup_params_t *p,
                    const tk_lookup_opts_t *o, uint64_t *count, int64_t *start_ms,
                    int64_t *end_ms, tk_lookup_error_t *lerr, char *err);

/* Appends the page as ActionTrail's LookupEvents response body:
 * {"StartTime":"...","EndTime":"...","Events":[<stored events verbatim>],
 *  "NextToken":"..."} (NextToken "" on the last page, as ActionTrail does). */
int tk_lookup_page_json(const tk_lookup_page_t *page, tk_buf_t *out);

#endif

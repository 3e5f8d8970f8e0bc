/* trailkeep event parsing: bytes in (ActionTrail JSON object / array / JSON
 * Lines, CloudTrail {"Records":[...]}), validated canonical events out. A bad
 * event never stops the good ones around it: it becomes a tk_reject_t with the
 * event's index, a stable code, the field and a message. */
#ifndef TK_EVENT_PARSE_H
#define TK_EVENT_PARSE_H

#include "event/event.h"

#include <stddef.h>
#include <stdint.h>

typedef enum tk_format {
    TK_FMT_AUTO = 0,   /* sniff: '[' array, {"Records": CloudTrail, else JSON Lines/objects */
    TK_FMT_ACTIONTRAIL,/* one object, array or JSON Lines of ActionTrail events */
    TK_FMT_CLOUDTRAIL, /* {"Records":[...]} or a bare array of CloudTrail records */
    TK_FMT_JSONL,      /* one event per line, each sniffed as ActionTrail or CloudTrail */
} tk_format_t;

/* Stable reject codes (also the "code" of the HTTP API's rejected[]). */
#define TK_REJ_INVALID_JSON   "InvalidJson"      /* not JSON / truncated */
#define TK_REJ_NOT_OBJECT     "NotAnObject"
#define TK_REJ_MISSING_FIELD  "MissingField"     /* eventTime, recipientAccountId */
#define TK_REJ_INVALID_TIME   "InvalidEventTime"
#define TK_REJ_INVALID_TYPE   "InvalidFieldType"
#define TK_REJ_TOO_LARGE      "EventTooLarge"
#define TK_REJ_INVALID_UTF8   "InvalidUtf8"
#define TK_REJ_ACCOUNT        "AccountMismatch"  /* writer recorded for another account */
#define TK_REJ_INVALID_ACCOUNT "InvalidAccountId" /* not 1-64 of [A-Za-z0-9._-] */
#define TK_REJ_FIELD_TOO_LONG "FieldTooLong"     /* eventId over 1,024 bytes */
#define TK_REJ_DUPLICATE      "DuplicateField"   /* a field trailkeep reads, given twice */
#define TK_REJ_TOO_MANY       "TooManyEvents"    /* (request-level) past max_events */
#define TK_REJ_FUTURE         "EventTimeInFuture" /* later than now + max_future_ms */

typedef struct tk_reject {
    size_t index;       /* position of the event in the input (0-based, across the batch) */
    uint64_t line;      /* 1-based input line where the event starts, 0 if unknown */
    const char *code;   /* one of TK_REJ_* (static) */
    char field[64];     /* offending field ("eventTime", "userIdentity.accessKeyId"), "" if none */
    char message[192];  /* human-readable: what is wrong and what to do */
} tk_reject_t;

typedef struct tk_parse_opts {
    tk_format_t format;
    /* When set, events lacking recipientAccountId get this account; with
     * force_account, an event naming another account is rejected
     * (AccountMismatch): a writer key records only for its own account. */
    const char *default_account;
    int force_account;
    const char *source_name; /* file name for messages, may be NULL */
    /* Line number of data[0] in the caller's file (chunks of a large file,
     * see tk_source_next); 0 means 1. Rejects report lines from here. */
    uint64_t first_line;
    /* Set when data stays valid and unchanged for as long as the batch's
     * events are used (until reset/destroy, or until the caller is done with
     * them): an ActionTrail event stored exactly as sent then points into
     * data instead of being copied (tk_event_t.json is then not
     * NUL-terminated). Saves a copy per event on import and ingest. */
    int borrow_input;
    /* Gzip input is decompressed once, up to this many bytes (0: 1 GiB);
     * gzip inside the decompressed bytes is refused, never inflated again,
     * so one cap holds end to end. TK_ETOOBIG past it. */
    size_t max_decompressed;
    /* Stop at this many events seen in this call (0: no limit): parsing
     * ends as soon as one more value starts, and tk_event_parse returns
     * TK_ETOOBIG, so a huge batch costs no more than the limit. */
    size_t max_events;
    /* When > 0, an event whose eventTime is later than now + this is a
     * reject (EventTimeInFuture): a sender with a wrong clock, or a typo in
     * the year, must not be stored where no window looks. now_ms 0 = the
     * wall clock at parse time. */
    int64_t max_future_ms;
    int64_t now_ms;
} tk_parse_opts_t;

/* An arena of parsed events and rejects. Events stay valid until the batch is
 * reset or destroyed (and, with borrow_input, while the input is). Strings
 * in tk_event_t other than json are NUL-terminated; json is too unless it
 * was borrowed. */
typedef struct tk_batch tk_batch_t;

/* Returns an owned batch (tk_batch_destroy), or NULL on ENOMEM. */
tk_batch_t *tk_batch_create(void);
void tk_batch_destroy(tk_batch_t *b); /* NULL is a no-op */
void tk_batch_reset(tk_batch_t *b);   /* drops events/rejects, keeps memory */

size_t tk_batch_count(const tk_batch_t *b);
const tk_event_t *tk_batch_events(const tk_batch_t *b); /* array of tk_batch_count() */
size_t tk_batch_reject_count(const tk_batch_t *b);
const tk_reject_t *tk_batch_rejects(const tk_batch_t *b);
/* Events seen so far (accepted + rejected): indexes continue across calls. */
size_t tk_batch_seen(const tk_batch_t *b);
/* Bytes the batch keeps allocated (arena, arrays, owned inputs), so a caller
 * that reuses batches can drop one that grew for a single large input. */
size_t tk_batch_footprint(const tk_batch_t *b);

/* Parses data[0..len) (borrowed; copied into the batch as needed) and appends
 * its events and rejects to b. Gzip input (magic 1f 8b) is decompressed
 * first, once (opts->max_decompressed; the batch keeps those bytes until
 * reset); gzip inside it is TK_EINVAL. Returns 0 even when some events are
 * rejected; a negative TK_E* only when nothing could be attempted (ENOMEM,
 * corrupt or nested gzip, input that is not a JSON document at all in a
 * format that needs one) or a limit was passed (TK_ETOOBIG: decompressed
 * size or max_events), message in err. */
int tk_event_parse(tk_batch_t *b, const char *data, size_t len, const tk_parse_opts_t *opts,
                   char *err);

/* True when data starts with the gzip magic (1f 8b). */
int tk_event_is_gzip(const char *data, size_t len);

/* Decompresses when data starts with the gzip magic, else borrows.
 * *out is either data itself (*owned = 0) or a malloc'd buffer (*owned = 1).
 * Limit: max_out bytes decompressed (TK_ETOOBIG beyond), 0 = unlimited. */
int tk_event_gunzip(const char *data, size_t len, size_t max_out, char **out, size_t *outlen,
                    int *owned, char *err);

/* True when the API name is on the sensitive-action list (SPEC 1.1). */
int tk_event_is_sensitive(const char *service, size_t slen, const char *name, size_t nlen);
/* The sensitive-action list itself (sorted, static), e.g. for docs and tests. */
size_t tk_event_sensitive_list(const char *const **out);

/* What tk_event_parse's TK_FMT_AUTO would see in data: TK_FMT_CLOUDTRAIL for
 * {"Records":[...]}, TK_FMT_AUTO for a JSON array (elements sniffed one by
 * one), TK_FMT_JSONL otherwise. Looks at the first object's members only. */
tk_format_t tk_event_sniff(const char *data, size_t len);

#endif

/* trailkeep event model: the canonical (ActionTrail-shaped) event of SPEC.md
 * 1.1 as the rest of the system sees it after parsing. A tk_event_t never owns
 * memory: its strings point into the tk_batch_t that parsed it (or, in tests,
 * into caller storage). The stored form of an event is `json`: the caller's
 * bytes (ActionTrail input) or the mapped canonical object (CloudTrail input),
 * so lookups return what was sent, never a re-serialisation. */
#ifndef TK_EVENT_EVENT_H
#define TK_EVENT_EVENT_H

#include <stddef.h>
#include <stdint.h>

#define TK_EVENT_MAX_BYTES (256 * 1024)
/* Limits the store keys on (checked per event by the parser, so a bad event
 * is its own reject and never fails the batch it came in). */
#define TK_EVENT_ID_MAX 1024      /* eventId bytes */
#define TK_EVENT_ACCOUNT_MAX 64   /* account id: [A-Za-z0-9._-], not "." or ".." */

/* True when p[0..n) can name an account in the store (a folder name). */
int tk_event_account_ok(const char *p, size_t n);

/* A borrowed byte string (not NUL-terminated in general). */
typedef struct tk_str {
    const char *p;
    uint32_t len;
} tk_str_t;

/* LookupAttribute keys of SPEC.md section 4, in a fixed order: the store's
 * on-disk index ids are these values, so never reorder, only append. */
typedef enum tk_attr {
    TK_ATTR_SERVICENAME = 0,
    TK_ATTR_EVENTNAME,
    TK_ATTR_USER,
    TK_ATTR_EVENTID,
    TK_ATTR_RESOURCETYPE,
    TK_ATTR_RESOURCENAME,
    TK_ATTR_EVENTRW,
    TK_ATTR_ACCESSKEYID,     /* "EventAccessKeyId" */
    TK_ATTR_SENSITIVEACTION, /* "true" / "false" */
    TK_ATTR_SOURCEIP,        /* "SourceIpAddress" */
    TK_ATTR_EVENTTYPE,
    TK_ATTR_ROLENAME,
    TK_ATTR_EVENTSOURCE,     /* for CloudTrail's LookupEvents key "EventSource" */
    TK_ATTR__COUNT
} tk_attr_t;

/* Static LookupAttribute name ("EventName", "EventAccessKeyId", ...). */
const char *tk_attr_name(tk_attr_t a);
/* Case-sensitive name -> key; 0 or TK_EINVAL. */
int tk_attr_parse(const char *name, tk_attr_t *out);

/* One index term: an attribute value the event must be found under.
 * ResourceName yields one term per name of its ';'/','-separated list,
 * ResourceType one per type. */
typedef struct tk_term {
    tk_attr_t attr;
    tk_str_t val;
} tk_term_t;

typedef struct tk_event {
    int64_t time_ms;        /* eventTime, UTC */
    tk_str_t account;       /* recipientAccountId: the tenant that owns the record */
    tk_str_t event_id;      /* eventId (generated UUID v4 when the input had none) */
    tk_str_t json;          /* canonical JSON object to store and return */
    /* Fields consumers filter on without re-parsing (empty when absent). */
    tk_str_t region;        /* acsRegion */
    tk_str_t event_rw;      /* "Read" / "Write" */
    tk_str_t event_type;    /* eventType */
    tk_str_t event_category;/* "Management" (default), "Data", "Insight" */
    tk_str_t service;       /* serviceName */
    tk_str_t event_name;    /* eventName */
    int has_error;          /* errorCode non-empty */
    const tk_term_t *terms; /* index terms, nterms of them */
    uint32_t nterms;
} tk_event_t;

#endif

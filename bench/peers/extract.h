/* bench peers: pulls the lookup columns out of one ActionTrail JSON event with
 * simdjson (DOM, full validation), through a C interface so the SQLite and
 * PostgreSQL loaders stay plain C. Peers use no trailkeep code on purpose: they
 * must build and run while trailkeep's own modules are being changed. */
#ifndef BX_EXTRACT_H
#define BX_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A borrowed string; valid until the next bx_extract() on the same parser. */
typedef struct bx_str {
    const char *p;
    size_t n;
} bx_str;

/* Column order shared by the SQLite and PostgreSQL schemas. */
enum {
    BX_ACCOUNT = 0, /* recipientAccountId (falls back to userIdentity.accountId) */
    BX_EVENT_ID,
    BX_SERVICE,     /* serviceName */
    BX_EVENT_NAME,
    BX_USER,        /* userIdentity.userName */
    BX_RES_TYPE,    /* resourceType */
    BX_RES_NAME,    /* resourceName (flattened, as sent) */
    BX_EVENT_RW,
    BX_ACCESS_KEY,  /* userIdentity.accessKeyId */
    BX_SOURCE_IP,   /* sourceIpAddress */
    BX_EVENT_TYPE,
    BX_ROLE_NAME,   /* userIdentity.sessionContext.sessionIssuer.userName */
    BX_EVENT_SOURCE,
    BX_NCOLS
};

typedef struct bx_row {
    int64_t time_ms;   /* eventTime, UTC milliseconds */
    int sensitive;     /* sensitiveAction == true */
    bx_str col[BX_NCOLS];
} bx_row;

typedef struct bx_parser bx_parser;

/* Returns an owned parser (bx_parser_free), NULL on ENOMEM. */
bx_parser *bx_parser_new(void);
void bx_parser_free(bx_parser *p);

/* Bytes that must be readable after every line handed to bx_extract. */
size_t bx_padding(void);

/* Parses line[0..len) (borrowed; bx_padding() readable bytes must follow it)
 * and fills row. Returns 0, or -1 with a message in err (256 bytes) when the
 * line is not a JSON object or lacks eventTime/an account. */
int bx_extract(bx_parser *p, const char *line, size_t len, bx_row *row, char *err);

/* RFC 3339 -> UTC ms ("2026-11-24T10:00:00Z", ".123Z", "+08:00"); 0 or -1. */
int bx_parse_time(const char *s, size_t n, int64_t *ms);

/* Column names as both SQL schemas use them. */
extern const char *const bx_col_names[BX_NCOLS];

#ifdef __cplusplus
}
#endif
#endif

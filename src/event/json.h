/* trailkeep event internals: the tiny C view of simdjson's DOM (json_simd.cpp)
 * and a byte scanner that finds where JSON values start and end (json_scan.c).
 * simdjson validates (syntax, UTF-8) and unescapes; the scanner gives the raw
 * byte spans that the DOM does not keep, so stored bytes stay the caller's.
 * Not a public interface: only src/event uses it. */
#ifndef TK_EVENT_JSON_H
#define TK_EVENT_JSON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes simdjson may read past the end of its input (SIMDJSON_PADDING). */
#define TK_JSON_PADDING 64

/* An element of a parsed document; valid until the parser parses again. */
typedef struct tk_jv {
    const void *doc;
    size_t idx;
} tk_jv_t;

typedef enum tk_jtype {
    TK_J_NONE = 0,
    TK_J_OBJECT,
    TK_J_ARRAY,
    TK_J_STRING,
    TK_J_INT,
    TK_J_UINT,
    TK_J_DOUBLE,
    TK_J_BOOL,
    TK_J_NULL,
} tk_jtype_t;

/* A member with its type, and for strings the unescaped value, filled in
 * the same pass so the hot path makes one call per object. */
typedef struct tk_jmember {
    const char *key; /* unescaped, not NUL-terminated */
    uint32_t klen;
    tk_jtype_t type;
    const char *s;   /* strings only */
    uint32_t slen;
    tk_jv_t val;
} tk_jmember_t;

typedef struct tk_jparser tk_jparser_t;

/* Returns an owned parser (tk_jparser_destroy), NULL on ENOMEM. */
tk_jparser_t *tk_jparser_create(void);
void tk_jparser_destroy(tk_jparser_t *jp); /* NULL is a no-op */

/* Parses p[0..len) with full validation. padded: the caller guarantees
 * TK_JSON_PADDING readable bytes after p+len (saves a copy). Returns 0 and
 * the root, or a nonzero simdjson error code (see tk_jerr_*). */
int tk_jparse(tk_jparser_t *jp, const char *p, size_t len, int padded, tk_jv_t *root);
const char *tk_jerr_message(int code); /* static text */
int tk_jerr_is_utf8(int code);
int tk_jerr_is_nomem(int code);

tk_jtype_t tk_jtype(tk_jv_t v);
/* Fills up to max members of an object, returns how many it has. */
size_t tk_jobject(tk_jv_t obj, tk_jmember_t *out, size_t max);
/* Fills up to max elements of an array, returns how many it has. */
size_t tk_jarray(tk_jv_t arr, tk_jv_t *out, size_t max);
/* 0 and the unescaped bytes when v is a string, else -1. */
int tk_jstring(tk_jv_t v, const char **p, uint32_t *len);
/* 0 and the value when v is a boolean, else -1. */
int tk_jbool(tk_jv_t v, int *b);

/* ---- raw scanner (json_scan.c) ---- */

typedef enum tk_scan_status {
    TK_SCAN_OK = 0,
    TK_SCAN_TRUNCATED,  /* input ended (or, in line mode, a new record began) inside the value */
    TK_SCAN_MISMATCH,   /* a '}' closes a '[' or the reverse, or a stray closer */
    TK_SCAN_DEPTH,      /* nested deeper than TK_SCAN_MAX_DEPTH */
} tk_scan_status_t;

#define TK_SCAN_MAX_DEPTH 1024

/* Finds the end of the JSON value that starts at p (p < end, not whitespace).
 * Does not validate (simdjson does that); only tracks strings and brackets.
 * line_mode: a newline followed by '{' in column 0 while inside the value
 * means the value was cut short and a new record starts there (JSON Lines).
 * Returns one past the value's last byte; on a status other than OK returns
 * where scanning stopped. Cost: one pass over the value's bytes. */
const char *tk_scan_value(const char *p, const char *end, int line_mode, tk_scan_status_t *st);

static inline int tk_json_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}
static inline const char *tk_skip_ws(const char *p, const char *end)
{
    while (p < end && tk_json_ws(*p))
        p++;
    return p;
}

/* One member of an object as raw bytes: key without its quotes (still
 * escaped), value exactly as written. */
typedef struct tk_rawmember {
    const char *key;
    uint32_t klen;
    const char *val;
    uint32_t vlen;
} tk_rawmember_t;

/* Lists the members of the object at obj[0..len) (which starts with '{' and
 * must already be valid JSON). Fills up to max, returns how many it has. */
size_t tk_scan_members(const char *obj, size_t len, tk_rawmember_t *out, size_t max);
/* The raw value of member key (exact, escaped-form comparison) or NULL. */
const tk_rawmember_t *tk_raw_find(const tk_rawmember_t *m, size_t n, const char *key);
/* The members of one object, in a small inline array or on the heap when the
 * object has more than 48: load, look members up, free (no-op when inline). */
typedef struct tk_rawset {
    tk_rawmember_t small[48];
    tk_rawmember_t *m;
    size_t n;
} tk_rawset_t;
/* 0, or -1 on ENOMEM. obj as for tk_scan_members (borrowed). */
int tk_rawset_load(tk_rawset_t *r, const char *obj, size_t len);
void tk_rawset_free(tk_rawset_t *r);
/* For an object shaped {"type": ["name", ...], ...} (referencedResources),
 * calls cb once per (type, name): type as raw key bytes, name as its JSON
 * string literal (quotes included). Members that are not arrays, and array
 * items that are not strings, are skipped. */
void tk_rawset_each_name(const tk_rawset_t *r,
                         void (*cb)(void *ud, const char *type, size_t tlen, const char *name,
                                    size_t nlen),
                         void *ud);
/* Counts '\n' in p[0..n) (memchr speed). */
uint64_t tk_count_lines(const char *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif

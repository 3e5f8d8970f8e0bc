/* trailkeep event internals shared by the files of src/event: the batch's
 * memory arena (events, their strings and terms live there until reset, so
 * the hot path does no per-event malloc), the batch itself, and the steps of
 * parsing one event that parse.c, fmt_actiontrail.c and fmt_cloudtrail.c share. */
#ifndef TK_EVENT_INTERNAL_H
#define TK_EVENT_INTERNAL_H

#include "base/buf.h"
#include "event/json.h"
#include "event/parse.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Bump allocator over a list of chunks; reset keeps the chunks for reuse. */
typedef struct tk_arena_chunk {
    struct tk_arena_chunk *next;
    size_t cap, used;
    max_align_t data[]; /* cap bytes */
} tk_arena_chunk_t;

typedef struct tk_arena {
    tk_arena_chunk_t *head, *cur;
} tk_arena_t;

void *tk_arena_alloc_slow(tk_arena_t *a, size_t n);

/* Returns n bytes aligned to 8, owned by the arena; NULL on ENOMEM. Inline:
 * a dozen small copies per event make the call itself the cost. */
static inline void *tk_arena_alloc(tk_arena_t *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    tk_arena_chunk_t *c = a->cur;
    if (c && c->cap - c->used >= n) {
        void *r = (char *)c->data + c->used;
        c->used += n;
        return r;
    }
    return tk_arena_alloc_slow(a, n);
}

/* Copies s[0..n) into the arena (NUL-terminated); NULL on ENOMEM. */
static inline char *tk_arena_dup(tk_arena_t *a, const char *s, size_t n)
{
    char *r = (char *)tk_arena_alloc(a, n + 1);
    if (!r)
        return NULL;
    if (n)
        memcpy(r, s, n);
    r[n] = 0;
    return r;
}
void tk_arena_reset(tk_arena_t *a);
void tk_arena_free(tk_arena_t *a);

struct tk_batch {
    tk_arena_t arena;
    tk_event_t *ev;
    size_t nev, cap_ev;
    tk_reject_t *rej;
    size_t nrej, cap_rej;
    size_t seen;
    tk_jparser_t *jp;
    tk_buf_t scratch;      /* CloudTrail -> canonical mapping output */
    tk_term_t *terms;      /* per-event term scratch */
    size_t cap_terms;
    tk_jmember_t *members[4]; /* member scratch, one per nesting level in use */
    size_t cap_members[4];
    int nomem;             /* set when an allocation failed mid-parse */
    char **owned_inputs;   /* decompressed inputs, freed at reset (borrowed events point into them) */
    size_t nowned, cap_owned;
};

/* What to treat one JSON object as. */
typedef enum tk_kind { TK_KIND_SNIFF = 0, TK_KIND_ACTIONTRAIL, TK_KIND_CLOUDTRAIL } tk_kind_t;

/* Per-call state of tk_event_parse. */
typedef struct tk_pctx {
    tk_batch_t *b;
    const tk_parse_opts_t *opts;
    const char *data_start, *data_end; /* the caller's buffer: bytes in it are readable */
    size_t stop_at;                    /* opts->max_events: seen count at which to stop */
    int over;                          /* set when a value past stop_at was found */
} tk_pctx_t;

/* Records a reject for event idx (printf-style message). */
void tk_reject_add(tk_pctx_t *c, size_t idx, uint64_t line, const char *code, const char *field,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Returns the object's members (DOM) in the batch's scratch slot (0..3: one
 * per object being looked at simultaneously); n in *n. NULL on ENOMEM. */
tk_jmember_t *tk_batch_members(tk_batch_t *b, int slot, tk_jv_t obj, size_t *n);

/* Validates the parsed ActionTrail object at p[0..len) (root already parsed
 * by b->jp) and appends the event, or a reject. m/nm: the root's members when
 * the caller already listed them in slot 0, else NULL. With sniff set,
 * returns 1 without doing anything when the object is a CloudTrail record
 * (the caller maps it); returns 2 for a {"Records":[...]} object without
 * eventTime (a CloudTrail file: the caller reads its records); else 0.
 * fmt_actiontrail.c. */
int tk_at_event(tk_pctx_t *c, const char *p, size_t len, tk_jv_t root, tk_jmember_t *m, size_t nm,
                size_t idx, uint64_t line, int sniff);

/* Maps the parsed CloudTrail record at p[0..len) to the canonical object and
 * hands that to tk_at_event, or rejects. fmt_cloudtrail.c. */
void tk_ct_event(tk_pctx_t *c, const char *p, size_t len, tk_jv_t root, tk_jmember_t *m, size_t nm,
                 size_t idx, uint64_t line);

/* Equal to a NUL-terminated literal. */
static inline int tk_str_is(const char *p, size_t n, const char *lit)
{
    size_t i = 0;
    for (; i < n; i++)
        if (lit[i] != p[i] || lit[i] == 0)
            return 0;
    return lit[i] == 0;
}

#endif

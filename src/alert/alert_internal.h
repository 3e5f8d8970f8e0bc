/* trailkeep alert internals: the compiled rule tree, the operator table
 * (one row per operator, Suricata style), the event view filled by the
 * path-guided walker (jwalk.c) and helpers shared by rule.c, sigma.c,
 * templates.c and engine.c. Not a public interface. */
#ifndef TK_ALERT_INTERNAL_H
#define TK_ALERT_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <pcre2.h>
#include <stdint.h>

#include "alert/rule.h"
#include "base/buf.h"

/* ---- event values ---- */

typedef enum tk_avtype {
    TK_AV_STR = 0,
    TK_AV_NUM,
    TK_AV_BOOL,
    TK_AV_NULL,
    TK_AV_OBJ,
    TK_AV_ARR,
} tk_avtype_t;

/* One value found at a path. s: unescaped string bytes, or the raw text of
 * a number/boolean (so string operators see "42" and "true"); borrowed from
 * the event or the walker's scratch, valid until the next walk. */
typedef struct tk_aval {
    uint8_t type;
    uint32_t len;
    const char *s;
    uint32_t next; /* next value of the same slot, UINT32_MAX ends */
} tk_aval_t;

#define TK_AV_END UINT32_MAX

/* ---- operators ---- */

typedef enum tk_aarg {
    TK_ARG_STR = 0, /* string values (case folded when nocase) */
    TK_ARG_NUM,
    TK_ARG_CIDR,
    TK_ARG_REGEX,
    TK_ARG_BOOL,   /* exists */
    TK_ARG_NONE,   /* null */
    TK_ARG_FIELD,  /* fieldref: another path */
    TK_ARG_HOURS,  /* within_hours: an object (tz, days, hours, holidays) */
} tk_aarg_t;

typedef struct tk_hours tk_hours_t; /* hours.c */

/* Regex limits (docs/rules.md "Regex limits"). A match that hits one is
 * "no match" and counted in its pattern's limit_hits; it never runs longer
 * than about TK_RX_BUDGET_NS plus one window of start positions. */
#define TK_RX_MAX_PATTERN 4096         /* bytes of pattern text; longer is refused */
#define TK_RX_MAX_SUBJECT (64 * 1024)  /* bytes of a value searched; the rest is cut */
#define TK_RX_MATCH_LIMIT 100000       /* pcre2_set_match_limit (per start position) */
#define TK_RX_DEPTH_LIMIT 100000       /* pcre2_set_depth_limit (interpreter) */
#define TK_RX_HEAP_LIMIT_KIB 4096      /* pcre2_set_heap_limit (interpreter) */
#define TK_RX_JIT_STACK_MIN (32 * 1024)
#define TK_RX_JIT_STACK_MAX (1024 * 1024)
#define TK_RX_WINDOW 1024              /* start positions per pcre2_match call on long values */
#define TK_RX_BUDGET_NS 10000000ULL    /* 10 ms per value, checked between windows */

/* Match-time state of one regex pattern (owned by its tk_apat_t). The
 * pattern is const during evaluation but this is not: the match context and
 * JIT stack are made on first use, and the counters are bumped by the one
 * thread that evaluates the engine holding the rule. */
typedef struct tk_arx {
    pcre2_match_context *mc;
    pcre2_jit_stack *js;
    int jit;                /* pcre2_jit_compile succeeded */
    int no_window;          /* \G in the pattern: never split the search into windows */
    uint64_t limit_hits;    /* matches stopped by a limit (match, depth, heap, JIT stack, time) */
    uint64_t truncated;     /* values longer than TK_RX_MAX_SUBJECT (searched in their start) */
} tk_arx_t;

/* One compiled pattern value. */
typedef struct tk_apat {
    char *s;          /* owned; folded to lower case when nocase */
    uint32_t len;
    double num;
    int b;
    uint8_t net[16];  /* CIDR: address, family, prefix */
    int v6, bits;
    pcre2_code *re;
    pcre2_match_data *md;
    tk_arx_t *rx;     /* owned; regex patterns only */
    tk_hours_t *hours;
} tk_apat_t;

typedef struct tk_aop {
    const char *name;
    const char *alias;        /* other accepted name or NULL */
    const char *description;
    tk_aarg_t arg;
    int multi;                /* takes a list of values ("in"-like) */
    /* Fills p from the JSON value v. 0 or TK_EINVAL with err. */
    int (*compile)(tk_apat_t *p, const cJSON *v, int nocase, char *err);
    /* 1 when event value v matches pattern p. */
    int (*match)(const tk_apat_t *p, const tk_aval_t *v, int nocase);
} tk_aop_t;

const tk_aop_t *tk_aop_find(const char *name);
/* All operators (for messages and docs); n set to their number. */
const tk_aop_t *tk_aops(size_t *n);
void tk_apat_free(tk_apat_t *p);
/* Comma-separated operator names into out (for "use one of ..."). */
void tk_aop_names(char *out, size_t cap);

/* Compiles regex text into p (the regex operator's compile step, also for
 * tests): refuses patterns over TK_RX_MAX_PATTERN bytes and, when lint,
 * nested unbounded repetition ("(a+)+") with its offset. 0 or TK_EINVAL /
 * TK_ENOMEM with err. */
int tk_regex_compile(tk_apat_t *p, const char *pattern, int nocase, int lint, char *err);

/* ASCII case-insensitive helpers (patterns are pre-folded). */
int tk_ci_eq(const char *a, const char *lower_b, size_t n);
const char *tk_ci_find(const char *hay, size_t hn, const char *lower_needle, size_t nn);

/* ---- rule tree ---- */

typedef enum tk_akind {
    TK_N_AND = 0,
    TK_N_OR,
    TK_N_NOT,
    TK_N_LEAF,
    TK_N_TRUE,
    TK_N_FALSE,
} tk_akind_t;

typedef struct tk_anode {
    uint8_t kind;
    uint8_t nocase;
    uint8_t all;       /* every pattern must match (Sigma |all) */
    uint8_t negate;    /* ne: leaf holds when no value equals any pattern */
    uint32_t nkids;
    struct tk_anode **kids;
    char *label;       /* Sigma selection name, for explanations; may be NULL */
    /* leaf */
    char *path;
    int slot;
    char *path2;       /* fieldref */
    int slot2;
    const tk_aop_t *op;
    tk_apat_t *pats;
    uint32_t npats;
} tk_anode_t;

tk_anode_t *tk_anode_new(tk_akind_t kind);
int tk_anode_add(tk_anode_t *parent, tk_anode_t *kid); /* takes kid; TK_ENOMEM */
void tk_anode_free(tk_anode_t *n);
/* Adds the regex counters of every pattern under n (NULL: none) to the sums. */
void tk_anode_regex_counts(const tk_anode_t *n, uint64_t *limit_hits, uint64_t *truncated);

enum { TK_SRC_CANONICAL = 0, TK_SRC_CLOUDTRAIL = 1 };

/* A text with {path} placeholders (rule title and summary), rendered from
 * the event that fired or cleared; "{{" and "}}" are literal braces. */
typedef struct tk_atext {
    char *text;     /* the template as written, NULL when absent */
    char **paths;   /* the placeholders' paths, in order */
    int *slots;     /* their slots (set when the engine freezes) */
    uint32_t npaths;
} tk_atext_t;

/* Parses t into its placeholders; 0 or TK_EINVAL naming what is wrong. */
int tk_atext_compile(tk_atext_t *t, const char *text, const char *where, char *err);
void tk_atext_free(tk_atext_t *t);
struct tk_aview;
/* Appends t rendered against view v to b (values of one path joined by
 * ", ", "-" when absent), at most cap bytes (cut on a UTF-8 boundary). */
int tk_atext_render(const tk_atext_t *t, const struct tk_aview *v, size_t cap, tk_buf_t *b);

struct tk_rule {
    char *id, *name, *description, *origin;
    tk_severity_t severity;
    int source;            /* which view of a stored event the paths address */
    tk_anode_t *root;
    uint32_t threshold;    /* 1 = fire on every match */
    int64_t window_ms;
    int64_t suppress_ms;
    char **group_by;
    uint32_t ngroup;
    int *group_slots;
    char *distinct;        /* distinct count of this path, or NULL */
    int distinct_slot;
    /* clear_when: an event holding this (and not match) ends the group's
     * incident: its window and suppression are dropped and, with
     * opts.report_clears, a TK_ALERT_CLEAR hit is reported. NULL: none. */
    tk_anode_t *clear;
    tk_atext_t title, summary; /* texts with {path} placeholders ("" = none) */
};

tk_rule_t *tk_rule_alloc(void);
/* Compiles a condition object (docs/rules.md) at JSON location `where`. */
int tk_rule_compile_cond(const cJSON *c, const char *where, tk_anode_t **out, char *err);
/* Builds a leaf: path, operator name, value (single or array), flags. */
int tk_rule_leaf(const char *path, const char *opname, const cJSON *value, int nocase, int all,
                 tk_anode_t **out, char *err);
/* Appends a readable form of node n to b. */
int tk_anode_describe(const tk_anode_t *n, tk_buf_t *b);

/* ---- event view and walker (jwalk.c) ---- */

/* The paths the engine's rules read, as a trie per view. */
typedef struct tk_ptrie tk_ptrie_t;
tk_ptrie_t *tk_ptrie_new(void);
void tk_ptrie_free(tk_ptrie_t *t);
/* Registers a dotted path for slot; 0 or TK_ENOMEM. */
int tk_ptrie_add(tk_ptrie_t *t, const char *path, int slot);
/* Builds lookup indexes once all paths are added (faster walks). 0 or TK_ENOMEM. */
int tk_ptrie_finalize(tk_ptrie_t *t);
/* A child of the root by name (e.g. "cloudTrailRecord"), or NULL. */
int tk_ptrie_has_root_member(const tk_ptrie_t *t, const char *name);

typedef struct tk_aview {
    uint32_t nslots;
    uint32_t *head;     /* per slot: first value index or TK_AV_END */
    uint32_t *tail;
    tk_aval_t *vals;
    uint32_t nvals, capvals;
    uint8_t tag;        /* walker internal */
    char *scratch;      /* unescaped strings */
    size_t scratch_len, scratch_cap;
} tk_aview_t;

int tk_aview_init(tk_aview_t *v, uint32_t nslots);
void tk_aview_free(tk_aview_t *v);
void tk_aview_reset(tk_aview_t *v);

/* Walks the object at p[0..len) along trie t, adding the values of every
 * registered path to v. sub (may be NULL): name of a root member whose
 * object is walked with trie tsub instead (the CloudTrail original), and
 * *found_sub set to 1 when it was there; then the slots flagged in
 * sub_slot keep only the values found inside it (t may hold the same paths
 * for the case where the member is absent). 0 or TK_EINVAL (not a JSON
 * object / malformed), TK_ENOMEM. */
int tk_jwalk(const char *p, size_t len, const tk_ptrie_t *t, const char *sub,
             const tk_ptrie_t *tsub, const uint8_t *sub_slot, int *found_sub, tk_aview_t *v);

/* Leaf evaluation against a view. */
int tk_anode_eval(const tk_anode_t *n, const tk_aview_t *v);
/* Appends why n held (only the parts that held) to b. */
int tk_anode_explain(const tk_anode_t *n, const tk_aview_t *v, tk_buf_t *b);

/* ---- business hours (hours.c) ---- */

/* Compiles {"tz": "Asia/Shanghai", "days": "mon-fri", "hours": "09:00-18:00",
 * "holidays": ["2026-10-01", ...]}. */
int tk_hours_compile(const cJSON *spec, tk_hours_t **out, char *err);
void tk_hours_free(tk_hours_t *h);
/* 1 when the UTC instant ms falls inside business hours. */
int tk_hours_within(const tk_hours_t *h, int64_t ms);
/* UTC offset in seconds of zone file name at instant ms (for tests). */
int tk_tz_offset(const char *tzname, int64_t ms, int32_t *off, char *err);

#endif

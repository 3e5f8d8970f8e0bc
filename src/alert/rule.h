/* trailkeep alert rules: the rule model (conditions on JSON paths combined
 * with and/or/not, optional threshold and suppression), its three sources
 * (rule JSON, templates, Sigma YAML) and the engine that evaluates every
 * rule on each event. Rules are compiled once (paths interned into slots,
 * regexes JIT-compiled, CIDRs parsed); an event is walked once per
 * evaluation and only along the paths some rule reads. */
#ifndef TK_ALERT_RULE_H
#define TK_ALERT_RULE_H

#include <stddef.h>
#include <stdint.h>

typedef enum tk_severity {
    TK_SEV_CRITICAL = 0,
    TK_SEV_HIGH,
    TK_SEV_MEDIUM,
    TK_SEV_LOW,
    TK_SEV_REPORT,
} tk_severity_t;

/* Static name ("critical", ...). */
const char *tk_severity_name(tk_severity_t s);
/* Case-insensitive name -> severity ("informational" = report). 0 or TK_EINVAL. */
int tk_severity_parse(const char *s, tk_severity_t *out);

/* Parses a duration: "90s", "30m", "1h", "2d", or a bare number of seconds.
 * 0 or TK_EINVAL. */
int tk_duration_parse(const char *s, int64_t *ms);

/* ---- rules ---- */

typedef struct tk_rule tk_rule_t;

/* Compiles a rule from its JSON definition (docs/rules.md). Returns 0 and an
 * owned rule (tk_rule_destroy), or TK_EINVAL with err naming the bad part
 * ("match.all[1].op: unknown operator 'equal'; use one of eq, ne, ..."). */
int tk_rule_from_json(const char *json, size_t len, tk_rule_t **out, char *err);

/* Loads one Sigma rule (YAML text). Returns 0 and an owned rule, or
 * TK_EUNSUPPORTED with err naming the construct it cannot honour (the rule is
 * then refused whole), or TK_EINVAL for malformed YAML/Sigma. origin (e.g.
 * the file name, may be NULL) is kept for messages. */
int tk_rule_from_sigma(const char *yaml, size_t len, const char *origin, tk_rule_t **out,
                       char *err);

void tk_rule_destroy(tk_rule_t *r); /* NULL is a no-op */

const char *tk_rule_id(const tk_rule_t *r);
const char *tk_rule_name(const tk_rule_t *r);
const char *tk_rule_description(const tk_rule_t *r);
tk_severity_t tk_rule_severity(const tk_rule_t *r);
/* Threshold count (1 when the rule has no threshold) and window. */
uint32_t tk_rule_threshold(const tk_rule_t *r);
int64_t tk_rule_window_ms(const tk_rule_t *r);
int64_t tk_rule_suppress_ms(const tk_rule_t *r);
/* The rule's condition as readable text (owned string, free()), or NULL on
 * ENOMEM: "all(eventName eq \"ConsoleSignin\", not(errorCode exists))". */
char *tk_rule_describe(const tk_rule_t *r);
/* 1 when the rule has a clear_when condition: its alerts end on a clearing
 * event (same group key), not by time. */
int tk_rule_clears_on_event(const tk_rule_t *r);

/* ---- templates (templates.c) ---- */

typedef struct tk_tmpl_param {
    const char *name;
    const char *def;         /* default value as text */
    const char *description;
} tk_tmpl_param_t;

typedef struct tk_template {
    const char *name;
    const char *description;
    tk_severity_t severity;
    const tk_tmpl_param_t *params; /* terminated by a row with name NULL */
    /* Builds the rule JSON for these parameter values (vals[i] is params[i],
     * never NULL). Returns an owned string (free()) or NULL with err set. */
    char *(*build)(const char *const *vals, char *err);
} tk_template_t;

/* The registry: all templates, n set to their number. */
const tk_template_t *tk_templates(size_t *n);
const tk_template_t *tk_template_find(const char *name);

/* Compiles a template from a spec "NAME" or "NAME?param=value&param=value"
 * (values URL-decoded, lists comma-separated). Returns 0 and an owned rule,
 * TK_ENOTFOUND for an unknown template, TK_EINVAL for a bad parameter. */
int tk_template_compile(const char *spec, tk_rule_t **out, char *err);

/* ---- engine ---- */

typedef enum tk_alert_kind {
    TK_ALERT_FIRE = 0,  /* the rule fired: threshold reached, not suppressed */
    TK_ALERT_MATCH,     /* the condition held (only with opts.report_matches) */
    TK_ALERT_CLEAR,     /* clear_when held: the group's incident is over (only with
                           opts.report_clears); count 0, seqs = the clearing event */
} tk_alert_kind_t;

/* What the callback gets; every pointer is borrowed for the call only. */
typedef struct tk_alert_hit {
    tk_alert_kind_t kind;
    const tk_rule_t *rule;
    const char *account;     /* the account the state is kept for */
    size_t account_len;
    const char *group_key;   /* group-by values joined by '|' ("" without group_by) */
    size_t group_len;
    uint64_t count;          /* events (or distinct values) in the window; 1 without threshold */
    int64_t first_ms;        /* oldest event counted */
    int64_t time_ms;         /* this event */
    uint64_t suppressed;     /* firings held back for this group since the last one */
    const char *why;         /* which conditions held, when opts.explain; else NULL */
    const uint64_t *seqs;    /* sequence numbers of the events counted, oldest first */
    uint32_t nseqs;          /* (for a distinct count: the latest event of each value) */
    const char *title;       /* the rule's title / summary rendered from this event */
    const char *summary;     /* (FIRE and CLEAR); NULL when the rule has none */
} tk_alert_hit_t;

typedef void (*tk_alert_cb)(void *ctx, const tk_alert_hit_t *hit);

typedef struct tk_alert_opts {
    uint32_t max_groups;  /* cap on threshold/suppression groups kept (default 100000) */
    uint64_t max_entries; /* cap on events held in all windows together (default 4M,
                             24 bytes each: ~96 MB) */
    int explain;          /* fill hit.why (costs a second walk of the rule on a match) */
    int report_matches;   /* also call back with TK_ALERT_MATCH for each condition match */
    int report_clears;    /* also call back with TK_ALERT_CLEAR when a clear_when holds */
} tk_alert_opts_t;

typedef struct tk_alert_stats {
    uint64_t events;         /* evaluated */
    uint64_t bad_events;     /* not a JSON object: skipped */
    uint64_t rule_evals;     /* rules whose condition was evaluated (after the prefilter) */
    uint64_t matches;        /* condition held */
    uint64_t fires;
    uint64_t suppressed;
    uint64_t groups;         /* groups held now */
    uint64_t group_cap_hits; /* a new group could not be tracked: max_groups reached */
    uint64_t groups_expired;
    uint64_t window_entries; /* events held in windows now (slots allocated) */
    uint64_t entry_cap_hits; /* an event could not be counted: max_entries reached */
    uint64_t clears;         /* clear_when held (reported or not) */
    /* sums over the rules (see tk_alert_rule_stats_t) */
    uint64_t eval_ns;
    uint64_t regex_limit_hits;
    uint64_t regex_truncated;
} tk_alert_stats_t;

/* One rule's cost in an engine (docs/rules.md "Regex limits"). */
typedef struct tk_alert_rule_stats {
    const char *id;            /* borrowed from the engine's rule */
    uint64_t evals;            /* events its conditions were evaluated on (after the prefilter) */
    uint64_t eval_ns;          /* monotonic time spent on them: conditions, state, callback;
                                  exact for rules with a regex, else sampled on 1 event in
                                  16 and scaled up */
    uint64_t regex_limit_hits; /* regex matches stopped by a limit: counted as no match */
    uint64_t regex_truncated;  /* values longer than the regex subject cap (start searched) */
} tk_alert_rule_stats_t;

typedef struct tk_alert_engine tk_alert_engine_t;

/* opts may be NULL (defaults). Returns 0 and an owned engine. */
int tk_alert_engine_create(const tk_alert_opts_t *opts, tk_alert_engine_t **out, char *err);
void tk_alert_engine_destroy(tk_alert_engine_t *e); /* NULL is a no-op; destroys its rules */

/* Takes the rule (also on failure: it is destroyed). Rules may be added
 * until the first evaluation. 0, TK_EEXIST (same id), TK_ENOMEM, TK_EBUSY
 * (already evaluating). */
int tk_alert_engine_add(tk_alert_engine_t *e, tk_rule_t *rule, char *err);
size_t tk_alert_engine_rule_count(const tk_alert_engine_t *e);

/* Evaluates every rule on one stored event (event_json[0..len), a JSON
 * object; canonical, or a raw CloudTrail record) and calls cb for each
 * firing (and match, see opts). account NULL: the event's
 * recipientAccountId; time_ms 0: the event's eventTime. Window state is per
 * (rule, account, group). Events should arrive in time order per account;
 * late events count within the window they fall in. Returns 0, or
 * TK_EINVAL when the event is not a JSON object (counted, no state changed). */
int tk_alert_engine_eval(tk_alert_engine_t *e, const char *account, size_t account_len,
                         const char *event_json, size_t len, int64_t time_ms, tk_alert_cb cb,
                         void *ctx, char *err);

/* The same with the event's sequence number in the log (reported back in
 * hit.seqs so alerts can name their events; tk_alert_engine_eval numbers
 * events 1, 2, 3 ... after the highest seen). */
int tk_alert_engine_eval_seq(tk_alert_engine_t *e, const char *account, size_t account_len,
                             const char *event_json, size_t len, int64_t time_ms, uint64_t seq,
                             tk_alert_cb cb, void *ctx, char *err);

void tk_alert_engine_stats(const tk_alert_engine_t *e, tk_alert_stats_t *out);
/* The cost of rule i (0 .. tk_alert_engine_rule_count - 1, in the order
 * added). 0 or TK_ENOTFOUND. Zero times before the first evaluation. */
int tk_alert_engine_rule_stats(const tk_alert_engine_t *e, size_t i, tk_alert_rule_stats_t *out);

/* Highest sequence number evaluated (0 before any). */
uint64_t tk_alert_engine_last_seq(const tk_alert_engine_t *e);

/* Window and suppression state, so a restarted engine neither re-alerts nor
 * loses a half-counted window: save appends a checksummed snapshot (with
 * last_seq) to out; load (same rules, before evaluating) restores it, then
 * the caller replays the log from last_seq + 1. Groups of rules no longer
 * loaded are dropped. 0, TK_ENOMEM, TK_ECORRUPT (damaged snapshot: start
 * without it). */
struct tk_buf;
int tk_alert_engine_save(const tk_alert_engine_t *e, struct tk_buf *out, char *err);
int tk_alert_engine_load(tk_alert_engine_t *e, const void *data, size_t n, char *err);

#endif

/* trailkeep Insights (SPEC.md section 7): per-account per-minute aggregates,
 * seasonal baselines and seven detectors that turn a significant, sustained
 * deviation into one Start and one End Insights event in ActionTrail's shape.
 * Flow: events -> tk_insight_obs_t -> tk_insight_agg_add (series of minute
 * counts, one per detector key) -> tk_insight_evaluate (baseline + sustained
 * rule per series -> incidents) -> tk_insight_attr_add (second look at the
 * events: top users, IPs, AccessKeys, APIs, user agents) -> tk_insight_render.
 * tk_insight_run_account does all of it over a store. Not thread-safe: one
 * aggregate or result per thread. */
#ifndef TK_INSIGHT_INSIGHT_H
#define TK_INSIGHT_INSIGHT_H

#include "base/buf.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* One event as the detectors see it. Strings are borrowed, NUL-terminated,
 * "" when absent (never NULL). */
typedef struct tk_insight_obs {
    int64_t time_ms;
    const char *service;     /* serviceName, e.g. "Ecs" */
    const char *event_name;  /* eventName, e.g. "DeleteInstance" */
    const char *event_rw;    /* "Read" / "Write" */
    const char *error_code;  /* "" on success */
    const char *source_ip;   /* sourceIpAddress */
    const char *user_agent;
    const char *user;        /* userIdentity.userName, else principalId, else type */
    const char *access_key;  /* userIdentity.accessKeyId */
    const char *event_type;  /* eventType; events of type ActionTrailInsight are ignored */
    int sensitive;           /* sensitiveAction (computed from the list when absent) */
} tk_insight_obs_t;

/* Detector knobs. Every detector has the same set; its descriptor gives the
 * defaults (see docs/insights.md for what each one trades). */
typedef struct tk_insight_knobs {
    double alpha;         /* a minute is anomalous when P(X >= count | baseline) < alpha */
    double k;             /* an incident opens when k of the last m minutes are anomalous */
    double m;
    double close_quiet;   /* ... and closes after this many minutes without an anomalous one */
    double min_count;     /* a minute below this (weighted) count is never anomalous */
    double floor_rate;    /* expected per-minute rate of a series with no history */
    double sigma;         /* robust spreads (1.4826 MAD) of the seasonal samples added to the expected rate */
    double min_history_h; /* hours of account history needed before anything is judged */
    double by_events;     /* 1: judge event counts, weights only gate min_count; 0: judge weights */
    double k_events;      /* 1: k counts events in the anomalous minutes, not minutes (sprees) */
    double enabled;       /* 0 disables the detector */
    /* AkInsight's "known key from a new network" check (0 elsewhere; see det_actor.c): */
    double net_min;       /* weighted calls (read 1, write 3) from a new network that open; 0: off */
    double net_days;      /* days a key must have been active in the 28 before to be judged */
    double net_roam;      /* new networks per active day above which a key roams (not judged) */
} tk_insight_knobs_t;

/* One row of a detector's option table: drives --set, `insights types` and docs. */
typedef struct tk_insight_opt {
    const char *name;
    size_t off;           /* offsetof(tk_insight_knobs_t, field) */
    double lo, hi;        /* accepted range */
    const char *desc;
} tk_insight_opt_t;

extern const tk_insight_opt_t tk_insight_opts[];
extern const size_t tk_insight_nopts;

#define TK_INSIGHT_KEYLEN 256

/* What one event contributes to one series of a detector. */
typedef struct tk_insight_key {
    char key[TK_INSIGHT_KEYLEN]; /* series key within the detector, e.g. "Ecs:DeleteInstance" */
    uint32_t weight;             /* added to the series' minute (weighted count) */
} tk_insight_key_t;

/* A detector plugin: one const descriptor per Insights type. classify is the
 * update callback (which series an event feeds, with which weight; returns
 * how many keys it wrote, at most max); evaluate judges one series (the
 * shared seasonal/Poisson engine, tk_insight_series_evaluate, unless a
 * detector needs its own). */
struct tk_insight_series;
struct tk_insight_inclist;
struct tk_insight_agg;
typedef struct tk_insight_detector {
    const char *name;         /* "ApiCallRateInsight" */
    const char *summary;      /* one line for `insights types` */
    const char *object;       /* what the series key names: "API", "source IP", ... */
    tk_insight_knobs_t defaults;
    int (*classify)(const tk_insight_obs_t *o, tk_insight_key_t *keys, int max);
    int (*evaluate)(const struct tk_insight_detector *d, const tk_insight_knobs_t *kn,
                    const struct tk_insight_series *s, uint32_t hist_start_min,
                    uint32_t from_min, uint32_t until_min, struct tk_insight_inclist *out);
    /* Optional (NULL for most): judges every series of detector id det at
     * once, for series judged against their siblings (AkInsight's (key,
     * network) series against the key's other networks and its owner's
     * console use). When set, tk_insight_evaluate calls it once instead of
     * evaluate per series; it reads a (borrowed) and appends to out. */
    int (*evaluate_all)(const struct tk_insight_detector *d, int det, const tk_insight_knobs_t *kn,
                        const struct tk_insight_agg *a, uint32_t hist_start_min,
                        uint32_t from_min, uint32_t until_min, struct tk_insight_inclist *out);
} tk_insight_detector_t;

/* The registry, in a fixed order (indexes are detector ids). */
#define TK_INSIGHT_NDET 7
extern const tk_insight_detector_t *const tk_insight_detectors[TK_INSIGHT_NDET];
/* Detector id by name ("ApiCallRateInsight"), or -1. */
int tk_insight_detector_find(const char *name);

typedef struct tk_insight_config {
    tk_insight_knobs_t knobs[TK_INSIGHT_NDET];
} tk_insight_config_t;

/* Fills cfg with every detector's defaults. */
void tk_insight_config_default(tk_insight_config_t *cfg);
/* Sets "Type.knob=value" (Type may be "*" for all detectors). 0 or TK_EINVAL with err. */
int tk_insight_config_set(tk_insight_config_t *cfg, const char *assignment, char *err);

/* ---- aggregates (aggregate.c) ---- */

typedef struct tk_insight_point {
    uint32_t minute;   /* minutes since the epoch */
    uint32_t events;   /* events in that minute */
    uint32_t weight;   /* weighted count (what the models judge) */
} tk_insight_point_t;

typedef struct tk_insight_series {
    int det;                   /* detector id */
    char *key;                 /* owned */
    tk_insight_point_t *pts;   /* sorted by minute, one point per nonzero minute */
    size_t n, cap;
} tk_insight_series_t;

typedef struct tk_insight_agg tk_insight_agg_t;

/* Returns an owned, empty aggregate for one account (tk_insight_agg_destroy),
 * NULL on ENOMEM. cfg is copied (disabled detectors record nothing). */
tk_insight_agg_t *tk_insight_agg_create(const tk_insight_config_t *cfg);
void tk_insight_agg_destroy(tk_insight_agg_t *a); /* NULL is a no-op */
/* Counts one event (borrowed) in every series it feeds. Events may come in
 * any order (in-order is the cheap case). 0 or TK_ENOMEM. */
int tk_insight_agg_add(tk_insight_agg_t *a, const tk_insight_obs_t *o);
/* Series and the span of minutes seen (first/last 0 when empty). */
size_t tk_insight_agg_nseries(const tk_insight_agg_t *a);
const tk_insight_series_t *tk_insight_agg_series(const tk_insight_agg_t *a, size_t i);
uint32_t tk_insight_agg_first_minute(const tk_insight_agg_t *a);
uint32_t tk_insight_agg_last_minute(const tk_insight_agg_t *a);
/* Drops every point before before_min, and series left empty (bounded
 * memory for a long-running consumer). 0 or TK_ENOMEM. */
int tk_insight_agg_prune(tk_insight_agg_t *a, uint32_t before_min);
/* Memory held by the aggregate, in bytes (for figures and limits). */
size_t tk_insight_agg_bytes(const tk_insight_agg_t *a);

/* Fills o from a stored event's JSON (borrowed); the strings point into
 * *doc (a cJSON tree, returned owned: cJSON_Delete it after use).
 * TK_EINVAL when json is not an object. */
struct cJSON;
int tk_insight_obs_from_json(const char *json, size_t len, int64_t time_ms,
                             tk_insight_obs_t *o, struct cJSON **doc);

/* Rebuilds the aggregate from an account's stored events in [start_ms,
 * end_ms] (oldest first), so baselines exist as soon as history does. */
int tk_insight_agg_rebuild(tk_insight_agg_t *a, tk_store_t *s, const char *account,
                           int64_t start_ms, int64_t end_ms, char *err);

/* ---- baselines and incidents (baseline.c) ---- */

#define TK_INSIGHT_ATTRS 5 /* user, source IP, AccessKey, API, user agent */
#define TK_INSIGHT_TOP 5

typedef struct tk_insight_tally {
    char *value;               /* owned */
    uint64_t insight, baseline, at_detect;
} tk_insight_tally_t;

typedef struct tk_insight_incident {
    int det;
    const char *key;           /* borrowed from the aggregate's series... */
    char *key_owned;           /* ...and copied here by tk_insight_evaluate */
    uint32_t start_min;        /* first anomalous minute */
    uint32_t detect_min;       /* minute the sustained rule was met (Start is emitted then) */
    uint32_t end_min;          /* one past the last anomalous minute; 0 while open */
    int open;                  /* still anomalous at the end of the data: no End yet */
    uint64_t events, weight;   /* in [start, end) (or to the data's end while open); weight
                                  is the judged count: weighted, or events with by_events */
    uint64_t events_at_detect, weight_at_detect; /* in [start, detect] */
    double baseline_avg;       /* expected weighted count per minute over the incident */
    double baseline_avg_detect;/* ... over [start, detect]: what the Start record reports */
    uint32_t baseline_minutes; /* history the baseline was learnt from */
    double max_logp;           /* most extreme minute: log10 P(X >= count) */
    char shared_id[37];        /* sharedEventId: deterministic from account, type, key, start */
    /* Attributions (tk_insight_attr_*): per attribute, owned arrays. */
    tk_insight_tally_t *tally[TK_INSIGHT_ATTRS];
    size_t ntally[TK_INSIGHT_ATTRS];
    uint64_t base_events;      /* events of the series in the attribution baseline window */
    uint32_t attr_base_minutes;
} tk_insight_incident_t;

/* A growable list of incidents (owned). */
typedef struct tk_insight_inclist {
    tk_insight_incident_t *v;
    size_t n, cap;
} tk_insight_inclist_t;

/* Appends a copy of *in (its owned pointers move to the list). 0 or TK_ENOMEM. */
int tk_insight_inclist_push(tk_insight_inclist_t *out, const tk_insight_incident_t *in);

/* log10 of P(X >= c) for X ~ Poisson(lambda); 0 when c <= 0. */
double tk_insight_poisson_log10_sf(double c, double lambda);
/* Median and MAD of x[0..n) (x is reordered). 0 for n == 0. */
double tk_insight_median(double *x, size_t n);
double tk_insight_mad(double *x, size_t n, double median);

/* The shared engine: hour-of-week (>= 2 weeks of history) or hour-of-day
 * medians of the series' hourly totals over up to 28 days before each hour,
 * floored by the series' mean rate over that window and by floor_rate;
 * Poisson tail per minute; k-of-m to open, close_quiet to close. Judges
 * minutes in [from_min, until_min) with history from hist_start_min on.
 * Appends incidents (key borrowed from s) to out. 0 or TK_ENOMEM. */
int tk_insight_series_evaluate(const tk_insight_detector_t *d, const tk_insight_knobs_t *kn,
                               const tk_insight_series_t *s, uint32_t hist_start_min,
                               uint32_t from_min, uint32_t until_min, tk_insight_inclist_t *out);

/* ---- a run over one account (insight.c) ---- */

typedef struct tk_insight_result {
    char account[64];
    tk_insight_config_t cfg;
    tk_insight_inclist_t inc;  /* sorted by (start, type, key) */
    uint32_t hist_start_min, until_min;
} tk_insight_result_t;

/* Evaluates every series of a over [from_ms, until_ms) into r (cleared
 * first; r owned by the caller: tk_insight_result_free). Keys are copied,
 * so a may be destroyed afterwards. */
int tk_insight_evaluate(const tk_insight_agg_t *a, const char *account,
                        const tk_insight_config_t *cfg, int64_t from_ms, int64_t until_ms,
                        tk_insight_result_t *r, char *err);
void tk_insight_result_free(tk_insight_result_t *r); /* keeps nothing; NULL is a no-op */

/* Attributions: feed the events again (in any order) between begin and end;
 * each event that belongs to an incident's series is tallied by user, IP,
 * AccessKey, API and user agent inside the incident and in the 7 days before
 * it (the attribution baseline). The window to feed is
 * tk_insight_attr_window. */
void tk_insight_attr_window(const tk_insight_result_t *r, int64_t *start_ms, int64_t *end_ms);
int tk_insight_attr_add(tk_insight_result_t *r, const tk_insight_obs_t *o);

/* Everything for one account of a store: rebuild (from since - 28 days),
 * evaluate [since, until), attributions. r is filled (owned by the caller:
 * tk_insight_result_free, also after an error). */
int tk_insight_run_account(tk_store_t *s, const char *account, const tk_insight_config_t *cfg,
                           int64_t since_ms, int64_t until_ms, tk_insight_result_t *r, char *err);

/* ---- continuous evaluation (live.c) ---- */

/* A consumer of the event log (serve): events are added as they are stored,
 * tick() judges the minutes completed since the previous tick and emits each
 * incident's Start once, when it is established, and its End once, when it
 * is over. Ticking every minute emits exactly the records an offline run
 * over the same events renders. Memory: 29 days of aggregates per account
 * (older points are pruned). */
typedef struct tk_insight_live tk_insight_live_t;

/* One emitted record: json (borrowed, valid during the call) is the
 * Insights event; return nonzero to stop the tick (that value is returned). */
typedef int (*tk_insight_emit_cb)(void *ud, const char *account, int end_state, int64_t time_ms,
                                  const char *json, size_t len);

/* Returns an owned consumer (tk_insight_live_destroy), NULL on ENOMEM. cfg copied. */
tk_insight_live_t *tk_insight_live_create(const tk_insight_config_t *cfg);
void tk_insight_live_destroy(tk_insight_live_t *l); /* NULL is a no-op */
/* Counts one event of account (both borrowed). 0 or TK_ENOMEM. */
int tk_insight_live_add(tk_insight_live_t *l, const char *account, const tk_insight_obs_t *o);
/* The same from a stored event (tk_store_log_read's callback shape). */
int tk_insight_live_add_stored(tk_insight_live_t *l, const tk_stored_event_t *ev);
/* Judges every account up to the last complete minute before now_ms and
 * calls emit for each new Start and End, oldest incident first. s (may be
 * NULL: no attributions) is read for the attributions of emitted records. */
int tk_insight_live_tick(tk_insight_live_t *l, tk_store_t *s, int64_t now_ms,
                         tk_insight_emit_cb emit, void *ud, char *err);
/* An account's own configuration (its enabled types, sensitivity, knob
 * overrides; copied), used from the next tick on; NULL = the consumer's.
 * The aggregate keeps recording with the consumer's configuration. 0 or TK_ENOMEM. */
int tk_insight_live_set_account_config(tk_insight_live_t *l, const char *account,
                                       const tk_insight_config_t *cfg);
/* Adds account's stored events in [start_ms, end_ms] with seq <= max_seq
 * (those after max_seq come through the log) to its aggregate, so baselines
 * exist at once after a restart or an import. cancel (may be NULL) is polled
 * every 4096 events: nonzero stops with TK_ECLOSED. */
int tk_insight_live_rebuild(tk_insight_live_t *l, tk_store_t *s, const char *account,
                            int64_t start_ms, int64_t end_ms, uint64_t max_seq,
                            int (*cancel)(void *ud), void *cancel_ud, char *err);
/* Accounts held and the memory of their aggregates and incident lists. */
void tk_insight_live_stats(const tk_insight_live_t *l, size_t *accounts, size_t *agg_bytes);

/* Tallies attributions for r's incidents from the account's stored events
 * (what tk_insight_run_account does after evaluating). */
int tk_insight_attr_from_store(tk_insight_result_t *r, tk_store_t *s, char *err);

/* Appends incident i's Start (end_state 0) or End (1) record to out as one
 * JSON object in ActionTrail's Insights shape. TK_EINVAL for the End of an
 * open incident. */
int tk_insight_render(const tk_insight_result_t *r, size_t i, int end_state, tk_buf_t *out);
/* One sentence for a person: what, how far above baseline, who (over the
 * whole incident, or up to detection while it is open). */
int tk_insight_explain(const tk_insight_result_t *r, size_t i, tk_buf_t *out);
/* Static attribute name of tally index a ("userIdentity", "sourceIpAddress",
 * "accessKeyId", "eventName", "userAgent"). */
const char *tk_insight_attr_name(int a);

#endif

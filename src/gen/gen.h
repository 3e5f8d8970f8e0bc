/* trailkeep event generator: deterministic, seedable, realistic ActionTrail
 * (or CloudTrail-shaped) management events for demos, tests and benchmarks.
 * Invariants: the same options give byte-identical output; events come out in
 * non-decreasing eventTime order; an AccessKey always belongs to one identity
 * of one account. */
#ifndef TK_GEN_GEN_H
#define TK_GEN_GEN_H

#include "base/buf.h"

#include <stddef.h>
#include <stdint.h>

/* Shape of each record. Framing (JSON Lines, {"Records":[...]}, array) is
 * the writer's job (gen/writer.h); the generator emits one object at a time. */
typedef enum tk_gen_shape {
    TK_GEN_SHAPE_ACTIONTRAIL = 0, /* ActionTrail event (SPEC 1.1) */
    TK_GEN_SHAPE_CLOUDTRAIL,      /* CloudTrail record mapped from the same activity (AWS names) */
} tk_gen_shape_t;

typedef struct tk_gen_opts {
    uint64_t seed;             /* same seed + options => same bytes */
    uint32_t accounts;         /* number of accounts (default 3) */
    uint32_t users;            /* identities per account incl. root and roles (default 8, min 3) */
    uint32_t days;             /* length of the time range in days (default 7) */
    uint64_t events;           /* total events; 0 = events_per_day * days */
    uint64_t events_per_day;   /* used when events == 0 (default 10000) */
    int64_t start_ms;          /* first instant; INT64_MIN = today 00:00 UTC minus days */
    double error_rate;         /* share of API calls that fail (default 0.03) */
    double signin_failure_rate;/* share of console sign-ins that fail (default 0.08) */
    int attacks;               /* inject attack scenarios (see tk_gen_scenario_names) */
    int insight_attacks;       /* inject the Insights scenarios (tk_gen_insight_scenario_names),
                                  one set per 8 accounts; 0 leaves the output unchanged */
    int label;                 /* add "tkScenario":"<name>" to injected events */
    tk_gen_shape_t shape;
} tk_gen_opts_t;

/* Fills o with the defaults documented above. */
void tk_gen_opts_default(tk_gen_opts_t *o);

/* What the caller may want to know about the event just generated. */
typedef struct tk_gen_info {
    int64_t time_ms;        /* eventTime as written (whole seconds) */
    const char *account;    /* recipientAccountId (borrowed from the generator) */
    const char *region;     /* acsRegion (static) */
    const char *scenario;   /* attack scenario name, NULL for background events */
    uint32_t account_index; /* 0 <= i < accounts */
    uint32_t region_index;  /* index of region among all known regions (< TK_GEN_REGIONS) */
} tk_gen_info_t;

/* Number of distinct regions events can carry. */
#define TK_GEN_REGIONS 9

typedef struct tk_gen tk_gen_t;

/* Validates opts (borrowed) and builds the world (accounts, identities,
 * AccessKeys, IP pools, the time schedule, the attack scenarios). *out is
 * owned by the caller (tk_gen_destroy). 0 or TK_EINVAL/TK_ENOMEM with err. */
int tk_gen_create(const tk_gen_opts_t *opts, tk_gen_t **out, char *err);
void tk_gen_destroy(tk_gen_t *g); /* NULL is a no-op */

/* Appends the next event (one JSON object, no newline) to out and fills info
 * (may be NULL; its strings stay valid until tk_gen_destroy). Returns 1 when an
 * event was appended, 0 when all events were generated, TK_ENOMEM. */
int tk_gen_next(tk_gen_t *g, tk_buf_t *out, tk_gen_info_t *info);

/* Total number of events this generator will produce. */
uint64_t tk_gen_total(const tk_gen_t *g);
/* Time range [start, end) of the generated events, in ms. */
int64_t tk_gen_start_ms(const tk_gen_t *g);
int64_t tk_gen_end_ms(const tk_gen_t *g);
/* Number of events belonging to injected scenarios (0 without attacks). */
uint64_t tk_gen_scenario_events(const tk_gen_t *g);

/* Account ids ("1" + 15 digits) of the generated world, 0 <= i < accounts. */
const char *tk_gen_account_id(const tk_gen_t *g, uint32_t i);

/* Shape the generator renders (from its options). */
tk_gen_shape_t tk_gen_shape(const tk_gen_t *g);
/* Region id of region_index (tk_gen_info_t): "cn-hangzhou", or with aws set
 * the region the CloudTrail shape writes ("us-east-1"). Static string. */
const char *tk_gen_region_name(uint32_t region_index, int aws);

/* Names of the attack scenarios, NULL-terminated (static). */
extern const char *const tk_gen_scenario_names[];
/* Names of the Insights scenarios (insight_attacks), NULL-terminated (static):
 * sustained deviations rather than single events: a password-reset spree, a
 * permission-escalation spree, an error storm from a misconfigured script, a
 * leaked AccessKey used from a new IP at a high rate, and a person's
 * AccessKey used at its usual rate and mix of APIs from a new /24
 * ("ak-new-network", 20-60 minutes). */
extern const char *const tk_gen_insight_scenario_names[];

#endif

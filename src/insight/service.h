/* trailkeep Insights inside `serve`: one consumer thread that rebuilds each
 * account's aggregates from the store at start (28 days, so baselines exist
 * at once after an import), then follows the store's log, ticks the live
 * models once a minute and appends the Insights records they emit to the
 * store as events of their account (eventCategory Insight). Record ids are
 * deterministic, so a re-emit after a restart is a duplicate the store
 * drops. Also the per-account settings (enabled types, sensitivity, knob
 * overrides) kept in meta.db, shared by the service, the API and the CLI. */
#ifndef TK_INSIGHT_SERVICE_H
#define TK_INSIGHT_SERVICE_H

#include "base/buf.h"
#include "insight/insight.h"
#include "meta/meta.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* ---- per-account settings (meta.db, module "insight") ---- */

#define TK_INSIGHT_SENS_LOW 0    /* every detector's alpha / 100: fewer, stronger findings */
#define TK_INSIGHT_SENS_MEDIUM 1 /* the defaults */
#define TK_INSIGHT_SENS_HIGH 2   /* alpha x 100 (capped at 0.5): more, weaker findings */
#define TK_INSIGHT_OVERRIDES_LEN 1024

typedef struct tk_insight_settings {
    char account[64];
    int enabled[TK_INSIGHT_NDET];  /* 1 on (default), 0 off; index = detector id */
    int sensitivity;               /* TK_INSIGHT_SENS_* */
    char overrides[TK_INSIGHT_OVERRIDES_LEN]; /* "Type.knob=value" joined by ';', "" = none;
                                                 applied after the sensitivity (they win) */
    int64_t updated_ms;            /* 0: never set (the defaults) */
} tk_insight_settings_t;

/* Creates the module's tables (tk_meta_migrate "insight"). Idempotent. */
int tk_insight_schema(tk_meta_t *m, char *err);
/* The defaults for account: every type on, medium, no override. */
void tk_insight_settings_default(const char *account, tk_insight_settings_t *out);
/* The stored settings of account, or its defaults. */
int tk_insight_settings_get(tk_meta_t *m, const char *account, tk_insight_settings_t *out,
                            char *err);
/* Validates (TK_EINVAL with a message), stores, and bumps the generation so
 * a running service reloads. Sets in->updated_ms. */
int tk_insight_settings_put(tk_meta_t *m, tk_insight_settings_t *in, char *err);
/* Every stored row, in account order (cb runs with the meta lock released). */
int tk_insight_settings_list(tk_meta_t *m, void (*cb)(void *ud, const tk_insight_settings_t *s),
                             void *ud, char *err);
/* Changes a counter each time settings are stored (0 before the first). */
int64_t tk_insight_settings_generation(tk_meta_t *m);
/* Edits s in place, as the CLI flags and the API body say: enable/disable
 * comma lists of type names ("*" = all), a sensitivity name (NULL = keep),
 * knob assignments (replace the overrides when replace_sets, else add).
 * Checks everything before changing anything: TK_EINVAL with err. */
int tk_insight_settings_edit(tk_insight_settings_t *s, const char *enable, const char *disable,
                             const char *sensitivity, const char *const *sets, size_t nsets,
                             int replace_sets, char *err);
/* The detector configuration the settings mean: defaults, alpha scaled by
 * the sensitivity, the enabled flags, then the overrides. */
int tk_insight_settings_config(const tk_insight_settings_t *s, tk_insight_config_t *cfg,
                               char *err);
/* {"AccountId":..,"Types":{"ApiCallRateInsight":true,..},"Sensitivity":"medium",
 *  "Overrides":[..],"UpdatedTime":"..."|null} */
int tk_insight_settings_json(const tk_insight_settings_t *s, tk_buf_t *out);
/* "low" / "medium" / "high", or -1. */
int tk_insight_sensitivity_parse(const char *name);
const char *tk_insight_sensitivity_name(int s);

/* ---- the service ---- */

typedef struct tk_insight_service_opts {
    int64_t tick_ms;        /* judge completed minutes this often (default 60000) */
    int poll_ms;            /* log poll when idle (default 200) */
    size_t batch;           /* log events per read (default 5000) */
    int rebuild_days;       /* history read at start (default 28) */
} tk_insight_service_opts_t;

typedef struct tk_insight_service_stats {
    uint64_t events;            /* log events read */
    uint64_t own_skipped;       /* ... of them Insights records (not learnt from) */
    uint64_t records_emitted;   /* Start/End records the models emitted */
    uint64_t records_stored;    /* ... newly stored */
    uint64_t records_duplicate; /* ... already stored (a restart re-judging history) */
    uint64_t ticks, tick_errors;
    uint64_t checkpoint;        /* log seq read up to */
    size_t accounts;            /* accounts with aggregates */
    size_t agg_bytes;           /* memory of the aggregates */
    int rebuilt;                /* 1 once the start-up rebuild is done */
    int64_t rebuild_ms;         /* how long it took */
} tk_insight_service_stats_t;

typedef struct tk_insight_service tk_insight_service_t;

/* Borrows meta and store (they must outlive the service). Returns an owned
 * service (tk_insight_service_destroy), not yet running: the log is retained
 * from its current end, which is also where the rebuild stops. */
int tk_insight_service_create(tk_meta_t *meta, tk_store_t *store,
                              const tk_insight_service_opts_t *o, tk_insight_service_t **out,
                              char *err);
/* Starts the thread (rebuild, then follow the log and tick). */
int tk_insight_service_start(tk_insight_service_t *s, char *err);
/* Stops the thread (a rebuild or tick in progress stops early; records
 * already emitted are stored first) and frees; NULL is a no-op. */
void tk_insight_service_destroy(tk_insight_service_t *s);
void tk_insight_service_stats(tk_insight_service_t *s, tk_insight_service_stats_t *out);

#endif

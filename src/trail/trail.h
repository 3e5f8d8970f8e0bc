/* trailkeep trails (SPEC.md section 5): how events leave trailkeep for an
 * archive. A trail is a named, per-account filter (regions, Read/Write/All,
 * event types) plus one destination plugin (dest.h); its state (logging on or
 * off, delivery checkpoint, last error) lives in meta.db. The API mirrors
 * ActionTrail's CreateTrail, UpdateTrail, DeleteTrail, DescribeTrails,
 * GetTrailStatus, StartLogging and StopLogging, with the same parameter names,
 * and every change is itself recorded as an ActionTrail event in the store.
 * Thread-safety: every function may be called from any thread. */
#ifndef TK_TRAIL_TRAIL_H
#define TK_TRAIL_TRAIL_H

#include "base/buf.h"
#include "meta/meta.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

#define TK_TRAIL_MAX_PER_ACCOUNT 5   /* single-account trails per account */
#define TK_TRAIL_MAX_ORG 1           /* organization trails in total */

typedef struct tk_trail {
    char account[64];          /* owner (the account that created it) */
    char name[40];             /* Name: 6-36 of [a-z0-9_-], first a lowercase letter */
    char home_region[64];      /* HomeRegion: acsRegion of the trail's own events */
    char event_rw[8];          /* EventRW: "Write" (default), "Read", "All" */
    char trail_region[512];    /* TrailRegion: "All" or "cn-hangzhou,cn-shanghai" */
    char event_types[256];     /* EventTypes: "" = all, else "ApiCall,ConsoleSignin" */
    char oss_bucket[64];       /* OssBucketName ("" when none) */
    char oss_prefix[256];      /* OssKeyPrefix */
    char dest_type[16];        /* DestinationType: "folder", "s3" */
    char dest_options[2048];   /* destination options as a JSON object */
    int is_org;                /* IsOrganizationTrail: delivers every member's events */
    int is_logging;            /* StartLogging / StopLogging */
    int64_t created_ms, updated_ms, start_logging_ms, stop_logging_ms;
} tk_trail_t;

typedef struct tk_trail_status {
    int is_logging;
    int64_t start_logging_ms, stop_logging_ms;  /* 0 = never */
    int64_t latest_delivery_ms;                 /* last successful file */
    int64_t latest_error_ms;
    char latest_delivery_error[256];            /* "" after a success */
    uint64_t checkpoint_seq;   /* first log sequence number not yet delivered */
    uint64_t backlog;          /* the trail's account's (org trail: members') events after the
                                * checkpoint, not all may match; scans <= 262144 log entries */
    uint64_t delivered_events, delivered_files;
} tk_trail_status_t;

/* Who makes a call: recorded in the trail's audit event (userIdentity) and
 * used for the organization rules. Strings borrowed. */
typedef struct tk_trail_caller {
    const char *account;       /* required */
    const char *key_id;        /* API key id or NULL (local CLI) */
    const char *source_ip;     /* NULL = "Internal" */
    const char *user_agent;    /* NULL = "trailkeep" */
} tk_trail_caller_t;

/* One request parameter, ActionTrail name and string value: Name,
 * HomeRegion, EventRW, TrailRegion, EventTypes, OssBucketName, OssKeyPrefix,
 * IsOrganizationTrail ("true"/"false", CreateTrail only), DestinationType,
 * and "Dest.<option>" for the destination's options (dest.h). */
typedef struct tk_trail_param {
    const char *name;
    const char *value;
} tk_trail_param_t;

/* Creates the trail tables in meta.db (idempotent). Every function below
 * calls it once per tk_meta_t; exposed for tools. */
int tk_trail_schema(tk_meta_t *m, char *err);

/* CreateTrail. The trail starts stopped (StartLogging starts it) with its
 * checkpoint at the end of the log, so it delivers what is recorded from now
 * on. TK_EINVAL (bad parameter, message names it), TK_EEXIST, TK_EPERM (org
 * trail by a non-management account), TK_ETOOBIG (limit reached). The
 * change, or the refused attempt, is recorded as an ActionTrail event through
 * store (when not NULL). out may be NULL. */
int tk_trail_create(tk_meta_t *m, tk_store_t *store, const tk_trail_caller_t *c,
                    const tk_trail_param_t *p, size_t n, tk_trail_t *out, char *err);
/* UpdateTrail: the parameters given replace the stored ones; Name selects the
 * trail, IsOrganizationTrail cannot change (TK_EINVAL). */
int tk_trail_update(tk_meta_t *m, tk_store_t *store, const tk_trail_caller_t *c,
                    const tk_trail_param_t *p, size_t n, tk_trail_t *out, char *err);
/* DeleteTrail, StartLogging, StopLogging. TK_ENOTFOUND for an unknown name. */
int tk_trail_delete(tk_meta_t *m, tk_store_t *store, const tk_trail_caller_t *c,
                    const char *name, char *err);
int tk_trail_start_logging(tk_meta_t *m, tk_store_t *store, const tk_trail_caller_t *c,
                           const char *name, char *err);
int tk_trail_stop_logging(tk_meta_t *m, tk_store_t *store, const tk_trail_caller_t *c,
                          const char *name, char *err);

/* DescribeTrails: the caller's trails and the organization trail when the
 * caller is a member; name NULL = all. cb runs after the database lock is
 * released (it may call tk_trail_* / tk_meta_*). */
int tk_trail_describe(tk_meta_t *m, const char *account, const char *name,
                      void (*cb)(void *ud, const tk_trail_t *t), void *ud, char *err);
/* One trail of account (or an org trail it can see). TK_ENOTFOUND. */
int tk_trail_get(tk_meta_t *m, const char *account, const char *name, tk_trail_t *out, char *err);

/* GetTrailStatus. store may be NULL (backlog then 0). */
int tk_trail_get_status(tk_meta_t *m, tk_store_t *store, const char *account, const char *name,
                        tk_trail_status_t *out, char *err);

/* Appends the trail as a DescribeTrails JSON object (ActionTrail names). */
int tk_trail_to_json(const tk_trail_t *t, tk_buf_t *out);
/* Appends the status as a GetTrailStatus JSON object. */
int tk_trail_status_to_json(const tk_trail_status_t *s, tk_buf_t *out);

/* Checks a trail name (ActionTrail rule); 0 or TK_EINVAL with a message. */
int tk_trail_check_name(const char *name, char *err);

/* ---- the API in one call (api.c), for HTTP and other front ends ---- */
/* Runs ActionTrail action `action` (CreateTrail, UpdateTrail, DeleteTrail,
 * DescribeTrails, GetTrailStatus, StartLogging, StopLogging) for caller with
 * request parameters p (borrowed; "Action" and unknown transport parameters
 * are ignored by the caller), and appends the JSON response (ActionTrail
 * shapes: {"RequestId", ...}) to out. Errors as the functions above; TK_EUNSUPPORTED for an unknown action. */
int tk_trail_api(tk_meta_t *m, tk_store_t *store, const tk_trail_caller_t *c, const char *action,
                 const tk_trail_param_t *p, size_t n, tk_buf_t *out, char *err);
/* 1 when action only reads (DescribeTrails, GetTrailStatus), 0 when it
 * changes a trail, -1 when it is unknown. */
int tk_trail_action_kind(const char *action);

/* ---- delivery (deliver.c) ---- */
typedef struct tk_trail_deliverer tk_trail_deliverer_t;

typedef struct tk_trail_deliver_opts {
    int file_max_age_s;     /* a file closes this long after its first event; 0 = 60 */
    size_t file_max_events; /* ... or at this many events; 0 = 10,000 */
    int poll_ms;            /* how often new log entries are looked for; 0 = 1000 */
    int retry_base_ms;      /* first retry delay after a failed upload; 0 = 1000 */
    int retry_max_ms;       /* backoff ceiling; 0 = 300,000 */
    const char *digest_dir; /* where the digest key pair lives (the data dir); NULL = no digests */
    int digest_period_s;    /* a signed digest per logging trail this often; 0 = 3600 */
} tk_trail_deliver_opts_t;

/* Creates a deliverer for every trail in meta (trails added later are picked
 * up on the next poll). Registers each trail's checkpoint with the store so
 * seals keep the log it has not delivered. Borrows m and store for its
 * lifetime; *out owned: tk_trail_deliverer_destroy(). */
int tk_trail_deliverer_create(tk_meta_t *m, tk_store_t *store, const tk_trail_deliver_opts_t *o,
                              tk_trail_deliverer_t **out, char *err);
/* One pass over every logging trail: reads new log entries, and delivers a
 * file when it is due (force: deliver every pending event now, ignoring the
 * age and size rules and the backoff). *delivered (may be NULL) receives the
 * number of events delivered. Returns 0, or the first error (each trail's
 * error is also recorded in its status). */
int tk_trail_deliver_once(tk_trail_deliverer_t *d, int force, size_t *delivered, char *err);
/* Runs tk_trail_deliver_once every poll_ms in a background thread. */
int tk_trail_deliverer_start(tk_trail_deliverer_t *d, char *err);
/* Stops the thread (if started) after the pass in progress and frees d;
 * what was not delivered stays in the log for the next start. NULL: no-op. */
void tk_trail_deliverer_destroy(tk_trail_deliverer_t *d);

/* ---- digests and their verification (digest.c) ---- */
/* The PEM public key of DIR's digest key pair (created on first use) and its
 * fingerprint (hex SHA-256 of the DER public key): give it to whoever
 * verifies an archive elsewhere. Appends to pem. */
int tk_trail_public_key(const char *dir, tk_buf_t *pem, char fp[65], char *err);

/* ListPublicKeys: appends a JSON array [{"Fingerprint","PublicKey" (PEM),
 * "Algorithm","CreateTime"}] of every key that signed digests here. */
int tk_trail_public_keys(tk_meta_t *m, tk_buf_t *out, char *err);

/* Every trail with its status (backlog included), for /metrics. cb runs
 * without any lock held. */
int tk_trail_backlogs(tk_meta_t *m, tk_store_t *store,
                      void (*cb)(void *ud, const tk_trail_t *t, const tk_trail_status_t *st),
                      void *ud, char *err);

typedef struct tk_trail_verify_summary {
    size_t digests, digests_valid, logs_valid, problems;
    int chain_intact;   /* every digest signed, linked to the previous one, none missing */
} tk_trail_verify_summary_t;

/* cb(kind "log"|"digest", object key, status, detail): status is "valid",
 * "modified", "missing", "not-covered" (a log no digest lists) or
 * "chain-broken" (a digest that does not link to the one before it). */
typedef void (*tk_trail_verify_cb)(void *ud, const char *kind, const char *object,
                                   const char *status, const char *detail);

/* Checks an archive folder (a folder destination, or a bucket, or any folder
 * of it, copied with `aws s3 cp --recursive`) with the PEM public key alone. 0 when the check
 * ran (problems are in sum), else TK_EINVAL (key), TK_ENOTFOUND (folder).
 * Calls are serialised inside (one verification at a time per process). */
int tk_trail_verify_folder(const char *folder, const char *public_pem, tk_trail_verify_cb cb,
                           void *ud, tk_trail_verify_summary_t *sum, char *err);

#endif

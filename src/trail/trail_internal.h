/* trailkeep trails, internals shared by trail.c, deliver.c and the tests:
 * naming of the store consumer and of delivered objects, the deterministic
 * file builder. Not a public interface. */
#ifndef TK_TRAIL_TRAIL_INTERNAL_H
#define TK_TRAIL_TRAIL_INTERNAL_H

#include "base/buf.h"
#include "event/format.h"

#include <stddef.h>
#include <stdint.h>

/* "trail:<account>:<name>": the name under which a trail's checkpoint is
 * registered with tk_store_log_retain. */
void trail_consumer_name(const char *account, const char *name, char *out, size_t cap);

typedef enum trail_layout {
    TRAIL_LAYOUT_ACTIONTRAIL = 0, /* OSS layout, JSON array of canonical events */
    TRAIL_LAYOUT_CLOUDTRAIL,      /* S3 layout, {"Records":[...]} of CloudTrail records */
} trail_layout_t;

/* One event as a file is built from it (borrowed strings). */
typedef struct trail_fev {
    int64_t time_ms;
    const char *json;
    size_t len;
} trail_fev_t;

/* What a file is named after. */
typedef struct trail_file_id {
    trail_layout_t layout;
    const char *prefix;     /* OssKeyPrefix, may be "" */
    const char *org_id;     /* "" for a single-account trail */
    const char *account;
    const char *region;
    int insight;            /* Actiontrail-Insight folder */
    /* Record format inside the file (event/format.h): NULL = the layout's
     * own (canonical for ActionTrail, cloudtrail for CloudTrail). */
    const tk_event_format_t *format;
} trail_file_id_t;

/* Builds one delivered object from n events (in seq order): the gzip bytes
 * (deterministic: same events, same bytes) into gz and its key into key.
 * 0, TK_EINVAL (an event CloudTrail rendering refused), TK_ENOMEM. */
int trail_build_file(const trail_file_id_t *id, const trail_fev_t *ev, size_t n, tk_buf_t *gz,
                     tk_buf_t *key, char *err);

/* A trail with its delivery checkpoint, as the deliverer reads it. */
struct tk_meta;
struct tk_trail;
typedef struct trail_row {
    struct tk_trail *t;     /* owned by the array (trail_rows_free) */
    uint64_t next_seq;      /* first log seq not yet delivered */
    uint64_t pending_to;    /* nonzero: [next_seq, pending_to] planned and maybe sent */
    size_t pending_max;     /* file_max_events the planned range is cut with */
} trail_row_t;
/* Every trail in meta.db. *out owned: trail_rows_free(). */
int trail_load_all(struct tk_meta *m, trail_row_t **out, size_t *n, char *err);
void trail_rows_free(trail_row_t *v, size_t n);

/* ---- digests (digest.c) ---- */
/* A delivered file as a digest lists it. */
typedef struct trail_file_rec {
    char object[1024];
    char sha256[65];
    uint64_t events;
    int64_t oldest_ms, newest_ms;
} trail_file_rec_t;

typedef struct trail_digest_in {
    trail_layout_t layout;
    const char *prefix, *org_id, *account, *region, *trail;
    int64_t start_ms, end_ms;
    const char *prev_object, *prev_sig;   /* "" for the first digest */
    const char *fingerprint;
    const trail_file_rec_t *files;
    size_t nfiles;
} trail_digest_in_t;

/* Loads DIR/trail-digest.pem, creating an Ed25519 key pair (0600) on first
 * use. *key owned: trail_digest_key_free(). fp: hex SHA-256 of the public key. */
int trail_digest_key(const char *dir, void **key, char fp[65], char *err);
void trail_digest_key_free(void *key);
/* The digest JSON (signed bytes) and its object key. */
int trail_digest_build(const trail_digest_in_t *in, tk_buf_t *json, tk_buf_t *key, char *err);
/* Ed25519 signature of json as 128 hex characters. */
int trail_digest_sign(void *key, const tk_buf_t *json, char sig[129], char *err);

/* Records a digest public key in meta.db for ListPublicKeys (idempotent). */
int trail_key_register(struct tk_meta *m, const char *fingerprint, const char *pem, char *err);

/* Deterministic gzip (mtime 0) of data into out. 0 or TK_ENOMEM. */
int trail_gzip(const void *data, size_t len, tk_buf_t *out);

#endif

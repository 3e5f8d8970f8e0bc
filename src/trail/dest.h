/* trailkeep trail destinations: plugins behind one interface (Fluent Bit's
 * out_* model). Each destination is one const descriptor: a name, a
 * declarative option table (which drives validation, `trailkeep trails
 * help-dest NAME` and docs) and callbacks. Object stores get whole objects
 * (key + gzip bytes) through write_object, which must replace any object of
 * the same key (re-sending after a crash then leaves no duplicate) and return
 * only once the object is durable. Stream destinations (syslog) set
 * write_events instead and get the events themselves, in log order. */
#ifndef TK_TRAIL_DEST_H
#define TK_TRAIL_DEST_H

#include <stddef.h>
#include <stdint.h>

typedef enum tk_opt_type {
    TK_OPT_STRING = 0,
    TK_OPT_INT,
    TK_OPT_BOOL,
} tk_opt_type_t;

typedef struct tk_dest_option {
    const char *name;
    tk_opt_type_t type;
    const char *def;          /* default value as text, NULL = none */
    int required;
    const char *description;
} tk_dest_option_t;

/* One event handed to a stream destination (borrowed for the call). */
typedef struct tk_dest_event {
    uint64_t seq;
    int64_t time_ms;
    const char *account;
    const char *json;       /* the stored canonical event */
    size_t len;
} tk_dest_event_t;

/* Options as given for one trail: a JSON object's members (strings). */
typedef struct tk_dest_config {
    size_t n;
    const char *const *names;
    const char *const *values;
} tk_dest_config_t;

/* The value of option `name` in cfg, else its default from the table, else
 * NULL. Borrowed from cfg or the table. */
const char *tk_dest_config_get(const tk_dest_config_t *cfg, const char *name);

typedef struct tk_dest {
    const char *name;               /* "folder", "s3" */
    const char *description;        /* one line */
    const tk_dest_option_t *options;
    size_t noptions;
    /* Checks cfg and returns an owned state (*state), freed by close.
     * 0 or TK_EINVAL with a message naming the option. */
    int (*init)(const tk_dest_config_t *cfg, void **state, char *err);
    /* Stores data[0..len) (borrowed) under key (a relative path with '/').
     * 0, or TK_EIO/TK_EBUSY (retry later) with a message. */
    int (*write_object)(void *state, const char *key, const void *data, size_t len, char *err);
    /* Stream destinations: sends n events in order; 0 once all were handed
     * to the receiver, else TK_EIO (the whole call is retried later, so a
     * receiver may see some events twice: at-least-once). NULL for object
     * stores (then write_object is used). */
    int (*write_events)(void *state, const tk_dest_event_t *ev, size_t n, char *err);
    void (*close)(void *state);  /* NULL is a no-op */
    /* The operator's policy the options must obey (egress policy for
     * endpoints and hosts, folder roots for paths), checked when a trail is
     * written (tk_dest_check) and again when it is opened for delivery
     * (tk_dest_open). NULL = none. 0 or TK_EINVAL saying what was refused,
     * why, and which serve option allows it. */
    int (*check)(const tk_dest_config_t *cfg, char *err);
} tk_dest_t;

/* The registry (static array of pointers) and lookup by name (NULL if none). */
size_t tk_dests(const tk_dest_t *const **out);
const tk_dest_t *tk_dest_find(const char *name);

/* Validates a JSON object of options (borrowed) against d's table: unknown
 * names, missing required ones, ints and bools that do not parse. */
int tk_dest_validate(const tk_dest_t *d, const char *options_json, char *err);
/* tk_dest_validate, then d's policy check (check): what CreateTrail and
 * UpdateTrail run. 0 or TK_EINVAL. */
int tk_dest_check(const tk_dest_t *d, const char *options_json, char *err);
/* Opens d with options_json (validate, check, init). *state owned by the
 * caller: d->close. */
int tk_dest_open(const tk_dest_t *d, const char *options_json, void **state, char *err);

/* ---- folder roots (dest_folder.c): the operator's policy, process-wide ----
 * A folder destination's path must be absolute and normalised (no "", "."
 * or ".." component, no trailing '/'), lie in one of the roots (or be one),
 * have no symbolic link below its root, and be neither the data directory,
 * an ancestor of it, nor inside it (except under DATA/trail-folders).
 * Delivery opens every component below the root with O_NOFOLLOW, so a link
 * planted later is refused too. */
#define TK_DEST_FOLDER_DEFAULT_ROOT "trail-folders"

/* Sets the roots: roots[0..n) (existing directories, absolute; resolved
 * with realpath), or, when n is 0, DATA/trail-folders (created 0750 if
 * missing). data_dir (existing) is the store's folder. Replaces a previous
 * setting; call before delivery threads start. 0 or TK_EINVAL/TK_ENOTFOUND
 * naming the root. Until it is called every folder path is refused. */
int tk_dest_folder_set_roots(const char *data_dir, const char *const *roots, size_t n, char *err);
/* Checks path against the roots (what the folder plugin's check runs).
 * 0 or TK_EINVAL. */
int tk_dest_folder_check_path(const char *path, char *err);

extern const tk_dest_t tk_dest_folder;
extern const tk_dest_t tk_dest_s3;
extern const tk_dest_t tk_dest_syslog;

#endif

/* trailkeep alerting state in meta.db (migration "alert"): stored rules,
 * alerts (deduplicated by fingerprint rule+account+group), users and user
 * groups, the notification outbox, and the engine's checkpoint + snapshots.
 * Everything the service needs to survive a restart lives here; the engine
 * itself (rule.h) stays pure and in memory. */
#ifndef TK_ALERT_STORE_H
#define TK_ALERT_STORE_H

#include "alert/rule.h"
#include "base/buf.h"
#include "meta/meta.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* Creates/migrates the tables. Idempotent; every function below calls it. */
int tk_alert_schema(tk_meta_t *m, char *err);

/* ---- rules ---- */
typedef enum tk_rule_kind { TK_RULE_JSON = 0, TK_RULE_TEMPLATE, TK_RULE_SIGMA } tk_rule_kind_t;

typedef struct tk_stored_rule {
    char id[128];
    char account[64];
    int org_scope;          /* 1: applies to every member of the management account's org */
    tk_rule_kind_t kind;
    char *definition;       /* rule JSON, template spec "NAME?p=v", or Sigma YAML (owned) */
    tk_severity_t severity; /* overrides the compiled rule's */
    int enabled;
    char *recipients;       /* "alice,group:secops" (owned) */
    int64_t repeat_ms;      /* re-notify an open alert after this long (default 1 h) */
    int64_t created_ms, updated_ms;
} tk_stored_rule_t;

const char *tk_rule_kind_name(tk_rule_kind_t k);
int tk_rule_kind_parse(const char *s, tk_rule_kind_t *out);

/* Compiles a stored rule's definition (owned result). */
int tk_stored_rule_compile(const tk_stored_rule_t *r, tk_rule_t **out, char *err);
/* Validates (compiles) then inserts. TK_EEXIST, TK_EINVAL, TK_EUNSUPPORTED. */
int tk_alert_rule_create(tk_meta_t *m, const tk_stored_rule_t *r, char *err);
/* Replaces definition/severity/recipients/repeat/scope of (account, id). TK_ENOTFOUND. */
int tk_alert_rule_update(tk_meta_t *m, const tk_stored_rule_t *r, char *err);
int tk_alert_rule_delete(tk_meta_t *m, const char *account, const char *id, char *err);
int tk_alert_rule_set_enabled(tk_meta_t *m, const char *account, const char *id, int on, char *err);
/* out filled with owned strings: tk_stored_rule_free. TK_ENOTFOUND. */
int tk_alert_rule_get(tk_meta_t *m, const char *account, const char *id, tk_stored_rule_t *out,
                      char *err);
void tk_stored_rule_free(tk_stored_rule_t *r);
/* Every rule (account NULL) or one account's, in (account, id) order; the
 * array and its strings are owned: tk_stored_rules_free. */
int tk_alert_rule_list(tk_meta_t *m, const char *account, tk_stored_rule_t **out, size_t *n,
                       char *err);
void tk_stored_rules_free(tk_stored_rule_t *v, size_t n);
/* A number that changes whenever any rule changes (reload trigger). */
int64_t tk_alert_rules_version(tk_meta_t *m);

/* ---- users and groups ---- */
typedef struct tk_alert_user {
    char account[64];
    char name[128];
    char email[256];
    char webhook_url[512];
    char webhook_secret[256];
    char webhook_shape[16]; /* generic | dingtalk | slack */
} tk_alert_user_t;

/* Inserts or replaces. TK_EINVAL for a bad name or shape. */
int tk_alert_user_put(tk_meta_t *m, const tk_alert_user_t *u, char *err);
int tk_alert_user_delete(tk_meta_t *m, const char *account, const char *name, char *err);
int tk_alert_user_get(tk_meta_t *m, const char *account, const char *name, tk_alert_user_t *out,
                      char *err);
/* Owned array (free()). */
int tk_alert_user_list(tk_meta_t *m, const char *account, tk_alert_user_t **out, size_t *n,
                       char *err);
/* members: comma-separated user names; replaces the group. */
int tk_alert_group_put(tk_meta_t *m, const char *account, const char *name, const char *members,
                       char *err);
int tk_alert_group_delete(tk_meta_t *m, const char *account, const char *name, char *err);
/* Calls cb(name, members "a,b") for each group of the account. */
/* Every name of a rule's recipients list ("alice,group:secops") is a user or
 * a group of account: 0, or TK_EINVAL naming the first that is not and how
 * to create it. (Group members are checked by tk_alert_group_put.) */
int tk_alert_recipients_check(tk_meta_t *m, const char *account, const char *recipients, char *err);
/* Calls cb with a message for each recipient user (groups expanded) that no
 * channel can reach: no email and no webhook, or only an email while the
 * server has no SMTP (smtp_ok 0). For warnings in answers; 0 or an error. */
int tk_alert_recipients_reach(tk_meta_t *m, const char *account, const char *recipients, int smtp_ok,
                              void (*cb)(void *ud, const char *msg), void *ud, char *err);
int tk_alert_group_list(tk_meta_t *m, const char *account,
                        void (*cb)(void *ud, const char *name, const char *members), void *ud,
                        char *err);

/* ---- alerts ---- */
typedef enum tk_alert_state {
    TK_AS_TRIGGERED = 0,
    TK_AS_CLEARED,
    TK_AS_ACKNOWLEDGED,
    TK_AS_CLOSED,
} tk_alert_state_t;
const char *tk_alert_state_name(tk_alert_state_t s);
int tk_alert_state_parse(const char *s, tk_alert_state_t *out);

typedef struct tk_alert_row {
    int64_t id;
    char rule[128];
    char account[64];
    char group_key[256];
    char fingerprint[65];   /* hex SHA-256 of rule \0 account \0 group */
    tk_severity_t severity;
    tk_alert_state_t state;
    int64_t first_ms, last_ms;   /* event times */
    int64_t updated_ms;          /* wall clock of the last change */
    int64_t count;
    char *event_seqs;            /* "12,13,14" (owned) */
    int64_t notified_ms;
    /* The rule's title and summary rendered from the event that fired (from
     * the clearing event once cleared by one; "" when the rule has none).
     * Fixed arrays so that callers freeing only event_seqs leak nothing. */
    char title[256];
    char summary[1024];
    int64_t clear_seq;           /* the event that cleared it (clear_when), 0 if none */
    char history[4096];          /* JSON array of {"at","state","by","note"}: acks and closes */
} tk_alert_row_t;

typedef struct tk_alert_filter {
    const char *account;   /* required */
    const char *rule;      /* NULL: any */
    int state;             /* -1: any */
    int64_t since_ms, until_ms; /* on last_ms; 0 = unbounded */
    size_t limit;          /* 0 = 100 */
} tk_alert_filter_t;

/* Owned array: tk_alert_rows_free. Newest first. */
int tk_alert_list(tk_meta_t *m, const tk_alert_filter_t *f, tk_alert_row_t **out, size_t *n,
                  char *err);
int tk_alert_get(tk_meta_t *m, const char *account, int64_t id, tk_alert_row_t *out, char *err);
void tk_alert_rows_free(tk_alert_row_t *v, size_t n);
/* The stored events behind alert a (its event_seqs; they lie between its
 * first and last event time), appended to out as JSON events separated by
 * commas, in time order; *n set. Reads the store with one lookup over that
 * range of a's account, stopping once all are found (at most 1,000,000
 * events scanned). 0 or the store's error. */
int tk_alert_events(tk_store_t *store, const tk_alert_row_t *a, tk_buf_t *out, size_t *n, char *err);
/* triggered|cleared -> acknowledged; any -> closed. TK_ENOTFOUND, TK_EINVAL. */
int tk_alert_set_state(tk_meta_t *m, const char *account, int64_t id, tk_alert_state_t to,
                       char *err);
/* The same, recording who did it (a key id, "cli:USER") and their note (at
 * most 500 bytes, may be NULL) in the alert's history; the newest entries
 * that fit in tk_alert_row_t.history are kept. */
int tk_alert_set_state_by(tk_meta_t *m, const char *account, int64_t id, tk_alert_state_t to,
                          const char *by, const char *note, char *err);

/* ---- outbox ---- */
typedef struct tk_outbox_row {
    int64_t id;
    int64_t alert_id;
    char account[64];
    char user[128];
    char channel[16];     /* webhook | email */
    char kind[16];        /* fire | repeat | recovery */
    char *payload;        /* JSON of the alert (owned) */
    int attempts;
    int64_t next_ms;
    int sent;
    char last_error[256];
} tk_outbox_row_t;

/* Due unsent rows (next_ms <= now), oldest first, at most max. Owned. */
int tk_outbox_due(tk_meta_t *m, int64_t now_ms, size_t max, tk_outbox_row_t **out, size_t *n,
                  char *err);
void tk_outbox_rows_free(tk_outbox_row_t *v, size_t n);
/* Marks a row sent (and the alert notified) in one transaction. */
int tk_outbox_mark_sent(tk_meta_t *m, int64_t id, int64_t now_ms, char *err);
/* Records a failed attempt and when to retry. */
int tk_outbox_mark_failed(tk_meta_t *m, int64_t id, int64_t next_ms, const char *why, char *err);
/* Counts: pending (unsent) and sent rows, for tests and /metrics. */
int tk_outbox_counts(tk_meta_t *m, int64_t *pending, int64_t *sent, char *err);

#endif

/* trailkeep event store (DESIGN.md section 2): the product's core.
 * Write path: tk_store_append() assigns each event a global sequence number,
 * writes it to the WAL and returns only once the WAL is fsynced (group commit:
 * concurrent appenders share one fsync). Sealing moves WAL'd events into
 * per-(account, UTC day) segments with compressed blocks, inverted indexes for
 * every LookupAttribute and a per-account SHA-256 chain.
 * Read path: tk_store_lookup() walks matching events in (time, seq) order
 * across sealed segments and not-yet-sealed events alike.
 * Thread-safety: every function may be called from any thread concurrently. */
#ifndef TK_STORE_STORE_H
#define TK_STORE_STORE_H

#include "event/event.h"

#include <stddef.h>
#include <stdint.h>

typedef struct tk_store tk_store_t;

typedef struct tk_store_opts {
    const char *dir;              /* data directory (created if missing) */
    int no_fsync;                 /* tests/bench only: skip fsync (never in serve) */
    uint32_t group_commit_us;     /* reserved, ignored: a group is whatever queued while the
                                     previous one was written, with no added wait */
    size_t seal_bytes;            /* seal when unsealed JSON exceeds this; 0 = default (64 MiB) */
    int read_only;                /* open for lookup/verify only: no WAL replay writes, no lock */
    size_t dict_min_bytes;        /* JSON bytes a seal needs to train the store's zstd
                                     dictionary; 0 = default (2 MiB) */
} tk_store_opts_t;

/* Opens (creating if needed) the store in opts->dir, takes an exclusive lock
 * (TK_EBUSY if another process holds it) and replays the WAL: a torn or
 * corrupt tail record is cut and reported in the log, never trusted.
 * *out is owned by the caller: tk_store_close(). */
int tk_store_open(const tk_store_opts_t *opts, tk_store_t **out, char *err);
/* Seals nothing, loses nothing (the WAL holds unsealed events); NULL is a no-op. */
void tk_store_close(tk_store_t *s);

typedef struct tk_append_result {
    size_t accepted;    /* newly stored */
    size_t duplicates;  /* (account, eventId) already stored: not written again */
    uint64_t last_seq;  /* highest sequence number assigned (0 if none) */
} tk_append_result_t;

/* Stores n events (borrowed; copied before return) and returns when they are
 * durable. status, when not NULL, receives per event 0 = stored, 1 = duplicate.
 * Dedup is exact on (recipient account, eventId) within the event's UTC-day
 * partition (a re-import of the same file stores nothing new).
 * Errors: TK_ENOSPC (disk full: nothing of this call is acknowledged and the
 * WAL is left as it was), TK_EIO, TK_ECLOSED. */
int tk_store_append(tk_store_t *s, const tk_event_t *ev, size_t n, tk_append_result_t *res,
                    uint8_t *status, char *err);

/* Seals every unsealed event into segments and trims the WAL (what a consumer
 * still needs is kept, see tk_store_log_retain). Called by the store itself
 * when seal_bytes is reached, by import at the end, by serve periodically. */
int tk_store_seal(tk_store_t *s, char *err);

/* A stored event as handed to callbacks; valid only during the callback. */
typedef struct tk_stored_event {
    uint64_t seq;
    int64_t time_ms;
    tk_str_t account;
    tk_str_t json;
} tk_stored_event_t;

/* Return 0 to continue, nonzero to stop the walk (that value is returned). */
typedef int (*tk_event_cb)(void *ud, const tk_stored_event_t *ev);

typedef struct tk_lookup_req {
    const char *account;       /* required: the tenant whose partitions are read */
    int64_t start_ms, end_ms;  /* inclusive time range */
    int nattrs;                /* 0..2 attribute conditions, ANDed, exact match */
    struct { tk_attr_t key; const char *value; } attrs[2];
    int forward;               /* 0: newest first (time desc, seq desc); 1: oldest first */
    /* Resume strictly after this position in the walk order (NextToken). */
    int has_cursor;
    int64_t cursor_time_ms;
    uint64_t cursor_seq;
} tk_lookup_req_t;

/* Walks the events of req in order, calling cb for each until cb returns
 * nonzero or the range is exhausted. cb runs with no store lock held, so it
 * may call into the store (even append). The order (time, seq) is total, so a
 * cursor taken from the last event delivered resumes exactly: no repeat, no
 * skip, even while new events arrive. Cost: index bitmaps of the partitions in
 * range are intersected; only blocks holding hits are decompressed. */
int tk_store_lookup(tk_store_t *s, const tk_lookup_req_t *req, tk_event_cb cb, void *ud, char *err);

/* Accounts that have any stored event (sorted). *out is an owned array of
 * owned strings: free each and the array. */
int tk_store_accounts(tk_store_t *s, char ***out, size_t *n, char *err);

/* The log, in sequence order, for consumers (trails, alerts, Insights): calls
 * cb for every event with seq >= from_seq that is still retained. Consumers
 * keep their own checkpoints; the interface does not assume a local WAL. */
int tk_store_log_read(tk_store_t *s, uint64_t from_seq, size_t max, tk_event_cb cb, void *ud,
                      char *err);
uint64_t tk_store_last_seq(tk_store_t *s);
/* Keep the log from min_seq on (a consumer's checkpoint) when trimming; the
 * position is persisted at the next seal. UINT64_MAX releases the consumer
 * (e.g. a deleted trail), so it no longer holds WAL files back. */
void tk_store_log_retain(tk_store_t *s, const char *consumer, uint64_t min_seq);

/* Retention: whole UTC days of an account strictly older than its limit are
 * deleted (never rewritten); a day is kept while any part of it is inside the
 * window. The chain anchor (hash of the last removed segment) is recorded so
 * the remaining chain still verifies. */
typedef struct tk_retention {
    int default_days;                 /* 0 = 90 */
    size_t noverrides;
    const struct { const char *account; int days; } *overrides;
} tk_retention_t;

typedef struct tk_purge_report {
    size_t days_removed;
    size_t segments_removed;
    uint64_t bytes_removed;
    uint64_t events_removed;
} tk_purge_report_t;

/* Calls line_cb (may be NULL) with one human-readable line per removed day. */
int tk_store_purge(tk_store_t *s, int64_t now_ms, const tk_retention_t *ret, int dry_run,
                   tk_purge_report_t *rep, void (*line_cb)(void *ud, const char *line), void *ud,
                   char *err);

/* Integrity: walks each account's chain (or one account) and reports every
 * segment that is modified, missing, inserted or out of order. */
typedef enum tk_verify_status {
    TK_VERIFY_OK = 0,
    TK_VERIFY_MODIFIED,   /* content hash does not match */
    TK_VERIFY_MISSING,    /* a chain link has no segment */
    TK_VERIFY_INSERTED,   /* a segment that the chain does not account for */
    TK_VERIFY_REORDERED,  /* a segment in the wrong place (e.g. swapped files) */
} tk_verify_status_t;

typedef struct tk_verify_item {
    const char *account;
    const char *path;        /* segment path, or a description when missing */
    tk_verify_status_t status;
    const char *detail;
} tk_verify_item_t;

typedef struct tk_verify_summary {
    size_t accounts, segments_ok, problems;
} tk_verify_summary_t;

int tk_store_verify(tk_store_t *s, const char *account, void (*cb)(void *ud, const tk_verify_item_t *it),
                    void *ud, tk_verify_summary_t *sum, char *err);

typedef struct tk_store_stats {
    uint64_t events;          /* stored events (sealed + unsealed) */
    uint64_t unsealed_events;
    uint64_t disk_bytes;      /* segments + WAL */
    uint64_t segments;
    uint64_t wal_bytes;
} tk_store_stats_t;
void tk_store_stats(tk_store_t *s, tk_store_stats_t *st);
/* Per-account event counts for /metrics: cb(account, events). */
int tk_store_account_counts(tk_store_t *s, void (*cb)(void *ud, const char *account, uint64_t n),
                            void *ud);

/* Walks every event of an account in (time, seq) order (forward or newest
 * first): a lookup over all time without attributes. For tests and tools. */
int tk_store_scan(tk_store_t *s, const char *account, int forward, tk_event_cb cb, void *ud,
                  char *err);

/* Bytes that opening had to cut from a torn or corrupt WAL tail (0 if none);
 * *msg (may be NULL) receives a static description valid until close. */
uint64_t tk_store_recovered_cut(tk_store_t *s, const char **msg);

#endif

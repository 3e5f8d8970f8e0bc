/* trailkeep store internals shared by wal.c, segment.c, store.c and
 * integrity.c. Nothing outside src/store (and its tests) includes this.
 * Locking (see store.c): one writer at a time holds the "leader" role (group
 * commit; briefly seal and purge); seal_mu serialises seal, compaction, purge
 * and verify; the partition map is read under the state rdlock and changed
 * under its wrlock; the segment caches have their own mutex. */
#ifndef TK_STORE_INTERNAL_H
#define TK_STORE_INTERNAL_H

#include "base/buf.h"
#include "base/tk.h"
#include "store/format.h"
#include "store/store.h"

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* ---- unsealed events ---------------------------------------------------- */
typedef struct mterm {
    uint8_t attr;
    uint32_t len;
    const char *p;
} mterm_t;

/* One event not yet in a segment: a single allocation holding its strings. */
typedef struct mev {
    uint64_t seq;
    int64_t time_ms;
    uint64_t idhash;
    const char *id;
    const char *json;
    uint32_t idlen, jsonlen;
    uint32_t nterms;
    mterm_t *terms;
    char data[];
} mev_t;

/* Returns an owned mev (free()) holding copies of the strings, or NULL. */
mev_t *mev_alloc(uint64_t seq, int64_t t, const char *id, size_t idlen, const char *json,
                 size_t jsonlen, uint32_t nterms, const mterm_t *terms);
/* Returns an owned copy of ev (free()), or NULL on ENOMEM. */
mev_t *mev_from_event(const tk_event_t *ev, uint64_t seq);
/* Orders by (time, seq). */
int mev_cmp(const mev_t *a, const mev_t *b);

/* ---- WAL (wal.c) -------------------------------------------------------- */
typedef struct wal_file {
    uint64_t first_seq;
    uint64_t durable_len;  /* bytes known fsynced (records complete) */
} wal_file_t;

typedef struct wal {
    char dir[PATH_MAX];
    int fd;                 /* current (last) file, -1 until the first write */
    uint64_t cur_first;     /* first seq of the current file */
    uint64_t cur_len;
    int rotate_next;        /* start a new file at the next write */
    int no_fsync;
    int failed;             /* an fsync failed: the file state is unknown, refuse writes (atomic) */
    int fail_next_errno;    /* test hook */
    tk_buf_t frame;         /* the group being written (leader only) */
    void *cctx;             /* ZSTD_CCtx * for frames (leader only) */
    pthread_mutex_t mu;     /* guards files/nfiles for concurrent log readers */
    wal_file_t *files;
    size_t nfiles, capfiles;
} wal_t;

/* Encodes ev of account acct as one record (header + payload) appended to b. */
int wal_encode_rec(tk_buf_t *b, const char *acct, size_t acctlen, const mev_t *ev);
/* Decodes a payload into an owned mev (and its account, borrowed from p). */
int wal_decode(const uint8_t *p, size_t n, uint64_t seq, mev_t **out, tk_str_t *account);

typedef int (*wal_apply_fn)(void *ud, uint64_t seq, const uint8_t *payload, size_t n);
/* Opens DIR/wal, replays every record in order through apply (which may
 * skip), cutting a bad tail (unless read_only). Reports the highest seq seen
 * and what was cut. */
int wal_open(wal_t *w, const char *dir, int read_only, int no_fsync, wal_apply_fn apply, void *ud,
             uint64_t *last_seq, uint64_t *cut_bytes, char *cutmsg, char *err);
void wal_close(wal_t *w);
/* Writes one group [first_seq..] and makes it durable; on failure the file is
 * truncated back to its length before the call. */
/* What a written group needs to become durable: wal_sync_group after the
 * writer role is handed on, so the next group is built during this fsync. */
typedef struct wal_ticket {
    int fd;               /* dup of the file (-1: nothing to sync, -2: synced already) */
    uint64_t file_first;  /* the file (by first seq) and the group's end offset in it */
    uint64_t end;
} wal_ticket_t;

int wal_write_group(wal_t *w, const void *buf, size_t n, uint64_t first_seq, uint32_t count,
                    wal_ticket_t *tk, char *err);
/* Makes a written group durable (fdatasync) and visible to log readers. */
int wal_sync_group(wal_t *w, wal_ticket_t *tk, char *err);
/* Deletes files whose every record has seq < keep_from. */
void wal_trim(wal_t *w, uint64_t keep_from, uint64_t last_seq);
uint64_t wal_bytes(wal_t *w);
/* Calls cb for records with seq >= from (at most max, 0 = no limit) in order. */
int wal_read(wal_t *w, uint64_t from, size_t max, tk_event_cb cb, void *ud, size_t *delivered,
             char *err);

/* ---- segments (segment.c) ----------------------------------------------- */
typedef struct segidx segidx_t;
typedef struct segblk segblk_t;

typedef struct seg {
    uint64_t uid;           /* unique in the process: cache identity */
    char *path;
    char account[SEG_ACCOUNT_MAX + 1];
    uint64_t chain;
    int64_t day, min_time, max_time;
    uint64_t min_seq, max_seq, raw_bytes, file_bytes;
    uint32_t nevents, nblocks;
    struct { uint64_t off; uint32_t clen, rawlen; } sec[SEC_COUNT];
    uint8_t prev[32], hash[32];
    int has_dict;
    uint8_t dict_id[32];
    uint8_t *filter;        /* SEC_FILTER, raw; NULL: none (may hold anything) */
    uint32_t filter_len;
    /* cache state, guarded by the cache mutex */
    segidx_t *idx;
    segblk_t **blk;
} seg_t;

struct segidx {
    uint32_t refs;
    uint64_t bytes;
    segidx_t *lru_prev, *lru_next;
    seg_t *seg;
    struct { uint64_t off; uint32_t clen, rawlen, first, count; } *blocks;
    uint32_t *trel;         /* time_ms - day start, per ordinal */
    uint64_t *seqs;
    uint8_t *ids;           /* sorted (hash32 << 32 | ordinal) u64s, NULL until needed */
    uint8_t *attr[TK_ATTR__COUNT]; /* raw attribute sections, NULL until needed */
    uint32_t *attr_off[TK_ATTR__COUNT]; /* offset of each term entry (sorted), built on use */
    uint32_t attr_nterms[TK_ATTR__COUNT];
};

typedef struct segent {
    uint32_t idoff, idlen, jsonoff, jsonlen;
} segent_t;

struct segblk {
    uint32_t refs;
    uint64_t bytes;
    segblk_t *lru_prev, *lru_next;
    seg_t *seg;
    uint32_t no, first, count;
    char *raw;
    segent_t *ent;
};

/* A zstd dictionary, content-addressed by the SHA-256 of its bytes. */
typedef struct segdict {
    uint8_t id[32];
    void *cdict;  /* ZSTD_CDict *, writer side (NULL in the reader registry) */
    void *ddict;  /* ZSTD_DDict * */
} segdict_t;

typedef struct segcache {
    pthread_mutex_t mu;
    char dictdir[PATH_MAX];
    segdict_t *dicts;   /* loaded for reading, by id */
    size_t ndicts;
    uint64_t max_bytes, bytes;
    /* one LRU list for indexes and blocks would mix types; keep two */
    segidx_t *ihead, *itail;
    segblk_t *bhead, *btail;
    uint64_t max_blk_bytes, blk_bytes;
} segcache_t;

void segcache_init(segcache_t *c, const char *storedir, uint64_t idx_bytes, uint64_t blk_bytes);
void segcache_destroy(segcache_t *c);
/* Drops every cached item of seg (which must not be in use). */
void segcache_forget(segcache_t *c, seg_t *seg);

/* Writes a segment of n events (sorted by (time, seq)) as path + ".tmp",
 * not yet fsynced: the caller syncs a whole seal at once (syncfs) and then
 * renames. Returns an owned seg_t (seg_free) whose path is the .tmp file. */
int seg_write(const char *path, const char *account, int64_t day, uint64_t chain,
              const uint8_t prev[32], mev_t *const *ev, size_t n, const uint64_t *rep_idx,
              const uint8_t (*rep_hash)[32], size_t nrep, const segdict_t *dict, seg_t **out,
              char *err);
/* Trains a dictionary from samples of ev, stores it as DIR/dict/<hex>.zdict
 * (durably) and returns it ready for writing (dict_free). */
int dict_train(const char *storedir, mev_t *const *ev, size_t n, segdict_t **out, char *err);
/* Loads DIR/dict/<hex>.zdict for writing; TK_ENOTFOUND/TK_ECORRUPT when absent or changed. */
int dict_load(const char *storedir, const uint8_t id[32], segdict_t **out, char *err);
void dict_free(segdict_t *d);
/* 0 when DIR/dict/<hex of id>.zdict exists and hashes to id, else TK_E* with err. */
int dict_check(const char *storedir, const uint8_t id[32], char *err);
/* The SEC_REPLACES list of s: owned arrays of chain indexes and hashes. */
int seg_read_replaces(const seg_t *s, uint64_t **idx, uint8_t (**hash)[32], size_t *n, char *err);
/* Every event of s, with its terms rebuilt from the attribute indexes (for
 * compaction); owned array of owned mev_t. */
int seg_read_events(segcache_t *c, seg_t *s, mev_t ***out, size_t *n, char *err);
/* Reads and checks the footer; returns an owned seg_t. */
int seg_load(const char *path, seg_t **out, char *err);
void seg_free(seg_t *s);

/* ---- term filter (filter.c; format.h SEC_FILTER) ------------------------- */
#define SEGF_PROBES 7        /* bits set per key, all inside one 64-byte block */
#define SEGF_BLOCK 64u
#define SEGF_BITS_PER_KEY 10 /* ~1% false positives (blocked, k = 7) */
/* The filter key of one term of attribute attr (TK_ATTR_EVENTID: an eventId). */
uint64_t segfilter_key(tk_attr_t attr, const void *p, size_t len);
/* The same from h = tk_hash64(term) already computed (mev_t.idhash). */
uint64_t segfilter_key_h(tk_attr_t attr, uint64_t h);
/* Appends the raw SEC_FILTER section for n keys to out. 0 or TK_ENOMEM. */
int segfilter_build(tk_buf_t *out, const uint64_t *keys, size_t n);
/* 1 when f[0..len) is a filter this version reads. */
int segfilter_valid(const uint8_t *f, size_t len);
/* 0 when the key is certainly absent; 1 when it may be present (or f is NULL). */
int segfilter_may_have(const uint8_t *f, size_t len, uint64_t key);
/* SHA-256 of the file's bytes before the hash field (what the footer claims). */
int seg_compute_hash(const char *path, uint8_t out[32], char *err);

/* Index and blocks through the cache; every get pairs with a put. */
int segidx_get(segcache_t *c, seg_t *s, segidx_t **out, char *err);
void segidx_put(segcache_t *c, segidx_t *x);
/* Bitmap (owned, roaring_bitmap_free) of ordinals holding attr=value; NULL
 * when absent. Return 0 or TK_E*. */
int segidx_term(segcache_t *c, segidx_t *x, tk_attr_t attr, const char *v, size_t vlen, void **bm,
                char *err);
/* 1 when eventId id is in the segment (confirmed against the stored entry)
 * and *ord (may be NULL) set, 0 when not, negative TK_E* on error. */
int segidx_find_id(segcache_t *c, segidx_t *x, const char *id, size_t idlen, uint32_t *ord,
                   char *err);
/* Block holding ordinal ord. */
int segblk_get(segcache_t *c, segidx_t *x, uint32_t ord, segblk_t **out, char *err);
void segblk_put(segcache_t *c, segblk_t *b);
uint32_t seg_block_of(const segidx_t *x, uint32_t ord);

/* ---- partitions and accounts (store.c) ----------------------------------- */
typedef struct part {
    int64_t day;
    seg_t **segs;            /* sorted by chain index */
    size_t nsegs, capsegs;
    mev_t **ev;              /* unsealed, sorted by (time, seq) */
    size_t nev, capev;
    mev_t **set;             /* open-addressing hash set of ev by idhash */
    size_t setcap;
    uint64_t unsealed_bytes;
    uint64_t sealed_events;
    /* frozen: being written by a seal; read-only until the seal publishes */
    mev_t **fz;
    size_t nfz;
    mev_t **fzset;
    size_t fzsetcap;
    uint64_t fz_bytes;
} part_t;

typedef struct acct {
    char *name;
    part_t **parts;          /* sorted by day */
    size_t nparts, capparts;
    uint64_t head_index;
    uint8_t head_hash[32];
} acct_t;

struct tk_store {
    char dir[PATH_MAX];
    tk_store_opts_t opts;
    int lockfd;
    uint64_t seal_bytes;
    uint64_t dict_min;

    /* committed state: read under state rdlock, changed under wrlock by the leader */
    pthread_rwlock_t state;
    acct_t **accts;
    size_t naccts, capaccts;
    uint64_t unsealed_bytes, unsealed_events, sealed_events, seg_count, seg_bytes;
    uint64_t frozen_bytes;   /* part of unsealed_bytes being sealed */
    int seal_due;            /* set by the leader: unsealed bytes passed seal_bytes */
    pthread_t sealer;        /* the sealing thread (writers only) */
    int has_sealer;
    int seal_wanted;         /* guarded by mu; signalled on seal_cv */
    pthread_cond_t seal_cv;
    pthread_mutex_t seal_mu; /* one seal, compaction, purge or verify at a time */

    /* group commit */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int leader;              /* someone holds the writer role */
    int closing;
    int active;              /* appenders inside tk_store_append */
    struct areq *qhead, *qtail;
    uint64_t next_seq;       /* next seq to assign (leader only) */
    tk_buf_t grpbuf;         /* the group's WAL records (leader only): reused, as
                              * growing a fresh buffer per group was 6% of import CPU */
    uint64_t last_seq;       /* highest durable seq */
    uint64_t sealed_seq;
    struct consumer { char *name; uint64_t seq; } *cons;
    size_t ncons;

    wal_t wal;
    segcache_t cache;
    segdict_t *dict;         /* dictionary new segments use (NULL until trained) */
    uint64_t seg_uid;

    /* what open had to cut from the WAL */
    uint64_t cut_bytes;
    char cutmsg[TK_ERRLEN];
};

acct_t *store_acct_find(tk_store_t *s, const char *name, size_t len);
part_t *acct_part_find(acct_t *a, int64_t day);
/* The writer role (what a group-commit leader holds): no append runs while
 * it is held. Seal takes it briefly to freeze and to trim; purge to remove. */
void store_lead_begin(tk_store_t *s);
void store_lead_end(tk_store_t *s);
/* Seals (see seal.c); the caller holds seal_mu. */
int store_seal_locked(tk_store_t *s, char *err);
/* Partition helpers shared with seal.c; the caller holds the state wrlock. */
int part_add(part_t *p, mev_t *m);
int part_add_seg(part_t *p, seg_t *g);
/* Writes DIR/MANIFEST (sealed_seq, dictionary, consumer positions) atomically. */
int write_manifest(tk_store_t *s, char *err);
/* 1 when account is a valid account name (safe as a directory name). */
int store_account_ok(const char *p, size_t n);
int store_write_head(tk_store_t *s, const acct_t *a, char *err);

/* Test hook: the next WAL write fails with errno e after writing half of its bytes. */
void tk_store_test_fail_next_write(tk_store_t *s, int e);

#endif

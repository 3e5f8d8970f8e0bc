/* libFuzzer target: stored data read back by the store (src/store: WAL
 * replay in wal.c/store.c, segment footers, sections and blocks in
 * segment.c, verify in integrity.c). Byte 0 picks the mode: bit 0 clear =
 * the rest is a WAL file, set = a segment file; bit 1 = fix checksums
 * (WAL frame checksums, the segment's chain fields and footer hash) so
 * the fuzzer reaches the decoders behind them; bit 2 = afterwards append
 * and seal one more event. The file is written into a fresh data
 * directory on tmpfs per run. Invariants: open succeeds or refuses with
 * a TK_E* code; an opened store scans the same events forwards and
 * backwards in (time, seq) order, verify and lookups return cleanly, and
 * a second open recovers the same state with nothing more to cut. */
#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "event/parse.h"
#include "fuzz_common.h"
#include "store/format.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

typedef struct scan {
    uint64_t n;
    int64_t last_t;
    uint64_t last_seq;
    int forward, order_ok;
} scan_t;

static int on_event(void *ud, const tk_stored_event_t *ev)
{
    scan_t *s = ud;
    if (s->n) {
        int later = ev->time_ms > s->last_t || (ev->time_ms == s->last_t && ev->seq > s->last_seq);
        int earlier = ev->time_ms < s->last_t || (ev->time_ms == s->last_t && ev->seq < s->last_seq);
        if (s->forward ? !later : !earlier)
            s->order_ok = 0;
    }
    FZ_ASSERT(ev->account.len && ev->json.p, "event without account or JSON");
    s->last_t = ev->time_ms;
    s->last_seq = ev->seq;
    s->n++;
    return 0;
}

static int on_count(void *ud, const tk_stored_event_t *ev)
{
    (void)ev;
    (*(uint64_t *)ud)++;
    return 0;
}

static void on_verify(void *ud, const tk_verify_item_t *it)
{
    FZ_ASSERT(it->account && it->path && (unsigned)it->status <= TK_VERIFY_REORDERED, "bad verify item");
    (*(size_t *)ud)++;
}

static int rc_ok(int rc)
{
    return rc == 0 || rc == TK_ECORRUPT || rc == TK_EIO || rc == TK_EINVAL || rc == TK_ENOTFOUND;
}

typedef struct state {
    uint64_t events, last_seq, scanned;
} state_t;

/* Opens dir and checks what it holds; 0 when it opened. */
static int check_store(const char *dir, state_t *st, int cut_allowed)
{
    tk_store_opts_t o = {.dir = dir, .no_fsync = 1, .seal_bytes = 1 << 30};
    tk_store_t *s;
    char err[TK_ERRLEN];
    int rc = tk_store_open(&o, &s, err);
    FZ_ASSERT(rc_ok(rc) || rc == TK_ENOMEM, "open rc %d: %s", rc, err);
    if (rc)
        return rc;
    const char *msg;
    uint64_t cut = tk_store_recovered_cut(s, &msg);
    FZ_ASSERT(cut_allowed || cut == 0, "second open cut %" PRIu64 " more bytes: %s", cut, msg);
    tk_store_stats_t ss;
    tk_store_stats(s, &ss);
    st->events = ss.events;
    st->last_seq = tk_store_last_seq(s);
    FZ_ASSERT(ss.unsealed_events <= ss.events, "%" PRIu64 " unsealed of %" PRIu64, ss.unsealed_events, ss.events);
    char **accts = NULL;
    size_t na = 0;
    rc = tk_store_accounts(s, &accts, &na, err);
    FZ_ASSERT(rc == 0, "accounts: %s", err);
    uint64_t total = 0;
    int all_ok = 1;
    for (size_t i = 0; i < na; i++) {
        scan_t f = {0, 0, 0, 1, 1}, b = {0, 0, 0, 0, 1};
        int rf = tk_store_scan(s, accts[i], 1, on_event, &f, err);
        FZ_ASSERT(rc_ok(rf), "scan rc %d: %s", rf, err);
        int rb = tk_store_scan(s, accts[i], 0, on_event, &b, err);
        FZ_ASSERT(rc_ok(rb), "reverse scan rc %d: %s", rb, err);
        if (rf == 0 && rb == 0) {
            FZ_ASSERT(f.order_ok && b.order_ok, "account %s: scan out of (time, seq) order", accts[i]);
            FZ_ASSERT(f.n == b.n, "account %s: %" PRIu64 " events forwards, %" PRIu64 " backwards", accts[i], f.n, b.n);
            total += f.n;
        } else {
            all_ok = 0;
        }
        tk_lookup_req_t q = {.account = accts[i], .start_ms = 0, .end_ms = TK_TIME_MAX_MS, .nattrs = 1};
        q.attrs[0].key = TK_ATTR_EVENTNAME;
        q.attrs[0].value = "ConsoleSignin";
        uint64_t hits = 0;
        rc = tk_store_lookup(s, &q, on_count, &hits, err);
        FZ_ASSERT(rc_ok(rc), "lookup rc %d: %s", rc, err);
        if (rc == 0 && rf == 0)
            FZ_ASSERT(hits <= f.n, "lookup found %" PRIu64 " of %" PRIu64 " events", hits, f.n);
        free(accts[i]);
    }
    free(accts);
    if (all_ok)
        FZ_ASSERT(total == ss.events, "scans found %" PRIu64 " events, stats say %" PRIu64, total, ss.events);
    st->scanned = all_ok ? total : UINT64_MAX;
    uint64_t logged = 0;
    rc = tk_store_log_read(s, 1, 0, on_count, &logged, err);
    FZ_ASSERT(rc_ok(rc), "log_read rc %d: %s", rc, err);
    size_t items = 0;
    tk_verify_summary_t sum;
    memset(&sum, 0, sizeof sum);
    rc = tk_store_verify(s, NULL, on_verify, &items, &sum, err);
    FZ_ASSERT(rc_ok(rc), "verify rc %d: %s", rc, err);
    tk_store_close(s);
    return 0;
}

static void append_and_seal(const char *dir)
{
    tk_store_opts_t o = {.dir = dir, .no_fsync = 1, .seal_bytes = 1 << 30};
    tk_store_t *s;
    char err[TK_ERRLEN];
    if (tk_store_open(&o, &s, err))
        return;
    tk_batch_t *b = tk_batch_create();
    tk_parse_opts_t po = {.format = TK_FMT_AUTO};
    FZ_ASSERT(tk_event_parse(b, fz_events[0], strlen(fz_events[0]), &po, err) == 0 && tk_batch_count(b) == 1,
              "canned event: %s", err);
    tk_append_result_t res;
    int rc = tk_store_append(s, tk_batch_events(b), 1, &res, NULL, err);
    FZ_ASSERT(rc == 0 || rc_ok(rc), "append rc %d: %s", rc, err);
    rc = tk_store_seal(s, err);
    FZ_ASSERT(rc_ok(rc), "seal rc %d: %s", rc, err);
    tk_batch_destroy(b);
    tk_store_close(s);
}

static int account_ok(const char *a)
{
    size_t n = strlen(a);
    if (!n || n > 64 || !strcmp(a, ".") || !strcmp(a, ".."))
        return 0;
    for (const char *p = a; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '_' || *p == '-'))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1 << 20))
        return 0;
    uint8_t mode = data[0];
    size_t n = size - 1;
    uint8_t *buf = malloc(n ? n : 1);
    memcpy(buf, data + 1, n);
    char dir[600], path[1200];
    snprintf(dir, sizeof dir, "%s/store", fz_scratch());
    fz_rmtree(dir);
    if (!(mode & 1)) {
        uint64_t first = n >= 16 ? get64(buf + 8) : 1;
        if (mode & 2) {
            for (size_t off = 0; off + WAL_FRAME_HDR <= n;) {
                uint32_t len = get32(buf + off);
                if (len < WAL_FRAME_HDR - 8 || len > n - off - 8)
                    break;
                put32(buf + off + 4, tk_checksum32(buf + off + 8, len));
                off += 8 + (size_t)len;
            }
        }
        if (first == 0 || first > 99999999999999999ULL)
            first = 1;
        snprintf(path, sizeof path, "%s/wal/%020" PRIu64 ".wal", dir, first);
    } else {
        char acct[65] = "123456789012";
        int64_t day = 20781; /* 2026-11-24 */
        if (n >= SEG_FOOTER_SIZE) {
            uint8_t *f = buf + n - SEG_FOOTER_SIZE;
            char a[65];
            memcpy(a, f + SEG_F_ACCOUNT, 64);
            a[64] = 0;
            if (account_ok(a))
                memcpy(acct, a, sizeof acct);
            int64_t d = (int64_t)get64(f + SEG_F_DAY);
            if (d >= 0 && d <= 2932896)
                day = d;
            if (mode & 2) {
                put64(f + SEG_F_CHAIN, 1);
                memset(f + SEG_F_PREVHASH, 0, 32);
                tk_sha256(buf, n - 32, buf + n - 32);
            }
        }
        char ds[16];
        tk_time_day_str(day, ds);
        snprintf(path, sizeof path, "%s/seg/%s/%s/0000000001.seg", dir, acct, ds);
    }
    FZ_ASSERT(fz_write_file(path, buf, n) == 0, "cannot write %s", path);
    free(buf);
    state_t a, b;
    if (check_store(dir, &a, 1) == 0) {
        FZ_ASSERT(check_store(dir, &b, 0) == 0, "the store opened once but not a second time");
        FZ_ASSERT(a.events == b.events && a.last_seq == b.last_seq,
                  "second open: %" PRIu64 " events (was %" PRIu64 "), last seq %" PRIu64 " (was %" PRIu64 ")", b.events,
                  a.events, b.last_seq, a.last_seq);
        if (mode & 4) {
            append_and_seal(dir);
            state_t c;
            FZ_ASSERT(check_store(dir, &c, 0) == 0, "the store did not open after an append and a seal");
            FZ_ASSERT(c.events >= a.events, "events lost by a seal: %" PRIu64 " -> %" PRIu64, a.events, c.events);
        }
    }
    fz_rmtree(dir);
    return 0;
}

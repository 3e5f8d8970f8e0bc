/* trailkeep ingest route: POST /v1/events. Body: one event, a JSON array or
 * JSON Lines, optionally gzip. A request is acknowledged only after
 * tk_store_append() returned (the WAL fsync covering it completed); on disk
 * full or overload nothing of it is acknowledged (503 + Retry-After) and
 * the client resends it whole: dedup by (account, eventId) makes that safe. */
#include "http/http_internal.h"

#include "base/tk.h"
#include "base/tktime.h"
#include "event/parse.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* One parse arena per request thread: simdjson's parser buffers are large,
 * and re-creating them per request would dominate small batches. */
static pthread_key_t batch_key;
static pthread_once_t batch_once = PTHREAD_ONCE_INIT;

static void batch_free(void *p)
{
    tk_batch_destroy(p);
}

static void batch_key_init(void)
{
    pthread_key_create(&batch_key, batch_free);
}

static tk_batch_t *thread_batch(void)
{
    pthread_once(&batch_once, batch_key_init);
    tk_batch_t *b = pthread_getspecific(batch_key);
    if (!b) {
        b = tk_batch_create();
        if (b && pthread_setspecific(batch_key, b) != 0) {
            tk_batch_destroy(b);
            b = NULL;
        }
    } else {
        tk_batch_reset(b);
    }
    return b;
}

/* A batch that grew large for one big request gives its memory back
 * instead of keeping it for the thread's next request. */
static void thread_batch_trim(tk_batch_t *b)
{
    if (tk_batch_footprint(b) <= ((size_t)8 << 20))
        return;
    pthread_setspecific(batch_key, NULL);
    tk_batch_destroy(b);
}

static int put_rejects(tk_buf_t *o, const tk_batch_t *b)
{
    const tk_reject_t *rj = tk_batch_rejects(b);
    size_t nr = tk_batch_reject_count(b);
    int rc = tk_buf_puts(o, ",\"rejected\":[");
    for (size_t i = 0; i < nr && rc == 0; i++) {
        rc |= tk_buf_printf(o, "%s{\"index\":%zu,", i ? "," : "", rj[i].index);
        if (rj[i].line)
            rc |= tk_buf_printf(o, "\"line\":%llu,", (unsigned long long)rj[i].line);
        rc |= tk_buf_puts(o, "\"code\":");
        const char *code = rj[i].code ? rj[i].code : "Invalid";
        rc |= tk_buf_put_json_str(o, code, strlen(code));
        rc |= tk_buf_puts(o, ",\"field\":");
        rc |= tk_buf_put_json_str(o, rj[i].field, strnlen(rj[i].field, sizeof rj[i].field));
        rc |= tk_buf_puts(o, ",\"message\":");
        rc |= tk_buf_put_json_str(o, rj[i].message, strnlen(rj[i].message, sizeof rj[i].message));
        rc |= tk_buf_putc(o, '}');
    }
    rc |= tk_buf_putc(o, ']');
    return rc;
}

/* Appends the batch's events (acknowledged once this returns 0: the WAL
 * fsync covering them completed). On failure the 503/500 answer is already
 * queued and nonzero is returned; nothing of the request is acknowledged. */
static int append(tk_req_t *r, tk_batch_t *b, tk_append_result_t *res)
{
    tk_http_server_t *s = r->srv;
    size_t n = tk_batch_count(b);
    char err[TK_ERRLEN] = "";
    int rc;
    int64_t inflight = __atomic_add_fetch(&s->metrics.inflight_appends, 1, __ATOMIC_RELAXED);
    if (inflight > s->o.max_inflight_appends) {
        __atomic_sub_fetch(&s->metrics.inflight_appends, 1, __ATOMIC_RELAXED);
        tk_metrics_add(&s->metrics.overloaded, 1);
        tk_req_error(r, 503, "ServiceUnavailable", 1,
                     "The store is overloaded (%d appends in flight). Nothing was stored: "
                     "retry the same request later.",
                     s->o.max_inflight_appends);
        return 1;
    }
    if (s->test_append_delay_ms > 0) {
        struct timespec ts = {s->test_append_delay_ms / 1000,
                              (long)(s->test_append_delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    uint64_t t0 = tk_mono_ns();
    rc = tk_store_append(s->store, tk_batch_events(b), n, res, NULL, err);
    tk_metrics_observe(&s->metrics.append_latency, tk_mono_ns() - t0);
    __atomic_sub_fetch(&s->metrics.inflight_appends, 1, __ATOMIC_RELAXED);
    if (rc == TK_ENOSPC) {
        tk_metrics_add(&s->metrics.disk_full, 1);
        tk_req_error(r, 503, "InsufficientStorage", 30,
                     "The disk of the store is full. Nothing of this request was stored: "
                     "retry later (the operator must free space). (%s)",
                     err);
        return 1;
    }
    if (rc == TK_EBUSY || rc == TK_ECLOSED) {
        tk_metrics_add(&s->metrics.overloaded, 1);
        tk_req_error(r, 503, "ServiceUnavailable", 5,
                     "The store cannot take events now; nothing was stored: retry later. (%s)",
                     err);
        return 1;
    }
    if (rc) {
        tk_req_error(r, 500, "InternalError", 0,
                     "Storing failed; nothing of this request is acknowledged: %s", err);
        return 1;
    }
    return 0;
}

/* Events of account older than its retention (meta.db's, else serve's
 * --retention-days): *old and *days set, 1 when there are any. */
static int past_retention(tk_http_server_t *s, const char *account, const tk_event_t *ev, size_t n,
                          size_t *old, int *days)
{
    /* Retention is at least a day: most requests have nothing older, and
     * then meta.db is not read at all. */
    int64_t day_ago = tk_now_ms() - TK_MS_PER_DAY;
    size_t any = 0;
    for (size_t i = 0; i < n && !any; i++)
        any = ev[i].time_ms < day_ago;
    if (!any)
        return 0;
    tk_account_t a;
    char err[TK_ERRLEN];
    int d = s->o.retention_days > 0 ? s->o.retention_days : 90;
    if (tk_meta_account_get(s->meta, account, &a, err) == 0 && a.retention_days > 0)
        d = a.retention_days;
    int64_t cutoff = tk_now_ms() - (int64_t)d * TK_MS_PER_DAY;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ev[i].time_ms < cutoff;
    *old = k;
    *days = d;
    return k > 0;
}

void tk_route_events(tk_req_t *r)
{
    tk_http_server_t *s = r->srv;
    if (tk_req_auth(r))
        return;
    r->account = r->who.account;
    if (tk_req_allow(r, r->who.account, TK_ROLE_WRITER))
        return;
    if (r->body.len == 0) {
        tk_req_error(r, 400, "EmptyBody", 0,
                     "POST /v1/events needs a body: one event object, a JSON array of events or "
                     "JSON Lines (optionally gzip with Content-Encoding: gzip).");
        return;
    }
    const char *ce = tk_req_header(r, "Content-Encoding");
    if (ce && strcasecmp(ce, "gzip") && strcasecmp(ce, "identity") && strcasecmp(ce, "x-gzip")) {
        tk_req_error(r, 415, "UnsupportedContentEncoding", 0,
                     "Content-Encoding '%.40s' is not supported: send gzip or identity.", ce);
        return;
    }
    char err[TK_ERRLEN] = "";
    char *data = r->body.p;
    size_t dlen = r->body.len;
    int owned = 0;
    /* gzip is recognised by its magic too, so a client that forgets the
     * header still works. It is inflated exactly once, under one cap
     * (--max-decompressed) and after reserving the memory that can take:
     * deflate expands at most ~1032:1, so the reservation is the smaller
     * of that and the cap, trimmed to the real size afterwards. */
    int rc = 0;
    if (tk_event_is_gzip(data, dlen)) {
        size_t want = dlen > SIZE_MAX / 1040 ? s->o.max_decompressed : dlen * 1040 + 65536;
        if (want > s->o.max_decompressed)
            want = s->o.max_decompressed + 64;
        if (tk_req_mem_take(r, want)) {
            tk_req_error(r, 503, "ServiceUnavailable", 2,
                         "The server is busy with other large requests (--max-request-memory): "
                         "nothing was stored; retry the same request later.");
            return;
        }
        rc = tk_event_gunzip(r->body.p, r->body.len, s->o.max_decompressed, &data, &dlen, &owned, err);
        tk_req_mem_give(r, rc == 0 && dlen < want ? want - dlen : 0);
    }
    if (rc == TK_ETOOBIG) {
        tk_req_error(r, 413, "RequestEntityTooLarge", 0,
                     "Decompressed body exceeds %zu bytes: split the batch. (%s)",
                     s->o.max_decompressed, err);
        return;
    }
    if (rc) {
        tk_req_error(r, 400, "InvalidGzip", 0, "The body could not be decompressed: %s", err);
        return;
    }
    if (owned && tk_event_is_gzip(data, dlen)) {
        free(data);
        tk_req_error(r, 400, "InvalidGzip", 0,
                     "The body is gzip inside gzip: compress the events once.");
        return;
    }
    tk_metrics_add(&s->metrics.ingest_bytes, dlen);
    /* Parsing borrows the (decompressed) body, so its memory is the events'
     * index terms and CloudTrail mappings: reserve as much again. */
    if (tk_req_mem_take(r, dlen)) {
        if (owned)
            free(data);
        tk_req_error(r, 503, "ServiceUnavailable", 2,
                     "The server is busy with other large requests (--max-request-memory): "
                     "nothing was stored; retry the same request later.");
        return;
    }
    tk_batch_t *b = thread_batch();
    if (!b) {
        if (owned)
            free(data);
        tk_req_error(r, 500, "InternalError", 0, "out of memory");
        return;
    }
    tk_parse_opts_t po = {.format = TK_FMT_AUTO,
                          .default_account = r->who.account,
                          .force_account = 1,
                          .source_name = "request body",
                          .borrow_input = 1,
                          .max_decompressed = s->o.max_decompressed,
                          .max_events = s->o.max_events,
                          .max_future_ms = s->o.max_future_ms};
    rc = tk_event_parse(b, data, dlen, &po, err);
    if (rc) {
        if (owned)
            free(data);
        thread_batch_trim(b);
        if (rc == TK_ENOMEM)
            tk_req_error(r, 500, "InternalError", 0, "out of memory while parsing");
        else if (rc == TK_ETOOBIG)
            tk_req_error(r, 413, "TooManyEvents", 0,
                         "The request holds more than %zu events, the limit per request "
                         "(--max-events). Nothing was stored: split the batch.",
                         s->o.max_events);
        else
            tk_req_error(r, 400, "InvalidJson", 0, "The body is not JSON events: %s", err);
        return;
    }
    size_t n = tk_batch_count(b);
    size_t nrej = tk_batch_reject_count(b);
    tk_append_result_t res = {0, 0, 0};
    rc = n > 0 ? append(r, b, &res) : 0;
    if (owned)
        free(data); /* the events borrowed it until the append returned */
    if (rc) {
        thread_batch_trim(b);
        return;
    }
    tk_metrics_add(&s->metrics.events_ingested, res.accepted);
    tk_metrics_add(&s->metrics.events_duplicates, res.duplicates);
    tk_metrics_add(&s->metrics.events_rejected, nrej);
    tk_buf_t o = TK_BUF_INIT;
    int brc = tk_buf_printf(&o, "{\"accepted\":%zu,\"duplicates\":%zu", res.accepted, res.duplicates);
    /* Stored, but older than the account's retention: the next daily purge
     * removes them. Said here so a sender notices (old exports, a clock). */
    size_t old = 0;
    int days = 0;
    if (n && past_retention(s, r->who.account, tk_batch_events(b), n, &old, &days))
        brc |= tk_buf_printf(&o, ",\"pastRetention\":%zu,\"warning\":\"%zu event(s) are older than the "
                                 "account's retention of %d days and go at the next daily purge\"",
                             old, old, days);
    brc |= put_rejects(&o, b);
    brc |= tk_buf_printf(&o, ",\"RequestId\":\"%s\"}\n", r->request_id);
    if (brc) {
        tk_buf_free(&o);
        thread_batch_trim(b);
        tk_req_error(r, 500, "InternalError", 0, "out of memory");
        return;
    }
    /* All rejected is a client error; a partial batch is a success whose
     * rejected[] the client must read. */
    thread_batch_trim(b);
    tk_req_send(r, n == 0 && nrej > 0 ? 400 : 200, "application/json", &o, 0);
}

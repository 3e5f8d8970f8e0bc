/* libFuzzer target: event parsing (src/event: ActionTrail, CloudTrail
 * {"Records":[...]}, JSON Lines, arrays, gzip-wrapped input). Every input is
 * parsed in each format; the accounting must add up (seen = accepted +
 * rejected), every stored event must be a valid JSON object with an
 * account, an id and an in-range time, and its CloudTrail and OCSF
 * renderings must be valid JSON objects too. (Was tests/event/fuzz_parse.c.) */
#include "base/buf.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "event/format.h"
#include "event/json.h"
#include "event/parse.h"
#include "fuzz_common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static tk_jparser_t *g_jp;

static void must_be_json_object(const char *what, const char *p, size_t n)
{
    tk_jv_t root;
    FZ_ASSERT(tk_jparse(g_jp, p, n, 0, &root) == 0 && tk_jtype(root) == TK_J_OBJECT,
              "%s is not a JSON object: %.*s", what, (int)(n > 300 ? 300 : n), p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_jp)
        g_jp = tk_jparser_create();
    tk_batch_t *b = tk_batch_create();
    char err[TK_ERRLEN];
    for (int f = 0; f < 4; f++) {
        tk_parse_opts_t o = {.format = (tk_format_t)f, .borrow_input = f & 1,
                             .default_account = (f & 2) ? "123" : NULL, .force_account = f == 3,
                             .max_decompressed = 1 << 20, .max_events = f == 2 ? 3 : 0};
        tk_batch_reset(b);
        int rc = tk_event_parse(b, (const char *)data, size, &o, err);
        FZ_ASSERT(rc == 0 || rc == TK_EINVAL || rc == TK_ETOOBIG, "format %d: rc %d (%s)", f, rc, err);
        FZ_ASSERT(tk_batch_seen(b) == tk_batch_count(b) + tk_batch_reject_count(b),
                  "format %d: seen %zu != %zu accepted + %zu rejected", f, tk_batch_seen(b),
                  tk_batch_count(b), tk_batch_reject_count(b));
        /* max_events stops before another value starts; a reject for the
         * container itself (truncated, junk after an element) may follow
         * the last counted value, so at most one more is seen. */
        if (o.max_events)
            FZ_ASSERT(tk_batch_seen(b) <= o.max_events + 1, "max_events %zu passed: %zu seen", o.max_events,
                      tk_batch_seen(b));
        for (size_t i = 0; i < tk_batch_count(b); i++) {
            const tk_event_t *e = &tk_batch_events(b)[i];
            FZ_ASSERT(e->account.len && e->event_id.len && e->json.len <= TK_EVENT_MAX_BYTES,
                      "event %zu: account %u, id %u, json %u bytes", i, e->account.len,
                      e->event_id.len, e->json.len);
            FZ_ASSERT(e->time_ms >= 0 && e->time_ms <= TK_TIME_MAX_MS,
                      "event %zu: time %lld out of range", i, (long long)e->time_ms);
            if (o.force_account)
                FZ_ASSERT(e->account.len == 3 && !memcmp(e->account.p, "123", 3),
                          "force_account: event stored for another account");
            must_be_json_object("stored event", e->json.p, e->json.len);
            tk_buf_t out = TK_BUF_INIT;
            FZ_ASSERT(tk_event_to_cloudtrail(e->json.p, e->json.len, &out, err) == 0, "to_cloudtrail: %s", err);
            must_be_json_object("CloudTrail rendering", out.p, out.len);
            tk_buf_reset(&out);
            FZ_ASSERT(tk_event_to_ocsf(e->json.p, e->json.len, &out, err) == 0, "to_ocsf: %s", err);
            must_be_json_object("OCSF rendering", out.p, out.len);
            tk_buf_free(&out);
        }
        for (size_t i = 0; i < tk_batch_reject_count(b); i++)
            FZ_ASSERT(tk_batch_rejects(b)[i].index < tk_batch_seen(b) && tk_batch_rejects(b)[i].code,
                      "reject %zu: index %zu of %zu, code %p", i, tk_batch_rejects(b)[i].index,
                      tk_batch_seen(b), (const void *)tk_batch_rejects(b)[i].code);
    }
    (void)tk_event_sniff((const char *)data, size);
    tk_batch_destroy(b);
    return 0;
}

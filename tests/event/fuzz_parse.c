/* libFuzzer target for src/event (not part of the cmocka suite; DESIGN.md 6:
 * parsers are fuzzed). Every input is parsed in each format; the accounting
 * must add up, every stored event must be a valid JSON object, and its
 * CloudTrail and OCSF renderings must be valid JSON too.
 * Build and run (clang + libFuzzer):
 *   tests/event/fuzz_build.bash && build/fuzz/fuzz_parse build/fuzz/corpus -max_total_time=120 */
#include "base/buf.h"
#include "base/tk.h"
#include "event/format.h"
#include "event/json.h"
#include "event/parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static tk_jparser_t *g_jp;

static void must_be_json_object(const char *p, size_t n)
{
    tk_jv_t root;
    if (tk_jparse(g_jp, p, n, 0, &root) != 0 || tk_jtype(root) != TK_J_OBJECT)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_jp)
        g_jp = tk_jparser_create();
    tk_batch_t *b = tk_batch_create();
    char err[TK_ERRLEN];
    for (int f = 0; f < 4; f++) {
        tk_parse_opts_t o = {.format = (tk_format_t)f, .borrow_input = f & 1,
                             .default_account = (f & 2) ? "123" : NULL, .force_account = f == 3};
        tk_batch_reset(b);
        int rc = tk_event_parse(b, (const char *)data, size, &o, err);
        if (rc != 0 && rc != TK_EINVAL && rc != TK_ETOOBIG)
            abort();
        if (tk_batch_seen(b) != tk_batch_count(b) + tk_batch_reject_count(b))
            abort();
        for (size_t i = 0; i < tk_batch_count(b); i++) {
            const tk_event_t *e = &tk_batch_events(b)[i];
            if (!e->account.len || !e->event_id.len || e->json.len > TK_EVENT_MAX_BYTES)
                abort();
            must_be_json_object(e->json.p, e->json.len);
            tk_buf_t out = TK_BUF_INIT;
            if (tk_event_to_cloudtrail(e->json.p, e->json.len, &out, err) != 0)
                abort();
            must_be_json_object(out.p, out.len);
            tk_buf_reset(&out);
            if (tk_event_to_ocsf(e->json.p, e->json.len, &out, err) != 0)
                abort();
            must_be_json_object(out.p, out.len);
            tk_buf_free(&out);
        }
        for (size_t i = 0; i < tk_batch_reject_count(b); i++)
            if (tk_batch_rejects(b)[i].index >= tk_batch_seen(b) || !tk_batch_rejects(b)[i].code)
                abort();
    }
    tk_batch_destroy(b);
    return 0;
}

/* Shared by the rule targets (fuzz_rule.c, fuzz_sigma.c, fuzz_template.c):
 * checks a compiled rule's accessors, evaluates it on the canned events of
 * fuzz_common.c with explain/matches/clears on, and round-trips the
 * engine's state snapshot through a second engine holding the same rule
 * recompiled by `again`. Aborts (FZ_ASSERT) on any broken invariant. */
#ifndef TK_FUZZ_RULES_H
#define TK_FUZZ_RULES_H

#include "alert/rule.h"
#include "base/buf.h"
#include "base/tk.h"
#include "fuzz_common.h"

#include <string.h>

typedef struct fz_hits {
    const tk_rule_t *rule;
    uint64_t fires, matches, clears;
} fz_hits_t;

static void fz_on_hit(void *ctx, const tk_alert_hit_t *h)
{
    fz_hits_t *c = ctx;
    FZ_ASSERT(h->rule == c->rule, "hit for another rule");
    FZ_ASSERT(h->group_key && h->account, "hit without group key or account");
    FZ_ASSERT(h->nseqs == 0 || h->seqs, "nseqs %u without seqs", h->nseqs);
    if (h->kind == TK_ALERT_FIRE) {
        FZ_ASSERT(h->count >= tk_rule_threshold(h->rule), "fired with count %llu < threshold %u",
                  (unsigned long long)h->count, tk_rule_threshold(h->rule));
        FZ_ASSERT(h->first_ms <= h->time_ms || tk_rule_threshold(h->rule) > 1,
                  "first event after this one (%lld > %lld)", (long long)h->first_ms, (long long)h->time_ms);
        c->fires++;
    } else if (h->kind == TK_ALERT_MATCH) {
        c->matches++;
    } else {
        c->clears++;
    }
}

static tk_alert_engine_t *fz_engine(tk_rule_t *r)
{
    tk_alert_opts_t o = {.max_groups = 64, .max_entries = 4096, .explain = 1, .report_matches = 1,
                         .report_clears = 1};
    tk_alert_engine_t *e;
    char err[TK_ERRLEN];
    FZ_ASSERT(tk_alert_engine_create(&o, &e, err) == 0, "engine: %s", err);
    FZ_ASSERT(tk_alert_engine_add(e, r, err) == 0, "add: %s", err);
    return e;
}

/* r: freshly compiled (taken). again: compiles the same source once more. */
static void fz_check_rule(tk_rule_t *r, int (*again)(void *ud, tk_rule_t **out), void *ud)
{
    FZ_ASSERT(tk_rule_id(r) && *tk_rule_id(r), "rule without an id");
    FZ_ASSERT(tk_rule_name(r) && tk_rule_description(r), "rule without name/description");
    FZ_ASSERT((unsigned)tk_rule_severity(r) <= TK_SEV_REPORT, "severity %d", (int)tk_rule_severity(r));
    FZ_ASSERT(tk_rule_threshold(r) >= 1 && tk_rule_window_ms(r) >= 0 && tk_rule_suppress_ms(r) >= 0,
              "threshold %u window %lld suppress %lld", tk_rule_threshold(r), (long long)tk_rule_window_ms(r),
              (long long)tk_rule_suppress_ms(r));
    char *d = tk_rule_describe(r);
    FZ_ASSERT(d && *d, "no description of the condition");
    free(d);
    fz_hits_t c = {r, 0, 0, 0};
    tk_alert_engine_t *e = fz_engine(r);
    char err[TK_ERRLEN];
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < fz_nevents; i++) {
            int rc = tk_alert_engine_eval(e, NULL, 0, fz_events[i], strlen(fz_events[i]), 0, fz_on_hit, &c, err);
            FZ_ASSERT(rc == 0, "eval of canned event %zu: %s", i, err);
        }
    FZ_ASSERT(c.fires <= c.matches, "%llu fires but %llu matches", (unsigned long long)c.fires,
              (unsigned long long)c.matches);
    tk_alert_stats_t st;
    tk_alert_engine_stats(e, &st);
    FZ_ASSERT(st.events == 2 * fz_nevents && st.bad_events == 0 && st.matches == c.matches && st.fires == c.fires,
              "stats: %llu events, %llu matches (%llu seen), %llu fires (%llu seen)",
              (unsigned long long)st.events, (unsigned long long)st.matches, (unsigned long long)c.matches,
              (unsigned long long)st.fires, (unsigned long long)c.fires);
    tk_buf_t s1 = TK_BUF_INIT, s2 = TK_BUF_INIT;
    FZ_ASSERT(tk_alert_engine_save(e, &s1, err) == 0, "save: %s", err);
    tk_rule_t *r2 = NULL;
    FZ_ASSERT(again(ud, &r2) == 0 && r2, "the same source did not compile a second time");
    tk_alert_engine_t *e2 = fz_engine(r2);
    FZ_ASSERT(tk_alert_engine_load(e2, s1.p, s1.len, err) == 0, "load of a fresh snapshot: %s", err);
    FZ_ASSERT(tk_alert_engine_save(e2, &s2, err) == 0, "save: %s", err);
    FZ_ASSERT(s1.len == s2.len, "snapshot of %zu bytes reloads as %zu", s1.len, s2.len);
    FZ_ASSERT(tk_alert_engine_last_seq(e2) == tk_alert_engine_last_seq(e), "last_seq lost in the snapshot");
    tk_buf_free(&s1);
    tk_buf_free(&s2);
    tk_alert_engine_destroy(e2);
    tk_alert_engine_destroy(e);
}

#endif

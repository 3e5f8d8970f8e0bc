/* trailkeep query: LookupEvents (SPEC.md section 4) on top of tk_store_lookup().
 * Invariants: parameters are validated before the store is touched; a page
 * holds at most MaxResults events and carries a NextToken exactly when more
 * events matched (one extra event is fetched to know); a NextToken resumes
 * strictly after the (time, seq) of the last event returned, within the range
 * of the first page, and only for the account and query it was issued for. */
#include "query/lookup.h"
#include "query/token_internal.h"

#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX 20
#define DEFAULT_RANGE_MS (7 * TK_MS_PER_DAY)

/* The validated, normalised form of a request. */
typedef struct lookup_q {
    tk_lookup_req_t req;
    int max;
    int has_token;
    tk_token_t token;
    uint8_t query_hash[16];
    uint8_t account_hash[16];
} lookup_q_t;

static int lerrf(tk_lookup_error_t *lerr, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int lerrf(tk_lookup_error_t *lerr, const char *code, const char *fmt, ...)
{
    if (lerr) {
        va_list ap;
        va_start(ap, fmt);
        lerr->code = code;
        vsnprintf(lerr->message, sizeof lerr->message, fmt, ap);
        va_end(ap);
    }
    return TK_EINVAL;
}

const char *tk_lookup_error_cloudtrail(const char *code)
{
    static const struct { const char *ours, *aws; } map[] = {
        {TK_LOOKUP_E_START_TIME, "InvalidTimeRangeException"},
        {TK_LOOKUP_E_END_TIME, "InvalidTimeRangeException"},
        {TK_LOOKUP_E_COMBINATION, "InvalidTimeRangeException"},
        {TK_LOOKUP_E_ATTRIBUTE, "InvalidLookupAttributesException"},
        {TK_LOOKUP_E_MAX_RESULTS, "InvalidMaxResultsException"},
        {TK_LOOKUP_E_NEXT_TOKEN, "InvalidNextTokenException"},
        {TK_LOOKUP_E_DIRECTION, "InvalidParameterException"},
        {TK_LOOKUP_E_QUERY, "InvalidParameterException"},
    };
    for (size_t i = 0; code && i < TK_ARRAY_LEN(map); i++)
        if (!strcmp(code, map[i].ours))
            return map[i].aws;
    return "ValidationException";
}

static int parse_time(const char *s, const char *code, const char *name, int64_t *ms,
                      tk_lookup_error_t *lerr)
{
    if (!*s || tk_time_parse_any(s, tk_now_ms(), ms) != 0)
        return lerrf(lerr, code, "%s '%.60s' is not a time: use " TK_TIME_GRAMMAR, name, s);
    return 0;
}

/* Order-independent query hash: attributes are ANDed, so {A, B} and {B, A}
 * are the same query and may share a token. MaxResults is left out on
 * purpose: a client may change its page size between pages. */
static void query_hash(const tk_lookup_req_t *r, uint8_t out[16])
{
    tk_buf_t b = TK_BUF_INIT;
    int order[2] = {0, 1};
    if (r->nattrs == 2) {
        int c = (int)r->attrs[0].key - (int)r->attrs[1].key;
        if (c == 0)
            c = strcmp(r->attrs[0].value, r->attrs[1].value);
        if (c > 0) {
            order[0] = 1;
            order[1] = 0;
        }
    }
    tk_buf_printf(&b, "lookup-v1|%s|%d", r->forward ? "FORWARD" : "BACKWARD", r->nattrs);
    for (int i = 0; i < r->nattrs; i++) {
        int k = order[i];
        /* Length-prefixed so no value can imitate a separator. */
        tk_buf_printf(&b, "|%d:%zu:", (int)r->attrs[k].key, strlen(r->attrs[k].value));
        tk_buf_puts(&b, r->attrs[k].value);
    }
    uint8_t h[32];
    tk_sha256(b.p ? b.p : "", b.len, h);
    memcpy(out, h, 16);
    tk_buf_free(&b);
}

static int validate(const char *account, const tk_lookup_params_t *p, const tk_lookup_opts_t *o,
                    lookup_q_t *q, tk_lookup_error_t *lerr)
{
    memset(q, 0, sizeof *q);
    if (lerr) {
        lerr->code = NULL;
        lerr->message[0] = 0;
    }
    if (!account || !*account)
        return lerrf(lerr, TK_LOOKUP_E_QUERY, "no account given: a lookup reads one account's events");
    q->req.account = account;

    int has_start = p->start_time != NULL, has_end = p->end_time != NULL;
    int64_t start = 0, end = 0;
    if (has_start && parse_time(p->start_time, TK_LOOKUP_E_START_TIME, "StartTime", &start, lerr))
        return TK_EINVAL;
    if (has_end && parse_time(p->end_time, TK_LOOKUP_E_END_TIME, "EndTime", &end, lerr))
        return TK_EINVAL;

    if (p->nattrs < 0 || p->nattrs > 2)
        return lerrf(lerr, TK_LOOKUP_E_ATTRIBUTE,
                     "%d LookupAttributes given; at most 2 are allowed (they are ANDed)", p->nattrs);
    for (int i = 0; i < p->nattrs; i++) {
        const char *k = p->attrs[i].key, *v = p->attrs[i].value;
        tk_attr_t a;
        if (!k || !*k)
            return lerrf(lerr, TK_LOOKUP_E_ATTRIBUTE, "LookupAttribute %d has no Key", i + 1);
        if (tk_attr_parse(k, &a) != 0)
            return lerrf(lerr, TK_LOOKUP_E_ATTRIBUTE,
                         "unknown LookupAttribute Key '%.40s'; valid keys: ServiceName, EventName, "
                         "User, EventId, ResourceType, ResourceName, EventRW, EventAccessKeyId, "
                         "SensitiveAction, SourceIpAddress, EventType, RoleName, EventSource", k);
        if (!v || !*v)
            return lerrf(lerr, TK_LOOKUP_E_ATTRIBUTE,
                         "LookupAttribute %s has an empty Value; give the exact value to match", k);
        if (a == TK_ATTR_SENSITIVEACTION && strcmp(v, "true") && strcmp(v, "false"))
            return lerrf(lerr, TK_LOOKUP_E_ATTRIBUTE,
                         "LookupAttribute SensitiveAction must be 'true' or 'false', not '%.40s'", v);
        q->req.attrs[i].key = a;
        q->req.attrs[i].value = v;
    }
    q->req.nattrs = p->nattrs;

    int max_page = o && o->max_page > 0 ? o->max_page : 50;
    q->max = DEFAULT_MAX < max_page ? DEFAULT_MAX : max_page;
    if (p->max_results) {
        const char *s = p->max_results;
        long v = 0;
        int ok = *s != 0 && strlen(s) <= 9;
        for (const char *c = s; ok && *c; c++) {
            if (*c < '0' || *c > '9')
                ok = 0;
            else
                v = v * 10 + (*c - '0');
        }
        if (!ok || v < 1 || v > max_page)
            return lerrf(lerr, TK_LOOKUP_E_MAX_RESULTS,
                         "MaxResults '%.20s' is invalid; give a whole number from 1 to %d", s,
                         max_page);
        q->max = (int)v;
    }

    if (p->direction) {
        if (!strcmp(p->direction, "FORWARD"))
            q->req.forward = 1;
        else if (strcmp(p->direction, "BACKWARD"))
            return lerrf(lerr, TK_LOOKUP_E_DIRECTION,
                         "Direction '%.20s' is invalid; use BACKWARD (newest first, the default) or "
                         "FORWARD (oldest first)", p->direction);
    }

    query_hash(&q->req, q->query_hash);
    tk_token_account_hash(account, q->account_hash);

    if (p->next_token && *p->next_token) {
        char msg[200];
        if (!o || !o->token_key)
            return lerrf(lerr, TK_LOOKUP_E_NEXT_TOKEN, "NextToken cannot be checked: no token key");
        if (tk_token_decode(p->next_token, o->token_key, &q->token, msg, sizeof msg))
            return lerrf(lerr, TK_LOOKUP_E_NEXT_TOKEN, "%s", msg);
        if (memcmp(q->token.account_hash, q->account_hash, 16))
            return lerrf(lerr, TK_LOOKUP_E_NEXT_TOKEN,
                         "NextToken was issued for another account; a token is valid only for "
                         "the account that received it");
        if (memcmp(q->token.query_hash, q->query_hash, 16))
            return lerrf(lerr, TK_LOOKUP_E_NEXT_TOKEN,
                         "NextToken was issued for a different query (LookupAttributes or "
                         "Direction changed); repeat the previous parameters or omit NextToken");
        /* Omitted times mean "the token's range"; given ones must be the same. */
        if (has_start && start != q->token.start_ms)
            return lerrf(lerr, TK_LOOKUP_E_NEXT_TOKEN,
                         "NextToken was issued for a different StartTime; repeat the previous "
                         "StartTime (or omit it) or omit NextToken to start over");
        if (has_end && end != q->token.end_ms)
            return lerrf(lerr, TK_LOOKUP_E_NEXT_TOKEN,
                         "NextToken was issued for a different EndTime; repeat the previous "
                         "EndTime (or omit it) or omit NextToken to start over");
        q->has_token = 1;
        q->req.start_ms = q->token.start_ms;
        q->req.end_ms = q->token.end_ms;
        q->req.has_cursor = 1;
        q->req.cursor_time_ms = q->token.cursor_time_ms;
        q->req.cursor_seq = q->token.cursor_seq;
        return 0;
    }

    int64_t now = o && o->now_ms ? o->now_ms : tk_now_ms();
    if (!has_end)
        end = now;
    if (!has_start)
        start = end - DEFAULT_RANGE_MS;
    if (start > end) {
        char a[32], b[32];
        tk_time_format(start, 0, a);
        tk_time_format(end, 0, b);
        return lerrf(lerr, TK_LOOKUP_E_COMBINATION,
                     "StartTime %s is later than EndTime %s; the end time must be later than the "
                     "start time", a, b);
    }
    q->req.start_ms = start;
    q->req.end_ms = end;
    return 0;
}

/* Collection state: offsets into page->data until the walk ends, because the
 * buffer may move while it grows. */
typedef struct collect {
    tk_lookup_page_t *page;
    size_t want, n, cap;
    struct ev_off { uint64_t seq; int64_t time_ms; size_t acc, acc_len, json, json_len; } *ev;
    int oom;
} collect_t;

static int collect_cb(void *ud, const tk_stored_event_t *e)
{
    collect_t *c = ud;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 16;
        void *p = realloc(c->ev, nc * sizeof *c->ev);
        if (!p) {
            c->oom = 1;
            return 1;
        }
        c->ev = p;
        c->cap = nc;
    }
    struct ev_off *o = &c->ev[c->n];
    tk_buf_t *d = &c->page->data;
    o->seq = e->seq;
    o->time_ms = e->time_ms;
    o->acc = d->len;
    o->acc_len = e->account.len;
    if (tk_buf_append(d, e->account.p, e->account.len) || tk_buf_putc(d, 0)) {
        c->oom = 1;
        return 1;
    }
    o->json = d->len;
    o->json_len = e->json.len;
    if (tk_buf_append(d, e->json.p, e->json.len) || tk_buf_putc(d, 0)) {
        c->oom = 1;
        return 1;
    }
    c->n++;
    return c->n >= c->want ? 1 : 0;
}

int tk_lookup_run(tk_store_t *s, const char *account, const tk_lookup_params_t *p,
                  const tk_lookup_opts_t *o, tk_lookup_page_t *page, tk_lookup_error_t *lerr,
                  char *err)
{
    memset(page, 0, sizeof *page);
    lookup_q_t q;
    int rc = validate(account, p, o, &q, lerr);
    if (rc)
        return rc;
    if (!o || !o->token_key)
        return tk_errf(err, TK_EINVAL, "lookup needs a token key (tk_lookup_token_key)");
    page->start_ms = q.req.start_ms;
    page->end_ms = q.req.end_ms;

    collect_t c = {.page = page, .want = (size_t)q.max + 1};
    rc = tk_store_lookup(s, &q.req, collect_cb, &c, err);
    if (c.oom) {
        rc = tk_errf(err, TK_ENOMEM, "out of memory collecting lookup results");
    } else if (rc > 0) {
        rc = 0; /* our callback stopped the walk */
    }
    if (rc) {
        free(c.ev);
        tk_lookup_page_free(page);
        return rc;
    }
    size_t count = c.n > (size_t)q.max ? (size_t)q.max : c.n;
    if (count) {
        page->events = calloc(count, sizeof *page->events);
        if (!page->events) {
            free(c.ev);
            tk_lookup_page_free(page);
            return tk_errf(err, TK_ENOMEM, "out of memory building the lookup page");
        }
    }
    for (size_t i = 0; i < count; i++) {
        tk_stored_event_t *e = &page->events[i];
        e->seq = c.ev[i].seq;
        e->time_ms = c.ev[i].time_ms;
        e->account.p = page->data.p + c.ev[i].acc;
        e->account.len = (uint32_t)c.ev[i].acc_len;
        e->json.p = page->data.p + c.ev[i].json;
        e->json.len = (uint32_t)c.ev[i].json_len;
    }
    page->count = count;
    if (c.n > (size_t)q.max) {
        tk_token_t t = {0};
        memcpy(t.account_hash, q.account_hash, 16);
        memcpy(t.query_hash, q.query_hash, 16);
        t.start_ms = q.req.start_ms;
        t.end_ms = q.req.end_ms;
        t.cursor_time_ms = c.ev[count - 1].time_ms;
        t.cursor_seq = c.ev[count - 1].seq;
        _Static_assert(sizeof page->next_token >= 160, "token buffer too small");
        tk_token_encode(&t, o->token_key, page->next_token);
    }
    free(c.ev);
    return 0;
}

void tk_lookup_page_free(tk_lookup_page_t *page)
{
    if (!page)
        return;
    free(page->events);
    tk_buf_free(&page->data);
    page->events = NULL;
    page->count = 0;
    page->next_token[0] = 0;
}

static int count_cb(void *ud, const tk_stored_event_t *e)
{
    (void)e;
    (*(uint64_t *)ud)++;
    return 0;
}

int tk_lookup_count(tk_store_t *s, const char *account, const tk_lookup_params_t *p,
                    const tk_lookup_opts_t *o, uint64_t *count, int64_t *start_ms,
                    int64_t *end_ms, tk_lookup_error_t *lerr, char *err)
{
    lookup_q_t q;
    *count = 0;
    int rc = validate(account, p, o, &q, lerr);
    if (rc)
        return rc;
    /* Counting ignores the cursor: it answers "how many match the query". */
    q.req.has_cursor = 0;
    if (start_ms)
        *start_ms = q.req.start_ms;
    if (end_ms)
        *end_ms = q.req.end_ms;
    rc = tk_store_lookup(s, &q.req, count_cb, count, err);
    return rc > 0 ? 0 : rc;
}

int tk_lookup_page_json(const tk_lookup_page_t *page, tk_buf_t *out)
{
    char a[32], b[32];
    tk_time_format(page->start_ms, 0, a);
    tk_time_format(page->end_ms, 0, b);
    int rc = tk_buf_printf(out, "{\"StartTime\":\"%s\",\"EndTime\":\"%s\",\"Events\":[", a, b);
    for (size_t i = 0; rc == 0 && i < page->count; i++) {
        if (i)
            rc = tk_buf_putc(out, ',');
        if (rc == 0)
            rc = tk_buf_append(out, page->events[i].json.p, page->events[i].json.len);
    }
    if (rc == 0)
        rc = tk_buf_puts(out, "],\"NextToken\":");
    if (rc == 0)
        rc = tk_buf_put_json_str(out, page->next_token, strlen(page->next_token));
    if (rc == 0)
        rc = tk_buf_putc(out, '}');
    return rc;
}

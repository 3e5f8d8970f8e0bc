/* trailkeep event parsing: cuts the input into one JSON value per event
 * (array elements, JSON Lines, concatenated objects, CloudTrail Records),
 * validates each with simdjson and hands it to the ActionTrail or CloudTrail
 * step. Invariant: every value attempted gets the next index (accepted or
 * rejected), so reject indexes match the caller's positions; a broken value
 * never hides the ones after it unless the bytes after it cannot be cut. */
#include "event/event_internal.h"

#include "base/tk.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Gzip input given to tk_event_parse directly is decompressed up to this. */
#define GUNZIP_LIMIT ((size_t)1 << 30)

static const char *skip_ws_lines(const char *p, const char *end, uint64_t *line)
{
    while (p < end && tk_json_ws(*p)) {
        if (*p == '\n')
            (*line)++;
        p++;
    }
    return p;
}

/* True (and marks the context) when another value starts but the caller's
 * max_events is reached: the caller stops cutting the input there. */
static int full(tk_pctx_t *c)
{
    if (!c->stop_at || c->b->seen < c->stop_at)
        return 0;
    c->over = 1;
    return 1;
}

static const char *jtype_article(tk_jtype_t t)
{
    switch (t) {
    case TK_J_ARRAY: return "an array";
    case TK_J_STRING: return "a string";
    case TK_J_BOOL: return "a boolean";
    case TK_J_NULL: return "null";
    default: return "a number";
    }
}

static const char *parse_array(tk_pctx_t *c, const char *p, const char *end, uint64_t line, tk_kind_t kind);
static const char *find_records(const char *p, const char *end);

/* A {"Records":[...]} object without eventTime: a CloudTrail file, not an
 * event (found inside JSON Lines when files were concatenated one per line). */
static int is_records_container(tk_batch_t *b, tk_jv_t root)
{
    size_t n;
    tk_jmember_t *m = tk_batch_members(b, 0, root, &n);
    int rec = 0;
    for (size_t i = 0; m && i < n; i++) {
        if (tk_str_is(m[i].key, m[i].klen, "eventTime"))
            return 0;
        if (m[i].type == TK_J_ARRAY && tk_str_is(m[i].key, m[i].klen, "Records"))
            rec = 1;
    }
    return rec;
}

/* Dispatches a value that simdjson parsed. */
static void dispatch(tk_pctx_t *c, const char *s, size_t n, tk_jv_t root, uint64_t line, tk_kind_t kind,
                     size_t idx)
{
    tk_jtype_t t = tk_jtype(root);
    if (t != TK_J_OBJECT) {
        tk_reject_add(c, idx, line, TK_REJ_NOT_OBJECT, "", "an event must be a JSON object, not %s",
                      jtype_article(t));
        return;
    }
    int r;
    if (kind == TK_KIND_CLOUDTRAIL)
        r = is_records_container(c->b, root) ? 2 : 1;
    else
        r = tk_at_event(c, s, n, root, NULL, 0, idx, line, kind == TK_KIND_SNIFF);
    if (r == 1) {
        tk_ct_event(c, s, n, root, NULL, 0, idx, line);
    } else if (r == 2) {
        /* Not an event: its records are. Give the index back first. */
        assert(c->b->seen == idx + 1);
        c->b->seen = idx;
        const char *rec = find_records(s, s + n);
        if (rec)
            parse_array(c, rec, s + n, line + tk_count_lines(s, (size_t)(rec - s)), TK_KIND_CLOUDTRAIL);
    }
}

static void reject_parse(tk_pctx_t *c, size_t idx, uint64_t line, int rc)
{
    if (tk_jerr_is_nomem(rc))
        c->b->nomem = 1;
    else if (tk_jerr_is_utf8(rc))
        tk_reject_add(c, idx, line, TK_REJ_INVALID_UTF8, "",
                      "the event is not valid UTF-8: re-encode the input as UTF-8");
    else
        tk_reject_add(c, idx, line, TK_REJ_INVALID_JSON, "", "not valid JSON: %s", tk_jerr_message(rc));
}

/* One value s[0..n) (already cut): size check, parse, dispatch. */
static void one_value(tk_pctx_t *c, const char *s, size_t n, uint64_t line, tk_kind_t kind)
{
    size_t idx = c->b->seen++;
    if (n > TK_EVENT_MAX_BYTES) {
        tk_reject_add(c, idx, line, TK_REJ_TOO_LARGE, "",
                      "event is %zu bytes, over the %d-byte limit: shorten requestParameters/responseElements",
                      n, TK_EVENT_MAX_BYTES);
        return;
    }
    tk_jv_t root;
    int padded = (size_t)(c->data_end - s) >= n + TK_JSON_PADDING;
    int rc = tk_jparse(c->b->jp, s, n, padded, &root);
    if (rc) {
        reject_parse(c, idx, line, rc);
        return;
    }
    dispatch(c, s, n, root, line, kind, idx);
}

/* p at '['. Elements are cut with the scanner and validated one by one.
 * Returns the position after the closing ']', or end when the rest of the
 * input could not be cut (a reject says so) or the array is not closed. */
static const char *parse_array(tk_pctx_t *c, const char *p, const char *end, uint64_t line, tk_kind_t kind)
{
    const char *base = c->data_start;
    p++;
    for (;;) {
        p = skip_ws_lines(p, end, &line);
        if (p >= end) {
            /* The complete elements before stay accepted, but a container
             * cut short is a reject of its own: the file is incomplete and
             * whatever followed is lost, which the sender must be told. */
            size_t idx = c->b->seen++;
            tk_reject_add(c, idx, line, TK_REJ_INVALID_JSON, "",
                          "truncated: the array is not closed before the end of the input (byte %zu): "
                          "the file is incomplete; send the rest",
                          (size_t)(end - base));
            return end;
        }
        if (*p == ']')
            return p + 1;
        if (*p == ',') { /* empty slot or trailing comma: tolerate */
            p++;
            continue;
        }
        if (full(c))
            return end;
        tk_scan_status_t st;
        const char *e = tk_scan_value(p, end, 0, &st);
        if (st != TK_SCAN_OK) {
            size_t idx = c->b->seen++;
            if (st == TK_SCAN_TRUNCATED)
                tk_reject_add(c, idx, line, TK_REJ_INVALID_JSON, "",
                              "truncated: the input ends inside this element (byte %zu, %zu bytes cut off): the file is incomplete",
                              (size_t)(p - base), (size_t)(end - p));
            else
                tk_reject_add(c, idx, line, TK_REJ_INVALID_JSON, "",
                              "malformed: %s at byte %zu; the remaining %zu bytes of the array cannot be cut into events",
                              st == TK_SCAN_DEPTH ? "nesting too deep" : "mismatched bracket",
                              (size_t)(e - base), (size_t)(end - p));
            return end;
        }
        one_value(c, p, (size_t)(e - p), line, kind);
        line += tk_count_lines(p, (size_t)(e - p));
        p = skip_ws_lines(e, end, &line);
        if (p >= end)
            continue; /* reported as truncated above */
        if (*p == ',') {
            p++;
        } else if (*p == ']') {
            return p + 1;
        } else if (*p != '{' && *p != '[') { /* a missing comma before '{' is tolerated */
            size_t idx = c->b->seen++;
            tk_reject_add(c, idx, line, TK_REJ_INVALID_JSON, "",
                          "malformed: expected ',' or ']' at byte %zu, found '%c'; the remaining %zu bytes cannot be cut into events",
                          (size_t)(p - base), *p, (size_t)(end - p));
            return end;
        }
    }
}

/* After the Records array of a CloudTrail file object: skips its remaining
 * members and the closing '}'. Returns where the next value may start. */
static const char *skip_object_rest(const char *p, const char *end)
{
    tk_scan_status_t st;
    for (;;) {
        p = tk_skip_ws(p, end);
        if (p >= end)
            return end;
        if (*p == '}')
            return p + 1;
        if (*p != ',')
            return p;
        p = tk_skip_ws(p + 1, end);
        if (p >= end || *p != '"')
            return p;
        p = tk_scan_value(p, end, 0, &st);
        if (st != TK_SCAN_OK)
            return end;
        p = tk_skip_ws(p, end);
        if (p >= end || *p != ':')
            return p;
        p = tk_skip_ws(p + 1, end);
        if (p >= end)
            return end;
        p = tk_scan_value(p, end, 0, &st);
        if (st != TK_SCAN_OK)
            return end;
    }
}

/* JSON Lines, and whitespace-separated (possibly multi-line) objects. Fast
 * path: a line that simdjson parses whole is one event. */
static void parse_lines(tk_pctx_t *c, const char *p, const char *end, uint64_t line, tk_kind_t kind,
                        int arrays_ok)
{
    tk_batch_t *b = c->b;
    for (;;) {
        p = skip_ws_lines(p, end, &line);
        if (p >= end || b->nomem || full(c))
            return;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *te = le;
        while (te > p && tk_json_ws(te[-1]))
            te--;
        size_t n = (size_t)(te - p);
        if (*p == '{' && te[-1] == '}' && n <= TK_EVENT_MAX_BYTES) {
            tk_jv_t root;
            int padded = (size_t)(c->data_end - p) >= n + TK_JSON_PADDING;
            int rc = tk_jparse(b->jp, p, n, padded, &root);
            if (rc == 0 || tk_jerr_is_utf8(rc) || tk_jerr_is_nomem(rc)) {
                size_t idx = b->seen++;
                if (rc)
                    reject_parse(c, idx, line, rc);
                else
                    dispatch(c, p, n, root, line, kind, idx);
                p = te;
                continue;
            }
        }
        if (*p == '{' && arrays_ok && kind != TK_KIND_ACTIONTRAIL) {
            /* A CloudTrail file that is not the first document of the input
             * (files joined with cat, or one per line): its records are
             * events, whatever the container's size; the per-event limit
             * applies to each record, never to the file. */
            const char *rec = find_records(p, end);
            if (rec) {
                line += tk_count_lines(p, (size_t)(rec - p));
                const char *q = parse_array(c, rec, end, line, TK_KIND_CLOUDTRAIL);
                line += tk_count_lines(rec, (size_t)(q - rec));
                const char *r = skip_object_rest(q, end);
                line += tk_count_lines(q, (size_t)(r - q));
                p = r;
                continue;
            }
        }
        if (*p == '[' && arrays_ok) {
            /* Another array of events (concatenated files). */
            const char *e = parse_array(c, p, end, line, kind);
            line += tk_count_lines(p, (size_t)(e - p));
            p = e;
            continue;
        }
        if (*p != '{' && *p != '[') {
            size_t idx = b->seen++;
            tk_reject_add(c, idx, line, TK_REJ_INVALID_JSON, "",
                          "line %llu is not a JSON object (starts with '%c'): one event per line expected",
                          (unsigned long long)line, *p);
            p = le;
            continue;
        }
        tk_scan_status_t st;
        const char *e = tk_scan_value(p, end, 1, &st);
        if (st != TK_SCAN_OK) {
            size_t idx = b->seen++;
            if (st == TK_SCAN_TRUNCATED)
                tk_reject_add(c, idx, line, TK_REJ_INVALID_JSON, "",
                              "truncated: the object starting on line %llu is not closed before %s",
                              (unsigned long long)line, e >= end ? "the end of the input" : "the next record");
            else
                tk_reject_add(c, idx, line, TK_REJ_INVALID_JSON, "", "malformed: %s on line %llu",
                              st == TK_SCAN_DEPTH ? "nesting too deep" : "mismatched bracket",
                              (unsigned long long)(line + tk_count_lines(p, (size_t)(e - p))));
            /* Resume at the next line after where scanning stopped. */
            const char *r = e < le ? le : e;
            if (r < end && *r != '\n') {
                const char *n2 = memchr(r, '\n', (size_t)(end - r));
                r = n2 ? n2 : end;
            }
            line += tk_count_lines(p, (size_t)(r - p));
            p = r;
            continue;
        }
        one_value(c, p, (size_t)(e - p), line, kind);
        line += tk_count_lines(p, (size_t)(e - p));
        p = e;
    }
}

/* p at '{': the start of the "Records" array when the object has one. */
static const char *find_records(const char *p, const char *end)
{
    p++;
    for (;;) {
        p = tk_skip_ws(p, end);
        if (p >= end || *p != '"')
            return NULL;
        tk_scan_status_t st;
        const char *ke = tk_scan_value(p, end, 0, &st);
        if (st != TK_SCAN_OK)
            return NULL;
        int is_records = ke - p == 9 && memcmp(p, "\"Records\"", 9) == 0;
        p = tk_skip_ws(ke, end);
        if (p >= end || *p != ':')
            return NULL;
        p = tk_skip_ws(p + 1, end);
        if (is_records && p < end && *p == '[')
            return p;
        const char *ve = tk_scan_value(p, end, 0, &st);
        if (st != TK_SCAN_OK)
            return NULL;
        p = tk_skip_ws(ve, end);
        if (p >= end || *p != ',')
            return NULL;
        p++;
    }
}

static const char *skip_bom(const char *p, const char *end)
{
    if (end - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        return p + 3;
    return p;
}

tk_format_t tk_event_sniff(const char *data, size_t len)
{
    const char *end = data + len;
    const char *p = tk_skip_ws(skip_bom(data, end), end);
    if (p < end && *p == '[')
        return TK_FMT_AUTO;
    if (p < end && *p == '{' && find_records(p, end))
        return TK_FMT_CLOUDTRAIL;
    return TK_FMT_JSONL;
}

int tk_event_parse(tk_batch_t *b, const char *data, size_t len, const tk_parse_opts_t *opts, char *err)
{
    static const tk_parse_opts_t defaults;
    if (!opts)
        opts = &defaults;
    if (!data && len)
        return tk_errf(err, TK_EINVAL, "no input");
    if (tk_event_is_gzip(data, len)) {
        /* Gzip: decompress and keep the bytes with the batch (borrowed
         * events may point into them). */
        char *plain;
        size_t plen;
        int owned;
        int rc = tk_event_gunzip(data, len, opts->max_decompressed ? opts->max_decompressed : GUNZIP_LIMIT,
                                 &plain, &plen, &owned, err);
        if (rc)
            return rc;
        if (b->nowned == b->cap_owned) {
            size_t nc = b->cap_owned ? b->cap_owned * 2 : 4;
            char **x = realloc(b->owned_inputs, nc * sizeof *x);
            if (!x) {
                free(plain);
                return tk_errf(err, TK_ENOMEM, "out of memory");
            }
            b->owned_inputs = x;
            b->cap_owned = nc;
        }
        b->owned_inputs[b->nowned++] = plain;
        if (tk_event_is_gzip(plain, plen))
            return tk_errf(err, TK_EINVAL, "gzip inside gzip: decompress the input once before sending it");
        return tk_event_parse(b, plain, plen, opts, err);
    }
    tk_pctx_t c = {b, opts, data, data + len, opts->max_events ? b->seen + opts->max_events : 0, 0};
    const char *end = data + len;
    uint64_t line = opts->first_line ? opts->first_line : 1;
    const char *p = skip_ws_lines(skip_bom(data, end), end, &line);
    b->nomem = 0;
    if (p >= end)
        return 0;
    tk_kind_t kind = opts->format == TK_FMT_CLOUDTRAIL    ? TK_KIND_CLOUDTRAIL
                     : opts->format == TK_FMT_ACTIONTRAIL ? TK_KIND_ACTIONTRAIL
                                                          : TK_KIND_SNIFF;
    const char *src = opts->source_name ? opts->source_name : "input";
    int arrays_ok = opts->format != TK_FMT_JSONL;
    if (arrays_ok && *p == '{' && opts->format != TK_FMT_ACTIONTRAIL) {
        /* Walks the first object's members only: one event's worth of
         * scanning when the input is JSON Lines. */
        const char *rec = find_records(p, end);
        if (rec) {
            line += tk_count_lines(p, (size_t)(rec - p));
            const char *q = parse_array(&c, rec, end, line, TK_KIND_CLOUDTRAIL);
            line += tk_count_lines(rec, (size_t)(q - rec));
            const char *r = skip_object_rest(q, end);
            line += tk_count_lines(q, (size_t)(r - q));
            p = r;
        }
    } else if (opts->format == TK_FMT_CLOUDTRAIL && *p != '[') {
        return tk_errf(err, TK_EINVAL,
                       "%s is not a CloudTrail file: expected {\"Records\":[...]} or a JSON array of records", src);
    }
    /* The rest: arrays, objects and lines, in any sequence. */
    parse_lines(&c, p, end, line, kind, arrays_ok);
    if (b->nomem)
        return tk_errf(err, TK_ENOMEM, "out of memory parsing %s", src);
    if (c.over)
        return tk_errf(err, TK_ETOOBIG, "%s holds more than %zu events", src, opts->max_events);
    return 0;
}

/* trailkeep alert rules: the compiled rule tree (and/or/not over leaves of
 * path + operator + compiled patterns), the rule JSON format of
 * docs/rules.md, evaluation of a tree over an event view, and the
 * human-readable forms used by `rules test` ("why it matched"). Strict
 * parsing: an unknown key or operator is an error naming where it is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alert/alert_internal.h"
#include "base/tk.h"

static const char *SEV_NAMES[] = {"critical", "high", "medium", "low", "report"};

const char *tk_severity_name(tk_severity_t s)
{
    return (unsigned)s < TK_ARRAY_LEN(SEV_NAMES) ? SEV_NAMES[s] : "?";
}

int tk_severity_parse(const char *s, tk_severity_t *out)
{
    for (size_t i = 0; i < TK_ARRAY_LEN(SEV_NAMES); i++)
        if (!strcasecmp(s, SEV_NAMES[i])) {
            *out = (tk_severity_t)i;
            return 0;
        }
    if (!strcasecmp(s, "informational") || !strcasecmp(s, "info")) {
        *out = TK_SEV_REPORT;
        return 0;
    }
    return TK_EINVAL;
}

int tk_duration_parse(const char *s, int64_t *ms)
{
    char *end;
    if (!s || !*s)
        return TK_EINVAL;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0 || v > 100LL * 365 * 86400)
        return TK_EINVAL;
    int64_t mul;
    if (!*end || !strcmp(end, "s"))
        mul = 1000;
    else if (!strcmp(end, "ms"))
        mul = 1;
    else if (!strcmp(end, "m") || !strcmp(end, "min"))
        mul = 60000;
    else if (!strcmp(end, "h"))
        mul = 3600000;
    else if (!strcmp(end, "d"))
        mul = 86400000;
    else
        return TK_EINVAL;
    *ms = (int64_t)v * mul;
    return 0;
}

/* ---- nodes ---- */

tk_anode_t *tk_anode_new(tk_akind_t kind)
{
    tk_anode_t *n = calloc(1, sizeof(*n));
    if (n) {
        n->kind = (uint8_t)kind;
        n->slot = n->slot2 = -1;
    }
    return n;
}

int tk_anode_add(tk_anode_t *parent, tk_anode_t *kid)
{
    tk_anode_t **k = realloc(parent->kids, (parent->nkids + 1) * sizeof(*k));
    if (!k) {
        tk_anode_free(kid);
        return TK_ENOMEM;
    }
    parent->kids = k;
    parent->kids[parent->nkids++] = kid;
    return 0;
}

void tk_anode_free(tk_anode_t *n)
{
    if (!n)
        return;
    for (uint32_t i = 0; i < n->nkids; i++)
        tk_anode_free(n->kids[i]);
    free(n->kids);
    for (uint32_t i = 0; i < n->npats; i++)
        tk_apat_free(&n->pats[i]);
    free(n->pats);
    free(n->path);
    free(n->path2);
    free(n->label);
    free(n);
}

static int check_path(const char *path, char *err)
{
    if (!path || !*path || path[0] == '.' || path[strlen(path) - 1] == '.' || strstr(path, ".."))
        return tk_errf(err, TK_EINVAL, "field path '%s' is empty or has an empty step; write it dotted like userIdentity.type",
                       path ? path : "");
    return 0;
}

int tk_rule_leaf(const char *path, const char *opname, const cJSON *value, int nocase, int all,
                 tk_anode_t **out, char *err)
{
    int rc = check_path(path, err);
    if (rc)
        return rc;
    const tk_aop_t *op = tk_aop_find(opname);
    if (!op) {
        char names[400];
        tk_aop_names(names, sizeof names);
        return tk_errf(err, TK_EINVAL, "unknown operator '%s'; use one of %s", opname, names);
    }
    tk_anode_t *n = tk_anode_new(TK_N_LEAF);
    if (!n || !(n->path = strdup(path))) {
        tk_anode_free(n);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    n->op = op;
    n->nocase = (uint8_t)(nocase != 0);
    n->all = (uint8_t)(all != 0);
    n->negate = !strcmp(op->name, "ne");
    size_t cnt = 1;
    if (value && cJSON_IsArray(value)) {
        if (!op->multi) {
            tk_anode_free(n);
            return tk_errf(err, TK_EINVAL, "operator %s takes one value, not a list", op->name);
        }
        cnt = (size_t)cJSON_GetArraySize(value);
        if (cnt == 0) {
            tk_anode_free(n);
            return tk_errf(err, TK_EINVAL, "operator %s: empty list of values", op->name);
        }
    } else if (!value && op->arg != TK_ARG_BOOL && op->arg != TK_ARG_NONE) {
        tk_anode_free(n);
        return tk_errf(err, TK_EINVAL, "operator %s needs a value", op->name);
    } else if (!strcmp(op->name, "in") && value && !cJSON_IsArray(value)) {
        tk_anode_free(n);
        return tk_errf(err, TK_EINVAL, "operator in needs a list of values");
    }
    n->pats = calloc(cnt, sizeof(tk_apat_t));
    if (!n->pats) {
        tk_anode_free(n);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    n->npats = (uint32_t)cnt;
    for (size_t i = 0; i < cnt; i++) {
        const cJSON *v = value && cJSON_IsArray(value) ? cJSON_GetArrayItem(value, (int)i) : value;
        char e2[TK_ERRLEN];
        rc = op->compile(&n->pats[i], v, n->nocase, e2);
        if (rc) {
            tk_anode_free(n);
            return tk_errf(err, rc, "%s %s: %s", path, op->name, e2);
        }
    }
    if (op->arg == TK_ARG_FIELD) {
        if ((rc = check_path(n->pats[0].s, err))) {
            tk_anode_free(n);
            return rc;
        }
        n->path2 = strdup(n->pats[0].s);
        if (!n->path2) {
            tk_anode_free(n);
            return tk_errf(err, TK_ENOMEM, "out of memory");
        }
    }
    *out = n;
    return 0;
}

/* ---- rule JSON ---- */

static int cond_list(const cJSON *arr, tk_akind_t kind, const char *where, const char *key,
                     tk_anode_t **out, char *err)
{
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
        return tk_errf(err, TK_EINVAL, "%s.%s must be a non-empty list of conditions", where, key);
    tk_anode_t *n = tk_anode_new(kind);
    if (!n)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, arr)
    {
        char w2[200];
        snprintf(w2, sizeof w2, "%s.%s[%d]", where, key, i++);
        tk_anode_t *k;
        int rc = tk_rule_compile_cond(c, w2, &k, err);
        if (!rc)
            rc = tk_anode_add(n, k);
        if (rc) {
            tk_anode_free(n);
            return rc;
        }
    }
    *out = n;
    return 0;
}

int tk_rule_compile_cond(const cJSON *c, const char *where, tk_anode_t **out, char *err)
{
    if (!cJSON_IsObject(c))
        return tk_errf(err, TK_EINVAL, "%s must be an object like {\"field\": ..., \"op\": ..., \"value\": ...} or {\"all\": [...]}", where);
    const cJSON *all = cJSON_GetObjectItemCaseSensitive(c, "all");
    const cJSON *and_ = cJSON_GetObjectItemCaseSensitive(c, "and");
    const cJSON *any = cJSON_GetObjectItemCaseSensitive(c, "any");
    const cJSON *or_ = cJSON_GetObjectItemCaseSensitive(c, "or");
    const cJSON *not_ = cJSON_GetObjectItemCaseSensitive(c, "not");
    const cJSON *field = cJSON_GetObjectItemCaseSensitive(c, "field");
    int forms = !!all + !!and_ + !!any + !!or_ + !!not_ + !!field;
    if (forms != 1)
        return tk_errf(err, TK_EINVAL, "%s: give exactly one of field, all, any, not", where);
    if (all || and_)
        return cond_list(all ? all : and_, TK_N_AND, where, all ? "all" : "and", out, err);
    if (any || or_)
        return cond_list(any ? any : or_, TK_N_OR, where, any ? "any" : "or", out, err);
    if (not_) {
        if (cJSON_GetArraySize(c) != 1)
            return tk_errf(err, TK_EINVAL, "%s: a not condition has no other keys", where);
        char w2[200];
        snprintf(w2, sizeof w2, "%s.not", where);
        tk_anode_t *k, *n;
        int rc = tk_rule_compile_cond(not_, w2, &k, err);
        if (rc)
            return rc;
        if (!(n = tk_anode_new(TK_N_NOT))) {
            tk_anode_free(k);
            return tk_errf(err, TK_ENOMEM, "out of memory");
        }
        if ((rc = tk_anode_add(n, k))) {
            tk_anode_free(n);
            return rc;
        }
        *out = n;
        return 0;
    }
    /* leaf */
    const cJSON *it;
    cJSON_ArrayForEach(it, c)
    {
        static const char *ok[] = {"field", "op", "value", "values", "nocase", "match_all"};
        int known = 0;
        for (size_t i = 0; i < TK_ARRAY_LEN(ok); i++)
            known |= !strcmp(it->string, ok[i]);
        if (!known)
            return tk_errf(err, TK_EINVAL, "%s: unknown key '%s' (a condition has field, op, value or values, nocase, match_all)",
                           where, it->string);
    }
    if (!cJSON_IsString(field))
        return tk_errf(err, TK_EINVAL, "%s.field must be a string path like \"userIdentity.type\"", where);
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(c, "op");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(c, "value");
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(c, "values");
    if (value && values)
        return tk_errf(err, TK_EINVAL, "%s: give value or values, not both", where);
    if (values && !cJSON_IsArray(values))
        return tk_errf(err, TK_EINVAL, "%s.values must be a list", where);
    if (op && !cJSON_IsString(op))
        return tk_errf(err, TK_EINVAL, "%s.op must be a string", where);
    const char *opname = op ? op->valuestring : (values ? "in" : "eq");
    const cJSON *nc = cJSON_GetObjectItemCaseSensitive(c, "nocase");
    const cJSON *ma = cJSON_GetObjectItemCaseSensitive(c, "match_all");
    if ((nc && !cJSON_IsBool(nc)) || (ma && !cJSON_IsBool(ma)))
        return tk_errf(err, TK_EINVAL, "%s: nocase and match_all are true or false", where);
    char e2[TK_ERRLEN];
    int rc = tk_rule_leaf(field->valuestring, opname, value ? value : values, cJSON_IsTrue(nc),
                          cJSON_IsTrue(ma), out, e2);
    if (rc)
        return tk_errf(err, rc, "%s: %s", where, e2);
    return 0;
}

tk_rule_t *tk_rule_alloc(void)
{
    tk_rule_t *r = calloc(1, sizeof(*r));
    if (r) {
        r->threshold = 1;
        r->severity = TK_SEV_MEDIUM;
        r->distinct_slot = -1;
    }
    return r;
}

void tk_rule_destroy(tk_rule_t *r)
{
    if (!r)
        return;
    free(r->id);
    free(r->name);
    free(r->description);
    free(r->origin);
    tk_anode_free(r->root);
    for (uint32_t i = 0; i < r->ngroup; i++)
        free(r->group_by[i]);
    free(r->group_by);
    free(r->group_slots);
    free(r->distinct);
    tk_anode_free(r->clear);
    tk_atext_free(&r->title);
    tk_atext_free(&r->summary);
    free(r);
}

/* ---- title and summary texts ---- */

void tk_atext_free(tk_atext_t *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; t->paths && i < t->npaths; i++)
        free(t->paths[i]);
    free(t->paths);
    free(t->slots);
    free(t->text);
    memset(t, 0, sizeof *t);
}

int tk_atext_compile(tk_atext_t *t, const char *text, const char *where, char *err)
{
    memset(t, 0, sizeof *t);
    if (!(t->text = strdup(text)))
        return tk_errf(err, TK_ENOMEM, "out of memory");
    for (const char *p = text; *p; p++) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            p++;
            continue;
        }
        if (*p == '}')
            return tk_errf(err, TK_EINVAL, "%s: unmatched '}' at offset %ld; write }} for a literal brace",
                           where, (long)(p - text));
        if (*p != '{')
            continue;
        const char *end = strchr(p + 1, '}');
        if (!end)
            return tk_errf(err, TK_EINVAL, "%s: '{' at offset %ld is not closed; write {field.path} or {{ for a literal brace",
                           where, (long)(p - text));
        size_t n = (size_t)(end - p - 1);
        char *path = malloc(n + 1);
        if (!path)
            return tk_errf(err, TK_ENOMEM, "out of memory");
        memcpy(path, p + 1, n);
        path[n] = 0;
        char e2[TK_ERRLEN];
        int bad = strchr(path, '{') != NULL;
        if (bad || check_path(path, e2)) {
            free(path);
            return tk_errf(err, TK_EINVAL, "%s: placeholder at offset %ld: %s", where, (long)(p - text),
                           bad ? "'{' inside a placeholder" : e2);
        }
        char **np = realloc(t->paths, (t->npaths + 1) * sizeof *np);
        if (!np) {
            free(path);
            return tk_errf(err, TK_ENOMEM, "out of memory");
        }
        t->paths = np;
        t->paths[t->npaths++] = path;
        p = end;
    }
    if (!(t->slots = calloc(t->npaths ? t->npaths : 1, sizeof *t->slots)))
        return tk_errf(err, TK_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < t->npaths; i++)
        t->slots[i] = -1;
    return 0;
}

/* Appends n bytes, or fewer so that b stays within cap (on a UTF-8 boundary). */
static int put_capped(tk_buf_t *b, const char *s, size_t n, size_t cap, int *full)
{
    if (*full)
        return 0;
    if (b->len + n > cap) {
        n = cap > b->len ? cap - b->len : 0;
        while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        *full = 1;
    }
    return n ? tk_buf_append(b, s, n) : 0;
}

int tk_atext_render(const tk_atext_t *t, const tk_aview_t *v, size_t cap, tk_buf_t *b)
{
    int rc = 0, full = 0;
    uint32_t k = 0;
    cap += b->len;
    for (const char *p = t->text; p && *p && !rc && !full; p++) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            rc = put_capped(b, p, 1, cap, &full);
            p++;
            continue;
        }
        if (*p != '{') { /* a literal run, whole, so a cut never splits a character */
            size_t n = strcspn(p, "{}");
            rc = put_capped(b, p, n ? n : 1, cap, &full);
            p += (n ? n : 1) - 1;
            continue;
        }
        p = strchr(p, '}');
        int slot = k < t->npaths ? t->slots[k] : -1;
        k++;
        int any = 0, elems = 0;
        uint32_t head = slot >= 0 ? v->head[slot] : TK_AV_END;
        /* an array reached by a path is also walked into: show its elements,
         * not its JSON text as well (an empty array stays "[]") */
        for (uint32_t i = head; i != TK_AV_END; i = v->vals[i].next)
            elems |= v->vals[i].type != TK_AV_ARR;
        for (uint32_t i = head; i != TK_AV_END && !rc; i = v->vals[i].next) {
            const tk_aval_t *a = &v->vals[i];
            if (a->type == TK_AV_NULL || (elems && a->type == TK_AV_ARR))
                continue;
            if (any)
                rc = put_capped(b, ", ", 2, cap, &full);
            rc |= put_capped(b, a->s, a->len, cap, &full);
            any = 1;
        }
        if (!any && !rc)
            rc = put_capped(b, "-", 1, cap, &full);
    }
    if (!rc && !b->p)
        rc = tk_buf_reserve(b, 1); /* an empty text is still a C string */
    return rc ? TK_ENOMEM : 0;
}

static int get_str(const cJSON *o, const char *k, int required, char **out, char *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v) {
        if (required)
            return tk_errf(err, TK_EINVAL, "rule needs \"%s\"", k);
        return 0;
    }
    if (!cJSON_IsString(v))
        return tk_errf(err, TK_EINVAL, "rule \"%s\" must be a string", k);
    if (!(*out = strdup(v->valuestring)))
        return tk_errf(err, TK_ENOMEM, "out of memory");
    return 0;
}

static int get_duration(const cJSON *o, const char *k, int64_t *ms, const char *where, char *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v)
        return 0;
    /* Range-checked before the conversion (1e400 would be undefined): a
     * year of seconds is longer than any window or interval makes sense. */
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 366.0 * 86400) {
        *ms = (int64_t)(v->valuedouble * 1000);
        return 0;
    }
    if (cJSON_IsString(v) && tk_duration_parse(v->valuestring, ms) == 0)
        return 0;
    return tk_errf(err, TK_EINVAL, "%s%s: a duration like \"30m\", \"1h\", \"90s\" or a number of seconds", where, k);
}

/* Fills the common rule fields from a parsed rule object. */
static int rule_from_cjson(const cJSON *o, tk_rule_t *r, char *err)
{
    if (!cJSON_IsObject(o))
        return tk_errf(err, TK_EINVAL, "a rule is a JSON object");
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        static const char *ok[] = {"id", "name", "description", "severity", "source", "match",
                                   "threshold", "group_by", "suppress", "enabled", "template",
                                   "clear_when", "title", "summary"};
        int known = 0;
        for (size_t i = 0; i < TK_ARRAY_LEN(ok); i++)
            known |= !strcmp(it->string, ok[i]);
        if (!known)
            return tk_errf(err, TK_EINVAL, "unknown rule key '%s' (known: id, name, description, severity, source, match, threshold, group_by, suppress, clear_when, title, summary)",
                           it->string);
    }
    int rc;
    if ((rc = get_str(o, "id", 1, &r->id, err)) || (rc = get_str(o, "name", 0, &r->name, err)) ||
        (rc = get_str(o, "description", 0, &r->description, err)))
        return rc;
    if (!r->id[0])
        return tk_errf(err, TK_EINVAL, "rule id is empty");
    const cJSON *sev = cJSON_GetObjectItemCaseSensitive(o, "severity");
    if (sev && (!cJSON_IsString(sev) || tk_severity_parse(sev->valuestring, &r->severity)))
        return tk_errf(err, TK_EINVAL, "severity must be one of critical, high, medium, low, report");
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(o, "source");
    if (src) {
        if (cJSON_IsString(src) && !strcmp(src->valuestring, "canonical"))
            r->source = TK_SRC_CANONICAL;
        else if (cJSON_IsString(src) && !strcmp(src->valuestring, "cloudtrail"))
            r->source = TK_SRC_CLOUDTRAIL;
        else
            return tk_errf(err, TK_EINVAL, "source must be \"canonical\" or \"cloudtrail\"");
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "match");
    if (!m)
        return tk_errf(err, TK_EINVAL, "rule needs \"match\": the condition");
    if ((rc = tk_rule_compile_cond(m, "match", &r->root, err)))
        return rc;
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(o, "threshold");
    if (th) {
        if (!cJSON_IsObject(th))
            return tk_errf(err, TK_EINVAL, "threshold is an object {\"count\": N, \"window\": \"30m\"}");
        cJSON_ArrayForEach(it, th)
        {
            if (strcmp(it->string, "count") && strcmp(it->string, "window") && strcmp(it->string, "distinct"))
                return tk_errf(err, TK_EINVAL, "unknown threshold key '%s' (count, window, distinct)", it->string);
        }
        const cJSON *cnt = cJSON_GetObjectItemCaseSensitive(th, "count");
        if (!cJSON_IsNumber(cnt) || cnt->valuedouble < 1 || cnt->valuedouble > 1000000 ||
            cnt->valuedouble != (double)(uint32_t)cnt->valuedouble)
            return tk_errf(err, TK_EINVAL, "threshold.count must be a whole number 1..1000000");
        r->threshold = (uint32_t)cnt->valuedouble;
        if (!cJSON_GetObjectItemCaseSensitive(th, "window"))
            return tk_errf(err, TK_EINVAL, "threshold needs a window, e.g. \"window\": \"30m\"");
        if ((rc = get_duration(th, "window", &r->window_ms, "threshold.", err)))
            return rc;
        if (r->window_ms <= 0)
            return tk_errf(err, TK_EINVAL, "threshold.window must be positive");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(th, "distinct");
        if (d) {
            if (!cJSON_IsString(d) || check_path(d->valuestring, err))
                return tk_errf(err, TK_EINVAL, "threshold.distinct is a field path");
            if (!(r->distinct = strdup(d->valuestring)))
                return tk_errf(err, TK_ENOMEM, "out of memory");
        }
    }
    const cJSON *gb = cJSON_GetObjectItemCaseSensitive(o, "group_by");
    if (gb) {
        if (!cJSON_IsArray(gb))
            return tk_errf(err, TK_EINVAL, "group_by is a list of field paths");
        int n = cJSON_GetArraySize(gb);
        r->group_by = calloc((size_t)n + 1, sizeof(char *));
        if (!r->group_by)
            return tk_errf(err, TK_ENOMEM, "out of memory");
        cJSON_ArrayForEach(it, gb)
        {
            if (!cJSON_IsString(it) || check_path(it->valuestring, err))
                return tk_errf(err, TK_EINVAL, "group_by entries are field paths");
            if (!(r->group_by[r->ngroup++] = strdup(it->valuestring)))
                return tk_errf(err, TK_ENOMEM, "out of memory");
        }
    }
    if ((rc = get_duration(o, "suppress", &r->suppress_ms, "", err)))
        return rc;
    const cJSON *cw = cJSON_GetObjectItemCaseSensitive(o, "clear_when");
    if (cw && (rc = tk_rule_compile_cond(cw, "clear_when", &r->clear, err)))
        return rc;
    static const char *const texts[] = {"title", "summary"};
    for (int i = 0; i < 2; i++) {
        const cJSON *tx = cJSON_GetObjectItemCaseSensitive(o, texts[i]);
        if (!tx)
            continue;
        if (!cJSON_IsString(tx))
            return tk_errf(err, TK_EINVAL, "%s is a string with {field.path} placeholders", texts[i]);
        if ((rc = tk_atext_compile(i ? &r->summary : &r->title, tx->valuestring, texts[i], err)))
            return rc;
    }
    return 0;
}

int tk_rule_from_json(const char *json, size_t len, tk_rule_t **out, char *err)
{
    cJSON *o = cJSON_ParseWithLength(json, len);
    if (!o) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= json && at <= json + len ? (long)(at - json) : -1;
        return tk_errf(err, TK_EINVAL, "rule is not valid JSON (near byte %ld)", off);
    }
    tk_rule_t *r = tk_rule_alloc();
    if (!r) {
        cJSON_Delete(o);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    int rc = rule_from_cjson(o, r, err);
    cJSON_Delete(o);
    if (!rc && !(r->origin = strdup("json")))
        rc = tk_errf(err, TK_ENOMEM, "out of memory");
    if (rc) {
        tk_rule_destroy(r);
        return rc;
    }
    *out = r;
    return 0;
}

const char *tk_rule_id(const tk_rule_t *r) { return r->id; }
const char *tk_rule_name(const tk_rule_t *r) { return r->name ? r->name : r->id; }
const char *tk_rule_description(const tk_rule_t *r) { return r->description ? r->description : ""; }
tk_severity_t tk_rule_severity(const tk_rule_t *r) { return r->severity; }
uint32_t tk_rule_threshold(const tk_rule_t *r) { return r->threshold; }
int64_t tk_rule_window_ms(const tk_rule_t *r) { return r->window_ms; }
int64_t tk_rule_suppress_ms(const tk_rule_t *r) { return r->suppress_ms; }
int tk_rule_clears_on_event(const tk_rule_t *r) { return r->clear != NULL; }

/* ---- evaluation ---- */

static int leaf_eval(const tk_anode_t *n, const tk_aview_t *v)
{
    uint32_t h = n->slot >= 0 ? v->head[n->slot] : TK_AV_END;
    switch (n->op->arg) {
    case TK_ARG_BOOL:
        return (h != TK_AV_END) == (n->pats[0].b != 0);
    case TK_ARG_NONE:
        for (uint32_t i = h; i != TK_AV_END; i = v->vals[i].next)
            if (v->vals[i].type != TK_AV_NULL)
                return 0;
        return 1;
    case TK_ARG_FIELD: {
        uint32_t h2 = n->slot2 >= 0 ? v->head[n->slot2] : TK_AV_END;
        for (uint32_t i = h; i != TK_AV_END; i = v->vals[i].next) {
            const tk_aval_t *a = &v->vals[i];
            if (a->type == TK_AV_OBJ || a->type == TK_AV_ARR || a->type == TK_AV_NULL)
                continue;
            for (uint32_t j = h2; j != TK_AV_END; j = v->vals[j].next) {
                const tk_aval_t *b = &v->vals[j];
                if (b->type != a->type || b->len != a->len)
                    continue;
                if (n->nocase ? !strncasecmp(a->s, b->s, a->len) : !memcmp(a->s, b->s, a->len))
                    return 1;
            }
        }
        return 0;
    }
    default:
        break;
    }
    int (*match)(const tk_apat_t *, const tk_aval_t *, int) = n->op->match;
    if (n->all) {
        if (h == TK_AV_END)
            return 0;
        for (uint32_t p = 0; p < n->npats; p++) {
            int hit = 0;
            for (uint32_t i = h; i != TK_AV_END && !hit; i = v->vals[i].next)
                hit = match(&n->pats[p], &v->vals[i], n->nocase);
            if (!hit)
                return n->negate;
        }
        return !n->negate;
    }
    for (uint32_t i = h; i != TK_AV_END; i = v->vals[i].next)
        for (uint32_t p = 0; p < n->npats; p++)
            if (match(&n->pats[p], &v->vals[i], n->nocase))
                return !n->negate;
    return n->negate;
}

int tk_anode_eval(const tk_anode_t *n, const tk_aview_t *v)
{
    switch (n->kind) {
    case TK_N_AND:
        for (uint32_t i = 0; i < n->nkids; i++)
            if (!tk_anode_eval(n->kids[i], v))
                return 0;
        return 1;
    case TK_N_OR:
        for (uint32_t i = 0; i < n->nkids; i++)
            if (tk_anode_eval(n->kids[i], v))
                return 1;
        return 0;
    case TK_N_NOT:
        return !tk_anode_eval(n->kids[0], v);
    case TK_N_LEAF:
        return leaf_eval(n, v);
    case TK_N_TRUE:
        return 1;
    default:
        return 0;
    }
}

/* ---- text forms ---- */

static int put_pats(const tk_anode_t *n, tk_buf_t *b)
{
    int rc = 0;
    if (n->op->arg == TK_ARG_BOOL)
        return tk_buf_puts(b, n->pats[0].b ? "" : " false");
    if (n->op->arg == TK_ARG_NONE)
        return 0;
    if (n->op->arg == TK_ARG_HOURS)
        return tk_buf_puts(b, " (business hours)");
    rc |= tk_buf_putc(b, ' ');
    if (n->npats > 1)
        rc |= tk_buf_putc(b, '[');
    for (uint32_t i = 0; i < n->npats && i < 8; i++) {
        if (i)
            rc |= tk_buf_puts(b, ", ");
        if (n->op->arg == TK_ARG_NUM || n->op->arg == TK_ARG_FIELD)
            rc |= tk_buf_puts(b, n->pats[i].s);
        else if (n->op->arg == TK_ARG_STR && !strcmp(n->op->name, "glob")) {
            rc |= tk_buf_putc(b, '"');
            for (uint32_t j = 0; j < n->pats[i].len; j++) {
                char c = n->pats[i].s[j];
                rc |= tk_buf_putc(b, c == 1 ? '*' : c == 2 ? '?' : c == 3 ? '\\' : c);
            }
            rc |= tk_buf_putc(b, '"');
        } else
            rc |= tk_buf_put_json_str(b, n->pats[i].s, n->pats[i].len);
    }
    if (n->npats > 8)
        rc |= tk_buf_printf(b, ", ... %u more", n->npats - 8);
    if (n->npats > 1)
        rc |= tk_buf_putc(b, ']');
    return rc;
}

static int put_leaf(const tk_anode_t *n, tk_buf_t *b)
{
    int rc = tk_buf_printf(b, "%s %s%s%s", n->path, n->op->name, n->nocase ? "/i" : "",
                           n->all ? "/all" : "");
    return rc | put_pats(n, b);
}

int tk_anode_describe(const tk_anode_t *n, tk_buf_t *b)
{
    int rc = 0;
    switch (n->kind) {
    case TK_N_AND:
    case TK_N_OR:
        if (n->label)
            rc |= tk_buf_printf(b, "%s=", n->label);
        rc |= tk_buf_puts(b, n->kind == TK_N_AND ? "all(" : "any(");
        for (uint32_t i = 0; i < n->nkids; i++) {
            if (i)
                rc |= tk_buf_puts(b, ", ");
            rc |= tk_anode_describe(n->kids[i], b);
        }
        return rc | tk_buf_putc(b, ')');
    case TK_N_NOT:
        rc |= tk_buf_puts(b, "not(");
        rc |= tk_anode_describe(n->kids[0], b);
        return rc | tk_buf_putc(b, ')');
    case TK_N_LEAF:
        return put_leaf(n, b);
    case TK_N_TRUE:
        return tk_buf_puts(b, "true");
    default:
        return tk_buf_puts(b, "false");
    }
}

char *tk_rule_describe(const tk_rule_t *r)
{
    tk_buf_t b = TK_BUF_INIT;
    if (tk_anode_describe(r->root, &b)) {
        tk_buf_free(&b);
        return NULL;
    }
    if (r->threshold > 1 || r->distinct) {
        tk_buf_printf(&b, " | %s%s%s >= %u within %llds", r->distinct ? "distinct(" : "count",
                      r->distinct ? r->distinct : "", r->distinct ? ")" : "", r->threshold,
                      (long long)(r->window_ms / 1000));
    }
    if (r->ngroup) {
        tk_buf_puts(&b, " by ");
        for (uint32_t i = 0; i < r->ngroup; i++)
            tk_buf_printf(&b, "%s%s", i ? "," : "", r->group_by[i]);
    }
    if (r->clear) {
        tk_buf_puts(&b, " | cleared by ");
        tk_anode_describe(r->clear, &b);
    }
    if (!b.p)
        return strdup("");
    return tk_buf_steal(&b);
}

/* The value that made a leaf hold, quoted, for "why". */
static int put_got(const tk_anode_t *n, const tk_aview_t *v, tk_buf_t *b)
{
    uint32_t h = n->slot >= 0 ? v->head[n->slot] : TK_AV_END;
    if (n->negate || n->op->arg == TK_ARG_NONE || h == TK_AV_END)
        return 0;
    for (uint32_t i = h; i != TK_AV_END; i = v->vals[i].next) {
        const tk_aval_t *a = &v->vals[i];
        if (a->type == TK_AV_OBJ || a->type == TK_AV_ARR) {
            if (n->op->arg == TK_ARG_BOOL)
                return tk_buf_puts(b, a->type == TK_AV_OBJ ? " (got {...})" : " (got [...])");
            continue;
        }
        int hit = n->op->arg == TK_ARG_BOOL || n->op->arg == TK_ARG_FIELD;
        for (uint32_t p = 0; !hit && p < n->npats; p++)
            hit = n->op->match(&n->pats[p], a, n->nocase);
        if (hit) {
            int rc = tk_buf_puts(b, " (got ");
            rc |= tk_buf_put_json_str(b, a->s, a->len > 200 ? 200 : a->len);
            return rc | tk_buf_putc(b, ')');
        }
    }
    return 0;
}

int tk_anode_explain(const tk_anode_t *n, const tk_aview_t *v, tk_buf_t *b)
{
    int rc = 0;
    switch (n->kind) {
    case TK_N_AND:
    case TK_N_OR: {
        int first = 1;
        if (n->label)
            rc |= tk_buf_printf(b, "%s{", n->label);
        for (uint32_t i = 0; i < n->nkids; i++) {
            if (!tk_anode_eval(n->kids[i], v))
                continue;
            if (!first)
                rc |= tk_buf_puts(b, n->kind == TK_N_AND ? " and " : " or ");
            first = 0;
            rc |= tk_anode_explain(n->kids[i], v, b);
            if (n->kind == TK_N_OR)
                break; /* one branch that held is the reason */
        }
        if (n->label)
            rc |= tk_buf_putc(b, '}');
        return rc;
    }
    case TK_N_NOT:
        rc |= tk_buf_puts(b, "not(");
        rc |= tk_anode_describe(n->kids[0], b);
        return rc | tk_buf_putc(b, ')');
    case TK_N_LEAF:
        rc |= put_leaf(n, b);
        return rc | put_got(n, v, b);
    default:
        return tk_anode_describe(n, b);
    }
}

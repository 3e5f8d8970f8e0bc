/* trailkeep Sigma loader: turns a Sigma rule (YAML, libyaml) whose logsource
 * is AWS CloudTrail or Alibaba Cloud ActionTrail into a compiled rule.
 * Supported: selections as maps or lists of maps, value lists, modifiers
 * contains/startswith/endswith/all/re/cidr/exists/base64/fieldref/cased/
 * lt/lte/gt/gte, wildcards * and ?, null, and conditions with and/or/not,
 * parentheses, "1 of x*", "all of x*", "1 of them", "all of them", plus
 * "| count([field]) [by f, ...] > N" with a timeframe as a threshold.
 * Anything else refuses the whole rule with TK_EUNSUPPORTED and a message
 * naming the construct: a rule is never half-loaded. Sigma string matching
 * is case-insensitive unless |cased or |re. CloudTrail rules read the
 * original record (cloudTrailRecord) of stored events. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "alert/alert_internal.h"
#include "base/buf.h"
#include "base/tk.h"

typedef struct sctx {
    yaml_document_t doc;
    yaml_node_t *detection;
    char *err;
    int view;
    char *sel_names[64];
    yaml_node_t *sel_nodes[64];
    int nsel;
} sctx_t;

static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *m, const char *key)
{
    if (!m || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A plain (unquoted) scalar "null", "~" or empty is YAML null. */
static int is_null(yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *s = scalar(n);
    return !*s || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL") || !strcmp(s, "~");
}

/* ---- values ---- */

enum { M_EQ = 0, M_CONTAINS, M_STARTS, M_ENDS };

/* 1 when s holds an unescaped * or ?. */
static int has_wild(const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' && (s[1] == '*' || s[1] == '?' || s[1] == '\\')) {
            s++;
            continue;
        }
        if (*s == '*' || *s == '?')
            return 1;
    }
    return 0;
}

/* Sigma escapes (\* \? \\) removed, for literal operators. */
static char *unescape_plain(const char *s)
{
    char *o = malloc(strlen(s) + 1), *w = o;
    if (!o)
        return NULL;
    for (; *s; s++) {
        if (*s == '\\' && (s[1] == '*' || s[1] == '?' || s[1] == '\\'))
            s++;
        *w++ = *s;
    }
    *w = 0;
    return o;
}

static char *b64(const char *s)
{
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s);
    char *o = malloc(4 * ((n + 2) / 3) + 1), *w = o;
    if (!o)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        *w++ = T[v >> 18 & 63];
        *w++ = T[v >> 12 & 63];
        *w++ = i + 1 < n ? T[v >> 6 & 63] : '=';
        *w++ = i + 2 < n ? T[v & 63] : '=';
    }
    *w = 0;
    return o;
}

typedef struct fieldspec {
    char field[256];
    int mode;        /* M_* */
    int all, re, re_i, cidr, exists, b64, fieldref, cased, num; /* num: 1 lt 2 lte 3 gt 4 gte */
} fieldspec_t;

static int parse_field(const char *key, fieldspec_t *f, char *err)
{
    memset(f, 0, sizeof(*f));
    const char *bar = strchr(key, '|');
    size_t fl = bar ? (size_t)(bar - key) : strlen(key);
    if (fl == 0)
        return tk_errf(err, TK_EUNSUPPORTED, "a selection key without a field name ('%s'): keyword search is not supported", key);
    if (fl >= sizeof f->field)
        return tk_errf(err, TK_EINVAL, "field name too long");
    memcpy(f->field, key, fl);
    f->field[fl] = 0;
    while (bar) {
        const char *m = bar + 1;
        bar = strchr(m, '|');
        size_t n = bar ? (size_t)(bar - m) : strlen(m);
        char mod[32];
        if (n >= sizeof mod)
            return tk_errf(err, TK_EUNSUPPORTED, "modifier '%.*s' is not supported", (int)n, m);
        memcpy(mod, m, n);
        mod[n] = 0;
        if (!strcmp(mod, "contains"))
            f->mode = M_CONTAINS;
        else if (!strcmp(mod, "startswith"))
            f->mode = M_STARTS;
        else if (!strcmp(mod, "endswith"))
            f->mode = M_ENDS;
        else if (!strcmp(mod, "all"))
            f->all = 1;
        else if (!strcmp(mod, "re"))
            f->re = 1;
        else if (!strcmp(mod, "i") && f->re)
            f->re_i = 1;
        else if (!strcmp(mod, "cidr"))
            f->cidr = 1;
        else if (!strcmp(mod, "exists"))
            f->exists = 1;
        else if (!strcmp(mod, "base64"))
            f->b64 = 1;
        else if (!strcmp(mod, "fieldref"))
            f->fieldref = 1;
        else if (!strcmp(mod, "cased"))
            f->cased = 1;
        else if (!strcmp(mod, "lt"))
            f->num = 1;
        else if (!strcmp(mod, "lte"))
            f->num = 2;
        else if (!strcmp(mod, "gt"))
            f->num = 3;
        else if (!strcmp(mod, "gte"))
            f->num = 4;
        else
            return tk_errf(err, TK_EUNSUPPORTED, "field modifier '%s' (on %s) is not supported", mod, f->field);
    }
    if (f->re && (f->mode || f->b64))
        return tk_errf(err, TK_EUNSUPPORTED, "modifier re combined with contains/startswith/endswith/base64 is not supported");
    return 0;
}

/* Builds the leaves for one field: key (with modifiers) -> value node. */
static int field_node(sctx_t *c, const char *key, yaml_node_t *val, tk_anode_t **out)
{
    fieldspec_t f;
    int rc = parse_field(key, &f, c->err);
    if (rc)
        return rc;
    /* the value list */
    yaml_node_t *items[512];
    int n = 0;
    if (val->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = val->data.sequence.items.start; it < val->data.sequence.items.top; it++) {
            if (n == (int)TK_ARRAY_LEN(items))
                return tk_errf(c->err, TK_EUNSUPPORTED, "more than %zu values for %s", TK_ARRAY_LEN(items), f.field);
            items[n++] = yaml_document_get_node(&c->doc, *it);
        }
        if (n == 0)
            return tk_errf(c->err, TK_EINVAL, "empty value list for %s", f.field);
    } else {
        items[n++] = val;
    }
    for (int i = 0; i < n; i++)
        if (!items[i] || items[i]->type != YAML_SCALAR_NODE)
            return tk_errf(c->err, TK_EUNSUPPORTED, "nested maps or lists as the value of %s are not supported", f.field);
    if (f.exists || f.fieldref) {
        if (n != 1 || f.mode || f.all)
            return tk_errf(c->err, TK_EUNSUPPORTED, "%s|%s takes one value", f.field, f.exists ? "exists" : "fieldref");
        cJSON *v = f.exists ? cJSON_CreateBool(!strcasecmp(scalar(items[0]), "true") || !strcasecmp(scalar(items[0]), "yes"))
                            : cJSON_CreateString(scalar(items[0]));
        if (!v)
            return tk_errf(c->err, TK_ENOMEM, "out of memory");
        if (f.exists && strcasecmp(scalar(items[0]), "true") && strcasecmp(scalar(items[0]), "false") &&
            strcasecmp(scalar(items[0]), "yes") && strcasecmp(scalar(items[0]), "no")) {
            cJSON_Delete(v);
            return tk_errf(c->err, TK_EINVAL, "%s|exists takes true or false", f.field);
        }
        rc = tk_rule_leaf(f.field, f.exists ? "exists" : "fieldref", v, !f.cased, 0, out, c->err);
        cJSON_Delete(v);
        return rc;
    }
    /* one leaf per operator; values of the same operator share a leaf */
    const char *opnames[] = {"eq", "glob", "contains", "startswith", "endswith", "regex", "cidr", "null",
                             "lt", "le", "gt", "ge"};
    enum { O_EQ, O_GLOB, O_CONT, O_START, O_END, O_RE, O_CIDR, O_NULL, O_LT, O_LE, O_GT, O_GE, O_N };
    cJSON *vals[O_N] = {0};
    rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        yaml_node_t *it = items[i];
        int op;
        char *s = NULL;
        if (is_null(it)) {
            if (f.mode || f.re || f.cidr || f.num || f.b64)
                rc = tk_errf(c->err, TK_EUNSUPPORTED, "null with modifiers on %s is not supported", f.field);
            op = O_NULL;
        } else if (f.re) {
            op = O_RE;
            s = strdup(scalar(it));
        } else if (f.cidr) {
            op = O_CIDR;
            s = strdup(scalar(it));
        } else if (f.num) {
            op = O_LT + f.num - 1;
            s = strdup(scalar(it));
        } else {
            const char *raw = scalar(it);
            char *enc = NULL;
            if (f.b64) {
                if (has_wild(raw)) {
                    rc = tk_errf(c->err, TK_EUNSUPPORTED, "wildcards inside a base64 value of %s are not supported", f.field);
                    break;
                }
                char *plain = unescape_plain(raw);
                enc = plain ? b64(plain) : NULL;
                free(plain);
                if (!enc) {
                    rc = tk_errf(c->err, TK_ENOMEM, "out of memory");
                    break;
                }
                raw = enc;
            }
            if (has_wild(raw)) {
                /* wildcards: one glob with the modifier's implicit stars */
                size_t l = strlen(raw);
                s = malloc(l + 3);
                if (s)
                    snprintf(s, l + 3, "%s%s%s", f.mode == M_CONTAINS || f.mode == M_ENDS ? "*" : "", raw,
                             f.mode == M_CONTAINS || f.mode == M_STARTS ? "*" : "");
                op = O_GLOB;
            } else {
                s = f.b64 ? strdup(raw) : unescape_plain(raw);
                op = f.mode == M_CONTAINS ? O_CONT : f.mode == M_STARTS ? O_START : f.mode == M_ENDS ? O_END : O_EQ;
            }
            free(enc);
        }
        if (rc)
            break;
        if (op != O_NULL && !s) {
            rc = tk_errf(c->err, TK_ENOMEM, "out of memory");
            break;
        }
        if (!vals[op] && !(vals[op] = cJSON_CreateArray())) {
            free(s);
            rc = tk_errf(c->err, TK_ENOMEM, "out of memory");
            break;
        }
        if (op != O_NULL) {
            cJSON *sv;
            if (op >= O_LT) {
                char *end;
                double d = strtod(s, &end);
                sv = *end || end == s ? NULL : cJSON_CreateNumber(d);
                if (!sv) {
                    rc = tk_errf(c->err, TK_EINVAL, "%s: '%s' is not a number", f.field, s);
                    free(s);
                    break;
                }
            } else {
                sv = cJSON_CreateString(s);
            }
            free(s);
            if (!sv) {
                rc = tk_errf(c->err, TK_ENOMEM, "out of memory");
                break;
            }
            cJSON_AddItemToArray(vals[op], sv);
        }
    }
    tk_anode_t *group = NULL;
    if (!rc && !(group = tk_anode_new(f.all ? TK_N_AND : TK_N_OR)))
        rc = tk_errf(c->err, TK_ENOMEM, "out of memory");
    for (int op = 0; op < O_N && !rc; op++) {
        if (!vals[op])
            continue;
        if ((op >= O_LT || op == O_NULL) && cJSON_GetArraySize(vals[op]) > 1) {
            /* single-valued operators: one leaf per value */
            cJSON *v;
            cJSON_ArrayForEach(v, vals[op])
            {
                tk_anode_t *leaf;
                if ((rc = tk_rule_leaf(f.field, opnames[op], v, 0, 0, &leaf, c->err)) ||
                    (rc = tk_anode_add(group, leaf)))
                    break;
            }
            continue;
        }
        tk_anode_t *leaf;
        const cJSON *arg = op == O_NULL ? NULL : op >= O_LT ? cJSON_GetArrayItem(vals[op], 0) : vals[op];
        /* Sigma strings compare case-insensitively; regexes are as written */
        int nocase = op == O_RE ? f.re_i : !f.cased;
        rc = tk_rule_leaf(f.field, opnames[op], arg, nocase, f.all, &leaf, c->err);
        if (!rc)
            rc = tk_anode_add(group, leaf);
    }
    for (int op = 0; op < O_N; op++)
        cJSON_Delete(vals[op]);
    if (rc) {
        tk_anode_free(group);
        return rc;
    }
    if (group->nkids == 1) {
        *out = group->kids[0];
        group->nkids = 0;
        tk_anode_free(group);
    } else {
        *out = group;
    }
    return 0;
}

static int map_node(sctx_t *c, yaml_node_t *m, tk_anode_t **out)
{
    tk_anode_t *and_ = tk_anode_new(TK_N_AND);
    if (!and_)
        return tk_errf(c->err, TK_ENOMEM, "out of memory");
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&c->doc, p->value);
        if (!scalar(k) || !v) {
            tk_anode_free(and_);
            return tk_errf(c->err, TK_EINVAL, "selection keys must be field names");
        }
        tk_anode_t *leaf;
        int rc = field_node(c, scalar(k), v, &leaf);
        if (!rc)
            rc = tk_anode_add(and_, leaf);
        if (rc) {
            tk_anode_free(and_);
            return rc;
        }
    }
    if (and_->nkids == 0) {
        tk_anode_free(and_);
        return tk_errf(c->err, TK_EINVAL, "empty selection");
    }
    *out = and_;
    return 0;
}

static int selection_node(sctx_t *c, const char *name, yaml_node_t *sel, tk_anode_t **out)
{
    int rc;
    tk_anode_t *n = NULL;
    if (sel->type == YAML_MAPPING_NODE) {
        rc = map_node(c, sel, &n);
    } else if (sel->type == YAML_SEQUENCE_NODE) {
        n = tk_anode_new(TK_N_OR);
        if (!n)
            return tk_errf(c->err, TK_ENOMEM, "out of memory");
        rc = 0;
        for (yaml_node_item_t *it = sel->data.sequence.items.start; it < sel->data.sequence.items.top && !rc; it++) {
            yaml_node_t *m = yaml_document_get_node(&c->doc, *it);
            if (!m || m->type != YAML_MAPPING_NODE) {
                rc = tk_errf(c->err, TK_EUNSUPPORTED, "selection '%s' is a keyword list: full-text keyword search is not supported", name);
                break;
            }
            tk_anode_t *k;
            if (!(rc = map_node(c, m, &k)))
                rc = tk_anode_add(n, k);
        }
    } else {
        return tk_errf(c->err, TK_EUNSUPPORTED, "selection '%s' is a single keyword: full-text keyword search is not supported", name);
    }
    if (rc) {
        tk_anode_free(n);
        return rc;
    }
    free(n->label);
    n->label = strdup(name);
    if (!n->label) {
        tk_anode_free(n);
        return tk_errf(c->err, TK_ENOMEM, "out of memory");
    }
    *out = n;
    return 0;
}

/* ---- condition expressions ---- */

typedef struct lex {
    const char *p;
    char tok[256];
    int kind; /* 0 end, 1 word, 2 '(', 3 ')', 4 '|', 5 other */
} lex_t;

static void next(lex_t *l)
{
    while (isspace((unsigned char)*l->p))
        l->p++;
    l->tok[0] = 0;
    if (!*l->p) {
        l->kind = 0;
        return;
    }
    char ch = *l->p;
    if (ch == '(' || ch == ')' || ch == '|') {
        l->tok[0] = ch;
        l->tok[1] = 0;
        l->kind = ch == '(' ? 2 : ch == ')' ? 3 : 4;
        l->p++;
        return;
    }
    size_t n = 0;
    while (*l->p && !isspace((unsigned char)*l->p) && *l->p != '(' && *l->p != ')' && *l->p != '|') {
        if (n + 1 < sizeof l->tok)
            l->tok[n++] = *l->p;
        l->p++;
    }
    l->tok[n] = 0;
    l->kind = 1;
}

static int glob_name(const char *pat, const char *s)
{
    /* selection name patterns use a trailing or inner '*' */
    if (!*pat)
        return !*s;
    if (*pat == '*') {
        for (const char *t = s;; t++) {
            if (glob_name(pat + 1, t))
                return 1;
            if (!*t)
                return 0;
        }
    }
    return *s == *pat && glob_name(pat + 1, s + 1);
}

static int sel_ref(sctx_t *c, const char *name, tk_anode_t **out);

static int parse_or(sctx_t *c, lex_t *l, tk_anode_t **out);

static int quantified(sctx_t *c, lex_t *l, int all, tk_anode_t **out)
{
    next(l); /* 'of' consumed by caller check */
    if (l->kind != 1)
        return tk_errf(c->err, TK_EINVAL, "condition: expected a selection pattern or 'them' after 'of'");
    char pat[256];
    snprintf(pat, sizeof pat, "%s", l->tok);
    next(l);
    tk_anode_t *n = tk_anode_new(all ? TK_N_AND : TK_N_OR);
    if (!n)
        return tk_errf(c->err, TK_ENOMEM, "out of memory");
    int them = !strcmp(pat, "them");
    for (int i = 0; i < c->nsel; i++) {
        if (them ? c->sel_names[i][0] == '_' : !glob_name(pat, c->sel_names[i]))
            continue;
        tk_anode_t *k;
        int rc = sel_ref(c, c->sel_names[i], &k);
        if (!rc)
            rc = tk_anode_add(n, k);
        if (rc) {
            tk_anode_free(n);
            return rc;
        }
    }
    if (n->nkids == 0) {
        tk_anode_free(n);
        return tk_errf(c->err, TK_EINVAL, "condition: no selection matches '%s'", pat);
    }
    *out = n;
    return 0;
}

static int parse_primary(sctx_t *c, lex_t *l, tk_anode_t **out)
{
    int rc;
    if (l->kind == 2) {
        next(l);
        if ((rc = parse_or(c, l, out)))
            return rc;
        if (l->kind != 3) {
            tk_anode_free(*out);
            return tk_errf(c->err, TK_EINVAL, "condition: missing ')'");
        }
        next(l);
        return 0;
    }
    if (l->kind != 1)
        return tk_errf(c->err, TK_EINVAL, "condition: unexpected '%s'", l->kind ? l->tok : "end");
    if (!strcmp(l->tok, "1") || !strcmp(l->tok, "any") || !strcmp(l->tok, "all")) {
        int all = !strcmp(l->tok, "all");
        lex_t save = *l;
        next(l);
        if (l->kind == 1 && !strcmp(l->tok, "of"))
            return quantified(c, l, all, out);
        *l = save;
    }
    if (isdigit((unsigned char)l->tok[0])) {
        lex_t save = *l;
        next(l);
        if (l->kind == 1 && !strcmp(l->tok, "of"))
            return tk_errf(c->err, TK_EUNSUPPORTED, "condition '%s of ...' is not supported (only 1 of / all of)", save.tok);
        *l = save;
    }
    if (!strcmp(l->tok, "near"))
        return tk_errf(c->err, TK_EUNSUPPORTED, "condition 'near' (temporal correlation) is not supported");
    rc = sel_ref(c, l->tok, out);
    if (!rc)
        next(l);
    return rc;
}

static int parse_not(sctx_t *c, lex_t *l, tk_anode_t **out)
{
    if (l->kind == 1 && !strcmp(l->tok, "not")) {
        next(l);
        tk_anode_t *k, *n;
        int rc = parse_not(c, l, &k);
        if (rc)
            return rc;
        if (!(n = tk_anode_new(TK_N_NOT))) {
            tk_anode_free(k);
            return tk_errf(c->err, TK_ENOMEM, "out of memory");
        }
        if ((rc = tk_anode_add(n, k))) {
            tk_anode_free(n);
            return rc;
        }
        *out = n;
        return 0;
    }
    return parse_primary(c, l, out);
}

static int parse_bin(sctx_t *c, lex_t *l, const char *word, tk_akind_t kind,
                     int (*sub)(sctx_t *, lex_t *, tk_anode_t **), tk_anode_t **out)
{
    tk_anode_t *first;
    int rc = sub(c, l, &first);
    if (rc)
        return rc;
    if (!(l->kind == 1 && !strcmp(l->tok, word))) {
        *out = first;
        return 0;
    }
    tk_anode_t *n = tk_anode_new(kind);
    if (!n) {
        tk_anode_free(first);
        return tk_errf(c->err, TK_ENOMEM, "out of memory");
    }
    if ((rc = tk_anode_add(n, first)))
        goto fail;
    while (l->kind == 1 && !strcmp(l->tok, word)) {
        next(l);
        tk_anode_t *k;
        if ((rc = sub(c, l, &k)) || (rc = tk_anode_add(n, k)))
            goto fail;
    }
    *out = n;
    return 0;
fail:
    tk_anode_free(n);
    return rc;
}

static int parse_and(sctx_t *c, lex_t *l, tk_anode_t **out)
{
    return parse_bin(c, l, "and", TK_N_AND, parse_not, out);
}

static int parse_or(sctx_t *c, lex_t *l, tk_anode_t **out)
{
    return parse_bin(c, l, "or", TK_N_OR, parse_and, out);
}

static int sel_ref(sctx_t *c, const char *name, tk_anode_t **out)
{
    for (int i = 0; i < c->nsel; i++)
        if (!strcmp(c->sel_names[i], name))
            return selection_node(c, name, c->sel_nodes[i], out);
    if (!strcmp(name, "and") || !strcmp(name, "or") || !strcmp(name, "not") || !strcmp(name, "of"))
        return tk_errf(c->err, TK_EINVAL, "condition: unexpected '%s'", name);
    return tk_errf(c->err, TK_EINVAL, "condition names '%s', which is not a selection of this rule", name);
}

/* "count() > 5", "count() by sourceIPAddress > 5", "count(field) by a,b >= 3" */
static int parse_agg(sctx_t *c, lex_t *l, tk_rule_t *r)
{
    next(l); /* past '|' */
    if (l->kind != 1)
        return tk_errf(c->err, TK_EINVAL, "condition: expected an aggregation after '|'");
    if (!strcmp(l->tok, "near"))
        return tk_errf(c->err, TK_EUNSUPPORTED, "condition 'near' (temporal correlation) is not supported");
    if (strncmp(l->tok, "count", 5) != 0)
        return tk_errf(c->err, TK_EUNSUPPORTED, "aggregation '%s' is not supported (only count)", l->tok);
    /* the lexer split "count(" and ")" */
    char field[256] = "";
    if (!strcmp(l->tok, "count")) {
        next(l);
        if (l->kind != 2)
            return tk_errf(c->err, TK_EINVAL, "condition: count needs '('");
        next(l);
        if (l->kind == 1) {
            snprintf(field, sizeof field, "%s", l->tok);
            next(l);
        }
        if (l->kind != 3)
            return tk_errf(c->err, TK_EINVAL, "condition: count( needs ')'");
        next(l);
    } else {
        return tk_errf(c->err, TK_EUNSUPPORTED, "aggregation '%s' is not supported (only count)", l->tok);
    }
    if (l->kind == 1 && !strcmp(l->tok, "by")) {
        next(l);
        while (l->kind == 1) {
            if (!strcmp(l->tok, ">") || !strcmp(l->tok, ">=") || !strcmp(l->tok, "<") || !strcmp(l->tok, "<=") ||
                !strcmp(l->tok, "=") || !strcmp(l->tok, "=="))
                break;
            char *p = l->tok;
            while (*p) {
                char *comma = strchr(p, ',');
                if (comma)
                    *comma = 0;
                if (*p) {
                    char **g = realloc(r->group_by, (r->ngroup + 1) * sizeof(char *));
                    if (!g)
                        return tk_errf(c->err, TK_ENOMEM, "out of memory");
                    r->group_by = g;
                    if (!(r->group_by[r->ngroup] = strdup(p)))
                        return tk_errf(c->err, TK_ENOMEM, "out of memory");
                    r->ngroup++;
                }
                if (!comma)
                    break;
                p = comma + 1;
            }
            next(l);
        }
    }
    if (l->kind != 1)
        return tk_errf(c->err, TK_EINVAL, "condition: count needs a comparison like '> 5'");
    char op[4] = "";
    if (strlen(l->tok) < sizeof op)
        memcpy(op, l->tok, strlen(l->tok) + 1);
    next(l);
    char *end;
    long n = l->kind == 1 ? strtol(l->tok, &end, 10) : -1;
    if (l->kind != 1 || *end || n < 0 || n > 1000000)
        return tk_errf(c->err, TK_EINVAL, "condition: count comparison needs a whole number");
    next(l);
    if (l->kind != 0)
        return tk_errf(c->err, TK_EUNSUPPORTED, "condition: '%s' after the aggregation is not supported", l->tok);
    if (!strcmp(op, ">"))
        r->threshold = (uint32_t)n + 1;
    else if (!strcmp(op, ">="))
        r->threshold = n ? (uint32_t)n : 1;
    else
        return tk_errf(c->err, TK_EUNSUPPORTED, "count() %s N is not supported (only > and >=: an alert cannot wait for an absence)", op);
    if (field[0] && !(r->distinct = strdup(field)))
        return tk_errf(c->err, TK_ENOMEM, "out of memory");
    yaml_node_t *tf = map_get(&c->doc, c->detection, "timeframe");
    if (!scalar(tf))
        return tk_errf(c->err, TK_EUNSUPPORTED, "count() without a timeframe is not supported (the window would be unbounded)");
    if (tk_duration_parse(scalar(tf), &r->window_ms) || r->window_ms <= 0)
        return tk_errf(c->err, TK_EINVAL, "timeframe '%s' is not a duration like 10m", scalar(tf));
    /* one alert per group per window */
    r->suppress_ms = r->window_ms;
    return 0;
}

static int parse_condition(sctx_t *c, const char *cond, tk_rule_t *r, tk_anode_t **out)
{
    lex_t l = {cond, "", 0};
    next(&l);
    int rc = parse_or(c, &l, out);
    if (rc)
        return rc;
    if (l.kind == 4) {
        rc = parse_agg(c, &l, r);
    } else if (l.kind != 0) {
        if (!strcmp(l.tok, "near"))
            rc = tk_errf(c->err, TK_EUNSUPPORTED, "condition 'near' (temporal correlation) is not supported");
        else
            rc = tk_errf(c->err, TK_EINVAL, "condition: unexpected '%s'", l.tok);
    }
    if (rc) {
        tk_anode_free(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- the rule ---- */

static int sigma_rule(sctx_t *c, const char *origin, tk_rule_t *r)
{
    yaml_node_t *root = yaml_document_get_root_node(&c->doc);
    if (!root || root->type != YAML_MAPPING_NODE)
        return tk_errf(c->err, TK_EINVAL, "not a Sigma rule: the document is not a map");
    const char *title = scalar(map_get(&c->doc, root, "title"));
    const char *id = scalar(map_get(&c->doc, root, "id"));
    if (!title)
        return tk_errf(c->err, TK_EINVAL, "not a Sigma rule: no title");
    if (map_get(&c->doc, root, "correlation"))
        return tk_errf(c->err, TK_EUNSUPPORTED, "Sigma correlation rules are not supported");
    yaml_node_t *ls = map_get(&c->doc, root, "logsource");
    const char *product = scalar(map_get(&c->doc, ls, "product"));
    const char *service = scalar(map_get(&c->doc, ls, "service"));
    if (product && service && !strcasecmp(product, "aws") && !strcasecmp(service, "cloudtrail"))
        c->view = TK_SRC_CLOUDTRAIL;
    else if (product && service && (!strcasecmp(product, "alibaba") || !strcasecmp(product, "alibabacloud") ||
                                    !strcasecmp(product, "alibaba_cloud") || !strcasecmp(product, "aliyun")) &&
             !strcasecmp(service, "actiontrail"))
        c->view = TK_SRC_CANONICAL;
    else
        return tk_errf(c->err, TK_EUNSUPPORTED, "logsource product '%s' service '%s' is not AWS CloudTrail or Alibaba Cloud ActionTrail",
                       product ? product : "-", service ? service : "-");
    c->detection = map_get(&c->doc, root, "detection");
    if (!c->detection || c->detection->type != YAML_MAPPING_NODE)
        return tk_errf(c->err, TK_EINVAL, "Sigma rule without a detection map");
    yaml_node_t *cond = NULL;
    for (yaml_node_pair_t *p = c->detection->data.mapping.pairs.start; p < c->detection->data.mapping.pairs.top; p++) {
        const char *k = scalar(yaml_document_get_node(&c->doc, p->key));
        yaml_node_t *v = yaml_document_get_node(&c->doc, p->value);
        if (!k)
            return tk_errf(c->err, TK_EINVAL, "detection keys must be names");
        if (!strcmp(k, "condition")) {
            cond = v;
            continue;
        }
        if (!strcmp(k, "timeframe"))
            continue;
        if (c->nsel == (int)TK_ARRAY_LEN(c->sel_names))
            return tk_errf(c->err, TK_EUNSUPPORTED, "more than %zu selections", TK_ARRAY_LEN(c->sel_names));
        c->sel_names[c->nsel] = (char *)k;
        c->sel_nodes[c->nsel++] = v;
    }
    if (!cond)
        return tk_errf(c->err, TK_EINVAL, "detection has no condition");
    int rc;
    if (scalar(cond)) {
        rc = parse_condition(c, scalar(cond), r, &r->root);
    } else if (cond->type == YAML_SEQUENCE_NODE) {
        /* a list of conditions: any of them */
        tk_anode_t *n = tk_anode_new(TK_N_OR);
        if (!n)
            return tk_errf(c->err, TK_ENOMEM, "out of memory");
        rc = 0;
        for (yaml_node_item_t *it = cond->data.sequence.items.start; it < cond->data.sequence.items.top && !rc; it++) {
            const char *s = scalar(yaml_document_get_node(&c->doc, *it));
            tk_anode_t *k;
            if (!s) {
                rc = tk_errf(c->err, TK_EINVAL, "condition list items must be strings");
                break;
            }
            uint32_t before = r->threshold;
            if (!(rc = parse_condition(c, s, r, &k)))
                rc = tk_anode_add(n, k);
            if (!rc && r->threshold != before)
                rc = tk_errf(c->err, TK_EUNSUPPORTED, "an aggregation inside a list of conditions is not supported");
        }
        if (rc)
            tk_anode_free(n);
        else
            r->root = n;
    } else {
        return tk_errf(c->err, TK_EINVAL, "condition must be a string or a list of strings");
    }
    if (rc)
        return rc;
    if (r->threshold == 1 && !r->distinct && r->ngroup && !r->window_ms)
        return tk_errf(c->err, TK_EINVAL, "group-by without a count");
    r->source = c->view;
    char idbuf[300];
    snprintf(idbuf, sizeof idbuf, "sigma:%s", id ? id : title);
    const char *lvl = scalar(map_get(&c->doc, root, "level"));
    if (lvl && tk_severity_parse(lvl, &r->severity))
        return tk_errf(c->err, TK_EINVAL, "level '%s' is not one of informational, low, medium, high, critical", lvl);
    const char *desc = scalar(map_get(&c->doc, root, "description"));
    r->id = strdup(idbuf);
    r->name = strdup(title);
    r->description = strdup(desc ? desc : "");
    r->origin = strdup(origin ? origin : "sigma");
    if (!r->id || !r->name || !r->description || !r->origin)
        return tk_errf(c->err, TK_ENOMEM, "out of memory");
    return 0;
}

int tk_rule_from_sigma(const char *yaml, size_t len, const char *origin, tk_rule_t **out, char *err)
{
    yaml_parser_t parser;
    sctx_t c;
    memset(&c, 0, sizeof c);
    c.err = err;
    if (!yaml_parser_initialize(&parser))
        return tk_errf(err, TK_ENOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &c.doc)) {
        int rc = tk_errf(err, TK_EINVAL, "YAML error at line %zu: %s", parser.problem_mark.line + 1,
                         parser.problem ? parser.problem : "malformed");
        yaml_parser_delete(&parser);
        return rc;
    }
    /* a second document (Sigma rule collections) is not supported */
    yaml_document_t extra;
    int more = 0;
    if (yaml_parser_load(&parser, &extra)) {
        more = yaml_document_get_root_node(&extra) != NULL;
        yaml_document_delete(&extra);
    }
    yaml_parser_delete(&parser);
    int rc;
    tk_rule_t *r = tk_rule_alloc();
    if (!r) {
        rc = tk_errf(err, TK_ENOMEM, "out of memory");
    } else if (more) {
        rc = tk_errf(err, TK_EUNSUPPORTED, "multi-document Sigma files (rule collections) are not supported");
    } else {
        rc = sigma_rule(&c, origin, r);
    }
    yaml_document_delete(&c.doc);
    if (rc) {
        tk_rule_destroy(r);
        return rc;
    }
    *out = r;
    return 0;
}

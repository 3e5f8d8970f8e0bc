/* Oracle test of the event walker (jwalk.c): random JSON documents (nested
 * objects and arrays, strings with escapes and non-ASCII, numbers, literals)
 * and random paths; the values the walker collects for a path must equal
 * what a brute-force resolver over cJSON's tree finds with the same
 * semantics (arrays stand for any element, numeric steps pick one). Also
 * checks that every truncation of a document is refused, never over-read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "alert/alert_internal.h"
#include "base/tk.h"

static uint64_t rng = 88172645463325252ULL;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static const char *KEYS[] = {"a", "b", "c", "0", "1", "k\"q", "ü", "long_key_name_over_sixteen"};
#define NKEYS (sizeof KEYS / sizeof KEYS[0])

static cJSON *gen(int depth)
{
    uint32_t k = rnd(depth > 3 ? 5 : 8);
    switch (k) {
    case 0: {
        static const char *S[] = {"x", "", "with \"quote\" and \\ slash", "tab\tnew\nline", "ünïcödé ✓",
                                  "0123456789abcdef0123456789abcdef", "\x01control"};
        return cJSON_CreateString(S[rnd(7)]);
    }
    case 1:
        return cJSON_CreateNumber((double)rnd(100000) / (rnd(2) ? 1 : 8));
    case 2:
        return rnd(2) ? cJSON_CreateTrue() : cJSON_CreateFalse();
    case 3:
        return cJSON_CreateNull();
    case 4:
        return cJSON_CreateString("plain");
    case 5:
    case 6: {
        cJSON *o = cJSON_CreateObject();
        uint32_t n = rnd(5);
        int used[NKEYS] = {0};
        for (uint32_t i = 0; i < n; i++) {
            uint32_t key = rnd(NKEYS);
            if (used[key])
                continue; /* JSON allows duplicates; cJSON's lookup keeps the first only */
            used[key] = 1;
            cJSON_AddItemToObject(o, KEYS[key], gen(depth + 1));
        }
        return o;
    }
    default: {
        cJSON *a = cJSON_CreateArray();
        uint32_t n = rnd(4);
        for (uint32_t i = 0; i < n; i++)
            cJSON_AddItemToArray(a, gen(depth + 1));
        return a;
    }
    }
}

/* Oracle output: one token per value, sorted before comparing. */
typedef struct toks {
    char *t[4096];
    int n;
} toks_t;

static void put(toks_t *o, const char *s)
{
    if (o->n < 4096)
        o->t[o->n++] = strdup(s);
}

static void emit(const cJSON *v, toks_t *o)
{
    char b[512];
    if (cJSON_IsString(v)) {
        snprintf(b, sizeof b, "S:%s", v->valuestring);
        put(o, b);
    } else if (cJSON_IsNumber(v)) {
        put(o, "N");
    } else if (cJSON_IsBool(v)) {
        put(o, "B");
    } else if (cJSON_IsNull(v)) {
        put(o, "Z");
    } else if (cJSON_IsObject(v)) {
        put(o, "O");
    } else if (cJSON_IsArray(v)) {
        put(o, "A");
        const cJSON *el;
        cJSON_ArrayForEach(el, v) emit(el, o);
    }
}

static void resolve(const cJSON *v, const char *const *steps, int nsteps, toks_t *o)
{
    if (nsteps == 0) {
        emit(v, o);
        return;
    }
    if (cJSON_IsObject(v)) {
        const cJSON *m;
        cJSON_ArrayForEach(m, v) if (!strcmp(m->string, steps[0])) resolve(m, steps + 1, nsteps - 1, o);
    } else if (cJSON_IsArray(v)) {
        int i = 0;
        const cJSON *el;
        cJSON_ArrayForEach(el, v)
        {
            resolve(el, steps, nsteps, o);
            char ib[12];
            snprintf(ib, sizeof ib, "%d", i++);
            if (!strcmp(ib, steps[0]))
                resolve(el, steps + 1, nsteps - 1, o);
        }
    }
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walker_toks(const tk_aview_t *v, toks_t *o)
{
    char b[512];
    for (uint32_t i = v->head[0]; i != TK_AV_END; i = v->vals[i].next) {
        const tk_aval_t *a = &v->vals[i];
        switch (a->type) {
        case TK_AV_STR:
            snprintf(b, sizeof b, "S:%.*s", (int)a->len, a->s);
            put(o, b);
            break;
        case TK_AV_NUM: put(o, "N"); break;
        case TK_AV_BOOL: put(o, "B"); break;
        case TK_AV_NULL: put(o, "Z"); break;
        case TK_AV_OBJ: put(o, "O"); break;
        default: put(o, "A"); break;
        }
    }
}

static void free_toks(toks_t *o)
{
    for (int i = 0; i < o->n; i++)
        free(o->t[i]);
    o->n = 0;
}

static void test_walker_agrees_with_a_brute_force_resolver(void **s)
{
    (void)s;
    int compared = 0, nonempty = 0;
    for (int doc = 0; doc < 400; doc++) {
        cJSON *root = cJSON_CreateObject();
        for (uint32_t i = 0; i < NKEYS; i++)
            if (rnd(3))
                cJSON_AddItemToObject(root, KEYS[i], gen(0));
        char *text = rnd(2) ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
        for (int p = 0; p < 20; p++) {
            const char *steps[3];
            int nsteps = 1 + (int)rnd(3);
            char path[256] = "";
            int dotted = 1;
            for (int i = 0; i < nsteps; i++) {
                steps[i] = KEYS[rnd(NKEYS)];
                if (strchr(steps[i], '.'))
                    dotted = 0;
                snprintf(path + strlen(path), sizeof path - strlen(path), "%s%s", i ? "." : "", steps[i]);
            }
            if (!dotted)
                continue;
            toks_t want = {0}, got = {0};
            resolve(root, steps, nsteps, &want);
            tk_ptrie_t *t = tk_ptrie_new();
            assert_int_equal(tk_ptrie_add(t, path, 0), 0);
            assert_int_equal(tk_ptrie_finalize(t), 0);
            tk_aview_t v;
            assert_int_equal(tk_aview_init(&v, 1), 0);
            int rc = tk_jwalk(text, strlen(text), t, NULL, NULL, NULL, NULL, &v);
            if (rc)
                fail_msg("walker refused a valid document: %s", text);
            walker_toks(&v, &got);
            qsort(want.t, (size_t)want.n, sizeof(char *), cmp);
            qsort(got.t, (size_t)got.n, sizeof(char *), cmp);
            if (want.n != got.n)
                fail_msg("path %s: %d values, oracle %d\n%s", path, got.n, want.n, text);
            for (int i = 0; i < want.n; i++)
                if (strcmp(want.t[i], got.t[i]))
                    fail_msg("path %s: got %s, oracle %s\n%s", path, got.t[i], want.t[i], text);
            compared++;
            nonempty += want.n > 0;
            free_toks(&want);
            free_toks(&got);
            tk_aview_free(&v);
            tk_ptrie_free(t);
        }
        free(text);
        cJSON_Delete(root);
    }
    printf("# %d path lookups compared, %d with values\n", compared, nonempty);
    assert_true(nonempty > 500);
}

static void test_every_truncation_of_a_document_is_refused(void **s)
{
    (void)s;
    const char *doc = "{\"a\":{\"b\":[1,{\"c\":\"x\\\"y\"},[true,null]],\"d\":\"\\u00fc\"},\"e\":-1.5e3,\"f\":\"plain\"}";
    size_t n = strlen(doc);
    tk_ptrie_t *t = tk_ptrie_new();
    assert_int_equal(tk_ptrie_add(t, "a.b.c", 0), 0);
    assert_int_equal(tk_ptrie_add(t, "e", 1), 0);
    tk_aview_t v;
    assert_int_equal(tk_aview_init(&v, 2), 0);
    for (size_t len = 0; len < n; len++) {
        /* a private copy, so ASan catches any read past len */
        char *cut = malloc(len ? len : 1);
        memcpy(cut, doc, len);
        tk_aview_reset(&v);
        assert_int_equal(tk_jwalk(cut, len, t, NULL, NULL, NULL, NULL, &v), TK_EINVAL);
        free(cut);
    }
    tk_aview_reset(&v);
    assert_int_equal(tk_jwalk(doc, n, t, NULL, NULL, NULL, NULL, &v), 0);
    assert_int_equal(v.vals[v.head[0]].len, 3);
    assert_memory_equal(v.vals[v.head[0]].s, "x\"y", 3);
    assert_memory_equal(v.vals[v.head[1]].s, "-1.5e3", 6);
    tk_aview_free(&v);
    tk_ptrie_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walker_agrees_with_a_brute_force_resolver),
        cmocka_unit_test(test_every_truncation_of_a_document_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

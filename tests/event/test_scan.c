/* Tests for the raw value scanner (src/event/json_scan.c): its 64-byte
 * block walk must agree with a byte-by-byte oracle on every input, including
 * escapes that straddle block boundaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "event/json.h"

/* The obvious implementation: one byte at a time. Like the scanner, a
 * backslash escapes the next byte wherever it is. */
static const char *oracle(const char *p, const char *end, int line_mode, tk_scan_status_t *st)
{
    char stack[TK_SCAN_MAX_DEPTH];
    size_t depth = 0;
    int in_str = 0;
    *st = TK_SCAN_OK;
    if (p >= end) {
        *st = TK_SCAN_TRUNCATED;
        return p;
    }
    if (*p != '{' && *p != '[' && *p != '"') {
        while (p < end && !tk_json_ws(*p) && !strchr(",]}{[", *p))
            p++;
        return p;
    }
    for (; p < end; p++) {
        char c = *p;
        if (c == '\\' && !in_str) {
            p++;
            if (p >= end)
                break;
            continue;
        }
        if (in_str) {
            if (c == '\\') {
                p++;
                if (p >= end)
                    break;
            } else if (c == '"') {
                in_str = 0;
                if (depth == 0)
                    return p + 1;
            } else if (c == '\n' && line_mode) {
                *st = TK_SCAN_TRUNCATED;
                return p;
            }
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (depth == TK_SCAN_MAX_DEPTH) {
                *st = TK_SCAN_DEPTH;
                return p;
            }
            stack[depth++] = c;
        } else if (c == '}' || c == ']') {
            if (depth == 0 || stack[depth - 1] != (c == '}' ? '{' : '[')) {
                *st = TK_SCAN_MISMATCH;
                return p;
            }
            if (--depth == 0)
                return p + 1;
        } else if (c == '\n' && line_mode && p + 1 < end && p[1] == '{') {
            *st = TK_SCAN_TRUNCATED;
            return p;
        }
    }
    *st = TK_SCAN_TRUNCATED;
    return end;
}

static void test_block_scanner_agrees_with_byte_oracle(void **st)
{
    (void)st;
    static const char alphabet[] = "{}[]\"\"\"\\\\\n abc:,0";
    uint64_t rng = 88172645463325252ull;
    char buf[400];
    for (int it = 0; it < 200000; it++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        size_t n = 1 + rng % (sizeof buf - 1);
        buf[0] = "{[\""[rng % 3];
        for (size_t i = 1; i < n; i++) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            /* Mostly plain bytes, like real events. */
            buf[i] = (rng & 7) < 5 ? 'x' : alphabet[(rng >> 8) % (sizeof alphabet - 1)];
        }
        for (int lm = 0; lm < 2; lm++) {
            tk_scan_status_t s1, s2;
            const char *a = tk_scan_value(buf, buf + n, lm, &s1);
            const char *b = oracle(buf, buf + n, lm, &s2);
            if (a != b || s1 != s2)
                fail_msg("iteration %d line_mode %d: got %td/%d, oracle %td/%d for %.*s", it, lm, a - buf, s1,
                         b - buf, s2, (int)n, buf);
        }
    }
}

static void test_escape_at_block_boundary(void **st)
{
    (void)st;
    /* "...\"..." with the backslash as byte 63 of the first block. */
    char buf[200];
    memset(buf, 'a', sizeof buf);
    buf[0] = '"';
    buf[63] = '\\';
    buf[64] = '"'; /* escaped: not the end */
    buf[100] = '"';
    tk_scan_status_t s;
    assert_ptr_equal(tk_scan_value(buf, buf + sizeof buf, 0, &s), buf + 101);
    assert_int_equal(s, TK_SCAN_OK);
    /* A run of backslashes: even count, so the quote closes. */
    buf[62] = '\\';
    assert_ptr_equal(tk_scan_value(buf, buf + sizeof buf, 0, &s), buf + 65);
}

static void test_members_and_line_count(void **st)
{
    (void)st;
    const char *o = "{ \"a\" : [1, {\"b\":\"}\"}], \"c\\\"d\":\"x\" ,\"e\":null}";
    tk_rawmember_t m[4];
    assert_int_equal(tk_scan_members(o, strlen(o), m, 4), 3);
    assert_int_equal(m[0].klen, 1);
    assert_memory_equal(m[0].val, "[1, {\"b\":\"}\"}]", m[0].vlen);
    assert_int_equal(m[1].klen, 4); /* c\"d as written */
    assert_memory_equal(m[1].val, "\"x\"", 3);
    assert_memory_equal(m[2].val, "null", 4);
    assert_ptr_equal(tk_raw_find(m, 3, "e"), &m[2]);
    assert_null(tk_raw_find(m, 3, "c\"d"));
    assert_int_equal(tk_count_lines("a\nb\n\nc", 6), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_scanner_agrees_with_byte_oracle),
        cmocka_unit_test(test_escape_at_block_boundary),
        cmocka_unit_test(test_members_and_line_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

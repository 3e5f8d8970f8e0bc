/* Tests for src/base: RFC 3339 parsing edges, buffers and varints, JSON string escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"

static int64_t parse(const char *s)
{
    int64_t ms = -1;
    assert_int_equal(tk_time_parse(s, strlen(s), &ms), 0);
    return ms;
}

static void test_time_parses_rfc3339_variants(void **st)
{
    (void)st;
    assert_int_equal(parse("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse("2026-11-24T10:00:00Z"), 1795514400000LL);
    assert_int_equal(parse("2026-11-24T10:00:00.123Z"), 1795514400123LL);
    assert_int_equal(parse("2026-11-24T18:00:00+08:00"), 1795514400000LL);
    assert_int_equal(parse("2024-02-29T00:00:00Z") % 1000, 0);
    int64_t ms;
    const char *bad[] = {"", "2026-11-24", "2026-13-01T00:00:00Z", "2023-02-29T00:00:00Z",
                         "2026-11-24T10:00:00", "2026-11-24T25:00:00Z", "2026-11-24T10:00:00.Z",
                         "2026-11-24T10:00:00Zjunk"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tk_time_parse(bad[i], strlen(bad[i]), &ms), TK_EINVAL);
}

static void test_time_format_round_trips(void **st)
{
    (void)st;
    char out[32];
    tk_time_format(1795514400123LL, 0, out);
    assert_string_equal(out, "2026-11-24T10:00:00.123Z");
    tk_time_format(1795514400000LL, 0, out);
    assert_string_equal(out, "2026-11-24T10:00:00Z");
    tk_time_format(-1, 0, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    assert_int_equal(tk_time_day(-1), -1);
    char day[9];
    tk_time_day_str(tk_time_day(1795514400000LL), day);
    assert_string_equal(day, "20261124");
}

static void test_buf_varint_and_json_escape(void **st)
{
    (void)st;
    tk_buf_t b = TK_BUF_INIT;
    uint64_t vals[] = {0, 1, 127, 128, 300, 1ull << 35, UINT64_MAX};
    for (size_t i = 0; i < 7; i++)
        tk_buf_put_varint(&b, vals[i]);
    size_t off = 0;
    for (size_t i = 0; i < 7; i++) {
        uint64_t v;
        size_t k = tk_get_varint((uint8_t *)b.p + off, b.len - off, &v);
        assert_true(k > 0);
        assert_true(v == vals[i]);
        off += k;
    }
    assert_int_equal(off, b.len);
    tk_buf_reset(&b);
    tk_buf_put_json_str(&b, "a\"b\\c\n\x01", 7);
    assert_string_equal(b.p, "\"a\\\"b\\\\c\\n\\u0001\"");
    tk_buf_free(&b);
}

static void test_hash_hex_round_trip(void **st)
{
    (void)st;
    uint8_t d[32], back[32];
    char hex[65];
    tk_sha256("abc", 3, d);
    tk_hex(d, 32, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(tk_unhex(hex, 64, back), 0);
    assert_memory_equal(d, back, 32);
    assert_int_equal(tk_unhex("zz", 2, back), TK_EINVAL);
    char u[37];
    tk_uuid4(u);
    assert_int_equal(strlen(u), 36);
    assert_int_equal(u[14], '4');
}

/* One grammar for every time a person gives (CLI flags, query strings). */
static void test_time_parse_any(void **state)
{
    (void)state;
    const int64_t now = 1765000000000LL; /* 2025-12-06T05:46:40Z */
    int64_t ms;
    assert_int_equal(tk_time_parse_any("now", now, &ms), 0);
    assert_int_equal(ms, now);
    assert_int_equal(tk_time_parse_any("-24h", now, &ms), 0);
    assert_int_equal(ms, now - 86400000LL);
    assert_int_equal(tk_time_parse_any("+30m", now, &ms), 0);
    assert_int_equal(ms, now + 1800000LL);
    assert_int_equal(tk_time_parse_any("-2w", now, &ms), 0);
    assert_int_equal(ms, now - 14 * 86400000LL);
    assert_int_equal(tk_time_parse_any("2026-12-01", now, &ms), 0);
    assert_int_equal(ms, 1796083200000LL);
    assert_int_equal(tk_time_parse_any("2026-12-01T08:00:00+08:00", now, &ms), 0);
    assert_int_equal(ms, 1796083200000LL);
    assert_int_equal(tk_time_parse_any("1796083200", now, &ms), 0);
    assert_int_equal(ms, 1796083200000LL);
    assert_int_equal(tk_time_parse_any("1796083200.25", now, &ms), 0);
    assert_int_equal(ms, 1796083200250LL);
    const char *bad[] = {"", "-", "-24", "24h", "-24x", "-h", "2026", "12345678", "1e9",
                         "1796083200.", "1796083200.x", "99999999999999", "yesterday", "-9999999999d",
                         "2026-13-01", "1796083200 "};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (tk_time_parse_any(bad[i], now, &ms) != TK_EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_parses_rfc3339_variants),
        cmocka_unit_test(test_time_format_round_trips),
        cmocka_unit_test(test_buf_varint_and_json_escape),
        cmocka_unit_test(test_hash_hex_round_trip),
        cmocka_unit_test(test_time_parse_any),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

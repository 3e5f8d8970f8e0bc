/* Tests for the CLI helpers (src/cli/util.c, compiled into this test because
 * CLI sources are linked into the trailkeep binary, not into a library):
 * option forms, time parsing (RFC 3339, dates, relative), numbers, size and
 * count formatting, and the table printer's exact layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/cli/util.c"

#include <stdio.h>

#define NOW 1795514400000LL /* 2026-11-24T10:00:00Z */

static void test_cli_opt_accepts_both_forms_and_reports_missing_values(void **st)
{
    (void)st;
    char *argv[] = {"x", "--data", "/d", "--data=/e", "--database", "--max"};
    int argc = 6, i = 1;
    const char *v = NULL;
    assert_int_equal(tk_cli_opt(argc, argv, &i, "t", "--data", &v), 1);
    assert_string_equal(v, "/d");
    assert_int_equal(i, 2); /* points at the value; the caller's loop moves on */
    i = 3;
    assert_int_equal(tk_cli_opt(argc, argv, &i, "t", "--data", &v), 1);
    assert_string_equal(v, "/e");
    i = 4; /* a longer option with the same prefix is not this one */
    assert_int_equal(tk_cli_opt(argc, argv, &i, "t", "--data", &v), 0);
    i = 5; /* value missing at the end */
    assert_int_equal(tk_cli_opt(argc, argv, &i, "t", "--max", &v), -1);
}

static void test_cli_parse_time_relative_dates_and_rfc3339(void **st)
{
    (void)st;
    int64_t ms;
    assert_int_equal(tk_cli_parse_time("now", NOW, &ms), 0);
    assert_int_equal(ms, NOW);
    assert_int_equal(tk_cli_parse_time("-24h", NOW, &ms), 0);
    assert_int_equal(ms, NOW - 86400000LL);
    assert_int_equal(tk_cli_parse_time("-7d", NOW, &ms), 0);
    assert_int_equal(ms, NOW - 7 * 86400000LL);
    assert_int_equal(tk_cli_parse_time("-30m", NOW, &ms), 0);
    assert_int_equal(ms, NOW - 1800000LL);
    assert_int_equal(tk_cli_parse_time("-90s", NOW, &ms), 0);
    assert_int_equal(ms, NOW - 90000LL);
    assert_int_equal(tk_cli_parse_time("-2w", NOW, &ms), 0);
    assert_int_equal(ms, NOW - 14 * 86400000LL);
    assert_int_equal(tk_cli_parse_time("+1h", NOW, &ms), 0);
    assert_int_equal(ms, NOW + 3600000LL);
    assert_int_equal(tk_cli_parse_time("2026-11-24", NOW, &ms), 0);
    assert_int_equal(ms, NOW - 10 * 3600000LL);
    assert_int_equal(tk_cli_parse_time("2026-11-24T18:00:00.5+08:00", NOW, &ms), 0);
    assert_int_equal(ms, NOW + 500);
    const char *bad[] = {"", "-", "-h", "-24", "-24x", "-24hh", "--1h", "yesterday",
                         "2026-11-24T10:00", "2026-02-30", "-99999999999d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (tk_cli_parse_time(bad[i], NOW, &ms) != TK_EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
}

static void test_cli_parse_long_bounds(void **st)
{
    (void)st;
    long v;
    assert_int_equal(tk_cli_parse_long("42", 1, 50, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(tk_cli_parse_long("50", 1, 50, &v), 0);
    assert_int_equal(tk_cli_parse_long("51", 1, 50, &v), TK_EINVAL);
    assert_int_equal(tk_cli_parse_long("0", 1, 50, &v), TK_EINVAL);
    assert_int_equal(tk_cli_parse_long("-1", 1, 50, &v), TK_EINVAL);
    assert_int_equal(tk_cli_parse_long("", 1, 50, &v), TK_EINVAL);
    assert_int_equal(tk_cli_parse_long("1x", 1, 50, &v), TK_EINVAL);
    assert_int_equal(tk_cli_parse_long("99999999999999999999999", 1, 50, &v), TK_EINVAL);
}

static void test_cli_formats_bytes_and_counts(void **st)
{
    (void)st;
    char b[32];
    assert_string_equal(tk_cli_fmt_bytes(0, b), "0 B");
    assert_string_equal(tk_cli_fmt_bytes(999, b), "999 B");
    assert_string_equal(tk_cli_fmt_bytes(1500, b), "1.5 KB");
    assert_string_equal(tk_cli_fmt_bytes(1090000000ULL, b), "1.1 GB");
    assert_string_equal(tk_cli_fmt_count(0, b), "0");
    assert_string_equal(tk_cli_fmt_count(999, b), "999");
    assert_string_equal(tk_cli_fmt_count(1000, b), "1,000");
    assert_string_equal(tk_cli_fmt_count(1234567, b), "1,234,567");
}

static char *table_text(tk_table_t *t, int rows, const char *const cells[][3])
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    for (int r = 0; r < rows; r++)
        assert_int_equal(tk_table_add(t, cells[r]), 0);
    tk_table_flush(t, f);
    fclose(f);
    return buf;
}

static void test_cli_table_aligns_cuts_and_keeps_widths(void **st)
{
    (void)st;
    static const char *const headers[] = {"A", "NAME", "LAST"};
    static const int maxw[] = {0, 6, 0};
    tk_table_t t;
    tk_table_init(&t, 3, headers, maxw);
    const char *const rows[][3] = {{"1", "alice", "x"}, {"22", "bartholomew", NULL}, {"3", "\xc3\xa9v\xc3\xa9", ""}};
    char *out = table_text(&t, 3, rows);
    /* NAME is capped at 6 columns: longer values end with '~'; UTF-8 counts
     * per character; empty and NULL cells print '-'; the last column is not
     * padded. */
    assert_string_equal(out, "A   NAME    LAST\n"
                             "1   alice   x\n"
                             "22  barth~  -\n"
                             "3   \xc3\xa9v\xc3\xa9     -\n");
    free(out);
    /* A later batch keeps the widths and prints no second header. */
    const char *const more[][3] = {{"4444", "zed", "y"}};
    out = table_text(&t, 1, more);
    assert_string_equal(out, "4~  zed     y\n");
    free(out);
    tk_table_free(&t);
}

static void test_cli_progress_is_silent_when_quiet(void **st)
{
    (void)st;
    tk_progress_t p;
    tk_progress_init(&p, 1);
    assert_int_equal(p.enabled, 0);
    tk_progress_update(&p, 1, 1, 2, 10, 5, 10); /* no output, no crash */
    tk_progress_clear(&p);
    assert_int_equal(p.drawn, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_opt_accepts_both_forms_and_reports_missing_values),
        cmocka_unit_test(test_cli_parse_time_relative_dates_and_rfc3339),
        cmocka_unit_test(test_cli_parse_long_bounds),
        cmocka_unit_test(test_cli_formats_bytes_and_counts),
        cmocka_unit_test(test_cli_table_aligns_cuts_and_keeps_widths),
        cmocka_unit_test(test_cli_progress_is_silent_when_quiet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

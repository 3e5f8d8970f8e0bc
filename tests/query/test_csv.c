/* Tests for src/query/csv.c: the CSV rows of lookup --output csv and
 * /v1/lookup?Format=csv (RFC 4180 quoting, JSON-valued cells, formula
 * injection defused, column parsing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/tk.h"
#include "query/csv.h"

#include <string.h>

static const char *row(const char *cols, const char *json, tk_buf_t *b)
{
    tk_csv_cols_t c;
    char err[TK_ERRLEN];
    assert_int_equal(tk_csv_cols_parse(cols, &c, err), 0);
    tk_buf_reset(b);
    assert_int_equal(tk_csv_row(&c, json, strlen(json), b), 0);
    tk_csv_cols_free(&c);
    return b->p;
}

static void test_cells_are_quoted_as_rfc4180_says(void **s)
{
    (void)s;
    tk_buf_t b = TK_BUF_INIT;
    assert_string_equal(row("a,b,c", "{\"a\":\"plain\",\"b\":\"x,y\",\"c\":\"say \\\"hi\\\"\\nbye\"}", &b),
                        "plain,\"x,y\",\"say \"\"hi\"\"\nbye\"\r\n");
    /* missing and null: empty cells; numbers and booleans as JSON */
    assert_string_equal(row("a,n,t,z", "{\"a\":null,\"n\":5,\"t\":true}", &b), ",5,true,\r\n");
    /* nested paths; an object or array is its compact JSON, quoted */
    assert_string_equal(row("userIdentity.userName,userIdentity,list",
                            "{\"userIdentity\":{\"userName\":\"alice\",\"type\":\"ram-user\"},\"list\":[1,2]}", &b),
                        "alice,\"{\"\"userName\"\":\"\"alice\"\",\"\"type\"\":\"\"ram-user\"\"}\",\"[1,2]\"\r\n");
    /* not JSON: empty cells, still one row */
    assert_string_equal(row("a,b", "not json", &b), ",\r\n");
    tk_buf_free(&b);
}

static void test_formula_cells_are_defused(void **s)
{
    (void)s;
    tk_buf_t b = TK_BUF_INIT;
    /* an attacker's userName must not run as a spreadsheet formula */
    assert_string_equal(row("u", "{\"u\":\"=HYPERLINK(\\\"http://x\\\")\"}", &b),
                        "\"'=HYPERLINK(\"\"http://x\"\")\"\r\n");
    assert_string_equal(row("u", "{\"u\":\"+1\"}", &b), "\"'+1\"\r\n");
    assert_string_equal(row("u", "{\"u\":\"@SUM(A1)\"}", &b), "\"'@SUM(A1)\"\r\n");
    assert_string_equal(row("u", "{\"u\":\"a=b\"}", &b), "a=b\r\n");
    tk_buf_free(&b);
}

static void test_columns_are_checked(void **s)
{
    (void)s;
    tk_csv_cols_t c;
    char err[TK_ERRLEN];
    assert_int_equal(tk_csv_cols_parse(NULL, &c, err), 0);
    assert_string_equal(c.path[0], "eventTime");
    tk_buf_t b = TK_BUF_INIT;
    assert_int_equal(tk_csv_header(&c, &b), 0);
    assert_int_equal(strncmp(b.p, "eventTime,eventName,userIdentity.userName,", 42), 0);
    tk_buf_free(&b);
    tk_csv_cols_free(&c);
    tk_csv_cols_free(&c); /* twice, and on a zeroed struct: no-ops */
    const char *bad[] = {"a,,b", "a;b", ".a", "a.", "a..b", "a b", "x\"y"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (!strcmp(bad[i], "a,,b")) {
            /* an empty item between commas is skipped, not an error */
            assert_int_equal(tk_csv_cols_parse(bad[i], &c, err), 0);
            assert_int_equal(c.n, 2);
            tk_csv_cols_free(&c);
            continue;
        }
        assert_int_equal(tk_csv_cols_parse(bad[i], &c, err), TK_EINVAL);
        assert_non_null(strstr(err, "field path"));
    }
    char many[1024] = "";
    for (int i = 0; i < 65; i++)
        strcat(many, i ? ",c" : "c");
    assert_int_equal(tk_csv_cols_parse(many, &c, err), TK_EINVAL);
    assert_non_null(strstr(err, "at most 64"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cells_are_quoted_as_rfc4180_says),
        cmocka_unit_test(test_formula_cells_are_defused),
        cmocka_unit_test(test_columns_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

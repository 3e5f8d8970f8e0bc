/* Tests of the operator's policy on trail destinations (src/trail/dest.c,
 * dest_folder.c, dest_s3.c, dest_syslog.c): folder paths only under the
 * folder roots (default DATA/trail-folders), normalised, never the data
 * directory, no symbolic link below the root at create time nor at delivery
 * (a link planted after the trail was created); S3 endpoints and syslog
 * hosts under the egress policy when a trail is written and when opened. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/egress.h"
#include "base/fs.h"
#include "base/tk.h"
#include "trail/dest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char data[128], root[160], other[128], outside[128];
    char err[TK_ERRLEN];
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    strcpy(f->data, "/tmp/tk-dest-policy.XXXXXX");
    strcpy(f->other, "/tmp/tk-dest-root.XXXXXX");
    strcpy(f->outside, "/tmp/tk-dest-outside.XXXXXX");
    assert_non_null(mkdtemp(f->data));
    assert_non_null(mkdtemp(f->other));
    assert_non_null(mkdtemp(f->outside));
    snprintf(f->root, sizeof f->root, "%s/trail-folders", f->data);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    tk_fs_remove_tree(f->data);
    tk_fs_remove_tree(f->other);
    tk_fs_remove_tree(f->outside);
    free(f);
    tk_egress_set_allow_private(0);
    return 0;
}

static void expect_path(fx_t *f, const char *path, int want, const char *msg_part)
{
    f->err[0] = 0;
    int rc = tk_dest_folder_check_path(path, f->err);
    if (rc != want || (msg_part && !strstr(f->err, msg_part)))
        fail_msg("path '%s': %d '%s', expected %d with '%s'", path, rc, f->err, want,
                 msg_part ? msg_part : "");
}

static char *cat(const char *a, const char *b)
{
    static char buf[8][512];
    static int k;
    char *o = buf[k++ % 8];
    snprintf(o, 512, "%s%s", a, b);
    return o;
}

/* Must run first: nothing has configured the roots yet. */
static void test_folder_paths_are_refused_until_roots_are_set(void **state)
{
    fx_t *f = *state;
    expect_path(f, "/tmp/x", TK_EINVAL, "no folder root is configured");
}

static void test_folder_default_root_is_under_the_data_dir(void **state)
{
    fx_t *f = *state;
    assert_int_equal(tk_dest_folder_set_roots(f->data, NULL, 0, f->err), 0);
    struct stat st;
    assert_int_equal(stat(f->root, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    expect_path(f, cat(f->root, "/audit"), 0, NULL);
    expect_path(f, cat(f->root, "/a/b/c"), 0, NULL);
    expect_path(f, f->root, 0, NULL);
    expect_path(f, "/etc/cron.d", TK_EINVAL, "outside the folder roots");
    expect_path(f, "/etc/cron.d", TK_EINVAL, "--trail-folder-root");
    expect_path(f, "/", TK_EINVAL, "outside the folder roots");
    expect_path(f, f->data, TK_EINVAL, NULL);
    expect_path(f, cat(f->data, "/wal"), TK_EINVAL, NULL);
    expect_path(f, cat(f->root, "/../x"), TK_EINVAL, "not normalised");
    expect_path(f, cat(f->root, "/a/.."), TK_EINVAL, "not normalised");
    expect_path(f, cat(f->root, "/./a"), TK_EINVAL, "not normalised");
    expect_path(f, cat(f->root, "//a"), TK_EINVAL, "not normalised");
    expect_path(f, cat(f->root, "/a/"), TK_EINVAL, "not normalised");
    expect_path(f, cat(f->root, "/a\nb"), TK_EINVAL, "control character");
    expect_path(f, "trail-folders/a", TK_EINVAL, "absolute");
    expect_path(f, "", TK_EINVAL, "absolute");
    /* A prefix of the root's name is not inside it. */
    expect_path(f, cat(f->root, "-evil/a"), TK_EINVAL, "outside");
}

static void test_folder_symlink_below_the_root_is_refused_at_create(void **state)
{
    fx_t *f = *state;
    assert_int_equal(tk_dest_folder_set_roots(f->data, NULL, 0, f->err), 0);
    assert_int_equal(symlink(f->outside, cat(f->root, "/link")), 0);
    expect_path(f, cat(f->root, "/link"), TK_EINVAL, "symbolic link");
    expect_path(f, cat(f->root, "/link/deeper"), TK_EINVAL, "symbolic link");
    /* Even a link that stays inside the root: delivery never follows one. */
    assert_int_equal(mkdir(cat(f->root, "/real"), 0750), 0);
    assert_int_equal(symlink(cat(f->root, "/real"), cat(f->root, "/alias")), 0);
    expect_path(f, cat(f->root, "/alias/x"), TK_EINVAL, "symbolic link");
    assert_int_equal(tk_fs_write_atomic(cat(f->root, "/file"), "x", 1, f->err), 0);
    expect_path(f, cat(f->root, "/file/x"), TK_EINVAL, "not a directory");
    expect_path(f, cat(f->root, "/real/x"), 0, NULL);
}

static void test_folder_operator_roots_replace_the_default(void **state)
{
    fx_t *f = *state;
    const char *roots[] = {f->other};
    assert_int_equal(tk_dest_folder_set_roots(f->data, roots, 1, f->err), 0);
    expect_path(f, cat(f->other, "/audit"), 0, NULL);
    expect_path(f, cat(f->root, "/audit"), TK_EINVAL, "outside");
    expect_path(f, "/etc/cron.d", TK_EINVAL, "outside");
    /* Roots that are not usable. */
    const char *rel[] = {"relative/dir"};
    assert_int_equal(tk_dest_folder_set_roots(f->data, rel, 1, f->err), TK_EINVAL);
    const char *missing[] = {"/nonexistent/trailkeep/root"};
    assert_int_equal(tk_dest_folder_set_roots(f->data, missing, 1, f->err), TK_ENOTFOUND);
    const char *inside[] = {f->data};
    assert_int_equal(tk_dest_folder_set_roots(f->data, inside, 1, f->err), TK_EINVAL);
    assert_non_null(strstr(f->err, "data directory"));
    /* A failed call keeps the previous roots. */
    expect_path(f, cat(f->other, "/audit"), 0, NULL);
    /* A root named through a link: paths may use either spelling. */
    char alias[200];
    snprintf(alias, sizeof alias, "%s/alias-of-other", f->outside);
    assert_int_equal(symlink(f->other, alias), 0);
    const char *aliased[] = {alias};
    assert_int_equal(tk_dest_folder_set_roots(f->data, aliased, 1, f->err), 0);
    expect_path(f, cat(alias, "/audit"), 0, NULL);
    expect_path(f, cat(f->other, "/audit"), 0, NULL);
    expect_path(f, cat(f->outside, "/audit"), TK_EINVAL, "outside");
    char opts[512];
    snprintf(opts, sizeof opts, "{\"path\":\"%s/t\"}", alias);
    void *st = NULL;
    assert_int_equal(tk_dest_open(&tk_dest_folder, opts, &st, f->err), 0);
    assert_int_equal(tk_dest_folder.write_object(st, "k/a.gz", "x", 1, f->err), 0);
    tk_dest_folder.close(st);
    assert_int_equal(access(cat(f->other, "/t/k/a.gz"), F_OK), 0);
    /* A root above the data directory: the data directory stays refused. */
    const char *top[] = {"/"};
    assert_int_equal(tk_dest_folder_set_roots(f->data, top, 1, f->err), 0);
    expect_path(f, f->outside, 0, NULL);
    expect_path(f, f->data, TK_EINVAL, "data directory");
    expect_path(f, "/tmp", TK_EINVAL, "holds it");
    expect_path(f, "/", TK_EINVAL, "holds it");
    expect_path(f, cat(f->data, "/segments"), TK_EINVAL, "inside the data directory");
    expect_path(f, cat(f->root, "/ok"), 0, NULL);
}

static int exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

static void test_folder_delivery_never_follows_a_link_planted_later(void **state)
{
    fx_t *f = *state;
    assert_int_equal(tk_dest_folder_set_roots(f->data, NULL, 0, f->err), 0);
    char opts[512];
    snprintf(opts, sizeof opts, "{\"path\":\"%s/t1\"}", f->root);
    assert_int_equal(tk_dest_check(&tk_dest_folder, opts, f->err), 0);
    void *st = NULL;
    assert_int_equal(tk_dest_open(&tk_dest_folder, opts, &st, f->err), 0);
    assert_int_equal(tk_dest_folder.write_object(st, "AliyunLogs/a.gz", "abc", 3, f->err), 0);
    assert_true(exists(cat(f->root, "/t1/AliyunLogs/a.gz")));
    assert_false(exists(cat(f->root, "/t1/AliyunLogs/a.gz.tmp")));
    /* A key that leaves the folder. */
    assert_int_equal(tk_dest_folder.write_object(st, "../escape.gz", "x", 1, f->err), TK_EINVAL);
    assert_int_equal(tk_dest_folder.write_object(st, "/etc/x.gz", "x", 1, f->err), TK_EINVAL);
    /* Someone replaces a directory below the root by a link to elsewhere. */
    assert_int_equal(tk_fs_remove_tree(cat(f->root, "/t1/AliyunLogs")), 0);
    assert_int_equal(symlink(f->outside, cat(f->root, "/t1/AliyunLogs")), 0);
    assert_int_not_equal(tk_dest_folder.write_object(st, "AliyunLogs/b.gz", "abc", 3, f->err), 0);
    assert_non_null(strstr(f->err, "symbolic link"));
    assert_false(exists(cat(f->outside, "/b.gz")));
    /* ... or the trail's own folder. */
    assert_int_equal(unlink(cat(f->root, "/t1/AliyunLogs")), 0);
    assert_int_equal(tk_fs_remove_tree(cat(f->root, "/t1")), 0);
    assert_int_equal(symlink(f->outside, cat(f->root, "/t1")), 0);
    assert_int_not_equal(tk_dest_folder.write_object(st, "AliyunLogs/c.gz", "abc", 3, f->err), 0);
    assert_false(exists(cat(f->outside, "/AliyunLogs")));
    tk_dest_folder.close(st);
    /* Opening it again is refused at once. */
    st = NULL;
    assert_int_equal(tk_dest_open(&tk_dest_folder, opts, &st, f->err), TK_EINVAL);
    assert_null(st);
    /* A stored trail whose path left the roots (the operator changed them). */
    const char *roots[] = {f->other};
    assert_int_equal(tk_dest_folder_set_roots(f->data, roots, 1, f->err), 0);
    snprintf(opts, sizeof opts, "{\"path\":\"%s/t2\"}", f->root);
    assert_int_equal(tk_dest_open(&tk_dest_folder, opts, &st, f->err), TK_EINVAL);
    assert_non_null(strstr(f->err, "outside the folder roots"));
}

static void expect_dest(const tk_dest_t *d, const char *opts, int want, const char *msg_part)
{
    char err[TK_ERRLEN] = "";
    int rc = tk_dest_check(d, opts, err);
    if (rc != want || (msg_part && !strstr(err, msg_part)))
        fail_msg("%s %s: %d '%s', expected %d with '%s'", d->name, opts, rc, err, want,
                 msg_part ? msg_part : "");
}

static void test_s3_and_syslog_destinations_obey_the_egress_policy(void **state)
{
    (void)state;
    tk_egress_set_allow_private(0);
    expect_dest(&tk_dest_s3, "{}", 0, NULL); /* https://s3.amazonaws.com */
    expect_dest(&tk_dest_s3, "{\"endpoint\":\"https://oss-cn-hangzhou.aliyuncs.com\"}", 0, NULL);
    expect_dest(&tk_dest_s3, "{\"endpoint\":\"http://localhost:9000\"}", 0, NULL);
    expect_dest(&tk_dest_s3, "{\"endpoint\":\"http://169.254.169.254/\"}", TK_EINVAL, "metadata");
    expect_dest(&tk_dest_s3, "{\"endpoint\":\"file:///etc/passwd\"}", TK_EINVAL, "http://");
    expect_dest(&tk_dest_s3, "{\"endpoint\":\"gopher://127.0.0.1:6379/_x\"}", TK_EINVAL,
                "gopher");
    expect_dest(&tk_dest_s3, "{\"endpoint\":\"http://127.0.0.1:9000\"}", TK_EINVAL,
                "--allow-private-endpoints");
    expect_dest(&tk_dest_s3, "{\"endpoint\":\"http://10.0.0.8:9000\"}", TK_EINVAL, "private");
    expect_dest(&tk_dest_syslog, "{\"host\":\"127.0.0.1\"}", TK_EINVAL, "Dest.host");
    expect_dest(&tk_dest_syslog, "{\"host\":\"169.254.169.254\"}", TK_EINVAL, "metadata");
    expect_dest(&tk_dest_syslog, "{\"host\":\"logs.example.com\"}", 0, NULL);
    tk_egress_set_allow_private(1);
    expect_dest(&tk_dest_s3, "{\"endpoint\":\"http://127.0.0.1:9000\"}", 0, NULL);
    expect_dest(&tk_dest_s3, "{\"endpoint\":\"http://10.0.0.8:9000\"}", 0, NULL);
    expect_dest(&tk_dest_s3, "{\"endpoint\":\"http://169.254.169.254/\"}", TK_EINVAL, "never");
    expect_dest(&tk_dest_s3, "{\"endpoint\":\"http://[fd00:ec2::254]/\"}", TK_EINVAL, "metadata");
    expect_dest(&tk_dest_syslog, "{\"host\":\"127.0.0.1\"}", 0, NULL);
    expect_dest(&tk_dest_syslog, "{\"host\":\"fe80::1\"}", TK_EINVAL, "link-local");
    /* Opening re-checks (a row stored before the policy, or under another). */
    tk_egress_set_allow_private(0);
    void *st = NULL;
    char err[TK_ERRLEN];
    assert_int_equal(tk_dest_open(&tk_dest_syslog, "{\"host\":\"127.0.0.1\"}", &st, err),
                     TK_EINVAL);
    assert_null(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_folder_paths_are_refused_until_roots_are_set, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_folder_default_root_is_under_the_data_dir, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_folder_symlink_below_the_root_is_refused_at_create,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_folder_operator_roots_replace_the_default, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_folder_delivery_never_follows_a_link_planted_later,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_s3_and_syslog_destinations_obey_the_egress_policy,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

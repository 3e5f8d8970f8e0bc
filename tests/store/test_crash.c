/* Crash safety: a child process appends batches (and seals, small seal size)
 * and reports every acknowledged batch to the parent through a pipe; the
 * parent kill -9's it at a random moment, reopens the store and checks that
 * every acknowledged event is present exactly once, no event is duplicated,
 * seqs are unique, and verify finds nothing wrong. Repeated many times on
 * the same store so later rounds also replay after earlier crashes. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store_testlib.h"

#define ROUNDS 40
#define T0 (20412LL * TK_MS_PER_DAY)

static int batch_size(uint32_t b) { return 1 + (int)(b % 9); }

static void batch_id(char *out, size_t n, int round, uint32_t b, int k)
{
    snprintf(out, n, "r%d-b%u-%d", round, b, k);
}

static void child(const char *dir, int round, int wfd)
{
    tk_store_opts_t o = {.dir = dir, .seal_bytes = 24 * 1024, .no_fsync = 1};
    tk_store_t *s;
    char err[TK_ERRLEN];
    if (tk_store_open(&o, &s, err)) {
        fprintf(stderr, "child open: %s\n", err);
        _exit(3);
    }
    uint64_t r = (uint64_t)round * 1315423911u + 7;
    for (uint32_t b = 0;; b++) {
        int n = batch_size(b);
        tev_t e[9];
        tk_event_t ev[9];
        for (int k = 0; k < n; k++) {
            char id[48];
            batch_id(id, sizeof id, round, b, k);
            /* spread over 3 days so seals write several partitions */
            tev_make(&e[k], k % 2 ? "1001" : "1002", id,
                     T0 + (int64_t)rng_below(&r, 3u * 86400000u), &r, 700);
            ev[k] = tev_event(&e[k]);
        }
        tk_append_result_t res;
        int rc = tk_store_append(s, ev, (size_t)n, &res, NULL, err);
        for (int k = 0; k < n; k++)
            tev_free(&e[k]);
        if (rc) {
            fprintf(stderr, "child append: %s\n", err);
            _exit(4);
        }
        if (write(wfd, &b, sizeof b) != (ssize_t)sizeof b)
            _exit(5);
        if (b % 23 == 22 && tk_store_seal(s, err))
            _exit(6);
    }
}

typedef struct idset {
    char **ids;
    size_t n, cap;
} idset_t;

static int collect(void *ud, const tk_stored_event_t *ev)
{
    idset_t *s = ud;
    const char *p = memmem(ev->json.p, ev->json.len, "\"eventId\":\"", 11);
    if (!p)
        return -1;
    p += 11;
    const char *q = memchr(p, '"', ev->json.len - (size_t)(p - ev->json.p));
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->ids = realloc(s->ids, s->cap * sizeof *s->ids);
    }
    s->ids[s->n++] = strndup(p, (size_t)(q - p));
    return 0;
}

static int strp_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void vcb(void *ud, const tk_verify_item_t *it)
{
    (void)ud;
    fprintf(stderr, "# verify: %s %d %s\n", it->path, (int)it->status, it->detail);
}

static void test_kill9_never_loses_acknowledged_events(void **st)
{
    (void)st;
    char *dir = tmpdir_make();
    uint64_t r = (uint64_t)time(NULL);
    fprintf(stderr, "# crash test seed %llu\n", (unsigned long long)r);
    size_t total_acked = 0;
    char **acked = NULL;
    size_t nacked = 0, capacked = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(pfd[0]);
            child(dir, round, pfd[1]);
            _exit(0);
        }
        close(pfd[1]);
        /* let it run 5..120 ms (the first acks mean the open/replay is done) */
        struct timespec ts = {0, (long)(5 + rng_below(&r, 115)) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        uint32_t b;
        while (read(pfd[0], &b, sizeof b) == (ssize_t)sizeof b) {
            for (int k = 0; k < batch_size(b); k++) {
                char id[48];
                batch_id(id, sizeof id, round, b, k);
                if (nacked == capacked) {
                    capacked = capacked ? capacked * 2 : 1024;
                    acked = realloc(acked, capacked * sizeof *acked);
                }
                acked[nacked++] = strdup(id);
                total_acked++;
            }
        }
        close(pfd[0]);
        /* reopen as the next writer would, and check */
        tk_store_opts_t o = {.dir = dir, .no_fsync = 1};
        tk_store_t *s;
        char err[TK_ERRLEN];
        int rc = tk_store_open(&o, &s, err);
        if (rc)
            fprintf(stderr, "# reopen: %s\n", err);
        assert_int_equal(rc, 0);
        idset_t got = {0};
        assert_int_equal(tk_store_scan(s, "1001", 1, collect, &got, err), 0);
        assert_int_equal(tk_store_scan(s, "1002", 1, collect, &got, err), 0);
        qsort(got.ids, got.n, sizeof *got.ids, strp_cmp);
        for (size_t i = 1; i < got.n; i++)
            if (!strcmp(got.ids[i], got.ids[i - 1])) {
                fprintf(stderr, "# duplicate %s\n", got.ids[i]);
                fail();
            }
        for (size_t i = 0; i < nacked; i++) {
            if (!bsearch(&acked[i], got.ids, got.n, sizeof *got.ids, strp_cmp)) {
                fprintf(stderr, "# lost acknowledged event %s (round %d)\n", acked[i], round);
                fail();
            }
        }
        assert_true(got.n >= nacked);
        tk_store_stats_t stt;
        tk_store_stats(s, &stt);
        assert_int_equal(stt.events, got.n);
        tk_verify_summary_t sum;
        assert_int_equal(tk_store_verify(s, NULL, vcb, NULL, &sum, err), 0);
        assert_int_equal(sum.problems, 0);
        for (size_t i = 0; i < got.n; i++)
            free(got.ids[i]);
        free(got.ids);
        tk_store_close(s);
    }
    fprintf(stderr, "# %zu acknowledged events over %d kills\n", total_acked, ROUNDS);
    assert_true(total_acked > 0);
    for (size_t i = 0; i < nacked; i++)
        free(acked[i]);
    free(acked);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_never_loses_acknowledged_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

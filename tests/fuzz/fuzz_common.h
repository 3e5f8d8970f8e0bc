/* Helpers shared by the libFuzzer targets in tests/fuzz (docs/fuzzing.md):
 * an invariant check that aborts with a message (libFuzzer then saves the
 * input as crash-*), NUL-terminated copies of inputs, a per-process scratch
 * directory (removed at exit) and a few canned events for rule evaluation.
 * Targets never write outside that directory. */
#ifndef TK_FUZZ_COMMON_H
#define TK_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Aborts (a libFuzzer crash) when cond is false, naming the invariant. */
#define FZ_ASSERT(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "\nfuzz invariant failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Owned NUL-terminated copy of data[0..n) (free()); aborts on ENOMEM. */
char *fz_strndup(const uint8_t *data, size_t n);

/* A scratch directory private to this process (under $TMPDIR, else /dev/shm,
 * else /tmp), created on first use and removed with its contents at exit. */
const char *fz_scratch(void);
/* Removes path and everything below it; 0 or -1. */
int fz_rmtree(const char *path);
/* Writes data[0..n) to path (creating parent directories); 0 or -1. */
int fz_write_file(const char *path, const void *data, size_t n);

/* Small ActionTrail and CloudTrail events (JSON objects) for evaluating rules. */
extern const char *const fz_events[];
extern const size_t fz_nevents;

/* Splits data[0..n) at the first occurrence of sep: *head gets the part
 * before it (owned, NUL-terminated), the rest continues after it. Returns
 * the rest's length, or 0 (and the whole input in *head) without sep. */
size_t fz_split(const uint8_t **data, size_t *n, char sep, char **head);

#endif

/* bench: the lookup query set and latency statistics shared (header-only, no
 * trailkeep code) by bench/bench_lookup.c and bench/peers/sqlite_lookup.c, so
 * both systems run the very same queries and report the very same way.
 * Query file: one query per line, tab-separated:
 *   attr (EventName|User|ResourceName|EventAccessKeyId) window (1d|30d)
 *   account value start_ms end_ms */
#ifndef BX_QSET_H
#define BX_QSET_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct bx_query {
    char attr[24], window[8];
    char *account, *value;
    int64_t start_ms, end_ms;
    double us;       /* latency: median of the timed passes */
    double run[3];   /* one latency per timed pass */
    unsigned nres;   /* results returned */
} bx_query;

typedef struct bx_qset {
    bx_query *q;
    size_t n;
} bx_qset;

/* Passes over the whole query set: the first warms caches and is not
 * counted; each query's latency is the median of the other BX_TIMED, which
 * filters out a preemption by another process on a shared machine without
 * hiding a query that is slow every time. */
#define BX_PASSES 4
#define BX_TIMED (BX_PASSES - 1)

/* Records pass `pass` (0 = warm-up) of q; after the last pass q->us is set. */
static inline void bx_query_time(bx_query *q, int pass, double us)
{
    if (pass == 0)
        return;
    q->run[pass - 1] = us;
    if (pass == BX_PASSES - 1) {
        double a = q->run[0], b = q->run[1], c = q->run[2];
        q->us = a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
    }
}

static inline double bx_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Loads path into qs (owned: bx_qset_free). 0, or -1 with a message on stderr. */
static inline int bx_qset_load(const char *path, bx_qset *qs)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    char line[8192];
    size_t cap = 0;
    qs->q = NULL;
    qs->n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *fld[6];
        char *s = line;
        int k = 0;
        for (; k < 6; k++) {
            fld[k] = s;
            char *t = strchr(s, '\t');
            if (!t) {
                k++;
                break;
            }
            *t = 0;
            s = t + 1;
        }
        if (k != 6) {
            fprintf(stderr, "%s: malformed query line %zu\n", path, qs->n + 1);
            fclose(f);
            return -1;
        }
        if (qs->n == cap) {
            cap = cap ? cap * 2 : 1024;
            bx_query *nq = realloc(qs->q, cap * sizeof *nq);
            if (!nq) {
                fclose(f);
                return -1;
            }
            qs->q = nq;
        }
        bx_query *q = &qs->q[qs->n++];
        memset(q, 0, sizeof *q);
        snprintf(q->attr, sizeof q->attr, "%s", fld[0]);
        snprintf(q->window, sizeof q->window, "%s", fld[1]);
        q->account = strdup(fld[2]);
        q->value = strdup(fld[3]);
        q->start_ms = strtoll(fld[4], NULL, 10);
        q->end_ms = strtoll(fld[5], NULL, 10);
    }
    fclose(f);
    return 0;
}

static inline void bx_qset_free(bx_qset *qs)
{
    for (size_t i = 0; i < qs->n; i++) {
        free(qs->q[i].account);
        free(qs->q[i].value);
    }
    free(qs->q);
    qs->q = NULL;
    qs->n = 0;
}

static inline int bx_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static inline double bx_pct(const double *v, size_t n, double pct)
{
    if (!n)
        return 0;
    size_t rank = (size_t)(pct / 100.0 * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

/* Prints {"system":..., "groups":[{attr, window, n, p50_us, p99_us, mean_us,
 * max_us, avg_results, total_results}...]} for every (attr, window) present,
 * in first-seen order, plus `extra` (a JSON fragment like "\"k\":1," or ""). */
static inline void bx_qset_report(FILE *out, const char *system, const char *extra,
                                  const bx_qset *qs)
{
    fprintf(out, "{\"system\":\"%s\",%s\"groups\":[", system, extra);
    double *v = malloc((qs->n ? qs->n : 1) * sizeof *v);
    char *done = calloc(qs->n ? qs->n : 1, 1);
    int first = 1;
    for (size_t i = 0; v && done && i < qs->n; i++) {
        if (done[i])
            continue;
        size_t m = 0;
        double sum = 0;
        uint64_t res = 0;
        for (size_t j = i; j < qs->n; j++) {
            if (strcmp(qs->q[j].attr, qs->q[i].attr) || strcmp(qs->q[j].window, qs->q[i].window))
                continue;
            done[j] = 1;
            v[m++] = qs->q[j].us;
            sum += qs->q[j].us;
            res += qs->q[j].nres;
        }
        qsort(v, m, sizeof *v, bx_cmp_double);
        fprintf(out,
                "%s{\"attr\":\"%s\",\"window\":\"%s\",\"n\":%zu,\"p50_us\":%.1f,\"p99_us\":%.1f,"
                "\"mean_us\":%.1f,\"max_us\":%.1f,\"avg_results\":%.2f,\"total_results\":%llu}",
                first ? "" : ",", qs->q[i].attr, qs->q[i].window, m, bx_pct(v, m, 50),
                bx_pct(v, m, 99), sum / (double)m, v[m - 1], (double)res / (double)m,
                (unsigned long long)res);
        first = 0;
    }
    fprintf(out, "]}\n");
    free(v);
    free(done);
}

/* Writes one line per query: its result count (to compare systems). */
static inline int bx_qset_write_counts(const char *path, const bx_qset *qs)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    for (size_t i = 0; i < qs->n; i++)
        fprintf(f, "%u\n", qs->q[i].nres);
    return fclose(f) ? -1 : 0;
}

#endif

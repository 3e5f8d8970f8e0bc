/* bench peer: LookupEvents on SQLite, and the query set both systems run.
 *   sqlite_lookup pick DB OUT.tsv N SEED
 *     draws N queries per (attribute, window) from the loaded events: a random
 *     event inside the window gives (account, value), so every query has at
 *     least one hit; windows end at the newest event: 1d and 30d back.
 *   sqlite_lookup run DB QUERIES.tsv [COUNTS_OUT]
 *     one untimed warm-up pass, then three timed passes (per query the median
 *     counts, see qset.h), each query timed alone: newest 50 by
 *     (account, attribute = value, time in window), prepared statements, the
 *     JSON of each row copied out. Prints the qset.h report on stdout. */
#include "qset.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define LIMIT 50

static const struct {
    const char *attr, *col;
} attrs[] = {
    {"EventName", "event_name"},
    {"User", "user_name"},
    {"ResourceName", "resource_name"},
    {"EventAccessKeyId", "access_key_id"},
};
#define NATTRS (int)(sizeof attrs / sizeof attrs[0])

static uint64_t rng_state;
static uint64_t rng(void)
{
    /* splitmix64: deterministic for a seed, good enough to pick rows */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int fail(sqlite3 *db, const char *what)
{
    fprintf(stderr, "sqlite_lookup: %s: %s\n", what, sqlite3_errmsg(db));
    return 1;
}

static int pick(sqlite3 *db, const char *out_path, long n, uint64_t seed)
{
    sqlite3_stmt *st;
    int64_t tmax = 0, maxid = 0;
    if (sqlite3_prepare_v2(db, "SELECT max(time), max(id) FROM events", -1, &st, NULL) ||
        sqlite3_step(st) != SQLITE_ROW)
        return fail(db, "reading the time range");
    tmax = sqlite3_column_int64(st, 0);
    maxid = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    if (maxid <= 0) {
        fprintf(stderr, "sqlite_lookup: the database holds no events\n");
        return 1;
    }
    FILE *out = fopen(out_path, "w");
    if (!out) {
        perror(out_path);
        return 1;
    }
    rng_state = seed;
    static const struct { const char *name; int64_t ms; } windows[] = {{"1d", DAY_MS},
                                                                       {"30d", 30 * DAY_MS}};
    for (int w = 0; w < 2; w++) {
        int64_t start = tmax - windows[w].ms + 1;
        for (int a = 0; a < NATTRS; a++) {
            char sql[256];
            snprintf(sql, sizeof sql, "SELECT account, %s, time FROM events WHERE id = ?",
                     attrs[a].col);
            if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
                return fail(db, sql);
            long got = 0, tries = 0, max_tries = n * 1000;
            while (got < n && tries++ < max_tries) {
                sqlite3_bind_int64(st, 1, 1 + (int64_t)(rng() % (uint64_t)maxid));
                if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 2) >= start) {
                    const char *acct = (const char *)sqlite3_column_text(st, 0);
                    const char *val = (const char *)sqlite3_column_text(st, 1);
                    /* ResourceName: only single names, since SQLite matches the
                     * flattened column exactly while trailkeep indexes each name. */
                    if (acct && val && *val && !strpbrk(val, "\t\n\r") &&
                        (strcmp(attrs[a].attr, "ResourceName") || !strpbrk(val, ";,"))) {
                        fprintf(out, "%s\t%s\t%s\t%s\t%lld\t%lld\n", attrs[a].attr,
                                windows[w].name, acct, val, (long long)start, (long long)tmax);
                        got++;
                    }
                }
                sqlite3_reset(st);
            }
            sqlite3_finalize(st);
            if (got < n)
                fprintf(stderr, "sqlite_lookup: only %ld of %ld %s queries for the %s window\n",
                        got, n, attrs[a].attr, windows[w].name);
        }
    }
    return fclose(out) ? 1 : 0;
}

static int run(sqlite3 *db, const char *qpath, const char *counts)
{
    bx_qset qs;
    if (bx_qset_load(qpath, &qs))
        return 1;
    sqlite3_stmt *st[NATTRS] = {0};
    for (int a = 0; a < NATTRS; a++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT json FROM events WHERE account = ?1 AND %s = ?2 AND time BETWEEN ?3 AND ?4"
                 " ORDER BY time DESC LIMIT %d",
                 attrs[a].col, LIMIT);
        if (sqlite3_prepare_v2(db, sql, -1, &st[a], NULL))
            return fail(db, sql);
    }
    size_t bufcap = 1 << 20, buflen;
    char *buf = malloc(bufcap);
    for (int pass = 0; pass < BX_PASSES; pass++) {
        for (size_t i = 0; i < qs.n; i++) {
            bx_query *q = &qs.q[i];
            int a = 0;
            while (a < NATTRS && strcmp(attrs[a].attr, q->attr))
                a++;
            if (a == NATTRS) {
                fprintf(stderr, "sqlite_lookup: unknown attribute %s\n", q->attr);
                return 1;
            }
            double t0 = bx_now_us();
            sqlite3_stmt *s = st[a];
            sqlite3_bind_text(s, 1, q->account, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 2, q->value, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 3, q->start_ms);
            sqlite3_bind_int64(s, 4, q->end_ms);
            unsigned nres = 0;
            buflen = 0;
            int rc;
            while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                const void *j = sqlite3_column_blob(s, 0);
                size_t jn = (size_t)sqlite3_column_bytes(s, 0);
                if (buflen + jn > bufcap) {
                    bufcap = (buflen + jn) * 2;
                    buf = realloc(buf, bufcap);
                }
                memcpy(buf + buflen, j, jn);
                buflen += jn;
                nres++;
            }
            if (rc != SQLITE_DONE)
                return fail(db, "lookup");
            sqlite3_reset(s);
            bx_query_time(q, pass, bx_now_us() - t0);
            q->nres = nres;
        }
    }
    bx_qset_report(stdout, "sqlite", "", &qs);
    if (counts && bx_qset_write_counts(counts, &qs))
        return 1;
    for (int a = 0; a < NATTRS; a++)
        sqlite3_finalize(st[a]);
    free(buf);
    bx_qset_free(&qs);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[1], "pick") && strcmp(argv[1], "run")) ||
        (!strcmp(argv[1], "pick") && argc != 6)) {
        fprintf(stderr, "usage: sqlite_lookup pick DB OUT.tsv N SEED\n"
                        "       sqlite_lookup run DB QUERIES.tsv [COUNTS_OUT]\n");
        return 2;
    }
    sqlite3 *db;
    if (sqlite3_open_v2(argv[2], &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return fail(db, argv[2]);
    sqlite3_exec(db, "PRAGMA cache_size=-262144", NULL, NULL, NULL);
    int rc = !strcmp(argv[1], "pick")
                 ? pick(db, argv[3], atol(argv[4]), strtoull(argv[5], NULL, 10))
                 : run(db, argv[3], argc > 4 ? argv[4] : NULL);
    sqlite3_close(db);
    return rc;
}

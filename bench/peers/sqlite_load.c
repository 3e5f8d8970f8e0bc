/* bench peer: loads JSON Lines of ActionTrail events into SQLite the way a
 * careful user would: WAL mode, synchronous=NORMAL, one transaction per 10k
 * rows, a column per lookup attribute plus time, account and the JSON, and the
 * same lookup indexes trailkeep keeps. Columns come from simdjson (extract.h).
 * Timed: open file -> read -> parse -> extract -> insert -> last COMMIT.
 * Prints one JSON object with the figures on stdout.
 * usage: sqlite_load [--index-after] FILE.jsonl DB [cache_mib]
 * --index-after creates the indexes once the rows are in (timed too): the
 * quickest way to get a big lookup database, used by the 10M run, whose
 * figure is lookup latency, not import speed. */
#include "extract.h"
#include "lines.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define TXN_ROWS 10000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "sqlite_load: %s: %s\n", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* The schema, shared with sqlite_lookup.c by convention (column names from
 * bx_col_names). Indexes: dedup on (account, event_id) like trailkeep's
 * idempotent import, and (account, <attr>, time) for the looked-up attributes. */
static const char *const schema[] = {
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "CREATE TABLE events(id INTEGER PRIMARY KEY, time INTEGER NOT NULL, account TEXT NOT NULL,"
    " event_id TEXT NOT NULL, service_name TEXT, event_name TEXT, user_name TEXT,"
    " resource_type TEXT, resource_name TEXT, event_rw TEXT, access_key_id TEXT, source_ip TEXT,"
    " event_type TEXT, role_name TEXT, event_source TEXT, sensitive INTEGER, json TEXT NOT NULL)",
};
static const char *const indexes[] = {
    "CREATE UNIQUE INDEX ev_id ON events(account, event_id)",
    "CREATE INDEX ev_name ON events(account, event_name, time)",
    "CREATE INDEX ev_user ON events(account, user_name, time)",
    "CREATE INDEX ev_res ON events(account, resource_name, time)",
    "CREATE INDEX ev_ak ON events(account, access_key_id, time)",
    "CREATE INDEX ev_time ON events(account, time)",
};
#define NINDEXES (sizeof indexes / sizeof indexes[0])

int main(int argc, char **argv)
{
    int index_after = argc > 1 && !strcmp(argv[1], "--index-after");
    argc -= index_after;
    argv += index_after;
    if (argc < 3) {
        fprintf(stderr, "usage: sqlite_load [--index-after] FILE.jsonl DB [cache_mib]\n");
        return 2;
    }
    const char *path = argv[1], *dbpath = argv[2];
    long cache_mib = argc > 3 ? atol(argv[3]) : 256;
    int rc = 1;
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL;
    bx_parser *p = bx_parser_new();
    bx_lines *in = NULL;
    if (!p) {
        fprintf(stderr, "sqlite_load: out of memory\n");
        return 1;
    }
    remove(dbpath);
    char wal[4096];
    snprintf(wal, sizeof wal, "%s-wal", dbpath);
    remove(wal);
    if (sqlite3_open(dbpath, &db) != SQLITE_OK) {
        fprintf(stderr, "sqlite_load: cannot open %s: %s\n", dbpath, sqlite3_errmsg(db));
        goto out;
    }
    for (size_t i = 0; i < sizeof schema / sizeof schema[0]; i++)
        if (exec(db, schema[i]))
            goto out;
    for (size_t i = 0; !index_after && i < NINDEXES; i++)
        if (exec(db, indexes[i]))
            goto out;
    char sql[512];
    snprintf(sql, sizeof sql, "PRAGMA cache_size=-%ld", cache_mib * 1024);
    if (exec(db, sql))
        goto out;
    const char *ins_sql =
        "INSERT OR IGNORE INTO events(time, account, event_id, service_name, event_name,"
        " user_name, resource_type, resource_name, event_rw, access_key_id, source_ip, event_type,"
        " role_name, event_source, sensitive, json) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    if (sqlite3_prepare_v2(db, ins_sql, -1, &ins, NULL) != SQLITE_OK) {
        fprintf(stderr, "sqlite_load: prepare: %s\n", sqlite3_errmsg(db));
        goto out;
    }

    double t0 = now_s();
    in = bx_lines_open(path, bx_padding());
    if (!in) {
        fprintf(stderr, "sqlite_load: cannot read %s: %s\n", path, strerror(errno));
        goto out;
    }
    uint64_t rows = 0, rejected = 0, inserted = 0, bytes = 0;
    const char *line;
    size_t len;
    int r;
    char err[256];
    bx_row row;
    if (exec(db, "BEGIN"))
        goto out;
    while ((r = bx_lines_next(in, &line, &len)) == 1) {
        bytes += len + 1;
        if (bx_extract(p, line, len, &row, err)) {
            if (rejected++ < 5)
                fprintf(stderr, "sqlite_load: %s:%llu: %s\n", path,
                        (unsigned long long)bx_lines_lineno(in), err);
            continue;
        }
        sqlite3_bind_int64(ins, 1, row.time_ms);
        for (int c = 0; c < BX_NCOLS; c++)
            sqlite3_bind_text(ins, 2 + c, row.col[c].p, (int)row.col[c].n, SQLITE_STATIC);
        sqlite3_bind_int(ins, 2 + BX_NCOLS, row.sensitive);
        sqlite3_bind_text(ins, 3 + BX_NCOLS, line, (int)len, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            fprintf(stderr, "sqlite_load: insert: %s\n", sqlite3_errmsg(db));
            goto out;
        }
        inserted += (uint64_t)sqlite3_changes(db);
        sqlite3_reset(ins);
        if (++rows % TXN_ROWS == 0 && (exec(db, "COMMIT") || exec(db, "BEGIN")))
            goto out;
    }
    if (r < 0) {
        fprintf(stderr, "sqlite_load: reading %s: %s\n", path, strerror(errno));
        goto out;
    }
    if (exec(db, "COMMIT"))
        goto out;
    for (size_t i = 0; index_after && i < NINDEXES; i++)
        if (exec(db, indexes[i]))
            goto out;
    double t1 = now_s();
    /* Untimed: fold the WAL into the database so its size is the steady state. */
    if (exec(db, "PRAGMA wal_checkpoint(TRUNCATE)"))
        goto out;
    double t2 = now_s();
    sqlite3_finalize(ins);
    ins = NULL;
    sqlite3_close(db);
    db = NULL;
    struct stat st;
    uint64_t dbbytes = stat(dbpath, &st) == 0 ? (uint64_t)st.st_size : 0;
    uint64_t walbytes = stat(wal, &st) == 0 ? (uint64_t)st.st_size : 0;
    printf("{\"system\":\"sqlite\",\"sqlite_version\":\"%s\",\"parser\":\"simdjson DOM\","
           "\"events\":%llu,\"inserted\":%llu,\"rejected\":%llu,\"input_bytes\":%llu,"
           "\"seconds\":%.3f,\"events_per_s\":%.0f,\"checkpoint_seconds\":%.3f,"
           "\"disk_bytes\":%llu,\"wal_bytes\":%llu,\"cache_mib\":%ld,\"index_after\":%d}\n",
           sqlite3_libversion(), (unsigned long long)rows, (unsigned long long)inserted,
           (unsigned long long)rejected, (unsigned long long)bytes, t1 - t0,
           (double)rows / (t1 - t0), t2 - t1, (unsigned long long)(dbbytes + walbytes),
           (unsigned long long)walbytes, cache_mib, index_after);
    rc = rows ? 0 : 1;
    if (!rows)
        fprintf(stderr, "sqlite_load: no events loaded from %s\n", path);
out:
    sqlite3_finalize(ins);
    sqlite3_close(db);
    bx_lines_close(in);
    bx_parser_free(p);
    return rc;
}

/* Seed generator for the store fuzz target (not a fuzz target itself):
 * writes real WAL and segment files into OUTDIR, each prefixed with the
 * target's mode byte (fuzz_store.c): a WAL of small frames, a WAL with
 * one zstd-compressed frame, and the segment files a seal of those events
 * writes. Usage: seed_store OUTDIR. Deterministic apart from event ids. */
#include "base/fs.h"
#include "base/tk.h"
#include "event/parse.h"
#include "fuzz_common.h"
#include "store/store.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void emit(const char *outdir, const char *name, int mode, const char *path)
{
    char *data;
    size_t len;
    char err[TK_ERRLEN];
    if (tk_fs_read_all(path, &data, &len, err)) {
        fprintf(stderr, "seed_store: %s\n", err);
        exit(1);
    }
    char out[1200];
    snprintf(out, sizeof out, "%s/%s", outdir, name);
    char *b = malloc(len + 1);
    b[0] = (char)mode;
    memcpy(b + 1, data, len);
    if (fz_write_file(out, b, len + 1)) {
        fprintf(stderr, "seed_store: cannot write %s\n", out);
        exit(1);
    }
    free(b);
    free(data);
}

/* The first file under dir/sub (recursively) with the suffix; path filled. */
static int find(const char *dir, const char *suffix, char *path, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int rc = -1;
    while (rc && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        size_t l = strlen(e->d_name), sl = strlen(suffix);
        if (l > sl && !strcmp(e->d_name + l - sl, suffix)) {
            snprintf(path, cap, "%s", p);
            rc = 0;
        } else {
            rc = find(p, suffix, path, cap);
        }
    }
    closedir(d);
    return rc;
}

static void store_events(const char *dir, int copies, int per_append)
{
    tk_store_opts_t o = {.dir = dir, .no_fsync = 1, .seal_bytes = 1 << 30};
    tk_store_t *s;
    char err[TK_ERRLEN];
    if (tk_store_open(&o, &s, err)) {
        fprintf(stderr, "seed_store: %s\n", err);
        exit(1);
    }
    tk_batch_t *b = tk_batch_create();
    for (int c = 0; c < copies; c++) {
        tk_batch_reset(b);
        for (int k = 0; k < per_append; k++) {
            tk_parse_opts_t po = {.format = TK_FMT_AUTO};
            const char *ev = fz_events[(size_t)(c + k) % fz_nevents];
            if (tk_event_parse(b, ev, strlen(ev), &po, err)) {
                fprintf(stderr, "seed_store: %s\n", err);
                exit(1);
            }
        }
        tk_append_result_t res;
        if (tk_store_append(s, tk_batch_events(b), tk_batch_count(b), &res, NULL, err)) {
            fprintf(stderr, "seed_store: %s\n", err);
            exit(1);
        }
    }
    tk_batch_destroy(b);
    tk_store_close(s);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seed_store OUTDIR\n");
        return 2;
    }
    char dir[600], path[1024];
    snprintf(dir, sizeof dir, "%s/small", fz_scratch());
    store_events(dir, 3, 1);
    char wd[700];
    snprintf(wd, sizeof wd, "%s/wal", dir);
    if (find(wd, ".wal", path, sizeof path) == 0) {
        emit(argv[1], "wal-small", 0, path);
        emit(argv[1], "wal-small-fix", 2, path);
        emit(argv[1], "wal-small-append", 6, path);
    }
    snprintf(dir, sizeof dir, "%s/big", fz_scratch());
    store_events(dir, 2, 40);
    snprintf(wd, sizeof wd, "%s/wal", dir);
    if (find(wd, ".wal", path, sizeof path) == 0)
        emit(argv[1], "wal-zstd-fix", 2, path);
    /* seal the first store: segments */
    snprintf(dir, sizeof dir, "%s/small", fz_scratch());
    tk_store_opts_t o = {.dir = dir, .no_fsync = 1};
    tk_store_t *s;
    char err[TK_ERRLEN];
    if (tk_store_open(&o, &s, err) || tk_store_seal(s, err)) {
        fprintf(stderr, "seed_store: %s\n", err);
        return 1;
    }
    tk_store_close(s);
    snprintf(wd, sizeof wd, "%s/seg", dir);
    if (find(wd, ".seg", path, sizeof path) == 0) {
        emit(argv[1], "seg-small", 1, path);
        emit(argv[1], "seg-small-fix", 3, path);
        emit(argv[1], "seg-small-fix-append", 7, path);
    }
    return 0;
}

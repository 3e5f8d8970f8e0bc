/* trailkeep import: bulk-loads ActionTrail / CloudTrail / JSON Lines files
 * and folders (.gz too) into the store, in batches of a few thousand events
 * (one WAL fsync each). Resumable: a file is written to DIR/import-state only
 * after all of its events are durable, so a re-run skips finished files and
 * re-reads an interrupted one (and one with rejects), whose already-stored
 * events the store's dedup on (account, eventId) turns into duplicates. */
#define _GNU_SOURCE
#include "cli/cli.h"
#include "cli/util.h"

#include "base/buf.h"
#include "base/fs.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "event/parse.h"
#include "event/source.h"
#include "meta/meta.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK_BYTES (8u << 20)  /* JSON Lines are parsed in pieces this big */
#define DEFAULT_BATCH 4096
#define SHOW_REJECTS 20

static void usage(FILE *f)
{
    fprintf(f,
"usage: trailkeep import [options] PATH...\n"
"\n"
"Loads audit events from files and folders into the store. A PATH is a file or a\n"
"folder; folders are read recursively (files ending in .json, .jsonl, .ndjson or\n"
".gz; hidden files and CloudTrail-Digest folders are skipped). Gzip is detected\n"
"by content. Formats: ActionTrail (JSON array or JSON Lines), CloudTrail\n"
"({\"Records\":[...]} or a bare array of records), JSON Lines of either.\n"
"\n"
"options:\n"
"  --data DIR         data directory (default: $TRAILKEEP_DATA or ./data)\n"
"  --account ID       account for events without recipientAccountId (default: none,\n"
"                     such events are rejected as MissingField)\n"
"  --format F         auto | actiontrail | cloudtrail | jsonl (default: auto, sniffed\n"
"                     per file)\n"
"  --batch N          events per store append, one fsync each (default: %d)\n"
"  --max-future-skew SECS  reject events timed later than now + SECS as\n"
"                     EventTimeInFuture (default 86400 = 1 day; 0 = accept any)\n"
"  --rejects FILE     write every rejected event as JSON Lines to FILE\n"
"                     ({\"file\",\"line\",\"index\",\"code\",\"field\",\"message\"})\n"
"  --dry-run, -n      parse and report only: nothing is stored, the state is not used\n"
"  --force            re-read files already imported (the state in DIR/import-state\n"
"                     is otherwise used to skip them); duplicates are still not stored\n"
"  --output F         text | json: the final summary as text (default) or one JSON object\n"
"  --quiet            no progress bar and no summary; rejects still go to stderr\n"
"  -h, --help         this help\n"
"\n"
"Progress (files, events, events/s, MB/s, ETA) is shown on stderr when it is a\n"
"terminal. Importing is idempotent and resumable: after an interruption, run the\n"
"same command again; finished files are skipped (files that had rejects are read\n"
"again) and events already stored are counted as duplicates, never stored twice.\n"
"Rejected events are listed as\n"
"file:line code field message (the first %d, all with --rejects).\n"
"\n"
"exit status: 0 every event was stored or was a duplicate; 1 some events were\n"
"rejected or a file could not be read; 2 usage error; 130 interrupted (Ctrl-C or\n"
"SIGTERM: the import stops after the batch being stored; run it again to continue).\n"
"\n"
"examples:\n"
"  trailkeep import --data /var/lib/trailkeep ./actiontrail-logs/\n"
"  trailkeep import --format cloudtrail AWSLogs/123456789012/CloudTrail/\n"
"  trailkeep import --account 1234567890123456 --rejects rejects.jsonl events.jsonl.gz\n",
            DEFAULT_BATCH, SHOW_REJECTS);
}

typedef struct in_file {
    char *path;      /* as given / found (for messages) */
    char *key;       /* state key: "size\tmtime_ns\trealpath" */
    uint64_t size;
    int skip;        /* already imported (import-state) */
} in_file_t;

typedef struct importer {
    const char *dir;
    tk_store_t *store;
    tk_source_t *src;  /* the files, in walk order (tk_source) */
    tk_parse_opts_t popts;
    size_t batch;
    int force;
    int dry_run;     /* parse and report only: no store, no state */
    FILE *rejects_f;
    tk_progress_t prog;
    /* the plan */
    in_file_t *files;
    size_t nfiles, capfiles;
    char **done;     /* sorted state keys of finished files */
    size_t ndone;
    /* totals */
    uint64_t files_read, files_skipped, files_failed;
    uint64_t accepted, duplicates, rejected, bytes_done, bytes_total, bytes_skipped;
    size_t rejects_shown;
    int state_warned;
    /* events already older than their account's retention (meta.db's, else
     * 90 days): stored, but the next daily purge removes them */
    uint64_t past_retention;
    struct {
        char id[64];
        int days;
    } ret[64];
    size_t nret;
} importer_t;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_done(const importer_t *im, const char *key)
{
    return im->ndone && bsearch(&key, im->done, im->ndone, sizeof *im->done, cmp_str) != NULL;
}

/* The state file is append-only text, one finished file per line:
 * "v1\t<size>\t<mtime_ns>\t<realpath>". Paths with a newline or tab are not
 * recorded (they are simply re-read next time, which dedup makes safe). */
static int load_state(importer_t *im)
{
    char path[PATH_MAX], err[TK_ERRLEN];
    snprintf(path, sizeof path, "%s/import-state", im->dir);
    if (!tk_fs_exists(path))
        return 0;
    char *data;
    size_t len;
    if (tk_fs_read_all(path, &data, &len, err)) {
        fprintf(stderr, "trailkeep import: warning: %s; every file will be read again\n", err);
        return 0;
    }
    size_t cap = 0;
    for (char *line = data, *next; line < data + len; line = next) {
        char *nl = memchr(line, '\n', (size_t)(data + len - line));
        if (!nl)
            break; /* a torn last line (crash while appending) is ignored */
        *nl = 0;
        next = nl + 1;
        if (strncmp(line, "v1\t", 3))
            continue;
        if (im->ndone == cap) {
            cap = cap ? cap * 2 : 256;
            char **p = realloc(im->done, cap * sizeof *p);
            if (!p)
                break;
            im->done = p;
        }
        if (!(im->done[im->ndone] = strdup(line + 3)))
            break;
        im->ndone++;
    }
    free(data);
    qsort(im->done, im->ndone, sizeof *im->done, cmp_str);
    return 0;
}

static void record_done(importer_t *im, const in_file_t *f)
{
    if (!f->key || strchr(f->key, '\n'))
        return;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/import-state", im->dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    tk_buf_t b = TK_BUF_INIT;
    int rc = fd < 0 ? tk_from_errno(errno) : tk_buf_printf(&b, "v1\t%s\n", f->key);
    if (rc == 0)
        rc = tk_fs_write_full(fd, b.p, b.len);
    if (rc == 0 && fdatasync(fd) != 0)
        rc = tk_from_errno(errno);
    if (fd >= 0)
        close(fd);
    tk_buf_free(&b);
    if (rc && !im->state_warned) {
        tk_progress_clear(&im->prog);
        fprintf(stderr,
                "trailkeep import: warning: cannot record progress in %s (%s); a re-run will "
                "read finished files again (no event is stored twice)\n",
                path, tk_strerror(rc));
        im->state_warned = 1;
    }
}

static int add_file(importer_t *im, const char *path, const struct stat *st)
{
    if (im->nfiles == im->capfiles) {
        size_t nc = im->capfiles ? im->capfiles * 2 : 64;
        in_file_t *p = realloc(im->files, nc * sizeof *p);
        if (!p)
            return TK_ENOMEM;
        im->files = p;
        im->capfiles = nc;
    }
    in_file_t *f = &im->files[im->nfiles];
    memset(f, 0, sizeof *f);
    f->size = (uint64_t)st->st_size;
    if (!(f->path = strdup(path)))
        return TK_ENOMEM;
    char real[PATH_MAX];
    if (realpath(path, real) && !strchr(real, '\t') && !strchr(real, '\n')) {
        tk_buf_t b = TK_BUF_INIT;
        tk_buf_printf(&b, "%llu\t%lld\t%s", (unsigned long long)st->st_size,
                      (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec, real);
        f->key = tk_buf_steal(&b);
    }
    im->nfiles++;
    im->bytes_total += f->size;
    return 0;
}

static void json_str(FILE *f, const char *s)
{
    tk_buf_t b = TK_BUF_INIT;
    tk_buf_put_json_str(&b, s, strlen(s));
    fwrite(b.p, 1, b.len, f);
    tk_buf_free(&b);
}

static void report_reject(importer_t *im, const char *file, const tk_reject_t *r, uint64_t line,
                          uint64_t index)
{
    im->rejected++;
    if (im->rejects_shown < SHOW_REJECTS) {
        tk_progress_clear(&im->prog);
        fprintf(stderr, "%s:%llu %s %s %s\n", file, (unsigned long long)line, r->code,
                r->field[0] ? r->field : "-", r->message);
        im->rejects_shown++;
    }
    if (im->rejects_f) {
        FILE *f = im->rejects_f;
        fputs("{\"file\":", f);
        json_str(f, file);
        fprintf(f, ",\"line\":%llu,\"index\":%llu,\"code\":", (unsigned long long)line,
                (unsigned long long)index);
        json_str(f, r->code);
        fputs(",\"field\":", f);
        json_str(f, r->field);
        fputs(",\"message\":", f);
        json_str(f, r->message);
        fputs("}\n", f);
    }
}

static void on_retention(void *ud, const tk_account_t *a)
{
    importer_t *im = ud;
    if (a->retention_days > 0 && im->nret < TK_ARRAY_LEN(im->ret)) {
        snprintf(im->ret[im->nret].id, sizeof im->ret[im->nret].id, "%s", a->id);
        im->ret[im->nret++].days = a->retention_days;
    }
}

/* Per-account retentions from DIR/meta.db when there is one (import needs
 * none: then every account has the default). */
static void load_retentions(importer_t *im)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/meta.db", im->dir);
    if (!tk_fs_exists(path))
        return;
    tk_meta_t *m = NULL;
    char err[TK_ERRLEN];
    if (tk_meta_open(im->dir, &m, err) == 0) {
        tk_meta_account_list(m, on_retention, im, err);
        tk_meta_close(m);
    }
}

static void count_past_retention(importer_t *im, const tk_event_t *ev, size_t n)
{
    int64_t now = tk_now_ms();
    for (size_t i = 0; i < n; i++) {
        int days = 90;
        for (size_t k = 0; k < im->nret; k++)
            if (ev[i].account.len == strlen(im->ret[k].id) &&
                !memcmp(ev[i].account.p, im->ret[k].id, ev[i].account.len))
                days = im->ret[k].days;
        im->past_retention += ev[i].time_ms < now - (int64_t)days * TK_MS_PER_DAY;
    }
}

/* Appends the batch's events in slices of im->batch (one durable append each). */
static int store_events(importer_t *im, tk_batch_t *b, const char *file, char *err)
{
    const tk_event_t *ev = tk_batch_events(b);
    size_t n = tk_batch_count(b);
    count_past_retention(im, ev, n);
    if (im->dry_run) {
        im->accepted += n;
        return 0;
    }
    for (size_t off = 0; off < n; off += im->batch) {
        size_t k = n - off < im->batch ? n - off : im->batch;
        tk_append_result_t res = {0};
        int rc = tk_store_append(im->store, ev + off, k, &res, NULL, err);
        if (rc) {
            char msg[TK_ERRLEN];
            snprintf(msg, sizeof msg, "%s", err);
            return tk_errf(err, rc, "storing events of '%s' failed: %s", file, msg);
        }
        im->accepted += res.accepted;
        im->duplicates += res.duplicates;
    }
    return 0;
}

/* ---- the pipeline ----
 * A reader thread reads, gunzips and parses files into batches while the
 * main thread appends the previous batch to the store (whose cost is mostly
 * the WAL write and fsync), so parsing and storing overlap on two cores.
 * Only the main thread prints, counts and records state; the reader hands it
 * work items in file order through a queue of QCAP, with NBATCH batches in
 * flight at most (bounded memory). */
#define QCAP 2
#define NBATCH (QCAP + 1)

typedef struct work {
    tk_batch_t *b;        /* parsed chunk; NULL when the file failed */
    size_t file;          /* index into im->files */
    uint64_t base_index;  /* events before this chunk in the file */
    size_t seen0;         /* tk_batch_seen before the parse */
    uint64_t src_bytes;   /* on-disk bytes the source has consumed (progress) */
    char *buf;            /* this piece of the file (events may point into it) */
    int first, last;
    int failed;
    char msg[TK_ERRLEN];
} work_t;

typedef struct pipeline {
    importer_t *im;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    work_t q[QCAP];
    size_t head, n;
    tk_batch_t *free_b[NBATCH];
    size_t nfree;
    int stop;             /* set by the main thread: the store failed */
    int done;             /* set by the reader: no more items */
} pipeline_t;

/* Blocks until a free batch exists (or stop); NULL when stopping. */
static tk_batch_t *take_batch(pipeline_t *pl)
{
    pthread_mutex_lock(&pl->mu);
    while (!pl->nfree && !pl->stop)
        pthread_cond_wait(&pl->cv, &pl->mu);
    tk_batch_t *b = pl->stop ? NULL : pl->free_b[--pl->nfree];
    pthread_mutex_unlock(&pl->mu);
    return b;
}

/* Queues w (copied); 0, or -1 when stopping (w then still belongs to the caller). */
static int push_work(pipeline_t *pl, const work_t *w)
{
    pthread_mutex_lock(&pl->mu);
    while (pl->n == QCAP && !pl->stop)
        pthread_cond_wait(&pl->cv, &pl->mu);
    int rc = -1;
    if (!pl->stop) {
        pl->q[(pl->head + pl->n) % QCAP] = *w;
        pl->n++;
        rc = 0;
        pthread_cond_broadcast(&pl->cv);
    }
    pthread_mutex_unlock(&pl->mu);
    return rc;
}

static void give_back(pipeline_t *pl, tk_batch_t *b)
{
    if (!b)
        return;
    tk_batch_reset(b);
    pthread_mutex_lock(&pl->mu);
    pl->free_b[pl->nfree++] = b;
    pthread_cond_broadcast(&pl->cv);
    pthread_mutex_unlock(&pl->mu);
}

/* The first file at or after k that is not skipped (im->nfiles if none). */
static size_t next_unskipped(const importer_t *im, size_t k)
{
    while (k < im->nfiles && im->files[k].skip)
        k++;
    return k;
}

/* Reader thread: walks the files through tk_source (the event module's file
 * reader: gzip, JSON Lines in pieces of CHUNK_BYTES cut at record starts,
 * whole documents in one piece), parses each piece into a batch and queues
 * it. A piece is copied, because the source reuses its buffer and parsed
 * events may point into their input until they are stored. */
static void *reader_main(void *arg)
{
    pipeline_t *pl = arg;
    importer_t *im = pl->im;
    char err[TK_ERRLEN];
    uint64_t base_index = 0;
    int started = 0, need_seek = 0;
    size_t cur = next_unskipped(im, 0);
    if (cur != 0)
        need_seek = 1;
    while (cur < im->nfiles) {
        work_t w;
        memset(&w, 0, sizeof w);
        w.file = cur;
        if (need_seek) {
            need_seek = 0;
            if (tk_source_seek(im->src, cur, 0, w.msg) != 0) {
                w.failed = w.first = w.last = 1;
                if (push_work(pl, &w))
                    break;
                cur = next_unskipped(im, cur + 1);
                need_seek = 1;
                continue;
            }
        }
        tk_source_chunk_t ch;
        int r = tk_source_next(im->src, &ch, err);
        if (r == 0)
            break;
        if (r < 0) {
            /* The source skips the failed file by itself. */
            snprintf(w.msg, sizeof w.msg, "%s", err);
            w.failed = w.last = 1;
            w.first = !started;
            if (push_work(pl, &w))
                break;
            size_t nx = next_unskipped(im, cur + 1);
            need_seek = nx != cur + 1;
            cur = nx;
            started = 0;
            continue;
        }
        if (ch.file_index != cur) /* never expected: follow the source */
            cur = ch.file_index;
        w.file = cur;
        if (ch.first)
            base_index = 0;
        w.first = ch.first;
        w.last = ch.last;
        started = !ch.last;
        w.src_bytes = tk_source_bytes_done(im->src);
        char *buf = malloc(ch.len + 1);
        tk_batch_t *b = buf ? take_batch(pl) : NULL;
        if (!b) {
            free(buf);
            if (!pl->stop) {
                snprintf(w.msg, sizeof w.msg, "out of memory");
                w.failed = w.last = 1;
                push_work(pl, &w);
            }
            break;
        }
        memcpy(buf, ch.data, ch.len);
        buf[ch.len] = 0;
        tk_parse_opts_t po = im->popts;
        po.source_name = ch.path;
        po.first_line = ch.first_line;
        /* A forced --format applies to whole documents; line files are
         * always JSON Lines (each line sniffed). */
        if (ch.format == TK_FMT_JSONL || po.format == TK_FMT_AUTO)
            po.format = ch.format;
        w.seen0 = tk_batch_seen(b);
        w.base_index = base_index;
        if (tk_event_parse(b, buf, ch.len, &po, w.msg) != 0) {
            /* Nothing could be attempted: the file counts as failed; what
             * earlier pieces stored stays stored. The rest is skipped. */
            give_back(pl, b);
            free(buf);
            w.failed = w.last = 1;
            if (push_work(pl, &w))
                break;
            cur = next_unskipped(im, cur + 1);
            need_seek = !ch.last || cur != ch.file_index + 1;
            started = 0;
            continue;
        }
        base_index += tk_batch_seen(b) - w.seen0;
        w.b = b;
        w.buf = buf;
        if (push_work(pl, &w)) {
            give_back(pl, b);
            free(buf);
            break;
        }
        if (ch.last) {
            size_t nx = next_unskipped(im, cur + 1);
            need_seek = nx != cur + 1;
            cur = nx;
        }
    }
    pthread_mutex_lock(&pl->mu);
    pl->done = 1;
    pthread_cond_broadcast(&pl->cv);
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

/* Ctrl-C / SIGTERM: stop after the batch being stored, so the summary and
 * the state file are exact; everything stored is already durable. */
static volatile sig_atomic_t g_interrupted;
static void on_signal(int sig)
{
    (void)sig;
    g_interrupted = 1;
}
#define IMPORT_INTERRUPTED 1

/* Main-thread side: takes items in order, reports, stores, records. Returns
 * 0, IMPORT_INTERRUPTED, or the store's error (after which the remaining
 * items are drained). */
static int consume(pipeline_t *pl)
{
    importer_t *im = pl->im;
    char err[TK_ERRLEN];
    int rc = 0, file_failed = 0;
    uint64_t rejected_before = 0, files_done = im->files_skipped;
    for (;;) {
        pthread_mutex_lock(&pl->mu);
        while (!pl->n && !pl->done)
            pthread_cond_wait(&pl->cv, &pl->mu);
        if (!pl->n) {
            pthread_mutex_unlock(&pl->mu);
            break;
        }
        work_t w = pl->q[pl->head];
        pl->head = (pl->head + 1) % QCAP;
        pl->n--;
        pthread_cond_broadcast(&pl->cv);
        pthread_mutex_unlock(&pl->mu);

        const in_file_t *f = &im->files[w.file];
        if (g_interrupted && rc == 0) {
            rc = IMPORT_INTERRUPTED;
            pthread_mutex_lock(&pl->mu);
            pl->stop = 1;
            pthread_cond_broadcast(&pl->cv);
            pthread_mutex_unlock(&pl->mu);
        }
        if (w.first) {
            rejected_before = im->rejected;
            file_failed = 0;
        }
        if (w.failed && rc == 0) {
            tk_progress_clear(&im->prog);
            if (!strncmp(w.msg, f->path, strlen(f->path))) /* the message names the file */
                fprintf(stderr, "trailkeep import: skipping %s\n", w.msg);
            else
                fprintf(stderr, "trailkeep import: skipping '%s': %s\n", f->path, w.msg);
            file_failed = 1;
        }
        if (w.b && rc == 0) {
            const tk_reject_t *rj = tk_batch_rejects(w.b);
            for (size_t i = 0; i < tk_batch_reject_count(w.b); i++)
                report_reject(im, f->path, &rj[i], rj[i].line, w.base_index + (rj[i].index - w.seen0));
            rc = store_events(im, w.b, f->path, err);
            if (rc) {
                tk_progress_clear(&im->prog);
                fprintf(stderr, "trailkeep import: %s\n", err);
                pthread_mutex_lock(&pl->mu);
                pl->stop = 1;
                pthread_cond_broadcast(&pl->cv);
                pthread_mutex_unlock(&pl->mu);
            }
        }
        give_back(pl, w.b);
        free(w.buf);
        if (w.last) {
            if (rc == 0) {
                files_done++;
                im->bytes_done += f->size;
                if (file_failed) {
                    im->files_failed++;
                } else {
                    im->files_read++;
                    /* A file with rejects is not recorded: the next run reads
                     * it again (its stored events become duplicates) and
                     * reports what is still wrong, e.g. after the file was
                     * fixed or --account was added. */
                    if (im->rejected == rejected_before && !im->dry_run)
                        record_done(im, f);
                }
            }
        }
        if (rc == 0)
            tk_progress_update(&im->prog, 0, files_done, im->nfiles,
                               im->accepted + im->duplicates + im->rejected,
                               im->bytes_skipped + w.src_bytes, im->bytes_total);
    }
    return rc;
}

/* Runs the pipeline over every file not marked skip. */
static int run_pipeline(importer_t *im)
{
    pipeline_t pl;
    memset(&pl, 0, sizeof pl);
    pl.im = im;
    for (size_t i = 0; i < NBATCH; i++) {
        if (!(pl.free_b[i] = tk_batch_create())) {
            while (i--)
                tk_batch_destroy(pl.free_b[i]);
            fprintf(stderr, "trailkeep import: out of memory\n");
            return TK_ENOMEM;
        }
        pl.nfree++;
    }
    pthread_mutex_init(&pl.mu, NULL);
    pthread_cond_init(&pl.cv, NULL);
    pthread_t th;
    int rc;
    if (pthread_create(&th, NULL, reader_main, &pl) != 0) {
        fprintf(stderr, "trailkeep import: cannot start the reader thread: %s\n", strerror(errno));
        rc = TK_EIO;
    } else {
        rc = consume(&pl);
        pthread_join(th, NULL);
    }
    /* Items left after a stop hold batches and buffers. */
    while (pl.n) {
        work_t *w = &pl.q[pl.head];
        give_back(&pl, w->b);
        free(w->buf);
        pl.head = (pl.head + 1) % QCAP;
        pl.n--;
    }
    for (size_t i = 0; i < pl.nfree; i++)
        tk_batch_destroy(pl.free_b[i]);
    pthread_cond_destroy(&pl.cv);
    pthread_mutex_destroy(&pl.mu);
    return rc;
}

static int parse_format(const char *s, tk_format_t *out)
{
    static const struct { const char *name; tk_format_t f; } fm[] = {
        {"auto", TK_FMT_AUTO}, {"actiontrail", TK_FMT_ACTIONTRAIL},
        {"cloudtrail", TK_FMT_CLOUDTRAIL}, {"jsonl", TK_FMT_JSONL}};
    for (size_t i = 0; i < TK_ARRAY_LEN(fm); i++)
        if (!strcmp(s, fm[i].name)) {
            *out = fm[i].f;
            return 0;
        }
    return TK_EINVAL;
}

static void free_importer(importer_t *im)
{
    for (size_t i = 0; i < im->nfiles; i++) {
        free(im->files[i].path);
        free(im->files[i].key);
    }
    free(im->files);
    for (size_t i = 0; i < im->ndone; i++)
        free(im->done[i]);
    free(im->done);
    tk_source_close(im->src);
}

int tk_cmd_import(int argc, char **argv)
{
    importer_t im;
    memset(&im, 0, sizeof im);
    im.dir = tk_cli_default_data();
    im.batch = DEFAULT_BATCH;
    im.popts.max_future_ms = 86400000; /* a day: clocks drift, years are not typos */
    const char *rejects_path = NULL, *output = "text", *v;
    int quiet = 0, npaths = 0, r;
    char **paths = calloc((size_t)argc + 1, sizeof *paths);
    if (!paths)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (tk_cli_is_help(a)) {
            usage(stdout);
            free(paths);
            return 0;
        }
        if ((r = tk_cli_opt(argc, argv, &i, "import", "--data", &v))) {
            if (r < 0) goto usage_err;
            im.dir = v;
        } else if ((r = tk_cli_opt(argc, argv, &i, "import", "--account", &v))) {
            if (r < 0) goto usage_err;
            im.popts.default_account = v;
        } else if ((r = tk_cli_opt(argc, argv, &i, "import", "--format", &v))) {
            if (r < 0) goto usage_err;
            if (parse_format(v, &im.popts.format)) {
                fprintf(stderr, "trailkeep import: unknown --format '%s'; use auto, actiontrail, "
                                "cloudtrail or jsonl\n", v);
                goto usage_err;
            }
        } else if ((r = tk_cli_opt(argc, argv, &i, "import", "--max-future-skew", &v))) {
            long n;
            if (r < 0) goto usage_err;
            if (tk_cli_parse_long(v, 0, 366L * 86400, &n)) {
                fprintf(stderr, "trailkeep import: --max-future-skew '%s' must be seconds from 0 to "
                                "31622400\n", v);
                goto usage_err;
            }
            im.popts.max_future_ms = (int64_t)n * 1000;
        } else if ((r = tk_cli_opt(argc, argv, &i, "import", "--batch", &v))) {
            long n;
            if (r < 0) goto usage_err;
            if (tk_cli_parse_long(v, 1, 1000000, &n)) {
                fprintf(stderr, "trailkeep import: --batch '%s' must be a number from 1 to 1000000\n", v);
                goto usage_err;
            }
            im.batch = (size_t)n;
        } else if ((r = tk_cli_opt(argc, argv, &i, "import", "--rejects", &v))) {
            if (r < 0) goto usage_err;
            rejects_path = v;
        } else if ((r = tk_cli_opt(argc, argv, &i, "import", "--output", &v))) {
            if (r < 0) goto usage_err;
            if (strcmp(v, "text") && strcmp(v, "json")) {
                fprintf(stderr, "trailkeep import: --output '%s' must be text or json\n", v);
                goto usage_err;
            }
            output = v;
        } else if (!strcmp(a, "--force")) {
            im.force = 1;
        } else if (!strcmp(a, "--dry-run") || !strcmp(a, "-n")) {
            im.dry_run = 1;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            quiet = 1;
        } else if (!strcmp(a, "--")) {
            while (++i < argc)
                paths[npaths++] = argv[i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "trailkeep import: unknown option '%s' (see trailkeep import --help)\n", a);
            goto usage_err;
        } else {
            paths[npaths++] = argv[i];
        }
    }
    if (npaths == 0) {
        fprintf(stderr, "trailkeep import: no PATH given: name the files or folders to import "
                        "(see trailkeep import --help)\n");
        goto usage_err;
    }

    /* Plan first: the list of files and their total size drive the progress
     * bar; a path that does not exist is reported and the others proceed. */
    char err[TK_ERRLEN];
    int nok = 0;
    const char *only_path = npaths == 1 ? paths[0] : NULL; /* an argv string: outlives paths */
    for (int i = 0; i < npaths; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            fprintf(stderr, "trailkeep import: cannot read '%s': %s\n", paths[i], strerror(errno));
            im.files_failed++;
        } else {
            paths[nok++] = paths[i];
        }
    }
    load_retentions(&im);
    tk_source_opts_t sopts = {.chunk_bytes = CHUNK_BYTES};
    if (nok && tk_source_open((const char *const *)paths, (size_t)nok, &sopts, &im.src, err)) {
        fprintf(stderr, "trailkeep import: %s\n", err);
        free(paths);
        free_importer(&im);
        return 1;
    }
    free(paths);
    paths = NULL;
    for (size_t i = 0; im.src && i < tk_source_file_count(im.src); i++) {
        const char *path = tk_source_file_path(im.src, i);
        struct stat st;
        if (stat(path, &st) != 0)
            memset(&st, 0, sizeof st); /* vanished: the reader reports it */
        if (add_file(&im, path, &st))
            goto oom;
    }
    /* The handler is installed before the store starts its sealer thread:
     * a signal landing in that thread with the default action would kill
     * the import without its summary. A signal before the pipeline runs
     * just makes it stop at once. */
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART; /* reads in the reader thread must not fail with EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    tk_store_opts_t so = {.dir = im.dir};
    int rc = im.dry_run ? 0 : tk_store_open(&so, &im.store, err);
    if (rc) {
        if (rc == TK_EBUSY)
            fprintf(stderr, "trailkeep import: the store in '%s' is in use by another process "
                            "(trailkeep serve?): %s; stop it, or send the events to it with "
                            "POST /v1/events\n", im.dir, err);
        else
            fprintf(stderr, "trailkeep import: cannot open the store in '%s': %s\n", im.dir, err);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        free_importer(&im);
        return 1;
    }
    if (!im.force && !im.dry_run)
        load_state(&im);
    if (rejects_path && !(im.rejects_f = fopen(rejects_path, "w"))) {
        fprintf(stderr, "trailkeep import: cannot write --rejects file '%s': %s\n", rejects_path,
                strerror(errno));
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        tk_store_close(im.store);
        free_importer(&im);
        return 1;
    }
    tk_progress_init(&im.prog, quiet);
    uint64_t t0 = tk_mono_ns();
    for (size_t i = 0; i < im.nfiles; i++) {
        in_file_t *f = &im.files[i];
        if (!im.force && f->key && is_done(&im, f->key)) {
            f->skip = 1;
            im.files_skipped++;
            im.bytes_done += f->size;
            im.bytes_skipped += f->size;
        }
    }
    rc = run_pipeline(&im);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    int interrupted = rc == IMPORT_INTERRUPTED;
    if (interrupted)
        rc = 0;
    /* Seal only when something is unsealed (this run's events, or an
     * interrupted run's that the open replayed from the WAL). */
    tk_store_stats_t sst = {0};
    if (im.store)
        tk_store_stats(im.store, &sst);
    if (rc == 0 && !interrupted && sst.unsealed_events && (rc = tk_store_seal(im.store, err)) != 0)
        fprintf(stderr, "trailkeep import: sealing the store failed: %s (the events are safe in "
                        "the write-ahead log and are sealed on the next open)\n", err);
    tk_store_close(im.store);
    tk_progress_update(&im.prog, 1, im.nfiles, im.nfiles, im.accepted + im.duplicates + im.rejected,
                       im.bytes_done, im.bytes_total);
    tk_progress_clear(&im.prog);
    double secs = (double)(tk_mono_ns() - t0) / 1e9;
    if (im.rejects_f)
        fclose(im.rejects_f);
    if (im.past_retention)
        fprintf(stderr,
                "trailkeep import: warning: %llu event(s) are older than their account's retention "
                "(90 days unless `trailkeep accounts set ID --retention-days N`); they are stored "
                "but the next daily purge removes them\n",
                (unsigned long long)im.past_retention);
    if (im.rejected > im.rejects_shown)
        fprintf(stderr, "... and %llu more rejected events%s\n",
                (unsigned long long)(im.rejected - im.rejects_shown),
                rejects_path ? " (all are in the --rejects file)" : " (use --rejects FILE to list them all)");

    uint64_t events = im.accepted + im.duplicates + im.rejected;
    uint64_t read_bytes = im.bytes_done - im.bytes_skipped;
    double s = secs > 1e-6 ? secs : 1e-6;
    if (!strcmp(output, "json")) {
        printf("{\"files\":%llu,\"skipped\":%llu,\"failed\":%llu,\"accepted\":%llu,"
               "\"duplicates\":%llu,\"rejected\":%llu,\"past_retention\":%llu,\"bytes\":%llu,"
               "\"seconds\":%.3f,\"events_per_second\":%.0f}\n",
               (unsigned long long)im.files_read, (unsigned long long)im.files_skipped,
               (unsigned long long)im.files_failed, (unsigned long long)im.accepted,
               (unsigned long long)im.duplicates, (unsigned long long)im.rejected,
               (unsigned long long)im.past_retention, (unsigned long long)read_bytes, secs,
               (double)events / s);
    } else if (!quiet) {
        char a[32], d[32], j[32], by[16];
        printf("files:    %llu read, %llu skipped (already imported), %llu failed\n",
               (unsigned long long)im.files_read, (unsigned long long)im.files_skipped,
               (unsigned long long)im.files_failed);
        printf("events:   %s %s, %s duplicates, %s rejected\n", tk_cli_fmt_count(im.accepted, a),
               im.dry_run ? "valid (dry run: nothing stored)" : "accepted",
               tk_cli_fmt_count(im.duplicates, d), tk_cli_fmt_count(im.rejected, j));
        printf("time:     %.2f s (%.0f events/s, %s at %.1f MB/s)\n", secs, (double)events / s,
               tk_cli_fmt_bytes(read_bytes, by), (double)read_bytes / s / 1e6);
    }
    free_importer(&im);
    if (interrupted) {
        fprintf(stderr, "trailkeep import: interrupted; what was stored is durable. Run the same "
                        "command again to continue: finished files are skipped, events already "
                        "stored count as duplicates\n");
        return 130;
    }
    if (rc)
        return 1;
    if (im.rejected || im.files_failed) {
        fprintf(stderr, "trailkeep import: %llu event(s) rejected, %llu file(s) not read: "
                        "fix them and import those files again\n",
                (unsigned long long)im.rejected, (unsigned long long)im.files_failed);
        return 1;
    }
    if (!events && !im.files_skipped) {
        /* A wrong path or an empty export must be noticed, not "succeed". */
        fprintf(stderr, "trailkeep import: no events found in %s: %s (files ending in .json, "
                        ".jsonl, .ndjson or .gz; folders are read recursively, hidden files "
                        "and CloudTrail-Digest folders skipped)\n",
                only_path ? only_path : "the paths given",
                im.nfiles ? "the files found there hold no event" : "no event file there");
        return 1;
    }
    return 0;

oom:
    fprintf(stderr, "trailkeep import: out of memory\n");
    free(paths);
    free_importer(&im);
    return 1;
usage_err:
    free(paths);
    return 2;
}

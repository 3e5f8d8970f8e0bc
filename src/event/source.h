/* trailkeep event sources: the files behind `trailkeep import`. Walks paths
 * (files, folders recursively, .gz anywhere) and yields each file's bytes,
 * decompressed, with the format to pass to tk_event_parse. JSON Lines files
 * come in chunks (16 MiB by default, cut where a record starts) so a 1 GB
 * file never sits in memory at once; whole-document files (a JSON array, a
 * CloudTrail {"Records":[...]}) come in one piece.
 *
 * Typical loop:
 *   tk_source_t *src; tk_source_open(paths, n, NULL, &src, err);
 *   tk_source_chunk_t ch; int rc;
 *   while ((rc = tk_source_next(src, &ch, err)) != 0) {
 *       if (rc < 0) { report(err); continue; }   // that file is skipped, the walk goes on
 *       tk_parse_opts_t o = {.format = ch.format, .source_name = ch.path, .first_line = ch.first_line};
 *       tk_event_parse(batch, ch.data, ch.len, &o, err); ...
 *   }
 *   tk_source_close(src);
 */
#ifndef TK_EVENT_SOURCE_H
#define TK_EVENT_SOURCE_H

#include "event/parse.h"

#include <stddef.h>
#include <stdint.h>

typedef struct tk_source tk_source_t;

typedef struct tk_source_opts {
    size_t chunk_bytes;   /* JSON Lines chunk target; 0 = 16 MiB */
    size_t max_doc_bytes; /* largest whole document (or single line) held at once; 0 = 2 GiB */
} tk_source_opts_t;

typedef struct tk_source_chunk {
    const char *path;     /* the file (borrowed from the source) */
    const char *data;     /* decompressed bytes, valid until the next tk_source_next */
    size_t len;
    tk_format_t format;   /* TK_FMT_JSONL for line files, TK_FMT_AUTO (array) or TK_FMT_CLOUDTRAIL */
    uint64_t first_line;  /* line number of data[0] in the file (for tk_parse_opts_t.first_line) */
    uint64_t offset;      /* byte offset of data[0] in the decompressed file */
    size_t file_index;    /* 0-based position of the file in the walk */
    int first, last;      /* first / last chunk of its file */
} tk_source_chunk_t;

/* Resolves paths (borrowed) into the ordered list of files to read: a file
 * named directly is always read; a folder is walked recursively in name
 * order, keeping *.json, *.jsonl, *.ndjson and *.gz, skipping hidden entries
 * and CloudTrail-Digest folders. *out is owned: tk_source_close().
 * Errors: TK_ENOTFOUND (a path does not exist), TK_EIO, TK_ENOMEM. */
int tk_source_open(const char *const *paths, size_t npaths, const tk_source_opts_t *opts, tk_source_t **out,
                   char *err);
void tk_source_close(tk_source_t *s); /* NULL is a no-op */

size_t tk_source_file_count(const tk_source_t *s);
const char *tk_source_file_path(const tk_source_t *s, size_t i); /* borrowed */
uint64_t tk_source_total_bytes(const tk_source_t *s); /* on-disk bytes of all files */
uint64_t tk_source_bytes_done(const tk_source_t *s);  /* on-disk bytes consumed so far (progress bars) */

/* The next chunk: 1 and *c filled, 0 at the end of the walk, or a negative
 * TK_E* for the current file (unreadable, corrupt gzip, document over
 * max_doc_bytes) with err naming the file; the failed file is skipped and
 * the next call continues with the following one. */
int tk_source_next(tk_source_t *s, tk_source_chunk_t *c, char *err);

/* Resume: the next chunk will start at decompressed byte `offset` of file
 * file_index (an offset a previous chunk started at; 0 = file start). Lines
 * are counted through the skipped bytes so first_line stays right. */
int tk_source_seek(tk_source_t *s, size_t file_index, uint64_t offset, char *err);

#endif

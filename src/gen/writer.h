/* trailkeep generator output: frames generated events as JSON Lines, a JSON
 * array or CloudTrail's {"Records":[...]}, to a stream (stdout or a file,
 * optionally gzip) or to a folder in ActionTrail's (or CloudTrail's)
 * delivered-file layout, so import can be tested on realistic trees. */
#ifndef TK_GEN_WRITER_H
#define TK_GEN_WRITER_H

#include "gen/gen.h"

#include <stdint.h>
#include <stdio.h>

typedef enum tk_gen_frame {
    TK_GEN_FRAME_JSONL = 0, /* one event per line */
    TK_GEN_FRAME_ARRAY,     /* [ev,\nev,...] */
    TK_GEN_FRAME_RECORDS,   /* {"Records":[ev,\n...]} (CloudTrail files) */
} tk_gen_frame_t;

typedef struct tk_gen_write_opts {
    tk_gen_frame_t frame;
    int gzip;                /* gzip the stream / each file */
    const char *path;        /* stream: file path, NULL or "-" = the FILE below */
    FILE *stream;            /* used when path is NULL or "-" (e.g. stdout) */
    const char *dir;         /* non-NULL: write the folder layout under dir instead */
    uint32_t files_per_day;  /* folder layout: 1 per account/region/day (default), up to 24 */
    uint64_t max_file_bytes; /* folder layout: close a file beyond this many raw bytes (0 = 64 MiB) */
} tk_gen_write_opts_t;

typedef struct tk_gen_write_stats {
    uint64_t events;
    uint64_t bytes;      /* raw JSON bytes, framing included */
    uint64_t files;      /* files written (1 for a stream) */
    double seconds;
} tk_gen_write_stats_t;

/* Drains g (borrowed) into the destination described by o (borrowed).
 * Folder layout (one file per account, region and window of 24/files_per_day
 * hours, named like ActionTrail's delivery):
 *   <dir>/AliyunLogs/Actiontrail/<account>/<region>/YYYY/MM/DD/
 *       Actiontrail_<region>_<YYYYMMDDHHMMSS>_1002_<events>_<bytes>_<md5>.json[.gz]
 * or, for the CloudTrail shape:
 *   <dir>/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/
 *       <account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 hex>.json[.gz]
 * Returns 0 or TK_EIO/TK_ENOMEM/TK_EINVAL with err. */
int tk_gen_write(tk_gen_t *g, const tk_gen_write_opts_t *o, tk_gen_write_stats_t *st, char *err);

#endif

/* trailkeep store: the on-disk format, as OFFSET/SIZE tables (SQLite's
 * btreeInt.h is the model). Every integer is little-endian; "varint" is
 * unsigned LEB128 (tk_buf_put_varint / tk_get_varint). Recovery and verify
 * code assert against the constants below; change the format only by bumping
 * the version numbers.
 *
 * DIRECTORY LAYOUT (DIR = tk_store_opts_t.dir)
 *   DIR/LOCK                              flock(LOCK_EX) by the one writer process
 *   DIR/MANIFEST                          text, written atomically (tk_fs_write_atomic):
 *                                           "trailkeep-store 1\n"
 *                                           "sealed_seq <N>\n"      every seq <= N is in a segment
 *                                           "dict <sha256 hex>\n"    (0..1) dictionary new segments use
 *                                           "consumer <name> <seq>\n" (0..n) tk_store_log_retain
 *   DIR/wal/<first-seq, 20 digits>.wal    WAL files, named by the seq of their first record
 *   DIR/seg/<account>/<YYYYMMDD>/<chain-index, 10 digits>.seg    sealed segments
 *   DIR/dict/<sha256 hex>.zdict           zstd dictionaries (content-addressed, immutable)
 *   DIR/seg/<account>/HEAD                text "<chain-index> <sha256 hex>\n": newest segment
 *   DIR/seg/<account>/ANCHOR              text, one line per purged segment or range:
 *                                           "upto <index> <sha256 hex>\n"  indexes 1..index are
 *                                           purged; hex is the hash of segment <index>
 *                                           "gone <index> <sha256 hex>\n"  that one index purged
 *
 * Accounts name directories, so they are restricted to 1..64 characters of
 * [A-Za-z0-9._-] and never "." or ".." (checked on append).
 *
 * WAL FRAME (one group commit: one write(), one fdatasync)
 *   OFFSET SIZE  field
 *   0      4     len: bytes after this 8-byte prefix, 17..WAL_MAX_FRAME
 *   4      4     checksum: tk_checksum32 over the `len` bytes that follow
 *   8      8     first seq: seq of the first record; the others follow by +1
 *   16     4     count of records (>= 1)
 *   20     4     raw size of the records (after decompression)
 *   24     1     flags: WAL_FRAME_ZSTD when the records are one zstd frame
 *   25     ...   the records, each [u32 size][payload]:
 *                  u8      kind (WAL_KIND_EVENT)
 *                  varint  account length, bytes
 *                  8       time_ms (int64)
 *                  varint  eventId length, bytes
 *                  varint  nterms; nterms x (u8 attr, varint length, bytes)
 *                  varint  json length, bytes
 * Seqs are dense across frames and files (a frame's first seq is the previous
 * frame's last + 1; a file's name is its first frame's seq). Replay stops at
 * the first frame whose length, checksum, sequence or layout is wrong and
 * truncates the file there: a group is recovered whole or not at all, which
 * is what its appenders were told (all acknowledged together after the fsync).
 *
 * SEGMENT FILE (one (account, UTC day) partition; written by a seal or a compaction)
 *   OFFSET SIZE  field
 *   0      8     magic "TKSEG\0\0\1"
 *   8      ...   blocks (~SEG_BLOCK_TARGET raw bytes): each a zstd frame, with the
 *                dictionary SEC_DICT names if any, of concatenated entries
 *                  varint eventId length, bytes; varint json length, bytes
 *                entries are in (time, seq) order; ordinal = position in the segment
 *   ...    ...   sections, each a zstd frame (see SEC_*), located by the footer
 *                every zstd frame of a segment carries its content checksum
 *   end-F  F     footer (SEG_FOOTER_SIZE bytes):
 *     0    8     magic "TKSEGEND"
 *     8    4     format version (SEG_VERSION)
 *     12   4     footer size (SEG_FOOTER_SIZE)
 *     16   8     chain index (1, 2, ... per account, in seal order)
 *     24   8     day (days since 1970-01-01, UTC)
 *     32   8     min time_ms
 *     40   8     max time_ms
 *     48   8     min seq
 *     56   8     max seq
 *     64   4     nevents
 *     68   4     nblocks
 *     72   8     raw JSON bytes (sum of json lengths)
 *     80   64    account, NUL-padded
 *     144  16x23 sections (SEC_COUNT): u64 offset, u32 compressed size, u32 raw size;
 *                an absent or empty section has sizes 0
 *     512  32    prev hash: SHA-256 of the previous segment of the account
 *                (all zero for chain index 1)
 *     544  32    hash: SHA-256 of every byte of the file before this field
 *
 * SECTIONS (raw = after zstd decompression)
 *   SEC_BLOCKS  nblocks x (u64 offset, u32 compressed size, u32 raw size,
 *               u32 first ordinal, u32 count): 24 bytes each
 *   SEC_TIMES   nevents varints: time_ms - (day * 86400000), delta from the previous
 *               (non-negative: entries are time-sorted)
 *   SEC_SEQS    nevents varints: zigzag(seq - previous seq), previous starts at min seq
 *   SEC_IDS     nevents x u32: low 32 bits of tk_hash64(eventId), in ordinal order.
 *               Readers sort (hash, ordinal) pairs in memory on first use; a hash
 *               hit is always confirmed against the eventId in the block entry.
 *   SEC_ATTR0 + a, for every tk_attr_t a except TK_ATTR_EVENTID (its section is empty):
 *               varint nterms; nterms x (varint length, bytes, varint (size << 1 | kind),
 *               posting of `size` bytes), terms sorted by memcmp. kind POSTING_LIST:
 *               varint deltas of the increasing ordinals (the first from 0);
 *               kind POSTING_ROARING: a CRoaring portable bitmap. The writer picks
 *               the smaller.
 *               Room is reserved for SEG_MAX_ATTRS keys so new tk_attr_t values
 *               do not move the footer.
 *   SEC_REPLACES  written by compaction: varint n; n x (u64 chain index, 32-byte
 *               SHA-256) of the segments of the same partition whose events this
 *               segment now holds. Verify accepts those indexes as accounted for
 *               (like ANCHOR entries); open deletes replaced files a crash left.
 *   SEC_DICT    32 bytes: SHA-256 of the zstd dictionary the blocks were compressed
 *               with, stored as DIR/dict/<hex>.zdict (content-addressed, never
 *               changed or deleted); empty when the blocks use no dictionary.
 *               Sections are always compressed without a dictionary.
 *   SEC_FILTER  (version 2 on; eventIds from 3) a blocked Bloom filter of every
 *               (attribute, term) of the SEC_ATTR sections and of every eventId (attribute
 *               TK_ATTR_EVENTID, key from tk_hash64(eventId) as for terms):
 *               u8 k (SEGF_PROBES, 7), then nblk >= 1
 *               blocks of 64 bytes, nblk = ceil(nkeys * 10 / 512). key =
 *               segfilter_key(attr, term) (xxh3 of the term, attr mixed in,
 *               splitmix64-finalized); block = ((key >> 32) * nblk) >> 32;
 *               g = mix(key ^ 0x5851f42d4c957f2d); bit i (i < k) of the block
 *               is (g >> 9i) & 511 (byte bit >> 3, bit bit & 7). Readers keep it
 *               in memory with the footer and skip a segment whose filter says
 *               the term (or, for append dedup, the eventId) is absent, without
 *               loading its index.
 */
#ifndef TK_STORE_FORMAT_H
#define TK_STORE_FORMAT_H

#include "event/event.h"

#define WAL_FRAME_HDR 25u              /* len, checksum, first seq, count, raw size, flags */
#define WAL_FRAME_ZSTD 1u
#ifndef WAL_ZSTD_LEVEL
#define WAL_ZSTD_LEVEL 1
#endif
#define WAL_MAX_FRAME (1u << 30)       /* raw or stored bytes of one group */
#define WAL_KIND_EVENT 1u
#define WAL_ROTATE_BYTES (64u << 20)   /* start a new WAL file past this size */

#define SEG_MAGIC "TKSEG\0\0\1"
#define SEG_MAGIC_SIZE 8u
#define SEG_END_MAGIC "TKSEGEND"
#define SEG_VERSION 3u /* 2: SEC_FILTER (the footer grew by one section); 3: eventIds in it */

enum {
    SEC_BLOCKS = 0,
    SEC_TIMES,
    SEC_SEQS,
    SEC_IDS,
    SEC_ATTR0,
    SEC_REPLACES = SEC_ATTR0 + 16,
    SEC_DICT,
    SEC_FILTER,
    SEC_COUNT
};
#define SEG_MAX_ATTRS 16
_Static_assert(TK_ATTR__COUNT <= SEG_MAX_ATTRS, "more attributes than the segment format reserves");

#define SEG_ACCOUNT_MAX 64u
#define SEG_F_MAGIC 0u
#define SEG_F_VERSION 8u
#define SEG_F_FSIZE 12u
#define SEG_F_CHAIN 16u
#define SEG_F_DAY 24u
#define SEG_F_MINTIME 32u
#define SEG_F_MAXTIME 40u
#define SEG_F_MINSEQ 48u
#define SEG_F_MAXSEQ 56u
#define SEG_F_NEVENTS 64u
#define SEG_F_NBLOCKS 68u
#define SEG_F_RAWBYTES 72u
#define SEG_F_ACCOUNT 80u
#define SEG_F_SECTIONS (SEG_F_ACCOUNT + SEG_ACCOUNT_MAX)
#define SEG_SECTION_SIZE 16u
#define SEG_F_PREVHASH (SEG_F_SECTIONS + SEG_SECTION_SIZE * SEC_COUNT)
#define SEG_F_HASH (SEG_F_PREVHASH + 32u)
#define SEG_FOOTER_SIZE (SEG_F_HASH + 32u)

#define SEG_BLOCK_ENTRY_SIZE 24u
#define SEG_ID_ENTRY_SIZE 4u
#define POSTING_LIST 0
#define POSTING_ROARING 1
#ifndef SEG_BLOCK_TARGET
/* A rare-term lookup decompresses one whole block per hit (zstd cannot stop
 * inside a frame), so block size is its cost. 1M gen events, 30-day
 * ResourceName lookups, p50/p99 us and seg/ bytes as % of raw JSONL:
 *   64 KiB, 64 KiB dict: 1,798 / 3,878 us, 11.8%
 *   32 KiB, 64 KiB dict: 1,011 / 3,545 us, 12.4%
 *   16 KiB, 64 KiB dict:   560 /   855 us, 13.1%  (gzip -6: 13.2%)
 *   16 KiB, 112 KiB dict:  595 /   899 us, 12.7%  <- chosen
 * (the larger dictionary wins back what the smaller blocks lose). */
#define SEG_BLOCK_TARGET (16u * 1024u)
#endif
#ifndef DICT_SIZE
#define DICT_SIZE (112u * 1024u)       /* trained dictionary size: see SEG_BLOCK_TARGET */
#endif
#define DICT_MIN_SAMPLE (2u << 20)     /* JSON bytes needed before training one */
#ifndef SEG_ZSTD_LEVEL
#define SEG_ZSTD_LEVEL 1 /* measured: smaller and 2x faster than 3 on 128 KiB blocks of events */
#endif

_Static_assert(SEG_F_PREVHASH == 512, "footer layout drifted from the table in format.h");
_Static_assert(SEG_FOOTER_SIZE == 576, "footer layout drifted from the table in format.h");

#endif

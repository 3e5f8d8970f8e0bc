/* trailkeep base: time. All times inside trailkeep are int64 milliseconds
 * since the Unix epoch, UTC. Parsing accepts RFC 3339 as ActionTrail and
 * CloudTrail write it (second or millisecond precision, Z or an offset). */
#ifndef TK_BASE_TKTIME_H
#define TK_BASE_TKTIME_H

#include <stddef.h>
#include <stdint.h>

#define TK_MS_PER_DAY 86400000LL
/* 9999-12-31T23:59:59.999Z: the last storable instant (8-digit day names). */
#define TK_TIME_MAX_MS 253402300799999LL

/* Parses s[0..n) as RFC 3339 ("2026-11-24T10:00:00Z", "...00.123Z",
 * "...00+08:00"). Returns 0 and sets *ms, or TK_EINVAL. */
int tk_time_parse(const char *s, size_t n, int64_t *ms);
/* Writes "YYYY-MM-DDTHH:MM:SSZ" (or with ".mmm" when millis is nonzero or
 * always_ms) into out (>= 32 bytes). Returns the length. */
size_t tk_time_format(int64_t ms, int always_ms, char *out);
/* UTC day number (days since 1970-01-01) of a time, floor for negatives. */
int64_t tk_time_day(int64_t ms);
/* Day number -> "YYYYMMDD" (out >= 9 bytes). */
void tk_time_day_str(int64_t day, char *out);
/* Civil date conversions (proleptic Gregorian). */
int64_t tk_days_from_civil(int64_t y, unsigned m, unsigned d);
void tk_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
/* Epoch seconds as a JSON number (CloudTrail sends times so) to ms.
 * Range-checked before converting: NaN, infinities and values outside
 * 0..TK_TIME_MAX_MS give TK_EINVAL instead of undefined behaviour. */
int tk_time_from_epoch_s(double s, int64_t *ms);
/* The one time grammar of every command and route that takes a time from a
 * person: RFC 3339 (tk_time_parse), a date "2026-11-24" (00:00 UTC), "now",
 * relative to now_ms ("-30m", "-24h", "-7d", "-2w", "+1h"; units s m h d
 * w), or epoch seconds as CloudTrail sends them ("1764000000",
 * "1764000000.5"; 9 or more digits, so a year is never misread as one).
 * The result must lie in 1970..9999. 0 and *ms, or TK_EINVAL. */
int tk_time_parse_any(const char *s, int64_t now_ms, int64_t *ms);
/* "RFC 3339, a date, now, -24h / -7d, or epoch seconds": for messages. */
#define TK_TIME_GRAMMAR "RFC 3339 (2026-11-24T10:00:00Z), a date (2026-11-24), now, -24h / -7d, or epoch seconds"

/* Wall-clock now, and a monotonic clock for measuring durations. */
int64_t tk_now_ms(void);
uint64_t tk_mono_ns(void);

#endif

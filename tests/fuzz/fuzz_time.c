/* libFuzzer target: time parsing (src/base/tktime.c). Invariants: a parsed
 * RFC 3339 time in the storable range formats back to text that parses to
 * the same instant (with and without milliseconds when they are zero);
 * the day of a time contains it; civil <-> day conversions round trip;
 * epoch seconds (CloudTrail's JSON numbers) convert only when in range. */
#include "base/tk.h"
#include "base/tktime.h"
#include "fuzz_common.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define YEAR0_MS (-62167219200000LL) /* 0000-01-01T00:00:00Z */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t ms;
    int rc = tk_time_parse((const char *)data, size, &ms);
    FZ_ASSERT(rc == 0 || rc == TK_EINVAL, "rc %d", rc);
    if (rc == 0) {
        FZ_ASSERT(size >= 20, "accepted %zu bytes", size);
        if (ms >= YEAR0_MS && ms <= TK_TIME_MAX_MS) {
            char txt[32];
            size_t n = tk_time_format(ms, 1, txt);
            int64_t back;
            FZ_ASSERT(n == 24 && tk_time_parse(txt, n, &back) == 0 && back == ms,
                      "%.*s -> %lld -> %s does not round trip", (int)size, (const char *)data,
                      (long long)ms, txt);
            n = tk_time_format(ms, 0, txt);
            FZ_ASSERT(tk_time_parse(txt, n, &back) == 0 && back == ms, "%s (short form) does not round trip", txt);
            int64_t day = tk_time_day(ms);
            FZ_ASSERT(day * TK_MS_PER_DAY <= ms && ms < (day + 1) * TK_MS_PER_DAY, "day %lld does not hold %lld",
                      (long long)day, (long long)ms);
            char ds[16];
            tk_time_day_str(day, ds);
            FZ_ASSERT(strlen(ds) == 8 && !memcmp(ds, txt, 4) && !memcmp(ds + 4, txt + 5, 2) &&
                          !memcmp(ds + 6, txt + 8, 2),
                      "day name %s for %s", ds, txt);
        }
    }
    if (size >= 8) {
        double s;
        memcpy(&s, data, 8);
        rc = tk_time_from_epoch_s(s, &ms);
        FZ_ASSERT(rc == 0 || rc == TK_EINVAL, "epoch rc %d", rc);
        if (rc == 0)
            FZ_ASSERT(isfinite(s) && ms >= 0 && ms <= TK_TIME_MAX_MS, "epoch %g -> %lld", s, (long long)ms);
        else
            FZ_ASSERT(!isfinite(s) || s < 0 || s > (double)(TK_TIME_MAX_MS / 1000),
                      "epoch %.17g refused", s);
        int64_t z;
        memcpy(&z, data, 8);
        z %= 3652425; /* +- 10,000 years of days */
        int64_t y;
        unsigned m, d;
        tk_civil_from_days(z, &y, &m, &d);
        FZ_ASSERT(m >= 1 && m <= 12 && d >= 1 && d <= 31 && tk_days_from_civil(y, m, d) == z,
                  "day %lld -> %lld-%u-%u does not round trip", (long long)z, (long long)y, m, d);
    }
    return 0;
}

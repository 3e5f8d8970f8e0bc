/* trailkeep base: RFC 3339 parsing/formatting and clocks (see tktime.h).
 * Civil-date math follows Howard Hinnant's days_from_civil algorithm so no
 * call depends on the process time zone (timegm is not POSIX). */
#include "base/tktime.h"
#include "base/tk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t tk_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void tk_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t yy = (int64_t)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static int digits(const char *s, size_t n, size_t at, size_t k, int *out)
{
    int v = 0;
    if (at + k > n)
        return -1;
    for (size_t i = 0; i < k; i++) {
        char c = s[at + i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return 0;
}

int tk_time_parse(const char *s, size_t n, int64_t *ms)
{
    int Y, M, D, h, mi, se;
    if (digits(s, n, 0, 4, &Y) || n < 19 || s[4] != '-' || digits(s, n, 5, 2, &M) ||
        s[7] != '-' || digits(s, n, 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s, n, 11, 2, &h) || s[13] != ':' || digits(s, n, 14, 2, &mi) || s[16] != ':' ||
        digits(s, n, 17, 2, &se))
        return TK_EINVAL;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || mi > 59 || se > 60)
        return TK_EINVAL;
    int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (M == 2 && D == 29 && !leap)
        return TK_EINVAL;
    size_t i = 19;
    int frac_ms = 0;
    if (i < n && s[i] == '.') {
        i++;
        size_t start = i;
        int scale = 100;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            frac_ms += (s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start)
            return TK_EINVAL;
    }
    int64_t off_min = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' ||
            digits(s, n, i + 4, 2, &om) || oh > 23 || om > 59)
            return TK_EINVAL;
        off_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return TK_EINVAL;
    }
    if (i != n)
        return TK_EINVAL;
    int64_t days = tk_days_from_civil(Y, (unsigned)M, (unsigned)D);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + (se == 60 ? 59 : se) - off_min * 60;
    *ms = secs * 1000 + frac_ms;
    return 0;
}

int64_t tk_time_day(int64_t ms)
{
    return ms >= 0 ? ms / TK_MS_PER_DAY : -((-ms + TK_MS_PER_DAY - 1) / TK_MS_PER_DAY);
}

size_t tk_time_format(int64_t ms, int always_ms, char *out)
{
    int64_t day = tk_time_day(ms);
    int64_t rem = ms - day * TK_MS_PER_DAY;
    int64_t y;
    unsigned m, d;
    tk_civil_from_days(day, &y, &m, &d);
    int secs = (int)(rem / 1000), milli = (int)(rem % 1000);
    int n;
    if (milli || always_ms)
        n = snprintf(out, 32, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
                     secs / 3600, secs / 60 % 60, secs % 60, milli);
    else
        n = snprintf(out, 32, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m, d, secs / 3600,
                     secs / 60 % 60, secs % 60);
    return (size_t)n;
}

void tk_time_day_str(int64_t day, char *out)
{
    int64_t y;
    unsigned m, d;
    tk_civil_from_days(day, &y, &m, &d);
    unsigned yy = (unsigned)((y % 10000 + 10000) % 10000);
    out[0] = (char)('0' + yy / 1000); out[1] = (char)('0' + yy / 100 % 10);
    out[2] = (char)('0' + yy / 10 % 10); out[3] = (char)('0' + yy % 10);
    out[4] = (char)('0' + m / 10); out[5] = (char)('0' + m % 10);
    out[6] = (char)('0' + d / 10); out[7] = (char)('0' + d % 10);
    out[8] = 0;
}

int64_t tk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t tk_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int parse_relative(const char *s, size_t n, int64_t now_ms, int64_t *ms)
{
    int64_t v = 0;
    size_t i = 1;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        if (v > 1000000000LL)
            return TK_EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    if (i == 1 || i + 1 != n)
        return TK_EINVAL;
    int64_t unit;
    switch (s[i]) {
    case 's': unit = 1000; break;
    case 'm': unit = 60 * 1000; break;
    case 'h': unit = 3600 * 1000; break;
    case 'd': unit = TK_MS_PER_DAY; break;
    case 'w': unit = 7 * TK_MS_PER_DAY; break;
    default: return TK_EINVAL;
    }
    *ms = now_ms + (s[0] == '-' ? -v * unit : v * unit);
    return 0;
}

/* 9+ digits, optionally '.' and 1+ digits: epoch seconds, never a year. */
static int is_epoch_text(const char *s, size_t n)
{
    size_t d = strspn(s, "0123456789");
    if (d < 9)
        return 0;
    if (d == n)
        return 1;
    size_t f = s[d] == '.' ? strspn(s + d + 1, "0123456789") : 0;
    return f > 0 && d + 1 + f == n;
}

int tk_time_parse_any(const char *s, int64_t now_ms, int64_t *ms)
{
    size_t n = s ? strlen(s) : 0;
    int64_t t;
    int rc;
    if (!n)
        return TK_EINVAL;
    if (!strcmp(s, "now")) {
        t = now_ms;
        rc = 0;
    } else if (n >= 2 && (s[0] == '-' || s[0] == '+')) {
        rc = parse_relative(s, n, now_ms, &t);
    } else if (n == 10 && s[4] == '-' && s[7] == '-') {
        char full[32];
        snprintf(full, sizeof full, "%sT00:00:00Z", s);
        rc = tk_time_parse(full, strlen(full), &t);
    } else if (is_epoch_text(s, n)) {
        char *end = NULL;
        double d = strtod(s, &end);
        rc = end && !*end ? tk_time_from_epoch_s(d, &t) : TK_EINVAL;
    } else {
        rc = tk_time_parse(s, n, &t);
    }
    if (rc || t < 0 || t > TK_TIME_MAX_MS)
        return TK_EINVAL;
    *ms = t;
    return 0;
}

int tk_time_from_epoch_s(double s, int64_t *ms)
{
    /* The comparison is false for NaN too. */
    if (!(s >= 0.0 && s <= (double)(TK_TIME_MAX_MS / 1000)))
        return TK_EINVAL;
    *ms = (int64_t)(s * 1000.0);
    return 0;
}

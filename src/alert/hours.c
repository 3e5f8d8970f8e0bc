/* trailkeep alert business hours: "is this instant inside working time in
 * that time zone". Zones come from the system tz database
 * (/usr/share/zoneinfo, TZif v2+ 64-bit data) read once per rule at compile
 * time, so evaluation is a binary search over transitions, thread-safe, with
 * no TZ environment switching. Past the file's last transition the last
 * offset holds (Debian ships "fat" files with transitions through 2037). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alert/alert_internal.h"
#include "base/tk.h"
#include "base/tktime.h"

typedef struct tz {
    int64_t *at;      /* transition instants, seconds UTC, ascending */
    int32_t *off;     /* offset in effect from at[i] */
    uint32_t n;
    int32_t off0;     /* before the first transition */
} tz_t;

struct tk_hours {
    tz_t tz;
    uint8_t days;      /* bit d set: weekday d (0 = Sunday) is a working day */
    int start_min, end_min;  /* [start, end) minutes of the local day; end < start wraps midnight */
    int64_t *holidays; /* local day numbers, sorted */
    uint32_t nholidays;
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int valid_tzname(const char *s)
{
    if (!*s || s[0] == '/' || strstr(s, ".."))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '/' || *s == '_' || *s == '-' || *s == '+'))
            return 0;
    return 1;
}

static int tz_parse(const uint8_t *buf, size_t len, tz_t *tz);

static int tz_load(const char *name, tz_t *tz, char *err)
{
    memset(tz, 0, sizeof(*tz));
    if (!strcmp(name, "UTC") || !strcmp(name, "Z"))
        return 0;
    if (!valid_tzname(name))
        return tk_errf(err, TK_EINVAL, "time zone '%s' is not an IANA name like Asia/Shanghai", name);
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return tk_errf(err, TK_EINVAL, "time zone '%s' not found in the tz database (%s); use an IANA name like Europe/Berlin",
                       name, path);
    enum { TZ_MAX = 1 << 17 };
    uint8_t *buf = malloc(TZ_MAX);
    if (!buf) {
        fclose(f);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    size_t len = fread(buf, 1, TZ_MAX, f);
    fclose(f);
    int rc = tz_parse(buf, len, tz);
    free(buf);
    if (rc == TK_ENOMEM)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    if (rc)
        return tk_errf(err, TK_EINVAL, "time zone file %s is not a TZif file", path);
    return 0;
}

/* Parses TZif data (RFC 8536) into tz. 0, TK_EINVAL or TK_ENOMEM. */
static int tz_parse(const uint8_t *buf, size_t len, tz_t *tz)
{
    const uint8_t *p = buf, *end = buf + len;
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        goto bad;
    int v2 = p[4] >= '2';
    uint32_t c[6];
    for (int i = 0; i < 6; i++)
        c[i] = be32(p + 20 + 4 * i);
    /* isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt */
    size_t tsz = 4;
    if (v2) {
        size_t skip = 44 + (size_t)c[3] * 5 + (size_t)c[4] * 6 + c[5] + (size_t)c[2] * 8 + c[1] + c[0];
        if (skip + 44 > len)
            goto bad;
        p += skip;
        if (memcmp(p, "TZif", 4) != 0)
            goto bad;
        for (int i = 0; i < 6; i++)
            c[i] = be32(p + 20 + 4 * i);
        tsz = 8;
    }
    uint32_t timecnt = c[3], typecnt = c[4];
    p += 44;
    if (typecnt == 0 || (size_t)(end - p) < timecnt * (tsz + 1) + (size_t)typecnt * 6)
        goto bad;
    const uint8_t *times = p, *idx = p + timecnt * tsz, *types = idx + timecnt;
    tz->at = malloc((timecnt ? timecnt : 1) * sizeof(int64_t));
    tz->off = malloc((timecnt ? timecnt : 1) * sizeof(int32_t));
    if (!tz->at || !tz->off) {
        free(tz->at);
        free(tz->off);
        memset(tz, 0, sizeof(*tz));
        return TK_ENOMEM;
    }
    for (uint32_t i = 0; i < timecnt; i++) {
        int64_t t = tsz == 8 ? (int64_t)((uint64_t)be32(times + 8 * i) << 32 | be32(times + 8 * i + 4))
                             : (int64_t)(int32_t)be32(times + 4 * i);
        if (idx[i] >= typecnt)
            goto bad_free;
        tz->at[i] = t;
        tz->off[i] = (int32_t)be32(types + 6 * idx[i]);
    }
    tz->n = timecnt;
    /* before the first transition: the first standard-time type */
    tz->off0 = (int32_t)be32(types);
    for (uint32_t i = 0; i < typecnt; i++)
        if (!types[6 * i + 4]) {
            tz->off0 = (int32_t)be32(types + 6 * i);
            break;
        }
    return 0;
bad_free:
    free(tz->at);
    free(tz->off);
    memset(tz, 0, sizeof(*tz));
bad:
    return TK_EINVAL;
}

static int32_t tz_offset(const tz_t *tz, int64_t sec)
{
    if (tz->n == 0 || sec < tz->at[0])
        return tz->off0;
    uint32_t lo = 0, hi = tz->n; /* last at[i] <= sec */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= sec)
            lo = mid;
        else
            hi = mid;
    }
    return tz->off[lo];
}

static int64_t floordiv(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && ((a < 0) != (b < 0)));
}

int tk_tz_offset(const char *tzname, int64_t ms, int32_t *off, char *err)
{
    tz_t tz;
    int rc = tz_load(tzname, &tz, err);
    if (rc)
        return rc;
    *off = tz_offset(&tz, floordiv(ms, 1000));
    free(tz.at);
    free(tz.off);
    return 0;
}

static const char *DAYS[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static int day_idx(const char *s, size_t n)
{
    for (int i = 0; i < 7; i++)
        if (n >= 3 && !strncasecmp(s, DAYS[i], 3))
            return i;
    return -1;
}

/* "mon-fri", "mon,wed,fri", "sat-sun", "fri-mon" */
static int parse_days(const char *s, uint8_t *mask, char *err)
{
    *mask = 0;
    const char *p = s;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *dash = memchr(p, '-', n);
        int a = day_idx(p, dash ? (size_t)(dash - p) : n);
        int b = dash ? day_idx(dash + 1, n - (size_t)(dash + 1 - p)) : a;
        if (a < 0 || b < 0)
            return tk_errf(err, TK_EINVAL, "days '%s': use names like mon-fri or mon,wed,fri", s);
        for (int d = a;; d = (d + 1) % 7) {
            *mask |= (uint8_t)(1u << d);
            if (d == b)
                break;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    if (!*mask)
        return tk_errf(err, TK_EINVAL, "days is empty");
    return 0;
}

static int parse_hm(const char *s, const char **endp, int *min)
{
    char *e;
    long h = strtol(s, &e, 10), m = 0;
    if (e == s || h < 0 || h > 24)
        return -1;
    if (*e == ':') {
        const char *ms = e + 1;
        m = strtol(ms, &e, 10);
        if (e == ms || m < 0 || m > 59)
            return -1;
    }
    if (h == 24 && m)
        return -1;
    *min = (int)(h * 60 + m);
    *endp = e;
    return 0;
}

int tk_hours_compile(const cJSON *spec, tk_hours_t **out, char *err)
{
    if (!cJSON_IsObject(spec))
        return tk_errf(err, TK_EINVAL, "business hours are an object {\"tz\": \"Asia/Shanghai\", \"days\": \"mon-fri\", \"hours\": \"09:00-18:00\", \"holidays\": [...]}");
    tk_hours_t *h = calloc(1, sizeof(*h));
    if (!h)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    const cJSON *tzj = cJSON_GetObjectItemCaseSensitive(spec, "tz");
    const cJSON *dj = cJSON_GetObjectItemCaseSensitive(spec, "days");
    const cJSON *hj = cJSON_GetObjectItemCaseSensitive(spec, "hours");
    const cJSON *hol = cJSON_GetObjectItemCaseSensitive(spec, "holidays");
    int rc = tz_load(cJSON_IsString(tzj) ? tzj->valuestring : "UTC", &h->tz, err);
    if (rc)
        goto fail;
    if (tzj && !cJSON_IsString(tzj)) {
        rc = tk_errf(err, TK_EINVAL, "tz is a string");
        goto fail;
    }
    if ((rc = parse_days(cJSON_IsString(dj) ? dj->valuestring : "mon-fri", &h->days, err)))
        goto fail;
    const char *hs = cJSON_IsString(hj) ? hj->valuestring : "09:00-18:00", *e;
    if (parse_hm(hs, &e, &h->start_min) || *e != '-' || parse_hm(e + 1, &e, &h->end_min) || *e ||
        h->start_min == h->end_min) {
        rc = tk_errf(err, TK_EINVAL, "hours '%s': use HH:MM-HH:MM like 09:00-18:00 (end exclusive)", hs);
        goto fail;
    }
    if (hol) {
        if (!cJSON_IsArray(hol)) {
            rc = tk_errf(err, TK_EINVAL, "holidays is a list of dates YYYY-MM-DD");
            goto fail;
        }
        int n = cJSON_GetArraySize(hol);
        h->holidays = calloc((size_t)n + 1, sizeof(int64_t));
        if (!h->holidays) {
            rc = tk_errf(err, TK_ENOMEM, "out of memory");
            goto fail;
        }
        const cJSON *it;
        cJSON_ArrayForEach(it, hol)
        {
            unsigned y, m, d;
            char tail;
            if (!cJSON_IsString(it) || sscanf(it->valuestring, "%4u-%2u-%2u%c", &y, &m, &d, &tail) != 3 ||
                m < 1 || m > 12 || d < 1 || d > 31) {
                rc = tk_errf(err, TK_EINVAL, "holiday '%s' is not a date YYYY-MM-DD",
                             cJSON_IsString(it) ? it->valuestring : "?");
                goto fail;
            }
            int64_t day = tk_days_from_civil(y, m, d);
            uint32_t j = h->nholidays++;
            while (j > 0 && h->holidays[j - 1] > day) {
                h->holidays[j] = h->holidays[j - 1];
                j--;
            }
            h->holidays[j] = day;
        }
    }
    *out = h;
    return 0;
fail:
    tk_hours_free(h);
    return rc;
}

void tk_hours_free(tk_hours_t *h)
{
    if (!h)
        return;
    free(h->tz.at);
    free(h->tz.off);
    free(h->holidays);
    free(h);
}

int tk_hours_within(const tk_hours_t *h, int64_t ms)
{
    int64_t sec = floordiv(ms, 1000);
    int64_t local = sec + tz_offset(&h->tz, sec);
    int64_t day = floordiv(local, 86400);
    int min = (int)((local - day * 86400) / 60);
    /* an overnight shift (22:00-06:00) belongs to the day it started on */
    if (h->end_min < h->start_min && min < h->end_min)
        day--;
    else if (h->end_min < h->start_min ? min < h->start_min : (min < h->start_min || min >= h->end_min))
        return 0;
    int wd = (int)(((day % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
    if (!(h->days & (1u << wd)))
        return 0;
    uint32_t lo = 0, hi = h->nholidays;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (h->holidays[mid] == day)
            return 0;
        if (h->holidays[mid] < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 1;
}

/* Store micro-benchmark (not run by the test suite): append throughput with
 * ~1 KB ActionTrail-shaped events, seal time, bytes on disk per event vs raw
 * JSON and gzip -6, and "newest 50 by one attribute" lookup latency.
 * Build (release):
 *   cc -O2 -I src -o /tmp/bench_store tests/store/bench_store.c \
 *      build/h-store-rel/libtk_store.a build/h-store-rel/libtk_base.a \
 *      -lzstd -lroaring -lxxhash -lcrypto -lz -lpthread
 * usage: bench_store DIR [EVENTS] [FSYNC 0|1] [THREADS]
 * With THREADS > 1, that many threads append batches of 500 concurrently (as
 * HTTP ingest does), sharing group commits. */
#define _GNU_SOURCE
#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <zlib.h>

static uint64_t R = 42;
static uint64_t rnd(void)
{
    uint64_t z = (R += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* skewed pick: small indexes far more often, like real API mixes */
static unsigned pick(unsigned n)
{
    uint64_t a = rnd() % n, b = rnd() % n;
    return (unsigned)(a < b ? a : b);
}

static const char *SVC[] = {"Ecs", "Ram", "Oss", "Vpc", "Sts", "Rds", "Slb", "Kms", "ActionTrail", "Cms"};
static const char *API[] = {"DescribeInstances", "DeleteInstance", "RunInstances", "StopInstance",
                            "GetObject", "PutObject", "ListBuckets", "CreateUser", "AttachPolicyToUser",
                            "AssumeRole", "DescribeVpcs", "CreateAccessKey", "ConsoleSignin",
                            "DescribeDBInstances", "ModifySecurityGroupRule", "ListUsers",
                            "GetCallerIdentity", "DescribeRegions", "Decrypt", "DescribeMetricList"};
static const char *REG[] = {"cn-hangzhou", "cn-shanghai", "cn-beijing", "ap-southeast-1", "us-west-1"};
static const char *UA[] = {"aliyun-sdk-java/2.4.0 Java/1.8.0_292 Linux/5.10", "ALIYUN-CONSOLE",
                           "Terraform/1.5.7 terraform-provider-alicloud/1.210.0",
                           "aliyun-cli/3.0.180 (linux; amd64)", "python-requests/2.31.0 aliyun-python-sdk-core/2.13"};

typedef struct gev {
    char *json;
    uint32_t len;
    char acct[24], id[40];
    int64_t t;
    tk_term_t terms[12];
    char vals[12][64];
    int nt;
} gev_t;

static void uuid(char *out)
{
    uint64_t a = rnd(), b = rnd();
    sprintf(out, "%08x-%04x-4%03x-a%03x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
            (unsigned)a & 0xfff, (unsigned)(b >> 52) & 0xfff, (unsigned long long)(b & 0xffffffffffffull));
}

static void term(gev_t *e, tk_attr_t a, const char *v)
{
    snprintf(e->vals[e->nt], sizeof e->vals[0], "%s", v);
    e->terms[e->nt].attr = a;
    e->terms[e->nt].val.p = e->vals[e->nt];
    e->terms[e->nt].val.len = (uint32_t)strlen(e->vals[e->nt]);
    e->nt++;
}

static void gen(gev_t *e, int64_t t)
{
    memset(e, 0, sizeof *e);
    snprintf(e->acct, sizeof e->acct, "1%015u", pick(5));
    uuid(e->id);
    e->t = t;
    unsigned ai = pick(20), si = ai % 10, user = pick(300), ip = pick(800);
    const char *rw = ai % 3 ? "Read" : "Write";
    char ts[40], rq[40], ak[32], uname[32], ipb[32], rname[64];
    tk_time_format(t, 0, ts);
    uuid(rq);
    snprintf(ak, sizeof ak, "LTAI5t%014u", user * 7919u % 99999999u);
    snprintf(uname, sizeof uname, "user-%u", user);
    snprintf(ipb, sizeof ipb, "10.%u.%u.%u", ip % 7, ip / 7 % 250, ip % 250);
    snprintf(rname, sizeof rname, "i-bp1%014llx", (unsigned long long)(rnd() % 5000));
    char buf[4096];
    int n = snprintf(buf, sizeof buf,
        "{\"eventId\":\"%s\",\"eventVersion\":\"1\",\"eventTime\":\"%s\",\"eventCategory\":\"Management\","
        "\"eventType\":\"ApiCall\",\"eventRW\":\"%s\",\"eventSource\":\"%s.aliyuncs.com\",\"serviceName\":\"%s\","
        "\"eventName\":\"%s\",\"acsRegion\":\"%s\",\"requestId\":\"%s\",\"apiVersion\":\"2014-05-26\","
        "\"sourceIpAddress\":\"%s\",\"userAgent\":\"%s\",\"userIdentity\":{\"type\":\"ram-user\","
        "\"principalId\":\"2%014u\",\"accountId\":\"%s\",\"userName\":\"%s\",\"accessKeyId\":\"%s\","
        "\"sessionContext\":{\"attributes\":{\"creationDate\":\"%s\",\"mfaAuthenticated\":\"false\"}}},"
        "\"requestParameters\":{\"RegionId\":\"%s\",\"InstanceId\":\"%s\",\"PageSize\":%u,\"PageNumber\":%u,"
        "\"AcceptLanguage\":\"en-US\",\"ClientToken\":\"%08llx\"},\"responseElements\":{\"RequestId\":\"%s\"},"
        "\"errorCode\":\"%s\",\"errorMessage\":\"\",\"resourceType\":\"ACS::%s::Instance\",\"resourceName\":\"%s\","
        "\"referencedResources\":{\"ACS::%s::Instance\":[\"%s\"]},\"isGlobal\":false,"
        "\"recipientAccountId\":\"%s\",\"sensitiveAction\":%s}",
        e->id, ts, rw, SVC[si], SVC[si], API[ai], REG[pick(5)], rq, ipb, UA[pick(5)], user, e->acct,
        uname, ak, ts, REG[pick(5)], rname, 10 + pick(90), 1 + pick(5), (unsigned long long)(rnd() & 0xffffffff),
        rq, rnd() % 20 ? "" : "Forbidden.RAM", SVC[si], rname, SVC[si], rname, e->acct,
        ai % 7 == 1 ? "true" : "false");
    e->json = malloc((size_t)n + 1);
    memcpy(e->json, buf, (size_t)n + 1);
    e->len = (uint32_t)n;
    term(e, TK_ATTR_SERVICENAME, SVC[si]);
    term(e, TK_ATTR_EVENTNAME, API[ai]);
    term(e, TK_ATTR_USER, uname);
    term(e, TK_ATTR_RESOURCETYPE, "ACS::Ecs::Instance");
    term(e, TK_ATTR_RESOURCENAME, rname);
    term(e, TK_ATTR_EVENTRW, rw);
    term(e, TK_ATTR_ACCESSKEYID, ak);
    term(e, TK_ATTR_SENSITIVEACTION, ai % 7 == 1 ? "true" : "false");
    term(e, TK_ATTR_SOURCEIP, ipb);
    term(e, TK_ATTR_EVENTTYPE, "ApiCall");
    char src[64];
    snprintf(src, sizeof src, "%s.aliyuncs.com", SVC[si]);
    term(e, TK_ATTR_EVENTSOURCE, src);
}

#include <time.h>
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct worker {
    tk_store_t *s;
    struct gev *ev;
    size_t from, to, batch;
    int rc;
    double *lat; /* per call, microseconds */
    size_t nlat;
} worker_t;

static void *work(void *arg);

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int stop50(void *ud, const tk_stored_event_t *ev)
{
    (void)ev;
    return ++*(int *)ud >= 50;
}

static void fill(tk_event_t *e, const gev_t *g)
{
    memset(e, 0, sizeof *e);
    e->time_ms = g->t;
    e->account = (tk_str_t){g->acct, (uint32_t)strlen(g->acct)};
    e->event_id = (tk_str_t){g->id, (uint32_t)strlen(g->id)};
    e->json = (tk_str_t){g->json, g->len};
    e->terms = g->terms;
    e->nterms = (uint32_t)g->nt;
}

static void *work(void *arg)
{
    worker_t *w = arg;
    tk_event_t *batch = calloc(w->batch, sizeof *batch);
    char err[TK_ERRLEN];
    for (size_t i = w->from; i < w->to && !w->rc; i += w->batch) {
        size_t k = w->to - i < w->batch ? w->to - i : w->batch;
        for (size_t j = 0; j < k; j++)
            fill(&batch[j], &w->ev[i + j]);
        uint64_t t0 = tk_mono_ns();
        w->rc = tk_store_append(w->s, batch, k, NULL, NULL, err);
        w->lat[w->nlat++] = (double)(tk_mono_ns() - t0) / 1e3;
    }
    free(batch);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_store DIR [EVENTS] [FSYNC]\n");
        return 2;
    }
    size_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 200000;
    int do_fsync = argc > 3 ? atoi(argv[3]) : 1;
    int days = 10;
    int64_t t0 = 20400LL * TK_MS_PER_DAY;
    gev_t *ev = malloc(n * sizeof *ev);
    uint64_t raw = 0;
    for (size_t i = 0; i < n; i++) {
        gen(&ev[i], t0 + (int64_t)((double)i / n * days * TK_MS_PER_DAY));
        raw += ev[i].len + 1;
    }
    /* gzip -6 of the same JSON Lines, for the ratio */
    z_stream z = {0};
    deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
    uint64_t gz = 0;
    unsigned char out[1 << 16];
    for (size_t i = 0; i < n; i++) {
        char nl = '\n';
        for (int part = 0; part < 2; part++) {
            z.next_in = part ? (unsigned char *)&nl : (unsigned char *)ev[i].json;
            z.avail_in = part ? 1 : ev[i].len;
            do {
                z.next_out = out;
                z.avail_out = sizeof out;
                deflate(&z, Z_NO_FLUSH);
                gz += sizeof out - z.avail_out;
            } while (z.avail_in);
        }
    }
    int zr;
    do {
        z.next_out = out;
        z.avail_out = sizeof out;
        zr = deflate(&z, Z_FINISH);
        gz += sizeof out - z.avail_out;
    } while (zr != Z_STREAM_END);
    deflateEnd(&z);

    tk_store_opts_t o = {.dir = argv[1], .no_fsync = !do_fsync};
    tk_store_t *s;
    char err[TK_ERRLEN];
    if (tk_store_open(&o, &s, err)) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }
    int nth = argc > 4 ? atoi(argv[4]) : 1;
    size_t B = nth > 1 ? 500 : 1000;
    double c0 = cpu_s();
    uint64_t a0 = tk_mono_ns();
    pthread_t th[64];
    worker_t wk[64];
    if (nth < 1 || nth > 64)
        nth = 1;
    for (int t = 0; t < nth; t++) {
        wk[t] = (worker_t){s, ev, n * t / nth, n * (t + 1) / nth, B, 0, NULL, 0};
        wk[t].lat = malloc((n / B / nth + 2) * sizeof(double));
        pthread_create(&th[t], NULL, work, &wk[t]);
    }
    size_t nl = 0;
    double *all = malloc((n / B + 2 * (size_t)nth + 2) * sizeof(double));
    for (int t = 0; t < nth; t++) {
        pthread_join(th[t], NULL);
        if (wk[t].rc) {
            fprintf(stderr, "append failed: %d\n", wk[t].rc);
            return 1;
        }
        memcpy(all + nl, wk[t].lat, wk[t].nlat * sizeof(double));
        nl += wk[t].nlat;
        free(wk[t].lat);
    }
    uint64_t a1 = tk_mono_ns();
    double c1 = cpu_s();
    if (tk_store_seal(s, err)) {
        fprintf(stderr, "seal: %s\n", err);
        return 1;
    }
    uint64_t a2 = tk_mono_ns();
    double c2 = cpu_s();
    tk_store_stats_t st;
    tk_store_stats(s, &st);
    double secs = (double)(a1 - a0) / 1e9, ssecs = (double)(a2 - a1) / 1e9;
    printf("events %zu, raw JSON %.1f MB (%.0f B/event)\n", n, raw / 1e6, (double)raw / n);
    printf("append (fsync=%d, %d thread(s), batches of %zu, includes automatic seals): %.0f events/s (%.2f s)\n",
           do_fsync, nth, B, n / secs, secs);
    qsort(all, nl, sizeof *all, cmp_d);
    printf("append call latency (%zu calls): p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", nl,
           all[nl / 2] / 1e3, all[nl * 99 / 100] / 1e3, all[nl - 1] / 1e3);
    free(all);
    printf("final seal: %.2f s; append+seal: %.0f events/s\n", ssecs, n / (secs + ssecs));
    printf("CPU time: append %.2f s (%.0f events/s per core), seal %.2f s (%.0f events/s per core)\n",
           c1 - c0, n / (c1 - c0), c2 - c1, n / (c2 - c1));
    printf("segments only: %.1f MB = %.1f%% of raw, %.1f B/event; WAL still on disk: %.1f MB\n",
           (st.disk_bytes - st.wal_bytes) / 1e6, 100.0 * (st.disk_bytes - st.wal_bytes) / raw,
           (double)(st.disk_bytes - st.wal_bytes) / n, st.wal_bytes / 1e6);
    printf("disk: segments+WAL %.1f MB = %.1f%% of raw, %.1f B/event (%llu segments); gzip -6: %.1f%%\n",
           st.disk_bytes / 1e6, 100.0 * st.disk_bytes / raw, (double)st.disk_bytes / n,
           (unsigned long long)st.segments, 100.0 * gz / raw);
    /* lookups: newest 50 by one attribute over a 1-day and a 7-day window */
    int nq = 2000;
    double *lat = malloc(nq * sizeof *lat);
    for (int pass = 0; pass < 2; pass++) {
        R = 7;
        for (int q = 0; q < nq; q++) {
            gev_t *g = &ev[rnd() % n];
            int ti = (int)(rnd() % (uint64_t)g->nt);
            tk_lookup_req_t req = {.account = g->acct, .nattrs = 1};
            req.attrs[0].key = g->terms[ti].attr;
            req.attrs[0].value = g->vals[ti];
            int64_t span = q % 2 ? 7 * TK_MS_PER_DAY : TK_MS_PER_DAY;
            req.end_ms = g->t + 3600000;
            req.start_ms = req.end_ms - span;
            int cnt = 0;
            uint64_t q0 = tk_mono_ns();
            if (tk_store_lookup(s, &req, stop50, &cnt, err) < 0) {
                fprintf(stderr, "lookup: %s\n", err);
                return 1;
            }
            lat[q] = (double)(tk_mono_ns() - q0) / 1e3;
        }
    }
    qsort(lat, nq, sizeof *lat, cmp_d);
    printf("lookup newest 50 by one attribute (warm, %d queries): p50 %.0f us, p99 %.0f us, max %.0f us\n",
           nq, lat[nq / 2], lat[nq * 99 / 100], lat[nq - 1]);
    tk_store_close(s);
    for (size_t i = 0; i < n; i++)
        free(ev[i].json);
    free(ev);
    free(lat);
    return 0;
}

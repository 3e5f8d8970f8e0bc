/* trailkeep benchmark: event parsing throughput (src/event), the hot path of
 * import and HTTP ingest. Generates ~1 KB ActionTrail events in memory (no
 * disk in the measurement) and times tk_event_parse over JSON Lines, a JSON
 * array, and CloudTrail records; prints events/s and MB/s per shape, plus
 * bare simdjson validation of the same lines as the ceiling.
 * Usage: bench_parse [events (default 200000)] [rounds (default 5)] [jsonl|array|cloudtrail] [chunk KiB (16384)] */
#include "base/buf.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "event/json.h"
#include "event/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *k_names[] = {"DescribeInstances", "CreateAccessKey", "DeleteInstance", "GetObject",
                                "ConsoleSignin", "AttachPolicyToUser", "RunInstances", "ListUsers"};
static const char *k_svcs[] = {"Ecs", "Ram", "Ecs", "Oss", "Ram", "Ram", "Ecs", "Ram"};

/* One ~1 KB ActionTrail event, deterministic in i. */
static void gen_at(tk_buf_t *o, size_t i)
{
    unsigned r = (unsigned)(i * 2654435761u);
    const char *name = k_names[r % 8], *svc = k_svcs[r % 8];
    tk_buf_printf(o,
                  "{\"eventVersion\":\"1\",\"eventId\":\"%08x-%04x-4%03x-8%03x-%012zx\",\"eventTime\":\"2026-11-%02uT%02u:%02u:%02uZ\","
                  "\"eventCategory\":\"Management\",\"eventType\":\"ApiCall\",\"eventRW\":\"%s\",\"eventSource\":\"%s.aliyuncs.com\","
                  "\"serviceName\":\"%s\",\"eventName\":\"%s\",\"acsRegion\":\"cn-hangzhou\",\"requestId\":\"%08X-1D2C-4B3A-9F8E-%012zX\","
                  "\"apiVersion\":\"2014-05-26\",\"sourceIpAddress\":\"203.0.%u.%u\",\"userAgent\":\"AlibabaCloud (Linux; amd64) Go/1.21 Core/1.62 aliyun-cli/v3.0.%u\","
                  "\"userIdentity\":{\"type\":\"ram-user\",\"principalId\":\"2035%011u\",\"accountId\":\"1%015u\",\"userName\":\"user-%u\","
                  "\"accessKeyId\":\"LTAI5t%014u\",\"sessionContext\":{\"attributes\":{\"creationDate\":\"2026-11-24T09:00:00Z\",\"mfaAuthenticated\":\"false\"}}},"
                  "\"requestParameters\":{\"RegionId\":\"cn-hangzhou\",\"InstanceId\":\"i-bp1%016x\",\"PageSize\":50,\"PageNumber\":1,"
                  "\"Tag\":[{\"Key\":\"env\",\"Value\":\"prod\"},{\"Key\":\"team\",\"Value\":\"t%u\"}],\"AcceptLanguage\":\"en-US\"},"
                  "\"responseElements\":{\"RequestId\":\"%08X-1D2C-4B3A-9F8E-%012zX\",\"TotalCount\":%u},"
                  "\"resourceType\":\"ACS::ECS::Instance\",\"resourceName\":\"i-bp1%016x\",\"referencedResources\":{\"ACS::ECS::Instance\":[\"i-bp1%016x\"]},"
                  "\"errorCode\":\"\",\"errorMessage\":\"\",\"isGlobal\":false,\"recipientAccountId\":\"1%015u\"}",
                  r, r >> 16, r & 0xfff, (r >> 4) & 0xfff, i, 1 + r % 28, r % 24, r % 60, (r >> 8) % 60,
                  (r & 1) ? "Read" : "Write", svc[0] == 'E' ? "ecs" : svc[0] == 'O' ? "oss" : "ram", svc, name, r, i,
                  r % 256, (r >> 8) % 256, r % 100, r % 100000, r % 4, r % 500, r % 1000000, r, r % 16, r, i, r % 1000,
                  r, r, r % 4);
}

static size_t bench_chunk = 16u << 20;

static void bench(const char *label, const char *data, size_t len, size_t nev, tk_format_t fmt, int rounds,
                  int borrow, int lines)
{
    tk_batch_t *b = tk_batch_create();
    double best = 1e30;
    size_t got = 0, rej = 0;
    char err[TK_ERRLEN];
    for (int r = 0; r < rounds; r++) {
        uint64_t t0 = tk_mono_ns();
        /* JSON Lines in pieces cut at newlines (16 MiB by default), as import
         * does: the batch is reset per piece, so its memory stays bounded. */
        const char *p = data, *end = data + len;
        got = rej = 0;
        while (p < end) {
            const char *q = end;
            if (lines && (size_t)(end - p) > bench_chunk) {
                q = p + (bench_chunk);
                while (q < end && *q != '\n')
                    q++;
            }
            tk_batch_reset(b);
            tk_parse_opts_t o = {.format = fmt, .borrow_input = borrow};
            if (tk_event_parse(b, p, (size_t)(q - p), &o, err)) {
                fprintf(stderr, "parse failed: %s\n", err);
                exit(1);
            }
            got += tk_batch_count(b);
            rej += tk_batch_reject_count(b);
            p = q;
        }
        double s = (double)(tk_mono_ns() - t0) / 1e9;
        if (s < best)
            best = s;
    }
    if (got != nev || rej) {
        fprintf(stderr, "%s: expected %zu events, got %zu (%zu rejects)\n", label, nev, got, rej);
        exit(1);
    }
    printf("%-38s %9zu events %7.1f MB  %6.3f s  %10.0f events/s  %7.0f MB/s\n", label, nev, len / 1e6, best,
           nev / best, len / 1e6 / best);
    tk_batch_destroy(b);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 200000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    tk_buf_t jl = TK_BUF_INIT, arr = TK_BUF_INIT, ct = TK_BUF_INIT;
    tk_buf_putc(&arr, '[');
    for (size_t i = 0; i < n; i++) {
        size_t at = jl.len;
        gen_at(&jl, i);
        if (i)
            tk_buf_append(&arr, ",\n", 2);
        tk_buf_append(&arr, jl.p + at, jl.len - at);
        tk_buf_putc(&jl, '\n');
    }
    tk_buf_putc(&arr, ']');
    /* CloudTrail records of similar size. */
    size_t nct = n / 4;
    tk_buf_puts(&ct, "{\"Records\":[");
    for (size_t i = 0; i < nct; i++) {
        unsigned r = (unsigned)(i * 2654435761u);
        tk_buf_printf(&ct,
                      "%s{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"AssumedRole\",\"principalId\":\"AROA2N7TQQRGKJYPCLOG0:cli\","
                      "\"arn\":\"arn:aws:sts::494659789341:assumed-role/test-role/cli\",\"accountId\":\"494659789341\",\"accessKeyId\":\"ASIA6FTSFH98XNF7DFZB\","
                      "\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"AROA2N7TQQRGKJYPCLOG0\",\"arn\":\"arn:aws:iam::494659789341:role/test-role\","
                      "\"accountId\":\"494659789341\",\"userName\":\"test-role\"},\"attributes\":{\"creationDate\":\"2024-10-17T20:07:50Z\",\"mfaAuthenticated\":\"false\"}}},"
                      "\"eventTime\":\"2024-10-17T20:%02u:%02uZ\",\"eventSource\":\"iam.amazonaws.com\",\"eventName\":\"CreateAccessKey\",\"awsRegion\":\"us-east-1\","
                      "\"sourceIPAddress\":\"88.223.%u.%u\",\"userAgent\":\"aws-cli/2.17.0 Python/3.11\",\"requestParameters\":{\"userName\":\"u%u\"},"
                      "\"responseElements\":{\"accessKey\":{\"accessKeyId\":\"AKIA%016u\",\"status\":\"Active\",\"userName\":\"u%u\",\"createDate\":\"Oct 17, 2024, 8:10:00 PM\"}},"
                      "\"requestID\":\"%08x-aaaa-bbbb-cccc-%012zx\",\"eventID\":\"%08x-1111-4222-8333-%012zx\",\"readOnly\":false,\"eventType\":\"AwsApiCall\","
                      "\"managementEvent\":true,\"recipientAccountId\":\"494659789341\",\"eventCategory\":\"Management\","
                      "\"tlsDetails\":{\"tlsVersion\":\"TLSv1.3\",\"cipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"clientProvidedHostHeader\":\"iam.amazonaws.com\"}}",
                      i ? "," : "", r % 60, (r >> 8) % 60, r % 256, (r >> 8) % 256, r % 1000, r, r % 1000, r, i, r, i);
    }
    tk_buf_puts(&ct, "]}");

    printf("bench_parse: %zu ActionTrail events, %.0f bytes/event on average; best of %d rounds\n", n,
           (double)jl.len / n, rounds);
    /* Ceiling: simdjson validation alone, line by line. */
    tk_jparser_t *jp = tk_jparser_create();
    double best = 1e30;
    for (int r = 0; r < rounds; r++) {
        uint64_t t0 = tk_mono_ns();
        const char *p = jl.p, *end = jl.p + jl.len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            tk_jv_t root;
            if (tk_jparse(jp, p, (size_t)(nl - p), (size_t)(end - nl) > 64, &root))
                return 1;
            p = nl + 1;
        }
        double s = (double)(tk_mono_ns() - t0) / 1e9;
        if (s < best)
            best = s;
    }
    tk_jparser_destroy(jp);
    printf("%-38s %9zu events %7.1f MB  %6.3f s  %10.0f events/s  %7.0f MB/s\n", "simdjson DOM only (ceiling)", n,
           jl.len / 1e6, best, n / best, jl.len / 1e6 / best);
    const char *only = argc > 3 ? argv[3] : "";
    if (argc > 4)
        bench_chunk = strtoull(argv[4], NULL, 10) << 10;
    if (!*only || strcmp(only, "jsonl") == 0) {
        bench("ActionTrail JSON Lines", jl.p, jl.len, n, TK_FMT_AUTO, rounds, 0, 1);
        bench("ActionTrail JSON Lines, borrow_input", jl.p, jl.len, n, TK_FMT_AUTO, rounds, 1, 1);
    }
    if (!*only || strcmp(only, "array") == 0)
        bench("ActionTrail JSON array", arr.p, arr.len, n, TK_FMT_AUTO, rounds, 0, 0);
    if (!*only || strcmp(only, "cloudtrail") == 0)
        bench("CloudTrail {\"Records\"} (mapped)", ct.p, ct.len, nct, TK_FMT_AUTO, rounds, 0, 0);
    tk_buf_free(&jl);
    tk_buf_free(&arr);
    tk_buf_free(&ct);
    return 0;
}

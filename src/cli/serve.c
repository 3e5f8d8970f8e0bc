/* trailkeep serve: runs the HTTP service. Opens the store and the meta
 * database of one data directory, creates the first admin key on first start
 * (printed once), serves until SIGINT/SIGTERM, then stops accepting, lets
 * requests finish and closes the store. A background thread seals the WAL
 * periodically and runs the retention purge daily at the configured UTC hour. */
#include "cli/cli.h"
#include "cli/util.h"

#include "alert/notify.h"
#include "alert/service.h"
#include "base/egress.h"
#include "base/fs.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "http/route_alerts.h"
#include "http/route_insights.h"
#include "insight/service.h"
#include "http/server.h"
#include "meta/meta.h"
#include "query/lookup.h"
#include "store/store.h"
#include "trail/dest.h"
#include "trail/trail.h"

#include <cjson/cJSON.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct serve_cfg {
    char *data, *listen, *access_log, *tls_cert, *tls_key;
    char *smtp_url, *smtp_from, *smtp_user, *smtp_password, *smtp_ca;
    int smtp_starttls, no_alerts, no_insights;
    long insight_tick;
    long alert_retry_max;
    long max_body, max_decompressed, max_events, purge_hour, retention_days, threads;
    long max_future_skew;
    long max_request_memory;
    long max_inflight, max_page, seal_interval, max_connections;
    long max_connections_per_ip, workers, header_timeout, body_timeout, body_idle_timeout;
    long trail_file_age, trail_file_events, trail_digest_period;
    double lookup_rate;
    int metrics_open_loopback, no_purge, purge_on_start;
    int allow_private_endpoints;     /* egress policy: private/loopback endpoints allowed */
    char **trail_folder_roots;       /* --trail-folder-root, repeatable; owned */
    size_t ntrail_folder_roots;
} serve_cfg_t;

static void usage(FILE *f)
{
    fputs("usage: trailkeep serve [options]\n\n"
          "Runs the HTTP API: ingest (POST /v1/events), LookupEvents (/v1/lookup and the\n"
          "CloudTrail-compatible POST /), resource history, /healthz and /metrics.\n"
          "On first start (no account in DIR/meta.db) it creates account 100000000000000\n"
          "and an admin key, and prints the key id and secret ONCE.\n\n"
          "options (flags override the config file):\n"
          "  --config FILE          JSON file with the same keys as the flags, '_' or '-'\n"
          "                         (e.g. {\"listen\":\"0.0.0.0:8460\",\"retention_days\":180})\n"
          "  --data DIR             data directory (default $TRAILKEEP_DATA or ./data)\n"
          "  --listen ADDR:PORT     address to listen on (default 127.0.0.1:8460; [::1]:8460 for IPv6)\n"
          "  --max-body BYTES       largest request body as sent (default 16777216 = 16 MiB)\n"
          "  --max-decompressed BYTES  largest gzip-decompressed body (default 67108864 = 64 MiB)\n"
          "  --max-events N         events per ingest request; parsing stops there (default 10000)\n"
          "  --max-future-skew SECS  reject events timed later than now + SECS\n"
          "                         (EventTimeInFuture; default 86400 = 1 day, 0 = accept any)\n"
          "  --max-request-memory BYTES  memory for bodies, decompression and parsing of all\n"
          "                         requests in flight; past it 503 + Retry-After (default 1073741824)\n"
          "  --purge-hour H         UTC hour of the daily retention purge, 0-23 (default 3)\n"
          "  --retention-days N     default retention; per-account values from\n"
          "                         `trailkeep accounts set ID --retention-days N` win (default 90)\n"
          "  --no-purge             never run the retention purge in the service\n"
          "  --purge-on-start       also seal and purge once right after starting\n"
          "  --seal-interval SECS   seal the WAL into segments this often (default 60)\n"
          "  --threads N            epoll I/O threads (default 0 = one per CPU, 2-8); idle\n"
          "                         sockets cost no thread\n"
          "  --workers N            handler threads for every route but /healthz (default 0 =\n"
          "                         4 per CPU, 16-64)\n"
          "  --max-connections N    concurrent connections (default: open-file limit - 256)\n"
          "  --max-connections-per-ip N  concurrent connections from one address (default 128)\n"
          "  --header-timeout SECS  a request's headers must arrive within this of the accept\n"
          "                         or of the previous response (default 10)\n"
          "  --body-timeout SECS    ... and its body within this of the headers (default 120)\n"
          "  --body-idle-timeout SECS  cut a connection whose body or response moves no byte\n"
          "                         for this long (default 30)\n"
          "  --max-inflight N       concurrent appends before 503 + Retry-After (default 64)\n"
          "  --lookup-rate R        read requests per second per key, token bucket with a\n"
          "                         burst of 2R; 0 = unlimited (default 50)\n"
          "  --max-page N           largest MaxResults on /v1/lookup (default 50)\n"
          "  --metrics-open-loopback  serve /metrics without a key to 127.0.0.1/::1 clients\n"
          "  --access-log FILE      one JSON line per request (default stderr; '-' = stderr,\n"
          "                         'off' = none)\n"
          "  --tls-cert FILE --tls-key FILE  serve HTTPS with this PEM certificate and key\n"
          "  --trail-file-age SECS  a trail's file closes this long after its first event (default 60)\n"
          "  --trail-file-events N  ... or at N events (default 10000); see `trailkeep trails --help`\n"
          "  --trail-digest-period SECS  each logging trail writes a signed digest this often (default 3600)\n"
          "  --trail-folder-root DIR  folder trails may write only under DIR (repeatable;\n"
          "                         default DATA/trail-folders); see docs/security.md\n"
          "  --allow-private-endpoints  let tenants' S3 endpoints, webhooks and syslog hosts\n"
          "                         reach private (10/8, 172.16/12, 192.168/16, 100.64/10,\n"
          "                         fc00::/7) and loopback addresses; link-local and cloud\n"
          "                         metadata addresses stay refused\n"
          "  --no-alerts            do not evaluate alert rules in this process\n"
          "  --smtp-url URL         mail server for alert emails: smtp://host:port or smtps://...\n"
          "  --smtp-from ADDR       sender address (default trailkeep@localhost)\n"
          "  --smtp-user U          SMTP authentication (optional), with the password from\n"
          "  --smtp-password-file F  F (one line), or TRAILKEEP_SMTP_PASSWORD in the\n"
          "                         environment, or smtp_password in --config; never\n"
          "                         on the command line, where other users can read it\n"
          "  --smtp-starttls        require STARTTLS on smtp://\n"
          "  --smtp-ca FILE         PEM CA bundle that signs the mail server's certificate\n"
          "  --alert-retry-max SECS longest wait between notification retries (default 300)\n"
          "  --no-insights          do not run the Insights models in this process\n"
          "  --insight-tick-seconds S  judge completed minutes this often (default 60)\n\n"
          "examples:\n"
          "  trailkeep serve --data /var/lib/trailkeep --listen 0.0.0.0:8460\n"
          "  trailkeep serve --config /etc/trailkeep.json --access-log /var/log/trailkeep.jsonl\n",
          f);
}

/* ----------------------------------------------------------- config file */

static int cfg_set(serve_cfg_t *c, const char *key, const char *val, char *err);

static int load_config(serve_cfg_t *c, const char *path, char *err)
{
    char *txt = NULL;
    size_t n = 0;
    int rc = tk_fs_read_all(path, &txt, &n, err);
    if (rc)
        return rc;
    cJSON *j = cJSON_ParseWithLength(txt, n);
    free(txt);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return tk_errf(err, TK_EINVAL, "config %s: not a JSON object (expected {\"listen\":\"...\"})", path);
    }
    cJSON *it;
    rc = 0;
    cJSON_ArrayForEach(it, j)
    {
        char val[64];
        const char *v = NULL;
        if (cJSON_IsString(it))
            v = it->valuestring;
        else if (cJSON_IsBool(it))
            v = cJSON_IsTrue(it) ? "true" : "false";
        else if (cJSON_IsNumber(it)) {
            snprintf(val, sizeof val, "%.17g", it->valuedouble);
            v = val;
        }
        char key[64];
        snprintf(key, sizeof key, "%s", it->string);
        for (char *p = key; *p; p++)
            if (*p == '_')
                *p = '-';
        if (!v) {
            rc = tk_errf(err, TK_EINVAL, "config %s: \"%s\" must be a string, number or boolean", path,
                         it->string);
            break;
        }
        if ((rc = cfg_set(c, key, v, err)))
            break;
    }
    cJSON_Delete(j);
    return rc;
}

static int set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = strdup(v);
    return *dst ? 0 : TK_ENOMEM;
}

static int set_long(long *dst, const char *key, const char *v, long lo, long hi, char *err)
{
    if (tk_cli_parse_long(v, lo, hi, dst))
        return tk_errf(err, TK_EINVAL, "--%s '%s' must be a whole number from %ld to %ld", key, v, lo, hi);
    return 0;
}

static int set_bool(int *dst, const char *key, const char *v, char *err)
{
    if (!strcmp(v, "true") || !strcmp(v, "1"))
        *dst = 1;
    else if (!strcmp(v, "false") || !strcmp(v, "0"))
        *dst = 0;
    else
        return tk_errf(err, TK_EINVAL, "%s must be true or false", key);
    return 0;
}

/* A secret from a file (the whole file, one trailing newline dropped): not
 * on the command line, where every local user reads /proc/PID/cmdline. */
static int read_secret_file(char **dst, const char *key, const char *path, char *err)
{
    char *p = NULL;
    size_t n = 0;
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size > 4096)
        return tk_errf(err, TK_EINVAL, "--%s %s: the file is over 4 KiB; it should hold only the secret",
                       key, path);
    int rc = tk_fs_read_all(path, &p, &n, err);
    if (rc)
        return tk_errf(err, rc, "--%s: cannot read %s: %s", key, path, err);
    while (n && (p[n - 1] == '\n' || p[n - 1] == '\r'))
        p[--n] = 0;
    if (!n || memchr(p, 0, n) || memchr(p, '\n', n)) {
        free(p);
        return tk_errf(err, TK_EINVAL, "--%s %s: the file must hold the secret on one line", key,
                       path);
    }
    free(*dst);
    *dst = p;
    return 0;
}

static int cfg_set(serve_cfg_t *c, const char *key, const char *v, char *err)
{
    if (!strcmp(key, "data"))
        return set_str(&c->data, v);
    if (!strcmp(key, "listen"))
        return set_str(&c->listen, v);
    if (!strcmp(key, "access-log"))
        return set_str(&c->access_log, v);
    if (!strcmp(key, "tls-cert"))
        return set_str(&c->tls_cert, v);
    if (!strcmp(key, "tls-key"))
        return set_str(&c->tls_key, v);
    if (!strcmp(key, "max-body"))
        return set_long(&c->max_body, key, v, 1024, 1L << 34, err);
    if (!strcmp(key, "max-decompressed"))
        return set_long(&c->max_decompressed, key, v, 1024, 1L << 36, err);
    if (!strcmp(key, "max-events"))
        return set_long(&c->max_events, key, v, 1, 10000000, err);
    if (!strcmp(key, "max-future-skew"))
        return set_long(&c->max_future_skew, key, v, 0, 366L * 86400, err);
    if (!strcmp(key, "max-request-memory"))
        return set_long(&c->max_request_memory, key, v, 1L << 20, 1L << 40, err);
    if (!strcmp(key, "purge-hour"))
        return set_long(&c->purge_hour, key, v, 0, 23, err);
    if (!strcmp(key, "retention-days"))
        return set_long(&c->retention_days, key, v, 1, 100000, err);
    if (!strcmp(key, "threads"))
        return set_long(&c->threads, key, v, 0, 256, err);
    if (!strcmp(key, "max-connections"))
        return set_long(&c->max_connections, key, v, 1, 1000000, err);
    if (!strcmp(key, "max-connections-per-ip"))
        return set_long(&c->max_connections_per_ip, key, v, 1, 1000000, err);
    if (!strcmp(key, "workers"))
        return set_long(&c->workers, key, v, 0, 1024, err);
    if (!strcmp(key, "header-timeout"))
        return set_long(&c->header_timeout, key, v, 1, 3600, err);
    if (!strcmp(key, "body-timeout"))
        return set_long(&c->body_timeout, key, v, 1, 86400, err);
    if (!strcmp(key, "body-idle-timeout"))
        return set_long(&c->body_idle_timeout, key, v, 1, 3600, err);
    if (!strcmp(key, "max-inflight"))
        return set_long(&c->max_inflight, key, v, 1, 100000, err);
    if (!strcmp(key, "max-page"))
        return set_long(&c->max_page, key, v, 1, 10000, err);
    if (!strcmp(key, "seal-interval"))
        return set_long(&c->seal_interval, key, v, 1, 86400, err);
    if (!strcmp(key, "trail-file-age"))
        return set_long(&c->trail_file_age, key, v, 1, 86400, err);
    if (!strcmp(key, "trail-digest-period"))
        return set_long(&c->trail_digest_period, key, v, 1, 604800, err);
    if (!strcmp(key, "allow-private-endpoints"))
        return set_bool(&c->allow_private_endpoints, key, v, err);
    if (!strcmp(key, "trail-folder-root")) {
        char **nv = realloc(c->trail_folder_roots, (c->ntrail_folder_roots + 1) * sizeof *nv);
        if (!nv)
            return TK_ENOMEM;
        c->trail_folder_roots = nv;
        nv[c->ntrail_folder_roots] = NULL; /* set_str frees the old value */
        return set_str(&nv[c->ntrail_folder_roots++], v);
    }
    if (!strcmp(key, "trail-file-events"))
        return set_long(&c->trail_file_events, key, v, 1, 10000000, err);
    if (!strcmp(key, "smtp-url"))
        return set_str(&c->smtp_url, v);
    if (!strcmp(key, "smtp-from"))
        return set_str(&c->smtp_from, v);
    if (!strcmp(key, "smtp-ca"))
        return set_str(&c->smtp_ca, v);
    if (!strcmp(key, "smtp-user"))
        return set_str(&c->smtp_user, v);
    if (!strcmp(key, "smtp-password"))
        return set_str(&c->smtp_password, v);
    if (!strcmp(key, "smtp-password-file"))
        return read_secret_file(&c->smtp_password, key, v, err);
    if (!strcmp(key, "smtp-starttls"))
        return set_bool(&c->smtp_starttls, key, v, err);
    if (!strcmp(key, "no-alerts"))
        return set_bool(&c->no_alerts, key, v, err);
    if (!strcmp(key, "no-insights"))
        return set_bool(&c->no_insights, key, v, err);
    if (!strcmp(key, "insight-tick-seconds"))
        return set_long(&c->insight_tick, key, v, 1, 3600, err);
    if (!strcmp(key, "alert-retry-max"))
        return set_long(&c->alert_retry_max, key, v, 1, 86400, err);
    if (!strcmp(key, "metrics-open-loopback"))
        return set_bool(&c->metrics_open_loopback, key, v, err);
    if (!strcmp(key, "no-purge"))
        return set_bool(&c->no_purge, key, v, err);
    if (!strcmp(key, "purge-on-start"))
        return set_bool(&c->purge_on_start, key, v, err);
    if (!strcmp(key, "lookup-rate")) {
        char *end;
        double d = strtod(v, &end);
        if (!*v || *end || d < 0 || d > 1e9)
            return tk_errf(err, TK_EINVAL, "--lookup-rate '%s' must be a number >= 0", v);
        c->lookup_rate = d;
        return 0;
    }
    return tk_errf(err, TK_EINVAL, "unknown option '%s' (see trailkeep serve --help)", key);
}

static void cfg_free(serve_cfg_t *c)
{
    free(c->data);
    free(c->listen);
    free(c->access_log);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->smtp_url);
    free(c->smtp_from);
    free(c->smtp_user);
    free(c->smtp_password);
    free(c->smtp_ca);
    for (size_t i = 0; i < c->ntrail_folder_roots; i++)
        free(c->trail_folder_roots[i]);
    free(c->trail_folder_roots);
}

/* ------------------------------------------------------- background jobs */

typedef struct bg {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    tk_store_t *store;
    tk_meta_t *meta;
    tk_http_server_t *http;
    const serve_cfg_t *cfg;
} bg_t;

typedef struct ov {
    char account[64];
    int days;
} ov_t;

typedef struct ov_list {
    ov_t *v;
    size_t n, cap;
} ov_list_t;

static void collect_override(void *ud, const tk_account_t *a)
{
    ov_list_t *l = ud;
    if (a->retention_days <= 0)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        ov_t *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return;
        l->v = nv;
        l->cap = cap;
    }
    snprintf(l->v[l->n].account, sizeof l->v[l->n].account, "%s", a->id);
    l->v[l->n].days = a->retention_days;
    l->n++;
}

static void log_line(void *ud, const char *line)
{
    (void)ud;
    tk_log("trailkeep serve: purge: %s\n", line);
}

static void run_purge(bg_t *b)
{
    char err[TK_ERRLEN] = "";
    ov_list_t l = {NULL, 0, 0};
    tk_meta_account_list(b->meta, collect_override, &l, err);
    struct pov {
        const char *account;
        int days;
    } *pv = calloc(l.n + 1, sizeof *pv);
    if (!pv) {
        free(l.v);
        return;
    }
    for (size_t i = 0; i < l.n; i++) {
        pv[i].account = l.v[i].account;
        pv[i].days = l.v[i].days;
    }
    tk_retention_t ret = {.default_days = (int)b->cfg->retention_days,
                          .noverrides = l.n,
                          .overrides = (const void *)pv};
    tk_purge_report_t rep;
    memset(&rep, 0, sizeof rep);
    int64_t t0 = tk_now_ms();
    int rc = tk_store_purge(b->store, t0, &ret, 0, &rep, log_line, NULL, err);
    if (rc)
        tk_log("trailkeep serve: purge failed: %s\n", err);
    else
        tk_log(
                "trailkeep serve: purge done: %zu days, %zu segments, %llu events, %llu bytes "
                "removed (default %ld days, %zu per-account overrides) in %lld ms\n",
                rep.days_removed, rep.segments_removed, (unsigned long long)rep.events_removed,
                (unsigned long long)rep.bytes_removed, b->cfg->retention_days, l.n,
                (long long)(tk_now_ms() - t0));
    tk_http_note_purge(b->http, rc ? NULL : &rep, rc != 0);
    free(pv);
    free(l.v);
}

static int64_t next_purge_ms(int64_t now, long hour)
{
    int64_t day = tk_time_day(now);
    int64_t t = day * TK_MS_PER_DAY + hour * 3600000LL;
    return t > now ? t : t + TK_MS_PER_DAY;
}

static void *bg_main(void *arg)
{
    bg_t *b = arg;
    int64_t now = tk_now_ms();
    int64_t next_seal = now + b->cfg->seal_interval * 1000;
    int64_t next_purge = b->cfg->no_purge ? INT64_MAX : next_purge_ms(now, b->cfg->purge_hour);
    if (b->cfg->purge_on_start && !b->cfg->no_purge)
        next_seal = next_purge = now; /* seal first: purge removes sealed days */
    pthread_mutex_lock(&b->mu);
    while (!b->stop) {
        int64_t due = next_seal < next_purge ? next_seal : next_purge;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait = due - tk_now_ms();
        if (wait > 0) {
            if (wait > 60000)
                wait = 60000; /* re-check the wall clock at least once a minute */
            ts.tv_sec += wait / 1000;
            ts.tv_nsec += (long)(wait % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&b->cv, &b->mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&b->mu);
        now = tk_now_ms();
        if (now >= next_seal) {
            char err[TK_ERRLEN] = "";
            int rc = tk_store_seal(b->store, err);
            if (rc)
                tk_log("trailkeep serve: seal failed (will retry): %s\n", err);
            tk_http_note_seal(b->http, rc != 0);
            next_seal = tk_now_ms() + b->cfg->seal_interval * 1000;
        }
        if (now >= next_purge) {
            run_purge(b);
            next_purge = next_purge_ms(tk_now_ms(), b->cfg->purge_hour);
        }
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ------------------------------------------------------------------ main */

static int parse_args(int argc, char **argv, serve_cfg_t *c, int *help)
{
    char err[TK_ERRLEN] = "";
    /* The config file first, so flags override it wherever they stand. */
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = tk_cli_opt(argc, argv, &i, "serve", "--config", &v);
        if (r < 0)
            return 2;
        if (r > 0 && load_config(c, v, err)) {
            tk_log("trailkeep serve: %s\n", err);
            return 2;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (tk_cli_is_help(a)) {
            *help = 1;
            return 0;
        }
        if (strncmp(a, "--", 2)) {
            tk_log("trailkeep serve: unexpected argument '%s' (see --help)\n", a);
            return 2;
        }
        char key[64];
        snprintf(key, sizeof key, "%s", a + 2);
        char *eq = strchr(key, '=');
        if (eq)
            *eq = 0;
        if (!strcmp(key, "metrics-open-loopback") || !strcmp(key, "no-purge") ||
            !strcmp(key, "purge-on-start") || !strcmp(key, "smtp-starttls") ||
            !strcmp(key, "no-alerts") || !strcmp(key, "no-insights") ||
            !strcmp(key, "allow-private-endpoints")) {
            if (cfg_set(c, key, eq ? a + 2 + (eq - key) + 1 : "true", err)) {
                tk_log("trailkeep serve: %s\n", err);
                return 2;
            }
            continue;
        }
        const char *v;
        char opt[80];
        snprintf(opt, sizeof opt, "--%s", key);
        int r = tk_cli_opt(argc, argv, &i, "serve", opt, &v);
        if (r < 0)
            return 2;
        if (!strcmp(key, "config"))
            continue;
        if (!strcmp(key, "smtp-password")) {
            tk_log("trailkeep serve: --smtp-password on the command line is visible to every local "
                   "user (/proc/PID/cmdline): use --smtp-password-file FILE, the environment "
                   "variable TRAILKEEP_SMTP_PASSWORD, or \"smtp_password\" in the --config file");
            return 2;
        }
        if (cfg_set(c, key, v, err)) {
            tk_log("trailkeep serve: %s\n", err);
            return 2;
        }
    }
    return 0;
}

/* /metrics lines for alerting (tk_http does not link tk_alert). The pointer
 * is cleared under the mutex before the service is destroyed. */
typedef struct alert_metrics {
    pthread_mutex_t mu;
    tk_alert_service_t *alerts;
    tk_insight_service_t *insights;
} alert_metrics_t;

static void insight_metrics(tk_insight_service_t *is, tk_buf_t *o)
{
    tk_insight_service_stats_t st;
    tk_insight_service_stats(is, &st);
    static const char *const names[][2] = {
        {"trailkeep_insight_events_total", "Log events read by the Insights models."},
        {"trailkeep_insight_own_records_skipped_total", "... of them Insights records (not learnt from)."},
        {"trailkeep_insight_records_emitted_total", "Insights records (Start/End) the models emitted."},
        {"trailkeep_insight_records_stored_total", "... newly stored."},
        {"trailkeep_insight_records_duplicate_total", "... already stored (history re-judged after a restart)."},
        {"trailkeep_insight_ticks_total", "Evaluation ticks."},
        {"trailkeep_insight_tick_errors_total", "Ticks that failed (retried at the next one)."},
        {"trailkeep_insight_checkpoint_seq", "Log sequence number the Insights models have read up to."},
        {"trailkeep_insight_accounts", "Accounts with Insights aggregates in memory."},
        {"trailkeep_insight_aggregate_bytes", "Memory held by the Insights aggregates."},
        {"trailkeep_insight_rebuilt", "1 once the start-up rebuild from the store is done."},
        {"trailkeep_insight_rebuild_ms", "Duration of the start-up rebuild."},
    };
    const uint64_t v[] = {st.events, st.own_skipped, st.records_emitted, st.records_stored,
                          st.records_duplicate, st.ticks, st.tick_errors, st.checkpoint,
                          st.accounts, st.agg_bytes, (uint64_t)st.rebuilt,
                          (uint64_t)st.rebuild_ms};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        int counter = strstr(names[i][0], "_total") != NULL;
        tk_buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", names[i][0], names[i][1],
                      names[i][0], counter ? "counter" : "gauge", names[i][0],
                      (unsigned long long)v[i]);
    }
}

typedef struct rule_lines {
    tk_buf_t *o;
    int (*may_read)(void *ctx, const char *account);
    void *ctx;
    int pass; /* which series: 0 evaluations, 1 seconds, 2 regex limit hits */
} rule_lines_t;

static void rule_line(void *ud, const tk_alert_rule_metrics_t *m)
{
    rule_lines_t *l = ud;
    if (!l->may_read(l->ctx, m->account))
        return;
    static const char *const series[] = {"trailkeep_alert_rule_evaluations_total",
                                         "trailkeep_alert_rule_eval_seconds_total",
                                         "trailkeep_alert_rule_regex_limit_hits_total"};
    tk_buf_printf(l->o, "%s{account=", series[l->pass]);
    tk_buf_put_json_str(l->o, m->account, strlen(m->account));
    tk_buf_puts(l->o, ",rule=");
    tk_buf_put_json_str(l->o, m->id, strlen(m->id));
    if (l->pass == 1)
        tk_buf_printf(l->o, "} %.6f\n", (double)m->st.eval_ns / 1e9);
    else
        tk_buf_printf(l->o, "} %llu\n", (unsigned long long)(l->pass ? m->st.regex_limit_hits
                                                                        : m->st.evals));
}

/* Per rule: what it costs (a slow rule is found here, not by guessing). */
static void rule_metrics(tk_alert_service_t *as, tk_buf_t *o,
                         int (*may_read)(void *ctx, const char *account), void *ctx)
{
    static const char *const help[][2] = {
        {"trailkeep_alert_rule_evaluations_total", "Events a rule was evaluated on (after the "
                                                   "eventName prefilter)."},
        {"trailkeep_alert_rule_eval_seconds_total", "Time spent evaluating a rule (rules without "
                                                    "a regex: sampled 1 event in 16, scaled)."},
        {"trailkeep_alert_rule_regex_limit_hits_total", "Regex matches of a rule stopped by a "
                                                        "limit (counted as no match)."},
    };
    for (int pass = 0; pass < 3; pass++) {
        tk_buf_printf(o, "# HELP %s %s\n# TYPE %s counter\n", help[pass][0], help[pass][1],
                      help[pass][0]);
        rule_lines_t l = {o, may_read, ctx, pass};
        tk_alert_service_rule_metrics(as, rule_line, &l);
    }
}

/* POST /v1/alert-rules/{id}/test: through the same SMTP settings the alert
 * service uses. */
typedef struct notify_hook {
    tk_meta_t *meta;
    tk_notify_cfg_t cfg;
} notify_hook_t;

static int notify_test(void *ud, const char *account, const char *rule_id, const char *recipients,
                       tk_buf_t *report, char *err)
{
    notify_hook_t *h = ud;
    return tk_alert_notify_test(h->meta, &h->cfg, account, rule_id, recipients, report, err);
}

static void alert_metrics(void *ud, tk_buf_t *o, int (*may_read)(void *ctx, const char *account),
                          void *ctx)
{
    alert_metrics_t *am = ud;
    pthread_mutex_lock(&am->mu);
    if (am->insights)
        insight_metrics(am->insights, o);
    if (am->alerts) {
        tk_alert_service_stats_t st;
        tk_alert_service_stats(am->alerts, &st);
        static const char *const names[][2] = {
            {"trailkeep_alert_events_total", "Events evaluated by the alert rules."},
            {"trailkeep_alert_fires_total", "Rule firings (before deduplication by fingerprint)."},
            {"trailkeep_alert_alerts_created_total", "Alerts created."},
            {"trailkeep_alert_alerts_cleared_total", "Alerts cleared (recovery notice queued)."},
            {"trailkeep_alert_notices_queued_total", "Notifications queued in the outbox."},
            {"trailkeep_alert_notices_sent_total", "Notifications delivered."},
            {"trailkeep_alert_send_failures_total", "Notification attempts that failed (retried)."},
            {"trailkeep_alert_rules", "Enabled alert rules loaded."},
            {"trailkeep_alert_checkpoint_seq", "Log sequence number the alert engine has evaluated up to."},
            {"trailkeep_alert_window_groups", "Threshold/suppression groups held in memory."},
            {"trailkeep_alert_window_entries", "Events held in threshold windows."},
            {"trailkeep_alert_group_cap_hits", "New groups not tracked because the group cap was reached."},
            {"trailkeep_alert_entry_cap_hits", "Events not counted because the window-entry cap was reached."},
        };
        const uint64_t v[] = {st.events, st.fires, st.alerts_created, st.alerts_cleared,
                              st.notices_queued, st.sent, st.send_failures, st.rules,
                              st.checkpoint, st.groups, st.window_entries, st.group_cap_hits,
                              st.entry_cap_hits};
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
            int counter = strstr(names[i][0], "_total") != NULL;
            tk_buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", names[i][0], names[i][1],
                          names[i][0], counter ? "counter" : "gauge", names[i][0],
                          (unsigned long long)v[i]);
        }
        rule_metrics(am->alerts, o, may_read, ctx);
    }
    pthread_mutex_unlock(&am->mu);
}

int tk_cmd_serve(int argc, char **argv)
{
    serve_cfg_t c;
    memset(&c, 0, sizeof c);
    c.max_body = 16L << 20;
    c.max_decompressed = 64L << 20;
    c.max_events = 10000;
    c.max_future_skew = 86400;
    c.max_request_memory = 1L << 30;
    c.purge_hour = 3;
    c.retention_days = 90;
    c.max_inflight = 64;
    c.max_page = 50;
    c.seal_interval = 60;
    c.max_connections = 0; /* tk_http_start: from RLIMIT_NOFILE */
    c.lookup_rate = 50;
    int help = 0, code = 1;
    int rc = parse_args(argc, argv, &c, &help);
    if (rc || help) {
        if (help)
            usage(stdout);
        cfg_free(&c);
        return help ? 0 : rc;
    }
    const char *envpw = getenv("TRAILKEEP_SMTP_PASSWORD");
    if (!c.smtp_password && envpw && *envpw && set_str(&c.smtp_password, envpw)) {
        cfg_free(&c);
        return 1;
    }
    char verr[TK_ERRLEN];
    if (c.smtp_from && tk_email_check("--smtp-from", c.smtp_from, verr)) {
        tk_log("trailkeep serve: %s", verr);
        cfg_free(&c);
        return 2;
    }
    const char *dir = c.data ? c.data : tk_cli_default_data();
#ifdef __GLIBC__
    /* Large request buffers (bodies, gzip output, parse arenas) are mapped
     * and unmapped rather than kept in malloc's heaps: without a fixed
     * threshold glibc raises it after the first big free, and a burst of
     * large requests left hundreds of MB resident for good. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
    char err[TK_ERRLEN] = "";
    tk_store_t *store = NULL;
    tk_meta_t *meta = NULL;
    tk_http_server_t *http = NULL;
    tk_trail_deliverer_t *trails = NULL;
    tk_alert_service_t *alerts = NULL;
    tk_insight_service_t *insights = NULL;
    alert_metrics_t am = {.mu = PTHREAD_MUTEX_INITIALIZER, .alerts = NULL, .insights = NULL};
    int log_fd = 0;
    bg_t b;
    memset(&b, 0, sizeof b);
    int bg_started = 0;

    /* Signals are taken synchronously by this thread (sigwait), and blocked
     * before anything starts a thread (tk_store_open starts the sealer):
     * every thread inherits the mask, so SIGTERM during start-up waits
     * until sigwait below and ends in a clean stop, never in the default
     * action inside some thread. A second signal during the stop stays
     * pending and changes nothing. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (c.access_log && strcmp(c.access_log, "-")) {
        if (!strcmp(c.access_log, "off")) {
            log_fd = -1;
        } else {
            log_fd = open(c.access_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
            if (log_fd < 0) {
                tk_log("trailkeep serve: cannot open access log %s: %s\n", c.access_log,
                        strerror(errno));
                goto out;
            }
        }
    }
    if (tk_fs_mkdirs(dir, err)) {
        tk_log("trailkeep serve: %s\n", err);
        goto out;
    }
    /* The operator's policy for what tenants configure (trails, webhooks):
     * set before any thread that delivers starts. */
    tk_egress_set_allow_private(c.allow_private_endpoints);
    if (tk_dest_folder_set_roots(dir, (const char *const *)c.trail_folder_roots,
                                 c.ntrail_folder_roots, err)) {
        tk_log("trailkeep serve: %s\n", err);
        goto out;
    }
    tk_store_opts_t so = {.dir = dir};
    if ((rc = tk_store_open(&so, &store, err))) {
        tk_log("trailkeep serve: cannot open the store in %s: %s%s\n", dir, err,
                rc == TK_EBUSY ? " (is another trailkeep serve or import running on it?)" : "");
        goto out;
    }
    /* Test hook: hold start-up here, with the store's threads running, so
     * tests/cli/signals.sh can land a signal in this window every time. */
    const char *hold = getenv("TK_TEST_START_DELAY_MS");
    if (hold && *hold) {
        struct timespec ts = {atoi(hold) / 1000, (long)(atoi(hold) % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (tk_meta_open(dir, &meta, err)) {
        tk_log("trailkeep serve: cannot open %s/meta.db: %s\n", dir, err);
        goto out;
    }
    uint8_t token_key[32];
    if (tk_lookup_token_key(dir, token_key, err)) {
        tk_log("trailkeep serve: %s\n", err);
        goto out;
    }
    char key_id[64] = "", secret[TK_SECRET_LEN + 1] = "";
    int created = 0;
    /* A busy address is found before the first-start key is created and
     * shown: a key printed for a server that never started is lost. */
    if (tk_http_listen_check(c.listen ? c.listen : "127.0.0.1:8460", err)) {
        tk_log("trailkeep serve: %s\n", err);
        goto out;
    }
    if (tk_meta_bootstrap(meta, key_id, secret, &created, err)) {
        tk_log("trailkeep serve: cannot create the first admin key: %s\n", err);
        goto out;
    }


    notify_hook_t nh = {.meta = meta,
                        .cfg = {.smtp_url = c.smtp_url,
                                .smtp_from = c.smtp_from,
                                .smtp_user = c.smtp_user,
                                .smtp_password = c.smtp_password,
                                .smtp_starttls = c.smtp_starttls,
                                .smtp_ca = c.smtp_ca}};
    tk_http_opts_t ho = {
        .listen = c.listen ? c.listen : "127.0.0.1:8460",
        .max_body = (size_t)c.max_body,
        .max_decompressed = (size_t)c.max_decompressed,
        .max_events = (size_t)c.max_events,
        .max_future_ms = (int64_t)c.max_future_skew * 1000,
        .retention_days = (int)c.retention_days,
        .smtp_configured = c.smtp_url && *c.smtp_url,
        .max_request_memory = (size_t)c.max_request_memory,
        .threads = (int)c.threads,
        .max_connections = (unsigned)c.max_connections,
        .max_connections_per_ip = (unsigned)c.max_connections_per_ip,
        .workers = (int)c.workers,
        .header_timeout_s = (int)c.header_timeout,
        .body_timeout_s = (int)c.body_timeout,
        .idle_timeout_s = (int)c.body_idle_timeout,
        .max_inflight_appends = (int)c.max_inflight,
        .lookup_rate = c.lookup_rate > 0 ? c.lookup_rate : -1,
        .max_page = (int)c.max_page,
        .metrics_open_loopback = c.metrics_open_loopback,
        .tls_cert = c.tls_cert,
        .tls_key = c.tls_key,
        .access_log_fd = log_fd,
        .token_key = token_key,
        .extra_metrics = alert_metrics,
        .extra_metrics_ud = &am,
        .notify_test = c.no_alerts ? NULL : notify_test,
        .notify_test_ud = &nh,
    };
    /* The first-start key is printed (and flushed) before the listener
     * answers anything, so whoever waits for /healthz finds it already there. */
    if (created) {
        printf("First start: created account %s and its admin key. The secret is shown ONCE, "
               "store it now:\n  key id: %s\n  secret: %s\n  use:    curl -H 'Authorization: "
               "Bearer %s:%s' ...\n",
               TK_DEFAULT_ACCOUNT, key_id, secret, key_id, secret);
        memset(secret, 0, sizeof secret);
    }
    fflush(stdout);
    if (!c.no_alerts)
        tk_http_enable_alerts(); /* before the listener: no early 404 */
    tk_http_enable_insights(); /* the stored records are served even with --no-insights */
    if (tk_http_start(&ho, store, meta, &http, err)) {
        tk_log("trailkeep serve: %s\n", err);
        goto out;
    }
    memset(token_key, 0, sizeof token_key);
    /* Trail delivery reads the log in its own thread: a slow destination
     * only grows its backlog, never slows ingest. */
    tk_trail_deliver_opts_t to = {.file_max_age_s = (int)c.trail_file_age,
                                  .file_max_events = (size_t)c.trail_file_events,
                                  .digest_dir = dir,
                                  .digest_period_s = (int)c.trail_digest_period};
    if (tk_trail_deliverer_create(meta, store, &to, &trails, err) ||
        tk_trail_deliverer_start(trails, err)) {
        tk_log("trailkeep serve: trails: %s\n", err);
        goto out;
    }
    /* Alerting reads the log too, after the durable ack, in its own threads. */
    if (!c.no_alerts) {
        tk_alert_service_opts_t ao = {.notify = nh.cfg, .retry_max_ms = c.alert_retry_max * 1000};
        if (tk_alert_service_create(meta, store, &ao, &alerts, err) ||
            tk_alert_service_start(alerts, err)) {
            tk_log("trailkeep serve: alerts: %s\n", err);
            goto out;
        }
        pthread_mutex_lock(&am.mu);
        am.alerts = alerts;
        pthread_mutex_unlock(&am.mu);
    }
    /* Insights: the start-up rebuild (28 days of history) runs in the thread,
     * so /healthz and ingest answer at once. */
    if (!c.no_insights) {
        tk_insight_service_opts_t io = {.tick_ms = (c.insight_tick ? c.insight_tick : 60) * 1000};
        if (tk_insight_service_create(meta, store, &io, &insights, err) ||
            tk_insight_service_start(insights, err)) {
            tk_log("trailkeep serve: insights: %s\n", err);
            goto out;
        }
        pthread_mutex_lock(&am.mu);
        am.insights = insights;
        pthread_mutex_unlock(&am.mu);
    } else {
        /* A previous run's position must not hold WAL files back: the
         * models rebuild from the store at their next start anyway. */
        tk_store_log_retain(store, "insights", UINT64_MAX);
    }
    b.store = store;
    b.meta = meta;
    b.http = http;
    b.cfg = &c;
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    if (pthread_create(&b.th, NULL, bg_main, &b) == 0)
        bg_started = 1;
    else
        tk_log("trailkeep serve: cannot start the seal/purge thread; seals happen on size only\n");

    const char *host = ho.listen;
    char url[160];
    const char *colon = strrchr(host, ':');
    snprintf(url, sizeof url, "%s://%.*s:%u", c.tls_cert ? "https" : "http",
             colon ? (int)(colon - host) : (int)strlen(host), host, (unsigned)tk_http_port(http));
    printf("trailkeep serve: listening on %s (data %s)\n", url, dir);
    fflush(stdout);

    int sig = 0;
    sigwait(&set, &sig);
    tk_log("trailkeep serve: %s received, finishing requests in progress\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    code = 0;
out:
    if (bg_started) {
        pthread_mutex_lock(&b.mu);
        b.stop = 1;
        pthread_cond_signal(&b.cv);
        pthread_mutex_unlock(&b.mu);
        pthread_join(b.th, NULL);
        pthread_mutex_destroy(&b.mu);
        pthread_cond_destroy(&b.cv);
    }
    pthread_mutex_lock(&am.mu); /* /metrics may still be answering */
    am.alerts = NULL;
    am.insights = NULL;
    pthread_mutex_unlock(&am.mu);
    tk_insight_service_destroy(insights);
    tk_alert_service_destroy(alerts);
    tk_trail_deliverer_destroy(trails);
    tk_http_stop(http);
    tk_store_close(store);
    tk_meta_close(meta);
    if (log_fd > 2)
        close(log_fd);
    if (code == 0)
        tk_log("trailkeep serve: stopped cleanly\n");
    cfg_free(&c);
    return code;
}

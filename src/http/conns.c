/* trailkeep HTTP connection guard and handler pool.
 * Guard: every TCP connection is tracked from accept to close (MHD's
 * connection notifications) with a phase and a deadline: headers must be
 * complete within header_timeout of the accept (or of the end of the previous
 * request on keep-alive), a body within body_timeout of its headers. A reaper
 * thread shutdown()s sockets past their deadline; it holds conns_mu, which the
 * close notification also takes, so it never touches an fd MHD has closed.
 * Pool: handlers that may block (auth, store, meta) run on worker threads
 * while their connection is suspended, so MHD's I/O threads keep serving. */
#include "http/http_internal.h"

#include "base/tk.h"
#include "base/tktime.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define REAPER_TICK_MS 200

/* -------------------------------------------------------------- the guard */

void tk_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode toe)
{
    tk_http_server_t *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        tk_conn_t *c = calloc(1, sizeof *c);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!c)
            return; /* untracked: MHD's idle timeout still applies */
        c->fd = ci ? ci->connect_fd : -1;
        c->phase = TK_CONN_HEADERS;
        c->deadline_ns = tk_mono_ns() + (uint64_t)s->o.header_timeout_s * 1000000000ull;
        pthread_mutex_lock(&s->conns_mu);
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->nconns++;
        pthread_mutex_unlock(&s->conns_mu);
        *socket_context = c;
        return;
    }
    tk_conn_t *c = *socket_context;
    if (toe != MHD_CONNECTION_NOTIFY_CLOSED || !c)
        return;
    /* MHD closes the fd after this returns: unlinked under the lock, the
     * reaper can no longer reach it. */
    pthread_mutex_lock(&s->conns_mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    pthread_mutex_unlock(&s->conns_mu);
    *socket_context = NULL;
    free(c);
}

tk_conn_t *tk_conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        conn ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT) : NULL;
    return ci ? ci->socket_context : NULL;
}

void tk_conn_phase(tk_http_server_t *s, tk_conn_t *c, tk_conn_phase_t ph)
{
    if (!c)
        return;
    uint64_t now = tk_mono_ns(), d = 0;
    if (ph == TK_CONN_HEADERS)
        d = now + (uint64_t)s->o.header_timeout_s * 1000000000ull;
    else if (ph == TK_CONN_BODY)
        d = now + (uint64_t)s->o.body_timeout_s * 1000000000ull;
    pthread_mutex_lock(&s->conns_mu);
    c->phase = ph;
    c->deadline_ns = d;
    pthread_mutex_unlock(&s->conns_mu);
}

int tk_conn_was_cut(tk_http_server_t *s, tk_conn_t *c)
{
    if (!c)
        return 0;
    pthread_mutex_lock(&s->conns_mu);
    int cut = c->cut;
    pthread_mutex_unlock(&s->conns_mu);
    return cut;
}

/* One pass: O(open connections) under conns_mu, every REAPER_TICK_MS. */
static void reap_once(tk_http_server_t *s)
{
    uint64_t now = tk_mono_ns();
    pthread_mutex_lock(&s->conns_mu);
    for (tk_conn_t *c = s->conns; c; c = c->next) {
        if (c->cut || !c->deadline_ns || now < c->deadline_ns || c->fd < 0)
            continue;
        /* shutdown, not close: MHD sees end-of-stream and closes the fd itself. */
        shutdown(c->fd, SHUT_RDWR);
        c->cut = 1;
        if (c->phase == TK_CONN_HEADERS)
            s->header_timeouts++;
        else
            s->body_timeouts++;
    }
    pthread_mutex_unlock(&s->conns_mu);
}

static void *reaper_main(void *arg)
{
    tk_http_server_t *s = arg;
    pthread_mutex_lock(&s->conns_mu);
    while (!s->reaper_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += REAPER_TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->reaper_cv, &s->conns_mu, &ts);
        if (s->reaper_stop)
            break;
        pthread_mutex_unlock(&s->conns_mu);
        reap_once(s);
        pthread_mutex_lock(&s->conns_mu);
    }
    pthread_mutex_unlock(&s->conns_mu);
    return NULL;
}

/* --------------------------------------------------------------- the pool */

/* Runs queued requests; exits when stopping and the queue is empty, so every
 * suspended connection is resumed before MHD_stop_daemon. */
static void *worker_main(void *arg)
{
    tk_http_server_t *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->q_mu);
        while (!s->q_head && !s->q_stop)
            pthread_cond_wait(&s->q_cv, &s->q_mu);
        tk_req_t *r = s->q_head;
        if (!r) {
            pthread_mutex_unlock(&s->q_mu);
            return NULL;
        }
        s->q_head = r->qnext;
        if (!s->q_head)
            s->q_tail = NULL;
        s->q_len--;
        s->q_busy++;
        pthread_mutex_unlock(&s->q_mu);
        struct MHD_Connection *conn = r->conn;
        tk_http_run(r);
        pthread_mutex_lock(&s->q_mu);
        s->q_busy--;
        pthread_mutex_unlock(&s->q_mu);
        /* r may be freed as soon as the connection runs again: not touched after. */
        MHD_resume_connection(conn);
    }
}

int tk_pool_submit(tk_req_t *r)
{
    tk_http_server_t *s = r->srv;
    if (!s->nworkers)
        return -1;
    pthread_mutex_lock(&s->q_mu);
    if (s->q_stop) {
        pthread_mutex_unlock(&s->q_mu);
        return -1;
    }
    /* Suspended before a worker can see it, so its resume always follows. */
    r->deferred = 1;
    MHD_suspend_connection(r->conn);
    r->qnext = NULL;
    if (s->q_tail)
        s->q_tail->qnext = r;
    else
        s->q_head = r;
    s->q_tail = r;
    s->q_len++;
    pthread_cond_signal(&s->q_cv);
    pthread_mutex_unlock(&s->q_mu);
    return 0;
}

void tk_conns_counts(tk_http_server_t *s, tk_conns_counts_t *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->conns_mu);
    out->open = s->nconns;
    out->header_timeouts = s->header_timeouts;
    out->body_timeouts = s->body_timeouts;
    pthread_mutex_unlock(&s->conns_mu);
    pthread_mutex_lock(&s->q_mu);
    out->queued = s->q_len;
    out->busy = s->q_busy;
    out->workers = s->nworkers;
    pthread_mutex_unlock(&s->q_mu);
}

/* ------------------------------------------------------------ life cycle */

int tk_conns_start(tk_http_server_t *s, char *err)
{
    pthread_mutex_init(&s->conns_mu, NULL);
    pthread_mutex_init(&s->q_mu, NULL);
    pthread_cond_init(&s->q_cv, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->reaper_cv, &ca);
    pthread_condattr_destroy(&ca);
    s->conns_inited = 1;
    if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0)
        return tk_errf(err, TK_EIO, "http: cannot start the connection reaper: %s", strerror(errno));
    s->reaper_started = 1;
    s->workers = calloc((size_t)s->o.workers, sizeof *s->workers);
    if (!s->workers)
        return tk_errf(err, TK_ENOMEM, "http: out of memory");
    for (int i = 0; i < s->o.workers; i++) {
        if (pthread_create(&s->workers[i], NULL, worker_main, s) != 0)
            return tk_errf(err, TK_EIO, "http: cannot start handler thread %d: %s", i,
                           strerror(errno));
        s->nworkers++;
    }
    return 0;
}

void tk_pool_stop(tk_http_server_t *s)
{
    if (!s || !s->conns_inited)
        return;
    pthread_mutex_lock(&s->q_mu);
    s->q_stop = 1;
    pthread_cond_broadcast(&s->q_cv);
    pthread_mutex_unlock(&s->q_mu);
    for (int i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    pthread_mutex_lock(&s->q_mu);
    s->nworkers = 0;
    pthread_mutex_unlock(&s->q_mu);
}

void tk_conns_destroy(tk_http_server_t *s)
{
    if (!s || !s->conns_inited)
        return;
    tk_pool_stop(s);
    free(s->workers);
    s->workers = NULL;
    if (s->reaper_started) {
        pthread_mutex_lock(&s->conns_mu);
        s->reaper_stop = 1;
        pthread_cond_signal(&s->reaper_cv);
        pthread_mutex_unlock(&s->conns_mu);
        pthread_join(s->reaper, NULL);
        s->reaper_started = 0;
    }
    /* Connections MHD never reported closed (it is stopped by now). */
    for (tk_conn_t *c = s->conns; c;) {
        tk_conn_t *n = c->next;
        free(c);
        c = n;
    }
    s->conns = NULL;
    pthread_cond_destroy(&s->reaper_cv);
    pthread_cond_destroy(&s->q_cv);
    pthread_mutex_destroy(&s->q_mu);
    pthread_mutex_destroy(&s->conns_mu);
    s->conns_inited = 0;
}

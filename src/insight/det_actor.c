/* trailkeep Insights detectors on actors: IpInsight (activity from a source
 * IP unusual for the account, weighted by what was done: writes, sensitive
 * APIs and failures weigh more than reads) and AkInsight (an AccessKey whose
 * call rate departs from its baseline, or a dormant or new key suddenly
 * busy, or a key with a history used from a network it has not used in 28
 * days: the stolen-key case a rate model misses). Temporary STS credentials
 * change every session and are left out of AkInsight: the role behind them
 * is what IpInsight and the rate detectors see. */
#include "insight/insight.h"

#include "base/tk.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Weights of IpInsight: a read is 1, a write 3, a sensitive API 5 more and a
 * failure 2 more. The test itself counts events (by_events): weights decide
 * which busy minutes matter (min_count), so two sensitive writes from a rare
 * IP are not, alone, a significant excess. */
#define IP_W_READ 1
#define IP_W_WRITE 3
#define IP_W_SENSITIVE 5
#define IP_W_ERROR 2
#define IP_SIGNIN_OK "signin"
#define IP_SIGNIN_FAIL "signin-failed"

static int classify_ip(const tk_insight_obs_t *o, tk_insight_key_t *keys, int max)
{
    const char *ip = o->source_ip;
    if (max < 1 || !*ip || !strcmp(ip, "Internal"))
        return 0;
    /* Service-originated calls carry a host name ("ecs.aliyuncs.com"), not an address. */
    for (const char *p = ip; *p; p++)
        if ((*p >= 'g' && *p <= 'z') || (*p >= 'G' && *p <= 'Z'))
            return 0;
    snprintf(keys[0].key, sizeof keys[0].key, "%s", ip);
    uint32_t w = strcmp(o->event_rw, "Write") ? IP_W_READ : IP_W_WRITE;
    if (o->sensitive)
        w += IP_W_SENSITIVE;
    if (*o->error_code)
        w += IP_W_ERROR;
    keys[0].weight = w;
    if (max < 2 || strcmp(o->event_name, "ConsoleSignin"))
        return 1;
    /* Console sign-ins from the IP, kept apart: what vouches for it (evaluate_ip). */
    snprintf(keys[1].key, sizeof keys[1].key, "%s %s", *o->error_code ? IP_SIGNIN_FAIL : IP_SIGNIN_OK,
             ip);
    keys[1].weight = 1;
    return 2;
}

static size_t lower_bound(const tk_insight_series_t *s, uint32_t m);

/* The sign-in series of detector det for ip with that prefix, or NULL. */
static const tk_insight_series_t *signin_series(const tk_insight_series_t *const *v, size_t n,
                                                const char *prefix, const char *ip)
{
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < n; i++)
        if (!strncmp(v[i]->key, prefix, pl) && v[i]->key[pl] == ' ' && !strcmp(v[i]->key + pl + 1, ip))
            return v[i];
    return NULL;
}

/* Events of s (may be NULL) in [lo, hi). */
static uint64_t events_between(const tk_insight_series_t *s, uint32_t lo, uint32_t hi)
{
    uint64_t n = 0;
    for (size_t j = s ? lower_bound(s, lo) : 0; s && j < s->n && s->pts[j].minute < hi; j++)
        n += s->pts[j].events;
    return n;
}

/* IpInsight: each IP's series through the shared engine; an incident of an
 * IP first seen in the day before it is dropped when, in that day up to its
 * detection, console sign-ins from that IP succeeded more often than they
 * failed (typos, not guessing): a person of the account working from a
 * hotel or from home all day is not a stranger. Brute force (failures
 * first) and keys used without any sign-in stay judged. */
#define IP_VOUCH_MIN 1440u
static int evaluate_ip(const tk_insight_detector_t *d, int det, const tk_insight_knobs_t *kn,
                       const tk_insight_agg_t *a, uint32_t hist_start_min, uint32_t from_min,
                       uint32_t until_min, tk_insight_inclist_t *out)
{
    size_t ns = tk_insight_agg_nseries(a), nsign = 0;
    for (size_t i = 0; i < ns; i++) {
        const tk_insight_series_t *s = tk_insight_agg_series(a, i);
        nsign += s->det == det && strchr(s->key, ' ');
    }
    const tk_insight_series_t **sign = malloc((nsign + 1) * sizeof *sign);
    tk_insight_inclist_t mine = {0};
    int rc = sign ? 0 : TK_ENOMEM;
    nsign = 0;
    for (size_t i = 0; i < ns && !rc; i++) {
        const tk_insight_series_t *s = tk_insight_agg_series(a, i);
        if (s->det == det && strchr(s->key, ' '))
            sign[nsign++] = s;
    }
    for (size_t i = 0; i < ns && !rc; i++) {
        const tk_insight_series_t *s = tk_insight_agg_series(a, i);
        if (s->det != det || strchr(s->key, ' '))
            continue;
        mine.n = 0;
        rc = tk_insight_series_evaluate(d, kn, s, hist_start_min, from_min, until_min, &mine);
        for (size_t j = 0; j < mine.n && !rc; j++) {
            const tk_insight_incident_t *in = &mine.v[j];
            uint32_t lo = in->start_min > IP_VOUCH_MIN ? in->start_min - IP_VOUCH_MIN : 0;
            uint32_t hi = in->detect_min + 1;
            /* Only an IP new that day: a known IP's excess is judged as it was. */
            uint64_t ok = events_between(signin_series(sign, nsign, IP_SIGNIN_OK, s->key), lo, hi);
            if (s->pts[0].minute >= lo && ok &&
                events_between(signin_series(sign, nsign, IP_SIGNIN_FAIL, s->key), lo, hi) < ok)
                continue;
            rc = tk_insight_inclist_push(out, in);
        }
    }
    free(mine.v);
    free(sign);
    return rc;
}

/* ---- AkInsight ----
 * Three kinds of series share the detector (an AccessKey id never holds a
 * space, so the key says which):
 *   "LTAI..."                          calls of the key (the rate model);
 *   "LTAI... from 203.0.113.0/24 by alice"  calls of the key from one network,
 *                                      weighted read 1, write 3;
 *   "console from 203.0.113.0/24 by alice"  alice's calls without a permanent
 *                                      key (console, STS sessions) from it.
 * A network is an IPv4 /24 or an IPv6 /48: what one site, office or cloud
 * subnet holds, so DHCP churn inside an office or a home /64's privacy
 * addresses stay one network, while another provider or city is another. */
#define AK_W_READ 1
#define AK_W_WRITE 3
#define NET_PREFIX_CONSOLE "console"

/* Writes the network of ip ("a.b.c.0/24", "x:y:z::/48") to out; 0 when ip
 * is not an address ("Internal", a service host name). */
static int ip_network(const char *ip, char *out, size_t n)
{
    unsigned char b[16];
    if (strchr(ip, ':')) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (inet_pton(AF_INET6, ip, b) != 1)
            return 0;
        if (!memcmp(b, mapped, sizeof mapped))
            snprintf(out, n, "%u.%u.%u.0/24", b[12], b[13], b[14]);
        else
            snprintf(out, n, "%x:%x:%x::/48", (unsigned)(b[0] << 8 | b[1]),
                     (unsigned)(b[2] << 8 | b[3]), (unsigned)(b[4] << 8 | b[5]));
        return 1;
    }
    if (inet_pton(AF_INET, ip, b) != 1)
        return 0;
    snprintf(out, n, "%u.%u.%u.0/24", b[0], b[1], b[2]);
    return 1;
}

static int classify_ak(const tk_insight_obs_t *o, tk_insight_key_t *keys, int max)
{
    const char *ak = o->access_key;
    int permanent = *ak && !strchr(ak, ' ') && strncmp(ak, "STS.", 4) && strncmp(ak, "ASIA", 4);
    char net[64];
    int has_net = ip_network(o->source_ip, net, sizeof net);
    int n = 0;
    if (permanent && n < max) {
        snprintf(keys[n].key, sizeof keys[n].key, "%s", ak);
        keys[n++].weight = 1;
    }
    if (permanent && has_net && n < max) {
        snprintf(keys[n].key, sizeof keys[n].key, "%s from %s%s%s", ak, net,
                 *o->user ? " by " : "", o->user);
        keys[n++].weight = strcmp(o->event_rw, "Write") ? AK_W_READ : AK_W_WRITE;
    }
    if (!permanent && has_net && *o->user && n < max) {
        snprintf(keys[n].key, sizeof keys[n].key, NET_PREFIX_CONSOLE " from %s by %s", net,
                 o->user);
        keys[n++].weight = 1;
    }
    return n;
}

/* A parsed series key of AkInsight. */
typedef struct akser {
    const tk_insight_series_t *s;
    const char *ak, *net, *user; /* into s->key; lengths below ("" user: none) */
    size_t aklen, netlen, userlen;
} akser_t;

static void parse_key(const tk_insight_series_t *s, akser_t *p)
{
    const char *k = s->key, *from = strstr(k, " from ");
    memset(p, 0, sizeof *p);
    p->s = s;
    p->ak = k;
    p->aklen = from ? (size_t)(from - k) : strlen(k);
    p->net = p->user = "";
    if (!from)
        return;
    p->net = from + 6;
    const char *by = strstr(p->net, " by ");
    p->netlen = by ? (size_t)(by - p->net) : strlen(p->net);
    if (by) {
        p->user = by + 4;
        p->userlen = strlen(p->user);
    }
}

static int cmp_part(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : al < bl ? -1 : al > bl;
}

/* Networks and presences sort by (AccessKey or user, network). */
static int cmp_by_ak(const void *x, const void *y)
{
    const akser_t *a = x, *b = y;
    int c = cmp_part(a->ak, a->aklen, b->ak, b->aklen);
    return c ? c : cmp_part(a->net, a->netlen, b->net, b->netlen);
}

static int cmp_by_user(const void *x, const void *y)
{
    const akser_t *a = x, *b = y;
    int c = cmp_part(a->user, a->userlen, b->user, b->userlen);
    return c ? c : cmp_part(a->net, a->netlen, b->net, b->netlen);
}

static size_t lower_bound(const tk_insight_series_t *s, uint32_t m)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->pts[mid].minute < m)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Any point of s in [lo, hi). */
static int any_in(const tk_insight_series_t *s, uint32_t lo, uint32_t hi)
{
    size_t j = lower_bound(s, lo);
    return j < s->n && s->pts[j].minute < hi;
}

#define NET_WINDOW_MIN (28u * 1440u) /* usual networks: the 28 days before */
#define NET_NEW_MIN 1440u            /* a new network unflagged for a day is learnt */
#define NET_VOUCH_MIN 720u           /* console use from it up to 12 h before vouches */

/* What one AccessKey's networks are judged against: its days of activity
 * (from its rate series) and its other networks. */
typedef struct akctx {
    const tk_insight_knobs_t *kn;
    const tk_insight_series_t *rate; /* NULL: no rate series (cannot happen, kept safe) */
    const akser_t *nets;             /* this key's network series */
    size_t nnets;
    const akser_t *pres;             /* every presence series, sorted by (user, network) */
    size_t npres;
    uint32_t hist_start, judge_from; /* nothing opens before judge_from (min_history_h) */
} akctx_t;

static uint32_t clamp_sub(uint32_t t, uint32_t d) { return t > d ? t - d : 0; }

/* Is a new network at minute t worth judging? The key must have a history
 * (active on net_days days of the 28 before) and not roam (take up new
 * networks, after its first net_days active days, on more than net_roam
 * of its active days, e.g. hosted CI). */
static int key_is_settled(const akctx_t *c, uint32_t t)
{
    if (t < c->judge_from || !c->rate)
        return 0;
    uint32_t lo = clamp_sub(t, NET_WINDOW_MIN);
    if (lo < c->hist_start)
        lo = c->hist_start;
    const tk_insight_series_t *r = c->rate;
    uint32_t days = 0, last_day = UINT32_MAX, settled_day = 0;
    for (size_t j = lower_bound(r, lo); j < r->n && r->pts[j].minute < t; j++) {
        uint32_t d = r->pts[j].minute / 1440;
        if (d != last_day) {
            if (++days == (uint32_t)c->kn->net_days)
                settled_day = d;
            last_day = d;
        }
    }
    if (days < c->kn->net_days)
        return 0;
    /* Networks taken up after the key's first net_days active days of the
     * window (those first days show its usual networks, whichever day each
     * happened to appear on). */
    uint32_t fresh = 0;
    for (size_t i = 0; i < c->nnets; i++) {
        const tk_insight_series_t *s = c->nets[i].s;
        size_t j = lower_bound(s, lo);
        if (j < s->n && s->pts[j].minute < t && s->pts[j].minute / 1440 > settled_day)
            fresh++;
    }
    return (double)fresh <= c->kn->net_roam * days;
}

/* The presence series of (user, network) of n, or NULL. */
static const tk_insight_series_t *presence_of(const akctx_t *c, const akser_t *n)
{
    if (!n->userlen)
        return NULL;
    size_t lo = 0, hi = c->npres;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cmp_by_user(&c->pres[mid], n) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->npres && !cmp_by_user(&c->pres[lo], n) ? c->pres[lo].s : NULL;
}

/* Counts of the incident over [start, end) and [start, detect]. The judged
 * count reported is calls (events), its baseline 0: the key was not used
 * from this network in the 28 days before. */
static void net_sums(const akctx_t *c, const tk_insight_series_t *s, tk_insight_incident_t *in,
                     uint32_t end)
{
    for (size_t j = lower_bound(s, in->start_min); j < s->n && s->pts[j].minute < end; j++) {
        in->events += s->pts[j].events;
        if (s->pts[j].minute <= in->detect_min)
            in->events_at_detect += s->pts[j].events;
    }
    in->weight = in->events;
    in->weight_at_detect = in->events_at_detect;
    uint32_t hist = in->start_min - c->hist_start;
    in->baseline_minutes = hist > NET_WINDOW_MIN ? NET_WINDOW_MIN : hist;
}

/* Walks one (key, network) series from the start of the history, so every
 * run over the same aggregate takes the same decisions whatever [from,
 * until) it reports. States of the network: KNOWN (used in the 28 days
 * before, vouched for, or the key has no settled history), NEW (first use
 * after 28 days without, for its first day), FLAGGED (a NEW network whose
 * calls reached net_min: every later episode from it that reaches net_min
 * again is an incident too, until it goes 28 days unused). An episode is a
 * run of calls without a close_quiet gap: its incident starts at its first
 * call, is established when the calls reach net_min, ends after the last. */
static int judge_network(const akctx_t *c, const akser_t *n, uint32_t from, uint32_t until,
                         tk_insight_inclist_t *out)
{
    enum { KNOWN, NEW, FLAGGED } state = KNOWN;
    const tk_insight_series_t *s = n->s, *pres = presence_of(c, n);
    uint32_t quiet = c->kn->close_quiet < 1 ? 1 : (uint32_t)c->kn->close_quiet;
    uint32_t prev = 0, era = 0, ep = 0;
    uint64_t era_w = 0, ep_w = 0;
    int any = 0, open = 0, rc = 0;
    tk_insight_incident_t in;
    for (size_t j = 0; j < s->n && s->pts[j].minute < until && !rc; j++) {
        uint32_t t = s->pts[j].minute;
        int new_ep = !any || t - prev >= quiet;
        if (open && new_ep) {
            net_sums(c, s, &in, prev + 1);
            in.end_min = prev + 1;
            open = 0;
            if (in.end_min > from)
                rc = tk_insight_inclist_push(out, &in);
        }
        if (!any || t - prev >= NET_WINDOW_MIN) {
            state = NEW;
            era = t;
            era_w = 0;
        }
        if (new_ep) {
            ep = t;
            ep_w = 0;
        }
        if (state == NEW &&
            (t >= era + NET_NEW_MIN || (pres && any_in(pres, clamp_sub(era, NET_VOUCH_MIN), t + 1))))
            state = KNOWN;
        era_w += s->pts[j].weight;
        ep_w += s->pts[j].weight;
        any = 1;
        prev = t;
        if (open || state == KNOWN || (state == NEW ? era_w : ep_w) < c->kn->net_min)
            continue;
        if (state == NEW && !key_is_settled(c, era)) {
            state = KNOWN;
            continue;
        }
        memset(&in, 0, sizeof in);
        in.det = s->det;
        in.key = s->key;
        in.start_min = ep;
        in.detect_min = t;
        state = FLAGGED;
        open = 1;
    }
    if (!rc && open) {
        if (until >= prev + quiet) {
            net_sums(c, s, &in, prev + 1);
            in.end_min = prev + 1;
        } else {
            net_sums(c, s, &in, until);
            in.open = 1;
        }
        if (in.open || in.end_min > from)
            rc = tk_insight_inclist_push(out, &in);
    }
    return rc;
}

/* AkInsight over the whole aggregate: each key's rate series through the
 * shared engine, each (key, network) series against the key's history. */
static int evaluate_ak(const tk_insight_detector_t *d, int det, const tk_insight_knobs_t *kn,
                       const tk_insight_agg_t *a, uint32_t hist_start_min, uint32_t from_min,
                       uint32_t until_min, tk_insight_inclist_t *out)
{
    size_t ns = tk_insight_agg_nseries(a), nnet = 0, npres = 0, nrate = 0;
    int rc = 0;
    for (size_t i = 0; i < ns; i++) {
        const tk_insight_series_t *s = tk_insight_agg_series(a, i);
        if (s->det != det)
            continue;
        if (!strchr(s->key, ' ')) {
            nrate++;
            if ((rc = tk_insight_series_evaluate(d, kn, s, hist_start_min, from_min, until_min,
                                                 out)))
                return rc;
        } else if (!strncmp(s->key, NET_PREFIX_CONSOLE " ", sizeof NET_PREFIX_CONSOLE)) {
            npres++;
        } else {
            nnet++;
        }
    }
    if (kn->net_min <= 0 || !nnet)
        return 0;
    akser_t *nets = malloc(nnet * sizeof *nets), *pres = malloc((npres + 1) * sizeof *pres);
    const tk_insight_series_t **rates = malloc(nrate * sizeof *rates);
    if (!nets || !pres || !rates) {
        rc = TK_ENOMEM;
        goto done;
    }
    size_t in = 0, ip = 0, ir = 0;
    for (size_t i = 0; i < ns; i++) {
        const tk_insight_series_t *s = tk_insight_agg_series(a, i);
        if (s->det != det)
            continue;
        if (!strchr(s->key, ' '))
            rates[ir++] = s;
        else if (!strncmp(s->key, NET_PREFIX_CONSOLE " ", sizeof NET_PREFIX_CONSOLE))
            parse_key(s, &pres[ip++]);
        else
            parse_key(s, &nets[in++]);
    }
    qsort(nets, nnet, sizeof *nets, cmp_by_ak);
    qsort(pres, npres, sizeof *pres, cmp_by_user);
    akctx_t c = {.kn = kn, .pres = pres, .npres = npres, .hist_start = hist_start_min,
                 .judge_from = hist_start_min + (uint32_t)(kn->min_history_h * 60)};
    for (size_t g = 0; g < nnet && !rc;) {
        size_t e = g + 1;
        while (e < nnet && !cmp_part(nets[e].ak, nets[e].aklen, nets[g].ak, nets[g].aklen))
            e++;
        c.nets = &nets[g];
        c.nnets = e - g;
        c.rate = NULL;
        for (size_t r = 0; r < nrate && !c.rate; r++) /* keys are few: a scan is enough */
            if (!cmp_part(rates[r]->key, strlen(rates[r]->key), nets[g].ak, nets[g].aklen))
                c.rate = rates[r];
        for (size_t i = g; i < e && !rc; i++)
            if (nets[i].s->pts[nets[i].s->n - 1].minute >= from_min) /* else nothing to report */
                rc = judge_network(&c, &nets[i], from_min, until_min, out);
        g = e;
    }
done:
    free(nets);
    free(pres);
    free(rates);
    return rc;
}

const tk_insight_detector_t tk_insight_det_ip = {
    .name = "IpInsight",
    .summary = "a source IP doing more (weighted: writes, sensitive APIs, failures) than usual, "
               "or a new IP doing much",
    .object = "source IP",
    .defaults = {.alpha = 1e-4, .k = 2, .m = 10, .close_quiet = 30, .min_count = 6,
                 .floor_rate = 0.01, .sigma = 1, .min_history_h = 24, .by_events = 1,
                 .enabled = 1},
    .classify = classify_ip,
    .evaluate = tk_insight_series_evaluate,
    .evaluate_all = evaluate_ip,
};

const tk_insight_detector_t tk_insight_det_ak = {
    .name = "AkInsight",
    .summary = "an AccessKey calling far above its usual rate, a new or dormant key "
               "suddenly active, or a key with a history used from a network it has not used",
    .object = "AccessKey",
    .defaults = {.alpha = 1e-4, .k = 2, .m = 10, .close_quiet = 30, .min_count = 3,
                 .floor_rate = 0.01, .sigma = 1, .min_history_h = 24, .enabled = 1,
                 .net_min = 5, .net_days = 3, .net_roam = 0.25},
    .classify = classify_ak,
    .evaluate = tk_insight_series_evaluate,
    .evaluate_all = evaluate_ak,
};

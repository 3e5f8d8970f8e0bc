/* trailkeep event generator: builds a world of accounts and identities from
 * the seed, spreads the requested number of events over the time range by a
 * weekly rate curve (office hours in UTC+8, quiet nights and weekends), and
 * merges in the attack scenarios, all as one deterministic stream.
 * Invariants: output times never decrease; the i-th event depends only on the
 * options (never on wall-clock time, except the default start). */
#include "gen/gen.h"
#include "gen/gen_internal.h"

#include "base/tk.h"
#include "base/tktime.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS 3600000LL
#define GEN_MAX_EVENTS 10000000000ull
#define GEN_MAX_DAYS 3660u
#define GEN_EVENT_ROOM 16384 /* every rendered event is far smaller */

/* ---- scenarios ---- */
enum {
    SC_BRUTE = 0, SC_ROOT_NOMFA, SC_ROOT_AK, SC_TRAIL, SC_SG_OPEN, SC_MASS_DELETE, SC_ADMIN_POLICY,
    SC__COUNT
};
const char *const tk_gen_scenario_names[] = {
    "brute-force-signin", "root-signin-no-mfa", "root-accesskey-created", "trail-concealment",
    "sg-open-world", "mass-delete-instances", "admin-policy-attached", NULL,
};
/* Insights scenarios (opts.insight_attacks) number on after SC__COUNT so the
 * attack scenarios above, and their output, stay as they are. */
enum { SC_PW_SPREE = SC__COUNT, SC_PRIV_ESC, SC_ERR_STORM, SC_AK_LEAK, SC_AK_NEWNET, SC__ALL };
const char *const tk_gen_insight_scenario_names[] = {
    "password-reset-spree", "permission-escalation", "error-storm", "accesskey-leak-new-ip",
    "ak-new-network", NULL,
};
static const char *scen_name(int sc)
{
    return sc < SC__COUNT ? tk_gen_scenario_names[sc] : tk_gen_insight_scenario_names[sc - SC__COUNT];
}

typedef struct gen_sev {
    int64_t ms;
    uint32_t seq;       /* creation order: breaks time ties deterministically */
    uint8_t scen, step;
    uint16_t ident;     /* actor */
    uint16_t target;    /* identity acted on (where relevant) */
    uint16_t aux;       /* per-step detail (resource index, ...) */
    uint32_t acct;
    char ip[48];
    char extra[40];     /* created name / AccessKey */
} gen_sev_t;

struct tk_gen {
    tk_gen_opts_t o;
    gen_rng_t rng;     /* background events */
    gen_rng_t srng;    /* scenario rendering, so attacks do not perturb the background draws */
    gen_account_t *accts;
    uint64_t *acct_cum;
    uint64_t api_cum[128];
    int64_t start_ms, end_ms;
    uint32_t nhours;
    uint32_t *hw;      /* rate weight of each hour */
    uint64_t wsum;
    uint64_t total, bg_total, bg_done, emitted;
    uint32_t hour;     /* next hour to open */
    uint64_t cum_w;    /* weights of hours already opened */
    uint64_t hour_left;
    double cur, hour_end;
    int64_t bg_next;   /* time of the pending background event, valid when bg_ready */
    int bg_ready;
    gen_sev_t *sev;
    size_t nsev, sev_i;
    uint64_t *idset;   /* account ids taken (world building only) */
    uint64_t idmask;
};

void gen_rng_seed(gen_rng_t *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ull;
        r->s[i] = gen_mix(x);
    }
}

void tk_gen_opts_default(tk_gen_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->accounts = 3;
    o->users = 8;
    o->days = 7;
    o->events_per_day = 10000;
    o->start_ms = INT64_MIN;
    o->error_rate = 0.03;
    o->signin_failure_rate = 0.08;
    o->shape = TK_GEN_SHAPE_ACTIONTRAIL;
}

/* ---- names ---- */
static const char *const human_names[] = {
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "wang.lei",
    "zhang.wei", "li.na", "chen.jing", "liu.yang", "zhao.min", "sun.hao", "zhou.xin",
};
static const char *const auto_names[] = {
    "ci-deployer", "terraform", "monitor-agent", "backup-bot", "k8s-controller", "log-shipper",
    "billing-export", "cmdb-sync",
};
static const char *const role_names[] = {
    "ecs-admin-role", "deploy-role", "readonly-auditor", "k8s-worker-role", "data-pipeline-role",
    "ops-oncall-role",
};
static const char *const service_roles[] = {
    "AliyunServiceRoleForECS", "AliyunCSDefaultRole", "AliyunServiceRoleForAutoScaling",
    "AliyunServiceRoleForActionTrail",
};
static const char *const companies[] = {
    "acme", "bluriver", "northwind", "contoso", "globex", "initech", "umbrella", "hooli",
    "vandelay", "stark", "wayne", "tyrell", "cyberdyne", "soylent", "wonka", "oscorp",
};
static const uint8_t ipv4_first[] = {42, 47, 101, 106, 112, 114, 115, 116, 117, 118, 119, 120,
                                     121, 139, 180, 182, 183, 202, 203, 210, 221, 223};
static const uint8_t attack_first[] = {5, 23, 45, 89, 91, 103, 146, 167, 185, 193, 194, 212};

static void rand_chars(gen_rng_t *r, const char *alpha, uint32_t alen, char *out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = alpha[gen_below(r, alen)];
    out[n] = 0;
}
static const char B62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
static const char B36[] = "0123456789abcdefghijklmnopqrstuvwxyz";

static void rand_digits(gen_rng_t *r, char first, char *out, int n)
{
    out[0] = first;
    rand_chars(r, "0123456789", 10, out + 1, n - 1);
}

static void rand_ipv4(gen_rng_t *r, const uint8_t *firsts, uint32_t nf, char *out)
{
    snprintf(out, 48, "%u.%u.%u.%u", firsts[gen_below(r, nf)], gen_below(r, 256), gen_below(r, 256),
             1 + gen_below(r, 254));
}

static void rand_ipv6(gen_rng_t *r, char *out)
{
    static const char *const pfx[] = {"240e", "2408", "2409", "2001:da8"};
    /* 1-group prefix + 3 groups + 0 + 3 groups: 8 groups, a valid address */
    snprintf(out, 48, "%s:%x:%x:%x:0:%x:%x:%x", pfx[gen_below(r, 3)], gen_below(r, 0xffff) + 1,
             gen_below(r, 0xffff), gen_below(r, 0xffff), gen_below(r, 0xffff), gen_below(r, 0xffff),
             gen_below(r, 0xffff) + 1);
}

static void rand_ak(gen_rng_t *r, char *out)
{
    memcpy(out, "LTAI5t", 6);
    rand_chars(r, B62, 62, out + 6, 18);
}

/* A resource's name depends only on (account, kind, region, index), so the
 * same instance keeps its id across events without storing it. */
void gen_res_name(const gen_account_t *a, int k, const gen_region_t *reg, uint32_t i, char *out)
{
    static const char *const words[] = {"logs", "backup", "static", "data", "media", "archive",
                                        "assets", "reports", "build", "images"};
    const gen_res_kind_t *rk = &gen_res_kinds[k];
    uint64_t h = gen_mix(a->hseed ^ gen_mix((uint64_t)k << 40 ^ (uint64_t)(reg - gen_regions) << 32 ^ i));
    if (k == RES_BUCKET) {
        snprintf(out, 48, "%s-%s-%05u", a->trail, words[h % 10], (unsigned)(h >> 20) % 100000);
        /* trail is "<company>-trail": keep only the company part */
        char *t = strstr(out, "-trail");
        if (t)
            memmove(t, t + 6, strlen(t + 6) + 1);
        return;
    }
    size_t n = strlen(rk->prefix);
    memcpy(out, rk->prefix, n);
    if (rk->regional) {
        memcpy(out + n, reg->code, 3);
        n += 3;
    }
    uint64_t x = h;
    for (int j = 0; j < rk->idlen; j++) {
        if (j % 10 == 0) /* 10 base-36 digits use 52 of the 64 bits */
            x = gen_mix(h + (uint64_t)j);
        out[n++] = B36[x % 36];
        x /= 36;
    }
    out[n] = 0;
}

/* STS AccessKeys rotate every hour; derived from (account, identity, hour) so
 * each belongs to exactly one role session. */
static void sts_ak(const gen_account_t *a, uint32_t ident, int64_t ms, char *out)
{
    uint64_t h = gen_mix(a->hseed ^ 0x5757ull << 48 ^ (uint64_t)ident << 32 ^ (uint64_t)(ms / HOUR_MS));
    memcpy(out, "STS.NT", 6);
    uint64_t x = h;
    for (int j = 0; j < 26; j++) {
        if (j % 10 == 0)
            x = gen_mix(h + (uint64_t)j);
        out[6 + j] = B62[x % 62];
        x /= 62;
    }
    out[32] = 0;
}

static int build_account(tk_gen_t *g, gen_rng_t *r, uint32_t ai, char *err)
{
    gen_account_t *a = &g->accts[ai];
    for (;;) { /* 16-digit ids, unique in the world */
        rand_digits(r, (char)('1' + gen_below(r, 2)), a->id, 16);
        uint64_t v = strtoull(a->id, NULL, 10), i = gen_mix(v) & g->idmask;
        while (g->idset[i] && g->idset[i] != v) /* open addressing, load <= 1/2 */
            i = (i + 1) & g->idmask;
        if (!g->idset[i]) {
            g->idset[i] = v;
            break;
        }
    }
    const char *co = companies[ai % TK_ARRAY_LEN(companies)];
    if (ai < TK_ARRAY_LEN(companies)) {
        snprintf(a->trail, sizeof a->trail, "%s-trail", co);
        snprintf(a->root_email, sizeof a->root_email, "cloud-admin@%s.com", co);
    } else {
        snprintf(a->trail, sizeof a->trail, "%s%u-trail", co, ai / (unsigned)TK_ARRAY_LEN(companies));
        snprintf(a->root_email, sizeof a->root_email, "cloud-admin@%s%u.com", co,
                 ai / (unsigned)TK_ARRAY_LEN(companies));
    }
    a->hseed = gen_u64(r);
    static const uint8_t home_pick[] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 4, 5, 6, 7, 8};
    a->regions[0] = home_pick[gen_below(r, TK_ARRAY_LEN(home_pick))];
    a->nregions = (uint8_t)(1 + gen_below(r, 3));
    for (uint8_t k = 1; k < a->nregions; k++) {
        uint8_t c;
        int dup;
        do {
            c = (uint8_t)gen_below(r, GEN_REGION_COUNT);
            dup = 0;
            for (uint8_t j = 0; j < k; j++)
                dup |= a->regions[j] == c;
        } while (dup);
        a->regions[k] = c;
    }
    a->pool = 30 + gen_below(r, 170);
    rand_ipv4(r, ipv4_first, TK_ARRAY_LEN(ipv4_first), a->office_ip[0]);
    rand_ipv4(r, ipv4_first, TK_ARRAY_LEN(ipv4_first), a->office_ip[1]);

    a->nids = g->o.users;
    a->ids = calloc(a->nids, sizeof *a->ids);
    a->cum_day = calloc(a->nids, sizeof *a->cum_day);
    a->cum_night = calloc(a->nids, sizeof *a->cum_night);
    if (!a->ids || !a->cum_day || !a->cum_night)
        return tk_errf(err, TK_ENOMEM, "out of memory building %u identities", a->nids);
    uint32_t nh = 0, na = 0, nr = 0;
    uint64_t cd = 0, cn = 0;
    for (uint32_t i = 0; i < a->nids; i++) {
        gen_ident_t *id = &a->ids[i];
        uint32_t wd, wn;
        id->home = (uint8_t)(gen_below(r, 5) < 4 ? 0 : gen_below(r, a->nregions));
        id->ua[0] = (uint8_t)gen_below(r, gen_ua_tool_count);
        id->ua[1] = (uint8_t)gen_below(r, gen_ua_browser_count);
        uint32_t pick = gen_below(r, 100);
        if (i == 0) {
            id->type = ID_ROOT;
            id->human = 1;
            id->mfa = 1;
            snprintf(id->name, sizeof id->name, "root");
            snprintf(id->principal, sizeof id->principal, "%s", a->id);
            id->nips = 2;
            snprintf(id->ips[0], 48, "%s", a->office_ip[0]);
            rand_ipv4(r, ipv4_first, TK_ARRAY_LEN(ipv4_first), id->ips[1]);
            wd = 20;
            wn = 6;
        } else if (i == 1 || (i != 2 && pick < 55)) {
            const char *nm = human_names[(ai * 7 + nh) % TK_ARRAY_LEN(human_names)];
            if (nh < TK_ARRAY_LEN(human_names))
                snprintf(id->name, sizeof id->name, "%s", nm);
            else
                snprintf(id->name, sizeof id->name, "%s%u", nm, nh / (unsigned)TK_ARRAY_LEN(human_names));
            nh++;
            id->type = ID_RAM_USER;
            id->human = 1;
            id->mfa = gen_below(r, 10) < 6;
            rand_digits(r, '2', id->principal, 16);
            id->nak = (uint8_t)(1 + (gen_below(r, 4) == 0));
            id->nips = 3;
            snprintf(id->ips[0], 48, "%s", a->office_ip[0]);
            snprintf(id->ips[1], 48, "%s", a->office_ip[1]);
            if (gen_below(r, 10) < 6)
                rand_ipv4(r, ipv4_first, TK_ARRAY_LEN(ipv4_first), id->ips[2]);
            else
                rand_ipv6(r, id->ips[2]);
            wd = 4000 / nh;
            wn = wd / 12 + 1;
        } else if (i == 2 || pick < 78) {
            const char *nm = auto_names[na % TK_ARRAY_LEN(auto_names)];
            if (na < TK_ARRAY_LEN(auto_names))
                snprintf(id->name, sizeof id->name, "%s", nm);
            else
                snprintf(id->name, sizeof id->name, "%s-%u", nm, na / (unsigned)TK_ARRAY_LEN(auto_names));
            na++;
            id->type = ID_RAM_USER;
            rand_digits(r, '2', id->principal, 16);
            id->nak = (uint8_t)(1 + (gen_below(r, 3) == 0));
            id->nips = (uint8_t)(1 + gen_below(r, 2));
            for (uint8_t k = 0; k < id->nips; k++) {
                if (gen_below(r, 5) == 0)
                    snprintf(id->ips[k], 48, "172.16.%u.%u", gen_below(r, 256), 1 + gen_below(r, 254));
                else
                    rand_ipv4(r, ipv4_first, TK_ARRAY_LEN(ipv4_first), id->ips[k]);
            }
            wd = wn = 9000 / na;
        } else {
            int svc = gen_below(r, 3) == 0;
            id->type = ID_ROLE;
            id->service = (uint8_t)svc;
            if (svc)
                snprintf(id->name, sizeof id->name, "%s",
                         service_roles[nr % TK_ARRAY_LEN(service_roles)]);
            else if (nr < TK_ARRAY_LEN(role_names))
                snprintf(id->name, sizeof id->name, "%s", role_names[nr]);
            else
                snprintf(id->name, sizeof id->name, "%s-%u", role_names[nr % TK_ARRAY_LEN(role_names)],
                         nr / (unsigned)TK_ARRAY_LEN(role_names));
            nr++;
            rand_digits(r, '3', id->principal, 19);
            if (svc) {
                snprintf(id->session, sizeof id->session, "%s", "ecs.aliyuncs.com");
                id->nips = 1;
                snprintf(id->ips[0], 48, "Internal");
            } else {
                snprintf(id->session, sizeof id->session, "%s-%04u",
                         gen_below(r, 2) ? "session" : "ci", gen_below(r, 10000));
                id->nips = 2;
                rand_ipv4(r, ipv4_first, TK_ARRAY_LEN(ipv4_first), id->ips[0]);
                rand_ipv4(r, ipv4_first, TK_ARRAY_LEN(ipv4_first), id->ips[1]);
            }
            wd = wn = 5000 / nr;
        }
        for (uint8_t k = 0; k < id->nak; k++)
            rand_ak(r, id->ak[k]);
        cd += wd;
        cn += wn;
        a->cum_day[i] = cd;
        a->cum_night[i] = cn;
    }
    return 0;
}

/* Smallest i with cum[i] > x (cum strictly increasing where weights > 0). */
static uint32_t pick_cum(const uint64_t *cum, uint32_t n, uint64_t x)
{
    uint32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Office-hours activity in UTC+8 for each local hour, in percent. */
static const uint8_t human_hour[24] = {2,  1,  1,   1,   1,  2,  4,  10, 30, 80, 100, 100,
                                       60, 70, 100, 100, 100, 90, 60, 40, 35, 30, 20,  8};

static int local_is_weekend(int64_t ms)
{
    int64_t lday = tk_time_day(ms + 8 * HOUR_MS);
    int dow = (int)(((lday + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday; 0 = Sunday */
    return dow == 0 || dow == 6;
}
static int local_hour(int64_t ms)
{
    int64_t lms = ms + 8 * HOUR_MS;
    return (int)((lms - tk_time_day(lms) * TK_MS_PER_DAY) / HOUR_MS);
}

static int cmp_sev(const void *x, const void *y)
{
    const gen_sev_t *a = x, *b = y;
    if (a->ms != b->ms)
        return a->ms < b->ms ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* First identity of account a that satisfies the wanted kind, else 1. */
static uint16_t find_ident(const gen_account_t *a, gen_rng_t *r, int want_human, int need_nomfa)
{
    uint32_t start = 1 + gen_below(r, a->nids - 1);
    for (uint32_t k = 0; k < a->nids - 1; k++) {
        uint32_t i = 1 + (start - 1 + k) % (a->nids - 1);
        const gen_ident_t *id = &a->ids[i];
        if (id->type != ID_RAM_USER || (want_human && !id->human) || (need_nomfa && id->mfa))
            continue;
        return (uint16_t)i;
    }
    return 1; /* identity 1 is always a human RAM user */
}

static int add_sev(tk_gen_t *g, size_t *cap, const gen_sev_t *s)
{
    if (g->nsev == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        gen_sev_t *p = realloc(g->sev, nc * sizeof *p);
        if (!p)
            return TK_ENOMEM;
        g->sev = p;
        *cap = nc;
    }
    g->sev[g->nsev] = *s;
    g->sev[g->nsev].ms -= s->ms % 1000; /* whole seconds, as written */
    g->sev[g->nsev].seq = (uint32_t)g->nsev;
    g->nsev++;
    return 0;
}

/* Plans one set of scenarios (one of each kind, each in a random account at a
 * random time); events of one scenario are minutes apart. */
static int plan_scenarios(tk_gen_t *g, gen_rng_t *r, size_t *cap)
{
    int64_t span = g->end_ms - g->start_ms;
    for (int sc = 0; sc < SC__COUNT; sc++) {
        gen_sev_t s;
        memset(&s, 0, sizeof s);
        s.scen = (uint8_t)sc;
        s.acct = gen_below(r, g->o.accounts);
        const gen_account_t *a = &g->accts[s.acct];
        /* leave room for the scenario to finish inside the range */
        int64_t t = g->start_ms + 600000 + (int64_t)(gen_unit(r) * (double)(span - 3600000));
        t -= t % 1000;
        rand_ipv4(r, attack_first, TK_ARRAY_LEN(attack_first), s.ip);
        int rc = 0;
        switch (sc) {
        case SC_BRUTE: {
            s.ident = find_ident(a, r, 1, 1);
            uint32_t n = 10 + gen_below(r, 6);
            for (uint32_t k = 0; k < n && !rc; k++) {
                s.ms = t;
                s.step = 0;
                rc = add_sev(g, cap, &s);
                t += 4000 + gen_below(r, 20000);
            }
            s.ms = t += 30000 + gen_below(r, 60000);
            s.step = 1; /* the successful sign-in */
            rc = rc ? rc : add_sev(g, cap, &s);
            for (int k = 0; k < 2 && !rc; k++) {
                s.ms = t += 20000 + gen_below(r, 40000);
                s.step = (uint8_t)(2 + k); /* recon from the new IP */
                rc = add_sev(g, cap, &s);
            }
            break;
        }
        case SC_ROOT_NOMFA:
            s.ms = t;
            s.step = 0;
            rc = add_sev(g, cap, &s);
            s.ms = t + 40000 + gen_below(r, 60000);
            s.step = 1;
            rc = rc ? rc : add_sev(g, cap, &s);
            break;
        case SC_ROOT_AK:
            memcpy(s.extra, "LTAI5t", 6);
            rand_chars(r, B62, 62, s.extra + 6, 18);
            s.ms = t;
            s.step = 0; /* CreateAccessKey by root, from the office */
            rc = add_sev(g, cap, &s);
            for (int k = 0; k < 2 && !rc; k++) {
                s.ms = t += 60000 + gen_below(r, 600000);
                s.step = (uint8_t)(1 + k); /* the new root key in use from elsewhere */
                rc = add_sev(g, cap, &s);
            }
            break;
        case SC_TRAIL:
            s.ident = find_ident(a, r, 1, 0);
            s.ms = t;
            s.step = 0;
            rc = add_sev(g, cap, &s);
            s.ms = t + 60000 + gen_below(r, 120000);
            s.step = 1;
            rc = rc ? rc : add_sev(g, cap, &s);
            break;
        case SC_SG_OPEN:
            s.ident = find_ident(a, r, 1, 0);
            s.aux = (uint16_t)gen_below(r, a->pool);
            s.ms = t;
            s.step = 0;
            rc = add_sev(g, cap, &s);
            break;
        case SC_MASS_DELETE: {
            s.ident = find_ident(a, r, 0, 0);
            uint32_t n = 20 + gen_below(r, 11);
            for (uint32_t k = 0; k < n && !rc; k++) {
                s.ms = t;
                s.step = 0;
                s.aux = (uint16_t)k;
                rc = add_sev(g, cap, &s);
                t += 1000 + gen_below(r, 5000);
            }
            break;
        }
        case SC_ADMIN_POLICY:
            s.ident = find_ident(a, r, 1, 0);
            snprintf(s.extra, sizeof s.extra, "svc-%s%u", gen_below(r, 2) ? "sync" : "backup",
                     gen_below(r, 100));
            s.ms = t;
            s.step = 0; /* CreateUser */
            rc = add_sev(g, cap, &s);
            s.ms = t + 20000 + gen_below(r, 60000);
            s.step = 1; /* AttachPolicyToUser AdministratorAccess */
            rc = rc ? rc : add_sev(g, cap, &s);
            break;
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* A RAM user holding a permanent AccessKey (scripts, leaked keys), else what
 * find_ident gives. */
static uint16_t find_keyed(const gen_account_t *a, gen_rng_t *r)
{
    uint32_t start = 1 + gen_below(r, a->nids - 1);
    for (uint32_t k = 0; k < a->nids - 1; k++) {
        uint32_t i = 1 + (start - 1 + k) % (a->nids - 1);
        if (a->ids[i].type == ID_RAM_USER && a->ids[i].nak && a->ids[i].ak[0][0])
            return (uint16_t)i;
    }
    return find_ident(a, r, 0, 0);
}

/* Plans one set of Insights scenarios: activity that is ordinary event by
 * event and anomalous only by its rate, sustained over minutes, or (the
 * AccessKey from a new network) only by where it comes from. */
static int plan_insight_scenarios(tk_gen_t *g, gen_rng_t *r, size_t *cap)
{
    int64_t span = g->end_ms - g->start_ms;
    for (int sc = SC__COUNT; sc < SC__ALL; sc++) {
        gen_sev_t s;
        memset(&s, 0, sizeof s);
        s.scen = (uint8_t)sc;
        s.acct = gen_below(r, g->o.accounts);
        const gen_account_t *a = &g->accts[s.acct];
        int64_t t = g->start_ms + 600000 + (int64_t)(gen_unit(r) * (double)(span - 3600000));
        t -= t % 1000;
        rand_ipv4(r, attack_first, TK_ARRAY_LEN(attack_first), s.ip);
        int rc = 0;
        switch (sc) {
        case SC_PW_SPREE: /* one admin resets many users' console passwords */
        case SC_PRIV_ESC: { /* one user attaches policies, AdministratorAccess first */
            s.ident = find_ident(a, r, 1, 0);
            uint32_t n = (sc == SC_PW_SPREE ? 8 : 5) + gen_below(r, 6);
            for (uint32_t k = 0; k < n && !rc; k++) {
                s.ms = t;
                s.step = (uint8_t)(k ? 1 : 0);
                rc = add_sev(g, cap, &s);
                t += 10000 + gen_below(r, 30000);
            }
            break;
        }
        case SC_ERR_STORM:   /* a script with the wrong permissions retrying in a loop */
        case SC_AK_LEAK: {   /* a script's key enumerating the account from elsewhere */
            s.ident = find_keyed(a, r);
            uint32_t minutes = (sc == SC_ERR_STORM ? 15 : 10) + gen_below(r, 11);
            for (uint32_t m = 0; m < minutes && !rc; m++) {
                uint32_t per = sc == SC_ERR_STORM ? 10 + gen_below(r, 15) : 6 + gen_below(r, 6);
                for (uint32_t k = 0; k < per && !rc; k++) {
                    s.ms = t + (int64_t)m * 60000 + (int64_t)(k * 60000 / per);
                    s.step = (uint8_t)gen_below(r, 3); /* which API (AK leak) */
                    rc = add_sev(g, cap, &s);
                }
            }
            break;
        }
        case SC_AK_NEWNET: { /* a person's key, used as they use it, from a network new to them */
            s.ident = find_ident(a, r, 1, 0);
            double minutes = 20 + gen_below(r, 41), rate = 0.4 + 0.8 * gen_unit(r), at = 0;
            while (at < minutes * 60000 && !rc) {
                s.ms = t + (int64_t)at;
                s.aux = (uint16_t)pick_cum(g->api_cum, gen_api_count,
                                           gen_u64(r) % g->api_cum[gen_api_count - 1]);
                rc = add_sev(g, cap, &s);
                at += -log(1 - gen_unit(r)) * 60000 / rate; /* Poisson arrivals */
            }
            break;
        }
        }
        if (rc)
            return rc;
    }
    return 0;
}

int tk_gen_create(const tk_gen_opts_t *opts, tk_gen_t **out, char *err)
{
    *out = NULL;
    const tk_gen_opts_t *o = opts;
    if (o->accounts < 1 || o->accounts > 100000)
        return tk_errf(err, TK_EINVAL, "accounts must be 1..100000 (got %u)", o->accounts);
    if (o->users < 3 || o->users > 10000)
        return tk_errf(err, TK_EINVAL, "users per account must be 3..10000 (got %u): root, a person "
                       "and an automation are always present", o->users);
    if (o->days < 1 || o->days > GEN_MAX_DAYS)
        return tk_errf(err, TK_EINVAL, "days must be 1..%u (got %u)", GEN_MAX_DAYS, o->days);
    if (!(o->error_rate >= 0 && o->error_rate <= 1) ||
        !(o->signin_failure_rate >= 0 && o->signin_failure_rate <= 1))
        return tk_errf(err, TK_EINVAL, "error rates must be between 0 and 1");
    uint64_t total = o->events ? o->events : o->events_per_day * o->days;
    if (total > GEN_MAX_EVENTS || (!o->events && o->events_per_day > GEN_MAX_EVENTS))
        return tk_errf(err, TK_EINVAL, "at most %llu events per run; split larger runs by --start",
                       (unsigned long long)GEN_MAX_EVENTS);
    tk_gen_t *g = calloc(1, sizeof *g);
    if (!g)
        return tk_errf(err, TK_ENOMEM, "out of memory");
    g->o = *o;
    g->total = total;
    int rc = TK_ENOMEM;
    gen_rng_t wr; /* world building has its own stream: worlds do not depend on counts */
    gen_rng_seed(&wr, o->seed ^ 0x776f726c64ull);
    gen_rng_seed(&g->rng, o->seed);
    gen_rng_seed(&g->srng, o->seed ^ 0x7363656eull);

    g->start_ms = o->start_ms;
    if (g->start_ms == INT64_MIN)
        g->start_ms = (tk_time_day(tk_now_ms()) - (int64_t)o->days) * TK_MS_PER_DAY;
    g->end_ms = g->start_ms + (int64_t)o->days * TK_MS_PER_DAY;

    g->accts = calloc(o->accounts, sizeof *g->accts);
    g->acct_cum = calloc(o->accounts, sizeof *g->acct_cum);
    for (g->idmask = 1; g->idmask < 2ull * o->accounts; g->idmask <<= 1)
        ;
    g->idset = calloc(g->idmask, sizeof *g->idset);
    g->idmask--;
    if (!g->accts || !g->acct_cum || !g->idset)
        goto fail;
    uint64_t c = 0;
    for (uint32_t i = 0; i < o->accounts; i++) {
        if ((rc = build_account(g, &wr, i, err)))
            goto fail;
        c += (uint64_t)(1e6 / pow(i + 1, 0.8)); /* a few big tenants, a long tail */
        g->acct_cum[i] = c;
    }
    c = 0;
    assert(gen_api_count <= TK_ARRAY_LEN(g->api_cum));
    for (uint32_t i = 0; i < gen_api_count; i++) {
        c += gen_apis[i].weight;
        g->api_cum[i] = c;
    }

    /* Weekly rate curve with a little day-to-day jitter. */
    g->nhours = o->days * 24;
    g->hw = calloc(g->nhours, sizeof *g->hw);
    if (!g->hw)
        goto fail;
    for (uint32_t d = 0; d < o->days; d++) {
        double jitter = 0.85 + 0.3 * gen_unit(&wr);
        for (uint32_t h = 0; h < 24; h++) {
            int64_t ms = g->start_ms + (int64_t)(d * 24 + h) * HOUR_MS;
            double human = human_hour[local_hour(ms)] * (local_is_weekend(ms) ? 0.2 : 1.0);
            g->hw[d * 24 + h] = (uint32_t)((25 + human) * jitter * 10);
            g->wsum += g->hw[d * 24 + h];
        }
    }

    if (o->attacks || o->insight_attacks) {
        size_t cap = 0;
        gen_rng_t pr;
        gen_rng_seed(&pr, o->seed ^ 0x61747461636bull);
        uint32_t sets = 1 + (o->accounts - 1) / 8;
        for (uint32_t s = 0; s < sets && o->attacks; s++)
            if ((rc = plan_scenarios(g, &pr, &cap)))
                goto fail;
        gen_rng_seed(&pr, o->seed ^ 0x696e7369676874ull); /* own stream: attacks unchanged */
        for (uint32_t s = 0; s < sets && o->insight_attacks; s++)
            if ((rc = plan_insight_scenarios(g, &pr, &cap)))
                goto fail;
        qsort(g->sev, g->nsev, sizeof *g->sev, cmp_sev);
        if (g->nsev > total) {
            rc = tk_errf(err, TK_EINVAL, "--attacks needs at least %zu events (got %llu): raise "
                         "--events or --per-day", g->nsev, (unsigned long long)total);
            goto fail;
        }
    }
    g->bg_total = total - g->nsev;
    *out = g;
    return 0;
fail:
    if (rc == TK_ENOMEM && err && !*err)
        tk_errf(err, TK_ENOMEM, "out of memory building the generator's world");
    tk_gen_destroy(g);
    return rc;
}

void tk_gen_destroy(tk_gen_t *g)
{
    if (!g)
        return;
    if (g->accts)
        for (uint32_t i = 0; i < g->o.accounts; i++) {
            free(g->accts[i].ids);
            free(g->accts[i].cum_day);
            free(g->accts[i].cum_night);
        }
    free(g->accts);
    free(g->acct_cum);
    free(g->hw);
    free(g->sev);
    free(g->idset);
    free(g);
}

uint64_t tk_gen_total(const tk_gen_t *g) { return g->total; }
int64_t tk_gen_start_ms(const tk_gen_t *g) { return g->start_ms; }
int64_t tk_gen_end_ms(const tk_gen_t *g) { return g->end_ms; }
uint64_t tk_gen_scenario_events(const tk_gen_t *g) { return g->nsev; }
tk_gen_shape_t tk_gen_shape(const tk_gen_t *g) { return g->o.shape; }
const char *tk_gen_region_name(uint32_t i, int aws)
{
    if (i >= GEN_REGION_COUNT)
        return NULL;
    return aws ? gen_regions[i].aws : gen_regions[i].id;
}
const char *tk_gen_account_id(const tk_gen_t *g, uint32_t i)
{
    return i < g->o.accounts ? g->accts[i].id : NULL;
}

/* Next background time: each hour gets its exact share of the events
 * (floor of the cumulative weight), and inside an hour the times are the
 * order statistics of uniform draws, produced one at a time without sorting:
 * the minimum of k uniforms on [cur, end) is cur + (end-cur)(1 - U^(1/k)). */
static int next_bg_time(tk_gen_t *g)
{
    while (!g->hour_left) {
        if (g->hour >= g->nhours)
            return 0;
        uint64_t before = g->bg_total * g->cum_w / g->wsum;
        g->cum_w += g->hw[g->hour];
        uint64_t after = g->bg_total * g->cum_w / g->wsum;
        g->hour_left = after - before;
        g->cur = (double)(g->start_ms + (int64_t)g->hour * HOUR_MS);
        g->hour_end = g->cur + (double)HOUR_MS;
        g->hour++;
    }
    double u = 1.0 - gen_unit(&g->rng); /* (0, 1] */
    g->cur += (g->hour_end - g->cur) * (1.0 - pow(u, 1.0 / (double)g->hour_left));
    g->hour_left--;
    int64_t ms = (int64_t)g->cur;
    if ((double)ms >= g->hour_end)
        ms = (int64_t)g->hour_end - 1;
    g->bg_next = ms - ms % 1000; /* ActionTrail writes whole seconds */
    g->bg_ready = 1;
    return 1;
}

static void rand_uuid(gen_rng_t *r, uint8_t out[16])
{
    uint64_t a = gen_u64(r), b = gen_u64(r);
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x40);
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
}

static const gen_region_t *acct_region(const gen_account_t *a, const gen_ident_t *id, gen_rng_t *r)
{
    if (id && gen_below(r, 100) < 85)
        return &gen_regions[a->regions[id->home]];
    return &gen_regions[a->regions[gen_below(r, a->nregions)]];
}

/* Resource index skewed toward low indexes: a few resources get most calls. */
static uint32_t pick_res(gen_rng_t *r, uint32_t pool)
{
    double u = gen_unit(r);
    return (uint32_t)(u * u * pool);
}

/* A RAM user of the account other than root (the caller itself if none). */
static const gen_ident_t *pick_ram_user(const gen_account_t *a, gen_rng_t *r)
{
    for (int tries = 0; tries < 8; tries++) {
        const gen_ident_t *id = &a->ids[1 + gen_below(r, a->nids - 1)];
        if (id->type == ID_RAM_USER)
            return id;
    }
    return &a->ids[1];
}

static void fill_resources(gen_draft_t *d, gen_rng_t *r)
{
    const gen_api_t *api = d->api;
    const gen_account_t *a = d->acct;
    int kinds[2] = {api->res, api->res2};
    char *outs[2] = {d->res1, d->res2};
    d->res1[0] = d->res2[0] = d->target[0] = d->newid[0] = 0;
    if (api->res_share < 100 && gen_below(r, 100) >= api->res_share)
        kinds[0] = kinds[1] = RES_NONE;
    for (int k = 0; k < 2; k++) {
        switch (kinds[k]) {
        case RES_NONE: break;
        case RES_RAMUSER: {
            const gen_ident_t *t = pick_ram_user(a, r);
            snprintf(outs[k], 48, "%s", t->name);
            snprintf(d->target, sizeof d->target, "%s", t->name);
            break;
        }
        case RES_POLICY:
            d->policy = gen_policies[gen_below(r, gen_policies_count)];
            snprintf(outs[k], 48, "%s", d->policy);
            break;
        case RES_ROLE: {
            uint32_t best = 0;
            for (uint32_t i = 1; i < a->nids && !best; i++)
                if (a->ids[i].type == ID_ROLE && !a->ids[i].service)
                    best = i;
            snprintf(outs[k], 48, "%s", best ? a->ids[best].name : "ecs-admin-role");
            if (best) /* the credentials handed out are the role's key for that hour */
                sts_ak(a, best, d->ms, d->newid);
            break;
        }
        case RES_TRAIL: snprintf(outs[k], 48, "%s", a->trail); break;
        default: gen_res_name(a, kinds[k], d->reg, pick_res(r, a->pool), outs[k]); break;
        }
    }
    if (api->ptpl == P_CREATE && d->res2[0]) {
        snprintf(d->newid, sizeof d->newid, "%s", d->res2);
    } else if (api->ptpl == P_CREATE) {
        snprintf(d->newid, sizeof d->newid, "%s", d->res1);
    } else if (api->ptpl == P_RUN) {
        snprintf(d->newid, sizeof d->newid, "%s", d->res1);
    } else if (api->ptpl == P_AK) {
        rand_ak(r, d->newid);
    }
    if (api->ptpl == P_SG_RULE) {
        static const char *const cidrs[] = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                            "100.104.0.0/16"};
        static const char *const ports[] = {"443/443", "80/80", "22/22", "3306/3306", "8080/8080"};
        d->cidr = cidrs[gen_below(r, 4)];
        d->ports = ports[gen_below(r, 5)];
    }
}

/* Where people and machines call from, beyond their fixed addresses, made
 * from hashes of (account, identity, day or time) so no random draw is added
 * and the rest of the stream stays as it was:
 * - a person works away from the office (travel, home office) on about one
 *   weekday in 12, all day from one network new to them, and starts that day
 *   with a console sign-in from there;
 * - a person's own line changes address inside its /24 every day (DHCP);
 * - every other automation runs on a runner fleet spread over four /24
 *   subnets, each call from any host of them. */
static void roam(tk_gen_t *g, gen_draft_t *d)
{
    if (!d->id || d->kind == EV_SERVICE)
        return;
    gen_account_t *a = &g->accts[d->acct - g->accts];
    uint32_t ii = (uint32_t)(d->id - a->ids);
    gen_ident_t *id = &a->ids[ii];
    if (id->type != ID_RAM_USER)
        return;
    uint64_t who = a->hseed ^ gen_mix((uint64_t)ii << 8 ^ 0x726f616dull);
    if (!id->human) {
        if (gen_mix(who) % 2)
            return;
        uint64_t h = gen_mix(who ^ (uint64_t)d->ms ^ gen_mix((uint64_t)d->ms));
        uint64_t net = gen_mix(who ^ (0x666c656574ull + h % 4));
        snprintf(d->ipbuf, sizeof d->ipbuf, "%u.%u.%u.%u",
                 ipv4_first[net % TK_ARRAY_LEN(ipv4_first)], (unsigned)(net >> 8) & 255,
                 (unsigned)(net >> 16) & 255, 1 + (unsigned)((h >> 8) % 254));
        d->ip = d->ipbuf;
        return;
    }
    int64_t lday = tk_time_day(d->ms + 8 * HOUR_MS);
    uint64_t day = gen_mix(who ^ gen_mix((uint64_t)lday));
    if (!local_is_weekend(d->ms) && day % 12 == 0) {
        snprintf(d->ipbuf, sizeof d->ipbuf, "%u.%u.%u.%u",
                 ipv4_first[(day >> 8) % TK_ARRAY_LEN(ipv4_first)], (unsigned)(day >> 16) & 255,
                 (unsigned)(day >> 24) & 255, 1 + (unsigned)((day >> 32) % 254));
        d->ip = d->ipbuf;
        if (id->away_day != lday) { /* the day starts with signing in from there */
            id->away_day = lday;
            d->kind = EV_SIGNIN;
            d->ua = gen_ua_browser[id->ua[1]];
            d->err = NULL;
            d->api = NULL;
            d->ak = "";
            d->console = 0;
        }
        return;
    }
    if (d->ip == id->ips[2] && !strchr(d->ip, ':')) { /* the personal line, IPv4 */
        const char *dot = strrchr(d->ip, '.');
        snprintf(d->ipbuf, sizeof d->ipbuf, "%.*s.%u", (int)(dot - d->ip), d->ip,
                 1 + (unsigned)((day >> 40) % 254));
        d->ip = d->ipbuf;
    }
}

static void bg_draws(tk_gen_t *g, gen_draft_t *d);

static void bg_draft(tk_gen_t *g, gen_draft_t *d)
{
    bg_draws(g, d);
    roam(g, d);
}

static void bg_draws(tk_gen_t *g, gen_draft_t *d)
{
    gen_rng_t *r = &g->rng;
    memset(d, 0, sizeof *d);
    d->ms = g->bg_next;
    d->acct = &g->accts[pick_cum(g->acct_cum, g->o.accounts, gen_u64(r) % g->acct_cum[g->o.accounts - 1])];
    const gen_account_t *a = d->acct;
    rand_uuid(r, d->ev_uuid);
    rand_uuid(r, d->req_uuid);
    d->ak = "";
    if (gen_below(r, 1000) < 8) { /* service-initiated events */
        static const char *const names[] = {"Instance:StateChange", "Instance:SystemMaintenance.Reboot",
                                            "Disk:Stalled", "Snapshot:CreateSnapshotCompleted"};
        d->kind = EV_SERVICE;
        d->reg = acct_region(a, NULL, r);
        d->region = d->reg->id;
        d->svc_event = names[gen_below(r, 100) < 70 ? 0 : 1 + gen_below(r, 3)];
        d->ip = "Internal";
        d->ua = "";
        gen_res_name(a, RES_INSTANCE, d->reg, pick_res(r, a->pool), d->res1);
        return;
    }
    int day = human_hour[local_hour(d->ms)] >= 40 && !local_is_weekend(d->ms);
    const uint64_t *cum = day ? a->cum_day : a->cum_night;
    uint32_t ii = pick_cum(cum, a->nids, gen_u64(r) % cum[a->nids - 1]);
    const gen_ident_t *id = d->id = &a->ids[ii];
    d->reg = acct_region(a, id, r);
    d->region = d->reg->id;
    d->ip = id->ips[id->nips > 1 && gen_below(r, 4) == 0 ? gen_below(r, id->nips) : 0];
    d->mfa = id->mfa;
    uint32_t u = gen_below(r, 1000);
    if (id->human) {
        int root = id->type == ID_ROOT;
        if (u < (root ? 200u : 30u)) {
            d->kind = EV_SIGNIN;
            d->ua = gen_ua_browser[id->ua[1]];
            if (gen_unit(r) < g->o.signin_failure_rate) {
                static const gen_err_t pw = {"InvalidPassword", "Password is invalid", 400};
                static const gen_err_t mfa = {"InvalidMFACode", "MFA code is invalid", 400};
                d->err = id->mfa && gen_below(r, 5) == 0 ? &mfa : &pw;
            }
            return;
        }
        if (u < (root ? 250u : 40u)) {
            d->kind = EV_SIGNOUT;
            d->ua = gen_ua_browser[id->ua[1]];
            return;
        }
        d->console = root || gen_below(r, 100) < 55 || !id->nak;
    }
    d->kind = EV_API;
    uint32_t ai;
    do {
        ai = pick_cum(g->api_cum, gen_api_count, gen_u64(r) % g->api_cum[gen_api_count - 1]);
    } while (id->type == ID_ROLE && gen_apis[ai].svc == SVC_STS && gen_apis[ai].write);
    d->api = &gen_apis[ai];
    if (gen_services[d->api->svc].global)
        d->reg = &gen_regions[0], d->region = d->reg->id;
    if (d->console) {
        d->ua = gen_ua_browser[id->ua[1]];
        d->session_ms = d->ms - (int64_t)gen_below(r, 4 * 3600) * 1000;
        d->session_ms -= d->session_ms % 1000;
    } else {
        d->ua = gen_ua_tool[id->ua[0]];
        if (id->type == ID_ROLE) {
            sts_ak(a, ii, d->ms, d->sts_ak);
            d->ak = d->sts_ak;
            d->session_ms = d->ms - d->ms % HOUR_MS;
        } else {
            d->ak = id->ak[id->nak > 1 ? gen_below(r, id->nak) : 0];
        }
    }
    fill_resources(d, r);
    if (gen_unit(r) < g->o.error_rate)
        d->err = gen_pick_error(r, d->api, id->type);
}

/* Builds the draft of scenario event s (see plan_scenarios for the story). */
static void sev_draft(tk_gen_t *g, const gen_sev_t *s, gen_draft_t *d)
{
    gen_rng_t *r = &g->srng;
    memset(d, 0, sizeof *d);
    const gen_account_t *a = d->acct = &g->accts[s->acct];
    d->ms = s->ms;
    d->scenario = scen_name(s->scen);
    d->label = g->o.label;
    rand_uuid(r, d->ev_uuid);
    rand_uuid(r, d->req_uuid);
    d->reg = &gen_regions[a->regions[0]];
    d->region = d->reg->id;
    d->ak = "";
    const gen_ident_t *id = d->id = &a->ids[s->ident];
    d->ua = gen_ua_browser[id->ua[1]];
    d->ip = s->ip;
    d->mfa = id->mfa;
    d->kind = EV_API;
    const gen_api_t *api = NULL;
    switch (s->scen) {
    case SC_BRUTE:
        if (s->step <= 1) {
            static const gen_err_t pw = {"InvalidPassword", "Password is invalid", 400};
            d->kind = EV_SIGNIN;
            d->mfa = 0;
            d->err = s->step == 0 ? &pw : NULL;
            return;
        }
        d->console = 1;
        api = &gen_apis[gen_api_find(s->step == 2 ? SVC_RAM : SVC_ECS,
                                     s->step == 2 ? "ListUsers" : "DescribeInstances")];
        break;
    case SC_ROOT_NOMFA:
        d->id = id = &a->ids[0];
        d->ua = gen_ua_browser[(id->ua[1] + 1) % gen_ua_browser_count];
        d->mfa = 0;
        if (s->step == 0) {
            d->kind = EV_SIGNIN;
            return;
        }
        d->console = 1;
        api = &gen_apis[gen_api_find(SVC_ECS, "DescribeInstances")];
        break;
    case SC_ROOT_AK:
        d->id = id = &a->ids[0];
        if (s->step == 0) {
            d->console = 1;
            d->ip = id->ips[0];
            d->ua = gen_ua_browser[id->ua[1]];
            api = &gen_apis[gen_api_find(SVC_RAM, "CreateAccessKey")];
        } else {
            d->ak = s->extra;
            d->ua = gen_ua_tool[2];
            api = &gen_apis[gen_api_find(s->step == 1 ? SVC_STS : SVC_RAM,
                                         s->step == 1 ? "GetCallerIdentity" : "ListUsers")];
        }
        break;
    case SC_TRAIL:
        d->console = 1;
        d->ip = id->ips[0];
        api = &gen_apis[gen_api_find(SVC_ACTIONTRAIL, s->step == 0 ? "StopLogging" : "DeleteTrail")];
        break;
    case SC_SG_OPEN:
        d->console = 1;
        d->ip = id->ips[0];
        api = &gen_apis[gen_api_find(SVC_ECS, "AuthorizeSecurityGroup")];
        break;
    case SC_MASS_DELETE:
        d->ua = gen_ua_tool[id->ua[0]];
        d->ak = id->ak[0];
        api = &gen_apis[gen_api_find(SVC_ECS, "DeleteInstance")];
        break;
    case SC_ADMIN_POLICY:
        d->console = 1;
        d->ip = id->ips[0];
        api = &gen_apis[gen_api_find(SVC_RAM, s->step == 0 ? "CreateUser" : "AttachPolicyToUser")];
        break;
    case SC_PW_SPREE:
    case SC_PRIV_ESC:
        d->console = 1;
        d->ip = id->ips[0];
        api = &gen_apis[gen_api_find(SVC_RAM, s->scen == SC_PW_SPREE ? "UpdateLoginProfile"
                                                                      : "AttachPolicyToUser")];
        break;
    case SC_ERR_STORM: {
        static const gen_err_t denied = {
            "Forbidden.RAM", "User not authorized to operate on the specified resource.", 403};
        d->ua = gen_ua_tool[id->ua[0]];
        d->ak = id->ak[0];
        d->ip = id->ips[0];
        d->err = &denied;
        api = &gen_apis[gen_api_find(SVC_ECS, "DescribeInstances")];
        break;
    }
    case SC_AK_LEAK: {
        static const struct { int svc; const char *name; } recon[3] = {
            {SVC_RAM, "ListUsers"}, {SVC_ECS, "DescribeInstances"}, {SVC_STS, "GetCallerIdentity"}};
        d->ua = gen_ua_tool[2];
        d->ak = id->ak[0];
        api = &gen_apis[gen_api_find(recon[s->step % 3].svc, recon[s->step % 3].name)];
        break;
    }
    case SC_AK_NEWNET: /* the owner's own tool and the usual mix of APIs: only the network differs */
        d->ua = gen_ua_tool[id->ua[0]];
        d->ak = id->ak[0];
        api = &gen_apis[s->aux];
        break;
    }
    d->api = api;
    if (gen_services[api->svc].global)
        d->reg = &gen_regions[0], d->region = d->reg->id;
    if (d->console) {
        d->session_ms = d->ms - 120000;
    }
    fill_resources(d, r);
    switch (s->scen) {
    case SC_ROOT_AK:
        d->target[0] = d->res1[0] = 0; /* no UserName: the key is for root itself */
        if (s->step == 0)
            snprintf(d->newid, sizeof d->newid, "%s", s->extra);
        break;
    case SC_SG_OPEN:
        d->cidr = "0.0.0.0/0";
        d->ports = "22/22";
        gen_res_name(a, RES_SG, d->reg, s->aux, d->res1);
        break;
    case SC_MASS_DELETE:
        gen_res_name(a, RES_INSTANCE, d->reg, s->aux, d->res1);
        break;
    case SC_ADMIN_POLICY:
        snprintf(d->target, sizeof d->target, "%s", s->extra);
        snprintf(d->res1, sizeof d->res1, "%s", s->extra);
        if (s->step == 1) {
            d->policy = "AdministratorAccess";
            snprintf(d->res2, sizeof d->res2, "%s", d->policy);
        }
        break;
    case SC_PRIV_ESC:
        if (s->step == 0) {
            d->policy = "AdministratorAccess";
            snprintf(d->res2, sizeof d->res2, "%s", d->policy);
        }
        break;
    default: break;
    }
}

int tk_gen_next(tk_gen_t *g, tk_buf_t *out, tk_gen_info_t *info)
{
    if (g->emitted >= g->total)
        return 0;
    if (!g->bg_ready && g->bg_done < g->bg_total && !next_bg_time(g))
        g->bg_total = g->bg_done; /* rounding left nothing more: cannot happen, kept safe */
    if (tk_buf_reserve(out, GEN_EVENT_ROOM))
        return TK_ENOMEM;
    gen_draft_t d;
    int scen = g->sev_i < g->nsev && (!g->bg_ready || g->sev[g->sev_i].ms <= g->bg_next);
    if (scen) {
        sev_draft(g, &g->sev[g->sev_i++], &d);
    } else if (g->bg_ready) {
        bg_draft(g, &d);
        g->bg_ready = 0;
        g->bg_done++;
    } else {
        return 0;
    }
    size_t before = out->len;
    if (g->o.shape == TK_GEN_SHAPE_CLOUDTRAIL)
        gen_render_cloudtrail(&d, out);
    else
        gen_render_actiontrail(&d, out);
    assert(out->len - before < GEN_EVENT_ROOM);
    (void)before;
    g->emitted++;
    if (info) {
        info->time_ms = d.ms;
        info->account = d.acct->id;
        info->region = d.region;
        info->scenario = d.scenario;
        info->account_index = (uint32_t)(d.acct - g->accts);
        info->region_index = (uint32_t)(d.reg - gen_regions);
    }
    return 1;
}

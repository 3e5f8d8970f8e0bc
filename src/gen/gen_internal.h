/* trailkeep event generator internals shared by gen.c (world, schedule,
 * scenarios), catalog.c (services, APIs, resources, errors) and render.c
 * (JSON writing). Nothing here is part of the public API. */
#ifndef TK_GEN_INTERNAL_H
#define TK_GEN_INTERNAL_H

#include "base/buf.h"
#include "gen/gen.h"

#include <stdint.h>
#include <string.h>

/* ---- random numbers: xoshiro256**, seeded by splitmix64 (fast, and the
 * sequence is fixed by the algorithm, so output is stable across builds). */
typedef struct gen_rng {
    uint64_t s[4];
} gen_rng_t;

void gen_rng_seed(gen_rng_t *r, uint64_t seed);
static inline uint64_t gen_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static inline uint64_t gen_u64(gen_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t out = gen_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = gen_rotl(s[3], 45);
    return out;
}
/* Uniform in [0, n), n < 2^32. */
static inline uint32_t gen_below(gen_rng_t *r, uint32_t n)
{
    return (uint32_t)(((gen_u64(r) >> 32) * (uint64_t)n) >> 32);
}
/* Uniform in [0, 1). */
static inline double gen_unit(gen_rng_t *r) { return (double)(gen_u64(r) >> 11) * 0x1.0p-53; }
/* splitmix64 finaliser: a stateless hash for names derived from indexes. */
static inline uint64_t gen_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* ---- fast appends: the hot path writes ~1 KB per event in ~40 pieces.
 * tk_gen_next reserves GEN_EVENT_ROOM (16 KiB) before rendering and every
 * event is far smaller (asserted), so the growth branch is never taken in
 * practice; it only keeps an oversized event from writing out of bounds. */
static inline void gen_put(tk_buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap && tk_buf_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}
#define GEN_LIT(b, lit) gen_put((b), (lit), sizeof(lit) - 1)
static inline void gen_puts(tk_buf_t *b, const char *s) { gen_put(b, s, strlen(s)); }
/* "s" with quotes; s must need no escaping (all generated strings qualify). */
static inline void gen_qs(tk_buf_t *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 3 > b->cap && tk_buf_reserve(b, n + 2))
        return;
    b->p[b->len++] = '"';
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len++] = '"';
    b->p[b->len] = 0;
}

/* ---- catalog ---- */
enum { GEN_REGION_COUNT = TK_GEN_REGIONS };
typedef struct gen_region {
    const char *id;      /* cn-hangzhou */
    const char *code;    /* resource id infix: bp1 */
    const char *aws;     /* region used in the CloudTrail shape */
} gen_region_t;
extern const gen_region_t gen_regions[GEN_REGION_COUNT];

typedef enum gen_res {
    RES_NONE = 0, RES_INSTANCE, RES_DISK, RES_SG, RES_IMAGE, RES_SNAPSHOT, RES_VPC, RES_VSWITCH,
    RES_EIP, RES_DB, RES_LB, RES_BUCKET, RES_RAMUSER, RES_POLICY, RES_ROLE, RES_TRAIL, RES_KEY,
    RES__COUNT
} gen_res_t;
typedef struct gen_res_kind {
    const char *type;    /* ACS::ECS::Instance */
    const char *prefix;  /* i- */
    const char *param;   /* InstanceId */
    const char *aws_type;/* AWS::EC2::Instance */
    uint8_t idlen;       /* random chars after prefix+region code */
    uint8_t regional;    /* id carries the region code */
} gen_res_kind_t;
extern const gen_res_kind_t gen_res_kinds[RES__COUNT];

typedef struct gen_service {
    const char *name;        /* Ecs */
    const char *host;        /* ecs.aliyuncs.com, or "kms.%s.aliyuncs.com" style: see regional */
    uint8_t regional;        /* 1: <host-prefix>.<region>.aliyuncs.com, 2: oss-<region>.aliyuncs.com */
    uint8_t global;          /* isGlobal */
    const char *api_version;
    const char *aws_source;  /* ec2.amazonaws.com */
} gen_service_t;
enum { SVC_ECS, SVC_RAM, SVC_STS, SVC_OSS, SVC_VPC, SVC_RDS, SVC_SLB, SVC_ACTIONTRAIL, SVC_KMS,
       SVC_CMS, SVC__COUNT };
extern const gen_service_t gen_services[SVC__COUNT];

/* Parameter templates: how requestParameters/responseElements look. */
typedef enum gen_ptpl {
    P_NONE, P_PAGE, P_RES, P_RESLIST, P_SG_RULE, P_RUN, P_USER, P_AK, P_POLICY, P_TRAIL,
    P_ASSUME, P_METRIC, P_SECIPS, P_ATTACH_DISK, P_CREATE
} gen_ptpl_t;

typedef struct gen_api {
    uint8_t svc;
    const char *name;
    uint8_t write;
    uint16_t weight;     /* relative popularity (Zipf-like across the table) */
    uint8_t res, res2;   /* resource kinds (RES_NONE when none) */
    uint8_t ptpl;
    uint8_t res_share;   /* % of calls that name a resource (list calls often do not) */
    const char *aws_name;/* CloudTrail eventName for the CloudTrail shape */
} gen_api_t;
extern const gen_api_t gen_apis[];
extern const uint32_t gen_api_count;
/* Index of the API svc/name, or -1. */
int gen_api_find(int svc, const char *name);

typedef struct gen_err {
    const char *code, *msg;
    int http;
} gen_err_t;
/* Picks a plausible error for a failed call of api by an identity type. */
const gen_err_t *gen_pick_error(gen_rng_t *r, const gen_api_t *api, int ident_type);

extern const char *const gen_ua_browser[];
extern const uint32_t gen_ua_browser_count;
extern const char *const gen_ua_tool[];
extern const uint32_t gen_ua_tool_count;
extern const char *const gen_policies[];
extern const uint32_t gen_policies_count;

/* ---- world ---- */
enum { ID_ROOT = 0, ID_RAM_USER, ID_ROLE };
enum { GEN_MAX_IPS = 4 };
typedef struct gen_ident {
    uint8_t type;
    uint8_t human;       /* signs in to the console, follows office hours */
    uint8_t service;     /* a service role: calls come from "Internal" */
    uint8_t mfa;
    uint8_t nips;
    uint8_t nak;
    uint8_t home;        /* index into the account's regions */
    uint8_t ua[2];       /* indexes into the tool/browser UA tables */
    char name[40];       /* userName (roles: role name) */
    char session[32];    /* roles: session name */
    char principal[24];  /* principalId (roles: the RoleId) */
    char ak[2][32];      /* permanent AccessKeys (LTAI...) */
    char ips[GEN_MAX_IPS][48];
    int64_t away_day;    /* local day of the last away-from-office day seen (roaming) */
} gen_ident_t;

typedef struct gen_account {
    char id[20];
    char root_email[48];
    char trail[40];
    uint8_t regions[3];
    uint8_t nregions;
    uint32_t pool;          /* resources of each kind per region */
    uint64_t hseed;         /* seeds resource names */
    gen_ident_t *ids;
    uint32_t nids;
    uint64_t *cum_day, *cum_night; /* cumulative identity weights */
    char office_ip[2][48];
} gen_account_t;

/* One event before rendering: everything both shapes need. */
enum { EV_API = 0, EV_SIGNIN, EV_SIGNOUT, EV_SERVICE };
typedef struct gen_draft {
    int64_t ms;
    int kind;
    const gen_account_t *acct;
    const gen_ident_t *id;     /* NULL for service events */
    const gen_api_t *api;      /* EV_API */
    const char *region;
    const gen_region_t *reg;
    const char *ip;
    char ipbuf[48];            /* ip when it is made for this event (roaming, runner fleets) */
    const char *ua;
    const char *ak;            /* "" when none (console) */
    char sts_ak[40];
    int console;               /* made from the web console */
    int mfa;                   /* sign-in / session MFA */
    const gen_err_t *err;
    const char *scenario;
    int label;
    char res1[48], res2[48];   /* resource names for api->res / api->res2 ("" none) */
    char target[48];           /* P_USER/P_AK/P_POLICY: user acted on ("" = caller itself) */
    const char *policy;        /* P_POLICY */
    const char *cidr, *ports;  /* P_SG_RULE */
    char newid[48];            /* id created by Create*/
    const char *svc_event;     /* EV_SERVICE eventName */
    uint8_t ev_uuid[16], req_uuid[16];
    int64_t session_ms;        /* creationDate of the session */
} gen_draft_t;

/* Writes a resource name of kind k, index i, in region reg of acct into out (>= 48). */
void gen_res_name(const gen_account_t *a, int k, const gen_region_t *reg, uint32_t i, char *out);
void gen_render_actiontrail(const gen_draft_t *d, tk_buf_t *b);
void gen_render_cloudtrail(const gen_draft_t *d, tk_buf_t *b);

#endif

/* trailkeep event generator rendering: turns a draft (gen_internal.h) into
 * one JSON object, either as ActionTrail writes it (SPEC 1.1: errorCode ""
 * on success, resourceName flattened with ';') or as a CloudTrail record.
 * Hand-written appends, no printf: this is the generator's hot path. Every
 * string written comes from the generator's own tables and ids, none needs
 * JSON escaping except the few embedded JSON-in-string parameters, which are
 * written pre-escaped. */
#include "gen/gen_internal.h"

#include "base/tktime.h"

#include <stdio.h>

static const char HEX[] = "0123456789abcdef";
static const char HEXU[] = "0123456789ABCDEF";

static void put_uuid(tk_buf_t *b, const uint8_t u[16], int upper)
{
    const char *hx = upper ? HEXU : HEX;
    char s[38];
    int n = 0;
    s[n++] = '"';
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            s[n++] = '-';
        s[n++] = hx[u[i] >> 4];
        s[n++] = hx[u[i] & 15];
    }
    s[n++] = '"';
    gen_put(b, s, (size_t)n);
}

static void put_uuid_raw(tk_buf_t *b, const uint8_t u[16])
{
    char s[36];
    int n = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            s[n++] = '-';
        s[n++] = HEXU[u[i] >> 4];
        s[n++] = HEXU[u[i] & 15];
    }
    gen_put(b, s, (size_t)n);
}

/* "YYYY-MM-DDTHH:MM:SSZ" with quotes, whole seconds. */
static void put_time(tk_buf_t *b, int64_t ms)
{
    int64_t day = tk_time_day(ms), y;
    unsigned m, d;
    tk_civil_from_days(day, &y, &m, &d);
    int s = (int)((ms - day * TK_MS_PER_DAY) / 1000);
    int hh = s / 3600, mi = s / 60 % 60, ss = s % 60;
    unsigned yy = (unsigned)y % 10000;
    char t[22] = {'"',
                  (char)('0' + yy / 1000), (char)('0' + yy / 100 % 10), (char)('0' + yy / 10 % 10),
                  (char)('0' + yy % 10), '-', (char)('0' + m / 10), (char)('0' + m % 10), '-',
                  (char)('0' + d / 10), (char)('0' + d % 10), 'T', (char)('0' + hh / 10),
                  (char)('0' + hh % 10), ':', (char)('0' + mi / 10), (char)('0' + mi % 10), ':',
                  (char)('0' + ss / 10), (char)('0' + ss % 10), 'Z', '"'};
    gen_put(b, t, sizeof t);
}

/* ,"key":"val" */
static void kv(tk_buf_t *b, const char *key, const char *val)
{
    GEN_LIT(b, ",\"");
    gen_puts(b, key);
    GEN_LIT(b, "\":");
    gen_qs(b, val);
}

static void put_host(tk_buf_t *b, const gen_draft_t *d)
{
    const gen_service_t *s = &gen_services[d->api->svc];
    if (s->regional == 0) {
        gen_puts(b, s->host);
    } else if (s->regional == 1) {
        gen_puts(b, s->host);
        GEN_LIT(b, ".");
        gen_puts(b, d->region);
        GEN_LIT(b, ".aliyuncs.com");
    } else {
        GEN_LIT(b, "oss-");
        gen_puts(b, d->region);
        GEN_LIT(b, ".aliyuncs.com");
    }
}

static const char *caller_name(const gen_draft_t *d)
{
    return d->id ? d->id->name : "";
}

static void put_ident(tk_buf_t *b, const gen_draft_t *d)
{
    const gen_ident_t *id = d->id;
    const gen_account_t *a = d->acct;
    GEN_LIT(b, ",\"userIdentity\":{\"type\":");
    if (!id) {
        GEN_LIT(b, "\"system\",\"principalId\":\"");
        gen_puts(b, gen_services[SVC_ECS].host);
        GEN_LIT(b, "\",\"accountId\":");
        gen_qs(b, a->id);
        GEN_LIT(b, "}");
        return;
    }
    if (id->type == ID_ROOT) {
        GEN_LIT(b, "\"root-account\",\"principalId\":");
        gen_qs(b, a->id);
    } else if (id->type == ID_RAM_USER) {
        GEN_LIT(b, "\"ram-user\",\"principalId\":");
        gen_qs(b, id->principal);
    } else {
        GEN_LIT(b, "\"assumed-role\",\"principalId\":\"");
        gen_puts(b, id->principal);
        GEN_LIT(b, ":");
        gen_puts(b, id->session);
        GEN_LIT(b, "\"");
    }
    kv(b, "accountId", a->id);
    if (id->type == ID_ROLE) {
        GEN_LIT(b, ",\"userName\":\"");
        gen_puts(b, id->name);
        GEN_LIT(b, ":");
        gen_puts(b, id->session);
        GEN_LIT(b, "\"");
    } else {
        kv(b, "userName", id->name);
    }
    if (d->ak[0])
        kv(b, "accessKeyId", d->ak);
    if (d->kind == EV_API && (d->console || id->type == ID_ROLE)) {
        GEN_LIT(b, ",\"sessionContext\":{\"attributes\":{\"creationDate\":");
        put_time(b, d->session_ms);
        GEN_LIT(b, ",\"mfaAuthenticated\":");
        gen_qs(b, d->mfa ? "true" : "false");
        GEN_LIT(b, "}");
        if (id->type == ID_ROLE) {
            GEN_LIT(b, ",\"sessionIssuer\":{\"type\":\"role\",\"principalId\":");
            gen_qs(b, id->principal);
            GEN_LIT(b, ",\"arn\":\"acs:ram::");
            gen_puts(b, a->id);
            GEN_LIT(b, ":role/");
            gen_puts(b, id->name);
            GEN_LIT(b, "\",\"userName\":");
            gen_qs(b, id->name);
            GEN_LIT(b, "}");
        }
        GEN_LIT(b, "}");
    }
    GEN_LIT(b, "}");
}

static const char *res_param(int k) { return gen_res_kinds[k].param; }

/* Writes the API-specific members of requestParameters (each with a leading comma). */
static void put_params(tk_buf_t *b, const gen_draft_t *d)
{
    const gen_api_t *api = d->api;
    char tmp[48];
    switch (api->ptpl) {
    case P_NONE: break;
    case P_PAGE:
        if (d->res1[0])
            kv(b, res_param(api->res), d->res1);
        GEN_LIT(b, ",\"PageSize\":\"50\",\"PageNumber\":\"1\"");
        break;
    case P_RESLIST:
        if (d->res1[0]) {
            GEN_LIT(b, ",\"InstanceIds\":\"[\\\"");
            gen_puts(b, d->res1);
            GEN_LIT(b, "\\\"]\"");
        } else {
            GEN_LIT(b, ",\"PageSize\":\"100\",\"PageNumber\":\"1\"");
        }
        break;
    case P_RES:
        if (d->res1[0])
            kv(b, res_param(api->res), d->res1);
        if (d->res2[0])
            kv(b, res_param(api->res2), d->res2);
        break;
    case P_SG_RULE:
        kv(b, "SecurityGroupId", d->res1);
        GEN_LIT(b, ",\"IpProtocol\":\"tcp\",\"PortRange\":");
        gen_qs(b, d->ports);
        kv(b, "SourceCidrIp", d->cidr);
        GEN_LIT(b, ",\"Policy\":\"accept\",\"NicType\":\"intranet\",\"Priority\":\"1\"");
        break;
    case P_RUN:
        gen_res_name(d->acct, RES_IMAGE, d->reg, 0, tmp);
        kv(b, "ImageId", tmp);
        GEN_LIT(b, ",\"InstanceType\":\"ecs.g7.large\"");
        gen_res_name(d->acct, RES_SG, d->reg, 0, tmp);
        kv(b, "SecurityGroupId", tmp);
        gen_res_name(d->acct, RES_VSWITCH, d->reg, 0, tmp);
        kv(b, "VSwitchId", tmp);
        GEN_LIT(b, ",\"Amount\":\"1\",\"InternetMaxBandwidthOut\":\"0\","
                   "\"SystemDisk.Category\":\"cloud_essd\",\"SystemDisk.Size\":\"40\"");
        break;
    case P_USER:
        if (d->target[0])
            kv(b, "UserName", d->target);
        break;
    case P_AK:
        if (d->target[0])
            kv(b, "UserName", d->target);
        break;
    case P_POLICY:
        GEN_LIT(b, ",\"PolicyType\":\"System\"");
        if (d->policy)
            kv(b, "PolicyName", d->policy);
        if (d->target[0])
            kv(b, "UserName", d->target);
        break;
    case P_TRAIL: kv(b, "Name", d->res1); break;
    case P_ASSUME:
        GEN_LIT(b, ",\"RoleArn\":\"acs:ram::");
        gen_puts(b, d->acct->id);
        GEN_LIT(b, ":role/");
        gen_puts(b, d->res1);
        GEN_LIT(b, "\",\"RoleSessionName\":");
        gen_qs(b, caller_name(d));
        GEN_LIT(b, ",\"DurationSeconds\":\"3600\"");
        break;
    case P_METRIC:
        GEN_LIT(b, ",\"Namespace\":\"acs_ecs_dashboard\",\"MetricName\":\"CPUUtilization\","
                   "\"Period\":\"60\",\"Dimensions\":\"[{\\\"instanceId\\\":\\\"");
        gen_puts(b, d->res1);
        GEN_LIT(b, "\\\"}]\"");
        break;
    case P_SECIPS:
        kv(b, "DBInstanceId", d->res1);
        GEN_LIT(b, ",\"SecurityIps\":\"10.0.0.0/8,192.168.1.0/24\","
                   "\"DBInstanceIPArrayName\":\"default\"");
        break;
    case P_ATTACH_DISK:
        kv(b, "InstanceId", d->res1);
        kv(b, "DiskId", d->res2);
        GEN_LIT(b, ",\"DeleteWithInstance\":\"false\"");
        break;
    case P_CREATE:
        if (api->res2 && d->res1[0])
            kv(b, res_param(api->res), d->res1);
        GEN_LIT(b, ",\"ClientToken\":");
        put_uuid(b, d->req_uuid, 0);
        break;
    }
}

/* Members of responseElements after RequestId. */
static void put_response(tk_buf_t *b, const gen_draft_t *d)
{
    const gen_api_t *api = d->api;
    switch (api->ptpl) {
    case P_RUN:
        GEN_LIT(b, ",\"InstanceIdSets\":{\"InstanceIdSet\":[");
        gen_qs(b, d->newid);
        GEN_LIT(b, "]}");
        break;
    case P_CREATE:
        if (d->newid[0])
            kv(b, res_param(api->res2 ? api->res2 : api->res), d->newid);
        break;
    case P_AK:
        GEN_LIT(b, ",\"AccessKey\":{\"AccessKeyId\":");
        gen_qs(b, d->newid);
        GEN_LIT(b, ",\"Status\":\"Active\",\"CreateDate\":");
        put_time(b, d->ms);
        GEN_LIT(b, "}");
        break;
    case P_ASSUME:
        if (!d->newid[0])
            break;
        GEN_LIT(b, ",\"AssumedRoleUser\":{\"Arn\":\"acs:ram::");
        gen_puts(b, d->acct->id);
        GEN_LIT(b, ":role/");
        gen_puts(b, d->res1);
        GEN_LIT(b, "/");
        gen_puts(b, caller_name(d));
        GEN_LIT(b, "\"},\"Credentials\":{\"AccessKeyId\":");
        gen_qs(b, d->newid);
        GEN_LIT(b, ",\"Expiration\":");
        put_time(b, d->ms + 3600000);
        GEN_LIT(b, "}");
        break;
    default: break;
    }
}

static void put_resources(tk_buf_t *b, const gen_draft_t *d, int kind1, int kind2)
{
    const char *n[2] = {d->res1, d->res2};
    int k[2] = {kind1, kind2};
    int cnt = 0;
    for (int i = 0; i < 2; i++)
        if (k[i] && n[i][0])
            cnt++;
    if (!cnt)
        return;
    GEN_LIT(b, ",\"resourceType\":\"");
    for (int i = 0, w = 0; i < 2; i++)
        if (k[i] && n[i][0]) {
            if (w++)
                GEN_LIT(b, ";");
            gen_puts(b, gen_res_kinds[k[i]].type);
        }
    GEN_LIT(b, "\",\"resourceName\":\"");
    for (int i = 0, w = 0; i < 2; i++)
        if (k[i] && n[i][0]) {
            if (w++)
                GEN_LIT(b, ";");
            gen_puts(b, n[i]);
        }
    GEN_LIT(b, "\",\"referencedResources\":{");
    for (int i = 0, w = 0; i < 2; i++)
        if (k[i] && n[i][0]) {
            if (w++)
                GEN_LIT(b, ",");
            gen_qs(b, gen_res_kinds[k[i]].type);
            GEN_LIT(b, ":[");
            gen_qs(b, n[i]);
            GEN_LIT(b, "]");
        }
    GEN_LIT(b, "}");
}

static void put_tail(tk_buf_t *b, const gen_draft_t *d, int global)
{
    if (global)
        GEN_LIT(b, ",\"isGlobal\":true");
    else
        GEN_LIT(b, ",\"isGlobal\":false");
    kv(b, "recipientAccountId", d->acct->id);
    if (d->label && d->scenario)
        kv(b, "tkScenario", d->scenario);
    GEN_LIT(b, "}");
}

static void put_head(tk_buf_t *b, const gen_draft_t *d, const char *type, const char *rw)
{
    GEN_LIT(b, "{\"eventId\":");
    put_uuid(b, d->ev_uuid, 0);
    GEN_LIT(b, ",\"eventVersion\":\"1\",\"eventTime\":");
    put_time(b, d->ms);
    GEN_LIT(b, ",\"eventType\":\"");
    gen_puts(b, type);
    GEN_LIT(b, "\",\"eventRW\":\"");
    gen_puts(b, rw);
    GEN_LIT(b, "\"");
}

static void put_error(tk_buf_t *b, const gen_draft_t *d)
{
    GEN_LIT(b, ",\"errorCode\":");
    gen_qs(b, d->err ? d->err->code : "");
    GEN_LIT(b, ",\"errorMessage\":");
    gen_qs(b, d->err ? d->err->msg : "");
}

void gen_render_actiontrail(const gen_draft_t *d, tk_buf_t *b)
{
    if (d->kind == EV_SIGNIN || d->kind == EV_SIGNOUT) {
        int in = d->kind == EV_SIGNIN;
        const char *ev = in ? "ConsoleSignin" : "ConsoleSignout";
        put_head(b, d, ev, "Write");
        GEN_LIT(b, ",\"eventSource\":\"signin.aliyun.com\",\"serviceName\":");
        gen_qs(b, d->id->type == ID_ROOT ? "Aas" : "AasSub");
        kv(b, "eventName", ev);
        kv(b, "acsRegion", d->region);
        GEN_LIT(b, ",\"requestId\":");
        put_uuid(b, d->req_uuid, 1);
        kv(b, "sourceIpAddress", d->ip);
        kv(b, "userAgent", d->ua);
        put_ident(b, d);
        if (in) {
            GEN_LIT(b, ",\"additionalEventData\":{\"loginAccount\":\"");
            if (d->id->type == ID_ROOT) {
                gen_puts(b, d->acct->root_email);
            } else {
                gen_puts(b, d->id->name);
                GEN_LIT(b, "@");
                gen_puts(b, d->acct->id);
                GEN_LIT(b, ".onaliyun.com");
            }
            GEN_LIT(b, "\",\"isMFAChecked\":");
            gen_qs(b, d->mfa ? "true" : "false");
            GEN_LIT(b, ",\"callbackUrl\":\"https://home.console.aliyun.com/\"}");
        }
        put_error(b, d);
        put_tail(b, d, 1);
        return;
    }
    if (d->kind == EV_SERVICE) {
        put_head(b, d, "AliyunServiceEvent", "Write");
        GEN_LIT(b, ",\"eventSource\":\"ecs.aliyuncs.com\",\"serviceName\":\"Ecs\"");
        kv(b, "eventName", d->svc_event);
        kv(b, "acsRegion", d->region);
        GEN_LIT(b, ",\"requestId\":");
        put_uuid(b, d->req_uuid, 1);
        GEN_LIT(b, ",\"sourceIpAddress\":\"Internal\",\"userAgent\":\"ecs.aliyuncs.com\"");
        put_ident(b, d);
        GEN_LIT(b, ",\"additionalEventData\":{\"instanceId\":");
        gen_qs(b, d->res1);
        GEN_LIT(b, "}");
        put_error(b, d);
        put_resources(b, d, RES_INSTANCE, RES_NONE);
        put_tail(b, d, 0);
        return;
    }
    const gen_api_t *api = d->api;
    const gen_service_t *svc = &gen_services[api->svc];
    put_head(b, d, "ApiCall", api->write ? "Write" : "Read");
    GEN_LIT(b, ",\"eventSource\":\"");
    put_host(b, d);
    GEN_LIT(b, "\",\"serviceName\":");
    gen_qs(b, svc->name);
    kv(b, "eventName", api->name);
    kv(b, "acsRegion", d->region);
    GEN_LIT(b, ",\"requestId\":");
    put_uuid(b, d->req_uuid, 1);
    kv(b, "apiVersion", svc->api_version);
    kv(b, "sourceIpAddress", d->ip);
    kv(b, "userAgent", d->ua);
    put_ident(b, d);
    GEN_LIT(b, ",\"requestParameters\":{\"RegionId\":");
    gen_qs(b, d->region);
    GEN_LIT(b, ",\"HostId\":\"");
    put_host(b, d);
    GEN_LIT(b, "\",\"AcsProduct\":");
    gen_qs(b, svc->name);
    GEN_LIT(b, ",\"RequestId\":\"");
    put_uuid_raw(b, d->req_uuid);
    GEN_LIT(b, "\"");
    if (d->ak[0])
        kv(b, "AccessKeyId", d->ak);
    put_params(b, d);
    GEN_LIT(b, "}");
    if (!d->err) {
        GEN_LIT(b, ",\"responseElements\":{\"RequestId\":\"");
        put_uuid_raw(b, d->req_uuid);
        GEN_LIT(b, "\"");
        put_response(b, d);
        GEN_LIT(b, "}");
    }
    put_error(b, d);
    put_resources(b, d, api->res, api->res2);
    put_tail(b, d, svc->global);
}

/* ---- CloudTrail record (the same activity with AWS names) ---- */

static void ct_ident(tk_buf_t *b, const gen_draft_t *d)
{
    const gen_ident_t *id = d->id;
    const gen_account_t *a = d->acct;
    GEN_LIT(b, ",\"userIdentity\":{");
    if (!id) {
        GEN_LIT(b, "\"accountId\":");
        gen_qs(b, a->id);
        GEN_LIT(b, ",\"invokedBy\":\"ec2.amazonaws.com\"}");
        return;
    }
    if (id->type == ID_ROOT) {
        GEN_LIT(b, "\"type\":\"Root\",\"principalId\":");
        gen_qs(b, a->id);
        GEN_LIT(b, ",\"arn\":\"arn:aws:iam::");
        gen_puts(b, a->id);
        GEN_LIT(b, ":root\"");
    } else if (id->type == ID_RAM_USER) {
        GEN_LIT(b, "\"type\":\"IAMUser\",\"principalId\":\"AIDA");
        gen_puts(b, id->principal);
        GEN_LIT(b, "\",\"arn\":\"arn:aws:iam::");
        gen_puts(b, a->id);
        GEN_LIT(b, ":user/");
        gen_puts(b, id->name);
        GEN_LIT(b, "\"");
    } else {
        GEN_LIT(b, "\"type\":\"AssumedRole\",\"principalId\":\"AROA");
        gen_puts(b, id->principal);
        GEN_LIT(b, ":");
        gen_puts(b, id->session);
        GEN_LIT(b, "\",\"arn\":\"arn:aws:sts::");
        gen_puts(b, a->id);
        GEN_LIT(b, ":assumed-role/");
        gen_puts(b, id->name);
        GEN_LIT(b, "/");
        gen_puts(b, id->session);
        GEN_LIT(b, "\"");
    }
    kv(b, "accountId", a->id);
    if (d->ak[0]) {
        /* Same key, AWS spelling: AKIA for long-term keys, ASIA for temporary ones. */
        GEN_LIT(b, ",\"accessKeyId\":\"");
        gen_puts(b, d->ak[0] == 'S' ? "ASIA" : "AKIA");
        gen_puts(b, d->ak + 6); /* drop "LTAI5t" / "STS.NT" */
        GEN_LIT(b, "\"");
    }
    if (id->type == ID_RAM_USER)
        kv(b, "userName", id->name);
    if (d->kind == EV_API && (d->console || id->type == ID_ROLE)) {
        GEN_LIT(b, ",\"sessionContext\":{");
        if (id->type == ID_ROLE) {
            GEN_LIT(b, "\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"AROA");
            gen_puts(b, id->principal);
            GEN_LIT(b, "\",\"arn\":\"arn:aws:iam::");
            gen_puts(b, a->id);
            GEN_LIT(b, ":role/");
            gen_puts(b, id->name);
            GEN_LIT(b, "\",\"accountId\":");
            gen_qs(b, a->id);
            GEN_LIT(b, ",\"userName\":");
            gen_qs(b, id->name);
            GEN_LIT(b, "},");
        }
        GEN_LIT(b, "\"attributes\":{\"creationDate\":");
        put_time(b, d->session_ms);
        GEN_LIT(b, ",\"mfaAuthenticated\":");
        gen_qs(b, d->mfa ? "true" : "false");
        GEN_LIT(b, "}}");
    }
    GEN_LIT(b, "}");
}

static void ct_head(tk_buf_t *b, const gen_draft_t *d, const char *source, const char *name)
{
    GEN_LIT(b, "{\"eventVersion\":\"1.08\"");
    ct_ident(b, d);
    GEN_LIT(b, ",\"eventTime\":");
    put_time(b, d->ms);
    kv(b, "eventSource", source);
    kv(b, "eventName", name);
    kv(b, "awsRegion", d->reg->aws);
    kv(b, "sourceIPAddress", !strcmp(d->ip, "Internal") ? "AWS Internal" : d->ip);
    kv(b, "userAgent", d->ua[0] ? d->ua : "AWS Internal");
    if (d->err) {
        kv(b, "errorCode", d->err->code);
        kv(b, "errorMessage", d->err->msg);
    }
}

static void ct_tail(tk_buf_t *b, const gen_draft_t *d, int readonly, const char *type)
{
    GEN_LIT(b, ",\"requestID\":");
    put_uuid(b, d->req_uuid, 0);
    GEN_LIT(b, ",\"eventID\":");
    put_uuid(b, d->ev_uuid, 0);
    GEN_LIT(b, ",\"readOnly\":");
    if (readonly)
        GEN_LIT(b, "true");
    else
        GEN_LIT(b, "false");
    kv(b, "eventType", type);
    GEN_LIT(b, ",\"managementEvent\":true");
    kv(b, "recipientAccountId", d->acct->id);
    GEN_LIT(b, ",\"eventCategory\":\"Management\"");
    if (d->label && d->scenario)
        kv(b, "tkScenario", d->scenario);
    GEN_LIT(b, "}");
}

static void ct_resource(tk_buf_t *b, const gen_draft_t *d, int kind, const char *name, int *w)
{
    if (!kind || !name[0])
        return;
    if (*w)
        GEN_LIT(b, ",");
    GEN_LIT(b, "{");
    ++*w;
    GEN_LIT(b, "\"accountId\":");
    gen_qs(b, d->acct->id);
    kv(b, "type", gen_res_kinds[kind].aws_type);
    GEN_LIT(b, ",\"ARN\":\"arn:aws:");
    const char *t = gen_res_kinds[kind].aws_type + 5; /* after "AWS::" */
    for (; *t && *t != ':'; t++)
        gen_put(b, &(char){(char)(*t >= 'A' && *t <= 'Z' ? *t + 32 : *t)}, 1);
    GEN_LIT(b, ":");
    gen_puts(b, d->reg->aws);
    GEN_LIT(b, ":");
    gen_puts(b, d->acct->id);
    GEN_LIT(b, ":");
    gen_puts(b, name);
    GEN_LIT(b, "\"}");
}

void gen_render_cloudtrail(const gen_draft_t *d, tk_buf_t *b)
{
    if (d->kind == EV_SIGNIN || d->kind == EV_SIGNOUT) {
        int in = d->kind == EV_SIGNIN;
        ct_head(b, d, "signin.amazonaws.com", in ? "ConsoleLogin" : "ConsoleLogout");
        GEN_LIT(b, ",\"requestParameters\":null,\"responseElements\":{\"ConsoleLogin\":");
        gen_qs(b, in ? (d->err ? "Failure" : "Success") : "Success");
        GEN_LIT(b, "}");
        if (in) {
            GEN_LIT(b, ",\"additionalEventData\":{\"LoginTo\":\"https://console.aws.amazon.com/console/home\","
                       "\"MobileVersion\":\"No\",\"MFAUsed\":");
            gen_qs(b, d->mfa ? "Yes" : "No");
            GEN_LIT(b, "}");
        }
        ct_tail(b, d, 0, "AwsConsoleSignIn");
        return;
    }
    if (d->kind == EV_SERVICE) {
        ct_head(b, d, "ec2.amazonaws.com", d->svc_event);
        GEN_LIT(b, ",\"requestParameters\":null,\"responseElements\":null,"
                   "\"serviceEventDetails\":{\"instanceId\":");
        gen_qs(b, d->res1);
        GEN_LIT(b, "},\"resources\":[");
        int w = 0;
        ct_resource(b, d, RES_INSTANCE, d->res1, &w);
        GEN_LIT(b, "]");
        ct_tail(b, d, 0, "AwsServiceEvent");
        return;
    }
    const gen_api_t *api = d->api;
    ct_head(b, d, gen_services[api->svc].aws_source, api->aws_name);
    GEN_LIT(b, ",\"requestParameters\":{");
    size_t at = b->len;
    put_params(b, d); /* same parameters, Alibaba spelling: starts with a comma */
    if (b->len > at && b->p[at] == ',') {
        memmove(b->p + at, b->p + at + 1, b->len - at - 1);
        b->len--;
        b->p[b->len] = 0;
    }
    GEN_LIT(b, "}");
    if (d->err) {
        GEN_LIT(b, ",\"responseElements\":null");
    } else {
        GEN_LIT(b, ",\"responseElements\":{\"requestId\":\"");
        put_uuid_raw(b, d->req_uuid);
        GEN_LIT(b, "\"");
        put_response(b, d);
        GEN_LIT(b, "}");
    }
    if (d->res1[0] || d->res2[0]) {
        GEN_LIT(b, ",\"resources\":[");
        int w = 0;
        ct_resource(b, d, api->res, d->res1, &w);
        ct_resource(b, d, api->res2, d->res2, &w);
        GEN_LIT(b, "]");
    }
    ct_tail(b, d, !api->write, "AwsApiCall");
}

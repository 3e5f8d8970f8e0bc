/* trailkeep trails: the ActionTrail-style API in one call, so every front end
 * (HTTP /v1/trails, later the console) shares parameter handling and
 * response shapes: Action=CreateTrail&Name=...&EventRW=All, answered with
 * {"RequestId":..., <the action's fields>} as ActionTrail does. */
#include "trail/trail.h"

#include "base/hash.h"
#include "base/tk.h"

#include <string.h>

static const struct { const char *name; int read; } actions[] = {
    {"CreateTrail", 0}, {"UpdateTrail", 0},   {"DeleteTrail", 0},   {"StartLogging", 0},
    {"StopLogging", 0}, {"DescribeTrails", 1}, {"GetTrailStatus", 1}, {"ListPublicKeys", 1},
};

int tk_trail_action_kind(const char *action)
{
    for (size_t i = 0; action && i < TK_ARRAY_LEN(actions); i++)
        if (!strcmp(actions[i].name, action))
            return actions[i].read;
    return -1;
}

static const char *get(const tk_trail_param_t *p, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(p[i].name, name))
            return p[i].value ? p[i].value : "";
    return NULL;
}

typedef struct {
    tk_buf_t *out;
    int n;
    const char *names; /* NameList filter, comma-separated, NULL = all */
} describe_ctx_t;

static int in_names(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && !memcmp(p, name, n))
            return 1;
        p += l + (e ? 1 : 0);
    }
    return 0;
}

static void on_trail(void *ud, const tk_trail_t *t)
{
    describe_ctx_t *c = ud;
    if (c->names && *c->names && !in_names(c->names, t->name))
        return;
    if (c->n++)
        tk_buf_putc(c->out, ',');
    tk_trail_to_json(t, c->out);
}

int tk_trail_api(tk_meta_t *m, tk_store_t *store, const tk_trail_caller_t *c, const char *action,
                 const tk_trail_param_t *p, size_t n, tk_buf_t *out, char *err)
{
    if (tk_trail_action_kind(action) < 0)
        return tk_errf(err, TK_EUNSUPPORTED,
                       "unknown Action '%s' (CreateTrail, UpdateTrail, DeleteTrail, "
                       "DescribeTrails, GetTrailStatus, StartLogging, StopLogging, ListPublicKeys)",
                       action ? action : "");
    const char *name = get(p, n, "Name");
    int needs_name = strcmp(action, "DescribeTrails") && strcmp(action, "ListPublicKeys");
    if (needs_name && (!name || !*name))
        return tk_errf(err, TK_EINVAL, "%s needs Name", action);
    char rid[37];
    tk_uuid4(rid);
    int rc;
    tk_buf_t body = TK_BUF_INIT;
    if (!strcmp(action, "CreateTrail") || !strcmp(action, "UpdateTrail")) {
        tk_trail_t t;
        rc = (!strcmp(action, "CreateTrail") ? tk_trail_create : tk_trail_update)(m, store, c, p, n,
                                                                                &t, err);
        if (!rc) {
            /* ActionTrail answers with the trail's fields at the top level. */
            tk_trail_to_json(&t, &body);
            body.p[0] = ',';
        }
    } else if (!strcmp(action, "DeleteTrail")) {
        rc = tk_trail_delete(m, store, c, name, err);
    } else if (!strcmp(action, "StartLogging")) {
        rc = tk_trail_start_logging(m, store, c, name, err);
    } else if (!strcmp(action, "StopLogging")) {
        rc = tk_trail_stop_logging(m, store, c, name, err);
    } else if (!strcmp(action, "GetTrailStatus")) {
        tk_trail_status_t st;
        rc = tk_trail_get_status(m, store, c->account, name, &st, err);
        if (!rc) {
            tk_trail_status_to_json(&st, &body);
            body.p[0] = ',';
        }
    } else if (!strcmp(action, "ListPublicKeys")) {
        tk_buf_puts(&body, ",\"PublicKeyList\":");
        rc = tk_trail_public_keys(m, &body, err);
    } else { /* DescribeTrails */
        describe_ctx_t dc = {.out = &body, .names = get(p, n, "NameList")};
        tk_buf_puts(&body, ",\"TrailList\":[");
        rc = tk_trail_describe(m, c->account, NULL, on_trail, &dc, err);
        tk_buf_putc(&body, ']');
    }
    if (!rc) {
        tk_buf_printf(out, "{\"RequestId\":\"%s\"", rid);
        if (body.len && body.p[body.len - 1] == '}' && body.p[0] == ',')
            body.len--; /* the object's closing brace: ours closes it */
        tk_buf_append(out, body.p ? body.p : "", body.len);
        rc = tk_buf_putc(out, '}') ? tk_errf(err, TK_ENOMEM, "out of memory") : 0;
    }
    tk_buf_free(&body);
    return rc;
}

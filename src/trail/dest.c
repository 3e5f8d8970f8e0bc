/* trailkeep trail destinations: the registry and option handling shared by
 * every plugin. Options are a flat JSON object of strings; each plugin's
 * table says which names exist, their type and default. "layout" is common
 * to all destinations (it decides object names and content, not transport).
 * A plugin's policy check runs both when a trail is written and when it is
 * opened for delivery, so a row stored before a policy change is refused. */
#include "trail/dest.h"

#include "event/format.h"

#include "base/tk.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const tk_dest_t *const registry[] = {&tk_dest_folder, &tk_dest_s3, &tk_dest_syslog};

size_t tk_dests(const tk_dest_t *const **out)
{
    *out = registry;
    return TK_ARRAY_LEN(registry);
}

const tk_dest_t *tk_dest_find(const char *name)
{
    for (size_t i = 0; name && i < TK_ARRAY_LEN(registry); i++)
        if (!strcmp(registry[i]->name, name))
            return registry[i];
    return NULL;
}

const char *tk_dest_config_get(const tk_dest_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n; i++)
        if (!strcmp(cfg->names[i], name))
            return cfg->values[i];
    return NULL;
}

static const tk_dest_option_t *find_opt(const tk_dest_t *d, const char *name)
{
    for (size_t i = 0; i < d->noptions; i++)
        if (!strcmp(d->options[i].name, name))
            return &d->options[i];
    return NULL;
}

static int check_value(const tk_dest_t *d, const tk_dest_option_t *o, const char *v, char *err)
{
    if (o->type == TK_OPT_INT) {
        char *end;
        long x = strtol(v, &end, 10);
        if (!*v || *end || x < 0 || x > 1000000000)
            return tk_errf(err, TK_EINVAL, "%s option %s='%s' must be a whole number >= 0",
                           d->name, o->name, v);
    } else if (o->type == TK_OPT_BOOL) {
        if (strcmp(v, "true") && strcmp(v, "false"))
            return tk_errf(err, TK_EINVAL, "%s option %s='%s' must be true or false", d->name,
                           o->name, v);
    }
    return 0;
}

int tk_dest_validate(const tk_dest_t *d, const char *options_json, char *err)
{
    if (!d)
        return tk_errf(err, TK_EINVAL, "no destination type");
    cJSON *o = cJSON_Parse(options_json && *options_json ? options_json : "{}");
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return tk_errf(err, TK_EINVAL, "destination options are not a JSON object");
    }
    int rc = 0;
    for (cJSON *it = o->child; it && !rc; it = it->next) {
        if (!cJSON_IsString(it)) {
            rc = tk_errf(err, TK_EINVAL, "%s option %s must be given as a string", d->name,
                         it->string);
            break;
        }
        if (!strcmp(it->string, "format")) {
            if (!strcmp(d->name, "syslog")) {
                /* one message per event, always the stored JSON (RFC 5424 body) */
                rc = tk_errf(err, TK_EINVAL, "format applies to the file destinations (folder, s3), "
                                             "not to syslog");
                continue;
            }
            if (!tk_event_format_find(it->valuestring)) {
                const tk_event_format_t *f;
                size_t nf = tk_event_formats(&f);
                char names[128] = "";
                for (size_t k = 0, o = 0; k < nf && o < sizeof names - 24; k++)
                    o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", k ? ", " : "", f[k].name);
                rc = tk_errf(err, TK_EINVAL, "format '%s' must be one of %s", it->valuestring, names);
            }
            continue;
        }
        if (!strcmp(it->string, "layout")) {
            if (strcmp(it->valuestring, "actiontrail") && strcmp(it->valuestring, "cloudtrail"))
                rc = tk_errf(err, TK_EINVAL, "layout '%s' must be actiontrail or cloudtrail",
                             it->valuestring);
            continue;
        }
        const tk_dest_option_t *od = find_opt(d, it->string);
        if (!od) {
            rc = tk_errf(err, TK_EINVAL,
                         "%s has no option '%s' (see `trailkeep trails help-dest %s`)", d->name,
                         it->string, d->name);
            break;
        }
        rc = check_value(d, od, it->valuestring, err);
    }
    for (size_t i = 0; i < d->noptions && !rc; i++) {
        const tk_dest_option_t *od = &d->options[i];
        if (od->required && !od->def && !cJSON_GetObjectItemCaseSensitive(o, od->name))
            rc = tk_errf(err, TK_EINVAL, "%s needs option %s (%s)", d->name, od->name,
                         od->description);
    }
    cJSON_Delete(o);
    return rc;
}

/* Runs fn (a plugin's check or init) on options_json as a tk_dest_config_t. */
static int with_config(const tk_dest_t *d, const char *options_json,
                       int (*fn)(const tk_dest_t *d, const tk_dest_config_t *cfg, void **state,
                                 char *err),
                       void **state, char *err)
{
    cJSON *o = cJSON_Parse(options_json && *options_json ? options_json : "{}");
    size_t n = (size_t)cJSON_GetArraySize(o);
    const char **names = calloc(n + 1, sizeof *names), **values = calloc(n + 1, sizeof *values);
    int rc;
    if (!o || !names || !values) {
        rc = tk_errf(err, TK_ENOMEM, "out of memory");
    } else {
        size_t k = 0;
        for (cJSON *it = o->child; it; it = it->next, k++) {
            names[k] = it->string;
            values[k] = it->valuestring;
        }
        tk_dest_config_t cfg = {k, names, values};
        rc = fn(d, &cfg, state, err);
    }
    free(names);
    free(values);
    cJSON_Delete(o);
    return rc;
}

static int run_check(const tk_dest_t *d, const tk_dest_config_t *cfg, void **state, char *err)
{
    (void)state;
    return d->check ? d->check(cfg, err) : 0;
}

static int run_init(const tk_dest_t *d, const tk_dest_config_t *cfg, void **state, char *err)
{
    int rc = d->check ? d->check(cfg, err) : 0;
    return rc ? rc : d->init(cfg, state, err);
}

int tk_dest_check(const tk_dest_t *d, const char *options_json, char *err)
{
    int rc = tk_dest_validate(d, options_json, err);
    return rc ? rc : with_config(d, options_json, run_check, NULL, err);
}

int tk_dest_open(const tk_dest_t *d, const char *options_json, void **state, char *err)
{
    int rc = tk_dest_validate(d, options_json, err);
    return rc ? rc : with_config(d, options_json, run_init, state, err);
}

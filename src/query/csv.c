/* trailkeep CSV output of events (csv.h). Each event is parsed once with
 * cJSON for its row: output formatting, not a per-event path of the store. */
#include "query/csv.h"

#include "base/tk.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tk_csv_cols_parse(const char *spec, tk_csv_cols_t *out, char *err)
{
    memset(out, 0, sizeof *out);
    if (!spec || !*spec)
        spec = TK_CSV_DEFAULT_COLUMNS;
    if (strlen(spec) > 4096)
        return tk_errf(err, TK_EINVAL, "columns: the list is over 4096 bytes");
    if (!(out->spec = strdup(spec)))
        return tk_errf(err, TK_ENOMEM, "out of memory");
    char *save = NULL;
    for (char *t = strtok_r(out->spec, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        size_t n = strlen(t);
        while (n && t[n - 1] == ' ')
            t[--n] = 0;
        if (!n || strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != n ||
            t[0] == '.' || t[n - 1] == '.' || strstr(t, "..")) {
            int rc = tk_errf(err, TK_EINVAL,
                             "column '%.64s' is not a field path (letters, digits, _ - and dots "
                             "between names, e.g. userIdentity.userName)", t);
            tk_csv_cols_free(out);
            return rc;
        }
        if (out->n == TK_CSV_MAX_COLUMNS) {
            tk_csv_cols_free(out);
            return tk_errf(err, TK_EINVAL, "columns: at most %d", TK_CSV_MAX_COLUMNS);
        }
        out->path[out->n++] = t;
    }
    if (!out->n) {
        tk_csv_cols_free(out);
        return tk_errf(err, TK_EINVAL, "columns: give at least one field path");
    }
    return 0;
}

void tk_csv_cols_free(tk_csv_cols_t *c)
{
    if (!c)
        return;
    free(c->spec);
    memset(c, 0, sizeof *c);
}

/* One cell: quoted when needed, formula-looking text defused. */
static int put_cell(tk_buf_t *out, const char *s, size_t n)
{
    int formula = n && strchr("=+-@\t\r", s[0]);
    int quote = formula;
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote)
        return tk_buf_append(out, s, n);
    int rc = tk_buf_putc(out, '"');
    if (formula)
        rc |= tk_buf_putc(out, '\'');
    for (size_t i = 0; i < n; i++)
        rc |= s[i] == '"' ? tk_buf_puts(out, "\"\"") : tk_buf_putc(out, s[i]);
    return rc | tk_buf_putc(out, '"');
}

int tk_csv_header(const tk_csv_cols_t *c, tk_buf_t *out)
{
    int rc = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (i)
            rc |= tk_buf_putc(out, ',');
        rc |= put_cell(out, c->path[i], strlen(c->path[i]));
    }
    return rc | tk_buf_puts(out, "\r\n");
}

static const cJSON *walk(const cJSON *o, const char *path)
{
    char name[256];
    while (o && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof name)
            return NULL;
        memcpy(name, path, n);
        name[n] = 0;
        o = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
        path += n + (dot != NULL);
    }
    return o;
}

int tk_csv_row(const tk_csv_cols_t *c, const char *json, size_t len, tk_buf_t *out)
{
    cJSON *o = cJSON_ParseWithLength(json, len);
    int rc = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (i)
            rc |= tk_buf_putc(out, ',');
        const cJSON *v = o ? walk(o, c->path[i]) : NULL;
        if (!v || cJSON_IsNull(v))
            continue;
        if (cJSON_IsString(v)) {
            rc |= put_cell(out, v->valuestring, strlen(v->valuestring));
        } else {
            char *t = cJSON_PrintUnformatted(v);
            if (!t) {
                rc |= TK_ENOMEM;
                continue;
            }
            rc |= put_cell(out, t, strlen(t));
            cJSON_free(t);
        }
    }
    cJSON_Delete(o);
    return rc | tk_buf_puts(out, "\r\n");
}

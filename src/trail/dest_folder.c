/* trailkeep trail destination `folder`: objects as files under a local
 * directory, in the same layout as a bucket. A file appears by rename only
 * after its bytes are fsynced, so a reader never sees half an object and a
 * re-sent object replaces the old one atomically. */
#include "trail/dest.h"

#include "base/fs.h"
#include "base/tk.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *path;
} folder_t;

static const tk_dest_option_t folder_opts[] = {
    {"path", TK_OPT_STRING, NULL, 1, "directory the objects are written under (created if missing)"},
};

static int folder_init(const tk_dest_config_t *cfg, void **state, char *err)
{
    const char *p = tk_dest_config_get(cfg, "path");
    if (!p || !*p)
        return tk_errf(err, TK_EINVAL, "folder needs option path (a directory)");
    folder_t *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(p))) {
        free(f);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    *state = f;
    return 0;
}

static int folder_write(void *state, const char *key, const void *data, size_t len, char *err)
{
    folder_t *f = state;
    if (strstr(key, "..") || key[0] == '/')
        return tk_errf(err, TK_EINVAL, "object key '%s' is not a safe relative path", key);
    char path[PATH_MAX], dir[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", f->path, key) >= sizeof path)
        return tk_errf(err, TK_EINVAL, "object path too long: %s/%s", f->path, key);
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    int rc = tk_fs_mkdirs(dir, err);
    if (!rc)
        rc = tk_fs_write_atomic(path, data, len, err);
    return rc;
}

static void folder_close(void *state)
{
    folder_t *f = state;
    if (f)
        free(f->path);
    free(f);
}

const tk_dest_t tk_dest_folder = {
    .name = "folder",
    .description = "local directory, same object layout as a bucket",
    .options = folder_opts,
    .noptions = TK_ARRAY_LEN(folder_opts),
    .init = folder_init,
    .write_object = folder_write,
    .close = folder_close,
};

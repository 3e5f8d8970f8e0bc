/* trailkeep trail destination `folder`: objects as files under a local
 * directory, in the same layout as a bucket. A file appears by rename only
 * after its bytes are fsynced, so a reader never sees half an object and a
 * re-sent object replaces the old one atomically. Paths are tenant input:
 * they must lie under a folder root the operator configured (dest.h), and
 * delivery walks from the root with openat(O_NOFOLLOW | O_DIRECTORY) per
 * component, so no symbolic link (planted before or after the trail was
 * created) can lead a write out of its root. */
#include "trail/dest.h"
#include "trail/s3_client.h"

#include "base/fs.h"
#include "base/tk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FOLDER_PATH_MAX 1024 /* leaves room below PATH_MAX for the object keys */
#define MAX_ROOTS 32

/* A directory as the operator named it and as realpath resolved it: a path
 * may be written under either spelling (/srv/trail when /srv is a link),
 * delivery opens the resolved one. */
typedef struct {
    char *given, *real;
} dirname_t;

/* The operator's roots, set before delivery threads start (dest.h). */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_set;
static dirname_t g_data;            /* the data directory */
static dirname_t g_default_root;    /* DATA/trail-folders (real: only if it exists) */
static dirname_t g_roots[MAX_ROOTS];
static size_t g_nroots;

static int check_shape(const char *p, char *err);

/* 1 when p is r or lies below it (lexically; both normalised, r absolute). */
static int is_within(const char *p, const char *r)
{
    if (!p || !r)
        return 0;
    size_t n = strlen(r);
    if (n == 1 && r[0] == '/')
        return p[0] == '/';
    return !strncmp(p, r, n) && (p[n] == 0 || p[n] == '/');
}

/* The length of the spelling of d that p lies in, or 0. */
static size_t within_dir(const char *p, const dirname_t *d)
{
    if (is_within(p, d->real))
        return strlen(d->real);
    if (is_within(p, d->given))
        return strlen(d->given);
    return 0;
}

static void dirname_free(dirname_t *d)
{
    free(d->given);
    free(d->real);
    d->given = d->real = NULL;
}

/* d from a path as given: its lexical form (kept only when normalised,
 * trailing '/' dropped) and its realpath (NULL when it does not exist). */
static int dirname_make(const char *path, dirname_t *d)
{
    char rp[PATH_MAX], e[TK_ERRLEN];
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    d->given = strndup(path, n);
    d->real = realpath(path, rp) ? strdup(rp) : NULL;
    if (d->given && check_shape(d->given, e)) {
        free(d->given);
        d->given = NULL;
    }
    return 0;
}

static void roots_clear(void)
{
    dirname_free(&g_data);
    dirname_free(&g_default_root);
    for (size_t i = 0; i < g_nroots; i++)
        dirname_free(&g_roots[i]);
    g_nroots = 0;
    g_set = 0;
}

int tk_dest_folder_set_roots(const char *data_dir, const char *const *roots, size_t n, char *err)
{
    char def[PATH_MAX + 32];
    if (n > MAX_ROOTS)
        return tk_errf(err, TK_EINVAL, "at most %d folder roots", MAX_ROOTS);
    dirname_t data = {0}, dr = {0}, v[MAX_ROOTS];
    size_t k = 0;
    int rc = 0;
    if (!data_dir || !*data_dir)
        return tk_errf(err, TK_EINVAL, "no data directory");
    dirname_make(data_dir, &data);
    if (!data.real) {
        rc = tk_errf(err, TK_ENOTFOUND, "data directory '%s': %s", data_dir, strerror(errno));
        goto done;
    }
    snprintf(def, sizeof def, "%s/%s", strcmp(data.real, "/") ? data.real : "",
             TK_DEST_FOLDER_DEFAULT_ROOT);
    if (n == 0 && mkdir(def, 0750) && errno != EEXIST) {
        rc = tk_errf(err, tk_from_errno(errno), "cannot create the folder root %s: %s", def,
                     strerror(errno));
        goto done;
    }
    dirname_make(def, &dr);
    if (n == 0) {
        if (!dr.real) {
            rc = tk_errf(err, TK_ENOTFOUND, "folder root %s: %s", def, strerror(errno));
            goto done;
        }
        dirname_make(def, &v[k++]);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        struct stat st;
        if (!roots[i] || roots[i][0] != '/') {
            rc = tk_errf(err, TK_EINVAL, "--trail-folder-root '%s' must be an absolute path",
                         roots[i] ? roots[i] : "");
            break;
        }
        dirname_make(roots[i], &v[k++]);
        const char *rp = v[k - 1].real;
        if (!rp)
            rc = tk_errf(err, TK_ENOTFOUND, "--trail-folder-root %s: %s", roots[i],
                         strerror(errno));
        else if (stat(rp, &st) || !S_ISDIR(st.st_mode))
            rc = tk_errf(err, TK_EINVAL, "--trail-folder-root %s is not a directory", roots[i]);
        else if (is_within(rp, data.real) && !is_within(rp, def))
            rc = tk_errf(err, TK_EINVAL,
                         "--trail-folder-root %s is the data directory or inside it: use %s or a "
                         "folder outside %s", roots[i], def, data.real);
    }
done:
    if (rc) {
        for (size_t i = 0; i < k; i++)
            dirname_free(&v[i]);
        dirname_free(&data);
        dirname_free(&dr);
        return rc;
    }
    pthread_mutex_lock(&g_mu);
    roots_clear();
    g_data = data;
    g_default_root = dr;
    memcpy(g_roots, v, k * sizeof *v);
    g_nroots = k;
    g_set = 1;
    pthread_mutex_unlock(&g_mu);
    return 0;
}

/* Absolute, normalised, printable, not too long. */
static int check_shape(const char *p, char *err)
{
    size_t n = strlen(p);
    if (!n || p[0] != '/')
        return tk_errf(err, TK_EINVAL, "Dest.path '%.100s' must be an absolute path", p);
    if (n >= FOLDER_PATH_MAX)
        return tk_errf(err, TK_EINVAL, "Dest.path is longer than %d bytes", FOLDER_PATH_MAX - 1);
    if (n == 1)
        return 0;
    const char *comp = p + 1;
    for (const char *q = p + 1;; q++) {
        if (*q && ((unsigned char)*q < 0x20 || *q == 0x7f))
            return tk_errf(err, TK_EINVAL, "Dest.path has a control character");
        if (*q == '/' || !*q) {
            size_t l = (size_t)(q - comp);
            if (l == 0 || (l == 1 && comp[0] == '.') || (l == 2 && comp[0] == '.' && comp[1] == '.'))
                return tk_errf(err, TK_EINVAL,
                               "Dest.path '%.100s' is not normalised: no '.', '..', empty "
                               "component or trailing '/'", p);
            if (!*q)
                return 0;
            comp = q + 1;
        }
    }
}

/* Under the lock: the root p lies in (its resolved path copied to root),
 * where p continues below it (*below: "" or "/a/b"), and the data
 * directory rules. */
static int check_roots_locked(const char *p, char *root, size_t cap, const char **below,
                              char *err)
{
    if (!g_set)
        return tk_errf(err, TK_EINVAL,
                       "folder destinations are disabled: no folder root is configured in this "
                       "process");
    size_t best = 0;
    for (size_t i = 0; i < g_nroots; i++) {
        size_t l = within_dir(p, &g_roots[i]);
        if (l && l >= best) {
            best = l;
            snprintf(root, cap, "%s", g_roots[i].real);
        }
    }
    if (!best)
        return tk_errf(err, TK_EINVAL,
                       "Dest.path '%.80s' is outside the folder roots (%.60s%s); the operator adds "
                       "roots with trailkeep serve --trail-folder-root DIR",
                       p, g_nroots ? g_roots[0].real : "none", g_nroots > 1 ? ", ..." : "");
    *below = p + (best == 1 ? 0 : best);
    if (is_within(g_data.real, p) || is_within(g_data.given, p))
        return tk_errf(err, TK_EINVAL,
                       "Dest.path '%.80s' is the data directory or holds it: the store's own "
                       "folder is never a destination", p);
    if (within_dir(p, &g_data) && !within_dir(p, &g_default_root))
        return tk_errf(err, TK_EINVAL,
                       "Dest.path '%.80s' is inside the data directory: only %.80s may hold "
                       "folder trails there", p,
                       g_default_root.real ? g_default_root.real : g_default_root.given);
    return 0;
}

int tk_dest_folder_check_path(const char *p, char *err)
{
    char root[PATH_MAX];
    const char *below = "";
    int rc = p ? check_shape(p, err) : tk_errf(err, TK_EINVAL, "folder needs option path");
    if (rc)
        return rc;
    pthread_mutex_lock(&g_mu);
    rc = check_roots_locked(p, root, sizeof root, &below, err);
    pthread_mutex_unlock(&g_mu);
    if (rc)
        return rc;
    /* Below the root, what exists must be real directories (no link). */
    char cur[PATH_MAX + FOLDER_PATH_MAX];
    size_t rl = snprintf(cur, sizeof cur, "%s", strcmp(root, "/") ? root : "");
    snprintf(cur + rl, sizeof cur - rl, "%s", below);
    for (char *q = cur + rl + 1; *below; q++) {
        if (*q != '/' && *q)
            continue;
        char save = *q;
        *q = 0;
        struct stat st;
        if (lstat(cur, &st)) {
            if (errno == ENOENT)
                return 0; /* the rest is created at the first delivery */
            return tk_errf(err, TK_EINVAL, "Dest.path %.100s: %s", cur, strerror(errno));
        }
        if (S_ISLNK(st.st_mode))
            return tk_errf(err, TK_EINVAL,
                           "Dest.path '%.80s': %.80s is a symbolic link; links are not followed "
                           "below a folder root", p, cur);
        if (!S_ISDIR(st.st_mode))
            return tk_errf(err, TK_EINVAL, "Dest.path '%.80s': %.80s is not a directory", p, cur);
        if (!save)
            break;
        *q = save;
    }
    return 0;
}

typedef struct {
    char *path;
} folder_t;

static const tk_dest_option_t folder_opts[] = {
    {"path", TK_OPT_STRING, NULL, 1,
     "directory under a folder root (DATA/trail-folders unless serve --trail-folder-root); "
     "created if missing"},
};

static int folder_check(const tk_dest_config_t *cfg, char *err)
{
    const char *p = tk_dest_config_get(cfg, "path");
    if (!p || !*p)
        return tk_errf(err, TK_EINVAL, "folder needs option path (a directory)");
    return tk_dest_folder_check_path(p, err);
}

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

/* Opens (creating when missing) directory name below dirfd without
 * following a link; closes dirfd. The new fd, or -1 with err set. */
static int open_below(int dirfd, const char *name, const char *shown, char *err)
{
    int made = mkdirat(dirfd, name, 0750) == 0;
    if (!made && errno != EEXIST) {
        tk_errf(err, tk_from_errno(errno), "cannot create %s: %s", shown, strerror(errno));
        close(dirfd);
        return -1;
    }
    if (made)
        fsync(dirfd); /* the new entry survives a crash */
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        tk_errf(err, errno == ELOOP || errno == ENOTDIR ? TK_EINVAL : tk_from_errno(errno),
                "%s %s: refused (a folder trail never follows a symbolic link below its root)",
                shown, errno == ELOOP ? "is a symbolic link" : strerror(errno));
    close(dirfd);
    return fd;
}

/* Writes data as name in dirfd: name.tmp (O_NOFOLLOW), fsync, renameat, fsync dir. */
static int write_in(int dirfd, const char *name, const char *shown, const void *data, size_t len,
                    char *err)
{
    char tmp[NAME_MAX + 8];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", name) >= sizeof tmp)
        return tk_errf(err, TK_EINVAL, "object name too long: %s", shown);
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0)
        return tk_errf(err, tk_from_errno(errno), "cannot create %s.tmp: %s", shown,
                       strerror(errno));
    int rc = tk_fs_write_full(fd, data, len);
    if (!rc && fsync(fd))
        rc = tk_from_errno(errno);
    if (close(fd) && !rc)
        rc = tk_from_errno(errno);
    if (!rc && renameat(dirfd, tmp, dirfd, name))
        rc = tk_from_errno(errno);
    if (!rc && fsync(dirfd))
        rc = tk_from_errno(errno);
    if (rc) {
        int e = errno;
        unlinkat(dirfd, tmp, 0);
        return tk_errf(err, rc, "cannot write %s: %s", shown, strerror(e));
    }
    return 0;
}

static int folder_write(void *state, const char *key, const void *data, size_t len, char *err)
{
    folder_t *f = state;
    if (!tk_s3_key_is_safe(key))
        return tk_errf(err, TK_EINVAL, "object key '%s' is not a safe relative path", key);
    char root[PATH_MAX], rel[PATH_MAX], shown[PATH_MAX + 8];
    const char *below = "";
    int rc = check_shape(f->path, err);
    if (!rc) {
        pthread_mutex_lock(&g_mu);
        rc = check_roots_locked(f->path, root, sizeof root, &below, err);
        pthread_mutex_unlock(&g_mu);
    }
    if (rc)
        return rc;
    if ((size_t)snprintf(rel, sizeof rel, "%s/%s", below, key) >= sizeof rel)
        return tk_errf(err, TK_EINVAL, "object path too long: %s/%s", f->path, key);
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return tk_errf(err, tk_from_errno(errno), "folder root %s: %s", root, strerror(errno));
    /* rel is "/c1/c2/.../name": every component but the last is a directory. */
    char *comp = rel + 1;
    for (char *slash; fd >= 0 && (slash = strchr(comp, '/')); comp = slash + 1) {
        *slash = 0;
        snprintf(shown, sizeof shown, "%s%.*s", strcmp(root, "/") ? root : "",
                 (int)(slash - rel), rel);
        fd = open_below(fd, comp, shown, err);
    }
    if (fd < 0)
        return TK_EIO;
    snprintf(shown, sizeof shown, "%s/%s", f->path, key);
    rc = write_in(fd, comp, shown, data, len, err);
    close(fd);
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
    .description = "local directory under a folder root, same object layout as a bucket",
    .options = folder_opts,
    .noptions = TK_ARRAY_LEN(folder_opts),
    .init = folder_init,
    .write_object = folder_write,
    .close = folder_close,
    .check = folder_check,
};

/* trailkeep base: file-system helpers (see fs.h). */
#define _GNU_SOURCE
#include "base/fs.h"
#include "base/tk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int mkdirs_mode(const char *path, mode_t mode, char *err)
{
    char tmp[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return tk_errf(err, TK_EINVAL, "path too long or empty: '%s'", path);
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != 0)
            continue;
        char c = tmp[i];
        tmp[i] = 0;
        if (mkdir(tmp, mode) != 0 && errno != EEXIST)
            return tk_errf(err, tk_from_errno(errno), "cannot create directory '%s': %s", tmp,
                           strerror(errno));
        tmp[i] = c;
    }
    return 0;
}

int tk_fs_mkdirs(const char *path, char *err)
{
    return mkdirs_mode(path, 0755, err);
}

int tk_fs_mkdirs_private(const char *path, char *err)
{
    int rc = mkdirs_mode(path, 0700, err);
    struct stat st;
    /* An existing leaf is made private too: other local users must not even
     * list a data dir, whatever the modes of files older versions wrote. */
    if (!rc && stat(path, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 077))
        chmod(path, st.st_mode & ~(mode_t)077);
    return rc;
}

int tk_fs_read_all(const char *path, char **out, size_t *len, char *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tk_errf(err, tk_from_errno(errno), "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return tk_errf(err, TK_EIO, "cannot stat '%s': %s", path, strerror(errno));
    }
    size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, n = 0;
    char *p = malloc(cap);
    if (!p) {
        close(fd);
        return tk_errf(err, TK_ENOMEM, "out of memory reading '%s'", path);
    }
    for (;;) {
        if (n + 1 >= cap) {
            char *q = realloc(p, cap * 2);
            if (!q) {
                free(p);
                close(fd);
                return tk_errf(err, TK_ENOMEM, "out of memory reading '%s'", path);
            }
            p = q;
            cap *= 2;
        }
        ssize_t r = read(fd, p + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(p);
            close(fd);
            return tk_errf(err, TK_EIO, "cannot read '%s': %s", path, strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    p[n] = 0;
    *out = p;
    *len = n;
    return 0;
}

int tk_fs_write_full(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return tk_from_errno(errno);
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int tk_fs_sync_dir(const char *path)
{
    char dir[PATH_MAX];
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(dir, sizeof dir, "%s", path);
    } else {
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash == dir)
            dir[1] = 0;
        else if (slash)
            *slash = 0;
        else
            strcpy(dir, ".");
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return tk_from_errno(errno);
    int rc = fsync(fd) == 0 ? 0 : tk_from_errno(errno);
    close(fd);
    return rc;
}

int tk_fs_write_atomic(const char *path, const void *data, size_t len, char *err)
{
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return tk_errf(err, TK_EINVAL, "path too long: '%s'", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return tk_errf(err, tk_from_errno(errno), "cannot create '%s': %s", tmp, strerror(errno));
    int rc = tk_fs_write_full(fd, data, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = tk_from_errno(errno);
    int e = errno;
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0) {
        e = errno;
        rc = tk_from_errno(e);
    }
    if (rc) {
        unlink(tmp);
        return tk_errf(err, rc, "cannot write '%s': %s", path, strerror(e));
    }
    tk_fs_sync_dir(path);
    return 0;
}

int tk_fs_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : tk_from_errno(errno);
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d)
            return tk_from_errno(errno);
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char sub[PATH_MAX];
            snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
            tk_fs_remove_tree(sub);
        }
        closedir(d);
        return rmdir(path) == 0 ? 0 : tk_from_errno(errno);
    }
    return unlink(path) == 0 ? 0 : tk_from_errno(errno);
}

int tk_fs_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* trailkeep base: file-system helpers with the durability rules the store
 * relies on: a file is made visible by rename only after its bytes and its
 * directory entry are fsynced, so a crash leaves either old or new, never half. */
#ifndef TK_BASE_FS_H
#define TK_BASE_FS_H

#include <stddef.h>

/* mkdir -p; 0 or TK_E*. */
int tk_fs_mkdirs(const char *path, char *err);
/* As tk_fs_mkdirs with mode 0700 for what it creates; an existing last
 * component owned by this user loses its group/other bits. For the data dir
 * and everything under it: one tenant's events are no other local user's. */
int tk_fs_mkdirs_private(const char *path, char *err);
/* Reads a whole file. *out is owned by the caller (free()), NUL-terminated. */
int tk_fs_read_all(const char *path, char **out, size_t *len, char *err);
/* Writes data to path atomically: path.tmp, fsync, rename, fsync(dir). */
int tk_fs_write_atomic(const char *path, const void *data, size_t len, char *err);
/* Writes all of data to fd, retrying on EINTR/short writes. 0 or TK_E*. */
int tk_fs_write_full(int fd, const void *data, size_t len);
/* fsyncs the directory that holds path (or path itself if it is a directory). */
int tk_fs_sync_dir(const char *dir);
/* Removes a file or an empty-after-recursion directory tree (rm -rf). */
int tk_fs_remove_tree(const char *path);
/* 1 if path exists, else 0. */
int tk_fs_exists(const char *path);

#endif

/* trailkeep base: the one error convention shared by every module.
 * Functions return 0 or a negative TK_E* code and, where they can fail for a
 * reason a user must see, fill a caller-provided buffer of TK_ERRLEN bytes.
 * Nothing in the library calls exit(). */
#ifndef TK_BASE_TK_H
#define TK_BASE_TK_H

#include <stddef.h>
#include <stdint.h>

enum {
    TK_OK = 0,
    TK_EINVAL = -1,      /* bad input from the caller or the user */
    TK_ENOMEM = -2,
    TK_EIO = -3,         /* read/write/fsync failed */
    TK_ECORRUPT = -4,    /* on-disk data fails its checksum or format */
    TK_ENOTFOUND = -5,
    TK_EEXIST = -6,
    TK_ENOSPC = -7,      /* disk full: back-pressure, nothing half-written */
    TK_EBUSY = -8,       /* try again later (locked, overloaded) */
    TK_ETOOBIG = -9,     /* over a size limit */
    TK_EPERM = -10,      /* authenticated but not allowed */
    TK_EAUTH = -11,      /* not authenticated */
    TK_EUNSUPPORTED = -12,
    TK_ECLOSED = -13,    /* object shut down */
};

#define TK_ERRLEN 256

/* Formats a message into err (TK_ERRLEN bytes, may be NULL) and returns code,
 * so call sites read `return tk_errf(err, TK_EINVAL, "...", ...);`. */
int tk_errf(char *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes one line to stderr, the service log: printf-formatted (up to 2 KiB),
 * a trailing newline added, and every control character (CR, LF, ESC, ...)
 * and backslash escaped as \xNN / \\, so a value a tenant chose (a rule
 * id, an address, a server's reply inside an error) cannot forge log lines
 * or drive a terminal. */
void tk_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The escaping tk_log applies, into out (outlen bytes, always terminated;
 * cut at a character boundary when full). */
void tk_log_escape(const char *in, char *out, size_t outlen);

/* Static name of a TK_E* code ("EINVAL"...). */
const char *tk_strerror(int code);

/* Maps an errno value to a TK_E* code (ENOSPC/EDQUOT -> TK_ENOSPC, ...). */
int tk_from_errno(int e);

#define TK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif

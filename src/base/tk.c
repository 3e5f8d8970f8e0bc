/* trailkeep base: error formatting, the service log line and errno mapping
 * (see tk.h). */
#include "base/tk.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int tk_errf(char *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, TK_ERRLEN, fmt, ap);
        va_end(ap);
    }
    return code;
}

void tk_log_escape(const char *in, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t j = 0;
    if (!outlen)
        return;
    for (const unsigned char *p = (const unsigned char *)in; *p && j + 1 < outlen; p++) {
        if (*p >= 0x20 && *p != 0x7f && *p != '\\') {
            out[j++] = (char)*p;
        } else {
            if (j + 5 >= outlen)
                break;
            out[j++] = '\\';
            if (*p == '\\') {
                out[j++] = '\\';
                continue;
            }
            out[j++] = 'x';
            out[j++] = hex[*p >> 4];
            out[j++] = hex[*p & 15];
        }
    }
    out[j] = 0;
}

void tk_log(const char *fmt, ...)
{
    char raw[2048], line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = strlen(raw);
    while (len && raw[len - 1] == '\n')
        raw[--len] = 0;
    tk_log_escape(raw, line, sizeof line - 1);
    len = strlen(line);
    line[len++] = '\n';
    fwrite(line, 1, len, stderr); /* one call: stderr is unbuffered, lines do not interleave */
}

const char *tk_strerror(int code)
{
    switch (code) {
    case TK_OK: return "OK";
    case TK_EINVAL: return "EINVAL";
    case TK_ENOMEM: return "ENOMEM";
    case TK_EIO: return "EIO";
    case TK_ECORRUPT: return "ECORRUPT";
    case TK_ENOTFOUND: return "ENOTFOUND";
    case TK_EEXIST: return "EEXIST";
    case TK_ENOSPC: return "ENOSPC";
    case TK_EBUSY: return "EBUSY";
    case TK_ETOOBIG: return "ETOOBIG";
    case TK_EPERM: return "EPERM";
    case TK_EAUTH: return "EAUTH";
    case TK_EUNSUPPORTED: return "EUNSUPPORTED";
    case TK_ECLOSED: return "ECLOSED";
    default: return "EUNKNOWN";
    }
}

int tk_from_errno(int e)
{
    switch (e) {
    case 0: return TK_OK;
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return TK_ENOSPC;
    case ENOMEM: return TK_ENOMEM;
    case ENOENT: return TK_ENOTFOUND;
    case EEXIST: return TK_EEXIST;
    case EACCES:
    case EPERM:
    case EROFS: return TK_EPERM;
    case EINVAL: return TK_EINVAL;
    case EAGAIN: return TK_EBUSY;
    default: return TK_EIO;
    }
}

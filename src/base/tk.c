/* trailkeep base: error formatting and errno mapping (see tk.h). */
#include "base/tk.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

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

/* trailkeep query: NextToken encoding, signing and the token key file.
 * Tokens are opaque to clients but not secret; what matters is that nobody
 * can forge one (HMAC-SHA256 with a per-installation key) and that a token is
 * only honoured for the account and query it was issued for (checked by
 * lookup.c against the hashes carried inside). */
#define _GNU_SOURCE
#include "query/lookup.h"
#include "query/token_internal.h"

#include "base/fs.h"
#include "base/hash.h"
#include "base/tk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t tk_b64url_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url[v >> 18];
        out[o++] = b64url[(v >> 12) & 63];
        out[o++] = b64url[(v >> 6) & 63];
        out[o++] = b64url[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64url[v >> 18];
        out[o++] = b64url[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64url[v >> 18];
        out[o++] = b64url[(v >> 12) & 63];
        out[o++] = b64url[(v >> 6) & 63];
    }
    out[o] = 0;
    return o;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

long tk_b64url_decode(const char *in, size_t n, uint8_t *out, size_t outcap)
{
    if (n % 4 == 1)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val(in[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= outcap)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Leftover bits must be zero, so each token has exactly one spelling. */
    if (acc != 0)
        return -1;
    return (long)o;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void tk_token_account_hash(const char *account, uint8_t out[16])
{
    uint8_t h[32];
    tk_sha256(account, strlen(account), h);
    memcpy(out, h, 16);
}

size_t tk_token_encode(const tk_token_t *t, const uint8_t key[32], char *out)
{
    uint8_t raw[TK_TOKEN_RAW_LEN];
    size_t o = 0;
    raw[o++] = TK_TOKEN_VERSION;
    raw[o++] = t->flags;
    memcpy(raw + o, t->account_hash, 16);
    o += 16;
    memcpy(raw + o, t->query_hash, 16);
    o += 16;
    put64(raw + o, (uint64_t)t->start_ms);
    o += 8;
    put64(raw + o, (uint64_t)t->end_ms);
    o += 8;
    put64(raw + o, (uint64_t)t->cursor_time_ms);
    o += 8;
    put64(raw + o, t->cursor_seq);
    o += 8;
    tk_hmac_sha256(key, 32, raw, o, raw + o);
    o += 32;
    return tk_b64url_encode(raw, o, out);
}

int tk_token_decode(const char *s, const uint8_t key[32], tk_token_t *t, char *msg, size_t msgsz)
{
    uint8_t raw[TK_TOKEN_RAW_LEN + 3];
    size_t n = strlen(s);
    long got = n > 200 ? -1 : tk_b64url_decode(s, n, raw, sizeof raw);
    if (got != TK_TOKEN_RAW_LEN || raw[0] != TK_TOKEN_VERSION) {
        snprintf(msg, msgsz,
                 "NextToken is malformed (not a token this service issued, or cut short); "
                 "pass the NextToken of the previous page unchanged, or omit it to start over");
        return TK_EINVAL;
    }
    uint8_t mac[32];
    tk_hmac_sha256(key, 32, raw, TK_TOKEN_RAW_LEN - 32, mac);
    if (!tk_ct_equal(mac, raw + TK_TOKEN_RAW_LEN - 32, 32)) {
        snprintf(msg, msgsz,
                 "NextToken signature does not match (the token was modified, or issued by "
                 "another trailkeep installation); omit NextToken to start over");
        return TK_EINVAL;
    }
    size_t o = 1;
    t->flags = raw[o++];
    memcpy(t->account_hash, raw + o, 16);
    o += 16;
    memcpy(t->query_hash, raw + o, 16);
    o += 16;
    t->start_ms = (int64_t)get64(raw + o);
    o += 8;
    t->end_ms = (int64_t)get64(raw + o);
    o += 8;
    t->cursor_time_ms = (int64_t)get64(raw + o);
    o += 8;
    t->cursor_seq = get64(raw + o);
    return 0;
}

/* Reads an existing key file; TK_ENOTFOUND when absent. */
static int read_key(const char *path, uint8_t key[32], char *err)
{
    char *data = NULL;
    size_t len = 0;
    if (!tk_fs_exists(path))
        return TK_ENOTFOUND;
    int rc = tk_fs_read_all(path, &data, &len, err);
    if (rc)
        return rc;
    rc = 0;
    if (len == 32) {
        memcpy(key, data, 32);
    } else {
        rc = tk_errf(err, TK_ECORRUPT,
                     "token key '%s' has %zu bytes instead of 32; delete it to create a new one "
                     "(outstanding NextTokens then become invalid)",
                     path, len);
    }
    free(data);
    return rc;
}

/* Creation goes through a private temporary file and link(), which fails if
 * the key already exists: two processes starting at once agree on one key,
 * and a crash never leaves a short key behind. */
int tk_lookup_token_key(const char *dir, uint8_t key[32], char *err)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/token.key", dir) >= sizeof path)
        return tk_errf(err, TK_EINVAL, "data directory path too long: '%s'", dir);
    int rc = read_key(path, key, err);
    if (rc != TK_ENOTFOUND)
        return rc;
    rc = tk_fs_mkdirs_private(dir, err);
    if (rc)
        return rc;
    snprintf(tmp, sizeof tmp, "%s/.token.key.%ld", dir, (long)getpid());
    uint8_t fresh[32];
    if (tk_random(fresh, sizeof fresh))
        return tk_errf(err, TK_EIO, "cannot get random bytes for the token key");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return tk_errf(err, tk_from_errno(errno), "cannot create '%s': %s", tmp, strerror(errno));
    rc = tk_fs_write_full(fd, fresh, sizeof fresh);
    if (rc == 0 && fsync(fd) != 0)
        rc = tk_from_errno(errno);
    close(fd);
    if (rc) {
        unlink(tmp);
        return tk_errf(err, rc, "cannot write token key '%s': %s", tmp, tk_strerror(rc));
    }
    if (link(tmp, path) != 0 && errno != EEXIST) {
        int e = errno;
        unlink(tmp);
        return tk_errf(err, tk_from_errno(e), "cannot create token key '%s': %s", path,
                       strerror(e));
    }
    unlink(tmp);
    tk_fs_sync_dir(path);
    return read_key(path, key, err);
}

/* trailkeep trail digests: proof that delivered files are complete and
 * unchanged (CloudTrail's log file integrity validation, with Ed25519). Each
 * digest lists the files a trail delivered in a period with their SHA-256 and
 * carries the previous digest's signature, so digests form a chain; the
 * digest's JSON bytes are signed with a key pair that trailkeep generates
 * and keeps (DIR/trail-digest.pem, 0600); the signature is stored beside it
 * as "<digest>.sig" (hex). Verification needs only the public key. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "trail/dest.h"
#include "trail/trail.h"
#include "trail/trail_internal.h"

#include "base/fs.h"
#include "base/hash.h"
#include "base/tk.h"
#include "base/tktime.h"
#include "event/parse.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_FILE "trail-digest.pem"

/* ---- the key pair ------------------------------------------------------------------------ */

static int fingerprint(EVP_PKEY *k, char out[65])
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k, &der);
    if (n <= 0)
        return TK_ENOMEM;
    uint8_t h[32];
    tk_sha256(der, (size_t)n, h);
    tk_hex(h, 32, out);
    OPENSSL_free(der);
    return 0;
}

int trail_digest_key(const char *dir, void **key, char fp[65], char *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/" KEY_FILE, dir);
    EVP_PKEY *k = NULL;
    FILE *f = fopen(path, "r");
    if (f) {
        k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        if (!k)
            return tk_errf(err, TK_ECORRUPT, "%s is not a PEM private key; restore it from a backup "
                                             "(digests signed with it cannot be re-signed)", path);
    } else {
        k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        if (!k)
            return tk_errf(err, TK_ENOMEM, "cannot generate the digest key pair");
        char tmp[PATH_MAX + 8];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        FILE *w = fd >= 0 ? fdopen(fd, "w") : NULL;
        int ok = w && PEM_write_PrivateKey(w, k, NULL, NULL, 0, NULL, NULL) == 1;
        if (w)
            ok = fflush(w) == 0 && fsync(fileno(w)) == 0 && ok;
        if (w)
            fclose(w);
        else if (fd >= 0)
            close(fd);
        /* link() fails when another process created the key meanwhile: use theirs. */
        if (ok && link(tmp, path) != 0) {
            unlink(tmp);
            EVP_PKEY_free(k);
            return trail_digest_key(dir, key, fp, err);
        }
        unlink(tmp);
        if (!ok) {
            EVP_PKEY_free(k);
            return tk_errf(err, TK_EIO, "cannot write %s", path);
        }
        tk_fs_sync_dir(dir);
    }
    if (fingerprint(k, fp)) {
        EVP_PKEY_free(k);
        return tk_errf(err, TK_ENOMEM, "out of memory");
    }
    *key = k;
    return 0;
}

void trail_digest_key_free(void *key)
{
    EVP_PKEY_free(key);
}

int tk_trail_public_key(const char *dir, tk_buf_t *pem, char fp[65], char *err)
{
    void *k;
    int rc = trail_digest_key(dir, &k, fp, err);
    if (rc)
        return rc;
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n = 0;
    if (b && PEM_write_bio_PUBKEY(b, k) == 1)
        n = BIO_get_mem_data(b, &p);
    rc = n > 0 ? tk_buf_append(pem, p, (size_t)n) : tk_errf(err, TK_ENOMEM, "out of memory");
    BIO_free(b);
    EVP_PKEY_free(k);
    return rc;
}

static int sign(void *key, const void *msg, size_t n, char hex[129])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    uint8_t sig[64];
    size_t sl = sizeof sig;
    int ok = c && EVP_DigestSignInit(c, NULL, NULL, NULL, key) == 1 &&
             EVP_DigestSign(c, sig, &sl, msg, n) == 1 && sl == 64;
    EVP_MD_CTX_free(c);
    if (!ok)
        return TK_EINVAL;
    tk_hex(sig, 64, hex);
    return 0;
}

/* 1 when hex is a valid signature of msg by pub. */
static int verify_sig(EVP_PKEY *pub, const void *msg, size_t n, const char *hex)
{
    uint8_t sig[64];
    if (strlen(hex) != 128 || tk_unhex(hex, 128, sig))
        return 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestVerifyInit(c, NULL, NULL, NULL, pub) == 1 &&
             EVP_DigestVerify(c, sig, 64, msg, n) == 1;
    EVP_MD_CTX_free(c);
    return ok;
}

/* ---- building a digest ------------------------------------------------------------------- */

static void put_time(tk_buf_t *b, int64_t ms)
{
    char t[32];
    tk_time_format(ms, 0, t);
    tk_buf_printf(b, "\"%s\"", t);
}

int trail_digest_build(const trail_digest_in_t *in, tk_buf_t *json, tk_buf_t *key, char *err)
{
    int64_t y;
    unsigned mo, d;
    int64_t e = in->end_ms;
    tk_civil_from_days(tk_time_day(e), &y, &mo, &d);
    int64_t sod = (e - tk_time_day(e) * TK_MS_PER_DAY) / 1000;
    char stamp[32];
    snprintf(stamp, sizeof stamp, "%04" PRId64 "%02u%02uT%02d%02d%02dZ", y, mo, d,
             (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
    if (in->prefix && *in->prefix) {
        tk_buf_puts(key, in->prefix);
        if (in->prefix[strlen(in->prefix) - 1] != '/')
            tk_buf_putc(key, '/');
    }
    const char *org = in->org_id && *in->org_id ? in->org_id : NULL;
    if (in->layout == TRAIL_LAYOUT_CLOUDTRAIL)
        tk_buf_printf(key,
                      "AWSLogs/%s%s%s/CloudTrail-Digest/%s/%04" PRId64 "/%02u/%02u/"
                      "%s_CloudTrail-Digest_%s_%s_%s_%s.json.gz",
                      org ? org : "", org ? "/" : "", in->account, in->region, y, mo, d,
                      in->account, in->region, in->trail, in->region, stamp);
    else
        tk_buf_printf(key,
                      "AliyunLogs/Actiontrail-Digest/%s%s%s/%s/%04" PRId64 "/%02u/%02u/"
                      "%s_Actiontrail-Digest_%s_%s_%s.json.gz",
                      org ? org : "", org ? "/" : "", in->account, in->region, y, mo, d,
                      in->account, in->region, in->trail, stamp);
    tk_buf_puts(json, "{\"digestVersion\":\"1\",\"digestStartTime\":");
    put_time(json, in->start_ms);
    tk_buf_puts(json, ",\"digestEndTime\":");
    put_time(json, in->end_ms);
    tk_buf_printf(json, ",\"trailARN\":\"acs:actiontrail:%s:%s:trail/%s\",\"digestObject\":",
                  in->region, in->account, in->trail);
    tk_buf_put_json_str(json, key->p, key->len);
    tk_buf_puts(json, ",\"previousDigestObject\":");
    if (in->prev_object && *in->prev_object)
        tk_buf_put_json_str(json, in->prev_object, strlen(in->prev_object));
    else
        tk_buf_puts(json, "null");
    tk_buf_puts(json, ",\"previousDigestSignature\":");
    if (in->prev_sig && *in->prev_sig)
        tk_buf_printf(json, "\"%s\"", in->prev_sig);
    else
        tk_buf_puts(json, "null");
    tk_buf_printf(json, ",\"digestPublicKeyFingerprint\":\"%s\",\"digestSignatureAlgorithm\":"
                        "\"Ed25519\",\"logFiles\":[", in->fingerprint);
    for (size_t i = 0; i < in->nfiles; i++) {
        const trail_file_rec_t *f = &in->files[i];
        if (i)
            tk_buf_putc(json, ',');
        tk_buf_puts(json, "{\"object\":");
        tk_buf_put_json_str(json, f->object, strlen(f->object));
        tk_buf_printf(json, ",\"hashValue\":\"%s\",\"hashAlgorithm\":\"SHA-256\",\"eventCount\":%llu,"
                            "\"oldestEventTime\":", f->sha256, (unsigned long long)f->events);
        put_time(json, f->oldest_ms);
        tk_buf_puts(json, ",\"newestEventTime\":");
        put_time(json, f->newest_ms);
        tk_buf_putc(json, '}');
    }
    if (tk_buf_puts(json, "]}"))
        return tk_errf(err, TK_ENOMEM, "out of memory");
    return 0;
}

int trail_digest_sign(void *key, const tk_buf_t *json, char sig[129], char *err)
{
    return sign(key, json->p, json->len, sig) ? tk_errf(err, TK_EINVAL, "signing failed") : 0;
}

/* ---- verifying a folder ------------------------------------------------------------------ */

typedef struct vfile {
    char *rel;       /* path relative to the folder */
    int is_digest, covered;
} vfile_t;

/* nftw has no user pointer: one walk at a time. */
static pthread_mutex_t walk_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    vfile_t *v;
    size_t n, cap;
    size_t root_len;
} g_walk;

static int walk_cb(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    size_t l = strlen(p);
    if (type != FTW_F || l < 3 || strcmp(p + l - 3, ".gz"))
        return 0;
    if (g_walk.n == g_walk.cap) {
        size_t nc = g_walk.cap ? 2 * g_walk.cap : 256;
        vfile_t *nv = realloc(g_walk.v, nc * sizeof *nv);
        if (!nv)
            return 1;
        g_walk.v = nv;
        g_walk.cap = nc;
    }
    vfile_t *f = &g_walk.v[g_walk.n];
    f->rel = strdup(p + g_walk.root_len + 1);
    if (!f->rel)
        return 1;
    f->is_digest = strstr(f->rel, "-Digest/") != NULL;
    f->covered = 0;
    g_walk.n++;
    return 0;
}

typedef struct dg {
    vfile_t *file;
    char *json;
    size_t len;
    char sig[130];
    int sig_ok;
    cJSON *doc;
    char end[40];
} dg_t;

static int cmp_dg(const void *a, const void *b)
{
    const dg_t *x = a, *y = b;
    int r = strcmp(x->end, y->end);
    return r ? r : strcmp(x->file->rel, y->file->rel);
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void report(tk_trail_verify_cb cb, void *ud, tk_trail_verify_summary_t *sum,
                   const char *kind, const char *object, const char *status, const char *detail)
{
    if (strcmp(status, "valid"))
        sum->problems++;
    else if (!strcmp(kind, "log"))
        sum->logs_valid++;
    else
        sum->digests_valid++;
    if (cb)
        cb(ud, kind, object, status, detail);
}

/* key as a path in the folder: without the digest's base part (see below)
 * when it has it, else unchanged (then it will not be found). */
static const char *local_key(const char *key, const char *self, size_t base)
{
    return base && !strncmp(key, self, base) ? key + base : key;
}

int tk_trail_verify_folder(const char *folder, const char *public_pem, tk_trail_verify_cb cb,
                           void *ud, tk_trail_verify_summary_t *sum, char *err)
{
    memset(sum, 0, sizeof sum[0]);
    BIO *bio = BIO_new_mem_buf(public_pem, -1);
    EVP_PKEY *pub = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!pub)
        return tk_errf(err, TK_EINVAL, "the public key is not a PEM public key");
    char root[PATH_MAX];
    snprintf(root, sizeof root, "%s", folder);
    size_t rl = strlen(root);
    while (rl > 1 && root[rl - 1] == '/')
        root[--rl] = 0;
    pthread_mutex_lock(&walk_mu);
    memset(&g_walk, 0, sizeof g_walk);
    g_walk.root_len = rl;
    int rc = 0;
    if (!tk_fs_exists(root))
        rc = tk_errf(err, TK_ENOTFOUND, "folder %s does not exist", root);
    else if (nftw(root, walk_cb, 32, FTW_PHYS) != 0)
        rc = tk_errf(err, TK_ENOMEM, "cannot list %s", root);
    vfile_t *files = g_walk.v;
    size_t nfiles = g_walk.n;
    dg_t *dg = calloc(nfiles + 1, sizeof *dg);
    size_t ndg = 0;
    if (!rc && !dg)
        rc = tk_errf(err, TK_ENOMEM, "out of memory");
    /* Read and authenticate every digest. */
    for (size_t i = 0; !rc && i < nfiles; i++) {
        if (!files[i].is_digest)
            continue;
        dg_t *g = &dg[ndg++];
        g->file = &files[i];
        char path[PATH_MAX * 2], *gz = NULL, *sigtxt = NULL;
        size_t gzlen, siglen;
        int owned = 0;
        char e2[TK_ERRLEN];
        snprintf(path, sizeof path, "%s/%s", root, files[i].rel);
        if (tk_fs_read_all(path, &gz, &gzlen, e2) == 0 &&
            tk_event_gunzip(gz, gzlen, 64 << 20, &g->json, &g->len, &owned, e2) == 0) {
            if (!owned) {
                g->json = malloc(gzlen + 1);
                if (g->json) {
                    memcpy(g->json, gz, gzlen);
                    g->json[gzlen] = 0;
                }
            }
        }
        free(gz);
        snprintf(path, sizeof path, "%s/%s.sig", root, files[i].rel);
        if (tk_fs_read_all(path, &sigtxt, &siglen, e2) == 0) {
            snprintf(g->sig, sizeof g->sig, "%.128s", sigtxt);
            free(sigtxt);
        }
        g->sig_ok = g->json && verify_sig(pub, g->json, g->len, g->sig);
        g->doc = g->sig_ok ? cJSON_ParseWithLength(g->json, g->len) : NULL;
        const char *end = g->doc ? jstr(g->doc, "digestEndTime") : NULL;
        snprintf(g->end, sizeof g->end, "%s", end ? end : "");
    }
    qsort(dg, ndg, sizeof *dg, cmp_dg);
    int chain_ok = 1;
    const dg_t *prev = NULL;
    for (size_t i = 0; !rc && i < ndg; i++) {
        dg_t *g = &dg[i];
        if (!g->sig[0]) {
            report(cb, ud, sum, "digest", g->file->rel, "modified", "its signature file is missing");
            chain_ok = 0;
            continue;
        }
        if (!g->sig_ok || !g->doc) {
            report(cb, ud, sum, "digest", g->file->rel, "modified",
                   "the signature does not match its content (or it is not a digest)");
            chain_ok = 0;
            continue;
        }
        const char *self = jstr(g->doc, "digestObject");
        const char *pobj = jstr(g->doc, "previousDigestObject");
        const char *psig = jstr(g->doc, "previousDigestSignature");
        int link_ok = prev ? (pobj && psig && !strcmp(psig, prev->sig) &&
                              !strcmp(pobj, jstr(prev->doc, "digestObject")))
                           : 1;
        /* The folder may be a copy of a folder inside the bucket (`aws s3 cp
         * s3://b/prod ./copy`): keys then start with a part (base) that the
         * paths here lack. It is the same for every object the digest names. */
        size_t rl = strlen(g->file->rel), sl = self ? strlen(self) : 0, base = 0;
        if (self && sl > rl && self[sl - rl - 1] == '/' && !strcmp(self + sl - rl, g->file->rel))
            base = sl - rl;
        if (!self || (!base && strcmp(self, g->file->rel))) {
            report(cb, ud, sum, "digest", g->file->rel, "modified",
                   "the digest names another object (moved or copied)");
            chain_ok = 0;
        } else if (!link_ok) {
            report(cb, ud, sum, "digest", g->file->rel, "chain-broken",
                   "previousDigestSignature does not match the previous digest: a digest is "
                   "missing or was replaced");
            chain_ok = 0;
        } else {
            report(cb, ud, sum, "digest", g->file->rel, "valid", "");
        }
        if (!prev && pobj) {
            /* The first digest found points back to one that is gone. */
            int found = 0;
            const char *prel = local_key(pobj, self, base);
            for (size_t k = 0; k < nfiles && !found; k++)
                found = files[k].is_digest && !strcmp(files[k].rel, prel);
            if (!found) {
                report(cb, ud, sum, "digest", prel, "missing",
                       "referenced by the oldest digest present");
                chain_ok = 0;
            }
        }
        prev = g;
        const cJSON *lf = cJSON_GetObjectItemCaseSensitive(g->doc, "logFiles");
        const cJSON *it;
        cJSON_ArrayForEach(it, lf)
        {
            const char *obj = jstr(it, "object"), *hv = jstr(it, "hashValue");
            if (!obj || !hv)
                continue;
            obj = local_key(obj, self, base);
            vfile_t *f = NULL;
            for (size_t k = 0; k < nfiles && !f; k++)
                if (!files[k].is_digest && !strcmp(files[k].rel, obj))
                    f = &files[k];
            if (!f) {
                report(cb, ud, sum, "log", obj, "missing", "listed in a digest, not in the folder");
                continue;
            }
            f->covered = 1;
            char path[PATH_MAX * 2], *data, hex[65];
            size_t len;
            char e2[TK_ERRLEN];
            snprintf(path, sizeof path, "%s/%s", root, obj);
            uint8_t h[32];
            if (tk_fs_read_all(path, &data, &len, e2)) {
                report(cb, ud, sum, "log", obj, "missing", e2);
                continue;
            }
            tk_sha256(data, len, h);
            free(data);
            tk_hex(h, 32, hex);
            report(cb, ud, sum, "log", obj, strcmp(hex, hv) ? "modified" : "valid",
                   strcmp(hex, hv) ? "SHA-256 differs from the digest's" : "");
        }
    }
    for (size_t i = 0; !rc && i < nfiles; i++)
        if (!files[i].is_digest && !files[i].covered)
            report(cb, ud, sum, "log", files[i].rel, "not-covered",
                   "no digest lists it (forged, or delivered after the last digest)");
    sum->digests = ndg;
    sum->chain_intact = chain_ok && ndg > 0;
    for (size_t i = 0; i < ndg; i++) {
        free(dg[i].json);
        cJSON_Delete(dg[i].doc);
    }
    free(dg);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i].rel);
    free(files);
    memset(&g_walk, 0, sizeof g_walk);
    pthread_mutex_unlock(&walk_mu);
    EVP_PKEY_free(pub);
    return rc;
}

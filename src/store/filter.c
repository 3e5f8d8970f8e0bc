/* trailkeep store: the per-segment term filter (format.h SEC_FILTER), a
 * blocked Bloom filter over every (attribute, term) and every eventId of a
 * segment. It is kept in memory with the footer, so a lookup skips a segment
 * that cannot hold its term without loading that segment's index (rare values
 * over long windows touched every segment's index before), and the append
 * dedup skips sealed segments that cannot hold an eventId (it searched every
 * sealed segment of the day per event: quadratic in a day's size). */
#include "store/store_internal.h"

#include "base/hash.h"

#include <stdlib.h>
#include <string.h>

/* splitmix64's finalizer: spreads xxh3 bits again for the second index */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

uint64_t segfilter_key_h(tk_attr_t attr, uint64_t h)
{
    return mix64(h ^ ((uint64_t)attr + 1) * 0x9E3779B97F4A7C15ull);
}

uint64_t segfilter_key(tk_attr_t attr, const void *p, size_t len)
{
    return segfilter_key_h(attr, tk_hash64(p, len));
}

/* One 512-bit block per key (one cache line), SEGF_PROBES bits inside it. */
static void probe(uint64_t key, uint32_t nblk, uint32_t *blk, uint16_t bits[SEGF_PROBES])
{
    *blk = (uint32_t)(((key >> 32) * (uint64_t)nblk) >> 32);
    uint64_t g = mix64(key ^ 0x5851f42d4c957f2dull);
    for (int i = 0; i < SEGF_PROBES; i++)
        bits[i] = (uint16_t)((g >> (9 * i)) & 511u);
}

int segfilter_build(tk_buf_t *out, const uint64_t *keys, size_t n)
{
    uint64_t nblk = ((uint64_t)n * SEGF_BITS_PER_KEY + 511) / 512;
    if (nblk == 0)
        nblk = 1;
    if (nblk > UINT32_MAX / SEGF_BLOCK)
        nblk = UINT32_MAX / SEGF_BLOCK;
    size_t bytes = 1 + (size_t)nblk * SEGF_BLOCK;
    if (tk_buf_reserve(out, bytes))
        return TK_ENOMEM;
    uint8_t *f = (uint8_t *)out->p + out->len;
    memset(f, 0, bytes);
    f[0] = SEGF_PROBES;
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        uint16_t bits[SEGF_PROBES];
        probe(keys[i], (uint32_t)nblk, &b, bits);
        uint8_t *blk = f + 1 + (size_t)b * SEGF_BLOCK;
        for (int j = 0; j < SEGF_PROBES; j++)
            blk[bits[j] >> 3] |= (uint8_t)(1u << (bits[j] & 7));
    }
    out->len += bytes;
    return 0;
}

int segfilter_valid(const uint8_t *f, size_t len)
{
    return len >= 1 + SEGF_BLOCK && (len - 1) % SEGF_BLOCK == 0 && f[0] == SEGF_PROBES;
}

int segfilter_may_have(const uint8_t *f, size_t len, uint64_t key)
{
    if (!f)
        return 1;
    uint32_t nblk = (uint32_t)((len - 1) / SEGF_BLOCK), b;
    uint16_t bits[SEGF_PROBES];
    probe(key, nblk, &b, bits);
    const uint8_t *blk = f + 1 + (size_t)b * SEGF_BLOCK;
    for (int j = 0; j < SEGF_PROBES; j++)
        if (!(blk[bits[j] >> 3] & (1u << (bits[j] & 7))))
            return 0;
    return 1;
}

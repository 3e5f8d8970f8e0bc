/* libFuzzer target: NextTokens (src/query/token.c: base64url, signed
 * LookupEvents tokens) and the resource-history token (src/http/params.c).
 * Invariants: base64url decoding accepts one spelling per value (decode
 * then encode gives the input back); a token decodes only if it is exactly
 * what encode would issue; tokens built from the input round trip field by
 * field, and any one-character change is refused; a history token verifies
 * only for the account, type and name it was issued for. */
#include "base/tk.h"
#include "fuzz_common.h"
#include "http/http_internal.h"
#include "query/token_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t KEY[32] = "fuzz-token-key-0123456789abcdef";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fz_strndup(data, size);
    size_t n = strlen(s);
    /* base64url */
    uint8_t *raw = malloc(n + 4);
    long got = tk_b64url_decode(s, n, raw, n + 4);
    if (got >= 0) {
        char *back = malloc(n + 8);
        size_t bl = tk_b64url_encode(raw, (size_t)got, back);
        FZ_ASSERT(bl == n && !memcmp(back, s, n), "base64url '%s' re-encodes as '%s'", s, back);
        free(back);
    }
    free(raw);
    /* the input as a NextToken */
    tk_token_t t;
    char msg[200];
    if (tk_token_decode(s, KEY, &t, msg, sizeof msg) == 0) {
        char again[200];
        tk_token_encode(&t, KEY, again);
        FZ_ASSERT(!strcmp(again, s), "token '%s' accepted but re-issues as '%s'", s, again);
    }
    /* a token built from the input */
    if (size >= 1 + 16 + 16 + 32) {
        tk_token_t a;
        memset(&a, 0, sizeof a);
        a.flags = data[0];
        memcpy(a.account_hash, data + 1, 16);
        memcpy(a.query_hash, data + 17, 16);
        memcpy(&a.start_ms, data + 33, 8);
        memcpy(&a.end_ms, data + 41, 8);
        memcpy(&a.cursor_time_ms, data + 49, 8);
        memcpy(&a.cursor_seq, data + 57, 8);
        char tok[200];
        size_t tl = tk_token_encode(&a, KEY, tok);
        FZ_ASSERT(tl < 160 && tl == strlen(tok), "token length %zu", tl);
        tk_token_t b;
        FZ_ASSERT(tk_token_decode(tok, KEY, &b, msg, sizeof msg) == 0, "own token refused: %s", msg);
        FZ_ASSERT(b.flags == a.flags && !memcmp(b.account_hash, a.account_hash, 16) &&
                      !memcmp(b.query_hash, a.query_hash, 16) && b.start_ms == a.start_ms &&
                      b.end_ms == a.end_ms && b.cursor_time_ms == a.cursor_time_ms &&
                      b.cursor_seq == a.cursor_seq,
                  "token fields changed in a round trip");
        size_t pos = data[size - 1] % tl;
        char c = tok[pos];
        tok[pos] = (char)(size > 65 ? data[65] : 'A');
        if (tok[pos] && tok[pos] != c)
            FZ_ASSERT(tk_token_decode(tok, KEY, &b, msg, sizeof msg) != 0, "tampered token accepted (pos %zu)", pos);
        tok[pos] = c;
        uint8_t other[32];
        memcpy(other, KEY, 32);
        other[data[1] & 31] ^= (uint8_t)(1 + (data[2] % 255));
        FZ_ASSERT(tk_token_decode(tok, other, &b, msg, sizeof msg) != 0, "token accepted under another key");
    }
    /* history tokens: the input as a token, then one made from the input */
    int64_t tm;
    uint64_t seq;
    if (tk_history_token_parse(KEY, "1234", "ACS::ECS::Instance", "i-1", s, &tm, &seq) == 0) {
        char again[160];
        tk_history_token_make(KEY, "1234", "ACS::ECS::Instance", "i-1", tm, seq, again);
        FZ_ASSERT(!strncmp(again, s, 3) && !strcmp(strrchr(again, '.'), strrchr(s, '.')),
                  "history token '%s' accepted, issues as '%s'", s, again);
    }
    if (size >= 16) {
        int64_t t0;
        uint64_t q0;
        memcpy(&t0, data, 8);
        memcpy(&q0, data + 8, 8);
        const uint8_t *rest = data + 16;
        size_t rn = size - 16;
        char *acct, *type, *name;
        fz_split(&rest, &rn, '|', &acct);
        fz_split(&rest, &rn, '|', &type);
        name = fz_strndup(rest, rn);
        char tok[160];
        tk_history_token_make(KEY, acct, type, name, t0, q0, tok);
        int64_t t1;
        uint64_t q1;
        FZ_ASSERT(tk_history_token_parse(KEY, acct, type, name, tok, &t1, &q1) == 0 && t1 == t0 && q1 == q0,
                  "history token '%s' does not round trip", tok);
        char *acct2 = malloc(strlen(acct) + 2);
        strcpy(acct2, acct);
        strcat(acct2, "x");
        FZ_ASSERT(tk_history_token_parse(KEY, acct2, type, name, tok, &t1, &q1) != 0,
                  "history token accepted for another account");
        FZ_ASSERT(tk_history_token_parse(KEY, type, acct, name, tok, &t1, &q1) != 0 || !strcmp(acct, type),
                  "history token accepted with account and type swapped");
        free(acct2);
        free(acct);
        free(type);
        free(name);
    }
    free(s);
    return 0;
}

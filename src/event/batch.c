/* trailkeep event batch: the arena that holds parsed events, their strings
 * and index terms, plus the reject list and the reusable simdjson parser.
 * Invariant: every pointer in a tk_event_t of the batch points into the
 * arena, whose chunks never move, so growing the event array is safe. */
#include "event/event_internal.h"

#include "base/tk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK (1u << 20)

void *tk_arena_alloc_slow(tk_arena_t *a, size_t n)
{
    tk_arena_chunk_t *c = a->cur;
    while (c && c->cap - c->used < n) {
        /* Reuse later chunks kept by a reset before allocating. */
        c = c->next;
        if (c)
            c->used = 0;
    }
    if (!c) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = NULL;
        if (a->cur) {
            /* Append after the current chunk's successors (all exhausted). */
            tk_arena_chunk_t *t = a->cur;
            while (t->next)
                t = t->next;
            t->next = c;
        } else {
            a->head = c;
        }
    }
    a->cur = c;
    void *r = (char *)c->data + c->used;
    c->used += n;
    return r;
}

void tk_arena_reset(tk_arena_t *a)
{
    a->cur = a->head;
    if (a->head)
        a->head->used = 0;
}

void tk_arena_free(tk_arena_t *a)
{
    if (!a)
        return;
    tk_arena_chunk_t *c = a->head;
    while (c) {
        tk_arena_chunk_t *n = c->next;
        free(c);
        c = n;
    }
    a->head = a->cur = NULL;
}

tk_batch_t *tk_batch_create(void)
{
    tk_batch_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->jp = tk_jparser_create();
    if (!b->jp) {
        free(b);
        return NULL;
    }
    return b;
}

void tk_batch_destroy(tk_batch_t *b)
{
    if (!b)
        return;
    tk_arena_free(&b->arena);
    free(b->ev);
    free(b->rej);
    free(b->terms);
    for (int i = 0; i < 4; i++)
        free(b->members[i]);
    tk_buf_free(&b->scratch);
    tk_jparser_destroy(b->jp);
    for (size_t i = 0; i < b->nowned; i++)
        free(b->owned_inputs[i]);
    free(b->owned_inputs);
    free(b);
}

void tk_batch_reset(tk_batch_t *b)
{
    tk_arena_reset(&b->arena);
    for (size_t i = 0; i < b->nowned; i++)
        free(b->owned_inputs[i]);
    b->nowned = 0;
    b->nev = b->nrej = b->seen = 0;
    b->nomem = 0;
}

size_t tk_batch_count(const tk_batch_t *b)
{
    return b->nev;
}

const tk_event_t *tk_batch_events(const tk_batch_t *b)
{
    return b->ev;
}

size_t tk_batch_reject_count(const tk_batch_t *b)
{
    return b->nrej;
}

const tk_reject_t *tk_batch_rejects(const tk_batch_t *b)
{
    return b->rej;
}

size_t tk_batch_seen(const tk_batch_t *b)
{
    return b->seen;
}

size_t tk_batch_footprint(const tk_batch_t *b)
{
    size_t n = b->cap_ev * sizeof *b->ev + b->cap_rej * sizeof *b->rej;
    for (const tk_arena_chunk_t *c = b->arena.head; c; c = c->next)
        n += c->cap;
    return n;
}

void tk_reject_add(tk_pctx_t *c, size_t idx, uint64_t line, const char *code, const char *field,
                   const char *fmt, ...)
{
    tk_batch_t *b = c->b;
    if (b->nrej == b->cap_rej) {
        size_t nc = b->cap_rej ? b->cap_rej * 2 : 16;
        tk_reject_t *r = realloc(b->rej, nc * sizeof *r);
        if (!r) {
            b->nomem = 1;
            return;
        }
        b->rej = r;
        b->cap_rej = nc;
    }
    tk_reject_t *r = &b->rej[b->nrej++];
    r->index = idx;
    r->line = line;
    r->code = code;
    snprintf(r->field, sizeof r->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

tk_jmember_t *tk_batch_members(tk_batch_t *b, int slot, tk_jv_t obj, size_t *n)
{
    if (!b->members[slot]) {
        b->cap_members[slot] = 64;
        b->members[slot] = malloc(64 * sizeof(tk_jmember_t));
        if (!b->members[slot])
            return NULL;
    }
    size_t k = tk_jobject(obj, b->members[slot], b->cap_members[slot]);
    if (k > b->cap_members[slot]) {
        tk_jmember_t *m = realloc(b->members[slot], k * sizeof *m);
        if (!m)
            return NULL;
        b->members[slot] = m;
        b->cap_members[slot] = k;
        tk_jobject(obj, m, k);
    }
    *n = k;
    return b->members[slot];
}

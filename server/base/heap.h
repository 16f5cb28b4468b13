/* heap: the server's one priority queue — a binary min-heap of nodes the caller embeds in
 * its own structs (as the kernel's rbtree nodes are embedded), ordered by a 64-bit key.
 *
 * A node knows its place, so removing or re-keying any node costs O(log n), not a search.
 * The heap holds pointers only; the caller owns the nodes and must remove one before
 * freeing it. Its array grows by doubling up to a limit the caller names; allocation
 * failure is a return value, the heap then unchanged. Not thread-safe. */
#ifndef HOOKGATE_HEAP_H
#define HOOKGATE_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define HEAP_NOT_IN ((size_t)-1) /* a node's pos while it is in no heap */

typedef struct heap_node {
    int64_t key; /* smaller comes first; ties in no particular order */
    size_t pos;  /* private: its index, or HEAP_NOT_IN */
} heap_node;

typedef struct heap {
    heap_node **items;
    size_t count, cap, limit;
} heap;

/* An empty heap of at most limit nodes (>= 1). Allocates nothing yet. */
void heap_init(heap *h, size_t limit);

/* Frees the array; the nodes stay the caller's (their pos is left as it was). */
void heap_destroy(heap *h);

/* Sets a node up as in no heap (call once before its first push). */
static inline void heap_node_init(heap_node *n)
{
    n->key = 0;
    n->pos = HEAP_NOT_IN;
}

static inline int heap_node_in(const heap_node *n)
{
    return n->pos != HEAP_NOT_IN;
}

/* Adds n (in no heap) with n->key. Returns 0, or -1 (out of memory, or `limit` nodes held:
 * nothing changed). */
int heap_push(heap *h, heap_node *n);

/* Makes room for n more nodes, so that the next n pushes cannot fail. Returns 0, or -1
 * (out of memory, or past `limit`: nothing changed). */
int heap_reserve(heap *h, size_t n);

/* The smallest node, or NULL when empty. */
static inline heap_node *heap_top(const heap *h)
{
    return h->count > 0 ? h->items[0] : NULL;
}

/* Removes n (which must be in h). */
void heap_remove(heap *h, heap_node *n);

/* Gives n (in h) a new key and restores the order. */
void heap_rekey(heap *h, heap_node *n, int64_t key);

static inline size_t heap_count(const heap *h)
{
    return h->count;
}

/* Checks the heap property and every node's pos (HG_ASSERT): for tests, O(n). */
void heap_verify(const heap *h);

#endif

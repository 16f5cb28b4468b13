/* heap: see heap.h. */
#include "heap.h"

#include <stdlib.h>

#include "hg_assert.h"

#define HEAP_FIRST_CAP 16

void heap_init(heap *h, size_t limit)
{
    HG_ASSERT(limit >= 1);
    *h = (heap){.limit = limit};
}

void heap_destroy(heap *h)
{
    free(h->items);
    h->items = NULL;
    h->count = h->cap = 0;
}

static void place(heap *h, size_t i, heap_node *n)
{
    h->items[i] = n;
    n->pos = i;
}

static void sift_up(heap *h, size_t i)
{
    heap_node *n = h->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->items[parent]->key <= n->key)
            break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, n);
}

static void sift_down(heap *h, size_t i)
{
    heap_node *n = h->items[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->count)
            break;
        if (child + 1 < h->count && h->items[child + 1]->key < h->items[child]->key)
            child++;
        if (n->key <= h->items[child]->key)
            break;
        place(h, i, h->items[child]);
        i = child;
    }
    place(h, i, n);
}

int heap_reserve(heap *h, size_t n)
{
    if (n > h->limit - h->count)
        return -1;
    if (h->count + n <= h->cap)
        return 0;
    size_t cap = h->cap == 0 ? HEAP_FIRST_CAP : h->cap;
    while (cap < h->count + n)
        cap *= 2;
    if (cap > h->limit)
        cap = h->limit;
    heap_node **items = realloc(h->items, cap * sizeof(*items));
    if (items == NULL)
        return -1;
    h->items = items;
    h->cap = cap;
    return 0;
}

int heap_push(heap *h, heap_node *n)
{
    HG_ASSERT(n->pos == HEAP_NOT_IN);
    if (heap_reserve(h, 1) != 0)
        return -1;
    place(h, h->count++, n);
    sift_up(h, n->pos);
    return 0;
}

void heap_remove(heap *h, heap_node *n)
{
    HG_ASSERT(n->pos < h->count && h->items[n->pos] == n);
    size_t i = n->pos;
    n->pos = HEAP_NOT_IN;
    heap_node *last = h->items[--h->count];
    if (last == n)
        return;
    place(h, i, last);
    sift_up(h, i);
    sift_down(h, last->pos);
}

void heap_rekey(heap *h, heap_node *n, int64_t key)
{
    HG_ASSERT(n->pos < h->count && h->items[n->pos] == n);
    n->key = key;
    sift_up(h, n->pos);
    sift_down(h, n->pos);
}

void heap_verify(const heap *h)
{
    HG_ASSERT(h->count <= h->cap && h->cap <= h->limit);
    for (size_t i = 0; i < h->count; i++) {
        HG_ASSERT(h->items[i]->pos == i);
        if (i > 0)
            HG_ASSERT(h->items[(i - 1) / 2]->key <= h->items[i]->key);
    }
}

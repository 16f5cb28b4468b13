/* test_heap: push and pop in key order against a sorted copy, removal and re-keying of
 * nodes anywhere in the heap (checked against a brute-force minimum), the size limit, and
 * an out-of-memory loop over growth. */
#include "heap.h"
#include "oom.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

#define N 2000

typedef struct item {
    heap_node node;
    int in;
} item;

static uint64_t rng = 88172645463325252ull;
static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int compare_keys(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_order(void)
{
    static item items[N];
    static int64_t keys[N];
    heap h;
    heap_init(&h, N);
    CHECK(heap_top(&h) == NULL);
    for (size_t i = 0; i < N; i++) {
        heap_node_init(&items[i].node);
        items[i].node.key = keys[i] = (int64_t)(next_random() % 500) - 250; /* ties too */
        CHECK(heap_push(&h, &items[i].node) == 0);
    }
    heap_verify(&h);
    CHECK(heap_count(&h) == N);
    qsort(keys, N, sizeof(keys[0]), compare_keys);
    for (size_t i = 0; i < N; i++) {
        heap_node *top = heap_top(&h);
        CHECK(top != NULL && top->key == keys[i]);
        heap_remove(&h, top);
        CHECK(!heap_node_in(top));
    }
    CHECK(heap_count(&h) == 0);
    heap_destroy(&h);
}

/* Removes and re-keys nodes at random places; the top is always the true minimum. */
static void test_remove_rekey(void)
{
    static item items[N];
    heap h;
    heap_init(&h, N);
    for (size_t i = 0; i < N; i++) {
        heap_node_init(&items[i].node);
        items[i].node.key = (int64_t)(next_random() % 100000);
        CHECK(heap_push(&h, &items[i].node) == 0);
        items[i].in = 1;
    }
    for (int round = 0; round < 20000; round++) {
        item *it = &items[next_random() % N];
        switch (next_random() % 3) {
        case 0:
            if (it->in) {
                heap_remove(&h, &it->node);
                it->in = 0;
            } else {
                it->node.key = (int64_t)(next_random() % 100000);
                CHECK(heap_push(&h, &it->node) == 0);
                it->in = 1;
            }
            break;
        default:
            if (it->in)
                heap_rekey(&h, &it->node, (int64_t)(next_random() % 100000) - 50000);
            break;
        }
        if (round % 997 == 0) {
            heap_verify(&h);
            int64_t min = INT64_MAX;
            size_t in = 0;
            for (size_t i = 0; i < N; i++)
                if (items[i].in) {
                    in++;
                    min = items[i].node.key < min ? items[i].node.key : min;
                }
            CHECK(heap_count(&h) == in);
            CHECK(in == 0 || heap_top(&h)->key == min);
        }
    }
    heap_destroy(&h);
}

static void test_limit(void)
{
    item items[3];
    heap h;
    heap_init(&h, 2);
    for (int i = 0; i < 3; i++) {
        heap_node_init(&items[i].node);
        items[i].node.key = i;
    }
    CHECK(heap_push(&h, &items[0].node) == 0);
    CHECK(heap_push(&h, &items[1].node) == 0);
    CHECK(heap_push(&h, &items[2].node) == -1);
    CHECK(!heap_node_in(&items[2].node));
    CHECK(heap_count(&h) == 2);
    heap_verify(&h);
    heap_destroy(&h);
}

typedef struct oom_ctx {
    heap h;
    item items[100];
    size_t pushed;
} oom_ctx;

static void oom_setup(void *p)
{
    oom_ctx *c = p;
    heap_init(&c->h, 1000);
    c->pushed = 0;
    for (size_t i = 0; i < 100; i++) {
        heap_node_init(&c->items[i].node);
        c->items[i].node.key = 100 - (int64_t)i;
    }
}

static int oom_run(void *p)
{
    oom_ctx *c = p;
    for (; c->pushed < 100; c->pushed++)
        if (heap_push(&c->h, &c->items[c->pushed].node) != 0)
            return -1;
    return 0;
}

static void oom_check(void *p, int ok)
{
    oom_ctx *c = p;
    heap_verify(&c->h);
    CHECK(heap_count(&c->h) == c->pushed);
    CHECK(!ok || c->pushed == 100);
    if (c->pushed < 100)
        CHECK(!heap_node_in(&c->items[c->pushed].node));
}

static void oom_teardown(void *p)
{
    heap_destroy(&((oom_ctx *)p)->h);
}

static void test_out_of_memory(void)
{
    static oom_ctx ctx;
    CHECK(oom_loop(&(oom_op){"heap growth", &ctx, oom_setup, oom_run, oom_check, oom_teardown}) == 0);
}

int main(void)
{
    test_order();
    test_remove_rekey();
    test_limit();
    test_out_of_memory();
    return test_exit_code();
}

/* store_ops: the in-memory store's insert and lookup cost, without HTTP: a benchmark that
 * prints figures, not a test.
 *
 * Inserts N webhooks (default 1,000,000) with real ids (one second's worth of
 * objectid_make, as a busy server makes them) into one ecosystem of 16, one in 8 with an
 * idempotency digest, then looks each up by id, each digest by digest, and as many absent
 * ids. Prints wall time per phase. Instruction counts come from running it under callgrind
 * (the inclusive cost of store_insert / store_get / store_get_idempotent):
 *
 *   cc -O2 -g -Iserver/base -Iserver/store tests/bench/store_ops.c build/libhookgate_store.a \
 *      build/libhookgate_base.a -lcrypto -lpthread -o build/store_ops
 *   build/store_ops 1000000
 *   valgrind --tool=callgrind --callgrind-out-file=build/store_ops.cg build/store_ops 1000000
 *   callgrind_annotate --inclusive=yes build/store_ops.cg | grep -E 'store_(insert|get)'
 */
#include "objectid.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    if (n == 0 || objectid_init() != 0)
        return 2;
    objectid *ids = malloc(n * sizeof(*ids));
    store *s = store_create();
    if (ids == NULL || s == NULL)
        return 2;
    for (size_t i = 0; i < n; i++)
        ids[i] = objectid_make(1764547200u);
    char ecos[16][32];
    for (unsigned k = 0; k < 16; k++)
        snprintf(ecos[k], sizeof ecos[k], "C%024x", k + 1);

    error err;
    error_clear(&err);
    uint8_t digest[STORE_IDEMPOTENCY_LEN] = {0};
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        store_webhook w = {.id = ids[i],
                           .created_ms = (int64_t)i,
                           .ecosystem_id = ecos[i % 16],
                           .url = "https://example.com/hooks/bench",
                           .secret = "",
                           .description = "benchmark webhook"};
        if (i % 8 == 0) {
            uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull; /* a stand-in for SHA-256 output */
            memcpy(digest, &x, sizeof x);
            w.idempotency = digest;
        }
        if (store_insert(s, &w, &err) == NULL) {
            fprintf(stderr, "insert %zu: %s\n", i, err.reason);
            return 1;
        }
    }
    double t1 = now_s();
    size_t found = 0;
    for (size_t i = 0; i < n; i++)
        found += store_get(s, &ids[i]) != NULL;
    double t2 = now_s();
    for (size_t i = 0; i < n; i += 8) {
        uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull;
        memcpy(digest, &x, sizeof x);
        found += store_get_idempotent(s, digest) != NULL;
    }
    double t3 = now_s();
    for (size_t i = 0; i < n; i++) {
        objectid absent = ids[i];
        absent.bytes[4] ^= 0x80; /* another process's random part: never stored */
        found += store_get(s, &absent) != NULL;
    }
    double t4 = now_s();
    size_t want = n + (n + 7) / 8;
    printf("%zu records: insert %.1f ns, get %.1f ns, get_idempotent %.1f ns, get absent %.1f ns (found %zu of %zu)\n",
           n, (t1 - t0) * 1e9 / (double)n, (t2 - t1) * 1e9 / (double)n, (t3 - t2) * 1e9 / (double)((n + 7) / 8),
           (t4 - t3) * 1e9 / (double)n, found, want);
    store_destroy(s);
    free(ids);
    return found == want ? 0 : 1;
}

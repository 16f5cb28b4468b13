/* test_store: insert/get/each, copies of the caller's strings, creation order per ecosystem,
 * pages after a cursor, growth past the initial tables, duplicate ids, early stop,
 * concurrent inserts, and updates and deletes (new versions in every index, tombstones, old
 * versions left readable, pages that go on past a deleted record). */
#include "hg_assert.h"
#include "oom.h"
#include "store.h"
#include "test.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* An id whose bytes are all derived from n, so tests know ids without objectid_make. */
static objectid id_of(uint32_t n)
{
    objectid id;
    memset(id.bytes, 0, OBJECTID_LEN);
    id.bytes[0] = 0x5a;
    id.bytes[8] = (uint8_t)(n >> 24);
    id.bytes[9] = (uint8_t)(n >> 16);
    id.bytes[10] = (uint8_t)(n >> 8);
    id.bytes[11] = (uint8_t)n;
    return id;
}

static void eco_name(char out[32], unsigned k)
{
    snprintf(out, 32, "C%024x", k);
}

typedef struct collect {
    const store_webhook *seen[8192];
    size_t n;
    size_t stop_after; /* 0 = never stop */
} collect;

static int collect_visit(const store_webhook *w, void *ctx)
{
    collect *c = ctx;
    if (c->n < sizeof c->seen / sizeof c->seen[0])
        c->seen[c->n] = w;
    c->n++;
    if (c->stop_after != 0 && c->n == c->stop_after)
        return 42;
    return 0;
}

/* Records found by idempotency digest: a copy is kept, the newest of a digest answers, the
 * table grows past its first size and keeps every digest. */
static void test_idempotent(void)
{
    store *s = store_create();
    CHECK(s != NULL);
    if (s == NULL)
        return;
    uint8_t digest[STORE_IDEMPOTENCY_LEN] = {0};
    CHECK(store_get_idempotent(s, digest) == NULL);
    error err;
    error_clear(&err);
    store_webhook w = {.created_ms = 1, .ecosystem_id = "C000000000000000000000001", .url = "http://x",
                       .secret = "", .description = ""};
    /* without a digest: not indexed */
    w.id = id_of(1);
    const store_webhook *plain = store_insert(s, &w, &err);
    CHECK(plain != NULL && plain->idempotency == NULL);
    /* 500 digests (the table starts at 64 slots), each its own record */
    const store_webhook *made[500];
    for (int i = 0; i < 500; i++) {
        memset(digest, 0, sizeof digest);
        memcpy(digest, &i, sizeof i);
        digest[31] = 0xaa;
        w.id = id_of(1000 + (uint32_t)i);
        w.idempotency = digest;
        made[i] = store_insert(s, &w, &err);
        CHECK(made[i] != NULL && made[i]->idempotency != digest);
    }
    for (int i = 0; i < 500; i++) {
        memset(digest, 0, sizeof digest);
        memcpy(digest, &i, sizeof i);
        digest[31] = 0xaa;
        CHECK(store_get_idempotent(s, digest) == made[i]);
    }
    /* the same digest again: the newer record answers for it */
    memset(digest, 0, sizeof digest);
    digest[31] = 0xaa;
    w.id = id_of(5000);
    const store_webhook *newer = store_insert(s, &w, &err);
    CHECK(newer != NULL && newer != made[0]);
    CHECK(store_get_idempotent(s, digest) == newer);
    digest[31] = 0xab;
    CHECK(store_get_idempotent(s, digest) == NULL);
    store_destroy(s);
}

static void test_basic(void)
{
    store *s = store_create();
    CHECK(s != NULL);
    if (s == NULL)
        return;
    CHECK(store_count(s) == 0);
    objectid absent = id_of(7);
    CHECK(store_get(s, &absent) == NULL);
    collect c = {.n = 0};
    CHECK(store_each_in_ecosystem(s, "C000000000000000000000001", collect_visit, &c) == 0);
    CHECK(c.n == 0);

    char eco[32] = "C5a96c3ea0e4c1b0001a0b0c0";
    char url[64] = "https://example.com/hook";
    char secret[32] = "s3cret";
    char desc[32] = "first";
    store_webhook w = {.id = id_of(1), .created_ms = 1519831018941LL, .disabled = 0,
                       .ecosystem_id = eco, .url = url, .secret = secret, .description = desc};
    error err;
    error_clear(&err);
    const store_webhook *r = store_insert(s, &w, &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_NONE);
    if (r == NULL) {
        store_destroy(s);
        return;
    }
    CHECK(memcmp(r->id.bytes, w.id.bytes, OBJECTID_LEN) == 0);
    CHECK(r->created_ms == 1519831018941LL);
    CHECK(r->disabled == 0);
    /* strings are copies: mutating (and overwriting) the source changes nothing */
    CHECK(r->ecosystem_id != eco && r->url != url && r->secret != secret && r->description != desc);
    memset(eco, 'X', sizeof eco - 1);
    memset(url, 'Y', sizeof url - 1);
    memset(secret, 'Z', sizeof secret - 1);
    strcpy(desc, "changed");
    CHECK_STR(r->ecosystem_id, "C5a96c3ea0e4c1b0001a0b0c0");
    CHECK_STR(r->url, "https://example.com/hook");
    CHECK_STR(r->secret, "s3cret");
    CHECK_STR(r->description, "first");
    CHECK(store_count(s) == 1);

    const store_webhook *g = store_get(s, &w.id);
    CHECK(g == r);
    CHECK(store_get(s, &absent) == NULL);

    /* "" for the optional strings, disabled kept */
    store_webhook w2 = {.id = id_of(2), .created_ms = 5, .disabled = 1, .ecosystem_id = "C5a96c3ea0e4c1b0001a0b0c0",
                        .url = "http://x", .secret = "", .description = ""};
    const store_webhook *r2 = store_insert(s, &w2, &err);
    CHECK(r2 != NULL);
    if (r2 != NULL) {
        CHECK_STR(r2->secret, "");
        CHECK_STR(r2->description, "");
        CHECK(r2->disabled == 1);
        CHECK(r2->created_ms == 5);
    }
    CHECK(store_count(s) == 2);

    c.n = 0;
    CHECK(store_each_in_ecosystem(s, "C5a96c3ea0e4c1b0001a0b0c0", collect_visit, &c) == 0);
    CHECK(c.n == 2);
    CHECK(c.seen[0] == r && c.seen[1] == r2);
    /* an ecosystem name is matched whole */
    c.n = 0;
    CHECK(store_each_in_ecosystem(s, "C5a96c3ea0e4c1b0001a0b0c", collect_visit, &c) == 0);
    CHECK(c.n == 0);
    CHECK(store_each_in_ecosystem(s, "", collect_visit, &c) == 0);
    CHECK(c.n == 0);

    /* the record is unchanged after later inserts */
    CHECK_STR(r->url, "https://example.com/hook");
    store_destroy(s);
}

static void test_duplicate(void)
{
    store *s = store_create();
    CHECK(s != NULL);
    if (s == NULL)
        return;
    error err;
    error_clear(&err);
    store_webhook w = {.id = id_of(9), .created_ms = 1, .ecosystem_id = "C000000000000000000000001",
                       .url = "http://a", .secret = "", .description = "a"};
    const store_webhook *first = store_insert(s, &w, &err);
    CHECK(first != NULL);
    store_webhook dup = w;
    dup.ecosystem_id = "C000000000000000000000002"; /* same id, other ecosystem */
    dup.description = "b";
    CHECK(store_insert(s, &dup, &err) == NULL);
    CHECK(err.kind == ERROR_CONFLICT);
    CHECK(err.reason[0] != '\0');
    CHECK(store_count(s) == 1);
    /* the first record is untouched and neither ecosystem gained the duplicate */
    CHECK(store_get(s, &w.id) == first);
    if (first != NULL)
        CHECK_STR(first->description, "a");
    collect c = {.n = 0};
    store_each_in_ecosystem(s, "C000000000000000000000002", collect_visit, &c);
    CHECK(c.n == 0);
    c.n = 0;
    store_each_in_ecosystem(s, "C000000000000000000000001", collect_visit, &c);
    CHECK(c.n == 1);

    /* same id, same ecosystem */
    error_clear(&err);
    CHECK(store_insert(s, &w, &err) == NULL);
    CHECK(err.kind == ERROR_CONFLICT);
    CHECK(store_count(s) == 1);
    c.n = 0;
    store_each_in_ecosystem(s, "C000000000000000000000001", collect_visit, &c);
    CHECK(c.n == 1);
    store_destroy(s);
}

static void test_early_stop(void)
{
    store *s = store_create();
    CHECK(s != NULL);
    if (s == NULL)
        return;
    error err;
    error_clear(&err);
    for (uint32_t i = 0; i < 10; i++) {
        store_webhook w = {.id = id_of(100 + i), .created_ms = i, .ecosystem_id = "C000000000000000000000abc",
                           .url = "http://a", .secret = "", .description = ""};
        CHECK(store_insert(s, &w, &err) != NULL);
    }
    collect c = {.n = 0, .stop_after = 3};
    CHECK(store_each_in_ecosystem(s, "C000000000000000000000abc", collect_visit, &c) == 42);
    CHECK(c.n == 3);
    CHECK(c.seen[2]->created_ms == 2);
    c.n = 0;
    c.stop_after = 10; /* stop on the last: still returned */
    CHECK(store_each_in_ecosystem(s, "C000000000000000000000abc", collect_visit, &c) == 42);
    CHECK(c.n == 10);
    c.n = 0;
    c.stop_after = 11; /* never reached: 0 */
    CHECK(store_each_in_ecosystem(s, "C000000000000000000000abc", collect_visit, &c) == 0);
    CHECK(c.n == 10);
    store_destroy(s);
}

#define N_GROW 5000
#define N_ECOS 100

static void test_growth(void)
{
    store *s = store_create();
    CHECK(s != NULL);
    if (s == NULL)
        return;
    error err;
    error_clear(&err);
    const store_webhook **recs = calloc(N_GROW, sizeof *recs);
    CHECK(recs != NULL);
    if (recs == NULL) {
        store_destroy(s);
        return;
    }
    int all_ok = 1;
    for (uint32_t i = 0; i < N_GROW; i++) {
        char eco[32], url[64], desc[32];
        eco_name(eco, i % N_ECOS);
        snprintf(url, sizeof url, "https://h%u.example/x", i);
        snprintf(desc, sizeof desc, "d%u", i);
        store_webhook w = {.id = id_of(i), .created_ms = i, .ecosystem_id = eco, .url = url, .secret = "",
                           .description = desc};
        recs[i] = store_insert(s, &w, &err);
        if (recs[i] == NULL)
            all_ok = 0;
        /* while the id table grows (its old half still being moved), lookups and the
         * duplicate check see both halves */
        objectid half = id_of(i / 2), just = id_of(i);
        if (store_get(s, &half) != recs[i / 2] || store_get(s, &just) != recs[i])
            all_ok = 0;
        if (i % 97 == 0) {
            error dup_err;
            error_clear(&dup_err);
            w.id = id_of(i / 3);
            if (store_insert(s, &w, &dup_err) != NULL || dup_err.kind != ERROR_CONFLICT)
                all_ok = 0;
        }
    }
    CHECK(all_ok);
    CHECK(err.kind == ERROR_NONE);
    CHECK(store_count(s) == N_GROW);

    /* every record found by id, the same pointer, contents intact after the tables grew */
    int get_ok = 1;
    for (uint32_t i = 0; i < N_GROW; i++) {
        objectid id = id_of(i);
        const store_webhook *g = store_get(s, &id);
        char desc[32], eco[32];
        snprintf(desc, sizeof desc, "d%u", i);
        eco_name(eco, i % N_ECOS);
        if (g == NULL || g != recs[i] || strcmp(g->description, desc) != 0 || strcmp(g->ecosystem_id, eco) != 0 ||
            g->created_ms != (int64_t)i)
            get_ok = 0;
    }
    CHECK(get_ok);
    objectid absent = id_of(N_GROW);
    CHECK(store_get(s, &absent) == NULL);

    /* each ecosystem holds its 50, oldest first */
    int each_ok = 1;
    for (unsigned k = 0; k < N_ECOS; k++) {
        char eco[32];
        eco_name(eco, k);
        collect *c = calloc(1, sizeof *c);
        if (c == NULL) {
            each_ok = 0;
            break;
        }
        if (store_each_in_ecosystem(s, eco, collect_visit, c) != 0 || c->n != N_GROW / N_ECOS)
            each_ok = 0;
        for (size_t j = 0; j < c->n && j < N_GROW / N_ECOS; j++)
            if (c->seen[j] != recs[k + j * N_ECOS])
                each_ok = 0;
        free(c);
    }
    CHECK(each_ok);
    collect c = {.n = 0};
    char other[32];
    eco_name(other, N_ECOS);
    CHECK(store_each_in_ecosystem(s, other, collect_visit, &c) == 0);
    CHECK(c.n == 0);
    free(recs);
    store_destroy(s);
}

#define T_THREADS 4
#define T_PER 25000

typedef struct thread_arg {
    store *s;
    unsigned t;
    int failures;
} thread_arg;

static void *insert_many(void *p)
{
    thread_arg *a = p;
    for (uint32_t i = 0; i < T_PER; i++) {
        char eco[32], desc[32];
        /* each thread writes its own ecosystem and a shared one */
        eco_name(eco, (i % 2) ? 1000 + a->t : 999);
        snprintf(desc, sizeof desc, "t%u-%u", a->t, i);
        error err;
        error_clear(&err);
        store_webhook w = {.id = id_of(a->t * 1000000u + i), .created_ms = i, .ecosystem_id = eco, .url = "http://x",
                           .secret = "", .description = desc};
        const store_webhook *r = store_insert(a->s, &w, &err);
        if (r == NULL || strcmp(r->description, desc) != 0)
            a->failures++;
        /* readers run alongside writers */
        if (store_get(a->s, &w.id) != r)
            a->failures++;
        (void)store_count(a->s);
    }
    return NULL;
}

static int order_visit(const store_webhook *w, void *ctx)
{
    /* within one thread's ecosystem, records come in that thread's insertion order */
    int64_t *last = ctx;
    if (w->created_ms <= *last)
        return 1;
    *last = w->created_ms;
    return 0;
}

static void test_threads(void)
{
    store *s = store_create();
    CHECK(s != NULL);
    if (s == NULL)
        return;
    pthread_t th[T_THREADS];
    thread_arg args[T_THREADS];
    int started = 0;
    for (unsigned t = 0; t < T_THREADS; t++) {
        args[t] = (thread_arg){s, t, 0};
        if (pthread_create(&th[t], NULL, insert_many, &args[t]) == 0)
            started++;
    }
    CHECK(started == T_THREADS);
    for (int t = 0; t < started; t++) {
        pthread_join(th[t], NULL);
        CHECK(args[t].failures == 0);
    }
    CHECK(store_count(s) == (size_t)T_THREADS * T_PER);
    collect *c = calloc(1, sizeof *c);
    CHECK(c != NULL);
    if (c != NULL) {
        char eco[32];
        eco_name(eco, 999);
        store_each_in_ecosystem(s, eco, collect_visit, c);
        CHECK(c->n == (size_t)T_THREADS * T_PER / 2);
        for (unsigned t = 0; t < T_THREADS; t++) {
            c->n = 0;
            eco_name(eco, 1000 + t);
            store_each_in_ecosystem(s, eco, collect_visit, c);
            CHECK(c->n == T_PER / 2);
            int64_t last = -1;
            CHECK(store_each_in_ecosystem(s, eco, order_visit, &last) == 0);
        }
        free(c);
    }
    store_destroy(s);
}

/* Out of memory, SQLite's way. The insert under test lands where every table of the store
 * grows at once (ids past 3/4 of 1024 slots, a 49th ecosystem and a 49th digest past 3/4 of
 * 64, a new ecosystem's first item list), so each of those allocations fails in some round.
 * A failed insert reports ERROR_INTERNAL and leaves no trace: not by id, digest, ecosystem
 * or count; and the store takes the same insert afterwards. */
#define OOM_PREFILL 768
#define OOM_PREFILL_ECOS 48

typedef struct store_oom {
    store *s;
    char ecos[OOM_PREFILL_ECOS + 1][32];
    uint8_t digests[OOM_PREFILL_ECOS + 1][STORE_IDEMPOTENCY_LEN];
    store_webhook w;       /* the insert under test */
    store_webhook *record; /* store_record_new's result */
    error err;
} store_oom;

static store_webhook oom_webhook(store_oom *o, uint32_t n, unsigned eco)
{
    store_webhook w = {.id = id_of(n),
                       .created_ms = 1519831018941LL + n,
                       .ecosystem_id = o->ecos[eco],
                       .url = "https://example.com/hook",
                       .secret = "s3cret",
                       .description = "d",
                       .idempotency = n < OOM_PREFILL_ECOS || n == OOM_PREFILL ? o->digests[eco] : NULL};
    return w;
}

static void store_oom_setup(void *ctx)
{
    store_oom *o = ctx;
    o->s = store_create();
    HG_ASSERT(o->s != NULL);
    for (uint32_t n = 0; n < OOM_PREFILL; n++) {
        store_webhook w = oom_webhook(o, n, n % OOM_PREFILL_ECOS);
        HG_ASSERT(store_insert(o->s, &w, &o->err) != NULL);
    }
    o->w = oom_webhook(o, OOM_PREFILL, OOM_PREFILL_ECOS);
    error_clear(&o->err);
}

static int store_oom_insert(void *ctx)
{
    store_oom *o = ctx;
    return store_insert(o->s, &o->w, &o->err) != NULL ? 0 : -1;
}

static int count_visit(const store_webhook *w, void *ctx)
{
    (void)w;
    (*(size_t *)ctx)++;
    return 0;
}

static void store_oom_check(void *ctx, int ok)
{
    store_oom *o = ctx;
    const store_webhook *got = store_get(o->s, &o->w.id);
    size_t in_eco = 0;
    store_each_in_ecosystem(o->s, o->w.ecosystem_id, count_visit, &in_eco);
    if (!ok) {
        CHECK(o->err.kind == ERROR_INTERNAL);
        CHECK(got == NULL);
        CHECK(store_count(o->s) == OOM_PREFILL);
        CHECK(store_get_idempotent(o->s, o->w.idempotency) == NULL);
        CHECK(in_eco == 0);
        error_clear(&o->err);
        got = store_insert(o->s, &o->w, &o->err); /* not wedged: the same insert goes in */
        in_eco = 0;
        store_each_in_ecosystem(o->s, o->w.ecosystem_id, count_visit, &in_eco);
    }
    CHECK(got != NULL && memcmp(got->id.bytes, o->w.id.bytes, OBJECTID_LEN) == 0);
    CHECK(store_count(o->s) == OOM_PREFILL + 1);
    CHECK(store_get_idempotent(o->s, o->w.idempotency) == got);
    CHECK(in_eco == 1);
    for (uint32_t n = 0; n < OOM_PREFILL; n += 97) { /* the old records, through the grown tables */
        objectid id = id_of(n);
        const store_webhook *old = store_get(o->s, &id);
        CHECK(old != NULL && old->created_ms == 1519831018941LL + n);
    }
    CHECK(store_get_idempotent(o->s, o->digests[5]) != NULL);
}

static void store_oom_teardown(void *ctx)
{
    store_oom *o = ctx;
    store_destroy(o->s);
    o->s = NULL;
    store_record_free(o->record);
    o->record = NULL;
}

static int store_oom_create(void *ctx)
{
    store_oom *o = ctx;
    o->s = store_create();
    return o->s != NULL ? 0 : -1;
}

static int store_oom_record_new(void *ctx)
{
    store_oom *o = ctx;
    o->record = store_record_new(&o->w);
    return o->record != NULL ? 0 : -1;
}

static void store_oom_record_check(void *ctx, int ok)
{
    store_oom *o = ctx;
    if (!ok) {
        CHECK(o->record == NULL);
        return;
    }
    CHECK(o->record != NULL && o->record->url != o->w.url);
    if (o->record != NULL) {
        CHECK_STR(o->record->url, o->w.url);
        CHECK_STR(o->record->ecosystem_id, o->w.ecosystem_id);
        CHECK(memcmp(o->record->idempotency, o->w.idempotency, STORE_IDEMPOTENCY_LEN) == 0);
    }
}

static void test_out_of_memory(void)
{
    static store_oom o; /* large; and the loop keeps it across rounds */
    for (unsigned k = 0; k <= OOM_PREFILL_ECOS; k++) {
        snprintf(o.ecos[k], sizeof o.ecos[k], "C%024x", 0xe00 + k);
        memset(o.digests[k], (int)k + 1, STORE_IDEMPOTENCY_LEN);
    }
    oom_op insert = {"store_insert (every table growing)",
                     &o,
                     store_oom_setup,
                     store_oom_insert,
                     store_oom_check,
                     store_oom_teardown};
    CHECK(oom_loop(&insert) == 0);
    CHECK(oom_loop_persistent(&insert) == 0);

    oom_op create = {"store_create", &o, NULL, store_oom_create, NULL, store_oom_teardown};
    CHECK(oom_loop(&create) == 0);
    CHECK(oom_loop_persistent(&create) == 0);

    o.w = oom_webhook(&o, OOM_PREFILL, 3);
    oom_op record = {"store_record_new", &o, NULL, store_oom_record_new, store_oom_record_check, store_oom_teardown};
    CHECK(oom_loop(&record) == 0);
    CHECK(oom_loop_persistent(&record) == 0);
}

static const store_webhook *insert_n(store *s, const char *eco, uint32_t n)
{
    error err;
    error_clear(&err);
    store_webhook w = {.id = id_of(n),
                       .created_ms = n,
                       .ecosystem_id = eco,
                       .url = "http://x",
                       .secret = "",
                       .description = "",
                       .seq = 12345 /* ignored: the store numbers its records */};
    const store_webhook *r = store_insert(s, &w, &err);
    CHECK(r != NULL);
    return r;
}

/* store_keep_rendering: kept once per version, never carried to the next version, longer
 * than STORE_RENDERING_MAX not at all, and within the budget (each counted with its
 * header): past it nothing more, and a lowered budget keeps nothing more either. */
static void test_renderings(void)
{
    store *s = store_create();
    const store_webhook *a = insert_n(s, "Ckept", 1), *b = insert_n(s, "Ckept", 2), *c = insert_n(s, "Ckept", 3);
    CHECK(store_rendering_of(a) == NULL && store_rendering_bytes(s) == 0);
    store_keep_rendering(s, a, "{\"a\":1}", 7);
    const store_rendering *r = store_rendering_of(a);
    CHECK(r != NULL && r->len == 7 && memcmp(r->bytes, "{\"a\":1}", 7) == 0);
    store_keep_rendering(s, a, "{\"a\":2}", 7); /* it has one: kept as it was */
    CHECK(store_rendering_of(a) == r && memcmp(r->bytes, "{\"a\":1}", 7) == 0);
    size_t one = store_rendering_bytes(s);
    CHECK(one == ((sizeof(store_rendering) + 7 + 7) & ~(size_t)7)); /* rounded as carved */

    static char big[STORE_RENDERING_MAX + 1];
    memset(big, 'x', sizeof big);
    store_keep_rendering(s, b, big, sizeof big);
    CHECK(store_rendering_of(b) == NULL && store_rendering_bytes(s) == one);

    /* room for exactly one more of 7 bytes */
    store_limit_renderings(s, 2 * one);
    store_keep_rendering(s, b, "{\"b\":1}", 7);
    CHECK(store_rendering_of(b) != NULL && store_rendering_bytes(s) == 2 * one);
    store_keep_rendering(s, c, "{\"c\":1}", 7);
    CHECK(store_rendering_of(c) == NULL && store_rendering_bytes(s) == 2 * one);
    store_limit_renderings(s, one); /* below what is kept: nothing more */
    store_keep_rendering(s, c, "{\"c\":1}", 7);
    CHECK(store_rendering_of(c) == NULL);

    /* a new version starts without one */
    store_limit_renderings(s, STORE_RENDERINGS_DEFAULT);
    error err;
    error_clear(&err);
    store_changes ch = {.sets = STORE_SET_URL, .url = "http://y"};
    const store_webhook *a2 = store_update(s, &a->id, &ch, &err);
    CHECK(a2 != NULL && a2 != a && store_rendering_of(a2) == NULL && store_rendering_of(a) == r);

    /* a record the store did not carve (a copy) is refused: its rendering would outlive it */
    store_webhook copy = store_record_fields(c);
    pid_t pid = fork();
    if (pid == 0) {
        close(2); /* the assertion's message is expected */
        store_keep_rendering(s, &copy, "{}", 2);
        _exit(0);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    store_destroy(s);
}

/* store_page: records after a cursor in insertion order, at most max, *more when others
 * follow; the cursor's id names its place while the record is there (and of the same
 * ecosystem), its seq otherwise; a walk page by page with inserts between the pages meets
 * every record that was there from the start exactly once, in order. */
static void test_page(void)
{
    store *s = store_create();
    CHECK(s != NULL);
    if (s == NULL)
        return;
    const char *A = "C00000000000000000000000a", *B = "C00000000000000000000000b";
    const store_webhook *a[10], *out[16];
    int more = -1;
    CHECK(store_page(s, A, NULL, out, 4, &more) == 0 && more == 0);
    for (uint32_t i = 0; i < 10; i++) {
        a[i] = insert_n(s, A, 100 + i);
        if (i % 2 == 0)
            insert_n(s, B, 200 + i);
        if (a[i] == NULL) {
            store_destroy(s);
            return;
        }
    }
    CHECK(a[0]->seq == 0 && a[1]->seq == 2 && a[9]->seq == 14); /* B's records took 1, 3, ... */
    CHECK(store_page(s, A, NULL, out, 4, &more) == 4 && more == 1);
    CHECK(out[0] == a[0] && out[3] == a[3]);
    store_cursor after = {a[3]->seq, a[3]->id};
    CHECK(store_page(s, A, &after, out, 4, &more) == 4 && more == 1 && out[0] == a[4] && out[3] == a[7]);
    after = (store_cursor){a[7]->seq, a[7]->id};
    CHECK(store_page(s, A, &after, out, 4, &more) == 2 && more == 0 && out[0] == a[8] && out[1] == a[9]);
    CHECK(store_page(s, A, &after, out, 2, &more) == 2 && more == 0); /* exactly the rest */
    CHECK(store_page(s, A, NULL, out, 16, &more) == 10 && more == 0);
    after = (store_cursor){a[9]->seq, a[9]->id};
    CHECK(store_page(s, A, &after, out, 4, &more) == 0 && more == 0);
    CHECK(store_page(s, "C00000000000000000000000c", NULL, out, 4, &more) == 0 && more == 0);

    /* the id wins over the seq beside it */
    after = (store_cursor){0, a[5]->id};
    CHECK(store_page(s, A, &after, out, 1, &more) == 1 && out[0] == a[6] && more == 1);
    /* an id not stored (a deleted record): the seq places the page */
    after = (store_cursor){a[3]->seq, id_of(999)};
    CHECK(store_page(s, A, &after, out, 1, &more) == 1 && out[0] == a[4]);
    after = (store_cursor){a[2]->seq + 1, id_of(999)}; /* between two of A's records (B's seq) */
    CHECK(a[3]->seq == a[2]->seq + 2 && store_page(s, A, &after, out, 1, &more) == 1 && out[0] == a[3]);
    /* another ecosystem's id does not place a page of this one: its seq does */
    objectid b_id = id_of(200);
    const store_webhook *b0 = store_get(s, &b_id);
    after = (store_cursor){a[6]->seq, b_id};
    CHECK(b0 != NULL && b0->seq == 1);
    CHECK(store_page(s, A, &after, out, 1, &more) == 1 && out[0] == a[7]);

    /* walk A three at a time, inserting into A and B between the pages */
    int seen[10] = {0};
    size_t total = 0;
    uint64_t last_seq = 0;
    int first = 1;
    store_cursor cur;
    uint32_t next_id = 300;
    for (int page = 0; page < 20; page++) {
        size_t n = store_page(s, A, first ? NULL : &cur, out, 3, &more);
        for (size_t k = 0; k < n; k++) {
            CHECK(first || out[k]->seq > last_seq); /* never twice, never backwards */
            last_seq = out[k]->seq;
            first = 0;
            for (int i = 0; i < 10; i++)
                seen[i] += out[k] == a[i];
            total++;
        }
        if (n > 0)
            cur = (store_cursor){out[n - 1]->seq, out[n - 1]->id};
        if (!more)
            break;
        if (page < 4) { /* new records come after every page read so far */
            insert_n(s, A, next_id++);
            insert_n(s, B, next_id++);
        }
    }
    CHECK(more == 0);
    for (int i = 0; i < 10; i++)
        CHECK(seen[i] == 1);
    CHECK(total == 10 + 4);
    store_destroy(s);
}

/* Visits an ecosystem and checks its records are exactly want[0..n) in that order. */
static void check_ecosystem(store *s, const char *eco, const store_webhook *const *want, size_t n)
{
    collect c = {.n = 0};
    store_each_in_ecosystem(s, eco, collect_visit, &c);
    CHECK(c.n == n);
    for (size_t i = 0; i < n && i < c.n; i++)
        CHECK(c.seen[i] == want[i]);
}

/* An update makes a new version with only the fields it sets changed, which takes the old
 * one's place by id, by digest, in the ecosystem's order and in its insertion-order slot,
 * while the old version stays readable and unchanged; a delete puts a tombstone there that
 * only store_nth and store_get_idempotent show; neither finds a deleted or unknown id; a
 * tombstone can be inserted as such (what a snapshot keeps). */
static void test_update_delete(void)
{
    store *s = store_create();
    CHECK(s != NULL);
    if (s == NULL)
        return;
    error err;
    error_clear(&err);
    uint8_t digest[STORE_IDEMPOTENCY_LEN];
    memset(digest, 7, sizeof digest);
    const char *eco = "C000000000000000000000001";
    const store_webhook *made[5];
    for (uint32_t i = 0; i < 5; i++) {
        store_webhook w = {.id = id_of(i), .created_ms = 100 + i, .ecosystem_id = eco, .url = "http://a",
                           .secret = "s", .description = "d", .idempotency = i == 2 ? digest : NULL};
        made[i] = store_insert(s, &w, &err);
        CHECK(made[i] != NULL);
    }
    if (made[2] == NULL)
        goto out;
    /* one field at a time keeps the others */
    objectid id2 = id_of(2);
    store_changes url = {.sets = STORE_SET_URL, .url = "https://b"};
    const store_webhook *v1 = store_update(s, &id2, &url, &err);
    CHECK(v1 != NULL && v1 != made[2]);
    if (v1 == NULL)
        goto out;
    CHECK_STR(v1->url, "https://b");
    CHECK_STR(v1->secret, "s");
    CHECK_STR(v1->description, "d");
    CHECK(v1->disabled == 0 && v1->created_ms == 102 && v1->idempotency != NULL);
    CHECK(memcmp(v1->id.bytes, id2.bytes, OBJECTID_LEN) == 0);
    CHECK_STR(v1->ecosystem_id, eco);
    CHECK_STR(made[2]->url, "http://a"); /* the old version as it was, still readable */
    store_changes rest = {.sets = STORE_SET_SECRET | STORE_SET_DESCRIPTION | STORE_SET_DISABLED,
                          .secret = "",
                          .description = "new",
                          .disabled = 7};
    const store_webhook *v2 = store_update(s, &id2, &rest, &err);
    CHECK(v2 != NULL);
    if (v2 == NULL)
        goto out;
    CHECK_STR(v2->url, "https://b");
    CHECK_STR(v2->secret, "");
    CHECK_STR(v2->description, "new");
    CHECK(v2->disabled == 1);
    CHECK(store_get(s, &id2) == v2);
    CHECK(store_get_idempotent(s, digest) == v2);
    CHECK(store_nth(s, 2) == v2);
    CHECK(store_count(s) == 5 && store_slots(s) == 5);
    const store_webhook *order[5] = {made[0], made[1], v2, made[3], made[4]};
    check_ecosystem(s, eco, order, 5);

    /* delete: out of get, the list and the count; a tombstone in its slot and by digest */
    const store_webhook *t = store_delete(s, &id2, &err);
    CHECK(t != NULL && t->deleted);
    CHECK(store_get(s, &id2) == NULL);
    CHECK(store_get_idempotent(s, digest) == t);
    CHECK(store_nth(s, 2) == t);
    CHECK(store_count(s) == 4 && store_slots(s) == 5);
    const store_webhook *after[4] = {made[0], made[1], made[3], made[4]};
    check_ecosystem(s, eco, after, 4);
    CHECK_STR(v2->description, "new"); /* still readable by whoever held it */
    /* a second delete, an update of it, and either of an unknown id: not found, no change */
    error_clear(&err);
    CHECK(store_delete(s, &id2, &err) == NULL && err.kind == ERROR_NOT_FOUND);
    error_clear(&err);
    CHECK(store_update(s, &id2, &url, &err) == NULL && err.kind == ERROR_NOT_FOUND);
    objectid unknown = id_of(99);
    error_clear(&err);
    CHECK(store_update(s, &unknown, &url, &err) == NULL && err.kind == ERROR_NOT_FOUND);
    error_clear(&err);
    CHECK(store_delete(s, &unknown, &err) == NULL && err.kind == ERROR_NOT_FOUND);
    CHECK(store_count(s) == 4 && store_slots(s) == 5);
    /* the first and the last of an ecosystem go too (the search's ends) */
    CHECK(store_delete(s, &made[0]->id, &err) != NULL);
    CHECK(store_delete(s, &made[4]->id, &err) != NULL);
    const store_webhook *middle[2] = {made[1], made[3]};
    check_ecosystem(s, eco, middle, 2);
    /* a tombstone inserted as such: found by digest, nowhere else; its id stays taken */
    uint8_t other[STORE_IDEMPOTENCY_LEN];
    memset(other, 9, sizeof other);
    store_webhook dead = {.id = id_of(50), .created_ms = 1, .ecosystem_id = eco, .url = "http://z", .secret = "",
                          .description = "", .idempotency = other, .deleted = 1};
    const store_webhook *d = store_insert(s, &dead, &err);
    CHECK(d != NULL && d->deleted);
    CHECK(store_get(s, &dead.id) == NULL && store_get_idempotent(s, other) == d);
    CHECK(store_count(s) == 2 && store_slots(s) == 6);
    check_ecosystem(s, eco, middle, 2);
    error_clear(&err);
    CHECK(store_delete(s, &dead.id, &err) == NULL && err.kind == ERROR_NOT_FOUND);
    error_clear(&err);
    dead.deleted = 0;
    CHECK(store_insert(s, &dead, &err) == NULL && err.kind == ERROR_CONFLICT);
out:
    store_destroy(s);
}

int main(void)
{
    test_idempotent();
    test_basic();
    test_page();
    test_duplicate();
    test_early_stop();
    test_growth();
    test_threads();
    test_out_of_memory();
    test_update_delete();
    test_renderings();
    return test_exit_code();
}

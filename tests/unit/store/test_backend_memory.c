/* test_backend_memory: the store interface over the memory backend, without and with a
 * journal: every verb's outcome, calls answered inside submit (reads; creates without a
 * journal) or later on the journal's thread (creates with one), EAGAIN past the journal's
 * queue bound, a reopened journal holding exactly the creates that were answered 0, and
 * updates and deletes queued together, checked when they take effect, in queue order.
 * With a key: secrets sealed before they are stored (index and journal), an update's new
 * secret too, opened by backend_secret_open, and a journal reopened without its key refused. */
#define _GNU_SOURCE /* memmem */
#include "backend.h"
#include "oom.h"
#include "test.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ECO "C000000000000000000000a01"
#define ECO2 "C000000000000000000000a02"

typedef struct answer {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    pthread_t thread; /* where done ran */
} answer;

static void on_done(backend_call *c)
{
    answer *a = c->data;
    pthread_mutex_lock(&a->lock);
    a->done++;
    a->thread = pthread_self();
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->lock);
}

static void wait_done(answer *a, int n)
{
    pthread_mutex_lock(&a->lock);
    while (a->done < n)
        pthread_cond_wait(&a->cond, &a->lock);
    pthread_mutex_unlock(&a->lock);
}

static void *heap_alloc(void *data, size_t size)
{
    (void)data;
    return malloc(size);
}
static void heap_free(void *data, void *p)
{
    (void)data;
    free(p);
}
static ProtobufCAllocator heap = {heap_alloc, heap_free, NULL};

static void *no_alloc(void *data, size_t size)
{
    (void)data, (void)size;
    return NULL;
}

static store_webhook webhook(const char *eco, uint32_t seconds, const uint8_t *digest)
{
    return (store_webhook){.id = objectid_make(seconds),
                           .created_ms = (int64_t)seconds * 1000,
                           .ecosystem_id = eco,
                           .url = "https://example.com/h",
                           .secret = "s",
                           .description = "",
                           .idempotency = digest};
}

static int submit_now(backend *b, backend_call *c)
{
    answer a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    c->done = on_done;
    c->data = &a;
    backend_submit(b, c);
    CHECK(a.done == 1); /* answered inside submit */
    CHECK(pthread_equal(a.thread, pthread_self()));
    return c->status;
}

static void test_memory_only(void)
{
    backend_memory_stats stats;
    char err[JOURNAL_ERROR_MAX];
    backend *b = backend_memory_open(NULL, NULL, &stats, err);
    CHECK(b != NULL);
    if (b == NULL)
        return;
    CHECK(backend_is_synchronous(b, BACKEND_CREATE) && backend_is_synchronous(b, BACKEND_GET));

    uint8_t digest[STORE_IDEMPOTENCY_LEN];
    memset(digest, 7, sizeof digest);
    store_webhook w[3] = {webhook(ECO, 100, NULL), webhook(ECO2, 101, digest), webhook(ECO, 102, NULL)};
    const store_webhook *made[3];
    for (int i = 0; i < 3; i++) {
        backend_call c = {.verb = BACKEND_CREATE, .webhook = &w[i]};
        CHECK(submit_now(b, &c) == 0);
        CHECK(c.found != NULL && c.found != &w[i]); /* a copy, owned by the backend */
        made[i] = c.found;
    }
    backend_stats st;
    backend_stats_get(b, &st);
    CHECK(st.webhooks == 3 && st.queue_depth == 0 && st.writable == -1);

    backend_call get = {.verb = BACKEND_GET, .id = w[1].id};
    CHECK(submit_now(b, &get) == 0 && get.found == made[1]);
    get.id = objectid_make(999);
    CHECK(submit_now(b, &get) == BACKEND_NOT_FOUND && get.found == NULL);

    backend_call find = {.verb = BACKEND_FIND_IDEMPOTENT, .digest = digest};
    CHECK(submit_now(b, &find) == 0 && find.found == made[1]);
    uint8_t other[STORE_IDEMPOTENCY_LEN] = {0};
    find.digest = other;
    CHECK(submit_now(b, &find) == BACKEND_NOT_FOUND);

    backend_call list = {.verb = BACKEND_LIST, .ecosystem_id = ECO, .alloc = &heap, .limit = 10};
    CHECK(submit_now(b, &list) == 0);
    CHECK(list.n_items == 2 && list.items[0] == made[0] && list.items[1] == made[2] && list.more == 0);
    free(list.items);
    /* a page of one, then the page after it */
    list.limit = 1;
    CHECK(submit_now(b, &list) == 0 && list.n_items == 1 && list.items[0] == made[0] && list.more == 1);
    free(list.items);
    store_cursor after = {made[0]->seq, made[0]->id};
    list.after = &after;
    CHECK(submit_now(b, &list) == 0 && list.n_items == 1 && list.items[0] == made[2] && list.more == 0);
    free(list.items);
    list.after = NULL;
    /* no room for the page: ENOMEM, nothing handed out */
    ProtobufCAllocator none = {no_alloc, heap_free, NULL};
    list.alloc = &none;
    CHECK(submit_now(b, &list) == ENOMEM && list.n_items == 0 && list.items == NULL);
    list.alloc = &heap;
    list.ecosystem_id = "C000000000000000000000fff";
    CHECK(submit_now(b, &list) == 0 && list.n_items == 0 && list.items == NULL && list.more == 0);
    backend_destroy(b);
}

static void remove_dir(const char *dir)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static void test_with_journal(void)
{
    char dir[] = "/tmp/hookgate-test-backend-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    journal_options jo = {.path = dir,
                          .fsync = JOURNAL_FSYNC_ALWAYS,
                          .fsync_interval_ms = 1000,
                          .snapshot_after_bytes = 1ull << 40,
                          .max_queue = 1024};
    backend_memory_stats stats;
    char err[JOURNAL_ERROR_MAX];
    backend *b = backend_memory_open(&jo, NULL, &stats, err);
    CHECK(b != NULL);
    if (b == NULL) {
        fprintf(stderr, "backend_memory_open: %s\n", err);
        return;
    }
    CHECK(!backend_is_synchronous(b, BACKEND_CREATE) && backend_is_synchronous(b, BACKEND_LIST));

    /* creates are answered on the journal's thread, once written */
    enum { N = 20 };
    store_webhook w[N];
    backend_call calls[N];
    answer a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    for (int i = 0; i < N; i++) {
        w[i] = webhook(ECO, 200 + (uint32_t)i, NULL);
        calls[i] = (backend_call){.verb = BACKEND_CREATE, .webhook = &w[i], .done = on_done, .data = &a};
        backend_submit(b, &calls[i]);
    }
    wait_done(&a, N);
    CHECK(!pthread_equal(a.thread, pthread_self()));
    for (int i = 0; i < N; i++)
        CHECK(calls[i].status == 0 && calls[i].found != NULL);
    backend_call list = {.verb = BACKEND_LIST, .ecosystem_id = ECO, .alloc = &heap, .limit = N};
    CHECK(submit_now(b, &list) == 0 && list.n_items == N);
    if (list.n_items == N) /* in the order they were journaled, which is the order queued */
        for (int i = 0; i < N; i++)
            CHECK(list.items[i] == calls[i].found);
    free(list.items);
    backend_destroy(b);

    /* reopened: exactly those, from the journal */
    b = backend_memory_open(&jo, NULL, &stats, err);
    CHECK(b != NULL && stats.journal.webhooks == N);
    if (b != NULL) {
        backend_call get = {.verb = BACKEND_GET, .id = w[N - 1].id};
        CHECK(submit_now(b, &get) == 0 && get.found != NULL && strcmp(get.found->secret, "s") == 0);
        /* a cursor taken before the restart goes on at the same place after it */
        store_cursor after = {calls[9].found->seq, calls[9].found->id};
        backend_call list = {.verb = BACKEND_LIST, .ecosystem_id = ECO, .alloc = &heap, .limit = 3, .after = &after};
        CHECK(submit_now(b, &list) == 0 && list.n_items == 3 && list.more == 1);
        for (size_t i = 0; i < list.n_items; i++)
            CHECK(memcmp(list.items[i]->id.bytes, w[10 + i].id.bytes, OBJECTID_LEN) == 0 &&
                  list.items[i]->seq == 10 + i);
        free(list.items);
        backend_destroy(b);
    }
    remove_dir(dir);
}

/* A done that holds the journal's writer thread until released. */
typedef struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int entered, open;
} gate;

static void held_done(backend_call *c)
{
    gate *g = c->data;
    pthread_mutex_lock(&g->lock);
    g->entered++;
    pthread_cond_broadcast(&g->cond);
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
}

/* Past the journal's queue bound a create is refused at once with EAGAIN. */
static void test_queue_full(void)
{
    char dir[] = "/tmp/hookgate-test-backend-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    journal_options jo = {.path = dir, .fsync = JOURNAL_FSYNC_NEVER, .snapshot_after_bytes = 1ull << 40, .max_queue = 2};
    backend_memory_stats stats;
    char err[JOURNAL_ERROR_MAX];
    backend *b = backend_memory_open(&jo, NULL, &stats, err);
    CHECK(b != NULL);
    if (b == NULL)
        return;
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    store_webhook w[4] = {webhook(ECO, 300, NULL), webhook(ECO, 301, NULL), webhook(ECO, 302, NULL),
                          webhook(ECO, 303, NULL)};
    backend_call calls[4];
    for (int i = 0; i < 4; i++)
        calls[i] = (backend_call){.verb = BACKEND_CREATE, .webhook = &w[i], .done = held_done, .data = &g};
    backend_submit(b, &calls[0]);
    pthread_mutex_lock(&g.lock); /* the writer now sits in calls[0]'s done */
    while (g.entered == 0)
        pthread_cond_wait(&g.cond, &g.lock);
    pthread_mutex_unlock(&g.lock);
    backend_submit(b, &calls[1]);
    backend_submit(b, &calls[2]);
    answer a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    calls[3].done = on_done;
    calls[3].data = &a;
    backend_submit(b, &calls[3]);
    CHECK(a.done == 1 && calls[3].status == EAGAIN && calls[3].found == NULL);
    backend_stats st;
    backend_stats_get(b, &st);
    CHECK(st.queue_depth == 2);
    pthread_mutex_lock(&g.lock);
    g.open = 1;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
    backend_destroy(b); /* finishes the queued two */
    CHECK(g.entered == 3);
    for (int i = 0; i < 3; i++)
        CHECK(calls[i].status == 0);
    remove_dir(dir);
}

/* Writes queued together behind a held writer take effect in queue order and are checked
 * then: of an update, a delete, an update and a delete of one webhook, the first two
 * succeed and the last two find it gone (NOT_FOUND, though it was there when they were
 * submitted); two updates of another webhook setting different fields both hold, neither
 * undoing the other. Reopened from the journal (which holds all six, the refused two
 * included), the store is the same. */
static void test_writes_in_order(int with_journal)
{
    char dir[] = "/tmp/hookgate-test-backend-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    journal_options jo = {.path = dir, .fsync = JOURNAL_FSYNC_ALWAYS, .snapshot_after_bytes = 1ull << 40, .max_queue = 64};
    backend_memory_stats stats;
    char err[JOURNAL_ERROR_MAX];
    backend *b = backend_memory_open(with_journal ? &jo : NULL, NULL, &stats, err);
    CHECK(b != NULL);
    if (b == NULL)
        return;
    store_webhook x = webhook(ECO, 400, NULL), y = webhook(ECO, 401, NULL), hold = webhook(ECO2, 402, NULL);
    answer a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    backend_call cx = {.verb = BACKEND_CREATE, .webhook = &x, .done = on_done, .data = &a};
    backend_call cy = {.verb = BACKEND_CREATE, .webhook = &y, .done = on_done, .data = &a};
    backend_submit(b, &cx);
    backend_submit(b, &cy);
    wait_done(&a, 2);
    CHECK(cx.status == 0 && cy.status == 0);

    /* with a journal, the writer waits in this create's done while the rest queue up */
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, !with_journal};
    backend_call ch = {.verb = BACKEND_CREATE, .webhook = &hold, .done = held_done, .data = &g};
    backend_submit(b, &ch);
    pthread_mutex_lock(&g.lock);
    while (g.entered == 0)
        pthread_cond_wait(&g.cond, &g.lock);
    pthread_mutex_unlock(&g.lock);

    store_changes url = {.sets = STORE_SET_URL, .url = "https://example.com/changed"};
    store_changes desc = {.sets = STORE_SET_DESCRIPTION | STORE_SET_DISABLED, .description = "d", .disabled = 1};
    answer q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    backend_call w[6] = {
        {.verb = BACKEND_UPDATE, .id = x.id, .changes = &url},
        {.verb = BACKEND_DELETE, .id = x.id},
        {.verb = BACKEND_UPDATE, .id = x.id, .changes = &url},
        {.verb = BACKEND_DELETE, .id = x.id},
        {.verb = BACKEND_UPDATE, .id = y.id, .changes = &url},
        {.verb = BACKEND_UPDATE, .id = y.id, .changes = &desc},
    };
    for (int i = 0; i < 6; i++) {
        w[i].done = on_done;
        w[i].data = &q;
        backend_submit(b, &w[i]);
    }
    pthread_mutex_lock(&g.lock);
    g.open = 1;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
    wait_done(&q, 6);
    static const int want[6] = {0, 0, BACKEND_NOT_FOUND, BACKEND_NOT_FOUND, 0, 0};
    for (int i = 0; i < 6; i++) {
        if (w[i].status != want[i])
            fprintf(stderr, "  write %d (%s journal): status %d, want %d\n", i, with_journal ? "with" : "without",
                    w[i].status, want[i]);
        CHECK(w[i].status == want[i]);
    }
    CHECK(w[1].found != NULL && w[1].found->deleted);
    for (int round = 0; round < 1 + with_journal; round++) {
        backend_call get = {.verb = BACKEND_GET, .id = x.id};
        CHECK(submit_now(b, &get) == BACKEND_NOT_FOUND);
        get.id = y.id;
        CHECK(submit_now(b, &get) == 0 && get.found != NULL);
        if (get.found != NULL) {
            CHECK_STR(get.found->url, "https://example.com/changed");
            CHECK_STR(get.found->description, "d");
            CHECK(get.found->disabled == 1 && get.found->created_ms == y.created_ms);
        }
        backend_call list = {.verb = BACKEND_LIST, .ecosystem_id = ECO, .alloc = &heap, .limit = 10};
        CHECK(submit_now(b, &list) == 0 && list.n_items == 1);
        free(list.items);
        /* a page cursor at the deleted webhook (the last of a page read before the delete)
         * goes on after its place */
        store_cursor at_x = {.seq = 0, .id = x.id};
        backend_call page = {.verb = BACKEND_LIST, .ecosystem_id = ECO, .alloc = &heap, .limit = 10, .after = &at_x};
        CHECK(submit_now(b, &page) == 0 && page.n_items == 1 && page.more == 0);
        CHECK(page.n_items != 1 || memcmp(page.items[0]->id.bytes, y.id.bytes, OBJECTID_LEN) == 0);
        free(page.items);
        backend_destroy(b);
        b = NULL;
        if (round == 0 && with_journal) { /* the same after a restart */
            b = backend_memory_open(&jo, NULL, &stats, err);
            /* 9 changes, and a record of the event log for each webhook they deleted or
             * disabled (x deleted, y disabled): its pending deliveries are cancelled */
            CHECK(b != NULL && stats.journal.webhooks == 2 && stats.journal.journal_records == 11);
            if (b == NULL)
                break;
        }
    }
    remove_dir(dir);
}

/* ---- sealed secrets ------------------------------------------------------------------- */

static const uint8_t KEY[SEAL_KEY_LEN] = {0x9e, 0x37, 0x79, 0xb9, 0x7f, 0x4a, 0x7c, 0x15, 0xf3, 0x9c, 0xc0,
                                          0x60, 0x5c, 0xed, 0xc8, 0x34, 0x10, 0x82, 0x27, 0x6b, 0xf3, 0xa2,
                                          0x72, 0x04, 0xda, 0x5b, 0x1d, 0x0e, 0x6d, 0x4b, 0x2e, 0x01};
#define SECRET "a-secret-to-seal-0123456789"

static seal_keyring *keyring(void)
{
    seal_keyring *r = seal_keyring_create();
    CHECK(r != NULL && seal_keyring_add(r, KEY, 1) == 0);
    return r;
}

/* 1 when the record holds no plain secret and backend_secret_open gives want. */
static int opens_to(const backend *b, const store_webhook *w, const char *want)
{
    char *secret;
    size_t len;
    int ok = w != NULL && strcmp(w->secret, "") == 0 && w->sealed_secret != NULL &&
             memmem(w->sealed_secret, w->sealed_secret_len, want, strlen(want)) == NULL &&
             backend_secret_open(b, w, &secret, &len) == 0 && len == strlen(want) && strcmp(secret, want) == 0;
    if (ok)
        backend_secret_free(secret, len);
    return ok;
}

static void test_sealed_memory_only(void)
{
    backend_memory_stats stats;
    char err[JOURNAL_ERROR_MAX];
    backend *b = backend_memory_open(NULL, keyring(), &stats, err);
    CHECK(b != NULL);
    if (b == NULL)
        return;
    store_webhook w = webhook(ECO, 500, NULL);
    w.secret = SECRET;
    backend_call c = {.verb = BACKEND_CREATE, .webhook = &w};
    CHECK(submit_now(b, &c) == 0 && opens_to(b, c.found, SECRET));
    /* no secret: nothing sealed, and "" opens */
    store_webhook none = webhook(ECO, 501, NULL);
    none.secret = "";
    backend_call c2 = {.verb = BACKEND_CREATE, .webhook = &none};
    char *secret;
    size_t len;
    CHECK(submit_now(b, &c2) == 0 && c2.found != NULL && c2.found->sealed_secret == NULL);
    CHECK(c2.found != NULL && backend_secret_open(b, c2.found, &secret, &len) == 0 && len == 0 &&
          strcmp(secret, "") == 0);
    backend_secret_free(secret, len);
    backend_destroy(b);

    /* without a key the secret is kept as given, and opens as it is */
    b = backend_memory_open(NULL, NULL, &stats, err);
    CHECK(b != NULL);
    if (b == NULL)
        return;
    CHECK(submit_now(b, &c) == 0 && c.found != NULL && c.found->sealed_secret == NULL &&
          strcmp(c.found->secret, SECRET) == 0);
    CHECK(c.found != NULL && backend_secret_open(b, c.found, &secret, &len) == 0 && strcmp(secret, SECRET) == 0);
    backend_secret_free(secret, len);
    backend_destroy(b);
}

/* backend_secret_open under out of memory: ENOMEM, nothing handed out. */
typedef struct open_oom {
    backend *b;
    const store_webhook *w;
    char *secret;
    size_t len;
    int rc;
} open_oom;

static int open_oom_run(void *ctx)
{
    open_oom *o = ctx;
    o->rc = backend_secret_open(o->b, o->w, &o->secret, &o->len);
    return o->rc == 0 ? 0 : -1;
}

static void open_oom_check(void *ctx, int ok)
{
    open_oom *o = ctx;
    CHECK(ok ? o->secret != NULL && strcmp(o->secret, SECRET) == 0 : o->rc == ENOMEM && o->secret == NULL);
}

static void open_oom_teardown(void *ctx)
{
    open_oom *o = ctx;
    backend_secret_free(o->secret, o->len);
    o->secret = NULL;
}

static void test_secret_open_out_of_memory(void)
{
    backend_memory_stats stats;
    char err[JOURNAL_ERROR_MAX];
    static open_oom o;
    o.b = backend_memory_open(NULL, keyring(), &stats, err);
    CHECK(o.b != NULL);
    if (o.b == NULL)
        return;
    store_webhook w = webhook(ECO, 600, NULL);
    w.secret = SECRET;
    backend_call c = {.verb = BACKEND_CREATE, .webhook = &w};
    CHECK(submit_now(o.b, &c) == 0 && c.found != NULL);
    o.w = c.found;
    oom_op op = {"backend_secret_open", &o, NULL, open_oom_run, open_oom_check, open_oom_teardown};
    CHECK(oom_loop(&op) == 0);
    CHECK(oom_loop_persistent(&op) == 0);
    /* a damaged blob is EBADMSG, not out of memory */
    store_webhook damaged = *c.found;
    uint8_t blob[sizeof SECRET - 1 + SEAL_OVERHEAD];
    CHECK(damaged.sealed_secret_len == sizeof blob);
    memcpy(blob, damaged.sealed_secret, sizeof blob);
    blob[sizeof blob - 1] ^= 1;
    damaged.sealed_secret = blob;
    char *secret = NULL;
    size_t len = 0;
    CHECK(backend_secret_open(o.b, &damaged, &secret, &len) == EBADMSG && secret == NULL);
    backend_destroy(o.b);
}

static int file_holds(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f == NULL)
        return -1;
    static char data[1 << 16];
    size_t n = fread(data, 1, sizeof data, f);
    fclose(f);
    return memmem(data, n, text, strlen(text)) != NULL;
}

static void test_sealed_journal(void)
{
    char dir[] = "/tmp/hookgate-test-backend-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    journal_options jo = {.path = dir, .fsync = JOURNAL_FSYNC_ALWAYS, .snapshot_after_bytes = 1ull << 40, .max_queue = 8};
    backend_memory_stats stats;
    char err[JOURNAL_ERROR_MAX];
    backend *b = backend_memory_open(&jo, keyring(), &stats, err);
    CHECK(b != NULL);
    if (b == NULL)
        return;
    store_webhook w = webhook(ECO, 700, NULL);
    w.secret = SECRET;
    backend_call c = {.verb = BACKEND_CREATE, .webhook = &w, .done = on_done};
    answer a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    c.data = &a;
    backend_submit(b, &c);
    wait_done(&a, 1);
    CHECK(c.status == 0 && opens_to(b, c.found, SECRET));
    backend_destroy(b);
    CHECK(file_holds(dir, "journal.1", SECRET) == 0);
    CHECK(file_holds(dir, "journal.1", "https://example.com/h") == 1); /* the search finds what is there */

    /* reopened with the key: the secret opens; without it: refused, naming the key */
    b = backend_memory_open(&jo, keyring(), &stats, err);
    CHECK(b != NULL && stats.journal.webhooks == 1 && stats.journal.resealed == 0);
    if (b != NULL) {
        backend_call get = {.verb = BACKEND_GET, .id = w.id};
        CHECK(submit_now(b, &get) == 0 && opens_to(b, get.found, SECRET));
        backend_destroy(b);
    }
    CHECK(backend_memory_open(&jo, NULL, &stats, err) == NULL);
    uint8_t id[SEAL_KEY_ID_LEN];
    char text[SEAL_KEY_ID_TEXT], want[64];
    seal_key_id(KEY, id);
    seal_key_id_text(id, text);
    snprintf(want, sizeof want, "sealed under key id %s", text);
    CHECK(strstr(err, want) != NULL && strstr(err, "(configured: none)") != NULL);
    remove_dir(dir);
}

int main(void)
{
    CHECK(objectid_init() == 0);
    test_memory_only();
    test_with_journal();
    test_queue_full();
    test_writes_in_order(0);
    test_writes_in_order(1);
    test_sealed_memory_only();
    test_secret_open_out_of_memory();
    test_sealed_journal();
    return test_exit_code();
}

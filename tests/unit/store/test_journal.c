/* test_journal: the durable store on real files, in a directory under /tmp removed at the end.
 *
 * Directory and file modes and the directory lock; concurrent appends surviving a reopen
 * byte for byte and in creation order; each fsync policy; rotation with snapshots (one
 * snapshot and one journal left); torn tails cut back; corruption in the middle refused
 * with advice that works when followed; leftover temp snapshots; missing journals; and a
 * disk that refuses writes (RLIMIT_FSIZE) and then takes them again; the room the journal
 * reserves ahead of its writes; the free-space rule for snapshots and its back-off, as pure
 * functions; secret keys: a keyless store sealed at open with a snapshot at once, a
 * rotation, and a refusal naming the missing key. The event log's records: replayed in
 * order through event_load, and carried by snapshots (event_snapshot's records after the
 * webhooks, as many as the header's event_records says). No assertion depends on timing:
 * every wait is for a counted event. */
#define _GNU_SOURCE /* memmem */
#include "codec_proto.h"
#include "events.h"
#include "hg_assert.h"
#include "journal.h"
#include "oom.h"
#include "record.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define N_ECOSYSTEMS 7
#define BIG_SNAPSHOT "1099511627776" /* 2^40: no rotation */

static char root[64]; /* the mkdtemp directory */

/* ---- records --------------------------------------------------------------------------- */

/* The fields of test record i; its id comes from the test's id table. */
typedef struct spec {
    char eco[32], url[128], secret[64], description[128];
    store_webhook w;
} spec;

static void spec_make(spec *sp, size_t i, const objectid *id)
{
    snprintf(sp->eco, sizeof sp->eco, "C%024llx", 0x5a96c3ea0ull + i % N_ECOSYSTEMS);
    snprintf(sp->url, sizeof sp->url, "https://exämple.org/hook/%zu/пример?q=✓", i);
    if (i % 5 == 0)
        sp->secret[0] = '\0';
    else
        snprintf(sp->secret, sizeof sp->secret, "ключ-%zu-🔑", i);
    if (i % 3 == 0)
        sp->description[0] = '\0';
    else
        snprintf(sp->description, sizeof sp->description, "webhook %zu — 日本語 🎉", i);
    store_webhook w = {.id = *id,
                       .created_ms = 1519831018941LL + (int64_t)i * 37,
                       .disabled = (int)(i % 4 == 1),
                       .ecosystem_id = sp->eco,
                       .url = sp->url,
                       .secret = sp->secret,
                       .description = sp->description};
    sp->w = w;
}

static int webhook_equal(const store_webhook *a, const store_webhook *b)
{
    return memcmp(a->id.bytes, b->id.bytes, OBJECTID_LEN) == 0 && a->created_ms == b->created_ms &&
           a->disabled == b->disabled && strcmp(a->ecosystem_id, b->ecosystem_id) == 0 && strcmp(a->url, b->url) == 0 &&
           strcmp(a->secret, b->secret) == 0 && strcmp(a->description, b->description) == 0;
}

static objectid *ids_make(size_t n)
{
    objectid *ids = malloc(n * sizeof(*ids));
    for (size_t i = 0; i < n; i++)
        ids[i] = objectid_make((uint32_t)time(NULL));
    return ids;
}

/* The framed size of record i in a file. */
static size_t framed_size_of(size_t i, const objectid *ids)
{
    spec sp;
    spec_make(&sp, i, &ids[i]);
    schema_stored_webhook m;
    record_from_webhook(&sp.w, &m);
    return record_framed_size(protobuf_c_message_get_packed_size(&m.base));
}

static size_t framed_sizes(const objectid *ids, size_t from, size_t to)
{
    size_t n = 0;
    for (size_t i = from; i < to; i++)
        n += framed_size_of(i, ids);
    return n;
}

/* Checks that s holds records from..to-1 with every field equal; returns the number of
 * records missing or different. */
static size_t check_records(store *s, const objectid *ids, size_t from, size_t to)
{
    size_t bad = 0;
    for (size_t i = from; i < to; i++) {
        spec sp;
        spec_make(&sp, i, &ids[i]);
        const store_webhook *r = store_get(s, &ids[i]);
        if (r == NULL || !webhook_equal(r, &sp.w))
            bad++;
    }
    if (bad)
        fprintf(stderr, "%zu of records %zu..%zu missing or different\n", bad, from, to);
    return bad;
}

/* ---- appends and their completion ---------------------------------------------------------- */

typedef struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t done, stored;
    const store_webhook **order; /* stored records, in the order their done was called */
    size_t cap;
} waiter;

/* The index the journal being appended to writes into: done inserts each written record
 * there, as backend_memory.c does (see journal_op.done). */
static store *appending_to;

/* What a journal_op's done must do on success; returns the stored record or NULL. */
static const store_webhook *insert_written(journal_op *op)
{
    store_webhook *record = op->record;
    op->record = NULL;
    if (op->status != 0) {
        store_record_free(record);
        return NULL;
    }
    error err;
    error_clear(&err);
    const store_webhook *stored = store_insert_record(appending_to, record, &err);
    CHECK(stored != NULL);
    return stored;
}

typedef struct test_op {
    journal_op op; /* first: done gets &op */
    waiter *w;
    size_t index;
    int stored;
    int status; /* the op's: 0 or the errno the disk refused it with */
} test_op;

static void waiter_init(waiter *w, size_t cap)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->order = calloc(cap ? cap : 1, sizeof(*w->order));
    w->cap = cap;
}

static void waiter_destroy(waiter *w)
{
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w->order);
}

/* Runs on the journal's writer thread. */
static void op_done(journal_op *op)
{
    test_op *t = (test_op *)op;
    waiter *w = t->w;
    const store_webhook *stored = insert_written(op);
    pthread_mutex_lock(&w->lock);
    t->stored = stored != NULL;
    t->status = op->status;
    if (stored != NULL) {
        if (w->stored < w->cap)
            w->order[w->stored] = stored;
        w->stored++;
    }
    w->done++;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void waiter_wait(waiter *w, size_t done)
{
    pthread_mutex_lock(&w->lock);
    while (w->done < done)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

static void append_one(journal *j, waiter *w, test_op *t, size_t i, const objectid *ids)
{
    spec sp;
    spec_make(&sp, i, &ids[i]);
    memset(t, 0, sizeof(*t));
    t->w = w;
    t->index = i;
    t->op.record = store_record_new(&sp.w);
    t->op.done = op_done;
    CHECK(journal_append(j, &t->op) == 0);
}

/* Appends records from..to-1 in groups of `group` (each group queued at once, then waited
 * for, so the writer sees several batches); returns how many were stored. */
static size_t append_range(journal *j, const objectid *ids, size_t from, size_t to, size_t group)
{
    waiter w;
    waiter_init(&w, to - from);
    test_op *ops = calloc(to - from, sizeof(*ops));
    for (size_t g = from; g < to; g += group) {
        size_t end = g + group < to ? g + group : to;
        for (size_t i = g; i < end; i++)
            append_one(j, &w, &ops[i - from], i, ids);
        waiter_wait(&w, end - from);
    }
    size_t stored = w.stored;
    free(ops);
    waiter_destroy(&w);
    return stored;
}

/* ---- files ---------------------------------------------------------------------------------- */

static void path_of(char out[PATH_MAX], const char *dir, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    CHECK(n > 0 && n < PATH_MAX);
}

static void new_dir(char out[PATH_MAX], const char *name)
{
    path_of(out, root, name);
}

static long long file_size(const char *dir, const char *name)
{
    char path[PATH_MAX];
    path_of(path, dir, name);
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int file_mode(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static int file_exists(const char *dir, const char *name)
{
    char path[PATH_MAX];
    path_of(path, dir, name);
    return access(path, F_OK) == 0;
}

/* Reads a whole file; NULL if it cannot be read. */
static uint8_t *file_read(const char *dir, const char *name, size_t *len)
{
    char path[PATH_MAX];
    path_of(path, dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(n > 0 ? (size_t)n : 1);
    *len = fread(data, 1, (size_t)n, f);
    fclose(f);
    return data;
}

/* Writes (mode "wb") or appends ("ab") bytes to dir/name. */
static void file_write(const char *dir, const char *name, const char *mode, const void *data, size_t len)
{
    char path[PATH_MAX];
    path_of(path, dir, name);
    FILE *f = fopen(path, mode);
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK(fwrite(data, 1, len, f) == len);
    fclose(f);
}

static void file_cut(const char *dir, const char *name, long long len)
{
    char path[PATH_MAX];
    path_of(path, dir, name);
    CHECK(truncate(path, (off_t)len) == 0);
}

/* Counts the entries of dir named prefix.<digits>; *seq gets the number of the last seen. */
static int count_files(const char *dir, const char *prefix, unsigned long long *seq)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    size_t plen = strlen(prefix);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, prefix, plen) != 0 || e->d_name[plen] != '.')
            continue;
        char *end;
        unsigned long long v = strtoull(e->d_name + plen + 1, &end, 10);
        if (end != e->d_name + plen + 1 && *end == '\0') {
            n++;
            if (seq != NULL)
                *seq = v;
        }
    }
    closedir(d);
    return n;
}

/* Frames records from..to-1 after `magic` into dir/name, as the journal or snapshot writer
 * would (a snapshot gets its header record first). */
static void file_write_records(const char *dir, const char *name, const char *magic, const objectid *ids, size_t from,
                               size_t to)
{
    size_t cap = RECORD_MAGIC_LEN + 64;
    for (size_t i = from; i < to; i++)
        cap += framed_size_of(i, ids);
    uint8_t *buf = malloc(cap);
    memcpy(buf, magic, RECORD_MAGIC_LEN);
    size_t used = RECORD_MAGIC_LEN;
    if (strcmp(magic, RECORD_SNAPSHOT_MAGIC) == 0) {
        schema_snapshot_header h = SCHEMA_SNAPSHOT_HEADER_INIT;
        h.version = 1;
        h.count = to - from;
        h.created_ms = 1519831018941LL;
        used += record_frame(&h.base, buf + used);
    }
    for (size_t i = from; i < to; i++) {
        spec sp;
        spec_make(&sp, i, &ids[i]);
        schema_stored_webhook m;
        record_from_webhook(&sp.w, &m);
        used += record_frame(&m.base, buf + used);
    }
    file_write(dir, name, "wb", buf, used);
    char path[PATH_MAX];
    path_of(path, dir, name);
    chmod(path, 0600);
    free(buf);
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[PATH_MAX];
        path_of(path, dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* ---- opening ---------------------------------------------------------------------------------- */

static journal_options options_of(const char *dir, const char *fsync, unsigned interval_ms, const char *snapshot_after)
{
    journal_options o = {
        .path = dir,
        .fsync = strcmp(fsync, "always") == 0  ? JOURNAL_FSYNC_ALWAYS
                 : strcmp(fsync, "batch") == 0 ? JOURNAL_FSYNC_BATCH
                                               : JOURNAL_FSYNC_NEVER,
        .fsync_interval_ms = interval_ms,
        .snapshot_after_bytes = strtoull(snapshot_after, NULL, 10),
        .max_queue = 1u << 20,
    };
    CHECK(strcmp(fsync, "always") == 0 || strcmp(fsync, "batch") == 0 || strcmp(fsync, "never") == 0);
    return o;
}

typedef struct opened {
    store *store;
    journal *journal;
    journal_stats stats;
    char err[JOURNAL_ERROR_MAX];
} opened;

/* Opens dir into a new store; on failure o->journal is NULL and o->err says why. */
static void open_with(opened *o, const char *dir, const char *fsync, unsigned interval_ms, const char *snapshot_after)
{
    memset(o, 0, sizeof(*o));
    o->store = store_create();
    CHECK(o->store != NULL);
    journal_options opts = options_of(dir, fsync, interval_ms, snapshot_after);
    o->journal = journal_open(&opts, o->store, &o->stats, o->err);
    if (o->journal != NULL)
        appending_to = o->store;
}

static void open_default(opened *o, const char *dir)
{
    open_with(o, dir, "always", 1000, BIG_SNAPSHOT);
}

/* Closes the journal (if open) and destroys the store. */
static void close_all(opened *o)
{
    journal_close(o->journal);
    store_destroy(o->store);
    o->journal = NULL;
    o->store = NULL;
}

/* ---- the tests -------------------------------------------------------------------------------- */

/* A new directory is made 0700 with 0600 files; a second server on it is refused while the
 * first holds it, and let in after it closes. */
static void test_open_modes_lock(void)
{
    char dir[PATH_MAX];
    new_dir(dir, "modes");
    opened a;
    open_default(&a, dir);
    CHECK(a.journal != NULL);
    if (a.journal == NULL) {
        fprintf(stderr, "journal_open: %s\n", a.err);
        close_all(&a);
        return;
    }
    CHECK(a.stats.webhooks == 0 && a.stats.snapshot == 0 && a.stats.torn_bytes == 0);
    CHECK(file_mode(dir) == 0700);
    char path[PATH_MAX];
    path_of(path, dir, "LOCK");
    CHECK(file_mode(path) == 0600);
    path_of(path, dir, "journal.1");
    CHECK(file_mode(path) == 0600);
    CHECK(file_size(dir, "journal.1") == RECORD_MAGIC_LEN);
    CHECK(journal_is_writable(a.journal) == 1);

    opened b;
    open_default(&b, dir);
    CHECK(b.journal == NULL);
    CHECK(strstr(b.err, "in use by another hookgate") != NULL);
    if (b.journal == NULL && strstr(b.err, "in use by another hookgate") == NULL)
        fprintf(stderr, "second journal_open said: %s\n", b.err);
    close_all(&b);
    /* LOCK deleted by hand while a server runs: the directory itself is still locked */
    path_of(path, dir, "LOCK");
    CHECK(unlink(path) == 0);
    open_default(&b, dir);
    CHECK(b.journal == NULL);
    CHECK(strstr(b.err, "in use by another hookgate") != NULL);
    close_all(&b);

    objectid *ids = ids_make(3);
    CHECK(append_range(a.journal, ids, 0, 3, 3) == 3);
    close_all(&a);

    open_default(&b, dir);
    CHECK(b.journal != NULL);
    CHECK(b.stats.webhooks == 3);
    CHECK(check_records(b.store, ids, 0, 3) == 0);
    close_all(&b);
    free(ids);
}

typedef struct appender {
    journal *journal;
    waiter *waiter;
    test_op *ops;
    const objectid *ids;
    size_t from, to;
} appender;

static void *appender_main(void *arg)
{
    appender *a = arg;
    for (size_t i = a->from; i < a->to; i++)
        append_one(a->journal, a->waiter, &a->ops[i], i, a->ids);
    return NULL;
}

typedef struct eco_list {
    const store_webhook *r[4096];
    size_t n;
} eco_list;

static int eco_visit(const store_webhook *w, void *ctx)
{
    eco_list *l = ctx;
    if (l->n < sizeof l->r / sizeof l->r[0])
        l->r[l->n] = w;
    l->n++;
    return 0;
}

/* Ecosystem k's records in s, oldest first. */
static void eco_collect(store *s, size_t k, eco_list *l)
{
    spec sp;
    objectid none = {{0}};
    spec_make(&sp, k, &none);
    l->n = 0;
    CHECK(store_each_in_ecosystem(s, sp.eco, eco_visit, l) == 0);
}

/* Each ecosystem lists the same records, field for field, in the same order in a and b. */
static size_t compare_order(store *a, store *b)
{
    size_t bad = 0;
    eco_list *la = malloc(sizeof(*la)), *lb = malloc(sizeof(*lb));
    for (size_t k = 0; k < N_ECOSYSTEMS; k++) {
        eco_collect(a, k, la);
        eco_collect(b, k, lb);
        if (la->n != lb->n) {
            bad++;
            continue;
        }
        for (size_t i = 0; i < la->n && i < sizeof la->r / sizeof la->r[0]; i++)
            if (!webhook_equal(la->r[i], lb->r[i]))
                bad++;
    }
    free(la);
    free(lb);
    return bad;
}

/* 1000 records from 4 threads at once: all stored, and after a reopen the same records,
 * field for field, in the same order within each ecosystem. */
static void test_concurrent_round_trip(void)
{
    enum { N = 1000, THREADS = 4 };
    char dir[PATH_MAX];
    new_dir(dir, "concurrent");
    objectid *ids = ids_make(N);
    opened a;
    open_default(&a, dir);
    CHECK(a.journal != NULL);
    if (a.journal == NULL) {
        close_all(&a);
        free(ids);
        return;
    }
    waiter w;
    waiter_init(&w, N);
    test_op *ops = calloc(N, sizeof(*ops));
    appender apps[THREADS];
    pthread_t threads[THREADS];
    for (size_t t = 0; t < THREADS; t++) {
        apps[t] = (appender){a.journal, &w, ops, ids, t * N / THREADS, (t + 1) * N / THREADS};
        CHECK(pthread_create(&threads[t], NULL, appender_main, &apps[t]) == 0);
    }
    for (size_t t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    waiter_wait(&w, N);
    CHECK(w.stored == N);
    size_t not_stored = 0;
    for (size_t i = 0; i < N; i++)
        not_stored += !ops[i].stored || ops[i].status != 0;
    CHECK(not_stored == 0);
    CHECK(store_count(a.store) == N);
    CHECK(check_records(a.store, ids, 0, N) == 0);

    /* each ecosystem lists its records in the order the writer stored them (done order),
     * and one thread's records in the order that thread appended them */
    eco_list *l = malloc(sizeof(*l));
    size_t order_bad = 0;
    for (size_t k = 0; k < N_ECOSYSTEMS; k++) {
        eco_collect(a.store, k, l);
        CHECK(l->n > 0);
        if (l->n == 0)
            continue;
        size_t at = 0;
        for (size_t d = 0; d < w.stored && d < N; d++) {
            const store_webhook *r = w.order[d];
            if (strcmp(r->ecosystem_id, l->r[0]->ecosystem_id) != 0)
                continue;
            if (at >= l->n || l->r[at] != r)
                order_bad++;
            at++;
        }
        order_bad += at != l->n;
        size_t last[THREADS] = {0};
        int seen[THREADS] = {0};
        for (size_t i = 0; i < l->n; i++) {
            size_t index = (size_t)(l->r[i]->created_ms - 1519831018941LL) / 37, t = index * THREADS / N;
            order_bad += seen[t] && index <= last[t];
            seen[t] = 1, last[t] = index;
        }
    }
    free(l);
    CHECK(order_bad == 0);
    journal_close(a.journal);
    a.journal = NULL;

    opened b;
    open_default(&b, dir);
    CHECK(b.journal != NULL);
    CHECK(b.stats.webhooks == N && b.stats.journal_records == N && b.stats.snapshot == 0 && b.stats.torn_bytes == 0);
    CHECK(store_count(b.store) == N);
    CHECK(check_records(b.store, ids, 0, N) == 0);
    CHECK(compare_order(a.store, b.store) == 0);
    close_all(&b);
    close_all(&a);
    free(ops);
    waiter_destroy(&w);
    free(ids);
}

/* Every fsync policy keeps everything across close and reopen, twice. */
static void test_fsync_policies(void)
{
    static const char *const policies[] = {"always", "batch", "never"};
    for (size_t p = 0; p < 3; p++) {
        char dir[PATH_MAX], name[32];
        snprintf(name, sizeof name, "fsync-%s", policies[p]);
        new_dir(dir, name);
        objectid *ids = ids_make(60);
        opened o;
        open_with(&o, dir, policies[p], 5, BIG_SNAPSHOT);
        CHECK(o.journal != NULL);
        if (o.journal == NULL) {
            fprintf(stderr, "%s: %s\n", policies[p], o.err);
            close_all(&o);
            free(ids);
            continue;
        }
        for (size_t g = 0; g < 50; g += 10) {
            CHECK(append_range(o.journal, ids, g, g + 10, 10) == 10);
            /* let a batch interval pass now and then; nothing is asserted about when */
            struct timespec pause = {0, 7 * 1000000};
            nanosleep(&pause, NULL);
        }
        close_all(&o);

        open_with(&o, dir, policies[p], 5, BIG_SNAPSHOT);
        CHECK(o.journal != NULL);
        if (o.journal == NULL) {
            close_all(&o);
            free(ids);
            continue;
        }
        CHECK(o.stats.webhooks == 50 && o.stats.journal_records == 50 && o.stats.torn_bytes == 0);
        CHECK(check_records(o.store, ids, 0, 50) == 0);
        CHECK(append_range(o.journal, ids, 50, 60, 3) == 10);
        close_all(&o);

        open_with(&o, dir, policies[p], 5, BIG_SNAPSHOT);
        CHECK(o.journal != NULL);
        CHECK(store_count(o.store) == 60);
        CHECK(check_records(o.store, ids, 0, 60) == 0);
        CHECK(file_size(dir, "journal.1") == (long long)(RECORD_MAGIC_LEN + framed_sizes(ids, 0, 60)));
        close_all(&o);
        free(ids);
    }
}

/* A small snapshot_after_bytes: several rotations, and after close one snapshot and one
 * journal are left (the snapshot asked for last is finished by journal_close); a reopen
 * loads the snapshot and replays only the last journal; appends go on from there. */
static void test_snapshots(void)
{
    enum { N = 600, MORE = 100 };
    char dir[PATH_MAX];
    new_dir(dir, "snapshots");
    objectid *ids = ids_make(N + MORE);
    opened a;
    open_with(&a, dir, "always", 1000, "4096");
    CHECK(a.journal != NULL);
    if (a.journal == NULL) {
        close_all(&a);
        free(ids);
        return;
    }
    CHECK(append_range(a.journal, ids, 0, N, 20) == N);
    journal_close(a.journal);
    a.journal = NULL;

    unsigned long long snap = 0, jrnl = 0;
    CHECK(count_files(dir, "snapshot", &snap) == 1);
    CHECK(count_files(dir, "journal", &jrnl) == 1);
    CHECK(snap == jrnl && snap >= 2);
    char name[64], path[PATH_MAX];
    snprintf(name, sizeof name, "snapshot.%llu.tmp", snap);
    CHECK(!file_exists(dir, name));
    snprintf(name, sizeof name, "snapshot.%llu", snap);
    path_of(path, dir, name);
    CHECK(file_mode(path) == 0600);
    snprintf(name, sizeof name, "journal.%llu", jrnl);
    path_of(path, dir, name);
    CHECK(file_mode(path) == 0600);
    fprintf(stderr, "test_snapshots: %llu rotations\n", snap - 1);

    opened b;
    open_with(&b, dir, "always", 1000, "4096");
    CHECK(b.journal != NULL);
    if (b.journal == NULL) {
        fprintf(stderr, "reopen: %s\n", b.err);
        close_all(&b);
        close_all(&a);
        free(ids);
        return;
    }
    CHECK(b.stats.snapshot == snap);
    CHECK(b.stats.webhooks == N);
    CHECK(b.stats.journal_records < N);
    CHECK(b.stats.torn_bytes == 0);
    CHECK(check_records(b.store, ids, 0, N) == 0);
    CHECK(compare_order(a.store, b.store) == 0);
    CHECK(append_range(b.journal, ids, N, N + MORE, 10) == MORE);
    journal_close(b.journal);
    b.journal = NULL;
    CHECK(count_files(dir, "snapshot", NULL) == 1 && count_files(dir, "journal", NULL) == 1);

    opened c;
    open_with(&c, dir, "always", 1000, "4096");
    CHECK(c.journal != NULL);
    CHECK(store_count(c.store) == N + MORE);
    CHECK(check_records(c.store, ids, 0, N + MORE) == 0);
    CHECK(compare_order(b.store, c.store) == 0);
    close_all(&c);
    close_all(&b);
    close_all(&a);
    free(ids);
}

/* Record i framed as the journal writes it; returns its length. */
static size_t frame_record(size_t i, const objectid *ids, uint8_t *out)
{
    spec sp;
    spec_make(&sp, i, &ids[i]);
    schema_stored_webhook m;
    record_from_webhook(&sp.w, &m);
    return record_frame(&m.base, out);
}

/* A journal of records 0..n-1, written by the journal itself in batches; returns its bytes. */
static uint8_t *journal_made(const char *label, const objectid *ids, size_t n, size_t *len)
{
    char dir[PATH_MAX];
    new_dir(dir, label);
    opened o;
    open_default(&o, dir);
    CHECK(o.journal != NULL);
    if (o.journal == NULL) {
        close_all(&o);
        return NULL;
    }
    CHECK(append_range(o.journal, ids, 0, n, 5) == n);
    close_all(&o);
    return file_read(dir, "journal.1", len);
}

/* dir/journal.1 = data; a reopen keeps `want` records and cuts the file to want_size, and
 * later appends and reopens work. */
static void torn_case(const char *label, const uint8_t *data, size_t len, const objectid *ids, size_t want,
                      size_t want_size)
{
    char dir[PATH_MAX];
    new_dir(dir, label);
    CHECK(mkdir(dir, 0700) == 0);
    file_write(dir, "journal.1", "wb", data, len);
    opened o;
    open_default(&o, dir);
    CHECK(o.journal != NULL);
    if (o.journal == NULL) {
        fprintf(stderr, "%s: journal_open: %s\n", label, o.err);
        close_all(&o);
        return;
    }
    if (o.stats.torn_bytes != len - want_size || store_count(o.store) != want)
        fprintf(stderr, "%s: torn_bytes %zu (want %zu), %zu records (want %zu)\n", label, o.stats.torn_bytes,
                len - want_size, store_count(o.store), want);
    CHECK(o.stats.torn_bytes == len - want_size);
    CHECK(o.stats.torn_bytes > 0);
    CHECK(store_count(o.store) == want);
    CHECK(o.stats.journal_records == want);
    CHECK(check_records(o.store, ids, 0, want) == 0);
    CHECK(file_size(dir, "journal.1") == (long long)want_size);
    /* the cut-off bytes are kept beside the journal for the operator, unless all zeros */
    int zeros = 1;
    for (size_t i = want_size; i < len; i++)
        zeros = zeros && data[i] == 0;
    char kept[64];
    snprintf(kept, sizeof kept, "journal.1.torn-%zu", want_size);
    size_t kept_len = 0;
    uint8_t *kept_data = file_read(dir, kept, &kept_len);
    if (zeros) {
        CHECK(kept_data == NULL);
    } else {
        if (kept_data == NULL || kept_len != len - want_size || memcmp(kept_data, data + want_size, kept_len) != 0)
            fprintf(stderr, "%s: %s missing or not the %zu bytes cut off\n", label, kept, len - want_size);
        CHECK(kept_data != NULL && kept_len == len - want_size &&
              memcmp(kept_data, data + want_size, len - want_size) == 0);
    }
    free(kept_data);
    CHECK(append_range(o.journal, ids, want, want + 3, 2) == 3);
    close_all(&o);
    CHECK(file_size(dir, "journal.1") == (long long)(want_size + framed_sizes(ids, want, want + 3)));
    open_default(&o, dir);
    CHECK(o.journal != NULL);
    CHECK(o.stats.torn_bytes == 0);
    CHECK(store_count(o.store) == want + 3);
    CHECK(check_records(o.store, ids, 0, want + 3) == 0);
    close_all(&o);
}

/* What a crash mid-append leaves at the end of the last journal: part of a record, a record
 * whose payload is not all there or not the one checksummed, zeros. */
static void test_torn_tail(void)
{
    enum { N = 20 };
    objectid *ids = ids_make(N + 24);
    size_t base_len = 0;
    uint8_t *base = journal_made("torn-base", ids, N, &base_len);
    CHECK(base != NULL && base_len == RECORD_MAGIC_LEN + framed_sizes(ids, 0, N));
    if (base == NULL) {
        free(ids);
        return;
    }
    size_t last = base_len - framed_size_of(N - 1, ids), last_len = framed_size_of(N - 1, ids);
    uint8_t extra[4096], *data = malloc(base_len + 2 * sizeof extra);
    size_t extra_len = frame_record(N, ids, extra);
    const size_t keeps[] = {1, 4, 7, 8, 9, extra_len / 2, extra_len - 1};
    char label[64];

    /* part of one more record after the good ones */
    for (size_t k = 0; k < sizeof keeps / sizeof keeps[0]; k++) {
        memcpy(data, base, base_len);
        memcpy(data + base_len, extra, keeps[k]);
        snprintf(label, sizeof label, "torn-append-%zu", keeps[k]);
        torn_case(label, data, base_len + keeps[k], ids, N, base_len);
    }
    /* the last record cut short */
    const size_t cuts[] = {1, 4, 7, 8, 9, last_len / 2, last_len - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        snprintf(label, sizeof label, "torn-cut-%zu", cuts[k]);
        torn_case(label, base, last + cuts[k], ids, N - 1, last);
    }
    /* zeros after the last record: an extend of the file that never got its data */
    memcpy(data, base, base_len);
    memset(data + base_len, 0, sizeof extra);
    torn_case("torn-zeros", data, base_len + sizeof extra, ids, N, base_len);
    /* a whole record whose bytes from a sector boundary inside it on never reached the disk
     * (zeros to the end of a file that grew): records N, N+1, ... appended whole until one
     * crosses a boundary, which is then zeroed from the boundary on */
    memcpy(data, base, base_len);
    size_t rec = base_len, good = N, rec_len = 0;
    for (;;) {
        HG_ASSERT(good < N + 20 && rec + 4096 <= base_len + 2 * sizeof extra);
        rec_len = frame_record(good, ids, data + rec);
        if ((rec + 1) / RECORD_SECTOR != (rec + rec_len - 1) / RECORD_SECTOR)
            break;
        rec += rec_len, good++;
    }
    size_t boundary = (rec / RECORD_SECTOR + 1) * RECORD_SECTOR;
    memset(data + boundary, 0, rec + rec_len - boundary);
    torn_case("torn-sector-zeros", data, rec + rec_len, ids, good, rec);
    /* a header whose length runs past the end, then garbage */
    memcpy(data, base, base_len);
    memcpy(data + base_len, extra, RECORD_HEADER_LEN);
    memcpy(data + base_len + RECORD_HEADER_LEN, "garbage!", 8);
    torn_case("torn-garbage", data, base_len + RECORD_HEADER_LEN + 8, ids, N, base_len);
    free(data);
    free(base);
    free(ids);
}

/* Follows the advice in a start-up error: "truncate -s OFFSET PATH". Returns OFFSET, or -1
 * when the message has no such advice or the path is not dir/name. */
static long long follow_advice(const char *err, const char *dir, const char *name)
{
    const char *p = strstr(err, "truncate -s ");
    if (p == NULL)
        return -1;
    char *end;
    long long offset = strtoll(p + strlen("truncate -s "), &end, 10);
    if (*end != ' ')
        return -1;
    char path[PATH_MAX], want[PATH_MAX];
    size_t n = strcspn(end + 1, " ");
    if (n >= sizeof path)
        return -1;
    memcpy(path, end + 1, n);
    path[n] = '\0';
    path_of(want, dir, name);
    if (strcmp(path, want) != 0) {
        fprintf(stderr, "advice names %s, not %s\n", path, want);
        return -1;
    }
    return truncate(path, (off_t)offset) == 0 ? offset : -1;
}

/* dir/journal.1 = data: the open must fail naming journal.1, its offset `at` and a truncate
 * command; following it, a reopen loads records 0..want-1 and appends work. */
static void corrupt_case(const char *label, const uint8_t *data, size_t len, const objectid *ids, size_t at,
                         size_t want)
{
    char dir[PATH_MAX];
    new_dir(dir, label);
    CHECK(mkdir(dir, 0700) == 0);
    file_write(dir, "journal.1", "wb", data, len);
    opened o;
    open_default(&o, dir);
    if (o.journal != NULL)
        fprintf(stderr,
                "%s: journal_open succeeded (%zu records, %zu torn bytes dropped); want a refusal at offset %zu\n",
                label, store_count(o.store), o.stats.torn_bytes, at);
    CHECK(o.journal == NULL);
    if (o.journal != NULL) {
        close_all(&o);
        return;
    }
    char want_offset[64];
    snprintf(want_offset, sizeof want_offset, "offset %zu", at);
    if (strstr(o.err, "journal.1") == NULL || strstr(o.err, want_offset) == NULL ||
        strstr(o.err, "truncate -s ") == NULL)
        fprintf(stderr, "%s: the message lacks journal.1, \"%s\" or \"truncate -s\": %s\n", label, want_offset, o.err);
    CHECK(strstr(o.err, "journal.1") != NULL);
    CHECK(strstr(o.err, want_offset) != NULL);
    CHECK(strstr(o.err, "truncate -s ") != NULL);
    CHECK(follow_advice(o.err, dir, "journal.1") == (long long)at);
    close_all(&o);
    open_default(&o, dir);
    CHECK(o.journal != NULL);
    if (o.journal == NULL) {
        fprintf(stderr, "%s: after the advice: %s\n", label, o.err);
        close_all(&o);
        return;
    }
    CHECK(o.stats.torn_bytes == 0);
    CHECK(store_count(o.store) == want);
    CHECK(check_records(o.store, ids, 0, want) == 0);
    CHECK(append_range(o.journal, ids, want, want + 2, 2) == 2);
    close_all(&o);
    open_default(&o, dir);
    CHECK(o.journal != NULL);
    CHECK(store_count(o.store) == want + 2);
    CHECK(check_records(o.store, ids, 0, want + 2) == 0);
    close_all(&o);
}

/* Damage before good records is not a torn tail: start-up stops and says where, and what it
 * says to do works. */
static void test_corrupt_middle(void)
{
    enum { N = 20, BAD = 3 };
    objectid *ids = ids_make(N + 2);
    size_t base_len = 0;
    uint8_t *base = journal_made("corrupt-base", ids, N, &base_len);
    if (base == NULL) {
        free(ids);
        return;
    }
    size_t at = RECORD_MAGIC_LEN + framed_sizes(ids, 0, BAD), bad_len = framed_size_of(BAD, ids);
    uint8_t *data = malloc(base_len + 4096);

    /* a payload byte, the CRC, the low byte of the length */
    const size_t flips[] = {RECORD_HEADER_LEN + 5, bad_len - 1, 4, 7, 0};
    for (size_t k = 0; k < sizeof flips / sizeof flips[0]; k++) {
        memcpy(data, base, base_len);
        data[at + flips[k]] ^= 0x01;
        char label[64];
        snprintf(label, sizeof label, "corrupt-flip-%zu", flips[k]);
        corrupt_case(label, data, base_len, ids, at, BAD);
    }
    /* a length byte flipped so the record claims more bytes than the file has left (but less
     * than RECORD_MAX_PAYLOAD): the 16 good records after it must not be dropped as a torn tail */
    memcpy(data, base, base_len);
    data[at + 2] ^= 0x01;
    corrupt_case("corrupt-length-past-end", data, base_len, ids, at, BAD);

    /* The last record, whole and acknowledged, with a byte flipped (payload, CRC, length):
     * damage, not a torn tail (the disk or a copy changed it; a crash leaves a record cut
     * short, or zeros). Start-up stops with the advice, as for any other record. */
    size_t last = base_len - framed_size_of(N - 1, ids), last_len = framed_size_of(N - 1, ids);
    const size_t last_flips[] = {RECORD_HEADER_LEN + 5, last_len - 1, last_len - 3, 4, 7, 0, 1};
    for (size_t k = 0; k < sizeof last_flips / sizeof last_flips[0]; k++) {
        memcpy(data, base, base_len);
        data[last + last_flips[k]] ^= last_flips[k] == 1 ? 0x10 : 0x01; /* byte 1: a length that runs past the end */
        char label[64];
        snprintf(label, sizeof label, "corrupt-last-flip-%zu", last_flips[k]);
        corrupt_case(label, data, base_len, ids, last, N - 1);
    }

    /* a good checksum around something that is not a webhook */
    memcpy(data, base, at);
    schema_snapshot_header h = SCHEMA_SNAPSHOT_HEADER_INIT;
    h.version = 1;
    h.count = 7;
    size_t hl = record_frame(&h.base, data + at);
    memcpy(data + at + hl, base + at, base_len - at);
    corrupt_case("corrupt-not-webhook", data, base_len + hl, ids, at, BAD);

    /* a record appearing twice */
    memcpy(data, base, at);
    memcpy(data + at, base + RECORD_MAGIC_LEN, framed_size_of(0, ids));
    memcpy(data + at + framed_size_of(0, ids), base + at, base_len - at);
    corrupt_case("corrupt-duplicate", data, base_len + framed_size_of(0, ids), ids, at, BAD);

    /* bytes after the last record that no crash writes: a non-zero, impossible length */
    memcpy(data, base, base_len);
    memcpy(data + base_len, "garbage!garbage!", 16);
    corrupt_case("corrupt-garbage-tail", data, base_len + 16, ids, base_len, N);
    free(data);
    free(base);
    free(ids);
}

/* Hand-made store directories: leftover temp snapshots are removed; a journal missing from
 * the sequence stops start-up with a message naming it. */
static void test_leftovers_and_gaps(void)
{
    enum { N = 20 };
    objectid *ids = ids_make(N + 2);
    char dir[PATH_MAX];
    opened o;

    /* a snapshot that was never finished */
    new_dir(dir, "leftover-tmp");
    open_default(&o, dir);
    CHECK(o.journal != NULL);
    if (o.journal != NULL)
        CHECK(append_range(o.journal, ids, 0, 3, 3) == 3);
    close_all(&o);
    file_write(dir, "snapshot.9.tmp", "wb", "HGSNAP01half-written", 20);
    open_default(&o, dir);
    CHECK(o.journal != NULL);
    CHECK(!file_exists(dir, "snapshot.9.tmp"));
    CHECK(store_count(o.store) == 3 && o.stats.snapshot == 0);
    close_all(&o);

    /* journals 1, 2, 3: all load; without journal.2, start-up stops */
    new_dir(dir, "gap");
    CHECK(mkdir(dir, 0700) == 0);
    file_write_records(dir, "journal.1", RECORD_JOURNAL_MAGIC, ids, 0, 5);
    file_write_records(dir, "journal.2", RECORD_JOURNAL_MAGIC, ids, 5, 10);
    file_write_records(dir, "journal.3", RECORD_JOURNAL_MAGIC, ids, 10, 15);
    open_default(&o, dir);
    CHECK(o.journal != NULL);
    CHECK(store_count(o.store) == 15 && o.stats.journal_records == 15);
    CHECK(check_records(o.store, ids, 0, 15) == 0);
    if (o.journal != NULL)
        CHECK(append_range(o.journal, ids, 15, 17, 2) == 2);
    close_all(&o);
    CHECK(file_size(dir, "journal.3") ==
          (long long)(RECORD_MAGIC_LEN + framed_sizes(ids, 10, 15) + framed_sizes(ids, 15, 17)));
    char path[PATH_MAX];
    path_of(path, dir, "journal.2");
    CHECK(unlink(path) == 0);
    open_default(&o, dir);
    CHECK(o.journal == NULL);
    CHECK(strstr(o.err, "journal.2") != NULL && strstr(o.err, "missing") != NULL);
    close_all(&o);

    /* snapshot.2 and journals 2, 3, 4 (and an old journal.1, skipped): all load; without
     * journal.3, start-up stops */
    new_dir(dir, "gap-snapshot");
    CHECK(mkdir(dir, 0700) == 0);
    file_write_records(dir, "journal.1", RECORD_JOURNAL_MAGIC, ids, 0, 5);
    file_write_records(dir, "snapshot.2", RECORD_SNAPSHOT_MAGIC, ids, 0, 5);
    file_write_records(dir, "journal.2", RECORD_JOURNAL_MAGIC, ids, 5, 10);
    file_write_records(dir, "journal.3", RECORD_JOURNAL_MAGIC, ids, 10, 15);
    file_write_records(dir, "journal.4", RECORD_JOURNAL_MAGIC, ids, 15, 20);
    open_default(&o, dir);
    CHECK(o.journal != NULL);
    CHECK(store_count(o.store) == 20 && o.stats.snapshot == 2 && o.stats.journal_records == 15);
    CHECK(check_records(o.store, ids, 0, 20) == 0);
    close_all(&o);
    path_of(path, dir, "journal.3");
    CHECK(unlink(path) == 0);
    open_default(&o, dir);
    CHECK(o.journal == NULL);
    CHECK(strstr(o.err, "journal.3") != NULL && strstr(o.err, "missing") != NULL);
    close_all(&o);

    /* the first journal of the sequence missing: journal.1 is made at the first start and
     * only removed after a snapshot.N (N > 1) is in place, and journal.N is made before
     * snapshot.N is asked for; so journals 2 and 3 alone, or snapshot.2 with journal.3
     * alone, mean records were lost */
    new_dir(dir, "gap-first");
    CHECK(mkdir(dir, 0700) == 0);
    file_write_records(dir, "journal.2", RECORD_JOURNAL_MAGIC, ids, 5, 10);
    file_write_records(dir, "journal.3", RECORD_JOURNAL_MAGIC, ids, 10, 15);
    open_default(&o, dir);
    if (o.journal != NULL)
        fprintf(stderr, "gap-first: journal.2 and journal.3 without journal.1 or a snapshot: opened with %zu records\n",
                store_count(o.store));
    CHECK(o.journal == NULL);
    CHECK(strstr(o.err, "journal.1") != NULL && strstr(o.err, "missing") != NULL);
    close_all(&o);

    new_dir(dir, "gap-first-snapshot");
    CHECK(mkdir(dir, 0700) == 0);
    file_write_records(dir, "snapshot.2", RECORD_SNAPSHOT_MAGIC, ids, 0, 5);
    file_write_records(dir, "journal.3", RECORD_JOURNAL_MAGIC, ids, 10, 15);
    open_default(&o, dir);
    if (o.journal != NULL)
        fprintf(stderr, "gap-first-snapshot: snapshot.2 and journal.3 without journal.2: opened with %zu records\n",
                store_count(o.store));
    CHECK(o.journal == NULL);
    CHECK(strstr(o.err, "journal.2") != NULL && strstr(o.err, "missing") != NULL);
    close_all(&o);

    /* a journal before the last one that ends torn is damage, not a crash's tail */
    new_dir(dir, "torn-not-last");
    CHECK(mkdir(dir, 0700) == 0);
    file_write_records(dir, "journal.1", RECORD_JOURNAL_MAGIC, ids, 0, 5);
    file_write_records(dir, "journal.2", RECORD_JOURNAL_MAGIC, ids, 5, 10);
    file_cut(dir, "journal.1", file_size(dir, "journal.1") - 3);
    open_default(&o, dir);
    CHECK(o.journal == NULL);
    CHECK(strstr(o.err, "journal.1") != NULL && strstr(o.err, "offset") != NULL);
    close_all(&o);
    free(ids);
}

/* Appends of records first..first+n-1 queued at once; returns how many were stored and marks
 * each in stored[]. */
static size_t append_marking(journal *j, const objectid *ids, size_t first, size_t n, int *stored, int *statuses)
{
    waiter w;
    waiter_init(&w, n);
    test_op *ops = calloc(n, sizeof(*ops));
    for (size_t i = 0; i < n; i++)
        append_one(j, &w, &ops[i], first + i, ids);
    waiter_wait(&w, n);
    for (size_t i = 0; i < n; i++) {
        stored[first + i] = ops[i].stored;
        statuses[first + i] = ops[i].status;
    }
    size_t count = w.stored;
    free(ops);
    waiter_destroy(&w);
    return count;
}

/* A disk that refuses writes (the file size limit, EFBIG): appends fail with that errno and leave nothing in the file; once the disk takes writes again, appends
 * succeed by themselves; a reopen has exactly the ones that succeeded. */
static void test_write_failure(void)
{
    enum { N = 40 };
    objectid *ids = ids_make(N);
    int stored[N] = {0};
    int statuses[N] = {0};
    char dir[PATH_MAX];
    new_dir(dir, "write-failure");
    opened o;
    open_default(&o, dir);
    CHECK(o.journal != NULL);
    if (o.journal == NULL) {
        free(ids);
        close_all(&o);
        return;
    }
    CHECK(append_marking(o.journal, ids, 0, 10, stored, statuses) == 10);
    long long size = file_size(dir, "journal.1");
    CHECK(size == (long long)(RECORD_MAGIC_LEN + framed_sizes(ids, 0, 10)));

    struct rlimit old, low;
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    low = old;
    low.rlim_cur = (rlim_t)size + 40; /* less than any one record: a write stops part way */
    CHECK(old.rlim_max == RLIM_INFINITY || old.rlim_max >= low.rlim_cur);
    CHECK(setrlimit(RLIMIT_FSIZE, &low) == 0);

    /* one at a time, then five at once */
    for (size_t i = 10; i < 15; i++) {
        CHECK(append_marking(o.journal, ids, i, 1, stored, statuses) == 0);
        CHECK(statuses[i] == EFBIG);
        CHECK(journal_is_writable(o.journal) == 0);
    }
    CHECK(append_marking(o.journal, ids, 15, 5, stored, statuses) == 0);
    for (size_t i = 15; i < 20; i++)
        CHECK(!stored[i] && statuses[i] == EFBIG);
    CHECK(journal_is_writable(o.journal) == 0);
    CHECK(file_size(dir, "journal.1") == size); /* what a failed write left is cut back */
    CHECK(store_count(o.store) == 10);
    for (size_t i = 10; i < 20; i++)
        CHECK(store_get(o.store, &ids[i]) == NULL);

    /* room for one record and a half: which of five queued at once are stored depends on
     * how the writer batches them (one batch of five, or [20,21] [22,23] [24] when the
     * writer wakes between appends), but at most one is, and the file holds exactly those,
     * whole */
    low.rlim_cur = (rlim_t)size + framed_size_of(20, ids) + framed_size_of(21, ids) / 2;
    CHECK(setrlimit(RLIMIT_FSIZE, &low) == 0);
    size_t some = append_marking(o.journal, ids, 20, 5, stored, statuses);
    CHECK(some <= 1);
    for (size_t i = 20; i < 25; i++)
        CHECK(stored[i] ? store_get(o.store, &ids[i]) != NULL : statuses[i] == EFBIG);
    /* writable says how the last batch went: refused, unless the one stored was the last
     * append, alone in its batch (the [24] above) */
    CHECK(journal_is_writable(o.journal) == stored[24]);
    size_t expect = RECORD_MAGIC_LEN;
    for (size_t i = 0; i < 25; i++)
        expect += stored[i] ? framed_size_of(i, ids) : 0;
    CHECK(file_size(dir, "journal.1") == (long long)expect);

    /* the disk takes writes again: no restart, no call, the next append succeeds */
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    signal(SIGXFSZ, old_handler);
    CHECK(append_marking(o.journal, ids, 25, 1, stored, statuses) == 1);
    CHECK(journal_is_writable(o.journal) == 1);
    CHECK(append_marking(o.journal, ids, 26, N - 26, stored, statuses) == N - 26);
    CHECK(journal_is_writable(o.journal) == 1);
    size_t n_stored = 0;
    expect = RECORD_MAGIC_LEN;
    for (size_t i = 0; i < N; i++) {
        n_stored += stored[i] != 0;
        expect += stored[i] ? framed_size_of(i, ids) : 0;
    }
    CHECK(store_count(o.store) == n_stored);
    close_all(&o);
    CHECK(file_size(dir, "journal.1") == (long long)expect);

    open_default(&o, dir);
    CHECK(o.journal != NULL);
    CHECK(o.stats.torn_bytes == 0);
    CHECK(store_count(o.store) == n_stored && o.stats.journal_records == n_stored);
    size_t wrong = 0;
    for (size_t i = 0; i < N; i++) {
        const store_webhook *r = store_get(o.store, &ids[i]);
        if (stored[i]) {
            spec sp;
            spec_make(&sp, i, &ids[i]);
            wrong += r == NULL || !webhook_equal(r, &sp.w);
        } else {
            wrong += r != NULL;
        }
    }
    CHECK(wrong == 0);
    close_all(&o);
    free(ids);
}

/* The queue is bounded: with the writer held inside one append's done, max_queue more
 * appends wait and the next is refused at once (never queued, its done never called);
 * once the writer goes on, every accepted append is stored. */
typedef struct held_op {
    journal_op op;
    pthread_mutex_t *lock;
    pthread_cond_t *cond;
    int *entered, *release, *finished;
} held_op;

static void held_done(journal_op *op)
{
    held_op *h = (held_op *)op;
    const store_webhook *stored = insert_written(op);
    pthread_mutex_lock(h->lock);
    (*h->entered)++;
    pthread_cond_broadcast(h->cond);
    while (!*h->release)
        pthread_cond_wait(h->cond, h->lock);
    (*h->finished) += stored != NULL;
    pthread_mutex_unlock(h->lock);
}

static void test_queue_bound(void)
{
    enum { MAX_QUEUE = 3, N = MAX_QUEUE + 2 };
    char dir[PATH_MAX];
    new_dir(dir, "queue-bound");
    store *st = store_create();
    journal_options opts = options_of(dir, "never", 1000, BIG_SNAPSHOT);
    opts.max_queue = MAX_QUEUE;
    journal_stats stats;
    char err[JOURNAL_ERROR_MAX];
    journal *j = journal_open(&opts, st, &stats, err);
    CHECK(j != NULL);
    appending_to = st;
    if (j == NULL) {
        store_destroy(st);
        return;
    }
    objectid *ids = ids_make(N);
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
    int entered = 0, release = 0, finished = 0;
    held_op ops[N];
    for (size_t i = 0; i < N; i++) {
        spec sp;
        spec_make(&sp, i, &ids[i]);
        ops[i] = (held_op){.op = {.record = store_record_new(&sp.w), .done = held_done},
                           .lock = &lock, .cond = &cond, .entered = &entered, .release = &release,
                           .finished = &finished};
    }
    CHECK(journal_append(j, &ops[0].op) == 0);
    pthread_mutex_lock(&lock); /* the writer now sits in ops[0]'s done */
    while (entered == 0)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    for (size_t i = 1; i <= MAX_QUEUE; i++)
        CHECK(journal_append(j, &ops[i].op) == 0);
    CHECK(journal_queue_depth(j) == MAX_QUEUE);
    CHECK(journal_append(j, &ops[N - 1].op) == -1);
    CHECK(ops[N - 1].op.record != NULL); /* refused: still the caller's */
    store_record_free(ops[N - 1].op.record);
    pthread_mutex_lock(&lock);
    release = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    journal_close(j); /* finishes every queued append */
    CHECK(entered == MAX_QUEUE + 1 && finished == MAX_QUEUE + 1);
    CHECK(store_count(st) == MAX_QUEUE + 1);
    store_destroy(st);
    free(ids);
}

/* Start-up out of memory, SQLite's way: a directory with snapshot.2 (records 0..19), a
 * leftover journal.1 and journal.2 (20..39), opened with allocation 1, 2, ... failing. A
 * start-up that fails says it ran out of memory, never that a file is corrupt (its advice
 * would be to cut or restore a good file), touches no file, frees everything and releases
 * the lock: the same directory then opens whole. One that succeeds has every record. */
#define OOM_RECORDS 40

typedef struct journal_oom {
    char dir[PATH_MAX];
    objectid *ids;
    uint8_t *files[3]; /* snapshot.2, journal.1, journal.2 as written */
    size_t lens[3];
    journal_options opts;
    opened o;
} journal_oom;

static const char *const OOM_FILES[3] = {"snapshot.2", "journal.1", "journal.2"};

static void journal_oom_setup(void *ctx)
{
    journal_oom *t = ctx;
    memset(&t->o, 0, sizeof t->o);
    t->o.store = store_create();
    t->opts = options_of(t->dir, "always", 1000, BIG_SNAPSHOT);
}

static int journal_oom_open(void *ctx)
{
    journal_oom *t = ctx;
    t->o.journal = journal_open(&t->opts, t->o.store, &t->o.stats, t->o.err);
    return t->o.journal != NULL ? 0 : -1;
}

static void journal_oom_check(void *ctx, int ok)
{
    journal_oom *t = ctx;
    if (ok) {
        CHECK(store_count(t->o.store) == OOM_RECORDS);
        CHECK(check_records(t->o.store, t->ids, 0, OOM_RECORDS) == 0);
        CHECK(t->o.stats.snapshot == 2 && t->o.stats.journal_records == OOM_RECORDS / 2);
        return;
    }
    if ((strstr(t->o.err, "out of memory") == NULL && strstr(t->o.err, strerror(ENOMEM)) == NULL) ||
        strstr(t->o.err, "corrupt") != NULL || strstr(t->o.err, "truncate") != NULL ||
        strstr(t->o.err, "restore") != NULL) {
        fprintf(stderr, "journal_open out of memory said: %s\n", t->o.err);
        test_failures++;
    }
    for (size_t k = 0; k < 3; k++) {
        size_t len = 0;
        uint8_t *now = file_read(t->dir, OOM_FILES[k], &len);
        CHECK(now != NULL && len == t->lens[k] && memcmp(now, t->files[k], len) == 0);
        free(now);
    }
    opened again; /* the lock is free and nothing was half-done to the files */
    open_default(&again, t->dir);
    CHECK(again.journal != NULL && store_count(again.store) == OOM_RECORDS);
    close_all(&again);
}

static void journal_oom_teardown(void *ctx)
{
    journal_oom *t = ctx;
    close_all(&t->o);
}

static void test_out_of_memory(void)
{
    static journal_oom t;
    new_dir(t.dir, "oom");
    CHECK(mkdir(t.dir, 0700) == 0);
    t.ids = ids_make(OOM_RECORDS);
    file_write_records(t.dir, "snapshot.2", RECORD_SNAPSHOT_MAGIC, t.ids, 0, OOM_RECORDS / 2);
    file_write_records(t.dir, "journal.1", RECORD_JOURNAL_MAGIC, t.ids, 0, 3);
    file_write_records(t.dir, "journal.2", RECORD_JOURNAL_MAGIC, t.ids, OOM_RECORDS / 2, OOM_RECORDS);
    for (size_t k = 0; k < 3; k++)
        t.files[k] = file_read(t.dir, OOM_FILES[k], &t.lens[k]);
    oom_op op = {"journal_open (snapshot + journals)",
                 &t,
                 journal_oom_setup,
                 journal_oom_open,
                 journal_oom_check,
                 journal_oom_teardown};
    CHECK(oom_loop(&op) == 0);
    CHECK(oom_loop_persistent(&op) == 0);
    for (size_t k = 0; k < 3; k++)
        free(t.files[k]);
    free(t.ids);
}

/* The journal keeps room reserved ahead of its writes (blocks past its end, the size
 * unchanged), and gives it back when closed. Checked through st_blocks, where the file
 * system can reserve (the tests' /tmp: ext4 or tmpfs); the test fails on one that cannot. */
static void test_reservation(void)
{
    char dir[PATH_MAX];
    new_dir(dir, "reserve");
    objectid *ids = ids_make(20);
    opened o;
    open_default(&o, dir);
    CHECK(o.journal != NULL);
    if (o.journal == NULL) {
        free(ids);
        return;
    }
    CHECK(append_range(o.journal, ids, 0, 20, 5) == 20);
    char path[PATH_MAX];
    path_of(path, dir, "journal.1");
    struct stat st;
    CHECK(stat(path, &st) == 0);
    long long size = file_size(dir, "journal.1");
    CHECK(size == (long long)(RECORD_MAGIC_LEN + framed_sizes(ids, 0, 20))); /* the size is the records' */
    if ((long long)st.st_blocks * 512 < size + JOURNAL_PREALLOC_BYTES / 2)
        fprintf(stderr, "test_reservation: %lld bytes allocated for a journal of %lld: no reservation ahead\n",
                (long long)st.st_blocks * 512, size);
    CHECK((long long)st.st_blocks * 512 >= size + JOURNAL_PREALLOC_BYTES / 2);
    close_all(&o);
    CHECK(stat(path, &st) == 0);
    CHECK(st.st_size == size);
    CHECK((long long)st.st_blocks * 512 < size + 64 * 1024); /* given back at close */
    free(ids);
}

/* The snapshot's free-space rule: it starts only with room for itself plus the margin
 * (no overflow near 2^64), and a refused one waits 1 s, 2 s, 4 s, ... up to the maximum. */
static void test_snapshot_room(void)
{
    const uint64_t M = JOURNAL_SNAPSHOT_MARGIN_BYTES;
    CHECK(M >= 2 * (uint64_t)JOURNAL_PREALLOC_BYTES); /* the journal's next reservations fit beside it */
    CHECK(journal_snapshot_fits(100 + M, 100, M) == 1);
    CHECK(journal_snapshot_fits(100 + M - 1, 100, M) == 0);
    CHECK(journal_snapshot_fits(99, 100, 0) == 0);
    CHECK(journal_snapshot_fits(100, 100, 0) == 1);
    CHECK(journal_snapshot_fits(0, 0, 0) == 1);
    CHECK(journal_snapshot_fits(0, 1, M) == 0);
    /* a snapshot larger than the disk is free, with a margin that would wrap the sum */
    CHECK(journal_snapshot_fits(UINT64_MAX - 1, UINT64_MAX, M) == 0);
    CHECK(journal_snapshot_fits(UINT64_MAX, UINT64_MAX - 5, UINT64_MAX) == 0);
    CHECK(journal_snapshot_fits(UINT64_MAX, 5, UINT64_MAX - 5) == 1);
    /* 1 GiB of webhooks on a disk with 1 GiB + 1 MiB free: refused (the margin is 2 MiB) */
    CHECK(journal_snapshot_fits((1ull << 30) + (1u << 20), 1ull << 30, M) == 0);
    CHECK(journal_snapshot_fits((1ull << 30) + M, 1ull << 30, M) == 1);

}

/* ---- updates and deletes ------------------------------------------------------------------------ */

typedef struct change_op {
    journal_op op; /* first: done gets &op */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done, status, applied;
} change_op;

/* Applies a written change to the index as backend_memory.c does: an update (sets), a
 * delete (a record marked deleted) or a create. */
static void change_done(journal_op *op)
{
    change_op *c = (change_op *)op;
    store_webhook *r = op->record;
    op->record = NULL;
    const store_webhook *v = NULL;
    if (op->status == 0) {
        error err;
        error_clear(&err);
        store_changes ch = {.sets = op->sets, .disabled = r->disabled, .url = r->url, .secret = r->secret,
                            .sealed_secret = r->sealed_secret, .sealed_secret_len = r->sealed_secret_len,
                            .description = r->description};
        v = op->sets != 0 ? store_update(appending_to, &r->id, &ch, &err)
            : r->deleted  ? store_delete(appending_to, &r->id, &err)
                          : store_insert(appending_to, r, &err);
    }
    store_record_free(r);
    pthread_mutex_lock(&c->lock);
    c->status = op->status;
    c->applied = v != NULL;
    c->done = 1;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* Journals one change of w (an update setting `sets`, or w itself: a create, or a delete
 * when w->deleted) and waits until it is applied; 1 when it changed the index. */
static int journal_change(journal *j, const store_webhook *w, unsigned sets)
{
    change_op c;
    memset(&c, 0, sizeof c);
    pthread_mutex_init(&c.lock, NULL);
    pthread_cond_init(&c.cond, NULL);
    c.op.record = store_record_new(w);
    c.op.sets = sets;
    c.op.done = change_done;
    CHECK(c.op.record != NULL && journal_append(j, &c.op) == 0);
    pthread_mutex_lock(&c.lock);
    while (!c.done)
        pthread_cond_wait(&c.cond, &c.lock);
    pthread_mutex_unlock(&c.lock);
    pthread_mutex_destroy(&c.lock);
    pthread_cond_destroy(&c.cond);
    CHECK(c.status == 0);
    return c.applied;
}

/* Updates and deletes survive snapshots and replays: after enough creates behind them to
 * rotate (so a snapshot holds them), a reopen shows every update, no deleted webhook
 * (store_count, store_get, their ecosystems), and the tombstone of a deleted webhook whose
 * Idempotency-Key is within keep_deleted_keys_ms, but not of one past it. A second reopen
 * (from a snapshot written by a journal that replayed the changes) is the same. */
static void test_snapshot_changes(void)
{
    enum { N = 120, MORE = 120 };
    char dir[PATH_MAX];
    new_dir(dir, "changes");
    objectid *ids = ids_make(N + MORE + 2);
    journal_options opts = options_of(dir, "always", 1000, "4096");
    opts.keep_deleted_keys_ms = 3600 * 1000;
    opened a;
    memset(&a, 0, sizeof a);
    a.store = store_create();
    a.journal = journal_open(&opts, a.store, &a.stats, a.err);
    CHECK(a.journal != NULL);
    if (a.journal == NULL) {
        fprintf(stderr, "open: %s\n", a.err);
        close_all(&a);
        free(ids);
        return;
    }
    appending_to = a.store;
    CHECK(append_range(a.journal, ids, 0, N, 20) == N);
    /* two keyed webhooks: one created now, one long before the key's window */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    uint8_t recent[STORE_IDEMPOTENCY_LEN], old[STORE_IDEMPOTENCY_LEN];
    memset(recent, 0x11, sizeof recent);
    memset(old, 0x22, sizeof old);
    spec keyed[2];
    for (int k = 0; k < 2; k++) {
        spec_make(&keyed[k], N + MORE + (size_t)k, &ids[N + MORE + k]);
        keyed[k].w.idempotency = k == 0 ? recent : old;
        keyed[k].w.created_ms = k == 0 ? now_ms : now_ms - 48 * 3600 * 1000LL;
        CHECK(journal_change(a.journal, &keyed[k].w, 0));
    }
    /* every third deleted, the one after it updated */
    size_t deleted = 0;
    for (size_t i = 0; i < N; i += 3) {
        spec sp;
        spec_make(&sp, i, &ids[i]);
        sp.w.deleted = 1;
        CHECK(journal_change(a.journal, &sp.w, 0));
        CHECK(!journal_change(a.journal, &sp.w, 0)); /* a second delete: written, changes nothing */
        deleted++;
        spec up;
        spec_make(&up, i + 1, &ids[i + 1]);
        up.w.url = "https://changed.example/";
        up.w.disabled = 1;
        CHECK(journal_change(a.journal, &up.w, STORE_SET_URL | STORE_SET_DISABLED));
    }
    for (int k = 0; k < 2; k++) {
        keyed[k].w.deleted = 1;
        CHECK(journal_change(a.journal, &keyed[k].w, 0));
    }
    /* creates behind them until a snapshot holds them all. A snapshot starts at a rotation
     * only when none is in progress, and one started by the rotations above may still be
     * writing (slowly, on a loaded machine): reopen first (journal_close waits for it), so
     * that the first rotation below starts a snapshot of everything before it, changes
     * included, whatever the snapshot thread's speed. */
    close_all(&a);
    a.store = store_create();
    a.journal = journal_open(&opts, a.store, &a.stats, a.err);
    CHECK(a.journal != NULL);
    if (a.journal == NULL) {
        fprintf(stderr, "reopen before the creates: %s\n", a.err);
        close_all(&a);
        free(ids);
        return;
    }
    appending_to = a.store;
    CHECK(append_range(a.journal, ids, N, N + MORE, 20) == MORE);
    journal_close(a.journal);
    a.journal = NULL;

    for (int round = 0; round < 2; round++) {
        opened b;
        memset(&b, 0, sizeof b);
        b.store = store_create();
        b.journal = journal_open(&opts, b.store, &b.stats, b.err);
        CHECK(b.journal != NULL);
        if (b.journal == NULL) {
            fprintf(stderr, "reopen: %s\n", b.err);
            close_all(&b);
            break;
        }
        CHECK(b.stats.snapshot >= 2 && b.stats.journal_records < MORE); /* the changes came from a snapshot */
        CHECK(b.stats.webhooks == N + MORE - deleted);
        CHECK(store_count(b.store) == N + MORE - deleted);
        size_t wrong = 0;
        for (size_t i = 0; i < N + MORE; i++) {
            spec sp;
            spec_make(&sp, i, &ids[i]);
            const store_webhook *r = store_get(b.store, &ids[i]);
            if (i < N && i % 3 == 0)
                wrong += r != NULL;
            else if (i < N && i % 3 == 1)
                wrong += r == NULL || strcmp(r->url, "https://changed.example/") != 0 || r->disabled != 1 ||
                         strcmp(r->description, sp.w.description) != 0 || strcmp(r->secret, sp.w.secret) != 0;
            else
                wrong += r == NULL || !webhook_equal(r, &sp.w);
        }
        CHECK(wrong == 0);
        const store_webhook *t = store_get_idempotent(b.store, recent);
        CHECK(t != NULL && t->deleted);
        CHECK(store_get_idempotent(b.store, old) == NULL);
        CHECK(store_get(b.store, &ids[N + MORE]) == NULL && store_get(b.store, &ids[N + MORE + 1]) == NULL);
        size_t listed = 0;
        for (size_t k = 0; k < N_ECOSYSTEMS; k++) {
            eco_list l;
            eco_collect(b.store, k, &l);
            listed += l.n;
        }
        CHECK(listed == N + MORE - deleted);
        /* rotate once more from the reloaded state before the second round */
        if (round == 0) {
            appending_to = b.store;
            spec sp;
            spec_make(&sp, 1, &ids[1]);
            sp.w.url = "https://changed.example/";
            for (int k = 0; k < 120; k++) /* enough bytes to rotate again */
                CHECK(journal_change(b.journal, &sp.w, STORE_SET_URL));
        }
        close_all(&b);
    }
    close_all(&a);
    free(ids);
}

/* ---- sealed secrets -------------------------------------------------------------------- */

/* Opens dir with keys (none when keys is NULL). */
static void open_keyed(opened *o, const char *dir, const seal_keyring *keys)
{
    memset(o, 0, sizeof(*o));
    o->store = store_create();
    journal_options opts = options_of(dir, "always", 1000, BIG_SNAPSHOT);
    opts.keys = keys;
    o->journal = journal_open(&opts, o->store, &o->stats, o->err);
    if (o->journal != NULL)
        appending_to = o->store;
}

/* Records from..to-1 are in s with their secrets sealed (or "" when they have none) and
 * opening to the spec's; returns how many are not. */
static size_t check_sealed(store *s, const seal_keyring *keys, const objectid *ids, size_t from, size_t to)
{
    size_t bad = 0;
    for (size_t i = from; i < to; i++) {
        spec sp;
        spec_make(&sp, i, &ids[i]);
        const store_webhook *r = store_get(s, &ids[i]);
        char out[64];
        size_t n;
        int ok = r != NULL && strcmp(r->secret, "") == 0 && strcmp(r->url, sp.url) == 0 &&
                 (sp.secret[0] == '\0'
                      ? r->sealed_secret == NULL
                      : r->sealed_secret != NULL && r->sealed_secret_len < sizeof out + SEAL_OVERHEAD &&
                            seal_open(keys, &r->id, r->sealed_secret, r->sealed_secret_len, out, &n) == SEAL_OK &&
                            strcmp(out, sp.secret) == 0);
        bad += !ok;
    }
    return bad;
}

/* Occurrences of the specs' secrets in the store directory's journals and snapshots. */
static size_t secrets_on_disk(const char *dir, const objectid *ids, size_t n)
{
    size_t found = 0;
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, "journal.", 8) != 0 && strncmp(e->d_name, "snapshot.", 9) != 0)
            continue;
        size_t len;
        uint8_t *data = file_read(dir, e->d_name, &len);
        for (size_t i = 0; i < n && data != NULL; i++) {
            spec sp;
            spec_make(&sp, i, &ids[i]);
            found += sp.secret[0] != '\0' && memmem(data, len, sp.secret, strlen(sp.secret)) != NULL;
        }
        free(data);
    }
    if (d != NULL)
        closedir(d);
    return found;
}

/* A store written without a key opened with one: every secret sealed as it loads, a
 * snapshot at once (before the journal is anywhere near snapshot_after_bytes) that leaves
 * no plain secret on disk; then rotation to a second key; and a refusal naming the key
 * for a store opened without the key its secrets are sealed under. */
static void test_secret_keys(void)
{
    enum { N = 50, WITH_SECRET = 40 }; /* spec_make: every fifth record has no secret */
    char dir[PATH_MAX];
    new_dir(dir, "secret-keys");
    objectid *ids = ids_make(N);
    uint8_t k1[SEAL_KEY_LEN], k2[SEAL_KEY_LEN], id1[SEAL_KEY_ID_LEN];
    for (size_t i = 0; i < SEAL_KEY_LEN; i++)
        k1[i] = (uint8_t)(i ^ 0xa5), k2[i] = (uint8_t)(i * 3 + 1);
    seal_key_id(k1, id1);
    seal_keyring *ring1 = seal_keyring_create(), *ring2 = seal_keyring_create();
    CHECK(ring1 != NULL && ring2 != NULL && seal_keyring_add(ring1, k1, 1) == 0 && seal_keyring_add(ring2, k2, 1) == 0 &&
          seal_keyring_add(ring2, k1, 0) == 0);
    opened o;
    open_keyed(&o, dir, NULL);
    CHECK(o.journal != NULL && append_range(o.journal, ids, 0, N, 10) == N);
    close_all(&o);
    CHECK(secrets_on_disk(dir, ids, N) == WITH_SECRET); /* the control: the search finds them */

    open_keyed(&o, dir, ring1);
    CHECK(o.journal != NULL && o.stats.resealed == WITH_SECRET);
    CHECK(check_sealed(o.store, ring1, ids, 0, N) == 0);
    close_all(&o); /* waits for the snapshot asked for at open */
    unsigned long long snap = 0;
    CHECK(count_files(dir, "snapshot", &snap) == 1 && snap == 2 && count_files(dir, "journal", NULL) == 1);
    CHECK(secrets_on_disk(dir, ids, N) == 0);

    open_keyed(&o, dir, ring1); /* nothing left to seal */
    CHECK(o.journal != NULL && o.stats.resealed == 0 && o.stats.snapshot == 2 && o.stats.webhooks == N);
    CHECK(check_sealed(o.store, ring1, ids, 0, N) == 0);
    close_all(&o);

    open_keyed(&o, dir, NULL); /* refused, naming the key; nothing changed */
    char id_text[SEAL_KEY_ID_TEXT], want[256];
    seal_key_id_text(id1, id_text);
    snprintf(want, sizeof want, " is sealed under key id %s, which is not configured (configured: none)", id_text);
    CHECK(o.journal == NULL && strstr(o.err, want) != NULL &&
          strstr(o.err, "/snapshot.2: the webhook secret in the record at offset ") != NULL);
    close_all(&o);
    CHECK(count_files(dir, "snapshot", &snap) == 1 && snap == 2);

    open_keyed(&o, dir, ring2); /* rotation: k2 seals, k1 opens */
    CHECK(o.journal != NULL && o.stats.resealed == WITH_SECRET && check_sealed(o.store, ring2, ids, 0, N) == 0);
    close_all(&o);
    seal_keyring *only2 = seal_keyring_create();
    CHECK(only2 != NULL && seal_keyring_add(only2, k2, 1) == 0);
    open_keyed(&o, dir, only2);
    CHECK(o.journal != NULL && o.stats.resealed == 0 && check_sealed(o.store, only2, ids, 0, N) == 0);
    close_all(&o);
    open_keyed(&o, dir, ring1); /* k1 alone no longer opens it */
    CHECK(o.journal == NULL && strstr(o.err, "which is not configured") != NULL);
    close_all(&o);
    seal_keyring_destroy(ring1);
    seal_keyring_destroy(ring2);
    seal_keyring_destroy(only2);
    free(ids);
}

/* ---- the event log's records ------------------------------------------------------------ */

#define EV_HOOKS 5     /* webhooks the event records name: ids 1..EV_HOOKS */
#define EV_PER_OP 3    /* records one op writes */
#define EV_MAX_LOG 4096 /* records a sink remembers */

static objectid ev_id(uint32_t n)
{
    objectid id;
    memset(id.bytes, 0, OBJECTID_LEN);
    id.bytes[0] = 0x6b;
    id.bytes[8] = (uint8_t)(n >> 24);
    id.bytes[9] = (uint8_t)(n >> 16);
    id.bytes[10] = (uint8_t)(n >> 8);
    id.bytes[11] = (uint8_t)n;
    return id;
}

/* What a record was, enough to tell records and their order apart. */
typedef struct ev_sig {
    int change;
    uint8_t id[OBJECTID_LEN], webhook[OBJECTID_LEN];
    uint32_t state;
    int64_t started_ms, next_ms;
} ev_sig;

static ev_sig sig_of(const schema_stored_event *r)
{
    ev_sig g;
    memset(&g, 0, sizeof g);
    g.change = (int)r->change;
    if (r->id.len == OBJECTID_LEN)
        memcpy(g.id, r->id.data, OBJECTID_LEN);
    if (r->webhook_id.len == OBJECTID_LEN)
        memcpy(g.webhook, r->webhook_id.data, OBJECTID_LEN);
    g.state = r->state;
    g.started_ms = r->started_ms;
    g.next_ms = r->next_ms;
    return g;
}

/* The event log a journal feeds: records applied to `log` (at load, or when written, as
 * backend_memory.c does) and remembered in order; snapshots counted. */
typedef struct ev_sink {
    events *log;
    ev_sig seen[EV_MAX_LOG];
    size_t n_seen;
    size_t snapshots;
    uint64_t last_records; /* event_snapshot's count the last time it was asked */
} ev_sink;

static void sink_note(ev_sink *k, const schema_stored_event *r)
{
    if (k->n_seen < EV_MAX_LOG)
        k->seen[k->n_seen] = sig_of(r);
    k->n_seen++;
}

static int sink_load(void *ctx, const schema_stored_event *r, error *err)
{
    ev_sink *k = ctx;
    sink_note(k, r);
    return events_apply(k->log, r, err);
}

static uint8_t *sink_snapshot(void *ctx, size_t *len, uint64_t *records)
{
    ev_sink *k = ctx;
    uint8_t *buf = events_snapshot(k->log, 0, len, records);
    k->snapshots++;
    k->last_records = *records;
    return buf;
}

/* One op of EV_PER_OP records about event n: its publish to two webhooks, an attempt's
 * outcome at the first, a resend to the second. */
typedef struct ev_op {
    journal_op op; /* first: done gets &op */
    ev_sink *sink;
    schema_stored_event r[EV_PER_OP];
    schema_stored_event *list[EV_PER_OP];
    objectid event, hooks[2];
    ProtobufCBinaryData hook_ids[2];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done, status;
} ev_op;

static void ev_op_done(journal_op *op)
{
    ev_op *o = (ev_op *)op;
    if (op->status == 0) { /* applied in journal order, on the writer thread */
        for (size_t i = 0; i < op->n_events; i++) {
            error err;
            sink_note(o->sink, op->events[i]);
            CHECK(events_apply(o->sink->log, op->events[i], &err) == 0);
        }
    }
    pthread_mutex_lock(&o->lock);
    o->status = op->status;
    o->done = 1;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
}

static ProtobufCBinaryData ev_bin(const void *data, size_t len)
{
    return (ProtobufCBinaryData){.len = len, .data = (uint8_t *)data};
}

static void ev_op_make(ev_op *o, ev_sink *sink, uint32_t n)
{
    memset(o, 0, sizeof(*o));
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->cond, NULL);
    o->sink = sink;
    o->event = ev_id(1000 + n);
    o->hooks[0] = ev_id(1 + n % EV_HOOKS);
    o->hooks[1] = ev_id(1 + (n + 2) % EV_HOOKS);
    for (int i = 0; i < 2; i++)
        o->hook_ids[i] = ev_bin(o->hooks[i].bytes, OBJECTID_LEN);
    int64_t t = 1519831018941LL + (int64_t)n * 1000;
    for (int i = 0; i < EV_PER_OP; i++) {
        o->r[i] = (schema_stored_event)SCHEMA_STORED_EVENT_INIT;
        o->r[i].id = ev_bin(o->event.bytes, OBJECTID_LEN);
        o->list[i] = &o->r[i];
    }
    o->r[0].change = SCHEMA_EVENT_PUBLISHED;
    o->r[0].ecosystem_id = "C5a96c3ea0000000000000001";
    o->r[0].created_ms = t;
    o->r[0].n_webhook_ids = 2;
    o->r[0].webhook_ids = o->hook_ids; /* an empty body: an EventBody of no items */
    o->r[1].change = SCHEMA_EVENT_DELIVERY;
    o->r[1].webhook_id = o->hook_ids[0];
    o->r[1].state = n % 3 == 0 ? EVENTS_PENDING : n % 3 == 1 ? EVENTS_DELIVERED : EVENTS_FAILED;
    o->r[1].attempts = o->r[1].attempt = 1;
    o->r[1].next_ms = o->r[1].state == EVENTS_PENDING ? t + 5000 : 0;
    o->r[1].last_status = o->r[1].status_code = o->r[1].state == EVENTS_DELIVERED ? 200 : 500;
    o->r[1].last_error = o->r[1].error = o->r[1].state == EVENTS_DELIVERED ? EVENTS_ERROR_NONE : EVENTS_ERROR_HTTP;
    o->r[1].failing_since_ms = o->r[1].state == EVENTS_DELIVERED ? 0 : t;
    o->r[1].started_ms = t + 1;
    o->r[1].duration_ms = n;
    o->r[1].response = ev_bin("answer", 6);
    o->r[2].change = SCHEMA_EVENT_DELIVERY;
    o->r[2].webhook_id = o->hook_ids[1];
    o->r[2].state = EVENTS_PENDING;
    o->r[2].trigger = EVENTS_MANUAL;
    o->r[2].next_ms = t + 7;
    o->op.events = o->list;
    o->op.n_events = EV_PER_OP;
    o->op.done = ev_op_done;
}

static void ev_op_wait(ev_op *o)
{
    pthread_mutex_lock(&o->lock);
    while (!o->done)
        pthread_cond_wait(&o->cond, &o->lock);
    pthread_mutex_unlock(&o->lock);
    pthread_mutex_destroy(&o->lock);
    pthread_cond_destroy(&o->cond);
}

/* Appends ops for events from..to-1 in groups (each group queued at once: several ops per
 * batch); returns how many were written. */
static size_t ev_append(journal *j, ev_sink *sink, uint32_t from, uint32_t to, size_t group)
{
    size_t written = 0;
    ev_op *ops = calloc(to - from, sizeof(*ops));
    for (uint32_t g = from; g < to; g += (uint32_t)group) {
        uint32_t end = g + (uint32_t)group < to ? g + (uint32_t)group : to;
        for (uint32_t n = g; n < end; n++) {
            ev_op_make(&ops[n - from], sink, n);
            CHECK(journal_append(j, &ops[n - from].op) == 0);
        }
        for (uint32_t n = g; n < end; n++) {
            ev_op_wait(&ops[n - from]);
            written += ops[n - from].status == 0;
        }
    }
    free(ops);
    return written;
}

static void *ev_alloc(void *data, size_t size)
{
    (void)data;
    return malloc(size > 0 ? size : 1);
}

static void ev_free(void *data, void *p)
{
    (void)data, (void)p; /* the blocks are listed and freed by ev_pool_release */
}

/* Blocks of the views a comparison makes, freed together. */
typedef struct ev_pool {
    void *blocks[65536];
    size_t n;
} ev_pool;

static void *ev_pool_alloc(void *data, size_t size)
{
    ev_pool *p = data;
    if (p->n == sizeof p->blocks / sizeof p->blocks[0])
        return NULL;
    void *b = ev_alloc(NULL, size);
    if (b != NULL)
        p->blocks[p->n++] = b;
    return b;
}

static void ev_pool_release(ev_pool *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->blocks[i]);
    p->n = 0;
}

static int ev_same_packed(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t la = protobuf_c_message_get_packed_size(a), lb = protobuf_c_message_get_packed_size(b);
    uint8_t *pa = malloc(la + 1), *pb = malloc(lb + 1);
    protobuf_c_message_pack(a, pa);
    protobuf_c_message_pack(b, pb);
    int same = la == lb && memcmp(pa, pb, la) == 0;
    free(pa);
    free(pb);
    return same;
}

/* The differences a reader of events from..to-1 and of the webhooks' attempts would see. */
static size_t ev_differences(events *a, events *b, uint32_t from, uint32_t to)
{
    ev_pool *pool = calloc(1, sizeof(*pool));
    ProtobufCAllocator alloc = {ev_pool_alloc, ev_free, pool};
    size_t diff = 0;
    for (uint32_t n = from; n < to; n++) {
        objectid id = ev_id(1000 + n);
        schema_event *ma = NULL, *mb = NULL;
        int ra = events_view(a, &id, &alloc, &ma), rb = events_view(b, &id, &alloc, &mb);
        if (ra != 0 || rb != 0 || !ev_same_packed(&ma->base, &mb->base)) {
            if (diff < 3)
                fprintf(stderr, "  event %u differs (view %d / %d)\n", n, ra, rb);
            diff++;
        }
        ev_pool_release(pool);
    }
    for (uint32_t h = 1; h <= EV_HOOKS; h++) {
        objectid hook = ev_id(h);
        schema_attempts_response ra, rb;
        if (events_attempts(a, &hook, 0, 100000, &alloc, &ra) != 0 ||
            events_attempts(b, &hook, 0, 100000, &alloc, &rb) != 0 || !ev_same_packed(&ra.base, &rb.base) ||
            events_failing_since(a, &hook) != events_failing_since(b, &hook)) {
            fprintf(stderr, "  attempts of webhook %u differ\n", h);
            diff++;
        }
        ev_pool_release(pool);
    }
    events_stats sa, sb;
    events_stats_get(a, &sa);
    events_stats_get(b, &sb);
    if (sa.events != sb.events || sa.pending != sb.pending || sa.oldest_due_ms != sb.oldest_due_ms)
        diff++;
    free(pool);
    return diff;
}

/* Opens dir with the event log of sink (a new log); o->journal NULL on failure. */
static void open_events(opened *o, const char *dir, const char *snapshot_after, ev_sink *sink)
{
    memset(o, 0, sizeof(*o));
    memset(sink, 0, sizeof(*sink));
    sink->log = events_create();
    o->store = store_create();
    journal_options opts = options_of(dir, "always", 1000, snapshot_after);
    opts.event_load = sink_load;
    opts.event_snapshot = sink_snapshot;
    opts.event_ctx = sink;
    o->journal = journal_open(&opts, o->store, &o->stats, o->err);
    if (o->journal != NULL)
        appending_to = o->store;
}

/* Event records appended between webhook creates come back through event_load on reopen,
 * every one, in the order they were written, and rebuild the same log; webhooks load as
 * before beside them. */
static void test_event_records(void)
{
    enum { N = 40, WEBHOOKS = 12 };
    char dir[PATH_MAX];
    new_dir(dir, "events");
    objectid *ids = ids_make(WEBHOOKS);
    ev_sink *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    opened oa, ob;
    open_events(&oa, dir, BIG_SNAPSHOT, a);
    CHECK(oa.journal != NULL);
    if (oa.journal == NULL) {
        fprintf(stderr, "open: %s\n", oa.err);
        goto out;
    }
    CHECK(a->n_seen == 0);
    CHECK(ev_append(oa.journal, a, 0, N / 2, 4) == N / 2);
    CHECK(append_range(oa.journal, ids, 0, WEBHOOKS, 3) == WEBHOOKS);
    CHECK(ev_append(oa.journal, a, N / 2, N, 1) == N / 2);
    CHECK(a->n_seen == N * EV_PER_OP);
    journal_close(oa.journal);
    oa.journal = NULL;

    open_events(&ob, dir, BIG_SNAPSHOT, b);
    CHECK(ob.journal != NULL);
    if (ob.journal == NULL) {
        fprintf(stderr, "reopen: %s\n", ob.err);
        goto out;
    }
    CHECK(ob.stats.webhooks == WEBHOOKS && check_records(ob.store, ids, 0, WEBHOOKS) == 0);
    CHECK(ob.stats.journal_records == WEBHOOKS + N * EV_PER_OP);
    CHECK(b->n_seen == a->n_seen);
    size_t out_of_order = 0;
    for (size_t i = 0; i < a->n_seen && i < b->n_seen && i < EV_MAX_LOG; i++)
        out_of_order += memcmp(&a->seen[i], &b->seen[i], sizeof(ev_sig)) != 0;
    CHECK(out_of_order == 0);
    CHECK(ev_differences(a->log, b->log, 0, N) == 0);
    size_t retries = 0;
    for (uint32_t n = 0; n < N; n++)
        retries += n % 3 == 0;
    events_stats st;
    events_stats_get(b->log, &st);
    CHECK(st.events == N && st.pending == N + retries); /* every resend, and the outcomes that are retries */
    close_all(&ob);
out:
    close_all(&oa);
    events_destroy(a->log);
    events_destroy(b->log);
    free(a);
    free(b);
    free(ids);
}

/* The header of dir/name (a snapshot): its event_records, or -1 when unreadable. */
static long long snapshot_event_records(const char *dir, const char *name)
{
    size_t len = 0, offset = RECORD_MAGIC_LEN, plen;
    uint8_t *data = file_read(dir, name, &len);
    const uint8_t *payload;
    long long n = -1;
    if (data != NULL && len > RECORD_MAGIC_LEN && record_next(data, len, &offset, &payload, &plen) == RECORD_OK) {
        error err;
        schema_snapshot_header *h = (schema_snapshot_header *)codec_proto_decode(&schema_snapshot_header_descriptor,
                                                                                 payload, plen, NULL, &err);
        if (h != NULL) {
            n = (long long)h->event_records;
            protobuf_c_message_free_unpacked(&h->base, NULL);
        }
    }
    free(data);
    return n;
}

/* Rewrites dir/name's header with event_records changed by delta; returns the old bytes. */
static uint8_t *snapshot_shift_event_records(const char *dir, const char *name, long long delta, size_t *old_len)
{
    size_t offset = RECORD_MAGIC_LEN, plen;
    uint8_t *data = file_read(dir, name, old_len);
    const uint8_t *payload;
    CHECK(data != NULL && record_next(data, *old_len, &offset, &payload, &plen) == RECORD_OK);
    error err;
    schema_snapshot_header *h =
        (schema_snapshot_header *)codec_proto_decode(&schema_snapshot_header_descriptor, payload, plen, NULL, &err);
    CHECK(h != NULL);
    if (h == NULL)
        return data;
    h->event_records = (uint64_t)((long long)h->event_records + delta);
    size_t framed = record_framed_size(protobuf_c_message_get_packed_size(&h->base));
    uint8_t *out = malloc(RECORD_MAGIC_LEN + framed + (*old_len - offset));
    memcpy(out, data, RECORD_MAGIC_LEN);
    size_t used = RECORD_MAGIC_LEN + record_frame(&h->base, out + RECORD_MAGIC_LEN);
    memcpy(out + used, data + offset, *old_len - offset);
    used += *old_len - offset;
    protobuf_c_message_free_unpacked(&h->base, NULL);
    file_write(dir, name, "wb", out, used);
    free(out);
    return data;
}

/* A small snapshot_after_bytes: rotations ask event_snapshot for the log's records, the
 * snapshot holds them after the webhooks with their count in the header, and a reopen
 * loads them (then the last journal's) into a log equal to the one written. A header
 * that miscounts them is refused. */
static void test_event_snapshot(void)
{
    enum { N = 240, WEBHOOKS = 30 };
    char dir[PATH_MAX];
    new_dir(dir, "event-snapshots");
    objectid *ids = ids_make(WEBHOOKS);
    ev_sink *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b)), *c = calloc(1, sizeof(*c));
    opened oa, ob, oc;
    memset(&ob, 0, sizeof ob);
    memset(&oc, 0, sizeof oc);
    open_events(&oa, dir, "4096", a);
    CHECK(oa.journal != NULL);
    if (oa.journal == NULL) {
        fprintf(stderr, "open: %s\n", oa.err);
        goto out;
    }
    for (uint32_t g = 0; g < N; g += N / 6) {
        CHECK(ev_append(oa.journal, a, g, g + N / 6, 5) == N / 6);
        size_t k = g / (N / 6) * (WEBHOOKS / 6);
        CHECK(append_range(oa.journal, ids, k, k + WEBHOOKS / 6, 5) == WEBHOOKS / 6);
    }
    journal_close(oa.journal); /* finishes the snapshot asked for last */
    oa.journal = NULL;
    /* at least the first rotation asked (how many more depends on the snapshot thread's speed) */
    CHECK(a->snapshots >= 1 && a->last_records > 0);
    if (a->snapshots < 1 || a->last_records == 0)
        fprintf(stderr, "event_snapshot asked %zu times, last for %llu records\n", a->snapshots,
                (unsigned long long)a->last_records);

    unsigned long long snap = 0;
    CHECK(count_files(dir, "snapshot", &snap) == 1 && count_files(dir, "journal", NULL) == 1);
    char name[64];
    snprintf(name, sizeof name, "snapshot.%llu", snap);
    long long in_header = snapshot_event_records(dir, name);
    CHECK(in_header > 0 && (unsigned long long)in_header == a->last_records);

    open_events(&ob, dir, "4096", b);
    CHECK(ob.journal != NULL);
    if (ob.journal == NULL) {
        fprintf(stderr, "reopen: %s\n", ob.err);
        goto out;
    }
    CHECK(ob.stats.snapshot == snap);
    CHECK(ob.stats.webhooks == WEBHOOKS && check_records(ob.store, ids, 0, WEBHOOKS) == 0);
    /* the snapshot's event records, then the last journal's */
    CHECK(b->n_seen >= (size_t)in_header && b->n_seen - (size_t)in_header <= ob.stats.journal_records);
    CHECK(ev_differences(a->log, b->log, 0, N) == 0);
    journal_close(ob.journal);
    ob.journal = NULL;

    /* a header that says one event record fewer leaves one after the count: refused */
    size_t old_len = 0;
    uint8_t *old = snapshot_shift_event_records(dir, name, -1, &old_len);
    open_events(&oc, dir, "4096", c);
    CHECK(oc.journal == NULL);
    CHECK(strstr(oc.err, "unexpected bytes") != NULL);
    if (oc.journal != NULL || strstr(oc.err, "unexpected bytes") == NULL)
        fprintf(stderr, "a miscounted header: %s\n", oc.journal != NULL ? "opened" : oc.err);
    close_all(&oc);
    events_destroy(c->log);
    file_write(dir, name, "wb", old, old_len);
    free(old);
    open_events(&oc, dir, "4096", c);
    CHECK(oc.journal != NULL);
    CHECK(ev_differences(a->log, c->log, 0, N) == 0);
out:
    close_all(&oc);
    close_all(&ob);
    close_all(&oa);
    events_destroy(a->log);
    events_destroy(b->log);
    events_destroy(c->log);
    free(a);
    free(b);
    free(c);
    free(ids);
}

int main(void)
{
    umask(022);
    CHECK(objectid_init() == 0);
    snprintf(root, sizeof root, "/tmp/hookgate-test-journal-XXXXXX");
    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_open_modes_lock();
    test_concurrent_round_trip();
    test_fsync_policies();
    test_snapshots();
    test_snapshot_changes();
    test_torn_tail();
    test_corrupt_middle();
    test_leftovers_and_gaps();
    test_write_failure();
    test_queue_bound();
    test_out_of_memory();
    test_secret_keys();
    test_reservation();
    test_snapshot_room();
    test_event_records();
    test_event_snapshot();
    remove_tree(root);
    return test_exit_code();
}

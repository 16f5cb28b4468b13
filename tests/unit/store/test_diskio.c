/* test_diskio: what a power cut leaves of the journal and its snapshots, through a
 * recording diskio; and diskio_posix's calls on a real file.
 *
 * Why a recording diskio in the process, not an LD_PRELOAD shim over the server: the
 * question is one of order — was a create acknowledged (its journal_op's done ran with
 * status 0, which is where backend_memory.c answers 201) before the fdatasync that made it
 * durable returned, and did a directory fsync make a rename durable before the files it
 * replaces were removed? In the process, every disk call and every acknowledgement land
 * in one log under one mutex, in the order they happened, and a power cut can be tried
 * after every single call: the result is exact and never depends on timing. A shim would
 * have to match the 201s a client saw against syscalls by their clocks, a cut at a signal
 * lands wherever it lands, and SIGKILL-style tests cannot see either kind of bug (the page
 * cache survives a killed process). What this leaves out: the path from done to the bytes
 * of the 201 (test_backend_memory covers that done is where it answers), and syscalls made
 * around diskio (none write: reads, the lock, mkdir of a new store directory).
 *
 * The model of a power cut, pessimistic as POSIX allows:
 * - A file holds what it held when an fdatasync or fsync of it last returned; writes,
 *   truncations and extensions since are lost. Two milder outcomes are tried as well: a
 *   grown file keeps its new size but the new bytes read as zeros (the size reached the
 *   disk, the data did not), and half of the bytes appended since the sync survive (a
 *   torn write).
 * - A directory holds a name only if it held that name, for the same file, when an fsync
 *   of the directory last returned and still does: names added since are lost, and names
 *   removed since are gone as well (a file system without ordered metadata may write a
 *   removal and not an earlier addition).
 *
 * The run: creates through journal_append in batches, each create followed by an update or
 * a delete of a webhook made a few creates before (CHANGE_LAG) for most of them, fsync
 * always, snapshot_after small
 * so that rotations and snapshots (temp file, rename, directory fsync, removal of the
 * older files) happen several times (the run goes on until N_SNAPSHOTS were renamed into
 * place, counted in the log, not timed). Then for every prefix of the log (a cut after each
 * call) and each outcome, the surviving files are written to a fresh directory, and
 * journal_open (real I/O) must start and hold every create, update and delete
 * acknowledged before the cut (a change not yet acknowledged may or may not be there,
 * whole); and (for the "lost" outcome) so must a start-up with a secret key, which seals
 * the plain secrets the run wrote and snapshots them at once, after which a second
 * start-up finds every change again and nothing left to seal. */
#include "diskio.h"
#include "journal.h"
#include "record.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define N_CREATES 72        /* at least this many creates... */
#define N_SNAPSHOTS 3       /* ...and on until this many snapshots were renamed into place */
#define MAX_CREATES 1024    /* a machine so slow that 3 snapshots take more fails the test */
#define SNAPSHOT_AFTER 2048 /* bytes of journal: a rotation every ~15 creates */
#define MAX_FILES 64        /* files the run creates, LOCK included */
#define MAX_FDS 1024
#define MAX_OPS 4096
#define NAME_LEN 64
#define CHANGE_LAG 8 /* create i is followed by a change of webhook i - CHANGE_LAG: */
/* webhook n is updated when n % 4 == 1, deleted when n % 4 == 2, left alone otherwise */
enum { CHANGE_CREATE, CHANGE_UPDATE, CHANGE_DELETE };

static char root[64];

/* ---- the log ------------------------------------------------------------------------------ */

typedef enum op_kind {
    OP_CREATE,   /* name -> new file `file` */
    OP_WRITE,    /* file, offset, data[len] */
    OP_TRUNCATE, /* file, to len */
    OP_EXTEND,   /* file grows to len with zeros (fallocate without KEEP_SIZE) */
    OP_SYNC,     /* fdatasync or fsync of file */
    OP_DIRSYNC,  /* fsync of the directory */
    OP_RENAME,   /* name -> name2 */
    OP_UNLINK,   /* name */
    OP_ACK,      /* change `index` acknowledged (done with status 0): create, update or delete of webhook
                    index % MAX_CREATES, by index / MAX_CREATES (CHANGE_*) */
} op_kind;

typedef struct logged {
    op_kind kind;
    int file;
    char name[NAME_LEN], name2[NAME_LEN];
    uint64_t offset, len;
    uint8_t *data;
    size_t index;
} logged;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static logged ops_log[MAX_OPS];
static size_t n_ops;
static int fd_file[MAX_FDS];                 /* fd -> file + 1 (0: not a file the recorder opened) */
static int dir_fd_seen = -1;                 /* the store directory's fd, learnt from openat */
static int files;                            /* files created so far */
static char live_names[MAX_FILES][NAME_LEN]; /* the live directory: name of file i, "" if none */
static int logging_broken;                   /* the log overflowed: the test fails */

static logged *log_add(op_kind kind)
{
    if (n_ops == MAX_OPS) {
        logging_broken = 1;
        return NULL;
    }
    logged *l = &ops_log[n_ops++];
    memset(l, 0, sizeof(*l));
    l->kind = kind;
    return l;
}

static int live_lookup(const char *name)
{
    for (int i = 0; i < files; i++)
        if (strcmp(live_names[i], name) == 0)
            return i;
    return -1;
}

static int file_of(int fd)
{
    return fd >= 0 && fd < MAX_FDS ? fd_file[fd] - 1 : -1;
}

/* Each recording call does the real call and logs it under log_lock, so the log's order
 * is the order in which the calls returned. */
static int rec_openat(int dir_fd, const char *name, int flags, mode_t mode)
{
    pthread_mutex_lock(&log_lock);
    int existed = live_lookup(name) >= 0;
    int fd = openat(dir_fd, name, flags, mode);
    if (fd >= 0 && fd < MAX_FDS) {
        dir_fd_seen = dir_fd;
        int f = live_lookup(name);
        if (f < 0 && files < MAX_FILES && (flags & O_CREAT) && !existed) {
            f = files++;
            snprintf(live_names[f], NAME_LEN, "%s", name);
            logged *l = log_add(OP_CREATE);
            if (l != NULL) {
                l->file = f;
                snprintf(l->name, NAME_LEN, "%s", name);
            }
        }
        if (f < 0)
            logging_broken = 1; /* a file from before the run: the model does not know it */
        fd_file[fd] = f + 1;
    }
    pthread_mutex_unlock(&log_lock);
    return fd;
}

static ssize_t rec_pwrite(int fd, const void *data, size_t len, off_t offset)
{
    pthread_mutex_lock(&log_lock);
    ssize_t n = pwrite(fd, data, len, offset);
    if (n > 0) {
        logged *l = log_add(OP_WRITE);
        if (l != NULL) {
            l->file = file_of(fd);
            l->offset = (uint64_t)offset;
            l->len = (uint64_t)n;
            l->data = malloc((size_t)n);
            memcpy(l->data, data, (size_t)n);
        }
    }
    pthread_mutex_unlock(&log_lock);
    return n;
}

static int rec_ftruncate(int fd, off_t len)
{
    pthread_mutex_lock(&log_lock);
    int rc = ftruncate(fd, len);
    if (rc == 0) {
        logged *l = log_add(OP_TRUNCATE);
        if (l != NULL)
            l->file = file_of(fd), l->len = (uint64_t)len;
    }
    pthread_mutex_unlock(&log_lock);
    return rc;
}

static int rec_fallocate(int fd, int mode, off_t offset, off_t len)
{
    pthread_mutex_lock(&log_lock);
    int rc = diskio_posix.fallocate(fd, mode, offset, len);
    if (rc == 0 && !(mode & FALLOC_FL_KEEP_SIZE)) {
        logged *l = log_add(OP_EXTEND);
        if (l != NULL)
            l->file = file_of(fd), l->len = (uint64_t)(offset + len);
    }
    pthread_mutex_unlock(&log_lock);
    return rc;
}

static int rec_sync(int fd, int (*real)(int))
{
    pthread_mutex_lock(&log_lock);
    int rc = real(fd);
    if (rc == 0) {
        int f = file_of(fd);
        struct stat st;
        if (f >= 0) {
            logged *l = log_add(OP_SYNC);
            if (l != NULL)
                l->file = f;
        } else if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
            log_add(OP_DIRSYNC);
        } else {
            logging_broken = 1;
        }
    }
    pthread_mutex_unlock(&log_lock);
    return rc;
}

static int rec_fdatasync(int fd)
{
    return rec_sync(fd, fdatasync);
}

static int rec_fsync(int fd)
{
    return rec_sync(fd, fsync);
}

static int rec_renameat(int dir_fd, const char *from, const char *to)
{
    pthread_mutex_lock(&log_lock);
    int rc = renameat(dir_fd, from, dir_fd, to);
    if (rc == 0) {
        int f = live_lookup(from), old = live_lookup(to);
        if (old >= 0)
            live_names[old][0] = '\0';
        if (f >= 0)
            snprintf(live_names[f], NAME_LEN, "%s", to);
        logged *l = log_add(OP_RENAME);
        if (l != NULL) {
            snprintf(l->name, NAME_LEN, "%s", from);
            snprintf(l->name2, NAME_LEN, "%s", to);
        }
    }
    pthread_mutex_unlock(&log_lock);
    return rc;
}

static int rec_unlinkat(int dir_fd, const char *name)
{
    pthread_mutex_lock(&log_lock);
    int rc = unlinkat(dir_fd, name, 0);
    if (rc == 0) {
        int f = live_lookup(name);
        if (f >= 0)
            live_names[f][0] = '\0';
        logged *l = log_add(OP_UNLINK);
        if (l != NULL)
            snprintf(l->name, NAME_LEN, "%s", name);
    }
    pthread_mutex_unlock(&log_lock);
    return rc;
}

static int rec_close(int fd)
{
    pthread_mutex_lock(&log_lock);
    if (fd >= 0 && fd < MAX_FDS)
        fd_file[fd] = 0;
    int rc = close(fd);
    pthread_mutex_unlock(&log_lock);
    return rc;
}

static const diskio recording = {
    .openat = rec_openat,
    .pwrite = rec_pwrite,
    .ftruncate = rec_ftruncate,
    .fallocate = rec_fallocate,
    .fdatasync = rec_fdatasync,
    .fsync = rec_fsync,
    .renameat = rec_renameat,
    .unlinkat = rec_unlinkat,
    .close = rec_close,
};

/* ---- the run ------------------------------------------------------------------------------- */

typedef struct spec {
    char eco[32], url[96], description[64];
    store_webhook w;
} spec;

static objectid ids[MAX_CREATES];

static void spec_make(spec *sp, size_t i)
{
    snprintf(sp->eco, sizeof sp->eco, "C%024llx", 0x5a96c3ea0ull + i % 3);
    snprintf(sp->url, sizeof sp->url, "https://example.org/hook/%zu", i);
    snprintf(sp->description, sizeof sp->description, "webhook %zu, power cut", i);
    store_webhook w = {.id = ids[i],
                       .created_ms = 1519831018941LL + (int64_t)i,
                       .ecosystem_id = sp->eco,
                       .url = sp->url,
                       .secret = "s",
                       .description = sp->description};
    sp->w = w;
}

typedef struct run_op {
    journal_op op; /* first: done gets &op */
    size_t index;
    int change; /* CHANGE_* */
} run_op;

/* The change made to webhook n after its create, CHANGE_CREATE for none. */
static int change_of(size_t n)
{
    return n % 4 == 1 ? CHANGE_UPDATE : n % 4 == 2 ? CHANGE_DELETE : CHANGE_CREATE;
}

static int issued[MAX_CREATES]; /* the run queued webhook n's change */

static store *run_store;
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static size_t n_done;

/* On the writer thread: apply (as backend_memory.c does), then the acknowledgement. */
static void run_done(journal_op *op)
{
    run_op *r = (run_op *)op;
    store_webhook *record = op->record;
    op->record = NULL;
    if (op->status == 0) {
        error err;
        error_clear(&err);
        store_changes ch = {.sets = op->sets, .url = record->url};
        const store_webhook *v = r->change == CHANGE_UPDATE   ? store_update(run_store, &record->id, &ch, &err)
                                 : r->change == CHANGE_DELETE ? store_delete(run_store, &record->id, &err)
                                                              : store_insert(run_store, record, &err);
        CHECK(v != NULL);
        pthread_mutex_lock(&log_lock);
        logged *l = log_add(OP_ACK);
        if (l != NULL)
            l->index = r->index + (size_t)r->change * MAX_CREATES;
        pthread_mutex_unlock(&log_lock);
    }
    store_record_free(record);
    pthread_mutex_lock(&done_lock);
    n_done++;
    pthread_cond_broadcast(&done_cond);
    pthread_mutex_unlock(&done_lock);
}

static size_t renames_logged(void)
{
    pthread_mutex_lock(&log_lock);
    size_t n = 0;
    for (size_t k = 0; k < n_ops; k++)
        n += ops_log[k].kind == OP_RENAME;
    pthread_mutex_unlock(&log_lock);
    return n;
}

/* Records a run into ops_log; returns the number of creates made, all acknowledged when
 * store_count (*acked) equals it. A rotation waits while the previous snapshot is being
 * written, so on a busy machine the run goes on until N_SNAPSHOTS were written. */
static size_t record_run(const char *dir, size_t *acked)
{
    *acked = 0;
    for (size_t i = 0; i < MAX_CREATES; i++)
        ids[i] = objectid_make((uint32_t)time(NULL));
    run_store = store_create();
    journal_options o = {.path = dir,
                         .fsync = JOURNAL_FSYNC_ALWAYS,
                         .fsync_interval_ms = 1000,
                         .snapshot_after_bytes = SNAPSHOT_AFTER,
                         .max_queue = 64,
                         .io = &recording};
    journal_stats stats;
    char err[JOURNAL_ERROR_MAX];
    journal *j = journal_open(&o, run_store, &stats, err);
    CHECK(j != NULL);
    if (j == NULL) {
        fprintf(stderr, "journal_open: %s\n", err);
        return 0;
    }
    static run_op ops[MAX_CREATES], changes[MAX_CREATES];
    size_t i = 0, queued = 0;
    for (size_t batch = 1; i < MAX_CREATES && (i < N_CREATES || renames_logged() < N_SNAPSHOTS);
         batch = batch % 5 + 1) {
        size_t end = i + batch < MAX_CREATES ? i + batch : MAX_CREATES;
        for (size_t k = i; k < end; k++) {
            spec sp;
            spec_make(&sp, k);
            ops[k].index = k;
            ops[k].change = CHANGE_CREATE;
            ops[k].op.record = store_record_new(&sp.w);
            ops[k].op.done = run_done;
            CHECK(journal_append(j, &ops[k].op) == 0);
            queued++;
            size_t n = k - CHANGE_LAG;
            if (k < CHANGE_LAG || change_of(n) == CHANGE_CREATE)
                continue;
            spec_make(&sp, n); /* an update sets the url to the description; a delete carries the webhook */
            if (change_of(n) == CHANGE_UPDATE)
                sp.w.url = sp.description;
            else
                sp.w.deleted = 1;
            changes[n] = (run_op){.index = n, .change = change_of(n)};
            changes[n].op.record = store_record_new(&sp.w);
            changes[n].op.sets = change_of(n) == CHANGE_UPDATE ? STORE_SET_URL : 0;
            changes[n].op.done = run_done;
            issued[n] = 1;
            CHECK(journal_append(j, &changes[n].op) == 0);
            queued++;
        }
        pthread_mutex_lock(&done_lock);
        while (n_done < queued)
            pthread_cond_wait(&done_cond, &done_lock);
        pthread_mutex_unlock(&done_lock);
        i = end;
    }
    journal_close(j);
    size_t deleted = 0;
    for (size_t n = 0; n < i; n++)
        deleted += issued[n] && change_of(n) == CHANGE_DELETE;
    *acked = store_count(run_store) + deleted;
    store_destroy(run_store);
    return i;
}

/* ---- the power cut ----------------------------------------------------------------------- */

typedef enum outcome {
    LOST,  /* unsynced bytes lost, the size with them */
    ZEROS, /* a grown file keeps its size; the unsynced bytes read as zeros */
    TORN,  /* half of the bytes appended since the sync survive */
    N_OUTCOMES,
} outcome;

static const char *const OUTCOME_NAMES[N_OUTCOMES] = {"lost", "zeros", "torn"};

typedef struct bytes {
    uint8_t *p;
    size_t len, cap;
} bytes;

static void bytes_set(bytes *b, const uint8_t *p, size_t len)
{
    if (len > b->cap) {
        b->p = realloc(b->p, len);
        b->cap = len;
    }
    if (len > 0)
        memcpy(b->p, p, len);
    b->len = len;
}

static void bytes_resize(bytes *b, size_t len)
{
    if (len > b->cap) {
        b->p = realloc(b->p, len);
        b->cap = len;
    }
    if (len > b->len)
        memset(b->p + b->len, 0, len - b->len);
    b->len = len;
}

typedef struct model {
    bytes now[MAX_FILES], synced[MAX_FILES];
    char names[MAX_FILES][NAME_LEN];        /* the live directory */
    char synced_names[MAX_FILES][NAME_LEN]; /* the directory at its last fsync */
    int acked[MAX_CREATES];   /* created */
    int changed[MAX_CREATES]; /* updated or deleted, as its number says */
} model;

static void model_apply(model *m, const logged *l)
{
    switch (l->kind) {
    case OP_CREATE:
        snprintf(m->names[l->file], NAME_LEN, "%s", l->name);
        break;
    case OP_WRITE:
        if (m->now[l->file].len < l->offset + l->len)
            bytes_resize(&m->now[l->file], l->offset + l->len);
        memcpy(m->now[l->file].p + l->offset, l->data, l->len);
        break;
    case OP_TRUNCATE:
    case OP_EXTEND:
        if (l->kind == OP_TRUNCATE || l->len > m->now[l->file].len)
            bytes_resize(&m->now[l->file], l->len);
        break;
    case OP_SYNC:
        bytes_set(&m->synced[l->file], m->now[l->file].p, m->now[l->file].len);
        break;
    case OP_DIRSYNC:
        memcpy(m->synced_names, m->names, sizeof m->names);
        break;
    case OP_RENAME:
        for (int f = 0; f < MAX_FILES; f++)
            if (strcmp(m->names[f], l->name2) == 0)
                m->names[f][0] = '\0';
        for (int f = 0; f < MAX_FILES; f++)
            if (strcmp(m->names[f], l->name) == 0)
                snprintf(m->names[f], NAME_LEN, "%s", l->name2);
        break;
    case OP_UNLINK:
        for (int f = 0; f < MAX_FILES; f++)
            if (strcmp(m->names[f], l->name) == 0)
                m->names[f][0] = '\0';
        break;
    case OP_ACK:
        if (l->index < MAX_CREATES)
            m->acked[l->index] = 1;
        else
            m->changed[l->index % MAX_CREATES] = 1;
        break;
    }
}

static void write_file(const char *dir, const char *name, const uint8_t *p, size_t len)
{
    char path[PATH_MAX + NAME_LEN + 1];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK(len == 0 || fwrite(p, 1, len, f) == len);
    fclose(f);
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    char path[PATH_MAX + 256 + 1];
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* Opens dir with keys (or none) and checks that every acknowledged create is there (with
 * keys: its secret sealed); 1 when so, else 0 with why. */
static int recover_check(const model *m, outcome o, const char *dir, size_t at, const seal_keyring *keys,
                         const char *what, journal_stats *stats, char *why, size_t why_len)
{
    store *s = store_create();
    journal_options opts = {
        .path = dir, .fsync = JOURNAL_FSYNC_ALWAYS, .snapshot_after_bytes = 1ull << 40, .max_queue = 4, .keys = keys};
    char err[JOURNAL_ERROR_MAX];
    int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);
    dup2(null, STDERR_FILENO); /* the torn tails it drops are expected: keep the output readable */
    journal *j = journal_open(&opts, s, stats, err);
    dup2(saved, STDERR_FILENO);
    int ok = 1;
    if (j == NULL) {
        snprintf(why, why_len, "cut after call %zu (%s), %s: start-up refused: %s", at, OUTCOME_NAMES[o], what, err);
        ok = 0;
    } else {
        size_t missing = 0, first = 0, plain = 0;
        for (size_t i = 0; i < MAX_CREATES; i++) {
            if (!m->acked[i])
                continue;
            spec sp;
            spec_make(&sp, i);
            const store_webhook *w = store_get(s, &ids[i]);
            /* done: its change was acknowledged, so it must show; maybe: queued and not
             * acknowledged, so either state will do, but nothing else */
            int change = change_of(i), done = m->changed[i], maybe = issued[i] && !done;
            int is_new = w != NULL && strcmp(w->url, sp.url) == 0;
            int is_updated = w != NULL && strcmp(w->url, sp.description) == 0;
            int good;
            if (change == CHANGE_DELETE)
                good = done ? w == NULL : is_new || (maybe && w == NULL);
            else if (change == CHANGE_UPDATE)
                good = done ? is_updated : is_new || (maybe && is_updated);
            else
                good = is_new;
            if (!good && missing++ == 0)
                first = i;
            plain += w != NULL && keys != NULL && w->secret[0] != '\0';
        }
        if (missing > 0 || plain > 0) {
            snprintf(why, why_len,
                     "cut after call %zu (%s), %s: %zu acknowledged change(s) lost or unacknowledged ones half there, "
                     "the first of webhook #%zu; %zu secret(s) not sealed",
                     at, OUTCOME_NAMES[o], what, missing, first, plain);
            ok = 0;
        }
        dup2(null, STDERR_FILENO); /* the snapshot it writes when it sealed secrets at start-up */
        journal_close(j);
        dup2(saved, STDERR_FILENO);
    }
    close(saved);
    close(null);
    store_destroy(s);
    return ok;
}

/* Writes what survives a cut now (outcome o) into dir, recovers it and checks it: returns
 * 1 when start-up succeeded and every acknowledged create is there. With keys (the run
 * wrote plain secrets), start-up seals them as they load and writes a snapshot at once:
 * a second start-up must then find every create again and nothing left to seal. */
static int cut_and_recover(const model *m, outcome o, const char *dir, size_t at, const seal_keyring *keys, char *why,
                           size_t why_len)
{
    CHECK(mkdir(dir, 0700) == 0);
    for (int f = 0; f < MAX_FILES; f++) {
        /* a name survives only if the last directory fsync saw it for this file, and it
         * was not removed or renamed away since */
        if (m->synced_names[f][0] == '\0' || strcmp(m->synced_names[f], m->names[f]) != 0)
            continue;
        const bytes *now = &m->now[f], *synced = &m->synced[f];
        bytes out = {0};
        bytes_set(&out, synced->p, synced->len);
        int grown = now->len > synced->len && memcmp(now->p, synced->p, synced->len) == 0;
        if (o == ZEROS && now->len > synced->len)
            bytes_resize(&out, now->len);
        else if (o == TORN && grown)
            bytes_set(&out, now->p, synced->len + (now->len - synced->len) / 2);
        write_file(dir, m->synced_names[f], out.p, out.len);
        free(out.p);
    }
    journal_stats stats;
    int ok = recover_check(m, o, dir, at, keys, keys != NULL ? "with a key" : "without a key", &stats, why, why_len);
    if (ok && keys != NULL) {
        ok = recover_check(m, o, dir, at, keys, "again after sealing", &stats, why, why_len);
        if (ok && stats.resealed != 0) {
            snprintf(why, why_len, "cut after call %zu (%s): %zu secrets still to seal at the second start-up", at,
                     OUTCOME_NAMES[o], stats.resealed);
            ok = 0;
        }
    }
    remove_dir(dir);
    return ok;
}

static const char *kind_name(op_kind k)
{
    static const char *const names[] = {"create",  "write",  "truncate", "extend", "sync",
                                        "dirsync", "rename", "unlink",   "ack"};
    return names[k];
}

/* Every acknowledged create survives a power cut after any call, in every outcome, and
 * whatever a cut leaves can be sealed when the server starts with a key. */
static void test_power_cut(void)
{
    uint8_t key[SEAL_KEY_LEN];
    for (size_t i = 0; i < SEAL_KEY_LEN; i++)
        key[i] = (uint8_t)(0x80 + i);
    seal_keyring *keys = seal_keyring_create();
    CHECK(keys != NULL && seal_keyring_add(keys, key, 1) == 0);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/run", root);
    CHECK(mkdir(dir, 0700) == 0);
    size_t acked, made = record_run(dir, &acked);
    CHECK(made >= N_CREATES && acked == made);
    CHECK(!logging_broken);
    size_t renames = 0, dirsyncs = 0, syncs = 0;
    for (size_t k = 0; k < n_ops; k++) {
        renames += ops_log[k].kind == OP_RENAME;
        dirsyncs += ops_log[k].kind == OP_DIRSYNC;
        syncs += ops_log[k].kind == OP_SYNC;
    }
    fprintf(stderr, "test_power_cut: %zu creates, %zu calls logged (%zu syncs, %zu directory syncs, %zu renames)\n",
            made, n_ops, syncs, dirsyncs, renames);
    CHECK(renames >= N_SNAPSHOTS); /* snapshots were written: their ordering is under test too */

    static model m;
    size_t failures = 0;
    char why[JOURNAL_ERROR_MAX + 128];
    for (size_t k = 0; k < n_ops; k++) {
        model_apply(&m, &ops_log[k]);
        if (ops_log[k].kind == OP_ACK && k + 1 < n_ops && ops_log[k + 1].kind == OP_ACK)
            continue; /* a cut between two acknowledgements of a batch is the cut after the second */
        /* every outcome without a key; with one, the harshest outcome only: each such
         * start-up writes and syncs a snapshot, which made all three take 46 s instead of 12 */
        for (int step = 0; step <= N_OUTCOMES; step++) {
            outcome o = step < N_OUTCOMES ? (outcome)step : LOST;
            char cut_dir[PATH_MAX];
            snprintf(cut_dir, sizeof cut_dir, "%s/cut", root);
            if (!cut_and_recover(&m, o, cut_dir, k, step < N_OUTCOMES ? NULL : keys, why, sizeof why)) {
                if (failures++ < 5) {
                    fprintf(stderr, "%s\n  the calls before it:", why);
                    for (size_t b = k >= 6 ? k - 6 : 0; b <= k; b++)
                        fprintf(stderr, " %s%s%s", kind_name(ops_log[b].kind), ops_log[b].name[0] ? " " : "",
                                ops_log[b].name);
                    fprintf(stderr, "\n");
                }
            }
        }
    }
    if (failures > 0)
        fprintf(stderr, "test_power_cut: %zu of the cuts lost acknowledged creates or did not start\n", failures);
    CHECK(failures == 0);
    for (int f = 0; f < MAX_FILES; f++) {
        free(m.now[f].p);
        free(m.synced[f].p);
    }
    for (size_t k = 0; k < n_ops; k++)
        free(ops_log[k].data);
    remove_dir(dir);
    seal_keyring_destroy(keys);
}

/* diskio_posix does what its names say, on a real file. */
static void test_posix(void)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/posix", root);
    CHECK(mkdir(dir, 0700) == 0);
    int dir_fd = open(dir, O_RDONLY | O_DIRECTORY);
    CHECK(dir_fd >= 0);
    const diskio *io = &diskio_posix;
    int fd = io->openat(dir_fd, "a", O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    CHECK(io->openat(dir_fd, "a", O_RDWR | O_CREAT | O_EXCL, 0600) == -1 && errno == EEXIST);
    CHECK(io->pwrite(fd, "hello", 5, 3) == 5);
    CHECK(io->fdatasync(fd) == 0 && io->fsync(dir_fd) == 0);
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_size == 8);
    CHECK(io->ftruncate(fd, 4) == 0 && fstat(fd, &st) == 0 && st.st_size == 4);
    CHECK(io->fallocate(fd, 0, 0, 100) == 0 && fstat(fd, &st) == 0 && st.st_size == 100);
    CHECK(io->close(fd) == 0);
    CHECK(io->renameat(dir_fd, "a", "b") == 0);
    CHECK(faccessat(dir_fd, "a", F_OK, 0) != 0 && faccessat(dir_fd, "b", F_OK, 0) == 0);
    CHECK(io->unlinkat(dir_fd, "b") == 0 && faccessat(dir_fd, "b", F_OK, 0) != 0);
    close(dir_fd);
    rmdir(dir);
}

int main(void)
{
    umask(022);
    CHECK(objectid_init() == 0);
    snprintf(root, sizeof root, "/tmp/hookgate-test-diskio-XXXXXX");
    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_posix();
    test_power_cut();
    rmdir(root);
    return test_exit_code();
}

/* journal: see journal.h.
 *
 * Threads: the writer owns the current journal file (appends, fdatasync, rotation); the
 * snapshotter writes snapshot files from the store's insertion-order index, which it can
 * read without locks (store_nth). They share only the snapshot hand-off below. */
#define _GNU_SOURCE /* fallocate, FALLOC_FL_KEEP_SIZE */
#include "log.h"
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "codec_proto.h"
#include "diskio.h"
#include "hg_assert.h"
#include "record.h"

#define SNAPSHOT_BUFFER (1 << 20) /* bytes a snapshot is written in */
#define NAME_MAX_LEN 64
#define JOURNAL_TORN_COPIES_MAX 100 /* journal.N.torn-<offset>[.k] files kept per offset */

struct journal {
    store *store;
    const diskio *io; /* every call that changes the disk goes through it (diskio.h) */
    char *dir;
    int dir_fd, lock_fd;
    journal_fsync fsync;
    size_t max_queue;
    void (*on_fsync)(int64_t duration_us);
    record_loader loader; /* start-up's: the keys, and what they found */
    unsigned fsync_interval_ms;
    uint64_t snapshot_after;
    int64_t keep_deleted_keys_ms;
    uint8_t *(*event_snapshot)(void *ctx, size_t *len, uint64_t *records);
    void *event_ctx;

    /* the writer thread's own */
    int fd;                     /* journal.<seq>, written at `size` */
    uint64_t seq, size;         /* size: bytes known good; after a failed write the file is cut back to it */
    uint64_t reserved;          /* blocks are reserved (fallocate) up to this offset; >= size */
    int no_reserve;             /* the file system cannot reserve (EOPNOTSUPP): appends just write */
    uint64_t records_bytes;     /* framed bytes of every record in the store: a snapshot's body */
    unsigned snap_refusals;     /* snapshots refused for want of room, in a row */
    int64_t snap_not_before_ms; /* no snapshot attempt before this (CLOCK_MONOTONIC) */
    int broken;                 /* a failed write may have left bytes past `size` */
    int reseal_pending;         /* the files hold secrets not sealed under the current key: snapshot soon */
    int dirty;                  /* written since the last fdatasync */
    int64_t last_sync_ms;
    uint8_t *buf;
    size_t buf_cap;

    /* The queue: appends push onto a stack with one compare-and-swap, so the event loops
     * meet on no lock to append; the writer takes the whole stack at once and turns it
     * back into the order of the pushes. An append that finds the stack empty wakes the
     * writer, under `lock`, as the writer checks the stack under it before it waits: that
     * is once per batch, not per append. */
    journal_op *pushed;    /* newest first; read and written atomically */
    atomic_size_t queued;  /* appends pushed and not yet taken by the writer */
    pthread_mutex_t lock;  /* the writer's sleep, `stopping` and `writable` */
    pthread_cond_t wake;
    int stopping, writable;
    pthread_t writer;

    pthread_mutex_t snap_lock; /* the snapshot hand-off */
    pthread_cond_t snap_wake;
    uint64_t snap_seq; /* write snapshot.<snap_seq> of the first snap_count slots; 0 = none asked */
    size_t snap_count;
    uint8_t *snap_events; /* the event log's records for it (events_snapshot), or NULL */
    size_t snap_events_len;
    uint64_t snap_event_records;
    int snap_busy, snap_stop;
    pthread_t snapshotter;
};

static int64_t now_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* fdatasync, timed for whoever asked (on_fsync: the metrics). */
static int timed_fdatasync(const journal *j, int fd)
{
    int64_t started = now_us();
    int rc = j->io->fdatasync(fd);
    if (j->on_fsync != NULL)
        j->on_fsync(now_us() - started);
    return rc;
}

/* say: a line that wants the operator's attention (log_error); say_info: one that reports */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char line[JOURNAL_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log_error("store: %s", line); /* one write: lines of other threads stay whole */
}

static void say_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say_info(const char *fmt, ...)
{
    char line[JOURNAL_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log_info("store: %s", line);
}

/* A directory stream of dir_fd from its start (a dup shares the offset, so rewind). */
static DIR *dir_open(int dir_fd)
{
    int fd = dup(dir_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL && fd >= 0)
        close(fd);
    if (d != NULL)
        rewinddir(d);
    return d;
}

/* ---- files --------------------------------------------------------------------------- */

static void file_name(char *out, const char *kind, uint64_t seq, const char *suffix)
{
    snprintf(out, NAME_MAX_LEN, "%s.%" PRIu64 "%s", kind, seq, suffix);
}

/* Writes all of len bytes at offset; -1 with errno on failure (short writes retried). */
static int write_at(const journal *j, int fd, const void *data, size_t len, uint64_t offset)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = j->io->pwrite(fd, p, len, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        p += n, len -= (size_t)n, offset += (uint64_t)n;
    }
    return 0;
}

/* Before a write that ends at `upto`: keeps at least half a chunk reserved past it, by
 * reserving up to a whole chunk beyond it (fallocate keeping the file's size, so the
 * reserved blocks are not part of the file and a crash leaves no zeros after the last
 * record). A failure is not an error: the write that follows finds out for itself. */
static void reserve(journal *j, uint64_t upto)
{
    if (j->no_reserve || upto + JOURNAL_PREALLOC_BYTES / 2 <= j->reserved)
        return;
    uint64_t end = upto + JOURNAL_PREALLOC_BYTES;
    if (j->io->fallocate(j->fd, FALLOC_FL_KEEP_SIZE, (off_t)j->reserved, (off_t)(end - j->reserved)) == 0)
        j->reserved = end;
    else if (errno == EOPNOTSUPP)
        j->no_reserve = 1;
}

/* Gives back what the current journal reserved past its end (before it is closed, so an
 * old journal holds no unused blocks). A truncate to the same size does it (ext4, xfs and
 * tmpfs drop blocks past the end on truncate); punching a hole past the end does not on
 * ext4. */
static void unreserve(journal *j)
{
    if (j->reserved > j->size)
        (void)!j->io->ftruncate(j->fd, (off_t)j->size);
    j->reserved = j->size;
}

/* Creates dir/name with just the magic, durably; returns its fd or -1. */
static int create_file(journal *j, const char *name, const char *magic)
{
    int fd = j->io->openat(j->dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (write_at(j, fd, magic, RECORD_MAGIC_LEN, 0) != 0 || j->io->fdatasync(fd) != 0 || j->io->fsync(j->dir_fd) != 0) {
        int e = errno;
        j->io->close(fd);
        j->io->unlinkat(j->dir_fd, name);
        errno = e;
        return -1;
    }
    return fd;
}

/* ---- the snapshotter ----------------------------------------------------------------- */

/* 1 when a snapshot taken at now_ms keeps the version v of a slot: every webhook, and a
 * tombstone while its Idempotency-Key may be replayed (a key's window is counted from the
 * create, as the core counts it), so that the key makes no second webhook after a
 * restart. Other tombstones are left out: the deleted webhook is simply not there. */
static int snapshot_keeps(const journal *j, const store_webhook *v, int64_t now_ms)
{
    return !v->deleted || (v->idempotency != NULL && now_ms - v->created_ms < j->keep_deleted_keys_ms);
}

/* Writes snapshot.<seq> of the first `slots` slots, atomically; 0 or -1 (logged).
 *
 * Changes go on meanwhile, so a slot may show a version newer than the journals before
 * snapshot.<seq>: the journal after it holds that change too, and replaying it again over
 * the snapshot gives the same state (record.h). The header's count comes first, so a
 * first pass decides which slots are written (`keep`, a bit each) and the second writes
 * those, whatever version each shows by then (a webhook deleted in between is written as
 * the tombstone it now is, which the loader takes as such). */
static int snapshot_write(journal *j, uint64_t seq, size_t slots, const uint8_t *events, size_t events_len,
                          uint64_t event_records)
{
    int64_t clock_ms = now_ms(CLOCK_REALTIME);
    uint8_t *keep = calloc(slots / 8 + 1, 1);
    size_t count = 0, deleted = 0;
    for (size_t i = 0; keep != NULL && i < slots; i++) {
        const store_webhook *v = store_nth(j->store, i);
        if (snapshot_keeps(j, v, clock_ms)) {
            keep[i / 8] |= (uint8_t)(1u << (i % 8));
            count++;
            deleted += (size_t)v->deleted;
        }
    }
    char tmp[NAME_MAX_LEN], name[NAME_MAX_LEN];
    file_name(tmp, "snapshot", seq, ".tmp");
    file_name(name, "snapshot", seq, "");
    int64_t started = now_ms(CLOCK_MONOTONIC);
    j->io->unlinkat(j->dir_fd, tmp);
    int fd = j->io->openat(j->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    uint8_t *buf = malloc(SNAPSHOT_BUFFER + RECORD_HEADER_LEN + RECORD_MAX_PAYLOAD);
    if (fd < 0 || buf == NULL || keep == NULL)
        goto fail;
    size_t used = RECORD_MAGIC_LEN;
    uint64_t offset = 0;
    memcpy(buf, RECORD_SNAPSHOT_MAGIC, RECORD_MAGIC_LEN);
    schema_snapshot_header header = SCHEMA_SNAPSHOT_HEADER_INIT;
    header.version = 1;
    header.count = count;
    header.created_ms = clock_ms;
    header.event_records = event_records;
    used += record_frame(&header.base, buf + used);
    size_t written = 0;
    for (size_t i = 0; i < slots; i++) {
        if (!(keep[i / 8] & (1u << (i % 8))))
            continue;
        written++;
        schema_stored_webhook m;
        record_from_webhook(store_nth(j->store, i), &m);
        HG_ASSERT(used < SNAPSHOT_BUFFER); /* room for one more record of RECORD_MAX_PAYLOAD */
        used += record_frame(&m.base, buf + used);
        if (used >= SNAPSHOT_BUFFER) {
            if (write_at(j, fd, buf, used, offset) != 0)
                goto fail;
            offset += used;
            used = 0;
        }
    }
    HG_ASSERT(written == count); /* the header tells the loader how many records follow */
    if (write_at(j, fd, buf, used, offset) != 0 ||
        (events_len > 0 && write_at(j, fd, events, events_len, offset + used) != 0) || j->io->fdatasync(fd) != 0 ||
        j->io->close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (j->io->renameat(j->dir_fd, tmp, name) != 0 || j->io->fsync(j->dir_fd) != 0)
        goto fail;
    free(buf);
    free(keep);
    if (deleted == 0)
        say_info("wrote %s (%zu webhooks) in %" PRId64 " ms", name, count, now_ms(CLOCK_MONOTONIC) - started);
    else
        say_info("wrote %s (%zu webhooks, and %zu deleted ones kept for their Idempotency-Key) in %" PRId64 " ms", name,
                 count - deleted, deleted, now_ms(CLOCK_MONOTONIC) - started);
    return 0;
fail:
    say("could not write %s: %s; the journals keep everything, a snapshot is tried again later", name, strerror(errno));
    if (fd >= 0)
        j->io->close(fd);
    j->io->unlinkat(j->dir_fd, tmp);
    free(buf);
    free(keep);
    return -1;
}

/* Removes snapshots and journals older than seq: snapshot.<seq> holds all they held. */
static void remove_older(journal *j, uint64_t seq)
{
    DIR *d = dir_open(j->dir_fd);
    if (d == NULL)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        uint64_t n;
        int used = 0;
        if ((sscanf(e->d_name, "snapshot.%" SCNu64 "%n", &n, &used) == 1 ||
             sscanf(e->d_name, "journal.%" SCNu64 "%n", &n, &used) == 1) &&
            e->d_name[used] == '\0' && n < seq)
            j->io->unlinkat(j->dir_fd, e->d_name);
    }
    closedir(d);
    j->io->fsync(j->dir_fd);
}

static void *snapshotter_main(void *arg)
{
    journal *j = arg;
    pthread_mutex_lock(&j->snap_lock);
    for (;;) {
        while (j->snap_seq == 0 && !j->snap_stop)
            pthread_cond_wait(&j->snap_wake, &j->snap_lock);
        if (j->snap_seq == 0)
            break;
        uint64_t seq = j->snap_seq;
        size_t count = j->snap_count;
        uint8_t *events = j->snap_events;
        j->snap_events = NULL;
        j->snap_seq = 0;
        pthread_mutex_unlock(&j->snap_lock);
        if (snapshot_write(j, seq, count, events, j->snap_events_len, j->snap_event_records) == 0)
            remove_older(j, seq);
        free(events);
        pthread_mutex_lock(&j->snap_lock);
        j->snap_busy = 0;
    }
    pthread_mutex_unlock(&j->snap_lock);
    return NULL;
}

/* ---- the writer ---------------------------------------------------------------------- */

/* Starts journal.<seq+1> and asks for snapshot.<seq+1> of everything before it. Skipped
 * (and tried again after the next batch) while a snapshot is still being written. */
int journal_snapshot_fits(uint64_t free_bytes, uint64_t snapshot_bytes, uint64_t margin_bytes)
{
    return free_bytes >= snapshot_bytes && free_bytes - snapshot_bytes >= margin_bytes;
}

/* 1 when the file system has room for the next snapshot. Without it, a snapshot would fill
 * the disk while it is written, and the creates meanwhile would be refused (503): instead
 * the journal keeps growing and the snapshot is tried again JOURNAL_SNAPSHOT_RETRY_MS later. */
static int snapshot_has_room(journal *j)
{
    int64_t now = now_ms(CLOCK_MONOTONIC);
    if (j->snap_refusals > 0 && now < j->snap_not_before_ms)
        return 0;
    /* the snapshot: magic, a header (count and time: under 64 bytes), every record */
    uint64_t need = RECORD_MAGIC_LEN + 64 + j->records_bytes;
    struct statvfs sv;
    if (fstatvfs(j->dir_fd, &sv) != 0)
        return 1; /* cannot tell: try, as before; a failed snapshot costs only its attempt */
    uint64_t free_bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
    if (journal_snapshot_fits(free_bytes, need, JOURNAL_SNAPSHOT_MARGIN_BYTES)) {
        if (j->snap_refusals > 0)
            say_info("room for a snapshot again (%" PRIu64 " bytes free, %" PRIu64 " needed)", free_bytes, need);
        j->snap_refusals = 0;
        return 1;
    }
    j->snap_refusals++;
    j->snap_not_before_ms = now + JOURNAL_SNAPSHOT_RETRY_MS;
    if (j->snap_refusals == 1) /* once per spell without room, not per attempt */
        say("no room for a snapshot: it needs %" PRIu64 " bytes plus %" PRIu64 " to spare, %" PRIu64
            " are free; creates go on in journal.%" PRIu64 ", a snapshot is tried again every %d ms",
            need, (uint64_t)JOURNAL_SNAPSHOT_MARGIN_BYTES, free_bytes, j->seq, JOURNAL_SNAPSHOT_RETRY_MS);
    return 0;
}

static void rotate(journal *j)
{
    pthread_mutex_lock(&j->snap_lock);
    int busy = j->snap_busy;
    pthread_mutex_unlock(&j->snap_lock);
    if (busy || !snapshot_has_room(j) || j->io->fdatasync(j->fd) != 0)
        return;
    /* the event log as it is now: every change applied so far, as for the index below */
    uint8_t *events = NULL;
    size_t events_len = 0;
    uint64_t event_records = 0;
    if (j->event_snapshot != NULL) {
        events = j->event_snapshot(j->event_ctx, &events_len, &event_records);
        if (events == NULL && event_records != 0) {
            say("no memory to snapshot the event log; still appending to journal.%" PRIu64, j->seq);
            return;
        }
    }
    char name[NAME_MAX_LEN];
    file_name(name, "journal", j->seq + 1, "");
    int fd = create_file(j, name, RECORD_JOURNAL_MAGIC);
    if (fd < 0) {
        say("could not start %s: %s; still appending to journal.%" PRIu64, name, strerror(errno), j->seq);
        free(events);
        return;
    }
    unreserve(j);
    j->io->close(j->fd);
    j->fd = fd;
    j->seq++;
    j->size = j->reserved = RECORD_MAGIC_LEN;
    j->dirty = 0;
    pthread_mutex_lock(&j->snap_lock);
    j->snap_seq = j->seq;
    j->snap_count = store_slots(j->store); /* every change applied so far is in a journal before j->seq */
    j->snap_events = events;
    j->snap_events_len = events_len;
    j->snap_event_records = event_records;
    j->snap_busy = 1;
    j->reseal_pending = 0; /* the snapshot writes the index, where every secret is sealed under the current key */
    pthread_cond_signal(&j->snap_wake);
    pthread_mutex_unlock(&j->snap_lock);
}

static void set_writable(journal *j, int writable)
{
    pthread_mutex_lock(&j->lock);
    j->writable = writable;
    pthread_mutex_unlock(&j->lock);
}

/* How many records an op writes. */
static size_t op_records(const journal_op *op)
{
    return op->record != NULL ? 1 : op->n_events;
}

/* The i-th record an op writes. */
static void op_message(const journal_op *op, size_t i, schema_stored_webhook *m)
{
    if (op->record == NULL) {
        schema_stored_webhook init = SCHEMA_STORED_WEBHOOK_INIT;
        *m = init;
        m->event = op->events[i];
    } else if (op->sets != 0)
        record_from_update(op->record, op->sets, m);
    else
        record_from_webhook(op->record, m);
}

/* Appends one batch: one write, one fdatasync (for `always`), then every op's outcome. */
static void write_batch(journal *j, journal_op *batch)
{
    size_t total = 0;
    for (journal_op *op = batch; op != NULL; op = op->next) {
        for (size_t i = 0; i < op_records(op); i++) {
            schema_stored_webhook m;
            op_message(op, i, &m);
            total += record_framed_size(protobuf_c_message_get_packed_size(&m.base));
        }
    }
    if (total > j->buf_cap) {
        uint8_t *buf = realloc(j->buf, total);
        if (buf != NULL)
            j->buf = buf, j->buf_cap = total;
    }
    int rc = -1, saved_errno = ENOMEM;
    if (total <= j->buf_cap) {
        size_t used = 0;
        for (journal_op *op = batch; op != NULL; op = op->next) {
            for (size_t i = 0; i < op_records(op); i++) {
                schema_stored_webhook m;
                op_message(op, i, &m);
                used += record_frame(&m.base, j->buf + used);
                HG_ASSERT(used <= total);
            }
        }
        HG_ASSERT(used == total); /* framed exactly what was sized: the buffer holds the whole batch */
        /* bytes a failed write left behind go first, or they would sit before good records */
        if (j->broken && j->io->ftruncate(j->fd, (off_t)j->size) == 0)
            j->broken = 0, j->reserved = j->size; /* the cut gave back the reservation too */
        reserve(j, j->size + used);
        rc = j->broken ? -1 : write_at(j, j->fd, j->buf, used, j->size);
        if (rc == 0 && j->fsync == JOURNAL_FSYNC_ALWAYS)
            rc = timed_fdatasync(j, j->fd);
        saved_errno = errno;
    }
    if (rc != 0) {
        /* nothing of this batch is acknowledged; cut the file back so it holds none of it */
        j->broken = 1;
        if (j->io->ftruncate(j->fd, (off_t)j->size) == 0 && j->io->fdatasync(j->fd) == 0)
            j->broken = 0;
        j->reserved = j->size; /* reserve again before the next write */
        if (journal_is_writable(j))
            say("cannot write journal.%" PRIu64 ": %s; creates are refused (503) until it can", j->seq,
                strerror(saved_errno));
        set_writable(j, 0);
    } else {
        j->size += total;
        j->records_bytes += total;
        if (j->reserved < j->size)
            j->reserved = j->size; /* written without a reservation: the blocks are the file's now */
        j->dirty = j->fsync != JOURNAL_FSYNC_ALWAYS;
        if (!journal_is_writable(j)) {
            say_info("journal.%" PRIu64 " is writable again", j->seq);
            set_writable(j, 1);
        }
    }
    /* done runs here, on this thread, before the next batch and before rotate: the caller
     * applies each written change to the index there, so the index holds changes in
     * journal order and a snapshot of its first store_slots() slots covers every journal
     * before the new one */
    for (journal_op *op = batch, *next; op != NULL; op = next) {
        next = op->next;
        op->status = rc == 0 ? 0 : saved_errno != 0 ? saved_errno : EIO;
        op->done(op);
    }
    if (rc == 0 && (j->size >= j->snapshot_after || j->reseal_pending))
        rotate(j);
}

static void sync_now(journal *j)
{
    if (j->dirty && timed_fdatasync(j, j->fd) == 0)
        j->dirty = 0;
    j->last_sync_ms = now_ms(CLOCK_MONOTONIC);
}

/* The pushed stack, taken whole and turned into the order of its pushes (the journal's). */
static journal_op *take_queue(journal *j)
{
    journal_op *newest = __atomic_exchange_n(&j->pushed, NULL, __ATOMIC_ACQUIRE), *batch = NULL;
    size_t n = 0;
    while (newest != NULL) {
        journal_op *next = newest->next;
        newest->next = batch;
        batch = newest;
        newest = next;
        n++;
    }
    size_t was = atomic_fetch_sub_explicit(&j->queued, n, memory_order_relaxed);
    HG_ASSERT(was >= n);
    return batch;
}

static int queue_empty(journal *j)
{
    return __atomic_load_n(&j->pushed, __ATOMIC_ACQUIRE) == NULL;
}

static void *writer_main(void *arg)
{
    journal *j = arg;
    pthread_mutex_lock(&j->lock);
    for (;;) {
        while (queue_empty(j) && !j->stopping) {
            if (j->fsync == JOURNAL_FSYNC_BATCH && j->dirty) {
                /* batch: flush at most every interval, and at least once after writes */
                int64_t due = j->last_sync_ms + j->fsync_interval_ms, now = now_ms(CLOCK_MONOTONIC);
                if (now >= due) {
                    pthread_mutex_unlock(&j->lock);
                    sync_now(j);
                    pthread_mutex_lock(&j->lock);
                    continue;
                }
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                int64_t ns = until.tv_nsec + (due - now) * 1000000;
                until.tv_sec += ns / 1000000000;
                until.tv_nsec = ns % 1000000000;
                pthread_cond_timedwait(&j->wake, &j->lock, &until);
            } else {
                pthread_cond_wait(&j->wake, &j->lock);
            }
        }
        if (queue_empty(j))
            break; /* stopping, and nothing left to write */
        pthread_mutex_unlock(&j->lock);
        write_batch(j, take_queue(j));
        if (j->fsync == JOURNAL_FSYNC_BATCH && now_ms(CLOCK_MONOTONIC) - j->last_sync_ms >= j->fsync_interval_ms)
            sync_now(j);
        pthread_mutex_lock(&j->lock);
    }
    pthread_mutex_unlock(&j->lock);
    if (j->fsync != JOURNAL_FSYNC_NEVER)
        sync_now(j);
    return NULL;
}

int journal_append(journal *j, journal_op *op)
{
    HG_ASSERT((op->record != NULL) != (op->n_events > 0) && op->done != NULL);
    if (atomic_fetch_add_explicit(&j->queued, 1, memory_order_relaxed) >= j->max_queue) {
        atomic_fetch_sub_explicit(&j->queued, 1, memory_order_relaxed);
        return -1;
    }
    op->next = __atomic_load_n(&j->pushed, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(&j->pushed, &op->next, op, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        ;
    if (op->next == NULL) { /* the first of a batch: the writer may be waiting */
        pthread_mutex_lock(&j->lock);
        pthread_cond_signal(&j->wake);
        pthread_mutex_unlock(&j->lock);
    }
    return 0;
}

size_t journal_queue_depth(journal *j)
{
    return atomic_load_explicit(&j->queued, memory_order_relaxed);
}

int journal_is_writable(journal *j)
{
    pthread_mutex_lock(&j->lock);
    int writable = j->writable;
    pthread_mutex_unlock(&j->lock);
    return writable;
}

/* ---- start-up ------------------------------------------------------------------------ */

typedef struct file_list {
    uint64_t *seqs;
    size_t n, cap;
} file_list;

static int file_list_add(file_list *l, uint64_t seq)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        uint64_t *seqs = realloc(l->seqs, cap * sizeof(*seqs));
        if (seqs == NULL)
            return -1;
        l->seqs = seqs, l->cap = cap;
    }
    l->seqs[l->n++] = seq;
    return 0;
}

static int compare_seq(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A whole file, mapped read-only (len 0: data NULL). */
typedef struct mapped {
    int fd;
    uint8_t *data;
    size_t len;
} mapped;

static int map_file(journal *j, const char *name, mapped *m, int writable)
{
    m->fd = openat(j->dir_fd, name, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    m->data = NULL;
    struct stat st;
    if (m->fd < 0 || fstat(m->fd, &st) != 0)
        return -1;
    m->len = (size_t)st.st_size;
    if (m->len > 0 && (m->data = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, m->fd, 0)) == MAP_FAILED) {
        m->data = NULL;
        return -1;
    }
    return 0;
}

static void unmap_file(mapped *m)
{
    if (m->data != NULL)
        munmap(m->data, m->len);
    if (m->fd >= 0)
        close(m->fd);
}

/* Writes a start-up error into err; returns -1. */
static int fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, JOURNAL_ERROR_MAX, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *damage(record_status st)
{
    return st == RECORD_TORN ? "an incomplete record" : "a record whose checksum or length is wrong";
}

/* The start-up error for a record whose sealed secret cannot be opened: the key is not
 * configured (NO_KEY), or the blob does not open under its previous key (UNOPENED).
 * Starting anyway would lose the secret, so start-up stops. */
static int fail_secret(journal *j, const char *name, size_t at, char *err)
{
    char id[SEAL_KEY_ID_TEXT], have[SEAL_DESCRIBE_MAX];
    seal_key_id_text(j->loader.key_id, id);
    seal_keyring_describe(j->loader.keys, have);
    if (j->loader.failure == RECORD_LOAD_NO_KEY)
        return fail(err,
                    "%s/%s: the webhook secret in the record at offset %zu is sealed under key id %s, which is not "
                    "configured (configured: %s). Set store.secret_key_file, or add to "
                    "store.previous_secret_key_files, the key file whose id is %s: "
                    "(printf hookgate-secret-key-id:; cat FILE) | sha256sum | cut -c1-8 prints a file's id",
                    j->dir, name, at, id, have, id);
    return fail(err,
                "%s/%s: the webhook secret in the record at offset %zu, sealed under the previous key %s, does not "
                "open: the record is damaged. Restore the store directory from a backup.",
                j->dir, name, at, id);
}

static int secret_failure(record_load_failure f)
{
    return f == RECORD_LOAD_NO_KEY || f == RECORD_LOAD_UNOPENED;
}

static int load_snapshot(journal *j, uint64_t seq, journal_stats *stats, char *err)
{
    char name[NAME_MAX_LEN];
    file_name(name, "snapshot", seq, "");
    mapped m;
    int rc = -1;
    if (map_file(j, name, &m, 0) != 0) {
        rc = fail(err, "%s/%s: %s", j->dir, name, strerror(errno));
        goto out;
    }
    size_t offset = RECORD_MAGIC_LEN, len;
    const uint8_t *payload;
    record_status st;
    if (m.len < RECORD_MAGIC_LEN || memcmp(m.data, RECORD_SNAPSHOT_MAGIC, RECORD_MAGIC_LEN) != 0) {
        rc = fail(err, "%s/%s: not a hookgate snapshot (bad magic at offset 0)", j->dir, name);
        goto out;
    }
    error e;
    error_clear(&e);
    schema_snapshot_header *h = NULL;
    if ((st = record_next(m.data, m.len, &offset, &payload, &len)) != RECORD_OK ||
        (h = (schema_snapshot_header *)codec_proto_decode(&schema_snapshot_header_descriptor, payload, len, NULL,
                                                          &e)) == NULL ||
        h->version != 1) {
        if (h != NULL)
            protobuf_c_message_free_unpacked(&h->base, NULL);
        rc = e.kind == ERROR_INTERNAL
                 ? fail(err, "%s/%s: out of memory reading its header", j->dir, name)
                 : fail(err, "%s/%s: unreadable header at offset %d", j->dir, name, RECORD_MAGIC_LEN);
        goto out;
    }
    uint64_t count = h->count + h->event_records;
    size_t body = offset; /* the records start here */
    protobuf_c_message_free_unpacked(&h->base, NULL);
    for (uint64_t i = 0; i < count; i++) {
        size_t at = offset;
        st = record_next(m.data, m.len, &offset, &payload, &len);
        record_load_failure failure = RECORD_LOAD_OK;
        if (st == RECORD_OK && record_load(j->store, payload, len, &j->loader, &e) == NULL)
            failure = j->loader.failure;
        if (secret_failure(failure)) {
            rc = fail_secret(j, name, at, err);
            goto out;
        }
        if (failure == RECORD_LOAD_NO_MEMORY) {
            rc = fail(err, "%s/%s: out of memory loading record %" PRIu64 " (the file may well be fine)", j->dir, name,
                      i + 1);
            goto out;
        }
        if (st != RECORD_OK || failure != RECORD_LOAD_OK) {
            rc = fail(err,
                      "%s/%s is corrupt at offset %zu (record %" PRIu64 " of %" PRIu64 ": %s). Snapshots are "
                      "written whole and renamed into place, so the disk or a copy damaged it: restore the "
                      "store directory from a backup.",
                      j->dir, name, at, i + 1, count,
                      st != RECORD_OK                    ? damage(st)
                      : failure == RECORD_LOAD_MALFORMED ? "not a webhook, nor a record of the event log"
                                                         : "a duplicate id");
            goto out;
        }
    }
    if (offset != m.len) {
        rc = fail(err, "%s/%s is corrupt: %zu unexpected bytes after its %" PRIu64 " records, at offset %zu", j->dir,
                  name, m.len - offset, count, offset);
        goto out;
    }
    j->records_bytes = m.len - body;
    stats->snapshot = seq;
    rc = 0;
out:
    unmap_file(&m);
    return rc;
}

/* Copies the torn tail data[0..len) cut from journal name at offset into a new file
 * <name>.torn-<offset> (".1", ".2", ... after it when a crash at the same offset left one
 * before), durably, before the journal is cut; its name goes into kept ("" when the tail is
 * all zeros: an extend that never got its data holds nothing to keep). -1 with err when
 * the copy cannot be made: start-up stops rather than cut bytes it could not keep. */
static int keep_torn_tail(journal *j, const char *name, const uint8_t *data, size_t len, size_t offset, char *kept,
                          char *err)
{
    kept[0] = '\0';
    int zero = 1;
    for (size_t i = 0; i < len && zero; i++)
        zero = data[i] == 0;
    if (zero || (offset == 0 && len < RECORD_MAGIC_LEN && memcmp(data, RECORD_JOURNAL_MAGIC, len) == 0))
        return 0; /* zeros, or part of the magic of a journal created just before the crash */
    int fd = -1;
    for (unsigned k = 0; k < JOURNAL_TORN_COPIES_MAX && fd < 0; k++) {
        if (k == 0)
            snprintf(kept, NAME_MAX_LEN + 32, "%s.torn-%zu", name, offset);
        else
            snprintf(kept, NAME_MAX_LEN + 32, "%s.torn-%zu.%u", name, offset, k);
        fd = j->io->openat(j->dir_fd, kept, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0 || write_at(j, fd, data, len, 0) != 0 || j->io->fdatasync(fd) != 0 || j->io->fsync(j->dir_fd) != 0) {
        int e = fd < 0 && errno == EEXIST ? EEXIST : errno;
        if (fd >= 0) {
            j->io->close(fd);
            j->io->unlinkat(j->dir_fd, kept);
        }
        kept[0] = '\0';
        return fail(err,
                    "%s/%s ends in a torn tail of %zu bytes at offset %zu (what a crash mid-write leaves), and a "
                    "copy of it cannot be kept: %s. Make room (or move old %s.torn-* files away) and start again, or "
                    "drop the tail yourself: truncate -s %zu %s/%s (keep a copy first)",
                    j->dir, name, len, offset, strerror(e), name, offset, j->dir, name);
    }
    j->io->close(fd);
    return 0;
}

/* Replays journal.<seq>. Only the last journal may end torn: it is then cut back. */
static int replay_journal(journal *j, uint64_t seq, int last, journal_stats *stats, char *err)
{
    char name[NAME_MAX_LEN];
    file_name(name, "journal", seq, "");
    mapped m;
    int rc = -1;
    if (map_file(j, name, &m, 0) != 0) {
        rc = fail(err, "%s/%s: %s", j->dir, name, strerror(errno));
        goto out;
    }
    size_t offset = RECORD_MAGIC_LEN, len;
    if (m.len < RECORD_MAGIC_LEN && last) {
        offset = 0; /* created but its magic never reached the disk: rewritten below */
    } else if (m.len < RECORD_MAGIC_LEN || memcmp(m.data, RECORD_JOURNAL_MAGIC, RECORD_MAGIC_LEN) != 0) {
        rc = fail(err, "%s/%s: not a hookgate journal (bad magic at offset 0)", j->dir, name);
        goto out;
    }
    const uint8_t *payload;
    record_status st;
    error e;
    error_clear(&e);
    while (offset > 0 && (st = record_next(m.data, m.len, &offset, &payload, &len)) == RECORD_OK) {
        record_load_failure failure = RECORD_LOAD_OK;
        if (record_load(j->store, payload, len, &j->loader, &e) == NULL)
            failure = j->loader.failure;
        if (secret_failure(failure)) {
            rc = fail_secret(j, name, offset - len - RECORD_HEADER_LEN, err);
            goto out;
        }
        if (failure == RECORD_LOAD_NO_MEMORY) {
            rc = fail(err, "%s/%s: out of memory loading the record at offset %zu (the file may well be fine)", j->dir,
                      name, offset - len - RECORD_HEADER_LEN);
            goto out;
        }
        if (failure != RECORD_LOAD_OK) {
            rc = fail(err,
                      "%s/%s is corrupt at offset %zu: %s. To start without the records from there on, cut the "
                      "file: truncate -s %zu %s/%s (keep a copy first)",
                      j->dir, name, offset - len - RECORD_HEADER_LEN,
                      failure == RECORD_LOAD_MALFORMED ? "not a webhook" : "a duplicate id",
                      offset - len - RECORD_HEADER_LEN, j->dir, name);
            goto out;
        }
        stats->journal_records++;
    }
    if (offset > 0 && st != RECORD_END && !(st == RECORD_TORN && last)) {
        rc = fail(err,
                  "%s/%s is corrupt at offset %zu: %s (%zu bytes from there to the end). Nothing was loaded. To start "
                  "without the records from there on, cut the file: truncate -s %zu %s/%s (keep a copy first)",
                  j->dir, name, offset, damage(st), m.len - offset, offset, j->dir, name);
        goto out;
    }
    if (offset == 0 || st == RECORD_TORN) {
        /* what a crash mid-append leaves: with fsync always no acknowledged record is in it
         * (batch and never may have acknowledged it), so the bytes are kept for the operator
         * before the file is cut */
        size_t keep = offset == 0 ? 0 : offset;
        char kept[NAME_MAX_LEN + 32] = "";
        if (keep_torn_tail(j, name, m.data + keep, m.len - keep, keep, kept, err) != 0)
            goto out;
        if (kept[0] != '\0')
            say("%s/%s: dropped a torn tail of %zu bytes at offset %zu (what a crash mid-write leaves); "
                "its bytes are kept in %s/%s",
                j->dir, name, m.len - keep, keep, j->dir, kept);
        else
            say("%s/%s: dropped a torn tail of %zu bytes at offset %zu (all zeros: nothing to keep)", j->dir, name,
                m.len - keep, keep);
        stats->torn_bytes += m.len - keep;
        int fd = j->io->openat(j->dir_fd, name, O_WRONLY | O_CLOEXEC, 0);
        if (fd < 0 || j->io->ftruncate(fd, (off_t)keep) != 0 ||
            (keep == 0 && write_at(j, fd, RECORD_JOURNAL_MAGIC, RECORD_MAGIC_LEN, 0) != 0) ||
            j->io->fdatasync(fd) != 0) {
            rc = fail(err, "%s/%s: cannot cut its torn tail: %s", j->dir, name, strerror(errno));
            if (fd >= 0)
                j->io->close(fd);
            goto out;
        }
        j->io->close(fd);
        offset = keep == 0 ? RECORD_MAGIC_LEN : keep;
    }
    j->records_bytes += offset - RECORD_MAGIC_LEN;
    if (last)
        j->size = j->reserved = offset;
    rc = 0;
out:
    unmap_file(&m);
    return rc;
}

static int recover(journal *j, journal_stats *stats, char *err)
{
    file_list snapshots = {0}, journals = {0};
    int rc = -1;
    DIR *d = dir_open(j->dir_fd);
    if (d == NULL)
        return fail(err, "%s: %s", j->dir, strerror(errno));
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        uint64_t n;
        int used = 0;
        if (sscanf(e->d_name, "snapshot.%" SCNu64 "%n", &n, &used) == 1 && strcmp(e->d_name + used, ".tmp") == 0) {
            say_info("removing %s/%s, a snapshot that was never finished", j->dir, e->d_name);
            j->io->unlinkat(j->dir_fd, e->d_name);
        } else if (sscanf(e->d_name, "snapshot.%" SCNu64 "%n", &n, &used) == 1 && e->d_name[used] == '\0') {
            if (file_list_add(&snapshots, n) != 0) {
                fail(err, "%s: out of memory listing its files", j->dir);
                goto out;
            }
        } else if (sscanf(e->d_name, "journal.%" SCNu64 "%n", &n, &used) == 1 && e->d_name[used] == '\0') {
            if (file_list_add(&journals, n) != 0) {
                fail(err, "%s: out of memory listing its files", j->dir);
                goto out;
            }
        }
    }
    if (snapshots.n > 0)
        qsort(snapshots.seqs, snapshots.n, sizeof(uint64_t), compare_seq);
    if (journals.n > 0)
        qsort(journals.seqs, journals.n, sizeof(uint64_t), compare_seq);

    /* snapshot.N is the state at the start of journal.N: load the newest, replay from N on */
    uint64_t from = snapshots.n > 0 ? snapshots.seqs[snapshots.n - 1] : 0;
    if (snapshots.n > 0 && load_snapshot(j, from, stats, err) != 0)
        goto out;
    size_t first = 0;
    while (first < journals.n && journals.seqs[first] < from)
        first++; /* older than the snapshot: left over from a cleanup cut short */
    /* journal.N exists before snapshot.N is asked for, and journals go only below a
     * finished snapshot: the first one left must be the snapshot's own (or journal.1) */
    uint64_t expected = from > 0 ? from : 1;
    if (first < journals.n && journals.seqs[first] != expected) {
        fail(err,
             "%s: journal.%" PRIu64 " is missing (the journals start at journal.%" PRIu64
             "); the records in it are lost. Restore it, or move the later journals away to start with what comes "
             "before.",
             j->dir, expected, journals.seqs[first]);
        goto out;
    }
    for (size_t i = first; i < journals.n; i++) {
        if (i > first && journals.seqs[i] != journals.seqs[i - 1] + 1) {
            fail(err,
                 "%s: journal.%" PRIu64 " is missing (journal.%" PRIu64 " follows journal.%" PRIu64
                 "); the records in it are lost. Restore it, or move the later journals away to start with what "
                 "comes before.",
                 j->dir, journals.seqs[i - 1] + 1, journals.seqs[i], journals.seqs[i - 1]);
            goto out;
        }
        if (replay_journal(j, journals.seqs[i], i + 1 == journals.n, stats, err) != 0)
            goto out;
    }
    char name[NAME_MAX_LEN];
    if (first < journals.n) {
        j->seq = journals.seqs[journals.n - 1];
        file_name(name, "journal", j->seq, "");
        j->fd = j->io->openat(j->dir_fd, name, O_RDWR | O_CLOEXEC, 0);
    } else {
        j->seq = from > 0 ? from : 1;
        j->size = j->reserved = RECORD_MAGIC_LEN;
        file_name(name, "journal", j->seq, "");
        j->fd = create_file(j, name, RECORD_JOURNAL_MAGIC);
    }
    if (j->fd < 0) {
        fail(err, "%s/%s: %s", j->dir, name, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    free(snapshots.seqs);
    free(journals.seqs);
    closedir(d);
    return rc;
}

journal *journal_open(const journal_options *o, store *s, journal_stats *stats, char err[JOURNAL_ERROR_MAX])
{
    int64_t started = now_ms(CLOCK_MONOTONIC);
    journal *j = calloc(1, sizeof(*j));
    if (j == NULL || (j->dir = strdup(o->path)) == NULL) {
        free(j);
        snprintf(err, JOURNAL_ERROR_MAX, "out of memory");
        return NULL;
    }
    memset(stats, 0, sizeof(*stats));
    j->store = s;
    j->io = o->io != NULL ? o->io : &diskio_posix;
    HG_ASSERT(o->max_queue > 0 && o->snapshot_after_bytes > 0);
    j->fsync = o->fsync;
    j->fsync_interval_ms = o->fsync_interval_ms;
    j->snapshot_after = o->snapshot_after_bytes;
    j->keep_deleted_keys_ms = o->keep_deleted_keys_ms;
    j->max_queue = o->max_queue;
    j->on_fsync = o->on_fsync;
    j->loader.keys = o->keys;
    j->loader.on_event = o->event_load;
    j->loader.event_ctx = o->event_ctx;
    j->event_snapshot = o->event_snapshot;
    j->event_ctx = o->event_ctx;
    j->dir_fd = j->lock_fd = j->fd = -1;
    j->writable = 1;

    if (mkdir(j->dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, JOURNAL_ERROR_MAX, "%s: cannot create the store directory: %s", j->dir, strerror(errno));
        goto fail;
    }
    if ((j->dir_fd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        snprintf(err, JOURNAL_ERROR_MAX, "%s: %s", j->dir, strerror(errno));
        goto fail;
    }
    /* The directory itself is locked (a LOCK file deleted by hand would free a lock held
     * only on it), and LOCK too, for servers of earlier versions that lock only that. */
    if (flock(j->dir_fd, LOCK_EX | LOCK_NB) != 0 ||
        (j->lock_fd = openat(j->dir_fd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
        flock(j->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, JOURNAL_ERROR_MAX,
                 errno == EWOULDBLOCK ? "%s is in use by another hookgate (it holds %s/LOCK); a store directory "
                                        "serves one server at a time"
                                      : "%s: cannot lock it or its LOCK file: %s",
                 j->dir, errno == EWOULDBLOCK ? j->dir : strerror(errno));
        goto fail;
    }
    if (recover(j, stats, err) != 0)
        goto fail;
    j->last_sync_ms = now_ms(CLOCK_MONOTONIC);
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->wake, NULL);
    pthread_mutex_init(&j->snap_lock, NULL);
    pthread_cond_init(&j->snap_wake, NULL);
    /* the index holds those secrets sealed under the current key, the files do not yet:
     * a snapshot of the index rewrites them now rather than once the journal is full
     * (if there is no room for it, after the next write that finds room) */
    stats->resealed = j->loader.resealed;
    j->records_bytes = (uint64_t)((int64_t)j->records_bytes + j->loader.resealed_growth);
    if (j->loader.resealed > 0) {
        char id[SEAL_KEY_ID_TEXT];
        seal_key_id_text(seal_keyring_current_id(o->keys), id);
        j->reseal_pending = 1;
        say_info("%zu webhook secrets are on disk in plain text or under a previous key: sealed under key %s as they "
                 "loaded; snapshot.%" PRIu64 " rewrites the store with them sealed so",
                 j->loader.resealed, id, j->seq + 1);
        rotate(j); /* the threads are not running yet: this is the writer's only caller so far */
    }
    if (pthread_create(&j->writer, NULL, writer_main, j) != 0 ||
        pthread_create(&j->snapshotter, NULL, snapshotter_main, j) != 0) {
        snprintf(err, JOURNAL_ERROR_MAX, "cannot start the store's threads");
        goto fail; /* start-up fails as a whole: the process exits */
    }
    stats->webhooks = store_count(s);
    stats->milliseconds = (double)(now_ms(CLOCK_MONOTONIC) - started);
    return j;
fail:
    if (j->fd >= 0)
        j->io->close(j->fd);
    if (j->lock_fd >= 0)
        close(j->lock_fd);
    if (j->dir_fd >= 0)
        close(j->dir_fd);
    free(j->dir);
    free(j);
    return NULL;
}

void journal_close(journal *j)
{
    if (j == NULL)
        return;
    pthread_mutex_lock(&j->lock);
    j->stopping = 1;
    pthread_cond_signal(&j->wake);
    pthread_mutex_unlock(&j->lock);
    pthread_join(j->writer, NULL);
    pthread_mutex_lock(&j->snap_lock);
    j->snap_stop = 1;
    pthread_cond_signal(&j->snap_wake);
    pthread_mutex_unlock(&j->snap_lock);
    pthread_join(j->snapshotter, NULL);
    unreserve(j);
    j->io->close(j->fd);
    close(j->lock_fd); /* releases the lock */
    close(j->dir_fd);
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->wake);
    pthread_mutex_destroy(&j->snap_lock);
    pthread_cond_destroy(&j->snap_wake);
    free(j->snap_events);
    free(j->buf);
    free(j->dir);
    free(j);
}

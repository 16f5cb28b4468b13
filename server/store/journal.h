/* journal: makes the store durable — Redis' snapshot + append-only file, in hookgate's
 * own schema.
 *
 * Every create, update and delete is appended to the journal (and flushed per store.fsync)
 * before the store shows it and before its caller hears back (the caller, backend_memory.c, inserts the
 * record into the index when the journal reports it written); one writer thread does the I/O, so an event
 * loop never waits on the disk, and one fdatasync covers every record queued meanwhile
 * (group commit). When the journal passes store.snapshot_after_bytes, a new journal is
 * started and a snapshot of everything before it is written by another thread (temp file,
 * fsync, rename, fsync of the directory); then the older files are removed. Start-up
 * loads the newest snapshot and replays the journals after it.
 *
 * Files in store.path: LOCK (flock'd, as is the directory: one server per directory), snapshot.N (the state
 * at the start of journal.N), journal.N. Directory 0700, files 0600. */
#ifndef HOOKGATE_JOURNAL_H
#define HOOKGATE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "diskio.h"
#include "error.h"
#include "schema.h"
#include "seal.h"
#include "store.h"

#define JOURNAL_ERROR_MAX 1024 /* bytes of a start-up error message */
#define JOURNAL_MAX_EXTRA_FDS 4 /* descriptors a running journal opens besides those it holds, at most at once: \
                                   the next journal while the last is open, and the snapshotter's temp file \
                                   and directory listing. The server keeps them free (server.c) */

/* When the journal is flushed to disk. */
typedef enum journal_fsync {
    JOURNAL_FSYNC_ALWAYS, /* before any create it holds is acknowledged */
    JOURNAL_FSYNC_BATCH,  /* at most every fsync_interval_ms */
    JOURNAL_FSYNC_NEVER,  /* left to the kernel */
} journal_fsync;

/* What the journal is told at start (the domain maps its configuration onto this). */
typedef struct journal_options {
    const char *path;              /* the store directory */
    journal_fsync fsync;
    unsigned fsync_interval_ms;    /* JOURNAL_FSYNC_BATCH */
    uint64_t snapshot_after_bytes; /* a journal this long starts a new one and a snapshot */
    size_t max_queue;              /* appends waiting for the writer; past it journal_append refuses */
    void (*on_fsync)(int64_t duration_us); /* optional: after each fdatasync, on the writer thread */
    int64_t keep_deleted_keys_ms;  /* a snapshot keeps a deleted webhook created with an Idempotency-Key
                                      this long (the key's window), so its key makes no second webhook */
    const diskio *io;              /* optional: NULL is diskio_posix; tests record the calls */
    const seal_keyring *keys;      /* optional: the secret keys (seal.h); must outlive the journal */
    /* optional: the event log that rides in the same files (events.h; StoredWebhook.event).
     * event_load applies a record at start-up (0, or -1 with err: start-up stops);
     * event_snapshot is called on the writer thread when a new journal starts, and returns
     * the framed records that rebuild the log as it is then (malloc'd; NULL with *records 0
     * when there are none, NULL with *records 1 when out of memory: the snapshot is skipped). */
    int (*event_load)(void *ctx, const schema_stored_event *r, error *err);
    uint8_t *(*event_snapshot)(void *ctx, size_t *len, uint64_t *records);
    void *event_ctx;
} journal_options;

typedef struct journal journal;

typedef struct journal_op journal_op;
struct journal_op {
    store_webhook *record;        /* in: from store_record_new; the caller's again when done runs. A create,
                                     or with record->deleted the delete of record->id */
    unsigned sets;                /* in: not 0: an update of record->id setting these fields (STORE_SET_*)
                                     to record's values */
    schema_stored_event *const *events; /* in, instead of record (then NULL): records of the event log,
                                           written in this order, read until done runs */
    size_t n_events;
    int status;                   /* out: 0 (written, and flushed per the fsync policy), or the errno
                                     the disk refused the write with */
    void (*done)(journal_op *op); /* called once, on the writer thread, with the outcome; on success it
                                     must apply the change to the journal's store before returning
                                     (snapshots rely on the index holding changes in journal order) */
    journal_op *next;             /* the journal's queue */
};

/* What start-up found, for the log. */
typedef struct journal_stats {
    size_t webhooks;        /* loaded in all */
    size_t journal_records; /* records replayed from journals: creates, updates and deletes */
    uint64_t snapshot;      /* number of the snapshot loaded; 0 = none */
    size_t torn_bytes;      /* dropped from a torn journal tail */
    size_t resealed;        /* secrets the files hold in plain text or under a previous key, sealed under
                               the current key in memory; a snapshot was asked for at once to rewrite them */
    double milliseconds;    /* time taken */
} journal_stats;

/* The journal reserves disk space ahead of its writes in chunks of this many bytes
 * (fallocate, keeping the file's size), so that a snapshot or another process cannot take
 * the room the next appends need. */
#define JOURNAL_PREALLOC_BYTES (1u << 20)
/* A snapshot starts only when the file system has room for it plus this much: the
 * journal's next reservations while the snapshot is written. */
#define JOURNAL_SNAPSHOT_MARGIN_BYTES (2 * (uint64_t)JOURNAL_PREALLOC_BYTES)
/* A snapshot refused for want of room is tried again after the next write at least this
 * long later. An attempt without room is one fstatvfs, so the wait stays short: once an
 * operator frees room, the snapshot is written within about this long, before the journal
 * can fill that room again (a wait that doubled up to a minute let 10,000 creates fill
 * 8.5 MiB of freed tmpfs first, in tests/store/test_disk.py). */
#define JOURNAL_SNAPSHOT_RETRY_MS 1000

/* The free-space rule (pure, for tests): 1 when a snapshot of snapshot_bytes fits in
 * free_bytes with margin_bytes to spare; 0 when starting it would fill the disk. */
int journal_snapshot_fits(uint64_t free_bytes, uint64_t snapshot_bytes, uint64_t margin_bytes);

/* Creates the directory if needed (0700), locks it, loads the newest snapshot and replays
 * the journals after it into s (which must be empty), then starts the writer and snapshot
 * threads. Returns NULL with a message in err: the directory is locked by another server,
 * cannot be created or read, or a file is corrupt (the message names the file, the offset
 * and how to recover), the last journal's last record included. A torn tail of the last
 * journal (what a crash mid-write leaves, record.h) is copied to journal.N.torn-<offset>
 * unless it is all zeros, then cut off: not an error. With o->keys, a secret sealed under
 * a key the ring lacks refuses start-up (naming the key id: the secret would be lost
 * otherwise); secrets in plain text or under a previous key are sealed under the current
 * key as they load, and a snapshot is started at once so that the files soon hold them
 * only in that form. */
journal *journal_open(const journal_options *o, store *s, journal_stats *stats, char err[JOURNAL_ERROR_MAX]);

/* Queues op; op->done is called later on the writer thread. Never blocks on I/O. Returns
 * 0, or -1 when max_queue appends already wait (op untouched, done never called: the
 * caller answers "unavailable" at once instead of letting the queue grow). */
int journal_append(journal *j, journal_op *op);

/* Finishes every queued append (each op's done is called), flushes, stops the threads,
 * waits for a snapshot in progress, unlocks the directory and frees j. */
void journal_close(journal *j);

/* Creates queued for the writer and not yet taken. */
size_t journal_queue_depth(journal *j);

/* 1 when the last write succeeded (for readiness); 0 while the disk refuses writes. */
int journal_is_writable(journal *j);

#endif

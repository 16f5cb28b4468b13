/* epoch: when memory that lock-free readers may still be reading can be freed
 * (epoch-based reclamation, as in Fraser's "Practical lock-freedom").
 *
 * A reader brackets each look at a shared structure with epoch_enter / epoch_exit: a read
 * section, short and never blocking. A writer that takes a piece out of a structure (so that
 * no new reader can reach it) hands it to epoch_retire instead of freeing it; the next
 * epoch_collect after every read section that could have reached it has ended frees it. One process-wide domain:
 * the sections of every structure delay the reclamation of all, which costs nothing while
 * sections stay short. A thread's first epoch_enter registers it (a record of its own, from
 * a fixed pool of EPOCH_MAX_THREADS, reused after the thread exits). */
#ifndef HOOKGATE_EPOCH_H
#define HOOKGATE_EPOCH_H

#include <stddef.h>
#include <stdint.h>

#define EPOCH_MAX_THREADS 1024 /* threads that may be registered at once: loops, journal, workers */

/* Embedded in whatever is retired; free_fn gets it back (container_of it) and frees the whole. */
typedef struct epoch_node {
    struct epoch_node *next; /* private */
    uint64_t epoch;          /* private: the epoch it was retired in */
    void (*free_fn)(struct epoch_node *node);
} epoch_node;

/* Begins a read section on this thread (sections nest). Pointers read from a shared
 * structure inside it stay valid until the matching epoch_exit. */
void epoch_enter(void);

/* Ends it. */
void epoch_exit(void);

/* Hands node, which no reader can reach any more from now on, over to be freed with
 * free_fn once every section begun before this call has ended. Frees nothing itself, so a
 * writer may call it under its own lock: it calls epoch_collect once it has let go. Any
 * thread; never blocks on readers. */
void epoch_retire(epoch_node *node, void (*free_fn)(epoch_node *node));

/* Frees what was retired and every section has moved past since. Never waits; costs one
 * atomic load when nothing is pending, so writers call it after each change. */
void epoch_collect(void);

/* Waits until every read section begun before the call has ended, then frees everything
 * retired so far. For a structure's destroy and for tests; must not be called inside a
 * read section. */
void epoch_synchronize(void);

/* How many retired nodes wait to be freed: for tests and benchmarks. */
size_t epoch_pending(void);

#endif

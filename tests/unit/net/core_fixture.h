/* core_fixture: a real core for the net layer's handler tests — configuration from YAML,
 * a memory store, Idempotency-Keys, the create rate limit, and, when the YAML sets
 * store.path, a journal (so creates wait for its writer thread, as in the server).
 *
 * Header-only; the mapping from configuration to journal options is main.c's, kept short. */
#ifndef HOOKGATE_TEST_CORE_FIXTURE_H
#define HOOKGATE_TEST_CORE_FIXTURE_H

#include <stdatomic.h>
#include <string.h>

#include "config.h"
#include "core.h"
#include "idempotency.h"
#include "journal.h"
#include "objectid.h"
#include "ratelimit.h"
#include "store.h"
#include "test.h"

/* Fills c from yaml. 0, or -1 with a failed CHECK and the reason on stderr. */
static inline int core_fixture_open(core *c, const char *yaml)
{
    char errtext[CONFIG_ERROR_MAX > JOURNAL_ERROR_MAX ? CONFIG_ERROR_MAX : JOURNAL_ERROR_MAX];
    memset(c, 0, sizeof(*c));
    CHECK(objectid_init() == 0);
    config *cfg = config_parse("fixture.yaml", yaml, strlen(yaml), errtext);
    if (cfg == NULL) {
        fprintf(stderr, "config: %s\n", errtext);
        CHECK(cfg != NULL);
        return -1;
    }
    c->cfg = cfg;
    c->store = store_create();
    c->idempotency = idempotency_create(c->store);
    if (cfg->limits.creates_per_second_per_token > 0)
        c->create_limit = ratelimit_create(cfg->limits.creates_per_second_per_token);
    if (cfg->store_path != NULL) {
        journal_options jo = {.path = cfg->store_path,
                              .fsync = JOURNAL_FSYNC_NEVER, /* the tests do not test the disk */
                              .snapshot_after_bytes = cfg->store_snapshot_after_bytes,
                              .max_queue = cfg->store_max_queued_creates};
        journal_stats stats;
        c->journal = journal_open(&jo, c->store, &stats, errtext);
        if (c->journal == NULL) {
            fprintf(stderr, "journal: %s\n", errtext);
            CHECK(c->journal != NULL);
            return -1;
        }
    }
    return 0;
}

/* Closes the journal if it is still open (every append it holds is answered, and posted
 * to its loop); the loop must take those answers before core_fixture_close. */
static inline void core_fixture_close_journal(core *c)
{
    if (c->journal != NULL)
        journal_close(c->journal);
    c->journal = NULL;
}

/* Frees the rest; the journal must be closed. */
static inline void core_fixture_close(core *c)
{
    CHECK(c->journal == NULL);
    ratelimit_destroy(atomic_load(&c->create_limit));
    idempotency_destroy(c->idempotency);
    store_destroy(c->store);
    config_destroy((config *)atomic_load(&c->cfg));
}

#endif

/* core_fixture: a real core for the net layer's handler tests — configuration from YAML
 * over the memory backend, with a journal when the YAML sets store.path (so creates wait
 * for the writer's thread, as in the server).
 *
 * Header-only; the mapping from configuration to journal options is main.c's, kept short. */
#ifndef HOOKGATE_TEST_CORE_FIXTURE_H
#define HOOKGATE_TEST_CORE_FIXTURE_H

#include <string.h>

#include "backend.h"
#include "config.h"
#include "core.h"
#include "objectid.h"
#include "test.h"

/* A core over yaml; NULL with a failed CHECK and the reason on stderr. Free it with
 * core_destroy, which first finishes every call the backend holds (their done callbacks
 * run, and post to their loops: take those answers before taking the loops down). */
static inline core *core_fixture_open(const char *yaml)
{
    char errtext[CONFIG_ERROR_MAX > JOURNAL_ERROR_MAX ? CONFIG_ERROR_MAX : JOURNAL_ERROR_MAX];
    CHECK(objectid_init() == 0);
    config *cfg = config_parse("fixture.yaml", yaml, strlen(yaml), errtext);
    if (cfg == NULL) {
        fprintf(stderr, "config: %s\n", errtext);
        CHECK(cfg != NULL);
        return NULL;
    }
    journal_options jo = {.path = cfg->store_path,
                          .fsync = JOURNAL_FSYNC_NEVER, /* these tests are not about the disk */
                          .snapshot_after_bytes = cfg->store_snapshot_after_bytes,
                          .max_queue = cfg->store_max_queued_creates};
    backend_memory_stats stats;
    backend *b = backend_memory_open(cfg->store_path != NULL ? &jo : NULL, &stats, errtext);
    if (b == NULL) {
        fprintf(stderr, "store: %s\n", errtext);
        CHECK(b != NULL);
        config_destroy(cfg);
        return NULL;
    }
    core *c = core_create(cfg, b);
    CHECK(c != NULL);
    return c;
}

/* Webhooks in the store now. */
static inline size_t core_fixture_stored(core *c)
{
    backend_stats st;
    core_stats(c, &st);
    return st.webhooks;
}

#endif

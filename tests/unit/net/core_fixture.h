/* core_fixture: a real core for the net layer's handler tests — configuration from YAML
 * over the memory backend, with a journal when the YAML sets store.path (so creates wait
 * for the writer's thread, as in the server).
 *
 * Header-only; the mapping from configuration to journal options is main.c's, kept short. */
#ifndef HOOKGATE_TEST_CORE_FIXTURE_H
#define HOOKGATE_TEST_CORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
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
    backend *b = backend_memory_open(cfg->store_path != NULL ? &jo : NULL, NULL, &stats, errtext);
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

#define CORE_FIXTURE_YAML_MAX 2048 /* bytes of a configuration the fixture writes */

/* A durable store for a test: makes a fresh directory in /tmp (dir, at least 64 bytes) and
 * writes into yaml base followed by its store section. 0, or -1 with a failed CHECK. */
static inline int core_fixture_store_yaml(const char *base, char *dir, char yaml[CORE_FIXTURE_YAML_MAX])
{
    strcpy(dir, "/tmp/hookgate-test-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    int n = snprintf(yaml, CORE_FIXTURE_YAML_MAX, "%sstore: { path: %s, fsync: never }\n", base, dir);
    CHECK(n > 0 && n < CORE_FIXTURE_YAML_MAX);
    return dir[0] != '\0' && n > 0 && n < CORE_FIXTURE_YAML_MAX ? 0 : -1;
}

/* Removes what core_fixture_store_yaml made (the core must be destroyed). */
static inline void core_fixture_store_remove(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* Webhooks in the store now. */
static inline size_t core_fixture_stored(core *c)
{
    backend_stats st;
    core_stats(c, &st);
    return st.webhooks;
}

#endif

/* backend_memory: the backend of backend.h over the in-memory index (store.h), made
 * durable by the journal (journal.h) when a store directory is configured.
 *
 * Reads complete before backend_submit returns. A write (create, update, delete) is applied
 * at once without a journal; with one, it is copied into a record, queued, and applied by
 * this module on the journal's writer thread once written: the index has this one writer
 * while serving (start-up's recovery fills it before anyone can submit), and the journal's
 * order is the order of application. An update or a delete is checked against the index
 * only then, so one that finds its webhook gone by its turn is written all the same and
 * answers NOT_FOUND; replaying it changes nothing either (record.h). */
#include "backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hg_assert.h"

typedef struct memory_backend {
    backend pub;
    store *index;
    journal *journal; /* NULL: memory only */
} memory_backend;

static void finish(backend_call *c, int status, const store_webhook *found)
{
    c->status = status;
    c->found = found;
    c->done(c);
}

/* A call's status from a change of the index: 0, or why the index refused it. */
static int change_status(const store_webhook *found, const error *err)
{
    if (found != NULL)
        return 0;
    if (err->kind == ERROR_NOT_FOUND)
        return BACKEND_NOT_FOUND;
    return err->kind == ERROR_UNAVAILABLE ? EOVERFLOW : ENOMEM; /* full, or out of memory */
}

/* The changes an update's record makes (sets 0: none, not an update): its values, the
 * secret in the form it is stored in (sealed, or plain without a key). */
static store_changes changes_of(const store_webhook *r, unsigned sets)
{
    return (store_changes){.sets = sets,
                           .disabled = r->disabled,
                           .url = r->url,
                           .secret = r->secret,
                           .sealed_secret = r->sealed_secret,
                           .sealed_secret_len = r->sealed_secret_len,
                           .description = r->description,
                           .disabled_reason = r->disabled_reason,
                           .disabled_ms = r->disabled_ms};
}

/* Applies the write c to the index: a create of `record`, an update of c->id by `changes`,
 * or the delete of c->id. */
static const store_webhook *apply(memory_backend *m, backend_call *c, const store_webhook *record,
                                  const store_changes *changes, error *err)
{
    switch (c->verb) {
    case BACKEND_CREATE:
        return store_insert(m->index, record, err);
    case BACKEND_UPDATE:
        return store_update(m->index, &c->id, changes, err);
    case BACKEND_DELETE:
        return store_delete(m->index, &c->id, err);
    default:
        break;
    }
    HG_ASSERT(!"a backend verb that writes nothing");
    return NULL;
}

/* The journal's verdict, on its writer thread (see journal_op.done). */
static void on_journaled(journal_op *op)
{
    backend_call *c = (backend_call *)((char *)op - offsetof(backend_call, journal));
    memory_backend *m = c->backend;
    store_webhook *record = op->record;
    op->record = NULL;
    if (op->status != 0) {
        store_record_free(record);
        finish(c, op->status, NULL);
        return;
    }
    error err;
    error_clear(&err);
    /* an update's journal_changes point into the record: applied before it goes */
    const store_webhook *found = apply(m, c, record, &c->journal_changes, &err);
    store_record_free(record);
    finish(c, change_status(found, &err), found);
}

/* A page: room for limit pointers (not for the whole ecosystem), filled by the index. */
static void list(memory_backend *m, backend_call *c)
{
    const store_webhook **items = c->alloc->alloc(c->alloc->allocator_data, c->limit * sizeof(*items));
    if (items == NULL) {
        finish(c, ENOMEM, NULL);
        return;
    }
    c->n_items = store_page(m->index, c->ecosystem_id, c->after, items, c->limit, &c->more);
    if (c->n_items > 0) {
        c->items = items;
    } else {
        c->alloc->free(c->alloc->allocator_data, items);
    }
    finish(c, 0, NULL);
}

/* A create, update or delete: applied now without a journal, else once written. */
static void submit_write(memory_backend *m, backend_call *c)
{
    /* sealed here, once: the plain text goes no further than the caller's request. A
     * create's record is the webhook; an update's carries the id and the new values (a new
     * secret sealed as a create's); a delete's, the webhook as it is now, marked deleted
     * (what a snapshot keeps of it: the index holds its secret sealed already) */
    store_webhook w;
    unsigned sets = 0;
    if (c->verb == BACKEND_CREATE) {
        w = *c->webhook;
    } else if (c->verb == BACKEND_UPDATE) {
        const store_changes *ch = c->changes;
        sets = ch->sets;
        w = (store_webhook){.id = c->id,
                            .disabled = ch->disabled != 0,
                            .ecosystem_id = "",
                            .url = ch->sets & STORE_SET_URL ? ch->url : "",
                            .secret = ch->sets & STORE_SET_SECRET ? ch->secret : "",
                            .description = ch->sets & STORE_SET_DESCRIPTION ? ch->description : "",
                            .disabled_reason = ch->disabled_reason,
                            .disabled_ms = ch->disabled_ms};
    } else {
        const store_webhook *now = store_get(m->index, &c->id);
        if (now == NULL) { /* gone already; one that goes while this waits is found at its turn */
            finish(c, BACKEND_NOT_FOUND, NULL);
            return;
        }
        w = *now;
        w.deleted = 1;
    }
    store_webhook sealed;
    uint8_t *buf;
    if (seal_webhook(m->pub.keys, &w, &sealed, &buf) != 0) {
        finish(c, ENOMEM, NULL);
        return;
    }
    if (m->journal == NULL) { /* a create is copied once, straight into the index's blocks */
        error err;
        error_clear(&err);
        store_changes changes = changes_of(&sealed, sets);
        const store_webhook *found = apply(m, c, &sealed, &changes, &err);
        free(buf);
        finish(c, change_status(found, &err), found);
        return;
    }
    /* with a journal the record must outlive the caller's request: a copy of its own */
    store_webhook *record = store_record_new(&sealed);
    free(buf);
    c->journal.sets = sets;
    if (record == NULL) {
        finish(c, ENOMEM, NULL);
        return;
    }
    c->journal_changes = changes_of(record, sets); /* points into the record: see on_journaled */
    c->journal.record = record;
    c->journal.done = on_journaled;
    if (journal_append(m->journal, &c->journal) != 0) {
        c->journal.record = NULL;
        store_record_free(record);
        finish(c, EAGAIN, NULL);
    }
}

static void memory_submit(void *self, backend_call *c)
{
    memory_backend *m = self;
    c->backend = m;
    c->found = NULL;
    c->items = NULL;
    c->n_items = 0;
    c->more = 0;
    switch (c->verb) {
    case BACKEND_CREATE:
    case BACKEND_UPDATE:
    case BACKEND_DELETE:
        submit_write(m, c);
        return;
    case BACKEND_GET: {
        const store_webhook *w = store_get(m->index, &c->id);
        finish(c, w != NULL ? 0 : BACKEND_NOT_FOUND, w);
        return;
    }
    case BACKEND_FIND_IDEMPOTENT: {
        const store_webhook *w = store_get_idempotent(m->index, c->digest);
        finish(c, w != NULL ? 0 : BACKEND_NOT_FOUND, w);
        return;
    }
    case BACKEND_LIST:
        list(m, c);
        return;
    case BACKEND_VERBS:
        break;
    }
    HG_ASSERT(!"an unknown backend verb");
}

static int memory_is_synchronous(void *self, backend_verb verb)
{
    memory_backend *m = self;
    return (verb != BACKEND_CREATE && verb != BACKEND_UPDATE && verb != BACKEND_DELETE) || m->journal == NULL;
}

static void memory_stats(void *self, backend_stats *out)
{
    memory_backend *m = self;
    out->webhooks = store_count(m->index);
    out->queue_depth = m->journal != NULL ? journal_queue_depth(m->journal) : 0;
    out->writable = m->journal != NULL ? journal_is_writable(m->journal) : -1;
    out->unwritable = "the journal cannot be written (creates answer 503; reads work)";
}

static void memory_destroy(void *self)
{
    memory_backend *m = self;
    journal_close(m->journal); /* every queued write is written (and applied) first */
    store_destroy(m->index);
    seal_keyring_destroy((seal_keyring *)m->pub.keys);
    free(m);
}

static const backend_ops memory_ops = {
    .name = "memory",
    .submit = memory_submit,
    .is_synchronous = memory_is_synchronous,
    .stats = memory_stats,
    .destroy = memory_destroy,
};

backend *backend_memory_open(const journal_options *journal_opts, seal_keyring *keys, backend_memory_stats *stats,
                             char err[JOURNAL_ERROR_MAX])
{
    memset(stats, 0, sizeof(*stats));
    memory_backend *m = calloc(1, sizeof(*m));
    if (m == NULL || (m->index = store_create()) == NULL) {
        free(m);
        seal_keyring_destroy(keys);
        snprintf(err, JOURNAL_ERROR_MAX, "out of memory");
        return NULL;
    }
    if (journal_opts != NULL) {
        journal_options o = *journal_opts;
        o.keys = keys;
        if ((m->journal = journal_open(&o, m->index, &stats->journal, err)) == NULL) {
            store_destroy(m->index);
            seal_keyring_destroy(keys);
            free(m);
            return NULL;
        }
    }
    m->pub.keys = keys;
    m->pub.ops = &memory_ops;
    m->pub.self = m;
    return &m->pub;
}

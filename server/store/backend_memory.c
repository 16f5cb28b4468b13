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
    events *log;      /* the event log, durable through the same journal */
    journal *journal; /* NULL: memory only */
} memory_backend;

static void webhook_changed(memory_backend *m, const store_webhook *w, backend_verb verb, unsigned sets);

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
    if (found != NULL)
        webhook_changed(m, found, c->verb, op->sets);
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
        w = store_record_fields(now); /* another loop may be keeping its rendering */
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
        if (found != NULL)
            webhook_changed(m, found, c->verb, sets);
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

/* ---- the event log --------------------------------------------------------------------- */

/* Records the backend wrote for an op of its own (a cancel), freed once written. */
typedef struct own_op {
    journal_op op;
    schema_stored_event record;
    schema_stored_event *records[1];
    objectid webhook_id;
    memory_backend *m;
} own_op;

static void on_cancel_written(journal_op *op)
{
    own_op *o = (own_op *)op;
    error err;
    if (op->status == 0)
        (void)events_apply(o->m->log, &o->record, &err); /* a failure leaves the dispatcher to cancel each */
    free(o);
}

/* What a webhook's change means for its deliveries, as a record of the event log:
 * - disabled or deleted: its pending deliveries are cancelled. A cancel that cannot be
 *   written (the queue is full) is left to the dispatcher, which cancels a delivery to a
 *   disabled or deleted webhook when it comes due;
 * - enabled by a client: its failure clock starts again (else the next failure would
 *   disable it at once, its clock having run while it was disabled). */
static void webhook_changed(memory_backend *m, const store_webhook *w, backend_verb verb, unsigned sets)
{
    int cancel = verb == BACKEND_DELETE || (verb == BACKEND_UPDATE && (sets & STORE_SET_DISABLED) && w->disabled);
    int enable = verb == BACKEND_UPDATE && (sets & STORE_SET_DISABLED) && !w->disabled;
    if ((!cancel && !enable) || (enable && events_failing_since(m->log, &w->id) == 0))
        return;
    own_op *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return;
    o->m = m;
    o->webhook_id = w->id;
    o->record = (schema_stored_event)SCHEMA_STORED_EVENT_INIT;
    o->record.webhook_id = (ProtobufCBinaryData){OBJECTID_LEN, o->webhook_id.bytes};
    if (cancel) {
        o->record.change = SCHEMA_EVENT_DELIVERY;
        o->record.state = EVENTS_CANCELLED;
    } else {
        o->record.change = SCHEMA_EVENT_HEALTH; /* failing_since_ms 0 */
    }
    o->records[0] = &o->record;
    o->op.events = o->records;
    o->op.n_events = 1;
    o->op.done = on_cancel_written;
    if (m->journal == NULL) {
        o->op.status = 0;
        on_cancel_written(&o->op);
    } else if (journal_append(m->journal, &o->op) != 0) {
        free(o);
    }
}

/* The records of an event call are written: applied to the log in journal order. */
static void on_events_written(journal_op *op)
{
    backend_call *c = (backend_call *)((char *)op - offsetof(backend_call, journal));
    memory_backend *m = c->backend;
    int status = op->status;
    for (size_t i = 0; status == 0 && i < op->n_events; i++) {
        error err;
        if (events_apply(m->log, op->events[i], &err) != 0)
            status = err.kind == ERROR_INTERNAL ? ENOMEM : EINVAL;
    }
    if (op->status != 0 && c->verb == BACKEND_RECORD) {
        /* outcomes the disk refused: their deliveries go back in their queues, due again
         * after the attempt's time plus a second (never at once: the disk may still refuse) */
        for (size_t i = 0; i < op->n_events; i++) {
            const schema_stored_event *r = op->events[i];
            objectid event_id, webhook_id;
            if (r->id.len != OBJECTID_LEN || r->webhook_id.len != OBJECTID_LEN)
                continue;
            memcpy(event_id.bytes, r->id.data, OBJECTID_LEN);
            memcpy(webhook_id.bytes, r->webhook_id.data, OBJECTID_LEN);
            events_release(m->log, &event_id, &webhook_id, r->started_ms + r->duration_ms + 1000);
        }
    }
    if (status == 0 && c->verb == BACKEND_PUBLISH && c->ev.publish.digest != NULL) {
        /* a publish that raced another with the same key: the first one stands */
        objectid id;
        unsigned n;
        if (events_find_idempotent(m->log, c->ev.publish.digest, &id, &n) == 0 &&
            memcmp(id.bytes, c->ev.publish.id.bytes, OBJECTID_LEN) != 0) {
            c->ev.replayed = 1;
            c->ev.event_id = id;
            c->ev.webhooks = n;
            c->ev.key_conflict = events_same_publish(m->log, c->ev.publish.digest, c->ev.publish.ecosystem_id,
                                                     c->ev.publish.body, c->ev.publish.body_len) == 0;
        }
    }
    free(c->ev.owned);
    free(c->ev.owned_memory);
    c->ev.owned = NULL;
    c->ev.owned_memory = NULL;
    c->journal.events = NULL;
    c->journal.n_events = 0;
    finish(c, status, NULL);
}

/* Writes the call's records (c->journal.events), then applies them; without a journal at once. */
static void write_events(memory_backend *m, backend_call *c)
{
    c->journal.record = NULL;
    c->journal.done = on_events_written;
    if (m->journal == NULL) {
        c->journal.status = 0;
        on_events_written(&c->journal);
    } else if (journal_append(m->journal, &c->journal) != 0) {
        c->journal.status = EAGAIN;
        on_events_written(&c->journal);
    }
}

typedef struct enabled_ids {
    ProtobufCBinaryData *ids;
    objectid *bytes;
    size_t n, max;
} enabled_ids;

static int collect_enabled(const store_webhook *w, void *ctx)
{
    enabled_ids *e = ctx;
    if (w->disabled || w->deleted)
        return 0;
    if (e->n == e->max)
        return 1;
    e->bytes[e->n] = w->id;
    e->ids[e->n] = (ProtobufCBinaryData){OBJECTID_LEN, e->bytes[e->n].bytes};
    e->n++;
    return 0;
}

/* A publish: the record names the ecosystem's enabled webhooks now, one delivery each. */
static void publish(memory_backend *m, backend_call *c)
{
    if (c->ev.publish.digest != NULL &&
        events_find_idempotent(m->log, c->ev.publish.digest, &c->ev.event_id, &c->ev.webhooks) == 0) {
        c->ev.replayed = 1;
        c->ev.key_conflict = events_same_publish(m->log, c->ev.publish.digest, c->ev.publish.ecosystem_id,
                                                 c->ev.publish.body, c->ev.publish.body_len) == 0;
        finish(c, 0, NULL);
        return;
    }
    size_t max = store_count(m->index);
    if (max > EVENTS_MAX_DELIVERIES)
        max = EVENTS_MAX_DELIVERIES;
    enabled_ids e = {.max = max};
    schema_stored_event *r = calloc(1, sizeof(*r) + sizeof(schema_stored_event *));
    void *memory = malloc((max > 0 ? max : 1) * (sizeof(ProtobufCBinaryData) + sizeof(objectid)));
    if (r == NULL || memory == NULL) {
        free(r);
        free(memory);
        finish(c, ENOMEM, NULL);
        return;
    }
    e.ids = memory;
    e.bytes = (objectid *)(e.ids + max);
    store_each_in_ecosystem(m->index, c->ev.publish.ecosystem_id, collect_enabled, &e);
    *r = (schema_stored_event)SCHEMA_STORED_EVENT_INIT;
    r->change = SCHEMA_EVENT_PUBLISHED;
    r->id = (ProtobufCBinaryData){OBJECTID_LEN, c->ev.publish.id.bytes};
    r->ecosystem_id = (char *)c->ev.publish.ecosystem_id;
    r->created_ms = c->ev.publish.created_ms;
    r->body = (ProtobufCBinaryData){c->ev.publish.body_len, (uint8_t *)c->ev.publish.body};
    r->n_webhook_ids = e.n;
    r->webhook_ids = e.ids;
    if (c->ev.publish.digest != NULL)
        r->idempotency_key = (ProtobufCBinaryData){EVENTS_DIGEST_LEN, (uint8_t *)c->ev.publish.digest};
    schema_stored_event **list = (schema_stored_event **)(r + 1);
    list[0] = r;
    c->ev.owned = r;
    c->ev.owned_memory = memory;
    c->ev.event_id = c->ev.publish.id;
    c->ev.webhooks = (unsigned)e.n;
    c->journal.events = list;
    c->journal.n_events = 1;
    write_events(m, c);
}

/* Resend and recover: a record per delivery, each made pending, manual, due now. */
/* Takes c->ev.owned_memory (the targets): freed once written, or here when nothing is.
 * c may be gone when this returns (its done may have run): the caller touches it no more. */
static void make_manual(memory_backend *m, backend_call *c, const objectid *events_of, const objectid *webhooks_of,
                        size_t n)
{
    schema_stored_event *r = n > 0 ? calloc(n, sizeof(*r) + sizeof(schema_stored_event *)) : NULL;
    if (r == NULL) {
        free(c->ev.owned_memory);
        c->ev.owned_memory = NULL;
        finish(c, n == 0 ? 0 : ENOMEM, NULL);
        return;
    }
    schema_stored_event **list = (schema_stored_event **)(r + n);
    for (size_t i = 0; i < n; i++) {
        r[i] = (schema_stored_event)SCHEMA_STORED_EVENT_INIT;
        r[i].change = SCHEMA_EVENT_DELIVERY;
        r[i].id = (ProtobufCBinaryData){OBJECTID_LEN, (uint8_t *)events_of[events_of == &c->id ? 0 : i].bytes};
        r[i].webhook_id = (ProtobufCBinaryData){OBJECTID_LEN, (uint8_t *)webhooks_of[webhooks_of == &c->id ? 0 : i].bytes};
        r[i].state = EVENTS_PENDING;
        r[i].trigger = EVENTS_MANUAL;
        r[i].next_ms = c->ev.now_ms;
        r[i].failing_since_ms = events_failing_since(m->log, &webhooks_of[webhooks_of == &c->id ? 0 : i]);
        list[i] = &r[i];
    }
    c->ev.owned = r;
    c->ev.count = n;
    c->journal.events = list;
    c->journal.n_events = n;
    write_events(m, c);
}

static void resend(memory_backend *m, backend_call *c)
{
    objectid *targets = malloc(EVENTS_MAX_DELIVERIES * sizeof(*targets));
    char ecosystem[OBJECTID_ECOSYSTEM_ID_LEN + 1];
    long n = targets != NULL ? events_resend_targets(m->log, &c->id, c->ev.webhook, targets, EVENTS_MAX_DELIVERIES,
                                                     ecosystem)
                             : 0;
    if (targets == NULL || n < 0) {
        free(targets);
        finish(c, targets == NULL ? ENOMEM : BACKEND_NOT_FOUND, NULL);
        return;
    }
    size_t kept = 0; /* to webhooks still enabled only */
    for (long i = 0; i < n; i++) {
        const store_webhook *w = store_get(m->index, &targets[i]);
        if (w != NULL && !w->disabled)
            targets[kept++] = targets[i];
    }
    c->ev.owned_memory = targets;
    make_manual(m, c, &c->id, targets, kept);
}

static void recover(memory_backend *m, backend_call *c)
{
    objectid *targets = malloc((c->ev.max > 0 ? c->ev.max : 1) * sizeof(*targets));
    if (targets == NULL) {
        finish(c, ENOMEM, NULL);
        return;
    }
    size_t n = events_recover_targets(m->log, &c->id, c->ev.since_ms, targets, c->ev.max);
    c->ev.owned_memory = targets;
    make_manual(m, c, targets, &c->id, n);
}

static void submit_event(memory_backend *m, backend_call *c)
{
    c->ev.owned = NULL;
    c->ev.owned_memory = NULL;
    c->ev.replayed = 0;
    c->ev.key_conflict = 0;
    c->ev.count = 0;
    switch (c->verb) {
    case BACKEND_PUBLISH:
        publish(m, c);
        return;
    case BACKEND_GET_EVENT: {
        int rc = events_view(m->log, &c->id, c->alloc, &c->ev.event);
        finish(c, rc == -1 ? BACKEND_NOT_FOUND : rc, NULL);
        return;
    }
    case BACKEND_LIST_ATTEMPTS:
        finish(c, events_attempts(m->log, &c->id, c->ev.before, c->limit, c->alloc, &c->ev.attempts), NULL);
        return;
    case BACKEND_RESEND:
        resend(m, c);
        return;
    case BACKEND_RECOVER:
        recover(m, c);
        return;
    case BACKEND_CLAIM:
        c->ev.count = events_claim_due(m->log, c->ev.now_ms, c->ev.per_webhook, c->ev.claims, c->ev.max,
                                       &c->ev.next_due_ms);
        for (size_t i = 0; i < c->ev.count; i++) /* the index's records are immutable and live on */
            c->ev.claims[i].webhook = store_get(m->index, &c->ev.claims[i].webhook_id);
        finish(c, 0, NULL);
        return;
    case BACKEND_EXPIRE:
        c->ev.count = events_expire(m->log, c->ev.since_ms);
        finish(c, 0, NULL);
        return;
    case BACKEND_RECORD:
        c->journal.events = c->ev.records;
        c->journal.n_events = c->ev.n_records;
        write_events(m, c);
        return;
    default:
        break;
    }
    HG_ASSERT(!"not a verb of the event log");
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
    case BACKEND_PUBLISH:
    case BACKEND_GET_EVENT:
    case BACKEND_LIST_ATTEMPTS:
    case BACKEND_RESEND:
    case BACKEND_RECOVER:
    case BACKEND_CLAIM:
    case BACKEND_RECORD:
    case BACKEND_EXPIRE:
        submit_event(m, c);
        return;
    case BACKEND_VERBS:
        break;
    }
    HG_ASSERT(!"an unknown backend verb");
}

static int memory_is_synchronous(void *self, backend_verb verb)
{
    memory_backend *m = self;
    int writes = verb == BACKEND_CREATE || verb == BACKEND_UPDATE || verb == BACKEND_DELETE || verb == BACKEND_PUBLISH ||
                 verb == BACKEND_RESEND || verb == BACKEND_RECOVER || verb == BACKEND_RECORD;
    return !writes || m->journal == NULL;
}

static void memory_stats(void *self, backend_stats *out)
{
    memory_backend *m = self;
    out->webhooks = store_count(m->index);
    out->json_cache_bytes = store_rendering_bytes(m->index);
    out->queue_depth = m->journal != NULL ? journal_queue_depth(m->journal) : 0;
    out->writable = m->journal != NULL ? journal_is_writable(m->journal) : -1;
    out->unwritable = "the journal cannot be written (creates answer 503; reads work)";
    out->events = 1;
    events_stats_get(m->log, &out->event_stats);
}

static void memory_destroy(void *self)
{
    memory_backend *m = self;
    journal_close(m->journal); /* every queued write is written (and applied) first */
    store_destroy(m->index);
    events_destroy(m->log);
    seal_keyring_destroy((seal_keyring *)m->pub.keys);
    free(m);
}

static void memory_keep_rendering(void *self, const store_webhook *w, const char *bytes, size_t len)
{
    memory_backend *m = self;
    store_keep_rendering(m->index, w, bytes, len);
}

static const backend_ops memory_ops;

void backend_memory_limit_renderings(backend *b, size_t bytes)
{
    HG_ASSERT(b->ops == &memory_ops);
    memory_backend *m = b->self;
    store_limit_renderings(m->index, bytes);
}

static const backend_ops memory_ops = {
    .name = "memory",
    .submit = memory_submit,
    .is_synchronous = memory_is_synchronous,
    .stats = memory_stats,
    .destroy = memory_destroy,
    .keep_rendering = memory_keep_rendering,
};

static int load_event(void *ctx, const schema_stored_event *r, error *err)
{
    return events_apply(ctx, r, err);
}

/* Everything the log holds: expiry (BACKEND_EXPIRE) has dropped what is past retention. */
static uint8_t *snapshot_events(void *ctx, size_t *len, uint64_t *records)
{
    return events_snapshot(ctx, INT64_MIN, len, records);
}

backend *backend_memory_open(const journal_options *journal_opts, seal_keyring *keys, backend_memory_stats *stats,
                             char err[JOURNAL_ERROR_MAX])
{
    memset(stats, 0, sizeof(*stats));
    memory_backend *m = calloc(1, sizeof(*m));
    if (m == NULL || (m->index = store_create()) == NULL || (m->log = events_create()) == NULL) {
        if (m != NULL)
            store_destroy(m->index);
        free(m);
        seal_keyring_destroy(keys);
        snprintf(err, JOURNAL_ERROR_MAX, "out of memory");
        return NULL;
    }
    if (journal_opts != NULL) {
        journal_options o = *journal_opts;
        o.keys = keys;
        o.event_load = load_event;
        o.event_snapshot = snapshot_events;
        o.event_ctx = m->log;
        if ((m->journal = journal_open(&o, m->index, &stats->journal, err)) == NULL) {
            store_destroy(m->index);
            events_destroy(m->log);
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

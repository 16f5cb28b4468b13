/* record: the byte format of the journal and snapshot files.
 *
 * A file starts with an 8-byte magic naming its kind and version. Then records follow,
 * each a 4-byte little-endian payload length, the 4-byte little-endian CRC-32C of the
 * payload, and the payload: a schema message (StoredWebhook, or SnapshotHeader first in a
 * snapshot). record_next tells a clean end, a torn tail (what a crash mid-write leaves)
 * and damage apart.
 *
 * What a crash mid-append can leave on Linux, and so what counts as torn: a prefix of the
 * write (the file ends inside a record), or a file that grew while some of the new blocks
 * never got their data (zeros from a sector boundary to the end of the file). A record
 * whose length is all there and whose bytes are present but wrong is damage wherever it
 * is, the last record included: the last record was acknowledged too. */
#ifndef HOOKGATE_RECORD_H
#define HOOKGATE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "schema.h"
#include "seal.h"
#include "store.h"

#define RECORD_MAGIC_LEN 8
#define RECORD_JOURNAL_MAGIC "HGJRNL01"
#define RECORD_SNAPSHOT_MAGIC "HGSNAP01"
#define RECORD_HEADER_LEN 8
#define RECORD_MAX_PAYLOAD (1u << 20) /* far above any webhook the limits allow */
#define RECORD_SECTOR 512             /* the smallest unit a disk writes whole: a crash loses data in these */

typedef enum record_status {
    RECORD_OK,      /* a whole record with a good checksum */
    RECORD_END,     /* no bytes left */
    RECORD_TORN,    /* what a crash mid-append leaves: a record cut short (no good record anywhere
                       after it, and not a whole record under a damaged length), only zeros, or
                       a whole-length record whose bytes are zeros from a sector boundary inside
                       it to the end of the file */
    RECORD_CORRUPT, /* anything else that is not a record: a length no writer makes (0 or over
                       the maximum, not all zeros), a bad record with data after it, or a
                       whole-length record whose checksum fails without such a run of zeros */
} record_status;

/* Reads the record at data[*offset..len); data is the whole file from its first byte (the
 * sector boundaries are file offsets). On RECORD_OK sets payload/payload_len and moves
 * *offset past it; otherwise *offset stays at the bad record. */
record_status record_next(const uint8_t *data, size_t len, size_t *offset, const uint8_t **payload,
                          size_t *payload_len);

/* The framed size of a record with this payload length. */
size_t record_framed_size(size_t payload_len);

/* Frames a message into out (record_framed_size(packed size) bytes). Returns bytes written. */
size_t record_frame(const ProtobufCMessage *msg, uint8_t *out);

/* The StoredWebhook message for a store record; it points into w (no copies). A tombstone
 * (w->deleted) makes a STORED_DELETE record, anything else a STORED_CREATE. */
void record_from_webhook(const store_webhook *w, schema_stored_webhook *out);

/* The STORED_UPDATE record of an update of w->id that sets the fields in `sets`
 * (STORE_SET_*, not 0) to w's values; the other fields stay empty. Points into w. */
void record_from_update(const store_webhook *w, unsigned sets, schema_stored_webhook *out);

/* Decodes a StoredWebhook payload into a new store record (store_record_new); NULL when
 * the payload is not a well-formed StoredWebhook, or when out of memory. */
store_webhook *record_to_webhook(const uint8_t *payload, size_t len);

/* Why record_load stored nothing. Only MALFORMED, NO_KEY and UNOPENED say anything about
 * the file. */
typedef enum record_load_failure {
    RECORD_LOAD_OK = 0,
    RECORD_LOAD_MALFORMED, /* not a well-formed StoredWebhook */
    RECORD_LOAD_REFUSED,   /* the store refused it; err says why (a duplicate id, a full store) */
    RECORD_LOAD_NO_MEMORY, /* out of memory (err: ERROR_INTERNAL): the record may be fine */
    RECORD_LOAD_NO_KEY,    /* its secret is sealed under a key the keyring lacks (key_id names it) */
    RECORD_LOAD_UNOPENED,  /* its secret, sealed under a previous key, does not open: damaged */
} record_load_failure;

/* What record_load is given and what it reports. With a keyring that can seal, every
 * record is stored with its secret sealed under the current key: a plain-text secret (a
 * store written without a key) is sealed, one sealed under a previous key is opened and
 * sealed again. The files still hold the old form until the next snapshot. */
typedef struct record_loader {
    const seal_keyring *keys;             /* in: NULL, or the server's keys */
    record_load_failure failure;          /* out: of the last call */
    uint8_t key_id[SEAL_KEY_ID_LEN];      /* out: the missing key, with RECORD_LOAD_NO_KEY */
    size_t resealed;                      /* out, added up over calls: records sealed (again) under the current key */
    /* in, optional: applies a record of the event log (StoredWebhook.event); NULL: such
     * records are skipped. -1 with err set: MALFORMED (ERROR_INVALID_BODY) or NO_MEMORY. */
    int (*on_event)(void *ctx, const schema_stored_event *r, error *err);
    void *event_ctx;
    int64_t resealed_growth;              /* out, added up: framed bytes those records gained (or lost) */
} record_loader;

/* Applies a StoredWebhook payload to s, as the writer applied it when it was written:
 * a create is copied once, by the store; an update or a delete replaces the webhook's
 * newest version. The secret of every kind (a create's, a tombstone's, an update's new
 * one) is resealed as above. Returns the stored version, or NULL with l->failure saying why.
 *
 * An update or a delete of an id s does not hold (or holds deleted) changes nothing and
 * is not a failure (NULL with RECORD_LOAD_OK): the writer checks each change against the
 * index only when it applies it, after writing it (a delete racing an update of the same
 * webhook writes both, and the later one answers 404), and a snapshot may already hold
 * changes that the journals after it replay again. A delete of an id s does not hold
 * inserts the record as a tombstone: what a snapshot keeps of a deleted webhook whose
 * Idempotency-Key may still come back. The checksum already tells damage apart, so an
 * unknown id is no sign of it. */
const store_webhook *record_load(store *s, const uint8_t *payload, size_t len, record_loader *l, error *err);

#endif

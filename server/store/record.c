/* record: see record.h. */
#include "record.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "codec_proto.h"
#include "crc32c.h"
#include "hg_assert.h"

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static int all_zero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

/* 1 when a whole record with a good checksum starts anywhere in data[from..len). A crash
 * leaves a prefix of what was written, so nothing checksummed can follow a torn record. */
static int valid_record_in(const uint8_t *data, size_t len, size_t from)
{
    for (size_t p = from; p + RECORD_HEADER_LEN < len; p++) {
        uint32_t n = le32(data + p);
        if (n > 0 && n <= RECORD_MAX_PAYLOAD && n <= len - p - RECORD_HEADER_LEN &&
            crc32c_update(0, data + p + RECORD_HEADER_LEN, n) == le32(data + p + 4))
            return 1;
    }
    return 0;
}

/* Where the run of zeros that ends the file starts (len when the last byte is not 0). */
static size_t zero_tail(const uint8_t *data, size_t len)
{
    while (len > 0 && data[len - 1] == 0)
        len--;
    return len;
}

/* 1 when the payload at data[at + RECORD_HEADER_LEN..] checksums to crc if it ends
 * somewhere in the file's tail of zeros (or at its end): the record is all there and only
 * its length field is wrong. A crash cannot make a prefix of a record match the checksum
 * of the whole (the chance is 2^-32 per candidate end, and there is one candidate per
 * trailing zero byte). */
static int whole_under_other_length(const uint8_t *data, size_t len, size_t at, uint32_t crc)
{
    size_t from = at + RECORD_HEADER_LEN, tail = zero_tail(data, len);
    if (tail <= from)
        tail = from + 1;
    if (tail > len)
        return 0;
    uint32_t c = crc32c_update(0, data + from, tail - from);
    for (size_t end = tail;; end++) {
        if (c == crc)
            return 1;
        if (end == len)
            return 0;
        c = crc32c_update(c, data + end, 1);
    }
}

record_status record_next(const uint8_t *data, size_t len, size_t *offset, const uint8_t **payload, size_t *payload_len)
{
    size_t at = *offset, left = len - at;
    if (left == 0)
        return RECORD_END;
    if (left < RECORD_HEADER_LEN)
        return RECORD_TORN;
    uint32_t n = le32(data + at), crc = le32(data + at + 4);
    if (n == 0 || n > RECORD_MAX_PAYLOAD) {
        /* a garbage length: a tail of zeros is what an interrupted extend leaves */
        return all_zero(data + at, left) ? RECORD_TORN : RECORD_CORRUPT;
    }
    if (n > left - RECORD_HEADER_LEN) {
        /* runs past the end: what a crash leaves, unless a damaged length hides records
         * after it, or the record is all there and only its length was damaged */
        return valid_record_in(data, len, at + RECORD_HEADER_LEN) || whole_under_other_length(data, len, at, crc)
                   ? RECORD_CORRUPT
                   : RECORD_TORN;
    }
    if (crc32c_update(0, data + at + RECORD_HEADER_LEN, n) != crc) {
        /* All of its length is there, so the write that made it completed as far as the
         * file's size goes. A crash can still have lost its data: the file grew but blocks
         * (whole sectors at least) of it never reached the disk, and read back as zeros to
         * the end of the file. Anything else, a record whose bytes are there but wrong, is
         * damage, even as the very last record (it was acknowledged). */
        size_t end = at + RECORD_HEADER_LEN + n, zeros = zero_tail(data, len);
        if (zeros > end)
            return RECORD_CORRUPT;
        size_t lost = zeros > at + 1 ? zeros : at + 1; /* the header's first bytes are not 0 (n is not) */
        lost = (lost + RECORD_SECTOR - 1) / RECORD_SECTOR * RECORD_SECTOR;
        return lost < end ? RECORD_TORN : RECORD_CORRUPT;
    }
    *payload = data + at + RECORD_HEADER_LEN;
    *payload_len = n;
    *offset = at + RECORD_HEADER_LEN + n;
    HG_ASSERT(*offset <= len && n <= RECORD_MAX_PAYLOAD);
    return RECORD_OK;
}

size_t record_framed_size(size_t payload_len)
{
    return RECORD_HEADER_LEN + payload_len;
}

size_t record_frame(const ProtobufCMessage *msg, uint8_t *out)
{
    size_t n = protobuf_c_message_pack(msg, out + RECORD_HEADER_LEN);
    /* a record longer than this could not be read back (record_next refuses it), and the
     * snapshot writer's buffer is sized for one record of at most this much */
    HG_ASSERT(n > 0 && n <= RECORD_MAX_PAYLOAD);
    put_le32(out, (uint32_t)n);
    put_le32(out + 4, crc32c_update(0, out + RECORD_HEADER_LEN, n));
    return RECORD_HEADER_LEN + n;
}

void record_from_webhook(const store_webhook *w, schema_stored_webhook *out)
{
    schema_stored_webhook init = SCHEMA_STORED_WEBHOOK_INIT;
    *out = init;
    out->id.data = (uint8_t *)w->id.bytes;
    out->id.len = OBJECTID_LEN;
    out->created_ms = w->created_ms;
    out->disabled = w->disabled;
    out->ecosystem_id = (char *)w->ecosystem_id;
    out->url = (char *)w->url;
    out->secret = (char *)w->secret;
    out->description = (char *)w->description;
    out->disabled_reason = (char *)(w->disabled_reason != NULL ? w->disabled_reason : "");
    out->disabled_ms = w->disabled_ms;
    if (w->idempotency != NULL) {
        out->idempotency_key.data = (uint8_t *)w->idempotency;
        out->idempotency_key.len = STORE_IDEMPOTENCY_LEN;
    }
    if (w->sealed_secret != NULL) {
        HG_ASSERT(w->secret[0] == '\0'); /* one form only: never the plain text beside its seal */
        out->sealed_secret.data = (uint8_t *)w->sealed_secret;
        out->sealed_secret.len = w->sealed_secret_len;
    }
    out->change = w->deleted ? SCHEMA_STORED_DELETE : SCHEMA_STORED_CREATE;
}

void record_from_update(const store_webhook *w, unsigned sets, schema_stored_webhook *out)
{
    HG_ASSERT(sets != 0 && (sets & ~STORE_SET_ALL) == 0);
    schema_stored_webhook init = SCHEMA_STORED_WEBHOOK_INIT;
    *out = init;
    out->id.data = (uint8_t *)w->id.bytes;
    out->id.len = OBJECTID_LEN;
    out->change = SCHEMA_STORED_UPDATE;
    out->sets = sets;
    if (sets & STORE_SET_URL)
        out->url = (char *)w->url;
    if (sets & STORE_SET_SECRET) {
        out->secret = (char *)w->secret;
        if (w->sealed_secret != NULL) { /* sealed as a create's: never the plain text beside it */
            HG_ASSERT(w->secret[0] == '\0');
            out->sealed_secret.data = (uint8_t *)w->sealed_secret;
            out->sealed_secret.len = w->sealed_secret_len;
        }
    }
    if (sets & STORE_SET_DESCRIPTION)
        out->description = (char *)w->description;
    if (sets & STORE_SET_DISABLED) {
        out->disabled = w->disabled;
        out->disabled_reason = (char *)(w->disabled_reason != NULL ? w->disabled_reason : "");
        out->disabled_ms = w->disabled_ms;
    }
}

/* Decodes a StoredWebhook payload into view, which points into the returned message (free
 * it with protobuf_c_message_free_unpacked); NULL when it is not a well-formed one, or with
 * *no_memory set when out of memory. */
static schema_stored_webhook *decode(const uint8_t *payload, size_t len, store_webhook *view, int *no_memory)
{
    error err;
    error_clear(&err);
    schema_stored_webhook *m =
        (schema_stored_webhook *)codec_proto_decode(&schema_stored_webhook_descriptor, payload, len, NULL, &err);
    *no_memory = m == NULL && err.kind == ERROR_INTERNAL;
    if (m == NULL)
        return NULL;
    /* a digest of any other length is no digest this server wrote, nor a secret both plain
     * and sealed, nor a sealed form it does not know; nor is a change it does not know, or
     * an update that sets nothing or a field it cannot set, or a sealed secret it does not set */
    if (m->event != NULL) { /* the event log's: the webhook's fields stay empty */
        if (m->id.len != 0 || m->sets != 0 || m->change != SCHEMA_STORED_CREATE) {
            protobuf_c_message_free_unpacked(&m->base, NULL);
            return NULL;
        }
        return m;
    }
    uint8_t key_id[SEAL_KEY_ID_LEN];
    int update = m->change == SCHEMA_STORED_UPDATE;
    if (m->id.len != OBJECTID_LEN || (m->idempotency_key.len != 0 && m->idempotency_key.len != STORE_IDEMPOTENCY_LEN) ||
        (m->sealed_secret.len != 0 &&
         (m->secret[0] != '\0' || seal_key_id_of(m->sealed_secret.data, m->sealed_secret.len, key_id) != 0)) ||
        (m->change != SCHEMA_STORED_CREATE && !update && m->change != SCHEMA_STORED_DELETE) ||
        (update ? m->sets == 0 || (m->sets & ~STORE_SET_ALL) != 0 ||
                      (m->sealed_secret.len != 0 && !(m->sets & STORE_SET_SECRET))
                : m->sets != 0)) {
        protobuf_c_message_free_unpacked(&m->base, NULL);
        return NULL;
    }
    *view = (store_webhook){.created_ms = m->created_ms,
                            .disabled = m->disabled,
                            .ecosystem_id = m->ecosystem_id,
                            .url = m->url,
                            .secret = m->secret,
                            .description = m->description,
                            .idempotency = m->idempotency_key.len > 0 ? m->idempotency_key.data : NULL,
                            .deleted = m->change == SCHEMA_STORED_DELETE,
                            .sealed_secret = m->sealed_secret.len > 0 ? m->sealed_secret.data : NULL,
                            .sealed_secret_len = m->sealed_secret.len,
                            .disabled_reason = m->disabled_reason,
                            .disabled_ms = m->disabled_ms};
    memcpy(view->id.bytes, m->id.data, OBJECTID_LEN);
    return m;
}

store_webhook *record_to_webhook(const uint8_t *payload, size_t len)
{
    store_webhook view;
    int no_memory;
    schema_stored_webhook *m = decode(payload, len, &view, &no_memory);
    if (m == NULL)
        return NULL;
    if (m->event != NULL) { /* not a webhook */
        protobuf_c_message_free_unpacked(&m->base, NULL);
        return NULL;
    }
    store_webhook *r = store_record_new(&view);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    return r;
}

/* The framed size of w written as a create or a tombstone (sets 0) or as an update. */
static size_t framed_size_of(const store_webhook *w, unsigned sets)
{
    schema_stored_webhook m;
    if (sets != 0)
        record_from_update(w, sets, &m);
    else
        record_from_webhook(w, &m);
    return record_framed_size(protobuf_c_message_get_packed_size(&m.base));
}

/* Puts view's secret under the current key: into *resealed (pointing into *buf, which the
 * caller frees) when it was plain or under a previous key, else leaves it. */
static record_load_failure reseal(record_loader *l, const store_webhook *view, store_webhook *resealed, uint8_t **buf)
{
    *resealed = *view;
    *buf = NULL;
    if (view->sealed_secret == NULL) {
        if (seal_keyring_can_seal(l->keys) && view->secret[0] != '\0') {
            if (seal_webhook(l->keys, view, resealed, buf) != 0)
                return RECORD_LOAD_NO_MEMORY;
            l->resealed++;
        }
        return RECORD_LOAD_OK;
    }
    int ok = seal_key_id_of(view->sealed_secret, view->sealed_secret_len, l->key_id) == 0;
    HG_ASSERT(ok); /* decode checked the form */
    switch (seal_keyring_role(l->keys, l->key_id)) {
    case SEAL_KEY_UNKNOWN:
        return RECORD_LOAD_NO_KEY;
    case SEAL_KEY_CURRENT:
        return RECORD_LOAD_OK;
    case SEAL_KEY_PREVIOUS:
        break;
    }
    /* a ring with previous keys always has a current one (config.c refuses the others) */
    HG_ASSERT(seal_keyring_can_seal(l->keys));
    size_t len = view->sealed_secret_len - SEAL_OVERHEAD;
    char *plain = malloc(len + 1);
    if (plain == NULL)
        return RECORD_LOAD_NO_MEMORY;
    record_load_failure f = RECORD_LOAD_OK;
    store_webhook opened = *view;
    switch (seal_open(l->keys, &view->id, view->sealed_secret, view->sealed_secret_len, plain, &len)) {
    case SEAL_OK:
        opened.secret = plain;
        opened.sealed_secret = NULL;
        opened.sealed_secret_len = 0;
        if (seal_webhook(l->keys, &opened, resealed, buf) != 0)
            f = RECORD_LOAD_NO_MEMORY;
        else
            l->resealed++;
        break;
    case SEAL_NO_MEMORY:
        f = RECORD_LOAD_NO_MEMORY;
        break;
    case SEAL_MALFORMED:
    case SEAL_UNKNOWN_KEY:
    case SEAL_FORGED:
        f = RECORD_LOAD_UNOPENED;
        break;
    }
    OPENSSL_cleanse(plain, len);
    free(plain);
    return f;
}

const store_webhook *record_load(store *s, const uint8_t *payload, size_t len, record_loader *l, error *err)
{
    store_webhook view, resealed;
    int no_memory;
    schema_stored_webhook *m = decode(payload, len, &view, &no_memory);
    if (m == NULL) {
        l->failure = no_memory ? RECORD_LOAD_NO_MEMORY : RECORD_LOAD_MALFORMED;
        if (no_memory)
            error_set(err, ERROR_INTERNAL, "Out of memory.");
        return NULL;
    }
    if (m->event != NULL) { /* the event log's */
        l->failure = RECORD_LOAD_OK;
        error_clear(err);
        if (l->on_event != NULL && l->on_event(l->event_ctx, m->event, err) != 0)
            l->failure = err->kind == ERROR_INTERNAL ? RECORD_LOAD_NO_MEMORY : RECORD_LOAD_MALFORMED;
        protobuf_c_message_free_unpacked(&m->base, NULL);
        return NULL;
    }
    uint8_t *buf;
    size_t before = l->resealed;
    /* every kind is resealed: a create's or a tombstone's secret, and an update's new one */
    l->failure = reseal(l, &view, &resealed, &buf);
    if (l->failure != RECORD_LOAD_OK) {
        if (l->failure == RECORD_LOAD_NO_MEMORY)
            error_set(err, ERROR_INTERNAL, "Out of memory.");
        l->resealed = before;
        free(buf);
        protobuf_c_message_free_unpacked(&m->base, NULL);
        return NULL;
    }
    const store_webhook *stored;
    error_clear(err);
    if (m->change == SCHEMA_STORED_UPDATE) {
        store_changes changes = {.sets = m->sets,
                                 .disabled = resealed.disabled,
                                 .url = resealed.url,
                                 .secret = resealed.secret,
                                 .sealed_secret = resealed.sealed_secret,
                                 .sealed_secret_len = resealed.sealed_secret_len,
                                 .description = resealed.description,
                                 .disabled_reason = resealed.disabled_reason,
                                 .disabled_ms = resealed.disabled_ms};
        stored = store_update(s, &resealed.id, &changes, err);
    } else if (m->change == SCHEMA_STORED_DELETE) {
        stored = store_delete(s, &resealed.id, err);
        if (stored == NULL && err->kind == ERROR_NOT_FOUND) {
            error_clear(err);
            stored = store_insert(s, &resealed, err); /* unknown: a tombstone; already one: a conflict */
        }
    } else {
        stored = store_insert(s, &resealed, err);
    }
    l->failure = RECORD_LOAD_OK;
    if (stored == NULL && err->kind == ERROR_INTERNAL)
        l->failure = RECORD_LOAD_NO_MEMORY;
    else if (stored == NULL && (m->change == SCHEMA_STORED_CREATE || err->kind == ERROR_UNAVAILABLE))
        l->failure = RECORD_LOAD_REFUSED; /* a duplicate id, or a full store */
    else if (stored == NULL)
        error_clear(err); /* an update or a delete that changes nothing (see record.h) */
    if (stored == NULL)
        l->resealed = before;
    else if (l->resealed != before)
        l->resealed_growth += (int64_t)framed_size_of(&resealed, m->change == SCHEMA_STORED_UPDATE ? m->sets : 0) -
                              (int64_t)record_framed_size(len);
    free(buf);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    return stored;
}

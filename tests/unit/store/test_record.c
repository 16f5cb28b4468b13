/* test_record: the framing of journal and snapshot records. Round trip of StoredWebhook
 * records through record_frame / record_next / record_to_webhook; a cut at every byte of the
 * last record is a torn tail; a flip of any byte of a middle record is corruption and never
 * a good record; bad lengths; and record_to_webhook's refusals. Every buffer handed to
 * record_next is allocated at exactly its length, so an over-read shows under valgrind. */
#define _GNU_SOURCE /* memmem */
#include "record.h"
#include "crc32c.h"
#include "oom.h"
#include "test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_RECORDS 5
#define MIDDLE 2 /* the record the flip test damages: two good ones before, two after */

static const char *const URLS[N_RECORDS] = {
    "https://example.com/hook", "https://exämple.org/ünïcödé/пример?q=✓",
    "http://[::1]:8080/x",      "https://例え.jp/フック",
    "https://h.example/🎉",
};
static const char *const SECRETS[N_RECORDS] = {"", "s3cret", "ключ", "🔑🔑", "x"};
static const char *const DESCRIPTIONS[N_RECORDS] = {"first", "", "Привет, мир ✓", "日本語の説明", "emoji 🎉 end"};

/* The idempotency digest odd records carry. */
static const uint8_t DIGEST[STORE_IDEMPOTENCY_LEN] = {0x00, 0xff, 0x80, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                                      13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 0x00};

/* Record i: ids use every byte value somewhere (0x00 and 0xff included); odd ones were
 * created with an Idempotency-Key. */
static store_webhook webhook_of(size_t i, char eco[32])
{
    snprintf(eco, 32, "C%024zx", i % 2 + 0xabc);
    store_webhook w = {.created_ms = 1519831018941LL + (int64_t)i * 1000 - (i == 3 ? 2000000000000LL : 0),
                       .disabled = (int)(i % 2),
                       .ecosystem_id = eco,
                       .url = URLS[i],
                       .secret = SECRETS[i],
                       .description = DESCRIPTIONS[i],
                       .idempotency = i % 2 ? DIGEST : NULL};
    for (size_t k = 0; k < OBJECTID_LEN; k++)
        w.id.bytes[k] = (uint8_t)(i * 51 + k * 23);
    w.id.bytes[OBJECTID_LEN - 1] = i == 0 ? 0x00 : 0xff;
    return w;
}

static int webhook_equal(const store_webhook *a, const store_webhook *b)
{
    return memcmp(a->id.bytes, b->id.bytes, OBJECTID_LEN) == 0 && a->created_ms == b->created_ms &&
           a->disabled == b->disabled && strcmp(a->ecosystem_id, b->ecosystem_id) == 0 && strcmp(a->url, b->url) == 0 &&
           strcmp(a->secret, b->secret) == 0 && strcmp(a->description, b->description) == 0 &&
           (a->idempotency == NULL) == (b->idempotency == NULL) &&
           (a->idempotency == NULL || memcmp(a->idempotency, b->idempotency, STORE_IDEMPOTENCY_LEN) == 0);
}

/* A buffer holding the journal magic and the N_RECORDS records; starts[i] is where record i
 * begins, starts[N_RECORDS] the end. */
typedef struct framed {
    uint8_t *data;
    size_t len;
    size_t starts[N_RECORDS + 1];
} framed;

static framed frame_all(void)
{
    framed f = {.len = RECORD_MAGIC_LEN};
    char eco[32];
    for (size_t i = 0; i < N_RECORDS; i++) {
        store_webhook w = webhook_of(i, eco);
        schema_stored_webhook m;
        record_from_webhook(&w, &m);
        f.len += record_framed_size(protobuf_c_message_get_packed_size(&m.base));
    }
    f.data = malloc(f.len);
    memcpy(f.data, RECORD_JOURNAL_MAGIC, RECORD_MAGIC_LEN);
    size_t at = RECORD_MAGIC_LEN;
    for (size_t i = 0; i < N_RECORDS; i++) {
        store_webhook w = webhook_of(i, eco);
        schema_stored_webhook m;
        record_from_webhook(&w, &m);
        f.starts[i] = at;
        size_t n = record_frame(&m.base, f.data + at);
        CHECK(n == record_framed_size(protobuf_c_message_get_packed_size(&m.base)));
        at += n;
    }
    f.starts[N_RECORDS] = at;
    CHECK(at == f.len);
    return f;
}

/* A private copy of data[0..len), allocated at exactly len bytes (1 when len is 0). */
static uint8_t *copy_of(const uint8_t *data, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    memcpy(p, data, len);
    return p;
}

/* Reads records 0..upto-1 from data and checks each is OK and equal to webhook_of(i); returns
 * the number that were. *offset ends at the first record not read. */
static size_t read_good(const uint8_t *data, size_t len, size_t *offset, size_t upto)
{
    char eco[32];
    size_t good = 0;
    for (size_t i = 0; i < upto; i++) {
        const uint8_t *payload = NULL;
        size_t payload_len = 0;
        if (record_next(data, len, offset, &payload, &payload_len) != RECORD_OK)
            break;
        store_webhook *r = record_to_webhook(payload, payload_len);
        store_webhook w = webhook_of(i, eco);
        int same = r != NULL && webhook_equal(r, &w);
        store_record_free(r);
        if (!same)
            break;
        good++;
    }
    return good;
}

static void test_round_trip(void)
{
    framed f = frame_all();
    CHECK(memcmp(f.data, RECORD_JOURNAL_MAGIC, RECORD_MAGIC_LEN) == 0);
    size_t offset = RECORD_MAGIC_LEN;
    char eco[32];
    for (size_t i = 0; i < N_RECORDS; i++) {
        const uint8_t *payload = NULL;
        size_t payload_len = 0;
        CHECK(record_next(f.data, f.len, &offset, &payload, &payload_len) == RECORD_OK);
        CHECK(offset == f.starts[i + 1]);
        CHECK(payload == f.data + f.starts[i] + RECORD_HEADER_LEN);
        CHECK(record_framed_size(payload_len) == f.starts[i + 1] - f.starts[i]);
        store_webhook *r = record_to_webhook(payload, payload_len);
        CHECK(r != NULL);
        if (r == NULL)
            continue;
        store_webhook w = webhook_of(i, eco);
        CHECK(memcmp(r->id.bytes, w.id.bytes, OBJECTID_LEN) == 0);
        CHECK(r->created_ms == w.created_ms);
        CHECK(r->disabled == w.disabled);
        CHECK_STR(r->ecosystem_id, w.ecosystem_id);
        CHECK_STR(r->url, w.url);
        CHECK_STR(r->secret, w.secret);
        CHECK_STR(r->description, w.description);
        /* a copy, not pointers into the payload */
        CHECK((const uint8_t *)r->url < f.data || (const uint8_t *)r->url >= f.data + f.len);
        store_record_free(r);
    }
    /* a clean end, again and again, and the offset stays put */
    for (int k = 0; k < 2; k++) {
        const uint8_t *payload = NULL;
        size_t payload_len = 0;
        CHECK(record_next(f.data, f.len, &offset, &payload, &payload_len) == RECORD_END);
        CHECK(offset == f.len);
    }
    /* the header is little-endian length then CRC-32C of the payload */
    uint32_t n = (uint32_t)f.data[f.starts[0]] | (uint32_t)f.data[f.starts[0] + 1] << 8 |
                 (uint32_t)f.data[f.starts[0] + 2] << 16 | (uint32_t)f.data[f.starts[0] + 3] << 24;
    CHECK(n == f.starts[1] - f.starts[0] - RECORD_HEADER_LEN);
    /* an empty buffer is an end, not a tear */
    size_t zero = 0;
    const uint8_t *payload = NULL;
    size_t payload_len = 0;
    CHECK(record_next(f.data, 0, &zero, &payload, &payload_len) == RECORD_END);
    free(f.data);
}

/* A file cut at every byte inside its last record: the records before read back, the last
 * is torn and the offset stays at its start. */
static void test_torn_every_offset(void)
{
    framed f = frame_all();
    size_t last = f.starts[N_RECORDS - 1], end = f.starts[N_RECORDS];
    size_t bad = 0;
    for (size_t cut = last + 1; cut < end; cut++) {
        uint8_t *data = copy_of(f.data, cut);
        size_t offset = RECORD_MAGIC_LEN;
        size_t good = read_good(data, cut, &offset, N_RECORDS - 1);
        const uint8_t *payload = NULL;
        size_t payload_len = 0;
        record_status st = record_next(data, cut, &offset, &payload, &payload_len);
        if (good != N_RECORDS - 1 || st != RECORD_TORN || offset != last) {
            fprintf(stderr, "cut at %zu (last record %zu..%zu): %zu good, status %d, offset %zu\n", cut, last, end,
                    good, (int)st, offset);
            bad++;
        }
        free(data);
    }
    CHECK(bad == 0);
    /* cut exactly before the last record: a clean end after the others */
    uint8_t *data = copy_of(f.data, last);
    size_t offset = RECORD_MAGIC_LEN;
    CHECK(read_good(data, last, &offset, N_RECORDS - 1) == N_RECORDS - 1);
    const uint8_t *payload = NULL;
    size_t payload_len = 0;
    CHECK(record_next(data, last, &offset, &payload, &payload_len) == RECORD_END);
    free(data);
    free(f.data);
}

/* Zeros after the last good record (what an interrupted extend of the file leaves) are a
 * torn tail, for any amount of zeros: shorter than a header, a header, a page. */
static void test_zero_padding(void)
{
    framed f = frame_all();
    static const size_t pads[] = {1, 3, RECORD_HEADER_LEN - 1, RECORD_HEADER_LEN, RECORD_HEADER_LEN + 1, 100, 4096};
    for (size_t k = 0; k < sizeof pads / sizeof pads[0]; k++) {
        size_t len = f.len + pads[k];
        uint8_t *data = malloc(len);
        memcpy(data, f.data, f.len);
        memset(data + f.len, 0, pads[k]);
        size_t offset = RECORD_MAGIC_LEN;
        CHECK(read_good(data, len, &offset, N_RECORDS) == N_RECORDS);
        const uint8_t *payload = NULL;
        size_t payload_len = 0;
        record_status st = record_next(data, len, &offset, &payload, &payload_len);
        if (st != RECORD_TORN)
            fprintf(stderr, "%zu zero bytes after the last record: status %d\n", pads[k], (int)st);
        CHECK(st == RECORD_TORN);
        CHECK(offset == f.len);
        free(data);
    }
    free(f.data);
}

static const char *status_name(record_status st)
{
    switch (st) {
    case RECORD_OK:
        return "OK";
    case RECORD_END:
        return "END";
    case RECORD_TORN:
        return "TORN";
    case RECORD_CORRUPT:
        return "CORRUPT";
    }
    return "?";
}

/* Every byte of the middle record, header and payload, flipped in several ways, with good
 * records after it: the records before read back; the flipped one is never a good record
 * (the CRC catches every single-byte error) and is reported as corruption, not as a torn
 * tail, since what follows it is data. */
static void test_flip_every_byte(void)
{
    static const uint8_t masks[] = {0x01, 0x02, 0x10, 0x80, 0xff};
    framed f = frame_all();
    size_t start = f.starts[MIDDLE], end = f.starts[MIDDLE + 1];
    size_t wrong_ok = 0, torn_not_corrupt = 0, other = 0;
    for (size_t at = start; at < end; at++) {
        for (size_t k = 0; k < sizeof masks / sizeof masks[0]; k++) {
            uint8_t *data = copy_of(f.data, f.len);
            data[at] ^= masks[k];
            size_t offset = RECORD_MAGIC_LEN;
            size_t good = read_good(data, f.len, &offset, MIDDLE);
            const uint8_t *payload = NULL;
            size_t payload_len = 0;
            record_status st = record_next(data, f.len, &offset, &payload, &payload_len);
            if (good != MIDDLE || (st != RECORD_OK && offset != start)) {
                other++;
            } else if (st == RECORD_OK) {
                wrong_ok++;
                fprintf(stderr, "flip 0x%02x at byte %zu of the middle record: RECORD_OK\n", masks[k], at - start);
            } else if (st != RECORD_CORRUPT) {
                /* what this means: the journal replay takes it for a torn tail, cuts the file
                 * there and drops the good, acknowledged records after it without an error */
                torn_not_corrupt++;
                uint32_t n = (uint32_t)data[start] | (uint32_t)data[start + 1] << 8 | (uint32_t)data[start + 2] << 16 |
                             (uint32_t)data[start + 3] << 24;
                fprintf(stderr,
                        "flip 0x%02x at byte %zu of the middle record (of %zu bytes, %zu good bytes after it): "
                        "%s, not CORRUPT (length field now %u)\n",
                        masks[k], at - start, end - start, f.len - end, status_name(st), n);
            }
            free(data);
        }
    }
    CHECK(other == 0);
    CHECK(wrong_ok == 0);
    CHECK(torn_not_corrupt == 0);

    CHECK(wrong_ok == 0);
    free(f.data);
}

/* The last record is as acknowledged as any other: a byte of it flipped (header or payload,
 * nothing after it) is damage, not a torn tail. A torn tail is a record cut short, or one
 * whose bytes are zeros from a sector boundary to the end of the file (the file grew, the
 * data never reached the disk): both still read as RECORD_TORN. */
static void test_last_record_damage(void)
{
    static const uint8_t masks[] = {0x01, 0x02, 0x10, 0x40, 0x80, 0xff};
    framed f = frame_all();
    size_t last = f.starts[N_RECORDS - 1], end = f.starts[N_RECORDS];
    size_t not_corrupt = 0;
    for (size_t at = last; at < end; at++) {
        for (size_t k = 0; k < sizeof masks / sizeof masks[0]; k++) {
            uint8_t *data = copy_of(f.data, f.len);
            data[at] ^= masks[k];
            size_t offset = RECORD_MAGIC_LEN;
            CHECK(read_good(data, f.len, &offset, N_RECORDS - 1) == N_RECORDS - 1);
            const uint8_t *payload = NULL;
            size_t payload_len = 0;
            record_status st = record_next(data, f.len, &offset, &payload, &payload_len);
            if (st != RECORD_CORRUPT || offset != last) {
                not_corrupt++;
                fprintf(stderr, "flip 0x%02x at byte %zu of the last record (of %zu): %s at offset %zu\n", masks[k],
                        at - last, end - last, status_name(st), offset);
            }
            free(data);
        }
    }
    CHECK(not_corrupt == 0);

    /* the same record placed so that a sector boundary falls inside it, then its bytes from
     * that boundary on zeroed: torn. Zeroed from just after the boundary (not a unit a disk
     * loses), or with a non-zero byte left after the zeros: corrupt. */
    size_t rec_len = end - last, pad = RECORD_SECTOR - rec_len / 2; /* the boundary at rec_len / 2 */
    size_t len = pad + rec_len;
    uint8_t *data = calloc(1, len);
    memcpy(data + pad, f.data + last, rec_len);
    memset(data, 0x5a, pad); /* not a record: never read, record_next starts at pad */
    const struct {
        size_t zero_from; /* file offset */
        int keep_last;    /* the record's last byte left as it was */
        record_status want;
    } cases[] = {
        {RECORD_SECTOR, 0, RECORD_TORN},
        {RECORD_SECTOR + 1, 0, RECORD_CORRUPT},
        {RECORD_SECTOR, 1, RECORD_CORRUPT},
        {len - 1, 0, RECORD_CORRUPT},
    };
    CHECK(data[RECORD_SECTOR] != 0); /* else zeros from RECORD_SECTOR + 1 start at the boundary */
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t *d = copy_of(data, len);
        memset(d + cases[k].zero_from, 0, len - cases[k].zero_from);
        if (cases[k].keep_last)
            d[len - 1] = data[len - 1] != 0 ? data[len - 1] : 1;
        size_t offset = pad;
        const uint8_t *payload = NULL;
        size_t payload_len = 0;
        record_status st = record_next(d, len, &offset, &payload, &payload_len);
        if (st != cases[k].want)
            fprintf(stderr, "zeros from %zu (record %zu..%zu, keep_last %d): %s, want %s\n", cases[k].zero_from, pad,
                    len, cases[k].keep_last, status_name(st), status_name(cases[k].want));
        CHECK(st == cases[k].want);
        CHECK(offset == pad);
        free(d);
    }
    /* the same zeros from the boundary, the file ending further on (a page of zeros): torn */
    uint8_t *d = calloc(1, len + 4096);
    memcpy(d, data, RECORD_SECTOR);
    size_t offset = pad;
    const uint8_t *payload = NULL;
    size_t payload_len = 0;
    CHECK(record_next(d, len + 4096, &offset, &payload, &payload_len) == RECORD_TORN);
    free(d);
    free(data);

    /* a length byte of the last record flipped upwards, so it claims more than the file
     * has: its bytes are all there under the old length, so that is damage, not a record
     * cut short; with zeros after it (a grown file) too */
    for (size_t pad_zeros = 0; pad_zeros <= 4096; pad_zeros += 4096) {
        for (int byte = 0; byte < 3; byte++) {
            uint8_t *z = calloc(1, f.len + pad_zeros);
            memcpy(z, f.data, f.len);
            uint32_t n = (uint32_t)z[last] | (uint32_t)z[last + 1] << 8 | (uint32_t)z[last + 2] << 16;
            z[last + byte] |= 0x10 << byte; /* stays at most RECORD_MAX_PAYLOAD */
            uint32_t m = (uint32_t)z[last] | (uint32_t)z[last + 1] << 8 | (uint32_t)z[last + 2] << 16;
            offset = last;
            record_status st = record_next(z, f.len + pad_zeros, &offset, &payload, &payload_len);
            if (m > n && m <= RECORD_MAX_PAYLOAD && st != RECORD_CORRUPT)
                fprintf(stderr, "last record's length %u -> %u, %zu zeros after: %s\n", n, m, pad_zeros,
                        status_name(st));
            CHECK(m <= n || m > RECORD_MAX_PAYLOAD || st == RECORD_CORRUPT);
            free(z);
        }
    }
    free(f.data);
}

static void put_header(uint8_t *p, uint32_t n, uint32_t crc)
{
    for (int k = 0; k < 4; k++) {
        p[k] = (uint8_t)(n >> (8 * k));
        p[4 + k] = (uint8_t)(crc >> (8 * k));
    }
}

/* Lengths that no record has: 0 and above RECORD_MAX_PAYLOAD. With data after them they are
 * corruption; a header of zeros alone is a torn tail. A record of exactly RECORD_MAX_PAYLOAD
 * bytes is accepted. */
static void test_bad_lengths(void)
{
    framed f = frame_all();
    static const uint32_t lengths[] = {0, RECORD_MAX_PAYLOAD + 1, 0x7fffffffu, 0xffffffffu};
    size_t second = f.starts[1];
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        /* the second record's header rewritten: good records follow it */
        uint8_t *data = copy_of(f.data, f.len);
        put_header(data + second, lengths[k], 0x12345678u);
        size_t offset = RECORD_MAGIC_LEN;
        CHECK(read_good(data, f.len, &offset, 1) == 1);
        const uint8_t *payload = NULL;
        size_t payload_len = 0;
        CHECK(record_next(data, f.len, &offset, &payload, &payload_len) == RECORD_CORRUPT);
        CHECK(offset == second);
        free(data);

        /* the same header, with the CRC zero, as the last bytes of the file */
        data = malloc(f.len + RECORD_HEADER_LEN);
        memcpy(data, f.data, f.len);
        put_header(data + f.len, lengths[k], 0);
        offset = f.starts[N_RECORDS - 1];
        CHECK(read_good(data, f.len, &offset, 0) == 0);
        CHECK(record_next(data, f.len + RECORD_HEADER_LEN, &offset, &payload, &payload_len) == RECORD_OK);
        record_status st = record_next(data, f.len + RECORD_HEADER_LEN, &offset, &payload, &payload_len);
        /* all zero only for length 0 (torn); a non-zero impossible length is garbage */
        CHECK(st == (lengths[k] == 0 ? RECORD_TORN : RECORD_CORRUPT));
        CHECK(offset == f.len);
        free(data);
    }
    /* a header with a plausible length and its payload missing is torn; a header shorter
     * than RECORD_HEADER_LEN is torn */
    uint8_t hdr[RECORD_HEADER_LEN];
    put_header(hdr, 100, 0xdeadbeefu);
    for (size_t len = 1; len <= RECORD_HEADER_LEN; len++) {
        uint8_t *data = copy_of(hdr, len);
        size_t offset = 0;
        const uint8_t *payload = NULL;
        size_t payload_len = 0;
        CHECK(record_next(data, len, &offset, &payload, &payload_len) == RECORD_TORN);
        CHECK(offset == 0);
        free(data);
    }
    /* the largest payload is accepted, one more byte is not */
    size_t big = RECORD_MAX_PAYLOAD;
    uint8_t *data = calloc(1, RECORD_HEADER_LEN + big + RECORD_HEADER_LEN);
    for (size_t i = 0; i < big; i++)
        data[RECORD_HEADER_LEN + i] = (uint8_t)(i * 7 + 1);
    put_header(data, (uint32_t)big, crc32c_update(0, data + RECORD_HEADER_LEN, big));
    size_t offset = 0;
    const uint8_t *payload = NULL;
    size_t payload_len = 0;
    CHECK(record_next(data, RECORD_HEADER_LEN + big, &offset, &payload, &payload_len) == RECORD_OK);
    CHECK(payload_len == big && offset == RECORD_HEADER_LEN + big);
    /* followed by a record header claiming MAX + 1 with a payload byte after it */
    put_header(data + RECORD_HEADER_LEN + big, RECORD_MAX_PAYLOAD + 1, 1);
    offset = RECORD_HEADER_LEN + big;
    CHECK(record_next(data, RECORD_HEADER_LEN + big + RECORD_HEADER_LEN, &offset, &payload, &payload_len) ==
          RECORD_CORRUPT);
    CHECK(offset == RECORD_HEADER_LEN + big);
    free(data);
    free(f.data);
}

/* record_to_webhook takes only a well-formed StoredWebhook with a 12-byte id and no
 * idempotency digest or a 32-byte one. */
static void test_to_webhook_rejects(void)
{
    char eco[32];
    store_webhook w = webhook_of(1, eco);
    schema_stored_webhook m;
    record_from_webhook(&w, &m);
    uint8_t buf[1024];
    size_t n = protobuf_c_message_pack(&m.base, buf);
    store_webhook *r = record_to_webhook(buf, n);
    CHECK(r != NULL && webhook_equal(r, &w));
    store_record_free(r);

    /* an id of other than 12 bytes, or an idempotency digest of other than SHA-256's 32 */
    static const struct {
        int digest;
        size_t len;
    } wrong[] = {{0, 0}, {0, 11}, {0, 13}, {1, 1}, {1, 31}, {1, 33}};
    uint8_t bytes[33];
    memset(bytes, 0x42, sizeof bytes);
    for (size_t k = 0; k < sizeof wrong / sizeof wrong[0]; k++) {
        record_from_webhook(&w, &m);
        ProtobufCBinaryData *field = wrong[k].digest ? &m.idempotency_key : &m.id;
        field->data = bytes;
        field->len = wrong[k].len;
        n = protobuf_c_message_pack(&m.base, buf);
        r = record_to_webhook(buf, n);
        if (r != NULL)
            fprintf(stderr, "record_to_webhook took %s of %zu bytes\n", wrong[k].digest ? "a digest" : "an id",
                    wrong[k].len);
        CHECK(r == NULL);
        store_record_free(r);
    }
    /* an empty payload: no id */
    CHECK(record_to_webhook(buf, 0) == NULL);
    /* a SnapshotHeader */
    schema_snapshot_header h = SCHEMA_SNAPSHOT_HEADER_INIT;
    h.version = 1;
    h.count = 12;
    h.created_ms = 1519831018941LL;
    n = protobuf_c_message_pack(&h.base, buf);
    CHECK(record_to_webhook(buf, n) == NULL);
    /* not protobuf at all */
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    CHECK(record_to_webhook(junk, sizeof junk) == NULL);
    static const char text[] = "{\"id\": \"5a96c3ea0e4c1b0001a0b0c0\"}";
    CHECK(record_to_webhook((const uint8_t *)text, sizeof text - 1) == NULL);
    /* a good record cut short */
    record_from_webhook(&w, &m);
    n = protobuf_c_message_pack(&m.base, buf);
    for (size_t cut = 1; cut < n; cut++) {
        uint8_t *p = copy_of(buf, cut);
        r = record_to_webhook(p, cut);
        /* a cut between whole fields may still be a message: then it must not be the record */
        CHECK(r == NULL || !webhook_equal(r, &w));
        store_record_free(r);
        free(p);
    }
    /* a string that is not UTF-8 */
    char bad_url[] = "https://example.com/\xff\xfe";
    record_from_webhook(&w, &m);
    m.url = bad_url;
    n = protobuf_c_message_pack(&m.base, buf);
    r = record_to_webhook(buf, n);
    CHECK(r == NULL);
    store_record_free(r);
}

/* record_load puts a payload into a store with one copy, and tells a malformed payload
 * from one the store refuses. */
static void test_load(void)
{
    store *s = store_create();
    CHECK(s != NULL);
    if (s == NULL)
        return;
    char eco[32];
    uint8_t buf[1024];
    error err;
    error_clear(&err);
    record_loader l = {.failure = RECORD_LOAD_NO_MEMORY};
    for (size_t i = 0; i < N_RECORDS; i++) {
        store_webhook w = webhook_of(i, eco);
        schema_stored_webhook m;
        record_from_webhook(&w, &m);
        size_t n = protobuf_c_message_pack(&m.base, buf);
        const store_webhook *r = record_load(s, buf, n, &l, &err);
        CHECK(r != NULL && webhook_equal(r, &w) && l.failure == RECORD_LOAD_OK);
        CHECK(r == NULL || store_get(s, &w.id) == r);
        /* the same again: well formed, refused by the store as a duplicate */
        CHECK(record_load(s, buf, n, &l, &err) == NULL && l.failure == RECORD_LOAD_REFUSED &&
              err.kind == ERROR_CONFLICT);
        error_clear(&err);
    }
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    CHECK(record_load(s, junk, sizeof junk, &l, &err) == NULL && l.failure == RECORD_LOAD_MALFORMED);
    CHECK(l.resealed == 0); /* without keys nothing is sealed */
    CHECK(store_count(s) == N_RECORDS);
    store_destroy(s);
}

/* Out of memory, SQLite's way, in both decoders. Running out is never mistaken for a
 * malformed record (the journal would call the file corrupt and advise cutting it): a
 * failed record_load says RECORD_LOAD_NO_MEMORY with nothing stored, and the same payload
 * then loads. */
typedef struct record_oom {
    uint8_t buf[1024];
    size_t n;
    store_webhook w;
    char eco[32];
    store *s;
    store_webhook *r;
    const store_webhook *stored;
    record_loader loader;
    error err;
} record_oom;

static int record_oom_to_webhook(void *ctx)
{
    record_oom *o = ctx;
    o->r = record_to_webhook(o->buf, o->n);
    return o->r != NULL ? 0 : -1;
}

static void record_oom_to_webhook_check(void *ctx, int ok)
{
    record_oom *o = ctx;
    CHECK(ok ? o->r != NULL && webhook_equal(o->r, &o->w) : o->r == NULL);
}

static void record_oom_setup(void *ctx)
{
    record_oom *o = ctx;
    o->s = store_create();
    error_clear(&o->err);
}

static int record_oom_load(void *ctx)
{
    record_oom *o = ctx;
    o->stored = record_load(o->s, o->buf, o->n, &o->loader, &o->err);
    return o->stored != NULL ? 0 : -1;
}

static void record_oom_load_check(void *ctx, int ok)
{
    record_oom *o = ctx;
    if (!ok) {
        CHECK(o->loader.failure == RECORD_LOAD_NO_MEMORY && o->err.kind == ERROR_INTERNAL);
        CHECK(store_count(o->s) == 0 && store_get(o->s, &o->w.id) == NULL);
        o->stored = record_load(o->s, o->buf, o->n, &o->loader, &o->err);
    }
    CHECK(o->stored != NULL && o->loader.failure == RECORD_LOAD_OK && webhook_equal(o->stored, &o->w));
    CHECK(store_count(o->s) == 1 && store_get(o->s, &o->w.id) == o->stored);
}

static void record_oom_teardown(void *ctx)
{
    record_oom *o = ctx;
    store_record_free(o->r);
    o->r = NULL;
    store_destroy(o->s);
    o->s = NULL;
}

static void test_out_of_memory(void)
{
    static record_oom o;
    o.w = webhook_of(3, o.eco); /* a digest and non-ASCII strings */
    schema_stored_webhook m;
    record_from_webhook(&o.w, &m);
    CHECK(protobuf_c_message_get_packed_size(&m.base) <= sizeof o.buf);
    o.n = protobuf_c_message_pack(&m.base, o.buf);
    oom_op to = {"record_to_webhook", &o, NULL, record_oom_to_webhook, record_oom_to_webhook_check,
                 record_oom_teardown};
    CHECK(oom_loop(&to) == 0);
    CHECK(oom_loop_persistent(&to) == 0);
    oom_op load = {"record_load", &o, record_oom_setup, record_oom_load, record_oom_load_check, record_oom_teardown};
    CHECK(oom_loop(&load) == 0);
    CHECK(oom_loop_persistent(&load) == 0);
}

/* Packs m into buf and applies it to s with record_load under keys (or none); the stored
 * version (or NULL). */
static const store_webhook *load_keyed(store *s, const schema_stored_webhook *m, const seal_keyring *keys,
                                       record_load_failure *failure, error *err)
{
    uint8_t buf[1024];
    CHECK(protobuf_c_message_get_packed_size(&m->base) <= sizeof buf);
    size_t n = protobuf_c_message_pack(&m->base, buf);
    record_loader l = {.keys = keys};
    const store_webhook *r = record_load(s, buf, n, &l, err);
    *failure = l.failure;
    return r;
}

static const store_webhook *load_message(store *s, const schema_stored_webhook *m, record_load_failure *failure,
                                         error *err)
{
    return load_keyed(s, m, NULL, failure, err);
}

/* Update and delete records: an update sets only the fields it names, and its record
 * carries nothing else; a delete leaves a tombstone; an update or a delete of an id the
 * store does not hold (or holds deleted) changes nothing and is no failure, except that a
 * delete of an unknown id brings its tombstone along (what a snapshot keeps); a second
 * tombstone of one id, an unknown change and an update that sets nothing or an unknown
 * field are refused. */
static void test_load_changes(void)
{
    store *s = store_create();
    CHECK(s != NULL);
    if (s == NULL)
        return;
    char eco[32];
    error err;
    error_clear(&err);
    record_load_failure failure;
    store_webhook w = webhook_of(1, eco);
    schema_stored_webhook m;
    record_from_webhook(&w, &m);
    CHECK(m.change == SCHEMA_STORED_CREATE);
    CHECK(load_message(s, &m, &failure, &err) != NULL && failure == RECORD_LOAD_OK);

    store_webhook u = {.id = w.id, .disabled = 0, .ecosystem_id = "", .url = "https://new.example/x",
                       .secret = "", .description = "changed"};
    record_from_update(&u, STORE_SET_URL | STORE_SET_DESCRIPTION, &m);
    CHECK(m.change == SCHEMA_STORED_UPDATE && m.sets == (STORE_SET_URL | STORE_SET_DESCRIPTION));
    CHECK_STR(m.secret, ""); /* only what it sets */
    CHECK_STR(m.ecosystem_id, "");
    CHECK(m.idempotency_key.len == 0 && m.created_ms == 0);
    const store_webhook *v = load_message(s, &m, &failure, &err);
    CHECK(v != NULL && failure == RECORD_LOAD_OK);
    if (v != NULL) {
        CHECK_STR(v->url, "https://new.example/x");
        CHECK_STR(v->description, "changed");
        CHECK_STR(v->secret, w.secret);
        CHECK(v->disabled == w.disabled && v->created_ms == w.created_ms && v->idempotency != NULL);
        CHECK(store_get(s, &w.id) == v);
    }
    /* the same update again (a journal replayed over a snapshot that has it): the same state */
    v = load_message(s, &m, &failure, &err);
    CHECK(v != NULL && failure == RECORD_LOAD_OK && strcmp(v->description, "changed") == 0);
    /* disabled alone, to false */
    u.disabled = 0;
    record_from_update(&u, STORE_SET_DISABLED, &m);
    v = load_message(s, &m, &failure, &err);
    CHECK(v != NULL && v->disabled == 0 && strcmp(v->url, "https://new.example/x") == 0);

    /* delete: a tombstone, out of reach of store_get */
    store_webhook dead = *store_get(s, &w.id);
    dead.deleted = 1;
    record_from_webhook(&dead, &m);
    CHECK(m.change == SCHEMA_STORED_DELETE);
    const store_webhook *t = load_message(s, &m, &failure, &err);
    CHECK(t != NULL && t->deleted && failure == RECORD_LOAD_OK);
    CHECK(store_get(s, &w.id) == NULL && store_count(s) == 0);
    /* again, and an update after it: nothing changes, no failure */
    CHECK(load_message(s, &m, &failure, &err) == NULL && failure == RECORD_LOAD_OK && err.kind == ERROR_NONE);
    record_from_update(&u, STORE_SET_URL, &m);
    CHECK(load_message(s, &m, &failure, &err) == NULL && failure == RECORD_LOAD_OK && err.kind == ERROR_NONE);
    CHECK(store_get(s, &w.id) == NULL && store_count(s) == 0 && store_slots(s) == 1);
    /* an update of an id never seen: nothing */
    store_webhook other = webhook_of(2, eco);
    u.id = other.id;
    record_from_update(&u, STORE_SET_URL, &m);
    CHECK(load_message(s, &m, &failure, &err) == NULL && failure == RECORD_LOAD_OK);
    CHECK(store_slots(s) == 1);
    /* a delete of an id never seen: its tombstone (kept by a snapshot for its key) */
    other.deleted = 1;
    record_from_webhook(&other, &m);
    t = load_message(s, &m, &failure, &err);
    CHECK(t != NULL && t->deleted && store_slots(s) == 2 && store_get(s, &other.id) == NULL);

    /* what no writer makes */
    record_from_update(&u, STORE_SET_URL, &m);
    m.sets = 0;
    CHECK(load_message(s, &m, &failure, &err) == NULL && failure == RECORD_LOAD_MALFORMED);
    m.sets = STORE_SET_URL | 1u << 4; /* ecosystem_id cannot change */
    CHECK(load_message(s, &m, &failure, &err) == NULL && failure == RECORD_LOAD_MALFORMED);
    record_from_webhook(&w, &m);
    m.sets = STORE_SET_URL; /* a create that names fields */
    CHECK(load_message(s, &m, &failure, &err) == NULL && failure == RECORD_LOAD_MALFORMED);
    m.sets = 0;
    m.change = 3;
    CHECK(load_message(s, &m, &failure, &err) == NULL && failure == RECORD_LOAD_MALFORMED);
    store_destroy(s);
}

/* ---- sealed secrets ------------------------------------------------------------------- */

static seal_keyring *ring_of(const uint8_t *current, const uint8_t *previous)
{
    seal_keyring *r = seal_keyring_create();
    CHECK(r != NULL && (current == NULL || seal_keyring_add(r, current, 1) == 0) &&
          (previous == NULL || seal_keyring_add(r, previous, 0) == 0));
    return r;
}

/* w as a StoredWebhook payload in buf (1024 bytes); its size. */
static size_t pack_webhook(const store_webhook *w, uint8_t *buf)
{
    schema_stored_webhook m;
    record_from_webhook(w, &m);
    CHECK(protobuf_c_message_get_packed_size(&m.base) <= 1024);
    return protobuf_c_message_pack(&m.base, buf);
}

/* 1 when r's secret is sealed under the key with this id and opens to want. */
static int sealed_as(const seal_keyring *keys, const store_webhook *r, const uint8_t *key, const char *want)
{
    uint8_t id[SEAL_KEY_ID_LEN], named[SEAL_KEY_ID_LEN];
    char out[64];
    size_t n;
    seal_key_id(key, id);
    return r != NULL && r->secret[0] == '\0' && r->sealed_secret != NULL &&
           seal_key_id_of(r->sealed_secret, r->sealed_secret_len, named) == 0 &&
           memcmp(named, id, SEAL_KEY_ID_LEN) == 0 &&
           seal_open(keys, &r->id, r->sealed_secret, r->sealed_secret_len, out, &n) == SEAL_OK && strcmp(out, want) == 0;
}

/* record_load with keys: plain secrets are sealed, secrets under a previous key sealed
 * again under the current one, secrets under the current key kept as they are; a key the
 * ring lacks is NO_KEY naming it, a blob under a previous key that does not open is
 * UNOPENED; a record both plain and sealed, or of an unknown sealed form, is malformed. */
static void test_load_sealed(void)
{
    uint8_t k1[SEAL_KEY_LEN], k2[SEAL_KEY_LEN], id1[SEAL_KEY_ID_LEN];
    for (size_t i = 0; i < SEAL_KEY_LEN; i++)
        k1[i] = (uint8_t)(i + 1), k2[i] = (uint8_t)(200 - i);
    seal_key_id(k1, id1);
    seal_keyring *ring1 = ring_of(k1, NULL), *ring2 = ring_of(k2, k1), *only2 = ring_of(k2, NULL);
    char eco[32];
    uint8_t buf[1024], sealed_buf[1024];
    error err;
    error_clear(&err);
    store_webhook w = webhook_of(1, eco); /* secret "s3cret" */

    /* plain text, loaded with a key: sealed in the index */
    store *s = store_create();
    record_loader l = {.keys = ring1};
    size_t n = pack_webhook(&w, buf);
    const store_webhook *r = record_load(s, buf, n, &l, &err);
    CHECK(l.failure == RECORD_LOAD_OK && sealed_as(ring1, r, k1, "s3cret") && l.resealed == 1);
    CHECK(r != NULL && l.resealed_growth == (int64_t)(pack_webhook(r, sealed_buf) - n));
    size_t sealed_n = r != NULL ? pack_webhook(r, sealed_buf) : 0; /* sealed under k1 */
    CHECK(memmem(sealed_buf, sealed_n, "s3cret", 6) == NULL);
    store_destroy(s);

    /* an empty secret is left as it is */
    store_webhook empty = webhook_of(0, eco);
    s = store_create();
    l = (record_loader){.keys = ring1};
    n = pack_webhook(&empty, buf);
    r = record_load(s, buf, n, &l, &err);
    CHECK(r != NULL && r->sealed_secret == NULL && strcmp(r->secret, "") == 0 && l.resealed == 0);
    store_destroy(s);

    /* under the current key: kept byte for byte */
    s = store_create();
    l = (record_loader){.keys = ring1};
    r = record_load(s, sealed_buf, sealed_n, &l, &err);
    CHECK(sealed_as(ring1, r, k1, "s3cret") && l.resealed == 0);
    uint8_t again[1024];
    CHECK(r != NULL && pack_webhook(r, again) == sealed_n && memcmp(again, sealed_buf, sealed_n) == 0);
    store_destroy(s);

    /* under a previous key: sealed again under the current one */
    s = store_create();
    l = (record_loader){.keys = ring2};
    r = record_load(s, sealed_buf, sealed_n, &l, &err);
    CHECK(l.failure == RECORD_LOAD_OK && sealed_as(ring2, r, k2, "s3cret") && l.resealed == 1);
    store_destroy(s);

    /* a key the ring lacks: nothing stored, the key named */
    const seal_keyring *lacking[] = {NULL, only2};
    for (size_t i = 0; i < 2; i++) {
        s = store_create();
        l = (record_loader){.keys = lacking[i]};
        CHECK(record_load(s, sealed_buf, sealed_n, &l, &err) == NULL && l.failure == RECORD_LOAD_NO_KEY &&
              memcmp(l.key_id, id1, SEAL_KEY_ID_LEN) == 0 && store_count(s) == 0);
        store_destroy(s);
    }

    /* damaged under a previous key: UNOPENED (under the current key it is only found when
     * opened to sign: start-up does not open every secret) */
    uint8_t damaged[1024];
    memcpy(damaged, sealed_buf, sealed_n);
    uint8_t *at = memmem(damaged, sealed_n, id1, SEAL_KEY_ID_LEN); /* the blob's key id, after its format byte */
    CHECK(at != NULL);
    if (at != NULL) {
        at[SEAL_KEY_ID_LEN + SEAL_NONCE_LEN] ^= 0x40; /* the ciphertext's first byte */
        s = store_create();
        l = (record_loader){.keys = ring2};
        CHECK(record_load(s, damaged, sealed_n, &l, &err) == NULL && l.failure == RECORD_LOAD_UNOPENED &&
              store_count(s) == 0 && l.resealed == 0);
        store_destroy(s);
        at[-1] = 7; /* the format byte: a sealed form this server never wrote */
        s = store_create();
        l = (record_loader){.keys = ring1};
        CHECK(record_load(s, damaged, sealed_n, &l, &err) == NULL && l.failure == RECORD_LOAD_MALFORMED);
        store_destroy(s);
    }

    /* both a plain and a sealed secret: malformed */
    schema_stored_webhook m;
    store_webhook both = webhook_of(1, eco);
    record_from_webhook(&both, &m);
    m.sealed_secret.data = sealed_buf;
    m.sealed_secret.len = SEAL_OVERHEAD + 6;
    n = protobuf_c_message_pack(&m.base, buf);
    s = store_create();
    l = (record_loader){.keys = ring1};
    CHECK(record_load(s, buf, n, &l, &err) == NULL && l.failure == RECORD_LOAD_MALFORMED);
    CHECK(record_to_webhook(buf, n) == NULL);
    store_destroy(s);
    seal_keyring_destroy(ring1);
    seal_keyring_destroy(ring2);
    seal_keyring_destroy(only2);
}

/* Out of memory while a record is sealed (plain text) or sealed again (previous key). */
typedef struct reseal_oom {
    uint8_t buf[1024];
    size_t n;
    const seal_keyring *keys;
    const uint8_t *key;
    store *s;
    const store_webhook *stored;
    record_loader loader;
    error err;
} reseal_oom;

static void reseal_oom_setup(void *ctx)
{
    reseal_oom *o = ctx;
    o->s = store_create();
    o->loader = (record_loader){.keys = o->keys};
    error_clear(&o->err);
}

static int reseal_oom_load(void *ctx)
{
    reseal_oom *o = ctx;
    o->stored = record_load(o->s, o->buf, o->n, &o->loader, &o->err);
    return o->stored != NULL ? 0 : -1;
}

static void reseal_oom_check(void *ctx, int ok)
{
    reseal_oom *o = ctx;
    if (!ok) {
        CHECK(o->loader.failure == RECORD_LOAD_NO_MEMORY && o->err.kind == ERROR_INTERNAL);
        CHECK(store_count(o->s) == 0 && o->loader.resealed == 0 && o->loader.resealed_growth == 0);
        o->stored = record_load(o->s, o->buf, o->n, &o->loader, &o->err);
    }
    CHECK(sealed_as(o->keys, o->stored, o->key, "s3cret") && o->loader.resealed == 1);
}

static void reseal_oom_teardown(void *ctx)
{
    reseal_oom *o = ctx;
    store_destroy(o->s);
    o->s = NULL;
}

static void test_reseal_out_of_memory(void)
{
    uint8_t k1[SEAL_KEY_LEN], k2[SEAL_KEY_LEN];
    for (size_t i = 0; i < SEAL_KEY_LEN; i++)
        k1[i] = (uint8_t)(i + 3), k2[i] = (uint8_t)(100 + i);
    seal_keyring *ring1 = ring_of(k1, NULL), *ring2 = ring_of(k2, k1);
    static reseal_oom o;
    char eco[32];
    store_webhook w = webhook_of(1, eco);
    o.n = pack_webhook(&w, o.buf);
    o.keys = ring1, o.key = k1;
    oom_op plain = {"record_load sealing a plain secret", &o, reseal_oom_setup, reseal_oom_load, reseal_oom_check,
                    reseal_oom_teardown};
    CHECK(oom_loop(&plain) == 0);
    CHECK(oom_loop_persistent(&plain) == 0);
    /* the same record sealed under k1, loaded where k1 is a previous key */
    store_webhook sealed;
    uint8_t *blob;
    CHECK(seal_webhook(ring1, &w, &sealed, &blob) == 0);
    o.n = pack_webhook(&sealed, o.buf);
    free(blob);
    o.keys = ring2, o.key = k2;
    oom_op previous = {"record_load sealing again under the current key", &o, reseal_oom_setup, reseal_oom_load,
                       reseal_oom_check, reseal_oom_teardown};
    CHECK(oom_loop(&previous) == 0);
    CHECK(oom_loop_persistent(&previous) == 0);
    seal_keyring_destroy(ring1);
    seal_keyring_destroy(ring2);
}

/* An update record's secret is resealed as a create's: a plain one loaded with a key is
 * sealed (in the index, and in the update record written from it), one sealed under a
 * previous key sealed again; an update that sets "" leaves no sealed blob; a tombstone
 * of a sealed webhook keeps it sealed. */
static void test_load_update_sealed(void)
{
    uint8_t k1[SEAL_KEY_LEN], k2[SEAL_KEY_LEN];
    for (size_t i = 0; i < SEAL_KEY_LEN; i++)
        k1[i] = (uint8_t)(i + 7), k2[i] = (uint8_t)(99 - i);
    seal_keyring *ring1 = ring_of(k1, NULL), *ring2 = ring_of(k2, k1);
    char eco[32];
    error err;
    error_clear(&err);
    record_load_failure failure;
    store *s = store_create();
    store_webhook w = webhook_of(1, eco);
    schema_stored_webhook m;
    record_from_webhook(&w, &m);
    CHECK(load_keyed(s, &m, ring1, &failure, &err) != NULL && failure == RECORD_LOAD_OK);

    /* a plain new secret (a keyless writer's record) loaded with a key: sealed */
    store_webhook u = {.id = w.id, .ecosystem_id = "", .url = "", .secret = "n3w-secret", .description = ""};
    record_from_update(&u, STORE_SET_SECRET, &m);
    const store_webhook *v = load_keyed(s, &m, ring1, &failure, &err);
    CHECK(failure == RECORD_LOAD_OK && sealed_as(ring1, v, k1, "n3w-secret"));
    CHECK(v != NULL && strcmp(v->url, w.url) == 0);
    /* the update record written from a sealed version carries the blob, not the text */
    uint8_t buf[1024];
    if (v != NULL) {
        record_from_update(v, STORE_SET_SECRET, &m);
        CHECK(m.sealed_secret.len == v->sealed_secret_len && strcmp(m.secret, "") == 0);
        size_t n = protobuf_c_message_pack(&m.base, buf);
        CHECK(memmem(buf, n, "n3w-secret", 10) == NULL);
        /* replayed under a ring where k1 is previous: sealed again under k2 */
        store *s2 = store_create();
        schema_stored_webhook c;
        record_from_webhook(&w, &c);
        CHECK(load_keyed(s2, &c, ring2, &failure, &err) != NULL);
        const store_webhook *v2 = load_keyed(s2, &m, ring2, &failure, &err);
        CHECK(failure == RECORD_LOAD_OK && sealed_as(ring2, v2, k2, "n3w-secret"));
        /* and under no key at all: refused, the key missing */
        CHECK(load_keyed(s2, &m, NULL, &failure, &err) == NULL && failure == RECORD_LOAD_NO_KEY);
        store_destroy(s2);
    }
    /* a sealed secret in an update that does not set the secret is no record a writer makes */
    if (v != NULL) {
        record_from_update(v, STORE_SET_SECRET, &m);
        m.sets = STORE_SET_URL;
        CHECK(load_keyed(s, &m, ring1, &failure, &err) == NULL && failure == RECORD_LOAD_MALFORMED);
    }

    /* "" removes it: no sealed blob left */
    u.secret = "";
    record_from_update(&u, STORE_SET_SECRET, &m);
    v = load_keyed(s, &m, ring1, &failure, &err);
    CHECK(v != NULL && failure == RECORD_LOAD_OK && v->sealed_secret == NULL && v->sealed_secret_len == 0 &&
          strcmp(v->secret, "") == 0);

    /* a tombstone of a webhook with a sealed secret: still sealed */
    u.secret = "an0ther";
    record_from_update(&u, STORE_SET_SECRET, &m);
    CHECK(load_keyed(s, &m, ring1, &failure, &err) != NULL);
    store_webhook dead = *store_get(s, &w.id);
    dead.deleted = 1;
    record_from_webhook(&dead, &m);
    const store_webhook *t = load_keyed(s, &m, ring1, &failure, &err);
    CHECK(t != NULL && t->deleted && sealed_as(ring1, t, k1, "an0ther"));
    store_destroy(s);
    seal_keyring_destroy(ring1);
    seal_keyring_destroy(ring2);
}

int main(void)
{
    test_round_trip();
    test_torn_every_offset();
    test_zero_padding();
    test_flip_every_byte();
    test_last_record_damage();
    test_bad_lengths();
    test_to_webhook_rejects();
    test_load();
    test_load_changes();
    test_out_of_memory();
    test_load_sealed();
    test_load_update_sealed();
    test_reseal_out_of_memory();
    return test_exit_code();
}

/* test_objectid: the hex form both ways, the seconds stamp, the layout (fixed random part,
 * incrementing counter), uniqueness from one thread and from four at once, and the
 * ecosystem-id syntax. */
#include "objectid.h"
#include "test.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, OBJECTID_LEN);
}

/* 1 when the n sorted ids are pairwise distinct */
static int all_unique(objectid *ids, size_t n)
{
    qsort(ids, n, sizeof *ids, cmp_id);
    for (size_t i = 1; i < n; i++)
        if (memcmp(ids[i - 1].bytes, ids[i].bytes, OBJECTID_LEN) == 0)
            return 0;
    return 1;
}

static uint32_t counter_of(const objectid *id)
{
    return (uint32_t)id->bytes[9] << 16 | (uint32_t)id->bytes[10] << 8 | id->bytes[11];
}

static void test_hex(void)
{
    objectid id, back;
    for (int i = 0; i < OBJECTID_LEN; i++)
        id.bytes[i] = (uint8_t)(0x5a + 0x11 * i);
    char hex[OBJECTID_HEX_LEN + 1];
    memset(hex, 'X', sizeof hex);
    objectid_to_hex(&id, hex);
    CHECK_STR(hex, "5a6b7c8d9eafc0d1e2f30415");
    CHECK(strlen(hex) == OBJECTID_HEX_LEN);
    CHECK(objectid_from_hex(hex, strlen(hex), &back) == 0);
    CHECK(memcmp(id.bytes, back.bytes, OBJECTID_LEN) == 0);

    /* all zeros and all ones */
    memset(id.bytes, 0, OBJECTID_LEN);
    objectid_to_hex(&id, hex);
    CHECK_STR(hex, "000000000000000000000000");
    memset(id.bytes, 0xff, OBJECTID_LEN);
    objectid_to_hex(&id, hex);
    CHECK_STR(hex, "ffffffffffffffffffffffff");
    CHECK(objectid_from_hex("ffffffffffffffffffffffff", 24, &back) == 0);
    CHECK(memcmp(back.bytes, id.bytes, OBJECTID_LEN) == 0);
    CHECK(objectid_from_hex("0123456789abcdef01234567", 24, &back) == 0);
    CHECK(back.bytes[0] == 0x01 && back.bytes[7] == 0xef && back.bytes[11] == 0x67);

    /* a known MongoDB id: 0x5a96c3ea = 1519829994 seconds */
    CHECK(objectid_from_hex("5a96c3ea0e4c1b0001a0b0c0", 24, &back) == 0);
    CHECK(objectid_seconds(&back) == 1519829994u);

    /* len is what counts, not the NUL: 24 digits followed by more text */
    CHECK(objectid_from_hex("5a96c3ea0e4c1b0001a0b0c0ff", 24, &back) == 0);
    CHECK(back.bytes[11] == 0xc0);
}

/* Every byte value, in every position, as printf writes it in hex, and back. */
static void test_hex_every_byte(void)
{
    for (int v = 0; v < 256; v++) {
        objectid id, back;
        for (int i = 0; i < OBJECTID_LEN; i++)
            id.bytes[i] = (uint8_t)(v + i);
        char hex[OBJECTID_HEX_LEN + 1], want[OBJECTID_HEX_LEN + 1];
        objectid_to_hex(&id, hex);
        for (int i = 0; i < OBJECTID_LEN; i++)
            snprintf(want + 2 * i, 3, "%02x", id.bytes[i]);
        CHECK_STR(hex, want);
        CHECK(objectid_from_hex(hex, OBJECTID_HEX_LEN, &back) == 0 && memcmp(back.bytes, id.bytes, OBJECTID_LEN) == 0);
    }
}

static void test_hex_rejects(void)
{
    objectid out;
    CHECK(objectid_from_hex("5A96C3EA0E4C1B0001A0B0C0", 24, &out) == -1); /* uppercase */
    CHECK(objectid_from_hex("5a96c3ea0e4c1b0001a0b0cA", 24, &out) == -1); /* one uppercase */
    CHECK(objectid_from_hex("5a96c3ea0e4c1b0001a0b0c", 23, &out) == -1);  /* short */
    CHECK(objectid_from_hex("5a96c3ea0e4c1b0001a0b0c0f", 25, &out) == -1); /* long */
    CHECK(objectid_from_hex("5a96c3ea0e4c1b0001a0b0c0", 23, &out) == -1); /* len decides */
    CHECK(objectid_from_hex("5a96c3ea0e4c1b0001a0b0c0", 25, &out) == -1);
    CHECK(objectid_from_hex("", 0, &out) == -1);
    CHECK(objectid_from_hex("5a96c3ea0e4c1b0001a0b0cg", 24, &out) == -1); /* g */
    CHECK(objectid_from_hex("5a96c3ea0e4c1b0001a0b0c ", 24, &out) == -1); /* space */
    CHECK(objectid_from_hex("5a96c3ea0e4c1b0001a0b0c-", 24, &out) == -1);
    CHECK(objectid_from_hex("x5a96c3ea0e4c1b0001a0b0c", 24, &out) == -1);
    CHECK(objectid_from_hex("5a96c3ea0e4c\0" "1b0001a0b0c", 24, &out) == -1); /* embedded NUL */
    CHECK(objectid_from_hex("0x96c3ea0e4c1b0001a0b0c0", 24, &out) == -1);
    CHECK(objectid_from_hex("C5a96c3ea0e4c1b0001a0b0c", 24, &out) == -1);
}

static void test_make(void)
{
    objectid a = objectid_make(1519831018u);
    CHECK(objectid_seconds(&a) == 1519831018u);
    /* big-endian seconds in the first four bytes */
    CHECK(a.bytes[0] == 0x5a && a.bytes[1] == 0x96 && a.bytes[2] == 0xc7 && a.bytes[3] == 0xea);
    objectid z = objectid_make(0);
    CHECK(objectid_seconds(&z) == 0);
    CHECK(z.bytes[0] == 0 && z.bytes[1] == 0 && z.bytes[2] == 0 && z.bytes[3] == 0);
    objectid m = objectid_make(UINT32_MAX);
    CHECK(objectid_seconds(&m) == UINT32_MAX);

    /* the five random bytes are the same for every id of the process */
    CHECK(memcmp(a.bytes + 4, z.bytes + 4, 5) == 0);
    CHECK(memcmp(a.bytes + 4, m.bytes + 4, 5) == 0);

    char hex[OBJECTID_HEX_LEN + 1];
    objectid back;
    objectid_to_hex(&a, hex);
    CHECK(strncmp(hex, "5a96c7ea", 8) == 0);
    CHECK(objectid_from_hex(hex, OBJECTID_HEX_LEN, &back) == 0);
    CHECK(memcmp(a.bytes, back.bytes, OBJECTID_LEN) == 0);
}

#define MANY 100000

static void test_unique_and_counter(void)
{
    objectid *ids = malloc(MANY * sizeof *ids);
    CHECK(ids != NULL);
    if (ids == NULL)
        return;
    for (size_t i = 0; i < MANY; i++)
        ids[i] = objectid_make(1700000000u);
    /* the counter goes up by one each time (mod 2^24) */
    int steps_ok = 1;
    for (size_t i = 1; i < MANY; i++)
        if (counter_of(&ids[i]) != ((counter_of(&ids[i - 1]) + 1) & 0xffffff))
            steps_ok = 0;
    CHECK(steps_ok);
    CHECK(objectid_seconds(&ids[MANY - 1]) == 1700000000u);
    CHECK(memcmp(ids[0].bytes + 4, ids[MANY - 1].bytes + 4, 5) == 0);
    CHECK(all_unique(ids, MANY));
    free(ids);
}

#define THREADS 4
#define PER_THREAD 50000

/* Every thread waits here until all have started, so that they really make ids at the
 * same time (without it the first thread could finish before the last begins, and a
 * counter that is not atomic would pass). */
static pthread_barrier_t start_line;

static void *make_many(void *arg)
{
    objectid *out = arg;
    pthread_barrier_wait(&start_line);
    for (size_t i = 0; i < PER_THREAD; i++)
        out[i] = objectid_make(1700000001u);
    return NULL;
}

static void test_threads(void)
{
    objectid *ids = malloc((size_t)THREADS * PER_THREAD * sizeof *ids);
    CHECK(ids != NULL);
    if (ids == NULL)
        return;
    pthread_t t[THREADS];
    CHECK(pthread_barrier_init(&start_line, NULL, THREADS) == 0);
    int started = 0;
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, make_many, ids + (size_t)i * PER_THREAD) == 0)
            started++;
    CHECK(started == THREADS); /* else the barrier would never open: stop here */
    if (started != THREADS)
        exit(test_exit_code());
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start_line);
    CHECK(all_unique(ids, (size_t)started * PER_THREAD));
    free(ids);
}

/* The one ecosystem-id rule, which the configuration and the validator both call. */
/* Every byte value at every digit's place: an ecosystem id only with a lowercase hex digit there. */
static void test_ecosystem_id_every_byte(void)
{
    char id[OBJECTID_ECOSYSTEM_ID_LEN + 1];
    for (size_t at = 1; at < OBJECTID_ECOSYSTEM_ID_LEN; at++)
        for (int b = 0; b < 256; b++) {
            memset(id, 'a', sizeof(id));
            id[0] = 'C';
            id[OBJECTID_ECOSYSTEM_ID_LEN] = '\0';
            id[at] = (char)b;
            int hex = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f');
            if (objectid_is_ecosystem_id(id, OBJECTID_ECOSYSTEM_ID_LEN) != hex)
                fprintf(stderr, "  byte 0x%02x at %zu\n", b, at);
            CHECK(objectid_is_ecosystem_id(id, OBJECTID_ECOSYSTEM_ID_LEN) == hex);
        }
}

static void test_ecosystem_id(void)
{
    static const char *const good[] = {"C5a96c3ea0e4c1b0001a0b0c0", "C000000000000000000000000",
                                       "Cffffffffffffffffffffffff", "C0123456789abcdef01234567"};
    static const char *const bad[] = {
        "C5A96C3EA0E4C1B0001A0B0C0", /* uppercase hex */
        "C5a96c3ea0e4c1b0001a0b0cF",
        "c5a96c3ea0e4c1b0001a0b0c0",  /* 'c' prefix */
        "5a96c3ea0e4c1b0001a0b0c0",   /* no prefix: 24 */
        "C5a96c3ea0e4c1b0001a0b0c",   /* 24 chars */
        "C5a96c3ea0e4c1b0001a0b0c00", /* 26 chars */
        "D5a96c3ea0e4c1b0001a0b0c0",
        "C5a96c3ea0e4c1b0001a0b0cg",
        "C5a96c3ea0e4c1b0001a0b0c ",
        " C5a96c3ea0e4c1b0001a0b0c",
        "C5a96c3ea0e4c1b0001a0b0c\n",
        "C-5a96c3ea0e4c1b0001a0b0c",
        "CC5a96c3ea0e4c1b0001a0b0c",
        "C",
        "",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK(objectid_is_ecosystem_id(good[i], strlen(good[i])) == 1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (objectid_is_ecosystem_id(bad[i], strlen(bad[i])) != 0) {
            fprintf(stderr, "took \"%s\" as an ecosystem id\n", bad[i]);
            test_failures++;
        }
    CHECK(OBJECTID_ECOSYSTEM_ID_LEN == 25);
    /* the length is the caller's, not strlen's: a NUL inside (YAML allows one) is not hex */
    CHECK(objectid_is_ecosystem_id("C5a96c3ea0e4c1b0001a0b0c\0", 25) == 0);
    CHECK(objectid_is_ecosystem_id("C5a96c3ea0e4c1b0001a0b0c0junk", 25) == 1);
    /* an ecosystem id is 'C' + an ObjectId's hex: every made id, prefixed, is one */
    for (int i = 0; i < 100; i++) {
        objectid id = objectid_make((uint32_t)(1519831018 + i * 7919));
        char text[OBJECTID_ECOSYSTEM_ID_LEN + 1] = "C";
        objectid_to_hex(&id, text + 1);
        CHECK(objectid_is_ecosystem_id(text, strlen(text)) == 1);
        text[1 + i % OBJECTID_HEX_LEN] = 'G';
        CHECK(objectid_is_ecosystem_id(text, strlen(text)) == 0);
    }
}

int main(void)
{
    CHECK(objectid_init() == 0);
    test_hex();
    test_hex_every_byte();
    test_hex_rejects();
    test_make();
    test_unique_and_counter();
    test_threads();
    test_ecosystem_id();
    test_ecosystem_id_every_byte();
    return test_exit_code();
}

/* objectid: see objectid.h. */
#include "objectid.h"

#include "hg_assert.h"
#include "swar.h"

#include <openssl/rand.h>
#include <stdatomic.h>
#include <string.h>

static uint8_t process_random[5];
static atomic_uint_fast32_t counter;

int objectid_init(void)
{
    uint8_t seed[8];
    if (RAND_bytes(process_random, sizeof(process_random)) != 1 || RAND_bytes(seed, sizeof(seed)) != 1)
        return -1;
    atomic_store(&counter, ((uint32_t)seed[0] << 16) | ((uint32_t)seed[1] << 8) | seed[2]);
    return 0;
}

objectid objectid_make(uint32_t seconds)
{
    uint32_t n = (uint32_t)atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed) & 0xffffff;
    objectid id;
    id.bytes[0] = seconds >> 24;
    id.bytes[1] = seconds >> 16;
    id.bytes[2] = seconds >> 8;
    id.bytes[3] = seconds;
    for (int i = 0; i < 5; i++)
        id.bytes[4 + i] = process_random[i];
    id.bytes[9] = n >> 16;
    id.bytes[10] = n >> 8;
    id.bytes[11] = n;
    return id;
}

void objectid_to_hex(const objectid *id, char out[OBJECTID_HEX_LEN + 1])
{
    static const char pairs[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                                "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
                                "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
                                "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
                                "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
                                "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
                                "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
                                "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
    for (int i = 0; i < OBJECTID_LEN; i++)
        memcpy(out + 2 * i, pairs + 2 * id->bytes[i], 2); /* a byte's two digits, one copy */
    out[OBJECTID_HEX_LEN] = '\0';
}

/* A lowercase hex digit's value plus one; 0 for any other byte. */
static const uint8_t hex_value_plus_one[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
    ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

int objectid_from_hex(const char *hex, size_t len, objectid *out)
{
    if (len != OBJECTID_HEX_LEN)
        return -1;
    for (int i = 0; i < OBJECTID_LEN; i++) {
        unsigned hi = hex_value_plus_one[(unsigned char)hex[2 * i]], lo = hex_value_plus_one[(unsigned char)hex[2 * i + 1]];
        if (hi == 0 || lo == 0)
            return -1;
        out->bytes[i] = (uint8_t)((hi - 1) << 4 | (lo - 1));
    }
    return 0;
}

/* 1 when the 8 bytes of v are each a lowercase hex digit. Per byte, below 0x80 (checked
 * first, so no sum below carries into the next byte): x + 0x50 has its high bit from 0x30
 * on, x + 0x46 from 0x3a on, so the first without the second is '0'..'9'; likewise
 * x + 0x1f and x + 0x19 for 'a'..'f'. */
static int eight_lower_hex(uint64_t v)
{
    if (v & SWAR_HIGHS)
        return 0;
    uint64_t digit = (v + SWAR_ONES * 0x50) & ~(v + SWAR_ONES * 0x46), af = (v + SWAR_ONES * 0x1f) & ~(v + SWAR_ONES * 0x19);
    return ((digit | af) & SWAR_HIGHS) == SWAR_HIGHS;
}

int objectid_is_ecosystem_id(const char *s, size_t len)
{
    HG_STATIC_ASSERT(OBJECTID_HEX_LEN % 8 == 0, "the hex digits are read eight at a time");
    if (len != OBJECTID_ECOSYSTEM_ID_LEN || s[0] != 'C')
        return 0;
    for (size_t i = 1; i < len; i += 8) {
        uint64_t v;
        memcpy(&v, s + i, sizeof(v));
        if (!eight_lower_hex(v))
            return 0;
    }
    return 1;
}

uint32_t objectid_seconds(const objectid *id)
{
    return (uint32_t)id->bytes[0] << 24 | (uint32_t)id->bytes[1] << 16 | (uint32_t)id->bytes[2] << 8 | id->bytes[3];
}

/* objectid: MongoDB-style ObjectIds for webhooks.
 *
 * 12 bytes: 4-byte big-endian Unix seconds, 5 random bytes fixed per process, a 3-byte
 * big-endian counter that starts at a random value. Unique within a process as long as
 * fewer than 2^24 ids are made in one second, and across processes by the random part.
 * Safe to call from any thread. */
#ifndef HOOKGATE_OBJECTID_H
#define HOOKGATE_OBJECTID_H

#include <stddef.h>
#include <stdint.h>

#define OBJECTID_LEN 12
#define OBJECTID_HEX_LEN 24

typedef struct objectid {
    uint8_t bytes[OBJECTID_LEN];
} objectid;

/* Draws the per-process random part and counter start. Returns 0, or -1 when the system
 * has no randomness to give. Must be called once before objectid_make. */
int objectid_init(void);

/* Makes a new id stamped with `seconds` (Unix time). */
objectid objectid_make(uint32_t seconds);

/* Writes 24 lowercase hex digits and a NUL into out. */
void objectid_to_hex(const objectid *id, char out[OBJECTID_HEX_LEN + 1]);

/* Parses exactly 24 lowercase hex digits (len must be 24). Returns 0, or -1 if malformed. */
int objectid_from_hex(const char *hex, size_t len, objectid *out);

/* An ecosystem id: "C" followed by an ObjectId's 24 lowercase hex digits. The one
 * definition of its syntax, for the configuration and for requests alike. */
#define OBJECTID_ECOSYSTEM_ID_LEN (1 + OBJECTID_HEX_LEN)

/* 1 when s[0..len) is an ecosystem id, else 0. */
int objectid_is_ecosystem_id(const char *s, size_t len);

/* The seconds stamped into an id. */
uint32_t objectid_seconds(const objectid *id);

#endif

/* pagetoken: the opaque page_token of a list, made from a store cursor and read back.
 *
 * A token names where the next page starts (store_cursor: the last webhook's place in the
 * list order, its seq, and its id) and is bound to the ecosystem it was made for: its
 * check value is a CRC-32C over that ecosystem's id and the token's other bytes, so a
 * token changed by hand, cut short, or sent with another ecosystem's list does not decode.
 * It is no secret and needs no key: whatever cursor a client forges, a page only ever
 * holds webhooks of the ecosystem its request names, which the core authorizes on every
 * page. The token stays good across restarts (seq and id are).
 *
 * Layout: version (1), seq (8 bytes, big-endian), id (12), check (4, big-endian), in
 * base64url without padding: PAGETOKEN_LEN characters of [A-Za-z0-9_-], which a query
 * string carries unescaped. */
#ifndef HOOKGATE_PAGETOKEN_H
#define HOOKGATE_PAGETOKEN_H

#include <stddef.h>

#include "store.h"

#define PAGETOKEN_BYTES 25 /* before base64url */
#define PAGETOKEN_LEN 34   /* characters of a token */

/* Writes the token of cursor `after` in a list of ecosystem_id, and a NUL, into out. */
void pagetoken_encode(const char *ecosystem_id, const store_cursor *after, char out[PAGETOKEN_LEN + 1]);

/* Reads text[0..len) as a token made for ecosystem_id: 0 with the cursor in *after, or -1
 * when it is not one (any other length, alphabet, version or check value). */
int pagetoken_decode(const char *text, size_t len, const char *ecosystem_id, store_cursor *after);

#endif

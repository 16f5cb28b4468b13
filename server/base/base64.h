/* base64: RFC 4648 base64, the one encoder and decoder of hookgate.
 *
 * Encoding writes the standard alphabet, padded or not, or with BASE64_URL the URL-safe
 * one (RFC 4648 section 5: '-' and '_', which a query string carries as they are). Decoding
 * takes the standard alphabet with exact padding (gRPC binary headers, gRPC-Web-text); with
 * BASE64_URL only the URL-safe alphabet, padding optional (page tokens); or, with
 * BASE64_LENIENT, what the proto3 JSON mapping accepts for bytes: the standard or the
 * URL-safe alphabet (even mixed), padding optional. Either way it rejects anything else:
 * whitespace, '=' before the end, more padding than the text needs, and a length that no
 * encoder makes (4n + 1). Bits left over in the last character are ignored, as OpenSSL's
 * EVP_DecodeBlock (which this replaces) ignores them. */
#ifndef HOOKGATE_BASE64_H
#define HOOKGATE_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters of the padded encoding of n bytes (without the NUL). */
#define BASE64_ENCODED_LEN(n) (((n) + 2) / 3 * 4)
/* Bytes decode may write for len characters of text: a bound, not the exact count. */
#define BASE64_DECODED_MAX(len) (((len) + 3) / 4 * 3)

enum {
    BASE64_PADDED = 1,  /* encode: end with '=' to a multiple of 4 */
    BASE64_LENIENT = 2, /* decode: URL-safe characters too, padding optional */
    BASE64_URL = 4,     /* encode and decode: the URL-safe alphabet instead of '+' and '/'; decode: padding optional */
};

/* Writes the encoding of data[0..len) and a NUL into out, which has room for
 * BASE64_ENCODED_LEN(len) + 1 bytes. Returns the characters written (NUL excluded). */
size_t base64_encode(const uint8_t *data, size_t len, unsigned flags, char *out);

/* Decodes text[0..len) into out, which has room for BASE64_DECODED_MAX(len) bytes. Returns
 * 0 with the byte count in *out_len, or -1 when text is not base64 as flags allow. */
int base64_decode(const char *text, size_t len, unsigned flags, uint8_t *out, size_t *out_len);

#endif

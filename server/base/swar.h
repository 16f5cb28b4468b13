/* swar: eight bytes at once in a uint64_t (SIMD within a register), for the scans that
 * read text a word at a time: JSON text and strings to escape (codec_json), hex ids
 * (objectid). A test marks a byte by setting its high bit in the result; read bytes with
 * memcpy, so that any alignment will do. */
#ifndef HOOKGATE_SWAR_H
#define HOOKGATE_SWAR_H

#include <stdint.h>

#define SWAR_ONES 0x0101010101010101ull  /* 0x01 in every byte: SWAR_ONES * c is c in every byte */
#define SWAR_HIGHS 0x8080808080808080ull /* the high bit of every byte */

/* Nonzero exactly when a byte of v is below n (n at most 0x80). Which bytes are marked is
 * not exact: a borrow out of a marked byte may mark the byte above it too. */
static inline uint64_t swar_below(uint64_t v, unsigned n)
{
    return (v - SWAR_ONES * n) & ~v & SWAR_HIGHS;
}

/* Nonzero exactly when a byte of v is c (marked as swar_below marks). */
static inline uint64_t swar_equal(uint64_t v, unsigned char c)
{
    return swar_below(v ^ (SWAR_ONES * c), 1);
}

#endif

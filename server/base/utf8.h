/* utf8: the one UTF-8 decoder of the tree: how long the character at a position is, if it
 * is one (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF). */
#ifndef HOOKGATE_UTF8_H
#define HOOKGATE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The length (1 to 4) of the well-formed UTF-8 character s starts with (len bytes
 * readable), or 0 when s does not start one (a stray continuation byte, a sequence cut
 * short, an overlong form, a surrogate, a value past U+10FFFF). NUL is a character. */
size_t utf8_char_len(const uint8_t *s, size_t len);

#endif

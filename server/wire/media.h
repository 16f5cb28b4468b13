/* media: the one media-type matcher (Content-Type, and each element of an Accept list).
 *
 * One semantics everywhere: the type/subtype is compared without regard to case (RFC 9110
 * 8.3.1), white space around it is ignored, and so is every parameter after ';' (charset,
 * q-values: nothing here depends on them). */
#ifndef HOOKGATE_MEDIA_H
#define HOOKGATE_MEDIA_H

#include <stddef.h>

/* 1 when the media type in value[0..len) is type (lowercase, without parameters). */
int media_type_is(const char *value, size_t len, const char *type);

#endif

/* media: see media.h. */
#include "media.h"

#include <string.h>
#include <strings.h>

#include "hg_assert.h"

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

int media_type_is(const char *value, size_t len, const char *type)
{
    size_t n = strlen(type);
    if (len == n && memcmp(value, type, n) == 0)
        return 1; /* as it is mostly sent: nothing around it */
    HG_ASSERT(memchr(type, ';', n) == NULL);
    const char *semicolon = len > 0 ? memchr(value, ';', len) : NULL;
    size_t start = 0, end = semicolon != NULL ? (size_t)(semicolon - value) : len;
    while (start < end && is_ows(value[start]))
        start++;
    while (end > start && is_ows(value[end - 1]))
        end--;
    return end - start == n && strncasecmp(value + start, type, n) == 0;
}

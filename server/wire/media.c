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
    HG_ASSERT(type != NULL && strchr(type, ';') == NULL);
    size_t start = 0, end = 0;
    while (end < len && value[end] != ';')
        end++;
    while (start < end && is_ows(value[start]))
        start++;
    while (end > start && is_ows(value[end - 1]))
        end--;
    return end - start == strlen(type) && strncasecmp(value + start, type, end - start) == 0;
}

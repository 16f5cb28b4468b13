/* base64: see base64.h. */
#include "base64.h"

#include "hg_assert.h"

static const char ALPHABET_STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char ALPHABET_URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t base64_encode(const uint8_t *data, size_t len, unsigned flags, char *out)
{
    const char *alphabet = (flags & BASE64_URL) ? ALPHABET_URL : ALPHABET_STD;
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < len ? (uint32_t)data[i + 1] << 8 : 0);
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[v >> 12 & 63];
        if (i + 1 < len)
            out[o++] = alphabet[v >> 6 & 63];
        else if (flags & BASE64_PADDED)
            out[o++] = '=';
        if (flags & BASE64_PADDED)
            out[o++] = '=';
    }
    HG_ASSERT(o <= BASE64_ENCODED_LEN(len));
    out[o] = '\0';
    return o;
}

/* The 6-bit value of c, or -1 when c is not in the alphabet flags allow. */
static int value_of(char c, unsigned flags)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (flags & BASE64_URL)
        return c == '-' ? 62 : c == '_' ? 63 : -1;
    if (c == '+' || (c == '-' && (flags & BASE64_LENIENT)))
        return 62;
    if (c == '/' || (c == '_' && (flags & BASE64_LENIENT)))
        return 63;
    return -1;
}

int base64_decode(const char *text, size_t len, unsigned flags, uint8_t *out, size_t *out_len)
{
    size_t pad = 0;
    while (pad < len && pad < 3 && text[len - 1 - pad] == '=')
        pad++;
    size_t chars = len - pad;            /* characters that carry bits */
    size_t needed = (4 - chars % 4) % 4; /* padding a padded encoding would have */
    if (chars % 4 == 1 || pad > needed || (!(flags & (BASE64_LENIENT | BASE64_URL)) && pad != needed))
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < chars; i++) {
        int v = value_of(text[i], flags);
        if (v < 0)
            return -1; /* also a '=' before the end */
        acc = acc << 6 | (uint32_t)v;
        if (i % 4 == 3) {
            out[o++] = (uint8_t)(acc >> 16);
            out[o++] = (uint8_t)(acc >> 8);
            out[o++] = (uint8_t)acc;
            acc = 0;
        }
    }
    if (chars % 4 == 2) {
        out[o++] = (uint8_t)(acc >> 4);
    } else if (chars % 4 == 3) {
        out[o++] = (uint8_t)(acc >> 10);
        out[o++] = (uint8_t)(acc >> 2);
    }
    HG_ASSERT(o <= BASE64_DECODED_MAX(len));
    *out_len = o;
    return 0;
}

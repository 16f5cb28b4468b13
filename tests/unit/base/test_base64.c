/* test_base64: RFC 4648's vectors both ways; round trips at every length up to a few
 * blocks; and, for every string of up to 6 characters over an alphabet of the interesting
 * ones (letters whose low bits matter, both alphabets' 62 and 63, '=', a space, a stray
 * character), the same verdict and bytes as the two decoders it replaced (gRPC's strict
 * one and the JSON codec's lenient one, both on OpenSSL's EVP_DecodeBlock, kept here as
 * the reference). The one intended difference: the old JSON decoder let EVP_DecodeBlock
 * skip leading and trailing whitespace, and the shared one refuses it. */
#include "base64.h"
#include "test.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_encode(int line, const char *data, const char *padded, const char *unpadded)
{
    char out[64];
    size_t len = strlen(data);
    size_t n = base64_encode((const uint8_t *)data, len, BASE64_PADDED, out);
    if (strcmp(out, padded) != 0 || n != strlen(padded) || n != BASE64_ENCODED_LEN(len)) {
        fprintf(stderr, "test_base64.c:%d: padded \"%s\" gave \"%s\"\n", line, data, out);
        test_failures++;
    }
    n = base64_encode((const uint8_t *)data, len, 0, out);
    if (strcmp(out, unpadded) != 0 || n != strlen(unpadded)) {
        fprintf(stderr, "test_base64.c:%d: unpadded \"%s\" gave \"%s\"\n", line, data, out);
        test_failures++;
    }
}

/* Decodes text with flags; returns its bytes as a NUL-terminated string, or "(rejected)". */
static const char *decoded(const char *text, unsigned flags)
{
    static char out[64];
    size_t n = 99;
    if (base64_decode(text, strlen(text), flags, (uint8_t *)out, &n) != 0)
        return "(rejected)";
    CHECK(n <= BASE64_DECODED_MAX(strlen(text)));
    out[n] = '\0';
    return out;
}

static void test_vectors(void)
{
    check_encode(__LINE__, "", "", "");
    check_encode(__LINE__, "f", "Zg==", "Zg");
    check_encode(__LINE__, "fo", "Zm8=", "Zm8");
    check_encode(__LINE__, "foo", "Zm9v", "Zm9v");
    check_encode(__LINE__, "foob", "Zm9vYg==", "Zm9vYg");
    check_encode(__LINE__, "fooba", "Zm9vYmE=", "Zm9vYmE");
    check_encode(__LINE__, "foobar", "Zm9vYmFy", "Zm9vYmFy");
    check_encode(__LINE__, "\xfb\xff", "+/8=", "+/8");

    CHECK_STR(decoded("", 0), "");
    CHECK_STR(decoded("Zg==", 0), "f");
    CHECK_STR(decoded("Zm8=", 0), "fo");
    CHECK_STR(decoded("Zm9vYmFy", 0), "foobar");
    CHECK_STR(decoded("+/8=", 0), "\xfb\xff");
    CHECK_STR(decoded("Zh==", 0), "f"); /* leftover bits ignored, as EVP_DecodeBlock does */

    /* strict: the standard alphabet with exact padding, nothing else */
    const char *strict_bad[] = {"Zg",    "Zg=",   "Zg===",    "Z===",  "====",   "=",     "Z",
                                "Zm9vY", "Zm9v=", "Zm=v",     "=Zm9",  "Zm9v\n", " Zm9v", "Zm9v ",
                                "Zm-v",  "Zm_v",  "Zm9v====", "Zm8==", "Zg=A",   "Zm9*",  "Zm\x80v"};
    for (size_t i = 0; i < sizeof strict_bad / sizeof strict_bad[0]; i++)
        if (strcmp(decoded(strict_bad[i], 0), "(rejected)") != 0) {
            fprintf(stderr, "strict base64 took \"%s\"\n", strict_bad[i]);
            test_failures++;
        }

    /* lenient: padding optional, the URL-safe alphabet too, still no junk */
    CHECK_STR(decoded("Zg", BASE64_LENIENT), "f");
    CHECK_STR(decoded("Zg=", BASE64_LENIENT), "f");
    CHECK_STR(decoded("Zg==", BASE64_LENIENT), "f");
    CHECK_STR(decoded("Zm8", BASE64_LENIENT), "fo");
    CHECK_STR(decoded("-_8", BASE64_LENIENT), "\xfb\xff");
    CHECK_STR(decoded("+_8=", BASE64_LENIENT), "\xfb\xff");
    const char *lenient_bad[] = {"Z",     "Z=",    "Zg===",    "Zm8==",    "Zm9v=", "Zm9vY", "Zm9vY=", "Zg=A",
                                 " Zm9v", "Zm9v ", "    Zm9v", "Zm9v\r\n", "Zm 9v", "Zm9*",  "====",   "="};
    for (size_t i = 0; i < sizeof lenient_bad / sizeof lenient_bad[0]; i++)
        if (strcmp(decoded(lenient_bad[i], BASE64_LENIENT), "(rejected)") != 0) {
            fprintf(stderr, "lenient base64 took \"%s\"\n", lenient_bad[i]);
            test_failures++;
        }
}

static void test_round_trips(void)
{
    uint8_t data[200], back[200];
    char text[BASE64_ENCODED_LEN(sizeof data) + 1];
    uint32_t x = 12345;
    for (size_t len = 0; len <= sizeof data; len++) {
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            data[i] = (uint8_t)(x >> 16);
        }
        for (unsigned enc = 0; enc <= BASE64_PADDED; enc += BASE64_PADDED) {
            size_t n = base64_encode(data, len, enc, text), m = 0;
            /* the same text as OpenSSL's encoder, minus its padding when unpadded */
            char ref[sizeof text];
            int r = EVP_EncodeBlock((unsigned char *)ref, data, (int)len);
            CHECK(enc ? (size_t)r == n : (size_t)r >= n);
            CHECK(memcmp(ref, text, n) == 0);
            CHECK(base64_decode(text, n, BASE64_LENIENT, back, &m) == 0 && m == len && memcmp(back, data, len) == 0);
            CHECK((base64_decode(text, n, 0, back, &m) == 0) == (enc || len % 3 == 0));
        }
    }
}

/* ---- the decoders this module replaced, verbatim but for their allocations ---- */

static int old_grpc_decode(const char *text, size_t len, uint8_t *buf, size_t *out_len)
{
    if (len % 4 != 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        int alphabet =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
        int padding = c == '=' && i + 2 >= len && (i + 1 == len || text[len - 1] == '=');
        if (!alphabet && !padding)
            return -1;
    }
    int n = len ? EVP_DecodeBlock(buf, (const unsigned char *)text, (int)len) : 0;
    if (n < 0)
        return -1;
    for (size_t i = len; i > 0 && text[i - 1] == '='; i--)
        n--;
    *out_len = (size_t)n;
    return 0;
}

static int old_json_decode(const char *s, size_t len, uint8_t *data, size_t *out_len)
{
    size_t padded = (len + 3) / 4 * 4;
    char tmp[64];
    size_t pad = 0;
    for (size_t i = 0; i < padded; i++) {
        char c = i < len ? s[i] : '=';
        tmp[i] = c == '-' ? '+' : c == '_' ? '/' : c;
        pad = tmp[i] == '=' ? pad + 1 : (pad ? 99 : 0);
    }
    tmp[padded] = '\0';
    int n = pad <= 2 ? EVP_DecodeBlock(data, (const unsigned char *)tmp, (int)padded) : -1;
    if (n < 0 || (len % 4 == 1))
        return -1;
    *out_len = (size_t)n - pad;
    return 0;
}

static void test_same_as_before(void)
{
    static const char chars[] = "AQw/+-_= *";
    size_t n_chars = sizeof chars - 1, differ = 0, tried = 0;
    char text[8];
    uint8_t a[16], b[16];
    for (size_t len = 0; len <= 6; len++) {
        size_t total = 1;
        for (size_t i = 0; i < len; i++)
            total *= n_chars;
        for (size_t k = 0; k < total; k++) {
            size_t v = k;
            for (size_t i = 0; i < len; i++, v /= n_chars)
                text[i] = chars[v % n_chars];
            text[len] = '\0';
            size_t na = 0, nb = 0;
            tried++;
            int ra = base64_decode(text, len, 0, a, &na), rb = old_grpc_decode(text, len, b, &nb);
            if (ra != rb || (ra == 0 && (na != nb || memcmp(a, b, na) != 0))) {
                if (differ++ < 10)
                    fprintf(stderr, "strict \"%s\": new %d (%zu bytes), old %d (%zu bytes)\n", text, ra, na, rb, nb);
            }
            ra = base64_decode(text, len, BASE64_LENIENT, a, &na);
            rb = old_json_decode(text, len, b, &nb);
            if (strchr(text, ' ') != NULL) { /* the intended difference: whitespace is refused */
                if (ra != -1 && differ++ < 10)
                    fprintf(stderr, "lenient took whitespace: \"%s\"\n", text);
                continue;
            }
            if (ra != rb || (ra == 0 && (na != nb || memcmp(a, b, na) != 0))) {
                if (differ++ < 10)
                    fprintf(stderr, "lenient \"%s\": new %d (%zu bytes), old %d (%zu bytes)\n", text, ra, na, rb, nb);
            }
        }
    }
    CHECK(differ == 0);
    CHECK(tried > 1000000);
}

/* BASE64_URL: RFC 4648 section 5's alphabet both ways (what a page token is written in),
 * padding optional on the way in, and never the standard alphabet's '+' or '/'. */
static void test_url_alphabet(void)
{
    char out[16];
    CHECK(base64_encode((const uint8_t *)"\xfb\xff\xbf", 3, BASE64_URL, out) == 4);
    CHECK_STR(out, "-_-_");
    CHECK(base64_encode((const uint8_t *)"\xfb\xff", 2, BASE64_URL, out) == 3);
    CHECK_STR(out, "-_8");
    CHECK(base64_encode((const uint8_t *)"\xfb\xff", 2, BASE64_URL | BASE64_PADDED, out) == 4);
    CHECK_STR(out, "-_8=");
    CHECK_STR(decoded("-_8", BASE64_URL), "\xfb\xff");
    CHECK_STR(decoded("-_8=", BASE64_URL), "\xfb\xff");
    CHECK_STR(decoded("Zm9vYmFy", BASE64_URL), "foobar");
    CHECK_STR(decoded("+/8", BASE64_URL), "(rejected)");
    CHECK_STR(decoded("-/8", BASE64_URL), "(rejected)");
    CHECK_STR(decoded("-_8==", BASE64_URL), "(rejected)");
    CHECK_STR(decoded("-_8", 0), "(rejected)"); /* the strict decoder still refuses them */
    for (size_t len = 0; len < 10; len++) {
        uint8_t data[10], back[16];
        size_t n = 0;
        for (size_t i = 0; i < len; i++)
            data[i] = (uint8_t)(0xf8 + i);
        base64_encode(data, len, BASE64_URL, out);
        CHECK(strpbrk(out, "+/=") == NULL);
        CHECK(base64_decode(out, strlen(out), BASE64_URL, back, &n) == 0 && n == len && memcmp(back, data, len) == 0);
    }
}

int main(void)
{
    test_vectors();
    test_url_alphabet();
    test_round_trips();
    test_same_as_before();
    return test_exit_code();
}

/* fuzz_url: a webhook url through validate_url_plain (the form read without a general
 * parser) and uriparser (RFC 3986), which must give one answer.
 *
 * The first byte picks a start ("http://", "https://", upper case, none, ...); each further
 * byte stands for itself, but a control byte (below 0x20), which picks one of the characters
 * a url's grammar turns on: so the seeds read as urls, and mutations stay close to them. Checked, besides
 * reading nothing outside the input: a url validate_url_plain takes, uriparser parses as
 * an http or https URL with the same host and a port up to 65535, and validate_is_webhook_url
 * and validate_url_ascii take it as it is; on every url, validate_is_webhook_url and
 * validate_url_ascii agree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uriparser/Uri.h>

#include "fuzz.h"
#include "validate.h"

#define URL_MAX 512

static const char *const starts[] = {"http://", "https://", "HTTP://", "https:/", "http:", "", "https://a", "http://1."};
static const char alphabet[] = "aZ09-._~!$&'()*+,;=:@/?#%[] \"<>\\^`{|}\x7f\t";

static int scheme_is(const UriTextRangeA *r, const char *s)
{
    size_t n = (size_t)(r->afterLast - r->first);
    return r->first != NULL && n == strlen(s) && strncasecmp(r->first, s, n) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    char url[URL_MAX + 1];
    const char *start = starts[data[0] % (sizeof starts / sizeof starts[0])];
    size_t len = strlen(start);
    memcpy(url, start, len);
    for (size_t i = 1; i < size && len < URL_MAX; i++)
        url[len++] = data[i] < 0x20 ? alphabet[data[i] % (sizeof alphabet - 1)] : (char)data[i];
    url[len] = '\0';

    char *ascii = validate_url_ascii(url);
    int valid = validate_is_webhook_url(url, URL_MAX);
    FUZZ_CHECK((ascii != NULL) == valid, "validate_url_ascii and validate_is_webhook_url disagree");

    size_t first, end;
    if (validate_url_plain(url, len, &first, &end)) {
        FUZZ_CHECK(first < end && end <= len, "a plain url's host outside it");
        UriUriA uri;
        const char *error_pos;
        FUZZ_CHECK(uriParseSingleUriExA(&uri, url, url + len, &error_pos) == URI_SUCCESS,
                   "a plain url uriparser does not parse");
        FUZZ_CHECK(scheme_is(&uri.scheme, "http") || scheme_is(&uri.scheme, "https"), "a plain url not http(s)");
        FUZZ_CHECK(uri.hostText.first == url + first && uri.hostText.afterLast == url + end,
                   "a plain url's host is not uriparser's");
        if (uri.portText.first != NULL) {
            unsigned long port = 0;
            for (const char *c = uri.portText.first; c < uri.portText.afterLast && port <= 65535; c++)
                port = port * 10 + (unsigned long)(*c - '0');
            FUZZ_CHECK(port <= 65535 && uri.portText.afterLast > uri.portText.first, "a plain url's port is not a port");
        }
        uriFreeUriMembersA(&uri);
        FUZZ_CHECK(valid && ascii != NULL && strcmp(ascii, url) == 0, "a plain url not valid as it is");
    }
    free(ascii);
    return 0;
}

/* validate: the business rules of each request message, for every protocol alike.
 *
 * Validators only add problems to an error (path = the field's JSON name, order = its
 * field number, location left to the transport) and skip fields a codec already reported,
 * so one response lists every problem once, in schema field order. */
#ifndef HOOKGATE_VALIDATE_H
#define HOOKGATE_VALIDATE_H

#include "config.h"
#include "error.h"
#include "schema.h"
#include "store.h"

#define VALIDATE_REQUIRED "field is required"
#define VALIDATE_INVALID_ID "invalid id"
#define VALIDATE_INVALID_URL "invalid url"
#define VALIDATE_INVALID_PAGE_TOKEN "invalid page token (not one this server gave for this ecosystem's list)"

/* 1 when s is an absolute http or https URL with a host (RFC 3986) of at most max_len
 * bytes. As WHATWG's parsers (browsers, Node), it accepts non-ASCII bytes (UTF-8): in the
 * path and query as if percent-encoded, and in the host when IDNA (libidn2, UTS #46
 * non-transitional) turns it into an ASCII name: "https://exämple.com/hook". */
int validate_is_webhook_url(const char *s, size_t max_len);

/* 1 when s[0..len) is a webhook url of the plainest form, which validate_is_webhook_url
 * then reads without a general parser: "http://" or "https://", a host of ASCII letters,
 * digits, '-' and '.', an optional port of 1 to 5 digits up to 65535, then a path, query
 * and fragment of RFC 3986's characters without escapes. Its host is s[*host_first ..
 * *host_end). 0 says nothing: the url may still be valid (any other form: upper case,
 * userinfo, escapes, IPv6, non-ASCII) or not. */
int validate_url_plain(const char *s, size_t len, size_t *host_first, size_t *host_end);

/* The form of a valid webhook url that is called: the IDNA (punycode) host, every other
 * non-ASCII byte percent-encoded; s itself, copied, when it is ASCII. malloc'd; NULL when
 * out of memory or s is not valid. */
char *validate_url_ascii(const char *s);

/* A create's or an update's url (desc: its message) whose host is an IP literal that the
 * policy denies (loopback, private, link-local, ...): the problem "invalid url". A host name
 * is not judged here (the call judges the address it resolves to). Skips a url already
 * reported. */
void validate_url_destination(const char *url, const netpolicy *policy, const ProtobufCMessageDescriptor *desc,
                              error *err);

#define VALIDATE_IDEMPOTENCY_KEY_MAX 255 /* bytes of an Idempotency-Key */

/* An Idempotency-Key header value: one value of 1..VALIDATE_IDEMPOTENCY_KEY_MAX printable
 * ASCII characters (0x20..0x7e); a problem goes in the header "Idempotency-Key". */
void validate_idempotency_key(const char *key, size_t len, error *err);

void validate_create_request(const schema_create_request *req, const config_limits *limits, error *err);
void validate_get_request(const schema_get_request *req, error *err);
/* Also reads page_token (made for the request's ecosystem) into *after: returns 1 when it
 * did, 0 for the first page or when a problem was found. limit may be 0 (the default page
 * size) up to limits->max_page_size: over it is a problem, not a smaller page, as every
 * other limit here answers. */
int validate_list_request(const schema_list_request *req, const config_limits *limits, store_cursor *after, error *err);

/* An update: the id (its problem placed at id_in, ERROR_IN_UNSET to leave it with the
 * others: REST takes the id from the path, the body from the body), then the changes by
 * create's rules: url required and valid, secret and description within their limits. */
void validate_update_request(const schema_update_request *req, const config_limits *limits, error_in id_in,
                             error *err);
void validate_delete_request(const schema_delete_request *req, error *err);

/* An invoke: the id. */
void validate_invoke_request(const schema_invoke_request *req, error *err);

/* The event calls: an ecosystem and 1..delivery.max_items items to publish; an event or a
 * webhook id (id_in: where it is, when not the message: REST's path); a page limit within
 * limits->max_page_size; a recover's required `since`. */
void validate_publish_request(const schema_publish_request *req, const config_delivery *delivery, error *err);
void validate_get_event_request(const schema_get_event_request *req, error *err);
void validate_attempts_request(const schema_attempts_request *req, const config_limits *limits, error *err);
void validate_resend_request(const schema_resend_request *req, error_in id_in, error *err);
void validate_recover_request(const schema_recover_request *req, error_in id_in, error *err);

#endif

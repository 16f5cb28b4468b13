/* codec_query: a URL query string to a protobuf-c message, by the same names and rules as
 * the JSON codec (each parameter is a JSON string value of the field it names).
 *
 * Percent-decoding and `+` follow the form-urlencoded rules (uriparser). A parameter
 * given twice is a problem of that parameter; unknown ones are "additional parameters". */
#ifndef HOOKGATE_CODEC_QUERY_H
#define HOOKGATE_CODEC_QUERY_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "error.h"

#define CODEC_QUERY_MAX_PARAMS 32 /* parameters a query may carry */

/* Decodes query (len bytes, without the '?') into a new message of type desc, allocated
 * with alloc (NULL = malloc). Problems go into err with location ERROR_IN_QUERY; the
 * message is returned even then, unless the query cannot be read at all (NULL, err set). */
ProtobufCMessage *codec_query_decode(const ProtobufCMessageDescriptor *desc, const char *query, size_t len,
                                     ProtobufCAllocator *alloc, error *err);

/* The decode codec_query_decode tries first: a query of name=value pairs whose bytes are all
 * unreserved (RFC 3986: letters, digits, '-', '.', '_', '~'; so nothing to percent-decode
 * and no '+'), each name a different singular string or uint32 field of desc outside any
 * oneof, a uint32's value its plain decimal digits (at most 9, no leading zero), at most
 * CODEC_QUERY_MAX_PARAMS pairs, set
 * straight into a new message. NULL on anything else (an unknown name, a field given
 * twice, an empty name, a trailing '&', ..., or out of memory): then the split decode
 * decides and words the problem, so errors have one author. Exported for the fuzzer, which
 * compares the two. */
ProtobufCMessage *codec_query_decode_plain(const ProtobufCMessageDescriptor *desc, const char *query, size_t len,
                                           ProtobufCAllocator *alloc);

/* codec_query_decode without the plain decode: uriparser splits the query, into a JSON
 * object that codec_json decodes. */
ProtobufCMessage *codec_query_decode_split(const ProtobufCMessageDescriptor *desc, const char *query, size_t len,
                                           ProtobufCAllocator *alloc, error *err);

/* The names in a query string, for requests that take no query parameters at all:
 * reports them all as one "additional parameters" problem in the query. Returns 1 if it
 * reported anything. */
int codec_query_reject(const char *query, size_t len, error *err);

#endif

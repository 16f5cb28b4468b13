/* deadline: the RPC protocols' request deadlines read from their headers — gRPC's
 * `grpc-timeout` (native gRPC and gRPC-Web) and Connect's `connect-timeout-ms`.
 *
 * Pure: bytes in, milliseconds out, no clock. A value is read exactly as its protocol
 * spells it or refused whole (the transport answers invalid_argument); a valid one is
 * rounded up to a whole millisecond, so a positive timeout never reads as 0, and held to
 * DEADLINE_MAX_MS, so no client can make a call's timer outlive a day. */
#ifndef HOOKGATE_DEADLINE_H
#define HOOKGATE_DEADLINE_H

#include <stddef.h>
#include <stdint.h>

/* The longest deadline kept (a day); a longer one is that long. The server's own request,
 * body and write timeouts, all far shorter, still apply to every call. */
#define DEADLINE_MAX_MS (24ull * 60 * 60 * 1000)

#define DEADLINE_GRPC_MAX_DIGITS 8     /* gRPC's TimeoutValue: 1 to 8 ASCII digits */
#define DEADLINE_CONNECT_MAX_DIGITS 10 /* Connect's connect-timeout-ms: 1 to 10 ASCII digits */

/* Reads a grpc-timeout value (1..8 digits, then one of H M S m u n: hours, minutes,
 * seconds, milliseconds, microseconds, nanoseconds; nothing else, no white space) into
 * *ms. Returns 0, or -1 with *ms untouched when the value is malformed. "0n" is valid and
 * reads as 0 ms: a deadline already passed. */
int deadline_grpc_parse(const char *value, size_t len, uint64_t *ms);

/* Reads a connect-timeout-ms value (1..10 digits, nothing else) into *ms. Returns 0, or
 * -1 with *ms untouched when the value is malformed. "0" is valid (a deadline already
 * passed), as Connect's implementations read it. */
int deadline_connect_parse(const char *value, size_t len, uint64_t *ms);

#endif

/* fuzz: what every fuzz target shares — the server's request-pool allocation, its default
 * limits, and the properties that must hold for any input, checked the same way everywhere.
 *
 * A broken property prints what broke and aborts, so libFuzzer (or tests/fuzz/driver.c)
 * keeps the input that broke it, as it does for a sanitizer report. */
#ifndef HOOKGATE_FUZZ_H
#define HOOKGATE_FUZZ_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"

#define FUZZ_ARENA_BLOCKS 4096 /* allocations per input before the arena says "out of memory" */

/* Aborts with `what` when cond is false. */
#define FUZZ_CHECK(cond, what)                                                                                         \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            fuzz_fail(what, __FILE__, __LINE__);                                                                       \
    } while (0)

_Noreturn void fuzz_fail(const char *what, const char *file, int line);

/* The limits of the embedded default configuration (config/hookgate.yaml). */
extern const config_limits fuzz_limits;

/* Every schema message a client or the SDK decodes: the requests, then the responses. */
extern const ProtobufCMessageDescriptor *const fuzz_messages[];
extern const size_t fuzz_n_messages;

/* 1 for the request messages, which the server decodes into a request pool (the arena). */
int fuzz_is_request(const ProtobufCMessageDescriptor *desc);

/* An allocator like h2o's request pools: nothing freed one by one, all at fuzz_arena_clear.
 * Runs out after FUZZ_ARENA_BLOCKS allocations, so decoders meet "out of memory" too. */
ProtobufCAllocator *fuzz_arena(void);
void fuzz_arena_clear(void);

/* Runs the request's validator, as the core would (requests only; others are left alone). */
void fuzz_validate(const ProtobufCMessage *msg, error *err);

/* What a decoded message must survive: encoded to JSON and read back it is unchanged, and
 * the same through protobuf binary. */
void fuzz_check_round_trips(const ProtobufCMessage *msg);

/* Aborts with `what` unless a and b encode to the same protobuf bytes (two decodes of one
 * input built the same message). */
void fuzz_check_same_message(const ProtobufCMessage *a, const ProtobufCMessage *b, const char *what);

/* 1 when every string of err (reason, paths, messages) is UTF-8 without NUL. */
int fuzz_error_is_text(const error *err);

/* What an error must survive on its way out: it renders as a JSON ErrorResponse that
 * reads back, as a binary ErrorResponse, as a one-line summary and as gRPC trailers. When
 * its strings are text, every rendering is text too (JSON and protobuf strings must be
 * UTF-8). Sorts err's params, as the transports do. */
void fuzz_check_error(error *err);

#endif

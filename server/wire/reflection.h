/* reflection: gRPC server reflection (grpc.reflection.v1 and v1alpha) answered from the
 * schema's serialized descriptors (gen/droplit/descriptors.c: every served .proto and
 * every file it imports, reflection's own included).
 *
 * One request message in, one response message out: no I/O, no state across a stream's
 * messages (a transport calls it once per message). A name the schema does not have is
 * an error_response NOT_FOUND inside an ordinary answer, as the protocol asks; a file
 * comes with every file it imports, directly or not, so a client needs no second trip. */
#ifndef HOOKGATE_REFLECTION_H
#define HOOKGATE_REFLECTION_H

#include <protobuf-c/protobuf-c.h>

#include "schema.h"

/* Answers req (v1alpha's request decodes as v1's: schema.h). The answer points into req
 * (valid_host, original_request) and into the generated tables, so req must outlive it;
 * its own memory comes from alloc. NULL only when out of memory. */
schema_reflection_response *reflection_answer(const schema_reflection_request *req, ProtobufCAllocator *alloc);

/* The index in descriptor_set_files of the file named name, or -1. */
int reflection_find_file(const char *name);

/* The symbol named name (fully qualified, without the leading dot: "pkg.Message.field",
 * "pkg.Service.Method"), or NULL. */
const descriptor_set_symbol *reflection_find_symbol(const char *name);

#endif

#!/bin/sh
# Writes protoc-c's output for proto/ (and the well-known types it imports) into $1.
# Run from the repository root. The build target `gen` runs it on gen/; tests/gen_fresh.sh
# runs it on a scratch folder and compares.
set -eu
out=$1
mkdir -p "$out"
exec protoc-c --c_out="$out" -Iproto -I/usr/include \
  proto/droplit/webhooks/v1/webhooks.proto proto/grpc/health/v1/health.proto \
  google/protobuf/any.proto google/protobuf/timestamp.proto google/protobuf/struct.proto

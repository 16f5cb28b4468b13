#!/bin/sh
# Fails when gen/ is not exactly what protoc-c makes of proto/ today.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
proto/generate.sh "$tmp"
if ! diff -r "$tmp" gen; then
  echo "gen/ is stale: run 'cmake --build build --target gen' and commit gen/" >&2
  exit 1
fi

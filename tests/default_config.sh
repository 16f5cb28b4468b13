#!/bin/sh
# The configuration embedded in the binary must be config/hookgate.yaml byte for byte.
set -eu
"$1" --print-default-config | cmp - config/hookgate.yaml

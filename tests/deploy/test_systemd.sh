#!/bin/sh
# The installed systemd unit passes `systemd-analyze verify` (no message at all), and the
# check can fail (a broken copy draws a message). Skips (exit 77) where systemd-analyze is
# not installed.
#   tests/deploy/test_systemd.sh BUILD-DIR
set -eu
build=$1
command -v systemd-analyze >/dev/null 2>&1 || { echo "test_systemd: no systemd-analyze, skipped"; exit 77; }
prefix=$(mktemp -d "${TMPDIR:-/tmp}/hookgate-units-XXXXXX")
trap 'rm -rf "$prefix"' EXIT
fail() { echo "test_systemd: $*" >&2; exit 1; }

# a real prefix, not DESTDIR: verify checks that ExecStart= names an executable
cmake --install "$build" --prefix "$prefix" >/dev/null
unit="$prefix/lib/systemd/system/hookgate.service"
[ -f "$unit" ] || fail "hookgate.service not installed"
grep -q "^ExecStart=$prefix/sbin/hookgate --config " "$unit" || fail "ExecStart does not name the installed hookgate"
out=$(systemd-analyze verify --man=no "$unit" 2>&1) || fail "verify failed: $out"
[ -z "$out" ] || fail "verify says: $out"

# the socket unit beside it (socket activation), verified with its service
socket_unit="$prefix/lib/systemd/system/hookgate.socket"
[ -f "$socket_unit" ] || fail "hookgate.socket not installed"
out=$(systemd-analyze verify --man=no "$socket_unit" 2>&1) || fail "verify failed: $out"
[ -z "$out" ] || fail "verify says: $out"

sed 's/^Type=notify$/Type=notyfy/' "$unit" >"$prefix/broken.service"
out=$(systemd-analyze verify --man=no "$prefix/broken.service" 2>&1) || true
[ -n "$out" ] || fail "verify did not notice a broken unit"

# the sandbox keeps its score (the README quotes it)
score=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for hookgate.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || fail "systemd-analyze security gave no score"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "exposure level $score, above 2.0"
echo "test_systemd: ok (exposure $score)"

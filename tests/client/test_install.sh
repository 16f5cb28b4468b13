#!/bin/sh
# Installs the build into a scratch prefix and uses the SDK the way a user would: only the
# installed header, library and droplit.pc. Also checks that libdroplit exports nothing but
# droplit_* and that the installed console runs.
#   tests/client/test_install.sh BUILD-DIR path/to/install_smoke.c [EXTRA-CFLAGS]
set -eu
build=$1
smoke=$2
extra=${3:-}
prefix=$(mktemp -d "${TMPDIR:-/tmp}/droplit-install-XXXXXX")
trap 'rm -rf "$prefix"' EXIT
fail() { echo "test_install: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >/dev/null
pc=$(find "$prefix" -name droplit.pc | head -n 1)
[ -n "$pc" ] || fail "droplit.pc not installed"
[ -f "$prefix/include/droplit.h" ] || fail "droplit.h not installed"
export PKG_CONFIG_PATH=$(dirname "$pc")
version=$(pkg-config --modversion droplit)
libdir=$(pkg-config --variable=libdir droplit)
[ -e "$libdir/libdroplit.so" ] || fail "libdroplit.so not in $libdir"

# the header alone, as C11 and as C++
cc -std=c11 -Wall -Wextra -Werror $extra $(pkg-config --cflags droplit) -o "$prefix/smoke" "$smoke" \
  $(pkg-config --libs droplit) -Wl,-rpath,"$libdir"
printf '#include <droplit.h>\n' | c++ -x c++ -fsyntax-only -Wall -Wextra -Werror $(pkg-config --cflags droplit) -
"$prefix/smoke" "$version" || fail "the smoke program failed"

# the public API only: every dynamic symbol defined by the library is droplit_*
others=$(nm -D --defined-only "$libdir/libdroplit.so" | awk '$2 != "A" { print $3 }' | sed 's/@.*//' | grep -v '^droplit_[a-z]' || true)
[ -z "$others" ] || fail "libdroplit exports more than droplit_*: $others"
# and it does not drag in the server's libraries
if ldd "$libdir/libdroplit.so" | grep -E 'libh2o|libyaml|liburiparser'; then
  fail "libdroplit links server libraries"
fi

out=$(env -u LD_LIBRARY_PATH "$prefix/bin/droplit" --version)
[ "$out" = "droplit $version" ] || fail "installed console says '$out', expected 'droplit $version'"
echo "test_install: ok (droplit $version in $prefix)"

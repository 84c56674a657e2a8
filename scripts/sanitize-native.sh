#!/usr/bin/env bash
# The native engine under AddressSanitizer and UndefinedBehaviorSanitizer: builds the addon with both (and -Werror,
# so CI also holds the build to zero warnings) into build-sanitize/, leaving build/Release alone, then runs the
# engine's kernel tests against it (QAFT_NATIVE_PATH) with the ASan runtime preloaded into node. Any report fails.
# OpenBLAS and oneDNN are not instrumented: their own memory is not checked, our calls into them are.
# Linux with GCC or clang; .ci/run calls it. Usage: scripts/sanitize-native.sh [test files...] (default test/engine).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/build-sanitize

# A copy of the sources beside this repository's node_modules: node-gyp builds in ./build of its directory.
rm -rf "$out"
mkdir -p "$out"
cp -r binding.gyp native "$out/"
ln -s "$root/node_modules" "$out/node_modules"
flags='-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -Werror'
echo "sanitize: building the addon with $flags"
(cd "$out" && CFLAGS="$flags" CXXFLAGS="$flags" LDFLAGS='-fsanitize=address,undefined' \
  QAFT_NATIVE_REQUIRED=1 node native/build.mjs >build.log 2>&1) || { tail -30 "$out/build.log"; exit 1; }
addon=$out/build/Release/qaft_native.node

# node is not instrumented, so the ASan runtime the addon links must be loaded first.
asan=$(ldd "$addon" | awk '/libasan\.so/ { print $3 }')
[[ -n $asan ]] || { echo "sanitize: $addon does not link libasan" >&2; exit 1; }

nm -D "$addon" | grep __ubsan_handle >/dev/null || { echo "sanitize: $addon has no UBSan checks" >&2; exit 1; }
# detect_leaks=0: node keeps its heap to the end by design. ASan's SEGV handler is off: V8 handles SIGSEGV itself.
export ASAN_OPTIONS=detect_leaks=0:handle_segv=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

# The run must be able to fail: an out-of-bounds read through the addon (Gather told of more rows than it has)
# must be reported.
canary="const a = require('$addon'), n = 1024;
a.gather(new Float32Array(n), new Int32Array([0]), new Float32Array(n), 2 * n, 1, 1);"
if LD_PRELOAD=$asan node -e "$canary" >"$out/canary.log" 2>&1 || ! grep -q 'AddressSanitizer: heap-buffer-overflow' "$out/canary.log"; then
  echo "sanitize: ASan did not report the canary's overflow (see $out/canary.log)" >&2
  exit 1
fi

files=("$@")
[[ ${#files[@]} -gt 0 ]] || mapfile -t files < <(find test/engine -name '*.test.ts' | sort)
echo "sanitize: ${#files[@]} test files against $addon"
LD_PRELOAD=$asan QAFT_NATIVE_PATH=$addon QAFT_TEST_REQUIRE=native \
  node --import tsx --test --test-concurrency=1 "${files[@]}"

#!/usr/bin/env bash
# Checks that native/ is formatted as .clang-format says (`npm run lint:native`; .ci/run). Fix with
# `clang-format -i native/*.cc native/*.h`. Versions format a little differently: CI and the tree use Debian 12's
# clang-format 14 (apt-get install clang-format).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo 'lint:native: clang-format is not installed (apt-get install clang-format)' >&2; exit 1; }
if ! clang-format --dry-run --Werror native/*.cc native/*.h; then
  echo 'lint:native: native/ is not clang-formatted; run: clang-format -i native/*.cc native/*.h' >&2
  exit 1
fi

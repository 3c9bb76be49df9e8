#!/usr/bin/env bash
# Build gogc and run its test suite, in the configurations CI checks:
#   1. Release, gcc, warnings as errors
#   2. Release, clang, warnings as errors
#   3. AddressSanitizer + debug assertions (gcc)
#   4. UndefinedBehaviorSanitizer (clang)
#   5. ThreadSanitizer (clang): the multi-thread tests (scripts/tsan.sh)
# Usage: scripts/test.sh [--quick]   (--quick: configuration 1 only)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

need() { command -v "$1" >/dev/null 2>&1; }
if ! need cmake || ! need gcc || ! need pkg-config; then
  echo "test.sh: installing cmake, gcc and pkg-config with apt-get" >&2
  apt-get update -qq && apt-get install -y -qq cmake gcc make pkg-config >/dev/null
fi

run() { # name, cmake args...
  local name=$1; shift
  echo "=== $name"
  cmake -S . -B "build/$name" -DGOGC_WERROR=ON "$@" >/dev/null
  cmake --build "build/$name" -j"$jobs" >/dev/null
  ctest --test-dir "build/$name" --output-on-failure -j"$jobs"
}

run release -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc
[ "${1:-}" = "--quick" ] && exit 0
if need clang; then
  run clang -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang
  run ubsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DGOGC_SANITIZE=undefined
else
  echo "=== clang not found: skipping the clang and UBSan builds"
fi
ASAN_OPTIONS=detect_leaks=0:detect_stack_use_after_return=0 \
  run asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc -DGOGC_SANITIZE=address
if need clang; then
  echo "=== tsan"
  bash scripts/tsan.sh
else
  echo "=== clang not found: skipping the ThreadSanitizer build"
fi
echo "all configurations passed"

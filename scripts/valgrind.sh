#!/usr/bin/env bash
# Run gogc's tests under valgrind memcheck (outside CI: memcheck is 20-50x
# slower). Builds build/valgrind with -DGOGC_VALGRIND=ON, so memcheck knows
# which heap memory is free (client requests, src/internal.h), and uses
# scripts/valgrind.supp for the conservative stack scan.
#   scripts/valgrind.sh [TEST...]   (default: the list below)
# Installs valgrind with apt-get when missing, and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null 2>&1 || [ ! -f /usr/include/valgrind/memcheck.h ]; then
  echo "valgrind.sh: installing valgrind with apt-get" >&2
  apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
fi
cmake -S . -B build/valgrind -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOGC_VALGRIND=ON \
  -DGOGC_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/valgrind -j"$(nproc)" >/dev/null
tests=("$@")
# The default list: every black-box test. Under memcheck they run with
# GOGC_TEST_SLOW=1 (timed checks and watchdogs scaled, smaller volumes) and
# test_arena makes 20000 arenas, as under the stress modes. About 10
# minutes in all; test_proclife (4 minutes) and test_arena (1.5) are the
# longest.
[ ${#tests[@]} -eq 0 ] && tests=(alloc reclaim survive final pool modes env events badinput
                                 threads fork arena proclife)
vg=(valgrind -q --error-exitcode=9 --suppressions=scripts/valgrind.supp)
fail=0
# First, that memcheck sees what gogc tells it: a read of a freed object
# must be reported.
out=$("${vg[@]}" build/valgrind/tests/test_badinput asan_read_freed 2>&1 || true)
if grep -q "Invalid read" <<<"$out"; then
  echo "ok    memcheck reports a read of a freed gogc object"
else
  echo "FAIL  memcheck did not report a read of a freed gogc object"; fail=1
fi
for t in "${tests[@]}"; do
  start=$(date +%s)
  if GODEBUG=gcverify=1 GOGC_TEST_SECONDS=3 GOGC_TEST_SLOW=1 GOGC_TEST_ARENAS=20000 timeout 1800 "${vg[@]}" \
       "build/valgrind/tests/test_$t" >"build/valgrind/test_$t.log" 2>&1; then
    echo "ok    test_$t ($(( $(date +%s) - start )) s)"
  else
    echo "FAIL  test_$t: see build/valgrind/test_$t.log"; fail=1
  fi
done
exit $fail

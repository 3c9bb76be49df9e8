#!/usr/bin/env bash
# Fuzz the public API with libFuzzer: tests/fuzz_api.c (programs of API
# calls checked against a model of what must stay live and intact) built
# with clang -fsanitize=fuzzer,address,undefined against the library
# sources (with debug assertions, GOGC_DEBUG=2), run on a copy of the seed
# corpus tests/fuzz/corpus for SECONDS (default 600), with the heap verifier
# and the barrier check on (GODEBUG=gcverify=1,gccheckmark=1; set
# FUZZ_GODEBUG to change that).
#
# Usage: scripts/fuzz.sh [SECONDS] [--merge]
#   --merge   afterwards, merge the inputs that add edges into
#             tests/fuzz/corpus (libFuzzer -merge=1 -use_counters=0); the
#             fuzz_replay test replays that directory
# Environment: FUZZ_GODEBUG, FUZZ_DEBUG (GOGC_DEBUG level, default 2),
#   FUZZ_ARGS (more libFuzzer flags), CC (default clang).
# A crash leaves its input in build/fuzz/artifacts/; replay it with
#   build/release/tests/fuzz_replay FILE   (GOGC_FUZZ_TRACE=1 lists the
#   operations) or build/fuzz/fuzz_api FILE.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=600
merge=0
for a in "$@"; do
  case "$a" in
    --merge) merge=1 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *[!0-9]*|'') echo "fuzz.sh: bad argument '$a' (usage: scripts/fuzz.sh [SECONDS] [--merge])" >&2; exit 2 ;;
    *) secs=$a ;;
  esac
done

cc=${CC:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "fuzz.sh: $cc not found: installing clang with apt-get" >&2
  apt-get update -qq && apt-get install -y -qq clang >/dev/null
  cc=clang
fi

out=build/fuzz
mkdir -p "$out/obj" "$out/artifacts"

# Does this clang have libFuzzer? (Debian keeps it in libclang-rt-N-dev on
# newer releases.)
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$out/probe.c"
if ! "$cc" -fsanitize=fuzzer "$out/probe.c" -o "$out/probe" 2>/dev/null; then
  ver=$("$cc" --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)
  echo "fuzz.sh: $cc cannot link libFuzzer: installing libclang-rt-$ver-dev with apt-get" >&2
  if apt-get update -qq; then apt-get install -y -qq "libclang-rt-$ver-dev" >/dev/null || true; fi
  "$cc" -fsanitize=fuzzer "$out/probe.c" -o "$out/probe" ||
    { echo "fuzz.sh: no libFuzzer for $cc" >&2; exit 1; }
fi

# Build: the library instrumented for coverage (fuzzer-no-link), the
# harness with libFuzzer's main. Neither traces comparisons (trace-cmp):
# libFuzzer copies the operands into its global tables, so compared heap
# pointers land in a root without a write barrier and gccheckmark=1 rightly
# reports an object reachable from fuzzer::TPC that the concurrent mark did
# not see; in the scanner's loops it also cost 60% of the time.
# Use-after-return detection stays off: the collector scans real stacks,
# not ASan's fake ones.
# Expect a few executions per second per core: every collection scans the
# fuzzer's own globals too (about 10 MB, mostly sanitizer_common's stack
# depot that libFuzzer links in), and most inputs collect several times.
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fsanitize-address-use-after-return=never"
common="-std=gnu11 -g -O1 -fno-omit-frame-pointer -pthread $san -Iinclude"
lib_flags="$common -fsanitize=fuzzer-no-link -fno-sanitize-coverage=trace-cmp -fvisibility=hidden -DGOGC_IMPL=1 -DGOGC_DEBUG=${FUZZ_DEBUG:-2} -DGOGC_INTERPOSE=1"
echo "fuzz.sh: building $out/fuzz_api with $cc"
# Objects are rebuilt when older than their source or any header, or when
# the flags changed.
stamp="$out/obj/flags"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$cc $lib_flags" ]; then rm -f "$out"/obj/*.o; fi
echo "$cc $lib_flags" >"$stamp"
# shellcheck disable=SC2012
newest_h=$(ls -t include/gogc.h src/*.h src/os/*.h 2>/dev/null | head -1)
objs=()
pairs=()
for src in src/*.c src/os/*.c; do
  obj="$out/obj/$(echo "${src%.c}" | tr / _).o"
  objs+=("$obj")
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_h" -nt "$obj" ]; then
    pairs+=("$src" "$obj")
  fi
done
if [ "${#pairs[@]}" -gt 0 ]; then
  printf '%s\n' "${pairs[@]}" | xargs -P 2 -n 2 sh -c "$cc $lib_flags -c \"\$0\" -o \"\$1\""
fi
# shellcheck disable=SC2086 # the flag strings are meant to split
"$cc" $common -fsanitize=fuzzer -fno-sanitize-coverage=trace-cmp -DGOGC_FUZZ_LIBFUZZER -Itests tests/fuzz_api.c "${objs[@]}" \
  -ldl -o "$out/fuzz_api"

export ASAN_OPTIONS="detect_leaks=0:detect_stack_use_after_return=0:abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export GODEBUG="${FUZZ_GODEBUG-gcverify=1,gccheckmark=1}"

# Run on a fresh copy of the corpus: new inputs go there, the seeds stay.
rm -rf "$out/corpus"
mkdir -p "$out/corpus"
cp tests/fuzz/corpus/* "$out/corpus/"
count() { find "$1" -type f | wc -l; }
n0=$(count "$out/corpus")
log="$out/fuzz.log"
echo "fuzz.sh: fuzzing for ${secs} s on $n0 inputs (GODEBUG=$GODEBUG), log in $log"
set +e
# shellcheck disable=SC2086
"$out/fuzz_api" -max_total_time="$secs" -max_len=1200 -timeout=60 -rss_limit_mb=4096 \
  -print_final_stats=1 -artifact_prefix="$out/artifacts/" ${FUZZ_ARGS:-} "$out/corpus" >"$log" 2>&1
rc=$?
set -e

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
n1=$(count "$out/corpus")
bytes=$(cat "$out/corpus"/* | wc -c)
echo "fuzz.sh: ${execs:-?} executions; last status: ${last:-none}"
echo "fuzz.sh: corpus: $n1 inputs ($((n1 - n0)) new), $bytes bytes"
if [ "$rc" -ne 0 ]; then
  echo "fuzz.sh: the fuzzer stopped with status $rc; the end of $log:" >&2
  tail -40 "$log" >&2
  ls -l "$out"/artifacts/ >&2 || true
  exit 1
fi

if [ "$merge" = 1 ]; then
  before=$(count tests/fuzz/corpus)
  # -use_counters=0: an input is kept for a new edge, not for a new hit
  # count on a known one (that kept ten times as many).
  "$out/fuzz_api" -merge=1 -use_counters=0 -max_len=1200 -timeout=60 tests/fuzz/corpus "$out/corpus" \
    >"$out/merge.log" 2>&1 || { tail -20 "$out/merge.log" >&2; exit 1; }
  after=$(count tests/fuzz/corpus)
  size=$(cat tests/fuzz/corpus/* | wc -c)
  echo "fuzz.sh: merged $((after - before)) inputs into tests/fuzz/corpus: $after inputs, $size bytes"
  [ "$size" -le $((2 * 1024 * 1024)) ] ||
    echo "fuzz.sh: warning: tests/fuzz/corpus is over 2 MB" >&2
fi

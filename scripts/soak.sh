#!/usr/bin/env bash
# Soak test, outside CI: the multi-threaded stress test (tests/test_threads)
# run again and again for a given time, with the heap verifier and
# checkmark on, alternating GOGC=10 / GOGC=100 and concurrent /
# stop-the-world marking (gcstoptheworld=0/1). Each run lasts
# SOAK_RUN_SECONDS (default 60; test_threads reads GOGC_TEST_SECONDS).
# Cycles and pauses are read from the gctrace lines on stderr.
#
# Any failure (a lost or corrupted object, a verifier or checkmark abort,
# a crash, a hang) stops the soak; that run's stdout and stderr are kept.
#
#   scripts/soak.sh [SECONDS] [--debug]
#     SECONDS   how long to soak (default 1800)
#     --debug   also build with internal assertions (GOGC_DEBUG=2, in
#               build/soak-debug) and alternate the two builds, round by
#               round
#
# Builds a Release tree in build/soak. Logs: build/soak/logs/.
# Prints a summary at the end: runs, cycles, longest pauses, objects
# verified, lost or corrupted objects (0 expected).
set -euo pipefail
cd "$(dirname "$0")/.."

duration=1800
debug=0
for arg in "$@"; do
  case $arg in
    --debug) debug=1 ;;
    '' | *[!0-9]*) echo "usage: $0 [SECONDS] [--debug]" >&2; exit 2 ;;
    *) duration=$arg ;;
  esac
done
run_len=${SOAK_RUN_SECONDS:-60}
jobs=${SOAK_JOBS:-2}

build() { # dir, cmake args...
  local dir=$1; shift
  echo "soak: building $dir" >&2
  cmake -S . -B "$dir" -DGOGC_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs" --target test_threads >/dev/null
}
builds=(build/soak)
build build/soak -DCMAKE_BUILD_TYPE=Release
if [ "$debug" = 1 ]; then
  build build/soak-debug -DCMAKE_BUILD_TYPE=Release -DGOGC_DEBUG=2
  builds+=(build/soak-debug)
fi
logs=build/soak/logs
rm -rf "$logs" && mkdir -p "$logs"

# GOGC, gcstoptheworld
configs=("10 0" "100 0" "10 1" "100 1")

runs=0 cycles=0 nodes=0 graphs=0 threads=0 mib=0
max_pause=0 max_pause_where="" max_stop=0
declare -A cfg_runs cfg_cycles cfg_pause
start=$(date +%s)
end=$((start + duration))

# The pauses of a run, one per line, from its gctrace lines ("gc N @T P%:
# a+b+c ms clock, ..."): concurrent, the longer of the cycle's two pauses
# (a: sweep termination, c: mark termination); stop-the-world, the whole
# cycle (a+b+c).
pauses_of() { # stderr file, stw
  awk -v stw="$2" '
    $1 == "gc" && $3 ~ /^@/ && $6 == "ms" && $7 == "clock," {
      split($5, t, "+")
      print stw ? t[1] + t[2] + t[3] : (t[1] > t[3] ? t[1] : t[3])
    }' "$1"
}
max_of() { sort -g "$1" | tail -1 | awk '{ printf "%g\n", $1 + 0 }'; }
# "median M ms, 99th percentile P ms" of a file of numbers
dist_of() {
  sort -g "$1" | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "no pauses"; exit }
    m = v[int((NR + 1) / 2)]; i = int(NR * 0.99); if (i < 1) i = 1
    printf "median %g ms, 99th percentile %g ms", m, v[i] }'
}
stop_of() { # longest single-thread stop (gctrace=2, concurrent mode)
  awk '/longest single-thread stop/ { for (i = 1; i <= NF; i++) if ($i == "stop") { v = $(i + 1); if (v > m) m = v } }
       END { printf "%g\n", m + 0 }' "$1"
}
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }

summary() { # lost objects (text)
  local lost_text=$1 now elapsed
  now=$(date +%s)
  elapsed=$((now - start))
  echo "soak summary: ${elapsed} s, $runs runs of test_threads (${run_len} s each), GODEBUG=gcverify=1,gccheckmark=1"
  for c in "${configs[@]}"; do
    # shellcheck disable=SC2086  # two words: GOGC, gcstoptheworld
    set -- $c
    local key="GOGC=$1 gcstoptheworld=$2" f="$logs/pauses-$1-$2"
    [ -e "$f" ] || : >"$f"
    echo "  $key: ${cfg_runs[$key]:-0} runs, ${cfg_cycles[$key]:-0} cycles, pauses: $(dist_of "$f"), longest ${cfg_pause[$key]:-0} ms"
  done
  echo "  total cycles: $cycles (from the gctrace lines)"
  echo "  longest pause: $max_pause ms ($max_pause_where; the verifier and checkmark run inside the mark-termination pause)"
  echo "  longest single-thread stop (concurrent mark): $max_stop ms"
  echo "  threads started: $threads; allocated: $mib MiB; graphs verified: $graphs; nodes verified: $nodes"
  echo "  lost or corrupted objects: $lost_text"
}

while :; do
  now=$(date +%s)
  left=$((end - now))
  [ "$left" -ge 5 ] || break
  secs=$run_len
  [ "$secs" -le "$((left - 2))" ] || secs=$((left - 2))
  # shellcheck disable=SC2086
  set -- ${configs[$((runs % ${#configs[@]}))]}
  gogc=$1 stw=$2
  key="GOGC=$gogc gcstoptheworld=$stw"
  bdir=${builds[$(((runs / ${#configs[@]}) % ${#builds[@]}))]}
  out=$logs/run-$((runs + 1)).out
  err=$logs/run-$((runs + 1)).err
  st=0
  env GOGC="$gogc" GODEBUG="gcverify=1,gccheckmark=1,gcstoptheworld=$stw,gctrace=2" \
    GOGC_TEST_SECONDS="$secs" timeout -k 10 $((secs * 3 + 120)) "$bdir/tests/test_threads" \
    >"$out" 2>"$err" || st=$?

  n=$(grep -c '^gc [0-9]* @' "$err" || true)
  pauses_of "$err" "$stw" >"$logs/run.pauses"
  cat "$logs/run.pauses" >>"$logs/pauses-$gogc-$stw"
  p=$(max_of "$logs/run.pauses")
  s=$(stop_of "$err")
  # "12.0 s: I iterations, B graphs built, G graphs / N nodes verified, T threads started, ..."
  read -r g nd th < <(sed -n 's/.* \([0-9]*\) graphs \/ \([0-9]*\) nodes verified, \([0-9]*\) threads started.*/\1 \2 \3/p' "$out" | head -1) || true
  mb=$(sed -n 's/^allocated \([0-9]*\) MiB.*/\1/p' "$out" | head -1)
  failed=$(sed -n 's/^[0-9]* passed, \([0-9]*\) failed$/\1/p' "$out" | tail -1)
  # CHECK lines naming lost or corrupted objects: "... N lost or corrupted objects ..."
  lost=$({ grep -o '[0-9]* lost or corrupted objects' "$err" || true; } | awk '{ s += $1 } END { print s + 0 }')

  runs=$((runs + 1))
  cycles=$((cycles + n))
  nodes=$((nodes + ${nd:-0}))
  graphs=$((graphs + ${g:-0}))
  threads=$((threads + ${th:-0}))
  mib=$((mib + ${mb:-0}))
  cfg_runs[$key]=$((${cfg_runs[$key]:-0} + 1))
  cfg_cycles[$key]=$((${cfg_cycles[$key]:-0} + n))
  gt "$p" "${cfg_pause[$key]:-0}" && cfg_pause[$key]=$p
  if gt "$p" "$max_pause"; then max_pause=$p; max_pause_where="$key, run $runs"; fi
  gt "$s" "$max_stop" && max_stop=$s

  if [ "$st" -ne 0 ] || [ "${failed:-x}" != 0 ]; then
    why="exit status $st"
    [ "$st" -eq 124 ] || [ "$st" -eq 137 ] && why="timed out (a hang?)"
    [ "$st" -gt 128 ] && [ "$st" -ne 137 ] && why="killed by signal $((st - 128))"
    echo "soak: run $runs FAILED ($key, $bdir): $why, ${failed:-no} failed checks"
    echo "soak: output kept in $out and $err; last lines of stderr:"
    grep -v '^gc [0-9]' "$err" | tail -20 | sed 's/^/    /'
    summary "$lost (run $runs failed)"
    exit 1
  fi
  echo "soak: run $runs ok: $key, ${secs} s, $n cycles, longest pause $p ms, ${nd:-0} nodes verified ($((end - $(date +%s))) s left)"
  rm -f "$out" "$err"
done

summary 0
rm -rf "$logs"

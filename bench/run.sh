#!/usr/bin/env bash
# Build and run the gogc benchmark suite. See bench/README.md.
#
#   bench/run.sh [--quick] [--runs N] [--only NAME[,NAME]] [--impls LIST] ...
#   bench/run.sh --help
#
# 1. installs the peers with apt-get when absent (libgc-dev, golang-go),
# 2. builds libgogc.a (CMake, Release) into bench/out/build,
# 3. builds every benchmark for gogc, Boehm, malloc and Go into bench/out/bin,
# 4. runs them through bench/report.py (medians, tables, bench/out/results.md).
set -u

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")
OUT="$BENCH/out"
BIN="$OUT/bin"
LOGS="$OUT/logs"
CFLAGS=${BENCH_CFLAGS:-"-O2 -g -std=gnu11 -Wall -Wextra"}

# Validate the options before spending minutes on installs and builds.
python3 "$BENCH/report.py" --parse-only "$@" || exit 2
for a in "$@"; do
  case "$a" in -h|--help) exit 0 ;; esac
done

mkdir -p "$BIN" "$LOGS"
rm -f "$BIN"/SKIP-* "$BIN"/*-gogc "$BIN"/*-boehm "$BIN"/*-malloc "$BIN"/*-go

# Log file for one step; keeps the console short.
log() { echo "$LOGS/$1.log"; }

# --- 1. peers ---------------------------------------------------------------
apt_updated=0
apt_install() { # package...
  if [ "$(id -u)" != 0 ]; then
    echo "bench: not root, cannot apt-get install $*" >&2
    return 1
  fi
  if [ $apt_updated = 0 ]; then
    apt-get update -qq >"$(log apt-update)" 2>&1
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" \
    >"$(log "apt-$1")" 2>&1
}

if [ -f /usr/include/gc.h ] && dpkg-query -W libgc-dev >/dev/null 2>&1; then
  echo "bench: libgc-dev (Boehm GC) present"
else
  echo "bench: libgc-dev (Boehm GC) absent: installing it with apt-get"
  if apt_install libgc-dev; then
    echo "bench: libgc-dev installed"
  else
    echo "bench: libgc-dev install FAILED (see $(log apt-libgc-dev)); Boehm columns skipped"
  fi
fi

if command -v go >/dev/null 2>&1; then
  echo "bench: Go present ($(go version | cut -d' ' -f3))"
else
  echo "bench: golang-go absent: installing it with apt-get"
  if apt_install golang-go && command -v go >/dev/null 2>&1; then
    echo "bench: golang-go installed ($(go version | cut -d' ' -f3))"
  else
    echo "bench: golang-go install FAILED (see $(log apt-golang-go)); Go columns skipped"
  fi
fi

# --- 2. libgogc.a -------------------------------------------------------------
GOGC_LIB=""
echo "bench: building libgogc.a (CMake Release) in ${OUT#$ROOT/}/build"
if cmake -S "$ROOT" -B "$OUT/build" -DCMAKE_BUILD_TYPE=Release \
     -DGOGC_BUILD_TESTS=OFF -DGOGC_BUILD_EXAMPLES=OFF -DGOGC_BUILD_BENCH=OFF \
     >"$(log gogc-cmake)" 2>&1 &&
   cmake --build "$OUT/build" --target gogc_static -j "$(nproc)" \
     >"$(log gogc-build)" 2>&1; then
  GOGC_LIB=$(find "$OUT/build" -name libgogc.a -print -quit)
fi
if [ -n "$GOGC_LIB" ]; then
  echo "bench: libgogc.a built"
else
  echo "bench: libgogc.a did NOT build (see $(log gogc-cmake), $(log gogc-build)); gogc columns skipped"
  echo "library did not build" >"$BIN/SKIP-gogc"
fi

# --- 3. programs ------------------------------------------------------------
build_failed=0
cc_build() { # impl program
  local impl=$1 prog=$2 src="$BENCH/$2.c" exe="$BIN/$2-$1"
  local lg
  lg=$(log "build-$prog-$impl")
  case $impl in
    gogc)
      # Compile first (checks the program against include/gogc.h even when
      # the library is not there), then link against libgogc.a.
      gcc $CFLAGS -DIMPL_GOGC -I"$ROOT/include" -c "$src" -o "$OUT/$prog-gogc.o" >"$lg" 2>&1 ||
        { echo "bench: $prog (gogc) does not compile, see $lg"; build_failed=1; return; }
      [ -n "$GOGC_LIB" ] || return
      if ! gcc $CFLAGS "$OUT/$prog-gogc.o" -o "$exe" "$GOGC_LIB" -lpthread -ldl >"$lg" 2>&1; then
        echo "bench: $prog (gogc) does not link against libgogc.a: $(grep -m1 -o 'undefined reference to .*' "$lg" || tail -n1 "$lg") (see $lg)"
        build_failed=1
      fi
      return ;;
    boehm)  gcc $CFLAGS -DIMPL_BOEHM "$src" -o "$exe" -lgc -lpthread >"$lg" 2>&1 ;;
    malloc) gcc $CFLAGS -DIMPL_MALLOC "$src" -o "$exe" -lpthread >"$lg" 2>&1 ;;
  esac || { echo "bench: building $prog ($impl) FAILED, see $lg"; build_failed=1; }
}

have_boehm=0
[ -f /usr/include/gc.h ] && have_boehm=1
[ $have_boehm = 1 ] || echo "Boehm GC (libgc-dev) not installed" >"$BIN/SKIP-boehm"
have_go=0
command -v go >/dev/null 2>&1 && have_go=1
[ $have_go = 1 ] || echo "Go not installed" >"$BIN/SKIP-go"

echo "bench: building benchmark programs into ${BIN#$ROOT/}"
for prog in binarytrees gcbench latency final pool arena; do
  cc_build gogc "$prog"
  [ $have_boehm = 1 ] && cc_build boehm "$prog"
  [ $prog = final ] && continue # collectors only; Go 1.19 has no weak pointers
  cc_build malloc "$prog"
  [ $prog = arena ] && continue # Go's arenas are an experiment Go 1.19 lacks
  if [ $have_go = 1 ]; then
    lg=$(log "build-$prog-go")
    (cd "$BENCH/go" && GO111MODULE=off GOCACHE="$OUT/gocache" GOPATH="$OUT/gopath" \
       go build -o "$BIN/$prog-go" "$prog.go" result.go) >"$lg" 2>&1 ||
      { echo "bench: building $prog (go) FAILED, see $lg"; build_failed=1; }
  fi
done

# --- 4. run -----------------------------------------------------------------
python3 "$BENCH/report.py" --bin "$BIN" --out "$OUT" "$@"
rc=$?
[ $build_failed = 0 ] || rc=1
exit $rc

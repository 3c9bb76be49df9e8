#!/usr/bin/env bash
# The trace report in a real headless browser (Debian's chromium): a trace
# of the demo, its report, the DOM as chromium sees it (every plot has its
# series and bars) and a screenshot. Outside CI: chromium is large. It is
# installed with apt-get when missing (and the script says so).
#
#   scripts/report_browser_test.sh [OUT_DIR]     default build/report
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/report}
mkdir -p "$out"
if ! command -v chromium >/dev/null 2>&1; then
  echo "report_browser_test: chromium absent: installing it with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release --target demo -j"$(nproc)" >/dev/null
GOGC_TRACE="$out/trace.json" GODEBUG=gctrace=1 build/release/examples/demo >/dev/null 2>"$out/gctrace.txt"
python3 scripts/trace_report.py "$out/trace.json" -o "$out/report.html"
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=960,1500)
chromium "${flags[@]}" --dump-dom "file://$PWD/$out/report.html" >"$out/dom.html" 2>"$out/chromium.log"
chromium "${flags[@]}" --screenshot="$PWD/$out/report.png" "file://$PWD/$out/report.html" \
  >>"$out/chromium.log" 2>&1
cycles=$(grep -c '^gc [0-9]' "$out/gctrace.txt")
plots=$(grep -c '<svg class="plot"' "$out/dom.html")
series=$(grep -c '<polyline class="series"' "$out/dom.html")
bars=$(grep -c 'class="bar"' "$out/dom.html")
size=$(stat -c %s "$out/report.png")
echo "chromium: $plots plots, $series series, $bars bars for $cycles cycles; screenshot $size bytes"
[ "$plots" -eq 4 ] && [ "$series" -ge 5 ] && [ "$bars" -ge $((2 * cycles)) ] && [ "$size" -gt 20000 ] ||
  { echo "report_browser_test: FAILED (see $out)"; exit 1; }
if grep -qi "uncaught\|error.*report.html" "$out/chromium.log"; then
  echo "report_browser_test: errors in the page (see $out/chromium.log)"
  exit 1
fi
echo "report_browser_test: ok ($out/report.png)"

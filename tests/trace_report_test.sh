#!/usr/bin/env bash
# The trace of a real run (the demo, with GOGC_TRACE) turned into the HTML
# report: every plot has data and the cycle table has every cycle.
#   tests/trace_report_test.sh DEMO_BINARY
set -euo pipefail
demo=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
GOGC_TRACE="$dir/trace.json" GODEBUG=gctrace=1 "$demo" >/dev/null 2>"$dir/stderr"
cycles=$(grep -c '^gc [0-9]' "$dir/stderr")
python3 "$(dirname "$0")/../scripts/trace_report.py" "$dir/trace.json" -o "$dir/report.html"
svgs=$(grep -c '<svg class="plot"' "$dir/report.html")
lines=$(grep -c '<polyline class="series"' "$dir/report.html")
bars=$(grep -c 'class="bar"' "$dir/report.html")
rows=$(($(grep -c '<tr><td>' "$dir/report.html")))
echo "cycles $cycles, plots $svgs, series $lines, bars $bars, table rows $rows"
[ "$svgs" -eq 4 ] || { echo "FAIL: expected 4 plots"; exit 1; }
[ "$lines" -ge 5 ] || { echo "FAIL: expected 5 series with data (heap x4, GC CPU)"; exit 1; }
[ "$bars" -ge $((2 * cycles)) ] || { echo "FAIL: expected at least 2 pause bars per cycle"; exit 1; }
[ "$rows" -eq "$cycles" ] || { echo "FAIL: $rows table rows for $cycles cycles"; exit 1; }
echo "ok"

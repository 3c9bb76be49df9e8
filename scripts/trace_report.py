#!/usr/bin/env python3
"""Turn a gogc trace (GOGC_TRACE=file, Chrome trace-event JSON) into one
self-contained HTML page with plots, readable offline:

  - heap over time: live, goal, memory held, RSS (MiB), and the memory limit;
  - stop-the-world pauses: a timeline and a histogram;
  - GC CPU over time (share of the process's CPUs since start);
  - a table of cycles: start, length, pauses, heap at the end.

    scripts/trace_report.py TRACE.json [-o REPORT.html]

Plain SVG, no script and no outside resource. A trace cut short (no
closing bracket) is read as far as it goes.
"""

import argparse
import html
import json
import math
import sys

W, H, PAD = 900, 260, 48
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]


def load(path):
    text = open(path).read().strip()
    if not text.endswith("]"):
        text = text.rstrip(",") + "]"
    return json.loads(text)


def axis(x0, x1, y0, y1, xlabel, ylabel):
    out = ['<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444"/>' % (PAD, H - PAD, W - 10, H - PAD),
           '<line x1="%d" y1="10" x2="%d" y2="%d" stroke="#444"/>' % (PAD, PAD, H - PAD)]
    for i in range(5):
        fx = x0 + (x1 - x0) * i / 4
        px = PAD + (W - PAD - 10) * i / 4
        out.append('<text x="%.0f" y="%d" font-size="11" text-anchor="middle">%.3g</text>' %
                   (px, H - PAD + 16, fx))
        fy = y0 + (y1 - y0) * i / 4
        py = H - PAD - (H - PAD - 10) * i / 4
        out.append('<text x="%d" y="%.0f" font-size="11" text-anchor="end">%.3g</text>' %
                   (PAD - 4, py + 4, fy))
    out.append('<text x="%d" y="%d" font-size="12" text-anchor="middle">%s</text>' %
               ((W + PAD) // 2, H - 10, html.escape(xlabel)))
    out.append('<text x="12" y="%d" font-size="12" transform="rotate(-90 12 %d)" '
               'text-anchor="middle">%s</text>' % (H // 2, H // 2, html.escape(ylabel)))
    return out


def scale(v, lo, hi, plo, phi):
    return plo + (phi - plo) * ((v - lo) / (hi - lo) if hi > lo else 0.5)


def line_chart(title, series, xlabel, ylabel):
    """series: [(name, [(x, y), ...])]"""
    pts = [p for _, s in series for p in s]
    if not pts:
        return "<h2>%s</h2><p>No data in the trace.</p>" % html.escape(title)
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y1 = max(p[1] for p in pts) * 1.05 or 1
    out = ['<h2>%s</h2><svg class="plot" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg">' %
           (html.escape(title), W, H)]
    out += axis(x0, x1, 0, y1, xlabel, ylabel)
    for i, (name, s) in enumerate(series):
        if not s:
            continue
        path = " ".join("%.1f,%.1f" % (scale(x, x0, x1, PAD, W - 10), scale(y, 0, y1, H - PAD, 10))
                        for x, y in s)
        c = COLORS[i % len(COLORS)]
        out.append('<polyline class="series" fill="none" stroke="%s" stroke-width="1.5" '
                   'points="%s"/>' % (c, path))
        out.append('<text x="%d" y="%d" font-size="12" fill="%s">%s</text>' %
                   (PAD + 10 + 130 * i, 22, c, html.escape(name)))
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(title, bars, xlabel, ylabel, labels=None):
    """bars: [(x, height)]; labels: text under each bar (histogram)."""
    if not bars:
        return "<h2>%s</h2><p>No data in the trace.</p>" % html.escape(title)
    out = ['<h2>%s</h2><svg class="plot" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg">' %
           (html.escape(title), W, H)]
    y1 = max(b[1] for b in bars) * 1.05 or 1
    if labels is None:
        x0, x1 = min(b[0] for b in bars), max(b[0] for b in bars)
        out += axis(x0, x1, 0, y1, xlabel, ylabel)
        for x, y in bars:
            px = scale(x, x0, x1, PAD, W - 10)
            out.append('<line class="bar" x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="%s" '
                       'stroke-width="2"/>' % (px, H - PAD, px, scale(y, 0, y1, H - PAD, 10), COLORS[3]))
    else:
        out += axis(0, len(bars), 0, y1, xlabel, ylabel)[:2]
        bw = (W - PAD - 10) / len(bars)
        for i, (_, y) in enumerate(bars):
            top = scale(y, 0, y1, H - PAD, 10)
            out.append('<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>' %
                       (PAD + i * bw + 2, top, bw - 4, H - PAD - top, COLORS[0]))
            out.append('<text x="%.1f" y="%d" font-size="10" text-anchor="middle">%s</text>' %
                       (PAD + (i + 0.5) * bw, H - PAD + 14, html.escape(labels[i])))
            out.append('<text x="%.1f" y="%.1f" font-size="10" text-anchor="middle">%d</text>' %
                       (PAD + (i + 0.5) * bw, top - 3, y))
        out.append('<text x="%d" y="%d" font-size="12" text-anchor="middle">%s</text>' %
                   ((W + PAD) // 2, H - 10, html.escape(xlabel)))
    out.append("</svg>")
    return "\n".join(out)


def report(events, source):
    heap = {"live": [], "goal": [], "held": [], "RSS": []}
    limit, cpu, pauses, cycles = [], [], [], {}
    for e in events:
        name, ph = e.get("name", ""), e.get("ph")
        t = e.get("ts", 0) / 1e6
        if ph == "C" and name == "heap MiB":
            for k in heap:
                if k in e.get("args", {}):
                    heap[k].append((t, e["args"][k]))
        elif ph == "C" and name == "memory limit MiB":
            limit.append((t, e["args"]["limit"]))
        elif ph == "C" and name == "GC CPU %":
            cpu.append((t, e["args"]["gc"]))
        elif ph == "X" and name.startswith("STW"):
            pauses.append((t, e.get("dur", 0) / 1000.0, name, e["args"]["cycle"]))
        elif ph == "X" and name.startswith("GC "):
            cycles[e["args"]["cycle"]] = {"start": t, "dur": e.get("dur", 0) / 1000.0}
    for t, d, name, c in pauses:
        cy = cycles.setdefault(c, {"start": t, "dur": 0})
        cy.setdefault("pauses", []).append(d)
    last_live = {}
    for t, v in heap["live"]:
        for c, cy in cycles.items():
            if abs(cy["start"] + cy["dur"] / 1000.0 - t) < 1e-3:
                last_live[c] = v
    series = [(k, v) for k, v in heap.items()] + ([("limit", limit)] if limit else [])
    parts = [line_chart("Heap over time", series, "seconds", "MiB")]
    parts.append(bar_chart("Stop-the-world pauses (timeline)", [(t, d) for t, d, _, _ in pauses],
                           "seconds", "ms"))
    edges = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 1e9]
    counts = [0] * len(edges)
    for _, d, _, _ in pauses:
        for i, e in enumerate(edges):
            if d <= e:
                counts[i] += 1
                break
    labels = ["<=%gms" % e if e < 1e9 else ">10ms" for e in edges]
    parts.append(bar_chart("Pause histogram", list(enumerate(counts)), "pause length", "pauses",
                           labels))
    parts.append(line_chart("GC CPU over time", [("GC CPU %", cpu)], "seconds", "% of CPUs"))
    rows = []
    for c in sorted(cycles):
        cy = cycles[c]
        ps = cy.get("pauses", [])
        rows.append("<tr><td>%d</td><td>%.3f</td><td>%.2f</td><td>%d</td><td>%.3f</td>"
                    "<td>%.3f</td><td>%s</td></tr>" %
                    (c, cy["start"], cy["dur"], len(ps), sum(ps), max(ps) if ps else 0,
                     "%.1f" % last_live[c] if c in last_live else "-"))
    parts.append("<h2>Cycles</h2><table><tr><th>cycle</th><th>start s</th><th>length ms</th>"
                 "<th>pauses</th><th>pause total ms</th><th>longest pause ms</th>"
                 "<th>live MiB after</th></tr>%s</table>" % "\n".join(rows))
    total = sum(d for _, d, _, _ in pauses)
    summary = ("<p>%d cycles, %d pauses (total %.3f ms, longest %.3f ms), from <code>%s</code>.</p>" %
               (len(cycles), len(pauses), total, max([d for _, d, _, _ in pauses] or [0]),
                html.escape(source)))
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>gogc trace report</title>"
            "<style>body{font-family:sans-serif;margin:20px}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}</style></head><body>"
            "<h1>gogc trace report</h1>%s%s</body></html>\n" % (summary, "\n".join(parts)))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("trace")
    p.add_argument("-o", "--output", default="-")
    a = p.parse_args()
    try:
        events = load(a.trace)
    except (OSError, ValueError) as e:
        print("trace_report: cannot read %s: %s" % (a.trace, e), file=sys.stderr)
        return 1
    page = report(events, a.trace)
    if a.output == "-":
        sys.stdout.write(page)
    else:
        with open(a.output, "w") as f:
            f.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())

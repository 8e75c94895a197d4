"""The performance table as Markdown: per cell, the figures at the headline size (the README's table)."""

from __future__ import annotations

from vkzc.bench.figures import SHORT_FLAGS, Ratios, short_variant
from vkzc.bench.table import duration, fraction, rate, speedup
from vkzc.conformance.ids import size_id
from vkzc.report.perf import PerfCell, PerfChange, Performance

HEADER = ["kind", "path", "memory", "size", "median", "throughput", "× memcpy", "× ceiling", "speed-up"]
LEGEND = (
    "Medians of warm rounds, GPU work waited on inside each round. Ratios come from the same run: "
    "× memcpy is the throughput as a fraction of the CPU's memcpy at the same size; × ceiling a "
    "fraction of memset (upload) or of a plain read (readback) on an ordinary array, timed between "
    "the path's own rounds; speed-up is over the staged path (over a fresh import, for a cached "
    "one). Memory types: " + ", ".join(f"{short} {flag}" for flag, short in SHORT_FLAGS.items()) + "."
)
_MARKS = {True: "✓", False: "✗", None: "?"}


def render_performance_markdown(performance: Performance) -> list[str]:
    lines = ["", "### Performance", "", LEGEND]
    for cell in performance.cells:
        lines += ["", _heading(cell), ""]
        lines += _table(HEADER, [_row(r) for r in cell.headline()])
        if cell.targets:
            size = size_id(cell.size) if cell.size else ""
            lines += [
                "",
                f"Targets at {size}: "
                + "; ".join(f"{_MARKS[t.met]} {t.name} ({t.detail})" for t in cell.targets),
            ]
    if performance.compared:
        lines += ["", f"### Performance changes (median beyond ±{performance.threshold:.0%})", ""]
        changes = [("slower", c) for c in performance.slower] + [("faster", c) for c in performance.faster]
        lines += [_change(word, c) for word, c in changes] or ["No median moved beyond the threshold."]
    return lines


def _heading(cell: PerfCell) -> str:
    run, m = cell.run, cell.run.machine
    driver = " ".join(x for x in (m.driver, m.mesa_version or m.driver_version) if x)
    return (
        f"`{cell.identifier}` — {m.device} · {driver} · {run.datetime[:16].replace('T', ' ')} UTC · "
        f"{m.cpus} CPUs, load {run.load_before[0]:.2f} → {run.load_after[0]:.2f}"
    )


def _row(r: Ratios) -> list[str]:
    f = r.figure
    throughput = "" if f.group == "import" else rate(f.bytes_per_s) + ("~" if f.noisy else "")
    return [
        f.group,
        f.path,
        short_variant(f.variant),
        size_id(f.size),
        duration(f.median_s),
        throughput,
        fraction(r.of_memcpy) if r.of_memcpy is not None else "",
        fraction(r.of_ceiling) if r.of_ceiling is not None else "",
        speedup(r.speedup) if r.speedup is not None else "",
    ]


def _change(word: str, change: PerfChange) -> str:
    return (
        f"- {word}: `{change.cell}` {_escape(change.label)}: {duration(change.old.median_s)} → "
        f"{duration(change.new.median_s)} ({change.change:+.0%})"
    )


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(_escape(cell) for cell in cells) + " |"

    return [line(header), "|" + "---|" * len(header), *(line(row) for row in rows)]


def _escape(text: str) -> str:
    # Memory-type labels hold `|`, which ends a cell in GitHub's tables even inside backticks.
    return text.replace("|", "\\|")

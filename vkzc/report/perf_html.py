"""The performance section of the HTML report: every figure of every cell, sortable and filterable.

It uses the page's own table markup and classes (html.py), so the page's script sorts it and its
driver and path filters hide its rows like the other tables' rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from vkzc.bench.figures import Ratios, short_variant
from vkzc.bench.table import duration, fraction, rate, speedup
from vkzc.conformance.ids import size_id
from vkzc.report.perf import PerfCell, Performance
from vkzc.report.perf_markdown import LEGEND

_HEAD = (
    "cell",
    "driver",
    "",
    "path",
    "memory",
    "size",
    "median",
    "throughput",
    "× memcpy",
    "× ceiling",
    "speed-up",
)
_MARK_CLASS = {True: "pass", False: "fail", None: "known"}
_MARKS = {True: "✓", False: "✗", None: "?"}


def render_performance_html(performance: Performance, drivers: Mapping[str, str]) -> str:
    """`drivers` names each cell's driver as the compatibility table does (the matrix's driver id)."""
    head = "".join(f'<th><button type="button">{escape(name)}</button></th>' for name in _HEAD)
    rows = [
        _row(cell, r, drivers.get(cell.identifier) or cell.run.machine.driver or "")
        for cell in performance.cells
        for r in cell.rows
    ]
    parts = [
        "<section><h2>Performance</h2>",
        f'<p class="note">{escape(LEGEND)}</p>',
        "<ul>" + "".join(_about(cell) for cell in performance.cells) + "</ul>",
        f'<div class="scroll"><table id="performance"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>",
        _changes(performance),
        "</section>",
    ]
    return "".join(parts)


def _about(cell: PerfCell) -> str:
    run, m = cell.run, cell.run.machine
    driver = " ".join(x for x in (m.driver, m.mesa_version or m.driver_version) if x)
    targets = "".join(
        f'<li class="{_MARK_CLASS[t.met]}">{_MARKS[t.met]} {escape(t.name)}: {escape(t.detail)}</li>'
        for t in cell.targets
    )
    at = f" at {size_id(cell.size)}" if cell.size else ""
    return (
        f"<li><code>{escape(cell.identifier)}</code> — {escape(m.device)} · {escape(driver)} · "
        f"{escape(run.datetime[:16].replace('T', ' '))} UTC · {m.cpus} CPUs, load "
        f"{run.load_before[0]:.2f} → {run.load_after[0]:.2f}"
        + (f'<br>targets{at}:<ul class="problems">{targets}</ul>' if targets else "")
        + "</li>"
    )


def _row(cell: PerfCell, r: Ratios, driver: str) -> str:
    f = r.figure
    transfer = f.group != "import"

    def number(text: str, value: float | None) -> str:
        if value is None:
            return '<td class="num none" data-sort="-1"></td>'
        return f'<td class="num" data-sort="{value:.6g}">{escape(text)}</td>'

    cells = [
        f'<td class="id">{escape(cell.identifier)}</td>',
        f"<td>{escape(driver)}</td>",
        f"<td>{escape(f.group)}</td>",
        f"<td>{escape(f.path)}</td>",
        f'<td title="{escape(f.variant)}">{escape(short_variant(f.variant))}</td>',
        number(size_id(f.size), f.size),
        number(duration(f.median_s), f.median_s),
        number(rate(f.bytes_per_s) + ("~" if f.noisy else ""), f.bytes_per_s if transfer else None),
        number(fraction(r.of_memcpy), r.of_memcpy),
        number(fraction(r.of_ceiling), r.of_ceiling),
        number(speedup(r.speedup), r.speedup),
    ]
    return (
        f'<tr class="filterable" data-driver="{escape(driver)}" data-path="{escape(f.path)}">'
        + "".join(cells)
        + "</tr>"
    )


def _changes(performance: Performance) -> str:
    if not performance.compared:
        return ""
    items = [("fail", "slower", c) for c in performance.slower] + [
        ("pass", "faster", c) for c in performance.faster
    ]
    title = f"<h3>Changes: medians beyond ±{performance.threshold:.0%}</h3>"
    if not items:
        return title + "<p>No median moved beyond the threshold.</p>"
    return (
        title
        + '<ul class="problems">'
        + "".join(
            f'<li class="{kind}">{word}: <code>{escape(c.cell)}</code> {escape(c.label)}: '
            f"{duration(c.old.median_s)} → {duration(c.new.median_s)} ({c.change:+.0%})</li>"
            for kind, word, c in items
        )
        + "</ul>"
    )

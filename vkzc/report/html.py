"""The report as one static, self-contained HTML page: sortable, filterable, readable on a phone.

Every table is rendered here, in Python, with all text escaped; the inline script only sorts and
hides rows, so the page reads the same with scripts off, just without the filters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape

from vkzc import __version__
from vkzc.report.assets import CSS, JS
from vkzc.report.compare import Change
from vkzc.report.model import FAILED, KNOWN, MARKS, NOT_RUN, PASSED, CellRow, Column, Entry, Report, plural
from vkzc.report.perf_html import render_performance_html
from vkzc.results.model import Status

_MARK_CLASS = {PASSED: "pass", FAILED: "fail", KNOWN: "known", NOT_RUN: "none"}
_STATE_CLASS = {"verified": "pass", "failed": "fail", "mismatch": "fail", "untested": "known"}


def render_html(report: Report) -> str:
    verdict = "every cell green" if report.green else "some cells need a look"
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>vkzc — zero-copy into Vulkan, verified</title>",
        f"<style>{CSS}</style></head><body>",
        "<header><h1>vkzc — which zero-copy paths into Vulkan work</h1>",
        f'<p class="meta">{plural(len(report.rows), "cell")} · {verdict} · vkzc {escape(__version__)}</p>',
        "</header>",
        _filters(report),
        "<section><h2>Compatibility</h2>",
        _compat(report),
        '<p class="legend">' + " · ".join(f"{m} {escape(t)}" for m, t in MARKS.items()) + "</p></section>",
        "<section><h2>Advertised vs verified</h2>",
        '<p class="note">What <code>vkzc probe</code> saw the device advertise, beside the path that '
        "checks it with data.</p>",
        _capabilities(report),
        "</section>",
        "<section><h2>By driver, path, format, modifier and exporter</h2>",
        _features(report),
        "</section>",
        render_performance_html(report.performance, {row.identifier: row.driver for row in report.rows})
        if report.performance
        else "",
        _problems(report),
        _comparison(report),
        f"<script>{JS}</script></body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def _filters(report: Report) -> str:
    def select(ident: str, label: str, values: Iterable[str]) -> str:
        options = "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in sorted(set(values)))
        return f'<label>{label}<select id="{ident}"><option value="">all</option>{options}</select></label>'

    return (
        '<form class="filters" onsubmit="return false">'
        + select("f-driver", "driver", (row.driver for row in report.rows))
        + select("f-path", "path", (c.path for c in report.columns))
        + select("f-feature", "format", (c.feature for c in report.columns if c.feature))
        + '<label>search<input id="f-text" type="search" placeholder="cell, device, case…"></label>'
        + '<output id="shown" class="meta"></output></form>'
    )


def _row_attributes(row: CellRow) -> str:
    paths = sorted({c.path for c, _ in row.entries})
    features = sorted({c.feature for c, _ in row.entries if c.feature})
    return (
        f'class="filterable" data-driver="{escape(row.driver)}" '
        f'data-paths="{escape(json.dumps(paths))}" data-features="{escape(json.dumps(features))}"'
    )


def _compat(report: Report) -> str:
    identity = ["cell", "driver", "Mesa", "device", "runner", "verdict"]
    head = [f"<th>{_sortable(name)}</th>" for name in identity] + [
        f"<th {_column_attributes(c)}>{_sortable(_breakable(c.label))}</th>" for c in report.main_columns
    ]
    rows = []
    for row in report.rows:
        cells = [
            f'<td class="id">{_breakable(row.identifier)}</td>',
            f"<td>{escape(row.driver)}</td>",
            f"<td>{escape(row.mesa_version)}</td>",
            f"<td>{escape(row.device)}</td>",
            f"<td>{escape(row.runner)}</td>",
            f'<td class="verdict {"pass" if row.green else "fail"}">{"✓" if row.green else "✗"}</td>',
        ]
        cells += [_entry_cell(row.entry(c), _column_attributes(c)) for c in report.main_columns]
        rows.append(f"<tr {_row_attributes(row)}>{''.join(cells)}</tr>")
    return _table("compat", head, rows)


def _column_attributes(column: Column) -> str:
    feature = f' data-col-feature="{escape(column.feature)}"' if column.feature else ""
    return f'data-col-path="{escape(column.path)}"{feature}'


def _entry_cell(entry: Entry | None, attributes: str) -> str:
    if entry is None:
        return f'<td class="num none" data-sort="-2" {attributes}></td>'
    executed = entry.counts.executed
    ratio = entry.counts.passed / executed if executed else -1
    return (
        f'<td class="num {_MARK_CLASS[entry.mark]}" data-sort="{ratio:.4f}" {attributes}>'
        f"{escape(entry.text)}</td>"
    )


def _capabilities(report: Report) -> str:
    labels = [cap.label for cap in report.rows[0].capabilities] if report.rows else []
    head = [f"<th>{_sortable('cell')}</th>"] + [
        f"<th>{_sortable(_breakable(label).replace('_', '_<wbr>'))}</th>" for label in labels
    ]
    rows = [
        f'<tr {_row_attributes(row)}><td class="id">{_breakable(row.identifier)}</td>'
        + "".join(
            f'<td class="{_STATE_CLASS.get(cap.state, "")}">{escape(cap.text)}</td>'
            for cap in row.capabilities
        )
        + "</tr>"
        for row in report.rows
    ]
    return _table("capabilities", head, rows)


def _features(report: Report) -> str:
    head = [f"<th>{_sortable(name)}</th>" for name in ("cell", "driver", "Mesa", "path", "format", "result")]
    rows = []
    for row in report.rows:
        for column, entry in row.entries:
            if column.feature is None:
                continue
            rows.append(
                f'<tr class="filterable" data-driver="{escape(row.driver)}" '
                f'data-path="{escape(column.path)}" data-feature="{escape(column.feature)}">'
                f'<td class="id">{_breakable(row.identifier)}</td>'
                f"<td>{escape(row.driver)}</td><td>{escape(row.mesa_version)}</td>"
                f"<td>{escape(column.path)}</td><td>{_breakable(column.feature)}</td>"
                + _entry_cell(entry, "")
                + "</tr>"
            )
    return _table("features", head, rows)


def _problems(report: Report) -> str:
    items = [
        f'<li class="filterable" data-driver="{escape(row.driver)}"><code>{escape(row.identifier)}</code>: '
        f"{escape(problem)}</li>"
        for row in report.rows
        for problem in row.problems
    ]
    if not items:
        return ""
    return f'<section><h2>Against the expectations</h2><ul class="problems">{"".join(items)}</ul></section>'


def _comparison(report: Report) -> str:
    comparison = report.comparison
    if comparison is None:
        return ""
    drivers = {row.identifier: row.driver for row in report.rows}
    title = f"<h2>Changes since {escape(report.compared_with or 'the earlier run')}</h2>"
    notes = [f"<li>new cell <code>{escape(c)}</code></li>" for c in comparison.added_cells]
    notes += [f"<li>cell <code>{escape(c)}</code> is gone</li>" for c in comparison.removed_cells]
    head = [f"<th>{_sortable(name)}</th>" for name in ("change", "cell", "case", "before", "now")]
    change_class = {Change.REGRESSION: "fail", Change.FIX: "pass", Change.DISABLED: "known"}
    rows = [
        f'<tr class="filterable" data-driver="{escape(drivers.get(c.cell, ""))}">'
        f'<td class="{change_class.get(c.change, "")}">{escape(c.change.value)}</td>'
        f'<td class="id">{_breakable(c.cell)}</td><td><code>{escape(c.case_id)}</code></td>'
        f"<td>{_status(c.old)}</td><td>{_status(c.new)}</td>"
        "</tr>"
        for c in comparison.changes
    ]
    body = _table("changes", head, rows) if rows else "<p>No case changed.</p>"
    listed = f"<ul>{''.join(notes)}</ul>" if notes else ""
    return f"<section>{title}{listed}{body}</section>"


def _status(status: Status | None) -> str:
    return status.value if status else "absent"


def _table(ident: str, head: list[str], rows: list[str]) -> str:
    return (
        f'<div class="scroll"><table id="{ident}"><thead><tr>{"".join(head)}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _sortable(label_html: str) -> str:
    return f'<button type="button">{label_html}</button>'


def _breakable(text: str) -> str:
    """Escaped, with line-break opportunities after / and |, so long ids wrap on a phone."""
    return escape(text).replace("/", "/<wbr>").replace("|", "|<wbr>")

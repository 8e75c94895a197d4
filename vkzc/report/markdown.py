"""The report as GitHub-flavoured Markdown: for the README and for a job's step summary."""

from __future__ import annotations

from vkzc.report.compare import Change, Comparison
from vkzc.report.model import MARKS, Report
from vkzc.report.perf_markdown import render_performance_markdown
from vkzc.results.model import Status

_CHANGE_ORDER = (Change.REGRESSION, Change.FIX, Change.ENABLED, Change.DISABLED)


def render_markdown(report: Report) -> str:
    lines = ["## vkzc compatibility", ""]
    if not report.rows:
        performance = render_performance_markdown(report.performance) if report.performance else []
        return "\n".join([*lines, "No results.", *performance, ""])
    lines += _table(
        ["cell", "driver", "Mesa", "device", "runner", "verdict", *(c.label for c in report.main_columns)],
        [
            [
                row.identifier,
                row.driver,
                row.mesa_version,
                row.device,
                row.runner,
                "✓" if row.green else "✗",
                *(e.text if (e := row.entry(c)) else "" for c in report.main_columns),
            ]
            for row in report.rows
        ],
    )
    lines += ["", "Marks: " + "; ".join(f"{mark} {meaning}" for mark, meaning in MARKS.items()) + ".", ""]
    lines += ["### Advertised vs verified", ""]
    labels = [cap.label for cap in report.rows[0].capabilities]
    lines += _table(
        ["cell", *labels], [[row.identifier, *(cap.text for cap in row.capabilities)] for row in report.rows]
    )
    detailed = [
        [row.identifier, row.driver, column.path, column.feature, entry.text]
        for row in report.rows
        for column, entry in row.entries
        if column.feature is not None and column not in report.main_columns
    ]
    if detailed:
        lines += ["", "### By driver × format × modifier × exporter", ""]
        lines += _table(["cell", "driver", "path", "format / modifier / exporter", "result"], detailed)
    problems = [(row.identifier, p) for row in report.rows for p in row.problems]
    if problems:
        lines += ["", "### Against the expectations", ""]
        lines += [f"- `{cell}`: {_escape(problem)}" for cell, problem in problems]
    if report.comparison is not None:
        lines += ["", f"### Changes since {report.compared_with or 'the earlier run'}", ""]
        lines += _comparison(report.comparison)
    if report.performance is not None:
        lines += render_performance_markdown(report.performance)
    return "\n".join(lines) + "\n"


def _comparison(comparison: Comparison) -> list[str]:
    lines = [f"- new cell `{cell}`" for cell in comparison.added_cells]
    lines += [f"- cell `{cell}` is gone" for cell in comparison.removed_cells]
    for change in _CHANGE_ORDER:
        cases = comparison.of(change)
        if cases:
            lines += ["", f"**{change.value}** ({len(cases)})", ""]
            lines += [f"- `{c.cell}` `{c.case_id}`: {_status(c.old)} → {_status(c.new)}" for c in cases]
    return lines or ["No differences."]


def _status(status: Status | None) -> str:
    return status.value if status else "absent"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(_escape(cell) for cell in cells) + " |"

    return [line(header), "|" + "---|" * len(header), *(line(row) for row in rows)]


def _escape(text: str) -> str:
    # A `|` ends a table cell even inside backticks in GitHub's Markdown, and memory-type labels have them.
    return text.replace("|", "\\|")

"""The report as one JSON document, for machines: everything the tables show, and every case's outcome."""

from __future__ import annotations

import json
from typing import Any

from vkzc import __version__
from vkzc.report.compare import Comparison
from vkzc.report.model import CellRow, Entry, Report

REPORT_VERSION = 1


def render_json(report: Report) -> str:
    document = {
        "report_version": REPORT_VERSION,
        "vkzc_version": __version__,
        "green": report.green,
        "columns": [{"path": c.path, "feature": c.feature, "label": c.label} for c in report.columns],
        "cells": [_row(row) for row in report.rows],
        "comparison": _comparison(report.comparison, report.compared_with) if report.comparison else None,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _row(row: CellRow) -> dict[str, Any]:
    return {
        "identifier": row.identifier,
        "driver": row.driver,
        "mesa_version": row.mesa_version,
        "device": row.device,
        "runner": row.runner,
        "kernel": row.kernel,
        "green": row.green,
        "problems": list(row.problems),
        "expectation_files": [str(p) for p in row.expectation_files],
        "entries": {column.label: _entry(entry) for column, entry in row.entries},
        "capabilities": [
            {
                "label": cap.label,
                "path": cap.path,
                "advertised": cap.advertised,
                "detail": cap.detail,
                "state": cap.state,
            }
            for cap in row.capabilities
        ],
        "outcomes": [
            {
                "case_id": o.case_id,
                "path": o.path,
                "status": o.status.value if o.status else None,
                "rerun_status": o.rerun_status.value if o.rerun_status else None,
                "outcome": o.outcome.value,
                "expectation": str(o.source) if o.source else None,
            }
            for o in row.baseline.outcomes
        ],
    }


def _entry(entry: Entry) -> dict[str, Any]:
    return {
        "passed": entry.counts.passed,
        "executed": entry.counts.executed,
        "skipped": entry.counts.skipped,
        "failed": entry.counts.failed,
        "unexpected": entry.unexpected,
        "mark": entry.mark,
        "text": entry.text,
    }


def _comparison(comparison: Comparison, compared_with: str | None) -> dict[str, Any]:
    return {
        "compared_with": compared_with,
        "added_cells": list(comparison.added_cells),
        "removed_cells": list(comparison.removed_cells),
        "changes": [
            {
                "cell": c.cell,
                "case_id": c.case_id,
                "change": c.change.value,
                "old": c.old.value if c.old else None,
                "new": c.new.value if c.new else None,
            }
            for c in comparison.changes
        ],
    }

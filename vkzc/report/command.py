"""`vkzc report`: the compatibility tables of one or more runs, as Markdown, HTML or JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vkzc.errors import ConfigurationError
from vkzc.report.html import render_html
from vkzc.report.jsondoc import render_json
from vkzc.report.markdown import render_markdown
from vkzc.report.model import build_report
from vkzc.report.perf import bench_only, build_performance
from vkzc.results.directory import CellResults, find_cells

RENDERERS = {"md": render_markdown, "html": render_html, "json": render_json}
DEFAULT_EXPECTATIONS = Path("expectations")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report",
        help="render results as compatibility tables (md, html, json)",
        description=(
            "Render the compatibility table (cells × paths, passed/executed with skips apart), the "
            "advertised-vs-verified table from each cell's probe.json, each cell's verdict against the "
            "expectation files, the performance table of cells that have a bench.json, and with --compare "
            "what changed since an earlier run (cases, and benchmark medians beyond ±10%)."
        ),
    )
    parser.add_argument(
        "results",
        nargs="+",
        type=Path,
        metavar="RESULTS",
        help="a results/ tree of cells, one cell's directory, or a results.jsonl",
    )
    parser.add_argument(
        "--format", choices=sorted(RENDERERS), default="md", help="output format (default: md)"
    )
    parser.add_argument(
        "--compare", type=Path, metavar="OLD", help="an earlier run's results, to list what changed"
    )
    parser.add_argument("--output", type=Path, metavar="FILE", help="write here instead of standard output")
    parser.add_argument(
        "--expectations",
        type=Path,
        metavar="DIR",
        help=f"expectation files (default: ./{DEFAULT_EXPECTATIONS} where it exists)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cells = _cells(args.results)
    expectations = args.expectations
    if expectations is None and DEFAULT_EXPECTATIONS.is_dir():
        expectations = DEFAULT_EXPECTATIONS
    old = _cells([args.compare]) if args.compare else None
    report = build_report(
        cells,
        expectations_dir=expectations,
        old=old,
        compared_with=str(args.compare) if args.compare else None,
        performance=build_performance(args.results, old=args.compare),
    )
    text = RENDERERS[args.format](report)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    except OSError as e:
        raise ConfigurationError(f"cannot write {args.output}: {e.strerror}") from None
    return 0


def _cells(paths: list[Path]) -> list[CellResults]:
    cells: dict[str, CellResults] = {}
    for path in paths:
        if bench_only(path):
            continue
        for cell in find_cells(path):
            first = cells.get(cell.identifier)
            if first is not None:
                raise ConfigurationError(
                    f"cell {cell.identifier} is in both {first.directory} and {cell.directory}",
                    "name each cell's results once",
                )
            cells[cell.identifier] = cell
    return list(cells.values())

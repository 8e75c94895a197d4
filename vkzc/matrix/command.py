"""`vkzc matrix …`: the matrix's sub-commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from vkzc.matrix.load import DEFAULT_FILE, load_matrix
from vkzc.matrix.model import Cell, Matrix
from vkzc.matrix.select import select


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("matrix", help="the test matrix: Mesa builds × drivers × runners")
    commands = parser.add_subparsers(dest="matrix_command", required=True, metavar="SUBCOMMAND")
    list_parser = commands.add_parser("list", help="show the matrix's cells")
    add_selection_arguments(list_parser)
    list_parser.add_argument("--json", action="store_true", help="print the cells as JSON, for CI matrices")
    list_parser.set_defaults(func=_list)
    from vkzc.matrix import run

    run.register(commands)


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    """--matrix and --select, as every matrix sub-command takes them."""
    parser.add_argument(
        "--matrix",
        type=Path,
        default=DEFAULT_FILE,
        metavar="FILE",
        help=f"matrix file (default: {DEFAULT_FILE})",
    )
    parser.add_argument(
        "--select",
        action="append",
        metavar="PATTERN",
        help="cell identifier glob, {a,b} allowed, e.g. 'mesa-*/lavapipe/*'; "
        "repeat it or separate patterns with spaces",
    )


def selected_cells(matrix: Matrix, select_args: list[str] | None) -> tuple[Cell, ...] | None:
    """The cells the --select arguments name, or None when there were none."""
    if not select_args:
        return None
    return select(matrix.cells, [pattern for arg in select_args for pattern in arg.split()])


def _list(args: argparse.Namespace) -> int:
    matrix = load_matrix(args.matrix)
    cells = selected_cells(matrix, args.select) or matrix.cells
    default = set(matrix.default_cells)
    if args.json:
        print(json.dumps([_as_json(cell, cell in default) for cell in cells], indent=2))
        return 0
    table = Table(
        caption=f"{len(cells)} of {len(matrix.cells)} cells in {args.matrix}", caption_justify="left"
    )
    for column in ("identifier", "Mesa", "source", "driver", "runner", "arch", "device nodes", "default"):
        table.add_column(column, no_wrap=True)
    for cell in cells:
        table.add_row(
            cell.identifier,
            cell.mesa.version,
            cell.mesa.source.describe(),
            cell.driver.id,
            cell.runner.id,
            cell.arch,
            " ".join(cell.devices) or "—",
            "✓" if cell in default else "",
        )
    # Piped output is not cut to 80 columns: identifiers are meant to be copied whole.
    Console(highlight=False, width=None if sys.stdout.isatty() else 1000).print(table)
    return 0


def _as_json(cell: Cell, default: bool) -> dict[str, Any]:
    return {
        "identifier": cell.identifier,
        "mesa": cell.mesa.id,
        "mesa_version": cell.mesa.version,
        "source": cell.mesa.source.describe(),
        "driver": cell.driver.id,
        "icd": cell.icd_file,
        "renderer": cell.driver.renderer,
        "runner": cell.runner.id,
        "runner_kind": cell.runner.kind,
        "arch": cell.arch,
        "labels": list(cell.runner.labels),
        "devices": list(cell.devices),
        "default": default,
    }

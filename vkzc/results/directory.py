"""A cell's results directory, as a matrix run leaves it, and finding such directories in a tree.

results/<cell-id>/results.jsonl   the records, one per case (see store.py)
results/<cell-id>/rerun.jsonl     second runs of the unexpected failures, when there were any
results/<cell-id>/cell.json       the cell's identity (cell.py); absent for `tox -e suite`'s results/host
results/<cell-id>/probe.json      `vkzc probe --json` inside the cell (read by the report)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vkzc.errors import ConfigurationError
from vkzc.results.baseline import Baseline, apply_expectations
from vkzc.results.cell import CELL_FILE, CellInfo, read_cell_info
from vkzc.results.expectations import Expectations, load_expectations
from vkzc.results.model import CaseResult
from vkzc.results.store import RERUN_FILE, RESULTS_FILE, read_results


@dataclass(frozen=True, kw_only=True)
class CellResults:
    directory: Path
    identifier: str
    cell: CellInfo | None
    records: tuple[CaseResult, ...]
    reruns: tuple[CaseResult, ...]


def read_cell_results(
    directory: Path, *, results_file: Path | None = None, fallback_identifier: str | None = None
) -> CellResults:
    """The cell in `directory` (its records from `results_file` when given). Its identifier: cell.json's,
    else the records' `cell` field, else `fallback_identifier`, else the directory's name."""
    cell = read_cell_info(directory / CELL_FILE) if (directory / CELL_FILE).is_file() else None
    results_file = results_file or directory / RESULTS_FILE
    # A cell that died before its first case (an image that did not build, a probe that failed)
    # has a cell.json and no results.jsonl: it is reported, as a cell where nothing ran.
    records = tuple(read_results(results_file)) if results_file.is_file() or cell is None else ()
    reruns = tuple(read_results(directory / RERUN_FILE)) if (directory / RERUN_FILE).is_file() else ()
    named = {r.cell for r in records if r.cell}
    if cell is not None:
        identifier = cell.identifier
    elif len(named) == 1:
        identifier = named.pop()
    else:
        identifier = fallback_identifier or directory.resolve().name
    return CellResults(directory=directory, identifier=identifier, cell=cell, records=records, reruns=reruns)


def find_cells(path: Path) -> list[CellResults]:
    """The cells a command-line argument names: a results.jsonl, a cell's directory, or a tree of them."""
    if path.is_file():
        # Any name: `pytest suite --vkzc-results out.jsonl` writes where it is told.
        name = None if path.name == RESULTS_FILE else path.stem
        return [read_cell_results(path.parent, results_file=path, fallback_identifier=name)]
    if not path.is_dir():
        raise ConfigurationError(
            f"{path} does not exist", "name a results/ tree, a cell directory or a results.jsonl"
        )
    if (path / RESULTS_FILE).is_file() or (path / CELL_FILE).is_file():
        return [read_cell_results(path)]
    found = sorted({p.parent for name in (RESULTS_FILE, CELL_FILE) for p in path.rglob(name)})
    if not found:
        raise ConfigurationError(
            f"no {RESULTS_FILE} under {path}", "run `tox -e matrix` or `tox -e suite` first"
        )
    return [read_cell_results(d, fallback_identifier=d.relative_to(path).as_posix()) for d in found]


def cell_expectations(cell: CellInfo | None, expectations_dir: Path | None) -> Expectations:
    """The expectations that apply to a cell; none without a directory or without cell.json, whose
    matrix driver id picks the files (a record's Vulkan driver name is not that id: llvmpipe ≠ lavapipe)."""
    if expectations_dir is None or cell is None:
        return Expectations()
    return load_expectations(
        expectations_dir, driver=cell.driver, runner=cell.runner, mesa_version=cell.mesa_version
    )


def cell_baseline(results: CellResults, expectations_dir: Path | None) -> Baseline:
    """The cell's outcomes and verdict against the expectations in `expectations_dir`."""
    expectations = cell_expectations(results.cell, expectations_dir)
    return apply_expectations(results.records, expectations, reruns=results.reruns)

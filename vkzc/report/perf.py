"""The report's performance table: each cell's bench.json as figures and ratios, and with --compare
the figures whose median moved beyond a threshold since the earlier run.

Performance never makes a cell red: benchmarks are outside the pass/fail verdict, so a slower
median is listed for a person to look at, not failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vkzc.bench.figures import (
    IMPORT,
    LIMIT,
    Figure,
    Ratios,
    TargetCheck,
    check_targets,
    headline_size,
    ratios,
)
from vkzc.bench.storage import BENCH_FILE, BenchRun, find_bench
from vkzc.conformance.ids import size_id
from vkzc.errors import ConfigurationError
from vkzc.results.cell import CELL_FILE
from vkzc.results.store import RESULTS_FILE

THRESHOLD = 0.10  # a median that moves by more than this share of the old one is listed


@dataclass(frozen=True, kw_only=True)
class PerfCell:
    run: BenchRun
    size: int | None  # the headline size: where the README's table and the targets are read
    rows: tuple[Ratios, ...]  # every figure at every size; a limit's ratios are all None
    targets: tuple[TargetCheck, ...]

    @property
    def identifier(self) -> str:
        return self.run.identifier

    def headline(self) -> tuple[Ratios, ...]:
        """The limits and transfers at the headline size, then the import costs (per frame) at every size."""
        return tuple(r for r in self.rows if r.figure.size == self.size and r.figure.group != IMPORT) + tuple(
            r for r in self.rows if r.figure.group == IMPORT
        )


@dataclass(frozen=True, kw_only=True)
class PerfChange:
    cell: str
    old: Figure
    new: Figure

    @property
    def change(self) -> float:
        """The median's relative change: +0.25 is 25% slower."""
        return self.new.median_s / self.old.median_s - 1.0

    @property
    def label(self) -> str:
        return f"{self.new.group} {self.new.label} {size_id(self.new.size)}"


@dataclass(frozen=True, kw_only=True)
class Performance:
    cells: tuple[PerfCell, ...]
    slower: tuple[PerfChange, ...]  # median up by more than `threshold`
    faster: tuple[PerfChange, ...]  # median down by more than `threshold`
    compared: bool
    threshold: float = THRESHOLD


def bench_only(path: Path) -> bool:
    """A directory with bench.json files and no suite results (a run on a lent machine, say): its
    cells belong in the performance table only, and the compatibility table need not find them."""
    if not path.is_dir() or any(any(path.rglob(name)) for name in (RESULTS_FILE, CELL_FILE)):
        return False
    return any(path.rglob(BENCH_FILE))


def build_performance(
    paths: Sequence[Path], *, old: Path | None = None, threshold: float = THRESHOLD
) -> Performance | None:
    """The performance part of the report from the bench.json files under `paths`; None without any."""
    runs = _runs(paths)
    if not runs:
        return None
    changes = _changes(_runs([old]), runs) if old is not None else []
    return Performance(
        cells=tuple(_cell(run) for run in runs),
        slower=tuple(sorted((c for c in changes if c.change > threshold), key=lambda c: -c.change)),
        faster=tuple(sorted((c for c in changes if c.change < -threshold), key=lambda c: c.change)),
        compared=old is not None,
        threshold=threshold,
    )


def _runs(paths: Sequence[Path]) -> list[BenchRun]:
    runs: dict[str, BenchRun] = {}
    for path in paths:
        for run in find_bench(path):
            if run.identifier in runs:
                raise ConfigurationError(
                    f"two bench.json files for cell {run.identifier} under {path}",
                    "give each cell's results once",
                )
            runs[run.identifier] = run
    return sorted(runs.values(), key=lambda r: r.identifier)


def _cell(run: BenchRun) -> PerfCell:
    size = headline_size(run.figures)
    limits = [
        Ratios(figure=f, of_memcpy=None, of_ceiling=None, speedup=None)
        for f in run.figures
        if f.group == LIMIT
    ]
    return PerfCell(
        run=run,
        size=size,
        rows=(*limits, *ratios(run.figures)),
        targets=check_targets(run.figures, size) if size is not None else (),
    )


def _changes(old_runs: Sequence[BenchRun], new_runs: Sequence[BenchRun]) -> list[PerfChange]:
    before = {(r.identifier, _key(f)): f for r in old_runs for f in r.figures}
    return [
        PerfChange(cell=run.identifier, old=before[(run.identifier, _key(f))], new=f)
        for run in new_runs
        for f in run.figures
        if (run.identifier, _key(f)) in before
    ]


def _key(figure: Figure) -> tuple[str, str, str, int]:
    return (figure.group, figure.path, figure.variant, figure.size)

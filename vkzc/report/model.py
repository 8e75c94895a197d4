"""The report as values, built once and rendered as Markdown, HTML or JSON.

One row per cell; columns are paths and their sub-features; each entry is `passed/executed`
with a verdict mark and the skips apart. Beside each row: what the probe says the device
advertises, against what the suite verified.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vkzc.report.compare import Comparison, compare
from vkzc.report.features import feature
from vkzc.report.perf import Performance
from vkzc.report.probe import PROBE_FILE, DeviceCapabilities, device_named, read_probe
from vkzc.results.baseline import Baseline, Outcome, apply_expectations
from vkzc.results.directory import CellResults, cell_expectations
from vkzc.results.model import CaseResult
from vkzc.results.summary import Counts, counts

PASSED, FAILED, KNOWN, NOT_RUN = "✓", "✗", "≈", "–"
MARKS = {
    PASSED: "every case that ran passed",
    FAILED: "a case failed unexpectedly",
    KNOWN: "only expected failures or flakes",
    NOT_RUN: "no case ran",
}


@dataclass(frozen=True, kw_only=True)
class Column:
    path: str
    feature: str | None = None  # None: the whole path

    @property
    def label(self) -> str:
        return self.path if self.feature is None else f"{self.path} · {self.feature}"


@dataclass(frozen=True, kw_only=True)
class Entry:
    counts: Counts
    unexpected: int  # cases whose failure no expectation covers

    @property
    def mark(self) -> str:
        if not self.counts.executed:
            return NOT_RUN
        if self.unexpected:
            return FAILED
        return KNOWN if self.counts.failed else PASSED

    @property
    def text(self) -> str:
        return self.counts.short(self.mark)


@dataclass(frozen=True, kw_only=True)
class Capability:
    """What the probe says a device advertises, beside the path's result that verifies it."""

    label: str  # an extension's name, or what core Vulkan offers
    path: str | None  # the path that verifies it; None while no path does
    advertised: bool | None  # None: the cell has no probe.json
    detail: str  # e.g. "1 type", "3 formats"
    verified: Entry | None  # None: no case of the path is in the results

    @property
    def state(self) -> str:
        """verified, failed or untested where advertised; absent; unknown without a probe; and
        mismatch where a path ran on a device that does not advertise what it stands on."""
        ran = self.verified is not None and self.verified.counts.executed > 0
        if self.advertised is None:
            return "unknown"
        if not self.advertised:
            return "mismatch" if ran else "absent"
        if self.verified is None or not ran:
            return "untested"
        return "failed" if self.verified.mark == FAILED else "verified"

    @property
    def text(self) -> str:
        state = self.state
        result = self.verified.text if self.verified else ""
        if state in ("unknown", "absent"):
            return "not probed" if state == "unknown" else "absent"
        if state == "mismatch":
            return f"absent, yet ran: {result}"
        head = f"advertised ({self.detail})" if self.detail else "advertised"
        if state == "untested":
            return f"{head} · {'not verified' if self.path else 'no path yet'}"
        return f"{head} · {result}"


@dataclass(frozen=True, kw_only=True)
class CellRow:
    identifier: str
    driver: str
    mesa_version: str
    device: str
    runner: str
    kernel: str
    entries: tuple[tuple[Column, Entry], ...]
    capabilities: tuple[Capability, ...]
    baseline: Baseline
    expectation_files: tuple[Path, ...]
    executed: int

    def entry(self, column: Column) -> Entry | None:
        return dict(self.entries).get(column)

    @property
    def green(self) -> bool:
        return self.executed > 0 and self.baseline.green

    @property
    def problems(self) -> tuple[str, ...]:
        empty = () if self.executed else ("no case executed on the device",)
        return empty + self.baseline.problems()


@dataclass(frozen=True, kw_only=True)
class Report:
    rows: tuple[CellRow, ...]
    columns: tuple[Column, ...]
    comparison: Comparison | None
    compared_with: str | None
    performance: Performance | None = None  # from the cells' bench.json; never part of the verdict

    @property
    def green(self) -> bool:
        return all(row.green for row in self.rows)

    @property
    def main_columns(self) -> tuple[Column, ...]:
        """The compatibility table's columns: every path, split by sub-feature only where the
        split is a handful of columns (memory types, pointer sources). The image and dma-buf paths'
        formats × modifiers × exporters run to hundreds: they are the second view's rows."""
        return tuple(c for c in self.columns if c.feature is None or c.path in _SPLIT_IN_MAIN_TABLE)


_SPLIT_IN_MAIN_TABLE = frozenset({"mapped", "host-pointer", "opaque-fd"})


def build_report(
    cells: Sequence[CellResults],
    *,
    expectations_dir: Path | None,
    old: Sequence[CellResults] | None = None,
    compared_with: str | None = None,
    performance: Performance | None = None,
) -> Report:
    rows = tuple(_row(cell, expectations_dir) for cell in sorted(cells, key=lambda c: c.identifier))
    columns = sorted({column for row in rows for column, _ in row.entries}, key=_column_order)
    return Report(
        rows=rows,
        columns=tuple(columns),
        comparison=compare(old, cells) if old is not None else None,
        compared_with=compared_with,
        performance=performance,
    )


# The README's order; paths that land later follow, alphabetically.
_PATH_ORDER = ("mapped", "host-pointer")


def _column_order(column: Column) -> tuple[int, str, bool, str]:
    rank = _PATH_ORDER.index(column.path) if column.path in _PATH_ORDER else len(_PATH_ORDER)
    return (rank, column.path, column.feature is not None, column.feature or "")


def _row(cell: CellResults, expectations_dir: Path | None) -> CellRow:
    records = cell.records
    expectations = cell_expectations(cell.cell, expectations_dir)
    baseline = apply_expectations(records, expectations, reruns=cell.reruns)
    unexpected = {o.case_id for o in baseline.of(Outcome.UNEXPECTED_FAIL)}
    groups: dict[Column, list[CaseResult]] = {}
    for record in records:
        groups.setdefault(Column(path=record.path), []).append(record)
        sub = feature(record)
        if sub is not None:
            groups.setdefault(Column(path=record.path, feature=sub), []).append(record)
    entries = {
        column: Entry(counts=counts(rs), unexpected=sum(r.case_id in unexpected for r in rs))
        for column, rs in groups.items()
    }
    first = records[0] if records else None
    probe = read_probe(cell.directory / PROBE_FILE) if (cell.directory / PROBE_FILE).is_file() else ()
    device = device_named(probe, first.device if first else None)
    # cell.json says what the matrix asked for; without one (results/host), the records say what ran.
    info = cell.cell
    return CellRow(
        identifier=cell.identifier,
        driver=info.driver if info else _recorded(first, "driver", "?"),
        mesa_version=info.mesa_version if info else _recorded(first, "mesa_version", "—"),
        device=_recorded(first, "device", device.name if device else "?"),
        runner=f"{info.runner}-{info.arch}" if info else _recorded(first, "runner", "host"),
        kernel=_recorded(first, "kernel", "?"),
        entries=tuple(sorted(entries.items(), key=lambda item: _column_order(item[0]))),
        capabilities=_capabilities(device, entries),
        baseline=baseline,
        expectation_files=expectations.files,
        executed=sum(r.status.executed for r in records),
    )


def _recorded(record: CaseResult | None, name: str, default: str) -> str:
    value = getattr(record, name, None)
    return value if isinstance(value, str) and value else default


def _capabilities(device: DeviceCapabilities | None, entries: dict[Column, Entry]) -> tuple[Capability, ...]:
    def capability(label: str, path: str | None, advertised: bool | None, detail: str = "") -> Capability:
        verified = entries.get(Column(path=path)) if path else None
        return Capability(label=label, path=path, advertised=advertised, detail=detail, verified=verified)

    def extension(name: str, path: str | None, detail: str = "") -> Capability:
        return capability(name, path, device.advertises(name) if device else None, detail)

    host_visible = device.host_visible_types if device else ()
    modifiers = device.modifiers if device else None
    return (
        # Mapping host-visible memory is core Vulkan: what a device offers is its HOST_VISIBLE types.
        capability(
            "host-visible memory",
            "mapped",
            bool(host_visible) if device else None,
            plural(len(host_visible), "type"),
        ),
        extension("VK_EXT_external_memory_host", "host-pointer"),
        extension("VK_KHR_external_memory_fd", "opaque-fd"),
        extension("VK_EXT_external_memory_dma_buf", "dma-buf"),
        extension(
            "VK_EXT_image_drm_format_modifier",
            "modifier-image",
            plural(sum(1 for _, n in modifiers if n), "format") if modifiers is not None else "",
        ),
        # The decoder path is still to land in the suite: advertised only, for now.
        extension("VK_KHR_video_decode_queue", None),
    )


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"

"""bench.json: one self-describing file per cell and run, beside the cell's results.

results/<cell-id>/bench.json        a full run in a matrix cell (VKZC_CELL names it)
results/host/bench.json             a full run on this machine
…/bench-quick.json                  a --bench-quick smoke run, kept apart so it never stands for figures

The file is pytest-benchmark's own JSON (machine_info, commit_info, every benchmark with its raw
timings, so `pytest-benchmark compare` reads it), with a "vkzc" section added: the machine as
machine.py describes it, the load around the run, and the figures. Ratios and target checks are
written too, for readers of the file; vkzc itself recomputes them from the figures.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from vkzc.bench.figures import Figure, check_targets, headline_size, order, ratios
from vkzc.bench.machine import BenchMachine
from vkzc.errors import ConfigurationError

BENCH_FILE = "bench.json"
QUICK_FILE = "bench-quick.json"
BENCH_VERSION = 1
HOST = "host"  # the directory, and the report's cell name, of a run outside the matrix
Load = tuple[float, float, float]


@dataclass(frozen=True, kw_only=True)
class BenchRun:
    identifier: str  # the matrix cell; outside the matrix, the results directory's name ("host")
    machine: BenchMachine
    datetime: str  # ISO 8601, UTC, when the run ended
    quick: bool
    load_before: Load
    load_after: Load
    figures: tuple[Figure, ...]


def default_path(results: Path, cell: str | None, *, quick: bool) -> Path:
    return results / (cell or HOST) / (QUICK_FILE if quick else BENCH_FILE)


class AtomicOutput:
    """The file pytest-benchmark writes its JSON to (it wants an open binary file), opened only when
    it writes and renamed into place when done: a run that measured nothing, or died half-way,
    leaves the previous bench.json as it was."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._partial = path.with_name(path.name + ".partial")
        self._file: BinaryIO | None = None

    def __enter__(self) -> BinaryIO:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self._partial.open("wb")
        return self._file

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        assert self._file is not None
        self._file.close()
        if kind is None:
            self._partial.replace(self.path)
        else:
            self._partial.unlink()

    def __str__(self) -> str:
        return str(self.path)


def figures_from_benchmarks(entries: Sequence[Mapping[str, Any]]) -> tuple[Figure, ...]:
    """Figures from pytest-benchmark's JSON entries; the bench modules put the figure's identity in
    extra_info. pytest-benchmark's statistics are per call already (a round's time over its calls)."""
    found = []
    for entry in entries:
        info, stats = entry.get("extra_info", {}), entry["stats"]
        if "group" not in info:
            continue
        found.append(
            Figure(
                group=info["group"],
                path=info["path"],
                variant=info.get("variant", ""),
                size=int(info["size"]),
                median_s=float(stats["median"]),
                iqr_s=float(stats["iqr"]),
                rounds=int(stats["rounds"]),
                ceiling_s=info.get("ceiling_s"),
            )
        )
    return tuple(sorted(found, key=order))


def vkzc_section(run: BenchRun) -> dict[str, Any]:
    size = headline_size(run.figures)
    return {
        "bench_version": BENCH_VERSION,
        "machine": run.machine.to_json(),
        "quick": run.quick,
        "load": {"before": list(run.load_before), "after": list(run.load_after)},
        "figures": [dataclasses.asdict(f) for f in run.figures],
        "ratios": [
            {
                "group": r.figure.group,
                "path": r.figure.path,
                "variant": r.figure.variant,
                "size": r.figure.size,
                "of_memcpy": r.of_memcpy,
                "of_ceiling": r.of_ceiling,
                "speedup": r.speedup,
            }
            for r in ratios(run.figures)
        ],
        "targets": {
            "size": size,
            "checks": [dataclasses.asdict(c) for c in check_targets(run.figures, size)] if size else [],
        },
    }


def read_bench(path: Path, directory_name: str | None = None) -> BenchRun:
    """A bench.json's run; anything malformed is a ConfigurationError naming the file. A run outside
    the matrix is named after its directory (`directory_name`, else the file's parent's name)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigurationError(f"cannot read {path}: {e.strerror}") from None
    except (ValueError, RecursionError) as e:
        raise ConfigurationError(f"{path}: not JSON ({e})") from None
    try:
        section = document["vkzc"]
        if section["bench_version"] != BENCH_VERSION:
            raise ConfigurationError(
                f"{path}: bench_version {section['bench_version']!r}, this vkzc reads {BENCH_VERSION}"
            )
        machine = BenchMachine(**_typed(section["machine"], _MACHINE_TYPES))
        return BenchRun(
            identifier=machine.cell or directory_name or path.parent.name,
            machine=machine,
            datetime=str(document["datetime"]),
            quick=bool(section["quick"]),
            load_before=_load(section["load"]["before"]),
            load_after=_load(section["load"]["after"]),
            figures=tuple(
                sorted((Figure(**_typed(f, _FIGURE_TYPES)) for f in section["figures"]), key=order)
            ),
        )
    except (KeyError, TypeError, ValueError) as e:
        # A missing key (KeyError), or a value of the wrong shape or type.
        raise ConfigurationError(f"{path}: not a vkzc bench file ({type(e).__name__}: {e})") from None


_NONE = type(None)
_FIGURE_TYPES: dict[str, tuple[type, ...]] = {
    "group": (str,),
    "path": (str,),
    "variant": (str,),
    "size": (int,),
    "median_s": (float, int),
    "iqr_s": (float, int),
    "rounds": (int,),
    "ceiling_s": (float, int, _NONE),
}
_MACHINE_TYPES: dict[str, tuple[type, ...]] = {
    "cell": (str, _NONE),
    "runner": (str, _NONE),
    "device": (str,),
    "driver": (str, _NONE),
    "driver_version": (str,),
    "mesa_version": (str, _NONE),
    "api_version": (str,),
    "kernel": (str,),
    "cpus": (int,),
}


def _typed(raw: Mapping[str, Any], types: Mapping[str, tuple[type, ...]]) -> dict[str, Any]:
    """The keys of `types` from `raw`, each checked, so a bad file fails here and not in a table."""
    values = {}
    for key, allowed in types.items():
        value = raw[key]
        if not isinstance(value, allowed) or isinstance(value, bool):
            raise TypeError(f"{key} is {value!r}")
        values[key] = value
    return values


def find_bench(path: Path) -> list[BenchRun]:
    """The full runs under a results tree, a cell's directory, or one bench.json."""
    if path.is_file():
        return [read_bench(path)] if path.name == BENCH_FILE else []
    found = sorted(path.rglob(BENCH_FILE))
    return [read_bench(p, p.parent.relative_to(path).as_posix() if p.parent != path else None) for p in found]


def _load(raw: Sequence[float]) -> Load:
    one, five, fifteen = (float(x) for x in raw)
    return (one, five, fifteen)

"""bench.json: where it goes, how it is written, and reading it back (malformed files included)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vkzc.bench.figures import Figure
from vkzc.bench.machine import BenchMachine
from vkzc.bench.storage import (
    AtomicOutput,
    BenchRun,
    default_path,
    figures_from_benchmarks,
    find_bench,
    read_bench,
    vkzc_section,
)
from vkzc.errors import ConfigurationError

MiB = 1 << 20
CELL = "mesa-26.2.6-debian-sid/lavapipe/local-amd64"


def machine(cell: str | None = None) -> BenchMachine:
    return BenchMachine(
        cell=cell,
        runner=None,
        device="llvmpipe (LLVM 15.0.6, 256 bits)",
        driver="llvmpipe",
        driver_version="0.0.1",
        mesa_version="22.3.6",
        api_version="1.3.230",
        kernel="6.1.0",
        cpus=2,
    )


def entry(
    group: str, path: str, median: float, *, variant: str = "", size: int = 64 * MiB, **info: float
) -> dict[str, Any]:
    """One benchmark as pytest-benchmark's JSON has it (the parts read here)."""
    return {
        "name": f"test_{group}[{path}]",
        "extra_info": {"group": group, "path": path, "variant": variant, "size": size, **info},
        "stats": {"median": median, "iqr": median / 50, "rounds": 7, "mean": median},
    }


ENTRIES = [
    entry("upload", "mapped", 0.003, variant="type0-HOST_VISIBLE"),
    entry("limit", "memset", 0.0025),
    entry("upload", "staged", 0.02, ceiling_s=0.0024),
    {"name": "test_other", "extra_info": {}, "stats": {"median": 1.0, "iqr": 0.0, "rounds": 1}},
]


def document(run: BenchRun) -> dict[str, Any]:
    return {"machine_info": {}, "benchmarks": ENTRIES, "datetime": run.datetime, "vkzc": vkzc_section(run)}


def a_run(cell: str | None = None) -> BenchRun:
    return BenchRun(
        identifier=cell or "host",
        machine=machine(cell),
        datetime="2026-11-21T20:30:00+00:00",
        quick=False,
        load_before=(0.5, 0.7, 0.9),
        load_after=(0.6, 0.7, 0.9),
        figures=figures_from_benchmarks(ENTRIES),
    )


def write(path: Path, content: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content))
    return path


def test_files_go_per_cell_and_quick_runs_apart(tmp_path: Path) -> None:
    assert default_path(tmp_path, CELL, quick=False) == tmp_path / CELL / "bench.json"
    assert default_path(tmp_path, None, quick=False) == tmp_path / "host" / "bench.json"
    assert default_path(tmp_path, None, quick=True) == tmp_path / "host" / "bench-quick.json"


def test_figures_come_from_extra_info_and_the_stats_in_table_order() -> None:
    figures = figures_from_benchmarks(ENTRIES)
    assert [f.path for f in figures] == ["memset", "staged", "mapped"]  # the unlabelled one is left out
    assert figures[1].ceiling_s == 0.0024
    assert figures[2] == Figure(
        group="upload",
        path="mapped",
        variant="type0-HOST_VISIBLE",
        size=64 * MiB,
        median_s=0.003,
        iqr_s=0.003 / 50,
        rounds=7,
    )


def test_a_written_run_reads_back_the_same(tmp_path: Path) -> None:
    run = a_run(CELL)
    path = write(tmp_path / CELL / "bench.json", document(run))
    assert read_bench(path) == run
    assert read_bench(path).identifier == CELL
    section = document(run)["vkzc"]
    # Ratios and target checks are in the file for its readers.
    mapped = next(r for r in section["ratios"] if r["path"] == "mapped")
    assert mapped["speedup"] == pytest.approx(0.02 / 0.003)
    assert section["targets"]["size"] == 64 * MiB
    assert section["targets"]["checks"][0]["met"] is True


def test_atomic_output_replaces_only_a_finished_file(tmp_path: Path) -> None:
    path = tmp_path / "host" / "bench.json"
    with AtomicOutput(path) as out:
        out.write(b"{}")
    assert path.read_bytes() == b"{}"
    with pytest.raises(RuntimeError), AtomicOutput(path) as out:
        out.write(b"{half")
        raise RuntimeError("the run died")
    assert path.read_bytes() == b"{}"
    assert list(path.parent.iterdir()) == [path]
    assert str(AtomicOutput(path)) == str(path)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d.pop("vkzc"), "not a vkzc bench file"),
        (lambda d: d["vkzc"].update(bench_version=99), "bench_version 99"),
        (lambda d: d["vkzc"]["figures"][0].update(size="64MiB"), "size is '64MiB'"),
        (lambda d: d["vkzc"]["figures"][0].update(rounds=True), "rounds is True"),
        (lambda d: d["vkzc"]["machine"].pop("device"), "device"),
        (lambda d: d["vkzc"]["load"].update(before=[1]), "not a vkzc bench file"),
    ],
)
def test_malformed_files_are_errors_naming_the_file(tmp_path: Path, damage: Any, message: str) -> None:
    content = document(a_run())
    damage(content)
    path = write(tmp_path / "bench.json", content)
    with pytest.raises(ConfigurationError, match=message) as error:
        read_bench(path)
    assert str(path) in str(error.value)


def test_unreadable_and_non_json_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        read_bench(tmp_path / "missing.json")
    broken = tmp_path / "bench.json"
    broken.write_text("{")
    with pytest.raises(ConfigurationError, match="not JSON"):
        read_bench(broken)


def test_find_bench_reads_full_runs_only_and_names_them(tmp_path: Path) -> None:
    write(tmp_path / "host" / "bench.json", document(a_run()))
    write(tmp_path / CELL / "bench.json", document(a_run(CELL)))
    write(tmp_path / "host" / "bench-quick.json", document(a_run()))
    # A run outside the matrix, brought from another machine, is named after its directory.
    write(tmp_path / "lent" / "nvidia-h200" / "bench.json", document(a_run()))
    assert [r.identifier for r in find_bench(tmp_path)] == ["host", "lent/nvidia-h200", CELL]
    assert [r.identifier for r in find_bench(tmp_path / "host")] == ["host"]
    assert [r.identifier for r in find_bench(tmp_path / CELL / "bench.json")] == [CELL]
    assert find_bench(tmp_path / "host" / "bench-quick.json") == []

"""Fixtures and hooks of the benchmarks: one Vulkan device for the whole run, sizes and round
policy (full or --bench-quick), the order that puts figures of one size back to back, the machine
information pytest-benchmark records, bench.json per cell, and the table printed at the end.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from vkzc.bench.machine import describe, load_average
from vkzc.bench.routes import Unsupported
from vkzc.bench.storage import (
    HOST,
    AtomicOutput,
    BenchRun,
    default_path,
    figures_from_benchmarks,
    vkzc_section,
)
from vkzc.bench.table import render_summary
from vkzc.bench.timing import FULL, QUICK, RoundPolicy, measure
from vkzc.conformance.ids import MiB, size_id
from vkzc.conformance.kernels import Kernels
from vkzc.conformance.target import Target, open_target
from vkzc.errors import FatalError
from vkzc.shaders import spirv
from vkzc.vk.device import Device

TARGET = pytest.StashKey[Target]()
LOAD_BEFORE = pytest.StashKey[tuple[float, float, float]]()
RUN = pytest.StashKey[BenchRun]()

SIZES = (1 * MiB, 4 * MiB, 16 * MiB, 64 * MiB, 256 * MiB)
QUICK_SIZES = (1 * MiB, 4 * MiB)
# Per-frame import cost at frame-like sizes: 1080p NV12 is 3 MiB, 4K RGBA 32 MiB.
IMPORT_SIZES = (4 * MiB, 32 * MiB)
QUICK_IMPORT_SIZES = (1 * MiB,)
# Enabled where advertised; a benchmark whose extension is absent skips, naming it.
EXTENSIONS = (
    "VK_KHR_external_memory",
    "VK_EXT_external_memory_host",
    "VK_KHR_external_memory_fd",
    "VK_EXT_external_memory_dma_buf",
    # Decoded frames are imported as images with explicit (LINEAR) layouts.
    "VK_EXT_image_drm_format_modifier",
    "VK_EXT_queue_family_foreign",
)
# Figures of one size run back to back, limits first, so that ratios between them share the machine's mood.
_MODULE_ORDER = (
    "test_limit.py",
    "test_upload.py",
    "test_readback.py",
    "test_import_cost.py",
    "test_decode_import.py",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vkzc bench")
    group.addoption("--vkzc-device", help="device index or name glob (default: VKZC_DEVICE, else device 0)")
    group.addoption(
        "--bench-quick",
        action="store_true",
        help="CI's smoke run: a few rounds at 1 and 4 MiB, written to bench-quick.json",
    )
    group.addoption(
        "--bench-results",
        type=Path,
        default=Path("results"),
        help="the results tree: bench.json goes to <tree>/<VKZC_CELL or host>/ (default: results)",
    )


def pytest_configure(config: pytest.Config) -> None:
    try:
        for name in Kernels.SHADERS:
            spirv(name)
        target = open_target(config.getoption("--vkzc-device"))
    except FatalError as e:
        pytest.exit(f"vkzc: {e}", returncode=e.return_code)
    config.stash[TARGET] = target
    config.stash[LOAD_BEFORE] = load_average()
    if config.getoption("benchmark_json") is None:
        path = default_path(
            config.getoption("--bench-results"), os.environ.get("VKZC_CELL"), quick=quick(config)
        )
        config.option.benchmark_json = _json_destination(path)


def _json_destination(path: Path) -> Path | AtomicOutput:
    """What --benchmark-json holds: pytest-benchmark 5.3 takes a path, which it opens when it writes;
    earlier versions take a file that argparse opened at start-up."""
    major, minor = (int(part) for part in version("pytest-benchmark").split(".")[:2])
    if (major, minor) >= (5, 3):
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
    return AtomicOutput(path)


def pytest_unconfigure(config: pytest.Config) -> None:
    target = config.stash.get(TARGET, None)
    if target is not None:
        target.instance.close()


def quick(config: pytest.Config) -> bool:
    return bool(config.getoption("--bench-quick"))


def sizes(config: pytest.Config) -> tuple[int, ...]:
    return QUICK_SIZES if quick(config) else SIZES


def import_sizes(config: pytest.Config) -> tuple[int, ...]:
    return QUICK_IMPORT_SIZES if quick(config) else IMPORT_SIZES


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def key(item: pytest.Item) -> tuple[int, int]:
        callspec = getattr(item, "callspec", None)
        size = callspec.params.get("size", 0) if callspec else 0
        module = item.nodeid.split("::")[0].rsplit("/", 1)[-1]
        return (size, _MODULE_ORDER.index(module) if module in _MODULE_ORDER else len(_MODULE_ORDER))

    items.sort(key=key)


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Target:
    return request.config.stash[TARGET]


@pytest.fixture(scope="session")
def device(target: Target) -> Iterator[Device]:
    extensions = [e for e in EXTENSIONS if e in target.physical.extensions]
    with Device(target.physical, extensions=extensions) as device:
        yield device


@pytest.fixture(scope="session")
def kernels(device: Device) -> Kernels:
    return Kernels(device)


@pytest.fixture(scope="session")
def policy(request: pytest.FixtureRequest) -> RoundPolicy:
    return QUICK if quick(request.config) else FULL


@pytest.fixture(autouse=True)
def _case_scope(request: pytest.FixtureRequest) -> Iterator[None]:
    """Free what a benchmark created on the device when it ends: the next size needs the memory."""
    if "device" not in request.fixturenames:
        yield
        return
    device: Device = request.getfixturevalue("device")
    with device.scope():
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A route the device cannot offer is a skip whose reason names what it lacks."""
    try:
        return (yield)
    except Unsupported as e:
        pytest.skip(str(e))


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """A pattern seed that differs per benchmark and is the same on every run and machine."""
    return zlib.crc32(request.node.name.encode())


Timed = Callable[..., None]


@pytest.fixture
def timed(benchmark: Any, policy: RoundPolicy) -> Timed:
    """Time `target` (after `setup`, untimed, each round) and label the figure it gives; `ceiling`,
    the CPU-only operation the path is held against, is timed between its rounds."""

    def run(
        *,
        group: str,
        path: str,
        size: int,
        target: Callable[[], object],
        variant: str = "",
        setup: Callable[[], None] | None = None,
        ceiling: Callable[[], object] | None = None,
    ) -> None:
        benchmark.group = f"{group} {size_id(size)}"
        benchmark.extra_info.update(group=group, path=path, variant=variant, size=size)
        ceiling_s = measure(benchmark, policy, target, setup=setup, reference=ceiling)
        if ceiling_s is not None:
            benchmark.extra_info["ceiling_s"] = ceiling_s

    return run


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    machine_info["vkzc"] = describe(config.stash[TARGET].identity, os.environ).to_json()


def pytest_benchmark_update_json(config: pytest.Config, output_json: dict[str, Any]) -> None:
    machine = describe(config.stash[TARGET].identity, os.environ)
    run = BenchRun(
        identifier=machine.cell or HOST,
        machine=machine,
        datetime=output_json["datetime"],
        quick=quick(config),
        load_before=config.stash[LOAD_BEFORE],
        load_after=load_average(),
        figures=figures_from_benchmarks(output_json["benchmarks"]),
    )
    output_json["vkzc"] = vkzc_section(run)
    config.stash[RUN] = run


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is not None:
        for line in render_summary(run):
            terminalreporter.write_line(line)

"""Who a benchmark ran on: the device and driver, the matrix cell, and how busy the machine was.

pytest-benchmark records the CPU and Python; a figure of ours also depends on the Vulkan driver
and its Mesa version, and on the cell (the container image) it ran in. Load is kept apart from
this identity: it differs on every run and would make every comparison warn.
"""

from __future__ import annotations

import dataclasses
import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Only for the annotation: the report reads BenchMachine on machines without a Vulkan loader.
    from vkzc.vk.instance import DeviceIdentity


@dataclass(frozen=True, kw_only=True)
class BenchMachine:
    cell: str | None  # the matrix cell (VKZC_CELL); None on a plain host run
    runner: str | None
    device: str
    driver: str | None
    driver_version: str
    mesa_version: str | None
    api_version: str
    kernel: str
    cpus: int

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def describe(identity: DeviceIdentity, environ: Mapping[str, str]) -> BenchMachine:
    return BenchMachine(
        cell=environ.get("VKZC_CELL"),
        runner=environ.get("VKZC_RUNNER"),
        device=identity.name,
        driver=identity.driver_name,
        driver_version=identity.driver_version,
        mesa_version=identity.mesa_version,
        api_version=identity.api_version,
        kernel=platform.release(),
        cpus=os.cpu_count() or 0,
    )


def load_average() -> tuple[float, float, float]:
    """1, 5 and 15 minute load averages: beside the figures, so a reader can tell a busy machine."""
    one, five, fifteen = os.getloadavg()
    return (round(one, 2), round(five, 2), round(fifteen, 2))

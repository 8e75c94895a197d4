"""Upgrading result records written by older vkzc versions to the current RESULTS_VERSION.

As in piglit, each step upgrades by exactly one version, so a record of any age reaches the
current one through the chain and no step ever has to know about more than two shapes. A record
without `results_version` is version 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vkzc.results.model import RESULTS_VERSION

Record = dict[str, Any]

# from-version → the function that returns the same record at from-version + 1.
_UPGRADES: dict[int, Callable[[Record], Record]] = {}


def upgrades_from(version: int) -> Callable[[Callable[[Record], Record]], Callable[[Record], Record]]:
    def register(function: Callable[[Record], Record]) -> Callable[[Record], Record]:
        if version in _UPGRADES:
            raise ValueError(f"two upgrades from results_version {version}")
        _UPGRADES[version] = function
        return function

    return register


def upgrade(record: Record) -> Record:
    """The record at RESULTS_VERSION; ValueError for a version this vkzc cannot read."""
    version = record.get("results_version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ValueError(f"results_version {version!r} is not a version number")
    if version > RESULTS_VERSION:
        raise ValueError(f"results_version {version} is newer than this vkzc reads ({RESULTS_VERSION})")
    while version < RESULTS_VERSION:
        record = _UPGRADES[version](record)
        version += 1
        record["results_version"] = version
    return record


@upgrades_from(0)
def _v0_to_v1(record: Record) -> Record:
    """v0, the pre-release format, had neither `results_version` nor `driver_version`.

    The device's driver version was not recorded then and cannot be recovered; "" says unknown.
    """
    return {**record, "driver_version": record.get("driver_version", "")}

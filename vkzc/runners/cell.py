"""How a cell runs: probe the device in its image, check it is the driver the cell claims, run the suite.

Both steps run in least-privilege containers (see container.py). Everything lands in
results/<cell-id>/ on the host as it is written: probe.json, results.jsonl (a record per case,
appended as each case ends), junit.xml, run.log and cell.json.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vkzc.images.plan import icd_dir
from vkzc.matrix.model import Cell
from vkzc.results.store import RESULTS_FILE, read_results
from vkzc.results.summary import Counts, counts_by_path
from vkzc.runners.container import RESULTS_DIR, Container, ContainerSpec, DockerClient, device_gids

SUITE_IN_IMAGE = "/opt/vkzc/src/suite"
DEFAULT_TIMEOUT_S = 30 * 60
PROBE_TIMEOUT_S = 120
# The uid the suite image's user has; a root caller hands it the results directory.
_IMAGE_UID = 1000


class Outcome:
    PASSED = "passed"
    FAILED = "failed"
    BUILD_FAILED = "build-failed"
    RENDERER_MISMATCH = "renderer-mismatch"
    TIMEOUT = "timeout"
    ERROR = "error"


@dataclass(frozen=True, kw_only=True)
class CellResult:
    identifier: str
    outcome: str
    detail: str
    seconds: float
    results_dir: Path
    counts: dict[str, Counts] = field(default_factory=dict)


def results_dir(root: Path, cell: Cell) -> Path:
    return root / cell.identifier


def prepare_results_dir(root: Path, cell: Cell) -> Path:
    """An empty results/<cell-id>/, writable by the container's user."""
    directory = results_dir(root, cell)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    if os.geteuid() == 0:
        os.chown(directory, _IMAGE_UID, _IMAGE_UID)
    return directory


def _user() -> str:
    """The caller's own uid:gid, so results stay theirs; root callers run as the image's user."""
    uid, gid = os.geteuid(), os.getegid()
    return f"{_IMAGE_UID}:{_IMAGE_UID}" if uid == 0 else f"{uid}:{gid}"


def _spec(cell: Cell, image: str, directory: Path, command: tuple[str, ...]) -> ContainerSpec:
    return ContainerSpec(
        image=image,
        command=command,
        environment={
            "VK_DRIVER_FILES": f"{icd_dir(cell.mesa)}/{cell.icd_file}",
            "VKZC_CELL": cell.identifier,
            "VKZC_RUNNER": f"{cell.runner.id}-{cell.arch}",
        },
        user=_user(),
        devices=cell.devices,
        group_add=device_gids(cell.devices),
        results_dir=directory,
    )


def probe_command() -> tuple[str, ...]:
    return ("sh", "-c", f"exec vkzc probe --json > {RESULTS_DIR}/probe.json")


def suite_command() -> tuple[str, ...]:
    return (
        "pytest",
        SUITE_IN_IMAGE,
        "--vkzc-device=0",
        "--vkzc-require-device",
        f"--vkzc-results={RESULTS_DIR}/{RESULTS_FILE}",
        f"--junitxml={RESULTS_DIR}/junit.xml",
    )


def renderer_problem(cell: Cell, probe: Path) -> str | None:
    """None when exactly one device is visible and it is the cell's driver; else what is wrong."""
    try:
        devices = json.loads(probe.read_text())["devices"]
        names = [d["identity"]["name"] for d in devices]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return f"no usable probe record ({e})"
    if len(names) != 1:
        return f"VK_DRIVER_FILES should leave one device visible, the loader saw {names or 'none'}"
    if not cell.driver.renderer_matches(names[0]):
        return f"the device that ran is {names[0]!r}, but {cell.driver.id} is {cell.driver.renderer!r}"
    return None


def run_cell(
    cell: Cell,
    image: str,
    root: Path,
    *,
    client: DockerClient,
    on_line: Callable[[str], None] = lambda line: None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> CellResult:
    start = time.monotonic()
    directory = prepare_results_dir(root, cell)

    def result(outcome: str, detail: str = "") -> CellResult:
        records = read_results(directory / RESULTS_FILE) if (directory / RESULTS_FILE).exists() else []
        return CellResult(
            identifier=cell.identifier,
            outcome=outcome,
            detail=detail,
            seconds=time.monotonic() - start,
            results_dir=directory,
            counts=counts_by_path(records),
        )

    with (directory / "run.log").open("w", encoding="utf-8") as log:

        def pump(container: Container) -> None:
            for line in container.logs():
                log.write(line + "\n")
                log.flush()
                on_line(line)

        def run(command: tuple[str, ...], limit: float) -> int:
            with Container(_spec(cell, image, directory, command), client=client) as container:
                # The output is read beside the wait, so that a hung cell still meets its time limit.
                reader = threading.Thread(target=pump, args=(container,), daemon=True)
                reader.start()
                try:
                    return container.wait(timeout=limit)
                finally:
                    reader.join(timeout=10)

        try:
            if run(probe_command(), PROBE_TIMEOUT_S) != 0:
                return result(Outcome.ERROR, "vkzc probe failed in the cell (see run.log)")
            problem = renderer_problem(cell, directory / "probe.json")
            if problem:
                return result(Outcome.RENDERER_MISMATCH, problem)
            code = run(suite_command(), timeout_s)
        except TimeoutError as e:
            return result(Outcome.TIMEOUT, str(e))
    if code == 0:
        return result(Outcome.PASSED)
    if code == 1:
        return result(Outcome.FAILED, "cases failed (see results.jsonl)")
    tail = (directory / "run.log").read_text().strip().splitlines()[-1:] or [""]
    return result(Outcome.ERROR, f"the suite exited with {code}: {tail[0]}")

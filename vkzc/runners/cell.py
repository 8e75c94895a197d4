"""How a cell runs: probe the device, check it is the driver the cell claims, run the suite.

In a docker cell both steps run in least-privilege containers (container.py); in a host cell
they run as processes of this machine. Either way everything lands in results/<cell-id>/ as
it is written: probe.json, results.jsonl (a record per case, appended as each case ends),
junit.xml and run.log.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

from vkzc.bench.storage import BENCH_FILE
from vkzc.images.plan import REPO, icd_dir
from vkzc.matrix.model import Cell
from vkzc.report.model import Entry
from vkzc.results.cell import CellInfo, write_cell_info
from vkzc.results.directory import cell_baseline, read_cell_results
from vkzc.results.model import CaseResult, Status
from vkzc.results.store import RERUN_FILE, RESULTS_FILE, read_results, write_results
from vkzc.results.summary import counts_by_path
from vkzc.runners.container import RESULTS_DIR, Container, ContainerSpec, DockerClient, device_gids
from vkzc.runners.supervise import supervise

SUITE_IN_IMAGE = "/opt/vkzc/src/suite"
_NO_TESTS = 5  # pytest's exit code when a resumed run found every case already done
_TAIL_LINES = 30
DEFAULT_TIMEOUT_S = 30 * 60
PROBE_TIMEOUT_S = 120
# The uid the suite image's user has; a root caller hands it the results directory.
_IMAGE_UID = 1000

OnLine = Callable[[str], None]


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
    # Per path: its counts, and whether its failures were all expected (the report's marks).
    paths: dict[str, Entry] = field(default_factory=dict)


class Launcher(Protocol):
    """Runs a cell's commands somewhere; the paths are as the commands see them."""

    results: str
    suite: str
    python: str

    def run(self, command: tuple[str, ...], limit: float, on_line: OnLine) -> int: ...


def _pumped(lines: Iterator[str], on_line: OnLine) -> threading.Thread:
    # Output is read beside the wait, so that a hung cell still meets its time limit.
    def pump() -> None:
        for line in lines:
            on_line(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    return reader


class DockerLauncher:
    results = RESULTS_DIR
    suite = SUITE_IN_IMAGE
    python = "python3"

    def __init__(self, cell: Cell, image: str, directory: Path, client: DockerClient) -> None:
        self.cell = cell
        self.image = image
        self.directory = directory
        self.client = client

    def run(self, command: tuple[str, ...], limit: float, on_line: OnLine) -> int:
        spec = ContainerSpec(
            image=self.image,
            command=command,
            environment=cell_environment(self.cell),
            user=_container_user(),
            devices=self.cell.devices,
            group_add=device_gids(self.cell.devices),
            results_dir=self.directory,
        )
        with Container(spec, client=self.client) as container:
            reader = _pumped(container.logs(), on_line)
            try:
                return container.wait(timeout=limit)
            finally:
                reader.join(timeout=10)


class HostLauncher:
    suite = str(REPO / "suite")
    python = sys.executable

    def __init__(self, cell: Cell, directory: Path) -> None:
        self.cell = cell
        self.results = str(directory)

    def run(self, command: tuple[str, ...], limit: float, on_line: OnLine) -> int:
        process = subprocess.Popen(
            command,
            env={**os.environ, **cell_environment(self.cell)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        assert process.stdout is not None
        reader = _pumped((line.rstrip("\n") for line in process.stdout), on_line)
        try:
            return process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"the cell ran longer than {limit} s") from None
        finally:
            # Its own session keeps Ctrl-C from reaching it half-way; it ends with us, whatever happened.
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            reader.join(timeout=10)


def cell_environment(cell: Cell) -> dict[str, str]:
    return {
        "VK_DRIVER_FILES": f"{icd_dir(cell.mesa)}/{cell.icd_file}",
        "VKZC_CELL": cell.identifier,
        "VKZC_RUNNER": f"{cell.runner.id}-{cell.arch}",
    }


def _container_user() -> str:
    """The caller's own uid:gid, so results stay theirs; root callers run as the image's user."""
    uid, gid = os.geteuid(), os.getegid()
    return f"{_IMAGE_UID}:{_IMAGE_UID}" if uid == 0 else f"{uid}:{gid}"


def results_dir(root: Path, cell: Cell) -> Path:
    return root / cell.identifier


def prepare_results_dir(root: Path, cell: Cell, *, for_container: bool, keep: bool) -> Path:
    """results/<cell-id>/, emptied unless `keep` (a resumed run), writable by whoever runs the cell."""
    directory = results_dir(root, cell)
    if directory.exists() and not keep:
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if for_container and os.geteuid() == 0:
        os.chown(directory, _IMAGE_UID, _IMAGE_UID)
    return directory


def probe_command(launcher: Launcher) -> tuple[str, ...]:
    output = shlex.quote(f"{launcher.results}/probe.json")
    return ("sh", "-c", f"exec {shlex.quote(launcher.python)} -m vkzc probe --json > {output}")


def suite_command(
    launcher: Launcher, cell: Cell, *, resume: bool, cases: str | None = None
) -> tuple[str, ...]:
    """The suite over the cell's device. A fresh run must execute something on it; a resumed one
    (after a crash, or `vkzc matrix run --resume`) keeps the finished records and runs the rest.
    `cases` is a pytest -k expression that runs only the matching cases."""
    return (
        launcher.python,
        "-m",
        "pytest",
        launcher.suite,
        "--vkzc-device=0",
        f"--vkzc-results={launcher.results}/{RESULTS_FILE}",
        f"--junitxml={launcher.results}/junit.xml",
        *(f"--vkzc-timeout={path}={seconds:g}" for path, seconds in cell.runner.timeouts),
        "--vkzc-resume" if resume else "--vkzc-require-device",
        *(("-k", cases) if cases else ()),
    )


def bench_command(launcher: Launcher) -> tuple[str, ...]:
    """The benchmarks (bench/, beside the suite) on the cell's device, into the cell's bench.json."""
    return (
        launcher.python,
        "-m",
        "pytest",
        str(PurePosixPath(launcher.suite).parent / "bench"),
        "--vkzc-device=0",
        f"--benchmark-json={launcher.results}/{BENCH_FILE}",
    )


def rerun_command(launcher: Launcher, case_ids: Sequence[str]) -> tuple[str, ...]:
    """The unexpected failures once more, to tell a flake from a regression."""
    return (
        launcher.python,
        "-m",
        "pytest",
        *(f"{launcher.suite}/{case_id}" for case_id in case_ids),
        "--vkzc-device=0",
        f"--vkzc-results={launcher.results}/{RERUN_FILE}",
    )


def _tail(log: Path) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-_TAIL_LINES:])


def rerun_unexpected(
    launcher: Launcher, directory: Path, failed: Sequence[str], reruns: int, limit: float, logged: OnLine
) -> None:
    """Run the unexpected failures again, up to `reruns` times, until each has passed once (a
    flake) or failed every time (a regression). rerun.jsonl keeps each case's last record."""
    kept: dict[str, CaseResult] = {}
    pending = tuple(failed)
    for _ in range(reruns):
        if not pending:
            break
        launcher.run(rerun_command(launcher, pending), limit, logged)
        path = directory / RERUN_FILE
        latest = {r.case_id: r for r in read_results(path)} if path.exists() else {}
        kept.update(latest)
        write_results(path, kept.values())
        pending = tuple(c for c in pending if c not in latest or latest[c].status is not Status.PASS)


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
    directory: Path,
    launcher: Launcher,
    *,
    expectations: Path | None,
    resume: bool = False,
    reruns: int = 1,
    bench: bool = False,
    cases: str | None = None,
    on_line: OnLine = lambda line: None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> CellResult:
    """Probe, check the renderer, run the suite (in a fresh process after each crash), rerun
    unexpected failures up to `reruns` times, and with `bench` run the benchmarks; the verdict is
    the suite's results against the cell's expectations (benchmarks are figures, never part of it).
    With `cases` (a pytest -k expression) only those cases run, and expected failures that did not
    run are not reported as missing."""
    start = time.monotonic()
    problems: list[str] = []
    write_cell_info(directory, CellInfo.from_matrix_cell(cell))

    def result(outcome: str, detail: str = "") -> CellResult:
        paths: dict[str, Entry] = {}
        if (directory / RESULTS_FILE).exists():
            results = read_cell_results(directory)
            outcomes = cell_baseline(results, expectations).outcomes
            for path, path_counts in counts_by_path(results.records).items():
                unexpected = sum(1 for o in outcomes if o.path == path and o.outcome.breaks_verdict)
                paths[path] = Entry(counts=path_counts, unexpected=unexpected)
        return CellResult(
            identifier=cell.identifier,
            outcome=outcome,
            detail=detail,
            seconds=time.monotonic() - start,
            results_dir=directory,
            paths=paths,
        )

    with (directory / "run.log").open("w", encoding="utf-8") as log:

        def logged(line: str) -> None:
            log.write(line + "\n")
            log.flush()
            on_line(line)

        try:
            if launcher.run(probe_command(launcher), PROBE_TIMEOUT_S, logged) != 0:
                return result(Outcome.ERROR, "vkzc probe failed in the cell (see run.log)")
            problem = renderer_problem(cell, directory / "probe.json")
            if problem:
                return result(Outcome.RENDERER_MISMATCH, problem)
            code, restarts = supervise(
                lambda again: launcher.run(
                    suite_command(launcher, cell, resume=again, cases=cases), timeout_s, logged
                ),
                directory / RESULTS_FILE,
                lambda: _tail(directory / "run.log"),
                resume=resume,
            )
            if restarts:
                logged(f"vkzc: the suite went on in a fresh process {restarts} time(s) after a crash or hang")
            if code not in (0, 1, _NO_TESTS):
                tail = (directory / "run.log").read_text().strip().splitlines()[-1:] or [""]
                return result(Outcome.ERROR, f"the suite exited with {code}: {tail[0]}")
            baseline = cell_baseline(read_cell_results(directory), expectations)
            if baseline.needs_rerun():
                rerun_unexpected(launcher, directory, baseline.needs_rerun(), reruns, timeout_s, logged)
                baseline = cell_baseline(read_cell_results(directory), expectations)
            if bench and launcher.run(bench_command(launcher), timeout_s, logged) != 0:
                problems.append("the benchmarks failed (see run.log)")
        except TimeoutError as e:
            return result(Outcome.TIMEOUT, str(e))
    problems[:0] = baseline.problems(missing=cases is None)
    return result(Outcome.PASSED if baseline.green else Outcome.FAILED, "; ".join(problems))

"""Crash, hang and interrupt safety, proven on the real driver with fault injection (README, reliability).

Nothing here is mocked: the injected cases really kill the process (signals), really hang the
GPU (a shader that runs for days) or really stop responding (a sleep the watchdog must end).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from vulkan_device import open_first_device

from vkzc.results.model import Status
from vkzc.results.store import read_results
from vkzc.runners.supervise import describe_exit, supervise

ROOT = Path(__file__).resolve().parent.parent
SELECTION = "fault_injection or (mapped and (4KiB or 64KiB or 1MiB))"


@pytest.fixture(scope="module", autouse=True)
def _needs_device() -> None:
    for _ in open_first_device():
        pass


def test_exit_descriptions() -> None:
    assert describe_exit(-11) == "killed by SIGSEGV"
    assert describe_exit(139) == "killed by SIGSEGV"
    assert describe_exit(137) == "killed by SIGKILL"
    assert describe_exit(75) == "exit status 75"
    assert describe_exit(250) == "the guest kernel panicked"


def test_injected_crashes_and_hangs_cost_one_case_each(tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    log = tmp_path / "run.log"

    def run(resume: bool) -> int:
        command = [
            sys.executable, "-m", "pytest", "suite", "-q", "-p", "no:faulthandler",
            "--vkzc-fault-injection", "-k", SELECTION, f"--vkzc-results={results}",
            "--vkzc-timeout=fault-injection=3", "--vkzc-resume" if resume else "--vkzc-require-device",
        ]  # fmt: skip
        with log.open("a") as out:
            return subprocess.run(
                command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=300
            ).returncode

    code, restarts = supervise(run, results, lambda: log.read_text()[-2000:])
    records = read_results(results)
    by_status = Counter(r.status for r in records)
    injected = {r.case_id: r for r in records if r.path == "fault-injection"}
    assert code == 0 and restarts == 5
    assert by_status == {Status.PASS: 9, Status.CRASH: 3, Status.TIMEOUT: 2}
    for name in ("SIGSEGV", "SIGABRT", "SIGBUS"):
        crash = injected[f"test_fault_injection.py::test_crash[{name}]"]
        assert crash.status is Status.CRASH and f"killed by {name}" in crash.reason
    assert "vkWaitForFences" in injected["test_fault_injection.py::test_gpu_hang"].reason
    assert "watchdog" in injected["test_fault_injection.py::test_cpu_hang"].reason
    assert len(records) == len({r.case_id for r in records}) == 14


def _matrix(tmp_path: Path) -> Path:
    """A one-cell matrix: lavapipe as installed on this machine, run by a host runner."""
    icds = sorted(Path("/usr/share/vulkan/icd.d").glob("lvp_icd*.json"))
    if not icds:
        pytest.skip("needs lavapipe's ICD in /usr/share/vulkan/icd.d (mesa-vulkan-drivers)")
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(
        f"""
mesa:
  - id: here
    source: {{kind: installed, version: system, icd_dir: /usr/share/vulkan/icd.d,
              icd_arch_suffix: {str(icds[0].name != "lvp_icd.json").lower()}}}
drivers:
  - {{id: lavapipe, icd: "lvp_icd.{{arch}}.json", renderer: "llvmpipe*", mesa_driver: swrast}}
runners:
  - {{id: host, kind: host, arch: amd64}}
cells:
  include: [{{mesa: here, driver: lavapipe, runner: host}}]
default: ["*"]
"""
    )
    return matrix


def _vkzc(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "vkzc", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip


def test_a_killed_run_resumes_to_the_same_results(tmp_path: Path) -> None:
    matrix = _matrix(tmp_path)
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    assert _vkzc("matrix", "run", "--matrix", str(matrix), "--results", str(clean)).wait(timeout=600) == 0
    reference = {r.case_id: r.status for r in read_results(clean / "here/lavapipe/host-amd64/results.jsonl")}

    run = _vkzc("matrix", "run", "--matrix", str(matrix), "--results", str(killed))
    partial = killed / "here/lavapipe/host-amd64/results.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if partial.exists() and sum(1 for line in partial.read_text().splitlines() if '"pass"' in line) >= 10:
            break
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    before = read_results(partial)
    assert 10 <= len(before) < len(reference), "the run was to be killed half way"

    resumed = _vkzc("matrix", "run", "--matrix", str(matrix), "--results", str(killed), "--resume")
    output = resumed.communicate(timeout=600)[0]
    assert resumed.returncode == 0, output
    after = {r.case_id: r for r in read_results(partial)}
    assert {case: r.status for case, r in after.items()} == reference
    # What had finished before the kill is kept as it was, not run again.
    assert all(after[r.case_id] == r for r in before if r.status is not Status.INCOMPLETE)


def test_sigterm_stops_cleanly_with_a_summary(tmp_path: Path) -> None:
    matrix = _matrix(tmp_path)
    run = _vkzc("matrix", "run", "--matrix", str(matrix), "--results", str(tmp_path / "r"))
    partial = tmp_path / "r/here/lavapipe/host-amd64/results.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (partial.exists() and partial.read_text().count("\n") >= 5):
        time.sleep(0.05)
    run.send_signal(signal.SIGTERM)
    output = run.communicate(timeout=60)[0]
    assert run.returncode == 130, output
    assert "interrupted: 0 of 1 cells finished" in output and "--resume" in output
    assert len(read_results(partial)) >= 5
    # The suite's process (its own session) went with it.
    leftovers = subprocess.run(["pgrep", "-f", str(partial.parent)], capture_output=True, text=True).stdout
    assert leftovers == ""


def test_cases_runs_only_the_matching_cases(tmp_path: Path) -> None:
    matrix = _matrix(tmp_path)
    run = _vkzc(
        "matrix",
        "run",
        "--matrix",
        str(matrix),
        "--results",
        str(tmp_path),
        "--cases",
        "host_pointer and 64KiB",
    )
    output = run.communicate(timeout=600)[0]
    assert run.returncode == 0, output
    records = read_results(tmp_path / "here/lavapipe/host-amd64/results.jsonl")
    assert records and all("host_pointer" in r.case_id and "64KiB" in r.case_id for r in records)

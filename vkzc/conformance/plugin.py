"""The pytest plugin of the conformance suite: picks the target device and records one result per case.

Each case's record is appended to the --vkzc-results JSONL file and synced to disk as soon
as the case finishes, so a run that dies keeps everything it finished.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import pytest

from vkzc.conformance.kernels import Kernels
from vkzc.conformance.target import Target, open_target
from vkzc.errors import FatalError
from vkzc.results.model import CaseResult, Status
from vkzc.shaders import spirv

TARGET = pytest.StashKey[Target]()
_OUTPUT_TAIL_LINES = 20


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vkzc")
    group.addoption("--vkzc-device", help="device index or name glob (default: VKZC_DEVICE, else device 0)")
    group.addoption(
        "--vkzc-results",
        type=Path,
        help="write one JSON line per case to this file (started afresh) as each ends",
    )
    group.addoption(
        "--vkzc-require-device",
        action="store_true",
        help="fail the session if no case executed on the device (so a machine cannot pass by skipping)",
    )


def pytest_configure(config: pytest.Config) -> None:
    try:
        for name in Kernels.SHADERS:
            spirv(name)
        target = open_target(config.getoption("--vkzc-device"))
    except FatalError as e:
        pytest.exit(f"vkzc: {e}", returncode=e.return_code)
    config.stash[TARGET] = target
    config.pluginmanager.register(Recorder(config, target), "vkzc-recorder")


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Target:
    return request.config.stash[TARGET]


class Recorder:
    def __init__(self, config: pytest.Config, target: Target) -> None:
        self.config = config
        self.target = target
        self.destination: Path | None = config.getoption("--vkzc-results")
        if self.destination is not None:
            self.destination.parent.mkdir(parents=True, exist_ok=True)
            self.destination.write_text("")
        self.cases: dict[str, tuple[str, dict[str, Any]]] = {}
        self.pending: dict[str, list[pytest.TestReport]] = {}
        self.counts = dict.fromkeys(Status, 0)

    def pytest_report_header(self) -> str:
        ident = self.target.identity
        driver = ident.driver_info or ident.driver_version
        return f"vkzc target: {ident.name} — {driver} (Vulkan {ident.api_version})"

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            marker = item.get_closest_marker("path")
            if marker is None:
                raise pytest.UsageError(
                    f"{item.nodeid} has no @pytest.mark.path(...): every case belongs to a path"
                )
            callspec = getattr(item, "callspec", None)
            self.cases[item.nodeid] = (marker.args[0], dict(callspec.params) if callspec else {})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.pending.setdefault(report.nodeid, []).append(report)
        if report.when != "teardown":
            return
        record = self._record(report.nodeid, self.pending.pop(report.nodeid))
        self.counts[record.status] += 1
        if self.destination is not None:
            _append(self.destination, record)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.config.getoption("--vkzc-require-device"):
            return
        executed = sum(n for status, n in self.counts.items() if status not in (Status.SKIP, Status.NOTRUN))
        if executed == 0:
            self.config.get_terminal_writer().line(
                "vkzc: no case executed on a Vulkan device (all skipped or none collected); failing the run",
                red=True,
            )
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_unconfigure(self) -> None:
        self.target.instance.close()

    def _record(self, nodeid: str, reports: list[pytest.TestReport]) -> CaseResult:
        ident = self.target.identity
        path, params = self.cases.get(nodeid, ("unknown", {}))
        status, reason = _status(reports)
        tail = ""
        if status is Status.FAIL:
            text = "\n".join(r.longreprtext for r in reports if r.failed)
            tail = "\n".join(text.splitlines()[-_OUTPUT_TAIL_LINES:])
        return CaseResult(
            path=path,
            case_id=nodeid.rsplit("/", 1)[-1],
            params={k: v if isinstance(v, int | str | float) else str(v) for k, v in params.items()},
            device=ident.name,
            driver=ident.driver_name,
            driver_version=ident.driver_version,
            mesa_version=ident.mesa_version,
            kernel=platform.release(),
            cell=os.environ.get("VKZC_CELL"),
            runner=os.environ.get("VKZC_RUNNER"),
            status=status,
            reason=reason,
            duration_s=round(sum(r.duration for r in reports), 6),
            output_tail=tail,
        )


def _status(reports: list[pytest.TestReport]) -> tuple[Status, str]:
    for report in reports:
        if report.skipped:
            return Status.SKIP, _skip_reason(report)
        if report.failed:
            return Status.FAIL, _failure_line(report)
    return Status.PASS, ""


def _skip_reason(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return str(report.longrepr)


def _failure_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = (crash.message if crash is not None else report.longreprtext).strip()
    return message.splitlines()[0] if message else f"failed in {report.when}"


def _append(destination: Path, record: CaseResult) -> None:
    with destination.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record.to_json(), sort_keys=True) + "\n")
        out.flush()
        os.fsync(out.fileno())

"""The pytest plugin of the conformance suite: the target device, and one result record per case.

Records are crash-safe: before a case starts, an `incomplete` record for it is written; when it
ends, the record is replaced by its outcome. Every write replaces the results file atomically,
so a process that dies (a driver segfault, a power cut, a killed container) leaves every
finished record intact and `incomplete` for the case in flight — which the runner then records
as a crash (vkzc/runners/supervise.py) and `--vkzc-resume` skips.

Hangs: every case runs under a watchdog with a per-path time limit; a case still running past
it, or one whose GPU work timed out (the device is then wedged), is recorded as `timeout` and
the process ends with EXIT_AFTER_TIMEOUT, for the runner to go on in a fresh one.
"""

from __future__ import annotations

import os
import platform
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vkzc.conformance.exits import EXIT_AFTER_TIMEOUT
from vkzc.conformance.kernels import Kernels
from vkzc.conformance.target import Target, open_target
from vkzc.errors import ConfigurationError, FatalError
from vkzc.results.model import CaseResult, Status
from vkzc.results.store import read_results, write_results
from vkzc.shaders import spirv
from vkzc.vk.errors import GpuTimeout

TARGET = pytest.StashKey[Target]()
FAULT_INJECTION = "fault-injection"
# Seconds a case of each path may take before the watchdog ends it; --vkzc-timeout overrides.
DEFAULT_TIMEOUTS = {"mapped": 60.0, "host-pointer": 60.0, FAULT_INJECTION: 10.0}
FALLBACK_TIMEOUT = 120.0
_OUTPUT_TAIL_LINES = 20


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vkzc")
    group.addoption("--vkzc-device", help="device index or name glob (default: VKZC_DEVICE, else device 0)")
    group.addoption(
        "--vkzc-results",
        type=Path,
        help="keep one JSON record per case in this file, written as each case starts and ends",
    )
    group.addoption(
        "--vkzc-resume",
        action="store_true",
        help="keep the finished records already in --vkzc-results and run only the other cases",
    )
    group.addoption(
        "--vkzc-require-device",
        action="store_true",
        help="fail the session if no case executed on the device (so a machine cannot pass by skipping)",
    )
    group.addoption(
        "--vkzc-timeout",
        action="append",
        default=[],
        metavar="PATH=SECONDS",
        help=f"time limit of one case of a path (defaults: {DEFAULT_TIMEOUTS}, else {FALLBACK_TIMEOUT:g})",
    )
    group.addoption(
        "--vkzc-fault-injection",
        action="store_true",
        help="also run the fault-injection cases, which crash or hang on purpose (never in a normal run)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "path(name): the zero-copy path a case belongs to")
    try:
        timeouts = _timeouts(config.getoption("--vkzc-timeout"))
        for name in Kernels.SHADERS:
            spirv(name)
        target = open_target(config.getoption("--vkzc-device"))
    except FatalError as e:
        pytest.exit(f"vkzc: {e}", returncode=e.return_code)
    config.stash[TARGET] = target
    config.pluginmanager.register(Recorder(config, target, timeouts), "vkzc-recorder")


def _timeouts(options: list[str]) -> dict[str, float]:
    timeouts = dict(DEFAULT_TIMEOUTS)
    for option in options:
        path, _, seconds = option.partition("=")
        try:
            timeouts[path] = float(seconds)
        except ValueError:
            raise ConfigurationError(
                f"--vkzc-timeout {option!r} is not PATH=SECONDS", "e.g. --vkzc-timeout mapped=120"
            ) from None
    return timeouts


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Target:
    return request.config.stash[TARGET]


class Recorder:
    def __init__(self, config: pytest.Config, target: Target, timeouts: dict[str, float]) -> None:
        self.config = config
        self.target = target
        self.timeouts = timeouts
        self.destination: Path | None = config.getoption("--vkzc-results")
        self.records: dict[str, CaseResult] = {}
        # The watchdog writes from its own thread.
        self.lock = threading.Lock()
        if self.destination is not None:
            self.destination.parent.mkdir(parents=True, exist_ok=True)
            if config.getoption("--vkzc-resume") and self.destination.exists():
                self.records = {r.case_id: r for r in read_results(self.destination)}
            self._flush()
        self.cases: dict[str, tuple[str, dict[str, Any]]] = {}
        self.pending: dict[str, list[pytest.TestReport]] = {}
        self.gpu_timeouts: set[str] = set()
        self.executed = 0

    def pytest_report_header(self) -> str:
        ident = self.target.identity
        driver = ident.driver_info or ident.driver_version
        return f"vkzc target: {ident.name} — {driver} (Vulkan {ident.api_version})"

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        faults = config.getoption("--vkzc-fault-injection")
        kept: list[pytest.Item] = []
        dropped: list[pytest.Item] = []
        for item in items:
            marker = item.get_closest_marker("path")
            if marker is None:
                raise pytest.UsageError(
                    f"{item.nodeid} has no @pytest.mark.path(...): every case belongs to a path"
                )
            callspec = getattr(item, "callspec", None)
            self.cases[_case_id(item.nodeid)] = (marker.args[0], dict(callspec.params) if callspec else {})
            finished = self.records.get(_case_id(item.nodeid))
            done = finished is not None and finished.status is not Status.INCOMPLETE
            injected = marker.args[0] == FAULT_INJECTION
            (dropped if done or (injected and not faults) else kept).append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Iterator[None]:
        case_id = _case_id(item.nodeid)
        self._store(self._record(case_id, Status.INCOMPLETE, "the case started and has not ended", 0.0))
        limit = self.timeouts.get(self.cases[case_id][0], FALLBACK_TIMEOUT)
        watchdog = threading.Timer(limit, self._hung, args=(case_id, limit))
        watchdog.daemon = True
        watchdog.start()
        try:
            return (yield)
        finally:
            watchdog.cancel()
            if case_id in self.gpu_timeouts:
                # The device is wedged: nothing more can run in this process.
                os._exit(EXIT_AFTER_TIMEOUT)

    def _hung(self, case_id: str, limit: float) -> None:
        self._store(
            self._record(
                case_id, Status.TIMEOUT, f"still running after {limit:g} s: ended by the watchdog", limit
            )
        )
        os._exit(EXIT_AFTER_TIMEOUT)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
        report = yield
        if call.excinfo is not None and call.excinfo.errisinstance(GpuTimeout):
            self.gpu_timeouts.add(_case_id(item.nodeid))
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.pending.setdefault(report.nodeid, []).append(report)
        if report.when != "teardown":
            return
        reports = self.pending.pop(report.nodeid)
        case_id = _case_id(report.nodeid)
        status, reason = _status(reports)
        answers = [value for r in reports for name, value in r.user_properties if name == "driver_answer"]
        if status is Status.PASS and answers:
            # What a driver said to an invalid request is the finding of a negative case.
            reason = f"driver answered {answers[-1]}"
        if case_id in self.gpu_timeouts:
            status = Status.TIMEOUT
        tail = ""
        if status in (Status.FAIL, Status.TIMEOUT):
            text = "\n".join(r.longreprtext for r in reports if r.failed)
            tail = "\n".join(text.splitlines()[-_OUTPUT_TAIL_LINES:])
        self._store(self._record(case_id, status, reason, sum(r.duration for r in reports), tail))
        if status.executed:
            self.executed += 1

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.config.getoption("--vkzc-require-device") and self.executed == 0:
            self.config.get_terminal_writer().line(
                "vkzc: no case executed on a Vulkan device (all skipped or none collected); failing the run",
                red=True,
            )
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_unconfigure(self) -> None:
        self.target.instance.close()

    def _store(self, record: CaseResult) -> None:
        with self.lock:
            self.records[record.case_id] = record
            self._flush()

    def _flush(self) -> None:
        if self.destination is not None:
            write_results(self.destination, self.records.values())

    def _record(
        self, case_id: str, status: Status, reason: str, duration: float, tail: str = ""
    ) -> CaseResult:
        ident = self.target.identity
        path, params = self.cases.get(case_id, ("unknown", {}))
        return CaseResult(
            path=path,
            case_id=case_id,
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
            duration_s=round(duration, 6),
            output_tail=tail,
        )


def _case_id(nodeid: str) -> str:
    """`test_mapped.py::test_x[...]`, whatever directory pytest was started from."""
    return nodeid.rsplit("/", 1)[-1]


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

"""Unexpected failures are run again up to --reruns times: passing once makes a flake, failing every
time a regression. The launcher is a stand-in that plays the suite's part; no Vulkan needed."""

from __future__ import annotations

from pathlib import Path

from test_results_model import record

from vkzc.results.baseline import Outcome, apply_expectations
from vkzc.results.expectations import Expectations
from vkzc.results.model import Status
from vkzc.results.store import RERUN_FILE, read_results, write_results
from vkzc.runners.cell import rerun_unexpected

FLAKY = "test_mapped.py::test_mapped_roundtrip[type0-X-4KiB-offset0]"
BROKEN = "test_mapped.py::test_mapped_roundtrip[type0-X-64KiB-offset0]"


class ScriptedLauncher:
    """Each run writes rerun.jsonl afresh, as the plugin does, with the statuses of that attempt."""

    results = "/results"
    suite = "/suite"
    python = "python3"

    def __init__(self, directory: Path, attempts: list[dict[str, Status]]) -> None:
        self.directory = directory
        self.attempts = attempts
        self.asked: list[list[str]] = []

    def run(self, command: tuple[str, ...], limit: float, on_line: object) -> int:
        asked = [arg.removeprefix("/suite/") for arg in command if arg.startswith("/suite/")]
        self.asked.append(asked)
        statuses = self.attempts[len(self.asked) - 1]
        write_results(self.directory / RERUN_FILE, [record(case_id=c, status=statuses[c]) for c in asked])
        return 0


def test_a_case_that_passes_on_its_second_rerun_is_a_flake(tmp_path: Path) -> None:
    launcher = ScriptedLauncher(
        tmp_path,
        [
            {FLAKY: Status.FAIL, BROKEN: Status.FAIL},
            {FLAKY: Status.PASS, BROKEN: Status.FAIL},
            {BROKEN: Status.FAIL},
        ],
    )
    rerun_unexpected(launcher, tmp_path, [FLAKY, BROKEN], 3, 60, lambda line: None)
    assert launcher.asked == [[FLAKY, BROKEN], [FLAKY, BROKEN], [BROKEN]]
    kept = {r.case_id: r.status for r in read_results(tmp_path / RERUN_FILE)}
    assert kept == {FLAKY: Status.PASS, BROKEN: Status.FAIL}

    first_run = [record(case_id=FLAKY, status=Status.FAIL), record(case_id=BROKEN, status=Status.FAIL)]
    outcomes = apply_expectations(first_run, Expectations(), reruns=read_results(tmp_path / RERUN_FILE))
    assert {o.case_id: o.outcome for o in outcomes.outcomes} == {
        FLAKY: Outcome.FLAKE,
        BROKEN: Outcome.UNEXPECTED_FAIL,
    }


def test_one_rerun_by_default_stops_after_one_attempt(tmp_path: Path) -> None:
    launcher = ScriptedLauncher(tmp_path, [{BROKEN: Status.FAIL}, {BROKEN: Status.PASS}])
    rerun_unexpected(launcher, tmp_path, [BROKEN], 1, 60, lambda line: None)
    assert launcher.asked == [[BROKEN]]
    assert [r.status for r in read_results(tmp_path / RERUN_FILE)] == [Status.FAIL]

"""Expectation files in Mesa CI's format, and the baseline outcomes and verdict they give a cell."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_results_model import MAPPED_ID, record
from vulkan_device import open_first_device

from vkzc.errors import ConfigurationError
from vkzc.results.baseline import Outcome, apply_expectations
from vkzc.results.expectations import Expectations, load_expectations, parse_fails, parse_patterns
from vkzc.results.model import Status
from vkzc.results.store import read_results

REPO = Path(__file__).resolve().parents[1]
HOST_ID = "test_host_pointer.py::test_host_pointer[memfd-gpu-writes-64MiB]"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def expect(tmp_path: Path, fails: str = "", flakes: str = "", skips: str = "") -> Expectations:
    for kind, text in (("fails", fails), ("flakes", flakes), ("skips", skips)):
        write(tmp_path / f"lavapipe-{kind}.txt", text)
    return load_expectations(tmp_path, driver="lavapipe")


def test_a_fails_line_keeps_everything_before_the_last_comma_as_the_id(tmp_path: Path) -> None:
    path = write(
        tmp_path / "lavapipe-fails.txt",
        f"# lavapipe, Mesa 26.2.6: a header\n\n{MAPPED_ID},Fail\n  test_x.py::test_x[a,b-c] , Crash  \n",
    )
    failures = parse_fails(path)
    assert [(f.case_id, f.status, f.source.line) for f in failures] == [
        (MAPPED_ID, Status.FAIL, 3),
        ("test_x.py::test_x[a,b-c]", Status.CRASH, 4),
    ]
    assert str(failures[0].source) == f"{path}:3"


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("no-comma-here", "not a `case-id,Status` line"),
        (",Fail", "not a `case-id,Status` line"),
        (f"{MAPPED_ID},Pass", "unknown status 'Pass'"),
        (f"{MAPPED_ID},fail", "unknown status 'fail'"),
    ],
)
def test_a_malformed_fails_line_names_file_and_line(tmp_path: Path, line: str, says: str) -> None:
    path = write(tmp_path / "lavapipe-fails.txt", f"# header\n{line}\n")
    with pytest.raises(ConfigurationError, match=rf"^{path}:2: ") as caught:
        parse_fails(path)
    assert says in str(caught.value)


def test_patterns_are_searched_regexes_and_a_bad_one_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "lavapipe-flakes.txt", "# c\nhost_pointer\\[memfd-.*-64MiB\\]\n")
    (pattern,) = parse_patterns(path)
    assert pattern.matches(HOST_ID) and not pattern.matches(MAPPED_ID)
    bad = write(tmp_path / "lavapipe-skips.txt", f"{MAPPED_ID.replace(']', '')}\n")
    with pytest.raises(ConfigurationError, match=rf"^{bad}:1: not a regular expression"):
        parse_patterns(bad)


def test_general_runner_and_mesa_version_files_are_merged(tmp_path: Path) -> None:
    write(tmp_path / "lavapipe-fails.txt", "a,Fail\n")
    write(tmp_path / "lavapipe-local-fails.txt", "b,Fail\n")
    write(tmp_path / "mesa-26.2.6" / "lavapipe-fails.txt", "c,Timeout\n")
    write(tmp_path / "mesa-25.0.7" / "lavapipe-fails.txt", "d,Fail\n")
    write(tmp_path / "v3dv-fails.txt", "e,Fail\n")
    merged = load_expectations(tmp_path, driver="lavapipe", runner="local", mesa_version="26.2.6")
    assert [f.case_id for f in merged.fails] == ["a", "b", "c"]
    assert merged.files == (
        tmp_path / "lavapipe-fails.txt",
        tmp_path / "lavapipe-local-fails.txt",
        tmp_path / "mesa-26.2.6" / "lavapipe-fails.txt",
    )
    assert [f.case_id for f in load_expectations(tmp_path, driver="lavapipe").fails] == ["a"]


def test_a_case_expected_twice_names_both_lines(tmp_path: Path) -> None:
    write(tmp_path / "lavapipe-fails.txt", "a,Fail\n")
    write(tmp_path / "mesa-26.2.6" / "lavapipe-fails.txt", "# c\na,Crash\n")
    with pytest.raises(
        ConfigurationError, match=r"mesa-26.2.6/lavapipe-fails.txt:2: a is already expected at"
    ):
        load_expectations(tmp_path, driver="lavapipe", mesa_version="26.2.6")


@pytest.mark.parametrize("name", ["lavapipe-fail.txt", "notes.md", "26.2.6/lavapipe-fails.txt"])
def test_a_file_no_cell_would_read_is_refused(tmp_path: Path, name: str) -> None:
    write(tmp_path / name, "")
    with pytest.raises(ConfigurationError, match="not an expectations"):
        load_expectations(tmp_path, driver="lavapipe")


def test_each_outcome(tmp_path: Path) -> None:
    expectations = expect(
        tmp_path,
        fails="expected-fail,Fail\nnow-passes,Fail\nwas-fail-now-crash,Fail\nmissing-case,Crash\n",
        flakes="known-flaky\n",
        skips="too-slow\n",
    )
    records = [
        record(case_id="passes"),
        record(case_id="capability-missing", status=Status.SKIP),
        record(case_id="too-slow", status=Status.TIMEOUT),
        record(case_id="expected-fail", status=Status.FAIL),
        record(case_id="now-passes"),
        record(case_id="was-fail-now-crash", status=Status.CRASH),
        record(case_id="known-flaky", status=Status.FAIL),
        record(case_id="flaky", status=Status.FAIL),
        record(case_id="regressed", status=Status.FAIL),
        record(case_id="skip-listed-in-fails", status=Status.SKIP),
    ]
    reruns = [record(case_id="flaky"), record(case_id="regressed", status=Status.FAIL)]
    baseline = apply_expectations(records, expectations, reruns=reruns)
    outcomes = {o.case_id: o.outcome for o in baseline.outcomes}
    assert outcomes == {
        "passes": Outcome.PASS,
        "capability-missing": Outcome.SKIP,
        "too-slow": Outcome.SKIP,
        "expected-fail": Outcome.EXPECTED_FAIL,
        "now-passes": Outcome.UNEXPECTED_PASS,
        "was-fail-now-crash": Outcome.UNEXPECTED_FAIL,
        "known-flaky": Outcome.KNOWN_FLAKE,
        "flaky": Outcome.FLAKE,
        "regressed": Outcome.UNEXPECTED_FAIL,
        "skip-listed-in-fails": Outcome.SKIP,
        "missing-case": Outcome.MISSING,
    }
    assert not baseline.green
    # Only what was not rerun yet is to be rerun.
    assert baseline.needs_rerun() == ("was-fail-now-crash",)
    fails = tmp_path / "lavapipe-fails.txt"
    assert baseline.problems() == (
        f"unexpected crash: was-fail-now-crash (expected {fails}:3)",
        "unexpected fail: regressed, and fail again when rerun",
        f"unexpected pass: now-passes — remove line {fails}:2",
        "flake: flaky failed, then passed when rerun",
        f"missing: missing-case is not in the results — remove line {fails}:4",
    )
    # A run of some cases only (`vkzc matrix run --cases`) left the others out on purpose.
    assert not any(line.startswith("missing:") for line in baseline.problems(missing=False))


def test_expected_failures_flakes_and_stale_entries_keep_a_cell_green(tmp_path: Path) -> None:
    expectations = expect(tmp_path, fails="a,Fail\ngone,Fail\n", flakes="^b$\n")
    records = [record(case_id="a", status=Status.FAIL), record(case_id="b", status=Status.CRASH)]
    baseline = apply_expectations(records, expectations, reruns=[])
    assert baseline.green and baseline.needs_rerun() == ()


def test_an_unexpected_failure_needs_a_rerun_before_it_is_called_a_regression(tmp_path: Path) -> None:
    records = [record(case_id="a", status=Status.INCOMPLETE), record(case_id="b")]
    first = apply_expectations(records, Expectations())
    assert first.needs_rerun() == ("a",) and not first.green
    second = apply_expectations(records, Expectations(), reruns=[record(case_id="a")])
    assert second.needs_rerun() == () and second.green
    assert second.by_case()["a"].outcome is Outcome.FLAKE


def test_the_shipped_expectations_parse_and_say_where_they_come_from() -> None:
    expectations = load_expectations(
        REPO / "expectations", driver="lavapipe", runner="local", mesa_version="22.3.6"
    )
    assert expectations.fails == () and expectations.flakes == () and expectations.skips == ()
    for path in expectations.files:
        header = path.read_text()
        assert "upstream bug" in header and "Mesa" in header


@pytest.fixture(scope="module")
def lavapipe_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real suite's records on this machine's device (a small slice of it, for time)."""
    for _ in open_first_device():
        pass
    out = tmp_path_factory.mktemp("suite") / "results.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "suite", "-q", "-k", "4KiB or 64KiB", "--vkzc-results", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_lavapipe_is_green_against_the_shipped_expectations_and_one_changed_line_is_reported(
    lavapipe_results: Path, tmp_path: Path
) -> None:
    records = read_results(lavapipe_results)
    if "llvmpipe" not in records[0].device:
        pytest.skip(f"the shipped expectations are lavapipe's; this machine's device is {records[0].device}")
    shipped = load_expectations(REPO / "expectations", driver="lavapipe")
    assert apply_expectations(records, shipped).green

    # Deliberately expect one passing case to fail: exactly that case is an unexpected pass.
    changed = tmp_path / "expectations"
    shutil.copytree(REPO / "expectations", changed)
    victim = next(r.case_id for r in records if r.status is Status.PASS)
    with (changed / "lavapipe-fails.txt").open("a") as fails:
        fails.write(f"{victim},Fail\n")
    baseline = apply_expectations(records, load_expectations(changed, driver="lavapipe"))
    assert not baseline.green
    changed_outcomes = [
        (o.case_id, o.outcome) for o in baseline.outcomes if o.outcome not in (Outcome.PASS, Outcome.SKIP)
    ]
    assert changed_outcomes == [(victim, Outcome.UNEXPECTED_PASS)]
    line = len((changed / "lavapipe-fails.txt").read_text().splitlines())
    assert baseline.problems() == (
        f"unexpected pass: {victim} — remove line {changed / 'lavapipe-fails.txt'}:{line}",
    )

"""The result record: statuses, reading files, upgrading older versions, counting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vkzc.errors import ConfigurationError
from vkzc.results.model import RESULTS_VERSION, CaseResult, Status
from vkzc.results.store import from_json, read_results
from vkzc.results.summary import counts, counts_by_path
from vkzc.results.upgrade import upgrade

MAPPED_ID = (
    "test_mapped.py::test_mapped_roundtrip[type0-DEVICE_LOCAL|HOST_VISIBLE|HOST_COHERENT-4KiB-offset0]"
)


def record(**overrides: Any) -> CaseResult:
    """A record as the plugin writes it on lavapipe; tests override what they are about."""
    fields: dict[str, Any] = {
        "path": "mapped",
        "case_id": MAPPED_ID,
        "params": {"memory_type": 0, "offset": 0, "size": 4096},
        "device": "llvmpipe (LLVM 15.0.6, 256 bits)",
        "driver": "llvmpipe",
        "driver_version": "0.0.1",
        "mesa_version": "22.3.6",
        "kernel": "6.1.0-13-amd64",
        "cell": None,
        "runner": None,
        "status": Status.PASS,
        "reason": "",
        "duration_s": 0.01,
    }
    fields.update(overrides)
    return CaseResult(**fields)


def write_jsonl(path: Path, records: list[CaseResult]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r.to_json()) + "\n" for r in records))
    return path


def test_statuses_are_ordered_as_piglit_orders_them() -> None:
    order = [Status.PASS, Status.WARN, Status.FAIL, Status.TIMEOUT, Status.CRASH, Status.INCOMPLETE]
    assert [s.severity for s in order] == sorted(s.severity for s in order)
    assert [s for s in Status if s.failed] == [Status.FAIL, Status.TIMEOUT, Status.CRASH, Status.INCOMPLETE]
    assert not Status.SKIP.executed and not Status.NOTRUN.executed and not Status.SKIP.failed


def test_a_record_reads_back_as_written(tmp_path: Path) -> None:
    written = [record(), record(case_id="b", status=Status.SKIP, reason="VK_EXT_external_memory_host absent")]
    assert read_results(write_jsonl(tmp_path / "results.jsonl", written)) == written


def test_the_pre_release_format_is_upgraded() -> None:
    v0 = record().to_json()
    del v0["results_version"], v0["driver_version"]
    upgraded = from_json(v0)
    assert upgraded.results_version == RESULTS_VERSION == 1
    assert upgraded.driver_version == ""  # not recorded then: unknown
    assert upgraded.case_id == MAPPED_ID


def test_upgrading_a_current_record_changes_nothing() -> None:
    current = record().to_json()
    assert upgrade(dict(current)) == current


def test_a_newer_version_is_refused_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    newer = {**record().to_json(), "results_version": RESULTS_VERSION + 1}
    path.write_text(json.dumps(record().to_json()) + "\n" + json.dumps(newer) + "\n")
    with pytest.raises(ConfigurationError, match=rf"{path}:2: .*newer than this vkzc reads"):
        read_results(path)


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("{not json", "not a vkzc result record"),
        ("[1, 2]", "JSON object was expected"),
        (json.dumps({**record().to_json(), "colour": "red"}), "unknown field 'colour'"),
        (
            json.dumps({k: v for k, v in record().to_json().items() if k != "status"}),
            "missing field 'status'",
        ),
        (json.dumps({**record().to_json(), "status": "great"}), "'great' is not a valid Status"),
        (json.dumps({**record().to_json(), "params": [1]}), "params is list, not dict"),
        (json.dumps({**record().to_json(), "duration_s": True}), "duration_s is bool"),
        (json.dumps({**record().to_json(), "results_version": "1"}), "not a version number"),
    ],
)
def test_a_malformed_line_names_file_and_line(tmp_path: Path, line: str, says: str) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(record().to_json()) + "\n\n" + line + "\n")
    with pytest.raises(ConfigurationError) as caught:
        read_results(path)
    assert str(caught.value).startswith(f"{path}:3: ")
    assert says in str(caught.value)


def test_an_unreadable_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read results file"):
        read_results(tmp_path / "absent.jsonl")
    (tmp_path / "binary.jsonl").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigurationError, match="cannot read results file"):
        read_results(tmp_path / "binary.jsonl")


def test_counts_keep_skips_apart_from_the_executed() -> None:
    tally = counts(
        [
            record(),
            record(),
            record(status=Status.FAIL),
            record(status=Status.SKIP),
            record(status=Status.NOTRUN),
        ]
    )
    assert (tally.passed, tally.executed, tally.failed, tally.skipped, tally.total) == (2, 3, 1, 2, 5)
    assert tally.short() == "2/3 (+2 skipped)"
    assert tally.short("✗") == "2/3 ✗ (+2 skipped)"
    assert counts([record()]).short("✓") == "1/1 ✓"


def test_counts_by_path() -> None:
    by_path = counts_by_path([record(), record(path="host-pointer", status=Status.CRASH)])
    assert list(by_path) == ["host-pointer", "mapped"]
    assert by_path["host-pointer"].failed == 1

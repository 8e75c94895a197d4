"""The suite's pytest plugin, driven through real pytest runs of suite/ on the real device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from vulkan_device import open_first_device

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module", autouse=True)
def _needs_device() -> None:
    for _ in open_first_device():
        pass


def run_suite(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "suite", "-q", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


def test_one_record_per_case_with_device_and_params(tmp_path: Path) -> None:
    results = tmp_path / "r.jsonl"
    done = run_suite("-k", "(offset0 and 4KiB) or (host_pointer and 64KiB)", "--vkzc-results", str(results))
    assert done.returncode == 0, done.stdout + done.stderr
    records = [json.loads(line) for line in results.read_text().splitlines()]
    mapped = [r for r in records if r["path"] == "mapped"]
    host = [r for r in records if r["path"] == "host-pointer"]
    assert mapped and host
    for record in records:
        assert record["results_version"] == 1
        assert record["status"] in ("pass", "skip")
        assert record["device"] and record["kernel"]
        assert "::" in record["case_id"] and "[" in record["case_id"]
    first = mapped[0]
    assert first["params"]["offset"] == 0 and first["params"]["size"] in (4096, 65536)
    assert first["case_id"].startswith("test_mapped.py::test_mapped_roundtrip[type")


def test_results_are_written_as_cases_finish(tmp_path: Path) -> None:
    # A process that dies at the third case leaves the first two records, and the third as incomplete.
    (tmp_path / "die_at_third_case.py").write_text(
        "import os\n"
        "seen = []\n"
        "def pytest_runtest_setup(item):\n"
        "    seen.append(item)\n"
        "    if len(seen) == 3:\n"
        "        os._exit(9)\n"
    )
    results = tmp_path / "r.jsonl"
    done = run_suite(
        "-k",
        "offset0",
        "-p",
        "die_at_third_case",
        "--vkzc-results",
        str(results),
        env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"},
    )
    assert done.returncode == 9
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["status"] for r in records] == ["pass", "pass", "incomplete"]


def test_skips_only_cannot_pass_with_require_device(tmp_path: Path) -> None:
    done = run_suite("-k", "no_case_is_called_this", "--vkzc-require-device")
    assert done.returncode != 0
    assert "no case executed on a Vulkan device" in done.stdout + done.stderr


def test_unknown_device_is_one_line(tmp_path: Path) -> None:
    done = run_suite("--vkzc-device", "no-such-gpu")
    assert done.returncode == 2
    assert "matches no Vulkan device" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_missing_shaders_is_one_line(tmp_path: Path) -> None:
    done = run_suite(env={"VKZC_SHADER_DIR": str(tmp_path)})
    assert done.returncode == 3
    assert (
        "missing shader" in done.stdout + done.stderr and "vkzc shaders --build" in done.stdout + done.stderr
    )
    assert "Traceback" not in done.stdout + done.stderr

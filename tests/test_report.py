"""`vkzc report`: the tables, the verdicts against expectations, --compare, and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_results_model import record, write_jsonl
from vulkan_device import open_first_device

from vkzc import cli
from vkzc.report.model import build_report
from vkzc.results.cell import CellInfo, write_cell_info
from vkzc.results.directory import find_cells
from vkzc.results.model import CaseResult, Status

REPO = Path(__file__).resolve().parents[1]
LAVAPIPE = "mesa-26.2.6-debian-sid/lavapipe/local-amd64"
V3DV = "mesa-26.2.6-debian-sid/v3dv/rpi5-videocore7-arm64"
COHERENT = "HOST_VISIBLE|HOST_COHERENT"
CACHED = "HOST_VISIBLE|HOST_CACHED"


@pytest.fixture(autouse=True)
def only_the_report_command(monkeypatch: pytest.MonkeyPatch) -> None:
    # The other sub-commands are written alongside; these tests should not depend on them importing.
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("vkzc.report.command",))


def probe_doc(name: str, extensions: dict[str, bool], memory_types: list[str]) -> dict[str, Any]:
    """The parts of `vkzc probe --json` that the report reads, in its shape."""
    return {
        "schema_version": 1,
        "vkzc_version": "0.1.0",
        "loader": {"instance_version": "1.3.239", "environment": {}},
        "devices": [
            {
                "identity": {"index": 0, "name": name},
                "key_extensions": {ext: "present" if on else "absent" for ext, on in extensions.items()},
                "memory": {
                    "heaps": [],
                    "types": [
                        {"index": i, "flags": t.split("|"), "heap_index": 0}
                        for i, t in enumerate(memory_types)
                    ],
                },
                "drm_format_modifiers": "absent",
            }
        ],
    }


def mapped(index: int, label: str, size: str, status: Status = Status.PASS, **more: Any) -> CaseResult:
    return record(
        case_id=f"test_mapped.py::test_mapped_roundtrip[type{index}-{label}-{size}-offset0]",
        params={"memory_type": index, "size": 4096, "offset": 0},
        status=status,
        **more,
    )


def host(source: str, size: str, status: Status = Status.PASS, **more: Any) -> CaseResult:
    return record(
        path="host-pointer",
        case_id=f"test_host_pointer.py::test_host_pointer[{source}-gpu-writes-{size}]",
        params={"source": source, "direction": "gpu-writes", "size": 65536},
        status=status,
        **more,
    )


def cell(root: Path, identifier: str, records: list[CaseResult], probe: dict[str, Any] | None = None) -> Path:
    directory = root / identifier
    mesa, driver, runner_arch = identifier.split("/")
    runner, arch = runner_arch.rsplit("-", 1)
    write_jsonl(directory / "results.jsonl", records)
    write_cell_info(
        directory,
        CellInfo(
            identifier=identifier,
            mesa=mesa,
            mesa_version=mesa.split("-")[1],
            source="debian sid 26.2.6-1",
            driver=driver,
            runner=runner,
            arch=arch,
        ),
    )
    if probe is not None:
        (directory / "probe.json").write_text(json.dumps(probe))
    return directory


def two_drivers(root: Path) -> Path:
    """lavapipe, where everything passes, and v3dv, with a failing cached type and no host pointers."""
    cell(
        root,
        LAVAPIPE,
        [
            mapped(0, COHERENT, "4KiB"),
            mapped(0, COHERENT, "64KiB"),
            host("anon", "64KiB"),
            host("memfd", "64KiB"),
        ],
        probe_doc(
            "llvmpipe (LLVM 15.0.6, 256 bits)",
            {"VK_EXT_external_memory_host": True, "VK_KHR_external_memory_fd": True},
            [COHERENT],
        ),
    )
    v3d = {"device": "V3D 7.1.10.2", "driver": "V3DV Mesa"}
    cell(
        root,
        V3DV,
        [
            mapped(0, COHERENT, "4KiB", **v3d),
            mapped(1, CACHED, "4KiB", Status.FAIL, **v3d),
            mapped(1, CACHED, "64KiB", **v3d),
            host("anon", "64KiB", Status.SKIP, reason="VK_EXT_external_memory_host not advertised", **v3d),
        ],
        probe_doc("V3D 7.1.10.2", {"VK_EXT_external_memory_host": False}, ["DEVICE_LOCAL", COHERENT, CACHED]),
    )
    return root


def report_text(*args: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(["report", *args]) == 0
    return capsys.readouterr().out


def test_markdown_has_a_row_per_cell_and_a_column_per_path_and_memory_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = report_text(str(two_drivers(tmp_path / "results")), "--format", "md", capsys=capsys)
    header = next(line for line in out.splitlines() if line.startswith("| cell |"))
    assert header.split(" | ")[6:] == [
        "mapped",
        "mapped · HOST_VISIBLE\\|HOST_CACHED",
        "mapped · HOST_VISIBLE\\|HOST_COHERENT",
        "host-pointer",
        "host-pointer · anon",
        "host-pointer · memfd |",
    ]
    lavapipe = next(line for line in out.splitlines() if line.startswith(f"| {LAVAPIPE}"))
    assert "| lavapipe | 26.2.6 | llvmpipe (LLVM 15.0.6, 256 bits) | local-amd64 | ✓ | 2/2 ✓ |" in lavapipe
    v3dv = next(line for line in out.splitlines() if line.startswith(f"| {V3DV}"))
    assert "| ✗ | 2/3 ✗ | 1/2 ✗ | 1/1 ✓ | 0/0 – (+1 skipped) | 0/0 – (+1 skipped) |  |" in v3dv
    assert (
        f"- `{V3DV}`: unexpected fail: test_mapped.py::test_mapped_roundtrip[type1-HOST_VISIBLE\\|HOST_CACHED"
        in out
    )


def test_advertised_beside_verified(tmp_path: Path) -> None:
    report = build_report(find_cells(two_drivers(tmp_path)), expectations_dir=None)
    lavapipe, v3dv = report.rows
    assert [(c.label, c.state) for c in lavapipe.capabilities][:4] == [
        ("host-visible memory", "verified"),
        ("VK_EXT_external_memory_host", "verified"),
        ("VK_KHR_external_memory_fd", "untested"),
        ("VK_EXT_external_memory_dma_buf", "absent"),
    ]
    assert lavapipe.capabilities[1].text == "advertised · 2/2 ✓"
    assert lavapipe.capabilities[2].text == "advertised · not verified"  # no opaque-fd case in these results
    assert lavapipe.capabilities[-1].path is None  # the decoder path is still to land
    assert [c.state for c in v3dv.capabilities][:2] == ["failed", "absent"]
    assert v3dv.capabilities[0].text == "advertised (2 types) · 2/3 ✗"


def test_a_probe_that_disagrees_with_the_results_is_a_mismatch(tmp_path: Path) -> None:
    cell(tmp_path, LAVAPIPE, [host("anon", "64KiB")], probe_doc("llvmpipe", {}, [COHERENT]))
    (row,) = build_report(find_cells(tmp_path), expectations_dir=None).rows
    assert row.capabilities[1].state == "mismatch"
    assert row.capabilities[1].text == "absent, yet ran: 1/1 ✓"


def test_expected_failures_keep_the_cell_green(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = two_drivers(tmp_path / "results")
    expectations = tmp_path / "expectations"
    (expectations / "mesa-26.2.6").mkdir(parents=True)
    (expectations / "mesa-26.2.6" / "v3dv-rpi5-videocore7-fails.txt").write_text(
        "# v3dv, Mesa 26.2.6: https://gitlab.freedesktop.org/mesa/mesa/-/issues/1\n"
        f"test_mapped.py::test_mapped_roundtrip[type1-{CACHED}-4KiB-offset0],Fail\n"
    )
    document = json.loads(
        report_text(str(results), "--format", "json", "--expectations", str(expectations), capsys=capsys)
    )
    v3dv = document["cells"][1]
    assert v3dv["identifier"] == V3DV and v3dv["green"] and document["green"]
    assert v3dv["entries"]["mapped"]["text"] == "2/3 ≈"
    outcomes = {o["case_id"].split("[")[1]: o["outcome"] for o in v3dv["outcomes"]}
    assert outcomes[f"type1-{CACHED}-4KiB-offset0]"] == "expected-fail"
    assert v3dv["expectation_files"] == [str(expectations / "mesa-26.2.6" / "v3dv-rpi5-videocore7-fails.txt")]


def test_compare_lists_regressions_fixes_enabled_and_disabled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    cell(
        old,
        LAVAPIPE,
        [
            mapped(0, COHERENT, "4KiB"),
            mapped(0, COHERENT, "64KiB", Status.FAIL),
            host("anon", "4KiB", Status.SKIP),
            host("memfd", "4KiB"),
        ],
    )
    cell(old, V3DV, [mapped(0, COHERENT, "4KiB")])
    cell(
        new,
        LAVAPIPE,
        [
            mapped(0, COHERENT, "4KiB", Status.CRASH),
            mapped(0, COHERENT, "64KiB"),
            host("anon", "4KiB"),
            host("memfd", "4KiB", Status.SKIP),
        ],
    )
    cell(new, "mesa-25.0.7-source/lavapipe/local-amd64", [mapped(0, COHERENT, "4KiB")])
    document = json.loads(report_text(str(new), "--compare", str(old), "--format", "json", capsys=capsys))
    comparison = document["comparison"]
    assert comparison["added_cells"] == ["mesa-25.0.7-source/lavapipe/local-amd64"]
    assert comparison["removed_cells"] == [V3DV]
    changes = {(c["change"], c["case_id"].split("[")[1], c["old"], c["new"]) for c in comparison["changes"]}
    assert changes == {
        ("regression", f"type0-{COHERENT}-4KiB-offset0]", "pass", "crash"),
        ("fix", f"type0-{COHERENT}-64KiB-offset0]", "fail", "pass"),
        ("newly enabled", "anon-gpu-writes-4KiB]", "skip", "pass"),
        ("disabled", "memfd-gpu-writes-4KiB]", "pass", "skip"),
    }
    markdown = report_text(str(new), "--compare", str(old), capsys=capsys)
    assert f"### Changes since {old}" in markdown
    assert "**regression** (1)" in markdown and "pass → crash" in markdown


def test_output_goes_to_a_file_and_html_is_self_contained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = two_drivers(tmp_path / "results")
    # A case id is data: whatever it holds must not become markup.
    cell(results, "mesa-x-y/lavapipe/evil-amd64", [host("<script>alert(1)</script>", "4KiB")])
    page = tmp_path / "site" / "index.html"
    assert cli.main(["report", str(results), "--format", "html", "--output", str(page)]) == 0
    assert capsys.readouterr().out == ""
    html = page.read_text()
    assert html.startswith("<!doctype html>") and '<meta name="viewport"' in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for outside in ("src=", "href=", "@import", "url(", "http://", "https://"):
        assert outside not in html


@pytest.mark.parametrize(
    ("probe", "says"),
    [
        ("{", "probe.json:1: not JSON"),
        (json.dumps({"schema_version": 1, "devices": {}}), "devices is missing or not a list"),
        (json.dumps({"schema_version": 7, "devices": []}), "schema_version 7"),
        (
            json.dumps(
                {"schema_version": 1, "devices": [{"identity": {"name": "x"}, "key_extensions": {"A": 1}}]}
            ),
            "devices[0].key_extensions.A is 1",
        ),
    ],
)
def test_a_malformed_probe_is_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], probe: str, says: str
) -> None:
    directory = cell(tmp_path, LAVAPIPE, [mapped(0, COHERENT, "4KiB")])
    (directory / "probe.json").write_text(probe)
    assert cli.main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(directory / "probe.json") in " ".join(err.split()) and says in " ".join(err.split())


def test_bad_arguments_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["report", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    directory = cell(tmp_path / "a", LAVAPIPE, [mapped(0, COHERENT, "4KiB")])
    cell(tmp_path / "b", LAVAPIPE, [mapped(0, COHERENT, "4KiB")])
    assert cli.main(["report", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert f"cell {LAVAPIPE} is in both" in " ".join(capsys.readouterr().err.split())
    (directory / "results.jsonl").write_text("{}\n")
    assert cli.main(["report", str(directory)]) == 2
    assert "results.jsonl:1: not a vkzc result record" in " ".join(capsys.readouterr().err.split())
    assert cli.main(["report", str(tmp_path / "b"), "--expectations", str(tmp_path / "none")]) == 2
    assert "expectations directory" in capsys.readouterr().err


def test_the_real_suite_and_probe_on_this_machine(tmp_path: Path) -> None:
    for _ in open_first_device():
        pass
    directory = tmp_path / "host"
    run = [sys.executable, "-m", "pytest", "suite", "-q", "-k", "64KiB", "--vkzc-results"]
    done = subprocess.run([*run, str(directory / "results.jsonl")], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    probe = subprocess.run([sys.executable, "-m", "vkzc", "probe", "--json"], capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    (directory / "probe.json").write_text(probe.stdout)
    (row,) = build_report(find_cells(tmp_path), expectations_dir=REPO / "expectations").rows
    assert row.identifier == "host" and row.executed > 0
    mapped_state = row.capabilities[0]
    assert mapped_state.label == "host-visible memory" and mapped_state.state == "verified"
    assert all(entry.mark in ("✓", "–") for _, entry in row.entries), row.entries


def test_a_cell_that_ran_nothing_is_red(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    died = cell(tmp_path, LAVAPIPE, [])
    (died / "results.jsonl").unlink()  # it died before its first case: cell.json and nothing else
    document = json.loads(report_text(str(tmp_path), "--format", "json", capsys=capsys))
    (row,) = document["cells"]
    assert row["identifier"] == LAVAPIPE and not row["green"] and not document["green"]
    # Then whatever the shipped expectations name is missing too (LAVAPIPE is a 26.2.6 cell).
    assert row["problems"][0] == "no case executed on the device" and row["entries"] == {}
    assert all(problem.startswith("missing: ") for problem in row["problems"][1:])

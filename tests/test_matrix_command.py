"""`vkzc matrix list`, driven through the real entry point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vkzc import cli

REPO_MATRIX = Path(__file__).resolve().parents[1] / "matrix.yaml"


@pytest.fixture(autouse=True)
def only_the_matrix_command(monkeypatch: pytest.MonkeyPatch) -> None:
    # The other sub-commands are written alongside; these tests should not depend on them importing.
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("vkzc.matrix.command",))


def flat(text: str) -> str:
    """Rich wraps long lines on stderr; compare words, not line breaks."""
    return " ".join(text.split())


def test_list_prints_every_cell_from_the_default_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(REPO_MATRIX, tmp_path / "matrix.yaml")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["matrix", "list"]) == 0
    out = capsys.readouterr().out
    for identifier in (
        "mesa-22.3.6-debian-bookworm/lavapipe/local-amd64",
        "mesa-25.0.7-source/lavapipe/local-amd64",
        "mesa-26.2.6-debian-sid/panvk/rk3588-mali-g610-arm64",
        "mesa-25.0.7-source/anv/intel-anv-amd64",
    ):
        assert identifier in out
    assert "22.3.6-1+deb12u2" in out
    assert "/dev/dri/renderD128" in out


def test_list_with_select_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "matrix",
        "list",
        "--matrix",
        str(REPO_MATRIX),
        "--select",
        "*-debian-{bookworm,sid}/lavapipe/local-*",
        "--json",
    ]
    assert cli.main(argv) == 0
    cells = json.loads(capsys.readouterr().out)
    assert [cell["identifier"] for cell in cells] == [
        "mesa-22.3.6-debian-bookworm/lavapipe/local-amd64",
        "mesa-26.2.6-debian-sid/lavapipe/local-amd64",
    ]
    assert cells[0]["icd"] == "lvp_icd.x86_64.json"
    assert cells[1]["icd"] == "lvp_icd.json"
    assert all(cell["default"] and cell["devices"] == [] for cell in cells)


def test_select_patterns_may_be_space_separated_or_repeated(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["matrix", "list", "--matrix", str(REPO_MATRIX), "--json"]
    assert cli.main([*argv, "--select", "*/panvk/* */anv/*", "--select", "*/v3dv/rpi4-*"]) == 0
    drivers = {cell["driver"] for cell in json.loads(capsys.readouterr().out)}
    assert drivers == {"panvk", "anv", "v3dv"}


def test_malformed_file_returns_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        REPO_MATRIX.read_text().replace("  - id: panvk\n", "  - id: panvk\n    colour: blue\n", 1)
    )
    line = broken.read_text().split("\n").index("    colour: blue") + 1
    assert cli.main(["matrix", "list", "--matrix", str(broken)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{broken}:{line}: key 'colour' is not known in a driver" in flat(captured.err)
    assert "Traceback" not in captured.err


def test_missing_file_returns_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["matrix", "list", "--matrix", str(tmp_path / "nope.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_unmatched_select_returns_2_with_close_identifiers(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["matrix", "list", "--matrix", str(REPO_MATRIX), "--select", "*/lavapipe/local-arm64"]
    assert cli.main(argv) == 2
    err = flat(capsys.readouterr().err)
    assert "matches no cell" in err
    assert "mesa-26.2.6-debian-sid/lavapipe/local-amd64" in err


def test_the_run_summary_marks_paths_whose_failures_were_all_expected() -> None:
    from rich.console import Console

    from vkzc.matrix.run import summary_table
    from vkzc.report.model import Entry
    from vkzc.results.model import Status
    from vkzc.results.summary import Counts
    from vkzc.runners.cell import CellResult

    def entry(passed: int, failed: int, skipped: int, unexpected: int) -> Entry:
        statuses = ((Status.PASS, passed), (Status.FAIL, failed), (Status.SKIP, skipped))
        return Entry(counts=Counts(statuses=tuple((s, n) for s, n in statuses if n)), unexpected=unexpected)

    result = CellResult(
        identifier="m/lavapipe/qemu-amd64",
        outcome="passed",
        detail="",
        seconds=3.0,
        results_dir=Path("."),
        paths={
            "dma-buf": entry(1, 1, 60, unexpected=0),
            "mapped": entry(21, 0, 0, unexpected=0),
            "modifier-image": entry(5, 2, 0, unexpected=1),
        },
    )
    console = Console(width=200, record=True)
    console.print(summary_table([result]))
    row = next(line for line in console.export_text().splitlines() if "m/lavapipe" in line)
    assert "1/2 ≈ (+60 skipped)" in row and "21/21 ✓" in row and "5/7 ✗" in row

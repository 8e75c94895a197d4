"""cell.json and results directories: what the matrix runner leaves per cell, and finding cells in a tree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_results_model import record, write_jsonl

from vkzc.errors import ConfigurationError
from vkzc.matrix.load import load_matrix
from vkzc.results.cell import CellInfo, read_cell_info, write_cell_info
from vkzc.results.directory import find_cells, read_cell_results
from vkzc.results.model import Status

REPO = Path(__file__).resolve().parents[1]
SID = "mesa-26.2.6-debian-sid/lavapipe/local-amd64"


def info(identifier: str = SID) -> CellInfo:
    return CellInfo(
        identifier=identifier,
        mesa="mesa-26.2.6-debian-sid",
        mesa_version="26.2.6",
        source="debian sid 26.2.6-1",
        driver="lavapipe",
        runner="local",
        arch="amd64",
    )


def test_a_matrix_cell_gives_its_identity_and_it_reads_back(tmp_path: Path) -> None:
    cell = load_matrix(REPO / "matrix.yaml").cell(SID)
    written = CellInfo.from_matrix_cell(cell)
    assert written == info()
    assert read_cell_info(write_cell_info(tmp_path, written)) == written


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{", "cell.json:1: not JSON"),
        ("[]", "a JSON object was expected"),
        (json.dumps({**info().to_json(), "colour": "red"}), "unknown key 'colour'"),
        (json.dumps({**info().to_json(), "driver": 3}), "driver must be a string"),
        (json.dumps({k: v for k, v in info().to_json().items() if k != "arch"}), "missing key 'arch'"),
        (json.dumps({**info().to_json(), "cell_version": 9}), "cell_version 9"),
    ],
)
def test_a_malformed_cell_json_names_the_file(tmp_path: Path, text: str, says: str) -> None:
    (tmp_path / "cell.json").write_text(text)
    with pytest.raises(ConfigurationError, match=str(tmp_path)) as caught:
        read_cell_info(tmp_path / "cell.json")
    assert says in str(caught.value)


def test_a_tree_of_cells_is_found_with_identities_and_reruns(tmp_path: Path) -> None:
    sid = tmp_path / "results" / SID
    write_jsonl(sid / "results.jsonl", [record(status=Status.FAIL)])
    write_jsonl(sid / "rerun.jsonl", [record()])
    write_cell_info(sid, info())
    write_jsonl(tmp_path / "results" / "host" / "results.jsonl", [record()])
    # A cell that died before its first case leaves only cell.json (and run.log).
    died = "mesa-25.0.7-source/lavapipe/local-amd64"
    (tmp_path / "results" / died).mkdir(parents=True)
    write_cell_info(tmp_path / "results" / died, info(died))
    cells = find_cells(tmp_path / "results")
    assert [c.identifier for c in cells] == ["host", died, SID]
    host, empty, cell = cells
    assert host.cell is None and cell.cell == info()
    assert empty.records == () and empty.cell == info(died)
    assert [r.status for r in cell.reruns] == [Status.PASS]


def test_a_single_cell_or_file_can_be_named(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "somewhere" / "results.jsonl", [record(cell="named-by-the-record")])
    write_jsonl(tmp_path / "out.jsonl", [record()])
    assert [c.identifier for c in find_cells(tmp_path / "somewhere")] == ["named-by-the-record"]
    assert [c.identifier for c in find_cells(tmp_path / "somewhere" / "results.jsonl")] == [
        "named-by-the-record"
    ]
    assert [c.identifier for c in find_cells(tmp_path / "out.jsonl")] == ["out"]
    assert read_cell_results(tmp_path / "somewhere").records[0].cell == "named-by-the-record"


def test_nothing_to_report_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        find_cells(tmp_path / "nowhere")
    with pytest.raises(ConfigurationError, match=r"no results\.jsonl under"):
        find_cells(tmp_path)


def test_every_cell_of_the_matrix_has_an_identity(tmp_path: Path) -> None:
    for cell in load_matrix(REPO / "matrix.yaml").cells:
        written = CellInfo.from_matrix_cell(cell)
        assert written.identifier == cell.identifier and written.driver == cell.driver.id
        assert read_cell_info(write_cell_info(tmp_path, written)) == written

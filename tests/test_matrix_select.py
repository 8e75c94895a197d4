"""Selecting cells by identifier: fnmatch globs with {a,b} alternatives."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from vkzc.errors import ConfigurationError
from vkzc.matrix import Cell, load_matrix, select
from vkzc.matrix.patterns import expand_braces, matches

REPO_MATRIX = Path(__file__).resolve().parents[1] / "matrix.yaml"


@pytest.fixture(scope="module")
def cells() -> tuple[Cell, ...]:
    return load_matrix(REPO_MATRIX).cells


def identifiers(chosen: Sequence[Cell]) -> list[str]:
    return [cell.identifier for cell in chosen]


@pytest.mark.parametrize(
    ("pattern", "expanded"),
    [
        ("plain", ("plain",)),
        ("{a,b}", ("a", "b")),
        ("x{a,b}y{1,2}", ("xay1", "xay2", "xby1", "xby2")),
        ("a{b,c{d,e}}f", ("abf", "acdf", "acef")),
        ("a{,b}", ("a", "ab")),
        ("{a,a}", ("a",)),
    ],
)
def test_brace_expansion(pattern: str, expanded: tuple[str, ...]) -> None:
    assert expand_braces(pattern) == expanded


@pytest.mark.parametrize("pattern", ["{a", "a}", "{a}}", "}{"])
def test_unbalanced_braces_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="unbalanced"):
        expand_braces(pattern)


def test_matching_is_fnmatch_and_case_sensitive() -> None:
    assert matches("V3D {4.2,7.1}*", "V3D 7.1.7")
    assert matches("llvmpipe*", "llvmpipe (LLVM 19.1.7, 256 bits)")
    assert not matches("llvmpipe*", "LLVMPIPE")
    assert matches("mesa-2[56]*", "mesa-26.2.6-debian-sid")


def test_glob_selects_in_matrix_order(cells: tuple[Cell, ...]) -> None:
    assert identifiers(select(cells, ["*-debian-*/lavapipe/*"])) == [
        "mesa-22.3.6-debian-bookworm/lavapipe/local-amd64",
        "mesa-25.0.7-debian-trixie/lavapipe/local-amd64",
        "mesa-26.2.6-debian-sid/lavapipe/local-amd64",
        "mesa-26.2.6-debian-sid/lavapipe/qemu-amd64",
        "mesa-26.2.6-debian-sid/lavapipe/emulated-arm64",
    ]


def test_braces_select_alternatives(cells: tuple[Cell, ...]) -> None:
    assert identifiers(select(cells, ["mesa-25.0.7-source/{v3dv,anv}/*"])) == [
        "mesa-25.0.7-source/v3dv/rpi5-videocore7-arm64",
        "mesa-25.0.7-source/v3dv/rpi4-videocore6-arm64",
        "mesa-25.0.7-source/anv/intel-anv-amd64",
    ]


def test_several_patterns_union_without_duplicates(cells: tuple[Cell, ...]) -> None:
    chosen = identifiers(select(cells, ["*/panvk/*", "mesa-26.2.6-debian-sid/*", "*/*/rk3588-*"]))
    assert len(chosen) == len(set(chosen))
    assert "mesa-25.0.7-source/panvk/rk3588-mali-g610-arm64" in chosen
    assert "mesa-26.2.6-debian-sid/anv/intel-anv-amd64" in chosen


def test_arch_is_part_of_the_identifier(cells: tuple[Cell, ...]) -> None:
    assert all(cell.arch == "arm64" for cell in select(cells, ["*-arm64"]))


def test_a_pattern_matching_nothing_lists_close_identifiers(cells: tuple[Cell, ...]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        select(cells, ["*/lavapipe/*", "mesa-26.2.6-debian-sid/lavapipe/local-arm64"])
    assert "'mesa-26.2.6-debian-sid/lavapipe/local-arm64' matches no cell" in caught.value.message
    close = caught.value.hint.removeprefix("close: ").split(", ")
    assert close[0] == "mesa-26.2.6-debian-sid/lavapipe/local-amd64"
    assert 1 <= len(close) <= 5


def test_an_unbalanced_pattern_is_a_configuration_error(cells: tuple[Cell, ...]) -> None:
    with pytest.raises(ConfigurationError, match="unbalanced"):
        select(cells, ["mesa-*/{lavapipe/*"])

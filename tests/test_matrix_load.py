"""matrix.yaml: the repository's own file, and every way a malformed one is refused."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from vkzc.errors import ConfigurationError
from vkzc.matrix import SCHEMA, DebianPackages, DebianSource, Git, Tarball, load_matrix, parse_matrix

REPO_MATRIX = Path(__file__).resolve().parents[1] / "matrix.yaml"

DEFAULT_CELLS = [
    "mesa-22.3.6-debian-bookworm/lavapipe/local-amd64",
    "mesa-25.0.7-debian-trixie/lavapipe/local-amd64",
    "mesa-26.2.6-debian-sid/lavapipe/local-amd64",
    "mesa-26.2.6-debian-sid/lavapipe/qemu-amd64",
    "mesa-25.0.7-source/lavapipe/local-amd64",
]

# Small but complete: every malformed case below is this with one change.
VALID = textwrap.dedent(
    """\
    mesa:
      - id: mesa-26.2.6-debian-sid
        source:
          kind: debian
          suite: sid
          version: 26.2.6-1
          icd_arch_suffix: false
      - id: mesa-25.0.7-source
        source:
          kind: debian-source
          suite: trixie
          version: 25.0.7-2+deb13u1
          vulkan_drivers: [swrast]
    drivers:
      - id: lavapipe
        icd: lvp_icd.{arch}.json
        renderer: llvmpipe*
        mesa_driver: swrast
      - id: panvk
        icd: panfrost_icd.{arch}.json
        needs: [/dev/dri/renderD*]
        renderer: Mali-G610*
        mesa_driver: panfrost
    runners:
      - id: local
        kind: docker
        arch: amd64
      - id: rk3588
        kind: docker
        arch: arm64
        devices: [/dev/dri/renderD128]
    cells:
      include:
        - {driver: lavapipe, runner: local}
        - {mesa: mesa-26.2.6-debian-sid, driver: panvk, runner: rk3588}
    default: ["*/lavapipe/*"]
    """
)


def schema_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(json.loads(SCHEMA.read_text()))


def test_repository_matrix_follows_the_schema() -> None:
    schema_validator().validate(yaml.safe_load(REPO_MATRIX.read_text()))


def test_repository_matrix_loads_with_the_default_cells() -> None:
    matrix = load_matrix(REPO_MATRIX)
    assert [cell.identifier for cell in matrix.default_cells] == DEFAULT_CELLS
    identifiers = [cell.identifier for cell in matrix.cells]
    assert len(identifiers) == len(set(identifiers))
    # Hardware cells are in the file, just not run by default.
    assert "mesa-26.2.6-debian-sid/panvk/rk3588-mali-g610-arm64" in identifiers
    assert "mesa-25.0.7-source/v3dv/rpi5-videocore7-arm64" in identifiers
    assert "mesa-25.0.7-source/anv/intel-anv-amd64" in identifiers


def test_repository_matrix_pins_icd_names_and_versions() -> None:
    matrix = load_matrix(REPO_MATRIX)
    icd = {cell.identifier: cell.icd_file for cell in matrix.default_cells}
    assert icd == {
        DEFAULT_CELLS[0]: "lvp_icd.x86_64.json",
        DEFAULT_CELLS[1]: "lvp_icd.json",
        DEFAULT_CELLS[2]: "lvp_icd.json",
        DEFAULT_CELLS[3]: "lvp_icd.json",
        DEFAULT_CELLS[4]: "lvp_icd.x86_64.json",
    }
    versions = [cell.mesa.version for cell in matrix.default_cells]
    assert versions == ["22.3.6", "25.0.7", "26.2.6", "26.2.6", "25.0.7"]


def test_repository_matrix_gives_decoders_to_the_hardware_runners_only() -> None:
    matrix = load_matrix(REPO_MATRIX)
    decoders = {runner.id: getattr(runner, "decoders", ()) for runner in matrix.runners}
    assert decoders == {
        "local": (),
        "rk3588-mali-g610": ("v4l2",),
        "rpi5-videocore7": ("v4l2",),
        "rpi4-videocore6": ("v4l2",),
        "intel-anv": ("vaapi",),
        "qemu": (),
        # The boards' image, smoke-tested under emulation.
        "emulated": ("v4l2",),
        "h100": (),
    }
    assert all(cell.decoders == () for cell in matrix.default_cells)
    assert matrix.cell("mesa-25.0.7-source/anv/intel-anv-amd64").decoders == ("vaapi",)


def test_decoders_are_read_in_the_file_order() -> None:
    text = VALID.replace(
        "    devices: [/dev/dri/renderD128]\n",
        "    devices: [/dev/dri/renderD128]\n    decoders: [v4l2, vaapi]\n",
    )
    schema_validator().validate(yaml.safe_load(text))
    matrix = parse_matrix(text, filename="m.yaml")
    assert matrix.cell("mesa-26.2.6-debian-sid/panvk/rk3588-arm64").decoders == ("v4l2", "vaapi")
    assert matrix.cell("mesa-26.2.6-debian-sid/lavapipe/local-amd64").decoders == ()


def test_only_docker_runners_take_decoders() -> None:
    text = VALID.replace(
        "cells:\n",
        "  - id: vm\n    kind: qemu\n    arch: amd64\n    kernel: sid\n    decoders: [vaapi]\ncells:\n",
    )
    line = text[: text.index("decoders:")].count("\n") + 1
    with pytest.raises(
        ConfigurationError, match=rf"^m.yaml:{line}: key 'decoders' is not known in a qemu runner"
    ):
        parse_matrix(text, filename="m.yaml")


def test_the_small_valid_matrix_loads() -> None:
    matrix = parse_matrix(VALID, filename="m.yaml")
    assert [cell.identifier for cell in matrix.cells] == [
        "mesa-26.2.6-debian-sid/lavapipe/local-amd64",
        "mesa-26.2.6-debian-sid/panvk/rk3588-arm64",
        "mesa-25.0.7-source/lavapipe/local-amd64",
    ]
    schema_validator().validate(yaml.safe_load(VALID))


def test_source_kinds_tarball_and_git_with_meson_options() -> None:
    text = VALID.replace(
        "mesa:\n",
        textwrap.dedent(
            """\
            mesa:
              - id: mesa-25.0.7-tarball
                source: &upstream
                  kind: tarball
                  suite: trixie
                  version: 25.0.7
                  url: https://archive.mesa3d.org/mesa-25.0.7.tar.xz
                  sha256: 592272df3cf01e85e7db300c449df5061092574d099da275d19e97ef0510f8a6
                  vulkan_drivers: [swrast, panfrost]
                  meson_options: {buildtype: debugoptimized, b_lto: true, video-codecs: [h264dec, h265dec]}
              - id: mesa-main-git
                source:
                  kind: git
                  suite: sid
                  version: 26.3.0-devel
                  url: https://gitlab.freedesktop.org/mesa/mesa.git
                  ref: main
                  vulkan_drivers: [swrast]
            """
        ),
        1,
    )
    schema_validator().validate(yaml.safe_load(text))
    matrix = parse_matrix(text, filename="m.yaml")
    tarball, git = matrix.mesa[0].source, matrix.mesa[1].source
    assert isinstance(tarball, Tarball)
    assert tarball.meson_args() == (
        "-Dbuildtype=debugoptimized",
        "-Db_lto=true",
        "-Dvideo-codecs=h264dec,h265dec",
    )
    assert matrix.mesa[0].version == "25.0.7"
    assert isinstance(git, Git)
    assert (git.ref, git.mesa_version) == ("main", "26.3.0-devel")
    assert "mesa-25.0.7-tarball/panvk/rk3588-arm64" not in [c.identifier for c in matrix.cells]


def test_debian_version_gives_mesa_version() -> None:
    source = DebianPackages(suite="sid", version="1:26.0.0~rc2-1", icd_arch_suffix=False)
    assert source.mesa_version == "26.0.0-rc2"


def test_exclude_rules_remove_cells() -> None:
    text = VALID.replace(
        "    - {mesa: mesa-26.2.6-debian-sid, driver: panvk, runner: rk3588}\n",
        "    - {mesa: mesa-26.2.6-debian-sid, driver: panvk, runner: rk3588}\n"
        "  exclude:\n    - {mesa: mesa-25.0.7-source}\n",
    )
    identifiers = [cell.identifier for cell in parse_matrix(text, filename="m").cells]
    assert identifiers == [
        "mesa-26.2.6-debian-sid/lavapipe/local-amd64",
        "mesa-26.2.6-debian-sid/panvk/rk3588-arm64",
    ]


# (what, old text, new text, text on the line the error must name, words the message must hold,
#  whether the JSON schema catches it too)
MALFORMED = [
    (
        "unknown top-level key",
        "default:",
        "defaults:",
        "defaults:",
        ["'defaults'", "did you mean 'default'"],
        True,
    ),
    (
        "unknown nested key",
        "version: 26.2.6-1",
        "verison: 26.2.6-1",
        "verison",
        ["'verison'", "'version'"],
        True,
    ),
    (
        "wrong type: string for list",
        "vulkan_drivers: [swrast]",
        "vulkan_drivers: swrast",
        "vulkan_drivers",
        ["'vulkan_drivers'", "expected a list", "got a string"],
        True,
    ),
    (
        "wrong type: number for string",
        "version: 26.2.6-1",
        "version: 26.2",
        "version: 26.2",
        ["'version'", "expected a non-empty string", "got a number (26.2)"],
        True,
    ),
    (
        "wrong type: string for boolean",
        "icd_arch_suffix: false",
        "icd_arch_suffix: nope",
        "icd_arch_suffix",
        ["'icd_arch_suffix'", "expected true or false", "got a string"],
        True,
    ),
    (
        "rule names a missing driver",
        "driver: panvk, runner: rk3588}",
        "driver: panvkk, runner: rk3588}",
        "panvkk",
        ["'driver'", "'panvkk'", "matches no driver", "did you mean 'panvk'"],
        False,
    ),
    (
        "rule names a missing runner",
        "{driver: lavapipe, runner: local}",
        "{driver: lavapipe, runner: locl}",
        "locl",
        ["'runner'", "'locl'", "did you mean 'local'"],
        False,
    ),
    (
        "duplicate driver id",
        "  - id: panvk",
        "  - id: lavapipe",
        "  - id: lavapipe\n    icd: panfrost",
        ["'id'", "'lavapipe'", "used twice", "first at line 15"],
        False,
    ),
    (
        "duplicate key",
        "    renderer: llvmpipe*\n",
        "    renderer: llvmpipe*\n    renderer: lvp*\n",
        "renderer: lvp*",
        ["'renderer'", "appears twice"],
        False,
    ),
    ("invalid YAML syntax", "  - id: rk3588\n", "  - id: rk3588: x\n", "rk3588: x", ["invalid YAML"], False),
    (
        "missing key",
        "      icd_arch_suffix: false\n",
        "",
        "    source:\n      kind: debian\n",
        ["'icd_arch_suffix'", "missing"],
        True,
    ),
    (
        "unknown source kind",
        "kind: debian\n",
        "kind: debain\n",
        "debain",
        ["'kind'", "did you mean 'debian'"],
        True,
    ),
    (
        "unknown runner kind",
        "kind: docker\n    arch: amd64",
        "kind: dokcer\n    arch: amd64",
        "dokcer",
        ["'kind'", "did you mean 'docker'"],
        True,
    ),
    ("unknown suite", "suite: sid", "suite: sidd", "sidd", ["'suite'", "did you mean 'sid'"], True),
    ("bad id", "- id: local", "- id: lo/cal", "lo/cal", ["'id'", "'lo/cal'", "not a valid id"], True),
    (
        "unknown Mesa driver",
        "vulkan_drivers: [swrast]",
        "vulkan_drivers: [swrats]",
        "swrats",
        ["'vulkan_drivers[0]'", "did you mean 'swrast'"],
        True,
    ),
    (
        "include rule that yields no cell",
        "{mesa: mesa-26.2.6-debian-sid, driver: panvk",
        "{mesa: mesa-25.0.7-source, driver: panvk",
        "mesa-25.0.7-source, driver: panvk",
        ["'include[1]'", "yields no cell", "does not build 'panfrost'"],
        False,
    ),
    (
        "driver needs a device the runner lacks",
        "{driver: lavapipe, runner: local}",
        "{driver: panvk, runner: local}",
        "{driver: panvk, runner: local}",
        ["'include[0]'", "runner 'local' lacks a device node", "/dev/dri/renderD*"],
        False,
    ),
    (
        "default pattern matching no cell",
        'default: ["*/lavapipe/*"]',
        'default: ["*/lavapipe/local-arm64"]',
        "default:",
        ["'default[0]'", "matches no cell"],
        False,
    ),
    (
        "unbalanced brace",
        'default: ["*/lavapipe/*"]',
        'default: ["*/{lavapipe/*"]',
        "default:",
        ["unbalanced"],
        False,
    ),
    (
        "unknown decoder",
        "devices: [/dev/dri/renderD128]",
        "devices: [/dev/dri/renderD128]\n    decoders: [vapi]",
        "decoders:",
        ["'decoders[0]'", "'vapi' is unknown", "did you mean 'vaapi'"],
        True,
    ),
    (
        "decoder listed twice",
        "devices: [/dev/dri/renderD128]",
        "devices: [/dev/dri/renderD128]\n    decoders: [v4l2, v4l2]",
        "decoders:",
        ["'decoders[1]'", "'v4l2' is listed twice"],
        True,
    ),
    (
        "decoders given as one string",
        "devices: [/dev/dri/renderD128]",
        "devices: [/dev/dri/renderD128]\n    decoders: v4l2",
        "decoders:",
        ["'decoders'", "expected a list", "got a string"],
        True,
    ),
    (
        "empty decoders",
        "devices: [/dev/dri/renderD128]",
        "devices: [/dev/dri/renderD128]\n    decoders: []",
        "decoders:",
        ["'decoders'", "empty list"],
        True,
    ),
    (
        "icd with an unknown placeholder",
        "lvp_icd.{arch}.json",
        "lvp_icd.{cpu}.json",
        "lvp_icd.{cpu}",
        ["'icd'", "not a manifest file name"],
        True,
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "line_text", "words", "schema_catches"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_matrix_names_file_line_and_key(
    tmp_path: Path, old: str, new: str, line_text: str, words: list[str], schema_catches: bool
) -> None:
    assert old in VALID
    text = VALID.replace(old, new, 1)
    path = tmp_path / "broken-matrix.yaml"
    path.write_text(text)
    line = text[: text.index(line_text)].count("\n") + 1
    with pytest.raises(ConfigurationError) as caught:
        load_matrix(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    for word in words:
        assert word in message
    if schema_catches:
        assert not schema_validator().is_valid(yaml.safe_load(text))


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "matrix.yaml"
    path.write_text("# nothing\n")
    with pytest.raises(ConfigurationError, match=r"matrix.yaml: the file is empty"):
        load_matrix(path)


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(
        ConfigurationError, match=r"^m.yaml:1: key '\(top level\)' expected a mapping, got a list"
    ):
        parse_matrix("- a\n- b\n", filename="m.yaml")


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_matrix(tmp_path / "nope.yaml")
    assert "not found" in caught.value.message
    assert "--matrix" in caught.value.hint


def test_merge_keys_are_followed() -> None:
    text = VALID.replace(
        "    source:\n      kind: debian-source\n",
        "    source: &src\n      kind: debian-source\n",
    ).replace(
        "drivers:\n",
        "  - id: mesa-25.0.7-lto\n    source:\n      <<: *src\n      meson_options: {b_lto: true}\n"
        "drivers:\n",
    )
    matrix = parse_matrix(text, filename="m")
    assert matrix.mesa[2].source == DebianSource(
        suite="trixie",
        version="25.0.7-2+deb13u1",
        vulkan_drivers=("swrast",),
        meson_options=(("b_lto", "true"),),
    )

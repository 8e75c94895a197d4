"""arm64 images made on this amd64 machine: the emulated cell in matrix.yaml, base images that say
which architecture they hold, and the board images themselves run under qemu-user (docs/arm64.md).

The tests marked slow need qemu-aarch64 registered with binfmt_misc, a Docker engine and the arm64
suite image (`vkzc matrix build --select 'mesa-26.2.6-debian-sid/lavapipe/emulated-arm64'`);
they skip, saying which is missing, otherwise. About 30 s: everything in the image runs emulated.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from docker_engine import engine_or_skip

from vkzc.images import base, plan
from vkzc.images.build import Builder
from vkzc.matrix import load_matrix
from vkzc.matrix.model import DockerRunner
from vkzc.runners.cell import cell_environment
from vkzc.runners.container import Container, ContainerSpec

ROOT = Path(__file__).resolve().parent.parent
MATRIX = load_matrix(ROOT / "matrix.yaml")
EMULATED = MATRIX.cell("mesa-26.2.6-debian-sid/lavapipe/emulated-arm64")
# The hardware cells whose image the emulated cell smoke-tests.
BOARDS = (
    MATRIX.cell("mesa-26.2.6-debian-sid/panvk/rk3588-mali-g610-arm64"),
    MATRIX.cell("mesa-26.2.6-debian-sid/v3dv/rpi5-videocore7-arm64"),
    MATRIX.cell("mesa-26.2.6-debian-sid/v3dv/rpi4-videocore6-arm64"),
)
BINFMT = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")


# --- the matrix -----------------------------------------------------------------------------------


def test_the_emulated_cell_is_lavapipe_on_arm64_outside_the_default_run() -> None:
    runner = EMULATED.runner
    assert isinstance(runner, DockerRunner) and runner.arch == "arm64"
    assert runner.devices == () and runner.labels == ()  # no board: hardware.yml leaves it alone
    assert EMULATED not in MATRIX.default_cells  # slow under emulation
    assert EMULATED.icd_file == "lvp_icd.json"  # sid's manifests have no arch suffix


def test_the_emulated_cell_runs_the_image_the_boards_run() -> None:
    image = plan.suite_image(EMULATED)
    assert image.key == "mesa-26.2.6-debian-sid-arm64-v4l2"
    assert all(plan.suite_image(board) == image for board in BOARDS)
    assert plan.chain(image)[0] == plan.BaseImage(suite="sid", arch="arm64")


# --- base images name their architecture ----------------------------------------------------------


def _tiny_rootfs(tmp_path: Path) -> Path:
    rootfs = tmp_path / "root.tar"
    with tarfile.open(rootfs, "w") as tar:
        data = b"trixie/sid\n"
        info = tarfile.TarInfo("etc/debian_version")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return rootfs


def _members(data: bytes) -> dict[str, bytes]:
    """An archive's files by name."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


@pytest.mark.parametrize(("arch", "variant"), [("arm64", "v8"), ("amd64", None)])
def test_the_base_archive_is_one_layer_labelled_with_its_architecture(
    tmp_path: Path, arch: str, variant: str | None
) -> None:
    rootfs = _tiny_rootfs(tmp_path)
    archive = base.image_archive(
        rootfs, tmp_path / "image.tar", tag="vkzc-base:sid-x", suite="sid", arch=arch
    )
    members = _members(archive.read_bytes())
    (manifest,) = json.loads(members["manifest.json"])
    assert manifest == {"Config": "config.json", "RepoTags": ["vkzc-base:sid-x"], "Layers": ["layer.tar"]}
    config = json.loads(members["config.json"])
    assert config["architecture"] == arch and config["os"] == "linux" and config.get("variant") == variant
    assert members["layer.tar"] == rootfs.read_bytes()
    assert config["rootfs"]["diff_ids"] == [f"sha256:{hashlib.sha256(rootfs.read_bytes()).hexdigest()}"]
    # What `docker import` was given as changes before.
    assert config["config"] == {
        "Cmd": ["/bin/bash"],
        "Env": ["LANG=C.UTF-8"],
        "Labels": {"org.vkzc.suite": "sid"},
    }


class _LoadingClient:
    """What Builder asks of the engine for a base: images.load, then images.get."""

    def __init__(self) -> None:
        self.loaded: dict[str, dict[str, Any]] = {}
        self.images = self

    def load(self, data: Any) -> list[str]:
        members = _members(data.read())
        (manifest,) = json.loads(members["manifest.json"])
        self.loaded[manifest["RepoTags"][0]] = json.loads(members["config.json"])
        return manifest["RepoTags"]

    def get(self, tag: str) -> Any:
        import docker.errors

        if tag not in self.loaded:
            raise docker.errors.ImageNotFound(tag)
        return type("Image", (), {"id": "sha256:" + hashlib.sha256(tag.encode()).hexdigest()})()


def test_the_builder_loads_an_arm64_base_labelled_arm64(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str]] = []

    @contextmanager
    def bootstrap(suite: str, arch: str, mirror: str, log: Any) -> Iterator[Path]:
        seen.append((suite, arch))
        yield _tiny_rootfs(tmp_path)

    monkeypatch.setattr(base, "bootstrap", bootstrap)
    client = _LoadingClient()
    built = Builder(client, tmp_path / "logs").ensure(plan.BaseImage(suite="sid", arch="arm64"))
    assert built.built and built.tag.startswith("vkzc-base:sid-arm64-") and seen == [("sid", "arm64")]
    assert client.loaded[built.tag]["architecture"] == "arm64"
    assert not (tmp_path / "root.tar").exists()  # the layer went into the loaded archive


# --- the board image under qemu-user --------------------------------------------------------------


def _arm64_suite_image() -> tuple[Any, str]:
    """A client and the newest arm64 suite image of the emulated cell, or a skip saying what is missing."""
    if platform.machine() != "aarch64" and not (BINFMT.exists() and BINFMT.read_text().startswith("enabled")):
        pytest.skip(
            "qemu-aarch64 is not registered with binfmt_misc: apt-get install qemu-user-static "
            "binfmt-support; update-binfmts --enable qemu-aarch64 (docs/arm64.md)"
        )
    client = engine_or_skip()
    image = plan.suite_image(EMULATED)
    prefix = f"{image.repository}:{image.key}-"
    found = [
        (made.attrs["Created"][:19], tag)
        for made in client.images.list(name=image.repository)
        for tag in made.tags
        if tag.startswith(prefix)
    ]
    if not found:
        pytest.skip(f"no {prefix}… image: vkzc matrix build --select '{EMULATED.identifier}' makes it")
    return client, max(found)[1]


def _run(client: Any, image: str, results: Path, command: str, environment: dict[str, str]) -> list[str]:
    """`command` in a cell's least-privilege container; its output lines, after it exited 0."""
    results.chmod(0o777)  # the image's user (uid 1000) writes here when the tests run as root
    spec = ContainerSpec(
        image=image, command=("sh", "-c", command), environment=environment, results_dir=results
    )
    with Container(spec, client=client) as container:
        lines = list(container.logs())
        assert container.wait(timeout=300) == 0, "\n".join(lines)
    return lines


# Which manifests the image has, and whether the library each names loads with all it depends on.
_CARRIES = """
import ctypes, json, os, platform, sys
found = {}
for name in sys.argv[1:]:
    path = os.path.join(os.environ["VKZC_ICD_DIR"], name)
    if not os.path.exists(path):
        found[name] = None
        continue
    library = json.load(open(path))["ICD"]["library_path"]
    try:
        ctypes.CDLL(library)
        found[name] = library
    except OSError as e:
        found[name] = f"not loadable: {e}"
print(json.dumps({"machine": platform.machine(), "icds": sorted(os.listdir(os.environ["VKZC_ICD_DIR"])),
                  "found": found}))
"""


@pytest.mark.slow
def test_the_arm64_image_carries_panvk_and_v3dv(tmp_path: Path) -> None:
    client, image = _arm64_suite_image()
    assert client.images.get(image).attrs["Architecture"] == "arm64"
    manifests = [board.icd_file for board in BOARDS]  # panfrost_icd.json, broadcom_icd.json
    script = tmp_path / "carries.py"
    script.write_text(_CARRIES)
    (out,) = _run(client, image, tmp_path, f"python3 /results/carries.py {' '.join(manifests)}", {})[-1:]
    report = json.loads(out)
    assert report["machine"] == "aarch64"
    assert {"panfrost_icd.json", "broadcom_icd.json", "lvp_icd.json"} <= set(report["icds"])
    assert report["found"] == {
        "panfrost_icd.json": "libvulkan_panfrost.so",
        "broadcom_icd.json": "libvulkan_broadcom.so",
    }


@pytest.mark.slow
def test_vkzc_probe_in_the_arm64_image(tmp_path: Path) -> None:
    """Unpinned, the loader loads every ICD the image carries; the board drivers find no GPU here and
    lavapipe is the one device. Pinned as the cell pins it, lavapipe alone."""
    client, image = _arm64_suite_image()
    probe = "python3 -m vkzc probe --json > /results/probe-{}.json"
    _run(client, image, tmp_path, probe.format("unpinned"), {})
    _run(client, image, tmp_path, probe.format("pinned"), cell_environment(EMULATED))
    for name, driver_files in (("unpinned", None), ("pinned", "/usr/share/vulkan/icd.d/lvp_icd.json")):
        report = json.loads((tmp_path / f"probe-{name}.json").read_text())
        assert report["loader"]["environment"]["VK_DRIVER_FILES"] == driver_files
        (device,) = report["devices"]
        assert device["identity"]["driver_id"] == "MESA_LLVMPIPE"
        assert EMULATED.driver.renderer_matches(device["identity"]["name"])
        assert device["identity"]["mesa_version"] == EMULATED.mesa.version

"""The qemu runner as data and images: matrix.yaml's `qemu` kind, the VM and disk layers of a cell's
images, and the disk step (export → tar → mke2fs) with a fake engine."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import jsonschema
import pytest
import yaml

from vkzc.errors import ConfigurationError, EnvironmentMissing
from vkzc.images import disk, plan
from vkzc.images.build import Builder
from vkzc.matrix import SCHEMA, QemuRunner, load_matrix, parse_matrix

ROOT = Path(__file__).resolve().parent.parent
MATRIX = load_matrix(ROOT / "matrix.yaml")
QEMU_CELL = "mesa-26.2.6-debian-sid/lavapipe/qemu-amd64"

VALID = textwrap.dedent(
    """\
    mesa:
      - id: mesa-26.2.6-debian-sid
        source: {kind: debian, suite: sid, version: 26.2.6-1, icd_arch_suffix: false}
      - id: nvidia-580
        source: {kind: installed, version: 580.159.04, icd_dir: /usr/local/nvidia/share/vulkan/icd.d}
    drivers:
      - id: lavapipe
        icd: lvp_icd.{arch}.json
        renderer: llvmpipe*
        mesa_driver: swrast
    runners:
      - id: vm
        kind: qemu
        arch: amd64
        kernel: sid
        memory: 2048M
        cpus: 4
        modules: [vgem]
        virtio_gpu: true
        devices: [/dev/udmabuf, /dev/dri/renderD128]
        timeouts: {mapped: 600}
      - id: small
        kind: qemu
        arch: amd64
        kernel: trixie
    cells:
      include:
        - {mesa: mesa-26.2.6-debian-sid, driver: lavapipe}
    default: ["*/lavapipe/vm-amd64"]
    """
)


def schema() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))


# --- matrix.yaml ----------------------------------------------------------------------------------


def test_a_qemu_runner_with_every_key_and_one_with_the_defaults() -> None:
    matrix = parse_matrix(VALID, filename="m.yaml")
    vm, small = matrix.runners
    assert vm == QemuRunner(
        id="vm",
        arch="amd64",
        kernel="sid",
        memory_mib=2048,
        cpus=4,
        modules=("vgem",),
        virtio_gpu=True,
        devices=("/dev/udmabuf", "/dev/dri/renderD128"),
        timeouts=(("mapped", 600.0),),
    )
    assert small == QemuRunner(id="small", arch="amd64", kernel="trixie")
    assert (small.memory_mib, small.cpus, small.modules, small.virtio_gpu) == (4096, 2, (), False)
    assert [cell.identifier for cell in matrix.cells] == [
        "mesa-26.2.6-debian-sid/lavapipe/vm-amd64",
        "mesa-26.2.6-debian-sid/lavapipe/small-amd64",
    ]
    schema().validate(yaml.safe_load(VALID))


def test_the_repository_matrix_runs_sid_lavapipe_in_the_vm_by_default() -> None:
    cell = MATRIX.cell(QEMU_CELL)
    assert cell in MATRIX.default_cells
    assert isinstance(cell.runner, QemuRunner)
    assert cell.runner.kernel == "sid" and cell.runner.virtio_gpu
    assert cell.runner.modules == ("vgem", "vivid")
    assert {"/dev/udmabuf", "/dev/dma_heap/system", "/dev/dri/card0", "/dev/dri/renderD128"} <= set(
        cell.devices
    )


# (what, old text, new text, text on the line the error must name, words the message must hold,
#  whether the JSON schema catches it too)
MALFORMED = [
    (
        "unknown key",
        "virtio_gpu: true",
        "virtio-gpu: true",
        "virtio-gpu",
        ["did you mean 'virtio_gpu'"],
        True,
    ),
    (
        "kernel missing",
        "    kernel: sid\n",
        "",
        "  - id: vm\n",
        ["'kernel' is missing in a qemu runner"],
        True,
    ),
    ("unknown kernel suite", "kernel: sid", "kernel: sidd", "kernel: sidd", ["did you mean 'sid'"], True),
    (
        "arm64 guest",
        "kind: qemu\n    arch: amd64",
        "kind: qemu\n    arch: arm64",
        "arch: arm64",
        ["amd64"],
        True,
    ),
    ("memory without unit", "memory: 2048M", "memory: 2048", "memory:", ["not a memory size", "4G"], True),
    ("memory in KiB", "memory: 2048M", "memory: 2048K", "memory:", ["'2048K' is not a memory size"], True),
    ("no cpus", "cpus: 4", "cpus: 0", "cpus:", ["'cpus'", "at least 1"], True),
    ("cpus as a word", "cpus: 4", "cpus: four", "cpus:", ["'cpus'", "whole number"], True),
    ("module name", "modules: [vgem]", "modules: [vgem.ko]", "modules:", ["not a kernel module name"], True),
    ("device glob", "/dev/dri/renderD128]", "/dev/dri/renderD*]", "devices:", ["no globs"], True),
    (
        "virtio_gpu as a word",
        "virtio_gpu: true",
        "virtio_gpu: yes please",
        "virtio_gpu",
        ["true or false"],
        True,
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "line_text", "words", "schema_catches"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_a_malformed_qemu_runner_names_file_line_and_key(
    old: str, new: str, line_text: str, words: list[str], schema_catches: bool
) -> None:
    assert old in VALID
    text = VALID.replace(old, new, 1)
    line = text[: text.index(line_text)].count("\n") + 1
    with pytest.raises(ConfigurationError) as caught:
        parse_matrix(text, filename="m.yaml")
    message = str(caught.value)
    assert message.startswith(f"m.yaml:{line}: "), message
    for word in words:
        assert word in message, message
    assert schema().is_valid(yaml.safe_load(text)) is not schema_catches


def test_a_qemu_runner_builds_images_so_an_installed_driver_cannot_run_there() -> None:
    text = VALID.replace("{mesa: mesa-26.2.6-debian-sid, driver: lavapipe}", "{mesa: nvidia-580, runner: vm}")
    with pytest.raises(ConfigurationError, match="docker and qemu runners build images"):
        parse_matrix(text, filename="m.yaml")


# --- images ---------------------------------------------------------------------------------------


def test_a_qemu_cell_boots_a_disk_of_a_suite_image_over_the_kernel_over_mesa() -> None:
    steps = plan.chain(plan.cell_image(MATRIX.cell(QEMU_CELL)))
    assert [step.repository for step in steps] == [
        "vkzc-base",
        "vkzc-mesa",
        "vkzc-vm",
        "vkzc-suite",
        "vkzc-disk",
    ]
    _base, _mesa, vm, suite, made = steps
    assert isinstance(vm, plan.DockerfileImage) and isinstance(suite, plan.DockerfileImage)
    assert vm.dockerfile == "vm.Dockerfile" and not vm.carries_vkzc
    assert dict(vm.buildargs) == {"KERNEL_SUITE": "sid", "KERNEL_FLAVOUR": "amd64"}
    # vkzc sits above the kernel: an edit to vkzc rebuilds the suite layer, never the kernel's.
    assert suite.carries_vkzc and suite.parent == vm
    assert suite.key == vm.key == made.key == "mesa-26.2.6-debian-sid-amd64-linux-sid"


def test_docker_cells_keep_their_images_and_share_mesa_with_the_vm() -> None:
    local = MATRIX.cell("mesa-26.2.6-debian-sid/lavapipe/local-amd64")
    assert plan.cell_image(local) == plan.suite_image(local)
    assert [s.repository for s in plan.chain(plan.cell_image(local))] == [
        "vkzc-base",
        "vkzc-mesa",
        "vkzc-suite",
    ]
    assert plan.suite_image(local).key == "mesa-26.2.6-debian-sid-amd64"
    assert plan.chain(plan.cell_image(MATRIX.cell(QEMU_CELL)))[1] == plan.suite_image(local).parent


def test_the_disk_tag_follows_its_suite_image() -> None:
    made = plan.cell_image(MATRIX.cell(QEMU_CELL))
    tag = plan.content_tag(made, "sha256:suite")
    assert tag.startswith("vkzc-disk:mesa-26.2.6-debian-sid-amd64-linux-sid-")
    assert plan.content_tag(made, "sha256:suite") == tag != plan.content_tag(made, "sha256:other")


# --- the disk step --------------------------------------------------------------------------------


def test_disk_size_leaves_room_in_whole_mib() -> None:
    mib = 1 << 20
    assert disk.disk_size(0) == 256 * mib
    assert disk.disk_size(100 * mib) == 456 * mib
    assert disk.disk_size(100 * mib + 1) == 457 * mib


def test_tree_bytes_rounds_to_blocks_and_counts_hard_links_once(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 5000)
    os.link(tmp_path / "a", tmp_path / "b")
    (tmp_path / "d").mkdir()
    assert disk.tree_bytes(tmp_path) == 8192 + 4096


def fake_rootfs(boot: dict[str, bytes]) -> bytes:
    """A tiny root filesystem as `docker export` streams it."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        files = {"etc/hostname": b"vkzc\n", "usr/bin/tool": b"#!/bin/sh\n", **boot}
        for name in ("boot", "etc", "usr", "usr/bin", "results"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.uid, info.gid = len(content), 1000 if name.startswith("etc") else 0, 0
            tar.addfile(info, io.BytesIO(content))
    return data.getvalue()


class FakeContainer:
    def __init__(self, stream: bytes) -> None:
        self.stream = stream
        self.removed = False

    def export(self, chunk_size: int) -> Iterator[bytes]:
        for start in range(0, len(self.stream), chunk_size):
            yield self.stream[start : start + chunk_size]

    def remove(self, force: bool) -> None:
        self.removed = force


class FakeEngine:
    """What disk.make asks of docker.DockerClient."""

    def __init__(self, stream: bytes) -> None:
        self.container = FakeContainer(stream)
        config = {
            "Env": ["PATH=/opt/vkzc/bin:/usr/bin", "VKZC_MESA_VERSION=26.2.6-1"],
            "WorkingDir": "/home/vkzc",
        }
        self.images = type(
            "Images", (), {"get": lambda _, tag: type("Image", (), {"attrs": {"Config": config}})}
        )()
        self.containers = type("Containers", (), {"create": lambda _, image, **kwargs: self.container})()


needs_root_and_mke2fs = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("mke2fs") is None,
    reason="making a disk needs root and mke2fs (e2fsprogs)",
)


@needs_root_and_mke2fs
def test_make_exports_unpacks_and_writes_an_ext4_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(disk, "CACHE", tmp_path / "cache")
    boot = {"boot/vmlinuz-7.2.13+deb14-amd64": b"kernel", "boot/initrd.img-7.2.13+deb14-amd64": b"initrd"}
    engine = FakeEngine(fake_rootfs(boot))
    lines: list[str] = []
    steps: list[tuple[int, int]] = []
    made = disk.make(
        engine, "vkzc-suite:x", "vkzc-disk:key-0123456789ab", lines.append, lambda *s: steps.append(s)
    )
    assert (
        made == disk.find("vkzc-disk:key-0123456789ab") == tmp_path / "cache" / "vkzc-disk_key-0123456789ab"
    )
    assert steps == [(0, 3), (1, 3), (2, 3), (3, 3)] and engine.container.removed
    guest = disk.load(made)
    assert guest.kernel.read_bytes() == b"kernel" and guest.initrd.read_bytes() == b"initrd"
    assert guest.kernel_release == "7.2.13+deb14-amd64" and guest.workdir == "/home/vkzc"
    assert guest.environment == (("PATH", "/opt/vkzc/bin:/usr/bin"), ("VKZC_MESA_VERSION", "26.2.6-1"))
    assert guest.disk.read_bytes()[1080:1082] == b"\x53\xef"  # ext2/3/4 superblock magic
    assert guest.disk.stat().st_size == 257 << 20  # twice the tree, in whole MiB, and 256 MiB
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [made.name]  # the scratch tree is gone
    if shutil.which("debugfs"):  # e2fsprogs: read the file system back without mounting it
        import subprocess

        listing = subprocess.run(
            ["debugfs", "-R", "stat /etc/hostname", str(guest.disk)], capture_output=True, text=True
        )
        assert "User:  1000" in listing.stdout
        boot_dir = subprocess.run(
            ["debugfs", "-R", "ls /boot", str(guest.disk)], capture_output=True, text=True
        )
        assert "vmlinuz" not in boot_dir.stdout


@needs_root_and_mke2fs
def test_make_wants_exactly_one_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(disk, "CACHE", tmp_path / "cache")
    engine = FakeEngine(
        fake_rootfs({"boot/vmlinuz-1": b"k", "boot/vmlinuz-2": b"k", "boot/initrd.img-1": b"i"})
    )
    with pytest.raises(EnvironmentMissing, match="one kernel and its initrd"):
        disk.make(engine, "vkzc-suite:x", "vkzc-disk:key-0123456789ab", lambda line: None, lambda *s: None)
    assert disk.find("vkzc-disk:key-0123456789ab") is None
    assert list((tmp_path / "cache").iterdir()) == []


class FakeDockerImages:
    def get(self, tag: str) -> Any:
        return type("Image", (), {"id": f"sha256:{abs(hash(tag))}"})()


def test_the_builder_makes_a_disk_once_then_finds_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(disk, "CACHE", tmp_path / "cache")
    made: list[tuple[str, str]] = []

    def make(client: Any, image: str, tag: str, log: Any, steps: Any) -> Path:
        made.append((image, tag))
        directory = disk.directory(tag)
        directory.mkdir(parents=True)
        (directory / disk.GUEST_FILE).write_text("{}")
        return directory

    monkeypatch.setattr(disk, "make", make)
    client = type("Client", (), {"images": FakeDockerImages()})()  # every engine image is there
    image = plan.cell_image(MATRIX.cell(QEMU_CELL))
    first = Builder(client, tmp_path / "logs").ensure(image)
    assert (
        first.built
        and first.tag.startswith("vkzc-disk:")
        and first.image_id == str(disk.directory(first.tag))
    )
    assert made == [(made[0][0], first.tag)] and made[0][0].startswith(
        "vkzc-suite:mesa-26.2.6-debian-sid-amd64-linux-sid-"
    )
    again = Builder(client, tmp_path / "logs").ensure(image)
    assert not again.built and again.tag == first.tag and len(made) == 1


def test_an_engine_without_the_image_fails_the_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() != 0:
        pytest.skip("making a disk needs root")
    monkeypatch.setattr(disk, "CACHE", tmp_path / "cache")

    def create(image: str, **kwargs: Any) -> Any:
        raise docker.errors.ImageNotFound(f"No such image: {image}")

    engine = FakeEngine(b"")
    engine.containers.create = create
    with pytest.raises(EnvironmentMissing, match="docker export of vkzc-suite:gone failed"):
        disk.make(engine, "vkzc-suite:gone", "vkzc-disk:key-0123456789ab", lambda line: None, lambda *s: None)

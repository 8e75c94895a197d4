"""Which images a cell needs, and the content they are made from.

A cell runs in `vkzc-suite:<key>-<hash>`, built on `vkzc-mesa:<key>-<hash>`, built on
`vkzc-base:<suite>-<arch>-<hash>`. Each hash covers the recipe (Dockerfile or bootstrap
settings), the build arguments, the parent image's id and, for the suite layer, vkzc's own
files: change any of them and the tag changes; change none and the image is reused.

A qemu cell's suite layer sits on `vkzc-vm:<key>-linux-<suite>-<hash>` (Debian's kernel over the
mesa image), and the cell boots `vkzc-disk:…`, that suite image's root filesystem made into a disk
image (vkzc/images/disk.py): a directory in vkzc's cache rather than an engine image.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from vkzc.fixtures import generate as fixtures
from vkzc.matrix.model import (
    Arch,
    Cell,
    DebianPackages,
    DebianSource,
    DebianSuite,
    Git,
    Installed,
    MesaBuild,
    QemuRunner,
    Tarball,
)

REPO = Path(__file__).resolve().parent.parent.parent
IMAGES_DIR = REPO / "images"
DEFAULT_MIRROR = "http://deb.debian.org/debian"

# Where each kind of Mesa build installs its ICD manifests inside the image.
_DEBIAN_ICD_DIR = "/usr/share/vulkan/icd.d"
_SOURCE_ICD_DIR = "/opt/mesa/share/vulkan/icd.d"
# vkzc's files that go into the suite layer; their content is part of its tag.
SUITE_SOURCES = ("pyproject.toml", "README.md", "vkzc", "suite", "shaders", "bench")


@dataclass(frozen=True, kw_only=True)
class BaseImage:
    suite: str
    arch: Arch
    mirror: str = DEFAULT_MIRROR

    repository = "vkzc-base"

    @property
    def key(self) -> str:
        return f"{self.suite}-{self.arch}"

    def recipe(self) -> bytes:
        from vkzc.images import base

        return base.recipe(self.suite, self.mirror).encode()


@dataclass(frozen=True, kw_only=True)
class DockerfileImage:
    """An image built from one of images/*.Dockerfile on top of `parent`."""

    repository: str
    key: str
    dockerfile: str
    buildargs: tuple[tuple[str, str], ...]
    parent: BaseImage | DockerfileImage
    # The suite layer carries vkzc itself: its context is staged on the host and its tag
    # covers vkzc's files (SUITE_SOURCES).
    carries_vkzc: bool = False

    @property
    def arch(self) -> Arch:
        return self.parent.arch

    def recipe(self) -> bytes:
        return (IMAGES_DIR / self.dockerfile).read_bytes()


@dataclass(frozen=True, kw_only=True)
class DiskImage:
    """A suite image's root filesystem as an ext4 disk image, its kernel and initrd beside it."""

    parent: DockerfileImage

    repository = "vkzc-disk"

    @property
    def key(self) -> str:
        return self.parent.key

    @property
    def arch(self) -> Arch:
        return self.parent.arch

    def recipe(self) -> bytes:
        from vkzc.images import disk

        return disk.RECIPE.encode()


Image = BaseImage | DockerfileImage | DiskImage


def content_tag(image: Image, parent_id: str | None, extra: bytes = b"") -> str:
    """`<repository>:<key>-<12 hex digits>` from everything that makes the image what it is."""
    digest = hashlib.sha256()
    digest.update(image.recipe())
    if isinstance(image, DockerfileImage):
        for name, value in image.buildargs:
            digest.update(f"\0{name}={value}".encode())
    digest.update(f"\0parent={parent_id}".encode())
    digest.update(extra)
    return f"{image.repository}:{image.key}-{digest.hexdigest()[:12]}"


def source_digest(root: Path = REPO, sources: Iterable[str] = SUITE_SOURCES) -> bytes:
    """A digest of vkzc's own files (paths and bytes), skipping caches."""
    digest = hashlib.sha256()
    for name in sources:
        top = root / name
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(path.read_bytes())
    # The decoder clips staged with the suite: their cache keys name the generator's version and the
    # encoders' (PyAV's) versions, which a change of vkzc's files alone would miss.
    for spec in fixtures.CLIPS:
        digest.update(fixtures.clip_key(spec).encode())
    return digest.digest()


def icd_dir(mesa: MesaBuild) -> str:
    """Where the cell's driver manifest is: in its image, or on the host for an installed driver."""
    if isinstance(mesa.source, Installed):
        return mesa.source.icd_dir
    return _DEBIAN_ICD_DIR if isinstance(mesa.source, DebianPackages) else _SOURCE_ICD_DIR


def mesa_image(mesa: MesaBuild, arch: Arch, mirror: str = DEFAULT_MIRROR) -> DockerfileImage:
    source = mesa.source
    if isinstance(source, Installed):
        raise ValueError(f"{mesa.id} is installed on its host: it has no image")
    base = BaseImage(suite=source.suite, arch=arch, mirror=mirror)
    if isinstance(source, DebianPackages):
        return DockerfileImage(
            repository="vkzc-mesa",
            key=f"{mesa.id}-{arch}",
            dockerfile="mesa-debian.Dockerfile",
            buildargs=(("MESA_VERSION", source.version),),
            parent=base,
        )
    args: list[tuple[str, str]] = [
        ("VULKAN_DRIVERS", ",".join(source.vulkan_drivers)),
        ("MESON_OPTIONS", " ".join(source.meson_args())),
    ]
    if isinstance(source, DebianSource):
        args += [("MESA_SOURCE", "debian"), ("MESA_DEB_VERSION", source.version)]
    elif isinstance(source, Tarball):
        args += [("MESA_SOURCE", "tarball"), ("MESA_URL", source.url), ("MESA_SHA256", source.sha256)]
    elif isinstance(source, Git):
        args += [("MESA_SOURCE", "git"), ("MESA_URL", source.url), ("MESA_REF", source.ref)]
    return DockerfileImage(
        repository="vkzc-mesa",
        key=f"{mesa.id}-{arch}",
        dockerfile="mesa-source.Dockerfile",
        buildargs=tuple(args),
        parent=base,
    )


# Debian's linux-image-<flavour> per architecture.
_KERNEL_FLAVOUR: dict[Arch, str] = {"amd64": "amd64", "arm64": "arm64"}


def vm_image(mesa: DockerfileImage, kernel: DebianSuite) -> DockerfileImage:
    """Debian's kernel from the suite `kernel` over a mesa image. It goes below the suite layer, so
    that an edit to vkzc rebuilds that small layer only, never the kernel's."""
    return DockerfileImage(
        repository="vkzc-vm",
        key=f"{mesa.key}-linux-{kernel}",
        dockerfile="vm.Dockerfile",
        buildargs=(("KERNEL_SUITE", kernel), ("KERNEL_FLAVOUR", _KERNEL_FLAVOUR[mesa.arch])),
        parent=mesa,
    )


def suite_image(cell: Cell, mirror: str = DEFAULT_MIRROR) -> DockerfileImage:
    parent = mesa_image(cell.mesa, cell.arch, mirror)
    if isinstance(cell.runner, QemuRunner):
        parent = vm_image(parent, cell.runner.kernel)
    return DockerfileImage(
        repository="vkzc-suite",
        # <mesa-id>-<arch>, with -linux-<suite> for a VM's.
        key=parent.key,
        dockerfile="suite.Dockerfile",
        buildargs=(),
        parent=parent,
        carries_vkzc=True,
    )


def cell_image(cell: Cell, mirror: str = DEFAULT_MIRROR) -> DockerfileImage | DiskImage:
    """What a cell runs in: its suite image, or for a qemu cell the disk image made from it."""
    suite = suite_image(cell, mirror)
    return DiskImage(parent=suite) if isinstance(cell.runner, QemuRunner) else suite


def chain(image: Image) -> list[Image]:
    """The image and its ancestors, base first: the order they are built in."""
    out: list[Image] = [image]
    while not isinstance(out[-1], BaseImage):
        out.append(out[-1].parent)
    return out[::-1]

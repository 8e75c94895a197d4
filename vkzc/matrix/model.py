"""The test matrix as values: Mesa builds, drivers, runners, and the cells that combine them.

Everything here is immutable and built only by `vkzc.matrix.load`, which has already checked it;
the model itself trusts its fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import ClassVar, Literal

from vkzc.matrix.patterns import matches

Arch = Literal["amd64", "arm64"]
ARCHES: tuple[Arch, ...] = ("amd64", "arm64")
# Docker and Debian name architectures one way, Mesa's ICD manifests (meson's host cpu) another.
_CPU: dict[Arch, str] = {"amd64": "x86_64", "arm64": "aarch64"}

DebianSuite = Literal["bookworm", "trixie", "sid"]
DEBIAN_SUITES: tuple[DebianSuite, ...] = ("bookworm", "trixie", "sid")

# Hardware decoding sources a runner has (issue 8): `vaapi` (Intel/AMD through libva) and `v4l2`
# (a V4L2 memory-to-memory decoder: stateful v4l2m2m or stateless request API). Cells on such a runner
# run in an image that carries the FFmpeg and PyAV those sources decode with (vkzc/images/plan.py).
Decoder = Literal["vaapi", "v4l2"]
DECODERS: tuple[Decoder, ...] = ("vaapi", "v4l2")

# The choices of meson's -Dvulkan-drivers (Mesa's meson_options.txt); extend when Mesa adds one.
MESA_VULKAN_DRIVERS = frozenset(
    {
        "amd",
        "asahi",
        "broadcom",
        "freedreno",
        "gfxstream",
        "imagination-experimental",
        "intel",
        "intel_hasvk",
        "microsoft-experimental",
        "nouveau",
        "panfrost",
        "swrast",
        "virtio",
    }
)


def _debian_upstream(version: str) -> str:
    """Mesa's own version inside a Debian version: `1:25.0.7-2+deb13u1` → `25.0.7`."""
    upstream = version.split(":", 1)[-1].rsplit("-", 1)[0]
    # Debian writes pre-releases with `~` so that they sort first; Mesa writes `-rc1`.
    return upstream.replace("~", "-")


@dataclass(frozen=True, kw_only=True)
class DebianPackages:
    """Debian's binary mesa-vulkan-drivers, exactly this version, from this suite."""

    kind: ClassVar[str] = "debian"
    suite: DebianSuite
    version: str
    # Debian ships one arch-less manifest per driver (`lvp_icd.json`) since 25.0.5-1, to share it
    # between multiarch architectures; older packages keep meson's `lvp_icd.x86_64.json`.
    icd_arch_suffix: bool

    @property
    def mesa_version(self) -> str:
        return _debian_upstream(self.version)

    def describe(self) -> str:
        return f"debian {self.suite} {self.version}"


@dataclass(frozen=True, kw_only=True)
class _FromSource:
    """What every build from source shares: the suite it is built and run on, and meson's input."""

    suite: DebianSuite
    vulkan_drivers: tuple[str, ...]
    # Rendered as meson wants them (`true`, `a,b`), in the file's order.
    meson_options: tuple[tuple[str, str], ...] = ()
    # Our images run `meson install` themselves, which always names manifests per architecture.
    icd_arch_suffix: ClassVar[bool] = True

    def meson_args(self) -> tuple[str, ...]:
        """The -D options beyond -Dvulkan-drivers, which images take separately."""
        return tuple(f"-D{name}={value}" for name, value in self.meson_options)


@dataclass(frozen=True, kw_only=True)
class DebianSource(_FromSource):
    """Debian's patched source package (`apt-get source mesa=VERSION`), built with our meson options."""

    kind: ClassVar[str] = "debian-source"
    version: str

    @property
    def mesa_version(self) -> str:
        return _debian_upstream(self.version)

    def describe(self) -> str:
        return f"debian-source {self.version} on {self.suite}"


@dataclass(frozen=True, kw_only=True)
class Tarball(_FromSource):
    """An upstream release tarball, checked against its sha256 before anything is built from it."""

    kind: ClassVar[str] = "tarball"
    url: str
    sha256: str
    mesa_version: str

    def describe(self) -> str:
        return f"tarball {self.url.rsplit('/', 1)[-1]} on {self.suite}"


@dataclass(frozen=True, kw_only=True)
class Git(_FromSource):
    kind: ClassVar[str] = "git"
    url: str
    ref: str
    # What the tree's VERSION file is expected to say; a ref alone does not tell.
    mesa_version: str

    def describe(self) -> str:
        return f"git {self.url}@{self.ref} on {self.suite}"


@dataclass(frozen=True, kw_only=True)
class Installed:
    """The driver already installed on a host runner (NVIDIA's, or a board's own Mesa): nothing is built."""

    kind: ClassVar[str] = "installed"
    version: str
    # Where that host keeps the driver's manifest, e.g. /usr/local/nvidia/share/vulkan/icd.d.
    icd_dir: str
    icd_arch_suffix: bool = True

    @property
    def mesa_version(self) -> str:
        return self.version

    def describe(self) -> str:
        return f"installed {self.version} ({self.icd_dir})"


MesaSource = DebianPackages | DebianSource | Tarball | Git | Installed
SourceBuild = DebianSource | Tarball | Git


@dataclass(frozen=True, kw_only=True)
class MesaBuild:
    id: str
    source: MesaSource

    @property
    def version(self) -> str:
        return self.source.mesa_version

    def provides(self, driver: Driver) -> bool:
        if driver.mesa_driver is None:
            return True  # not Mesa's (nvidia): the build is beside the point
        if isinstance(self.source, DebianPackages | Installed):
            return True  # whatever Debian or the host ships; the renderer check tells
        return driver.mesa_driver in self.source.vulkan_drivers


@dataclass(frozen=True, kw_only=True)
class Driver:
    id: str
    # Manifest file name; `{arch}` becomes the CPU name Mesa uses (x86_64, aarch64).
    icd: str
    # Device-node globs that must all be present on the runner, e.g. /dev/dri/renderD*.
    needs: tuple[str, ...]
    # Glob (with {a,b}) that VkPhysicalDeviceProperties.deviceName must match to prove this driver ran.
    renderer: str
    # meson's name for it (-Dvulkan-drivers); None for drivers that are not Mesa's.
    mesa_driver: str | None

    def icd_file(self, arch: Arch, *, arch_suffix: bool = True) -> str:
        if arch_suffix:
            return self.icd.format(arch=_CPU[arch])
        return self.icd.replace(".{arch}", "").format(arch=_CPU[arch])

    def renderer_matches(self, device_name: str) -> bool:
        return matches(self.renderer, device_name)

    def runs_on(self, devices: Sequence[str]) -> bool:
        return all(any(fnmatchcase(device, need) for device in devices) for need in self.needs)


@dataclass(frozen=True, kw_only=True)
class DockerRunner:
    """A machine with a Docker engine; cells run in a container holding only `devices`."""

    kind: ClassVar[str] = "docker"
    id: str
    arch: Arch
    # GitHub Actions `runs-on` labels of the machine; empty for the local machine.
    labels: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    # Per-path time limits of one case (seconds) where this machine needs other than the defaults.
    timeouts: tuple[tuple[str, float], ...] = ()
    decoders: tuple[Decoder, ...] = ()


@dataclass(frozen=True, kw_only=True)
class HostRunner:
    """This machine, no containers: how a developer runs the suite on a laptop, and how a lab machine
    without Docker (or the lent NVIDIA machine) runs it. Its cells use an `installed` driver."""

    kind: ClassVar[str] = "host"
    id: str
    arch: Arch
    labels: tuple[str, ...] = ()
    # The device nodes the driver uses there; they are checked, not passed anywhere.
    devices: tuple[str, ...] = ()
    timeouts: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, kw_only=True)
class QemuRunner:
    """A virtual machine that QEMU boots on whatever machine runs vkzc, with Debian's kernel from
    `kernel`: it gives a cell the kernel's dma-buf exporters (udmabuf, dma-heaps, vgem, virtio-gpu)
    that a container on our machines lacks. vkzc/runners/qemu.py runs it."""

    kind: ClassVar[str] = "qemu"
    id: str
    arch: Arch
    # The Debian suite whose linux-image the VM boots (images/vm.Dockerfile).
    kernel: DebianSuite
    memory_mib: int = 4096
    cpus: int = 2
    # Loaded in this order before the command runs (no udev there to load them): the first DRM
    # driver loaded gets card0/renderD128.
    modules: tuple[str, ...] = ()
    # Attach QEMU's virtio-gpu (2D, KMS) and load its driver after `modules`.
    virtio_gpu: bool = False
    # Guest device nodes that must exist once the modules are loaded; the cell's user gets them.
    devices: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    timeouts: tuple[tuple[str, float], ...] = ()


# The loader dispatches on `kind`.
Runner = DockerRunner | HostRunner | QemuRunner


@dataclass(frozen=True, kw_only=True)
class Cell:
    mesa: MesaBuild
    driver: Driver
    runner: Runner

    @property
    def identifier(self) -> str:
        return f"{self.mesa.id}/{self.driver.id}/{self.runner.id}-{self.runner.arch}"

    @property
    def arch(self) -> Arch:
        return self.runner.arch

    @property
    def icd_file(self) -> str:
        return self.driver.icd_file(self.arch, arch_suffix=self.mesa.source.icd_arch_suffix)

    @property
    def devices(self) -> tuple[str, ...]:
        return self.runner.devices

    @property
    def decoders(self) -> tuple[Decoder, ...]:
        return self.runner.decoders if isinstance(self.runner, DockerRunner) else ()


@dataclass(frozen=True, kw_only=True)
class Matrix:
    mesa: tuple[MesaBuild, ...]
    drivers: tuple[Driver, ...]
    runners: tuple[Runner, ...]
    cells: tuple[Cell, ...]
    # Patterns that `vkzc matrix run` selects when given none.
    default: tuple[str, ...]

    def cell(self, identifier: str) -> Cell:
        for cell in self.cells:
            if cell.identifier == identifier:
                return cell
        raise KeyError(identifier)

    @property
    def default_cells(self) -> tuple[Cell, ...]:
        return tuple(cell for cell in self.cells if any(matches(p, cell.identifier) for p in self.default))

"""DRM dumb buffers exported with PRIME (drm/drm.h, drm/drm_mode.h): vgem, virtio-gpu, any KMS driver.

Dumb buffers are created on the primary (card) node: the kernel does not allow
DRM_IOCTL_MODE_CREATE_DUMB on render nodes. vgem has no modesetting, but its GEM shmem helpers
(DRM_GEM_SHMEM_DRIVER_OPS in drivers/gpu/drm/vgem/vgem_drv.c) provide dumb_create.
"""

from __future__ import annotations

import ctypes
import mmap
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vkzc.dmabuf import sync
from vkzc.dmabuf.buffer import DmaBuf
from vkzc.dmabuf.ioctl import ioctl, iow, iowr

DRI = Path("/dev/dri")
SYSFS_DRM = Path("/sys/class/drm")
DRM_CLOEXEC = os.O_CLOEXEC
DRM_RDWR = os.O_RDWR
# Rows of 4096 bytes at 32 bits a pixel: within every driver's width limit, any size is whole rows.
ROW_PIXELS = 1024
BPP = 32
ROW_BYTES = ROW_PIXELS * BPP // 8


class DrmVersion(ctypes.Structure):
    _fields_ = (
        ("version_major", ctypes.c_int),
        ("version_minor", ctypes.c_int),
        ("version_patchlevel", ctypes.c_int),
        ("name_len", ctypes.c_size_t),
        ("name", ctypes.c_char_p),
        ("date_len", ctypes.c_size_t),
        ("date", ctypes.c_char_p),
        ("desc_len", ctypes.c_size_t),
        ("desc", ctypes.c_char_p),
    )


class DrmModeCreateDumb(ctypes.Structure):
    _fields_ = (
        ("height", ctypes.c_uint32),
        ("width", ctypes.c_uint32),
        ("bpp", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("handle", ctypes.c_uint32),
        ("pitch", ctypes.c_uint32),
        ("size", ctypes.c_uint64),
    )


class DrmPrimeHandle(ctypes.Structure):
    _fields_ = (("handle", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("fd", ctypes.c_int32))


class DrmModeMapDumb(ctypes.Structure):
    _fields_ = (("handle", ctypes.c_uint32), ("pad", ctypes.c_uint32), ("offset", ctypes.c_uint64))


class DrmModeDestroyDumb(ctypes.Structure):
    _fields_ = (("handle", ctypes.c_uint32),)


class DrmVgemFenceAttach(ctypes.Structure):
    _fields_ = (
        ("handle", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("out_fence", ctypes.c_uint32),
        ("pad", ctypes.c_uint32),
    )


class DrmVgemFenceSignal(ctypes.Structure):
    _fields_ = (("fence", ctypes.c_uint32), ("flags", ctypes.c_uint32))


DRM_COMMAND_BASE = 0x40
DRM_IOCTL_VERSION = iowr("d", 0x00, DrmVersion)
DRM_IOCTL_PRIME_HANDLE_TO_FD = iowr("d", 0x2D, DrmPrimeHandle)
DRM_IOCTL_MODE_CREATE_DUMB = iowr("d", 0xB2, DrmModeCreateDumb)
DRM_IOCTL_MODE_MAP_DUMB = iowr("d", 0xB3, DrmModeMapDumb)
DRM_IOCTL_MODE_DESTROY_DUMB = iowr("d", 0xB4, DrmModeDestroyDumb)
# vgem's own (drm/vgem_drm.h): a fence on a buffer that only userspace signals, i.e. an engine that
# is still writing for as long as the caller wants.
DRM_IOCTL_VGEM_FENCE_ATTACH = iowr("d", DRM_COMMAND_BASE + 0x1, DrmVgemFenceAttach)
DRM_IOCTL_VGEM_FENCE_SIGNAL = iow("d", DRM_COMMAND_BASE + 0x2, DrmVgemFenceSignal)
VGEM_FENCE_WRITE = 0x1


def driver_name(fd: int) -> str:
    """The kernel driver behind a DRM node (DRM_IOCTL_VERSION), e.g. "vgem" or "virtio_gpu"."""
    name = ctypes.create_string_buffer(64)
    arg = DrmVersion(name_len=len(name), name=ctypes.cast(name, ctypes.c_char_p))
    ioctl(fd, "DRM_IOCTL_VERSION", DRM_IOCTL_VERSION, arg)
    return name.raw[: min(int(arg.name_len), len(name))].decode(errors="replace")


def nodes(prefix: str) -> list[Path]:
    """/dev/dri/<prefix>N nodes in number order (card0, card1, ... or renderD128, ...)."""
    found = DRI.glob(f"{prefix}*") if DRI.is_dir() else ()
    return sorted(found, key=lambda p: int(p.name.removeprefix(prefix) or -1))


def card_of(driver: str) -> Path | None:
    """The first card node driven by `driver` that this process can open."""
    for node in nodes("card"):
        try:
            fd = os.open(node, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            if driver_name(fd) == driver:
                return node
        except OSError:
            continue
        finally:
            os.close(fd)
    return None


def _sysfs_cards(driver: str) -> list[str]:
    """Cards the kernel drives with `driver`, from sysfs, which a container sees even without /dev nodes."""
    # A PCI or virtio device names its driver; vgem's platform device has none, but is named vgem.
    return sorted(
        card.name
        for card in SYSFS_DRM.glob("card[0-9]*")
        if "-" not in card.name
        and driver in ((card / "device" / "driver").resolve().name, (card / "device").resolve().name)
    )


class DumbBuffer:
    """A dumb buffer shaped as an image: the pitch is the kernel's choice, the CPU map the card's own
    (DRM_IOCTL_MODE_MAP_DUMB + mmap of the card node), the dma-buf its PRIME export. Owns the card fd,
    the GEM handle and the dma-buf."""

    def __init__(self, card: int, handle: int, *, pitch: int, size: int, dmabuf: DmaBuf, origin: str) -> None:
        self.card = card
        self.origin = origin
        self.handle = handle
        self.pitch = pitch
        self.size = size
        self.dmabuf = dmabuf
        self.offset = 0  # the first pixel is the buffer's first byte

    @staticmethod
    def create(node: Path, width: int, height: int, bpp: int) -> DumbBuffer:
        card = os.open(node, os.O_RDWR | os.O_CLOEXEC)
        dumb = DrmModeCreateDumb(height=height, width=width, bpp=bpp)
        try:
            ioctl(card, "DRM_IOCTL_MODE_CREATE_DUMB", DRM_IOCTL_MODE_CREATE_DUMB, dumb)
            prime = DrmPrimeHandle(handle=dumb.handle, flags=DRM_CLOEXEC | DRM_RDWR, fd=-1)
            ioctl(card, "DRM_IOCTL_PRIME_HANDLE_TO_FD", DRM_IOCTL_PRIME_HANDLE_TO_FD, prime)
        except BaseException:
            os.close(card)  # closing the card drops a GEM handle made before the failure
            raise
        driver = driver_name(card)
        dmabuf = DmaBuf(int(prime.fd), exporter=driver)
        return DumbBuffer(
            card,
            int(dumb.handle),
            pitch=int(dumb.pitch),
            size=int(dumb.size),
            dmabuf=dmabuf,
            origin=f"{driver} dumb buffer on {node}",
        )

    def __enter__(self) -> DumbBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def mapped(self, access: int) -> Iterator[npt.NDArray[np.uint8]]:
        """The buffer's bytes through the card's mapping, bracketed by DMA_BUF_IOCTL_SYNC on its dma-buf."""
        with self.unsynced_map() as raw, sync.cpu_access(self.dmabuf.fd, access):
            yield raw

    @contextmanager
    def unsynced_map(self) -> Iterator[npt.NDArray[np.uint8]]:
        """The card's mapping without DMA_BUF_IOCTL_SYNC: what the engine that holds a pending fence on
        the buffer writes through (SYNC START would wait for that very fence)."""
        arg = DrmModeMapDumb(handle=self.handle)
        ioctl(self.card, "DRM_IOCTL_MODE_MAP_DUMB", DRM_IOCTL_MODE_MAP_DUMB, arg)
        mapping = mmap.mmap(
            self.card, self.size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=int(arg.offset)
        )
        yield np.frombuffer(mapping, dtype=np.uint8)

    def attach_fence(self) -> int:
        """vgem only: a pending write fence on the buffer (DRM_IOCTL_VGEM_FENCE_ATTACH); its id."""
        arg = DrmVgemFenceAttach(handle=self.handle, flags=VGEM_FENCE_WRITE)
        ioctl(self.card, "DRM_IOCTL_VGEM_FENCE_ATTACH", DRM_IOCTL_VGEM_FENCE_ATTACH, arg)
        return int(arg.out_fence)

    def signal_fence(self, fence: int) -> None:
        ioctl(
            self.card,
            "DRM_IOCTL_VGEM_FENCE_SIGNAL",
            DRM_IOCTL_VGEM_FENCE_SIGNAL,
            DrmVgemFenceSignal(fence=fence),
        )

    def close(self) -> None:
        self.dmabuf.close()
        if self.card < 0:
            return
        destroy = DrmModeDestroyDumb(handle=self.handle)
        try:
            ioctl(self.card, "DRM_IOCTL_MODE_DESTROY_DUMB", DRM_IOCTL_MODE_DESTROY_DUMB, destroy)
        finally:
            os.close(self.card)
            self.card = -1


@dataclass(frozen=True)
class DumbExporter:
    """Dumb buffers of the card driven by the DRM driver `driver`, exported with PRIME."""

    name: str
    driver: str
    missing: str  # why a machine has no such card at all, and how to get one

    def available(self) -> str | None:
        if card_of(self.driver) is not None:
            return None
        if not SYSFS_DRM.is_dir():
            return f"no DRM card driven by {self.driver}: the kernel has no DRM subsystem (no {SYSFS_DRM})"
        cards = _sysfs_cards(self.driver)
        if cards:
            return (
                f"the kernel has a {self.driver} card ({', '.join(cards)}) but this container or VM "
                f"was not given its {DRI} node, or cannot open it"
            )
        return f"no DRM card driven by {self.driver}: {self.missing}"

    def size_unsupported(self, size: int) -> str | None:
        # Whole rows of ROW_BYTES, page-aligned by the kernel, cover any size.
        return None

    def allocate(self, size: int) -> DmaBuf:
        node = card_of(self.driver)
        if node is None:
            raise OSError(f"no DRM card driven by {self.driver}")
        card = os.open(node, os.O_RDWR | os.O_CLOEXEC)
        try:
            dumb = DrmModeCreateDumb(height=-(-size // ROW_BYTES), width=ROW_PIXELS, bpp=BPP)
            ioctl(card, "DRM_IOCTL_MODE_CREATE_DUMB", DRM_IOCTL_MODE_CREATE_DUMB, dumb)
            prime = DrmPrimeHandle(handle=dumb.handle, flags=DRM_CLOEXEC | DRM_RDWR, fd=-1)
            ioctl(card, "DRM_IOCTL_PRIME_HANDLE_TO_FD", DRM_IOCTL_PRIME_HANDLE_TO_FD, prime)
        finally:
            # Closing the card drops the GEM handle; the dma-buf keeps the object alive.
            os.close(card)
        return DmaBuf(int(prime.fd), exporter=self.name)

    def allocate_image(self, width: int, height: int, bpp: int) -> DumbBuffer:
        """A width x height dumb buffer of `bpp` bits a pixel, at the pitch the driver chooses."""
        node = card_of(self.driver)
        if node is None:
            raise OSError(f"no DRM card driven by {self.driver}")
        return DumbBuffer.create(node, width, height, bpp)

    def close(self) -> None:
        pass


VGEM = DumbExporter(
    name="vgem", driver="vgem", missing="load the vgem module (modprobe vgem; CONFIG_DRM_VGEM)"
)
VIRTIO_GPU = DumbExporter(
    name="virtio-gpu",
    driver="virtio_gpu",
    missing="the machine has no virtio-gpu device (QEMU: -device virtio-gpu-pci; CONFIG_DRM_VIRTIO_GPU)",
)

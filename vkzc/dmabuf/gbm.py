"""GBM (Mesa's libgbm): linear buffer objects exported with gbm_bo_get_fd, through ctypes.

GBM needs a DRM node and a Mesa backend that drives it. On vgem that is kms_swrast, which makes
dumb buffers and so only works on the card node: every node is tried, render nodes first.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vkzc.dmabuf import sync
from vkzc.dmabuf.buffer import DmaBuf
from vkzc.dmabuf.drm import driver_name, nodes

LIBRARY = "libgbm.so.1"
GBM_FORMAT_ARGB8888 = 0x34325241  # fourcc "AR24"
GBM_FORMAT_ABGR8888 = 0x34324241  # fourcc "AB24"
GBM_BO_USE_RENDERING = 1 << 2
GBM_BO_USE_LINEAR = 1 << 4
GBM_BO_TRANSFER_READ = 1 << 0
GBM_BO_TRANSFER_WRITE = 1 << 1
DRM_FORMAT_MOD_LINEAR = 0
DRM_FORMAT_MOD_INVALID = (1 << 56) - 1
ROW_PIXELS = 4096  # 16 KiB rows: few rows even for 64 MiB, far below any backend's size limit
ROW_BYTES = ROW_PIXELS * 4


def _load() -> ctypes.CDLL:
    lib = ctypes.CDLL(LIBRARY, use_errno=True)
    lib.gbm_create_device.argtypes = (ctypes.c_int,)
    lib.gbm_create_device.restype = ctypes.c_void_p
    lib.gbm_device_destroy.argtypes = (ctypes.c_void_p,)
    lib.gbm_device_destroy.restype = None
    lib.gbm_device_get_backend_name.argtypes = (ctypes.c_void_p,)
    lib.gbm_device_get_backend_name.restype = ctypes.c_char_p
    lib.gbm_bo_create.argtypes = (ctypes.c_void_p, *(ctypes.c_uint32,) * 4)
    lib.gbm_bo_create.restype = ctypes.c_void_p
    lib.gbm_bo_get_fd.argtypes = (ctypes.c_void_p,)
    lib.gbm_bo_get_fd.restype = ctypes.c_int
    lib.gbm_bo_destroy.argtypes = (ctypes.c_void_p,)
    lib.gbm_bo_destroy.restype = None
    lib.gbm_device_is_format_supported.argtypes = (ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32)
    lib.gbm_device_is_format_supported.restype = ctypes.c_int
    lib.gbm_bo_get_stride.argtypes = (ctypes.c_void_p,)
    lib.gbm_bo_get_stride.restype = ctypes.c_uint32
    lib.gbm_bo_get_offset.argtypes = (ctypes.c_void_p, ctypes.c_int)
    lib.gbm_bo_get_offset.restype = ctypes.c_uint32
    lib.gbm_bo_get_modifier.argtypes = (ctypes.c_void_p,)
    lib.gbm_bo_get_modifier.restype = ctypes.c_uint64
    lib.gbm_bo_map.argtypes = (
        ctypes.c_void_p,
        *(ctypes.c_uint32,) * 5,
        ctypes.POINTER(ctypes.c_uint32),
        ctypes.POINTER(ctypes.c_void_p),
    )
    lib.gbm_bo_map.restype = ctypes.c_void_p
    lib.gbm_bo_unmap.argtypes = (ctypes.c_void_p, ctypes.c_void_p)
    lib.gbm_bo_unmap.restype = None
    return lib


@dataclass(frozen=True)
class _Opened:
    lib: ctypes.CDLL
    fd: int
    device: int
    node: Path
    driver: str
    backend: str


def fourcc_name(fourcc: int) -> str:
    """DRM's four characters, e.g. AR24."""
    return fourcc.to_bytes(4, "little").decode(errors="replace")


class GbmBuffer:
    """A linear buffer object kept alive with its dma-buf: the pitch is GBM's choice, the CPU map
    gbm_bo_map's (bracketed by DMA_BUF_IOCTL_SYNC on the dma-buf)."""

    def __init__(self, opened: _Opened, bo: int, *, width: int, height: int) -> None:
        self._lib = opened.lib
        self.bo: int | None = bo
        self.width = width
        self.height = height
        self.pitch = int(self._lib.gbm_bo_get_stride(bo))
        self.offset = int(self._lib.gbm_bo_get_offset(bo, 0))
        self.modifier = int(self._lib.gbm_bo_get_modifier(bo))
        fd = self._lib.gbm_bo_get_fd(bo)
        if fd < 0:
            code = ctypes.get_errno()
            self._lib.gbm_bo_destroy(bo)
            raise OSError(code, "gbm_bo_get_fd failed")
        self.dmabuf = DmaBuf(int(fd), exporter="gbm")
        self.origin = f"GBM buffer object on {opened.node} ({opened.driver}, backend {opened.backend})"

    def __enter__(self) -> GbmBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def mapped(self, access: int) -> Iterator[npt.NDArray[np.uint8]]:
        """The whole buffer object's rows (pitch x height bytes from its first pixel) through gbm_bo_map."""
        flags = (GBM_BO_TRANSFER_READ if access & sync.READ else 0) | (
            GBM_BO_TRANSFER_WRITE if access & sync.WRITE else 0
        )
        stride = ctypes.c_uint32()
        data = ctypes.c_void_p()
        with sync.cpu_access(self.dmabuf.fd, access):
            pointer = self._lib.gbm_bo_map(
                self.bo, 0, 0, self.width, self.height, flags, ctypes.byref(stride), ctypes.byref(data)
            )
            if not pointer:
                raise OSError(ctypes.get_errno(), "gbm_bo_map failed")
            try:
                if stride.value != self.pitch:
                    raise OSError(
                        f"gbm_bo_map maps at a stride of {stride.value}, the buffer object's is {self.pitch}"
                    )
                # Valid only until gbm_bo_unmap, at the end of the block.
                start = ctypes.cast(pointer, ctypes.POINTER(ctypes.c_uint8))
                yield np.ctypeslib.as_array(start, shape=(self.pitch * self.height,))
            finally:
                self._lib.gbm_bo_unmap(self.bo, data)

    def close(self) -> None:
        self.dmabuf.close()
        if self.bo is not None:
            self._lib.gbm_bo_destroy(self.bo)
            self.bo = None


class GbmExporter:
    name = "gbm"

    def __init__(self) -> None:
        self._opened: _Opened | None = None
        self._reason: str | None = None
        self._checked = False

    def available(self) -> str | None:
        if not self._checked:
            self._checked = True
            self._reason = self._open()
        return self._reason

    def _open(self) -> str | None:
        try:
            lib = _load()
        except OSError as e:
            return f"{LIBRARY} cannot be loaded ({e}): install libgbm1"
        candidates = nodes("renderD") + nodes("card")
        if not candidates:
            return "no /dev/dri node for GBM to open"
        failures = []
        for node in candidates:
            try:
                fd = os.open(node, os.O_RDWR | os.O_CLOEXEC)
            except OSError as e:
                failures.append(f"{node}: {e.strerror}")
                continue
            opened, failure = self._try(lib, node, fd)
            if opened is not None:
                self._opened = opened
                return None
            failures.append(failure)
            os.close(fd)
        return "GBM cannot export a linear buffer on any DRM node: " + "; ".join(failures)

    @staticmethod
    def _try(lib: ctypes.CDLL, node: Path, fd: int) -> tuple[_Opened | None, str]:
        driver = driver_name(fd)
        label = f"{node} ({driver})"
        device = lib.gbm_create_device(fd)
        if not device:
            return None, f"{label}: gbm_create_device failed"
        backend = (lib.gbm_device_get_backend_name(device) or b"?").decode()
        opened = _Opened(lib=lib, fd=fd, device=device, node=node, driver=driver, backend=backend)
        try:
            os.close(_export(opened, ROW_BYTES))
        except OSError as e:
            lib.gbm_device_destroy(device)
            return None, f"{label}, backend {backend}: {e}"
        return opened, ""

    def size_unsupported(self, size: int) -> str | None:
        return None

    def allocate(self, size: int) -> DmaBuf:
        reason = self.available()
        if self._opened is None:
            raise OSError(f"GBM is unavailable: {reason}")
        return DmaBuf(_export(self._opened, size), exporter=self.name)

    def format_unsupported(self, fourcc: int) -> str | None:
        """None when GBM says it can make linear buffers of `fourcc` for rendering, else its answer."""
        reason = self.available()
        if self._opened is None:
            return reason
        if self._opened.lib.gbm_device_is_format_supported(self._opened.device, fourcc, GBM_BO_USE_LINEAR):
            return None
        return (
            f"GBM on {self._opened.node} ({self._opened.driver}, backend {self._opened.backend}): "
            f"gbm_device_is_format_supported({fourcc_name(fourcc)}, GBM_BO_USE_LINEAR) says no"
        )

    def allocate_image(self, width: int, height: int, fourcc: int) -> GbmBuffer:
        """A linear width x height buffer object of `fourcc`, at the pitch GBM chooses."""
        reason = self.available()
        if self._opened is None:
            raise OSError(f"GBM is unavailable: {reason}")
        lib = self._opened.lib
        bo = lib.gbm_bo_create(self._opened.device, width, height, fourcc, GBM_BO_USE_LINEAR)
        if not bo:
            code = ctypes.get_errno()
            raise OSError(code, f"gbm_bo_create({width}x{height} {fourcc_name(fourcc)}, LINEAR) failed")
        return GbmBuffer(self._opened, bo, width=width, height=height)

    def close(self) -> None:
        if self._opened is not None:
            self._opened.lib.gbm_device_destroy(self._opened.device)
            os.close(self._opened.fd)
            self._opened = None
            self._checked = False


def _export(opened: _Opened, size: int) -> int:
    """A dma-buf fd of a new linear ARGB8888 buffer object of at least `size` bytes."""
    rows = -(-size // ROW_BYTES)
    lib = opened.lib
    bo = lib.gbm_bo_create(opened.device, ROW_PIXELS, rows, GBM_FORMAT_ARGB8888, GBM_BO_USE_LINEAR)
    if not bo:
        code = ctypes.get_errno()
        raise OSError(code, f"gbm_bo_create({ROW_PIXELS}x{rows} ARGB8888, LINEAR) failed")
    try:
        fd = lib.gbm_bo_get_fd(bo)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "gbm_bo_get_fd failed")
    finally:
        # The dma-buf keeps the buffer's memory; the buffer object is not needed any more.
        lib.gbm_bo_destroy(bo)
    return int(fd)

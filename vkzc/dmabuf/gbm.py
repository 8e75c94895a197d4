"""GBM (Mesa's libgbm): linear buffer objects exported with gbm_bo_get_fd, through ctypes.

GBM needs a DRM node and a Mesa backend that drives it. On vgem that is kms_swrast, which makes
dumb buffers and so only works on the card node: every node is tried, render nodes first.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from pathlib import Path

from vkzc.dmabuf.buffer import DmaBuf
from vkzc.dmabuf.drm import driver_name, nodes

LIBRARY = "libgbm.so.1"
GBM_FORMAT_ARGB8888 = 0x34325241  # fourcc "AR24"
GBM_BO_USE_LINEAR = 1 << 4
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
    return lib


@dataclass(frozen=True)
class _Opened:
    lib: ctypes.CDLL
    fd: int
    device: int


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
        label = f"{node} ({driver_name(fd)})"
        device = lib.gbm_create_device(fd)
        if not device:
            return None, f"{label}: gbm_create_device failed"
        backend = (lib.gbm_device_get_backend_name(device) or b"?").decode()
        opened = _Opened(lib=lib, fd=fd, device=device)
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

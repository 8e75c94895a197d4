"""V4L2 capture buffers exported with VIDIOC_EXPBUF (linux/videodev2.h).

Minimal on purpose: the first single-planar capture device with streaming I/O, its current
format, one MMAP buffer. Its size is the format's sizeimage, so larger sizes are unsupported.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from pathlib import Path

from vkzc.dmabuf.buffer import DmaBuf
from vkzc.dmabuf.ioctl import ioctl, ior, iowr

DEV = Path("/dev")
V4L2_CAP_VIDEO_CAPTURE = 0x00000001
V4L2_CAP_STREAMING = 0x04000000
V4L2_CAP_DEVICE_CAPS = 0x80000000
V4L2_BUF_TYPE_VIDEO_CAPTURE = 1
V4L2_MEMORY_MMAP = 1


class V4l2Capability(ctypes.Structure):
    _fields_ = (
        ("driver", ctypes.c_char * 16),
        ("card", ctypes.c_char * 32),
        ("bus_info", ctypes.c_char * 32),
        ("version", ctypes.c_uint32),
        ("capabilities", ctypes.c_uint32),
        ("device_caps", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32 * 3),
    )


class V4l2PixFormat(ctypes.Structure):
    _fields_ = (
        ("width", ctypes.c_uint32),
        ("height", ctypes.c_uint32),
        ("pixelformat", ctypes.c_uint32),
        ("field", ctypes.c_uint32),
        ("bytesperline", ctypes.c_uint32),
        ("sizeimage", ctypes.c_uint32),
        ("colorspace", ctypes.c_uint32),
        ("priv", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("ycbcr_enc", ctypes.c_uint32),
        ("quantization", ctypes.c_uint32),
        ("xfer_func", ctypes.c_uint32),
    )


class _FormatUnion(ctypes.Union):
    # 200 bytes, 8-byte aligned in the kernel (some members hold pointers).
    _fields_ = (("pix", V4l2PixFormat), ("raw_data", ctypes.c_uint8 * 200), ("_align", ctypes.c_uint64))


class V4l2Format(ctypes.Structure):
    _fields_ = (("type", ctypes.c_uint32), ("fmt", _FormatUnion))


class V4l2RequestBuffers(ctypes.Structure):
    _fields_ = (
        ("count", ctypes.c_uint32),
        ("type", ctypes.c_uint32),
        ("memory", ctypes.c_uint32),
        ("capabilities", ctypes.c_uint32),
        ("flags", ctypes.c_uint8),
        ("reserved", ctypes.c_uint8 * 3),
    )


class V4l2ExportBuffer(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_uint32),
        ("index", ctypes.c_uint32),
        ("plane", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("fd", ctypes.c_int32),
        ("reserved", ctypes.c_uint32 * 11),
    )


VIDIOC_QUERYCAP = ior("V", 0, V4l2Capability)
VIDIOC_G_FMT = iowr("V", 4, V4l2Format)
VIDIOC_REQBUFS = iowr("V", 8, V4l2RequestBuffers)
VIDIOC_EXPBUF = iowr("V", 16, V4l2ExportBuffer)


@dataclass(frozen=True, kw_only=True)
class CaptureDevice:
    node: Path
    card: str
    sizeimage: int


def _capture_device(node: Path) -> CaptureDevice | None:
    try:
        fd = os.open(node, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        cap = V4l2Capability()
        ioctl(fd, "VIDIOC_QUERYCAP", VIDIOC_QUERYCAP, cap)
        caps = cap.device_caps if cap.capabilities & V4L2_CAP_DEVICE_CAPS else cap.capabilities
        if (
            caps & (V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING)
            != V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING
        ):
            return None
        fmt = V4l2Format(type=V4L2_BUF_TYPE_VIDEO_CAPTURE)
        ioctl(fd, "VIDIOC_G_FMT", VIDIOC_G_FMT, fmt)
        return CaptureDevice(
            node=node, card=cap.card.decode(errors="replace"), sizeimage=fmt.fmt.pix.sizeimage
        )
    except OSError:
        return None
    finally:
        os.close(fd)


class V4l2Exporter:
    name = "v4l2"

    def __init__(self) -> None:
        self._device: CaptureDevice | None = None
        self._reason: str | None = None
        self._checked = False

    def available(self) -> str | None:
        if not self._checked:
            self._checked = True
            self._reason = self._find()
        return self._reason

    def _find(self) -> str | None:
        video = sorted(DEV.glob("video[0-9]*"), key=lambda p: int(p.name.removeprefix("video")))
        if not video:
            return "no V4L2 device (/dev/video*): the machine has no camera or capture driver"
        for node in video:
            self._device = _capture_device(node)
            if self._device is not None:
                return None
        return f"no single-planar V4L2 capture device with streaming I/O among {', '.join(map(str, video))}"

    def size_unsupported(self, size: int) -> str | None:
        if self.available() is None and self._device is not None and size > self._device.sizeimage:
            return (
                f"the buffers of {self._device.node} ({self._device.card}) hold "
                f"{self._device.sizeimage} bytes in its current format, fewer than {size}"
            )
        return None

    def allocate(self, size: int) -> DmaBuf:
        reason = self.available()
        if self._device is None:
            raise OSError(f"V4L2 is unavailable: {reason}")
        fd = os.open(self._device.node, os.O_RDWR | os.O_CLOEXEC)
        try:
            request = V4l2RequestBuffers(count=1, type=V4L2_BUF_TYPE_VIDEO_CAPTURE, memory=V4L2_MEMORY_MMAP)
            ioctl(fd, "VIDIOC_REQBUFS", VIDIOC_REQBUFS, request)
            export = V4l2ExportBuffer(
                type=V4L2_BUF_TYPE_VIDEO_CAPTURE, index=0, flags=os.O_RDWR | os.O_CLOEXEC, fd=-1
            )
            ioctl(fd, "VIDIOC_EXPBUF", VIDIOC_EXPBUF, export)
        finally:
            # Closing the device frees its queue; the exported dma-buf keeps its buffer's memory.
            os.close(fd)
        return DmaBuf(int(export.fd), exporter=self.name)

    def close(self) -> None:
        pass

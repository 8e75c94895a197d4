"""V4L2 capture buffers exported with VIDIOC_EXPBUF (linux/videodev2.h).

Two users. `V4l2Exporter` (the dma-buf buffer cases) is minimal on purpose: the first
single-planar capture device with streaming I/O, its current format, one MMAP buffer, whose size
is the format's sizeimage, so larger sizes are unsupported. `Capture` streams: it negotiates a
format, queues MMAP buffers, dequeues frames as the device fills them, and exports each dequeued
buffer, whose bytes it also reads through V4L2's own mmap of the buffer.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import select
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vkzc.dmabuf.buffer import DmaBuf
from vkzc.dmabuf.ioctl import ioctl, ior, iow, iowr

DEV = Path("/dev")
V4L2_CAP_VIDEO_CAPTURE = 0x00000001
V4L2_CAP_VIDEO_CAPTURE_MPLANE = 0x00001000
V4L2_CAP_STREAMING = 0x04000000
V4L2_CAP_DEVICE_CAPS = 0x80000000
V4L2_BUF_TYPE_VIDEO_CAPTURE = 1
V4L2_MEMORY_MMAP = 1
V4L2_FIELD_NONE = 1
V4L2_CTRL_TYPE_MENU = 3
V4L2_CTRL_FLAG_NEXT_CTRL = 0x80000000


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


class V4l2FmtDesc(ctypes.Structure):
    _fields_ = (
        ("index", ctypes.c_uint32),
        ("type", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("description", ctypes.c_char * 32),
        ("pixelformat", ctypes.c_uint32),
        ("mbus_code", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32 * 3),
    )


class V4l2Timeval(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long))


class V4l2Timecode(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("frames", ctypes.c_uint8),
        ("seconds", ctypes.c_uint8),
        ("minutes", ctypes.c_uint8),
        ("hours", ctypes.c_uint8),
        ("userbits", ctypes.c_uint8 * 4),
    )


class _BufferLocation(ctypes.Union):
    _fields_ = (
        ("offset", ctypes.c_uint32),
        ("userptr", ctypes.c_ulong),
        ("planes", ctypes.c_void_p),
        ("fd", ctypes.c_int32),
    )


class V4l2Buffer(ctypes.Structure):
    _fields_ = (
        ("index", ctypes.c_uint32),
        ("type", ctypes.c_uint32),
        ("bytesused", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("field", ctypes.c_uint32),
        ("timestamp", V4l2Timeval),
        ("timecode", V4l2Timecode),
        ("sequence", ctypes.c_uint32),
        ("memory", ctypes.c_uint32),
        ("m", _BufferLocation),
        ("length", ctypes.c_uint32),
        ("reserved2", ctypes.c_uint32),
        ("request_fd", ctypes.c_int32),
    )


class V4l2QueryCtrl(ctypes.Structure):
    _fields_ = (
        ("id", ctypes.c_uint32),
        ("type", ctypes.c_uint32),
        ("name", ctypes.c_char * 32),
        ("minimum", ctypes.c_int32),
        ("maximum", ctypes.c_int32),
        ("step", ctypes.c_int32),
        ("default_value", ctypes.c_int32),
        ("flags", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32 * 2),
    )


class V4l2Control(ctypes.Structure):
    _fields_ = (("id", ctypes.c_uint32), ("value", ctypes.c_int32))


class BufType(ctypes.Structure):
    """The int that VIDIOC_STREAMON and VIDIOC_STREAMOFF take."""

    _fields_ = (("type", ctypes.c_int),)


VIDIOC_QUERYCAP = ior("V", 0, V4l2Capability)
VIDIOC_ENUM_FMT = iowr("V", 2, V4l2FmtDesc)
VIDIOC_G_FMT = iowr("V", 4, V4l2Format)
VIDIOC_S_FMT = iowr("V", 5, V4l2Format)
VIDIOC_REQBUFS = iowr("V", 8, V4l2RequestBuffers)
VIDIOC_QUERYBUF = iowr("V", 9, V4l2Buffer)
VIDIOC_QBUF = iowr("V", 15, V4l2Buffer)
VIDIOC_EXPBUF = iowr("V", 16, V4l2ExportBuffer)
VIDIOC_DQBUF = iowr("V", 17, V4l2Buffer)
VIDIOC_STREAMON = iow("V", 18, BufType)
VIDIOC_STREAMOFF = iow("V", 19, BufType)
VIDIOC_S_CTRL = iowr("V", 28, V4l2Control)
VIDIOC_QUERYCTRL = iowr("V", 36, V4l2QueryCtrl)


def fourcc(code: str) -> int:
    """v4l2_fourcc: four ASCII characters, the first in the lowest byte."""
    return int.from_bytes(code.encode("ascii"), "little")


def fourcc_text(value: int) -> str:
    return value.to_bytes(4, "little").decode("ascii", errors="replace")


# YUYV at this size: 4,147,200-byte buffers, enough for the dma-buf cases up to 1 MiB.
_BUFFER_FORMAT_SIZE = (1920, 1080)


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
        # A format of our own, not whatever the last user left (the camera cases leave theirs), so
        # that the buffer sizes this exporter can give do not depend on the order cases ran in.
        fmt = V4l2Format(type=V4L2_BUF_TYPE_VIDEO_CAPTURE)
        fmt.fmt.pix.width, fmt.fmt.pix.height = _BUFFER_FORMAT_SIZE
        fmt.fmt.pix.pixelformat = fourcc("YUYV")
        try:
            ioctl(fd, "VIDIOC_S_FMT", VIDIOC_S_FMT, fmt)
        except OSError:
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
        video = video_nodes()
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


def video_nodes() -> list[Path]:
    """/dev/videoN in number order."""
    return sorted(DEV.glob("video[0-9]*"), key=lambda p: int(p.name.removeprefix("video")))


@dataclass(frozen=True, kw_only=True)
class CaptureNode:
    """A V4L2 video capture node with streaming I/O."""

    node: Path
    driver: str
    card: str
    single_planar: bool  # offers V4L2_BUF_TYPE_VIDEO_CAPTURE (else only the multi-planar API)


def capture_node(node: Path) -> CaptureNode | None:
    """What `node` is, if it is a capture node with streaming I/O that this process can open."""
    try:
        fd = os.open(node, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        cap = V4l2Capability()
        ioctl(fd, "VIDIOC_QUERYCAP", VIDIOC_QUERYCAP, cap)
    except OSError:
        return None
    finally:
        os.close(fd)
    caps = cap.device_caps if cap.capabilities & V4L2_CAP_DEVICE_CAPS else cap.capabilities
    if not caps & V4L2_CAP_STREAMING or not caps & (V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_VIDEO_CAPTURE_MPLANE):
        return None
    return CaptureNode(
        node=node,
        driver=cap.driver.decode(errors="replace"),
        card=cap.card.decode(errors="replace"),
        single_planar=bool(caps & V4L2_CAP_VIDEO_CAPTURE),
    )


@dataclass(frozen=True, kw_only=True)
class Negotiated:
    """The format the driver settled on (VIDIOC_S_FMT's answer)."""

    pixelformat: int
    width: int
    height: int
    bytesperline: int
    sizeimage: int

    def describe(self) -> str:
        return (
            f"{fourcc_text(self.pixelformat)} {self.width}x{self.height}, "
            f"bytesperline {self.bytesperline}, sizeimage {self.sizeimage}"
        )


@dataclass(frozen=True, kw_only=True)
class Dequeued:
    index: int
    sequence: int
    bytesused: int


class Capture:
    """Streaming capture from one node (single-planar API, MMAP buffers). A context manager: leaving it
    stops streaming and closes the device; buffers live on while an export or a mapping holds them."""

    def __init__(self, node: Path) -> None:
        self.node = node
        # Non-blocking: DQBUF waits in poll() with a time limit instead of hanging the suite.
        self.fd = os.open(node, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        self._maps: list[mmap.mmap] = []
        self._streaming = False

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def formats(self) -> tuple[int, ...]:
        """The pixel formats the node offers (VIDIOC_ENUM_FMT)."""
        found: list[int] = []
        while True:
            desc = V4l2FmtDesc(index=len(found), type=V4L2_BUF_TYPE_VIDEO_CAPTURE)
            try:
                ioctl(self.fd, "VIDIOC_ENUM_FMT", VIDIOC_ENUM_FMT, desc)
            except OSError as e:
                if e.errno == errno.EINVAL:
                    return tuple(found)
                raise
            found.append(int(desc.pixelformat))

    def set_format(self, pixelformat: int, width: int, height: int) -> Negotiated:
        """VIDIOC_S_FMT; the driver may answer with another size (or format): the caller checks."""
        fmt = V4l2Format(type=V4L2_BUF_TYPE_VIDEO_CAPTURE)
        pix = fmt.fmt.pix
        pix.width, pix.height, pix.pixelformat, pix.field = width, height, pixelformat, V4L2_FIELD_NONE
        ioctl(self.fd, "VIDIOC_S_FMT", VIDIOC_S_FMT, fmt)
        pix = fmt.fmt.pix
        return Negotiated(
            pixelformat=int(pix.pixelformat),
            width=int(pix.width),
            height=int(pix.height),
            bytesperline=int(pix.bytesperline),
            sizeimage=int(pix.sizeimage),
        )

    def set_control_to_maximum(self, name: str) -> bool:
        """Set the control called `name` to its maximum (a menu: its last item); False if there is none."""
        query = V4l2QueryCtrl(id=V4L2_CTRL_FLAG_NEXT_CTRL)
        while True:
            try:
                ioctl(self.fd, "VIDIOC_QUERYCTRL", VIDIOC_QUERYCTRL, query)
            except OSError as e:
                if e.errno == errno.EINVAL:
                    return False
                raise
            if query.name.decode(errors="replace") == name:
                control = V4l2Control(id=query.id, value=query.maximum)
                ioctl(self.fd, "VIDIOC_S_CTRL", VIDIOC_S_CTRL, control)
                return True
            query = V4l2QueryCtrl(id=query.id | V4L2_CTRL_FLAG_NEXT_CTRL)

    def start(self, count: int) -> int:
        """Ask for `count` MMAP buffers, map each, queue them all and start streaming; how many the driver
        gave."""
        request = V4l2RequestBuffers(count=count, type=V4L2_BUF_TYPE_VIDEO_CAPTURE, memory=V4L2_MEMORY_MMAP)
        ioctl(self.fd, "VIDIOC_REQBUFS", VIDIOC_REQBUFS, request)
        for index in range(request.count):
            buffer = self._buffer(index)
            ioctl(self.fd, "VIDIOC_QUERYBUF", VIDIOC_QUERYBUF, buffer)
            self._maps.append(
                mmap.mmap(
                    self.fd,
                    buffer.length,
                    mmap.MAP_SHARED,
                    mmap.PROT_READ | mmap.PROT_WRITE,
                    offset=buffer.m.offset,
                )
            )
            self.queue(index)
        ioctl(self.fd, "VIDIOC_STREAMON", VIDIOC_STREAMON, BufType(type=V4L2_BUF_TYPE_VIDEO_CAPTURE))
        self._streaming = True
        return int(request.count)

    @staticmethod
    def _buffer(index: int) -> V4l2Buffer:
        return V4l2Buffer(index=index, type=V4L2_BUF_TYPE_VIDEO_CAPTURE, memory=V4L2_MEMORY_MMAP)

    def queue(self, index: int) -> None:
        ioctl(self.fd, "VIDIOC_QBUF", VIDIOC_QBUF, self._buffer(index))

    def dequeue(self, timeout_s: float) -> Dequeued:
        """The next filled buffer (VIDIOC_DQBUF), waiting at most `timeout_s` for it."""
        deadline = time.monotonic() + timeout_s
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        while True:
            buffer = self._buffer(0)
            try:
                ioctl(self.fd, "VIDIOC_DQBUF", VIDIOC_DQBUF, buffer)
                return Dequeued(
                    index=int(buffer.index), sequence=int(buffer.sequence), bytesused=int(buffer.bytesused)
                )
            except OSError as e:
                if e.errno != errno.EAGAIN:
                    raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.node} filled no buffer within {timeout_s:g} s")
            poller.poll(int(left * 1000) + 1)

    def export(self, index: int) -> DmaBuf:
        """Buffer `index` as a new dma-buf (VIDIOC_EXPBUF), owned by the caller."""
        export = V4l2ExportBuffer(
            type=V4L2_BUF_TYPE_VIDEO_CAPTURE, index=index, flags=os.O_RDWR | os.O_CLOEXEC, fd=-1
        )
        ioctl(self.fd, "VIDIOC_EXPBUF", VIDIOC_EXPBUF, export)
        return DmaBuf(int(export.fd), exporter="v4l2")

    def mapped(self, index: int) -> npt.NDArray[np.uint8]:
        """Buffer `index`'s bytes through V4L2's own mmap of it (valid while the buffer is dequeued)."""
        return np.frombuffer(self._maps[index], dtype=np.uint8)

    def close(self) -> None:
        if self.fd < 0:
            return
        try:
            if self._streaming:
                ioctl(
                    self.fd, "VIDIOC_STREAMOFF", VIDIOC_STREAMOFF, BufType(type=V4L2_BUF_TYPE_VIDEO_CAPTURE)
                )
        finally:
            # The mappings go with their last view: the queue's memory stays until then.
            self._maps.clear()
            os.close(self.fd)
            self.fd = -1

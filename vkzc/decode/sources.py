"""Where decoded frames come from. Each source says whether it can run here (or exactly why not) and
yields a clip's frames one by one, each valid until the next is asked for (decoders recycle surfaces).

Two kinds of frame exist. A DmaBufFrame is a dma-buf described by an AVDRMFrameDescriptor: what the
vaapi and v4l2 decoders hand out (zero-copy when imported), and what the software source imitates. A
source whose frames are already in Vulkan memory (NVDEC through CUDA interop: a VkBuffer and a YuvLayout,
reached through a device-side copy) yields its own frame type, and says `zero_copy = False`; the import
step dispatches on the frame type.
"""

from __future__ import annotations

import functools
import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from vkzc.decode import hwmap
from vkzc.decode.drm_descriptor import DrmFrame
from vkzc.decode.layouts import Placement, SurfaceLayout, place
from vkzc.decode.planes import SemiPlanar
from vkzc.dmabuf.buffer import DmaBuf, Exporter
from vkzc.dmabuf.sync import READ, WRITE
from vkzc.fixtures.manifest import ClipRecord

if TYPE_CHECKING:
    from vkzc.conformance.yuv import YuvLayout
    from vkzc.vk.resources import Buffer

GUARD_BYTE = 0xA5  # what the software source leaves in row padding and between planes


class Source(Protocol):
    @property
    def name(self) -> str:
        """The source's part of case ids: software, vaapi, v4l2, cuda."""
        ...

    @property
    def zero_copy(self) -> bool:
        """Whether the decoder's own memory reaches Vulkan (never true for software)."""
        ...

    def available(self, clip: ClipRecord) -> str | None:
        """None when this machine can decode `clip` with this source, else exactly why not."""
        ...

    def frames(self, clip: ClipRecord, path: Path) -> Iterator[Any]:
        """The clip's frames in order."""
        ...


@dataclass(frozen=True, kw_only=True)
class DmaBufFrame:
    index: int
    depth: int
    drm: DrmFrame
    # What the frame must equal, where the source knows it (the software source does).
    planes: SemiPlanar | None = None


def pyav_missing() -> str | None:
    try:
        import av  # noqa: F401
    except ImportError:
        return "PyAV is not installed (pip install 'vkzc[decode]')"
    return None


@functools.cache
def software_frames(clip: ClipRecord, path: Path) -> tuple[SemiPlanar, ...]:
    """The clip decoded by PyAV's single-threaded software decoder, as NV12 / P010 planes. Kept for the
    run (all clips: ~200 MB): many cases read one clip, and decoding 1080p under emulation is slow."""
    from vkzc.fixtures.generate import decode

    return tuple(frame for _, frame in decode(path, clip.decoder))


class Surface:
    """One pooled decoder surface: its dma-bufs, laid out by a Placement."""

    def __init__(self, exporter: Exporter, placement: Placement) -> None:
        self.placement = placement
        self.dmabufs: list[DmaBuf] = []
        try:
            for size in placement.object_sizes:
                self.dmabufs.append(exporter.allocate(size))
        except BaseException:
            self.close()
            raise

    def write(self, frame: SemiPlanar) -> None:
        """The frame's rows at their pitch, everything else the guard byte, with CPU-access brackets."""
        for index, dmabuf in enumerate(self.dmabufs):
            with dmabuf.mapped(READ | WRITE) as raw:
                raw[:] = GUARD_BYTE
                for plane_index, plane in enumerate(self.placement.planes):
                    if plane.object_index != index:
                        continue
                    block = raw[plane.offset : plane.offset + plane.pitch * plane.rows]
                    rows = block.reshape(plane.rows, plane.pitch)[:, : plane.row_bytes]
                    rows[:] = frame.plane(plane_index).reshape(plane.rows, plane.row_bytes)

    def descriptor(self) -> DrmFrame:
        return self.placement.descriptor(tuple(d.fd for d in self.dmabufs))

    def close(self) -> None:
        for dmabuf in self.dmabufs:
            dmabuf.close()


class SoftwareSource:
    """PyAV's software decoder writing each frame into a pool of dma-bufs laid out like a hardware
    decoder's surfaces. Exercises the import half everywhere; never a zero-copy decoder path."""

    name = "software"
    zero_copy = False

    def __init__(self, exporter: Exporter, layout: SurfaceLayout, *, pool: int = 3) -> None:
        self.exporter = exporter
        self.layout = layout
        self.pool = pool
        self.surfaces: list[Surface] = []

    def available(self, clip: ClipRecord) -> str | None:
        reason = pyav_missing() or self.exporter.available()
        if reason:
            return reason
        placement = place(self.layout, clip.depth, clip.width, clip.height)
        for size in placement.object_sizes:
            reason = self.exporter.size_unsupported(size)
            if reason:
                return reason
        return None

    def frames(self, clip: ClipRecord, path: Path) -> Iterator[DmaBufFrame]:
        placement = place(self.layout, clip.depth, clip.width, clip.height)
        if not self.surfaces:
            self.surfaces = [Surface(self.exporter, placement) for _ in range(self.pool)]
        for index, frame in enumerate(software_frames(clip, path)):
            surface = self.surfaces[index % self.pool]
            surface.write(frame)
            yield DmaBufFrame(index=index, depth=clip.depth, drm=surface.descriptor(), planes=frame)

    def close(self) -> None:
        for surface in self.surfaces:
            surface.close()
        self.surfaces = []


def _render_nodes() -> list[str]:
    return sorted(glob.glob("/dev/dri/renderD*"))


def hw_device_types() -> tuple[str, ...]:
    from av.codec.hwaccel import hwdevices_available

    return tuple(hwdevices_available())


# FFmpeg's own decoders carry the hwaccels (VAAPI, NVDEC); for AV1 PyAV would open libdav1d, which has
# none, so hardware sources name their decoder.
NATIVE_DECODERS = {"h264": "h264", "hevc": "hevc", "hevc-main10": "hevc", "vp9": "vp9", "av1": "av1"}


def hw_config_missing(decoder: str, device_type: str) -> str | None:
    """None when FFmpeg's `decoder` decodes through a `device_type` device; else why not."""
    from av.codec import Codec

    try:
        configs = Codec(decoder, "r").hardware_configs
    except ValueError:
        return f"PyAV's FFmpeg here has no {decoder} decoder"
    types = sorted({config.device_type.name for config in configs})
    if device_type not in types:
        through = ", ".join(types) or "none"
        return f"PyAV's FFmpeg here decodes {decoder} through no {device_type} device (only: {through})"
    return None


def hw_decoded(path: Path, decoder: str, hwaccel: Any) -> Iterator[Any]:
    """The frames of `path`'s video from FFmpeg's `decoder` through `hwaccel`, the decoder drained."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        context: Any = av.CodecContext.create(decoder, "r", hwaccel=hwaccel)
        context.extradata = stream.codec_context.extradata
        # demux ends with an empty packet, which drains the decoder.
        for packet in container.demux(stream):
            yield from context.decode(packet)


class VaapiSource:
    """FFmpeg's VAAPI hwaccel (Intel iHD, AMD radeonsi) through a PyAV built against the image's FFmpeg;
    frames stay on the device (is_hw_owned) as VA surfaces, each mapped to DRM PRIME (hwmap)."""

    name = "vaapi"
    zero_copy = True

    def available(self, clip: ClipRecord) -> str | None:
        reason = pyav_missing()
        if reason:
            return reason
        if "vaapi" not in hw_device_types():
            return "no VAAPI: PyAV here has no vaapi hw device type (build against the image's FFmpeg)"
        if not _render_nodes():
            return "no /dev/dri/renderD*: no GPU render node for VAAPI"
        return hw_config_missing(NATIVE_DECODERS[clip.codec], "vaapi")

    def frames(self, clip: ClipRecord, path: Path) -> Iterator[DmaBufFrame]:
        yield from _drm_prime_frames(clip, path, "vaapi", NATIVE_DECODERS[clip.codec], _render_nodes()[0])


V4L2_CAP_VIDEO_M2M_MPLANE = 0x00004000
V4L2_CAP_VIDEO_M2M = 0x00008000
# FFmpeg's stateful V4L2 decoders (libavcodec/v4l2_m2m_dec.c); there is none for AV1.
V4L2_DECODERS = {
    "h264": "h264_v4l2m2m",
    "hevc": "hevc_v4l2m2m",
    "hevc-main10": "hevc_v4l2m2m",
    "vp9": "vp9_v4l2m2m",
}


def _m2m_nodes() -> list[str]:
    """The /dev/video* nodes that are memory-to-memory devices (stateful codecs among them)."""
    import fcntl

    from vkzc.dmabuf.v4l2 import VIDIOC_QUERYCAP, V4l2Capability

    found = []
    for node in sorted(glob.glob("/dev/video*")):
        try:
            fd = os.open(node, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            cap = V4l2Capability()
            fcntl.ioctl(fd, VIDIOC_QUERYCAP, cap)
            if cap.device_caps & (V4L2_CAP_VIDEO_M2M | V4L2_CAP_VIDEO_M2M_MPLANE):
                found.append(node)
        except OSError:
            pass
        finally:
            os.close(fd)
    return found


class V4l2Source:
    """FFmpeg's V4L2 stateful decoders (…_v4l2m2m: Raspberry Pi, Rockchip) exporting DRM PRIME frames."""

    name = "v4l2"
    zero_copy = True

    def available(self, clip: ClipRecord) -> str | None:
        reason = pyav_missing()
        if reason:
            return reason
        if not _m2m_nodes():
            return "no V4L2 stateful decoder node (no /dev/video* memory-to-memory device)"
        decoder = V4L2_DECODERS.get(clip.codec)
        if decoder is None:
            return f"FFmpeg has no V4L2 stateful decoder for {clip.codec} (only {', '.join(V4L2_DECODERS)})"
        # Upstream's v4l2m2m decoders have no DRM PRIME output (docs/decode-images.md): this says so.
        return hw_config_missing(decoder, "drm")

    def frames(self, clip: ClipRecord, path: Path) -> Iterator[DmaBufFrame]:
        yield from _drm_prime_frames(clip, path, "drm", V4L2_DECODERS[clip.codec], None)


def _drm_prime_frames(
    clip: ClipRecord, path: Path, device_type: str, decoder: str, device: str | None
) -> Iterator[DmaBufFrame]:
    """Frames that stay on the decoder (is_hw_owned), each seen as DRM PRIME (vkzc/decode/hwmap.py) for
    as long as its consumer holds it."""
    from av.codec.hwaccel import HWAccel

    hwaccel = HWAccel(device_type, device=device, allow_software_fallback=False, is_hw_owned=True)
    for index, frame in enumerate(hw_decoded(path, decoder, hwaccel)):
        try:
            with hwmap.drm_prime(frame) as drm:
                yield DmaBufFrame(index=index, depth=clip.depth, drm=drm)
        except hwmap.HwMapError as e:
            raise RuntimeError(f"{decoder} through {device_type}: {e}") from None


@dataclass(frozen=True, kw_only=True)
class VulkanBufferFrame:
    """A frame a source delivers already in Vulkan memory (NVDEC → CUDA → a VkBuffer on the suite's
    device): read with vulkan_import.read_vulkan_frame; its source says zero_copy = False, as the
    interop includes a device-side copy."""

    index: int
    depth: int
    buffer: Buffer  # TRANSFER_SRC usage, on the case's device
    layout: YuvLayout

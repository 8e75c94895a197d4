"""vkzc/decode/sources.py and the import cache's key: availability answers name what is missing, and
imports are keyed by the dma-buf's identity (inode), not its fd number."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from vkzc.decode.cuda import NvdecCaps
from vkzc.decode.layouts import BY_NAME, place
from vkzc.decode.sources import (
    NATIVE_DECODERS,
    SoftwareSource,
    V4l2Source,
    VaapiSource,
    hw_config_missing,
    hw_device_types,
)
from vkzc.decode.vulkan_import import ImportCache
from vkzc.dmabuf.buffer import DmaBuf
from vkzc.fixtures.manifest import ClipRecord

pytest.importorskip("av", reason="PyAV is not installed (pip install 'vkzc[decode]')")


def _clip(codec: str = "h264", width: int = 1920, height: int = 1080, depth: int = 8) -> ClipRecord:
    return ClipRecord(
        name=f"{codec}-{width}x{height}",
        file="x.mkv",
        key="0" * 64,
        codec=codec,
        encoder="libx264",
        decoder="h264",
        profile="High",
        pix_fmt="yuv420p",
        depth=depth,
        width=width,
        height=height,
        frames=6,
        frame_sha256=("0" * 64,) * 6,
    )


@dataclass(frozen=True)
class NoExporter:
    name: str = "udmabuf"
    reason: str | None = "no /dev/udmabuf: the kernel lacks CONFIG_UDMABUF"
    limit: int = 1 << 40

    def available(self) -> str | None:
        return self.reason

    def size_unsupported(self, size: int) -> str | None:
        return None if size <= self.limit else f"at most {self.limit} bytes"

    def allocate(self, size: int) -> DmaBuf:
        raise AssertionError("not reached")

    def close(self) -> None:
        pass


def test_software_source_names_the_exporter() -> None:
    source = SoftwareSource(NoExporter(), BY_NAME["intel-ihd"])
    assert source.available(_clip()) == "no /dev/udmabuf: the kernel lacks CONFIG_UDMABUF"
    assert not source.zero_copy


def test_software_source_checks_the_surface_size() -> None:
    exporter = NoExporter(reason=None, limit=1 << 20)
    reason = SoftwareSource(exporter, BY_NAME["amd-radeonsi"]).available(_clip())
    assert reason == f"at most {1 << 20} bytes"
    assert SoftwareSource(exporter, BY_NAME["amd-radeonsi"]).available(_clip(width=64, height=64)) is None


@pytest.mark.skipif("vaapi" in hw_device_types(), reason="this PyAV has VAAPI")
def test_vaapi_says_pyav_lacks_it() -> None:
    assert VaapiSource().available(_clip()) == (
        "no VAAPI: PyAV here has no vaapi hw device type (build against the image's FFmpeg)"
    )


def test_v4l2_without_a_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vkzc.decode.sources._m2m_nodes", list)
    assert V4l2Source().available(_clip()) == (
        "no V4L2 stateful decoder node (no /dev/video* memory-to-memory device)"
    )
    monkeypatch.setattr("vkzc.decode.sources._m2m_nodes", lambda: ["/dev/video10"])
    assert "no V4L2 stateful decoder for av1" in (V4l2Source().available(_clip(codec="av1")) or "")
    # With a node, the decoder must hand out DRM PRIME frames through a drm device.
    monkeypatch.setattr("vkzc.decode.sources.hw_config_missing", lambda decoder, kind: f"{decoder}/{kind}")
    assert V4l2Source().available(_clip(codec="hevc")) == "hevc_v4l2m2m/drm"


def test_hw_config_missing_names_what_the_decoder_lacks() -> None:
    assert hw_config_missing("nosuch", "vaapi") == "PyAV's FFmpeg here has no nosuch decoder"
    # libdav1d has no hwaccel at all: why hardware sources open FFmpeg's own av1 decoder.
    assert hw_config_missing("libdav1d", "cuda") == (
        "PyAV's FFmpeg here decodes libdav1d through no cuda device (only: none)"
    )
    from av.codec import Codec

    for device_type in {config.device_type.name for config in Codec("h264", "r").hardware_configs}:
        assert hw_config_missing(NATIVE_DECODERS["h264"], device_type) is None


@pytest.fixture
def objects() -> Iterator[list[int]]:
    fds = []
    for _ in range(2):
        fd = os.memfd_create("vkzc-surface")
        os.ftruncate(fd, place(BY_NAME["rpi5-two-objects"], 8, 64, 64).object_sizes[0])
        fds.append(fd)
    yield fds
    for fd in fds:
        os.close(fd)


def test_cache_key_is_the_inode(objects: list[int]) -> None:
    placement = place(BY_NAME["rpi5-two-objects"], 8, 64, 64)
    frame = placement.descriptor((objects[0], objects[1]))
    again = os.dup(objects[0]), os.dup(objects[1])
    try:
        # Another fd number for the same buffers: the same import.
        assert ImportCache.key(placement.descriptor(again)) == ImportCache.key(frame)
    finally:
        for fd in again:
            os.close(fd)
    swapped = placement.descriptor((objects[1], objects[0]))
    assert ImportCache.key(swapped) != ImportCache.key(frame)


def test_nvdec_refusals_quote_its_own_answer() -> None:
    hevc = NvdecCaps(supported=True, min_size=(144, 144), max_size=(8192, 8192))
    assert hevc.refuses("hevc", 8, 1920, 1080) is None
    assert hevc.refuses("hevc", 8, 64, 64) == (
        "NVDEC decodes hevc 8-bit 4:2:0 from 144x144 to 8192x8192 (cuvidGetDecoderCaps), not 64x64"
    )
    assert hevc.refuses("hevc", 8, 8200, 1080) is not None
    av1 = NvdecCaps(supported=False, min_size=(0, 0), max_size=(0, 0))
    assert av1.refuses("av1", 8, 1920, 1080) == (
        "NVDEC here does not decode av1 8-bit 4:2:0 (cuvidGetDecoderCaps: not supported)"
    )

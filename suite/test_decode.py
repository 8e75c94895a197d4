"""Decoded frames into Vulkan: each source's frames imported as the driver allows and read by the GPU,
bit-exact against the software decode of the same clip (H.264, HEVC, VP9 and AV1 decoding is exact by
specification).

Sources: `software` (PyAV's software decoder writing into udmabuf / DMA-heap dma-bufs laid out like a
hardware decoder's surfaces: it exercises the import half on every machine and is never a zero-copy
decoder path), `vaapi` and `v4l2` (hardware decoders' DRM PRIME frames). Routes: one multi-planar image
with the frame's modifier (DISJOINT for two objects), FFmpeg's one-image-per-plane layers, or a buffer
import. A route the driver says no to is a skip with its answer; one it accepts that then fails, or
reads other bytes than the decoder wrote, is a failure naming the first frame, plane and row.

Each case records the frame's AVDRMFrameDescriptor (user property `descriptor`, JSON) and how it was
imported and synchronised (`driver_answer`), so that a failure can be reproduced. Case ids:
`test_decode_import[software-h264-1920x1080-rpi5-two-objects-two-layer]` (source, clip, surface layout,
route; hardware sources' layout is `decoder`).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vkzc.conformance import capabilities
from vkzc.conformance.external import DMA_BUF, DMA_BUF_EXTENSIONS, buffer_support, import_buffer
from vkzc.conformance.image_transfer import FOREIGN_EXTENSION
from vkzc.conformance.implicit_sync import SEMAPHORE_EXTENSIONS
from vkzc.conformance.linear_planes import CPU_EXPORTERS
from vkzc.conformance.target import Target
from vkzc.conformance.yuv import YuvMatrix, bytes_from_planes, compare_rgba, gpu_rgba, host_storage
from vkzc.decode import drm_descriptor
from vkzc.decode.cuda import CudaSource
from vkzc.decode.fences import sync_file_unsupported, wait_for_writers
from vkzc.decode.layouts import BY_NAME as LAYOUTS
from vkzc.decode.layouts import LAYOUTS as ALL_LAYOUTS
from vkzc.decode.layouts import place
from vkzc.decode.planes import SemiPlanar
from vkzc.decode.rgba import reference, samples, yuv_layout
from vkzc.decode.sources import (
    GUARD_BYTE,
    DmaBufFrame,
    SoftwareSource,
    Source,
    V4l2Source,
    VaapiSource,
    pyav_missing,
    software_frames,
)
from vkzc.decode.vulkan_import import (
    FORMATS,
    ROUTES,
    ImportCache,
    Unsupported,
    import_frame,
    read_vulkan_frame,
)
from vkzc.dmabuf.buffer import Exporter
from vkzc.fixtures.catalogue import CLIPS, SIZES
from vkzc.fixtures.manifest import ClipRecord, Manifest, frame_hash
from vkzc.vk.device import Device
from vkzc.vk.formats import MODIFIER_EXTENSION

pytestmark = pytest.mark.path("decode")

# The suite image carries the clips beside the suite (/opt/vkzc/src/fixtures/generated); a checkout
# makes them with `python3 -m vkzc fixtures generate`.
FIXTURES = Path(
    os.environ.get("VKZC_FIXTURES", Path(__file__).resolve().parents[1] / "fixtures" / "generated")
)
OPTIONAL_EXTENSIONS = (*DMA_BUF_EXTENSIONS, MODIFIER_EXTENSION, FOREIGN_EXTENSION, *SEMAPHORE_EXTENSIONS)
# Every layout at the odd size; 1080p (coded 1088), 720p and 64x64 with one single-object and the
# two-object layout, which keeps the emulated qemu cell's decode cases to a few minutes.
ALL_LAYOUT_SIZE = (1366, 768)
FEW_LAYOUTS = ("intel-ihd", "rpi5-two-objects")
SYNC_CLIPS = ("h264-1366x768", "hevc-main10-1366x768")
# NV12 and P010 to RGBA: the shader reads one buffer, so single-object layouts only.
RGBA_CLIPS = ("h264-1366x768", "hevc-main10-1366x768")
RGBA_LAYOUTS = ("intel-ihd", "amd-radeonsi")
RGBA_CASES = [
    (memory, clip, layout, matrix.value)
    for memory in ("software", "host-visible")
    for clip in RGBA_CLIPS
    for layout in RGBA_LAYOUTS
    for matrix in YuvMatrix
]
SYNC_LAYOUTS = ("intel-ihd", "rpi5-two-objects")
# FFmpeg's form first: the sync case is about the fence and the recycled surface, not the route.
SYNC_ROUTES = ("two-layer", "multi-planar", "buffer")


def _software_rows() -> list[tuple[str, str, str, str]]:
    rows = []
    for clip in CLIPS:
        layouts = (
            [layout.name for layout in ALL_LAYOUTS]
            if (clip.width, clip.height) == ALL_LAYOUT_SIZE
            else FEW_LAYOUTS
        )
        rows += [("software", clip.name, layout, route) for layout in layouts for route in ROUTES]
    return rows


# Hardware sources decode the fixtures at their own surface layout ("decoder").
IMPORT_CASES = [
    *_software_rows(),
    *(
        (source, clip.name, "decoder", route)
        for source in ("vaapi", "v4l2")
        for clip in CLIPS
        for route in ROUTES
    ),
]
SYNC_CASES = [(clip, layout) for clip in SYNC_CLIPS for layout in SYNC_LAYOUTS]
assert {(w, h) for w, h in SIZES} >= {ALL_LAYOUT_SIZE}


@pytest.fixture(scope="module")
def device(target: Target) -> Iterator[Device]:
    """A device with every extension of the decoder path the driver has (replaces conftest's)."""
    reason = capabilities.missing_extension(target, "VK_KHR_external_memory_fd")
    if reason:
        pytest.skip(reason)
    wanted = ("VK_KHR_external_memory", "VK_KHR_external_memory_fd", *OPTIONAL_EXTENSIONS)
    extensions = tuple(e for e in dict.fromkeys(wanted) if e in target.physical.extensions)
    with Device(target.physical, extensions=extensions) as made:
        yield made


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    if not (FIXTURES / "manifest.json").exists():
        pytest.skip(f"no decoder fixtures in {FIXTURES}: run `python3 -m vkzc fixtures generate`")
    return Manifest.load(FIXTURES)


def _cpu_exporter() -> Exporter:
    made: list[Exporter] = [make() for make in CPU_EXPORTERS.values()]
    reason = capabilities.no_dmabuf_exporter(made)
    if reason:
        pytest.skip(reason)
    return next(e for e in made if e.available() is None)


def _clip(manifest: Manifest, name: str) -> tuple[ClipRecord, Path]:
    reason = pyav_missing()
    if reason:
        pytest.skip(reason)
    clip = manifest.clip(name)
    return clip, FIXTURES / clip.file


def _source(name: str, layout: str, clip: ClipRecord, pool: int) -> Source:
    source: Source
    if name == "software":
        source = SoftwareSource(_cpu_exporter(), LAYOUTS[layout], pool=pool)
    else:
        source = VaapiSource() if name == "vaapi" else V4l2Source()
    reason = source.available(clip)
    if reason:
        pytest.skip(f"{name}: {reason}")
    return source


def first_difference(frame: int, got: tuple[Any, Any], want: SemiPlanar, fmt_bits: int | None) -> str | None:
    """None when the GPU's Y and CbCr equal the software decode's, else the first frame, plane and row."""
    for index, (name, actual) in enumerate(zip(("Y", "CbCr"), got, strict=True)):
        expected = want.plane(index)
        if fmt_bits is not None:
            # 10 bits at the top of 16: the 6 padding bits need not survive a copy.
            mask = np.uint16((0xFFFF << (16 - fmt_bits)) & 0xFFFF)
            actual = (actual.view(np.uint16) & mask).view(np.uint8)
            expected = (expected.view(np.uint16) & mask).view(np.uint8)
        if actual.size != expected.size:
            return f"frame {frame} plane {index} ({name}): {actual.size} bytes read, {expected.size} decoded"
        bad = np.flatnonzero(actual != expected)
        if bad.size:
            row_bytes, _ = want.rows(index)
            first = int(bad[0])
            return (
                f"frame {frame} plane {index} ({name}) row {first // row_bytes} byte {first % row_bytes}: "
                f"0x{int(actual[first]):02x}, decoded 0x{int(expected[first]):02x} ({bad.size} bytes differ)"
            )
    return None


def _record(request: pytest.FixtureRequest, frame: DmaBufFrame) -> None:
    request.node.user_properties.append(("descriptor", frame.drm.to_json()))


def _check_descriptor(frame: DmaBufFrame) -> None:
    found = drm_descriptor.problems(frame.drm)
    assert not found, f"frame {frame.index}: invalid descriptor {frame.drm.to_json()}: {'; '.join(found)}"


@pytest.mark.parametrize("clip_name", [c.name for c in CLIPS])
def test_decode_reference(manifest: Manifest, clip_name: str):
    """This cell's software decode of the clip is the one the manifest recorded, frame by frame: the
    reference every import case compares with is the same everywhere."""
    clip, path = _clip(manifest, clip_name)
    frames = software_frames(clip, path)
    assert len(frames) == clip.frames, f"{len(frames)} frames decoded, the manifest has {clip.frames}"
    for index, (frame, want) in enumerate(zip(frames, clip.frame_sha256, strict=True)):
        assert frame_hash(frame) == want, (
            f"frame {index} decodes differently here than where the manifest was made"
        )


@pytest.mark.parametrize(
    ("source_name", "clip_name", "layout", "route"), IMPORT_CASES, ids=["-".join(c) for c in IMPORT_CASES]
)
def test_decode_import(
    request: pytest.FixtureRequest,
    target: Target,
    device: Device,
    manifest: Manifest,
    source_name: str,
    clip_name: str,
    layout: str,
    route: str,
):
    """Every frame of the clip imported by `route` (imports cached per dma-buf, as a player caches its
    decoder's surface pool), after waiting for the frame's implicit fences where the kernel hands them
    out; the GPU reads Y and CbCr and they equal the software decode's."""
    clip, path = _clip(manifest, clip_name)
    source = _source(source_name, layout, clip, pool=3)
    expected = software_frames(clip, path)
    bits = FORMATS[clip.depth].significant_bits
    cache = ImportCache(target, device, route)
    waited = None
    frames = source.frames(clip, path)
    try:
        for frame in frames:
            _check_descriptor(frame)
            if frame.index == 0:
                _record(request, frame)
            try:
                imported = cache.get(frame.drm, clip.depth)
            except Unsupported as e:
                pytest.skip(str(e))
            if waited is None:
                waited = sync_file_unsupported(frame.drm) or ""
            if not waited:
                wait_for_writers(device, frame.drm)
            problem = first_difference(frame.index, imported.read(), expected[frame.index], bits)
            assert problem is None, f"{problem}; descriptor {frame.drm.to_json()}"
    finally:
        frames.close()
        getattr(source, "close", lambda: None)()
    fences = "waited on implicit fences (SYNC_FD)" if not waited else f"no implicit-fence wait: {waited}"
    request.node.user_properties.append(
        ("driver_answer", f"imported as {route}, {cache.imports} imports for {clip.frames} frames; {fences}")
    )


@pytest.mark.parametrize(("clip_name", "layout"), SYNC_CASES, ids=["-".join(c) for c in SYNC_CASES])
def test_decode_sync(
    request: pytest.FixtureRequest,
    target: Target,
    device: Device,
    manifest: Manifest,
    clip_name: str,
    layout: str,
):
    """One pooled surface: frame N is decoded into the dma-buf that held frame N-1, the GPU waits on its
    implicit fences (SYNC_FD semaphore) and reads at once through the import made for frame 0, and must
    see frame N, never N-1."""
    clip, path = _clip(manifest, clip_name)
    source = _source("software", layout, clip, pool=1)
    expected = software_frames(clip, path)
    bits = FORMATS[clip.depth].significant_bits
    frames = source.frames(clip, path)
    try:
        first = next(frames)
        _record(request, first)
        reason = sync_file_unsupported(first.drm) or capabilities.sync_fd_semaphore_unsupported(target)
        if reason:
            pytest.skip(reason)
        imported = None
        for route in SYNC_ROUTES:
            try:
                imported = import_frame(target, device, first.drm, clip.depth, route)
                break
            except Unsupported:
                continue
        if imported is None:
            pytest.skip(f"{target.identity.name} takes the frame by no route ({', '.join(SYNC_ROUTES)})")
        # One at a time: the next frame is decoded into the surface only once this one was read.
        for frame in itertools.chain((first,), frames):
            wait_for_writers(device, frame.drm)
            got = imported.read()
            if frame.index:
                stale = first_difference(frame.index, got, expected[frame.index - 1], bits)
                assert stale is not None, (
                    f"frame {frame.index} read as frame {frame.index - 1}: a stale surface"
                )
            problem = first_difference(frame.index, got, expected[frame.index], bits)
            assert problem is None, f"{problem}; descriptor {frame.drm.to_json()}"
    finally:
        frames.close()
        source.close()
    request.node.user_properties.append(
        ("driver_answer", f"one surface, imported once as {imported.route}; waited on SYNC_FD each frame")
    )


@pytest.mark.parametrize(
    ("memory", "clip_name", "layout", "matrix"), RGBA_CASES, ids=["-".join(c) for c in RGBA_CASES]
)
def test_decode_rgba(
    request: pytest.FixtureRequest,
    target: Target,
    device: Device,
    manifest: Manifest,
    memory: str,
    clip_name: str,
    layout: str,
    matrix: str,
):
    """The clip's last frame (through a pool of 3 surfaces) converted to RGBA by shaders/yuv_to_rgba.comp
    where it lies, limited range, BT.601 or BT.709: in the software source's dma-buf imported as a storage
    buffer, or (`host-visible`, every driver) written at the same layout into a host-visible buffer. The
    result matches the CPU reference of the software decode within one code value."""
    clip, path = _clip(manifest, clip_name)
    expected = software_frames(clip, path)[-1]
    want = reference(expected, YuvMatrix(matrix))
    if memory == "host-visible":
        placement = place(LAYOUTS[layout], clip.depth, clip.width, clip.height)
        yuv = yuv_layout(placement.planes, clip.depth, clip.width, clip.height)
        buffer, mapped = host_storage(device, placement.object_sizes[0])
        mapped[: yuv.size] = bytes_from_planes(*samples(expected), yuv, fill=GUARD_BYTE)
        request.node.user_properties.append(("driver_answer", f"host-visible buffer laid out as {layout}"))
        problem = compare_rgba(gpu_rgba(device, buffer, yuv, YuvMatrix(matrix)), want)
        assert problem is None, problem
        return
    for extension in DMA_BUF_EXTENSIONS:
        reason = capabilities.missing_extension(target, extension)
        if reason:
            pytest.skip(reason)
    support = buffer_support(target.physical, DMA_BUF)
    reason = capabilities.external_memory_unsupported(target, "DMA_BUF", support, export=False)
    if reason:
        pytest.skip(reason)
    source = _source("software", layout, clip, pool=3)
    frames = source.frames(clip, path)
    try:
        *_, last = frames
        _record(request, last)
        _check_descriptor(last)
        size = last.drm.object_size(0)
        reason = capabilities.storage_range_too_small(target, size)
        if reason:
            pytest.skip(reason)
        shared = import_buffer(device, os.dup(last.drm.objects[0].fd), size, DMA_BUF, support)
        assert len(last.drm.objects) == 1, f"{layout} frames should lie in one dma-buf: {last.drm.to_json()}"
        yuv = yuv_layout(last.drm.planes, clip.depth, clip.width, clip.height)
        got = gpu_rgba(device, shared.buffer, yuv, YuvMatrix(matrix))
        problem = compare_rgba(got, want)
        assert problem is None, f"{problem}; descriptor {last.drm.to_json()}"
    finally:
        frames.close()
        getattr(source, "close", lambda: None)()
    request.node.user_properties.append(
        ("driver_answer", "the shader read the frame's dma-buf as a storage buffer")
    )


@pytest.mark.parametrize("clip_name", [c.name for c in CLIPS], ids=[f"cuda-{c.name}" for c in CLIPS])
def test_decode_cuda(request: pytest.FixtureRequest, device: Device, manifest: Manifest, clip_name: str):
    """NVDEC's frames (FFmpeg's cuda hwaccel; they stay in CUDA memory) copied on the GPU into memory that
    Vulkan exported (OPAQUE_FD) and CUDA imported, then read by Vulkan: every frame equals the software
    decode's. Not zero-copy — the copy is device-side — and the case says so."""
    clip, path = _clip(manifest, clip_name)
    source = CudaSource(device)
    reason = source.available(clip)
    if reason:
        pytest.skip(f"cuda: {reason}")
    expected = software_frames(clip, path)
    bits = FORMATS[clip.depth].significant_bits
    seen = 0
    frames = source.frames(clip, path)
    try:
        for frame in frames:
            problem = first_difference(
                frame.index,
                read_vulkan_frame(device, frame.buffer, frame.layout),
                expected[frame.index],
                bits,
            )
            assert problem is None, problem
            seen += 1
    finally:
        frames.close()
        source.close()
    assert seen == len(expected), f"NVDEC gave {seen} frames, the software decoder {len(expected)}"
    request.node.user_properties.append(
        (
            "driver_answer",
            "NVDEC → CUDA memory → device-side copy into a Vulkan OPAQUE_FD buffer (not zero-copy)",
        )
    )

"""Images from foreign exporters: DRM dumb buffers (vgem, virtio-gpu) and GBM buffer objects, imported as
LINEAR VkImages at the pitch the exporter chose.

Each buffer is made for an image (R8G8B8A8 or B8G8R8A8, 1366x768 — an odd width — and 256x256),
imported with DRM_FORMAT_MOD_LINEAR and an explicit layout (the exporter's pitch and offset), and
checked both ways through the exporter's own CPU map (the card's dumb-buffer mapping, gbm_bo_map),
bracketed by DMA_BUF_IOCTL_SYNC: the GPU writes a pattern that the map must show in every row with
the row padding untouched, and the GPU reads exactly what the CPU wrote through the map.

`test_image_sync` makes the exporter's write observable: vgem attaches a fence that only this
process signals, the GPU copy waits on it through DMA_BUF_IOCTL_EXPORT_SYNC_FILE and a SYNC_FD
semaphore, and must read what the "engine" wrote just before signalling, not what was there before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from vkzc.conformance import capabilities
from vkzc.conformance.external import DMA_BUF
from vkzc.conformance.foreign_images import (
    OPTIONAL_EXTENSIONS,
    REQUIRED_EXTENSIONS,
    ImageBuffer,
    ImageSource,
    cases,
    cpu_frame,
    parse_size,
    sources,
    vulkan_layout,
)
from vkzc.conformance.formats import BY_NAME, Bytes, Format
from vkzc.conformance.image_sync import PendingRead
from vkzc.conformance.image_transfer import (
    EXTERNAL,
    FOREIGN,
    FOREIGN_EXTENSION,
    download,
    first_difference,
    upload,
)
from vkzc.conformance.implicit_sync import SEMAPHORE_EXTENSIONS
from vkzc.conformance.linear_planes import GUARD_BYTE
from vkzc.conformance.modifier_images import (
    TRANSFER,
    ImageSpec,
    ModifierImage,
    import_memory,
    placement_problem,
)
from vkzc.conformance.modifier_queries import listed, query
from vkzc.conformance.target import Target
from vkzc.dmabuf.drm import VGEM, DumbBuffer
from vkzc.dmabuf.sync import READ, WRITE, export_sync_file
from vkzc.probe.modifiers import LINEAR
from vkzc.vk.binding import load
from vkzc.vk.device import DEFAULT_FENCE_TIMEOUT_S, Device
from vkzc.vk.formats import ExternalMemoryFeatures

vk = load()

pytestmark = pytest.mark.path("modifier-image")

BACK = 0x5A5A5A5A  # the seed of the pattern the exporter writes over the first one
# How long the vgem "engine" holds its fence before writing and signalling: long enough that a GPU copy
# which did not wait would have finished long before (a copy of 256 KiB takes milliseconds).
FENCE_HOLD_S = 1.0
SYNC_CASE = ("vgem-fence", "B8G8R8A8_UNORM", "256x256")


@pytest.fixture(scope="module")
def device(target: Target) -> Iterator[Device]:
    for extension in REQUIRED_EXTENSIONS:
        reason = capabilities.missing_extension(target, extension)
        if reason:
            pytest.skip(reason)
    optional = [e for e in OPTIONAL_EXTENSIONS if e in target.physical.extensions]
    if not all(e in optional for e in SEMAPHORE_EXTENSIONS):
        optional = [e for e in optional if e not in SEMAPHORE_EXTENSIONS]
    with Device(target.physical, extensions=(*REQUIRED_EXTENSIONS, *optional)) as made:
        yield made


@pytest.fixture(scope="module")
def image_sources() -> Iterator[dict[str, ImageSource]]:
    made = sources()
    try:
        yield made
    finally:
        for source in made.values():
            source.close()


def _importable(target: Target, fmt: Format) -> ExternalMemoryFeatures:
    """The driver's support for LINEAR `fmt` transfer images imported from a dma-buf, or a skip."""
    modifiers = listed(target.physical, fmt)
    reason = capabilities.modifier_not_listed(target, fmt.name, LINEAR, modifiers)
    if reason:
        pytest.skip(reason)
    answer = query(target.physical, fmt, LINEAR, TRANSFER, DMA_BUF)
    what = f"{fmt.name} LINEAR transfer images imported from DMA_BUF"
    reason = capabilities.modifier_image_unsupported(target, what, answer, export=False)
    if reason:
        pytest.skip(reason)
    return ExternalMemoryFeatures(features=answer.external.features if answer.external else 0)


def _import(
    device: Device, fmt: Format, size: tuple[int, int], buffer: ImageBuffer, support: ExternalMemoryFeatures
) -> ModifierImage:
    layout = vulkan_layout(buffer, size[1])
    spec = ImageSpec(format=fmt, width=size[0], height=size[1], usage=TRANSFER)
    image = ModifierImage(device, spec, handle_type=DMA_BUF, explicit=(LINEAR, (layout,)))
    import_memory(image, support, [buffer.dmabuf.dup()])
    problem = placement_problem(image, (layout,))
    assert problem is None, problem
    return image


def _family(device: Device) -> int:
    return FOREIGN if FOREIGN_EXTENSION in device.extensions else EXTERNAL


@pytest.mark.parametrize(
    ("exporter", "format", "size", "direction"),
    cases(),
    ids=[f"{e}-{f}-LINEAR-{s}-{d}" for e, f, s, d in cases()],
)
def test_foreign_image(
    request: pytest.FixtureRequest,
    target: Target,
    device: Device,
    image_sources: dict[str, ImageSource],
    exporter: str,
    format: str,
    size: str,
    direction: str,
    seed: int,
):
    """A buffer the exporter made for the image, imported as a LINEAR image at the exporter's pitch: what the
    GPU writes, the exporter's CPU map shows row for row (padding untouched), and what the CPU writes
    through that map, the GPU reads."""
    source = image_sources[exporter]
    fmt = BY_NAME[format]
    reason = source.available() or source.format_unsupported(fmt)
    if reason:
        pytest.skip(reason)
    support = _importable(target, fmt)
    width, height = parse_size(size)
    pattern = fmt.pattern(seed, width, height)
    family = _family(device)
    with source.allocate(fmt, width, height) as buffer:
        request.node.user_properties.append(
            (
                "driver_answer",
                f"{buffer.origin}: pitch {buffer.pitch} (rows of {fmt.planes[0].row_bytes(width)} bytes), "
                f"offset {buffer.offset}; dma-buf of {buffer.dmabuf.size} bytes",
            )
        )
        frame = cpu_frame(fmt, width, height, buffer.pitch)
        if direction == "cpu-writes":
            with buffer.mapped(READ | WRITE) as raw:
                frame.write(0, raw, pattern)
            image = _import(device, fmt, (width, height), buffer, support)
            got = download(device, image, fmt, (width, height), acquire_from=family)
            problem = first_difference(
                fmt, got, pattern, f"as the GPU read what the CPU wrote through {exporter}"
            )
            assert problem is None, problem
            return
        with buffer.mapped(READ | WRITE) as raw:
            raw[:] = GUARD_BYTE
        image = _import(device, fmt, (width, height), buffer, support)
        # Acquiring the image from the CPU's side (the copy's result is the guard everywhere) puts it in a
        # layout from which the GPU's write keeps the bytes between rows.
        download(device, image, fmt, (width, height), acquire_from=family)
        upload(
            device,
            image,
            fmt,
            (width, height),
            pattern,
            release_to=family,
            old_layout=vk.VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
        )
        with buffer.mapped(READ) as raw:
            problem = frame.guard_problem(0, raw)
            assert problem is None, f"after the GPU wrote the image: {problem}"
            got = (frame.read(0, raw)[0],)
        problem = first_difference(
            fmt, got, pattern, f"as the CPU read what the GPU wrote through {exporter}'s own map"
        )
        assert problem is None, problem


@pytest.mark.parametrize(("writer", "format", "size"), [SYNC_CASE], ids=["-".join(SYNC_CASE)])
def test_image_sync(
    request: pytest.FixtureRequest,
    target: Target,
    device: Device,
    writer: str,
    format: str,
    size: str,
    seed: int,
):
    """An image imported from a vgem buffer while a fence on it is pending (an engine still writing): the GPU
    copy waits for it on the GPU (EXPORT_SYNC_FILE -> SYNC_FD semaphore) and reads what the engine wrote
    just before signalling, never the older contents."""
    reason = VGEM.available() or capabilities.sync_fd_semaphore_unsupported(target)
    if reason:
        pytest.skip(reason)
    if not all(e in device.extensions for e in SEMAPHORE_EXTENSIONS):
        pytest.skip(f"the device was made without {', '.join(SEMAPHORE_EXTENSIONS)}")
    fmt = BY_NAME[format]
    support = _importable(target, fmt)
    width, height = parse_size(size)
    before = fmt.pattern(seed, width, height)
    written = fmt.pattern(seed ^ BACK, width, height)
    with VGEM.allocate_image(width, height, 8 * fmt.planes[0].texel_bytes) as buffer:
        reason = capabilities.sync_file_export_unsupported(buffer.dmabuf)
        if reason:
            pytest.skip(reason)
        frame = cpu_frame(fmt, width, height, buffer.pitch)
        with buffer.mapped(READ | WRITE) as raw:
            frame.write(0, raw, before)
        image = _import(device, fmt, (width, height), buffer, support)
        pending = PendingRead(device, image, fmt, (width, height), acquire_from=_family(device))
        fence = buffer.attach_fence()
        engine = _Engine(buffer, fence, lambda raw: frame.write(0, raw, written))
        try:
            sync_file = export_sync_file(buffer.dmabuf.fd, READ)
            engine.start()
            pending.submit_after(sync_file)
            returned = time.monotonic()
            early = pending.done()
            got = pending.result(DEFAULT_FENCE_TIMEOUT_S)
            finished = time.monotonic()
        finally:
            engine.finish()
            pending.close()
        signalled = engine.signalled
        request.node.user_properties.append(
            (
                "driver_answer",
                f"vkQueueSubmit returned {returned - signalled:+.3f} s from the fence's signal, the copy "
                f"finished {finished - signalled:+.3f} s from it",
            )
        )
        assert not (early and returned < signalled), (
            "the copy had finished before the exporter's fence was signalled: the SYNC_FD wait was ignored"
        )
        problem = first_difference(fmt, (got,), written, "as the GPU read after the exporter's fence")
        assert problem is None, problem


class _Engine:
    """The exporter's side of test_image_sync: after FENCE_HOLD_S, writes through the card's map (no
    DMA_BUF_IOCTL_SYNC: it would wait for this very fence), then signals its fence."""

    def __init__(self, buffer: DumbBuffer, fence: int, write: Callable[[Bytes], None]) -> None:
        self.buffer = buffer
        self.fence = fence
        self.write = write
        self.signalled = float("inf")
        self._thread = threading.Thread(target=self._run, name="vgem-engine", daemon=True)
        self._started = False
        self._done = False

    def start(self) -> None:
        self._started = True
        self._thread.start()

    def _run(self) -> None:
        time.sleep(FENCE_HOLD_S)
        self._signal(write=True)

    def _signal(self, *, write: bool) -> None:
        if self._done:
            return
        self._done = True
        if write:
            with self.buffer.unsynced_map() as raw:
                self.write(raw)
        self.signalled = time.monotonic()
        self.buffer.signal_fence(self.fence)

    def finish(self) -> None:
        """Wait for the engine; signal the fence here if it never ran, so nothing waits on it for ever."""
        if self._started:
            self._thread.join(FENCE_HOLD_S + DEFAULT_FENCE_TIMEOUT_S)
        else:
            self._signal(write=False)

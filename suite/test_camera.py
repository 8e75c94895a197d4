"""Camera frames into Vulkan without a copy: V4L2 capture buffers exported with VIDIOC_EXPBUF.

For every capture node (vivid in the QEMU cell, the camera or ISP node a board declares), each of
NV12, YUYV and packed RGB (ABGR32, RGB565) is negotiated at 640x480 and 1280x720. MMAP buffers are
queued and streamed; each dequeued buffer is exported, imported as LINEAR image(s) with the
driver's bytesperline as pitch and the planes' offsets, waited on through its implicit fences
where the kernel hands them out, and read by the GPU: it must equal, byte for byte, the same
buffer read through V4L2's own mmap, and differ from the previous frame (the pattern moves, so
frame N's import showing frame N-1 is caught). Last, the GPU writes a marker into the imported
image and V4L2's mmap must show it: one memory, no copy.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from vkzc.conformance import capabilities
from vkzc.conformance.camera import (
    CAMERA_FORMATS,
    NO_CAMERA,
    SIZES,
    CameraFormat,
    cameras,
    describe,
    layer_frames,
    whole_frame,
)
from vkzc.conformance.external import DMA_BUF
from vkzc.conformance.foreign_images import OPTIONAL_EXTENSIONS, REQUIRED_EXTENSIONS, size_id
from vkzc.conformance.formats import Bytes
from vkzc.conformance.image_transfer import (
    EXTERNAL,
    FOREIGN,
    FOREIGN_EXTENSION,
    download,
    first_difference,
    upload,
)
from vkzc.conformance.implicit_sync import SEMAPHORE_EXTENSIONS, wait_sync_file
from vkzc.conformance.linear_planes import LinearFrame
from vkzc.conformance.modifier_images import (
    TRANSFER,
    ImageSpec,
    ModifierImage,
    import_memory,
    import_shared,
    placement_problem,
)
from vkzc.conformance.modifier_queries import listed, query
from vkzc.conformance.target import Target
from vkzc.dmabuf.buffer import DmaBuf
from vkzc.dmabuf.sync import READ, export_sync_file
from vkzc.dmabuf.v4l2 import Capture, CaptureNode, Negotiated, fourcc_text
from vkzc.probe.modifiers import LINEAR
from vkzc.vk.binding import load
from vkzc.vk.device import Device
from vkzc.vk.formats import ExternalMemoryFeatures

vk = load()

pytestmark = pytest.mark.path("camera")

FRAMES = 3  # consecutive frames checked per case
BUFFERS = 4
DEQUEUE_TIMEOUT_S = 20.0  # vivid under TCG fills a 1280x720 frame in well under a second
# vivid's control that makes its test pattern move, so that consecutive frames differ.
MOVEMENT_CONTROL = "Horizontal Movement"
MARKER = 0x4D41524B  # the seed of the pattern the GPU writes into the last frame
_NO_CAMERA_ID = "v4l2"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "camera" not in metafunc.fixturenames:
        return
    names = list(cameras()) or [_NO_CAMERA_ID]
    rows = [(c, f, size_id(*s)) for c in names for f in CAMERA_FORMATS for s in SIZES]
    metafunc.parametrize(("camera", "format", "size"), rows, ids=["-".join(r) for r in rows])


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


def _node(camera: str) -> CaptureNode:
    node = cameras().get(camera)
    if node is None:
        pytest.skip(NO_CAMERA)
    if not node.single_planar:
        pytest.skip(
            f"{camera} ({node.node}) offers only the multi-planar V4L2 API, "
            "which vkzc's capture does not drive yet"
        )
    return node


def _negotiate(capture: Capture, camera: str, cam: CameraFormat, width: int, height: int) -> Negotiated:
    offered = capture.formats()
    if cam.fourcc not in offered:
        said = ", ".join(fourcc_text(f) for f in offered)
        pytest.skip(f"{camera} offers no {cam.name} ({cam.code}) here (VIDIOC_ENUM_FMT: {said})")
    negotiated = capture.set_format(cam.fourcc, width, height)
    if (negotiated.pixelformat, negotiated.width, negotiated.height) != (cam.fourcc, width, height):
        pytest.skip(f"{camera} answers VIDIOC_S_FMT {cam.code} {width}x{height} with {negotiated.describe()}")
    return negotiated


def _support(target: Target, frames: tuple[LinearFrame, ...]) -> ExternalMemoryFeatures | str:
    """What the driver supports for importing every image of `frames`, or its answer against one."""
    features = 0
    for frame in frames:
        fmt = frame.format
        reason = capabilities.modifier_not_listed(target, fmt.name, LINEAR, listed(target.physical, fmt))
        if reason:
            return reason
        answer = query(target.physical, fmt, LINEAR, TRANSFER, DMA_BUF)
        what = f"{fmt.name} LINEAR transfer images imported from DMA_BUF"
        reason = capabilities.modifier_image_unsupported(target, what, answer, export=False)
        if reason:
            return reason
        features |= answer.external.features if answer.external else 0
    return ExternalMemoryFeatures(features=features)


def _plan(
    target: Target, cam: CameraFormat, negotiated: Negotiated
) -> tuple[tuple[LinearFrame, ...], ExternalMemoryFeatures, str]:
    """The images the frame is imported as: whole where the driver can, else one per plane; or a skip naming
    both answers."""
    whole = (whole_frame(cam, negotiated),)
    support = _support(target, whole)
    if isinstance(support, ExternalMemoryFeatures):
        return whole, support, f"as one image: {describe(whole)}"
    layers = layer_frames(cam, negotiated)
    if layers == whole:
        pytest.skip(support)
    layer_support = _support(target, layers)
    if isinstance(layer_support, str):
        pytest.skip(f"{support}; and as layers: {layer_support}")
    return layers, layer_support, f"as layers: {describe(layers)} ({support})"


def _import(
    device: Device, frames: tuple[LinearFrame, ...], support: ExternalMemoryFeatures, dmabuf: DmaBuf
) -> list[ModifierImage]:
    images = [
        ModifierImage(
            device,
            ImageSpec(format=f.format, width=f.width, height=f.height, usage=TRANSFER),
            handle_type=DMA_BUF,
            explicit=(LINEAR, f.layouts),
        )
        for f in frames
    ]
    if len(images) == 1:
        import_memory(images[0], support, [dmabuf.dup()])
    else:
        import_shared(images, support, dmabuf.fd)
    for index, (image, frame) in enumerate(zip(images, frames, strict=True)):
        problem = placement_problem(image, frame.layouts)
        assert problem is None, f"image {index} ({frame.format.name}): {problem}"
    return images


def _sync_wait(target: Target, device: Device, dmabuf: DmaBuf) -> str:
    """Wait (on the GPU) for the buffer's implicit fences where the kernel hands them out; what was done."""
    reason = capabilities.sync_file_export_unsupported(dmabuf)
    if reason is None and not all(e in device.extensions for e in SEMAPHORE_EXTENSIONS):
        reason = capabilities.sync_fd_semaphore_unsupported(target) or "no SYNC_FD semaphores on this device"
    if reason:
        return f"no implicit-fence wait ({reason})"
    wait_sync_file(device, export_sync_file(dmabuf.fd, READ))
    return "waited on its implicit fences (EXPORT_SYNC_FILE -> SYNC_FD)"


def _read(frames: tuple[LinearFrame, ...], raw: Bytes) -> list[tuple[Bytes, ...]]:
    """Each image's planes, tightly packed, from the capture buffer's bytes."""
    found = []
    for frame in frames:
        planes = frame.read(0, raw)
        found.append(tuple(planes[i] for i in range(len(frame.format.planes))))
    return found


def test_camera_import(
    request: pytest.FixtureRequest,
    target: Target,
    device: Device,
    camera: str,
    format: str,
    size: str,
    seed: int,
):
    """Consecutive captured frames, each exported and imported without a copy: the GPU reads exactly what
    V4L2's mmap of the same buffer holds, each frame its own, and V4L2's mmap sees what the GPU writes."""
    node = _node(camera)
    cam = CAMERA_FORMATS[format]
    width, height = (int(v) for v in size.split("x"))
    family = FOREIGN if FOREIGN_EXTENSION in device.extensions else EXTERNAL
    with Capture(node.node) as capture:
        negotiated = _negotiate(capture, camera, cam, width, height)
        frames, support, how = _plan(target, cam, negotiated)
        moving = capture.set_control_to_maximum(MOVEMENT_CONTROL)
        capture.start(BUFFERS)
        answer = [f"{node.card} ({node.node}): {negotiated.describe()}; imported {how}"]
        request.node.user_properties.append(("driver_answer", "; ".join(answer)))
        previous: list[tuple[Bytes, ...]] | None = None
        last_sequence = -1
        for number in range(FRAMES):
            dequeued = capture.dequeue(DEQUEUE_TIMEOUT_S)
            assert dequeued.sequence > last_sequence, (
                f"frame {number}: sequence {dequeued.sequence} after {last_sequence}"
            )
            last_sequence = dequeued.sequence
            expected = _read(frames, capture.mapped(dequeued.index))
            with device.scope(), capture.export(dequeued.index) as dmabuf:
                images = _import(device, frames, support, dmabuf)
                waited = _sync_wait(target, device, dmabuf)
                got = [
                    download(device, image, frame.format, (frame.width, frame.height), acquire_from=family)
                    for image, frame in zip(images, frames, strict=True)
                ]
                for index, frame in enumerate(frames):
                    problem = first_difference(
                        frame.format,
                        got[index],
                        expected[index],
                        f"of image {index} ({frame.format.name}), frame {number} "
                        f"(sequence {dequeued.sequence}), as the GPU read it against V4L2's mmap",
                    )
                    assert problem is None, problem
                if previous is not None and moving:
                    same = all(
                        np.array_equal(a, b)
                        for now, before in zip(got, previous, strict=True)
                        for a, b in zip(now, before, strict=True)
                    )
                    assert not same, (
                        f"frame {number} (sequence {dequeued.sequence}) reads the same as the frame before "
                        f"it, although {camera}'s pattern moves: the import shows a stale frame"
                    )
                previous = got
                if number == FRAMES - 1:
                    _marker(device, images, frames, capture, dequeued.index, family, seed)
            capture.queue(dequeued.index)
        answer.append(waited)
        if not moving:
            answer.append(f"no {MOVEMENT_CONTROL!r} control: consecutive frames were not required to differ")
        request.node.user_properties[-1] = ("driver_answer", "; ".join(answer))


def _marker(
    device: Device,
    images: list[ModifierImage],
    frames: tuple[LinearFrame, ...],
    capture: Capture,
    index: int,
    family: int,
    seed: int,
) -> None:
    """The GPU writes a pattern into every imported image; V4L2's mmap of the buffer must show it."""
    written = []
    for number, (image, frame) in enumerate(zip(images, frames, strict=True)):
        pattern = frame.format.pattern(seed ^ MARKER ^ number, frame.width, frame.height)
        upload(
            device,
            image,
            frame.format,
            (frame.width, frame.height),
            pattern,
            release_to=family,
            old_layout=vk.VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
        )
        written.append(pattern)
    seen = _read(frames, capture.mapped(index))
    for number, frame in enumerate(frames):
        problem = first_difference(
            frame.format,
            seen[number],
            written[number],
            f"of image {number}, as V4L2's mmap shows what the GPU wrote",
        )
        assert problem is None, problem

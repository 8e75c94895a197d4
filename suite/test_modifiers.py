"""Images with DRM format modifiers (VK_EXT_image_drm_format_modifier): every modifier a driver lists,
multi-planar YUV, and LINEAR frames that the CPU filled.

For R8…A2B10G10R10, R16, NV12, P010 and three-plane 4:2:0, the driver's modifier lists (List and
List2 must agree) and, per modifier, usage and handle type, what vkGetPhysicalDeviceImageFormatProperties2
answers are recorded and checked. Then, for each combination the driver supports, an image created
from the modifier is exported, imported into a second device with its explicit plane layouts, and
a pattern written by one device's GPU is read back exactly by the other's, both ways. LINEAR frames
that the CPU wrote into udmabuf or DMA-heap buffers (row pitch larger than the row, planes at
non-zero offsets) are imported as one image, as a DISJOINT image with one buffer per plane, and as
one single-plane image per plane (FFmpeg's "layers"); the GPU must read the CPU's bytes and its
writes must land in the rows and nowhere else. Invalid imports run in a peer process.

A combination the driver does not support is a skip with the driver's own answer; one it supports
that then fails is a failure. Case ids carry the modifier's name (LINEAR is there for every format
on every driver) and the handle type: dma-buf, or opaque-fd, which drivers without dma-buf
(NVIDIA's) share images with.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import numpy as np
import pytest

from vkzc.conformance import capabilities
from vkzc.conformance.external import (
    DMA_BUF,
    DMA_BUF_EXTENSIONS,
    OPAQUE_FD,
    buffer_support,
    device_uuid,
    import_buffer,
)
from vkzc.conformance.formats import BY_NAME, FORMATS, LAYERS, MULTI_PLANAR, Bytes, Format
from vkzc.conformance.image_transfer import (
    EXTERNAL,
    FOREIGN,
    FOREIGN_EXTENSION,
    download,
    first_difference,
    read_back,
    upload,
)
from vkzc.conformance.linear_planes import CPU_EXPORTERS, LinearFrame, linear_frame
from vkzc.conformance.modifier_images import (
    TRANSFER,
    ImageSpec,
    ModifierImage,
    export,
    import_memory,
    import_shared,
    placement_problem,
)
from vkzc.conformance.modifier_peer import INVALID_IMPORTS, run_invalid
from vkzc.conformance.modifier_queries import (
    DISJOINT_FEATURE,
    HANDLE_TYPES,
    ROUNDTRIP_USAGES,
    USAGES,
    case_modifiers,
    describe_answer,
    list_problems,
    listed,
    modifier_id,
    modifier_name,
    modifier_value,
    query,
    usage_inconsistency,
)
from vkzc.conformance.negative import judge_invalid_import
from vkzc.conformance.plugin import TARGET
from vkzc.conformance.target import Target
from vkzc.conformance.yuv import (
    FORMAT_DEPTHS,
    FORMAT_NAMES,
    YuvLayout,
    YuvMatrix,
    bytes_from_planes,
    compare_rgba,
    gpu_rgba,
    host_storage,
    planes_from_bytes,
    random_planes,
    reference_rgba,
)
from vkzc.dmabuf.buffer import DmaBuf, Exporter
from vkzc.dmabuf.sync import READ, WRITE
from vkzc.probe.modifiers import LINEAR, VENDOR_BROADCOM, VENDOR_INTEL, VENDOR_SAMSUNG, fourcc_mod_code
from vkzc.vk.binding import load
from vkzc.vk.device import Device
from vkzc.vk.formats import (
    MODIFIER_EXTENSION,
    DrmFormatModifier,
    ExternalMemoryFeatures,
    ImageFormatAnswer,
    drm_format_modifiers,
)
from vkzc.vk.resources import Buffer

vk = load()

pytestmark = pytest.mark.path("modifier-image")

# Even (4:2:0 chroma needs it) and a multiple of no tile or block size, so partial tiles are exercised.
WIDTH, HEIGHT = 130, 66
SIZE = (WIDTH, HEIGHT)
BACK = 0x5A5A5A5A  # the seed of the pattern written the other way
REQUIRED_EXTENSIONS = ("VK_KHR_external_memory", "VK_KHR_external_memory_fd", MODIFIER_EXTENSION)
OPTIONAL_EXTENSIONS = ("VK_EXT_external_memory_dma_buf", FOREIGN_EXTENSION)
# Modifiers for the unlisted-modifier case: the first one the driver does not list is used.
UNLISTED_CANDIDATES = (
    fourcc_mod_code(VENDOR_INTEL, 1),  # I915_X_TILED
    fourcc_mod_code(VENDOR_BROADCOM, 6),  # BROADCOM_UIF
    fourcc_mod_code(VENDOR_SAMSUNG, 1),  # SAMSUNG_64_32_TILE
)
NEGATIVE_FORMAT = BY_NAME["R8G8B8A8_UNORM"]


def _extensions(target: Target) -> tuple[str, ...]:
    return (*REQUIRED_EXTENSIONS, *(e for e in OPTIONAL_EXTENSIONS if e in target.physical.extensions))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Cases per (format, modifier[, usage], handle type), from the modifiers the target's driver lists."""
    if "modifier" not in metafunc.fixturenames:
        return
    physical = metafunc.config.stash[TARGET].physical
    formats = [f for f in FORMATS if f.multi_planar or metafunc.function.__name__ != "test_modifier_disjoint"]
    usages = tuple(ROUNDTRIP_USAGES) if "usage" in metafunc.fixturenames else (None,)
    # The modifier goes in as its label (LINEAR, I915_Y_TILED, 0x…): the report's tables show it.
    rows = [
        (f.name, modifier_id(m), usage, handle)
        for f in formats
        for m in case_modifiers(physical, f)
        for usage in usages
        for handle in HANDLE_TYPES
    ]
    names = ("format", "modifier", *(("usage",) if usages != (None,) else ()), "handle")
    metafunc.parametrize(
        names,
        [tuple(v for v in row if v is not None) for row in rows],
        ids=["-".join(v for v in row if v is not None) for row in rows],
    )


@pytest.fixture(scope="module")
def device(target: Target) -> Iterator[Device]:
    """The exporting device (replaces conftest's: the extensions to enable depend on the driver)."""
    for extension in REQUIRED_EXTENSIONS:
        reason = capabilities.missing_extension(target, extension)
        if reason:
            pytest.skip(reason)
    with Device(target.physical, extensions=_extensions(target)) as made:
        yield made


@pytest.fixture(scope="module")
def importer(target: Target, device: Device) -> Iterator[Device]:
    """A second VkDevice on the same physical device: the importing side of every round trip."""
    with Device(target.physical, extensions=_extensions(target)) as made:
        yield made


def _require_modifiers(target: Target) -> None:
    reason = capabilities.missing_extension(target, MODIFIER_EXTENSION)
    if reason:
        pytest.skip(reason)


def _handle(target: Target, handle: str) -> int:
    handle_type, _, extension = HANDLE_TYPES[handle]
    reason = capabilities.missing_extension(target, extension)
    if reason:
        pytest.skip(reason)
    return handle_type


def _listed(target: Target, fmt: Format, modifier: int) -> DrmFormatModifier:
    """The driver's list entry for `modifier`, or a skip naming what it does list."""
    _require_modifiers(target)
    modifiers = listed(target.physical, fmt)
    reason = capabilities.modifier_not_listed(target, fmt.name, modifier, modifiers)
    if reason:
        pytest.skip(reason)
    return next(m for m in modifiers if m.value == modifier)


def _supported(
    target: Target, what: str, answer: ImageFormatAnswer, *, export: bool
) -> ExternalMemoryFeatures:
    reason = capabilities.modifier_image_unsupported(target, what, answer, export=export)
    if reason:
        pytest.skip(reason)
    return ExternalMemoryFeatures(features=answer.external.features if answer.external else 0)


def _disjoint(target: Target, what: str, entry: DrmFormatModifier, answer: ImageFormatAnswer) -> None:
    reason = capabilities.modifier_lacks_feature(
        target, what, "DISJOINT", DISJOINT_FEATURE, entry.features
    ) or capabilities.disjoint_needs_dedicated(target, what, answer)
    if reason:
        pytest.skip(reason)


def _cpu_exporter() -> Exporter:
    """The first of udmabuf and the system DMA heap that works here: where a frame the CPU fills comes
    from matters less to the image path than its layout (the dma-buf path covers every exporter)."""
    made: list[Exporter] = [make() for make in CPU_EXPORTERS.values()]
    reason = capabilities.no_dmabuf_exporter(made)
    if reason:
        pytest.skip(reason)
    return next(e for e in made if e.available() is None)


# --- queries ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("format", [f.name for f in FORMATS])
def test_modifier_lists(request: pytest.FixtureRequest, target: Target, format: str):
    """VkDrmFormatModifierPropertiesListEXT and ...List2EXT name the same modifiers, plane counts and
    (32-bit) features, never DRM_FORMAT_MOD_INVALID, and never a modifier without a feature."""
    _require_modifiers(target)
    reason = capabilities.modifier_list2_unavailable(target)
    if reason:
        pytest.skip(reason)
    vk_format = BY_NAME[format].vk_format
    first = drm_format_modifiers(target.physical, vk_format, list2=False)
    second = drm_format_modifiers(target.physical, vk_format, list2=True)
    said = ", ".join(f"{modifier_name(m.value)} ({m.plane_count} planes)" for m in first)
    request.node.user_properties.append(("driver_answer", f"List: {said or 'no modifier'}"))
    problems = list_problems(first, second)
    assert not problems, f"{format}: " + "; ".join(problems)


def test_modifier_query(
    request: pytest.FixtureRequest, target: Target, format: str, modifier: str, handle: str
):
    """What vkGetPhysicalDeviceImageFormatProperties2 answers for each usage, with the modifier and the
    handle type; a usage it supports must be among the modifier's listed features."""
    fmt = BY_NAME[format]
    value = modifier_value(target.physical, fmt, modifier)
    entry = _listed(target, fmt, value)
    handle_type = _handle(target, handle)
    answers = {
        usage: query(target.physical, fmt, value, bit, handle_type) for usage, (bit, _, _) in USAGES.items()
    }
    said = "; ".join(f"{usage}: {describe_answer(answer)}" for usage, answer in answers.items())
    request.node.user_properties.append(("driver_answer", said))
    problems = [
        p for usage, answer in answers.items() if (p := usage_inconsistency(usage, answer, entry.features))
    ]
    assert not problems, "; ".join(problems)


# --- round trips between two devices ---------------------------------------------------------------


def test_modifier_roundtrip(
    request: pytest.FixtureRequest,
    target: Target,
    device: Device,
    importer: Device,
    format: str,
    modifier: str,
    usage: str,
    handle: str,
    seed: int,
):
    """An image created for `usage` (and transfers) from a one-modifier list, exported, imported into a
    second device with its explicit plane layouts: what each side's GPU writes, the other's reads."""
    spec = ImageSpec(format=BY_NAME[format], width=WIDTH, height=HEIGHT, usage=ROUNDTRIP_USAGES[usage])
    value = modifier_value(target.physical, spec.format, modifier)
    _roundtrip(request.node, target, device, importer, spec, value, handle, seed, usage)


def test_modifier_disjoint(
    request: pytest.FixtureRequest,
    target: Target,
    device: Device,
    importer: Device,
    format: str,
    modifier: str,
    handle: str,
    seed: int,
):
    """As the round trip, with VK_IMAGE_CREATE_DISJOINT_BIT: one memory, one fd, one import per plane."""
    spec = ImageSpec(format=BY_NAME[format], width=WIDTH, height=HEIGHT, usage=TRANSFER, disjoint=True)
    value = modifier_value(target.physical, spec.format, modifier)
    _roundtrip(request.node, target, device, importer, spec, value, handle, seed, "transfer")


def _roundtrip(
    case: pytest.Item,
    target: Target,
    device: Device,
    importer: Device,
    spec: ImageSpec,
    modifier: int,
    handle: str,
    seed: int,
    usage: str,
) -> None:
    """Export an image made from a one-modifier list, import it into `importer` with the exporter's explicit
    plane layouts, and check that what each side's GPU writes, the other's reads."""
    fmt = spec.format
    entry = _listed(target, fmt, modifier)
    handle_type = _handle(target, handle)
    disjoint = "DISJOINT " if spec.disjoint else ""
    what = f"{disjoint}{fmt.name} {modifier_name(modifier)} images for {usage} as {HANDLE_TYPES[handle][1]}"
    answer = query(target.physical, fmt, modifier, spec.usage, handle_type, flags=spec.flags)
    support = _supported(target, what, answer, export=True)
    if spec.disjoint:
        _disjoint(target, what, entry, answer)
    image = ModifierImage(device, spec, handle_type=handle_type, modifiers=(modifier,))
    exported = export(image, support, entry.plane_count)
    try:
        case.user_properties.append(("driver_answer", exported.describe()))
        assert exported.modifier == modifier, (
            f"asked for {modifier_name(modifier)} alone, the image has {modifier_name(exported.modifier)}"
        )
        problem = exported.layout_problem(spec.disjoint)
        assert problem is None, problem
        with importer.scope():
            imported = ModifierImage(
                importer, spec, handle_type=handle_type, explicit=(modifier, exported.layouts)
            )
            # OPAQUE_FD imports repeat the exporter's memory type and size; a dma-buf is asked for its own.
            opaque = handle_type == OPAQUE_FD
            import_memory(
                imported,
                support,
                [os.dup(fd) for fd in exported.fds],
                memory_types=exported.memory_types if opaque else None,
                sizes=exported.sizes if opaque else None,
            )
            problem = placement_problem(imported, exported.layouts)
            assert problem is None, f"imported: {problem}"
            forth = fmt.pattern(seed, *SIZE)
            upload(device, image, fmt, SIZE, forth, release_to=EXTERNAL)
            got = download(importer, imported, fmt, SIZE, acquire_from=EXTERNAL)
            problem = first_difference(
                fmt, got, forth, "as the importing device read what the exporter wrote"
            )
            assert problem is None, problem
            back = fmt.pattern(seed ^ BACK, *SIZE)
            upload(importer, imported, fmt, SIZE, back, release_to=EXTERNAL)
            got = download(device, image, fmt, SIZE, acquire_from=EXTERNAL)
            problem = first_difference(fmt, got, back, "as the exporter read what the importing device wrote")
            assert problem is None, problem
    finally:
        exported.close()


# --- LINEAR frames the CPU wrote -------------------------------------------------------------------

LINEAR_IMPORTS = [*((f.name, False) for f in FORMATS), *((name, True) for name in MULTI_PLANAR)]


@pytest.mark.parametrize(
    ("format", "disjoint"),
    LINEAR_IMPORTS,
    ids=[f"{f}-disjoint" if d else f for f, d in LINEAR_IMPORTS],
)
def test_modifier_linear_import(
    request: pytest.FixtureRequest,
    target: Target,
    device: Device,
    format: str,
    disjoint: bool,
    seed: int,
):
    """A frame the CPU wrote (pitch > row, first plane one page in; one buffer, or one per plane for
    DISJOINT) imported with its explicit LINEAR layout: the GPU reads exactly the CPU's bytes, and
    what the GPU writes the CPU reads in the rows, with every byte outside them untouched."""
    fmt = BY_NAME[format]
    entry = _listed(target, fmt, LINEAR)
    _handle(target, "dma-buf")
    exporter = _cpu_exporter()
    spec = ImageSpec(format=fmt, width=WIDTH, height=HEIGHT, usage=TRANSFER, disjoint=disjoint)
    what = f"{'DISJOINT ' if disjoint else ''}{fmt.name} LINEAR images imported from DMA_BUF"
    answer = query(target.physical, fmt, LINEAR, TRANSFER, DMA_BUF, flags=spec.flags)
    support = _supported(target, what, answer, export=False)
    if disjoint:
        _disjoint(target, what, entry, answer)
    assert entry.plane_count == len(fmt.planes), (
        f"LINEAR {fmt.name} is listed with {entry.plane_count} memory planes, not one per format plane"
    )
    frame = linear_frame(fmt, WIDTH, HEIGHT, disjoint=disjoint)
    request.node.user_properties.append(("driver_answer", f"from {exporter.name}: {frame.describe()}"))
    forth = fmt.pattern(seed, *SIZE)
    family = FOREIGN if FOREIGN_EXTENSION in device.extensions else EXTERNAL
    with ExitStack() as stack:
        dmabufs = [stack.enter_context(exporter.allocate(size)) for size in frame.object_sizes]
        for index, dmabuf in enumerate(dmabufs):
            with dmabuf.mapped(READ | WRITE) as raw:
                frame.write(index, raw, forth)
        image = ModifierImage(device, spec, handle_type=DMA_BUF, explicit=(LINEAR, frame.layouts))
        import_memory(image, support, [d.dup() for d in dmabufs])
        problem = placement_problem(image, frame.layouts)
        assert problem is None, problem
        readback = read_back(device, [(image, fmt, SIZE)], acquire_from=family)
        problem = first_difference(fmt, readback.planes, forth, "as the GPU read the frame the CPU wrote")
        assert problem is None, problem
        problem = _rgba_problem(device, fmt, readback.buffer, forth, "the image's planes the GPU read back")
        assert problem is None, problem
        back = fmt.pattern(seed ^ BACK, *SIZE)
        # The image's current layout, not UNDEFINED: the bytes between its rows must survive.
        upload(
            device,
            image,
            fmt,
            SIZE,
            back,
            release_to=family,
            old_layout=vk.VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
        )
        problem = _cpu_reads(frame, dmabufs, back)
        assert problem is None, problem


def _cpu_reads(frame: LinearFrame, dmabufs: list[DmaBuf], expected: tuple[Bytes, ...]) -> str | None:
    """What the CPU reads through the mappings, against `expected`, and the guard bytes around the rows."""
    planes: dict[int, Bytes] = {}
    for index, dmabuf in enumerate(dmabufs):
        with dmabuf.mapped(READ) as raw:
            problem = frame.guard_problem(index, raw)
            if problem:
                return f"after the GPU wrote the image: {problem}"
            planes.update(frame.read(index, raw))
    got = tuple(planes[i] for i in range(len(planes)))
    return first_difference(
        frame.format, got, expected, "as the CPU read what the GPU wrote, through the mapping"
    )


@pytest.mark.parametrize("format", MULTI_PLANAR)
def test_modifier_layers(
    request: pytest.FixtureRequest, target: Target, device: Device, format: str, seed: int
):
    """FFmpeg's form of a multi-planar DRM frame: one dma-buf, one single-plane LINEAR image per plane
    (NV12 as R8 + R8G8, P010 as R16 + R16G16), all bound to one import at their plane offsets. Each
    layer reads its plane of the CPU's frame; what the GPU writes into the layers lands in the rows."""
    fmt = BY_NAME[format]
    _handle(target, "dma-buf")
    exporter = _cpu_exporter()
    frame = linear_frame(fmt, WIDTH, HEIGHT, disjoint=False)
    layers = []
    features = 0
    for index, plane in enumerate(fmt.planes):
        layer = LAYERS[plane.layer]
        _listed(target, layer, LINEAR)
        answer = query(target.physical, layer, LINEAR, TRANSFER, DMA_BUF)
        what = f"{layer.name} LINEAR images imported from DMA_BUF"
        features |= _supported(target, what, answer, export=False).features
        width, height = plane.extent(WIDTH, HEIGHT)
        spec = ImageSpec(format=layer, width=width, height=height, usage=TRANSFER)
        layers.append((layer, spec, frame.layouts[index]))
    request.node.user_properties.append(("driver_answer", f"from {exporter.name}: {frame.describe()}"))
    forth = fmt.pattern(seed, *SIZE)
    back = fmt.pattern(seed ^ BACK, *SIZE)
    family = FOREIGN if FOREIGN_EXTENSION in device.extensions else EXTERNAL
    with exporter.allocate(frame.object_sizes[0]) as dmabuf:
        with dmabuf.mapped(READ | WRITE) as raw:
            frame.write(0, raw, forth)
        images = [
            ModifierImage(device, spec, handle_type=DMA_BUF, explicit=(LINEAR, (layout,)))
            for _, spec, layout in layers
        ]
        import_shared(images, ExternalMemoryFeatures(features=features), dmabuf.fd)
        for index, ((layer, _, layout), image) in enumerate(zip(layers, images, strict=True)):
            problem = placement_problem(image, (layout,))
            assert problem is None, f"layer {index} ({layer.name}): {problem}"
        # Every layer into one buffer, one after the other: the planes as the conversion reads them.
        readback = read_back(
            device,
            [
                (image, layer, (spec.width, spec.height))
                for (layer, spec, _), image in zip(layers, images, strict=True)
            ],
            acquire_from=family,
        )
        for index, (layer, _, _) in enumerate(layers):
            got = (readback.planes[index],)
            problem = first_difference(layer, got, (forth[index],), f"of layer {index} ({layer.name})")
            assert problem is None, problem
        problem = _rgba_problem(device, fmt, readback.buffer, forth, "the layers the GPU read back")
        assert problem is None, problem
        for index, ((layer, spec, _), image) in enumerate(zip(layers, images, strict=True)):
            upload(
                device,
                image,
                layer,
                (spec.width, spec.height),
                (back[index],),
                release_to=family,
                old_layout=vk.VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
            )
        problem = _cpu_reads(frame, [dmabuf], back)
        assert problem is None, problem


# --- NV12 and P010 to RGBA -------------------------------------------------------------------------


def _rgba_problem(
    device: Device, fmt: Format, buffer: Buffer, planes: tuple[Bytes, ...], what: str
) -> str | None:
    """For NV12 and P010: the compute shader converts the planes `buffer` holds (tightly packed, as a
    readback copies them) with each matrix, and must match the CPU reference of `planes` within one code
    value. Other formats: None."""
    depth = FORMAT_DEPTHS.get(fmt.name)
    if depth is None:
        return None
    layout = YuvLayout.packed(depth, *SIZE)
    y, uv = planes_from_bytes(np.concatenate(planes), layout)
    return _conversion_problem(device, buffer, layout, y, uv, f"{FORMAT_NAMES[fmt.name]} {what}")


def _conversion_problem(
    device: Device, buffer: Buffer, layout: YuvLayout, y: np.ndarray, uv: np.ndarray, what: str
) -> str | None:
    for matrix in YuvMatrix:
        problem = _conversion_one(device, buffer, layout, y, uv, matrix, what)
        if problem:
            return problem
    return None


YUV_SOURCES = (*CPU_EXPORTERS, "host-visible")
YUV_WIDTH, YUV_HEIGHT = 1366, 768  # a laptop panel: NV12 rows of 1366 bytes, no multiple of 4
YUV_CASES = [(source, fmt, m.value) for source in YUV_SOURCES for fmt in FORMAT_DEPTHS for m in YuvMatrix]


@pytest.fixture(scope="module")
def yuv_device(target: Target) -> Iterator[Device]:
    """A device that imports dma-bufs as buffers where the driver can; the host-visible cases need nothing."""
    dma_buf = all(capabilities.missing_extension(target, e) is None for e in DMA_BUF_EXTENSIONS)
    with Device(target.physical, extensions=DMA_BUF_EXTENSIONS if dma_buf else ()) as made:
        yield made


def _yuv_source(target: Target, source: str, size: int) -> Exporter | None:
    """The exporter a dma-buf case allocates from (None: a host-visible buffer), or a skip saying why not."""
    if source == "host-visible":
        return None
    for extension in DMA_BUF_EXTENSIONS:
        reason = capabilities.missing_extension(target, extension)
        if reason:
            pytest.skip(reason)
    support = buffer_support(target.physical, DMA_BUF)
    exporter: Exporter = CPU_EXPORTERS[source]()
    reason = (
        capabilities.external_memory_unsupported(target, "DMA_BUF", support, export=False)
        or capabilities.storage_range_too_small(target, size)
        or capabilities.dmabuf_exporter_unavailable(exporter)
        or capabilities.dmabuf_size_unsupported(exporter, size)
    )
    if reason:
        exporter.close()
        pytest.skip(reason)
    return exporter


@pytest.mark.parametrize(
    ("source", "format", "matrix"),
    YUV_CASES,
    ids=[f"{s}-{FORMAT_NAMES[f]}-LINEAR-{m}-{YUV_WIDTH}x{YUV_HEIGHT}" for s, f, m in YUV_CASES],
)
def test_yuv_to_rgba(
    request: pytest.FixtureRequest,
    target: Target,
    yuv_device: Device,
    source: str,
    format: str,
    matrix: str,
    seed: int,
):
    """A LINEAR NV12 or P010 frame the CPU wrote (random samples, rows at a padded pitch, the Y plane one
    page in) into a dma-buf from udmabuf or the DMA heap, imported as a storage buffer, or into a
    host-visible buffer (every driver): the compute shader converts it to RGBA where it lies, and the
    result matches the CPU reference of the planes the CPU wrote within one code value."""
    fmt = BY_NAME[format]
    depth = FORMAT_DEPTHS[format]
    frame = linear_frame(fmt, YUV_WIDTH, YUV_HEIGHT, disjoint=False)
    size = frame.object_sizes[0]
    exporter = _yuv_source(target, source, size)
    (y_plane, uv_plane) = frame.layouts
    layout = YuvLayout(
        depth=depth,
        width=YUV_WIDTH,
        height=YUV_HEIGHT,
        y_offset=y_plane.offset,
        y_pitch=y_plane.row_pitch,
        uv_offset=uv_plane.offset,
        uv_pitch=uv_plane.row_pitch,
    )
    y, uv = random_planes(np.random.default_rng(seed), depth, YUV_WIDTH, YUV_HEIGHT)
    packed = YuvLayout.packed(depth, YUV_WIDTH, YUV_HEIGHT)
    tight = bytes_from_planes(y, uv, packed, fill=0)
    planes = (tight[: packed.uv_offset], tight[packed.uv_offset :])
    what = f"the {FORMAT_NAMES[format]} frame the CPU wrote"
    with yuv_device.scope():
        if exporter is None:
            request.node.user_properties.append(("driver_answer", f"host-visible buffer: {frame.describe()}"))
            buffer, mapped = host_storage(yuv_device, size)
            frame.write(0, mapped, planes)
            problem = _conversion_one(yuv_device, buffer, layout, y, uv, YuvMatrix(matrix), what)
            assert problem is None, problem
            return
        try:
            with exporter.allocate(size) as dmabuf:
                request.node.user_properties.append(
                    ("driver_answer", f"from {exporter.name}: {frame.describe()}")
                )
                with dmabuf.mapped(READ | WRITE) as raw:
                    frame.write(0, raw, planes)
                support = buffer_support(target.physical, DMA_BUF)
                shared = import_buffer(yuv_device, dmabuf.dup(), size, DMA_BUF, support)
                problem = _conversion_one(yuv_device, shared.buffer, layout, y, uv, YuvMatrix(matrix), what)
                assert problem is None, problem
        finally:
            exporter.close()


def _conversion_one(
    device: Device,
    buffer: Buffer,
    layout: YuvLayout,
    y: np.ndarray,
    uv: np.ndarray,
    matrix: YuvMatrix,
    what: str,
) -> str | None:
    got = gpu_rgba(device, buffer, layout, matrix)
    problem = compare_rgba(got, reference_rgba(y, uv, layout.depth, matrix))
    if problem:
        return f"the GPU's {matrix.value} RGBA of {what} differs from the CPU reference: {problem}"
    return None


# --- invalid imports -------------------------------------------------------------------------------


@pytest.mark.parametrize("invalid", INVALID_IMPORTS)
def test_modifier_invalid(request: pytest.FixtureRequest, target: Target, device: Device, invalid: str):
    """An explicit layout whose row pitch is smaller than a row, a dma-buf smaller than its layout, and a
    modifier the driver never listed must each end in an error from the driver."""
    fmt = NEGATIVE_FORMAT
    _listed(target, fmt, LINEAR)
    row_bytes = fmt.planes[0].row_bytes(WIDTH)
    dma_buf = "VK_EXT_external_memory_dma_buf" in device.extensions
    attempt: dict[str, Any] = {
        "case": invalid,
        "device_uuid": device_uuid(target.physical).hex(),
        "extensions": sorted(device.extensions),
        "format": fmt.name,
        "width": WIDTH,
        "height": HEIGHT,
        "handle": "dma-buf" if dma_buf else "opaque-fd",
        "row_pitch": 3 * 256,  # enough for a 520-byte row, and aligned for any driver
    }
    if invalid == "pitch-too-small":
        attempt["row_pitch"] = 256
        what = f"an explicit LINEAR layout with rowPitch 256 for {row_bytes}-byte rows"
    elif invalid == "unlisted-modifier":
        listed_values = {m.value for m in listed(target.physical, fmt)}
        attempt["modifier"] = next(m for m in UNLISTED_CANDIDATES if m not in listed_values)
        what = f"{modifier_name(attempt['modifier'])}, which the driver does not list for {fmt.name}"
    else:
        _handle(target, "dma-buf")
        exporter = _cpu_exporter().name
        attempt.update(exporter=exporter, dmabuf_size=4096)
        what = f"a 4096-byte dma-buf from {exporter} for a LINEAR layout of {3 * 256 * HEIGHT} bytes"
    judge_invalid_import(request.node, what, run_invalid(attempt))

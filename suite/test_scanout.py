"""Scanout, the output end: a buffer the display scans out, imported into Vulkan, written by the GPU, and
read back from outside the machine.

A buffer the card can show (its own dumb buffer, or a GBM buffer object allocated for SCANOUT |
LINEAR) is exported as a dma-buf and imported into Vulkan as a LINEAR B8G8R8A8_UNORM image with the
buffer's own pitch (XRGB8888 in memory). The GPU writes a seeded pattern into the image; the buffer
becomes a framebuffer (ADDFB2, with its modifier where the card takes modifiers), the CRTC shows it
in the connected connector's preferred mode (SETCRTC) and DIRTYFB tells the driver. Then the host
takes a screendump through QEMU's monitor, and every pixel of the screen must be the pattern's.
The GPU then writes a second pattern into the same image, and after DIRTYFB only, the screen must
show it: the display scans out the memory Vulkan writes, with no copy in the guest.

Runs only where the screen can be read back from outside: the qemu runner's host service
(vkzc/runners/host_service.py). The screendumps stay in results/<cell>/screendumps/ as evidence.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from vkzc.conformance import capabilities
from vkzc.conformance.external import DMA_BUF
from vkzc.conformance.image_transfer import EXTERNAL, FOREIGN, FOREIGN_EXTENSION, upload
from vkzc.conformance.modifier_images import (
    TRANSFER,
    ImageSpec,
    ModifierImage,
    PlaneLayout,
    import_memory,
    placement_problem,
)
from vkzc.conformance.modifier_queries import query
from vkzc.conformance.scanout import (
    DISPLAYS,
    DRM_FORMAT_NAME,
    FORMAT,
    find_output,
    mode_id,
    read_ppm,
    screen_difference,
    shown,
)
from vkzc.conformance.target import Target
from vkzc.display.buffers import ALLOCATORS
from vkzc.display.kms import DRM_CAP_ADDFB2_MODIFIERS, DRM_FORMAT_XRGB8888
from vkzc.probe.modifiers import LINEAR
from vkzc.runners import host_service
from vkzc.vk.device import Device
from vkzc.vk.formats import MODIFIER_EXTENSION, ExternalMemoryFeatures

pytestmark = pytest.mark.path("scanout")

REQUIRED_EXTENSIONS = (
    "VK_KHR_external_memory",
    "VK_KHR_external_memory_fd",
    "VK_EXT_external_memory_dma_buf",
    MODIFIER_EXTENSION,
)
SECOND = 0x5CA9_0017  # xor'ed into the seed for the second frame


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One case per display and buffer kind; the id carries the mode the display offers here."""
    if "buffer" not in metafunc.fixturenames:
        return
    rows = [
        (display, buffer, f"{display}-{buffer}-{DRM_FORMAT_NAME}-{mode_id(driver)}")
        for display, driver in DISPLAYS.items()
        for buffer in ALLOCATORS
    ]
    metafunc.parametrize(("display", "buffer"), [r[:2] for r in rows], ids=[r[2] for r in rows])


@pytest.fixture(scope="module")
def device(target: Target) -> Iterator[Device]:
    # First: without a screen to read back, nothing here can be proven, whatever the driver has.
    _skip_if(capabilities.display_readback_unavailable())
    for extension in REQUIRED_EXTENSIONS:
        reason = capabilities.missing_extension(target, extension)
        if reason:
            pytest.skip(reason)
    optional = (FOREIGN_EXTENSION,) if FOREIGN_EXTENSION in target.physical.extensions else ()
    with Device(target.physical, extensions=(*REQUIRED_EXTENSIONS, *optional)) as made:
        yield made


def _skip_if(reason: str | None) -> None:
    if reason:
        pytest.skip(reason)


def _linear_import(target: Target) -> ExternalMemoryFeatures:
    what = f"{FORMAT.name} LINEAR images imported from DMA_BUF"
    answer = query(target.physical, FORMAT, LINEAR, TRANSFER, DMA_BUF)
    _skip_if(capabilities.modifier_image_unsupported(target, what, answer, export=False))
    return ExternalMemoryFeatures(features=answer.external.features if answer.external else 0)


def test_scanout(
    request: pytest.FixtureRequest, target: Target, device: Device, display: str, buffer: str, seed: int
):
    """The GPU's frame on the screen, pixel for pixel, read back from outside; then a second frame
    into the same imported memory, shown after DIRTYFB alone."""
    driver = DISPLAYS[display]
    _skip_if(capabilities.display_card_unavailable(display, driver))
    if buffer == "gbm":
        _skip_if(capabilities.gbm_scanout_unavailable())
    support = _linear_import(target)
    found = find_output(driver)
    if found is None:
        pytest.skip(capabilities.no_connected_output(display, driver))
    card, output = found
    family = FOREIGN if FOREIGN_EXTENSION in device.extensions else EXTERNAL
    name = request.node.name.replace("[", "-").rstrip("]")
    with ExitStack() as stack:
        stack.callback(card.close)
        try:
            card.set_master()
        except OSError as e:
            pytest.skip(capabilities.drm_master_refused(str(card.node), e))
        stack.callback(card.drop_master)  # the display is free again for whoever comes next
        width, height = output.mode.width, output.mode.height
        made = stack.enter_context(ALLOCATORS[buffer](card, width, height))
        layout = PlaneLayout(offset=made.offset, size=made.pitch * height, row_pitch=made.pitch)
        spec = ImageSpec(format=FORMAT, width=width, height=height, usage=TRANSFER)
        image = ModifierImage(device, spec, handle_type=DMA_BUF, explicit=(LINEAR, (layout,)))
        import_memory(image, support, [made.dmabuf.dup()])
        problem = placement_problem(image, (layout,))
        assert problem is None, problem

        first = FORMAT.pattern(seed, width, height)
        upload(device, image, FORMAT, (width, height), first, release_to=family)
        modifiers = card.capability(DRM_CAP_ADDFB2_MODIFIERS) != 0 and made.modifier is not None
        fb = card.add_framebuffer(
            width=width,
            height=height,
            format=DRM_FORMAT_XRGB8888,
            handle=made.handle,
            pitch=made.pitch,
            offset=made.offset,
            modifier=made.modifier if modifiers else None,
        )
        stack.callback(card.remove_framebuffer, fb)
        card.show(output, fb)
        card.dirty(fb, width, height)
        assert card.scanned_out(output) == fb, (
            f"CRTC {output.crtc_id} does not show framebuffer {fb} after SETCRTC"
        )
        request.node.user_properties.append(
            (
                "driver_answer",
                f"{output.describe()}; {made.describe()}; ADDFB2 {'with' if modifiers else 'without'} "
                f"modifiers; screendumps {host_service.SCREENDUMPS}/{name}-{{first,second}}.ppm",
            )
        )
        screen = read_ppm(host_service.screendump(f"{name}-first"))
        problem = screen_difference(screen, shown(first[0], width, height), "the GPU's first frame")
        assert problem is None, problem

        # UNDEFINED as the old layout: the display's copy is not acquired back, it is overwritten.
        second = FORMAT.pattern(seed ^ SECOND, width, height)
        upload(device, image, FORMAT, (width, height), second, release_to=family)
        card.dirty(fb, width, height)
        screen = read_ppm(host_service.screendump(f"{name}-second"))
        problem = screen_difference(
            screen, shown(second[0], width, height), "the GPU's second frame, written into the same image"
        )
        assert problem is None, problem

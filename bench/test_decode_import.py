"""Import reuse for decoded frames: what a player pays per frame to hand a decoder's dma-buf surface to
Vulkan, importing it afresh each frame or finding the import it made when the pool first handed out
that surface (the cache keyed by the dma-buf's inode, vkzc/decode/vulkan_import.py).

fresh   each frame: import the surface's dma-buf(s) by the route (the images or buffers, the memory,
        the binding), freed after the frame
cached  each frame: fstat the surface's dma-buf(s) and find the import

A 1080p NV12 frame (coded height 1088) in a udmabuf or dma-heap buffer laid out like an Intel iHD
surface. Before timing, the GPU reads the frame through the import and must see the CPU's bytes.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Timed

from vkzc.bench.figures import CACHED, FRESH, IMPORT
from vkzc.bench.routes import Unsupported
from vkzc.conformance.linear_planes import CPU_EXPORTERS
from vkzc.conformance.target import Target
from vkzc.decode.layouts import BY_NAME, place
from vkzc.decode.planes import SemiPlanar
from vkzc.decode.sources import Surface
from vkzc.decode.vulkan_import import ImportCache, import_frame
from vkzc.decode.vulkan_import import Unsupported as RouteUnsupported
from vkzc.vk.device import Device

WIDTH, HEIGHT = 1920, 1080
LAYOUT = BY_NAME["intel-ihd"]


def _frame(seed: int) -> SemiPlanar:
    rng = np.random.default_rng(seed)
    return SemiPlanar(
        depth=8,
        width=WIDTH,
        height=HEIGHT,
        y=rng.integers(0, 256, WIDTH * HEIGHT, dtype=np.uint8),
        uv=rng.integers(0, 256, WIDTH * HEIGHT // 2, dtype=np.uint8),
    )


def _surface(frame: SemiPlanar) -> Surface:
    made = [make() for make in CPU_EXPORTERS.values()]
    exporter = next((e for e in made if e.available() is None), None)
    if exporter is None:
        raise Unsupported("; ".join(f"{e.name}: {e.available()}" for e in made))
    surface = Surface(exporter, place(LAYOUT, 8, WIDTH, HEIGHT))
    surface.write(frame)
    return surface


@pytest.mark.parametrize("route", ["two-layer", "buffer"])
@pytest.mark.parametrize("mode", [FRESH, CACHED])
def test_decode_import_cost(
    target: Target, device: Device, timed: Timed, mode: str, route: str, seed: int
) -> None:
    frame = _frame(seed)
    surface = _surface(frame)
    try:
        drm = surface.descriptor()
        cache = ImportCache(target, device, route)
        try:
            with device.scope():
                got = import_frame(target, device, drm, 8, route).read()
        except RouteUnsupported as e:
            raise Unsupported(str(e)) from None
        assert np.array_equal(got[0], frame.y) and np.array_equal(got[1], frame.uv), (
            "the GPU read other bytes through the import than the CPU wrote"
        )
        if mode == FRESH:

            def one() -> None:
                with device.scope():
                    import_frame(target, device, drm, 8, route)

        else:
            first = cache.get(drm, 8)
            assert cache.get(drm, 8) is first, "the cache imported the same surface twice"

            def one() -> None:
                cache.get(drm, 8)

        size = sum(surface.placement.object_sizes)
        timed(group=IMPORT, path=mode, variant=f"nv12-{route}", size=size, target=one)
    finally:
        surface.close()

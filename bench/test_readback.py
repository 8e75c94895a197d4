"""Readback: N bytes a GPU command wrote, consumed by the CPU (every byte read once).

staged        vkCmdCopyBuffer from DEVICE_LOCAL memory into a HOST_VISIBLE staging buffer
              (HOST_CACHED where offered), wait, memcpy into an ordinary array, consume it
mapped        consume straight from the mapping of each HOST_VISIBLE memory type (invalidate
              where the type is not coherent): uncached memory is slow to read, which is the point
host-pointer  consume the caller's own array, which the GPU wrote through the import
dma-buf       consume the mmap of a udmabuf or dma-heap buffer, inside DMA_BUF_IOCTL_SYNC
              (skips where the kernel has no such exporter)

Each round starts, untimed, with the CPU reading an ordinary array (the ceiling the round's ratio
is taken against, measured alongside) and the GPU writing the whole buffer (vkCmdFillBuffer). Before it is
timed, each configuration has the fill shader write the seeded pattern and the CPU compare every
word it consumes.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TARGET, Timed, sizes

from vkzc.bench.catalog import RouteSpec, open_route, route_specs
from vkzc.bench.figures import READBACK
from vkzc.bench.routes import gpu_writer
from vkzc.bench.verify import check_readback
from vkzc.bench.work import PRODUCED, consume
from vkzc.conformance.ids import size_id
from vkzc.conformance.kernels import Kernels
from vkzc.vk.device import Device


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    specs = route_specs(metafunc.config.stash[TARGET].memory_types)
    metafunc.parametrize("spec", specs, ids=[s.id for s in specs])
    metafunc.parametrize("size", sizes(metafunc.config), ids=size_id)


def test_readback(
    device: Device, kernels: Kernels, timed: Timed, spec: RouteSpec, size: int, seed: int
) -> None:
    route = open_route(device, spec, size, READBACK)
    problem = check_readback(kernels, route, seed)
    assert problem is None, problem
    writer = gpu_writer(device, route, PRODUCED * 0x01010101)
    ordinary = np.full(route.size, PRODUCED, np.uint8)  # reading it is the ceiling, timed between rounds

    timed(
        group=READBACK,
        path=route.path,
        variant=route.variant,
        size=route.size,
        target=lambda: route.readback(consume),
        setup=writer.run,
        ceiling=lambda: consume(ordinary),
    )

"""Upload: N bytes produced by the CPU, ready for a shader to read.

staged        produce into an ordinary array, memcpy into a HOST_VISIBLE staging buffer,
              vkCmdCopyBuffer into DEVICE_LOCAL memory, wait for the fence
mapped        produce straight into the mapping of each HOST_VISIBLE memory type (flush where
              the type is not coherent)
host-pointer  produce into the caller's own array, imported once with VK_EXT_external_memory_host
dma-buf       produce into the mmap of a udmabuf or dma-heap buffer, inside DMA_BUF_IOCTL_SYNC,
              the buffer imported once (skips where the kernel has no such exporter)

Between rounds, the same producer fills an ordinary array (memset): the ceiling the round's ratio
is taken against, measured alongside so that the machine's load weighs on both alike. Before it is
timed, each configuration carries the seeded pattern the same way and the verify shader checks
every word on the GPU: a path that delivers wrong data fails instead of giving a figure.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TARGET, Timed, sizes

from vkzc.bench.catalog import RouteSpec, open_route, route_specs
from vkzc.bench.figures import UPLOAD
from vkzc.bench.verify import check_upload
from vkzc.bench.work import produce
from vkzc.conformance.ids import size_id
from vkzc.conformance.kernels import Kernels
from vkzc.vk.device import Device


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    specs = route_specs(metafunc.config.stash[TARGET].memory_types)
    metafunc.parametrize("spec", specs, ids=[s.id for s in specs])
    metafunc.parametrize("size", sizes(metafunc.config), ids=size_id)


def test_upload(
    device: Device, kernels: Kernels, timed: Timed, spec: RouteSpec, size: int, seed: int
) -> None:
    route = open_route(device, spec, size, UPLOAD)
    problem = check_upload(kernels, route, seed)
    assert problem is None, problem
    ordinary = np.empty(route.size, np.uint8)  # memset here is the ceiling, timed between the rounds

    timed(
        group=UPLOAD,
        path=route.path,
        variant=route.variant,
        size=route.size,
        target=lambda: route.upload(produce),
        ceiling=lambda: produce(ordinary),
    )

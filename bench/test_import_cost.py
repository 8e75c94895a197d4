"""Import cost: what a pipeline pays per frame to use a buffer it receives as a file descriptor.

fresh   each frame: dup the opaque fd, create a buffer, import the memory, bind; free both after
cached  each frame: fstat the fd and find the import made the first time

The exporter (the decoder's side) exports its memory once with vkGetMemoryFdKHR. Before timing,
the fill shader writes the pattern through the exporter's buffer and the verify shader reads it
through the import: the import must be the same memory, not a copy.
"""

from __future__ import annotations

import pytest
from conftest import Timed, import_sizes

from vkzc.bench.figures import CACHED, FRESH, IMPORT
from vkzc.bench.imports import Exported, ImportCache
from vkzc.conformance.ids import size_id
from vkzc.conformance.kernels import Kernels
from vkzc.vk.device import Device
from vkzc.vk.resources import Buffer


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    metafunc.parametrize("size", import_sizes(metafunc.config), ids=size_id)


@pytest.mark.parametrize("mode", [FRESH, CACHED])
def test_import_cost(device: Device, kernels: Kernels, timed: Timed, mode: str, size: int, seed: int) -> None:
    exported = Exported(device, size)
    words = size // 4
    kernels.fill(exported.shared.buffer, seed=seed, first=0, count=words)
    cache = ImportCache()

    def check(buffer: Buffer) -> None:
        found = kernels.verify(buffer, seed=seed, first=0, count=words)
        assert found.count == 0, (
            f"the import sees {found.count} words differ from the export (first {found.first})"
        )

    if mode == FRESH:
        with device.scope():
            check(exported.import_once().buffer)

        def frame() -> None:
            with device.scope():
                exported.import_once()

    else:
        check(cache.get(exported).buffer)
        assert cache.get(exported) is cache.get(exported), "the cache imported the same buffer twice"

        def frame() -> None:
            cache.get(exported)

    timed(group=IMPORT, path=mode, variant="opaque-fd", size=size, target=frame)

"""The limit: the CPU producing, copying and consuming bytes in ordinary memory (numpy's C loops).

No path can beat these: an upload at best produces its bytes once where the GPU reads them (memset),
a readback at best consumes them once where the GPU wrote them (read), and memcpy is what a staged
path adds. Every other figure is published as a fraction of them.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Timed, sizes

from vkzc.bench.figures import LIMIT, MEMCPY, MEMSET, READ
from vkzc.bench.work import PRODUCED, consume, produce
from vkzc.conformance.ids import size_id


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    metafunc.parametrize("size", sizes(metafunc.config), ids=size_id)


@pytest.mark.parametrize("operation", [MEMSET, MEMCPY, READ])
def test_limit(timed: Timed, operation: str, size: int) -> None:
    source = np.full(size, PRODUCED, np.uint8)
    destination = np.empty(size, np.uint8)
    operations = {
        MEMSET: lambda: produce(destination),
        MEMCPY: lambda: np.copyto(destination, source),
        READ: lambda: consume(source),
    }
    timed(group=LIMIT, path=operation, size=size, target=operations[operation])

"""Fault injection: cases that crash or hang the process on purpose, on the real driver, to prove
that a crash or a hang costs one case and never the run or its results (README, reliability).

Collected only with --vkzc-fault-injection; their path is never shown in the tables.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from vkzc.conformance.kernels import STORAGE
from vkzc.vk.compute import ComputeProgram
from vkzc.vk.device import Device
from vkzc.vk.memory import HOST_VISIBLE, select_memory_type
from vkzc.vk.resources import Buffer

pytestmark = pytest.mark.path("fault-injection")


def _mapped_words(device: Device, words: int) -> tuple[Buffer, np.ndarray]:
    buffer = Buffer(device, words * 4, STORAGE)
    memory_type = select_memory_type(device.memory_types, buffer.requirements.type_bits, HOST_VISIBLE)
    assert memory_type is not None
    memory = device.allocate(buffer.requirements.size, memory_type)
    buffer.bind(memory)
    return buffer, memory.map().view(np.uint32)


@pytest.mark.parametrize("signal_name", ["SIGSEGV", "SIGABRT", "SIGBUS"])
def test_crash(device: Device, signal_name: str):
    """Dies by a signal while the driver holds mapped memory, as a driver bug would kill it."""
    _, words = _mapped_words(device, 1024)
    words[:] = 1
    os.kill(os.getpid(), getattr(signal, signal_name))


def test_gpu_hang(device: Device):
    """Days of shader work: the fence wait times out, the case is a timeout, the process ends."""
    buffer, _ = _mapped_words(device, 1)
    hang = ComputeProgram(device, "hang", bindings=1)
    hang.run([buffer], seed=0, first=0, count=60000, timeout_s=2, groups=(65535, 65535, 1))


def test_cpu_hang():
    """Stuck without a fence to time out (as in a driver deadlock): the watchdog ends it."""
    time.sleep(3600)

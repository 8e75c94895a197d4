"""The three pattern shaders on one device: fill, verify (count mismatches) and transform in place."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vkzc.vk.binding import load
from vkzc.vk.compute import ComputeProgram
from vkzc.vk.device import Device
from vkzc.vk.memory import HOST_COHERENT, HOST_VISIBLE, select_memory_type
from vkzc.vk.resources import Buffer

vk = load()

STORAGE = vk.VK_BUFFER_USAGE_STORAGE_BUFFER_BIT
_NONE_BAD = 0xFFFFFFFF


@dataclass(frozen=True, kw_only=True)
class Mismatches:
    count: int
    first: int | None


class Kernels:
    SHADERS = ("fill", "verify", "transform")

    def __init__(self, device: Device) -> None:
        self.device = device
        self.fill_program = ComputeProgram(device, "fill", bindings=1)
        self.verify_program = ComputeProgram(device, "verify", bindings=2)
        self.transform_program = ComputeProgram(device, "transform", bindings=1)

    def fill(self, buffer: Buffer, *, seed: int, first: int, count: int) -> None:
        self.fill_program.run([buffer], seed=seed, first=first, count=count)

    def transform(self, buffer: Buffer, *, key: int, first: int, count: int) -> None:
        self.transform_program.run([buffer], seed=key, first=first, count=count)

    def verify(self, buffer: Buffer, *, seed: int, first: int, count: int) -> Mismatches:
        """What the GPU reads in the region, compared with the pattern on the GPU itself."""
        with self.device.scope():
            result = Buffer(self.device, 8, STORAGE)
            memory_type = select_memory_type(
                self.device.memory_types, result.requirements.type_bits, HOST_VISIBLE | HOST_COHERENT
            )
            if memory_type is None:
                raise RuntimeError("no HOST_VISIBLE|HOST_COHERENT memory type for an 8-byte result buffer")
            memory = self.device.allocate(result.requirements.size, memory_type)
            result.bind(memory)
            words = memory.map(0, 8).view(np.uint32)
            words[:] = (0, _NONE_BAD)
            self.verify_program.run([buffer, result], seed=seed, first=first, count=count)
            count_bad, first_bad = int(words[0]), int(words[1])
        return Mismatches(count=count_bad, first=None if first_bad == _NONE_BAD else first_bad)

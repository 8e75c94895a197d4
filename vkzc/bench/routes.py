"""The ways bytes cross between an array the CPU works on and a buffer the GPU works on.

A route has `cpu`, the array a producer fills (upload) or a consumer reads (readback), and `gpu`,
the buffer a shader reads or writes. `upload(produce)` and `readback(consume)` run the CPU's part
and whatever the path adds to it: for the staged path a memcpy and a GPU copy, waited on; for
the zero-copy paths at most a flush, an invalidate or a dma-buf sync, since `cpu` and `gpu` are
the same memory. catalog.py makes them on a device.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from vkzc.bench import figures
from vkzc.bench.replay import Replay, barrier
from vkzc.dmabuf import sync
from vkzc.dmabuf.buffer import DmaBuf
from vkzc.vk.binding import load
from vkzc.vk.device import Device
from vkzc.vk.memory import HOST_COHERENT, Memory
from vkzc.vk.resources import Buffer

vk = load()

GPU_USAGE = (
    vk.VK_BUFFER_USAGE_STORAGE_BUFFER_BIT
    | vk.VK_BUFFER_USAGE_TRANSFER_SRC_BIT
    | vk.VK_BUFFER_USAGE_TRANSFER_DST_BIT
)
Bytes = npt.NDArray[np.uint8]
Produce = Callable[[Bytes], object]
T = TypeVar("T")


class Unsupported(Exception):
    """The device cannot offer this route; the message names what it lacks (a benchmark skips)."""


class Route:
    """A zero-copy route through a Vulkan mapping or a host-pointer import: `cpu` is the very
    memory `gpu` is bound to, made visible across with a flush or an invalidate where it is not
    coherent."""

    def __init__(
        self, *, path: str, variant: str, gpu: Buffer, memory: Memory, cpu: Bytes, handle_types: int = 0
    ) -> None:
        self.path = path
        self.variant = variant
        self.gpu = gpu
        self.memory = memory  # what `gpu` is bound to; verification binds more buffers to it
        self.cpu = cpu
        self.handle_types = handle_types  # external handle types a buffer bound to `memory` needs
        self.coherent = memory.type.has(HOST_COHERENT)

    @property
    def size(self) -> int:
        return int(self.cpu.size)

    def upload(self, produce: Produce) -> None:
        produce(self.cpu)
        if not self.coherent:
            self.memory.flush(0, self.memory.size)

    def readback(self, consume: Callable[[Bytes], T]) -> T:
        if not self.coherent:
            self.memory.invalidate(0, self.memory.size)
        return consume(self.cpu)


class StagedRoute(Route):
    """The copy every zero-copy path is measured against: the CPU works on an ordinary array,
    a memcpy moves it to or from a HOST_VISIBLE staging buffer, and vkCmdCopyBuffer moves it
    between that buffer and DEVICE_LOCAL memory."""

    def __init__(self, device: Device, size: int, *, gpu: Buffer, memory: Memory, staging: Buffer) -> None:
        super().__init__(
            path=figures.STAGED, variant="", gpu=gpu, memory=memory, cpu=np.empty(size, np.uint8)
        )
        assert staging.memory is not None
        self.staging_memory = staging.memory
        self.staging = staging.memory.map()[:size]
        self.staging_coherent = staging.memory.type.has(HOST_COHERENT)
        region = [vk.VkBufferCopy(srcOffset=0, dstOffset=0, size=size)]
        transfer, compute = vk.VK_PIPELINE_STAGE_TRANSFER_BIT, vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT
        shader_access = vk.VK_ACCESS_SHADER_READ_BIT | vk.VK_ACCESS_SHADER_WRITE_BIT

        def upload(cmd: Any) -> None:
            # The previous round's shader may still read the buffer the copy overwrites.
            barrier(cmd, compute, shader_access, transfer, vk.VK_ACCESS_TRANSFER_WRITE_BIT)
            vk.vkCmdCopyBuffer(cmd, staging.handle, gpu.handle, 1, region)
            barrier(cmd, transfer, vk.VK_ACCESS_TRANSFER_WRITE_BIT, compute, shader_access)

        def readback(cmd: Any) -> None:
            # Whatever wrote the buffer (a shader, or vkCmdFillBuffer) must land before the copy.
            writers = vk.VK_ACCESS_SHADER_WRITE_BIT | vk.VK_ACCESS_TRANSFER_WRITE_BIT
            barrier(cmd, compute | transfer, writers, transfer, vk.VK_ACCESS_TRANSFER_READ_BIT)
            vk.vkCmdCopyBuffer(cmd, gpu.handle, staging.handle, 1, region)
            host = vk.VK_PIPELINE_STAGE_HOST_BIT
            barrier(cmd, transfer, vk.VK_ACCESS_TRANSFER_WRITE_BIT, host, vk.VK_ACCESS_HOST_READ_BIT)

        self._upload = Replay(device, upload)
        self._readback = Replay(device, readback)

    def upload(self, produce: Produce) -> None:
        produce(self.cpu)
        np.copyto(self.staging, self.cpu)
        if not self.staging_coherent:
            self.staging_memory.flush(0, self.staging_memory.size)
        self._upload.run()

    def readback(self, consume: Callable[[Bytes], T]) -> T:
        self._readback.run()
        if not self.staging_coherent:
            self.staging_memory.invalidate(0, self.staging_memory.size)
        np.copyto(self.cpu, self.staging)
        return consume(self.cpu)


class DmaBufRoute(Route):
    """A dma-buf from a kernel exporter, imported into Vulkan; the CPU works on the dma-buf's own
    mmap, inside DMA_BUF_IOCTL_SYNC brackets (where a non-coherent exporter flushes or invalidates)."""

    def __init__(self, *, dmabuf: DmaBuf, gpu: Buffer, memory: Memory, cpu: Bytes, handle_types: int) -> None:
        super().__init__(
            path=figures.DMA_BUF,
            variant=dmabuf.exporter,
            gpu=gpu,
            memory=memory,
            cpu=cpu,
            handle_types=handle_types,
        )
        self.fd = dmabuf.fd

    def upload(self, produce: Produce) -> None:
        with sync.cpu_access(self.fd, sync.WRITE):
            produce(self.cpu)

    def readback(self, consume: Callable[[Bytes], T]) -> T:
        with sync.cpu_access(self.fd, sync.READ):
            return consume(self.cpu)


def gpu_writer(device: Device, route: Route, value: int) -> Replay:
    """What a readback round reads: the GPU writes the whole buffer (vkCmdFillBuffer) and the writes
    are made visible to the host and to a following copy."""

    def record(cmd: Any) -> None:
        vk.vkCmdFillBuffer(cmd, route.gpu.handle, 0, route.size, value)
        barrier(
            cmd,
            vk.VK_PIPELINE_STAGE_TRANSFER_BIT,
            vk.VK_ACCESS_TRANSFER_WRITE_BIT,
            vk.VK_PIPELINE_STAGE_HOST_BIT | vk.VK_PIPELINE_STAGE_TRANSFER_BIT,
            vk.VK_ACCESS_HOST_READ_BIT | vk.VK_ACCESS_TRANSFER_READ_BIT,
        )

    return Replay(device, record)

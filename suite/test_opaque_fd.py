"""Opaque-fd sharing (VK_KHR_external_memory_fd, OPAQUE_FD): one allocation, seen by two devices.

The memory of a storage buffer is exported with vkGetMemoryFdKHR and imported by a second
VkDevice, by a device of a second VkInstance, and by a device in another process (the fd sent
over a UNIX socket). Each side's GPU writes the pattern and the other side's GPU checks it:
both saw the same memory. OPAQUE_FD needs the same driver and device on both sides, and works
on drivers without dma-buf (NVIDIA's, lavapipe without /dev/udmabuf).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from vkzc.conformance import capabilities
from vkzc.conformance.external import (
    FD_EXTENSIONS,
    OPAQUE_FD,
    SharedBuffer,
    buffer_support,
    device_uuid,
    export_buffer,
    handover,
    import_buffer,
    memory_fd,
    same_device,
)
from vkzc.conformance.ids import KiB, MiB, size_id
from vkzc.conformance.kernels import Kernels
from vkzc.conformance.peer import run_peer
from vkzc.conformance.target import Target
from vkzc.vk.device import Device
from vkzc.vk.formats import ExternalMemoryFeatures
from vkzc.vk.instance import Instance

pytestmark = pytest.mark.path("opaque-fd")
DEVICE_EXTENSIONS = FD_EXTENSIONS
SIZES = (4 * KiB, 1 * MiB, 64 * MiB)
PEERS = ("second-device", "second-instance", "cross-process")


@pytest.fixture(scope="module")
def support(target: Target, device: Device) -> ExternalMemoryFeatures:
    found = buffer_support(target.physical, OPAQUE_FD)
    reason = capabilities.external_memory_unsupported(target, "OPAQUE_FD", found, export=True)
    if reason:
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def second_device(target: Target, device: Device) -> Iterator[tuple[Device, Kernels]]:
    with Device(target.physical, extensions=FD_EXTENSIONS) as other:
        yield other, Kernels(other)


@pytest.fixture(scope="module")
def second_instance(target: Target, device: Device) -> Iterator[tuple[Device, Kernels]]:
    with Instance() as instance:
        physical = same_device(instance, device_uuid(target.physical))
        with Device(physical, extensions=FD_EXTENSIONS) as other:
            yield other, Kernels(other)


@pytest.mark.parametrize("size", SIZES, ids=size_id)
@pytest.mark.parametrize("peer", PEERS)
def test_opaque_fd(
    request: pytest.FixtureRequest,
    target: Target,
    device: Device,
    kernels: Kernels,
    support: ExternalMemoryFeatures,
    peer: str,
    size: int,
    seed: int,
):
    reason = capabilities.storage_range_too_small(target, size)
    if reason:
        pytest.skip(reason)
    exported = export_buffer(device, size, OPAQUE_FD, support)
    fd = memory_fd(device, exported.memory, OPAQUE_FD)
    back = seed ^ 0x5A5A5A5A
    if peer == "cross-process":
        try:
            problem = _across_processes(target, kernels, exported, fd, seed=seed, back=back)
        finally:
            os.close(fd)
        assert problem is None, problem
        return
    other, other_kernels = request.getfixturevalue(peer.replace("-", "_"))
    with other.scope():
        # The importer must name the exporter's memory type and allocation size (same device).
        imported = import_buffer(
            other,
            fd,
            size,
            OPAQUE_FD,
            support,
            memory_type=other.memory_types[exported.memory.type.index],
            allocation_size=exported.memory.size,
        )
        problem = handover(kernels, exported, other_kernels, imported, seed=seed) or handover(
            other_kernels, imported, kernels, exported, seed=back
        )
        assert problem is None, problem


def _across_processes(
    target: Target, kernels: Kernels, exported: SharedBuffer, fd: int, *, seed: int, back: int
) -> str | None:
    kernels.fill(exported.buffer, seed=seed, first=0, count=exported.words)
    answer = run_peer(
        {
            "op": "exchange",
            "device_uuid": device_uuid(target.physical).hex(),
            "extensions": list(FD_EXTENSIONS),
            "handle_type": "OPAQUE_FD",
            "size": exported.buffer.size,
            "memory_type": exported.memory.type.index,
            "allocation_size": exported.memory.size,
            "verify_seed": seed,
            "fill_seed": back,
        },
        fd,
    )
    if answer.reply is None or "error" in answer.reply:
        what = answer.reply["error"] if answer.reply else answer.tail()
        return f"the peer process {answer.ending}: {what}"
    if answer.reply["mismatches"]:
        return (
            f"the peer's GPU sees {answer.reply['mismatches']} of {exported.words} words differ from "
            f"what this process's GPU wrote (first {answer.reply['first']})"
        )
    found = kernels.verify(exported.buffer, seed=back, first=0, count=exported.words)
    if found.count:
        return f"{found.count} words differ from what the peer's GPU wrote (first {found.first})"
    return None

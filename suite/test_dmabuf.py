"""dma-buf buffers (VK_EXT_external_memory_dma_buf): memory from real kernel exporters, imported by Vulkan.

Each exporter (udmabuf, DMA heaps, Vulkan itself, vgem and virtio-gpu dumb buffers, GBM, V4L2)
allocates a dma-buf; the CPU writes the pattern through the dma-buf's own mapping (inside
DMA_BUF_IOCTL_SYNC brackets), a compute shader checks it through the imported VkBuffer and
transforms it, and the CPU reads the result back through the mapping: one memory, no copy.
An exporter this machine lacks is a skip saying why (no /dev/udmabuf, no vgem, ...).

Invalid imports run in a peer process: a driver may crash on them, and that is recorded as the
driver's answer, as is a driver that accepts them (a finding, not a harness failure).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import numpy as np
import pytest

from vkzc.conformance import capabilities
from vkzc.conformance.external import (
    DMA_BUF,
    DMA_BUF_EXTENSIONS,
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
from vkzc.conformance.implicit_sync import SEMAPHORE_EXTENSIONS, wait_sync_file
from vkzc.conformance.kernels import Kernels
from vkzc.conformance.negative import judge_invalid_import
from vkzc.conformance.peer import run_peer
from vkzc.conformance.target import Target
from vkzc.dmabuf.buffer import DmaBuf, Exporter
from vkzc.dmabuf.registry import NAMES, exporters
from vkzc.dmabuf.sync import READ, WRITE, export_sync_file
from vkzc.pattern import mismatch, pattern, transform
from vkzc.vk.device import Device
from vkzc.vk.formats import ExternalMemoryFeatures
from vkzc.vk.instance import Instance

pytestmark = pytest.mark.path("dma-buf")
DEVICE_EXTENSIONS = DMA_BUF_EXTENSIONS
# 100000 bytes is not a page multiple: the import is smaller than the (page-rounded) dma-buf.
SIZES = (4 * KiB, 100_000, 1 * MiB, 64 * MiB)
CASE_SIZE = 64 * KiB  # for the cases about sharing rather than size (V4L2 buffers are small)
GUARD_BYTE = 0xA5
INVALID_IMPORTS = ("oversized", "closed-fd", "not-a-dmabuf", "wrong-handle-type")


@pytest.fixture(scope="module")
def support(target: Target, device: Device) -> ExternalMemoryFeatures:
    found = buffer_support(target.physical, DMA_BUF)
    reason = capabilities.external_memory_unsupported(target, "DMA_BUF", found, export=False)
    if reason:
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def registry(target: Target, device: Device) -> Iterator[dict[str, Exporter]]:
    made = exporters(target.physical)
    yield made
    for exporter in made.values():
        exporter.close()


def _exporter(registry: dict[str, Exporter], name: str, size: int) -> Exporter:
    exporter = registry[name]
    reason = capabilities.dmabuf_exporter_unavailable(exporter) or capabilities.dmabuf_size_unsupported(
        exporter, size
    )
    if reason:
        pytest.skip(reason)
    return exporter


def _write(dmabuf: DmaBuf, words: np.ndarray) -> None:
    """The CPU writes `words` at the start of the dma-buf through its mapping, and the guard byte after."""
    with dmabuf.mapped(READ | WRITE) as raw:
        raw[words.nbytes :] = GUARD_BYTE
        raw[: words.nbytes].view(np.uint32)[:] = words


def _read_problem(dmabuf: DmaBuf, expected: np.ndarray) -> str | None:
    """What the CPU reads through the mapping, against `expected` and the untouched guard after it."""
    with dmabuf.mapped(READ) as raw:
        problem = mismatch(
            raw[: expected.nbytes].view(np.uint32), expected, "read back through the dma-buf mapping"
        )
        if problem:
            return problem
        touched = np.flatnonzero(raw[expected.nbytes :] != GUARD_BYTE)
    if touched.size:
        return (
            f"{touched.size} bytes of the dma-buf past the imported {expected.nbytes} changed "
            f"(first at byte {expected.nbytes + int(touched[0])})"
        )
    return None


def _cpu_to_gpu_problem(kernels: Kernels, shared: SharedBuffer, seed: int) -> str | None:
    found = kernels.verify(shared.buffer, seed=seed, first=0, count=shared.words)
    if found.count == 0:
        return None
    return (
        f"the GPU sees {found.count} of {shared.words} words differ from what the CPU wrote "
        f"through the dma-buf mapping (first {found.first})"
    )


@pytest.mark.parametrize("size", SIZES, ids=size_id)
@pytest.mark.parametrize("exporter_name", NAMES)
def test_dmabuf_roundtrip(
    target: Target,
    device: Device,
    kernels: Kernels,
    support: ExternalMemoryFeatures,
    registry: dict[str, Exporter],
    exporter_name: str,
    size: int,
    seed: int,
):
    exporter = _exporter(registry, exporter_name, size)
    reason = capabilities.storage_range_too_small(target, size)
    if reason:
        pytest.skip(reason)
    expected = pattern(seed, size // 4)
    key = ~seed & 0xFFFFFFFF
    with exporter.allocate(size) as dmabuf:
        _write(dmabuf, expected)
        shared = import_buffer(device, dmabuf.dup(), size, DMA_BUF, support)
        problem = _cpu_to_gpu_problem(kernels, shared, seed)
        assert problem is None, problem
        kernels.transform(shared.buffer, key=key, first=0, count=shared.words)
        problem = _read_problem(dmabuf, transform(key, expected))
        assert problem is None, problem


@pytest.mark.parametrize("exporter_name", NAMES)
def test_dmabuf_import_twice(
    device: Device,
    kernels: Kernels,
    support: ExternalMemoryFeatures,
    registry: dict[str, Exporter],
    exporter_name: str,
    seed: int,
):
    """Two imports of one dma-buf (two dup'ed fds) are one memory: what one writes, the other reads."""
    exporter = _exporter(registry, exporter_name, CASE_SIZE)
    with exporter.allocate(CASE_SIZE) as dmabuf:
        _write(dmabuf, pattern(seed, CASE_SIZE // 4))
        first = import_buffer(device, dmabuf.dup(), CASE_SIZE, DMA_BUF, support)
        second = import_buffer(device, dmabuf.dup(), CASE_SIZE, DMA_BUF, support)
        problem = _cpu_to_gpu_problem(kernels, first, seed) or _cpu_to_gpu_problem(kernels, second, seed)
        assert problem is None, problem
        again = seed ^ 0x5A5A5A5A
        problem = handover(kernels, first, kernels, second, seed=again)
        assert problem is None, f"through the second import: {problem}"
        problem = _read_problem(dmabuf, pattern(again, CASE_SIZE // 4))
        assert problem is None, problem


@pytest.mark.parametrize("exporter_name", NAMES)
def test_dmabuf_outlives_fd(
    device: Device,
    kernels: Kernels,
    support: ExternalMemoryFeatures,
    registry: dict[str, Exporter],
    exporter_name: str,
    seed: int,
):
    """Closing the original fd (and all the exporter kept) after the import leaves the memory alive."""
    exporter = _exporter(registry, exporter_name, CASE_SIZE)
    with exporter.allocate(CASE_SIZE) as dmabuf:
        _write(dmabuf, pattern(seed, CASE_SIZE // 4))
        shared = import_buffer(device, dmabuf.dup(), CASE_SIZE, DMA_BUF, support)
    problem = _cpu_to_gpu_problem(kernels, shared, seed)
    assert problem is None, f"after the original fd was closed: {problem}"
    problem = handover(kernels, shared, kernels, shared, seed=seed ^ 0x5A5A5A5A)
    assert problem is None, f"after the original fd was closed: {problem}"


@pytest.fixture(scope="module")
def sync_device(target: Target, device: Device) -> Iterator[tuple[Device, Kernels]]:
    reason = capabilities.sync_fd_semaphore_unsupported(target)
    if reason:
        pytest.skip(reason)
    with Device(target.physical, extensions=(*DMA_BUF_EXTENSIONS, *SEMAPHORE_EXTENSIONS)) as synced:
        yield synced, Kernels(synced)


@pytest.mark.parametrize("exporter_name", NAMES)
def test_dmabuf_implicit_sync(
    support: ExternalMemoryFeatures,
    registry: dict[str, Exporter],
    sync_device: tuple[Device, Kernels],
    exporter_name: str,
    seed: int,
):
    """The GPU reads only after waiting on the dma-buf's implicit fences (EXPORT_SYNC_FILE -> SYNC_FD)."""
    exporter = _exporter(registry, exporter_name, CASE_SIZE)
    synced, kernels = sync_device
    with exporter.allocate(CASE_SIZE) as dmabuf, synced.scope():
        reason = capabilities.sync_file_export_unsupported(dmabuf)
        if reason:
            pytest.skip(reason)
        _write(dmabuf, pattern(seed, CASE_SIZE // 4))
        shared = import_buffer(synced, dmabuf.dup(), CASE_SIZE, DMA_BUF, support)
        # READ: wait for the buffer's writers, as a reader must.
        wait_sync_file(synced, export_sync_file(dmabuf.fd, READ))
        problem = _cpu_to_gpu_problem(kernels, shared, seed)
        assert problem is None, problem


@pytest.mark.parametrize("exporter_name", NAMES)
def test_dmabuf_cross_process(
    target: Target,
    registry: dict[str, Exporter],
    support: ExternalMemoryFeatures,
    exporter_name: str,
    seed: int,
):
    """The fd goes over a UNIX socket to a process with its own device, which checks and writes back."""
    exporter = _exporter(registry, exporter_name, CASE_SIZE)
    back = seed ^ 0x5A5A5A5A
    with exporter.allocate(CASE_SIZE) as dmabuf:
        _write(dmabuf, pattern(seed, CASE_SIZE // 4))
        answer = run_peer(
            {
                "op": "exchange",
                "device_uuid": device_uuid(target.physical).hex(),
                "extensions": list(DMA_BUF_EXTENSIONS),
                "handle_type": "DMA_BUF",
                "size": CASE_SIZE,
                "verify_seed": seed,
                "fill_seed": back,
            },
            dmabuf.fd,
        )
        if answer.reply is None or "error" in answer.reply:
            what = answer.reply["error"] if answer.reply else answer.tail()
            pytest.fail(f"the peer process {answer.ending}: {what}")
        assert answer.reply["mismatches"] == 0, (
            f"the peer's GPU sees {answer.reply['mismatches']} of {CASE_SIZE // 4} words differ from what "
            f"this process's CPU wrote (first {answer.reply['first']})"
        )
        problem = _read_problem(dmabuf, pattern(back, CASE_SIZE // 4))
        assert problem is None, f"after the peer's GPU wrote: {problem}"


@pytest.mark.parametrize("peer", ("second-device", "second-instance"))
def test_vulkan_export(
    target: Target,
    device: Device,
    kernels: Kernels,
    support: ExternalMemoryFeatures,
    registry: dict[str, Exporter],
    peer: str,
    seed: int,
):
    """Memory exported as a dma-buf is the same memory for a second VkDevice or a second VkInstance,
    and for the CPU through the dma-buf's mapping."""
    _exporter(registry, "vulkan", CASE_SIZE)
    exported = export_buffer(device, CASE_SIZE, DMA_BUF, support)
    back = seed ^ 0x5A5A5A5A
    with DmaBuf(memory_fd(device, exported.memory, DMA_BUF), exporter="vulkan") as dmabuf:
        with ExitStack() as stack:
            instance = stack.enter_context(Instance()) if peer == "second-instance" else target.instance
            physical = same_device(instance, device_uuid(target.physical))
            with Device(physical, extensions=DMA_BUF_EXTENSIONS) as other:
                imported = import_buffer(other, dmabuf.dup(), CASE_SIZE, DMA_BUF, support)
                other_kernels = Kernels(other)
                problem = handover(kernels, exported, other_kernels, imported, seed=seed) or handover(
                    other_kernels, imported, kernels, exported, seed=back
                )
                assert problem is None, problem
        with dmabuf.mapped(READ) as raw:
            problem = mismatch(
                raw[:CASE_SIZE].view(np.uint32), pattern(back, CASE_SIZE // 4), "in the mapping"
            )
        assert problem is None, problem


@pytest.mark.parametrize("invalid", INVALID_IMPORTS)
def test_dmabuf_invalid_import(
    request: pytest.FixtureRequest,
    target: Target,
    device: Device,
    registry: dict[str, Exporter],
    invalid: str,
):
    """An invalid import must end in an error from the driver; what the driver answered is recorded."""
    attempt = {
        "op": "import",
        "device_uuid": device_uuid(target.physical).hex(),
        "extensions": list(DMA_BUF_EXTENSIONS),
        "handle_type": "OPAQUE_FD" if invalid == "wrong-handle-type" else "DMA_BUF",
        "fd_source": {"closed-fd": "closed", "not-a-dmabuf": "memfd"}.get(invalid, "received"),
        "allocation_size": CASE_SIZE,
    }
    if invalid in ("closed-fd", "not-a-dmabuf"):
        what = "a closed fd" if invalid == "closed-fd" else f"a {CASE_SIZE}-byte memfd imported as DMA_BUF"
        judge_invalid_import(request.node, what, run_peer(attempt))
        return
    reason = capabilities.no_dmabuf_exporter(registry.values())
    if reason:
        pytest.skip(reason)
    exporter = next(e for e in registry.values() if e.available() is None)
    with exporter.allocate(CASE_SIZE) as dmabuf:
        if invalid == "oversized":
            attempt["allocation_size"] = 2 * dmabuf.size
            what = f"allocationSize {2 * dmabuf.size} for a {dmabuf.size}-byte dma-buf from {exporter.name}"
        else:
            what = f"a dma-buf from {exporter.name} imported as OPAQUE_FD"
        judge_invalid_import(request.node, what, run_peer(attempt, dmabuf.fd))

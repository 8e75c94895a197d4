"""The dma-buf exporters: how availability is decided and worded, and real allocations where possible.

The reason logic runs on fake /dev and /sys trees (tmp_path); the allocation tests use the
machine's real exporters and skip, with the exporter's own reason, where there are none.
"""

from __future__ import annotations

import errno
import mmap
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from vulkan_device import open_first_device

from vkzc.dmabuf import drm, udmabuf
from vkzc.dmabuf.buffer import Exporter
from vkzc.dmabuf.drm import DumbExporter
from vkzc.dmabuf.nodes import node_unavailable
from vkzc.dmabuf.registry import NAMES, exporters
from vkzc.dmabuf.sync import READ, WRITE, export_sync_file


def test_a_node_that_opens_is_available(tmp_path: Path) -> None:
    node = tmp_path / "udmabuf"
    node.touch()
    assert node_unavailable(node, sysfs=tmp_path / "sys", lacking="CONFIG_UDMABUF") is None


def test_a_node_the_kernel_has_but_the_container_lacks(tmp_path: Path) -> None:
    sysfs = tmp_path / "sys"
    sysfs.mkdir()
    reason = node_unavailable(tmp_path / "udmabuf", sysfs=sysfs, lacking="CONFIG_UDMABUF")
    assert reason == (
        f"no {tmp_path}/udmabuf: the kernel has it ({sysfs}) but this container or VM was not given the node"
    )


def test_a_node_the_kernel_lacks(tmp_path: Path) -> None:
    reason = node_unavailable(tmp_path / "udmabuf", sysfs=tmp_path / "sys", lacking="CONFIG_UDMABUF")
    assert reason == f"no {tmp_path}/udmabuf: the kernel lacks CONFIG_UDMABUF"


def test_udmabuf_sizes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    limit = tmp_path / "size_limit_mb"
    limit.write_text("64\n")
    monkeypatch.setattr(udmabuf, "SIZE_LIMIT", limit)
    exporter = udmabuf.Udmabuf()
    assert exporter.size_unsupported(64 << 20) is None
    assert exporter.size_unsupported(100_000) == (
        "udmabuf hands out whole pages: UDMABUF_CREATE refuses 100000 bytes "
        f"(not a multiple of {mmap.PAGESIZE})"
    )
    assert exporter.size_unsupported(128 << 20) == (
        f"udmabuf's size_limit_mb allows {64 << 20} bytes per buffer, not {128 << 20}"
    )


@pytest.fixture
def fake_drm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(drm, "DRI", tmp_path / "dev" / "dri")
    monkeypatch.setattr(drm, "SYSFS_DRM", tmp_path / "sys" / "class" / "drm")
    return tmp_path


VGEM = DumbExporter(name="vgem", driver="vgem", missing="modprobe vgem")


def test_dumb_buffers_without_drm(fake_drm: Path) -> None:
    assert (
        VGEM.available()
        == f"no DRM card driven by vgem: the kernel has no DRM subsystem (no {drm.SYSFS_DRM})"
    )


def test_dumb_buffers_without_the_driver(fake_drm: Path) -> None:
    drm.SYSFS_DRM.mkdir(parents=True)
    assert VGEM.available() == "no DRM card driven by vgem: modprobe vgem"


def test_dumb_buffers_of_a_card_kept_out_of_the_container(fake_drm: Path) -> None:
    # vgem's platform device has no driver link but is named after it.
    device = fake_drm / "sys" / "devices" / "platform" / "vgem"
    device.mkdir(parents=True)
    (drm.SYSFS_DRM / "card0").mkdir(parents=True)
    (drm.SYSFS_DRM / "card0" / "device").symlink_to(device)
    (drm.SYSFS_DRM / "card0-Virtual-1").mkdir()
    assert VGEM.available() == (
        "the kernel has a vgem card (card0) but this container or VM was not given its "
        f"{drm.DRI} node, or cannot open it"
    )


@pytest.fixture(scope="module")
def registry() -> Iterator[dict[str, Exporter]]:
    for device in open_first_device():
        made = exporters(device.physical)  # type: ignore[attr-defined]
        yield made
        for exporter in made.values():
            exporter.close()


def test_the_registry_lists_every_exporter_in_order(registry: dict[str, Exporter]) -> None:
    assert tuple(registry) == NAMES
    for exporter in registry.values():
        reason = exporter.available()
        assert reason is None or reason.strip(), exporter.name


@pytest.mark.parametrize("name", NAMES)
def test_allocate_map_and_sync(registry: dict[str, Exporter], name: str) -> None:
    """A real dma-buf: at least the size asked for, and what the CPU writes through one mapping,
    another mapping reads."""
    exporter = registry[name]
    reason = exporter.available() or exporter.size_unsupported(64 << 10)
    if reason:
        pytest.skip(reason)
    with exporter.allocate(64 << 10) as dmabuf:
        assert dmabuf.size >= 64 << 10
        words = np.arange(dmabuf.size // 4, dtype=np.uint32) * np.uint32(2654435761)
        with dmabuf.mapped(WRITE) as raw:
            raw.view(np.uint32)[:] = words
        with dmabuf.mapped(READ) as raw:
            assert not raw.flags.writeable
            assert np.array_equal(raw.view(np.uint32), words)


def test_sync_file_of_an_idle_dma_buf(registry: dict[str, Exporter]) -> None:
    working = [e for e in registry.values() if e.available() is None]
    if not working:
        pytest.skip("no dma-buf exporter works on this machine")
    with working[0].allocate(4096) as dmabuf:
        try:
            fence = export_sync_file(dmabuf.fd, READ)
        except OSError as e:
            assert e.errno == errno.ENOTTY, e
            pytest.skip(f"the kernel lacks DMA_BUF_IOCTL_EXPORT_SYNC_FILE: {e}")
        # Nothing uses the buffer: the kernel hands out an already signalled fence.
        os.close(fence)

"""Fixtures of the conformance suite. Every case runs against the real Vulkan driver of the target
device: nothing here is faked. Per-device parameters (memory types, atom sizes) are discovered at
collection time, so the case list is the device's own."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import pytest

from vkzc.conformance import capabilities
from vkzc.conformance.kernels import Kernels
from vkzc.conformance.target import Target
from vkzc.vk.device import Device


@pytest.fixture(scope="module")
def device(target: Target, request: pytest.FixtureRequest) -> Iterator[Device]:
    """A device with the extensions the case module lists in DEVICE_EXTENSIONS."""
    extensions = tuple(getattr(request.module, "DEVICE_EXTENSIONS", ()))
    for extension in extensions:
        reason = capabilities.missing_extension(target, extension)
        if reason:
            pytest.skip(reason)
    with Device(target.physical, extensions=extensions) as device:
        yield device


@pytest.fixture(scope="module")
def kernels(device: Device) -> Kernels:
    return Kernels(device)


@pytest.fixture(autouse=True)
def _case_scope(request: pytest.FixtureRequest) -> Iterator[None]:
    """Free everything a case created on the module's device when the case ends, whatever happened."""
    if "device" not in request.fixturenames:
        yield
        return
    device: Device = request.getfixturevalue("device")
    with device.scope():
        yield


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """A pattern seed that differs per case and is the same on every run and machine."""
    return zlib.crc32(request.node.name.encode())

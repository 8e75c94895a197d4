"""The benchmarks' routes and their verification on a real device: a route that delivers is accepted,
one that corrupts a word is caught, on either side of a binding boundary. No time is measured here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from vulkan_device import open_first_device

from vkzc.bench import verify
from vkzc.bench.verify import expected, piece_seed, pieces
from vkzc.pattern import pattern

MiB = 1 << 20


def test_pieces_cover_the_size_in_power_of_two_bindings() -> None:
    assert pieces(4 * MiB, 128 * MiB) == ((0, 4 * MiB),)
    assert pieces(256 * MiB, 128 * MiB) == ((0, 128 * MiB), (128 * MiB, 128 * MiB))
    # A limit that is not a power of two is rounded down, so every offset stays aligned.
    assert pieces(5 * MiB, 3 * MiB) == ((0, 2 * MiB), (2 * MiB, 2 * MiB), (4 * MiB, MiB))


def test_each_piece_carries_its_own_seeded_pattern() -> None:
    cut = pieces(3 * MiB, 2 * MiB)
    words = expected(7, cut)
    assert np.array_equal(words[: (2 * MiB) // 4], pattern(piece_seed(7, 0), (2 * MiB) // 4))
    assert np.array_equal(words[(2 * MiB) // 4 :], pattern(piece_seed(7, 1), MiB // 4))
    assert piece_seed(7, 0) != piece_seed(7, 1)


@pytest.fixture(scope="module")
def kernels() -> Iterator[Any]:
    for device in open_first_device():
        from vkzc.conformance.kernels import Kernels

        yield Kernels(device)


@pytest.fixture
def route_of(kernels: Any) -> Iterator[Any]:
    """Makes routes on the test device, freed when the test ends."""
    from vkzc.bench import catalog
    from vkzc.vk.memory import HOST_VISIBLE

    device = kernels.device

    def make(path: str, size: int, direction: str = "upload") -> Any:
        if path == "staged":
            return catalog.staged(device, size, direction)
        memory_type = next(t for t in device.memory_types if t.has(HOST_VISIBLE))
        return catalog.mapped(device, size, memory_type)

    with device.scope():
        yield make


@pytest.fixture
def small_bindings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bindings of 1 MiB, so that a few MiB cross binding boundaries as 256 MiB do on lavapipe."""
    monkeypatch.setattr(verify, "_pieces", lambda kernels, route: pieces(route.size, MiB))


@pytest.mark.parametrize("path", ["staged", "mapped"])
@pytest.mark.usefixtures("small_bindings")
def test_routes_that_deliver_pass_both_ways(kernels: Any, route_of: Any, path: str) -> None:
    assert verify.check_upload(kernels, route_of(path, 3 * MiB), seed=11) is None
    assert verify.check_readback(kernels, route_of(path, 3 * MiB, "readback"), seed=12) is None


@pytest.mark.usefixtures("small_bindings")
def test_a_corrupted_upload_is_caught_in_the_right_piece(kernels: Any, route_of: Any) -> None:
    route = route_of("mapped", 3 * MiB)
    real_upload = route.upload

    def corrupting(produce: Any) -> None:
        real_upload(produce)
        route.cpu[MiB + 8] ^= 0xFF  # word 2 of the second piece

    route.upload = corrupting
    problem = verify.check_upload(kernels, route, seed=13)
    assert (
        problem == f"the GPU sees 1 of {MiB // 4} words differ in bytes [{MiB}, {2 * MiB}) (first at word 2)"
    )


def test_a_corrupted_readback_is_caught(kernels: Any, route_of: Any) -> None:
    route = route_of("staged", MiB, "readback")
    real_readback = route.readback

    def corrupting(consume: Any) -> Any:
        return real_readback(
            lambda view: consume(np.where(np.arange(view.size) == 4, view ^ 1, view).astype(np.uint8))
        )

    route.readback = corrupting
    problem = verify.check_readback(kernels, route, seed=14)
    assert problem is not None and problem.startswith("word 1 of 262144 read back by the staged path")

"""Proof that a route delivers, checked once per configuration before it is timed: the GPU checks
what an upload left it (the verify shader), the CPU checks what a readback gave it. A path that
delivers wrong data fails its benchmark instead of producing a figure.

A storage-buffer binding covers at most maxStorageBufferRange bytes (128 MiB on lavapipe), so a
large route is checked in pieces: buffers bound to the route's memory at increasing offsets, each
piece with its own seed so that the pattern, which restarts at every binding, differs per piece.
"""

from __future__ import annotations

import numpy as np

from vkzc.bench.routes import Route
from vkzc.conformance.kernels import STORAGE, Kernels
from vkzc.pattern import Words, mismatch, pattern
from vkzc.vk.resources import Buffer

Piece = tuple[int, int]  # (offset, length) in bytes


def pieces(size: int, max_range: int) -> tuple[Piece, ...]:
    """`size` bytes cut into bindings of at most `max_range` bytes. Pieces are a power of two long
    (the last one excepted), so every offset meets any buffer alignment a driver asks for."""
    step = 1 << (max_range.bit_length() - 1)
    return tuple((offset, min(step, size - offset)) for offset in range(0, size, step))


def piece_seed(seed: int, index: int) -> int:
    return (seed + index * 0x9E3779B9) & 0xFFFFFFFF


def expected(seed: int, cut: tuple[Piece, ...]) -> Words:
    """The words a route holds when each piece carries its own seeded pattern."""
    return np.concatenate([pattern(piece_seed(seed, i), length // 4) for i, (_, length) in enumerate(cut)])


def check_upload(kernels: Kernels, route: Route, seed: int) -> str | None:
    """The route carries the pattern from the CPU, the GPU counts the words that differ."""
    cut = _pieces(kernels, route)
    words = expected(seed, cut)
    route.upload(lambda view: np.copyto(view.view(np.uint32), words))
    with kernels.device.scope():
        for index, (buffer, (offset, length)) in enumerate(zip(_bind(kernels, route, cut), cut, strict=True)):
            found = kernels.verify(buffer, seed=piece_seed(seed, index), first=0, count=length // 4)
            if found.count:
                return (
                    f"the GPU sees {found.count} of {length // 4} words differ in bytes "
                    f"[{offset}, {offset + length}) (first at word {found.first})"
                )
    return None


def check_readback(kernels: Kernels, route: Route, seed: int) -> str | None:
    """The GPU writes the pattern into `route.gpu`, the route carries it, the CPU compares every word."""
    cut = _pieces(kernels, route)
    with kernels.device.scope():
        for index, (buffer, (_, length)) in enumerate(zip(_bind(kernels, route, cut), cut, strict=True)):
            kernels.fill(buffer, seed=piece_seed(seed, index), first=0, count=length // 4)
    words = expected(seed, cut)
    return route.readback(
        lambda view: mismatch(view.view(np.uint32), words, f"read back by the {route.path} path")
    )


def _pieces(kernels: Kernels, route: Route) -> tuple[Piece, ...]:
    return pieces(route.size, int(kernels.device.physical.limits.maxStorageBufferRange))


def _bind(kernels: Kernels, route: Route, cut: tuple[Piece, ...]) -> list[Buffer]:
    """One storage buffer per piece, bound to the route's own memory (no copy to check instead)."""
    buffers = []
    for offset, length in cut:
        buffer = Buffer(kernels.device, length, STORAGE, external_handle_types=route.handle_types)
        if offset % buffer.requirements.alignment:
            raise AssertionError(
                f"a piece at {offset} misses the buffer alignment {buffer.requirements.alignment}"
            )
        buffer.bind(route.memory, offset)
        buffers.append(buffer)
    return buffers

"""CPU twin of shaders/pattern.glsl: the seeded pattern and the in-place transform."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Words = npt.NDArray[np.uint32]


def pattern(seed: int, count: int) -> Words:
    x = np.arange(count, dtype=np.uint32) * np.uint32(0x9E3779B1)
    x ^= np.uint32(seed)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return x


def transform(key: int, words: Words) -> Words:
    index = np.arange(words.size, dtype=np.uint32)
    return ((words ^ np.uint32(key)) * np.uint32(0x01000193)) + index


def mismatch(actual: Words, expected: Words, where: str) -> str | None:
    """None when the words are equal, else what a failing case reports: the first bad word and how many."""
    bad = np.flatnonzero(actual != expected)
    if not bad.size:
        return None
    first = int(bad[0])
    return (
        f"word {first} of {actual.size} {where} is 0x{int(actual[first]):08x}, "
        f"expected 0x{int(expected[first]):08x} ({bad.size} words differ)"
    )

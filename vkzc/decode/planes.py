"""A decoded frame as the two planes a hardware decoder hands out: NV12 for 8-bit, P010 for 10-bit.

Both are tightly packed here (rows of width × sample bytes, no padding): Y, then interleaved CbCr at half
resolution. P010 keeps the 10 bits at the top of little-endian 16-bit samples (value << 6). The
conversion from the decoder's planar yuv420p / yuv420p10le only moves samples, so it is lossless:
`planar` undoes it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Bytes = npt.NDArray[np.uint8]
P010_SHIFT = 6
PLANAR_FORMATS = {"yuv420p": 8, "yuv420p10le": 10}


@dataclass(frozen=True, kw_only=True)
class SemiPlanar:
    """One frame's Y and CbCr planes as tightly packed bytes."""

    depth: int
    width: int
    height: int
    y: Bytes
    uv: Bytes

    @property
    def sample_bytes(self) -> int:
        return 1 if self.depth == 8 else 2

    @property
    def format_name(self) -> str:
        return "NV12" if self.depth == 8 else "P010"

    def rows(self, plane: int) -> tuple[int, int]:
        """(row bytes, rows) of plane 0 (Y) or 1 (CbCr)."""
        row = self.width * self.sample_bytes
        return (row, self.height) if plane == 0 else (row, self.height // 2)

    def plane(self, index: int) -> Bytes:
        return self.y if index == 0 else self.uv


def _samples(plane: Any, width: int, height: int, dtype: type[np.generic]) -> npt.NDArray[Any]:
    """A PyAV plane's visible samples (its line size may be padded)."""
    raw = np.frombuffer(memoryview(plane), dtype=np.uint8)
    sample = np.dtype(dtype).itemsize
    rows = raw[: plane.line_size * height].reshape(height, plane.line_size)[:, : width * sample]
    return rows.copy().view(dtype)


def semi_planar(frame: Any) -> SemiPlanar:
    """NV12 / P010 planes of a software-decoded PyAV frame in yuv420p or yuv420p10le."""
    name = frame.format.name
    depth = PLANAR_FORMATS.get(name)
    if depth is None:
        raise ValueError(f"decoded frames must be yuv420p or yuv420p10le, not {name}")
    width, height = frame.width, frame.height
    if width % 2 or height % 2:
        raise ValueError(f"4:2:0 frames need an even size, not {width}x{height}")
    dtype = np.uint8 if depth == 8 else np.uint16
    y = _samples(frame.planes[0], width, height, dtype)
    u = _samples(frame.planes[1], width // 2, height // 2, dtype)
    v = _samples(frame.planes[2], width // 2, height // 2, dtype)
    uv = np.stack([u, v], axis=-1).reshape(height // 2, width)
    if depth == 10:
        y = (y << P010_SHIFT).astype("<u2")
        uv = (uv << P010_SHIFT).astype("<u2")
    return SemiPlanar(
        depth=depth,
        width=width,
        height=height,
        y=np.ascontiguousarray(y).view(np.uint8).reshape(-1),
        uv=np.ascontiguousarray(uv).view(np.uint8).reshape(-1),
    )


def planar(frame: SemiPlanar) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]:
    """The Y, U and V sample arrays back from NV12 / P010: the inverse of `semi_planar`."""
    dtype = np.uint8 if frame.depth == 8 else np.dtype("<u2")
    shift = 0 if frame.depth == 8 else P010_SHIFT
    y = np.right_shift(frame.y.view(dtype).reshape(frame.height, frame.width), shift)
    uv = np.right_shift(frame.uv.view(dtype).reshape(frame.height // 2, frame.width // 2, 2), shift)
    return y, uv[..., 0], uv[..., 1]

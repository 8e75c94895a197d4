"""NV12 / P010 decoded frames to RGBA: a frame's layout as the conversion shader's YuvLayout, and the CPU
reference of a software-decoded frame (vkzc/conformance/yuv.py does both conversions)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from vkzc.conformance.formats import Bytes
from vkzc.conformance.yuv import YuvLayout, YuvMatrix, reference_rgba
from vkzc.decode.planes import SemiPlanar


class PlanePlace(Protocol):
    @property
    def offset(self) -> int: ...

    @property
    def pitch(self) -> int: ...


def yuv_layout(planes: Sequence[PlanePlace], depth: int, width: int, height: int) -> YuvLayout:
    """The shader's view of a frame whose Y and CbCr planes lie in one buffer at these offsets and pitches."""
    y, uv = planes
    return YuvLayout(
        depth=depth,
        width=width,
        height=height,
        y_offset=y.offset,
        y_pitch=y.pitch,
        uv_offset=uv.offset,
        uv_pitch=uv.pitch,
    )


def samples(frame: SemiPlanar) -> tuple[np.ndarray, np.ndarray]:
    """The frame's Y (HxW) and CbCr ((H/2)x(W/2)x2) samples as stored (P010: the value << 6)."""
    dtype = np.uint8 if frame.depth == 8 else np.dtype("<u2")
    y = frame.y.view(dtype).reshape(frame.height, frame.width)
    uv = frame.uv.view(dtype).reshape(frame.height // 2, frame.width // 2, 2)
    native = np.uint8 if frame.depth == 8 else np.uint16
    return y.astype(native), uv.astype(native)


def reference(frame: SemiPlanar, matrix: YuvMatrix) -> Bytes:
    y, uv = samples(frame)
    return reference_rgba(y, uv, frame.depth, matrix)

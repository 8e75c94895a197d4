"""NV12 and P010 frames to RGBA: the compute shader (shaders/yuv_to_rgba.comp) and its CPU reference.

A frame is 4:2:0 with interleaved CbCr: a Y plane and a CbCr plane of half the width and height,
each at its own byte offset and row pitch in one buffer (a dma-buf, or a readback of an image's
planes). NV12 has 8-bit samples; P010 16-bit little-endian ones holding the value in the top 10
bits. The conversion is limited range (Y 16-235, C 16-240, times 4 at 10 bits) with BT.601 or
BT.709 coefficients; chroma is nearest: the four pixels of each 2x2 block take the block's one
CbCr sample, on both sides. Both sides compute in floating point, round half up and clamp, so
they agree within one code value (the shader's floats are 32-bit).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vkzc.conformance.formats import Bytes
from vkzc.conformance.kernels import STORAGE
from vkzc.vk.compute import ComputeProgram
from vkzc.vk.device import Device
from vkzc.vk.memory import HOST_COHERENT, HOST_VISIBLE, select_memory_type
from vkzc.vk.resources import Buffer

SHADER = "yuv_to_rgba"
DEPTHS = (8, 10)
# The Vulkan formats these frames are, and the names the rest of the world gives them (case ids).
FORMAT_DEPTHS = {"G8_B8R8_2PLANE_420_UNORM": 8, "G10X6_B10X6R10X6_2PLANE_420_UNORM_3PACK16": 10}
FORMAT_NAMES = {"G8_B8R8_2PLANE_420_UNORM": "NV12", "G10X6_B10X6R10X6_2PLANE_420_UNORM_3PACK16": "P010"}
_P010_SHIFT = 6  # P010 keeps its 10 bits at the top of each 16-bit sample


class YuvMatrix(enum.Enum):
    BT601 = "bt601"
    BT709 = "bt709"

    @property
    def kr_kb(self) -> tuple[float, float]:
        return _KR_KB[self]

    @property
    def shader_index(self) -> int:
        """How shaders/yuv_to_rgba.comp names the matrix."""
        return 0 if self is YuvMatrix.BT601 else 1


_KR_KB = {YuvMatrix.BT601: (0.299, 0.114), YuvMatrix.BT709: (0.2126, 0.0722)}


@dataclass(frozen=True, kw_only=True)
class YuvLayout:
    """Where a frame's two planes lie in one buffer (bytes)."""

    depth: int
    width: int
    height: int
    y_offset: int
    y_pitch: int
    uv_offset: int
    uv_pitch: int

    def __post_init__(self) -> None:
        if self.depth not in DEPTHS:
            raise ValueError(f"bit depth {self.depth} is neither 8 (NV12) nor 10 (P010)")
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise ValueError(f"a 4:2:0 frame needs an even, non-zero size, not {self.width}x{self.height}")
        if min(self.y_offset, self.uv_offset) < 0:
            raise ValueError(f"plane offsets must not be negative: Y {self.y_offset}, CbCr {self.uv_offset}")
        if min(self.y_pitch, self.uv_pitch) < self.row_bytes:
            raise ValueError(
                f"row pitches (Y {self.y_pitch}, CbCr {self.uv_pitch}) are smaller than a "
                f"{self.row_bytes}-byte row"
            )

    @classmethod
    def packed(cls, depth: int, width: int, height: int) -> YuvLayout:
        """Y then CbCr, rows tightly packed: how a copy of an image's planes to a buffer lays them out."""
        row = width * (1 if depth == 8 else 2)
        return cls(
            depth=depth,
            width=width,
            height=height,
            y_offset=0,
            y_pitch=row,
            uv_offset=row * height,
            uv_pitch=row,
        )

    @property
    def sample_bytes(self) -> int:
        return 1 if self.depth == 8 else 2

    @property
    def row_bytes(self) -> int:
        """Bytes of one row of either plane: W luma samples, or W/2 CbCr pairs."""
        return self.width * self.sample_bytes

    @property
    def size(self) -> int:
        """The bytes a buffer needs to hold the frame: up to the last byte of the plane that ends last."""
        y_end = self.y_offset + self.y_pitch * (self.height - 1) + self.row_bytes
        uv_end = self.uv_offset + self.uv_pitch * (self.height // 2 - 1) + self.row_bytes
        return max(y_end, uv_end)


def _samples_dtype(depth: int) -> type[np.unsignedinteger]:
    return np.uint8 if depth == 8 else np.uint16


def reference_rgba(
    y: npt.NDArray[np.unsignedinteger], uv: npt.NDArray[np.unsignedinteger], depth: int, matrix: YuvMatrix
) -> Bytes:
    """HxWx4 RGBA8 of an HxW Y plane and an (H/2)x(W/2)x2 CbCr plane, samples as stored (P010's value in
    the top 10 bits): float64 math, nearest chroma, round half up, clamp, alpha 255."""
    if depth not in DEPTHS:
        raise ValueError(f"bit depth {depth} is neither 8 (NV12) nor 10 (P010)")
    dtype = _samples_dtype(depth)
    if y.dtype != dtype or uv.dtype != dtype:
        raise ValueError(f"{depth}-bit samples must be {np.dtype(dtype).name}, not {y.dtype} and {uv.dtype}")
    height, width = y.shape
    if height % 2 or width % 2 or uv.shape != (height // 2, width // 2, 2):
        raise ValueError(
            f"a {width}x{height} Y plane needs an even size and a CbCr plane of shape "
            f"({height // 2}, {width // 2}, 2), not {uv.shape}"
        )
    shift = 0 if depth == 8 else _P010_SHIFT
    scale = float(1 << (depth - 8))
    kr, kb = matrix.kr_kb
    kg = 1.0 - kr - kb
    luma = ((y >> shift).astype(np.float64) - 16.0 * scale) / (219.0 * scale)
    chroma = ((uv >> shift).astype(np.float64) - 128.0 * scale) / (224.0 * scale)
    chroma = chroma.repeat(2, axis=0).repeat(2, axis=1)  # nearest: each 2x2 block shares its sample
    cb, cr = chroma[..., 0], chroma[..., 1]
    rgb = np.stack(
        (
            luma + 2.0 * (1.0 - kr) * cr,
            luma - (2.0 * kb * (1.0 - kb) / kg) * cb - (2.0 * kr * (1.0 - kr) / kg) * cr,
            luma + 2.0 * (1.0 - kb) * cb,
        ),
        axis=-1,
    )
    out = np.full((height, width, 4), 255, dtype=np.uint8)
    out[..., :3] = np.clip(np.floor(rgb * 255.0 + 0.5), 0, 255).astype(np.uint8)
    return out


def _as_bytes(data: bytes | bytearray | memoryview | np.ndarray) -> Bytes:
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).view(np.uint8).reshape(-1)
    return np.frombuffer(data, dtype=np.uint8)


def _rows(raw: Bytes, offset: int, pitch: int, rows: int, row_bytes: int) -> Bytes:
    index = offset + pitch * np.arange(rows)[:, None] + np.arange(row_bytes)[None, :]
    return raw[index]


def planes_from_bytes(
    data: bytes | bytearray | memoryview | np.ndarray, layout: YuvLayout
) -> tuple[npt.NDArray[np.unsignedinteger], npt.NDArray[np.unsignedinteger]]:
    """The Y (HxW) and CbCr ((H/2)x(W/2)x2) samples of the frame `layout` places in `data`, as stored."""
    raw = _as_bytes(data)
    if raw.size < layout.size:
        raise ValueError(f"{raw.size} bytes hold no frame laid out as {layout} ({layout.size} bytes needed)")
    dtype = np.dtype(_samples_dtype(layout.depth)).newbyteorder("<")
    half = layout.height // 2
    y = _rows(raw, layout.y_offset, layout.y_pitch, layout.height, layout.row_bytes)
    uv = _rows(raw, layout.uv_offset, layout.uv_pitch, half, layout.row_bytes)
    native = _samples_dtype(layout.depth)
    return (
        y.view(dtype).astype(native).reshape(layout.height, layout.width),
        uv.view(dtype).astype(native).reshape(half, layout.width // 2, 2),
    )


def bytes_from_planes(
    y: npt.NDArray[np.unsignedinteger],
    uv: npt.NDArray[np.unsignedinteger],
    layout: YuvLayout,
    *,
    fill: int,
) -> Bytes:
    """`layout.size` bytes holding the planes where `layout` places them, `fill` everywhere else."""
    raw = np.full(layout.size, fill, dtype=np.uint8)
    dtype = np.dtype(_samples_dtype(layout.depth)).newbyteorder("<")
    half = layout.height // 2
    for plane, offset, pitch, rows in (
        (y, layout.y_offset, layout.y_pitch, layout.height),
        (uv, layout.uv_offset, layout.uv_pitch, half),
    ):
        packed = np.ascontiguousarray(plane.astype(dtype)).view(np.uint8).reshape(rows, layout.row_bytes)
        raw[offset + pitch * np.arange(rows)[:, None] + np.arange(layout.row_bytes)[None, :]] = packed
    return raw


def random_planes(
    rng: np.random.Generator, depth: int, width: int, height: int
) -> tuple[npt.NDArray[np.unsignedinteger], npt.NDArray[np.unsignedinteger]]:
    """Y and CbCr planes of any sample value, limited range or not (so clamping is exercised); P010's
    low 6 padding bits zero."""
    shift = 0 if depth == 8 else _P010_SHIFT
    dtype = _samples_dtype(depth)
    y = (rng.integers(0, 1 << depth, size=(height, width)) << shift).astype(dtype)
    uv = (rng.integers(0, 1 << depth, size=(height // 2, width // 2, 2)) << shift).astype(dtype)
    return y, uv


def host_storage(device: Device, size: int) -> tuple[Buffer, Bytes]:
    """A HOST_VISIBLE|HOST_COHERENT storage buffer of `size` bytes and its mapping."""
    buffer = Buffer(device, size, STORAGE)
    memory_type = select_memory_type(
        device.memory_types, buffer.requirements.type_bits, HOST_VISIBLE | HOST_COHERENT
    )
    if memory_type is None:
        raise RuntimeError(f"no HOST_VISIBLE|HOST_COHERENT memory type for a {size}-byte storage buffer")
    memory = device.allocate(buffer.requirements.size, memory_type)
    buffer.bind(memory)
    return buffer, memory.map(0, size)


def gpu_rgba(device: Device, buffer: Buffer, layout: YuvLayout, matrix: YuvMatrix) -> Bytes:
    """HxWx4 RGBA8 that shaders/yuv_to_rgba.comp makes of the frame `layout` places in `buffer` (a storage
    buffer, bound from offset 0), read back through a host-visible buffer."""
    needed = -(-layout.size // 4) * 4  # the shader reads whole words
    if buffer.size < needed:
        raise ValueError(
            f"a {buffer.size}-byte buffer is too small for the frame: the shader reads {needed} bytes "
            f"(the layout's {layout.size}, rounded up to a word)"
        )
    pixels = layout.width * layout.height
    with device.scope():
        program = ComputeProgram(device, SHADER, bindings=3)
        out, out_bytes = host_storage(device, pixels * 4)
        params, params_bytes = host_storage(device, 7 * 4)
        params_bytes.view(np.uint32)[:] = (
            layout.width,
            layout.y_offset,
            layout.y_pitch,
            layout.uv_offset,
            layout.uv_pitch,
            layout.depth,
            matrix.shader_index,
        )
        program.run([buffer, out, params], seed=0, first=0, count=pixels)
        return out_bytes.reshape(layout.height, layout.width, 4).copy()


_CHANNELS = "RGBA"


def compare_rgba(got: Bytes, want: Bytes, tolerance: int = 1) -> str | None:
    """None when every channel of every pixel is within `tolerance`, else the first one (row by row)
    beyond it, how many are, and the largest difference."""
    if got.shape != want.shape:
        return f"the RGBA image is {got.shape}, expected {want.shape}"
    difference = np.abs(got.astype(np.int16) - want.astype(np.int16))
    beyond = np.argwhere(difference > tolerance)
    if not beyond.size:
        return None
    y, x, channel = (int(v) for v in beyond[0])
    return (
        f"pixel (x={x}, y={y}) channel {_CHANNELS[channel]} is {int(got[y, x, channel])}, expected "
        f"{int(want[y, x, channel])}: {len(beyond)} values differ by more than {tolerance}, "
        f"by up to {int(difference.max())}"
    )

"""The NV12/P010 → RGBA reference against known colours, the plane layouts, and the compute shader on this
machine's driver against the reference."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from vulkan_device import open_first_device

from vkzc.conformance.yuv import (
    YuvLayout,
    YuvMatrix,
    bytes_from_planes,
    compare_rgba,
    gpu_rgba,
    host_storage,
    planes_from_bytes,
    random_planes,
    reference_rgba,
)

BT601, BT709 = YuvMatrix.BT601, YuvMatrix.BT709
# The limited-range codes of the primaries, as the standards' tables give them (8-bit; 10-bit is ×4 but for
# rounding, so those are listed too).
PRIMARIES = {
    (BT601, 8): {"red": (81, 90, 240), "green": (145, 54, 34), "blue": (41, 240, 110)},
    (BT709, 8): {"red": (63, 102, 240), "green": (173, 42, 26), "blue": (32, 240, 118)},
    (BT601, 10): {"red": (326, 361, 960), "green": (578, 215, 137), "blue": (164, 960, 439)},
    (BT709, 10): {"red": (250, 409, 960), "green": (691, 167, 105), "blue": (127, 960, 471)},
}
PURE = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}


def _rgba(depth: int, matrix: YuvMatrix, y: int, cb: int, cr: int) -> tuple[int, ...]:
    shift = 0 if depth == 8 else 6
    dtype = np.uint8 if depth == 8 else np.uint16
    luma = np.full((2, 2), y << shift, dtype=dtype)
    chroma = np.array([[[cb << shift, cr << shift]]], dtype=dtype)
    out = reference_rgba(luma, chroma, depth, matrix)
    assert (out == out[0, 0]).all()
    return tuple(int(v) for v in out[0, 0])


@pytest.mark.parametrize("matrix", list(YuvMatrix), ids=lambda m: m.value)
@pytest.mark.parametrize("depth", [8, 10])
def test_black_and_white_are_exact(depth: int, matrix: YuvMatrix) -> None:
    s = 1 << (depth - 8)
    assert _rgba(depth, matrix, 16 * s, 128 * s, 128 * s) == (0, 0, 0, 255)
    assert _rgba(depth, matrix, 235 * s, 128 * s, 128 * s) == (255, 255, 255, 255)
    # Outside the limited range: clamped, not wrapped.
    assert _rgba(depth, matrix, 0, 128 * s, 128 * s) == (0, 0, 0, 255)
    assert _rgba(depth, matrix, (1 << depth) - 1, 128 * s, 128 * s) == (255, 255, 255, 255)


@pytest.mark.parametrize(("matrix", "depth"), list(PRIMARIES), ids=lambda v: getattr(v, "value", str(v)))
def test_primaries_within_one_code(matrix: YuvMatrix, depth: int) -> None:
    for colour, codes in PRIMARIES[(matrix, depth)].items():
        got = _rgba(depth, matrix, *codes)
        assert max(abs(g - w) for g, w in zip(got[:3], PURE[colour], strict=True)) <= 1, (colour, got)
        assert got[3] == 255


def test_matrices_against_the_published_coefficients() -> None:
    """Y=100, Cb=150, Cr=90 worked by hand with the coefficients BT.601 (1.402, 0.344136, 0.714136, 1.772)
    and BT.709 (1.5748, 0.187324, 0.468124, 1.8556) publish."""
    assert _rgba(8, BT601, 100, 150, 90) == (37, 120, 142, 255)
    assert _rgba(8, BT709, 100, 150, 90) == (30, 113, 144, 255)
    assert _rgba(10, BT709, 400, 600, 360) == (30, 113, 144, 255)


def test_chroma_is_nearest_per_2x2_block() -> None:
    luma = np.full((2, 4), 126, dtype=np.uint8)
    chroma = np.array([[[128, 128], [90, 240]]], dtype=np.uint8)
    out = reference_rgba(luma, chroma, 8, BT601)
    assert (out[:, :2] == out[0, 0]).all() and (out[:, 2:] == out[0, 2]).all()
    assert not (out[0, 0] == out[0, 2]).all()


def test_reference_refuses_mismatched_planes() -> None:
    with pytest.raises(ValueError, match="CbCr plane of shape"):
        reference_rgba(np.zeros((4, 4), np.uint8), np.zeros((2, 3, 2), np.uint8), 8, BT601)
    with pytest.raises(ValueError, match="must be uint16"):
        reference_rgba(np.zeros((4, 4), np.uint8), np.zeros((2, 2, 2), np.uint8), 10, BT601)


def test_layout_size_and_checks() -> None:
    layout = YuvLayout(depth=8, width=66, height=34, y_offset=3, y_pitch=67, uv_offset=2400, uv_pitch=69)
    assert layout.size == max(3 + 67 * 33 + 66, 2400 + 69 * 16 + 66)
    assert YuvLayout.packed(10, 4, 2).size == 4 * 2 * 2 + 4 * 2
    with pytest.raises(ValueError, match="even"):
        YuvLayout.packed(8, 65, 34)
    with pytest.raises(ValueError, match="neither 8"):
        YuvLayout.packed(12, 64, 34)
    with pytest.raises(ValueError, match="smaller than a 132-byte row"):
        YuvLayout(depth=10, width=66, height=34, y_offset=0, y_pitch=131, uv_offset=9000, uv_pitch=132)


@pytest.mark.parametrize("depth", [8, 10])
def test_planes_round_trip_through_padded_layouts(depth: int) -> None:
    rng = np.random.default_rng(depth)
    y, uv = random_planes(rng, depth, 66, 34)
    sample = 1 if depth == 8 else 2
    layout = YuvLayout(
        depth=depth,
        width=66,
        height=34,
        y_offset=5,
        y_pitch=66 * sample + 3,
        uv_offset=7 + (66 * sample + 3) * 34,
        uv_pitch=66 * sample + 9,
    )
    raw = bytes_from_planes(y, uv, layout, fill=0xA5)
    got_y, got_uv = planes_from_bytes(raw.tobytes(), layout)
    assert np.array_equal(got_y, y) and np.array_equal(got_uv, uv)
    # Padding stays padding: the bytes between rows are the fill, not samples.
    assert raw[5 + 66 * sample] == 0xA5 and raw[:5].tolist() == [0xA5] * 5
    # Little-endian 16-bit samples, read straight from the bytes.
    first = int(raw[5]) | (int(raw[6]) << 8) if depth == 10 else int(raw[5])
    assert first == int(y[0, 0])
    with pytest.raises(ValueError, match="bytes needed"):
        planes_from_bytes(raw[:-1], layout)


def test_compare_names_the_first_pixel_beyond_tolerance() -> None:
    want = np.zeros((3, 4, 4), dtype=np.uint8)
    got = want.copy()
    got[0, 0, 0] = 1
    assert compare_rgba(got, want) is None
    got[1, 2, 1] = 5
    got[2, 3, 2] = 9
    message = compare_rgba(got, want)
    assert message is not None
    assert "pixel (x=2, y=1) channel G is 5, expected 0" in message
    assert "2 values differ by more than 1, by up to 9" in message
    assert compare_rgba(got, want, tolerance=9) is None
    assert "is (2, 4, 4)" in (compare_rgba(want[:2], want) or "")


# --- the shader on this machine's driver ----------------------------------------------------------------


@pytest.fixture(scope="module")
def device() -> Iterator[object]:
    yield from open_first_device()


def _odd_layout(depth: int, width: int, height: int) -> YuvLayout:
    """Offsets and pitches that are no multiple of 4 (nor of 2): every word the shader reads is shared."""
    row = width * (1 if depth == 8 else 2)
    return YuvLayout(
        depth=depth,
        width=width,
        height=height,
        y_offset=3,
        y_pitch=row + 5,
        uv_offset=3 + (row + 5) * height + 7,
        uv_pitch=row + 1,
    )


SHADER_CASES = [
    (depth, matrix, width, height, layout)
    for depth in (8, 10)
    for matrix in YuvMatrix
    for width, height, layout in ((66, 34, "odd"), (1366, 768, "packed"))
]


@pytest.mark.parametrize(
    ("depth", "matrix", "width", "height", "layout_kind"),
    SHADER_CASES,
    ids=[f"{'NV12' if d == 8 else 'P010'}-{m.value}-{w}x{h}-{k}" for d, m, w, h, k in SHADER_CASES],
)
def test_shader_matches_the_reference(
    device, depth: int, matrix: YuvMatrix, width: int, height: int, layout_kind: str
) -> None:
    rng = np.random.default_rng(width * depth + matrix.shader_index)
    y, uv = random_planes(rng, depth, width, height)
    layout = (
        _odd_layout(depth, width, height) if layout_kind == "odd" else YuvLayout.packed(depth, width, height)
    )
    raw = bytes_from_planes(y, uv, layout, fill=0xFF)
    with device.scope():
        buffer, mapped = host_storage(device, -(-raw.size // 4) * 4)
        mapped[: raw.size] = raw
        got = gpu_rgba(device, buffer, layout, matrix)
    problem = compare_rgba(got, reference_rgba(y, uv, depth, matrix))
    assert problem is None, problem


def test_shader_output_differs_between_matrices(device) -> None:
    """Not a constant: the two matrices, on saturated colours, give different images."""
    y, uv = random_planes(np.random.default_rng(3), 8, 66, 34)
    layout = YuvLayout.packed(8, 66, 34)
    raw = bytes_from_planes(y, uv, layout, fill=0)
    with device.scope():
        buffer, mapped = host_storage(device, -(-raw.size // 4) * 4)
        mapped[: raw.size] = raw
        bt601 = gpu_rgba(device, buffer, layout, BT601)
        bt709 = gpu_rgba(device, buffer, layout, BT709)
    assert compare_rgba(bt601, bt709, tolerance=4) is not None


def test_shader_refuses_a_buffer_shorter_than_the_frame(device) -> None:
    layout = _odd_layout(8, 66, 34)
    with device.scope():
        buffer, _ = host_storage(device, layout.size - 1)
        with pytest.raises(ValueError, match="too small for the frame"):
            gpu_rgba(device, buffer, layout, BT601)

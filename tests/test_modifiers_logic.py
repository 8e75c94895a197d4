"""The DRM-modifier cases' own logic, without a device: formats and patterns, the LINEAR frames the CPU
writes, and the checks applied to what a driver answers."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from vkzc.conformance.formats import BY_NAME, FORMATS, LAYERS, MULTI_PLANAR
from vkzc.conformance.linear_planes import GUARD_BYTE, PLANE_ALIGNMENT, linear_frame
from vkzc.conformance.modifier_images import Exported, PlaneLayout
from vkzc.conformance.modifier_queries import describe_answer, list_problems, modifier_id, usage_inconsistency
from vkzc.probe.modifiers import INVALID, LINEAR, VENDOR_INTEL, VENDOR_NVIDIA, fourcc_mod_code
from vkzc.vk.formats import DrmFormatModifier, ExternalMemoryFeatures, ImageFormatAnswer

WIDTH, HEIGHT = 130, 66
SAMPLED_IMAGE = 0x1
STORAGE_IMAGE = 0x2


def test_the_issue_formats_are_all_there() -> None:
    assert {f.name for f in FORMATS} == {
        "R8_UNORM",
        "R8G8_UNORM",
        "R8G8B8A8_UNORM",
        "R8G8B8A8_SRGB",
        "B8G8R8A8_UNORM",
        "B8G8R8A8_SRGB",
        "A2B10G10R10_UNORM_PACK32",
        "R16_UNORM",
        "G8_B8R8_2PLANE_420_UNORM",
        "G10X6_B10X6R10X6_2PLANE_420_UNORM_3PACK16",
        "G8_B8_R8_3PLANE_420_UNORM",
    }
    assert MULTI_PLANAR == (
        "G8_B8R8_2PLANE_420_UNORM",
        "G10X6_B10X6R10X6_2PLANE_420_UNORM_3PACK16",
        "G8_B8_R8_3PLANE_420_UNORM",
    )


def test_plane_sizes_follow_the_subsampling() -> None:
    nv12 = BY_NAME["G8_B8R8_2PLANE_420_UNORM"]
    assert nv12.plane_bytes(WIDTH, HEIGHT) == (130 * 66, 65 * 2 * 33)
    p010 = BY_NAME["G10X6_B10X6R10X6_2PLANE_420_UNORM_3PACK16"]
    assert p010.plane_bytes(WIDTH, HEIGHT) == (130 * 2 * 66, 65 * 4 * 33)
    assert BY_NAME["G8_B8_R8_3PLANE_420_UNORM"].plane_bytes(WIDTH, HEIGHT) == (130 * 66, 65 * 33, 65 * 33)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_each_plane_has_its_own_seeded_pattern(fmt) -> None:
    first = fmt.pattern(0xFFFFFFFF, WIDTH, HEIGHT)  # the largest seed: seed + plane index wraps
    again = fmt.pattern(0xFFFFFFFF, WIDTH, HEIGHT)
    assert [p.size for p in first] == list(fmt.plane_bytes(WIDTH, HEIGHT))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    if fmt.multi_planar:
        assert not np.array_equal(first[0][:100], first[1][:100])


def test_padding_bits_of_10_bit_samples_are_zero_and_ignored() -> None:
    p010 = BY_NAME["G10X6_B10X6R10X6_2PLANE_420_UNORM_3PACK16"]
    for plane in p010.pattern(7, WIDTH, HEIGHT):
        assert not np.any(plane.view(np.uint16) & 0x3F)
    noisy = np.array([0xFFFF, 0x0040], dtype=np.uint16).view(np.uint8)
    assert p010.significant(noisy).view(np.uint16).tolist() == [0xFFC0, 0x0040]
    raw = np.arange(4, dtype=np.uint8)
    assert BY_NAME["R16_UNORM"].significant(raw) is raw


@pytest.mark.parametrize("name", MULTI_PLANAR)
def test_layers_hold_their_plane_bytes(name: str) -> None:
    """FFmpeg's per-plane layer formats have the plane's texel size, so a layer is the plane's bytes."""
    for plane in BY_NAME[name].planes:
        layer = LAYERS[plane.layer]
        assert not layer.multi_planar
        assert layer.planes[0].texel_bytes == plane.texel_bytes


FRAMES = [*((f, False) for f in FORMATS), *((f, True) for f in FORMATS if f.multi_planar)]


@pytest.mark.parametrize(
    ("fmt", "disjoint"), FRAMES, ids=[f"{f.name}-disjoint" if d else f.name for f, d in FRAMES]
)
def test_linear_frames_have_padded_rows_and_offset_planes(fmt, disjoint: bool) -> None:
    frame = linear_frame(fmt, WIDTH, HEIGHT, disjoint=disjoint)
    assert len(frame.layouts) == len(fmt.planes)
    assert len(frame.object_sizes) == (len(fmt.planes) if disjoint else 1)
    for index, layout in enumerate(frame.layouts):
        row_bytes, rows = frame.rows(index)
        assert layout.row_pitch > row_bytes and layout.row_pitch % 256 == 0
        assert layout.offset > 0 and layout.offset % PLANE_ALIGNMENT == 0
        assert layout.offset + layout.row_pitch * rows <= frame.object_sizes[frame.objects[index]]
    spans = sorted((frame.objects[i], p.offset, p.offset + p.size) for i, p in enumerate(frame.layouts))
    for (obj, _, end), (next_obj, start, _) in pairwise(spans):
        assert obj != next_obj or end <= start, "planes in one object overlap"
    if disjoint:
        assert len({p.offset for p in frame.layouts}) == len(frame.layouts), "disjoint planes share an offset"


@pytest.mark.parametrize("disjoint", (False, True))
def test_a_frame_reads_back_what_was_written_and_sees_a_touched_guard(disjoint: bool) -> None:
    fmt = BY_NAME["G8_B8_R8_3PLANE_420_UNORM"]
    frame = linear_frame(fmt, WIDTH, HEIGHT, disjoint=disjoint)
    planes = fmt.pattern(1, WIDTH, HEIGHT)
    objects = [np.zeros(size + 4096, dtype=np.uint8) for size in frame.object_sizes]  # exporters round up
    read: dict[int, np.ndarray] = {}
    for index, raw in enumerate(objects):
        frame.write(index, raw, planes)
        assert frame.guard_problem(index, raw) is None
        read.update(frame.read(index, raw))
    assert all(np.array_equal(read[i], planes[i]) for i in range(len(planes)))
    last = objects[-1]
    layout = frame.layouts[-1]
    row_bytes, _ = frame.rows(len(planes) - 1)
    assert last[layout.offset + row_bytes] == GUARD_BYTE  # the first padding byte of a row
    last[layout.offset + row_bytes] ^= 0xFF
    assert "1 bytes outside the image's rows changed" in (frame.guard_problem(len(objects) - 1, last) or "")


def _modifier(value: int, planes: int = 1, features: int = SAMPLED_IMAGE) -> DrmFormatModifier:
    return DrmFormatModifier(value=value, plane_count=planes, features=features)


TILED = fourcc_mod_code(VENDOR_INTEL, 2)


def test_lists_that_agree_have_no_problem() -> None:
    first = (_modifier(LINEAR), _modifier(TILED, 2))
    # List2 carries the same 32-bit features and may add 64-bit ones.
    second = (_modifier(TILED, 2, SAMPLED_IMAGE | 1 << 33), _modifier(LINEAR))
    assert list_problems(first, second) == []
    assert list_problems((), ()) == []


def test_lists_that_disagree_say_how() -> None:
    problems = list_problems(
        (_modifier(LINEAR), _modifier(TILED, 2)),
        (
            _modifier(LINEAR, features=STORAGE_IMAGE),
            _modifier(TILED, 3),
            _modifier(fourcc_mod_code(VENDOR_INTEL, 1)),
        ),
    )
    assert problems == [
        "LINEAR has features 0x1 in List, 0x2 in List2",
        "I915_Y_TILED (0x0100000000000002) has 2 planes in List, 3 in List2",
        "I915_X_TILED (0x0100000000000001) is in List2 but not in List",
    ]


def test_invalid_and_featureless_modifiers_are_problems() -> None:
    problems = list_problems((_modifier(INVALID), _modifier(TILED, features=0)), (_modifier(INVALID),))
    assert "DRM_FORMAT_MOD_INVALID is listed (VkDrmFormatModifierPropertiesEXT: must not be)" in problems
    assert "I915_Y_TILED (0x0100000000000002) is listed with no feature (must have one)" in problems


def test_modifier_ids_are_names_or_values() -> None:
    assert modifier_id(LINEAR) == "LINEAR"
    assert modifier_id(TILED) == "I915_Y_TILED"
    block_linear = fourcc_mod_code(VENDOR_NVIDIA, 0x10 | 0xFE << 12 | 2 << 20 | 4)
    assert modifier_id(block_linear) == f"0x{block_linear:016x}"  # its name has commas and parentheses
    assert modifier_id(fourcc_mod_code(0x7F, 5)) == "0x7f00000000000005"


EXPORTABLE, IMPORTABLE, DEDICATED_ONLY = 0x2, 0x4, 0x1  # VkExternalMemoryFeatureFlagBits


def _answer(result: str = "VK_SUCCESS", features: int = EXPORTABLE | IMPORTABLE) -> ImageFormatAnswer:
    external = ExternalMemoryFeatures(features=features, export_from_imported=0, compatible=0)
    supported = result == "VK_SUCCESS"
    return ImageFormatAnswer(
        result=result,
        external=external if supported else None,
        max_extent=(16384, 16384) if supported else (0, 0),
    )


def test_a_supported_usage_must_be_a_listed_feature() -> None:
    assert usage_inconsistency("sampled", _answer(), SAMPLED_IMAGE) is None
    assert usage_inconsistency("storage", _answer("VK_ERROR_FORMAT_NOT_SUPPORTED"), SAMPLED_IMAGE) is None
    problem = usage_inconsistency("storage", _answer(), SAMPLED_IMAGE)
    assert problem is not None and "lack STORAGE_IMAGE" in problem


def test_answers_read_as_the_driver_gave_them() -> None:
    assert describe_answer(_answer()) == "VK_SUCCESS (export, import; max 16384x16384)"
    dedicated = _answer(features=IMPORTABLE | DEDICATED_ONLY)
    assert describe_answer(dedicated) == "VK_SUCCESS (import, dedicated only; max 16384x16384)"
    assert describe_answer(_answer("VK_ERROR_FORMAT_NOT_SUPPORTED")) == "VK_ERROR_FORMAT_NOT_SUPPORTED"


def _exported(modifier: int, layouts: list[tuple[int, int]], sizes: tuple[int, ...]) -> Exported:
    return Exported(
        modifier=modifier,
        layouts=tuple(PlaneLayout(offset=o, size=s, row_pitch=256) for o, s in layouts),
        fds=(),
        memory_types=(0,) * len(sizes),
        sizes=sizes,
    )


def test_linear_planes_must_not_overlap_and_must_fit() -> None:
    assert _exported(LINEAR, [(0, 4096), (4096, 2048)], (6144,)).layout_problem(False) is None
    overlap = _exported(LINEAR, [(0, 4096), (0, 4096)], (8192,)).layout_problem(False)
    assert overlap is not None and overlap.startswith("LINEAR memory planes 0 and 1 overlap")
    # Other modifiers may place metadata planes as they like; DISJOINT planes are in memories of their own.
    assert _exported(TILED, [(0, 4096), (0, 4096)], (8192,)).layout_problem(False) is None
    assert _exported(LINEAR, [(0, 4096), (0, 2048)], (4096, 2048)).layout_problem(True) is None
    past = _exported(LINEAR, [(0, 4096), (4096, 4096)], (6144,)).layout_problem(False)
    assert past == "memory plane 1 (offset 4096, size 4096) ends past its 6144-byte allocation"

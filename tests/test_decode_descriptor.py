"""vkzc/decode/drm_descriptor.py: the ctypes AVDRMFrameDescriptor against libavutil's hwcontext_drm.h
(compiled with gcc), and the reading and validation of synthetic descriptors, valid and not."""

from __future__ import annotations

import ctypes
import glob
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from vkzc.decode import drm_descriptor as d
from vkzc.decode.layouts import BY_NAME, place
from vkzc.probe.modifiers import LINEAR

# Debian puts it under the multiarch include folder, which gcc searches.
HEADERS = ("/usr/include/libavutil/hwcontext_drm.h", "/usr/include/*-linux-gnu/libavutil/hwcontext_drm.h")
STRUCTS = {
    "AVDRMObjectDescriptor": d.AVDRMObjectDescriptor,
    "AVDRMPlaneDescriptor": d.AVDRMPlaneDescriptor,
    "AVDRMLayerDescriptor": d.AVDRMLayerDescriptor,
    "AVDRMFrameDescriptor": d.AVDRMFrameDescriptor,
}


def _expressions() -> dict[str, int]:
    found = {"AV_DRM_MAX_PLANES": d.AV_DRM_MAX_PLANES}
    for name, struct in STRUCTS.items():
        found[f"sizeof({name})"] = ctypes.sizeof(struct)
        for field in struct._fields_:
            found[f"offsetof({name}, {field[0]})"] = getattr(struct, field[0]).offset
    return found


def test_layout_matches_libavutil(tmp_path: Path) -> None:
    compiler = shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler (gcc) to read hwcontext_drm.h with: apt-get install gcc")
    if not any(glob.glob(pattern) for pattern in HEADERS):
        pytest.skip("no libavutil/hwcontext_drm.h: apt-get install libavutil-dev")
    expected = _expressions()
    lines = "".join(f'    printf("%s=%zu\\n", "{e}", (size_t)({e}));\n' for e in expected)
    source = tmp_path / "layout.c"
    source.write_text(
        "#include <stddef.h>\n#include <stdio.h>\n#include <libavutil/hwcontext_drm.h>\n"
        f"int main(void) {{\n{lines}    return 0;\n}}\n"
    )
    binary = tmp_path / "layout"
    built = subprocess.run([compiler, str(source), "-o", str(binary)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    printed = subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout
    seen = dict(line.split("=") for line in printed.splitlines())
    assert {k: int(v) for k, v in seen.items()} == expected
    assert expected["sizeof(AVDRMFrameDescriptor)"] == 528


@pytest.fixture
def memfds() -> Iterator[list[int]]:
    """Two fds with sizes that lseek(SEEK_END) reports, as dma-bufs do."""
    fds = []
    for size in (8192, 4096):
        fd = os.memfd_create("vkzc-test")
        os.ftruncate(fd, size)
        fds.append(fd)
    yield fds
    for fd in fds:
        os.close(fd)


def _struct(fds: list[int], *, sizes: tuple[int, int] = (0, 0)) -> d.AVDRMFrameDescriptor:
    raw = d.AVDRMFrameDescriptor()
    raw.nb_objects = 2
    for i, fd in enumerate(fds):
        raw.objects[i].fd = fd
        raw.objects[i].size = sizes[i]
        raw.objects[i].format_modifier = LINEAR
    raw.nb_layers = 2
    for i, (fmt, pitch) in enumerate(((d.R8, 64), (d.GR88, 64))):
        raw.layers[i].format = fmt
        raw.layers[i].nb_planes = 1
        raw.layers[i].planes[0].object_index = i
        raw.layers[i].planes[0].offset = 0
        raw.layers[i].planes[0].pitch = pitch
    return raw


def test_reads_a_two_object_two_layer_descriptor(memfds: list[int]) -> None:
    raw = _struct(memfds)
    frame = d.read(ctypes.addressof(raw), 64, 64)
    assert [p.object_index for p in frame.planes] == [0, 1]
    assert frame.object_size(0) == 8192  # size 0: asked of the fd
    assert d.problems(frame) == []
    record = json.loads(frame.to_json())
    assert record["layers"][1]["format"] == "GR88"
    assert record["objects"][0]["modifier"] == "LINEAR"


def test_flags_a_plane_past_its_object(memfds: list[int]) -> None:
    raw = _struct(memfds)
    raw.layers[1].planes[0].offset = 4000  # 4000 + 64 × 32 rows > 4096
    found = d.problems(d.read(ctypes.addressof(raw), 64, 64))
    assert len(found) == 1 and "ends past object 1's 4096 bytes" in found[0]


def test_flags_dead_fds_and_bad_indices(memfds: list[int]) -> None:
    raw = _struct(memfds)
    raw.layers[1].planes[0].object_index = 3
    assert "names object 3 of 2" in d.problems(d.read(ctypes.addressof(raw), 64, 64))[0]
    closed = os.memfd_create("vkzc-closed")
    os.close(closed)
    raw.objects[1].fd = closed
    assert "is not open" in d.problems(d.read(ctypes.addressof(raw), 64, 64))[0]


@pytest.mark.parametrize("count", [0, 5])
def test_refuses_impossible_counts(memfds: list[int], count: int) -> None:
    raw = _struct(memfds)
    raw.nb_objects = count
    with pytest.raises(ValueError, match="objects"):
        d.read(ctypes.addressof(raw), 64, 64)


def test_refuses_null() -> None:
    with pytest.raises(ValueError, match="NULL"):
        d.read(0, 64, 64)


@pytest.mark.parametrize("layout", sorted(BY_NAME))
@pytest.mark.parametrize(("depth", "size"), [(8, (1920, 1080)), (10, (1366, 768)), (8, (64, 64))])
def test_layout_placements_are_valid(layout: str, depth: int, size: tuple[int, int]) -> None:
    placement = place(BY_NAME[layout], depth, *size)
    spec = BY_NAME[layout]
    y, uv = placement.planes
    assert y.pitch % spec.pitch_alignment == 0 and y.pitch >= y.row_bytes == size[0] * (
        depth // 8 + (depth > 8)
    )
    assert all(s % 4096 == 0 for s in placement.object_sizes)
    if spec.two_objects:
        assert (y.object_index, uv.object_index, uv.offset) == (0, 1, 0)
    else:
        # CbCr starts after the coded height's Y rows (1080 → 1088 or more), never inside them.
        assert uv.offset >= y.pitch * -(-size[1] // spec.height_alignment) * spec.height_alignment
        assert uv.offset + uv.pitch * uv.rows <= placement.object_sizes[0]
    fds = []
    try:
        for object_size in placement.object_sizes:
            fd = os.memfd_create("vkzc-layout")
            os.ftruncate(fd, object_size)
            fds.append(fd)
        assert d.problems(placement.descriptor(tuple(fds))) == []
    finally:
        for fd in fds:
            os.close(fd)

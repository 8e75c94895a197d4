"""LINEAR frames as a decoder or a camera leaves them in dma-bufs the CPU fills: each plane's rows at a pitch
larger than the row, starting at a non-zero offset, every plane in one object or each in its own.

The bytes that belong to no row (before the first plane, between rows and planes, after the last)
hold a guard value; after the GPU writes the image, they must still hold it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vkzc.conformance.formats import Bytes, Format
from vkzc.conformance.modifier_images import PlaneLayout
from vkzc.dmabuf.heap import DmaHeap
from vkzc.dmabuf.udmabuf import Udmabuf

# 256-byte pitches and page-aligned planes are what every GPU we know imports LINEAR with (AMD and
# NVIDIA need 256-byte pitches, Intel 64, Arm Mali 64); the extra 256 bytes make the padding real.
ROW_ALIGNMENT = 256
ROW_PADDING = 256
PLANE_ALIGNMENT = 4096
FIRST_OFFSET = 4096  # the frame starts one page into its buffer, as frames in a pool often do
GUARD_BYTE = 0xA5
# Where the CPU's frames come from: dma-bufs over plain pages, as a decoder's or a camera's would be.
CPU_EXPORTERS = {"udmabuf": Udmabuf, "dma-heap": DmaHeap}


def _round_up(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


@dataclass(frozen=True, kw_only=True)
class LinearFrame:
    format: Format
    width: int
    height: int
    layouts: tuple[PlaneLayout, ...]  # per plane; offsets within the plane's object
    objects: tuple[int, ...]  # per plane: the index of the dma-buf holding it
    object_sizes: tuple[int, ...]

    def rows(self, plane: int) -> tuple[int, int]:
        """(row bytes, row count) of a plane."""
        spec = self.format.planes[plane]
        return spec.row_bytes(self.width), spec.extent(self.width, self.height)[1]

    def describe(self) -> str:
        return "; ".join(
            f"plane {i} in dma-buf {self.objects[i]} at offset {p.offset}, rowPitch {p.row_pitch}"
            for i, p in enumerate(self.layouts)
        )

    def planes_in(self, obj: int) -> list[int]:
        return [i for i, o in enumerate(self.objects) if o == obj]

    def _row_view(self, raw: Bytes, plane: int) -> Bytes:
        """The plane's rows within its object's bytes, as a (rows, row bytes) view."""
        layout = self.layouts[plane]
        row_bytes, rows = self.rows(plane)
        block = raw[layout.offset : layout.offset + layout.row_pitch * rows]
        return block.reshape(rows, layout.row_pitch)[:, :row_bytes]

    def write(self, obj: int, raw: Bytes, planes: Sequence[Bytes]) -> None:
        """Fill object `obj` (its mapped bytes): the guard everywhere, then its planes' rows."""
        raw[:] = GUARD_BYTE
        for plane in self.planes_in(obj):
            view = self._row_view(raw, plane)
            view[:] = planes[plane].reshape(view.shape)

    def read(self, obj: int, raw: Bytes) -> dict[int, Bytes]:
        """The planes of object `obj`, tightly packed, by plane index."""
        return {plane: self._row_view(raw, plane).copy().reshape(-1) for plane in self.planes_in(obj)}

    def guard_problem(self, obj: int, raw: Bytes) -> str | None:
        """None when every byte of object `obj` outside the planes' rows still holds the guard."""
        outside = np.ones(raw.size, dtype=bool)
        for plane in self.planes_in(obj):
            self._row_view(outside.view(np.uint8), plane)[:] = 0
        touched = np.flatnonzero(outside & (raw != GUARD_BYTE))
        if not touched.size:
            return None
        return (
            f"{touched.size} bytes outside the image's rows changed in dma-buf {obj} "
            f"(first at byte {int(touched[0])}: row padding or the gap before or between planes)"
        )


def linear_frame(fmt: Format, width: int, height: int, *, disjoint: bool) -> LinearFrame:
    """The frame's placement: one object holding every plane, or (`disjoint`) one object per plane."""
    layouts = []
    objects = []
    sizes: list[int] = []
    offset = FIRST_OFFSET
    for index, plane in enumerate(fmt.planes):
        row_bytes = plane.row_bytes(width)
        rows = plane.extent(width, height)[1]
        pitch = _round_up(row_bytes, ROW_ALIGNMENT) + ROW_PADDING
        if disjoint and index:
            # Each further object's plane one page further in: no two planes share an offset, so an
            # importer that places one plane by another's layout is caught.
            offset = FIRST_OFFSET * (index + 1)
        layouts.append(PlaneLayout(offset=offset, size=pitch * rows, row_pitch=pitch))
        end = _round_up(offset + pitch * rows, PLANE_ALIGNMENT)
        if disjoint or not sizes:
            objects.append(len(sizes))
            sizes.append(end)
        else:
            objects.append(0)
            sizes[0] = end
        offset = end
    return LinearFrame(
        format=fmt,
        width=width,
        height=height,
        layouts=tuple(layouts),
        objects=tuple(objects),
        object_sizes=tuple(sizes),
    )

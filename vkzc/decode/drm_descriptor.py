"""FFmpeg's AVDRMFrameDescriptor (libavutil/hwcontext_drm.h): the description of a DRM PRIME frame, read
from a hardware frame's data[0] (PyAV: `frame.planes[0].buffer_ptr`), validated, and recorded as JSON so
a failing import can be reproduced.

Every source describes its frames this way, the software source included, so that import code sees one
shape whatever decoded the frame.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
from dataclasses import asdict, dataclass
from typing import Any

from vkzc.conformance.modifier_queries import modifier_name

AV_DRM_MAX_PLANES = 4


class AVDRMObjectDescriptor(ctypes.Structure):
    _fields_ = (("fd", ctypes.c_int), ("size", ctypes.c_size_t), ("format_modifier", ctypes.c_uint64))


class AVDRMPlaneDescriptor(ctypes.Structure):
    _fields_ = (("object_index", ctypes.c_int), ("offset", ctypes.c_ssize_t), ("pitch", ctypes.c_ssize_t))


class AVDRMLayerDescriptor(ctypes.Structure):
    _fields_ = (
        ("format", ctypes.c_uint32),
        ("nb_planes", ctypes.c_int),
        ("planes", AVDRMPlaneDescriptor * AV_DRM_MAX_PLANES),
    )


class AVDRMFrameDescriptor(ctypes.Structure):
    _fields_ = (
        ("nb_objects", ctypes.c_int),
        ("objects", AVDRMObjectDescriptor * AV_DRM_MAX_PLANES),
        ("nb_layers", ctypes.c_int),
        ("layers", AVDRMLayerDescriptor * AV_DRM_MAX_PLANES),
    )


def fourcc(code: str) -> int:
    return int.from_bytes(code.encode("ascii"), "little")


def fourcc_name(value: int) -> str:
    text = value.to_bytes(4, "little").decode("ascii", errors="replace")
    return text if text.isprintable() else f"0x{value:08x}"


# The DRM fourccs decoders hand out (drm_fourcc.h): whole frames, and the single planes of FFmpeg's
# layer form (R8 + GR88 for NV12, R16 + GR1616 for P010).
NV12, P010 = fourcc("NV12"), fourcc("P010")
R8, GR88, R16, GR1616 = fourcc("R8  "), fourcc("GR88"), fourcc("R16 "), fourcc("GR32")


@dataclass(frozen=True, kw_only=True)
class DrmObject:
    fd: int
    size: int  # 0: unknown, ask the dma-buf (lseek SEEK_END)
    modifier: int


@dataclass(frozen=True, kw_only=True)
class DrmPlane:
    object_index: int
    offset: int
    pitch: int


@dataclass(frozen=True, kw_only=True)
class DrmLayer:
    format: int
    planes: tuple[DrmPlane, ...]


@dataclass(frozen=True, kw_only=True)
class DrmFrame:
    """An AVDRMFrameDescriptor with its frame size (the descriptor itself has none)."""

    objects: tuple[DrmObject, ...]
    layers: tuple[DrmLayer, ...]
    width: int
    height: int

    @property
    def planes(self) -> tuple[DrmPlane, ...]:
        """Every plane, in layer order: Y then CbCr for one NV12 layer or for R8 + GR88 layers."""
        return tuple(p for layer in self.layers for p in layer.planes)

    def object_size(self, index: int) -> int:
        obj = self.objects[index]
        return obj.size or os.lseek(obj.fd, 0, os.SEEK_END)

    def record(self) -> dict[str, Any]:
        """What a failure report needs to rebuild the import: modifiers by name, fourccs as text."""
        return {
            "width": self.width,
            "height": self.height,
            "objects": [
                asdict(o) | {"modifier": modifier_name(o.modifier), "size_seen": self.object_size(i)}
                for i, o in enumerate(self.objects)
            ],
            "layers": [
                {"format": fourcc_name(layer.format), "planes": [asdict(p) for p in layer.planes]}
                for layer in self.layers
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.record(), sort_keys=True)


def from_struct(raw: AVDRMFrameDescriptor, width: int, height: int) -> DrmFrame:
    if not 0 < raw.nb_objects <= AV_DRM_MAX_PLANES or not 0 < raw.nb_layers <= AV_DRM_MAX_PLANES:
        raise ValueError(
            f"AVDRMFrameDescriptor has {raw.nb_objects} objects and {raw.nb_layers} layers "
            f"(each must be 1..{AV_DRM_MAX_PLANES})"
        )
    layers = []
    for layer in raw.layers[: raw.nb_layers]:
        if not 0 < layer.nb_planes <= AV_DRM_MAX_PLANES:
            raise ValueError(f"a layer of the AVDRMFrameDescriptor has {layer.nb_planes} planes")
        planes = tuple(
            DrmPlane(object_index=p.object_index, offset=p.offset, pitch=p.pitch)
            for p in layer.planes[: layer.nb_planes]
        )
        layers.append(DrmLayer(format=layer.format, planes=planes))
    objects = tuple(
        DrmObject(fd=o.fd, size=o.size, modifier=o.format_modifier) for o in raw.objects[: raw.nb_objects]
    )
    return DrmFrame(objects=objects, layers=tuple(layers), width=width, height=height)


def read(address: int, width: int, height: int) -> DrmFrame:
    """The descriptor at `address` (an AV_PIX_FMT_DRM_PRIME frame's data[0])."""
    if not address:
        raise ValueError("the frame's data[0] is NULL: not a DRM PRIME frame")
    return from_struct(AVDRMFrameDescriptor.from_address(address), width, height)


def _rows(plane_index: int, height: int) -> int:
    # 4:2:0: the CbCr plane has half the rows.
    return height if plane_index == 0 else -(-height // 2)


def problems(frame: DrmFrame) -> list[str]:
    """What makes the descriptor unusable: dead fds, planes pointing at missing objects or past their end."""
    found = []
    for index, obj in enumerate(frame.objects):
        try:
            os.fstat(obj.fd)
        except OSError as e:
            found.append(f"object {index}: fd {obj.fd} is not open ({errno.errorcode.get(e.errno or 0, e)})")
    if found:
        return found
    for index, plane in enumerate(frame.planes):
        if not 0 <= plane.object_index < len(frame.objects):
            found.append(f"plane {index} names object {plane.object_index} of {len(frame.objects)}")
            continue
        if plane.offset < 0 or plane.pitch <= 0:
            found.append(f"plane {index} has offset {plane.offset} and pitch {plane.pitch}")
            continue
        end = plane.offset + plane.pitch * _rows(index, frame.height)
        size = frame.object_size(plane.object_index)
        if end > size:
            found.append(
                f"plane {index} (offset {plane.offset} + pitch {plane.pitch} × {_rows(index, frame.height)} "
                f"rows = {end}) ends past object {plane.object_index}'s {size} bytes"
            )
    return found

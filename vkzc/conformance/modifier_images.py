"""Images with DRM format modifiers: created from a modifier list or an explicit plane layout, bound to
exported or imported memory (one allocation, or one per memory plane for DISJOINT images).

resources.Image is not used: it asks vkGetImageMemoryRequirements at creation, which is invalid for
DISJOINT images (VUID-vkGetImageMemoryRequirements-image-01588), whose requirements are per plane.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from vkzc.conformance.external import DMA_BUF, dma_buf_type_bits, memory_fd
from vkzc.conformance.formats import MEMORY_PLANE_ASPECTS, Format
from vkzc.conformance.modifier_queries import modifier_name
from vkzc.probe.modifiers import INVALID, LINEAR
from vkzc.vk.binding import load
from vkzc.vk.errors import call, check
from vkzc.vk.formats import ExternalMemoryFeatures, enum_constant
from vkzc.vk.instance import link
from vkzc.vk.memory import DEVICE_LOCAL, Memory, select_memory_type
from vkzc.vk.resources import Requirements

if TYPE_CHECKING:
    from vkzc.vk.device import Device

vk = load()

DISJOINT = enum_constant("VkImageCreateFlagBits", "VK_IMAGE_CREATE_DISJOINT_BIT")
TRANSFER = vk.VK_IMAGE_USAGE_TRANSFER_SRC_BIT | vk.VK_IMAGE_USAGE_TRANSFER_DST_BIT


@dataclass(frozen=True, kw_only=True)
class PlaneLayout:
    """One memory plane's VkSubresourceLayout (array and depth pitches are 0 for one-layer 2D images)."""

    offset: int
    size: int
    row_pitch: int


@dataclass(frozen=True, kw_only=True)
class ImageSpec:
    format: Format
    width: int
    height: int
    usage: int
    disjoint: bool = False

    @property
    def flags(self) -> int:
        return DISJOINT if self.disjoint else 0


class ModifierImage:
    """A 2D VkImage with tiling DRM_FORMAT_MODIFIER_EXT, owned by its device.

    `modifiers` lets the driver choose (VkImageDrmFormatModifierListCreateInfoEXT); `explicit` fixes
    the modifier and every memory plane's offset and pitch (…ExplicitCreateInfoEXT), as an importer must.
    """

    def __init__(
        self,
        device: Device,
        spec: ImageSpec,
        *,
        handle_type: int,
        modifiers: Sequence[int] = (),
        explicit: tuple[int, Sequence[PlaneLayout]] | None = None,
    ) -> None:
        if (explicit is None) == (not modifiers):
            raise ValueError("give either a modifier list or an explicit modifier and layout")
        chosen = (explicit[0],) if explicit is not None else tuple(modifiers)
        if INVALID in chosen:
            # DRM_FORMAT_MOD_INVALID means "no modifier known": never a layout to create an image with.
            raise ValueError("DRM_FORMAT_MOD_INVALID is not a modifier an image can be created with")
        self.device = device
        self.spec = spec
        self.handle_type = handle_type
        self.memories: tuple[Memory, ...] = ()
        if explicit is None:
            values = vk.ffi.new("uint64_t[]", list(modifiers))
            modifier_info = vk.VkImageDrmFormatModifierListCreateInfoEXT(
                sType=vk.VK_STRUCTURE_TYPE_IMAGE_DRM_FORMAT_MODIFIER_LIST_CREATE_INFO_EXT,
                drmFormatModifierCount=len(modifiers),
                pDrmFormatModifiers=values,
            )
        else:
            modifier, layouts = explicit
            values = vk.ffi.new("VkSubresourceLayout[]", len(layouts))
            for i, layout in enumerate(layouts):
                # size must be 0 (the driver computes it); array and depth pitches are 0 for 2D, one layer.
                values[i].offset = layout.offset
                values[i].rowPitch = layout.row_pitch
            modifier_info = vk.VkImageDrmFormatModifierExplicitCreateInfoEXT(
                sType=vk.VK_STRUCTURE_TYPE_IMAGE_DRM_FORMAT_MODIFIER_EXPLICIT_CREATE_INFO_EXT,
                drmFormatModifier=modifier,
                drmFormatModifierPlaneCount=len(layouts),
                pPlaneLayouts=values,
            )
        external = vk.VkExternalMemoryImageCreateInfo(
            sType=vk.VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_IMAGE_CREATE_INFO, handleTypes=handle_type
        )
        info = vk.VkImageCreateInfo(
            sType=vk.VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO,
            flags=spec.flags,
            imageType=vk.VK_IMAGE_TYPE_2D,
            format=spec.format.vk_format,
            extent=vk.VkExtent3D(width=spec.width, height=spec.height, depth=1),
            mipLevels=1,
            arrayLayers=1,
            samples=vk.VK_SAMPLE_COUNT_1_BIT,
            tiling=vk.VK_IMAGE_TILING_DRM_FORMAT_MODIFIER_EXT,
            usage=spec.usage,
            sharingMode=vk.VK_SHARING_MODE_EXCLUSIVE,
            initialLayout=vk.VK_IMAGE_LAYOUT_UNDEFINED,
        )
        link(info, modifier_info, *([external] if handle_type else []))
        self.handle = call("vkCreateImage", device.handle, info, None)
        device.own(self)

    @property
    def modifier(self) -> int:
        """The modifier the image has (vkGetImageDrmFormatModifierPropertiesEXT)."""
        props = vk.VkImageDrmFormatModifierPropertiesEXT(
            sType=vk.VK_STRUCTURE_TYPE_IMAGE_DRM_FORMAT_MODIFIER_PROPERTIES_EXT
        )
        fn = self.device.proc("vkGetImageDrmFormatModifierPropertiesEXT")
        check(
            "vkGetImageDrmFormatModifierPropertiesEXT",
            fn,
            self.device.handle,
            self.handle,
            vk.ffi.addressof(props),
        )
        return int(props.drmFormatModifier)

    def layouts(self, memory_planes: int) -> tuple[PlaneLayout, ...]:
        """vkGetImageSubresourceLayout of each memory plane (VK_IMAGE_ASPECT_MEMORY_PLANE_i_BIT_EXT)."""
        found = []
        for aspect in MEMORY_PLANE_ASPECTS[:memory_planes]:
            subresource = vk.VkImageSubresource(aspectMask=aspect, mipLevel=0, arrayLayer=0)
            raw = vk.vkGetImageSubresourceLayout(self.device.handle, self.handle, subresource)
            found.append(PlaneLayout(offset=int(raw.offset), size=int(raw.size), row_pitch=int(raw.rowPitch)))
        return tuple(found)

    def requirements(self, memory_planes: int) -> tuple[tuple[Requirements, bool], ...]:
        """What each binding needs, and whether the driver requires a dedicated allocation for it: one
        binding, or one per memory plane for a DISJOINT image."""
        aspects: Sequence[int | None] = (
            MEMORY_PLANE_ASPECTS[:memory_planes] if self.spec.disjoint else (None,)
        )
        found = []
        for aspect in aspects:
            info = vk.VkImageMemoryRequirementsInfo2(
                sType=vk.VK_STRUCTURE_TYPE_IMAGE_MEMORY_REQUIREMENTS_INFO_2, image=self.handle
            )
            plane = vk.VkImagePlaneMemoryRequirementsInfo(
                sType=vk.VK_STRUCTURE_TYPE_IMAGE_PLANE_MEMORY_REQUIREMENTS_INFO, planeAspect=aspect or 0
            )
            if aspect is not None:
                link(info, plane)
            dedicated = vk.VkMemoryDedicatedRequirements(
                sType=vk.VK_STRUCTURE_TYPE_MEMORY_DEDICATED_REQUIREMENTS
            )
            out = link(vk.VkMemoryRequirements2(sType=vk.VK_STRUCTURE_TYPE_MEMORY_REQUIREMENTS_2), dedicated)
            vk.vkGetImageMemoryRequirements2(
                self.device.handle, vk.ffi.addressof(info), vk.ffi.addressof(out)
            )
            raw = out.memoryRequirements
            found.append(
                (
                    Requirements(
                        size=int(raw.size), alignment=int(raw.alignment), type_bits=int(raw.memoryTypeBits)
                    ),
                    bool(dedicated.requiresDedicatedAllocation),
                )
            )
        return tuple(found)

    def bind(self, memories: Sequence[Memory]) -> None:
        """Bind at offset 0: the one memory, or memory i to memory plane i (VkBindImagePlaneMemoryInfo,
        which only DISJOINT images may be given)."""
        planes = [
            vk.VkBindImagePlaneMemoryInfo(
                sType=vk.VK_STRUCTURE_TYPE_BIND_IMAGE_PLANE_MEMORY_INFO, planeAspect=aspect
            )
            for aspect in MEMORY_PLANE_ASPECTS[: len(memories)]
        ]
        infos = []
        for i, memory in enumerate(memories):
            info = vk.VkBindImageMemoryInfo(
                sType=vk.VK_STRUCTURE_TYPE_BIND_IMAGE_MEMORY_INFO,
                image=self.handle,
                memory=memory.handle,
                memoryOffset=0,
            )
            if self.spec.disjoint:
                link(info, planes[i])
            infos.append(info)
        call("vkBindImageMemory2", self.device.handle, len(infos), infos)
        self.memories = tuple(memories)

    def destroy(self) -> None:
        if self.handle is not None:
            vk.vkDestroyImage(self.device.handle, self.handle, None)
            self.handle = None


def _dedicated(image: ModifierImage, support: ExternalMemoryFeatures, required: bool) -> list[Any]:
    # A dedicated allocation where the driver asks for one; DISJOINT images cannot have one
    # (VUID-VkMemoryDedicatedAllocateInfo-image-01797), which the caller has ruled out.
    if not (support.dedicated_only or required) or image.spec.disjoint:
        return []
    return [
        vk.VkMemoryDedicatedAllocateInfo(
            sType=vk.VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO, image=image.handle
        )
    ]


@dataclass(frozen=True, kw_only=True)
class Exported:
    """What an importer must be told: the modifier, the plane layouts, and per binding the fd, the memory
    type and the allocation size (OPAQUE_FD imports must repeat the last two)."""

    modifier: int
    layouts: tuple[PlaneLayout, ...]
    fds: tuple[int, ...]
    memory_types: tuple[int, ...]
    sizes: tuple[int, ...]

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)

    def describe(self) -> str:
        planes = ", ".join(
            f"plane {i}: offset {p.offset}, rowPitch {p.row_pitch}, size {p.size}"
            for i, p in enumerate(self.layouts)
        )
        return f"{modifier_name(self.modifier)}; {planes}; allocation {'+'.join(map(str, self.sizes))} bytes"

    def layout_problem(self, disjoint: bool) -> str | None:
        """Each memory plane must lie inside the memory it is bound to; LINEAR memory planes are the format
        planes, so in one memory they cannot share a byte."""
        for index, plane in enumerate(self.layouts):
            memory_size = self.sizes[index if disjoint else 0]
            if plane.offset + plane.size > memory_size:
                return (
                    f"memory plane {index} (offset {plane.offset}, size {plane.size}) ends past its "
                    f"{memory_size}-byte allocation"
                )
        if self.modifier != LINEAR or disjoint:
            return None
        spans = sorted((p.offset, p.offset + p.size, i) for i, p in enumerate(self.layouts))
        for (_, end, first), (start, _, second) in pairwise(spans):
            if start < end:
                return f"LINEAR memory planes {first} and {second} overlap: {self.describe()}"
        return None


def placement_problem(image: ModifierImage, layouts: Sequence[PlaneLayout]) -> str | None:
    """An image created with explicit layouts must report them (vkGetImageSubresourceLayout): the same
    offset and row pitch for every memory plane. Checked before the GPU touches the memory."""
    seen = [(p.offset, p.row_pitch) for p in image.layouts(len(layouts))]
    given = [(p.offset, p.row_pitch) for p in layouts]
    if seen == given:
        return None
    return f"the image's memory planes (offset, rowPitch) are {seen}, not the explicit layout's {given}"


def export(image: ModifierImage, support: ExternalMemoryFeatures, memory_planes: int) -> Exported:
    """Allocate exportable memory for `image` (device-local preferred), bind it, and export one fd per
    binding. The caller owns the fds."""
    device = image.device
    memories = []
    for requirements, required in image.requirements(memory_planes):
        memory_type = select_memory_type(device.memory_types, requirements.type_bits, 0, DEVICE_LOCAL)
        if memory_type is None:
            raise RuntimeError(
                f"no memory type for an exportable image (memoryTypeBits 0x{requirements.type_bits:x})"
            )
        export_info = vk.VkExportMemoryAllocateInfo(
            sType=vk.VK_STRUCTURE_TYPE_EXPORT_MEMORY_ALLOCATE_INFO, handleTypes=image.handle_type
        )
        chain = [export_info, *_dedicated(image, support, required)]
        memories.append(device.allocate(requirements.size, memory_type, *chain))
    image.bind(memories)
    fds = tuple(memory_fd(device, m, image.handle_type) for m in memories)
    return Exported(
        modifier=image.modifier,
        layouts=image.layouts(memory_planes),
        fds=fds,
        memory_types=tuple(m.type.index for m in memories),
        sizes=tuple(m.size for m in memories),
    )


def import_memory(
    image: ModifierImage,
    support: ExternalMemoryFeatures,
    fds: Sequence[int],
    *,
    memory_types: Sequence[int] | None = None,
    sizes: Sequence[int] | None = None,
) -> None:
    """Import one fd per binding and bind `image` to it; the fds are taken over either way.

    DMA_BUF: each memory type is one both vkGetMemoryFdPropertiesKHR and the image allow, each size the
    image's requirement. OPAQUE_FD: the exporter's memory types and sizes, as the spec requires.
    """
    device = image.device
    pending = list(fds)
    try:
        requirements = image.requirements(len(fds))
        if len(requirements) != len(fds):
            raise ValueError(f"{len(fds)} fds for an image with {len(requirements)} memory bindings")
        memories = []
        for i, (needed, required) in enumerate(requirements):
            if memory_types is not None and sizes is not None:
                memory_type, size = device.memory_types[memory_types[i]], sizes[i]
            else:
                allowed = needed.type_bits
                if image.handle_type == DMA_BUF:
                    allowed &= dma_buf_type_bits(device, pending[0])
                chosen = select_memory_type(device.memory_types, allowed, 0)
                if chosen is None:
                    raise RuntimeError(
                        f"no memory type can import this dma-buf for the image (allowed 0x{allowed:x})"
                    )
                memory_type, size = chosen, needed.size
            info = vk.VkImportMemoryFdInfoKHR(
                sType=vk.VK_STRUCTURE_TYPE_IMPORT_MEMORY_FD_INFO_KHR,
                handleType=image.handle_type,
                fd=pending[0],
            )
            memories.append(device.allocate(size, memory_type, info, *_dedicated(image, support, required)))
            pending.pop(0)  # a successful import owns its fd
    finally:
        for fd in pending:
            os.close(fd)
    image.bind(memories)


def import_shared(images: Sequence[ModifierImage], support: ExternalMemoryFeatures, fd: int) -> None:
    """Import one dma-buf once and bind every image to it at offset 0, each image's explicit layout
    placing it, as FFmpeg binds the layers of a DRM frame; one import per image where the driver
    requires dedicated allocations. `fd` stays the caller's."""
    device = images[0].device
    needs = [image.requirements(1)[0] for image in images]
    if support.dedicated_only or any(required for _, required in needs):
        for image in images:
            import_memory(image, support, [os.dup(fd)])
        return
    allowed = dma_buf_type_bits(device, fd)
    for requirements, _ in needs:
        allowed &= requirements.type_bits
    memory_type = select_memory_type(device.memory_types, allowed, 0)
    if memory_type is None:
        raise RuntimeError(f"no memory type can import this dma-buf for every layer (allowed 0x{allowed:x})")
    own = os.dup(fd)
    info = vk.VkImportMemoryFdInfoKHR(
        sType=vk.VK_STRUCTURE_TYPE_IMPORT_MEMORY_FD_INFO_KHR, handleType=DMA_BUF, fd=own
    )
    try:
        memory = device.allocate(max(r.size for r, _ in needs), memory_type, info)
    except BaseException:
        os.close(own)  # a failed import leaves the fd with us
        raise
    for image in images:
        image.bind([memory])

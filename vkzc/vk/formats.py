"""Format queries that `vkzc probe` and the suite share: DRM format modifier lists, image format properties.

Both are physical-device queries, so they disturb nothing and need no VkDevice. Output structs are
made here with their sType and passed in, as the binding only allocates (and returns) bare ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vkzc.vk.binding import load
from vkzc.vk.errors import VulkanError, call
from vkzc.vk.instance import PhysicalDevice, link

vk = load()

MODIFIER_EXTENSION = "VK_EXT_image_drm_format_modifier"
_API_1_3 = vk.VK_MAKE_VERSION(1, 3, 0)


def enum_constant(enum_type: str, name: str) -> int:
    """A constant the binding has in its C declarations but not as a module attribute
    (VK_IMAGE_CREATE_DISJOINT_BIT, VK_IMAGE_ASPECT_PLANE_0_BIT, ...)."""
    value = getattr(vk, name, None)
    if isinstance(value, int):
        return value
    by_name: dict[str, int] = vk.ffi.typeof(enum_type).relements
    return by_name[name]


@dataclass(frozen=True, kw_only=True)
class DrmFormatModifier:
    """One entry of VkDrmFormatModifierPropertiesListEXT or ...List2EXT."""

    value: int
    plane_count: int
    features: int  # VkFormatFeatureFlags (List) or VkFormatFeatureFlags2 (List2)


def modifier_list2_available(physical: PhysicalDevice) -> bool:
    """List2 carries VkFormatFeatureFlags2: core in Vulkan 1.3, otherwise VK_KHR_format_feature_flags2."""
    return "VK_KHR_format_feature_flags2" in physical.extensions or physical.properties.apiVersion >= _API_1_3


def drm_format_modifiers(physical: PhysicalDevice, fmt: int, *, list2: bool) -> tuple[DrmFormatModifier, ...]:
    """The modifiers the driver lists for `fmt`, in its order: a first query for the count, a second into
    an array we allocate."""
    if list2:
        modifier_list = vk.VkDrmFormatModifierPropertiesList2EXT(
            sType=vk.VK_STRUCTURE_TYPE_DRM_FORMAT_MODIFIER_PROPERTIES_LIST_2_EXT
        )
        element_type = "VkDrmFormatModifierProperties2EXT"
    else:
        modifier_list = vk.VkDrmFormatModifierPropertiesListEXT(
            sType=vk.VK_STRUCTURE_TYPE_DRM_FORMAT_MODIFIER_PROPERTIES_LIST_EXT
        )
        element_type = "VkDrmFormatModifierPropertiesEXT"
    props = link(vk.VkFormatProperties2(sType=vk.VK_STRUCTURE_TYPE_FORMAT_PROPERTIES_2), modifier_list)
    vk.vkGetPhysicalDeviceFormatProperties2(physical.handle, fmt, vk.ffi.addressof(props))
    count = modifier_list.drmFormatModifierCount
    if count == 0:
        return ()
    array = vk.ffi.new(f"{element_type}[]", count)
    modifier_list.pDrmFormatModifierProperties = array  # `array` stays referenced until we have read it
    vk.vkGetPhysicalDeviceFormatProperties2(physical.handle, fmt, vk.ffi.addressof(props))
    return tuple(
        DrmFormatModifier(
            value=int(entry.drmFormatModifier),
            plane_count=int(entry.drmFormatModifierPlaneCount),
            features=int(entry.drmFormatModifierTilingFeatures),
        )
        for entry in array[0 : modifier_list.drmFormatModifierCount]
    )


@dataclass(frozen=True, kw_only=True)
class ExternalMemoryFeatures:
    """VkExternalMemoryProperties as the driver filled it."""

    features: int  # VkExternalMemoryFeatureFlags
    export_from_imported: int = 0  # VkExternalMemoryHandleTypeFlags
    compatible: int = 0  # VkExternalMemoryHandleTypeFlags

    @staticmethod
    def of(raw: Any) -> ExternalMemoryFeatures:
        return ExternalMemoryFeatures(
            features=int(raw.externalMemoryFeatures),
            export_from_imported=int(raw.exportFromImportedHandleTypes),
            compatible=int(raw.compatibleHandleTypes),
        )

    @property
    def exportable(self) -> bool:
        return bool(self.features & vk.VK_EXTERNAL_MEMORY_FEATURE_EXPORTABLE_BIT)

    @property
    def importable(self) -> bool:
        return bool(self.features & vk.VK_EXTERNAL_MEMORY_FEATURE_IMPORTABLE_BIT)

    @property
    def dedicated_only(self) -> bool:
        return bool(self.features & vk.VK_EXTERNAL_MEMORY_FEATURE_DEDICATED_ONLY_BIT)


@dataclass(frozen=True, kw_only=True)
class ImageFormatAnswer:
    """What vkGetPhysicalDeviceImageFormatProperties2 answered for one combination."""

    result: str  # "VK_SUCCESS", or the error's name (VK_ERROR_FORMAT_NOT_SUPPORTED: the combination is not)
    external: ExternalMemoryFeatures | None  # with a handle type asked and VK_SUCCESS only
    max_extent: tuple[int, int]  # (0, 0) unless VK_SUCCESS

    @property
    def supported(self) -> bool:
        return self.result == "VK_SUCCESS"


def image_format_properties(
    physical: PhysicalDevice,
    *,
    fmt: int,
    tiling: int,
    usage: int,
    flags: int = 0,
    handle_type: int | None = None,
    modifier: int | None = None,
) -> ImageFormatAnswer:
    """vkGetPhysicalDeviceImageFormatProperties2 for a 2D image, with VkPhysicalDeviceExternalImageFormatInfo
    when `handle_type` is given and VkPhysicalDeviceImageDrmFormatModifierInfoEXT when `modifier` is."""
    info = vk.VkPhysicalDeviceImageFormatInfo2(
        sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_IMAGE_FORMAT_INFO_2,
        format=fmt,
        type=vk.VK_IMAGE_TYPE_2D,
        tiling=tiling,
        usage=usage,
        flags=flags,
    )
    chain = []
    if handle_type is not None:
        chain.append(
            vk.VkPhysicalDeviceExternalImageFormatInfo(
                sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_IMAGE_FORMAT_INFO, handleType=handle_type
            )
        )
    if modifier is not None:
        chain.append(
            vk.VkPhysicalDeviceImageDrmFormatModifierInfoEXT(
                sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_IMAGE_DRM_FORMAT_MODIFIER_INFO_EXT,
                drmFormatModifier=modifier,
                sharingMode=vk.VK_SHARING_MODE_EXCLUSIVE,
            )
        )
    link(info, *chain)
    external_out = vk.VkExternalImageFormatProperties(
        sType=vk.VK_STRUCTURE_TYPE_EXTERNAL_IMAGE_FORMAT_PROPERTIES
    )
    out = vk.VkImageFormatProperties2(sType=vk.VK_STRUCTURE_TYPE_IMAGE_FORMAT_PROPERTIES_2)
    if handle_type is not None:
        link(out, external_out)
    try:
        call(
            "vkGetPhysicalDeviceImageFormatProperties2",
            physical.handle,
            vk.ffi.addressof(info),
            vk.ffi.addressof(out),
        )
    except VulkanError as e:
        return ImageFormatAnswer(result=e.result_name, external=None, max_extent=(0, 0))
    extent = out.imageFormatProperties.maxExtent
    external = external_out.externalMemoryProperties
    return ImageFormatAnswer(
        result="VK_SUCCESS",
        external=ExternalMemoryFeatures.of(external) if handle_type is not None else None,
        max_extent=(int(extent.width), int(extent.height)),
    )

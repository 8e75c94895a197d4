"""The capability record `vkzc probe` prints: what one driver offers for zero-copy, as plain data.

Nothing here touches Vulkan, so records can be built, compared and serialised anywhere. Enum and
flag values are Vulkan's own constant names with the common prefix (and `_BIT`) dropped, e.g.
"DMA_BUF_EXT" for VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT; results keep their full name
("VK_ERROR_FORMAT_NOT_SUPPORTED") so they read as the call's return value. `to_json()` gives the
shape that schema.json describes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from vkzc.probe.modifiers import hex_value

if TYPE_CHECKING:
    # Only for annotations: importing vkzc.vk loads the Vulkan binding, which the model must not need.
    from vkzc.vk.instance import DeviceIdentity

SCHEMA_VERSION = 1

# The extensions a zero-copy path can depend on; each is reported present or absent.
KEY_EXTENSIONS = (
    "VK_KHR_external_memory_fd",
    "VK_EXT_external_memory_dma_buf",
    "VK_EXT_external_memory_host",
    "VK_EXT_image_drm_format_modifier",
    "VK_EXT_queue_family_foreign",
    "VK_KHR_external_semaphore_fd",
    "VK_KHR_external_fence_fd",
    "VK_KHR_sampler_ycbcr_conversion",
    "VK_KHR_video_queue",
    "VK_KHR_video_decode_queue",
    "VK_KHR_video_decode_h264",
    "VK_KHR_video_decode_h265",
    "VK_KHR_video_decode_av1",
    "VK_KHR_format_feature_flags2",
)

ABSENT = "absent"
# An external-memory query's outcome besides a VkResult name:
SUPPORTED = "supported"  # the query succeeded and the handle type can be exported or imported
UNSUPPORTED = "unsupported"  # the query succeeded but reports neither export nor import
NO_MODIFIER = "no-modifier"  # DRM-modifier tiling asked for a format the driver lists no modifier for


@dataclass(frozen=True, kw_only=True)
class LoaderRecord:
    instance_version: str  # vkEnumerateInstanceVersion, as major.minor.patch
    driver_files: str | None  # VK_DRIVER_FILES as set in our environment (None: unset)
    icd_filenames: str | None  # VK_ICD_FILENAMES, its older spelling, which loaders still honour

    def to_json(self) -> dict[str, Any]:
        return {
            "instance_version": self.instance_version,
            "environment": {"VK_DRIVER_FILES": self.driver_files, "VK_ICD_FILENAMES": self.icd_filenames},
        }


@dataclass(frozen=True, kw_only=True)
class PciBus:
    domain: int
    bus: int
    device: int
    function: int

    @property
    def address(self) -> str:
        """As lspci and sysfs spell it, e.g. 0000:01:00.0."""
        return f"{self.domain:04x}:{self.bus:02x}:{self.device:02x}.{self.function:x}"

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "address": self.address}


@dataclass(frozen=True, kw_only=True)
class MemoryHeap:
    index: int
    size: int
    flags: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "size": self.size, "flags": list(self.flags)}


@dataclass(frozen=True, kw_only=True)
class MemoryTypeRecord:
    index: int
    flags: tuple[str, ...]
    heap_index: int

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "flags": list(self.flags), "heap_index": self.heap_index}


@dataclass(frozen=True, kw_only=True)
class Limits:
    non_coherent_atom_size: int
    min_memory_map_alignment: int
    min_storage_buffer_offset_alignment: int
    max_storage_buffer_range: int
    max_compute_work_group_count: tuple[int, int, int]
    # VkPhysicalDeviceExternalMemoryHostPropertiesEXT; None where VK_EXT_external_memory_host is absent.
    min_imported_host_pointer_alignment: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "max_compute_work_group_count": list(self.max_compute_work_group_count),
        }


@dataclass(frozen=True, kw_only=True)
class ExternalMemoryProperties:
    """VkExternalMemoryProperties, decoded."""

    exportable: bool
    importable: bool
    dedicated_only: bool
    export_from_imported_handle_types: tuple[str, ...]
    compatible_handle_types: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "exportable": self.exportable,
            "importable": self.importable,
            "dedicated_only": self.dedicated_only,
            "export_from_imported_handle_types": list(self.export_from_imported_handle_types),
            "compatible_handle_types": list(self.compatible_handle_types),
        }


@dataclass(frozen=True, kw_only=True)
class ExternalMemoryRecord:
    """One handle type for buffers: `status` is SUPPORTED, UNSUPPORTED, ABSENT (the driver lacks the
    handle type's extension, so nothing was asked) or, for images, the VkResult of a failed query."""

    handle_type: str
    status: str
    properties: ExternalMemoryProperties | None  # None unless the query succeeded

    def to_json(self) -> dict[str, Any]:
        return {
            "handle_type": self.handle_type,
            "status": self.status,
            "properties": self.properties.to_json() if self.properties else None,
        }


@dataclass(frozen=True, kw_only=True)
class ExternalImageRecord(ExternalMemoryRecord):
    """One handle type for one 2D image format and tiling (status may also be NO_MODIFIER)."""

    format: str
    tiling: str
    drm_format_modifier: int | None  # the modifier asked about, for DRM_FORMAT_MODIFIER_EXT tiling only

    def to_json(self) -> dict[str, Any]:
        modifier = self.drm_format_modifier
        return {
            "format": self.format,
            "tiling": self.tiling,
            "drm_format_modifier": None if modifier is None else hex_value(modifier),
            **super().to_json(),
        }


@dataclass(frozen=True, kw_only=True)
class ModifierRecord:
    value: int
    vendor: str
    name: str | None  # None for a layout we have no name for; the value is still exact
    plane_count: int
    features: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "value": hex_value(self.value),
            "vendor": self.vendor,
            "name": self.name,
            "plane_count": self.plane_count,
            "features": list(self.features),
        }


@dataclass(frozen=True, kw_only=True)
class FormatModifiers:
    """The DRM format modifiers one format can be laid out with, from both query structs."""

    format: str
    modifiers: tuple[ModifierRecord, ...]  # VkDrmFormatModifierPropertiesListEXT
    # VkDrmFormatModifierPropertiesList2EXT; None where neither VK_KHR_format_feature_flags2
    # nor Vulkan 1.3 makes it available.
    modifiers2: tuple[ModifierRecord, ...] | None

    @property
    def lists_agree(self) -> bool | None:
        """Whether both lists name the same modifiers with the same plane counts (None: one list only).

        Features are not compared: List2 carries 64-bit flags that the first list cannot express."""
        if self.modifiers2 is None:
            return None

        def planes(records: tuple[ModifierRecord, ...]) -> dict[int, int]:
            return {m.value: m.plane_count for m in records}

        return len(self.modifiers) == len(self.modifiers2) and planes(self.modifiers) == planes(
            self.modifiers2
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "modifiers": [m.to_json() for m in self.modifiers],
            "modifiers2": None if self.modifiers2 is None else [m.to_json() for m in self.modifiers2],
            "lists_agree": self.lists_agree,
        }


@dataclass(frozen=True, kw_only=True)
class DeviceRecord:
    identity: DeviceIdentity  # serialised field for field, so results and probes label devices alike
    device_uuid: str
    driver_uuid: str
    pci_bus: PciBus | None  # None where VK_EXT_pci_bus_info is absent
    extensions: tuple[str, ...]  # every device extension, sorted
    memory_heaps: tuple[MemoryHeap, ...]
    memory_types: tuple[MemoryTypeRecord, ...]
    limits: Limits
    external_buffers: tuple[ExternalMemoryRecord, ...]
    external_images: tuple[ExternalImageRecord, ...]
    # One entry per probed format; None where VK_EXT_image_drm_format_modifier is absent.
    drm_format_modifiers: tuple[FormatModifiers, ...] | None

    def extension_status(self, name: str) -> Literal["present", "absent"]:
        return "present" if name in self.extensions else "absent"

    def to_json(self) -> dict[str, Any]:
        modifiers = self.drm_format_modifiers
        return {
            "identity": dataclasses.asdict(self.identity),
            "device_uuid": self.device_uuid,
            "driver_uuid": self.driver_uuid,
            "pci_bus": self.pci_bus.to_json() if self.pci_bus else None,
            "key_extensions": {name: self.extension_status(name) for name in KEY_EXTENSIONS},
            "extensions": list(self.extensions),
            "memory": {
                "heaps": [h.to_json() for h in self.memory_heaps],
                "types": [t.to_json() for t in self.memory_types],
            },
            "limits": self.limits.to_json(),
            "external_memory": {
                "buffers": [r.to_json() for r in self.external_buffers],
                "images": [r.to_json() for r in self.external_images],
            },
            "drm_format_modifiers": ABSENT if modifiers is None else [f.to_json() for f in modifiers],
        }


@dataclass(frozen=True, kw_only=True)
class ProbeReport:
    vkzc_version: str
    loader: LoaderRecord
    devices: tuple[DeviceRecord, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "vkzc_version": self.vkzc_version,
            "loader": self.loader.to_json(),
            "devices": [d.to_json() for d in self.devices],
        }

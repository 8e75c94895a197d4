"""The queries behind `vkzc probe`: one physical device in, one DeviceRecord out.

Every query here is a physical-device query: no VkDevice is created, so probing cannot disturb a
driver and works on devices the suite could not open. Output structs are made here with their sType
and passed in, as the binding only allocates (and returns) bare ones itself.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from functools import cache
from typing import Any

from vkzc import __version__
from vkzc.errors import EnvironmentMissing
from vkzc.probe.model import (
    ABSENT,
    NO_MODIFIER,
    SUPPORTED,
    UNSUPPORTED,
    DeviceRecord,
    ExternalImageRecord,
    ExternalMemoryProperties,
    ExternalMemoryRecord,
    FormatModifiers,
    Limits,
    LoaderRecord,
    MemoryHeap,
    MemoryTypeRecord,
    ModifierRecord,
    PciBus,
    ProbeReport,
)
from vkzc.probe.modifiers import LINEAR, describe
from vkzc.vk.binding import load
from vkzc.vk.errors import VulkanError, call
from vkzc.vk.formats import (
    MODIFIER_EXTENSION,
    DrmFormatModifier,
    ExternalMemoryFeatures,
    drm_format_modifiers,
    image_format_properties,
    modifier_list2_available,
)
from vkzc.vk.instance import Instance, PhysicalDevice, version_string
from vkzc.vk.memory import memory_types, property_names

vk = load()

# (name in the record, handle type bit, the device extension without which the handle type does not exist)
HANDLE_TYPES = (
    ("OPAQUE_FD", vk.VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT, "VK_KHR_external_memory_fd"),
    ("DMA_BUF_EXT", vk.VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT, "VK_EXT_external_memory_dma_buf"),
    (
        "HOST_ALLOCATION_EXT",
        vk.VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT,
        "VK_EXT_external_memory_host",
    ),
)
# The usages the suite's buffers and images are created with: external-memory support is per usage.
BUFFER_USAGE = (
    vk.VK_BUFFER_USAGE_STORAGE_BUFFER_BIT
    | vk.VK_BUFFER_USAGE_TRANSFER_SRC_BIT
    | vk.VK_BUFFER_USAGE_TRANSFER_DST_BIT
)
IMAGE_USAGE = (
    vk.VK_IMAGE_USAGE_SAMPLED_BIT
    | vk.VK_IMAGE_USAGE_STORAGE_BIT
    | vk.VK_IMAGE_USAGE_TRANSFER_SRC_BIT
    | vk.VK_IMAGE_USAGE_TRANSFER_DST_BIT
)
IMAGE_FORMATS = ("R8G8B8A8_UNORM", "R8_UNORM")
# The formats a decoder or compositor hands over: RGBA variants, single channels, NV12 and P010.
MODIFIER_FORMATS = (
    "R8_UNORM",
    "R8G8_UNORM",
    "R8G8B8A8_UNORM",
    "B8G8R8A8_UNORM",
    "A2B10G10R10_UNORM_PACK32",
    "R16_UNORM",
    "G8_B8R8_2PLANE_420_UNORM",
    "G10X6_B10X6R10X6_2PLANE_420_UNORM_3PACK16",
)


def collect(selector: str | None) -> ProbeReport:
    """Probe every device the loader sees, or those `selector` (a --device value) names."""
    loader = LoaderRecord(
        instance_version=version_string(call("vkEnumerateInstanceVersion")),
        driver_files=os.environ.get("VK_DRIVER_FILES"),
        icd_filenames=os.environ.get("VK_ICD_FILENAMES"),
    )
    try:
        instance = Instance()
    except VulkanError as e:
        raise _no_driver(e) from None
    with instance:
        try:
            chosen = instance.select(selector)
        except VulkanError as e:
            raise _no_driver(e) from None
        return ProbeReport(
            vkzc_version=__version__, loader=loader, devices=tuple(probe_device(d) for d in chosen)
        )


def _no_driver(error: VulkanError) -> EnvironmentMissing:
    # A loader without a usable driver fails in vkCreateInstance (VK_ERROR_INCOMPATIBLE_DRIVER: no ICD
    # at all) or vkEnumeratePhysicalDevices (VK_ERROR_INITIALIZATION_FAILED: an ICD without its
    # hardware). Both are the machine's state, not a bug, so they end the command with one line.
    return EnvironmentMissing(
        f"no usable Vulkan driver ({error})",
        "install one (apt-get install mesa-vulkan-drivers for lavapipe) or check VK_DRIVER_FILES",
    )


def probe_device(device: PhysicalDevice) -> DeviceRecord:
    extensions = device.extensions
    modifiers = _drm_format_modifiers(device) if MODIFIER_EXTENSION in extensions else None
    ids = vk.VkPhysicalDeviceIDProperties(sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES)
    pci = vk.VkPhysicalDevicePCIBusInfoPropertiesEXT(
        sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PCI_BUS_INFO_PROPERTIES_EXT
    )
    host = vk.VkPhysicalDeviceExternalMemoryHostPropertiesEXT(
        sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_MEMORY_HOST_PROPERTIES_EXT
    )
    has_pci = "VK_EXT_pci_bus_info" in extensions
    has_host = "VK_EXT_external_memory_host" in extensions
    # A struct of an extension the device lacks must not be in the chain at all.
    chain = [ids]
    if has_pci:
        chain.append(pci)
    if has_host:
        chain.append(host)
    device.properties2(*chain)
    return DeviceRecord(
        identity=device.identity,
        device_uuid=_uuid(ids.deviceUUID),
        driver_uuid=_uuid(ids.driverUUID),
        pci_bus=(
            PciBus(domain=pci.pciDomain, bus=pci.pciBus, device=pci.pciDevice, function=pci.pciFunction)
            if has_pci
            else None
        ),
        extensions=tuple(sorted(extensions)),
        memory_heaps=_heaps(device.memory_properties),
        memory_types=tuple(
            MemoryTypeRecord(index=t.index, flags=tuple(property_names(t.flags)), heap_index=t.heap_index)
            for t in memory_types(device.memory_properties)
        ),
        limits=_limits(device.limits, host.minImportedHostPointerAlignment if has_host else None),
        external_buffers=tuple(_external_buffer(device, *handle) for handle in HANDLE_TYPES),
        external_images=_external_images(device, modifiers),
        drm_format_modifiers=modifiers,
    )


def _uuid(raw: Any) -> str:
    return str(uuid.UUID(bytes=bytes(raw)))


def _heaps(memory_properties: Any) -> tuple[MemoryHeap, ...]:
    names = enum_names("VkMemoryHeapFlagBits", "VK_MEMORY_HEAP_")
    heaps = memory_properties.memoryHeaps
    return tuple(
        MemoryHeap(index=i, size=heaps[i].size, flags=flag_names(heaps[i].flags, names))
        for i in range(memory_properties.memoryHeapCount)
    )


def _limits(limits: Any, min_imported_host_pointer_alignment: int | None) -> Limits:
    x, y, z = limits.maxComputeWorkGroupCount
    return Limits(
        non_coherent_atom_size=limits.nonCoherentAtomSize,
        min_memory_map_alignment=limits.minMemoryMapAlignment,
        min_storage_buffer_offset_alignment=limits.minStorageBufferOffsetAlignment,
        max_storage_buffer_range=limits.maxStorageBufferRange,
        max_compute_work_group_count=(x, y, z),
        min_imported_host_pointer_alignment=min_imported_host_pointer_alignment,
    )


def _external_buffer(
    device: PhysicalDevice, name: str, handle_type: int, extension: str
) -> ExternalMemoryRecord:
    if extension not in device.extensions:
        return ExternalMemoryRecord(handle_type=name, status=ABSENT, properties=None)
    info = vk.VkPhysicalDeviceExternalBufferInfo(
        sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_BUFFER_INFO,
        usage=BUFFER_USAGE,
        handleType=handle_type,
    )
    out = vk.VkExternalBufferProperties(sType=vk.VK_STRUCTURE_TYPE_EXTERNAL_BUFFER_PROPERTIES)
    # Returns void: an unsupported handle type shows as no export and no import feature.
    vk.vkGetPhysicalDeviceExternalBufferProperties(
        device.handle, vk.ffi.addressof(info), vk.ffi.addressof(out)
    )
    properties = _external_properties(ExternalMemoryFeatures.of(out.externalMemoryProperties))
    return ExternalMemoryRecord(handle_type=name, status=_status(properties), properties=properties)


def _external_images(
    device: PhysicalDevice, modifiers: tuple[FormatModifiers, ...] | None
) -> tuple[ExternalImageRecord, ...]:
    tilings: list[tuple[str, int]] = [
        ("OPTIMAL", vk.VK_IMAGE_TILING_OPTIMAL),
        ("LINEAR", vk.VK_IMAGE_TILING_LINEAR),
    ]
    if modifiers is not None:
        tilings.append(("DRM_FORMAT_MODIFIER_EXT", vk.VK_IMAGE_TILING_DRM_FORMAT_MODIFIER_EXT))
    listed = {f.format: [m.value for m in f.modifiers] for f in modifiers or ()}
    records = []
    for format_name in IMAGE_FORMATS:
        for tiling_name, tiling in tilings:
            modifier = None
            if tiling == vk.VK_IMAGE_TILING_DRM_FORMAT_MODIFIER_EXT:
                # The query needs one modifier the driver lists (IMAGE_FORMATS are all among
                # MODIFIER_FORMATS); LINEAR is the one every importer understands.
                values = listed[format_name]
                modifier = LINEAR if LINEAR in values else next(iter(values), None)
            for name, handle_type, extension in HANDLE_TYPES:
                status, properties = _external_image(
                    device, getattr(vk, f"VK_FORMAT_{format_name}"), tiling, modifier, handle_type, extension
                )
                records.append(
                    ExternalImageRecord(
                        format=format_name,
                        tiling=tiling_name,
                        drm_format_modifier=modifier,
                        handle_type=name,
                        status=status,
                        properties=properties,
                    )
                )
    return tuple(records)


def _external_image(
    device: PhysicalDevice, fmt: int, tiling: int, modifier: int | None, handle_type: int, extension: str
) -> tuple[str, ExternalMemoryProperties | None]:
    if extension not in device.extensions:
        return ABSENT, None
    if tiling == vk.VK_IMAGE_TILING_DRM_FORMAT_MODIFIER_EXT and modifier is None:
        return NO_MODIFIER, None
    answer = image_format_properties(
        device, fmt=fmt, tiling=tiling, usage=IMAGE_USAGE, handle_type=handle_type, modifier=modifier
    )
    if answer.external is None:
        # VK_ERROR_FORMAT_NOT_SUPPORTED is the spec's answer for an unsupported combination: a finding.
        return answer.result, None
    properties = _external_properties(answer.external)
    return _status(properties), properties


def _external_properties(raw: ExternalMemoryFeatures) -> ExternalMemoryProperties:
    handle_names = enum_names("VkExternalMemoryHandleTypeFlagBits", "VK_EXTERNAL_MEMORY_HANDLE_TYPE_")
    return ExternalMemoryProperties(
        exportable=raw.exportable,
        importable=raw.importable,
        dedicated_only=raw.dedicated_only,
        export_from_imported_handle_types=flag_names(raw.export_from_imported, handle_names),
        compatible_handle_types=flag_names(raw.compatible, handle_names),
    )


def _status(properties: ExternalMemoryProperties) -> str:
    return SUPPORTED if properties.exportable or properties.importable else UNSUPPORTED


def _drm_format_modifiers(device: PhysicalDevice) -> tuple[FormatModifiers, ...]:
    list2 = modifier_list2_available(device)
    features1 = enum_names("VkFormatFeatureFlagBits", "VK_FORMAT_FEATURE_")
    features2 = constant_names("VK_FORMAT_FEATURE_2_")
    records = []
    for format_name in MODIFIER_FORMATS:
        fmt = getattr(vk, f"VK_FORMAT_{format_name}")
        records.append(
            FormatModifiers(
                format=format_name,
                modifiers=_modifier_records(drm_format_modifiers(device, fmt, list2=False), features1),
                modifiers2=(
                    _modifier_records(drm_format_modifiers(device, fmt, list2=True), features2)
                    if list2
                    else None
                ),
            )
        )
    return tuple(records)


def _modifier_records(
    modifiers: tuple[DrmFormatModifier, ...], feature_names: Mapping[int, str]
) -> tuple[ModifierRecord, ...]:
    records = []
    for modifier in modifiers:
        described = describe(modifier.value)
        records.append(
            ModifierRecord(
                value=modifier.value,
                vendor=described.vendor,
                name=described.name,
                plane_count=modifier.plane_count,
                features=flag_names(modifier.features, feature_names),
            )
        )
    return tuple(records)


def _short_name(name: str, prefix: str) -> str:
    """VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT → DMA_BUF_EXT (prefix and `_BIT` dropped)."""
    head, bit, tail = name.removeprefix(prefix).rpartition("_BIT")
    return head + tail if bit else name.removeprefix(prefix)


@cache
def enum_names(enum_type: str, prefix: str) -> dict[int, str]:
    """Bit → short name for a 32-bit flag enum, from the binding's C declaration.

    The declaration keeps each enum apart and lists canonical names, not aliases; a prefix alone
    would mix enums (…_HANDLE_TYPE_OPAQUE_WIN32_BIT_NV belongs to another enum than …_OPAQUE_FD_BIT).
    """
    elements: dict[int, str] = vk.ffi.typeof(enum_type).elements
    return {value: _short_name(name, prefix) for value, name in elements.items() if _single_bit(value)}


@cache
def constant_names(prefix: str) -> dict[int, str]:
    """Bit → short name for a 64-bit flag type, which the binding has only as module constants."""
    names: dict[int, str] = {}
    for name, value in vars(vk).items():
        if name.startswith(prefix) and "_BIT" in name and isinstance(value, int) and _single_bit(value):
            short = _short_name(name, prefix)
            # Aliases share a value: SAMPLED_IMAGE_KHR is SAMPLED_IMAGE, and the shorter name is the core one.
            if value not in names or len(short) < len(names[value]):
                names[value] = short
    return names


def _single_bit(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


def flag_names(flags: int, names: Mapping[int, str]) -> tuple[str, ...]:
    """The names of the bits set in `flags`, lowest first; bits without a name come last, in hex, so that
    nothing a driver reports is dropped."""
    known = tuple(names[bit] for bit in sorted(names) if flags & bit)
    rest = flags & ~sum(names)  # the keys are distinct single bits, so their sum is their union
    return (*known, f"0x{rest:x}") if rest else known

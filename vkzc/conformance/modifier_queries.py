"""What a driver says about DRM format modifiers, and the checks those answers must pass.

The answers are the capability data of the modifier path: the modifier lists (List and List2) per
format, and per modifier × usage × handle type what vkGetPhysicalDeviceImageFormatProperties2
answers. The checks are the spec's own rules about them.
"""

from __future__ import annotations

import re

from vkzc.conformance.external import DMA_BUF, OPAQUE_FD
from vkzc.conformance.formats import Format
from vkzc.probe.modifiers import INVALID, LINEAR, describe, hex_value
from vkzc.vk.binding import load
from vkzc.vk.formats import (
    MODIFIER_EXTENSION,
    DrmFormatModifier,
    ImageFormatAnswer,
    drm_format_modifiers,
    enum_constant,
    image_format_properties,
)
from vkzc.vk.instance import PhysicalDevice

vk = load()

_FEATURE = "VkFormatFeatureFlagBits"
# Each usage the cases ask about, with the format feature an image of that usage needs
# (VUID-VkImageCreateInfo-imageCreateFormatFeatures-02251 and the usage VUIDs of VkImageCreateInfo).
USAGES: dict[str, tuple[int, int, str]] = {
    "sampled": (vk.VK_IMAGE_USAGE_SAMPLED_BIT, vk.VK_FORMAT_FEATURE_SAMPLED_IMAGE_BIT, "SAMPLED_IMAGE"),
    "storage": (vk.VK_IMAGE_USAGE_STORAGE_BIT, vk.VK_FORMAT_FEATURE_STORAGE_IMAGE_BIT, "STORAGE_IMAGE"),
    "transfer-src": (
        vk.VK_IMAGE_USAGE_TRANSFER_SRC_BIT,
        enum_constant(_FEATURE, "VK_FORMAT_FEATURE_TRANSFER_SRC_BIT"),
        "TRANSFER_SRC",
    ),
    "transfer-dst": (
        vk.VK_IMAGE_USAGE_TRANSFER_DST_BIT,
        enum_constant(_FEATURE, "VK_FORMAT_FEATURE_TRANSFER_DST_BIT"),
        "TRANSFER_DST",
    ),
    "color-attachment": (
        vk.VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT,
        vk.VK_FORMAT_FEATURE_COLOR_ATTACHMENT_BIT,
        "COLOR_ATTACHMENT",
    ),
}
DISJOINT_FEATURE = enum_constant(_FEATURE, "VK_FORMAT_FEATURE_DISJOINT_BIT")
_TRANSFER = vk.VK_IMAGE_USAGE_TRANSFER_SRC_BIT | vk.VK_IMAGE_USAGE_TRANSFER_DST_BIT
# A round trip writes with a copy on one side and reads with a copy on the other, so every image is
# also a transfer source and destination; the usage under test is what the driver lays it out for.
ROUNDTRIP_USAGES: dict[str, int] = {
    "sampled": vk.VK_IMAGE_USAGE_SAMPLED_BIT | _TRANSFER,
    "storage": vk.VK_IMAGE_USAGE_STORAGE_BIT | _TRANSFER,
    "color-attachment": vk.VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | _TRANSFER,
    "transfer": _TRANSFER,
}
HANDLE_TYPES: dict[str, tuple[int, str, str]] = {
    "dma-buf": (DMA_BUF, "DMA_BUF", "VK_EXT_external_memory_dma_buf"),
    "opaque-fd": (OPAQUE_FD, "OPAQUE_FD", "VK_KHR_external_memory_fd"),
}
# The low 31 bits of VkFormatFeatureFlags2 are VkFormatFeatureFlagBits, bit for bit.
_FLAGS1_MASK = 0x7FFFFFFF


def listed(physical: PhysicalDevice, fmt: Format) -> tuple[DrmFormatModifier, ...]:
    """The modifiers the driver lists for `fmt` (VkDrmFormatModifierPropertiesListEXT); none without the
    extension."""
    if MODIFIER_EXTENSION not in physical.extensions:
        return ()
    return drm_format_modifiers(physical, fmt.vk_format, list2=False)


def case_modifiers(physical: PhysicalDevice, fmt: Format) -> tuple[int, ...]:
    """The modifiers a format's cases are made for: LINEAR always (every importer's common ground, so its
    case ids are the same on every driver), then every other modifier the driver lists, in its order.
    DRM_FORMAT_MOD_INVALID never: no image may be created with it."""
    others = [m.value for m in listed(physical, fmt) if m.value not in (LINEAR, INVALID)]
    return (LINEAR, *dict.fromkeys(others))


def modifier_id(value: int) -> str:
    """A case-id fragment: the modifier's name where it is one word (LINEAR, I915_Y_TILED), else its value,
    as names with parameters hold commas and parentheses."""
    name = describe(value).name
    return name if name is not None and re.fullmatch(r"[A-Z0-9_]+", name) else hex_value(value)


def modifier_value(physical: PhysicalDevice, fmt: Format, label: str) -> int:
    """The modifier a case-id label names: LINEAR, or one the driver lists for `fmt`."""
    if label == modifier_id(LINEAR):
        return LINEAR
    return next(m.value for m in listed(physical, fmt) if modifier_id(m.value) == label)


def modifier_name(value: int) -> str:
    name = describe(value).name
    return f"{name} ({hex_value(value)})" if name and name != "LINEAR" else (name or hex_value(value))


def list_problems(first: tuple[DrmFormatModifier, ...], second: tuple[DrmFormatModifier, ...]) -> list[str]:
    """What breaks the spec's rules in the two lists of one format: they must name the same modifiers with
    the same plane counts and the same features (List2 may only add bits above the 32-bit ones), never
    DRM_FORMAT_MOD_INVALID, and never a modifier without any feature."""
    problems = []
    by_value = {m.value: m for m in second}
    for modifier in first:
        other = by_value.get(modifier.value)
        name = modifier_name(modifier.value)
        if other is None:
            problems.append(f"{name} is in List but not in List2")
        elif other.plane_count != modifier.plane_count:
            problems.append(f"{name} has {modifier.plane_count} planes in List, {other.plane_count} in List2")
        elif other.features & _FLAGS1_MASK != modifier.features:
            problems.append(
                f"{name} has features 0x{modifier.features:x} in List, 0x{other.features:x} in List2"
            )
    listed_first = {m.value for m in first}
    problems += [
        f"{modifier_name(m.value)} is in List2 but not in List" for m in second if m.value not in listed_first
    ]
    for modifier in (*first, *second):
        if modifier.value == INVALID:
            problems.append(
                "DRM_FORMAT_MOD_INVALID is listed (VkDrmFormatModifierPropertiesEXT: must not be)"
            )
        if modifier.features == 0:
            problems.append(f"{modifier_name(modifier.value)} is listed with no feature (must have one)")
    return list(dict.fromkeys(problems))


def query(
    physical: PhysicalDevice, fmt: Format, modifier: int, usage: int, handle_type: int, *, flags: int = 0
) -> ImageFormatAnswer:
    return image_format_properties(
        physical,
        fmt=fmt.vk_format,
        tiling=vk.VK_IMAGE_TILING_DRM_FORMAT_MODIFIER_EXT,
        usage=usage,
        flags=flags,
        handle_type=handle_type,
        modifier=modifier,
    )


def describe_answer(answer: ImageFormatAnswer) -> str:
    """e.g. `VK_SUCCESS (export, import; max 16384x16384)` or `VK_ERROR_FORMAT_NOT_SUPPORTED`."""
    if answer.external is None:
        return answer.result
    what = [
        word
        for word, ok in (
            ("export", answer.external.exportable),
            ("import", answer.external.importable),
            ("dedicated only", answer.external.dedicated_only),
        )
        if ok
    ]
    width, height = answer.max_extent
    return f"{answer.result} ({', '.join(what) or 'neither export nor import'}; max {width}x{height})"


def usage_inconsistency(usage: str, answer: ImageFormatAnswer, features: int) -> str | None:
    """A usage the query supports although the modifier's listed features lack what that usage needs: the
    query promises an image that vkCreateImage may not be asked for."""
    _, needed, feature_name = USAGES[usage]
    if not answer.supported or features & needed:
        return None
    return (
        f"{usage}: vkGetPhysicalDeviceImageFormatProperties2 returned VK_SUCCESS although the modifier's "
        f"listed features (0x{features:x}) lack {feature_name}"
    )

"""Names for DRM format modifiers, after the kernel's include/uapi/drm/drm_fourcc.h.

Pure arithmetic on the 64-bit value, so it needs no Vulkan: the top byte is the vendor and the
other 56 bits are the vendor's own layout, which for some vendors carries parameters (Broadcom's
SAND column height, ARM's AFBC mode bits, NVIDIA's block-linear page kind) rather than one value
per layout.
"""

from __future__ import annotations

from dataclasses import dataclass

_VENDOR_SHIFT = 56
_VALUE_MASK = (1 << _VENDOR_SHIFT) - 1

VENDOR_NONE = 0x00
VENDOR_INTEL = 0x01
VENDOR_AMD = 0x02
VENDOR_NVIDIA = 0x03
VENDOR_SAMSUNG = 0x04
VENDOR_QCOM = 0x05
VENDOR_VIVANTE = 0x06
VENDOR_BROADCOM = 0x07
VENDOR_ARM = 0x08
VENDOR_ALLWINNER = 0x09
VENDOR_AMLOGIC = 0x0A
VENDOR_MTK = 0x0B

VENDORS = {
    VENDOR_NONE: "NONE",
    VENDOR_INTEL: "INTEL",
    VENDOR_AMD: "AMD",
    VENDOR_NVIDIA: "NVIDIA",
    VENDOR_SAMSUNG: "SAMSUNG",
    VENDOR_QCOM: "QCOM",
    VENDOR_VIVANTE: "VIVANTE",
    VENDOR_BROADCOM: "BROADCOM",
    VENDOR_ARM: "ARM",
    VENDOR_ALLWINNER: "ALLWINNER",
    VENDOR_AMLOGIC: "AMLOGIC",
    VENDOR_MTK: "MTK",
}


def fourcc_mod_code(vendor: int, value: int) -> int:
    return (vendor << _VENDOR_SHIFT) | (value & _VALUE_MASK)


LINEAR = fourcc_mod_code(VENDOR_NONE, 0)
INVALID = fourcc_mod_code(VENDOR_NONE, _VALUE_MASK)

# Modifiers that are one fixed value each.
_EXACT = {
    LINEAR: "LINEAR",
    INVALID: "INVALID",
    fourcc_mod_code(VENDOR_INTEL, 1): "I915_X_TILED",
    fourcc_mod_code(VENDOR_INTEL, 2): "I915_Y_TILED",
    fourcc_mod_code(VENDOR_INTEL, 3): "I915_Yf_TILED",
    fourcc_mod_code(VENDOR_INTEL, 4): "I915_Y_TILED_CCS",
    fourcc_mod_code(VENDOR_INTEL, 5): "I915_Yf_TILED_CCS",
    fourcc_mod_code(VENDOR_INTEL, 6): "I915_Y_TILED_GEN12_RC_CCS",
    fourcc_mod_code(VENDOR_INTEL, 7): "I915_Y_TILED_GEN12_MC_CCS",
    fourcc_mod_code(VENDOR_INTEL, 8): "I915_Y_TILED_GEN12_RC_CCS_CC",
    fourcc_mod_code(VENDOR_INTEL, 9): "I915_4_TILED",
    fourcc_mod_code(VENDOR_INTEL, 10): "I915_4_TILED_DG2_RC_CCS",
    fourcc_mod_code(VENDOR_INTEL, 11): "I915_4_TILED_DG2_MC_CCS",
    fourcc_mod_code(VENDOR_INTEL, 12): "I915_4_TILED_DG2_RC_CCS_CC",
    fourcc_mod_code(VENDOR_INTEL, 13): "I915_4_TILED_MTL_RC_CCS",
    fourcc_mod_code(VENDOR_INTEL, 14): "I915_4_TILED_MTL_MC_CCS",
    fourcc_mod_code(VENDOR_INTEL, 15): "I915_4_TILED_MTL_RC_CCS_CC",
    fourcc_mod_code(VENDOR_INTEL, 16): "I915_4_TILED_LNL_CCS",
    fourcc_mod_code(VENDOR_INTEL, 17): "I915_4_TILED_BMG_CCS",
    fourcc_mod_code(VENDOR_NVIDIA, 1): "NVIDIA_TEGRA_TILED",
    fourcc_mod_code(VENDOR_SAMSUNG, 1): "SAMSUNG_64_32_TILE",
    fourcc_mod_code(VENDOR_SAMSUNG, 2): "SAMSUNG_16_16_TILE",
    fourcc_mod_code(VENDOR_QCOM, 1): "QCOM_COMPRESSED",
    fourcc_mod_code(VENDOR_QCOM, 2): "QCOM_TILED2",
    fourcc_mod_code(VENDOR_QCOM, 3): "QCOM_TILED3",
    fourcc_mod_code(VENDOR_VIVANTE, 1): "VIVANTE_TILED",
    fourcc_mod_code(VENDOR_VIVANTE, 2): "VIVANTE_SUPER_TILED",
    fourcc_mod_code(VENDOR_VIVANTE, 3): "VIVANTE_SPLIT_TILED",
    fourcc_mod_code(VENDOR_VIVANTE, 4): "VIVANTE_SPLIT_SUPER_TILED",
    fourcc_mod_code(VENDOR_ALLWINNER, 1): "ALLWINNER_TILED",
}

# Broadcom: the low byte is the layout, bits 8..55 a parameter (the SAND column height).
_BROADCOM_LAYOUTS = {1: "VC4_T_TILED", 2: "SAND32", 3: "SAND64", 4: "SAND128", 5: "SAND256", 6: "UIF"}
_BROADCOM_PARAM_MASK = (1 << 48) - 1

# ARM: bits 52..55 are the category, the rest its mode bits.
_ARM_TYPE_SHIFT = 52
_ARM_TYPE_AFBC = 0
_ARM_TYPE_MISC = 1
_ARM_TYPE_AFRC = 2
_ARM_MODE_MASK = (1 << _ARM_TYPE_SHIFT) - 1
_AFBC_BLOCK_SIZES = {1: "16x16", 2: "32x8", 3: "64x4", 4: "32x8_64x4"}
_AFBC_FLAGS = ("YTR", "SPLIT", "SPARSE", "CBR", "TILED", "SC", "DB", "BCH", "USM")  # bits 4, 5, ... 12

# NVIDIA: bit 4 marks the block-linear family, whose fields select GOB height, page kind and compression.
_NVIDIA_BLOCK_LINEAR = 0x10


@dataclass(frozen=True, kw_only=True)
class ModifierName:
    vendor: str
    name: str | None  # None where the layout is not one we know


def vendor_of(modifier: int) -> int:
    return modifier >> _VENDOR_SHIFT


def describe(modifier: int) -> ModifierName:
    vendor = vendor_of(modifier)
    vendor_name = VENDORS.get(vendor, f"0x{vendor:02x}")
    return ModifierName(vendor=vendor_name, name=_name(vendor, modifier))


def _name(vendor: int, modifier: int) -> str | None:
    if modifier in _EXACT:
        return _EXACT[modifier]
    value = modifier & _VALUE_MASK
    if vendor == VENDOR_BROADCOM:
        return _broadcom(value)
    if vendor == VENDOR_ARM:
        return _arm(value)
    if vendor == VENDOR_NVIDIA and value & _NVIDIA_BLOCK_LINEAR:
        return _nvidia_block_linear(value)
    return None


def _broadcom(value: int) -> str | None:
    layout = _BROADCOM_LAYOUTS.get(value & 0xFF)
    param = (value >> 8) & _BROADCOM_PARAM_MASK
    if layout is None:
        return None
    if layout.startswith("SAND"):
        # Column height 0 means "the driver's default"; a nonzero one is part of the layout.
        return f"BROADCOM_{layout}" + (f"(col_height={param})" if param else "")
    return f"BROADCOM_{layout}" if param == 0 else None


def _arm(value: int) -> str | None:
    kind = value >> _ARM_TYPE_SHIFT
    mode = value & _ARM_MODE_MASK
    if kind == _ARM_TYPE_AFBC:
        parts = [_AFBC_BLOCK_SIZES.get(mode & 0xF, f"block={mode & 0xF}")]
        parts += [flag for bit, flag in enumerate(_AFBC_FLAGS, start=4) if mode & (1 << bit)]
        return f"ARM_AFBC({','.join(parts)})"
    if kind == _ARM_TYPE_MISC and mode == 1:
        return "ARM_16X16_BLOCK_U_INTERLEAVED"
    if kind == _ARM_TYPE_AFRC:
        return f"ARM_AFRC(0x{mode:x})"
    return None


def _nvidia_block_linear(value: int) -> str:
    # DRM_FORMAT_MOD_NVIDIA_BLOCK_LINEAR_2D(c, s, g, k, h): compression, sector layout,
    # GOB-height/kind generation, page kind, log2 of the block height in GOBs.
    h = value & 0xF
    k = (value >> 12) & 0xFF
    g = (value >> 20) & 0x3
    s = (value >> 22) & 0x1
    c = (value >> 23) & 0x7
    return f"NVIDIA_BLOCK_LINEAR_2D(h={h},k=0x{k:02x},g={g},s={s},c={c})"


def hex_value(modifier: int) -> str:
    return f"0x{modifier:016x}"

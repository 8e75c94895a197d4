"""Reading a cell's probe.json (`vkzc probe --json`) for what the report sets beside the results.

Only the parts the capability table shows are read, each checked for its type, so a probe from a
newer vkzc that adds keys still reads, and a malformed one is one line naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vkzc.errors import ConfigurationError
from vkzc.probe.model import SCHEMA_VERSION

PROBE_FILE = "probe.json"


@dataclass(frozen=True, kw_only=True)
class DeviceCapabilities:
    name: str
    # The probe's key extensions, each present (True) or absent, in the probe's order.
    extensions: tuple[tuple[str, bool], ...]
    memory_types: tuple[str, ...]  # each type's property flags joined by |, by index
    # (format, number of DRM format modifiers); None where VK_EXT_image_drm_format_modifier is absent.
    modifiers: tuple[tuple[str, int], ...] | None

    def advertises(self, extension: str) -> bool:
        return dict(self.extensions).get(extension, False)

    @property
    def host_visible_types(self) -> tuple[str, ...]:
        return tuple(label for label in self.memory_types if "HOST_VISIBLE" in label.split("|"))


class _Malformed(ValueError):
    pass


def read_probe(path: Path) -> tuple[DeviceCapabilities, ...]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigurationError(f"cannot read {path}: {e.strerror}") from None
    except (ValueError, RecursionError) as e:  # RecursionError: JSON nested too deep
        line = f":{e.lineno}" if isinstance(e, json.JSONDecodeError) else ""
        raise ConfigurationError(
            f"{path}{line}: not JSON ({e})", "write it with `vkzc probe --json`"
        ) from None
    try:
        version = _get(raw, "schema_version", int, "")
        if version != SCHEMA_VERSION:
            raise _Malformed(f"schema_version {version}, this vkzc reads {SCHEMA_VERSION}")
        return tuple(_device(d, f"devices[{i}]") for i, d in enumerate(_get(raw, "devices", list, "")))
    except _Malformed as e:
        raise ConfigurationError(
            f"{path}: not a vkzc probe record ({e})", "write it with `vkzc probe --json`"
        ) from None


def device_named(devices: tuple[DeviceCapabilities, ...], name: str | None) -> DeviceCapabilities | None:
    """The probed device that ran the cell's cases: by name, else the only one probed."""
    for device in devices:
        if device.name == name:
            return device
    return devices[0] if len(devices) == 1 else None


def _device(raw: Any, where: str) -> DeviceCapabilities:
    identity = _get(raw, "identity", dict, where)
    key_extensions = _get(raw, "key_extensions", dict, where)
    for name, state in key_extensions.items():
        if state not in ("present", "absent"):
            raise _Malformed(f"{where}.key_extensions.{name} is {state!r}, not present or absent")
    types = _get(_get(raw, "memory", dict, where), "types", list, f"{where}.memory")
    return DeviceCapabilities(
        name=_get(identity, "name", str, f"{where}.identity"),
        extensions=tuple((name, state == "present") for name, state in key_extensions.items()),
        memory_types=tuple(_flags_label(t, f"{where}.memory.types[{i}]") for i, t in enumerate(types)),
        modifiers=_modifiers(raw.get("drm_format_modifiers"), f"{where}.drm_format_modifiers"),
    )


def _flags_label(raw: Any, where: str) -> str:
    """As the mapped case ids spell a memory type: HOST_VISIBLE|HOST_COHERENT ("NONE" for no flag)."""
    flags = _get(raw, "flags", list, where)
    if not all(isinstance(flag, str) for flag in flags):
        raise _Malformed(f"{where}.flags holds something that is not a flag name")
    return "|".join(flags) or "NONE"


def _modifiers(raw: Any, where: str) -> tuple[tuple[str, int], ...] | None:
    if raw in (None, "absent"):
        return None
    if not isinstance(raw, list):
        raise _Malformed(f'{where} is neither a list nor "absent"')
    return tuple(
        (_get(f, "format", str, f"{where}[{i}]"), len(_get(f, "modifiers", list, f"{where}[{i}]")))
        for i, f in enumerate(raw)
    )


_KINDS = {dict: "an object", list: "a list", str: "a string", int: "an integer"}


def _get(obj: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(obj, dict):
        raise _Malformed(f"{where or 'the document'} is not an object")
    value = obj.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _Malformed(f"{where + '.' if where else ''}{key} is missing or not {_KINDS[kind]}")
    return value

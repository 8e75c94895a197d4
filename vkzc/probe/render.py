"""The human view of a probe: a few compact tables per device, for terminals of 100 columns.

It shows what decides which zero-copy path can work; the JSON view (`--json`) holds everything,
e.g. the full extension list and every feature bit of every modifier.
"""

from __future__ import annotations

from itertools import zip_longest

from rich import box
from rich.console import Console, Group, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from vkzc.probe.model import (
    ABSENT,
    KEY_EXTENSIONS,
    SUPPORTED,
    DeviceRecord,
    ExternalMemoryRecord,
    FormatModifiers,
    ProbeReport,
)
from vkzc.probe.modifiers import describe, hex_value

# Modifier features that say how an imported image can be used: one-letter columns, so that a
# modifier fits on one line of 100 columns with its name.
_MODIFIER_FEATURES = (
    ("S", "sampled", "SAMPLED_IMAGE"),
    ("T", "storage", "STORAGE_IMAGE"),
    ("C", "color attachment", "COLOR_ATTACHMENT"),
    ("X", "transfer", "TRANSFER_SRC"),
    ("D", "disjoint", "DISJOINT"),
)
_YES = "[green]✓[/]"
# Names people use for the two-plane YUV formats decoders produce.
_FORMAT_ALIASES = {"G8_B8R8_2PLANE_420_UNORM": "NV12", "G10X6_B10X6R10X6_2PLANE_420_UNORM_3PACK16": "P010"}


def render(report: ProbeReport, console: Console) -> None:
    environment = [
        f"{name}={value}" if value is not None else f"{name} unset"
        for name, value in (
            ("VK_DRIVER_FILES", report.loader.driver_files),
            ("VK_ICD_FILENAMES", report.loader.icd_filenames),
        )
    ]
    console.print(
        f"[bold]vkzc {report.vkzc_version}[/] · Vulkan loader {report.loader.instance_version} · "
        + " · ".join(environment),
        highlight=False,
    )
    for device in report.devices:
        console.print(device_view(device), highlight=False)


def device_view(device: DeviceRecord) -> RenderableType:
    identity = device.identity
    sections = (
        _identity(device),
        _extensions(device),
        _memory(device),
        _limits(device),
        _external_memory(device),
        _modifiers(device.drm_format_modifiers),
    )
    spaced: list[RenderableType] = [Rule(f"[bold]{identity.index} · {identity.name}[/]", align="left")]
    for section in sections:
        spaced += [section, Text()]
    return Group(*spaced)


def _section(title: str) -> Table:
    """A table with a heading row and a rule under it."""
    return Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )


def _plain(title: str | None) -> Table:
    """Columns without header or rules."""
    return Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=None,
        show_header=False,
        pad_edge=False,
        padding=(0, 2, 0, 0),
    )


def _pairs(title: str | None) -> Table:
    """Label–value rows; labels in bold, never wrapped."""
    table = _plain(title)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    return table


def _identity(device: DeviceRecord) -> Table:
    identity = device.identity
    grid = _pairs(None)
    driver = " · ".join(x for x in (identity.driver_name, identity.driver_id, identity.driver_info) if x)
    grid.add_row("driver", driver or "not reported (driver properties need Vulkan 1.2)")
    versions = f"API {identity.api_version} · driver {identity.driver_version}"
    if identity.mesa_version:
        versions += f" · Mesa {identity.mesa_version}"
    grid.add_row("versions", versions)
    pci = device.pci_bus.address if device.pci_bus else "not reported (no VK_EXT_pci_bus_info)"
    ids = f"vendor 0x{identity.vendor_id:04x} · device 0x{identity.device_id:04x}"
    grid.add_row("hardware", f"{identity.device_type} · {ids} · PCI {pci}")
    grid.add_row("device UUID", device.device_uuid)
    grid.add_row("driver UUID", device.driver_uuid)
    return grid


def _extensions(device: DeviceRecord) -> Table:
    table = _plain("extensions")
    table.add_column()
    table.add_column()
    marks = [
        (_YES if device.extension_status(name) == "present" else "[red]✗[/]") + f" {name}"
        for name in KEY_EXTENSIONS
    ]
    half = (len(marks) + 1) // 2
    for left, right in zip_longest(marks[:half], marks[half:], fillvalue=""):
        table.add_row(left, right)
    return table


def _size(size: int) -> str:
    return f"{size / 2**30:.2f} GiB" if size >= 2**30 else f"{size / 2**20:.0f} MiB"


def _memory(device: DeviceRecord) -> Table:
    table = _section("memory")
    table.add_column("")
    table.add_column("size / heap", justify="right")
    table.add_column("flags")
    for heap in device.memory_heaps:
        table.add_row(f"heap {heap.index}", _size(heap.size), "|".join(heap.flags) or "NONE")
    for memory_type in device.memory_types:
        table.add_row(
            f"type {memory_type.index}",
            f"heap {memory_type.heap_index}",
            "|".join(memory_type.flags) or "NONE",
        )
    return table


def _limits(device: DeviceRecord) -> Table:
    limits = device.limits
    host = limits.min_imported_host_pointer_alignment
    grid = _pairs("limits")
    # Vulkan's own names, as vulkaninfo prints them, so the two can be compared line by line.
    grid.add_row("nonCoherentAtomSize", str(limits.non_coherent_atom_size))
    grid.add_row("minMemoryMapAlignment", str(limits.min_memory_map_alignment))
    grid.add_row("minStorageBufferOffsetAlignment", str(limits.min_storage_buffer_offset_alignment))
    grid.add_row("maxStorageBufferRange", str(limits.max_storage_buffer_range))
    grid.add_row("maxComputeWorkGroupCount", " × ".join(str(n) for n in limits.max_compute_work_group_count))
    grid.add_row(
        "minImportedHostPointerAlignment",
        "n/a (no VK_EXT_external_memory_host)" if host is None else str(host),
    )
    return grid


def _cell(record: ExternalMemoryRecord) -> str:
    """One handle type's outcome in a few words: what can be done, or why nothing can."""
    if record.status == ABSENT:
        return "[dim]absent[/]"
    properties = record.properties
    if properties is None:  # a failed image query, or no modifier to ask about
        return f"[red]{record.status.removeprefix('VK_ERROR_')}[/]"
    words = [w for w, on in (("export", properties.exportable), ("import", properties.importable)) if on]
    if properties.dedicated_only:
        words.append("dedicated")
    others = [h for h in properties.compatible_handle_types if h != record.handle_type]
    if others:
        words.append("+" + ",".join(others))
    style = "green" if record.status == SUPPORTED else "yellow"
    return f"[{style}]{' '.join(words) or record.status}[/]"


def _external_memory(device: DeviceRecord) -> Table:
    table = _section("external memory")
    handle_types = [record.handle_type for record in device.external_buffers]
    table.add_column("resource")
    for handle_type in handle_types:
        table.add_column(handle_type)
    # One row per resource, one column per handle type.
    rows: dict[str, dict[str, str]] = {"buffer": {r.handle_type: _cell(r) for r in device.external_buffers}}
    for image in device.external_images:
        tiling = image.tiling
        if image.drm_format_modifier is not None:
            tiling = f"DRM {_modifier_label(image.drm_format_modifier)}"
        rows.setdefault(f"{_format_label(image.format)} {tiling}", {})[image.handle_type] = _cell(image)
    for label, cells in rows.items():
        table.add_row(label, *(cells.get(h, "") for h in handle_types))
    return table


def _format_label(name: str) -> str:
    return _FORMAT_ALIASES.get(name, name)


def _modifier_label(modifier: int) -> str:
    return describe(modifier).name or hex_value(modifier)


def _modifiers(formats: tuple[FormatModifiers, ...] | None) -> RenderableType:
    if formats is None:
        return Text.from_markup(
            "[bold]DRM format modifiers[/] [dim]absent (no VK_EXT_image_drm_format_modifier)[/]"
        )
    legend = " · ".join(f"{letter} {meaning}" for letter, meaning, _ in _MODIFIER_FEATURES)
    table = _section(f"DRM format modifiers [dim]({legend})[/]")
    table.padding = (0, 0)  # the box already puts a space between columns
    table.add_column("format", overflow="fold", max_width=16)
    table.add_column("modifier", no_wrap=True)
    table.add_column("planes", justify="right")
    for letter, _, _ in _MODIFIER_FEATURES:
        table.add_column(letter, justify="center")
    table.add_column("name", overflow="fold")
    for entry in formats:
        # Under the format: whether VkDrmFormatModifierPropertiesList2EXT says the same.
        agree = {None: "", True: "\n[dim]List2 agrees[/]", False: "\n[red]List2 differs[/]"}[
            entry.lists_agree
        ]
        label = _format_label(entry.format) + agree
        if not entry.modifiers:
            table.add_row(label, "[dim]none[/]")
        for i, modifier in enumerate(entry.modifiers):
            table.add_row(
                label if i == 0 else "",
                hex_value(modifier.value),
                str(modifier.plane_count),
                *(
                    _YES if feature in modifier.features else "[dim]·[/]"
                    for _, _, feature in _MODIFIER_FEATURES
                ),
                modifier.name or f"[dim]{modifier.vendor}[/]",
            )
    return table

"""Case-id fragments that read like table cells: 4KiB, 64MiB, offset64."""

from __future__ import annotations

KiB = 1 << 10
MiB = 1 << 20


def size_id(size: int) -> str:
    for unit, name in ((MiB, "MiB"), (KiB, "KiB")):
        if size % unit == 0:
            return f"{size // unit}{name}"
    return f"{size}B"

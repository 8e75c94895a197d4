"""Why a device node cannot be used: absent from the kernel, kept out of this container, or not ours."""

from __future__ import annotations

import os
from pathlib import Path


def node_unavailable(node: Path, *, sysfs: Path, lacking: str) -> str | None:
    """None when `node` can be opened read-write, else the reason.

    `sysfs` is the kernel's own entry for the device: sysfs shows it even where the /dev node was
    not given to the container (or the VM has no devtmpfs), which tells that case from a kernel
    built without `lacking` (a config option or a module to load).
    """
    if node.exists():
        if os.access(node, os.R_OK | os.W_OK):
            return None
        return f"{node} exists but uid {os.getuid()} cannot open it read-write"
    if sysfs.exists():
        return f"no {node}: the kernel has it ({sysfs}) but this container or VM was not given the node"
    return f"no {node}: the kernel lacks {lacking}"

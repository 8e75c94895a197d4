"""The sub-feature a case exercises within its path: the compatibility table's finer columns.

A mapped case exercises one memory type, named by its property flags (the index differs from
device to device, the flags are what readers compare); the other paths name theirs in their
parameters: a host pointer's source (anon, memfd), and, as the image paths land, the format, the
DRM modifier and the exporter.
"""

from __future__ import annotations

import re

from vkzc.results.model import CaseResult

# The mapped case id's memory-type fragment, e.g. `[type0-DEVICE_LOCAL|HOST_VISIBLE-4KiB-offset0]`.
_MEMORY_TYPE = re.compile(r"\[type\d+-([A-Z_|]+)-")
# Parameters that name a sub-feature, in the order they are joined.
FEATURE_PARAMS = ("source", "format", "modifier", "exporter")


def feature(record: CaseResult) -> str | None:
    """The sub-feature's label, or None when the case's path has none."""
    if record.path == "mapped":
        match = _MEMORY_TYPE.search(record.case_id)
        return match.group(1) if match else None
    values = [str(record.params[name]) for name in FEATURE_PARAMS if name in record.params]
    return " / ".join(values) or None

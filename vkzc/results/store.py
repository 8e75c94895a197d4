"""Reading result files: one JSON record a line, as the suite's plugin writes them."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vkzc.errors import ConfigurationError
from vkzc.results.model import CaseResult, Status
from vkzc.results.upgrade import upgrade

RESULTS_FILE = "results.jsonl"
# Beside results.jsonl: the records of the unexpected failures that the runner ran a second time.
RERUN_FILE = "rerun.jsonl"

_NONE = type(None)
# Checked before the dataclass is built, so that a wrong type is reported here and not later, far
# from the file, as an AttributeError in a report.
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "path": (str,),
    "case_id": (str,),
    "params": (dict,),
    "device": (str,),
    "driver": (str, _NONE),
    "driver_version": (str,),
    "mesa_version": (str, _NONE),
    "kernel": (str,),
    "cell": (str, _NONE),
    "runner": (str, _NONE),
    "status": (str,),
    "reason": (str,),
    "duration_s": (int, float),
    "output_tail": (str,),
    "results_version": (int,),
}
_REQUIRED = {f.name for f in dataclasses.fields(CaseResult) if f.default is dataclasses.MISSING}


def read_results(path: Path) -> list[CaseResult]:
    """Every record of a results file; a malformed line is an error naming the file and line."""
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigurationError(f"cannot read results file {path}: {getattr(e, 'strerror', e)}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(from_json(json.loads(line)))
        except (ValueError, RecursionError) as e:  # RecursionError: JSON nested too deep
            raise ConfigurationError(
                f"{path}:{number}: not a vkzc result record ({e})",
                "was it written by `pytest suite --vkzc-results`?",
            ) from None
    return records


def from_json(raw: Any) -> CaseResult:
    """A record from its JSON object, upgraded from older versions; ValueError says what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError(f"a JSON object was expected, not {type(raw).__name__}")
    fields = upgrade(dict(raw))
    unknown = sorted(set(fields) - set(_FIELD_TYPES))
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}")
    missing = sorted(_REQUIRED - set(fields))
    if missing:
        raise ValueError(f"missing field {missing[0]!r}")
    for name, value in fields.items():
        types = _FIELD_TYPES[name]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ValueError(
                f"{name} is {type(value).__name__}, not {' or '.join(t.__name__ for t in types)}"
            )
    fields["status"] = Status(fields["status"])
    return CaseResult(**fields)


def write_results(path: Path, records: Iterable[CaseResult]) -> None:
    """Replace the file with these records, atomically: a reader, or a crash at any moment, sees
    either the old file or the new one, never a half-written line."""
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record.to_json(), sort_keys=True) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)

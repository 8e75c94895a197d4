"""cell.json: who produced a results directory — the matrix cell's identity, written beside results.jsonl.

Records carry what the device says about itself (device name, Vulkan driver name, Mesa version);
cell.json carries what the matrix asked for (Mesa build, matrix driver id, runner, arch). The
second picks the expectation files and labels the report's rows, and stays right even when a
cell ran no case at all. Keys are those of `vkzc matrix list --json`, so both read alike.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vkzc.errors import ConfigurationError

if TYPE_CHECKING:
    from vkzc.matrix.model import Cell

CELL_FILE = "cell.json"
CELL_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class CellInfo:
    identifier: str  # e.g. mesa-26.2.6-debian-sid/lavapipe/local-amd64
    mesa: str  # the Mesa build's id in matrix.yaml
    mesa_version: str
    source: str  # how the build was made, e.g. "debian sid 26.2.6-1"
    driver: str  # the matrix's driver id: lavapipe, panvk, v3dv, …
    runner: str
    arch: str
    cell_version: int = CELL_VERSION

    @classmethod
    def from_matrix_cell(cls, cell: Cell) -> CellInfo:
        return cls(
            identifier=cell.identifier,
            mesa=cell.mesa.id,
            mesa_version=cell.mesa.version,
            source=cell.mesa.source.describe(),
            driver=cell.driver.id,
            runner=cell.runner.id,
            arch=cell.arch,
        )

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def write_cell_info(directory: Path, info: CellInfo) -> Path:
    path = directory / CELL_FILE
    path.write_text(json.dumps(info.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_cell_info(path: Path) -> CellInfo:
    """cell.json's identity; anything malformed is a ConfigurationError naming the file."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigurationError(f"cannot read {path}: {e.strerror}") from None
    except (ValueError, RecursionError) as e:  # RecursionError: JSON nested too deep
        line = f":{e.lineno}" if isinstance(e, json.JSONDecodeError) else ""
        raise ConfigurationError(f"{path}{line}: not JSON ({e})") from None
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{path}: a JSON object was expected")
    if raw.get("cell_version", CELL_VERSION) != CELL_VERSION:
        raise ConfigurationError(
            f"{path}: cell_version {raw.get('cell_version')!r}, this vkzc reads {CELL_VERSION}"
        )
    fields = {f.name for f in dataclasses.fields(CellInfo)}
    for key, value in raw.items():
        if key not in fields:
            raise ConfigurationError(
                f"{path}: unknown key {key!r}", f"known keys: {', '.join(sorted(fields))}"
            )
        if key != "cell_version" and not isinstance(value, str):
            raise ConfigurationError(f"{path}: {key} must be a string, not {type(value).__name__}")
    missing = sorted(fields - set(raw) - {"cell_version"})
    if missing:
        raise ConfigurationError(f"{path}: missing key {missing[0]!r}")
    return CellInfo(**raw)

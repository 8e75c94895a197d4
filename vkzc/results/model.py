"""The result record of one conformance case, and the ordered statuses."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

RESULTS_VERSION = 1


class Status(enum.Enum):
    """Outcomes, in piglit's order of severity; SKIP and NOTRUN never count as regressions."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    TIMEOUT = "timeout"
    CRASH = "crash"
    INCOMPLETE = "incomplete"
    SKIP = "skip"
    NOTRUN = "notrun"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @property
    def executed(self) -> bool:
        """Whether the case ran on the device: everything but SKIP and NOTRUN."""
        return self not in (Status.SKIP, Status.NOTRUN)

    @property
    def failed(self) -> bool:
        """Worse than a pass: fail, timeout, crash, incomplete (a WARN still passed)."""
        return self.executed and self.severity > Status.WARN.severity


_SEVERITY = {s: i for i, s in enumerate(Status)}


@dataclass(frozen=True, kw_only=True)
class CaseResult:
    path: str
    case_id: str
    params: dict[str, Any]
    device: str
    driver: str | None
    driver_version: str
    mesa_version: str | None
    kernel: str
    cell: str | None
    runner: str | None
    status: Status
    reason: str
    duration_s: float
    output_tail: str = ""
    results_version: int = field(default=RESULTS_VERSION)

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["status"] = self.status.value
        return record

"""Counting results per path: the numbers every summary and table starts from."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from vkzc.results.model import CaseResult, Status


@dataclass(frozen=True, kw_only=True)
class Counts:
    statuses: tuple[tuple[Status, int], ...]

    def __getitem__(self, status: Status) -> int:
        return dict(self.statuses).get(status, 0)

    @property
    def total(self) -> int:
        return sum(n for _, n in self.statuses)

    @property
    def executed(self) -> int:
        return sum(n for s, n in self.statuses if s.executed)

    @property
    def passed(self) -> int:
        return self[Status.PASS] + self[Status.WARN]

    @property
    def failed(self) -> int:
        """Everything worse than a pass that is not a skip: fail, timeout, crash, incomplete."""
        return sum(n for s, n in self.statuses if s.failed)

    @property
    def skipped(self) -> int:
        return self.total - self.executed

    def short(self, mark: str = "") -> str:
        """`passed/executed`, a verdict mark if given, and the skips apart, e.g. `21/21 ✓ (+3 skipped)`."""
        text = f"{self.passed}/{self.executed}" + (f" {mark}" if mark else "")
        if self.skipped:
            text += f" (+{self.skipped} skipped)"
        return text


def counts(records: Iterable[CaseResult]) -> Counts:
    tally = Counter(r.status for r in records)
    return Counts(statuses=tuple((s, tally[s]) for s in Status if tally[s]))


def counts_by_path(records: Iterable[CaseResult]) -> dict[str, Counts]:
    by_path: dict[str, list[CaseResult]] = {}
    for record in records:
        by_path.setdefault(record.path, []).append(record)
    return {path: counts(rs) for path, rs in sorted(by_path.items())}

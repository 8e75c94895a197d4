"""What changed between two runs, case by case, as piglit's summaries tell it.

Statuses are compared by severity (pass < warn < fail < timeout < crash < incomplete). A case that
now runs where it was skipped or absent is newly enabled, one that no longer runs is disabled;
neither is a regression or a fix, since a skip says nothing about the driver's correctness.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from vkzc.results.directory import CellResults
from vkzc.results.model import Status


class Change(enum.Enum):
    REGRESSION = "regression"
    FIX = "fix"
    ENABLED = "newly enabled"
    DISABLED = "disabled"


@dataclass(frozen=True, kw_only=True)
class CaseChange:
    cell: str
    case_id: str
    change: Change
    old: Status | None  # None: the case was not in the old run
    new: Status | None


@dataclass(frozen=True, kw_only=True)
class Comparison:
    changes: tuple[CaseChange, ...]
    added_cells: tuple[str, ...]  # cells only in the new run
    removed_cells: tuple[str, ...]  # cells only in the old run

    def of(self, change: Change) -> tuple[CaseChange, ...]:
        return tuple(c for c in self.changes if c.change is change)


def compare(old: Sequence[CellResults], new: Sequence[CellResults]) -> Comparison:
    old_cells = {c.identifier: c for c in old}
    new_cells = {c.identifier: c for c in new}
    changes = []
    for identifier in sorted(old_cells.keys() & new_cells.keys()):
        before = {r.case_id: r.status for r in old_cells[identifier].records}
        after = {r.case_id: r.status for r in new_cells[identifier].records}
        for case_id in sorted(before.keys() | after.keys()):
            change = _change(before.get(case_id), after.get(case_id))
            if change is not None:
                changes.append(
                    CaseChange(
                        cell=identifier,
                        case_id=case_id,
                        change=change,
                        old=before.get(case_id),
                        new=after.get(case_id),
                    )
                )
    return Comparison(
        changes=tuple(changes),
        added_cells=tuple(sorted(new_cells.keys() - old_cells.keys())),
        removed_cells=tuple(sorted(old_cells.keys() - new_cells.keys())),
    )


def _change(old: Status | None, new: Status | None) -> Change | None:
    if new is None or not new.executed:
        return Change.DISABLED if old is not None and old.executed else None
    if old is None or not old.executed:
        return Change.ENABLED
    if new.severity > old.severity:
        return Change.REGRESSION
    if new.severity < old.severity:
        return Change.FIX
    return None

"""Applying expectations to a cell's results: each case's baseline outcome and the cell's verdict.

The verdict is green unless a case failed unexpectedly (after its rerun, when there was one) or
passed although a fails file expects it to fail: the first is a regression, the second an entry
that must go, and both need a person. Everything else (expected failures, flakes, skips, stale
entries for cases that no longer exist) is reported but keeps the cell green, as in deqp-runner.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from vkzc.results.expectations import Expectations, Source
from vkzc.results.model import CaseResult, Status


class Outcome(enum.Enum):
    PASS = "pass"
    SKIP = "skip"  # skipped for a missing capability, not run, or matched by a skips file
    EXPECTED_FAIL = "expected-fail"  # failed exactly as a fails file says
    UNEXPECTED_PASS = "unexpected-pass"  # a fails file expects a failure; the line must go
    FLAKE = "flake"  # failed, then passed when rerun: worth a flakes line if it recurs
    KNOWN_FLAKE = "known-flake"  # failed, and a flakes file names it
    MISSING = "missing"  # a fails file names a case that is not in the results
    UNEXPECTED_FAIL = "unexpected-fail"  # a regression: fail, timeout, crash or incomplete

    @property
    def breaks_verdict(self) -> bool:
        return self in (Outcome.UNEXPECTED_FAIL, Outcome.UNEXPECTED_PASS)


@dataclass(frozen=True, kw_only=True)
class CaseOutcome:
    case_id: str
    path: str | None  # None for MISSING: nothing ran, so nothing says which path
    status: Status | None  # the first run's status; None for MISSING
    rerun_status: Status | None
    outcome: Outcome
    source: Source | None  # the expectation line behind the outcome, if one is

    def describe(self) -> str:
        """One line for a person, saying what to do where something is to be done."""
        if self.outcome is Outcome.UNEXPECTED_PASS:
            return f"unexpected pass: {self.case_id} — remove line {self.source}"
        if self.outcome is Outcome.MISSING:
            return f"missing: {self.case_id} is not in the results — remove line {self.source}"
        if self.outcome is Outcome.UNEXPECTED_FAIL:
            assert self.status is not None
            again = f", and {self.rerun_status.value} again when rerun" if self.rerun_status else ""
            expected = f" (expected {self.source})" if self.source else ""
            return f"unexpected {self.status.value}: {self.case_id}{again}{expected}"
        if self.outcome is Outcome.FLAKE:
            return f"flake: {self.case_id} failed, then passed when rerun"
        return f"{self.outcome.value}: {self.case_id}"


@dataclass(frozen=True, kw_only=True)
class Baseline:
    outcomes: tuple[CaseOutcome, ...]

    @property
    def green(self) -> bool:
        return not any(o.outcome.breaks_verdict for o in self.outcomes)

    def of(self, outcome: Outcome) -> tuple[CaseOutcome, ...]:
        return tuple(o for o in self.outcomes if o.outcome is outcome)

    def by_case(self) -> dict[str, CaseOutcome]:
        return {o.case_id: o for o in self.outcomes}

    def needs_rerun(self) -> tuple[str, ...]:
        """Case ids of the unexpected failures not yet rerun: rerun each once, then apply again.

        `pytest suite/<case id>` selects one case; its record goes to rerun.jsonl beside results.jsonl.
        """
        return tuple(
            o.case_id
            for o in self.outcomes
            if o.outcome is Outcome.UNEXPECTED_FAIL and o.rerun_status is None
        )

    def problems(self, *, missing: bool = True) -> tuple[str, ...]:
        """The lines that explain a red verdict, then those worth a look (flakes, and with `missing`
        the stale entries: a run of some cases only leaves the others out on purpose)."""
        ordered = (Outcome.UNEXPECTED_FAIL, Outcome.UNEXPECTED_PASS, Outcome.FLAKE) + (
            (Outcome.MISSING,) if missing else ()
        )
        return tuple(o.describe() for kind in ordered for o in self.of(kind))


def apply_expectations(
    records: Iterable[CaseResult], expectations: Expectations, *, reruns: Iterable[CaseResult] = ()
) -> Baseline:
    """Each case's outcome against the expectations; `reruns` are second runs of unexpected failures."""
    rerun_status = {r.case_id: r.status for r in reruns}
    outcomes = []
    seen = set()
    for record in records:
        seen.add(record.case_id)
        outcomes.append(_outcome(record, expectations, rerun_status.get(record.case_id)))
    for failure in expectations.fails:
        if failure.case_id not in seen:
            outcomes.append(
                CaseOutcome(
                    case_id=failure.case_id,
                    path=None,
                    status=None,
                    rerun_status=None,
                    outcome=Outcome.MISSING,
                    source=failure.source,
                )
            )
    return Baseline(outcomes=tuple(outcomes))


def _outcome(record: CaseResult, expectations: Expectations, rerun: Status | None) -> CaseOutcome:
    def outcome(kind: Outcome, source: Source | None = None) -> CaseOutcome:
        return CaseOutcome(
            case_id=record.case_id,
            path=record.path,
            status=record.status,
            rerun_status=rerun,
            outcome=kind,
            source=source,
        )

    status = record.status
    # A skip is never a regression, even of a case that a fails file lists: the capability is
    # missing on this cell, which says nothing about the entry.
    if not status.executed:
        return outcome(Outcome.SKIP)
    skip = expectations.skip(record.case_id)
    if skip is not None:
        return outcome(Outcome.SKIP, skip.source)
    expected = expectations.expected(record.case_id)
    if expected is not None:
        if status is expected.status:
            return outcome(Outcome.EXPECTED_FAIL, expected.source)
        if not status.failed:
            return outcome(Outcome.UNEXPECTED_PASS, expected.source)
    elif not status.failed:
        return outcome(Outcome.PASS)
    # Failed, and not as expected: a listed flake, a flake that its rerun revealed, or a regression.
    flake = expectations.flake(record.case_id)
    if flake is not None:
        return outcome(Outcome.KNOWN_FLAKE, flake.source)
    if rerun is not None and rerun.executed and not rerun.failed:
        return outcome(Outcome.FLAKE)
    return outcome(Outcome.UNEXPECTED_FAIL, expected.source if expected else None)

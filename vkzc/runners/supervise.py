"""Going on after a crash: the suite runs in one process until a case kills it, then in a fresh
one that resumes after that case (as deqp-runner does), so a crash costs one case.

The plugin leaves an `incomplete` record for the case in flight when its process dies
(vkzc/conformance/plugin.py); here it becomes `crash`, with how the process ended and the tail
of its output, and the suite is started again with --vkzc-resume.
"""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Callable
from pathlib import Path

from vkzc.conformance.exits import EXIT_AFTER_TIMEOUT, GUEST_LOST, GUEST_PANIC
from vkzc.results.model import Status
from vkzc.results.store import read_results, write_results

# A suite whose every case crashes still ends: after this many fresh processes, it stops.
MAX_RESTARTS = 200
_NO_TESTS_COLLECTED = 5
_LAUNCHER_ENDS = {GUEST_PANIC: "the guest kernel panicked", GUEST_LOST: "the VM was lost"}


def describe_exit(code: int) -> str:
    """`killed by SIGSEGV` for a signal (negative from subprocess, 128+N from a container's shell)."""
    if code in _LAUNCHER_ENDS:
        return _LAUNCHER_ENDS[code]
    number = -code if code < 0 else code - 128 if 128 < code < 128 + 65 else None
    if number is not None:
        try:
            return f"killed by {signal.Signals(number).name}"
        except ValueError:
            return f"killed by signal {number}"
    return f"exit status {code}"


def supervise(
    run: Callable[[bool], int], results: Path, output_tail: Callable[[], str], *, resume: bool = False
) -> tuple[int, int]:
    """Run the suite (`run(resume)` returns its exit code) until it ends by itself; returns that
    exit code and how many times a fresh process took over."""
    restarts = 0
    while True:
        code = run(resume)
        if code in (0, 1) or (resume and code == _NO_TESTS_COLLECTED):
            return code, restarts
        records = read_results(results) if results.exists() else []
        in_flight = [r for r in records if r.status is Status.INCOMPLETE]
        if (not in_flight and code != EXIT_AFTER_TIMEOUT) or restarts == MAX_RESTARTS:
            return code, restarts
        if in_flight:
            tail = output_tail()
            crashed = {
                r.case_id: dataclasses.replace(
                    r,
                    status=Status.CRASH,
                    reason=f"the process died ({describe_exit(code)})",
                    output_tail=tail,
                )
                for r in in_flight
            }
            write_results(results, [crashed.get(r.case_id, r) for r in records])
        restarts += 1
        resume = True

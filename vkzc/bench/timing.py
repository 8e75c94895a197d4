"""How many rounds a benchmark runs, and running them through pytest-benchmark.

Every round is a whole transfer: the code under the timer waits for the GPU's fence itself
(see replay.py), so a round ends when the data is where its consumer reads it, never when the
work was merely queued.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


class Benchmark(Protocol):
    """The part of pytest-benchmark's fixture used here."""

    def pedantic(
        self,
        target: Callable[[], Any],
        *,
        setup: Callable[[], None] | None = ...,
        rounds: int = ...,
        warmup_rounds: int = ...,
        iterations: int = ...,
    ) -> Any: ...


@dataclass(frozen=True, kw_only=True)
class RoundPolicy:
    warmup: int  # untimed rounds first: page faults, lazy driver allocations, caches
    minimum: int  # the fewest timed rounds, unless limit_s says otherwise
    maximum: int
    budget_s: float  # the time aimed at for one benchmark's timed rounds
    # A round shorter than this calls its target several times under one timer reading, so the
    # timer's own cost (~0.1 µs) stays under 1% of what is measured.
    min_round_s: float = 20e-6
    # Past this, a path slow beyond reason (the CPU reading uncached or BAR memory: MB/s, not GB/s)
    # runs fewer rounds than `minimum`, though never fewer than FEWEST, instead of minutes of them.
    limit_s: float = 20.0


FEWEST = 3
FULL = RoundPolicy(warmup=2, minimum=7, maximum=1000, budget_s=1.5)
QUICK = RoundPolicy(warmup=1, minimum=3, maximum=5, budget_s=0.2)


@dataclass(frozen=True, kw_only=True)
class Plan:
    rounds: int
    iterations: int  # calls per round; the figure is per call


def plan(policy: RoundPolicy, call_s: float, *, repeatable: bool) -> Plan:
    """Rounds and calls per round for a target that took `call_s` once. `repeatable` is False when
    each call needs a setup first (pytest-benchmark then allows one call per round)."""
    call_s = max(call_s, 1e-9)
    iterations = max(1, math.ceil(policy.min_round_s / call_s)) if repeatable else 1
    round_s = call_s * iterations
    rounds = min(policy.maximum, max(policy.minimum, math.floor(policy.budget_s / round_s)))
    return Plan(rounds=min(rounds, max(FEWEST, math.floor(policy.limit_s / round_s))), iterations=iterations)


def measure(
    benchmark: Benchmark,
    policy: RoundPolicy,
    target: Callable[[], object],
    *,
    setup: Callable[[], None] | None = None,
    reference: Callable[[], object] | None = None,
) -> float | None:
    """Warm up, time one call to size the rounds, then let pytest-benchmark time them (median).

    With a `reference` (the CPU-only operation a path is compared with), each round first times the
    reference, untimed by pytest-benchmark, so that path and reference alternate round by round and
    whatever else loads the machine weighs on both alike. Returns the reference's median.
    """
    samples: list[float] = []

    def prepare() -> None:
        if reference is not None:
            start = time.perf_counter()
            reference()
            samples.append(time.perf_counter() - start)
        if setup is not None:
            setup()

    per_round = prepare if setup is not None or reference is not None else None
    warming_s = 0.0
    for _ in range(policy.warmup):
        if warming_s > policy.budget_s:
            break  # a slow path is warm after one round; more would only spend machine time
        if per_round is not None:
            per_round()
        start = time.perf_counter()
        target()
        warming_s += time.perf_counter() - start
    if per_round is not None:
        per_round()
    start = time.perf_counter()
    target()
    chosen = plan(policy, time.perf_counter() - start, repeatable=per_round is None)
    del samples[:]  # the warm-up's reference calls paid page faults too
    benchmark.pedantic(target, setup=per_round, rounds=chosen.rounds, iterations=chosen.iterations)
    return statistics.median(samples) if samples else None

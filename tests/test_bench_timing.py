"""Round planning and the warm-up-then-time sequence handed to pytest-benchmark (no clock is asserted)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vkzc.bench.timing import FEWEST, FULL, QUICK, RoundPolicy, measure, plan

POLICY = RoundPolicy(warmup=2, minimum=5, maximum=100, budget_s=1.0, min_round_s=1e-3)


def test_rounds_fill_the_budget_within_the_bounds() -> None:
    assert plan(POLICY, 0.05, repeatable=True).rounds == 20
    assert plan(POLICY, 0.5, repeatable=True).rounds == 5  # slow: the minimum still holds
    assert plan(POLICY, 0.002, repeatable=True).rounds == 100  # fast: capped


def test_a_path_slow_beyond_reason_runs_fewer_rounds_than_the_minimum() -> None:
    assert plan(FULL, 5.0, repeatable=False).rounds == 4  # 20 s of 5-second rounds
    assert plan(FULL, 60.0, repeatable=False).rounds == FEWEST


def test_short_calls_repeat_within_a_round_unless_each_needs_a_setup() -> None:
    repeated = plan(POLICY, 1e-4, repeatable=True)
    assert repeated.iterations == 10
    assert repeated.rounds == 100
    assert plan(POLICY, 1e-4, repeatable=False).iterations == 1
    assert plan(POLICY, 0.0, repeatable=True).iterations >= 1  # a call faster than the clock


def test_the_quick_smoke_runs_a_few_rounds_where_the_full_run_fills_its_budget() -> None:
    assert plan(QUICK, 0.001, repeatable=False).rounds == QUICK.maximum == 5
    assert plan(FULL, 0.01, repeatable=False).rounds == round(FULL.budget_s / 0.01)


class FakeBenchmark:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def pedantic(self, target: Callable[[], Any], **options: Any) -> None:
        self.calls.append(options)
        for _ in range(options["rounds"]):
            if options["setup"] is not None:
                options["setup"]()
            for _ in range(options["iterations"]):
                target()


def test_the_reference_alternates_with_the_target_and_its_median_is_returned() -> None:
    events: list[str] = []
    ceiling = measure(
        FakeBenchmark(),
        RoundPolicy(warmup=1, minimum=4, maximum=4, budget_s=1.0),
        lambda: events.append("path"),
        setup=lambda: events.append("gpu writes"),
        reference=lambda: events.append("memset"),
    )
    assert events == ["memset", "gpu writes", "path"] * (1 + 1 + 4)  # warm-up, calibration, 4 rounds
    assert ceiling is not None and ceiling >= 0.0
    assert measure(FakeBenchmark(), POLICY, lambda: None) is None


def test_a_slow_path_warms_up_once() -> None:
    events: list[str] = []
    slow = RoundPolicy(warmup=3, minimum=1, maximum=1, budget_s=0.0, min_round_s=0.0)
    measure(FakeBenchmark(), slow, lambda: events.append("run"))
    assert events == ["run", "run", "run"]  # one warm-up, the calibration, one timed round


def test_measure_warms_up_calibrates_then_hands_over() -> None:
    events: list[str] = []
    benchmark = FakeBenchmark()
    measure(benchmark, POLICY, lambda: events.append("run"), setup=lambda: events.append("setup"))
    (options,) = benchmark.calls
    # Warm-up rounds and the calibration call each get their setup first.
    assert events[: 2 * (POLICY.warmup + 1)] == ["setup", "run"] * (POLICY.warmup + 1)
    assert options["iterations"] == 1
    assert events.count("run") == POLICY.warmup + 1 + options["rounds"]

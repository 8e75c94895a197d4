"""The benchmark figures' arithmetic: ratios against the limit and the staged path, targets, ordering."""

from __future__ import annotations

import pytest

from vkzc.bench.figures import (
    HEADLINE_SIZE,
    Figure,
    check_targets,
    headline_size,
    order,
    ratios,
)

MiB = 1 << 20
MAPPED = "type0-DEVICE_LOCAL|HOST_VISIBLE|HOST_COHERENT"
SHORT = "type0 DL·HV·coherent"  # as tables name it


def figure(group: str, path: str, median_s: float, *, size: int = HEADLINE_SIZE, variant: str = "") -> Figure:
    return Figure(
        group=group, path=path, variant=variant, size=size, median_s=median_s, iqr_s=median_s / 100, rounds=9
    )


RUN = (
    figure("limit", "memset", 2.0),
    figure("limit", "memcpy", 4.0),
    figure("limit", "read", 1.0),
    figure("upload", "staged", 10.0),
    figure("upload", "mapped", 2.5, variant=MAPPED),
    figure("upload", "host-pointer", 2.0, variant="anon"),
    figure("readback", "staged", 8.0),
    figure("readback", "mapped", 1.25, variant=MAPPED),
    figure("import", "fresh", 50e-6, size=4 * MiB, variant="opaque-fd"),
    figure("import", "cached", 1e-6, size=4 * MiB, variant="opaque-fd"),
)


def by_label(run: tuple[Figure, ...] = RUN) -> dict[str, object]:
    return {f"{r.figure.group} {r.figure.path}": r for r in ratios(run)}


def test_ratios_are_quotients_of_medians_at_the_same_size() -> None:
    found = by_label()
    mapped = found["upload mapped"]
    # Throughput fractions: the limit's median over the path's (the same bytes moved).
    assert mapped.of_memcpy == pytest.approx(4.0 / 2.5)
    assert mapped.of_ceiling == pytest.approx(2.0 / 2.5)
    assert mapped.speedup == pytest.approx(10.0 / 2.5)
    readback = found["readback mapped"]
    assert readback.of_ceiling == pytest.approx(1.0 / 1.25)  # a readback's ceiling is the read
    assert readback.speedup == pytest.approx(8.0 / 1.25)


def test_the_baseline_has_no_speedup_and_limits_have_no_ratios() -> None:
    found = by_label()
    assert found["upload staged"].speedup is None
    assert found["upload staged"].of_memcpy == pytest.approx(0.4)
    assert not any(r.figure.group == "limit" for r in ratios(RUN))


def test_a_cached_import_is_compared_with_the_fresh_import_of_its_handle_type() -> None:
    found = by_label()
    assert found["import cached"].speedup == pytest.approx(50.0)
    assert found["import cached"].of_memcpy is None
    assert found["import fresh"].speedup is None


def test_a_paired_ceiling_wins_over_the_limit_figure() -> None:
    paired = Figure(
        group="upload",
        path="mapped",
        variant=MAPPED,
        size=HEADLINE_SIZE,
        median_s=2.5,
        iqr_s=0,
        rounds=9,
        ceiling_s=2.4,
    )
    (r,) = [r for r in ratios([*RUN[:3], paired]) if r.figure is paired]
    assert r.of_ceiling == pytest.approx(2.4 / 2.5)  # not the limit test's 2.0 / 2.5
    assert r.of_memcpy == pytest.approx(4.0 / 2.5)


def test_no_reference_at_a_size_gives_no_ratio() -> None:
    lone = figure("upload", "mapped", 1.0, size=8 * MiB, variant=MAPPED)
    (r,) = ratios([lone])
    assert (r.of_memcpy, r.of_ceiling, r.speedup) == (None, None, None)


def test_targets_met_and_missed() -> None:
    checks = {c.name: c for c in check_targets(RUN, HEADLINE_SIZE)}
    best = checks["best mapped upload ≥ 80% of memset"]
    assert (best.met, best.detail) == (True, f"80%, {SHORT}")
    assert checks[f"upload mapped {SHORT} beats staged"].met is True
    slow = [
        f if f.path != "host-pointer" else figure("upload", "host-pointer", 11.0, variant="anon") for f in RUN
    ]
    slow = [
        f if f.path != "mapped" or f.group != "upload" else figure("upload", "mapped", 3.0, variant=MAPPED)
        for f in slow
    ]
    checks = {c.name: c for c in check_targets(slow, HEADLINE_SIZE)}
    assert checks["best mapped upload ≥ 80% of memset"].met is False
    assert checks["upload host-pointer anon beats staged"].met is False


def test_the_mapped_target_is_unknown_without_a_mapped_upload() -> None:
    (check,) = check_targets([figure("limit", "memset", 1.0)], HEADLINE_SIZE)
    assert check.met is None


def test_the_headline_is_64MiB_or_the_largest_size_below_it() -> None:
    assert headline_size(RUN) == HEADLINE_SIZE
    quick = [figure("upload", "staged", 1.0, size=s) for s in (1 * MiB, 4 * MiB)]
    assert headline_size(quick) == 4 * MiB
    bigger = [*quick, figure("upload", "staged", 1.0, size=256 * MiB)]
    assert headline_size(bigger) == 4 * MiB
    assert headline_size([figure("import", "fresh", 1.0)]) is None


def test_noisy_figures_and_table_order() -> None:
    steady = figure("upload", "staged", 1.0)
    noisy = Figure(group="upload", path="staged", variant="", size=MiB, median_s=1.0, iqr_s=0.2, rounds=5)
    assert not steady.noisy and noisy.noisy
    shuffled = sorted(reversed(RUN), key=order)
    assert [f.group for f in shuffled][:3] == ["limit"] * 3
    assert [f.path for f in shuffled if f.group == "upload"] == ["staged", "mapped", "host-pointer"]

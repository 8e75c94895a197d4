"""The compact table printed at the end of a bench run, and the number formats shared with the report.

Grids of the same rows (limit, upload and readback paths) by size: throughput, the fraction of
the memcpy limit and of the direction's ceiling, and the speed-up over the staged path; then the
import cost per frame and the targets at the headline size. A figure whose spread is large is
marked "~".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from vkzc.bench.figures import (
    IMPORT,
    LIMIT,
    SHORT_FLAGS,
    Figure,
    Ratios,
    check_targets,
    headline_size,
    ratios,
    short_variant,
)
from vkzc.bench.storage import BenchRun
from vkzc.conformance.ids import size_id

GIB = 1 << 30
_MARKS = {True: "✓", False: "✗", None: "?"}
RowKey = tuple[str, str, str]  # group, path, variant


def label(figure: Figure) -> str:
    return " ".join(x for x in (figure.group, figure.path, short_variant(figure.variant)) if x)


def rate(bytes_per_s: float) -> str:
    return f"{bytes_per_s / GIB:.3g} GiB/s"


def duration(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fraction(value: float | None) -> str:
    if value is None:
        return "—"
    # Two decimals, unless that would print a path a thousand times too slow (a CPU reading BAR
    # memory) as 0.00.
    return f"{value:.2f}" if value >= 0.01 else f"{value:.2g}"


def speedup(value: float | None) -> str:
    return "—" if value is None else f"{fraction(value)}×"


def render_summary(run: BenchRun) -> list[str]:
    m = run.machine
    driver = " ".join(x for x in (m.driver, m.mesa_version or m.driver_version) if x)
    lines = [
        f"vkzc bench · {m.device} · {driver} · {run.identifier} · {m.cpus} CPUs · "
        f"load {run.load_before[0]:.2f} → {run.load_after[0]:.2f}" + (" · quick smoke" if run.quick else ""),
    ]
    transfers = [f for f in run.figures if f.group != IMPORT]
    by_key = {
        (r.figure.group, r.figure.path, r.figure.variant, r.figure.size): r for r in ratios(run.figures)
    }

    def ratio_of(figure: Figure) -> Ratios | None:
        return by_key.get((figure.group, figure.path, figure.variant, figure.size))

    lines += _grid(
        "GiB/s, median", transfers, lambda f: f"{f.bytes_per_s / GIB:.3g}" + ("~" if f.noisy else "")
    )
    lines += _grid(
        "× memcpy limit",
        [f for f in transfers if f.group != LIMIT],
        lambda f: fraction(r.of_memcpy if (r := ratio_of(f)) else None),
    )
    lines += _grid(
        "× ceiling (memset up, read back)",
        [f for f in transfers if f.group != LIMIT],
        lambda f: fraction(r.of_ceiling if (r := ratio_of(f)) else None),
    )
    lines += _grid(
        "× staged (speed-up)",
        [f for f in transfers if f.group != LIMIT and f.path != "staged"],
        lambda f: speedup(r.speedup if (r := ratio_of(f)) else None),
    )
    imports = [f for f in run.figures if f.group == IMPORT]
    if imports:
        lines += ["", "import per frame (median)"]
        lines += [
            f"  {f.path:<7} {f.variant:<10} {size_id(f.size):>6}  {duration(f.median_s):>9}"
            + (f"  {speedup(r.speedup)} fresh" if (r := ratio_of(f)) and r.speedup else "")
            for f in imports
        ]
    size = headline_size(run.figures)
    if size is not None:
        lines += ["", f"targets at {size_id(size)}"]
        lines += [f"  {_MARKS[c.met]} {c.name}: {c.detail}" for c in check_targets(run.figures, size)]
    if any(short_variant(f.variant) != f.variant for f in run.figures):
        lines += ["", "memory types: " + ", ".join(f"{short} {flag}" for flag, short in SHORT_FLAGS.items())]
    return lines


def _grid(title: str, figures: Sequence[Figure], cell: Callable[[Figure], str]) -> list[str]:
    if not figures:
        return []
    sizes = sorted({f.size for f in figures})
    rows: dict[RowKey, dict[int, Figure]] = {}
    for f in figures:
        rows.setdefault((f.group, f.path, f.variant), {})[f.size] = f
    labels = {key: label(by_size[min(by_size)]) for key, by_size in rows.items()}
    width = max(len(title), *(len(text) for text in labels.values()))
    texts = {key: [cell(by_size[s]) if s in by_size else "—" for s in sizes] for key, by_size in rows.items()}
    if all(text == "—" for row in texts.values() for text in row):
        return []  # a run without the reference these ratios need
    lines = ["", f"{title:<{width}}" + "".join(f"{size_id(s):>9}" for s in sizes)]
    lines += [f"{labels[key]:<{width}}" + "".join(f"{text:>9}" for text in row) for key, row in texts.items()]
    return lines

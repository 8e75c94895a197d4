"""Figures (one benchmark's median) and the ratios we publish.

Absolute figures move with the machine and whatever else runs on it; ratios between figures
measured in the same process, one after the other at the same size, mostly do not. So the
published numbers are each path's throughput as a fraction of the CPU's own limit, and each
zero-copy path's speed-up over the staged path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Groups, in the order tables list them.
LIMIT, UPLOAD, READBACK, IMPORT = "limit", "upload", "readback", "import"
GROUPS = (LIMIT, UPLOAD, READBACK, IMPORT)
# Paths, in the order tables list them.
MEMSET, MEMCPY, READ = "memset", "memcpy", "read"
STAGED, MAPPED, HOST_POINTER, DMA_BUF = "staged", "mapped", "host-pointer", "dma-buf"
FRESH, CACHED = "fresh", "cached"
PATHS = (MEMSET, MEMCPY, READ, STAGED, MAPPED, HOST_POINTER, DMA_BUF, FRESH, CACHED)
ZERO_COPY = (MAPPED, HOST_POINTER, DMA_BUF)

# What each group's speed-up is measured against.
BASELINE = {UPLOAD: STAGED, READBACK: STAGED, IMPORT: FRESH}
# The CPU-only operation a transfer can at best match: producing the bytes in ordinary memory
# (upload) or consuming them there (readback).
CEILING = {UPLOAD: MEMSET, READBACK: READ}

# The size the targets are checked at and the README quotes: the seed benchmark's.
HEADLINE_SIZE = 64 << 20
MAPPED_TARGET = 0.8  # best mapped-direct upload, as a fraction of memset
NOISY_IQR = 0.10  # a figure whose interquartile range exceeds this share of its median is flagged


# Memory-type flags as tables show them: the full names make a row wider than a screen.
SHORT_FLAGS = {
    "DEVICE_LOCAL": "DL",
    "HOST_VISIBLE": "HV",
    "HOST_COHERENT": "coherent",
    "HOST_CACHED": "cached",
}


def short_variant(variant: str) -> str:
    """type0-DEVICE_LOCAL|HOST_VISIBLE|HOST_COHERENT → type0 DL·HV·coherent; other variants as they are."""
    head, dash, flags = variant.partition("-")
    if not (dash and head.startswith("type")):
        return variant
    return f"{head} " + "·".join(SHORT_FLAGS.get(flag, flag) for flag in flags.split("|"))


@dataclass(frozen=True, kw_only=True)
class Figure:
    group: str
    path: str
    variant: str  # the memory type or host-memory source; "" where the path has one form
    size: int  # bytes moved per round
    median_s: float
    iqr_s: float
    rounds: int
    # The median of the ceiling (memset or read, same size) timed between this figure's rounds;
    # None for limits and imports.
    ceiling_s: float | None = None

    @property
    def label(self) -> str:
        """The path and its variant as tables show them (memory types abbreviated)."""
        return f"{self.path} {short_variant(self.variant)}" if self.variant else self.path

    @property
    def bytes_per_s(self) -> float:
        return self.size / self.median_s

    @property
    def noisy(self) -> bool:
        return self.iqr_s > NOISY_IQR * self.median_s


@dataclass(frozen=True, kw_only=True)
class Ratios:
    figure: Figure
    of_memcpy: float | None  # throughput as a fraction of memcpy's, same size; None without one
    of_ceiling: float | None  # … of memset's (upload) or read's (readback), paired where measured so
    speedup: float | None  # the group's baseline median over this one; None for the baseline itself


@dataclass(frozen=True, kw_only=True)
class TargetCheck:
    name: str
    met: bool | None  # None: the run lacks the figures to tell
    detail: str


def order(figure: Figure) -> tuple[int, int, str, int]:
    """Groups, then paths in table order, then variants, then sizes."""
    return (GROUPS.index(figure.group), PATHS.index(figure.path), figure.variant, figure.size)


def ratios(figures: Iterable[Figure]) -> tuple[Ratios, ...]:
    """The ratios of every transfer and import figure, against figures of the same size and run."""
    figures = sorted(figures, key=order)
    index = {(f.group, f.path, f.variant, f.size): f for f in figures}

    def quotient(group: str, path: str | None, figure: Figure) -> float | None:
        # The reference of the same variant where there is one (a cached import against the fresh
        # import of the same handle type), else the path's only form (memcpy, staged).
        if path is None:
            return None
        reference = index.get((group, path, figure.variant, figure.size)) or index.get(
            (group, path, "", figure.size)
        )
        if reference is None or reference is figure:
            return None
        return reference.median_s / figure.median_s

    transfer = (UPLOAD, READBACK)
    return tuple(
        Ratios(
            figure=f,
            of_memcpy=quotient(LIMIT, MEMCPY, f) if f.group in transfer else None,
            # The paired ceiling where there is one: it saw the same moments of the machine.
            of_ceiling=f.ceiling_s / f.median_s if f.ceiling_s else quotient(LIMIT, CEILING.get(f.group), f),
            speedup=quotient(f.group, BASELINE.get(f.group), f),
        )
        for f in figures
        if f.group != LIMIT
    )


def headline_size(figures: Sequence[Figure]) -> int | None:
    """HEADLINE_SIZE when it was measured, else the largest transfer size below it (a quick run)."""
    sizes = {f.size for f in figures if f.group in (UPLOAD, READBACK)}
    below = [s for s in sizes if s <= HEADLINE_SIZE]
    return max(below) if below else None


def check_targets(figures: Sequence[Figure], size: int) -> tuple[TargetCheck, ...]:
    """The issue's targets at `size`: the best mapped-direct upload reaches MAPPED_TARGET of memset,
    and every zero-copy path beats the staged path in its direction."""
    at_size = [r for r in ratios(figures) if r.figure.size == size]
    checks = [_mapped_target(at_size)]
    for r in at_size:
        if r.figure.path in ZERO_COPY and r.speedup is not None:
            checks.append(
                TargetCheck(
                    name=f"{r.figure.group} {r.figure.label} beats staged",
                    met=r.speedup > 1.0,
                    detail=f"{r.speedup:.3g}× staged",
                )
            )
    return tuple(checks)


def _mapped_target(at_size: Sequence[Ratios]) -> TargetCheck:
    name = f"best mapped upload ≥ {MAPPED_TARGET:.0%} of memset"
    mapped = [r for r in at_size if r.figure.group == UPLOAD and r.figure.path == MAPPED]
    measured = [r for r in mapped if r.of_ceiling is not None]
    if not measured:
        return TargetCheck(name=name, met=None, detail="no mapped upload and memset at this size")
    best = max(measured, key=lambda r: r.of_ceiling or 0.0)
    fraction = best.of_ceiling or 0.0
    return TargetCheck(
        name=name,
        met=fraction >= MAPPED_TARGET,
        detail=f"{fraction:.0%}, {short_variant(best.figure.variant)}",
    )

"""Choosing cells by identifier patterns: fnmatch globs with {a,b} alternatives, as cibuildwheel does."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from vkzc.errors import ConfigurationError
from vkzc.matrix.model import Cell
from vkzc.matrix.patterns import expand_braces, matches


def close_identifiers(pattern: str, identifiers: Sequence[str], limit: int = 5) -> list[str]:
    """Identifiers that look like what the pattern meant; wildcards are dropped before comparing."""
    bare = "".join(char for char in pattern if char not in "*?[]{}")
    return difflib.get_close_matches(bare, identifiers, n=limit, cutoff=0.5)


def select(cells: Sequence[Cell], patterns: Iterable[str]) -> tuple[Cell, ...]:
    """The cells any pattern matches, in matrix order; a pattern that matches nothing is an error."""
    identifiers = [cell.identifier for cell in cells]
    chosen: set[str] = set()
    for pattern in patterns:
        try:
            expand_braces(pattern)
        except ValueError as e:
            raise ConfigurationError(
                str(e), "balance each { with a }, e.g. 'mesa-*/{lavapipe,panvk}/*'"
            ) from None
        hits = [identifier for identifier in identifiers if matches(pattern, identifier)]
        if not hits:
            close = close_identifiers(pattern, identifiers)
            raise ConfigurationError(
                f"pattern '{pattern}' matches no cell",
                f"close: {', '.join(close)}" if close else "`vkzc matrix list` shows every cell",
            )
        chosen.update(hits)
    return tuple(cell for cell in cells if cell.identifier in chosen)

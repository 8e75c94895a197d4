"""Glob patterns with shell-style brace alternatives, as cell selections and renderer checks use them.

fnmatch has no `{a,b}`; expanding braces first keeps the rest of the syntax exactly fnmatch's.
Matching is case-sensitive so that a pattern means the same on every host.
"""

from __future__ import annotations

from fnmatch import fnmatchcase


def expand_braces(pattern: str) -> tuple[str, ...]:
    """`a{b,c{d,e}}f` → (`abf`, `acdf`, `acef`); ValueError on an unbalanced brace."""
    depth = 0
    for char in pattern:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            raise ValueError(f"unbalanced '}}' in pattern {pattern!r}")
    if depth:
        raise ValueError(f"unbalanced '{{' in pattern {pattern!r}")
    return tuple(dict.fromkeys(_expand(pattern)))


def _expand(pattern: str) -> list[str]:
    start = pattern.find("{")
    if start < 0:
        return [pattern]
    depth = 0
    alternatives: list[str] = []
    piece_start = start + 1
    for end in range(start, len(pattern)):
        char = pattern[end]
        if char == "{":
            depth += 1
        elif char == "," and depth == 1:
            alternatives.append(pattern[piece_start:end])
            piece_start = end + 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                alternatives.append(pattern[piece_start:end])
                break
    head, tail = pattern[:start], pattern[end + 1 :]
    # `head` holds no brace (start is the first one); nested braces live in an alternative or the tail.
    return [head + rest for alternative in alternatives for rest in _expand(alternative + tail)]


def matches(pattern: str, text: str) -> bool:
    return any(fnmatchcase(text, alternative) for alternative in expand_braces(pattern))

"""matrix.yaml under fuzzing: any text gives a Matrix or one ConfigurationError naming the file."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from vkzc.errors import ConfigurationError
from vkzc.matrix import parse_matrix

# More with VKZC_FUZZ_EXAMPLES=N (the README's reliability figures used 5000).
EXAMPLES = int(os.environ.get("VKZC_FUZZ_EXAMPLES", "500"))

REAL = (Path(__file__).resolve().parent.parent / "matrix.yaml").read_text().splitlines()
_SCALARS = st.sampled_from(["", "~", "-1", "0", "1e9", "true", "[]", "{}", "'x'", "*", "{a,b", "/dev/x", "é"])


@st.composite
def mutated_matrix(draw: st.DrawFn) -> str:
    """The repository's own matrix.yaml with a few lines dropped, duplicated or changed, so most
    inputs get deep into the loader instead of failing at the YAML syntax."""
    lines = list(REAL)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        action = draw(st.sampled_from(["drop", "duplicate", "value", "key", "text"]))
        line = lines[at]
        if action == "drop":
            del lines[at]
        elif action == "duplicate":
            lines.insert(at, line)
        elif action == "value" and ":" in line:
            lines[at] = line.split(":", 1)[0] + ": " + draw(_SCALARS)
        elif action == "key" and ":" in line:
            indent = line[: len(line) - len(line.lstrip())]
            lines[at] = (
                indent
                + draw(st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8))
                + ":"
                + line.split(":", 1)[1]
            )
        else:
            lines[at] = draw(st.text(max_size=30))
    return "\n".join(lines)


@settings(max_examples=EXAMPLES, deadline=None)
@given(mutated_matrix() | st.text(max_size=200))
def test_any_matrix_text_loads_or_is_one_clear_error(text: str) -> None:
    try:
        parse_matrix(text, filename="fuzz.yaml")
    except ConfigurationError as e:
        assert str(e).startswith("fuzz.yaml"), str(e)

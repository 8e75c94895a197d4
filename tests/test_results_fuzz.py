"""Every file the results and the report read: any content gives a result or one ConfigurationError."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_results_model import record

from vkzc.errors import ConfigurationError
from vkzc.report.probe import read_probe
from vkzc.results.cell import read_cell_info
from vkzc.results.expectations import parse_fails, parse_patterns
from vkzc.results.store import read_results

# More with VKZC_FUZZ_EXAMPLES=N (the README's reliability figures used 5000).
EXAMPLES = int(os.environ.get("VKZC_FUZZ_EXAMPLES", "300"))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
# Objects shaped like the real ones, with fields dropped, added or replaced: they get past the first checks.
near_records = st.builds(
    lambda drop, extra: {k: v for k, v in {**record().to_json(), **extra}.items() if k not in drop},
    st.sets(st.sampled_from(sorted(record().to_json()))),
    st.dictionaries(st.sampled_from([*sorted(record().to_json()), "other"]), json_values, max_size=3),
)


def accepts_or_refuses(read: Callable[[Path], Any], content: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "input"
        path.write_bytes(content)
        try:
            read(path)
        except ConfigurationError as e:
            assert str(path) in str(e)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(json_values | near_records, max_size=4), st.binary(max_size=30))
def test_results_files(lines: list[Any], tail: bytes) -> None:
    content = "\n".join(json.dumps(line) for line in lines).encode() + tail
    accepts_or_refuses(read_results, content)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=6))
def test_expectation_files(lines: list[str]) -> None:
    content = "\n".join(lines).encode()
    accepts_or_refuses(parse_fails, content)
    accepts_or_refuses(parse_patterns, content)


@settings(max_examples=EXAMPLES, deadline=None)
@given(json_values | st.fixed_dictionaries({"schema_version": st.just(1), "devices": json_values}))
def test_probe_and_cell_files(document: Any) -> None:
    content = json.dumps(document).encode()
    accepts_or_refuses(read_probe, content)
    accepts_or_refuses(read_cell_info, content)

"""Typed reading of a YAML document that remembers where each value came from.

yaml.safe_load forgets positions and lets a repeated key silently win; walking PyYAML's composed
node tree instead keeps every node's start mark, so each error can name `file:line` and the key.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import NoReturn

import yaml

from vkzc.errors import ConfigurationError


@dataclass(frozen=True, kw_only=True)
class Entry:
    """A value and the key that led to it; `line` (1-based) is the key's, where an editor should go."""

    key: str
    line: int
    node: yaml.Node


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


class Document:
    def __init__(self, text: str, *, filename: str) -> None:
        self.filename = filename
        try:
            # The loader also constructs scalars later, with YAML's own typing of `25.0` or `yes`.
            # Making it already reads the text: a control character is refused right here.
            self._loader = yaml.SafeLoader(text)
            root = self._loader.get_single_node()
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = f":{mark.line + 1}" if mark else ""
            raise ConfigurationError(f"{filename}{line}: invalid YAML: {e.problem or e.context}") from None
        except yaml.YAMLError as e:
            raise ConfigurationError(f"{filename}: invalid YAML: {e}") from None
        if root is None:
            raise ConfigurationError(f"{filename}: the file is empty")
        self.root = Entry(key="(top level)", line=root.start_mark.line + 1, node=root)

    def fail(self, line: int, message: str, hint: str = "") -> NoReturn:
        raise ConfigurationError(f"{self.filename}:{line}: {message}", hint)

    def _wrong_type(self, entry: Entry, expected: str) -> NoReturn:
        self.fail(entry.line, f"key '{entry.key}' expected {expected}, got {self._describe(entry.node)}")

    def _describe(self, node: yaml.Node) -> str:
        if isinstance(node, yaml.MappingNode):
            return "a mapping"
        if isinstance(node, yaml.SequenceNode):
            return "a list"
        try:
            value = self._loader.construct_object(node)
        except yaml.YAMLError:
            return f"a value YAML cannot read ({node.value})"
        if value is None:
            return "an empty value"
        kind = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(type(value))
        return f"{kind or type(value).__name__} ({node.value})"

    def fields(
        self,
        entry: Entry,
        *,
        what: str,
        required: Collection[str] = (),
        optional: Collection[str] = (),
    ) -> dict[str, Entry]:
        """The entries of a mapping with exactly these keys (all of `required`, any of `optional`)."""
        entries = self.mapping(entry)
        known = [*required, *optional]
        for key, value in entries.items():
            if key not in known:
                self.fail(
                    value.line,
                    f"key '{key}' is not known in {what}{did_you_mean(key, known)}",
                    f"known keys: {', '.join(known)}",
                )
        for key in required:
            if key not in entries:
                self.fail(entry.line, f"key '{key}' is missing in {what}")
        return entries

    def mapping(self, entry: Entry) -> dict[str, Entry]:
        """Any keys, in the file's order; repeated keys are refused rather than last-one-wins."""
        if not isinstance(entry.node, yaml.MappingNode):
            self._wrong_type(entry, "a mapping")
        # Resolves `<<: *anchor` merge keys into plain entries first.
        self._loader.flatten_mapping(entry.node)
        entries: dict[str, Entry] = {}
        for key_node, value_node in entry.node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.fail(line, f"key in '{entry.key}' must be a name, got {self._describe(key_node)}")
            # The key as written: YAML would turn a key such as `on` into True.
            key = str(key_node.value)
            if key in entries:
                self.fail(line, f"key '{key}' appears twice (first at line {entries[key].line})")
            entries[key] = Entry(key=key, line=line, node=value_node)
        return entries

    def sequence(self, entry: Entry, *, non_empty: bool = False) -> list[Entry]:
        if not isinstance(entry.node, yaml.SequenceNode):
            self._wrong_type(entry, "a list")
        if non_empty and not entry.node.value:
            self.fail(entry.line, f"key '{entry.key}' is an empty list; it needs at least one item")
        return [
            Entry(key=f"{entry.key}[{index}]", line=node.start_mark.line + 1, node=node)
            for index, node in enumerate(entry.node.value)
        ]

    def is_list(self, entry: Entry) -> bool:
        return isinstance(entry.node, yaml.SequenceNode)

    def scalar(self, entry: Entry) -> object:
        if not isinstance(entry.node, yaml.ScalarNode):
            self._wrong_type(entry, "a single value")
        try:
            return self._loader.construct_object(entry.node)
        except yaml.YAMLError as e:
            # e.g. the value `=`, which YAML 1.1 tags as a "value key" that SafeLoader cannot build
            self.fail(entry.line, f"key '{entry.key}': {getattr(e, 'problem', None) or e}")

    def string(self, entry: Entry) -> str:
        value = self.scalar(entry) if isinstance(entry.node, yaml.ScalarNode) else None
        if not isinstance(value, str) or not value:
            self._wrong_type(entry, "a non-empty string")
        return value

    def boolean(self, entry: Entry) -> bool:
        value = self.scalar(entry) if isinstance(entry.node, yaml.ScalarNode) else None
        if not isinstance(value, bool):
            self._wrong_type(entry, "true or false")
        return value

    def strings(self, entry: Entry) -> tuple[str, ...]:
        return tuple(self.string(item) for item in self.sequence(entry))

    def choice(self, entry: Entry, choices: Collection[str]) -> str:
        value = self.string(entry)
        if value not in choices:
            self.fail(
                entry.line,
                f"key '{entry.key}' value '{value}' is unknown{did_you_mean(value, choices)}",
                f"one of: {', '.join(choices)}",
            )
        return value

"""Expectation files (baselines) in the line format of Mesa's CI, so lines move between trees.

    expectations/<driver>[-<runner>]-{fails,flakes,skips}.txt          every Mesa version
    expectations/mesa-<version>/<driver>[-<runner>]-{...}.txt          that Mesa version only

All files that exist for a cell are read and merged: a failure that every version shares lives in
the first; one that a Mesa release fixes lives in the directory of the versions it affects, so
the release that fixes it does not turn the entry into an unexpected pass.

A fails line is `case-id,Status` (Fail, Timeout or Crash). Case ids contain `|`, `[`, `]` and
`::`, and a parameter could put a comma in one, so the id is everything before the *last* comma. A
flakes or skips line is a Python regular expression, searched anywhere in the case id as
deqp-runner does. Lines whose first non-blank character is `#` are comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from vkzc.errors import ConfigurationError
from vkzc.results.model import Status

KINDS = ("fails", "flakes", "skips")
# The statuses a fails line may expect, spelled as in Mesa's files.
_EXPECTABLE = {s.value.capitalize(): s for s in (Status.FAIL, Status.TIMEOUT, Status.CRASH)}


@dataclass(frozen=True, kw_only=True)
class Source:
    """Where an expectation came from: the line to edit or remove."""

    file: Path
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, kw_only=True)
class ExpectedFailure:
    case_id: str
    status: Status
    source: Source


@dataclass(frozen=True, kw_only=True)
class CasePattern:
    regex: re.Pattern[str]
    source: Source

    def matches(self, case_id: str) -> bool:
        return self.regex.search(case_id) is not None


@dataclass(frozen=True, kw_only=True)
class Expectations:
    fails: tuple[ExpectedFailure, ...] = ()
    flakes: tuple[CasePattern, ...] = ()
    skips: tuple[CasePattern, ...] = ()
    files: tuple[Path, ...] = ()  # the files read, in order

    def expected(self, case_id: str) -> ExpectedFailure | None:
        return next((f for f in self.fails if f.case_id == case_id), None)

    def flake(self, case_id: str) -> CasePattern | None:
        return next((p for p in self.flakes if p.matches(case_id)), None)

    def skip(self, case_id: str) -> CasePattern | None:
        return next((p for p in self.skips if p.matches(case_id)), None)


def expectation_files(
    directory: Path, *, driver: str, runner: str | None = None, mesa_version: str | None = None
) -> dict[str, tuple[Path, ...]]:
    """Per kind, the files that apply to a cell, general before specific; only those that exist."""
    folders = [directory] + ([directory / f"mesa-{mesa_version}"] if mesa_version else [])
    stems = [driver] + ([f"{driver}-{runner}"] if runner else [])
    return {
        kind: tuple(
            path for folder in folders for stem in stems if (path := folder / f"{stem}-{kind}.txt").is_file()
        )
        for kind in KINDS
    }


def load_expectations(
    directory: Path, *, driver: str, runner: str | None = None, mesa_version: str | None = None
) -> Expectations:
    """The merged expectations of a cell; a malformed line is a ConfigurationError naming file and line."""
    check_directory(directory)
    files = expectation_files(directory, driver=driver, runner=runner, mesa_version=mesa_version)
    fails: dict[str, ExpectedFailure] = {}
    for path in files["fails"]:
        for failure in parse_fails(path):
            first = fails.get(failure.case_id)
            if first is not None:
                raise ConfigurationError(
                    f"{failure.source}: {failure.case_id} is already expected at {first.source}",
                    "keep one of the two lines",
                )
            fails[failure.case_id] = failure
    return Expectations(
        fails=tuple(fails.values()),
        flakes=tuple(p for path in files["flakes"] for p in parse_patterns(path)),
        skips=tuple(p for path in files["skips"] for p in parse_patterns(path)),
        files=tuple(path for kind in KINDS for path in files[kind]),
    )


def check_directory(directory: Path) -> None:
    """Refuse a file that no cell would ever read, such as a misspelt `lavapipe-fail.txt`."""
    if not directory.is_dir():
        raise ConfigurationError(f"expectations directory {directory} does not exist")
    for path in sorted(directory.rglob("*")):
        if path.is_dir():
            if path.parent != directory or not path.name.startswith("mesa-"):
                raise ConfigurationError(
                    f"{path}: not an expectations folder", "only mesa-<version>/ folders go there"
                )
        elif not any(path.name.endswith(f"-{kind}.txt") for kind in KINDS):
            raise ConfigurationError(
                f"{path}: not an expectations file", "name it <driver>[-<runner>]-{fails,flakes,skips}.txt"
            )


def parse_fails(path: Path) -> list[ExpectedFailure]:
    failures = []
    for number, text in _entries(path):
        case_id, comma, word = text.rpartition(",")
        case_id, word = case_id.strip(), word.strip()
        if not comma or not case_id:
            raise ConfigurationError(
                f"{path}:{number}: not a `case-id,Status` line: {text!r}",
                "write the case id, a comma and Fail, Timeout or Crash",
            )
        status = _EXPECTABLE.get(word)
        if status is None:
            raise ConfigurationError(
                f"{path}:{number}: unknown status {word!r}", f"one of {', '.join(_EXPECTABLE)}"
            )
        failures.append(
            ExpectedFailure(case_id=case_id, status=status, source=Source(file=path, line=number))
        )
    return failures


def parse_patterns(path: Path) -> list[CasePattern]:
    patterns = []
    for number, text in _entries(path):
        try:
            regex = re.compile(text)
        except (re.error, OverflowError, RecursionError) as e:
            raise ConfigurationError(
                f"{path}:{number}: not a regular expression ({e}): {text!r}",
                "escape `[`, `]`, `|` and `.` of a case id with a backslash",
            ) from None
        patterns.append(CasePattern(regex=regex, source=Source(file=path, line=number)))
    return patterns


def _entries(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of each line that is neither blank nor a comment."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigurationError(f"cannot read {path}: {getattr(e, 'strerror', e)}") from None
    return [
        (number, line.strip())
        for number, line in enumerate(lines, start=1)
        if line.strip() and not line.strip().startswith("#")
    ]

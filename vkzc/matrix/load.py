"""matrix.yaml → a checked `Matrix`; every problem is a ConfigurationError naming file:line and the key."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import product
from pathlib import Path
from typing import Protocol, TypeVar, cast

from vkzc.errors import ConfigurationError
from vkzc.matrix.model import (
    ARCHES,
    DEBIAN_SUITES,
    DECODERS,
    MESA_VULKAN_DRIVERS,
    Arch,
    Cell,
    DebianPackages,
    DebianSource,
    DebianSuite,
    Decoder,
    DockerRunner,
    Driver,
    Git,
    HostRunner,
    Installed,
    Matrix,
    MesaBuild,
    MesaSource,
    QemuRunner,
    Runner,
    Tarball,
)
from vkzc.matrix.patterns import expand_braces, matches
from vkzc.matrix.reader import Document, Entry, did_you_mean
from vkzc.matrix.select import close_identifiers

DEFAULT_FILE = Path("matrix.yaml")

# Ids become parts of cell identifiers and are matched by globs: no `/`, no glob characters.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_DEBIAN_VERSION = re.compile(r"(?:[0-9]+:)?[0-9][A-Za-z0-9.+~]*(?:-[A-Za-z0-9.+~]+)?")
_MESA_VERSION = re.compile(r"[0-9]+\.[0-9]+[A-Za-z0-9.+~-]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_TARBALL_URL = re.compile(r"https?://\S+")
_GIT_URL = re.compile(r"(?:(?:https?|git|ssh|file)://|[\w.-]+@[\w.-]+:)\S+")
_MESON_OPTION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_:-]*")
# Runners name real nodes; drivers' needs may be globs.
_DEVICE = re.compile(r"/dev/[^\s*?\[\]{}]+")
_DEVICE_GLOB = re.compile(r"/dev/\S+")


def load_matrix(path: Path = DEFAULT_FILE) -> Matrix:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(
            f"matrix file {path} not found", "run from the repository root or pass --matrix FILE"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigurationError(f"cannot read matrix file {path}: {e}") from None
    return parse_matrix(text, filename=str(path))


def parse_matrix(text: str, *, filename: str) -> Matrix:
    doc = Document(text, filename=filename)
    top = doc.fields(
        doc.root, what="the matrix file", required=("mesa", "drivers", "runners", "cells", "default")
    )
    mesa = _unique(doc, [_mesa_build(doc, item) for item in doc.sequence(top["mesa"], non_empty=True)])
    drivers = _unique(doc, [_driver(doc, item) for item in doc.sequence(top["drivers"], non_empty=True)])
    runners = _unique(doc, [_runner(doc, item) for item in doc.sequence(top["runners"], non_empty=True)])
    cells = _cells(doc, top["cells"], mesa, drivers, runners)
    default = _default(doc, top["default"], cells)
    return Matrix(mesa=mesa, drivers=drivers, runners=runners, cells=cells, default=default)


# --- values ---------------------------------------------------------------------------------------


def _text(doc: Document, entry: Entry, pattern: re.Pattern[str], what: str) -> str:
    value = doc.string(entry)
    if not pattern.fullmatch(value):
        doc.fail(entry.line, f"key '{entry.key}' value '{value}' is not {what}")
    return value


def _id(doc: Document, entry: Entry) -> str:
    value = doc.string(entry)
    if not _ID.fullmatch(value):
        doc.fail(
            entry.line,
            f"key '{entry.key}' value '{value}' is not a valid id",
            "use letters, digits and . _ + - only: ids are parts of cell identifiers and patterns",
        )
    return value


def _pattern(doc: Document, entry: Entry) -> str:
    value = doc.string(entry)
    try:
        expand_braces(value)
    except ValueError as e:
        doc.fail(entry.line, f"key '{entry.key}': {e}")
    return value


def _kind(doc: Document, entry: Entry, kinds: Sequence[str], what: str) -> str:
    """The `kind` of a variant mapping, read first because it decides which other keys are allowed."""
    kind = doc.mapping(entry).get("kind")
    if kind is None:
        doc.fail(entry.line, f"key 'kind' is missing in {what}", f"kinds: {', '.join(kinds)}")
    return doc.choice(kind, kinds)


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


H = TypeVar("H", bound=_HasId)


def _unique(doc: Document, items: Sequence[tuple[H, Entry]]) -> tuple[H, ...]:
    """The items, refusing a repeated id; each comes with its `id` entry to point at."""
    first_line: dict[str, int] = {}
    for item, id_entry in items:
        if item.id in first_line:
            doc.fail(
                id_entry.line,
                f"key 'id' value '{item.id}' is used twice (first at line {first_line[item.id]})",
            )
        first_line[item.id] = id_entry.line
    return tuple(item for item, _ in items)


# --- Mesa builds ----------------------------------------------------------------------------------

# kind: (required keys besides `kind`, optional keys)
_SOURCE_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "debian": (("suite", "version", "icd_arch_suffix"), ()),
    "debian-source": (("suite", "version", "vulkan_drivers"), ("meson_options",)),
    "tarball": (("suite", "version", "url", "sha256", "vulkan_drivers"), ("meson_options",)),
    "git": (("suite", "version", "url", "ref", "vulkan_drivers"), ("meson_options",)),
    "installed": (("version", "icd_dir"), ("icd_arch_suffix",)),
}
_ICD_DIR = re.compile(r"/\S*")


def _mesa_build(doc: Document, entry: Entry) -> tuple[MesaBuild, Entry]:
    fields = doc.fields(entry, what="a Mesa build", required=("id", "source"))
    build_id = _id(doc, fields["id"])
    return MesaBuild(id=build_id, source=_source(doc, fields["source"], build_id)), fields["id"]


def _source(doc: Document, entry: Entry, build_id: str) -> MesaSource:
    what = f"the source of Mesa build '{build_id}'"
    kind = _kind(doc, entry, list(_SOURCE_KEYS), what)
    required, optional = _SOURCE_KEYS[kind]
    fields = doc.fields(entry, what=f"{what} (kind {kind})", required=("kind", *required), optional=optional)
    if kind == "installed":
        return Installed(
            version=doc.string(fields["version"]),
            icd_dir=_text(doc, fields["icd_dir"], _ICD_DIR, "an absolute directory"),
            icd_arch_suffix=doc.boolean(fields["icd_arch_suffix"]) if "icd_arch_suffix" in fields else True,
        )
    suite = cast(DebianSuite, doc.choice(fields["suite"], DEBIAN_SUITES))
    if kind == "debian":
        return DebianPackages(
            suite=suite,
            version=_text(doc, fields["version"], _DEBIAN_VERSION, "a Debian version"),
            icd_arch_suffix=doc.boolean(fields["icd_arch_suffix"]),
        )
    vulkan_drivers = tuple(
        doc.choice(item, sorted(MESA_VULKAN_DRIVERS))
        for item in doc.sequence(fields["vulkan_drivers"], non_empty=True)
    )
    meson_options = _meson_options(doc, fields["meson_options"]) if "meson_options" in fields else ()
    if kind == "debian-source":
        return DebianSource(
            suite=suite,
            version=_text(doc, fields["version"], _DEBIAN_VERSION, "a Debian version"),
            vulkan_drivers=vulkan_drivers,
            meson_options=meson_options,
        )
    mesa_version = _text(doc, fields["version"], _MESA_VERSION, "a Mesa version such as 25.0.7")
    if kind == "tarball":
        return Tarball(
            suite=suite,
            url=_text(doc, fields["url"], _TARBALL_URL, "an http(s) URL"),
            sha256=_text(doc, fields["sha256"], _SHA256, "64 lowercase hex digits"),
            mesa_version=mesa_version,
            vulkan_drivers=vulkan_drivers,
            meson_options=meson_options,
        )
    return Git(
        suite=suite,
        url=_text(doc, fields["url"], _GIT_URL, "a git URL"),
        ref=doc.string(fields["ref"]),
        mesa_version=mesa_version,
        vulkan_drivers=vulkan_drivers,
        meson_options=meson_options,
    )


def _meson_options(doc: Document, entry: Entry) -> tuple[tuple[str, str], ...]:
    options: list[tuple[str, str]] = []
    for name, value in doc.mapping(entry).items():
        if name == "vulkan-drivers":
            doc.fail(value.line, "key 'vulkan-drivers' belongs in the source's vulkan_drivers list")
        if not _MESON_OPTION.fullmatch(name):
            doc.fail(value.line, f"key '{name}' is not a meson option name")
        options.append((name, _meson_value(doc, value)))
    return tuple(options)


def _meson_value(doc: Document, entry: Entry) -> str:
    """A YAML value as meson's -Dname=value wants it."""
    if doc.is_list(entry):
        return ",".join(doc.strings(entry))
    value = doc.scalar(entry)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    return doc.string(entry)  # refuses the rest with the type it got


# --- drivers --------------------------------------------------------------------------------------


def _driver(doc: Document, entry: Entry) -> tuple[Driver, Entry]:
    fields = doc.fields(
        entry, what="a driver", required=("id", "icd", "renderer"), optional=("needs", "mesa_driver")
    )
    return (
        Driver(
            id=_id(doc, fields["id"]),
            icd=_icd(doc, fields["icd"]),
            needs=tuple(
                _text(doc, item, _DEVICE_GLOB, "a device node (glob) under /dev")
                for item in (doc.sequence(fields["needs"]) if "needs" in fields else ())
            ),
            renderer=_pattern(doc, fields["renderer"]),
            mesa_driver=(
                doc.choice(fields["mesa_driver"], sorted(MESA_VULKAN_DRIVERS))
                if "mesa_driver" in fields
                else None
            ),
        ),
        fields["id"],
    )


def _icd(doc: Document, entry: Entry) -> str:
    value = doc.string(entry)
    try:
        placeholders = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as e:
        doc.fail(entry.line, f"key '{entry.key}' value '{value}': {e}")
    if placeholders - {"arch"} or "/" in value or not value.endswith(".json"):
        doc.fail(
            entry.line,
            f"key '{entry.key}' value '{value}' is not a manifest file name",
            "a bare name ending in .json; {arch} stands for x86_64 or aarch64",
        )
    return value


# --- runners --------------------------------------------------------------------------------------


# Docker and host runners share their keys; each kind reads its own besides.
M = TypeVar("M", DockerRunner, HostRunner)


def _docker_runner(doc: Document, entry: Entry) -> tuple[Runner, Entry]:
    runner, id_entry = _machine_runner(doc, entry, DockerRunner, ("decoders",))
    fields = doc.mapping(entry)
    if "decoders" not in fields:
        return runner, id_entry
    return replace(runner, decoders=_decoders(doc, fields["decoders"])), id_entry


def _decoders(doc: Document, entry: Entry) -> tuple[Decoder, ...]:
    decoders: list[Decoder] = []
    for item in doc.sequence(entry, non_empty=True):
        decoder = cast(Decoder, doc.choice(item, DECODERS))
        if decoder in decoders:
            doc.fail(item.line, f"key '{item.key}' value '{decoder}' is listed twice")
        decoders.append(decoder)
    return tuple(decoders)


def _host_runner(doc: Document, entry: Entry) -> tuple[Runner, Entry]:
    return _machine_runner(doc, entry, HostRunner)


def _machine_runner(
    doc: Document,
    entry: Entry,
    kind: type[M],
    extra: tuple[str, ...] = (),
) -> tuple[M, Entry]:
    """What docker and host runners share; `extra` names the keys the caller reads itself."""
    fields = doc.fields(
        entry,
        what=f"a {kind.kind} runner",
        required=("id", "kind", "arch"),
        optional=("labels", "devices", "timeouts", *extra),
    )
    return (
        kind(
            id=_id(doc, fields["id"]),
            arch=cast(Arch, doc.choice(fields["arch"], ARCHES)),
            labels=doc.strings(fields["labels"]) if "labels" in fields else (),
            devices=tuple(
                _text(doc, item, _DEVICE, "a device node path under /dev (no globs)")
                for item in (doc.sequence(fields["devices"]) if "devices" in fields else ())
            ),
            timeouts=_timeouts(doc, fields["timeouts"]) if "timeouts" in fields else (),
        ),
        fields["id"],
    )


def _timeouts(doc: Document, entry: Entry) -> tuple[tuple[str, float], ...]:
    """{path: seconds}: how long one case of a path may take on this runner."""
    limits = []
    for path, value in doc.mapping(entry).items():
        seconds = doc.scalar(value)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            doc.fail(value.line, f"key '{path}' must be a number of seconds above 0, not {seconds!r}")
        limits.append((path, float(seconds)))
    return tuple(limits)


# QEMU boots amd64 guests only for now: arm64 images are smoke-tested with qemu-user instead.
_QEMU_ARCHES: tuple[Arch, ...] = ("amd64",)
_MEMORY = re.compile(r"([1-9][0-9]*)([MG])")
_MODULE = re.compile(r"[A-Za-z0-9_-]+")


def _qemu_runner(doc: Document, entry: Entry) -> tuple[Runner, Entry]:
    fields = doc.fields(
        entry,
        what="a qemu runner",
        required=("id", "kind", "arch", "kernel"),
        optional=("memory", "cpus", "modules", "virtio_gpu", "devices", "labels", "timeouts"),
    )
    # Absent keys keep the model's defaults (a dataclass keeps them as class attributes).
    return (
        QemuRunner(
            id=_id(doc, fields["id"]),
            arch=cast(Arch, doc.choice(fields["arch"], _QEMU_ARCHES)),
            kernel=cast(DebianSuite, doc.choice(fields["kernel"], DEBIAN_SUITES)),
            memory_mib=_memory(doc, fields["memory"]) if "memory" in fields else QemuRunner.memory_mib,
            cpus=_count(doc, fields["cpus"]) if "cpus" in fields else QemuRunner.cpus,
            modules=tuple(
                _text(doc, item, _MODULE, "a kernel module name")
                for item in (doc.sequence(fields["modules"]) if "modules" in fields else ())
            ),
            virtio_gpu=doc.boolean(fields["virtio_gpu"]) if "virtio_gpu" in fields else QemuRunner.virtio_gpu,
            devices=tuple(
                _text(doc, item, _DEVICE, "a device node path under /dev (no globs)")
                for item in (doc.sequence(fields["devices"]) if "devices" in fields else ())
            ),
            labels=doc.strings(fields["labels"]) if "labels" in fields else (),
            timeouts=_timeouts(doc, fields["timeouts"]) if "timeouts" in fields else (),
        ),
        fields["id"],
    )


def _memory(doc: Document, entry: Entry) -> int:
    """`4G` or `2048M` (QEMU's own -m spelling) in MiB."""
    value = doc.scalar(entry)
    size = _MEMORY.fullmatch(value) if isinstance(value, str) else None
    if size is None:
        doc.fail(
            entry.line, f"key '{entry.key}' value '{value}' is not a memory size", "write it as 4G or 2048M"
        )
    return int(size.group(1)) * (1024 if size.group(2) == "G" else 1)


def _count(doc: Document, entry: Entry) -> int:
    value = doc.scalar(entry)
    # bool is an int to Python, but `cpus: yes` is no count.
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        doc.fail(entry.line, f"key '{entry.key}' expected a whole number of at least 1, got {value!r}")
    return value


_RUNNER_KINDS: dict[str, Callable[[Document, Entry], tuple[Runner, Entry]]] = {
    "docker": _docker_runner,
    "host": _host_runner,
    "qemu": _qemu_runner,
}


def _runner(doc: Document, entry: Entry) -> tuple[Runner, Entry]:
    return _RUNNER_KINDS[_kind(doc, entry, list(_RUNNER_KINDS), "a runner")](doc, entry)


# --- cells ----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Rule:
    key: str
    line: int
    mesa: str
    driver: str
    runner: str

    def matches(self, mesa: MesaBuild, driver: Driver, runner: Runner) -> bool:
        return (
            matches(self.mesa, mesa.id)
            and matches(self.driver, driver.id)
            and matches(self.runner, runner.id)
        )


def _rule(
    doc: Document,
    entry: Entry,
    mesa: Sequence[MesaBuild],
    drivers: Sequence[Driver],
    runners: Sequence[Runner],
) -> _Rule:
    fields = doc.fields(entry, what=f"the cell rule '{entry.key}'", optional=("mesa", "driver", "runner"))
    patterns: dict[str, str] = {}
    for key, noun, ids in (
        ("mesa", "Mesa build", [build.id for build in mesa]),
        ("driver", "driver", [driver.id for driver in drivers]),
        ("runner", "runner", [runner.id for runner in runners]),
    ):
        if key not in fields:
            patterns[key] = "*"
            continue
        pattern = _pattern(doc, fields[key])
        if not any(matches(pattern, name) for name in ids):
            doc.fail(
                fields[key].line,
                f"key '{key}' value '{pattern}' matches no {noun}{did_you_mean(pattern, ids)}",
                f"{noun}s: {', '.join(ids)}",
            )
        patterns[key] = pattern
    return _Rule(
        key=entry.key,
        line=entry.line,
        mesa=patterns["mesa"],
        driver=patterns["driver"],
        runner=patterns["runner"],
    )


def _infeasible(mesa: MesaBuild, driver: Driver, runner: Runner) -> str:
    """Why this combination cannot be a cell, or '' when it can."""
    if isinstance(runner, HostRunner) != isinstance(mesa.source, Installed):
        return (
            f"runner '{runner.id}' ({runner.kind}) and Mesa build '{mesa.id}' ({mesa.source.kind}) do not go "
            "together: host runners use an installed driver, docker and qemu runners build images"
        )
    if not mesa.provides(driver):
        return f"Mesa build '{mesa.id}' does not build '{driver.mesa_driver}' (its vulkan_drivers)"
    if not driver.runs_on(runner.devices):
        return (
            f"runner '{runner.id}' lacks a device node that '{driver.id}' needs ({', '.join(driver.needs)})"
        )
    return ""


def _cells(
    doc: Document,
    entry: Entry,
    mesa: Sequence[MesaBuild],
    drivers: Sequence[Driver],
    runners: Sequence[Runner],
) -> tuple[Cell, ...]:
    fields = doc.fields(entry, what="'cells'", required=("include",), optional=("exclude",))
    includes = [
        _rule(doc, item, mesa, drivers, runners) for item in doc.sequence(fields["include"], non_empty=True)
    ]
    excludes = [
        _rule(doc, item, mesa, drivers, runners)
        for item in (doc.sequence(fields["exclude"]) if "exclude" in fields else ())
    ]
    # Indices into the three lists, so that cells come out in the file's order whatever the rules' order.
    chosen: set[tuple[int, int, int]] = set()
    for rule in includes:
        yielded = False
        reasons: list[str] = []
        for (i, build), (j, driver), (k, runner) in product(
            enumerate(mesa), enumerate(drivers), enumerate(runners)
        ):
            if not rule.matches(build, driver, runner):
                continue
            reason = _infeasible(build, driver, runner)
            if not reason and any(x.matches(build, driver, runner) for x in excludes):
                reason = f"{build.id}/{driver.id}/{runner.id} is excluded"
            if reason:
                reasons.append(reason)
            else:
                chosen.add((i, j, k))
                yielded = True
        if not yielded:
            # Each field matched something (checked in _rule), so there is at least one reason.
            doc.fail(rule.line, f"key '{rule.key}' yields no cell: {reasons[0]}")
    return tuple(Cell(mesa=mesa[i], driver=drivers[j], runner=runners[k]) for i, j, k in sorted(chosen))


def _default(doc: Document, entry: Entry, cells: Sequence[Cell]) -> tuple[str, ...]:
    identifiers = [cell.identifier for cell in cells]
    patterns: list[str] = []
    for item in doc.sequence(entry, non_empty=True):
        pattern = _pattern(doc, item)
        if not any(matches(pattern, identifier) for identifier in identifiers):
            close = close_identifiers(pattern, identifiers)
            doc.fail(
                item.line,
                f"key '{item.key}' pattern '{pattern}' matches no cell",
                f"close: {', '.join(close)}" if close else "`vkzc matrix list` shows every cell",
            )
        patterns.append(pattern)
    return tuple(patterns)

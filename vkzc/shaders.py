"""The compute shaders in shaders/: finding their SPIR-V, and checking it is not stale."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

from vkzc import log
from vkzc.errors import ConfigurationError, EnvironmentMissing, FatalError

GLSLANG_ARGS = ("-V", "--target-env", "vulkan1.0", "--quiet")


def shader_dir() -> Path:
    """shaders/ beside the package in a checkout, or VKZC_SHADER_DIR in an installed image."""
    explicit = os.environ.get("VKZC_SHADER_DIR")
    folder = Path(explicit) if explicit else Path(__file__).resolve().parent.parent / "shaders"
    if not folder.is_dir():
        raise EnvironmentMissing(
            f"shader folder {folder} does not exist",
            "run from a vkzc checkout, or set VKZC_SHADER_DIR to the folder holding the .spv files",
        )
    return folder


@cache
def spirv(name: str) -> bytes:
    path = shader_dir() / f"{name}.spv"
    if not path.is_file():
        raise EnvironmentMissing(
            f"missing shader {path}",
            "rebuild the SPIR-V with `vkzc shaders --build` (needs glslangValidator)",
        )
    return path.read_bytes()


def _compile(source: Path, output: Path) -> None:
    glslang = shutil.which("glslangValidator")
    if glslang is None:
        raise EnvironmentMissing(
            "glslangValidator is not installed", "install it: apt-get install glslang-tools"
        )
    done = subprocess.run(
        [glslang, *GLSLANG_ARGS, str(source), "-o", str(output)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise ConfigurationError(f"{source} does not compile", (done.stdout + done.stderr).strip())


def stale(folder: Path) -> list[str]:
    """Names of the shaders whose committed .spv differs from what their .comp compiles to."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for source in sorted(folder.glob("*.comp")):
            fresh = Path(tmp) / f"{source.stem}.spv"
            _compile(source, fresh)
            committed = source.with_suffix(".spv")
            if not committed.is_file() or committed.read_bytes() != fresh.read_bytes():
                out.append(source.stem)
    return out


def build(folder: Path) -> list[str]:
    sources = sorted(folder.glob("*.comp"))
    for source in sources:
        _compile(source, source.with_suffix(".spv"))
    return [s.stem for s in sources]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "shaders", help="check or rebuild the SPIR-V committed beside shaders/*.comp"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", default=True, help="fail if a .spv is stale (default)")
    mode.add_argument("--build", action="store_true", help="recompile every .spv")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    folder = shader_dir()
    if args.build:
        log.info(f"compiled {', '.join(build(folder))}")
        return 0
    out_of_date = stale(folder)
    if out_of_date:
        raise FatalError(
            f"stale SPIR-V in {folder}: {', '.join(out_of_date)}",
            "recompile with `vkzc shaders --build` and commit the .spv files",
        )
    log.info(f"SPIR-V up to date ({len(list(folder.glob('*.comp')))} shaders)")
    return 0

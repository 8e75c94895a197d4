"""The suite layer's build context: vkzc's wheel, its dependencies as wheels for the image's Python,
and the suite's files. Made on the host, so containers need no PyPI access and no CA bundle."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

from vkzc.errors import EnvironmentMissing
from vkzc.fixtures import generate as fixtures
from vkzc.images.plan import IMAGES_DIR, REPO, SUITE_SOURCES
from vkzc.matrix.model import Arch

CACHE = Path.home() / ".cache" / "vkzc" / "wheels"
_CPU = {"amd64": "x86_64", "arm64": "aarch64"}


def dependencies() -> list[str]:
    """What a cell needs: the suite's dependencies, the benchmarks' (the `bench` extra) and the decoder
    path's (the `decode` extra: PyAV, whose abi3 wheel serves every image's Python)."""
    with (REPO / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    extras = project["optional-dependencies"]
    own = [*extras["bench"], *extras["decode"]]
    return [*project["dependencies"], *own]


def _platforms(arch: Arch) -> list[str]:
    cpu = _CPU[arch]
    return [f"manylinux_2_{n}_{cpu}" for n in (17, 28)] + [f"manylinux2014_{cpu}"]


def _pip(args: list[str], log: Callable[[str], None]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in done.stdout.splitlines():
        log(line)
    if done.returncode != 0:
        raise EnvironmentMissing(
            f"pip {args[0]} failed while staging the suite image's wheels",
            "check PyPI access (or a pip index/find-links configured for this machine) and the build log",
        )


def stage(context: Path, python: str, arch: Arch, log: Callable[[str], None]) -> None:
    """Fill `context` for images/suite.Dockerfile."""
    cached = CACHE / f"cp{python.replace('.', '')}-{arch}"
    cached.mkdir(parents=True, exist_ok=True)
    platforms = [arg for p in _platforms(arch) for arg in ("--platform", p)]
    # pip reuses what the cache folder already holds and fetches only what is missing.
    _pip(
        [
            "download",
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            python,
            *platforms,
            "-d",
            str(cached),
            *dependencies(),
        ],
        log,
    )
    wheelhouse = context / "wheelhouse"
    shutil.copytree(cached, wheelhouse)
    # The wheel is built from a copy, so that no build/ or egg-info lands in the checkout.
    project = context / "project"
    project.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SUITE_SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=skip)
        else:
            shutil.copy(source, project / name)
    _pip(["wheel", "--no-deps", "-w", str(wheelhouse), str(project)], log)
    shutil.rmtree(project)
    for folder in ("suite", "shaders", "bench"):
        shutil.copytree(REPO / folder, context / "src" / folder, ignore=skip)
    # The decoder clips, made (or taken from the cache) here: suite/test_decode.py finds them beside it.
    fixtures.generate(fixtures.DEFAULT_DIR, log=log)
    shutil.copytree(fixtures.DEFAULT_DIR, context / "src" / "fixtures" / "generated")
    shutil.copy(IMAGES_DIR / "suite.Dockerfile", context / "suite.Dockerfile")

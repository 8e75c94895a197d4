"""How long the main job takes: cold build of the default matrix's images, warm no-op rebuild,
a full default-matrix run with warm images, and the per-cell overhead from container start to
the first finished case. Prints the figures for the README's performance section.

    python bench/matrix_timings.py            # warm figures (builds what is missing first)
    python bench/matrix_timings.py --cold     # also a cold build: REMOVES every vkzc-* image first
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from vkzc.images.plan import chain, suite_image
from vkzc.matrix import DockerRunner, load_matrix
from vkzc.results.store import RESULTS_FILE
from vkzc.runners.cell import DockerLauncher, prepare_results_dir, suite_command
from vkzc.runners.container import docker_client

ROOT = Path(__file__).resolve().parent.parent


def _vkzc(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vkzc", *args], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def _remove_images() -> None:
    client = docker_client()
    for image in client.images.list():
        if any(tag.startswith("vkzc-") for tag in image.tags):
            client.images.remove(image.id, force=True)
    client.images.prune(filters={"dangling": False})


def first_case_seconds(results: Path) -> list[float]:
    """Per default container cell: from asking for the suite's container to its first finished record
    (a qemu cell's boot is measured by its own runner: docs/qemu-runner.md)."""
    matrix = load_matrix(ROOT / "matrix.yaml")
    client = docker_client()
    seconds = []
    for cell in (c for c in matrix.default_cells if isinstance(c.runner, DockerRunner)):
        tag = next(t for i in client.images.list(name="vkzc-suite") for t in i.tags if cell.mesa.id in t)
        directory = prepare_results_dir(results, cell, for_container=True, keep=False)
        launcher = DockerLauncher(cell, tag, directory, client)
        record = directory / RESULTS_FILE
        first: list[float] = []

        def watch(start: float, record: Path = record, first: list[float] = first) -> None:
            while not first:
                if record.exists() and '"pass"' in record.read_text():
                    first.append(time.perf_counter() - start)
                time.sleep(0.01)

        start = time.perf_counter()
        watcher = threading.Thread(target=watch, args=(start,), daemon=True)
        watcher.start()
        launcher.run(suite_command(launcher, cell, resume=False), 600, lambda line: None)
        watcher.join(timeout=5)
        seconds.append(first[0])
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="remove every vkzc-* image and time a cold build")
    args = parser.parse_args()
    matrix = load_matrix(ROOT / "matrix.yaml")
    images = {image for cell in matrix.default_cells for image in chain(suite_image(cell))}
    with tempfile.TemporaryDirectory() as tmp:
        if args.cold:
            _remove_images()
            cold = _vkzc("matrix", "build", "--results", tmp)
            print(f"cold build of the default matrix ({len(images)} images): {cold:.0f} s")
        else:
            _vkzc("matrix", "build", "--results", tmp)
        noop = [_vkzc("matrix", "build", "--results", tmp) for _ in range(3)]
        print(f"warm no-op rebuild: median {statistics.median(noop):.1f} s of 3 (target < 10 s)")
        run = _vkzc("matrix", "run", "--results", tmp)
        cells = len(matrix.default_cells)
        print(f"full default-matrix run, warm images ({cells} cells): {run:.0f} s (target < 300 s)")
        print(f"load average after it: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        overhead = first_case_seconds(Path(tmp))
        print(
            "container start to first finished case, per cell: "
            + ", ".join(f"{s:.1f} s" for s in overhead)
            + f" (median {statistics.median(overhead):.1f} s)"
        )


if __name__ == "__main__":
    main()

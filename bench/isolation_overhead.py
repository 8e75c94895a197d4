"""What crash isolation costs on the mapped path: cases per second with and without it.

Without: plain `pytest suite -k mapped`. With: the same under the runner's supervisor, with the
crash-safe record keeping (an `incomplete` record before each case, the results file replaced
atomically and synced after each write) and the per-case watchdog. Both run back to back,
alternating, in one process tree, so machine noise hits both alike; medians of the rounds.

    python bench/isolation_overhead.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vkzc.runners.supervise import supervise

ROOT = Path(__file__).resolve().parent.parent
SELECTION = ["-k", "test_mapped"]


def _pytest(*args: str) -> int:
    command = [sys.executable, "-m", "pytest", "suite", "-q", *SELECTION, *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, timeout=600).returncode


def plain() -> float:
    start = time.perf_counter()
    assert _pytest() == 0
    return time.perf_counter() - start


def isolated() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results.jsonl"
        start = time.perf_counter()
        code, restarts = supervise(
            lambda resume: _pytest(f"--vkzc-results={results}", *(["--vkzc-resume"] if resume else [])),
            results,
            lambda: "",
        )
        took = time.perf_counter() - start
        assert code == 0 and restarts == 0
        return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    cases = int(
        subprocess.run(
            [sys.executable, "-m", "pytest", "suite", "-q", "--collect-only", *SELECTION],
            cwd=ROOT, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1].split()[0].split("/")[0]
    )  # fmt: skip
    times: dict[str, list[float]] = {"without isolation": [], "with isolation": []}
    for _ in range(rounds):
        times["without isolation"].append(plain())
        times["with isolation"].append(isolated())
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"{name:18}  {cases} cases  median {median:6.2f} s  {cases / median:6.1f} cases/s")
    ratio = medians["with isolation"] / medians["without isolation"]
    print(f"isolation costs {100 * (ratio - 1):+.0f}% wall time ({rounds} rounds, alternating)")


if __name__ == "__main__":
    main()

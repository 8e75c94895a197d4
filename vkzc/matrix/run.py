"""`vkzc matrix build` and `vkzc matrix run`: images for the selected cells, then each cell in turn,
with a live bar, a line per cell, and a summary table of cells × paths at the end."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from vkzc import log
from vkzc.errors import Interrupted
from vkzc.images import disk
from vkzc.images.build import Builder, BuildFailed, Built
from vkzc.images.plan import cell_image, chain
from vkzc.matrix.command import selected_cells
from vkzc.matrix.load import load_matrix
from vkzc.matrix.model import Cell, DockerRunner, QemuRunner
from vkzc.report.model import KNOWN, NOT_RUN
from vkzc.runners.cell import (
    CellResult,
    DockerLauncher,
    HostLauncher,
    Launcher,
    Outcome,
    prepare_results_dir,
    results_dir,
    run_cell,
)
from vkzc.runners.container import DockerClient, docker_client
from vkzc.runners.qemu import QemuLauncher

DEFAULT_RESULTS = Path("results")
DEFAULT_EXPECTATIONS = Path("expectations")
_MARKS = {Outcome.PASSED: "[green]✓ passed[/]", Outcome.FAILED: "[red]✗ failed[/]"}
# Runners whose cells run in images built here (a qemu cell boots a disk made from one).
_IMAGE_RUNNERS = (DockerRunner, QemuRunner)


@dataclass(frozen=True, kw_only=True)
class CellImage:
    cell: Cell
    built: Built | None
    failure: BuildFailed | None


def _add_results_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results",
        type=Path,
        default=DEFAULT_RESULTS,
        metavar="DIR",
        help=f"where results/<cell-id>/ and image build logs go (default: {DEFAULT_RESULTS})",
    )


def _cells(args: argparse.Namespace) -> tuple[Cell, ...]:
    matrix = load_matrix(args.matrix)
    return selected_cells(matrix, args.select) or matrix.default_cells


@contextmanager
def _progress() -> Iterator[Progress]:
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=log.console, transient=False) as progress:
        yield progress


def build_images(
    cells: Sequence[Cell], client: DockerClient, results: Path, progress: Progress
) -> list[CellImage]:
    """The images of the docker and qemu cells among `cells`, each built once however many share it."""
    cells = [cell for cell in cells if isinstance(cell.runner, _IMAGE_RUNNERS)]
    images = {id(cell): chain(cell_image(cell)) for cell in cells}
    total = len({image for steps in images.values() for image in steps})
    task = progress.add_task("images", total=total)
    step = progress.add_task("", total=1, visible=False)

    def on_step(tag: str, done: int, steps: int) -> None:
        progress.update(step, description=f"  {tag}", completed=done, total=steps, visible=True)

    # One step (a folded group in GitHub's log) with its duration, whatever the bar shows.
    with log.step(f"images of {len(cells)} cells ({total} to find or build)"):
        builder = Builder(client, results / "_images", progress=on_step)
        seen: set[object] = set()
        out = []
        for cell in cells:
            built: Built | None = None
            failure: BuildFailed | None = None
            for image in images[id(cell)]:
                first_time = image not in seen
                seen.add(image)
                try:
                    built = builder.ensure(image)
                except BuildFailed as e:
                    failure, built = e, None
                    break
                finally:
                    if first_time:
                        progress.advance(task)
                if first_time and built.built:
                    progress.console.print(f"  built {built.tag} in {built.seconds:.0f} s")
            out.append(CellImage(cell=cell, built=built, failure=failure))
    progress.update(step, visible=False)
    return out


def _build(args: argparse.Namespace) -> int:
    cells = _cells(args)
    if not any(isinstance(cell.runner, _IMAGE_RUNNERS) for cell in cells):
        log.info("the selected cells run on their host: there are no images to build")
        return 0
    client = docker_client()
    with _progress() as progress:
        images = build_images(cells, client, args.results, progress)
    for image in images:
        if image.built is not None:
            log.info(f"[green]✓[/] {image.cell.identifier}: {image.built.tag}")
        else:
            log.info(f"[red]✗[/] {image.cell.identifier}: {image.failure}")
    return 0 if all(image.built for image in images) else 1


def _run(args: argparse.Namespace) -> int:
    cells = _cells(args)
    needs_docker = any(isinstance(cell.runner, _IMAGE_RUNNERS) for cell in cells)
    client = docker_client() if needs_docker else None
    outcomes: list[CellResult] = []
    with _progress() as progress:
        images = (
            {id(i.cell): i for i in build_images(cells, client, args.results, progress)} if client else {}
        )
        task = progress.add_task("cells", total=len(cells))
        try:
            for cell in cells:
                progress.update(task, description=f"cell {cell.identifier}")
                result = _run_cell(
                    cell,
                    images.get(id(cell)),
                    client,
                    args.results,
                    args.expectations,
                    resume=args.resume,
                    reruns=args.reruns,
                    bench=args.bench,
                    cases=args.cases,
                )
                outcomes.append(result)
                progress.console.print(_line(result))
                progress.advance(task)
        except KeyboardInterrupt:
            progress.stop()
            _print_summary(outcomes)
            ran = {o.identifier for o in outcomes}
            rest = [cell.identifier for cell in cells if cell.identifier not in ran]
            raise Interrupted(
                f"interrupted: {len(outcomes)} of {len(cells)} cells finished; not: {', '.join(rest)}",
                "every finished case is in results/; `vkzc matrix run --resume` runs the rest",
            ) from None
    _print_summary(outcomes)
    return 0 if all(o.outcome == Outcome.PASSED for o in outcomes) else 1


def _print_summary(outcomes: Sequence[CellResult]) -> None:
    # Piped output (CI logs) is not cut to 80 columns.
    Console(highlight=False, width=None if sys.stdout.isatty() else 160).print(summary_table(outcomes))


def _run_cell(
    cell: Cell,
    image: CellImage | None,
    client: DockerClient | None,
    results: Path,
    expectations: Path,
    *,
    resume: bool,
    reruns: int,
    bench: bool,
    cases: str | None,
) -> CellResult:
    launcher: Launcher
    if image is None:
        launcher = HostLauncher(cell, prepare_results_dir(results, cell, for_container=False, keep=resume))
    elif image.built is None:
        return CellResult(
            identifier=cell.identifier,
            outcome=Outcome.BUILD_FAILED,
            detail=str(image.failure),
            seconds=0.0,
            results_dir=results_dir(results, cell),
        )
    elif isinstance(cell.runner, QemuRunner):
        directory = prepare_results_dir(results, cell, for_container=True, keep=resume)
        launcher = QemuLauncher(cell, disk.load(disk.directory(image.built.tag)), directory)
    else:
        assert client is not None
        directory = prepare_results_dir(results, cell, for_container=True, keep=resume)
        launcher = DockerLauncher(cell, image.built.tag, directory, client)
    # Under emulation (a qemu cell on TCG) a benchmark measures the emulator: none is run there.
    emulated = isinstance(cell.runner, QemuRunner)
    return run_cell(
        cell,
        results_dir(results, cell),
        launcher,
        expectations=expectations,
        resume=resume,
        reruns=reruns,
        bench=bench and not emulated,
        cases=cases,
    )


def _line(result: CellResult) -> str:
    mark = _MARKS.get(result.outcome, f"[red]✗ {result.outcome}[/]")
    detail = f" — {result.detail}" if result.detail else ""
    return f"{mark} {result.identifier} ({result.seconds:.0f} s){detail}"


def summary_table(outcomes: Sequence[CellResult]) -> Table:
    paths = sorted({path for o in outcomes for path in o.paths})
    table = Table(
        title=f"vkzc matrix: passed/executed per path (skips apart; {KNOWN} only expected failures)",
        title_justify="left",
    )
    table.add_column("cell", no_wrap=True)
    table.add_column("outcome")
    for path in paths:
        table.add_column(path, justify="right")
    table.add_column("time", justify="right")
    for o in outcomes:
        cells = [o.paths[p].text if p in o.paths else NOT_RUN for p in paths]
        table.add_row(o.identifier, o.outcome, *cells, f"{o.seconds:.0f} s")
    return table


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from vkzc.matrix.command import add_selection_arguments

    build = commands.add_parser("build", help="build (or find) the images of the selected cells")
    add_selection_arguments(build)
    _add_results_argument(build)
    build.set_defaults(func=_build)
    run = commands.add_parser("run", help="build what is missing, run the suite in every selected cell")
    add_selection_arguments(run)
    _add_results_argument(run)
    run.add_argument(
        "--expectations",
        type=Path,
        default=DEFAULT_EXPECTATIONS,
        metavar="DIR",
        help=f"expected failures, flakes and skips per driver (default: {DEFAULT_EXPECTATIONS})",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="keep the finished records of an earlier run and run only its incomplete and not-run cases",
    )
    run.add_argument(
        "--reruns",
        type=int,
        default=1,
        metavar="N",
        help="run each unexpected failure again up to N times; passing once makes it a flake (default: 1)",
    )
    run.add_argument(
        "--bench",
        action="store_true",
        help="also run the benchmarks in each cell (not qemu cells) into results/<cell-id>/bench.json",
    )
    run.add_argument(
        "--cases",
        metavar="EXPR",
        help="run only the cases matching this pytest -k expression, e.g. 'camera or scanout'",
    )
    run.set_defaults(func=_run)

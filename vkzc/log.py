"""The one logger: steps with durations, and GitHub Actions annotations when running there."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

# soft_wrap: a one-line error stays one line in CI logs and pipes, whatever their width.
console = Console(stderr=True, highlight=False, soft_wrap=True)
_IN_GITHUB = os.environ.get("GITHUB_ACTIONS") == "true"


def error(message: str) -> None:
    if _IN_GITHUB:
        print(f"::error::{message}", file=sys.stderr)
    else:
        console.print(f"[bold red]error:[/] {message}")


def info(message: str) -> None:
    console.print(message)


@contextmanager
def step(title: str) -> Iterator[None]:
    """A titled, timed unit of work; a folded group in GitHub's log."""
    if _IN_GITHUB:
        print(f"::group::{title}", file=sys.stderr, flush=True)
    else:
        console.print(f"[bold]▸ {title}[/]")
    start = time.monotonic()
    ok = False
    try:
        yield
        ok = True
    finally:
        took = time.monotonic() - start
        if _IN_GITHUB:
            print("::endgroup::", file=sys.stderr, flush=True)
        mark = "[green]✓[/]" if ok else "[red]✗[/]"
        console.print(f"  {mark} {title} [dim]({took:.1f} s)[/]")

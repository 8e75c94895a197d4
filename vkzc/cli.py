"""The `vkzc` command: each sub-command lives beside the code it drives and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence

from vkzc import __version__, log
from vkzc.errors import FatalError, Interrupted

# Each module has `register(subparsers)`, which adds its parser and sets `func`.
_COMMAND_MODULES = (
    "vkzc.probe.command",
    "vkzc.shaders",
    "vkzc.matrix.command",
    "vkzc.report.command",
    "vkzc.fixtures.command",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vkzc",
        description="Which zero-copy paths into and out of Vulkan really work, driver by driver.",
    )
    parser.add_argument("--version", action="version", version=f"vkzc {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _terminated(signum: int, frame: object) -> None:
    # CI cancels with SIGTERM: stop as cleanly as on Ctrl-C (containers removed, summary printed).
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    try:
        return int(args.func(args) or 0)
    except FatalError as e:
        log.error(e.message)
        if e.hint:
            log.info(f"  → {e.hint}")
        return e.return_code
    except KeyboardInterrupt:
        log.error("interrupted")
        return Interrupted.return_code
    except BrokenPipeError:
        # The reader went away (`vkzc probe --json | head`): not an error of ours.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())

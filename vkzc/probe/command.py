"""`vkzc probe`: what each Vulkan device offers for zero-copy, for people or (--json) for machines."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "probe",
        help="show each Vulkan device's zero-copy capabilities",
        description=(
            "Query every Vulkan device (or those --device names) for what zero-copy needs: identity, "
            "extensions, memory heaps and types, limits, external memory per handle type, and DRM format "
            "modifiers. Nothing is allocated on the device."
        ),
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document (see vkzc/probe/schema.json)"
    )
    parser.add_argument(
        "--device",
        metavar="SELECTOR",
        help="a device index or a name glob such as '*llvmpipe*' (default: all)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: vkzc.vk loads the Vulkan binding (and so libvulkan) on import,
    # and `vkzc --help` must work on a machine without a loader.
    from vkzc.probe.collect import collect

    report = collect(args.device)
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        from rich.console import Console

        from vkzc.probe.render import render

        render(report, Console())
    return 0

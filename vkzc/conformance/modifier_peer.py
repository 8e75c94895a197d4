"""Invalid DRM-modifier imports, each tried in a process of its own.

An invalid plane layout, a dma-buf too small for its layout, or a modifier the driver never listed
are things a driver may crash on: here that ends this process, and the case records it, instead of
ending the suite. The request comes as JSON on stdin; the reply is the last line of stdout, after
REPLY_PREFIX. The peer makes its own dma-buf when it needs one, so no fd has to cross over.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

from vkzc.conformance.external import same_device
from vkzc.conformance.formats import BY_NAME
from vkzc.conformance.linear_planes import CPU_EXPORTERS
from vkzc.conformance.modifier_images import TRANSFER, ImageSpec, ModifierImage, PlaneLayout, import_memory
from vkzc.conformance.modifier_queries import HANDLE_TYPES, describe_answer, query
from vkzc.conformance.peer import PEER_TIMEOUT_S, PeerAnswer
from vkzc.probe.modifiers import LINEAR
from vkzc.vk.device import Device
from vkzc.vk.errors import VulkanError
from vkzc.vk.formats import ExternalMemoryFeatures
from vkzc.vk.instance import Instance

REPLY_PREFIX = "vkzc-modifier-peer-reply: "
INVALID_IMPORTS = ("pitch-too-small", "dmabuf-too-small", "unlisted-modifier")


def run_invalid(request: dict[str, Any]) -> PeerAnswer:
    """Start a peer for `request` and collect its reply (None when it died or hung before replying)."""
    root = str(Path(__file__).resolve().parents[2])  # the peer imports vkzc from where this process did
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "vkzc.conformance.modifier_peer"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            env=env,
            timeout=PEER_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        # The captured output is bytes here, whatever `text` says.
        output = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else ""
        return PeerAnswer(reply=None, returncode=None, output=output)
    lines = [line for line in done.stdout.splitlines() if line.startswith(REPLY_PREFIX)]
    reply = json.loads(lines[-1].removeprefix(REPLY_PREFIX)) if lines else None
    return PeerAnswer(reply=reply, returncode=done.returncode, output=done.stdout + done.stderr)


def _attempt(request: dict[str, Any], device: Device) -> dict[str, Any]:
    fmt = BY_NAME[request["format"]]
    spec = ImageSpec(format=fmt, width=request["width"], height=request["height"], usage=TRANSFER)
    handle_type = HANDLE_TYPES[request["handle"]][0]
    case = request["case"]
    modifier = request.get("modifier", LINEAR)
    extra: dict[str, Any] = {}
    if case == "unlisted-modifier":
        answer = query(device.physical, fmt, modifier, TRANSFER, handle_type)
        extra["query"] = f"vkGetPhysicalDeviceImageFormatProperties2 returned {describe_answer(answer)}"
    layout = PlaneLayout(offset=0, size=0, row_pitch=request["row_pitch"])
    try:
        image = ModifierImage(device, spec, handle_type=handle_type, explicit=(modifier, (layout,)))
    except VulkanError as e:
        return {"call": e.call, "result": e.result_name, **extra}
    if case != "dmabuf-too-small":
        reported = image.layouts(1)[0]
        return {
            "call": "vkCreateImage",
            "result": "VK_SUCCESS",
            "layout": f"the image reports rowPitch {reported.row_pitch}, size {reported.size}",
            **extra,
        }
    dmabuf = CPU_EXPORTERS[request["exporter"]]().allocate(request["dmabuf_size"])
    with dmabuf:
        needed = image.requirements(1)[0][0].size
        extra["sizes"] = f"the image needs {needed} bytes, the dma-buf has {dmabuf.size}"
        try:
            import_memory(image, ExternalMemoryFeatures(features=0), [dmabuf.dup()])
        except VulkanError as e:
            return {"call": e.call, "result": e.result_name, **extra}
    return {"call": "vkBindImageMemory2", "result": "VK_SUCCESS", **extra}


def main() -> int:
    request = json.loads(sys.stdin.read())
    try:
        with Instance() as instance:
            physical = same_device(instance, bytes.fromhex(request["device_uuid"]))
            with Device(physical, extensions=request["extensions"]) as device:
                reply = _attempt(request, device)
    except Exception as e:
        # The traceback goes to the output the suite shows on failure; the reply says what failed.
        traceback.print_exc()
        reply = {"error": f"{type(e).__name__}: {e}"}
    print(REPLY_PREFIX + json.dumps(reply), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

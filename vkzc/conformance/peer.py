"""A second process with a Vulkan device of its own, for the cases that share memory across processes.

The suite sends one request (JSON) and at most one fd over a SOCK_SEQPACKET socket, the fd as
SCM_RIGHTS, and the peer answers with one JSON reply and exits. Two operations:

- "exchange": import the fd as a storage buffer, check on the GPU that it holds the pattern of
  `verify_seed`, then fill it with the pattern of `fill_seed` for the suite to check;
- "import": only attempt an import (of the received fd, of a closed fd number, or of a memfd)
  and report the driver's answer. Invalid imports are undefined behaviour a driver may crash
  on: here that ends the peer, and the case records it, instead of ending the suite.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vkzc.conformance.external import (
    DMA_BUF,
    HANDLE_TYPE_NAMES,
    buffer_support,
    dma_buf_type_bits,
    import_buffer,
    same_device,
)
from vkzc.conformance.kernels import STORAGE, Kernels
from vkzc.vk.binding import load
from vkzc.vk.device import Device
from vkzc.vk.errors import VulkanError
from vkzc.vk.instance import Instance
from vkzc.vk.resources import Buffer

vk = load()

# A fresh process compiles its shaders: ~10 s under TCG. Below the plugin's fallback case limit (120 s), so a
# hung peer is killed and reported by its case rather than by the watchdog.
PEER_TIMEOUT_S = 90.0
_MAX_MESSAGE = 1 << 16


@dataclass(frozen=True, kw_only=True)
class PeerAnswer:
    reply: dict[str, Any] | None  # None when the peer died or hung before answering
    returncode: int | None
    output: str

    @property
    def ending(self) -> str:
        """How the peer ended, for failure messages."""
        if self.returncode is None:
            return f"did not answer within {PEER_TIMEOUT_S:g} s and was killed"
        if self.returncode < 0:
            return f"was killed by {signal.Signals(-self.returncode).name}"
        return f"exited with status {self.returncode}"

    def tail(self, lines: int = 5) -> str:
        return " | ".join(self.output.strip().splitlines()[-lines:])


def run_peer(request: dict[str, Any], fd: int | None = None) -> PeerAnswer:
    """Start a peer, hand it `request` and a duplicate of `fd`, and collect its reply."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    # The peer imports vkzc from where this process did, installed or not.
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
    with ours, tempfile.TemporaryFile("w+") as output:
        with theirs:
            process = subprocess.Popen(
                [sys.executable, "-m", "vkzc.conformance.peer", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            socket.send_fds(ours, [json.dumps(request).encode()], [] if fd is None else [fd])
            ours.settimeout(PEER_TIMEOUT_S)
            data = ours.recv(_MAX_MESSAGE)
            returncode: int | None = process.wait(timeout=PEER_TIMEOUT_S)
        except (TimeoutError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
            data, returncode = b"", None
        except BrokenPipeError:
            # The peer died before reading the request.
            data, returncode = b"", process.wait()
        output.seek(0)
        return PeerAnswer(
            reply=json.loads(data) if data else None, returncode=returncode, output=output.read()
        )


def _exchange(request: dict[str, Any], fd: int | None) -> dict[str, Any]:
    if fd is None:
        raise ValueError("exchange needs an fd")
    handle_type = _handle_type(request)
    with Instance() as instance:
        physical = same_device(instance, bytes.fromhex(request["device_uuid"]))
        with Device(physical, extensions=request["extensions"]) as device:
            index = request.get("memory_type")
            shared = import_buffer(
                device,
                fd,
                request["size"],
                handle_type,
                buffer_support(physical, handle_type),
                memory_type=None if index is None else device.memory_types[index],
                allocation_size=request.get("allocation_size"),
            )
            kernels = Kernels(device)
            found = kernels.verify(shared.buffer, seed=request["verify_seed"], first=0, count=shared.words)
            kernels.fill(shared.buffer, seed=request["fill_seed"], first=0, count=shared.words)
    return {"mismatches": found.count, "first": found.first}


def _handle_type(request: dict[str, Any]) -> int:
    by_name = {name: value for value, name in HANDLE_TYPE_NAMES.items()}
    return by_name[request["handle_type"]]


def _import(request: dict[str, Any], received: int | None) -> dict[str, Any]:
    handle_type = _handle_type(request)
    fd = _fd(request["fd_source"], received, request["allocation_size"])
    with Instance() as instance:
        physical = same_device(instance, bytes.fromhex(request["device_uuid"]))
        with Device(physical, extensions=request["extensions"]) as device:
            if handle_type == DMA_BUF:
                try:
                    type_bits = dma_buf_type_bits(device, fd)
                except VulkanError as e:
                    return {"call": e.call, "result": e.result_name}
                if type_bits == 0:
                    return {
                        "call": "vkGetMemoryFdPropertiesKHR",
                        "result": "memoryTypeBits 0 (no type imports it)",
                    }
            else:
                # OPAQUE_FD has no properties query: take a type storage buffers allow.
                type_bits = Buffer(
                    device, 4096, STORAGE, external_handle_types=handle_type
                ).requirements.type_bits
            memory_type = device.memory_types[(type_bits & -type_bits).bit_length() - 1]
            info = vk.VkImportMemoryFdInfoKHR(
                sType=vk.VK_STRUCTURE_TYPE_IMPORT_MEMORY_FD_INFO_KHR, handleType=handle_type, fd=fd
            )
            try:
                device.allocate(request["allocation_size"], memory_type, info)
            except VulkanError as e:
                return {"call": e.call, "result": e.result_name}
            return {"call": "vkAllocateMemory", "result": "VK_SUCCESS"}


def _fd(source: str, received: int | None, size: int) -> int:
    if source == "received":
        if received is None:
            raise ValueError("no fd was received")
        return received
    if source == "closed":
        # A number that was an fd a moment ago and is not one now.
        read_end, write_end = os.pipe()
        os.close(read_end)
        os.close(write_end)
        return read_end
    if source == "memfd":
        fd = os.memfd_create("vkzc-not-a-dmabuf")
        os.ftruncate(fd, size)
        return fd
    raise ValueError(f"unknown fd source {source!r}")


_OPERATIONS = {"exchange": _exchange, "import": _import}


def main() -> int:
    channel = socket.socket(fileno=int(sys.argv[1]))
    data, fds, _, _ = socket.recv_fds(channel, _MAX_MESSAGE, 1)
    request = json.loads(data)
    try:
        reply = _OPERATIONS[request["op"]](request, fds[0] if fds else None)
    except Exception as e:
        # The traceback goes to the output the suite shows on failure; the reply says what failed.
        traceback.print_exc()
        reply = {"error": f"{type(e).__name__}: {e}"}
    channel.send(json.dumps(reply).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())

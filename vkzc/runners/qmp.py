"""A QEMU Machine Protocol client over a connected socket: the greeting, capability negotiation, and
one command at a time (docs/interop/qmp-spec in QEMU's sources).

Asynchronous events may arrive between a command and its answer; they are skipped.
"""

from __future__ import annotations

import json
import socket
from typing import Any


class QmpError(RuntimeError):
    """QEMU refused a command, or the monitor went away."""


class Qmp:
    def __init__(self, connection: socket.socket) -> None:
        self._file = connection.makefile("rwb")
        greeting = self._message()
        if "QMP" not in greeting:
            raise QmpError(f"not a QMP monitor: the first message was {greeting}")
        self.version = greeting["QMP"].get("version", {}).get("qemu", {})
        self.execute("qmp_capabilities")

    def _message(self) -> dict[str, Any]:
        line = self._file.readline()
        if not line:
            raise QmpError("QEMU's monitor closed the connection")
        message: dict[str, Any] = json.loads(line)
        return message

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        """The command's "return" value; QmpError with QEMU's own description when it fails."""
        request: dict[str, Any] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self._file.write(json.dumps(request).encode() + b"\n")
        self._file.flush()
        while True:
            message = self._message()
            if "return" in message:
                return message["return"]
            if "error" in message:
                error = message["error"]
                raise QmpError(f"{command}: {error.get('desc', error)} ({error.get('class', 'error')})")
            # Anything else is an event ({"event": ...}), which nobody here waits for.

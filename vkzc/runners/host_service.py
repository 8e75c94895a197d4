"""The host service of a qemu cell: what the suite in the guest asks of the host, and only the host can
do. Today that is one thing: a screendump, the screen as QEMU's display device shows it, which is the
proof from outside the guest that a frame reached the display (suite/test_scanout.py).

Both ends live here. The guest writes one request line on a virtio-serial port, found by the name the
qemu runner puts in $VKZC_HOST_SERVICE; on the host the port is a unix socket QEMU connects to, where
`HostService` answers with one line. For a screendump the host runs QMP `screendump` (PPM: every QEMU
has it, PNG only from 7.1) on a monitor socket QEMU also connects to, into
results/<cell>/screendumps/<name>.ppm, kept as evidence, and answers with the file's path in the
guest's results share:

    guest: screendump test_scanout-virtio-gpu-dumb-XRGB8888-1280x800-first
    host:  ok test_scanout-virtio-gpu-dumb-XRGB8888-1280x800-first /results/screendumps/….ppm
    host:  error <name> <why, one line>
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from vkzc.runners.qmp import Qmp, QmpError

# The virtio-serial port's name, and the variable that tells the suite in the guest about it.
SERVICE_PORT = "vkzc.service"
ENVIRONMENT = "VKZC_HOST_SERVICE"
SCREENDUMPS = "screendumps"
VIRTIO_PORTS = Path("/sys/class/virtio-ports")
# A screendump of a 1280x800 screen takes well under a second; a busy TCG host is far slower.
ANSWER_TIMEOUT_S = 120.0
# File names only: the name becomes <name>.ppm in the results share.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_ACCEPT_POLL_S = 0.2


class ServiceError(RuntimeError):
    """The host could not do what the guest asked; the message says why."""


def valid_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


@dataclass(frozen=True)
class Request:
    verb: str
    name: str

    def encode(self) -> bytes:
        return f"{self.verb} {self.name}\n".encode()

    @staticmethod
    def parse(line: str) -> Request:
        verb, _, name = line.strip().partition(" ")
        return Request(verb=verb, name=name)


@dataclass(frozen=True)
class Reply:
    ok: bool
    name: str
    text: str  # the path for "ok", the reason for "error"

    def encode(self) -> bytes:
        text = " ".join(self.text.split())  # one line, whatever QEMU said
        return f"{'ok' if self.ok else 'error'} {self.name} {text}\n".encode()

    @staticmethod
    def parse(line: str) -> Reply:
        status, _, rest = line.strip().partition(" ")
        name, _, text = rest.partition(" ")
        if status not in ("ok", "error"):
            raise ServiceError(f"the host service answered something it should not: {line.strip()!r}")
        return Reply(ok=status == "ok", name=name, text=text)


# --- the guest's end ---------------------------------------------------------------------------------


def unavailable() -> str | None:
    """None when this process can ask the host for screendumps, else why not."""
    port = os.environ.get(ENVIRONMENT)
    if not port:
        return "no display readback: runs only in the qemu runner (screendump through QEMU's monitor)"
    device = port_device(port)
    if device is None:
        return f"${ENVIRONMENT} names the virtio port {port}, which this VM does not have"
    if not os.access(device, os.R_OK | os.W_OK):
        return f"{device} (the virtio port {port}) exists but uid {os.getuid()} cannot open it read-write"
    return None


def port_device(name: str, ports: Path = VIRTIO_PORTS) -> Path | None:
    """/dev/vportNpM of the virtio-serial port called `name` (as udev's /dev/virtio-ports/<name> would)."""
    for port in sorted(ports.glob("*")):
        try:
            if (port / "name").read_text().strip() == name:
                return Path("/dev") / port.name
        except OSError:
            continue
    return None


def screendump(name: str, *, timeout: float = ANSWER_TIMEOUT_S) -> Path:
    """Ask the host for a screendump called `name`; the PPM's path in the results share."""
    if not valid_name(name):
        raise ValueError(f"{name!r} is not a screendump name (letters, digits, '.', '_', '-')")
    reason = unavailable()
    if reason:
        raise ServiceError(reason)
    device = port_device(os.environ[ENVIRONMENT])
    assert device is not None
    reply = _ask(device, Request(verb="screendump", name=name), timeout)
    if reply.name != name:
        raise ServiceError(f"the host service answered for {reply.name!r}, not {name!r}: {reply.text}")
    if not reply.ok:
        raise ServiceError(f"the host could not take screendump {name}: {reply.text}")
    return Path(reply.text)


def _ask(device: Path, request: Request, timeout: float) -> Reply:
    fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    try:
        os.write(fd, request.encode())
        deadline = time.monotonic() + timeout
        answer = b""
        while not answer.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise ServiceError(f"the host service did not answer {request.verb} within {timeout:.0f} s")
            chunk = os.read(fd, 4096)
            if not chunk:
                raise ServiceError("the host service closed the port without an answer")
            answer += chunk
    finally:
        os.close(fd)
    return Reply.parse(answer.decode(errors="replace"))


# --- the host's end ----------------------------------------------------------------------------------


class HostService:
    """Listens on two unix sockets QEMU connects to at start (`-chardev socket,path=…`): its monitor
    (QMP) and the guest's service port; answers the guest's requests in a thread until QEMU is gone.

    QEMU is the client of both, so that nothing waits for QEMU to create a socket: the host's are
    listening before QEMU starts.
    """

    def __init__(
        self,
        socket_dir: Path,
        *,
        results_dir: Path,
        guest_results: str,
        display: str | None,
        on_line: Callable[[str], None],
    ) -> None:
        self.monitor_socket = socket_dir / "monitor.sock"
        self.service_socket = socket_dir / "service.sock"
        self._results_dir = results_dir
        self._guest_results = guest_results
        self._display = display
        self._on_line = on_line
        self._stopping = threading.Event()
        self._listeners: list[socket.socket] = []
        self._connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> HostService:
        for path in (self.monitor_socket, self.service_socket):
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(str(path))
            listener.listen(1)
            listener.settimeout(_ACCEPT_POLL_S)
            self._listeners.append(listener)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping.set()
        for connection in self._connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)  # wakes the thread's read
        self._thread.join(timeout=10)
        for each in (*self._connections, *self._listeners):
            each.close()

    def _accept(self, listener: socket.socket) -> socket.socket | None:
        while not self._stopping.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            connection.settimeout(None)
            self._connections.append(connection)
            return connection
        return None

    def _serve(self) -> None:
        monitor = self._accept(self._listeners[0])
        service = self._accept(self._listeners[1]) if monitor is not None else None
        if monitor is None or service is None:
            return  # QEMU ended (or never started) first
        qmp: Qmp | str
        try:
            qmp = Qmp(monitor)
        except (OSError, ValueError, QmpError) as e:
            qmp = f"QEMU's monitor did not answer: {e}"
        try:
            for raw in service.makefile("rb"):
                reply = self._answer(qmp, Request.parse(raw.decode(errors="replace")))
                service.sendall(reply.encode())
        except OSError:
            pass  # QEMU went away

    def _answer(self, qmp: Qmp | str, request: Request) -> Reply:
        if request.verb != "screendump":
            return Reply(ok=False, name=request.name, text=f"unknown request {request.verb!r}")
        if not valid_name(request.name):
            return Reply(ok=False, name=request.name, text="not a screendump name")
        if isinstance(qmp, str):
            return Reply(ok=False, name=request.name, text=qmp)
        folder = self._results_dir / SCREENDUMPS
        folder.mkdir(exist_ok=True)
        file = f"{request.name}.ppm"
        arguments: dict[str, str] = {"filename": str((folder / file).resolve())}
        if self._display is not None:
            arguments["device"] = self._display
        start = time.monotonic()
        try:
            qmp.execute("screendump", arguments)
        except (OSError, ValueError, QmpError) as e:
            self._on_line(f"vkzc-qemu: screendump {request.name} failed: {e}")
            return Reply(ok=False, name=request.name, text=str(e))
        self._on_line(f"vkzc-qemu: screendump {SCREENDUMPS}/{file} ({time.monotonic() - start:.2f} s)")
        return Reply(ok=True, name=request.name, text=f"{self._guest_results}/{SCREENDUMPS}/{file}")

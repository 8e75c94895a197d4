"""The qemu runner's host service without a VM: its line protocol, the guest's end over a pty standing in
for the virtio-serial port, and the host's end against a fake QEMU monitor."""

from __future__ import annotations

import json
import os
import socket
import threading
import tty
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vkzc.conformance.scanout import read_ppm, screen_difference, shown
from vkzc.runners import host_service
from vkzc.runners.host_service import HostService, Reply, Request, ServiceError


def test_requests_and_replies_are_single_lines() -> None:
    assert Request(verb="screendump", name="a-1").encode() == b"screendump a-1\n"
    assert Request.parse("screendump a-1\n") == Request(verb="screendump", name="a-1")
    reply = Reply(ok=False, name="a-1", text="QEMU said\nsomething   long")
    assert reply.encode() == b"error a-1 QEMU said something long\n"
    assert Reply.parse(reply.encode().decode()) == Reply(
        ok=False, name="a-1", text="QEMU said something long"
    )
    assert Reply.parse("ok a-1 /results/screendumps/a-1.ppm") == Reply(
        ok=True, name="a-1", text="/results/screendumps/a-1.ppm"
    )
    with pytest.raises(ServiceError, match="answered something it should not"):
        Reply.parse("maybe a-1 x")


@pytest.mark.parametrize("name", ["", "../x", "a b", "a/b", "-a", "x" * 201, "é"])
def test_names_are_file_names_only(name: str) -> None:
    assert not host_service.valid_name(name)


def test_the_port_is_found_by_its_name(tmp_path: Path) -> None:
    for port, name in (("vport2p1", "vkzc.output"), ("vport2p2", "vkzc.service")):
        (tmp_path / port).mkdir()
        (tmp_path / port / "name").write_text(name + "\n")
    assert host_service.port_device("vkzc.service", tmp_path) == Path("/dev/vport2p2")
    assert host_service.port_device("other", tmp_path) is None


def test_outside_the_qemu_runner_the_reason_says_where_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(host_service.ENVIRONMENT, raising=False)
    assert host_service.unavailable() == (
        "no display readback: runs only in the qemu runner (screendump through QEMU's monitor)"
    )
    with pytest.raises(ServiceError, match="no display readback"):
        host_service.screendump("a")
    monkeypatch.setenv(host_service.ENVIRONMENT, "vkzc.nowhere")
    assert host_service.unavailable() == (
        f"${host_service.ENVIRONMENT} names the virtio port vkzc.nowhere, which this VM does not have"
    )


# --- the guest's end, over a pty ---------------------------------------------------------------------


@pytest.fixture
def port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The host's side of a raw pty whose other side the guest's end opens as its port."""
    host, guest = os.openpty()
    tty.setraw(guest)
    monkeypatch.setenv(host_service.ENVIRONMENT, "vkzc.service")
    monkeypatch.setattr(host_service, "port_device", lambda name: Path(os.ttyname(guest)))
    yield host
    os.close(host)
    os.close(guest)


def answer_with(host: int, reply: bytes) -> threading.Thread:
    def serve() -> None:
        request = b""
        while not request.endswith(b"\n"):
            request += os.read(host, 100)
        assert request == b"screendump frame\n"
        os.write(host, reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_the_guest_gets_the_path(port: int) -> None:
    answer_with(port, b"ok frame /results/screendumps/frame.ppm\n")
    assert host_service.screendump("frame", timeout=10) == Path("/results/screendumps/frame.ppm")


def test_the_hosts_error_becomes_a_failure_that_says_it(port: int) -> None:
    answer_with(port, b"error frame screendump: no surface (GenericError)\n")
    with pytest.raises(ServiceError, match=r"could not take screendump frame: screendump: no surface"):
        host_service.screendump("frame", timeout=10)


def test_an_answer_for_another_request_is_refused(port: int) -> None:
    answer_with(port, b"ok older /results/screendumps/older.ppm\n")
    with pytest.raises(ServiceError, match="answered for 'older', not 'frame'"):
        host_service.screendump("frame", timeout=10)


def test_a_silent_host_meets_the_timeout(port: int) -> None:
    with pytest.raises(ServiceError, match="did not answer screendump within 1 s"):
        host_service.screendump("frame", timeout=1)


# --- the host's end, against a fake QEMU -------------------------------------------------------------


class FakeQemu:
    """Connects to the service's sockets as QEMU does and plays its monitor: a greeting, an event before
    each answer, a PPM written where screendump says, or QEMU's error."""

    def __init__(self, service: HostService, *, refuse: str | None = None) -> None:
        self.commands: list[dict[str, object]] = []
        self.refuse = refuse
        self.monitor = socket.socket(socket.AF_UNIX)
        self.monitor.connect(str(service.monitor_socket))
        self.port = socket.socket(socket.AF_UNIX)
        self.port.connect(str(service.service_socket))
        self.replies = self.port.makefile("rb")
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        qmp = self.monitor.makefile("rwb")
        qmp.write(
            b'{"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 22}}, "capabilities": []}}\n'
        )
        qmp.flush()
        for line in qmp:
            command = json.loads(line)
            self.commands.append(command)
            qmp.write(b'{"event": "RESUME"}\n')
            if command["execute"] == "screendump" and self.refuse:
                qmp.write(
                    json.dumps({"error": {"class": "GenericError", "desc": self.refuse}}).encode() + b"\n"
                )
            else:
                if command["execute"] == "screendump":
                    arguments = command["arguments"]
                    assert isinstance(arguments, dict)
                    Path(arguments["filename"]).write_bytes(b"P6\n# QEMU\n2 1\n255\n\x01\x02\x03\x04\x05\x06")
                qmp.write(b'{"return": {}}\n')
            qmp.flush()

    def ask(self, line: bytes) -> str:
        self.port.sendall(line)
        return self.replies.readline().decode().strip()

    def close(self) -> None:
        self.port.close()
        self.monitor.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[HostService, list[str]]]:
    (tmp_path / "sockets").mkdir()
    (tmp_path / "results").mkdir()
    lines: list[str] = []
    with HostService(
        tmp_path / "sockets",
        results_dir=tmp_path / "results",
        guest_results="/results",
        display="vkzc-gpu",
        on_line=lines.append,
    ) as service:
        yield service, lines


def test_a_screendump_lands_in_the_results_and_its_guest_path_comes_back(
    served: tuple[HostService, list[str]], tmp_path: Path
) -> None:
    service, lines = served
    qemu = FakeQemu(service)
    assert qemu.ask(b"screendump frame-1\n") == "ok frame-1 /results/screendumps/frame-1.ppm"
    dump = tmp_path / "results" / "screendumps" / "frame-1.ppm"
    assert qemu.commands == [
        {"execute": "qmp_capabilities"},
        {"execute": "screendump", "arguments": {"filename": str(dump.resolve()), "device": "vkzc-gpu"}},
    ]
    screen = read_ppm(dump)
    assert screen.rgb.tolist() == [[[1, 2, 3], [4, 5, 6]]]
    assert lines[0].startswith("vkzc-qemu: screendump screendumps/frame-1.ppm (")
    qemu.close()


def test_qemus_refusal_and_bad_requests_come_back_as_error_lines(
    served: tuple[HostService, list[str]],
) -> None:
    service, lines = served
    qemu = FakeQemu(service, refuse="There is no QemuConsole I can screendump from.")
    assert qemu.ask(b"screendump frame\n") == (
        "error frame screendump: There is no QemuConsole I can screendump from. (GenericError)"
    )
    assert qemu.ask(b"screendump ../../etc/passwd\n") == "error ../../etc/passwd not a screendump name"
    assert qemu.ask(b"reboot now\n") == "error now unknown request 'reboot'"
    assert lines == [
        "vkzc-qemu: screendump frame failed: screendump: There is no QemuConsole I can screendump from. "
        "(GenericError)"
    ]
    qemu.close()


def test_the_service_ends_with_qemu_never_connecting(tmp_path: Path) -> None:
    with HostService(
        tmp_path, results_dir=tmp_path, guest_results="/results", display=None, on_line=lambda line: None
    ):
        pass  # __exit__ must not wait for a QEMU that never came


# --- what the scanout case compares -------------------------------------------------------------------


def test_the_screen_is_the_xrgb_bytes_red_green_blue() -> None:
    xrgb = np.array([10, 20, 30, 99, 40, 50, 60, 0], dtype=np.uint8)  # B, G, R, X per pixel
    assert shown(xrgb, 2, 1).tolist() == [[[30, 20, 10], [60, 50, 40]]]


def test_a_differing_screen_names_its_first_pixel(tmp_path: Path) -> None:
    ppm = tmp_path / "s.ppm"
    ppm.write_bytes(b"P6 2 2 255\n" + bytes([1, 2, 3] * 3 + [9, 9, 9]))
    screen = read_ppm(ppm)
    expected = np.array([[1, 2, 3]] * 4, dtype=np.uint8).reshape(2, 2, 3)
    assert screen_difference(screen, expected, "the frame") == (
        "the screen does not show the frame: pixel (1, 1) is RGB (9, 9, 9), expected (1, 2, 3) "
        "(1 of 4 pixels differ)"
    )
    expected[1, 1] = 9
    assert screen_difference(screen, expected, "the frame") is None
    assert screen_difference(screen, expected[:1], "a wide frame") == (
        "the screen is 2x2, not the 2x1 of a wide frame"
    )


def test_a_cut_ppm_is_refused(tmp_path: Path) -> None:
    ppm = tmp_path / "s.ppm"
    ppm.write_bytes(b"P6\n2 2\n255\n" + bytes(5))
    with pytest.raises(ValueError, match="holds 5 pixel bytes, not 2x2x3"):
        read_ppm(ppm)
    ppm.write_bytes(b"P5\n2 2\n255\n" + bytes(4))
    with pytest.raises(ValueError, match="not an 8-bit binary PPM"):
        read_ppm(ppm)

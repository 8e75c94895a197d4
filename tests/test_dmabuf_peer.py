"""The peer process of the cross-process and invalid-import cases: how it answers and how its end is told."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from vulkan_device import open_first_device

from vkzc.conformance.external import FD_EXTENSIONS, device_uuid
from vkzc.conformance.peer import PEER_TIMEOUT_S, PeerAnswer, run_peer


def test_how_a_peer_ended() -> None:
    assert PeerAnswer(reply=None, returncode=-11, output="").ending == "was killed by SIGSEGV"
    assert PeerAnswer(reply=None, returncode=1, output="").ending == "exited with status 1"
    assert PeerAnswer(reply=None, returncode=None, output="").ending == (
        f"did not answer within {PEER_TIMEOUT_S:g} s and was killed"
    )
    assert PeerAnswer(reply=None, returncode=1, output="a\nb\nc\n").tail(2) == "b | c"


@pytest.fixture(scope="module")
def device() -> Iterator[object]:
    yield from open_first_device()


def test_a_failed_request_comes_back_as_an_error(device) -> None:
    answer = run_peer({"op": "exchange", "device_uuid": "00" * 16})
    assert answer.returncode == 0
    assert answer.reply == {"error": "ValueError: exchange needs an fd"}
    assert "Traceback" in answer.output


def test_an_import_attempt_reports_the_driver_answer(device) -> None:
    answer = run_peer(
        {
            "op": "import",
            "device_uuid": device_uuid(device.physical).hex(),
            "extensions": list(FD_EXTENSIONS),
            "handle_type": "OPAQUE_FD",
            "fd_source": "closed",
            "allocation_size": 4096,
        }
    )
    assert answer.returncode == 0, answer.output
    assert answer.reply is not None and answer.reply["call"] == "vkAllocateMemory", answer.reply
    assert answer.reply["result"].startswith("VK_"), answer.reply

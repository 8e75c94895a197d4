"""Judging a negative case: the driver was handed an invalid import in a peer process."""

from __future__ import annotations

import pytest

from vkzc.conformance.peer import PeerAnswer


def judge_invalid_import(case: pytest.Item, what: str, answer: PeerAnswer) -> None:
    """Pass on an error from the driver; fail on a crash, a hang or an acceptance. The answer (with
    what the peer adds: the query, sizes, layout) goes into the case's user properties, which the
    results plugin records as the reason of a pass."""
    if answer.reply is None:
        hung = answer.returncode is None
        pytest.fail(
            f"the driver {'hung' if hung else 'crashed'} on an invalid import: {what}; the peer process "
            f"{answer.ending}: {answer.tail()}"
        )
    if "error" in answer.reply:
        pytest.fail(f"the peer process could not attempt the import ({what}): {answer.reply['error']}")
    details = [answer.reply[k] for k in ("query", "sizes", "layout") if k in answer.reply]
    said = f"{answer.reply['call']} returned {answer.reply['result']}" + "".join(f"; {d}" for d in details)
    case.user_properties.append(("driver_answer", said))
    if answer.reply["result"] == "VK_SUCCESS":
        pytest.fail(f"driver accepted an invalid import: {what} ({said})")

"""What the scanout case compares: the screen as a screendump (PPM) shows it, against the pattern the GPU
wrote into the buffer the display scans out.

The buffer is DRM_FORMAT_XRGB8888, which is VK_FORMAT_B8G8R8A8_UNORM in memory (bytes B, G, R, X); a
PPM holds R, G, B. The X byte is not shown, so it is not compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vkzc.conformance.formats import BY_NAME, Bytes, Format
from vkzc.display.kms import Card, Output
from vkzc.dmabuf.drm import card_of

# The Vulkan format whose bytes are XRGB8888's, and the DRM format's name in case ids.
FORMAT: Format = BY_NAME["B8G8R8A8_UNORM"]
DRM_FORMAT_NAME = "XRGB8888"
# The displays a case runs on: its part of the case id, and the DRM driver behind it.
DISPLAYS = {"virtio-gpu": "virtio_gpu"}

Pixels = npt.NDArray[np.uint8]  # (height, width, 3): R, G, B


@dataclass(frozen=True, kw_only=True)
class Screen:
    width: int
    height: int
    rgb: Pixels


def read_ppm(path: Path) -> Screen:
    """A binary PPM (P6, maxval 255), as QEMU's screendump writes it."""
    data = path.read_bytes()
    fields: list[bytes] = []
    position = 0
    # Magic, width, height, maxval: separated by whitespace, with # comments; one whitespace byte
    # before the pixels.
    while len(fields) < 4:
        while position < len(data) and data[position : position + 1].isspace():
            position += 1
        if data[position : position + 1] == b"#":
            position = data.index(b"\n", position) + 1
            continue
        end = position
        while end < len(data) and not data[end : end + 1].isspace():
            end += 1
        if end == position:
            raise ValueError(f"{path} ends inside its PPM header")
        fields.append(data[position:end])
        position = end
    magic, width, height, maxval = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
    if magic != b"P6" or maxval != 255:
        raise ValueError(f"{path} is not an 8-bit binary PPM (magic {magic!r}, maxval {maxval})")
    pixels = data[position + 1 :]
    if len(pixels) != width * height * 3:
        raise ValueError(f"{path} holds {len(pixels)} pixel bytes, not {width}x{height}x3")
    rgb = np.frombuffer(pixels, dtype=np.uint8).reshape(height, width, 3)
    return Screen(width=width, height=height, rgb=rgb)


def shown(xrgb: Bytes, width: int, height: int) -> Pixels:
    """What a display shows of XRGB8888 bytes (B, G, R, X in memory): R, G, B per pixel."""
    return xrgb.reshape(height, width, 4)[:, :, 2::-1]


def screen_difference(screen: Screen, expected: Pixels, what: str) -> str | None:
    """None when the screen is exactly `expected`, else the first differing pixel and how many differ."""
    height, width = expected.shape[:2]
    if (screen.width, screen.height) != (width, height):
        return f"the screen is {screen.width}x{screen.height}, not the {width}x{height} of {what}"
    bad = np.argwhere((screen.rgb != expected).any(axis=2))
    if not bad.size:
        return None
    y, x = (int(v) for v in bad[0])
    got, want = screen.rgb[y, x], expected[y, x]
    return (
        f"the screen does not show {what}: pixel ({x}, {y}) is RGB {tuple(int(v) for v in got)}, "
        f"expected {tuple(int(v) for v in want)} ({len(bad)} of {width * height} pixels differ)"
    )


def find_output(driver: str) -> tuple[Card, Output] | None:
    """The card driven by `driver` and its connected output, or None; the caller closes the card."""
    node = card_of(driver)
    if node is None:
        return None
    card = Card(node)
    try:
        output = card.output()
    except OSError:
        card.close()
        return None
    if output is None:
        card.close()
        return None
    return card, output


def mode_id(driver: str) -> str:
    """The case id's mode part, read from the display at collection: "1280x800", or "no-display"."""
    try:
        found = find_output(driver)
    except OSError:
        return "no-display"
    if found is None:
        return "no-display"
    card, output = found
    card.close()
    return f"{output.mode.width}x{output.mode.height}"

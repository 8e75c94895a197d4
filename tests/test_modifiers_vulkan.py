"""The DRM-modifier helpers against this machine's real driver: the shared format query, the refusal of
DRM_FORMAT_MOD_INVALID, the invalid-import peer, and the case ids the suite collects."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from vulkan_device import open_first_device

from vkzc.conformance.external import OPAQUE_FD, device_uuid
from vkzc.conformance.formats import BY_NAME
from vkzc.conformance.modifier_images import TRANSFER, ImageSpec, ModifierImage, PlaneLayout
from vkzc.conformance.modifier_peer import run_invalid
from vkzc.probe.modifiers import INVALID, LINEAR
from vkzc.vk.binding import load
from vkzc.vk.formats import image_format_properties

vk = load()
REPO = Path(__file__).resolve().parents[1]
SPEC = ImageSpec(format=BY_NAME["R8G8B8A8_UNORM"], width=64, height=64, usage=TRANSFER)


@pytest.fixture(scope="module")
def device() -> Iterator[object]:
    yield from open_first_device()


def test_the_format_query_answers_support_with_external_features(device) -> None:
    answer = image_format_properties(
        device.physical,
        fmt=vk.VK_FORMAT_R8G8B8A8_UNORM,
        tiling=vk.VK_IMAGE_TILING_OPTIMAL,
        usage=TRANSFER,
        handle_type=OPAQUE_FD,
    )
    assert answer.supported and answer.external is not None, answer
    assert answer.max_extent[0] >= 4096


def test_the_format_query_answers_an_unsupported_combination_with_its_error(device) -> None:
    # No driver renders into block-compressed images.
    answer = image_format_properties(
        device.physical,
        fmt=vk.VK_FORMAT_BC1_RGB_UNORM_BLOCK,
        tiling=vk.VK_IMAGE_TILING_OPTIMAL,
        usage=vk.VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT,
    )
    assert (answer.result, answer.external, answer.max_extent) == (
        "VK_ERROR_FORMAT_NOT_SUPPORTED",
        None,
        (0, 0),
    )


def test_drm_format_mod_invalid_is_never_passed_to_the_driver(device) -> None:
    # Refused before any Vulkan call, so this holds on drivers without the modifier extension too.
    with pytest.raises(ValueError, match="DRM_FORMAT_MOD_INVALID"):
        ModifierImage(device, SPEC, handle_type=0, modifiers=(LINEAR, INVALID))
    layout = PlaneLayout(offset=0, size=0, row_pitch=256)
    with pytest.raises(ValueError, match="DRM_FORMAT_MOD_INVALID"):
        ModifierImage(device, SPEC, handle_type=0, explicit=(INVALID, (layout,)))
    with pytest.raises(ValueError, match="either a modifier list or an explicit"):
        ModifierImage(device, SPEC, handle_type=0)


def test_the_peer_reports_what_stopped_it(device) -> None:
    """A peer that cannot attempt the import answers why (here: a device that matches no deviceUUID)."""
    answer = run_invalid({"case": "pitch-too-small", "device_uuid": "00" * 16, "extensions": []})
    assert answer.returncode == 0, answer.output
    assert answer.reply is not None and answer.reply["error"].startswith("RuntimeError: no device"), (
        answer.reply
    )
    assert "Traceback" in answer.output


def test_the_peer_attempts_on_the_suites_device(device) -> None:
    extensions = ["VK_KHR_external_memory_fd", "VK_EXT_image_drm_format_modifier"]
    answer = run_invalid(
        {
            "case": "pitch-too-small",
            "device_uuid": device_uuid(device.physical).hex(),
            "extensions": extensions,
            "format": "R8G8B8A8_UNORM",
            "width": 130,
            "height": 66,
            "handle": "opaque-fd",
            "row_pitch": 256,
        }
    )
    assert answer.reply is not None, answer.output
    if "VK_EXT_image_drm_format_modifier" not in device.physical.extensions:
        assert "lacks VK_EXT_image_drm_format_modifier" in answer.reply["error"]
    else:
        assert answer.reply["call"] == "vkCreateImage", answer.reply


def test_case_ids_read_like_table_cells() -> None:
    """LINEAR cases exist for every format on every driver, so their ids are the same everywhere."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            "suite/pytest.ini",
            "suite/test_modifiers.py",
            "--collect-only",
            "-q",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode == 3:
        pytest.skip(f"needs a Vulkan device: {done.stdout.strip()}")
    ids = set(done.stdout.split())
    for expected in (
        "test_modifiers.py::test_modifier_lists[G8_B8R8_2PLANE_420_UNORM]",
        "test_modifiers.py::test_modifier_query[R8_UNORM-LINEAR-dma-buf]",
        "test_modifiers.py::test_modifier_roundtrip[B8G8R8A8_SRGB-LINEAR-color-attachment-opaque-fd]",
        "test_modifiers.py::test_modifier_disjoint[G10X6_B10X6R10X6_2PLANE_420_UNORM_3PACK16-LINEAR-dma-buf]",
        "test_modifiers.py::test_modifier_linear_import[G8_B8_R8_3PLANE_420_UNORM-disjoint]",
        "test_modifiers.py::test_modifier_layers[G8_B8R8_2PLANE_420_UNORM]",
        "test_modifiers.py::test_modifier_invalid[unlisted-modifier]",
    ):
        assert expected in ids, done.stdout[-2000:]

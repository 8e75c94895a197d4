"""`vkzc probe`: its JSON against schema.json, what lavapipe reports, and its one-line failures."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from vkzc import cli
from vkzc.probe.model import (
    ABSENT,
    KEY_EXTENSIONS,
    SUPPORTED,
    DeviceRecord,
    ExternalImageRecord,
    ExternalMemoryProperties,
    ExternalMemoryRecord,
    FormatModifiers,
    Limits,
    LoaderRecord,
    MemoryHeap,
    MemoryTypeRecord,
    ModifierRecord,
    PciBus,
    ProbeReport,
)
from vkzc.probe.modifiers import LINEAR, describe, fourcc_mod_code

REPO = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((REPO / "vkzc" / "probe" / "schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
# What the `vulkan` binding raises on import where libvulkan.so.1 cannot be dlopen()ed.
NO_LOADER_ERROR = (
    "Cannot find Vulkan SDK version. Please ensure that it is installed and that the "
    "<sdk_root>/<version>/lib/ folder is in the library path"
)


@pytest.fixture(autouse=True)
def only_the_probe_command(monkeypatch: pytest.MonkeyPatch) -> None:
    # The other sub-commands are written alongside; these tests should not depend on them importing.
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("vkzc.probe.command",))


def flat(text: str) -> str:
    """Rich wraps long lines on stderr; compare words, not line breaks."""
    return " ".join(text.split())


def probe_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    """`vkzc probe --json ARGV`, parsed; skips the test where the machine has no Vulkan device."""
    code = cli.main(["probe", "--json", *argv])
    captured = capsys.readouterr()
    if code == 3:
        pytest.skip(f"needs a Vulkan device: {flat(captured.err)}")
    assert code == 0, captured.err
    document: dict[str, Any] = json.loads(captured.out)
    return document


def lavapipe(document: dict[str, Any]) -> dict[str, Any]:
    for device in document["devices"]:
        if device["identity"]["driver_id"] == "MESA_LLVMPIPE":
            return device
    pytest.skip("needs lavapipe (mesa-vulkan-drivers); the devices here are other drivers")


def run_vkzc(*argv: str, pythonpath: list[Path] | None = None) -> subprocess.CompletedProcess[str]:
    """The real entry point in a fresh interpreter, as a user runs it."""
    env = dict(os.environ)
    inherited = [env["PYTHONPATH"]] if env.get("PYTHONPATH") else []
    env["PYTHONPATH"] = os.pathsep.join([*(str(p) for p in pythonpath or []), str(REPO), *inherited])
    return subprocess.run(
        [sys.executable, "-m", "vkzc", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def assert_one_error_line(stderr: str, message: str) -> None:
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {message}"], stderr


# --- the schema and the model, without a device ------------------------------------------------


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def synthetic_report() -> ProbeReport:
    """A device with what lavapipe 22.3.6 lacks (dma-buf, DRM modifiers, PCI bus), as a GPU reports it."""
    try:
        from vkzc.vk.instance import DeviceIdentity
    except Exception as e:  # EnvironmentMissing: the binding cannot load without libvulkan.so.1
        pytest.skip(f"needs the Vulkan loader to import vkzc.vk: {e}")
    fd = ExternalMemoryProperties(
        exportable=True,
        importable=True,
        dedicated_only=False,
        export_from_imported_handle_types=("OPAQUE_FD",),
        compatible_handle_types=("OPAQUE_FD",),
    )
    dma_buf = ExternalMemoryProperties(
        exportable=True,
        importable=True,
        dedicated_only=True,
        export_from_imported_handle_types=("DMA_BUF_EXT",),
        compatible_handle_types=("DMA_BUF_EXT",),
    )
    block_linear = fourcc_mod_code(0x03, 0x10 | 4 | (0xFE << 12) | (2 << 20) | (1 << 22))
    modifiers = (
        ModifierRecord(
            value=LINEAR, vendor="NONE", name="LINEAR", plane_count=1, features=("SAMPLED_IMAGE",)
        ),
        ModifierRecord(
            value=block_linear,
            vendor="NVIDIA",
            name=describe(block_linear).name,
            plane_count=1,
            features=("SAMPLED_IMAGE", "STORAGE_IMAGE", "0x80000000"),
        ),
    )
    device = DeviceRecord(
        identity=DeviceIdentity(
            index=0,
            name="Synthetic GPU",
            vendor_id=0x10DE,
            device_id=0x2331,
            device_type="discrete-gpu",
            api_version="1.4.312",
            driver_version="580.159.3",
            driver_id="NVIDIA_PROPRIETARY",
            driver_name="NVIDIA",
            driver_info="580.159.03",
            mesa_version=None,
        ),
        device_uuid="00000000-0000-0000-0000-000000000001",
        driver_uuid="00000000-0000-0000-0000-000000000002",
        pci_bus=PciBus(domain=0, bus=0x1B, device=0, function=0),
        extensions=(
            "VK_EXT_external_memory_dma_buf",
            "VK_EXT_image_drm_format_modifier",
            "VK_KHR_external_memory_fd",
        ),
        memory_heaps=(MemoryHeap(index=0, size=80 << 30, flags=("DEVICE_LOCAL",)),),
        memory_types=(MemoryTypeRecord(index=0, flags=("DEVICE_LOCAL",), heap_index=0),),
        limits=Limits(
            non_coherent_atom_size=64,
            min_memory_map_alignment=64,
            min_storage_buffer_offset_alignment=16,
            max_storage_buffer_range=1 << 32,
            max_compute_work_group_count=(2**31 - 1, 65535, 65535),
            min_imported_host_pointer_alignment=None,
        ),
        external_buffers=(
            ExternalMemoryRecord(handle_type="OPAQUE_FD", status=SUPPORTED, properties=fd),
            ExternalMemoryRecord(handle_type="DMA_BUF_EXT", status=SUPPORTED, properties=dma_buf),
            ExternalMemoryRecord(handle_type="HOST_ALLOCATION_EXT", status=ABSENT, properties=None),
        ),
        external_images=(
            ExternalImageRecord(
                format="R8_UNORM",
                tiling="DRM_FORMAT_MODIFIER_EXT",
                drm_format_modifier=LINEAR,
                handle_type="DMA_BUF_EXT",
                status=SUPPORTED,
                properties=dma_buf,
            ),
            ExternalImageRecord(
                format="R8_UNORM",
                tiling="LINEAR",
                drm_format_modifier=None,
                handle_type="OPAQUE_FD",
                status="VK_ERROR_FORMAT_NOT_SUPPORTED",
                properties=None,
            ),
        ),
        drm_format_modifiers=(
            FormatModifiers(format="R8_UNORM", modifiers=modifiers, modifiers2=modifiers),
            FormatModifiers(format="G8_B8R8_2PLANE_420_UNORM", modifiers=(), modifiers2=()),
        ),
    )
    return ProbeReport(
        vkzc_version="0.1.0",
        loader=LoaderRecord(
            instance_version="1.4.312", driver_files="/etc/nvidia_icd.json", icd_filenames=None
        ),
        devices=(device,),
    )


def test_a_full_record_validates_and_renders(capsys: pytest.CaptureFixture[str]) -> None:
    from rich.console import Console

    from vkzc.probe.render import render

    report = synthetic_report()
    document = report.to_json()
    VALIDATOR.validate(document)
    device = document["devices"][0]
    assert device["drm_format_modifiers"][0]["modifiers"][1]["value"] == "0x03000000006fe014"
    assert device["drm_format_modifiers"][0]["lists_agree"] is True
    assert device["pci_bus"]["address"] == "0000:1b:00.0"
    render(report, Console(width=100))
    out = capsys.readouterr().out
    assert "NVIDIA_BLOCK_LINEAR_2D(" in out and "List2 agrees" in out
    assert "FORMAT_NOT_SUPPORTED" in out
    assert max(len(line) for line in out.splitlines()) <= 100


@pytest.mark.parametrize(
    "path",
    [
        ("schema_version",),
        ("loader", "instance_version"),
        ("devices", 0, "identity", "mesa_version"),
        ("devices", 0, "limits", "non_coherent_atom_size"),
        ("devices", 0, "external_memory", "images", 0, "drm_format_modifier"),
        ("devices", 0, "drm_format_modifiers", 0, "modifiers", 0, "plane_count"),
    ],
)
def test_schema_rejects_a_record_missing_a_required_field(path: tuple[str | int, ...]) -> None:
    document = synthetic_report().to_json()
    VALIDATOR.validate(document)
    parent: Any = document
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    # best_match looks inside oneOf branches, where a bare validate() names only the outer schema.
    error = jsonschema.exceptions.best_match(VALIDATOR.iter_errors(document))
    assert error is not None
    assert error.message == f"'{path[-1]}' is a required property"


def test_schema_rejects_unknown_fields_and_inconsistent_statuses() -> None:
    document = synthetic_report().to_json()
    extra = copy.deepcopy(document)
    extra["devices"][0]["limits"]["maxFoo"] = 1
    with pytest.raises(jsonschema.ValidationError, match="Additional properties"):
        VALIDATOR.validate(extra)
    # "supported" without the properties that say what is supported
    hollow = copy.deepcopy(document)
    hollow["devices"][0]["external_memory"]["buffers"][0]["properties"] = None
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(hollow)


def test_lists_agree_compares_modifiers_and_plane_counts() -> None:
    one = ModifierRecord(value=LINEAR, vendor="NONE", name="LINEAR", plane_count=1, features=())
    two = ModifierRecord(value=LINEAR, vendor="NONE", name="LINEAR", plane_count=2, features=())
    assert FormatModifiers(format="R8_UNORM", modifiers=(one,), modifiers2=None).lists_agree is None
    assert FormatModifiers(format="R8_UNORM", modifiers=(one,), modifiers2=(one,)).lists_agree is True
    assert FormatModifiers(format="R8_UNORM", modifiers=(one,), modifiers2=(two,)).lists_agree is False
    assert FormatModifiers(format="R8_UNORM", modifiers=(one,), modifiers2=()).lists_agree is False


@pytest.mark.parametrize(
    ("modifier", "vendor", "name"),
    [
        (0, "NONE", "LINEAR"),
        (0x00FFFFFFFFFFFFFF, "NONE", "INVALID"),
        (fourcc_mod_code(0x01, 1), "INTEL", "I915_X_TILED"),
        (fourcc_mod_code(0x01, 2), "INTEL", "I915_Y_TILED"),
        (fourcc_mod_code(0x01, 3), "INTEL", "I915_Yf_TILED"),
        (fourcc_mod_code(0x01, 6), "INTEL", "I915_Y_TILED_GEN12_RC_CCS"),
        (fourcc_mod_code(0x07, 6), "BROADCOM", "BROADCOM_UIF"),
        (fourcc_mod_code(0x07, 4), "BROADCOM", "BROADCOM_SAND128"),
        (fourcc_mod_code(0x07, (96 << 8) | 4), "BROADCOM", "BROADCOM_SAND128(col_height=96)"),
        (fourcc_mod_code(0x08, 1 | (1 << 4) | (1 << 6)), "ARM", "ARM_AFBC(16x16,YTR,SPARSE)"),
        (fourcc_mod_code(0x08, (1 << 52) | 1), "ARM", "ARM_16X16_BLOCK_U_INTERLEAVED"),
        (fourcc_mod_code(0x03, 0x10 | 5), "NVIDIA", "NVIDIA_BLOCK_LINEAR_2D(h=5,k=0x00,g=0,s=0,c=0)"),
        (0x0200000000000001, "AMD", None),
        (0x7F00000000000001, "0x7f", None),
    ],
)
def test_modifier_names(modifier: int, vendor: str, name: str | None) -> None:
    described = describe(modifier)
    assert (described.vendor, described.name) == (vendor, name)


# --- end to end, with the Vulkan device of this machine ------------------------------------------


def test_json_validates_against_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    document = probe_json(capsys)
    VALIDATOR.validate(document)
    assert document["schema_version"] == 1
    assert document["loader"]["environment"].keys() == {"VK_DRIVER_FILES", "VK_ICD_FILENAMES"}
    for device in document["devices"]:
        assert list(device["key_extensions"]) == list(KEY_EXTENSIONS)
        assert device["extensions"] == sorted(device["extensions"])
        # A modifier list is there exactly where the extension is advertised.
        advertised = device["key_extensions"]["VK_EXT_image_drm_format_modifier"] == "present"
        assert (device["drm_format_modifiers"] != "absent") == advertised


def test_lavapipe_lists_llvmpipe_with_its_memory_and_fd_export(capsys: pytest.CaptureFixture[str]) -> None:
    device = lavapipe(probe_json(capsys))
    assert device["identity"]["name"].startswith("llvmpipe")
    assert device["identity"]["device_type"] == "cpu"
    assert device["memory"]["heaps"] and device["memory"]["types"]
    assert "HOST_VISIBLE" in device["memory"]["types"][0]["flags"]
    assert device["key_extensions"]["VK_KHR_external_memory_fd"] == "present"
    fd = next(b for b in device["external_memory"]["buffers"] if b["handle_type"] == "OPAQUE_FD")
    assert fd["status"] == "supported" and fd["properties"]["exportable"] and fd["properties"]["importable"]


def test_lavapipe_22_has_no_modifiers_and_no_dma_buf(capsys: pytest.CaptureFixture[str]) -> None:
    device = lavapipe(probe_json(capsys))
    if device["identity"]["mesa_version"] != "22.3.6":
        pytest.skip(f"needs lavapipe of Mesa 22.3.6; this one is {device['identity']['mesa_version']}")
    assert device["key_extensions"]["VK_EXT_image_drm_format_modifier"] == "absent"
    assert device["drm_format_modifiers"] == "absent"
    assert device["pci_bus"] is None
    dma_buf = [r for r in device["external_memory"]["images"] if r["handle_type"] == "DMA_BUF_EXT"]
    assert dma_buf and all(r["status"] == "absent" and r["properties"] is None for r in dma_buf)
    assert {r["tiling"] for r in device["external_memory"]["images"]} == {"OPTIMAL", "LINEAR"}
    assert device["limits"]["min_imported_host_pointer_alignment"] == 4096


def test_device_selector_narrows_the_list(capsys: pytest.CaptureFixture[str]) -> None:
    everything = probe_json(capsys)
    chosen = probe_json(capsys, "--device", "0")
    assert [d["identity"] for d in chosen["devices"]] == [everything["devices"][0]["identity"]]


def test_human_view_names_each_device(capsys: pytest.CaptureFixture[str]) -> None:
    document = probe_json(capsys)
    assert cli.main(["probe"]) == 0
    out = capsys.readouterr().out
    for device in document["devices"]:
        assert device["identity"]["name"] in out
    assert "external memory" in out and "VK_KHR_external_memory_fd" in out


def test_unknown_device_is_one_line_and_exit_2() -> None:
    result = run_vkzc("probe", "--device", "no-such-gpu")
    if result.returncode == 3:
        pytest.skip(f"needs a Vulkan device: {flat(result.stderr)}")
    assert result.returncode == 2, result.stderr
    assert_one_error_line(result.stderr, "--device 'no-such-gpu' matches no Vulkan device")
    assert result.stdout == ""


def test_no_loader_is_one_line_and_exit_3(tmp_path: Path) -> None:
    # A `vulkan` package that fails on import as the real binding does where dlopen("libvulkan.so.1")
    # fails: the machine without a loader, reproduced without uninstalling anything.
    shadow = tmp_path / "vulkan"
    shadow.mkdir()
    (shadow / "__init__.py").write_text(f"raise OSError({NO_LOADER_ERROR!r})\n")
    result = run_vkzc("probe", "--json", pythonpath=[tmp_path])
    assert result.returncode == 3, result.stderr
    assert_one_error_line(result.stderr, "no Vulkan loader (libvulkan.so.1) on this machine")
    assert result.stdout == ""
    # And the help still works there: nothing imports the binding before a command runs.
    assert run_vkzc("probe", "--help", pythonpath=[tmp_path]).returncode == 0

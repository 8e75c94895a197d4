"""The decoder images of the hardware runners (issue 8): which cells get the decode layer and what it
installs; and, marked slow, the Intel and ARM board images themselves, asked inside which hardware
device types and decoders their PyAV offers.

The slow tests build what is missing through vkzc's Builder (over present mesa images, measured
cold on a loaded 2-core machine: about 3 minutes for the Intel image, 17 for the arm64 one under
qemu-user; 35 s for both when they exist) and skip, saying which is missing, without a Docker
engine or, for arm64, without qemu-aarch64 in binfmt_misc. docs/decode-images.md has the figures.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import pytest
from docker_engine import engine_or_skip

from vkzc.images import plan
from vkzc.images.build import Builder
from vkzc.matrix import Cell, load_matrix
from vkzc.runners.container import Container, ContainerSpec

ROOT = Path(__file__).resolve().parent.parent
MATRIX = load_matrix(ROOT / "matrix.yaml")
INTEL = MATRIX.cell("mesa-26.2.6-debian-sid/anv/intel-anv-amd64")
RK3588 = MATRIX.cell("mesa-26.2.6-debian-sid/panvk/rk3588-mali-g610-arm64")
ARM64_DECODER_CELLS = (
    RK3588,
    MATRIX.cell("mesa-26.2.6-debian-sid/v3dv/rpi5-videocore7-arm64"),
    MATRIX.cell("mesa-26.2.6-debian-sid/v3dv/rpi4-videocore6-arm64"),
    MATRIX.cell("mesa-26.2.6-debian-sid/lavapipe/emulated-arm64"),
)
BINFMT = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
SYSTEM_VENV = (("VENV_OPTIONS", "--system-site-packages"),)


# --- the plan -------------------------------------------------------------------------------------


def test_the_intel_cells_get_vaapi_over_their_mesa_image() -> None:
    for cell in (INTEL, MATRIX.cell("mesa-25.0.7-source/anv/intel-anv-amd64")):
        steps = plan.chain(plan.suite_image(cell))
        assert [s.repository for s in steps] == ["vkzc-base", "vkzc-mesa", "vkzc-decode", "vkzc-suite"]
        _, mesa, decode, suite = steps
        assert isinstance(decode, plan.DockerfileImage) and isinstance(suite, plan.DockerfileImage)
        assert decode.key == suite.key == f"{mesa.key}-vaapi"
        assert decode.dockerfile == "decode.Dockerfile" and not decode.carries_vkzc
        assert dict(decode.buildargs)["DECODE_PACKAGES"].split() == [
            "intel-media-va-driver",
            "i965-va-driver",
            "mesa-va-drivers",
            "vainfo",
        ]
        assert suite.buildargs == SYSTEM_VENV


def test_the_boards_and_the_emulated_cell_share_one_v4l2_image() -> None:
    image = plan.suite_image(RK3588)
    assert all(plan.suite_image(cell) == image for cell in ARM64_DECODER_CELLS)
    decode = image.parent
    assert isinstance(decode, plan.DockerfileImage)
    assert decode.key == "mesa-26.2.6-debian-sid-arm64-v4l2"
    assert dict(decode.buildargs) == {"DECODE_PACKAGES": "v4l-utils"}
    assert image.buildargs == SYSTEM_VENV


def test_cells_without_decoders_keep_their_images() -> None:
    for cell in MATRIX.default_cells:
        steps = plan.chain(plan.cell_image(cell))
        assert "vkzc-decode" not in [s.repository for s in steps], cell.identifier
        assert plan.suite_image(cell).buildargs == ()


def test_decode_packages_per_architecture_without_repeats() -> None:
    assert plan.decode_packages(["vaapi"], "arm64") == ("mesa-va-drivers", "vainfo")
    assert plan.decode_packages(["v4l2", "vaapi", "v4l2"], "amd64") == (
        "v4l-utils",
        "intel-media-va-driver",
        "i965-va-driver",
        "mesa-va-drivers",
        "vainfo",
    )


def test_the_content_tags_cover_the_variant() -> None:
    decode = plan.suite_image(INTEL).parent
    assert isinstance(decode, plan.DockerfileImage)
    tag = plan.content_tag(decode, "sha256:mesa")
    assert tag.startswith("vkzc-decode:mesa-26.2.6-debian-sid-amd64-vaapi-")
    fewer = plan.DockerfileImage(**{**decode.__dict__, "buildargs": (("DECODE_PACKAGES", "vainfo"),)})
    assert plan.content_tag(fewer, "sha256:mesa") != tag
    # Over the same parent, the decoder variant's suite layer differs from the plain one by its venv.
    suite = plan.suite_image(INTEL)
    plain = plan.DockerfileImage(**{**suite.__dict__, "buildargs": ()})
    assert plan.content_tag(suite, "sha256:p") != plan.content_tag(plain, "sha256:p")


# --- the images -----------------------------------------------------------------------------------

# What the image's PyAV offers, whose PyAV it is, and what pip says of the `decode` extra's `av`.
_REPORT = """
import glob, json, shutil, subprocess, sys
import av, av.codec.hwaccel
from av.codec import Codec
from vkzc.decode import hwmap
from vkzc.decode.sources import hw_config_missing

def decodes(name):
    try:
        Codec(name, "r")
        return True
    except Exception:
        return False

# VAAPI decodes through FFmpeg's own decoders (a hwaccel); the `*_vaapi` codecs are encoders.
hwaccels = {name: sorted({c.device_type.name for c in Codec(name, "r").hardware_configs})
            for name in ("h264", "hevc", "vp9", "av1")}

# hwmap reads the AVFrame* out of this PyAV's frames and calls this FFmpeg's av_hwframe_map.
frame = av.VideoFrame(1366, 768, "nv12")
head = hwmap._AVFrameHead.from_address(hwmap.frame_pointer(frame))
try:
    with hwmap.drm_prime(frame):
        software_map = "mapped"
except hwmap.HwMapError as e:
    software_map = str(e)

pip = subprocess.run(
    [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--disable-pip-version-check",
     "av>=12"], capture_output=True, text=True)
print(json.dumps({
    "av": av.__version__,
    "av_file": av.__file__,
    "libavcodec": list(av.library_versions["libavcodec"]),
    "hwdevices": list(av.codec.hwaccel.hwdevices_available()),
    "hwaccels": hwaccels,
    "v4l2m2m": sorted(c for c in av.codecs_available if c.endswith("_v4l2m2m") and decodes(c)),
    # Whether they can hand out DRM PRIME frames: upstream's give CPU-mapped ones only.
    "v4l2m2m_hwaccels": sorted({c.device_type.name for n in ("h264_v4l2m2m", "hevc_v4l2m2m")
                                for c in Codec(n, "r").hardware_configs}),
    "va_drivers": sorted(p.rsplit("/", 1)[1] for p in glob.glob("/usr/lib/*/dri/*_drv_video.so")),
    "tools": {t: shutil.which(t) is not None for t in ("vainfo", "v4l2-ctl")},
    # What the hardware sources will find: VAAPI on FFmpeg's own decoders, DRM PRIME from v4l2m2m.
    "config_missing": {"av1/vaapi": hw_config_missing("av1", "vaapi"),
                       "h264_v4l2m2m/drm": hw_config_missing("h264_v4l2m2m", "drm")},
    "hwmap": {"planes": [head.data[i] == p.buffer_ptr for i, p in enumerate(frame.planes)],
              "software_map": software_map},
    "pip": [pip.returncode, pip.stdout.strip()],
}))
"""


def _report(cell: Cell, tmp_path: Path) -> dict[str, Any]:
    """Builds (or finds) the cell's image and runs _REPORT in it as a cell runs: no device, no network."""
    client = engine_or_skip()
    built = Builder(client, tmp_path / "logs").ensure(plan.suite_image(cell))
    results = tmp_path / "results"
    results.mkdir()
    results.chmod(0o777)  # the image's user (uid 1000) writes here when the tests run as root
    spec = ContainerSpec(image=built.tag, command=("python3", "-c", _REPORT), results_dir=results)
    with Container(spec, client=client) as container:
        lines = list(container.logs())
        assert container.wait(timeout=300) == 0, "\n".join(lines)
    report: dict[str, Any] = json.loads(lines[-1])
    print(f"{cell.identifier} ({built.tag}, built: {built.built}, {built.seconds:.0f} s): {report}")
    return report


def _assert_debian_pyav(report: dict[str, Any]) -> None:
    assert report["av_file"].startswith("/usr/lib/python3/dist-packages/"), report["av_file"]
    assert report["hwmap"]["planes"] == [True, True], report["hwmap"]
    assert "(ENOSYS)" in report["hwmap"]["software_map"], report["hwmap"]
    returncode, output = report["pip"]
    assert returncode == 0, output
    assert "Requirement already satisfied: av>=12 in /usr/lib/python3/dist-packages" in output


@pytest.mark.slow
def test_the_intel_image_offers_vaapi(tmp_path: Path) -> None:
    report = _report(INTEL, tmp_path)
    _assert_debian_pyav(report)
    assert {"vaapi", "drm"} <= set(report["hwdevices"])
    assert all("vaapi" in types for types in report["hwaccels"].values()), report["hwaccels"]
    assert {"iHD_drv_video.so", "i965_drv_video.so", "radeonsi_drv_video.so"} <= set(report["va_drivers"])
    assert report["tools"]["vainfo"]
    assert report["config_missing"]["av1/vaapi"] is None


@pytest.mark.slow
def test_the_arm64_board_image_offers_drm_and_v4l2_decoders(tmp_path: Path) -> None:
    if platform.machine() != "aarch64" and not (BINFMT.exists() and BINFMT.read_text().startswith("enabled")):
        pytest.skip(
            "qemu-aarch64 is not registered with binfmt_misc: apt-get install qemu-user-static "
            "binfmt-support; update-binfmts --enable qemu-aarch64 (docs/arm64.md)"
        )
    report = _report(RK3588, tmp_path)
    _assert_debian_pyav(report)
    assert "drm" in report["hwdevices"]
    assert {"h264_v4l2m2m", "hevc_v4l2m2m", "vp9_v4l2m2m"} <= set(report["v4l2m2m"])
    assert report["tools"]["v4l2-ctl"]
    # Upstream's stateful decoders hand out no DRM PRIME frames: the boards' v4l2 source says so.
    assert report["config_missing"]["h264_v4l2m2m/drm"] == (
        "PyAV's FFmpeg here decodes h264_v4l2m2m through no drm device (only: none)"
    )

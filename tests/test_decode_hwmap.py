"""vkzc/decode/hwmap.py on this machine's PyAV: the AVFrame* it reads out of a PyAV frame is the frame's
own (its data and line sizes are the planes PyAV reports), and av_hwframe_map is reached in PyAV's
libavutil, answering a frame it cannot map with FFmpeg's reason; on an NVIDIA GPU the same for a
frame NVDEC decoded. The VAAPI map itself needs a VAAPI device (docs/decode.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vkzc.decode import cuda, hwmap
from vkzc.decode.sources import hw_config_missing, pyav_missing

av = pytest.importorskip("av", reason="PyAV is not installed (pip install 'vkzc[decode]')")


@pytest.mark.parametrize(("fmt", "planes"), [("nv12", 2), ("yuv420p", 3), ("p010le", 2)])
def test_the_frame_pointer_is_the_frames_own(fmt: str, planes: int) -> None:
    frame = av.VideoFrame(1366, 768, fmt)
    head = hwmap._AVFrameHead.from_address(hwmap.frame_pointer(frame))
    assert len(frame.planes) == planes
    for index, plane in enumerate(frame.planes):
        assert head.data[index] == plane.buffer_ptr
        assert head.linesize[index] == plane.line_size
    assert head.data[planes] is None


def test_pixel_formats_are_this_ffmpegs() -> None:
    assert hwmap.pix_fmt("yuv420p") == 0  # the one number FFmpeg has never moved
    assert hwmap.pix_fmt("drm_prime") > 0
    with pytest.raises(hwmap.HwMapError, match="no pixel format 'nv13'"):
        hwmap.pix_fmt("nv13")


def test_a_software_frame_cannot_be_mapped_and_ffmpeg_says_why() -> None:
    frame = av.VideoFrame(64, 64, "nv12")
    failed = r"av_hwframe_map\(nv12 → drm_prime\) failed: .*\(ENOSYS\)"
    with pytest.raises(hwmap.HwMapError, match=failed), hwmap.drm_prime(frame):
        pass


def test_a_pyav_whose_frame_layout_moved_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hwmap, "_FRAME_PTR_OFFSET", hwmap._FRAME_PTR_OFFSET + 8)
    with pytest.raises(hwmap.HwMapError, match=f"PyAV {av.__version__}'s Frame does not hold its AVFrame"):
        hwmap.frame_pointer(av.VideoFrame(64, 64, "nv12"))


def test_a_decoded_cuda_frame_is_found_and_its_refusal_named(tmp_path: Path) -> None:
    """A hardware frame (NVDEC: format cuda, CUDA device pointers in data[]) on the lent NVIDIA GPU."""
    from av.codec.hwaccel import HWAccel

    reason = pyav_missing() or hw_config_missing("h264", "cuda") or cuda.unavailable()
    if reason:
        pytest.skip(reason)
    clip = tmp_path / "h264.mkv"
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 256, 256, "yuv420p"
        for value in (16, 128):
            picture = av.VideoFrame.from_ndarray(np.full((256, 256), value, np.uint8), format="gray")
            out.mux(stream.encode(picture.reformat(format="yuv420p")))
        out.mux(stream.encode())
    hwaccel = HWAccel("cuda", allow_software_fallback=False, is_hw_owned=True)
    with av.open(str(clip), hwaccel=hwaccel) as container:
        frame = next(container.decode(video=0))
        assert frame.format.name == "cuda"
        head = hwmap._AVFrameHead.from_address(hwmap.frame_pointer(frame))
        assert [head.data[i] for i in range(2)] == [plane.buffer_ptr for plane in frame.planes]
        refused = r"av_hwframe_map\(cuda → drm_prime\) failed: "
        with pytest.raises(hwmap.HwMapError, match=refused), hwmap.drm_prime(frame):
            pass

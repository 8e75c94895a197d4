"""vkzc/fixtures: small clips generated, cached by content hash, deterministic, and a manifest that
passes its schema; NV12 / P010 packing of decoded frames is lossless (it agrees with swscale's)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from vkzc.decode.planes import planar, semi_planar
from vkzc.fixtures.catalogue import BY_NAME, CLIPS
from vkzc.fixtures.generate import clip_key, decode, encode, generate
from vkzc.fixtures.manifest import NAME, SCHEMA, Manifest

av = pytest.importorskip("av", reason="PyAV is not installed (pip install 'vkzc[decode]')")

SMALL = [BY_NAME["h264-64x64"], BY_NAME["hevc-main10-64x64"]]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fixtures")
    generate(folder, SMALL, log=lambda line: None)
    return folder


def test_manifest_passes_its_schema(generated: Path) -> None:
    document = json.loads((generated / NAME).read_text())
    jsonschema.validate(document, SCHEMA)
    manifest = Manifest.load(generated)
    main10 = manifest.clip("hevc-main10-64x64")
    assert (main10.profile, main10.pix_fmt, main10.depth) == ("Main 10", "yuv420p10le", 10)
    assert manifest.clip("h264-64x64").frames == len(manifest.clip("h264-64x64").frame_sha256) == 6
    # Moving content: no two frames of a clip decode alike, so a stale frame is caught.
    for clip in manifest.clips:
        assert len(set(clip.frame_sha256)) == clip.frames


def test_cache_reuses_what_is_there(generated: Path) -> None:
    files = {p.name: p.stat().st_mtime_ns for p in generated.glob("*.mkv")}
    seen: list[str] = []
    generate(generated, SMALL, log=seen.append)
    assert seen == []
    assert {p.name: p.stat().st_mtime_ns for p in generated.glob("*.mkv")} == files


def test_clips_are_deterministic() -> None:
    spec = BY_NAME["vp9-64x64"]
    assert encode(spec) == encode(spec)
    assert clip_key(spec) == clip_key(spec)
    assert len({clip_key(c) for c in CLIPS}) == len(CLIPS)


@pytest.mark.parametrize(("name", "packed"), [("h264-64x64", "nv12"), ("hevc-main10-64x64", "p010le")])
def test_semi_planar_is_lossless(generated: Path, name: str, packed: str) -> None:
    """Our interleave equals swscale's NV12 / P010, and undoing it gives back the decoder's samples."""
    clip = Manifest.load(generated).clip(name)
    with av.open(str(generated / clip.file)) as container:
        frame = next(container.decode(video=0))
    ours = semi_planar(frame)
    theirs = frame.reformat(format=packed)
    for index, plane in enumerate((ours.y, ours.uv)):
        sample = ours.sample_bytes
        rows = ours.rows(index)[1]
        raw = np.frombuffer(memoryview(theirs.planes[index]), dtype=np.uint8)
        line = theirs.planes[index].line_size
        want = raw[: line * rows].reshape(rows, line)[:, : ours.width * sample].reshape(-1)
        assert np.array_equal(plane, want), f"plane {index} differs from swscale's {packed}"
    y, u, v = planar(ours)
    original = frame.to_ndarray()  # Y rows, then U rows, then V rows (planar 4:2:0)
    h = frame.height
    assert np.array_equal(y, original[:h])
    assert np.array_equal(u.reshape(-1), original[h : h + h // 4].reshape(-1))
    assert np.array_equal(v.reshape(-1), original[h + h // 4 :].reshape(-1))


def test_decode_is_the_manifest(generated: Path) -> None:
    from vkzc.fixtures.manifest import frame_hash

    clip = Manifest.load(generated).clip("h264-64x64")
    hashes = [frame_hash(f) for _, f in decode(generated / clip.file, clip.decoder)]
    assert tuple(hashes) == clip.frame_sha256


def test_cli_generates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vkzc import cli
    from vkzc.fixtures import command

    # One small clip instead of the catalogue: the command's own work is what is under test.
    monkeypatch.setattr(command, "generate", lambda folder, log: generate(folder, SMALL[:1], log=log))
    assert cli.main(["fixtures", "generate", "--out", str(tmp_path)]) == 0
    assert [c.name for c in Manifest.load(tmp_path).clips] == ["h264-64x64"]


def test_suite_image_carries_pyav_and_the_clips(monkeypatch: pytest.MonkeyPatch) -> None:
    """The wheelhouse fetches PyAV (not vkzc itself, which the bench extra names for its decode extra),
    and the suite layer's content tag moves with the clips' keys."""
    from vkzc.fixtures import generate as module
    from vkzc.images import plan, wheelhouse

    wanted = wheelhouse.dependencies()
    assert "av>=12" in wanted
    assert not [r for r in wanted if r.startswith("vkzc")]
    before = plan.source_digest()
    original = module.clip_key
    monkeypatch.setattr(module, "clip_key", lambda s: "0" * 64 if s == CLIPS[0] else original(s))
    assert plan.source_digest() != before

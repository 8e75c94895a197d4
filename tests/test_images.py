"""Image planning and building: content tags, reuse of unchanged images, failures kept per cell."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from vkzc.images import plan
from vkzc.images.build import Builder, BuildFailed
from vkzc.matrix import load_matrix

MATRIX = load_matrix(Path(__file__).resolve().parent.parent / "matrix.yaml")


def cell(identifier: str):
    return MATRIX.cell(identifier)


def test_a_cell_runs_on_suite_over_mesa_over_base() -> None:
    steps = plan.chain(plan.suite_image(cell("mesa-26.2.6-debian-sid/lavapipe/local-amd64")))
    assert [s.repository for s in steps] == ["vkzc-base", "vkzc-mesa", "vkzc-suite"]
    base, mesa, suite = steps
    assert (base.suite, base.arch) == ("sid", "amd64")
    assert mesa.dockerfile == "mesa-debian.Dockerfile" and dict(mesa.buildargs)["MESA_VERSION"] == "26.2.6-1"
    assert suite.carries_vkzc and not mesa.carries_vkzc


def test_source_build_passes_its_drivers_and_source() -> None:
    mesa = plan.mesa_image(cell("mesa-25.0.7-source/lavapipe/local-amd64").mesa, "amd64")
    args = dict(mesa.buildargs)
    assert mesa.dockerfile == "mesa-source.Dockerfile"
    assert args["VULKAN_DRIVERS"] == "swrast,panfrost,broadcom,intel"
    assert (args["MESA_SOURCE"], args["MESA_DEB_VERSION"]) == ("debian", "25.0.7-2+deb13u1")


def test_drivers_of_one_mesa_build_share_its_images() -> None:
    a = plan.suite_image(cell("mesa-26.2.6-debian-sid/lavapipe/local-amd64"))
    b = plan.suite_image(cell("mesa-26.2.6-debian-sid/panvk/rk3588-mali-g610-arm64"))
    assert a != b and plan.chain(a)[0].suite == plan.chain(b)[0].suite == "sid"
    assert plan.mesa_image(cell("mesa-26.2.6-debian-sid/lavapipe/local-amd64").mesa, "amd64") == a.parent


def test_content_tag_changes_with_content_only() -> None:
    mesa = plan.mesa_image(cell("mesa-26.2.6-debian-sid/lavapipe/local-amd64").mesa, "amd64")
    tag = plan.content_tag(mesa, "sha256:parent")
    assert tag.startswith("vkzc-mesa:mesa-26.2.6-debian-sid-amd64-")
    assert plan.content_tag(mesa, "sha256:parent") == tag
    assert plan.content_tag(mesa, "sha256:other-parent") != tag
    other = plan.DockerfileImage(**{**mesa.__dict__, "buildargs": (("MESA_VERSION", "26.2.5-1"),)})
    assert plan.content_tag(other, "sha256:parent") != tag


def test_source_digest_follows_file_content(tmp_path: Path) -> None:
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "test_x.py").write_text("a")
    before = plan.source_digest(tmp_path, ["suite"])
    (tmp_path / "suite" / "__pycache__").mkdir()
    (tmp_path / "suite" / "__pycache__" / "test_x.pyc").write_bytes(b"cache")
    assert plan.source_digest(tmp_path, ["suite"]) == before
    (tmp_path / "suite" / "test_x.py").write_text("b")
    assert plan.source_digest(tmp_path, ["suite"]) != before


class FakeImages:
    def __init__(self, present: set[str]) -> None:
        self.present = present

    def get(self, tag: str) -> Any:
        if tag not in self.present:
            raise docker.errors.ImageNotFound(tag)
        return type("Image", (), {"id": f"sha256:{abs(hash(tag))}"})()


class FakeApi:
    def __init__(self, images: FakeImages, fail: str | None) -> None:
        self.images = images
        self.fail = fail
        self.built: list[tuple[str, str, dict[str, str]]] = []

    def build(
        self, *, path: str, dockerfile: str, tag: str, buildargs: dict[str, str], **_: Any
    ) -> Iterator[dict]:
        self.built.append((dockerfile, tag, buildargs))
        yield {"stream": "Step 1/2 : FROM base\n"}
        if self.fail and self.fail in tag:
            yield {"error": "E: Version '26.2.6-1' for 'mesa-vulkan-drivers' was not found\n"}
            return
        yield {"stream": "Step 2/2 : RUN apt-get install\n"}
        self.images.present.add(tag)


class FakeClient:
    """What Builder asks of docker.DockerClient: images.get and api.build (bases are present)."""

    def __init__(self, present: set[str], fail: str | None = None) -> None:
        self.images = FakeImages(present)
        self.api = FakeApi(self.images, fail)


def _present_bases() -> set[str]:
    return {
        plan.content_tag(plan.BaseImage(suite=suite, arch="amd64"), None)
        for suite in ("bookworm", "trixie", "sid")
    }


def test_builder_builds_what_is_missing_then_reuses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = FakeClient(_present_bases())
    monkeypatch.setattr(Builder, "_python_version", lambda self, image: "3.13")
    monkeypatch.setattr("vkzc.images.wheelhouse.stage", lambda context, python, arch, log: None)
    steps: list[tuple[str, int, int]] = []
    builder = Builder(client, tmp_path, progress=lambda tag, done, total: steps.append((tag, done, total)))
    suite = plan.suite_image(cell("mesa-26.2.6-debian-sid/lavapipe/local-amd64"))
    first = builder.ensure(suite)
    assert first.built and [b[0] for b in client.api.built] == ["mesa-debian.Dockerfile", "suite.Dockerfile"]
    assert client.api.built[1][2]["BASE"].startswith("vkzc-mesa:mesa-26.2.6-debian-sid-amd64-")
    assert (first.tag, 1, 2) in steps
    again = Builder(client, tmp_path).ensure(suite)
    assert not again.built and again.tag == first.tag and len(client.api.built) == 2


def test_a_failed_build_fails_its_cells_with_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeClient(_present_bases(), fail="mesa-26.2.6-debian-sid")
    monkeypatch.setattr(Builder, "_python_version", lambda self, image: "3.13")
    monkeypatch.setattr("vkzc.images.wheelhouse.stage", lambda context, python, arch, log: None)
    builder = Builder(client, tmp_path)
    with pytest.raises(BuildFailed) as failure:
        builder.ensure(plan.suite_image(cell("mesa-26.2.6-debian-sid/lavapipe/local-amd64")))
    assert "was not found" in failure.value.reason and failure.value.log.read_text().count("Step") == 1
    with pytest.raises(BuildFailed):  # remembered, not retried, for the next cell on that build
        builder.ensure(plan.mesa_image(cell("mesa-26.2.6-debian-sid/lavapipe/local-amd64").mesa, "amd64"))
    assert builder.ensure(plan.suite_image(cell("mesa-25.0.7-debian-trixie/lavapipe/local-amd64"))).built

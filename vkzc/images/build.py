"""Building a cell's images with the Docker SDK, each only when its content tag is missing; a qemu cell's
disk image is made the same way, from its suite image."""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from vkzc.errors import EnvironmentMissing
from vkzc.images import base, disk, wheelhouse
from vkzc.images.plan import (
    IMAGES_DIR,
    BaseImage,
    DiskImage,
    DockerfileImage,
    Image,
    content_tag,
    source_digest,
)

_STEP = re.compile(r"^Step (\d+)/(\d+) :")

# What a progress display is told: the image being built, steps done, steps in all.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, kw_only=True)
class Built:
    tag: str
    image_id: str
    built: bool  # False when the tag already existed
    seconds: float
    log: Path


class BuildFailed(Exception):
    def __init__(self, tag: str, log: Path, reason: str) -> None:
        super().__init__(f"building {tag} failed: {reason} (log: {log})")
        self.tag = tag
        self.log = log
        self.reason = reason


class Builder:
    """Ensures images exist, parents first; remembers what it found or built in this run."""

    def __init__(self, client: Any, logs: Path, *, progress: Progress | None = None) -> None:
        self.client = client
        self.logs = logs
        self.progress = progress or (lambda tag, done, total: None)
        self._done: dict[Image, Built | BuildFailed] = {}

    def ensure(self, image: Image) -> Built:
        known = self._done.get(image)
        if isinstance(known, BuildFailed):
            raise known
        if known is not None:
            return known
        try:
            built = self._ensure(image)
        except BuildFailed as failure:
            self._done[image] = failure
            raise
        self._done[image] = built
        return built

    def _ensure(self, image: Image) -> Built:
        parent = None if isinstance(image, BaseImage) else self.ensure(image.parent)
        extra = source_digest() if isinstance(image, DockerfileImage) and image.carries_vkzc else b""
        tag = content_tag(image, parent.image_id if parent else None, extra)
        log_path = self.logs / f"{tag.replace(':', '_')}.log"
        existing = self._image_id(image, tag)
        if existing:
            return Built(tag=tag, image_id=existing, built=False, seconds=0.0, log=log_path)
        start = time.monotonic()
        self.logs.mkdir(parents=True, exist_ok=True)
        with log_path.open("w", encoding="utf-8") as log:
            try:
                if isinstance(image, BaseImage):
                    self._bootstrap(image, tag, log)
                elif isinstance(image, DiskImage):
                    assert parent is not None
                    disk.make(
                        self.client,
                        parent.tag,
                        tag,
                        lambda line: print(line, file=log, flush=True),
                        lambda done, steps: self.progress(tag, done, steps),
                    )
                else:
                    assert parent is not None
                    self._docker_build(image, tag, parent.tag, log)
            except EnvironmentMissing as e:
                log.write(f"\n{e}\n")
                raise BuildFailed(tag, log_path, str(e)) from None
        image_id = self._image_id(image, tag)
        if image_id is None:
            raise BuildFailed(tag, log_path, "the engine reports no image after the build")
        return Built(tag=tag, image_id=image_id, built=True, seconds=time.monotonic() - start, log=log_path)

    def _image_id(self, image: Image, tag: str) -> str | None:
        """The engine's id of the image; for a disk image, its directory in the cache."""
        import docker.errors

        if isinstance(image, DiskImage):
            found = disk.find(tag)
            return str(found) if found else None
        try:
            return str(self.client.images.get(tag).id)
        except docker.errors.ImageNotFound:
            return None

    def _bootstrap(self, image: BaseImage, tag: str, log: TextIO) -> None:
        import docker.errors

        self.progress(tag, 0, 2)
        with base.bootstrap(
            image.suite, image.arch, image.mirror, lambda line: print(line, file=log)
        ) as archive:
            self.progress(tag, 1, 2)
            # Loaded rather than imported: the image's config must name the tree's architecture.
            loadable = base.image_archive(
                archive, archive.with_name("image.tar"), tag=tag, suite=image.suite, arch=image.arch
            )
            archive.unlink()
            try:
                with loadable.open("rb") as f:
                    self.client.images.load(f)
            except (docker.errors.ImageLoadError, docker.errors.APIError) as e:
                log.write(f"docker load: {e}\n")
                raise BuildFailed(tag, Path(log.name), f"the engine did not load the image: {e}") from None
        self.progress(tag, 2, 2)

    def _docker_build(self, image: DockerfileImage, tag: str, parent: str, log: TextIO) -> None:
        buildargs = {"BASE": parent, **dict(image.buildargs)}
        if image.carries_vkzc:
            with tempfile.TemporaryDirectory(prefix="vkzc-suite-context-") as context:
                python = self._python_version(parent)
                wheelhouse.stage(Path(context), python, image.arch, lambda line: print(line, file=log))
                self._stream(tag, context, image.dockerfile, buildargs, log)
        else:
            self._stream(tag, str(IMAGES_DIR), image.dockerfile, buildargs, log)

    def _stream(
        self, tag: str, context: str, dockerfile: str, buildargs: dict[str, str], log: TextIO
    ) -> None:
        import docker.errors

        try:
            for chunk in self.client.api.build(
                path=context,
                dockerfile=dockerfile,
                tag=tag,
                buildargs=buildargs,
                decode=True,
                rm=True,
                forcerm=True,
            ):
                if "error" in chunk:
                    log.write(chunk["error"] + "\n")
                    raise BuildFailed(tag, Path(log.name), chunk["error"].strip().splitlines()[-1])
                text = chunk.get("stream", "")
                log.write(text)
                step = _STEP.match(text)
                if step:
                    self.progress(tag, int(step.group(1)) - 1, int(step.group(2)))
        except docker.errors.APIError as e:
            raise BuildFailed(tag, Path(log.name), str(e.explanation or e)) from None
        log.flush()

    def _python_version(self, image: str) -> str:
        output = self.client.containers.run(
            image,
            ["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            remove=True,
            network_mode="none",
        )
        return output.decode().strip()

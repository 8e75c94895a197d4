"""One cell's container: least privilege by construction, and always removed afterwards.

The container gets no network, no capabilities, a read-only root, and exactly the device nodes
its runner declares; the only writable host path is the results directory. The Docker SDK is
imported only when a container is made, so that cells and the rest of vkzc never need it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from vkzc.errors import ConfigurationError, EnvironmentMissing

# Where the host's results directory appears inside every container.
RESULTS_DIR = "/results"


class ContainerHandle(Protocol):
    """The part of docker.models.containers.Container that we use."""

    @property
    def id(self) -> str: ...
    def start(self) -> None: ...
    def logs(self, **kwargs: Any) -> Iterator[bytes]: ...
    def wait(self, **kwargs: Any) -> Mapping[str, Any]: ...
    def kill(self) -> None: ...
    def remove(self, **kwargs: Any) -> None: ...


class ContainerCollection(Protocol):
    def create(self, **kwargs: Any) -> ContainerHandle: ...


class DockerClient(Protocol):
    @property
    def containers(self) -> ContainerCollection: ...


@dataclass(frozen=True, kw_only=True)
class ContainerSpec:
    image: str
    command: tuple[str, ...]
    environment: Mapping[str, str] = field(default_factory=dict)
    # uid:gid; root is refused, so a driver bug cannot become a root process on the host's devices.
    user: str = "1000:1000"
    # Host device nodes, passed through at the same path.
    devices: tuple[str, ...] = ()
    # Supplementary groups by number: the container's /etc/group does not know the host's video/render.
    group_add: tuple[int, ...] = ()
    results_dir: Path

    def __post_init__(self) -> None:
        uid = self.user.split(":", 1)[0]
        if uid in ("0", "root", ""):
            raise ConfigurationError(
                f"container user {self.user!r} is root", "give a uid:gid such as 1000:1000"
            )


def spec_to_create_kwargs(spec: ContainerSpec) -> dict[str, Any]:
    """Exactly what `client.containers.create` gets, so tests can check privileges without Docker."""
    return {
        "image": spec.image,
        "command": list(spec.command),
        # A read-only root has no writable home; Mesa's shader cache and Python look under $HOME.
        "environment": {"HOME": "/tmp", **spec.environment},
        "user": spec.user,
        "devices": [f"{device}:{device}:rw" for device in spec.devices],
        "group_add": [str(gid) for gid in spec.group_add],
        # Docker takes a relative path for the name of a volume: bind mounts need it absolute.
        "volumes": {str(spec.results_dir.resolve()): {"bind": RESULTS_DIR, "mode": "rw"}},
        "network_mode": "none",
        "network_disabled": True,
        "cap_drop": ["ALL"],
        "privileged": False,
        "security_opt": ["no-new-privileges"],
        "read_only": True,
        "tmpfs": {"/tmp": "rw,nosuid,nodev"},
    }


def device_gids(devices: Sequence[str]) -> tuple[int, ...]:
    """The host groups owning these device nodes (video, render), for ContainerSpec.group_add."""
    gids: list[int] = []
    for device in devices:
        try:
            gid = os.stat(device).st_gid
        except FileNotFoundError:
            raise EnvironmentMissing(
                f"device node {device} is missing on this machine",
                "check the runner's devices in matrix.yaml",
            ) from None
        if gid not in gids:
            gids.append(gid)
    return tuple(gids)


def docker_client() -> DockerClient:
    try:
        import docker
    except ImportError:
        raise EnvironmentMissing(
            "the Docker SDK for Python is not installed", "pip install 'vkzc[matrix]'"
        ) from None
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as e:
        raise EnvironmentMissing(
            f"no Docker engine is reachable ({e})", "start it with `dockerd &` or `systemctl start docker`"
        ) from None
    return client


class Container:
    """`with Container(spec) as c:` creates and starts it; leaving the block removes it, whatever happened."""

    def __init__(self, spec: ContainerSpec, *, client: DockerClient | None = None) -> None:
        self.spec = spec
        self._client = client
        self._container: ContainerHandle | None = None

    def __enter__(self) -> Container:
        client = self._client or docker_client()  # first: it explains a missing SDK
        import docker.errors

        try:
            self._container = client.containers.create(**spec_to_create_kwargs(self.spec))
        except docker.errors.ImageNotFound:
            raise EnvironmentMissing(
                f"image {self.spec.image} is not there", "build it first (vkzc matrix build)"
            ) from None
        except docker.errors.APIError as e:
            raise EnvironmentMissing(f"docker could not create the container: {e.explanation or e}") from None
        # __exit__ does not run when __enter__ raises, so a failed start cleans up here.
        try:
            self._container.start()
        except BaseException as e:
            self._remove()
            if isinstance(e, docker.errors.APIError):
                raise EnvironmentMissing(
                    f"docker could not start the container: {e.explanation or e}"
                ) from None
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._remove()

    @property
    def id(self) -> str:
        return self._running().id

    def logs(self) -> Iterator[str]:
        """stdout and stderr, interleaved, line by line as they come, until the container exits."""
        buffered = b""
        for chunk in self._running().logs(stream=True, follow=True, stdout=True, stderr=True):
            buffered += chunk
            *lines, buffered = buffered.split(b"\n")
            for line in lines:
                yield line.decode("utf-8", errors="replace")
        if buffered:
            yield buffered.decode("utf-8", errors="replace")

    def wait(self, timeout: float | None = None) -> int:
        """The exit code; past `timeout` seconds the container is killed and TimeoutError raised."""
        import docker.errors
        import requests.exceptions

        container = self._running()
        try:
            result = container.wait(timeout=timeout)
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            # It may have ended between the timeout and the kill.
            with contextlib.suppress(docker.errors.APIError):
                container.kill()
            raise TimeoutError(f"the container ran longer than {timeout} s") from None
        return int(result["StatusCode"])

    def _running(self) -> ContainerHandle:
        if self._container is None:
            raise RuntimeError("use the Container in a `with` block")
        return self._container

    def _remove(self) -> None:
        import docker.errors

        container, self._container = self._container, None
        if container is None:
            return
        # Already gone is fine: removed by hand, or by the engine.
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)

"""The cell container: least privilege in what Docker is asked for, and removal whatever happens."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests.exceptions
from docker_engine import engine_or_skip

from vkzc.errors import ConfigurationError, EnvironmentMissing
from vkzc.runners import RESULTS_DIR, Container, ContainerSpec, device_gids, spec_to_create_kwargs


class FakeContainer:
    id = "fake0"

    def __init__(self, chunks: list[bytes], status: int, wait_error: Exception | None) -> None:
        self.calls: list[str] = []
        self.chunks = chunks
        self.status = status
        self.wait_error = wait_error

    def start(self) -> None:
        self.calls.append("start")

    def logs(self, **kwargs: Any) -> Iterator[bytes]:
        return iter(self.chunks)

    def wait(self, **kwargs: Any) -> Mapping[str, Any]:
        self.calls.append(f"wait(timeout={kwargs.get('timeout')})")
        if self.wait_error:
            raise self.wait_error
        return {"StatusCode": self.status, "Error": None}

    def kill(self) -> None:
        self.calls.append("kill")

    def remove(self, **kwargs: Any) -> None:
        self.calls.append(f"remove(force={kwargs.get('force')})")


class FakeContainers:
    def __init__(self, container: FakeContainer) -> None:
        self.created: list[dict[str, Any]] = []
        self.container = container

    def create(self, **kwargs: Any) -> FakeContainer:
        self.created.append(kwargs)
        return self.container


class FakeClient:
    """Records what a docker.DockerClient would be asked; no engine needed."""

    def __init__(
        self, chunks: list[bytes] | None = None, status: int = 0, wait_error: Exception | None = None
    ) -> None:
        self.container = FakeContainer(chunks or [], status, wait_error)
        self.containers = FakeContainers(self.container)


def make_spec(tmp_path: Path, **changes: Any) -> ContainerSpec:
    fields: dict[str, Any] = {
        "image": "vkzc-mesa:sid",
        "command": ("python3", "-m", "vkzc", "probe"),
        "environment": {"VK_DRIVER_FILES": "/usr/share/vulkan/icd.d/lvp_icd.json"},
        "devices": ("/dev/dri/renderD128", "/dev/dma_heap/system"),
        "group_add": (44, 993),
        "results_dir": tmp_path,
    }
    return ContainerSpec(**{**fields, **changes})


def test_create_kwargs_are_least_privilege(tmp_path: Path) -> None:
    kwargs = spec_to_create_kwargs(make_spec(tmp_path))
    assert kwargs["user"] == "1000:1000"
    assert kwargs["cap_drop"] == ["ALL"]
    assert "cap_add" not in kwargs
    assert kwargs["network_mode"] == "none"
    assert kwargs["network_disabled"] is True
    assert kwargs["read_only"] is True
    assert kwargs["tmpfs"] == {"/tmp": "rw,nosuid,nodev"}
    assert kwargs["privileged"] is False
    assert kwargs["security_opt"] == ["no-new-privileges"]
    assert kwargs["devices"] == [
        "/dev/dri/renderD128:/dev/dri/renderD128:rw",
        "/dev/dma_heap/system:/dev/dma_heap/system:rw",
    ]
    assert kwargs["group_add"] == ["44", "993"]
    # The one host path: the results directory. Nothing reaches the Docker socket.
    assert kwargs["volumes"] == {str(tmp_path): {"bind": RESULTS_DIR, "mode": "rw"}}
    assert "docker.sock" not in json.dumps(kwargs)
    assert not {"pid_mode", "ipc_mode", "userns_mode", "mounts", "binds"} & kwargs.keys()
    assert kwargs["environment"]["VK_DRIVER_FILES"] == "/usr/share/vulkan/icd.d/lvp_icd.json"


def test_no_devices_means_none_passed(tmp_path: Path) -> None:
    kwargs = spec_to_create_kwargs(make_spec(tmp_path, devices=(), group_add=()))
    assert kwargs["devices"] == []
    assert kwargs["group_add"] == []


@pytest.mark.parametrize("user", ["0", "root", "0:0", "root:video"])
def test_root_is_refused(tmp_path: Path, user: str) -> None:
    with pytest.raises(ConfigurationError, match="is root"):
        make_spec(tmp_path, user=user)


def test_container_is_created_with_the_spec_and_removed(tmp_path: Path) -> None:
    client = FakeClient(chunks=[b"first li", b"ne\nsecond\nthi", b"rd"], status=3)
    spec = make_spec(tmp_path)
    with Container(spec, client=client) as container:
        assert container.id == "fake0"
        assert list(container.logs()) == ["first line", "second", "third"]
        assert container.wait(timeout=60) == 3
    assert client.containers.created == [spec_to_create_kwargs(spec)]
    assert client.container.calls == ["start", "wait(timeout=60)", "remove(force=True)"]


@pytest.mark.parametrize("error", [RuntimeError("the body failed"), KeyboardInterrupt()])
def test_container_is_removed_when_the_body_raises(tmp_path: Path, error: BaseException) -> None:
    client = FakeClient()
    with pytest.raises(type(error)), Container(make_spec(tmp_path), client=client):
        raise error
    assert client.container.calls == ["start", "remove(force=True)"]


def test_container_is_removed_when_start_fails(tmp_path: Path) -> None:
    client = FakeClient()

    def failing_start() -> None:
        raise KeyboardInterrupt

    client.container.start = failing_start  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt), Container(make_spec(tmp_path), client=client):
        pytest.fail("the body must not run")
    assert client.container.calls == ["remove(force=True)"]


def test_wait_past_timeout_kills_and_raises(tmp_path: Path) -> None:
    client = FakeClient(wait_error=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(TimeoutError), Container(make_spec(tmp_path), client=client) as container:
        container.wait(timeout=0.1)
    assert client.container.calls == ["start", "wait(timeout=0.1)", "kill", "remove(force=True)"]


def test_device_gids_are_the_host_nodes_groups(tmp_path: Path) -> None:
    node = tmp_path / "renderD128"
    node.touch()
    assert device_gids([str(node), str(node)]) == (node.stat().st_gid,)
    with pytest.raises(EnvironmentMissing, match="missing on this machine"):
        device_gids([str(tmp_path / "renderD129")])


def reachable_docker() -> tuple[Any, str]:
    """A client for a running engine and a vkzc base image on it, or a skip naming what is missing."""
    client = engine_or_skip()
    tags = [tag for image in client.images.list(name="vkzc-base") for tag in image.tags]
    if not tags:
        pytest.skip("no vkzc-base image on this engine (`vkzc matrix build` makes one)")
    return client, tags[0]


def test_real_container_runs_unprivileged_and_is_removed(tmp_path: Path) -> None:
    client, image = reachable_docker()
    spec = ContainerSpec(
        image=image,
        command=("/bin/sh", "-c", "id -u; cat /proc/self/status | grep CapEff"),
        user="1000:1000",
        results_dir=tmp_path,
    )
    with Container(spec, client=client) as container:
        container_id = container.id
        host = client.api.inspect_container(container_id)["HostConfig"]
        lines = list(container.logs())
        assert container.wait(timeout=60) == 0
    assert host["NetworkMode"] == "none" and host["CapDrop"] == ["ALL"]
    assert host["ReadonlyRootfs"] is True and host["Privileged"] is False
    assert host["Binds"] == [f"{tmp_path.resolve()}:/results:rw"] and not host["Devices"]
    assert lines[0] == "1000"
    assert lines[1].split() == ["CapEff:", "0000000000000000"]
    import docker.errors

    with pytest.raises(docker.errors.NotFound):
        client.containers.get(container_id)


def test_the_matrix_runner_asks_for_least_privilege(tmp_path: Path) -> None:
    """What `vkzc matrix run` itself creates for a cell (runners/cell.py), not a hand-made spec."""
    from vkzc.matrix import load_matrix
    from vkzc.runners.cell import DockerLauncher

    cell = load_matrix(Path(__file__).resolve().parent.parent / "matrix.yaml").cell(
        "mesa-26.2.6-debian-sid/lavapipe/local-amd64"
    )
    client = FakeClient(chunks=[b"ok\n"], status=0)
    launcher = DockerLauncher(cell, "vkzc-suite:x", tmp_path, client)
    assert launcher.run(("true",), 60, lambda line: None) == 0
    (kwargs,) = client.containers.created
    assert kwargs["user"] != "0" and not kwargs["user"].startswith("0:")
    assert kwargs["privileged"] is False and kwargs["cap_drop"] == ["ALL"]
    assert kwargs["network_mode"] == "none" and kwargs["network_disabled"] is True
    assert kwargs["read_only"] is True and set(kwargs["tmpfs"]) == {"/tmp"}
    assert kwargs["devices"] == [] and "no-new-privileges" in kwargs["security_opt"]
    assert list(kwargs["volumes"]) == [str(tmp_path.resolve())]
    assert not any("docker.sock" in path for path in kwargs["volumes"])
    assert kwargs["environment"]["VK_DRIVER_FILES"] == "/usr/share/vulkan/icd.d/lvp_icd.json"
    assert client.container.calls[-1] == "remove(force=True)"

"""Where cells run: for now in a Docker container on a machine that has the cell's devices."""

from vkzc.runners.container import (
    RESULTS_DIR,
    Container,
    ContainerSpec,
    DockerClient,
    device_gids,
    docker_client,
    spec_to_create_kwargs,
)

__all__ = [
    "RESULTS_DIR",
    "Container",
    "ContainerSpec",
    "DockerClient",
    "device_gids",
    "docker_client",
    "spec_to_create_kwargs",
]

"""The Docker engine for the harness tests that need a real one: a client, or a skip naming what is
missing (the SDK, or a reachable engine)."""

from __future__ import annotations

from typing import Any

import pytest


def engine_or_skip() -> Any:
    docker = pytest.importorskip("docker", reason="the Docker SDK for Python is not installed")
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as e:
        pytest.skip(f"no Docker engine reachable: {e}")
    return client

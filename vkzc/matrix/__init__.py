"""The test matrix: Mesa builds × drivers × runners as data (matrix.yaml), and the cells chosen from it."""

from pathlib import Path

from vkzc.matrix.load import DEFAULT_FILE, load_matrix, parse_matrix
from vkzc.matrix.model import (
    Cell,
    DebianPackages,
    DebianSource,
    DockerRunner,
    Driver,
    Git,
    Matrix,
    MesaBuild,
    MesaSource,
    QemuRunner,
    Runner,
    SourceBuild,
    Tarball,
)
from vkzc.matrix.select import select

SCHEMA = Path(__file__).with_name("schema.json")

__all__ = [
    "DEFAULT_FILE",
    "SCHEMA",
    "Cell",
    "DebianPackages",
    "DebianSource",
    "DockerRunner",
    "Driver",
    "Git",
    "Matrix",
    "MesaBuild",
    "MesaSource",
    "QemuRunner",
    "Runner",
    "SourceBuild",
    "Tarball",
    "load_matrix",
    "parse_matrix",
    "select",
]

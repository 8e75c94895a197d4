"""Base images bootstrapped from Debian's archive: no registry needed (air-gapped labs have none).

debootstrap makes a minimal root filesystem on the host, it is given our apt settings, and the
Docker engine loads it as a one-layer image whose config names its architecture. Needs root and
debootstrap on the host; a foreign arch also needs qemu-user-static registered with binfmt_misc.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from vkzc.errors import EnvironmentMissing

# Every later apt-get, in every image: no recommends, and an expired Release file tolerated
# (sid's is expired on Debian's archive; harmless elsewhere).
APT_CONF = """Acquire::Check-Valid-Until "false";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
"""
_HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
_QEMU = {"arm64": "qemu-aarch64", "amd64": "qemu-x86_64"}


def sources_list(suite: str, mirror: str) -> str:
    """The suite with its updates and security pockets where Debian has them; deb-src commented
    out for the source builds to enable."""
    if suite == "sid":
        pockets = [f"{mirror} sid main"]
    else:
        security = mirror.rsplit("/", 1)[0] + "/debian-security"
        pockets = [
            f"{mirror} {suite} main",
            f"{mirror} {suite}-updates main",
            f"{security} {suite}-security main",
        ]
    return "".join(f"deb {p}\n# deb-src {p}\n" for p in pockets)


def recipe(suite: str, mirror: str) -> str:
    """Everything that decides what a base image contains, hashed into its tag."""
    return f"debootstrap --variant=minbase {suite} {mirror}\n{sources_list(suite, mirror)}{APT_CONF}"


def check_host(arch: str) -> None:
    if shutil.which("debootstrap") is None:
        raise EnvironmentMissing("debootstrap is not installed", "apt-get install debootstrap")
    host = _HOST_ARCH.get(platform.machine(), platform.machine())
    if arch != host and not Path(f"/proc/sys/fs/binfmt_misc/{_QEMU[arch]}").exists():
        raise EnvironmentMissing(
            f"bootstrapping {arch} on this {host} machine needs qemu-user emulation",
            "apt-get install qemu-user-static binfmt-support (and mount binfmt_misc)",
        )


@contextmanager
def bootstrap(suite: str, arch: str, mirror: str, log: Callable[[str], None]) -> Iterator[Path]:
    """A tar file of a fresh minimal Debian root filesystem, removed on leaving the block."""
    check_host(arch)
    with tempfile.TemporaryDirectory(prefix=f"vkzc-base-{suite}-", dir="/var/tmp") as tmp:
        root = Path(tmp) / "root"
        _run(["debootstrap", f"--arch={arch}", "--variant=minbase", suite, str(root), mirror], log)
        (root / "etc/apt/sources.list").write_text(sources_list(suite, mirror))
        (root / "etc/apt/apt.conf.d/90vkzc").write_text(APT_CONF)
        for leftovers in ("var/lib/apt/lists", "var/cache/apt/archives"):
            for path in (root / leftovers).glob("*"):
                if path.is_file():
                    path.unlink()
        archive = Path(tmp) / "root.tar"
        # GNU tar keeps what a root filesystem needs (numeric owners, device nodes, hard links).
        _run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(archive), "."], log)
        yield archive


def image_config(rootfs: Path, *, suite: str, arch: str, created: str) -> dict[str, object]:
    """The image config of a base: what `docker import` with our changes would write (CMD bash,
    LANG, the suite's label), but with the tree's own architecture. Docker 20.10's import always
    writes the engine's (amd64 here, whatever `--platform` says), and every image built on an arm64
    tree would inherit that wrong label."""
    digest = hashlib.sha256()
    with rootfs.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {
        "architecture": arch,
        **({"variant": "v8"} if arch == "arm64" else {}),
        "os": "linux",
        "created": created,
        "config": {"Cmd": ["/bin/bash"], "Env": ["LANG=C.UTF-8"], "Labels": {"org.vkzc.suite": suite}},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest.hexdigest()}"]},
        "history": [
            {"created": created, "created_by": f"debootstrap --arch={arch} --variant=minbase {suite}"}
        ],
    }


def image_archive(rootfs: Path, out: Path, *, tag: str, suite: str, arch: str) -> Path:
    """`rootfs` (a tar of the tree) as `docker load` takes an image: manifest.json, the config, the layer."""
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    config = json.dumps(image_config(rootfs, suite=suite, arch=arch, created=created)).encode()
    manifest = json.dumps([{"Config": "config.json", "RepoTags": [tag], "Layers": ["layer.tar"]}]).encode()
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in (("manifest.json", manifest), ("config.json", config)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        archive.add(rootfs, arcname="layer.tar")
    return out


def _run(command: list[str], log: Callable[[str], None]) -> None:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        log(line.rstrip())
    if process.wait() != 0:
        raise EnvironmentMissing(
            f"`{' '.join(command[:3])} …` failed (exit {process.returncode})", "see the build log"
        )

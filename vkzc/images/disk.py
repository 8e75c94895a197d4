"""A qemu cell's disk: its suite image's root filesystem made into an ext4 image, nothing mounted.

`docker export` (through the SDK) streams the image's files into `tar -x` under a scratch
directory, the kernel and initrd are moved out of its /boot to sit beside the disk (QEMU loads
them itself), and `mke2fs -d` writes the tree into a file-system image. `docker export` drops the
image's config, so its ENV and WORKDIR are kept in guest.json for the guest's init to restore.

The result is a directory in vkzc's cache named after the disk's content tag, renamed into place
only when complete. Like the engine's images, older disks are never removed by vkzc: another run
may be booting one (docs/qemu-runner.md says how to clear them). Needs root: the tree must keep the
image's owners and device nodes for mke2fs to copy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vkzc.errors import EnvironmentMissing

CACHE = Path.home() / ".cache" / "vkzc" / "disks"
GUEST_FILE = "guest.json"
# No journal: the guest mounts the disk read-only, and the journal would be 64 MiB of it.
_MKE2FS = ("mke2fs", "-q", "-t", "ext4", "-O", "^has_journal", "-L", "vkzc-root")
_MIB = 1 << 20
# Everything that decides what a disk holds besides its image: hashed into the disk's tag.
RECIPE = (
    "docker export | tar -x --numeric-owner -C ROOT; mv ROOT/boot/vmlinuz-* ROOT/boot/initrd.img-* .; "
    f"{' '.join(_MKE2FS)} -d ROOT root.img 2*tree+256MiB; guest.json: Config.Env, Config.WorkingDir"
)

Log = Callable[[str], None]
Steps = Callable[[int, int], None]


@dataclass(frozen=True, kw_only=True)
class GuestFiles:
    """What a qemu cell boots, as `make` left it in the cache."""

    disk: Path
    kernel: Path
    initrd: Path
    kernel_release: str
    # The image's ENV, in its order, and WORKDIR.
    environment: tuple[tuple[str, str], ...]
    workdir: str


def directory(tag: str) -> Path:
    return CACHE / tag.replace(":", "_")


def find(tag: str) -> Path | None:
    """The disk's directory if it was made whole (guest.json is written last)."""
    path = directory(tag)
    return path if (path / GUEST_FILE).is_file() else None


def load(path: Path) -> GuestFiles:
    raw = json.loads((path / GUEST_FILE).read_text(encoding="utf-8"))
    return GuestFiles(
        disk=path / raw["disk"],
        kernel=path / raw["kernel"],
        initrd=path / raw["initrd"],
        kernel_release=raw["kernel_release"],
        environment=tuple((name, value) for name, value in raw["environment"]),
        workdir=raw["workdir"],
    )


def disk_size(tree_bytes: int) -> int:
    """Bytes for a file system that holds a tree of `tree_bytes`, in whole MiB. The image file is
    sparse, so the generous headroom (inode tables, block groups, small files' last blocks) costs
    the host nothing; too little would fail mke2fs."""
    return -(-(2 * tree_bytes + 256 * _MIB) // _MIB) * _MIB


def tree_bytes(root: Path) -> int:
    """The size of a tree's files, each rounded up to a 4 KiB block, hard links counted once."""
    seen: set[int] = set()
    total = 0
    for top, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            info = os.lstat(os.path.join(top, name))
            if info.st_ino in seen:
                continue
            seen.add(info.st_ino)
            total += -(-info.st_size // 4096) * 4096
    return total


def make(client: Any, image: str, tag: str, log: Log, steps: Steps) -> Path:
    """The disk `tag` of `image` in the cache, made now."""
    if os.geteuid() != 0:
        raise EnvironmentMissing(
            "making a VM disk image needs root (the root filesystem must keep its owners)", "run as root"
        )
    if shutil.which(_MKE2FS[0]) is None:
        raise EnvironmentMissing("mke2fs is not installed", "apt-get install e2fsprogs")
    CACHE.mkdir(parents=True, exist_ok=True)
    final = directory(tag)
    # In the cache itself, so that the finished directory is renamed into place, never copied.
    with tempfile.TemporaryDirectory(prefix=".making-", dir=CACHE) as scratch:
        root, out = Path(scratch) / "root", Path(scratch) / "out"
        root.mkdir()
        out.mkdir()
        steps(0, 3)
        _export(client, image, root, log)
        steps(1, 3)
        release = _take_boot_files(root, out)
        _mke2fs(root, out / "root.img", log)
        steps(2, 3)
        config = client.images.get(image).attrs["Config"]
        guest = {
            "disk": "root.img",
            "kernel": "vmlinuz",
            "initrd": "initrd.img",
            "kernel_release": release,
            "environment": [entry.split("=", 1) for entry in config.get("Env") or ()],
            "workdir": config.get("WorkingDir") or "/",
        }
        (out / GUEST_FILE).write_text(json.dumps(guest, indent=2) + "\n", encoding="utf-8")
        try:
            out.rename(final)
        except OSError:
            if find(tag) is None:
                raise
            # Another vkzc made the same disk meanwhile: theirs is as good.
    steps(3, 3)
    return final


def _export(client: Any, image: str, root: Path, log: Log) -> None:
    import docker.errors

    start = time.monotonic()
    errors = root.parent / "tar.log"
    # GNU tar keeps what a root filesystem needs (numeric owners, device nodes, hard links).
    with errors.open("wb") as err:
        tar = subprocess.Popen(
            ["tar", "-x", "--numeric-owner", "-C", str(root), "-f", "-"], stdin=subprocess.PIPE, stderr=err
        )
    assert tar.stdin is not None
    container = None
    try:
        # An imported base image has no CMD, and create() wants a command: it never runs.
        container = client.containers.create(image, command=["/bin/true"], network_disabled=True)
        for chunk in container.export(chunk_size=_MIB):
            tar.stdin.write(chunk)
    except BrokenPipeError:
        pass  # tar stopped reading: its status and message say why
    except docker.errors.APIError as e:
        tar.kill()
        tar.wait()
        raise EnvironmentMissing(f"docker export of {image} failed: {e.explanation or e}") from None
    finally:
        tar.stdin.close()
        if container is not None:
            container.remove(force=True)
    if tar.wait() != 0:
        log(errors.read_text(errors="replace"))
        raise EnvironmentMissing(f"unpacking `docker export` of {image} failed (tar exit {tar.returncode})")
    log(f"docker export of {image} unpacked in {time.monotonic() - start:.1f} s")


_BOOT_FILE = re.compile(r"(vmlinuz|initrd\.img)-(.+)")


def _take_boot_files(root: Path, out: Path) -> str:
    """Moves the one kernel and its initrd out of the tree; returns the kernel's release."""
    found: dict[str, list[tuple[str, Path]]] = {"vmlinuz": [], "initrd.img": []}
    for path in (root / "boot").iterdir():
        match = _BOOT_FILE.fullmatch(path.name)
        if match:
            found[match.group(1)].append((match.group(2), path))
    kernels, initrds = found["vmlinuz"], found["initrd.img"]
    if len(kernels) != 1 or [r for r, _ in initrds] != [kernels[0][0]]:
        raise EnvironmentMissing(
            f"the image's /boot should hold one kernel and its initrd: {sorted(os.listdir(root / 'boot'))}",
            "see images/vm.Dockerfile",
        )
    release = kernels[0][0]
    shutil.move(kernels[0][1], out / "vmlinuz")
    shutil.move(initrds[0][1], out / "initrd.img")
    return release


def _mke2fs(root: Path, image: Path, log: Log) -> None:
    start = time.monotonic()
    tree = tree_bytes(root)
    command = [*_MKE2FS, "-d", str(root), str(image), f"{disk_size(tree) // _MIB}M"]
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log(done.stdout.strip())
    if done.returncode != 0:
        raise EnvironmentMissing(f"mke2fs failed (exit {done.returncode})", "see the build log")
    log(f"{' '.join(command)} ({tree // _MIB} MiB of files): {time.monotonic() - start:.1f} s")

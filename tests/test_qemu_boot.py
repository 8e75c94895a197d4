"""The qemu cell's VM for real, from the newest disk made for it: `vkzc probe` in it, a screendump
through the host service, a kernel panic and a hang.

Needs qemu-system-x86_64 and a disk in vkzc's cache (`vkzc matrix build --select
'mesa-26.2.6-debian-sid/lavapipe/qemu-amd64'` makes one); skipped otherwise. Four boots: about
45 s under TCG on an idle 2-core machine, 80 s on a busy one.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from vkzc.images import disk, plan
from vkzc.matrix import load_matrix
from vkzc.runners import guest, qemu
from vkzc.runners.qemu import QEMU, QemuLauncher

ROOT = Path(__file__).resolve().parent.parent
CELL = load_matrix(ROOT / "matrix.yaml").cell("mesa-26.2.6-debian-sid/lavapipe/qemu-amd64")
# The nodes the runner declares, which the guest's init has handed to the user.
CHECK = (
    'for node in "$@"; do [ -r "$node" ] && [ -w "$node" ] || { echo "no access to $node"; exit 9; }; done'
)


def newest_disk() -> Path | None:
    made = plan.cell_image(CELL)
    disks = [d for d in disk.CACHE.glob(f"{made.repository}_{made.key}-*") if (d / disk.GUEST_FILE).is_file()]
    return max(disks, key=lambda d: (d / disk.GUEST_FILE).stat().st_mtime, default=None)


@pytest.mark.slow
def test_the_vm_boots_and_sid_lavapipe_exports_dma_bufs_there(tmp_path: Path) -> None:
    if shutil.which(QEMU) is None:
        pytest.skip(f"{QEMU} is not installed (apt-get install qemu-system-x86)")
    found = newest_disk()
    if found is None:
        pytest.skip(f"no disk for {CELL.identifier} in {disk.CACHE}: vkzc matrix build makes it")
    tmp_path.chmod(0o777)  # the guest's user writes here, as into results/<cell-id>/
    launcher = QemuLauncher(CELL, disk.load(found), tmp_path)
    lines: list[str] = []
    probe = f"{CHECK}; exec python3 -m vkzc probe --json > /results/probe.json"
    start = time.monotonic()
    code = launcher.run(("sh", "-c", probe, "check", *CELL.devices), 120, lines.append)
    assert code == 0, "\n".join(lines)
    assert time.monotonic() - start < 90
    assert any(line.startswith("vkzc-qemu: booted in ") for line in lines)
    device = json.loads((tmp_path / "probe.json").read_text())["devices"][0]
    assert device["identity"]["name"].startswith("llvmpipe")
    extensions = device["key_extensions"]
    assert extensions["VK_EXT_external_memory_dma_buf"] == "present"
    assert extensions["VK_EXT_image_drm_format_modifier"] == "present"
    kernel_log = (tmp_path / "kernel.log").read_text()
    assert "Linux version" in kernel_log and "Initialized vgem" in kernel_log
    assert "Initialized virtio_gpu" in kernel_log and "Kernel panic" not in kernel_log


@pytest.mark.slow
def test_a_real_guest_panic_and_a_real_hang(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which(QEMU) is None:
        pytest.skip(f"{QEMU} is not installed (apt-get install qemu-system-x86)")
    found = newest_disk()
    if found is None:
        pytest.skip(f"no disk for {CELL.identifier} in {disk.CACHE}: vkzc matrix build makes it")
    tmp_path.chmod(0o777)
    launcher = QemuLauncher(CELL, disk.load(found), tmp_path)

    # Only root may crash the kernel on purpose: PID 1's script does it instead of the command.
    def crashing(job: guest.GuestJob) -> str:
        script = guest.guest_init_script(job)
        return script.replace('finish "$?"', "echo c > /proc/sysrq-trigger")

    monkeypatch.setattr(qemu, "guest_init_script", crashing)
    lines: list[str] = []
    assert launcher.run(("true",), 60, lines.append) == qemu.GUEST_PANIC
    assert lines[-1] == "vkzc: guest kernel panic"
    assert "Kernel panic - not syncing: sysrq triggered crash" in (tmp_path / "kernel.log").read_text()

    monkeypatch.undo()
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="ran longer than 2 s"):
        launcher.run(("sleep", "600"), 2, lines.append)
    assert time.monotonic() - start < 60


@pytest.mark.slow
def test_the_guest_reads_its_screen_through_the_host_service(tmp_path: Path) -> None:
    """The kernel's fbdev console has set virtio-gpu's default mode (QEMU's 1280x800) at boot: the
    screendump the guest asks for is that screen, written into the results folder and readable by
    the guest's user."""
    if shutil.which(QEMU) is None:
        pytest.skip(f"{QEMU} is not installed (apt-get install qemu-system-x86)")
    found = newest_disk()
    if found is None:
        pytest.skip(f"no disk for {CELL.identifier} in {disk.CACHE}: vkzc matrix build makes it")
    tmp_path.chmod(0o777)
    launcher = QemuLauncher(CELL, disk.load(found), tmp_path)
    lines: list[str] = []
    ask = (
        "from vkzc.runners import host_service; from vkzc.conformance.scanout import read_ppm; "
        "s = read_ppm(host_service.screendump('boot-check')); print('guest saw', s.width, s.height)"
    )
    assert launcher.run(("python3", "-c", ask), 120, lines.append) == 0, "\n".join(lines)
    assert "guest saw 1280 800" in lines
    assert (tmp_path / "screendumps" / "boot-check.ppm").read_bytes().startswith(b"P6\n1280 800\n255\n")
    assert any(line.startswith("vkzc-qemu: screendump screendumps/boot-check.ppm (") for line in lines)

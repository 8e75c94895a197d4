"""The qemu runner: a cell's commands run in a VM booting Debian's kernel, so that they meet a real
kernel's dma-buf exporters (udmabuf, dma-heaps, vgem, virtio-gpu), which our machines' kernel lacks.

Each `QemuLauncher.run` boots the cell's disk image afresh with KVM where KVM works, TCG otherwise,
and the guest's PID 1 runs that one command (vkzc/runners/guest.py). The root disk is read-only,
so no boot can spoil the next. Between host and guest:

* results: results/<cell-id>/ is shared with 9p (virtio) at /results without guest caching:
  each write, and the plugin's fsync after each case, is in the host's file when it returns, so
  everything finished before a guest crash is kept;
* the command's output: a virtio-serial port on QEMU's stdout, line by line to `on_line`;
* the kernel's console: the first serial port, which QEMU itself appends to
  results/<cell-id>/kernel.log, so a dying kernel's last words are there too;
* the exit status: a file the guest writes into the per-boot job share before it powers off;
* the host service (vkzc/runners/host_service.py): a second virtio-serial port, a unix socket the
  host serves, on which the suite asks for screendumps that the host takes through QEMU's monitor
  (QMP, a second unix socket) into results/<cell-id>/screendumps/.

A kernel panic (every oops is one: oops=panic) ends QEMU at once (panic=-1, -no-reboot): `run`
says "vkzc: guest kernel panic" and returns GUEST_PANIC. A VM that stops answering meets the time
limit, counted from the command's start (the boot has its own): QEMU is killed and TimeoutError
raised, as any launcher does.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vkzc.conformance.exits import GUEST_LOST, GUEST_PANIC
from vkzc.errors import EnvironmentMissing
from vkzc.images.disk import GuestFiles
from vkzc.matrix.model import Cell, QemuRunner
from vkzc.runners.cell import SUITE_IN_IMAGE, OnLine, cell_environment
from vkzc.runners.container import RESULTS_DIR
from vkzc.runners.guest import OUTPUT_PORT, STARTED, STATUS_FILE, GuestJob, guest_init_script
from vkzc.runners.host_service import ENVIRONMENT, SERVICE_PORT, HostService

Accel = Literal["kvm", "tcg"]

# Exit statuses of `run` when the guest could not report one (above any shell's 128+signal).
PANIC_LINE = "vkzc: guest kernel panic"
# From QEMU's start to the command's; TCG boots in 7 to 27 s on our 2-core machines (idle to busy).
BOOT_TIMEOUT_S = 180
KVM_PROBE_TIMEOUT_S = 15
QEMU = "qemu-system-x86_64"
# 9p mount tags; images/vm.Dockerfile's vkzc-vm-init mounts the job share.
JOB_TAG = "vkzc-job"
RESULTS_TAG = "vkzc-results"
KERNEL_ARGUMENTS = (
    "console=ttyS0",
    "root=/dev/vda",
    "ro",
    "rootfstype=ext4",
    "fsck.mode=skip",  # read-only, and fresh from mke2fs
    "init=/usr/local/sbin/vkzc-vm-init",
    "panic=-1",  # reboot at once, which -no-reboot turns into QEMU's exit
    "oops=panic",  # a kernel that oopsed cannot be trusted with the rest of the run
)
# The uid the suite image's user has (suite.Dockerfile's VKZC_UID).
_IMAGE_UID = 1000
# QEMU's id of the virtio-gpu device: the display the host service's screendumps read.
DISPLAY_ID = "vkzc-gpu"


@dataclass(frozen=True, kw_only=True)
class VmSpec:
    """One boot: everything its QEMU command line is made from."""

    guest: GuestFiles
    accel: Accel
    memory_mib: int
    cpus: int
    virtio_gpu: bool
    job_dir: Path
    results_dir: Path
    kernel_log: Path
    # Unix sockets the host listens on and QEMU connects to: its QMP monitor, the service port.
    monitor_socket: Path
    service_socket: Path


def _value(path: Path) -> str:
    """A path inside a QEMU option list, where a comma is written twice."""
    return str(path.resolve()).replace(",", ",,")


def qemu_command(spec: VmSpec) -> tuple[str, ...]:
    if spec.accel == "kvm":
        accel = ("-accel", "kvm", "-cpu", "host")
    else:
        accel = ("-accel", "tcg,thread=multi", "-cpu", "max")
    shares: list[str] = []
    for tag, path in ((JOB_TAG, spec.job_dir), (RESULTS_TAG, spec.results_dir)):
        # mapped-xattr keeps the guest's owners in xattrs, so that the guest sees the files it makes
        # as its user's, whoever runs QEMU; the host's files are QEMU's user's, readable by all
        # (-virtfs would drop fmode and dmode).
        shares += [
            "-fsdev",
            f"local,id={tag},path={_value(path)},security_model=mapped-xattr,fmode=0644,dmode=0755",
            "-device",
            f"virtio-9p-pci,fsdev={tag},mount_tag={tag}",
        ]
    return (
        QEMU,
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
        *accel,
        "-m",
        str(spec.memory_mib),
        "-smp",
        str(spec.cpus),
        "-kernel",
        _value(spec.guest.kernel),
        "-initrd",
        _value(spec.guest.initrd),
        "-append",
        " ".join(KERNEL_ARGUMENTS),
        "-drive",
        f"file={_value(spec.guest.disk)},format=raw,if=virtio,readonly=on",
        "-chardev",
        f"file,id=console,path={_value(spec.kernel_log)},append=on",
        "-serial",
        "chardev:console",
        "-device",
        "virtio-serial-pci",
        # Output only: a stdio chardev takes its stdin's end for the host closing the port, and
        # then the guest's writes wait for ever.
        "-chardev",
        "file,id=output,path=/dev/stdout",
        "-device",
        f"virtserialport,chardev=output,name={OUTPUT_PORT}",
        # The host service: QEMU is the client of both sockets, which the host listens on before
        # QEMU starts (vkzc/runners/host_service.py).
        "-chardev",
        f"socket,id=service,path={_value(spec.service_socket)}",
        "-device",
        f"virtserialport,chardev=service,name={SERVICE_PORT}",
        "-chardev",
        f"socket,id=monitor,path={_value(spec.monitor_socket)}",
        "-mon",
        "chardev=monitor,mode=control",
        *shares,
        # -display none still gives the device its console, which screendump reads.
        *(("-device", f"virtio-gpu-pci,id={DISPLAY_ID}") if spec.virtio_gpu else ()),
    )


@functools.cache
def accelerator(kernel: Path) -> Accel:
    """KVM when it runs this kernel here, else TCG. /dev/kvm opening is not enough: nested KVM
    opens, then fails the guest's first instruction it cannot emulate ("KVM internal error")."""
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError:
        return "tcg"
    # No disk and no initrd: the kernel starts, panics on the missing root, and QEMU exits.
    probe = (
        QEMU,
        "-nodefaults",
        "-display",
        "none",
        "-no-reboot",
        "-accel",
        "kvm",
        "-cpu",
        "host",
        "-m",
        "256",
        "-kernel",
        str(kernel),
        "-append",
        "console=ttyS0 panic=-1",
        "-serial",
        "stdio",
    )
    try:
        done = subprocess.run(
            probe, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=KVM_PROBE_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return "tcg"
    return "kvm" if done.returncode == 0 and "Kernel panic" in done.stdout else "tcg"


def _guest_user() -> tuple[int, int]:
    """As DockerLauncher's containers: the caller's uid:gid, or the image's user for root."""
    uid, gid = os.geteuid(), os.getegid()
    return (_IMAGE_UID, _IMAGE_UID) if uid == 0 else (uid, gid)


class QemuLauncher:
    results = RESULTS_DIR
    suite = SUITE_IN_IMAGE
    python = "python3"

    def __init__(self, cell: Cell, guest: GuestFiles, directory: Path) -> None:
        if not isinstance(cell.runner, QemuRunner):
            raise TypeError(f"{cell.identifier} is not a qemu cell")
        if shutil.which(QEMU) is None:
            raise EnvironmentMissing(f"{QEMU} is not installed", "apt-get install qemu-system-x86")
        self.cell = cell
        self.runner = cell.runner
        self.guest = guest
        self.directory = directory
        self.kernel_log = directory / "kernel.log"
        self._boots = 0

    def job(self, command: tuple[str, ...]) -> GuestJob:
        uid, gid = _guest_user()
        environment = {
            **dict(self.guest.environment),
            # The root is read-only; Mesa's shader cache and Python look under $HOME.
            "HOME": "/tmp",
            **cell_environment(self.cell),
            ENVIRONMENT: SERVICE_PORT,
        }
        return GuestJob(
            command=command,
            environment=tuple(environment.items()),
            uid=uid,
            gid=gid,
            workdir=self.guest.workdir,
            modules=self.runner.modules + (("virtio_gpu",) if self.runner.virtio_gpu else ()),
            devices=self.runner.devices,
            results_tag=RESULTS_TAG,
            results_dir=self.results,
            service_port=SERVICE_PORT,
        )

    def run(self, command: tuple[str, ...], limit: float, on_line: OnLine) -> int:
        accel = accelerator(self.guest.kernel)
        self._boots += 1
        lock = threading.Lock()

        def logged(line: str) -> None:
            # The output pump and the host service both report.
            with lock:
                on_line(line)

        # The sockets apart from the job share, which the guest sees; unix socket paths are short.
        with (
            tempfile.TemporaryDirectory(prefix="vkzc-vm-job-") as job_dir,
            tempfile.TemporaryDirectory(prefix="vkzc-vm-") as socket_dir,
            HostService(
                Path(socket_dir),
                results_dir=self.directory,
                guest_results=self.results,
                display=DISPLAY_ID if self.runner.virtio_gpu else None,
                on_line=logged,
            ) as service,
        ):
            job = Path(job_dir)
            (job / "init").write_text(guest_init_script(self.job(command)), encoding="utf-8")
            spec = VmSpec(
                guest=self.guest,
                accel=accel,
                memory_mib=self.runner.memory_mib,
                cpus=self.runner.cpus,
                virtio_gpu=self.runner.virtio_gpu,
                job_dir=job,
                results_dir=self.directory,
                kernel_log=self.kernel_log,
                monitor_socket=service.monitor_socket,
                service_socket=service.service_socket,
            )
            with self.kernel_log.open("a", encoding="utf-8") as log:
                boot = f"boot {self._boots}, Linux {self.guest.kernel_release} ({accel})"
                log.write(f"--- vkzc: {boot}: {shlex.join(command)}\n")
                offset = log.tell()
            code = _boot(spec, limit, logged)
            status = _status(job / STATUS_FILE)
            if status is not None:
                return status
        with self.kernel_log.open("rb") as kernel_log:
            kernel_log.seek(offset)
            console = kernel_log.read()
        if b"Kernel panic" in console:
            on_line(PANIC_LINE)
            return GUEST_PANIC
        on_line(f"vkzc: the VM stopped without an exit status (QEMU exited with {code})")
        return GUEST_LOST


def _status(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):  # none, or cut short
        return None


class _Started:
    """When the guest said the command started (the pump thread sets it)."""

    def __init__(self) -> None:
        self.at: float | None = None


def _boot(spec: VmSpec, limit: float, on_line: OnLine) -> int:
    """QEMU's exit status; TimeoutError past the boot's or the command's time limit."""
    launched = time.monotonic()
    started = _Started()
    process = subprocess.Popen(
        qemu_command(spec),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    output = process.stdout

    def pump() -> None:
        # Read beside the wait, so that a hung guest still meets its time limit.
        for raw in output:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            if line == STARTED and started.at is None:
                started.at = time.monotonic()
                on_line(
                    f"vkzc-qemu: booted in {started.at - launched:.1f} s ({spec.accel}, {spec.cpus} CPUs)"
                )
            else:
                on_line(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        while True:
            try:
                return process.wait(timeout=0.25)
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if started.at is None and now - launched > BOOT_TIMEOUT_S:
                raise TimeoutError(f"the VM did not start the command within {BOOT_TIMEOUT_S} s")
            if started.at is not None and now - started.at > limit:
                raise TimeoutError(f"the cell ran longer than {limit} s")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        reader.join(timeout=10)

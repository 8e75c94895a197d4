"""The script that PID 1 of a qemu cell's VM runs: one command, then power off with its status.

The image's /usr/local/sbin/vkzc-vm-init (images/vm.Dockerfile) mounts the host's per-boot job
share and runs the `init` the host wrote there, made by `guest_init_script`. It mounts what the
read-only root lacks, loads the runner's modules (no udev runs to load them), mounts the results
share, hands the runner's device nodes to the cell's user, runs the command as that user with
the cell's environment, writes the exit status into the job share and powers the VM off.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

# What the host reads in the job share after QEMU has ended.
STATUS_FILE = "status"
# The virtio-serial port the command's output goes to (QEMU's stdout on the host).
OUTPUT_PORT = "vkzc.output"
# Printed on the output port just before the command starts: the host's boot clock stops there.
STARTED = "vkzc-guest: command started"
# Exit status when the guest itself lacks something (vkzc's code for a missing piece).
GUEST_SETUP_FAILED = 3
# Where vkzc-vm-init (images/vm.Dockerfile) mounts the job share, which holds this script.
JOB_MOUNT = "/run/vkzc-job"
# 9p's default of 8 KiB messages makes every results write several round trips.
NINE_P_OPTIONS = "trans=virtio,version=9p2000.L,msize=262144,cache=none"

# (file system, mount point, options): what a container cell also gets. The root is mounted
# read-only, as a container's is: the user can write in /tmp, /dev/shm and /results only.
_MOUNTS = (
    ("proc", "/proc", "nosuid,nodev,noexec"),
    ("sysfs", "/sys", "nosuid,nodev,noexec"),
    ("devtmpfs", "/dev", "nosuid"),
    ("tmpfs", "/dev/shm", "nosuid,nodev"),
    ("tmpfs", "/tmp", "nosuid,nodev"),
)
# The group that gets the runner's device nodes; the suite image's user is in it.
_DEVICE_GROUP = "render"


@dataclass(frozen=True, kw_only=True)
class GuestJob:
    """One command in the guest and everything it runs with."""

    command: tuple[str, ...]
    # The complete environment, in order; nothing of PID 1's leaks in.
    environment: tuple[tuple[str, str], ...]
    uid: int
    gid: int
    workdir: str
    modules: tuple[str, ...]
    devices: tuple[str, ...]
    # The 9p mount tag of the results share, and where the command sees it.
    results_tag: str
    results_dir: str
    # The virtio-serial port of the host service (vkzc/runners/host_service.py), handed to the user.
    service_port: str | None = None


def guest_init_script(job: GuestJob) -> str:
    q = shlex.quote
    lines = [
        "#!/bin/sh",
        "# PID 1's script for one command in a vkzc VM, written by vkzc/runners/guest.py. Its output",
        f"# and the command's go to the host's run.log (port {OUTPUT_PORT}); the kernel's console to",
        "# kernel.log.",
        "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "finish() {",
        f'    echo "$1" > {JOB_MOUNT}/{STATUS_FILE}',
        "    sync",
        "    # PID 1 must not exit (the kernel would panic): the reboot system call powers off at once.",
        "    exec python3 -c 'import ctypes; ctypes.CDLL(None).reboot(0x4321FEDC)'",
        "}",
        "fail() {",
        '    echo "vkzc-guest: $1"',
        f"    finish {GUEST_SETUP_FAILED}",
        "}",
    ]
    for fstype, point, options in _MOUNTS:
        mount = f"mkdir -p {point} && mount -t {fstype} -o {options} {fstype} {point}"
        lines.append(f"mountpoint -q {point} || {{ {mount}; }} || fail {q(f'cannot mount {point}')}")
    # Until here, messages go to the kernel's console. The output port is found by its name, as
    # udev would (no udev runs here); unlike a console it is no tty, so that programs write to it as
    # to a container's log: no colours, no line-discipline.
    lines += [
        "output=",
        "for port in /sys/class/virtio-ports/*; do",
        f'    [ "$(cat "$port/name")" = {OUTPUT_PORT} ] && output="/dev/${{port##*/}}"',
        "done",
        f'[ -n "$output" ] || fail {q(f"no virtio port named {OUTPUT_PORT}")}',
        'exec >"$output" 2>&1',
    ]
    lines += [f"modprobe {q(module)} || fail {q(f'cannot load module {module}')}" for module in job.modules]
    lines.append(
        f"mount -t 9p -o {NINE_P_OPTIONS} {q(job.results_tag)} {q(job.results_dir)}"
        f" || fail {q(f'cannot mount the results share at {job.results_dir}')}"
    )
    loaded = ", ".join(job.modules) or "none"
    lines += _service_port_lines(job)
    for device in job.devices:
        lines.append(
            f"[ -e {q(device)} ] || fail {q(f'{device} is missing in the guest (modules loaded: {loaded})')}"
        )
        handed = f"chgrp {_DEVICE_GROUP} {q(device)} && chmod 0660 {q(device)}"
        lines.append(f"{handed} || fail {q(f'cannot hand {device} over')}")
    # V4L2 nodes (a module such as vivid makes them) go to group video, as udev's default rules do.
    lines.append(
        'for node in /dev/video*; do [ -e "$node" ] && chgrp video "$node" && chmod 0660 "$node"; done'
    )
    environment = " ".join(q(f"{name}={value}") for name, value in job.environment)
    lines += [
        f"cd {q(job.workdir)} 2>/dev/null || cd /",
        f"echo {q(STARTED)}",
        # As the container's user: no root, no capabilities, no way back to either.
        f"setpriv --reuid={job.uid} --regid={job.gid} --groups=video,{_DEVICE_GROUP} --no-new-privs"
        f" -- env -i {environment} {shlex.join(job.command)}",
        'finish "$?"',
    ]
    return "\n".join(lines) + "\n"


def _service_port_lines(job: GuestJob) -> list[str]:
    """Find the host service's port by name and let the user's group read and write it: that one
    node, as the runner's devices are handed over, so the suite needs no other privilege."""
    if job.service_port is None:
        return []
    q = shlex.quote
    name = job.service_port
    return [
        "service=",
        "for port in /sys/class/virtio-ports/*; do",
        f'    [ "$(cat "$port/name")" = {q(name)} ] && service="/dev/${{port##*/}}"',
        "done",
        f'[ -n "$service" ] || fail {q(f"no virtio port named {name}")}',
        f'chgrp {_DEVICE_GROUP} "$service" && chmod 0660 "$service"'
        f" || fail {q(f'cannot hand port {name} over')}",
    ]

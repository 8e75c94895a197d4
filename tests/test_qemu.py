"""The qemu runner without a VM: its QEMU command line, the guest's init script, and how a launcher
maps what QEMU does (status, panic, silence) onto the Launcher protocol, with a fake QEMU."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vkzc.errors import EnvironmentMissing
from vkzc.images.disk import GuestFiles
from vkzc.matrix import load_matrix
from vkzc.runners import guest, host_service, qemu
from vkzc.runners.container import RESULTS_DIR
from vkzc.runners.guest import GuestJob, guest_init_script
from vkzc.runners.qemu import QemuLauncher, VmSpec, qemu_command

ROOT = Path(__file__).resolve().parent.parent
CELL = load_matrix(ROOT / "matrix.yaml").cell("mesa-26.2.6-debian-sid/lavapipe/qemu-amd64")


def guest_files(tmp_path: Path) -> GuestFiles:
    return GuestFiles(
        disk=tmp_path / "root.img",
        kernel=tmp_path / "vmlinuz",
        initrd=tmp_path / "initrd.img",
        kernel_release="7.2.13+deb14-amd64",
        environment=(("PATH", "/opt/vkzc/bin:/usr/bin:/bin"), ("HOME", "/root"), ("LANG", "C.UTF-8")),
        workdir="/home/vkzc",
    )


def spec(tmp_path: Path, **changes: object) -> VmSpec:
    fields: dict[str, object] = {
        "guest": guest_files(tmp_path),
        "accel": "tcg",
        "memory_mib": 4096,
        "cpus": 2,
        "virtio_gpu": True,
        "job_dir": tmp_path / "job",
        "results_dir": tmp_path / "results",
        "kernel_log": tmp_path / "results" / "kernel.log",
        "monitor_socket": tmp_path / "sockets" / "monitor.sock",
        "service_socket": tmp_path / "sockets" / "service.sock",
    }
    return VmSpec(**{**fields, **changes})  # type: ignore[arg-type]


def options(command: tuple[str, ...], flag: str) -> list[str]:
    return [command[i + 1] for i, word in enumerate(command) if word == flag]


# --- the QEMU command line ------------------------------------------------------------------------


def test_tcg_boot_reads_the_disk_only_and_exits_on_panic(tmp_path: Path) -> None:
    command = qemu_command(spec(tmp_path))
    assert command[0] == "qemu-system-x86_64"
    assert options(command, "-accel") == ["tcg,thread=multi"] and options(command, "-cpu") == ["max"]
    assert options(command, "-m") == ["4096"] and options(command, "-smp") == ["2"]
    assert {"-nodefaults", "-no-reboot"} <= set(command)
    assert options(command, "-display") == ["none"]
    assert options(command, "-drive") == [f"file={tmp_path / 'root.img'},format=raw,if=virtio,readonly=on"]
    assert options(command, "-kernel") == [str(tmp_path / "vmlinuz")]
    assert options(command, "-initrd") == [str(tmp_path / "initrd.img")]
    arguments = options(command, "-append")[0].split()
    assert {"ro", "panic=-1", "oops=panic", "console=ttyS0", "init=/usr/local/sbin/vkzc-vm-init"} <= set(
        arguments
    )


def test_kvm_uses_the_host_cpu(tmp_path: Path) -> None:
    command = qemu_command(spec(tmp_path, accel="kvm"))
    assert options(command, "-accel") == ["kvm"] and options(command, "-cpu") == ["host"]


def test_channels_kernel_log_output_port_and_two_shares(tmp_path: Path) -> None:
    command = qemu_command(spec(tmp_path))
    chardevs = options(command, "-chardev")
    assert f"file,id=console,path={tmp_path / 'results' / 'kernel.log'},append=on" in chardevs
    assert "file,id=output,path=/dev/stdout" in chardevs
    assert options(command, "-serial") == ["chardev:console"]
    devices = options(command, "-device")
    assert f"virtserialport,chardev=output,name={guest.OUTPUT_PORT}" in devices
    fsdevs = options(command, "-fsdev")
    for tag, path in (("vkzc-job", tmp_path / "job"), ("vkzc-results", tmp_path / "results")):
        assert f"local,id={tag},path={path},security_model=mapped-xattr,fmode=0644,dmode=0755" in fsdevs
        assert f"virtio-9p-pci,fsdev={tag},mount_tag={tag}" in devices
    assert f"virtio-gpu-pci,id={qemu.DISPLAY_ID}" in devices
    assert not any(
        d.startswith("virtio-gpu-pci")
        for d in options(qemu_command(spec(tmp_path, virtio_gpu=False)), "-device")
    )


def test_the_host_service_port_and_the_monitor_are_sockets_the_host_listens_on(tmp_path: Path) -> None:
    command = qemu_command(spec(tmp_path))
    chardevs = options(command, "-chardev")
    # No server=on: QEMU connects to the host's sockets, which listen before it starts.
    assert f"socket,id=service,path={tmp_path / 'sockets' / 'service.sock'}" in chardevs
    assert f"socket,id=monitor,path={tmp_path / 'sockets' / 'monitor.sock'}" in chardevs
    assert f"virtserialport,chardev=service,name={host_service.SERVICE_PORT}" in options(command, "-device")
    assert options(command, "-mon") == ["chardev=monitor,mode=control"]
    assert options(command, "-display") == ["none"]  # screendump reads the device's console all the same


def test_commas_in_paths_are_doubled(tmp_path: Path) -> None:
    command = qemu_command(spec(tmp_path, results_dir=tmp_path / "a,b"))
    assert f"local,id=vkzc-results,path={tmp_path / 'a,,b'},security_model" in " ".join(command)


def test_the_vm_image_provides_what_the_command_line_names() -> None:
    dockerfile = (ROOT / "images" / "vm.Dockerfile").read_text()
    init = next(a for a in qemu.KERNEL_ARGUMENTS if a.startswith("init=")).removeprefix("init=")
    assert f"> {init}" in dockerfile
    assert "mount -t 9p -o trans=virtio" in dockerfile and f" {qemu.JOB_TAG} {guest.JOB_MOUNT} " in dockerfile
    assert f"exec /bin/sh {guest.JOB_MOUNT}/init" in dockerfile
    assert f"mkdir {RESULTS_DIR}" in dockerfile


# --- the guest's init script ----------------------------------------------------------------------


def job(**changes: object) -> GuestJob:
    fields: dict[str, object] = {
        "command": ("python3", "-m", "vkzc", "probe", "--json"),
        "environment": (("PATH", "/opt/vkzc/bin:/usr/bin"), ("VKZC_CELL", "a/b c'd")),
        "uid": 1000,
        "gid": 1000,
        "workdir": "/home/vkzc",
        "modules": ("vgem", "virtio_gpu"),
        "devices": ("/dev/udmabuf", "/dev/dri/renderD128"),
        "results_tag": "vkzc-results",
        "results_dir": "/results",
    }
    return GuestJob(**{**fields, **changes})  # type: ignore[arg-type]


def test_init_script_is_valid_sh(tmp_path: Path) -> None:
    script = tmp_path / "init"
    script.write_text(guest_init_script(job()))
    done = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_init_script_mounts_loads_checks_then_runs_as_the_user() -> None:
    lines = guest_init_script(job()).splitlines()
    assert lines[0] == "#!/bin/sh"

    def first(text: str) -> int:
        return next(i for i, line in enumerate(lines) if text in line)

    order = [
        first("mount -t proc"),
        first("mount -t tmpfs -o nosuid,nodev tmpfs /tmp"),
        first('exec >"$output" 2>&1'),
        first("modprobe vgem"),
        first("modprobe virtio_gpu"),
        first("mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none vkzc-results /results"),
        first("[ -e /dev/udmabuf ]"),
        first("chgrp render /dev/dri/renderD128 && chmod 0660 /dev/dri/renderD128"),
        first(f"echo '{guest.STARTED}'"),
        first("setpriv "),
    ]
    assert order == sorted(order)
    run = lines[first("setpriv ")]
    assert run == (
        "setpriv --reuid=1000 --regid=1000 --groups=video,render --no-new-privs -- env -i "
        "PATH=/opt/vkzc/bin:/usr/bin 'VKZC_CELL=a/b c'\"'\"'d' python3 -m vkzc probe --json"
    )
    assert lines[-1] == 'finish "$?"'
    assert "fail '/dev/udmabuf is missing in the guest (modules loaded: vgem, virtio_gpu)'" in "\n".join(
        lines
    )


def test_init_script_reports_the_status_then_powers_off() -> None:
    script = guest_init_script(job())
    finish = script[script.index("finish() {") : script.index("}\n", script.index("finish() {"))]
    assert f'echo "$1" > {guest.JOB_MOUNT}/{guest.STATUS_FILE}' in finish
    assert finish.index("sync") < finish.index("reboot(0x4321FEDC)")  # RB_POWER_OFF
    assert f"finish {guest.GUEST_SETUP_FAILED}" in script


def test_init_script_hands_the_service_port_to_the_users_group_only_when_there_is_one() -> None:
    script = guest_init_script(job(service_port="vkzc.service"))
    lines = script.splitlines()
    found = next(i for i, line in enumerate(lines) if line == "service=")
    assert '[ "$(cat "$port/name")" = vkzc.service ] && service="/dev/${port##*/}"' in lines[found + 2]
    assert "fail 'no virtio port named vkzc.service'" in lines[found + 4]
    assert lines[found + 5].startswith('chgrp render "$service" && chmod 0660 "$service" || fail')
    assert found < next(i for i, line in enumerate(lines) if line.startswith("setpriv "))
    assert "service=" not in guest_init_script(job())


def test_launcher_job_has_image_env_then_home_then_the_cell_env(tmp_path: Path) -> None:
    launcher = QemuLauncher(CELL, guest_files(tmp_path), tmp_path)
    made = launcher.job(("true",))
    environment = dict(made.environment)
    assert [name for name, _ in made.environment][:3] == ["PATH", "HOME", "LANG"]
    assert environment["HOME"] == "/tmp"
    assert environment["VK_DRIVER_FILES"] == "/usr/share/vulkan/icd.d/lvp_icd.json"
    assert environment["VKZC_CELL"] == CELL.identifier
    assert environment[host_service.ENVIRONMENT] == made.service_port == host_service.SERVICE_PORT
    assert made.modules == ("vgem", "vivid", "virtio_gpu")
    assert made.devices == CELL.runner.devices and "/dev/udmabuf" in made.devices
    assert made.results_dir == launcher.results == RESULTS_DIR
    if os.geteuid() == 0:
        assert (made.uid, made.gid) == (1000, 1000)


def test_a_machine_without_qemu_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qemu, "QEMU", "qemu-system-nowhere")
    with pytest.raises(EnvironmentMissing, match="qemu-system-nowhere is not installed: apt-get install"):
        QemuLauncher(CELL, guest_files(tmp_path), tmp_path)


def test_a_launcher_is_for_qemu_cells_only(tmp_path: Path) -> None:
    docker_cell = load_matrix(ROOT / "matrix.yaml").cell("mesa-26.2.6-debian-sid/lavapipe/local-amd64")
    with pytest.raises(TypeError):
        QemuLauncher(docker_cell, guest_files(tmp_path), tmp_path)


# --- a fake QEMU: status, panic, a lost VM, hangs -------------------------------------------------

FAKE_QEMU = textwrap.dedent(
    f"""\
    #!{sys.executable}
    import os, sys, time
    args = sys.argv[1:]
    values = [args[i + 1] for i, a in enumerate(args) if a in ("-fsdev", "-chardev")]
    named = [(v.split("id=")[1], v.split("path=")[1]) for v in values if "path=" in v]
    paths = {{name.split(",")[0]: path.split(",")[0] for name, path in named}}
    job, log = paths["vkzc-job"], paths["console"]
    mode = os.environ["FAKE_QEMU_MODE"]
    with open(os.environ["FAKE_QEMU_PID"], "w") as out:
        out.write(str(os.getpid()))
    with open(log, "a") as console:
        console.write("[    0.000000] Linux version 7.2.13+deb14-amd64\\n")
    print("early output", flush=True)
    if mode == "no-boot":
        time.sleep(60)
    print({guest.STARTED!r}, flush=True)
    print("the command says hello", flush=True)
    if mode == "ok":
        assert open(os.path.join(job, "init")).read().startswith("#!/bin/sh")
        with open(os.path.join(job, "status"), "w") as status:
            status.write("7\\n")
    elif mode == "panic":
        with open(log, "a") as console:
            console.write("[   12.000000] Kernel panic - not syncing: Fatal exception\\n")
    elif mode == "hang":
        time.sleep(60)
    elif mode == "service":
        # As QEMU and the guest would: connect to the host's sockets, serve QMP, ask for a screendump.
        import json, socket
        monitor, service = socket.socket(socket.AF_UNIX), socket.socket(socket.AF_UNIX)
        monitor.connect(paths["monitor"])
        service.connect(paths["service"])
        qmp = monitor.makefile("rwb")
        qmp.write(b'{{"QMP": {{"version": {{"qemu": {{"major": 7, "minor": 2}}}}}}, "capabilities": []}}\\n')
        qmp.flush()
        assert json.loads(qmp.readline()) == {{"execute": "qmp_capabilities"}}
        qmp.write(b'{{"return": {{}}}}\\n')
        qmp.flush()
        service.sendall(b"screendump frame-1\\n")
        command = json.loads(qmp.readline())
        with open(command["arguments"]["filename"], "wb") as ppm:
            ppm.write(b"P6\\n1 1\\n255\\n\\x01\\x02\\x03")
        qmp.write(b'{{"event": "SOMETHING"}}\\n{{"return": {{}}}}\\n')
        qmp.flush()
        print("service answered:", service.makefile("rb").readline().decode().strip(), flush=True)
        print("qmp arguments:", json.dumps(command["arguments"], sort_keys=True), flush=True)
        with open(os.path.join(job, "status"), "w") as status:
            status.write("0\\n")
    elif mode == "lost":
        print("qemu-system-x86_64: something broke", file=sys.stderr, flush=True)
        sys.exit(1)
    """
)


@pytest.fixture
def fake_qemu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    program = tmp_path / "fake-qemu"
    program.write_text(FAKE_QEMU)
    program.chmod(0o755)
    monkeypatch.setattr(qemu, "QEMU", str(program))
    monkeypatch.setattr(qemu, "accelerator", lambda kernel: "tcg")
    monkeypatch.setenv("FAKE_QEMU_PID", str(tmp_path / "pid"))
    return tmp_path


def launch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, limit: float = 30
) -> tuple[int, list[str]]:
    monkeypatch.setenv("FAKE_QEMU_MODE", mode)
    results = tmp_path / "results"
    results.mkdir(exist_ok=True)
    lines: list[str] = []
    code = QemuLauncher(CELL, guest_files(tmp_path), results).run(
        ("sh", "-c", "echo hi"), limit, lines.append
    )
    return code, lines


def test_the_guest_status_is_the_exit_code(fake_qemu: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, lines = launch(fake_qemu, monkeypatch, "ok")
    assert code == 7
    assert lines[0] == "early output"
    assert lines[1].startswith("vkzc-qemu: booted in ") and lines[1].endswith("(tcg, 2 CPUs)")
    assert lines[2:] == ["the command says hello"]  # the marker is no output
    log = (fake_qemu / "results" / "kernel.log").read_text().splitlines()
    assert log[0] == "--- vkzc: boot 1, Linux 7.2.13+deb14-amd64 (tcg): sh -c 'echo hi'"
    assert log[1].endswith("Linux version 7.2.13+deb14-amd64")


def test_the_host_service_answers_the_guest_with_a_screendump_in_the_results(
    fake_qemu: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = launch(fake_qemu, monkeypatch, "service")
    assert code == 0, lines
    assert "service answered: ok frame-1 /results/screendumps/frame-1.ppm" in lines
    dump = fake_qemu / "results" / "screendumps" / "frame-1.ppm"
    assert dump.read_bytes().startswith(b"P6\n1 1\n255\n")
    arguments = f'{{"device": "{qemu.DISPLAY_ID}", "filename": "{dump.resolve()}"}}'
    assert f"qmp arguments: {arguments}" in lines
    assert any(line.startswith("vkzc-qemu: screendump screendumps/frame-1.ppm (") for line in lines)


def test_a_kernel_panic_is_a_distinct_code_and_a_line(
    fake_qemu: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = launch(fake_qemu, monkeypatch, "panic")
    assert code == qemu.GUEST_PANIC
    assert lines[-1] == qemu.PANIC_LINE == "vkzc: guest kernel panic"
    assert "Kernel panic" in (fake_qemu / "results" / "kernel.log").read_text()


def test_an_earlier_boots_panic_is_not_this_ones(fake_qemu: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    launch(fake_qemu, monkeypatch, "panic")
    code, lines = launch(fake_qemu, monkeypatch, "lost")
    assert code == qemu.GUEST_LOST
    assert "qemu-system-x86_64: something broke" in lines
    assert lines[-1] == "vkzc: the VM stopped without an exit status (QEMU exited with 1)"


def test_a_silent_guest_meets_the_limit_and_qemu_is_killed(
    fake_qemu: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(TimeoutError, match="ran longer than 1 s"):
        launch(fake_qemu, monkeypatch, "hang", limit=1)
    assert_gone(int((fake_qemu / "pid").read_text()))


def test_a_vm_that_never_starts_the_command_meets_the_boot_limit(
    fake_qemu: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qemu, "BOOT_TIMEOUT_S", 1)
    with pytest.raises(TimeoutError, match="did not start the command within 1 s"):
        launch(fake_qemu, monkeypatch, "no-boot", limit=600)
    assert_gone(int((fake_qemu / "pid").read_text()))


def assert_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


# --- KVM or TCG -----------------------------------------------------------------------------------


def test_no_usable_dev_kvm_means_tcg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def refuse(path: str, flags: int) -> int:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(qemu.os, "open", refuse)
    qemu.accelerator.cache_clear()
    try:
        assert qemu.accelerator(tmp_path / "vmlinuz") == "tcg"
    finally:
        qemu.accelerator.cache_clear()


@pytest.mark.parametrize(
    ("probe", "accel"),
    [
        ("print('[ 0.9] Kernel panic - not syncing: VFS: Unable to mount root fs')", "kvm"),
        # Nested KVM on our machines: QEMU aborts on an MSR, or stops at "KVM internal error".
        ("import sys; print('error: failed to set MSR 0x10a', file=sys.stderr); sys.exit(134)", "tcg"),
        ("import time; print('KVM internal error. Suberror: 1', flush=True); time.sleep(60)", "tcg"),
    ],
)
def test_kvm_only_when_it_boots_the_kernel(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, probe: str, accel: str
) -> None:
    program = tmp_path / "fake-qemu"
    program.write_text(f"#!{sys.executable}\n{probe}\n")
    program.chmod(0o755)
    monkeypatch.setattr(qemu, "QEMU", str(program))
    monkeypatch.setattr(qemu, "KVM_PROBE_TIMEOUT_S", 2)
    real_open = os.open
    monkeypatch.setattr(qemu.os, "open", lambda path, flags: real_open(os.devnull, flags))
    qemu.accelerator.cache_clear()
    try:
        assert qemu.accelerator(tmp_path / "vmlinuz") == accel
    finally:
        qemu.accelerator.cache_clear()


def test_the_job_line_quotes_what_the_probe_command_needs() -> None:
    # run_cell's probe command holds a redirection: it must reach the guest's sh intact.
    command = ("sh", "-c", "exec python3 -m vkzc probe --json > /results/probe.json")
    script = guest_init_script(job(command=command)).splitlines()
    line = next(text for text in script if text.startswith("setpriv"))
    assert shlex.split(line)[-3:] == list(command)

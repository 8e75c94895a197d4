"""The dma-buf exporters' kernel (and libgbm) ABI, checked against the real headers with a C compiler.

Every ioctl number, flag, struct size and field offset vkzc/dmabuf spells out in Python is
printed by a tiny C program built against linux-libc-dev, libdrm-dev and libgbm-dev; a header
that is not installed skips its group, naming the package.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from vkzc.dmabuf import drm, gbm, heap, sync, udmabuf, v4l2

INCLUDE = Path("/usr/include")


@dataclass(frozen=True, kw_only=True)
class Group:
    headers: tuple[str, ...]
    package: str
    values: dict[str, int]
    structs: dict[str, type[ctypes.Structure]]


def _layout(c_name: str, struct: type[ctypes.Structure]) -> dict[str, int]:
    """sizeof and the offset of every named field, keyed by the C expression that computes them."""
    layout = {f"sizeof(struct {c_name})": ctypes.sizeof(struct)}
    for field in struct._fields_:
        name = field[0]
        if not name.startswith("_"):
            layout[f"offsetof(struct {c_name}, {name})"] = getattr(struct, name).offset
    return layout


GROUPS = {
    "dma-buf": Group(
        headers=("linux/dma-buf.h",),
        package="linux-libc-dev",
        values={
            "DMA_BUF_IOCTL_SYNC": sync.DMA_BUF_IOCTL_SYNC,
            "DMA_BUF_IOCTL_EXPORT_SYNC_FILE": sync.DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
            "DMA_BUF_SYNC_READ": sync.READ,
            "DMA_BUF_SYNC_WRITE": sync.WRITE,
            "DMA_BUF_SYNC_START": sync.START,
            "DMA_BUF_SYNC_END": sync.END,
        },
        structs={"dma_buf_sync": sync.DmaBufSync, "dma_buf_export_sync_file": sync.DmaBufExportSyncFile},
    ),
    "udmabuf": Group(
        headers=("linux/udmabuf.h",),
        package="linux-libc-dev",
        values={
            "UDMABUF_CREATE": udmabuf.UDMABUF_CREATE,
            "UDMABUF_FLAGS_CLOEXEC": udmabuf.UDMABUF_FLAGS_CLOEXEC,
        },
        structs={"udmabuf_create": udmabuf.UdmabufCreate},
    ),
    "dma-heap": Group(
        headers=("linux/dma-heap.h",),
        package="linux-libc-dev",
        values={"DMA_HEAP_IOCTL_ALLOC": heap.DMA_HEAP_IOCTL_ALLOC},
        structs={"dma_heap_allocation_data": heap.DmaHeapAllocationData},
    ),
    "drm": Group(
        headers=("drm.h", "drm_mode.h"),
        package="libdrm-dev",
        values={
            "DRM_IOCTL_VERSION": drm.DRM_IOCTL_VERSION,
            "DRM_IOCTL_PRIME_HANDLE_TO_FD": drm.DRM_IOCTL_PRIME_HANDLE_TO_FD,
            "DRM_IOCTL_MODE_CREATE_DUMB": drm.DRM_IOCTL_MODE_CREATE_DUMB,
            "DRM_CLOEXEC": drm.DRM_CLOEXEC,
            "DRM_RDWR": drm.DRM_RDWR,
        },
        structs={
            "drm_version": drm.DrmVersion,
            "drm_mode_create_dumb": drm.DrmModeCreateDumb,
            "drm_prime_handle": drm.DrmPrimeHandle,
        },
    ),
    "v4l2": Group(
        headers=("linux/videodev2.h",),
        package="linux-libc-dev",
        values={
            "VIDIOC_QUERYCAP": v4l2.VIDIOC_QUERYCAP,
            "VIDIOC_G_FMT": v4l2.VIDIOC_G_FMT,
            "VIDIOC_REQBUFS": v4l2.VIDIOC_REQBUFS,
            "VIDIOC_EXPBUF": v4l2.VIDIOC_EXPBUF,
            "V4L2_CAP_VIDEO_CAPTURE": v4l2.V4L2_CAP_VIDEO_CAPTURE,
            "V4L2_CAP_STREAMING": v4l2.V4L2_CAP_STREAMING,
            "V4L2_CAP_DEVICE_CAPS": v4l2.V4L2_CAP_DEVICE_CAPS,
            "V4L2_BUF_TYPE_VIDEO_CAPTURE": v4l2.V4L2_BUF_TYPE_VIDEO_CAPTURE,
            "V4L2_MEMORY_MMAP": v4l2.V4L2_MEMORY_MMAP,
            "offsetof(struct v4l2_format, fmt.pix)": v4l2.V4l2Format.fmt.offset,
        },
        structs={
            "v4l2_capability": v4l2.V4l2Capability,
            "v4l2_pix_format": v4l2.V4l2PixFormat,
            "v4l2_format": v4l2.V4l2Format,
            "v4l2_requestbuffers": v4l2.V4l2RequestBuffers,
            "v4l2_exportbuffer": v4l2.V4l2ExportBuffer,
        },
    ),
    "gbm": Group(
        headers=("gbm.h",),
        package="libgbm-dev",
        values={"GBM_FORMAT_ARGB8888": gbm.GBM_FORMAT_ARGB8888, "GBM_BO_USE_LINEAR": gbm.GBM_BO_USE_LINEAR},
        structs={},
    ),
}


def _expected(group: Group) -> dict[str, int]:
    expected = dict(group.values)
    for c_name, struct in group.structs.items():
        expected.update(_layout(c_name, struct))
    return expected


def _include_dir(header: str) -> Path | None:
    """Where `header` is: /usr/include, or libdrm's own folder for the DRM headers."""
    for folder in (INCLUDE, INCLUDE / "drm", INCLUDE / "libdrm"):
        if (folder / header).is_file():
            return folder
    return None


def _compiled_values(group: Group, tmp_path: Path) -> dict[str, int]:
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler (gcc) to read the headers with: apt-get install gcc")
    folders = {header: _include_dir(header) for header in group.headers}
    missing = [header for header, folder in folders.items() if folder is None]
    if missing:
        pytest.skip(f"no <{'>, <'.join(missing)}>: apt-get install {group.package}")
    lines = [f'    printf("%s=%llu\\n", "{e}", (unsigned long long)({e}));' for e in _expected(group)]
    source = tmp_path / "uapi.c"
    source.write_text(
        "#include <fcntl.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <stdio.h>\n"
        + "".join(f"#include <{header}>\n" for header in group.headers)
        + "int main(void) {\n"
        + "\n".join(lines)
        + "\n    return 0;\n}\n"
    )
    binary = tmp_path / "uapi"
    flags = sorted({f"-I{folder}" for folder in folders.values() if folder is not None})
    built = subprocess.run([compiler, *flags, str(source), "-o", str(binary)], capture_output=True, text=True)
    assert built.returncode == 0, f"the ABI probe does not compile:\n{built.stderr}"
    printed = subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout
    return {name: int(value) for name, value in (line.split("=", 1) for line in printed.splitlines())}


@pytest.mark.parametrize("name", GROUPS)
def test_abi_matches_the_headers(name: str, tmp_path: Path) -> None:
    group = GROUPS[name]
    assert _compiled_values(group, tmp_path) == _expected(group)


def test_ioctl_numbers_are_the_documented_ones() -> None:
    """The numbers in ../shared/notes/anchors.md §3 (the same on x86-64 and arm64)."""
    assert sync.DMA_BUF_IOCTL_SYNC == 0x40086200
    assert sync.DMA_BUF_IOCTL_EXPORT_SYNC_FILE == 0xC0086202
    assert udmabuf.UDMABUF_CREATE == 0x40187542
    assert heap.DMA_HEAP_IOCTL_ALLOC == 0xC0184800
    assert v4l2.VIDIOC_EXPBUF == 0xC0405610
    assert ctypes.sizeof(v4l2.V4l2ExportBuffer) == 64
    assert v4l2.V4l2ExportBuffer.fd.offset == 16

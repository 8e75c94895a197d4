"""KMS through the kernel's mode-setting ioctls (drm/drm.h, drm/drm_mode.h), with ctypes: find a connected
output and its preferred mode, make framebuffers of buffers, show one on a CRTC, and tell the driver
which pixels changed.

The legacy SETCRTC and DIRTYFB calls are used rather than atomic commits: every KMS driver has them
(atomic drivers implement them as commits), and virtio-gpu sends the pixels to the host only on a
plane update or a dirty call (its resource flush). Mode setting needs DRM master: the first opener of
a card with no master becomes it, so a process alone on the card needs no privilege.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from vkzc.dmabuf.drm import (
    DRM_CLOEXEC,
    DRM_IOCTL_MODE_CREATE_DUMB,
    DRM_IOCTL_PRIME_HANDLE_TO_FD,
    DRM_RDWR,
    DrmModeCreateDumb,
    DrmPrimeHandle,
    driver_name,
)
from vkzc.dmabuf.ioctl import ioctl, iowr

DRM_MODE_CONNECTED = 1  # drm_mode_get_connector.connection (libdrm: drmModeConnection)
DRM_MODE_TYPE_PREFERRED = 1 << 3
DRM_MODE_FB_MODIFIERS = 1 << 1
DRM_CAP_DUMB_BUFFER = 0x1
DRM_CAP_ADDFB2_MODIFIERS = 0x10
DRM_DISPLAY_MODE_LEN = 32
DRM_FORMAT_MOD_LINEAR = 0
# The kernel's connector names (drm_connector.c's drm_connector_enum_list), for the ones we meet.
CONNECTOR_TYPES = {
    1: "VGA",
    7: "LVDS",
    10: "DP",
    11: "HDMI-A",
    14: "eDP",
    15: "Virtual",
    16: "DSI",
    17: "DPI",
}


def fourcc(code: str) -> int:
    """A DRM fourcc (drm_fourcc.h's fourcc_code): "XR24" is DRM_FORMAT_XRGB8888."""
    a, b, c, d = code.encode()
    return a | b << 8 | c << 16 | d << 24


DRM_FORMAT_XRGB8888 = fourcc("XR24")
DRM_FORMAT_ARGB8888 = fourcc("AR24")


class DrmModeCardRes(ctypes.Structure):
    _fields_ = (
        ("fb_id_ptr", ctypes.c_uint64),
        ("crtc_id_ptr", ctypes.c_uint64),
        ("connector_id_ptr", ctypes.c_uint64),
        ("encoder_id_ptr", ctypes.c_uint64),
        ("count_fbs", ctypes.c_uint32),
        ("count_crtcs", ctypes.c_uint32),
        ("count_connectors", ctypes.c_uint32),
        ("count_encoders", ctypes.c_uint32),
        ("min_width", ctypes.c_uint32),
        ("max_width", ctypes.c_uint32),
        ("min_height", ctypes.c_uint32),
        ("max_height", ctypes.c_uint32),
    )


class DrmModeModeinfo(ctypes.Structure):
    _fields_ = (
        ("clock", ctypes.c_uint32),
        ("hdisplay", ctypes.c_uint16),
        ("hsync_start", ctypes.c_uint16),
        ("hsync_end", ctypes.c_uint16),
        ("htotal", ctypes.c_uint16),
        ("hskew", ctypes.c_uint16),
        ("vdisplay", ctypes.c_uint16),
        ("vsync_start", ctypes.c_uint16),
        ("vsync_end", ctypes.c_uint16),
        ("vtotal", ctypes.c_uint16),
        ("vscan", ctypes.c_uint16),
        ("vrefresh", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("type", ctypes.c_uint32),
        ("name", ctypes.c_char * DRM_DISPLAY_MODE_LEN),
    )


class DrmModeCrtc(ctypes.Structure):
    _fields_ = (
        ("set_connectors_ptr", ctypes.c_uint64),
        ("count_connectors", ctypes.c_uint32),
        ("crtc_id", ctypes.c_uint32),
        ("fb_id", ctypes.c_uint32),
        ("x", ctypes.c_uint32),
        ("y", ctypes.c_uint32),
        ("gamma_size", ctypes.c_uint32),
        ("mode_valid", ctypes.c_uint32),
        ("mode", DrmModeModeinfo),
    )


class DrmModeGetEncoder(ctypes.Structure):
    _fields_ = (
        ("encoder_id", ctypes.c_uint32),
        ("encoder_type", ctypes.c_uint32),
        ("crtc_id", ctypes.c_uint32),
        ("possible_crtcs", ctypes.c_uint32),
        ("possible_clones", ctypes.c_uint32),
    )


class DrmModeGetConnector(ctypes.Structure):
    _fields_ = (
        ("encoders_ptr", ctypes.c_uint64),
        ("modes_ptr", ctypes.c_uint64),
        ("props_ptr", ctypes.c_uint64),
        ("prop_values_ptr", ctypes.c_uint64),
        ("count_modes", ctypes.c_uint32),
        ("count_props", ctypes.c_uint32),
        ("count_encoders", ctypes.c_uint32),
        ("encoder_id", ctypes.c_uint32),
        ("connector_id", ctypes.c_uint32),
        ("connector_type", ctypes.c_uint32),
        ("connector_type_id", ctypes.c_uint32),
        ("connection", ctypes.c_uint32),
        ("mm_width", ctypes.c_uint32),
        ("mm_height", ctypes.c_uint32),
        ("subpixel", ctypes.c_uint32),
        ("pad", ctypes.c_uint32),
    )


class DrmModeFbCmd2(ctypes.Structure):
    _fields_ = (
        ("fb_id", ctypes.c_uint32),
        ("width", ctypes.c_uint32),
        ("height", ctypes.c_uint32),
        ("pixel_format", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("handles", ctypes.c_uint32 * 4),
        ("pitches", ctypes.c_uint32 * 4),
        ("offsets", ctypes.c_uint32 * 4),
        ("modifier", ctypes.c_uint64 * 4),
    )


class DrmModeFbDirtyCmd(ctypes.Structure):
    _fields_ = (
        ("fb_id", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("color", ctypes.c_uint32),
        ("num_clips", ctypes.c_uint32),
        ("clips_ptr", ctypes.c_uint64),
    )


class DrmClipRect(ctypes.Structure):
    _fields_ = (
        ("x1", ctypes.c_ushort),
        ("y1", ctypes.c_ushort),
        ("x2", ctypes.c_ushort),
        ("y2", ctypes.c_ushort),
    )


class DrmGetCap(ctypes.Structure):
    _fields_ = (("capability", ctypes.c_uint64), ("value", ctypes.c_uint64))


class DrmModeDestroyDumb(ctypes.Structure):
    _fields_ = (("handle", ctypes.c_uint32),)


class DrmFbId(ctypes.Structure):
    """RMFB's argument: a bare unsigned int."""

    _fields_ = (("fb_id", ctypes.c_uint),)


# DRM_IO(nr): no argument, no size, no direction.
DRM_IOCTL_SET_MASTER = ord("d") << 8 | 0x1E
DRM_IOCTL_DROP_MASTER = ord("d") << 8 | 0x1F
DRM_IOCTL_GET_CAP = iowr("d", 0x0C, DrmGetCap)
DRM_IOCTL_PRIME_FD_TO_HANDLE = iowr("d", 0x2E, DrmPrimeHandle)
DRM_IOCTL_MODE_GETRESOURCES = iowr("d", 0xA0, DrmModeCardRes)
DRM_IOCTL_MODE_GETCRTC = iowr("d", 0xA1, DrmModeCrtc)
DRM_IOCTL_MODE_SETCRTC = iowr("d", 0xA2, DrmModeCrtc)
DRM_IOCTL_MODE_GETENCODER = iowr("d", 0xA6, DrmModeGetEncoder)
DRM_IOCTL_MODE_GETCONNECTOR = iowr("d", 0xA7, DrmModeGetConnector)
DRM_IOCTL_MODE_RMFB = iowr("d", 0xAF, DrmFbId)
DRM_IOCTL_MODE_DIRTYFB = iowr("d", 0xB1, DrmModeFbDirtyCmd)
DRM_IOCTL_MODE_DESTROY_DUMB = iowr("d", 0xB4, DrmModeDestroyDumb)
DRM_IOCTL_MODE_ADDFB2 = iowr("d", 0xB8, DrmModeFbCmd2)


@dataclass(frozen=True, kw_only=True)
class Mode:
    width: int
    height: int
    refresh: int
    name: str
    preferred: bool
    info: bytes  # the kernel's drm_mode_modeinfo, handed back unchanged to SETCRTC

    def describe(self) -> str:
        return f"{self.name or f'{self.width}x{self.height}'}@{self.refresh}"


@dataclass(frozen=True, kw_only=True)
class Output:
    """A connected connector, the mode to show it in, and a CRTC that can drive it."""

    connector_id: int
    connector: str  # the kernel's name: Virtual-1, HDMI-A-1, ...
    crtc_id: int
    mode: Mode

    def describe(self) -> str:
        return (
            f"{self.connector} (connector {self.connector_id}, CRTC {self.crtc_id}) at {self.mode.describe()}"
        )


def _array(count: int) -> ctypes.Array[ctypes.c_uint32]:
    return (ctypes.c_uint32 * max(count, 1))()


def _address(array: ctypes.Array[ctypes.c_uint32] | ctypes.Array[DrmModeModeinfo]) -> int:
    return ctypes.addressof(array)


class Card:
    """An open card node (/dev/dri/cardN): its outputs, framebuffers and CRTCs."""

    def __init__(self, node: Path) -> None:
        self.node = node
        self.fd = os.open(node, os.O_RDWR | os.O_CLOEXEC)
        try:
            self.driver = driver_name(self.fd)
        except OSError:
            os.close(self.fd)
            raise

    def __enter__(self) -> Card:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def capability(self, capability: int) -> int:
        """DRM_IOCTL_GET_CAP's value; 0 for a capability the kernel does not know."""
        cap = DrmGetCap(capability=capability)
        try:
            ioctl(self.fd, "DRM_IOCTL_GET_CAP", DRM_IOCTL_GET_CAP, cap)
        except OSError as e:
            if e.errno == errno.EINVAL:
                return 0
            raise
        return int(cap.value)

    def set_master(self) -> None:
        """Become DRM master (a no-op when opening the card made us master already). EBUSY or
        EACCES: another process (a compositor, a console) holds the card."""
        _plain(self.fd, "DRM_IOCTL_SET_MASTER", DRM_IOCTL_SET_MASTER)

    def drop_master(self) -> None:
        _plain(self.fd, "DRM_IOCTL_DROP_MASTER", DRM_IOCTL_DROP_MASTER)

    def _resources(self) -> tuple[list[int], list[int]]:
        """(CRTC ids, connector ids)."""
        res = DrmModeCardRes()
        ioctl(self.fd, "DRM_IOCTL_MODE_GETRESOURCES", DRM_IOCTL_MODE_GETRESOURCES, res)
        # The counts may grow between the two calls (hotplug): ask again with room for what was said.
        while True:
            crtcs, connectors = _array(res.count_crtcs), _array(res.count_connectors)
            counts = (res.count_crtcs, res.count_connectors)
            res = DrmModeCardRes(
                crtc_id_ptr=_address(crtcs),
                count_crtcs=counts[0],
                connector_id_ptr=_address(connectors),
                count_connectors=counts[1],
            )
            ioctl(self.fd, "DRM_IOCTL_MODE_GETRESOURCES", DRM_IOCTL_MODE_GETRESOURCES, res)
            if (res.count_crtcs, res.count_connectors) == counts:
                return list(crtcs[: counts[0]]), list(connectors[: counts[1]])

    def _connector(self, connector_id: int) -> tuple[DrmModeGetConnector, list[Mode], list[int]]:
        probe = DrmModeGetConnector(connector_id=connector_id)
        # Asking with no room for modes makes the kernel probe the connector (its modes and status).
        ioctl(self.fd, "DRM_IOCTL_MODE_GETCONNECTOR", DRM_IOCTL_MODE_GETCONNECTOR, probe)
        while True:
            modes = (DrmModeModeinfo * max(probe.count_modes, 1))()
            encoders = _array(probe.count_encoders)
            counts = (probe.count_modes, probe.count_encoders)
            conn = DrmModeGetConnector(
                connector_id=connector_id,
                modes_ptr=_address(modes),
                count_modes=counts[0],
                encoders_ptr=_address(encoders),
                count_encoders=counts[1],
            )
            ioctl(self.fd, "DRM_IOCTL_MODE_GETCONNECTOR", DRM_IOCTL_MODE_GETCONNECTOR, conn)
            if (conn.count_modes, conn.count_encoders) == counts:
                return conn, [_mode(m) for m in modes[: counts[0]]], list(encoders[: counts[1]])
            probe = conn

    def _encoder(self, encoder_id: int) -> DrmModeGetEncoder:
        encoder = DrmModeGetEncoder(encoder_id=encoder_id)
        ioctl(self.fd, "DRM_IOCTL_MODE_GETENCODER", DRM_IOCTL_MODE_GETENCODER, encoder)
        return encoder

    def output(self) -> Output | None:
        """The first connected connector with a mode, in its preferred mode (else its first), with the
        CRTC its encoder drives now or the first one it can."""
        crtcs, connectors = self._resources()
        for connector_id in connectors:
            conn, modes, encoders = self._connector(connector_id)
            if conn.connection != DRM_MODE_CONNECTED or not modes:
                continue
            crtc = self._crtc_for(conn, encoders, crtcs)
            if crtc is None:
                continue
            mode = next((m for m in modes if m.preferred), modes[0])
            kind = CONNECTOR_TYPES.get(conn.connector_type, f"type{conn.connector_type}")
            return Output(
                connector_id=connector_id,
                connector=f"{kind}-{conn.connector_type_id}",
                crtc_id=crtc,
                mode=mode,
            )
        return None

    def _crtc_for(self, conn: DrmModeGetConnector, encoders: list[int], crtcs: list[int]) -> int | None:
        if conn.encoder_id:
            current = self._encoder(conn.encoder_id).crtc_id
            if current:
                return int(current)
        for encoder_id in encoders:
            possible = self._encoder(encoder_id).possible_crtcs
            for index, crtc in enumerate(crtcs):
                if possible & (1 << index):
                    return crtc
        return None

    def create_dumb(self, width: int, height: int, bpp: int) -> tuple[int, int, int]:
        """A dumb buffer: (GEM handle, pitch, size) as the driver laid it out."""
        dumb = DrmModeCreateDumb(width=width, height=height, bpp=bpp)
        ioctl(self.fd, "DRM_IOCTL_MODE_CREATE_DUMB", DRM_IOCTL_MODE_CREATE_DUMB, dumb)
        return int(dumb.handle), int(dumb.pitch), int(dumb.size)

    def import_dmabuf(self, fd: int) -> int:
        """A GEM handle on this card for the dma-buf `fd` (PRIME), as a display imports a buffer."""
        prime = DrmPrimeHandle(fd=fd)
        ioctl(self.fd, "DRM_IOCTL_PRIME_FD_TO_HANDLE", DRM_IOCTL_PRIME_FD_TO_HANDLE, prime)
        return int(prime.handle)

    def export_dmabuf(self, handle: int) -> int:
        prime = DrmPrimeHandle(handle=handle, flags=DRM_CLOEXEC | DRM_RDWR, fd=-1)
        ioctl(self.fd, "DRM_IOCTL_PRIME_HANDLE_TO_FD", DRM_IOCTL_PRIME_HANDLE_TO_FD, prime)
        return int(prime.fd)

    def release_handle(self, handle: int) -> None:
        """Drop a GEM handle (DESTROY_DUMB is GEM close for any handle); the buffer lives while a
        dma-buf or a framebuffer holds it."""
        ioctl(
            self.fd,
            "DRM_IOCTL_MODE_DESTROY_DUMB",
            DRM_IOCTL_MODE_DESTROY_DUMB,
            DrmModeDestroyDumb(handle=handle),
        )

    def add_framebuffer(
        self,
        *,
        width: int,
        height: int,
        format: int,
        handle: int,
        pitch: int,
        offset: int,
        modifier: int | None,
    ) -> int:
        """ADDFB2 of one plane; with `modifier`, its explicit modifier (DRM_MODE_FB_MODIFIERS)."""
        cmd = DrmModeFbCmd2(width=width, height=height, pixel_format=format)
        cmd.handles[0], cmd.pitches[0], cmd.offsets[0] = handle, pitch, offset
        if modifier is not None:
            cmd.flags = DRM_MODE_FB_MODIFIERS
            cmd.modifier[0] = modifier
        ioctl(self.fd, "DRM_IOCTL_MODE_ADDFB2", DRM_IOCTL_MODE_ADDFB2, cmd)
        return int(cmd.fb_id)

    def remove_framebuffer(self, fb_id: int) -> None:
        """RMFB: a framebuffer on screen is taken off its CRTC first."""
        ioctl(self.fd, "DRM_IOCTL_MODE_RMFB", DRM_IOCTL_MODE_RMFB, DrmFbId(fb_id=fb_id))

    def show(self, output: Output, fb_id: int) -> None:
        """SETCRTC: scan `fb_id` out from its top left corner on `output` in its mode."""
        connectors = (ctypes.c_uint32 * 1)(output.connector_id)
        crtc = DrmModeCrtc(
            set_connectors_ptr=_address(connectors),
            count_connectors=1,
            crtc_id=output.crtc_id,
            fb_id=fb_id,
            mode_valid=1,
        )
        ctypes.memmove(ctypes.addressof(crtc.mode), output.mode.info, ctypes.sizeof(DrmModeModeinfo))
        ioctl(self.fd, "DRM_IOCTL_MODE_SETCRTC", DRM_IOCTL_MODE_SETCRTC, crtc)

    def scanned_out(self, output: Output) -> int:
        """The framebuffer the output's CRTC shows now (GETCRTC), 0 for none."""
        crtc = DrmModeCrtc(crtc_id=output.crtc_id)
        ioctl(self.fd, "DRM_IOCTL_MODE_GETCRTC", DRM_IOCTL_MODE_GETCRTC, crtc)
        return int(crtc.fb_id)

    def dirty(self, fb_id: int, width: int, height: int) -> None:
        """DIRTYFB over the whole framebuffer: drivers that copy to the screen (virtio-gpu's resource
        flush) do it now. ENOSYS means the driver needs no such call."""
        clip = DrmClipRect(x1=0, y1=0, x2=width, y2=height)
        cmd = DrmModeFbDirtyCmd(fb_id=fb_id, num_clips=1, clips_ptr=ctypes.addressof(clip))
        try:
            ioctl(self.fd, "DRM_IOCTL_MODE_DIRTYFB", DRM_IOCTL_MODE_DIRTYFB, cmd)
        except OSError as e:
            if e.errno != errno.ENOSYS:
                raise


def _mode(info: DrmModeModeinfo) -> Mode:
    return Mode(
        width=int(info.hdisplay),
        height=int(info.vdisplay),
        refresh=int(info.vrefresh),
        name=info.name.decode(errors="replace"),
        preferred=bool(info.type & DRM_MODE_TYPE_PREFERRED),
        info=bytes(info),
    )


def _plain(fd: int, name: str, request: int) -> None:
    """An ioctl without an argument; the OSError names it, as vkzc.dmabuf.ioctl's do."""
    try:
        fcntl.ioctl(fd, request, 0)
    except OSError as e:
        code = e.errno or errno.EIO
        raise OSError(code, f"{name}: {os.strerror(code)}") from None

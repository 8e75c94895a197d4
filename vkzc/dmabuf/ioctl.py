"""ioctl request numbers in the kernel's generic encoding (asm-generic/ioctl.h: x86-64 and arm64 alike),
and an ioctl call whose errors name the request."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os

_NRSHIFT = 0
_TYPESHIFT = 8
_SIZESHIFT = 16
_DIRSHIFT = 30
_WRITE = 1
_READ = 2


def _ioc(direction: int, kind: str, nr: int, size: int) -> int:
    return (direction << _DIRSHIFT) | (ord(kind) << _TYPESHIFT) | (nr << _NRSHIFT) | (size << _SIZESHIFT)


def ior(kind: str, nr: int, struct: type[ctypes.Structure]) -> int:
    return _ioc(_READ, kind, nr, ctypes.sizeof(struct))


def iow(kind: str, nr: int, struct: type[ctypes.Structure]) -> int:
    return _ioc(_WRITE, kind, nr, ctypes.sizeof(struct))


def iowr(kind: str, nr: int, struct: type[ctypes.Structure]) -> int:
    return _ioc(_READ | _WRITE, kind, nr, ctypes.sizeof(struct))


def ioctl(fd: int, name: str, request: int, arg: ctypes.Structure) -> int:
    """Run the ioctl with `arg` filled in place; its return value (a new fd for some requests).

    The OSError keeps the errno (ENOTTY means the kernel lacks the request) and names `name`.
    """
    try:
        return fcntl.ioctl(fd, request, arg)
    except OSError as e:
        code = e.errno or errno.EIO
        raise OSError(code, f"{name}: {os.strerror(code)}") from None

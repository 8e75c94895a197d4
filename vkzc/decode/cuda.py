"""CUDA's driver API through ctypes: just what brings NVDEC's frames into Vulkan memory.

NVDEC decodes into CUDA memory that FFmpeg allocates. CUDA cannot give that memory to Vulkan, but it
can import memory that Vulkan exports (OPAQUE_FD; cuImportExternalMemory), so each frame is copied on
the GPU from FFmpeg's surface into Vulkan's memory. That is a device-side copy: the `cuda` source is
never called zero-copy (Vulkan Video decoding into a VkImage would be). The copy runs in the CUDA
context that owns the frame, whichever FFmpeg made, and only after checking that CUDA's device is the
Vulkan device (the same deviceUUID): memory exported by one GPU means nothing to another.

Struct layouts follow cuda.h (CUDA 12/13 driver API, 64-bit Linux).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator
from dataclasses import dataclass

LIBRARY = "libcuda.so.1"

# cuda.h enums
_HANDLE_TYPE_OPAQUE_FD = 1  # CU_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD
_EXTERNAL_MEMORY_DEDICATED = 1  # CUDA_EXTERNAL_MEMORY_DEDICATED
_MEMORYTYPE_DEVICE = 2  # CU_MEMORYTYPE_DEVICE
_POINTER_ATTRIBUTE_CONTEXT = 1  # CU_POINTER_ATTRIBUTE_CONTEXT
_POINTER_ATTRIBUTE_DEVICE_ORDINAL = 9  # CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL


class CudaError(RuntimeError):
    def __init__(self, function: str, code: int, name: str) -> None:
        super().__init__(f"{function} failed: {name} ({code})")
        self.code = code


class _HandleDesc(ctypes.Structure):
    """CUDA_EXTERNAL_MEMORY_HANDLE_DESC: the fd sits in a 16-byte union aligned for pointers."""

    _fields_ = (
        ("type", ctypes.c_int),
        ("_align", ctypes.c_int),
        ("fd", ctypes.c_int),
        ("_union_rest", ctypes.c_byte * 12),
        ("size", ctypes.c_ulonglong),
        ("flags", ctypes.c_uint),
        ("reserved", ctypes.c_uint * 16),
    )


class _BufferDesc(ctypes.Structure):
    """CUDA_EXTERNAL_MEMORY_BUFFER_DESC"""

    _fields_ = (
        ("offset", ctypes.c_ulonglong),
        ("size", ctypes.c_ulonglong),
        ("flags", ctypes.c_uint),
        ("reserved", ctypes.c_uint * 16),
    )


class _Memcpy2D(ctypes.Structure):
    """CUDA_MEMCPY2D"""

    _fields_ = (
        ("srcXInBytes", ctypes.c_size_t),
        ("srcY", ctypes.c_size_t),
        ("srcMemoryType", ctypes.c_int),
        ("srcHost", ctypes.c_void_p),
        ("srcDevice", ctypes.c_ulonglong),
        ("srcArray", ctypes.c_void_p),
        ("srcPitch", ctypes.c_size_t),
        ("dstXInBytes", ctypes.c_size_t),
        ("dstY", ctypes.c_size_t),
        ("dstMemoryType", ctypes.c_int),
        ("dstHost", ctypes.c_void_p),
        ("dstDevice", ctypes.c_ulonglong),
        ("dstArray", ctypes.c_void_p),
        ("dstPitch", ctypes.c_size_t),
        ("WidthInBytes", ctypes.c_size_t),
        ("Height", ctypes.c_size_t),
    )


# What cuda.h says of these structs on 64-bit Linux; checked at load, so that a layout slip is an
# error here and not a wild copy on the GPU.
_SIZES = {_HandleDesc: 104, _BufferDesc: 88, _Memcpy2D: 128}


def unavailable() -> str | None:
    """None when CUDA's driver library loads and initialises, else why not (a skip reason)."""
    try:
        Cuda()
    except OSError:
        return f"no {LIBRARY}: NVIDIA's driver (with CUDA) is not installed here"
    except CudaError as e:
        return f"CUDA does not initialise: {e}"
    return None


class Cuda:
    def __init__(self) -> None:
        for struct, size in _SIZES.items():
            if ctypes.sizeof(struct) != size:
                got = ctypes.sizeof(struct)
                raise AssertionError(f"{struct.__name__} is {got} bytes, cuda.h says {size}")
        self._lib = ctypes.CDLL(LIBRARY)
        self.call("cuInit", 0)

    def call(self, function: str, *args: object) -> None:
        code = getattr(self._lib, function)(*args)
        if code != 0:
            name = ctypes.c_char_p()
            self._lib.cuGetErrorName(code, ctypes.byref(name))
            raise CudaError(function, code, (name.value or b"?").decode())

    def device_uuid(self, ordinal: int) -> bytes:
        device = ctypes.c_int()
        self.call("cuDeviceGet", ctypes.byref(device), ordinal)
        uuid = (ctypes.c_ubyte * 16)()
        self.call("cuDeviceGetUuid_v2", uuid, device)
        return bytes(uuid)

    def pointer_owner(self, pointer: int) -> tuple[int, int]:
        """(context handle, device ordinal) of device memory at `pointer`."""
        context = ctypes.c_void_p()
        self.call(
            "cuPointerGetAttribute",
            ctypes.byref(context),
            _POINTER_ATTRIBUTE_CONTEXT,
            ctypes.c_ulonglong(pointer),
        )
        ordinal = ctypes.c_int()
        self.call(
            "cuPointerGetAttribute",
            ctypes.byref(ordinal),
            _POINTER_ATTRIBUTE_DEVICE_ORDINAL,
            ctypes.c_ulonglong(pointer),
        )
        return int(context.value or 0), ordinal.value

    @contextlib.contextmanager
    def current(self, context: int) -> Iterator[None]:
        self.call("cuCtxPushCurrent_v2", ctypes.c_void_p(context))
        try:
            yield
        finally:
            self.call("cuCtxPopCurrent_v2", ctypes.byref(ctypes.c_void_p()))

    def copy_2d(
        self, *, source: int, source_pitch: int, target: int, target_pitch: int, row_bytes: int, rows: int
    ) -> None:
        """Device to device, in the current context (synchronous for the host)."""
        copy = _Memcpy2D(
            srcMemoryType=_MEMORYTYPE_DEVICE,
            srcDevice=source,
            srcPitch=source_pitch,
            dstMemoryType=_MEMORYTYPE_DEVICE,
            dstDevice=target,
            dstPitch=target_pitch,
            WidthInBytes=row_bytes,
            Height=rows,
        )
        self.call("cuMemcpy2D_v2", ctypes.byref(copy))

    def synchronize(self) -> None:
        self.call("cuCtxSynchronize")


@dataclass(frozen=True, kw_only=True)
class ImportedMemory:
    """Vulkan memory seen by CUDA: an external-memory object and a device pointer mapped onto it."""

    handle: int
    pointer: int
    size: int

    @staticmethod
    def from_fd(cuda: Cuda, fd: int, size: int, *, dedicated: bool) -> ImportedMemory:
        """Import the whole allocation (`size`, as Vulkan allocated it) from an OPAQUE_FD fd, in the
        current context; CUDA owns the fd from then on (this closes it if the import fails)."""
        desc = _HandleDesc(
            type=_HANDLE_TYPE_OPAQUE_FD,
            fd=fd,
            size=size,
            flags=_EXTERNAL_MEMORY_DEDICATED if dedicated else 0,
        )
        handle = ctypes.c_void_p()
        try:
            cuda.call("cuImportExternalMemory", ctypes.byref(handle), ctypes.byref(desc))
        except CudaError:
            os.close(fd)
            raise
        pointer = ctypes.c_ulonglong()
        try:
            cuda.call(
                "cuExternalMemoryGetMappedBuffer",
                ctypes.byref(pointer),
                handle,
                ctypes.byref(_BufferDesc(offset=0, size=size)),
            )
        except CudaError:
            cuda.call("cuDestroyExternalMemory", handle)
            raise
        return ImportedMemory(handle=int(handle.value or 0), pointer=pointer.value, size=size)

    def release(self, cuda: Cuda) -> None:
        cuda.call("cuMemFree_v2", ctypes.c_ulonglong(self.pointer))
        cuda.call("cuDestroyExternalMemory", ctypes.c_void_p(self.handle))

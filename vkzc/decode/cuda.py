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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vkzc.decode.sources import NATIVE_DECODERS, VulkanBufferFrame, hw_decoded

if TYPE_CHECKING:
    from vkzc.conformance.external import SharedBuffer
    from vkzc.conformance.yuv import YuvLayout
    from vkzc.fixtures.manifest import ClipRecord
    from vkzc.vk.device import Device

LIBRARY = "libcuda.so.1"
NVCUVID = "libnvcuvid.so.1"

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


class _DecodeCaps(ctypes.Structure):
    """CUVIDDECODECAPS (cuviddec.h): what one NVDEC engine says it decodes."""

    _fields_ = (
        ("eCodecType", ctypes.c_int),
        ("eChromaFormat", ctypes.c_int),
        ("nBitDepthMinus8", ctypes.c_uint),
        ("reserved1", ctypes.c_uint * 3),
        ("bIsSupported", ctypes.c_ubyte),
        ("nNumNVDECs", ctypes.c_ubyte),
        ("nOutputFormatMask", ctypes.c_ushort),
        ("nMaxWidth", ctypes.c_uint),
        ("nMaxHeight", ctypes.c_uint),
        ("nMaxMBCount", ctypes.c_uint),
        ("nMinWidth", ctypes.c_ushort),
        ("nMinHeight", ctypes.c_ushort),
        ("bIsHistogramSupported", ctypes.c_ubyte),
        ("nCounterBitDepth", ctypes.c_ubyte),
        ("nMaxHistogramBins", ctypes.c_ushort),
        ("reserved3", ctypes.c_uint * 10),
    )


# What cuda.h and cuviddec.h say of these structs on 64-bit Linux; checked at load, so that a layout
# slip is an error here and not a wild copy on the GPU.
_SIZES = {_HandleDesc: 104, _BufferDesc: 88, _Memcpy2D: 128, _DecodeCaps: 88}


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
                raise AssertionError(
                    f"{struct.__name__} is {ctypes.sizeof(struct)} bytes, cuda.h says {size}"
                )
        self._lib = ctypes.CDLL(LIBRARY)
        self.call("cuInit", 0)

    def call(self, function: str, *args: object) -> None:
        self._check(function, getattr(self._lib, function)(*args))

    def _check(self, function: str, code: int) -> None:
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

    def decoder_caps(self, ordinal: int, codec: str, depth: int) -> NvdecCaps:
        """NVDEC's own answer (cuvidGetDecoderCaps) for 4:2:0 `codec` at `depth` bits on device `ordinal`,
        asked in its primary context: the one FFmpeg decodes in."""
        nvcuvid = ctypes.CDLL(NVCUVID)
        device = ctypes.c_int()
        self.call("cuDeviceGet", ctypes.byref(device), ordinal)
        context = ctypes.c_void_p()
        self.call("cuDevicePrimaryCtxRetain", ctypes.byref(context), device)
        try:
            caps = _DecodeCaps(
                eCodecType=_CUVID_CODECS[codec], eChromaFormat=_CHROMA_420, nBitDepthMinus8=depth - 8
            )
            with self.current(context.value or 0):
                self._check("cuvidGetDecoderCaps", nvcuvid.cuvidGetDecoderCaps(ctypes.byref(caps)))
        finally:
            self.call("cuDevicePrimaryCtxRelease_v2", device)
        return NvdecCaps(
            supported=bool(caps.bIsSupported),
            min_size=(caps.nMinWidth, caps.nMinHeight),
            max_size=(caps.nMaxWidth, caps.nMaxHeight),
        )


@dataclass(frozen=True, kw_only=True)
class NvdecCaps:
    supported: bool
    min_size: tuple[int, int]
    max_size: tuple[int, int]

    def refuses(self, codec: str, depth: int, width: int, height: int) -> str | None:
        """Why NVDEC will not decode this clip, in its own terms; None when it will."""
        what = f"{codec} {depth}-bit 4:2:0"
        if not self.supported:
            return f"NVDEC here does not decode {what} (cuvidGetDecoderCaps: not supported)"
        (min_w, min_h), (max_w, max_h) = self.min_size, self.max_size
        if not (min_w <= width <= max_w and min_h <= height <= max_h):
            return (
                f"NVDEC decodes {what} from {min_w}x{min_h} to {max_w}x{max_h} (cuvidGetDecoderCaps), "
                f"not {width}x{height}"
            )
        return None


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


def _aligned(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


# NVDEC's own surfaces have 256-byte-aligned rows (2048 for 1920 wide, 1536 for 1366); the copy keeps
# that pitch and starts CbCr on a page, as a decoder's surface would.
_PITCH_ALIGNMENT = 256
_PLANE_ALIGNMENT = 4096
_SW_FORMAT_DEPTHS = {"nv12": 8, "p010le": 10}
# cuviddec.h: cudaVideoCodec values and cudaVideoChromaFormat_420.
_CUVID_CODECS = {"h264": 4, "hevc": 8, "hevc-main10": 8, "vp9": 10, "av1": 11}
_CHROMA_420 = 1


class CudaSource:
    """NVDEC (FFmpeg's cuda hwaccel through PyAV; frames stay in CUDA memory) → a device-side copy into
    a VkBuffer that Vulkan exported and CUDA imported. Honest label: `cuda`, zero_copy False."""

    name = "cuda"
    zero_copy = False

    def __init__(self, device: Device) -> None:
        self.device = device
        self._cuda: Cuda | None = None
        self._shared: SharedBuffer | None = None
        self._imported: ImportedMemory | None = None
        self._context = 0  # the CUDA context the import lives in: the frames' own
        self._nvdec: dict[tuple[str, int], NvdecCaps] = {}

    def available(self, clip: ClipRecord) -> str | None:
        from vkzc.conformance.external import OPAQUE_FD, buffer_support
        from vkzc.decode.sources import hw_config_missing, pyav_missing

        reason = pyav_missing()
        if reason:
            return reason
        reason = hw_config_missing(NATIVE_DECODERS[clip.codec], "cuda")
        if reason:
            return reason
        reason = unavailable()
        if reason:
            return reason
        try:
            caps = self._caps(clip.codec, clip.depth)
        except OSError:
            return f"no {NVCUVID}: NVIDIA's video decode library is not installed here"
        except CudaError as e:
            return f"NVDEC does not answer: {e}"
        reason = caps.refuses(clip.codec, clip.depth, clip.width, clip.height)
        if reason:
            return reason
        support = buffer_support(self.device.physical, OPAQUE_FD)
        if not support.exportable:
            return f"{self.device.physical.identity.name} cannot export OPAQUE_FD buffer memory for CUDA"
        return None

    def _caps(self, codec: str, depth: int) -> NvdecCaps:
        if (codec, depth) not in self._nvdec:
            # Device 0: the one FFmpeg's cuda hwaccel opens when given no device.
            self._nvdec[codec, depth] = Cuda().decoder_caps(0, codec, depth)
        return self._nvdec[codec, depth]

    def frames(self, clip: ClipRecord, path: Path) -> Iterator[VulkanBufferFrame]:
        from av.codec.hwaccel import HWAccel

        hwaccel = HWAccel("cuda", allow_software_fallback=False, is_hw_owned=True)
        try:
            for index, frame in enumerate(hw_decoded(path, NATIVE_DECODERS[clip.codec], hwaccel)):
                yield self._frame(clip, index, frame)
        finally:
            # The CUDA context is FFmpeg's: it goes with the decoder, so CUDA lets go of the memory now
            # (Vulkan frees it with the device's scope).
            self._release()

    def _frame(self, clip: ClipRecord, index: int, frame: Any) -> VulkanBufferFrame:
        if frame.format.name != "cuda":
            raise RuntimeError(f"NVDEC gave {frame.format.name} frames, not cuda ones")
        sw_format = frame.sw_format.name if frame.sw_format else "none"
        depth = _SW_FORMAT_DEPTHS.get(sw_format)
        if depth is None or depth != clip.depth:
            raise RuntimeError(f"NVDEC decoded {clip.name} to {sw_format}, not {clip.depth}-bit 4:2:0")
        layout = self._layout(depth, frame.width, frame.height)
        self._copy(frame, layout)
        return VulkanBufferFrame(index=index, depth=depth, buffer=self._buffer(layout).buffer, layout=layout)

    @staticmethod
    def _layout(depth: int, width: int, height: int) -> YuvLayout:
        from vkzc.conformance.yuv import YuvLayout

        pitch = _aligned(width * (1 if depth == 8 else 2), _PITCH_ALIGNMENT)
        return YuvLayout(
            depth=depth,
            width=width,
            height=height,
            y_offset=0,
            y_pitch=pitch,
            uv_offset=_aligned(pitch * height, _PLANE_ALIGNMENT),
            uv_pitch=pitch,
        )

    def _buffer(self, layout: YuvLayout) -> SharedBuffer:
        """The one exported buffer frames are copied into (made for the first frame: a clip's frames
        share their size), imported into CUDA once."""
        from vkzc.conformance.external import OPAQUE_FD, buffer_support, export_buffer, memory_fd
        from vkzc.conformance.kernels import STORAGE
        from vkzc.vk.binding import load

        if self._shared is None:
            support = buffer_support(self.device.physical, OPAQUE_FD)
            usage = STORAGE | load().VK_BUFFER_USAGE_TRANSFER_SRC_BIT
            self._shared = export_buffer(self.device, layout.size, OPAQUE_FD, support, usage=usage)
            assert self._cuda is not None
            self._imported = ImportedMemory.from_fd(
                self._cuda,
                memory_fd(self.device, self._shared.memory, OPAQUE_FD),
                self._shared.memory.size,
                dedicated=support.dedicated_only,
            )
        return self._shared

    def _copy(self, frame: Any, layout: YuvLayout) -> None:
        """Both planes, GPU to GPU, in the CUDA context that owns the frame, finished before returning."""
        from vkzc.conformance.external import device_uuid

        if self._cuda is None:
            self._cuda = Cuda()
        cuda = self._cuda
        context, ordinal = cuda.pointer_owner(frame.planes[0].buffer_ptr)
        if self._imported is not None and context != self._context:
            raise RuntimeError("NVDEC's frames moved to another CUDA context within one clip")
        self._context = context
        if cuda.device_uuid(ordinal) != device_uuid(self.device.physical):
            raise RuntimeError(
                f"NVDEC decoded on CUDA device {ordinal}, which is not {self.device.physical.identity.name}"
            )
        with cuda.current(context):
            target = self._buffer(layout)
            assert self._imported is not None and target.buffer.size >= layout.size
            planes = (
                (layout.y_offset, layout.y_pitch, layout.height),
                (layout.uv_offset, layout.uv_pitch, layout.height // 2),
            )
            for plane, (offset, pitch, rows) in zip(frame.planes, planes, strict=True):
                cuda.copy_2d(
                    source=plane.buffer_ptr,
                    source_pitch=plane.line_size,
                    target=self._imported.pointer + offset,
                    target_pitch=pitch,
                    row_bytes=layout.row_bytes,
                    rows=rows,
                )
            cuda.synchronize()

    def _release(self) -> None:
        if self._cuda is not None and self._imported is not None:
            with self._cuda.current(self._context):
                self._cuda.synchronize()
                self._imported.release(self._cuda)
        self._imported = None
        self._shared = None

    def close(self) -> None:
        self._release()

"""The VkInstance, and the physical devices the loader sees (VK_DRIVER_FILES / VK_ICD_FILENAMES honoured)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from vkzc.errors import ConfigurationError, EnvironmentMissing
from vkzc.vk.binding import load
from vkzc.vk.errors import MissingExtension, VulkanError, call

vk = load()

API_VERSION = vk.VK_MAKE_VERSION(1, 3, 0)

_DEVICE_TYPES = {
    vk.VK_PHYSICAL_DEVICE_TYPE_OTHER: "other",
    vk.VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: "integrated-gpu",
    vk.VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: "discrete-gpu",
    vk.VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: "virtual-gpu",
    vk.VK_PHYSICAL_DEVICE_TYPE_CPU: "cpu",
}
_DRIVER_IDS = {
    value: name.removeprefix("VK_DRIVER_ID_")
    for name, value in vars(vk).items()
    if name.startswith("VK_DRIVER_ID_") and not name.endswith(("_KHR", "MAX_ENUM", "RANGE", "RANGE_SIZE"))
}
_NVIDIA = 0x10DE
_MESA_VERSION = re.compile(r"Mesa (\d+\.\d+\.\d+(?:-devel)?)")


def version_string(version: int) -> str:
    return f"{version >> 22}.{(version >> 12) & 0x3FF}.{version & 0xFFF}"


def driver_version_string(vendor_id: int, version: int) -> str:
    # NVIDIA packs its driver version as 10.8.8.6 bits; everyone else follows VK_MAKE_VERSION.
    if vendor_id == _NVIDIA:
        return f"{version >> 22}.{(version >> 14) & 0xFF}.{(version >> 6) & 0xFF}"
    return version_string(version)


@dataclass(frozen=True, kw_only=True)
class DeviceIdentity:
    """Who a physical device is: what every result record and capability record is labelled with."""

    index: int
    name: str
    vendor_id: int
    device_id: int
    device_type: str
    api_version: str
    driver_version: str
    driver_id: str | None
    driver_name: str | None
    driver_info: str | None
    mesa_version: str | None

    def matches(self, selector: str) -> bool:
        """An index ("0") or a case-insensitive glob on the device or driver name ("*llvmpipe*")."""
        if selector.isdigit():
            return int(selector) == self.index
        pattern = selector.lower()
        return any(
            fnmatch.fnmatchcase(text.lower(), pattern) for text in (self.name, self.driver_name or "") if text
        )


class PhysicalDevice:
    def __init__(self, instance: Instance, handle: Any, index: int) -> None:
        self.instance = instance
        self.handle = handle
        self.index = index

    @cached_property
    def properties(self) -> Any:
        return vk.vkGetPhysicalDeviceProperties(self.handle)

    @cached_property
    def limits(self) -> Any:
        return self.properties.limits

    @cached_property
    def extensions(self) -> frozenset[str]:
        return frozenset(
            e.extensionName for e in call("vkEnumerateDeviceExtensionProperties", self.handle, None)
        )

    @cached_property
    def memory_properties(self) -> Any:
        return vk.vkGetPhysicalDeviceMemoryProperties(self.handle)

    @cached_property
    def identity(self) -> DeviceIdentity:
        props = self.properties
        driver = vk.VkPhysicalDeviceDriverProperties(
            sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES
        )
        driver_known = props.apiVersion >= vk.VK_MAKE_VERSION(1, 2, 0)
        if driver_known:
            self.properties2(driver)
        driver_name = vk.ffi.string(driver.driverName).decode() if driver_known else None
        driver_info = vk.ffi.string(driver.driverInfo).decode() if driver_known else None
        mesa = _MESA_VERSION.search(driver_info or "")
        return DeviceIdentity(
            index=self.index,
            name=props.deviceName,
            vendor_id=props.vendorID,
            device_id=props.deviceID,
            device_type=_DEVICE_TYPES.get(props.deviceType, "other"),
            api_version=version_string(props.apiVersion),
            driver_version=driver_version_string(props.vendorID, props.driverVersion),
            driver_id=_DRIVER_IDS.get(driver.driverID) if driver_known else None,
            driver_name=driver_name,
            driver_info=driver_info,
            mesa_version=mesa.group(1) if mesa else None,
        )

    def properties2(self, *chain: Any) -> Any:
        """vkGetPhysicalDeviceProperties2 with `chain` linked as pNext; the structs are filled in place."""
        props = vk.VkPhysicalDeviceProperties2(sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2)
        link(props, *chain)
        vk.vkGetPhysicalDeviceProperties2(self.handle, vk.ffi.addressof(props))
        return props

    def require(self, extensions: Sequence[str]) -> None:
        missing = [e for e in extensions if e not in self.extensions]
        if missing:
            raise MissingExtension(self.identity.name, missing)


def link(head: Any, *chain: Any) -> Any:
    """Point each struct's pNext at the next one; the caller keeps every struct alive."""
    current = head
    for struct in chain:
        current.pNext = vk.ffi.addressof(struct)
        current = struct
    return head


class Instance:
    """A VkInstance as a context manager."""

    def __init__(self, *, extensions: Sequence[str] = ()) -> None:
        app = vk.VkApplicationInfo(
            sType=vk.VK_STRUCTURE_TYPE_APPLICATION_INFO,
            pApplicationName="vkzc",
            pEngineName="vkzc",
            apiVersion=API_VERSION,
        )
        info = vk.VkInstanceCreateInfo(
            sType=vk.VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
            pApplicationInfo=app,
            ppEnabledExtensionNames=list(extensions),
            enabledExtensionCount=len(extensions),
        )
        try:
            self.handle = call("vkCreateInstance", info, None)
        except VulkanError as e:
            raise EnvironmentMissing(
                f"the Vulkan loader found no usable driver ({e})",
                "install one (mesa-vulkan-drivers gives lavapipe) or check VK_DRIVER_FILES",
            ) from None
        self._procs: dict[str, Any] = {}

    def __enter__(self) -> Instance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.handle is not None:
            vk.vkDestroyInstance(self.handle, None)
            self.handle = None

    @cached_property
    def devices(self) -> list[PhysicalDevice]:
        try:
            handles = call("vkEnumeratePhysicalDevices", self.handle)
        except VulkanError as e:
            # A driver whose hardware is absent fails here with VK_ERROR_INITIALIZATION_FAILED.
            raise EnvironmentMissing(
                f"a Vulkan driver failed to initialise its devices ({e})",
                "check that the device node the driver needs exists and is readable, or pick another driver",
            ) from None
        return [PhysicalDevice(self, h, i) for i, h in enumerate(handles)]

    def proc(self, name: str) -> Any:
        """An instance-level extension entry point, resolved once."""
        if name not in self._procs:
            self._procs[name] = vk.vkGetInstanceProcAddr(self.handle, name)
        return self._procs[name]

    def select(self, selector: str | None) -> list[PhysicalDevice]:
        """The devices a --device selector names (all of them for None); an unknown selector is an error."""
        if not self.devices:
            raise EnvironmentMissing(
                "the Vulkan loader found no device",
                "install a driver (mesa-vulkan-drivers gives lavapipe) or check VK_DRIVER_FILES",
            )
        if selector is None:
            return list(self.devices)
        chosen = [d for d in self.devices if d.identity.matches(selector)]
        if not chosen:
            known = ", ".join(f"{d.index}: {d.identity.name}" for d in self.devices)
            raise ConfigurationError(
                f"--device {selector!r} matches no Vulkan device",
                f"give an index or a name glob; devices here are {known}",
            )
        return chosen

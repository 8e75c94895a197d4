"""vkzc: which zero-copy paths into and out of Vulkan really work, driver by driver."""

__version__ = "0.1.0"

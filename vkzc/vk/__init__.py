"""A small Pythonic layer over the `vulkan` cffi binding, used by every suite case.

Nothing here imports the binding at package import time: a machine without a
Vulkan loader still gets `vkzc --help` and a clear error on first use.
"""

"""The decoder path: decoded frames handed to Vulkan (as dma-bufs, or already in Vulkan memory), read by
the GPU and compared bit-exactly with a software decode."""

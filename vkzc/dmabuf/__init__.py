"""dma-buf exporters: kernel and userspace allocators that hand out dma-buf fds, and CPU access to them.

Each exporter says whether it can work on this machine (and if not, exactly why) and allocates
dma-bufs of a given size; `registry.exporters()` lists them all. A `DmaBuf` is mapped for the
CPU only inside DMA_BUF_IOCTL_SYNC brackets (sync.py), as the kernel's dma-buf contract asks.
"""

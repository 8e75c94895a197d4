# vkzc VM layer: Debian's kernel and initramfs, and the VM's first process, on top of a mesa
# image. The suite layer (suite.Dockerfile) goes on top of this one, so that an edit to vkzc
# rebuilds only that small layer and not the kernel's; vkzc/images/disk.py then turns the
# result into an ext4 disk image that QEMU boots with this kernel (vkzc/runners/qemu.py).
#
#   docker build -f images/vm.Dockerfile --build-arg BASE=vkzc-mesa:sid \
#     --build-arg KERNEL_SUITE=sid -t vkzc-vm:sid images/
#
# Build args:
#   BASE            a mesa image (mesa-debian.Dockerfile or mesa-source.Dockerfile)
#   KERNEL_SUITE    the Debian suite the kernel comes from (sid); when it is not the image's own
#                   suite it is added to apt's sources at a low priority, for the kernel only
#   KERNEL_FLAVOUR  linux-image-<flavour>                                          (amd64)
ARG BASE=vkzc-mesa:sid
FROM ${BASE}
ARG KERNEL_SUITE=sid
ARG KERNEL_FLAVOUR=amd64
# The initramfs only has to find the root disk: a short module list instead of Debian's
# MODULES=most makes it a fraction of the size, which is boot time under TCG (no KVM).
RUN set -eux; \
    export DEBIAN_FRONTEND=noninteractive; \
    if ! grep -Eq "^deb [^ ]+ ${KERNEL_SUITE} " /etc/apt/sources.list; then \
        mirror="$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list)"; \
        echo "deb ${mirror} ${KERNEL_SUITE} main" > /etc/apt/sources.list.d/vkzc-kernel.list; \
        printf 'Package: *\nPin: release n=%s\nPin-Priority: 100\n' "${KERNEL_SUITE}" \
            > /etc/apt/preferences.d/vkzc-kernel; \
    fi; \
    apt-get update; \
    apt-get install -y --no-install-recommends initramfs-tools kmod libgbm1; \
    sed -i 's/^MODULES=.*/MODULES=list/' /etc/initramfs-tools/initramfs.conf; \
    printf '%s\n' virtio_pci virtio_blk ext4 >> /etc/initramfs-tools/modules; \
    apt-get install -y --no-install-recommends "linux-image-${KERNEL_FLAVOUR}/${KERNEL_SUITE}"; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/*; \
    ls -l /boot/
# PID 1 of the VM (kernel argument init=): it mounts the host's per-boot job share and runs the
# init script vkzc wrote there for this boot (vkzc/runners/guest.py). /results is where the
# results share is mounted (the root is read-only in the VM, so the mount point must be here).
RUN set -eux; \
    printf '%s\n' \
        '#!/bin/sh' \
        '# PID 1 of a vkzc VM: run the init script the host wrote for this boot into its job share.' \
        'mountpoint -q /run || mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run' \
        'mkdir -p /run/vkzc-job' \
        'modprobe 9pnet_virtio && modprobe 9p &&' \
        '  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 vkzc-job /run/vkzc-job &&' \
        '  exec /bin/sh /run/vkzc-job/init' \
        'echo "vkzc-vm-init: no job share, nothing to run" >&2' \
        'echo o > /proc/sysrq-trigger' \
        'sleep 60' \
        > /usr/local/sbin/vkzc-vm-init; \
    chmod 0755 /usr/local/sbin/vkzc-vm-init; \
    mkdir /results
# vivid (the runner's `modules`) as one camera: a single video capture node (node_types bit 0) using
# the single-planar API (multiplanar=1), whose buffers come from vmalloc (allocators=0), which
# VIDIOC_EXPBUF exports and any importer can mmap. Its webcam input offers NV12, YUYV and packed
# RGB at 640x480 and 1280x720.
RUN printf 'options vivid n_devs=1 node_types=0x1 multiplanar=1 allocators=0\n' \
        > /etc/modprobe.d/vkzc-vivid.conf
LABEL org.vkzc.kernel.suite=${KERNEL_SUITE}

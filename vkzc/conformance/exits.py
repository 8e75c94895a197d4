"""Exit codes that say why a suite process ended early, from the suite itself or from the launcher
that ran it (kept free of Vulkan imports, so the runner side can read it without a loader)."""

# After a `timeout` record: the device or the process is wedged, go on in a fresh process.
EXIT_AFTER_TIMEOUT = 75

# A launcher's own reports, for ends the suite could not report itself (vkzc/runners/qemu.py).
GUEST_PANIC = 250  # the guest kernel panicked
GUEST_LOST = 251  # the VM ended without reporting the command's status

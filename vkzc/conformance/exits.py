"""How a suite process tells its runner why it ended early (kept free of Vulkan imports, so the
runner side can read it on a machine without a loader)."""

# After a `timeout` record: the device or the process is wedged, go on in a fresh process.
EXIT_AFTER_TIMEOUT = 75

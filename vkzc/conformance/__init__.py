"""What the conformance suite in suite/ stands on: the target device, capability gating, result recording."""

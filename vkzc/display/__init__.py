"""Scanout: KMS outputs and the buffers a display shows (docs/scanout.md)."""

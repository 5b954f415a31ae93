"""OTA: image format, image catalog and selection. No Matter plumbing here."""

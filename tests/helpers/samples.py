"""Where the bundled sample images are."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


SAMPLES = REPO / "sample_images"

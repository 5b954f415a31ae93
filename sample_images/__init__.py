"""Sample OTA images for VID 0xFFF1 / PID 0x8000 (versions 1-3) and an image list; see make_samples.py."""

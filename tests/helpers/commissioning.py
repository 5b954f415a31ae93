"""The test kit's default code, and stopping a process."""

from __future__ import annotations

import signal

MANUAL_CODE = "34970112332"  # passcode 20202021, discriminator 3840: the defaults


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)

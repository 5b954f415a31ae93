"""Commissioning by a manual code on a bench where our own window and the device under test look
alike: both have the test kit's default discriminator (3840) and passcode (20202021), as most dev
kits ship, so DNS-SD for the code's short discriminator finds both. The provider never picks its
own instance, tries every device that answered, and commissions the device under test (another
provider, in the other network namespace). It once ran PASE against itself and failed (or got
"fabric conflict" at AddNOC).
"""

from __future__ import annotations

import time

import pytest

from tests.interop.netns import pair_or_skip
from tests.interop.peers import Provider

MANUAL_CODE = "34970112332"  # passcode 20202021, discriminator 3840: the defaults, on both sides


@pytest.fixture(scope="module")
def netns():
    yield from pair_or_skip()


def _commission_once(netns, tmp_path) -> dict:
    device = Provider(netns, tmp_path / "device", "--port", "5540", namespace=netns.controller)
    device.start()
    ours = Provider(netns, tmp_path / "ours", "--port", "5540", "--commission", MANUAL_CODE, "--stage-timeout", "10")
    try:
        ours.start()
        deadline = time.monotonic() + 90
        while not ours.named("DeviceCommissioned") and not ours.named("CommissioningFailed"):
            assert time.monotonic() < deadline, [e for e in ours.events if e.get("event") == "CommissioningStage"]
            time.sleep(0.1)
        failed = ours.named("CommissioningFailed")
        assert not failed, failed
        # The device now lists a second fabric: ours. Our own has none but the bench's.
        device.wait_until("Fabrics", lambda e: len(e["fabrics"]) == 1, timeout=20)
        assert not [f for e in ours.named("Fabrics") for f in e["fabrics"] if f.get("label") != "bench"]
        return {
            "discovery": [
                e["detail"]
                for e in ours.named("CommissioningStage")
                if e["stage"] == "discovery" and e["state"] == "done"
            ]
        }
    finally:
        ours.kill()
        device.kill()


@pytest.mark.parametrize("run", range(2))
def test_a_device_with_our_own_code_is_commissioned_and_never_ourselves(netns, tmp_path, run):
    found = _commission_once(netns, tmp_path)
    assert found["discovery"], found


@pytest.mark.slow
def test_ten_in_ten(netns, tmp_path):
    for run in range(10):
        _commission_once(netns, tmp_path / str(run))

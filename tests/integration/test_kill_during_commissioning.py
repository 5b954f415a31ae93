"""A provider killed with SIGKILL at each stage of being commissioned by another provider process,
then started again on the same state: it has either the fabrics it had before, or the new fabric
complete with its ACL, never a fabric without one (or a half-commissioned one that was never
committed). Two stages in the suite; twenty runs across every stage in the slow suite."""

from __future__ import annotations

import itertools
import signal

import pytest

from ota_provider.core.fabric.acl import Privilege
from ota_provider.core.node import MatterNode, NodeConfig
from tests.helpers.commissioning import MANUAL_CODE, stop
from tests.helpers.processes import start_provider, wait_for

DEMO_INDEX = 1  # the device's own demo fabric, there before and after: the "old fabric set"

# (stage, state) of the commissioner's CommissioningStage events at which the device is killed.
KILL_POINTS = [
    ("secure pairing (PASE)", "done"),
    ("arm the fail-safe", "done"),
    ("device attestation", "done"),
    ("operational CSR", "done"),
    ("add trusted root", "done"),
    ("add NOC", "started"),
    ("add NOC", "done"),
    ("operational session (CASE)", "started"),
    ("operational session (CASE)", "done"),
    ("commissioning complete", "started"),
]


def _kill_at(tmp_path, stage: str, state: str, *, said: list | None = None) -> tuple[int, ...]:
    """Commission a fresh device, kill it at (stage, state); the fabric indexes it has after a restart,
    each checked to carry an Administer entry. ``said``: restart it as a process first and collect
    what it says at start."""
    device, device_events = start_provider(tmp_path / "device")
    port = next(e["port"] for e in device_events if e["event"] == "Listening")
    ours, events = start_provider(
        tmp_path / "ours", ["--commission", f"{MANUAL_CODE}@[::1]:{port}", "--stage-timeout", "3"]
    )
    try:
        hit = wait_for(
            events,
            lambda ev: any(
                e["event"] == "CommissioningStage" and (e["stage"], e["state"]) == (stage, state) for e in ev
            ),
            timeout=30,
        )
        device.send_signal(signal.SIGKILL)
        device.wait(timeout=10)
        assert hit, [(e.get("stage"), e.get("state")) for e in events if e["event"] == "CommissioningStage"]
    finally:
        stop(ours)
    if said is not None:
        again, again_events = start_provider(tmp_path / "device")
        stop(again)
        said.extend(e for e in again_events if e["event"] == "CommissioningRolledBack")
    node = MatterNode(NodeConfig(storage=tmp_path / "device" / "state", passcode=20202021, discriminator=3840))
    try:
        indexes = tuple(f.fabric_index for f in node.fabrics if f.fabric_index != DEMO_INDEX)
        for index in indexes:
            administrators = [e for e in node.admin.acl.for_fabric(index) if e.privilege == Privilege.ADMINISTER]
            assert administrators, f"fabric {index} has no one to administer it after a kill at {stage} {state}"
        assert node.db.get_setting("failsafe/provisional") is None
        assert node.db.integrity_check() == "ok"
    finally:
        node.stop()
    return indexes


@pytest.mark.parametrize(("stage", "state"), [("add NOC", "done"), ("commissioning complete", "started")])
def test_a_kill_after_addnoc_leaves_the_old_fabrics_or_the_whole_new_one(tmp_path, stage, state):
    """Where the kill lands is a race on loopback (the device may already have completed); whatever
    it hit, the restart says what it rolled back, and only when there was something to roll back."""
    said: list = []
    indexes = _kill_at(tmp_path, stage, state, said=said)
    rolled_back = [(e["fabricIndex"], e["change"]) for e in said]
    assert (indexes, rolled_back) in (((), []), ((), [(2, "added")]), ((2,), []))


@pytest.mark.slow
def test_twenty_kills_across_every_stage(tmp_path):
    outcomes = []
    for run, (stage, state) in zip(range(20), itertools.cycle(KILL_POINTS), strict=False):
        indexes = _kill_at(tmp_path / str(run), stage, state)
        assert indexes in ((), (2,)), (stage, state, indexes)
        outcomes.append((stage, state, indexes))
    print("\n".join(f"killed at {stage} {state}: fabrics {list(indexes)}" for stage, state, indexes in outcomes))

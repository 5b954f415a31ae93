"""Side by side with matter.js's own ledger client (``DclOtaUpdateService``, @matter/protocol
dcl/): the same replica of the ledger, the same devices; both must choose the same version and
accept or refuse the same images. Where the two rules differ on purpose the case says so, and
why ours follows the ledger's documentation."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from ota_provider.core.dcl import events as ev
from ota_provider.core.dcl.sources import LedgerKind, LedgerSource
from ota_provider.core.dcl.updates import LedgerUpdates
from ota_provider.core.ota.extra_images import Ready, Waiting
from tests.dcl.replica import Replica, build_image
from tests.interop.matterjs_peers import MATTERJS, require_matterjs

VID = 0xFFF1
WRONG = base64.b64encode(bytes(32)).decode()


def publish_cases(replica: Replica, work: Path) -> dict[int, tuple[int, str]]:
    """One product per rule: PID -> (the device's current version, what the case checks)."""

    def image(pid: int, version: int, *, says: int | None = None) -> bytes:
        return build_image(work, VID, pid, version if says is None else says)

    replica.publish(image(0x8101, 2), VID, 0x8101, 2)
    replica.publish(image(0x8101, 3), VID, 0x8101, 3, valid=False)
    replica.publish(image(0x8102, 4), VID, 0x8102, 4, low=2, high=3)
    replica.publish(image(0x8103, 2), VID, 0x8103, 2, checksum_text=WRONG)
    replica.publish(image(0x8104, 2, says=7), VID, 0x8104, 2)
    replica.publish(image(0x8105, 2), VID, 0x8105, 2)
    replica.publish(b"", VID, 0x8105, 3, url="", checksum_text="", size=0)
    replica.publish(image(0x8106, 2), VID, 0x8106, 2, checksum_type=7)
    replica.publish(image(0x8107, 2), VID, 0x8107, 2, checksum_type=10)
    replica.publish(image(0x8108, 2), VID, 0x8108, 2, serve=False)
    replica.publish(image(0x8109, 2), VID, 0x8109, 2, url="http://127.0.0.1:9/image.ota")
    return {
        0x8101: (1, "a newer version marked not valid does not hide an older valid one"),
        0x8102: (1, "out of the applicable range"),
        0x8103: (1, "a wrong checksum is refused"),
        0x8104: (1, "a header that does not match the entry is refused"),
        0x8105: (1, "a newer version without an image is passed over"),
        0x8106: (1, "sha-384 checksum"),
        0x8107: (1, "sha3-256 checksum"),
        0x8108: (1, "the image is missing (404)"),
        0x8109: (1, "an image not on https:// is passed over"),
    }


def ours(replica: Replica, storage: Path, cases: dict[int, tuple[int, str]]) -> dict[int, tuple[int | None, bool]]:
    async def scenario():
        events: list = []
        updates = LedgerUpdates([LedgerSource(LedgerKind.URL, replica.url)], storage, emit=events.append)
        updates._ledgers[0].client.retry_pause = 0.0
        verdicts = {}
        for pid, (current, _) in cases.items():
            deadline = asyncio.get_running_loop().time() + 20
            while isinstance(answer := updates.consider(VID, pid, current), Waiting):
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.01)
            looked = [e for e in events if isinstance(e, ev.LedgerLookedUp) and e.product_id == pid]
            verdicts[pid] = (looked[-1].chosen, isinstance(answer, Ready))
        await updates.aclose()
        return verdicts

    return asyncio.run(scenario())


def matterjs(replica: Replica, work: Path, cases: dict[int, tuple[int, str]]) -> dict[int, tuple[int | None, bool]]:
    verdict = work / "verdict.jsonl"
    config = work / "oracle.json"
    devices = [{"vendorId": VID, "productId": pid, "current": current} for pid, (current, _) in cases.items()]
    config.write_text(
        json.dumps({"verdict": str(verdict), "storage": str(work / "mjs"), "url": replica.url, "devices": devices})
    )
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(replica.ca_file), "MATTER_LOG_LEVEL": "warn"}
    command = ["node", "dcl_oracle.mjs", str(config)]
    done = subprocess.run(command, cwd=MATTERJS, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = [json.loads(line) for line in verdict.read_text().splitlines()]
    print(*lines, sep="\n")  # matter.js's reasons, in the test's output when it fails
    return {line["productId"]: (line["chosen"], line["stored"]) for line in lines if line["event"] == "device"}


def both(replica: Replica, work: Path, cases: dict[int, tuple[int, str]]) -> tuple[dict, dict]:
    """Our verdicts and matter.js's for the same devices on the same replica."""
    theirs = matterjs(replica, work, cases)
    os.environ["SSL_CERT_FILE"] = str(replica.ca_file)  # our client trusts the replica's CA as node does
    try:
        return ours(replica, work / "state", cases), theirs
    finally:
        del os.environ["SSL_CERT_FILE"]


def test_we_and_matter_js_choose_the_same_versions_and_refuse_the_same_images(tmp_path):
    require_matterjs()
    replica = Replica(tmp_path / "replica")
    try:
        cases = publish_cases(replica, tmp_path)
        mine, theirs = both(replica, tmp_path, cases)
    finally:
        replica.close()
    differences = {
        f"{pid:#06x} ({cases[pid][1]})": {"ours": mine[pid], "matter.js": theirs.get(pid)}
        for pid in cases
        if mine[pid] != theirs.get(pid)
    }
    assert not differences, differences
    # and the verdicts are the ones each case is about
    assert mine[0x8101] == (2, True)
    assert mine[0x8102] == (None, False)
    assert mine[0x8103] == (2, False) and mine[0x8104] == (2, False) and mine[0x8108] == (2, False)
    assert mine[0x8105] == (2, True) and mine[0x8106] == (2, True) and mine[0x8107] == (2, True)
    assert mine[0x8109] == (None, False)


@pytest.mark.parametrize("checksum_type", [2, 12])
def test_where_we_differ_checksum_types_matter_js_does_not_know(tmp_path, checksum_type):
    """The ledger defines otaChecksumType 1-12 (IANA Named Information); matter.js checks 1, 7, 8 and
    10 only and refuses the rest. We check them all, as the ledger's documentation says."""
    require_matterjs()
    replica = Replica(tmp_path / "replica")
    try:
        image = build_image(tmp_path, VID, 0x8110, 2)
        digest = {2: hashlib.sha256(image).digest()[:16], 12: hashlib.sha3_512(image).digest()}[checksum_type]
        text = base64.b64encode(digest).decode()
        replica.publish(image, VID, 0x8110, 2, checksum_type=checksum_type, checksum_text=text)
        cases = {0x8110: (1, f"checksum type {checksum_type}")}
        mine, theirs = both(replica, tmp_path, cases)
    finally:
        replica.close()
    assert mine[0x8110] == (2, True)
    assert theirs[0x8110] == (2, False)


def test_where_we_differ_a_size_the_ledger_got_wrong(tmp_path):
    """An entry whose otaFileSize is not the image's, its checksum right: matter.js warns and stores
    it (OtaImageReader.file: "size mismatch, but checksum matched"); we refuse it, as the ledger's
    documentation says to check size and checksum, and a wrong size on a published entry is a
    mistake the technician should see, not one a device should be updated past."""
    require_matterjs()
    replica = Replica(tmp_path / "replica")
    try:
        image = build_image(tmp_path, VID, 0x8111, 2)
        replica.publish(image, VID, 0x8111, 2, size=len(image) + 10)
        cases = {0x8111: (1, "wrong size")}
        mine, theirs = both(replica, tmp_path, cases)
    finally:
        replica.close()
    assert mine[0x8111] == (2, False)
    assert theirs[0x8111] == (2, True)

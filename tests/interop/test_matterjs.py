"""A second, independent Matter stack: matter.js 0.17.9 (INTEROP_MATTERJS.md).

The matter.js controller commissions our provider by discovery, reads BasicInformation, writes
the ACL read-modify-write (keeping its admin entry), then commissions a matter.js OTA Requestor
device, writes its DefaultOTAProviders and sends AnnounceOTAProvider. The requestor queries,
downloads over BDX, checks the image, "reboots" into the new version and sends
NotifyUpdateApplied. Provider in one network namespace; controller and requestors in the other,
joined by a veth pair, over IPv6. Skips without root or Node (never in CI).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ota_provider.core.codec.setup_payload import SetupPayload
from tests.dcl.replica import Replica
from tests.interop.matterjs_peers import (
    MatterJsRequestor,
    assert_updated,
    require_matterjs,
    run_matterjs_controller,
    update_image,
)
from tests.interop.netns import CONTROLLER_V4, CONTROLLER_V6, pair_or_skip
from tests.interop.peers import REPO, Provider, ok

PASSCODE, DISCRIMINATOR = 20202021, 3840
ADMINISTER, OPERATE, CASE = 5, 3, 2
UPDATE_AVAILABLE = "UPDATE_AVAILABLE"
MANDATORY_EVENTS = [
    ["BasicInformation", "startUp"],
    ["GeneralDiagnostics", "bootReason"],
    ["AccessControl", "accessControlEntryChanged"],
]


@pytest.fixture(scope="module")
def netns():
    require_matterjs()
    yield from pair_or_skip()


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return update_image(tmp_path_factory.mktemp("image"))


@pytest.fixture
def start_provider(netns, tmp_path, image):
    started = []

    def start(*args: str) -> Provider:
        provider = Provider(netns, tmp_path / "provider-state", *args, image=image[0])
        provider.start()
        started.append(provider)
        return provider

    yield start
    for provider in started:
        provider.stop()


@pytest.fixture
def requestors(netns, tmp_path):
    started: list[MatterJsRequestor] = []

    def start(count: int, **options) -> list[MatterJsRequestor]:
        for n in range(len(started), len(started) + count):
            requestor = MatterJsRequestor(
                netns,
                tmp_path / f"requestor-{n}",
                port=5551 + n,
                passcode=20202031 + n,
                discriminator=3101 + n,
                **options,
            )
            started.append(requestor.start())
        return started[-count:]

    yield start
    for requestor in started:
        requestor.stop()


def commission_provider_and(requestors: list[MatterJsRequestor], acl: bool = True) -> list[dict]:
    """The steps of a bench session with the matter.js controller: commission the provider, read it,
    grant Operate on 0x0029 (keeping the admin entry), then commission each requestor, point it at
    the provider and announce."""
    steps = [
        {
            "do": "commission",
            "passcode": PASSCODE,
            "discriminator": DISCRIMINATOR,
            "as": "provider",
            "timeout": 90,
            "countryCode": "DE",
        },
        {"do": "read-basic", "node": "$provider"},
    ]
    if acl:
        steps += [
            {"do": "write-acl-add-ota", "node": "$provider"},
            {"do": "read-acl", "node": "$provider"},
            {"do": "read-events", "node": "$provider", "events": MANDATORY_EVENTS},
        ]
    for n, requestor in enumerate(requestors):
        steps.append(
            {
                "do": "commission",
                "passcode": requestor.passcode,
                "discriminator": requestor.discriminator,
                "as": f"r{n}",
                "timeout": 90,
            }
        )
    for n in range(len(requestors)):
        steps += [
            {"do": "write-default-providers", "node": f"$r{n}", "provider": "$provider"},
            {"do": "announce", "node": f"$r{n}", "provider": "$provider"},
        ]
    return steps


def history(provider: Provider) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-m", "ota_provider.core.cli", "history", "--json", "--storage", str(provider.storage)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_matterjs_commissions_us_and_its_requestor_updates_from_us(netns, start_provider, requestors, image, tmp_path):
    provider = start_provider()
    (requestor,) = requestors(1)
    storage = tmp_path / "controller"
    outcomes = run_matterjs_controller(netns, storage, commission_provider_and([requestor]), tmp_path)
    provider_node = ok(outcomes[0])["node"]
    basic = ok(outcomes[1])
    assert (basic["vendorId"], basic["productId"], basic["softwareVersion"]) == (0xFFF1, 0x8000, 1)
    ok(outcomes[2])
    acl = ok(outcomes[3])["acl"]
    assert [(e["privilege"], e["authMode"]) for e in acl] == [(ADMINISTER, CASE), (OPERATE, CASE)]
    assert acl[1]["targets"] == [{"cluster": 0x29, "endpoint": None, "deviceType": None}]
    events = {(e["cluster"], e["event"], e["data"].get("changeType")): e for e in ok(outcomes[4])["events"]}
    assert events[("BasicInformation", "startUp", None)]["data"]["softwareVersion"] == 1
    assert events[("GeneralDiagnostics", "bootReason", None)]["data"]["bootReason"] == 0
    added_at_addnoc = events[("AccessControl", "accessControlEntryChanged", 1)]["data"]
    assert added_at_addnoc["adminPasscodeId"] == 0 and added_at_addnoc["latestValue"]["privilege"] == ADMINISTER
    requestor_node = ok(outcomes[5])["node"]
    for outcome in outcomes[6:]:
        ok(outcome)

    assert_updated(requestor, image[1])
    notified = provider.wait_for("NotifyUpdateApplied", timeout=30)[0]
    assert notified["nodeId"] == requestor_node and notified["softwareVersion"] == 2
    (offer,) = [e for e in provider.named("QueryImageResponse") if e["status"] == UPDATE_AVAILABLE]
    assert offer["imageUri"] == f"bdx://{provider_node:016X}/0"
    (transfer,) = provider.named("TransferFinished")
    assert (transfer["result"], transfer["bytesSent"], transfer["blockSize"]) == ("complete", image[2], 1024)
    assert provider.named("ApplyUpdateResponse")[0]["action"] == "PROCEED"
    rows = history(provider)
    kinds = [r["kind"] for r in rows if r["node_id"] == requestor_node]
    assert {"query", "transfer", "apply", "notify"} <= set(kinds), rows

    # The commissioning survives a provider restart (SIGKILL): the controller reads it again.
    provider.kill()
    start_provider()
    again = run_matterjs_controller(
        netns,
        storage,
        [{"do": "read-basic", "node": provider_node}, {"do": "read-acl", "node": provider_node}],
        tmp_path,
    )
    assert ok(again[0])["vendorId"] == 0xFFF1
    assert len(ok(again[1])["acl"]) == 2


def test_a_provider_killed_mid_download_resumes_the_matterjs_transfer(
    netns, start_provider, requestors, image, tmp_path
):
    """kill -9 in the middle of the matter.js requestor's download, a restart at once on the same
    state: the requestor's retransmitted BlockQuery reaches the same session, and the same transfer
    goes on to the end (no BDX timeout, no second transfer, one history row)."""
    flags = ("-P", "5")  # 5 ms a Block: about 6 s for the 1.2 MB image, so there is a middle to kill it in
    traces = tmp_path / "before.jsonl", tmp_path / "after.jsonl"  # every message, for the counters
    provider = start_provider(*flags, "--trace", str(traces[0]))
    (requestor,) = requestors(1)
    for outcome in run_matterjs_controller(
        netns, tmp_path / "controller", commission_provider_and([requestor]), tmp_path
    ):
        ok(outcome)
    started = provider.wait_for("TransferStarted", timeout=60)[0]
    time.sleep(1.5)
    provider.kill()
    killed = time.monotonic()
    again = start_provider("--trace", str(traces[1]))  # unpaced: the rest goes at full speed
    restarted_in = time.monotonic() - killed
    assert_updated(requestor, image[1], timeout=60)
    resumed = again.wait_for("TransferResumed", timeout=30)[0]
    finished = again.wait_for("TransferFinished", timeout=30)[0]
    assert resumed["transfer"] == finished["transfer"] == started["transfer"], (restarted_in, resumed, finished)
    assert 0 < resumed["bytesSent"] < finished["bytesSent"] == image[2]
    assert again.named("TransferStarted") == [] and again.named("TransferFailed") == []
    transfers = [r for r in history(again) if r["kind"] == "transfer"]
    assert len(transfers) == 1 and transfers[0]["details"]["resumed"] == 1, transfers
    # No message counter of ours sent in both lives of the kept session: the restart went past the reservation.
    sent = [_counters_sent(trace) for trace in traces]
    shared = sent[0].keys() & sent[1].keys()
    assert shared and all(not sent[0][session] & sent[1][session] for session in shared), shared
    print(f"restarted in {restarted_in:.2f} s; resumed at {resumed['bytesSent']} of {image[2]} bytes")


def _counters_sent(trace) -> dict[int, set[int]]:
    """The message counters we sent on each CASE session (by local session id), from a --trace file."""
    sent: dict[int, set[int]] = {}
    for line in trace.read_text().splitlines():
        entry = json.loads(line)
        if entry.get("dir") == "out" and entry.get("session", {}).get("kind") == "CASE":
            sent.setdefault(entry["session"]["local"], set()).add(entry["counter"])
    return sent


def test_two_matterjs_requestors_download_at_once(netns, start_provider, requestors, image, tmp_path):
    # Paced at 5 ms a block (6 s a download), and both requestors query within a second of their
    # announcement, so the downloads overlap whatever delays matter.js draws. (At 2 ms a block, a
    # loaded CI machine once let the first download finish before the second requestor's CASE.)
    provider = start_provider("-P", "5")
    pair = requestors(2, timer_cap_ms=1000)
    for outcome in run_matterjs_controller(netns, tmp_path / "controller", commission_provider_and(pair), tmp_path):
        ok(outcome)
    for requestor in pair:
        assert_updated(requestor, image[1])
    transfers = provider.named("TransferFinished")
    assert len(transfers) == 2 and all(t["result"] == "complete" for t in transfers)
    assert len({t["nodeId"] for t in transfers}) == 2
    # Both transfers ran at the same time: each started before either finished.
    order = [e["event"] for e in provider.events if e.get("event") in ("TransferStarted", "TransferFinished")]
    assert order == ["TransferStarted", "TransferStarted", "TransferFinished", "TransferFinished"], order
    assert len(provider.wait_for("NotifyUpdateApplied", count=2, timeout=30)) == 2


def test_without_an_acl_entry_the_matterjs_requestor_is_refused(netns, start_provider, requestors, tmp_path):
    provider = start_provider()
    (requestor,) = requestors(1)
    for outcome in run_matterjs_controller(
        netns, tmp_path / "controller", commission_provider_and([requestor], acl=False), tmp_path
    ):
        ok(outcome)
    refused = requestor.wait_for("queryFailed", 60)
    assert refused["status"] == 0x7E, refused  # UnsupportedAccess
    assert not provider.named("QueryImage") and not requestor.events("applying")


@pytest.mark.parametrize("found_by", ["address", "discovery"])
def test_our_provider_alone_commissions_the_matterjs_requestor_and_updates_it(
    netns, start_provider, requestors, image, found_by
):
    """No other controller: --commission CODE[@[address]:port] brings the matter.js requestor onto our
    bench fabric (found at the address given, or by DNS-SD with the code's discriminator), points it
    at us and announces; it downloads, applies, reboots and reports, and we check it on the device."""
    (requestor,) = requestors(1)
    code = SetupPayload(
        discriminator=requestor.discriminator, passcode=requestor.passcode, vendor_id=0, product_id=0
    ).manual_code()
    target = f"{code}@[{CONTROLLER_V6}]:5551" if found_by == "address" else code
    provider = start_provider("--commission", target, "--exit-when-updated", "--timeout", "300")
    (done,) = provider.wait_for("DeviceCommissioned", timeout=60)
    if found_by == "discovery":
        stages = [e for e in provider.named("CommissioningStage") if e["stage"] == "discovery"]
        assert f"short discriminator {requestor.discriminator >> 8}" in stages[0]["detail"]
        (found,) = [e for e in stages if e["state"] == "done"]  # at one of the requestor's own addresses
        assert any(a in found["detail"] for a in (CONTROLLER_V6, CONTROLLER_V4, "fe80::")), found
    assert "test device" in done["attestation"]  # matter.js's own test DAC chains to a test PAA we trust
    steps = {e["step"]: e for e in provider.wait_for("DeviceStep", count=3, timeout=30)}
    assert steps["read the device"]["state"] == "done" and "Idle" in steps["read the device"]["detail"]
    assert steps["point it at us"]["state"] == "done"
    assert steps["announce"]["state"] == "done", steps["announce"]
    assert_updated(requestor, image[1])
    notified = provider.wait_for("NotifyUpdateApplied", timeout=60)[0]
    assert notified["nodeId"] == done["nodeId"] and notified["softwareVersion"] == 2
    (transfer,) = provider.named("TransferFinished")
    assert transfer["result"] == "complete" and transfer["bytesSent"] == image[2]
    # Verified by asking the device itself after its reboot, then --exit-when-updated ends the run with 0.
    verified = provider.wait_for("DeviceStep", count=4, timeout=60)[-1]
    assert (verified["step"], verified["state"]) == ("verified on the device", "done"), verified
    assert provider.proc.wait(timeout=30) == 0
    # The device's own view, from our subscriptions: Idle on version 1 when we subscribed, and after
    # its reboot (a new subscription) version 2. (What it reports in between depends on when
    # matter.js sends its reports; one run saw UpdateStateProgress 69% still with UpdateState Idle.)
    states = provider.named("DeviceState")
    assert (states[0]["updateState"], states[0]["softwareVersion"]) == ("Idle", 1), states
    assert states[-1]["softwareVersion"] == 2 and states[-1]["progress"] is None, states
    # And its events, in words: the StateTransition into Downloading, and VersionApplied after the reboot.
    events = [(e["deviceEvent"], e["detail"]) for e in provider.named("DeviceEvent")]
    assert any(name == "StateTransition" and "-> Downloading" in detail for name, detail in events), events
    assert ("VersionApplied", "now running version 2 (product 0x8000)") in events, events


def test_the_add_device_dialog_lists_matterjs_devices_live_and_commissions_the_picked_one(
    netns, requestors, image, tmp_path
):
    """The dashboard in the provider's namespace, over the real engine: the Add-device dialog lists
    both matter.js devices from DNS-SD (never our own commissionable instance), the technician picks
    the second and types its code; it is commissioned at the address it was listed with, and leaves
    the list once its window has closed."""
    first, second = requestors(2)
    verdicts = tmp_path / "pilot.jsonl"
    command = [
        *netns.prefix(netns.provider),
        sys.executable,
        "-m",
        "tests.interop.add_device_pilot",
        str(verdicts),
        f"{second.discriminator},{first.discriminator}",  # pick the second, once both are listed
        str(second.passcode),
        "--",
        "-f",
        image[0],
        "--storage",
        str(tmp_path / "provider-state"),
    ]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=240, check=False)
    lines = [json.loads(line) for line in verdicts.read_text().splitlines()] if verdicts.exists() else []
    assert result.returncode == 0 and len(lines) == 3, (lines, result.stdout[-3000:], result.stderr[-3000:])
    found, done, after = lines
    listed = {row["discriminator"]: row for row in found["found"]}
    assert {first.discriminator, second.discriminator} <= set(listed), found
    assert DISCRIMINATOR not in listed, found  # our own window (discriminator 3840) is never offered
    row = listed[second.discriminator]
    assert (row["vendorId"], row["productId"], row["mode"]) == (0xFFF1, 0x8000, 1), row
    assert done["outcome"] == "commissioned" and done["picked"] == row["instance"], done
    text = " ".join(done["lines"])
    assert "discovery" not in text and "secure pairing (PASE): done" in text, text  # the listed address was used
    assert row["address"].removeprefix("::ffff:") in done["target"], done
    assert "announce: done" in text, text
    assert second.discriminator not in [r["discriminator"] for r in after["after"]], after
    assert first.discriminator in [r["discriminator"] for r in after["after"]], after


def test_multi_admin_our_provider_joins_a_device_another_controller_commissioned(
    netns, start_provider, requestors, image, tmp_path
):
    """The matter.js controller commissions the requestor and opens an enhanced commissioning window
    (as a phone ecosystem does to share a device); our provider joins with that code and updates it;
    the first fabric still works afterwards and was never touched."""
    (requestor,) = requestors(1)
    storage = tmp_path / "controller"
    first = run_matterjs_controller(
        netns,
        storage,
        [
            {
                "do": "commission",
                "passcode": requestor.passcode,
                "discriminator": requestor.discriminator,
                "as": "r",
                "timeout": 90,
            },
            {"do": "open-window", "node": "$r", "seconds": 300, "passcode": 20202099, "discriminator": 3500},
        ],
        tmp_path,
    )
    node = ok(first[0])["node"]
    ok(first[1])
    code = SetupPayload(discriminator=3500, passcode=20202099, vendor_id=0, product_id=0).manual_code()
    provider = start_provider(
        "--commission", f"{code}@[{CONTROLLER_V6}]:5551", "--exit-when-updated", "--timeout", "300"
    )
    provider.wait_for("DeviceCommissioned", timeout=60)
    assert_updated(requestor, image[1])
    assert provider.proc.wait(timeout=60) == 0  # verified on the device
    again = run_matterjs_controller(
        netns,
        storage,
        [
            {"do": "read-basic", "node": node},
            {"do": "read-fabrics", "node": node, "fabricFiltered": False},
            {"do": "read-requestor", "node": node},
        ],
        tmp_path,
    )
    assert ok(again[0])["softwareVersion"] == 2  # the first administrator still reaches it, on the new version
    labels = sorted(f.get("label", "") for f in ok(again[1])["fabrics"])
    assert len(labels) == 2 and "matter.js bench" in labels, labels
    assert ok(again[2])["providers"] == []  # DefaultOTAProviders as the first fabric sees it: ours is not its


def test_after_a_restart_our_provider_follows_its_bench_device_again(netns, start_provider, requestors):
    """The devices are kept: a restarted provider reconnects (CASE) and subscribes again by itself,
    asking only for the device's events after those it showed before (EventFilter)."""
    (requestor,) = requestors(1)
    code = SetupPayload(
        discriminator=requestor.discriminator, passcode=requestor.passcode, vendor_id=0, product_id=0
    ).manual_code()
    first = start_provider("--commission", f"{code}@[{CONTROLLER_V6}]:5551", "--exit-when-updated", "--timeout", "300")
    assert first.proc.wait(timeout=300) == 0
    shown = [e["eventNumber"] for e in first.named("DeviceEvent")]
    again = start_provider()  # same state directory, no --commission
    followed = again.wait_until("DeviceStep", lambda e: e["step"] == "follow the device", timeout=60)
    assert followed["state"] == "done", followed
    state = again.wait_for("DeviceState", timeout=30)[0]
    assert (state["nodeId"], state["softwareVersion"], state["updateState"]) == (0x10, 2, "Idle"), state
    # matter.js keeps the events it emitted since its reboot (VersionApplied among them) in memory:
    # without the filter the new subscription's first report hands them over again.
    time.sleep(2)
    later = [e["eventNumber"] for e in again.named("DeviceEvent")]
    assert len(shown) >= 3 and all(number > max(shown) for number in later), (shown, later)


def test_the_matterjs_requestor_gets_the_ledgers_image(netns, requestors, image, tmp_path, monkeypatch):
    """Our provider with --dcl and no newer local image commissions the matter.js requestor, waits
    for the ledger's image (a replica in the provider's namespace, over HTTPS) before announcing, so
    the device is offered it at once (not told Busy and made to wait two minutes); it downloads it
    over BDX, applies it and reports."""
    replica = Replica(tmp_path / "replica", namespace=netns.provider)
    monkeypatch.setenv("SSL_CERT_FILE", str(replica.ca_file))  # the provider's process inherits it
    replica.publish(Path(image[0]).read_bytes(), 0xFFF1, 0x8000, 2)
    (requestor,) = requestors(1)
    code = SetupPayload(
        discriminator=requestor.discriminator, passcode=requestor.passcode, vendor_id=0, product_id=0
    ).manual_code()
    local = str(REPO / "sample_images" / "sample-fff1-8000-v1.ota")  # not newer than the device's 1
    provider = Provider(
        netns,
        tmp_path / "provider-state",
        *("--dcl", replica.url, "--commission", f"{code}@[{CONTROLLER_V6}]:5551"),
        *("--exit-when-updated", "--timeout", "300"),
        image=local,
    )
    provider.start()
    try:
        try:
            assert_updated(requestor, image[1])
        except AssertionError:
            print(*provider.events[-30:], sep="\n")
            raise
        announce = [e for e in provider.named("DeviceStep") if e["step"] == "announce"]
        assert announce[0]["state"] == "started" and "announced when it is here" in announce[0]["detail"]
        assert announce[-1]["state"] == "done", announce
        answers = provider.named("QueryImageResponse")
        assert answers[-1]["status"] == UPDATE_AVAILABLE and answers[-1]["softwareVersion"] == 2
        assert "from 127.0.0.1" in answers[-1]["reason"]
        (ready,) = provider.named("LedgerImageReady")
        (transfer,) = provider.wait_for("TransferFinished", timeout=30)
        assert transfer["bytesSent"] == image[2] == ready["size"]
        assert provider.proc.wait(timeout=60) == 0
    finally:
        provider.stop()
        replica.close()

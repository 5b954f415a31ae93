"""The provider side of the SDK's OTA certification flows (TC-SU-2.2 to 2.7), run as the scripts run
them, with our drop-in as the provider and matter.js's OTA Requestor as the device under test.

What the scripts do (connectedhomeip ``src/python_testing/TC_SUTestBase.py`` and ``TC_SU_2_x.py``):
start ``chip-ota-provider-app`` with the launcher's argv and wait for "Server initialization
complete"; commission it once with the SDK's Python controller as node ``dut_node_id + 1``
(discriminator 1111) and replace its ACL (``create_acl_entry``); then, step by step, restart it on the
same ``--KVS`` with other flags, announce it to the device (``announce_ota_provider``, again every
so often until the provider prints "OTA Provider received QueryImage"), and check what the device
did, reading the provider's stdout and its app pipe. Here the same controller commissions the
matter.js 0.17.9 requestor (requestor.mjs) as the device; our drop-in runs in the provider's
namespace, the controller and the device in the other. The device's OTA timers run TIME_FACTOR
times faster (the 120 s minimum after Busy, DelayedActionTime), which is what makes the flows fit
in the suite; its verdicts still say what it asked for.

These flows are also where matter.js's handling of Busy (it waits at least 120 s, whatever
DelayedActionTime says) and of AwaitNextAction is checked against this provider.

The module's tests share one bench, as one device on a real bench goes through the scripts in
turn: each test offers the version after the one the device runs. Each prints its steps: what the
provider did and what the device did.
"""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import pytest

from ota_provider.core.api.client import ProviderClient
from ota_provider.core.api.events import TransferFinished, TransferResumed, TransferStarted
from ota_provider.core.ota.events import (
    ApplyUpdateAnswered,
    ApplyUpdateReceived,
    QueryImageAnswered,
    QueryImageReceived,
    UpdateAppliedNotified,
)
from ota_provider.core.ota.image import HeaderFields, create_image
from ota_provider.core.ota.types import ApplyUpdateAction, QueryImageStatus
from ota_provider.core.presentation.sdk_lines import QUERY_LINE
from tests.helpers.cert_launcher import pipe_payload
from tests.interop.conftest import SdkControllerSession
from tests.interop.drop_in import DropIn
from tests.interop.matterjs_peers import TIME_FACTOR, MatterJsRequestor, require_matterjs
from tests.interop.netns import NetnsPair, pair_or_skip
from tests.interop.peers import ok

DUT_NODE = 0x12344321  # the certification framework's default dut_node_id
PROVIDER_NODE = DUT_NODE + 1  # TC_SU_2_2.py: provider_node_id = self.dut_node_id + 1
PASSCODE = 20202021  # both on the default test passcode, as on a bench of dev kits
PROVIDER_DISCRIMINATOR, DUT_DISCRIMINATOR = 1111, 1234  # TC_SU_2_2.py; the requestor app's CI arguments
# UpdateState (OTA Requestor cluster) and ChangeReason
IDLE, QUERYING, DELAYED_ON_QUERY, DOWNLOADING, APPLYING, DELAYED_ON_APPLY = 1, 2, 3, 4, 5, 6
DELAYED_ON_USER_CONSENT = 8
DELAY_BY_PROVIDER = 4
BUSY, NOT_AVAILABLE = QueryImageStatus.BUSY, QueryImageStatus.NOT_AVAILABLE
UPDATE_AVAILABLE = QueryImageStatus.UPDATE_AVAILABLE


@pytest.fixture(scope="module")
def netns():
    require_matterjs()
    yield from pair_or_skip()


class CertBench:
    """One device under test, one controller fabric, one provider state (``/tmp/chip_kvs_provider``
    in the scripts), and the provider process of the current step."""

    def __init__(self, netns: NetnsPair, workdir: Path) -> None:
        self.netns, self.workdir = netns, workdir
        self.kvs = workdir / "chip_kvs_provider"
        self.pipes = workdir / "ota_pipe_in", workdir / "ota_pipe_out"
        self.storage = workdir / "admin_storage.json"
        self.dut = MatterJsRequestor(
            netns,
            workdir / "dut",
            port=5540,
            passcode=PASSCODE,
            discriminator=DUT_DISCRIMINATOR,
            can_consent=True,
            max_restarts=12,
            timer_cap_ms=1000,  # the announce jitter (1..600 s) and back-offs, not the daily query
        )
        self.version = 1  # what the device runs now
        self.provider: DropIn | None = None
        # One controller for the whole bench, as the scripts' one process: started once.
        self.sdk = SdkControllerSession(netns, self.storage, workdir)
        self.steps: list[tuple[str, str, str]] = []

    # ------------------------------------------------------------------ the scripts' verbs

    def image(self, version: int) -> Path:
        path = self.workdir / f"ota-v{version}.ota"
        if not path.exists():
            payload = self.workdir / f"payload-v{version}.bin"
            payload.write_bytes(hashlib.shake_256(b"cert firmware %d" % version).digest(300_000))
            create_image([payload], path, HeaderFields(0xFFF1, 0x8000, version, f"{version}.0.0"), "sha256")
        return path

    def start_provider(self, *flags: str, version: int | None = None) -> DropIn:
        """``start_provider``: a new process on the same KVS, the image of ``version`` (the next
        one by default) and the step's flags, the app pipe as ``extra_args``."""
        self.stop_provider()
        pipes = ["--app-pipe", str(self.pipes[0]), "--app-pipe-out", str(self.pipes[1])]
        image = self.image(version if version is not None else self.version + 1)
        self.provider = DropIn(self.netns, image, kvs=self.kvs, extra=[*flags, *pipes]).start()
        return self.provider

    def stop_provider(self) -> None:
        if self.provider is not None:
            self.provider.stop()
            self.provider = None

    def controller(self, *steps: dict) -> list[dict]:
        return [ok(outcome) for outcome in self.sdk.run(list(steps))]

    def commission(self) -> None:
        """Step 0: the device and the provider on the controller's fabric; the provider's ACL lets
        the device in."""
        self.controller(
            {"do": "commission-discovery", "node": DUT_NODE, "passcode": PASSCODE, "discriminator": DUT_DISCRIMINATOR},
            {
                "do": "commission-discovery",
                "node": PROVIDER_NODE,
                "passcode": PASSCODE,
                "discriminator": PROVIDER_DISCRIMINATOR,
                "timeout": 120,
            },
            {"do": "write-provider-acl", "node": PROVIDER_NODE, "requestor": DUT_NODE},
        )

    def announce_until_queried(self, timeout: float = 90, every: float = 8) -> None:
        """``_announce_until_provider_queried``: announce, and again every ``every`` seconds (60 in
        the scripts) until the provider prints one more QueryImage line."""
        assert self.provider is not None
        before = self.provider.count(QUERY_LINE)
        deadline = time.monotonic() + timeout
        while True:
            # A failed announce is retried, as the scripts retry it (the device may be busy or
            # between sessions).
            step = {"do": "announce-provider", "node": DUT_NODE, "provider": PROVIDER_NODE, "timeout": 20}
            self.sdk.run([step])
            try:
                self.provider.wait_line(QUERY_LINE, before + 1, timeout=every)
                return
            except AssertionError:
                if time.monotonic() > deadline:
                    print(self.dut.log_tail())
                    raise

    def dut_state(self) -> int:
        """The device's UpdateState from its verdicts (a boot starts Idle)."""
        state = IDLE
        for verdict in self.dut.verdicts.read():
            if verdict.get("event") == "state":
                state = verdict["newState"]
            elif verdict.get("event") in ("ready", "restarted"):
                state = IDLE
        return state

    def wait_dut_idle(self, timeout: float = 120) -> float:
        """``_wait_until_idle_before_announce``: an announce to a busy device is dropped."""
        start = time.monotonic()
        while self.dut_state() != IDLE:
            if time.monotonic() - start > timeout:
                print(self.dut.log_tail())
                raise AssertionError(f"the device is still in state {self.dut_state()} after {timeout} s")
            time.sleep(0.1)
        return time.monotonic() - start

    def states_since(self, mark: int) -> list[tuple[int, int]]:
        """(newState, reason) of the device's state verdicts after the first ``mark`` verdicts."""
        verdicts = self.dut.verdicts.read()[mark:]
        return [(v["newState"], v["reason"]) for v in verdicts if v.get("event") == "state"]

    def mark(self) -> int:
        return len(self.dut.verdicts.read())

    def pipe(self, name: str) -> dict:
        return pipe_payload(*self.pipes, name)

    def step(self, case: str, provider: str, device: str) -> None:
        self.steps.append((case, provider, device))
        print(f"{case}: provider {provider}; device {device}")

    def close(self) -> None:
        self.sdk.close()
        self.stop_provider()
        self.dut.stop()


@pytest.fixture(scope="module")
def bench(sdk_python, netns, tmp_path_factory):
    bench = CertBench(netns, tmp_path_factory.mktemp("cert-bench"))
    try:
        bench.dut.start()
        bench.start_provider("-q", "busy", "-t", "60", "-P", "50")  # TC-SU-2.2's step 1 flags
        bench.commission()
        yield bench
    finally:
        bench.close()


def answers(provider: DropIn, count: int = 0) -> list[tuple[QueryImageStatus, int | None]]:
    """(Status, DelayedActionTime) of each QueryImageResponse, once there are ``count``."""
    return [(a.status, a.delayed_action_time) for a in provider.wait_events(QueryImageAnswered, count, timeout=30)]


def update_applied(bench: CertBench, provider: DropIn, timeout: float = 120) -> UpdateAppliedNotified:
    """The device downloaded, applied, rebooted into the next version and said so."""
    target = bench.version + 1
    bench.dut.wait_for("versionApplied", timeout, softwareVersion=target)
    notified = provider.wait_event(UpdateAppliedNotified, timeout=30)
    bench.version = target
    return notified


def kill_mid_download_and_restart(bench: CertBench, provider: DropIn, *flags: str) -> DropIn:
    """SIGKILL once the device downloads, then the next ``start_provider`` at once on the same KVS:
    the device's retransmitted BlockQuery reaches the new process on the kept session and the same
    transfer goes on (an SDK requestor would give up after its BDX timeout instead; matter.js would
    retry the download 3 times, OtaSoftwareUpdateRequestorServer ``#handleDownload``)."""
    started = provider.wait_event(TransferStarted, timeout=30)
    time.sleep(0.5)  # blocks paced at 50 ms (-P 50, the SDK app's poll interval): the image takes 15 s
    provider.kill()
    assert DOWNLOADING in [state for state, _ in bench.states_since(0)]
    again = bench.start_provider(*flags, version=bench.version + 1)
    assert again.wait_event(TransferResumed, timeout=60).snapshot.id == started.snapshot.id
    finished = again.wait_event(TransferFinished, timeout=60)
    assert finished.snapshot.id == started.snapshot.id and finished.snapshot.bytes_sent == finished.snapshot.total
    assert again.of(TransferStarted) == []  # the same transfer, not a new one
    return again


def test_tc_su_2_2_the_device_handles_each_query_image_response(bench):
    """TC-SU-2.2: Busy 60 s; NotAvailable on every query; Busy 180 s then UpdateAvailable; an
    invalid ImageURI; a full update; the same version offered again. The provider is killed
    mid-download after steps 1 and 3, as the scripts kill it."""
    # Step 1: -q busy -t 60 (started so by the bench, as the script starts it before commissioning).
    # The device waits at least 120 s (matter.js: max(DelayedActionTime, 120)), then asks again and,
    # -q/-t shaping the first response only, is offered the update.
    provider = bench.provider
    mark = bench.mark()
    bench.announce_until_queried()
    provider.wait_line(QUERY_LINE, 2, timeout=30)
    assert answers(provider, 2)[:2] == [(BUSY, 60), (UPDATE_AVAILABLE, None)]
    assert (DELAYED_ON_QUERY, DELAY_BY_PROVIDER) in bench.states_since(mark)
    assert bench.dut.wait_for("timer", 10, requestedMs=120_000)["factor"] == TIME_FACTOR
    provider = kill_mid_download_and_restart(bench, provider, "-q", "busy", "-t", "60")
    update_applied(bench, provider)
    bench.step("2.2 step 1", "Busy/60, then UpdateAvailable; SIGKILL mid-BDX, restarted", "waited 120 s; resumed; v2")

    # Step 2: -q updateNotAvailable --persistQueryImageStatus: NotAvailable on every query.
    provider = bench.start_provider("-q", "updateNotAvailable", "--persistQueryImageStatus")
    bench.wait_dut_idle()
    bench.announce_until_queried()
    bench.wait_dut_idle()
    bench.announce_until_queried()
    assert set(answers(provider, 2)) == {(NOT_AVAILABLE, None)}
    bench.wait_dut_idle()
    assert provider.of(TransferStarted) == []
    bench.step("2.2 step 2", "NotAvailable to every query (persisted)", "no transfer, Idle")

    # Step 3: -q busy -t 180, then UpdateAvailable; killed once the device downloads.
    provider = bench.start_provider("-q", "busy", "-t", "180", "-P", "50")
    bench.announce_until_queried()
    provider.wait_line(QUERY_LINE, 2, timeout=30)
    assert answers(provider, 2)[:2] == [(BUSY, 180), (UPDATE_AVAILABLE, None)]
    assert bench.dut.wait_for("timer", 10, requestedMs=180_000)
    provider = kill_mid_download_and_restart(bench, provider, "-q", "busy", "-t", "180")
    update_applied(bench, provider)
    bench.step("2.2 step 3", "Busy/180, then UpdateAvailable; SIGKILL mid-BDX, restarted", "waited 180 s; resumed; v3")

    # Step 4: an invalid BDX ImageURI: no transfer.
    provider = bench.start_provider("-q", "updateAvailable", "-i", "bdx://000000000000000X")
    bench.wait_dut_idle()
    mark = bench.mark()
    bench.announce_until_queried()
    assert provider.wait_event(QueryImageAnswered).image_uri == "bdx://000000000000000X"
    bench.wait_dut_idle()
    time.sleep(1)
    assert provider.of(TransferStarted) == [] and DOWNLOADING not in [s for s, _ in bench.states_since(mark)]
    bench.step("2.2 step 4", "UpdateAvailable, ImageURI bdx://000000000000000X", "no transfer, Idle")

    # Step 6: a full update.
    provider = bench.start_provider("-q", "updateAvailable")
    bench.announce_until_queried()
    update_applied(bench, provider)
    (basic,) = bench.controller({"do": "read-basic", "node": DUT_NODE})
    assert basic["softwareVersion"] == bench.version == 4
    finished = provider.wait_event(TransferFinished)
    assert finished.snapshot.bytes_sent == finished.snapshot.total
    bench.step("2.2 step 6", f"UpdateAvailable; {finished.snapshot.total} bytes over BDX", "applied; reads v4")

    # Step 7: the version it runs, offered again (-f is offered whatever its version): no transfer.
    provider = bench.start_provider("-q", "updateAvailable", version=bench.version)
    bench.wait_dut_idle()
    bench.announce_until_queried()
    offered = provider.wait_event(QueryImageAnswered)
    assert offered.status is UPDATE_AVAILABLE and offered.software_version == bench.version
    bench.wait_dut_idle()
    time.sleep(1)
    assert provider.of(TransferStarted) == []
    bench.step("2.2 step 7", "UpdateAvailable, SoftwareVersion 4 (the one it runs)", "no transfer, stays at v4")


def test_tc_su_2_3_consent_and_a_transfer_that_survives_the_provider(bench):
    """TC-SU-2.3: with -c the provider tells a device that can ask its user to do so; killed mid-BDX
    and restarted, the device's transfer goes on; GetBDXOffset reports the StartOffset of the
    device's ReceiveInit."""
    provider = bench.start_provider("-c", "-P", "50")
    bench.wait_dut_idle()
    mark = bench.mark()
    bench.announce_until_queried()
    assert provider.wait_event(QueryImageReceived).requestor_can_consent is True
    assert provider.wait_event(QueryImageAnswered).user_consent_needed is True
    snapshot = bench.pipe("QueryImageSnapshot")
    assert (snapshot["RequestorCanConsent"], snapshot["UserConsentNeeded"]) == (True, True)
    assert (snapshot["VendorID"], snapshot["ProductID"]) == (0xFFF1, 0x8000)
    assert snapshot["SoftwareVersion"] == bench.version  # the version the device runs, as it asked
    provider.wait_event(TransferStarted, timeout=30)
    # matter.js never sends a StartOffset (OtaSoftwareUpdateRequestorServer builds its ReceiveInit
    # without one): an SDK requestor resuming a download would make StartOffsetBitSet true here.
    assert bench.pipe("GetBDXOffset") == {"StartOffsetBitSet": False, "StartOffset": 0}
    provider = kill_mid_download_and_restart(bench, provider, "-c")
    update_applied(bench, provider)
    assert bench.dut.events("consent")[-1]["version"] == bench.version
    assert (DELAYED_ON_USER_CONSENT, 1) in bench.states_since(mark)
    bench.step("2.3", "UserConsentNeeded; SIGKILL mid-BDX, restarted; GetBDXOffset unset", "asked its user; resumed")


def test_tc_su_2_4_the_update_token_agrees_in_both_pipe_commands(bench):
    """TC-SU-2.4: a plain update; the pipe's QueryImageSnapshot and GetApplyUpdateRequestStatus carry
    the token the provider gave and the device sent back; NotifyUpdateApplied resets the counters."""
    provider = bench.start_provider()
    bench.wait_dut_idle()
    bench.announce_until_queried()
    token = provider.wait_event(QueryImageAnswered).update_token
    assert token and provider.wait_event(ApplyUpdateReceived, timeout=60).update_token == token
    snapshot, status = bench.pipe("QueryImageSnapshot"), bench.pipe("GetApplyUpdateRequestStatus")
    assert snapshot["UpdateToken"] == status["UpdateToken"] == token.hex().upper()
    assert status["NewVersion"] == bench.version + 1 and status["ApplyUpdateRequestSentStatus"] is True
    assert status["ApplyUpdateRequestCount"] == 1
    notified = update_applied(bench, provider)
    assert notified.update_token == token
    after = bench.pipe("GetApplyUpdateRequestStatus")
    assert (after["UpdateToken"], after["NewVersion"]) == (token.hex().upper(), bench.version)
    assert (after["ApplyUpdateRequestSentStatus"], after["ApplyUpdateRequestCount"]) == (False, 0)
    bench.step("2.4", f"token {token.hex().upper()} in both pipe replies", "sent it back in ApplyUpdate and Notify")


def test_tc_su_2_5_apply_update_actions(bench):
    """TC-SU-2.5: Discontinue (the device keeps its version), then AwaitNextAction 60 s and Proceed,
    with GetApplyUpdateRequestStatus polled as the script polls it."""
    provider = bench.start_provider("-a", "discontinue")
    bench.wait_dut_idle()
    bench.announce_until_queried()
    answered = provider.wait_event(ApplyUpdateAnswered, timeout=60)
    assert answered.action is ApplyUpdateAction.DISCONTINUE
    status = bench.pipe("GetApplyUpdateRequestStatus")
    assert (status["ApplyUpdateRequestCount"], status["NewVersion"]) == (1, bench.version + 1)
    bench.wait_dut_idle()
    time.sleep(2)
    assert bench.dut.events("applying") == [] or bench.dut.events("applying")[-1]["version"] == bench.version
    (basic,) = bench.controller({"do": "read-basic", "node": DUT_NODE})
    assert basic["softwareVersion"] == bench.version
    bench.step("2.5 discontinue", "ApplyUpdateResponse Discontinue", f"did not apply, stays at v{bench.version}")
    # matter.js 0.17.9 deletes the discarded image, and every later download in that process then
    # fails with "The blob could not be read": the device is rebooted, as restart_requestor does.
    bench.dut.reboot()

    provider = bench.start_provider("-a", "awaitNextAction", "-p", "60")
    mark = bench.mark()
    bench.announce_until_queried()
    provider.wait_event(ApplyUpdateAnswered, timeout=60)
    polled = bench.pipe("GetApplyUpdateRequestStatus")
    assert polled["ApplyUpdateRequestSentStatus"] is True and polled["ApplyUpdateRequestCount"] >= 1
    update_applied(bench, provider)
    actions = [(a.action, a.delayed_action_time) for a in provider.of(ApplyUpdateAnswered)]
    assert actions == [(ApplyUpdateAction.AWAIT_NEXT_ACTION, 60), (ApplyUpdateAction.PROCEED, 0)]
    assert DELAYED_ON_APPLY in [state for state, _ in bench.states_since(mark)]
    assert len(provider.of(TransferFinished)) == 1  # asked again to apply, without downloading again
    bench.step("2.5 awaitNextAction", "AwaitNextAction/60, then Proceed", f"DelayedOnApply, then v{bench.version}")


def watch(bench: CertBench, until: dict, seconds: float = 60) -> list[dict]:
    """Announce with a subscription to the device's StateTransition and DownloadError events open
    (TC-SU-2.7's EventSubscriptionHandler), until one matches ``until``."""
    step = {"do": "announce-and-watch", "node": DUT_NODE, "provider": PROVIDER_NODE, "until": until}
    (outcome,) = bench.controller({**step, "seconds": seconds, "timeout": seconds + 30})
    return outcome["events"]


STATE_TRANSITION, DOWNLOAD_ERROR = 0, 2  # OTA Requestor event ids


def test_tc_su_2_7_the_devices_events_as_the_script_reads_them(bench):
    """TC-SU-2.7 over the SDK controller's event subscription: Busy with a delay (DelayedOnQuery,
    DelayByProvider), a full update (Querying, Downloading, Applying with the target version), and a
    download that fails (DownloadError): every transfer ended by the provider (the control socket's
    abort, as ``ota-provider ctl abort`` does), so matter.js's three attempts fail at once."""
    provider = bench.start_provider("-q", "busy", "-t", "60")
    bench.wait_dut_idle()
    events = watch(bench, until={"event": STATE_TRANSITION, "newState": APPLYING})
    transitions = [(e["data"]["previousState"], e["data"]["newState"], e["data"]["reason"]) for e in events]
    assert (QUERYING, DELAYED_ON_QUERY, DELAY_BY_PROVIDER) in transitions
    assert (QUERYING, DOWNLOADING, 1) in transitions and transitions[-1][1] == APPLYING
    assert events[-1]["data"]["targetSoftwareVersion"] == bench.version + 1
    update_applied(bench, provider)
    bench.step("2.7 update", "Busy/60, then UpdateAvailable", "StateTransition events over IM, as the script reads")

    provider = bench.start_provider("-P", "50")
    bench.wait_dut_idle()
    stop = threading.Event()
    aborter = threading.Thread(target=_abort_every_transfer, args=(provider, stop), daemon=True)
    aborter.start()
    try:
        events = watch(bench, until={"event": DOWNLOAD_ERROR})
    finally:
        stop.set()
        aborter.join(10)
    errors = [e for e in events if e["event"] == DOWNLOAD_ERROR]
    assert errors and errors[-1]["data"]["softwareVersion"] == bench.version + 1
    assert len(provider.of(TransferStarted)) == 3  # matter.js tries a download three times
    bench.step("2.7 download error", "every transfer aborted (StatusReport)", "3 attempts, then DownloadError")


def _abort_every_transfer(provider: DropIn, stop: threading.Event) -> None:
    aborted: set[int] = set()
    with ProviderClient.attach(f"{provider.kvs}.sock", subscribe=False) as client:
        while not stop.is_set():
            for started in provider.of(TransferStarted):
                if started.snapshot.id not in aborted:
                    aborted.add(started.snapshot.id)
                    client.abort(started.snapshot.id)
            time.sleep(0.05)

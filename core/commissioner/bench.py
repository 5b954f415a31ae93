"""The provider as the commissioner of the devices on its bench: runs commissioning jobs on the
node's own UDP socket, on the bench fabric, and reports each stage as engine events.

The engine owns one :class:`Bench`; it only needs the node's narrow services (:class:`BenchNode`):
its driver (to send), its database (the bench fabric and node ids), joining a fabric whose root we
hold, its IM server (to hand us the devices' reports), its mDNS sockets and its BDX transfers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from ..api.commands import DeviceActionKind
from ..api.events import (
    AttestationQuestion,
    BleCommissionableDevices,
    CommissionableDevices,
    CommissioningFailed,
    CommissioningStage,
    DeviceCommissioned,
    DeviceEvent,
    DeviceMismatch,
    DeviceState,
    DeviceStep,
    DeviceStepKind,
    EngineEvent,
    StepState,
)
from ..api.values import BleCommissionable
from ..dnssd.browser import SERVICE, CommissionableBrowser, CommissionableDevice, find_commissionable
from ..dnssd.operational import find_operational
from ..dnssd.scoping import is_local_address
from ..fabric.table import Fabric
from ..im.client import ImResult, InteractionClient, settle
from ..im.messages import AttributePath, EventPath, ImDecodeError
from ..node_ids import Peer, node_text
from ..ota.catalog import Selection
from ..ota.types import UpdateState, update_state
from ..presentation.words import ble_device_words, socket_address, update_state_name
from ..setup_target import CommissionTarget
from ..transport.ble import BleUnavailable, FoundBleDevice, scan
from .attestation import TrustStore, Verdict
from .bench_fabric import BENCH_LABEL, BenchFabric
from .calls import CallError, DeviceCalls
from .commission import (
    CdSignerLookup,
    CommissionedDevice,
    CommissioningError,
    NetworkSetup,
    RevocationCheck,
    Stage,
    StageReport,
    case_session,
    commission,
)
from .credential_store import CredentialStore
from .device_store import DeviceRecord, DeviceStore
from .mismatch import DISAGREE_SECONDS, MISMATCH_ADVICE, DownloadWatch
from .network_setup import Credentials
from .over_ble import (
    LINK_ERRORS,
    BleSettings,
    LinkLost,
    close_link,
    find_over_ble,
    open_link,
    wants_ble,
    while_linked,
)
from .pointing import (
    BASIC_INFORMATION,
    OTA_REQUESTOR,
    SOFTWARE_VERSION,
    UPDATE_STATE,
    UPDATE_STATE_PROGRESS,
    AnnouncementReason,
    DeviceInfo,
    announce,
    describe_requestor_event,
    our_fabric_index,
    point_at,
    read_device,
    remove_our_fabric,
)

if TYPE_CHECKING:  # only named in BenchNode: the bench never builds them
    from ..bdx.server import BdxServer
    from ..dnssd.advertiser import MatterAdvertiser
    from ..exchange.driver import ExchangeDriver
    from ..fabric.acl import AccessControlEntry
    from ..fabric.authority import FabricAuthority
    from ..im.server import InteractionServer
    from ..storage.database import Database

Selector = Callable[[int, int, int], Selection]  # (VID, PID, current version) -> what we would offer
LEDGER_WAIT = 900.0  # seconds the announce waits for a ledger image still downloading
LEDGER_POLL = 0.25
BLE_SCAN_SECONDS = 3.0  # one scan of the Add-device dialog's BLE list
BLE_GONE_AFTER = 20.0  # seconds unheard before a device leaves that list
BLE_RETRY_SECONDS = 5.0  # after "no BLE here", the next try

__all__ = ["Bench", "BenchNode"]

QUESTION_SECONDS = 45.0  # well inside the device's 60 s fail-safe: an unanswered question is a refusal

log = logging.getLogger(__name__)


class OwnFabrics(Protocol):
    def join_own_fabric(
        self,
        authority: FabricAuthority,
        node_id: int,
        label: str,
        acl_entries: Callable[[int], list[AccessControlEntry]],
    ) -> Fabric: ...


class BenchNode(Protocol):
    """What the bench uses of the node (implemented by :class:`MatterNode`; tests pass less)."""

    db: Database
    driver: ExchangeDriver | None
    im: InteractionServer
    bdx: BdxServer | None

    @property
    def admin(self) -> OwnFabrics: ...

    @property
    def port(self) -> int: ...

    @property
    def advertiser(self) -> MatterAdvertiser | None: ...


class Bench:
    def __init__(
        self,
        node: BenchNode,
        trust: TrustStore,
        *,
        emit: Callable[[EngineEvent], None],
        select: Selector,
        allow_unverified: bool = False,
        timeout: float = 30.0,
        reason: AnnouncementReason = AnnouncementReason.URGENT_UPDATE_AVAILABLE,
        ble: BleSettings | None = None,
    ) -> None:
        self.node = node
        self.ble = ble
        self.trust = trust
        self.revocation: RevocationCheck | None = None  # the ledger's CRLs (--dcl), set by the engine
        self.cd_signer: CdSignerLookup | None = None  # and its CD signers, looked up by key id
        self.emit = emit
        self.select = select
        self.reason = reason
        self.devices = DeviceStore(node.db)
        self.discovery_timeout = 15.0
        self._questions: dict[str, asyncio.Future[bool]] = {}
        # Our subscriptions to devices: their reports arrive unsolicited at the node's IM server.
        self.im_client = InteractionClient(node.driver.manager) if node.driver is not None else None
        if self.im_client is not None:
            node.im.report_sink = self.im_client.on_unsolicited
        self._seen: dict[int, tuple] = {}
        self.allow_unverified = allow_unverified
        self.timeout = timeout
        self._fabric: BenchFabric | None = None
        self._ours: Fabric | None = None
        self.tasks: set[asyncio.Task] = set()
        self._browser: CommissionableBrowser | None = None
        self.disagree_seconds = DISAGREE_SECONDS
        self._ble_heard: dict[str, tuple[FoundBleDevice, float]] = {}  # address -> (device, last heard)
        self._ble_browse: asyncio.Task | None = None
        self._watches: dict[int, DownloadWatch] = {}  # devices that say Downloading: is a transfer of ours running?

    @property
    def _driver(self) -> ExchangeDriver:
        """The node's socket: the bench acts only while the node runs."""
        if self.node.driver is None:
            raise RuntimeError("the provider's node is not running")
        return self.node.driver

    def _spawn(self, work) -> asyncio.Task:
        """A task the bench owns: kept until done, cancelled when the engine stops."""
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def _bench_fabric(self) -> tuple[BenchFabric, Fabric]:
        """Joined on first use, so a provider that never commissions shows no bench fabric."""
        if self._fabric is None or self._ours is None:
            self._fabric = BenchFabric.load_or_create(self.node.db)
            self._ours = self.node.admin.join_own_fabric(
                self._fabric.authority, self._fabric.provider_node_id, BENCH_LABEL, BenchFabric.acl_entries
            )
        return self._fabric, self._ours

    def start(self, target: CommissionTarget, node_id: int | None = None, *, ask: bool = False) -> asyncio.Task:
        return self._spawn(self.commission(target, node_id, ask=ask))

    def start_over_ble(
        self, target: CommissionTarget, address: str, network: str, *, ask: bool = False
    ) -> asyncio.Task:
        """Commission the device heard at BLE ``address`` (picked from the list), giving it the kept
        ``network``; ValueError saying which is unknown."""
        heard = self._ble_heard.get(address.upper())
        if heard is None:
            raise ValueError(f"no device heard at BLE {address} now: pick it again from the list")
        kept = CredentialStore(self.node.db).get(network) if network else None
        if kept is None:
            raise ValueError(
                f"no network named {network!r} kept: add it with `ota-provider networks add-wifi` or `add-thread`"
                if network
                else "a device reached over BLE needs a network: pick one of the kept networks"
            )
        return self._spawn(self.commission(target, ask=ask, ble_device=heard[0], network=kept.credentials))

    def answer(self, target: str, accept: bool) -> bool:
        """The user's answer to an AttestationQuestion; False if none is open for ``target``."""
        question = self._questions.pop(target, None)
        if question is None or question.done():
            return False
        question.set_result(accept)
        return True

    def _acceptor(self, name: str, ask: bool) -> Callable[[Verdict], Awaitable[bool]]:
        """Whether to commission a device whose attestation fails: the flag says yes, or the user is asked."""

        async def accept(verdict: Verdict) -> bool:
            if self.allow_unverified:
                self.emit(
                    CommissioningStage(
                        name,
                        "device attestation",
                        StepState.ACCEPTED,
                        0.0,
                        f"{verdict.describe()}; --allow-unverified-attestation",
                    )
                )
                return True
            if not ask:
                return False
            # The user decides, as chip-tool's bypass lets them; the device's fail-safe runs meanwhile.
            question = self._questions[name] = asyncio.get_running_loop().create_future()
            self.emit(AttestationQuestion(name, verdict.describe()))
            try:
                accepted = await asyncio.wait_for(question, QUESTION_SECONDS)
            except TimeoutError:
                accepted = False
            finally:
                self._questions.pop(name, None)
            if accepted:
                self.emit(
                    CommissioningStage(
                        name,
                        "device attestation",
                        StepState.ACCEPTED,
                        0.0,
                        f"{verdict.describe()}; accepted by the user",
                    )
                )
            return accepted

        return accept

    async def _candidates(self, name: str, target: CommissionTarget, over_ble: bool, settings: BleSettings) -> list:
        """The devices to try for a code, in order: BLE advertisements, or socket addresses."""
        if over_ble:
            return await self._discover_ble(name, target, settings)
        if target.host is not None:
            return [target.address()]
        return [d.addresses[0] for d in await self._discover(name, target)]

    async def commission(
        self,
        target: CommissionTarget,
        node_id: int | None = None,
        *,
        ask: bool = False,
        ble_device: FoundBleDevice | None = None,
        network: Credentials | None = None,
    ) -> CommissionedDevice | None:
        """Commission ``target`` (found as its code says, or the picked ``ble_device``, given ``network``)."""
        name = target.text or "device"
        settings = self.ble or BleSettings()
        if network is not None:
            settings = dataclasses.replace(settings, network=network)
        over_ble = ble_device is not None or wants_ble(target, self.ble)
        try:
            candidates = [ble_device] if ble_device else await self._candidates(name, target, over_ble, settings)
        except (ValueError, BleUnavailable) as exc:
            where = "BLE discovery" if over_ble else "address" if target.host else "discovery"
            self.emit(CommissioningFailed(name, where, str(exc)))
            return None
        bench, ours = self._bench_fabric()

        current: list[Stage] = [Stage.PASE]  # the stage under way, for a BLE link lost meanwhile

        def report(stage: StageReport) -> None:
            if stage.state is StepState.STARTED:
                current[0] = stage.stage
            self.emit(CommissioningStage(name, stage.stage.value, stage.state, stage.seconds, stage.detail))

        accept = self._acceptor(name, ask)
        device_node_id = bench.allocate_node_id(self.node.db, node_id)

        async def run(address: tuple, network: NetworkSetup | None = None) -> CommissionedDevice:
            return await commission(
                self._driver,
                address,
                target.passcode,
                bench,
                ours,
                device_node_id,
                self.trust,
                accept_unverified=accept,
                on_stage=report,
                timeout=self.timeout,
                network=network,
                revocation=self.revocation,
                cd_signer=self.cd_signer,
            )

        device = None
        for number, candidate in enumerate(candidates, 1):
            try:
                if over_ble:
                    device = await self._commission_over_ble(name, candidate, ours, run, current, settings)
                else:
                    device = await run(candidate)
                break
            except CommissioningError as exc:
                if exc.stage in (Stage.PASE, Stage.BLE) and number < len(candidates):  # not the device with this code
                    where = f"BLE {candidate.address}" if over_ble else socket_address(candidate)
                    self.emit(
                        CommissioningStage(
                            name,
                            exc.stage.value,
                            StepState.FAILED,
                            0.0,
                            f"{where}: {exc.reason}; trying the next device ({number + 1} of {len(candidates)})",
                        )
                    )
                    continue
                self.emit(CommissioningFailed(name, exc.stage.value, exc.reason))
                return None
        if device is None:
            return None
        self.emit(
            DeviceCommissioned(
                name, device.node_id, ours.fabric_index, device.vendor_id, device.product_id, device.verdict.describe()
            )
        )
        host, port = device.address[0], device.address[1]
        self.devices.save(
            DeviceRecord(
                device.node_id,
                ours.fabric_index,
                device.vendor_id,
                device.product_id,
                host,
                port,
                device.verdict.describe(),
                time.time(),
            )
        )
        await self.update(
            device.node_id,
            device.fabric_index_on_device,
            DeviceCalls(self._driver, device.session, timeout=self.timeout),
        )
        return device

    async def update(self, node_id: int, fabric_index_on_device: int, calls: DeviceCalls) -> None:
        """Read the device, point it at us and, when we have an image for it, announce ourselves."""

        def step(what: DeviceStepKind, state: StepState, detail: str = "", *, no_image: bool = False) -> None:
            self.emit(DeviceStep(node_id, what, state, detail, no_image))

        try:
            info = await read_device(calls)
        except (TimeoutError, CallError) as exc:
            step(DeviceStepKind.READ, StepState.FAILED, str(exc))
            return
        self.devices.update(
            node_id,
            software_version=info.software_version,
            version_string=info.software_version_string,
            product_name=info.product_name,
            requestor_endpoint=info.requestor_endpoint,
            state=_state_words(info),
        )
        step(
            DeviceStepKind.READ,
            StepState.DONE,
            f"{info.product_name or 'unnamed'}, VID 0x{info.vendor_id:04X} PID "
            f"0x{info.product_id:04X}, version {info.software_version} ({info.software_version_string}), "
            f"{_state_words(info)}",
        )
        if info.requestor_endpoint is None:
            step(DeviceStepKind.POINT, StepState.SKIPPED, "the device has no OTA Requestor cluster: nothing to update")
            return
        bench, _ = self._bench_fabric()
        try:
            await point_at(calls, info.requestor_endpoint, bench.provider_node_id, fabric_index_on_device)
        except (TimeoutError, CallError) as exc:
            step(DeviceStepKind.POINT, StepState.FAILED, str(exc))
            return
        step(
            DeviceStepKind.POINT,
            StepState.DONE,
            f"DefaultOTAProviders on endpoint {info.requestor_endpoint}: node "
            f"{node_text(bench.provider_node_id)}, endpoint 0",
        )
        await self.follow(node_id, calls.session, info.requestor_endpoint)
        offer = self.select(info.vendor_id, info.product_id, info.software_version)
        if offer.pending is not None:  # announced now, the device would be told Busy and wait 2 min at least
            step(DeviceStepKind.ANNOUNCE, StepState.STARTED, f"{offer.reason}: announced when it is here")
            deadline = time.monotonic() + LEDGER_WAIT
            while offer.pending is not None and time.monotonic() < deadline:
                await asyncio.sleep(LEDGER_POLL)
                offer = self.select(info.vendor_id, info.product_id, info.software_version)
        if not offer.available:
            step(
                DeviceStepKind.ANNOUNCE,
                StepState.SKIPPED,
                f"no image applies ({offer.reason}); the device asks us on its own timer",
                no_image=True,
            )
            return
        if info.update_state is not None and info.state is not UpdateState.IDLE:
            state = update_state_name(info.state)
            why = (
                f"the device is {state}: an SDK requestor ignores AnnounceOTAProvider unless Idle; "
                "it asks us when it is Idle again"
            )
            step(DeviceStepKind.ANNOUNCE, StepState.SKIPPED, why)
            return
        try:
            await announce(
                calls, info.requestor_endpoint, bench.provider_node_id, bench.authority.vendor_id, self.reason
            )
        except (TimeoutError, CallError) as exc:
            step(DeviceStepKind.ANNOUNCE, StepState.FAILED, str(exc))
            return
        when = "about 1 s" if self.reason == AnnouncementReason.URGENT_UPDATE_AVAILABLE else "1 to 600 s"
        step(
            DeviceStepKind.ANNOUNCE,
            StepState.DONE,
            f"{self.reason.name.replace('_', ' ').lower()}, offering "
            f"{offer.entry.software_version_string if offer.entry else ''}; an SDK requestor queries after {when}",
        )

    def _is_ours(self, device: CommissionableDevice) -> bool:
        """Our own commissionable instance, by its name or by where it answers (our UDP port on an
        address of this host). Asked of each device as it is found: at start-up our own record may
        still be on its way out when discovery begins, so a list of names taken once missed it."""
        advertiser = self.node.advertiser
        names = {n.lower().removesuffix("." + SERVICE) for n in (advertiser.advertised if advertiser else ())}
        if device.instance.lower() in names:
            return True
        return device.port == self.node.port and any(is_local_address(a[0]) for a in device.addresses)

    def browse(self, active: bool) -> None:
        """Start or stop the live list of commissionable devices (the Add-device dialog's), which
        arrives as CommissionableDevices events (DNS-SD) and BleCommissionableDevices events.
        Browsing costs mDNS queries and radio time, so only while asked."""
        if not active:
            if self._ble_browse is not None:
                self._ble_browse.cancel()
                self._ble_browse = None
            if self._browser is not None:
                browser, self._browser = self._browser, None
                self._spawn(browser.stop())
            return
        if self._ble_browse is None:
            self._ble_browse = self._spawn(self._browse_ble())
        if self._browser is None:
            advertiser = self.node.advertiser  # its mDNS sockets, on its interfaces
            if advertiser is None:
                raise ValueError("DNS-SD is off in this provider: give the device's address, CODE@HOST[:PORT]")
            self._browser = CommissionableBrowser(
                lambda devices: self.emit(CommissionableDevices(devices)),
                zeroconf=advertiser.zeroconf,
                exclude=self._is_ours,
            )
            self._spawn(self._browser.start())

    async def _browse_ble(self) -> None:
        """The BLE side of the live list: a scan after another, a device listed while heard within
        the last BLE_GONE_AFTER seconds, the kept networks beside them. No BLE here: one event says
        why, and the scan is tried again now and then."""
        adapter = self.ble.adapter if self.ble is not None else None
        networks = CredentialStore(self.node.db).choices()
        shown: tuple[BleCommissionable, ...] | None = None
        while True:
            try:
                heard = await scan(adapter, BLE_SCAN_SECONDS)
            except BleUnavailable as exc:  # said once; tried again, as an adapter may be plugged in
                if shown != ():
                    shown = ()
                    self.emit(BleCommissionableDevices((), networks, str(exc)))
                await asyncio.sleep(BLE_RETRY_SECONDS)
                continue
            now = time.monotonic()
            for device in heard:
                self._ble_heard[device.address.upper()] = (device, now)
            for address, (_, last) in list(self._ble_heard.items()):
                if now - last > BLE_GONE_AFTER:
                    del self._ble_heard[address]
            listed = tuple(_heard(d) for d, _ in sorted(self._ble_heard.values(), key=lambda item: item[0].address))
            if listed != shown:
                shown = listed
                self.emit(BleCommissionableDevices(listed, networks))

    async def _discover_ble(self, name: str, target: CommissionTarget, settings: BleSettings) -> list[FoundBleDevice]:
        """The BLE advertisements answering the code; ValueError saying what was not found."""
        if settings.network is None:
            raise ValueError(
                "a device reached over BLE needs a network to join: give --wifi NAME|SSID or --thread-dataset NAME"
            )
        payload, short = target.payload, target.short_discriminator
        shown = (
            f"{'short ' if short else ''}discriminator {payload.discriminator >> 8 if short else payload.discriminator}"
        )
        adapter = settings.adapter or "the first adapter"
        self.emit(CommissioningStage(name, "BLE discovery", StepState.STARTED, 0.0, f"scanning {adapter} for {shown}"))
        started = time.monotonic()
        devices = await find_over_ble(target, settings.adapter, self.discovery_timeout)
        if not devices:
            raise ValueError(
                f"no BLE advertisement with {shown} within {self.discovery_timeout:g} s on {adapter}: is the "
                "device powered and advertising (most stop after 15 minutes: power-cycle it)?"
            )
        listed = "; ".join(ble_device_words(_heard(d)) for d in devices)
        detail = listed if len(devices) == 1 else f"{len(devices)} devices, tried in this order: {listed}"
        self.emit(CommissioningStage(name, "BLE discovery", StepState.DONE, time.monotonic() - started, detail))
        return devices

    async def _commission_over_ble(
        self, name, found: FoundBleDevice, ours: Fabric, run, current, settings: BleSettings
    ) -> CommissionedDevice:
        """Connect and run BTP, then commission over it: the device's network is given after its NOC
        and it is found on IP by its operational name; the link is closed once CASE runs on IP."""
        if settings.network is None:
            raise CommissioningError(Stage.BLE, "no network to give the device: --wifi or --thread-dataset")
        self.emit(CommissioningStage(name, Stage.BLE.value, StepState.STARTED, 0.0, f"BLE {found.address}"))
        started = time.monotonic()
        try:
            address, link = await open_link(self._driver, found, settings.adapter, self.timeout)
        except LINK_ERRORS as exc:
            reason = str(exc) or type(exc).__name__
            self.emit(CommissioningStage(name, Stage.BLE.value, StepState.FAILED, time.monotonic() - started, reason))
            raise CommissioningError(Stage.BLE, reason) from None
        btp = link.central
        detail = f"BTP segment {btp.segment_size} bytes, window {btp.remote_window}"
        self.emit(CommissioningStage(name, Stage.BLE.value, StepState.DONE, time.monotonic() - started, detail))
        advertiser = self.node.advertiser

        async def find_on_ip(node_id: int) -> list[tuple]:
            instance = f"{ours.compressed_fabric_id.hex().upper()}-{node_id:016X}"
            zeroconf = advertiser.zeroconf if advertiser else None
            return await find_operational(instance, timeout=self.timeout, zeroconf=zeroconf)

        network = NetworkSetup(settings.network, find_on_ip)
        after_join = (Stage.JOIN, Stage.FIND, Stage.CASE, Stage.COMPLETE)
        try:
            return await while_linked(link, run(address, network), lambda: current[0] not in after_join)
        except LinkLost as exc:
            self.emit(CommissioningStage(name, current[0].value, StepState.FAILED, 0.0, str(exc)))
            raise CommissioningError(current[0], f"{exc}: is the device still powered and in range?") from None
        finally:
            await close_link(self._driver, address, link)

    async def _discover(self, name: str, target: CommissionTarget) -> list[CommissionableDevice]:
        """Browse DNS-SD for the code's discriminator: the devices to try, in order; ValueError
        saying what was not found."""
        payload, short = target.payload, target.short_discriminator
        shown = (
            f"{'short ' if short else ''}discriminator {payload.discriminator >> 8 if short else payload.discriminator}"
        )
        self.emit(CommissioningStage(name, "discovery", StepState.STARTED, 0.0, f"DNS-SD browse for {shown}"))
        started = time.monotonic()
        advertiser = self.node.advertiser  # share its mDNS sockets when it has them
        devices = await find_commissionable(
            discriminator=payload.discriminator,
            short=short,
            vendor_id=payload.vendor_id,
            product_id=payload.product_id,
            timeout=self.discovery_timeout,
            zeroconf=advertiser.zeroconf if advertiser else None,
            exclude=self._is_ours,
        )
        if not devices:
            raise ValueError(
                f"no commissionable device with {shown} answered over DNS-SD within "
                f"{self.discovery_timeout:g} s: is its commissioning window open? or give @HOST[:PORT]"
            )
        listed = "; ".join(f"{d.describe()} at {socket_address(d.addresses[0])}" for d in devices)
        detail = listed if len(devices) == 1 else f"{len(devices)} devices, tried in this order: {listed}"
        self.emit(CommissioningStage(name, "discovery", StepState.DONE, time.monotonic() - started, detail))
        return devices

    # ------------------------------------------------------------------ after the update

    def notified(self, peer: Peer, version: int) -> None:
        """NotifyUpdateApplied from ``peer``: if it is one of our bench devices, ask the device itself."""
        record = self.devices.get(peer.node_id)
        if record is None or record.fabric_index != peer.fabric_index:  # not a device of our bench fabric
            return
        self._spawn(self.verify(record, version))

    # ------------------------------------------------------------------ actions on a kept device

    def act(self, node_id: int, action: DeviceActionKind) -> asyncio.Task:
        if self.devices.get(node_id) is None:
            raise ValueError(f"node {node_text(node_id)} is not a device of our bench fabric")
        return self._spawn(self._act(node_id, action))

    async def _act(self, node_id: int, action: DeviceActionKind) -> None:
        """Re-read the device, update it now (point and announce again), or forget it (RemoveFabric
        of our fabric on it, and our record of it)."""
        record = self.devices.get(node_id)
        assert record is not None
        _, ours = self._bench_fabric()
        where = socket_address((record.address, record.port))
        try:
            session = await case_session(self._driver, ours, node_id, (record.address, record.port, 0, 0), self.timeout)
            calls = DeviceCalls(self._driver, session, timeout=self.timeout)
            if action is DeviceActionKind.READ:
                info = await read_device(calls)
                self.devices.update(
                    node_id,
                    software_version=info.software_version,
                    version_string=info.software_version_string,
                    state=_state_words(info),
                )
                self.emit(
                    DeviceStep(
                        node_id,
                        DeviceStepKind.READ,
                        StepState.DONE,
                        f"version {info.software_version} ({info.software_version_string}), {_state_words(info)}",
                    )
                )
            elif action is DeviceActionKind.ANNOUNCE:
                await self.update(node_id, await our_fabric_index(calls), calls)
            else:
                await remove_our_fabric(calls, await our_fabric_index(calls))
                self.devices.delete(node_id)
                self.emit(
                    DeviceStep(
                        node_id,
                        DeviceStepKind.FORGET,
                        StepState.DONE,
                        "our fabric removed from the device; its other fabrics are untouched",
                    )
                )
        except (TimeoutError, CallError, ConnectionError) as exc:
            kind = {DeviceActionKind.READ: DeviceStepKind.READ, DeviceActionKind.ANNOUNCE: DeviceStepKind.ANNOUNCE}.get(
                action, DeviceStepKind.FORGET
            )
            self.emit(DeviceStep(node_id, kind, StepState.FAILED, f"{where}: {exc}"))

    async def verify(self, record: DeviceRecord, version: int, attempts: int = 5) -> bool:
        """A new CASE session to the device (it rebooted) and its own SoftwareVersion: only what the
        device reports marks the update verified."""
        _, ours = self._bench_fabric()
        address = (record.address, record.port, 0, 0)
        reason = ""
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(2.0)  # still rebooting, or its new session parameters settling
            try:
                session = await case_session(self._driver, ours, record.node_id, address, self.timeout)
                info = await read_device(DeviceCalls(self._driver, session, timeout=self.timeout))
            except (TimeoutError, CallError, ConnectionError) as exc:
                reason = str(exc)
                continue
            self.devices.update(
                record.node_id,
                software_version=info.software_version,
                version_string=info.software_version_string,
                state=_state_words(info),
            )
            if info.requestor_endpoint is not None:  # the reboot ended the old subscription
                await self.follow(record.node_id, session, info.requestor_endpoint)
            if info.software_version == version:
                self.emit(
                    DeviceStep(
                        record.node_id,
                        DeviceStepKind.VERIFIED,
                        StepState.DONE,
                        f"it reports version {info.software_version} ({info.software_version_string})",
                    )
                )
                self.devices.update(record.node_id, state="updated")
                return True
            reason = f"it reports version {info.software_version}, not {version}"
            break
        self.emit(DeviceStep(record.node_id, DeviceStepKind.VERIFIED, StepState.FAILED, reason))
        return False

    def reconnect_all(self) -> None:
        """After a restart: follow every kept device with an OTA Requestor again, by itself."""
        for record in self.devices.all():
            if record.requestor_endpoint is not None:
                self._spawn(self._reconnect(record))

    async def _reconnect(self, record: DeviceRecord) -> None:
        _, ours = self._bench_fabric()
        address = (record.address, record.port, 0, 0)
        try:
            session = await case_session(self._driver, ours, record.node_id, address, self.timeout)
        except (TimeoutError, ConnectionError) as exc:
            self.emit(
                DeviceStep(
                    record.node_id,
                    DeviceStepKind.FOLLOW,
                    StepState.FAILED,
                    f"cannot reach it at {socket_address(address)} after our restart: {exc}",
                )
            )
            return
        assert record.requestor_endpoint is not None
        await self.follow(record.node_id, session, record.requestor_endpoint)
        self.emit(DeviceStep(record.node_id, DeviceStepKind.FOLLOW, StepState.DONE, "reconnected after our restart"))

    async def follow(self, node_id: int, session, endpoint: int) -> None:
        """Subscribe to the device's UpdateState, UpdateStateProgress and SoftwareVersion; each
        change becomes a DeviceState event (and the device record's state)."""
        if self.im_client is None:
            return
        paths = [
            AttributePath(endpoint, OTA_REQUESTOR, UPDATE_STATE),
            AttributePath(endpoint, OTA_REQUESTOR, UPDATE_STATE_PROGRESS),
            AttributePath(0, BASIC_INFORMATION, SOFTWARE_VERSION),
        ]
        values: dict = {}

        def seen(new: dict) -> None:
            values.update(new)
            state = values.get((endpoint, OTA_REQUESTOR, UPDATE_STATE))
            now = (
                update_state(state),
                values.get((endpoint, OTA_REQUESTOR, UPDATE_STATE_PROGRESS)),
                values.get((0, BASIC_INFORMATION, SOFTWARE_VERSION)),
            )
            if self._seen.get(node_id) != now:
                self._seen[node_id] = now
                _, ours = self._bench_fabric()
                self.emit(DeviceState(node_id, ours.fabric_index, *now))
                self.devices.update(node_id, state=update_state_name(now[0]))
                if now[0] is UpdateState.DOWNLOADING and node_id not in self._watches:
                    self._watches[node_id] = DownloadWatch(self.disagree_seconds)
                    self._spawn(self._check_downloading(node_id, ours.fabric_index))

        done: asyncio.Future = asyncio.get_running_loop().create_future()

        def reported(report) -> None:
            seen(ImResult(reports=report.reports).values())
            self._device_events(node_id, report.event_reports)

        record = self.devices.get(node_id)
        self.im_client.subscribe(
            session,
            paths,
            0,
            60,
            on_report=reported,
            on_done=settle(done),
            events=[EventPath(endpoint, OTA_REQUESTOR, None)],
            event_min=record.next_event if record else 0,
        )
        self._driver.flush()
        try:
            result = await asyncio.wait_for(done, self.timeout)
        except TimeoutError:
            self.emit(DeviceStep(node_id, DeviceStepKind.FOLLOW, StepState.FAILED, "no answer to the SubscribeRequest"))
            return
        if result.subscription_id is None:
            why = result.error or "subscription refused"
            self.emit(DeviceStep(node_id, DeviceStepKind.FOLLOW, StepState.FAILED, why))
            return
        seen(result.values())
        self._device_events(node_id, result.event_reports)  # what it emitted before we subscribed

    async def _check_downloading(self, node_id: int, fabric_index: int) -> None:
        """While the device says Downloading: flag it (DeviceMismatch) once no transfer of ours has
        run for it for a while, so a stalled requestor is named instead of looking like a hang."""
        watch, loop = self._watches[node_id], asyncio.get_running_loop()
        try:
            while (self._seen.get(node_id) or (None,))[0] is UpdateState.DOWNLOADING:
                bdx = self.node.bdx
                running = bdx is not None and any(t.peer == Peer(fabric_index, node_id) for t in bdx.transfers.values())
                if watch.update(UpdateState.DOWNLOADING, running, loop.time()):
                    self.emit(DeviceMismatch(node_id, fabric_index, watch.seconds, MISMATCH_ADVICE))
                await asyncio.sleep(min(1.0, watch.seconds / 4))
        finally:
            self._watches.pop(node_id, None)

    def _device_events(self, node_id: int, reports) -> None:
        """Each OTA Requestor event in words, once: the highest event number seen is kept, and the
        next subscription asks only for those after it (EventFilter), across our restarts too."""
        _, ours = self._bench_fabric()
        record = self.devices.get(node_id) if reports else None
        next_event = record.next_event if record else 0
        for report in reports:
            try:
                data = report[1]
                path = EventPath.from_tlv(data[0])
                number = data[1]
            except (KeyError, TypeError, ValueError, ImDecodeError):
                continue  # an EventStatusIB, or malformed: nothing to show
            if not isinstance(number, int) or number < next_event:
                continue  # already shown (a device may repeat what it reported in a lost report)
            next_event = number + 1
            if path.cluster != OTA_REQUESTOR or path.event is None:
                continue
            name, detail = describe_requestor_event(path.event, data.get(7))
            self.emit(DeviceEvent(node_id, ours.fabric_index, name, detail, int(number)))
        if record is not None and next_event != record.next_event:
            self.devices.update(node_id, next_event=next_event)

    async def aclose(self) -> None:
        if self._browser is not None:
            await self._browser.stop()
            self._browser = None
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)


def _state_words(info: DeviceInfo) -> str:
    """What the device's OTA Requestor says, for a line and the device record."""
    return "no OTA requestor" if info.requestor_endpoint is None else update_state_name(info.state)


def _heard(device: FoundBleDevice) -> BleCommissionable:
    ad = device.advertisement
    return BleCommissionable(
        device.address, device.name or "", device.rssi, ad.discriminator, ad.vendor_id, ad.product_id
    )

"""The Matter node: storage, fabrics, sessions, exchanges and the secure channel, assembled.

Protocols above the secure channel (Interaction Model, BDX) register with :meth:`register`.
The node runs on the caller's asyncio loop; the engine gives it a loop of its own.

Time: the node has one clock, given to every machine in it, and is itself the one machine its
driver polls (:meth:`MatterNode.next_deadline`, :meth:`MatterNode.poll`): the exchanges' MRP
timers, subscriptions, the fail-safe, BDX idle release and pacing, the commissioning window,
the crash checkpoint and work queued for the next turn (see ``core/timers.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from cryptography.hazmat.primitives import serialization

from .attestation.credentials import AttestationError, DeviceCredentials
from .bdx.messages import BdxError
from .bdx.server import DEFAULT_IDLE_TIMEOUT, BdxServer, TransferListener
from .clusters.access_control import record_acl_changes
from .clusters.basic_information import BASIC_INFORMATION_CLUSTER, SHUT_DOWN, START_UP
from .clusters.general_diagnostics import BOOT_REASON, BOOT_REASON_UNSPECIFIED, GENERAL_DIAGNOSTICS_CLUSTER
from .clusters.ota_provider import OtaProviderCluster
from .clusters.root import build_root_data_model
from .clusters.services import NodeInfo
from .codec import tlv
from .codec.protocols import ProtocolId
from .codec.status_report import BdxStatus
from .codec.tlv import UInt
from .dnssd.advertiser import CommissionableService, MatterAdvertiser
from .exchange.driver import ExchangeDriver
from .exchange.manager import ExchangeManager, ProtocolHandler
from .fabric.acl import AccessControlEntry, SubjectDescriptor
from .fabric.acl_store import AclStore
from .fabric.authority import FabricAuthority
from .fabric.demo import DEMO_LABEL, DemoFabric
from .fabric.failsafe import FailSafe
from .fabric.store import FabricStore
from .fabric.table import Fabric, FabricError
from .im.events import EventLog, EventNumbers, Priority
from .im.server import InteractionServer
from .ota.provider import OtaProvider
from .securechannel.admission import HandshakeQueue
from .securechannel.case_responder import CaseResponder
from .securechannel.pase_credentials import PaseCredentials
from .securechannel.pase_responder import PaseResponder
from .securechannel.server import SecureChannelServer
from .session.secure import AuthMode, SecureSession, SessionParameters
from .storage.counters import PersistentCounter
from .storage.database import DATABASE_NAME, Database, StorageError
from .storage.lock import StateLock
from .storage.sessions import SessionStore
from .storage.transfers import TransferStore
from .timers import Clock, Deadlines, TimerGroup, earliest

__all__ = ["CommissioningWindow", "MatterNode", "NodeConfig"]


def _raw_point(key) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


log = logging.getLogger(__name__)

SLOW_SHARE = 0.5  # of the engine's time, at most, for handshake work while established sessions are busy
PROVISIONAL = "failsafe/provisional"  # what an armed fail-safe covers, until CommissioningComplete


class RolledBack(NamedTuple):
    """What a commissioning cut short by a crash had changed, undone at the next start."""

    fabric_index: int
    change: str  # "added" (AddNOC) or "updated" (UpdateNOC)


PBKDF_ITERATIONS = 1000
CHECKPOINT_SECONDS = 1.0  # how far behind a restart may find the peers' counters and the transfers
DEFAULT_WINDOW_SECONDS = 900  # the spec's maximum basic commissioning window is 15 minutes


@dataclass(frozen=True)
class NodeConfig:
    storage: Path
    passcode: int
    discriminator: int
    port: int = 5540
    host: str | None = None
    vendor_id: int = 0xFFF1
    product_id: int = 0x8000
    allow_ota_from_fabric: bool = False
    database_name: str | None = None  # defaults to DATABASE_NAME in the storage directory
    dnssd: bool = False
    dnssd_interfaces: tuple[str, ...] | None = None
    attestation_files: tuple[Path, Path, Path, Path] | None = None  # DAC, PAI, DAC key, CD


@dataclass
class CommissioningWindow:
    credentials: PaseCredentials
    deadline: float  # on the node's clock
    discriminator: int = 0
    opener: tuple[int, int] | None = None  # (fabric index, vendor id) for an enhanced window
    clock: Clock = field(kw_only=True)  # the node's

    @property
    def seconds_left(self) -> float:
        return max(0.0, self.deadline - self.clock())


class MatterNode:
    def __init__(
        self,
        config: NodeConfig,
        *,
        parameters: SessionParameters | None = None,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        """``clock`` and ``rng`` (MRP jitter, exchange ids) are given by simulations, to replay a run."""
        self.config = config
        self.clock = clock
        database = config.storage / (config.database_name or DATABASE_NAME)
        try:
            config.storage.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot use {config.storage} for the state: {exc.strerror or exc}") from None
        self.state_lock = StateLock(database)  # one provider per state: fabrics and counters are not shared
        self.state_lock.acquire()
        try:
            self.db = Database(database)
        except BaseException:
            self.state_lock.release()
            raise
        self.fabric_store = FabricStore(self.db)
        self.fabrics = self.fabric_store.load()
        self.manager = ExchangeManager(
            unencrypted_counter=PersistentCounter(self.db, "unencrypted-counter"), clock=clock, rng=rng
        )
        self.session_store = SessionStore(self.db)
        self._restore_sessions()
        self.manager.sessions.on_removed = self.session_store.forget
        self._deadlines: Deadlines[str] = Deadlines()  # "window": it closes; "checkpoint": the next one
        self._soon: list[Callable[[], None]] = []  # for the next poll, after what is being sent now
        self._slow_work = HandshakeQueue()  # unauthenticated public-key work, sources in turn
        self._slow_resume = 0.0  # no handshake work before then: established traffic's share
        self._secure_seen = 0  # manager.delivered_secure when the last piece ran
        self._queued_at = 0.0  # when the first of _soon / _slow_work was queued: their deadline
        self._checkpointing = False
        self.parameters = parameters or SessionParameters()
        self.info = NodeInfo(vendor_id=config.vendor_id, product_id=config.product_id)
        self.allow_ota_from_fabric = config.allow_ota_from_fabric
        self.acl_store = AclStore(self.db)
        self.acl = self.acl_store.load()
        self.credentials = self._load_attestation()
        self.failsafe = FailSafe(self._roll_back, clock=clock)
        self.fabric_listeners: list[Callable[[], None]] = []
        self.window: CommissioningWindow | None = None
        self.session_listeners: list[Callable[[SecureSession], None]] = []
        self._credentials = self._load_credentials()
        self.pase = PaseResponder(
            self.manager,
            self._window_credentials,
            local_parameters=self.parameters,
            on_established=self._on_session,
            defer=self.defer_slow,
        )
        self.case = CaseResponder(
            self.manager,
            lambda: list(self.fabrics),
            local_parameters=self.parameters,
            on_established=self._on_session,
            defer=self.defer_slow,
        )
        self.manager.register(ProtocolId.SECURE_CHANNEL, SecureChannelServer(pase=self.pase, case=self.case))
        self.events = EventLog(EventNumbers(self.db), clock=clock)
        self.model = build_root_data_model(self)
        self.im = InteractionServer(self.model, self.acl, clock=clock, manager=self.manager, events=self.events)
        self.manager.register(ProtocolId.INTERACTION_MODEL, self.im)
        self.bdx: BdxServer | None = None
        self.timers = TimerGroup([self.manager, self.im.subscriptions, self.failsafe])  # BDX joins in serve_ota
        self.driver: ExchangeDriver | None = None
        self.advertiser: MatterAdvertiser | None = None
        self._dnssd_task: asyncio.Task | None = None
        self.rolled_back_at_start = self._roll_back_interrupted_commissioning()

    def _load_credentials(self) -> PaseCredentials:
        salt = self.db.get_setting("pase/salt")
        if salt is None:
            salt = secrets.token_bytes(32)
            self.db.set_setting("pase/salt", salt)
        return PaseCredentials.from_passcode(self.config.passcode, salt, PBKDF_ITERATIONS)

    def _load_attestation(self) -> DeviceCredentials:
        if self.config.attestation_files is not None:
            credentials = DeviceCredentials.from_files(*self.config.attestation_files)
            if (credentials.vendor_id, credentials.product_id) != (self.config.vendor_id, self.config.product_id):
                raise AttestationError(
                    f"the DAC is for VID 0x{credentials.vendor_id:04X} PID 0x{credentials.product_id:04X}; "
                    f"start with --vendor-id 0x{credentials.vendor_id:04X} --product-id 0x{credentials.product_id:04X}"
                )
            return credentials
        stored = {name: self.db.get_setting(f"attestation/{name}") for name in ("dac", "pai", "dac_key", "cd")}
        if all(stored.values()):
            try:
                credentials = DeviceCredentials.from_storage(stored)  # type: ignore[arg-type]
            except (ValueError, IndexError, TypeError) as exc:  # our own test DAC, damaged: a new one is made
                log.warning("the stored test attestation credentials are damaged (%s): new ones are made", exc)
            else:
                if (credentials.vendor_id, credentials.product_id) == (self.config.vendor_id, self.config.product_id):
                    return credentials
        credentials = DeviceCredentials.generate(self.config.vendor_id, self.config.product_id)
        with self.db.transaction() as cursor:
            for name, value in credentials.to_storage().items():
                cursor.execute(
                    "INSERT INTO settings (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (f"attestation/{name}", value),
                )
        return credentials

    def _window_credentials(self) -> PaseCredentials | None:
        if self.window is not None and self.window.seconds_left <= 0:
            log.info("commissioning window expired")
            self.window = None
        return self.window.credentials if self.window else None

    def _restore_sessions(self) -> None:
        """The CASE sessions of the previous run, on fabrics we still belong to."""
        fabrics = {fabric.fabric_index for fabric in self.fabrics}
        for session in self.session_store.load():
            if session.fabric_index in fabrics:
                self.manager.add_session(session)
            else:
                self.session_store.forget(session)
        if len(self.manager.sessions):
            log.info("%d CASE session(s) kept from the previous run", len(self.manager.sessions))

    def _checkpoint(self, now: float) -> None:
        """Every second: where the peers' counters and the running transfers are, for a restart."""
        self._deadlines.set("checkpoint", now + CHECKPOINT_SECONDS)
        try:
            self.session_store.checkpoint(list(self.manager.sessions))
            if self.bdx is not None:
                self.bdx.checkpoint()
        except StorageError as exc:  # a full disk costs the crash safety, not the transfers
            log.warning("checkpoint not written: %s", exc)

    def _on_session(self, session: SecureSession) -> None:
        self.session_store.keep(session)
        for listener in self.session_listeners:
            listener(session)

    # ------------------------------------------------------------------ commissioning

    def open_commissioning_window(
        self,
        seconds: float = DEFAULT_WINDOW_SECONDS,
        credentials: PaseCredentials | None = None,
        discriminator: int | None = None,
        opener: tuple[int, int] | None = None,
    ) -> CommissioningWindow:
        self.pase.failed_attempts = 0
        self.window = CommissioningWindow(
            credentials or self._credentials,
            self.clock() + seconds,
            self.config.discriminator if discriminator is None else discriminator,
            opener,
            clock=self.clock,
        )
        self._deadlines.set("window", self.window.deadline)
        self._fabrics_changed()
        return self.window

    def close_commissioning_window(self) -> None:
        self._deadlines.cancel("window")
        self.window = None
        self._fabrics_changed()

    @property
    def window_status(self) -> int:
        window = self.window if self._window_credentials() is not None else None
        if window is None:
            return 0
        return 1 if window.opener is not None else 2

    @property
    def window_opener(self) -> tuple[int, int] | None:
        return self.window.opener if self.window else None

    def commissioning_complete(self, fabric_index: int) -> None:
        """CommissioningComplete: what the fail-safe covered is kept, the window closes and PASE
        sessions end."""
        self.db.delete_setting(PROVISIONAL)
        self.close_commissioning_window()
        for session in list(self.manager.sessions):
            if session.auth_mode == AuthMode.PASE:
                self.call_soon(lambda s=session: self.manager.drop_session(s))

    def _roll_back(self, failsafe: FailSafe) -> None:
        with self.db.transaction():
            if failsafe.added_fabric is not None:
                self.remove_fabric(failsafe.added_fabric)
            if failsafe.updated_fabric is not None:
                self.fabric_store.save(failsafe.updated_fabric)
            self.db.set_setting("commissioning/breadcrumb", bytes(8))
            self.db.delete_setting(PROVISIONAL)
        # The PASE session may be carrying the command that disarmed the fail-safe: end it after the reply.
        for session in list(self.manager.sessions):
            if session.auth_mode == AuthMode.PASE:
                self.call_soon(lambda s=session: self.manager.drop_session(s))

    # ------------------------------------------------------------------ NodeServices

    def get_setting(self, key: str) -> bytes | None:
        return self.db.get_setting(key)

    def set_setting(self, key: str, value: bytes) -> None:
        self.db.set_setting(key, value)

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` at the next poll, after what is being sent now has gone out."""
        self._queue_now()
        self._soon.append(callback)

    def defer_slow(self, source: object, work: Callable[[], None], *, always: bool = False) -> bool:
        """Public-key work (a handshake's step) from ``source``, one piece per poll, sources in turn:
        between two, the loop reads the socket again, so a burst of handshakes never holds up the
        acks and the Blocks of everyone else, and one host's burst never holds up another's
        handshake. False: that source, or everyone, has queued enough (the handshake is answered
        Busy)."""
        self._queue_now()
        return self._slow_work.offer(source, work, always=always)

    def _run(self, work: Callable[[], None]) -> None:
        """A handler's error is logged and counted, never raised out of the poll: the rest of the
        turn's work still runs."""
        try:
            work()
        except Exception:
            log.exception("handler error in queued work")
            self.manager.drops["handler error"] += 1

    def _queue_now(self) -> None:
        if not self._soon and not self._slow_work:
            self._queued_at = self.clock()

    # ------------------------------------------------------------------ time

    def next_deadline(self) -> float | None:
        soon = self._queued_at if self._soon else None
        slow = max(self._queued_at, self._slow_resume) if self._slow_work else None
        return earliest((soon, slow, self._deadlines.next(), self.timers.next_deadline()))

    def poll(self, now: float) -> None:
        """Run every machine's due work, then the node's own: the window, the checkpoint, and
        what was queued for this turn."""
        self.timers.poll(now)
        for key in self._deadlines.pop_due(now):
            if key == "window":
                log.info("commissioning window closed after its timeout")
                self.close_commissioning_window()
            elif key == "checkpoint":
                self._checkpoint(now)
        soon, self._soon = self._soon, []
        for callback in soon:
            self._run(callback)
        if self._slow_work and now >= self._slow_resume:
            self._run_slow(now)
        if self._soon or self._slow_work:
            self._queued_at = now

    def _run_slow(self, now: float) -> None:
        """One piece of handshake work. While established sessions have traffic, handshakes get at
        most SLOW_SHARE of the engine's time: after a piece that took d seconds, the next waits
        d * (1 - share) / share, and the socket is served meanwhile (a PBKDFParamRequest flood at
        300/s otherwise took one turn of the loop in two from every running download)."""
        work = self._slow_work.take()
        if work is None:
            return
        started = time.perf_counter()
        self._run(work)
        spent = time.perf_counter() - started
        if self.manager.delivered_secure != self._secure_seen:
            self._secure_seen = self.manager.delivered_secure
            self._slow_resume = now + spent * (1 - SLOW_SHARE) / SLOW_SHARE

    def replace_acl(
        self,
        fabric_index: int,
        entries: list[AccessControlEntry],
        changed_by: SubjectDescriptor | None = None,
        *,
        record: bool = True,
    ) -> None:
        """Replace a fabric's ACL entries; unless ``record`` is off (our own demo fabric), log an
        AccessControlEntryChanged event for each entry that changed."""
        old = self.acl.for_fabric(fabric_index)
        self.acl_store.replace_fabric(fabric_index, entries)
        if record:
            record_acl_changes(self.events, fabric_index, old, entries, changed_by)

    # ------------------------------------------------------------------ fabrics

    def add_fabric(self, fabric: Fabric) -> None:
        self.save_fabric(fabric)

    def add_provisional_fabric(
        self, fabric: Fabric, entries: list[AccessControlEntry], changed_by: SubjectDescriptor | None = None
    ) -> None:
        """AddNOC: the fabric, its ACL and the fail-safe's record of them in one transaction, so a
        crash leaves either none of them or all three, and the next start rolls back what was never
        committed (Core spec 11.10.7.2: the fail-safe's changes are undone on a reboot, too)."""
        try:
            with self.db.transaction():
                self.fabric_store.save(fabric)
                self.replace_acl(fabric.fabric_index, entries, changed_by)
                self.db.set_setting(PROVISIONAL, json.dumps({"added": fabric.fabric_index}).encode())
        except BaseException:  # nothing was written: the tables in memory say the same
            if self.fabrics.get(fabric.fabric_index) is not None:
                self.fabrics.remove(fabric.fabric_index)
            self.acl.replace_fabric(fabric.fabric_index, [])
            raise
        self._fabrics_changed()

    def update_provisional_fabric(self, fabric: Fabric, previous: Fabric) -> None:
        """UpdateNOC: the new credentials and the previous ones to restore, in one transaction."""
        with self.db.transaction():
            self.fabric_store.save(fabric)
            self.db.set_setting(PROVISIONAL, json.dumps({"updated": FabricStore.to_record(previous)}).encode())
        self._fabrics_changed()

    def _roll_back_interrupted_commissioning(self) -> RolledBack | None:
        """Undo what an armed fail-safe covered when the process died before CommissioningComplete."""
        stored = self.db.get_setting(PROVISIONAL)
        if stored is None:
            return None
        try:
            record = json.loads(stored)
            previous = FabricStore.from_record(record["updated"]) if "updated" in record else None
            added = int(record["added"]) if "added" in record else None
        except (ValueError, KeyError, TypeError, FabricError) as exc:
            log.warning("the record of an interrupted commissioning is unreadable (%s): left as it is", exc)
            self.db.delete_setting(PROVISIONAL)
            return None
        with self.db.transaction():
            if added is not None and self.fabrics.get(added) is not None:
                self.remove_fabric(added)
            if previous is not None:
                self.fabric_store.save(previous)
            self.db.set_setting("commissioning/breadcrumb", bytes(8))
            self.db.delete_setting(PROVISIONAL)
        undone = RolledBack(
            added if added is not None else previous.fabric_index,  # type: ignore[union-attr]
            "added" if added is not None else "updated",
        )
        log.warning("the provider stopped during a commissioning: fabric %d %s then is rolled back", *undone)
        return undone

    def save_fabric(self, fabric: Fabric) -> None:
        self.fabric_store.save(fabric)
        self._fabrics_changed()

    def remove_fabric(self, fabric_index: int) -> None:
        with self.db.transaction():  # a fabric and its ACL go together
            self.fabric_store.remove(fabric_index)
            self.acl_store.remove_fabric(fabric_index)
        self.case.resumption.remove_fabric(fabric_index)
        for session in self.manager.sessions.remove_fabric(fabric_index):
            self.manager.drop_session(session)
        self._fabrics_changed()

    def _fabrics_changed(self) -> None:
        for listener in self.fabric_listeners:
            listener()
        if self.advertiser is not None:
            self._dnssd_task = asyncio.get_running_loop().create_task(self._sync_dnssd())

    async def _sync_dnssd(self) -> None:
        if self.advertiser is None:
            return
        window = self.window
        service = None
        if window is not None:
            service = CommissionableService(
                window.discriminator, self.config.vendor_id, self.config.product_id, 2 if window.opener else 1
            )
        try:
            # The operational record first: a commissioner looks it up before CommissioningComplete.
            await self.advertiser.set_fabrics(list(self.fabrics))
            await self.advertiser.set_commissionable(service)
        except Exception:  # advertising must never take the node down; the failure is logged
            log.exception("DNS-SD update failed")

    def join_demo_fabric(self, demo: DemoFabric) -> Fabric:
        """Join the locally minted demo fabric (once; later starts find it in storage)."""
        return self.join_own_fabric(demo.authority, demo.provider_node_id, DEMO_LABEL, demo.acl_entries)

    def join_own_fabric(
        self,
        authority: FabricAuthority,
        node_id: int,
        label: str,
        acl_entries: Callable[[int], list[AccessControlEntry]],
    ) -> Fabric:
        """Join a fabric whose root we hold (demo, bench) as ``node_id``: once; later starts find it."""
        root_key = authority.root_key.public_key()
        for fabric in self.fabrics:
            if fabric.fabric_id == authority.fabric_id and fabric.root_public_key == _raw_point(root_key):
                return fabric
        fabric = authority.join(node_id, self.fabrics.next_index(), label=label)
        self.save_fabric(fabric)
        self.replace_acl(fabric.fabric_index, acl_entries(fabric.fabric_index), record=False)
        return fabric

    # ------------------------------------------------------------------ OTA

    def serve_ota(
        self,
        provider: OtaProvider,
        *,
        max_block_size: int = 1024,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        on_transfer: TransferListener | None = None,
        pacing: float = 0.0,
    ) -> BdxServer:
        """Answer the OTA Provider commands with ``provider`` and serve its offers over BDX."""

        def authorize(session: SecureSession, designator: bytes) -> Path:
            if session.auth_mode != AuthMode.CASE:
                raise BdxError("BDX is served on operational (CASE) sessions only", BdxStatus.FILE_DESIGNATOR_UNKNOWN)
            return provider.authorize_download((session.fabric_index, session.peer_node_id), designator)

        ota_cluster = self.model.cluster(0, OtaProviderCluster.id)
        assert isinstance(ota_cluster, OtaProviderCluster)  # endpoint 0 always has it (clusters/root.py)
        ota_cluster.attach(provider)
        checkpoints = TransferStore(self.db)
        self.bdx = BdxServer(
            authorize,
            max_block_size=max_block_size,
            idle_timeout=idle_timeout,
            listener=on_transfer,
            pacing=pacing,
            faults=provider.block_fault,
            store=checkpoints,
            clock=self.clock,
        )
        self.timers.add(self.bdx)
        restored = self.bdx.restore(checkpoints.load(), self.manager.sessions.get)
        if restored:
            log.info("%d BDX transfer(s) of the previous run wait for their requestors", restored)
        self.register(ProtocolId.BDX, self.bdx)
        return self.bdx

    # ------------------------------------------------------------------ running

    def register(self, protocol_id: int, handler: ProtocolHandler) -> None:
        self.manager.register(protocol_id, handler)

    async def start(self, driver_class: type[ExchangeDriver] = ExchangeDriver) -> None:
        self.driver = await driver_class.open(self.manager, port=self.config.port, host=self.config.host, machine=self)
        if self.config.dnssd:
            interfaces = list(self.config.dnssd_interfaces) if self.config.dnssd_interfaces else None
            self.advertiser = MatterAdvertiser(self.port, parameters=self.parameters, interfaces=interfaces)
        self.begin()
        self.driver.flush()

    def begin(self) -> None:
        """Everything a start does but open the socket: the boot events, the commissioning window
        of a node nobody has commissioned, the checkpoints. The simulated network of the tests
        calls it alone and then delivers datagrams to :attr:`manager` and polls the node."""
        # The mandatory boot events (Basic Information StartUp, General Diagnostics BootReason).
        self.events.record(
            0,
            BASIC_INFORMATION_CLUSTER,
            START_UP,
            Priority.CRITICAL,
            tlv.Structure({0: UInt(self.info.software_version)}),
        )
        self.events.record(
            0,
            GENERAL_DIAGNOSTICS_CLUSTER,
            BOOT_REASON,
            Priority.CRITICAL,
            tlv.Structure({0: UInt(BOOT_REASON_UNSPECIFIED)}),
        )
        if all(f.label == DEMO_LABEL for f in self.fabrics):  # no commissioner has added us yet
            self.open_commissioning_window()
        else:
            self._fabrics_changed()
        self._checkpointing = True
        self._deadlines.set("checkpoint", self.clock() + CHECKPOINT_SECONDS)

    @property
    def port(self) -> int:
        assert self.driver is not None and self.driver.endpoint is not None
        return self.driver.endpoint.port

    async def aclose(self) -> None:
        """End running transfers with a StatusReport, withdraw the advertisements (goodbye
        packets), then stop."""
        self.events.record(0, BASIC_INFORMATION_CLUSTER, SHUT_DOWN, Priority.CRITICAL, tlv.Structure())
        if self.bdx is not None and self.bdx.transfers and self.driver is not None:
            self.bdx.abort_all()
            self.driver.flush()
            await asyncio.sleep(0.05)  # let the StatusReports be retransmitted once if lost
        if self.advertiser is not None:
            if self._dnssd_task is not None:
                with contextlib.suppress(Exception):
                    await self._dnssd_task
            await self.advertiser.close()
            self.advertiser = None
        self.stop()

    def stop(self) -> None:
        self._deadlines.cancel("window")
        self._deadlines.cancel("checkpoint")
        if self._checkpointing:
            self._checkpointing = False
            with contextlib.suppress(StorageError):
                self.session_store.checkpoint(list(self.manager.sessions))
        if self.driver is not None:
            self.driver.close()
            self.driver = None
        self.db.close()
        self.state_lock.release()

"""The Matter node, assembled: storage, fabrics, sessions, exchanges, the secure channel and the
data model of endpoint 0, each part given exactly the services it uses.

Protocols above the secure channel (Interaction Model, BDX) register with :meth:`register`.
The node runs on the caller's asyncio loop; the engine gives it a loop of its own.

Time: the node has one clock, given to every machine in it, and is itself the one machine its
driver polls (:meth:`MatterNode.next_deadline`, :meth:`MatterNode.poll`): first the protocol
machines (the exchanges' MRP timers, subscriptions, the fail-safe, BDX idle release and pacing),
then the node's own timed parts (the commissioning window, the checkpoints, the work queue).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..bdx.messages import BdxError
from ..bdx.server import DEFAULT_IDLE_TIMEOUT, BdxServer, TransferListener
from ..clusters.basic_information import BASIC_INFORMATION_CLUSTER, SHUT_DOWN, START_UP
from ..clusters.general_diagnostics import BOOT_REASON, BOOT_REASON_UNSPECIFIED, GENERAL_DIAGNOSTICS_CLUSTER
from ..clusters.ota_provider import OtaProviderCluster
from ..clusters.root import build_root_data_model
from ..clusters.services import NodeInfo
from ..codec import tlv
from ..codec.protocols import ProtocolId
from ..codec.status_report import BdxStatus
from ..codec.tlv import UInt
from ..dnssd.advertiser import MatterAdvertiser
from ..exchange.driver import ExchangeDriver
from ..exchange.manager import ExchangeManager, ProtocolHandler, Traced
from ..im.events import EventLog, EventNumbers, Priority
from ..im.server import InteractionServer
from ..node_ids import Peer
from ..ota.provider import OtaProvider
from ..securechannel.case_responder import CaseResponder
from ..securechannel.pase_responder import PaseResponder
from ..securechannel.server import SecureChannelServer
from ..session.secure import AuthMode, SecureSession, SessionParameters
from ..storage.counters import PersistentCounter
from ..storage.database import DATABASE_NAME, Database, StorageError
from ..storage.lock import StateLock
from ..storage.sessions import SessionStore
from ..storage.transfers import TransferStore
from ..timers import Clock, TimerGroup
from .checkpoints import Checkpoints
from .config import NodeConfig
from .dnssd_following import DnssdFollower
from .fabric_admin import FabricAdministration
from .identity import load_attestation, load_pase_credentials
from .window import CommissioningWindows
from .work_queue import WorkQueue

__all__ = ["MatterNode", "NodeDescription"]

log = logging.getLogger(__name__)


@dataclass
class NodeDescription:
    """Who the node is, its settings and its clock (``clusters/services.py``: Described)."""

    info: NodeInfo
    clock: Clock
    settings: Database

    def get_setting(self, key: str) -> bytes | None:
        return self.settings.get_setting(key)

    def set_setting(self, key: str, value: bytes) -> None:
        self.settings.set_setting(key, value)


def _open_database(config: NodeConfig) -> tuple[StateLock, Database]:
    """The state database, locked: one provider per state (fabrics and counters are not shared)."""
    path = config.storage / (config.database_name or DATABASE_NAME)
    try:
        config.storage.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot use {config.storage} for the state: {exc.strerror or exc}") from None
    lock = StateLock(path)
    lock.acquire()
    try:
        return lock, Database(path)
    except BaseException:
        lock.release()
        raise


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
        self.parameters = parameters or SessionParameters()
        self.state_lock, self.db = _open_database(config)
        self.fabric_listeners: list[Callable[[], None]] = []
        self.session_listeners: list[Callable[[SecureSession], None]] = []
        self.dnssd: DnssdFollower | None = None
        self.driver: ExchangeDriver | None = None
        self.bdx: BdxServer | None = None

        self.manager = ExchangeManager(
            unencrypted_counter=PersistentCounter(self.db, "unencrypted-counter"), clock=clock, rng=rng
        )
        self.work = WorkQueue(
            clock=clock, secure_traffic=lambda: self.manager.delivered_secure, on_error=self._count_handler_error
        )
        self.events = EventLog(EventNumbers(self.db), clock=clock)
        self.windows = CommissioningWindows(
            load_pase_credentials(self.db, config.passcode),
            config.discriminator,
            clock=clock,
            on_change=self._window_changed,
        )
        self.pase = PaseResponder(
            self.manager,
            self.windows.pase_credentials,
            local_parameters=self.parameters,
            on_established=self._on_session,
            defer=self.work.defer_slow,
        )
        self.case = CaseResponder(
            self.manager,
            lambda: list(self.admin.fabrics),
            local_parameters=self.parameters,
            on_established=self._on_session,
            defer=self.work.defer_slow,
        )
        self.admin = FabricAdministration(
            self.db,
            self.manager,
            self.events,
            load_attestation(self.db, config),
            clock=clock,
            allow_ota_from_fabric=config.allow_ota_from_fabric,
            call_soon=self.work.call_soon,
            on_change=self._fabrics_changed,
            on_commissioned=self.windows.close_commissioning_window,
            forget_resumption=self.case.resumption.remove_fabric,
        )
        self.fabrics = self.admin.fabrics  # the one table; the clusters and the engine read it
        self.session_store = SessionStore(self.db)
        self._restore_sessions()
        self.manager.sessions.on_removed = self.session_store.forget
        self.manager.register(ProtocolId.SECURE_CHANNEL, SecureChannelServer(pase=self.pase, case=self.case))
        self.info = NodeInfo(vendor_id=config.vendor_id, product_id=config.product_id)
        self.model = build_root_data_model(NodeDescription(self.info, clock, self.db), self.admin, self.windows)
        self.im = InteractionServer(self.model, self.admin.acl, clock=clock, manager=self.manager, events=self.events)
        self.manager.register(ProtocolId.INTERACTION_MODEL, self.im)
        self.checkpoints = Checkpoints([lambda: self.session_store.checkpoint(list(self.manager.sessions))])
        # The protocol machines (BDX joins in serve_ota), then the node's own parts, polled in that
        # order. One flat group: the driver asks it for the next deadline after every datagram.
        self.timers = TimerGroup(
            [self.manager, self.im.subscriptions, self.admin.failsafe, self.windows, self.checkpoints, self.work]
        )
        self.rolled_back_at_start = self.admin.roll_back_interrupted_commissioning()

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

    def _count_handler_error(self) -> None:
        self.manager.drops["handler error"] += 1

    def _on_session(self, session: SecureSession) -> None:
        self.session_store.keep(session)
        for listener in self.session_listeners:
            listener(session)

    def _window_changed(self, opened: bool) -> None:
        if opened:
            self.pase.failed_attempts = 0  # a new window, a new count of failed PASE attempts
        self._fabrics_changed()

    def _fabrics_changed(self) -> None:
        for listener in self.fabric_listeners:
            listener()
        if self.dnssd is not None:
            self.dnssd.follow(list(self.fabrics), self.windows.window)

    # ------------------------------------------------------------------ shortcuts for the front ends

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` at the node's next turn, after what is being sent now has gone out."""
        self.work.call_soon(callback)

    def flush(self) -> None:
        """Send now what the last command queued (a command runs outside the driver's own turn)."""
        if self.driver is not None:
            self.driver.flush()

    def trace_to(self, tracer: Callable[[Traced], None] | None) -> None:
        """Every message in and out, decoded, to ``tracer`` (None: stop)."""
        self.manager.tracer = tracer

    @property
    def advertiser(self) -> MatterAdvertiser | None:
        """The node's mDNS responder, whose sockets discovery shares (None: DNS-SD is off)."""
        return self.dnssd.advertiser if self.dnssd is not None else None

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
            return provider.authorize_download(Peer(session.fabric_index, session.peer_node_id), designator)

        ota_cluster = self.model.cluster(0, OtaProviderCluster.id)
        assert isinstance(ota_cluster, OtaProviderCluster)  # endpoint 0 always has it (clusters/root.py)
        ota_cluster.attach(provider)
        transfers = TransferStore(self.db)
        self.bdx = bdx = BdxServer(
            authorize,
            max_block_size=max_block_size,
            idle_timeout=idle_timeout,
            listener=on_transfer,
            pacing=pacing,
            faults=provider.block_fault,
            store=transfers,
            clock=self.clock,
        )
        self.timers.add(bdx, before=self.windows)  # a protocol machine: before the node's own parts
        self.checkpoints.add(bdx.checkpoint)
        restored = bdx.restore(transfers.load(), self.manager.sessions.get)
        if restored:
            log.info("%d BDX transfer(s) of the previous run wait for their requestors", restored)
        self.register(ProtocolId.BDX, bdx)
        return bdx

    # ------------------------------------------------------------------ time

    def next_deadline(self) -> float | None:
        return self.timers.next_deadline()

    def poll(self, now: float) -> None:
        """Every protocol machine's due work, then the node's own parts'."""
        self.timers.poll(now)

    # ------------------------------------------------------------------ running

    def register(self, protocol_id: int, handler: ProtocolHandler) -> None:
        self.manager.register(protocol_id, handler)

    async def start(self, driver_class: type[ExchangeDriver] = ExchangeDriver) -> None:
        self.driver = await driver_class.open(self.manager, port=self.config.port, host=self.config.host, machine=self)
        if self.config.dnssd:
            interfaces = list(self.config.dnssd_interfaces) if self.config.dnssd_interfaces else None
            advertiser = MatterAdvertiser(self.port, parameters=self.parameters, interfaces=interfaces)
            self.dnssd = DnssdFollower(advertiser, self.config.vendor_id, self.config.product_id)
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
        if self.admin.only_own_fabrics:  # no commissioner has added us yet
            self.windows.open_commissioning_window()
        else:
            self._fabrics_changed()
        self.checkpoints.start(self.clock())

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
        if self.dnssd is not None:
            await self.dnssd.aclose()
            self.dnssd = None
        self.stop()

    def stop(self) -> None:
        self.windows.window = None
        self.checkpoints.stop()
        if self.driver is not None:
            self.driver.close()
            self.driver = None
        self.db.close()
        self.state_lock.release()

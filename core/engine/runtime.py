"""``ProviderEngine``: the Matter node and the OTA provider on their own asyncio loop, in their
own thread, behind events and commands. This is the only API the front ends use.

- Engine -> front ends: typed, value-only events (:mod:`.events`), numbered and fanned out by an
  :class:`~.api.bus.EventBus` to any number of subscribers, each with its own bounded queue
  (:meth:`ProviderEngine.subscribe`; :meth:`ProviderEngine.drain` reads the built-in one). Per-block
  counters never make one event per block: the engine publishes an
  :class:`~.events.EngineSnapshot` a few times a second instead.
- Front end -> engine: immutable commands with ids (:mod:`.api.commands`), sent with
  :meth:`ProviderEngine.send`; each is answered by one :class:`~.events.CommandDone` with its id.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop

from ..api.app_pipe import AppPipe, Observations
from ..api.app_pipe import payload as app_pipe_payload
from ..api.bus import SUBSCRIBER_QUEUE, EventBus, Subscriber
from ..api.commands import Command, QueryHistory
from ..api.control import TOKEN_FILE, ControlServer, parse_control_target
from ..api.events import (
    AppPipeAnswered,
    AppPipeReport,
    CommandDone,
    CommissioningRolledBack,
    DemoFabricJoined,
    DeviceEvent,
    EngineError,
    EngineEvent,
    EngineSnapshot,
    FabricsChanged,
    FabricSummary,
    HistoryRows,
    ImageSummary,
    Listening,
    OtaEvent,
    QueryImageReceived,
    RequestorSeen,
    SessionEstablished,
    Stopped,
    TransferFailed,
    TransferFinished,
    TransferResumed,
    TransferStarted,
    UpdateAppliedNotified,
)
from ..api.waiting import EventWait
from ..bdx.outcome import TransferEnd, TransferStep
from ..bdx.server import BdxServer, Transfer
from ..client.demo import DemoRequestors
from ..codec.setup_payload import DiscoveryCapability, SetupPayload
from ..commissioner.bench import Bench
from ..commissioner.over_ble import BleSettings
from ..commissioner.trust import trust_store
from ..config import ProviderConfig, installed_version
from ..dcl.updates import LedgerUpdates
from ..fabric.demo import DEMO_FABRIC_FILE, DemoFabric
from ..log_rate import limit_repeats
from ..node import MatterNode, NodeConfig
from ..ota.catalog import CatalogEntry, CatalogError, ImageCatalog
from ..ota.history import HistoryRow, UpdateHistory
from ..ota.offer_store import OfferStore
from ..ota.policy import ArmedKnob, Peer, policy_from_sdk_flags
from ..ota.provider import OtaProvider
from ..presentation.history import exchange_history, transfer_history
from ..presentation.words import plural, short_node_id, transfer_end_text
from ..session.secure import SessionParameters
from ..setup_target import parse_target
from ..trace import TraceWriter, open_named_trace, open_operator_trace
from .handlers import apply_command
from .snapshots import image_summary, transfer_snapshot

__all__ = ["ProviderEngine", "onboarding_payload", "wait_for"]

log = logging.getLogger(__name__)

EVENT_QUEUE_SIZE = 10_000
SNAPSHOT_INTERVAL = 0.1  # seconds, while something changes: the dashboard samples at 10 Hz
IMAGE_WATCH_SECONDS = 2.0  # the image files are checked for changes this often (a stat of each)
COMMAND_SNAPSHOT_GAP = 0.02  # seconds: after a command, the snapshot that shows it comes this soon
AFTER_A_COMPLETE_TRANSFER = " (every byte sent and acknowledged: the device failed after, in its storage or its check)"
LEDGER_ROOTS_WAIT = 20.0  # seconds --commission waits for the ledgers' PAA roots at start
PAIRING_SECONDS = 600.0  # a DownloadError this soon after a transfer of that requestor ended is about it


class ProviderEngine:
    def __init__(
        self,
        config: ProviderConfig,
        catalog: ImageCatalog,
        *,
        storage: Path,
        database_name: str | None = None,
        dnssd: bool = True,
        host: str | None = None,
        idle_timeout: float | None = None,
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.storage = storage
        self.database_name = database_name
        self.dnssd = dnssd
        self.host = host
        self.idle_timeout = idle_timeout
        self.bus = EventBus()
        # The built-in subscriber (drain, next_event): it drops the newest when full, never cuts off.
        self._events, _ = self.bus.subscribe(capacity=EVENT_QUEUE_SIZE, cut_off=False)
        self._snapshot: EngineSnapshot | None = None
        self._latest: dict[type, Any] = {}
        self._bytes_done = 0
        self._finished = 0
        self._failed = 0
        self._last_transfer: dict[Peer, tuple[float, int, TransferEnd]] = {}  # how each requestor's last transfer ended
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self.node: MatterNode | None = None
        self.bdx: BdxServer | None = None  # the node's BDX server, once it serves OTA
        self.observations = Observations()  # what the SDK app's out-of-band pipe reports
        self._observed = threading.Lock()  # held by the engine's thread and the pipe's
        self._pipe: AppPipe | None = None
        self.provider: OtaProvider | None = None
        self._seen: set[Peer] = set()  # requestors that queried us in this run
        self._seen_vendors: set[int] = set()  # and their vendor ids (the ledger names them)
        self._history: UpdateHistory | None = None
        self.port: int | None = None
        self.bench: Bench | None = None
        self.control: ControlServer | None = None
        self.ledger: LedgerUpdates | None = None  # --dcl: the ledgers' published updates
        self._summaries: tuple[tuple[CatalogEntry, ...], tuple[ImageSummary, ...]] = ((), ())
        self._trace: TraceWriter | None = None

    # ------------------------------------------------------------------ lifecycle (any thread)

    def start(self, timeout: float = 30.0) -> None:
        """Start the node on the engine thread; raise what stopped it from starting."""
        self._thread = threading.Thread(target=self._run, name="ota-provider-engine", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the engine did not start within {timeout} s")
        if self._startup_error is not None:
            raise self._startup_error

    def stop(self, timeout: float = 30.0) -> None:
        """End running transfers with a StatusReport, withdraw DNS-SD, stop the thread."""
        if self._loop is not None and self._stop is not None and self._thread and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def send(self, command: Command) -> None:
        """Queue a command for the engine thread; a CommandDone event answers it."""
        if self._loop is None:
            raise RuntimeError("the engine is not running")
        self._loop.call_soon_threadsafe(self._execute, command)

    def drain(self, limit: int = 1000) -> list[EngineEvent]:
        """Up to ``limit`` pending events of the built-in subscriber, oldest first, without blocking."""
        return self._events.take(limit)

    def next_event(self, timeout: float | None = None) -> EngineEvent | None:
        if not self._events.pending() and not self._events.wait(timeout):
            return None
        taken = self._events.take(1)
        return taken[0] if taken else None

    def subscribe(
        self,
        *,
        after: int | None = None,
        capacity: int = SUBSCRIBER_QUEUE,
        wake: Callable[[], None] | None = None,
        snapshots: bool = True,
    ) -> tuple[Subscriber, int]:
        """Another subscriber of the event stream (a control-socket client): cut off if it lags."""
        return self.bus.subscribe(after=after, capacity=capacity, wake=wake, snapshots=snapshots)

    def events_only(self) -> None:
        """The built-in subscriber takes no snapshots (a front end that prints lines): with no other
        reader of them the engine takes none."""
        self._events.take_snapshots(False)

    def identity(self) -> dict[str, Any]:
        """Who this engine is, for a control client's hello."""
        onboarding = self.onboarding()
        return {
            "product": "ota-provider",
            "version": installed_version(),
            "pid": os.getpid(),
            "port": self.port,
            "storage": str(self.storage),
            "manualCode": onboarding.manual_code(),
            "qrCode": onboarding.qr_code(),
            "seq": self.bus.seq,
        }

    def snapshot(self) -> EngineSnapshot | None:
        """The last snapshot the engine published (a value: safe from any thread)."""
        return self._snapshot

    def onboarding(self) -> SetupPayload:
        """The setup payload for commissioning this node (QR code and manual code)."""
        return onboarding_payload(self.config)

    def images(self) -> tuple[CatalogEntry, ...]:
        return self.provider.entries() if self.provider is not None else tuple(self.catalog.entries)

    def history(self, limit: int = 500, node_id: int | None = None) -> list[HistoryRow]:
        """The last rows of the update history, of one node or all (reads the state database; safe
        from any thread)."""
        if self.node is None:
            return []
        return UpdateHistory(self.node.db).rows(node_id=node_id, limit=limit)

    def armed(self) -> tuple[ArmedKnob, ...]:
        """The armed knobs (values: a copy, safe from any thread)."""
        if self.provider is None:
            return ()
        return tuple(self.provider.policy.armed)

    def take_snapshot(self) -> EngineSnapshot:
        """The engine's state now: the running transfers with their counters, the totals, the armed
        knobs, the images (values; what the engine publishes a few times a second)."""
        transfers = (
            tuple(transfer_snapshot(t) for t in list(self.bdx.transfers.values())) if self.bdx is not None else ()
        )
        running = sum(t.bytes_sent for t in transfers)
        return EngineSnapshot(
            transfers,
            self._bytes_done + running,
            self._finished,
            self._failed,
            self._events.dropped,
            self.armed(),
            self._image_summaries(),
            self.bus.subscribers,
            self._latest.get(Listening),
            self._latest.get(FabricsChanged),
            self.ledger.downloads() if self.ledger is not None else (),
            self._vendor_names(),
        )

    def _image_summaries(self) -> tuple[ImageSummary, ...]:
        """The images as values, made again only when the images changed: while a dashboard or a
        client reads snapshots, one is taken ten times a second."""
        images, (made_from, _) = self.images(), self._summaries
        if len(images) != len(made_from) or any(a is not b for a, b in zip(images, made_from, strict=True)):
            self._summaries = (images, tuple(image_summary(entry) for entry in images))
        return self._summaries[1]

    def _local_images(self) -> int:
        """The images of the files served now (a reload replaces the catalog)."""
        return len((self.provider.catalog if self.provider is not None else self.catalog).entries)

    def _vendor_names(self) -> tuple[tuple[int, str], ...]:
        """The ledger's names of the vendors of the requestors seen (the cached vendor list)."""
        if self.ledger is None or not self._seen_vendors:
            return ()
        names = self.ledger.vendor_names()
        return tuple((vid, names[vid]) for vid in sorted(self._seen_vendors) if vid in names)

    # ------------------------------------------------------------------ the engine thread

    def _post(self, event: EngineEvent) -> None:
        with self._observed:  # what the app pipe reports, kept as the events go by
            self.observations.feed(event)
        event = self.bus.publish(event)
        if isinstance(event, Listening | FabricsChanged):  # the snapshot carries the latest of each
            self._latest[type(event)] = event

    async def _open_app_pipe(self, node: MatterNode) -> None:
        """The SDK app's out-of-band pipe, if asked for: ready before Listening says the node is."""
        config = self.config
        if config.app_pipe is None or config.app_pipe_out is None:
            return
        self._pipe = AppPipe(config.app_pipe, config.app_pipe_out, self.observations, self._observed, self._piped)
        try:
            self._pipe.start()
        except BaseException:
            if self.control is not None:
                await self.control.close()
            node.stop()
            raise

    def _close_app_pipe(self) -> None:
        if self._pipe is not None:
            self._pipe.stop()

    def report_app_pipe(self, command_id: str, query: str) -> None:
        """What the app pipe would answer to ``query``, as an event (QueryAppPipe's answer)."""
        with self._observed:
            report = app_pipe_payload(query, self.observations)
        self._post(AppPipeReport(command_id, query, report))

    def _piped(self, request: str, reply: dict[str, Any]) -> None:
        """A request on the app pipe, answered (on the pipe's thread): a line in every front end."""
        error = reply.get("Error")
        self._post(AppPipeAnswered(request, str(reply.get("Name")), str(error) if error is not None else None))

    def _current_snapshot(self) -> EngineSnapshot:
        """Taken now, on the engine's loop (a control client asked), numbered as the latest event."""
        return dataclasses.replace(self.take_snapshot(), seq=self.bus.seq)

    def _publish_snapshot(self) -> None:
        self._snapshot = self.bus.publish(self.take_snapshot())

    async def _publish_snapshots(self) -> None:
        """A snapshot every SNAPSHOT_INTERVAL while anything changes (the dashboard's 10 Hz), at
        least once a second; and one after every command (what it armed shows at once)."""
        last: tuple | None = None
        quiet = 0.0
        while True:
            if not self.bus.snapshot_readers:  # headless, no client asking: no work, no wake-ups
                last = None
                await self._snapshot_wanted.wait()  # a reader subscribing sets it, as a command does
                self._snapshot_wanted.clear()
                continue
            snapshot = self.take_snapshot()
            key = (
                snapshot.transfers,
                snapshot.bytes_sent_total,
                snapshot.transfers_finished,
                snapshot.transfers_failed,
                snapshot.armed,
                snapshot.images,
                snapshot.ledger_downloads,
            )
            if key != last or quiet >= 1.0:
                self._snapshot = self.bus.publish(snapshot)
                last, quiet = key, 0.0
            self._snapshot_wanted.clear()
            # The next one in SNAPSHOT_INTERVAL, or as soon as a command asks (a burst of commands
            # makes one snapshot, not one each: COMMAND_SNAPSHOT_GAP apart at the least).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._snapshot_wanted.wait(), SNAPSHOT_INTERVAL)
                await asyncio.sleep(COMMAND_SNAPSHOT_GAP)
            quiet += SNAPSHOT_INTERVAL

    async def _watch_images(self, provider: OtaProvider) -> None:
        """The image files and list read again when they change on disk, not only when a requestor
        next asks: the Images tab, ``ctl images`` and the forced-image choices follow the files."""
        while True:
            await asyncio.sleep(IMAGE_WATCH_SECONDS)
            provider.refresh_catalog()

    def _run(self) -> None:
        try:
            # libuv's loop: the engine's loop turns once per datagram, and a turn of uvloop costs a
            # fraction of asyncio's selector loop (bench_ota: about 8 us less CPU per block).
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(self._main())
        except BaseException as exc:  # reported to start(), or as an event once running
            if not self._ready.is_set():
                self._startup_error = exc
                self._ready.set()
            else:
                log.exception("engine stopped on an error")
                self._post(EngineError(f"engine stopped: {exc}"))
                self._post(Stopped())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        limit_repeats("asyncio")  # a resource error met on every turn of the loop is said, not flooded
        self._stop = asyncio.Event()
        config = self.config
        node = MatterNode(
            NodeConfig(
                storage=self.storage,
                passcode=config.passcode,
                discriminator=config.discriminator,
                port=config.port,
                host=self.host,
                vendor_id=config.vendor_id,
                product_id=config.product_id,
                allow_ota_from_fabric=config.allow_ota_from_fabric,
                database_name=self.database_name,
                dnssd=self.dnssd,
                attestation_files=_attestation_files(config),
            ),
            parameters=SessionParameters(
                config.mrp_idle_interval_ms, config.mrp_active_interval_ms, config.mrp_active_threshold_ms
            ),
        )
        self.node = node
        node.manager.links.adaptive = config.mrp_fit_to_link
        if node.rolled_back_at_start is not None:
            self._post(CommissioningRolledBack(*node.rolled_back_at_start))
        try:
            node.session_listeners.append(self._on_session)
            node.fabric_listeners.append(self._on_fabrics)
            demo = None
            if config.demo_fabric:
                fabric_file = self.storage / DEMO_FABRIC_FILE
                demo = DemoFabric.load_or_create(fabric_file)
                fabric = node.admin.join_demo_fabric(demo)
                self._post(DemoFabricJoined(fabric.fabric_index, fabric.node_id, str(fabric_file)))
            history = UpdateHistory(
                node.db, max_rows=config.history_max_rows, on_error=lambda message: self._post(EngineError(message))
            )
            self._history = history

            seen = self._seen

            def on_ota(event: EngineEvent) -> None:
                if isinstance(event, OtaEvent) and (row := exchange_history(event)) is not None:
                    history.record(*self._with_vendor_name(row, event))
                if isinstance(event, QueryImageReceived):
                    self._seen_vendors.add(event.vendor_id)
                if isinstance(event, QueryImageReceived) and event.peer not in seen:
                    seen.add(event.peer)
                    self._post(RequestorSeen(event.peer, event.vendor_id, event.product_id, event.software_version))
                self._post(event)
                if isinstance(event, UpdateAppliedNotified) and self.bench is not None:
                    self.bench.notified(event.peer, event.software_version)  # a bench device: check it itself

            if config.dcl:
                self.ledger = LedgerUpdates(config.dcl, self.storage, emit=self._post, local_images=self._local_images)
            self.provider = OtaProvider(
                self.catalog,
                policy_from_sdk_flags(config),
                image_uri=config.image_uri,
                emit=on_ota,
                store=OfferStore(node.db),
                offer_any=config.offer_any,
                extra=self.ledger,
            )
            extra = {"idle_timeout": self.idle_timeout} if self.idle_timeout else {}
            self.bdx = node.serve_ota(
                self.provider,
                max_block_size=config.max_bdx_block_size,
                on_transfer=lambda step, t: self._on_transfer(history, step, t),
                pacing=config.poll_interval_ms / 1000,
                **extra,
            )
            if config.trace is not None:  # from the first message
                self._begin_trace(config.trace, open_operator_trace(config.trace, self.storage))
            await node.start()
        except BaseException:
            node.stop()
            raise
        self.port = node.port
        self.control = None
        if config.control:
            self.control = ControlServer(
                parse_control_target(config.control),
                subscribe=self.bus.subscribe,
                send=self.send,
                identity=self.identity,
                snapshot=self._current_snapshot,
                storage=self.storage,
            )
            try:
                await self.control.start()
            except BaseException:
                node.stop()
                raise
        where = self.control.target.describe() if self.control is not None else None
        if self.control is not None and self.control.target.path is None:
            where = f"tcp:{self.control.target.host}:{self.control.port} (token in {self.storage / TOKEN_FILE})"
        await self._open_app_pipe(node)
        self._post(Listening(node.port, str(self.storage), advertising=self.dnssd, control=where))
        provider = self.provider

        def select(vendor_id: int, product_id: int, version: int):  # the catalog in use now, and the ledgers
            return provider.select(vendor_id, product_id, version)

        self.bench = Bench(
            node,
            trust_store(config),
            emit=lambda event: self._on_bench_event(history, event),
            select=select,
            allow_unverified=config.allow_unverified_attestation,
            timeout=config.stage_timeout,
            ble=BleSettings(config.ble_adapter, config.ble_network, config.ble),
        )
        self.bench.reconnect_all()  # devices commissioned before a restart are followed again
        ledger_start = asyncio.get_running_loop().create_task(self._start_ledger()) if self.ledger else None
        commissions = asyncio.get_running_loop().create_task(self._commission_at_start(ledger_start))
        self._snapshot_wanted = asyncio.Event()
        loop = asyncio.get_running_loop()

        def snapshot_reader_joined() -> None:  # from whichever thread subscribed
            loop.call_soon_threadsafe(self._snapshot_wanted.set)

        self.bus.on_snapshot_reader = snapshot_reader_joined
        self._publish_snapshot()  # a front end has one from the start
        snapshots = asyncio.get_running_loop().create_task(self._publish_snapshots())
        watch = asyncio.get_running_loop().create_task(self._watch_images(provider))
        self._ready.set()
        requestors = None
        if config.demo and demo is not None:
            requestors = asyncio.get_running_loop().create_task(
                DemoRequestors(
                    demo, node.port, count=config.demo_requestors, block_interval=config.demo_block_interval
                ).run()
            )
        try:
            await self._stop.wait()
        finally:
            self.bus.on_snapshot_reader = None  # the loop is ending: nothing left to wake
            snapshots.cancel()
            watch.cancel()
            commissions.cancel()
            if ledger_start is not None:
                ledger_start.cancel()
            if self.ledger is not None:
                await self.ledger.aclose()
            self._close_app_pipe()
            if self.control is not None:
                await self.control.close()
            await self.bench.aclose()
            if requestors is not None:
                requestors.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await requestors
            await node.aclose()
            self.stop_trace()
            self._post(Stopped())

    def _with_vendor_name(self, row: tuple, event: EngineEvent) -> tuple:
        """A history row of a query with the ledger's name of its vendor in the details."""
        vendor_id = getattr(event, "vendor_id", None)
        if self.ledger is None or vendor_id is None:
            return row
        name = self.ledger.vendor_names().get(vendor_id)
        return row if name is None else (*row[:3], {**row[3], "vendorName": name})

    async def _start_ledger(self) -> None:
        """Ask each ledger once (said at once if it cannot be reached), then trust its approved PAA
        roots for attestation, unless --paa-trust-store names the roots (as chip-tool's flag does)."""
        assert self.ledger is not None and self.bench is not None
        await self.ledger.check()
        self.bench.revocation = self.ledger.check_revocation
        self.bench.cd_signer = self._look_up_cd_signer
        if self.config.paa_trust_store is None:
            for root in await self.ledger.load_roots():
                self.bench.trust.add_ledger_paa(root.certificate, root.ledger)

    async def _look_up_cd_signer(self, key_id: bytes) -> None:
        assert self.ledger is not None and self.bench is not None
        for certificate in await self.ledger.cd_signers(key_id):
            self.bench.trust.add_cd_signer(certificate)

    async def _commission_at_start(self, ledger_start: asyncio.Task | None) -> None:
        """--commission's devices, once the ledger's roots are in (a device's attestation may need
        them), or after LEDGER_ROOTS_WAIT whatever the ledger does."""
        if ledger_start is not None:
            with contextlib.suppress(TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(ledger_start), LEDGER_ROOTS_WAIT)
        assert self.bench is not None
        for text in self.config.commission or ():
            self.bench.start(parse_target(text))

    def _on_session(self, session) -> None:
        self._post(SessionEstablished(session.auth_mode.name, session.peer_node_id, session.fabric_index))

    def _on_fabrics(self) -> None:
        node = self.node
        assert node is not None
        fabrics = tuple(
            FabricSummary(f.fabric_index, f.node_id, f.fabric_id, f.vendor_id, f.label) for f in node.fabrics
        )
        window = node.windows.window
        closes_at = time.time() + window.seconds_left if window is not None else None
        self._post(FabricsChanged(fabrics, closes_at))

    def _on_transfer(self, history: UpdateHistory, step: TransferStep, transfer: Transfer) -> None:
        snapshot = transfer_snapshot(transfer)
        if step is TransferStep.STARTED:
            self._post(TransferStarted(snapshot))
            return
        if step is TransferStep.RESUMED:
            self._post(TransferResumed(snapshot))
            return
        history.record(*transfer_history(transfer))
        self._bytes_done += transfer.sender.bytes_sent
        self._last_transfer[transfer.peer] = (transfer.clock(), transfer.id, transfer.end)
        if transfer.end.complete:
            self._finished += 1
            self._post(TransferFinished(snapshot))
        else:
            self._failed += 1
            self._post(TransferFailed(snapshot))

    def _now(self) -> float:
        return self.node.clock() if self.node is not None else time.monotonic()

    def _on_bench_event(self, history: UpdateHistory, event: EngineEvent) -> None:
        """A bench device's DownloadError is said with how our side of the download ended, and
        kept in the history with VersionApplied: one account of a failed update from both ends."""
        if isinstance(event, DeviceEvent) and event.event in ("DownloadError", "VersionApplied"):
            peer = Peer(event.fabric_index, event.node_id)
            last = self._last_transfer.get(peer)
            if event.event == "DownloadError" and last is not None and self._now() - last[0] < PAIRING_SECONDS:
                _, number, end = last
                ours = f"our side: transfer #{number} {transfer_end_text(end)}"
                if end.complete:
                    ours += AFTER_A_COMPLETE_TRANSFER
                event = dataclasses.replace(event, ours=ours)
            summary = f"{event.event}: {event.detail}" + (f"; {event.ours}" if event.ours else "")
            history.record("device", peer, summary, event.fields())
        self._post(event)

    # ------------------------------------------------------------------ commands (engine thread)

    def _execute(self, command: Command) -> None:
        if isinstance(command, QueryHistory):  # read off the loop, answered when the rows are there
            asyncio.get_running_loop().create_task(self._query_history(command))
            return
        try:
            ok, message = apply_command(self, command)
        except (ValueError, CatalogError) as exc:
            ok, message = False, str(exc)
        except Exception as exc:  # every command gets its one answer, whatever went wrong in it
            log.exception("command %s failed", type(command).__name__)
            ok, message = False, f"{type(command).__name__} failed: {exc}"
        self._post(CommandDone(command, ok, message))
        self._snapshot_wanted.set()  # what it changed (armed knobs, a paused transfer) shows soon, coalesced
        if self.node is not None:
            self.node.flush()  # anything the command sent goes out now

    @property
    def trace_dir(self) -> Path:
        """Where traces started over the control socket go: only there."""
        return self.config.trace_dir or self.storage / "traces"

    def start_trace(self, name: str) -> str:
        """Trace every message from now on to a new file in the trace folder (a trace already running
        is closed first); TraceError says why not."""
        path, descriptor = open_named_trace(self.trace_dir, name)
        return self._begin_trace(path, descriptor)

    def _begin_trace(self, path: Path, descriptor: int) -> str:
        assert self.node is not None
        self.stop_trace()
        self._trace = TraceWriter(path, descriptor, self.node.clock)
        self.node.trace_to(self._trace)
        return f"tracing every message to {path}"

    def stop_trace(self) -> str:
        if self._trace is None:
            return "no trace was running"
        trace, self._trace = self._trace, None
        if self.node is not None:
            self.node.trace_to(None)
        trace.close()
        return f"trace {trace.path} closed: {trace.messages} messages"

    async def _query_history(self, command: QueryHistory) -> None:
        try:
            rows = await asyncio.get_running_loop().run_in_executor(None, self.history, command.limit, command.node_id)
        except Exception as exc:  # a broken database is said in words, never a dead engine
            self._post(CommandDone(command, False, f"history could not be read: {exc}"))
            return
        self._post(HistoryRows(command.id, tuple(rows)))
        self._post(CommandDone(command, True, plural(len(rows), "history row")))

    def knows(self, peer: Peer) -> bool:
        """A requestor this provider has heard from: this run, its history, or a device of its bench."""
        if peer in self._seen or (self._history is not None and self._history.knows(peer)):
            return True
        device = self.bench.devices.get(peer.node_id) if self.bench is not None else None
        return device is not None and device.fabric_index == peer.fabric_index

    def unseen_target(self, peer: Peer) -> str:
        """Why an arm for ``peer`` is refused, and what the user may have meant."""
        fabric = "" if peer.fabric_index == 1 else f" on fabric {peer.fabric_index}"
        text = f"node 0x{peer.node_id:X}{fabric} has never queried this provider"
        digits = str(peer.node_id)  # the decimal digits of an id the user may have meant as hex
        if len(digits) <= 16 and (meant := Peer(peer.fabric_index, int(digits, 16))) != peer and self.knows(meant):
            text += f" (did you mean 0x{meant.node_id:X}, shown as {short_node_id(meant.node_id)}?)"
        return text + "; arm it anyway with --unseen (it applies when that node first asks)"


def _attestation_files(config: ProviderConfig) -> tuple[Path, Path, Path, Path] | None:
    """The DAC, PAI, DAC key and CD given together (the command line checks they are), or None."""
    if config.dac is None:
        return None
    assert config.pai is not None and config.dac_key is not None and config.cd is not None
    return config.dac, config.pai, config.dac_key, config.cd


def onboarding_payload(config: ProviderConfig) -> SetupPayload:
    return SetupPayload(
        discriminator=config.discriminator,
        passcode=config.passcode,
        vendor_id=config.vendor_id,
        product_id=config.product_id,
        discovery=DiscoveryCapability.ON_NETWORK,
    )


def wait_for(
    engine: ProviderEngine, wanted: str | Callable[[EngineEvent], bool], timeout: float = 10.0
) -> list[EngineEvent]:
    """Events drained until one is ``wanted`` (a name or a predicate), that one last (for tests and
    scripts in the provider's own process; a client's ``wait_for`` is the same wait)."""
    wait = EventWait(wanted, timeout=timeout)
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        event = engine.next_event(timeout=left)
        if event is None:
            break
        if wait.offer(event):
            return wait.seen
    raise wait.timed_out()

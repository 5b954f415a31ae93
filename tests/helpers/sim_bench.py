"""A whole provider (the MatterNode with its OTA provider, BDX server and state database) on the
simulated network, and requestors as small sans-IO machines: hundreds of them, datagram loss and
provider restarts run on a fake clock, deterministically and without sleeping.

The requestors' sessions are installed as CASE sessions on the demo fabric (the handshakes have
tests of their own) and kept in the provider's session store, as a real handshake's would be.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from ota_provider.core.bdx.uri import parse_bdx_uri
from ota_provider.core.codec.protocols import ProtocolId
from ota_provider.core.event_base import EngineEvent
from ota_provider.core.exchange.manager import ExchangeManager
from ota_provider.core.fabric.demo import DemoFabric
from ota_provider.core.fabric.table import Fabric
from ota_provider.core.im.client import ImResult, InteractionClient
from ota_provider.core.im.messages import CommandData, CommandPath
from ota_provider.core.node import MatterNode, NodeConfig
from ota_provider.core.ota.catalog import ImageCatalog
from ota_provider.core.ota.commands import (
    APPLY_UPDATE_REQUEST,
    NOTIFY_UPDATE_APPLIED,
    QUERY_IMAGE,
    ApplyUpdateRequest,
    ApplyUpdateResponse,
    NotifyUpdateApplied,
    QueryImage,
    QueryImageResponse,
)
from ota_provider.core.ota.offer_store import OfferStore
from ota_provider.core.ota.provider import OtaProvider
from ota_provider.core.ota.types import DownloadProtocol, QueryImageStatus
from ota_provider.core.session.secure import AuthMode, SecureSession
from tests.bdx.receiver import SpecReceiver
from tests.exchange.simnet import SimNet
from tests.helpers.mrp import KEYS
from tests.helpers.samples import SAMPLES
from tests.helpers.transfers import told

IMAGE = SAMPLES / "sample-fff1-8000-v3.ota"
PROVIDER = ("provider", 5540)
OTA_PROVIDER_CLUSTER = 0x0029


@dataclass
class SimBench:
    net: SimNet
    storage: Path
    demo: DemoFabric
    idle_timeout: float = 300.0
    node: MatterNode = field(init=False)
    fabric: Fabric = field(init=False)
    provider: OtaProvider = field(init=False)
    ota_events: list[EngineEvent] = field(default_factory=list)
    transfers: list[tuple[str, int, str]] = field(default_factory=list)  # (kind, transfer id, result)
    requestors: list[SimRequestor] = field(default_factory=list)
    lives: int = 0  # how many times the provider started

    @classmethod
    def open(
        cls, tmp_path: Path, *, loss: float = 0.0, seed: int = 1, latency: float = 0.01, idle_timeout: float = 300.0
    ) -> SimBench:
        net = SimNet(loss=loss, seed=seed, latency=latency)
        bench = cls(net, tmp_path / "state", DemoFabric.generate(), idle_timeout)
        bench._start_node()
        return bench

    def _start_node(self) -> None:
        self.lives += 1
        node = MatterNode(
            NodeConfig(storage=self.storage, passcode=20202021, discriminator=3840),
            clock=self.net.clock,
            rng=random.Random(self.net.seed * 1000 + self.lives),
        )
        self.fabric = node.admin.join_demo_fabric(self.demo)
        self.provider = OtaProvider(
            ImageCatalog.from_file(IMAGE), emit=self.ota_events.append, store=OfferStore(node.db), clock=self.net.clock
        )
        node.serve_ota(
            self.provider,
            idle_timeout=self.idle_timeout,
            on_transfer=lambda step, t: self.transfers.append((told(step, t), t.id, t.end)),
        )
        node.begin()
        self.net.add(PROVIDER, node.manager, machine=node)
        self.node = node

    def kill(self) -> None:
        """As kill -9: the process and its timers are gone, nothing is flushed or said."""
        self.net.remove(PROVIDER)
        self.node.db.close()
        self.node.state_lock.release()

    def restart(self, downtime: float = 1.0) -> None:
        """Killed, and started again ``downtime`` seconds later; meanwhile datagrams to its port are
        lost (no socket is bound), as on a real host."""
        self.kill()
        self.net.run(until=self.net.now + downtime, done=lambda: False)
        self._start_node()

    def requestor(self, node_id: int, version: int = 1) -> SimRequestor:
        requestor = SimRequestor(self, node_id, version, len(self.requestors))
        self.requestors.append(requestor)
        return requestor

    def run(self, until: float) -> None:
        """Until every requestor is finished (or ``until`` on the fake clock)."""
        self.net.run(until=until, done=self._advance_all)

    def _advance_all(self) -> bool:
        finished = [requestor.advance() for requestor in self.requestors]  # every one moves on, no short cut
        return all(finished)


class SimRequestor:
    """QueryImage, a receiver-drive BDX download, ApplyUpdateRequest, NotifyUpdateApplied: each
    step starts when the previous one's answer is in (see :meth:`advance`)."""

    def __init__(self, bench: SimBench, node_id: int, version: int, number: int) -> None:
        self.bench, self.node_id, self.version = bench, node_id, version
        net = bench.net
        self.address = ("requestor", number)
        self.manager = net.add(self.address, ExchangeManager(clock=net.clock, rng=random.Random(number)))
        self.im = InteractionClient(self.manager)
        self.manager.register(ProtocolId.INTERACTION_MODEL, self.im)
        ours, theirs = 2000 + number, 40000 + number
        fabric = bench.fabric
        provider_side = SecureSession(
            ours,
            theirs,
            KEYS,
            False,
            AuthMode.CASE,
            local_node_id=fabric.node_id,
            peer_node_id=node_id,
            fabric_index=fabric.fabric_index,
            peer_address=self.address,
        )
        bench.node.manager.add_session(provider_side)
        bench.node.session_store.keep(provider_side)
        self.session = SecureSession(
            theirs,
            ours,
            KEYS,
            True,
            AuthMode.CASE,
            local_node_id=node_id,
            peer_node_id=fabric.node_id,
            fabric_index=fabric.fabric_index,
            peer_address=PROVIDER,
        )
        self.manager.add_session(self.session)
        self.step = "idle"
        self.asked_at = 0.0
        self.query_latency: float | None = None
        self.offer: QueryImageResponse | None = None
        self.receiver: SpecReceiver | None = None
        self.apply: ApplyUpdateResponse | None = None
        self.error: str | None = None

    @property
    def finished(self) -> bool:
        return self.step in ("notified", "failed")

    def query(self) -> None:
        self.step, self.asked_at = "querying", self.bench.net.now
        request = QueryImage(0xFFF1, 0x8000, self.version, (DownloadProtocol.BDX_SYNCHRONOUS,), None, "XX", True)
        self._invoke(QUERY_IMAGE, request.to_tlv())

    def _invoke(self, command: int, fields) -> None:
        path = CommandPath(0, OTA_PROVIDER_CLUSTER, command)
        self.im.invoke(self.session, [CommandData(path, fields)], on_done=self._answered)

    def _answered(self, result: ImResult) -> None:
        if result.error or result.invoke is None or not result.invoke.responses:
            self._fail(f"{self.step}: {result.error or result.status or 'empty InvokeResponse'}")
            return
        fields = getattr(result.invoke.responses[0], "fields", None)
        if self.step == "querying":
            self.query_latency = self.bench.net.now - self.asked_at
            self.offer = QueryImageResponse.from_tlv(fields)
            if self.offer.status != QueryImageStatus.UPDATE_AVAILABLE or self.offer.image_uri is None:
                self._fail(f"QueryImage answered {self.offer.status.name}")
                return
            _node, designator = parse_bdx_uri(self.offer.image_uri)
            self.step, self.receiver = "downloading", SpecReceiver(self.manager, self.session, designator)
        elif self.step == "applying":
            self.apply = ApplyUpdateResponse.from_tlv(fields)
            self.step = "notifying"
            assert self.offer is not None and self.offer.update_token is not None
            self._invoke(
                NOTIFY_UPDATE_APPLIED,
                NotifyUpdateApplied(self.offer.update_token, self.offer.software_version).to_tlv(),
            )
        elif self.step == "notifying":
            self.step = "notified"

    def _fail(self, why: str) -> None:
        self.step, self.error = "failed", why

    def advance(self) -> bool:
        """Move on once the download is over; True when this requestor has nothing left to do."""
        receiver = self.receiver
        if self.step == "downloading" and receiver is not None:
            if receiver.unasked:
                self._fail(f"Block {receiver.unasked[0]} came unasked (an SDK receiver aborts: BadBlockCounter)")
            elif receiver.status is not None:
                self._fail(f"the provider ended the transfer: {receiver.status.describe()}")
            elif receiver.done:
                assert self.offer is not None and self.offer.update_token is not None
                self.step = "applying"
                request = ApplyUpdateRequest(self.offer.update_token, self.offer.software_version)
                self._invoke(APPLY_UPDATE_REQUEST, request.to_tlv())
            elif receiver.closed_reason is not None:
                self._fail(f"the download's exchange closed: {receiver.closed_reason}")
        return self.finished

    @property
    def image(self) -> bytes:
        return bytes(self.receiver.data) if self.receiver is not None else b""

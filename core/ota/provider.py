"""The OTA provider's decisions: what to answer to QueryImage, ApplyUpdateRequest and
NotifyUpdateApplied, and which BDX downloads to allow.

Sans-IO and independent of the Interaction Model: the cluster decodes the command, calls in
here with the requestor's (fabric index, node id), and encodes what comes back. Every offer
is remembered with its UpdateToken and bound to the requestor it was made to, so a token or
a file designator is only good for that requestor (the SDK example checks neither).
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bdx.faults import Fault, FaultKind
from ..bdx.messages import BdxError
from ..bdx.uri import make_bdx_uri
from ..codec.status_report import BdxStatus
from ..event_base import EngineError, EngineEvent
from ..node_ids import Peer, node_text
from . import events as ev
from .catalog import CatalogEntry, CatalogError, ImageCatalog, Selection
from .commands import ApplyUpdateRequest, ApplyUpdateResponse, NotifyUpdateApplied, QueryImage, QueryImageResponse
from .extra_images import ExtraImages, Nothing, Ready, Waiting
from .offer_store import OfferRecord, OfferStore
from .policy import ArmedKnob, Knob, OtaPolicy
from .types import DownloadProtocol, QueryImageStatus

__all__ = ["MAX_OFFERS", "OFFER_LIFETIME", "Offer", "OtaProvider", "UnknownUpdateToken"]

log = logging.getLogger(__name__)

MAX_OFFERS = 1024  # remembered offers in all
# A requestor uses only its latest offer (a few kept for a query racing an apply), and no fabric may
# push another's offers out: past its share, a fabric's own oldest offer is forgotten first.
OFFERS_PER_REQUESTOR = 4
OFFERS_PER_FABRIC = 256
OFFER_LIFETIME = 7 * 24 * 3600.0  # seconds an UpdateToken stays good (a requestor may apply days later)
TOKEN_LENGTH = 32


class UnknownUpdateToken(Exception):
    """ApplyUpdateRequest or NotifyUpdateApplied with a token this provider never gave that requestor."""


@dataclass
class Offer:
    token: bytes
    peer: Peer
    entry: CatalogEntry
    issued: float
    requestor_version: int
    apply_requests: int = 0
    applied_version: int | None = None

    @property
    def designator(self) -> str:
        return self.entry.designator


Emit = Callable[[EngineEvent], None]


@dataclass
class OtaProvider:
    catalog: ImageCatalog
    policy: OtaPolicy = field(default_factory=OtaPolicy)
    image_uri: str | None = None  # -i: sent verbatim instead of the generated bdx:// URI
    emit: Emit = lambda _event: None
    clock: Callable[[], float] = time.time  # wall clock: offers outlive the process (see ``store``)
    offers: OrderedDict[bytes, Offer] = field(default_factory=OrderedDict)
    store: OfferStore | None = None  # where offers persist; None keeps them in memory only
    # --offer-any: with -f, offer the file to every requestor whatever its VID, PID and version,
    # as the SDK's ota-provider-app does (some SDK test scripts rely on it).
    offer_any: bool = False
    # Images from beyond the files (the ledger): the newest applicable of both is offered, a local
    # file on a tie; while the ledger's is on its way the requestor is asked to wait (Busy).
    extra: ExtraImages | None = None
    _reload_error: str | None = field(default=None, repr=False)
    _storage_failing: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if self.store is None:
            return
        stale = []
        for record in self.store.load():
            entry = self.entry_for_designator(record.designator)
            if entry is None or (str(entry.path), entry.software_version) != (
                record.image_path,
                record.software_version,
            ):
                stale.append(record.token)  # that image is no longer served under this designator
                continue
            self.offers[record.token] = Offer(
                record.token,
                Peer(record.fabric_index, record.node_id),
                entry,
                record.issued,
                record.requestor_version,
                record.apply_requests,
                record.applied_version,
            )
        self.store.delete(stale)
        self._expire()

    def _persist(self, offer: Offer) -> None:
        self._stored(
            lambda store: store.save(
                OfferRecord(
                    offer.token,
                    offer.peer.fabric_index,
                    offer.peer.node_id,
                    offer.designator,
                    str(offer.entry.path),
                    offer.entry.software_version,
                    offer.issued,
                    offer.requestor_version,
                    offer.apply_requests,
                    offer.applied_version,
                )
            )
        )

    def _forget_oldest(self) -> None:
        token, _ = self.offers.popitem(last=False)
        self._stored(lambda store: store.delete([token]))

    def _stored(self, write: Callable[[OfferStore], None]) -> None:
        """Keep an offer change on disk; a storage error (a full disk) is said once and the requestor
        is answered from memory all the same (the offer is lost only if the provider restarts)."""
        if self.store is None:
            return
        try:
            write(self.store)
        except (sqlite3.Error, OSError) as exc:
            if not self._storage_failing:
                self._storage_failing = True
                message = f"offers cannot be saved ({exc}): requestors are answered, but a restart forgets their offers"
                log.warning("%s", message)
                self.emit(EngineError(message))
            return
        if self._storage_failing:
            self._storage_failing = False
            log.warning("offers are saved again")

    # ------------------------------------------------------------------ QueryImage

    def query_image(self, peer: Peer, provider_node_id: int, request: QueryImage) -> QueryImageResponse | None:
        """The response to send, or None to leave the command unanswered (an armed "ignore")."""
        self.refresh_catalog()
        self.emit(
            ev.QueryImageReceived(
                peer,
                request.vendor_id,
                request.product_id,
                request.software_version,
                tuple(request.protocols_supported),
                request.hardware_version,
                request.location,
                request.requestor_can_consent,
                request.metadata_for_provider,
            )
        )
        if self.offer_any and not self.catalog.is_list:
            only = self.catalog.entries[0]
            selection = Selection(only, f"offering {only.describe()} to any requestor (--offer-any)")
        else:
            selection = self.catalog.select(
                request.vendor_id, request.product_id, request.software_version, request.hardware_version
            )
        waiting = None
        if self.extra is not None and not self.offer_any:
            selection, waiting = self._with_extra(
                selection, request.vendor_id, request.product_id, request.software_version
            )
        decision = self.policy.decide_query(
            peer, requestor_can_consent=bool(request.requestor_can_consent), image_available=selection.available
        )
        used = decision.used
        if decision.ignored:
            self.emit(ev.QueryImageIgnored(peer, used))
            return None
        status, entry, reason = decision.status, selection.entry, selection.reason
        delay = decision.delayed_action_time
        if waiting is not None and status == QueryImageStatus.NOT_AVAILABLE and not _status_knob(used):
            status, delay = QueryImageStatus.BUSY, waiting.seconds  # what is on its way says how long
        if decision.forced_designator is not None and status == QueryImageStatus.UPDATE_AVAILABLE:
            entry = self.entry_for_designator(decision.forced_designator)
            reason = f"forced image {decision.forced_designator}"
            if entry is None:
                status, reason = QueryImageStatus.NOT_AVAILABLE, f"forced image {decision.forced_designator} is gone"
        if status == QueryImageStatus.UPDATE_AVAILABLE and not self._can_download(request):
            status, reason = QueryImageStatus.DOWNLOAD_PROTOCOL_NOT_SUPPORTED, "no download protocol in common"
        if status != QueryImageStatus.UPDATE_AVAILABLE:
            # UserConsentNeeded and MetadataForRequestor belong to an offer only (Core spec
            # 11.20.6.5.2): a Busy or NotAvailable answer carries neither.
            response = QueryImageResponse(
                status=status, delayed_action_time=delay if status == QueryImageStatus.BUSY else None
            )
            if status == QueryImageStatus.DOWNLOAD_PROTOCOL_NOT_SUPPORTED or waiting is not None:
                pass  # the reason says so already
            elif decision.consent_consulted is not None:
                reason = f"provider consent {decision.consent_consulted.value}"
            elif status == QueryImageStatus.BUSY or (selection.available and decision.used):
                reason = ""  # the knobs it used say why (``used``)
            self.emit(_answered(peer, response, reason, used))
            return response
        assert entry is not None
        offer = self._remember(peer, entry, request.software_version)
        response = QueryImageResponse(
            status=status,
            image_uri=self.image_uri or make_bdx_uri(provider_node_id, entry.designator),
            software_version=entry.software_version,
            software_version_string=entry.software_version_string,
            update_token=offer.token,
            user_consent_needed=decision.user_consent_needed,
        )
        self.emit(_answered(peer, response, reason, used))
        return response

    def _with_extra(
        self, local: Selection, vendor_id: int, product_id: int, version: int
    ) -> tuple[Selection, Waiting | None]:
        """The local choice and the extra images' together: the newer wins, the local file on a tie;
        an extra image that is not here yet but may be newer makes the requestor wait for it."""
        assert self.extra is not None
        answer = self.extra.consider(vendor_id, product_id, version)
        have = local.entry.software_version if local.entry is not None else -1
        match answer:
            case Ready(entry) if entry.software_version > have:
                return Selection(entry, f"offering {entry.describe()}"), None
            case Waiting(seconds, coming) if coming is None or coming > have:
                why = "the ledger is being asked" if coming is None else f"the ledger's version {coming} is downloading"
                return Selection(None, why, pending=seconds), answer
            case Nothing(why) if local.entry is None:
                return Selection(None, f"{local.reason}; {why}"), None
        return local, None

    def select(self, vendor_id: int, product_id: int, current_version: int) -> Selection:
        """What a query from such a requestor would be offered now (the bench's announce asks), with
        ``pending`` set while the ledger's image is on its way."""
        selection = self.catalog.select(vendor_id, product_id, current_version)
        if self.extra is None:
            return selection
        return self._with_extra(selection, vendor_id, product_id, current_version)[0]

    def entry_for_designator(self, designator: str) -> CatalogEntry | None:
        """A local image by its designator, or one of the extra images."""
        entry = self.catalog.entry_for_designator(designator)
        if entry is None and self.extra is not None:
            entry = self.extra.entry_for_designator(designator)
        return entry

    def entries(self) -> tuple[CatalogEntry, ...]:
        """Every image that can be offered: the files', then the extra ones."""
        return tuple(self.catalog.entries) + (self.extra.entries() if self.extra is not None else ())

    def _can_download(self, request: QueryImage) -> bool:
        protocols = set(request.protocols_supported)
        if self.image_uri is not None and self.image_uri.lower().startswith("https://"):
            return DownloadProtocol.HTTPS in protocols
        return bool(protocols & {DownloadProtocol.BDX_SYNCHRONOUS, DownloadProtocol.BDX_ASYNCHRONOUS})

    def refresh_catalog(self) -> None:
        """The catalog again if a file changed on disk (ImagesChanged), else nothing."""
        try:
            reloaded = self.catalog.reload_if_changed()
        except CatalogError as exc:  # keep serving what was valid; say why the new files are not used
            message = f"image catalog not reloaded: {exc}"
            if message != self._reload_error:  # once per distinct problem, not on every query
                self._reload_error = message
                log.warning("%s", message)
                self.emit(EngineError(message))
            return
        self._reload_error = None
        if reloaded is not self.catalog:
            self.catalog = reloaded
            self.emit(ev.ImagesChanged(str(reloaded.source), len(reloaded.entries)))

    def _remember(self, peer: Peer, entry: CatalogEntry, requestor_version: int) -> Offer:
        self._expire()
        token = secrets.token_bytes(TOKEN_LENGTH)
        offer = Offer(token, peer, entry, self.clock(), requestor_version)
        self.offers[token] = offer
        self._persist(offer)
        self._keep_within_quotas(peer)
        return offer

    def _keep_within_quotas(self, peer: Peer) -> None:
        """The oldest offers of this requestor beyond its share, then of its fabric beyond the
        fabric's share, then (all fabrics within their shares) of the fabric holding the most."""
        mine = [t for t, o in self.offers.items() if o.peer == peer]
        stale = mine[: max(0, len(mine) - OFFERS_PER_REQUESTOR)]
        fabric = [t for t, o in self.offers.items() if o.peer.fabric_index == peer.fabric_index and t not in stale]
        stale += fabric[: max(0, len(fabric) - OFFERS_PER_FABRIC)]
        for token in stale:
            del self.offers[token]
        while len(self.offers) > MAX_OFFERS:
            held = Counter(o.peer.fabric_index for o in self.offers.values())
            greediest = held.most_common(1)[0][0]
            token = next(t for t, o in self.offers.items() if o.peer.fabric_index == greediest)
            del self.offers[token]
            stale.append(token)
        if stale:
            self._stored(lambda store: store.delete(stale))

    def _expire(self) -> None:
        cutoff = self.clock() - OFFER_LIFETIME
        while self.offers:
            oldest = next(iter(self.offers.values()))
            if oldest.issued >= cutoff:
                break
            self._forget_oldest()

    def _offer_for(self, peer: Peer, token: bytes) -> Offer:
        self._expire()
        offer = self.offers.get(token)
        if offer is None or offer.peer != peer:
            raise UnknownUpdateToken(f"UpdateToken {token.hex().upper()} was not issued to this requestor")
        return offer

    # ------------------------------------------------------------------ ApplyUpdate / NotifyUpdateApplied

    def apply_update(self, peer: Peer, request: ApplyUpdateRequest) -> ApplyUpdateResponse | None:
        self.emit(ev.ApplyUpdateReceived(peer, request.update_token, request.new_version))
        try:
            offer = self._offer_for(peer, request.update_token)
        except UnknownUpdateToken as exc:
            self.emit(ev.ApplyUpdateRefused(peer, request.update_token, request.new_version, str(exc)))
            raise
        decision = self.policy.decide_apply(peer)
        used = decision.used
        if decision.ignored:
            self.emit(ev.ApplyUpdateIgnored(peer, used))
            return None
        offer.apply_requests += 1
        self._persist(offer)
        response = ApplyUpdateResponse(decision.action, decision.delayed_action_time)
        self.emit(ev.ApplyUpdateAnswered(peer, decision.action, decision.delayed_action_time, used))
        return response

    def notify_update_applied(self, peer: Peer, request: NotifyUpdateApplied) -> None:
        try:
            offer = self._offer_for(peer, request.update_token)
        except UnknownUpdateToken as exc:
            self.emit(ev.NotifyUpdateRefused(peer, request.update_token, request.software_version, str(exc)))
            raise
        offer.applied_version = request.software_version
        self._persist(offer)
        self.emit(
            ev.UpdateAppliedNotified(peer, request.update_token, request.software_version, offer.entry.software_version)
        )

    # ------------------------------------------------------------------ BDX

    def block_fault(self, transfer: Any, counter: int) -> Fault | None:
        """A fault knob armed for this Block of this requestor's transfer (see :class:`Knob`)."""
        if not self.policy.armed:
            return None
        armed = self.policy.fault_for(transfer.peer, counter)
        if armed is None:
            return None
        self.emit(ev.FaultInjected(transfer.peer, transfer.id, counter, (armed,)))
        match armed.knob, armed.value:
            case Knob.DELAY_BLOCK, (_block, seconds):
                return Fault(FaultKind.DELAY, seconds=float(seconds))
            case Knob.END_TRANSFER, (_block, status):
                return Fault(FaultKind.END, status=status)
            case Knob.CORRUPT_BLOCK, _:
                return Fault(FaultKind.CORRUPT)
        return Fault(FaultKind.DROP)

    def authorize_download(self, peer: Peer, designator: bytes) -> Path:
        """The file for a ReceiveInit, only if this designator was offered to this requestor."""
        self._expire()
        for offer in reversed(self.offers.values()):
            if offer.peer == peer and offer.designator.encode() == designator:
                return offer.entry.path
        raise BdxError(
            f"designator {designator[:64]!r} was not offered to node {node_text(peer.node_id)}",
            BdxStatus.FILE_DESIGNATOR_UNKNOWN,
        )


def _status_knob(used: tuple[ArmedKnob, ...]) -> bool:
    return any(armed.knob == Knob.QUERY_STATUS for armed in used)


def _answered(
    peer: Peer, response: QueryImageResponse, reason: str, used: tuple[ArmedKnob, ...]
) -> ev.QueryImageAnswered:
    return ev.QueryImageAnswered(
        peer,
        response.status,
        reason,
        used,
        response.delayed_action_time,
        response.image_uri,
        response.software_version,
        response.software_version_string,
        response.update_token,
        response.user_consent_needed,
    )

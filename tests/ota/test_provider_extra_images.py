"""The provider with images from beyond its files (the ledger's, behind ``ExtraImages``): which of
the two a requestor is offered, Busy while the other is on its way, a local file forced over the
ledger's choice, and offers of ledger images kept across a restart."""

from __future__ import annotations

import dataclasses

from ota_provider.core.ota.catalog import CatalogEntry, ImageCatalog, ImageOrigin, OriginKind
from ota_provider.core.ota.extra_images import Answer, Nothing, Ready, Waiting
from ota_provider.core.ota.offer_store import OfferStore
from ota_provider.core.ota.policy import Knob, OtaPolicy
from ota_provider.core.ota.provider import OtaProvider
from ota_provider.core.ota.types import QueryImageStatus
from ota_provider.core.storage.database import Database
from tests.helpers.provider_model import A, query
from tests.helpers.samples import SAMPLES

LOCAL = ImageCatalog.from_list(SAMPLES / "image-list.json")  # versions 1, 2, 3 of FFF1:8000


def ledger_entry(version: int) -> CatalogEntry:
    """A ledger image (the sample v3's file under another name and version)."""
    return dataclasses.replace(
        LOCAL.entries[2],
        software_version=version,
        software_version_string=f"{version}.0.0",
        origin=ImageOrigin(OriginKind.LEDGER, "TestNet"),
        name=f"testnet-fff1-8000-{version}",
    )


class Ledger:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer

    def consider(self, vid: int, pid: int, current: int) -> Answer:
        return self.answer

    def entries(self) -> tuple[CatalogEntry, ...]:
        return (self.answer.entry,) if isinstance(self.answer, Ready) else ()

    def entry_for_designator(self, designator: str) -> CatalogEntry | None:
        return next((e for e in self.entries() if e.designator == designator), None)


def make(answer: Answer, **kwargs) -> OtaProvider:
    return OtaProvider(LOCAL, OtaPolicy(), extra=Ledger(answer), **kwargs)


def test_a_newer_ledger_image_is_offered_and_downloadable():
    p = make(Ready(ledger_entry(7)))
    response = p.query_image(A, 1, query(1))
    assert (response.status, response.software_version) == (QueryImageStatus.UPDATE_AVAILABLE, 7)
    assert response.image_uri == "bdx://0000000000000001/testnet-fff1-8000-7"
    assert p.authorize_download(A, b"testnet-fff1-8000-7") == LOCAL.entries[2].path


def test_on_a_tie_the_local_file_wins():
    response = make(Ready(ledger_entry(3))).query_image(A, 1, query(1))
    assert response.image_uri == "bdx://0000000000000001/2"  # the list's v3


def test_while_the_ledger_is_asked_the_requestor_is_told_busy_with_the_delay():
    events: list = []
    p = make(Waiting(30), emit=events.append)
    response = p.query_image(A, 1, query(1))
    assert (response.status, response.delayed_action_time) == (QueryImageStatus.BUSY, 30)
    assert "the ledger is being asked" in events[-1].reason


def test_an_image_downloading_that_is_not_newer_does_not_hold_the_local_offer():
    response = make(Waiting(300, version=3)).query_image(A, 1, query(1))
    assert (response.status, response.software_version) == (QueryImageStatus.UPDATE_AVAILABLE, 3)
    busy = make(Waiting(300, version=4)).query_image(A, 1, query(1))
    assert (busy.status, busy.delayed_action_time) == (QueryImageStatus.BUSY, 300)


def test_nothing_from_the_ledger_says_why_beside_the_local_reason():
    events: list = []
    p = make(Nothing("TestNet: up to date (newest published 3)"), emit=events.append)
    assert p.query_image(A, 1, query(3)).status == QueryImageStatus.NOT_AVAILABLE
    assert events[-1].reason.endswith("; TestNet: up to date (newest published 3)")


def test_a_local_file_forced_over_the_ledgers_choice():
    p = make(Ready(ledger_entry(9)))
    p.policy.arm(Knob.FORCED_DESIGNATOR, "1")  # the list's v2: an unpublished build under test
    response = p.query_image(A, 1, query(1))
    assert (response.software_version, response.image_uri) == (2, "bdx://0000000000000001/1")


def test_a_status_knob_wins_over_the_wait():
    p = make(Waiting(30))
    p.policy.arm(Knob.QUERY_STATUS, QueryImageStatus.NOT_AVAILABLE)
    assert p.query_image(A, 1, query(1)).status == QueryImageStatus.NOT_AVAILABLE


def test_offers_of_ledger_images_are_kept_across_a_restart(tmp_path):
    db = Database(tmp_path / "state.db")
    first = make(Ready(ledger_entry(7)), store=OfferStore(db))
    offer = first.query_image(A, 1, query(1))
    again = make(Ready(ledger_entry(7)), store=OfferStore(db))
    assert offer.update_token in again.offers
    assert again.authorize_download(A, b"testnet-fff1-8000-7") == LOCAL.entries[2].path

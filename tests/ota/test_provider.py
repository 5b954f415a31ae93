"""OtaProvider decisions without a network: forced image, URI override, token and designator binding."""

from __future__ import annotations

import pytest

from ota_provider.core.bdx.messages import BdxError
from ota_provider.core.codec import tlv
from ota_provider.core.codec.schema import SchemaError
from ota_provider.core.node_ids import Peer
from ota_provider.core.ota.catalog import ImageCatalog
from ota_provider.core.ota.commands import ApplyUpdateRequest, QueryImage
from ota_provider.core.ota.events import QueryImageAnswered
from ota_provider.core.ota.offer_store import OfferStore
from ota_provider.core.ota.policy import Knob, OtaPolicy
from ota_provider.core.ota.provider import OFFER_LIFETIME, OtaProvider, UnknownUpdateToken
from ota_provider.core.ota.types import DownloadProtocol, QueryImageStatus
from ota_provider.core.storage.database import Database
from tests.helpers.provider_model import BDX, A, B, provider, query
from tests.helpers.samples import SAMPLES


def test_a_forced_image_is_offered_even_as_a_downgrade():
    p = provider()
    p.policy.arm(Knob.FORCED_DESIGNATOR, "0")
    response = p.query_image(A, 0x2A, query(3))
    assert (response.status, response.software_version, response.image_uri) == (
        QueryImageStatus.UPDATE_AVAILABLE,
        1,
        "bdx://000000000000002A/0",
    )
    assert p.query_image(A, 0x2A, query(3)).status == QueryImageStatus.NOT_AVAILABLE  # one-shot


def test_image_uri_override_is_sent_verbatim_and_https_needs_the_requestor_to_list_it():
    assert provider(image_uri="bdx://00000000000000FF/x").query_image(A, 1, query(1)).image_uri == (
        "bdx://00000000000000FF/x"
    )
    https = provider(image_uri="https://example.com/fw.ota")
    assert https.query_image(A, 1, query(1)).status == QueryImageStatus.DOWNLOAD_PROTOCOL_NOT_SUPPORTED
    assert https.query_image(A, 1, query(1, (DownloadProtocol.HTTPS,))).status == QueryImageStatus.UPDATE_AVAILABLE


def test_tokens_and_designators_are_bound_to_fabric_and_node():
    p = provider()
    offer = p.query_image(A, 1, query(1))
    assert p.authorize_download(A, b"2").name == "sample-fff1-8000-v3.ota"
    with pytest.raises(BdxError):
        p.authorize_download(B, b"2")
    with pytest.raises(BdxError):
        p.authorize_download(A, b"../../etc/passwd")
    with pytest.raises(UnknownUpdateToken):
        p.apply_update(B, ApplyUpdateRequest(offer.update_token, 3))
    assert p.apply_update(A, ApplyUpdateRequest(offer.update_token, 3)) is not None


def test_offers_expire(monkeypatch):
    now = [1000.0]
    p = provider(clock=lambda: now[0])
    offer = p.query_image(A, 1, query(1))
    now[0] += OFFER_LIFETIME + 1
    with pytest.raises(UnknownUpdateToken):
        p.apply_update(A, ApplyUpdateRequest(offer.update_token, 3))
    with pytest.raises(BdxError):
        p.authorize_download(A, b"2")


@pytest.mark.parametrize(
    "fields",
    [
        {0: tlv.UInt(0xFFF1), 1: tlv.UInt(0x8000), 2: tlv.UInt(1), 3: tlv.Array([tlv.UInt(0)]), 5: "USA"},
        {0: tlv.UInt(0xFFF1), 1: tlv.UInt(0x8000), 2: tlv.UInt(1), 3: tlv.Array([tlv.UInt(0)] * 9)},
        {0: tlv.UInt(0xFFF1), 1: tlv.UInt(0x8000), 2: tlv.UInt(1), 3: tlv.Array(), 7: bytes(513)},
        {0: tlv.UInt(0xFFF1), 1: tlv.UInt(0x8000), 3: tlv.Array()},
    ],
)
def test_malformed_query_fields_are_schema_errors(fields):
    # The cluster turns a SchemaError into INVALID_COMMAND (spec §2.1).
    with pytest.raises(SchemaError):
        QueryImage.from_tlv(tlv.Structure(fields))


def test_the_answer_says_why():
    answers = []
    p = provider(emit=lambda event: isinstance(event, QueryImageAnswered) and answers.append(event))
    p.policy.arm(Knob.CONSENT_NEEDED, True, sticky=True)
    p.query_image(A, 1, query(1, (DownloadProtocol.HTTPS,)))
    p.query_image(A, 1, query(3))
    p.policy.arm(Knob.QUERY_STATUS, QueryImageStatus.BUSY)
    p.query_image(A, 1, query(1))
    reasons = [answer.reason for answer in answers]
    assert reasons[0] == "no download protocol in common"
    assert reasons[1].startswith("up to date")
    assert reasons[2] == "" and [armed.knob for armed in answers[2].used] == [Knob.QUERY_STATUS]  # the knob says why


def test_offers_survive_in_the_store_and_stale_ones_are_dropped(tmp_path):
    db = Database.in_directory(tmp_path)
    first = provider(store=OfferStore(db))
    response = first.query_image(A, 1, query(1))
    token = response.update_token
    again = provider(store=OfferStore(db))  # a new process on the same database
    assert again.apply_update(A, ApplyUpdateRequest(token, response.software_version)).action == 0
    with pytest.raises(UnknownUpdateToken):
        again.apply_update(B, ApplyUpdateRequest(token, response.software_version))
    assert OfferStore(db).load()[0].apply_requests == 1
    with db.transaction() as cursor:  # the image behind designator 0 changed: that offer is stale
        cursor.execute("UPDATE offers SET software_version = 99")
    assert provider(store=OfferStore(db)).offers == {} and OfferStore(db).load() == []


def test_offer_any_offers_the_file_to_every_requestor_as_the_sdk_app_does():
    image = SAMPLES / "sample-fff1-8000-v3.ota"
    checked = OtaProvider(ImageCatalog.from_file(image), OtaPolicy())
    anyone = OtaProvider(ImageCatalog.from_file(image), OtaPolicy(), offer_any=True)
    other_product_up_to_date = QueryImage(0x1234, 0x5678, 7, BDX)
    assert checked.query_image(A, 1, other_product_up_to_date).status == QueryImageStatus.NOT_AVAILABLE
    offered = anyone.query_image(A, 1, other_product_up_to_date)
    assert (offered.status, offered.software_version) == (QueryImageStatus.UPDATE_AVAILABLE, 3)


def test_one_fabric_flooding_queries_cannot_take_away_another_fabrics_offer(tmp_path):
    from ota_provider.core.ota.provider import MAX_OFFERS, OFFERS_PER_FABRIC, OFFERS_PER_REQUESTOR  # noqa: PLC0415

    p = provider(store=OfferStore(Database(tmp_path / "state.db")))
    kept = p.query_image(A, 1, query(1))
    for _ in range(MAX_OFFERS + 1):  # one requestor of fabric 2, with only Operate on the OTA cluster
        p.query_image(B, 1, query(1))
    assert p.apply_update(A, ApplyUpdateRequest(kept.update_token, 3)) is not None
    assert p.authorize_download(A, b"2").name == "sample-fff1-8000-v3.ota"
    assert sum(1 for o in p.offers.values() if o.peer == B) == OFFERS_PER_REQUESTOR
    for node in range(2 * OFFERS_PER_FABRIC):  # many requestors of fabric 2
        p.query_image(Peer(2, 0x100 + node), 1, query(1))
    assert sum(1 for o in p.offers.values() if o.peer[0] == 2) == OFFERS_PER_FABRIC
    assert p.apply_update(A, ApplyUpdateRequest(kept.update_token, 3)) is not None
    assert len(p.store.load()) == len(p.offers)  # the store forgets what memory forgets

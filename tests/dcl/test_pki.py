"""The ledger's PKI answers (approved roots), its cache files and its vendor list, from any input:
each decoder answers with what it can use or one LedgerError, never anything else."""

from __future__ import annotations

import asyncio
import json

from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from ota_provider.core.dcl.cache import CachedAnswer, LedgerCache
from ota_provider.core.dcl.ledger import LedgerError
from ota_provider.core.dcl.pki import (
    certificate_path,
    parse_certificates_by_key_id,
    parse_root_certificates,
    parse_root_list,
)
from ota_provider.core.dcl.revocation import RevocationPoint, parse_points, revoked_serials
from ota_provider.core.dcl.sources import LedgerKind, LedgerSource
from ota_provider.core.dcl.updates import LedgerUpdates

from .replica import Replica, approve_root, mint_paa

POINT_KEYS = ["issuerSubjectKeyID", "dataURL", "crlSignerCertificate", "isPAA", "revocationType", "dataDigest"]
PAA = mint_paa("Fuzz PAA")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
shaped = st.fixed_dictionaries(
    {
        "approvedRootCertificates": st.fixed_dictionaries(
            {"schemaVersion": st.integers(-1, 1), "certs": st.lists(json_values, max_size=3) | json_values}
        ),
        "certificates": st.lists(st.fixed_dictionaries({"certs": st.lists(json_values, max_size=2)}), max_size=2),
        "approvedCertificates": st.fixed_dictionaries(
            {
                "subject": st.sampled_from(["S", "T"]),
                "subjectKeyId": st.sampled_from(["K", "L"]),
                "schemaVersion": st.integers(-1, 1),
                "certs": st.lists(
                    st.fixed_dictionaries({"pemCert": st.text(max_size=40) | json_values, "isRoot": json_values}),
                    max_size=2,
                ),
            }
        ),
    }
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, shaped))
def test_pki_answers_never_crash(answer):
    parsers = (
        parse_root_list,
        lambda a: parse_root_certificates(a, "S", "K"),
        lambda a: parse_certificates_by_key_id(a, bytes(20)),
    )
    for parse in parsers:
        try:
            result = parse(answer)
        except LedgerError:
            continue
        assert isinstance(result, list)


def test_the_replicas_answers_as_the_ledger_spells_them(tmp_path):
    """The subject in base64 of its DER and the key id in colon-separated hex, as the ledger and
    matter.js's DclClient spell them; the certificate path escapes both as encodeURIComponent."""
    replica = Replica(tmp_path / "replica")
    try:
        paa, _ = mint_paa("Vendor PAA")
        approve_root(replica, paa)
        ((subject, key_id),) = parse_root_list(replica.pki["/dcl/pki/root-certificates"])
        path = certificate_path(subject, key_id)
        assert "%3A" in path and path.count("/") == 5  # a "/" of the base64 subject is escaped
        answer = replica.pki[f"/dcl/pki/certificates/{subject}/{key_id}"]
        assert parse_root_certificates(answer, subject, key_id) == [paa]
        try:
            parse_root_certificates(answer, subject, "AA:BB")
        except LedgerError as exc:
            assert "another certificate" in str(exc)
        else:
            raise AssertionError("an answer about another certificate was taken")
    finally:
        replica.close()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_a_damaged_cache_file_is_fetched_again_not_trusted(tmp_path_factory, content):
    cache = LedgerCache(tmp_path_factory.mktemp("cache"))
    cache.store("/dcl/model/versions/1/2", CachedAnswer(1.0, True, {}))
    (next((cache.directory / "answers").glob("*.json"))).write_bytes(content)
    loaded = cache.load("/dcl/model/versions/1/2")
    assert loaded is None or isinstance(loaded.fetched, float)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_vendor_list_gives_names_or_none(tmp_path_factory, body):
    storage = tmp_path_factory.mktemp("state")
    source = LedgerSource(LedgerKind.URL, "https://127.0.0.1:9")
    cache = LedgerCache(storage / "ledger" / source.slug)
    cache.store("/dcl/vendorinfo/vendors", CachedAnswer(1.0, True, body))
    names = LedgerUpdates([source], storage).vendor_names()
    assert all(isinstance(k, int) and isinstance(v, str) and len(v) <= 64 for k, v in names.items())
    json.dumps(names)


@settings(max_examples=300, deadline=None)
@given(
    json_values
    | st.fixed_dictionaries(
        {
            "pkiRevocationDistributionPointsByIssuerSubjectKeyID": st.fixed_dictionaries(
                {"points": st.lists(st.dictionaries(st.sampled_from(POINT_KEYS), json_values), max_size=3)}
            )
        }
    )
)
def test_revocation_points_never_crash(answer):
    try:
        points = parse_points(answer, bytes.fromhex("AB" * 20))
    except LedgerError:
        return
    assert all(point.issuer_key_id == "AB" * 20 for point in points)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_as_a_crl_are_refused_in_one_line(data):
    paa, _ = PAA
    signer = paa.public_bytes(serialization.Encoding.PEM).decode()
    point = RevocationPoint("AB" * 20, True, "https://127.0.0.1/x.crl", signer)
    try:
        revoked_serials(point, data)
    except LedgerError as exc:
        assert "\n" not in str(exc)


def test_many_roots_load_and_a_bad_one_is_left_out(tmp_path, monkeypatch):
    replica = Replica(tmp_path / "replica")
    monkeypatch.setenv("SSL_CERT_FILE", str(replica.ca_file))
    try:
        roots = [mint_paa(f"Vendor {n} PAA")[0] for n in range(20)]
        for root in roots:
            approve_root(replica, root)
        broken = next(path for path in replica.pki if path.startswith("/dcl/pki/certificates/"))
        replica.pki[broken]["approvedCertificates"]["certs"][0]["pemCert"] = "-----BEGIN CERTIFICATE-----\nnot\n"
        events: list = []
        updates = LedgerUpdates([LedgerSource(LedgerKind.URL, replica.url)], tmp_path / "state", emit=events.append)

        async def scenario():
            loaded = await updates.load_roots()
            await updates.aclose()
            return loaded

        loaded = asyncio.run(scenario())
    finally:
        replica.close()
    assert len(loaded) == 19 and {root.certificate for root in loaded} < set(roots)
    assert [(e.roots, e.from_cache) for e in events if e.name == "LedgerRootsLoaded"] == [(19, False)]

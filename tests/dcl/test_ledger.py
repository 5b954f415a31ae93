"""The ledger's model-version answers (recorded real ones) and the rule that picks a version."""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota_provider.core.dcl.checksum import ALGORITHMS, ChecksumError, ImageDigest
from ota_provider.core.dcl.ledger import (
    LedgerError,
    ModelVersion,
    choose,
    parse_model_version,
    parse_software_versions,
    skip_reason,
)
from ota_provider.core.dcl.sources import parse_ledger

RECORDED = Path(__file__).parent / "recorded"


def recorded(name: str) -> dict:
    return json.loads((RECORDED / f"{name}.json").read_text())


def entry(name: str, vid: int, pid: int, version: int) -> ModelVersion:
    return parse_model_version(recorded(name), vid, pid, version)


def test_recorded_answers_parse_with_the_size_as_a_string_and_no_schema_version():
    assert parse_software_versions(recorded("4442-67"), 4442, 67) == [197120, 197888, 197910, 198340]
    newest = entry("4442-67-198340", 4442, 67, 198340)
    assert newest.ota_file_size == 755976 and newest.ota_checksum_type == 1 and len(newest.ota_checksum) == 32
    assert (newest.min_applicable, newest.max_applicable) == (198317, 198340)
    assert newest.ota_url.startswith("https://") and newest.software_version_string == "3.6.196"
    no_image = entry("4442-67-197888", 4442, 67, 197888)
    assert not no_image.has_image and no_image.ota_checksum == b"" and no_image.ota_file_size == 0


def test_a_newer_version_marked_invalid_does_not_hide_an_older_valid_one():
    """home-assistant/core#123366: 1011 invalid on the ledger; the device on 1000 gets nothing newer,
    and never 1011; with 1011 valid, it gets 1011 (1000 <= current <= 1010)."""
    invalid = {1011: entry("4447-8194-1011-invalid", 4447, 8194, 1011)}
    choice = choose([1000, 1011], invalid.__getitem__, current=1000)
    assert choice.version is None and choice.skipped == ((1011, "marked not valid on the ledger"),)
    valid = {1011: entry("4447-8194-1011-valid", 4447, 8194, 1011)}
    assert choose([1000, 1011], valid.__getitem__, current=1000).version == valid[1011]


def test_an_older_applicable_version_is_found_past_newer_ones_that_are_not():
    base = recorded("4447-8194-1011-valid")

    def version(number: int, **changes) -> ModelVersion:
        answer = copy.deepcopy(base)
        answer["modelVersion"].update({"softwareVersion": number, **changes})
        return parse_model_version(answer, 4447, 8194, number)

    versions = {
        1040: version(1040, softwareVersionValid=False),
        1030: version(1030, otaUrl="", otaFileSize="0", otaChecksum="", otaChecksumType=0),
        1020: version(1020, minApplicableSoftwareVersion=1015, maxApplicableSoftwareVersion=1019),
        1015: version(1015, otaUrl="http://example.invalid/a.ota"),
        1012: version(1012, minApplicableSoftwareVersion=1000, maxApplicableSoftwareVersion=1011),
    }
    choice = choose(versions, versions.__getitem__, current=1011)
    assert choice.version == versions[1012]
    assert [number for number, _ in choice.skipped] == [1040, 1030, 1020, 1015]
    reasons = dict(choice.skipped)
    assert "without an image" in reasons[1030] and "1015-1019, not to 1011" in reasons[1020]
    assert "not on https://" in reasons[1015]
    assert choose(versions, versions.__getitem__, current=1012).version is None  # nothing newer applies


def test_the_recorded_range_leaves_out_a_device_below_its_minimum():
    newest = entry("4442-67-198340", 4442, 67, 198340)
    assert skip_reason(newest, 198316) == "applies to versions 198317-198340, not to 198316"
    assert skip_reason(newest, 198317) is None


def test_a_version_the_ledger_cannot_describe_is_skipped_with_its_reason():
    def fetch(number: int) -> ModelVersion:
        if number == 1011:
            raise LedgerError("no such version")
        return entry("4447-8194-1011-valid", 4447, 8194, 1011)

    choice = choose([1011], fetch, current=1000)
    assert choice.version is None and choice.skipped == ((1011, "no such version"),)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"vid": 4448}, "answered for 0x1160/0x2002"),
        ({"softwareVersion": 1012}, "answered for 1012"),
        ({"schemaVersion": 1}, "schema version 1"),
        ({"otaFileSize": "-5"}, "otaFileSize"),
        ({"otaChecksum": "not base64!"}, "not base64"),
        ({"softwareVersionValid": "yes"}, "softwareVersionValid"),
    ],
)
def test_an_answer_that_does_not_fit_the_question_is_refused_in_words(change, words):
    answer = recorded("4447-8194-1011-valid")
    answer["modelVersion"].update(change)
    with pytest.raises(LedgerError, match=words):
        parse_model_version(answer, 4447, 8194, 1011)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=20,
)
KEYS = st.sampled_from([*(recorded("4447-8194-1011-valid")["modelVersion"]), "schemaVersion"])


@given(st.dictionaries(KEYS, JSON, max_size=14), JSON)
def test_any_answer_is_a_version_or_a_ledger_error(fields, other):
    """Decoding an answer from the network raises nothing but LedgerError."""
    for answer in ({"modelVersion": {"vid": 4447, "pid": 8194, "softwareVersion": 1011, **fields}}, other):
        with contextlib.suppress(LedgerError):
            parse_model_version(answer, 4447, 8194, 1011)
        with contextlib.suppress(LedgerError):
            parse_software_versions({"modelVersions": fields} if isinstance(fields, dict) else other, 4447, 8194)


# Published vectors for "abc": FIPS 180-2 (SHA-256, SHA-384, SHA-512), FIPS 202 (SHA3-*); the
# sha-256-N ids are the SHA-256 digest's first N bits (RFC 6920, section 9.4).
ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
ABC = {
    1: ABC_SHA256,
    2: ABC_SHA256[:32],
    3: ABC_SHA256[:30],
    4: ABC_SHA256[:24],
    5: ABC_SHA256[:16],
    6: ABC_SHA256[:8],
    7: "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
    8: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"
    "454d4423643ce80e2a9ac94fa54ca49f",
    9: "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf",
    10: "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
    11: "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b298d88cea927ac7f539f1edf228376d25",
    12: "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e10e116e9192af3c91a7ec57647e3934057"
    "340b4cf408d5a56592f8274eec53f0",
}


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_every_checksum_type_the_ledger_defines_matches_the_published_vectors(algorithm):
    expected = bytes.fromhex(ABC[algorithm])
    assert ImageDigest.of(algorithm, [b"a", b"bc"]) == expected
    digest = ImageDigest(algorithm)
    digest.update(b"abc")
    digest.check(expected)
    with pytest.raises(ChecksumError, match="not the one published"):
        digest.check(bytes([expected[0] ^ 1]) + expected[1:])
    with pytest.raises(ChecksumError, match="bytes"):
        digest.check(expected + b"\0")


def test_an_unknown_checksum_type_is_said_so():
    with pytest.raises(ChecksumError, match="type 13"):
        ImageDigest(13)
    with pytest.raises(ChecksumError, match="type 0"):
        ImageDigest(0)


def test_a_ledger_url_with_credentials_never_shows_them():
    source = parse_ledger("https://bench:s3cret@dcl.example:1317/")
    assert (source.host, source.name) == ("dcl.example:1317", "dcl.example:1317")
    assert parse_ledger("https://[fd00::5]:8443").host == "[fd00::5]:8443"
    for word in ("mainnet", "TestNet"):
        assert parse_ledger(word).name in ("MainNet", "TestNet")
    for bad in ("ftp://x", "nowhere", "https://x?q=1"):
        with pytest.raises(ValueError, match="ledger"):
            parse_ledger(bad)

"""bdx:// URIs with the SDK requestor's rules (OTA_PROVIDER_SPEC.md §0.2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota_provider.core.bdx.uri import BdxUriError, make_bdx_uri, parse_bdx_uri


def test_spec_examples():
    assert parse_bdx_uri("bdx://00112233AABBCCDD/0") == (0x00112233AABBCCDD, b"0")
    # Old SDK providers put an absolute path there: the designator keeps its leading slash.
    assert parse_bdx_uri("bdx://0000000000000064//home/ubuntu/x.bin") == (0x64, b"/home/ubuntu/x.bin")
    assert make_bdx_uri(0x2A, "2") == "bdx://000000000000002A/2"


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("bdx://00112233AABBCCDD/", "shorter"),
        ("BDX://00112233AABBCCDD/0", "bdx://"),
        ("bdx://FFFFFFFFFFFFFFFF/0", "operational"),
        ("bdx://0000000000000000/0", "operational"),
        ("bdx://00112233AABBCCDDx0", "'/'"),
        ("bdx://00112233AABBCCZZ/0", "operational"),
        ("bdx://00112233AABBCCDD/" + "a" * 256, "1..255"),
    ],
)
def test_bad_uris_say_why(uri, why):
    with pytest.raises(BdxUriError, match=why):
        parse_bdx_uri(uri)


@given(st.text(max_size=300))
def test_any_text_parses_or_raises_bdx_uri_error(text):
    try:
        node_id, designator = parse_bdx_uri(text)
    except BdxUriError:
        return
    assert make_bdx_uri(node_id, designator.decode()).upper() == text.upper()

"""CODE[@HOST[:PORT]] as a user types it, and one clear line for each mistake."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota_provider.core.codec.setup_payload import SetupPayload
from ota_provider.core.setup_target import parse_target, where_text

# Passcode 20202021, discriminator 3840, VID 0xFFF1 PID 0x8000: the codes our own node shows.
MANUAL, QR = "34970112332", "MT:Y.K90AFN00KA0648G00"


@pytest.mark.parametrize("code", [MANUAL, "3497-011-2332", "3497 011 2332", QR])
def test_codes_in_every_written_form(code):
    target = parse_target(code)
    assert target.passcode == 20202021 and target.host is None


@pytest.mark.parametrize(
    ("text", "host", "port", "address"),
    [
        (f"{MANUAL}@192.0.2.7", "192.0.2.7", 5540, ("::ffff:192.0.2.7", 5540, 0, 0)),
        (f"{MANUAL}@192.0.2.7:5541", "192.0.2.7", 5541, ("::ffff:192.0.2.7", 5541, 0, 0)),
        (f"{MANUAL}@[fd00::2]:5541", "fd00::2", 5541, ("fd00::2", 5541, 0, 0)),
        (f"{MANUAL}@[::1]", "::1", 5540, ("::1", 5540, 0, 0)),
        (f"{MANUAL}@[fe80::1%1]:5540", "fe80::1%1", 5540, ("fe80::1", 5540, 0, 1)),
    ],
)
def test_addresses(text, host, port, address):
    target = parse_target(text)
    assert (target.host, target.port, target.address()) == (host, port, address)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("34970112333", "check digit"),
        ("3497011233", "10 digits"),
        ("MT:Y.K90AFN00KA0648G0", "setup code"),
        ("", "no setup code"),
        (f"{MANUAL}@fd00::2", "brackets"),
        (f"{MANUAL}@[fd00::2", "closing ']'"),
        (f"{MANUAL}@[fd00::2]5541", "expected :PORT"),
        (f"{MANUAL}@192.0.2.7:70000", "1 to 65535"),
        (f"{MANUAL}@:5540", "no host"),
        (f"{MANUAL}@[not-v6]", "not an IPv6 address"),
    ],
)
def test_each_mistake_says_what_is_wrong(text, says):
    with pytest.raises(ValueError) as error:
        parse_target(text)
    assert says in str(error.value) and "\n" not in str(error.value)


def test_a_forbidden_passcode_in_a_well_formed_code_is_refused():
    code = SetupPayload(discriminator=3840, passcode=12345678, vendor_id=0, product_id=0).manual_code(
        allow_invalid=True
    )
    with pytest.raises(ValueError, match="passcode"):
        parse_target(code)


@given(st.text(max_size=60))
def test_any_text_parses_or_says_why(text):
    try:
        parse_target(text)
    except ValueError as exc:
        assert str(exc)


@pytest.mark.parametrize(
    "address", [("fd00::2", 5540, 0, 0), ("::ffff:192.0.2.7", 5541, 0, 0), ("fe80::1", 5540, 0, 3)]
)
def test_a_listed_devices_address_reads_back_to_the_same_socket_address(address):
    """The Add-device dialog writes a picked device's address after the code; the zone survives."""
    assert parse_target(f"34970112332@{where_text(address)}").address() == address

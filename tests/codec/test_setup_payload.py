"""Setup codes against the SDK's published vectors (src/setup_payload/tests/, chip-tool defaults)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota_provider.core.codec.setup_payload import (
    CommissioningFlow,
    DiscoveryCapability,
    SetupCodeError,
    SetupPayload,
    check_passcode,
    verhoeff_check_digit,
)
from tests.helpers.fuzzing import assert_only_raises, fuzz_inputs

# The SDK example apps' default onboarding: VID 0xFFF1, PID 0x8000, discriminator 3840, passcode 20202021.
DEFAULT = SetupPayload(discriminator=3840, passcode=20202021, vendor_id=0xFFF1, product_id=0x8000)


# The all-clusters app (PID 0x8000, BLE) and the on-network code that SDK tests pass with
# --qr-code, which decodes to PID 0x8001 (the lighting app).
@pytest.mark.parametrize(
    ("product_id", "discovery", "expected"),
    [
        (0x8001, DiscoveryCapability.ON_NETWORK, "MT:-24J0AFN00KA0648G00"),
        (0x8000, DiscoveryCapability.BLE, "MT:Y.K9042C00KA0648G00"),
    ],
)
def test_sdk_default_app_qr_codes(product_id, discovery, expected):
    payload = SetupPayload(3840, 20202021, 0xFFF1, product_id, discovery=discovery)
    assert payload.qr_code() == expected
    assert SetupPayload.from_qr_code(expected) == payload


def test_sdk_default_manual_code():
    assert DEFAULT.manual_code() == "34970112332"
    assert SetupPayload.format_manual_code("34970112332") == "3497-011-2332"


# TestHelpers.h: kDefaultPayloadQRCode and the codes concatenated in kConcatenatedQRCode
# (passcode and discriminator incremented by 1, 2, 3). VID 12, PID 1, SoftAP.
@pytest.mark.parametrize(
    ("increment", "expected"),
    [
        (0, "MT:M5L90MP500K64J00000"),
        (1, "MT:M5L90U.D010K4J00000"),
        (2, "MT:M5L900CM02IX4J00000"),
        (3, "MT:M5L908OU03-85J00000"),
    ],
)
def test_sdk_test_helper_qr_codes(increment, expected):
    payload = SetupPayload(
        discriminator=128 + increment,
        passcode=2048 + increment,
        vendor_id=12,
        product_id=1,
        discovery=DiscoveryCapability.SOFT_AP,
    )
    assert payload.qr_code() == expected
    assert SetupPayload.from_qr_code(expected) == payload


def test_concatenated_qr_code_parses_the_first_payload():
    text = "MT:M5L90MP500K64J00000*M5L90U.D010K4J00000"
    assert SetupPayload.from_qr_code(text).passcode == 2048


# TestManualCode.cpp: expected strings are given without the check digit, which the test
# appends with Verhoeff10::ComputeCheckChar; the SDK uses passcode 123456780 at the generator level.
@pytest.mark.parametrize(
    ("passcode", "discriminator", "flow", "vid", "pid", "digits"),
    [
        (123456780, 2560, CommissioningFlow.STANDARD, 0, 0, "2361087535"),
        (123456780, 2560, CommissioningFlow.CUSTOM, 0, 0, "63610875350000000000"),
        (123456780, 2560, CommissioningFlow.CUSTOM, 1, 1, "63610875350000100001"),
        (123456780, 2560, CommissioningFlow.CUSTOM, 45367, 14526, "63610875354536714526"),
        (123456780, 2560, CommissioningFlow.STANDARD, 45367, 14526, "2361087535"),
        (0x7FFFFFF, 0xFFF, CommissioningFlow.CUSTOM, 65535, 65535, "76553581916553565535"),
    ],
)
def test_sdk_manual_code_vectors(passcode, discriminator, flow, vid, pid, digits):
    payload = SetupPayload(discriminator, passcode, vid, pid, flow=flow)
    assert payload.manual_code(allow_invalid=True) == digits + verhoeff_check_digit(digits)


@pytest.mark.parametrize(
    ("digits", "passcode", "short_discriminator", "vid", "pid"),
    [
        ("63610875354536714526", 123456780, 2560 >> 8, 45367, 14526),
        ("52927623630456200032", 38728284, 1280 >> 8, 4562, 32),
        ("40000100000000100001", 1, 0, 1, 1),
        ("2361087535", 123456780, 2560 >> 8, 0, 0),
        ("0000010000", 1, 0, 0, 0),
    ],
)
def test_sdk_manual_code_parser_vectors(digits, passcode, short_discriminator, vid, pid):
    payload = SetupPayload.from_manual_code(digits + verhoeff_check_digit(digits))
    assert (payload.passcode, payload.short_discriminator, payload.vendor_id, payload.product_id) == (
        passcode,
        short_discriminator,
        vid,
        pid,
    )


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("", "0 digits"),
        ("24184.2196", "only digits"),
        ("2456" + verhoeff_check_digit("2456"), "5 digits"),
        ("12749875380" + verhoeff_check_digit("12749875380"), "12 digits"),
        ("23456789123456785610" + verhoeff_check_digit("23456789123456785610"), "length does not match"),
        ("2327680000" + verhoeff_check_digit("2327680000"), "no passcode"),
        ("02684354589", "check digit"),
    ],
)
def test_sdk_manual_code_invalid_entries(code, message):
    with pytest.raises(SetupCodeError, match=message):
        SetupPayload.from_manual_code(code)


def test_verhoeff_detects_every_single_digit_error_and_adjacent_swap():
    base = "3497011233"
    check = verhoeff_check_digit(base)
    for i in range(len(base)):
        for d in "0123456789":
            if d != base[i]:
                assert verhoeff_check_digit(base[:i] + d + base[i + 1 :]) != check
    for i in range(len(base) - 1):
        if base[i] != base[i + 1]:
            swapped = base[:i] + base[i + 1] + base[i] + base[i + 2 :]
            assert verhoeff_check_digit(swapped) != check


@pytest.mark.parametrize(
    "passcode",
    [0, 11111111, 22222222, 33333333, 44444444, 55555555, 66666666, 77777777, 88888888, 99999999, 12345678, 87654321],
)
def test_forbidden_passcodes(passcode):
    with pytest.raises(SetupCodeError, match=r"not allowed|out of range"):
        check_passcode(passcode)
    with pytest.raises(SetupCodeError):
        SetupPayload(3840, passcode).qr_code()


@pytest.mark.parametrize("passcode", [-1, 99999999 + 1, 1 << 27, True, "20202021"])
def test_out_of_range_passcodes(passcode):
    with pytest.raises(SetupCodeError):
        check_passcode(passcode)


def test_bounds_of_the_valid_passcode_range():
    assert check_passcode(1) == 1
    assert check_passcode(99999998) == 99999998


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"discriminator": 4096}, "discriminator 4096 does not fit 12 bits"),
        ({"vendor_id": 0x10000}, "vendor id"),
        ({"flow": 3}, "reserved"),
    ],
)
def test_invalid_fields(kwargs, message):
    with pytest.raises(SetupCodeError, match=message):
        SetupPayload(**{"discriminator": 3840, "passcode": 20202021, **kwargs}).qr_code()


valid_passcodes = st.integers(1, 99999998).filter(
    lambda p: (
        p not in {11111111, 22222222, 33333333, 44444444, 55555555, 66666666, 77777777, 88888888, 12345678, 87654321}
    )
)


@given(
    st.integers(0, 4095),
    valid_passcodes,
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.sampled_from(CommissioningFlow),
    st.integers(0, 0xFF).map(DiscoveryCapability),
)
def test_qr_round_trip(discriminator, passcode, vid, pid, flow, discovery):
    payload = SetupPayload(discriminator, passcode, vid, pid, flow=flow, discovery=discovery)
    code = payload.qr_code()
    assert len(code) == 22
    assert SetupPayload.from_qr_code(code) == payload


@given(st.integers(0, 4095), valid_passcodes, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.booleans())
def test_manual_round_trip(discriminator, passcode, vid, pid, custom):
    flow = CommissioningFlow.CUSTOM if custom else CommissioningFlow.STANDARD
    payload = SetupPayload(discriminator, passcode, vid, pid, flow=flow)
    code = payload.manual_code()
    assert len(code) == (21 if custom else 11)
    parsed = SetupPayload.from_manual_code(code)
    assert parsed.passcode == passcode
    assert parsed.short_discriminator == discriminator >> 8
    assert (parsed.vendor_id, parsed.product_id) == ((vid, pid) if custom else (0, 0))


def test_fuzz_code_parsers():
    qr_corpus = [b"MT:-24J0AFN00KA0648G00", b"MT:M5L90MP500K64J00000*M5L90U.D010K4J00000"]
    manual_corpus = [b"34970112332", b"3497-011-2332", b"636108753545367145265"]

    def parse_qr(data: bytes) -> object:
        return SetupPayload.from_qr_code(data.decode("latin-1"))

    def parse_manual(data: bytes) -> object:
        return SetupPayload.from_manual_code(data.decode("latin-1"))

    assert assert_only_raises(parse_qr, SetupCodeError, fuzz_inputs(qr_corpus, 50_000, seed=0x9C)) == 50_000
    assert assert_only_raises(parse_manual, SetupCodeError, fuzz_inputs(manual_corpus, 50_000, seed=0x3A)) == 50_000

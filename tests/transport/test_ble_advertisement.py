"""The Matter BLE advertisement's service data (spec 5.4.2.5.6; matter.js
``BtpCodec.encodeBleAdvertisementData``): bytes written from the layout, and as BlueZoo relayed a
device's advertisement to bleak (``../shared/reference/BLE.md``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota_provider.core.transport.ble_advertisement import (
    BleAdvertisement,
    BleAdvertisementError,
    decode_service_data,
)


def test_the_service_data_bleak_reported_for_a_test_device():
    assert decode_service_data(bytes.fromhex("00000ff1ff008000")) == BleAdvertisement(3840, 0xFFF1, 0x8000)


def test_version_and_flags_from_the_layout():
    # discriminator 0xABC, advertisement version 1, VID 0x1234, PID 0x5678, additional data + extended
    decoded = decode_service_data(bytes.fromhex("00bc1a3412785603"))
    assert (decoded.discriminator, decoded.version, decoded.vendor_id, decoded.product_id) == (0xABC, 1, 0x1234, 0x5678)
    assert decoded.additional_data and decoded.extended_announcement


@pytest.mark.parametrize("data", ["", "00000ff1ff0080", "01000ff1ff008000"])
def test_what_is_not_a_commissionable_devices_service_data_is_refused(data):
    with pytest.raises(BleAdvertisementError):
        decode_service_data(bytes.fromhex(data))


@given(st.binary(max_size=20))
def test_any_service_data_decodes_or_is_refused(data):
    try:
        decoded = decode_service_data(data)
    except BleAdvertisementError:
        return
    assert decoded.encode() == data[:8] or data[7] & 0xFC  # reserved flag bits are not kept

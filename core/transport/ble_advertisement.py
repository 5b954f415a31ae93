"""What a commissionable Matter device puts in its BLE advertisement: the service data of the
Matter service (0xFFF6), 8 bytes (Matter core spec 5.4.2.5.6).

opcode (1, 0x00: commissionable), discriminator and advertisement version (2, little-endian: the
discriminator in bits 0-11, the version in 12-15), vendor id (2), product id (2), flags (1: bit 0
additional data in C3, bit 1 an extended announcement, whose vendor and product ids are 0).
matter.js (``BtpCodec.encodeBleAdvertisementData``) and the SDK write the same layout.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BleAdvertisement", "BleAdvertisementError", "decode_service_data"]

COMMISSIONABLE = 0x00
ADDITIONAL_DATA, EXTENDED_ANNOUNCEMENT = 0x01, 0x02


class BleAdvertisementError(ValueError):
    """Service data that is not a commissionable Matter device's: the device is not listed."""


@dataclass(frozen=True)
class BleAdvertisement:
    discriminator: int
    vendor_id: int  # 0: not given (an extended announcement, or privacy)
    product_id: int
    version: int = 0
    additional_data: bool = False
    extended_announcement: bool = False

    def encode(self) -> bytes:
        field = (self.version & 0x0F) << 12 | (self.discriminator & 0x0FFF)
        flags = (ADDITIONAL_DATA if self.additional_data else 0) | (
            EXTENDED_ANNOUNCEMENT if self.extended_announcement else 0
        )
        return (
            bytes((COMMISSIONABLE,))
            + field.to_bytes(2, "little")
            + self.vendor_id.to_bytes(2, "little")
            + self.product_id.to_bytes(2, "little")
            + bytes((flags,))
        )


def decode_service_data(data: bytes) -> BleAdvertisement:
    if len(data) < 8:
        raise BleAdvertisementError(f"Matter BLE service data is 8 bytes, not {len(data)}")
    if data[0] != COMMISSIONABLE:
        raise BleAdvertisementError(f"Matter BLE opcode 0x{data[0]:02X} is not a commissionable device's")
    field = int.from_bytes(data[1:3], "little")
    return BleAdvertisement(
        discriminator=field & 0x0FFF,
        vendor_id=int.from_bytes(data[3:5], "little"),
        product_id=int.from_bytes(data[5:7], "little"),
        version=field >> 12,
        additional_data=bool(data[7] & ADDITIONAL_DATA),
        extended_announcement=bool(data[7] & EXTENDED_ANNOUNCEMENT),
    )

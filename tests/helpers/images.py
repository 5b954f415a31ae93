"""An OTA image built by hand from the spec table, not by our encoder."""

from __future__ import annotations

import hashlib
import struct

PAYLOAD = b"hello payload\n"


def hand_built_image(payload: bytes = PAYLOAD) -> bytes:
    """VID 0xDEAD, PID 0xBEEF, version 2 "2.0", sha256, laid out field by field from §3.1/§3.2."""
    digest = hashlib.sha256(payload).digest()
    header_tlv = (
        bytes.fromhex("15")  # anonymous structure
        + bytes.fromhex("25 00 ad de".replace(" ", ""))  # [0] VendorID, uint16
        + bytes.fromhex("25 01 ef be".replace(" ", ""))  # [1] ProductID, uint16
        + bytes.fromhex("24 02 02".replace(" ", ""))  # [2] SoftwareVersion, uint8
        + bytes.fromhex("2c 03 03".replace(" ", ""))
        + b"2.0"  # [3] SoftwareVersionString, 1-byte length
        + bytes([0x24, 0x04, len(payload)])  # [4] PayloadSize, uint8
        + bytes.fromhex("24 08 01".replace(" ", ""))  # [8] ImageDigestType = sha256
        + bytes.fromhex("30 09 20".replace(" ", ""))
        + digest  # [9] ImageDigest, 1-byte length
        + bytes.fromhex("18")
    )
    fixed = bytes.fromhex("1e f1 ee 1b".replace(" ", "")) + struct.pack(
        "<QI", 16 + len(header_tlv) + len(payload), len(header_tlv)
    )
    return fixed + header_tlv + payload

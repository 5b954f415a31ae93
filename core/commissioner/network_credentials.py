"""The network credentials a device reachable only over BLE is given: a Wi-Fi SSID and passphrase,
or a Thread operational dataset. They are secrets: a value's ``repr`` never shows them, only
:func:`describe` is shown, and they live only in the state database (owner-only), named, for the
next device (as the OHF matter server keeps its Wi-Fi and Thread lists).

The checks are those of the SDK's commissioner and no stricter: an SSID of 1 to 32 bytes, a
passphrase of 8 to 63 characters or 64 hex digits (or none, for an open network); a dataset of
well-formed Thread TLVs, at most 254 bytes (Matter's AddOrUpdateThreadNetwork), with what
``OperationalDataset::IsCommissioned`` asks for: PAN ID, network key, extended PAN ID, channel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["CredentialError", "ThreadDataset", "WifiCredentials", "parse_thread_dataset"]

MAX_DATASET = 254
# Thread MeshCoP TLV types (Thread spec 8.10.1) and the length each must have when fixed.
CHANNEL, PAN_ID, EXTENDED_PAN_ID, NETWORK_NAME, PSKC, NETWORK_KEY = 0, 1, 2, 3, 4, 5
MESH_LOCAL_PREFIX, ACTIVE_TIMESTAMP = 7, 14
FIXED_LENGTHS = {
    CHANNEL: 3,
    PAN_ID: 2,
    EXTENDED_PAN_ID: 8,
    PSKC: 16,
    NETWORK_KEY: 16,
    MESH_LOCAL_PREFIX: 8,
    ACTIVE_TIMESTAMP: 8,
}
REQUIRED = {PAN_ID: "PAN ID", NETWORK_KEY: "network key", EXTENDED_PAN_ID: "extended PAN ID", CHANNEL: "channel"}
_HEX = re.compile(r"[0-9A-Fa-f]*")


class CredentialError(ValueError):
    """Credentials that no device would accept: one line saying what is wrong."""


@dataclass(frozen=True)
class WifiCredentials:
    ssid: bytes
    passphrase: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not 1 <= len(self.ssid) <= 32:
            raise CredentialError(f"a Wi-Fi SSID is 1 to 32 bytes, not {len(self.ssid)}")
        secret = self.passphrase
        hex_psk = len(secret) == 64 and _HEX.fullmatch(secret.decode("ascii", "replace")) is not None
        if secret and not hex_psk and not 8 <= len(secret) <= 63:
            raise CredentialError(
                f"a Wi-Fi passphrase is 8 to 63 characters or 64 hex digits, not {len(secret)} characters"
            )

    def describe(self) -> str:
        ssid = self.ssid.decode("utf-8", "replace")
        return f"Wi-Fi {ssid!r}" + ("" if self.passphrase else " (open)")


@dataclass(frozen=True)
class ThreadDataset:
    tlvs: bytes = field(repr=False)
    network_name: str = ""
    pan_id: int = 0
    extended_pan_id: bytes = b""
    channel: int = 0

    def describe(self) -> str:
        name = f"{self.network_name!r}, " if self.network_name else ""
        return f"Thread {name}PAN ID 0x{self.pan_id:04X}, channel {self.channel}, XPAN {self.extended_pan_id.hex()}"


def parse_thread_dataset(text: str) -> ThreadDataset:
    """A dataset as ``ot-ctl dataset active -x`` prints it (hex; spaces and a 0x prefix allowed)."""
    cleaned = re.sub(r"\s+", "", text).removeprefix("0x").removeprefix("0X")
    if not cleaned or len(cleaned) % 2 or not _HEX.fullmatch(cleaned):
        raise CredentialError("a Thread dataset is hex digits, as `ot-ctl dataset active -x` prints it")
    return dataset_from_tlvs(bytes.fromhex(cleaned))


def dataset_from_tlvs(data: bytes) -> ThreadDataset:
    if len(data) > MAX_DATASET:
        raise CredentialError(f"a Thread dataset is at most {MAX_DATASET} bytes, not {len(data)}")
    values: dict[int, bytes] = {}
    at = 0
    while at < len(data):
        if at + 2 > len(data):
            raise CredentialError("the Thread dataset ends inside a TLV header")
        kind, length = data[at], data[at + 1]
        value = data[at + 2 : at + 2 + length]
        if len(value) != length:
            raise CredentialError(f"the Thread dataset's TLV {kind} runs past its end")
        expected = FIXED_LENGTHS.get(kind)
        if expected is not None and length != expected:
            raise CredentialError(f"the Thread dataset's TLV {kind} is {length} bytes, not {expected}")
        if kind == NETWORK_NAME and not 1 <= length <= 16:
            raise CredentialError(f"a Thread network name is 1 to 16 bytes, not {length}")
        values[kind] = value
        at += 2 + length
    missing = [name for kind, name in REQUIRED.items() if kind not in values]
    if missing:
        raise CredentialError(f"the Thread dataset has no {', no '.join(missing)}")
    return ThreadDataset(
        tlvs=data,
        network_name=values.get(NETWORK_NAME, b"").decode("utf-8", "replace"),
        pan_id=int.from_bytes(values[PAN_ID], "big"),
        extended_pan_id=values[EXTENDED_PAN_ID],
        channel=int.from_bytes(values[CHANNEL][1:], "big"),
    )

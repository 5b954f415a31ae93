"""A socket address as people write it: the transport's own notation, so any layer that names a
peer in a message (the secure channel's errors, the commissioner, the log) writes it one way."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["BleAddress", "is_ble", "socket_address"]


class BleAddress(NamedTuple):
    """A peer reached over a BTP link, where the exchange layer keeps a socket address: the
    sessions, traces and lines name it like one."""

    kind: str  # always "ble"
    mac: str

    @classmethod
    def of(cls, mac: str) -> BleAddress:
        return cls("ble", mac.upper())


def is_ble(address: tuple | None) -> bool:
    return isinstance(address, BleAddress)


def socket_address(address: tuple) -> str:
    """``[fd00::2]:5540`` or ``192.0.2.7:5540`` (an IPv4-mapped address as the IPv4 it is), ``BLE
    AA:BB:CC:DD:EE:FF``, never a tuple."""
    if isinstance(address, BleAddress):
        return f"BLE {address.mac}"
    host = address[0].removeprefix("::ffff:") if "." in address[0] else address[0]
    return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"

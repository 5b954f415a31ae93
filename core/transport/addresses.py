"""A socket address as people write it: the transport's own notation, so any layer that names a
peer in a message (the secure channel's errors, the commissioner, the log) writes it one way."""

from __future__ import annotations

__all__ = ["socket_address"]


def socket_address(address: tuple) -> str:
    """``[fd00::2]:5540`` or ``192.0.2.7:5540`` (an IPv4-mapped address as the IPv4 it is), never a tuple."""
    host = address[0].removeprefix("::ffff:") if "." in address[0] else address[0]
    return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"

"""What the user types to name a device to commission: its setup code, and optionally where it is.

``CODE[@HOST[:PORT]]``: CODE is the 11- or 21-digit manual pairing code (dashes and spaces
allowed) or the ``MT:`` QR payload; HOST is an IPv4 address, ``[IPv6]`` (with an optional
``%interface`` zone) or a name; PORT defaults to 5540. Bad input raises ValueError with one line
saying what is wrong.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from .codec.setup_payload import QR_PREFIX, SetupCodeError, SetupPayload, check_passcode

__all__ = ["DEFAULT_MATTER_PORT", "CommissionTarget", "parse_target", "where_text"]

DEFAULT_MATTER_PORT = 5540


@dataclass(frozen=True)
class CommissionTarget:
    payload: SetupPayload
    host: str | None = None  # None: find the device by DNS-SD
    port: int = DEFAULT_MATTER_PORT
    text: str = ""  # as the user typed it, for messages
    short_discriminator: bool = False  # a manual code carries only the discriminator's upper 4 bits

    @property
    def passcode(self) -> int:
        return self.payload.passcode

    def address(self) -> tuple:
        """A socket address for the exchange driver (IPv4 mapped into IPv6, names resolved)."""
        if self.host is None:
            raise ValueError("no address: the device must be found by discovery")
        host, _, zone = self.host.partition("%")
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            try:
                infos = socket.getaddrinfo(host, self.port, type=socket.SOCK_DGRAM)
            except socket.gaierror as exc:
                raise ValueError(f"cannot resolve {host!r}: {exc.strerror}") from None
            ip = ipaddress.ip_address(str(infos[0][4][0]).partition("%")[0])
        if ip.version == 4:
            return (f"::ffff:{ip}", self.port, 0, 0)
        scope = socket.if_nametoindex(zone) if zone and not zone.isdigit() else int(zone or 0)
        return (str(ip), self.port, 0, scope)


def where_text(address: tuple) -> str:
    """The ``HOST:PORT`` part of a target for a socket address (a discovered device's), zone kept:
    ``[fe80::1%3]:5540``, ``192.0.2.7:5540``; :func:`parse_target` reads it back to the same address."""
    host = address[0].removeprefix("::ffff:") if "." in address[0] else address[0]
    if ":" not in host:
        return f"{host}:{address[1]}"
    zone = f"%{address[3]}" if len(address) > 3 and address[3] else ""
    return f"[{host}{zone}]:{address[1]}"


def parse_target(text: str) -> CommissionTarget:
    code, _, where = text.strip().partition("@")
    payload = _payload(code.strip())
    short = not code.strip().upper().startswith(QR_PREFIX)
    if not where:
        return CommissionTarget(payload, text=text, short_discriminator=short)
    host, port = _host_port(where.strip())
    return CommissionTarget(payload, host, port, text, short)


def _payload(code: str) -> SetupPayload:
    if not code:
        raise ValueError("no setup code: give the 11-digit manual code or the MT: QR payload")
    try:
        payload = (
            SetupPayload.from_qr_code(code)
            if code.upper().startswith(QR_PREFIX)
            else (SetupPayload.from_manual_code(code))
        )
        check_passcode(payload.passcode)
    except (SetupCodeError, ValueError) as exc:
        raise ValueError(f"setup code {code!r}: {exc}") from None
    return payload


def _host_port(where: str) -> tuple[str, int]:
    port = DEFAULT_MATTER_PORT
    if where.startswith("["):
        host, bracket, rest = where[1:].partition("]")
        if not bracket:
            raise ValueError(f"address {where!r}: an IPv6 address needs its closing ']'")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"address {where!r}: expected :PORT after ']'")
            port = _port(rest[1:], where)
        try:
            ipaddress.IPv6Address(host.partition("%")[0])
        except ValueError:
            raise ValueError(f"address {where!r}: {host!r} is not an IPv6 address") from None
        return host, port
    if where.count(":") > 1:
        raise ValueError(f"address {where!r}: write an IPv6 address in brackets, [{where}]")
    host, colon, rest = where.partition(":")
    if colon:
        port = _port(rest, where)
    if not host:
        raise ValueError(f"address {where!r}: no host")
    return host, port


def _port(text: str, where: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"address {where!r}: port {text!r} is not a number from 1 to 65535")
    return int(text)

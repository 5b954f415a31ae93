"""Onboarding payload: the ``MT:`` QR code string and the manual pairing code (Core spec 5.1).

QR code: 88 bits packed least-significant bit first, in this order::

    version 3 | vendor id 16 | product id 16 | commissioning flow 2 |
    discovery capabilities 8 | discriminator 12 | passcode 27 | padding 4

then Base-38 encoded (3 bytes -> 5 characters, a final 2 bytes -> 4, least
significant character first) behind the ``MT:`` prefix.

Manual pairing code: decimal chunks ``d | ddddd | dddd [| ddddd | ddddd]`` and a
Verhoeff check digit; the vendor and product ids are only present (21 digits) for
the custom commissioning flow.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "CommissioningFlow",
    "DiscoveryCapability",
    "SetupCodeError",
    "SetupPayload",
    "check_passcode",
    "verhoeff_check_digit",
]


class SetupCodeError(ValueError):
    """An invalid onboarding value, or a malformed QR / manual code."""


class CommissioningFlow(enum.IntEnum):
    STANDARD = 0
    USER_INTENT = 1
    CUSTOM = 2


class DiscoveryCapability(enum.IntFlag):
    SOFT_AP = 0x01
    BLE = 0x02
    ON_NETWORK = 0x04
    WIFI_PAF = 0x08
    NFC = 0x10


QR_PREFIX = "MT:"
BASE38_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-."
_BASE38_INDEX = {ch: i for i, ch in enumerate(BASE38_ALPHABET)}

MAX_PASSCODE = 99999998
# Trivially guessable values the spec forbids as setup passcodes.
FORBIDDEN_PASSCODES = frozenset(
    {0, 11111111, 22222222, 33333333, 44444444, 55555555, 66666666, 77777777, 88888888, 99999999, 12345678, 87654321}
)

# (field, width in bits), in packing order from the least significant bit.
_QR_FIELDS = (
    ("version", 3),
    ("vendor_id", 16),
    ("product_id", 16),
    ("flow", 2),
    ("discovery", 8),
    ("discriminator", 12),
    ("passcode", 27),
    ("padding", 4),
)
_QR_BYTES = sum(width for _, width in _QR_FIELDS) // 8  # 11


def check_passcode(passcode: int) -> int:
    """Return ``passcode`` if the spec allows it as a setup passcode, else raise with the reason."""
    if isinstance(passcode, bool) or not isinstance(passcode, int):
        raise SetupCodeError(f"passcode must be an integer, not {passcode!r}")
    if not 1 <= passcode <= MAX_PASSCODE:
        raise SetupCodeError(f"passcode {passcode} is out of range: use 00000001..{MAX_PASSCODE}")
    if passcode in FORBIDDEN_PASSCODES:
        raise SetupCodeError(f"passcode {passcode:08d} is not allowed (the spec forbids trivial passcodes)")
    return passcode


# Verhoeff tables: multiplication in the dihedral group D5, the position permutation, and inverses.
_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_INV = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)


def verhoeff_check_digit(digits: str) -> str:
    check = 0
    for position, ch in enumerate(reversed(digits), start=1):
        check = _D[check][_P[position % 8][int(ch)]]
    return str(_INV[check])


def _base38_encode(data: bytes) -> str:
    out = []
    for start in range(0, len(data), 3):
        chunk = data[start : start + 3]
        value = int.from_bytes(chunk, "little")
        for _ in range({3: 5, 2: 4, 1: 2}[len(chunk)]):
            value, digit = divmod(value, 38)
            out.append(BASE38_ALPHABET[digit])
    return "".join(out)


def _base38_decode(text: str) -> bytes:
    out = bytearray()
    for start in range(0, len(text), 5):
        chunk = text[start : start + 5]
        size = {5: 3, 4: 2, 2: 1}.get(len(chunk))
        if size is None:
            raise SetupCodeError(f"QR code payload has an invalid length {len(text)}")
        value = 0
        for ch in reversed(chunk):
            if ch not in _BASE38_INDEX:
                raise SetupCodeError(f"QR code payload has an invalid character {ch!r}")
            value = value * 38 + _BASE38_INDEX[ch]
        if value >= 1 << (8 * size):
            raise SetupCodeError("QR code payload chunk is out of range")
        out += value.to_bytes(size, "little")
    return bytes(out)


@dataclass(frozen=True)
class SetupPayload:
    """What a commissioner needs to find and authenticate a commissionable node."""

    discriminator: int
    passcode: int
    vendor_id: int = 0
    product_id: int = 0
    flow: CommissioningFlow = CommissioningFlow.STANDARD
    discovery: DiscoveryCapability = DiscoveryCapability.ON_NETWORK
    version: int = 0

    def validate(self) -> None:
        """Raise :class:`SetupCodeError` naming the first invalid value."""
        check_passcode(self.passcode)
        self._check_widths()
        if self.flow not in tuple(CommissioningFlow):
            raise SetupCodeError(f"commissioning flow {int(self.flow)} is reserved")

    def _check_widths(self) -> None:
        for name, width in _QR_FIELDS[:-1]:
            value = int(getattr(self, name))
            if not 0 <= value < 1 << width:
                raise SetupCodeError(f"{name.replace('_', ' ')} {value} does not fit {width} bits")

    def _check(self, allow_invalid: bool) -> None:
        # allow_invalid mirrors the SDK generator's SetAllowInvalidPayload: only bit widths are checked.
        if allow_invalid:
            self._check_widths()
        else:
            self.validate()

    @property
    def short_discriminator(self) -> int:
        """The upper 4 bits of the 12-bit discriminator, as carried by the manual code."""
        return self.discriminator >> 8

    def qr_code(self, *, allow_invalid: bool = False) -> str:
        """The ``MT:...`` string encoded in the QR code."""
        self._check(allow_invalid)
        bits = 0
        shift = 0
        for name, width in _QR_FIELDS:
            value = 0 if name == "padding" else int(getattr(self, name))
            bits |= value << shift
            shift += width
        return QR_PREFIX + _base38_encode(bits.to_bytes(_QR_BYTES, "little"))

    def manual_code(self, *, allow_invalid: bool = False) -> str:
        """The 11-digit (or 21-digit for the custom flow) manual pairing code."""
        self._check(allow_invalid)
        has_vid_pid = self.flow == CommissioningFlow.CUSTOM
        short = self.short_discriminator
        digits = (
            f"{(int(has_vid_pid) << 2) | (short >> 2)}"
            f"{((short & 0x3) << 14) | (self.passcode & 0x3FFF):05d}"
            f"{self.passcode >> 14:04d}"
        )
        if has_vid_pid:
            digits += f"{self.vendor_id:05d}{self.product_id:05d}"
        return digits + verhoeff_check_digit(digits)

    @staticmethod
    def format_manual_code(code: str) -> str:
        """Group the digits as printed on labels: ``3497-011-2332``."""
        groups = [code[:4], code[4:7], code[7:11]] + ([code[11:16], code[16:21]] if len(code) == 21 else [])
        return "-".join(groups)

    @classmethod
    def from_qr_code(cls, text: str) -> SetupPayload:
        if not text.startswith(QR_PREFIX):
            raise SetupCodeError(f"QR code payload must start with {QR_PREFIX!r}")
        body = text[len(QR_PREFIX) :].split("*", maxsplit=1)[0]
        data = _base38_decode(body)
        if len(data) < _QR_BYTES:
            raise SetupCodeError(f"QR code payload is {len(data)} bytes, expected at least {_QR_BYTES}")
        bits = int.from_bytes(data[:_QR_BYTES], "little")
        values = {}
        for name, width in _QR_FIELDS:
            values[name] = bits & ((1 << width) - 1)
            bits >>= width
        if values.pop("padding"):
            raise SetupCodeError("QR code payload has non-zero padding bits")
        if values["flow"] == 3:
            raise SetupCodeError("QR code payload uses the reserved commissioning flow 3")
        return cls(
            discriminator=values["discriminator"],
            passcode=values["passcode"],
            vendor_id=values["vendor_id"],
            product_id=values["product_id"],
            flow=CommissioningFlow(values["flow"]),
            discovery=DiscoveryCapability(values["discovery"]),
            version=values["version"],
        )

    @classmethod
    def from_manual_code(cls, text: str) -> SetupPayload:
        """Parse a manual code; the discriminator comes back as its short (upper 4-bit) form << 8."""
        code = text.replace("-", "").replace(" ", "")
        if code and not (code.isdigit() and code.isascii()):
            raise SetupCodeError("manual pairing code must contain only digits")
        if len(code) not in (11, 21):
            raise SetupCodeError(f"manual pairing code has {len(code)} digits; expected 11 or 21")
        if verhoeff_check_digit(code[:-1]) != code[-1]:
            raise SetupCodeError("manual pairing code check digit is wrong")
        first = int(code[0])
        has_vid_pid = bool(first & 0x4)
        if has_vid_pid != (len(code) == 21):
            raise SetupCodeError("manual pairing code length does not match its vendor/product flag")
        if first > 7:
            raise SetupCodeError("manual pairing code has an unsupported version")
        chunk2, chunk3 = int(code[1:6]), int(code[6:10])
        if chunk2 >= 1 << 16 or chunk3 >= 1 << 13:
            raise SetupCodeError("manual pairing code digits are out of range")
        short = ((first & 0x3) << 2) | (chunk2 >> 14)
        passcode = (chunk3 << 14) | (chunk2 & 0x3FFF)
        if passcode == 0:
            raise SetupCodeError("manual pairing code has no passcode")
        vendor_id = product_id = 0
        if has_vid_pid:
            vendor_id, product_id = int(code[10:15]), int(code[15:20])
            if vendor_id > 0xFFFF or product_id > 0xFFFF:
                raise SetupCodeError("manual pairing code vendor or product id is out of range")
        return cls(
            discriminator=short << 8,
            passcode=passcode,
            vendor_id=vendor_id,
            product_id=product_id,
            flow=CommissioningFlow.CUSTOM if has_vid_pid else CommissioningFlow.STANDARD,
        )

"""NIST P-256 point arithmetic, for SPAKE2+ only.

``cryptography`` offers ECDH and ECDSA but no point addition or variable-base
multiplication, which SPAKE2+ needs (X = x·G + w0·M, Z = y·(X − w0·M), ...). This module
supplies exactly that and nothing more. Scalar multiplication is a Montgomery ladder
over all 256 bits, so its sequence of operations does not depend on the scalar; Python
integers are not constant-time, which is acceptable for a bench tool and documented in
the README. Fixed-base multiplications go to OpenSSL through ``cryptography``.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["INFINITY", "G", "N", "P", "Point", "PointError", "base_mul", "decode_point"]

P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
A = P - 3
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
_GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5


class PointError(ValueError):
    """Bytes that are not a valid P-256 point."""


_Jacobian = tuple[int, int, int]
_JINF: _Jacobian = (1, 1, 0)


def _double(pt: _Jacobian) -> _Jacobian:
    x1, y1, z1 = pt
    if z1 == 0 or y1 == 0:
        return _JINF
    # dbl-2001-b, valid for a = -3.
    delta = z1 * z1 % P
    gamma = y1 * y1 % P
    beta = x1 * gamma % P
    alpha = 3 * (x1 - delta) * (x1 + delta) % P
    x3 = (alpha * alpha - 8 * beta) % P
    z3 = ((y1 + z1) ** 2 - gamma - delta) % P
    y3 = (alpha * (4 * beta - x3) - 8 * gamma * gamma) % P
    return (x3, y3, z3)


def _add(p1: _Jacobian, p2: _Jacobian) -> _Jacobian:
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == 0:
        return p2
    if z2 == 0:
        return p1
    # add-2007-bl
    z1z1 = z1 * z1 % P
    z2z2 = z2 * z2 % P
    u1 = x1 * z2z2 % P
    u2 = x2 * z1z1 % P
    s1 = y1 * z2 * z2z2 % P
    s2 = y2 * z1 * z1z1 % P
    if u1 == u2:
        return _double(p1) if s1 == s2 else _JINF
    h = (u2 - u1) % P
    i = (2 * h) ** 2 % P
    j = h * i % P
    r = 2 * (s2 - s1) % P
    v = u1 * i % P
    x3 = (r * r - j - 2 * v) % P
    y3 = (r * (v - x3) - 2 * s1 * j) % P
    z3 = ((z1 + z2) ** 2 - z1z1 - z2z2) * h % P
    return (x3, y3, z3)


@dataclass(frozen=True, slots=True)
class Point:
    """An affine point; ``x is None`` is the point at infinity."""

    x: int | None
    y: int | None

    @property
    def is_infinity(self) -> bool:
        return self.x is None

    def _jacobian(self) -> _Jacobian:
        return _JINF if self.x is None else (self.x, self.y, 1)  # type: ignore[return-value]

    @staticmethod
    def _from_jacobian(pt: _Jacobian) -> Point:
        x, y, z = pt
        if z == 0:
            return INFINITY
        z_inv = pow(z, -1, P)
        z_inv2 = z_inv * z_inv % P
        return Point(x * z_inv2 % P, y * z_inv2 * z_inv % P)

    def __add__(self, other: Point) -> Point:
        return Point._from_jacobian(_add(self._jacobian(), other._jacobian()))

    def __neg__(self) -> Point:
        return self if self.x is None else Point(self.x, (-self.y) % P)  # type: ignore[operator]

    def __sub__(self, other: Point) -> Point:
        return self + (-other)

    def __mul__(self, scalar: int) -> Point:
        """Montgomery ladder over 256 bits: the same add/double sequence for every scalar."""
        k = scalar % N
        r0, r1 = _JINF, self._jacobian()
        for i in range(255, -1, -1):
            if (k >> i) & 1:
                r0, r1 = _add(r0, r1), _double(r1)
            else:
                r1, r0 = _add(r0, r1), _double(r0)
        return Point._from_jacobian(r0)

    __rmul__ = __mul__

    def encode(self) -> bytes:
        """SEC1 uncompressed: 0x04 || X || Y (65 bytes)."""
        if self.x is None:
            raise PointError("the point at infinity has no SEC1 encoding here")
        return b"\x04" + self.x.to_bytes(32, "big") + self.y.to_bytes(32, "big")  # type: ignore[union-attr]


INFINITY = Point(None, None)
G = Point(_GX, _GY)


def _on_curve(x: int, y: int) -> bool:
    return (y * y - (x * x * x + A * x + B)) % P == 0


def decode_point(data: bytes) -> Point:
    """Decode a SEC1 point (uncompressed or compressed) and check it lies on the curve."""
    if len(data) == 65 and data[0] == 0x04:
        x, y = int.from_bytes(data[1:33], "big"), int.from_bytes(data[33:], "big")
        if x >= P or y >= P or not _on_curve(x, y):
            raise PointError("point is not on P-256")
        # Cross-check with OpenSSL's own validation of peer points.
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes(data))
        except ValueError as exc:
            raise PointError(f"invalid P-256 point: {exc}") from None
        return Point(x, y)
    if len(data) == 33 and data[0] in (0x02, 0x03):
        x = int.from_bytes(data[1:], "big")
        if x >= P:
            raise PointError("point is not on P-256")
        rhs = (x * x * x + A * x + B) % P
        y = pow(rhs, (P + 1) // 4, P)  # P = 3 mod 4
        if y * y % P != rhs:
            raise PointError("point is not on P-256")
        if (y & 1) != (data[0] & 1):
            y = P - y
        return Point(x, y)
    raise PointError(f"not a SEC1 P-256 point ({len(data)} bytes)")


def base_mul(scalar: int) -> Point:
    """scalar·G, computed by OpenSSL."""
    k = scalar % N
    if k == 0:
        return INFINITY
    numbers = ec.derive_private_key(k, ec.SECP256R1()).public_key().public_numbers()
    return Point(numbers.x, numbers.y)

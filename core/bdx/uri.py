"""``bdx://<16 upper-case hex node id>/<file designator>`` (OTA_PROVIDER_SPEC.md §0.2)."""

from __future__ import annotations

__all__ = ["BdxUriError", "make_bdx_uri", "parse_bdx_uri"]

MIN_URI_LENGTH = len("bdx://00112233AABBCCDD/0")
MAX_OPERATIONAL_NODE_ID = 0xFFFF_FFEF_FFFF_FFFF
MAX_DESIGNATOR_LENGTH = 0xFF


class BdxUriError(ValueError):
    pass


def make_bdx_uri(node_id: int, designator: str) -> str:
    return f"bdx://{node_id:016X}/{designator}"


def parse_bdx_uri(uri: str) -> tuple[int, bytes]:
    """(node id, designator), with the SDK requestor's checks; BdxUriError says which failed."""
    if len(uri) < MIN_URI_LENGTH:
        raise BdxUriError(f"ImageURI {uri!r} is shorter than {MIN_URI_LENGTH} characters")
    if not uri.startswith("bdx://"):
        raise BdxUriError(f"ImageURI {uri!r} does not start with bdx://")
    hex_id, separator, designator = uri[6:22], uri[22], uri[23:]
    node_id = int(hex_id, 16) if all(c in "0123456789abcdefABCDEF" for c in hex_id) else -1
    if not 1 <= node_id <= MAX_OPERATIONAL_NODE_ID:
        raise BdxUriError(f"ImageURI {uri!r} does not name an operational node id")
    if separator != "/":
        raise BdxUriError(f"ImageURI {uri!r} has no '/' after the node id")
    raw = designator.encode()
    if not 1 <= len(raw) <= MAX_DESIGNATOR_LENGTH:
        raise BdxUriError(f"ImageURI {uri!r}: the file designator must be 1..255 bytes")
    return node_id, raw

"""Who a peer is (:class:`Peer`: its fabric and its node id there) and a node id in words, the one
way every line writes it: ``0x000000000000D002`` (the form the SDK's logs print), or ``D002`` where a
screen shows the line. A leaf: any layer may name a peer."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import NamedTuple

__all__ = ["Peer", "hold_peers", "node_text", "short_node_id", "short_node_ids"]


class Peer(NamedTuple):
    """A requestor or device as this node knows it: a node id is unique only within its fabric."""

    fabric_index: int
    node_id: int


def hold_peers(value: object, *fields: str) -> None:
    """In a frozen dataclass's ``__post_init__``: the named fields hold a :class:`Peer` even when a
    front end or a test built the value with a plain ``(fabric index, node id)`` pair."""
    for name in fields:
        peer = getattr(value, name)
        if peer is not None and not isinstance(peer, Peer):
            object.__setattr__(value, name, Peer(*peer))


def short_node_id(node: int) -> str:
    """A node id in hex without its leading zeros, at least four digits: ``D002``. Never ambiguous
    (two ids differ in value, so in their digits); the full 16 digits are in the detail."""
    return f"{node:04X}"


# Where a line is shown on a screen, node ids are short (``D002``); the headless lines, exports and
# the history keep the full form the SDK's logs print. Set for one rendering by :func:`short_node_ids`.
_SHORT_IDS: contextvars.ContextVar[bool] = contextvars.ContextVar("short_node_ids", default=False)


@contextlib.contextmanager
def short_node_ids() -> Iterator[None]:
    """Within it, :func:`node_text` gives the short form."""
    token = _SHORT_IDS.set(True)
    try:
        yield
    finally:
        _SHORT_IDS.reset(token)


def node_text(node: int) -> str:
    """A node id in a line: ``0x000000000000D002``, or ``D002`` where the line is shown on a screen."""
    return short_node_id(node) if _SHORT_IDS.get() else f"0x{node:016X}"

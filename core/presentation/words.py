"""How values read on screen and in log lines: the Matter specification's and the SDK's names, in
words and units, never a Python repr (``<BdxStatus...: 31>``, ``(4, 3.5)``, ``True``).

The JSON events keep their stable machine names; only the text people read goes through here.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from ..bdx.outcome import Outcome, TransferEnd
from ..codec.status_report import BdxStatus
from ..node_ids import Peer, node_text, short_node_id, short_node_ids
from ..ota.knob_names import SDK_WORDS
from ..ota.types import UpdateState
from ..transport.addresses import socket_address

if TYPE_CHECKING:
    from ..api.values import BleCommissionable

__all__ = [
    "BDX_STATUS_WORDS",
    "bdx_status",
    "enum_name",
    "node_text",
    "plural",
    "short_node_id",
    "short_node_ids",
    "socket_address",
    "spec_name",
    "transfer_end_text",
    "who",
    "yes_no",
]

# The specification's enum names (OTA_PROVIDER_SPEC.md §0), for what went over the wire. Events
# carry the member names (``"BUSY"``), so these are looked up by name.
_SPEC_NAMES: dict[str, str] = {
    "UPDATE_AVAILABLE": "UpdateAvailable",
    "BUSY": "Busy",
    "NOT_AVAILABLE": "NotAvailable",
    "DOWNLOAD_PROTOCOL_NOT_SUPPORTED": "DownloadProtocolNotSupported",
    "PROCEED": "Proceed",
    "AWAIT_NEXT_ACTION": "AwaitNextAction",
    "DISCONTINUE": "Discontinue",
    "BDX_SYNCHRONOUS": "BDXSynchronous",
    "BDX_ASYNCHRONOUS": "BDXAsynchronous",
    "HTTPS": "HTTPS",
    "VENDOR_SPECIFIC": "VendorSpecific",
}

# BDX StatusReport protocol codes (Matter core spec, BDX status codes), in words.
BDX_STATUS_WORDS: dict[BdxStatus, str] = {
    BdxStatus.LENGTH_TOO_LARGE: "length too large",
    BdxStatus.LENGTH_TOO_SHORT: "length too short",
    BdxStatus.LENGTH_MISMATCH: "length mismatch",
    BdxStatus.LENGTH_REQUIRED: "length required",
    BdxStatus.BAD_MESSAGE_CONTENTS: "bad message contents",
    BdxStatus.BAD_BLOCK_COUNTER: "bad block counter",
    BdxStatus.UNEXPECTED_MESSAGE: "unexpected message",
    BdxStatus.RESPONDER_BUSY: "responder busy",
    BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR: "transfer failed, unknown error",
    BdxStatus.TRANSFER_METHOD_NOT_SUPPORTED: "transfer method not supported",
    BdxStatus.FILE_DESIGNATOR_UNKNOWN: "file designator unknown",
    BdxStatus.START_OFFSET_NOT_SUPPORTED: "start offset not supported",
    BdxStatus.VERSION_NOT_SUPPORTED: "version not supported",
    BdxStatus.UNKNOWN: "unknown",
}


def spec_name(value: Any) -> str:
    """``QueryImageStatus.BUSY`` or ``"BUSY"`` -> ``Busy``; anything unknown as it is."""
    name = value.name if isinstance(value, enum.Enum) else str(value)
    return _SPEC_NAMES.get(name, name)


def enum_name(value: Any) -> str:
    """The SDK's flag name where there is one, else the member name as words."""
    if isinstance(value, enum.Enum):
        return SDK_WORDS.get(type(value), {}).get(value.name) or value.name.replace("_", " ").lower()
    return str(value)


def bdx_status(status: int) -> str:
    """``0x001F transfer failed, unknown error``: the code a sniffer shows, and what it means."""
    known = BdxStatus(status) if status in BdxStatus._value2member_map_ else None
    return f"0x{int(status):04X} {BDX_STATUS_WORDS.get(known, 'unknown code') if known else 'unknown code'}"


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def who(peer: Peer | None) -> str:
    """Whom a line is about: ``node 0x000000000000D001 (fabric 1)``, or the provider itself."""
    return "provider" if peer is None else f"node {node_text(peer.node_id)} (fabric {peer.fabric_index})"


def plural(count: int, noun: str) -> str:
    """``1 transfer``, ``2 transfers``: a count and its noun as a person writes them (nouns with a
    plain "s" plural only: that is every noun the tools count)."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# What a requestor's BDX StatusReport usually means, and where to look (Core spec 11.22.5, status codes).
_ABORT_MEANINGS = {
    BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR: "it gave up on its side (a write to its storage, its image check, or "
    "its own timeout); its log says which",
    BdxStatus.LENGTH_TOO_LARGE: "the image is larger than it can store",
    BdxStatus.LENGTH_MISMATCH: "the bytes it received do not add up to the length it expected",
    BdxStatus.BAD_BLOCK_COUNTER: "it and we disagree on the Block number (a Block lost or repeated)",
    BdxStatus.BAD_MESSAGE_CONTENTS: "it could not read one of our messages",
    BdxStatus.UNEXPECTED_MESSAGE: "one of our messages came when it did not expect it",
    BdxStatus.RESPONDER_BUSY: "it is busy with another transfer",
}


def _requestor_status(end: TransferEnd) -> str:
    """``StatusReport 0x001F transfer failed, unknown error: it gave up on its side ...``"""
    if end.status is None:
        return "a malformed StatusReport"
    if end.status_protocol is not None:  # not BDX's: as the codec describes it
        return f"StatusReport {end.reason}"
    known = BdxStatus(end.status) if end.status in BdxStatus._value2member_map_ else None
    meaning = _ABORT_MEANINGS.get(known) if known is not None else None
    return f"StatusReport {bdx_status(end.status)}" + (f": {meaning}" if meaning else "")


# The endings that need no figure.
_END_WORDS = {
    Outcome.RUNNING: "running",
    Outcome.COMPLETE: "complete",
    Outcome.REPLACED: "replaced by a new ReceiveInit from the requestor",
    Outcome.ABORTED: "failed: aborted by the operator",
    Outcome.SHUT_DOWN: "failed: provider shutting down",
}


def transfer_end_text(end: TransferEnd) -> str:
    """How a transfer ended, in the words of the log, the history and the detail screen."""
    if end.outcome in _END_WORDS:
        return _END_WORDS[end.outcome]
    block = "no Block" if end.block is None else f"Block {end.block}"
    match end.outcome:
        case Outcome.UNACKNOWLEDGED:
            what = "the ReceiveAccept" if end.block is None else block
            why = (
                f"{what} was sent {end.sends} times and never acknowledged: the requestor went away (reset, "
                "out of range) or the path to it is down"
            )
        case Outcome.NOT_RESUMED:
            why = f"its requestor did not ask again within {end.seconds or 0:.0f} s of the provider's restart"
        case Outcome.IDLE:
            why = (
                f"the requestor asked for nothing for {end.seconds or 0:.0f} s (after {block}): it stopped the "
                "download or lost its session"
            )
        case Outcome.REQUESTOR_ENDED:
            why = f"the receiver (requestor) ended it with {_requestor_status(end)}"
        case Outcome.PROTOCOL_ERROR:
            why = f"we sent StatusReport {bdx_status(end.status or 0)}"
        case Outcome.FAULT_ENDED:
            why = f"ended at block {end.block} by a fault knob"
        case _:  # CLOSED: the exchange layer said why
            why = end.reason
    return f"failed: {why}"


def update_state_name(state: UpdateState | int | None) -> str:
    """``Downloading``, ``DelayedOnQuery``: the spec's name of a reported UpdateState; a number it
    does not name as ``state 9``."""
    if isinstance(state, UpdateState):
        return "".join(word.title() for word in state.name.split("_"))
    return f"state {state}"


def ble_device_words(device: BleCommissionable) -> str:
    """``'MATTER-1234' VID 0xFFF1 PID 0x8000, discriminator 3840 at BLE 00:00:00:01:00:02, RSSI -48 dBm``"""
    vp = f"VID 0x{device.vendor_id:04X} PID 0x{device.product_id:04X}, " if device.vendor_id else ""
    rssi = f", RSSI {device.rssi} dBm" if device.rssi is not None else ""
    named = f"{device.name!r} " if device.name else ""
    return f"{named}{vp}discriminator {device.discriminator} at BLE {device.address}{rssi}"

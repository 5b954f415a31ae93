"""One line of text (and a JSON event name) per OTA exchange and BDX transfer event, for the
headless output."""

from __future__ import annotations

from typing import Any

from .bdx.server import Transfer
from .wording import spec_name, yes_no

__all__ = ["ota_event", "transfer_event"]

_NAMES = {
    "query": "QueryImage",
    "query answered": "QueryImageResponse",
    "query ignored": "QueryImageIgnored",
    "apply": "ApplyUpdateRequest",
    "apply answered": "ApplyUpdateResponse",
    "apply ignored": "ApplyUpdateIgnored",
    "apply refused": "ApplyUpdateRefused",
    "notify": "NotifyUpdateApplied",
    "notify refused": "NotifyUpdateAppliedRefused",
    "error": "Error",
    "fault": "FaultInjected",
}


def _who(peer: tuple[int, int] | None) -> str:
    return "provider" if peer is None else f"node 0x{peer[1]:016X} (fabric {peer[0]})"


def ota_event(kind: str, peer: tuple[int, int] | None, fields: dict[str, Any]) -> tuple[str, str]:
    """(JSON event name, human line)."""
    f = fields
    who = _who(peer)
    armed = f"  [armed: {'; '.join(f['used'])}]" if f.get("used") else ""
    if kind == "query":
        extra = f" hw {f['hardwareVersion']}" if f.get("hardwareVersion") is not None else ""
        text = (f"{who}: QueryImage VID 0x{f['vendorId']:04X} PID 0x{f['productId']:04X} version "
                f"{f['softwareVersion']}{extra}, protocols {', '.join(map(spec_name, f['protocolsSupported']))}, "
                f"can consent: {yes_no(f['requestorCanConsent'])}")  # fmt: skip
    elif kind == "query answered":
        if f["status"] == "UPDATE_AVAILABLE":
            detail = f"version {f['softwareVersion']} ({f['softwareVersionString']}) at {f['imageUri']}"
        elif f["status"] == "BUSY":
            detail = f"retry in {f['delayedActionTime']} s"
        else:
            detail = f.get("reason", "")
        consent = ", user consent needed" if f.get("userConsentNeeded") else ""
        text = f"{who}: -> {spec_name(f['status'])}: {detail}{consent}{armed}"
    elif kind in ("query ignored", "apply ignored"):
        text = f"{who}: {'QueryImage' if kind == 'query ignored' else 'ApplyUpdateRequest'} left unanswered{armed}"
    elif kind == "apply":
        text = f"{who}: ApplyUpdateRequest for version {f['newVersion']}"
    elif kind == "apply answered":
        text = f"{who}: -> {spec_name(f['action'])}, delay {f['delayedActionTime']} s{armed}"
    elif kind == "notify":
        promise = "" if f["asPromised"] else f" (offered version {f['promisedVersion']})"
        text = f"{who}: NotifyUpdateApplied: now running version {f['softwareVersion']}{promise}"
    elif kind == "fault":
        text = f"{who}: BDX transfer #{f['transfer']} block {f['block']}: fault injected{armed}"
    elif kind in ("apply refused", "notify refused"):
        text = f"{who}: {_NAMES[kind].removesuffix('Refused')} refused: {f['reason']}"
    else:
        text = f"{who}: {f.get('message', kind)}"
    return _NAMES.get(kind, kind), text


def transfer_event(kind: str, transfer: Transfer) -> tuple[str, str, dict[str, Any]] | None:
    """(JSON event name, line, fields) for a transfer event; None for per-block progress."""
    if kind == "progress":
        return None
    sender = transfer.sender
    fields: dict[str, Any] = {
        "transfer": transfer.id,
        "fabricIndex": transfer.peer[0],
        "nodeId": transfer.peer[1],
        "designator": transfer.designator.decode(errors="replace"),
        "blockSize": sender.block_size,
        "bytesSent": sender.bytes_sent,
        "total": sender.total,
        "result": transfer.result,
    }
    who = _who(transfer.peer)
    if kind == "started":
        line = (f"{who}: BDX transfer #{transfer.id} started (image {fields['designator']}), "
                f"{sender.total} bytes in blocks of {sender.block_size}")  # fmt: skip
        return "TransferStarted", line, fields
    seconds = transfer.seconds
    rate = sender.bytes_sent / seconds / 1000 if seconds > 0 else 0.0
    fields.update(seconds=round(seconds, 3), rateKBps=round(rate, 1))
    if kind == "finished":
        line = (f"{who}: BDX transfer #{transfer.id} complete, {sender.bytes_sent} bytes in {seconds:.2f} s "
                f"({rate:.0f} kB/s)")  # fmt: skip
        return "TransferFinished", line, fields
    line = f"{who}: BDX transfer #{transfer.id} {transfer.result} after {sender.bytes_sent} of {sender.total} bytes"
    return "TransferFailed", line, fields

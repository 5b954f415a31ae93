"""One line of text (and a JSON event name) per OTA exchange and BDX transfer event, for the
headless output."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .events import TransferSnapshot
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


def transfer_event(kind: str, t: TransferSnapshot) -> tuple[str, str, dict[str, Any]] | None:
    """(JSON event name, line, fields) for a transfer event; None for per-block progress."""
    if kind == "progress":
        return None
    fields: dict[str, Any] = {
        "transfer": t.id,
        "fabricIndex": t.peer[0],
        "nodeId": t.peer[1],
        "designator": t.designator,
        "blockSize": t.block_size,
        "bytesSent": t.bytes_sent,
        "total": t.total,
        "result": t.result,
    }
    who = _who(t.peer)
    if kind == "started":
        line = (f"{who}: BDX transfer #{t.id} started (image {t.designator}), "
                f"{t.total} bytes in blocks of {t.block_size}")  # fmt: skip
        return "TransferStarted", line, fields
    seconds = t.seconds
    rate = t.bytes_sent / seconds / 1000 if seconds > 0 else 0.0
    fields.update(seconds=round(seconds, 3), rateKBps=round(rate, 1))
    if kind == "finished":
        line = (f"{who}: BDX transfer #{t.id} complete, {t.bytes_sent} bytes in {seconds:.2f} s "
                f"({rate:.0f} kB/s)")  # fmt: skip
        return "TransferFinished", line, fields
    line = f"{who}: BDX transfer #{t.id} {t.result} after {t.bytes_sent} of {t.total} bytes"
    return "TransferFailed", line, fields

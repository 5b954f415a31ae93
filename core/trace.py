"""Message traces for bug reports: ``--trace FILE.jsonl`` (or ``ota-provider ctl trace start FILE``)
writes one JSON line per Matter message in and out, after decryption: the session, exchange,
protocol and opcode, MRP flags and counters, the time, and the decoded Interaction Model, BDX and
OTA fields. ``ota-provider trace show FILE`` prints it as a readable timeline.

Where traces go: ``--trace FILE`` is the operator's own choice at start (a regular file, never
through a symlink, never onto the state files). A trace started over the control socket is only a
*name* in the trace directory (``--trace-dir``, default ``traces/`` in the state directory), created
new (never an existing file, FIFO or symlink), so a control client cannot make the provider write,
truncate or chmod any other file.

Never written: keys and passcodes. Session keys never reach the exchange layer's messages; the
handshakes' payloads (PASE, CASE: randoms, shares, encrypted certificates) are left out; and the
few commands that carry secrets have those fields replaced by ``"<redacted>"``: AddNOC's IPK,
KeySetWrite's epoch keys, OpenCommissioningWindow's PAKE verifier and salt, a Wi-Fi passphrase
and a Thread dataset given to a device. Block data is
counted, not copied. The file is owner-only.
"""

from __future__ import annotations

import enum
import json
import math
import os
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from .bdx.messages import Block, BlockQuery, ReceiveAccept, TransferInit
from .codec import tlv
from .codec.protocols import BdxOpcode, ImOpcode, ProtocolId, SecureChannelOpcode
from .codec.status_report import StatusReport
from .exchange.manager import Traced
from .session.secure import SecureSession

__all__ = [
    "REDACTED",
    "TraceError",
    "TraceWriter",
    "describe_line",
    "open_named_trace",
    "open_operator_trace",
    "show_main",
]

REDACTED = "<redacted>"
# (cluster, command) -> the field tags that hold secrets, in requests as in responses.
SECRET_FIELDS: dict[tuple[int, int], tuple[int, ...]] = {
    (0x003E, 0x06): (2,),  # OperationalCredentials AddNOC: IPKValue
    (0x003F, 0x00): (0,),  # GroupKeyManagement KeySetWrite: the group key set with its epoch keys
    (0x003C, 0x00): (1, 4),  # AdministratorCommissioning OpenCommissioningWindow: PAKE verifier, salt
    (0x0031, 0x02): (1,),  # NetworkCommissioning AddOrUpdateWiFiNetwork: the passphrase
    (0x0031, 0x03): (0,),  # NetworkCommissioning AddOrUpdateThreadNetwork: the dataset (network key, PSKc)
}
OTA_COMMANDS = {
    0x00: "QueryImage",
    0x01: "QueryImageResponse",
    0x02: "ApplyUpdateRequest",
    0x03: "ApplyUpdateResponse",
    0x04: "NotifyUpdateApplied",
}
HANDSHAKES = {
    SecureChannelOpcode.PBKDF_PARAM_REQUEST,
    SecureChannelOpcode.PBKDF_PARAM_RESPONSE,
    SecureChannelOpcode.PASE_PAKE1,
    SecureChannelOpcode.PASE_PAKE2,
    SecureChannelOpcode.PASE_PAKE3,
    SecureChannelOpcode.CASE_SIGMA1,
    SecureChannelOpcode.CASE_SIGMA2,
    SecureChannelOpcode.CASE_SIGMA3,
    SecureChannelOpcode.CASE_SIGMA2_RESUME,
}


def _json(value: Any) -> Any:
    """A TLV value as JSON: structures by tag, octet strings in hex."""
    if isinstance(value, dict):
        return {str(tag if not hasattr(tag, "tag") else tag.tag): _json(v) for tag, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return value


def _redact_commands(message: Any) -> Any:
    """InvokeRequest / InvokeResponse: the secret fields of the commands above, replaced."""
    if not isinstance(message, dict):
        return message
    for data in _command_data(message):
        path = _path(data.get(0))
        if path is None:
            continue
        cluster, command = path.get(1), path.get(2)
        secret = (
            SECRET_FIELDS.get((cluster, command)) if isinstance(cluster, int) and isinstance(command, int) else None
        )
        fields = data.get(1)
        if secret and isinstance(fields, dict):
            data[1] = {tag: (REDACTED if tag in secret else v) for tag, v in fields.items()}
    return message


def _path(value: Any) -> dict | None:
    """A CommandPathIB (a TLV list of tagged fields, or a structure) as a dict by tag."""
    if isinstance(value, tlv.TLVList):
        return {tag: v for tag, v in value if isinstance(tag, int)}
    return value if isinstance(value, dict) else None


def _command_data(message: Any) -> list[dict]:
    """The CommandDataIBs of an InvokeRequest (tag 2) or InvokeResponse (tag 1: in each
    InvokeResponseIB's tag 0)."""
    if not isinstance(message, dict):
        return []
    found = []
    requests, responses = message.get(2), message.get(1)
    for entry in requests if isinstance(requests, list) else ():
        if isinstance(entry, dict):
            found.append(entry)
    for entry in responses if isinstance(responses, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get(0), dict):
            found.append(entry[0])  # a CommandDataIB (a status-only answer has its path in tag 1)
    return found


def _commands(message: Any) -> list[str]:
    """The command paths an invoke names, in words: ``0/0x0029/QueryImage``."""
    named = []
    for data in _command_data(message):
        path = _path(data.get(0))
        if path is None or not isinstance(path.get(1), int) or not isinstance(path.get(2), int):
            named.append("?")
            continue
        cluster, command = path[1], path[2]
        name = OTA_COMMANDS.get(command, f"0x{command:02X}") if cluster == 0x0029 else f"0x{command:02X}"
        named.append(f"{int(path.get(0) or 0)}/0x{cluster:04X}/{name}")
    return named


def decode_payload(protocol: int, opcode: int, payload: bytes) -> dict[str, Any]:
    """What the trace says about a message's application payload (never its secrets)."""
    try:
        if protocol == ProtocolId.SECURE_CHANNEL:
            if opcode == SecureChannelOpcode.STATUS_REPORT:
                return {"status": StatusReport.decode(payload).describe()}
            if opcode in HANDSHAKES:
                return {"bytes": len(payload), "fields": "left out (a handshake)"}
            return {}
        if protocol == ProtocolId.INTERACTION_MODEL:
            message = _redact_commands(tlv.decode(payload))
            out: dict[str, Any] = {"im": _json(message)}
            if opcode in (ImOpcode.INVOKE_REQUEST, ImOpcode.INVOKE_RESPONSE):
                out["commands"] = _commands(message)
            return out
        if protocol == ProtocolId.BDX:
            return _bdx(opcode, payload)
    except Exception as exc:  # a malformed payload is traced as such, never a crash
        return {"bytes": len(payload), "undecoded": str(exc)[:200]}
    return {"bytes": len(payload)}


def _bdx(opcode: int, payload: bytes) -> dict[str, Any]:
    if opcode in (BdxOpcode.RECEIVE_INIT, BdxOpcode.SEND_INIT):
        init = TransferInit.decode(payload)
        return {
            "maxBlockSize": init.max_block_size,
            "designator": init.file_designator.decode(errors="replace"),
            "startOffset": init.start_offset,
            "maxLength": init.max_length,
            "control": int(init.control),
        }
    if opcode == BdxOpcode.RECEIVE_ACCEPT:
        accept = ReceiveAccept.decode(payload)
        return {"maxBlockSize": accept.max_block_size, "length": accept.length, "control": int(accept.control)}
    if opcode in (BdxOpcode.BLOCK, BdxOpcode.BLOCK_EOF):
        block = Block.decode(payload)
        return {"blockCounter": block.counter, "dataBytes": len(block.data)}
    if opcode in (BdxOpcode.BLOCK_QUERY, BdxOpcode.BLOCK_ACK, BdxOpcode.BLOCK_ACK_EOF):
        return {"blockCounter": BlockQuery.decode(payload).counter}
    if opcode == BdxOpcode.STATUS_REPORT:
        return {"status": StatusReport.decode(payload).describe()}
    return {"bytes": len(payload)}


def _names(protocol: int, opcode: int) -> tuple[str, str]:
    enums: dict[int, type[enum.IntEnum]] = {
        ProtocolId.SECURE_CHANNEL: SecureChannelOpcode,
        ProtocolId.INTERACTION_MODEL: ImOpcode,
        ProtocolId.BDX: BdxOpcode,
    }
    try:
        name = ProtocolId(protocol).name
    except ValueError:
        name = f"0x{protocol:04X}"
    kind = enums.get(protocol)
    try:
        op = kind(opcode).name if kind is not None else f"0x{opcode:02X}"
    except ValueError:
        op = f"0x{opcode:02X}"
    return name, op


def _session(session: SecureSession) -> dict[str, Any]:
    return {
        "kind": session.auth_mode.name,
        "local": session.local_session_id,
        "peerSession": session.peer_session_id,
        "peerNode": f"0x{session.peer_node_id:016X}",
        "fabricIndex": session.fabric_index,
    }


def record(traced: Traced, started: float) -> dict[str, Any]:
    session = traced.session
    secure = isinstance(session, SecureSession)
    line: dict[str, Any] = {
        "t": round(traced.at - started, 6),
        "dir": traced.direction,
        "peer": list(session.peer_address[:2]) if getattr(session, "peer_address", None) else None,
        "session": _session(session) if secure else {"kind": "unsecured"},
        "counter": traced.counter,
        "exchange": traced.exchange_id,
    }
    if traced.header is None:
        line["retransmission"] = traced.retransmission
        return line
    header = traced.header
    protocol, opcode = _names(header.protocol_id, header.opcode)
    line.update(
        protocol=protocol, opcode=opcode, initiator=header.initiator, reliable=header.needs_ack, ack=header.ack_counter
    )
    if traced.duplicate:
        line["duplicate"] = True
    line.update(decode_payload(header.protocol_id, header.opcode, traced.payload))
    return line


class TraceError(ValueError):
    """A trace file cannot be written there; the message says why and what to do, in one line."""


# Files of the state directory a trace must never land on (the database and its journals, the lock,
# the control token, the demo fabric).
STATE_FILE_PREFIXES = ("ota-provider.sqlite3", "control-token", "demo-fabric.json")


def open_operator_trace(path: Path, storage: Path | None = None) -> int:
    """The descriptor of ``--trace FILE``: created or truncated, owner-only, a regular file reached
    without following a symlink at its last step, and not one of the state files."""
    if not path.parent.is_dir():
        raise TraceError(f"cannot write the trace {path}: the folder {path.parent} does not exist")
    if storage is not None and path.resolve().parent == storage.resolve() and path.name.startswith(STATE_FILE_PREFIXES):
        raise TraceError(f"{path} is one of the provider's state files: write the trace elsewhere")
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise TraceError(f"cannot write the trace {path}: {exc.strerror or exc}") from None
    if not _regular(descriptor):
        os.close(descriptor)
        raise TraceError(f"cannot write the trace {path}: it is not a regular file")
    os.ftruncate(descriptor, 0)
    os.fchmod(descriptor, 0o600)
    os.set_blocking(descriptor, True)
    return descriptor


def open_named_trace(directory: Path, name: str) -> tuple[Path, int]:
    """A new trace file ``name`` in the trace directory: the path and an owner-only descriptor.

    ``name`` is a file name (or a path whose folder is the trace directory itself). The directory is
    made owner-only if missing and must be a real directory of this user; the file is created anew
    relative to the directory's descriptor, so no symlink on the way, nor one in its place, is
    followed, and an existing file (the database, a FIFO, a decoy) is never opened."""
    given = Path(name)
    if given.is_absolute() or len(given.parts) > 1:
        if given.parent.resolve() != directory.resolve():
            raise TraceError(f"traces started over the control socket go into {directory}: give a file name")
        given = Path(given.name)
    if not given.name or given.name in (".", "..") or given.name.startswith("."):
        raise TraceError(f"{name!r} is not a trace file name: give one such as update.jsonl")
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.lstat()
    except OSError as exc:
        raise TraceError(f"cannot make the trace folder {directory}: {exc.strerror or exc}") from None
    if not os.path.isdir(directory) or os.path.islink(directory) or info.st_uid != os.geteuid():
        raise TraceError(
            f"the trace folder {directory} is not a folder of this user: remove it or choose another --trace-dir"
        )
    folder = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        descriptor = os.open(
            given.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=folder
        )
    except FileExistsError:
        raise TraceError(f"{directory / given.name} exists already: give a new trace file name") from None
    except OSError as exc:
        raise TraceError(f"cannot write the trace {directory / given.name}: {exc.strerror or exc}") from None
    finally:
        os.close(folder)
    return directory / given.name, descriptor


def _regular(descriptor: int) -> bool:
    return stat.S_ISREG(os.fstat(descriptor).st_mode)


class TraceWriter:
    """Appends the records to an open, owner-only trace file; safe to call from the engine's thread."""

    def __init__(self, path: Path, descriptor: int, clock: Callable[[], float]) -> None:
        """``descriptor``: from :func:`open_operator_trace` or :func:`open_named_trace`; ``clock``: the
        node's, on which the traced messages are timed."""
        self.path = path
        self._out: TextIO = os.fdopen(descriptor, "w", buffering=1 << 16)
        self._lock = threading.Lock()
        self.started = clock()
        self.messages = 0
        self._out.write(json.dumps({"trace": "ota-provider", "version": 1, "started": time.time()}) + "\n")

    def __call__(self, traced: Traced) -> None:
        line = json.dumps(record(traced, self.started), separators=(",", ":"), default=str)
        with self._lock:
            self._out.write(line + "\n")
            self.messages += 1

    def close(self) -> None:
        with self._lock:
            self._out.flush()
            self._out.close()


# ---------------------------------------------------------------------- trace show


def describe_line(entry: dict[str, Any]) -> str:
    """One trace record as a timeline line."""
    session = entry.get("session") or {}
    who = session.get("kind", "?")
    if who in ("CASE", "PASE"):
        who += f"#{session.get('local')}"
        if who.startswith("CASE"):
            who += f" {session.get('peerNode', '')[-4:]}"
    arrow = "->" if entry.get("dir") == "out" else "<-"
    head = f"{entry.get('t', 0):10.3f}  {arrow} {who:14s} ex {entry.get('exchange', 0):5d} #{entry.get('counter')}"
    if "retransmission" in entry:
        return f"{head}  retransmission {entry['retransmission']}"
    flags = ("R" if entry.get("reliable") else "") + (f" A{entry['ack']}" if entry.get("ack") is not None else "")
    what = f"{entry.get('protocol', '?')}:{entry.get('opcode', '?')}"
    detail = ""
    if "commands" in entry:
        detail = " " + ", ".join(entry["commands"])
    elif "blockCounter" in entry:
        detail = f" block {entry['blockCounter']}" + (f" ({entry['dataBytes']} B)" if "dataBytes" in entry else "")
    elif "status" in entry:
        detail = f" {entry['status']}"
    elif "designator" in entry:
        detail = f" designator {entry['designator']} max block {entry['maxBlockSize']}"
    elif "length" in entry:
        detail = f" length {entry['length']} block {entry['maxBlockSize']}"
    duplicate = " (duplicate)" if entry.get("duplicate") else ""
    return f"{head}  {what}{detail} [{flags.strip()}]{duplicate}"


def show(lines: Iterable[str], out: TextIO) -> int:
    shown = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            print(f"line {number}: not a trace record", file=sys.stderr)
            return 1
        if "trace" in entry:
            started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(entry.get("started", 0)))
            out.write(f"trace of ota-provider, started {started} UTC\n")
            continue
        out.write(describe_line(entry) + "\n")
        shown += 1
    out.write(f"{shown} messages\n")
    return 0


def show_main(argv: Sequence[str]) -> int:
    """``ota-provider trace show FILE``."""
    if len(argv) != 2 or argv[0] != "show":
        print("usage: ota-provider trace show FILE.jsonl", file=sys.stderr)
        return 2
    try:
        with open(argv[1]) as lines:
            return show(lines, sys.stdout)
    except OSError as exc:
        print(f"ota-provider trace: error: cannot read {argv[1]}: {exc.strerror}", file=sys.stderr)
        return 1

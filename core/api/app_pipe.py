"""The SDK app's out-of-band JSON over two named pipes (``--app-pipe IN --app-pipe-out OUT``), as the
certification scripts (TC-SU-2.x) use it: a JSON object in, one JSON object out.

``{"Name": "QueryImageSnapshot", "Cluster": "OtaSoftwareUpdateProvider", "Endpoint": 0}`` ->
``{"Name": "SnapshotResponse", "Cluster": ..., "Endpoint": ..., "Payload": {...}}``. The key names
follow the SDK's delegate (``examples/ota-provider-app/linux/OtaProviderAppCommandDelegate.cpp``:
VendorID, ProductID, SoftwareVersion, HardwareVersion, Location, RequestorCanConsent, and
ProtocolsSupported as numbers) and the keys the scripts read (UpdateToken, UserConsentNeeded,
NewVersion, ApplyUpdateRequestSentStatus, ApplyUpdateRequestCount, StartOffsetBitSet,
StartOffset). An update token is upper-case hex, empty before there is one (TC-SU-2.4 checks
``len(token) > 0`` and compares the two commands' tokens).

:class:`Observations` folds the engine's events; :func:`answer` is a pure function of a request and
them; :class:`AppPipe` is the thread that reads one FIFO and writes the other.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .events import (
    ApplyUpdateReceived,
    EngineEvent,
    QueryImageAnswered,
    QueryImageReceived,
    TransferStarted,
    UpdateAppliedNotified,
)

__all__ = ["CLUSTER", "AppPipe", "AppPipeError", "Observations", "answer", "payload", "split_requests"]

log = logging.getLogger(__name__)


class AppPipeError(ValueError):
    """A pipe path that cannot be used, said in one line."""


CLUSTER = "OtaSoftwareUpdateProvider"
MAX_REQUEST = 64 * 1024  # bytes of a request not yet complete: past that, the buffer is dropped
LINGER = 1.0  # seconds a reply's writer stays open for the script's next read (see AppPipe)


@dataclass
class Observations:
    """What the provider saw last, as the pipe reports it."""

    query: QueryImageReceived | None = None
    answered: QueryImageAnswered | None = None
    apply_token: bytes = b""
    apply_version: int = 0
    apply_sent: bool = False  # an ApplyUpdateRequest came since the last NotifyUpdateApplied
    apply_count: int = 0
    start_offset_given: bool = False
    start_offset: int = 0

    def feed(self, event: EngineEvent) -> None:
        if isinstance(event, QueryImageReceived):
            self.query = event
        elif isinstance(event, QueryImageAnswered):
            self.answered = event
        elif isinstance(event, ApplyUpdateReceived):
            self.apply_token, self.apply_version = event.update_token, event.new_version
            self.apply_sent, self.apply_count = True, self.apply_count + 1
        elif isinstance(event, UpdateAppliedNotified):  # the SDK app resets these two, keeps the rest
            self.apply_sent, self.apply_count = False, 0
        elif isinstance(event, TransferStarted):
            self.start_offset_given = event.snapshot.start_offset_given
            self.start_offset = event.snapshot.start_offset


def _query_payload(seen: Observations) -> dict[str, Any]:
    query, answered = seen.query, seen.answered
    payload: dict[str, Any] = {
        "VendorID": query.vendor_id if query else 0,
        "ProductID": query.product_id if query else 0,
        "SoftwareVersion": query.software_version if query else 0,
        "HardwareVersion": (query.hardware_version or 0) if query else 0,
        "Location": (query.location or "") if query else "",
        "RequestorCanConsent": bool(query.requestor_can_consent) if query else False,
        "ProtocolsSupported": [int(p) for p in query.protocols_supported] if query else [],
    }
    token = answered.update_token if answered is not None else None
    payload["UpdateToken"] = token.hex().upper() if token else ""
    payload["UserConsentNeeded"] = bool(answered.user_consent_needed) if answered is not None else False
    return payload


def _apply_payload(seen: Observations) -> dict[str, Any]:
    return {
        "UpdateToken": seen.apply_token.hex().upper(),
        "NewVersion": seen.apply_version,
        "ApplyUpdateRequestSentStatus": seen.apply_sent,
        "ApplyUpdateRequestCount": seen.apply_count,
    }


def _offset_payload(seen: Observations) -> dict[str, Any]:
    return {"StartOffsetBitSet": seen.start_offset_given, "StartOffset": seen.start_offset}


PAYLOADS = {
    "QueryImageSnapshot": _query_payload,
    "GetApplyUpdateRequestStatus": _apply_payload,
    "GetBDXOffset": _offset_payload,
}


def payload(name: str, seen: Observations) -> dict[str, Any]:
    """The payload the pipe answers ``name`` with (one of PAYLOADS)."""
    return PAYLOADS[name](seen)


def answer(request: Any, seen: Observations) -> dict[str, Any]:
    """The reply to one request (a decoded JSON value), never an exception."""
    if not isinstance(request, dict) or not isinstance(request.get("Name"), str):
        return {"Name": "Error", "Error": 'a request is a JSON object with a "Name" (a string)'}
    name = request["Name"]
    cluster = request.get("Cluster", CLUSTER)
    endpoint = request.get("Endpoint", 0)
    reply: dict[str, Any] = {"Name": "SnapshotResponse", "Cluster": cluster, "Endpoint": endpoint}
    make = PAYLOADS.get(name)
    if make is None:
        return {**reply, "Name": "Error", "Error": f"Unhandled command: {name}"}
    if cluster != CLUSTER:
        return {**reply, "Error": "Unsupported cluster for snapshot"}
    return {**reply, "Payload": make(seen)}


def split_requests(buffer: str) -> tuple[list[Any], str]:
    """The complete JSON values at the start of ``buffer`` (a request may come with or without a
    newline, in one write or several), and what is left to wait for. A value that cannot be JSON
    is returned as a ``ValueError`` in its place, and the buffer skips to the next line."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    rest = buffer
    while rest.strip():
        rest = rest.lstrip()
        try:
            value, end = decoder.raw_decode(rest)
        except json.JSONDecodeError as exc:
            if exc.pos >= len(rest) - 1 and "\n" not in rest:  # perhaps only incomplete so far
                break
            found.append(ValueError(f"not JSON: {exc.msg}"))
            newline = rest.find("\n")
            rest = rest[newline + 1 :] if newline >= 0 else ""
            continue
        found.append(value)
        rest = rest[end:]
    return found, rest


class AppPipe:
    """Reads requests from ``inbound`` and writes each reply to ``outbound``, on a thread of its
    own: a script that is slow to read never holds up the engine. The FIFOs are made (owner-only)
    when missing; a writer that closes and reopens ``inbound`` is read again.

    A reply's writer stays open for :data:`LINGER` seconds and the next reply goes through it. A
    script reads a reply, writes its next request and opens ``outbound`` again at once; had the
    writer just been closed, that open could catch it before the close and read an end of file
    (``tests/cli/test_sdk_app.py`` reopens at once, a hundred times). A script that reads to the
    end of file gets the reply when the writer closes, LINGER later."""

    def __init__(
        self,
        inbound: Path,
        outbound: Path,
        seen: Observations,
        lock: threading.Lock,
        on_request: Callable[[str, dict[str, Any]], None] = lambda _name, _reply: None,
    ) -> None:
        self.inbound, self.outbound = inbound, outbound
        self.seen, self.lock = seen, lock
        self.on_request = on_request
        self.requests = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="app-pipe", daemon=True)
        self._keep_open: int | None = None
        self._writer: int | None = None  # the open reply writer, while it lingers
        self._linger_until = 0.0

    def start(self) -> None:
        for path in (self.inbound, self.outbound):
            _fifo(path)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._keep_open is not None:  # wakes the reader: it sees the stop at once
            with contextlib.suppress(OSError):
                os.write(self._keep_open, b"\n")

    def _run(self) -> None:
        # Opened read-write: the FIFO never reports end-of-file between two writers, and opening
        # does not wait for a writer.
        fd = os.open(self.inbound, os.O_RDWR)
        self._keep_open = fd
        buffer = ""
        try:
            while not self._stop.is_set():
                wait = max(0.0, self._linger_until - time.monotonic()) if self._writer is not None else None
                readable, _, _ = select.select([fd], [], [], wait)
                if not readable:
                    self._close_writer()  # the linger is over
                    continue
                chunk = os.read(fd, 4096)
                if not chunk:
                    continue
                buffer += chunk.decode("utf-8", errors="replace")
                requests, buffer = split_requests(buffer)
                if len(buffer) > MAX_REQUEST:
                    requests.append(ValueError("request too long"))
                    buffer = ""
                for request in requests:
                    if self._stop.is_set():
                        break
                    self._reply(request)
        finally:
            self._close_writer()
            os.close(fd)

    def _close_writer(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(OSError):
                os.close(self._writer)
            self._writer = None

    def _reply(self, request: Any) -> None:
        self.requests += 1
        if isinstance(request, ValueError):
            reply: dict[str, Any] = {"Name": "Error", "Error": str(request)}
        else:
            with self.lock:
                reply = answer(request, self.seen)
        self.on_request(_name(request), reply)
        data = (json.dumps(reply) + "\n").encode()
        try:
            try:
                self._write(data)
            except BrokenPipeError:
                # The script closed its reader and has not opened the next one yet. The new writer
                # is opened (waiting for that reader) before the old one is closed: a reader that
                # opened in between holds both, and so never sees an end of file.
                fresh = os.open(self.outbound, os.O_WRONLY)
                self._close_writer()
                self._writer = fresh
                os.write(fresh, data)
            self._linger_until = time.monotonic() + LINGER
        except OSError as exc:
            self._close_writer()
            log.warning("app pipe: the reply could not be written to %s: %s", self.outbound, exc)

    def _write(self, data: bytes) -> None:
        if self._writer is None:  # waits for the script to open the other end, as the SDK app's does
            self._writer = os.open(self.outbound, os.O_WRONLY)
        os.write(self._writer, data)


def _name(request: Any) -> str:
    return str(request.get("Name")) if isinstance(request, dict) else "a malformed request"


def _fifo(path: Path) -> None:
    """``path`` as a FIFO: made owner-only when missing; an existing FIFO is used as it is."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        try:
            os.mkfifo(path, 0o600)
        except OSError as exc:
            raise AppPipeError(f"cannot make the app pipe {path}: {exc.strerror or exc}") from None
        return
    if not stat.S_ISFIFO(mode):
        raise AppPipeError(f"{path} exists and is not a named pipe (FIFO); remove it or give another path")

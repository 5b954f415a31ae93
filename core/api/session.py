"""The control protocol as a sans-IO session (h11's shape): bytes in, typed messages out, bytes to
send queued, a phase, results kept by command id. Every client of the control socket (the blocking
:class:`~.client.ProviderClient`, the asyncio :class:`~.client.AsyncProviderClient` and the
dashboard's :class:`~.link.SocketLink`) drives one :class:`ClientSession`; the server drives one
:class:`ServerSession` per connection. Neither touches a socket, a thread or a clock.

The wire: one JSON object per line, each way, at most :data:`MAX_LINE` bytes (README, "The protocol").
"""

from __future__ import annotations

import contextlib
import enum
import hmac
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..ota.history import HistoryRow
from .commands import Command
from .events import EngineEvent, EngineSnapshot
from .wire import PROTOCOL_VERSION, WireError, command_from_json, command_to_json, event_from_json, from_data

__all__ = [
    "EVENTS_KEPT",
    "MAX_LINE",
    "Answered",
    "ClientSession",
    "Closed",
    "CommandReceived",
    "EventReceived",
    "Greeted",
    "HelloAccepted",
    "LineBuffer",
    "Phase",
    "PingReceived",
    "ProtocolViolation",
    "ProviderError",
    "Refused",
    "Result",
    "ServerSession",
    "SnapshotReceived",
    "SnapshotWanted",
    "SubscribeWanted",
    "Subscribed",
    "UnsubscribeWanted",
    "Welcomed",
]

MAX_LINE = 64 * 1024  # one message, each way
EVENTS_KEPT = 10_000  # events received and not taken yet (then the oldest go)


class LineBuffer:
    """Bytes in, whole lines out; a line longer than ``limit`` is an error (ValueError), not memory."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        lines = []
        start = 0
        while (end := self._buffer.find(b"\n", start)) >= 0:
            lines.append(bytes(self._buffer[start:end]))
            start = end + 1
        del self._buffer[:start]
        if len(self._buffer) > self.limit or any(len(line) > self.limit for line in lines):
            self._buffer.clear()
            raise ValueError(f"a message is one JSON object on one line of at most {self.limit} bytes")
        return [line for line in lines if line.strip()]


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), default=str).encode() + b"\n"


class Phase(enum.Enum):
    GREETING = enum.auto()  # the provider's hello, then ours, then its welcome (client) / ours (server)
    READY = enum.auto()  # commands, subscriptions, snapshots
    CLOSED = enum.auto()  # said goodbye, or the other side did: nothing more is read or sent


# ---------------------------------------------------------------------- the client's side


@dataclass(frozen=True)
class Result:
    """What the engine did with one command."""

    id: str
    ok: bool
    message: str
    rows: tuple[HistoryRow, ...] = ()
    payload: dict[str, Any] | None = None  # QueryAppPipe's report


@dataclass(frozen=True)
class Greeted:
    """The provider's hello: the protocol it speaks, whether it wants a token; over the owner-only
    Unix socket also who it is (``engine``) and its last sequence number."""

    protocol: Any
    needs_token: bool
    engine: dict[str, Any] | None = None


@dataclass(frozen=True)
class Welcomed:
    engine: dict[str, Any]
    seq: int


@dataclass(frozen=True)
class EventReceived:
    event: EngineEvent


@dataclass(frozen=True)
class SnapshotReceived:
    snapshot: EngineSnapshot


@dataclass(frozen=True)
class Answered:
    result: Result


@dataclass(frozen=True)
class Refused:
    """A command the provider could not read (an ``error`` with its id)."""

    id: str
    message: str


@dataclass(frozen=True)
class Subscribed:
    seq: int
    missed: int


@dataclass(frozen=True)
class ProviderError:
    """An ``error`` with no command id: the handshake failed, or the provider cut this client off
    (``resume_after``: the last sequence number it sent)."""

    message: str
    resume_after: int | None = None


@dataclass(frozen=True)
class Closed:
    """The connection ended; ``reason`` says how (the last error the provider sent, if any)."""

    reason: str


Received = (
    Greeted | Welcomed | EventReceived | SnapshotReceived | Answered | Refused | Subscribed | ProviderError | Closed
)


@dataclass
class ClientSession:
    """One client's side of the protocol. Feed it what the socket gave (:meth:`receive_data`, b""
    for the end), send what :meth:`data_to_send` returns. It answers the provider's hello itself."""

    token: str | None = None
    phase: Phase = Phase.GREETING
    engine: dict[str, Any] = field(default_factory=dict)
    hello: Greeted | None = None
    last_seq: int = 0
    events: deque[EngineEvent] = field(default_factory=lambda: deque(maxlen=EVENTS_KEPT))
    results: dict[str, Result] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    subscriptions: int = 0  # "subscribed" answers received
    missed: int = 0  # of the last one
    snapshots: int = 0  # snapshots received, the last in ``snapshot``
    snapshot: EngineSnapshot | None = None
    errors: list[str] = field(default_factory=list)
    skipped: int = 0  # messages of a newer provider this client does not read (left out, not fatal)
    _lines: LineBuffer = field(default_factory=lambda: LineBuffer(MAX_LINE * 64))
    _out: bytearray = field(default_factory=bytearray)

    # ------------------------------------------------------------------ out

    def data_to_send(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def _send(self, message: dict[str, Any]) -> None:
        if self.phase is not Phase.CLOSED:
            self._out += encode(message)

    def send_command(self, command: Command) -> str:
        """Queue ``command``; its :class:`Result` will be in :attr:`results` under the id returned."""
        self._send(command_to_json(command))
        return command.id

    def subscribe(self, after: int | None = None, *, snapshots: bool = False) -> None:
        self._send({"type": "subscribe", **({"after": after} if after is not None else {}), "snapshots": snapshots})

    def unsubscribe(self) -> None:
        self._send({"type": "unsubscribe"})

    def request_snapshot(self) -> None:
        self._send({"type": "snapshot"})

    def ping(self) -> None:
        self._send({"type": "ping"})

    # ------------------------------------------------------------------ in

    def receive_data(self, data: bytes) -> list[Received]:
        """What ``data`` completes, as values (and kept: results by id, events in order)."""
        if self.phase is Phase.CLOSED:
            return []
        if not data:
            return [self._close("the provider closed the connection" + self.last_error())]
        try:
            lines = self._lines.feed(data)
        except ValueError as exc:
            return [self._close(str(exc))]
        out: list[Received] = []
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                self.skipped += 1
                continue
            received = self._read(message) if isinstance(message, dict) else None
            if received is not None:
                out.append(received)
        return out

    def last_error(self) -> str:
        return f": {self.errors[-1]}" if self.errors else ""

    def _close(self, reason: str) -> Closed:
        self.phase = Phase.CLOSED
        return Closed(reason)

    def _read(self, message: dict[str, Any]) -> Received | None:
        kind = message.get("type")
        reader = _CLIENT_READERS.get(kind) if isinstance(kind, str) else None
        return None if reader is None else reader(self, message)  # None: pong, unsubscribed, a newer provider's

    def _greeted(self, message: dict[str, Any]) -> Received:
        self.hello = Greeted(message.get("protocol"), bool(message.get("needsToken")), message.get("engine"))
        self._send({"type": "hello", "protocol": PROTOCOL_VERSION, **({"token": self.token} if self.token else {})})
        return self.hello

    def _welcomed(self, message: dict[str, Any]) -> Received:
        self.phase = Phase.READY
        self.engine = dict(message.get("engine") or {})
        return Welcomed(self.engine, int(message.get("seq") or 0))

    def _event(self, message: dict[str, Any]) -> Received | None:
        try:
            event = event_from_json(message)
        except WireError:  # an event of a newer provider
            self.skipped += 1
            return None
        if message.get("type") == "snapshot" and isinstance(event, EngineSnapshot):  # asked for: not numbered
            self.snapshots += 1
            self.snapshot = event
            return SnapshotReceived(event)
        self.last_seq = event.seq
        if isinstance(event, EngineSnapshot):
            self.snapshot = event
        self.events.append(event)
        return EventReceived(event)

    def _answered(self, message: dict[str, Any]) -> Received:
        result = _result(message)
        self.results[result.id] = result
        return Answered(result)

    def _subscribed(self, message: dict[str, Any]) -> Received:
        self.subscriptions += 1
        self.missed = int(message.get("missed") or 0)
        return Subscribed(int(message.get("seq") or 0), self.missed)

    def _error(self, message: dict[str, Any]) -> Received:
        text = str(message.get("message", ""))
        self.errors.append(text)
        if message.get("id") is not None:
            self.refused[str(message["id"])] = text
            return Refused(str(message["id"]), text)
        resume = message.get("resumeAfter")
        return ProviderError(text, resume if isinstance(resume, int) else None)


_CLIENT_READERS: dict[str, Callable[[ClientSession, dict[str, Any]], Received | None]] = {
    "hello": ClientSession._greeted,
    "welcome": ClientSession._welcomed,
    "event": ClientSession._event,
    "snapshot": ClientSession._event,
    "result": ClientSession._answered,
    "subscribed": ClientSession._subscribed,
    "error": ClientSession._error,
}


def _result(message: dict[str, Any]) -> Result:
    rows: tuple[HistoryRow, ...] = ()
    with contextlib.suppress(WireError):
        rows = tuple(from_data(HistoryRow, r) for r in message.get("rows", ()))
    report = message.get("payload")
    return Result(
        str(message.get("id")),
        bool(message.get("ok")),
        str(message.get("message", "")),
        rows,
        dict(report) if isinstance(report, dict) else None,
    )


# ---------------------------------------------------------------------- the server's side


@dataclass(frozen=True)
class HelloAccepted:
    """The client proved the token (or needed none): welcome it, and start its event queue."""


@dataclass(frozen=True)
class CommandReceived:
    command: Command


@dataclass(frozen=True)
class SubscribeWanted:
    after: int | None
    snapshots: bool


@dataclass(frozen=True)
class UnsubscribeWanted:
    pass


@dataclass(frozen=True)
class SnapshotWanted:
    pass


@dataclass(frozen=True)
class PingReceived:
    pass


@dataclass(frozen=True)
class ProtocolViolation:
    """What the client sent cannot be read; ``fatal``: the session is closed after the error sent."""

    message: str
    fatal: bool = False


Request = (
    HelloAccepted
    | CommandReceived
    | SubscribeWanted
    | UnsubscribeWanted
    | SnapshotWanted
    | PingReceived
    | ProtocolViolation
)


class ServerSession:
    """One connection's side of the provider: the client's lines in, requests out, the answers to
    them (and the events the server forwards) encoded. Errors in what the client sent are answered
    here, in one line each; only a wrong version or token, or talk before hello, ends the session."""

    def __init__(self, token: str | None, *, authenticated: bool) -> None:
        self.token = token
        self.authenticated = authenticated  # the owner-only Unix socket: whoever connects is the provider's user
        self.phase = Phase.GREETING
        self._lines = LineBuffer(MAX_LINE)
        self._out = bytearray()

    def data_to_send(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def send(self, message: dict[str, Any]) -> None:
        if self.phase is not Phase.CLOSED:
            self._out += encode(message)

    def send_encoded(self, line: bytes) -> None:
        """An event encoded once for every client (see the server's encoding cache)."""
        if self.phase is not Phase.CLOSED:
            self._out += line

    def error(self, text: str, **extra: Any) -> None:
        self.send({"type": "error", "message": text, **extra})

    def greet(self, engine: dict[str, Any] | None = None, seq: int = 0) -> None:
        hello: dict[str, Any] = {"type": "hello", "protocol": PROTOCOL_VERSION, "needsToken": self.token is not None}
        if self.authenticated and engine is not None:
            hello.update(engine=engine, seq=seq)
        self.send(hello)

    def welcome(self, engine: dict[str, Any], seq: int) -> None:
        self.phase = Phase.READY
        self.send({"type": "welcome", "protocol": PROTOCOL_VERSION, "engine": engine, "seq": seq})

    def close(self) -> None:
        self.phase = Phase.CLOSED

    def receive_data(self, data: bytes) -> list[Request]:
        if self.phase is Phase.CLOSED:
            return []
        try:
            lines = self._lines.feed(data)
        except ValueError as exc:
            self.error(str(exc))
            self.close()
            return [ProtocolViolation(str(exc), fatal=True)]
        out: list[Request] = []
        for line in lines:
            request = self._read(line)
            if request is None:
                continue
            out.append(request)
            if isinstance(request, ProtocolViolation) and request.fatal:
                self.close()
                break
        return out

    def _violation(self, text: str, *, fatal: bool = False, **extra: Any) -> ProtocolViolation:
        self.error(text, **extra)
        return ProtocolViolation(text, fatal)

    def _read(self, line: bytes) -> Request | None:
        try:
            message = json.loads(line)
        except (UnicodeDecodeError, ValueError) as exc:
            return self._violation(f"not JSON: {exc}")
        except RecursionError:
            return self._violation("not JSON this provider reads: nested too deeply")
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return self._violation('a message is a JSON object with a "type"')
        kind = message["type"]
        if kind == "hello":
            return self._hello(message)
        if not self.authenticated:
            text = "send hello with the token first (the control-token file in the provider's state directory)"
            return self._violation(text, fatal=True)
        match kind:
            case "command":
                return self._command(message)
            case "subscribe":
                return self._subscribe(message)
            case "unsubscribe":
                self.send({"type": "unsubscribed"})
                return UnsubscribeWanted()
            case "snapshot":
                return SnapshotWanted()
            case "ping":
                self.send({"type": "pong"})
                return PingReceived()
        known = "hello, command, subscribe, unsubscribe, snapshot or ping"
        return self._violation(f"unknown message type {kind!r}: {known}")

    def _command(self, message: dict[str, Any]) -> Request:
        try:
            return CommandReceived(command_from_json(message))
        except WireError as exc:
            return self._violation(str(exc), id=message.get("id"))

    def _subscribe(self, message: dict[str, Any]) -> Request:
        after = message.get("after")
        if after is not None and (not isinstance(after, int) or isinstance(after, bool) or after < 0):
            return self._violation("subscribe: after is the last sequence number seen (an integer), or absent")
        return SubscribeWanted(after, bool(message.get("snapshots", False)))

    def _hello(self, message: dict[str, Any]) -> Request:
        protocol = message.get("protocol")
        if protocol != PROTOCOL_VERSION:
            text = (
                f"protocol version {protocol!r} is not spoken here (this provider speaks {PROTOCOL_VERSION}): "
                "use the ota-provider of the same release"
            )
            return self._violation(text, fatal=True)
        if self.token is not None:
            offered = message.get("token")
            if not isinstance(offered, str) or not hmac.compare_digest(offered, self.token):
                return self._violation(
                    "wrong token: give the control-token file from the provider's state directory", fatal=True
                )
            self.authenticated = True
        return HelloAccepted()

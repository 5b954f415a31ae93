"""The control socket: the engine protocol as JSON lines, for ``ota-provider ctl``, the Python client
and a dashboard that attaches (README "The control socket" has the schema).

A Unix socket, mode 0600 from its creation (owner only), or ``tcp:HOST:PORT`` where every client
first proves it holds the token file. Runs on the engine's own loop. Each connection has its own
bounded event queue: a client that stops reading is cut off with a message saying where to
resume, and never slows the engine or another client. Bad input gets an ``error`` message; the
connection, and the engine, go on.

What a client sees before it has proved the token (TCP): the protocol version and that a token is
needed, nothing about the node (its setup code would let anyone commission it). It subscribes to
nothing, must prove the token within AUTH_SECONDS, and is one of a bounded number of connections in
total and per address, so a crowd of silent or slow connections costs the engine nothing lasting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import stat
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .bus import Subscriber
from .events import AppPipeReport, CommandDone, EngineEvent, EngineSnapshot, HistoryRows
from .session import (
    MAX_LINE,
    CommandReceived,
    HelloAccepted,
    Phase,
    Request,
    ServerSession,
    SnapshotWanted,
    SubscribeWanted,
    UnsubscribeWanted,
    encode,
)
from .wire import event_to_json, to_data

__all__ = [
    "MAX_LINE",
    "TOKEN_FILE",
    "ControlError",
    "ControlServer",
    "ControlTarget",
    "parse_control_target",
    "read_token",
    "socket_address_of",
]

log = logging.getLogger(__name__)

SNAPSHOT_BACKLOG = 64 * 1024  # unread bytes past which a client's next snapshot is skipped, not queued
MAX_BUFFERED = 4 * 1024 * 1024  # bytes queued to a client that does not read: past this it is cut off
CLIENT_QUEUE = 20_000  # events queued for one client
ENCODED_KEPT = 256  # the last events' JSON lines, shared by the clients
TOKEN_FILE = "control-token"
TOKEN_MIN_LENGTH = 32  # characters: the token made here has 64 (32 random bytes, hex)
AUTH_SECONDS = 5.0  # an unauthenticated TCP connection is closed after this
MAX_CONNECTIONS = 256  # clients at once, authenticated or not
MAX_UNAUTHENTICATED = 64  # connections that have not proved the token yet (TCP)
MAX_PER_ADDRESS = 32  # TCP connections from one address


class ControlError(RuntimeError):
    """The control socket cannot be opened; the message says why and what to do."""


@dataclass(frozen=True)
class ControlTarget:
    path: Path | None = None  # a Unix socket
    host: str | None = None  # or TCP
    port: int = 0

    def describe(self) -> str:
        return str(self.path) if self.path is not None else f"tcp:{self.host}:{self.port}"


def parse_control_target(text: str) -> ControlTarget:
    """``PATH`` or ``tcp:HOST:PORT``; ValueError in one line."""
    if text.startswith("tcp:"):
        host, _, port = text[4:].rpartition(":")
        host = host.strip("[]")
        if not host or not port.isdigit() or not 0 <= int(port) < 65536:  # 0: any free port (said in Listening)
            raise ValueError(f"control address {text!r}: write tcp:HOST:PORT, e.g. tcp:127.0.0.1:5580")
        return ControlTarget(host=host, port=int(port))
    if not text:
        raise ValueError("control socket: give a path, e.g. /run/ota-provider.sock")
    return ControlTarget(path=Path(text).expanduser())


def socket_address_of(where: str | Path) -> tuple[int, Any]:
    """The socket family and address a client connects to for ``PATH`` or ``tcp:HOST:PORT``."""
    target = parse_control_target(str(where))
    if target.path is not None:
        return socket.AF_UNIX, str(target.path)
    family = socket.AF_INET6 if ":" in (target.host or "") else socket.AF_INET
    return family, (target.host, target.port)


def read_token(path: Path) -> str:
    """The token in ``path``; ControlError in one line if it cannot be read or is too short to be one."""
    try:
        token = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ControlError(f"cannot read the control token {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if len(token) < TOKEN_MIN_LENGTH:
        raise ControlError(
            f"the control token {path} is {'empty' if not token else 'too short'}: delete it and "
            "restart the provider to have a new one made"
        )
    return token


def check_token_file(path: Path) -> None:
    """The provider trusts its token file only if it is a regular file of its own user that nobody
    else can read or write: anyone who could write it could choose the token."""
    try:
        info = path.lstat()
    except OSError as exc:
        raise ControlError(f"cannot read the control token {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ControlError(f"the control token {path} is not a regular file: remove it and restart the provider")
    if info.st_uid != os.geteuid():
        raise ControlError(
            f"the control token {path} belongs to another user (uid {info.st_uid}): remove it and restart the provider"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ControlError(
            f"the control token {path} can be read or written by others (mode {mode:04o}): "
            "chmod 600 it, or remove it to have a new one made"
        )


def _token(storage: Path) -> str:
    """The TCP clients' shared secret, created once in the state directory, owner-only."""
    path = storage / TOKEN_FILE
    if path.exists() or path.is_symlink():
        check_token_file(path)
        return read_token(path)
    token = secrets.token_hex(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(token + "\n")
    return token


class ControlServer:
    def __init__(
        self,
        target: ControlTarget,
        *,
        subscribe: Callable[..., tuple[Subscriber, int]],
        send: Callable[[Any], None],
        identity: Callable[[], dict[str, Any]],
        snapshot: Callable[[], EngineSnapshot | None],
        storage: Path,
    ) -> None:
        self.target = target
        self.subscribe = subscribe
        self.send = send
        self.identity = identity
        self.snapshot = snapshot
        self.storage = storage
        self.token: str | None = None
        self._server: asyncio.Server | None = None
        self.connections: set[_Connection] = set()
        self.per_address: dict[str, int] = {}
        self.cut_off = 0  # clients cut off for not reading
        self.refused = 0  # connections closed at once: too many in total, unauthenticated, or from one address
        self.timed_out = 0  # connections that did not prove the token in time
        self.max_connections = MAX_CONNECTIONS
        self.max_unauthenticated = MAX_UNAUTHENTICATED
        self.max_per_address = MAX_PER_ADDRESS
        self.auth_seconds = AUTH_SECONDS
        self.max_buffered = MAX_BUFFERED
        self._encoded: OrderedDict[int, bytes] = OrderedDict()  # seq -> its event message: encoded once

    def encoded(self, event: EngineEvent) -> bytes:
        """An event's JSON line, made once however many clients get it."""
        line = self._encoded.get(event.seq)
        if line is None:
            line = encode(event_to_json(event))
            self._encoded[event.seq] = line
            if len(self._encoded) > ENCODED_KEPT:
                self._encoded.popitem(last=False)
        return line

    async def start(self) -> None:
        if self.target.path is None:
            self.token = _token(self.storage)
            try:
                self._server = await asyncio.start_server(
                    self._accept, self.target.host, self.target.port, limit=MAX_LINE
                )
            except OSError as exc:
                raise ControlError(f"cannot listen on {self.target.describe()}: {exc.strerror}") from None
            return
        path = self.target.path
        _clear_stale(path)
        previous = os.umask(0o177)  # the socket is owner-only from the moment it exists
        try:
            self._server = await asyncio.start_unix_server(self._accept, path, limit=MAX_LINE)
        except OSError as exc:
            raise ControlError(f"cannot create the control socket {path}: {exc.strerror}") from None
        finally:
            os.umask(previous)
        os.chmod(path, 0o600)

    @property
    def port(self) -> int:
        """The TCP port listened on (when the target asked for port 0)."""
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        for connection in list(self.connections):
            connection.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        if self.target.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.target.path.unlink()

    def _admit(self, address: str) -> str | None:
        """Why a new connection from ``address`` is refused, or None."""
        if len(self.connections) >= self.max_connections:
            return f"too many control clients ({self.max_connections}): close one and try again"
        if self.token is not None:
            unauthenticated = sum(1 for c in self.connections if not c.authenticated)
            if unauthenticated >= self.max_unauthenticated:
                return "too many clients are still saying hello: try again in a few seconds"
            if self.per_address.get(address, 0) >= self.max_per_address:
                return f"too many control clients from {address} ({self.max_per_address})"
        return None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) and peer else "local"
        refusal = self._admit(address)
        if refusal is not None:
            self.refused += 1
            with contextlib.suppress(Exception):
                writer.write(encode({"type": "error", "message": refusal}))
                writer.close()
            return
        connection = _Connection(self, reader, writer)
        self.connections.add(connection)
        self.per_address[address] = self.per_address.get(address, 0) + 1
        try:
            await connection.run()
        finally:
            self.connections.discard(connection)
            left = self.per_address.pop(address, 1) - 1
            if left:
                self.per_address[address] = left
            connection.close()


def _clear_stale(path: Path) -> None:
    """A socket left by a provider that was killed is removed; a live one, or another file, is not."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:  # a file where a folder should be, no permission
        raise ControlError(f"cannot create the control socket {path}: {exc.strerror}") from None
    if not stat.S_ISSOCK(mode):
        raise ControlError(f"{path} exists and is not a socket: choose another --control path")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()  # nobody listens: stale
        return
    finally:
        probe.close()
    raise ControlError(f"another provider is listening on {path}: stop it or choose another --control path")


class _Connection:
    """Drives one :class:`ServerSession` over one stream: its bytes in, its requests acted on (the
    engine's bus, its commands), its bytes out; a client that stops reading is cut off."""

    def __init__(self, server: ControlServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.loop = asyncio.get_running_loop()
        self.session = ServerSession(server.token, authenticated=server.token is None)
        self.forwarding = False
        self.snapshots_skipped = 0  # snapshots not sent because the client had not read the ones before
        self.pending: set[str] = set()  # ids of this client's commands not answered yet
        self.history: dict[str, list] = {}
        self.reports: dict[str, dict[str, Any]] = {}  # AppPipeReport payloads, until their result goes
        self._scheduled = False
        self.closed = False
        self.events: Subscriber | None = None
        if self.authenticated:
            self._listen()

    @property
    def authenticated(self) -> bool:
        return self.session.authenticated

    def _listen(self) -> None:
        """Subscribe to the engine's events, before any command, so no answer is ever missed. Only an
        authenticated client does: one still saying hello holds no queue."""
        # No snapshots until the client subscribes asking for them.
        self.events, _ = self.server.subscribe(capacity=CLIENT_QUEUE, wake=self._wake, snapshots=False)

    # ------------------------------------------------------------------ out

    def write(self, message: dict[str, Any]) -> None:
        self.session.send(message)
        self._flush()

    def write_line(self, line: bytes) -> None:
        self.session.send_encoded(line)
        self._flush()

    def error(self, text: str, **extra: Any) -> None:
        self.session.error(text, **extra)
        self._flush()

    def _flush(self) -> None:
        data = self.session.data_to_send()
        if self.closed or not data:
            return
        if self.writer.transport.is_closing():  # the peer is gone: every write after would be logged by asyncio
            self.close()
            return
        self.writer.write(data)
        if self.writer.transport.get_write_buffer_size() > self.server.max_buffered:
            self.cut("it stopped reading")

    def cut(self, why: str) -> None:
        """Drop a client that cannot keep up, telling it where to resume."""
        if self.closed:
            return
        self.server.cut_off += 1
        log.info("control client cut off: %s", why)
        last_seq = self.events.last_seq if self.events is not None else 0
        message = {
            "type": "error",
            "message": f"cut off: {why}; subscribe again with after={last_seq}",
            "resumeAfter": last_seq,
        }
        with contextlib.suppress(Exception):
            self.writer.write(encode(message))
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.session.close()
            if self.events is not None:
                self.events.close()
            with contextlib.suppress(Exception):
                self.writer.close()

    def _wake(self) -> None:  # from the publishing thread
        if not self._scheduled:
            self._scheduled = True
            self.loop.call_soon_threadsafe(self._pump)

    def _pump(self) -> None:
        self._scheduled = False
        if self.closed or self.events is None:
            return
        for event in self.events.take(5000):
            self._deliver(event)
            if self.closed:
                return
        if self.events.lagged:
            self.cut(f"it fell {self.events.dropped} events behind")
        elif self.events.pending():
            self._wake()

    def _deliver(self, event: EngineEvent) -> None:
        if isinstance(event, HistoryRows) and event.command_id in self.pending:
            self.history[event.command_id] = [to_data(r) for r in event.rows]
        if isinstance(event, AppPipeReport) and event.command_id in self.pending:
            self.reports[event.command_id] = event.payload
        if isinstance(event, CommandDone) and event.command_id in self.pending:
            self.pending.discard(event.command_id)
            result: dict[str, Any] = {
                "type": "result",
                "id": event.command_id,
                "ok": event.ok,
                "message": event.message,
                "seq": event.seq,
            }
            if event.command_id in self.history:
                result["rows"] = self.history.pop(event.command_id)
            if event.command_id in self.reports:
                result["payload"] = self.reports.pop(event.command_id)
            self.write(result)
        if not self.forwarding:  # (snapshots come only once it asked for them: Subscriber.snapshots)
            return
        if isinstance(event, EngineSnapshot) and self.writer.transport.get_write_buffer_size() > SNAPSHOT_BACKLOG:
            # A snapshot is state, not history: one that waits behind unread ones says nothing the
            # next will not. A client that stops reading gets none queued (and costs no encoding).
            self.snapshots_skipped += 1
            return
        self.write_line(self.server.encoded(event))

    # ------------------------------------------------------------------ in

    async def run(self) -> None:
        self.session.greet(self.server.identity(), self.events.last_seq if self.events else 0)
        self._flush()
        # A client that has not proved the token has AUTH_SECONDS in all, however it trickles its bytes.
        deadline = self.loop.time() + self.server.auth_seconds
        while not self.closed:
            try:
                if self.authenticated:
                    data = await self.reader.read(1 << 16)
                else:
                    data = await asyncio.wait_for(self.reader.read(1 << 16), max(0.0, deadline - self.loop.time()))
            except TimeoutError:
                self.server.timed_out += 1
                self.error(f"no hello with the token within {self.server.auth_seconds:g} s")
                return
            except (ConnectionError, asyncio.IncompleteReadError):
                return
            if not data:
                return
            self.handle(data)

    def handle(self, data: bytes) -> None:
        """Bytes from the client: each request it completes acted on, the answers sent."""
        for request in self.session.receive_data(data):
            self._act(request)
        self._flush()
        if self.session.phase is Phase.CLOSED:
            self.close()

    def _act(self, request: Request) -> None:
        match request:
            case HelloAccepted():
                if self.events is None:
                    self._listen()
                assert self.events is not None
                self.session.welcome(self.server.identity(), self.events.last_seq)
            case CommandReceived(command):
                self.pending.add(command.id)
                self.server.send(command)
            case SubscribeWanted(after, snapshots):
                self._subscribe(after, snapshots)
            case UnsubscribeWanted():
                self.forwarding = False
            case SnapshotWanted():
                snapshot = self.server.snapshot()
                if snapshot is None:
                    self.session.error("no snapshot yet: the engine is starting")
                else:
                    self.session.send({**event_to_json(snapshot), "type": "snapshot"})

    def _subscribe(self, after: int | None, snapshots: bool) -> None:
        missed = 0
        assert self.events is not None
        if after is not None:  # replay from the bus: a new queue that starts after ``after``
            for event in self.events.take(CLIENT_QUEUE):  # answers still owed to this client first
                self._deliver(event)
            self.events.close()
            self.events, missed = self.server.subscribe(
                after=after, capacity=CLIENT_QUEUE, wake=self._wake, snapshots=snapshots
            )
        else:
            self.events.take_snapshots(snapshots)
        self.forwarding = True
        self.write({"type": "subscribed", "seq": self.events.last_seq, "missed": missed})
        self._wake()

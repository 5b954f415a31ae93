"""What a front end holds: an :class:`EngineLink`, either to the engine in this process
(:class:`LocalLink`) or to one in another process through its control socket (:class:`SocketLink`).
Both hand over the same values (numbered events, the published snapshot, the setup codes), so the
dashboard has one code path whichever it is given. Never blocks the caller: a socket is read by a
thread of its own."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ..codec.setup_payload import SetupPayload
from .commands import Command
from .control import read_token, socket_address_of
from .events import EngineError, EngineEvent, EngineSnapshot, Stopped
from .session import ClientSession, Closed, EventReceived, Phase, ProviderError, Refused

__all__ = ["EngineLink", "LocalLink", "SocketLink"]

EVENTS_BUFFERED = 50_000  # events read from the socket and not drained yet (then the oldest go)


class EngineLink(Protocol):
    attached: bool  # True: the engine runs in another process (quitting the dashboard detaches)
    export_dir: Path

    def send(self, command: Command) -> None: ...

    def drain(self, limit: int = 1000) -> list[EngineEvent]: ...

    def snapshot(self) -> EngineSnapshot | None: ...

    def onboarding(self) -> SetupPayload: ...

    def describe(self) -> str: ...


class LocalLink:
    """The engine in this process, through its built-in subscriber."""

    attached = False

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        config, storage = engine.config, engine.storage
        self.export_dir = config.export_dir or Path(storage) / "exports"

    def send(self, command: Command) -> None:
        self.engine.send(command)

    def drain(self, limit: int = 1000) -> list[EngineEvent]:
        return self.engine.drain(limit)

    def snapshot(self) -> EngineSnapshot | None:
        return self.engine.snapshot()

    def onboarding(self) -> SetupPayload:
        return self.engine.onboarding()

    def describe(self) -> str:
        return "in this process"


class SocketLink:
    """A provider in another process: its control socket, read by a thread of ours through one
    :class:`~.session.ClientSession`."""

    attached = True

    def __init__(
        self,
        where: str,
        *,
        token: str | None = None,
        token_file: Path | None = None,
        export_dir: Path | None = None,
        timeout: float = 10.0,
    ) -> None:
        family, address = socket_address_of(where)
        self.where = where
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(address)
        except OSError as exc:
            self._sock.close()
            raise ConnectionError(
                f"no provider answers on {where}: {exc.strerror or exc} (is it running with --control?)"
            ) from None
        self._lock = threading.Lock()
        self._events: deque[EngineEvent] = deque(maxlen=EVENTS_BUFFERED)
        if token is None and token_file is not None:
            token = read_token(token_file)
        self.session = ClientSession(token)
        self._until(lambda: self.session.phase is Phase.READY)  # the token proved: told who it is
        # Whatever the provider still holds, from its start if it can: the requestors seen so far.
        self.session.subscribe(0, snapshots=True)
        self._until(lambda: self.session.subscriptions > 0)
        self.session.request_snapshot()
        self._flush()
        self.engine: dict[str, Any] = self.session.engine
        self._events.extend(self.session.events)  # what came with the answers
        self.session.events.clear()
        self._sock.settimeout(None)
        self.export_dir = export_dir or self._default_export_dir()
        self._onboarding = SetupPayload.from_qr_code(self.engine["qrCode"])
        self._thread = threading.Thread(target=self._read_all, name="ota-provider-link", daemon=True)
        self._thread.start()

    def _default_export_dir(self) -> Path:
        """Where the provider's own dashboard writes: its state directory's exports/, when this user
        can write there (the usual case: the socket is owner-only); else a folder in the working
        directory."""
        storage = self.engine.get("storage")
        if storage and os.access(storage, os.W_OK | os.X_OK):
            return Path(storage) / "exports"
        return Path.cwd() / "ota-provider-exports"

    def _flush(self) -> None:
        with self._lock:
            if data := self.session.data_to_send():
                self._sock.sendall(data)

    def _until(self, done: Callable[[], bool]) -> None:
        """The handshake, blocking (the socket's timeout bounds each read)."""
        errors = len(self.session.errors)
        while not done():
            self._flush()
            if len(self.session.errors) > errors:
                raise ConnectionError(self.session.errors[-1])
            data = self._sock.recv(1 << 16)
            for received in self.session.receive_data(data):
                if isinstance(received, Closed):
                    raise ConnectionError(f"{received.reason} ({self.where})")

    def _read_all(self) -> None:
        reason = "the provider closed the connection"
        try:
            while True:
                data = self._sock.recv(1 << 16)
                for received in self.session.receive_data(data):
                    match received:
                        case EventReceived(event):
                            self._events.append(event)
                        case ProviderError(message) | Refused(_, message):
                            self._events.append(EngineError(f"control socket: {message}"))
                        case Closed(why):
                            reason = why
                self.session.events.clear()  # handed over above: the session need not keep them
                self._flush()
                if not data:
                    break
        except OSError as exc:
            reason = f"the connection to the provider failed: {exc}"
        self._events.append(EngineError(f"{reason} ({self.where}); the provider itself may still run"))
        self._events.append(Stopped())

    def send(self, command: Command) -> None:
        try:
            with self._lock:
                self.session.send_command(command)
                self._sock.sendall(self.session.data_to_send())
        except OSError as exc:
            self._events.append(EngineError(f"cannot reach the provider on {self.where}: {exc.strerror or exc}"))

    def drain(self, limit: int = 1000) -> list[EngineEvent]:
        out: list[EngineEvent] = []
        with contextlib.suppress(IndexError):
            while len(out) < limit:
                out.append(self._events.popleft())
        return out

    def snapshot(self) -> EngineSnapshot | None:
        return self.session.snapshot

    def onboarding(self) -> SetupPayload:
        return self._onboarding

    def describe(self) -> str:
        return f"attached, pid {self.engine.get('pid')}"

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

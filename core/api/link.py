"""What a front end holds: an :class:`EngineLink`, either to the engine in this process
(:class:`LocalLink`) or to one in another process through its control socket (:class:`SocketLink`).
Both hand over the same values (numbered events, the published snapshot, the setup codes), so the
dashboard has one code path whichever it is given. Never blocks the caller: a socket is read by a
thread of its own."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections import deque
from pathlib import Path
from typing import Any, Protocol

from ..events import EngineError, EngineEvent, EngineSnapshot, Stopped
from ..setup_payload import SetupPayload
from .commands import Command
from .control import MAX_LINE, read_token, socket_address_of
from .wire import PROTOCOL_VERSION, WireError, command_to_json, event_from_json

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
    """A provider in another process: its control socket, read by a thread of ours."""

    attached = True

    def __init__(self, where: str, *, token: str | None = None, token_file: Path | None = None,
                 export_dir: Path | None = None, timeout: float = 10.0) -> None:  # fmt: skip
        family, address = socket_address_of(where)
        self.where = where
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(address)
        except OSError as exc:
            self._sock.close()
            raise ConnectionError(f"no provider answers on {where}: {exc.strerror or exc} (is it running with "
                                  "--control?)") from None  # fmt: skip
        self._reader = self._sock.makefile("rb")
        self._lock = threading.Lock()
        self._events: deque[EngineEvent] = deque(maxlen=EVENTS_BUFFERED)
        self._snapshot: EngineSnapshot | None = None
        if token is None and token_file is not None:
            token = read_token(token_file)
        self._expect("hello")
        self._write({"type": "hello", "protocol": PROTOCOL_VERSION, **({"token": token} if token else {})})
        self.engine: dict[str, Any] = self._expect("welcome").get("engine", {})  # told once the token is proved
        # Whatever the provider still holds, from its start if it can: the requestors seen so far.
        self._write({"type": "subscribe", "after": 0, "snapshots": True})
        self._expect("subscribed")
        self._write({"type": "snapshot"})
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

    def _write(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode() + b"\n"
        with self._lock:
            self._sock.sendall(data)

    def _expect(self, kind: str) -> dict[str, Any]:
        while True:
            line = self._reader.readline(MAX_LINE * 64)
            if not line:
                raise ConnectionError(f"the provider on {self.where} closed the connection")
            message = json.loads(line)
            if message.get("type") == kind:
                return message
            if message.get("type") == "error":
                raise ConnectionError(message["message"])

    def _read_all(self) -> None:
        reason = "the provider closed the connection"
        try:
            while line := self._reader.readline(MAX_LINE * 64):
                message = json.loads(line)
                kind = message.get("type")
                if kind in ("event", "snapshot"):
                    with contextlib.suppress(WireError):  # a newer provider's event: left out
                        event = event_from_json(message)
                        if isinstance(event, EngineSnapshot):
                            self._snapshot = event
                        if kind == "event":
                            self._events.append(event)
                elif kind == "error":
                    self._events.append(EngineError(f"control socket: {message.get('message')}"))
        except (OSError, ValueError) as exc:
            reason = f"the connection to the provider failed: {exc}"
        self._events.append(EngineError(f"{reason} ({self.where}); the provider itself may still run"))
        self._events.append(Stopped())

    def send(self, command: Command) -> None:
        try:
            self._write(command_to_json(command))
        except OSError as exc:
            self._events.append(EngineError(f"cannot reach the provider on {self.where}: {exc.strerror or exc}"))

    def drain(self, limit: int = 1000) -> list[EngineEvent]:
        out: list[EngineEvent] = []
        with contextlib.suppress(IndexError):
            while len(out) < limit:
                out.append(self._events.popleft())
        return out

    def snapshot(self) -> EngineSnapshot | None:
        return self._snapshot

    def onboarding(self) -> SetupPayload:
        return self._onboarding

    def describe(self) -> str:
        return f"attached, pid {self.engine.get('pid')}"

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

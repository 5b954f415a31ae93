"""A client of a running provider's control socket, for scripts and a requestor team's test suite:

    from ota_provider.core.api.client import Provider

    with Provider.attach("/run/ota-provider.sock") as provider:
        provider.arm("queryImageStatus", "busy")                 # the next QueryImage only
        provider.wait_for("QueryImageResponse", node=0xD001, timeout=60)
        done = provider.wait_for("TransferFinished", timeout=300)

Every call that changes the provider returns its :class:`Result` (what the engine did) or raises
:class:`Refused` with the engine's reason. Events arrive as the engine's own event values.
:class:`AsyncProvider` is the same for asyncio.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import select
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..codec.status_report import BdxStatus
from ..events import EngineEvent, EngineSnapshot
from ..ota.history import HistoryRow
from ..ota.knob_names import knob_by_name, parse_knob
from .commands import (
    AbortTransfer,
    ArmKnob,
    ClearKnobs,
    Command,
    CommissionDevice,
    DisarmKnob,
    OpenCommissioningWindow,
    PauseTransfer,
    QueryHistory,
    ReloadImages,
    ResumeTransfer,
    StartTrace,
    StopTrace,
    ThrottleTransfer,
)
from .control import MAX_LINE, parse_control_target, read_token, socket_address_of
from .wire import PROTOCOL_VERSION, WireError, command_to_json, event_from_json, from_data

EVENTS_KEPT = 10_000

__all__ = ["AsyncProvider", "ControlClientError", "EventMatch", "Provider", "Refused", "Result"]


class ControlClientError(RuntimeError):
    """Cannot talk to the provider: not running, not ours, another protocol version, cut off."""


class Refused(ControlClientError):
    """The engine refused a command; the message says why."""


@dataclass(frozen=True)
class Result:
    id: str
    ok: bool
    message: str
    rows: tuple[HistoryRow, ...] = ()


@dataclass(frozen=True)
class EventMatch:
    """What :meth:`Provider.wait_for` waits for: an event name, optionally one node's."""

    name: str
    node: int | None = None
    where: Callable[[EngineEvent], bool] | None = field(default=None, compare=False)

    def __call__(self, event: EngineEvent) -> bool:
        if event.name != self.name:
            return False
        if self.node is not None and _node_of(event) != self.node:
            return False
        return self.where is None or self.where(event)


def _node_of(event: EngineEvent) -> int | None:
    peer = getattr(event, "peer", None) or getattr(getattr(event, "snapshot", None), "peer", None)
    if peer:
        return peer[1]
    return getattr(event, "node_id", None)


def _target(node: int | None, fabric: int) -> tuple[int, int] | None:
    return None if node is None else (fabric, node)


def _result(message: dict[str, Any]) -> Result:
    rows = tuple(from_data(HistoryRow, r) for r in message.get("rows", ()))
    return Result(str(message.get("id")), bool(message.get("ok")), str(message.get("message", "")), rows)


class _Commands:
    """The verbs, shared by the sync and asyncio clients: each builds one command."""

    @staticmethod
    def arm_command(knob: str, value: Any, *, sticky: bool = False, node: int | None = None, fabric: int = 1,
                    unseen: bool = False) -> ArmKnob:  # fmt: skip
        """``unseen``: arm for a node that has never queried this provider (refused otherwise: a
        mistyped node id would wait silently for a node that never comes)."""
        parsed, typed = parse_knob(knob, value)
        return ArmKnob(parsed, typed, sticky=sticky, target=_target(node, fabric), unseen=unseen)

    @staticmethod
    def disarm_command(knob: str, *, node: int | None = None, fabric: int = 1) -> DisarmKnob:
        return DisarmKnob(knob_by_name(knob).knob, target=_target(node, fabric))


class Provider(_Commands):
    """A blocking client over one connection."""

    def __init__(self, sock: socket.socket, hello: dict[str, Any], *, timeout: float) -> None:
        self._sock = sock
        self._buffer = bytearray()  # read but not yet split into lines (a socket file breaks on a timeout)
        self.hello = hello
        self.engine: dict[str, Any] = hello.get("engine", {})
        self.timeout = timeout
        self._events: deque[EngineEvent] = deque(maxlen=EVENTS_KEPT)
        self._results: dict[str, dict[str, Any]] = {}
        self._errors: deque[dict[str, Any]] = deque()
        self.subscribed = False
        self.last_seq = 0

    @classmethod
    def attach(cls, where: str | Path, *, token: str | None = None, token_file: str | Path | None = None,
               timeout: float = 10.0, subscribe: bool = True) -> Provider:  # fmt: skip
        """Connect to ``where`` (a socket path or tcp:HOST:PORT) and say hello. With ``subscribe``
        every event from now on is kept (the last EVENTS_KEPT), so :meth:`wait_for` also finds one
        that happened before it was called; it consumes the events up to the one it returns."""
        family, address = socket_address_of(where)
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except PermissionError:
            sock.close()
            raise ControlClientError(f"{where} belongs to another user (the control socket is owner-only): run this "
                                     "as the user the provider runs as") from None  # fmt: skip
        except OSError as exc:
            sock.close()
            raise ControlClientError(f"no provider answers on {where}: {exc.strerror or exc} (is it running with "
                                     "--control?)") from None  # fmt: skip
        if token is None and token_file is not None:
            token = read_token(Path(token_file))
        client = cls(sock, {}, timeout=timeout)
        try:
            client.hello = client._read_message("hello")
            client._write({"type": "hello", "protocol": PROTOCOL_VERSION, **({"token": token} if token else {})})
            client.engine = client._read_message("welcome").get("engine", {})  # told only once the token is proved
            if subscribe:
                client.subscribe()
        except BaseException:
            client.close()
            raise
        return client

    def __enter__(self) -> Provider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()

    # ------------------------------------------------------------------ the wire

    def _write(self, message: dict[str, Any]) -> None:
        try:
            self._sock.sendall(json.dumps(message).encode() + b"\n")
        except OSError as exc:
            raise ControlClientError(f"the provider closed the connection: {exc.strerror or exc}") from None

    def _line(self, timeout: float) -> bytes | None:
        """The next line from the provider, or None after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (end := self._buffer.find(b"\n")) < 0:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._sock], [], [], left)[0]:
                return None
            try:
                data = self._sock.recv(1 << 16)
            except OSError as exc:
                raise ControlClientError(f"the provider closed the connection: {exc.strerror or exc}") from None
            if not data:
                raise ControlClientError("the provider closed the connection" + self._last_error())
            self._buffer += data
        line = bytes(self._buffer[: end + 1])
        del self._buffer[: end + 1]
        return line

    def _read_one(self, timeout: float) -> dict[str, Any] | None:
        line = self._line(max(0.0, timeout))
        if line is None:
            return None
        message = json.loads(line)
        kind = message.get("type")
        if kind == "event":
            with contextlib.suppress(WireError):  # an event of a newer provider: skipped, not fatal
                event = event_from_json(message)
                self.last_seq = event.seq
                self._events.append(event)
        elif kind == "result":
            self._results[str(message.get("id"))] = message
        elif kind == "error":
            self._errors.append(message)
        return message

    def _last_error(self) -> str:
        return f": {self._errors[-1]['message']}" if self._errors else ""

    def _read_message(self, kind: str, timeout: float | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while (left := deadline - time.monotonic()) > 0:
            message = self._read_one(left)
            if message is None:
                break
            if message.get("type") == kind:
                return message
            if message.get("type") == "error" and kind in ("hello", "welcome", "subscribed"):
                raise ControlClientError(message["message"])
        raise ControlClientError(f"no {kind} from the provider within {self.timeout:g} s" + self._last_error())

    # ------------------------------------------------------------------ commands

    def send(self, command: Command, *, timeout: float | None = None, check: bool = True) -> Result:
        """Send ``command`` and wait for its result; Refused with the reason if ``check``."""
        self._write(command_to_json(command))
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while command.id not in self._results:
            errors = [e for e in self._errors if e.get("id") == command.id]
            if errors:
                raise Refused(errors[-1]["message"])
            left = deadline - time.monotonic()
            if left <= 0:
                raise ControlClientError(f"no answer to {type(command).__name__} within {self.timeout:g} s")
            self._read_one(left)
        result = _result(self._results.pop(command.id))
        if check and not result.ok:
            raise Refused(result.message)
        return result

    def arm(self, knob: str, value: Any, *, sticky: bool = False, node: int | None = None, fabric: int = 1,
            unseen: bool = False) -> Result:  # fmt: skip
        """Arm one knob by its name (``queryImageStatus``, ``dropBlock`` ...) for the next response
        (``sticky``: every response until disarmed), for every requestor or ``node`` only (one that
        has queried this provider, unless ``unseen``)."""
        return self.send(self.arm_command(knob, value, sticky=sticky, node=node, fabric=fabric, unseen=unseen))

    def disarm(self, knob: str, *, node: int | None = None, fabric: int = 1) -> Result:
        return self.send(self.disarm_command(knob, node=node, fabric=fabric))

    def clear(self) -> Result:
        return self.send(ClearKnobs())

    def pause(self, transfer: int) -> Result:
        return self.send(PauseTransfer(transfer))

    def resume(self, transfer: int) -> Result:
        return self.send(ResumeTransfer(transfer))

    def throttle(self, transfer: int, seconds_per_block: float | None) -> Result:
        return self.send(ThrottleTransfer(transfer, seconds_per_block))

    def abort(self, transfer: int, status: BdxStatus = BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR) -> Result:
        return self.send(AbortTransfer(transfer, status))

    def open_window(self, seconds: int = 900) -> Result:
        return self.send(OpenCommissioningWindow(seconds))

    def reload(self) -> Result:
        return self.send(ReloadImages())

    def commission(self, target: str) -> Result:
        return self.send(CommissionDevice(target))

    def history(self, limit: int = 500, node: int | None = None) -> tuple[HistoryRow, ...]:
        return self.send(QueryHistory(limit, node)).rows

    def trace_start(self, path: str | Path) -> Result:
        """Every message in and out, from now on, to ``path`` on the provider's machine."""
        return self.send(StartTrace(str(path)))

    def trace_stop(self) -> Result:
        return self.send(StopTrace())

    def snapshot(self) -> EngineSnapshot:
        self._write({"type": "snapshot"})
        message = self._read_message("snapshot")
        event = event_from_json(message)
        assert isinstance(event, EngineSnapshot)
        return event

    # ------------------------------------------------------------------ events

    def subscribe(self, after: int | None = None, *, snapshots: bool = False) -> int:
        """Start receiving events (those after sequence number ``after`` first, if the provider
        still holds them); returns how many of those it no longer had."""
        self._write({"type": "subscribe", **({"after": after} if after is not None else {}), "snapshots": snapshots})
        self.subscribed = True
        return int(self._read_message("subscribed").get("missed", 0))

    def next_event(self, timeout: float | None = None) -> EngineEvent | None:
        """The next event (subscribe first), or None after ``timeout``."""
        if not self.subscribed:
            self.subscribe()
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self._events:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._read_one(left)
        return self._events.popleft()

    def wait_for(self, name: str | Callable[[EngineEvent], bool], *, node: int | None = None,
                 timeout: float = 60.0) -> EngineEvent:  # fmt: skip
        """The first event from now on that is called ``name`` (of ``node``), or that the predicate
        accepts; TimeoutError saying what was seen meanwhile."""
        match = EventMatch(name, node) if isinstance(name, str) else name
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            event = self.next_event(left)
            if event is None:
                break
            if match(event):
                return event
            seen.append(event.name)
        wanted = name if isinstance(name, str) else "a matching event"
        raise TimeoutError(f"no {wanted}{f' of node 0x{node:X}' if node is not None else ''} within {timeout:g} s; "
                           f"last seen: {', '.join(seen[-8:]) or 'nothing'}")  # fmt: skip


class AsyncProvider(_Commands):
    """The asyncio client: the same verbs, awaited."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hello: dict[str, Any],
                 timeout: float) -> None:  # fmt: skip
        self._reader, self._writer = reader, writer
        self.hello = hello
        self.engine: dict[str, Any] = hello.get("engine", {})
        self.timeout = timeout
        self._events: asyncio.Queue[EngineEvent] = asyncio.Queue()
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self.closed_because = ""

    @classmethod
    async def attach(cls, where: str | Path, *, token: str | None = None, token_file: str | Path | None = None,
                     timeout: float = 10.0) -> AsyncProvider:  # fmt: skip
        target = parse_control_target(str(where))
        try:
            if target.path is not None:
                reader, writer = await asyncio.open_unix_connection(target.path, limit=MAX_LINE * 64)
            else:
                reader, writer = await asyncio.open_connection(target.host, target.port, limit=MAX_LINE * 64)
        except OSError as exc:
            raise ControlClientError(f"no provider answers on {where}: {exc.strerror or exc}") from None
        if token is None and token_file is not None:
            token = read_token(Path(token_file))
        client = cls(reader, writer, {}, timeout)
        client._task = asyncio.get_running_loop().create_task(client._read_loop())
        client.hello = await client._reply("hello")
        client._write({"type": "hello", "protocol": PROTOCOL_VERSION, **({"token": token} if token else {})})
        client.engine = (await client._reply("welcome")).get("engine", {})  # told only once the token is proved
        return client

    async def __aenter__(self) -> AsyncProvider:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()

    def _write(self, message: dict[str, Any]) -> None:
        self._writer.write(json.dumps(message).encode() + b"\n")

    async def _read_loop(self) -> None:
        try:
            while line := await self._reader.readline():
                message = json.loads(line)
                kind = message.get("type")
                if kind == "event":
                    with contextlib.suppress(WireError):
                        self._events.put_nowait(event_from_json(message))
                elif kind in ("result", "error") and str(message.get("id")) in self._waiting:
                    future = self._waiting.pop(str(message.get("id")))
                    if not future.done():
                        future.set_result(message)
                else:
                    await self._replies.put(message)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
            self.closed_because = str(exc)
        await self._replies.put({"type": "closed"})

    async def _reply(self, kind: str) -> dict[str, Any]:
        while True:
            try:
                message = await asyncio.wait_for(self._replies.get(), self.timeout)
            except TimeoutError:
                raise ControlClientError(f"no {kind} from the provider within {self.timeout:g} s") from None
            if message.get("type") == kind:
                return message
            if message.get("type") in ("error", "closed"):
                raise ControlClientError(message.get("message", "the provider closed the connection"))

    async def send(self, command: Command, *, check: bool = True) -> Result:
        future = asyncio.get_running_loop().create_future()
        self._waiting[command.id] = future
        self._write(command_to_json(command))
        try:
            message = await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            raise ControlClientError(f"no answer to {type(command).__name__} within {self.timeout:g} s") from None
        if message.get("type") == "error":
            raise Refused(message["message"])
        result = _result(message)
        if check and not result.ok:
            raise Refused(result.message)
        return result

    async def arm(self, knob: str, value: Any, *, sticky: bool = False, node: int | None = None,
                  fabric: int = 1, unseen: bool = False) -> Result:  # fmt: skip
        return await self.send(self.arm_command(knob, value, sticky=sticky, node=node, fabric=fabric, unseen=unseen))

    async def disarm(self, knob: str, *, node: int | None = None, fabric: int = 1) -> Result:
        return await self.send(self.disarm_command(knob, node=node, fabric=fabric))

    async def clear(self) -> Result:
        return await self.send(ClearKnobs())

    async def pause(self, transfer: int) -> Result:
        return await self.send(PauseTransfer(transfer))

    async def resume(self, transfer: int) -> Result:
        return await self.send(ResumeTransfer(transfer))

    async def throttle(self, transfer: int, seconds_per_block: float | None) -> Result:
        return await self.send(ThrottleTransfer(transfer, seconds_per_block))

    async def abort(self, transfer: int, status: BdxStatus = BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR) -> Result:
        return await self.send(AbortTransfer(transfer, status))

    async def open_window(self, seconds: int = 900) -> Result:
        return await self.send(OpenCommissioningWindow(seconds))

    async def reload(self) -> Result:
        return await self.send(ReloadImages())

    async def commission(self, target: str) -> Result:
        return await self.send(CommissionDevice(target))

    async def history(self, limit: int = 500, node: int | None = None) -> tuple[HistoryRow, ...]:
        return (await self.send(QueryHistory(limit, node))).rows

    async def trace_start(self, path: str | Path) -> Result:
        return await self.send(StartTrace(str(path)))

    async def trace_stop(self) -> Result:
        return await self.send(StopTrace())

    async def snapshot(self) -> EngineSnapshot:
        self._write({"type": "snapshot"})
        event = event_from_json(await self._reply("snapshot"))
        assert isinstance(event, EngineSnapshot)
        return event

    async def next_event(self, timeout: float | None = None) -> EngineEvent | None:
        """The next event (subscribe first), or None after ``timeout``."""
        try:
            return await asyncio.wait_for(self._events.get(), self.timeout if timeout is None else timeout)
        except TimeoutError:
            return None

    async def subscribe(self, after: int | None = None, *, snapshots: bool = False) -> int:
        self._write({"type": "subscribe", **({"after": after} if after is not None else {}), "snapshots": snapshots})
        return int((await self._reply("subscribed")).get("missed", 0))

    async def wait_for(self, name: str | Callable[[EngineEvent], bool], *, node: int | None = None,
                       timeout: float = 60.0) -> EngineEvent:  # fmt: skip
        match = EventMatch(name, node) if isinstance(name, str) else name
        async with asyncio.timeout(timeout):
            while True:
                event = await self._events.get()
                if match(event):
                    return event

"""A client of a running provider's control socket, for scripts and a requestor team's test suite:

    from ota_provider.core.api.client import ProviderClient

    with ProviderClient.attach("/run/ota-provider.sock") as provider:
        provider.arm("queryImageStatus", "busy")                 # the next QueryImage only
        provider.wait_for("QueryImageResponse", node=0xD001, timeout=60)
        done = provider.wait_for("TransferFinished", timeout=300)

Every call that changes the provider returns its :class:`Result` (what the engine did) or raises
:class:`Refused` with the engine's reason. Events arrive as the engine's own event values.
:class:`AsyncProviderClient` is the same for asyncio. Both drive one sans-IO
:class:`~.session.ClientSession` and write each verb once (:class:`Verbs`); ``Provider`` and
``AsyncProvider`` are their earlier names.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from ..codec.status_report import BdxStatus
from ..node_ids import Peer
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
    QueryAppPipe,
    QueryHistory,
    ReloadImages,
    ResumeTransfer,
    StartTrace,
    StopTrace,
    ThrottleTransfer,
)
from .control import parse_control_target, read_token, socket_address_of
from .events import EngineEvent, EngineSnapshot
from .session import EVENTS_KEPT, ClientSession, Phase, Result
from .waiting import EventMatch, EventWait

__all__ = [
    "EVENTS_KEPT",
    "AsyncProvider",
    "AsyncProviderClient",
    "ControlClientError",
    "EventMatch",
    "Provider",
    "ProviderClient",
    "Refused",
    "Result",
    "Verbs",
]


class ControlClientError(RuntimeError):
    """Cannot talk to the provider: not running, not ours, another protocol version, cut off."""


class Refused(ControlClientError):
    """The engine refused a command; the message says why."""


def _target(node: int | None, fabric: int) -> Peer | None:
    return None if node is None else Peer(fabric, node)


def _checked(session: ClientSession, command: Command, check: bool) -> Result:
    """The answer to ``command`` (which has come), or Refused."""
    if command.id in session.refused:
        raise Refused(session.refused.pop(command.id))
    result = session.results.pop(command.id)
    if check and not result.ok:
        raise Refused(result.message)
    return result


def _timeout_text(what: str, seconds: float, session: ClientSession) -> str:
    return f"no {what} from the provider within {seconds:g} s" + session.last_error()


R = TypeVar("R", Result, Awaitable[Result])


class Verbs(Generic[R]):
    """Each verb once: it builds its command and hands it to ``send`` (a Result from the blocking
    client, an awaitable one from the asyncio client)."""

    def send(self, command: Command) -> R:
        raise NotImplementedError

    def arm(
        self,
        knob: str,
        value: Any,
        *,
        sticky: bool = False,
        node: int | None = None,
        fabric: int = 1,
        unseen: bool = False,
    ) -> R:
        """Arm one knob by its name (``queryImageStatus``, ``dropBlock`` ...) for the next response
        (``sticky``: every response until disarmed), for every requestor or ``node`` only (one that
        has queried this provider, unless ``unseen``: a mistyped node id would otherwise wait
        silently for a node that never comes)."""
        parsed, typed = parse_knob(knob, value)
        return self.send(ArmKnob(parsed, typed, sticky=sticky, target=_target(node, fabric), unseen=unseen))

    def disarm(self, knob: str, *, node: int | None = None, fabric: int = 1) -> R:
        return self.send(DisarmKnob(knob_by_name(knob).knob, target=_target(node, fabric)))

    def clear(self) -> R:
        return self.send(ClearKnobs())

    def pause(self, transfer: int) -> R:
        return self.send(PauseTransfer(transfer))

    def resume(self, transfer: int) -> R:
        return self.send(ResumeTransfer(transfer))

    def throttle(self, transfer: int, seconds_per_block: float | None) -> R:
        return self.send(ThrottleTransfer(transfer, seconds_per_block))

    def abort(self, transfer: int, status: BdxStatus = BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR) -> R:
        return self.send(AbortTransfer(transfer, status))

    def open_window(self, seconds: int = 900) -> R:
        return self.send(OpenCommissioningWindow(seconds))

    def reload(self) -> R:
        return self.send(ReloadImages())

    def commission(self, target: str, *, ble: str = "", network: str = "") -> R:
        """``ble``: the address of a device the provider hears over BLE, given the kept ``network``."""
        return self.send(CommissionDevice(target, ble=ble, network=network))

    def query_app_pipe(self, name: str) -> R:
        """What the SDK app's pipe would answer to ``name`` (QueryImageSnapshot,
        GetApplyUpdateRequestStatus, GetBDXOffset): the result's ``payload``."""
        return self.send(QueryAppPipe(name))

    def query_history(self, limit: int = 500, node: int | None = None) -> R:
        """The history's rows come in the result (``rows``)."""
        return self.send(QueryHistory(limit, node))

    def trace_start(self, path: str | Path) -> R:
        """Every message in and out, from now on, to ``path`` on the provider's machine."""
        return self.send(StartTrace(str(path)))

    def trace_stop(self) -> R:
        return self.send(StopTrace())


class ProviderClient(Verbs[Result]):
    """A blocking client over one connection."""

    def __init__(self, sock: socket.socket, session: ClientSession, *, timeout: float) -> None:
        self._sock = sock
        self.session = session
        self.timeout = timeout
        self.subscribed = False

    @property
    def hello(self) -> dict[str, Any]:
        greeted = self.session.hello
        return (
            {}
            if greeted is None
            else {
                "protocol": greeted.protocol,
                "needsToken": greeted.needs_token,
                **({"engine": greeted.engine} if greeted.engine else {}),
            }
        )

    @property
    def engine(self) -> dict[str, Any]:
        return self.session.engine

    @property
    def last_seq(self) -> int:
        return self.session.last_seq

    @classmethod
    def attach(
        cls,
        where: str | Path,
        *,
        token: str | None = None,
        token_file: str | Path | None = None,
        timeout: float = 10.0,
        subscribe: bool = True,
    ) -> ProviderClient:
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
            raise ControlClientError(
                f"{where} belongs to another user (the control socket is owner-only): run this "
                "as the user the provider runs as"
            ) from None
        except OSError as exc:
            sock.close()
            raise ControlClientError(
                f"no provider answers on {where}: {exc.strerror or exc} (is it running with --control?)"
            ) from None
        if token is None and token_file is not None:
            token = read_token(Path(token_file))
        client = cls(sock, ClientSession(token), timeout=timeout)
        try:
            client._until(lambda: client.session.phase is Phase.READY, "welcome", handshake=True)
            if subscribe:
                client.subscribe()
        except BaseException:
            client.close()
            raise
        return client

    def __enter__(self) -> ProviderClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()

    # ------------------------------------------------------------------ the wire

    def _flush(self) -> None:
        if data := self.session.data_to_send():
            try:
                self._sock.sendall(data)
            except OSError as exc:
                raise ControlClientError(f"the provider closed the connection: {exc.strerror or exc}") from None

    def _pump(self, timeout: float) -> bool:
        """Read what the provider sent within ``timeout`` into the session; False if nothing came."""
        self._flush()
        if self.session.phase is Phase.CLOSED:
            raise ControlClientError("the provider closed the connection" + self.session.last_error())
        if timeout <= 0 or not select.select([self._sock], [], [], timeout)[0]:
            return False
        try:
            data = self._sock.recv(1 << 16)
        except OSError as exc:
            raise ControlClientError(f"the provider closed the connection: {exc.strerror or exc}") from None
        self.session.receive_data(data)
        self._flush()
        if not data:
            raise ControlClientError("the provider closed the connection" + self.session.last_error())
        return True

    def _until(
        self, done: Callable[[], bool], what: str, timeout: float | None = None, *, handshake: bool = False
    ) -> None:
        seconds = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + seconds
        errors = len(self.session.errors)
        while not done():
            if handshake and len(self.session.errors) > errors:  # refused while saying hello
                raise ControlClientError(self.session.errors[-1])
            if not self._pump(deadline - time.monotonic()) and time.monotonic() >= deadline:
                raise ControlClientError(_timeout_text(what, seconds, self.session))

    # ------------------------------------------------------------------ commands

    def send(self, command: Command, *, timeout: float | None = None, check: bool = True) -> Result:
        """Send ``command`` and wait for its result; Refused with the reason if ``check``."""
        self.session.send_command(command)
        answered = lambda: command.id in self.session.results or command.id in self.session.refused  # noqa: E731
        self._until(answered, f"answer to {type(command).__name__}", timeout)
        return _checked(self.session, command, check)

    def history(self, limit: int = 500, node: int | None = None) -> tuple[HistoryRow, ...]:
        return self.query_history(limit, node).rows

    def snapshot(self) -> EngineSnapshot:
        before = self.session.snapshots
        self.session.request_snapshot()
        self._until(lambda: self.session.snapshots > before, "snapshot", handshake=True)
        assert self.session.snapshot is not None
        return self.session.snapshot

    # ------------------------------------------------------------------ events

    def subscribe(self, after: int | None = None, *, snapshots: bool = False) -> int:
        """Start receiving events (those after sequence number ``after`` first, if the provider
        still holds them); returns how many of those it no longer had."""
        before = self.session.subscriptions
        self.session.subscribe(after, snapshots=snapshots)
        self.subscribed = True
        self._until(lambda: self.session.subscriptions > before, "subscribed", handshake=True)
        return self.session.missed

    def next_event(self, timeout: float | None = None) -> EngineEvent | None:
        """The next event (subscribe first), or None after ``timeout``."""
        if not self.subscribed:
            self.subscribe()
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.session.events:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._pump(left)
        return self.session.events.popleft()

    def wait_for(
        self, name: str | Callable[[EngineEvent], bool], *, node: int | None = None, timeout: float = 60.0
    ) -> EngineEvent:
        """The first event from now on that is called ``name`` (of ``node``), or that the predicate
        accepts; TimeoutError saying what was seen meanwhile."""
        wait = EventWait(name, node, timeout)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            event = self.next_event(left)
            if event is None:
                break
            if wait.offer(event):
                return event
        raise wait.timed_out()


class AsyncProviderClient(Verbs[Awaitable[Result]]):
    """The asyncio client: the same verbs, awaited."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, session: ClientSession, timeout: float
    ) -> None:
        self._reader, self._writer = reader, writer
        self.session = session
        self.timeout = timeout
        self._changed = asyncio.Event()  # set each time the session took something in
        self._task: asyncio.Task | None = None
        self.closed_because = ""

    @property
    def engine(self) -> dict[str, Any]:
        return self.session.engine

    @classmethod
    async def attach(
        cls, where: str | Path, *, token: str | None = None, token_file: str | Path | None = None, timeout: float = 10.0
    ) -> AsyncProviderClient:
        target = parse_control_target(str(where))
        try:
            if target.path is not None:
                reader, writer = await asyncio.open_unix_connection(target.path)
            else:
                reader, writer = await asyncio.open_connection(target.host, target.port)
        except OSError as exc:
            raise ControlClientError(f"no provider answers on {where}: {exc.strerror or exc}") from None
        if token is None and token_file is not None:
            token = read_token(Path(token_file))
        client = cls(reader, writer, ClientSession(token), timeout)
        client._task = asyncio.get_running_loop().create_task(client._read_loop())
        try:
            await client._until(lambda: client.session.phase is Phase.READY, "welcome", handshake=True)
        except BaseException:
            await client.close()
            raise
        return client

    async def __aenter__(self) -> AsyncProviderClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()

    def _flush(self) -> None:
        if data := self.session.data_to_send():
            self._writer.write(data)

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self._reader.read(1 << 16)
                self.session.receive_data(data)
                self._flush()
                self._changed.set()
                if not data:
                    break
        except (ConnectionError, OSError) as exc:
            self.closed_because = str(exc)
            self.session.receive_data(b"")
            self._changed.set()

    async def _until(self, done: Callable[[], bool], what: str, *, handshake: bool = False) -> None:
        errors = len(self.session.errors)
        try:
            async with asyncio.timeout(self.timeout):
                while not done():
                    if handshake and len(self.session.errors) > errors:
                        raise ControlClientError(self.session.errors[-1])
                    if self.session.phase is Phase.CLOSED:
                        raise ControlClientError("the provider closed the connection" + self.session.last_error())
                    self._changed.clear()
                    self._flush()
                    await self._changed.wait()
        except TimeoutError:
            raise ControlClientError(_timeout_text(what, self.timeout, self.session)) from None

    async def send(self, command: Command, *, check: bool = True) -> Result:
        self.session.send_command(command)
        answered = lambda: command.id in self.session.results or command.id in self.session.refused  # noqa: E731
        await self._until(answered, f"answer to {type(command).__name__}")
        return _checked(self.session, command, check)

    async def history(self, limit: int = 500, node: int | None = None) -> tuple[HistoryRow, ...]:
        return (await self.query_history(limit, node)).rows

    async def snapshot(self) -> EngineSnapshot:
        before = self.session.snapshots
        self.session.request_snapshot()
        await self._until(lambda: self.session.snapshots > before, "snapshot", handshake=True)
        assert self.session.snapshot is not None
        return self.session.snapshot

    async def next_event(self, timeout: float | None = None) -> EngineEvent | None:
        """The next event, or None after ``timeout``."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.timeout if timeout is None else timeout):
                while not self.session.events:
                    if self.session.phase is Phase.CLOSED:
                        return None
                    self._changed.clear()
                    await self._changed.wait()
                return self.session.events.popleft()
        return None

    async def subscribe(self, after: int | None = None, *, snapshots: bool = False) -> int:
        before = self.session.subscriptions
        self.session.subscribe(after, snapshots=snapshots)
        await self._until(lambda: self.session.subscriptions > before, "subscribed", handshake=True)
        return self.session.missed

    async def wait_for(
        self, name: str | Callable[[EngineEvent], bool], *, node: int | None = None, timeout: float = 60.0
    ) -> EngineEvent:
        wait = EventWait(name, node, timeout)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    event = await self.next_event(timeout)
                    if event is None and self.session.phase is Phase.CLOSED:
                        raise ControlClientError("the provider closed the connection" + self.session.last_error())
                    if event is not None and wait.offer(event):
                        return event
        except TimeoutError:
            raise wait.timed_out() from None


Provider = ProviderClient  # the earlier names, kept for scripts that use them
AsyncProvider = AsyncProviderClient

"""Runs an :class:`ExchangeManager` on asyncio and a UDP endpoint; awaitable initiator exchanges.

The driver owns the loop's one timer: it is armed for the earliest deadline of the machine it
drives (the manager alone, or a node with all its protocol machines, see ``core/timers.py``).

Besides the UDP socket, a message link to one peer (a BTP session over BLE, while a device is
commissioned) can be attached under that peer's address: what the manager sends there goes over
the link, what the link receives comes in from that address, as datagrams do.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from ..timers import Timed
from ..transport.udp import UdpEndpoint
from .manager import Exchange, ExchangeManager, Message, Session

__all__ = ["AsyncExchange", "ExchangeDriver", "MessageLink"]

log = logging.getLogger(__name__)

# uvloop's (libuv's) timers count whole milliseconds from the start of the loop's turn, so they fire
# up to a millisecond early; the poll would find nothing due and the timer be armed again for the
# rest, turn after turn. A millisecond more is nothing to MRP's hundreds.
TIMER_SLACK = 0.001


class MessageLink(Protocol):
    """A reliable, ordered carrier of whole Matter messages to one peer (``transport/ble.BtpLink``)."""

    def post(self, message: bytes) -> None: ...

    async def receive(self, timeout: float | None = None) -> bytes: ...


class ExchangeDriver:
    """Feeds datagrams and timer ticks into the manager and sends what it queues."""

    def __init__(
        self, manager: ExchangeManager, endpoint: UdpEndpoint | None = None, *, machine: Timed | None = None
    ) -> None:
        self.manager = manager
        self.endpoint = endpoint
        self.machine: Timed = machine or manager
        if manager.clock is None:  # made without one: on the real network it reads the real clock
            manager.clock = time.monotonic
        self.clock = manager.clock
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for = 0.0  # when the armed timer fires
        self._loop = asyncio.get_running_loop()
        self._links: dict[tuple, tuple[MessageLink, asyncio.Task[None]]] = {}

    @classmethod
    async def open(
        cls, manager: ExchangeManager, port: int = 5540, host: str | None = None, *, machine: Timed | None = None
    ) -> ExchangeDriver:
        driver = cls(manager, machine=machine)
        driver.endpoint = await UdpEndpoint.open(driver.datagram_received, port=port, host=host)
        return driver

    def datagram_received(self, data: bytes, address: tuple) -> None:
        try:
            self.manager.receive(data, address, self.clock())
        finally:
            self.flush()

    def flush(self) -> None:
        """Send everything queued and re-arm the timer; call after sending from application code."""
        assert self.endpoint is not None
        links = self._links  # empty but while a device is commissioned over BLE: no lookup per datagram then
        for out in self.manager.take_outgoing():
            attached = links.get(out.address) if links else None
            if attached is not None:
                attached[0].post(out.data)
            else:
                self.endpoint.send(out.data, out.address)
        deadline = self.machine.next_deadline()
        if deadline is None or (self._timer is not None and self._armed_for <= deadline):
            return  # a timer armed earlier fires first, polls what is due by then and re-arms
        if self._timer is not None:
            self._timer.cancel()
        self._armed_for = deadline
        self._timer = self._loop.call_later(max(0.0, deadline - self.clock()) + TIMER_SLACK, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        now = self.clock()
        self.manager.links.note_lag(now - self._armed_for, now)  # how late we are to answer, too
        try:
            self.machine.poll(now)
        finally:  # a failing machine must not leave every other timer unarmed
            self.flush()

    def attach(self, address: tuple, link: MessageLink) -> None:
        """Carry messages to and from ``address`` over ``link`` until :meth:`detach`."""

        async def pump() -> None:
            while True:
                try:
                    message = await link.receive()
                except Exception as exc:  # the link ended: its peer's exchanges time out or fail there
                    log.info("link to %s ended: %s", address, exc)
                    return
                self.datagram_received(message, address)

        self.detach(address)
        self._links[address] = (link, self._loop.create_task(pump()))

    def detach(self, address: tuple) -> None:
        attached = self._links.pop(address, None)
        if attached is not None:
            attached[1].cancel()

    def close(self) -> None:
        for address in list(self._links):
            self.detach(address)
        if self._timer is not None:
            self._timer.cancel()
        if self.endpoint is not None:
            self.endpoint.close()


class AsyncExchange:
    """An initiator-side exchange whose responses are awaited."""

    def __init__(self, driver: ExchangeDriver, session: Session, protocol_id: int) -> None:
        self.driver = driver
        self._queue: asyncio.Queue[Message] = asyncio.Queue()
        self._closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.exchange: Exchange = driver.manager.new_exchange(session, protocol_id, self)

    def on_message(self, exchange: Exchange, message: Message) -> None:
        self._queue.put_nowait(message)

    def on_closed(self, exchange: Exchange, reason: str) -> None:
        if not self._closed.done():
            self._closed.set_result(reason)

    def send(self, opcode: int, payload: bytes = b"", *, reliable: bool = True) -> None:
        self.exchange.send(opcode, payload, reliable=reliable)
        self.driver.flush()

    async def receive(self, timeout: float) -> Message:
        """The next message, or TimeoutError; ConnectionError if the exchange failed meanwhile."""
        getter: asyncio.Future[Message] = asyncio.ensure_future(self._queue.get())
        either: set[asyncio.Future[Any]] = {getter, self._closed}
        done, _ = await asyncio.wait(either, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
        getter.cancel()
        if self._closed.done():
            raise ConnectionError(f"exchange closed: {self._closed.result()}")
        raise TimeoutError(f"no response within {timeout} s")

    async def request(self, opcode: int, payload: bytes = b"", timeout: float = 10.0) -> Message:
        self.send(opcode, payload)
        return await self.receive(timeout)

    def close(self) -> None:
        if not self.exchange.closing:
            self.exchange.close()
            self.driver.flush()

"""Awaitable PASE and CASE as the initiator, over a running :class:`ExchangeDriver`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..exchange.driver import ExchangeDriver
from ..fabric.table import Fabric
from ..session.secure import SecureSession
from ..transport.addresses import socket_address
from .case_initiator import CaseInitiator
from .pase_initiator import PaseInitiator

__all__ = ["establish_case", "establish_pase"]


async def establish_pase(
    driver: ExchangeDriver, address: tuple, passcode: int, *, timeout: float = 30.0
) -> SecureSession:
    """Run PASE as the initiator; raise ConnectionError with the reason on failure."""
    return await _handshake(
        driver,
        lambda done: PaseInitiator(driver.manager, passcode, on_done=done),
        address,
        timeout,
        f"PASE with {address} timed out after {timeout} s",
    )


async def establish_case(
    driver: ExchangeDriver, fabric: Fabric, peer_node_id: int, address: tuple, *, timeout: float = 30.0
) -> SecureSession:
    """Run CASE as the initiator to ``peer_node_id`` on ``fabric``; raise ConnectionError with the
    reason on failure (a timeout says which address did not answer)."""
    return await _handshake(
        driver,
        lambda done: CaseInitiator(driver.manager, fabric, peer_node_id, on_done=done),
        address,
        timeout,
        f"no CASE answer from {socket_address(address)} within {timeout:g} s",
    )


async def _handshake(
    driver: ExchangeDriver, initiator: Callable[[Callable], Any], address: tuple, timeout: float, timed_out: str
) -> SecureSession:
    """Start the initiator ``initiator(on_done)`` builds and wait for its session or its reason. A
    responder that answers Busy is asked again after the time it gave, within ``timeout`` (as the
    SDK's session setup does): a crowd of requestors from one host is served in turn, not refused."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        done: asyncio.Future[tuple[SecureSession | None, str]] = loop.create_future()

        def finished(session: SecureSession | None, error: str, done=done) -> None:
            if not done.done():
                done.set_result((session, error))

        attempt = initiator(finished)
        attempt.start(address)
        driver.flush()
        try:
            session, error = await asyncio.wait_for(done, max(0.0, deadline - loop.time()))
        except TimeoutError:
            raise ConnectionError(timed_out) from None
        if session is not None:
            return session
        wait = getattr(attempt, "busy_wait", None)
        if wait is None or loop.time() + wait >= deadline:
            raise ConnectionError(error)
        await asyncio.sleep(wait)

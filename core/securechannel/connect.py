"""Awaitable PASE and CASE as the initiator, over a running :class:`ExchangeDriver`."""

from __future__ import annotations

import asyncio

from ..exchange.driver import ExchangeDriver
from ..fabric.table import Fabric
from ..session.secure import SecureSession
from ..wording import socket_address
from .case_initiator import CaseInitiator
from .pase_initiator import PaseInitiator

__all__ = ["establish_case", "establish_pase"]


async def establish_pase(
    driver: ExchangeDriver, address: tuple, passcode: int, *, timeout: float = 30.0
) -> SecureSession:
    """Run PASE as the initiator; raise ConnectionError with the reason on failure."""
    done: asyncio.Future[tuple[SecureSession | None, str]] = asyncio.get_running_loop().create_future()

    def finished(session: SecureSession | None, error: str) -> None:
        if not done.done():
            done.set_result((session, error))

    initiator = PaseInitiator(driver.manager, passcode, on_done=finished)
    initiator.start(address)
    driver.flush()
    try:
        session, error = await asyncio.wait_for(done, timeout)
    except TimeoutError:
        raise ConnectionError(f"PASE with {address} timed out after {timeout} s") from None
    if session is None:
        raise ConnectionError(error)
    return session


async def establish_case(
    driver: ExchangeDriver, fabric: Fabric, peer_node_id: int, address: tuple, *, timeout: float = 30.0
) -> SecureSession:
    """Run CASE as the initiator to ``peer_node_id`` on ``fabric``; raise ConnectionError with the
    reason on failure (a timeout says which address did not answer)."""
    done: asyncio.Future[tuple[SecureSession | None, str]] = asyncio.get_running_loop().create_future()

    def finished(session: SecureSession | None, error: str) -> None:
        if not done.done():
            done.set_result((session, error))

    initiator = CaseInitiator(driver.manager, fabric, peer_node_id, on_done=finished)
    initiator.start(address)
    driver.flush()
    try:
        session, error = await asyncio.wait_for(done, timeout)
    except TimeoutError:
        raise ConnectionError(f"no CASE answer from {socket_address(address)} within {timeout:g} s") from None
    if session is None:
        raise ConnectionError(error)
    return session

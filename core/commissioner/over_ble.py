"""The BLE route to a device under test, for the bench: when to take it, finding the device's
advertisement for a setup code, and a BTP link attached to the exchange driver for PASE and the
commissioning stages until the device is on IP.

The SDK's rule for which devices answer a code, applied to the advertisement: the long
discriminator (a QR code) or its upper 4 bits (a manual code), and the code's VID/PID when the
advertisement carries them. Several dev kits may answer one test code: all are returned, the exact
match first, as DNS-SD discovery does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from ..codec.setup_payload import DiscoveryCapability
from ..exchange.driver import ExchangeDriver
from ..setup_target import CommissionTarget
from ..transport.addresses import BleAddress
from ..transport.ble import BleUnavailable, BtpLink, FoundBleDevice, scan_until
from ..transport.btp import BtpError
from .network_setup import Credentials

__all__ = [
    "LINK_ERRORS",
    "BleSettings",
    "LinkLost",
    "close_link",
    "find_over_ble",
    "matches_code",
    "open_link",
    "wants_ble",
    "while_linked",
]

T = TypeVar("T")

SETTLE_SECONDS = 0.5  # after a first match, how long other dev kits sharing the code may still answer


@dataclass(frozen=True)
class BleSettings:
    """How the bench reaches devices over BLE. ``always``: every code, whatever it says (``--ble``);
    otherwise a QR code whose discovery capabilities include BLE, when there is a network to give."""

    adapter: str | None = None
    network: Credentials | None = None  # its secrets never show in a repr
    always: bool = False


def wants_ble(target: CommissionTarget, settings: BleSettings | None) -> bool:
    if settings is None or target.host is not None:
        return False
    if settings.always:
        return True
    says_ble = bool(target.payload.discovery & DiscoveryCapability.BLE) and not target.short_discriminator
    return says_ble and settings.network is not None


def matches_code(found: FoundBleDevice, target: CommissionTarget) -> bool:
    payload, ad = target.payload, found.advertisement
    if target.short_discriminator:
        if ad.discriminator >> 8 != payload.discriminator >> 8:
            return False
    elif ad.discriminator != payload.discriminator:
        return False
    if payload.vendor_id and ad.vendor_id and ad.vendor_id != payload.vendor_id:
        return False
    return not (payload.product_id and ad.product_id and ad.product_id != payload.product_id)


async def find_over_ble(target: CommissionTarget, adapter: str | None, timeout: float) -> list[FoundBleDevice]:
    """The advertising devices that answer the code, the exact discriminator first, then the
    strongest; [] at ``timeout``. BleUnavailable when there is no BLE here."""
    found = await scan_until(lambda device: matches_code(device, target), adapter, timeout, SETTLE_SECONDS)
    exact = target.payload.discriminator
    return sorted(found, key=lambda d: (d.advertisement.discriminator != exact, -(d.rssi or -127)))


async def open_link(
    driver: ExchangeDriver, device: FoundBleDevice, adapter: str | None, timeout: float
) -> tuple[BleAddress, BtpLink]:
    """A BTP link to ``device``, carrying the driver's messages to its BLE address until :func:`close_link`."""
    link = await asyncio.wait_for(BtpLink.open(device.address, adapter, timeout=timeout), timeout + 5)
    address = BleAddress.of(device.address)
    driver.attach(address, link)
    return address, link


async def close_link(driver: ExchangeDriver, address: BleAddress, link: BtpLink) -> None:
    driver.detach(address)
    with contextlib.suppress(Exception):
        await link.close()


class LinkLost(ConnectionError):
    """The BLE link ended while the commissioning still needed it."""


async def while_linked(link: BtpLink, work: Awaitable[T], needed: Callable[[], bool]) -> T:
    """``work``'s result; LinkLost at once if the link ends while ``needed()`` (rather than each
    stage waiting out its timeout for answers that cannot come). A link that ends once it is no
    longer needed (a device that switches its radio to join its network) is let go."""
    task = asyncio.ensure_future(work)
    ended = asyncio.ensure_future(link.ended())
    try:
        while True:
            await asyncio.wait({task, ended}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                return task.result()
            if needed():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                raise LinkLost(f"the BLE link was lost ({ended.result() or 'closed'})")
            return await task
    finally:
        ended.cancel()
        if not task.done():  # we were cancelled (the engine stops): the commissioning stops too
            task.cancel()


# What opening a link can raise besides BleUnavailable: a device that went away, a BTP refusal.
LINK_ERRORS = (BtpError, TimeoutError, ConnectionError, BleUnavailable)

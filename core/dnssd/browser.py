"""Finding commissionable devices: browse ``_matterc._udp`` as the SDK's commissioner does
(MATTER_STACK.md §4.1): the long (``_L<d>``) or short (``_S<d>``) discriminator subtype, then accept
an instance only if its TXT says a window is open (CM != 0), its D matches, and its VP (if any)
agrees with the code's VID/PID.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

from zeroconf import IPVersion, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

__all__ = ["CommissionableBrowser", "CommissionableDevice", "find_commissionable", "matches"]

log = logging.getLogger(__name__)

SERVICE = "_matterc._udp.local."
SETTLE_SECONDS = 1.5  # after the first device matching a code, how long others may still answer


@dataclass(frozen=True)
class CommissionableDevice:
    instance: str
    discriminator: int
    commissioning_mode: int  # 1 basic window, 2 enhanced (opened by an administrator)
    vendor_id: int | None
    product_id: int | None
    name: str
    addresses: tuple[tuple, ...]  # socket addresses, the preferred first
    port: int

    def describe(self) -> str:
        vp = (
            ""
            if self.vendor_id is None
            else f"VID 0x{self.vendor_id:04X}, "
            if self.product_id is None
            else (f"VID 0x{self.vendor_id:04X} PID 0x{self.product_id:04X}, ")
        )  # a TXT VP may carry the vendor alone
        mode = {1: "basic window", 2: "enhanced window"}.get(self.commissioning_mode, f"CM={self.commissioning_mode}")
        return f"{self.name or self.instance}: {vp}discriminator {self.discriminator}, {mode}"


def _txt(properties: dict) -> dict[str, str]:
    return {k.decode(errors="replace"): (v or b"").decode(errors="replace") for k, v in properties.items() if k}


def _vp(text: str) -> tuple[int | None, int | None]:
    vendor, _, product = text.partition("+")
    try:
        return int(vendor), (int(product) if product else None)
    except ValueError:
        return None, None


def _address_order(address: tuple) -> int:
    ip = ipaddress.ip_address(address[0])
    if ip.version == 6 and not ip.is_link_local:
        return 0
    return 1 if ip.version == 6 else 2


def matches(device: CommissionableDevice, *, discriminator: int, short: bool, vendor_id: int = 0,
            product_id: int = 0) -> bool:  # fmt: skip
    """The SDK commissioner's acceptance rule for an instance found for a setup code."""
    if device.commissioning_mode == 0:
        return False
    if (device.discriminator >> 8 if short else device.discriminator) != (
        discriminator >> 8 if short else discriminator
    ):
        return False
    if vendor_id and device.vendor_id is not None and device.vendor_id != vendor_id:
        return False
    return not (product_id and device.product_id is not None and device.product_id != product_id)


def _device(info: AsyncServiceInfo) -> CommissionableDevice | None:
    txt = _txt(info.properties or {})
    try:
        discriminator = int(txt.get("D", ""))
        mode = int(txt.get("CM", "0") or 0)
    except ValueError:
        return None
    vendor, product = _vp(txt["VP"]) if "VP" in txt else (None, None)
    addresses = []
    for text in info.parsed_scoped_addresses(IPVersion.All):
        host, _, zone = text.partition("%")
        ip = ipaddress.ip_address(host)
        if ip.version == 4:
            addresses.append((f"::ffff:{ip}", info.port, 0, 0))
        else:
            scope = int(zone) if zone.isdigit() else (socket.if_nametoindex(zone) if zone else 0)
            addresses.append((str(ip), info.port, 0, scope))
    addresses.sort(key=_address_order)
    return CommissionableDevice(info.name.removesuffix("." + SERVICE), discriminator, mode, vendor, product,
                                txt.get("DN", ""), tuple(addresses), info.port or 5540)  # fmt: skip


async def find_commissionable(*, discriminator: int, short: bool, vendor_id: int = 0, product_id: int = 0,
                              timeout: float = 10.0, zeroconf: AsyncZeroconf | None = None,
                              exclude: Callable[[CommissionableDevice], bool] = lambda _device: False,
                              settle: float = SETTLE_SECONDS) -> list[CommissionableDevice]:  # fmt: skip
    """Every commissionable device matching the code's discriminator (and VID/PID), in the order to
    try them: an exact long discriminator first, then by instance name. The browse ends ``settle``
    seconds after the first match (several devices often answer one short discriminator: dev kits
    ship with the same test code), or at ``timeout`` with none. ``exclude``: devices never to
    accept (our own commissionable instance: with the same default code, a provider would otherwise
    find and commission itself), asked of each device as it is found."""
    own = zeroconf is None
    zc = zeroconf or AsyncZeroconf(ip_version=IPVersion.All)
    subtype = f"_{'S' if short else 'L'}{discriminator >> 8 if short else discriminator}._sub.{SERVICE}"
    found: asyncio.Queue[str] = asyncio.Queue()

    def changed(zeroconf, service_type, name, state_change) -> None:
        if state_change in (ServiceStateChange.Added, ServiceStateChange.Updated):
            found.put_nowait(name)

    browser = AsyncServiceBrowser(zc.zeroconf, [subtype], handlers=[changed])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    devices: dict[str, CommissionableDevice] = {}
    try:
        while (left := deadline - loop.time()) > 0:
            try:
                name = await asyncio.wait_for(found.get(), left)
            except TimeoutError:
                break
            info = AsyncServiceInfo(SERVICE, name)
            if not await info.async_request(zc.zeroconf, 3000):
                continue
            device = _device(info)
            if device and device.addresses and not exclude(device) and matches(
                    device, discriminator=discriminator, short=short, vendor_id=vendor_id,
                    product_id=product_id):  # fmt: skip
                if not devices:
                    deadline = min(deadline, loop.time() + settle)
                devices[device.instance.lower()] = device
        return sorted(devices.values(), key=lambda d: (d.discriminator != discriminator, d.instance))
    finally:
        await browser.async_cancel()
        if own:
            await zc.async_close()


class CommissionableBrowser:
    """A live list of every commissionable device on the network (``_matterc._udp``, no subtype),
    for a user to pick from. ``on_change`` gets the whole list, as values, each time it changes:
    a device appears once resolved, goes when it says goodbye (its window closed) or its TTL ends.
    ``exclude``: says which devices are our own, never listed."""

    def __init__(
        self,
        on_change: Callable[[tuple[CommissionableDevice, ...]], None],
        *,
        zeroconf: AsyncZeroconf | None = None,
        exclude: Callable[[CommissionableDevice], bool] = lambda _device: False,
    ) -> None:
        self.on_change = on_change
        self._zc = zeroconf
        self._owns_zc = zeroconf is None
        self._exclude = exclude
        self._browser: AsyncServiceBrowser | None = None
        self._devices: dict[str, CommissionableDevice] = {}
        self._resolving: set[asyncio.Task] = set()

    @property
    def devices(self) -> tuple[CommissionableDevice, ...]:
        return tuple(sorted(self._devices.values(), key=lambda d: (d.name or d.instance).lower()))

    @property
    def running(self) -> bool:
        return self._browser is not None

    async def start(self) -> None:
        if self._browser is not None:
            return
        if self._zc is None:
            self._zc = AsyncZeroconf(ip_version=IPVersion.All)
        self._browser = AsyncServiceBrowser(self._zc.zeroconf, [SERVICE], handlers=[self._changed])
        self.on_change(self.devices)

    async def stop(self) -> None:
        if self._browser is not None:
            await self._browser.async_cancel()
            self._browser = None
        for task in list(self._resolving):
            task.cancel()
        self._devices.clear()
        if self._owns_zc and self._zc is not None:
            await self._zc.async_close()
            self._zc = None

    def _changed(self, zeroconf, service_type, name, state_change) -> None:
        if state_change == ServiceStateChange.Removed:
            if self._devices.pop(name, None) is not None:
                self.on_change(self.devices)
            return
        task = asyncio.get_running_loop().create_task(self._resolve(name))
        self._resolving.add(task)
        task.add_done_callback(self._resolving.discard)

    async def _resolve(self, name: str) -> None:
        info = AsyncServiceInfo(SERVICE, name)
        try:
            resolved = self._zc is not None and await info.async_request(self._zc.zeroconf, 3000)
        except Exception as exc:  # a malformed record from the network is dropped, never a crash
            log.debug("could not resolve %s: %s", name, exc)
            return
        device = _device(info) if resolved else None
        if device is None or not device.addresses or self._browser is None or self._exclude(device):
            return
        if device.commissioning_mode == 0:  # extended discovery: advertised, but no window is open
            if self._devices.pop(name, None) is not None:
                self.on_change(self.devices)
            return
        if self._devices.get(name) != device:
            self._devices[name] = device
            self.on_change(self.devices)

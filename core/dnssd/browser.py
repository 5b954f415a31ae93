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

from zeroconf import DNSOutgoing, DNSQuestion, IPVersion, RecordUpdateListener, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf
from zeroconf.const import _CLASS_IN, _FLAGS_QR_QUERY, _TYPE_SRV

from .devices import CommissionableDevice

__all__ = ["CommissionableBrowser", "CommissionableDevice", "find_commissionable", "matches"]

log = logging.getLogger(__name__)

SERVICE = "_matterc._udp.local."
SETTLE_SECONDS = 1.5  # after the first device matching a code, how long others may still answer
# A listed device must keep answering: one killed without a goodbye would otherwise stay listed
# until its PTR record's TTL ends (75 minutes from zeroconf and the SDK), long after it is gone.
CHECK_SECONDS = 4.0  # how often the listed devices are looked at
PROBE_AFTER = 8.0  # seconds without a word from a device: it is asked for its SRV record
GONE_AFTER = 20.0  # seconds without a word, asked twice or more: no longer listed


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


def matches(
    device: CommissionableDevice, *, discriminator: int, short: bool, vendor_id: int = 0, product_id: int = 0
) -> bool:
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
    return CommissionableDevice(
        info.name.removesuffix("." + SERVICE),
        discriminator,
        mode,
        vendor,
        product,
        txt.get("DN", ""),
        tuple(addresses),
        info.port or 5540,
    )


async def find_commissionable(
    *,
    discriminator: int,
    short: bool,
    vendor_id: int = 0,
    product_id: int = 0,
    timeout: float = 10.0,
    zeroconf: AsyncZeroconf | None = None,
    exclude: Callable[[CommissionableDevice], bool] = lambda _device: False,
    settle: float = SETTLE_SECONDS,
) -> list[CommissionableDevice]:
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
            if (
                device
                and device.addresses
                and not exclude(device)
                and matches(
                    device, discriminator=discriminator, short=short, vendor_id=vendor_id, product_id=product_id
                )
            ):
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
        self._heard: dict[str, float] = {}  # listed name (lower case) -> when it last said anything
        self._listener = _HeardFrom(self._heard_from)
        self._checker: asyncio.Task | None = None

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
        self._zc.zeroconf.async_add_listener(self._listener, None)
        self._checker = asyncio.get_running_loop().create_task(self._keep_checking())
        self.on_change(self.devices)

    async def stop(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
            self._checker = None
        if self._browser is not None:
            await self._browser.async_cancel()
            self._browser = None
            if self._zc is not None:
                self._zc.zeroconf.async_remove_listener(self._listener)
        for task in list(self._resolving):
            task.cancel()
        self._devices.clear()
        if self._owns_zc and self._zc is not None:
            await self._zc.async_close()
            self._zc = None

    def _changed(self, zeroconf, service_type, name, state_change) -> None:
        if state_change == ServiceStateChange.Removed:
            self._heard.pop(name.lower(), None)
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
            self._heard.pop(name.lower(), None)
            if self._devices.pop(name, None) is not None:
                self.on_change(self.devices)
            return
        self._heard.setdefault(name.lower(), asyncio.get_running_loop().time())
        if self._devices.get(name) != device:
            self._devices[name] = device
            self.on_change(self.devices)

    def _heard_from(self, name: str) -> None:
        key = name.lower()
        if key in self._heard:
            self._heard[key] = asyncio.get_running_loop().time()

    async def _keep_checking(self) -> None:
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            self.check(asyncio.get_running_loop().time())

    def check(self, now: float) -> list[str]:
        """Ask the devices that have been quiet for their SRV record, and stop listing those that
        stayed quiet (killed, unplugged, off the network). Returns the names asked."""
        gone = [name for name in self._devices if now - self._heard.get(name.lower(), now) >= GONE_AFTER]
        for name in gone:
            del self._devices[name]
            self._heard.pop(name.lower(), None)
        if gone:
            self.on_change(self.devices)
        quiet = [name for name in self._devices if now - self._heard.get(name.lower(), now) >= PROBE_AFTER]
        if quiet and self._zc is not None:
            # Questions only, no known answers: a responder that sees its own record among the
            # known answers stays silent (RFC 6762 7.1), and silence is what is being tested.
            out = DNSOutgoing(_FLAGS_QR_QUERY)
            for name in quiet:
                out.add_question(DNSQuestion(name, _TYPE_SRV, _CLASS_IN))
            self._zc.zeroconf.async_send(out)
        return quiet


class _HeardFrom(RecordUpdateListener):
    """Every record received, whatever the cache already held: the name it is for was heard."""

    def __init__(self, heard: Callable[[str], None]) -> None:
        self._heard = heard

    def async_update_records(self, zc, now, records) -> None:
        for update in records:
            self._heard(update.new.name)

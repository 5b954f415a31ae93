"""The commissioner's BLE central, over bleak (BlueZ through D-Bus on Linux): find commissionable
Matter devices by their advertisement, connect, and carry Matter messages over BTP.

This is the IO edge for ``btp.py`` (the protocol) and ``ble_advertisement.py`` (the service data):
one task per link runs the BTP session, writing C1 in order and feeding it C2 indications and the
time. Nothing here knows about PASE or the exchange layer: a link sends and receives whole
messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bleak import BleakClient, BleakScanner

from .ble_advertisement import BleAdvertisement, BleAdvertisementError, decode_service_data
from .btp import C1_UUID, C2_UUID, MIN_SEGMENT, SERVICE_UUID, BtpCentral, BtpError

log = logging.getLogger(__name__)

__all__ = ["BleUnavailable", "BtpLink", "FoundBleDevice", "scan", "scan_until"]

DEFAULT_ATT_MTU = MIN_SEGMENT + 3  # what a link has before an MTU exchange
_SEEN: dict[tuple[str | None, str], Any] = {}  # (adapter, address) -> the scan's bleak handle


class BleUnavailable(RuntimeError):
    """No BLE here: no BlueZ, no adapter, no permission. Says which, and how to fix it."""


@dataclass(frozen=True)
class FoundBleDevice:
    address: str
    name: str | None
    rssi: int | None
    advertisement: BleAdvertisement


def _explain(exc: BaseException, adapter: str | None) -> BleUnavailable:
    text = str(exc) or type(exc).__name__
    where = adapter or "the first adapter"
    if "org.freedesktop.DBus.Error.ServiceUnknown" in text or ("org.bluez" in text and "not" in text.lower()):
        return BleUnavailable("BlueZ is not running (no org.bluez on the system bus): start bluetoothd")
    if "AccessDenied" in text or "PermissionError" in type(exc).__name__:
        return BleUnavailable("no permission to use BlueZ: run as a user in the 'bluetooth' group, or as root")
    if "No Bluetooth adapters" in text or ("adapter" in text.lower() and "not found" in text.lower()):
        return BleUnavailable(f"no Bluetooth adapter {where}: give one that `bluetoothctl list` shows (--ble-adapter)")
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        return BleUnavailable("no D-Bus system bus to reach BlueZ: start dbus and bluetoothd")
    return BleUnavailable(f"BLE is not usable with {where}: {text}")


async def scan(adapter: str | None = None, seconds: float = 5.0) -> list[FoundBleDevice]:
    """The commissionable Matter devices heard within ``seconds`` (those with the Matter service's
    service data; anything else is left out)."""
    try:
        found = await BleakScanner.discover(
            timeout=seconds, return_adv=True, service_uuids=[SERVICE_UUID], **_bluez(adapter)
        )
    except Exception as exc:  # bleak raises many kinds for "no BLE here"; each becomes one line
        raise _explain(exc, adapter) from None
    devices = []
    for device, advertised in found.values():
        candidate = _commissionable(device, advertised)
        if candidate is not None:
            devices.append(candidate)
            _SEEN[adapter, device.address] = device
    return devices


def _commissionable(device: Any, advertised: Any) -> FoundBleDevice | None:
    """A device whose advertisement carries a commissionable Matter device's service data."""
    data = advertised.service_data.get(SERVICE_UUID)
    if data is None:
        return None
    try:
        advertisement = decode_service_data(bytes(data))
    except BleAdvertisementError:
        return None
    return FoundBleDevice(device.address, advertised.local_name or device.name, advertised.rssi, advertisement)


async def scan_until(
    wanted: Callable[[FoundBleDevice], bool], adapter: str | None, timeout: float, settle: float
) -> list[FoundBleDevice]:
    """The wanted devices heard: the scan ends ``settle`` seconds after the first (others sharing a
    code may still answer), or at ``timeout`` with none. A commissioner waits for no more than that:
    the SDK's connects to the first device that matches."""
    found: dict[str, FoundBleDevice] = {}
    first = asyncio.Event()

    def heard(device: Any, advertised: Any) -> None:
        candidate = _commissionable(device, advertised)
        if candidate is not None and wanted(candidate):
            _SEEN[adapter, device.address] = device
            found[device.address] = candidate
            first.set()

    try:
        scanner = BleakScanner(detection_callback=heard, service_uuids=[SERVICE_UUID], **_bluez(adapter))
        await scanner.start()
    except Exception as exc:  # bleak raises many kinds for "no BLE here"; each becomes one line
        raise _explain(exc, adapter) from None
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(first.wait(), timeout)
            await asyncio.sleep(settle)
    finally:
        with contextlib.suppress(Exception):
            await scanner.stop()
    return list(found.values())


def _bluez(adapter: str | None) -> dict[str, Any]:
    return {"bluez": {"adapter": adapter}} if adapter else {}


class BtpLink:
    """A BTP session over one BLE connection: whole Matter messages in and out."""

    def __init__(self, client: Any, central: BtpCentral) -> None:
        self.client, self.central = client, central
        self._indications: asyncio.Queue[bytes] = asyncio.Queue()
        self._messages: asyncio.Queue[bytes] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None

    @classmethod
    async def open(cls, address: str, adapter: str | None = None, *, timeout: float = 30.0) -> BtpLink:
        """Connect, subscribe to C2, and run the BTP handshake."""
        # Connect through the handle the scan found: BlueZ does not report a device it already
        # knows to a second scan unless its advertisement changes (BlueZoo never does).
        device = _SEEN.get((adapter, address))
        if device is None:
            try:
                device = await BleakScanner.find_device_by_address(address, timeout=timeout, **_bluez(adapter))
            except Exception as exc:
                raise _explain(exc, adapter) from None
        if device is None:
            raise BtpError(f"BLE device {address} is not advertising")
        client = BleakClient(device, timeout=timeout, **_bluez(adapter))
        try:
            await client.connect()
        except Exception as exc:
            raise _explain(exc, adapter) from None
        try:
            link = cls(client, BtpCentral(await _att_mtu(client)))
            await link._handshake(timeout)
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await client.disconnect()
            if isinstance(exc, Exception) and not isinstance(exc, BtpError):  # bleak's GATT errors
                raise BtpError(f"BLE device {address}: {exc or type(exc).__name__}") from None
            raise
        link._task = asyncio.get_running_loop().create_task(link._run())
        return link

    def _indicate(self, data: bytes) -> None:
        self._indications.put_nowait(data)
        self._wake.set()

    async def _handshake(self, timeout: float) -> None:
        # The order the SDK's and matter.js's peripherals expect: the request written to C1, then
        # the subscription to C2, which is what makes the device send its response (matter.js's
        # server refuses a subscription that comes before the request).
        await self.client.write_gatt_char(C1_UUID, self.central.start(time.monotonic()), response=True)
        await self.client.start_notify(C2_UUID, lambda _c, data: self._indicate(bytes(data)))
        try:
            response = await asyncio.wait_for(self._indications.get(), timeout)
        except TimeoutError:
            raise BtpError(f"no BTP handshake response within {timeout:g} s") from None
        self.central.receive(response, time.monotonic())

    async def _run(self) -> None:
        try:
            while True:
                # Cleared before the work, so a send or an indication during a write wakes the wait.
                self._wake.clear()
                now = time.monotonic()
                while not self._indications.empty():
                    for message in self.central.receive(self._indications.get_nowait(), now):
                        self._messages.put_nowait(message)
                deadline = self.central.next_deadline()
                due = deadline is not None and now >= deadline
                for packet in self.central.poll(now) if due else self.central.take_writes(now):
                    await self.client.write_gatt_char(C1_UUID, packet, response=True)
                deadline = self.central.next_deadline()
                wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                if self._indications.empty():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), wait)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a BTP error, or the link went away: the session is over
            self.error = exc
            log.info("BTP session ended: %s", exc)
            self._messages.put_nowait(b"")  # wakes a receiver, which raises

    def post(self, message: bytes) -> None:
        """Queue ``message``; the link's task writes it. Silently dropped once the session ended:
        whoever waits for an answer learns it from :meth:`receive` or a timeout."""
        if self.error is None:
            self.central.send(message)
            self._wake.set()

    async def send(self, message: bytes) -> None:
        if self.error is not None:
            raise BtpError(f"the BTP session ended: {self.error}")
        self.post(message)

    async def ended(self) -> BaseException | None:
        """Wait until the session ends (the device went away, or a BTP error); why, or None when closed by us."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)
        return self.error

    async def receive(self, timeout: float | None = None) -> bytes:
        message = await asyncio.wait_for(self._messages.get(), timeout)
        if not message and self.error is not None:
            raise BtpError(f"the BTP session ended: {self.error}")
        return message

    async def close(self) -> None:
        self.central.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(Exception):
            await self.client.disconnect()


async def _att_mtu(client: Any) -> int:
    """The ATT MTU of the link. BlueZ 5.62 and later (and BlueZoo) give it as the characteristic's
    MTU property, which bleak turns into ``max_write_without_response_size`` (MTU - 3); an older
    BlueZ tells it only once a characteristic is acquired, which bleak does on request
    (``_acquire_mtu``, its documented way there). Without either, the minimum, as before an MTU
    exchange."""
    with contextlib.suppress(Exception):
        characteristic = client.services.get_characteristic(C1_UUID)
        mtu = characteristic.max_write_without_response_size + 3
        if isinstance(mtu, int) and mtu > DEFAULT_ATT_MTU:
            return mtu
    backend: Any = getattr(client, "_backend", None)
    with contextlib.suppress(Exception):
        await backend._acquire_mtu()
    mtu = getattr(backend, "_mtu_size", None)
    return mtu if isinstance(mtu, int) and mtu > DEFAULT_ATT_MTU else DEFAULT_ATT_MTU

"""``ota-provider ble-scan``: the commissionable Matter devices heard over Bluetooth LE, as a
technician checks a factory-fresh device before commissioning it (which adapter, which
discriminator, how strong)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence

from ..transport.ble import BleUnavailable, FoundBleDevice, scan
from .common import EXIT_USAGE, PROG, Parser, aligned

__all__ = ["ble_scan_main"]


def _row(device: FoundBleDevice) -> tuple[str, ...]:
    ad = device.advertisement
    hidden = ad.extended_announcement or not ad.vendor_id
    vid_pid = "(not advertised)" if hidden else f"{ad.vendor_id:04X}:{ad.product_id:04X}"
    rssi = "" if device.rssi is None else f"{device.rssi} dBm"
    return (device.address, str(ad.discriminator), vid_pid, rssi, device.name or "")


def _json(device: FoundBleDevice) -> dict[str, object]:
    ad = device.advertisement
    return {
        "address": device.address,
        "name": device.name,
        "rssi": device.rssi,
        "discriminator": ad.discriminator,
        "vendorId": ad.vendor_id,
        "productId": ad.product_id,
        "additionalData": ad.additional_data,
        "extendedAnnouncement": ad.extended_announcement,
    }


def ble_scan_main(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} ble-scan", description="list the commissionable Matter devices heard over BLE")
    parser.add_argument("--ble-adapter", metavar="hciN", help="the Bluetooth adapter (default: BlueZ's first)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to listen (default 5)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be more than 0")
    try:
        devices = asyncio.run(scan(args.ble_adapter, args.seconds))
    except BleUnavailable as exc:
        print(f"{PROG} ble-scan: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    devices.sort(key=lambda d: -(d.rssi if d.rssi is not None else -999))
    if args.json:
        sys.stdout.write("".join(json.dumps(_json(d)) + "\n" for d in devices))
        return 0
    if not devices:
        print(f"no commissionable Matter device heard over BLE in {args.seconds:g} s")
        return 0
    for line in aligned([("address", "discriminator", "VID:PID", "RSSI", "name"), *(_row(d) for d in devices)]):
        print(line)
    return 0

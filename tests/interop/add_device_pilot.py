"""Runs in the provider's test namespace: the dashboard (a Textual pilot) over the real engine,
started the way ``ota-provider`` starts it, picks a device from the Add-device dialog's live DNS-SD
list (or its BLE list, giving it a kept network) and commissions it with its code.

    python -m tests.interop.add_device_pilot VERDICTS DISCRIMINATOR[,OTHER...] PASSCODE [NETWORK] -- ARGS...

DISCRIMINATOR is the device picked; the list is written once it and the OTHER devices are all
listed (devices answer DNS-SD in their own time). NETWORK: the device is picked from the BLE rows
and given this kept network.

Writes JSON lines to VERDICTS: {"found": [...]} (the list once the device is in it), {"outcome":
..., "lines": [...]} (the dialog's stage lines), {"after": [...]} (the list once the commissioned
device's window has closed, or after 30 s).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from ota_provider.core import cli
from ota_provider.core.api.link import LocalLink
from ota_provider.core.codec.setup_payload import SetupPayload
from ota_provider.tui.add_device import AddDeviceScreen
from ota_provider.tui.app import ProviderDashboard


def _rows(screen: AddDeviceScreen) -> list[dict]:
    return [
        {
            "instance": d.instance,
            "name": d.name,
            "discriminator": d.discriminator,
            "mode": d.commissioning_mode,
            "vendorId": d.vendor_id,
            "productId": d.product_id,
            "address": d.addresses[0][0],
        }
        for d in screen.found
    ]


async def _until(pilot, condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await pilot.pause(0.1)
    return True


def main(verdicts: str, discriminators: list[int], passcode: int, args: list[str], network: str | None = None) -> int:
    discriminator = discriminators[0]

    def write(**verdict) -> None:
        with open(verdicts, "a") as out:
            out.write(json.dumps(verdict) + "\n")

    async def drive(app: ProviderDashboard) -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("d")
            await _until(pilot, lambda: isinstance(app.screen, AddDeviceScreen), 10)
            screen = app.screen
            rows = (
                (lambda: [d.discriminator for d in screen.heard])
                if network
                else (lambda: [d.discriminator for d in screen.found])
            )
            listed = await _until(pilot, lambda: set(discriminators) <= set(rows()), 30)
            heard = [d.address for d in screen.heard]
            write(found=_rows(screen), heard=heard, listed=listed, ble_problem=screen.ble_problem)
            if not listed:
                return
            table = screen.query_one("#found")
            table.focus()
            table.move_cursor(row=(len(screen.found) if network else 0) + rows().index(discriminator))
            await pilot.press("enter")  # picks the row and moves to the network, or the code field
            picked = screen.picked_ble.address if network and screen.picked_ble else screen.picked
            if network:
                screen.query_one("#network").value = network
                await pilot.pause()
            code = SetupPayload(discriminator=discriminator, passcode=passcode, vendor_id=0, product_id=0)
            screen.query_one("#code").value = code.manual_code()
            await pilot.press("enter")
            await _until(pilot, lambda: screen.outcome in ("commissioned", "failed"), 90)
            await _until(
                pilot,
                lambda: screen.outcome == "failed" or "announce" in " ".join(screen.query_one("#stages").lines),
                30,
            )
            write(
                outcome=screen.outcome,
                picked=picked if isinstance(picked, str) else picked.instance if picked else None,
                target=screen.target,
                lines=list(screen.query_one("#stages").lines),
            )
            if not network:
                await _until(pilot, lambda: discriminator not in [d.discriminator for d in screen.found], 30)
            write(after=_rows(screen))

    def serve(config, catalog, emit) -> int:
        engine = cli.build_engine(config, catalog)
        engine.start()
        try:
            asyncio.run(drive(ProviderDashboard(LocalLink(engine))))
        finally:
            engine.stop()
        return 0

    return cli.main(args, serve=serve)


if __name__ == "__main__":
    split = sys.argv.index("--")
    verdict_file, wanted, code_passcode, *kept = sys.argv[1:split]
    picked = [int(d) for d in wanted.split(",")]
    sys.exit(main(verdict_file, picked, int(code_passcode), sys.argv[split + 1 :], *kept))

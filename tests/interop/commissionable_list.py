"""Runs in a test namespace: the Add-device dialog's live list of commissionable devices.

    python -m tests.interop.commissionable_list SECONDS
Prints one JSON line each time the list changes: {"t": seconds since start, "names": [...]}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from ota_provider.core.dnssd.browser import CommissionableBrowser


async def main(seconds: float) -> None:
    started = time.monotonic()

    def changed(devices) -> None:
        names = sorted(d.instance for d in devices)
        print(json.dumps({"t": round(time.monotonic() - started, 2), "names": names}), flush=True)

    browser = CommissionableBrowser(changed)
    await browser.start()
    try:
        await asyncio.sleep(seconds)
    finally:
        await browser.stop()


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1])))

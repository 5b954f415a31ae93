"""Runs in a test namespace: find our commissionable service over mDNS and print its addresses.

    python -m tests.interop.dnssd_lookup DISCRIMINATOR
Prints one JSON line: {"instance": ..., "addresses": [...]} or {"error": ...}.
"""

from __future__ import annotations

import asyncio
import json
import sys

from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf


async def main(discriminator: int) -> dict:
    subtype = f"_L{discriminator}._sub._matterc._udp.local."
    zc = AsyncZeroconf(ip_version=IPVersion.All)
    found: asyncio.Queue = asyncio.Queue()
    browser = AsyncServiceBrowser(zc.zeroconf, subtype, handlers=[lambda **kw: found.put_nowait(kw["name"])])
    try:
        name = await asyncio.wait_for(found.get(), 15)
        info = AsyncServiceInfo("_matterc._udp.local.", name)
        if not await info.async_request(zc.zeroconf, 5000):
            return {"error": f"{name} did not resolve"}
        return {"instance": name, "addresses": sorted(info.parsed_scoped_addresses(IPVersion.All))}
    finally:
        await browser.async_cancel()
        await zc.async_close()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(int(sys.argv[1])))), flush=True)

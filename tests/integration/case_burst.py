"""One CASE initiator process for the concurrent-handshake test.

    python -m tests.integration.case_burst FABRIC.json PORT NODE_ID
Loads the demo fabric and opens its socket, prints READY, waits for a line on stdin (so that
all the processes start their handshake at the same moment), then opens CASE to the provider
and sends QueryImage. Prints one JSON line: {"ok": true, "status": ...} or {"ok": false, "error": ...}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from ota_provider.core.client.requestor import OtaRequestorClient
from ota_provider.core.exchange.driver import ExchangeDriver
from ota_provider.core.exchange.manager import ExchangeManager
from ota_provider.core.fabric.demo import DemoFabric


async def main(fabric_file: str, port: int, node_id: int) -> dict:
    demo = DemoFabric.load(Path(fabric_file))
    driver = await ExchangeDriver.open(ExchangeManager(), port=0, host="::1")
    client = OtaRequestorClient(driver, demo.fabric_for(node_id), demo.provider_node_id, ("::1", port, 0, 0))
    print("READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    start = time.perf_counter()
    try:
        await client.connect(timeout=30)
        case_seconds = time.perf_counter() - start
        offer = await client.query_image(0xFFF1, 0x8000, 1)
        return {"ok": True, "caseSeconds": round(case_seconds, 3), "status": int(offer.status)}
    except Exception as exc:  # the test reports whatever went wrong
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        driver.close()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3], 0)))), flush=True)

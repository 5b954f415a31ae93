"""Runs under the Matter SDK's Python controller (home-assistant-chip-core), not our venv.

    python sdk_controller_pase.py HOST PORT PASSCODE
Prints "PASE OK" or "PASE FAILED <reason>" as its last line.
"""

import asyncio
import os
import sys
import tempfile

import chip.CertificateAuthority
import chip.ChipStack
import chip.native


async def main(host: str, port: int, passcode: int) -> int:
    chip.native.Init()
    storage = os.path.join(tempfile.mkdtemp(), "controller.json")
    stack = chip.ChipStack.ChipStack(persistentStoragePath=storage, enableServerInteractions=False)
    authorities = chip.CertificateAuthority.CertificateAuthorityManager(stack, stack.GetStorageManager())
    authorities.LoadAuthoritiesFromStorage()
    admin = authorities.NewCertificateAuthority().NewFabricAdmin(vendorId=0xFFF1, fabricId=1)
    paa = os.environ.get("PAA_TRUST_STORE", "")
    controller = admin.NewController(nodeId=112233, paaTrustStorePath=paa)
    try:
        await asyncio.wait_for(controller.EstablishPASESessionIP(host, passcode, 1234, port), 30)
        print("PASE OK", flush=True)
        return 0
    except Exception as exc:  # report whatever the SDK raised
        print(f"PASE FAILED {type(exc).__name__}: {exc}", flush=True)
        return 1
    finally:
        os._exit(0)  # the SDK's shutdown path is noisy and slow; the verdict is printed


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))

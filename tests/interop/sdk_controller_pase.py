"""Runs under the Matter SDK's Python controller (home-assistant-chip-core), not our venv.

    python sdk_controller_pase.py HOST PORT PASSCODE VERDICT.json
Writes {"pase": "ok"} or {"pase": "failed", "error": ...} to VERDICT, a file of its own: the SDK's
native log shares stdout and once glued its last line into a verdict printed there.
"""

import asyncio
import json
import os
import sys
import tempfile

import chip.CertificateAuthority
import chip.ChipStack
import chip.native


def verdict(path: str, **fields) -> None:
    with open(path, "w") as out:
        json.dump(fields, out)


async def main(host: str, port: int, passcode: int, verdict_path: str) -> int:
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
        verdict(verdict_path, pase="ok")
        return 0
    except Exception as exc:  # report whatever the SDK raised
        verdict(verdict_path, pase="failed", error=f"{type(exc).__name__}: {exc}")
        return 1
    finally:
        os._exit(0)  # the SDK's shutdown path is noisy and slow; the verdict is printed


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])))

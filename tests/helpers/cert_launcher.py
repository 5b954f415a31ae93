"""The command line the SDK's certification scripts give the provider app, and the app pipe as they
use it.

Rebuilt from connectedhomeip ``src/python_testing/matter_testing_infrastructure/matter/testing/
apps.py``: ``OTAProviderSubprocess`` puts the image source first (``OtaImagePath.ota_args`` is
``--filepath PATH``, ``ImageListPath.ota_args`` is ``--otaImageList PATH``), then the script's
``extra_args`` (``-q busy -t 60``, ``--app-pipe ...``), and ``AppServerSubprocess`` appends
``--KVS``, ``--secured-device-port``, ``--discriminator`` and ``--passcode``. Without a KVS path the
launcher makes an empty temporary file (``tempfile.mkstemp(prefix="kvs-app-")``); TC-SU-2.2 gives a
fixed ``/tmp/chip_kvs_provider`` and reuses it across provider restarts. Values come from
``TC_SUTestBase.start_provider`` (port 5541, passcode 20202021) and ``TC_SU_2_2.py`` (provider
discriminator 1111, node id ``dut_node_id + 1``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

# This package's drop-in, run as the launcher runs ``provider_app_path``.
DROP_IN = [sys.executable, "-c", "from ota_provider.core.cli.sdk_app import main; raise SystemExit(main())"]
PIPE_REQUEST = {"Cluster": "OtaSoftwareUpdateProvider", "Endpoint": 0}


def launcher_command(
    image: Path | str,
    *,
    kvs: Path | str,
    port: int = 5541,
    discriminator: int = 1111,
    passcode: int = 20202021,
    extra: Sequence[str] = (),
    image_list: bool = False,
    app: Sequence[str] = DROP_IN,
) -> list[str]:
    """The argv ``OTAProviderSubprocess`` starts: ``app``, the image source, ``extra``, then the
    common app flags."""
    source = ["--otaImageList" if image_list else "--filepath", str(image)]
    common = ["--KVS", str(kvs), "--secured-device-port", str(port)]
    common += ["--discriminator", str(discriminator), "--passcode", str(passcode)]
    return [*app, *source, *extra, *common]


def pipe_exchange(pipe_in: Path, pipe_out: Path, request: object) -> dict:
    """As the scripts do: write one JSON object to the in pipe, read one from the out pipe."""
    with open(pipe_in, "w") as writer:
        writer.write(request if isinstance(request, str) else json.dumps(request))
    with open(pipe_out) as reader:
        return json.loads(reader.readline())


def pipe_payload(pipe_in: Path, pipe_out: Path, name: str) -> dict:
    """The Payload of one of the three queries the scripts send."""
    reply = pipe_exchange(pipe_in, pipe_out, {"Name": name, **PIPE_REQUEST})
    assert reply.get("Name") == "SnapshotResponse" and "Payload" in reply, reply
    return reply["Payload"]

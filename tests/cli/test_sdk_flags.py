"""Each SDK flag of ``chip-ota-provider-app``, through the drop-in started as the certification
launcher starts it, against what a requestor receives.

The meaning of each flag is the SDK app's (connectedhomeip ``examples/ota-provider-app/linux/
main.cpp`` and ``OTAProviderExample.cpp``): ``-q/-t/-u/-a/-p`` shape the first response only (the
first that the flag shapes), ``--persistQueryImageStatus`` keeps ``-q``, ``-f`` is offered whatever
its version, ``-u denied`` answers NotAvailable and ``-u deferred`` Busy, ``-x/-y N`` leave the
next N commands unanswered. The requestor is our client in this process, on the demo fabric the
drop-in joins with ``--demo-fabric``. Every drop-in of the table starts at once, to keep the suite
short; the flows with a real requestor are ``tests/interop/test_cert_flows.py``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ota_provider.core.client.requestor import OtaRequestorClient
from ota_provider.core.exchange.driver import ExchangeDriver
from ota_provider.core.fabric.demo import DemoFabric
from ota_provider.core.ota.types import ApplyUpdateAction, QueryImageStatus
from tests.helpers.cert_launcher import launcher_command
from tests.helpers.engine_helpers import demo_requestor
from tests.helpers.samples import SAMPLES

IMAGE = SAMPLES / "sample-fff1-8000-v3.ota"
AVAILABLE, BUSY, NOT_AVAILABLE = (
    QueryImageStatus.UPDATE_AVAILABLE,
    QueryImageStatus.BUSY,
    QueryImageStatus.NOT_AVAILABLE,
)
PROCEED, AWAIT, DISCONTINUE = (
    ApplyUpdateAction.PROCEED,
    ApplyUpdateAction.AWAIT_NEXT_ACTION,
    ApplyUpdateAction.DISCONTINUE,
)


class Requestor:
    """One requestor node on the drop-in's demo fabric, connected for the ``async with``."""

    def __init__(self, fabric: DemoFabric, port: int, node_id: int) -> None:
        self.fabric, self.port, self.node_id = fabric, port, node_id
        self.driver: ExchangeDriver | None = None

    async def __aenter__(self) -> OtaRequestorClient:
        client, self.driver = await demo_requestor(self.fabric, self.port, self.node_id)
        return client

    async def __aexit__(self, *exc: object) -> None:
        assert self.driver is not None
        self.driver.close()


Check = Callable[[Requestor, Path], Awaitable[None]]


@dataclass
class Case:
    flags: tuple[str, ...]
    check: Check
    image: Path = IMAGE
    image_list: bool = False


async def query(requestor: Requestor, version: int = 1, **options):
    async with requestor as client:
        return await client.query_image(0xFFF1, 0x8000, version, **options)


async def first_then_second(requestor: Requestor) -> tuple:
    first = await query(requestor)
    second = await query(requestor)
    return first, second


async def offer_and_apply(requestor: Requestor, times: int = 2) -> list:
    async with requestor as client:
        offer = await client.query_image(0xFFF1, 0x8000, 1)
        assert offer.status == AVAILABLE
        return [await client.apply_update(offer.update_token, offer.software_version) for _ in range(times)]


# ------------------------------------------------------------------ what each flag does to a requestor


async def same_version_is_offered(r: Requestor, _: Path) -> None:  # -f
    offer = await query(r, version=3)
    assert (offer.status, offer.software_version) == (AVAILABLE, 3)


async def the_list_picks_by_applicable_version(r: Requestor, _: Path) -> None:  # -o
    # The newest entry whose applicable range holds the requestor's version; none for v3 (a list,
    # unlike -f, is not offered whatever the version).
    assert (await query(r, version=1)).software_version == 3
    assert (await query(r, version=3)).status == NOT_AVAILABLE


async def busy_with_delay_once(r: Requestor, _: Path) -> None:  # -q busy -t 45
    first, second = await first_then_second(r)
    assert (first.status, first.delayed_action_time, second.status) == (BUSY, 45, AVAILABLE)


async def busy_every_time(r: Requestor, _: Path) -> None:  # -q busy --persistQueryImageStatus
    first, second = await first_then_second(r)
    assert (first.status, second.status) == (BUSY, BUSY)


async def not_available_once(r: Requestor, _: Path) -> None:  # -q updateNotAvailable
    first, second = await first_then_second(r)
    assert (first.status, second.status) == (NOT_AVAILABLE, AVAILABLE)


async def consent_denied_once(r: Requestor, _: Path) -> None:  # -u denied
    first, second = await first_then_second(r)
    assert (first.status, second.status) == (NOT_AVAILABLE, AVAILABLE)


async def consent_deferred_once(r: Requestor, _: Path) -> None:  # -u deferred
    first, second = await first_then_second(r)
    assert (first.status, second.status) == (BUSY, AVAILABLE)


async def consent_needed(r: Requestor, _: Path) -> None:  # -c
    assert (await query(r, requestor_can_consent=True)).user_consent_needed is True
    assert not (await query(r, requestor_can_consent=False)).user_consent_needed


async def image_uri_verbatim(r: Requestor, _: Path) -> None:  # -i
    assert (await query(r)).image_uri == "bdx://000000000000000X"  # TC-SU-2.2's invalid URI


async def await_next_action_once(r: Requestor, _: Path) -> None:  # -a awaitNextAction -p 7
    first, second = await offer_and_apply(r)
    assert ((first.action, first.delayed_action_time), second.action) == ((AWAIT, 7), PROCEED)


async def discontinue_once(r: Requestor, _: Path) -> None:  # -a discontinue
    first, second = await offer_and_apply(r)
    assert (first.action, second.action) == (DISCONTINUE, PROCEED)


async def first_query_unanswered(r: Requestor, _: Path) -> None:  # -x 1
    async with r as client:
        with pytest.raises(TimeoutError):
            await client.query_image(0xFFF1, 0x8000, 1, timeout=1.5)
        assert (await client.query_image(0xFFF1, 0x8000, 1)).status == AVAILABLE


async def first_apply_unanswered(r: Requestor, _: Path) -> None:  # -y 1
    async with r as client:
        offer = await client.query_image(0xFFF1, 0x8000, 1)
        with pytest.raises(TimeoutError):
            await client.apply_update(offer.update_token, offer.software_version, timeout=1.5)
        assert (await client.apply_update(offer.update_token, offer.software_version)).action == PROCEED


async def blocks_of_512_paced(r: Requestor, out: Path) -> None:  # -m 512 -P 20
    async with r as client:
        offer = await client.query_image(0xFFF1, 0x8000, 1)
        result = await client.download(offer.image_uri, out / "fw.ota", max_block_size=1024)
    assert result.block_size == 512 and result.size == IMAGE.stat().st_size
    assert result.seconds >= (result.blocks - 1) * 0.020  # -P 20: a block at most every 20 ms


CASES = {
    "-f offered whatever its version": Case((), same_version_is_offered),
    "-o picks by applicable version": Case((), the_list_picks_by_applicable_version, SAMPLES / "image-list.json", True),
    "-q busy -t 45, first only": Case(("-q", "busy", "-t", "45"), busy_with_delay_once),
    "--persistQueryImageStatus": Case(("-q", "busy", "--persistQueryImageStatus"), busy_every_time),
    "-q updateNotAvailable, first only": Case(("--queryImageStatus", "updateNotAvailable"), not_available_once),
    "-u denied": Case(("-u", "denied"), consent_denied_once),
    "-u deferred": Case(("--userConsentState", "deferred"), consent_deferred_once),
    "-c": Case(("--userConsentNeeded",), consent_needed),
    "-i": Case(("--imageUri", "bdx://000000000000000X"), image_uri_verbatim),
    "-a awaitNextAction -p 7": Case(
        ("-a", "awaitNextAction", "--delayedApplyActionTimeSec", "7"), await_next_action_once
    ),
    "-a discontinue": Case(("--applyUpdateAction", "discontinue"), discontinue_once),
    "-x 1": Case(("--ignoreQueryImage", "1"), first_query_unanswered),
    "-y 1": Case(("-y", "1"), first_apply_unanswered),
    "-m 512 -P 20": Case(("--maxBDXBlockSize", "512", "--pollInterval", "20"), blocks_of_512_paced),
}


class LoopbackDropIn:
    """One drop-in process on loopback, started as the launcher starts it."""

    def __init__(self, case: Case, workdir: Path) -> None:
        workdir.mkdir(parents=True)
        extra = [*case.flags, "--demo-fabric", "--json"]
        command = launcher_command(case.image, kvs=workdir / "kvs", port=0, extra=extra, image_list=case.image_list)
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=workdir)
        self.events: list[dict] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.events.append(json.loads(line))
                if self.events[-1]["event"] == "Listening":
                    self.ready.set()

    def requestor(self) -> Requestor:
        assert self.ready.wait(60), self.proc.stderr.read() if self.proc.poll() is not None else "not ready"
        fabric = DemoFabric.load(Path(next(e["file"] for e in self.events if e["event"] == "DemoFabric")))
        port = next(e["port"] for e in self.events if e["event"] == "Listening")
        return Requestor(fabric, port, 0x4001)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


@pytest.fixture(scope="module")
def drop_ins(tmp_path_factory):
    root = tmp_path_factory.mktemp("sdk-flags")
    running = {name: LoopbackDropIn(case, root / f"case-{n}") for n, (name, case) in enumerate(CASES.items())}
    yield running
    for drop_in in running.values():
        drop_in.stop()


@pytest.mark.parametrize("name", list(CASES))
def test_each_sdk_flag_changes_what_a_requestor_receives(name, drop_ins, tmp_path):
    asyncio.run(CASES[name].check(drop_ins[name].requestor(), tmp_path))

"""The Add-device dialog over the real engine and a real device (another instance of our node on
::1): the stages shown live, the reason shown when one fails, the attestation question asked."""

from __future__ import annotations

import asyncio

import pytest

from ota_provider.core.api.link import LocalLink
from ota_provider.core.commissioner import bench as bench_module
from ota_provider.core.commissioner.attestation import TrustStore
from ota_provider.core.commissioner.credential_store import CredentialStore
from ota_provider.core.commissioner.network_credentials import WifiCredentials
from ota_provider.core.dnssd.devices import CommissionableDevice
from ota_provider.core.node import MatterNode, NodeConfig
from ota_provider.core.transport.ble import FoundBleDevice
from ota_provider.core.transport.ble_advertisement import BleAdvertisement
from ota_provider.tui.add_device import AddDeviceScreen
from ota_provider.tui.app import ProviderDashboard
from ota_provider.tui.screens import ConfirmScreen
from tests.helpers.dashboard import until
from tests.helpers.engine_helpers import start_engine

CODE = "3497-011-2332"  # passcode 20202021, discriminator 3840


@pytest.fixture
def engine(tmp_path):
    engine = start_engine(tmp_path / "ours")
    yield engine
    engine.stop()


def lines(screen):
    """The dialog's text with its wrapped lines joined again."""
    return " ".join(" ".join(screen.query_one("#stages").lines).split())


async def add_device(pilot, app, text):
    await pilot.press("d")
    await until(pilot, lambda: isinstance(app.screen, AddDeviceScreen))
    screen = app.screen
    screen.query_one("#code").value = text
    await pilot.press("enter")
    return screen


def scenario(engine, tmp_path, text, *, passcode=20202021, then=None):
    async def run():
        device = MatterNode(
            NodeConfig(
                storage=tmp_path / "device",
                passcode=passcode,
                discriminator=3840,
                port=0,
                host="::1",
                allow_ota_from_fabric=False,
            )
        )
        await device.start()
        try:
            app = ProviderDashboard(LocalLink(engine))
            async with app.run_test(size=(160, 48)) as pilot:
                screen = await add_device(pilot, app, text.format(port=device.port))
                result = await then(pilot, app, screen)
                return result, [f.fabric_id for f in device.fabrics]
        finally:
            device.stop()

    return asyncio.run(run())


def test_adding_a_device_shows_every_stage_and_what_followed(engine, tmp_path):
    async def then(pilot, app, screen):
        await until(pilot, lambda: "point it at us" in lines(screen), timeout=15)
        return screen.outcome, lines(screen)

    (outcome, text), fabrics = scenario(engine, tmp_path, CODE + "@[::1]:{port}", then=then)
    assert outcome == "commissioned" and len(fabrics) == 1
    for stage in (
        "secure pairing (PASE): done",
        "device attestation: done",
        "add NOC: done",
        "commissioning complete: done",
        "commissioned as node 0010",
        "read the device: done",
    ):
        assert stage in text, text
    assert "point it at us: skipped (the device has no OTA Requestor cluster" in text


def test_a_wrong_passcode_says_so_in_the_dialog(engine, tmp_path):
    async def then(pilot, app, screen):
        await until(pilot, lambda: screen.outcome == "failed", timeout=15)
        return lines(screen)

    text, fabrics = scenario(engine, tmp_path, CODE + "@[::1]:{port}", passcode=20202022, then=then)
    assert "FAILED at secure pairing (PASE)" in text and "refused the passcode" in text and fabrics == []


def test_a_typo_is_refused_at_once_with_the_reason(engine, tmp_path):
    async def then(pilot, app, screen):
        await pilot.pause(0.2)
        return str(screen.query_one("#add-error").render()), lines(screen)

    (error, text), _ = scenario(engine, tmp_path, "3497-011-2333@[::1]:{port}", then=then)
    assert "check digit is wrong" in error and text == ""


def test_a_failed_attestation_is_asked_and_can_be_accepted(engine, tmp_path):
    engine.bench.trust = TrustStore(cd_keys=TrustStore.with_test_roots().cd_keys)  # no PAA trusted at all

    async def then(pilot, app, screen):
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=15)
        question = app.screen.question
        await pilot.press("y")
        await until(pilot, lambda: screen.outcome == "commissioned", timeout=15)
        return question, lines(screen)

    (question, text), fabrics = scenario(engine, tmp_path, CODE + "@[::1]:{port}", then=then)
    assert "attestation failed: PAA trust" in question and "Commission it anyway" in question
    assert "accepted by the user" in text and len(fabrics) == 1


def test_a_device_picked_from_the_list_is_commissioned_at_its_listed_address(engine, tmp_path):
    """The list itself comes from DNS-SD (the namespace test with matter.js devices); here a listed
    device is the real one on ::1, picked with Enter: the code alone then goes to its address."""

    async def run():
        device = MatterNode(
            NodeConfig(
                storage=tmp_path / "device",
                passcode=20202021,
                discriminator=3840,
                port=0,
                host="::1",
                allow_ota_from_fabric=False,
            )
        )
        await device.start()
        try:
            app = ProviderDashboard(LocalLink(engine))
            async with app.run_test(size=(160, 48)) as pilot:
                await pilot.press("d")
                await until(pilot, lambda: isinstance(app.screen, AddDeviceScreen))
                screen = app.screen
                # This engine runs without DNS-SD (no multicast off the test machine): the dialog says so.
                await until(pilot, lambda: "DNS-SD is off" in str(screen.query_one("#found-state").render()))
                listed = CommissionableDevice(
                    "8A1B2C3D4E5F6071",
                    3840,
                    1,
                    0xFFF1,
                    0x8001,
                    "bench light",
                    (("::1", device.port, 0, 0),),
                    device.port,
                )
                screen.show_found((listed,))
                await pilot.pause()
                table = screen.query_one("#found")
                shown = [str(cell) for cell in table.get_row_at(0)]
                table.focus()
                await pilot.press("enter")
                state = str(screen.query_one("#found-state").render())
                focused = app.focused.id
                screen.query_one("#code").value = CODE
                await pilot.press("enter")
                await until(pilot, lambda: screen.outcome == "commissioned", timeout=15)
                return shown, state, focused, screen.target, lines(screen), len(device.fabrics)
        finally:
            device.stop()

    shown, state, focused, target, text, fabrics = asyncio.run(run())
    assert shown[:4] == ["bench light", "FFF1:8001", "3840", "basic"] and shown[4].startswith("[::1]:"), shown
    assert state.startswith("Picked bench light: VID 0xFFF1 PID 0x8001") and focused == "code", state
    assert target.startswith(CODE + "@[::1]:") and "discovery" not in text and fabrics == 1, (target, text)


def test_a_ble_device_is_listed_and_picking_it_asks_which_network_to_give(engine, monkeypatch):
    """BLE rows beside the DNS-SD ones, from the engine's own scans (the radio faked at bleak's
    edge): picking one shows the network choice; with none kept the code is refused and the dialog
    says how to keep one; with one chosen the engine tries the device over BLE, and, with no BLE
    here, the dialog says which stage failed and why (the run over BlueZoo is in
    tests/interop/test_ble_commissioning.py)."""
    advertised = BleAdvertisement(discriminator=3840, vendor_id=0xFFF1, product_id=0x8000)
    heard = FoundBleDevice("00:00:00:01:00:02", "MATTER-3840", -48, advertised)

    async def radio(adapter, seconds):
        await asyncio.sleep(0.2)
        return [heard]

    monkeypatch.setattr(bench_module, "scan", radio)

    async def pick(pilot, app):
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, AddDeviceScreen))
        screen = app.screen
        await until(pilot, lambda: len(screen.heard) == 1)
        table = screen.query_one("#found")
        table.focus()
        await pilot.press("enter")
        await pilot.pause()
        return screen, [str(cell) for cell in table.get_row_at(0)]

    async def run():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            screen, row = await pick(pilot, app)
            no_networks = str(screen.query_one("#found-state").render())
            screen.query_one("#code").value = CODE
            await pilot.press("enter")
            await pilot.pause()
            refused = str(screen.query_one("#add-error").render())
            await pilot.press("escape")
            CredentialStore(engine.bench.node.db).put("BenchNet", WifiCredentials(b"BenchNet", b"correct horse"))
            screen, _ = await pick(pilot, app)
            network = screen.query_one("#network")
            shown = network.display
            network.value = "BenchNet"
            screen.query_one("#code").value = CODE
            screen.query_one("#code").focus()
            await pilot.pause()
            await pilot.press("enter")
            await until(pilot, lambda: screen.outcome == "failed", timeout=15)
            return row, no_networks, refused, shown, screen.target, lines(screen)

    row, no_networks, refused, shown, target, text = asyncio.run(run())
    assert row == ["MATTER-3840", "FFF1:8000", "3840", "BLE", "BLE 00:00:00:01:00:02 (-48 dBm)"]
    assert "no network is kept" in no_networks and "no network is kept" in refused
    assert shown and target == CODE
    assert "BLE connect: started" in text and "FAILED at BLE connect" in text, text

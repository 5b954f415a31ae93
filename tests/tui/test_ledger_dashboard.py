"""The dashboard with --dcl, the real engine and a replica of the ledger: the Images tab says where
each image came from and shows a ledger image while it downloads; the requestors table and the
detail name the vendor as the ledger does, the hex still beside it."""

from __future__ import annotations

import asyncio

from ota_provider.core.api.link import LocalLink
from ota_provider.core.dcl.sources import parse_ledger
from ota_provider.tui.app import ProviderDashboard
from ota_provider.tui.images_table import ImagesTable
from tests.dcl.replica import Replica, build_image
from tests.helpers.dashboard import cell, until
from tests.helpers.engine_helpers import requestor, start_engine


def test_images_from_the_ledger_and_vendor_names_on_the_dashboard(tmp_path, monkeypatch):
    replica = Replica(tmp_path / "replica")
    monkeypatch.setenv("SSL_CERT_FILE", str(replica.ca_file))
    replica.vendors = [{"vendorID": 0xFFF1, "vendorName": "Test Vendor One", "schemaVersion": 0}]
    image = build_image(tmp_path, 0xFFF1, 0x8000, 9, payload_size=200_000)
    path = replica.publish(image, 0xFFF1, 0x8000, 9)
    replica.slow[path] = 0.03  # 1.5 s in all: the tab samples twice a second, so several see it on its way
    engine = start_engine(tmp_path / "state", dcl=(parse_ledger(replica.url),))

    def images_rows(app) -> list[list[str]]:
        table = app.query_one("#images", ImagesTable)
        return [[str(c) for c in table.get_row_at(n)] for n in range(table.row_count)]

    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            client, driver = await requestor(engine, tmp_path / "state", 0x7001)
            try:
                first = await client.query_image(0xFFF1, 0x8000, 1)
                await pilot.press("i")
                await until(pilot, lambda: any("downloading" in r[-1] for r in images_rows(app)), timeout=10)
                downloading = images_rows(app)
                await until(
                    pilot,
                    lambda: any(r[2] == f"127.0.0.1:{replica.port}" and r[-1] == "ok" for r in images_rows(app)),
                    timeout=20,
                )
                offered = await client.query_image(0xFFF1, 0x8000, 1)
            finally:
                driver.close()
            await until(pilot, lambda: app.requestor_table.row_count == 1)
            await until(pilot, lambda: "vendor" in [str(c.label) for c in app.requestor_table.columns.values()])
            vendor = cell(app, "1:28673", "vendor")
            hex_cell = cell(app, "1:28673", "VID:PID")
            return first, downloading, images_rows(app), offered, vendor, hex_cell

    try:
        first, downloading, rows, offered, vendor, hex_cell = asyncio.run(scenario())
    finally:
        engine.stop()
        replica.close()
    assert first.status.name == "BUSY"
    ledger_row = next(r for r in downloading if "downloading" in r[-1])
    assert ledger_row[2:5] == [f"127.0.0.1:{replica.port}", "FFF1:8000", "9"]
    assert {r[2] for r in rows} == {"list", f"127.0.0.1:{replica.port}"}
    assert offered.status.name == "UPDATE_AVAILABLE" and offered.software_version == 9
    assert vendor == "Test Vendor One" and hex_cell == "FFF1:8000"

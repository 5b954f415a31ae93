"""Driving the dashboard in a pilot test: waiting for a condition, reading its cells and the Armed box."""

from __future__ import annotations

import asyncio

from tests.helpers.engine_helpers import requestor


def cell(app, peer_key, column):
    return app.requestor_table.get_cell(peer_key, column)


def armed_text(app):
    return str(app.query_one("#armed").render())


async def arm(pilot, app, expect, **controls):
    """Set the controls (by widget id, "_" for "-"), press a, wait until the engine reports ``expect``
    as armed."""
    for widget_id, value in controls.items():
        app.query_one(f"#{widget_id.replace('_', '-')}").value = value
    await pilot.press("a")
    await until(pilot, lambda: expect in armed_text(app))


async def queried(engine, tmp_path, nodes, *, version):
    """Connected clients for ``nodes``, each having sent one QueryImage from ``version``; the
    caller closes their drivers."""
    clients = [await requestor(engine, tmp_path, node) for node in nodes]
    for client, _ in clients:
        await client.query_image(0xFFF1, 0x8000, version)
    return clients


async def until(pilot, condition, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await pilot.pause(0.05)

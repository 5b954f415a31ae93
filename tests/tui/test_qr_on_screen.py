"""The onboarding QR code, read back from the dashboard's rendered screen with a QR decoder, at
the two sizes people use: in-process from the compositor's output, and from a real terminal
(tmux) running ``ota-provider --demo`` as a user would."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ota_provider.core.api.link import LocalLink
from ota_provider.core.engine import onboarding_payload
from ota_provider.tui.app import ProviderDashboard
from tests.helpers.engine_helpers import start_engine
from tests.tui.screen_pixels import ansi_cells, decode_qr, segment_cells

SIZES = [(100, 30), (160, 48)]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    engine = start_engine(tmp_path_factory.mktemp("qr"))
    yield engine
    engine.stop()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_commissioning_tab_shows_a_qr_code_that_decodes(engine, size):
    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=size) as pilot:
            await pilot.press("c")
            await pilot.pause(0.3)
            update = app.screen._compositor.render_update(full=True)
            return segment_cells(update.strips)

    cells = asyncio.run(scenario())
    assert decode_qr(cells) == [onboarding_payload(engine.config).qr_code()]


def _free_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.bind(("::", 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (./run tests installs it as root)")
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_in_tmux_as_a_user_runs_it(tmp_path, size):
    width, height = size
    session = f"ota-qr-{os.getpid()}-{width}"
    provider = Path(sys.executable).with_name("ota-provider")
    command = f"{provider} --demo --port {_free_port()} --storage {tmp_path}"
    socket_name = f"-Lota-test-{os.getpid()}"
    tmux = ["tmux", socket_name]

    def running() -> bool:
        return subprocess.run([*tmux, "has-session", "-t", session], check=False, capture_output=True).returncode == 0

    def capture(*options: str) -> str:
        return subprocess.run(
            [*tmux, "capture-pane", "-p", *options, "-t", session], check=False, capture_output=True, text=True
        ).stdout

    subprocess.run(
        [*tmux, "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), command], check=True
    )
    try:
        deadline = time.monotonic() + 30
        screen = ""
        while time.monotonic() < deadline and "Requestors" not in screen:
            time.sleep(0.3)
            screen = capture()
        assert "Requestors" in screen, f"the dashboard did not come up:\n{screen}"
        subprocess.run([*tmux, "send-keys", "-t", session, "c"], check=True)
        decoded: list[str] = []
        while time.monotonic() < deadline and not decoded:
            time.sleep(0.5)
            captured = capture("-e")
            decoded = decode_qr(ansi_cells(captured))
        assert decoded == ["MT:Y.K90AFN00KA0648G00"]
        plain = capture()
        assert "Manual code  3497-011-2332" in plain and "window:" in plain
        # q asks first while demo transfers run; y answers it (and is harmless otherwise: it copies the code)
        subprocess.run([*tmux, "send-keys", "-t", session, "q"], check=True)
        time.sleep(0.5)
        subprocess.run([*tmux, "send-keys", "-t", session, "y"], check=False, capture_output=True)
        quit_deadline = time.monotonic() + 15  # q ends the transfers and the process: the session closes
        while time.monotonic() < quit_deadline and running():
            time.sleep(0.2)
        assert not running(), "ota-provider did not exit on q"
    finally:
        subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)

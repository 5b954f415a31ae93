"""A headless provider for a requestor team's pytest suite, driven only through the client:

    # conftest.py
    pytest_plugins = ["ota_provider.core.api.testing"]

    # test_my_requestor.py
    from ota_provider.core.ota.types import QueryImageStatus

    def test_busy_then_update(ota_provider):
        ota_provider.arm("queryImageStatus", "busy")
        ... # point the requestor at ota_provider.engine["port"] and let it query
        assert ota_provider.wait_for("QueryImageResponse").status == QueryImageStatus.BUSY

The fixture starts ``ota-provider --headless --control`` in its own process on a temporary state
directory (the demo fabric joined, so a requestor holding its file can talk to it at once), and
stops it afterwards. Give it other flags with ``@pytest.mark.ota_provider_flags("-P", "5")``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from .client import ControlClientError, ProviderClient

__all__ = ["headless_provider", "ota_provider"]

SAMPLE_IMAGE = Path(str(resources.files("ota_provider.sample_images") / "sample-fff1-8000-v3.ota"))


@contextlib.contextmanager
def headless_provider(
    state: Path, *flags: str, image: Path | None = None, timeout: float = 30.0, log: Path | None = None
) -> Iterator[ProviderClient]:
    """``ota-provider`` in its own process on ``state``, attached through its control socket."""
    state.mkdir(parents=True, exist_ok=True)
    socket_path = state / "control.sock"
    image_flags = [] if "--demo" in flags or "-f" in flags or "-o" in flags else ["-f", str(image or SAMPLE_IMAGE)]
    command = [
        sys.executable,
        "-m",
        "ota_provider.core.cli",
        *image_flags,
        "--headless",
        "--json",
        "--port",
        "0",
        "--storage",
        str(state),
        "--control",
        str(socket_path),
        "--demo-fabric",
        *flags,
    ]
    out = (log or state / "provider.log").open("w")
    proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        provider = _attach(socket_path, proc, timeout)
        try:
            yield provider
        finally:
            provider.close()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        out.close()


def _attach(socket_path: Path, proc: subprocess.Popen, timeout: float) -> ProviderClient:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise ControlClientError(
                f"the provider exited with status {proc.returncode} before its control socket "
                "opened (see provider.log in its state directory)"
            )
        if socket_path.exists():
            with contextlib.suppress(ControlClientError):
                return ProviderClient.attach(socket_path)
        if time.monotonic() > deadline:
            raise ControlClientError(f"no control socket at {socket_path} within {timeout:g} s")
        time.sleep(0.05)


# The pytest plugin: only where pytest is installed (a test extra), so headless_provider above
# serves any harness, pytest or not.
try:
    import pytest
except ImportError:
    pass
else:

    def pytest_configure(config: pytest.Config) -> None:
        config.addinivalue_line("markers", "ota_provider_flags(*flags): more ota-provider flags for the fixture")

    @pytest.fixture
    def ota_provider(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProviderClient]:
        marker = request.node.get_closest_marker("ota_provider_flags")
        flags = marker.args if marker else ()
        with headless_provider(tmp_path / "ota-provider", *flags) as provider:
            yield provider

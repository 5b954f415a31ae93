"""The ota-provider launcher: headless when not in a terminal, and the engine never loads Textual."""

from __future__ import annotations

import subprocess
import sys

from ota_provider.core.config import ProviderConfig
from ota_provider.core.ota.catalog import ImageCatalog
from ota_provider.tui import app as dashboard
from ota_provider.tui.launch import serve_dashboard
from tests.helpers.samples import SAMPLES


def test_core_and_the_headless_path_do_not_import_textual():
    code = (
        "import sys\n"
        "import ota_provider.core.cli, ota_provider.core.engine, ota_provider.tui.launch\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')], 'Textual loaded'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_without_a_terminal_the_launcher_is_headless():
    image = str(SAMPLES / "sample-fff1-8000-v3.ota")
    result = subprocess.run(
        [sys.executable, "-m", "ota_provider.tui.launch", "-f", image, "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and "Manual code: 3497-011-2332" in result.stdout


def test_a_dashboard_that_ends_on_an_error_exits_non_zero(tmp_path, monkeypatch, capsys):
    def crash(self):
        self._return_code = 1  # what Textual sets when an unhandled exception ends the app

    monkeypatch.setattr(dashboard.ProviderDashboard, "run", crash)
    image = SAMPLES / "sample-fff1-8000-v3.ota"
    config = ProviderConfig(filepath=image, port=0, storage=tmp_path)
    assert serve_dashboard(config, ImageCatalog.from_file(image), None) == 1
    assert "the dashboard stopped on an error" in capsys.readouterr().err

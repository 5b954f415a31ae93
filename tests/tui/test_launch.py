"""The ota-provider launcher: headless when not in a terminal, and the engine never loads Textual."""

from __future__ import annotations

import subprocess
import sys

from tests.ota.test_catalog import SAMPLES


def test_core_and_the_headless_path_do_not_import_textual():
    code = (
        "import sys\n"
        "import ota_provider.core.cli, ota_provider.core.engine, ota_provider.tui.launch\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')], 'Textual loaded'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_without_a_terminal_the_launcher_is_headless():
    image = str(SAMPLES / "sample-fff1-8000-v3.ota")
    result = subprocess.run([sys.executable, "-m", "ota_provider.tui.launch", "-f", image, "--check"],
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0 and "Manual code: 3497-011-2332" in result.stdout

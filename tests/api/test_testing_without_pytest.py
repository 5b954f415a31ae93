"""The headless provider helper serves a harness that has no pytest (pytest is a test extra)."""

import subprocess
import sys

SCRIPT = """
import sys
sys.modules["pytest"] = None  # as if it were not installed: importing it raises ImportError
import ota_provider.core.api.testing as testing
assert callable(testing.headless_provider) and not hasattr(testing, "ota_provider")
print("ok")
"""


def test_importing_the_helper_does_not_need_pytest():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# The fixture a requestor team's suite would load the same way (tests/api/test_client_example.py).
pytest_plugins = ["ota_provider.core.api.testing"]

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "default")

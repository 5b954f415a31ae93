"""OTA Software Update Provider (0x0029) on endpoint 0.

Its commands (QueryImage, ApplyUpdateRequest, NotifyUpdateApplied) are served by the OTA
engine, which registers them here; until then AcceptedCommandList is empty and an invoke
gets UNSUPPORTED_COMMAND, which is the truth.
"""

from __future__ import annotations

from ..im.model import Cluster


class OtaProviderCluster(Cluster):
    id = 0x0029
    revision = 1

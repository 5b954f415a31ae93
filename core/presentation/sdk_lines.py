"""The lines the SDK's ``chip-ota-provider-app`` prints that its certification scripts wait for
(``matter/testing/apps.py`` reads the provider's stdout); ``chip-ota-provider-app`` prints them."""

from __future__ import annotations

from ..api.events import EngineEvent, Listening, QueryImageAnswered

__all__ = ["QUERY_LINE", "READY_LINE", "sdk_lines"]

READY_LINE = "Server initialization complete"  # ready to be commissioned
QUERY_LINE = "OTA Provider received QueryImage"  # one per QueryImage answered (TC-SU-2.2 waits for it)


def sdk_lines(event: EngineEvent) -> list[str]:
    if isinstance(event, Listening):
        return [READY_LINE]
    if isinstance(event, QueryImageAnswered):
        return [QUERY_LINE]
    return []

"""OTA cluster enumerations (OTA_PROVIDER_SPEC.md §0) shared by the policy, provider and UI."""

from __future__ import annotations

import enum

__all__ = [
    "ApplyUpdateAction",
    "DownloadProtocol",
    "QueryImageStatus",
    "UpdateState",
    "UserConsentState",
    "update_state",
]


class QueryImageStatus(enum.IntEnum):
    UPDATE_AVAILABLE = 0
    BUSY = 1
    NOT_AVAILABLE = 2
    DOWNLOAD_PROTOCOL_NOT_SUPPORTED = 3


class ApplyUpdateAction(enum.IntEnum):
    PROCEED = 0
    AWAIT_NEXT_ACTION = 1
    DISCONTINUE = 2


class DownloadProtocol(enum.IntEnum):
    BDX_SYNCHRONOUS = 0
    BDX_ASYNCHRONOUS = 1
    HTTPS = 2
    VENDOR_SPECIFIC = 3


class UserConsentState(enum.Enum):
    """Provider-side consent, as the SDK's ``-u``: granted -> UpdateAvailable, denied -> NotAvailable,
    deferred (Obtaining) -> Busy."""

    GRANTED = "granted"
    DENIED = "denied"
    DEFERRED = "deferred"


class UpdateState(enum.IntEnum):
    """An OTA Requestor's UpdateStateEnum (Core spec 11.20.7.4.x), as a bench device reports it."""

    UNKNOWN = 0
    IDLE = 1
    QUERYING = 2
    DELAYED_ON_QUERY = 3
    DOWNLOADING = 4
    APPLYING = 5
    DELAYED_ON_APPLY = 6
    ROLLING_BACK = 7
    DELAYED_ON_USER_CONSENT = 8


def update_state(value: int | None) -> UpdateState | int:
    """A reported UpdateState as the enum; a number the spec does not name stays a number (a newer
    device's is shown, never dropped); nothing reported is Unknown."""
    if value is None:
        return UpdateState.UNKNOWN
    try:
        return UpdateState(value)
    except ValueError:
        return value

"""OTA cluster enumerations (OTA_PROVIDER_SPEC.md §0) shared by the policy, provider and UI."""

from __future__ import annotations

import enum

__all__ = ["ApplyUpdateAction", "DownloadProtocol", "QueryImageStatus", "UserConsentState"]


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

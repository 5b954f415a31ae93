"""OTA Software Update Provider command fields (OTA_PROVIDER_SPEC.md §0.1), as the spec tables."""

from __future__ import annotations

from dataclasses import dataclass

from ..codec.schema import Bool, EnumType, ListOf, OctetString, TLVStruct, UInt16, UInt32, Utf8String, tlv_field
from .types import ApplyUpdateAction, DownloadProtocol, QueryImageStatus

__all__ = [
    "APPLY_UPDATE_REQUEST",
    "APPLY_UPDATE_RESPONSE",
    "NOTIFY_UPDATE_APPLIED",
    "QUERY_IMAGE",
    "QUERY_IMAGE_RESPONSE",
    "ApplyUpdateRequest",
    "ApplyUpdateResponse",
    "NotifyUpdateApplied",
    "QueryImage",
    "QueryImageResponse",
]

QUERY_IMAGE, QUERY_IMAGE_RESPONSE, APPLY_UPDATE_REQUEST, APPLY_UPDATE_RESPONSE, NOTIFY_UPDATE_APPLIED = range(5)

UpdateToken = OctetString(8, 32)


@dataclass(frozen=True)
class QueryImage(TLVStruct):
    vendor_id: int = tlv_field(0, UInt16)
    product_id: int = tlv_field(1, UInt16)
    software_version: int = tlv_field(2, UInt32)
    protocols_supported: tuple = tlv_field(3, ListOf(EnumType(DownloadProtocol), max_items=8))
    hardware_version: int | None = tlv_field(4, UInt16, optional=True)
    location: str | None = tlv_field(5, Utf8String(2, 2), optional=True)
    requestor_can_consent: bool | None = tlv_field(6, Bool, optional=True)
    metadata_for_provider: bytes | None = tlv_field(7, OctetString(0, 512), optional=True)


@dataclass(frozen=True)
class QueryImageResponse(TLVStruct):
    status: QueryImageStatus = tlv_field(0, EnumType(QueryImageStatus))
    delayed_action_time: int | None = tlv_field(1, UInt32, optional=True)
    image_uri: str | None = tlv_field(2, Utf8String(0, 256), optional=True)
    software_version: int | None = tlv_field(3, UInt32, optional=True)
    software_version_string: str | None = tlv_field(4, Utf8String(1, 64), optional=True)
    update_token: bytes | None = tlv_field(5, UpdateToken, optional=True)
    user_consent_needed: bool | None = tlv_field(6, Bool, optional=True)
    metadata_for_requestor: bytes | None = tlv_field(7, OctetString(0, 512), optional=True)


@dataclass(frozen=True)
class ApplyUpdateRequest(TLVStruct):
    update_token: bytes = tlv_field(0, UpdateToken)
    new_version: int = tlv_field(1, UInt32)


@dataclass(frozen=True)
class ApplyUpdateResponse(TLVStruct):
    action: ApplyUpdateAction = tlv_field(0, EnumType(ApplyUpdateAction))
    delayed_action_time: int = tlv_field(1, UInt32)


@dataclass(frozen=True)
class NotifyUpdateApplied(TLVStruct):
    update_token: bytes = tlv_field(0, UpdateToken)
    software_version: int = tlv_field(1, UInt32)

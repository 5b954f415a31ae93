"""General Commissioning (0x0030): the fail-safe, regulatory config, CommissioningComplete."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..codec import tlv
from ..codec.im_status import ImStatus
from ..codec.schema import TLVStruct, UInt8, UInt16, UInt64, Utf8String, tlv_field
from ..codec.tlv import UInt
from ..fabric.acl import Privilege
from ..im.model import AttributeSpec, Cluster, CommandSpec, ImError, RequestContext
from ..session.secure import AuthMode
from .services import Commissioning

OK, VALUE_OUTSIDE_RANGE, INVALID_AUTHENTICATION, NO_FAIL_SAFE, BUSY_WITH_OTHER_ADMIN = 0, 1, 2, 3, 4
INDOOR, OUTDOOR, INDOOR_OUTDOOR = 0, 1, 2
FAILSAFE_EXPIRY_SECONDS = 60
MAX_CUMULATIVE_FAILSAFE_SECONDS = 900


@dataclass(frozen=True)
class ArmFailSafe(TLVStruct):
    expiry_length_seconds: int = tlv_field(0, UInt16)
    breadcrumb: int = tlv_field(1, UInt64)


@dataclass(frozen=True)
class SetRegulatoryConfig(TLVStruct):
    new_regulatory_config: int = tlv_field(0, UInt8)
    country_code: str = tlv_field(1, Utf8String(2, 2))
    breadcrumb: int = tlv_field(2, UInt64)


def _response(code: int, text: str = "") -> tlv.Structure:
    return tlv.Structure({0: UInt(code), 1: text})


class GeneralCommissioningCluster(Cluster):
    id = 0x0030
    revision = 1

    def __init__(self, services: Commissioning) -> None:
        super().__init__()
        self.services = services
        self.attribute(
            AttributeSpec(
                0x0000, lambda _c: UInt(self.breadcrumb), self._write_breadcrumb, write_privilege=Privilege.ADMINISTER
            )
        )
        self.constant(
            0x0001, tlv.Structure({0: UInt(FAILSAFE_EXPIRY_SECONDS), 1: UInt(MAX_CUMULATIVE_FAILSAFE_SECONDS)})
        )
        self.attribute(AttributeSpec(0x0002, lambda _c: UInt(self.regulatory_config)))
        self.constant(0x0003, UInt(INDOOR_OUTDOOR))
        self.constant(0x0004, True)
        self.command(CommandSpec(0x00, self._arm, Privilege.ADMINISTER, response_id=0x01))
        self.command(CommandSpec(0x02, self._set_regulatory, Privilege.ADMINISTER, response_id=0x03))
        self.command(CommandSpec(0x04, self._complete, Privilege.ADMINISTER, response_id=0x05, fabric_scoped=True))

    @property
    def breadcrumb(self) -> int:
        raw = self.services.get_setting("commissioning/breadcrumb")
        return struct.unpack("<Q", raw)[0] if raw else 0

    def _set_breadcrumb(self, value: int) -> None:
        self.services.set_setting("commissioning/breadcrumb", struct.pack("<Q", value))
        self.changed()

    def _write_breadcrumb(self, _ctx, value) -> None:
        if not isinstance(value, UInt):
            raise ImError(ImStatus.CONSTRAINT_ERROR)
        self._set_breadcrumb(int(value))

    @property
    def regulatory_config(self) -> int:
        raw = self.services.get_setting("commissioning/regulatory")
        return raw[0] if raw else INDOOR_OUTDOOR

    def _arm(self, ctx: RequestContext, fields) -> tuple[int, tlv.Structure]:
        request = ArmFailSafe.from_tlv(fields)
        failsafe = self.services.failsafe
        if failsafe.armed and failsafe.armed_by_fabric != ctx.fabric_index:
            return 0x01, _response(BUSY_WITH_OTHER_ADMIN, "fail-safe armed by another fabric")
        if request.expiry_length_seconds == 0:
            failsafe.expire()
        else:
            failsafe.arm(ctx.fabric_index, request.expiry_length_seconds)
        self._set_breadcrumb(request.breadcrumb)
        return 0x01, _response(OK)

    def _set_regulatory(self, _ctx, fields) -> tuple[int, tlv.Structure]:
        request = SetRegulatoryConfig.from_tlv(fields)
        if request.new_regulatory_config > INDOOR_OUTDOOR:
            return 0x03, _response(VALUE_OUTSIDE_RANGE, "unknown regulatory location")
        self.services.set_setting("commissioning/regulatory", bytes([request.new_regulatory_config]))
        # The country code is kept: BasicInformation's Location reads it back (as in the SDK).
        self.services.set_setting("basic/location", request.country_code.encode())
        self._set_breadcrumb(request.breadcrumb)
        return 0x03, _response(OK)

    def _complete(self, ctx: RequestContext, _fields) -> tuple[int, tlv.Structure]:
        failsafe = self.services.failsafe
        if not failsafe.armed:
            return 0x05, _response(NO_FAIL_SAFE, "fail-safe not armed")
        if ctx.session.auth_mode != AuthMode.CASE or failsafe.armed_by_fabric not in (0, ctx.fabric_index):
            return 0x05, _response(INVALID_AUTHENTICATION, "must be sent over CASE on the new fabric")
        if failsafe.added_fabric not in (None, ctx.fabric_index):
            return 0x05, _response(INVALID_AUTHENTICATION, "not the fabric being commissioned")
        failsafe.commit()
        self._set_breadcrumb(0)
        self.services.commissioning_complete(ctx.fabric_index)
        return 0x05, _response(OK)

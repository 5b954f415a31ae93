"""Basic Information (0x0028)."""

from __future__ import annotations

import secrets

from ..codec import tlv
from ..codec.im_status import ImStatus
from ..codec.tlv import UInt
from ..fabric.acl import Privilege
from ..im.model import AttributeSpec, Cluster, ImError
from ..securechannel.messages import DATA_MODEL_REVISION, MAX_PATHS_PER_INVOKE, SPECIFICATION_VERSION
from .services import Described

BASIC_INFORMATION_CLUSTER = 0x0028
START_UP, SHUT_DOWN = 0x00, 0x01


class BasicInformationCluster(Cluster):
    id = 0x0028
    revision = 3

    def __init__(self, services: Described) -> None:
        super().__init__()
        self.services = services
        info = services.info
        unique_id = services.get_setting("basic/unique-id")
        if unique_id is None:
            unique_id = secrets.token_hex(16).upper().encode()
            services.set_setting("basic/unique-id", unique_id)
        self.constant(0x0000, UInt(DATA_MODEL_REVISION))
        self.constant(0x0001, info.vendor_name)
        self.constant(0x0002, UInt(info.vendor_id))
        self.constant(0x0003, info.product_name)
        self.constant(0x0004, UInt(info.product_id))
        self.attribute(
            AttributeSpec(
                0x0005,
                lambda _c: self._text("basic/node-label", ""),
                self._write_label,
                write_privilege=Privilege.MANAGE,
            )
        )
        self.attribute(
            AttributeSpec(
                0x0006,
                lambda _c: self._text("basic/location", "XX"),
                self._write_location,
                write_privilege=Privilege.ADMINISTER,
            )
        )
        self.constant(0x0007, UInt(info.hardware_version))
        self.constant(0x0008, info.hardware_version_string)
        self.constant(0x0009, UInt(info.software_version))
        self.constant(0x000A, info.software_version_string)
        self.constant(0x000F, info.serial_number)
        self.constant(0x0012, unique_id.decode())
        self.constant(0x0013, tlv.Structure({0: UInt(3), 1: UInt(3)}))
        self.constant(0x0015, UInt(SPECIFICATION_VERSION))
        self.constant(0x0016, UInt(MAX_PATHS_PER_INVOKE))
        self.event(START_UP)
        self.event(SHUT_DOWN)

    def _text(self, key: str, default: str) -> str:
        value = self.services.get_setting(key)
        return value.decode() if value is not None else default

    def _write_label(self, _ctx, value) -> None:
        if not isinstance(value, str) or len(value.encode()) > 32:
            raise ImError(ImStatus.CONSTRAINT_ERROR)
        self.services.set_setting("basic/node-label", value.encode())

    def _write_location(self, _ctx, value) -> None:
        if not isinstance(value, str) or len(value.encode()) != 2:
            raise ImError(ImStatus.CONSTRAINT_ERROR)
        self.services.set_setting("basic/location", value.encode())

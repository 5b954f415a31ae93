"""Group Key Management (0x003F). Groups are not supported: the only key set is the IPK (0)."""

from __future__ import annotations

from dataclasses import dataclass

from ..codec import tlv
from ..codec.im_status import ImStatus
from ..codec.schema import TLVStruct, UInt16, tlv_field
from ..codec.tlv import UInt
from ..fabric.acl import Privilege
from ..im.model import AttributeSpec, Cluster, CommandSpec, ImError, RequestContext
from .services import Fabrics

IPK_KEY_SET = 0


@dataclass(frozen=True)
class KeySetRead(TLVStruct):
    group_key_set_id: int = tlv_field(0, UInt16)


class GroupKeyManagementCluster(Cluster):
    id = 0x003F
    revision = 1

    def __init__(self, services: Fabrics) -> None:
        super().__init__()
        self.services = services
        manage, admin = Privilege.MANAGE, Privilege.ADMINISTER
        self.attribute(
            AttributeSpec(
                0x0000, lambda _c: tlv.Array(), self._refuse, write_privilege=manage, is_list=True, fabric_scoped=True
            )
        )
        self.attribute(AttributeSpec(0x0001, lambda _c: tlv.Array(), is_list=True, fabric_scoped=True))
        self.constant(0x0002, UInt(0))
        self.constant(0x0003, UInt(1))
        self.command(CommandSpec(0x00, self._key_set_write, admin, fabric_scoped=True))
        self.command(CommandSpec(0x01, self._key_set_read, admin, response_id=0x02, fabric_scoped=True))
        self.command(CommandSpec(0x03, self._key_set_remove, admin, fabric_scoped=True))
        self.command(CommandSpec(0x04, self._key_set_indices, admin, response_id=0x05, fabric_scoped=True))

    def _refuse(self, _ctx, op) -> None:
        value, appending = op
        if appending or (isinstance(value, tlv.Array) and len(value) > 0):
            raise ImError(ImStatus.RESOURCE_EXHAUSTED, reason="groups are not supported")

    def _key_set_write(self, _ctx, _fields) -> None:
        raise ImError(ImStatus.RESOURCE_EXHAUSTED, reason="only the IPK key set exists")

    def _key_set_read(self, ctx: RequestContext, fields):
        key_set = KeySetRead.from_tlv(fields).group_key_set_id
        if key_set != IPK_KEY_SET or self.services.fabrics.get(ctx.fabric_index) is None:
            raise ImError(ImStatus.NOT_FOUND)
        # Key values are never read back.
        return 0x02, tlv.Structure(
            {0: tlv.Structure({0: UInt(IPK_KEY_SET), 1: UInt(0), 2: None, 3: None, 4: None, 5: None, 6: None, 7: None})}
        )

    def _key_set_remove(self, _ctx, fields) -> None:
        key_set = KeySetRead.from_tlv(fields).group_key_set_id
        raise ImError(ImStatus.INVALID_COMMAND if key_set == IPK_KEY_SET else ImStatus.NOT_FOUND)

    def _key_set_indices(self, _ctx, _fields):
        return 0x05, tlv.Structure({0: tlv.Array([UInt(IPK_KEY_SET)])})

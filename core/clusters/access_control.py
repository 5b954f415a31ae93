"""Access Control (0x001F): the fabric-scoped ACL list, with list-replace and append writes."""

from __future__ import annotations

from ..codec import tlv
from ..codec.im_status import ImStatus
from ..codec.tlv import UInt
from ..fabric.acl import (
    MAX_ENTRIES_PER_FABRIC,
    MAX_SUBJECTS_PER_ENTRY,
    MAX_TARGETS_PER_ENTRY,
    AccessControlEntry,
    AclError,
    Privilege,
)
from ..im.model import AttributeSpec, Cluster, ImError, RequestContext
from .services import NodeServices


class AccessControlCluster(Cluster):
    id = 0x001F
    revision = 1

    def __init__(self, services: NodeServices) -> None:
        super().__init__()
        self.services = services
        admin = Privilege.ADMINISTER
        # Privilege, AuthMode, Subjects and Targets are fabric-sensitive; only FabricIndex is not.
        self.attribute(AttributeSpec(0x0000, self._read, self._write, read_privilege=admin, write_privilege=admin,
                                     is_list=True, fabric_scoped=True, sensitive_fields=(1, 2, 3, 4)))  # fmt: skip
        self.constant(0x0002, UInt(MAX_SUBJECTS_PER_ENTRY))
        self.constant(0x0003, UInt(MAX_TARGETS_PER_ENTRY))
        self.constant(0x0004, UInt(MAX_ENTRIES_PER_FABRIC))

    def _read(self, _ctx) -> tlv.Array:
        return tlv.Array(entry.to_tlv() for entry in self.services.acl.entries)

    def _write(self, ctx: RequestContext, op) -> None:
        value, appending = op
        if ctx.fabric_index == 0:
            raise ImError(ImStatus.UNSUPPORTED_ACCESS, reason="the ACL is fabric-scoped")
        try:
            if appending:
                entries = [*self.services.acl.for_fabric(ctx.fabric_index),
                           AccessControlEntry.from_tlv(value, ctx.fabric_index)]  # fmt: skip
            else:
                if not isinstance(value, tlv.Array):
                    raise ImError(ImStatus.CONSTRAINT_ERROR, reason="the ACL must be written as a list")
                entries = [AccessControlEntry.from_tlv(item, ctx.fabric_index) for item in value]
        except AclError as exc:
            raise ImError(ImStatus.CONSTRAINT_ERROR, reason=str(exc)) from None
        if len(entries) > MAX_ENTRIES_PER_FABRIC:
            raise ImError(ImStatus.RESOURCE_EXHAUSTED)
        self.services.replace_acl(ctx.fabric_index, entries)

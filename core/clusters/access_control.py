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
    SubjectDescriptor,
)
from ..im.events import EventLog, Priority
from ..im.model import AttributeSpec, Cluster, ImError, RequestContext
from ..session.secure import AuthMode
from .services import AccessControlStore

ACCESS_CONTROL_CLUSTER = 0x001F
ACCESS_CONTROL_ENTRY_CHANGED = 0x00
CHANGED, ADDED, REMOVED = 0, 1, 2  # ChangeTypeEnum


def record_acl_changes(
    events: EventLog,
    fabric_index: int,
    old: list[AccessControlEntry],
    new: list[AccessControlEntry],
    by: SubjectDescriptor | None,
) -> None:
    """AccessControlEntryChanged events for a fabric's list going from ``old`` to ``new``, entry by
    position. ``by`` is the writer (None: the commissioner's PASE session, as at AddNOC). The
    event is fabric-sensitive: only that fabric reads it."""
    over_case = by is not None and by.auth_mode == AuthMode.CASE
    admin_node = UInt(by.subject) if over_case else None  # type: ignore[union-attr]
    admin_passcode = None if over_case else UInt(0)  # PASE with the default passcode: PasscodeID 0
    for position in range(max(len(old), len(new))):
        before = old[position] if position < len(old) else None
        after = new[position] if position < len(new) else None
        if before == after:
            continue
        change = ADDED if before is None else REMOVED if after is None else CHANGED
        latest = (after or before).to_tlv()  # type: ignore[union-attr]
        events.record(
            0,
            ACCESS_CONTROL_CLUSTER,
            ACCESS_CONTROL_ENTRY_CHANGED,
            Priority.INFO,
            tlv.Structure(
                {
                    1: admin_node,
                    2: admin_passcode,
                    3: UInt(change),
                    4: latest,
                    0xFE: UInt(fabric_index),
                }
            ),
            fabric_index=fabric_index,
        )


class AccessControlCluster(Cluster):
    id = 0x001F
    revision = 1

    def __init__(self, services: AccessControlStore) -> None:
        super().__init__()
        self.services = services
        admin = Privilege.ADMINISTER
        # Privilege, AuthMode, Subjects and Targets are fabric-sensitive; only FabricIndex is not.
        self.attribute(
            AttributeSpec(
                0x0000,
                self._read,
                self._write,
                read_privilege=admin,
                write_privilege=admin,
                is_list=True,
                fabric_scoped=True,
                sensitive_fields=(1, 2, 3, 4),
            )
        )
        self.constant(0x0002, UInt(MAX_SUBJECTS_PER_ENTRY))
        self.constant(0x0003, UInt(MAX_TARGETS_PER_ENTRY))
        self.constant(0x0004, UInt(MAX_ENTRIES_PER_FABRIC))
        self.event(ACCESS_CONTROL_ENTRY_CHANGED, Privilege.ADMINISTER)

    def _read(self, _ctx) -> tlv.Array:
        return tlv.Array(entry.to_tlv() for entry in self.services.acl.entries)

    def _write(self, ctx: RequestContext, op) -> None:
        value, appending = op
        if ctx.fabric_index == 0:
            raise ImError(ImStatus.UNSUPPORTED_ACCESS, reason="the ACL is fabric-scoped")
        try:
            if appending:
                entries = [
                    *self.services.acl.for_fabric(ctx.fabric_index),
                    AccessControlEntry.from_tlv(value, ctx.fabric_index),
                ]
            else:
                if not isinstance(value, tlv.Array):
                    raise ImError(ImStatus.CONSTRAINT_ERROR, reason="the ACL must be written as a list")
                entries = [AccessControlEntry.from_tlv(item, ctx.fabric_index) for item in value]
        except AclError as exc:
            raise ImError(ImStatus.CONSTRAINT_ERROR, reason=str(exc)) from None
        if len(entries) > MAX_ENTRIES_PER_FABRIC:
            raise ImError(ImStatus.RESOURCE_EXHAUSTED)
        self.services.replace_acl(ctx.fabric_index, entries, changed_by=ctx.subject)

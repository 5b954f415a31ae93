"""Access control: ACL entries, their validation, and the access check (Core spec 6.6).

First matching entry allows; none denies. PASE sessions (commissioning only) have implicit
Administer over the whole node.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..codec import tlv
from ..codec.tlv import UInt
from ..session.secure import AuthMode

__all__ = [
    "AccessControl",
    "AccessControlEntry",
    "AccessControlTarget",
    "AclError",
    "Privilege",
    "SubjectDescriptor",
    "is_cat_subject",
]

FABRIC_INDEX_TAG = 0xFE
MAX_SUBJECTS_PER_ENTRY = 4
MAX_TARGETS_PER_ENTRY = 3
MAX_ENTRIES_PER_FABRIC = 4

_CAT_PREFIX = 0xFFFF_FFFD_0000_0000
_OPERATIONAL_MAX = 0xFFFF_FFEF_FFFF_FFFF


class Privilege(enum.IntEnum):
    VIEW = 1
    PROXY_VIEW = 2
    OPERATE = 3
    MANAGE = 4
    ADMINISTER = 5

    def grants(self, requested: Privilege) -> bool:
        if self == Privilege.ADMINISTER:
            return True
        if self == Privilege.PROXY_VIEW:
            return requested in (Privilege.PROXY_VIEW, Privilege.VIEW)
        return requested != Privilege.PROXY_VIEW and requested <= self


class AclError(ValueError):
    """An entry the ACL attribute must refuse (the server answers CONSTRAINT_ERROR)."""


def is_cat_subject(subject: int) -> bool:
    return subject & 0xFFFF_FFFF_0000_0000 == _CAT_PREFIX


@dataclass(frozen=True)
class AccessControlTarget:
    cluster: int | None = None
    endpoint: int | None = None
    device_type: int | None = None

    def to_tlv(self) -> tlv.Structure:
        return tlv.Structure(
            {
                0: None if self.cluster is None else UInt(self.cluster),
                1: None if self.endpoint is None else UInt(self.endpoint),
                2: None if self.device_type is None else UInt(self.device_type),
            }
        )

    @classmethod
    def from_tlv(cls, value: Any) -> AccessControlTarget:
        if not isinstance(value, tlv.Structure):
            raise AclError("a target must be a structure")
        fields = []
        for tag, bits in ((0, 32), (1, 16), (2, 32)):
            item = value.get(tag)
            if item is not None and (not isinstance(item, UInt) or item >= 1 << bits):
                raise AclError(f"target field {tag} must be null or an unsigned {bits}-bit integer")
            fields.append(None if item is None else int(item))
        return cls(*fields)


@dataclass(frozen=True)
class AccessControlEntry:
    fabric_index: int
    privilege: Privilege
    auth_mode: AuthMode
    subjects: tuple[int, ...] = ()  # empty: any subject with that auth mode on the fabric
    targets: tuple[AccessControlTarget, ...] = ()  # empty: the whole node

    def to_tlv(self) -> tlv.Structure:
        return tlv.Structure(
            {
                1: UInt(self.privilege),
                2: UInt(self.auth_mode),
                3: tlv.Array(UInt(s) for s in self.subjects) if self.subjects else None,
                4: tlv.Array(t.to_tlv() for t in self.targets) if self.targets else None,
                FABRIC_INDEX_TAG: UInt(self.fabric_index),
            }
        )

    @classmethod
    def from_tlv(cls, value: Any, fabric_index: int) -> AccessControlEntry:
        """Decode a written entry; the fabric index always comes from the accessing fabric."""
        if not isinstance(value, tlv.Structure):
            raise AclError("an ACL entry must be a structure")
        try:
            privilege, auth_mode = Privilege(_number(value.get(1))), AuthMode(_number(value.get(2)))
        except ValueError:
            raise AclError("unknown privilege or auth mode") from None
        subjects, targets = value.get(3), value.get(4)
        if subjects is not None and not (
            isinstance(subjects, tlv.Array) and all(isinstance(s, UInt) for s in subjects)
        ):
            raise AclError("subjects must be null or a list of unsigned integers")
        if targets is not None and not isinstance(targets, tlv.Array):
            raise AclError("targets must be null or a list")
        entry = cls(
            fabric_index=fabric_index,
            privilege=privilege,
            auth_mode=auth_mode,
            subjects=tuple(int(s) for s in subjects or ()),
            targets=tuple(AccessControlTarget.from_tlv(t) for t in targets or ()),
        )
        entry.validate()
        return entry

    def validate(self) -> None:
        if self.auth_mode == AuthMode.PASE:
            raise AclError("entries cannot grant PASE access")
        if self.auth_mode == AuthMode.GROUP and self.privilege == Privilege.ADMINISTER:
            raise AclError("groups cannot be granted Administer")
        if len(self.subjects) > MAX_SUBJECTS_PER_ENTRY or len(self.targets) > MAX_TARGETS_PER_ENTRY:
            raise AclError("too many subjects or targets")
        for subject in self.subjects:
            if self.auth_mode == AuthMode.CASE:
                valid = 1 <= subject <= _OPERATIONAL_MAX or (is_cat_subject(subject) and subject & 0xFFFF != 0)
            else:
                valid = 1 <= subject <= 0xFFFF
            if not valid:
                raise AclError(f"subject 0x{subject:X} is not valid for {self.auth_mode.name}")
        for target in self.targets:
            if target.cluster is None and target.endpoint is None and target.device_type is None:
                raise AclError("a target must name a cluster, an endpoint or a device type")
            if target.endpoint is not None and target.device_type is not None:
                raise AclError("a target cannot name both an endpoint and a device type")


@dataclass(frozen=True)
class SubjectDescriptor:
    fabric_index: int
    auth_mode: AuthMode
    subject: int
    cats: tuple[int, ...] = ()

    def matches(self, entry_subject: int) -> bool:
        if is_cat_subject(entry_subject):
            wanted_id, wanted_version = (entry_subject >> 16) & 0xFFFF, entry_subject & 0xFFFF
            return any(cat >> 16 == wanted_id and cat & 0xFFFF >= wanted_version for cat in self.cats)
        return entry_subject == self.subject


class AccessControl:
    """The node's ACL, per fabric, in list order."""

    def __init__(self, entries: Iterable[AccessControlEntry] = ()) -> None:
        self.entries: list[AccessControlEntry] = list(entries)

    def for_fabric(self, fabric_index: int) -> list[AccessControlEntry]:
        return [e for e in self.entries if e.fabric_index == fabric_index]

    def replace_fabric(self, fabric_index: int, entries: list[AccessControlEntry]) -> None:
        if len(entries) > MAX_ENTRIES_PER_FABRIC:
            raise AclError(f"at most {MAX_ENTRIES_PER_FABRIC} entries per fabric")
        self.entries = [e for e in self.entries if e.fabric_index != fabric_index] + entries

    def remove_fabric(self, fabric_index: int) -> None:
        self.entries = [e for e in self.entries if e.fabric_index != fabric_index]

    def check(
        self,
        subject: SubjectDescriptor,
        *,
        endpoint: int,
        cluster: int,
        privilege: Privilege,
        device_types: Iterable[int] = (),
    ) -> bool:
        if subject.auth_mode == AuthMode.PASE:
            return True
        device_types = set(device_types)
        for entry in self.entries:
            if entry.fabric_index != subject.fabric_index or entry.auth_mode != subject.auth_mode:
                continue
            if not entry.privilege.grants(privilege):
                continue
            if entry.subjects and not any(subject.matches(s) for s in entry.subjects):
                continue
            if entry.targets and not any(
                (t.cluster is None or t.cluster == cluster)
                and (t.endpoint is None or t.endpoint == endpoint)
                and (t.device_type is None or t.device_type in device_types)
                for t in entry.targets
            ):
                continue
            return True
        return False


def _number(value: object) -> int:
    if not isinstance(value, int):
        raise ValueError("not a number")
    return value

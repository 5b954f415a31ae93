"""Access control rules of Core spec 6.6 (privilege inheritance, CATs, targets, entry validation)."""

from __future__ import annotations

import pytest

from ota_provider.core.codec import tlv
from ota_provider.core.codec.tlv import UInt
from ota_provider.core.fabric.acl import (
    AccessControl,
    AccessControlEntry,
    AccessControlTarget,
    AclError,
    Privilege,
    SubjectDescriptor,
)
from ota_provider.core.session.secure import AuthMode

P = Privilege


@pytest.mark.parametrize(
    ("held", "granted"),
    [
        (P.VIEW, {P.VIEW}),
        (P.PROXY_VIEW, {P.PROXY_VIEW, P.VIEW}),
        (P.OPERATE, {P.OPERATE, P.VIEW}),
        (P.MANAGE, {P.MANAGE, P.OPERATE, P.VIEW}),
        (P.ADMINISTER, set(P)),
    ],
)
def test_privilege_inheritance(held, granted):
    assert {p for p in P if held.grants(p)} == granted


def subject(node=0x1B669, fabric=1, cats=()):
    return SubjectDescriptor(fabric, AuthMode.CASE, node, cats)


def test_first_matching_entry_allows_and_fabric_and_auth_mode_must_match():
    acl = AccessControl([AccessControlEntry(1, P.OPERATE, AuthMode.CASE, targets=(AccessControlTarget(cluster=0x29),))])
    assert acl.check(subject(), endpoint=0, cluster=0x29, privilege=P.OPERATE)
    assert not acl.check(subject(), endpoint=0, cluster=0x28, privilege=P.VIEW)
    assert not acl.check(subject(fabric=2), endpoint=0, cluster=0x29, privilege=P.OPERATE)
    assert not acl.check(subject(), endpoint=0, cluster=0x29, privilege=P.MANAGE)


def test_pase_has_implicit_administer():
    pase = SubjectDescriptor(0, AuthMode.PASE, 0)
    assert AccessControl().check(pase, endpoint=0, cluster=0x1F, privilege=P.ADMINISTER)


def test_cat_subjects_match_identifier_and_minimum_version():
    acl = AccessControl([AccessControlEntry(1, P.VIEW, AuthMode.CASE, subjects=(0xFFFF_FFFD_ABCD_0002,))])
    assert acl.check(subject(cats=(0xABCD0002,)), endpoint=0, cluster=1, privilege=P.VIEW)
    assert acl.check(subject(cats=(0xABCD0003,)), endpoint=0, cluster=1, privilege=P.VIEW)
    assert not acl.check(subject(cats=(0xABCD0001,)), endpoint=0, cluster=1, privilege=P.VIEW)
    assert not acl.check(subject(cats=(0xABCE0002,)), endpoint=0, cluster=1, privilege=P.VIEW)


def test_device_type_and_endpoint_targets():
    acl = AccessControl(
        [
            AccessControlEntry(
                1,
                P.VIEW,
                AuthMode.CASE,
                targets=(AccessControlTarget(device_type=0x0014), AccessControlTarget(endpoint=3)),
            )
        ]
    )
    assert acl.check(subject(), endpoint=1, cluster=6, privilege=P.VIEW, device_types=[0x0014])
    assert acl.check(subject(), endpoint=3, cluster=6, privilege=P.VIEW)
    assert not acl.check(subject(), endpoint=2, cluster=6, privilege=P.VIEW, device_types=[0x0016])


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({1: UInt(5), 2: UInt(1), 3: None, 4: None}, "PASE"),
        ({1: UInt(5), 2: UInt(3), 3: None, 4: None}, "Administer"),
        ({1: UInt(3), 2: UInt(2), 3: tlv.Array([UInt(0)]), 4: None}, "subject 0x0"),
        ({1: UInt(3), 2: UInt(2), 3: tlv.Array([UInt(0xFFFF_FFFD_0001_0000)]), 4: None}, "not valid"),
        ({1: UInt(3), 2: UInt(3), 3: tlv.Array([UInt(0x10000)]), 4: None}, "not valid"),
        ({1: UInt(3), 2: UInt(2), 3: None, 4: tlv.Array([tlv.Structure({0: None, 1: None, 2: None})])}, "must name"),
        ({1: UInt(3), 2: UInt(2), 3: None, 4: tlv.Array([tlv.Structure({1: UInt(1), 2: UInt(2)})])}, "both"),
        ({1: UInt(9), 2: UInt(2)}, "unknown privilege"),
        ({1: UInt(3), 2: UInt(2), 3: tlv.Array([UInt(1)] * 5)}, "too many"),
    ],
)
def test_entry_validation(entry, message):
    with pytest.raises(AclError, match=message):
        AccessControlEntry.from_tlv(tlv.Structure(entry), fabric_index=1)


def test_entry_tlv_round_trip_uses_the_accessing_fabric():
    entry = AccessControlEntry(1, P.OPERATE, AuthMode.CASE, targets=(AccessControlTarget(cluster=0x29),))
    written = entry.to_tlv()
    written[0xFE] = UInt(7)  # a client cannot choose the fabric
    assert AccessControlEntry.from_tlv(written, fabric_index=3) == AccessControlEntry(
        3, P.OPERATE, AuthMode.CASE, targets=(AccessControlTarget(cluster=0x29),)
    )

"""Network Commissioning (0x0031), Ethernet feature: the network is managed by the host."""

from __future__ import annotations

from ..codec import tlv
from ..codec.tlv import UInt
from ..fabric.acl import Privilege
from ..im.model import AttributeSpec, Cluster

ETHERNET_FEATURE = 0x4


class NetworkCommissioningCluster(Cluster):
    id = 0x0031
    revision = 1
    feature_map = ETHERNET_FEATURE

    def __init__(self, interface: str = "eth0") -> None:
        super().__init__()
        admin = Privilege.ADMINISTER
        self.attribute(AttributeSpec(0x0000, lambda _c: UInt(1), read_privilege=admin))
        self.attribute(
            AttributeSpec(
                0x0001,
                lambda _c: tlv.Array([tlv.Structure({0: interface.encode(), 1: True})]),
                read_privilege=admin,
                is_list=True,
            )
        )
        self.attribute(AttributeSpec(0x0004, lambda _c: True, lambda _c, _v: None, write_privilege=admin))
        self.constant(0x0005, None)
        self.constant(0x0006, None)
        self.constant(0x0007, None)

"""Descriptor (0x001D)."""

from __future__ import annotations

from ..codec import tlv
from ..codec.tlv import UInt
from ..im.model import AttributeSpec, Cluster, DataModel, Endpoint


class DescriptorCluster(Cluster):
    id = 0x001D
    revision = 2

    def __init__(self, model: DataModel, endpoint: Endpoint) -> None:
        super().__init__()
        self.attribute(
            AttributeSpec(
                0x0000,
                lambda _c: tlv.Array(
                    tlv.Structure({0: UInt(device_type), 1: UInt(revision)})
                    for device_type, revision in endpoint.device_types
                ),
                is_list=True,
            )
        )
        self.attribute(
            AttributeSpec(0x0001, lambda _c: tlv.Array(UInt(c) for c in sorted(endpoint.clusters)), is_list=True)
        )
        self.attribute(AttributeSpec(0x0002, lambda _c: tlv.Array(), is_list=True))
        self.attribute(
            AttributeSpec(
                0x0003,
                lambda _c: tlv.Array(UInt(e) for e in sorted(model.endpoints) if endpoint.id == 0 and e != 0),
                is_list=True,
            )
        )

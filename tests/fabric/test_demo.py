"""The demo fabric: saved with mode 0600, reloaded to the same root, joined once by the node."""

from __future__ import annotations

import stat

import pytest

from ota_provider.core.fabric.demo import DemoFabric, DemoFabricError
from ota_provider.core.node import MatterNode, NodeConfig


def test_save_and_load_keep_the_root_and_ipk(tmp_path):
    path = tmp_path / "demo-fabric.json"
    demo = DemoFabric.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = DemoFabric.load(path)
    a, b = demo.fabric_for(0x10), again.fabric_for(0x11)
    assert (a.root_public_key, a.fabric_id, a.ipk) == (b.root_public_key, b.fabric_id, b.ipk)


@pytest.mark.parametrize("text", ["", "{}", '{"rootKey": "x"}', "[1]"])
def test_a_bad_file_is_a_clear_error(tmp_path, text):
    path = tmp_path / "demo-fabric.json"
    path.write_text(text)
    with pytest.raises(DemoFabricError, match="not a demo fabric file"):
        DemoFabric.load(path)


def test_the_node_joins_once_with_an_operate_entry_for_ota(tmp_path):
    demo = DemoFabric.generate()
    config = NodeConfig(storage=tmp_path, passcode=20202021, discriminator=3840, port=0)
    node = MatterNode(config)
    first = node.admin.join_demo_fabric(demo)
    assert node.admin.join_demo_fabric(demo).fabric_index == first.fabric_index and len(node.fabrics) == 1
    (entry,) = node.admin.acl.for_fabric(first.fabric_index)
    assert entry.privilege.name == "OPERATE" and [t.cluster for t in entry.targets] == [0x0029]
    node.stop()
    reopened = MatterNode(config)
    assert reopened.admin.join_demo_fabric(demo).fabric_index == first.fabric_index
    reopened.stop()

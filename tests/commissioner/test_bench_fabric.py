"""The bench fabric is minted once and kept; node ids are never handed out twice."""

from __future__ import annotations

import pytest

from ota_provider.core.commissioner.bench_fabric import CAT_SUBJECT, BenchFabric, BenchFabricError
from ota_provider.core.commissioner.device_store import DeviceRecord, DeviceStore
from ota_provider.core.crypto.certificates import MatterCertificate
from ota_provider.core.fabric.acl import AccessControlTarget, Privilege
from ota_provider.core.storage.database import Database


def test_minted_once_and_kept_across_restarts(tmp_path):
    db = Database(tmp_path / "state.sqlite3")
    first = BenchFabric.load_or_create(db)
    assert [first.allocate_node_id(db), first.allocate_node_id(db)] == [0x10, 0x11]
    db.close()
    again = BenchFabric.load_or_create(Database(tmp_path / "state.sqlite3"))
    assert again.fabric_id == first.fabric_id and again.authority.rcac.to_tlv() == first.authority.rcac.to_tlv()
    assert again.next_node_id == 0x12  # a restart never hands 0x10 or 0x11 out again


def test_a_chosen_node_id_is_checked(tmp_path):
    db = Database(tmp_path / "state.sqlite3")
    bench = BenchFabric.load_or_create(db)
    assert bench.allocate_node_id(db, 0x1234) == 0x1234 and bench.next_node_id == 0x1235
    for bad in (0, bench.provider_node_id, 0xFFFF_FFFD_0000_0001):
        with pytest.raises(BenchFabricError, match="not an operational node id"):
            bench.allocate_node_id(db, bad)


def test_a_damaged_record_says_so(tmp_path):
    db = Database(tmp_path / "state.sqlite3")
    db.set_setting("bench/fabric", b"{not json")
    with pytest.raises(BenchFabricError, match="damaged"):
        BenchFabric.load_or_create(db)


def test_devices_get_the_cat_that_our_one_ota_entry_names(tmp_path):
    db = Database(tmp_path / "state.sqlite3")
    bench = BenchFabric.load_or_create(db)
    device = bench.authority.join(0x10)  # any key: what matters is the NOC's subject
    noc = bench.device_noc(0x10, device.operational_key.public_key())
    assert 0xBE0C_0001 in MatterCertificate.from_tlv(noc.to_tlv()).subject.cats
    (entry,) = BenchFabric.acl_entries(3)
    assert (entry.fabric_index, entry.privilege, entry.subjects) == (3, Privilege.OPERATE, (CAT_SUBJECT,))
    assert entry.targets == (AccessControlTarget(cluster=0x0029),)


def test_device_records_survive_and_update(tmp_path):
    db = Database(tmp_path / "state.sqlite3")
    store = DeviceStore(db, clock=lambda: 100.0)
    store.save(DeviceRecord(0x10, 2, 0xFFF1, 0x8000, "fd42:cafe::1", 5551, "attestation: test device", 99.0))
    store.update(0x10, software_version=1, state="Idle")
    (record,) = DeviceStore(Database(tmp_path / "state.sqlite3")).all()
    assert (record.node_id, record.software_version, record.state, record.updated) == (0x10, 1, "Idle", 100.0)
    assert store.update(0x99, state="x") is None

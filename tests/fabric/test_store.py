"""Fabrics survive a restart through the state database, keys included."""

from __future__ import annotations

import dataclasses

import pytest

from ota_provider.core.fabric.authority import FabricAuthority
from ota_provider.core.fabric.store import FabricStore
from ota_provider.core.fabric.table import FabricError
from ota_provider.core.storage.database import Database


def test_fabrics_round_trip_through_the_database(tmp_path):
    authority = FabricAuthority(fabric_id=0x1D)
    store = FabricStore(Database(tmp_path / "s.db"))
    first = authority.join(0x64, fabric_index=1, label="bench")
    second = FabricAuthority(fabric_id=0x2E).join(0x65, fabric_index=2)
    store.save(first)
    store.save(second)
    store.save(dataclasses.replace(first, label="renamed"))
    store.remove(2)
    reloaded = FabricStore(Database(tmp_path / "s.db")).load()
    (fabric,) = list(reloaded)
    assert (fabric.fabric_index, fabric.node_id, fabric.label) == (1, 0x64, "renamed")
    assert fabric.ipk == first.ipk
    assert fabric.operational_key.private_numbers() == first.operational_key.private_numbers()


def test_duplicate_fabric_is_refused(tmp_path):
    authority = FabricAuthority(fabric_id=0x1D)
    store = FabricStore(Database(tmp_path / "s.db"))
    store.save(authority.join(0x64, fabric_index=1))
    with pytest.raises(FabricError, match="already on that fabric"):
        store.save(authority.join(0x64, fabric_index=2))
    assert [row[0] for row in store.db.query("SELECT fabric_index FROM fabrics")] == [1]

"""Fabric identifiers: the spec's compressed fabric id example, IPK derivation, table rules."""

from __future__ import annotations

from ota_provider.core.fabric.table import compressed_fabric_id, operational_group_key


def test_compressed_fabric_id_spec_example():
    # Core spec 4.3.2.2 example: root public key and fabric id 0x2906C908D115D362.
    root = bytes.fromhex(
        "044a9f42b1ca4840d37292bbc7f6a7e11e22200c976fc900dbc98a7a383a641cb8"
        "254a2e56d4e295a847943b4e3897c4a773e930277b4d9fbede8a052686bfacfa"
    )
    assert compressed_fabric_id(root, 0x2906C908D115D362).hex().upper() == "87E1B004E235A130"


def test_ipk_derivation_is_hkdf_group_key():
    key = operational_group_key(b"temporary ipk 01", bytes.fromhex("87E1B004E235A130"))
    assert len(key) == 16
    assert key != operational_group_key(b"temporary ipk 02", bytes.fromhex("87E1B004E235A130"))

"""Network Commissioning (0x0031) as the commissioner drives it for a BLE device: the interface by
feature, the commands' fields, and each refusal in words. The device here answers as the cluster's
tables say (Core spec 11.9); the run against a real matter.js device is
tests/interop/test_ble_commissioning.py."""

from __future__ import annotations

import asyncio

import pytest

from ota_provider.core.codec import tlv
from ota_provider.core.commissioner.network_credentials import WifiCredentials, parse_thread_dataset
from ota_provider.core.commissioner.network_setup import (
    NETWORK_COMMISSIONING,
    NetworkRefused,
    add_network,
    connect_network,
    find_interface,
)

BENCH = WifiCredentials(b"BenchNet", b"correct horse")
DATASET = parse_thread_dataset(
    "0e080000000000010000000300001335060004001fffe002084fe76e9a8b5edaf50708fde46f999f0698e20510"
    "d47f5027a414ffeebaefa92285cc84fa030f4f70656e5468726561642d653439630102e49c0410b92f8c7fbb4f"
    "9f3e08492ee3915fbd2f0c0402a0f7f8"
)


class Device:
    """Answers reads and invokes from tables: (command) -> response fields."""

    def __init__(self, features: dict[int, int], answers: dict[int, dict], connect_max: int = 20) -> None:
        self.features, self.answers, self.connect_max = features, answers, connect_max
        self.timeout = 30.0
        self.invoked: list[tuple[int, int, dict]] = []

    async def read(self, paths, what):
        out = {}
        for path in paths:
            if path.attribute == 0xFFFC:
                out.update({(e, NETWORK_COMMISSIONING, 0xFFFC): f for e, f in self.features.items()})
            else:
                out[(path.endpoint, NETWORK_COMMISSIONING, path.attribute)] = self.connect_max
        return out

    async def invoke(self, cluster, command, fields, what, *, endpoint=0, timed_ms=None):
        assert cluster == NETWORK_COMMISSIONING
        self.invoked.append((endpoint, command, fields))
        answer = self.answers.get(command)
        if isinstance(answer, Exception):
            raise answer
        return tlv.Structure(answer) if answer is not None else None


def run(work):
    return asyncio.run(work)


def test_the_interface_with_the_credentials_feature_is_used_whatever_its_endpoint():
    device = Device({0: 0x4, 2: 0x1}, {})  # Ethernet on the root, Wi-Fi on endpoint 2
    assert run(find_interface(device, BENCH)) == 2
    with pytest.raises(NetworkRefused, match="no Thread interface \\(it has Ethernet, Wi-Fi\\): give it Wi-Fi"):
        run(find_interface(device, DATASET))


def test_add_sends_the_ssid_and_passphrase_or_the_dataset_as_the_tables_say():
    device = Device({0: 0x3}, {0x02: {0: 0, 2: 0}, 0x03: {0: 0, 2: 0}})
    run(add_network(device, 0, BENCH, 3))
    run(add_network(device, 0, DATASET, 4))
    assert device.invoked[0] == (0, 0x02, {0: b"BenchNet", 1: b"correct horse", 2: 3})
    assert device.invoked[1] == (0, 0x03, {0: DATASET.tlvs, 1: 4})


def test_connect_names_the_ssid_or_the_extended_pan_id_and_waits_the_devices_own_limit():
    device = Device({0: 0x1}, {0x06: {0: 0, 2: None}}, connect_max=40)
    assert run(connect_network(device, 0, BENCH, 5)).answered
    assert device.invoked[-1] == (0, 0x06, {0: b"BenchNet", 1: 5})
    assert device.timeout == 30.0  # put back after the call
    run(connect_network(device, 0, DATASET, 6))
    assert device.invoked[-1][2][0] == bytes.fromhex("4fe76e9a8b5edaf5")


def test_no_answer_to_connect_is_not_a_refusal():
    device = Device({0: 0x1}, {0x06: TimeoutError("no answer")})
    assert not run(connect_network(device, 0, BENCH, 5)).answered


@pytest.mark.parametrize(
    ("status", "error_value", "says"),
    [
        (7, 15, "authentication failed: the passphrase is wrong"),
        (7, 15, "802.11 code 15, the 4-way handshake timed out"),
        (8, None, "security mode is not one the device supports"),
        (2, None, "no room for another network"),
        (10, None, "could not get an IPv6 address"),
        (12, None, "status 12"),
    ],
)
def test_each_refusal_is_a_sentence_to_act_on(status, error_value, says):
    device = Device({0: 0x1}, {0x06: {0: status, 2: error_value}})
    with pytest.raises(NetworkRefused, match="could not join Wi-Fi 'BenchNet'") as refused:
        run(connect_network(device, 0, BENCH, 5))
    assert says in str(refused.value)


def test_a_network_not_found_says_what_the_devices_own_scan_finds():
    scan = {0: 0, 2: [{0: 0x08, 1: b"BenchNet-5G", 2: b"\x02\x00\x00\x00\x00\x01", 3: 36, 4: 1, 5: -61}]}
    device = Device({0: 0x1}, {0x06: {0: 5, 2: None}, 0x00: scan})
    with pytest.raises(NetworkRefused) as refused:
        run(connect_network(device, 0, BENCH, 5))
    assert "found no such network: check the SSID" in str(refused.value)
    assert "the device's own scan finds 'BenchNet-5G' (-61 dBm)" in str(refused.value)


def test_a_refused_add_says_so():
    device = Device({0: 0x1}, {0x02: {0: 1, 1: "SSID too long"}})
    with pytest.raises(NetworkRefused, match=r"refused Wi-Fi 'BenchNet': a value was outside .*SSID too long"):
        run(add_network(device, 0, BENCH, 3))

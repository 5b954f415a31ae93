"""The engine protocol's JSON: every event a real update produces, and every command, survives the
trip through JSON unchanged; anything malformed from a client is a WireError in one line."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ota_provider.core.api import wire
from ota_provider.core.api.commands import (
    COMMANDS,
    AbortTransfer,
    ArmKnob,
    ArmKnobs,
    CommissionDevice,
    DisarmKnob,
    QueryHistory,
    ThrottleTransfer,
)
from ota_provider.core.api.events import (
    ApplyUpdateIgnored,
    ApplyUpdateReceived,
    ApplyUpdateRefused,
    BleCommissionableDevices,
    CommandDone,
    CommissionableDevices,
    DeviceMismatch,
    FaultInjected,
    HistoryRows,
    ImagesChanged,
    NotifyUpdateRefused,
    QueryImageAnswered,
    QueryImageIgnored,
    QueryImageReceived,
    UpdateAppliedNotified,
)
from ota_provider.core.api.values import BleCommissionable, NetworkChoice
from ota_provider.core.codec.status_report import BdxStatus
from ota_provider.core.commissioner.mismatch import MISMATCH_ADVICE
from ota_provider.core.dnssd.devices import CommissionableDevice
from ota_provider.core.engine import wait_for
from ota_provider.core.ota.history import HistoryRow
from ota_provider.core.ota.policy import ArmedKnob, Knob
from ota_provider.core.ota.types import DownloadProtocol, QueryImageStatus
from ota_provider.core.presentation.lines import event_text
from tests.helpers.engine_helpers import requestor, start_engine


def through_json(value):
    return json.loads(json.dumps(value))


def test_every_event_of_a_real_update_survives_json(tmp_path):
    engine = start_engine(tmp_path)
    try:

        async def update():
            client, driver = await requestor(engine, tmp_path, 0xD001)
            try:
                answer = await client.query_image(0xFFF1, 0x8000, 1)
                await client.download(answer.image_uri, tmp_path / "image.ota")
                await client.apply_update(answer.update_token, answer.software_version)
                await client.notify_update_applied(answer.update_token, answer.software_version)
            finally:
                driver.close()

        engine.send(ArmKnob(Knob.QUERY_DELAY, 5))
        asyncio.run(update())
        engine.send(QueryHistory(limit=10))
        events = wait_for(engine, lambda e: isinstance(e, HistoryRows))
    finally:
        engine.stop()
    events += engine.drain()
    names = {e.name for e in events}
    assert {
        "QueryImage",
        "QueryImageResponse",
        "TransferStarted",
        "TransferFinished",
        "ApplyUpdateRequest",
        "NotifyUpdateApplied",
        "CommandDone",
        "EngineSnapshot",
        "HistoryRows",
        "Listening",
    } <= names, names
    for event in events:
        encoded = through_json(wire.event_to_json(event))
        assert wire.event_from_json(encoded) == event, event.name
        assert encoded["seq"] == event.seq > 0 and encoded["name"] == type(event).__name__
        assert set(encoded) == {"type", "name", "seq", "at", "data"}  # one shape: the value alone


def test_events_the_update_did_not_produce_survive_json_too():
    device = CommissionableDevice("8A1B", 3840, 2, 0xFFF1, None, "lamp", (("fe80::1", 5540, 0, 3),), 5540)
    row = HistoryRow(7, 1.5, "query", 1, 0xD001, "QueryImage -> Busy", {"status": "BUSY", "used": ["a"]})
    refused = CommandDone(AbortTransfer(3, BdxStatus.UNKNOWN), False, "no")
    heard = BleCommissionable("00:00:00:01:00:02", "MATTER-3840", -48, 3840, 0xFFF1, 0x8000)
    for event in (
        CommissionableDevices((device,)),
        BleCommissionableDevices((heard,), (NetworkChoice("BenchNet", "Wi-Fi 'BenchNet'"),)),
        BleCommissionableDevices((), (), "no D-Bus system bus to reach BlueZ: start dbus and bluetoothd"),
        DeviceMismatch(0x10, 2, 10.0, MISMATCH_ADVICE),
        HistoryRows("x-1", (row,)),
        refused,
    ):
        assert wire.event_from_json(through_json(wire.event_to_json(event))) == event


def test_every_ota_step_the_update_did_not_take_survives_json_with_typed_fields():
    peer = (2, 0xD001)
    steps = (
        QueryImageReceived(peer, 0xFFF1, 0x8000, 1, (DownloadProtocol.BDX_SYNCHRONOUS, 7), 2, "XX", False, b"\x01\xff"),
        QueryImageIgnored(peer, (ArmedKnob(3, Knob.IGNORE_QUERY, 1, group=3),)),
        ApplyUpdateRefused(peer, b"\x00" * 8, 3, "UpdateToken 0000000000000000 was not issued to this requestor"),
        ApplyUpdateIgnored(peer),
        NotifyUpdateRefused(peer, b"\x12\x34", 3, "not issued"),
        FaultInjected(peer, 4, 2, (ArmedKnob(5, Knob.CORRUPT_BLOCK, 2, target=peer),)),
        FaultInjected(peer, 4, 3, (ArmedKnob(6, Knob.END_TRANSFER, (3, BdxStatus.UNKNOWN), sticky=True),)),
        ImagesChanged("/srv/images.json", 3),
    )
    for step in steps:
        assert wire.event_from_json(through_json(wire.event_to_json(step))) == step, step.name
    received = wire.event_from_json(through_json(wire.event_to_json(steps[0])))
    assert received.protocols_supported == (DownloadProtocol.BDX_SYNCHRONOUS, 7)  # an unknown one stays a number
    assert received.metadata_for_provider == b"\x01\xff"


def test_ota_steps_print_the_clusters_field_names():
    # The JSON lines use the field names of the OTA Provider cluster's commands (Core spec 11.20.6.5),
    # which the headless --json output and `ctl watch --json` have always printed.
    answered = QueryImageAnswered(
        (1, 0xD001),
        QueryImageStatus.UPDATE_AVAILABLE,
        "newer",
        (),
        0,
        "bdx://0000000000000001/v3",
        3,
        "3.0",
        b"\xab\xcd",
        True,
    )
    assert answered.fields() == {
        "fabricIndex": 1,
        "nodeId": 0xD001,
        "status": "UPDATE_AVAILABLE",
        "reason": "newer",
        "used": [],
        "delayedActionTime": 0,
        "imageUri": "bdx://0000000000000001/v3",
        "softwareVersion": 3,
        "softwareVersionString": "3.0",
        "updateToken": "ABCD",
        "userConsentNeeded": True,
    }
    notified = UpdateAppliedNotified((1, 0xD001), b"\xab", 2, 3)
    assert notified.details() == {"updateToken": "AB", "softwareVersion": 2, "promisedVersion": 3, "asPromised": False}
    assert event_text(notified).endswith("now running version 2 (offered version 3)")


def test_a_token_that_is_not_hex_is_a_wire_error():
    message = through_json(wire.event_to_json(ApplyUpdateReceived((1, 2), b"\x01", 3)))
    message["data"]["update_token"] = "not hex"
    with pytest.raises(wire.WireError, match="update_token: expected hexadecimal bytes"):
        wire.event_from_json(message)


COMMAND_SAMPLES = [
    ArmKnobs(((Knob.QUERY_STATUS, QueryImageStatus.BUSY), (Knob.QUERY_DELAY, 45)), target=(1, 0xD001)),
    ArmKnob(Knob.END_TRANSFER, (3, BdxStatus.UNKNOWN), sticky=True),
    ArmKnob(Knob.DELAY_BLOCK, (2, 1.5)),
    DisarmKnob(Knob.FORCED_DESIGNATOR),
    ThrottleTransfer(4, None),
    CommissionDevice("3497-011-2332@[fd00::2]:5540", ask=True),
    CommissionDevice("MT:Y.K9042C00KA0648G00", ask=True, ble="00:00:00:01:00:02", network="BenchNet"),
    QueryHistory(node_id=0xD001),
]


@pytest.mark.parametrize("command", COMMAND_SAMPLES, ids=lambda c: type(c).__name__)
def test_commands_survive_json_with_their_ids(command):
    encoded = through_json(wire.command_to_json(command))
    assert wire.command_from_json(encoded) == command and encoded["id"] == command.id


def test_commands_without_arguments_are_known_by_name_and_keep_the_clients_id():
    for name in ("ClearKnobs", "ReloadImages", "QueryHistory", "OpenCommissioningWindow"):
        assert wire.command_from_json({"command": name, "id": "mine-1"}) == COMMANDS[name](id="mine-1")


@pytest.mark.parametrize(
    ("message", "says"),
    [
        ({"command": "ArmKnob", "args": {"knob": "queryImageStatus", "value": "bussy"}}, "one of updateAvailable"),
        ({"command": "ArmKnob", "args": {"knob": "speed", "value": 1}}, "unknown knob 'speed'"),
        ({"command": "PauseTransfer", "args": {}}, "transfer_id is missing"),
        ({"command": "PauseTransfer", "args": {"transfer_id": "3"}}, "expected an integer"),
        ({"command": "PauseTransfer", "args": {"transfer_id": 3, "speed": 1}}, "unknown field(s) speed"),
        ({"command": "Reboot"}, "unknown command 'Reboot'"),
        ({"command": "ClearKnobs", "version": 2}, "version 2 is not supported"),
        ({"command": "AbortTransfer", "args": {"transfer_id": 1, "status": "NOPE"}}, "one of LENGTH_TOO_LARGE"),
        ([1, 2], "a command is a JSON object"),
    ],
)
def test_a_malformed_command_is_refused_in_one_line(message, says):
    with pytest.raises(wire.WireError) as refused:
        wire.command_from_json(message)
    assert says in str(refused.value) and "\n" not in str(refused.value)


SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from([*COMMANDS, "x"]), args=JSON, version=st.one_of(st.just(1), JSON), id_=JSON)
def test_the_command_decoder_only_ever_raises_wire_errors(name, args, version, id_):
    with contextlib.suppress(wire.WireError):
        wire.command_from_json({"command": name, "args": args, "version": version, "id": id_})


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from([*wire.EVENTS, "x"]), data=JSON)
def test_the_event_decoder_only_ever_raises_wire_errors(name, data):
    with contextlib.suppress(wire.WireError):
        wire.event_from_json({"name": name, "data": data})


def test_the_json_form_is_written_out_plainly():
    """What a client in another language reads: tuples as lists, enums and knobs by name, bytes in
    hex, an armed knob's value as a command gives it (the form the README's table describes)."""
    received = QueryImageReceived((1, 0xD001), 0xFFF1, 0x8000, 1, (DownloadProtocol.BDX_SYNCHRONOUS, 7))
    armed = ArmedKnob(4, Knob.QUERY_STATUS, QueryImageStatus.BUSY, sticky=True, target=(1, 0xD001))
    token = ApplyUpdateReceived((1, 0xD001), b"\xab\x01", 3)
    assert wire.to_data(received)["peer"] == [1, 0xD001]
    assert wire.to_data(received)["protocols_supported"] == ["BDX_SYNCHRONOUS", 7]
    assert wire.to_data(token)["update_token"] == "ab01"
    assert wire.to_data(armed) == {
        "id": 4,
        "knob": "queryImageStatus",
        "value": "busy",
        "sticky": True,
        "target": [1, 0xD001],
        "group": 0,
        "first_response": False,
    }

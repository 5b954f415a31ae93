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
from ota_provider.core.codec.status_report import BdxStatus
from ota_provider.core.commissioner.mismatch import MISMATCH_ADVICE
from ota_provider.core.dnssd.browser import CommissionableDevice
from ota_provider.core.engine import wait_for
from ota_provider.core.events import CommandDone, CommissionableDevices, DeviceMismatch, HistoryRows
from ota_provider.core.ota.history import HistoryRow
from ota_provider.core.ota.policy import Knob
from ota_provider.core.ota.types import QueryImageStatus
from tests.engine_helpers import requestor, start_engine


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
    assert {"QueryImage", "QueryImageResponse", "TransferStarted", "TransferFinished", "ApplyUpdateRequest",
            "NotifyUpdateApplied", "CommandDone", "EngineSnapshot", "HistoryRows",
            "Listening"} <= names, names  # fmt: skip
    for event in events:
        encoded = through_json(wire.event_to_json(event))
        assert wire.event_from_json(encoded) == event, event.name
        assert encoded["seq"] == event.seq > 0 and encoded["text"] == event.text()


def test_events_the_update_did_not_produce_survive_json_too():
    device = CommissionableDevice("8A1B", 3840, 2, 0xFFF1, None, "lamp", (("fe80::1", 5540, 0, 3),), 5540)
    row = HistoryRow(7, 1.5, "query", 1, 0xD001, "QueryImage -> Busy", {"status": "BUSY", "used": ["a"]})
    refused = CommandDone(AbortTransfer(3, BdxStatus.UNKNOWN), False, "no")
    for event in (CommissionableDevices((device,)), DeviceMismatch(0x10, 2, 10.0, MISMATCH_ADVICE),
                  HistoryRows("x-1", (row,)), refused):  # fmt: skip
        assert wire.event_from_json(through_json(wire.event_to_json(event))) == event


COMMAND_SAMPLES = [
    ArmKnobs(((Knob.QUERY_STATUS, QueryImageStatus.BUSY), (Knob.QUERY_DELAY, 45)), target=(1, 0xD001)),
    ArmKnob(Knob.END_TRANSFER, (3, BdxStatus.UNKNOWN), sticky=True),
    ArmKnob(Knob.DELAY_BLOCK, (2, 1.5)),
    DisarmKnob(Knob.FORCED_DESIGNATOR),
    ThrottleTransfer(4, None),
    CommissionDevice("3497-011-2332@[fd00::2]:5540", ask=True),
    QueryHistory(node_id=0xD001),
]


@pytest.mark.parametrize("command", COMMAND_SAMPLES, ids=lambda c: type(c).__name__)
def test_commands_survive_json_with_their_ids(command):
    encoded = through_json(wire.command_to_json(command))
    assert wire.command_from_json(encoded) == command and encoded["id"] == command.id


def test_commands_without_arguments_are_known_by_name_and_keep_the_clients_id():
    for name in ("ClearKnobs", "ReloadImages", "QueryHistory", "OpenCommissioningWindow"):
        assert wire.command_from_json({"command": name, "id": "mine-1"}) == COMMANDS[name](id="mine-1")


@pytest.mark.parametrize(("message", "says"), [
    ({"command": "ArmKnob", "args": {"knob": "queryImageStatus", "value": "bussy"}}, "one of updateAvailable"),
    ({"command": "ArmKnob", "args": {"knob": "speed", "value": 1}}, "unknown knob 'speed'"),
    ({"command": "PauseTransfer", "args": {}}, "transfer_id is missing"),
    ({"command": "PauseTransfer", "args": {"transfer_id": "3"}}, "expected an integer"),
    ({"command": "PauseTransfer", "args": {"transfer_id": 3, "speed": 1}}, "unknown field(s) speed"),
    ({"command": "Reboot"}, "unknown command 'Reboot'"),
    ({"command": "ClearKnobs", "version": 2}, "version 2 is not supported"),
    ({"command": "AbortTransfer", "args": {"transfer_id": 1, "status": "NOPE"}}, "one of LENGTH_TOO_LARGE"),
    ([1, 2], "a command is a JSON object"),
])  # fmt: skip
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

"""The control protocol's sans-IO sessions driven with bytes alone: the lines are written here as
the README's protocol table gives them, not made by our encoder, and they arrive cut anywhere."""

import json

import pytest

from ota_provider.core.api.commands import ArmKnob, PauseTransfer
from ota_provider.core.api.events import Listening
from ota_provider.core.api.session import (
    MAX_LINE,
    Answered,
    ClientSession,
    Closed,
    CommandReceived,
    EventReceived,
    Greeted,
    HelloAccepted,
    Phase,
    PingReceived,
    ProtocolViolation,
    ProviderError,
    Refused,
    ServerSession,
    Subscribed,
    SubscribeWanted,
    Welcomed,
)
from ota_provider.core.ota.policy import Knob
from ota_provider.core.ota.types import QueryImageStatus

PROVIDER_SAYS = (
    b'{"type":"hello","protocol":2,"needsToken":true}\n'
    b'{"type":"welcome","protocol":2,"engine":{"pid":7,"qrCode":"MT:Y.K9042C00KA0648G00"},"seq":41}\n'
    b'{"type":"subscribed","seq":41,"missed":0}\n'
    b'{"type":"event","name":"Listening","seq":42,"at":1.5,'
    b'"data":{"port":5540,"storage":"/tmp/s","advertising":true,"control":null,"at":1.5,"seq":42}}\n'
    b'{"type":"result","id":"c-1","ok":true,"message":"paused #3","seq":43}\n'
    b'{"type":"error","id":"c-2","message":"PauseTransfer: transfer_id is missing"}\n'
    b'{"type":"error","message":"cut off: it stopped reading; subscribe again with after=43","resumeAfter":43}\n'
)


def lines(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.splitlines()]


@pytest.mark.parametrize("cut", [1, 7, 64, len(PROVIDER_SAYS)])
def test_a_client_session_reads_the_provider_in_any_pieces(cut):
    session = ClientSession(token="ab" * 32)
    received = []
    for start in range(0, len(PROVIDER_SAYS), cut):
        received += session.receive_data(PROVIDER_SAYS[start : start + cut])
    assert received == [
        Greeted(2, True),
        Welcomed({"pid": 7, "qrCode": "MT:Y.K9042C00KA0648G00"}, 41),
        Subscribed(41, 0),
        EventReceived(Listening(5540, "/tmp/s", True, None, at=1.5, seq=42)),
        Answered(session.results["c-1"]),
        Refused("c-2", "PauseTransfer: transfer_id is missing"),
        ProviderError("cut off: it stopped reading; subscribe again with after=43", 43),
    ]
    assert (session.results["c-1"].ok, session.results["c-1"].message) == (True, "paused #3")
    assert session.phase is Phase.READY and session.last_seq == 42 and session.engine["pid"] == 7
    # It answered the provider's hello itself, with the token and the protocol it speaks.
    assert lines(session.data_to_send()) == [{"type": "hello", "protocol": 2, "token": "ab" * 32}]
    assert session.receive_data(b"") == [
        Closed("the provider closed the connection: cut off: it stopped reading; subscribe again with after=43")
    ]
    assert session.phase is Phase.CLOSED and session.receive_data(b'{"type":"pong"}\n') == []


def test_a_client_session_writes_what_the_table_says():
    session = ClientSession()
    session.receive_data(b'{"type":"hello","protocol":2,"needsToken":false}\n')
    command = PauseTransfer(3, id="c-9")
    session.send_command(command)
    session.subscribe(12, snapshots=True)
    session.request_snapshot()
    session.ping()
    assert lines(session.data_to_send()) == [
        {"type": "hello", "protocol": 2},
        {"type": "command", "command": "PauseTransfer", "version": 1, "id": "c-9", "args": {"transfer_id": 3}},
        {"type": "subscribe", "after": 12, "snapshots": True},
        {"type": "snapshot"},
        {"type": "ping"},
    ]
    assert session.data_to_send() == b""


def test_what_a_client_cannot_read_is_skipped_and_a_line_too_long_ends_the_session():
    session = ClientSession()
    newer = b'{"type":"event","name":"SomethingNewer","seq":1,"at":0,"data":{}}\nnot json\n{"type":"shiny"}\n'
    assert session.receive_data(newer) == [] and session.skipped == 2
    (closed,) = session.receive_data(b"x" * (MAX_LINE * 64 + 1))
    assert isinstance(closed, Closed) and session.phase is Phase.CLOSED


def test_a_server_session_wants_the_token_before_anything():
    server = ServerSession("t" * 64, authenticated=False)
    server.greet({"pid": 7}, 3)  # over TCP the hello says nothing of the node
    assert lines(server.data_to_send()) == [{"type": "hello", "protocol": 2, "needsToken": True}]
    (early,) = server.receive_data(b'{"type":"ping"}\n')
    assert isinstance(early, ProtocolViolation) and early.fatal and server.phase is Phase.CLOSED
    assert "send hello with the token first" in lines(server.data_to_send())[0]["message"]

    wrong = ServerSession("t" * 64, authenticated=False)
    (refused,) = wrong.receive_data(b'{"type":"hello","protocol":2,"token":"guess"}\n')
    assert refused.fatal and "wrong token" in lines(wrong.data_to_send())[0]["message"]

    old = ServerSession(None, authenticated=True)
    (refused,) = old.receive_data(b'{"type":"hello","protocol":1}\n')
    assert refused.fatal and "(this provider speaks 2)" in lines(old.data_to_send())[0]["message"]


def test_a_server_session_reads_requests_and_answers_bad_ones_in_one_line_each():
    server = ServerSession("t" * 64, authenticated=False)
    requests = server.receive_data(
        b'{"type":"hello","protocol":2,"token":"' + b"t" * 64 + b'"}\n'
        b'{"type":"command","command":"ArmKnob","version":1,"id":"a",'
        b'"args":{"knob":"queryImageStatus","value":"busy","sticky":true}}\n'
        b'{"type":"command","command":"PauseTransfer","version":1,"id":"b","args":{}}\n'
        b'{"type":"subscribe","after":-1}\n'
        b'{"type":"subscribe","after":5,"snapshots":true}\n'
        b"[1, 2]\n"
        b'{"type":"ping"}\n'
    )
    assert requests[:2] == [
        HelloAccepted(),
        CommandReceived(ArmKnob(Knob.QUERY_STATUS, QueryImageStatus.BUSY, sticky=True, id="a")),
    ]
    assert [type(r) for r in requests[2:]] == [
        ProtocolViolation,
        ProtocolViolation,
        SubscribeWanted,
        ProtocolViolation,
        PingReceived,
    ]
    assert requests[4] == SubscribeWanted(5, True) and not any(getattr(r, "fatal", False) for r in requests)
    said = lines(server.data_to_send())
    assert [m["type"] for m in said] == ["error", "error", "error", "pong"]
    assert said[0]["id"] == "b" and server.phase is Phase.GREETING  # welcome is the driver's, with the engine
    server.welcome({"pid": 7}, 9)
    assert server.phase is Phase.READY and lines(server.data_to_send())[0]["type"] == "welcome"


def test_a_client_and_a_server_session_talk_by_bytes_alone():
    client, server = ClientSession(token="k" * 64), ServerSession("k" * 64, authenticated=False)
    server.greet()
    client.receive_data(server.data_to_send())
    (hello,) = server.receive_data(client.data_to_send())
    assert hello == HelloAccepted()
    server.welcome({"pid": 1}, 0)
    client.receive_data(server.data_to_send())
    client.send_command(PauseTransfer(4, id="p"))
    (command,) = server.receive_data(client.data_to_send())
    assert command == CommandReceived(PauseTransfer(4, id="p"))
    server.send({"type": "result", "id": "p", "ok": False, "message": "no transfer #4", "seq": 1})
    (answered,) = client.receive_data(server.data_to_send())
    assert answered == Answered(client.results["p"]) and client.results["p"].message == "no transfer #4"

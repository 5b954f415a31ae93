"""The control socket over a real engine: every message type, bad input answered and survived, the
socket owner-only, a stale one replaced and a live one refused, TCP with its token, several clients
seeing one order, and a client that never reads cut off while a download goes on."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import stat
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ota_provider.core.api import control
from ota_provider.core.api.client import ControlClientError, ProviderClient, Refused
from ota_provider.core.api.commands import ArmKnob
from ota_provider.core.api.control import TOKEN_FILE, ControlError
from ota_provider.core.api.wire import PROTOCOL_VERSION
from ota_provider.core.engine import ProviderEngine
from ota_provider.core.ota.policy import Knob
from tests.helpers.engine_helpers import requestor, start_engine


@pytest.fixture
def engine(tmp_path):
    engine = start_engine(tmp_path / "state", control=str(tmp_path / "control.sock"))
    yield engine
    engine.stop()


class Raw:
    """A client speaking the JSON lines by hand."""

    def __init__(self, path) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(5)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rwb")
        self.hello = self.read()

    def send(self, data: bytes | dict) -> None:
        self.file.write(data if isinstance(data, bytes) else json.dumps(data).encode() + b"\n")
        self.file.flush()

    def read(self) -> dict:
        line = self.file.readline()
        assert line, "the provider closed the connection"
        return json.loads(line)

    def until(self, kind: str) -> dict:
        while (message := self.read())["type"] != kind:
            pass
        return message

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def test_the_socket_is_owner_only_and_says_hello_with_the_protocol_and_the_engine(engine, tmp_path):
    path = tmp_path / "control.sock"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_ISSOCK(path.stat().st_mode)
    raw = Raw(path)
    assert raw.hello["type"] == "hello" and raw.hello["protocol"] == PROTOCOL_VERSION
    assert raw.hello["engine"]["port"] == engine.port and raw.hello["engine"]["manualCode"] == "34970112332"
    raw.send({"type": "hello", "protocol": PROTOCOL_VERSION})
    welcome = raw.read()
    assert welcome["type"] == "welcome" and welcome["engine"]["manualCode"] == "34970112332"
    raw.send({"type": "ping"})
    assert raw.read() == {"type": "pong"}
    raw.send({"type": "snapshot"})
    snapshot = raw.read()
    assert snapshot["type"] == "snapshot" and snapshot["name"] == "EngineSnapshot" and snapshot["data"]["images"]
    raw.send(
        {
            "type": "command",
            "command": "ArmKnob",
            "id": "mine-7",
            "args": {"knob": "queryImageStatus", "value": "busy", "sticky": True},
        }
    )
    result = raw.until("result")
    assert result["id"] == "mine-7" and result["ok"] and "busy (sticky" in result["message"]
    raw.send({"type": "command", "command": "PauseTransfer", "id": "p", "args": {"transfer_id": 42}})
    refused = raw.until("result")
    assert (refused["id"], refused["ok"], refused["message"]) == ("p", False, "no running transfer #42")
    raw.send({"type": "subscribe"})
    assert raw.until("subscribed")["missed"] == 0
    raw.send({"type": "command", "command": "ClearKnobs", "id": "c"})
    event = raw.until("event")
    while event["name"] != "CommandDone":
        event = raw.until("event")
    assert event["data"]["command"]["id"] == "c" and event["data"]["ok"] is True
    raw.send({"type": "unsubscribe"})
    assert raw.until("unsubscribed")
    raw.close()


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (b"not json\n", "not JSON"),
        (b"[1, 2]\n", 'a JSON object with a "type"'),
        (b'{"type": "dance"}\n', "unknown message type 'dance'"),
        (
            b'{"type": "command", "command": "ArmKnob", "id": 5, "args": {"knob": "nope", "value": 1}}\n',
            "unknown knob 'nope'",
        ),
        (b'{"type": "command", "command": "PauseTransfer", "args": {"transfer_id": "x"}}\n', "expected an integer"),
        (b'{"type": "subscribe", "after": -3}\n', "after is the last sequence number"),
        (b"\xff\xfe\n", "not JSON"),
        (b"[" * 30_000 + b"]" * 30_000 + b"\n", "nested too deeply"),
        (
            b'{"type": "command", "command": "OpenCommissioningWindow", "id": "w", "args": {"seconds": 1'
            + b"0" * 400
            + b"}}\n",
            "out of range",
        ),
        (
            b'{"type": "command", "command": "OpenCommissioningWindow", "id": "w", "args": {"seconds": -5}}\n',
            "seconds is -5: it must be from 180 to 900",
        ),
        (
            b'{"type": "command", "command": "OpenCommissioningWindow", "id": "w", "args": {"seconds": 901}}\n',
            "seconds is 901: it must be from 180 to 900",
        ),
        (
            b'{"type": "command", "command": "DeviceAction", "id": "d", "args": {"node_id": 1208925819614629174706176, '
            b'"action": "READ"}}\n',
            "out of range",
        ),
        (
            b'{"type": "command", "command": "DeviceAction", "id": "d", "args": {"node_id": 18446744073709551615, '
            b'"action": "READ"}}\n',
            "node_id must be from 1 to",
        ),
        (
            b'{"type": "command", "command": "ThrottleTransfer", "id": "t", "args": {"transfer_id": 1, '
            b'"seconds_per_block": 1e999}}\n',
            "a finite number",
        ),
        (b'{"type": "command", "command": "QueryHistory", "id": "h", "args": {"limit": 0}}\n', "limit is 0"),
    ],
)
def test_bad_input_gets_an_error_and_the_connection_goes_on(engine, tmp_path, line, says):
    raw = Raw(tmp_path / "control.sock")
    raw.send(line)
    error = raw.until("error")
    assert says in error["message"] and "\n" not in error["message"]
    raw.send({"type": "ping"})
    assert raw.until("pong")
    raw.close()


def test_a_line_too_long_is_refused_in_words(engine, tmp_path):
    raw = Raw(tmp_path / "control.sock")
    raw.send(b'{"type": "ping", "pad": "' + b"x" * 70_000 + b'"}\n')
    assert "at most 65536 bytes" in raw.until("error")["message"]
    raw.close()
    with ProviderClient.attach(tmp_path / "control.sock") as client:  # the engine serves the next client
        assert client.snapshot().images


def test_another_protocol_version_is_refused_in_one_line(engine, tmp_path):
    raw = Raw(tmp_path / "control.sock")
    raw.send({"type": "hello", "protocol": 99})
    error = raw.until("error")
    assert "protocol version 99 is not spoken here (this provider speaks 2)" in error["message"]
    assert raw.file.readline() == b""  # and the connection is closed
    raw.close()


def test_the_client_refusals_and_errors_name_the_problem(engine, tmp_path):
    with ProviderClient.attach(tmp_path / "control.sock") as client:
        with pytest.raises(ValueError, match="queryImageStatus is one of"):
            client.arm("queryImageStatus", "later")
        with pytest.raises(Refused, match="no running transfer #9"):
            client.abort(9)
    with pytest.raises(ControlClientError, match=r"no provider answers on .*nothing\.sock"):
        ProviderClient.attach(tmp_path / "nothing.sock")


def test_a_live_socket_is_refused_and_a_stale_one_replaced(engine, tmp_path):
    second = ProviderEngine(engine.config, engine.catalog, storage=tmp_path / "other", dnssd=False, host="::1")
    with pytest.raises(ControlError, match=r"another provider is listening on .*control\.sock"):
        second.start()
    stale = tmp_path / "stale.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(stale))
    listener.close()  # the file stays, nobody listens: as after a kill -9
    third = start_engine(tmp_path / "third", control=str(stale))
    try:
        with ProviderClient.attach(stale) as client:
            assert client.engine["port"] == third.port
    finally:
        third.stop()
    assert not stale.exists()  # removed on a clean stop
    not_a_socket = tmp_path / "file"
    not_a_socket.write_text("mine")
    config = dataclasses.replace(engine.config, control=str(not_a_socket))
    fourth = ProviderEngine(config, engine.catalog, storage=tmp_path / "fourth", dnssd=False, host="::1")
    with pytest.raises(ControlError, match="exists and is not a socket"):
        fourth.start()
    assert not_a_socket.read_text() == "mine"


def test_a_socket_of_another_user_cannot_be_used(engine, tmp_path):
    """Owner-only is the kernel's to enforce: another uid gets EACCES before any hello."""
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    path = tmp_path / "control.sock"
    os.chmod(tmp_path, 0o755)
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child becomes nobody and tries
        os.close(reader)
        os.setgid(65534)
        os.setuid(65534)
        try:
            ProviderClient.attach(path, timeout=2)
            os.write(writer, b"connected")
        except ControlClientError as exc:
            os.write(writer, str(exc).encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(pid, 0)
    said = os.read(reader, 1000).decode()
    assert "belongs to another user (the control socket is owner-only)" in said, said


def test_every_command_gets_one_answer_even_when_its_handler_fails(engine, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OverflowError("a value the handler could not take")

    monkeypatch.setattr(engine.node.windows, "open_commissioning_window", broken)
    with ProviderClient.attach(tmp_path / "control.sock") as client:
        with pytest.raises(Refused, match="OpenCommissioningWindow failed: a value the handler could not take"):
            client.open_window(300)
        assert client.snapshot().images  # and the engine goes on


@pytest.mark.parametrize(
    ("content", "mode", "says"),
    [
        ("", 0o600, "is empty"),
        ("abc", 0o600, "too short"),
        ("f" * 64, 0o666, r"can be read or written by others \(mode 0666\)"),
        ("f" * 64, 0o640, r"\(mode 0640\)"),
    ],
)
def test_a_token_file_that_anyone_could_have_written_is_refused_in_one_line(tmp_path, content, mode, says):
    state = tmp_path / "state"
    state.mkdir()
    token = state / TOKEN_FILE
    token.write_text(content)
    os.chmod(token, mode)
    with pytest.raises(ControlError, match=says) as refused:
        start_engine(state, control="tcp:127.0.0.1:0")
    assert "\n" not in str(refused.value)


def test_a_token_file_that_is_a_symlink_is_refused(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (tmp_path / "elsewhere").write_text("f" * 64)
    os.chmod(tmp_path / "elsewhere", 0o600)
    (state / TOKEN_FILE).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ControlError, match="not a regular file"):
        start_engine(state, control="tcp:127.0.0.1:0")


def test_a_client_with_an_empty_token_is_not_welcomed(tmp_path):
    engine = start_engine(tmp_path / "state", control="tcp:127.0.0.1:0")
    try:
        with pytest.raises(ControlClientError, match="wrong token"):
            ProviderClient.attach(f"tcp:127.0.0.1:{engine.control.port}", token="")
        empty = tmp_path / "empty-token"
        empty.write_text("")
        with pytest.raises(ControlError, match="is empty"):
            ProviderClient.attach(f"tcp:127.0.0.1:{engine.control.port}", token_file=empty)
    finally:
        engine.stop()


def test_tcp_clients_must_give_the_token(tmp_path):
    engine = start_engine(tmp_path / "state", control="tcp:127.0.0.1:0")
    try:
        port = engine.control.port
        token_file = tmp_path / "state" / TOKEN_FILE
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        with pytest.raises(ControlClientError, match="wrong token"):
            ProviderClient.attach(f"tcp:127.0.0.1:{port}", token="guess")
        with ProviderClient.attach(f"tcp:127.0.0.1:{port}", token_file=token_file) as client:
            assert client.snapshot().images
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        file = raw.makefile("rwb")
        assert json.loads(file.readline())["needsToken"] is True
        file.write(b'{"type": "snapshot"}\n')
        file.flush()
        assert "send hello with the token first" in json.loads(file.readline())["message"]
        raw.close()
    finally:
        engine.stop()


def test_two_front_ends_see_one_order_while_a_third_arms_and_a_silent_one_is_cut_off(engine, tmp_path):
    """Two watchers and an armer on the socket, plus a client that never reads, during a download:
    the watchers see the same events in the same order, the silent one is cut off, and the download
    goes on at its pace (its rate is printed for the record)."""
    path = tmp_path / "control.sock"
    engine.control.max_buffered = 16 * 1024  # 4 MB in service: a test would take minutes to fill it
    seen: list[list] = [[], []]
    stop = threading.Event()

    def watch(names):  # a front end that keeps up: it reads all the time
        with ProviderClient.attach(path) as watcher:
            while not stop.is_set() or watcher.session.events:
                event = watcher.next_event(timeout=0.2)
                if event is not None:
                    names.append((event.seq, event.name))
                elif stop.is_set():
                    break

    watchers = [threading.Thread(target=watch, args=(names,)) for names in seen]
    for thread in watchers:
        thread.start()
    silent = socket.socket(socket.AF_UNIX)
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    silent.connect(str(path))
    silent.sendall(
        json.dumps({"type": "hello", "protocol": 2}).encode()
        + b"\n"
        + json.dumps({"type": "subscribe", "snapshots": True}).encode()
        + b"\n"
    )

    def arm_repeatedly():
        with ProviderClient.attach(path, subscribe=False) as armer:
            while not stop.is_set():
                armer.arm("delayedQueryActionTimeSec", 1, sticky=True)
                armer.disarm("delayedQueryActionTimeSec")

    armer = threading.Thread(target=arm_repeatedly)
    armer.start()

    async def downloads():
        client, driver = await requestor(engine, tmp_path / "state", 0xD001)
        try:
            rates = []
            deadline = time.monotonic() + 60
            while len(rates) < 3 or (engine.control.cut_off < 1 and time.monotonic() < deadline):
                answer = await client.query_image(0xFFF1, 0x8000, 1)
                rates.append((await client.download(answer.image_uri, tmp_path / "image.ota")).rate)
            return rates
        finally:
            driver.close()

    try:
        rates = asyncio.run(downloads())
        time.sleep(1)  # the last events reach the watchers
    finally:
        stop.set()
        armer.join()
        for thread in watchers:
            thread.join()
    # They attached a moment apart: from the later start to the earlier end, the very same events.
    start, end = max(names[0][0] for names in seen), min(names[-1][0] for names in seen)
    common = [[item for item in names if start <= item[0] <= end] for names in seen]
    assert common[0] == common[1] and len(common[0]) > 100, (len(common[0]), len(common[1]))
    assert sum(name == "TransferFinished" for _, name in seen[0]) == len(rates)
    assert engine.control.cut_off == 1  # the silent client, and only it
    print(
        f"\ndownload rates with 2 watchers, an armer and a silent client: "
        f"{', '.join(f'{r / 1000:.0f}' for r in rates)} kB/s"
    )
    silent.close()


MESSAGES = st.one_of(
    st.binary(max_size=200),
    st.dictionaries(
        st.sampled_from(["type", "command", "args", "id", "after", "protocol", "version", "token"]),
        st.one_of(
            st.none(),
            st.integers(),
            st.text(max_size=12),
            st.lists(st.integers(), max_size=3),
            st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
        ),
        max_size=6,
    ).map(lambda d: json.dumps(d).encode()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(MESSAGES, min_size=1, max_size=5))
def test_whatever_a_client_sends_the_engine_answers_the_next_ping(engine, tmp_path, lines):
    raw = Raw(tmp_path / "control.sock")
    raw.send({"type": "hello", "protocol": PROTOCOL_VERSION})
    for line in lines:
        raw.send(line.replace(b"\n", b" ") + b"\n")
    raw.send({"type": "ping"})
    try:
        raw.until("pong")
    except AssertionError:  # a hello with another protocol closes the connection, as it should
        assert any(b'"protocol"' in line for line in lines)
    raw.close()
    with ProviderClient.attach(tmp_path / "control.sock", subscribe=False) as client:
        assert client.snapshot() is not None


def test_a_client_that_stops_reading_gets_no_snapshots_queued(engine, tmp_path, monkeypatch):
    # Snapshots are state: behind unread ones, the next says nothing new. A silent subscriber's
    # backlog stops growing with them (events still queue, and cut it off when it is too far behind).
    monkeypatch.setattr(control, "SNAPSHOT_BACKLOG", 8 * 1024)
    silent = socket.socket(socket.AF_UNIX)
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    silent.connect(str(tmp_path / "control.sock"))
    silent.sendall(
        json.dumps({"type": "hello", "protocol": 2}).encode()
        + b"\n"
        + json.dumps({"type": "subscribe", "snapshots": True}).encode()
        + b"\n"
    )
    deadline = time.monotonic() + 30
    while not engine.control.connections and time.monotonic() < deadline:
        time.sleep(0.05)
    (connection,) = engine.control.connections
    while time.monotonic() < deadline:
        if connection.snapshots_skipped >= 5:
            break
        engine.send(ArmKnob(Knob.QUERY_DELAY, 5))  # each command brings a snapshot
        time.sleep(0.05)
    assert connection.snapshots_skipped >= 5
    assert engine.control.cut_off == 0  # the skipped snapshots did not count against it
    silent.close()

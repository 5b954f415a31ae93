"""The control socket over TCP against a client that has no token, in a provider process: it learns
nothing about the node (no setup code, so it cannot commission the provider onto a fabric of its
own), holds no event queue, and is closed after a few seconds; a crowd of such clients is capped."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import struct
import time

import pytest

from ota_provider.core.api.client import ProviderClient
from tests.helpers.processes import sim, start_provider


def _control_port(events) -> int:
    listening = next(e for e in events if e["event"] == "Listening")
    return int(re.match(r"tcp:127\.0\.0\.1:(\d+)", listening["control"]).group(1))


def test_an_unauthenticated_tcp_client_learns_nothing_and_is_closed(tmp_path):
    proc, events = start_provider(tmp_path, ["--control", "tcp:127.0.0.1:0"])
    try:
        port = _control_port(events)
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        file = raw.makefile("rwb")
        hello_line = file.readline()
        hello = json.loads(hello_line)
        assert hello == {"type": "hello", "protocol": 2, "needsToken": True}
        assert b"MT:" not in hello_line and b"manualCode" not in hello_line
        for message in ({"type": "snapshot"}, {"type": "subscribe"}):
            probe = socket.create_connection(("127.0.0.1", port), timeout=10)
            probe_file = probe.makefile("rwb")
            probe_file.readline()
            probe_file.write(json.dumps(message).encode() + b"\n")
            probe_file.flush()
            answer = probe_file.read()  # until the provider closes it
            assert b"send hello with the token first" in answer and b"MT:" not in answer
            probe.close()
        started = time.monotonic()
        rest = file.read()  # says nothing: closed by the provider after its auth timeout
        assert b"no hello with the token within 5 s" in rest and b"MT:" not in rest
        assert 4 < time.monotonic() - started < 15
        raw.close()
        token = (tmp_path / "state" / "control-token").read_text().strip()
        good = socket.create_connection(("127.0.0.1", port), timeout=10)
        good_file = good.makefile("rwb")
        good_file.readline()
        good_file.write(json.dumps({"type": "hello", "protocol": 2, "token": token}).encode() + b"\n")
        good_file.flush()
        welcome = json.loads(good_file.readline())
        assert welcome["type"] == "welcome" and welcome["engine"]["qrCode"].startswith("MT:")
        good.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_a_crowd_of_silent_tcp_clients_is_capped_and_the_owner_still_gets_in(tmp_path):
    proc, events = start_provider(tmp_path, ["--control", "tcp:127.0.0.1:0"])
    crowd = []
    try:
        port = _control_port(events)
        for _ in range(300):
            crowd.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        refused = 0
        for sock in crowd:
            line = sock.makefile("rb").readline()
            refused += b"try again" in line or b"too many" in line
        assert refused >= 300 - 64, refused
        token = (tmp_path / "state" / "control-token").read_text().strip()
        deadline = time.monotonic() + 15  # the silent ones are closed within the auth timeout
        while True:
            good = socket.create_connection(("127.0.0.1", port), timeout=10)
            good_file = good.makefile("rwb")
            if json.loads(good_file.readline())["type"] == "hello":
                break
            good.close()
            assert time.monotonic() < deadline, "the owner never got in"
            time.sleep(0.5)
        good_file.write(json.dumps({"type": "hello", "protocol": 2, "token": token}).encode() + b"\n")
        good_file.flush()
        assert json.loads(good_file.readline())["type"] == "welcome"
        good.close()
    finally:
        for sock in crowd:
            sock.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_start_trace_cannot_write_outside_the_trace_folder(tmp_path):
    """StartTrace over the control socket of a provider process, at the state database, at a symlink
    to a decoy, at a FIFO and at a path elsewhere: each refused in one line, nothing touched, and the
    provider serves on (its database intact after a restart)."""
    from ota_provider.core.api.client import ProviderClient, Refused  # noqa: PLC0415

    state = tmp_path / "state"
    control = tmp_path / "control.sock"
    proc, _events = start_provider(tmp_path, ["--control", str(control)])
    database = state / "ota-provider.sqlite3"
    decoy = tmp_path / "passwd"
    decoy.write_text("root:x:0:0::/root:/bin/bash\n")
    os.chmod(decoy, 0o644)
    traces = state / "traces"
    traces.mkdir(mode=0o700, exist_ok=True)
    (traces / "link.jsonl").symlink_to(decoy)
    (traces / "db.jsonl").symlink_to(database)
    os.mkfifo(traces / "pipe.jsonl")
    before = database.read_bytes()
    try:
        with ProviderClient.attach(control) as client:
            refusals = [
                (str(database), "go into"),
                (str(decoy), "go into"),
                ("../ota-provider.sqlite3", "go into"),
                ("link.jsonl", "exists already"),
                ("db.jsonl", "exists already"),
                ("pipe.jsonl", "exists already"),
                ("..", "not a trace file name"),
            ]
            for name, says in refusals:
                with pytest.raises(Refused, match=says):
                    client.trace_start(name)
            said = client.trace_start("bug.jsonl").message
            assert said == f"tracing every message to {traces / 'bug.jsonl'}"
            assert client.trace_stop().ok
            assert stat.S_IMODE((traces / "bug.jsonl").stat().st_mode) == 0o600
        assert decoy.read_text() == "root:x:0:0::/root:/bin/bash\n" and stat.S_IMODE(decoy.stat().st_mode) == 0o644
        assert database.read_bytes()[:16] == before[:16] == b"SQLite format 3\x00"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    again, events = start_provider(tmp_path)  # the same state: the fabrics are still there
    try:
        assert any(e["event"] == "Listening" for e in events)
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(timeout=20)


def test_a_sigma1_flood_over_udp_does_not_lock_out_a_requestor(tmp_path):
    """600 Sigma1s (more than the 512 unsecured sessions) asking for 54-day retransmission intervals,
    from another loopback address, never answered: a requestor then establishes CASE, queries and
    downloads at once, and again after the flood's handshakes have timed out."""
    from benchmarks.handshake_flood import flood  # noqa: PLC0415

    proc, events = start_provider(tmp_path)
    try:
        port = next(e["port"] for e in events if e["event"] == "Listening")
        assert flood(port, sigma1_rate=3000, pbkdf_rate=0, seconds=0.25) >= 600
        started = time.monotonic()
        result, steps = sim(events, tmp_path, "-n", "1")
        assert result.returncode == 0, result.stderr[-2000:]
        assert [s["step"] for s in steps if s["step"] in ("connected", "downloaded")] == ["connected", "downloaded"]
        assert time.monotonic() - started < 30
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_a_watch_client_that_dies_costs_the_provider_no_warning(tmp_path):
    """A `ctl watch` whose connection is reset mid-stream: the provider stops writing to it at once
    (it printed asyncio's untimestamped "socket.send() raised exception." for every event after)."""
    proc, events = start_provider(tmp_path, ["--control", "tcp:127.0.0.1:0"])
    try:
        port = _control_port(events)
        token = (tmp_path / "state" / "control-token").read_text().strip()
        watchers = []
        for _ in range(4):
            watcher = socket.create_connection(("127.0.0.1", port), timeout=10)
            hello = {"type": "hello", "protocol": 2, "token": token}
            watcher.sendall(json.dumps(hello).encode() + b'\n{"type":"subscribe"}\n')
            watcher.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            watchers.append(watcher)
        time.sleep(0.5)
        with ProviderClient.attach(f"tcp:127.0.0.1:{port}", token=token) as provider:
            for round_ in range(60):
                if round_ == 5:
                    for watcher in watchers:  # reset, not closed: the provider learns it on its next send
                        watcher.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        watcher.close()
                assert provider.arm("queryImageStatus", "busy").ok
                assert provider.disarm("queryImageStatus").ok
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)  # its stdout is start_provider's: only stderr is read here
        stderr = proc.stderr.read()
    assert "socket.send() raised exception" not in stderr, stderr[-2000:]

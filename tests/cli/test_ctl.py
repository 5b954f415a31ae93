"""``ota-provider ctl`` against a headless provider in its own process: what a shell script sees,
stdout, stderr and the exit status, for the good and the bad."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ota_provider.core.api.testing import headless_provider
from ota_provider.core.cli.ctl import build_parser


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    with headless_provider(tmp_path_factory.mktemp("ctl") / "state") as client:
        yield client


def ctl(provider, *args, timeout=30):
    socket_path = provider.engine["storage"] + "/control.sock"
    result = subprocess.run(
        [sys.executable, "-m", "ota_provider.core.cli", "ctl", "--socket", socket_path, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return result.returncode, result.stdout, result.stderr


def test_status_arm_and_disarm(provider):
    code, out, err = ctl(provider, "arm", "queryImageStatus", "busy", "--node", "0xD001")
    assert code == 1 and out == "" and err.count("\n") == 1  # a node that never asked: said, not silently armed
    assert "node 0xD001 has never queried this provider" in err and "--unseen" in err
    code, out, _ = ctl(provider, "arm", "queryImageStatus", "busy", "--node", "D001", "--unseen")  # as shown
    assert code == 0 and out == "armed QueryImage status busy (one-shot, node D001)\n"
    code, out, _ = ctl(provider, "status")
    assert code == 0 and "transfers: 0 running" in out and "QueryImage status busy (one-shot, node D001)" in out
    assert "manual code 3497-011-2332" in out  # grouped as on labels and on the dashboard
    code, out, _ = ctl(provider, "status", "--json")
    status = json.loads(out)
    assert status["engine"]["manualCode"] == "34970112332" and len(status["snapshot"]["armed"]) == 1
    assert ctl(provider, "clear")[:2] == (0, "every knob disarmed\n")
    assert ctl(provider, "disarm", "applyUpdateAction")[:2] == (
        0,
        "ApplyUpdate action was not armed: nothing to disarm\n",
    )


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (
            ("arm", "queryImageStatus", "bussy"),
            2,
            "queryImageStatus is one of updateAvailable, busy, updateNotAvailable",
        ),
        (("arm", "warpSpeed", "9"), 2, "unknown knob 'warpSpeed': one of queryImageStatus"),
        (("arm", "delayBlock", "3"), 2, "delayBlock takes BLOCK,VALUE"),
        (("pause", "99"), 1, "refused: no running transfer #99"),
        (("abort", "1", "--status", "soon"), 2, "'soon' is not a BDX status"),
        (("throttle", "1", "fast"), 2, "not a number of seconds per block"),
        (("wait-for", "Nothing"), 2, "unknown event 'Nothing'"),
        (("wait-for", "TransferFinished", "--timeout", "0.5"), 1, "no TransferFinished within 0.5 s"),
        (("commission", "3497-011-2333"), 1, "check digit"),
        (("arm", "queryImageStatus", "busy", "--unseen"), 2, "--unseen goes with --node ID"),
        (("arm", "queryImageStatus", "busy", "--node", "D00G"), 2, "is not a number (0x-hex, decimal, or hex as"),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(provider, args, code, says):
    got, out, err = ctl(provider, *args)
    assert got == code and says in err and len(err.strip().splitlines()) == 1, (got, out, err)


def test_no_provider_on_the_socket_says_so(tmp_path):
    command = [sys.executable, "-m", "ota_provider.core.cli", "ctl", "--socket", str(tmp_path / "none.sock"), "status"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 1 and "no provider answers on" in result.stderr and "--control" in result.stderr


def test_where_the_provider_is_may_follow_the_command(provider, tmp_path):
    """``ctl status --socket P`` as well as ``ctl --socket P status``; after the command it wins."""
    socket_path = provider.engine["storage"] + "/control.sock"
    base = [sys.executable, "-m", "ota_provider.core.cli", "ctl"]
    after = subprocess.run([*base, "status", "--socket", socket_path], capture_output=True, text=True, check=False)
    assert after.returncode == 0 and "transfers: 0 running" in after.stdout
    both = subprocess.run(
        [*base, "--socket", str(tmp_path / "none.sock"), "status", "--socket", socket_path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert both.returncode == 0, both.stderr
    by_storage = subprocess.run(
        [*base, "clear", "--storage", provider.engine["storage"]], capture_output=True, text=True, check=False
    )
    assert (by_storage.returncode, by_storage.stdout) == (0, "every knob disarmed\n")


def test_watch_prints_json_lines_as_the_headless_output_does(provider):
    socket_path = provider.engine["storage"] + "/control.sock"
    watch = subprocess.Popen(
        [sys.executable, "-m", "ota_provider.core.cli", "ctl", "--socket", socket_path, "watch", "--json"],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in watch.stdout], daemon=True).start()
    try:
        for _ in range(30):  # until the watcher has subscribed, an arm may come too early to be seen
            ctl(provider, "arm", "ignoreQueryImage", "1")
            with contextlib.suppress(queue.Empty):
                line = lines.get(timeout=1)
                break
        event = json.loads(line)
        assert event["event"] == "CommandDone" and event["command"] == "ArmKnob" and event["ok"] is True
        assert {"time", "seq", "id", "message"} <= set(event)
    finally:
        watch.terminate()
        watch.wait(timeout=10)
        ctl(provider, "clear")


def test_a_trace_started_and_stopped_from_ctl(provider, tmp_path):
    trace = Path(provider.engine["storage"]) / "traces" / "bug-1234.jsonl"
    code, out, _ = ctl(provider, "trace", "start", "bug-1234.jsonl")
    assert code == 0 and out == f"tracing every message to {trace}\n"
    ctl(provider, "status")
    code, out, _ = ctl(provider, "trace", "stop")
    assert code == 0 and out.startswith(f"trace {trace} closed: ") and trace.read_text().startswith('{"trace"')
    code, _, err = ctl(provider, "trace", "start")
    assert code == 2 and "trace start needs the FILE" in err
    result = subprocess.run(
        [sys.executable, "-m", "ota_provider.core.cli", "trace", "show", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1 and "cannot read" in result.stderr


def test_a_node_id_typed_in_decimal_for_one_shown_in_hex_gets_a_suggestion(provider):
    """The dashboard shows node 0x1000 as "1000"; typed as --node 1000 it reads as decimal: the
    refusal names the node that did query."""
    fabric = Path(provider.engine["storage"]) / "demo-fabric.json"
    sim = subprocess.run(
        [
            sys.executable,
            "-m",
            "ota_provider.core.client.sim",
            "--fabric",
            str(fabric),
            "--port",
            str(provider.engine["port"]),
            "--first-node-id",
            "0x1000",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert sim.returncode == 0, sim.stderr
    code, _, err = ctl(provider, "arm", "queryImageStatus", "busy", "--node", "1000")
    assert code == 1 and "did you mean 0x1000, shown as 1000?" in err
    code, out, _ = ctl(provider, "arm", "queryImageStatus", "busy", "--node", "0x1000")  # seen: no --unseen needed
    assert code == 0 and "node 1000" in out
    assert ctl(provider, "clear")[0] == 0


@pytest.mark.parametrize("given", ["QueryImageResponse", "QueryImageAnswered"])
def test_wait_for_takes_the_headless_name_or_the_class_name(given):
    # The headless lines (and the Python client's wait_for) say QueryImageResponse; the control
    # socket names the class. Either is waited for as the headless name the events carry.
    args = build_parser().parse_args(["wait-for", given])
    assert args.event == "QueryImageResponse"


def test_the_app_pipes_three_queries_through_ctl_and_the_client(provider):
    """The SDK app's out-of-band queries for our own users: the same payloads as the pipe's."""
    code, out, err = ctl(provider, "app-pipe", "GetBDXOffset")
    assert (code, err) == (0, "") and json.loads(out) == {"StartOffsetBitSet": False, "StartOffset": 0}
    code, out, _ = ctl(provider, "app-pipe", "GetApplyUpdateRequestStatus")
    status = json.loads(out)  # this provider has served updates in the tests before: values vary
    assert set(status) == {"UpdateToken", "NewVersion", "ApplyUpdateRequestSentStatus", "ApplyUpdateRequestCount"}
    assert isinstance(status["UpdateToken"], str) and isinstance(status["ApplyUpdateRequestSentStatus"], bool)
    assert {"VendorID", "ProtocolsSupported", "UpdateToken"} <= set(
        provider.query_app_pipe("QueryImageSnapshot").payload
    )
    code, _, err = ctl(provider, "app-pipe", "Reboot")
    assert code == 2 and err.count("\n") == 1

"""``chip-ota-provider-app``: the SDK app's command line as the certification launcher builds it, the
stdout lines its scripts wait for, and the out-of-band JSON over two named pipes.

Key names are the SDK delegate's (connectedhomeip ``examples/ota-provider-app/linux/
OtaProviderAppCommandDelegate.cpp``, ``BuildOtaProviderSnapshot``) and those the TC-SU scripts read
(``TC_SU_2_3.py``: UserConsentNeeded; ``TC_SU_2_4.py``: UpdateToken in both commands, NewVersion;
``TC_SU_2_7.py``: StartOffsetBitSet, StartOffset)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ota_provider.core.api.app_pipe import AppPipe, Observations, answer, split_requests
from ota_provider.core.api.events import (
    ApplyUpdateReceived,
    QueryImageAnswered,
    QueryImageReceived,
    UpdateAppliedNotified,
)
from ota_provider.core.node_ids import Peer
from ota_provider.core.ota.types import DownloadProtocol, QueryImageStatus
from ota_provider.core.presentation.sdk_lines import QUERY_LINE, READY_LINE
from tests.helpers.cert_launcher import launcher_command
from tests.helpers.cert_launcher import pipe_exchange as _exchange
from tests.helpers.samples import SAMPLES

PEER = Peer(1, 0xD001)
SDK_SNAPSHOT_KEYS = {  # BuildOtaProviderSnapshot, in the SDK delegate
    "VendorID",
    "ProductID",
    "SoftwareVersion",
    "HardwareVersion",
    "Location",
    "RequestorCanConsent",
    "ProtocolsSupported",
}
REQUEST = {"Cluster": "OtaSoftwareUpdateProvider", "Endpoint": 0}


def observed() -> Observations:
    seen = Observations()
    seen.feed(QueryImageReceived(PEER, 0xFFF1, 0x8000, 1, (DownloadProtocol.BDX_SYNCHRONOUS,), 2, "US", True))
    seen.feed(
        QueryImageAnswered(PEER, QueryImageStatus.UPDATE_AVAILABLE, update_token=b"\xab\xcd", user_consent_needed=True)
    )
    seen.feed(ApplyUpdateReceived(PEER, b"\xab\xcd", 3))
    return seen


def test_query_image_snapshot_has_the_sdk_delegates_keys_and_the_scripts_ones():
    reply = answer({"Name": "QueryImageSnapshot", **REQUEST}, observed())
    assert reply["Name"] == "SnapshotResponse" and (reply["Cluster"], reply["Endpoint"]) == (
        "OtaSoftwareUpdateProvider",
        0,
    )
    payload = reply["Payload"]
    assert set(payload) >= SDK_SNAPSHOT_KEYS
    assert payload["VendorID"] == 0xFFF1 and payload["SoftwareVersion"] == 1 and payload["Location"] == "US"
    assert payload["ProtocolsSupported"] == [0]  # numbers, as the delegate appends Json::UInt(p)
    assert payload["RequestorCanConsent"] is True and payload["UserConsentNeeded"] is True
    assert payload["UpdateToken"] == "ABCD"


def test_the_apply_status_agrees_with_the_query_and_a_notify_resets_only_the_counters():
    seen = observed()
    status = answer({"Name": "GetApplyUpdateRequestStatus", **REQUEST}, seen)["Payload"]
    query = answer({"Name": "QueryImageSnapshot", **REQUEST}, seen)["Payload"]
    assert status == {
        "UpdateToken": query["UpdateToken"],
        "NewVersion": 3,
        "ApplyUpdateRequestSentStatus": True,
        "ApplyUpdateRequestCount": 1,
    }
    seen.feed(UpdateAppliedNotified(PEER, b"\xab\xcd", 3, 3))
    after = answer({"Name": "GetApplyUpdateRequestStatus", **REQUEST}, seen)["Payload"]
    assert (after["UpdateToken"], after["NewVersion"]) == ("ABCD", 3)
    assert (after["ApplyUpdateRequestSentStatus"], after["ApplyUpdateRequestCount"]) == (False, 0)


def test_before_any_request_the_token_is_empty():
    assert answer({"Name": "GetApplyUpdateRequestStatus"}, Observations())["Payload"]["UpdateToken"] == ""


def test_unknown_names_wrong_clusters_and_malformed_requests_get_one_error_reply():
    assert "Unhandled command" in answer({"Name": "Reboot", **REQUEST}, Observations())["Error"]
    wrong = answer({"Name": "GetBDXOffset", "Cluster": "OnOff", "Endpoint": 0}, Observations())
    assert wrong["Name"] == "SnapshotResponse" and "Payload" not in wrong and "Error" in wrong
    assert answer([1, 2], Observations())["Name"] == "Error"
    assert answer({"Name": 7}, Observations())["Name"] == "Error"


def test_requests_are_found_however_the_writes_split_them():
    found, rest = split_requests('{"Name": "A"}{"Name"')
    assert found == [{"Name": "A"}] and rest == '{"Name"'
    found, rest = split_requests(rest + ': "B"}\n{oops}\n{"Name": "C"}')
    assert found[0] == {"Name": "B"} and isinstance(found[1], ValueError) and found[2] == {"Name": "C"} and rest == ""


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=200))
def test_any_pipe_input_is_split_and_answered_without_an_exception(text):
    found, rest = split_requests(text)
    assert len(rest) <= len(text)
    for request in found:
        if not isinstance(request, ValueError):
            assert "Name" in answer(request, Observations())


# ---------------------------------------------------------------------- the whole drop-in


def test_the_drop_in_starts_as_the_launcher_runs_it_serves_an_update_and_answers_the_pipe(tmp_path):
    kvs = tmp_path / "chip_kvs_provider"
    kvs.write_bytes(b"")  # the launcher's NamedTemporaryFile: an empty file is a fresh state
    pipe_in, pipe_out = tmp_path / "pipe_in", tmp_path / "pipe_out"
    extra = ["--app-pipe", str(pipe_in), "--app-pipe-out", str(pipe_out), "--demo-fabric", "--json"]
    command = launcher_command(SAMPLES / "sample-fff1-8000-v3.ota", kvs=kvs, port=0, discriminator=3841, extra=extra)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    try:
        deadline = time.monotonic() + 30
        while READY_LINE not in lines and time.monotonic() < deadline:
            time.sleep(0.05)
            lines[:] = [line.rstrip("\n") for line in lines]
        assert READY_LINE in lines, lines[-20:]
        events = [json.loads(line) for line in lines if line.startswith("{")]
        fabric = next(e["file"] for e in events if e["event"] == "DemoFabric")
        port = next(e["port"] for e in events if e["event"] == "Listening")
        assert Path(f"{kvs}.sock").exists()  # ota-provider attach KVS.sock, beside the scripts

        requestor = [sys.executable, "-m", "ota_provider.core.client.sim", "--fabric", fabric, "--port", str(port)]
        sim = subprocess.run(
            [*requestor, "--json", "--out", str(tmp_path / "out"), "--versions", "3"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert sim.returncode == 0, sim.stderr[-2000:]
        time.sleep(0.5)
        lines[:] = [line.rstrip("\n") for line in lines]
        answered = [json.loads(line) for line in lines if line.startswith('{"event": "QueryImageResponse"')]
        assert lines.count(QUERY_LINE) == len(answered) >= 1  # one line per QueryImage answered

        query = _exchange(pipe_in, pipe_out, {"Name": "QueryImageSnapshot", **REQUEST})["Payload"]
        assert set(query) >= SDK_SNAPSHOT_KEYS and query["VendorID"] == 0xFFF1
        assert query["SoftwareVersion"] == 3  # -f: offered whatever its version, as the SDK app does
        status = _exchange(pipe_in, pipe_out, {"Name": "GetApplyUpdateRequestStatus", **REQUEST})["Payload"]
        assert status["UpdateToken"] == query["UpdateToken"] != "" and status["NewVersion"] == 3
        assert status["ApplyUpdateRequestCount"] == 0  # the requestor notified: the counters reset
        offset = _exchange(pipe_in, pipe_out, {"Name": "GetBDXOffset", **REQUEST})["Payload"]
        assert offset == {"StartOffsetBitSet": False, "StartOffset": 0}
        assert _exchange(pipe_in, pipe_out, "{not json")["Name"] == "Error"
        assert _exchange(pipe_in, pipe_out, {"Name": "GetBDXOffset", **REQUEST})["Name"] == "SnapshotResponse"
        assert os.stat(pipe_in).st_mode & 0o077 == 0  # made owner-only
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_app_pipe_flags_go_together():
    command = launcher_command(SAMPLES / "sample-fff1-8000-v3.ota", kvs="/tmp/x", port=0, extra=["--app-pipe", "/p"])
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "--app-pipe-out" in result.stderr


def test_a_script_that_reopens_the_pipe_at_once_never_reads_an_empty_reply(tmp_path):
    """A script reads a reply, writes its next request and opens the out pipe again at once; a
    writer closed just after that open would hand it an end of file (1 exchange in 4 under load,
    before the writer lingered). A script that reads to the end of file still gets its reply."""
    pipe = AppPipe(tmp_path / "in", tmp_path / "out", Observations(), threading.Lock())
    pipe.start()
    try:
        replies = [_exchange(tmp_path / "in", tmp_path / "out", {"Name": "GetBDXOffset"}) for _ in range(100)]
        assert all(r["Name"] == "SnapshotResponse" for r in replies)
        with open(tmp_path / "in", "w") as writer:
            writer.write('{"Name": "GetBDXOffset"}')
        with open(tmp_path / "out") as reader:
            assert json.loads(reader.read())["Payload"] == {"StartOffsetBitSet": False, "StartOffset": 0}
    finally:
        pipe.stop()


def test_a_flag_the_drop_in_does_not_have_is_refused_in_one_line_with_its_name():
    command = launcher_command(SAMPLES / "sample-fff1-8000-v3.ota", kvs="/tmp/x", port=0, extra=["--trace-to", "x"])
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("chip-ota-provider-app: error: unrecognized arguments: --trace-to")


def test_a_pipe_path_that_is_a_regular_file_is_one_line_under_the_drop_ins_name(tmp_path):
    (tmp_path / "in").write_text("")
    extra = ["--app-pipe", str(tmp_path / "in"), "--app-pipe-out", str(tmp_path / "out")]
    command = launcher_command(SAMPLES / "sample-fff1-8000-v3.ota", kvs=tmp_path / "kvs", port=0, extra=extra)
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"chip-ota-provider-app: error: {tmp_path / 'in'} exists and is not a named pipe")


def test_a_kvs_the_sdk_app_left_is_moved_aside_and_a_fresh_state_starts(tmp_path):
    """TC-SU-2.2 gives a fixed --KVS path; the SDK's own app may have left its INI-format KVS there."""
    kvs = tmp_path / "chip_kvs_provider"
    kvs.write_text("[Default]\ng/fidx=AQ==\n")  # the SDK's Linux KVS (CHIPLinuxStorageIni)
    command = launcher_command(SAMPLES / "sample-fff1-8000-v3.ota", kvs=kvs, port=0)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.rstrip("\n") == READY_LINE:
                break
        else:
            raise AssertionError("the drop-in never got ready")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    aside = tmp_path / "chip_kvs_provider.sdk-kvs"
    assert aside.read_text().startswith("[Default]") and kvs.read_bytes().startswith(b"SQLite format 3")
    assert f"moved it to {aside}" in stderr and proc.returncode == 0

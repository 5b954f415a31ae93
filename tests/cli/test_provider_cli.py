"""``ota-provider`` command line: the SDK app's flags, validation, one-line errors."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ota_provider.core.cli import build_parser, main, parse_config, parse_number, run
from ota_provider.core.ota.policy import policy_from_sdk_flags
from ota_provider.core.ota.types import ApplyUpdateAction, QueryImageStatus, UserConsentState
from tests.helpers.samples import SAMPLES

SDK_FLAGS = [
    ("-a", "--applyUpdateAction"),
    ("-c", "--userConsentNeeded"),
    ("-f", "--filepath"),
    ("-i", "--imageUri"),
    ("-m", "--maxBDXBlockSize"),
    ("-o", "--otaImageList"),
    ("-p", "--delayedApplyActionTimeSec"),
    ("-q", "--queryImageStatus"),
    ("-t", "--delayedQueryActionTimeSec"),
    ("-u", "--userConsentState"),
    ("-x", "--ignoreQueryImage"),
    ("-y", "--ignoreApplyUpdate"),
    ("-P", "--pollInterval"),
]
NODE_FLAGS = [
    "--discriminator",
    "--passcode",
    "--secured-device-port",
    "--port",
    "--storage",
    "--KVS",
    "--vendor-id",
    "--product-id",
    "--allow-ota-from-fabric",
]
IMAGE = str(SAMPLES / "sample-fff1-8000-v2.ota")


def test_help_documents_every_sdk_and_node_flag():
    text = build_parser().format_help()
    for short, long in SDK_FLAGS:
        assert f"{short} " in text or f"{short}," in text, short
        assert long in text
    for flag in NODE_FLAGS:
        assert flag in text


def test_sdk_style_invocation_parses():
    config = parse_config(
        [
            *("-f", IMAGE, "-q", "busy", "-t", "0x3c", "-u", "deferred", "-c", "-a", "awaitNextAction", "-p", "010"),
            *("-x", "2", "-y", "1", "-i", "bdx://0000000000000001/0", "-m", "512", "-P", "20"),
        ]
    )
    assert config.query_image_status == QueryImageStatus.BUSY
    assert config.delayed_query_action_time == 60
    assert config.user_consent_state == UserConsentState.DEFERRED
    assert config.user_consent_needed
    assert config.apply_update_action == ApplyUpdateAction.AWAIT_NEXT_ACTION
    assert config.delayed_apply_action_time == 8  # leading 0 is octal, as strtoul(..., 0)
    assert (config.ignore_query_image, config.ignore_apply_update) == (2, 1)
    assert (config.max_bdx_block_size, config.poll_interval_ms) == (512, 20)


@pytest.mark.parametrize(("text", "value"), [("10", 10), ("0x1F", 31), ("017", 15), ("0", 0), (" 7 ", 7)])
def test_numbers_like_strtoul(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "either an OTA file (-f), an image list file (-o) or a ledger (--dcl) must be specified"),
        (["-f", IMAGE, "-o", str(SAMPLES / "image-list.json")], "cannot be combined"),
        (["--dcl", "ftp://dcl.example"], "is not a ledger: give mainnet, testnet or a base URL"),
        (["--dcl", "https://dcl.example/?x=1"], "a ledger's base URL takes no ?query"),
        (["-f", "/nonexistent.ota"], "/nonexistent.ota: no such file"),
        (["-f", IMAGE, "-m", "0"], "max BDX block size must be 1..65535, not 0"),
        (["-f", IMAGE, "-m", "65536"], "max BDX block size must be 1..65535, not 65536"),
        (["-f", IMAGE, "-q", "Busy"], "query image status must be one of"),
        (["-f", IMAGE, "-a", "later"], "apply update action must be one of"),
        (["-f", IMAGE, "-u", "maybe"], "user consent state must be one of"),
        (["-f", IMAGE, "-t", "soon"], "'soon' is not a number"),
        (["-f", IMAGE, "-x", "-1"], "ignore count must be 0.."),
        (["-o", str(SAMPLES / "image-list.json"), "--offer-any"], "--offer-any goes with -f"),
        (["-f", IMAGE, "--passcode", "11111111"], "passcode 11111111 is not allowed"),
        (["-f", IMAGE, "--passcode", "100000000"], "out of range"),
        (["-f", IMAGE, "--discriminator", "4096"], "discriminator must be 0..4095"),
        (["-f", IMAGE, "--vendor-id", "0"], "vendor id must be 1..65534"),
        (["-f", IMAGE, "--storage", "a", "--KVS", "b"], "--storage and --KVS cannot be combined"),
        (["-f", IMAGE, "--nope"], "unrecognized arguments: --nope"),
        (["--demo", "--demo-requestors", "0"], "--demo-requestors must be 1..100, not 0"),
        (["--demo", "--demo-block-interval", "fast"], "--demo-block-interval must be a number of seconds"),
        (["--demo", "--demo-block-interval", "-1"], "--demo-block-interval must be 0..3600 seconds"),
    ],
)
def test_bad_values_give_one_line_and_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        parse_config(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("ota-provider: error: ")
    assert message in err


def test_demo_uses_the_bundled_samples_and_prints_codes():
    out = io.StringIO()
    assert run(parse_config(["--demo", "--check"]), out) == 0
    text = out.getvalue()
    assert "sample-fff1-8000-v3.ota" in text
    assert "MT:Y.K90AFN00KA0648G00" in text  # VID 0xFFF1 PID 0x8000, on-network
    assert "3497-011-2332" in text


def test_demo_requestor_options():
    config = parse_config(["--demo", "--demo-requestors", "10", "--demo-block-interval", "0"])
    assert (config.demo_requestors, config.demo_block_interval) == (10, 0.0)
    default = parse_config(["--demo"])
    assert (default.demo_requestors, default.demo_block_interval) == (3, 0.1)


def test_sdk_response_flags_become_one_shot_knobs():
    config = parse_config(
        [
            "-f",
            IMAGE,
            "-q",
            "busy",
            "-t",
            "30",
            "-c",
            "-u",
            "denied",
            "-a",
            "discontinue",
            "-p",
            "5",
            "-x",
            "2",
            "-y",
            "1",
        ]
    )
    armed = {a.knob.name: (a.value, a.sticky) for a in policy_from_sdk_flags(config).armed}
    assert armed == {
        "QUERY_STATUS": (QueryImageStatus.BUSY, False),
        "QUERY_DELAY": (30, False),
        "CONSENT_NEEDED": (True, True),
        "CONSENT_STATE": (UserConsentState.DENIED, False),
        "APPLY_ACTION": (ApplyUpdateAction.DISCONTINUE, False),
        "APPLY_DELAY": (5, False),
        "IGNORE_QUERY": (2, False),
        "IGNORE_APPLY": (1, False),
    }


def test_json_lines():
    out = io.StringIO()
    run(parse_config(["-f", IMAGE, "--json", "--check"]), out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["event"] for r in records] == ["ImagesLoaded", "Onboarding"]
    assert records[0]["entries"][0]["softwareVersion"] == 2
    assert records[1]["manualCode"] == "34970112332"


def test_broken_image_list_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "list.json"
    bad.write_text('{"deviceSoftwareVersionModel": [{"otaURL": "missing.ota"}]}')
    assert main(["-o", str(bad), "--check"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "entry 0 (missing.ota): cannot read" in err


def test_corrupt_image_file_is_one_line_exit_2(tmp_path, capsys):
    image = tmp_path / "bad.ota"
    image.write_bytes(Path(IMAGE).read_bytes()[:-10])
    assert main(["-f", str(image), "--check"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "truncated" in err


def test_console_script_has_no_traceback_on_bad_input(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ota_provider.core.cli", "-f", str(tmp_path / "none.ota")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_serving_starts_the_node_and_stops_on_sigterm(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ota_provider.core.cli",
            "-f",
            IMAGE,
            "--port",
            "0",
            "--storage",
            str(tmp_path),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        events = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            events.append(json.loads(line))
            if events[-1]["event"] == "Listening":
                break
        assert [e["event"] for e in events][:2] == ["ImagesLoaded", "Onboarding"]
        assert events[-1]["event"] == "Listening" and events[-1]["port"] > 0
        assert (tmp_path / "ota-provider.sqlite3").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert '"Stopped"' in out


def test_demo_keeps_its_state_apart(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    config = parse_config(["--demo"])
    assert config.storage == tmp_path / "ota-provider" / "demo" and config.demo_fabric
    assert parse_config(["--demo", "--storage", str(tmp_path / "x")]).storage == tmp_path / "x"


def _provider(*args):
    command = [sys.executable, "-m", "ota_provider.core.cli", "-f", IMAGE, "--json", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _listening(proc) -> dict:
    for line in proc.stdout:
        event = json.loads(line)
        if event["event"] == "Listening":
            return event
    raise AssertionError(proc.stderr.read())


def _refused(*args) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-m", "ota_provider.core.cli", "-f", IMAGE, "--json", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.returncode, result.stderr


def test_a_second_provider_on_a_port_in_use_is_refused_with_the_owner(tmp_path):
    first = _provider("--secured-device-port", "0", "--storage", str(tmp_path / "a"))
    try:
        port = _listening(first)["port"]
        code, err = _refused("--secured-device-port", str(port), "--storage", str(tmp_path / "b"))
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=20)
    assert code == 1 and err.count("\n") == 1, err
    assert f"UDP port {port} is already in use (by pid {first.pid} (" in err and "ota_provider.core.cli" in err


def test_a_second_provider_on_a_state_in_use_is_refused(tmp_path):
    first = _provider("--secured-device-port", "0", "--storage", str(tmp_path / "state"))
    try:
        _listening(first)
        code, err = _refused("--secured-device-port", "0", "--storage", str(tmp_path / "state"))
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=20)
    assert code == 2 and err.count("\n") == 1, err
    assert f"is in use by another provider (pid {first.pid})" in err


@pytest.mark.parametrize("check", [False, True])
def test_an_unusable_storage_is_one_line_before_anything_starts(tmp_path, check):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for storage, message in ((a_file, "is a file, not a directory"), (a_file / "sub", f"{a_file} is a file")):
        code, err = _refused("--storage", str(storage), *(["--check"] if check else []))
        assert code == 2 and err.count("\n") == 1 and message in err, err


def test_headless_lines_and_json_events_carry_iso_timestamps(tmp_path):
    proc = _provider("--secured-device-port", "0", "--storage", str(tmp_path / "s"))
    try:
        event = _listening(proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["time"])
    text = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ota_provider.core.cli",
            "-f",
            IMAGE,
            "--headless",
            "--secured-device-port",
            "0",
            "--storage",
            str(tmp_path / "t"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = next(line for line in text.stdout if "listening on UDP port" in line)
    finally:
        text.send_signal(signal.SIGTERM)
        text.wait(timeout=20)
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z listening on UDP port", line)


def test_a_directory_for_f_and_an_empty_list_are_explained(tmp_path, capsys):
    code, err = _refused("-f", str(tmp_path))
    assert code == 2 and "is a directory; give an image file" in err
    empty = tmp_path / "empty.json"
    empty.write_text('{"deviceSoftwareVersionModel": []}')
    out = io.StringIO()
    assert run(parse_config(["-o", str(empty), "--check"]), out) == 0
    assert "warning: no images: every query gets NotAvailable" in out.getvalue()

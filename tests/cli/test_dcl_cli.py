"""``ota-provider dcl VID PID`` against a replica of the ledger: the choice with every newer version
passed over and why, the image downloaded and checked with --download, and a ledger that cannot
be reached in one line; the exit status says whether an update applies."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.dcl.replica import Replica, build_image

VID, PID = 0xFFF1, 0x8001


@pytest.fixture
def replica(tmp_path):
    replica = Replica(tmp_path / "replica")
    replica.publish(build_image(tmp_path, VID, PID, 2), VID, PID, 2)
    replica.publish(build_image(tmp_path, VID, PID, 3), VID, PID, 3, valid=False)
    yield replica
    replica.close()


def dcl(replica: Replica, tmp_path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "ota_provider.core.cli", "dcl", *args, "--storage", str(tmp_path / "state")]
    env = {**os.environ, "SSL_CERT_FILE": str(replica.ca_file)}
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, env=env)


def test_the_choice_and_why_the_newer_version_was_passed_over(replica, tmp_path):
    done = dcl(replica, tmp_path, "0xFFF1", "0x8001", "--current", "1", "--dcl", replica.url)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert f"ledger 127.0.0.1:{replica.port}: VID 0xFFF1 PID 0x8001 on version 1: version 2" in line
    assert "3 passed over: marked not valid on the ledger" in line
    assert not list((tmp_path / "state").rglob("*.ota"))  # nothing downloaded without --download


def test_download_checks_the_image_into_the_state_directory(replica, tmp_path):
    done = dcl(replica, tmp_path, "0xFFF1", "0x8001", "--current", "1", "--dcl", replica.url, "--download", "--json")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    ready = [e for e in events if e["event"] == "LedgerImageReady"]
    assert ready and ready[0]["softwareVersion"] == 2
    assert len(list((tmp_path / "state" / "ledger").rglob("*.ota"))) == 1


def test_up_to_date_exits_3(replica, tmp_path):
    done = dcl(replica, tmp_path, "0xFFF1", "0x8001", "--current", "2", "--dcl", replica.url)
    assert done.returncode == 3 and "nothing applies" in done.stdout


def test_an_unreachable_ledger_is_one_line_and_exit_1(replica, tmp_path):
    done = dcl(replica, tmp_path, "0xFFF1", "0x8001", "--dcl", "https://127.0.0.1:9")
    assert done.returncode == 1
    assert done.stdout.count("\n") == 1 and "ledger 127.0.0.1:9 unreachable" in done.stdout
    assert "Traceback" not in done.stderr


def test_bad_numbers_are_one_line_and_exit_2(replica, tmp_path):
    done = dcl(replica, tmp_path, "0x1FFFF", "1")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "0x1FFFF is not a number from 0 to 65535" in done.stderr

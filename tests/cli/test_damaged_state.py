"""A state directory that is damaged, emptied or on a full disk: the provider says so in one line
and exits non-zero, never a traceback, and never starts a blank node over lost fabrics."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid

import pytest

from ota_provider.core.fabric.demo import DemoFabric
from ota_provider.core.node import MatterNode, NodeConfig
from ota_provider.core.storage.database import Database
from tests.helpers.samples import SAMPLES

IMAGE = str(SAMPLES / "sample-fff1-8000-v3.ota")


def _start(state, *extra) -> subprocess.CompletedProcess:
    """Start the provider on ``state`` and stop it at once with --check's sibling: a short --timeout run."""
    command = [
        sys.executable,
        "-m",
        "ota_provider.core.cli",
        "-f",
        IMAGE,
        "--headless",
        "--port",
        "0",
        "--storage",
        str(state),
        *extra,
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=8)
    except subprocess.TimeoutExpired:  # it is serving: the state was fine
        proc.terminate()
        out, err = proc.communicate(timeout=20)
        return subprocess.CompletedProcess(command, 0, out, err)
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def _one_line(result: subprocess.CompletedProcess, says: str) -> None:
    assert result.returncode != 0, result.stdout[-500:]
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr


def _node_with_a_fabric(state) -> None:
    node = MatterNode(NodeConfig(storage=state, passcode=20202021, discriminator=3840))
    node.admin.join_demo_fabric(DemoFabric.generate())
    node.stop()


def test_an_emptied_database_is_refused_not_started_blank(tmp_path):
    _node_with_a_fabric(tmp_path)
    (tmp_path / "ota-provider.sqlite3").write_bytes(b"")
    _one_line(_start(tmp_path), "is empty (0 bytes)")


def test_a_database_with_garbage_in_the_middle_is_refused(tmp_path):
    _node_with_a_fabric(tmp_path)
    database = tmp_path / "ota-provider.sqlite3"
    data = bytearray(database.read_bytes())
    assert len(data) > 8192
    for page in range(4096, len(data) - 4096, 4096 * 2):  # every other page after the first, its header too
        data[page : page + 64] = b"\xa5" * 64
    database.write_bytes(bytes(data))
    _one_line(_start(tmp_path), "ota-provider.sqlite3")


def test_a_damaged_noc_in_the_state_is_one_line(tmp_path):
    _node_with_a_fabric(tmp_path)
    db = Database(tmp_path / "ota-provider.sqlite3")
    with db.transaction() as cursor:
        cursor.execute("UPDATE fabrics SET noc = ?", (b"\x15garbage",))
    db.close()
    _one_line(_start(tmp_path), "is damaged: stored fabric 1 is unusable")


def test_a_damaged_stored_test_dac_is_made_anew(tmp_path):
    _node_with_a_fabric(tmp_path)
    db = Database(tmp_path / "ota-provider.sqlite3")
    db.set_setting("attestation/dac", b"not a certificate")
    db.close()
    node = MatterNode(NodeConfig(storage=tmp_path, passcode=20202021, discriminator=3840))
    try:
        assert node.admin.credentials.vendor_id == 0xFFF1 and len(node.fabrics) == 1
    finally:
        node.stop()


@contextlib.contextmanager
def _tiny_disk(tmp_path, size: str):
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True, check=False
        ).returncode
        != 0
    ):
        pytest.skip("needs root to mount a small tmpfs")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_new_state_on_a_full_disk_is_one_line(tmp_path):
    with _tiny_disk(tmp_path, "48k") as disk:
        filler = disk / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as out:
            while True:
                out.write(b"\0" * 4096)
                out.flush()
        os.truncate(filler, max(0, filler.stat().st_size - 32 * 1024))  # about 32 KiB left
        result = _start(disk / "state")
    assert "cannot listen on UDP port" not in result.stderr
    _one_line(result, "disk")

"""A trace of one full update, as a bug report would carry it: our provider commissions a device,
and a requestor queries, downloads over BDX, applies and notifies. Every message is in it, decoded;
no session key, passcode or IPK is; ``trace show`` reads it back; its size per MB is reported."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys

import pytest

from ota_provider.core.api.commands import CommissionDevice, StopTrace
from ota_provider.core.api.events import DeviceStep
from ota_provider.core.codec.setup_payload import SetupPayload
from ota_provider.core.engine import wait_for
from ota_provider.core.node import MatterNode, NodeConfig
from ota_provider.core.session.secure import SecureSession
from tests.helpers.engine_helpers import requestor, start_engine

PASSCODE = 20202021


def test_a_full_update_traced_holds_every_message_and_no_secret(tmp_path):
    trace = tmp_path / "trace.jsonl"
    engine = start_engine(tmp_path / "state", trace=trace)
    secrets: set[str] = set()

    def keep_keys(manager) -> None:
        for session in manager.sessions:
            if isinstance(session, SecureSession):
                keys = session.keys
                secrets.update(k.hex() for k in (keys.i2r, keys.r2i, keys.attestation_challenge))

    async def scenario():
        device = MatterNode(
            NodeConfig(
                storage=tmp_path / "device",
                passcode=PASSCODE,
                discriminator=3840,
                port=0,
                host="::1",
                allow_ota_from_fabric=False,
            )
        )
        await device.start()
        try:
            code = SetupPayload(discriminator=3840, passcode=PASSCODE, vendor_id=0, product_id=0).manual_code()
            engine.send(CommissionDevice(f"{code}@[::1]:{device.port}"))
            await asyncio.to_thread(wait_for, engine, lambda e: isinstance(e, DeviceStep), 30)
            keep_keys(device.manager)
            client, driver = await requestor(engine, tmp_path / "state", 0xD001)
            try:
                answer = await client.query_image(0xFFF1, 0x8000, 1)
                result = await client.download(answer.image_uri, tmp_path / "image.ota")
                await client.apply_update(answer.update_token, answer.software_version)
                await client.notify_update_applied(answer.update_token, answer.software_version)
                keep_keys(driver.manager)
                keep_keys(engine.node.manager)
                return result.size
            finally:
                driver.close()
        finally:
            device.stop()

    try:
        downloaded = asyncio.run(scenario())
        engine.send(StopTrace())
        wait_for(engine, lambda e: getattr(e, "message", "").startswith("trace "), 10)
        bench_ipk = engine.bench._fabric.authority.ipk_epoch_key.hex() if engine.bench._fabric else ""
    finally:
        engine.stop()
    text = trace.read_text()
    records = [json.loads(line) for line in text.splitlines()][1:]
    assert stat.S_IMODE(trace.stat().st_mode) == 0o600
    ops = [(r.get("protocol"), r.get("opcode")) for r in records]
    for expected in (
        ("SECURE_CHANNEL", "PBKDF_PARAM_REQUEST"),
        ("SECURE_CHANNEL", "PASE_PAKE3"),
        ("SECURE_CHANNEL", "CASE_SIGMA1"),
        ("BDX", "RECEIVE_INIT"),
        ("BDX", "BLOCK_EOF"),
        ("BDX", "BLOCK_ACK_EOF"),
        ("INTERACTION_MODEL", "INVOKE_REQUEST"),
    ):
        assert expected in ops, expected
    commands = {c for r in records for c in r.get("commands", ())}
    assert {
        "0/0x003E/0x06",
        "0/0x0029/QueryImage",
        "0/0x0029/QueryImageResponse",
        "0/0x0029/ApplyUpdateRequest",
        "0/0x0029/NotifyUpdateApplied",
        "0/0x0030/0x04",
    } <= commands, commands
    add_noc = next(r for r in records if "0/0x003E/0x06" in r.get("commands", ()) and r["dir"] == "out")
    assert add_noc["im"]["2"][0]["1"]["2"] == "<redacted>"  # AddNOC's IPKValue
    blocks = [r for r in records if r.get("opcode") in ("BLOCK", "BLOCK_EOF") and r["dir"] == "out"]
    assert sum(r["dataBytes"] for r in blocks) == downloaded and all("data" not in r for r in blocks)
    # No key material: every session key of every party, the passcode in any form, the IPK.
    assert secrets and bench_ipk
    lowered = text.lower()
    for secret in {*secrets, bench_ipk, PASSCODE.to_bytes(4, "little").hex()}:
        assert secret.lower() not in lowered, secret
    assert str(PASSCODE) not in text
    shown = subprocess.run(
        [sys.executable, "-m", "ota_provider.core.cli", "trace", "show", str(trace)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 0 and f"{len(records)} messages" in shown.stdout
    assert "0/0x0029/QueryImage" in shown.stdout and "BDX:BLOCK_EOF" in shown.stdout
    bdx = sum(len(line) + 1 for line in text.splitlines()[1:] if '"protocol":"BDX"' in line)
    print(
        f"\ntrace: {len(records)} messages, {len(text)} bytes for a {downloaded}-byte download; the BDX "
        f"records alone {bdx / downloaded * 1e6 / 1024:.0f} KiB per MB downloaded (1024-byte blocks)"
    )


def test_the_operators_trace_file_is_never_a_symlink_a_fifo_a_state_file_or_in_a_missing_folder(tmp_path):
    from ota_provider.core.trace import TraceError, open_operator_trace  # noqa: PLC0415

    state = tmp_path / "state"
    state.mkdir()
    (state / "ota-provider.sqlite3").write_bytes(b"SQLite format 3\x00")
    decoy = tmp_path / "decoy"
    decoy.write_text("keep")
    (tmp_path / "link.jsonl").symlink_to(decoy)
    os.mkfifo(tmp_path / "pipe.jsonl")
    for path, says in [
        (state / "ota-provider.sqlite3", "one of the provider's state files"),
        (tmp_path / "link.jsonl", "cannot write the trace"),
        (tmp_path / "pipe.jsonl", "cannot write the trace"),
        (tmp_path / "nowhere" / "t.jsonl", "the folder .*nowhere does not exist"),
    ]:
        with pytest.raises(TraceError, match=says):
            open_operator_trace(path, state)
    assert decoy.read_text() == "keep" and (state / "ota-provider.sqlite3").read_bytes() == b"SQLite format 3\x00"
    descriptor = open_operator_trace(tmp_path / "fine.jsonl", state)
    os.close(descriptor)
    assert stat.S_IMODE((tmp_path / "fine.jsonl").stat().st_mode) == 0o600


def test_a_named_trace_is_made_new_in_an_owner_only_folder(tmp_path):
    from ota_provider.core.trace import TraceError, open_named_trace  # noqa: PLC0415

    folder = tmp_path / "traces"
    path, descriptor = open_named_trace(folder, "a.jsonl")
    os.close(descriptor)
    assert path == folder / "a.jsonl" and stat.S_IMODE(folder.stat().st_mode) == 0o700
    with pytest.raises(TraceError, match="exists already"):
        open_named_trace(folder, "a.jsonl")
    for name in ("", ".", "..", ".hidden", "sub/a.jsonl", "/etc/passwd"):
        with pytest.raises(TraceError):
            open_named_trace(folder, name)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    linked = tmp_path / "linked"
    linked.symlink_to(elsewhere)
    with pytest.raises(TraceError, match="not a folder of this user"):
        open_named_trace(linked, "b.jsonl")
    assert not list(elsewhere.iterdir())

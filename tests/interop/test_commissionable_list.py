"""The Add-device dialog lists what can be commissioned now: a provider killed without a goodbye
(SIGKILL, a power cut) leaves the list within half a minute, while one that runs on stays listed.
Without the check it stayed for its PTR record's 75 minutes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ota_provider.core.dnssd.browser import GONE_AFTER
from tests.interop.netns import pair_or_skip
from tests.interop.peers import REPO, Provider

WATCH_SECONDS = 45.0


@pytest.fixture(scope="module")
def netns():
    yield from pair_or_skip()


@pytest.mark.slow  # 50 s of real mDNS; tests/dnssd/test_browser_liveness.py checks the rule in the suite
def test_a_killed_provider_leaves_the_list_and_a_live_one_stays(netns, tmp_path):
    live = Provider(netns, tmp_path / "live", "--port", "5540", "--discriminator", "3001")
    killed = Provider(netns, tmp_path / "killed", "--port", "5541", "--discriminator", "3002")
    live.start()
    killed.start()
    watcher = subprocess.Popen(
        [
            *netns.prefix(netns.controller),
            sys.executable,
            "-m",
            "tests.interop.commissionable_list",
            str(WATCH_SECONDS),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lists = []
        while not (lists and len(lists[-1]["names"]) == 2):
            line = watcher.stdout.readline()
            assert line, f"both providers never listed: {lists}"
            lists.append(json.loads(line))
        both = lists[-1]
        killed_at = both["t"]
        killed.kill()
        lists += [json.loads(line) for line in watcher.stdout]
    finally:
        watcher.kill()
        live.stop()
        killed.stop()
    after = [entry for entry in lists if entry["t"] > killed_at]
    assert after, f"the killed provider was never dropped: {lists}"
    dropped = after[0]
    assert len(dropped["names"]) == 1 and dropped["t"] - killed_at <= GONE_AFTER + 8, lists
    assert all(len(entry["names"]) == 1 for entry in after), lists  # the live one never left

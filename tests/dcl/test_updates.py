"""The ledger as a source of updates, against a replica on this machine (HTTPS with the test's own
CA): each rule of the choice, each check of a download, and each way the network fails."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from ota_provider.core.dcl import events as ev
from ota_provider.core.dcl.sources import LedgerKind, LedgerSource, parse_ledger
from ota_provider.core.dcl.updates import LedgerUpdates
from ota_provider.core.ota.catalog import OriginKind
from ota_provider.core.ota.extra_images import Nothing, Ready, Waiting

from .replica import Replica, build_image

VID, PID = 0xFFF1, 0x8001


@pytest.fixture
def replica(tmp_path, monkeypatch):
    replica = Replica(tmp_path / "replica")
    monkeypatch.setenv("SSL_CERT_FILE", str(replica.ca_file))
    yield replica
    replica.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def make_updates(replica: Replica, storage: Path, **kwargs) -> tuple[LedgerUpdates, list]:
    events: list = []
    source = LedgerSource(LedgerKind.URL, replica.url)
    updates = LedgerUpdates([source], storage, emit=events.append, **kwargs)
    for ledger in updates._ledgers:  # no pauses between retries in tests
        ledger.client.retry_pause = 0.0
    return updates, events


async def settle(updates: LedgerUpdates, current: int, *, vid: int = VID, pid: int = PID, timeout: float = 20.0):
    """Ask as a requestor would, again and again, until the answer is no longer Waiting."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        answer = updates.consider(vid, pid, current)
        if not isinstance(answer, Waiting):
            return answer
        assert asyncio.get_running_loop().time() < deadline, f"still waiting: {answer}"
        await asyncio.sleep(0.01)


def run(coroutine):
    return asyncio.run(coroutine)


def answer_once(replica: Replica, tmp_path: Path, current: int) -> tuple[object, list]:
    """A fresh ledger source asked until it answers for a device on ``current``; and its events."""

    async def scenario():
        updates, events = make_updates(replica, tmp_path / "state")
        answer = await settle(updates, current)
        await updates.aclose()
        return answer, events

    return run(scenario())


def test_the_newest_applicable_version_is_downloaded_checked_and_offered(replica, tmp_path):
    replica.publish(build_image(tmp_path, VID, PID, 2), VID, PID, 2)
    replica.publish(build_image(tmp_path, VID, PID, 3), VID, PID, 3)

    async def scenario():
        updates, events = make_updates(replica, tmp_path / "state")
        first = updates.consider(VID, PID, 1)
        answer = await settle(updates, 1)
        await updates.aclose()
        return first, answer, events

    first, answer, events = run(scenario())
    assert isinstance(first, Waiting)  # the ledger is asked in the background, the query is not held
    assert isinstance(answer, Ready)
    entry = answer.entry
    assert entry.software_version == 3
    assert entry.origin.kind == OriginKind.LEDGER
    assert entry.path.read_bytes() == replica.files[f"/images/{VID}-{PID}-3.ota"]
    assert entry.designator.endswith("-fff1-8001-3")
    assert any(isinstance(e, ev.LedgerImageReady) and e.software_version == 3 for e in events)
    assert not any(e.startswith(f"/images/{VID}-{PID}-2") for e in replica.requests)  # only the chosen one


def test_a_newer_invalid_version_does_not_hide_an_older_valid_one(replica, tmp_path):
    replica.publish(build_image(tmp_path, VID, PID, 2), VID, PID, 2)
    replica.publish(build_image(tmp_path, VID, PID, 3), VID, PID, 3, valid=False)

    answer, events = answer_once(replica, tmp_path, 1)
    assert isinstance(answer, Ready) and answer.entry.software_version == 2
    looked = [e for e in events if isinstance(e, ev.LedgerLookedUp)]
    assert looked[-1].chosen == 2 and looked[-1].skipped[0][0] == 3


@pytest.mark.parametrize(
    ("low", "high", "current", "expected"),
    [(5, 9, 4, None), (5, 9, 10, None), (5, 9, 5, 12), (5, 9, 9, 12)],
)
def test_the_applicable_range_is_kept(replica, tmp_path, low, high, current, expected):
    replica.publish(build_image(tmp_path, VID, PID, 12), VID, PID, 12, low=low, high=high)

    answer, _ = answer_once(replica, tmp_path, current)
    if expected is None:
        assert isinstance(answer, Nothing) and "applies to versions 5-9" in answer.reason
    else:
        assert isinstance(answer, Ready) and answer.entry.software_version == expected


def test_a_version_without_an_image_is_passed_over(replica, tmp_path):
    replica.publish(build_image(tmp_path, VID, PID, 2), VID, PID, 2)
    replica.publish(b"", VID, PID, 3, url="", checksum_text="", size=0)

    answer, _ = answer_once(replica, tmp_path, 1)
    assert isinstance(answer, Ready) and answer.entry.software_version == 2


def _refused(replica, tmp_path, **publish) -> tuple[object, list]:
    image = build_image(tmp_path, VID, PID, 2)
    replica.publish(image, VID, PID, 2, **publish)

    async def scenario():
        updates, events = make_updates(replica, tmp_path / "state")
        answer = await settle(updates, 1)
        kept = list((tmp_path / "state" / "ledger").rglob("*.ota*"))
        await updates.aclose()
        return answer, events, kept

    answer, events, kept = run(scenario())
    assert isinstance(answer, Nothing)
    assert kept == []  # nothing refused stays in the image store
    return answer, [e for e in events if isinstance(e, ev.LedgerImageRefused)]


def test_a_wrong_checksum_is_refused(replica, tmp_path):
    answer, refused = _refused(replica, tmp_path, checksum_text=base64.b64encode(bytes(32)).decode())
    assert "checksum is not the one published" in refused[0].reason and not refused[0].retry
    assert "checksum" in answer.reason


def test_a_wrong_size_is_refused(replica, tmp_path):
    image = build_image(tmp_path, VID, PID, 2)
    _answer, refused = _refused(replica, tmp_path, size=len(image) + 1)
    assert f"the ledger published {len(image) + 1}" in refused[0].reason


def test_an_image_larger_than_published_is_cut_off(replica, tmp_path):
    _answer, refused = _refused(replica, tmp_path, size=100)
    assert "larger than the 100 bytes" in refused[0].reason


def test_a_header_that_does_not_match_the_entry_is_refused(replica, tmp_path):
    other = build_image(tmp_path, VID, PID, 7)  # published as version 2, says version 7 inside
    replica.publish(other, VID, PID, 2)

    answer, events = answer_once(replica, tmp_path, 1)
    assert isinstance(answer, Nothing)
    refused = [e for e in events if isinstance(e, ev.LedgerImageRefused)]
    assert "header says VID 0xFFF1 PID 0x8001 version 7" in refused[0].reason


@pytest.mark.parametrize("checksum_type", [1, 7, 8, 10])
def test_every_checksum_type_matter_js_knows_is_checked(replica, tmp_path, checksum_type):
    replica.publish(build_image(tmp_path, VID, PID, 2), VID, PID, 2, checksum_type=checksum_type)

    assert isinstance(answer_once(replica, tmp_path, 1)[0], Ready)


def test_a_missing_image_is_tried_again_later(replica, tmp_path):
    image = build_image(tmp_path, VID, PID, 2)
    path = replica.publish(image, VID, PID, 2, serve=False)
    clock = Clock()

    async def scenario():
        updates, events = make_updates(replica, tmp_path / "state", clock=clock)
        answer = await settle(updates, 1)
        replica.files[path] = image
        still = updates.consider(VID, PID, 1)  # within the retry time: not asked again
        clock.now += 61
        later = await settle(updates, 1)
        await updates.aclose()
        return answer, still, later, events

    answer, still, later, events = run(scenario())
    assert isinstance(answer, Nothing) and "HTTP 404" in answer.reason
    assert isinstance(still, Nothing)
    assert isinstance(later, Ready)
    assert [e.retry for e in events if isinstance(e, ev.LedgerImageRefused)] == [True]


def test_a_dropped_connection_is_a_network_failure_tried_again(replica, tmp_path):
    image = build_image(tmp_path, VID, PID, 2, payload_size=64_000)
    path = replica.publish(image, VID, PID, 2)
    replica.cut.add(path)
    clock = Clock()

    async def scenario():
        updates, events = make_updates(replica, tmp_path / "state", clock=clock)
        answer = await settle(updates, 1)
        replica.cut.clear()
        clock.now += 61
        later = await settle(updates, 1)
        await updates.aclose()
        return answer, later, events

    answer, later, events = run(scenario())
    assert isinstance(answer, Nothing)
    refused = [e for e in events if isinstance(e, ev.LedgerImageRefused)]
    assert refused[0].retry
    assert isinstance(later, Ready)


def test_a_slow_download_keeps_the_requestor_waiting_with_its_progress(replica, tmp_path):
    image = build_image(tmp_path, VID, PID, 2, payload_size=40_000)
    path = replica.publish(image, VID, PID, 2)
    replica.slow[path] = 0.02

    async def scenario():
        updates, _ = make_updates(replica, tmp_path / "state")
        seen = []
        while not isinstance(answer := updates.consider(VID, PID, 1), Ready):
            seen.append((answer, updates.downloads()))
            await asyncio.sleep(0.02)
        await updates.aclose()
        return seen

    seen = run(scenario())
    waits = [answer for answer, _ in seen if isinstance(answer, Waiting)]
    assert waits and all(30 <= w.seconds <= 3600 for w in waits)
    assert any(w.version == 2 for w in waits)
    progress = [d[0].received for _, d in seen if d]
    assert any(0 < received < len(image) for received in progress)  # the dashboard's progress moves


def test_an_unreachable_ledger_serves_its_cache_and_says_so(replica, tmp_path):
    replica.publish(build_image(tmp_path, VID, PID, 2), VID, PID, 2)
    clock = Clock()

    async def fetch_once():
        updates, _ = make_updates(replica, tmp_path / "state", clock=clock)
        answer = await settle(updates, 1)
        await updates.aclose()
        return answer

    assert isinstance(run(fetch_once()), Ready)
    replica.down = True
    clock.now += 7200  # the cached answers are stale: the ledger is asked, and does not answer

    async def offline():
        updates, events = make_updates(replica, tmp_path / "state", clock=clock)
        await updates.check()
        answer = updates.consider(VID, PID, 1)  # the kept image and the cache answer at once
        await asyncio.sleep(0.5)
        await updates.aclose()
        return answer, events

    answer, events = run(offline())
    assert isinstance(answer, Ready) and answer.entry.software_version == 2
    down = [e for e in events if isinstance(e, ev.LedgerUnreachable)]
    assert len(down) == 1 and down[0].cached >= 2 and down[0].cache_age is not None


def test_an_unreachable_ledger_with_nothing_cached_says_why(tmp_path, monkeypatch):
    source = parse_ledger("https://127.0.0.1:9")  # nothing listens there

    async def scenario():
        events: list = []
        updates = LedgerUpdates([source], tmp_path, emit=events.append)
        updates._ledgers[0].client.retry_pause = 0.0
        await updates.check()
        answer = await settle(updates, 1)
        await updates.aclose()
        return answer, events

    answer, events = run(scenario())
    assert isinstance(answer, Nothing) and "unreachable" in answer.reason and "nothing cached" in answer.reason
    assert [type(e) for e in events].count(ev.LedgerUnreachable) == 1


def test_a_ledger_whose_certificate_is_not_trusted_is_unreachable_with_the_reason(replica, tmp_path, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE")

    async def scenario():
        updates, events = make_updates(replica, tmp_path / "state")
        await updates.check()
        await updates.aclose()
        return events

    events = run(scenario())
    assert "TLS certificate is not trusted" in events[0].reason and "SSL_CERT_FILE" in events[0].reason


def test_vendor_names_follow_the_pagination(replica, tmp_path):
    replica.vendors = [{"vendorID": 4447 + i, "vendorName": f"Vendor {i}", "schemaVersion": 0} for i in range(5)]

    async def scenario():
        updates, _ = make_updates(replica, tmp_path / "state")
        await updates.check()
        await updates.aclose()
        return updates.vendor_names()

    names = run(scenario())
    assert names == {4447 + i: f"Vendor {i}" for i in range(5)}
    assert sum("pagination.key" in path for path in replica.requests) == 2


def test_images_kept_from_an_earlier_run_are_checked_again_and_served_offline(replica, tmp_path):
    replica.publish(build_image(tmp_path, VID, PID, 2), VID, PID, 2)

    async def first_run():
        updates, _ = make_updates(replica, tmp_path / "state")
        answer = await settle(updates, 1)
        await updates.aclose()
        return answer

    assert isinstance(run(first_run()), Ready)
    replica.down = True
    updates, _ = make_updates(replica, tmp_path / "state")
    kept = updates.entries()
    assert [e.software_version for e in kept] == [2]
    assert updates.entry_for_designator(kept[0].designator) == kept[0]

    image_file = kept[0].path  # a file changed behind our back is not served again
    image_file.write_bytes(image_file.read_bytes()[:-1] + b"\x00")
    assert make_updates(replica, tmp_path / "state")[0].entries() == ()


@pytest.mark.parametrize(
    ("vid", "pid", "current", "invalid", "chosen", "passed_over"),
    [
        (4442, 67, 198320, False, 198340, []),
        (
            4442,
            67,
            197000,
            False,
            None,
            [
                (198340, "applies to versions 198317-198340"),
                (197910, "without an image"),
                (197888, "without an image"),
                (197120, "no entry"),
            ],
        ),
        (4447, 8194, 1005, False, 1011, []),
        (4447, 8194, 1005, True, None, [(1011, "not valid")]),
        (4447, 8194, 999, False, None, [(1011, "applies to versions 1000-1010"), (1000, "without an image")]),
    ],
)
def test_the_recorded_ledger_answers_choose_as_the_ledger_documents(
    replica, tmp_path, vid, pid, current, invalid, chosen, passed_over
):
    """Real answers: 4442/67 lists a version with no entry and versions with no image; 4447/8194's
    1011 was recorded valid and not valid."""
    replica.load_recorded(invalid_1011=invalid)

    async def scenario():
        updates, events = make_updates(replica, tmp_path / "state")
        await settle(updates, current, vid=vid, pid=pid)
        await updates.aclose()
        return [e for e in events if isinstance(e, ev.LedgerLookedUp)]

    looked = run(scenario())[-1]
    assert looked.chosen == chosen
    assert [version for version, _ in looked.skipped] == [version for version, _ in passed_over]
    for (_, reason), (_, expected) in zip(looked.skipped, passed_over, strict=True):
        assert expected in reason


@pytest.mark.parametrize(("status", "says"), [(400, "HTTP 400"), (503, "unreachable")])
def test_a_ledger_that_answers_with_an_error_is_said_not_waited_on(replica, tmp_path, status, says):
    replica.publish(build_image(tmp_path, VID, PID, 2), VID, PID, 2)
    replica.failing[f"/dcl/model/versions/{VID}/{PID}"] = status
    answer, _ = answer_once(replica, tmp_path, 1)
    assert isinstance(answer, Nothing) and says in answer.reason

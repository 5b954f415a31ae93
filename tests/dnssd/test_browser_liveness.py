"""The commissionable list's liveness rule, on a fake clock: a quiet device is asked for its SRV
record (a question with no known answers, which a responder would otherwise stay silent on), and
one that stays quiet is no longer listed; any record heard from a device keeps it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from ota_provider.core.dnssd.browser import GONE_AFTER, PROBE_AFTER, CommissionableBrowser, CommissionableDevice

NAME = "8A1B2C3D4E5F6071._matterc._udp.local."
DEVICE = CommissionableDevice("8A1B2C3D4E5F6071", 3101, 1, 0xFFF1, 0x8000, "", (("fd00::2", 5540, 0, 0),), 5540)


class FakeZeroconf:
    def __init__(self) -> None:
        self.sent = []

    def async_send(self, out) -> None:
        self.sent.append(out)


def test_quiet_devices_are_asked_then_dropped_and_a_heard_one_stays():
    async def scenario():
        lists = []
        zc = FakeZeroconf()
        browser = CommissionableBrowser(lists.append, zeroconf=SimpleNamespace(zeroconf=zc))
        now = asyncio.get_running_loop().time()
        browser._devices = {NAME: DEVICE, "Other._matterc._udp.local.": DEVICE}
        browser._heard = {NAME.lower(): now, "other._matterc._udp.local.": now}
        asked_early = browser.check(now + PROBE_AFTER - 1)
        asked = browser.check(now + PROBE_AFTER)
        questions = [(q.name, q.type) for q in zc.sent[-1].questions]
        known_answers = zc.sent[-1].answers
        browser._heard[NAME.lower()] = now + GONE_AFTER - 1  # it answered (any record of it)
        browser.check(now + GONE_AFTER)
        return asked_early, sorted(asked), questions, known_answers, lists[-1], browser.devices

    asked_early, asked, questions, known_answers, last_list, devices = asyncio.run(scenario())
    assert asked_early == []
    assert asked == [NAME, "Other._matterc._udp.local."]
    assert sorted(questions) == sorted([(NAME, 33), ("Other._matterc._udp.local.", 33)]) and known_answers == []
    assert last_list == (DEVICE,) and devices == (DEVICE,)  # the quiet one went, the one heard from stayed

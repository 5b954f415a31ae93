"""The --demo requestors follow the SDK requestor's rules (OTA_PROVIDER_SPEC.md §5.2, §5.3)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from ota_provider.core.client import demo
from ota_provider.core.client.demo import DemoRequestors
from ota_provider.core.fabric.demo import DemoFabric
from ota_provider.core.ota.types import ApplyUpdateAction, QueryImageStatus


class ScriptedProvider:
    """Answers as the provider would, and records what the requestor did."""

    def __init__(self, query, applies):
        self.query, self.applies, self.calls = query, list(applies), []

    async def query_image(self, *_args, **_kwargs):
        self.calls.append("query")
        return self.query

    async def download(self, *_args, **_kwargs):
        self.calls.append("download")

    async def apply_update(self, *_args):
        self.calls.append("apply")
        return self.applies.pop(0)

    async def notify_update_applied(self, *_args):
        self.calls.append("notify")


def run_round(provider, monkeypatch):
    waits = []

    async def sleep(seconds):
        waits.append(seconds)

    monkeypatch.setattr(demo.asyncio, "sleep", sleep)
    requestors = DemoRequestors(DemoFabric.generate(), 5540)
    result = asyncio.run(requestors._one_round(provider, 1, None))
    return result, waits


def offer(**fields):
    base = {
        "status": QueryImageStatus.UPDATE_AVAILABLE,
        "image_uri": "bdx://1/0",
        "update_token": b"t" * 32,
        "software_version": 3,
        "delayed_action_time": None,
    }
    return SimpleNamespace(**{**base, **fields})


def test_busy_is_retried_no_sooner_than_120_s(monkeypatch):
    provider = ScriptedProvider(offer(status=QueryImageStatus.BUSY, delayed_action_time=5), [])
    (version, wait), _ = run_round(provider, monkeypatch)
    assert (version, wait) == (1, 120.0)
    provider = ScriptedProvider(offer(status=QueryImageStatus.BUSY, delayed_action_time=600), [])
    assert run_round(provider, monkeypatch)[0] == (1, 600.0)


def test_await_next_action_resends_apply_without_downloading_again(monkeypatch):
    answers = [
        SimpleNamespace(action=ApplyUpdateAction.AWAIT_NEXT_ACTION, delayed_action_time=5),
        SimpleNamespace(action=ApplyUpdateAction.PROCEED, delayed_action_time=0),
    ]
    provider = ScriptedProvider(offer(), answers)
    (version, _), waits = run_round(provider, monkeypatch)
    assert provider.calls == ["query", "download", "apply", "apply", "notify"] and version == 3
    assert waits[0] == 120.0  # max(DelayedActionTime, 120 s) before asking again

"""``ProviderEngine``: the Matter node and the OTA provider on their own asyncio loop, in their
own thread, behind events and commands: ``runtime`` (the thread, the loop, the assembly),
``handlers`` (one per command type), ``snapshots`` (live objects as values)."""

from .runtime import ProviderEngine, onboarding_payload, wait_for
from .snapshots import transfer_snapshot

__all__ = ["ProviderEngine", "onboarding_payload", "transfer_snapshot", "wait_for"]

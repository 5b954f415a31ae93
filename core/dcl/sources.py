"""Which ledgers to ask: ``--dcl mainnet``, ``--dcl testnet`` or ``--dcl https://HOST[:PORT][/PATH]``
(a self-hosted ledger, a replica or a caching proxy), several allowed and asked in order."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["MAINNET_URL", "TESTNET_URL", "LedgerKind", "LedgerSource", "parse_ledger"]

# The CSA's public read-only REST endpoints (matter.js ``@matter/protocol`` ``dcl/DclConfig``).
MAINNET_URL = "https://on.dcl.csa-iot.org"
TESTNET_URL = "https://on.test-net.dcl.csa-iot.org"


class LedgerKind(enum.StrEnum):
    MAINNET = "MainNet"
    TESTNET = "TestNet"
    URL = "URL"


@dataclass(frozen=True)
class LedgerSource:
    kind: LedgerKind
    base_url: str  # no trailing slash

    @property
    def host(self) -> str:
        """HOST[:PORT], never the user or password a proxy URL may carry (they stay out of lines and logs)."""
        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        return f"{host}:{parts.port}" if parts.port else host

    @property
    def name(self) -> str:
        """MainNet, TestNet, or the host of any other ledger."""
        return self.kind.value if self.kind != LedgerKind.URL else self.host

    @property
    def tag(self) -> str:
        """A short prefix for this ledger's image designators: mn, tn, or u and six hex digits."""
        if self.kind != LedgerKind.URL:
            return {LedgerKind.MAINNET: "mn", LedgerKind.TESTNET: "tn"}[self.kind]
        return "u" + self.slug.removeprefix("url-")[:6]

    @property
    def slug(self) -> str:
        """A directory name for this ledger's cache and images, stable across runs."""
        if self.kind != LedgerKind.URL:
            return self.kind.value.lower()
        return "url-" + hashlib.sha256(self.base_url.encode()).hexdigest()[:12]


def parse_ledger(text: str) -> LedgerSource:
    """``mainnet``, ``testnet`` or an https:// base URL; ValueError with one line saying what to give."""
    word = text.strip()
    if word.lower() == "mainnet":
        return LedgerSource(LedgerKind.MAINNET, MAINNET_URL)
    if word.lower() == "testnet":
        return LedgerSource(LedgerKind.TESTNET, TESTNET_URL)
    parts = urlsplit(word)
    if parts.scheme.lower() not in ("https", "http") or not parts.netloc:
        raise ValueError(
            f"{text!r} is not a ledger: give mainnet, testnet or a base URL such as https://dcl.example:1317"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{text!r}: a ledger's base URL takes no ?query or #fragment")
    return LedgerSource(LedgerKind.URL, word.rstrip("/"))

"""The trust store a provider commissions with: the bundled test PAAs and CD key, plus the
production PAAs of ``--paa-trust-store DIR``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .attestation import TrustStore

__all__ = ["load_paa_folder", "trust_store"]


def load_paa_folder(folder: Path) -> int:
    """Check ``folder`` as --paa-trust-store: how many PAAs it holds; ValueError with one line if unusable."""
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a directory of PAA certificates (DER or PEM)")
    try:
        return TrustStore().add_paa_folder(folder)
    except OSError as exc:
        raise ValueError(f"cannot read {folder}: {exc.strerror}") from None


def trust_store(config: Any) -> TrustStore:
    store = TrustStore.with_test_roots()
    if getattr(config, "paa_trust_store", None) is not None:
        store.add_paa_folder(config.paa_trust_store)
    return store

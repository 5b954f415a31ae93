"""How a node is started: its storage, its setup code and its network."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["NodeConfig"]


@dataclass(frozen=True)
class NodeConfig:
    storage: Path
    passcode: int
    discriminator: int
    port: int = 5540
    host: str | None = None
    vendor_id: int = 0xFFF1
    product_id: int = 0x8000
    allow_ota_from_fabric: bool = False
    database_name: str | None = None  # defaults to DATABASE_NAME in the storage directory
    dnssd: bool = False
    dnssd_interfaces: tuple[str, ...] | None = None
    attestation_files: tuple[Path, Path, Path, Path] | None = None  # DAC, PAI, DAC key, CD

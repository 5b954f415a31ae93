"""A commissionable device as discovery found it: a value the front ends show and the commissioner
uses (kept apart from the browser, so importing it does not import zeroconf)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CommissionableDevice"]


@dataclass(frozen=True)
class CommissionableDevice:
    instance: str
    discriminator: int
    commissioning_mode: int  # 1 basic window, 2 enhanced (opened by an administrator)
    vendor_id: int | None
    product_id: int | None
    name: str
    addresses: tuple[tuple, ...]  # socket addresses, the preferred first
    port: int

    def describe(self) -> str:
        vp = (
            ""
            if self.vendor_id is None
            else f"VID 0x{self.vendor_id:04X}, "
            if self.product_id is None
            else (f"VID 0x{self.vendor_id:04X} PID 0x{self.product_id:04X}, ")
        )  # a TXT VP may carry the vendor alone
        mode = {1: "basic window", 2: "enhanced window"}.get(self.commissioning_mode, f"CM={self.commissioning_mode}")
        return f"{self.name or self.instance}: {vp}discriminator {self.discriminator}, {mode}"

"""What the endpoint-0 clusters need from the node, as narrow protocols (implemented by the parts in ``core/node/``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..attestation.credentials import DeviceCredentials
from ..fabric.acl import AccessControl, AccessControlEntry, SubjectDescriptor
from ..fabric.failsafe import FailSafe
from ..fabric.table import Fabric, FabricTable
from ..securechannel.pase_credentials import PaseCredentials
from ..timers import Clock

__all__ = [
    "AccessControlStore",
    "Administration",
    "ArmedFabrics",
    "Commissioning",
    "CommissioningWindow",
    "Described",
    "FabricAdmin",
    "Fabrics",
    "NodeInfo",
    "Settings",
]


@dataclass(frozen=True)
class NodeInfo:
    vendor_id: int
    product_id: int
    vendor_name: str = "Matter OTA Provider"
    product_name: str = "OTA Software Update Provider"
    software_version: int = 1
    software_version_string: str = "0.1.0"
    hardware_version: int = 0
    hardware_version_string: str = "1.0"
    serial_number: str = "OTA-PROVIDER-0001"


class Settings(Protocol):
    """Small named values kept in the state database (labels, counters, regulatory choices)."""

    def get_setting(self, key: str) -> bytes | None: ...

    def set_setting(self, key: str, value: bytes) -> None: ...


class Fabrics(Protocol):
    fabrics: FabricTable


class FabricAdmin(Fabrics, Protocol):
    """Adding, updating and removing this node's fabrics (Operational Credentials)."""

    credentials: DeviceCredentials
    failsafe: FailSafe
    allow_ota_from_fabric: bool

    def save_fabric(self, fabric: Fabric) -> None: ...

    def add_provisional_fabric(
        self, fabric: Fabric, entries: list[AccessControlEntry], changed_by: SubjectDescriptor | None = None
    ) -> None: ...

    def update_provisional_fabric(self, fabric: Fabric, previous: Fabric) -> None: ...

    def remove_fabric(self, fabric_index: int) -> None: ...

    def replace_acl(
        self, fabric_index: int, entries: list[AccessControlEntry], changed_by: SubjectDescriptor | None = None
    ) -> None: ...

    def call_soon(self, callback: Callable[[], None]) -> Any: ...


class AccessControlStore(Protocol):
    acl: AccessControl

    def replace_acl(
        self, fabric_index: int, entries: list[AccessControlEntry], changed_by: SubjectDescriptor | None = None
    ) -> None: ...


class ArmedFabrics(Fabrics, Protocol):
    """The fabrics and the fail-safe that guards changes to them."""

    failsafe: FailSafe


class CommissioningWindow(Protocol):
    """The node's commissioning window (Administrator Commissioning)."""

    @property
    def window_status(self) -> int: ...

    @property
    def window_opener(self) -> tuple[int, int] | None: ...  # (fabric index, vendor id) of an enhanced window

    def open_commissioning_window(
        self,
        seconds: float,
        credentials: PaseCredentials | None = None,
        discriminator: int | None = None,
        opener: tuple[int, int] | None = None,
    ) -> object: ...

    def close_commissioning_window(self) -> None: ...


class Commissioning(Settings, Protocol):
    """General Commissioning: the fail-safe and the end of commissioning."""

    failsafe: FailSafe

    def commissioning_complete(self, fabric_index: int) -> None: ...


class Described(Settings, Protocol):
    @property
    def info(self) -> NodeInfo: ...

    @property
    def clock(self) -> Clock: ...  # the node's one clock: up time and the time snapshot read it


class Administration(FabricAdmin, AccessControlStore, Commissioning, Protocol):
    """The fabrics, their ACLs and the fail-safe, as the clusters that change them see them
    (implemented by the node's ``FabricAdministration``)."""

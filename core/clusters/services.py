"""What the endpoint-0 clusters need from the node (implemented by :class:`MatterNode`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..attestation.credentials import DeviceCredentials
from ..fabric.acl import AccessControl, AccessControlEntry, SubjectDescriptor
from ..fabric.failsafe import FailSafe
from ..fabric.table import Fabric, FabricTable
from ..im.events import EventLog
from ..securechannel.pase_credentials import PaseCredentials

__all__ = ["NodeInfo", "NodeServices"]


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


class NodeServices(Protocol):
    info: NodeInfo
    credentials: DeviceCredentials
    fabrics: FabricTable
    acl: AccessControl
    failsafe: FailSafe
    allow_ota_from_fabric: bool
    events: EventLog

    def save_fabric(self, fabric: Fabric) -> None: ...

    def remove_fabric(self, fabric_index: int) -> None: ...

    def replace_acl(
        self, fabric_index: int, entries: list[AccessControlEntry], changed_by: SubjectDescriptor | None = None
    ) -> None: ...

    def get_setting(self, key: str) -> bytes | None: ...

    def set_setting(self, key: str, value: bytes) -> None: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any: ...

    def call_soon(self, callback: Callable[[], None]) -> Any: ...

    # commissioning window
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
    ) -> None: ...

    def close_commissioning_window(self) -> None: ...

    def commissioning_complete(self, fabric_index: int) -> None: ...

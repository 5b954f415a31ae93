"""What endpoint 0 needs from the node (``core/clusters/services.py``), faked: settings in a dict,
a fake clock, real fabric table, fail-safe and ACL, and every call the clusters make recorded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ota_provider.core.attestation.credentials import DeviceCredentials
from ota_provider.core.clusters.root import build_root_data_model
from ota_provider.core.clusters.services import NodeInfo
from ota_provider.core.fabric.acl import AccessControl, AccessControlEntry, SubjectDescriptor
from ota_provider.core.fabric.failsafe import FailSafe
from ota_provider.core.fabric.table import Fabric, FabricTable
from ota_provider.core.im.model import DataModel, RequestContext
from ota_provider.core.ota.catalog import ImageCatalog
from ota_provider.core.ota.policy import OtaPolicy
from ota_provider.core.ota.provider import OtaProvider
from ota_provider.core.securechannel.pase_credentials import PaseCredentials
from ota_provider.core.session.secure import AuthMode, SecureSession, SessionKeys
from tests.helpers.samples import SAMPLES

WINDOW_NOT_OPEN, ENHANCED_WINDOW_OPEN = 0, 1
_CREDENTIALS: list[DeviceCredentials] = []  # minted once: a P-256 chain per test would be slow


class FakeServices:
    def __init__(self) -> None:
        self.now = 1000.0
        self.info = NodeInfo(vendor_id=0xFFF1, product_id=0x8000)
        self.settings: dict[str, bytes] = {}
        self.fabrics = FabricTable()
        self.failsafe = FailSafe(on_expire=lambda _f: None, clock=self.clock)
        self.acl = AccessControl()
        if not _CREDENTIALS:
            _CREDENTIALS.append(DeviceCredentials.generate(0xFFF1, 0x8000))
        self.credentials = _CREDENTIALS[0]
        self.allow_ota_from_fabric = False
        self.window: tuple[float, PaseCredentials | None, int | None, tuple[int, int] | None] | None = None
        self.calls: list[tuple[str, Any]] = []

    def clock(self) -> float:
        return self.now

    # Settings
    def get_setting(self, key: str) -> bytes | None:
        return self.settings.get(key)

    def set_setting(self, key: str, value: bytes) -> None:
        self.settings[key] = value

    # The commissioning window
    @property
    def window_status(self) -> int:
        return WINDOW_NOT_OPEN if self.window is None else ENHANCED_WINDOW_OPEN

    @property
    def window_opener(self) -> tuple[int, int] | None:
        return None if self.window is None else self.window[3]

    def open_commissioning_window(
        self,
        seconds: float,
        credentials: PaseCredentials | None = None,
        discriminator: int | None = None,
        opener: tuple[int, int] | None = None,
    ) -> None:
        self.window = (seconds, credentials, discriminator, opener)

    def close_commissioning_window(self) -> None:
        self.window = None

    # Fabrics and the ACL
    def save_fabric(self, fabric: Fabric) -> None:
        self.calls.append(("save_fabric", fabric.fabric_index))

    def add_provisional_fabric(
        self, fabric: Fabric, entries: list[AccessControlEntry], changed_by: SubjectDescriptor | None = None
    ) -> None:
        self.fabrics.add(fabric)
        self.acl.entries.extend(entries)
        self.calls.append(("add_provisional_fabric", fabric.fabric_index))

    def update_provisional_fabric(self, fabric: Fabric, previous: Fabric) -> None:
        self.calls.append(("update_provisional_fabric", fabric.fabric_index))

    def remove_fabric(self, fabric_index: int) -> None:
        self.calls.append(("remove_fabric", fabric_index))

    def replace_acl(
        self, fabric_index: int, entries: list[AccessControlEntry], changed_by: SubjectDescriptor | None = None
    ) -> None:
        self.acl.entries = [e for e in self.acl.entries if e.fabric_index != fabric_index] + list(entries)
        self.calls.append(("replace_acl", fabric_index))

    def call_soon(self, callback: Callable[[], None]) -> None:
        callback()

    def commissioning_complete(self, fabric_index: int) -> None:
        self.calls.append(("commissioning_complete", fabric_index))


def root_model(services: FakeServices | None = None) -> tuple[DataModel, FakeServices]:
    """Endpoint 0 as the node builds it, the OTA Provider cluster serving the sample images."""
    services = services or FakeServices()
    model = build_root_data_model(services, services, services)
    provider = OtaProvider(ImageCatalog.from_list(SAMPLES / "image-list.json"), OtaPolicy())
    model.endpoints[0].clusters[0x0029].attach(provider)
    return model, services


def context(auth_mode: AuthMode = AuthMode.PASE, fabric_index: int = 0, node_id: int = 0x1B669) -> RequestContext:
    """A request on a session of ``auth_mode`` (PASE: no fabric yet)."""
    keys = SessionKeys(bytes(16), bytes(16), bytes(16))
    session = SecureSession(1, 2, keys, False, auth_mode, fabric_index=fabric_index, peer_node_id=node_id)
    subject = SubjectDescriptor(fabric_index, auth_mode, node_id)
    return RequestContext(session, subject)

"""The Matter node: storage, fabrics, sessions, exchanges and the secure channel, assembled.

Protocols above the secure channel (Interaction Model, BDX) register with :meth:`register`.
The node runs on the caller's asyncio loop; the engine gives it a loop of its own.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .codec.protocols import ProtocolId
from .exchange.driver import ExchangeDriver
from .exchange.manager import ExchangeManager, ProtocolHandler
from .fabric.store import FabricStore
from .fabric.table import Fabric
from .session.case import CaseResponder
from .session.pase import PaseCredentials, PaseResponder
from .session.secure import SecureSession, SessionParameters
from .session.secure_channel import SecureChannelServer
from .storage.counters import PersistentCounter
from .storage.database import Database

__all__ = ["CommissioningWindow", "MatterNode", "NodeConfig"]

log = logging.getLogger(__name__)

PBKDF_ITERATIONS = 1000
DEFAULT_WINDOW_SECONDS = 900  # the spec's maximum basic commissioning window is 15 minutes


@dataclass(frozen=True)
class NodeConfig:
    storage: Path
    passcode: int
    discriminator: int
    port: int = 5540
    host: str | None = None
    vendor_id: int = 0xFFF1
    product_id: int = 0x8000


@dataclass
class CommissioningWindow:
    credentials: PaseCredentials
    deadline: float

    @property
    def seconds_left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


class MatterNode:
    def __init__(self, config: NodeConfig, *, parameters: SessionParameters | None = None) -> None:
        self.config = config
        self.db = Database.in_directory(config.storage)
        self.fabric_store = FabricStore(self.db)
        self.fabrics = self.fabric_store.load()
        self.manager = ExchangeManager(unencrypted_counter=PersistentCounter(self.db, "unencrypted-counter"))
        self.parameters = parameters or SessionParameters()
        self.window: CommissioningWindow | None = None
        self.session_listeners: list[Callable[[SecureSession], None]] = []
        self._credentials = self._load_credentials()
        self.pase = PaseResponder(
            self.manager,
            self._window_credentials,
            local_parameters=self.parameters,
            on_established=self._on_session,
        )
        self.case = CaseResponder(
            self.manager, lambda: list(self.fabrics), local_parameters=self.parameters, on_established=self._on_session
        )
        self.manager.register(ProtocolId.SECURE_CHANNEL, SecureChannelServer(pase=self.pase, case=self.case))
        self.driver: ExchangeDriver | None = None

    def _load_credentials(self) -> PaseCredentials:
        salt = self.db.get_setting("pase/salt")
        if salt is None:
            salt = secrets.token_bytes(32)
            self.db.set_setting("pase/salt", salt)
        return PaseCredentials.from_passcode(self.config.passcode, salt, PBKDF_ITERATIONS)

    def _window_credentials(self) -> PaseCredentials | None:
        if self.window is not None and self.window.seconds_left <= 0:
            log.info("commissioning window expired")
            self.window = None
        return self.window.credentials if self.window else None

    def _on_session(self, session: SecureSession) -> None:
        for listener in self.session_listeners:
            listener(session)

    # ------------------------------------------------------------------ commissioning

    def open_commissioning_window(self, seconds: float = DEFAULT_WINDOW_SECONDS) -> CommissioningWindow:
        self.pase.failed_attempts = 0
        self.window = CommissioningWindow(self._credentials, time.monotonic() + seconds)
        return self.window

    def close_commissioning_window(self) -> None:
        self.window = None

    # ------------------------------------------------------------------ fabrics

    def add_fabric(self, fabric: Fabric) -> None:
        self.fabric_store.save(fabric)

    def remove_fabric(self, fabric_index: int) -> None:
        self.fabric_store.remove(fabric_index)
        self.case.resumption.remove_fabric(fabric_index)
        for session in self.manager.sessions.remove_fabric(fabric_index):
            self.manager.drop_session(session)

    # ------------------------------------------------------------------ running

    def register(self, protocol_id: int, handler: ProtocolHandler) -> None:
        self.manager.register(protocol_id, handler)

    async def start(self, driver_class: type[ExchangeDriver] = ExchangeDriver) -> None:
        self.driver = await driver_class.open(self.manager, port=self.config.port, host=self.config.host)
        if len(self.fabrics) == 0:
            self.open_commissioning_window()

    @property
    def port(self) -> int:
        assert self.driver is not None and self.driver.endpoint is not None
        return self.driver.endpoint.port

    def stop(self) -> None:
        if self.driver is not None:
            self.driver.close()
            self.driver = None
        self.db.close()

"""This node's fabrics and their ACLs: added, updated and removed by Operational Credentials under a
fail-safe, rolled back when it expires or when the process died before CommissioningComplete, and
joined directly for the fabrics whose root we hold (demo, bench)."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import NamedTuple

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..attestation.credentials import DeviceCredentials
from ..clusters.access_control import record_acl_changes
from ..exchange.manager import ExchangeManager
from ..fabric.acl import AccessControlEntry, SubjectDescriptor
from ..fabric.acl_store import AclStore
from ..fabric.authority import FabricAuthority
from ..fabric.demo import DEMO_LABEL, DemoFabric
from ..fabric.failsafe import FailSafe
from ..fabric.store import FabricStore
from ..fabric.table import Fabric, FabricError
from ..im.events import EventLog
from ..session.secure import AuthMode
from ..storage.database import Database
from ..timers import Clock

__all__ = ["PROVISIONAL", "FabricAdministration", "RolledBack"]

log = logging.getLogger(__name__)

PROVISIONAL = "failsafe/provisional"  # what an armed fail-safe covers, until CommissioningComplete
BREADCRUMB = "commissioning/breadcrumb"


class RolledBack(NamedTuple):
    """What a commissioning cut short by a crash had changed, undone at the next start."""

    fabric_index: int
    change: str  # "added" (AddNOC) or "updated" (UpdateNOC)


def _raw_point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


class FabricAdministration:
    """What Operational Credentials, Access Control and General Commissioning change on the node
    (``clusters/services.py``: FabricAdmin, AccessControlStore, Commissioning).

    ``call_soon`` runs a callback after the current reply has gone out; ``on_change`` is told after
    every change of the fabrics; ``on_commissioned`` when CommissioningComplete ends a
    commissioning (the node closes its window); ``forget_resumption(index)`` drops a removed
    fabric's CASE resumption records."""

    def __init__(
        self,
        db: Database,
        manager: ExchangeManager,
        events: EventLog,
        credentials: DeviceCredentials,
        *,
        clock: Clock,
        allow_ota_from_fabric: bool,
        call_soon: Callable[[Callable[[], None]], None],
        on_change: Callable[[], None],
        on_commissioned: Callable[[], None],
        forget_resumption: Callable[[int], None],
    ) -> None:
        self._db = db
        self._manager = manager
        self._events = events
        self._on_change = on_change
        self._on_commissioned = on_commissioned
        self._forget_resumption = forget_resumption
        self.call_soon = call_soon
        self.credentials = credentials
        self.allow_ota_from_fabric = allow_ota_from_fabric
        self.fabric_store = FabricStore(db)
        self.fabrics = self.fabric_store.load()
        self.acl_store = AclStore(db)
        self.acl = self.acl_store.load()
        self.failsafe = FailSafe(self._roll_back, clock=clock)

    # ------------------------------------------------------------------ Settings

    def get_setting(self, key: str) -> bytes | None:
        return self._db.get_setting(key)

    def set_setting(self, key: str, value: bytes) -> None:
        self._db.set_setting(key, value)

    # ------------------------------------------------------------------ fabrics and their ACLs

    def replace_acl(
        self,
        fabric_index: int,
        entries: list[AccessControlEntry],
        changed_by: SubjectDescriptor | None = None,
        *,
        record: bool = True,
    ) -> None:
        """Replace a fabric's ACL entries; unless ``record`` is off (a fabric we joined ourselves),
        log an AccessControlEntryChanged event for each entry that changed."""
        old = self.acl.for_fabric(fabric_index)
        self.acl_store.replace_fabric(fabric_index, entries)
        if record:
            record_acl_changes(self._events, fabric_index, old, entries, changed_by)

    def save_fabric(self, fabric: Fabric) -> None:
        self.fabric_store.save(fabric)
        self._on_change()

    def add_provisional_fabric(
        self, fabric: Fabric, entries: list[AccessControlEntry], changed_by: SubjectDescriptor | None = None
    ) -> None:
        """AddNOC: the fabric, its ACL and the fail-safe's record of them in one transaction, so a
        crash leaves either none of them or all three, and the next start rolls back what was never
        committed (Core spec 11.10.7.2: the fail-safe's changes are undone on a reboot, too)."""
        try:
            with self._db.transaction():
                self.fabric_store.save(fabric)
                self.replace_acl(fabric.fabric_index, entries, changed_by)
                self._db.set_setting(PROVISIONAL, json.dumps({"added": fabric.fabric_index}).encode())
        except BaseException:  # nothing was written: the tables in memory say the same
            if self.fabrics.get(fabric.fabric_index) is not None:
                self.fabrics.remove(fabric.fabric_index)
            self.acl.replace_fabric(fabric.fabric_index, [])
            raise
        self._on_change()

    def update_provisional_fabric(self, fabric: Fabric, previous: Fabric) -> None:
        """UpdateNOC: the new credentials and the previous ones to restore, in one transaction."""
        with self._db.transaction():
            self.fabric_store.save(fabric)
            self._db.set_setting(PROVISIONAL, json.dumps({"updated": FabricStore.to_record(previous)}).encode())
        self._on_change()

    def remove_fabric(self, fabric_index: int) -> None:
        with self._db.transaction():  # a fabric and its ACL go together
            self.fabric_store.remove(fabric_index)
            self.acl_store.remove_fabric(fabric_index)
        self._forget_resumption(fabric_index)
        for session in self._manager.sessions.remove_fabric(fabric_index):
            self._manager.drop_session(session)
        self._on_change()

    # ------------------------------------------------------------------ the end of a commissioning

    def commissioning_complete(self, fabric_index: int) -> None:
        """CommissioningComplete: what the fail-safe covered is kept, the window closes and PASE
        sessions end."""
        self._db.delete_setting(PROVISIONAL)
        self._on_commissioned()
        self._end_pase_sessions()

    def _roll_back(self, failsafe: FailSafe) -> None:
        with self._db.transaction():
            if failsafe.added_fabric is not None:
                self.remove_fabric(failsafe.added_fabric)
            if failsafe.updated_fabric is not None:
                self.fabric_store.save(failsafe.updated_fabric)
            self._db.set_setting(BREADCRUMB, bytes(8))
            self._db.delete_setting(PROVISIONAL)
        # The PASE session may be carrying the command that disarmed the fail-safe: end it after the reply.
        self._end_pase_sessions()

    def _end_pase_sessions(self) -> None:
        for session in list(self._manager.sessions):
            if session.auth_mode == AuthMode.PASE:
                self.call_soon(functools.partial(self._manager.drop_session, session))

    def roll_back_interrupted_commissioning(self) -> RolledBack | None:
        """Undo what an armed fail-safe covered when the process died before CommissioningComplete."""
        stored = self._db.get_setting(PROVISIONAL)
        if stored is None:
            return None
        try:
            record = json.loads(stored)
            previous = FabricStore.from_record(record["updated"]) if "updated" in record else None
            added = int(record["added"]) if "added" in record else None
        except (ValueError, KeyError, TypeError, FabricError) as exc:
            log.warning("the record of an interrupted commissioning is unreadable (%s): left as it is", exc)
            self._db.delete_setting(PROVISIONAL)
            return None
        with self._db.transaction():
            if added is not None and self.fabrics.get(added) is not None:
                self.remove_fabric(added)
            if previous is not None:
                self.fabric_store.save(previous)
            self._db.set_setting(BREADCRUMB, bytes(8))
            self._db.delete_setting(PROVISIONAL)
        if added is not None:
            undone = RolledBack(added, "added")
        elif previous is not None:
            undone = RolledBack(previous.fabric_index, "updated")
        else:
            return None
        log.warning("the provider stopped during a commissioning: fabric %d %s then is rolled back", *undone)
        return undone

    # ------------------------------------------------------------------ fabrics whose root we hold

    def join_demo_fabric(self, demo: DemoFabric) -> Fabric:
        """Join the locally minted demo fabric (once; later starts find it in storage)."""
        return self.join_own_fabric(demo.authority, demo.provider_node_id, DEMO_LABEL, demo.acl_entries)

    def join_own_fabric(
        self,
        authority: FabricAuthority,
        node_id: int,
        label: str,
        acl_entries: Callable[[int], list[AccessControlEntry]],
    ) -> Fabric:
        """Join a fabric whose root we hold (demo, bench) as ``node_id``: once; later starts find it."""
        root_key = authority.root_key.public_key()
        for fabric in self.fabrics:
            if fabric.fabric_id == authority.fabric_id and fabric.root_public_key == _raw_point(root_key):
                return fabric
        fabric = authority.join(node_id, self.fabrics.next_index(), label=label)
        self.save_fabric(fabric)
        self.replace_acl(fabric.fabric_index, acl_entries(fabric.fabric_index), record=False)
        return fabric

    @property
    def only_own_fabrics(self) -> bool:
        """No commissioner has added us yet (the demo fabric is ours)."""
        return all(f.label == DEMO_LABEL for f in self.fabrics)

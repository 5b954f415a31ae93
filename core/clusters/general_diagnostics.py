"""General Diagnostics (0x0033)."""

from __future__ import annotations

import struct
import time

from ..codec import tlv
from ..codec.im_status import ImStatus
from ..codec.tlv import UInt
from ..fabric.acl import Privilege
from ..im.model import AttributeSpec, Cluster, CommandSpec, ImError
from .services import Described

GENERAL_DIAGNOSTICS_CLUSTER = 0x0033
BOOT_REASON = 0x03
BOOT_REASON_UNSPECIFIED = 0  # BootReasonEnum: a process cannot tell a power cycle from a restart


class GeneralDiagnosticsCluster(Cluster):
    id = 0x0033
    revision = 1

    def __init__(self, services: Described) -> None:
        super().__init__()
        self._clock = services.clock
        self._started = self._clock()
        raw = services.get_setting("diagnostics/reboot-count")
        self.reboot_count = (struct.unpack("<H", raw)[0] if raw else 0) + 1
        services.set_setting("diagnostics/reboot-count", struct.pack("<H", self.reboot_count & 0xFFFF))
        self.constant(0x0000, tlv.Array())
        self.constant(0x0001, UInt(self.reboot_count & 0xFFFF))
        self.attribute(AttributeSpec(0x0002, lambda _c: UInt(int(self._clock() - self._started))))
        self.constant(0x0008, False)
        self.event(BOOT_REASON)
        self.command(CommandSpec(0x00, self._test_event_trigger, Privilege.MANAGE))
        self.command(CommandSpec(0x01, self._time_snapshot, Privilege.OPERATE, response_id=0x02))

    def _test_event_trigger(self, _ctx, _fields) -> None:
        raise ImError(ImStatus.CONSTRAINT_ERROR, reason="test event triggers are disabled")

    def _time_snapshot(self, _ctx, _fields):
        system_ms = int((self._clock() - self._started) * 1000)
        return 0x02, tlv.Structure({0: UInt(system_ms), 1: UInt(int(time.time() * 1000))})

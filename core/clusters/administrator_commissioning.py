"""Administrator Commissioning (0x003C): an admin opens an enhanced window for another fabric."""

from __future__ import annotations

from dataclasses import dataclass

from ..codec.im_status import ImStatus
from ..codec.schema import OctetString, TLVStruct, UInt16, UInt32, tlv_field
from ..codec.tlv import UInt
from ..crypto.primitives import CryptoError
from ..crypto.spake2p import MAX_ITERATIONS, MIN_ITERATIONS, Spake2pVerifier
from ..fabric.acl import Privilege
from ..im.model import AttributeSpec, Cluster, CommandSpec, ImError, RequestContext
from ..securechannel.pase_credentials import PaseCredentials
from .services import ArmedFabrics, CommissioningWindow

WINDOW_NOT_OPEN, WINDOW_ENHANCED_OPEN, WINDOW_BASIC_OPEN = 0, 1, 2
BUSY, PAKE_PARAMETER_ERROR, WINDOW_NOT_OPEN_STATUS = 2, 3, 4
MIN_TIMEOUT, MAX_TIMEOUT = 180, 900


@dataclass(frozen=True, kw_only=True)
class OpenCommissioningWindow(TLVStruct):
    timeout: int = tlv_field(0, UInt16)
    verifier: bytes = tlv_field(1, OctetString(97, 97))
    discriminator: int = tlv_field(2, UInt16)
    iterations: int = tlv_field(3, UInt32)
    salt: bytes = tlv_field(4, OctetString(16, 32))


class AdministratorCommissioningCluster(Cluster):
    id = 0x003C
    revision = 1

    def __init__(self, window: CommissioningWindow, fabrics: ArmedFabrics) -> None:
        super().__init__()
        self.services = window
        self.fabrics = fabrics
        self.attribute(AttributeSpec(0x0000, lambda _c: UInt(window.window_status)))
        self.attribute(AttributeSpec(0x0001, lambda _c: self._opener(0)))
        self.attribute(AttributeSpec(0x0002, lambda _c: self._opener(1)))
        admin = Privilege.ADMINISTER
        self.command(CommandSpec(0x00, self._open, admin, timed=True))
        self.command(CommandSpec(0x02, self._revoke, admin, timed=True))

    def _opener(self, which: int):
        opener = self.services.window_opener
        return None if opener is None else UInt(opener[which])

    def _open(self, ctx: RequestContext, fields) -> None:
        request = OpenCommissioningWindow.from_tlv(fields)
        if self.services.window_status != WINDOW_NOT_OPEN or self.fabrics.failsafe.armed:
            raise ImError(ImStatus.FAILURE, cluster_status=BUSY)
        if not MIN_TIMEOUT <= request.timeout <= MAX_TIMEOUT or request.discriminator > 0xFFF:
            raise ImError(ImStatus.INVALID_COMMAND)
        if not MIN_ITERATIONS <= request.iterations <= MAX_ITERATIONS:
            raise ImError(ImStatus.FAILURE, cluster_status=PAKE_PARAMETER_ERROR)
        try:
            verifier = Spake2pVerifier.from_bytes(request.verifier)
        except CryptoError:
            raise ImError(ImStatus.FAILURE, cluster_status=PAKE_PARAMETER_ERROR) from None
        fabric = self.fabrics.fabrics.get(ctx.fabric_index)
        opener = (ctx.fabric_index, fabric.vendor_id if fabric else 0)
        credentials = PaseCredentials(verifier, request.salt, request.iterations)
        self.services.open_commissioning_window(request.timeout, credentials, request.discriminator, opener)
        self.changed()

    def _revoke(self, _ctx, _fields) -> None:
        if self.services.window_status == WINDOW_NOT_OPEN:
            raise ImError(ImStatus.FAILURE, cluster_status=WINDOW_NOT_OPEN_STATUS)
        self.services.close_commissioning_window()
        if self.fabrics.failsafe.armed:
            self.fabrics.failsafe.expire()
        self.changed()

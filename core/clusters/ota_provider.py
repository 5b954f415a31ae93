"""OTA Software Update Provider (0x0029) on endpoint 0.

The cluster only decodes, checks access and encodes; the decisions are the
:class:`~ota_provider.core.ota.provider.OtaProvider`'s, attached with :meth:`attach`. Until one
is attached, AcceptedCommandList is empty and an invoke gets UNSUPPORTED_COMMAND.
"""

from __future__ import annotations

from ..codec.im_status import ImStatus
from ..fabric.acl import Privilege
from ..im.model import Cluster, CommandSpec, ImError, NoResponse, RequestContext
from ..node_ids import Peer
from ..ota.commands import (
    APPLY_UPDATE_REQUEST,
    APPLY_UPDATE_RESPONSE,
    NOTIFY_UPDATE_APPLIED,
    QUERY_IMAGE,
    QUERY_IMAGE_RESPONSE,
    ApplyUpdateRequest,
    NotifyUpdateApplied,
    QueryImage,
)
from ..ota.provider import OtaProvider, UnknownUpdateToken
from .services import Fabrics

# An UpdateToken this provider did not issue to the requestor: the command names a resource
# (the offer) that does not exist for it.
UNKNOWN_TOKEN_STATUS = ImStatus.NOT_FOUND


class OtaProviderCluster(Cluster):
    id = 0x0029
    revision = 1

    def __init__(self, services: Fabrics) -> None:
        super().__init__()
        self.services = services
        self.provider: OtaProvider | None = None

    def attach(self, provider: OtaProvider) -> None:
        self.provider = provider
        self.command(CommandSpec(QUERY_IMAGE, self._query_image, Privilege.OPERATE, response_id=QUERY_IMAGE_RESPONSE))
        self.command(
            CommandSpec(APPLY_UPDATE_REQUEST, self._apply_update, Privilege.OPERATE, response_id=APPLY_UPDATE_RESPONSE)
        )
        self.command(CommandSpec(NOTIFY_UPDATE_APPLIED, self._notify_update_applied, Privilege.OPERATE))
        self.changed()

    def _peer(self, ctx: RequestContext) -> Peer:
        return Peer(ctx.fabric_index, ctx.session.peer_node_id)

    def _query_image(self, ctx: RequestContext, fields):
        request = QueryImage.from_tlv(fields)
        fabric = self.services.fabrics.get(ctx.fabric_index)
        if fabric is None or self.provider is None:
            raise ImError(ImStatus.FAILURE)  # as the SDK: no fabric, no URI to build
        response = self.provider.query_image(self._peer(ctx), fabric.node_id, request)
        if response is None:
            raise NoResponse
        return QUERY_IMAGE_RESPONSE, response.to_tlv()

    def _apply_update(self, ctx: RequestContext, fields):
        request = ApplyUpdateRequest.from_tlv(fields)
        assert self.provider is not None
        try:
            response = self.provider.apply_update(self._peer(ctx), request)
        except UnknownUpdateToken:
            raise ImError(UNKNOWN_TOKEN_STATUS) from None
        if response is None:
            raise NoResponse
        return APPLY_UPDATE_RESPONSE, response.to_tlv()

    def _notify_update_applied(self, ctx: RequestContext, fields) -> None:
        request = NotifyUpdateApplied.from_tlv(fields)
        assert self.provider is not None
        try:
            self.provider.notify_update_applied(self._peer(ctx), request)
        except UnknownUpdateToken:
            raise ImError(UNKNOWN_TOKEN_STATUS) from None

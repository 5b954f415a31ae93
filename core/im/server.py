"""The Interaction Model server: Read (chunked), Write (list operations, chunked), Invoke,
Timed interactions (Core spec 8.x), with access control on every path.

Every request gets an answer: data or a status for each path, or a StatusResponse for a
malformed message; a command never receives an empty response (an SDK controller waits
forever on one).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..codec.im_status import ImStatus
from ..codec.protocols import ImOpcode, ProtocolId
from ..codec.tlv import TLVError
from ..exchange.manager import Exchange, ExchangeManager, Message
from ..fabric.acl import AccessControl, SubjectDescriptor
from ..session.secure import AuthMode, SecureSession
from .events import EventLog, event_min
from .messages import (
    AttributeData,
    AttributePath,
    AttributeStatus,
    CommandData,
    CommandPath,
    CommandStatus,
    ImDecodeError,
    InvokeRequest,
    InvokeResponse,
    ReadRequest,
    StatusIB,
    StatusResponse,
    SubscribeRequest,
    TimedRequest,
    WriteRequest,
    WriteResponse,
)
from .model import DataModel, ImError, NoResponse, RequestContext
from .replies import status_response
from .reports import REPORT_BUDGET, PathAccess, ReportBuilder, ReportChunk, send_next_chunk
from .subscriptions import SubscriptionManager

__all__ = ["REPORT_BUDGET", "InteractionServer", "NoResponse"]

log = logging.getLogger(__name__)


def subject_of(session: SecureSession) -> SubjectDescriptor:
    subject = session.peer_node_id if session.auth_mode == AuthMode.CASE else 0
    return SubjectDescriptor(session.fabric_index, session.auth_mode, subject, session.peer_cats)


@dataclass
class _Interaction:
    """Per-exchange state: pending report chunks, a timed window, the write's cached ACL answers."""

    server: InteractionServer
    chunks: list[ReportChunk] = field(default_factory=list)
    timed_deadline: float | None = None
    acl_cache: dict[tuple, bool] = field(default_factory=dict)
    subscription: Any = None  # a subscription being primed on this exchange
    awaiting_priming_ack: bool = False
    timed_write: bool = False  # a timed chunked write in progress: its later chunks are timed too

    def on_message(self, exchange: Exchange, message: Message) -> None:
        self.server._continue(self, exchange, message)

    def on_closed(self, exchange: Exchange, reason: str) -> None:
        pass


class InteractionServer:
    def __init__(
        self,
        model: DataModel,
        acl: AccessControl,
        *,
        clock: Callable[[], float],
        report_budget: int = REPORT_BUDGET,
        manager: ExchangeManager | None = None,
        events: EventLog | None = None,
    ) -> None:
        self.model = model
        self.events = events
        self.acl = acl
        self.report_budget = report_budget
        self._clock = clock
        self.manager = manager
        self.subject_of = subject_of
        self.requests: dict[str, int] = {"read": 0, "write": 0, "invoke": 0, "timed": 0, "refused": 0, "subscribe": 0}
        self.access = PathAccess(model, acl)
        self.reports = ReportBuilder(model, self.access, report_budget, events)
        self.subscriptions = SubscriptionManager(
            model, self.reports, events, subject_of, lambda: self.manager, self.manager_clock
        )
        # Reports for subscriptions *we* made as a client (the commissioner following a device)
        # arrive unsolicited, like requests: they are handed to the client that subscribed.
        self.report_sink: Callable[[Exchange, Message], None] | None = None

    def manager_clock(self) -> float:
        return self._clock()

    def _now(self, exchange: Exchange) -> float:
        return self._clock()

    # ------------------------------------------------------------------ entry points

    def on_unsolicited(self, exchange: Exchange, message: Message) -> _Interaction | None:
        if not isinstance(message.session, SecureSession):
            self.requests["refused"] += 1
            return None  # IM over an unsecured session is dropped
        interaction = _Interaction(self)
        self._continue(interaction, exchange, message)
        return None if exchange.closing else interaction

    def _continue(self, interaction: _Interaction, exchange: Exchange, message: Message) -> None:
        session = message.session
        assert isinstance(session, SecureSession)
        ctx = RequestContext(session, subject_of(session), exchange=exchange)
        try:
            opcode = message.opcode
            if opcode == ImOpcode.STATUS_RESPONSE and interaction.awaiting_priming_ack:
                self.subscriptions.send_priming_chunk(interaction, exchange, StatusResponse.decode(message.payload))
            elif opcode == ImOpcode.STATUS_RESPONSE and interaction.chunks:
                self._send_next_chunk(interaction, exchange, StatusResponse.decode(message.payload))
            elif opcode == ImOpcode.READ_REQUEST:
                self._read(interaction, exchange, ctx, ReadRequest.decode(message.payload))
            elif opcode == ImOpcode.TIMED_REQUEST:
                request = TimedRequest.decode(message.payload)
                self.requests["timed"] += 1
                interaction.timed_deadline = self._now(exchange) + request.timeout_ms / 1000
                status_response(exchange, ImStatus.SUCCESS)
            elif opcode in (ImOpcode.INVOKE_REQUEST, ImOpcode.WRITE_REQUEST):
                self._timed_gate(interaction, exchange, ctx, message)
            elif opcode == ImOpcode.SUBSCRIBE_REQUEST:
                self.requests["subscribe"] += 1
                self.subscriptions.subscribe(interaction, exchange, ctx, SubscribeRequest.decode(message.payload))
            elif opcode == ImOpcode.STATUS_RESPONSE:
                exchange.close("status received")
            elif opcode == ImOpcode.REPORT_DATA and self.report_sink is not None:
                self.report_sink(exchange, message)
                exchange.close("report handled")
            else:
                status_response(exchange, ImStatus.INVALID_ACTION)
                exchange.close("unexpected IM message")
        except TLVError as exc:
            log.info("malformed IM message (opcode 0x%02x): %s", message.opcode, exc)
            status_response(exchange, ImStatus.INVALID_ACTION)
            exchange.close("malformed IM message")

    def _timed_gate(self, interaction: _Interaction, exchange: Exchange, ctx: RequestContext, message: Message) -> None:
        is_invoke = message.opcode == ImOpcode.INVOKE_REQUEST
        request = InvokeRequest.decode(message.payload) if is_invoke else WriteRequest.decode(message.payload)
        if interaction.timed_write and not is_invoke:
            # A later chunk of a timed write: the TimedRequest admitted the whole write (the SDK's
            # WriteHandler checks the window once, on the first chunk, and only the flag after).
            if not request.timed_request:
                status_response(exchange, ImStatus.TIMED_REQUEST_MISMATCH)
                exchange.close("timed request mismatch")
                return
            ctx.timed = True
            self._write(interaction, exchange, ctx, request)  # type: ignore[arg-type]
            return
        deadline, interaction.timed_deadline = interaction.timed_deadline, None
        if request.timed_request != (deadline is not None):
            status_response(exchange, ImStatus.TIMED_REQUEST_MISMATCH)
            exchange.close("timed request mismatch")
            return
        if deadline is not None and self._now(exchange) > deadline:
            status_response(exchange, ImStatus.TIMEOUT)
            exchange.close("timed request expired")
            return
        ctx.timed = deadline is not None
        if not is_invoke and ctx.timed and request.more_chunked:  # type: ignore[union-attr]
            interaction.timed_write = True
        if is_invoke:
            self._invoke(exchange, ctx, request)  # type: ignore[arg-type]
        else:
            self._write(interaction, exchange, ctx, request)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ access

    # ------------------------------------------------------------------ read

    def _read(self, interaction: _Interaction, exchange: Exchange, ctx: RequestContext, request: ReadRequest) -> None:
        self.requests["read"] += 1
        versions = {(f.endpoint, f.cluster): f.data_version for f in request.data_version_filters}
        reports = self.reports.attributes(ctx, request.attribute_requests, versions, request.is_fabric_filtered)
        events = self.reports.events(ctx, request.event_requests, event_min(request.event_filters))
        interaction.chunks = self.reports.chunk(reports, events)
        self._send_next_chunk(interaction, exchange, None)

    # ------------------------------------------------------------------ events

    def _send_next_chunk(self, interaction: _Interaction, exchange: Exchange, ack: StatusResponse | None) -> None:
        if ack is not None and ack.status != ImStatus.SUCCESS:
            interaction.chunks = []
            exchange.close("client stopped the report")
            return
        if not send_next_chunk(exchange, interaction.chunks):
            exchange.close("read done")

    # ------------------------------------------------------------------ invoke

    def _invoke(self, exchange: Exchange, ctx: RequestContext, request: InvokeRequest) -> None:
        self.requests["invoke"] += 1
        if not request.invoke_requests or any(c.path.endpoint is None for c in request.invoke_requests):
            status_response(exchange, ImStatus.INVALID_ACTION)
            exchange.close("wildcard or empty invoke")
            return
        commands = request.invoke_requests
        if len(commands) > 1:
            # A batch names each command by a CommandRef of its own, and no path twice (Core spec
            # 8.8.2; the SDK's ValidateInvokeRequestMessageAndBuildRegistry refuses the same).
            refs = [c.ref for c in commands]
            paths = [(c.path.endpoint, c.path.cluster, c.path.command) for c in commands]
            if None in refs or len(set(refs)) != len(refs) or len(set(paths)) != len(paths):
                status_response(exchange, ImStatus.INVALID_ACTION)
                exchange.close("batched invoke with missing or repeated command refs or paths")
                return
        response = InvokeResponse()
        silent = 0
        for command in request.invoke_requests:
            try:
                result = self._invoke_one(ctx, command)
            except NoResponse:
                silent += 1
                continue
            response.responses.append(result)
        if silent == len(request.invoke_requests):
            exchange.close("no response, deliberately")  # only the MRP acknowledgement goes out
            return
        if request.suppress_response:
            exchange.close("invoke done, response suppressed")  # the commands ran; only the ack goes out
            return
        encoded = response.encode()
        if len(commands) > 1 and len(encoded) > self.report_budget:
            # We advertise MaxPathsPerInvoke 1 and never chunk an InvokeResponse: a batch whose
            # answers would not fit one message is refused rather than sent oversized.
            status_response(exchange, ImStatus.RESOURCE_EXHAUSTED)
            exchange.close("batched invoke response too large for one message")
            return
        exchange.send(ImOpcode.INVOKE_RESPONSE, encoded)
        exchange.close("invoke done")

    def _invoke_one(self, ctx: RequestContext, command: CommandData) -> CommandData | CommandStatus:
        path = command.path

        def status(code: ImStatus, cluster_status: int | None = None) -> CommandStatus:
            return CommandStatus(path, StatusIB(code, cluster_status), command.ref)

        located = self.model.locate(path.endpoint, path.cluster)
        if isinstance(located, ImStatus):
            return status(located)
        endpoint, cluster = located
        spec = cluster.command_spec(path.command)
        if spec is None:
            return status(ImStatus.UNSUPPORTED_COMMAND)
        if not self.access.allowed(ctx, endpoint.id, cluster.id, spec.privilege):
            return status(ImStatus.UNSUPPORTED_ACCESS)
        if spec.timed and not ctx.timed:
            return status(ImStatus.NEEDS_TIMED_INTERACTION)
        if spec.fabric_scoped and ctx.fabric_index == 0:
            return status(ImStatus.UNSUPPORTED_ACCESS)
        try:
            result = spec.handler(ctx, command.fields)
        except ImError as exc:
            return status(exc.status, exc.cluster_status)
        except TLVError as exc:
            log.info("invalid fields for %s: %s", path, exc)
            return status(ImStatus.INVALID_COMMAND)
        except NoResponse:
            raise  # the handler's way of leaving the command unanswered (an armed "ignore")
        except Exception:  # a storage error, a bug: the invoker still gets its answer, never silence
            log.exception("command %s failed", path)
            return status(ImStatus.FAILURE)
        if result is None:
            return status(ImStatus.SUCCESS)
        response_id, fields = result
        return CommandData(CommandPath(path.endpoint, path.cluster, response_id), fields, command.ref)

    # ------------------------------------------------------------------ write

    def _write(self, interaction: _Interaction, exchange: Exchange, ctx: RequestContext, request: WriteRequest) -> None:
        self.requests["write"] += 1
        response = WriteResponse()
        for data in request.write_requests:
            response.statuses.append(
                AttributeStatus(self._concrete(data.path), self._write_one(ctx, data, interaction.acl_cache))
            )
        if request.suppress_response and not request.more_chunked:
            exchange.close("write done, response suppressed")
            return
        exchange.send(ImOpcode.WRITE_RESPONSE, response.encode())
        if not request.more_chunked:
            exchange.close("write done")

    @staticmethod
    def _concrete(path: AttributePath) -> AttributePath:
        return AttributePath(path.endpoint, path.cluster, path.attribute)

    def _write_one(self, ctx: RequestContext, data: AttributeData, cache: dict) -> StatusIB:
        path = data.path
        if path.is_wildcard:
            return StatusIB(ImStatus.UNSUPPORTED_ATTRIBUTE)
        located = self.model.locate(path.endpoint, path.cluster)
        if isinstance(located, ImStatus):
            return StatusIB(located)
        endpoint, cluster = located
        spec = cluster.attribute_spec(path.attribute)  # type: ignore[arg-type]
        if spec is None:
            return StatusIB(ImStatus.UNSUPPORTED_ATTRIBUTE)
        # The privilege check is cached for the whole write, so a chunked ACL write is judged
        # against the ACL as it was when the write began.
        if not self.access.allowed(ctx, endpoint.id, cluster.id, spec.write_privilege, cache):
            return StatusIB(ImStatus.UNSUPPORTED_ACCESS)
        if spec.write is None:
            return StatusIB(ImStatus.UNSUPPORTED_WRITE)
        if spec.timed_write and not ctx.timed:
            return StatusIB(ImStatus.NEEDS_TIMED_INTERACTION)
        if data.data_version is not None and data.data_version != cluster.data_version:
            return StatusIB(ImStatus.DATA_VERSION_MISMATCH)
        appending = path.list_index_present and path.list_index is None
        if path.list_index_present and not appending:
            return StatusIB(ImStatus.INVALID_ACTION)  # writing one list item by index is not allowed
        try:
            spec.write(ctx, (data.data, appending) if spec.is_list else data.data)
        except ImError as exc:
            return StatusIB(exc.status, exc.cluster_status)
        except (TLVError, ImDecodeError):
            return StatusIB(ImStatus.CONSTRAINT_ERROR)
        cluster.changed()
        return StatusIB(ImStatus.SUCCESS)


PROTOCOL_ID = ProtocolId.INTERACTION_MODEL

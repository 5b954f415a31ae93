"""An Interaction Model client (sans-IO): Read with chunk acknowledgement, Invoke and Write,
optionally preceded by a TimedRequest. Used by the requestor client and the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..codec import tlv
from ..codec.im_status import ImStatus
from ..codec.protocols import ImOpcode, ProtocolId
from ..exchange.manager import Exchange, ExchangeManager, Message
from ..session.secure import SecureSession
from .messages import (
    AttributeData,
    AttributePath,
    AttributeStatus,
    CommandData,
    EventPath,
    InvokeRequest,
    InvokeResponse,
    ReportData,
    StatusResponse,
    TimedRequest,
)

__all__ = ["ImResult", "InteractionClient", "settle", "subscribe_request"]


# (endpoint, cluster, attribute) of a report; a wildcard path's part is None.
AttributeKey = tuple[int | None, int | None, int | None]


def settle(future: asyncio.Future[ImResult]) -> Callable[[ImResult], None]:
    """An ``on_done`` that gives ``future`` its result once: an answer after a timeout cancelled
    the wait is dropped."""

    def done(result: ImResult) -> None:
        if not future.done():
            future.set_result(result)

    return done


@dataclass
class ImResult:
    """What came back: report IBs (reads), an InvokeResponse, write statuses, or a StatusResponse."""

    reports: list[tlv.Structure] = field(default_factory=list)
    invoke: InvokeResponse | None = None
    write_statuses: list[AttributeStatus] = field(default_factory=list)
    status: int | None = None  # a StatusResponse that ended the interaction
    error: str | None = None
    done: bool = False
    subscription_id: int | None = None
    max_interval: int | None = None
    event_reports: list[tlv.Structure] = field(default_factory=list)  # EventReportIBs (reads, priming)

    def values(self) -> dict[AttributeKey, Any]:
        """Attribute values by (endpoint, cluster, attribute), list chunks re-assembled."""
        out: dict[AttributeKey, Any] = {}
        for report in self.reports:
            if 1 not in report:
                continue
            data = AttributeData.from_tlv(report[1])
            key = (data.path.endpoint, data.path.cluster, data.path.attribute)
            if data.path.list_index_present:
                out.setdefault(key, tlv.Array()).append(data.data)
            else:
                out[key] = data.data
        return out

    def statuses(self) -> dict[AttributeKey, int]:
        out: dict[AttributeKey, int] = {}
        for report in self.reports:
            if 0 in report:
                status = AttributeStatus.from_tlv(report[0])
                out[(status.path.endpoint, status.path.cluster, status.path.attribute)] = status.status.status
        return out


class _ClientExchange:
    def __init__(self, on_done: Callable[[ImResult], None] | None, *, subscribing: bool = False) -> None:
        self.result = ImResult()
        self.on_done = on_done
        self.subscribing = subscribing
        self.pending: tuple[int, bytes] | None = None  # the action to send after a TimedRequest

    def _finish(self, exchange: Exchange, error: str | None = None) -> None:
        if self.result.done:
            return
        self.result.done = True
        self.result.error = error
        if not exchange.closing:
            exchange.close(error or "done")
        if self.on_done:
            self.on_done(self.result)

    def on_message(self, exchange: Exchange, message: Message) -> None:
        try:
            self._on_message(exchange, message)
        except tlv.TLVError as exc:
            self._finish(exchange, f"malformed response: {exc}")

    def _on_message(self, exchange: Exchange, message: Message) -> None:
        opcode = message.opcode
        if opcode == ImOpcode.STATUS_RESPONSE:
            status = StatusResponse.decode(message.payload).status
            if self.pending is not None and status == ImStatus.SUCCESS:
                action, self.pending = self.pending, None
                exchange.send(*action)
                return
            self.result.status = status
            self._finish(exchange)
        elif opcode == ImOpcode.REPORT_DATA:
            report = ReportData.decode(message.payload)
            self.result.reports.extend(report.reports)
            self.result.event_reports.extend(report.event_reports)
            if report.more_chunked or self.subscribing:
                exchange.send(ImOpcode.STATUS_RESPONSE, StatusResponse(ImStatus.SUCCESS).encode())
            else:
                if not report.suppress_response:
                    exchange.send(ImOpcode.STATUS_RESPONSE, StatusResponse(ImStatus.SUCCESS).encode())
                self._finish(exchange)
        elif opcode == ImOpcode.SUBSCRIBE_RESPONSE:
            structure = tlv.decode(message.payload)
            self.result.subscription_id = int(structure.get(0, 0))
            self.result.max_interval = int(structure.get(2, 0))
            self._finish(exchange)
        elif opcode == ImOpcode.INVOKE_RESPONSE:
            self.result.invoke = InvokeResponse.decode(message.payload)
            self._finish(exchange)
        elif opcode == ImOpcode.WRITE_RESPONSE:
            structure = tlv.decode(message.payload)
            for item in structure.get(0, tlv.Array()):
                self.result.write_statuses.append(AttributeStatus.from_tlv(item))
            self._finish(exchange)
        else:
            self._finish(exchange, f"unexpected IM opcode 0x{opcode:02x}")

    def on_closed(self, exchange: Exchange, reason: str) -> None:
        if not self.result.done:
            self.result.done = True
            self.result.error = reason
            if self.on_done:
                self.on_done(self.result)


class InteractionClient:
    def __init__(self, manager: ExchangeManager) -> None:
        self.manager = manager
        self.report_listeners: dict[int, Callable[[ReportData], None]] = {}

    def on_unsolicited(self, exchange: Exchange, message: Message) -> None:
        """Reports for our subscriptions arrive on exchanges the publisher opens."""
        if message.opcode != ImOpcode.REPORT_DATA:
            return
        try:
            report = ReportData.decode(message.payload)
        except tlv.TLVError:
            exchange.send(ImOpcode.STATUS_RESPONSE, StatusResponse(ImStatus.INVALID_ACTION).encode())
            return
        listener = self.report_listeners.get(report.subscription_id)  # type: ignore[arg-type]
        status = ImStatus.SUCCESS if listener is not None else ImStatus.INVALID_SUBSCRIPTION
        exchange.send(ImOpcode.STATUS_RESPONSE, StatusResponse(status).encode())
        if listener is not None:
            listener(report)
        return

    def subscribe(
        self,
        session: SecureSession,
        paths: Sequence[AttributePath],
        min_interval: int,
        max_interval: int,
        *,
        on_report: Callable[[ReportData], None],
        on_done: Callable[[ImResult], None] | None = None,
        events: Sequence[EventPath] = (),
        event_min: int = 0,
    ) -> ImResult:
        """Subscribe (to attributes, and to ``events`` if any, numbered ``event_min`` or above);
        register this client for the IM protocol to receive the later reports. Events come in each
        ReportData's event_reports."""

        def established(result: ImResult) -> None:
            if result.subscription_id is not None:
                self.report_listeners[result.subscription_id] = on_report
            if on_done:
                on_done(result)

        handler = _ClientExchange(established, subscribing=True)
        exchange = self.manager.new_exchange(session, ProtocolId.INTERACTION_MODEL, handler)
        exchange.send(
            ImOpcode.SUBSCRIBE_REQUEST, subscribe_request(paths, min_interval, max_interval, events, event_min)
        )
        return handler.result

    def _start(self, session: SecureSession, opcode: int, payload: bytes, timed_ms: int | None, on_done) -> ImResult:
        handler = _ClientExchange(on_done)
        exchange = self.manager.new_exchange(session, ProtocolId.INTERACTION_MODEL, handler)
        if timed_ms is None:
            exchange.send(opcode, payload)
        else:
            handler.pending = (opcode, payload)
            exchange.send(ImOpcode.TIMED_REQUEST, TimedRequest(timed_ms).encode())
        return handler.result

    def read(
        self,
        session: SecureSession,
        paths: Sequence[AttributePath],
        *,
        fabric_filtered: bool = True,
        on_done: Callable[[ImResult], None] | None = None,
    ) -> ImResult:
        request = tlv.Structure({0: tlv.Array(p.to_tlv() for p in paths), 3: fabric_filtered, 0xFF: tlv.UInt(11)})
        return self._start(session, ImOpcode.READ_REQUEST, tlv.encode(request), None, on_done)

    def invoke(
        self,
        session: SecureSession,
        commands: Sequence[CommandData],
        *,
        timed_ms: int | None = None,
        on_done: Callable[[ImResult], None] | None = None,
    ) -> ImResult:
        payload = InvokeRequest(False, timed_ms is not None, tuple(commands)).encode()
        return self._start(session, ImOpcode.INVOKE_REQUEST, payload, timed_ms, on_done)

    def write(
        self,
        session: SecureSession,
        writes: Sequence[AttributeData],
        *,
        timed_ms: int | None = None,
        on_done: Callable[[ImResult], None] | None = None,
    ) -> ImResult:
        request = tlv.Structure(
            {0: False, 1: timed_ms is not None, 2: tlv.Array(w.to_tlv() for w in writes), 0xFF: tlv.UInt(11)}
        )
        return self._start(session, ImOpcode.WRITE_REQUEST, tlv.encode(request), timed_ms, on_done)


def subscribe_request(
    paths: Sequence[AttributePath],
    min_interval: int,
    max_interval: int,
    events: Sequence[EventPath] = (),
    event_min: int = 0,
) -> bytes:
    """SubscribeRequestMessage: KeepSubscriptions false, fabric-filtered; EventFilters only with events."""
    request = tlv.Structure(
        {
            0: False,
            1: tlv.UInt(min_interval),
            2: tlv.UInt(max_interval),
            3: tlv.Array(p.to_tlv() for p in paths),
            7: True,
            0xFF: tlv.UInt(11),
        }
    )
    if events:
        request[4] = tlv.Array(p.to_tlv() for p in events)
        if event_min:  # EventFilterIB: EventMin (tag 1), for any node
            request[5] = tlv.Array([tlv.Structure({1: tlv.UInt(event_min)})])
        request = tlv.Structure(sorted(request.items()))  # context tags in ascending order
    return tlv.encode(request)

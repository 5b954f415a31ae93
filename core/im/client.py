"""An Interaction Model client (sans-IO): Read with chunk acknowledgement, Invoke and Write,
optionally preceded by a TimedRequest. Used by the requestor client and the tests."""

from __future__ import annotations

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
    InvokeRequest,
    InvokeResponse,
    ReportData,
    StatusResponse,
    TimedRequest,
)

__all__ = ["ImResult", "InteractionClient"]


@dataclass
class ImResult:
    """What came back: report IBs (reads), an InvokeResponse, write statuses, or a StatusResponse."""

    reports: list[tlv.Structure] = field(default_factory=list)
    invoke: InvokeResponse | None = None
    write_statuses: list[AttributeStatus] = field(default_factory=list)
    status: int | None = None  # a StatusResponse that ended the interaction
    error: str | None = None
    done: bool = False

    def values(self) -> dict[tuple[int, int, int], Any]:
        """Attribute values by (endpoint, cluster, attribute), list chunks re-assembled."""
        out: dict[tuple[int, int, int], Any] = {}
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

    def statuses(self) -> dict[tuple[int, int, int], int]:
        out = {}
        for report in self.reports:
            if 0 in report:
                status = AttributeStatus.from_tlv(report[0])
                out[(status.path.endpoint, status.path.cluster, status.path.attribute)] = status.status.status
        return out


class _ClientExchange:
    def __init__(self, on_done: Callable[[ImResult], None] | None) -> None:
        self.result = ImResult()
        self.on_done = on_done
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
            if report.more_chunked:
                exchange.send(ImOpcode.STATUS_RESPONSE, StatusResponse(ImStatus.SUCCESS).encode())
            else:
                if not report.suppress_response:
                    exchange.send(ImOpcode.STATUS_RESPONSE, StatusResponse(ImStatus.SUCCESS).encode())
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
